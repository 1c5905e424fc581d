//! The aggregation query of every workload — per series, 1-minute buckets, avg, min, max and
//! count over the whole range — in each system's language, and the check of the answers
//! against the values the generator computed.
//!
//! Bucket alignment: all three answers are brought to buckets `[b, b + 1 min)` with `b` a
//! multiple of a minute since the epoch.
//!
//! - Sextant (KairosDB REST): `sampling` of 1 minute with `align_start_time`, so a bucket is
//!   stamped with its start; the query's range is inclusive at both ends, so it ends 1 ms
//!   before the data's end.
//! - VictoriaMetrics (MetricsQL): `AGG_over_time(name[1m])` looks at `(t - 1m, t]`; evaluating
//!   at `t = b + 59.999 s` covers `[b, b + 1 min)` at millisecond resolution. The rollups drop
//!   the metric name, so there is one query per field and aggregate.
//! - InfluxDB (InfluxQL): `GROUP BY time(1m)` buckets are `[b, b + 1 min)` already.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::{Conn, encode};
use crate::systems::{INFLUX_DB, SEXTANT_TOKEN, System};
use crate::workload::{BUCKET_MS, Expected, Generated, Schema, SchemaIndex};

/// avg, min, max, count of one bucket.
pub type Row = [f64; 4];

/// A system's answer: (series, bucket start in ms) to avg, min, max, count.
pub type Answer = HashMap<(u32, i64), Row>;

const AGGS: [&str; 4] = ["avg", "min", "max", "count"];

/// One HTTP request of a query plan, and how to read its reply.
#[derive(Debug, Clone)]
struct Step {
    method: &'static str,
    path: String,
    body: Bytes,
    headers: Vec<(String, String)>,
    field: usize,
    /// For VictoriaMetrics: which aggregate this request asks for.
    agg: usize,
}

/// The requests that answer the query on `system`.
fn plan(system: System, generated: &Generated) -> Vec<Step> {
    let schema = &generated.schema;
    let (start, end) = (generated.start_ms, generated.end_ms);
    let mut steps = Vec::new();
    for (f, field) in schema.fields.iter().enumerate() {
        match system {
            System::Sextant => {
                let name = format!("{}.{field}", schema.measurement);
                let metrics: Vec<Value> = AGGS
                    .iter()
                    .map(|agg| {
                        json!({
                            "name": name,
                            "group_by": [{"name": "tag", "tags": [schema.id_tag]}],
                            "aggregators": [{
                                "name": agg,
                                "sampling": {"value": 1, "unit": "minutes"},
                                "align_start_time": true,
                            }],
                        })
                    })
                    .collect();
                let body = json!({
                    "start_absolute": start,
                    "end_absolute": end - 1,
                    "metrics": metrics,
                });
                steps.push(Step {
                    method: "POST",
                    path: "/api/v1/datapoints/query".to_owned(),
                    body: Bytes::from(body.to_string()),
                    headers: vec![
                        ("authorization".into(), format!("Bearer {SEXTANT_TOKEN}")),
                        ("content-type".into(), "application/json".into()),
                    ],
                    field: f,
                    agg: 0,
                });
            }
            System::VictoriaMetrics => {
                let first = start.div_euclid(BUCKET_MS) * BUCKET_MS + BUCKET_MS - 1;
                let last = (end - 1).div_euclid(BUCKET_MS) * BUCKET_MS + BUCKET_MS - 1;
                for (a, agg) in AGGS.iter().enumerate() {
                    let query = format!("{agg}_over_time({}_{field}[1m])", schema.measurement);
                    steps.push(Step {
                        method: "GET",
                        path: format!(
                            "/api/v1/query_range?query={}&start={}&end={}&step=60s&nocache=1",
                            encode(&query),
                            seconds(first),
                            seconds(last)
                        ),
                        body: Bytes::new(),
                        headers: Vec::new(),
                        field: f,
                        agg: a,
                    });
                }
            }
            System::InfluxDb => {
                let q = format!(
                    "SELECT mean(\"{field}\"), min(\"{field}\"), max(\"{field}\"), count(\"{field}\") FROM \"{}\" WHERE time >= {start}ms AND time < {end}ms GROUP BY time(1m), \"{}\" fill(none)",
                    schema.measurement, schema.id_tag
                );
                steps.push(Step {
                    method: "GET",
                    path: format!("/query?db={INFLUX_DB}&epoch=ms&q={}", encode(&q)),
                    body: Bytes::new(),
                    headers: Vec::new(),
                    field: f,
                    agg: 0,
                });
            }
        }
    }
    steps
}

