//! SignalFx ingest over a real socket: protobuf and JSON datapoints, gzip, presence, typed
//! values, the metric type kept for life, bad points refused alone (logged and counted),
//! events, and keys.

use crate::common;

use std::io::Write;

use common::{TOKEN, TestServer, http};
use sextant_catalog::{Catalog, Scope, SfxEventFilter, SfxPropertyValue};
use sextant_model::{SeriesKey, Value};
use sextant_server::state::org_number;
use sextant_signalfx::datapoint::encode_protobuf;
use sextant_signalfx::{Datapoint, MetricType, PointValue, proto};

fn org_id(server: &TestServer) -> String {
    server.catalog.list_organizations().unwrap()[0].id.clone()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(8));
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn dp(metric: &str, host: &str, t: Option<i64>, value: PointValue, mt: MetricType) -> Datapoint {
    Datapoint {
        metric: metric.into(),
        dimensions: vec![("host".into(), host.into()), ("app".into(), "api".into())],
        timestamp_ms: t,
        value,
        metric_type: mt,
    }
}

async fn post(
    server: &TestServer,
    path: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    http(
        server.addr,
        "POST",
        path,
        &[
            ("x-sf-token", token),
            ("content-type", content_type),
            ("content-encoding", "gzip"),
        ],
        &gzip(body),
    )
    .await
}

