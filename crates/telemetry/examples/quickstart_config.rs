//! The quickstart's telemetry config, built in Rust: one thruster temperature channel, one
//! flow, and the rule that notifies Ripley when the thruster gets too hot.
//!
//! Run with `cargo run -p sextant-telemetry --example quickstart_config`.

use sextant_model::DataType;
use sextant_telemetry::{
    ChannelConfig, FlowConfig, NamedExpressions, RuleConfig, TelemetryConfig, validate_config,
};

fn main() {
    let temperature = ChannelConfig::new("temperature", DataType::Double)
        .component("thruster")
        .description("temperature of thruster")
        .unit("Kelvin");

    let overheating = RuleConfig::review("overheating", "$1 > 400")
        .client_key("overheating-rule")
        .description("Notify Ripley if thrusters get too hot")
        .channel_reference("$1", &temperature)
        .assignee("ellen.ripley@weylandcorp.com")
        .tags(["warning", "thruster"]);

    let config = TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
        .rule(overheating)
        .flow(FlowConfig::new("temperature_reading", [temperature]));

    match validate_config(&config, &NamedExpressions::new()) {
        Ok(valid) => {
            let rule = &valid.rules()[0];
            println!(
                "{} is valid: rule `{}` reads {:?}",
                config.asset_name, rule.rule.name, rule.input_channels
            );
        }
        Err(problems) => {
            eprintln!("{problems}");
            std::process::exit(1);
        }
    }
}
