//! Errors mapped to each transport's statuses, in one place per transport: [`status`] for gRPC,
//! [`HttpError`] for HTTP.
//!
//! Every error carries an [`ErrorKind`]; the kind decides the status ([`grpc_code`],
//! [`http_status`]). What the client reads depends on the kind too: an internal error's detail
//! (a path, an I/O error, a bug) goes to the log with the request's id ([`crate::request_id`]),
//! and the client gets only a generic message naming that id; every other kind, 429 and 503
//! included, is answered with its message, which names what is wrong.
//!
//! HTTP protocols keep their own body shapes (`{"error": …}`, InfluxDB 2's
//! `{"code": …, "message": …}`, KairosDB's `{"errors": […]}`): each passes a small formatter
//! of an [`ErrorReply`] to [`HttpError::respond`]; the status and the hiding happen here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sextant_model::ErrorKind;
use tonic::{Code, Status};

use crate::auth::Denied;
use crate::request_id::{self, RequestId};

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
pub fn http_status(kind: ErrorKind) -> StatusCode {
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

/// Logs the detail of an internal error with the running request's id (or a new id outside a
/// request) and returns what the client is told instead: a generic message naming that id.
pub fn hide_internal(detail: impl std::fmt::Display) -> String {
    let id = request_id::current_or_new();
    tracing::error!(request_id = %id, error = %detail, "internal error");
    generic_message(&id)
}

/// What a client is shown of an error of `kind`: its message, or for an internal error the
/// generic one of [`hide_internal`]. For code that reports errors among other messages.
pub fn shown_message(error: &impl std::fmt::Display, kind: ErrorKind) -> String {
    if kind == ErrorKind::Internal {
        hide_internal(error)
    } else {
        error.to_string()
    }
}

fn generic_message(id: &RequestId) -> String {
    format!("internal error (request id {id}; the detail is in the server log)")
}

/// A gRPC status for an error of `kind` whose message is `message`. Internal errors are
/// logged with the request id and answered generically ([`hide_internal`]).
pub fn status(kind: ErrorKind, message: impl std::fmt::Display) -> Status {
    if kind == ErrorKind::Internal {
        return Status::internal(hide_internal(message));
    }
    Status::new(grpc_code(kind), message.to_string())
}

/// A status from a catalog error.
pub fn catalog_status(error: sextant_catalog::Error) -> Status {
    status(error.kind(), error)
}

impl From<Denied> for Status {
    fn from(denied: Denied) -> Status {
        status(denied.kind(), denied)
    }
}

impl From<HttpError> for Status {
    /// For code shared by both transports (authentication): the same kind, the same hiding.
    fn from(error: HttpError) -> Status {
        status(error.kind, error.messages.join("; "))
    }
}

/// The error of an HTTP handler: a kind and the messages that say what is wrong. Built from a
/// kind and a message, or from any library error through its kind. Answered by
/// [`IntoResponse`] in Sextant's own shape, `{"error": "…"}`, or by [`HttpError::respond`] in a
/// protocol's.
#[derive(Debug)]
pub struct HttpError {
    kind: ErrorKind,
    /// One message, or several where a protocol reports each problem apart (KairosDB).
    messages: Vec<String>,
    /// A status other than the kind's, where a protocol's peers answer so (see
    /// [`HttpError::with_status`]).
    status: Option<StatusCode>,
}

impl HttpError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl std::fmt::Display) -> HttpError {
        HttpError {
            kind,
            messages: vec![message.to_string()],
            status: None,
        }
    }

    /// An error of `kind` with several messages, each a problem of its own.
    pub fn with_messages(kind: ErrorKind, messages: Vec<String>) -> HttpError {
        HttpError {
            kind,
            messages,
            status: None,
        }
    }

    /// Invalid input, saying what is wrong with it.
    pub fn invalid(message: impl std::fmt::Display) -> HttpError {
        HttpError::new(ErrorKind::InvalidInput, message)
    }

    /// An internal failure; `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> HttpError {
        HttpError::new(ErrorKind::Internal, detail)
    }

    /// Answers with `status` instead of the kind's, for a protocol whose peers do (KairosDB
    /// answers an evaluation failure with 500 and its message). The kind still decides
    /// whether the message is shown.
    pub fn with_status(mut self, status: StatusCode) -> HttpError {
        self.status = Some(status);
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What the client is told: the status, and the messages or, for an internal error, a
    /// generic message naming the request id (the detail is logged here).
    pub fn reply(self) -> ErrorReply {
        let messages = if self.kind == ErrorKind::Internal {
            vec![hide_internal(self.messages.join("; "))]
        } else {
            self.messages
        };
        ErrorReply {
            status: self.status.unwrap_or_else(|| http_status(self.kind)),
            kind: self.kind,
            messages,
        }
    }

    /// The response in a protocol's shape: `format` makes the body of the reply, this sets the
    /// status.
    pub fn respond(self, format: impl FnOnce(&ErrorReply) -> Response) -> Response {
        let reply = self.reply();
        let mut response = format(&reply);
        *response.status_mut() = reply.status;
        response
    }
}

/// What a client is told about an error, for a protocol's formatter to shape.
#[derive(Debug, Clone)]
pub struct ErrorReply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error's kind, for protocols that name it (InfluxDB 2's `code`).
    pub kind: ErrorKind,
    /// What is wrong, one problem each; never empty.
    pub messages: Vec<String>,
}

impl ErrorReply {
    /// The messages as one.
    pub fn message(&self) -> String {
        self.messages.join("; ")
    }
}

