//! Influx line protocol over a real socket: both endpoints, every field type, precisions,
//! gzip, partial writes answered as InfluxDB does, and the ways a key may be sent.

use crate::common;

use std::io::Write;

use base64::Engine;
use common::{TOKEN, TestServer, http};
use sextant_model::Value;

#[tokio::test]
async fn every_field_type_and_precision_is_stored() {
    let server = TestServer::start().await;
    let token = format!("Token {TOKEN}");
    let body = "cpu,host=h7,region=eu usage_user=12.5,usage_system=3i,count=7u 1700000000\n\
                log,host=h7 msg=\"disk \\\"sda\\\" full\",ok=false 1700000001\n";
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write?db=telegraf&precision=s",
        &[("authorization", &token)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{reply}");
    let t = 1_700_000_000_000_000_000;
    assert_eq!(
        server.values(r#"cpu.usage_user{host="h7",region="eu"}"#),
        [(t, Value::Double(12.5))]
    );
    assert_eq!(
        server.values(r#"cpu.usage_system{host="h7",region="eu"}"#),
        [(t, Value::Int64(3))]
    );
    assert_eq!(
        server.values(r#"cpu.count{host="h7",region="eu"}"#),
        [(t, Value::Uint64(7))]
    );
    assert_eq!(
        server.values(r#"log.msg{host="h7"}"#),
        [(t + 1_000_000_000, Value::String("disk \"sda\" full".into()))]
    );
    assert_eq!(
        server.values(r#"log.ok{host="h7"}"#),
        [(t + 1_000_000_000, Value::Bool(false))]
    );

    for (precision, ts, expected) in [
        ("ns", 5, 5),
        ("us", 5, 5_000),
        ("ms", 5, 5_000_000),
        ("s", 5, 5_000_000_000),
    ] {
        let body = format!("p,precision={precision} v=1 {ts}\n");
        let (status, _) = http(
            server.addr,
            "POST",
            &format!("/api/v2/write?org=o&bucket=b&precision={precision}"),
            &[("authorization", &format!("Bearer {TOKEN}"))],
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 204);
        assert_eq!(
            server.values(&format!(r#"p.v{{precision="{precision}"}}"#))[0].0,
            expected,
            "{precision}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_lines_are_reported_and_good_lines_stored() {
    let server = TestServer::start().await;
    let auth = format!("Token {TOKEN}");
    let (status, _) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &auth)],
        b"m,host=a v=1i 1\n",
    )
    .await;
    assert_eq!(status, 204);
    let body = "m,host=a v=2i 2\n\
                m,host=b v=oops 3\n\
                m,host=a v=2.5 4\n\
                m,host=c v=4i 5\n";
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &auth)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let message = reply["error"].as_str().unwrap();
    assert!(
        message.starts_with("partial write: 2 points stored, 2 refused: "),
        "{message}"
    );
    assert!(
        message.contains("line 2, column 12: field `v` has a value that is not a number"),
        "{message}"
    );
    assert!(
        message.contains("line 3: field `v` is double here but int64 earlier in the body"),
        "{message}"
    );
    assert_eq!(
        server.values(r#"m.v{host="a"}"#),
        [(1, Value::Int64(1)), (2, Value::Int64(2))]
    );
    assert_eq!(server.values(r#"m.v{host="c"}"#), [(5, Value::Int64(4))]);

    // A series that already has another type: its lines are rejected, the others stored.
    let (status, reply) = http(
        server.addr,
        "POST",
        "/api/v2/write",
        &[("authorization", &auth)],
        b"m,host=a v=9.5 10\nm,host=d v=1 10\n",
    )
    .await;
    assert_eq!(status, 400);
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["code"], "invalid");
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.contains("line 1: series m.v{host=\"a\"}"),
        "{message}"
    );
    assert!(message.contains("has type int64 for life"), "{message}");
    assert_eq!(
        server.values(r#"m.v{host="d"}"#),
        [(10, Value::Double(1.0))]
    );

    let (status, reply) = http(
        server.addr,
        "POST",
        "/write?precision=d",
        &[("authorization", &auth)],
        b"m v=1\n",
    )
    .await;
    assert_eq!(status, 400);
    assert!(reply.contains("unknown precision"), "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn a_type_conflicting_series_is_refused_and_the_others_stored_in_one_write() {
    let server = TestServer::start().await;
    let auth = format!("Token {TOKEN}");
    let (status, _) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &auth)],
        b"m,host=a v=1i 1\n",
    )
    .await;
    assert_eq!(status, 204);
    let seq = server.store.wal().durable_seq();

    let body = "m,host=a v=9.5 20\n\
                m,host=e v=1i 20\n\
                n,host=a x=2,y=3 20\n\
                m,host=a v=7.5 21\n";
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &auth)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let message = reply["error"].as_str().unwrap();
    let refused = r#"series m.v{host="a"} has type int64 for life"#;
    assert!(
        message.starts_with(&format!(
            "partial write: 3 points stored, 2 refused: line 1: {refused}"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("; line 4: {refused}")),
        "{message}"
    );
    assert!(
        message.contains("has type int64 for life; cannot write double values"),
        "{message}"
    );
    // The other series went in together, as one WAL record.
    assert_eq!(server.store.wal().durable_seq(), seq + 1);
    assert_eq!(server.values(r#"m.v{host="e"}"#), [(20, Value::Int64(1))]);
    assert_eq!(
        server.values(r#"n.x{host="a"}"#),
        [(20, Value::Double(2.0))]
    );
    assert_eq!(
        server.values(r#"n.y{host="a"}"#),
        [(20, Value::Double(3.0))]
    );
    assert_eq!(server.values(r#"m.v{host="a"}"#), [(1, Value::Int64(1))]);
    server.stop().await;
}

#[tokio::test]
async fn gzip_bodies_and_basic_auth_work_and_no_key_is_refused() {
    let server = TestServer::start().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..1000 {
        writeln!(gz, "g,host=h{} v={i}i {i}", i % 10).unwrap();
    }
    let body = gz.finish().unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("telegraf:{TOKEN}"))
    );
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &basic), ("content-encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(status, 204, "{reply}");
    assert_eq!(server.values(r#"g.v{host="h3"}"#).len(), 100);

    let (status, reply) = http(
        server.addr,
        "POST",
        "/write",
        &[("content-encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(status, 401, "{reply}");
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &basic), ("content-encoding", "gzip")],
        b"not gzip",
    )
    .await;
    assert_eq!(status, 400);
    assert!(reply.contains("cannot be decompressed"), "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn every_member_of_a_multi_member_gzip_body_is_stored() {
    let server = TestServer::start().await;
    let member = |text: &str| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    // As `cat a.gz b.gz` makes it: two complete gzip streams back to back.
    let mut body = member("m,host=a v=1 1\n");
    body.extend(member("m,host=a v=2 2\nm,host=b v=3 3\n"));
    let token = format!("Token {TOKEN}");
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write?precision=ns",
        &[("authorization", &token), ("content-encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(status, 204, "{reply}");
    assert_eq!(
        server.values(r#"m.v{host="a"}"#),
        [(1, Value::Double(1.0)), (2, Value::Double(2.0))]
    );
    assert_eq!(server.values(r#"m.v{host="b"}"#), [(3, Value::Double(3.0))]);
}

#[tokio::test]
async fn oversized_or_control_character_keys_and_the_last_instant_are_refused_alone() {
    let server = TestServer::start().await;
    let auth = format!("Token {TOKEN}");
    let huge = "x".repeat(60_000);
    // One line of 100,001 fields (1.3 MB), more than a line may have.
    let wide: Vec<String> = (0..100_001).map(|i| format!("f{i}=1")).collect();
    let wide = wide.join(",");
    let body = format!(
        "m,host={huge} v=1 10\n\
         bad\u{1b}[2J,host=a v=2 10\n\
         m,host=late v=3 9223372036854775807\n\
         m,host=edge v=4 9223372036854775806\n\
         m,host=ok v=5 10\n\
         wide {wide} 10\n"
    );
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write",
        &[("authorization", &auth)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let message = reply["error"].as_str().unwrap();
    assert!(
        message.starts_with("partial write: 2 points stored, 4 refused"),
        "{message}"
    );
    assert!(
        message.contains("line 6") && message.contains("more than 10000 fields"),
        "{message}"
    );
    assert!(
        message.contains("the value of label \"host\" is 60000 bytes long; the limit is 4096"),
        "{message}"
    );
    assert!(
        message.contains("holds a control character at byte 3"),
        "{message}"
    );
    assert!(
        message.contains("point at 9223372036854775807 of series m.v{host=\"late\"}"),
        "{message}"
    );
    // The refused key is cut in the message, not repeated whole.
    assert!(message.len() < 2_000, "{} bytes", message.len());
    assert_eq!(
        server.values(r#"m.v{host="ok"}"#),
        [(10, Value::Double(5.0))]
    );
    assert_eq!(
        server.values(r#"m.v{host="edge"}"#),
        [(9_223_372_036_854_775_806, Value::Double(4.0))]
    );
    // The refused series were never created.
    let org = server.org();
    for key in [
        r#"m.v{host="late"}"#.to_owned(),
        format!("m.v{{host=\"{huge}\"}}"),
    ] {
        let key: sextant_model::SeriesKey = key.parse().unwrap();
        let read = server.store.read(org, &key, i64::MIN..i64::MAX);
        assert!(
            matches!(read, Err(sextant_storage::Error::SeriesNotFound { .. })),
            "{read:?}"
        );
    }
    // Nothing of the refused keys is counted in the head's memory: two points of two small
    // series are held.
    let (_, metrics) = http(server.addr, "GET", "/metrics", &[], b"").await;
    let head_bytes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sextant_head_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("sextant_head_bytes in {metrics}"));
    assert!(head_bytes < 64 * 1024, "the head counts {head_bytes} bytes");
    server.stop().await;
}
