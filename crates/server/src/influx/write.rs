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
//! 204 when every line was stored, else 400 naming each rejected line. The body is parsed once
//! and written in one store write under [`WritePolicy::StoreTheRest`]: the lines of a series
//! the store refuses (it already has another type, a point is older than a configured
//! out-of-order window, it would pass the organization's series limit) are rejected with the
//! store's reason, and the other series are stored together.
//! Bodies may be gzip-compressed (`Content-Encoding: gzip`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sextant_model::{DataType, Point, SeriesKey, Timestamp, Value, WriteBatch};
use sextant_storage::{Refusal, WritePolicy};

use super::parser::{FieldValue, LineError, Lines};
use crate::auth::{Action, Principal, authorize};
use crate::error::{ErrorReply, HttpError, json_body};
use crate::key_cache::KeyCache;
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
    body: Body,
) -> Response {
    write(state, principal, params, headers, body, Dialect::V1).await
}

/// `POST /api/v2/write`.
pub async fn write_v2(
    state: State<AppState>,
    principal: Extension<Principal>,
    params: Query<WriteParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    write(state, principal, params, headers, body, Dialect::V2).await
}

async fn write(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<WriteParams>,
    headers: HeaderMap,
    body: Body,
    dialect: Dialect,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::WritePoints) {
        return reply(dialect, denied);
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let now = state.clock.now();
    let org = org_number(&principal.organization_id);
    let budget = state.decode_budget.clone();
    // The body's share of the decode budget, taken as it arrives and held until its write
    // is done.
    let (body, mut share) = match crate::body::receive(&budget, body, MAX_BODY_BYTES).await {
        Ok(received) => received,
        Err(error) => return reply(dialect, error),
    };

    // Decompressing and parsing are CPU work: off the I/O threads.
    let precision = params.precision;
    let decoded = tokio::task::spawn_blocking(move || {
        let plain = crate::body::inflate(&budget, &mut share, &body, gzip, MAX_BODY_BYTES)?;
        decode_body(&plain, false, precision.as_deref(), org, now)
            .map(|decoded| (decoded, share))
            .map_err(HttpError::invalid)
    })
    .await;
    let (mut parsed, _share) = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(error)) => return reply(dialect, error),
        Err(_) => return internal(dialect),
    };

    // One write: the store refuses the series it cannot take (another type for life, older
    // than the window, beyond the series limit) and stores the others.
    let mut stored = 0;
    if let Some(batch) = parsed.batch.take() {
        let store = state.store.clone();
        let written =
            tokio::task::spawn_blocking(move || store.write_with(batch, WritePolicy::StoreTheRest))
                .await;
        match written {
            Ok(Ok(outcome)) => {
                if let Some(receipt) = outcome.receipt {
                    stored = receipt.points;
                    state.metrics.ingested("influx", stored);
                }
                for refusal in &outcome.refused {
                    parsed.refuse(refusal);
                }
            }
            Ok(Err(error)) => return reply(dialect, error),
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
        HttpError::invalid(format!(
            "partial write: {} stored, {count} refused: {}{more}",
            sextant_model::count(stored, "point", "points"),
            shown.join("; ")
        )),
    )
}

/// A write task that panicked or was cancelled: a bug, logged and answered generically.
fn internal(dialect: Dialect) -> Response {
    reply(
        dialect,
        HttpError::internal("a line-protocol write task failed"),
    )
}

/// Lines parsed into series, and the problems of those that did not parse.
#[derive(Debug, Default)]
struct Parsed {
    /// Each series once, in order of first appearance.
    slots: Vec<Slot>,
    /// Each stored point's slot and line, in the body's order: what names the lines of a
    /// series the store refuses (see [`lines_by_slot`]).
    origins: Vec<(u32, u32)>,
    errors: Vec<String>,
}

/// One series of a body.
#[derive(Debug)]
struct Slot {
    key: SeriesKey,
    data_type: DataType,
    points: Vec<Point>,
}

