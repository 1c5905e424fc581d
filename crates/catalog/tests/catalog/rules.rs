//! Users, tags, rules, annotations and live-evaluation checkpoints.

use sextant_catalog::{
    AnnotationFilter, AnnotationState, AnnotationType, AnnotationUpdate, Catalog, NameFilter,
    NewAnnotation, Page, RuleAction, RuleDef, RuleEvaluation, RuleFilter, RuleStream,
};
use sextant_model::ErrorKind;

use crate::common::{Fixture, assert_error};

fn overheating(asset_id: &str, assignee: Option<String>) -> RuleDef {
    RuleDef {
        name: "overheating".into(),
        description: "Notify Ripley if thrusters get too hot".into(),
        client_key: Some("overheating-key".into()),
        expression: "$1 > 400".into(),
        channel_references: vec![("$1".into(), "thruster.temperature".into())],
        contextual_channels: vec![],
        asset_ids: vec![asset_id.to_owned()],
        asset_tag_ids: vec![],
        action: RuleAction {
            annotation_type: AnnotationType::DataReview,
            tag_ids: vec![],
            assignee_user_id: assignee,
        },
        is_live: true,
        is_external: false,
        webhook_url: None,
    }
}

fn annotation(rule_id: &str, asset_id: &str, start: i64, end: Option<i64>) -> NewAnnotation {
    NewAnnotation {
        name: "overheating".into(),
        description: String::new(),
        start_time: start,
        end_time: end,
        asset_ids: vec![asset_id.to_owned()],
        run_id: None,
        annotation_type: AnnotationType::DataReview,
        state: AnnotationState::Open,
        assignee_user_id: None,
        tags: vec!["warning".into()],
        rule_id: Some(rule_id.to_owned()),
    }
}

#[test]
fn users_and_tags() {
    let f = Fixture::new();
    let org = f.org("acme");
    let ripley = f
        .catalog
        .create_user(&org, "ellen.ripley@weylandcorp.com")
        .unwrap();
    assert_error(
        f.catalog.create_user(&org, "ellen.ripley@weylandcorp.com"),
        ErrorKind::AlreadyExists,
        "ellen.ripley",
    );
    assert_error(
        f.catalog.create_user(&org, " "),
        ErrorKind::InvalidInput,
        "user name",
    );
    let filter = NameFilter {
        names: Some(vec!["ellen.ripley@weylandcorp.com".into(), "dallas".into()]),
        ..NameFilter::default()
    };
    let (users, next) = f
        .catalog
        .list_users(&org, &filter, Page::first(10))
        .unwrap();
    assert_eq!((users, next.as_str()), (vec![ripley.clone()], ""));

    let warning = f.catalog.get_or_create_tag(&org, "warning").unwrap();
    assert_eq!(
        f.catalog.get_or_create_tag(&org, "warning").unwrap(),
        warning
    );
    let thruster = f.catalog.get_or_create_tag(&org, "thruster").unwrap();
    let (tags, _) = f
        .catalog
        .list_tags(&org, &NameFilter::default(), Page::first(10))
        .unwrap();
    assert_eq!(tags, vec![warning, thruster]);

    // Another organization sees none of it.
    let other = f.org("other");
    assert_error(
        f.catalog.get_user(&other, &ripley.id),
        ErrorKind::NotFound,
        &ripley.id,
    );
}

