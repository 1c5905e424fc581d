//! `sift.rules.v1.RuleService`: rules as `sift_py` registers them when an ingestion service
//! starts (GetRule by client key, then CreateRule or UpdateRule), listed, read and archived.
//!
//! A rule has exactly one condition, a calculated-channel expression in Sextant's rule language
//! (`docs/expressions.md`), and at most one action, an annotation. A rule with no action (what
//! `sift_py` sends for a phase rule) creates phase annotations. The expression is checked
//! against the channels of every asset of the rule before it is stored.

use std::collections::HashMap;

use sextant_catalog::{AnnotationType, ChannelFilter, Page, Rule, RuleDef, RuleFilter};
use sift_rs::rules::v1::rule_action_configuration::Configuration;
use sift_rs::rules::v1::rule_condition_expression::Expression;
use sift_rs::rules::v1::rule_service_server::RuleService;
use sift_rs::rules::v1::*;
use tonic::{Request, Response, Status};

use super::convert::timestamp_to_pb;
use super::filter;
use super::unsupported;
use crate::auth::{Action, Principal, authorize_call, check_organization};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct Rules {
    pub(crate) state: AppState,
}

/// Sift's `ActionKind.ANNOTATION`.
const ACTION_ANNOTATION: i32 = 2;
/// Sift's `AnnotationType`: data review 1, phase 2.
const ANNOTATION_DATA_REVIEW: i32 = 1;
const ANNOTATION_PHASE: i32 = 2;

