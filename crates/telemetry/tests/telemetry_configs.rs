//! Loading telemetry configs, named expressions and rule modules from YAML: the examples in
//! the repository load and validate, the Rust builder produces the same config, and invalid
//! configs report every problem with file, line and path (golden files in `tests/invalid/`:
//! `NAME.yml` with its expected problems in `NAME.errors`; `UPDATE_GOLDEN=1` rewrites them).

use std::path::{Path, PathBuf};

use sextant_model::{DataType, EnumType, Value};
use sextant_telemetry::{
    ChannelConfig, ChannelScope, FlowConfig, NamedExpressions, RuleConfig, TelemetryConfig,
    load_config_file, load_config_str, load_named_expressions, load_rule_modules,
};

/// Relative to the package, where the test runners start, so that golden files hold no
/// machine paths.
fn examples() -> PathBuf {
    PathBuf::from("../../examples")
}

fn named() -> NamedExpressions {
    let dir = examples().join("expression_modules");
    load_named_expressions(&[dir.join("kinematics.yml"), dir.join("string.yml")])
        .expect("the example expression modules load")
}

/// The example config written with the builder, as a Rust user would.
fn nostromo() -> TelemetryConfig {
    let log = ChannelConfig::new("log", DataType::String).description("asset logs");
    let velocity = ChannelConfig::new("velocity", DataType::Double)
        .component("mainmotor")
        .description("speed")
        .unit("Miles Per Hour");
    let thrust = ChannelConfig::new("thrust", DataType::Float)
        .component("mainmotor")
        .unit("Newtons");
    let voltage = ChannelConfig::new("voltage", DataType::Int32)
        .description("voltage at source")
        .unit("Volts");
    let energy = ChannelConfig::new("energy", DataType::Int64).unit("Joules");
    let uptime = ChannelConfig::new("uptime", DataType::Uint32).unit("s");
    let packets = ChannelConfig::new("packets", DataType::Uint64);
    let door_open = ChannelConfig::new("door_open", DataType::Bool);
    let vehicle_state = ChannelConfig::enumeration(
        "vehicle_state",
        [("Accelerating", 0), ("Decelerating", 1), ("Stopped", 2)],
    )
    .description("vehicle state");
    let gpio = ChannelConfig::bit_field(
        "gpio",
        [
            ("12v", 0, 1),
            ("charge", 1, 2),
            ("led", 3, 4),
            ("heater", 7, 1),
        ],
    )
    .description("on/off values for pins on gpio");
    let frame = ChannelConfig::new("frame", DataType::Bytes);

    TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
        .channel(log.clone())
        .channel(velocity.clone())
        .channel(thrust.clone())
        .channel(voltage.clone())
        .channel(energy.clone())
        .channel(uptime.clone())
        .channel(packets.clone())
        .channel(door_open.clone())
        .channel(vehicle_state.clone())
        .channel(gpio.clone())
        .channel(frame.clone())
        .rule(
            RuleConfig::review("overheating", r#"$1 == "Stopped" && $2.heater == 1"#)
                .client_key("overheating-rule")
                .description("Notify Ripley if the heater is on while the vehicle is stopped")
                .channel_reference("$1", &vehicle_state)
                .channel_reference("$2", &gpio)
                .assignee("ellen.ripley@weylandcorp.com")
                .tags(["warning", "thruster"]),
        )
        .rule(
            RuleConfig::review("kinetic_energy", "")
                .named_expression("kinetic_energy_gt")
                .client_key("kinetic-energy-rule")
                .description("Tracks high energy output while in motion")
                .assignee("bob@example.com")
                .channel_reference("$1", &velocity)
                .sub_expression("$mass", "10")
                .sub_expression("$threshold", "470")
                .tags(["nostromo"]),
        )
        .rule(
            RuleConfig::review("log_errors", "")
                .named_expression("log_has_failure")
                .client_key("log-errors-rule")
                .description("A log line reports a failure")
                .channel_reference("$1", &log)
                .contextual_channel("voltage"),
        )
        .rule(
            RuleConfig::phase("accelerating", "$1 == 0 && $2 > 0")
                .client_key("accelerating-phase")
                .description("The vehicle is accelerating")
                .channel_reference("$1", &vehicle_state)
                .channel_reference("$2", &velocity)
                .live(true),
        )
        .flow(FlowConfig::new(
            "readings",
            [
                velocity.clone(),
                voltage.clone(),
                vehicle_state.clone(),
                gpio.clone(),
            ],
        ))
        .flow(FlowConfig::new("voltage", [voltage]))
        .flow(FlowConfig::new("gpio_channel", [gpio]))
        .flow(FlowConfig::new("logs", [log]))
        .flow(FlowConfig::new(
            "power",
            [thrust, energy, uptime, packets, door_open, frame],
        ))
}

#[test]
fn the_example_config_loads_and_equals_the_builder_version() {
    let path = examples().join("telemetry_configs/nostromo_lv_426.yml");
    let valid = load_config_file(&path, &named()).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(valid.config(), &nostromo());

    let types: Vec<DataType> = valid
        .config()
        .channels
        .iter()
        .map(|c| c.data_type)
        .collect();
    for t in DataType::ALL {
        assert!(types.contains(&t), "the example covers {t}");
    }
    assert_eq!(valid.rules().len(), 4);
}

#[test]
fn compiled_rules_evaluate_their_resolved_expressions() {
    let path = examples().join("telemetry_configs/nostromo_lv_426.yml");
    let valid = load_config_file(&path, &named()).unwrap_or_else(|p| panic!("{p}"));
    let rule = |name: &str| {
        valid
            .rules()
            .iter()
            .find(|r| r.rule.name == name)
            .unwrap_or_else(|| panic!("rule {name}"))
    };

    // 0.5 * 10 * v * v > 470: true from v ≈ 9.7 on.
    let kinetic = rule("kinetic_energy");
    assert_eq!(kinetic.input_channels, ["mainmotor.velocity"]);
    let mut state = kinetic.program.new_state();
    for (v, expected) in [(9.0, false), (10.0, true), (-10.0, true)] {
        let value = Value::Double(v);
        assert_eq!(
            kinetic.program.eval(&mut state, 0, &[Some(&value)]),
            Some(expected),
            "velocity {v}"
        );
    }

    // "Stopped" resolves to key 2; the heater is bit 7.
    let hot = rule("overheating");
    let mut state = hot.program.new_state();
    let cases = [
        (Value::Enum(2), Value::BitField(0b1000_0000), true),
        (Value::Enum(2), Value::BitField(0b0111_1111), false),
        (Value::Enum(0), Value::BitField(0b1000_0000), false),
    ];
    for (t, (vehicle_state, gpio, expected)) in cases.into_iter().enumerate() {
        let inputs = by_reference(
            hot.program.inputs(),
            &[("$1", &vehicle_state), ("$2", &gpio)],
        );
        assert_eq!(
            hot.program.eval(&mut state, t as i64, &inputs),
            Some(expected),
            "{vehicle_state:?} {gpio:?}"
        );
    }

    let logs = rule("log_errors");
    let mut state = logs.program.new_state();
    for (line, expected) in [
        ("pump failure detected", true),
        ("ERROR: bus timeout", true),
        ("all nominal", false),
    ] {
        let value = Value::String(line.to_owned());
        assert_eq!(
            logs.program.eval(&mut state, 0, &[Some(&value)]),
            Some(expected),
            "{line}"
        );
    }
}

/// The inputs in the program's slot order.
fn by_reference<'v>(inputs: &[String], values: &[(&str, &'v Value)]) -> Vec<Option<&'v Value>> {
    inputs
        .iter()
        .map(|input| values.iter().find(|(r, _)| r == input).map(|(_, v)| *v))
        .collect()
}

