//! `sift.calculated_channels.v2.CalculatedChannelService`: calculated channels kept in the
//! catalog with every version, as `sift_py`'s `CalculatedChannelService` creates, reads, lists,
//! revises and archives them. An expression names its channels by full name and is made
//! available to some assets, the assets carrying some tags, or all; creating or revising one
//! checks it against each such asset and answers the assets that lack a channel it needs
//! (`inapplicable_assets`). Downloads evaluate expressions given inline
//! ([`super::calculated_channels`]).

use sextant_catalog::{
    Archived, Asset, AssetFilter, CalculatedChannel as Stored, CalculatedChannelDef,
    CalculatedChannelFilter, Catalog, ChannelFilter, Page, all_pages,
};
use sextant_expr::{compile_value, parse};
use sift_rs::calculated_channels::v2::calculated_channel_asset_configuration::{
    AssetScope, AssetSelection,
};
use sift_rs::calculated_channels::v2::calculated_channel_query_configuration::{Query, Sel};
use sift_rs::calculated_channels::v2::calculated_channel_service_server::CalculatedChannelService;
use sift_rs::calculated_channels::v2::*;
use tonic::{Request, Response, Status};

use super::calculated_channels::problems;
use super::convert::timestamp_to_pb;
use super::filter;
use super::unsupported;
use crate::auth::{Action, authorize_call, check_organization};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct StoredCalculatedChannels {
    pub(crate) state: AppState,
}

fn to_pb(c: Stored) -> CalculatedChannel {
    let def = c.def;
    let asset_scope = if def.all_assets {
        AssetScope::AllAssets(true)
    } else {
        AssetScope::Selection(AssetSelection {
            asset_ids: def.asset_ids,
            tag_ids: def.tag_names,
        })
    };
    CalculatedChannel {
        calculated_channel_id: c.id,
        organization_id: c.organization_id,
        client_key: c.client_key,
        archived_date: c.archived_at.map(timestamp_to_pb),
        is_archived: c.archived_at.is_some(),
        version_id: c.version_id,
        version: c.version,
        name: def.name,
        description: def.description,
        change_message: c.change_message,
        user_notes: c.user_notes,
        units: def.units,
        created_date: Some(timestamp_to_pb(c.created_at)),
        modified_date: Some(timestamp_to_pb(c.modified_at)),
        calculated_channel_configuration: Some(CalculatedChannelConfiguration {
            asset_configuration: Some(CalculatedChannelAssetConfiguration {
                asset_scope: Some(asset_scope),
            }),
            query_configuration: Some(CalculatedChannelQueryConfiguration {
                query: Some(Query::Sel(Sel {
                    expression: def.expression,
                    expression_channel_references: def
                        .references
                        .into_iter()
                        .map(
                            |(reference, channel)| CalculatedChannelAbstractChannelReference {
                                channel_reference: reference,
                                channel_identifier: channel,
                                calculated_channel_reference: None,
                            },
                        )
                        .collect(),
                })),
            }),
        }),
        created_by_user_id: c.created_by,
        modified_by_user_id: c.modified_by,
        ..Default::default()
    }
}

/// The assets part of a declaration.
fn apply_assets(
    def: &mut CalculatedChannelDef,
    config: Option<&CalculatedChannelAssetConfiguration>,
) -> Result<(), Status> {
    match config.and_then(|c| c.asset_scope.as_ref()) {
        Some(AssetScope::AllAssets(all)) => {
            def.all_assets = *all;
            def.asset_ids.clear();
            def.tag_names.clear();
        }
        Some(AssetScope::Selection(selection)) => {
            def.all_assets = false;
            def.asset_ids = selection.asset_ids.clone();
            def.tag_names = selection.tag_ids.clone();
        }
        None => {
            return Err(Status::invalid_argument(
                "asset_configuration needs all_assets or a selection of asset ids or tags",
            ));
        }
    }
    Ok(())
}

