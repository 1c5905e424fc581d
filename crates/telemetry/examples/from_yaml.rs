//! Loading a telemetry config from YAML with the named-expression modules it uses, as
//! `TelemetryConfig.try_from_yaml(path, [modules])` does in Sift's Python client.
//!
//! Run from the repository root with
//! `cargo run -p sextant-telemetry --example from_yaml -- examples/telemetry_configs/nostromo_lv_426.yml examples/expression_modules/kinematics.yml examples/expression_modules/string.yml`.

use std::path::PathBuf;

use sextant_telemetry::TelemetryConfig;

fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let Some(config_path) = args.next() else {
        eprintln!("usage: from_yaml CONFIG.yml [EXPRESSION_MODULE.yml...]");
        std::process::exit(2);
    };
    let expression_modules: Vec<PathBuf> = args.collect();

    match TelemetryConfig::try_from_yaml_with_modules(&config_path, &expression_modules) {
        Ok(config) => {
            println!("asset {}", config.asset_name);
            for flow in &config.flows {
                let channels: Vec<String> = flow.channels.iter().map(|c| c.full_name()).collect();
                println!("  flow {}: {}", flow.name, channels.join(", "));
            }
            for rule in &config.rules {
                println!("  rule {} ({})", rule.name, rule.rule_type.as_str());
            }
        }
        Err(problems) => {
            eprintln!("{problems}");
            std::process::exit(1);
        }
    }
}
