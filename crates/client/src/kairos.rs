//! KairosDB-style queries: a builder for metrics, tag filters, group-bys, aggregators and
//! absolute or relative time, run against Sextant's KairosDB REST API
//! (`POST /api/v1/datapoints/query`) and returned as one Arrow record batch.
//!
//! ```no_run
//! # async fn example() -> sextant_client::Result<()> {
//! use sextant_client::kairos::{Aggregator, KairosClient, KairosQuery, Metric};
//!
//! let query = KairosQuery::relative(1, "hours").metric(
//!     Metric::new("cpu.usage_user")
//!         .tag("host", ["h1", "h2"])
//!         .group_by_tags(["host"])
//!         .aggregator(Aggregator::new("avg").sampling(1, "minutes").align_start_time()),
//! );
//! let batch = KairosClient::new("http://127.0.0.1:7777", "KEY")?.query(&query).await?;
//! # Ok(()) }
//! ```
//!
//! The batch has one row per point: `metric` (the metric's name), `group` (the index of the
//! result group within the metric), `tags` (the group's tags as JSON), `timestamp`
//! (milliseconds, UTC), `value` (numbers as doubles; null for strings and `gaps` markers) and
//! `text` (string values). Queries are checked with the server's own parser before they are
//! sent, so a bad query fails with KairosDB's message without a round trip.
//!
//! Plain `http://` only: put a TLS-terminating proxy in front for `https://`.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::{Map, Value, json};

use crate::http::Http;
use crate::{Error, Result};

/// A query: a time range and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct KairosQuery {
    body: Map<String, Value>,
    metrics: Vec<Value>,
}

impl KairosQuery {
    /// From `start` (epoch milliseconds, inclusive) to the end of time.
    pub fn absolute(start: i64) -> KairosQuery {
        let mut body = Map::new();
        body.insert("start_absolute".into(), json!(start));
        KairosQuery {
            body,
            metrics: Vec::new(),
        }
    }

    /// From `value` `unit`s ago (milliseconds … years) to the end of time.
    pub fn relative(value: i64, unit: &str) -> KairosQuery {
        let mut body = Map::new();
        body.insert(
            "start_relative".into(),
            json!({"value": value, "unit": unit}),
        );
        KairosQuery {
            body,
            metrics: Vec::new(),
        }
    }

    /// Ends at `end` (epoch milliseconds, inclusive).
    pub fn end_absolute(mut self, end: i64) -> Self {
        self.body.insert("end_absolute".into(), json!(end));
        self
    }

    /// Ends `value` `unit`s ago.
    pub fn end_relative(mut self, value: i64, unit: &str) -> Self {
        self.body
            .insert("end_relative".into(), json!({"value": value, "unit": unit}));
        self
    }

    /// The IANA time zone of calendar arithmetic.
    pub fn time_zone(mut self, zone: &str) -> Self {
        self.body.insert("time_zone".into(), json!(zone));
        self
    }

    /// Adds a metric.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metrics.push(Value::Object(metric.0));
        self
    }

    /// The query's JSON body.
    pub fn to_json(&self) -> Value {
        let mut body = self.body.clone();
        body.insert("metrics".into(), Value::Array(self.metrics.clone()));
        Value::Object(body)
    }
}

/// One metric of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric(Map<String, Value>);

impl Metric {
    /// The metric (series name) `name`.
    pub fn new(name: &str) -> Metric {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        Metric(m)
    }

    /// Keeps series whose tag `name` has one of `values` (`regex:…` for a regular expression).
    pub fn tag<I, S>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values: Vec<Value> = values
            .into_iter()
            .map(|v| Value::String(v.into()))
            .collect();
        let tags = self
            .0
            .entry("tags")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(tags) = tags {
            tags.insert(name.into(), Value::Array(values));
        }
        self
    }

    /// Groups by the values of these tags.
    pub fn group_by_tags<I, S>(self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tags: Vec<Value> = tags.into_iter().map(|t| Value::String(t.into())).collect();
        self.group_by(json!({"name": "tag", "tags": tags}))
    }

    /// Adds a group-by given as KairosDB JSON (`time`, `value`, `bin`, …).
    pub fn group_by(mut self, group_by: Value) -> Self {
        push(&mut self.0, "group_by", group_by);
        self
    }

    /// Adds an aggregator to the chain.
    pub fn aggregator(mut self, aggregator: Aggregator) -> Self {
        push(&mut self.0, "aggregators", Value::Object(aggregator.0));
        self
    }

    /// At most `n` points per group before aggregation.
    pub fn limit(mut self, n: usize) -> Self {
        self.0.insert("limit".into(), json!(n));
        self
    }

    /// Newest first.
    pub fn descending(mut self) -> Self {
        self.0.insert("order".into(), json!("desc"));
        self
    }
}