/// Milliseconds as decimal seconds: `1767225659999` is `1767225659.999`.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// How a query went.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    /// `ok`, `not available (HTTP 404)`, or what failed.
    pub status: String,
    /// The faster of two runs, in seconds.
    pub seconds: Option<f64>,
    /// HTTP requests per run.
    pub requests: usize,
    /// Buckets the system returned.
    pub buckets: usize,
    /// Buckets the generator expects.
    pub expected_buckets: usize,
    /// Buckets missing, extra, or with another value.
    pub mismatches: usize,
    /// A few mismatches, described.
    pub examples: Vec<String>,
}

impl QueryReport {
    fn failed(status: String, requests: usize) -> QueryReport {
        QueryReport {
            status,
            seconds: None,
            requests,
            buckets: 0,
            expected_buckets: 0,
            mismatches: 0,
            examples: Vec::new(),
        }
    }
}

/// Runs the query twice over `connections` connections, keeps the faster time, and checks
/// the answer of the first run against `expected`.
pub async fn run(
    system: System,
    addr: SocketAddr,
    generated: &Generated,
    connections: usize,
) -> QueryReport {
    let steps = Arc::new(plan(system, generated));
    let mut best: Option<Duration> = None;
    let mut first: Option<Vec<Bytes>> = None;
    for _ in 0..2 {
        match execute(addr, steps.clone(), connections).await {
            Ok((elapsed, replies)) => {
                best = Some(best.map_or(elapsed, |b| b.min(elapsed)));
                first.get_or_insert(replies);
            }
            Err(status) => return QueryReport::failed(status, steps.len()),
        }
    }
    let replies = first.unwrap_or_default();
    let index = generated.schema.index();
    let mut answer = Answer::new();
    for (step, body) in steps.iter().zip(&replies) {
        let decoded = match system {
            System::Sextant => {
                decode_kairos(body, step.field, &generated.schema, &index, &mut answer)
            }
            System::VictoriaMetrics => decode_vm(
                body,
                step.field,
                step.agg,
                &generated.schema,
                &index,
                &mut answer,
            ),
            System::InfluxDb => {
                decode_influx(body, step.field, &generated.schema, &index, &mut answer)
            }
        };
        if let Err(e) = decoded {
            return QueryReport::failed(format!("cannot read the reply: {e:#}"), steps.len());
        }
    }
    let mut report = QueryReport {
        status: "ok".to_owned(),
        seconds: best.map(|b| b.as_secs_f64()),
        requests: steps.len(),
        buckets: answer.len(),
        expected_buckets: 0,
        mismatches: 0,
        examples: Vec::new(),
    };
    if let Some(expected) = &generated.expected {
        compare(&answer, expected, &generated.schema, &mut report);
    }
    report
}

/// Sends every step; the elapsed time and the reply bodies in step order, or a status line.
async fn execute(
    addr: SocketAddr,
    steps: Arc<Vec<Step>>,
    connections: usize,
) -> Result<(Duration, Vec<Bytes>), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1).min(steps.len().max(1)) {
        let (steps, next) = (steps.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(step) = steps.get(i) else { break };
                let headers: Vec<(&str, &str)> = step
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let reply = conn
                    .send(step.method, &step.path, &headers, step.body.clone())
                    .await
                    .map_err(|e| format!("query failed: {e:#}"))?;
                if reply.status == 404 {
                    return Err("not available (HTTP 404)".to_owned());
                }
                if reply.grpc_status.as_deref() == Some("12") {
                    // No HTTP route: the request fell through to the gRPC router.
                    return Err("not available (no such route: gRPC UNIMPLEMENTED)".to_owned());
                }
                if !reply.ok() {
                    return Err(format!(
                        "query failed: HTTP {} {}",
                        reply.status,
                        reply.text(300)
                    ));
                }
                out.push((i, reply.body));
            }
            Ok::<_, String>(out)
        }));
    }
    let mut replies = vec![Bytes::new(); steps.len()];
    for task in tasks {
        let out = task
            .await
            .map_err(|e| format!("query task failed: {e}"))??;
        for (i, body) in out {
            replies[i] = body;
        }
    }
    Ok((started.elapsed(), replies))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn put(answer: &mut Answer, series: u32, bucket: i64, agg: usize, value: f64) {
    answer.entry((series, bucket)).or_insert([f64::NAN; 4])[agg] = value;
}