/// The lines each slot's points came from, each line once per slot, from the points' origins.
fn lines_by_slot(slots: usize, origins: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut lines: Vec<Vec<u32>> = vec![Vec::new(); slots];
    for &(slot, line) in origins {
        let Some(list) = lines.get_mut(slot as usize) else {
            continue;
        };
        if list.last() != Some(&line) {
            list.push(line);
        }
    }
    lines
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

/// Series keys by the text of a series and field (see [`build`]).
static KNOWN_KEYS: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(64 << 20));

/// The slots of one series text's fields: a list while it is short (a line has a handful of
/// fields, and comparing a few names beats hashing them), a map beyond [`FieldSlots::FEW`],
/// so that a line of 100,000 fields costs linear time, not quadratic.
#[derive(Default)]
struct FieldSlots<'a> {
    /// The first field, kept inline: a series text of one field (as with many series of one
    /// value each) costs no allocation.
    first: Option<(Cow<'a, str>, usize)>,
    /// The fields after the first, in order of appearance.
    few: Vec<(Cow<'a, str>, usize)>,
    many: FastMap<Cow<'a, str>, usize>,
}

impl<'a> FieldSlots<'a> {
    const FEW: usize = 32;

    /// The slot of `field`, the field at `position` on its line: tried first at that
    /// position, where lines written alike have it.
    fn get(&self, field: &str, position: usize) -> Option<usize> {
        if !self.many.is_empty() {
            return self.many.get(field).copied();
        }
        let at = match position {
            0 => self.first.as_ref(),
            _ => self.few.get(position - 1),
        };
        if let Some((f, slot)) = at
            && f == field
        {
            return Some(*slot);
        }
        self.first
            .iter()
            .chain(&self.few)
            .find(|(f, _)| f == field)
            .map(|&(_, slot)| slot)
    }

    fn insert(&mut self, field: Cow<'a, str>, slot: usize) {
        if self.many.is_empty() {
            if self.first.is_none() {
                self.first = Some((field, slot));
                return;
            }
            if self.few.len() + 1 < Self::FEW {
                self.few.push((field, slot));
                return;
            }
            let earlier = self.first.take().into_iter().chain(self.few.drain(..));
            self.many.extend(earlier);
        }
        self.many.insert(field, slot);
    }
}

fn build(body: &[u8], scale: i64, now: Timestamp) -> Parsed {
    let mut parsed = Parsed::default();
    // A series key is built once per series, not once per field of every line: a line's
    // measurement and tags as written are hashed once and give its fields' slots, and a line
    // whose measurement and tags were seen (with the same bytes) earlier in the body does not
    // parse its tags again; a field not seen with them before is looked up by key (tags
    // written in another order name the same series).
    //
    // The tables start with room for a series text a line (bounded, so that a body of empty
    // lines does not reserve for nothing) rather than growing as series come; lines of several
    // fields add slots beyond that.
    let lines = memchr::memchr_iter(b'\n', body).count() + 1;
    let series = lines.min(1 << 16);
    // Series texts (hashed once a line, for both the look before the tags and the entry
    // after) and their fields' slots.
    let hasher = foldhash::fast::RandomState::default();
    let mut by_text: hashbrown::HashTable<(&[u8], usize)> =
        hashbrown::HashTable::with_capacity(series);
    let mut texts: Vec<FieldSlots<'_>> = Vec::with_capacity(series);
    let mut by_key: FastMap<SeriesKey, usize> =
        FastMap::with_capacity_and_hasher(series, Default::default());
    parsed.slots.reserve(series);
    // Points are gathered in body order and handed to their slots at the end, when each
    // slot's count is known: one allocation per series instead of a vector grown point by
    // point (a request of 1,000 series of 10 points grew 3,000 vectors).
    let mut points: Vec<Point> = Vec::new();
    let mut counts: Vec<usize> = Vec::with_capacity(series);
    let mut text = Vec::new();
    let mut reader = Lines::new(body);
    loop {
        let (mut hash, mut seen) = (None, None);
        let Some((line_number, result)) = reader.next_line(|series| {
            let h = hasher.hash_one(series);
            seen = by_text.find(h, |(t, _)| *t == series).map(|&(_, at)| at);
            hash = Some(h);
            seen.is_some()
        }) else {
            break;
        };
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
                continue;
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
                    continue;
                }
            },
        };
        if points.capacity() == 0 {
            // Sized for lines like the first, up to a point.
            let expected = lines.saturating_mul(line.fields.len()).min(1 << 20);
            points.reserve(expected);
            parsed.origins.reserve(expected);
        }
        let at = match seen.filter(|_| line.tags_skipped) {
            Some(at) => at,
            None => {
                let series = line.series;
                let h = hash.unwrap_or_else(|| hasher.hash_one(series));
                let entry = by_text.entry(h, |(t, _)| *t == series, |(t, _)| hasher.hash_one(t));
                entry
                    .or_insert_with(|| {
                        texts.push(FieldSlots::default());
                        (series, texts.len() - 1)
                    })
                    .get()
                    .1
            }
        };
        let fields = &mut texts[at];
        for (position, (field, value)) in line.fields.iter().enumerate() {
            let (data_type, value) = match value {
                FieldValue::Float(v) => (DataType::Double, Value::Double(*v)),
                FieldValue::Integer(v) => (DataType::Int64, Value::Int64(*v)),
                FieldValue::Unsigned(v) => (DataType::Uint64, Value::Uint64(*v)),
                FieldValue::String(v) => (DataType::String, Value::String(v.to_string())),
                FieldValue::Boolean(v) => (DataType::Bool, Value::Bool(*v)),
            };
            let slot = match fields.get(field, position) {
                Some(slot) => slot,
                None => {
                    // The text of the series and field: the series as written, a byte no
                    // UTF-8 text has, then the field.
                    text.clear();
                    text.extend_from_slice(line.series);
                    text.push(0xff);
                    text.extend_from_slice(field.as_bytes());
                    let key = KNOWN_KEYS.get_or_make(&text, || {
                        let tags = line.series_tags().map_err(|e| e.to_string())?;
                        SeriesKey::new(
                            format!("{}.{}", line.measurement, field),
                            tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                        )
                        .map_err(|e| e.to_string())
                    });
                    let key = match key {
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
                        });
                        counts.push(0);
                        parsed.slots.len() - 1
                    });
                    fields.insert(field.clone(), slot);
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
            points.push(Point { timestamp, value });
            counts[slot] += 1;
            let line = u32::try_from(line_number).unwrap_or(u32::MAX);
            parsed.origins.push((slot as u32, line));
        }
    }
    // Every slot is made for a point it then takes, so none is empty; the counts size them.
    for (slot, count) in parsed.slots.iter_mut().zip(counts) {
        slot.points.reserve_exact(count);
    }
    for (point, &(slot, _)) in points.into_iter().zip(&parsed.origins) {
        parsed.slots[slot as usize].points.push(point);
    }
    parsed
}

