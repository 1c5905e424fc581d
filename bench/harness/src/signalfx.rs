//! `sextant-bench --signalfx`: SignalFx ingest beside Sextant's own line protocol on the same
//! data, and metadata search over many MTS.
//!
//! W1 (100 hosts x 10 cpu metrics) is generated once as line protocol and converted point by
//! point into SignalFx datapoints (metric `cpu.<field>`, the line's tags as dimensions, the
//! same timestamps and values), so both protocols write the same series. Each variant runs on a
//! fresh server, closed-loop over the same connections, and reports points per server
//! CPU-second:
//!
//! - line protocol, 10,000 points a request (the figure of `bench/run`);
//! - SignalFx protobuf, 300 points a request, gzip level 8: what the Python client sends;
//! - SignalFx protobuf, 10,000 points a request, gzip level 8;
//! - SignalFx protobuf, 10,000 points a request, uncompressed.
//!
//! Then `--mts` MTS (one metric, three dimensions: `host` unique, `rack` one of 1,000, `group`
//! one of 100) are ingested, one point each, and `GET /v2/metrictimeseries` searches are timed
//! (median of five): a pinned metric with a unique host, two dimensions without a pinned
//! metric, a wildcard, and everything. Each reply's `count` is the total number of matches.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::Bytes;
use sextant_signalfx::{Datapoint, MetricType, PointValue, datapoint::encode_protobuf};

use crate::drive::{Target, send_all};
use crate::http::Conn;
use crate::systems::{SEXTANT_TOKEN, Server, System};
use crate::workload::{Kind, Options, Request, generate};

/// One ingest variant's figures.
#[derive(Debug)]
pub struct Figure {
    /// What was sent.
    pub variant: String,
    /// Points sent.
    pub points: u64,
    /// Requests sent.
    pub requests: usize,
    /// Wall-clock points per second.
    pub points_per_s: f64,
    /// Points per server CPU-second.
    pub points_per_cpu_s: f64,
}

/// One search's figure.
#[derive(Debug)]
pub struct Search {
    /// The query.
    pub query: String,
    /// The total number of matches the server reported.
    pub count: u64,
    /// Median time of five, in milliseconds.
    pub median_ms: f64,
}

/// Parses W1's line protocol (no escapes, float fields, millisecond timestamps) into datapoints
/// of the same series.
fn to_datapoints(body: &[u8]) -> anyhow::Result<Vec<Datapoint>> {
    let text = std::str::from_utf8(body)?;
    let mut points = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.split(' ');
        let (Some(series), Some(fields), Some(ts)) = (parts.next(), parts.next(), parts.next())
        else {
            bail!("unexpected line {line:?}");
        };
        let mut tags = series.split(',');
        let measurement = tags.next().unwrap_or_default();
        let dimensions: Vec<(String, String)> = tags
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let timestamp: i64 = ts.parse()?;
        for field in fields.split(',') {
            let (name, value) = field
                .split_once('=')
                .with_context(|| format!("bad field {field:?}"))?;
            points.push(Datapoint {
                metric: format!("{measurement}.{name}"),
                dimensions: dimensions.clone(),
                timestamp_ms: Some(timestamp),
                value: PointValue::Double(value.parse()?),
                metric_type: MetricType::Gauge,
            });
        }
    }
    Ok(points)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(8));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn bodies(points: &[Datapoint], per_request: usize, compress: bool) -> Vec<Request> {
    points
        .chunks(per_request)
        .map(|chunk| {
            let body = encode_protobuf(chunk);
            Request {
                body: Bytes::from(if compress { gzip(&body) } else { body }),
                points: chunk.len(),
            }
        })
        .collect()
}

fn signalfx_target(addr: SocketAddr, compress: bool) -> Target {
    let mut headers = vec![
        ("x-sf-token".to_owned(), SEXTANT_TOKEN.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-protobuf".to_owned(),
        ),
    ];
    if compress {
        headers.push(("content-encoding".to_owned(), "gzip".to_owned()));
    }
    Target {
        addr,
        path: "/v2/datapoint".to_owned(),
        headers,
    }
}

