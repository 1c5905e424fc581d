//! `POST /api/native/v1/admin/flush`: writes the head into parts and merges every partition's parts
//! into one, now rather than when the background flusher gets to it. For benchmarks and
//! operators who want the data directory in its settled form (to measure it, or before a
//! backup). It acts on every organization's data, so it needs an `admin` key of the server's
//! own organization: the first one created (`default`, where the bootstrap key lives). An
//! admin key of any other organization is refused with 403.
//!
//! The reply is `200` with what was done ([`AdminFlushResponse`]):
//! `{"flushed_points": N, "parts_written": N, "partitions_merged": N, "parts_removed": N}`.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use sextant_api::{AdminFlushResponse, paths};

use sextant_model::ErrorKind;

use crate::auth::{Action, Principal, authorize};
use crate::error::HttpError;
use crate::state::AppState;

/// The admin routes.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(paths::ADMIN_FLUSH, post(flush))
}

async fn flush(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<AdminFlushResponse>, HttpError> {
    authorize(&principal, Action::Maintain)?;
    let catalog = state.catalog.clone();
    let first = tokio::task::spawn_blocking(move || catalog.list_organizations())
        .await??
        .into_iter()
        .next();
    if first.as_ref().map(|org| org.id.as_str()) != Some(principal.organization_id.as_str()) {
        return Err(HttpError::new(
            ErrorKind::PermissionDenied,
            format!(
                "flushing and merging act on every organization's data: only an admin key of the server's own organization{} may; this key belongs to {}",
                first
                    .map(|org| format!(" `{}`", org.name))
                    .unwrap_or_default(),
                principal.organization_id
            ),
        ));
    }
    let store = state.store.clone();
    let (flushed, merged) = tokio::task::spawn_blocking(move || {
        let flushed = store.flush()?;
        let merged = store.merge(2)?;
        Ok::<_, sextant_storage::Error>((flushed, merged))
    })
    .await??;
    Ok(Json(AdminFlushResponse {
        flushed_points: flushed.points,
        parts_written: flushed.parts as u64,
        partitions_merged: merged.partitions_rewritten as u64,
        parts_removed: merged.parts_removed as u64,
    }))
}