#[test]
fn rules_create_update_find_archive() {
    let f = Fixture::new();
    let org = f.org("acme");
    let asset = f
        .catalog
        .get_or_create_asset(&org, "NostromoLV426")
        .unwrap();
    let ripley = f.catalog.create_user(&org, "ripley").unwrap();
    let def = overheating(&asset.id, Some(ripley.id.clone()));
    let rule = f.catalog.create_rule(&org, &def).unwrap();
    assert_eq!((rule.version, &rule.def), (1, &def));
    assert_error(
        f.catalog.create_rule(&org, &def),
        ErrorKind::AlreadyExists,
        "overheating-key",
    );
    assert_eq!(
        f.catalog.find_rule(&org, "overheating-key").unwrap(),
        Some(rule.clone())
    );
    assert_eq!(f.catalog.find_rule(&org, "nope").unwrap(), None);

    let mut changed = def.clone();
    changed.expression = "$1 > 450".into();
    let updated = f.catalog.update_rule(&org, &rule.id, &changed).unwrap();
    assert_eq!(
        (updated.version, updated.def.expression.as_str()),
        (2, "$1 > 450")
    );

    let mut bad = def.clone();
    bad.asset_ids = vec!["no-such-asset".into()];
    assert_error(
        f.catalog.update_rule(&org, &rule.id, &bad),
        ErrorKind::NotFound,
        "no-such-asset",
    );
    bad = def.clone();
    bad.expression = "  ".into();
    assert_error(
        f.catalog.create_rule(&org, &bad),
        ErrorKind::InvalidInput,
        "empty expression",
    );

    let by_asset = RuleFilter {
        asset_ids: Some(vec![asset.id.clone()]),
        live_only: true,
        ..RuleFilter::default()
    };
    let (listed, _) = f
        .catalog
        .list_rules(&org, &by_asset, Page::first(10))
        .unwrap();
    assert_eq!(listed, vec![updated.clone()]);

    let archived = f.catalog.set_rule_archived(&org, &rule.id, true).unwrap();
    assert!(archived.archived_at.is_some());
    let (listed, _) = f
        .catalog
        .list_rules(&org, &by_asset, Page::first(10))
        .unwrap();
    assert!(listed.is_empty());
    let all = RuleFilter {
        include_archived: true,
        ..RuleFilter::default()
    };
    let (listed, _) = f.catalog.list_rules(&org, &all, Page::first(10)).unwrap();
    assert_eq!(listed.len(), 1);
    let restored = f.catalog.set_rule_archived(&org, &rule.id, false).unwrap();
    assert_eq!(restored.archived_at, None);
}

