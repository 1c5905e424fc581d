//! The metadata REST API: `/v2/metric`, `/v2/dimension`, `/v2/metrictimeseries`, `/v2/tag`
//! (search, get, update; delete for tags) and `/v2/organization`.
//!
//! Searches read the in-memory index ([`super::index`]), so they need no database query;
//! updates go to the catalog first and reach the index once stored. A search's `query` is
//! taken from the raw query string, percent-decoded without turning `+` into a space (the
//! Python client does not encode it), and runs up to the first `&orderBy=`, `&offset=` or
//! `&limit=`, so a query may hold `&&`. `count` is the total number of matches; `offset`
//! and `limit` (default 50, at most 10,000) page through them in `orderBy` order (a field,
//! `-field` for descending; creation order by default).
//!
//! An MTS inherits the custom properties and tags of the dimensions it carries: a search
//! for `team:infra` or `tags:critical` finds the MTS whose `host` dimension has them.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use sextant_catalog::{SfxDimension, SfxMeta, SfxMetric, SfxMts, SfxTag, SfxUpdate};
use sextant_signalfx::query::{Pattern, Query, Searchable};

use super::index::OrgData;
use super::reply_error;
use crate::auth::{Action, Principal, authorize};
use crate::error::{HttpError, json_body};
use crate::state::AppState;

/// The page size when a search names none.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page.
pub const MAX_LIMIT: usize = 10_000;

pub(crate) fn respond(result: Result<Json, HttpError>) -> Response {
    match result {
        Ok(body) => json_body(&body),
        Err(error) => reply_error(error),
    }
}

/// A search's parameters.
#[derive(Debug, Default, PartialEq)]
pub struct Search {
    /// The query text, decoded.
    pub query: String,
    /// The field to order by, `-` first for descending.
    pub order_by: Option<String>,
    /// Matches to skip.
    pub offset: usize,
    /// Matches to return.
    pub limit: usize,
}

fn percent_decode(text: &str) -> Result<String, HttpError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| HttpError::invalid(format!("bad percent-escape in {text:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| HttpError::invalid(format!("{text:?} does not decode to UTF-8")))
}

impl Search {
    /// Reads the raw query string.
    pub fn parse(raw: Option<&str>) -> Result<Search, HttpError> {
        let raw = raw.unwrap_or("");
        let mut search = Search {
            limit: DEFAULT_LIMIT,
            ..Search::default()
        };
        let mut rest = raw;
        if let Some(value) = raw.strip_prefix("query=") {
            let end = ["&orderBy=", "&offset=", "&limit="]
                .iter()
                .filter_map(|p| value.find(p))
                .min()
                .unwrap_or(value.len());
            search.query = percent_decode(&value[..end])?;
            rest = &value[end..];
        }
        for pair in rest.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            match name {
                "query" => search.query = value,
                "orderBy" if !value.is_empty() => search.order_by = Some(value),
                "offset" => {
                    search.offset = value.parse().map_err(|_| {
                        HttpError::invalid(format!("offset {value:?} is not a whole number"))
                    })?
                }
                "limit" => {
                    let limit: usize = value.parse().map_err(|_| {
                        HttpError::invalid(format!("limit {value:?} is not a whole number"))
                    })?;
                    search.limit = limit.min(MAX_LIMIT);
                }
                _ => {}
            }
        }
        Ok(search)
    }
}

fn ms(ns: i64) -> i64 {
    ns.div_euclid(1_000_000)
}

fn meta_fields(object: &mut serde_json::Map<String, Json>, meta: &SfxMeta) {
    object.insert("description".into(), json!(meta.description));
    object.insert("customProperties".into(), json!(meta.custom_properties));
    object.insert("tags".into(), json!(meta.tags));
    object.insert("created".into(), json!(ms(meta.created)));
    object.insert("creator".into(), json!(meta.creator));
    object.insert("lastUpdated".into(), json!(ms(meta.last_updated)));
    object.insert("lastUpdatedBy".into(), json!(meta.last_updated_by));
}

