//! The quickstart: a telemetry config with one channel and one rule, built in code, then one
//! point sent with `try_ingest_flows`.
//!
//! Needs a running server: `SEXTANT_URL` (default `http://127.0.0.1:7777`) and
//! `SEXTANT_TOKEN` (an API key allowed to ingest).
//!
//! ```text
//! SEXTANT_TOKEN=... cargo run -p sextant-client --example quickstart
//! ```

use sextant_client::ingest::{Flow, IngestionService, time};
use sextant_client::{ClientConfig, connect};
use sextant_model::{DataType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, RuleConfig, TelemetryConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temperature = ChannelConfig::new("temperature", DataType::Double)
        .component("thruster")
        .description("temperature of thruster")
        .unit("Kelvin");

    // Registered with the config; its assignee must be a user of the organization.
    let overheating = RuleConfig::review("overheating", "$1 > 400")
        .client_key("overheating-rule")
        .description("Notify Ripley if thrusters get too hot")
        .channel_reference("$1", &temperature)
        .assignee("ellen.ripley@weylandcorp.com")
        .tags(["warning", "thruster"]);

    let telemetry_config = TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
        .flow(FlowConfig::new("temperature_reading", [temperature]))
        .rule(overheating);

    let channel = connect(&ClientConfig::from_env()?).await?;

    let ingestion_service = IngestionService::new(channel, &telemetry_config).await?;

    // Send data for the `temperature_reading` flow.
    ingestion_service
        .try_ingest_flows(&[Flow::new("temperature_reading", time::now())
            .value("thruster.temperature", Value::Double(327.0))])
        .await?;
    println!(
        "sent one point to ingestion config {}",
        ingestion_service.ingestion_config_id()
    );
    Ok(())
}
