//! Queries, deletes and metadata: `POST|GET /api/v1/datapoints/query`,
//! `POST /api/v1/datapoints/query/tags`, `POST /api/v1/datapoints/delete`,
//! `DELETE /api/v1/metric/{name}`, `GET /api/v1/metricnames`, `tagnames`, `tagvalues`,
//! `version` and `health/{status,check}`.
//!
//! A query selects each metric's series by name and tag filter, scans their points in
//! `[start, end]` (in the metric's order, cut to its limit, both pushed down to the store)
//! and runs `sextant-kairos`'s pipeline over them. When a metric has a single avg, sum, min,
//! max or count aggregator whose buckets are fixed-length and aligned to the epoch and
//! stamped with their start or end, the query crate aggregates instead, in epoch-aligned
//! nanosecond buckets that the store answers from block summaries where it can, and no
//! point is read. Every read goes through `sextant-query`; KairosDB's parsing, bucket
//! semantics and formatting stay in `sextant-kairos`.

use crate::budget::{QueryBudget, QueryLimits};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sextant_kairos::group::{GroupKind, MetricResult, SeriesData};
use sextant_kairos::pushdown::{Partial, Plan, SeriesPartials};
use sextant_kairos::query::{AggregatorKind, MetricQuery, Query, TagFilter, TagValue};
use sextant_kairos::{DataPoint, KValue};
use sextant_model::{DataType, OrgId, Timestamp};
use sextant_query::{
    Agg, Aggregation, Buckets, Match, Order, Reader, Scan, Selector, Series, SeriesRef,
};
use sextant_storage::Store;
use sextant_storage::head::SeriesInfo;

use super::{Failure, answer, body_bytes, internal, json, no_content, now_ms};
use crate::auth::{Action, Principal, authorize};
use crate::state::{AppState, org_number};

/// `POST /api/v1/datapoints/query`.
pub async fn query_post(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_query(state, principal, headers, body.to_vec(), true).await
}

/// The parameters of `GET /api/v1/datapoints/query`.
#[derive(Debug, Deserialize)]
pub struct QueryParam {
    query: Option<String>,
}

/// `GET /api/v1/datapoints/query?query=<url-encoded JSON>`.
pub async fn query_get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    UrlQuery(param): UrlQuery<QueryParam>,
) -> Response {
    let Some(query) = param.query else {
        return Failure::invalid(
            "the query parameter `query` (the URL-encoded query JSON) is missing",
        )
        .into_response();
    };
    run_query(state, principal, headers, query.into_bytes(), false).await
}

async fn run_query(
    state: AppState,
    principal: Principal,
    headers: HeaderMap,
    body: Vec<u8>,
    decode: bool,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::ReadData) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let store = state.store.clone();
    let request_headers = headers.clone();
    let now = now_ms(&state);
    let limits = state.query_limits(&principal.organization_id).await;
    // Dropped with this future when the client goes away, which stops the query.
    let (budget, client) = QueryBudget::start(&limits);
    let (mut sink, answer) = answer::channel(&headers);
    let thread = tokio::task::spawn_blocking(move || {
        let proceed = || budget.check().map_err(sextant_kairos::Error::Stopped);
        let evaluate = || {
            let body = if decode {
                body_bytes(&request_headers, &body)?.into_owned()
            } else {
                body
            };
            let query = sextant_kairos::query::parse(&body, now)?;
            // `save_as` stores points: such a query is a write too, refused before anything runs.
            if query.metrics.iter().any(saves) {
                authorize(&principal, Action::WritePoints)?;
            }
            let check = || budget.check();
            let reader = Reader::new(store.as_ref(), org).stopping_when(&check);
            // Each metric is written out and dropped before the next is read, and the text
            // goes out a chunk at a time once the answer is long.
            let mut body = sextant_kairos::response::QueryBody::new();
            let mut spill = |text: &mut String| sink.send(text);
            // The partials of the last metric pushed down, for the next metric when it reads
            // the same series in the same buckets (avg, min, max and count of one metric).
            let mut last: Option<Partials> = None;
            for metric in &query.metrics {
                proceed()?;
                if let Some(plan) = sextant_kairos::pushdown::plan(&query, metric) {
                    if !last.as_ref().is_some_and(|p| p.serves(metric, &plan)) {
                        // A bucket held costs about what a point does.
                        let reader =
                            reader.holding_at_most(limits.max_points, limits.max_points_hint());
                        last = partials(&reader, &query, metric, &plan)?;
                    }
                    if let Some(partials) = &last {
                        // Each group is made as it is written.
                        let groups = sextant_kairos::pushdown::run(metric, &plan, &partials.series);
                        body.push_groups(
                            groups.sample_size,
                            groups,
                            answer::STREAM_CHUNK_BYTES,
                            &mut spill,
                        )?;
                        continue;
                    }
                }
                // A metric of the engine may store points (`save_as`) that a later metric reads.
                last = None;
                let series = read_series(&reader, &query, metric, &limits)?;
                proceed()?;
                let result = sextant_kairos::run_metric(&query, metric, now, series, &proceed)?;
                save(store.as_ref(), org, &result);
                body.push_spilling(&result, answer::STREAM_CHUNK_BYTES, &mut spill)?;
            }
            Ok::<_, Failure>(body.finish())
        };
        let outcome = evaluate();
        sink.finish(outcome)
    });
    // Dropped with this future, or with the stream once it started, when the client goes
    // away, which stops the query.
    answer.respond(thread, &headers, client).await
}