fn metric_json(metric: &SfxMetric) -> Json {
    let mut o = serde_json::Map::new();
    o.insert("name".into(), json!(metric.name));
    o.insert("type".into(), json!(metric.metric_type));
    meta_fields(&mut o, &metric.meta);
    Json::Object(o)
}

fn dimension_json(dimension: &SfxDimension) -> Json {
    let mut o = serde_json::Map::new();
    o.insert("key".into(), json!(dimension.key));
    o.insert("value".into(), json!(dimension.value));
    meta_fields(&mut o, &dimension.meta);
    Json::Object(o)
}

fn tag_json(tag: &SfxTag) -> Json {
    let mut o = serde_json::Map::new();
    o.insert("name".into(), json!(tag.name));
    meta_fields(&mut o, &tag.meta);
    o.remove("tags");
    Json::Object(o)
}

fn mts_json(data: &OrgData, mts: &SfxMts) -> Json {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(mts.id));
    o.insert("metric".into(), json!(mts.metric));
    o.insert(
        "type".into(),
        json!(
            data.metrics
                .get(&mts.metric)
                .map(|m| m.metric_type.as_str())
        ),
    );
    let dims: BTreeMap<&str, &str> = mts
        .dimensions
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    o.insert("dimensions".into(), json!(dims));
    o.insert("active".into(), json!(true));
    meta_fields(&mut o, &mts.meta);
    Json::Object(o)
}

/// Custom properties and tags as search fields.
fn meta_value(meta: &SfxMeta, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool {
    match field {
        "description" => test(&meta.description),
        "tags" => meta.tags.iter().any(|t| test(t)),
        "creator" => test(&meta.creator),
        _ => meta.custom_properties.get(field).is_some_and(|v| test(v)),
    }
}

struct MetricView<'a>(&'a SfxMetric);

impl Searchable for MetricView<'_> {
    fn any_value(&self, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            "name" | "sf_metric" => test(&self.0.name),
            "type" | "sf_type" => test(&self.0.metric_type),
            _ => meta_value(&self.0.meta, field, test),
        }
    }
}

struct DimensionView<'a>(&'a SfxDimension);

impl Searchable for DimensionView<'_> {
    fn any_value(&self, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            "key" => test(&self.0.key),
            "value" => test(&self.0.value),
            _ if field == self.0.key => test(&self.0.value),
            _ => meta_value(&self.0.meta, field, test),
        }
    }
}

struct TagView<'a>(&'a SfxTag);

impl Searchable for TagView<'_> {
    fn any_value(&self, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            "name" => test(&self.0.name),
            _ => meta_value(&self.0.meta, field, test),
        }
    }
}

/// An MTS as a searchable object, field by field: the definition the posting-list search
/// ([`matching_mts`]) is held to by test.
#[cfg(test)]
struct MtsView<'a> {
    data: &'a OrgData,
    mts: &'a SfxMts,
    at: usize,
}

#[cfg(test)]
impl Searchable for MtsView<'_> {
    fn any_value(&self, field: &str, test: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            "sf_metric" | "metric" => return test(&self.mts.metric),
            "id" | "sf_tsid" => return test(&self.mts.id),
            _ => {}
        }
        if let Some((_, v)) = self.mts.dimensions.iter().find(|(k, _)| k == field)
            && test(v)
        {
            return true;
        }
        // Inherited from the dimensions it carries.
        self.data.mts_dimensions[self.at]
            .iter()
            .any(|&d| meta_value(&self.data.dimensions[d as usize].meta, field, test))
    }
}

/// The page of `matches` (positions) in `order_by` order, as `{count, results}`.
fn page<T>(
    items: &[T],
    matches: Vec<usize>,
    search: &Search,
    sort_key: impl Fn(&T, &str) -> Option<String>,
    render: impl Fn(&T) -> Json,
) -> Json {
    let mut matches = matches;
    if let Some(order) = &search.order_by {
        let (field, descending) = match order.strip_prefix('-') {
            Some(field) => (field, true),
            None => (order.as_str(), false),
        };
        matches.sort_by_cached_key(|&i| sort_key(&items[i], field));
        if descending {
            matches.reverse();
        }
    }
    let count = matches.len();
    let results: Vec<Json> = matches
        .into_iter()
        .skip(search.offset)
        .take(search.limit)
        .map(|i| render(&items[i]))
        .collect();
    json!({ "count": count, "results": results })
}