/// KairosDB: `queries[a].results[].tags[id][0]` and `values[[ts, v]]`, one query per aggregate.
fn decode_kairos(
    body: &[u8],
    field: usize,
    schema: &Schema,
    index: &SchemaIndex,
    answer: &mut Answer,
) -> anyhow::Result<()> {
    let reply: Value = serde_json::from_slice(body)?;
    let queries = reply["queries"]
        .as_array()
        .ok_or_else(|| anyhow!("no `queries` array"))?;
    for (a, query) in queries.iter().enumerate().take(AGGS.len()) {
        for result in query["results"].as_array().into_iter().flatten() {
            let Some(values) = result["values"].as_array() else {
                continue;
            };
            if values.is_empty() {
                continue;
            }
            let id = result["tags"][schema.id_tag][0]
                .as_str()
                .ok_or_else(|| anyhow!("a result without tag {}", schema.id_tag))?;
            let series = index
                .series(&schema.fields[field], id)
                .ok_or_else(|| anyhow!("unknown series {id}"))?;
            for point in values {
                let ts = point[0].as_i64().context("a timestamp")?;
                let v = number(&point[1]).context("a value")?;
                put(answer, series, ts, a, v);
            }
        }
    }
    Ok(())
}

/// MetricsQL: `data.result[].metric[id]` and `values[[t, "v"]]`, `t` the bucket's end.
fn decode_vm(
    body: &[u8],
    field: usize,
    agg: usize,
    schema: &Schema,
    index: &SchemaIndex,
    answer: &mut Answer,
) -> anyhow::Result<()> {
    let reply: Value = serde_json::from_slice(body)?;
    if reply["status"] != "success" {
        return Err(anyhow!("status {}: {}", reply["status"], reply["error"]));
    }
    for result in reply["data"]["result"].as_array().into_iter().flatten() {
        let id = result["metric"][schema.id_tag]
            .as_str()
            .ok_or_else(|| anyhow!("a series without label {}", schema.id_tag))?;
        let series = index
            .series(&schema.fields[field], id)
            .ok_or_else(|| anyhow!("unknown series {id}"))?;
        for point in result["values"].as_array().into_iter().flatten() {
            let t = number(&point[0]).context("a timestamp")?;
            let v = number(&point[1]).context("a value")?;
            let bucket = (t * 1000.0).round() as i64 + 1 - BUCKET_MS;
            put(answer, series, bucket, agg, v);
        }
    }
    Ok(())
}

/// InfluxQL: `results[0].series[].tags[id]` and `values[[t, mean, min, max, count]]`.
fn decode_influx(
    body: &[u8],
    field: usize,
    schema: &Schema,
    index: &SchemaIndex,
    answer: &mut Answer,
) -> anyhow::Result<()> {
    let reply: Value = serde_json::from_slice(body)?;
    let result = &reply["results"][0];
    if let Some(error) = result["error"].as_str().or(reply["error"].as_str()) {
        return Err(anyhow!("InfluxDB: {error}"));
    }
    for series in result["series"].as_array().into_iter().flatten() {
        let id = series["tags"][schema.id_tag]
            .as_str()
            .ok_or_else(|| anyhow!("a series without tag {}", schema.id_tag))?;
        let s = index
            .series(&schema.fields[field], id)
            .ok_or_else(|| anyhow!("unknown series {id}"))?;
        for row in series["values"].as_array().into_iter().flatten() {
            let ts = row[0].as_i64().context("a timestamp")?;
            for a in 0..AGGS.len() {
                if let Some(v) = number(&row[a + 1]) {
                    put(answer, s, ts, a, v);
                }
            }
        }
    }
    Ok(())
}