/// Whether a metric of a query has a `save_as` aggregator, which stores what it computes.
fn saves(metric: &MetricQuery) -> bool {
    metric
        .aggregators
        .iter()
        .any(|a| matches!(a.kind, AggregatorKind::SaveAs { .. }))
}

/// Writes what `save_as` aggregators asked for; failures are logged, as KairosDB's
/// asynchronous save would only log them.
fn save(store: &dyn Store, org: OrgId, result: &MetricResult) {
    for request in &result.saves {
        if request.points.is_empty() {
            continue;
        }
        let metric = sextant_kairos::ingest::IngestMetric {
            index: 0,
            name: request.metric_name.clone(),
            tags: request.tags.clone(),
            points: request.points.iter().map(|p| (None, p.clone())).collect(),
        };
        let mut messages = Vec::new();
        if let Err(error) = super::write::store_metrics(store, org, vec![metric], &mut messages) {
            tracing::error!(metric = %request.metric_name, %error, "save_as could not store its points");
        }
        for message in messages {
            tracing::warn!(metric = %request.metric_name, %message, "save_as could not store a point");
        }
    }
}

/// The selector of a metric's name and tag filters. A tag with several accepted values
/// becomes one anchored alternation; `regex:` values are used as they are.
fn selector(metric: &MetricQuery) -> Result<Selector, Failure> {
    let mut selector = Selector::name(metric.name.as_str());
    for filter in &metric.tags {
        let m = match filter.values.as_slice() {
            [TagValue::Exact(v)] => Match::equal(v.as_str()),
            values => {
                let alternatives: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        TagValue::Exact(v) => regex::escape(v),
                        TagValue::Regex(r) => format!("(?:{r})"),
                    })
                    .collect();
                Match::regex(alternatives.join("|")).map_err(|e| {
                    Failure::invalid(format!("query.metric.tags.{}: {e}", filter.name))
                })?
            }
        };
        selector = selector.label(filter.name.as_str(), m);
    }
    Ok(selector)
}

/// The series a metric selects: those that match every filter and have every filtered tag.
fn select(reader: &Reader<'_>, metric: &MetricQuery) -> Result<Vec<SeriesInfo>, Failure> {
    let selector = selector(metric)?;
    let mut series = reader.select(&selector);
    series.retain(|s| metric.tags.iter().all(|f| s.key.label(&f.name).is_some()));
    Ok(series)
}

/// The store's half-open nanosecond range of KairosDB's inclusive millisecond range.
fn nanos(start: i64, end: i64) -> Range<Timestamp> {
    let from = start.saturating_mul(1_000_000);
    let to = if end == i64::MAX {
        i64::MAX
    } else {
        end.saturating_add(1).saturating_mul(1_000_000)
    };
    from..to
}