/// The query part of a declaration.
fn apply_query(
    def: &mut CalculatedChannelDef,
    config: Option<&CalculatedChannelQueryConfiguration>,
) -> Result<(), Status> {
    let Some(Query::Sel(sel)) = config.and_then(|c| c.query.as_ref()) else {
        return Err(Status::invalid_argument(
            "query_configuration needs sel: an expression and its channel references",
        ));
    };
    if let Some(r) = sel
        .expression_channel_references
        .iter()
        .find(|r| r.calculated_channel_reference.is_some())
    {
        return Err(Status::unimplemented(format!(
            "{} refers to another calculated channel, which Sextant does not evaluate; refer \
             to its input channels instead",
            r.channel_reference
        )));
    }
    def.expression = sel.expression.clone();
    def.references = sel
        .expression_channel_references
        .iter()
        .map(|r| (r.channel_reference.clone(), r.channel_identifier.clone()))
        .collect();
    Ok(())
}

/// Checks a declaration against the assets it is for: each asset lacking a channel it names
/// is returned with those channels; the expression must type-check on every other one (or,
/// with none, parse).
fn check(
    catalog: &dyn Catalog,
    org: &str,
    def: &CalculatedChannelDef,
) -> sextant_catalog::Result<Vec<CalculatedChannelValidationResult>> {
    let invalid = |detail: String| {
        sextant_catalog::Error::InvalidInput(format!(
            "calculated channel {:?}, expression `{}`: {detail}",
            def.name, def.expression
        ))
    };
    let expr = parse(&def.expression).map_err(|d| invalid(problems(&d)))?;
    let assets: Vec<Asset> = if def.all_assets {
        all_pages(|page| catalog.list_assets(org, &AssetFilter::default(), page))?
    } else {
        let mut assets = Vec::new();
        for id in &def.asset_ids {
            assets.push(catalog.get_asset(org, id)?);
        }
        if !def.tag_names.is_empty() {
            let tagged = all_pages(|page| catalog.list_assets(org, &AssetFilter::default(), page))?;
            for asset in tagged {
                if asset.tags.iter().any(|t| def.tag_names.contains(t))
                    && !assets.iter().any(|a| a.id == asset.id)
                {
                    assets.push(asset);
                }
            }
        }
        assets
    };
    let names: Vec<String> = def.references.iter().map(|(_, c)| c.clone()).collect();
    let mut inapplicable = Vec::new();
    for asset in assets {
        let filter = ChannelFilter {
            asset_ids: Some(vec![asset.id.clone()]),
            names: Some(names.clone()),
            ..ChannelFilter::default()
        };
        let channels = all_pages(|page| catalog.list_channels(org, &filter, page))?;
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !channels.iter().any(|c| &c.def.name == *n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            inapplicable.push(CalculatedChannelValidationResult {
                asset_id: asset.id,
                asset_name: Some(asset.name),
                tag_names: asset.tags,
                missing_channels: missing,
            });
            continue;
        }
        let schemas: Vec<_> = def
            .references
            .iter()
            .filter_map(|(reference, name)| {
                channels
                    .iter()
                    .find(|c| &c.def.name == name)
                    .map(|c| (reference.clone(), sextant_rules::schema_of(c)))
            })
            .collect();
        compile_value(&expr, &schemas)
            .map_err(|d| invalid(format!("on asset {:?}: {}", asset.name, problems(&d))))?;
    }
    Ok(inapplicable)
}

/// The stored calculated channel a request names by id or client key.
fn lookup(
    catalog: &dyn Catalog,
    org: &str,
    id: &str,
    client_key: &str,
) -> sextant_catalog::Result<Stored> {
    if !id.is_empty() {
        return catalog.get_calculated_channel(org, id);
    }
    if client_key.is_empty() {
        return Err(sextant_catalog::Error::InvalidInput(
            "name the calculated channel by calculated_channel_id or client_key".to_owned(),
        ));
    }
    catalog
        .find_calculated_channel(org, client_key)?
        .ok_or_else(|| sextant_catalog::Error::NotFound {
            what: "calculated channel",
            id: format!("client key {client_key}"),
        })
}

