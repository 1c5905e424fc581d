//! SignalFlow detectors and incidents: stored, listed, changed, deleted; an evaluation step
//! stored whole, never moving back, and found again after reopening the file.

use sextant_catalog::{
    Catalog, SfxDetector, SfxDetectorStep, SfxEvent, SfxEventFilter, SfxIncident, SfxPropertyValue,
};
use sextant_model::ErrorKind;

use crate::common::Fixture;

fn detector(id: &str, name: &str) -> SfxDetector {
    SfxDetector {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        program_text: "detect(data('x') > 1).publish('hot')".into(),
        body: r#"{"rules":[{"detectLabel":"hot"}]}"#.into(),
        disabled: false,
        created: 0,
        creator: String::new(),
        last_updated: 0,
        last_updated_by: String::new(),
        evaluated_until: None,
    }
}

fn incident(id: &str, at: i64) -> SfxIncident {
    SfxIncident {
        id: id.into(),
        detector_id: "d1".into(),
        detect_label: "hot".into(),
        series_id: "AAAAAAAAAAA".into(),
        severity: "Major".into(),
        dimensions: vec![("host".into(), "h1".into())],
        triggered_at: at,
        trigger_value: Some(2.0),
        cleared_at: None,
        clear_value: None,
        cleared_manually: false,
    }
}

fn event(at: i64, is: &str) -> SfxEvent {
    SfxEvent {
        id: 0,
        event_type: "high".into(),
        category: "ALERT".into(),
        dimensions: vec![("host".into(), "h1".into())],
        properties: vec![("is".into(), SfxPropertyValue::Str(is.into()))],
        timestamp: at * 1_000_000,
    }
}

#[test]
fn detectors_are_stored_listed_changed_and_deleted() {
    let f = Fixture::new();
    let org = f.org("acme");
    let c = &f.catalog;
    let stored = c
        .sfx_create_detector(&org, &detector("d1", "high"), "k1")
        .unwrap();
    assert_eq!(
        (stored.creator.as_str(), stored.evaluated_until),
        ("k1", None)
    );
    c.sfx_create_detector(&org, &detector("d2", "low"), "k1")
        .unwrap();
    let dup = c
        .sfx_create_detector(&org, &detector("d1", "again"), "k1")
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::AlreadyExists);
    let (count, found) = c.sfx_detectors(&org, Some("low"), 0, 0).unwrap();
    assert_eq!((count, found[0].id.as_str()), (1, "d2"));
    let (count, page) = c.sfx_detectors(&org, None, 1, 1).unwrap();
    assert_eq!((count, page.len(), page[0].id.as_str()), (2, 1, "d2"));
    let mut changed = detector("d2", "low");
    changed.disabled = true;
    c.sfx_update_detector(&org, &changed, "k2").unwrap();
    let enabled: Vec<String> = c
        .sfx_enabled_detectors()
        .unwrap()
        .into_iter()
        .map(|(_, d)| d.id)
        .collect();
    assert_eq!(enabled, ["d1"]);
    c.sfx_delete_detector(&org, "d2").unwrap();
    assert_eq!(
        c.sfx_get_detector(&org, "d2").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let empty = detector("d3", " ");
    assert_eq!(
        c.sfx_create_detector(&org, &empty, "k1")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    // Another organization sees none of them.
    let other = f.org("other");
    assert_eq!(
        c.sfx_get_detector(&other, "d1").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_step_is_stored_whole_never_moves_back_and_survives_reopening() {
    let f = Fixture::new();
    let org = f.org("acme");
    f.catalog
        .sfx_create_detector(&org, &detector("d1", "high"), "k1")
        .unwrap();
    let opened = SfxDetectorStep {
        evaluated_until: 2_000,
        events: vec![event(1_000, "anomalous")],
        opened: vec![incident("i1", 1_000)],
        cleared: vec![],
    };
    f.catalog.sfx_detector_step(&org, "d1", &opened).unwrap();
    // A replay of the same step opens nothing twice.
    f.catalog
        .sfx_detector_step(
            &org,
            "d1",
            &SfxDetectorStep {
                events: vec![],
                ..opened.clone()
            },
        )
        .unwrap();
    let back = SfxDetectorStep {
        evaluated_until: 1_000,
        ..SfxDetectorStep::default()
    };
    let e = f.catalog.sfx_detector_step(&org, "d1", &back).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let f = f.reopen();
    let c = &f.catalog;
    assert_eq!(
        c.sfx_get_detector(&org, "d1").unwrap().evaluated_until,
        Some(2_000)
    );
    let open = c.sfx_incidents(&org, Some("d1"), false, 0, 0).unwrap();
    assert_eq!(open, [incident("i1", 1_000)]);
    let events = c
        .sfx_events(
            &org,
            &SfxEventFilter {
                event_type: Some("high".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(events.len(), 1);
    let cleared = SfxDetectorStep {
        evaluated_until: 3_000,
        events: vec![event(2_000, "ok")],
        opened: vec![],
        cleared: vec![("i1".into(), 2_000, Some(0.5))],
    };
    c.sfx_detector_step(&org, "d1", &cleared).unwrap();
    assert!(
        c.sfx_incidents(&org, Some("d1"), false, 0, 0)
            .unwrap()
            .is_empty()
    );
    let all = c.sfx_incidents(&org, None, true, 0, 0).unwrap();
    assert_eq!(
        (
            all[0].cleared_at,
            all[0].clear_value,
            all[0].cleared_manually
        ),
        (Some(2_000), Some(0.5), false)
    );
    // Clearing by hand leaves a cleared incident as it is.
    let again = c.sfx_clear_incident(&org, "i1", 9_000).unwrap();
    assert_eq!(again.cleared_at, Some(2_000));
    assert_eq!(
        c.sfx_clear_incident(&org, "nope", 1).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // A step of a deleted detector is refused, and its incidents are gone.
    c.sfx_delete_detector(&org, "d1").unwrap();
    assert_eq!(
        c.sfx_detector_step(&org, "d1", &cleared)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert!(c.sfx_incidents(&org, None, true, 0, 0).unwrap().is_empty());
}

#[test]
fn a_changed_program_starts_over_and_clears_what_was_open() {
    let f = Fixture::new();
    let org = f.org("acme");
    let c = &f.catalog;
    c.sfx_create_detector(&org, &detector("d1", "high"), "k1")
        .unwrap();
    let step = SfxDetectorStep {
        evaluated_until: 2_000,
        events: vec![],
        opened: vec![incident("i1", 1_000)],
        cleared: vec![],
    };
    c.sfx_detector_step(&org, "d1", &step).unwrap();
    // The same program, another description: evaluation goes on.
    let mut same = detector("d1", "high");
    same.description = "now described".into();
    assert_eq!(
        c.sfx_update_detector(&org, &same, "k2")
            .unwrap()
            .evaluated_until,
        Some(2_000)
    );
    let mut other = detector("d1", "high");
    other.program_text = "detect(data('y') > 1).publish('hot')".into();
    assert_eq!(
        c.sfx_update_detector(&org, &other, "k2")
            .unwrap()
            .evaluated_until,
        None
    );
    let i = c.sfx_get_incident(&org, "i1").unwrap();
    assert!(i.cleared_at.is_some() && i.cleared_manually);
}
