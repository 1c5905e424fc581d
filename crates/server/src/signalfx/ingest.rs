//! `POST /v2/datapoint` and `POST /v2/event`: the glue between `sextant-signalfx`'s decoders
//! and the store and catalog.
//!
//! A datapoint of metric `m` with dimensions `d` is a point of the series `m{d...}` (name =
//! metric, labels = dimensions), so KairosDB, line-protocol and native queries read it under
//! that name. Its value keeps its type (int64, double, string); its metric type is the
//! metric's metadata, fixed by the metric's first point. New MTS are registered in the catalog
//! before their points are written; points of known MTS touch only the in-memory index.
//!
//! A bad point is refused alone and the rest is stored (the client never shows errors): the
//! refusal is logged with the key's name, the metric, the dimensions and the reason, and
//! counted in `/metrics` (`sextant_refused_points_total{protocol="signalfx"}`). The reply is
//! 200 with the JSON body `"OK"` once what was accepted is durable; only a body that cannot
//! be read at all is answered 400.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use sextant_catalog::{SfxEvent, SfxNewMts, SfxPropertyValue};
use sextant_model::{DataType, Point, SeriesKey, SeriesKeyError, Value, WriteBatch};
use sextant_signalfx::fast::{self, PointRef, ValueRef};
use sextant_signalfx::{MetricType, PointValue, PropertyValue, datapoint, event};
use sextant_storage::WritePolicy;

use super::index::{OrgData, mts_id};
use super::{ok, reply_error};
use crate::auth::{Action, Principal, authorize};
use crate::error::HttpError;
use crate::key_cache::KeyCache;
use crate::state::{AppState, org_number};

/// How many refusals of one request are logged one by one.
const LOGGED_REFUSALS: usize = 20;

/// The largest body accepted, after decompression.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// The body's encoding, from `Content-Type` (or its first byte when the type says neither).
fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.contains("json") {
        return true;
    }
    if content_type.contains("protobuf") {
        return false;
    }
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// Whether the body says `Content-Encoding: gzip`.
fn is_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"))
}

/// One refused point, for the log and the counter.
struct Refused {
    metric: String,
    dimensions: String,
    reason: String,
    class: &'static str,
    /// How many points it stands for.
    count: usize,
}

fn describe<'a>(dimensions: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = dimensions
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// A series' dimensions (its labels, sorted by key) as the log shows them.
fn describe_labels(key: &SeriesKey) -> String {
    describe(key.labels().iter().map(|l| (l.name, l.value)))
}

/// One series of a request: its metric is the key's name, its dimensions the key's labels.
struct Slot {
    key: SeriesKey,
    metric_type: MetricType,
    data_type: DataType,
    points: Vec<Point>,
}

/// `POST /v2/datapoint`.
pub async fn datapoint(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match store_datapoints(&state, &principal, &headers, body).await {
        Ok(()) => ok(),
        Err(error) => reply_error(error),
    }
}

