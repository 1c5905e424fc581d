//! Live subscriptions against the real `sextant serve` on real sockets: points written through
//! Sift, line protocol, KairosDB and SignalFx after a subscriber started, in commit order;
//! history then live; resumption with `Last-Event-ID` through a plain HTTP client and with a
//! cursor after a SIGKILL, and across a flush with a replay window; the SDK's stream
//! reconnecting by itself; a slow subscriber told it fell behind while ingest and a fast
//! subscriber go on; windows and late points through `sextant tail`; the limits and scopes
//! over SSE and gRPC; the WebSocket transport; a clean end on SIGTERM. The SDK's stream (and
//! so `sextant tail`) is the gRPC transport.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Server, TOKEN};
use futures_util::StreamExt;
use sextant_api::live::{LiveValue, Message};
use sextant_client::ingest::{Flow, IngestionService};
use sextant_client::live::{Notice, Update};
use sextant_client::native::NativeClient;
use sextant_model::{DataType, ErrorKind, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};

const WAIT: Duration = Duration::from_secs(30);

/// A Server-Sent Events stream read through plain HTTP.
struct Sse {
    response: reqwest::Response,
    buffer: String,
    names: BTreeMap<u32, String>,
    /// The `id:` of the last record that had one.
    last_id: Option<u64>,
}

impl Sse {
    async fn open(server: &Server, query: &str, last_event_id: Option<u64>) -> Sse {
        let mut request = reqwest::Client::new()
            .get(format!("{}/api/native/v1/subscribe?{query}", server.url))
            .bearer_auth(TOKEN);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{query}"
        );
        Sse {
            response,
            buffer: String::new(),
            names: BTreeMap::new(),
            last_id: None,
        }
    }

    /// The next record's message, `None` at the end of the stream.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let record: String = self.buffer.drain(..end + 2).collect();
                let mut data = None;
                for line in record.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        self.last_id = Some(id.parse().unwrap());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = Some(d.to_owned());
                    }
                }
                // Keep-alive comments carry no data.
                let Some(data) = data else { continue };
                let message: Message = serde_json::from_str(&data).unwrap();
                if let Message::Series { id, name, .. } = &message {
                    self.names.insert(*id, name.clone());
                }
                return Some(message);
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("a message within the wait")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Reads until `n` points came; returns them as (series name, timestamp, value) with
    /// every other message.
    async fn points(&mut self, n: usize) -> (Vec<(String, i64, f64)>, Vec<Message>) {
        let mut points = Vec::new();
        let mut others = Vec::new();
        while points.len() < n {
            let message = self.next().await.expect("the stream goes on");
            match &message {
                Message::Points { series, .. } => {
                    for s in series {
                        for (t, v) in s.timestamps.iter().zip(&s.values) {
                            points.push((self.names[&s.id].clone(), *t, number(v)));
                        }
                    }
                }
                _ => others.push(message),
            }
        }
        (points, others)
    }
}

fn number(v: &LiveValue) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

/// Writes line-protocol text, nanosecond timestamps.
async fn write_lines(server: &Server, body: String) {
    let reply = reqwest::Client::new()
        .post(format!("{}/write?precision=ns", server.url))
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204, "{:?}", reply.text().await);
}

