//! `sift.runs.v2.RunService`: runs group data of a test or a mission; ingested data names its
//! run by id.

use sextant_catalog::{NewRun, Page, Run, RunFilter, RunUpdate};
use sift_rs::runs::v2::run_service_server::RunService;
use sift_rs::runs::v2::*;
use tonic::{Request, Response, Status};

use super::convert::{metadata_from_pb, metadata_to_pb, timestamp_from_pb, timestamp_to_pb};
use super::filter;
use super::unsupported;
use crate::auth::{Action, authorize_call, check_organization};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct Runs {
    pub(crate) state: AppState,
}

fn to_pb(r: Run) -> sift_rs::runs::v2::Run {
    sift_rs::runs::v2::Run {
        run_id: r.id,
        created_date: Some(timestamp_to_pb(r.created_at)),
        modified_date: Some(timestamp_to_pb(r.modified_at)),
        organization_id: r.organization_id,
        start_time: r.start_time.map(timestamp_to_pb),
        stop_time: r.stop_time.map(timestamp_to_pb),
        name: r.name,
        description: r.description,
        tags: r.tags,
        client_key: r.client_key,
        metadata: metadata_to_pb(&r.metadata),
        asset_ids: r.asset_ids,
        ..Default::default()
    }
}

/// The fields an UpdateRun mask may name.
const UPDATABLE: &[&str] = &[
    "name",
    "description",
    "tags",
    "start_time",
    "stop_time",
    "metadata",
];

#[tonic::async_trait]
impl RunService for Runs {
    async fn get_run(
        &self,
        request: Request<GetRunRequest>,
    ) -> Result<Response<GetRunResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().run_id;
        let run = self
            .state
            .catalog(move |c| c.get_run(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetRunResponse {
            run: Some(to_pb(run)),
        }))
    }

    async fn list_runs(
        &self,
        request: Request<ListRunsRequest>,
    ) -> Result<Response<ListRunsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter = filter::parse_for(&req.filter, &["name", "run_id", "client_key"])?;
        let filter = RunFilter {
            ids: filter.allowed("run_id"),
            names: filter.allowed("name"),
            client_keys: filter.allowed("client_key"),
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (runs, next) = self
            .state
            .catalog(move |c| c.list_runs(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListRunsResponse {
            runs: runs.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn create_run(
        &self,
        request: Request<CreateRunRequest>,
    ) -> Result<Response<CreateRunResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        if req.name.trim().is_empty() {
            return Err(Status::invalid_argument("a run needs a name"));
        }
        let run = NewRun {
            start_time: req
                .start_time
                .as_ref()
                .map(|t| timestamp_from_pb(t, "start_time"))
                .transpose()?,
            stop_time: req
                .stop_time
                .as_ref()
                .map(|t| timestamp_from_pb(t, "stop_time"))
                .transpose()?,
            metadata: metadata_from_pb(&req.metadata)?,
            name: req.name,
            description: req.description,
            tags: req.tags,
            client_key: req.client_key.filter(|k| !k.is_empty()),
        };
        let run = self
            .state
            .catalog(move |c| c.create_run(&principal.organization_id, run))
            .await?;
        Ok(Response::new(CreateRunResponse {
            run: Some(to_pb(run)),
        }))
    }

    async fn create_adhoc_run(
        &self,
        _request: Request<CreateAdhocRunRequest>,
    ) -> Result<Response<CreateAdhocRunResponse>, Status> {
        Err(unsupported("RunService/CreateAdhocRun"))
    }

    async fn update_run(
        &self,
        request: Request<UpdateRunRequest>,
    ) -> Result<Response<UpdateRunResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        let run = req
            .run
            .ok_or_else(|| Status::invalid_argument("UpdateRun needs a run"))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Status::invalid_argument(format!(
                "UpdateRun needs an update_mask naming the fields to change: {}",
                UPDATABLE.join(", ")
            )));
        }
        let mut update = RunUpdate::default();
        for path in &paths {
            match path.as_str() {
                "name" => update.name = Some(run.name.clone()),
                "description" => update.description = Some(run.description.clone()),
                "tags" => update.tags = Some(run.tags.clone()),
                "start_time" => {
                    update.start_time = run
                        .start_time
                        .as_ref()
                        .map(|t| timestamp_from_pb(t, "run.start_time"))
                        .transpose()?;
                }
                "stop_time" => {
                    update.stop_time = run
                        .stop_time
                        .as_ref()
                        .map(|t| timestamp_from_pb(t, "run.stop_time"))
                        .transpose()?;
                }
                "metadata" => update.metadata = Some(metadata_from_pb(&run.metadata)?),
                other => {
                    return Err(Status::invalid_argument(format!(
                        "update_mask names `{other}`, which UpdateRun cannot change; it can change {}",
                        UPDATABLE.join(", ")
                    )));
                }
            }
        }
        let id = run.run_id;
        let run = self
            .state
            .catalog(move |c| c.update_run(&principal.organization_id, &id, update))
            .await?;
        Ok(Response::new(UpdateRunResponse {
            run: Some(to_pb(run)),
        }))
    }

    async fn delete_run(
        &self,
        _request: Request<DeleteRunRequest>,
    ) -> Result<Response<DeleteRunResponse>, Status> {
        Err(unsupported("RunService/DeleteRun"))
    }

    async fn stop_run(
        &self,
        request: Request<StopRunRequest>,
    ) -> Result<Response<StopRunResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let id = request.into_inner().run_id;
        let now = self.state.clock.now();
        let update = RunUpdate {
            stop_time: Some(now),
            ..RunUpdate::default()
        };
        self.state
            .catalog(move |c| c.update_run(&principal.organization_id, &id, update))
            .await?;
        Ok(Response::new(StopRunResponse {}))
    }

    async fn validate_run_filter(
        &self,
        _request: Request<ValidateRunFilterRequest>,
    ) -> Result<Response<ValidateRunFilterResponse>, Status> {
        Err(unsupported("RunService/ValidateRunFilter"))
    }

    async fn create_automatic_run_association_for_assets(
        &self,
        _request: Request<CreateAutomaticRunAssociationForAssetsRequest>,
    ) -> Result<Response<CreateAutomaticRunAssociationForAssetsResponse>, Status> {
        Err(unsupported(
            "RunService/CreateAutomaticRunAssociationForAssets",
        ))
    }
}
