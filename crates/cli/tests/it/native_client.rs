//! The SDK's native API client (`sextant_client::native`) against the real server: users,
//! tags, rules applied and evaluated, annotations listed and changed, flushes, and the errors
//! of refused calls, over the example Nostromo data.

use crate::common;

use std::collections::BTreeMap;

use common::{Server, TOKEN};
use sextant_client::Error;
use sextant_client::native::NativeClient;
use sextant_client::native::api::{
    AnnotationPatch, AnnotationQuery, AnnotationState, AnnotationType, EvalRequest, HeldRange,
    RuleBody, RuleQuery,
};

fn voltage_rule() -> RuleBody {
    RuleBody {
        name: "voltage_high".into(),
        client_key: Some("voltage-high".into()),
        description: "Voltage above 24 V".into(),
        expression: "$1 > 24".into(),
        channel_references: BTreeMap::from([("$1".into(), "voltage".into())]),
        contextual_channels: vec![],
        asset_names: vec!["NostromoLV426".into()],
        rule_type: Some(AnnotationType::Review),
        assignee: Some("ellen.ripley@weylandcorp.com".into()),
        tags: vec!["power".into()],
        live: false,
        webhook_url: None,
    }
}

// Voltages 24, 24, 23, 25, (bad row), 24: above 24 only at the fourth row.
const HELD: HeldRange = HeldRange {
    start: 1720141748855000000,
    end: Some(1720141749055000000),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_client_covers_the_native_api() {
    let server = Server::start();
    server.ingest_nostromo();
    let client = NativeClient::new(&server.url, TOKEN).unwrap();

    // Users and tags.
    let ripley = client
        .create_user("ellen.ripley@weylandcorp.com")
        .await
        .unwrap();
    assert_eq!(ripley.name, "ellen.ripley@weylandcorp.com");
    assert_eq!(
        client.list_users().await.unwrap(),
        std::slice::from_ref(&ripley)
    );
    let warning = client.create_tag("warning").await.unwrap();
    assert_eq!(client.create_tag("warning").await.unwrap(), warning);

    // Apply twice: created, then updated by client key.
    let created = client.apply_rule(&voltage_rule()).await.unwrap();
    assert!(created.created);
    assert_eq!(created.rule.version, 1);
    assert_eq!(
        created.rule.assignee_user_id.as_deref(),
        Some(&*ripley.user_id)
    );
    let updated = client.apply_rule(&voltage_rule()).await.unwrap();
    assert!(!updated.created);
    assert_eq!(
        (updated.rule.rule_id.as_str(), updated.rule.version),
        (created.rule.rule_id.as_str(), 2)
    );
    let rules = client.list_rules(&RuleQuery::default()).await.unwrap();
    assert_eq!(rules, std::slice::from_ref(&updated.rule));
    let mut tags: Vec<String> = client
        .list_tags()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    tags.sort();
    assert_eq!(tags, ["power", "warning"]);

    // Evaluate the stored rule, then the same rule inline, then with annotations.
    let stored = EvalRequest {
        rule_key: Some("voltage-high".into()),
        asset: "NostromoLV426".into(),
        ..EvalRequest::default()
    };
    let held = client.eval_rule(&stored).await.unwrap();
    assert_eq!(
        (held.rule.as_str(), held.ranges.as_slice()),
        ("voltage_high", &[HELD][..])
    );
    assert!(held.annotation_ids.is_empty());
    let inline = EvalRequest {
        rule_key: None,
        rule: Some(voltage_rule()),
        ..stored.clone()
    };
    assert_eq!(client.eval_rule(&inline).await.unwrap().ranges, [HELD]);
    let annotated = client
        .eval_rule(&EvalRequest {
            annotate: true,
            ..stored.clone()
        })
        .await
        .unwrap();
    assert_eq!(annotated.annotation_ids.len(), 1);
    let id = &annotated.annotation_ids[0];

    // Annotations: listed by rule and state, read one, change it.
    let open = AnnotationQuery {
        rule_id: Some(created.rule.rule_id.clone()),
        state: Some(AnnotationState::Open),
        ..AnnotationQuery::default()
    };
    let listed = client.all_annotations(&open).await.unwrap();
    assert_eq!(listed.len(), 1);
    let annotation = &listed[0];
    assert_eq!(
        (annotation.start_time, annotation.end_time),
        (HELD.start, HELD.end)
    );
    assert_eq!(annotation.tags, ["power"]);
    assert_eq!(
        annotation.assignee_user_id.as_deref(),
        Some(&*ripley.user_id)
    );
    assert_eq!(&client.get_annotation(id).await.unwrap(), annotation);
    let resolved = client
        .update_annotation(
            id,
            &AnnotationPatch {
                state: Some(AnnotationState::Resolved),
                assignee_user_id: Some(None),
                ..AnnotationPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(resolved.state, AnnotationState::Resolved);
    assert_eq!(resolved.assignee_user_id, None);
    assert!(client.all_annotations(&open).await.unwrap().is_empty());
    let page = client
        .list_annotations(&AnnotationQuery {
            page_size: Some(1),
            ..AnnotationQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.annotations, [resolved]);

    // Flushes.
    let flushed = client.flush_rules().await.unwrap();
    assert_eq!(flushed.failures, 0);
    let settled = client.admin_flush().await.unwrap();
    assert!(settled.flushed_points > 0, "{settled:?}");

    // Refused calls carry the status and the server's message.
    let unknown = client
        .eval_rule(&EvalRequest {
            asset: "Sulaco".into(),
            ..stored.clone()
        })
        .await
        .unwrap_err();
    match &unknown {
        Error::Api {
            status, message, ..
        } => {
            assert_eq!(*status, 404, "{unknown}");
            assert!(message.contains("no asset named `Sulaco`"), "{unknown}");
        }
        other => panic!("not an API error: {other}"),
    }
    assert_eq!(unknown.kind(), sextant_model::ErrorKind::NotFound);
    let missing = client
        .get_annotation("no-such-annotation")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, Error::Api { status: 404, .. }),
        "{missing}"
    );
    let bad_id = client.get_annotation("../rules").await.unwrap_err();
    assert!(matches!(bad_id, Error::Config(_)), "{bad_id}");
    let stranger = NativeClient::new(&server.url, "sxt_not_a_key").unwrap();
    let refused = stranger.list_users().await.unwrap_err();
    assert!(
        matches!(refused, Error::Api { status: 401, .. }),
        "{refused}"
    );

    // The KairosDB API keeps its own prefix: the native routes are not under it.
    let old = raw_get(&server.url, "/api/v1/annotations");
    assert_eq!(old, 404);
}

/// The status of a bare `GET path` with the test key, over a raw socket.
fn raw_get(url: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let authority = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply[9..12].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_webhook_may_only_name_an_allowed_host() {
    let server = Server::start_with(&["--webhook-allow", "hooks.example:8080,127.0.0.1"]);
    server.ingest_nostromo();
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    client
        .create_user("ellen.ripley@weylandcorp.com")
        .await
        .unwrap();
    let with_hook = |url: &str| RuleBody {
        webhook_url: Some(url.to_owned()),
        ..voltage_rule()
    };
    for refused in [
        "http://169.254.169.254/latest/meta-data",
        "http://hooks.example:9090/alert",
        "http://localhost:8080/alert",
    ] {
        match client.apply_rule(&with_hook(refused)).await {
            Err(Error::Api {
                status, message, ..
            }) => {
                assert_eq!(status, 400, "{message}");
                assert!(
                    message.contains("not on the server's webhook allow-list"),
                    "{message}"
                );
            }
            other => panic!("{refused}: {other:?}"),
        }
    }
    for allowed in ["http://HOOKS.example:8080/alert", "http://127.0.0.1:9/x"] {
        let applied = client.apply_rule(&with_hook(allowed)).await.unwrap();
        assert_eq!(applied.rule.webhook_url.as_deref(), Some(allowed));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_client_finds_and_plots_series_and_manages_keys() {
    use sextant_client::native::api::explore::{CreateKey, PlotRequest, PlotValue, SeriesQuery};

    let server = Server::start();
    server.ingest_nostromo();
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let me = client.whoami().await.unwrap();
    assert_eq!(me.scopes, ["admin"]);

    let found = client
        .list_series(&SeriesQuery {
            selector: None,
            q: Some("MAINMOTOR nostromo".into()),
            limit: None,
        })
        .await
        .unwrap();
    let keys: Vec<&str> = found.series.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["mainmotor.velocity{asset=\"NostromoLV426\"}"]);

    // The readings' velocities 0.0, 1.5, 3.25, 4.0 and 2.0 in one pixel column: its first,
    // lowest (the first again), highest and last point.
    let start = 1720141748555000000;
    let plot = client
        .plot(&PlotRequest {
            series: vec![
                keys[0].to_owned(),
                "vehicle_state{asset=\"NostromoLV426\"}".into(),
            ],
            start,
            end: start + 1_000_000_000,
            width: 1,
        })
        .await
        .unwrap();
    let velocity = &plot.series[0];
    assert_eq!(velocity.points, 5);
    assert_eq!(
        velocity.v,
        [0.0, 4.0, 2.0].map(|v| Some(PlotValue::Number(v)))
    );
    let ms = |ns: i64| ns as f64 / 1e6;
    assert_eq!(
        velocity.t,
        [ms(start), ms(start + 300_000_000), ms(start + 500_000_000)]
    );
    // An enum's names come with its keys.
    let names: Vec<&str> = plot.series[1]
        .channel
        .as_ref()
        .unwrap()
        .enum_types
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["Accelerating", "Decelerating", "Stopped"]);

    let made = client
        .create_key(&CreateKey {
            name: "grafana".into(),
            scopes: vec!["read".into()],
        })
        .await
        .unwrap();
    let reader = NativeClient::new(&server.url, &made.secret).unwrap();
    assert_eq!(reader.whoami().await.unwrap().key_name, "grafana");
    assert!(
        client
            .list_keys()
            .await
            .unwrap()
            .iter()
            .any(|k| k.name == "grafana")
    );
    assert!(client.revoke_key(&made.key.key_id).await.unwrap().revoked);
    match reader.whoami().await {
        Err(Error::Api { status, .. }) => assert_eq!(status, 401),
        other => panic!("a revoked key answered {other:?}"),
    }
    match client.revoke_key("../keys").await {
        Err(Error::Config(message)) => assert!(message.contains("key id"), "{message}"),
        other => panic!("a path as an id gave {other:?}"),
    }
}
