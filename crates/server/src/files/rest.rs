//! Sift's REST side of remote files: `POST /api/v0/remote-files/upload` (a multipart form with
//! `entityId`, `entityType`, `file` and optionally `metadata`, `description`,
//! `organizationId`, as `sift_py`'s `FileAttachmentService` sends it) and the signed download
//! `GET /api/v0/remote-files/{id}/download?organization=…&expires=…&signature=…` that
//! `GetRemoteFileDownloadUrl` hands out.
//!
//! The form is read by axum's multipart extractor (the `multer` crate); the few text fields
//! are decoded by [`form`], a pure function that is fuzzed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::{Bytes, BytesMut};
use sextant_catalog::{FileEntity, NewRemoteFile, Principal};
use sextant_model::ErrorKind;
use sextant_storage::blobs::{Blob, BlobError};
use tokio::sync::mpsc;

use super::{Files, blob_of};
use crate::auth::{Action, authorize};
use crate::error::HttpError;
use crate::state::AppState;

/// Where files are.
pub const FILES_PATH: &str = "/api/v0/remote-files";

/// Where they are uploaded.
pub const UPLOAD_PATH: &str = "/api/v0/remote-files/upload";

/// The download route.
const DOWNLOAD_ROUTE: &str = "/api/v0/remote-files/{id}/download";

/// The largest text field of the form (a description or metadata).
const MAX_TEXT_FIELD: usize = 64 << 10;

/// Bytes read from disk per chunk of a download.
const DOWNLOAD_CHUNK: usize = 256 << 10;

/// Chunks of an upload on their way to disk, or of a download on their way to the socket.
const CHUNKS_IN_FLIGHT: usize = 16;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(UPLOAD_PATH, post(upload).layer(DefaultBodyLimit::disable()))
        .route(DOWNLOAD_ROUTE, get(download))
}