fn push(m: &mut Map<String, Value>, key: &str, value: Value) {
    if let Value::Array(list) = m.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
        list.push(value);
    }
}

/// An aggregator of KairosDB's catalogue (`avg`, `sum`, `rate`, `filter`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregator(Map<String, Value>);

impl Aggregator {
    /// The aggregator `name`.
    pub fn new(name: &str) -> Aggregator {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        Aggregator(m)
    }

    /// Buckets of `value` `unit`s.
    pub fn sampling(self, value: i64, unit: &str) -> Self {
        self.property("sampling", json!({"value": value, "unit": unit}))
    }

    /// Stamps buckets with their start.
    pub fn align_start_time(self) -> Self {
        self.property("align_start_time", json!(true))
    }

    /// Stamps buckets with their end.
    pub fn align_end_time(self) -> Self {
        self.property("align_end_time", json!(true))
    }

    /// Any other property, e.g. `("percentile", 0.95)`.
    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.0.insert(name.into(), value);
        self
    }
}

/// A client of Sextant's KairosDB REST API; cheap to clone.
#[derive(Debug, Clone)]
pub struct KairosClient {
    http: Http,
}

impl KairosClient {
    /// A client of the server at `url` (`http://host:port`) with API key `token`.
    pub fn new(url: &str, token: &str) -> Result<KairosClient> {
        Ok(KairosClient {
            http: Http::new(url, token)?,
        })
    }

    /// Runs `query` and returns its points as one batch (see the module docs).
    pub async fn query(&self, query: &KairosQuery) -> Result<RecordBatch> {
        self.query_json(&query.to_json()).await
    }

