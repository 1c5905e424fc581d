//! `POST /api/native/v1/admin/flush`: writes the head into parts and merges every partition's parts
//! into one, now rather than when the background flusher gets to it. For benchmarks and
//! operators who want the data directory in its settled form (to measure it, or before a
//! backup). Needs an `admin` key.
//!
//! The reply is `200` with what was done ([`AdminFlushResponse`]):
//! `{"flushed_points": N, "parts_written": N, "partitions_merged": N, "parts_removed": N}`.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use sextant_api::{AdminFlushResponse, paths};

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