#[test]
fn rule_modules_load_from_files_and_directories_and_check_against_the_asset() {
    let named = named();
    let config = load_config_file(
        &examples().join("telemetry_configs/nostromo_lv_426.yml"),
        &named,
    )
    .unwrap_or_else(|p| panic!("{p}"))
    .into_config();
    let modules = load_rule_modules(&[examples().join("rule_modules")]).unwrap();
    let files: Vec<&str> = modules.iter().map(|m| &*m.file).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("power/voltage.yml"), "{files:?}");
    assert!(files[1].ends_with("thermal.yaml"), "{files:?}");

    let power = modules[0]
        .validate_for_assets(std::slice::from_ref(&config), &named)
        .unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(power.len(), 2);
    assert_eq!(power[1].input_channels, ["door_open", "mainmotor.velocity"]);

    let thermal = modules[1]
        .validate_for_assets(std::slice::from_ref(&config), &named)
        .unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(thermal.len(), 1);

    // The power rules name channels the asset must have: against another asset's channels
    // (one without a voltage channel) they fail, naming the channel.
    let mut other = config.clone();
    other.channels.retain(|c| c.name != "voltage");
    let problems = modules[0]
        .validate(ChannelScope::Declared(&other.channels), &named)
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("voltage.yml:8: rules[0].channel_references[0]: $1 refers to channel `voltage`, which is not declared in channels"),
        "{problems}"
    );
}

#[test]
fn invalid_configs_report_every_problem_with_file_line_and_path() {
    let dir = Path::new("tests/invalid");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 3);
    let named = named();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&case).unwrap();
        let problems = match load_config_str(&src, name.as_str(), &named) {
            Ok(_) => panic!("{name} should not validate"),
            Err(problems) => format!("{problems}\n"),
        };
        let expected_path = case.with_extension("errors");
        if update {
            std::fs::write(&expected_path, &problems).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if problems != expected {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}--- got\n{problems}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn enum_keys_may_be_signed() {
    let src = "\
asset_name: a
ingestion_client_key: k
channels:
  fault: &fault
    name: fault
    data_type: enum
    enum_types:
      - {name: Underflow, key: -1, is_signed: true}
      - {name: Ok, key: 0, is_signed: true}
flows:
  - name: f
    channels: [*fault]
";
    let valid = load_config_str(src, "signed.yml", &NamedExpressions::new()).unwrap();
    assert_eq!(
        valid.config().channels[0].enum_types[0],
        EnumType {
            name: "Underflow".into(),
            key: u32::MAX,
            is_signed: true
        }
    );
    let unsigned = src.replace(", is_signed: true", "");
    let problems = load_config_str(&unsigned, "signed.yml", &NamedExpressions::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        problems,
        "signed.yml:8: channels.fault.enum_types[0].key: -1 is out of range: expected 0 to 4294967295",
        "reported once, where the channel is defined, not again where it is used"
    );
}

#[test]
fn named_expression_modules_report_their_own_problems() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yml");
    let b = dir.path().join("b.yml");
    std::fs::write(&a, "ok: $1 > 1\nbroken: $1 >\nlist: [1, 2]\n").unwrap();
    std::fs::write(&b, "ok: $1 < 1\n").unwrap();
    let problems = load_named_expressions(&[&a, &b]).unwrap_err();
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.line.unwrap_or(0), p.path, p.message))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("2:broken: "), "{lines:?}");
    assert!(
        lines[1].starts_with("3:list: expected an expression"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("1:ok: named expression `ok` is defined twice (first at "),
        "{lines:?}"
    );
}

#[test]
fn missing_files_are_named() {
    let err = load_config_file(Path::new("no/such/config.yml"), &NamedExpressions::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("no/such/config.yml: cannot read file: "),
        "{err}"
    );
}