    /// Runs a query given as KairosDB JSON.
    pub async fn query_json(&self, query: &Value) -> Result<RecordBatch> {
        sextant_kairos::query::parse_value(query, now_ms()).map_err(|e| Error::Kairos {
            status: 400,
            messages: e.messages(),
        })?;
        let (status, reply) = self
            .post("/api/v1/datapoints/query", query.to_string())
            .await?;
        let reply: Value = serde_json::from_slice(&reply).map_err(|e| {
            Error::Decode(format!(
                "the server's reply (status {status}) is not JSON: {e}"
            ))
        })?;
        if status != 200 {
            let messages = reply["errors"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| m.as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .unwrap_or_else(|| vec![reply.to_string()]);
            return Err(Error::Kairos { status, messages });
        }
        to_batch(&reply)
    }

    /// Every metric name the server knows (`GET /api/v1/metricnames`).
    pub async fn metric_names(&self) -> Result<Vec<String>> {
        let url = self.http.url("/api/v1/metricnames");
        let request = self.http.request(reqwest::Method::GET, &url);
        let (status, reply) = self.http.send(request, &url).await?;
        let reply: Value = serde_json::from_slice(&reply).map_err(|e| {
            Error::Decode(format!(
                "the server's metric names (status {status}) are not JSON: {e}"
            ))
        })?;
        if status != 200 {
            return Err(Error::Kairos {
                status,
                messages: vec![reply.to_string()],
            });
        }
        Ok(reply["results"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A line for each metric of `query` that `batch` (its answer) holds no point of: that it
    /// has no data in the query's range, and, when the server knows no metric of that name,
    /// the name probably meant. Empty when every metric answered.
    pub async fn explain_empty(&self, query: &Value, batch: &RecordBatch) -> Result<Vec<String>> {
        let answered: std::collections::HashSet<&str> = batch
            .column_by_name("metric")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .map(|names| names.iter().flatten().collect())
            .unwrap_or_default();
        let asked: Vec<&str> = query["metrics"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["name"].as_str()).collect())
            .unwrap_or_default();
        let silent: Vec<&str> = asked
            .into_iter()
            .filter(|name| !answered.contains(name))
            .collect();
        if silent.is_empty() {
            return Ok(Vec::new());
        }
        let known = self.metric_names().await?;
        Ok(silent
            .into_iter()
            .map(|name| {
                if known.iter().any(|k| k == name) {
                    format!("metric `{name}` has no points in the query's range")
                } else {
                    match sextant_expr::did_you_mean(name, known.iter().map(String::as_str)) {
                        Some(guess) => {
                            format!("no metric named `{name}`; did you mean `{guess}`?")
                        }
                        None => format!("no metric named `{name}`"),
                    }
                }
            })
            .collect())
    }

    async fn post(&self, path: &str, body: String) -> Result<(u16, Vec<u8>)> {
        let url = self.http.url(path);
        let request = self
            .http
            .request(reqwest::Method::POST, &url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.http.send(request, &url).await
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The points of a query response as one batch.
pub fn to_batch(reply: &Value) -> Result<RecordBatch> {
    let (mut metric, mut group, mut tags, mut time, mut value, mut text) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let bad = |what: &str| Error::Decode(format!("the query response has no {what}"));
    for query in reply["queries"].as_array().ok_or_else(|| bad("queries"))? {
        for (g, result) in query["results"]
            .as_array()
            .ok_or_else(|| bad("results"))?
            .iter()
            .enumerate()
        {
            let name = result["name"].as_str().unwrap_or_default();
            let group_tags = result["tags"].to_string();
            for point in result["values"].as_array().ok_or_else(|| bad("values"))? {
                metric.push(name.to_owned());
                group.push(g as u32);
                tags.push(group_tags.clone());
                time.push(point[0].as_i64().ok_or_else(|| bad("timestamp"))?);
                value.push(point[1].as_f64());
                text.push(point[1].as_str().map(str::to_owned));
            }
        }
    }
    let schema = Schema::new(vec![
        Field::new("metric", DataType::Utf8, false),
        Field::new("group", DataType::UInt32, false),
        Field::new("tags", DataType::Utf8, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("value", DataType::Float64, true),
        Field::new("text", DataType::Utf8, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(metric)),
        Arc::new(UInt32Array::from(group)),
        Arc::new(StringArray::from(tags)),
        Arc::new(TimestampMillisecondArray::from(time).with_timezone("UTC")),
        Arc::new(Float64Array::from(value)),
        Arc::new(StringArray::from(text)),
    ];
    RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| Error::Decode(format!("cannot build the result batch: {e}")))
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;

    use super::*;

    #[test]
    fn the_builder_writes_kairosdb_json() {
        let q = KairosQuery::relative(2, "hours")
            .end_relative(1, "minutes")
            .time_zone("Europe/Paris")
            .metric(
                Metric::new("cpu")
                    .tag("host", ["a", "b"])
                    .group_by_tags(["host"])
                    .aggregator(
                        Aggregator::new("avg")
                            .sampling(1, "minutes")
                            .align_start_time(),
                    )
                    .limit(10)
                    .descending(),
            );
        assert_eq!(
            q.to_json(),
            json!({"start_relative": {"value": 2, "unit": "hours"}, "end_relative": {"value": 1, "unit": "minutes"},
                   "time_zone": "Europe/Paris",
                   "metrics": [{"name": "cpu", "tags": {"host": ["a", "b"]}, "group_by": [{"name": "tag", "tags": ["host"]}],
                                "aggregators": [{"name": "avg", "sampling": {"value": 1, "unit": "minutes"}, "align_start_time": true}],
                                "limit": 10, "order": "desc"}]})
        );
        assert!(sextant_kairos::query::parse_value(&q.to_json(), 0).is_ok());
    }

    #[test]
    fn responses_become_one_long_batch() {
        let reply = json!({"queries": [{"sample_size": 3, "results": [
            {"name": "m", "tags": {"h": ["a"]}, "values": [[1, 2.5], [2, 3]]},
            {"name": "m", "tags": {"h": ["b"]}, "values": [[1, "on"], [5, null]]}]}]});
        let batch = to_batch(&reply).unwrap();
        assert_eq!(batch.num_rows(), 4);
        let value = batch
            .column(4)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(value.value(1), 3.0);
        assert!(value.is_null(2) && value.is_null(3));
        let text = batch
            .column(5)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(text.value(2), "on");
    }
}
