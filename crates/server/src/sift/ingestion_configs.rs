//! `sift.ingestion_configs.v2.IngestionConfigService`: registering telemetry configs and their
//! flows. Flows keep their channel order forever, since ingested values are positional; a
//! re-registration that would change the meaning of data already sent (a channel redefined, a
//! channel added to an existing flow) is refused with FAILED_PRECONDITION naming the change.

use sextant_catalog::{FlowDef, IngestionConfig, IngestionConfigFilter, Page};
use sextant_telemetry::{Change, classify_changes};
use sift_rs::ingestion_configs::v2::ingestion_config_service_server::IngestionConfigService;
use sift_rs::ingestion_configs::v2::*;
use tonic::{Request, Response, Status};

use super::convert::{flow_from_pb, flow_to_pb, flows_as_config};
use super::filter;
use crate::auth::{Action, authorize_call, check_organization};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct IngestionConfigs {
    pub(crate) state: AppState,
}

fn to_pb(c: IngestionConfig) -> sift_rs::ingestion_configs::v2::IngestionConfig {
    sift_rs::ingestion_configs::v2::IngestionConfig {
        ingestion_config_id: c.id,
        asset_id: c.asset_id,
        client_key: c.client_key.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl IngestionConfigService for IngestionConfigs {
    async fn get_ingestion_config(
        &self,
        request: Request<GetIngestionConfigRequest>,
    ) -> Result<Response<GetIngestionConfigResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().ingestion_config_id;
        let config = self
            .state
            .catalog(move |c| c.get_ingestion_config(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetIngestionConfigResponse {
            ingestion_config: Some(to_pb(config)),
        }))
    }

    async fn create_ingestion_config(
        &self,
        request: Request<CreateIngestionConfigRequest>,
    ) -> Result<Response<CreateIngestionConfigResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        if req.asset_name.trim().is_empty() {
            return Err(Status::invalid_argument("asset_name must not be empty"));
        }
        let flows: Vec<FlowDef> = req
            .flows
            .iter()
            .map(flow_from_pb)
            .collect::<Result<_, _>>()?;
        let org = principal.organization_id.clone();
        let config = self
            .state
            .catalog(move |c| {
                let key = Some(req.client_key.as_str()).filter(|k| !k.is_empty());
                c.create_ingestion_config(&principal.organization_id, &req.asset_name, key, &flows)
            })
            .await?;
        // New channels can make rules over them evaluable.
        self.state.rules.rules_changed(&org);
        Ok(Response::new(CreateIngestionConfigResponse {
            ingestion_config: Some(to_pb(config)),
        }))
    }

    async fn list_ingestion_configs(
        &self,
        request: Request<ListIngestionConfigsRequest>,
    ) -> Result<Response<ListIngestionConfigsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter = filter::parse_for(
            &req.filter,
            &["client_key", "ingestion_config_id", "asset_id"],
        )?;
        let filter = IngestionConfigFilter {
            client_keys: filter.allowed("client_key"),
            ids: filter.allowed("ingestion_config_id"),
            asset_ids: filter.allowed("asset_id"),
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (configs, next) = self
            .state
            .catalog(move |c| c.list_ingestion_configs(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListIngestionConfigsResponse {
            ingestion_configs: configs.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn create_ingestion_config_flows(
        &self,
        request: Request<CreateIngestionConfigFlowsRequest>,
    ) -> Result<Response<CreateIngestionConfigFlowsResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        let incoming: Vec<FlowDef> = req
            .flows
            .iter()
            .map(flow_from_pb)
            .collect::<Result<_, _>>()?;
        let org = principal.organization_id.clone();
        let id = req.ingestion_config_id.clone();
        let registered = self.state.catalog(move |c| c.list_flows(&org, &id)).await?;

        // A flow registered under the same name with other channels, or a channel declared
        // differently from how the config already declares it, would change what data already
        // sent means. Flows that only leave out registered channels keep their registration.
        let mut new = registered.clone();
        let mut to_add = Vec::new();
        for flow in incoming {
            match registered.iter().find(|f| f.name == flow.name) {
                Some(existing) if *existing == flow => {}
                Some(_) => new.retain(|f| f.name != flow.name),
                None => {}
            }
            if !registered.iter().any(|f| f.name == flow.name) {
                to_add.push(flow.clone());
            }
            if !new.iter().any(|f| f.name == flow.name) {
                new.push(flow);
            }
        }
        let changes = classify_changes(
            &flows_as_config("", &registered),
            &flows_as_config("", &new),
        );
        let refused: Vec<String> = changes.incompatible().map(Change::to_string).collect();
        if !refused.is_empty() {
            return Err(Status::failed_precondition(format!(
                "ingestion config {}: {}: these need a new ingestion_client_key",
                req.ingestion_config_id,
                refused.join("; ")
            )));
        }
        if !to_add.is_empty() {
            let org = principal.organization_id;
            let id = req.ingestion_config_id;
            self.state
                .catalog({
                    let org = org.clone();
                    move |c| c.add_flows(&org, &id, &to_add)
                })
                .await?;
            self.state.rules.rules_changed(&org);
        }
        Ok(Response::new(CreateIngestionConfigFlowsResponse {}))
    }

    async fn list_ingestion_config_flows(
        &self,
        request: Request<ListIngestionConfigFlowsRequest>,
    ) -> Result<Response<ListIngestionConfigFlowsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter = filter::parse_for(&req.filter, &["name", "flow_name"])?;
        let names = filter
            .allowed("name")
            .or_else(|| filter.allowed("flow_name"));
        let id = req.ingestion_config_id;
        let flows = self
            .state
            .catalog(move |c| c.list_flows(&principal.organization_id, &id))
            .await?;
        // Every flow of a config fits one reply: the client asks for 1000 at a time and
        // follows tokens, and a config's flows are few.
        Ok(Response::new(ListIngestionConfigFlowsResponse {
            flows: flows
                .iter()
                .filter(|f| names.as_ref().is_none_or(|n| n.contains(&f.name)))
                .map(flow_to_pb)
                .collect(),
            next_page_token: String::new(),
        }))
    }
}