/// What a body decodes to before it reaches the store: the batch of its series and the
/// problems of the lines that were refused, with what it takes to name the lines of a series
/// the store refuses later.
#[derive(Debug)]
pub struct DecodedBody {
    /// The batch of every series, validated; `None` when no line gave a point.
    pub batch: Option<sextant_model::ValidatedBatch>,
    /// A message per refused line or point, naming the line.
    pub errors: Vec<String>,
    /// The series, in batch order (the points moved into the batch).
    slots: Vec<Slot>,
    /// Each point's slot and line, for naming the lines of refused series.
    origins: Vec<(u32, u32)>,
    /// The lines of each slot, worked out at the first refusal.
    lines: Option<Vec<Vec<u32>>>,
}

impl DecodedBody {
    /// Adds the store's refusal of a series, once per line it came from. The batch's series
    /// are the slots, in order, each once, so the refusal's index finds its slot.
    fn refuse(&mut self, refusal: &Refusal) {
        let slot = match self.slots.get(refusal.index) {
            Some(slot) if slot.key == refusal.key => Some(refusal.index),
            _ => self.slots.iter().position(|slot| slot.key == refusal.key),
        };
        match slot {
            Some(slot) => {
                let (slots, origins) = (self.slots.len(), &self.origins);
                let lines = self
                    .lines
                    .get_or_insert_with(|| lines_by_slot(slots, origins));
                for line in &lines[slot] {
                    self.errors.push(format!("line {line}: {refusal}"));
                }
            }
            None => self.errors.push(refusal.to_string()),
        }
    }
}

