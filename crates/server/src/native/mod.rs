//! Sextant's own HTTP JSON API under `/api/v1`, for what no client protocol covers: users and
//! tags that rules refer to, rules applied from rule modules, historical rule evaluation, and
//! annotations (see `docs/rules.md` for the bodies).
//!
//! Errors are `{"error": "..."}` with the status of their kind ([`HttpError`]); times are
//! nanoseconds since the Unix epoch.

mod rules;

pub use rules::{EvalBody, RuleBody, annotation_json};

use axum::Router;
use axum::routing::{get, post};

use crate::error::HttpError;
use crate::state::AppState;

/// The native routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/users",
            get(rules::list_users).post(rules::create_user),
        )
        .route(
            "/api/v1/tags",
            get(rules::list_tags).post(rules::create_tag),
        )
        .route(
            "/api/v1/rules",
            get(rules::list_rules).post(rules::apply_rule),
        )
        .route("/api/v1/rules/eval", post(rules::eval_rule))
        .route("/api/v1/rules/flush", post(rules::flush_rules))
        .route("/api/v1/annotations", get(rules::list_annotations))
        .route(
            "/api/v1/annotations/{id}",
            get(rules::get_annotation).patch(rules::update_annotation),
        )
}

/// Runs a blocking call (catalog, store, rule engine) off the async threads.
async fn blocking<T, F>(call: F) -> Result<T, HttpError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, HttpError> + Send + 'static,
{
    tokio::task::spawn_blocking(call).await?
}