async fn store_datapoints(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), HttpError> {
    authorize(principal, Action::WritePoints)?;
    let budget = state.decode_budget.clone();
    // The body's share of the decode budget, taken as it arrives and held until its write
    // is done.
    let (body, mut share) = crate::body::receive(&budget, body, MAX_BODY_BYTES).await?;
    let now = state.clock.now();
    let json = is_json(headers, &body);
    let headers = headers.clone();
    let index = state
        .signalfx
        .org(state, &principal.organization_id)
        .await?;
    let read_index = index.clone();
    // Inflating, decoding and sorting points into series are CPU work: off the I/O threads.
    let (collected, _share) = tokio::task::spawn_blocking(move || {
        let body = crate::body::inflate(
            &budget,
            &mut share,
            &body,
            is_gzip(&headers),
            MAX_BODY_BYTES,
        )?;
        let data = read_index.data.read();
        let mut collector = Collector::new(&data, now);
        if json {
            let decoded = datapoint::decode_json(&body).map_err(HttpError::invalid)?;
            for bad in decoded.refused {
                let dimensions = describe(bad.dimensions.iter().map(|(k, v)| (&**k, &**v)));
                collector.refuse_decoded(bad.index, bad.metric.as_deref(), dimensions, &bad.reason);
            }
            let mut dims: Vec<(&str, &str)> = Vec::new();
            for point in &decoded.points {
                dims.clear();
                dims.extend(
                    point
                        .dimensions
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                );
                let value = match &point.value {
                    PointValue::Int(v) => ValueRef::Int(*v),
                    PointValue::Double(v) => ValueRef::Double(*v),
                    PointValue::Str(v) => ValueRef::Str(v),
                };
                collector.point(
                    PointRef {
                        metric: &point.metric,
                        dimensions: &dims,
                        timestamp_ms: point.timestamp_ms,
                        value,
                        metric_type: point.metric_type,
                    },
                    Series::Parts,
                );
            }
        } else {
            let mut scratch = fast::Scratch::default();
            // The texts this request has asked about: the shared cache is locked once each.
            let mut asked: FastMap<Box<[u8]>, Option<SeriesKey>> = FastMap::default();
            let known = |text: &[u8]| {
                if let Some(found) = asked.get(text) {
                    return found.clone();
                }
                let found = TextKind::Protobuf.cache().get(text);
                asked.insert(text.into(), found.clone());
                found
            };
            fast::for_each_point_known(&body, &mut scratch, known, |point| match point {
                Ok(p) => {
                    let series = match p.known {
                        Some(key) => Series::Known(key),
                        None => Series::NewText(p.text),
                    };
                    collector.point(p.point, series)
                }
                Err(bad) => {
                    let dimensions = describe(bad.dimensions.iter().copied());
                    collector.refuse_decoded(bad.index, bad.metric, dimensions, &bad.reason)
                }
            })
            .map_err(HttpError::invalid)?;
        }
        Ok::<_, HttpError>((collector.finish(), share))
    })
    .await??;
    let Collected {
        mut slots,
        new_mts,
        mut metric_types,
        mut refused,
    } = collected;

    if has_twins(&slots) {
        settle_value_types(state, principal, &mut slots, &mut refused);
    }

    // New MTS: registered (and their metrics' types fixed) before their points are stored.
    if !new_mts.is_empty() {
        let catalog = state.catalog.clone();
        let org_id = principal.organization_id.clone();
        let creator = principal.key_id.clone();
        let registered =
            tokio::task::spawn_blocking(move || catalog.sfx_register(&org_id, &creator, &new_mts))
                .await??;
        for (metric, t) in &registered.metric_types {
            if let Some(t) = MetricType::parse(t) {
                metric_types.insert(metric.clone(), t);
            }
        }
        index.data.write().apply(registered);
    }

    // A metric keeps its type for life.
    let mut batch = WriteBatch::new(org_number(&principal.organization_id));
    let mut written: Vec<usize> = Vec::new();
    for (at, slot) in slots.iter_mut().enumerate() {
        if slot.points.is_empty() {
            continue;
        }
        if let Some(&fixed) = metric_types.get(slot.key.name())
            && fixed != slot.metric_type
        {
            refused.push(Refused {
                metric: slot.key.name().to_owned(),
                dimensions: describe_labels(&slot.key),
                reason: format!(
                    "{} points refused: metric `{}` is a {fixed} (a metric keeps the type of its first point), these are {}",
                    slot.points.len(),
                    slot.key.name(),
                    slot.metric_type
                ),
                class: "metric_type",
                count: slot.points.len(),
            });
            continue;
        }
        let mut points = std::mem::take(&mut slot.points);
        points.sort_by_key(|p| p.timestamp);
        batch.push(slot.key.clone(), slot.data_type, points);
        written.push(at);
    }

    let mut stored = 0;
    if !written.is_empty() {
        let batch = batch.validate()?;
        let counts: Vec<usize> = batch.series().iter().map(|s| s.points.len()).collect();
        let store = state.store.clone();
        let outcome =
            tokio::task::spawn_blocking(move || store.write_with(batch, WritePolicy::StoreTheRest))
                .await??;
        stored = outcome.points();
        for refusal in &outcome.refused {
            let slot = written
                .get(refusal.index)
                .map(|&at| &slots[at])
                .filter(|slot| slot.key == refusal.key);
            let (metric, dimensions) = match slot {
                Some(slot) => (slot.key.name().to_owned(), describe_labels(&slot.key)),
                None => (refusal.key.name().to_owned(), String::new()),
            };
            let n = counts.get(refusal.index).copied().unwrap_or(1);
            refused.push(Refused {
                metric,
                dimensions,
                reason: format!("{n} points refused: {refusal}"),
                class: store_class(refusal),
                count: n,
            });
        }
    }
    state.metrics.ingested("signalfx", stored);
    for (n, r) in refused.iter().enumerate() {
        // One log line per refusal, up to a few per request (a body of a million bad points
        // must not become a million log lines); the counter counts every point.
        state.metrics.refused("signalfx", r.class, r.count);
        if n < LOGGED_REFUSALS {
            tracing::warn!(
                key = %principal.key_name,
                metric = %r.metric,
                dimensions = %r.dimensions,
                reason = %r.reason,
                "SignalFx datapoint refused"
            );
        }
    }
    if refused.len() > LOGGED_REFUSALS {
        tracing::warn!(
            key = %principal.key_name,
            more = refused.len() - LOGGED_REFUSALS,
            "more SignalFx datapoints of this request refused (counted in sextant_refused_points_total, not logged)"
        );
    }
    Ok(())
}

