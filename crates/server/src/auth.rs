//! Authentication: every request but `/health`, `/metrics`, signed file downloads (whose
//! URL carries its own signature, [`crate::files`]) and the routes the binary serves beside
//! the front ends without a key (the web console's pages, [`crate::app::router_with`]) carries
//! an API key, which is
//! resolved to a [`Principal`] (organization and scope) before any handler runs. A request
//! without a valid key is refused — `UNAUTHENTICATED` for gRPC, 401 for HTTP — and touches
//! nothing.
//!
//! Authorization is [`authorize`] over one scope matrix ([`Action::scopes`]): every protocol
//! names what a request does as an [`Action`], and a refusal is a [`Denied`], mapped by each
//! transport's one error mapping.
//!
//! Accepted forms: `authorization: Bearer KEY` (Sift, native), `authorization: Token KEY`
//! (InfluxDB clients), `authorization: Basic …` with the key as the password (clients that can
//! only send a user name and password, such as KairosDB's and Telegraf's InfluxDB 1.x output;
//! the user name is ignored) and `x-sf-token: KEY` (SignalFx clients).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use sextant_catalog::{Principal, Scope, Scopes};
use sextant_model::ErrorKind;
use tonic::Status;

use crate::error::{HttpError, status};
use crate::state::AppState;

/// Paths served without a key.
const PUBLIC: &[&str] = &["/health", "/metrics"];

/// The middleware: resolves the key and stores the [`Principal`] in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    // `POST /v2/session` is how a SignalFx client gets a key (its path may start `//`);
    // `DELETE /v2/session` ends one, with that key.
    // The SignalFlow WebSocket carries its token in its first message (`signalflow::ws`).
    if PUBLIC.contains(&path)
        || (path.trim_start_matches('/') == "v2/session"
            && request.method() == axum::http::Method::POST)
        || path == "/v2/signalflow/connect"
        // A download URL is signed; the handler checks the signature (`files::rest`).
        || crate::files::rest::is_download(path)
    {
        return next.run(request).await;
    }
    // Browsers send CORS preflights without credentials; KairosDB answers them on every
    // route, and they reach no data. `/api/v1/` is KairosDB's alone: the native API is under
    // `/api/native/v1/` and answers no preflight, so an unauthenticated OPTIONS there is a 401.
    if request.method() == axum::http::Method::OPTIONS && crate::kairos::is_kairos_path(path) {
        return next.run(request).await;
    }
    let grpc = is_grpc(request.headers());
    let Some(secret) = credential(request.headers()) else {
        return refuse(
            grpc,
            path,
            "missing API key: send `authorization: Bearer KEY`",
        );
    };
    let catalog = state.catalog.clone();
    let principal = tokio::task::spawn_blocking(move || catalog.authenticate(&secret))
        .await
        .map_err(HttpError::from)
        .and_then(|found| found.map_err(HttpError::from));
    match principal {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => refuse(grpc, path, "invalid or revoked API key"),
        Err(error) if grpc => Status::from(error).into_http(),
        Err(error) => error.into_response(),
    }
}

/// What a request does, as far as authorization cares. Every handler of every protocol names
/// one (or more) and calls [`authorize`]; the scopes allowed for each are [`Action::scopes`],
/// the one scope matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Store points: Sift ingest streams, line protocol, KairosDB datapoints and `save_as`.
    WritePoints,
    /// Create or change what writing needs: ingestion configs and flows, runs, tags, attached
    /// files; SignalFx metric, dimension and tag updates and tag deletes.
    WriteMetadata,
    /// Read metadata: assets, channels, configs, runs, rules, annotations, users, tags, metric
    /// and tag names. Ingesting clients look up their own configs, so ingest keys may.
    ReadMetadata,
    /// Read points: Sift `GetData`, KairosDB queries, rule evaluation over stored data, an
    /// attached file's bytes.
    ReadData,
    /// Delete points (KairosDB deletes).
    DeleteData,
    /// Create, change and archive rules; create and review annotations.
    ManageRules,
    /// Create users (and, later, keys and organizations).
    ManageUsers,
    /// Maintenance of the whole server: flushing and merging parts.
    Maintain,
}

