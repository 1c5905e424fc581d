//! The write handlers: `POST /write` (InfluxDB 1.x: `db`, `precision`) and
//! `POST /api/v2/write` (InfluxDB 2.x: `org`, `bucket`, `precision`).
//!
//! Each field of a line becomes a point of the series `<measurement>.<field>`, labelled with
//! the line's tags: `cpu,host=h7 usage_user=12.5` is `cpu.usage_user{host="h7"}`, the same
//! series KairosDB and native queries see. The database, bucket and org parameters are
//! accepted and ignored: data belongs to the API key's organization. Floats are stored as
//! double, `i` integers as int64, `u` integers as uint64, strings and booleans as themselves.
//!
//! As in InfluxDB, the lines that parse are stored and the others are reported: the reply is
//! 204 when every line was stored, else 400 naming each rejected line (a line whose series
//! already has another type, or is older than the out-of-order window, is rejected too).
//! Bodies may be gzip-compressed (`Content-Encoding: gzip`).

use std::collections::HashMap;
use std::io::Read;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sextant_model::{DataType, Point, SeriesKey, Timestamp, Value, WriteBatch};

use super::parser::{FieldValue, LineError, parse_lines};
use crate::auth::{Principal, Scope};
use crate::state::{AppState, org_number};

/// The largest body accepted, after decompression.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// Query parameters of both write endpoints.
#[derive(Debug, Deserialize, Default)]
pub struct WriteParams {
    precision: Option<String>,
}

/// Which reply shape to use.
#[derive(Debug, Clone, Copy)]
pub enum Dialect {
    /// `{"error": "..."}`.
    V1,
    /// `{"code": "invalid", "message": "..."}`.
    V2,
}

/// `POST /write`.
pub async fn write_v1(
    state: State<AppState>,
    principal: Extension<Principal>,
    params: Query<WriteParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(state, principal, params, headers, body, Dialect::V1).await
}

/// `POST /api/v2/write`.
pub async fn write_v2(
    state: State<AppState>,
    principal: Extension<Principal>,
    params: Query<WriteParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(state, principal, params, headers, body, Dialect::V2).await
}

async fn write(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<WriteParams>,
    headers: HeaderMap,
    body: Bytes,
    dialect: Dialect,
) -> Response {
    if !principal.scope.allows(Scope::Ingest) {
        return reply(
            dialect,
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this {} key may not write", principal.scope),
        );
    }
    let scale = match precision_scale(params.precision.as_deref()) {
        Ok(scale) => scale,
        Err(message) => return reply(dialect, StatusCode::BAD_REQUEST, "invalid", message),
    };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let now = now_ns();
    let org = org_number(&principal.organization_id);

    // Decompressing and parsing are CPU work: off the I/O threads.
    let parsed = tokio::task::spawn_blocking(move || {
        let body = if gzip { gunzip(&body)? } else { body.to_vec() };
        Ok::<_, String>(build(&body, scale, now))
    })
    .await;
    let Ok(Ok(mut parsed)) = parsed else {
        let message = match parsed {
            Ok(Err(message)) => message,
            _ => "the body could not be read".to_owned(),
        };
        return reply(dialect, StatusCode::BAD_REQUEST, "invalid", message);
    };

    // Series the store refuses (another type for life, older than the window) are set aside
    // with their lines; the rest is written.
    let mut stored = 0;
    while !parsed.series.is_empty() {
        let mut batch = WriteBatch::new(org);
        for (key, (data_type, points, _)) in &parsed.series {
            batch.push(key.clone(), *data_type, points.clone());
        }
        let batch = match batch.validate() {
            Ok(batch) => batch,
            Err(e) => return reply(dialect, StatusCode::BAD_REQUEST, "invalid", e.to_string()),
        };
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.write(batch)).await {
            Ok(Ok(receipt)) => {
                stored = receipt.points;
                state.metrics.ingested("influx", stored);
                break;
            }
            Ok(Err(error)) => {
                let refused = refused_series(&error);
                match refused.and_then(|s| {
                    parsed
                        .series
                        .iter()
                        .find(|(k, _)| k.to_string() == s)
                        .map(|(k, _)| k.clone())
                }) {
                    Some(key) => {
                        let lines = parsed
                            .series
                            .remove(&key)
                            .map(|(_, _, lines)| lines)
                            .unwrap_or_default();
                        for line in lines {
                            parsed.errors.push(format!("line {line}: {error}"));
                        }
                    }
                    None => {
                        let status = crate::error::http_status(error.kind());
                        return reply(dialect, status, "internal error", error.to_string());
                    }
                }
            }
            Err(_) => {
                return reply(
                    dialect,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    "the write failed".to_owned(),
                );
            }
        }
    }
    if parsed.errors.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let count = parsed.errors.len();
    let shown: Vec<&str> = parsed.errors.iter().take(100).map(String::as_str).collect();
    let more = if count > shown.len() {
        format!("; and {} more", count - shown.len())
    } else {
        String::new()
    };
    reply(
        dialect,
        StatusCode::BAD_REQUEST,
        "invalid",
        format!(
            "partial write: {stored} points stored, {count} lines or points rejected: {}{more}",
            shown.join("; ")
        ),
    )
}

/// The series name of a storage error that refuses one series, if it is such an error.
fn refused_series(error: &sextant_storage::Error) -> Option<String> {
    match error {
        sextant_storage::Error::SeriesTypeConflict { series, .. }
        | sextant_storage::Error::TooOld { series, .. } => Some(series.clone()),
        _ => None,
    }
}