/// A JSON body with `application/json`: what formatters usually return.
pub fn json_body(body: &serde_json::Value) -> Response {
    let mut response = body.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for HttpError {
    /// Sextant's own shape: `{"error": "…"}`.
    fn into_response(self) -> Response {
        self.respond(|reply| json_body(&serde_json::json!({ "error": reply.message() })))
    }
}

impl From<Denied> for HttpError {
    fn from(denied: Denied) -> HttpError {
        HttpError::new(denied.kind(), denied)
    }
}

impl From<sextant_catalog::Error> for HttpError {
    fn from(error: sextant_catalog::Error) -> HttpError {
        HttpError::new(error.kind(), error)
    }
}

impl From<sextant_storage::Error> for HttpError {
    fn from(error: sextant_storage::Error) -> HttpError {
        HttpError::new(error.kind(), error)
    }
}

impl From<sextant_query::Error> for HttpError {
    fn from(error: sextant_query::Error) -> HttpError {
        HttpError::new(error.kind(), error)
    }
}

impl From<sextant_rules::Error> for HttpError {
    fn from(error: sextant_rules::Error) -> HttpError {
        HttpError::new(error.kind(), error)
    }
}

impl From<sextant_model::BatchError> for HttpError {
    fn from(error: sextant_model::BatchError) -> HttpError {
        HttpError::new(error.kind(), error)
    }
}

impl From<sextant_collections::Error> for HttpError {
    /// A schema's problems are shown one per entry; a damaged file or failed sync is an
    /// internal error whose detail goes to the log.
    fn from(error: sextant_collections::Error) -> HttpError {
        match error {
            sextant_collections::Error::Schema(problems) => HttpError::with_messages(
                ErrorKind::InvalidInput,
                problems.iter().map(ToString::to_string).collect(),
            ),
            other => HttpError::new(other.kind(), other),
        }
    }
}

impl From<sextant_kairos::Error> for HttpError {
    /// The KairosDB model is pure and knows no kinds: an invalid request is invalid input; an
    /// evaluation failure (a NaN result, `rate` meeting two points at one timestamp) is caused
    /// by the query too, so its message is shown, with the 500 KairosDB answers.
    fn from(error: sextant_kairos::Error) -> HttpError {
        match error {
            sextant_kairos::Error::Invalid(messages) => {
                HttpError::with_messages(ErrorKind::InvalidInput, messages)
            }
            sextant_kairos::Error::Runtime(message) => {
                HttpError::new(ErrorKind::InvalidInput, message)
                    .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
            // The query's time ran out (or its client left, who reads no answer).
            sextant_kairos::Error::Stopped(message) => {
                HttpError::new(ErrorKind::LimitExceeded, message)
                    .with_status(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }
}

impl From<tokio::task::JoinError> for HttpError {
    /// A blocking task that panicked or was cancelled: a bug, whose detail is logged.
    fn from(error: tokio::task::JoinError) -> HttpError {
        HttpError::internal(format!("a blocking task failed: {error}"))
    }
}

/// A JSON body whose refusal (no JSON content type, malformed JSON, a missing field) is an
/// [`HttpError`], so that it is answered in the protocol's shape like every other error. The
/// status stays axum's (415, 400 or 422) and the message names the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    axum::Json<T>:
        axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, HttpError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => {
                Err(HttpError::invalid(rejection.body_text()).with_status(rejection.status()))
            }
        }
    }
}

/// Query parameters whose refusal is an [`HttpError`], as for [`JsonBody`].
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, HttpError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => {
                Err(HttpError::invalid(rejection.body_text()).with_status(rejection.status()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_status_and_internal_detail_is_hidden() {
        for (kind, code, shown) in [
            (ErrorKind::InvalidInput, 400, true),
            (ErrorKind::NotFound, 404, true),
            (ErrorKind::AlreadyExists, 409, true),
            (ErrorKind::Unauthenticated, 401, true),
            (ErrorKind::PermissionDenied, 403, true),
            (ErrorKind::LimitExceeded, 429, true),
            (ErrorKind::Unavailable, 503, true),
            (ErrorKind::Internal, 500, false),
        ] {
            let reply = HttpError::new(kind, "the detail /var/lib/x").reply();
            assert_eq!(reply.status.as_u16(), code, "{kind}");
            assert_eq!(reply.message().contains("/var/lib/x"), shown, "{kind}");
            if !shown {
                assert!(reply.message().starts_with("internal error (request id "));
            }
            let status = status(kind, "the detail /var/lib/x");
            assert_eq!(status.code(), grpc_code(kind));
            assert_eq!(status.message().contains("/var/lib/x"), shown, "{kind}");
        }
    }

    #[tokio::test]
    async fn an_internal_error_names_the_running_request() {
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|| async { HttpError::internal("disk on fire") }),
            )
            .layer(axum::middleware::from_fn(request_id::assign));
        let request = axum::http::Request::get("/")
            .header("x-request-id", "abc-123")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["x-request-id"], "abc-123");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["error"],
            "internal error (request id abc-123; the detail is in the server log)"
        );
    }

    #[test]
    fn kairos_evaluation_failures_keep_their_message_with_a_500() {
        let reply = HttpError::from(sextant_kairos::Error::Runtime("sma: size 0".into())).reply();
        assert_eq!(reply.status, 500);
        assert_eq!(reply.messages, ["sma: size 0"]);
        let reply =
            HttpError::from(sextant_kairos::Error::Invalid(vec!["a".into(), "b".into()])).reply();
        assert_eq!(reply.status, 400);
        assert_eq!(reply.messages, ["a", "b"]);
    }
}