#[tonic::async_trait]
impl CalculatedChannelService for StoredCalculatedChannels {
    async fn get_calculated_channel(
        &self,
        request: Request<GetCalculatedChannelRequest>,
    ) -> Result<Response<GetCalculatedChannelResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let org = principal.organization_id;
        let found = self
            .state
            .catalog(move |c| {
                if req.calculated_channel_version_id.is_empty() {
                    lookup(c, &org, &req.calculated_channel_id, &req.client_key)
                } else {
                    c.get_calculated_channel_version(&org, &req.calculated_channel_version_id)
                }
            })
            .await?;
        Ok(Response::new(GetCalculatedChannelResponse {
            calculated_channel: Some(to_pb(found)),
        }))
    }

    async fn create_calculated_channel(
        &self,
        request: Request<CreateCalculatedChannelRequest>,
    ) -> Result<Response<CreateCalculatedChannelResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        let config = req.calculated_channel_configuration.unwrap_or_default();
        let mut def = CalculatedChannelDef {
            name: req.name,
            description: req.description,
            units: req.units.filter(|u| !u.is_empty()),
            ..Default::default()
        };
        apply_assets(&mut def, config.asset_configuration.as_ref())?;
        apply_query(&mut def, config.query_configuration.as_ref())?;
        let org = principal.organization_id.clone();
        let (created, inapplicable_assets) = self
            .state
            .catalog(move |c| {
                let inapplicable = check(c, &org, &def)?;
                let created = c.create_calculated_channel(
                    &org,
                    req.client_key.as_deref(),
                    &def,
                    &req.user_notes,
                    &principal.key_id,
                )?;
                Ok((created, inapplicable))
            })
            .await?;
        Ok(Response::new(CreateCalculatedChannelResponse {
            calculated_channel: Some(to_pb(created)),
            inapplicable_assets,
        }))
    }

    async fn list_calculated_channels(
        &self,
        request: Request<ListCalculatedChannelsRequest>,
    ) -> Result<Response<ListCalculatedChannelsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let parsed = filter::parse_for(
            &req.filter,
            &["calculated_channel_id", "client_key", "name", "is_archived"],
        )?;
        let archived = match parsed.allowed("is_archived").as_deref() {
            None => Archived::Not,
            Some([v]) if v == "true" => Archived::Only,
            Some([v]) if v == "false" => Archived::Not,
            Some(other) => {
                return Err(Status::invalid_argument(format!(
                    "is_archived must be true or false, not {other:?}"
                )));
            }
        };
        let filter = CalculatedChannelFilter {
            ids: parsed.allowed("calculated_channel_id"),
            client_keys: parsed.allowed("client_key"),
            names: parsed.allowed("name"),
            archived,
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (channels, next) = self
            .state
            .catalog(move |c| c.list_calculated_channels(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListCalculatedChannelsResponse {
            calculated_channels: channels.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn update_calculated_channel(
        &self,
        request: Request<UpdateCalculatedChannelRequest>,
    ) -> Result<Response<UpdateCalculatedChannelResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let req = request.into_inner();
        let changed = req.calculated_channel.ok_or_else(|| {
            Status::invalid_argument("UpdateCalculatedChannel needs the calculated_channel")
        })?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Status::invalid_argument(
                "UpdateCalculatedChannel needs an update_mask naming the fields to change: name, \
                 description, units, query_configuration, asset_configuration, archived_date",
            ));
        }
        let org = principal.organization_id.clone();
        let notes = req.user_notes.unwrap_or_default();
        let (updated, inapplicable_assets) = self
            .state
            .catalog(move |c| {
                let current = lookup(
                    c,
                    &org,
                    &changed.calculated_channel_id,
                    changed.client_key.as_deref().unwrap_or_default(),
                )?;
                let mut def = current.def.clone();
                let mut archived = None;
                let config = changed.calculated_channel_configuration.unwrap_or_default();
                let invalid = |status: Status| {
                    sextant_catalog::Error::InvalidInput(status.message().to_owned())
                };
                for path in &paths {
                    match path.as_str() {
                        "name" => def.name = changed.name.clone(),
                        "description" => def.description = changed.description.clone(),
                        "units" => def.units = changed.units.clone().filter(|u| !u.is_empty()),
                        "query_configuration" => {
                            apply_query(&mut def, config.query_configuration.as_ref())
                                .map_err(invalid)?
                        }
                        "asset_configuration" => {
                            apply_assets(&mut def, config.asset_configuration.as_ref())
                                .map_err(invalid)?
                        }
                        "archived_date" => archived = Some(changed.archived_date.is_some()),
                        other => {
                            return Err(sextant_catalog::Error::InvalidInput(format!(
                                "update_mask names `{other}`, which UpdateCalculatedChannel \
                                 cannot change; it can change name, description, units, \
                                 query_configuration, asset_configuration, archived_date"
                            )));
                        }
                    }
                }
                let inapplicable = check(c, &org, &def)?;
                let updated = c.update_calculated_channel(
                    &org,
                    &current.id,
                    &def,
                    archived,
                    &notes,
                    &principal.key_id,
                )?;
                Ok((updated, inapplicable))
            })
            .await?;
        Ok(Response::new(UpdateCalculatedChannelResponse {
            calculated_channel: Some(to_pb(updated)),
            inapplicable_assets,
        }))
    }

    async fn list_calculated_channel_versions(
        &self,
        request: Request<ListCalculatedChannelVersionsRequest>,
    ) -> Result<Response<ListCalculatedChannelVersionsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        if !req.filter.is_empty() {
            return Err(Status::invalid_argument(format!(
                "filter {:?} is not supported on versions: they are listed newest first, all",
                req.filter
            )));
        }
        let org = principal.organization_id;
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (versions, next) = self
            .state
            .catalog(move |c| {
                let found = lookup(c, &org, &req.calculated_channel_id, &req.client_key)?;
                c.list_calculated_channel_versions(&org, &found.id, page)
            })
            .await?;
        Ok(Response::new(ListCalculatedChannelVersionsResponse {
            calculated_channel_versions: versions.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn get_calculated_channel_versions(
        &self,
        request: Request<GetCalculatedChannelVersionsRequest>,
    ) -> Result<Response<GetCalculatedChannelVersionsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let ids = request.into_inner().calculated_channel_version_ids;
        let org = principal.organization_id;
        let found = self
            .state
            .catalog(move |c| {
                ids.iter()
                    .map(|id| c.get_calculated_channel_version(&org, id))
                    .collect::<sextant_catalog::Result<Vec<_>>>()
            })
            .await?;
        Ok(Response::new(GetCalculatedChannelVersionsResponse {
            calculated_channels: found.into_iter().map(to_pb).collect(),
        }))
    }

    async fn resolve_calculated_channel(
        &self,
        _request: Request<ResolveCalculatedChannelRequest>,
    ) -> Result<Response<ResolveCalculatedChannelResponse>, Status> {
        Err(unsupported(
            "CalculatedChannelService/ResolveCalculatedChannel",
        ))
    }

    async fn batch_resolve_calculated_channels(
        &self,
        _request: Request<BatchResolveCalculatedChannelsRequest>,
    ) -> Result<Response<BatchResolveCalculatedChannelsResponse>, Status> {
        Err(unsupported(
            "CalculatedChannelService/BatchResolveCalculatedChannels",
        ))
    }

    async fn list_resolved_calculated_channels(
        &self,
        _request: Request<ListResolvedCalculatedChannelsRequest>,
    ) -> Result<Response<ListResolvedCalculatedChannelsResponse>, Status> {
        Err(unsupported(
            "CalculatedChannelService/ListResolvedCalculatedChannels",
        ))
    }

    async fn get_calculated_channel_dependents(
        &self,
        _request: Request<GetCalculatedChannelDependentsRequest>,
    ) -> Result<Response<GetCalculatedChannelDependentsResponse>, Status> {
        Err(unsupported(
            "CalculatedChannelService/GetCalculatedChannelDependents",
        ))
    }
}
