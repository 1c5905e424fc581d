//! Runs.

use sextant_catalog::{Catalog, MetadataValue, NewRun, Page, RunFilter, RunUpdate};
use sextant_model::ErrorKind;

use crate::common::{Fixture, assert_error};

pub fn full_run() -> NewRun {
    NewRun {
        name: "[NostromoLV426].1720141748.047512".into(),
        description: "first light".into(),
        tags: vec!["nostromo".into(), "test-stand".into()],
        metadata: vec![
            ("operator".into(), MetadataValue::String("Ripley".into())),
            ("ambient_c".into(), MetadataValue::Number(21.5)),
            ("nominal".into(), MetadataValue::Bool(true)),
        ],
        client_key: Some("run-1".into()),
        start_time: Some(1_720_141_748_047_512_000),
        stop_time: Some(1_720_141_848_000_000_000),
    }
}

#[test]
fn runs_keep_every_field() {
    let f = Fixture::new();
    let org = f.org("acme");
    let new = full_run();
    let run = f.catalog.create_run(&org, new.clone()).unwrap();
    assert_eq!(run.organization_id, org);
    assert_eq!(run.name, new.name);
    assert_eq!(run.description, new.description);
    assert_eq!(run.tags, new.tags);
    assert_eq!(run.metadata, new.metadata);
    assert_eq!(run.client_key, new.client_key);
    assert_eq!(
        (run.start_time, run.stop_time),
        (new.start_time, new.stop_time)
    );
    assert_eq!(run.created_at, run.modified_at);
    assert!(run.asset_ids.is_empty());
    assert_eq!(f.catalog.get_run(&org, &run.id).unwrap(), run);

    let minimal = f
        .catalog
        .create_run(
            &org,
            NewRun {
                name: "r".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(minimal.client_key, None);
    assert_eq!((minimal.start_time, minimal.stop_time), (None, None));
    assert!(minimal.tags.is_empty() && minimal.metadata.is_empty());
}

#[test]
fn invalid_runs_are_refused() {
    let f = Fixture::new();
    let org = f.org("acme");
    f.catalog.create_run(&org, full_run()).unwrap();
    let cases: Vec<(NewRun, ErrorKind, &str)> = vec![
        (full_run(), ErrorKind::AlreadyExists, "client key \"run-1\""),
        (
            NewRun {
                name: String::new(),
                ..Default::default()
            },
            ErrorKind::InvalidInput,
            "run name",
        ),
        (
            NewRun {
                start_time: Some(10),
                stop_time: Some(9),
                ..full_run_without_key()
            },
            ErrorKind::InvalidInput,
            "stops (9) before it starts (10)",
        ),
        (
            NewRun {
                metadata: vec![("x".into(), MetadataValue::Number(f64::NAN))],
                ..full_run_without_key()
            },
            ErrorKind::InvalidInput,
            "metadata \"x\" is NaN",
        ),
        (
            NewRun {
                metadata: vec![(String::new(), MetadataValue::Bool(true))],
                ..full_run_without_key()
            },
            ErrorKind::InvalidInput,
            "empty key",
        ),
    ];
    for (run, kind, needle) in cases {
        assert_error(f.catalog.create_run(&org, run), kind, needle);
    }
    // Empty client keys count as none and may repeat.
    for _ in 0..2 {
        let run = NewRun {
            client_key: Some(String::new()),
            ..full_run()
        };
        assert_eq!(f.catalog.create_run(&org, run).unwrap().client_key, None);
    }
}

fn full_run_without_key() -> NewRun {
    NewRun {
        client_key: None,
        ..full_run()
    }
}

#[test]
fn runs_list_newest_first_with_filters() {
    let f = Fixture::new();
    let org = f.org("acme");
    let mk = |name: &str, key: Option<&str>| {
        f.catalog
            .create_run(
                &org,
                NewRun {
                    name: name.into(),
                    client_key: key.map(Into::into),
                    ..Default::default()
                },
            )
            .unwrap()
    };
    let a = mk("[rover].1", Some("ka"));
    let b = mk("[rover].2", None);
    let c = mk("[rover].1", Some("kc"));
    let strings = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect());
    // (filter, runs expected, newest first)
    let cases = [
        (RunFilter::default(), vec![&c, &b, &a]),
        (
            RunFilter {
                names: strings(&["[rover].1"]),
                ..Default::default()
            },
            vec![&c, &a],
        ),
        (
            RunFilter {
                client_keys: strings(&["ka"]),
                ..Default::default()
            },
            vec![&a],
        ),
        (
            RunFilter {
                ids: Some(vec![b.id.clone()]),
                ..Default::default()
            },
            vec![&b],
        ),
        (
            RunFilter {
                names: strings(&["[rover]"]),
                ..Default::default()
            },
            vec![],
        ),
        (
            RunFilter {
                names: strings(&["[rover].1"]),
                client_keys: strings(&["kc"]),
                ids: None,
            },
            vec![&c],
        ),
    ];
    for (filter, expected) in cases {
        let (found, token) = f
            .catalog
            .list_runs(&org, &filter, Page::first(1000))
            .unwrap();
        let expected: Vec<_> = expected.into_iter().cloned().collect();
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(token, "");
    }
}

#[test]
fn updates_change_only_what_they_set() {
    let f = Fixture::new();
    let org = f.org("acme");
    let run = f.catalog.create_run(&org, full_run()).unwrap();

    let renamed = f
        .catalog
        .update_run(
            &org,
            &run.id,
            RunUpdate {
                name: Some("renamed".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.name, "renamed");
    assert!(renamed.modified_at > run.modified_at);
    assert_eq!(renamed.created_at, run.created_at);
    assert_eq!(
        (renamed.tags.clone(), renamed.metadata.clone()),
        (run.tags.clone(), run.metadata.clone())
    );

    let update = RunUpdate {
        name: None,
        description: Some("second".into()),
        tags: Some(vec![]),
        start_time: Some(5),
        stop_time: Some(6),
        metadata: Some(vec![("k".into(), MetadataValue::Number(-1.0))]),
    };
    let updated = f.catalog.update_run(&org, &run.id, update).unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.description, "second");
    assert!(updated.tags.is_empty());
    assert_eq!((updated.start_time, updated.stop_time), (Some(5), Some(6)));
    assert_eq!(
        updated.metadata,
        vec![("k".to_string(), MetadataValue::Number(-1.0))]
    );
    assert_eq!(updated.client_key, run.client_key);
    assert_eq!(f.catalog.get_run(&org, &run.id).unwrap(), updated);

    // A stop before the stored start is refused and changes nothing.
    assert_error(
        f.catalog.update_run(
            &org,
            &run.id,
            RunUpdate {
                stop_time: Some(4),
                ..Default::default()
            },
        ),
        ErrorKind::InvalidInput,
        "before it starts",
    );
    assert_eq!(f.catalog.get_run(&org, &run.id).unwrap(), updated);
    assert_error(
        f.catalog.update_run(&org, "nope", RunUpdate::default()),
        ErrorKind::NotFound,
        "run \"nope\"",
    );
}

#[test]
fn assets_are_linked_once_in_order() {
    let f = Fixture::new();
    let org = f.org("acme");
    let run = f.catalog.create_run(&org, full_run()).unwrap();
    let rover = f.catalog.get_or_create_asset(&org, "rover").unwrap();
    let lander = f.catalog.get_or_create_asset(&org, "lander").unwrap();
    for asset in [&lander, &rover, &lander, &rover] {
        f.catalog.associate_asset(&org, &run.id, &asset.id).unwrap();
    }
    let run = f.catalog.get_run(&org, &run.id).unwrap();
    assert_eq!(run.asset_ids, vec![lander.id.clone(), rover.id.clone()]);
    let (listed, _) = f
        .catalog
        .list_runs(&org, &RunFilter::default(), Page::first(10))
        .unwrap();
    assert_eq!(listed, vec![run.clone()]);

    assert_error(
        f.catalog.associate_asset(&org, "no-run", &rover.id),
        ErrorKind::NotFound,
        "run \"no-run\"",
    );
    assert_error(
        f.catalog.associate_asset(&org, &run.id, "no-asset"),
        ErrorKind::NotFound,
        "asset \"no-asset\"",
    );
}
