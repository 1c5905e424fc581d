//! Users, tags, rules, historical evaluation and annotations over HTTP JSON.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sextant_api::{
    AnnotationList, AnnotationPatch, AnnotationQuery, AppliedRule, CreateTag, CreateUser,
    EvalRequest, EvalResponse, FlushResponse, HeldRange, RuleBody, RuleList, RuleQuery, Tag,
    TagList, User, UserList,
};
use sextant_catalog::{
    AnnotationFilter, AnnotationType, AnnotationUpdate, AssetFilter, Catalog, ChannelFilter,
    NameFilter, Page, Principal, Rule, RuleAction, RuleDef, RuleFilter, Scope,
};
use sextant_model::{ErrorKind, Timestamp};
use sextant_query::Reader;

use super::blocking;
use super::wire;
use crate::auth::{Action, authorize};
use crate::budget::QueryBudget;
use crate::error::{HttpError, JsonBody, QueryParams};
use crate::state::{AppState, org_number};

// ---- users and tags ----

pub(super) async fn create_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<User>), HttpError> {
    authorize(&principal, Action::ManageUsers)?;
    let session_scope: Scope = match body.session_scope.as_deref() {
        None => Scope::Read,
        Some(scope) => scope
            .parse()
            .map_err(|e| HttpError::invalid(format!("session_scope: {e}")))?,
    };
    let login = match (&body.email, &body.password) {
        (None, None) => None,
        (Some(email), Some(password)) => Some((email.clone(), password.clone())),
        _ => {
            return Err(HttpError::invalid(
                "a login needs both `email` and `password`",
            ));
        }
    };
    let user = blocking(move || {
        // Hashed before the user is created, so that a refused password creates no user.
        let login = match login {
            Some((email, password)) => Some((email, crate::login::hash_password(&password)?)),
            None => None,
        };
        let org = &principal.organization_id;
        let user = state.catalog.create_user(org, &body.name)?;
        if let Some((email, hash)) = login {
            state
                .catalog
                .set_user_login(org, &user.id, &email, &hash, session_scope)?;
        }
        Ok(user)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(User {
            user_id: user.id,
            name: user.name,
        }),
    ))
}

pub(super) async fn list_users(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<UserList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let users = blocking(move || {
        all_pages(|page| {
            state
                .catalog
                .list_users(&principal.organization_id, &NameFilter::default(), page)
        })
    })
    .await?;
    let users = users
        .into_iter()
        .map(|u| User {
            user_id: u.id,
            name: u.name,
        })
        .collect();
    Ok(Json(UserList { users }))
}

pub(super) async fn create_tag(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<CreateTag>,
) -> Result<(StatusCode, Json<Tag>), HttpError> {
    authorize(&principal, Action::WriteMetadata)?;
    let tag = blocking(move || {
        Ok(state
            .catalog
            .get_or_create_tag(&principal.organization_id, &body.name)?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Tag {
            tag_id: tag.id,
            name: tag.name,
        }),
    ))
}

pub(super) async fn list_tags(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<TagList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let tags = blocking(move || {
        all_pages(|page| {
            state
                .catalog
                .list_tags(&principal.organization_id, &NameFilter::default(), page)
        })
    })
    .await?;
    let tags = tags
        .into_iter()
        .map(|t| Tag {
            tag_id: t.id,
            name: t.name,
        })
        .collect();
    Ok(Json(TagList { tags }))
}

// ---- rules ----

/// Resolves a rule body's names into a declaration, creating missing tags.
fn resolve(catalog: &dyn Catalog, org: &str, body: &RuleBody) -> Result<RuleDef, HttpError> {
    let annotation_type = wire::catalog_annotation_type(body.rule_type.unwrap_or_default());
    let mut asset_ids = Vec::new();
    for name in &body.asset_names {
        let filter = AssetFilter {
            names: Some(vec![name.clone()]),
            ..AssetFilter::default()
        };
        let (assets, _) = catalog.list_assets(org, &filter, Page::first(1))?;
        let asset = assets.into_iter().next().ok_or_else(|| {
            HttpError::new(
                ErrorKind::NotFound,
                format!("rule `{}`: no asset named `{name}`", body.name),
            )
        })?;
        asset_ids.push(asset.id);
    }
    let assignee_user_id = match &body.assignee {
        Some(name) if annotation_type == AnnotationType::DataReview => {
            let filter = NameFilter {
                names: Some(vec![name.clone()]),
                ..NameFilter::default()
            };
            let (users, _) = catalog.list_users(org, &filter, Page::first(1))?;
            Some(
                users
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        HttpError::new(
                            ErrorKind::NotFound,
                            format!(
                                "rule `{}`: no user named `{name}` (create one with POST /api/native/v1/users)",
                                body.name
                            ),
                        )
                    })?
                    .id,
            )
        }
        _ => None,
    };
    let mut tag_ids = Vec::new();
    for tag in &body.tags {
        tag_ids.push(catalog.get_or_create_tag(org, tag)?.id);
    }
    if let Some(url) = &body.webhook_url
        && !url.starts_with("http://")
    {
        return Err(HttpError::invalid(format!(
            "rule `{}`: webhook_url {url:?} must start with http:// (HTTPS is not supported)",
            body.name
        )));
    }
    Ok(RuleDef {
        name: body.name.clone(),
        description: body.description.clone(),
        client_key: body.client_key.clone().filter(|k| !k.is_empty()),
        expression: body.expression.clone(),
        channel_references: body
            .channel_references
            .iter()
            .map(|(r, c)| (r.clone(), c.clone()))
            .collect(),
        contextual_channels: body.contextual_channels.clone(),
        asset_ids,
        asset_tag_ids: Vec::new(),
        action: RuleAction {
            annotation_type,
            tag_ids,
            assignee_user_id,
        },
        is_live: body.live,
        is_external: false,
        webhook_url: body.webhook_url.clone(),
    })
}