fn kind_of(data_type: DataType) -> Option<GroupKind> {
    match data_type {
        DataType::String => Some(GroupKind::Text),
        DataType::Bytes => None,
        _ => Some(GroupKind::Number),
    }
}

/// The values of a series of `data_type` as KairosDB values: integers as longs (a `uint64`
/// beyond `i64` as a double), floats as doubles, bools as 0 and 1, strings as text. A null,
/// which stands for a value of another type, is `None` and its point is left out. `None`
/// as a whole if the array is not of the type's Arrow type.
fn kvalues(data_type: DataType, values: &ArrayRef) -> Option<Vec<Option<KValue>>> {
    fn each<A: Array, T>(array: &A, value: impl Fn(usize) -> T) -> Vec<Option<T>> {
        (0..array.len())
            .map(|i| (!array.is_null(i)).then(|| value(i)))
            .collect()
    }
    Some(match data_type {
        DataType::Double => {
            let a = values.as_primitive_opt::<Float64Type>()?;
            each(a, |i| KValue::Double(a.value(i)))
        }
        DataType::Float => {
            let a = values.as_primitive_opt::<Float32Type>()?;
            each(a, |i| KValue::Double(f64::from(a.value(i))))
        }
        DataType::Int64 => {
            let a = values.as_primitive_opt::<Int64Type>()?;
            each(a, |i| KValue::Long(a.value(i)))
        }
        DataType::Int32 => {
            let a = values.as_primitive_opt::<Int32Type>()?;
            each(a, |i| KValue::Long(i64::from(a.value(i))))
        }
        DataType::Uint32 | DataType::Enum => {
            let a = values.as_primitive_opt::<UInt32Type>()?;
            each(a, |i| KValue::Long(i64::from(a.value(i))))
        }
        DataType::Uint64 | DataType::BitField => {
            let a = values.as_primitive_opt::<UInt64Type>()?;
            each(a, |i| {
                let v = a.value(i);
                match i64::try_from(v) {
                    Ok(v) => KValue::Long(v),
                    Err(_) => KValue::Double(v as f64),
                }
            })
        }
        DataType::Bool => {
            let a = values.as_boolean_opt()?;
            each(a, |i| KValue::Long(i64::from(a.value(i))))
        }
        DataType::String => {
            let a = values.as_string_opt::<i32>()?;
            each(a, |i| KValue::Text(a.value(i).to_owned()))
        }
        DataType::Bytes => return None,
    })
}

fn tags(info_key: &sextant_model::SeriesKey) -> BTreeMap<String, String> {
    info_key
        .labels()
        .iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect()
}

fn read_series(
    reader: &Reader<'_>,
    query: &Query,
    metric: &MetricQuery,
    limits: &QueryLimits,
) -> Result<Vec<SeriesData>, Failure> {
    let max_points = limits.max_points;
    // Bytes have no KairosDB type; such series are not read.
    let series: Vec<SeriesRef> = select(reader, metric)?
        .into_iter()
        .filter(|s| kind_of(s.data_type).is_some())
        .map(SeriesRef::from)
        .collect();
    let mut scan = Scan::new(Series::List(series), nanos(query.start, query.end));
    if metric.descending {
        scan = scan.order(Order::Descending);
    }
    if let Some(limit) = metric.limit {
        scan = scan.series_limit(limit);
    }
    // One point more than the limit tells a query that holds too many; reading stops there.
    scan = scan.limit(max_points.saturating_add(1));
    let page = reader.scan(&scan).map_err(Failure::from)?;
    if page.len() > max_points {
        return Err(Failure::invalid(format!(
            "metric {} reads more than {max_points} points in the query's range, the most a query may hold{}; ask for a shorter range or fewer series (tags, limit), or use a single avg, sum, min, max or count aggregator aligned with align_start_time or align_end_time, which the store computes without reading points",
            metric.name,
            limits.max_points_hint()
        )));
    }
    let mut out = Vec::with_capacity(page.batches.len());
    for batch in page.batches {
        let Some(kind) = kind_of(batch.data_type) else {
            continue;
        };
        let values = kvalues(batch.data_type, &batch.points.values).ok_or_else(|| {
            internal(format!(
                "series {} of type {} read back as Arrow {}",
                batch.key,
                batch.data_type,
                batch.points.values.data_type()
            ))
        })?;
        let points = batch
            .points
            .timestamps
            .values()
            .iter()
            .zip(values)
            .filter_map(|(&t, v)| Some(DataPoint::new(t.div_euclid(1_000_000), v?)))
            .collect();
        out.push(SeriesData {
            tags: tags(&batch.key),
            kind,
            points,
        });
    }
    Ok(out)
}

