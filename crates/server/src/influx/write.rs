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
//! already has another type, or is older than a configured out-of-order window, is rejected
//! too).
//! Bodies may be gzip-compressed (`Content-Encoding: gzip`).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{LazyLock, Mutex};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sextant_model::{DataType, Point, SeriesKey, SeriesKeyError, Timestamp, Value, WriteBatch};

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
    let decoded = tokio::task::spawn_blocking(move || {
        let body = if gzip { gunzip(&body)? } else { body.to_vec() };
        let parsed = build(&body, scale, now);
        Ok::<_, String>((body, parsed))
    })
    .await;
    let (body, mut parsed) = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(message)) => return reply(dialect, StatusCode::BAD_REQUEST, "invalid", message),
        Err(_) => {
            let message = "the body could not be read".to_owned();
            return reply(dialect, StatusCode::BAD_REQUEST, "invalid", message);
        }
    };

    // The common case: every series is accepted, and the points move into the batch.
    let mut stored = 0;
    if !parsed.slots.is_empty() {
        let batch = match parsed.take_batch(org) {
            Ok(batch) => batch,
            Err(e) => return reply(dialect, StatusCode::BAD_REQUEST, "invalid", e.to_string()),
        };
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.write(batch)).await {
            Ok(Ok(receipt)) => {
                stored = receipt.points;
                state.metrics.ingested("influx", stored);
            }
            Ok(Err(error)) if refused_series(&error).is_some() => {
                // Some series are refused (another type for life, older than the window):
                // parse again and store the others, setting the refused ones aside with their
                // lines, one at a time.
                parsed = match tokio::task::spawn_blocking(move || build(&body, scale, now)).await {
                    Ok(parsed) => parsed,
                    Err(_) => return internal(dialect),
                };
                match write_accepted(&state, org, &mut parsed, dialect).await {
                    Ok(n) => stored = n,
                    Err(response) => return response,
                }
            }
            Ok(Err(error)) => {
                let status = crate::error::http_status(error.kind());
                return reply(dialect, status, "internal error", error.to_string());
            }
            Err(_) => return internal(dialect),
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

/// Writes the series of `parsed` that the store accepts, moving each refused one, with its
/// lines, to the errors; returns the points stored.
async fn write_accepted(
    state: &AppState,
    org: sextant_model::OrgId,
    parsed: &mut Parsed,
    dialect: Dialect,
) -> Result<usize, Response> {
    while !parsed.slots.is_empty() {
        let mut batch = WriteBatch::new(org);
        for slot in &parsed.slots {
            batch.push(slot.key.clone(), slot.data_type, slot.points.clone());
        }
        let batch = batch
            .validate()
            .map_err(|e| reply(dialect, StatusCode::BAD_REQUEST, "invalid", e.to_string()))?;
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.write(batch)).await {
            Ok(Ok(receipt)) => {
                state.metrics.ingested("influx", receipt.points);
                return Ok(receipt.points);
            }
            Ok(Err(error)) => {
                let refused = refused_series(&error).and_then(|s| {
                    parsed
                        .slots
                        .iter()
                        .position(|slot| slot.key.to_string() == s)
                });
                let Some(at) = refused else {
                    let status = crate::error::http_status(error.kind());
                    return Err(reply(dialect, status, "internal error", error.to_string()));
                };
                let slot = parsed.slots.swap_remove(at);
                for line in slot.lines {
                    parsed.errors.push(format!("line {line}: {error}"));
                }
            }
            Err(_) => return Err(internal(dialect)),
        }
    }
    Ok(0)
}

