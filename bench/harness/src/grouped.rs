//! Grouped per-minute averages over W1's day: SignalFlow on Sextant beside MetricsQL on
//! VictoriaMetrics, both asked for the same answer.
//!
//! - by host: `data('cpu.usage_user').mean(by=['host'])` at a 1-minute resolution (SSE,
//!   `POST /v2/signalflow/execute`) and `avg by (host) (avg_over_time(cpu_usage_user[1m]))`
//!   with a 60 s step; each answer is checked against the generator's per-minute means.
//! - by region: the same with `region`, six groups of hosts; the two systems' answers are
//!   checked against each other.
//!
//! Buckets: SignalFlow's logical timestamp `t` covers `[t, t + 1 min)`; MetricsQL evaluated at
//! `b + 59.999 s` covers `(b − 0.001 s, b + 59.999 s]`, the same minute at millisecond
//! resolution (see `query.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::http::{Conn, encode};
use crate::systems::{SEXTANT_TOKEN, System};
use crate::workload::{BUCKET_MS, Generated};

/// One grouped query's outcome on one system.
#[derive(Debug, Clone, Serialize)]
pub struct GroupedReport {
    /// `by host` or `by region`.
    pub query: String,
    /// `ok`, or what failed.
    pub status: String,
    /// The faster of two runs, seconds.
    pub seconds: Option<f64>,
    /// Groups answered.
    pub groups: usize,
    /// (group, minute) values answered.
    pub values: usize,
    /// Values that differ from the expected ones (by host: the generator's; by region:
    /// the other system's, filled in by [`cross_check`]).
    pub mismatches: usize,
    /// A few of them.
    pub examples: Vec<String>,
    /// The answer, for the cross-check; not reported.
    #[serde(skip)]
    pub answer: HashMap<(String, i64), f64>,
}

/// The grouped queries on `system` (Sextant or VictoriaMetrics), for W1 only.
pub async fn run(system: System, addr: SocketAddr, generated: &Generated) -> Vec<GroupedReport> {
    if generated.schema.measurement != "cpu" || system == System::InfluxDb {
        return Vec::new();
    }
    let mut out = Vec::new();
    for key in ["host", "region"] {
        let mut report = GroupedReport {
            query: format!("by {key}"),
            status: "ok".into(),
            seconds: None,
            groups: 0,
            values: 0,
            mismatches: 0,
            examples: Vec::new(),
            answer: HashMap::new(),
        };
        let mut best: Option<Duration> = None;
        for _ in 0..2 {
            match once(system, addr, generated, key).await {
                Ok((elapsed, answer)) => {
                    best = Some(best.map_or(elapsed, |b| b.min(elapsed)));
                    report.answer = answer;
                }
                Err(e) => {
                    report.status = format!("{e:#}");
                    break;
                }
            }
        }
        report.seconds = best.map(|b| b.as_secs_f64());
        report.values = report.answer.len();
        let mut groups: Vec<&String> = report.answer.keys().map(|(g, _)| g).collect();
        groups.sort_unstable();
        groups.dedup();
        report.groups = groups.len();
        if key == "host" && report.seconds.is_some() {
            check_hosts(&mut report, generated);
        }
        out.push(report);
    }
    out
}

async fn once(
    system: System,
    addr: SocketAddr,
    generated: &Generated,
    key: &str,
) -> anyhow::Result<(Duration, HashMap<(String, i64), f64>)> {
    let (start, end) = (generated.start_ms, generated.end_ms);
    let field = &generated.schema.fields[0];
    let measurement = generated.schema.measurement;
    let mut conn = Conn::new(addr);
    let started = Instant::now();
    let reply = match system {
        System::Sextant => {
            let program = format!("data('{measurement}.{field}').mean(by=['{key}']).publish()");
            let path = format!(
                "/v2/signalflow/execute?start={start}&stop={end}&resolution={BUCKET_MS}&immediate=True"
            );
            conn.send(
                "POST",
                &path,
                &[
                    ("x-sf-token", SEXTANT_TOKEN),
                    ("content-type", "text/plain"),
                ],
                Bytes::from(program),
            )
            .await?
        }
        _ => {
            let first = start.div_euclid(BUCKET_MS) * BUCKET_MS + BUCKET_MS - 1;
            let last = (end - 1).div_euclid(BUCKET_MS) * BUCKET_MS + BUCKET_MS - 1;
            let query = format!("avg by ({key}) (avg_over_time({measurement}_{field}[1m]))");
            let path = format!(
                "/api/v1/query_range?query={}&start={}.{:03}&end={}.{:03}&step=60s&nocache=1",
                encode(&query),
                first.div_euclid(1000),
                first.rem_euclid(1000),
                last.div_euclid(1000),
                last.rem_euclid(1000)
            );
            conn.send("GET", &path, &[], Bytes::new()).await?
        }
    };
    let elapsed = started.elapsed();
    if !reply.ok() {
        return Err(anyhow!("HTTP {} {}", reply.status, reply.text(300)));
    }
    let answer = match system {
        System::Sextant => decode_sse(&reply.body, key)?,
        _ => decode_vm(&reply.body, key)?,
    };
    Ok((elapsed, answer))
}

