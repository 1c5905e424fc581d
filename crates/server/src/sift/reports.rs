//! `sift.reports.v1.ReportService` (the reports rule evaluation records, read back as
//! `sift_py`'s `ReportService.get_results` and `wait_until_done` read them) and
//! `sift.report_templates.v1.ReportTemplateService` (named sets of rules to evaluate together).

use sextant_catalog::{
    Catalog, Page, Report as Stored, ReportFilter, ReportRuleStatus,
    ReportTemplate as StoredTemplate, ReportTemplateDef, ReportTemplateFilter,
};
use sift_rs::report_templates::v1::report_template_service_server::ReportTemplateService;
use sift_rs::report_templates::v1::*;
use sift_rs::reports::v1::report_service_server::ReportService;
use sift_rs::reports::v1::*;
use tonic::{Request, Response, Status};

use super::convert::timestamp_to_pb;
use super::filter;
use super::unsupported;
use crate::auth::{Action, authorize_call, check_organization};
use crate::state::AppState;

/// The report service.
#[derive(Debug, Clone)]
pub struct Reports {
    pub(crate) state: AppState,
}

/// The report template service.
#[derive(Debug, Clone)]
pub struct ReportTemplates {
    pub(crate) state: AppState,
}

fn report_to_pb(r: Stored) -> Report {
    let created = Some(timestamp_to_pb(r.created_at));
    let summaries = r
        .fields
        .summaries
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let (status, details) = match s.status {
                ReportRuleStatus::Finished => (
                    sift_rs::reports::v1::ReportRuleStatus::Finished,
                    report_rule_status_details::Details::Finished(
                        ReportRuleStatusDetailsFinished::default(),
                    ),
                ),
                ReportRuleStatus::Error => (
                    sift_rs::reports::v1::ReportRuleStatus::Error,
                    report_rule_status_details::Details::Error(ReportRuleStatusDetailsError {
                        error_message: s.error.clone().unwrap_or_default(),
                        ..Default::default()
                    }),
                ),
            };
            ReportRuleSummary {
                rule_id: s.rule_id,
                rule_client_key: s.rule_client_key,
                rule_version_number: s.rule_version,
                num_open: s.num_open,
                num_failed: s.num_failed,
                num_passed: s.num_passed,
                status: status as i32,
                status_details: Some(ReportRuleStatusDetails {
                    details: Some(details),
                }),
                created_date: created,
                modified_date: created,
                asset_id: s.asset_id,
                display_order: u32::try_from(i).unwrap_or(u32::MAX),
                ..Default::default()
            }
        })
        .collect();
    Report {
        report_id: r.id,
        report_template_id: r.fields.template_id.unwrap_or_default(),
        run_id: r.fields.run_id.unwrap_or_default(),
        organization_id: r.organization_id,
        name: r.fields.name,
        created_by_user_id: r.created_by.clone(),
        modified_by_user_id: r.created_by,
        created_date: created,
        modified_date: created,
        summaries,
        ..Default::default()
    }
}

fn template_to_pb(t: StoredTemplate, rules: Vec<ReportTemplateRule>) -> ReportTemplate {
    ReportTemplate {
        report_template_id: t.id,
        organization_id: t.organization_id,
        client_key: t.client_key,
        name: t.def.name,
        description: t.def.description,
        archived_date: t.archived_at.map(timestamp_to_pb),
        is_archived: t.archived_at.is_some(),
        created_by_user_id: t.created_by,
        modified_by_user_id: t.modified_by,
        created_date: Some(timestamp_to_pb(t.created_at)),
        modified_date: Some(timestamp_to_pb(t.modified_at)),
        rules,
        tags: t
            .def
            .tags
            .into_iter()
            .map(|tag_name| ReportTemplateTag { tag_name })
            .collect(),
        ..Default::default()
    }
}

/// A template in Sift's shape, its rules with their client keys and versions.
fn template_with_rules(
    catalog: &dyn Catalog,
    template: StoredTemplate,
) -> sextant_catalog::Result<ReportTemplate> {
    let mut rules = Vec::with_capacity(template.def.rule_ids.len());
    for (i, id) in template.def.rule_ids.iter().enumerate() {
        let rule = catalog.get_rule(&template.organization_id, id)?;
        rules.push(ReportTemplateRule {
            rule_id: rule.id,
            rule_version_number: rule.version,
            client_key: rule.def.client_key.unwrap_or_default(),
            display_order: u32::try_from(i).ok(),
            ..Default::default()
        });
    }
    Ok(template_to_pb(template, rules))
}