fn meta_sort(meta: &SfxMeta, field: &str) -> Option<String> {
    match field {
        "created" => Some(format!("{:020}", meta.created.max(0))),
        "lastUpdated" => Some(format!("{:020}", meta.last_updated.max(0))),
        "description" => Some(meta.description.clone()),
        "creator" => Some(meta.creator.clone()),
        _ => meta.custom_properties.get(field).cloned(),
    }
}

async fn org_data(
    state: &AppState,
    principal: &Principal,
    action: Action,
) -> Result<std::sync::Arc<super::index::OrgIndex>, HttpError> {
    authorize(principal, action)?;
    state.signalfx.org(state, &principal.organization_id).await
}

fn parse_query(search: &Search) -> Result<Query, HttpError> {
    Query::parse(&search.query).map_err(HttpError::invalid)
}

/// `GET /v2/metric`.
pub async fn search_metrics(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(
        async {
            let search = Search::parse(raw.as_deref())?;
            let query = parse_query(&search)?;
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            let metrics: Vec<&SfxMetric> =
                data.metric_order.iter().map(|n| &data.metrics[n]).collect();
            let matches = (0..metrics.len())
                .filter(|&i| query.matches(&MetricView(metrics[i])))
                .collect();
            Ok(page(
                &metrics,
                matches,
                &search,
                |m, field| match field {
                    "name" | "sf_metric" => Some(m.name.clone()),
                    "type" => Some(m.metric_type.clone()),
                    _ => meta_sort(&m.meta, field),
                },
                |m| metric_json(m),
            ))
        }
        .await,
    )
}

/// `GET /v2/metric/{name}`.
pub async fn get_metric(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            data.metrics
                .get(&name)
                .map(metric_json)
                .ok_or_else(|| not_found("metric", &name))
        }
        .await,
    )
}

fn not_found(what: &str, name: &str) -> HttpError {
    HttpError::new(
        sextant_model::ErrorKind::NotFound,
        format!("{what} {name:?} not found"),
    )
}

/// The body of a PUT: description, custom properties, tags (absent or null: empty).
fn update_body(body: &[u8]) -> Result<(SfxUpdate, serde_json::Map<String, Json>), HttpError> {
    let value: Json = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| HttpError::invalid(format!("the body is not JSON: {e}")))?
    };
    let Json::Object(object) = value else {
        return Err(HttpError::invalid("the body must be a JSON object"));
    };
    let mut update = SfxUpdate::default();
    match object.get("description") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) => update.description = s.clone(),
        Some(other) => {
            return Err(HttpError::invalid(format!(
                "`description` must be a string, not {other}"
            )));
        }
    }
    match object.get("customProperties") {
        None | Some(Json::Null) => {}
        Some(Json::Object(props)) => {
            for (k, v) in props {
                let v = match v {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    Json::Bool(b) => b.to_string(),
                    other => {
                        return Err(HttpError::invalid(format!(
                            "custom property `{k}` must be a string, not {other}"
                        )));
                    }
                };
                update.custom_properties.insert(k.clone(), v);
            }
        }
        Some(other) => {
            return Err(HttpError::invalid(format!(
                "`customProperties` must be an object, not {other}"
            )));
        }
    }
    match object.get("tags") {
        None | Some(Json::Null) => {}
        Some(Json::Array(tags)) => {
            for tag in tags {
                match tag {
                    Json::String(s) => update.tags.push(s.clone()),
                    other => {
                        return Err(HttpError::invalid(format!(
                            "a tag must be a string, not {other}"
                        )));
                    }
                }
            }
        }
        Some(other) => {
            return Err(HttpError::invalid(format!(
                "`tags` must be an array of strings, not {other}"
            )));
        }
    }
    Ok((update, object))
}

pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> sextant_catalog::Result<T> + Send + 'static,
) -> Result<T, HttpError> {
    Ok(tokio::task::spawn_blocking(call).await??)
}

/// `PUT /v2/metric/{name}`: replaces description, custom properties and tags. The type, if
/// given, must be the metric's own: a metric keeps its type for life.
pub async fn update_metric(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::WriteMetadata).await?;
            let (update, object) = update_body(&body)?;
            let known = index.data.read().metrics.get(&name).cloned();
            let known = known.ok_or_else(|| not_found("metric", &name))?;
            if let Some(Json::String(t)) = object.get("type")
                && !t.eq_ignore_ascii_case(&known.metric_type)
            {
                return Err(HttpError::invalid(format!(
                    "metric {name:?} is a {}: a metric keeps the type of its first point, so it cannot become {t}",
                    known.metric_type
                )));
            }
            let catalog = state.catalog.clone();
            let (org, by) = (principal.organization_id.clone(), principal.key_id.clone());
            let metric =
                blocking(move || catalog.sfx_update_metric(&org, &name, &update, &by)).await?;
            let body = metric_json(&metric);
            index
                .data
                .write()
                .metrics
                .insert(metric.name.clone(), metric);
            Ok(body)
        }
        .await,
    )
}

/// `GET /v2/dimension`.
pub async fn search_dimensions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(
        async {
            let search = Search::parse(raw.as_deref())?;
            let query = parse_query(&search)?;
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            let matches = (0..data.dimensions.len())
                .filter(|&i| query.matches(&DimensionView(&data.dimensions[i])))
                .collect();
            Ok(page(
                &data.dimensions,
                matches,
                &search,
                |d, field| match field {
                    "key" => Some(d.key.clone()),
                    "value" => Some(d.value.clone()),
                    _ => meta_sort(&d.meta, field),
                },
                dimension_json,
            ))
        }
        .await,
    )
}

/// `GET /v2/dimension/{key}/{value}`.
pub async fn get_dimension(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((key, value)): Path<(String, String)>,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            data.dimension(&key, &value)
                .map(dimension_json)
                .ok_or_else(|| not_found("dimension", &format!("{key}:{value}")))
        }
        .await,
    )
}

/// `PUT /v2/dimension/{key}/{value}`: replaces description, custom properties and tags;
/// creates the dimension if no MTS carries it yet.
pub async fn update_dimension(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((key, value)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::WriteMetadata).await?;
            let (update, _) = update_body(&body)?;
            let catalog = state.catalog.clone();
            let (org, by) = (principal.organization_id.clone(), principal.key_id.clone());
            let dimension =
                blocking(move || catalog.sfx_update_dimension(&org, &key, &value, &update, &by))
                    .await?;
            let body = dimension_json(&dimension);
            index.data.write().put_dimension(dimension);
            Ok(body)
        }
        .await,
    )
}

/// `GET /v2/metrictimeseries`.
pub async fn search_mts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(
        async {
            let search = Search::parse(raw.as_deref())?;
            let query = parse_query(&search)?;
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            Ok(search_mts_in(&data, &query, &search))
        }
        .await,
    )
}

/// The MTS search itself, over one organization's index: the query is evaluated into a set
/// of MTS positions with the index's posting lists (MTS by metric, by dimension, and the
/// dimensions that have something to inherit), so its cost follows the matching metrics and
/// dimensions, not a walk over every MTS and its strings.
pub fn search_mts_in(data: &OrgData, query: &Query, search: &Search) -> Json {
    let matches: Vec<usize> = matching_mts(data, query).positions().collect();
    page(
        &data.mts,
        matches,
        search,
        |m, field| match field {
            "sf_metric" | "metric" => Some(m.metric.clone()),
            "id" => Some(m.id.clone()),
            _ => m
                .dimensions
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, v)| v.clone())
                .or_else(|| meta_sort(&m.meta, field)),
        },
        |m| mts_json(data, m),
    )
}

