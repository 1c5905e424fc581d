//! InfluxDB's line protocol: `POST /write` (v1) and `POST /api/v2/write`. The parser is pure
//! (bytes in, lines out); the handlers turn lines into a write batch.

pub mod parser;
pub mod write;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;

use crate::state::AppState;

/// The line-protocol routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/write", post(write::write_v1))
        .route("/api/v2/write", post(write::write_v2))
        .layer(DefaultBodyLimit::max(write::MAX_BODY_BYTES))
}