/// The pure part of a write, the line-protocol decoder: a body, gzip-compressed or not, with
/// the `precision` parameter, decoded and validated into a batch for `org`. Points without a
/// timestamp get `now`. Fails as a whole only when the body cannot be decompressed, the
/// precision is unknown or the batch is invalid; bad lines are reported in
/// [`DecodedBody::errors`]. The handlers and the fuzz targets both call it.
pub fn decode_body(
    body: &[u8],
    gzip: bool,
    precision: Option<&str>,
    org: sextant_model::OrgId,
    now: Timestamp,
) -> Result<DecodedBody, String> {
    let scale = precision_scale(precision)?;
    let body = if gzip {
        std::borrow::Cow::Owned(
            crate::body::gunzip(body, MAX_BODY_BYTES).map_err(|e| e.to_string())?,
        )
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    let mut parsed = build(&body, scale, now);
    let batch = if parsed.slots.is_empty() {
        None
    } else {
        Some(parsed.take_batch(org).map_err(|e| e.to_string())?)
    };
    Ok(DecodedBody {
        batch,
        errors: parsed.errors,
        slots: parsed.slots,
        origins: parsed.origins,
        lines: None,
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

/// An error in the dialect's shape; the status and what is shown come from the one HTTP
/// mapping ([`HttpError`]).
/// An error in the reply shape of `dialect`.
pub(crate) fn reply(dialect: Dialect, error: impl Into<HttpError>) -> Response {
    error.into().respond(|reply| match dialect {
        Dialect::V1 => json_body(&serde_json::json!({ "error": reply.message() })),
        Dialect::V2 => json_body(&serde_json::json!({
            "code": v2_code(reply),
            "message": reply.message(),
        })),
    })
}

/// InfluxDB 2's `code` for a reply (its `influxdb/kit/platform/errors` names).
fn v2_code(reply: &ErrorReply) -> &'static str {
    use sextant_model::ErrorKind;
    match reply.kind {
        ErrorKind::InvalidInput => "invalid",
        ErrorKind::NotFound => "not found",
        ErrorKind::AlreadyExists => "conflict",
        ErrorKind::Unauthenticated => "unauthorized",
        ErrorKind::PermissionDenied => "forbidden",
        ErrorKind::LimitExceeded => "too many requests",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Internal => "internal error",
    }
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
        let at = parsed.slots.iter().position(|s| s.key == user).unwrap();
        assert_eq!(
            lines_by_slot(parsed.slots.len(), &parsed.origins)[at],
            [1, 3]
        );
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

    /// A line of many fields, past the point where a series' fields are kept in a map, and
    /// fields repeated on a later line, in both forms: every field finds its own series.
    #[test]
    fn wide_lines_give_every_field_its_series() {
        let fields: Vec<String> = (0..100).map(|i| format!("f{i}={i}i")).collect();
        let body = format!(
            "wide,host=a {} 1\nwide,host=a f99=7i,f3=8i,f0=9i 2\n",
            fields.join(",")
        );
        let parsed = build(body.as_bytes(), 1, 0);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.slots.len(), 100);
        for (field, want) in [("f0", [0, 9]), ("f3", [3, 8]), ("f99", [99, 7])] {
            let key = SeriesKey::new(format!("wide.{field}"), [("host", "a")]).unwrap();
            let values: Vec<Value> = parsed
                .slot(&key)
                .points
                .iter()
                .map(|p| p.value.clone())
                .collect();
            assert_eq!(values, want.map(Value::Int64), "{field}");
        }
        let f50 = SeriesKey::new("wide.f50", [("host", "a")]).unwrap();
        assert_eq!(parsed.slot(&f50).points.len(), 1);
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