#[test]
fn annotations_filter_and_update() {
    let f = Fixture::new();
    let org = f.org("acme");
    let asset = f
        .catalog
        .get_or_create_asset(&org, "NostromoLV426")
        .unwrap();
    let rule = f
        .catalog
        .create_rule(&org, &overheating(&asset.id, None))
        .unwrap();
    let a = f
        .catalog
        .create_annotation(&org, &annotation(&rule.id, &asset.id, 10, Some(20)))
        .unwrap();
    let b = f
        .catalog
        .create_annotation(&org, &annotation(&rule.id, &asset.id, 30, None))
        .unwrap();
    assert_error(
        f.catalog
            .create_annotation(&org, &annotation(&rule.id, &asset.id, 30, Some(29))),
        ErrorKind::InvalidInput,
        "ends (29) before it starts (30)",
    );
    // (filter, expected ids)
    let cases: Vec<(AnnotationFilter, Vec<&str>)> = vec![
        (AnnotationFilter::default(), vec![&a.id, &b.id]),
        (
            AnnotationFilter {
                from: Some(20),
                ..AnnotationFilter::default()
            },
            vec![&b.id],
        ),
        (
            AnnotationFilter {
                to: Some(30),
                ..AnnotationFilter::default()
            },
            vec![&a.id],
        ),
        (
            AnnotationFilter {
                from: Some(1_000),
                to: Some(2_000),
                ..AnnotationFilter::default()
            },
            vec![&b.id],
        ),
        (
            AnnotationFilter {
                tags: Some(vec!["warning".into()]),
                rule_ids: Some(vec![rule.id.clone()]),
                asset_ids: Some(vec![asset.id.clone()]),
                ..AnnotationFilter::default()
            },
            vec![&a.id, &b.id],
        ),
        (
            AnnotationFilter {
                tags: Some(vec!["thruster".into()]),
                ..AnnotationFilter::default()
            },
            vec![],
        ),
        (
            AnnotationFilter {
                states: Some(vec![AnnotationState::Resolved]),
                ..AnnotationFilter::default()
            },
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let (found, _) = f
            .catalog
            .list_annotations(&org, &filter, Page::first(10))
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, expected, "{filter:?}");
    }

    let ripley = f.catalog.create_user(&org, "ripley").unwrap();
    let updated = f
        .catalog
        .update_annotation(
            &org,
            &a.id,
            AnnotationUpdate {
                state: Some(AnnotationState::Resolved),
                assignee_user_id: Some(Some(ripley.id.clone())),
                ..AnnotationUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(updated.fields.state, AnnotationState::Resolved);
    assert_eq!(updated.fields.assignee_user_id, Some(ripley.id));
    assert_error(
        f.catalog.update_annotation(
            &org,
            &a.id,
            AnnotationUpdate {
                assignee_user_id: Some(Some("nobody".into())),
                ..AnnotationUpdate::default()
            },
        ),
        ErrorKind::NotFound,
        "nobody",
    );
}

#[test]
fn evaluations_commit_atomically_and_survive_reopening() {
    let f = Fixture::new();
    let org = f.org("acme");
    let asset = f
        .catalog
        .get_or_create_asset(&org, "NostromoLV426")
        .unwrap();
    let rule = f
        .catalog
        .create_rule(&org, &overheating(&asset.id, None))
        .unwrap();
    let stream = RuleStream {
        rule_id: rule.id.clone(),
        asset_id: asset.id.clone(),
        run_id: String::new(),
    };
    f.catalog
        .ensure_rule_checkpoints(&org, &[(stream.clone(), Some(5))])
        .unwrap();
    // A second call leaves the checkpoint where it is.
    f.catalog
        .ensure_rule_checkpoints(&org, &[(stream.clone(), Some(100))])
        .unwrap();
    let start = f.catalog.rule_checkpoint(&org, &stream).unwrap().unwrap();
    assert_eq!(start.evaluated_through, Some(5));

    // One closed range and one still open.
    let events = f
        .catalog
        .commit_rule_evaluations(
            &org,
            &[RuleEvaluation {
                stream: stream.clone(),
                evaluated_through: 50,
                close_open_at: None,
                new_annotations: vec![
                    annotation(&rule.id, &asset.id, 10, Some(20)),
                    annotation(&rule.id, &asset.id, 40, None),
                ],
                state: "s1".into(),
            }],
        )
        .unwrap();
    let kinds: Vec<(bool, i64)> = events
        .iter()
        .map(|e| (e.opened, e.annotation.fields.start_time))
        .collect();
    assert_eq!(kinds, vec![(true, 10), (false, 10), (true, 40)]);
    let open_id = events[2].annotation.id.clone();

    // Opening again while open is refused, and nothing of that commit is stored.
    assert_error(
        f.catalog.commit_rule_evaluations(
            &org,
            &[RuleEvaluation {
                stream: stream.clone(),
                evaluated_through: 60,
                close_open_at: None,
                new_annotations: vec![annotation(&rule.id, &asset.id, 55, None)],
                state: "bad".into(),
            }],
        ),
        ErrorKind::InvalidInput,
        "while one is open",
    );
    let f = f.reopen();
    let checkpoint = f.catalog.rule_checkpoint(&org, &stream).unwrap().unwrap();
    assert_eq!(
        (
            checkpoint.evaluated_through,
            checkpoint.open_annotation_id.as_deref(),
            checkpoint.state.as_str()
        ),
        (Some(50), Some(open_id.as_str()), "s1")
    );

    // A checkpoint never moves back.
    assert_error(
        f.catalog.commit_rule_evaluations(
            &org,
            &[RuleEvaluation {
                stream: stream.clone(),
                evaluated_through: 49,
                close_open_at: Some(49),
                new_annotations: vec![],
                state: String::new(),
            }],
        ),
        ErrorKind::InvalidInput,
        "move its checkpoint back",
    );
    let events = f
        .catalog
        .commit_rule_evaluations(
            &org,
            &[RuleEvaluation {
                stream: stream.clone(),
                evaluated_through: 70,
                close_open_at: Some(65),
                new_annotations: vec![],
                state: "s2".into(),
            }],
        )
        .unwrap();
    assert_eq!(events.len(), 1);
    assert!(!events[0].opened);
    assert_eq!(events[0].annotation.fields.end_time, Some(65));
    assert_eq!(f.catalog.list_rule_checkpoints(&org).unwrap().len(), 1);
}