/// Series keys by the text of recent points, so that a series sent again costs a lookup
/// rather than building its key (and, in protobuf, reading its dimensions). Only texts of good
/// points are entered. Each kind of text has a cache of its own.
static KNOWN_KEYS: LazyLock<[KeyCache; 2]> =
    LazyLock::new(|| [KeyCache::new(32 << 20), KeyCache::new(32 << 20)]);

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Which kind of text a key is cached under.
#[derive(Clone, Copy)]
enum TextKind {
    /// Metric and dimensions, each length-prefixed ([`push_part`]): JSON bodies.
    Parts,
    /// A protobuf point's `metric` and `dimensions` fields as encoded
    /// ([`fast::KnownPoint::text`]).
    Protobuf,
}

impl TextKind {
    fn cache(self) -> &'static KeyCache {
        &KNOWN_KEYS[self as usize]
    }
}

/// Where a point's series key comes from.
enum Series<'t> {
    /// Known from the point's protobuf text: the dimensions were not read.
    Known(SeriesKey),
    /// A protobuf point whose text is new: built from its dimensions and remembered.
    NewText(&'t [u8]),
    /// A JSON point: looked up by its metric and dimensions.
    Parts,
}

impl Series<'_> {
    /// The key, when it is known before the point's dimensions are read.
    fn known_key(&self) -> Option<&SeriesKey> {
        match self {
            Series::Known(key) => Some(key),
            _ => None,
        }
    }
}

/// Appends `bytes` to `out` with its length first, so that concatenations are unambiguous.
fn push_part(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// What a request's points came to: its series, the new MTS they name, the metric types
/// known, and the refusals so far.
struct Collected {
    slots: Vec<Slot>,
    new_mts: Vec<SfxNewMts>,
    metric_types: HashMap<String, MetricType>,
    refused: Vec<Refused>,
}

/// Sorts a request's points into series, one point at a time, against the organization's
/// index (read-locked for the whole request).
struct Collector<'d> {
    data: &'d OrgData,
    now: i64,
    slots: Vec<Slot>,
    /// A series' points of one value type each: when a request sends one series values of
    /// two types, the type the series already has wins (else the first sent), and the others
    /// are refused alone ([`settle_value_types`]).
    slot_of: FastMap<(SeriesKey, DataType), usize>,
    mts_seen: HashSet<SeriesKey>,
    new_mts: Vec<SfxNewMts>,
    metric_types: HashMap<String, MetricType>,
    refused: Vec<Refused>,
    /// The text of the current point: metric and dimensions, length-prefixed.
    text: Vec<u8>,
    /// Slots by the text of their points and their value type.
    local: FastMap<Box<[u8]>, usize>,
}

impl<'d> Collector<'d> {
    fn new(data: &'d OrgData, now: i64) -> Self {
        Collector {
            data,
            now,
            slots: Vec::new(),
            slot_of: FastMap::default(),
            mts_seen: HashSet::new(),
            new_mts: Vec::new(),
            metric_types: HashMap::new(),
            refused: Vec::new(),
            text: Vec::new(),
            local: FastMap::default(),
        }
    }

