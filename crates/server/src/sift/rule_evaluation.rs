//! `sift.rule_evaluation.v1.RuleEvaluationService`: rules (live or not, external ones too)
//! evaluated over stored data, against a run or against assets over a time range, with the
//! semantics of live evaluation ([`sextant_rules::history`]). `EvaluateRules` records an
//! annotation for each range where a rule held and a report of what each rule found on each
//! asset; `EvaluateRulesPreview` returns the ranges and records nothing.
//!
//! The evaluation runs within the call, bounded by the organization's query deadline and point
//! limit, so the report is finished when the call returns.

use std::ops::Range;

use sextant_catalog::{
    Asset, AssetFilter, Catalog, ChannelFilter, NewReport, Page, Principal, ReportRuleStatus,
    ReportRuleSummary, Rule, RuleFilter, RunFilter, all_pages,
};
use sextant_model::{ErrorKind, Timestamp};
use sextant_query::Reader;
use sextant_rules::history::{HeldRange, annotation, evaluate_history};
use sift_rs::common::r#type::v1::{
    NamedResources, ResourceIdentifier, ResourceIdentifiers, named_resources, resource_identifier,
    resource_identifiers,
};
use sift_rs::rule_evaluation::v1::rule_evaluation_service_server::RuleEvaluationService;
use sift_rs::rule_evaluation::v1::*;
use sift_rs::rules::v1::DryRunAnnotation;
use tonic::{Request, Response, Status};

use super::convert::{timestamp_from_pb, timestamp_to_pb};
use super::rules::rule_from_pb;
use crate::auth::{Action, authorize, authorize_call, check_organization};
use crate::budget::QueryBudget;
use crate::error::status;
use crate::state::{AppState, org_number};

/// The service.
#[derive(Debug, Clone)]
pub struct RuleEvaluation {
    pub(crate) state: AppState,
}

/// Which rules to evaluate.
pub(crate) enum Which {
    /// Stored rules by id or client key.
    Stored(ResourceIdentifiers),
    /// A report template's rules.
    Template(ResourceIdentifier),
    /// Every rule watching the target's assets.
    AllApplicable,
    /// Rules given whole, not stored (previews).
    Given(Vec<Rule>),
}

/// What to evaluate them over.
pub(crate) enum Over {
    /// A run's data, optionally within a range.
    Run(ResourceIdentifier, Option<Timestamp>, Option<Timestamp>),
    /// Some assets' data sent without a run, within a range.
    Assets(NamedResources, Timestamp, Timestamp),
    /// The data sent without a run, within a range, of every asset one of the rules watches.
    RulesAssets(Timestamp, Timestamp),
}

/// The rules and data of an evaluation, resolved.
pub(crate) struct Plan {
    pub rules: Vec<Rule>,
    pub template_id: Option<String>,
    pub run: Option<sextant_catalog::Run>,
    pub assets: Vec<Asset>,
    pub range: Range<Timestamp>,
}

/// What one rule found on one asset.
pub(crate) struct Found {
    pub rule: Rule,
    pub asset: Asset,
    pub outcome: Result<Vec<HeldRange>, String>,
}

fn not_found(what: &'static str, id: impl Into<String>) -> sextant_catalog::Error {
    sextant_catalog::Error::NotFound {
        what,
        id: id.into(),
    }
}

fn invalid(message: impl Into<String>) -> sextant_catalog::Error {
    sextant_catalog::Error::InvalidInput(message.into())
}

fn rule_by(
    catalog: &dyn Catalog,
    org: &str,
    id: Option<&str>,
    key: Option<&str>,
) -> sextant_catalog::Result<Rule> {
    match (id, key) {
        (Some(id), _) => catalog.get_rule(org, id),
        (None, Some(key)) => catalog
            .find_rule(org, key)?
            .ok_or_else(|| not_found("rule with client key", key)),
        (None, None) => Err(invalid("name a rule by id or client key")),
    }
}