async fn write_kairos(server: &Server, metric: &str, ms: i64, value: f64) {
    let body = serde_json::json!([{
        "name": metric,
        "datapoints": [[ms, value]],
        "tags": {"host": "h1"},
    }]);
    let reply = reqwest::Client::new()
        .post(format!("{}/api/v1/datapoints", server.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204, "{:?}", reply.text().await);
}

/// Writes one SignalFx gauge with dimension `host=h1`.
async fn write_signalfx(server: &Server, metric: &str, ms: i64, value: f64) {
    let body = serde_json::json!({"gauge": [{
        "metric": metric,
        "dimensions": {"host": "h1"},
        "value": value,
        "timestamp": ms,
    }]});
    let reply = reqwest::Client::new()
        .post(format!("{}/v2/datapoint", server.url))
        .header("X-SF-Token", TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{:?}", reply.text().await);
}

const MS: i64 = 1_000_000;
const T0: i64 = 1_764_000_000_000 * MS;

#[tokio::test]
async fn sse_subscribers_get_every_protocols_writes_in_commit_order_and_resume_by_last_event_id() {
    let server = Server::start();
    let config = TelemetryConfig::new("Rig", "rig").flow(FlowConfig::new(
        "f",
        [ChannelConfig::new("t_sift", DataType::Double)],
    ));
    let sift = IngestionService::new(server.channel().await, &config)
        .await
        .unwrap();
    // Written before the subscriber started: not sent.
    write_lines(&server, format!("t_lp,host=h1 v=-1 {T0}")).await;

    let query = r#"selector={__name__=~"t_lp\.v|t_kairos|t_sift|t_sfx"}"#;
    let mut sse = Sse::open(&server, query, None).await;
    let Message::Live { cursor: start } = sse.next().await.unwrap() else {
        panic!("a subscription from now starts with its live marker");
    };
    assert_eq!(sse.last_id, Some(start), "the marker's cursor is its id");

    let mut written = Vec::new();
    for i in 1..=8i64 {
        let ts = T0 + i * 1_000 * MS;
        let v = i as f64;
        match i % 4 {
            3 => {
                write_signalfx(&server, "t_sfx", ts / MS, v).await;
                written.push(("t_sfx".to_owned(), ts, v));
            }
            0 => {
                write_lines(&server, format!("t_lp,host=h1 v={v} {ts}")).await;
                written.push(("t_lp.v".to_owned(), ts, v));
            }
            1 => {
                write_kairos(&server, "t_kairos", ts / MS, v).await;
                written.push(("t_kairos".to_owned(), ts, v));
            }
            _ => {
                sift.try_ingest_flows(&[Flow::new("f", ts).value("t_sift", Value::Double(v))])
                    .await
                    .unwrap();
                written.push(("t_sift".to_owned(), ts, v));
            }
        }
    }
    let (got, _) = sse.points(8).await;
    assert_eq!(got, written, "exactly the later writes, in commit order");
    let resume = sse.last_id.expect("points carry the cursor as their id");
    drop(sse);

    // Written while nobody listened; a resumed stream gets exactly these.
    write_lines(&server, format!("t_lp,host=h1 v=9 {}", T0 + 9_000 * MS)).await;
    write_kairos(&server, "t_kairos", (T0 + 10_000 * MS) / MS, 10.0).await;
    let mut again = Sse::open(&server, query, Some(resume)).await;
    let (got, _) = again.points(2).await;
    assert_eq!(
        got,
        vec![
            ("t_lp.v".to_owned(), T0 + 9_000 * MS, 9.0),
            ("t_kairos".to_owned(), T0 + 10_000 * MS, 10.0)
        ]
    );
}

#[tokio::test]
async fn history_then_live_and_a_cursor_that_outlives_a_sigkill() {
    let mut server = Server::start();
    let lines = |from: i64, to: i64| {
        (from..to)
            .map(|i| format!("hist,host=h{} v={i} {}", i % 2, T0 + i * MS))
            .collect::<Vec<_>>()
            .join("\n")
    };
    write_lines(&server, lines(0, 100)).await;
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let mut stream = client
        .subscribe("hist.v")
        .since(T0 + 50 * MS)
        .open()
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut live_at = None;
    while live_at.is_none() || got.len() < 70 {
        match tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
            Some(Ok(Update::Point(p))) => got.push((p.timestamp - T0) / MS),
            Some(Ok(Update::Notice(Notice::Live { .. }))) => {
                live_at = Some(got.len());
                // The live part, written after the history was sent.
                write_lines(&server, lines(100, 120)).await;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        live_at,
        Some(50),
        "the history is the 50 stored points from since"
    );
    assert_once_each_in_order(&got, 50..120);
    assert!(
        got[50..].iter().all(|i| *i >= 100),
        "history first: {got:?}"
    );
    let cursor = stream.cursor().expect("a cursor once live");
    drop(stream);

    // Written with nobody listening, then the server is killed; more after the restart.
    write_lines(&server, lines(120, 130)).await;
    server.kill_and_restart();
    write_lines(&server, lines(130, 135)).await;
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let mut resumed = client
        .subscribe("hist.v")
        .after(cursor)
        .open()
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 15 {
        match tokio::time::timeout(WAIT, resumed.next()).await.unwrap() {
            Some(Ok(Update::Point(p))) => got.push((p.timestamp - T0) / MS),
            Some(Ok(Update::Notice(Notice::Live { .. }))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_once_each_in_order(&got, 120..135);
}

/// `got` holds each of `want` once, and each series (even and odd numbers: hosts h0 and h1)
/// in increasing order, as it was committed.
fn assert_once_each_in_order(got: &[i64], want: std::ops::Range<i64>) {
    let mut sorted = got.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, want.collect::<Vec<_>>(), "each point once: {got:?}");
    for parity in [0, 1] {
        let series: Vec<i64> = got.iter().copied().filter(|i| i % 2 == parity).collect();
        assert!(series.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
    }
}

#[tokio::test]
async fn the_sdk_stream_reconnects_and_resumes_when_the_server_restarts() {
    let mut server = Server::start();
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let mut stream = client.subscribe("re.v").open().await.unwrap();
    let Some(Ok(Update::Notice(Notice::Live { .. }))) = stream.next().await else {
        panic!("a live marker first");
    };
    write_lines(&server, format!("re v=1 {T0}")).await;
    let Some(Ok(Update::Point(first))) = stream.next().await else {
        panic!("the first point");
    };
    assert_eq!(first.timestamp, T0);

    server.kill_and_restart_on_same_port();
    write_lines(&server, format!("re v=2 {}", T0 + MS)).await;
    let mut notices = Vec::new();
    let second = loop {
        match tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
            Some(Ok(Update::Point(p))) => break p,
            Some(Ok(Update::Notice(n))) => notices.push(n),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        (second.timestamp, &second.value),
        (T0 + MS, &LiveValue::Float(2.0))
    );
    assert!(
        notices
            .iter()
            .any(|n| matches!(n, Notice::Reconnecting { .. })),
        "{notices:?}"
    );
    assert!(
        !notices.contains(&Notice::Restarted),
        "resumed, not restarted"
    );
}

#[tokio::test]
async fn a_slow_subscriber_is_told_it_fell_behind_while_ingest_and_a_fast_one_go_on() {
    let server = Server::start_with(&[
        "--subscription-buffer",
        "64KiB",
        "--subscription-stall",
        "10m",
    ]);
    // The slow subscriber: a socket with a small receive buffer that reads nothing for now.
    let address: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    let mut slow: std::net::TcpStream = socket.into();
    write!(
        slow,
        // HTTP/1.0: the body is the event stream itself, without chunked framing.
        "GET /api/native/v1/subscribe?selector=bulk.v HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let mut fast = client.subscribe("bulk.v").open().await.unwrap();
    let Some(Ok(Update::Notice(Notice::Live { .. }))) = fast.next().await else {
        panic!("a live marker first");
    };
    // The fast one reads on its own task while ingest runs. On a loaded machine this debug
    // build may read slower than the server writes and fill its 64 KiB too: it may then be
    // told so, and still gets every point.
    let reader = tokio::spawn(async move {
        let mut n = 0usize;
        let mut timestamps = Vec::with_capacity(400_000);
        while n < 400_000 {
            match tokio::time::timeout(WAIT, fast.next()).await.unwrap() {
                Some(Ok(Update::Point(p))) => {
                    n += 1;
                    timestamps.push(p.timestamp);
                }
                Some(Ok(Update::Notice(Notice::Live { .. } | Notice::Behind { .. }))) => {}
                other => panic!("the fast subscriber got {other:?}"),
            }
        }
        assert!(
            timestamps.windows(2).all(|w| w[0] < w[1]),
            "once each, in order"
        );
        n
    });
    // About 12 MB of messages for the slow subscriber, far beyond its buffers.
    for batch in 0..400i64 {
        let body: Vec<String> = (0..1000i64)
            .map(|i| format!("bulk v={i} {}", T0 + (batch * 1000 + i) * 1000))
            .collect();
        write_lines(&server, body.join("\n")).await;
    }
    assert_eq!(
        reader.await.unwrap(),
        400_000,
        "the fast subscriber got everything"
    );

    // Now the slow one reads: a notice that it fell behind, then every point, once each.
    let slow = tokio::task::spawn_blocking(move || {
        slow.set_read_timeout(Some(WAIT)).unwrap();
        let mut text = String::new();
        let mut pending = Vec::new();
        let mut buffer = vec![0u8; 1 << 16];
        let started = Instant::now();
        let mut timestamps = Vec::new();
        while timestamps.len() < 400_000 {
            assert!(started.elapsed() < Duration::from_secs(120));
            let n = slow.read(&mut buffer).unwrap();
            assert!(n > 0, "the stream ended early");
            pending.extend_from_slice(&buffer[..n]);
            // Whole records only: up to the last blank line.
            let Some(end) = pending.windows(2).rposition(|w| w == b"\n\n") else {
                continue;
            };
            let records = String::from_utf8(pending.drain(..end + 2).collect()).unwrap();
            for line in records.lines() {
                if let Some(data) = line.strip_prefix("data: ")
                    && let Message::Points { series, .. } = serde_json::from_str(data).unwrap()
                {
                    timestamps.extend(series.into_iter().flat_map(|s| s.timestamps));
                }
            }
            text.push_str(&records);
        }
        let mut sorted = timestamps.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 400_000, "every point once");
        assert!(
            timestamps.windows(2).all(|w| w[0] < w[1]),
            "in commit order"
        );
        text
    })
    .await
    .unwrap();
    assert!(slow.contains("event: behind"), "a behind notice");
    assert!(slow.contains("nothing is lost"), "it says what it means");
    assert!(
        !slow.contains("event: closed"),
        "kept open within the stall limit"
    );
}

#[tokio::test]
async fn windows_and_late_points_through_sextant_tail() {
    let server = Server::start();
    let lines: Vec<String> = [(1, 2.0), (5, 4.0), (12, 8.0), (25, 1.0)]
        .iter()
        .map(|(s, v)| format!("win v={v} {}", T0 + s * 1_000 * MS))
        .collect();
    write_lines(&server, lines.join("\n")).await;
    let url = server.url.clone();
    let tail = std::thread::spawn(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args([
                "tail",
                "win.v",
                "--since",
                "0",
                "--window",
                "10s",
                "--agg",
                "count,max",
                "--format",
                "json",
                "--for",
                "4s",
            ])
            .env("SEXTANT_URL", url)
            .env("SEXTANT_TOKEN", TOKEN)
            .output()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Three seconds in: its window closed when the point at 12 s came.
    write_lines(&server, format!("win v=9 {}", T0 + 3_000 * MS)).await;
    let output = tail.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let windows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(i64, u64, f64)> = windows
        .iter()
        .map(|w| {
            (
                (w["start"].as_i64().unwrap() - T0) / (1_000 * MS),
                w["count"].as_u64().unwrap(),
                w["values"]["max"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, vec![(0, 2, 4.0), (10, 1, 8.0)], "{stdout}");
    assert!(
        stderr.contains("late: win.v at ")
            && stderr.contains(":00:03")
            && stderr.contains("1 so far"),
        "{stderr}"
    );
    assert!(stderr.contains("# resume with --after "), "{stderr}");
}

#[tokio::test]
async fn limits_scopes_and_bad_requests_are_refused_clearly() {
    let server = Server::start_with(&["--subscription-limit", "1"]);
    let _open = Sse::open(&server, "selector=a", None).await;
    let get = |query: &'static str, token: String, last: Option<&'static str>| {
        let url = server.url.clone();
        async move {
            let mut request = reqwest::Client::new()
                .get(format!("{url}/api/native/v1/subscribe?{query}"))
                .bearer_auth(token);
            if let Some(last) = last {
                request = request.header("Last-Event-ID", last);
            }
            let reply = request.send().await.unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap())
        }
    };
    let (status, body) = get("selector=b", TOKEN.into(), None).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("--subscription-limit"), "{body}");

    let (status, body) = get("selector=a%7B", TOKEN.into(), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("selector:") && body.contains("a{"), "{body}");
    let (status, body) = get("selector=a&window=10", TOKEN.into(), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("window:") && body.contains("needs a unit"),
        "{body}"
    );
    let (status, body) = get("selector=a", TOKEN.into(), Some("99999999")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ahead of the newest commit"), "{body}");

    let data = server.scratch().join("data");
    let ingest = server.sextant(&[
        "token",
        "create",
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "w",
        "--scope",
        "ingest",
    ]);
    assert!(ingest.status.success());
    let key = String::from_utf8(ingest.stdout).unwrap().trim().to_owned();
    let (status, body) = get("selector=a", key.clone(), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("may not read data"), "{body}");

    // The same refusals reach the SDK, over gRPC, as statuses of the right kinds.
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let refused = |e: sextant_client::Error| (e.kind(), e.to_string());
    let (kind, message) = refused(client.subscribe("b").open().await.unwrap_err());
    assert_eq!(kind, ErrorKind::LimitExceeded, "{message}");
    assert!(message.contains("--subscription-limit"), "{message}");
    let (kind, message) = refused(client.subscribe("a{").open().await.unwrap_err());
    assert_eq!(kind, ErrorKind::InvalidInput, "{message}");
    assert!(
        message.contains("selector:") && message.contains("a{"),
        "{message}"
    );
    let reader = NativeClient::new(&server.url, &key).unwrap();
    let (kind, message) = refused(reader.subscribe("a").open().await.unwrap_err());
    assert_eq!(kind, ErrorKind::PermissionDenied, "{message}");
    assert!(message.contains("may not read data"), "{message}");
}

/// The WebSocket transport, as a browser uses it: the request as the first text message, then
/// one JSON text message per message; a refusal is an `error` message and close code 4400.
#[tokio::test]
async fn a_websocket_subscriber_sends_its_request_first_and_gets_json_messages() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Frame;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = Server::start();
    let connect = || async {
        let url = format!(
            "{}/api/native/v1/subscribe/ws",
            server.url.replace("http://", "ws://")
        );
        let mut request = url.into_client_request().unwrap();
        let bearer = format!("Bearer {TOKEN}").parse().unwrap();
        request.headers_mut().insert("authorization", bearer);
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };
    let next = |frame: Option<Result<Frame, _>>| match frame {
        Some(Ok(Frame::Text(text))) => serde_json::from_str::<Message>(&text).unwrap(),
        other => panic!("a text message, not {other:?}"),
    };

    let mut socket = connect().await;
    let request = r#"{"selector":"ws.v","since":0}"#;
    socket.send(Frame::Text(request.into())).await.unwrap();
    assert!(matches!(next(socket.next().await), Message::Live { .. }));
    write_lines(&server, format!("ws v=1 {T0}\nws v=2 {}", T0 + MS)).await;
    let mut names = BTreeMap::new();
    let mut got = Vec::new();
    while got.len() < 2 {
        let frame = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
        match next(frame) {
            Message::Series { id, name, .. } => {
                names.insert(id, name);
            }
            Message::Points { cursor, series } => {
                assert!(cursor.is_some(), "live points carry their cursor");
                for s in series {
                    got.extend(s.timestamps.iter().map(|t| (names[&s.id].clone(), *t)));
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, [("ws.v".to_owned(), T0), ("ws.v".to_owned(), T0 + MS)]);

    let mut refused = connect().await;
    refused
        .send(Frame::Text(r#"{"selector":"a{"}"#.into()))
        .await
        .unwrap();
    let Message::Error { message } = next(refused.next().await) else {
        panic!("an error message first");
    };
    assert!(message.contains("selector:"), "{message}");
    let Some(Ok(Frame::Close(Some(close)))) = refused.next().await else {
        panic!("then the close frame");
    };
    assert_eq!(u16::from(close.code), 4400);
}

#[tokio::test]
async fn on_sigterm_subscribers_get_their_cursor_and_the_server_exits_without_waiting_out_the_grace()
 {
    let mut server = Server::start_with(&["--shutdown-grace", "60s"]);
    let mut sse = Sse::open(&server, "selector=bye.v", None).await;
    let Message::Live { .. } = sse.next().await.unwrap() else {
        panic!("a live marker first");
    };
    write_lines(&server, format!("bye v=1 {T0}")).await;
    let (points, _) = sse.points(1).await;
    assert_eq!(points, vec![("bye.v".to_owned(), T0, 1.0)]);
    let sent = sse.last_id.expect("a cursor");

    let pid = server.process().id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let closed = loop {
        match sse.next().await.expect("a closed message before the end") {
            Message::Closed { cursor, reason } => break (cursor, reason),
            Message::Progress { .. } => {}
            other => panic!("{other:?}"),
        }
    };
    assert!(closed.0 >= Some(sent), "{closed:?}");
    assert!(closed.1.contains("shutting down"), "{closed:?}");
    assert!(sse.next().await.is_none(), "the stream ends after it");
    // Well within the 60 s grace: the subscription did not hold the shutdown.
    let started = Instant::now();
    loop {
        if let Some(status) = server.process().try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_replay_window_keeps_cursors_resumable_across_a_flush() {
    for (extra, resumable) in [
        (&["--subscription-replay", "1h"][..], true),
        (&[][..], false),
    ] {
        let server = Server::start_with(extra);
        let client = NativeClient::new(&server.url, TOKEN).unwrap();
        let mut stream = client.subscribe("flushed.v").open().await.unwrap();
        let Some(Ok(Update::Notice(Notice::Live { cursor }))) = stream.next().await else {
            panic!("a live marker first");
        };
        drop(stream);
        // Enough commits to fill several write-ahead log segments, then a flush to parts.
        for batch in 0..40i64 {
            let lines: Vec<String> = (0..500i64)
                .map(|i| format!("flushed v={i} {}", T0 + (batch * 500 + i) * MS))
                .collect();
            write_lines(&server, lines.join("\n")).await;
        }
        // The live rules, a named reader of the log, catch up first, so that only the replay
        // window can keep the segments.
        // (It stores its position once idle, a moment after catching up.)
        client.flush_rules().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        client.admin_flush().await.unwrap();
        let mut resumed = client
            .subscribe("flushed.v")
            .after(cursor)
            .open()
            .await
            .unwrap();
        let mut points = 0usize;
        let mut gap = None;
        while points < 20_000 && gap.is_none() {
            match tokio::time::timeout(WAIT, resumed.next()).await.unwrap() {
                Some(Ok(Update::Point(_))) => points += 1,
                Some(Ok(Update::Notice(Notice::Gap { first, last, .. }))) => {
                    gap = Some((first, last));
                }
                Some(Ok(Update::Notice(Notice::Live { .. }))) => {}
                other => panic!("{other:?}"),
            }
        }
        if resumable {
            assert_eq!((points, gap), (20_000, None), "every point replayed");
        } else {
            assert!(gap.is_some_and(|(first, _)| first == cursor + 1), "{gap:?}");
        }
    }
}

#[tokio::test]
async fn the_sdk_cursor_counts_what_was_yielded_not_what_arrived() {
    let server = Server::start();
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let mut stream = client.subscribe("yielded.v").open().await.unwrap();
    let Some(Ok(Update::Notice(Notice::Live { cursor: live }))) = stream.next().await else {
        panic!("a live marker first");
    };
    assert_eq!(stream.cursor(), Some(live));
    for i in 0..3 {
        write_lines(&server, format!("yielded v={i} {}", T0 + i * MS)).await;
    }
    // All three commits have reached the stream's buffer; one point is taken.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let Some(Ok(Update::Point(first))) = stream.next().await else {
        panic!("a point");
    };
    assert_eq!(first.timestamp, T0);
    // Commit `live + 1 + i` wrote point i. The server may have sent the three commits in one
    // message (then the cursor stays before it) or apart (then it covers the first only); it
    // never covers a commit whose points were not all yielded.
    let cursor = stream.cursor().expect("a cursor");
    assert!(
        cursor == live || cursor == live + 1,
        "{cursor} after {live}"
    );
    drop(stream);
    let mut resumed = client
        .subscribe("yielded.v")
        .after(cursor)
        .open()
        .await
        .unwrap();
    let want: Vec<i64> = (0..3i64)
        .filter(|i| live + 1 + *i as u64 > cursor)
        .collect();
    let mut rest = Vec::new();
    while rest.len() < want.len() {
        match tokio::time::timeout(WAIT, resumed.next()).await.unwrap() {
            Some(Ok(Update::Point(p))) => rest.push((p.timestamp - T0) / MS),
            Some(Ok(Update::Notice(Notice::Live { .. }))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rest, want, "exactly the commits after the cursor");
}
