//! Report templates and reports: rules checked, client keys, archiving, filters.

use sextant_catalog::{
    AnnotationType, Catalog, NewReport, Page, ReportFilter, ReportRuleStatus, ReportRuleSummary,
    ReportTemplateDef, ReportTemplateFilter, RuleAction, RuleDef,
};
use sextant_model::ErrorKind;

use crate::common::{Fixture, assert_error};

fn rule(name: &str) -> RuleDef {
    RuleDef {
        name: name.into(),
        description: String::new(),
        client_key: Some(format!("{name}-key")),
        expression: "$1 > 400".into(),
        channel_references: vec![("$1".into(), "temperature".into())],
        contextual_channels: vec![],
        asset_ids: vec![],
        asset_tag_ids: vec![],
        action: RuleAction {
            annotation_type: AnnotationType::DataReview,
            tag_ids: vec![],
            assignee_user_id: None,
        },
        is_live: false,
        is_external: false,
        webhook_url: None,
    }
}

#[test]
fn templates_and_reports() {
    let f = Fixture::new();
    let org = f.org("acme");
    let c = &f.catalog;
    let hot = c.create_rule(&org, &rule("hot")).unwrap();
    let cold = c.create_rule(&org, &rule("cold")).unwrap();
    let def = ReportTemplateDef {
        name: "thermal".into(),
        description: Some("both".into()),
        rule_ids: vec![hot.id.clone(), cold.id.clone()],
        tags: vec!["nightly".into()],
    };
    let template = c
        .create_report_template(&org, Some("thermal"), &def, "key-1")
        .unwrap();
    assert_eq!(template.def, def);
    assert_error(
        c.create_report_template(&org, Some("thermal"), &def, "key-1"),
        ErrorKind::AlreadyExists,
        "client key \"thermal\"",
    );
    let mut unknown = def.clone();
    unknown.rule_ids.push("no-such-rule".into());
    assert_error(
        c.create_report_template(&org, None, &unknown, "key-1"),
        ErrorKind::NotFound,
        "no-such-rule",
    );
    assert_eq!(
        c.find_report_template(&org, "thermal").unwrap().unwrap().id,
        template.id
    );
    let mut only_hot = def.clone();
    only_hot.rule_ids = vec![hot.id.clone()];
    let archived = c
        .update_report_template(&org, &template.id, &only_hot, Some(true), "key-2")
        .unwrap();
    assert_eq!(archived.def.rule_ids, std::slice::from_ref(&hot.id));
    assert!(archived.archived_at.is_some());
    assert_eq!(archived.modified_by, "key-2");
    let (listed, _) = c
        .list_report_templates(&org, &ReportTemplateFilter::default(), Page::default())
        .unwrap();
    assert!(listed.is_empty());
    let all = ReportTemplateFilter {
        include_archived: true,
        ..Default::default()
    };
    assert_eq!(
        c.list_report_templates(&org, &all, Page::default())
            .unwrap()
            .0
            .len(),
        1
    );

    let summary = ReportRuleSummary {
        rule_id: hot.id.clone(),
        rule_client_key: "hot-key".into(),
        rule_version: 1,
        asset_id: "asset-1".into(),
        num_open: 2,
        num_failed: 0,
        num_passed: 0,
        status: ReportRuleStatus::Finished,
        error: None,
    };
    let report = c
        .create_report(
            &org,
            NewReport {
                name: "night".into(),
                run_id: Some("run-1".into()),
                template_id: Some(template.id.clone()),
                summaries: vec![summary.clone()],
                range: (10, 20),
            },
            "key-1",
        )
        .unwrap();
    assert_eq!(c.get_report(&org, &report.id).unwrap(), report);
    assert_eq!(report.fields.summaries, [summary]);
    let filter = ReportFilter {
        run_ids: Some(vec!["run-1".into()]),
        ..Default::default()
    };
    assert_eq!(
        c.list_reports(&org, &filter, Page::default()).unwrap().0,
        std::slice::from_ref(&report)
    );
    let other = f.org("globex");
    assert_error(
        c.get_report(&other, &report.id),
        ErrorKind::NotFound,
        "report",
    );
}
