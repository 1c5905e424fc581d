//! SignalFx's HTTP APIs, as the `signalfx` Python client (and pyformance's reporter) speak
//! them: ingest (`POST /v2/datapoint`, `POST /v2/event`) and the metadata REST API. The
//! bodies are decoded by the pure `sextant-signalfx` crate; this module is the glue to the
//! store, the catalog and the in-memory metadata index ([`index`]). `docs/protocols/signalfx.md`
//! says what is served and how SignalFx's data model maps onto series.
//!
//! Errors are answered in SignalFx's shape, `{"code": <status>, "message": "…"}`, with the
//! status of their kind ([`HttpError`]).

pub mod index;
pub mod ingest;
pub mod rest;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::{HttpError, json_body};
use crate::state::AppState;

/// The SignalFx routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/session",
            post(rest::create_session).delete(rest::delete_session),
        )
        .route("/v2/datapoint", post(ingest::datapoint))
        .route("/v2/event", post(ingest::event))
        .layer(DefaultBodyLimit::max(ingest::MAX_BODY_BYTES))
        .route("/v2/metric", get(rest::search_metrics))
        .route(
            "/v2/metric/{name}",
            get(rest::get_metric).put(rest::update_metric),
        )
        .route("/v2/dimension", get(rest::search_dimensions))
        .route(
            "/v2/dimension/{key}/{value}",
            get(rest::get_dimension).put(rest::update_dimension),
        )
        .route("/v2/metrictimeseries", get(rest::search_mts))
        .route("/v2/metrictimeseries/{id}", get(rest::get_mts))
        .route("/v2/tag", get(rest::search_tags))
        .route(
            "/v2/tag/{name}",
            get(rest::get_tag)
                .put(rest::update_tag)
                .delete(rest::delete_tag),
        )
        .route("/v2/organization", get(rest::organization))
}

/// 200 with the JSON body `"OK"`, as SignalFx's ingest answers.
fn ok() -> Response {
    let mut response = "\"OK\"".into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error in SignalFx's shape.
pub(crate) fn reply_error(error: HttpError) -> Response {
    error.respond(|reply| {
        json_body(&serde_json::json!({
            "code": reply.status.as_u16(),
            "message": reply.message(),
        }))
    })
}