/// Resolves the rules and the data of an evaluation.
pub(crate) fn plan(
    catalog: &dyn Catalog,
    org: &str,
    which: Which,
    over: Over,
) -> sextant_catalog::Result<Plan> {
    enum Kind {
        RulesAssets,
        Other,
    }
    let over_kind = match over {
        Over::RulesAssets(..) => Kind::RulesAssets,
        _ => Kind::Other,
    };
    let (run, mut assets, range) = match over {
        Over::Run(run, start, end) => {
            let run = match run.identifier {
                Some(resource_identifier::Identifier::Id(id)) => catalog.get_run(org, &id)?,
                Some(resource_identifier::Identifier::ClientKey(key)) => {
                    let filter = RunFilter {
                        client_keys: Some(vec![key.clone()]),
                        ..RunFilter::default()
                    };
                    catalog
                        .list_runs(org, &filter, Page::first(1))?
                        .0
                        .into_iter()
                        .next()
                        .ok_or_else(|| not_found("run with client key", key))?
                }
                None => return Err(invalid("the run needs an id or a client key")),
            };
            let assets = run
                .asset_ids
                .iter()
                .map(|id| catalog.get_asset(org, id))
                .collect::<sextant_catalog::Result<Vec<_>>>()?;
            let range = start.unwrap_or(Timestamp::MIN)..end.unwrap_or(Timestamp::MAX);
            (Some(run), assets, range)
        }
        Over::Assets(named, start, end) => {
            let filter = match named.resources {
                Some(named_resources::Resources::Ids(ids)) => AssetFilter {
                    ids: Some(ids.ids),
                    ..AssetFilter::default()
                },
                Some(named_resources::Resources::Names(names)) => AssetFilter {
                    names: Some(names.names),
                    ..AssetFilter::default()
                },
                None => return Err(invalid("the assets need ids or names")),
            };
            let wanted = filter
                .ids
                .as_ref()
                .or(filter.names.as_ref())
                .map_or(0, Vec::len);
            let assets = all_pages(|page| catalog.list_assets(org, &filter, page))?;
            if assets.len() < wanted {
                return Err(not_found(
                    "asset",
                    format!("{:?}", filter.ids.or(filter.names).unwrap_or_default()),
                ));
            }
            (None, assets, start..end)
        }
        // Found once the rules are known.
        Over::RulesAssets(start, end) => (None, Vec::new(), start..end),
    };
    let rules_assets = matches!(over_kind, Kind::RulesAssets);
    if range.end <= range.start {
        return Err(invalid(format!(
            "the end time ({}) must be after the start time ({})",
            range.end, range.start
        )));
    }
    let mut template_id = None;
    let rules = match which {
        Which::Stored(ids) => match ids.identifiers {
            Some(resource_identifiers::Identifiers::Ids(ids)) => ids
                .ids
                .iter()
                .map(|id| rule_by(catalog, org, Some(id), None))
                .collect::<sextant_catalog::Result<Vec<_>>>()?,
            Some(resource_identifiers::Identifiers::ClientKeys(keys)) => keys
                .client_keys
                .iter()
                .map(|key| rule_by(catalog, org, None, Some(key)))
                .collect::<sextant_catalog::Result<Vec<_>>>()?,
            None => return Err(invalid("name the rules by ids or client keys")),
        },
        Which::Template(template) => {
            let template = match template.identifier {
                Some(resource_identifier::Identifier::Id(id)) => {
                    catalog.get_report_template(org, &id)?
                }
                Some(resource_identifier::Identifier::ClientKey(key)) => catalog
                    .find_report_template(org, &key)?
                    .ok_or_else(|| not_found("report template with client key", key))?,
                None => return Err(invalid("the report template needs an id or a client key")),
            };
            template_id = Some(template.id.clone());
            template
                .def
                .rule_ids
                .iter()
                .map(|id| catalog.get_rule(org, id))
                .collect::<sextant_catalog::Result<Vec<_>>>()?
        }
        Which::AllApplicable if rules_assets => {
            return Err(invalid(
                "all applicable rules need assets or a run to evaluate against",
            ));
        }
        Which::AllApplicable => {
            let filter = RuleFilter {
                asset_ids: Some(assets.iter().map(|a| a.id.clone()).collect()),
                ..RuleFilter::default()
            };
            all_pages(|page| catalog.list_rules(org, &filter, page))?
        }
        Which::Given(rules) => rules,
    };
    if rules.is_empty() {
        return Err(invalid("there are no rules to evaluate"));
    }
    if rules_assets {
        let filter = AssetFilter {
            archived: Some(false),
            ..AssetFilter::default()
        };
        for asset in all_pages(|page| catalog.list_assets(org, &filter, page))? {
            let mut watched = false;
            for rule in &rules {
                watched |= watches(catalog, org, rule, &asset)?;
            }
            if watched {
                assets.push(asset);
            }
        }
    }
    Ok(Plan {
        rules,
        template_id,
        run,
        assets,
        range,
    })
}