/// The store's per-bucket partials of the series a metric selects.
struct Partials {
    name: String,
    tags: Vec<TagFilter>,
    bucket_ms: i64,
    series: Vec<SeriesPartials>,
}

impl Partials {
    /// Whether these are the partials `metric` would read under `plan`: the same series in
    /// the same buckets (the query's range is the same for every metric).
    fn serves(&self, metric: &MetricQuery, plan: &Plan) -> bool {
        self.name == metric.name && self.tags == metric.tags && self.bucket_ms == plan.bucket_ms
    }
}

/// Reads a pushed-down metric's partials on the query crate's epoch-aligned buckets, which
/// the store answers from block summaries where it can (see the module docs); `None` when a
/// series it selects is not numeric, which the engine must answer.
fn partials(
    reader: &Reader<'_>,
    query: &Query,
    metric: &MetricQuery,
    plan: &Plan,
) -> Result<Option<Partials>, Failure> {
    let series = select(reader, metric)?;
    if series.iter().any(|s| !s.data_type.is_numeric()) {
        return Ok(None);
    }
    // The plan only admits bucket sizes whose nanoseconds fit.
    let buckets = Buckets::new(plan.bucket_ms.saturating_mul(1_000_000)).map_err(Failure::from)?;
    let aggregation = Aggregation {
        series: Series::List(series.iter().map(SeriesRef::from).collect()),
        range: nanos(query.start, query.end),
        buckets,
        aggs: vec![Agg::Count, Agg::Sum, Agg::Min, Agg::Max],
    };
    drop(series);
    let mut partials = Vec::new();
    for s in reader.aggregate(&aggregation).map_err(Failure::from)? {
        let result = &s.result;
        let column = |agg| result.column(agg).cloned();
        let (Some(count), Some(sum), Some(min), Some(max)) = (
            column(Agg::Count),
            column(Agg::Sum),
            column(Agg::Min),
            column(Agg::Max),
        ) else {
            return Err(internal("the store left out an aggregate"));
        };
        let (Some(count), Some(sum), Some(min), Some(max)) = (
            count.as_primitive_opt::<UInt64Type>(),
            sum.as_primitive_opt::<Float64Type>(),
            min.as_primitive_opt::<Float64Type>(),
            max.as_primitive_opt::<Float64Type>(),
        ) else {
            return Err(internal("the store's aggregates have unexpected types"));
        };
        let buckets = (0..result.buckets.len())
            .map(|i| Partial {
                start: result.buckets.value(i).div_euclid(1_000_000),
                count: count.value(i),
                sum: sum.value(i),
                min: min.value(i),
                max: max.value(i),
            })
            .collect();
        partials.push(SeriesPartials {
            tags: tags(&s.key),
            buckets,
        });
    }
    Ok(Some(Partials {
        name: metric.name.clone(),
        tags: metric.tags.clone(),
        bucket_ms: plan.bucket_ms,
        series: partials,
    }))
}

/// `POST /api/v1/datapoints/query/tags`: the tags of the series each metric selects.
pub async fn query_tags(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::ReadMetadata) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let store = state.store.clone();
    let request_headers = headers.clone();
    let now = now_ms(&state);
    let outcome = tokio::task::spawn_blocking(move || {
        let body = body_bytes(&request_headers, &body)?;
        let query = sextant_kairos::query::parse(&body, now)?;
        let reader = Reader::new(store.as_ref(), org);
        let mut queries = Vec::new();
        for metric in &query.metrics {
            let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for info in select(&reader, metric)? {
                for l in info.key.labels() {
                    tags.entry(l.name.to_owned())
                        .or_default()
                        .insert(l.value.to_owned());
                }
            }
            queries.push(serde_json::json!({
                "results": [{"name": metric.name, "tags": tags, "values": []}]
            }));
        }
        Ok::<_, Failure>(serde_json::json!({ "queries": queries }).to_string())
    })
    .await;
    match outcome {
        Ok(Ok(body)) => json(StatusCode::OK, body, &headers),
        Ok(Err(failure)) => failure.into_response(),
        Err(e) => Failure::from(e).into_response(),
    }
}