/// Whether `path` is a signed download, which carries no key.
pub fn is_download(path: &str) -> bool {
    path.strip_prefix(FILES_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_suffix("/download"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

pub(crate) fn files(state: &AppState) -> Result<Arc<Files>, HttpError> {
    state.files.clone().ok_or_else(|| {
        HttpError::new(
            ErrorKind::Unavailable,
            "this server keeps no files (it was started without a data directory for them)",
        )
    })
}

/// The text fields of an upload form, decoded.
pub mod form {
    use sextant_catalog::{FileEntity, FileMetadata};

    /// `entityType` as `sift_py` sends it (`runs`, `annotations`, `annotation_logs`); the
    /// singular and Sift's enum names (`ENTITY_TYPE_RUN`) are taken too.
    pub fn entity_type(value: &str) -> Result<FileEntity, String> {
        match value.trim() {
            "runs" | "run" | "ENTITY_TYPE_RUN" => Ok(FileEntity::Run),
            "annotations" | "annotation" | "ENTITY_TYPE_ANNOTATION" => Ok(FileEntity::Annotation),
            "annotation_logs" | "annotation_log" | "ENTITY_TYPE_ANNOTATION_LOG" => {
                Ok(FileEntity::AnnotationLog)
            }
            other => Err(format!(
                "entityType {other:?} is not one Sextant attaches files to: runs, annotations, \
                 annotation_logs"
            )),
        }
    }

    /// `metadata`: the JSON `sift_py` writes for an image (`width`, `height`), a video (those
    /// and `duration_seconds`, `timestamp`) or a recording (`duration_seconds`, `timestamp`).
    /// Timestamps are RFC 3339; one without an offset is UTC.
    pub fn metadata(text: &str) -> Result<Option<FileMetadata>, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("metadata is not JSON ({e}): {:?}", clip(text)))?;
        let Some(object) = value.as_object() else {
            if value.is_null() {
                return Ok(None);
            }
            return Err(format!(
                "metadata must be a JSON object, not {}",
                clip(text)
            ));
        };
        let number = |key: &str| -> Result<Option<f64>, String> {
            match object.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .map(Some)
                    .ok_or_else(|| {
                        format!("metadata field {key:?} must be a number at least 0, not {v}")
                    }),
            }
        };
        let pixels = |key: &str| -> Result<Option<u32>, String> {
            match number(key)? {
                None => Ok(None),
                Some(n) if n.fract() == 0.0 && n <= f64::from(u32::MAX) => Ok(Some(n as u32)),
                Some(n) => Err(format!(
                    "metadata field {key:?} must be a whole number of pixels, not {n}"
                )),
            }
        };
        let timestamp = match object.get("timestamp") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(parse_time(s)?),
            Some(other) => {
                return Err(format!(
                    "metadata field \"timestamp\" must be an RFC 3339 time, not {other}"
                ));
            }
        };
        if let Some(key) = object.keys().find(|k| {
            !matches!(
                k.as_str(),
                "width" | "height" | "duration_seconds" | "timestamp"
            )
        }) {
            return Err(format!(
                "metadata field {key:?} is not one Sextant knows: width, height, \
                 duration_seconds, timestamp"
            ));
        }
        let (width, height) = (pixels("width")?, pixels("height")?);
        let duration = number("duration_seconds")?.map(|d| d as f32);
        Ok(match (width, height, duration) {
            (None, None, None) if timestamp.is_none() => None,
            (Some(width), Some(height), None) if timestamp.is_none() => {
                Some(FileMetadata::Image { width, height })
            }
            (Some(width), Some(height), Some(duration_seconds)) => Some(FileMetadata::Video {
                width,
                height,
                duration_seconds,
                timestamp,
            }),
            (None, None, Some(duration_seconds)) => Some(FileMetadata::Audio {
                duration_seconds,
                timestamp,
            }),
            _ => {
                return Err(format!(
                    "metadata {} is neither an image's (width, height), a video's (width, \
                     height, duration_seconds) nor a recording's (duration_seconds)",
                    clip(text)
                ));
            }
        })
    }

    fn parse_time(text: &str) -> Result<i64, String> {
        let parsed = chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.to_utc())
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|t| t.and_utc())
            })
            .map_err(|_| {
                format!(
                    "metadata timestamp {:?} is not an RFC 3339 time such as \
                     2024-05-01T12:00:00Z",
                    clip(text)
                )
            })?;
        parsed.timestamp_nanos_opt().ok_or_else(|| {
            format!(
                "metadata timestamp {:?} is outside the years 1677 to 2262",
                clip(text)
            )
        })
    }

    fn clip(text: &str) -> &str {
        match text.char_indices().nth(80) {
            Some((at, _)) => &text[..at],
            None => text,
        }
    }
}

fn form_error(error: MultipartError) -> HttpError {
    HttpError::new(
        ErrorKind::InvalidInput,
        format!(
            "cannot read the upload's multipart form: {}",
            error.body_text()
        ),
    )
    .with_status(error.status())
}

/// A stored blob no catalog row names yet; removed if the upload fails after it was written.
struct Pending {
    files: Arc<Files>,
    org: String,
    id: String,
    blob: Blob,
    armed: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.armed
            && let Err(error) = self.files.blobs.remove(&self.org, &self.id)
        {
            tracing::warn!(%error, file = %self.id, "cannot remove the bytes of a failed upload");
        }
    }
}

/// The `file` part, as it arrived.
struct Upload {
    pending: Pending,
    file_name: String,
    mime_type: String,
    content_encoding: String,
}