impl Action {
    /// Every action, in the order of the matrix.
    pub const ALL: [Action; 8] = [
        Action::WritePoints,
        Action::WriteMetadata,
        Action::ReadMetadata,
        Action::ReadData,
        Action::DeleteData,
        Action::ManageRules,
        Action::ManageUsers,
        Action::Maintain,
    ];

    /// The scope matrix: the scopes whose keys may do this. Drawn in `docs/architecture.md`
    /// (*Authorization*); change both together.
    ///
    /// `admin` may do everything. `read` is for dashboards and analysts: it reads data and
    /// metadata and changes nothing. `ingest` is for writers: points, the metadata writing
    /// needs, rules and annotations, deletes; it reads metadata (a client looks up its own
    /// configs and channels) but not points.
    pub fn scopes(self) -> &'static [Scope] {
        use Scope::{Admin, Ingest, Read};
        match self {
            Action::WritePoints => &[Ingest, Admin],
            Action::WriteMetadata => &[Ingest, Admin],
            Action::ReadMetadata => &[Ingest, Read, Admin],
            Action::ReadData => &[Read, Admin],
            Action::DeleteData => &[Ingest, Admin],
            Action::ManageRules => &[Ingest, Admin],
            Action::ManageUsers => &[Admin],
            Action::Maintain => &[Admin],
        }
    }

    /// What the action is, as a denial says it.
    pub fn describe(self) -> &'static str {
        match self {
            Action::WritePoints => "write points",
            Action::WriteMetadata => "create or change ingestion configs, runs or tags",
            Action::ReadMetadata => "read metadata",
            Action::ReadData => "read data",
            Action::DeleteData => "delete data",
            Action::ManageRules => "manage rules or annotations",
            Action::ManageUsers => "manage users",
            Action::Maintain => "run maintenance",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A refusal: the key's scope does not allow the action. Answered as 403 over HTTP and
/// `PERMISSION_DENIED` over gRPC, with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this {scopes} key may not {action}: that needs a key of scope {}", allowed(*action))]
pub struct Denied {
    /// The scopes of the key used.
    pub scopes: Scopes,
    /// What the request would have done.
    pub action: Action,
}

impl Denied {
    /// Always [`ErrorKind::PermissionDenied`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::PermissionDenied
    }
}

fn allowed(action: Action) -> String {
    let names: Vec<&str> = action.scopes().iter().map(|s| s.as_str()).collect();
    names.join(" or ")
}

/// Whether `principal` may do `action`, by the scope matrix ([`Action::scopes`]). The one
/// authorization check of every protocol; organizations are checked apart (every call is
/// scoped to the key's organization, see [`check_organization`]).
pub fn authorize(principal: &Principal, action: Action) -> Result<(), Denied> {
    if action
        .scopes()
        .iter()
        .any(|s| principal.scopes.contains(*s))
    {
        Ok(())
    } else {
        Err(Denied {
            scopes: principal.scopes,
            action,
        })
    }
}

/// The principal of a gRPC call, if it may do `action`: [`authorize`], with a refusal mapped
/// by the gRPC mapping.
pub fn authorize_call<T>(request: &tonic::Request<T>, action: Action) -> Result<Principal, Status> {
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| status(ErrorKind::Unauthenticated, "missing API key"))?;
    authorize(&principal, action)?;
    Ok(principal)
}

