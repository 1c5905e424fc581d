//! Event collections over HTTP: TruEra's streaming ingest request at
//! `POST /api/v0/ingest/streaming/events`, and the native API's collections (create, add
//! columns, list, read joined events, per-window statistics). The decoding and checks are
//! `sextant-collections`'; this is the glue (`docs/collections.md`).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use sextant_api::collections::{
    Collection, CollectionList, CollectionSchema, CreateCollection, EventRows, EventsQuery,
    IngestResponse, Stats, StatsQuery,
};
use sextant_api::paths;
use sextant_catalog::Principal;
use sextant_collections::Collections;
use sextant_model::ErrorKind;
use sextant_storage::WritePolicy;

use crate::auth::{Action, authorize};
use crate::budget::QueryBudget;
use crate::error::{HttpError, JsonBody, QueryParams};
use crate::state::{AppState, org_number};

/// The largest ingest body, after gzip: 1000 events of a few kilobytes each.
const MAX_BODY_BYTES: usize = 64 << 20;

/// The collections routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::INGEST_EVENTS,
            post(ingest).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route(paths::COLLECTIONS, get(list).post(create))
        .route(paths::COLLECTION, get(describe).put(update).delete(delete))
        .route(paths::COLLECTION_EVENTS, get(events))
        .route(paths::COLLECTION_STATS, get(stats))
}

pub(crate) fn collections(state: &AppState) -> Result<Arc<Collections>, HttpError> {
    state.collections.clone().ok_or_else(|| {
        HttpError::new(
            ErrorKind::Unavailable,
            "this server keeps no event collections (it was started without a data directory for them)",
        )
    })
}

/// Runs a collection call on a blocking thread: ingest waits for its log's sync, and reads
/// walk every inference.
async fn blocking<T, F>(call: F) -> Result<T, HttpError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, HttpError> + Send + 'static,
{
    tokio::task::spawn_blocking(call).await?
}

/// `POST /api/v0/ingest/streaming/events`: each event stored or refused alone; the answer
/// lists the refusals by type and column, and comes after the stored ones are fsynced.
async fn ingest(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<IngestResponse>, HttpError> {
    authorize(&principal, Action::WritePoints)?;
    let collections = collections(&state)?;
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let now = state.clock.now();
    let org = org_number(&principal.organization_id);
    let store = state.store.clone();
    let metrics = state.metrics.clone();
    let budget = state.decode_budget.clone();
    // The body's share of the decode budget, taken as it arrives and held until its write
    // is done.
    let (body, mut share) = crate::body::receive(&budget, body, MAX_BODY_BYTES).await?;
    let response = blocking(move || {
        let body = crate::body::inflate(&budget, &mut share, &body, gzip, MAX_BODY_BYTES)?;
        let _share = share;
        let request =
            sextant_collections::event::decode_request(&body).map_err(HttpError::invalid)?;
        let collection = collections.get(org, &request.model_id)?;
        // The inferences' numeric and bool inputs and predictions become series first, all
        // or nothing: if the store refuses one, nothing of the request is kept.
        collection.ingest_with(&request, now, collections.limits(), |schema, entries| {
            let batch = sextant_collections::series::batch(org, collection.name(), schema, entries)
                .map_err(HttpError::invalid)?;
            let Some(batch) = batch else {
                return Ok(());
            };
            let outcome = store.write_with(batch, WritePolicy::AllOrNothing)?;
            if let Some(refusal) = outcome.refused.first() {
                return Err(HttpError::new(
                    refusal.kind(),
                    format!(
                        "no event was stored: the series of the inferences' outputs were refused: {refusal}"
                    ),
                ));
            }
            metrics.ingested("collections", outcome.points());
            Ok(())
        })
    })
    .await?;
    if response.num_errors > 0 {
        state
            .metrics
            .refused("collections", "invalid", response.num_errors);
    }
    Ok(Json(response))
}

/// `POST /api/native/v1/collections`.
async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<CreateCollection>,
) -> Result<(axum::http::StatusCode, Json<Collection>), HttpError> {
    authorize(&principal, Action::WriteMetadata)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    let created = blocking(move || Ok(collections.create(org, &body.name, &body.schema)?)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(created.describe())))
}

/// `PUT /api/native/v1/collections/{name}`: the schema with columns added.
async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    JsonBody(schema): JsonBody<CollectionSchema>,
) -> Result<Json<Collection>, HttpError> {
    authorize(&principal, Action::WriteMetadata)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    let updated = blocking(move || {
        let collection = collections.get(org, &name)?;
        collection.update_schema(&schema)?;
        Ok(collection.describe())
    })
    .await?;
    Ok(Json(updated))
}

/// `DELETE /api/native/v1/collections/{name}`: the collection and its events (its series stay).
async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<axum::http::StatusCode, HttpError> {
    authorize(&principal, Action::DeleteData)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    blocking(move || Ok(collections.delete(org, &name)?)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `GET /api/native/v1/collections`.
async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<CollectionList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    let list = collections.list(org).iter().map(|c| c.describe()).collect();
    Ok(Json(CollectionList { collections: list }))
}

/// `GET /api/native/v1/collections/{name}`.
async fn describe(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Collection>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    Ok(Json(collections.get(org, &name)?.describe()))
}

/// `GET /api/native/v1/collections/{name}/events`.
async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Result<Json<EventRows>, HttpError> {
    authorize(&principal, Action::ReadData)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    // The read stops at the query deadline, or when its client goes away (this future, with
    // the guard, is then dropped).
    let limits = state.query_limits(&principal.organization_id).await;
    let (budget, _client) = QueryBudget::start(&limits);
    let rows = blocking(move || {
        let proceed = || budget.check();
        Ok(collections.get(org, &name)?.query(&query, &proceed)?)
    })
    .await?;
    Ok(Json(rows))
}

/// `GET /api/native/v1/collections/{name}/stats`.
async fn stats(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    QueryParams(query): QueryParams<StatsQuery>,
) -> Result<Json<Stats>, HttpError> {
    authorize(&principal, Action::ReadData)?;
    let collections = collections(&state)?;
    let org = org_number(&principal.organization_id);
    let limits = state.query_limits(&principal.organization_id).await;
    let (budget, _client) = QueryBudget::start(&limits);
    let stats = blocking(move || {
        let proceed = || budget.check();
        Ok(collections.get(org, &name)?.stats(&query, &proceed)?)
    })
    .await?;
    Ok(Json(stats))
}