/// Lines parsed into series, and the problems of those that did not parse.
#[derive(Debug, Default)]
struct Parsed {
    /// Each series: its type, its points, and the lines they came from.
    series: HashMap<SeriesKey, (DataType, Vec<Point>, Vec<usize>)>,
    errors: Vec<String>,
}

fn build(body: &[u8], scale: i64, now: Timestamp) -> Parsed {
    let mut parsed = Parsed::default();
    parse_lines(body, |line_number, result| {
        let line = match result {
            Ok(line) => line,
            Err(LineError {
                line,
                column,
                message,
            }) => {
                parsed
                    .errors
                    .push(format!("line {line}, column {column}: {message}"));
                return;
            }
        };
        let timestamp = match line.timestamp {
            None => now,
            Some(t) => match t.checked_mul(scale) {
                Some(t) => t,
                None => {
                    parsed.errors.push(format!(
                        "line {line_number}: timestamp {t} is outside the range Sextant stores"
                    ));
                    return;
                }
            },
        };
        for (field, value) in &line.fields {
            let (data_type, value) = match value {
                FieldValue::Float(v) => (DataType::Double, Value::Double(*v)),
                FieldValue::Integer(v) => (DataType::Int64, Value::Int64(*v)),
                FieldValue::Unsigned(v) => (DataType::Uint64, Value::Uint64(*v)),
                FieldValue::String(v) => (DataType::String, Value::String(v.to_string())),
                FieldValue::Boolean(v) => (DataType::Bool, Value::Bool(*v)),
            };
            let key = match SeriesKey::new(
                format!("{}.{}", line.measurement, field),
                line.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            ) {
                Ok(key) => key,
                Err(e) => {
                    parsed.errors.push(format!("line {line_number}: {e}"));
                    continue;
                }
            };
            let entry = parsed
                .series
                .entry(key)
                .or_insert_with(|| (data_type, Vec::new(), Vec::new()));
            if entry.0 != data_type {
                parsed.errors.push(format!(
                    "line {line_number}: field `{field}` is {data_type} here but {} earlier in the body",
                    entry.0
                ));
                continue;
            }
            entry.1.push(Point { timestamp, value });
            if entry.2.last() != Some(&line_number) {
                entry.2.push(line_number);
            }
        }
    });
    parsed
}

/// Nanoseconds per unit of the `precision` parameter.
fn precision_scale(precision: Option<&str>) -> Result<i64, String> {
    Ok(match precision.unwrap_or("ns") {
        "ns" | "n" => 1,
        "us" | "u" | "µ" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(format!(
                "unknown precision {other:?}: expected ns, us (or u), ms, s, m or h"
            ));
        }
    })
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be decompressed: {e}"))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body decompresses to more than {MAX_BODY_BYTES} bytes; send smaller requests"
        ));
    }
    Ok(out)
}

fn now_ns() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn reply(dialect: Dialect, status: StatusCode, code: &str, message: String) -> Response {
    let body = match dialect {
        Dialect::V1 => serde_json::json!({ "error": message }),
        Dialect::V2 => serde_json::json!({ "code": code, "message": message }),
    };
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_series_per_field_with_precision_applied() {
        let body = b"cpu,host=h7 usage_user=12.5,usage_system=3i 1700000000\n\
                     # a comment\n\
                     cpu,host=h7 usage_user=13 1700000010\n\
                     cpu,host=h7 usage_user=oops 1700000020\n\
                     cpu,host=h7 usage_system=4.5 1700000030\n";
        let parsed = build(body, 1_000_000_000, 0);
        let user = SeriesKey::new("cpu.usage_user", [("host", "h7")]).unwrap();
        let system = SeriesKey::new("cpu.usage_system", [("host", "h7")]).unwrap();
        let (t, points, lines) = &parsed.series[&user];
        assert_eq!(*t, DataType::Double);
        assert_eq!(
            points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            [1_700_000_000_000_000_000, 1_700_000_010_000_000_000]
        );
        assert_eq!(lines, &[1, 3]);
        assert_eq!(parsed.series[&system].0, DataType::Int64);
        assert_eq!(
            parsed.errors,
            [
                "line 4, column 24: field `usage_user` has a value that is not a number, string or boolean: `oops`",
                "line 5: field `usage_system` is double here but int64 earlier in the body",
            ]
        );
    }

    #[test]
    fn precisions_scale_to_nanoseconds() {
        for (p, scale) in [
            (None, 1),
            (Some("ns"), 1),
            (Some("u"), 1_000),
            (Some("us"), 1_000),
            (Some("ms"), 1_000_000),
            (Some("s"), 1_000_000_000),
            (Some("h"), 3_600_000_000_000),
        ] {
            assert_eq!(precision_scale(p), Ok(scale), "{p:?}");
        }
        assert!(
            precision_scale(Some("d"))
                .unwrap_err()
                .contains("unknown precision \"d\"")
        );
    }

    #[test]
    fn lines_without_timestamps_take_the_server_time_and_overflow_is_refused() {
        let parsed = build(b"m v=1\nm v=2 9223372036854775807\n", 1_000, 42);
        let key = SeriesKey::bare("m.v").unwrap();
        assert_eq!(parsed.series[&key].1[0].timestamp, 42);
        assert_eq!(
            parsed.errors,
            ["line 2: timestamp 9223372036854775807 is outside the range Sextant stores"]
        );
    }
}
