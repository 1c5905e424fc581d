//! Runs over HTTP, for the web console's run pages: the runs Sift clients create, each with
//! the names of the assets that sent data with it. A run's series carry its id in their `run`
//! label.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use sextant_api::explore::{RunInfo, RunList, RunQuery};
use sextant_catalog::{AssetFilter, Catalog, Page, Principal, Run, RunFilter};
use sextant_query::{Match, Order, Reader, Scan, Selector, Series, SeriesRef};

use super::blocking;
use crate::auth::{Action, authorize};
use crate::error::{HttpError, QueryParams};
use crate::state::{AppState, org_number};

/// The most series of one run whose first and last points are read for its data range.
const MAX_RANGE_SERIES: usize = 1000;

/// The runs as answered, their asset ids looked up as names.
fn infos(catalog: &dyn Catalog, org: &str, runs: Vec<Run>) -> Result<Vec<RunInfo>, HttpError> {
    let mut ids: Vec<String> = runs.iter().flat_map(|r| r.asset_ids.clone()).collect();
    ids.sort();
    ids.dedup();
    let assets = if ids.is_empty() {
        Vec::new()
    } else {
        let filter = AssetFilter {
            ids: Some(ids),
            ..AssetFilter::default()
        };
        catalog
            .list_assets(org, &filter, Page::first(Page::MAX_SIZE))?
            .0
    };
    Ok(runs
        .into_iter()
        .map(|run| RunInfo {
            assets: run
                .asset_ids
                .iter()
                .filter_map(|id| assets.iter().find(|a| &a.id == id))
                .map(|a| a.name.clone())
                .collect(),
            run_id: run.id,
            name: run.name,
            description: run.description,
            tags: run.tags,
            start_time: run.start_time,
            stop_time: run.stop_time,
            data_range: None,
        })
        .collect())
}

pub(super) async fn list_runs(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryParams(query): QueryParams<RunQuery>,
) -> Result<Json<RunList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let page = Page {
        size: query.page_size.unwrap_or(Page::DEFAULT_SIZE),
        token: query.page_token.unwrap_or_default(),
    };
    let list = blocking(move || {
        let catalog = state.catalog.as_ref();
        let org = &principal.organization_id;
        let (runs, next) = catalog.list_runs(org, &RunFilter::default(), page)?;
        Ok(RunList {
            runs: infos(catalog, org, runs)?,
            next_page_token: next,
        })
    })
    .await?;
    Ok(Json(list))
}

pub(super) async fn get_run(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<RunInfo>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let run = blocking(move || {
        let catalog = state.catalog.as_ref();
        let org = &principal.organization_id;
        let run = catalog.get_run(org, &id)?;
        let mut info = infos(catalog, org, vec![run])?.remove(0);
        let reader = Reader::new(state.store.as_ref(), org_number(org));
        info.data_range = data_range(&reader, &id)?;
        Ok(info)
    })
    .await?;
    Ok(Json(run))
}

/// The first and last timestamps among the series of run `id` (the first
/// [`MAX_RANGE_SERIES`] of them): two reads of one point per series.
fn data_range(reader: &Reader<'_>, id: &str) -> Result<Option<(i64, i64)>, HttpError> {
    let selector = Selector::all().label("run", Match::equal(id));
    let series: Vec<SeriesRef> = reader
        .select(&selector)
        .into_iter()
        .take(MAX_RANGE_SERIES)
        .map(SeriesRef::from)
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let edge = |order: Order| -> Result<Vec<i64>, HttpError> {
        let scan = Scan::new(Series::List(series.clone()), i64::MIN..i64::MAX)
            .order(order)
            .series_limit(1);
        Ok(reader
            .scan(&scan)?
            .batches
            .iter()
            .filter_map(|b| b.points.timestamps.values().first().copied())
            .collect())
    };
    let first = edge(Order::Ascending)?.into_iter().min();
    let last = edge(Order::Descending)?.into_iter().max();
    Ok(first.zip(last))
}
