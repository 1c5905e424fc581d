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
        ..Default::default()
    }
}

#[tonic::async_trait]
impl AssetService for Assets {
    async fn delete_asset(
        &self,
        _request: Request<DeleteAssetRequest>,
    ) -> Result<Response<DeleteAssetResponse>, Status> {
        Err(unsupported("AssetService/DeleteAsset"))
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
        let filter = filter::parse_for(&req.filter, &["name", "asset_id"])?;
        let filter = AssetFilter {
            ids: filter.allowed("asset_id"),
            names: filter.allowed("name"),
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
        _request: Request<ArchiveAssetRequest>,
    ) -> Result<Response<ArchiveAssetResponse>, Status> {
        Err(unsupported("AssetService/ArchiveAsset"))
    }
}
