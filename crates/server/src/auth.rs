//! Authentication: every request but `/health` and `/metrics` carries an API key, which is
//! resolved to a [`Principal`] (organization and scope) before any handler runs. A request
//! without a valid key is refused — `UNAUTHENTICATED` for gRPC, 401 for HTTP — and touches
//! nothing.
//!
//! Accepted forms: `authorization: Bearer KEY` (Sift, native), `authorization: Token KEY`
//! (InfluxDB clients), `authorization: Basic …` with the key as the password (clients that can
//! only send a user name and password, such as KairosDB's and Telegraf's InfluxDB 1.x output;
//! the user name is ignored) and `x-sf-token: KEY` (SignalFx clients).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use sextant_catalog::{Principal, Scope};
use tonic::Status;

use crate::state::AppState;

/// Paths served without a key.
const PUBLIC: &[&str] = &["/health", "/metrics"];

/// The middleware: resolves the key and stores the [`Principal`] in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if PUBLIC.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    // Browsers send CORS preflights without credentials; KairosDB answers them on every
    // route, and they reach no data. `/api/v1/` is KairosDB's alone: the native API is under
    // `/api/native/v1/` and answers no preflight, so an unauthenticated OPTIONS there is a 401.
    if request.method() == axum::http::Method::OPTIONS
        && request.uri().path().starts_with("/api/v1/")
    {
        return next.run(request).await;
    }
    let grpc = is_grpc(request.headers());
    let Some(secret) = credential(request.headers()) else {
        return refuse(grpc, "missing API key: send `authorization: Bearer KEY`");
    };
    let principal = state.catalog(move |c| c.authenticate(&secret)).await;
    match principal {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => refuse(grpc, "invalid or revoked API key"),
        Err(status) => {
            if grpc {
                status.into_http()
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    status.message().to_owned(),
                )
                    .into_response()
            }
        }
    }
}

/// The principal of a gRPC request, if it may do what `need` says.
pub fn require<T>(request: &tonic::Request<T>, need: Need) -> Result<Principal, Status> {
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("missing API key"))?;
    let allowed = match need {
        Need::Read => principal.scope.allows(Scope::Read) || principal.scope.allows(Scope::Ingest),
        Need::Download => principal.scope.allows(Scope::Read),
        Need::Ingest => principal.scope.allows(Scope::Ingest),
        Need::Admin => principal.scope.allows(Scope::Admin),
    };
    if allowed {
        Ok(principal)
    } else {
        Err(Status::permission_denied(format!(
            "this {} key may not {}",
            principal.scope,
            need.describe()
        )))
    }
}

/// What a call needs its key to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading metadata (assets, channels, configs, runs): read and ingest keys; ingesting
    /// clients look up their own configs.
    Read,
    /// Reading data: read keys.
    Download,
    /// Writing data and the metadata that goes with it: ingest keys.
    Ingest,
    /// Managing keys and organizations.
    Admin,
}

impl Need {
    fn describe(self) -> &'static str {
        match self {
            Need::Read => "read metadata",
            Need::Download => "read data",
            Need::Ingest => "ingest",
            Need::Admin => "administer",
        }
    }
}

/// Checks a request's `organization_id` field against the key's organization: empty means
/// the key's own.
pub fn check_organization(principal: &Principal, requested: &str) -> Result<(), Status> {
    if requested.is_empty() || requested == principal.organization_id {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "this API key belongs to organization {}, not {requested}",
            principal.organization_id
        )))
    }
}

fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        for scheme in ["Bearer ", "bearer ", "Token ", "token "] {
            if let Some(key) = value.strip_prefix(scheme) {
                let key = key.trim();
                return (!key.is_empty()).then(|| key.to_owned());
            }
        }
        if let Some(encoded) = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
        {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let pair = String::from_utf8(decoded).ok()?;
            let (_user, password) = pair.split_once(':')?;
            return (!password.is_empty()).then(|| password.to_owned());
        }
        return None;
    }
    headers
        .get("x-sf-token")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

fn refuse(grpc: bool, message: &str) -> Response {
    if grpc {
        Status::unauthenticated(message).into_http()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            format!("{message}\n"),
        )
            .into_response()
    }
}
