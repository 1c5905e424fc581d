//! `sextant config check` as a user runs it: the real binary, real files, exit status,
//! summary on standard output and problems on standard error.

use std::path::Path;
use std::process::{Command, Output};

fn sextant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("the sextant binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_valid_config_prints_its_summary_and_exits_0() {
    let out = sextant(&[
        "config",
        "check",
        "examples/telemetry_configs/nostromo_lv_426.yml",
        "--expressions",
        "examples/expression_modules/kinematics.yml",
        "examples/expression_modules/string.yml",
        "--rules",
        "examples/rule_modules",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let expected = "\
named expressions: 4 from 2 modules
examples/telemetry_configs/nostromo_lv_426.yml: ok
  asset NostromoLV426 (ingestion_client_key nostromo_lv_426)
  channels: 11: 1 bit_field, 1 bool, 1 bytes, 1 double, 1 enum, 1 float, 1 int32, 1 int64, 1 string, 1 uint32, 1 uint64
  flows: 5: readings (4), voltage (1), gpio_channel (1), logs (1), power (6)
  rules: 4: 3 review, 1 phase; 1 of them live
examples/rule_modules/power/voltage.yml: rule module, 2 rules
examples/rule_modules/thermal.yaml: rule module, 1 rule
";
    assert_eq!(stdout, expected);
}

#[test]
fn problems_go_to_stderr_one_per_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("broken.yml");
    std::fs::write(
        &config,
        "\
asset_name: NostromoLV426
ingestion_client_key: nostromo_lv_426
channels:
  temperature: &temperature
    name: temperature
    data_type: double
rules:
  - name: overheating
    expression: $1 > 400 && $2 > 1
    channel_references:
      - $1: *temperature
    type: review
flows:
  - name: readings
    channels:
      - <<: *temperature
      - <<: *temperature
",
    )
    .unwrap();
    let out = sextant(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let file = config.display().to_string();
    let expected = format!(
        "\
{file}:8: rules[0].rule_client_key: rule `overheating` has no rule_client_key; one is needed to identify the rule when it is registered again
{file}:9: rules[0].expression: $2 is not bound in channel_references
{file}:17: flows[0].channels[1]: channel `temperature` appears twice in flow `readings`
3 problems found
"
    );
    assert_eq!(text(&out.stderr), expected);
}

#[test]
fn a_rule_module_checked_with_its_asset_reports_missing_channels() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sulaco.yml");
    std::fs::write(
        &config,
        "\
asset_name: NostromoLV426
ingestion_client_key: sulaco
channels:
  door_open: &door_open
    name: door_open
    data_type: bool
flows:
  - name: doors
    channels: [*door_open]
",
    )
    .unwrap();
    let out = sextant(&[
        "config",
        "check",
        config.to_str().unwrap(),
        "--rules",
        "examples/rule_modules/power/voltage.yml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        "\
examples/rule_modules/power/voltage.yml:8: rules[0].channel_references[0]: $1 refers to channel `voltage`, which is not declared in channels
examples/rule_modules/power/voltage.yml:22: rules[1].channel_references[1]: $2 refers to channel `mainmotor.velocity`, which is not declared in channels
2 problems found
"
    );
}

#[test]
fn nothing_to_check_is_a_usage_error() {
    let out = sextant(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nothing to check"));
}
