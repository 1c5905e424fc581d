//! Sextant's own HTTP JSON API under `/api/native/v1`, for what no client protocol covers:
//! users and tags that rules refer to, rules applied from rule modules, historical rule
//! evaluation, and annotations (see `docs/rules.md` for the bodies). It has a prefix of its
//! own because KairosDB's REST API owns `/api/v1`. The bodies are the types of `sextant-api`,
//! which the SDK and the CLI read with.
//!
//! Errors are `{"error": "..."}` with the status of their kind ([`HttpError`]); times are
//! nanoseconds since the Unix epoch.

mod events;
mod explore;
mod files;
mod keys;
mod rule_status;
mod rules;
mod runs;
pub(crate) mod wire;

use axum::Router;
use axum::routing::{delete, get, post};
use sextant_api::paths;

use crate::error::HttpError;
use crate::state::AppState;

/// The native routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::USERS,
            get(rules::list_users).post(rules::create_user),
        )
        .route(paths::TAGS, get(rules::list_tags).post(rules::create_tag))
        .route(paths::RULES, get(rules::list_rules).post(rules::apply_rule))
        .route(paths::RULES_EVAL, post(rules::eval_rule))
        .route(paths::RULES_FLUSH, post(rules::flush_rules))
        .route(paths::ANNOTATIONS, get(rules::list_annotations))
        .route(paths::EVENTS, get(events::list_events))
        .route(paths::WHOAMI, get(explore::whoami))
        .route(paths::SERIES, get(explore::list_series))
        .route(paths::PLOT, post(explore::plot))
        .route(paths::RUNS, get(runs::list_runs))
        .route(paths::RUN, get(runs::get_run))
        .route(paths::ASSETS, get(rule_status::list_assets))
        .route(paths::RULES_STATUS, get(rule_status::rule_status))
        .route(paths::FILES, get(files::list_files))
        .route(paths::KEYS, get(keys::list_keys).post(keys::create_key))
        .route(paths::KEY, delete(keys::revoke_key))
        .route(
            paths::ANNOTATION,
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