#[tokio::test]
async fn protobuf_datapoints_of_every_type_are_stored_as_series() {
    let server = TestServer::start().await;
    let t = 1_700_000_000_000;
    let body = encode_protobuf(&[
        dp(
            "req.latency",
            "h1",
            Some(t),
            PointValue::Double(1.5),
            MetricType::Gauge,
        ),
        dp(
            "req.latency",
            "h1",
            Some(t + 1000),
            PointValue::Double(f64::NAN),
            MetricType::Gauge,
        ),
        dp(
            "req.latency",
            "h2",
            Some(t),
            PointValue::Double(f64::NEG_INFINITY),
            MetricType::Gauge,
        ),
        dp(
            "req.count",
            "h1",
            Some(t),
            PointValue::Int(42),
            MetricType::Counter,
        ),
        dp(
            "req.total",
            "h1",
            None,
            PointValue::Int(i64::MAX),
            MetricType::CumulativeCounter,
        ),
        dp(
            "build",
            "h1",
            Some(t),
            PointValue::Str("v1.2".into()),
            MetricType::Gauge,
        ),
    ]);
    let (status, reply) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/x-protobuf",
        &body,
    )
    .await;
    assert_eq!((status, reply.as_str()), (200, "\"OK\""));

    let ns = t * 1_000_000;
    let latency = server.values(r#"req.latency{app="api",host="h1"}"#);
    assert_eq!(latency.len(), 2);
    assert_eq!(latency[0], (ns, Value::Double(1.5)));
    assert!(matches!(latency[1], (t1, Value::Double(v)) if t1 == ns + 1_000_000_000 && v.is_nan()));
    assert_eq!(
        server.values(r#"req.latency{app="api",host="h2"}"#),
        [(ns, Value::Double(f64::NEG_INFINITY))]
    );
    assert_eq!(
        server.values(r#"req.count{app="api",host="h1"}"#),
        [(ns, Value::Int64(42))]
    );
    assert_eq!(
        server.values(r#"build{app="api",host="h1"}"#),
        [(ns, Value::String("v1.2".into()))]
    );
    // No timestamp: the server's time.
    let total = server.values(r#"req.total{app="api",host="h1"}"#);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert_eq!(total.len(), 1);
    assert!((now - total[0].0).abs() < 60_000_000_000, "{total:?}");
    assert_eq!(total[0].1, Value::Int64(i64::MAX));

    // The metric types are the metrics' metadata; each MTS has a stable id.
    let snapshot = server.catalog.sfx_snapshot(&org_id(&server)).unwrap();
    let types: Vec<(&str, &str)> = snapshot
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.metric_type.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("req.latency", "GAUGE"),
            ("req.count", "COUNTER"),
            ("req.total", "CUMULATIVE_COUNTER"),
            ("build", "GAUGE"),
        ]
    );
    assert_eq!(snapshot.mts.len(), 5);
    let ids: Vec<String> = snapshot.mts.iter().map(|m| m.id.clone()).collect();

    // Sent again: the same MTS, nothing new registered.
    let (status, _) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/x-protobuf",
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let again = server.catalog.sfx_snapshot(&org_id(&server)).unwrap();
    assert_eq!(
        again.mts.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        ids
    );
    server.stop().await;
}

/// Points of known MTS touch only the in-memory index: the catalog's write-ahead log does not
/// grow while they are ingested (SQLite appends to it on every commit).
#[tokio::test]
async fn points_of_known_mts_write_nothing_to_the_catalog() {
    let server = TestServer::start().await;
    let batch = |t: i64| {
        encode_protobuf(
            &(0..300)
                .map(|i| {
                    dp(
                        "known.cpu",
                        &format!("h{i}"),
                        Some(t),
                        PointValue::Double(i as f64),
                        MetricType::Gauge,
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    let (status, _) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/x-protobuf",
        &batch(1),
    )
    .await;
    assert_eq!(status, 200);
    let wal = server.dir().join("catalog.db-wal");
    let before = std::fs::metadata(&wal).unwrap().len();
    for t in 2..12 {
        let (status, _) = post(
            &server,
            "/v2/datapoint",
            TOKEN,
            "application/x-protobuf",
            &batch(t),
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), before);
    assert_eq!(server.values(r#"known.cpu{app="api",host="h7"}"#).len(), 11);
    // A new MTS is registered: the log grows.
    let new = encode_protobuf(&[dp(
        "known.cpu",
        "h-new",
        Some(1),
        PointValue::Double(1.0),
        MetricType::Gauge,
    )]);
    let (status, _) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/x-protobuf",
        &new,
    )
    .await;
    assert_eq!(status, 200);
    assert!(std::fs::metadata(&wal).unwrap().len() > before);
    server.stop().await;
}

#[tokio::test]
async fn bad_points_are_refused_alone_logged_and_counted() {
    let server = TestServer::start().await;
    let t = 1_700_000_000_000;
    // JSON, as the fallback client sends it: an integer beyond 64 bits and a boolean are
    // refused; the others are stored.
    let body = format!(
        r#"{{"gauge": [{{"metric": "temp", "value": 21.5, "timestamp": {t}, "dimensions": {{"room": "a"}}}},
                      {{"metric": "temp", "value": 18446744073709551616, "timestamp": {t}, "dimensions": {{"room": "b"}}}},
                      {{"metric": "temp", "value": Infinity, "timestamp": {t1}, "dimensions": {{"room": "a"}}}}],
            "counter": [{{"metric": "hits", "value": 3, "timestamp": {t}}},
                        {{"metric": "hits", "value": true, "timestamp": {t}}}]}}"#,
        t1 = t + 1
    );
    let (status, reply) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/json",
        body.as_bytes(),
    )
    .await;
    assert_eq!((status, reply.as_str()), (200, "\"OK\""));
    let ns = t * 1_000_000;
    assert_eq!(
        server.values(r#"temp{room="a"}"#),
        [
            (ns, Value::Double(21.5)),
            (ns + 1_000_000, Value::Double(f64::INFINITY))
        ]
    );
    assert_eq!(server.values("hits"), [(ns, Value::Int64(3))]);
    // The refused point created no series.
    let org = org_number(&org_id(&server));
    let refused: SeriesKey = r#"temp{room="b"}"#.parse().unwrap();
    assert!(
        server
            .store
            .read(org, &refused, i64::MIN..i64::MAX)
            .is_err()
    );

    // A metric keeps its type; a series keeps its value type. Each bad point is refused
    // alone, the good one of the same request is stored.
    let body = encode_protobuf(&[
        Datapoint {
            metric: "hits".into(),
            dimensions: vec![],
            timestamp_ms: Some(t + 5),
            value: PointValue::Int(4),
            metric_type: MetricType::Gauge,
        },
        Datapoint {
            metric: "temp".into(),
            dimensions: vec![("room".into(), "a".into())],
            timestamp_ms: Some(t + 5),
            value: PointValue::Str("warm".into()),
            metric_type: MetricType::Gauge,
        },
        Datapoint {
            metric: "temp".into(),
            dimensions: vec![("room".into(), "c".into())],
            timestamp_ms: Some(t + 5),
            value: PointValue::Double(19.0),
            metric_type: MetricType::Gauge,
        },
    ]);
    let (status, _) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/x-protobuf",
        &body,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(server.values("hits"), [(ns, Value::Int64(3))]);
    assert_eq!(server.values(r#"temp{room="a"}"#).len(), 2);
    assert_eq!(
        server.values(r#"temp{room="c"}"#),
        [(ns + 5_000_000, Value::Double(19.0))]
    );

    let (_, metrics) = http(server.addr, "GET", "/metrics", &[], b"").await;
    let line = |reason: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("sextant_refused_points_total")
                    && l.contains("protocol=\"signalfx\"")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
    };
    assert_eq!(line("invalid").as_deref(), Some("2"), "{metrics}");
    assert_eq!(line("metric_type").as_deref(), Some("1"), "{metrics}");
    assert_eq!(line("type_conflict").as_deref(), Some("1"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn events_are_stored_with_every_property_type() {
    let server = TestServer::start().await;
    let prop = |k: &str, v: proto::PropertyValue| proto::Property {
        key: Some(k.into()),
        value: Some(v),
    };
    let message = proto::EventUploadMessage {
        events: vec![proto::Event {
            event_type: Some("deploy".into()),
            dimensions: vec![proto::Dimension {
                key: Some("service".into()),
                value: Some("api".into()),
            }],
            properties: vec![
                prop(
                    "version",
                    proto::PropertyValue {
                        str_value: Some("1.2".into()),
                        ..Default::default()
                    },
                ),
                prop(
                    "ratio",
                    proto::PropertyValue {
                        double_value: Some(0.5),
                        ..Default::default()
                    },
                ),
                prop(
                    "build",
                    proto::PropertyValue {
                        int_value: Some(77),
                        ..Default::default()
                    },
                ),
                prop(
                    "canary",
                    proto::PropertyValue {
                        bool_value: Some(true),
                        ..Default::default()
                    },
                ),
            ],
            category: None,
            timestamp: Some(1_700_000_000_000),
        }],
    };
    let body = prost::Message::encode_to_vec(&message);
    let (status, reply) = post(&server, "/v2/event", TOKEN, "application/x-protobuf", &body).await;
    assert_eq!((status, reply.as_str()), (200, "\"OK\""));
    let json = br#"[{"eventType": "deploy", "category": "AUDIT", "dimensions": {"service": "web"},
                     "properties": {"ok": false}, "timestamp": null}]"#;
    let (status, _) = post(&server, "/v2/event", TOKEN, "application/json", json).await;
    assert_eq!(status, 200);

    let events = server
        .catalog
        .sfx_events(
            &org_id(&server),
            &SfxEventFilter {
                event_type: Some("deploy".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].category, "USER_DEFINED");
    assert_eq!(events[0].timestamp, 1_700_000_000_000_000_000);
    assert_eq!(
        events[0].properties,
        [
            ("version".into(), SfxPropertyValue::Str("1.2".into())),
            ("ratio".into(), SfxPropertyValue::Double(0.5)),
            ("build".into(), SfxPropertyValue::Int(77)),
            ("canary".into(), SfxPropertyValue::Bool(true)),
        ]
    );
    assert_eq!(events[1].category, "AUDIT");
    assert_eq!(events[1].dimensions, [("service".into(), "web".into())]);
    server.stop().await;
}

#[tokio::test]
async fn bad_tokens_and_read_keys_store_nothing() {
    let server = TestServer::start().await;
    let body = encode_protobuf(&[dp(
        "m",
        "h1",
        Some(1),
        PointValue::Int(1),
        MetricType::Gauge,
    )]);
    let (status, _) = post(
        &server,
        "/v2/datapoint",
        "nope",
        "application/x-protobuf",
        &body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(&server, "/v2/event", "nope", "application/json", b"[]").await;
    assert_eq!(status, 401);
    let read = server.key_in_new_org("readers", Scope::Read);
    let (status, reply) = post(
        &server,
        "/v2/datapoint",
        &read,
        "application/x-protobuf",
        &body,
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    assert!(reply.contains("may not write points"), "{reply}");
    let (status, _) = post(
        &server,
        "/v2/event",
        &read,
        "application/json",
        br#"[{"eventType": "x"}]"#,
    )
    .await;
    assert_eq!(status, 403);
    for org in server.catalog.list_organizations().unwrap() {
        assert!(server.catalog.sfx_snapshot(&org.id).unwrap().mts.is_empty());
        assert!(
            server
                .catalog
                .sfx_events(&org.id, &SfxEventFilter::default())
                .unwrap()
                .is_empty()
        );
    }
    // A body that is not a message at all is a 400 naming the problem.
    let (status, reply) = post(
        &server,
        "/v2/datapoint",
        TOKEN,
        "application/x-protobuf",
        b"\x0a\xff",
    )
    .await;
    assert_eq!(status, 400);
    assert!(reply.contains("DataPointUploadMessage"), "{reply}");
    server.stop().await;
}