/// Counts the buckets that are missing, extra or differ (avg within 1e-6 relative, min and max
/// within 1e-6, count exactly), with a few examples.
pub fn compare(answer: &Answer, expected: &Expected, schema: &Schema, report: &mut QueryReport) {
    let describe = |series: u32, bucket: i64| {
        let ids = schema.ids.len() as u32;
        format!(
            "{}.{}{{{}={}}} at {bucket}",
            schema.measurement,
            schema.fields[(series / ids) as usize],
            schema.id_tag,
            schema.ids[(series % ids) as usize]
        )
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
    report.expected_buckets = expected.len();
    let note = |report: &mut QueryReport, text: String| {
        report.mismatches += 1;
        if report.examples.len() < 5 {
            report.examples.push(text);
        }
    };
    for (&(series, bucket), want) in expected {
        match answer.get(&(series, bucket)) {
            None => note(report, format!("missing: {}", describe(series, bucket))),
            Some(got) => {
                let want_row = [
                    want.avg(),
                    want.min as f64 / 100.0,
                    want.max as f64 / 100.0,
                    want.count as f64,
                ];
                if !(0..4).all(|i| close(got[i], want_row[i])) {
                    note(
                        report,
                        format!(
                            "{}: avg/min/max/count {:?}, expected {:?}",
                            describe(series, bucket),
                            got,
                            want_row
                        ),
                    );
                }
            }
        }
    }
    for &(series, bucket) in answer.keys() {
        if !expected.contains_key(&(series, bucket)) {
            note(report, format!("unexpected: {}", describe(series, bucket)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Kind, Options, generate};

    fn small() -> Generated {
        generate(
            Kind::W1,
            Options {
                scale: 0.002,
                batch_points: 10_000,
                offset_ms: 0,
                max_points: u64::MAX,
                truth: true,
            },
        )
    }

    #[test]
    fn vm_buckets_end_a_millisecond_before_the_next_minute() {
        assert_eq!(seconds(1_767_225_659_999), "1767225659.999");
        let g = small();
        let steps = plan(System::VictoriaMetrics, &g);
        assert_eq!(steps.len(), 10 * 4);
        assert!(steps[0].path.contains("start=1767225659.999"));
        // 170 s of data: buckets at 0, 60 and 120 s.
        assert!(steps[0].path.contains("end=1767225779.999"));
    }

    #[test]
    fn the_generators_answer_agrees_with_itself_and_a_change_is_caught() {
        let g = small();
        let expected = g.expected.as_ref().unwrap();
        let mut answer: Answer = expected
            .iter()
            .map(|(&k, a)| {
                (
                    k,
                    [
                        a.avg(),
                        a.min as f64 / 100.0,
                        a.max as f64 / 100.0,
                        a.count as f64,
                    ],
                )
            })
            .collect();
        let mut report = QueryReport::failed(String::new(), 0);
        compare(&answer, expected, &g.schema, &mut report);
        assert_eq!(report.mismatches, 0);
        assert_eq!(report.expected_buckets, 10 * 100 * 3);

        let key = *answer.keys().next().unwrap();
        answer.get_mut(&key).unwrap()[3] += 1.0;
        answer.insert((0, 0), [1.0; 4]);
        let mut report = QueryReport::failed(String::new(), 0);
        compare(&answer, expected, &g.schema, &mut report);
        assert_eq!(report.mismatches, 2);
    }

    #[test]
    fn replies_of_each_dialect_are_decoded() {
        let g = small();
        let index = g.schema.index();
        let mut answer = Answer::new();
        let kairos = br#"{"queries":[{"results":[{"name":"cpu.usage_user","tags":{"host":["host_001"]},"values":[[1767225600000,12.5]]}]},
            {"results":[{"name":"cpu.usage_user","tags":{},"values":[]}]}]}"#;
        decode_kairos(kairos, 0, &g.schema, &index, &mut answer).unwrap();
        assert_eq!(answer[&(1, 1_767_225_600_000)][0], 12.5);

        let vm = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"host":"host_002"},"values":[[1767225659.999,"6"]]}]}}"#;
        decode_vm(vm, 0, 3, &g.schema, &index, &mut answer).unwrap();
        assert_eq!(answer[&(2, 1_767_225_600_000)][3], 6.0);

        let influx = br#"{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"host_003"},"columns":["time","mean","min","max","count"],"values":[[1767225600000,1.5,1,2,6]]}]}]}"#;
        decode_influx(influx, 1, &g.schema, &index, &mut answer).unwrap();
        assert_eq!(answer[&(103, 1_767_225_600_000)], [1.5, 1.0, 2.0, 6.0]);
    }
}
