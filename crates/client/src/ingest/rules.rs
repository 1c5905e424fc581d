//! Registering a telemetry config's rules, as `sift_py`'s `IngestionService` does when it
//! starts: each rule is applied by its client key (`UpdateRule` with no rule id creates the
//! rule or updates the one with that key), on the config's asset, with its annotation tags
//! created when missing and its assignee found among the organization's users.

use std::collections::HashMap;

use sextant_telemetry::{CompiledRule, RuleType};
use sift_rs::rules::v1::rule_action_configuration::Configuration;
use sift_rs::rules::v1::rule_condition_expression::Expression;
use sift_rs::rules::v1::rule_service_client::RuleServiceClient;
use sift_rs::rules::v1::{
    AnnotationActionConfiguration, CalculatedChannelConfig, ChannelReference, ContextualChannels,
    RuleActionConfiguration, RuleAssetConfiguration, RuleConditionExpression, UpdateActionRequest,
    UpdateConditionRequest, UpdateRuleRequest,
};
use sift_rs::tags::v2::tag_service_client::TagServiceClient;
use sift_rs::tags::v2::{CreateTagRequest, ListTagsRequest};
use sift_rs::users::v2::ListActiveUsersRequest;
use sift_rs::users::v2::user_service_client::UserServiceClient;

use super::registration::quote;
use super::retry::{RetryPolicy, retry};
use crate::{Error, Result, SextantChannel};

/// Sift's `ActionKind.ANNOTATION`.
const ACTION_ANNOTATION: i32 = 2;
/// Sift's `AnnotationType`: data review 1, phase 2.
const ANNOTATION_DATA_REVIEW: i32 = 1;
const ANNOTATION_PHASE: i32 = 2;

/// A rule of the telemetry config as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredRule {
    /// The rule's name.
    pub name: String,
    /// Its client key, which identifies it across registrations.
    pub client_key: String,
    /// The server's id of the rule.
    pub rule_id: String,
}

/// Applies every rule to the server, on `asset_id`, in the config's order.
pub(crate) async fn register_rules(
    names: &mut Names<'_>,
    rules: &[CompiledRule],
    asset_id: &str,
    organization_id: &str,
) -> Result<Vec<RegisteredRule>> {
    let policy = names.policy;
    let client = RuleServiceClient::new(names.channel.clone());
    let mut registered = Vec::with_capacity(rules.len());
    for compiled in rules {
        let rule = &compiled.rule;
        // Validation made sure there is one.
        let client_key = rule.rule_client_key.clone().unwrap_or_default();
        let mut tag_ids = Vec::with_capacity(rule.tags.len());
        for tag in &rule.tags {
            tag_ids.push(names.tag_id(tag).await?);
        }
        let (annotation_type, assignee) = match rule.rule_type {
            RuleType::Review => (ANNOTATION_DATA_REVIEW, rule.assignee.as_deref()),
            RuleType::Phase => (ANNOTATION_PHASE, None),
        };
        let assigned_to_user_id = match assignee {
            Some(name) => Some(names.user_id(name, &rule.name).await?),
            None => None,
        };
        let channel_references = rule
            .channel_references
            .iter()
            .map(|r| (r.reference.clone(), reference(r.full_name())))
            .collect();
        let request = UpdateRuleRequest {
            rule_id: None,
            client_key: Some(client_key.clone()),
            name: rule.name.clone(),
            description: rule.description.clone().unwrap_or_default(),
            organization_id: organization_id.to_owned(),
            conditions: vec![UpdateConditionRequest {
                rule_condition_id: None,
                expression: Some(RuleConditionExpression {
                    expression: Some(Expression::CalculatedChannel(CalculatedChannelConfig {
                        channel_references,
                        expression: compiled.expression.clone(),
                        ..Default::default()
                    })),
                }),
                actions: vec![UpdateActionRequest {
                    rule_action_id: None,
                    action_type: ACTION_ANNOTATION,
                    configuration: Some(RuleActionConfiguration {
                        configuration: Some(Configuration::Annotation(
                            AnnotationActionConfiguration {
                                tag_ids,
                                annotation_type,
                                assigned_to_user_id,
                                metadata: Vec::new(),
                            },
                        )),
                    }),
                }],
            }],
            asset_configuration: Some(RuleAssetConfiguration {
                asset_ids: vec![asset_id.to_owned()],
                tag_ids: Vec::new(),
            }),
            contextual_channels: Some(ContextualChannels {
                channels: rule
                    .contextual_channels
                    .iter()
                    .map(|name| reference(name.clone()))
                    .collect(),
            }),
            is_external: rule.is_external,
            is_live_evaluation_enabled: Some(rule.is_live),
            ..Default::default()
        };
        let rule_id = retry(policy, "RuleService/UpdateRule", || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.update_rule(request).await }
        })
        .await
        .map_err(|e| in_rule(e, &rule.name))?
        .into_inner()
        .rule_id;
        tracing::debug!(rule = %rule.name, %rule_id, "rule registered");
        registered.push(RegisteredRule {
            name: rule.name.clone(),
            client_key,
            rule_id,
        });
    }
    Ok(registered)
}