/// `POST /api/v0/remote-files/upload`: the file is written to the blob store as it arrives,
/// then recorded; the answer is `{"remoteFile": …}` in Sift's JSON.
async fn upload(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    mut form: Multipart,
) -> Result<Json<serde_json::Value>, HttpError> {
    authorize(&principal, Action::WriteMetadata)?;
    let files = files(&state)?;
    let _permit = files
        .uploads
        .acquire()
        .await
        .map_err(|_| HttpError::new(ErrorKind::Unavailable, "the server is stopping"))?;
    let org = principal.organization_id.clone();
    let used = {
        let org = org.clone();
        state
            .catalog_http(move |c| c.remote_files_bytes(&org))
            .await?
    };
    let limits = files.limits;
    if used >= limits.org_max_bytes {
        return Err(HttpError::new(
            ErrorKind::LimitExceeded,
            format!(
                "the organization stores {used} bytes of files, its limit is {} bytes; delete \
                 attachments or raise the limit (sextant serve --org-files-max-bytes)",
                limits.org_max_bytes
            ),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let mut entity_id = None;
    let mut entity_type = None;
    let mut description = None;
    let mut metadata = None;
    let mut upload: Option<Upload> = None;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if upload.is_some() {
                    return Err(HttpError::invalid(
                        "the upload has two `file` parts; send one file per upload",
                    ));
                }
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let mime_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let content_encoding = field
                    .headers()
                    .get(header::CONTENT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let id = uuid::Uuid::new_v4().to_string();
                let remaining = limits.org_max_bytes - used;
                let limit = limits.max_file_bytes.min(remaining);
                let blob = receive(&files, &org, &id, limit, &mut field)
                    .await
                    .map_err(|error| match error {
                        BlobError::TooLarge { .. } => HttpError::new(
                            ErrorKind::LimitExceeded,
                            format!(
                                "file {file_name:?} is larger than {limit} bytes: the largest \
                                 file is {} bytes, and the organization has {remaining} of its \
                                 {} bytes of files left",
                                limits.max_file_bytes, limits.org_max_bytes
                            ),
                        )
                        .with_status(StatusCode::PAYLOAD_TOO_LARGE),
                        BlobError::BadName { .. } => HttpError::invalid(error),
                        other => HttpError::internal(other),
                    })?;
                upload = Some(Upload {
                    pending: Pending {
                        files: files.clone(),
                        org: org.clone(),
                        id,
                        blob,
                        armed: true,
                    },
                    file_name,
                    mime_type,
                    content_encoding,
                });
            }
            "entityId" => entity_id = Some(text(&name, &mut field).await?),
            "entityType" => {
                entity_type = Some(
                    form::entity_type(&text(&name, &mut field).await?)
                        .map_err(HttpError::invalid)?,
                )
            }
            "description" => description = Some(text(&name, &mut field).await?),
            "metadata" => {
                metadata =
                    form::metadata(&text(&name, &mut field).await?).map_err(HttpError::invalid)?
            }
            "organizationId" => {
                let requested = text(&name, &mut field).await?;
                if !requested.is_empty() && requested != org {
                    return Err(HttpError::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "organizationId {requested:?} is not the organization of the key \
                             ({org})"
                        ),
                    ));
                }
            }
            other => {
                return Err(HttpError::invalid(format!(
                    "the upload has a form field {other:?} Sextant does not take; it takes \
                     file, entityId, entityType, metadata, description, organizationId"
                )));
            }
        }
    }
    let missing = |what: &str| HttpError::invalid(format!("the upload has no `{what}` field"));
    let mut upload = upload.ok_or_else(|| missing("file"))?;
    let entity_id = entity_id.ok_or_else(|| missing("entityId"))?;
    let entity_type: FileEntity = entity_type.ok_or_else(|| missing("entityType"))?;
    let new = NewRemoteFile {
        id: upload.pending.id.clone(),
        entity_type,
        entity_id,
        file_name: upload.file_name,
        mime_type: upload.mime_type,
        content_encoding: upload.content_encoding,
        size: upload.pending.blob.size,
        sha256: upload.pending.blob.sha256,
        description,
        metadata,
        created_by: principal.key_id.clone(),
    };
    let org_max = limits.org_max_bytes;
    let recorded = state
        .catalog_http(move |c| c.create_remote_file(&org, new, org_max))
        .await?;
    upload.pending.armed = false;
    let file = crate::sift::remote_files::to_pb(recorded);
    Ok(Json(serde_json::json!({ "remoteFile": file })))
}

