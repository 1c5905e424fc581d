//! `POST /api/v1/datapoints` (and Proficloud's `/api/v1/datapoints/write`): KairosDB ingest.
//!
//! Types: a series keeps one type for life. A new series is `int64` when all of its numeric
//! points in the request are longs, `double` when any is a double, and `string` when its
//! first point is a string. Later longs are stored in a double series as doubles (when
//! exact, up to 2⁵³), and later doubles in an int64 series when they are integral; any
//! other point that does not fit its series is refused with an error naming the metric and
//! the point, never dropped silently. Series written by other protocols keep their types
//! (a long fits a uint64 series when it is not negative, and so on).
//!
//! As KairosDB does, the valid metrics and points are stored even when others are refused:
//! the reply is 204 when everything was stored, else 400 with every message.

use std::collections::{BTreeSet, HashMap};

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use sextant_kairos::KValue;
use sextant_kairos::ingest::IngestMetric;
use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::{SeriesSelector, Store, WritePolicy};

use super::{Failure, MAX_BODY_BYTES, no_content};
use crate::auth::{Action, Principal, authorize};
use crate::state::{AppState, org_number};

/// `POST /api/v1/datapoints`.
pub async fn datapoints(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::WritePoints) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let store = state.store.clone();
    let budget = state.decode_budget.clone();
    // The body's share of the decode budget, taken as it arrives and held until its write
    // is done.
    let (body, mut share) = match crate::body::receive(&budget, body, MAX_BODY_BYTES).await {
        Ok(received) => received,
        Err(error) => return Failure(error).into_response(),
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let gzip = crate::body::is_gzip(&headers);
        let plain = crate::body::inflate(&budget, &mut share, &body, gzip, MAX_BODY_BYTES)
            .map_err(Failure)?;
        let _share = share;
        let ingest = sextant_kairos::ingest::parse(&plain)?;
        let mut messages = ingest.errors;
        let stored = store_metrics(store.as_ref(), org, ingest.metrics, &mut messages)?;
        Ok::<_, Failure>((stored, messages))
    })
    .await;
    match outcome {
        Ok(Ok((stored, messages))) => {
            state.metrics.ingested("kairosdb", stored);
            if messages.is_empty() {
                no_content()
            } else {
                Failure::rejected(messages).into_response()
            }
        }
        Ok(Err(failure)) => failure.into_response(),
        Err(e) => Failure::from(e).into_response(),
    }
}

struct Pending {
    data_type: DataType,
    points: Vec<Point>,
    /// How errors name the metric objects that wrote to this series.
    sources: BTreeSet<String>,
}

/// Stores the points of `metrics`, adding a message to `messages` for each point or series
/// that cannot be stored; returns the points stored. Fails only when the write as a whole
/// fails.
pub fn store_metrics(
    store: &dyn Store,
    org: OrgId,
    metrics: Vec<IngestMetric>,
    messages: &mut Vec<String>,
) -> Result<usize, sextant_storage::Error> {
    // The types of existing series, one selection per metric name.
    let mut existing: HashMap<SeriesKey, DataType> = HashMap::new();
    let names: BTreeSet<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    for name in names {
        for info in store.select(org, &SeriesSelector::name(name)) {
            existing.insert(info.key, info.data_type);
        }
    }
    let mut pending: HashMap<SeriesKey, Pending> = HashMap::new();
    let mut order: Vec<SeriesKey> = Vec::new();
    for metric in metrics {
        let key = match SeriesKey::new(metric.name.as_str(), metric.tags.iter()) {
            Ok(key) => key,
            Err(e) => {
                messages.push(format!("{}: {e}", metric.point_path(None)));
                continue;
            }
        };
        let data_type = match existing.get(&key) {
            Some(t) => *t,
            None => match pending.get(&key) {
                Some(p) => p.data_type,
                None => new_series_type(&metric),
            },
        };
        let entry = pending.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Pending {
                data_type,
                points: Vec::new(),
                sources: BTreeSet::new(),
            }
        });
        entry.sources.insert(metric.point_path(None));
        for (index, point) in &metric.points {
            let Some(timestamp) = point.t.checked_mul(1_000_000) else {
                messages.push(format!(
                    "{} timestamp {} is outside the range Sextant stores",
                    metric.point_path(*index),
                    point.t
                ));
                continue;
            };
            match coerce(&point.v, data_type) {
                Some(value) => entry.points.push(Point { timestamp, value }),
                None => messages.push(format!(
                    "{} value {} cannot be stored: series {key} holds {data_type} values (a series keeps the type of its first point)",
                    metric.point_path(*index),
                    describe(&point.v),
                )),
            }
        }
    }
    // One write for the whole request: the store refuses the series it cannot take (reported
    // for every metric object that wrote to them) and stores the others together. Each
    // series' points are sorted stably, so a later duplicate still wins. A series whose every
    // point was refused above has nothing to write.
    let mut entries: Vec<(SeriesKey, Pending)> = Vec::with_capacity(order.len());
    for key in order {
        let Some(mut p) = pending.remove(&key) else {
            continue;
        };
        if p.points.is_empty() {
            continue;
        }
        p.points.sort_by_key(|p| p.timestamp);
        entries.push((key, p));
    }
    if entries.is_empty() {
        return Ok(0);
    }
    let mut batch = WriteBatch::new(org);
    for (key, p) in &mut entries {
        batch.push(key.clone(), p.data_type, std::mem::take(&mut p.points));
    }
    let batch = match batch.validate() {
        Ok(batch) => batch,
        Err(e) => {
            messages.push(e.to_string());
            return Ok(0);
        }
    };
    match store.write_with(batch, WritePolicy::StoreTheRest) {
        Ok(outcome) => {
            // The batch's series are the entries, in order, each once.
            for refusal in &outcome.refused {
                let sources = match entries.get(refusal.index) {
                    Some((key, p)) if *key == refusal.key => Some(&p.sources),
                    _ => entries
                        .iter()
                        .find(|(key, _)| *key == refusal.key)
                        .map(|(_, p)| &p.sources),
                };
                match sources {
                    Some(sources) => {
                        for source in sources {
                            messages.push(format!("{source}: {refusal}"));
                        }
                    }
                    None => messages.push(refusal.to_string()),
                }
            }
            Ok(outcome.points())
        }
        // The whole write failed (the WAL refuses writes, the record is too large): the
        // request gets the error's own status through the one HTTP mapping.
        Err(error) => Err(error),
    }
}