fn reference(full_name: String) -> ChannelReference {
    ChannelReference {
        name: full_name,
        ..Default::default()
    }
}

/// Says which rule a failed call was registering.
fn in_rule(error: Error, rule: &str) -> Error {
    match error {
        Error::Rpc { call, status } => Error::Rpc {
            call,
            status: tonic::Status::new(
                status.code(),
                format!("rule `{rule}`: {}", status.message()),
            ),
        },
        other => other,
    }
}

/// Tag and user ids by name, each looked up once.
pub(crate) struct Names<'a> {
    channel: &'a SextantChannel,
    policy: &'a RetryPolicy,
    tags: HashMap<String, String>,
    users: HashMap<String, String>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(channel: &'a SextantChannel, policy: &'a RetryPolicy) -> Self {
        Names {
            channel,
            policy,
            tags: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// Finds every rule's assignee, so that a missing user fails the registration before
    /// anything is created.
    pub(crate) async fn find_assignees(&mut self, rules: &[CompiledRule]) -> Result<()> {
        for compiled in rules {
            let rule = &compiled.rule;
            if let (RuleType::Review, Some(name)) = (rule.rule_type, &rule.assignee) {
                self.user_id(name, &rule.name).await?;
            }
        }
        Ok(())
    }

    /// The id of the tag called `name`, created when the organization has none.
    async fn tag_id(&mut self, name: &str) -> Result<String> {
        if let Some(id) = self.tags.get(name) {
            return Ok(id.clone());
        }
        let client = TagServiceClient::new(self.channel.clone());
        let filter = quote("name", name)?;
        let found = retry(self.policy, "TagService/ListTags", || {
            let mut client = client.clone();
            let request = ListTagsRequest {
                page_size: 1,
                filter: filter.clone(),
                ..Default::default()
            };
            async move { client.list_tags(request).await }
        })
        .await?
        .into_inner()
        .tags
        .into_iter()
        .next();
        let tag = match found {
            Some(tag) => tag,
            None => retry(self.policy, "TagService/CreateTag", || {
                let mut client = client.clone();
                let request = CreateTagRequest {
                    name: name.to_owned(),
                };
                async move { client.create_tag(request).await }
            })
            .await?
            .into_inner()
            .tag
            .ok_or_else(|| {
                Error::Decode(format!(
                    "the server created tag `{name}` but sent no tag back"
                ))
            })?,
        };
        self.tags.insert(name.to_owned(), tag.tag_id.clone());
        Ok(tag.tag_id)
    }

    /// The id of the active user called `name`; a rule cannot be assigned to anyone else.
    async fn user_id(&mut self, name: &str, rule: &str) -> Result<String> {
        if let Some(id) = self.users.get(name) {
            return Ok(id.clone());
        }
        let client = UserServiceClient::new(self.channel.clone());
        let filter = quote("name", name)?;
        let found = retry(self.policy, "UserService/ListActiveUsers", || {
            let mut client = client.clone();
            let request = ListActiveUsersRequest {
                page_size: 1,
                filter: filter.clone(),
                ..Default::default()
            };
            async move { client.list_active_users(request).await }
        })
        .await?
        .into_inner()
        .users
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::NotFound(format!(
                "rule `{rule}` is assigned to `{name}`, who is not a user of this organization; \
                 create the user first (`sextant users create {name}`) or leave the assignee out"
            ))
        })?;
        self.users.insert(name.to_owned(), found.user_id.clone());
        Ok(found.user_id)
    }
}