pub(super) async fn list_rules(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryParams(params): QueryParams<RuleQuery>,
) -> Result<Json<RuleList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let filter = RuleFilter {
        asset_ids: params.asset_id.map(|id| vec![id]),
        include_archived: params.include_archived,
        ..RuleFilter::default()
    };
    let rules = blocking(move || {
        all_pages(|page| {
            state
                .catalog
                .list_rules(&principal.organization_id, &filter, page)
        })
    })
    .await?;
    let rules = rules.iter().map(wire::rule).collect();
    Ok(Json(RuleList { rules }))
}

/// `POST /api/native/v1/rules`: creates the rule, or updates the one with its client key.
pub(super) async fn apply_rule(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<(StatusCode, Json<AppliedRule>), HttpError> {
    authorize(&principal, Action::ManageRules)?;
    if let Some(url) = &body.webhook_url {
        state
            .webhook_allow
            .check(url)
            .map_err(|e| HttpError::invalid(format!("rule `{}`: {e}", body.name)))?;
    }
    let org = principal.organization_id.clone();
    let engine = state.rules.clone();
    let (rule, created) = blocking(move || {
        let catalog = state.catalog.as_ref();
        let def = resolve(catalog, &org, &body)?;
        crate::sift::rules::check_rule(catalog, &org, &def)?;
        let existing = match &def.client_key {
            Some(key) => catalog.find_rule(&org, key)?,
            None => None,
        };
        let out = match existing {
            Some(rule) => (catalog.update_rule(&org, &rule.id, &def)?, false),
            None => (catalog.create_rule(&org, &def)?, true),
        };
        engine.rules_changed(&org);
        Ok(out)
    })
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(AppliedRule {
            rule: wire::rule(&rule),
            created,
        }),
    ))
}

/// `POST /api/native/v1/rules/flush`: waits until every write committed before the call has been
/// evaluated by the live rules and their checkpoints saved (tests and benchmarks use it).
pub(super) async fn flush_rules(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<FlushResponse>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let engine = state.rules.clone();
    blocking(move || Ok(engine.flush()?)).await?;
    let stats = state.rules.stats();
    Ok(Json(FlushResponse {
        evaluations: stats.evaluations,
        opened: stats.opened,
        closed: stats.closed,
        failures: stats.failures,
    }))
}

