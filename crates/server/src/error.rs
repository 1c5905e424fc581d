//! Errors mapped to each transport's statuses, in one place per transport. Internal errors
//! reach the client as a generic message; their detail goes to the log.

use sextant_model::ErrorKind;
use tonic::{Code, Status};

/// The gRPC code for an error kind.
pub fn grpc_code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::LimitExceeded => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
    }
}

/// The HTTP status for an error kind.
pub fn http_status(kind: ErrorKind) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match kind {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists => StatusCode::CONFLICT,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A gRPC status for an error of `kind` whose message is `message`. Internal errors are
/// logged and answered generically.
pub fn status(kind: ErrorKind, message: impl std::fmt::Display) -> Status {
    if kind == ErrorKind::Internal {
        let id = next_incident();
        tracing::error!(incident = id, error = %message, "internal error");
        return Status::internal(format!(
            "internal error (incident {id}; see the server log)"
        ));
    }
    Status::new(grpc_code(kind), message.to_string())
}

/// A status from a catalog error.
pub fn catalog_status(error: sextant_catalog::Error) -> Status {
    status(error.kind(), error)
}

fn next_incident() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
