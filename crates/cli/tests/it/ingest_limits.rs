//! Ingest bodies are decoded within the server-wide decode budget, against the real binary:
//! several large bodies sent at once are decoded one after the other when the budget holds
//! one, so the server's peak memory grows by about what one costs, not by all of them; every
//! point of every body is still stored. Bodies hold their share while they arrive, and Sift
//! streams while they buffer.

use crate::common;

use common::{Server, post};

/// A KairosDB body of `n` one-point metric objects (the shape that costs the most memory per
/// byte while parsed), the `k`th of its kind: its own timestamps.
fn small_objects(k: i64, n: i64) -> String {
    let objects: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"name":"budget.m","tags":{{"h":"h{}"}},"timestamp":{},"value":{i}}}"#,
                i % 50,
                1_000_000 + k * n + i
            )
        })
        .collect();
    format!("[{}]", objects.join(","))
}

/// The server's resident memory now and at its peak since the last reset, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak of `/proc/PID/status` to the resident memory now; how much that is.
fn reset_peak(pid: u32) -> u64 {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs");
    memory(pid).0
}

/// Sends `bodies` at once, one connection each; every one must be stored whole.
fn send_at_once(address: &str, bodies: &[String]) {
    std::thread::scope(|scope| {
        let sent: Vec<_> = bodies
            .iter()
            .map(|body| scope.spawn(move || post(address, "/api/v1/datapoints", body)))
            .collect();
        for answer in sent {
            let (status, reply) = answer.join().unwrap();
            assert_eq!(status, 204, "{reply}");
        }
    });
}