/// The wire form of a stored rule. Its one condition and one action take the rule's id.
pub fn rule_to_pb(rule: &Rule) -> sift_rs::rules::v1::Rule {
    let def = &rule.def;
    let channel_references: HashMap<String, ChannelReference> = def
        .channel_references
        .iter()
        .map(|(reference, name)| {
            (
                reference.clone(),
                ChannelReference {
                    name: name.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    let annotation_type = match def.action.annotation_type {
        AnnotationType::DataReview => ANNOTATION_DATA_REVIEW,
        AnnotationType::Phase => ANNOTATION_PHASE,
    };
    let version_id = format!("{}-v{}", rule.id, rule.version);
    sift_rs::rules::v1::Rule {
        rule_id: rule.id.clone(),
        name: def.name.clone(),
        description: def.description.clone(),
        is_enabled: true,
        created_date: Some(timestamp_to_pb(rule.created_at)),
        modified_date: Some(timestamp_to_pb(rule.modified_at)),
        organization_id: rule.organization_id.clone(),
        conditions: vec![RuleCondition {
            rule_condition_id: rule.id.clone(),
            rule_id: rule.id.clone(),
            expression: Some(RuleConditionExpression {
                expression: Some(Expression::CalculatedChannel(CalculatedChannelConfig {
                    channel_references,
                    expression: def.expression.clone(),
                    ..Default::default()
                })),
            }),
            created_date: Some(timestamp_to_pb(rule.created_at)),
            modified_date: Some(timestamp_to_pb(rule.modified_at)),
            actions: vec![RuleAction {
                rule_action_id: rule.id.clone(),
                rule_condition_id: rule.id.clone(),
                action_type: ACTION_ANNOTATION,
                configuration: Some(RuleActionConfiguration {
                    configuration: Some(Configuration::Annotation(AnnotationActionConfiguration {
                        tag_ids: def.action.tag_ids.clone(),
                        annotation_type,
                        assigned_to_user_id: def.action.assignee_user_id.clone(),
                        metadata: Vec::new(),
                    })),
                }),
                created_date: Some(timestamp_to_pb(rule.created_at)),
                modified_date: Some(timestamp_to_pb(rule.modified_at)),
                ..Default::default()
            }],
            rule_condition_version_id: version_id.clone(),
            ..Default::default()
        }],
        rule_version: Some(RuleVersion {
            rule_id: rule.id.clone(),
            rule_version_id: version_id.clone(),
            version: rule.version.to_string(),
            created_date: Some(timestamp_to_pb(rule.modified_at)),
            archived_date: rule.archived_at.map(timestamp_to_pb),
            is_archived: rule.archived_at.is_some(),
            ..Default::default()
        }),
        client_key: def.client_key.clone().unwrap_or_default(),
        asset_configuration: Some(RuleAssetConfiguration {
            asset_ids: def.asset_ids.clone(),
            tag_ids: def.asset_tag_ids.clone(),
        }),
        contextual_channels: Some(ContextualChannels {
            channels: def
                .contextual_channels
                .iter()
                .map(|name| ChannelReference {
                    name: name.clone(),
                    ..Default::default()
                })
                .collect(),
        }),
        is_external: def.is_external,
        archived_date: rule.archived_at.map(timestamp_to_pb),
        is_archived: rule.archived_at.is_some(),
        is_live_evaluation_enabled: def.is_live,
        current_version_id: version_id,
        ..Default::default()
    }
}

/// A channel reference's full name: Sift clients send the full name in `name`; a separate
/// `component` is prefixed as `component.name` when the name does not already carry it.
fn full_name(reference: &ChannelReference) -> String {
    if reference.component.is_empty()
        || reference
            .name
            .starts_with(&format!("{}.", reference.component))
    {
        reference.name.clone()
    } else {
        format!("{}.{}", reference.component, reference.name)
    }
}

/// The rule an UpdateRuleRequest declares, or INVALID_ARGUMENT naming what Sextant cannot
/// store.
#[allow(deprecated)]
pub fn rule_from_pb(req: &UpdateRuleRequest) -> Result<RuleDef, Status> {
    let what = format!("rule `{}`", req.name);
    if req.name.trim().is_empty() {
        return Err(Status::invalid_argument("a rule needs a name"));
    }
    let [condition] = req.conditions.as_slice() else {
        return Err(Status::invalid_argument(format!(
            "{what} has {} conditions; Sextant stores exactly one condition per rule",
            req.conditions.len()
        )));
    };
    let expression = match condition
        .expression
        .as_ref()
        .and_then(|e| e.expression.as_ref())
    {
        Some(Expression::CalculatedChannel(config)) => config,
        Some(Expression::SingleChannelComparison(_)) => {
            return Err(Status::invalid_argument(format!(
                "{what} uses a single-channel comparison; Sextant takes calculated-channel expressions such as `$1 > 400`"
            )));
        }
        None => {
            return Err(Status::invalid_argument(format!(
                "{what} has a condition with no expression"
            )));
        }
    };
    let mut channel_references: Vec<(String, String)> = expression
        .channel_references
        .iter()
        .map(|(reference, channel)| (reference.clone(), full_name(channel)))
        .collect();
    channel_references.sort();
    let action = match condition.actions.as_slice() {
        [] => sextant_catalog::RuleAction {
            annotation_type: AnnotationType::Phase,
            tag_ids: Vec::new(),
            assignee_user_id: None,
        },
        [action] => {
            let Some(Configuration::Annotation(annotation)) = action
                .configuration
                .as_ref()
                .and_then(|c| c.configuration.as_ref())
            else {
                return Err(Status::invalid_argument(format!(
                    "{what} has an action of type {}; Sextant's rules create annotations only",
                    action.action_type
                )));
            };
            sextant_catalog::RuleAction {
                annotation_type: if annotation.annotation_type == ANNOTATION_PHASE {
                    AnnotationType::Phase
                } else {
                    AnnotationType::DataReview
                },
                tag_ids: annotation.tag_ids.clone(),
                assignee_user_id: annotation
                    .assigned_to_user_id
                    .clone()
                    .filter(|id| !id.is_empty()),
            }
        }
        more => {
            return Err(Status::invalid_argument(format!(
                "{what} has {} actions; Sextant takes at most one (an annotation)",
                more.len()
            )));
        }
    };
    let mut asset_ids = req
        .asset_configuration
        .as_ref()
        .map(|c| c.asset_ids.clone())
        .unwrap_or_default();
    if !req.asset_id.is_empty() && !asset_ids.contains(&req.asset_id) {
        asset_ids.push(req.asset_id.clone());
    }
    Ok(RuleDef {
        name: req.name.clone(),
        description: req.description.clone(),
        client_key: req.client_key.clone().filter(|k| !k.is_empty()),
        expression: expression.expression.clone(),
        channel_references,
        contextual_channels: req
            .contextual_channels
            .as_ref()
            .map(|c| c.channels.iter().map(full_name).collect())
            .unwrap_or_default(),
        asset_ids,
        asset_tag_ids: req
            .asset_configuration
            .as_ref()
            .map(|c| c.tag_ids.clone())
            .unwrap_or_default(),
        action,
        is_live: req.is_live_evaluation_enabled.unwrap_or(false),
        is_external: req.is_external,
        webhook_url: None,
    })
}

impl Rules {
    /// Checks the expression against the channels of each of the rule's assets (or only its
    /// syntax when it has none), then creates or updates it and refreshes the live rules.
    async fn store(
        &self,
        principal: &Principal,
        rule_id: Option<String>,
        def: RuleDef,
        archive: bool,
    ) -> Result<Rule, Status> {
        let org = principal.organization_id.clone();
        let rule = self
            .state
            .catalog(move |c| {
                check_rule(c, &org, &def)?;
                let rule = match rule_id {
                    Some(id) => c.update_rule(&org, &id, &def)?,
                    None => c.create_rule(&org, &def)?,
                };
                if archive && rule.archived_at.is_none() {
                    return c.set_rule_archived(&org, &rule.id, true);
                }
                Ok(rule)
            })
            .await?;
        self.state.rules.rules_changed(&principal.organization_id);
        Ok(rule)
    }

    /// The rule an update names: its `rule_id`, or with none, the rule with its client key, if
    /// one exists (so that UpdateRule is an idempotent "apply"); `None` creates one.
    async fn existing(
        &self,
        principal: &Principal,
        req: &UpdateRuleRequest,
        def: &RuleDef,
    ) -> Result<Option<String>, Status> {
        if let Some(id) = req.rule_id.as_deref().filter(|id| !id.is_empty()) {
            return Ok(Some(id.to_owned()));
        }
        let Some(key) = def.client_key.clone() else {
            return Ok(None);
        };
        let org = principal.organization_id.clone();
        Ok(self
            .state
            .catalog(move |c| c.find_rule(&org, &key))
            .await?
            .map(|rule| rule.id))
    }

    /// The rule named by id or, when the id is empty, by client key.
    async fn find(
        &self,
        principal: &Principal,
        rule_id: String,
        client_key: String,
    ) -> Result<Rule, Status> {
        let org = principal.organization_id.clone();
        self.state
            .catalog(move |c| {
                if !rule_id.is_empty() {
                    return c.get_rule(&org, &rule_id);
                }
                if client_key.is_empty() {
                    return Err(sextant_catalog::Error::InvalidInput(
                        "name a rule by rule_id or client_key".into(),
                    ));
                }
                c.find_rule(&org, &client_key)?
                    .ok_or_else(|| sextant_catalog::Error::NotFound {
                        what: "rule with client key",
                        id: client_key,
                    })
            })
            .await
    }

    async fn set_archived(
        &self,
        principal: &Principal,
        rule_id: String,
        client_key: String,
        archived: bool,
    ) -> Result<(), Status> {
        let rule = self.find(principal, rule_id, client_key).await?;
        let org = principal.organization_id.clone();
        self.state
            .catalog(move |c| c.set_rule_archived(&org, &rule.id, archived))
            .await?;
        self.state.rules.rules_changed(&principal.organization_id);
        Ok(())
    }
}

/// Checks a rule's expression: against each asset's channels, or its syntax alone when it has
/// no asset. An error is `InvalidInput` quoting the rule and the problem.
pub fn check_rule(
    catalog: &dyn sextant_catalog::Catalog,
    org: &str,
    def: &RuleDef,
) -> sextant_catalog::Result<()> {
    let invalid = |e: sextant_rules::Error| sextant_catalog::Error::InvalidInput(e.to_string());
    let probe = Rule {
        id: String::new(),
        organization_id: org.to_owned(),
        def: def.clone(),
        version: 0,
        archived_at: None,
        created_at: 0,
        modified_at: 0,
    };
    if def.asset_ids.is_empty() {
        return sextant_expr::parse(&def.expression)
            .map(|_| ())
            .map_err(|d| {
                sextant_catalog::Error::InvalidInput(format!(
                    "rule `{}`: expression `{}`: {}",
                    def.name,
                    def.expression,
                    d.iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            });
    }
    for asset_id in &def.asset_ids {
        let asset = catalog.get_asset(org, asset_id)?;
        let names: Vec<String> = def
            .channel_references
            .iter()
            .map(|(_, name)| name.clone())
            .collect();
        let filter = ChannelFilter {
            asset_ids: Some(vec![asset_id.clone()]),
            names: Some(names),
            ..ChannelFilter::default()
        };
        let (channels, _) = catalog.list_channels(org, &filter, Page::first(Page::MAX_SIZE))?;
        sextant_rules::compile_rule(&probe, &asset.name, &channels).map_err(invalid)?;
    }
    Ok(())
}

#[tonic::async_trait]
impl RuleService for Rules {
    async fn search_rules(
        &self,
        _request: Request<SearchRulesRequest>,
    ) -> Result<Response<SearchRulesResponse>, Status> {
        Err(unsupported("RuleService/SearchRules (use ListRules)"))
    }

    async fn get_rule(
        &self,
        request: Request<GetRuleRequest>,
    ) -> Result<Response<GetRuleResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let rule = self.find(&principal, req.rule_id, req.client_key).await?;
        Ok(Response::new(GetRuleResponse {
            rule: Some(rule_to_pb(&rule)),
        }))
    }

    async fn batch_get_rules(
        &self,
        request: Request<BatchGetRulesRequest>,
    ) -> Result<Response<BatchGetRulesResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let mut rules = Vec::new();
        for id in req.rule_ids {
            rules.push(rule_to_pb(&self.find(&principal, id, String::new()).await?));
        }
        for key in req.client_keys {
            rules.push(rule_to_pb(
                &self.find(&principal, String::new(), key).await?,
            ));
        }
        Ok(Response::new(BatchGetRulesResponse { rules }))
    }

    async fn create_rule(
        &self,
        request: Request<CreateRuleRequest>,
    ) -> Result<Response<CreateRuleResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request
            .into_inner()
            .update
            .ok_or_else(|| Status::invalid_argument("CreateRule needs `update`: the rule"))?;
        check_organization(&principal, &req.organization_id)?;
        if req.rule_id.as_deref().is_some_and(|id| !id.is_empty()) {
            return Err(Status::invalid_argument(
                "CreateRule takes no rule_id; use UpdateRule to change a rule",
            ));
        }
        let def = rule_from_pb(&req)?;
        let rule = self.store(&principal, None, def, req.is_archived).await?;
        Ok(Response::new(CreateRuleResponse { rule_id: rule.id }))
    }

    async fn update_rule(
        &self,
        request: Request<UpdateRuleRequest>,
    ) -> Result<Response<UpdateRuleResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let def = rule_from_pb(&req)?;
        let rule_id = self.existing(&principal, &req, &def).await?;
        let rule = self
            .store(&principal, rule_id, def, req.is_archived)
            .await?;
        Ok(Response::new(UpdateRuleResponse { rule_id: rule.id }))
    }

    /// Creates or updates several rules as UpdateRule does each, after checking them all: a
    /// rule that does not check is reported in `validation_results` and nothing is stored.
    /// External rules (`is_external`, no client key) are created anew each time, as sift_py's
    /// `create_external_rules` expects.
    async fn batch_update_rules(
        &self,
        request: Request<BatchUpdateRulesRequest>,
    ) -> Result<Response<BatchUpdateRulesResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        let mut planned = Vec::with_capacity(req.rules.len());
        let mut validation_results = Vec::new();
        for update in &req.rules {
            check_organization(&principal, &update.organization_id)?;
            let def = rule_from_pb(update)?;
            let rule_id = self.existing(&principal, update, &def).await?;
            let org = principal.organization_id.clone();
            let probe = def.clone();
            let checked = self
                .state
                .catalog(move |c| check_rule(c, &org, &probe))
                .await;
            if let Err(error) = checked {
                validation_results.push(ValidationResult {
                    rule_id: rule_id.clone().unwrap_or_default(),
                    client_key: def.client_key.clone().unwrap_or_default(),
                    rule_name: def.name.clone(),
                    error: Some(error.message().to_owned()),
                    ..Default::default()
                });
            }
            planned.push((rule_id, def, update.is_archived));
        }
        let success = validation_results.is_empty();
        let mut response = BatchUpdateRulesResponse {
            success,
            validate_only: req.validate_only,
            validation_results,
            ..Default::default()
        };
        if !success || req.validate_only {
            return Ok(Response::new(response));
        }
        for (rule_id, def, archive) in planned {
            let created = rule_id.is_none();
            let rule = self.store(&principal, rule_id, def, archive).await?;
            if created {
                response.rules_created_count += 1;
                response.created_rule_identifiers.push(
                    batch_update_rules_response::RuleIdentifiers {
                        rule_id: rule.id,
                        name: rule.def.name,
                        client_key: rule.def.client_key,
                    },
                );
            } else {
                response.rules_updated_count += 1;
            }
        }
        Ok(Response::new(response))
    }

    async fn delete_rule(
        &self,
        _request: Request<DeleteRuleRequest>,
    ) -> Result<Response<DeleteRuleResponse>, Status> {
        Err(unsupported("RuleService/DeleteRule (use ArchiveRule)"))
    }

    async fn archive_rule(
        &self,
        request: Request<ArchiveRuleRequest>,
    ) -> Result<Response<ArchiveRuleResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        self.set_archived(&principal, req.rule_id, req.client_key, true)
            .await?;
        Ok(Response::new(ArchiveRuleResponse {}))
    }

    async fn batch_delete_rules(
        &self,
        _request: Request<BatchDeleteRulesRequest>,
    ) -> Result<Response<BatchDeleteRulesResponse>, Status> {
        Err(unsupported(
            "RuleService/BatchDeleteRules (use ArchiveRule)",
        ))
    }

    async fn batch_archive_rules(
        &self,
        request: Request<BatchArchiveRulesRequest>,
    ) -> Result<Response<BatchArchiveRulesResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        for id in req.rule_ids {
            self.set_archived(&principal, id, String::new(), true)
                .await?;
        }
        for key in req.client_keys {
            self.set_archived(&principal, String::new(), key, true)
                .await?;
        }
        Ok(Response::new(BatchArchiveRulesResponse {}))
    }

    async fn unarchive_rule(
        &self,
        request: Request<UnarchiveRuleRequest>,
    ) -> Result<Response<UnarchiveRuleResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        self.set_archived(&principal, req.rule_id, req.client_key, false)
            .await?;
        Ok(Response::new(UnarchiveRuleResponse {}))
    }

    async fn batch_unarchive_rules(
        &self,
        request: Request<BatchUnarchiveRulesRequest>,
    ) -> Result<Response<BatchUnarchiveRulesResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        for id in req.rule_ids {
            self.set_archived(&principal, id, String::new(), false)
                .await?;
        }
        for key in req.client_keys {
            self.set_archived(&principal, String::new(), key, false)
                .await?;
        }
        Ok(Response::new(BatchUnarchiveRulesResponse {}))
    }

    async fn undelete_rule(
        &self,
        _request: Request<UndeleteRuleRequest>,
    ) -> Result<Response<UndeleteRuleResponse>, Status> {
        Err(unsupported("RuleService/UndeleteRule (use UnarchiveRule)"))
    }

    async fn batch_undelete_rules(
        &self,
        _request: Request<BatchUndeleteRulesRequest>,
    ) -> Result<Response<BatchUndeleteRulesResponse>, Status> {
        Err(unsupported(
            "RuleService/BatchUndeleteRules (use UnarchiveRule)",
        ))
    }

    /// The older form of RuleEvaluationService/EvaluateRules: rules by id over a run, or over
    /// a time range of the data sent without a run to the assets they watch; `dry_run`
    /// previews.
    async fn evaluate_rules(
        &self,
        request: Request<EvaluateRulesRequest>,
    ) -> Result<Response<EvaluateRulesResponse>, Status> {
        use super::rule_evaluation::{Over, Which, evaluate_and_record, preview};
        use sift_rs::common::r#type::v1::{
            Ids, ResourceIdentifier, ResourceIdentifiers, resource_identifier, resource_identifiers,
        };
        let principal = authorize_call(&request, Action::ReadData)?;
        let req = request.into_inner();
        if !req.dry_run {
            crate::auth::authorize(&principal, Action::ManageRules).map_err(Status::from)?;
        }
        let which = Which::Stored(ResourceIdentifiers {
            identifiers: Some(resource_identifiers::Identifiers::Ids(Ids {
                ids: req.rule_ids,
            })),
        });
        let over = match req.time {
            Some(evaluate_rules_request::Time::RunId(run)) => Over::Run(
                ResourceIdentifier {
                    identifier: Some(resource_identifier::Identifier::Id(run)),
                },
                None,
                None,
            ),
            Some(evaluate_rules_request::Time::TimeRange(range)) => {
                let at = |t: &Option<pbjson_types::Timestamp>, field: &str| {
                    t.as_ref()
                        .map(|t| super::convert::timestamp_from_pb(t, field))
                        .transpose()
                };
                let (Some(start), Some(end)) = (
                    at(&range.start_time, "time_range.start_time")?,
                    at(&range.end_time, "time_range.end_time")?,
                ) else {
                    return Err(Status::invalid_argument(
                        "time_range needs a start_time and an end_time",
                    ));
                };
                Over::RulesAssets(start, end)
            }
            None => {
                return Err(Status::invalid_argument(
                    "EvaluateRules needs a run_id or a time_range",
                ));
            }
        };
        if req.dry_run {
            let dry_run_annotations = preview(&self.state, &principal, which, over).await?;
            return Ok(Response::new(EvaluateRulesResponse {
                created_annotation_count: i32::try_from(dry_run_annotations.len())
                    .unwrap_or(i32::MAX),
                dry_run_annotations,
                ..Default::default()
            }));
        }
        let org = principal.organization_id.clone();
        let tag_ids = req
            .annotation_options
            .map(|o| o.tag_ids)
            .unwrap_or_default();
        let extra_tags = self
            .state
            .catalog(move |c| sextant_catalog::tag_names(c, &org, &tag_ids))
            .await?;
        let (report, created) =
            evaluate_and_record(&self.state, &principal, which, over, extra_tags, None).await?;
        Ok(Response::new(EvaluateRulesResponse {
            created_annotation_count: i32::try_from(created).unwrap_or(i32::MAX),
            report_id: Some(report.id),
            ..Default::default()
        }))
    }

    async fn view_human_friendly_rules(
        &self,
        _request: Request<ViewHumanFriendlyRulesRequest>,
    ) -> Result<Response<ViewHumanFriendlyRulesResponse>, Status> {
        Err(unsupported("RuleService/ViewHumanFriendlyRules"))
    }

    async fn view_json_rules(
        &self,
        _request: Request<ViewJsonRulesRequest>,
    ) -> Result<Response<ViewJsonRulesResponse>, Status> {
        Err(unsupported("RuleService/ViewJsonRules"))
    }

    async fn update_human_friendly_rules(
        &self,
        _request: Request<UpdateHumanFriendlyRulesRequest>,
    ) -> Result<Response<UpdateHumanFriendlyRulesResponse>, Status> {
        Err(unsupported("RuleService/UpdateHumanFriendlyRules"))
    }

    async fn validate_json_rules(
        &self,
        _request: Request<ValidateJsonRulesRequest>,
    ) -> Result<Response<ValidateJsonRulesResponse>, Status> {
        Err(unsupported("RuleService/ValidateJsonRules"))
    }

    async fn update_json_rules(
        &self,
        _request: Request<UpdateJsonRulesRequest>,
    ) -> Result<Response<UpdateJsonRulesResponse>, Status> {
        Err(unsupported("RuleService/UpdateJsonRules"))
    }

    async fn list_rules(
        &self,
        request: Request<ListRulesRequest>,
    ) -> Result<Response<ListRulesResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter =
            filter::parse_for(&req.filter, &["rule_id", "client_key", "name", "asset_id"])?;
        let filter = RuleFilter {
            ids: filter.allowed("rule_id"),
            client_keys: filter.allowed("client_key"),
            names: filter.allowed("name"),
            asset_ids: filter.allowed("asset_id"),
            ..RuleFilter::default()
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (rules, next) = self
            .state
            .catalog(move |c| c.list_rules(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListRulesResponse {
            rules: rules.iter().map(rule_to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn list_rule_versions(
        &self,
        _request: Request<ListRuleVersionsRequest>,
    ) -> Result<Response<ListRuleVersionsResponse>, Status> {
        Err(unsupported("RuleService/ListRuleVersions"))
    }

    async fn get_rule_version(
        &self,
        _request: Request<GetRuleVersionRequest>,
    ) -> Result<Response<GetRuleVersionResponse>, Status> {
        Err(unsupported("RuleService/GetRuleVersion"))
    }

    async fn batch_get_rule_versions(
        &self,
        _request: Request<BatchGetRuleVersionsRequest>,
    ) -> Result<Response<BatchGetRuleVersionsResponse>, Status> {
        Err(unsupported("RuleService/BatchGetRuleVersions"))
    }
}