async fn ingest(
    binary: &Path,
    variant: &str,
    target: impl Fn(SocketAddr) -> Target,
    requests: Arc<Vec<Request>>,
    connections: usize,
) -> anyhow::Result<Figure> {
    let server = Server::start(System::Sextant, binary).await?;
    let result = async {
        let cpu0 = server.cpu_seconds()?;
        let sent = send_all(&target(server.addr), requests.clone(), connections, None).await?;
        let cpu1 = server.cpu_seconds()?;
        Ok::<_, anyhow::Error>(Figure {
            variant: variant.to_owned(),
            points: sent.points,
            requests: requests.len(),
            points_per_s: sent.rate(),
            points_per_cpu_s: sent.points as f64 / (cpu1 - cpu0).max(1e-9),
        })
    }
    .await;
    server.stop()?;
    result
}

/// Ingests `mts` MTS and times searches over them.
async fn search(
    binary: &Path,
    mts: usize,
    connections: usize,
) -> anyhow::Result<(Figure, Vec<Search>)> {
    let points: Vec<Datapoint> = (0..mts)
        .map(|i| Datapoint {
            metric: "bench.mts".to_owned(),
            dimensions: vec![
                ("host".to_owned(), format!("h{i:07}")),
                ("rack".to_owned(), format!("r{:03}", i % 1000)),
                ("group".to_owned(), format!("g{:02}", i % 100)),
            ],
            timestamp_ms: Some(1_767_225_600_000),
            value: PointValue::Double(i as f64),
            metric_type: MetricType::Gauge,
        })
        .collect();
    let requests = Arc::new(bodies(&points, 10_000, true));
    drop(points);
    let server = Server::start(System::Sextant, binary).await?;
    let result = async {
        let cpu0 = server.cpu_seconds()?;
        let sent = send_all(
            &signalfx_target(server.addr, true),
            requests.clone(),
            connections,
            None,
        )
        .await?;
        let cpu1 = server.cpu_seconds()?;
        let figure = Figure {
            variant: format!("{mts} new MTS (catalog registration), 10,000 a request"),
            points: sent.points,
            requests: requests.len(),
            points_per_s: sent.rate(),
            points_per_cpu_s: sent.points as f64 / (cpu1 - cpu0).max(1e-9),
        };
        let host = format!("h{:07}", mts / 2);
        let queries = [
            format!("sf_metric:bench.mts AND host:{host}"),
            "rack:r042 AND group:g42".to_owned(),
            "host:h00012*".to_owned(),
            "*".to_owned(),
        ];
        let mut conn = Conn::new(server.addr);
        let auth = format!("Bearer {SEXTANT_TOKEN}");
        let mut searches = Vec::new();
        for query in queries {
            let path = format!(
                "/v2/metrictimeseries?query={}&limit=50",
                query.replace(' ', "%20")
            );
            let mut times = Vec::new();
            let mut count = 0;
            for _ in 0..5 {
                let started = Instant::now();
                let reply = conn
                    .send("GET", &path, &[("authorization", &auth)], Bytes::new())
                    .await?;
                times.push(started.elapsed());
                if !reply.ok() {
                    bail!(
                        "search {query:?}: HTTP {} {}",
                        reply.status,
                        reply.text(300)
                    );
                }
                let body: serde_json::Value = serde_json::from_slice(&reply.body)?;
                count = body["count"].as_u64().unwrap_or(0);
            }
            times.sort();
            searches.push(Search {
                query,
                count,
                median_ms: times[2].as_secs_f64() * 1000.0,
            });
        }
        Ok::<_, anyhow::Error>((figure, searches))
    }
    .await;
    server.stop()?;
    result
}

