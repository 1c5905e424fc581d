//! `sift.assets.v1.AssetService`: assets are created by ingestion configs; here they are
//! listed, read, and given tags and metadata. Rules aimed at an asset tag watch the assets that
//! carry it, including those tagged after the rule was made: a tag change tells the live rule
//! engine, as a rule change does.

use sextant_catalog::{Asset, AssetFilter, AssetUpdate, Page};
use sift_rs::assets::v1::asset_service_server::AssetService;
use sift_rs::assets::v1::*;
use tonic::{Request, Response, Status};

use super::convert::{metadata_from_pb, metadata_to_pb, timestamp_to_pb};
use super::filter;
use super::unsupported;
use crate::auth::{Action, authorize_call};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct Assets {
    pub(crate) state: AppState,
}

fn to_pb(a: Asset) -> sift_rs::assets::v1::Asset {
    sift_rs::assets::v1::Asset {
        asset_id: a.id,
        name: a.name,
        organization_id: a.organization_id,
        created_date: Some(timestamp_to_pb(a.created_at)),
        modified_date: Some(timestamp_to_pb(a.modified_at)),
        tags: a.tags,
        metadata: metadata_to_pb(&a.metadata),
        archived_date: a.archived_at.map(timestamp_to_pb),
        is_archived: a.archived_at.is_some(),
        ..Default::default()
    }
}

impl Assets {
    async fn archive<T>(
        &self,
        request: &Request<T>,
        asset_id: String,
        archive_runs: bool,
    ) -> Result<Asset, Status> {
        let principal = authorize_call(request, Action::WriteMetadata)?;
        if archive_runs {
            return Err(Status::unimplemented(
                "Sextant does not archive runs: archive the asset with archive_runs false (its \
                 runs stay listed)",
            ));
        }
        let org = principal.organization_id.clone();
        let asset = self
            .state
            .catalog(move |c| c.set_asset_archived(&org, &asset_id, true))
            .await?;
        Ok(asset)
    }
}

#[tonic::async_trait]
impl AssetService for Assets {
    /// Archives the asset, as Sift's DeleteAsset does: it leaves lists, and its channels and
    /// data stay readable by id.
    async fn delete_asset(
        &self,
        request: Request<DeleteAssetRequest>,
    ) -> Result<Response<DeleteAssetResponse>, Status> {
        let req = request.get_ref().clone();
        self.archive(&request, req.asset_id, req.archive_runs)
            .await?;
        Ok(Response::new(DeleteAssetResponse {}))
    }

    async fn create_asset(
        &self,
        _request: Request<CreateAssetRequest>,
    ) -> Result<Response<CreateAssetResponse>, Status> {
        Err(unsupported(
            "AssetService/CreateAsset (assets are created by CreateIngestionConfig)",
        ))
    }

    async fn get_asset(
        &self,
        request: Request<GetAssetRequest>,
    ) -> Result<Response<GetAssetResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().asset_id;
        let asset = self
            .state
            .catalog(move |c| c.get_asset(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetAssetResponse {
            asset: Some(to_pb(asset)),
        }))
    }

    async fn list_assets(
        &self,
        request: Request<ListAssetsRequest>,
    ) -> Result<Response<ListAssetsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter = filter::parse_for(&req.filter, &["name", "asset_id", "is_archived"])?;
        let archived = match filter.allowed("is_archived").as_deref() {
            None => Some(false),
            Some([v]) if v == "true" => Some(true),
            Some([v]) if v == "false" => Some(false),
            Some(other) => {
                return Err(Status::invalid_argument(format!(
                    "is_archived must be true or false, not {other:?}"
                )));
            }
        };
        let filter = AssetFilter {
            ids: filter.allowed("asset_id"),
            names: filter.allowed("name"),
            archived,
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (assets, next) = self
            .state
            .catalog(move |c| c.list_assets(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListAssetsResponse {
            assets: assets.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn update_asset(
        &self,
        request: Request<UpdateAssetRequest>,
    ) -> Result<Response<UpdateAssetResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        let asset = req
            .asset
            .ok_or_else(|| Status::invalid_argument("UpdateAsset needs the asset"))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Status::invalid_argument(
                "UpdateAsset needs an update_mask naming the fields to change: tags, metadata",
            ));
        }
        let mut update = AssetUpdate::default();
        for path in &paths {
            match path.as_str() {
                "tags" => update.tags = Some(asset.tags.clone()),
                "metadata" => update.metadata = Some(metadata_from_pb(&asset.metadata)?),
                other => {
                    return Err(Status::invalid_argument(format!(
                        "update_mask names `{other}`, which UpdateAsset cannot change; it can \
                         change tags, metadata"
                    )));
                }
            }
        }
        let org = principal.organization_id.clone();
        let id = asset.asset_id;
        let updated = self
            .state
            .catalog(move |c| c.update_asset(&org, &id, &update))
            .await?;
        // Rules aimed at a tag may now watch this asset, or no longer.
        self.state.rules.rules_changed(&principal.organization_id);
        Ok(Response::new(UpdateAssetResponse {
            asset: Some(to_pb(updated)),
        }))
    }

    async fn archive_asset(
        &self,
        request: Request<ArchiveAssetRequest>,
    ) -> Result<Response<ArchiveAssetResponse>, Status> {
        let req = request.get_ref().clone();
        self.archive(&request, req.asset_id, req.archive_runs)
            .await?;
        Ok(Response::new(ArchiveAssetResponse {
            archived_run_ids: Vec::new(),
        }))
    }
}
