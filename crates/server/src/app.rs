//! The router: every protocol's routes under one listener, behind authentication.

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::state::AppState;

/// Builds the router of all front ends.
pub fn router(state: AppState) -> Router {
    let http = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(crate::metrics::handler))
        .merge(crate::influx::routes())
        .merge(crate::kairos::routes())
        .merge(crate::admin::routes())
        .with_state(state.clone());
    crate::sift::routes(&state)
        .into_axum_router()
        .merge(http)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(state, crate::metrics::count))
}

/// `GET /health`: 200 once the server accepts writes.
async fn health() -> &'static str {
    "ok\n"
}