/// Rule ids from client keys.
fn rule_ids_of_keys(
    catalog: &dyn Catalog,
    org: &str,
    keys: &[String],
) -> sextant_catalog::Result<Vec<String>> {
    keys.iter()
        .map(|key| {
            catalog.find_rule(org, key)?.map(|r| r.id).ok_or_else(|| {
                sextant_catalog::Error::NotFound {
                    what: "rule with client key",
                    id: key.clone(),
                }
            })
        })
        .collect()
}

fn find_template(
    catalog: &dyn Catalog,
    org: &str,
    id: &str,
    client_key: &str,
) -> sextant_catalog::Result<StoredTemplate> {
    if !id.is_empty() {
        return catalog.get_report_template(org, id);
    }
    if client_key.is_empty() {
        return Err(sextant_catalog::Error::InvalidInput(
            "name the report template by report_template_id or client_key".to_owned(),
        ));
    }
    catalog
        .find_report_template(org, client_key)?
        .ok_or_else(|| sextant_catalog::Error::NotFound {
            what: "report template with client key",
            id: client_key.to_owned(),
        })
}

#[tonic::async_trait]
impl ReportService for Reports {
    async fn get_report(
        &self,
        request: Request<GetReportRequest>,
    ) -> Result<Response<GetReportResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().report_id;
        let report = self
            .state
            .catalog(move |c| c.get_report(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetReportResponse {
            report: Some(report_to_pb(report)),
        }))
    }

    async fn create_report(
        &self,
        _request: Request<CreateReportRequest>,
    ) -> Result<Response<CreateReportResponse>, Status> {
        Err(unsupported(
            "ReportService/CreateReport (reports are made by RuleEvaluationService/EvaluateRules)",
        ))
    }

    async fn update_report(
        &self,
        _request: Request<UpdateReportRequest>,
    ) -> Result<Response<UpdateReportResponse>, Status> {
        Err(unsupported("ReportService/UpdateReport"))
    }

    async fn list_reports(
        &self,
        request: Request<ListReportsRequest>,
    ) -> Result<Response<ListReportsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let parsed = filter::parse_for(
            &req.filter,
            &["report_id", "run_id", "report_template_id", "name"],
        )?;
        let filter = ReportFilter {
            ids: parsed.allowed("report_id"),
            run_ids: parsed.allowed("run_id"),
            template_ids: parsed.allowed("report_template_id"),
            names: parsed.allowed("name"),
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (reports, next) = self
            .state
            .catalog(move |c| c.list_reports(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListReportsResponse {
            reports: reports.into_iter().map(report_to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn rerun_report(
        &self,
        _request: Request<RerunReportRequest>,
    ) -> Result<Response<RerunReportResponse>, Status> {
        Err(unsupported(
            "ReportService/RerunReport (evaluate the rules again with EvaluateRules)",
        ))
    }

    async fn cancel_report(
        &self,
        _request: Request<CancelReportRequest>,
    ) -> Result<Response<CancelReportResponse>, Status> {
        Err(unsupported(
            "ReportService/CancelReport (a report is finished when EvaluateRules returns)",
        ))
    }

    async fn list_report_rule_summaries(
        &self,
        _request: Request<ListReportRuleSummariesRequest>,
    ) -> Result<Response<ListReportRuleSummariesResponse>, Status> {
        Err(unsupported(
            "ReportService/ListReportRuleSummaries (GetReport carries the summaries)",
        ))
    }

    async fn list_report_metadata_values(
        &self,
        _request: Request<ListReportMetadataValuesRequest>,
    ) -> Result<Response<ListReportMetadataValuesResponse>, Status> {
        Err(unsupported("ReportService/ListReportMetadataValues"))
    }

    async fn list_reports_with_cumulative_summary(
        &self,
        _request: Request<ListReportsWithCumulativeSummaryRequest>,
    ) -> Result<Response<ListReportsWithCumulativeSummaryResponse>, Status> {
        Err(unsupported(
            "ReportService/ListReportsWithCumulativeSummary (use ListReports)",
        ))
    }
}

#[tonic::async_trait]
impl ReportTemplateService for ReportTemplates {
    async fn get_report_template(
        &self,
        request: Request<GetReportTemplateRequest>,
    ) -> Result<Response<GetReportTemplateResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let org = principal.organization_id;
        let template = self
            .state
            .catalog(move |c| {
                let found = find_template(c, &org, &req.report_template_id, &req.client_key)?;
                template_with_rules(c, found)
            })
            .await?;
        Ok(Response::new(GetReportTemplateResponse {
            report_template: Some(template),
        }))
    }

    async fn create_report_template(
        &self,
        request: Request<CreateReportTemplateRequest>,
    ) -> Result<Response<CreateReportTemplateResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let org = principal.organization_id.clone();
        let template = self
            .state
            .catalog(move |c| {
                use create_report_template_request::RuleIdentifiers;
                let rule_ids = match req.rule_identifiers {
                    Some(RuleIdentifiers::RuleIds(ids)) => ids.rule_ids,
                    Some(RuleIdentifiers::RuleClientKeys(keys)) => {
                        rule_ids_of_keys(c, &org, &keys.rule_client_keys)?
                    }
                    None => Vec::new(),
                };
                let def = ReportTemplateDef {
                    name: req.name,
                    description: req.description,
                    rule_ids,
                    tags: req.tag_names,
                };
                let created = c.create_report_template(
                    &org,
                    req.client_key.as_deref(),
                    &def,
                    &principal.key_id,
                )?;
                template_with_rules(c, created)
            })
            .await?;
        Ok(Response::new(CreateReportTemplateResponse {
            report_template: Some(template),
        }))
    }

    async fn list_report_templates(
        &self,
        request: Request<ListReportTemplatesRequest>,
    ) -> Result<Response<ListReportTemplatesResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let parsed = filter::parse_for(&req.filter, &["report_template_id", "client_key", "name"])?;
        // Deprecated in Sift's API, which now filters on `archived_date`, but still sent by
        // older clients.
        #[allow(deprecated)]
        let include_archived = req.include_archived;
        let filter = ReportTemplateFilter {
            ids: parsed.allowed("report_template_id"),
            client_keys: parsed.allowed("client_key"),
            names: parsed.allowed("name"),
            include_archived,
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let org = principal.organization_id;
        let (templates, next) = self
            .state
            .catalog(move |c| {
                let (templates, next) = c.list_report_templates(&org, &filter, page)?;
                let templates = templates
                    .into_iter()
                    .map(|t| template_with_rules(c, t))
                    .collect::<sextant_catalog::Result<Vec<_>>>()?;
                Ok((templates, next))
            })
            .await?;
        Ok(Response::new(ListReportTemplatesResponse {
            report_templates: templates,
            next_page_token: next,
        }))
    }

    async fn update_report_template(
        &self,
        request: Request<UpdateReportTemplateRequest>,
    ) -> Result<Response<UpdateReportTemplateResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        let changed = req.report_template.ok_or_else(|| {
            Status::invalid_argument("UpdateReportTemplate needs the report_template")
        })?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let org = principal.organization_id.clone();
        let template = self
            .state
            .catalog(move |c| {
                let current = find_template(
                    c,
                    &org,
                    &changed.report_template_id,
                    changed.client_key.as_deref().unwrap_or_default(),
                )?;
                let mut def = current.def.clone();
                let mut archived = None;
                for path in &paths {
                    match path.as_str() {
                        "name" => def.name = changed.name.clone(),
                        "description" => def.description = changed.description.clone(),
                        "tags" => {
                            def.tags = changed.tags.iter().map(|t| t.tag_name.clone()).collect()
                        }
                        "rules" => {
                            def.rule_ids = changed
                                .rules
                                .iter()
                                .map(|r| {
                                    if r.rule_id.is_empty() {
                                        rule_ids_of_keys(
                                            c,
                                            &org,
                                            std::slice::from_ref(&r.client_key),
                                        )
                                        .map(|mut ids| ids.remove(0))
                                    } else {
                                        Ok(r.rule_id.clone())
                                    }
                                })
                                .collect::<sextant_catalog::Result<_>>()?
                        }
                        "archived_date" => archived = Some(changed.archived_date.is_some()),
                        other => {
                            return Err(sextant_catalog::Error::InvalidInput(format!(
                                "update_mask names `{other}`, which UpdateReportTemplate cannot \
                                 change; it can change name, description, tags, rules, \
                                 archived_date"
                            )));
                        }
                    }
                }
                let updated =
                    c.update_report_template(&org, &current.id, &def, archived, &principal.key_id)?;
                template_with_rules(c, updated)
            })
            .await?;
        Ok(Response::new(UpdateReportTemplateResponse {
            report_template: Some(template),
        }))
    }
}
