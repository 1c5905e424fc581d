//! The four-flow Nostromo telemetry config of Sift's documentation, and every way to send it:
//! `try_ingest_flows` (values by channel name, checked), `ingest_flows` (values in flow order,
//! unchecked) and buffered ingestion.
//!
//! Needs a running server: `SEXTANT_URL` (default `http://127.0.0.1:7777`) and
//! `SEXTANT_TOKEN` (an API key allowed to ingest).
//!
//! ```text
//! SEXTANT_TOKEN=... cargo run -p sextant-client --example nostromo
//! ```

use std::time::Duration;

use sextant_client::ingest::{Flow, IngestionService, OrderedFlow, time};
use sextant_client::{ClientConfig, connect};
use sextant_model::{DataType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};

fn nostromos_lv_426() -> TelemetryConfig {
    let log_channel = ChannelConfig::new("log", DataType::String).description("asset logs");
    let velocity_channel = ChannelConfig::new("velocity", DataType::Double)
        .description("speed")
        .unit("Miles Per Hour")
        .component("mainmotor");
    let voltage_channel = ChannelConfig::new("voltage", DataType::Int32)
        .description("voltage at source")
        .unit("Volts");
    let vehicle_state_channel = ChannelConfig::enumeration(
        "vehicle_state",
        [("Accelerating", 0), ("Decelerating", 1), ("Stopped", 2)],
    )
    .description("vehicle state");
    let gpio_channel = ChannelConfig::bit_field(
        "gpio",
        [
            ("12v", 0, 1),
            ("charge", 1, 2),
            ("led", 3, 4),
            ("heater", 7, 1),
        ],
    )
    .description("on/off values for pins on gpio");

    TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
        .flow(FlowConfig::new(
            "readings",
            [
                velocity_channel,
                voltage_channel.clone(),
                vehicle_state_channel,
                gpio_channel.clone(),
            ],
        ))
        .flow(FlowConfig::new("voltage", [voltage_channel]))
        .flow(FlowConfig::new("gpio_channel", [gpio_channel]))
        .flow(FlowConfig::new("logs", [log_channel]))
}

/// A full `readings` flow, values by channel name.
fn readings(timestamp: i64) -> Flow {
    Flow::new("readings", timestamp)
        .value("mainmotor.velocity", Value::Double(10.0))
        .value("voltage", Value::Int32(5))
        .value("vehicle_state", Value::Enum(2))
        .value("gpio", Value::BitField(0b0000_1001))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel = connect(&ClientConfig::from_env()?).await?;
    let ingestion_service = IngestionService::new(channel, &nostromos_lv_426()).await?;

    // try_ingest_flows: each value names its channel; everything is checked before sending.
    ingestion_service
        .try_ingest_flows(&[readings(time::now())])
        .await?;
    // Partial data for the readings flow: the other channels get no point.
    ingestion_service
        .try_ingest_flows(&[Flow::new("readings", time::now())
            .value("mainmotor.velocity", Value::Double(10.0))
            .value("gpio", Value::BitField(0b0000_1001))])
        .await?;
    // Data for the logs flow.
    let log =
        |text: &str| Flow::new("logs", time::now()).value("log", Value::String(text.to_owned()));
    ingestion_service
        .try_ingest_flows(&[log("INFO: some message")])
        .await?;
    // Both flows in one stream.
    ingestion_service
        .try_ingest_flows(&[readings(time::now()), log("INFO: some message")])
        .await?;

    // ingest_flows: values in the flow's channel order, `None` for no value, unchecked.
    let ordered_readings =
        |values: [Option<Value>; 4]| OrderedFlow::new("readings", time::now(), values);
    ingestion_service
        .ingest_flows(&[
            ordered_readings([
                Some(Value::Double(10.0)),
                Some(Value::Int32(5)),
                Some(Value::Enum(2)),
                Some(Value::BitField(0b0000_1001)),
            ]),
            ordered_readings([
                Some(Value::Double(10.0)),
                None,
                None,
                Some(Value::BitField(0b0000_1001)),
            ]),
            OrderedFlow::new(
                "logs",
                time::now(),
                [Some(Value::String("INFO: some message".into()))],
            ),
        ])
        .await?;

    // Buffered ingestion: streams of 750 flows, a flush every second, the rest on close.
    let buffered = ingestion_service
        .buffered()
        .buffer_size(750)
        .flush_interval(Duration::from_secs(1))
        .on_error(|error| eprintln!("a background flush failed: {error}"))
        .start()?;
    let start = time::now();
    for i in 0..2_000i64 {
        buffered
            .try_ingest_flows(&[readings(start + i * 1_000_000)])
            .await?;
    }
    buffered.flush().await?;
    for i in 2_000..3_000i64 {
        buffered
            .try_ingest_flows(&[readings(start + i * 1_000_000)])
            .await?;
    }
    buffered.close().await?;
    println!(
        "sent the Nostromo flows to ingestion config {}",
        ingestion_service.ingestion_config_id()
    );
    Ok(())
}