/// Runs every variant and the searches; returns the report as Markdown.
pub async fn run(
    binary: &Path,
    scale: f64,
    connections: usize,
    mts: usize,
) -> anyhow::Result<String> {
    let started = Instant::now();
    let say = |what: &str| eprintln!("[{:>6.0} s] {what}", started.elapsed().as_secs_f64());
    say("generating W1");
    let mut w1 = generate(
        Kind::W1,
        Options {
            scale,
            batch_points: 10_000,
            offset_ms: 0,
            max_points: u64::MAX,
            truth: false,
        },
    );
    let mut points = Vec::with_capacity(w1.points as usize);
    for request in &w1.requests {
        points.extend(to_datapoints(&request.body)?);
    }
    let mut figures = Vec::new();
    // Line protocol in requests of the same sizes: a W1 line holds 10 points, so a request of
    // 300 points names as many series as a SignalFx request of 300 datapoints.
    let mut line_figures = Vec::new();
    for per_request in [10_000, 300] {
        let requests = if per_request == 10_000 {
            std::mem::take(&mut w1.requests)
        } else {
            generate(
                Kind::W1,
                Options {
                    scale,
                    batch_points: per_request,
                    offset_ms: 0,
                    max_points: u64::MAX,
                    truth: false,
                },
            )
            .requests
        };
        let variant = format!("line protocol, {per_request} points a request");
        say(&variant);
        let figure = ingest(
            binary,
            &variant,
            |addr| Target {
                addr,
                path: "/write?precision=ms".to_owned(),
                headers: vec![("authorization".into(), format!("Bearer {SEXTANT_TOKEN}"))],
            },
            Arc::new(requests),
            connections,
        )
        .await?;
        line_figures.push((per_request, figure.points_per_cpu_s));
        figures.push(figure);
    }
    for (per_request, compress) in [(300, true), (300, false), (10_000, true), (10_000, false)] {
        let variant = format!(
            "SignalFx protobuf, {per_request} points a request, {}",
            if compress { "gzip" } else { "uncompressed" }
        );
        say(&variant);
        let requests = Arc::new(bodies(&points, per_request, compress));
        figures.push(
            ingest(
                binary,
                &variant,
                |addr| signalfx_target(addr, compress),
                requests,
                connections,
            )
            .await?,
        );
    }
    drop(points);
    say(&format!("{mts} MTS: registration and search"));
    let (registration, searches) = search(binary, mts, connections).await?;

    let baseline = figures[0].points_per_cpu_s;
    let same_size = |f: &Figure| {
        line_figures
            .iter()
            .find(|(n, _)| f.variant.contains(&format!(", {n} points a request")))
            .map(|(_, cpu)| format!("{:.2}x", f.points_per_cpu_s / cpu))
            .unwrap_or_else(|| "–".to_owned())
    };
    let mut md = String::new();
    md.push_str(&format!(
        "W1 at scale {scale}: {} points, {connections} connections, closed loop, one fresh server per row.\n\n",
        figures[0].points
    ));
    md.push_str("| what | requests | points/s | points per server CPU-s | vs line protocol, 10,000 a request | vs line protocol, same request size |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|\n");
    for f in figures.iter().chain(std::iter::once(&registration)) {
        md.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.2}x | {} |\n",
            f.variant,
            f.requests,
            f.points_per_s,
            f.points_per_cpu_s,
            f.points_per_cpu_s / baseline,
            same_size(f)
        ));
    }
    md.push_str(&format!(
        "\nMetadata search over {mts} MTS (`GET /v2/metrictimeseries`, limit 50, median of 5):\n\n"
    ));
    md.push_str("| query | count | ms |\n|---|---:|---:|\n");
    for s in &searches {
        md.push_str(&format!(
            "| `{}` | {} | {:.1} |\n",
            s.query, s.count, s.median_ms
        ));
    }
    say("done");
    Ok(md)
}
