//! Remote files (attachments) and annotation logs: entity checks, the organization's byte
//! limit, filters, isolation, and what deleting an annotation takes with it.

use sextant_catalog::{
    AnnotationLogEntry, AnnotationState, AnnotationType, Catalog, CommentElement, FileEntity,
    FileMetadata, NewAnnotation, NewRemoteFile, NewRun, Page, RemoteFileFilter,
};
use sextant_model::ErrorKind;

use crate::common::{Fixture, assert_error};

fn file(id: &str, entity_type: FileEntity, entity_id: &str, size: u64) -> NewRemoteFile {
    NewRemoteFile {
        id: id.to_owned(),
        entity_type,
        entity_id: entity_id.to_owned(),
        file_name: format!("{id}.png"),
        mime_type: "image/png".to_owned(),
        content_encoding: String::new(),
        size,
        sha256: [7; 32],
        description: Some("a plot".to_owned()),
        metadata: Some(FileMetadata::Image {
            width: 640,
            height: 480,
        }),
        created_by: "key-1".to_owned(),
    }
}

fn annotation(f: &Fixture, org: &str) -> String {
    let asset = f.catalog.get_or_create_asset(org, "rover").unwrap();
    f.catalog
        .create_annotation(
            org,
            &NewAnnotation {
                name: "dropout".into(),
                description: String::new(),
                start_time: 10,
                end_time: Some(20),
                asset_ids: vec![asset.id],
                run_id: None,
                annotation_type: AnnotationType::DataReview,
                state: AnnotationState::Open,
                assignee_user_id: None,
                tags: vec![],
                rule_id: None,
            },
        )
        .unwrap()
        .id
}

#[test]
fn files_are_attached_listed_limited_and_deleted() {
    let f = Fixture::new();
    let org = f.org("acme");
    let other = f.org("globex");
    let run = f
        .catalog
        .create_run(
            &org,
            NewRun {
                name: "run 1".into(),
                ..Default::default()
            },
        )
        .unwrap();

    // The entity must exist in the organization.
    assert_error(
        f.catalog
            .create_remote_file(&org, file("f0", FileEntity::Run, "nope", 1), u64::MAX),
        ErrorKind::NotFound,
        "run \"nope\"",
    );
    assert_error(
        f.catalog
            .create_remote_file(&other, file("f0", FileEntity::Run, &run.id, 1), u64::MAX),
        ErrorKind::NotFound,
        "run",
    );

    let a = f
        .catalog
        .create_remote_file(&org, file("f1", FileEntity::Run, &run.id, 600), 1000)
        .unwrap();
    assert_eq!(a.size, 600);
    assert_eq!(a.sha256, [7; 32]);
    assert_eq!(a.created_by, "key-1");
    assert_eq!(
        a.metadata,
        Some(FileMetadata::Image {
            width: 640,
            height: 480
        })
    );
    // 600 + 500 passes the organization's 1000 bytes.
    assert_error(
        f.catalog
            .create_remote_file(&org, file("f2", FileEntity::Run, &run.id, 500), 1000),
        ErrorKind::LimitExceeded,
        "past its limit of 1000 bytes",
    );
    f.catalog
        .create_remote_file(&org, file("f2", FileEntity::Run, &run.id, 400), 1000)
        .unwrap();
    assert_eq!(f.catalog.remote_files_bytes(&org).unwrap(), 1000);
    assert_eq!(f.catalog.remote_files_bytes(&other).unwrap(), 0);

    let annotation_id = annotation(&f, &org);
    f.catalog
        .create_remote_file(
            &org,
            file("f3", FileEntity::Annotation, &annotation_id, 1),
            u64::MAX,
        )
        .unwrap();

    let filter = RemoteFileFilter {
        entity_types: Some(vec!["run".into()]),
        entity_ids: Some(vec![run.id.clone()]),
        ..Default::default()
    };
    let (listed, next) = f
        .catalog
        .list_remote_files(&org, &filter, Page::default())
        .unwrap();
    assert_eq!(
        listed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["f1", "f2"]
    );
    assert!(next.is_empty());
    let (listed, _) = f
        .catalog
        .list_remote_files(&other, &RemoteFileFilter::default(), Page::default())
        .unwrap();
    assert!(listed.is_empty());

    let updated = f
        .catalog
        .update_remote_file(&org, "f1", Some("renamed".into()), "key-2")
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("renamed"));
    assert_eq!(updated.modified_by, "key-2");

    // All or none.
    assert_error(
        f.catalog
            .delete_remote_files(&org, &["f1".into(), "missing".into()]),
        ErrorKind::NotFound,
        "missing",
    );
    assert!(f.catalog.get_remote_file(&org, "f1").is_ok());
    let gone = f.catalog.delete_remote_files(&org, &["f1".into()]).unwrap();
    assert_eq!(gone[0].id, "f1");
    assert_error(
        f.catalog.get_remote_file(&org, "f1"),
        ErrorKind::NotFound,
        "remote file",
    );
    let mut keys = f.catalog.remote_file_keys().unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            (org.clone(), "f2".to_owned()),
            (org.clone(), "f3".to_owned())
        ]
    );
}

#[test]
fn deleting_an_annotation_takes_its_log_and_files() {
    let f = Fixture::new();
    let org = f.org("acme");
    let id = annotation(&f, &org);
    let comment = AnnotationLogEntry::Comment {
        body: vec![
            CommentElement::Text {
                text: "see the plot, ".into(),
            },
            CommentElement::Mention {
                user_id: "u1".into(),
                user_email: "ripley@example.com".into(),
            },
        ],
    };
    let log = f
        .catalog
        .create_annotation_log(&org, &id, &comment, "key-1")
        .unwrap();
    assert_eq!(log.entry, comment);
    let state = AnnotationLogEntry::StateUpdate {
        state: "resolved".into(),
    };
    f.catalog
        .create_annotation_log(&org, &id, &state, "key-1")
        .unwrap();
    let (logs, _) = f
        .catalog
        .list_annotation_logs(&org, &id, &None, Page::default())
        .unwrap();
    assert_eq!(logs.len(), 2);
    let (logs, _) = f
        .catalog
        .list_annotation_logs(
            &org,
            &id,
            &Some(vec!["state_update".into()]),
            Page::default(),
        )
        .unwrap();
    assert_eq!(logs[0].entry, state);
    assert_error(
        f.catalog
            .create_annotation_log(&org, "nope", &state, "key-1"),
        ErrorKind::NotFound,
        "annotation \"nope\"",
    );

    f.catalog
        .create_remote_file(
            &org,
            file("on-annotation", FileEntity::Annotation, &id, 3),
            100,
        )
        .unwrap();
    f.catalog
        .create_remote_file(
            &org,
            file("on-log", FileEntity::AnnotationLog, &log.id, 4),
            100,
        )
        .unwrap();
    let mut gone: Vec<String> = f
        .catalog
        .delete_annotations(&org, std::slice::from_ref(&id))
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    gone.sort();
    assert_eq!(gone, ["on-annotation", "on-log"]);
    assert_eq!(f.catalog.remote_files_bytes(&org).unwrap(), 0);
    assert!(f.catalog.remote_file_keys().unwrap().is_empty());
}
