//! `sift.remote_files.v1.RemoteFileService`: the files attached to runs, annotations and
//! annotation logs. Their bytes come in through `POST /api/v0/remote-files/upload` and go out
//! through the signed URL [`GetRemoteFileDownloadUrl`](RemoteFileService::get_remote_file_download_url)
//! answers ([`crate::files`]).

use std::time::Duration;

use sextant_catalog::{
    FileEntity, FileMetadata, Page, RemoteFile as CatalogFile, RemoteFileFilter,
};
use sift_rs::remote_files::v1::remote_file_service_server::RemoteFileService;
use sift_rs::remote_files::v1::*;
use tonic::{Request, Response, Status};

use super::convert::timestamp_to_pb;
use super::filter;
use super::unsupported;
use crate::auth::{Action, authorize_call};
use crate::files::rest::form;
use crate::files::{Origin, URL_LIFETIME};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct RemoteFiles {
    pub(crate) state: AppState,
}

fn entity_to_pb(entity: FileEntity) -> EntityType {
    match entity {
        FileEntity::Run => EntityType::Run,
        FileEntity::Annotation => EntityType::Annotation,
        FileEntity::AnnotationLog => EntityType::AnnotationLog,
    }
}

fn file_type(mime: &str) -> RemoteFileType {
    match mime.split('/').next().unwrap_or_default() {
        "image" => RemoteFileType::Image,
        "video" => RemoteFileType::Video,
        "audio" => RemoteFileType::Audio,
        _ => RemoteFileType::Unspecified,
    }
}

/// A stored file in Sift's shape (the upload's JSON answer uses it too).
pub fn to_pb(f: CatalogFile) -> RemoteFile {
    let metadata = f.metadata.map(|m| match m {
        FileMetadata::Image { width, height } => {
            remote_file::Metadata::ImageMetadata(ImageMetadata { height, width })
        }
        FileMetadata::Video {
            width,
            height,
            duration_seconds,
            timestamp,
        } => remote_file::Metadata::VideoMetadata(VideoMetadata {
            height,
            width,
            duration_seconds,
            timestamp: timestamp.map(timestamp_to_pb),
        }),
        FileMetadata::Audio {
            duration_seconds,
            timestamp,
        } => remote_file::Metadata::AudioMetadata(AudioMetadata {
            duration_seconds,
            timestamp: timestamp.map(timestamp_to_pb),
        }),
    });
    RemoteFile {
        storage_key: format!("{}/{}", f.organization_id, f.id),
        remote_file_id: f.id,
        organization_id: f.organization_id,
        entity_id: f.entity_id,
        entity_type: entity_to_pb(f.entity_type) as i32,
        remote_file_type: file_type(&f.mime_type) as i32,
        file_name: f.file_name,
        file_mime_type: f.mime_type,
        file_content_encoding: f.content_encoding,
        file_size: f.size,
        description: f.description,
        created_by_user_id: f.created_by,
        modified_by_user_id: f.modified_by,
        created_date: Some(timestamp_to_pb(f.created_at)),
        modified_date: Some(timestamp_to_pb(f.modified_at)),
        metadata,
        ..Default::default()
    }
}

/// A filter's `entity_type` values (`runs`, `ENTITY_TYPE_RUN`, …) as stored names.
fn entity_types(values: Option<Vec<String>>) -> Result<Option<Vec<String>>, Status> {
    values
        .map(|values| {
            values
                .iter()
                .map(|v| {
                    form::entity_type(v)
                        .map(|e| e.as_str().to_owned())
                        .map_err(Status::invalid_argument)
                })
                .collect()
        })
        .transpose()
}