    fn finish(self) -> Collected {
        Collected {
            slots: self.slots,
            new_mts: self.new_mts,
            metric_types: self.metric_types,
            refused: self.refused,
        }
    }

    fn refuse_decoded(
        &mut self,
        index: usize,
        metric: Option<&str>,
        dimensions: String,
        reason: &str,
    ) {
        self.refused.push(Refused {
            metric: metric.unwrap_or_default().to_owned(),
            dimensions,
            reason: format!("point {index}: {reason}"),
            class: "invalid",
            count: 1,
        });
    }

    /// Refuses one point. `key` describes its dimensions when the point's were not read.
    fn refuse(
        &mut self,
        point: &PointRef<'_>,
        key: Option<&SeriesKey>,
        reason: String,
        class: &'static str,
    ) {
        let dimensions = match key {
            Some(key) if point.dimensions.is_empty() => describe_labels(key),
            _ => describe(point.dimensions.iter().copied()),
        };
        self.refused.push(Refused {
            metric: point.metric.to_owned(),
            dimensions,
            reason,
            class,
            count: 1,
        });
    }

    /// The series key of a JSON point whose text is in `self.text`, from the cache or built.
    fn parts_key(&mut self, point: &PointRef<'_>) -> Result<SeriesKey, SeriesKeyError> {
        if let Some(key) = TextKind::Parts.cache().get(&self.text) {
            return Ok(key);
        }
        let key = SeriesKey::new(point.metric, point.dimensions.iter().copied())?;
        TextKind::Parts.cache().insert(&self.text, &key);
        Ok(key)
    }

    fn point(&mut self, point: PointRef<'_>, series: Series<'_>) {
        let timestamp = match point.timestamp_ms {
            None => self.now,
            Some(ms) => match ms.checked_mul(1_000_000) {
                Some(ns) => ns,
                None => {
                    let reason = format!("timestamp {ms} ms is outside the range Sextant stores");
                    return self.refuse(&point, series.known_key(), reason, "invalid");
                }
            },
        };
        let metric_type = point.metric_type;
        let (data_type, value) = match point.value {
            ValueRef::Int(v) => (DataType::Int64, Value::Int64(v)),
            ValueRef::Double(v) => (DataType::Double, Value::Double(v)),
            ValueRef::Str(v) => (DataType::String, Value::String(v.to_owned())),
        };
        // A protobuf point whose series is known finds its slot by its key: one hash of eight
        // bytes and a pointer comparison.
        if let Some(key) = series.known_key()
            && let Some(&slot) = self.slot_of.get(&(key.clone(), data_type))
        {
            return self.push(slot, &point, metric_type, timestamp, value);
        }
        if !matches!(series, Series::Parts) {
            return self.new_slot(point, series, None, data_type, timestamp, value);
        }
        // A JSON point's text (metric and dimensions as sent) and value type find its slot
        // when the request has sent the same text before: one hash per point.
        self.text.clear();
        push_part(&mut self.text, point.metric.as_bytes());
        for (k, v) in point.dimensions {
            push_part(&mut self.text, k.as_bytes());
            push_part(&mut self.text, v.as_bytes());
        }
        let text_len = self.text.len();
        self.text.push(data_type as u8);
        if let Some(&slot) = self.local.get(self.text.as_slice()) {
            return self.push(slot, &point, metric_type, timestamp, value);
        }
        self.text.truncate(text_len);
        self.new_slot(
            point,
            Series::Parts,
            Some(text_len),
            data_type,
            timestamp,
            value,
        );
    }