/// Whether `rule` watches `asset`: it names it, or one of its asset tags is on it.
fn watches(
    catalog: &dyn Catalog,
    org: &str,
    rule: &Rule,
    asset: &Asset,
) -> sextant_catalog::Result<bool> {
    if rule.def.asset_ids.contains(&asset.id) {
        return Ok(true);
    }
    if rule.id.is_empty() || rule.def.asset_tag_ids.is_empty() {
        return Ok(false);
    }
    let filter = RuleFilter {
        ids: Some(vec![rule.id.clone()]),
        asset_ids: Some(vec![asset.id.clone()]),
        include_archived: true,
        ..RuleFilter::default()
    };
    Ok(!catalog
        .list_rules(org, &filter, Page::first(1))?
        .0
        .is_empty())
}

/// Evaluates every rule of the plan on each of its assets that the rule watches. A rule that
/// cannot be evaluated on an asset (a channel missing, a type error, a query limit) is an
/// outcome of its own, and the others go on.
pub(crate) fn evaluate(
    catalog: &dyn Catalog,
    reader: &Reader<'_>,
    org: &str,
    plan: &Plan,
) -> sextant_catalog::Result<Vec<Found>> {
    let run_id = plan.run.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    let mut found = Vec::new();
    for asset in &plan.assets {
        let filter = ChannelFilter {
            asset_ids: Some(vec![asset.id.clone()]),
            ..ChannelFilter::default()
        };
        let channels = all_pages(|page| catalog.list_channels(org, &filter, page))?;
        for rule in &plan.rules {
            if !watches(catalog, org, rule, asset)? {
                continue;
            }
            let outcome = sextant_rules::compile_rule(rule, &asset.name, &channels)
                .and_then(|compiled| {
                    evaluate_history(reader, &compiled, &asset.name, &run_id, plan.range.clone())
                })
                .map_err(|e| e.to_string());
            found.push(Found {
                rule: rule.clone(),
                asset: asset.clone(),
                outcome,
            });
        }
    }
    Ok(found)
}

