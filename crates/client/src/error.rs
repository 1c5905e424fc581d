use sextant_model::ErrorKind;

/// The SDK's error. Its `Debug` is its `Display`, so that `unwrap` and `main` returning an
/// error print the message rather than the structure.
#[derive(thiserror::Error)]
pub enum Error {
    /// The connection settings are unusable.
    #[error("invalid connection settings: {0}")]
    Config(String),
    /// The server could not be reached.
    #[error("cannot connect to {uri}: {cause}")]
    Connect {
        /// The server's URI.
        uri: String,
        /// Why, each cause after the one it explains: `transport error: tcp connect error:
        /// Connection refused (os error 111)`.
        cause: String,
    },
    /// The server refused or failed a call.
    #[error("{call} failed: {status_message} ({code})", status_message = .status.message(), code = code_name(.status.code()))]
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
    /// Some events sent to a collection were refused (the others were stored); the response
    /// lists every refusal and the events sent are beside it.
    #[error("{}", refused_message(.0))]
    EventsRefused(Box<crate::collections::Ingested>),
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
            Error::Config(_) | Error::Validation(_) | Error::EventsRefused(_) => {
                ErrorKind::InvalidInput
            }
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

/// `2 of 5 events refused: event 1: TYPE_MISMATCH f2: ...; event 3: ...`, the first ten listed.
fn refused_message(ingested: &crate::collections::Ingested) -> String {
    let refused = ingested.refused();
    let mut shown: Vec<String> = refused
        .iter()
        .take(10)
        .map(|(index, _, why)| format!("event {index}: {why}"))
        .collect();
    if refused.len() > 10 {
        shown.push(format!("and {} more", refused.len() - 10));
    }
    format!(
        "{} of {} events refused: {}",
        ingested.response.num_errors,
        ingested.response.num_events,
        shown.join("; ")
    )
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A gRPC status code's name as the gRPC documentation writes it: `UNAUTHENTICATED`.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and each of its sources, joined by `: `, leaving out a source that only repeats
/// the text before it.
pub(crate) fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
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