    /// The first point of a series text in the request: checks its metric's type, finds or
    /// builds its key and finds or opens its slot. `parts_text` is the length of a JSON
    /// point's text in `self.text`.
    fn new_slot(
        &mut self,
        point: PointRef<'_>,
        series: Series<'_>,
        parts_text: Option<usize>,
        data_type: DataType,
        timestamp: i64,
        value: Value,
    ) {
        let metric_type = point.metric_type;
        // A known metric keeps its type: a point of another type is refused alone (and its
        // text is not remembered, so the next one is checked again).
        let known = self.data.metrics.get(point.metric);
        if let Some(known) = known
            && known.metric_type != metric_type.as_str()
        {
            let reason = format!(
                "metric `{}` is a {} (a metric keeps the type of its first point), this point is a {metric_type}",
                point.metric, known.metric_type
            );
            return self.refuse(&point, series.known_key(), reason, "metric_type");
        }
        let key = match series {
            Series::Known(key) => Ok(key),
            Series::NewText(text) => SeriesKey::new(point.metric, point.dimensions.iter().copied())
                .inspect(|key| {
                    TextKind::Protobuf.cache().insert(text, key);
                }),
            Series::Parts => self.parts_key(&point),
        };
        let key = match key {
            Ok(key) => key,
            Err(e) => return self.refuse(&point, None, e.to_string(), "invalid"),
        };
        let slot = match self.slot_of.get(&(key.clone(), data_type)) {
            Some(&slot) => slot,
            None => {
                if !self.data.mts_by_key.contains_key(&key) && self.mts_seen.insert(key.clone()) {
                    // The key's labels are the dimensions sorted by key.
                    let dimensions: Vec<(String, String)> = key
                        .labels()
                        .iter()
                        .map(|l| (l.name.to_owned(), l.value.to_owned()))
                        .collect();
                    self.new_mts.push(SfxNewMts {
                        id: mts_id(point.metric, &dimensions),
                        metric: point.metric.to_owned(),
                        metric_type: metric_type.as_str().to_owned(),
                        dimensions,
                    });
                }
                if let Some(known) = known
                    && !self.metric_types.contains_key(point.metric)
                    && let Some(t) = MetricType::parse(&known.metric_type)
                {
                    self.metric_types.insert(point.metric.to_owned(), t);
                }
                self.slot_of
                    .insert((key.clone(), data_type), self.slots.len());
                self.slots.push(Slot {
                    key,
                    metric_type,
                    data_type,
                    points: Vec::new(),
                });
                self.slots.len() - 1
            }
        };
        if let Some(len) = parts_text {
            self.text.truncate(len);
            self.text.push(data_type as u8);
            self.local.insert(self.text.as_slice().into(), slot);
        }
        self.push(slot, &point, metric_type, timestamp, value);
    }

    fn push(
        &mut self,
        slot: usize,
        point: &PointRef<'_>,
        metric_type: MetricType,
        timestamp: i64,
        value: Value,
    ) {
        let slot = &mut self.slots[slot];
        if slot.metric_type != metric_type {
            let reason = format!(
                "metric type {metric_type} here but {} earlier in the request",
                slot.metric_type
            );
            let key = slot.key.clone();
            return self.refuse(point, Some(&key), reason, "metric_type");
        }
        slot.points.push(Point { timestamp, value });
    }
}

/// Whether some series has points of two value types in the request.
fn has_twins(slots: &[Slot]) -> bool {
    let mut keys = HashSet::with_capacity(slots.len());
    slots.iter().any(|slot| !keys.insert(&slot.key))
}

/// For each series sent with values of several types, keeps the points of the type the series
/// already has (or, for a new series, of the first type sent) and refuses the others.
fn settle_value_types(
    state: &AppState,
    principal: &Principal,
    slots: &mut [Slot],
    refused: &mut Vec<Refused>,
) {
    let org = org_number(&principal.organization_id);
    let mut first: HashMap<SeriesKey, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (at, slot) in slots.iter().enumerate() {
        match first.get(&slot.key) {
            Some(&g) => groups[g].push(at),
            None => {
                first.insert(slot.key.clone(), groups.len());
                groups.push(vec![at]);
            }
        }
    }
    for group in groups.into_iter().filter(|g| g.len() > 1) {
        let key = &slots[group[0]].key;
        let matcher = key.labels().iter().fold(
            sextant_storage::head::SeriesMatcher::name(key.name()),
            |m, l| m.label(l.name, l.value),
        );
        let existing = state
            .store
            .series(org, &matcher)
            .into_iter()
            .find(|info| &info.key == key)
            .map(|info| info.data_type);
        let keep = existing.unwrap_or(slots[group[0]].data_type);
        for at in group {
            let slot = &mut slots[at];
            if slot.data_type != keep && !slot.points.is_empty() {
                refused.push(Refused {
                    metric: slot.key.name().to_owned(),
                    dimensions: describe_labels(&slot.key),
                    reason: format!(
                        "{} points refused: the series holds {keep} values (a series keeps one type), these are {}",
                        slot.points.len(),
                        slot.data_type
                    ),
                    class: "type_conflict",
                    count: slot.points.len(),
                });
                slot.points.clear();
            }
        }
    }
}