#[test]
fn large_bodies_at_once_are_decoded_within_the_budget_and_all_stored() {
    const N: i64 = 60_000; // about 4 MB a body; each larger than the 1 MiB budget
    let mut server = Server::start_with(&["--decode-budget", "1MiB"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let pid = server.process().id();

    // One body alone: what one costs at its peak (the allocator keeps much of it afterwards).
    let base = reset_peak(pid);
    send_at_once(&address, &[small_objects(0, N)]);
    let one = memory(pid).1.saturating_sub(base);

    // Four at once: decoded one after the other, each taking the whole budget.
    let bodies: Vec<String> = (1..=4).map(|k| small_objects(k, N)).collect();
    let base = reset_peak(pid);
    send_at_once(&address, &bodies);
    let four = memory(pid).1.saturating_sub(base);
    // The waiting bodies are mostly left unread in their sockets (at most 16 MB of them), and
    // the allocator may place a second body's tree beside the first's freed one: twice one,
    // and the bodies.
    let bound = 2 * one + 4 * 4 * 1024 + 16 * 1024;
    assert!(
        four <= bound,
        "four bodies at once raised the peak by {four} KiB, one alone by {one} KiB (bound {bound} KiB)"
    );

    // Every point of the five bodies is stored.
    let query = serde_json::json!({
        "start_absolute": 0,
        "metrics": [{"name": "budget.m", "aggregators": [{"name": "count", "sampling": {"value": 1, "unit": "years"}}]}]
    });
    let (status, reply) = post(&address, "/api/v1/datapoints/query", &query.to_string());
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let counted: i64 = reply["queries"][0]["results"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[1].as_i64().unwrap())
        .sum();
    assert_eq!(counted, 5 * N, "{reply}");
}

/// A Sift ingest stream takes its share of the decode budget as it buffers (it holds every
/// point until its end): a stream of more points than the budget holds, kept open, comes to
/// hold all of it; a second stream then waits for room for `--decode-wait` and is refused
/// with UNAVAILABLE naming the budget; the first, once it ends, is stored whole.
#[tokio::test]
async fn sift_streams_buffer_within_the_decode_budget() {
    use futures_util::StreamExt;
    use futures_util::stream;
    use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;
    use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as V;
    use sift_rs::ingest::v1::{
        IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest,
    };
    use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
    use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};

    let server = Server::start_with(&["--decode-budget", "64KiB", "--decode-wait", "1s"]);
    let channel = server.channel().await;
    let config = IngestionConfigServiceClient::new(channel.clone())
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "budget".into(),
            flows: vec![FlowConfig {
                name: "speed".into(),
                channels: vec![ChannelConfig {
                    name: "speed".into(),
                    data_type: sift_rs::common::r#type::v1::ChannelDataType::Double as i32,
                    ..Default::default()
                }],
            }],
            client_key: "budget".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap()
        .ingestion_config_id;
    // 2,000 points count 160 KB, more than the budget: each stream alone holds all of it.
    const POINTS: i64 = 2_000;
    let stream = |k: i64, end: tokio::sync::oneshot::Receiver<()>| {
        let messages: Vec<_> = (0..POINTS)
            .map(|i| {
                let ns = 1_700_000_000_000_000_000 + (k * POINTS + i) * 1_000_000;
                IngestWithConfigDataStreamRequest {
                    ingestion_config_id: config.clone(),
                    flow: "speed".into(),
                    timestamp: Some(pbjson_types::Timestamp {
                        seconds: ns / 1_000_000_000,
                        nanos: (ns % 1_000_000_000) as i32,
                    }),
                    channel_values: vec![IngestWithConfigDataChannelValue {
                        r#type: Some(V::Double(i as f64)),
                    }],
                    ..Default::default()
                }
            })
            .collect();
        // The stream stays open after its messages until `end` fires.
        let open = stream::once(end).filter_map(|_| async { None });
        let mut client = IngestServiceClient::new(channel.clone());
        tokio::spawn(async move {
            client
                .ingest_with_config_data_stream(stream::iter(messages).chain(open))
                .await
        })
    };
    let address = server.url.trim_start_matches("http://").to_owned();
    // The first stream, kept open, buffers all its points: it comes to hold the whole budget,
    // which a small write then cannot find room in.
    let (end_first, open_first) = tokio::sync::oneshot::channel();
    let first = stream(0, open_first);
    let probe = address.clone();
    let full = tokio::task::spawn_blocking(move || {
        let line = r#"[{"name": "probe.m", "tags": {"h": "a"}, "datapoints": [[1000, 1]]}]"#;
        (0..500).any(|_| {
            let (status, _) = post(&probe, "/api/v1/datapoints", line);
            std::thread::sleep(std::time::Duration::from_millis(10));
            status == 503
        })
    })
    .await
    .unwrap();
    assert!(full, "the first stream came to hold the whole budget");
    // A second stream finds no room while the first holds it all, and is refused.
    let (_end_second, open_second) = tokio::sync::oneshot::channel();
    let status = stream(1, open_second)
        .await
        .unwrap()
        .expect_err("the second stream is refused");
    assert_eq!(status.code(), sift_rs::GrpcCode::Unavailable, "{status:?}");
    assert!(
        status
            .message()
            .contains("decode budget of 64 KiB allows (sextant serve --decode-budget)")
            && status.message().contains("waited 1 s"),
        "{status:?}"
    );
    // The first ends and is stored whole.
    end_first.send(()).unwrap();
    first.await.unwrap().expect("the first stream is stored");
    let query = serde_json::json!({
        "start_absolute": 0,
        "metrics": [{"name": "speed", "aggregators": [{"name": "count", "sampling": {"value": 100, "unit": "years"}}]}]
    });
    let (status, reply) = tokio::task::spawn_blocking(move || {
        post(&address, "/api/v1/datapoints/query", &query.to_string())
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        reply["queries"][0]["results"][0]["values"][0][1],
        serde_json::json!(POINTS),
        "{reply}"
    );
}

/// Bodies count in the decode budget while they are received, not only once decoded: a
/// KairosDB body declared larger than the budget takes all of it as it starts to arrive, so
/// while its client is still sending, another write waits for room for `--decode-wait` and is
/// refused with 503 naming the budget; once the large body has arrived it is stored whole,
/// and writes are taken again.
#[test]
fn bodies_hold_their_share_of_the_budget_while_they_arrive() {
    use std::io::{Read, Write};

    let server = Server::start_with(&["--decode-budget", "64KiB", "--decode-wait", "1s"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = small_objects(0, 2_000);
    let (head, tail) = body.as_bytes().split_at(1_000);
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    write!(
        slow,
        "POST /api/v1/datapoints HTTP/1.1\r\nhost: sextant\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        common::TOKEN,
        body.len()
    )
    .unwrap();
    slow.write_all(head).unwrap();
    slow.flush().unwrap();

    // Once the large body holds the budget, a small write finds no room.
    let line = r#"[{"name": "small.m", "tags": {"h": "a"}, "datapoints": [[1000, 1]]}]"#;
    let mut refused = None;
    for _ in 0..200 {
        let (status, reply) = post(&address, "/api/v1/datapoints", line);
        if status == 503 {
            refused = Some(reply);
            break;
        }
        assert_eq!(status, 204, "{reply}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let refused = refused.expect("a write refused while the large body arrives");
    assert!(
        refused.contains("decode budget of 64 KiB allows (sextant serve --decode-budget)")
            && refused.contains("waited 1 s"),
        "{refused}"
    );

    // The large body arrives whole and is stored.
    slow.write_all(tail).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let (status, reply) = post(&address, "/api/v1/datapoints", line);
    assert_eq!(status, 204, "{reply}");
    let query = serde_json::json!({
        "start_absolute": 0,
        "metrics": [{"name": "budget.m", "aggregators": [{"name": "count", "sampling": {"value": 100, "unit": "years"}}]}]
    });
    let (status, reply) = post(&address, "/api/v1/datapoints/query", &query.to_string());
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let counted: i64 = reply["queries"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["values"][0][1].as_i64().unwrap())
        .sum();
    assert_eq!(counted, 2_000, "{reply}");
}