/// `POST /api/v1/datapoints/delete`: deletes the points of each metric's series in
/// `[start, end]`. Aggregators and group-bys are validated and otherwise ignored.
pub async fn delete_datapoints(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::DeleteData) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let store = state.store.clone();
    let now = now_ms(&state);
    let outcome = tokio::task::spawn_blocking(move || {
        let body = body_bytes(&headers, &body)?;
        let query = sextant_kairos::query::parse(&body, now)?;
        let range = nanos(query.start, query.end);
        for metric in &query.metrics {
            let selector = selector(metric)?;
            store
                .delete(org, &selector, range.clone())
                .map_err(Failure::from)?;
        }
        Ok::<_, Failure>(())
    })
    .await;
    match outcome {
        Ok(Ok(())) => no_content(),
        Ok(Err(failure)) => failure.into_response(),
        Err(e) => Failure::from(e).into_response(),
    }
}

/// `DELETE /api/v1/metric/{name}`: deletes every point of every series of the metric.
pub async fn delete_metric(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::DeleteData) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let store = state.store.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        store.delete(org, &Selector::name(name), i64::MIN..i64::MAX)
    })
    .await;
    match outcome {
        Ok(Ok(_)) => no_content(),
        Ok(Err(e)) => Failure::from(e).into_response(),
        Err(e) => Failure::from(e).into_response(),
    }
}

/// The parameters of `GET /api/v1/metricnames`.
#[derive(Debug, Deserialize)]
pub struct NamesParam {
    prefix: Option<String>,
}

/// `GET /api/v1/metricnames[?prefix=p]`: `{"results": [...]}`, sorted.
pub async fn metric_names(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    UrlQuery(param): UrlQuery<NamesParam>,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::ReadMetadata) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let names = Reader::new(state.store.as_ref(), org)
        .names(param.prefix.as_deref().filter(|p| !p.is_empty()));
    results(&headers, names)
}

/// `GET /api/v1/tagnames` (KairosDB 1.2; python-kairosdb still calls it).
pub async fn tag_names(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::ReadMetadata) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let reader = Reader::new(state.store.as_ref(), org);
    results(&headers, reader.label_names(&Selector::all()))
}

/// `GET /api/v1/tagvalues` (KairosDB 1.2): every tag value, sorted, each once.
pub async fn tag_values(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::ReadMetadata) {
        return Failure::from(denied).into_response();
    }
    let org = org_number(&principal.organization_id);
    let reader = Reader::new(state.store.as_ref(), org);
    let all = Selector::all();
    let values: BTreeSet<String> = reader
        .label_names(&all)
        .iter()
        .flat_map(|name| reader.label_values(name, &all))
        .collect();
    results(&headers, values.into_iter().collect())
}

fn results(headers: &HeaderMap, names: Vec<String>) -> Response {
    json(
        StatusCode::OK,
        serde_json::json!({ "results": names }).to_string(),
        headers,
    )
}

/// `GET /api/v1/version`.
pub async fn version(headers: HeaderMap) -> Response {
    let body = serde_json::json!({
        "version": format!("KairosDB 1.3.0 (Sextant {})", env!("CARGO_PKG_VERSION"))
    });
    json(StatusCode::OK, format!("{body}\n"), &headers)
}

/// `GET /api/v1/health/status`: always 200 with the checks' states.
pub async fn health_status(headers: HeaderMap) -> Response {
    json(
        StatusCode::OK,
        r#"["JVM-Thread-Deadlock: OK","Datastore-Query: OK"]"#.to_owned(),
        &headers,
    )
}

/// `GET /api/v1/health/check`: 204 when the server is up.
pub async fn health_check() -> Response {
    no_content()
}