/// Checks a request's `organization_id` field against the key's organization: empty means
/// the key's own.
pub fn check_organization(principal: &Principal, requested: &str) -> Result<(), Status> {
    if requested.is_empty() || requested == principal.organization_id {
        Ok(())
    } else {
        Err(status(
            ErrorKind::PermissionDenied,
            format!(
                "this API key belongs to organization {}, not {requested}",
                principal.organization_id
            ),
        ))
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

/// A 401 in the error shape of the protocol the path belongs to, as its clients parse it:
/// InfluxDB 2's `{"code", "message"}` under `/api/v2/`, KairosDB's `{"errors": [...]}` under
/// `/api/v1/`, `{"error": ...}` elsewhere (InfluxDB 1, SignalFx, the native API).
fn refuse(grpc: bool, path: &str, message: &str) -> Response {
    if grpc {
        Status::unauthenticated(message).into_http()
    } else {
        let error = HttpError::new(ErrorKind::Unauthenticated, message);
        let mut response = if path.starts_with("/api/v2/") {
            crate::influx::write::reply(crate::influx::write::Dialect::V2, error)
        } else if crate::kairos::is_kairos_path(path) {
            error.respond(crate::kairos::errors_body)
        } else {
            error.into_response()
        };
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scopes: impl Into<Scopes>) -> Principal {
        Principal {
            organization_id: "org".into(),
            key_id: "key".into(),
            key_name: "test key".into(),
            scopes: scopes.into(),
        }
    }

    /// The scope matrix as `docs/architecture.md` draws it: every action against every scope.
    #[test]
    fn the_scope_matrix() {
        const Y: bool = true;
        const N: bool = false;
        #[rustfmt::skip]
        let matrix = [
            //                      ingest read admin
            (Action::WritePoints,   [Y,     N,   Y]),
            (Action::WriteMetadata, [Y,     N,   Y]),
            (Action::ReadMetadata,  [Y,     Y,   Y]),
            (Action::ReadData,      [N,     Y,   Y]),
            (Action::DeleteData,    [Y,     N,   Y]),
            (Action::ManageRules,   [Y,     N,   Y]),
            (Action::ManageUsers,   [N,     N,   Y]),
            (Action::Maintain,      [N,     N,   Y]),
        ];
        assert_eq!(
            matrix.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            Action::ALL,
            "every action has a row"
        );
        for (action, row) in matrix {
            for (scope, expected) in [Scope::Ingest, Scope::Read, Scope::Admin]
                .into_iter()
                .zip(row)
            {
                let got = authorize(&key(scope), action);
                assert_eq!(got.is_ok(), expected, "{scope} × {action:?}");
                if let Err(denied) = got {
                    assert_eq!(
                        denied,
                        Denied {
                            scopes: scope.into(),
                            action
                        }
                    );
                }
            }
        }
    }

    #[test]
    fn a_denial_names_the_key_the_action_and_the_scopes_that_may() {
        let denied = authorize(&key(Scope::Read), Action::WritePoints).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "this read key may not write points: that needs a key of scope ingest or admin"
        );
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
        let denied = authorize(&key(Scope::Ingest), Action::Maintain).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "this ingest key may not run maintenance: that needs a key of scope admin"
        );
        // A key of several scopes may do what any of them may.
        let both: Scopes = "ingest,read".parse().unwrap();
        for action in [Action::WritePoints, Action::ReadData, Action::ManageRules] {
            assert!(authorize(&key(both), action).is_ok(), "{action:?}");
        }
        let denied = authorize(&key(both), Action::ManageUsers).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "this ingest,read key may not manage users: that needs a key of scope admin"
        );
    }

    #[test]
    fn a_grpc_denial_is_permission_denied_and_a_missing_key_unauthenticated() {
        let mut request = tonic::Request::new(());
        let err = authorize_call(&request, Action::ReadData).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        request.extensions_mut().insert(key(Scope::Ingest));
        let err = authorize_call(&request, Action::ReadData).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(
            err.message().contains("may not read data"),
            "{}",
            err.message()
        );
        assert_eq!(
            authorize_call(&request, Action::ReadMetadata)
                .unwrap()
                .scopes,
            Scope::Ingest.into()
        );
    }
}