fn new_series_type(metric: &IngestMetric) -> DataType {
    match metric.points.first().map(|p| &p.1.v) {
        Some(KValue::Text(_)) => DataType::String,
        _ if metric
            .points
            .iter()
            .any(|p| matches!(p.1.v, KValue::Double(_))) =>
        {
            DataType::Double
        }
        _ => DataType::Int64,
    }
}

fn describe(v: &KValue) -> String {
    match v {
        KValue::Long(l) => format!("{l} (long)"),
        KValue::Double(d) => format!("{d} (double)"),
        KValue::Text(s) => format!("{s:?} (string)"),
        KValue::Null => "null".to_owned(),
    }
}

/// The value stored for `v` in a series of type `t`, when it fits exactly.
fn coerce(v: &KValue, t: DataType) -> Option<Value> {
    let integral = |v: &KValue| -> Option<i64> {
        match v {
            KValue::Long(l) => Some(*l),
            KValue::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Some(*d as i64),
            _ => None,
        }
    };
    Some(match t {
        DataType::Double => match v {
            KValue::Double(d) => Value::Double(*d),
            KValue::Long(l) if (*l as f64) as i64 == *l => Value::Double(*l as f64),
            _ => return None,
        },
        DataType::Float => Value::Float(v.as_f64()? as f32),
        DataType::Int64 => Value::Int64(integral(v)?),
        DataType::Int32 => Value::Int32(i32::try_from(integral(v)?).ok()?),
        DataType::Uint32 => Value::Uint32(u32::try_from(integral(v)?).ok()?),
        DataType::Uint64 => Value::Uint64(u64::try_from(integral(v)?).ok()?),
        DataType::Bool => match integral(v)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return None,
        },
        DataType::String => match v {
            KValue::Text(s) => Value::String(s.clone()),
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sextant_storage::{Db, DbConfig};

    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    fn metrics(body: &str) -> Vec<IngestMetric> {
        let ingest = sextant_kairos::ingest::parse(body.as_bytes()).unwrap();
        assert!(ingest.errors.is_empty(), "{:?}", ingest.errors);
        ingest.metrics
    }

    #[test]
    fn refused_series_are_named_per_metric_object_and_the_rest_stored_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = DbConfig::default();
        config.head.out_of_order_window = Duration::from_secs(3600);
        config.parts.flush_interval = None;
        config.parts.flush_idle = None;
        config.parts.flush_head_bytes = usize::MAX;
        let db = Db::open(dir.path(), config).unwrap();
        let org = OrgId(1);
        let mut messages = Vec::new();
        let first = format!(
            r#"[{{"name": "late", "tags": {{"h": "1"}}, "datapoints": [[{}, 1]]}},
                {{"name": "ints", "tags": {{"h": "1"}}, "datapoints": [[0, 1]]}}]"#,
            10 * HOUR_MS
        );
        assert_eq!(
            store_metrics(&db, org, metrics(&first), &mut messages).unwrap(),
            2
        );
        assert!(messages.is_empty(), "{messages:?}");
        let seq = db.wal().durable_seq();

        // `late{h="1"}` is older than the window behind its newest point; every point of
        // `ints{h="1"}` is refused before the store, which leaves it nothing to write.
        let body = r#"[
            {"name": "late", "tags": {"h": "1"}, "datapoints": [[0, 2]]},
            {"name": "fine", "tags": {"h": "1"}, "datapoints": [[0, 3], [1, 4]]},
            {"name": "late", "tags": {"h": "1"}, "timestamp": 1, "value": 5},
            {"name": "ints", "tags": {"h": "1"}, "datapoints": [[2, "x"]]}
        ]"#;
        let stored = store_metrics(&db, org, metrics(body), &mut messages).unwrap();

        assert_eq!(stored, 2, "{messages:?}");
        assert_eq!(db.wal().durable_seq(), seq + 1);
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(
            messages[0].starts_with(
                r#"metric[3](name=ints).datapoints[0] value "x" (string) cannot be stored"#
            ),
            "{messages:?}"
        );
        for (message, source) in messages[1..].iter().zip(["metric[0]", "metric[2]"]) {
            assert!(
                message.starts_with(&format!(
                    r#"{source}(name=late): point at 0 of series late{{h="1"}} is too old"#
                )),
                "{message}"
            );
        }
        let fine = SeriesKey::new("fine", [("h", "1")]).unwrap();
        assert_eq!(db.read(org, &fine, i64::MIN..i64::MAX).unwrap().len(), 2);
        let late = SeriesKey::new("late", [("h", "1")]).unwrap();
        assert_eq!(db.read(org, &late, i64::MIN..i64::MAX).unwrap().len(), 1);
    }
}