/// Reads a text field of at most [`MAX_TEXT_FIELD`] bytes.
async fn text(name: &str, field: &mut Field<'_>) -> Result<String, HttpError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(HttpError::invalid(format!(
                "form field {name:?} is longer than {MAX_TEXT_FIELD} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| HttpError::invalid(format!("form field {name:?} is not UTF-8 text")))
}

/// Where the bytes of an upload come from: a multipart form's file part, or a whole body.
pub(crate) trait Chunks {
    /// The next chunk; `Ok(None)` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String>;
}

impl Chunks for Field<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        self.chunk().await.map_err(|e| e.body_text())
    }
}

impl Chunks for Body {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        use http_body_util::BodyExt;
        loop {
            match self.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Streams an upload into the blob store: chunks go to a blocking writer through a bounded
/// channel (so the socket and the disk work at once and memory stays bounded), and the blob is
/// finished only when the upload ended well.
pub(crate) async fn receive(
    files: &Arc<Files>,
    org: &str,
    id: &str,
    limit: u64,
    field: &mut impl Chunks,
) -> Result<Blob, BlobError> {
    let mut writer = files.blobs.create(org, id, limit)?;
    let (tx, mut rx) = mpsc::channel::<Option<Bytes>>(CHUNKS_IN_FLIGHT);
    let task = tokio::task::spawn_blocking(move || {
        while let Some(message) = rx.blocking_recv() {
            match message {
                Some(chunk) => writer.write(&chunk)?,
                None => return writer.finish().map(Some),
            }
        }
        // The part broke off: the writer is dropped, and with it what it wrote.
        Ok(None)
    });
    let mut broken = None;
    loop {
        match field.next_chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(Some(chunk)).await.is_err() {
                    break; // The writer failed; its error is below.
                }
            }
            Ok(None) => {
                let _ = tx.send(None).await;
                break;
            }
            Err(error) => {
                broken = Some(error);
                break;
            }
        }
    }
    drop(tx);
    let written = task.await.map_err(|e| BlobError::Io {
        action: "cannot write",
        path: id.to_owned(),
        source: std::io::Error::other(e),
    })?;
    match (written, broken) {
        (Err(error), _) => Err(error),
        (Ok(Some(blob)), None) => Ok(blob),
        (_, error) => Err(BlobError::Io {
            action: "cannot receive",
            path: id.to_owned(),
            source: std::io::Error::other(
                error.unwrap_or_else(|| "the upload ended early".to_owned()),
            ),
        }),
    }
}

/// The query of a signed download.
#[derive(Debug, serde::Deserialize)]
struct DownloadQuery {
    organization: String,
    expires: u64,
    signature: String,
}

