//! KairosDB's REST API (`/api/v1/...`) on Sextant's listener, so KairosDB clients work
//! unchanged. The request and response model, time handling and the aggregator engine are
//! the pure crate `sextant-kairos`; these handlers map HTTP to it and to the store.
//!
//! A KairosDB metric with tags is a Sextant series: metric `cpu.usage_user` with tag
//! `host=h1` is the series `cpu.usage_user{host="h1"}`, the same series line protocol's
//! `cpu,host=h1 usage_user=…` writes, so each protocol sees the other's data. KairosDB's
//! millisecond timestamps are Sextant's nanoseconds divided by 10⁶.
//!
//! Every route also answers with a trailing slash (Jersey does), and every route answers
//! `OPTIONS` with a CORS preflight. Errors have KairosDB's shape, `{"errors": [...]}`, with
//! the status of Sextant's one HTTP mapping ([`crate::error`]).

pub mod answer;
pub mod read;
pub mod write;

use std::io::Write as _;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use sextant_model::ErrorKind;

use crate::auth::Denied;
use crate::error::{ErrorReply, HttpError};
use crate::state::AppState;

/// The base path Proficloud's client puts before KairosDB's API (`<base>api/v1/…`); every
/// route is served under it too.
pub const PROFICLOUD_BASE: &str = "/ds/v1/kairos";

/// Whether `path` is one of KairosDB's, at the root or under Proficloud's base path.
pub fn is_kairos_path(path: &str) -> bool {
    path.strip_prefix(PROFICLOUD_BASE)
        .unwrap_or(path)
        .starts_with("/api/v1/")
}

/// The largest body accepted, after decompression.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// The KairosDB routes.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    let table: Vec<(&str, MethodRouter<AppState>)> = vec![
        ("/api/v1/datapoints", post(write::datapoints)),
        // Proficloud's gateway path for the same body.
        ("/api/v1/datapoints/write", post(write::datapoints)),
        (
            "/api/v1/datapoints/query",
            post(read::query_post).get(read::query_get),
        ),
        ("/api/v1/datapoints/query/tags", post(read::query_tags)),
        ("/api/v1/datapoints/delete", post(read::delete_datapoints)),
        ("/api/v1/metric/{name}", delete(read::delete_metric)),
        ("/api/v1/metricnames", get(read::metric_names)),
        ("/api/v1/tagnames", get(read::tag_names)),
        ("/api/v1/tagvalues", get(read::tag_values)),
        ("/api/v1/version", get(read::version)),
        ("/api/v1/health/status", get(read::health_status)),
        ("/api/v1/health/check", get(read::health_check)),
    ];
    for (path, method) in table {
        let method = method.options(preflight);
        router = router
            .route(path, method.clone())
            .route(&format!("{path}/"), method);
    }
    router.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("Content-Type, Authorization"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// A JSON reply with KairosDB's headers, gzipped when the client accepts it and the body is
/// worth it.
pub fn json(status: StatusCode, body: String, request: &HeaderMap) -> Response {
    let gzip = body.len() > 1024 && accepts_gzip(request);
    let mut response = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        match encoder
            .write_all(body.as_bytes())
            .and_then(|()| encoder.finish())
        {
            Ok(bytes) => {
                let mut r = (status, bytes).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            Err(_) => (status, body).into_response(),
        }
    } else {
        (status, body).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    no_cache(h);
    response
}

/// Whether the client of a request with `headers` accepts gzip.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

/// 204 with KairosDB's headers.
pub fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    no_cache(response.headers_mut());
    response
}

fn no_cache(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("0"));
}

/// KairosDB's error shape, `{"errors": [...]}`: the formatter of the one HTTP mapping.
pub fn errors_body(reply: &ErrorReply) -> Response {
    let body = serde_json::json!({ "errors": reply.messages }).to_string();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

/// A failed request, answered as `{"errors": [...]}` with the status of the one HTTP mapping
/// ([`HttpError`]): internal details are logged, never answered.
#[derive(Debug)]
pub struct Failure(pub HttpError);

impl Failure {
    /// An invalid request, saying what is wrong.
    pub fn invalid(message: impl std::fmt::Display) -> Failure {
        Failure(HttpError::invalid(message))
    }

    /// An invalid request with one message per problem (KairosDB reports each).
    pub fn rejected(messages: Vec<String>) -> Failure {
        Failure(HttpError::with_messages(ErrorKind::InvalidInput, messages))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        self.0.respond(errors_body)
    }
}

impl From<HttpError> for Failure {
    fn from(error: HttpError) -> Failure {
        Failure(error)
    }
}

impl From<sextant_kairos::Error> for Failure {
    fn from(error: sextant_kairos::Error) -> Failure {
        Failure(error.into())
    }
}

impl From<sextant_query::Error> for Failure {
    fn from(error: sextant_query::Error) -> Failure {
        Failure(error.into())
    }
}

impl From<sextant_storage::Error> for Failure {
    fn from(error: sextant_storage::Error) -> Failure {
        Failure(error.into())
    }
}

impl From<Denied> for Failure {
    fn from(denied: Denied) -> Failure {
        Failure(denied.into())
    }
}

impl From<tokio::task::JoinError> for Failure {
    fn from(error: tokio::task::JoinError) -> Failure {
        Failure(error.into())
    }
}

/// An internal failure: `detail` is logged, the client gets a generic message.
pub fn internal(detail: impl std::fmt::Display) -> Failure {
    Failure(HttpError::internal(detail))
}

/// The body, decompressed when it says it is gzip (`Content-Encoding: gzip`, or KairosDB's
/// older `Content-Type: application/gzip`).
pub fn body_bytes<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<std::borrow::Cow<'a, [u8]>, Failure> {
    if !crate::body::is_gzip(headers) {
        return Ok(std::borrow::Cow::Borrowed(body));
    }
    crate::body::gunzip(body, MAX_BODY_BYTES)
        .map(std::borrow::Cow::Owned)
        .map_err(|e| Failure::invalid(e.to_string()))
}

/// Now by the server's clock, in epoch milliseconds (KairosDB's relative times count from it).
pub fn now_ms(state: &AppState) -> i64 {
    state.clock.now().div_euclid(1_000_000)
}