#[tonic::async_trait]
impl RemoteFileService for RemoteFiles {
    async fn get_remote_file(
        &self,
        request: Request<GetRemoteFileRequest>,
    ) -> Result<Response<GetRemoteFileResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().remote_file_id;
        let file = self
            .state
            .catalog(move |c| c.get_remote_file(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetRemoteFileResponse {
            remote_file: Some(to_pb(file)),
        }))
    }

    async fn create_remote_file(
        &self,
        _request: Request<CreateRemoteFileRequest>,
    ) -> Result<Response<CreateRemoteFileResponse>, Status> {
        Err(unsupported(
            "RemoteFileService/CreateRemoteFile (files are created by uploading them: POST \
             /api/v0/remote-files/upload)",
        ))
    }

    async fn list_remote_files(
        &self,
        request: Request<ListRemoteFilesRequest>,
    ) -> Result<Response<ListRemoteFilesResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        crate::auth::check_organization(&principal, &req.organization_id)?;
        if !req.order_by.is_empty() {
            return Err(Status::invalid_argument(format!(
                "order_by {:?} is not supported: files are listed oldest first",
                req.order_by
            )));
        }
        let parsed = filter::parse_for(
            &req.filter,
            &["remote_file_id", "entity_id", "entity_type", "file_name"],
        )?;
        let filter = RemoteFileFilter {
            ids: parsed.allowed("remote_file_id"),
            entity_types: entity_types(parsed.allowed("entity_type"))?,
            entity_ids: parsed.allowed("entity_id"),
            file_names: parsed.allowed("file_name"),
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (files, next) = self
            .state
            .catalog(move |c| c.list_remote_files(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListRemoteFilesResponse {
            remote_files: files.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn update_remote_file(
        &self,
        request: Request<UpdateRemoteFileRequest>,
    ) -> Result<Response<UpdateRemoteFileResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        let file = req
            .remote_file
            .ok_or_else(|| Status::invalid_argument("UpdateRemoteFile needs the remote_file"))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths != ["description"] {
            return Err(Status::invalid_argument(format!(
                "update_mask {paths:?}: UpdateRemoteFile changes the description only \
                 (update_mask [\"description\"])"
            )));
        }
        let (id, description) = (file.remote_file_id, file.description);
        let updated = self
            .state
            .catalog(move |c| {
                c.update_remote_file(
                    &principal.organization_id,
                    &id,
                    description,
                    &principal.key_id,
                )
            })
            .await?;
        Ok(Response::new(UpdateRemoteFileResponse {
            remote_file: Some(to_pb(updated)),
        }))
    }

    async fn delete_remote_file(
        &self,
        request: Request<DeleteRemoteFileRequest>,
    ) -> Result<Response<DeleteRemoteFileResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let ids = vec![request.into_inner().remote_file_id];
        let files = self
            .state
            .catalog(move |c| c.delete_remote_files(&principal.organization_id, &ids))
            .await?;
        self.state.remove_file_blobs(files).await;
        Ok(Response::new(DeleteRemoteFileResponse {}))
    }

    async fn batch_delete_remote_files(
        &self,
        request: Request<BatchDeleteRemoteFilesRequest>,
    ) -> Result<Response<BatchDeleteRemoteFilesResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let ids = request.into_inner().remote_file_ids;
        let files = self
            .state
            .catalog(move |c| c.delete_remote_files(&principal.organization_id, &ids))
            .await?;
        self.state.remove_file_blobs(files).await;
        Ok(Response::new(BatchDeleteRemoteFilesResponse {}))
    }

    async fn get_remote_file_download_url(
        &self,
        request: Request<GetRemoteFileDownloadUrlRequest>,
    ) -> Result<Response<GetRemoteFileDownloadUrlResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadData)?;
        let files = crate::files::rest::files(&self.state).map_err(Status::from)?;
        let origin = request
            .extensions()
            .get::<Origin>()
            .cloned()
            .ok_or_else(|| {
                Status::invalid_argument(
                    "the call names no host (:authority), so no download URL can be made",
                )
            })?;
        let id = request.into_inner().remote_file_id;
        let file = self
            .state
            .catalog(move |c| c.get_remote_file(&principal.organization_id, &id))
            .await?;
        let now = Duration::from_nanos(u64::try_from(self.state.clock.now()).unwrap_or(0));
        let expires = (now + URL_LIFETIME).as_secs();
        Ok(Response::new(GetRemoteFileDownloadUrlResponse {
            download_url: format!("{}{}", origin.0, files.download_path(&file, expires)),
        }))
    }
}