/// `GET /api/v0/remote-files/{id}/download?…`: the file's bytes as uploaded, read and checked
/// against their SHA-256 as they go; a file whose bytes changed on disk breaks off at the end
/// instead of completing.
async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, HttpError> {
    let Query(query) = query.map_err(|e| {
        HttpError::invalid(format!(
            "a download URL needs organization, expires and signature: {e}"
        ))
    })?;
    let files = files(&state)?;
    if !files.verify(&query.organization, &id, query.expires, &query.signature) {
        return Err(HttpError::new(
            ErrorKind::PermissionDenied,
            "the download URL's signature does not match; ask GetRemoteFileDownloadUrl for a new \
             one (URLs made before the server restarted no longer work)",
        ));
    }
    let now = u64::try_from(state.clock.now() / 1_000_000_000).unwrap_or(0);
    if query.expires < now {
        return Err(HttpError::new(
            ErrorKind::PermissionDenied,
            format!(
                "the download URL expired {} s ago; ask GetRemoteFileDownloadUrl for a new one",
                now - query.expires
            ),
        ));
    }
    let org = query.organization;
    let file = {
        let (org, id) = (org.clone(), id.clone());
        state
            .catalog_http(move |c| c.get_remote_file(&org, &id))
            .await?
    };
    let mut reader = files
        .blobs
        .open_blob(&org, &id, blob_of(&file))
        .map_err(HttpError::internal)?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, BlobError>>(CHUNKS_IN_FLIGHT);
    // The last chunk is held back until the checksum is known good: once every byte the
    // length announced is sent, the client would take the file as complete.
    tokio::task::spawn_blocking(move || {
        let mut held: Option<Bytes> = None;
        loop {
            let mut chunk = BytesMut::zeroed(DOWNLOAD_CHUNK);
            match reader.read_chunk(&mut chunk) {
                Ok(0) => {
                    if let Some(last) = held {
                        let _ = tx.blocking_send(Ok(last));
                    }
                    break;
                }
                Ok(n) => {
                    chunk.truncate(n);
                    if let Some(previous) = held.replace(chunk.freeze())
                        && tx.blocking_send(Ok(previous)).is_err()
                    {
                        break; // The client went away.
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "a download broke off");
                    let _ = tx.blocking_send(Err(error));
                    break;
                }
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let name: String = file
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Response::builder()
        .header(header::CONTENT_TYPE, &file.mime_type)
        .header(header::CONTENT_LENGTH, file.size)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .header(
            "x-sextant-sha256",
            sextant_storage::blobs::hex(&file.sha256),
        )
        .body(body)
        .map_err(HttpError::internal)
}

#[cfg(test)]
mod tests {
    use super::form;
    use super::*;
    use sextant_catalog::FileMetadata;

    #[test]
    fn download_paths_are_recognised() {
        assert!(is_download("/api/v0/remote-files/abc/download"));
        assert!(!is_download("/api/v0/remote-files/upload"));
        assert!(!is_download("/api/v0/remote-files//download"));
        assert!(!is_download("/api/v0/remote-files/a/b/download"));
    }

    #[test]
    fn metadata_of_images_videos_and_recordings() {
        assert_eq!(
            form::metadata(r#"{"height": 480, "width": 640}"#).unwrap(),
            Some(FileMetadata::Image {
                width: 640,
                height: 480
            })
        );
        assert_eq!(
            form::metadata(
                r#"{"height": 1, "width": 2, "duration_seconds": 1.5, "timestamp": "2024-05-01T12:00:00"}"#
            )
            .unwrap(),
            Some(FileMetadata::Video {
                width: 2,
                height: 1,
                duration_seconds: 1.5,
                timestamp: Some(1_714_564_800_000_000_000),
            })
        );
        assert_eq!(
            form::metadata(r#"{"duration_seconds": 3, "timestamp": null}"#).unwrap(),
            Some(FileMetadata::Audio {
                duration_seconds: 3.0,
                timestamp: None
            })
        );
        for (bad, says) in [
            ("[1]", "must be a JSON object"),
            (r#"{"width": 1}"#, "neither an image's"),
            (
                r#"{"width": -1, "height": 2}"#,
                "\"width\" must be a number at least 0",
            ),
            (r#"{"width": 1.5, "height": 2}"#, "whole number of pixels"),
            (r#"{"colour": 1}"#, "\"colour\" is not one Sextant knows"),
            (
                r#"{"duration_seconds": 1, "timestamp": "yesterday"}"#,
                "not an RFC 3339",
            ),
            ("{", "not JSON"),
        ] {
            let err = form::metadata(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!(form::entity_type("runs"), Ok(FileEntity::Run));
        assert!(
            form::entity_type("assets")
                .unwrap_err()
                .contains("\"assets\"")
        );
    }
}
