//! Finding and plotting series: `whoami`, `series` and `plot`, which the web console reads
//! with (any client may). A plot reads through the query crate ([`sextant_query::sample`]):
//! numbers and booleans sampled per pixel column (first, lowest, highest, last), text as it
//! is, the first four points of each column.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::DataType as ArrowType;
use axum::extract::State;
use axum::{Extension, Json};
use sextant_api::explore::{
    BitFieldPart, ChannelInfo, EnumName, PlotAnswer, PlotRequest, PlotSeries, PlotValue,
    SeriesItem, SeriesList, SeriesQuery, Whoami,
};
use sextant_catalog::{AssetFilter, Catalog, ChannelFilter, Page, Principal};
use sextant_model::{ErrorKind, SeriesKey, Timestamp};
use sextant_query::{Reader, SeriesRef, sample};

use super::blocking;
use crate::auth::{Action, authorize};
use crate::budget::QueryBudget;
use crate::error::{HttpError, JsonBody, QueryParams};
use crate::state::{AppState, org_number};

/// The most series `GET /series` answers.
const MAX_LIST: usize = 1000;
/// The most series one plot reads.
const MAX_PLOT_SERIES: usize = 32;
/// The most pixel columns of a plot.
const MAX_WIDTH: u32 = 8192;
/// The raw points a plot holds at once per series while it samples.
const PAGE: usize = 65_536;
/// The most values a plot answers per pixel column of a text series.
const PER_COLUMN: usize = 4;

pub(super) async fn whoami(Extension(principal): Extension<Principal>) -> Json<Whoami> {
    Json(Whoami {
        organization_id: principal.organization_id,
        key_id: principal.key_id,
        key_name: principal.key_name,
        scopes: principal
            .scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    })
}

pub(super) async fn list_series(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryParams(query): QueryParams<SeriesQuery>,
) -> Result<Json<SeriesList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIST {
        return Err(HttpError::invalid(format!(
            "limit {limit} is out of range: ask for 1 to {MAX_LIST} series"
        )));
    }
    let selector = match &query.selector {
        Some(text) => sextant_query::selector::parse(text)
            .map_err(|e| HttpError::invalid(format!("match: {e}")))?,
        None => sextant_query::Selector::all(),
    };
    let words: Vec<String> = query
        .q
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let org = org_number(&principal.organization_id);
    let list = blocking(move || {
        let mut selected = Reader::new(state.store.as_ref(), org).select(&selector);
        if !words.is_empty() {
            selected.retain(|s| {
                let key = s.key.to_string().to_lowercase();
                words.iter().all(|w| key.contains(w.as_str()))
            });
        }
        let truncated = selected.len() > limit;
        let series = selected
            .into_iter()
            .take(limit)
            .map(|s| SeriesItem {
                key: s.key.to_string(),
                name: s.key.name().to_owned(),
                labels: s
                    .key
                    .labels()
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                data_type: s.data_type.to_string(),
            })
            .collect();
        Ok(SeriesList { series, truncated })
    })
    .await?;
    Ok(Json(list))
}