/// A set of MTS positions.
#[derive(Debug, Clone, PartialEq)]
struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    fn empty(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    fn full(len: usize) -> Bits {
        let mut bits = Bits {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        bits.trim();
        bits
    }

    fn trim(&mut self) {
        if !self.len.is_multiple_of(64)
            && let Some(last) = self.words.last_mut()
        {
            *last &= (1u64 << (self.len % 64)) - 1;
        }
    }

    fn set_all(&mut self, positions: &[u32]) {
        for &p in positions {
            self.words[p as usize / 64] |= 1 << (p % 64);
        }
    }

    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                Some(i * 64 + bit)
            })
        })
    }
}

fn matching_mts(data: &OrgData, query: &Query) -> Bits {
    let len = data.mts.len();
    match query {
        Query::All => Bits::full(len),
        Query::And(a, b) => {
            let mut x = matching_mts(data, a);
            let y = matching_mts(data, b);
            x.words.iter_mut().zip(&y.words).for_each(|(x, y)| *x &= y);
            x
        }
        Query::Or(a, b) => {
            let mut x = matching_mts(data, a);
            let y = matching_mts(data, b);
            x.words.iter_mut().zip(&y.words).for_each(|(x, y)| *x |= y);
            x
        }
        Query::Not(a) => {
            let mut x = matching_mts(data, a);
            x.words.iter_mut().for_each(|w| *w = !*w);
            x.trim();
            x
        }
        Query::Term { field, pattern } => {
            let mut bits = Bits::empty(len);
            match field.as_str() {
                "sf_metric" | "metric" => {
                    if let Pattern::Exact(name) = pattern {
                        if let Some(positions) = data.mts_by_metric.get(name) {
                            positions
                                .iter()
                                .for_each(|&p| bits.words[p / 64] |= 1 << (p % 64));
                        }
                    } else {
                        for (name, positions) in &data.mts_by_metric {
                            if pattern.matches(name) {
                                positions
                                    .iter()
                                    .for_each(|&p| bits.words[p / 64] |= 1 << (p % 64));
                            }
                        }
                    }
                }
                "id" | "sf_tsid" => {
                    for (p, mts) in data.mts.iter().enumerate() {
                        if pattern.matches(&mts.id) {
                            bits.words[p / 64] |= 1 << (p % 64);
                        }
                    }
                }
                _ => {
                    // The MTS carrying a dimension `field` whose value matches...
                    match pattern {
                        Pattern::Exact(value) => {
                            if let Some(&d) = data.dimension_at.get(&(field.clone(), value.clone()))
                            {
                                bits.set_all(&data.mts_by_dimension[d]);
                            }
                        }
                        Pattern::Glob(_) => {
                            for &d in data.dimensions_by_key.get(field).into_iter().flatten() {
                                if pattern.matches(&data.dimensions[d as usize].value) {
                                    bits.set_all(&data.mts_by_dimension[d as usize]);
                                }
                            }
                        }
                    }
                    // ...and those inheriting a matching property or tag from a dimension.
                    for &d in &data.described {
                        let meta = &data.dimensions[d as usize].meta;
                        if meta_value(meta, field, &mut |v| pattern.matches(v)) {
                            bits.set_all(&data.mts_by_dimension[d as usize]);
                        }
                    }
                }
            }
            bits
        }
    }
}

/// `GET /v2/metrictimeseries/{id}`.
pub async fn get_mts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            data.mts_by_id
                .get(&id)
                .map(|&at| mts_json(&data, &data.mts[at]))
                .ok_or_else(|| not_found("metric time series", &id))
        }
        .await,
    )
}

