//! Registering a telemetry config, in the order `sift_py` does it: find the ingestion config by
//! its client key or create it; add the flows the server lacks; then take the flows as the
//! server lists them, since the server's channel order is what ingested values follow.

use std::collections::HashMap;

use sextant_telemetry::TelemetryConfig;
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::{
    CreateIngestionConfigFlowsRequest, CreateIngestionConfigRequest, FlowConfig as PbFlow,
    IngestionConfig, ListIngestionConfigFlowsRequest, ListIngestionConfigsRequest,
};

use super::convert::{FlowTable, RegisteredFlow, flow_from_pb, flow_to_pb};
use super::retry::{RetryPolicy, retry};
use crate::{Error, Result, SextantChannel};

/// A filter literal in the quotes the server's filter language accepts: double quotes, or
/// single quotes around text that holds a double quote.
pub(crate) fn quote(field: &str, text: &str) -> Result<String> {
    if !text.contains('"') {
        Ok(format!("{field}==\"{text}\""))
    } else if !text.contains('\'') {
        Ok(format!("{field}=='{text}'"))
    } else {
        Err(Error::Validation(format!(
            "{field} {text:?} holds both quote characters, which a filter cannot carry"
        )))
    }
}

/// Finds or creates the ingestion config of `config`, adds missing flows, and returns the
/// server's flows.
pub(crate) async fn register(
    channel: &SextantChannel,
    config: &TelemetryConfig,
    policy: &RetryPolicy,
) -> Result<(FlowTable, String)> {
    if config.ingestion_client_key.is_empty() {
        return Err(Error::Validation(format!(
            "the telemetry config of asset `{}` has no ingestion_client_key",
            config.asset_name
        )));
    }
    let mut client = IngestionConfigServiceClient::new(channel.clone());
    let organization_id = config.organization_id.clone().unwrap_or_default();
    let local: Vec<PbFlow> = config.flows.iter().map(flow_to_pb).collect();

    let filter = quote("client_key", &config.ingestion_client_key)?;
    let found = retry(
        policy,
        "IngestionConfigService/ListIngestionConfigs",
        || {
            let mut client = client.clone();
            let request = ListIngestionConfigsRequest {
                page_size: 1,
                page_token: String::new(),
                filter: filter.clone(),
            };
            async move { client.list_ingestion_configs(request).await }
        },
    )
    .await?
    .into_inner()
    .ingestion_configs
    .into_iter()
    .next();

    let ingestion_config = match found {
        Some(existing) => {
            let registered = list_flows(&client, &existing.ingestion_config_id, policy).await?;
            // Flows the server lacks, and flows it holds differently: the server adds the
            // first and judges the second, refusing changes that would alter what data
            // already sent means.
            let to_send: Vec<PbFlow> = local
                .iter()
                .filter(|flow| !registered.contains(flow))
                .cloned()
                .collect();
            if !to_send.is_empty() {
                let names: Vec<&str> = to_send.iter().map(|f| f.name.as_str()).collect();
                tracing::debug!(flows = ?names, "registering flows");
                let request = CreateIngestionConfigFlowsRequest {
                    ingestion_config_id: existing.ingestion_config_id.clone(),
                    flows: to_send,
                };
                retry(
                    policy,
                    "IngestionConfigService/CreateIngestionConfigFlows",
                    || {
                        let mut client = client.clone();
                        let request = request.clone();
                        async move { client.create_ingestion_config_flows(request).await }
                    },
                )
                .await?;
            }
            existing
        }
        None => create(&mut client, config, &organization_id, local, policy).await?,
    };

    let registered = list_flows(&client, &ingestion_config.ingestion_config_id, policy).await?;
    let mut flows = HashMap::with_capacity(registered.len());
    for flow in &registered {
        flows.insert(flow.name.clone(), RegisteredFlow::new(flow_from_pb(flow)?));
    }
    for flow in &config.flows {
        if !flows.contains_key(&flow.name) {
            return Err(Error::Validation(format!(
                "the server did not register flow `{}` of ingestion config `{}`",
                flow.name, config.ingestion_client_key
            )));
        }
    }
    let table = FlowTable {
        ingestion_config_id: ingestion_config.ingestion_config_id,
        organization_id,
        client_key: config.ingestion_client_key.clone(),
        flows,
    };
    Ok((table, ingestion_config.asset_id))
}

async fn create(
    client: &mut IngestionConfigServiceClient<SextantChannel>,
    config: &TelemetryConfig,
    organization_id: &str,
    flows: Vec<PbFlow>,
    policy: &RetryPolicy,
) -> Result<IngestionConfig> {
    let request = CreateIngestionConfigRequest {
        asset_name: config.asset_name.clone(),
        flows,
        organization_id: organization_id.to_owned(),
        client_key: config.ingestion_client_key.clone(),
    };
    let created = retry(
        policy,
        "IngestionConfigService/CreateIngestionConfig",
        || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.create_ingestion_config(request).await }
        },
    )
    .await?;
    created.into_inner().ingestion_config.ok_or_else(|| {
        Error::rpc(
            "IngestionConfigService/CreateIngestionConfig",
            tonic::Status::internal("the reply holds no ingestion config"),
        )
    })
}

/// Every flow of an ingestion config, following page tokens.
async fn list_flows(
    client: &IngestionConfigServiceClient<SextantChannel>,
    ingestion_config_id: &str,
    policy: &RetryPolicy,
) -> Result<Vec<PbFlow>> {
    let mut flows = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListIngestionConfigFlowsRequest {
            ingestion_config_id: ingestion_config_id.to_owned(),
            page_size: 1000,
            page_token: page_token.clone(),
            filter: String::new(),
        };
        let page = retry(
            policy,
            "IngestionConfigService/ListIngestionConfigFlows",
            || {
                let mut client = client.clone();
                let request = request.clone();
                async move { client.list_ingestion_config_flows(request).await }
            },
        )
        .await?
        .into_inner();
        flows.extend(page.flows);
        if page.next_page_token.is_empty() || page.next_page_token == page_token {
            return Ok(flows);
        }
        page_token = page.next_page_token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_literals_are_quoted() {
        assert_eq!(
            quote("name", "[Nostromo].1").unwrap(),
            "name==\"[Nostromo].1\""
        );
        assert_eq!(quote("name", "say \"hi\"").unwrap(), "name=='say \"hi\"'");
        let err = quote("name", "it's \"x\"").unwrap_err().to_string();
        assert!(err.contains("\"it's \\\"x\\\"\""), "{err}");
    }
}
