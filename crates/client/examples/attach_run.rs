//! Runs: attach a run by name (found, or created with a description, tags and metadata), send
//! flows that belong to it, then detach.
//!
//! Needs a running server: `SEXTANT_URL` (default `http://127.0.0.1:7777`) and
//! `SEXTANT_TOKEN` (an API key allowed to ingest).
//!
//! ```text
//! SEXTANT_TOKEN=... cargo run -p sextant-client --example attach_run
//! ```

use sextant_client::ingest::{Flow, IngestionService, MetadataValue, RunOptions, time};
use sextant_client::{ClientConfig, connect};
use sextant_model::{DataType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let velocity = ChannelConfig::new("velocity", DataType::Double)
        .component("mainmotor")
        .unit("Miles Per Hour");
    let telemetry_config = TelemetryConfig::new("NostromoLV426", "nostromo_lv_426_runs")
        .flow(FlowConfig::new("velocity_reading", [velocity]));

    let channel = connect(&ClientConfig::from_env()?).await?;
    let mut ingestion_service = IngestionService::new(channel, &telemetry_config).await?;

    let now = time::now();
    let run_name = format!(
        "[NostromoLV426].{}.{:06}",
        now / 1_000_000_000,
        now % 1_000_000_000 / 1_000
    );
    let run_id = ingestion_service
        .attach_run(
            &run_name,
            RunOptions::default()
                .description("a test of the main motor")
                .tag("nostromo")
                .metadata("attempt", MetadataValue::Number(1.0))
                .metadata("operator", MetadataValue::String("ripley".into())),
        )
        .await?;
    println!("attached run {run_name} ({run_id})");

    let flows: Vec<Flow> = (0..100i64)
        .map(|i| {
            Flow::new("velocity_reading", now + i * 10_000_000)
                .value("mainmotor.velocity", Value::Double(i as f64 * 0.5))
        })
        .collect();
    ingestion_service.try_ingest_flows(&flows).await?;

    // Data sent after detaching belongs to no run.
    ingestion_service.detach_run();
    Ok(())
}
