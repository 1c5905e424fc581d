//! Updating a telemetry config under the same `ingestion_client_key`: which changes the server
//! takes in place and which need a new key.
//!
//! Run with `cargo run -p sextant-telemetry --example update_config`.

use sextant_model::DataType;
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig, classify_changes};

fn main() {
    let voltage = ChannelConfig::new("voltage", DataType::Int32).unit("Volts");
    let log = ChannelConfig::new("log", DataType::String);
    let registered = TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
        .flow(FlowConfig::new("voltage", [voltage.clone()]));

    // Adding a flow with a new channel is compatible.
    let added = registered
        .clone()
        .flow(FlowConfig::new("logs", [log.clone()]));
    let changes = classify_changes(&registered, &added);
    println!(
        "add a flow: compatible = {}: {changes}",
        changes.is_compatible()
    );

    // Adding a channel to the existing flow is not.
    let mut grown = registered.clone().channel(log.clone());
    grown.flows[0].channels.push(log);
    let changes = classify_changes(&registered, &grown);
    println!(
        "grow a flow: compatible = {}: {changes}",
        changes.is_compatible()
    );
}