pub(super) async fn plot(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(request): JsonBody<PlotRequest>,
) -> Result<Json<PlotAnswer>, HttpError> {
    authorize(&principal, Action::ReadData)?;
    if request.series.is_empty() || request.series.len() > MAX_PLOT_SERIES {
        return Err(HttpError::invalid(format!(
            "series: {} given; a plot reads 1 to {MAX_PLOT_SERIES} series",
            request.series.len()
        )));
    }
    if request.width == 0 || request.width > MAX_WIDTH {
        return Err(HttpError::invalid(format!(
            "width {} is out of range: 1 to {MAX_WIDTH} pixel columns",
            request.width
        )));
    }
    if request.start >= request.end {
        return Err(HttpError::invalid(format!(
            "start {} is not before end {}",
            request.start, request.end
        )));
    }
    let keys = request
        .series
        .iter()
        .map(|text| {
            text.parse::<SeriesKey>()
                .map_err(|e| HttpError::invalid(format!("series {text:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The range (positive, below 2^64) cut into `width` buckets, rounded up.
    let span = request.end.abs_diff(request.start);
    let bucket = i64::try_from(span.div_ceil(u64::from(request.width))).unwrap_or(i64::MAX);
    let buckets = sample::Buckets {
        origin: request.start,
        width: bucket,
    };
    let org = org_number(&principal.organization_id);
    let limits = state.query_limits(&principal.organization_id).await;
    let (budget, _client) = QueryBudget::start(&limits);
    let range = request.start..request.end;
    let org_id = principal.organization_id.clone();
    let series = blocking(move || {
        let proceed = || budget.check();
        let reader = Reader::new(state.store.as_ref(), org).stopping_when(&proceed);
        keys.into_iter()
            .map(|key| {
                let channel = channel_info(state.catalog.as_ref(), &org_id, &key)?;
                let mut series = plot_series(&reader, key, range.clone(), buckets)?;
                series.channel = channel;
                Ok(series)
            })
            .collect::<Result<Vec<_>, HttpError>>()
    })
    .await?;
    Ok(Json(PlotAnswer {
        start: request.start,
        end: request.end,
        bucket,
        series,
    }))
}

/// The declaration of the channel `key` is, if its `asset` label names an asset that declared
/// a channel of its name.
fn channel_info(
    catalog: &dyn Catalog,
    org: &str,
    key: &SeriesKey,
) -> Result<Option<ChannelInfo>, HttpError> {
    let Some(asset) = key.label("asset") else {
        return Ok(None);
    };
    let filter = AssetFilter {
        names: Some(vec![asset.to_owned()]),
        ..AssetFilter::default()
    };
    let Some(asset) = catalog.list_assets(org, &filter, Page::first(1))?.0.pop() else {
        return Ok(None);
    };
    let filter = ChannelFilter {
        asset_ids: Some(vec![asset.id]),
        names: Some(vec![key.name().to_owned()]),
        ..ChannelFilter::default()
    };
    let Some(channel) = catalog.list_channels(org, &filter, Page::first(1))?.0.pop() else {
        return Ok(None);
    };
    let def = channel.def;
    Ok(Some(ChannelInfo {
        unit: def.unit,
        enum_types: def
            .enum_types
            .into_iter()
            .map(|e| EnumName {
                key: e.key,
                name: e.name,
            })
            .collect(),
        bit_field_elements: def
            .bit_field_elements
            .into_iter()
            .map(|b| BitFieldPart {
                name: b.name,
                index: b.index,
                bit_count: b.bit_count,
            })
            .collect(),
    }))
}

fn plot_series(
    reader: &Reader<'_>,
    key: SeriesKey,
    range: Range<Timestamp>,
    buckets: sample::Buckets,
) -> Result<PlotSeries, HttpError> {
    let data_type = reader
        .select(&sextant_query::selector::of_key(&key))
        .into_iter()
        .find(|s| s.key == key)
        .map(|s| s.data_type)
        .ok_or_else(|| HttpError::new(ErrorKind::NotFound, format!("no series {key}")))?;
    let series = SeriesRef {
        key: key.clone(),
        data_type,
    };
    let (points, read, sampled, truncated) =
        match sample::read(reader, &series, range.clone(), buckets, PAGE)? {
            Some(s) => (s.points, s.read, true, false),
            None => {
                // Text (and bytes): the first few of each pixel column.
                let s = sample::read_first(reader, &series, range, buckets, PER_COLUMN, PAGE)?;
                let truncated = s.points.len() < s.read;
                (s.points, s.read, false, truncated)
            }
        };
    Ok(PlotSeries {
        key: key.to_string(),
        data_type: data_type.to_string(),
        points: read,
        sampled,
        truncated,
        t: points
            .timestamps
            .values()
            .iter()
            .map(|&ns| ns as f64 / 1e6)
            .collect(),
        v: values(points.values.as_ref()),
        channel: None,
    })
}

/// The values of an Arrow array as a plot answers them. 64-bit integers beyond 2^53 lose
/// their last digits, as they would in a browser anyway.
#[allow(clippy::cast_precision_loss)]
fn values(array: &dyn Array) -> Vec<Option<PlotValue>> {
    fn numbers<T: ArrowPrimitiveType>(
        array: &dyn Array,
        float: impl Fn(T::Native) -> f64,
    ) -> Vec<Option<PlotValue>> {
        let array = array.as_primitive::<T>();
        (0..array.len())
            .map(|i| {
                let v = float(array.value(i));
                (array.is_valid(i) && v.is_finite()).then_some(PlotValue::Number(v))
            })
            .collect()
    }
    match array.data_type() {
        ArrowType::Float64 => numbers::<Float64Type>(array, |v| v),
        ArrowType::Float32 => numbers::<Float32Type>(array, f64::from),
        ArrowType::Int32 => numbers::<Int32Type>(array, f64::from),
        ArrowType::Int64 => numbers::<Int64Type>(array, |v| v as f64),
        ArrowType::UInt32 => numbers::<UInt32Type>(array, f64::from),
        ArrowType::UInt64 => numbers::<UInt64Type>(array, |v| v as f64),
        ArrowType::Boolean => {
            let array = array.as_boolean();
            (0..array.len())
                .map(|i| array.is_valid(i).then(|| PlotValue::Bool(array.value(i))))
                .collect()
        }
        ArrowType::Utf8 => {
            let array = array.as_string::<i32>();
            (0..array.len())
                .map(|i| {
                    array
                        .is_valid(i)
                        .then(|| PlotValue::Text(array.value(i).to_owned()))
                })
                .collect()
        }
        _ => vec![None; array.len()],
    }
}
