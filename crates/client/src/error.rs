use sextant_model::ErrorKind;

/// The SDK's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection settings are unusable.
    #[error("invalid connection settings: {0}")]
    Config(String),
    /// The server could not be reached.
    #[error("cannot connect to {uri}")]
    Connect {
        /// The server's URI.
        uri: String,
        /// The cause.
        source: tonic::transport::Error,
    },
    /// The server refused or failed a call.
    #[error("{call} failed: {status_message} ({code:?})", status_message = .status.message(), code = .status.code())]
    Rpc {
        /// Which call.
        call: &'static str,
        /// The server's answer.
        status: tonic::Status,
    },
    /// Data does not fit the telemetry config; nothing was sent.
    #[error("{0}")]
    Validation(String),
    /// What a query names does not exist on the server.
    #[error("{0}")]
    NotFound(String),
    /// The server answered with something the SDK cannot read.
    #[error("{0}")]
    Decode(String),
    /// An HTTP request (the native or KairosDB API) could not be made.
    #[error("HTTP request to {url} failed: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The server answered a KairosDB request with an error.
    #[error("the server answered {status}: {}", .messages.join("; "))]
    Kairos {
        /// The HTTP status.
        status: u16,
        /// The messages of its `{"errors": [...]}` body.
        messages: Vec<String>,
    },
    /// The server refused a call of its native API.
    #[error("{call}: the server answered {}: {message}", status_line(*.status))]
    Api {
        /// Which call, e.g. `POST /api/native/v1/rules`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The server's message (its `{"error": ...}`).
        message: String,
    },
    /// Writing a result out (CSV, Parquet, a table) failed.
    #[error("cannot write {what}: {source}")]
    Export {
        /// What was being written, e.g. the file's path.
        what: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::Validation(_) => ErrorKind::InvalidInput,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Decode(_) | Error::Export { .. } => ErrorKind::Internal,
            Error::Connect { .. } | Error::Http { .. } => ErrorKind::Unavailable,
            Error::Kairos { status, .. } | Error::Api { status, .. } => match status {
                400 | 422 => ErrorKind::InvalidInput,
                401 => ErrorKind::Unauthenticated,
                403 => ErrorKind::PermissionDenied,
                404 => ErrorKind::NotFound,
                409 => ErrorKind::AlreadyExists,
                413 | 429 => ErrorKind::LimitExceeded,
                503 => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
            Error::Rpc { status, .. } => match status.code() {
                tonic::Code::InvalidArgument
                | tonic::Code::FailedPrecondition
                | tonic::Code::OutOfRange => ErrorKind::InvalidInput,
                tonic::Code::NotFound => ErrorKind::NotFound,
                tonic::Code::AlreadyExists => ErrorKind::AlreadyExists,
                tonic::Code::Unauthenticated => ErrorKind::Unauthenticated,
                tonic::Code::PermissionDenied => ErrorKind::PermissionDenied,
                tonic::Code::ResourceExhausted => ErrorKind::LimitExceeded,
                tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Aborted
                | tonic::Code::Cancelled => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
        }
    }

    /// Wraps a status of `call`.
    pub fn rpc(call: &'static str, status: tonic::Status) -> Self {
        Error::Rpc { call, status }
    }
}

/// `400 Bad Request`: the status with its reason, when it has one.
fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// The SDK's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
