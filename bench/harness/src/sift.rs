//! W2 through Sift gRPC with the Rust SDK: the same samples as the line-protocol run, as flows
//! of one 50-channel telemetry config, sent by `IngestionService::ingest_flows` in streams of
//! about as many points as a line-protocol request, several streams in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use sextant_client::{ClientConfig, IngestionService, OrderedFlow, connect};
use sextant_model::{DataType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};

use crate::drive::Sent;
use crate::systems::SEXTANT_TOKEN;
use crate::workload::{W2_BOOLS, W2_ENUMS, W2_FLOATS, W2_INTS, w2_field_names, w2_rows};

const FLOW: &str = "frame";

fn config() -> TelemetryConfig {
    let names = w2_field_names();
    let channels = names.iter().enumerate().map(|(c, name)| {
        if c < W2_FLOATS {
            ChannelConfig::new(name, DataType::Double)
        } else if c < W2_FLOATS + W2_INTS {
            ChannelConfig::new(name, DataType::Int32)
        } else if c < W2_FLOATS + W2_INTS + W2_BOOLS {
            ChannelConfig::new(name, DataType::Bool)
        } else {
            ChannelConfig::enumeration(
                name,
                [("idle", 0), ("armed", 1), ("firing", 2), ("safe", 3)],
            )
        }
    });
    TelemetryConfig::new("BenchRig", "sextant_bench_w2").flow(FlowConfig::new(FLOW, channels))
}

/// Sends W2 at `scale` to the Sextant at `url` in streams of `stream_points` points,
/// `in_flight` at once.
pub async fn send_w2(
    url: &str,
    scale: f64,
    stream_points: usize,
    in_flight: usize,
) -> anyhow::Result<Sent> {
    let channel = connect(&ClientConfig::new(url, SEXTANT_TOKEN))
        .await
        .context("cannot connect the SDK")?;
    let service = IngestionService::new(channel, &config())
        .await
        .context("cannot register the telemetry config")?;
    // The server's channel order, by name.
    let order: Vec<usize> = {
        let flow = service
            .flow(FLOW)
            .ok_or_else(|| anyhow!("the server does not list flow {FLOW}"))?;
        let position: HashMap<String, usize> = w2_field_names()
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect();
        flow.channels
            .iter()
            .map(|c| {
                position
                    .get(&c.name)
                    .copied()
                    .ok_or_else(|| anyhow!("unexpected channel {}", c.name))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let per_flow = W2_FLOATS + W2_INTS + W2_BOOLS + W2_ENUMS;
    let flows_per_stream = (stream_points / per_flow).max(1);
    let mut streams: Vec<Vec<OrderedFlow>> = Vec::new();
    let mut current = Vec::with_capacity(flows_per_stream);
    for row in w2_rows(scale, 0) {
        let mut values: Vec<Value> = Vec::with_capacity(per_flow);
        values.extend(row.floats.iter().map(|c| Value::Double(*c as f64 / 100.0)));
        values.extend(row.ints.iter().map(|v| Value::Int32(*v as i32)));
        values.extend(row.bools.iter().map(|b| Value::Bool(*b)));
        values.extend(row.enums.iter().map(|e| Value::Enum(u32::from(*e))));
        current.push(OrderedFlow::new(
            FLOW,
            row.ts_ms * 1_000_000,
            order.iter().map(|&i| Some(values[i].clone())),
        ));
        if current.len() == flows_per_stream {
            streams.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        streams.push(current);
    }
    let streams = Arc::new(streams);

    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..in_flight.max(1) {
        let (streams, next, failed, service) = (
            streams.clone(),
            next.clone(),
            failed.clone(),
            service.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<Duration> = Vec::new();
            let mut points = 0u64;
            while !failed.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(flows) = streams.get(i) else { break };
                let began = Instant::now();
                if let Err(e) = service.ingest_flows(flows).await {
                    failed.store(true, Ordering::Relaxed);
                    return Err(anyhow!("stream {i} refused: {e}"));
                }
                latencies.push(began.elapsed());
                points += (flows.len() * per_flow) as u64;
            }
            Ok((points, latencies))
        }));
    }
    let mut sent = Sent::default();
    for task in tasks {
        let (points, latencies) = task
            .await
            .map_err(|e| anyhow!("a stream task failed: {e}"))??;
        sent.points += points;
        sent.latencies.extend(latencies);
    }
    sent.wall = started.elapsed();
    Ok(sent)
}
