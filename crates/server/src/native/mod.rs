//! Sextant's own HTTP JSON API under `/api/native/v1`, for what no client protocol covers:
//! users and tags that rules refer to, rules applied from rule modules, historical rule
//! evaluation, and annotations (see `docs/rules.md` for the bodies). It has a prefix of its
//! own because KairosDB's REST API owns `/api/v1`. The bodies are the types of `sextant-api`,
//! which the SDK and the CLI read with.
//!
//! Errors are `{"error": "..."}` with the status of their kind; times are nanoseconds since
//! the Unix epoch.

mod rules;
pub(crate) mod wire;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sextant_api::paths;
use sextant_catalog::{Principal, Scope};
use sextant_model::ErrorKind;

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
        .route(
            paths::ANNOTATION,
            get(rules::get_annotation).patch(rules::update_annotation),
        )
}

/// An error answered as `{"error": message}` with the status of its kind. Internal errors are
/// logged and answered generically.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    message: String,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl std::fmt::Display) -> Self {
        ApiError {
            kind,
            message: message.to_string(),
        }
    }

    /// Invalid input.
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
}

impl From<sextant_catalog::Error> for ApiError {
    fn from(e: sextant_catalog::Error) -> Self {
        ApiError::new(e.kind(), e)
    }
}

impl From<sextant_rules::Error> for ApiError {
    fn from(e: sextant_rules::Error) -> Self {
        ApiError::new(e.kind(), e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.kind == ErrorKind::Internal {
            // Logged and answered generically, as for gRPC.
            crate::error::status(self.kind, &self.message)
                .message()
                .to_owned()
        } else {
            self.message
        };
        let status =
            StatusCode::from_u16(crate::error::http_status(self.kind).as_u16()).unwrap_or_default();
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// Refuses a principal whose key may not do what needs `scope` (reads accept ingest keys).
fn allow(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    let allowed = match scope {
        Scope::Read => principal.scope.allows(Scope::Read) || principal.scope.allows(Scope::Ingest),
        other => principal.scope.allows(other),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::PermissionDenied,
            format!(
                "this {} key may not do this ({scope} needed)",
                principal.scope
            ),
        ))
    }
}

/// Runs a blocking call (catalog, store, rule engine) off the async threads.
async fn blocking<T, F>(call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, e))?
}