/// Runs `call` with the catalog and a reader of the organization's data, on a blocking thread,
/// within the organization's query deadline and point limit.
async fn with_reader<T, F>(state: &AppState, org: &str, call: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce(&dyn Catalog, &Reader<'_>) -> sextant_catalog::Result<T> + Send + 'static,
{
    let limits = state.query_limits(org).await;
    let (budget, _client) = QueryBudget::start(&limits);
    let (store, catalog) = (state.store.clone(), state.catalog.clone());
    let org = org_number(org);
    tokio::task::spawn_blocking(move || {
        let proceed = || budget.check();
        let reader = Reader::new(store.as_ref(), org)
            .stopping_when(&proceed)
            .holding_at_most(limits.max_points, limits.max_points_hint());
        call(catalog.as_ref(), &reader)
    })
    .await
    .map_err(|e| status(ErrorKind::Internal, e))?
    .map_err(crate::error::catalog_status)
}

fn time_of(t: &Option<pbjson_types::Timestamp>, field: &str) -> Result<Option<Timestamp>, Status> {
    t.as_ref().map(|t| timestamp_from_pb(t, field)).transpose()
}

fn over_run(run: ResourceIdentifier) -> Over {
    Over::Run(run, None, None)
}

fn over_run_range(range: RunTimeRange) -> Result<Over, Status> {
    let run = range
        .run
        .ok_or_else(|| Status::invalid_argument("run_time_range needs a run"))?;
    Ok(Over::Run(
        run,
        time_of(&range.start_time, "run_time_range.start_time")?,
        time_of(&range.end_time, "run_time_range.end_time")?,
    ))
}

#[tonic::async_trait]
impl RuleEvaluationService for RuleEvaluation {
    async fn evaluate_rules(
        &self,
        request: Request<EvaluateRulesRequest>,
    ) -> Result<Response<EvaluateRulesResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadData)?;
        authorize(&principal, Action::ManageRules).map_err(Status::from)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        if !req.run_family_alignment_configs.is_empty() {
            return Err(Status::unimplemented(
                "Sextant does not evaluate rules over run families",
            ));
        }
        use evaluate_rules_request::{Mode, Time};
        let over = match req.time {
            Some(Time::Run(run)) => over_run(run),
            Some(Time::RunTimeRange(range)) => over_run_range(range)?,
            Some(Time::Assets(assets)) => {
                let start = time_of(&assets.start_time, "assets.start_time")?;
                let end = time_of(&assets.end_time, "assets.end_time")?;
                let (Some(start), Some(end)) = (start, end) else {
                    return Err(Status::invalid_argument(
                        "evaluating against assets needs a start_time and an end_time",
                    ));
                };
                Over::Assets(assets.assets.unwrap_or_default(), start, end)
            }
            None => {
                return Err(Status::invalid_argument(
                    "EvaluateRules needs a run, a run_time_range or assets",
                ));
            }
        };
        let which = match req.mode {
            Some(Mode::Rules(rules)) => Which::Stored(rules.rules.unwrap_or_default()),
            Some(Mode::ReportTemplate(template)) => {
                Which::Template(template.report_template.unwrap_or_default())
            }
            Some(Mode::AllApplicableRules(true)) => Which::AllApplicable,
            Some(Mode::RuleVersions(_)) => {
                return Err(Status::unimplemented(
                    "Sextant keeps only the current version of a rule: evaluate rules by id or \
                     client key",
                ));
            }
            Some(Mode::AllApplicableRules(false)) | None => {
                return Err(Status::invalid_argument(
                    "EvaluateRules needs rules, a report_template or all_applicable_rules",
                ));
            }
        };
        let extra_tags = match req.annotation_options.and_then(|o| o.tags) {
            Some(NamedResources {
                resources: Some(named_resources::Resources::Names(names)),
            }) => names.names,
            Some(NamedResources {
                resources: Some(named_resources::Resources::Ids(_)),
            }) => {
                return Err(Status::invalid_argument(
                    "annotation_options.tags: give tag names",
                ));
            }
            _ => Vec::new(),
        };
        let report_name = req.report_name.filter(|n| !n.is_empty());
        let (report, created) = evaluate_and_record(
            &self.state,
            &principal,
            which,
            over,
            extra_tags,
            report_name,
        )
        .await?;
        Ok(Response::new(EvaluateRulesResponse {
            created_annotation_count: i32::try_from(created).unwrap_or(i32::MAX),
            report_id: Some(report.id),
            job_id: None,
        }))
    }

    async fn evaluate_rules_preview(
        &self,
        request: Request<EvaluateRulesPreviewRequest>,
    ) -> Result<Response<EvaluateRulesPreviewResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadData)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        if !req.run_family_alignment_configs.is_empty() {
            return Err(Status::unimplemented(
                "Sextant does not evaluate rules over run families",
            ));
        }
        use evaluate_rules_preview_request::{Mode, Time};
        let over = match req.time {
            Some(Time::Run(run)) => over_run(run),
            Some(Time::RunTimeRange(range)) => over_run_range(range)?,
            None => {
                return Err(Status::invalid_argument(
                    "EvaluateRulesPreview needs a run or a run_time_range",
                ));
            }
        };
        let which = match req.mode {
            Some(Mode::Rules(rules)) => Which::Stored(rules.rules.unwrap_or_default()),
            Some(Mode::ReportTemplate(template)) => {
                Which::Template(template.report_template.unwrap_or_default())
            }
            Some(Mode::RuleConfigs(configs)) => {
                let mut rules = Vec::with_capacity(configs.configs.len());
                for config in &configs.configs {
                    rules.push(Rule {
                        id: String::new(),
                        organization_id: principal.organization_id.clone(),
                        def: rule_from_pb(config)?,
                        version: 0,
                        archived_at: None,
                        created_at: 0,
                        modified_at: 0,
                    });
                }
                Which::Given(rules)
            }
            Some(Mode::RuleVersions(_)) => {
                return Err(Status::unimplemented(
                    "Sextant keeps only the current version of a rule: preview rules by id or \
                     client key",
                ));
            }
            None => {
                return Err(Status::invalid_argument(
                    "EvaluateRulesPreview needs rules, a report_template or rule_configs",
                ));
            }
        };
        let dry_run_annotations = preview(&self.state, &principal, which, over).await?;
        Ok(Response::new(EvaluateRulesPreviewResponse {
            created_annotation_count: i32::try_from(dry_run_annotations.len()).unwrap_or(i32::MAX),
            dry_run_annotations,
        }))
    }
}

