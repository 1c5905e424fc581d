//! The router: every protocol's routes under one listener, behind authentication, each request
//! with an id.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use sextant_model::ErrorKind;

use crate::error::HttpError;
use crate::state::AppState;

/// Builds the router of all front ends.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// [`router`], with `public` served beside the front ends without a key (the web console's
/// pages, which then call the APIs with the key the user signs in with).
pub fn router_with(state: AppState, public: Router) -> Router {
    let http = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(crate::metrics::handler))
        .merge(crate::influx::routes())
        .merge(crate::kairos::routes())
        // Proficloud's gateway puts KairosDB's API under this base path.
        .nest(crate::kairos::PROFICLOUD_BASE, crate::kairos::routes())
        .merge(crate::signalfx::routes())
        .merge(crate::signalflow::routes())
        .merge(crate::admin::routes())
        .merge(crate::native::routes())
        .merge(crate::collections::routes())
        .merge(crate::live::routes())
        .merge(crate::files::rest::routes())
        .merge(crate::sift::data_imports::routes())
        .with_state(state.clone());
    // SignalFx's REST client does not strip a trailing slash from its endpoint, so its paths
    // may start `//v2/`: such a path is served as if its slashes were single.
    let signalfx = crate::signalfx::routes().with_state(state.clone());
    crate::sift::routes(&state)
        .add_service(crate::live::grpc::LiveService::new(state.clone()))
        .into_axum_router()
        .merge(http)
        .fallback(move |req: Request<Body>| collapse_slashes(signalfx.clone(), req))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .merge(public)
        .layer(middleware::from_fn(crate::files::remember_origin))
        .layer(middleware::from_fn_with_state(state, crate::metrics::count))
        // Outermost, so that every reply carries the id, refusals of authentication included.
        .layer(middleware::from_fn(crate::request_id::assign))
}

/// A path with repeated slashes that SignalFx serves once they are collapsed; any other
/// unknown path is [`unknown_route`].
async fn collapse_slashes(signalfx: Router, mut req: Request<Body>) -> Response {
    use tower::ServiceExt;
    let path = req.uri().path();
    if !path.contains("//") {
        return unknown_route(req).await;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    if !collapsed.starts_with("/v2/") {
        return unknown_route(req).await;
    }
    if let Some(query) = req.uri().query() {
        collapsed.push('?');
        collapsed.push_str(query);
    }
    let mut parts = req.uri().clone().into_parts();
    match collapsed.parse() {
        Ok(path_and_query) => parts.path_and_query = Some(path_and_query),
        Err(_) => return unknown_route(req).await,
    }
    match axum::http::Uri::from_parts(parts) {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return unknown_route(req).await,
    }
    match signalfx.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A path no front end serves: gRPC's UNIMPLEMENTED for gRPC calls, a plain 404 for the rest.
async fn unknown_route(req: Request<Body>) -> Response {
    let grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        let status = tonic::Status::unimplemented(format!("no method {}", req.uri().path()));
        return status.into_http::<Body>().into_response();
    }
    let message = format!("no route for {} {}", req.method(), req.uri().path());
    HttpError::new(ErrorKind::NotFound, message).into_response()
}

/// `GET /health`: 200 once the server accepts writes.
async fn health() -> &'static str {
    "ok\n"
}