fn internal(dialect: Dialect) -> Response {
    reply(
        dialect,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        "the write failed".to_owned(),
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
    /// Each series once, in order of first appearance.
    slots: Vec<Slot>,
    errors: Vec<String>,
}

/// One series of a body.
#[derive(Debug)]
struct Slot {
    key: SeriesKey,
    data_type: DataType,
    points: Vec<Point>,
    /// The lines its points came from, each once.
    lines: Vec<usize>,
}

impl Parsed {
    /// A batch of every series, the points moved out of the slots.
    fn take_batch(
        &mut self,
        org: sextant_model::OrgId,
    ) -> Result<sextant_model::ValidatedBatch, sextant_model::BatchError> {
        let mut batch = WriteBatch::new(org);
        for slot in &mut self.slots {
            batch.push(
                slot.key.clone(),
                slot.data_type,
                std::mem::take(&mut slot.points),
            );
        }
        batch.validate()
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Appends `bytes` to `out` with its length first, so that concatenations are unambiguous.
fn push_part(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The series keys of recent bodies by their text (see [`build`]), so that a series sent again
/// costs a lookup rather than building its key. Shared by every request: the mapping is a pure
/// function of the text. Emptied when it holds [`KNOWN_KEYS_BYTES`] of text.
static KNOWN_KEYS: LazyLock<Mutex<KnownKeys>> = LazyLock::new(Mutex::default);

/// The most text the key cache holds before it starts over.
const KNOWN_KEYS_BYTES: usize = 64 << 20;

#[derive(Default)]
struct KnownKeys {
    keys: FastMap<Box<[u8]>, SeriesKey>,
    bytes: usize,
}

/// The key of the series whose text is `text`, from the cache or from `make`.
fn known_key(
    text: &[u8],
    make: impl FnOnce() -> Result<SeriesKey, SeriesKeyError>,
) -> Result<SeriesKey, SeriesKeyError> {
    if let Some(key) = KNOWN_KEYS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys
        .get(text)
    {
        return Ok(key.clone());
    }
    let key = make()?;
    let mut known = KNOWN_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if known.bytes + text.len() > KNOWN_KEYS_BYTES {
        known.keys.clear();
        known.bytes = 0;
    }
    known.bytes += text.len() + key.heap_size();
    known.keys.insert(text.into(), key.clone());
    Ok(key)
}

fn build(body: &[u8], scale: i64, now: Timestamp) -> Parsed {
    let mut parsed = Parsed::default();
    // A series key is built once per series, not once per field of every line: a line's
    // measurement and tags as written are hashed once and give its fields' slots; a field not
    // seen with them before is looked up by key (tags written in another order name the same
    // series).
    let mut by_text: FastMap<Vec<u8>, Vec<(Box<str>, usize)>> = FastMap::default();
    let mut by_key: FastMap<SeriesKey, usize> = FastMap::default();
    let mut text = Vec::new();
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
        text.clear();
        push_part(&mut text, line.measurement.as_bytes());
        for (k, v) in &line.tags {
            push_part(&mut text, k.as_bytes());
            push_part(&mut text, v.as_bytes());
        }
        let series_text = text.len();
        let fields = match by_text.get_mut(text.as_slice()) {
            Some(fields) => fields,
            None => by_text.entry(text.clone()).or_default(),
        };
        for (field, value) in &line.fields {
            let (data_type, value) = match value {
                FieldValue::Float(v) => (DataType::Double, Value::Double(*v)),
                FieldValue::Integer(v) => (DataType::Int64, Value::Int64(*v)),
                FieldValue::Unsigned(v) => (DataType::Uint64, Value::Uint64(*v)),
                FieldValue::String(v) => (DataType::String, Value::String(v.to_string())),
                FieldValue::Boolean(v) => (DataType::Bool, Value::Bool(*v)),
            };
            let known = fields.iter().find(|(f, _)| **f == **field);
            let slot = match known {
                Some(&(_, slot)) => slot,
                None => {
                    text.truncate(series_text);
                    text.push(0xff);
                    push_part(&mut text, field.as_bytes());
                    let key = match known_key(&text, || {
                        SeriesKey::new(
                            format!("{}.{}", line.measurement, field),
                            line.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                        )
                    }) {
                        Ok(key) => key,
                        Err(e) => {
                            parsed.errors.push(format!("line {line_number}: {e}"));
                            continue;
                        }
                    };
                    let slot = *by_key.entry(key).or_insert_with_key(|key| {
                        parsed.slots.push(Slot {
                            key: key.clone(),
                            data_type,
                            points: Vec::new(),
                            lines: Vec::new(),
                        });
                        parsed.slots.len() - 1
                    });
                    fields.push((field.as_ref().into(), slot));
                    slot
                }
            };
            let entry = &mut parsed.slots[slot];
            if entry.data_type != data_type {
                parsed.errors.push(format!(
                    "line {line_number}: field `{field}` is {data_type} here but {} earlier in the body",
                    entry.data_type
                ));
                continue;
            }
            entry.points.push(Point { timestamp, value });
            if entry.lines.last() != Some(&line_number) {
                entry.lines.push(line_number);
            }
        }
    });
    // A series whose every point was refused within the body has no slot content.
    parsed.slots.retain(|slot| !slot.points.is_empty());
    parsed
}

/// What a body decodes to before it reaches the store: the series it holds and the problems
/// of the lines that were refused.
#[derive(Debug)]
pub struct DecodedBody {
    /// The batch of every series, validated; `None` when no line gave a point.
    pub batch: Option<sextant_model::ValidatedBatch>,
    /// A message per refused line or point, naming the line.
    pub errors: Vec<String>,
}

/// The pure part of a write: a body, gzip-compressed or not, with the `precision` parameter,
/// decoded and validated into a batch for `org`, as the handlers do before storing it. Points
/// without a timestamp get `now`. Fails as a whole only when the body cannot be decompressed,
/// the precision is unknown or the batch is invalid; bad lines are reported in
/// [`DecodedBody::errors`]. Used by the fuzz targets.
#[doc(hidden)]
pub fn decode_body(
    body: &[u8],
    gzip: bool,
    precision: Option<&str>,
    org: sextant_model::OrgId,
    now: Timestamp,
) -> Result<DecodedBody, String> {
    let scale = precision_scale(precision)?;
    let body = if gzip { gunzip(body)? } else { body.to_vec() };
    let mut parsed = build(&body, scale, now);
    let batch = if parsed.slots.is_empty() {
        None
    } else {
        Some(parsed.take_batch(org).map_err(|e| e.to_string())?)
    };
    Ok(DecodedBody {
        batch,
        errors: parsed.errors,
    })
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

    impl Parsed {
        fn slot(&self, key: &SeriesKey) -> &Slot {
            self.slots.iter().find(|s| &s.key == key).unwrap()
        }
    }

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
        let slot = parsed.slot(&user);
        assert_eq!(slot.data_type, DataType::Double);
        assert_eq!(
            slot.points.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            [1_700_000_000_000_000_000, 1_700_000_010_000_000_000]
        );
        assert_eq!(slot.lines, &[1, 3]);
        assert_eq!(parsed.slot(&system).data_type, DataType::Int64);
        // Tags in another order name the same series.
        let reordered = build(b"m,a=1,b=2 v=1 1\nm,b=2,a=1 v=2 2\n", 1, 0);
        assert_eq!(reordered.slots.len(), 1);
        assert_eq!(reordered.slots[0].points.len(), 2);
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
        assert_eq!(parsed.slot(&key).points[0].timestamp, 42);
        assert_eq!(
            parsed.errors,
            ["line 2: timestamp 9223372036854775807 is outside the range Sextant stores"]
        );
    }
}
