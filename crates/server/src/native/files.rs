//! The files attached to a run, an annotation or a log entry, each with a signed download path
//! (the same signature as Sift's download URLs, valid for [`URL_LIFETIME`]): how the web
//! console opens a run's attachments.

use std::time::Duration;

use axum::extract::State;
use axum::{Extension, Json};
use sextant_api::explore::{FileInfo, FileList, FileQuery};
use sextant_catalog::{Page, Principal, RemoteFileFilter};

use super::blocking;
use crate::auth::{Action, authorize};
use crate::error::{HttpError, QueryParams};
use crate::files::URL_LIFETIME;
use crate::files::rest::{files, form};
use crate::state::AppState;

pub(super) async fn list_files(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryParams(query): QueryParams<FileQuery>,
) -> Result<Json<FileList>, HttpError> {
    // Listing offers downloads: it needs what a download needs.
    authorize(&principal, Action::ReadData)?;
    let entity = form::entity_type(&query.entity_type)
        .map_err(|e| HttpError::invalid(format!("entity_type: {e}")))?;
    let store = files(&state)?;
    let now = Duration::from_nanos(u64::try_from(state.clock.now()).unwrap_or(0));
    let expires = (now + URL_LIFETIME).as_secs();
    let filter = RemoteFileFilter {
        entity_types: Some(vec![entity.as_str().to_owned()]),
        entity_ids: Some(vec![query.entity_id]),
        ..RemoteFileFilter::default()
    };
    let found = blocking(move || {
        Ok(sextant_catalog::all_pages(|page: Page| {
            state
                .catalog
                .list_remote_files(&principal.organization_id, &filter, page)
        })?)
    })
    .await?;
    Ok(Json(FileList {
        files: found
            .iter()
            .map(|f| FileInfo {
                file_id: f.id.clone(),
                file_name: f.file_name.clone(),
                mime_type: f.mime_type.clone(),
                size: f.size,
                created_at: f.created_at,
                download_path: store.download_path(f, expires),
            })
            .collect(),
    }))
}
