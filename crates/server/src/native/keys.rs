//! The organization's API keys over HTTP (admin keys only): list, create with scopes,
//! revoke. `sextant keys` does the same on the data directory while the server is stopped.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use sextant_api::explore::{ApiKeyInfo, CreateKey, CreatedKey, KeyList};
use sextant_catalog::{ApiKey, Principal, Scope, Scopes};

use super::blocking;
use crate::auth::{Action, authorize};
use crate::error::{HttpError, JsonBody};
use crate::state::AppState;

fn info(key: &ApiKey) -> ApiKeyInfo {
    ApiKeyInfo {
        key_id: key.id.clone(),
        name: key.name.clone(),
        scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        created_at: key.created_at,
        revoked: key.revoked_at.is_some(),
    }
}

pub(super) async fn list_keys(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<KeyList>, HttpError> {
    authorize(&principal, Action::ManageUsers)?;
    let keys =
        blocking(move || Ok(state.catalog.list_api_keys(&principal.organization_id)?)).await?;
    Ok(Json(KeyList {
        keys: keys.iter().map(info).collect(),
    }))
}

pub(super) async fn create_key(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), HttpError> {
    authorize(&principal, Action::ManageUsers)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        return Err(HttpError::invalid("name: a key needs a name"));
    }
    let scopes = body
        .scopes
        .iter()
        .map(|s| {
            s.parse::<Scope>()
                .map_err(|e| HttpError::invalid(format!("scopes: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scopes = Scopes::from_list(scopes).ok_or_else(|| {
        HttpError::invalid("scopes: a key needs at least one of ingest, read, admin")
    })?;
    let (key, secret) = blocking(move || {
        Ok(state
            .catalog
            .create_api_key(&principal.organization_id, &name, scopes)?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: info(&key),
            secret,
        }),
    ))
}

pub(super) async fn revoke_key(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyInfo>, HttpError> {
    authorize(&principal, Action::ManageUsers)?;
    let key = blocking(move || {
        Ok(state
            .catalog
            .revoke_api_key(&principal.organization_id, &id)?)
    })
    .await?;
    Ok(Json(info(&key)))
}