/// `GET /v2/tag`.
pub async fn search_tags(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(
        async {
            let search = Search::parse(raw.as_deref())?;
            let query = parse_query(&search)?;
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            let tags: Vec<&SfxTag> = data.tags.values().collect();
            let matches = (0..tags.len())
                .filter(|&i| query.matches(&TagView(tags[i])))
                .collect();
            Ok(page(
                &tags,
                matches,
                &search,
                |t, field| match field {
                    "name" => Some(t.name.clone()),
                    _ => meta_sort(&t.meta, field),
                },
                |t| tag_json(t),
            ))
        }
        .await,
    )
}

/// `GET /v2/tag/{name}`.
pub async fn get_tag(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::ReadMetadata).await?;
            let data = index.data.read();
            data.tags
                .get(&name)
                .map(tag_json)
                .ok_or_else(|| not_found("tag", &name))
        }
        .await,
    )
}

/// `PUT /v2/tag/{name}`: creates the tag or replaces its description and custom properties.
pub async fn update_tag(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let index = org_data(&state, &principal, Action::WriteMetadata).await?;
            let (update, _) = update_body(&body)?;
            let catalog = state.catalog.clone();
            let (org, by) = (principal.organization_id.clone(), principal.key_id.clone());
            let tag = blocking(move || catalog.sfx_put_tag(&org, &name, &update, &by)).await?;
            let body = tag_json(&tag);
            index.data.write().tags.insert(tag.name.clone(), tag);
            Ok(body)
        }
        .await,
    )
}