/// `POST /api/native/v1/rules/eval`: the ranges where a rule held over stored data.
pub(super) async fn eval_rule(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<EvalRequest>,
) -> Result<Json<EvalResponse>, HttpError> {
    authorize(&principal, Action::ReadData)?;
    if body.annotate {
        authorize(&principal, Action::ManageRules)?;
    }
    let org = principal.organization_id.clone();
    // The evaluation stops at the server's query deadline, or when its client goes away (this
    // future, holding the guard, is then dropped).
    let limits = state.query_limits(&org).await;
    let (budget, _client) = QueryBudget::start(&limits);
    let result = blocking(move || {
        let catalog = state.catalog.as_ref();
        let filter = AssetFilter {
            names: Some(vec![body.asset.clone()]),
            ..AssetFilter::default()
        };
        let asset = catalog
            .list_assets(&org, &filter, Page::first(1))?
            .0
            .into_iter()
            .next()
            .ok_or_else(|| {
                HttpError::new(
                    ErrorKind::NotFound,
                    format!("no asset named `{}`", body.asset),
                )
            })?;
        let rule = match (&body.rule_key, &body.rule) {
            (Some(key), None) => match catalog.find_rule(&org, key)? {
                Some(rule) => rule,
                None => catalog.get_rule(&org, key)?,
            },
            (None, Some(inline)) => Rule {
                id: String::new(),
                organization_id: org.clone(),
                def: resolve(catalog, &org, inline)?,
                version: 0,
                archived_at: None,
                created_at: 0,
                modified_at: 0,
            },
            _ => {
                return Err(HttpError::invalid(
                    "give either `rule_key` (a stored rule) or `rule` (a rule inline)",
                ));
            }
        };
        if body.annotate && rule.id.is_empty() {
            return Err(HttpError::invalid(
                "`annotate` needs a stored rule (`rule_key`)",
            ));
        }
        let channel_filter = ChannelFilter {
            asset_ids: Some(vec![asset.id.clone()]),
            ..ChannelFilter::default()
        };
        let channels = all_pages(|page| catalog.list_channels(&org, &channel_filter, page))?;
        let compiled = sextant_rules::compile_rule(&rule, &asset.name, &channels)?;
        let run_id = body.run_id.clone().unwrap_or_default();
        let start = body.start.unwrap_or(Timestamp::MIN);
        let end = body.end.unwrap_or(Timestamp::MAX);
        if end <= start {
            return Err(HttpError::invalid(format!(
                "end ({end}) must be after start ({start})"
            )));
        }
        let proceed = || budget.check();
        let reader = Reader::new(state.store.as_ref(), org_number(&org))
            .stopping_when(&proceed)
            .holding_at_most(limits.max_points, limits.max_points_hint());
        let ranges = sextant_rules::history::evaluate_history(
            &reader,
            &compiled,
            &asset.name,
            &run_id,
            start..end,
        )?;
        let mut created = Vec::new();
        if body.annotate {
            let tags = tag_names(catalog, &org, &rule.def.action.tag_ids)?;
            for range in &ranges {
                let annotation = catalog.create_annotation(
                    &org,
                    &sextant_rules::history::annotation(
                        &rule,
                        &asset.id,
                        Some(&run_id),
                        tags.clone(),
                        range.start,
                        Some(range.end.unwrap_or(end.max(range.start))),
                    ),
                )?;
                created.push(annotation.id);
            }
        }
        Ok(EvalResponse {
            rule: rule.def.name,
            asset: asset.name,
            ranges: ranges
                .iter()
                .map(|r| HeldRange {
                    start: r.start,
                    end: r.end,
                })
                .collect(),
            annotation_ids: created,
        })
    })
    .await?;
    Ok(Json(result))
}

fn tag_names(catalog: &dyn Catalog, org: &str, ids: &[String]) -> Result<Vec<String>, HttpError> {
    Ok(sextant_catalog::tag_names(catalog, org, ids)?)
}

// ---- annotations ----

pub(super) async fn list_annotations(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryParams(params): QueryParams<AnnotationQuery>,
) -> Result<Json<AnnotationList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let states = params.state.map(|s| vec![wire::catalog_state(s)]);
    let filter = AnnotationFilter {
        ids: None,
        rule_ids: params.rule_id.map(|v| vec![v]),
        asset_ids: params.asset_id.map(|v| vec![v]),
        run_ids: params.run_id.map(|v| vec![v]),
        states,
        assignee_user_ids: params.assignee_user_id.map(|v| vec![v]),
        tags: params.tag.map(|v| vec![v]),
        from: params.from,
        to: params.to,
        archived: Default::default(),
    };
    let page = Page {
        size: params.page_size.unwrap_or(Page::MAX_SIZE),
        token: params.page_token.unwrap_or_default(),
    };
    let (annotations, next) = blocking(move || {
        Ok(state
            .catalog
            .list_annotations(&principal.organization_id, &filter, page)?)
    })
    .await?;
    Ok(Json(AnnotationList {
        annotations: annotations.iter().map(wire::annotation).collect(),
        next_page_token: next,
    }))
}

pub(super) async fn get_annotation(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<sextant_api::Annotation>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let annotation = blocking(move || {
        Ok(state
            .catalog
            .get_annotation(&principal.organization_id, &id)?)
    })
    .await?;
    Ok(Json(wire::annotation(&annotation)))
}

/// `PATCH /api/native/v1/annotations/{id}` with any of `state`, `assignee_user_id` (null
/// removes it), `name`, `description`, `tags`.
pub(super) async fn update_annotation(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AnnotationPatch>,
) -> Result<Json<sextant_api::Annotation>, HttpError> {
    authorize(&principal, Action::ManageRules)?;
    let update = AnnotationUpdate {
        state: body.state.map(wire::catalog_state),
        assignee_user_id: body.assignee_user_id,
        name: body.name,
        description: body.description,
        tags: body.tags,
    };
    let annotation = blocking(move || {
        Ok(state
            .catalog
            .update_annotation(&principal.organization_id, &id, update)?)
    })
    .await?;
    Ok(Json(wire::annotation(&annotation)))
}

/// Every item of a paged catalog listing.
fn all_pages<T>(
    list: impl FnMut(Page) -> sextant_catalog::Result<(Vec<T>, String)>,
) -> Result<Vec<T>, HttpError> {
    Ok(sextant_catalog::all_pages(list)?)
}