/// Evaluates the rules over the data without recording anything: the ranges where each held.
pub(crate) async fn preview(
    state: &AppState,
    principal: &Principal,
    which: Which,
    over: Over,
) -> Result<Vec<DryRunAnnotation>, Status> {
    let org = principal.organization_id.clone();
    let found = with_reader(state, &org.clone(), move |catalog, reader| {
        let plan = plan(catalog, &org, which, over)?;
        evaluate(catalog, reader, &org, &plan)
    })
    .await?;
    let mut dry_run_annotations = Vec::new();
    for f in found {
        let ranges = f.outcome.map_err(|error| {
            Status::invalid_argument(format!(
                "rule {:?} on asset {:?}: {error}",
                f.rule.def.name, f.asset.name
            ))
        })?;
        for range in ranges {
            dry_run_annotations.push(DryRunAnnotation {
                condition_id: f.rule.id.clone(),
                name: f.rule.def.name.clone(),
                start_time: Some(timestamp_to_pb(range.start)),
                end_time: range.end.map(timestamp_to_pb),
                condition_version_id: String::new(),
            });
        }
    }
    Ok(dry_run_annotations)
}

/// Evaluates the rules over the data, records an annotation for each range where one held and
/// a report of what each rule found on each asset; returns the report and the annotations
/// created.
pub(crate) async fn evaluate_and_record(
    state: &AppState,
    principal: &Principal,
    which: Which,
    over: Over,
    extra_tags: Vec<String>,
    report_name: Option<String>,
) -> Result<(sextant_catalog::Report, usize), Status> {
    let org = principal.organization_id.clone();
    let by = principal.key_id.clone();
    with_reader(state, &org.clone(), move |catalog, reader| {
        let plan = plan(catalog, &org, which, over)?;
        let found = evaluate(catalog, reader, &org, &plan)?;
        let run_id = plan.run.as_ref().map(|r| r.id.as_str());
        let mut created = 0;
        let mut summaries = Vec::with_capacity(found.len());
        for f in found {
            let mut summary = ReportRuleSummary {
                rule_id: f.rule.id.clone(),
                rule_client_key: f.rule.def.client_key.clone().unwrap_or_default(),
                rule_version: f.rule.version,
                asset_id: f.asset.id.clone(),
                num_open: 0,
                num_failed: 0,
                num_passed: 0,
                status: ReportRuleStatus::Finished,
                error: None,
            };
            match f.outcome {
                Ok(ranges) => {
                    let mut tags =
                        sextant_catalog::tag_names(catalog, &org, &f.rule.def.action.tag_ids)?;
                    tags.extend(extra_tags.iter().cloned());
                    for range in &ranges {
                        catalog.create_annotation(
                            &org,
                            &annotation(
                                &f.rule,
                                &f.asset.id,
                                run_id,
                                tags.clone(),
                                range.start,
                                range.end,
                            ),
                        )?;
                        summary.num_open += 1;
                    }
                    created += ranges.len();
                }
                Err(error) => {
                    summary.status = ReportRuleStatus::Error;
                    summary.error = Some(error);
                }
            }
            summaries.push(summary);
        }
        let name = report_name.unwrap_or_else(|| match &plan.run {
            Some(run) => format!("rules on run {}", run.name),
            None => format!(
                "rules on {}",
                plan.assets
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        let report = catalog.create_report(
            &org,
            NewReport {
                name,
                run_id: plan.run.as_ref().map(|r| r.id.clone()),
                template_id: plan.template_id.clone(),
                summaries,
                range: (plan.range.start, plan.range.end),
            },
            &by,
        )?;
        Ok((report, created))
    })
    .await
}