/// `DELETE /v2/tag/{name}`: 204 with no body; 404 when unknown.
pub async fn delete_tag(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    let result = async {
        let index = org_data(&state, &principal, Action::WriteMetadata).await?;
        let catalog = state.catalog.clone();
        let org = principal.organization_id.clone();
        let deleted = name.clone();
        blocking(move || catalog.sfx_delete_tag(&org, &deleted)).await?;
        index.data.write().tags.remove(&name);
        Ok::<_, HttpError>(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => reply_error(error),
    }
}

/// `GET /v2/organization`: the key's organization.
/// `DELETE /v2/session` with a session key: signs it out (revokes it), as SignalFx's logout
/// does. Any other key is refused with 400 and left working: it is revoked by an admin.
pub async fn delete_session(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<StatusCode, HttpError> {
    let catalog = state.catalog.clone();
    tokio::task::spawn_blocking(move || {
        let org = &principal.organization_id;
        let key = catalog
            .list_api_keys(org)?
            .into_iter()
            .find(|k| k.id == principal.key_id);
        match key {
            Some(key) if key.expires_at.is_some() => {
                catalog.revoke_api_key(org, &key.id)?;
                tracing::info!(key = %key.id, "session ended");
                Ok(StatusCode::NO_CONTENT)
            }
            _ => Err(HttpError::invalid(format!(
                "key {} ({}) is not a session a login gave: an admin revokes API keys",
                principal.key_id, principal.key_name
            ))),
        }
    })
    .await?
}

/// `POST /v2/session` (`SignalFx.login(email, password)`, no key): a user's e-mail address and
/// password give a session key of the user's organization, with the scope the login was
/// given, that works for [`crate::login::SESSION_LIFETIME`]. The reply carries it as
/// `accessToken`. A wrong address or password is 401, with the same message for both.
pub async fn create_session(State(state): State<AppState>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Login {
        email: String,
        password: String,
    }
    respond(
        async {
            let login: Login = serde_json::from_slice(&body).map_err(|e| {
                HttpError::invalid(format!(
                    "the body is not {{\"email\": …, \"password\": …}}: {e}"
                ))
            })?;
            // Each attempt costs an Argon2 hash: failures are limited per address.
            state
                .logins
                .check(&login.email, std::time::Instant::now())?;
            let logins = state.logins.clone();
            let catalog = state.catalog.clone();
            let now = state.clock.now();
            let lifetime =
                i64::try_from(crate::login::SESSION_LIFETIME.as_nanos()).unwrap_or(i64::MAX);
            let expires_at = now.saturating_add(lifetime);
            let session = tokio::task::spawn_blocking(move || {
                let found = catalog.find_login(&login.email)?;
                let hash = found.as_ref().map(|f| f.password_hash.as_str());
                let accepted = crate::login::verify_password(&login.password, hash);
                let Some(found) = found.filter(|_| accepted) else {
                    logins.failed(&login.email, std::time::Instant::now());
                    return Err(crate::login::refused());
                };
                logins.succeeded(&login.email);
                let (key, secret) = catalog.create_session_key(
                    &found.organization_id,
                    &format!("session of {}", found.email),
                    found.session_scope,
                    expires_at,
                )?;
                Ok((found, key, secret))
            })
            .await??;
            let (found, key, secret) = session;
            tracing::info!(email = %found.email, key = %key.id, "session started");
            Ok(json!({
                "accessToken": secret,
                "orgId": found.organization_id,
                "userId": found.user_id,
                "expiresAt": ms(expires_at),
            }))
        }
        .await,
    )
}

pub async fn organization(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let found = blocking(move || catalog.get_organization(&org)).await?;
            Ok(json!({
                "id": found.id,
                "organizationName": found.name,
                "created": ms(found.created_at),
            }))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use sextant_catalog::{SfxNewMts, SfxRegistered};

    use super::*;

    #[test]
    fn the_posting_list_search_agrees_with_matching_each_mts() {
        let mut data = OrgData::default();
        let mut registered = SfxRegistered::default();
        for i in 0..150 {
            let new = SfxNewMts {
                id: super::super::index::mts_id("m", &[]),
                metric: if i % 3 == 0 { "cpu.user" } else { "mem.free" }.into(),
                metric_type: "GAUGE".into(),
                dimensions: vec![
                    ("host".into(), format!("h{i}")),
                    ("rack".into(), format!("r{}", i % 7)),
                ],
            };
            registered.mts.push(SfxMts {
                id: format!("id{i}"),
                metric: new.metric,
                dimensions: new.dimensions,
                meta: SfxMeta::default(),
            });
        }
        data.apply(registered);
        let mut rack = data.dimension("rack", "r3").unwrap().clone();
        rack.meta
            .custom_properties
            .insert("team".into(), "infra".into());
        rack.meta.tags = vec!["critical".into()];
        data.put_dimension(rack);
        for text in [
            "*",
            "sf_metric:cpu.user",
            "sf_metric:*.free AND rack:r3",
            "host:h1*",
            "team:infra",
            "tags:crit* AND NOT sf_metric:cpu.user",
            "rack:r1 OR (rack:r2 AND host:h2?)",
            "NOT missing:*",
            "missing:*",
            "id:id1?",
        ] {
            let query = Query::parse(text).unwrap();
            let fast: Vec<usize> = matching_mts(&data, &query).positions().collect();
            let slow: Vec<usize> = (0..data.mts.len())
                .filter(|&at| {
                    query.matches(&MtsView {
                        data: &data,
                        mts: &data.mts[at],
                        at,
                    })
                })
                .collect();
            assert_eq!(fast, slow, "{text}");
        }
    }

    #[test]
    fn the_raw_query_keeps_plus_signs_and_ampersands() {
        let cases = [
            (
                None,
                Search {
                    limit: 50,
                    ..Search::default()
                },
            ),
            (
                Some("query=sf_metric:a+b%20AND%20host:h*&orderBy=-name&offset=50&limit=10"),
                Search {
                    query: "sf_metric:a+b AND host:h*".into(),
                    order_by: Some("-name".into()),
                    offset: 50,
                    limit: 10,
                },
            ),
            (
                Some("query=a:1%20&&%20b:2&limit=99999"),
                Search {
                    query: "a:1 && b:2".into(),
                    limit: MAX_LIMIT,
                    ..Search::default()
                },
            ),
            (
                Some("query=&offset=3"),
                Search {
                    offset: 3,
                    limit: 50,
                    ..Search::default()
                },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(Search::parse(raw).unwrap(), want, "{raw:?}");
        }
        let err = Search::parse(Some("query=x:1&limit=many")).unwrap_err();
        assert_eq!(
            err.reply().message(),
            "limit \"many\" is not a whole number"
        );
    }
}