/// SSE records: metadata gives each tsId its group, data its values.
fn decode_sse(body: &[u8], key: &str) -> anyhow::Result<HashMap<(String, i64), f64>> {
    let text = std::str::from_utf8(body).context("the SSE body is not UTF-8")?;
    let mut groups: HashMap<String, String> = HashMap::new();
    let mut answer = HashMap::new();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let message: Value = serde_json::from_str(data)?;
        match message["type"].as_str() {
            Some("metadata") => {
                let id = message["tsId"].as_str().unwrap_or_default().to_owned();
                let group = message["properties"][key]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                groups.insert(id, group);
            }
            Some("data") => {
                let t = message["logicalTimestampMs"]
                    .as_i64()
                    .context("a timestamp")?;
                for point in message["data"].as_array().into_iter().flatten() {
                    let id = point["tsId"].as_str().unwrap_or_default();
                    let group = groups
                        .get(id)
                        .ok_or_else(|| anyhow!("data of tsId {id} before its metadata"))?;
                    let v = point["value"].as_f64().context("a value")?;
                    answer.insert((group.clone(), t), v);
                }
            }
            Some("error") => return Err(anyhow!("SignalFlow error: {}", message["message"])),
            _ => {}
        }
    }
    Ok(answer)
}

fn decode_vm(body: &[u8], key: &str) -> anyhow::Result<HashMap<(String, i64), f64>> {
    let reply: Value = serde_json::from_slice(body)?;
    if reply["status"] != "success" {
        return Err(anyhow!("status {}: {}", reply["status"], reply["error"]));
    }
    let mut answer = HashMap::new();
    for result in reply["data"]["result"].as_array().into_iter().flatten() {
        let group = result["metric"][key]
            .as_str()
            .ok_or_else(|| anyhow!("a series without label {key}"))?;
        for point in result["values"].as_array().into_iter().flatten() {
            let t = point[0].as_f64().context("a timestamp")?;
            let v: f64 = point[1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .context("a value")?;
            let bucket = (t * 1000.0).round() as i64 + 1 - BUCKET_MS;
            answer.insert((group.to_owned(), bucket), v);
        }
    }
    Ok(answer)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn note(report: &mut GroupedReport, text: String) {
    report.mismatches += 1;
    if report.examples.len() < 5 {
        report.examples.push(text);
    }
}

/// By host: every host's every minute against the generator's mean.
fn check_hosts(report: &mut GroupedReport, generated: &Generated) {
    let Some(expected) = &generated.expected else {
        return;
    };
    let schema = &generated.schema;
    let mut wanted = 0;
    for (id, host) in schema.ids.iter().enumerate() {
        let series = schema.series(0, id);
        for (&(s, bucket), agg) in expected {
            if s != series {
                continue;
            }
            wanted += 1;
            match report.answer.get(&(host.clone(), bucket)) {
                None => note(report, format!("missing: {host} at {bucket}")),
                Some(v) if !close(*v, agg.avg()) => note(
                    report,
                    format!("{host} at {bucket}: {v}, expected {}", agg.avg()),
                ),
                Some(_) => {}
            }
        }
    }
    if report.answer.len() > wanted {
        let extra = report.answer.len() - wanted;
        note(report, format!("{extra} values more than expected"));
    }
}

/// By region: Sextant's answer against VictoriaMetrics'.
pub fn cross_check(sextant: &mut GroupedReport, peer: &GroupedReport) {
    if sextant.seconds.is_none() || peer.seconds.is_none() {
        return;
    }
    let mut keys: Vec<&(String, i64)> = sextant.answer.keys().chain(peer.answer.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    let keys: Vec<(String, i64)> = keys.into_iter().cloned().collect();
    for key in keys {
        match (sextant.answer.get(&key), peer.answer.get(&key)) {
            (Some(a), Some(b)) if close(*a, *b) => {}
            (a, b) => {
                let text = format!(
                    "{} at {}: Sextant {a:?}, VictoriaMetrics {b:?}",
                    key.0, key.1
                );
                note(sextant, text);
            }
        }
    }
}