fn store_class(refusal: &sextant_storage::Refusal) -> &'static str {
    match refusal.error {
        sextant_storage::Error::SeriesTypeConflict { .. } => "type_conflict",
        sextant_storage::Error::TooOld { .. } => "too_old",
        sextant_storage::Error::SeriesLimit { .. } => "series_limit",
        sextant_storage::Error::SeriesKeyRefused { .. } => "series_key",
        sextant_storage::Error::TimestampOutOfRange { .. } => "timestamp_range",
        _ => "store",
    }
}

/// `POST /v2/event`.
pub async fn event(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match store_events(&state, &principal, &headers, body).await {
        Ok(()) => ok(),
        Err(error) => reply_error(error),
    }
}

async fn store_events(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), HttpError> {
    authorize(principal, Action::WritePoints)?;
    let budget = state.decode_budget.clone();
    let (body, mut share) = crate::body::receive(&budget, body, MAX_BODY_BYTES).await?;
    let now = state.clock.now();
    let json = is_json(headers, &body);
    let headers = headers.clone();
    let (decoded, _share) = tokio::task::spawn_blocking(move || {
        let body = crate::body::inflate(
            &budget,
            &mut share,
            &body,
            is_gzip(&headers),
            MAX_BODY_BYTES,
        )?;
        let decoded = if json {
            event::decode_json(&body)
        } else {
            event::decode_protobuf(&body)
        };
        decoded
            .map(|decoded| (decoded, share))
            .map_err(HttpError::invalid)
    })
    .await??;
    let mut refused: Vec<(String, String)> = decoded
        .refused
        .into_iter()
        .map(|bad| {
            (
                bad.event_type.unwrap_or_default(),
                format!("event {}: {}", bad.index, bad.reason),
            )
        })
        .collect();
    let mut events = Vec::with_capacity(decoded.events.len());
    for e in decoded.events {
        let timestamp = match e.timestamp_ms {
            None => now,
            Some(ms) => match ms.checked_mul(1_000_000) {
                Some(ns) => ns,
                None => {
                    refused.push((
                        e.event_type,
                        format!("timestamp {ms} ms is outside the range Sextant stores"),
                    ));
                    continue;
                }
            },
        };
        let mut dimensions = e.dimensions;
        dimensions.sort();
        events.push(SfxEvent {
            id: 0,
            event_type: e.event_type,
            category: e.category.as_str().to_owned(),
            dimensions,
            properties: e
                .properties
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        PropertyValue::Str(s) => SfxPropertyValue::Str(s),
                        PropertyValue::Double(d) => SfxPropertyValue::Double(d),
                        PropertyValue::Int(i) => SfxPropertyValue::Int(i),
                        PropertyValue::Bool(b) => SfxPropertyValue::Bool(b),
                    };
                    (k, v)
                })
                .collect(),
            timestamp,
        });
    }
    if !events.is_empty() {
        let catalog = state.catalog.clone();
        let org_id = principal.organization_id.clone();
        tokio::task::spawn_blocking(move || catalog.sfx_add_events(&org_id, &events)).await??;
    }
    for (n, (event_type, reason)) in refused.iter().enumerate() {
        state.metrics.refused("signalfx_event", "invalid", 1);
        if n < LOGGED_REFUSALS {
            tracing::warn!(
                key = %principal.key_name,
                event_type = %event_type,
                reason = %reason,
                "SignalFx event refused"
            );
        }
    }
    if refused.len() > LOGGED_REFUSALS {
        tracing::warn!(
            key = %principal.key_name,
            more = refused.len() - LOGGED_REFUSALS,
            "more SignalFx events of this request refused (counted in sextant_refused_points_total, not logged)"
        );
    }
    Ok(())
}
