//! Queries are bounded in time against the real binary: a KairosDB query that runs longer
//! than `sextant serve --query-timeout` is stopped and answered 503 naming the limit, and a
//! query whose client goes away stops using the CPU; Sift `GetData` (through `sextant query`),
//! historical rule evaluation and SignalFlow batch computations stop at the same deadline.
//! Limits set for one organization (`sextant org limits`) replace the server's for it alone.

use crate::common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Server, TOKEN, post, post_as, post_with_key, said};

/// Writes `n` points of `slow.m` one millisecond apart, then returns an `sma` query over them
/// whose window is half of them: about n²/4 additions, far more than a second's work.
fn expensive_query(address: &str, n: i64) -> String {
    let points: Vec<[i64; 2]> = (0..n).map(|t| [1_000 + t, t % 7]).collect();
    let body = serde_json::json!([{"name": "slow.m", "tags": {"h": "a"}, "datapoints": points}]);
    let (status, reply) = post(address, "/api/v1/datapoints", &body.to_string());
    assert_eq!(status, 204, "{reply}");
    serde_json::json!({
        "start_absolute": 0,
        "metrics": [{"name": "slow.m", "aggregators": [{"name": "sma", "size": n / 2}]}]
    })
    .to_string()
}

#[test]
fn a_query_past_its_deadline_is_stopped_with_the_limit_named() {
    let server = Server::start_with(&["--query-timeout", "1s"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let query = expensive_query(&address, 200_000);
    let (status, body) = post(&address, "/api/v1/datapoints/query", &query);
    assert_eq!(status, 503, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = body["errors"][0].as_str().unwrap_or_default();
    assert!(
        message.contains("limit of 1 s (sextant serve --query-timeout)"),
        "{body}"
    );
}

/// The server's CPU time so far, from `/proc/PID/stat` (user + system, in clock ticks).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_query_whose_client_leaves_stops() {
    let mut server = Server::start_with(&["--query-timeout", "10m"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let query = expensive_query(&address, 200_000);
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /api/v1/datapoints/query HTTP/1.1\r\nhost: sextant\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{query}",
        query.len()
    )
    .unwrap();
    // The query is running; the client gives up.
    std::thread::sleep(Duration::from_millis(500));
    drop(stream);
    let pid = server.process().id();
    // Within a few seconds the server is idle again: its CPU time stops growing.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_ticks(pid) - before;
        // Less than a fifth of a core over that second (ticks are hundredths of a second).
        if used < 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server still burns {used} ticks a second 30 s after its client left"
        );
    }
    // And it still answers.
    let mut probe = std::net::TcpStream::connect(&address).unwrap();
    write!(
        probe,
        "GET /health HTTP/1.1\r\nhost: sextant\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    probe.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

const VOLTAGE_RULE: &str = r#"
rules:
  - name: voltage_high
    rule_client_key: voltage-high
    description: Voltage above 24 V
    expression: $1 > 24
    channel_references:
      - $1: voltage
    type: phase
    asset_names:
      - NostromoLV426
"#;

/// `sextant rules eval` of [`VOLTAGE_RULE`] over the Nostromo's data, from `start` if given.
fn eval_voltage_rule(server: &Server, start: Option<&str>) -> std::process::Output {
    let module = server.path("voltage.yml");
    std::fs::write(&module, VOLTAGE_RULE).unwrap();
    let module = module.display().to_string();
    let mut args = vec![
        "rules",
        "eval",
        "--file",
        &module,
        "--name",
        "voltage_high",
        "--asset",
        "NostromoLV426",
    ];
    if let Some(start) = start {
        args.extend(["--start", start]);
    }
    server.sextant(&args)
}

/// With a deadline already past when any read starts (`--query-timeout 0s`), every kind of
/// read over stored data is refused naming the limit, while writes go on.
#[test]
fn getdata_rule_evaluation_and_signalflow_batches_stop_at_the_deadline() {
    let server = Server::start_with(&["--query-timeout", "0s"]);
    server.ingest_nostromo();
    let limit = "limit of 0 s (sextant serve --query-timeout)";

    // Sift GetData, as `sextant query` calls it.
    let query = server.sextant(&["query", "--asset", "NostromoLV426", "-c", "voltage"]);
    assert!(!query.status.success(), "{}", said(&query));
    assert!(said(&query).contains(limit), "{}", said(&query));

    // Historical evaluation of a rule.
    let eval = eval_voltage_rule(&server, None);
    assert!(!eval.status.success(), "{}", said(&eval));
    assert!(said(&eval).contains(limit), "{}", said(&eval));

    // A SignalFlow batch computation over the same channel.
    let address = server.url.trim_start_matches("http://").to_owned();
    let start = 1_720_141_700_000i64;
    let path = format!(
        "/v2/signalflow/execute?start={start}&stop={}&resolution=1000&immediate=true",
        start + 120_000
    );
    let (status, body) = post_as(&address, &path, "text/plain", "data('voltage').publish()");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(limit), "{body}");

    // Writes have no such deadline.
    let (status, body) = post(
        &address,
        "/api/v1/datapoints",
        r#"[{"name": "still.ok", "tags": {"h": "a"}, "datapoints": [[1000, 1]]}]"#,
    );
    assert_eq!(status, 204, "{body}");
}

/// A `group_by` that would split a metric into more groups than the server allows is refused
/// naming the limit (a million time groups used to cost gigabytes); a modest one is answered.
#[test]
fn a_group_by_into_too_many_groups_is_refused_naming_the_limit() {
    let server = Server::start();
    let address = server.url.trim_start_matches("http://").to_owned();
    let points: Vec<[i64; 2]> = (0..150_000).map(|t| [1_000 + t, t % 7]).collect();
    let body = serde_json::json!([{"name": "many.g", "tags": {"h": "a"}, "datapoints": points}]);
    let (status, reply) = post(&address, "/api/v1/datapoints", &body.to_string());
    assert_eq!(status, 204, "{reply}");
    let query = |count: i64| {
        serde_json::json!({
            "start_absolute": 0,
            "metrics": [{"name": "many.g", "group_by": [{
                "name": "time",
                "range_size": {"value": 1, "unit": "milliseconds"},
                "group_count": count
            }]}]
        })
        .to_string()
    };
    let (status, body) = post(&address, "/api/v1/datapoints/query", &query(1_000_000));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("more than 100000 groups, the server's limit"),
        "{body}"
    );
    let (status, body) = post(&address, "/api/v1/datapoints/query", &query(10));
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["queries"][0]["results"].as_array().unwrap().len(), 10);
}

#[test]
fn a_query_holding_more_points_than_its_limit_is_refused_naming_it() {
    let server = Server::start_with(&["--query-max-points", "1000"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let points: Vec<[i64; 2]> = (0..1_500).map(|t| [1_000 + t, t]).collect();
    let body = serde_json::json!([{"name": "many.m", "tags": {"h": "a"}, "datapoints": points}]);
    let (status, reply) = post(&address, "/api/v1/datapoints", &body.to_string());
    assert_eq!(status, 204, "{reply}");
    // Raw points, and an aggregator the store does not compute: both read the points.
    for aggregators in [
        serde_json::json!([]),
        serde_json::json!([{"name": "dev", "sampling": {"value": 1, "unit": "hours"}}]),
    ] {
        let query = serde_json::json!({
            "start_absolute": 0,
            "metrics": [{"name": "many.m", "aggregators": aggregators}]
        });
        let (status, reply) = post(&address, "/api/v1/datapoints/query", &query.to_string());
        assert_eq!(status, 400, "{reply}");
        assert!(
            reply.contains("metric many.m reads more than 1000 points")
                && reply.contains("--query-max-points"),
            "{reply}"
        );
    }
    // A range holding fewer points is answered; so is a sum the store computes.
    let query = serde_json::json!({
        "start_absolute": 0, "end_absolute": 1_999,
        "metrics": [{"name": "many.m"}]
    });
    let (status, reply) = post(&address, "/api/v1/datapoints/query", &query.to_string());
    assert_eq!(status, 200, "{reply}");
    let query = serde_json::json!({
        "start_absolute": 0,
        "metrics": [{"name": "many.m", "aggregators": [{"name": "sum", "sampling": {"value": 1, "unit": "hours"}, "align_start_time": true}]}]
    });
    let (status, reply) = post(&address, "/api/v1/datapoints/query", &query.to_string());
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        reply["queries"][0]["results"][0]["values"][0][1],
        serde_json::json!((0..1_500).sum::<i64>())
    );
    // The store computes millisecond sums too, but holding 1,500 buckets is past the limit.
    let query = serde_json::json!({
        "start_absolute": 0,
        "metrics": [{"name": "many.m", "aggregators": [{"name": "sum", "sampling": {"value": 1, "unit": "milliseconds"}, "align_start_time": true}]}]
    });
    let (status, reply) = post(&address, "/api/v1/datapoints/query", &query.to_string());
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply.contains("makes more than 1000 buckets") && reply.contains("--query-max-points"),
        "{reply}"
    );
}

/// Historical rule evaluation holds at most `--query-max-points` points of each input
/// channel: a range with more is refused naming the series and the limit, a shorter range
/// is evaluated.
#[test]
fn rule_evaluation_holds_at_most_the_query_point_limit() {
    let server = Server::start_with(&["--query-max-points", "3"]);
    server.ingest_nostromo();
    let eval = |start: Option<&str>| eval_voltage_rule(&server, start);
    // Five voltage points are stored.
    let whole = eval(None);
    assert!(!whole.status.success(), "{}", said(&whole));
    assert!(
        said(&whole).contains("has more than 3 points in the range read")
            && said(&whole).contains("voltage")
            && said(&whole).contains("(sextant serve --query-max-points)"),
        "{}",
        said(&whole)
    );
    // The last three: 23, 25 and 24 V; the rule holds from the 25.
    let last = eval(Some("2024-07-04T18:09:08.755-07:00"));
    assert!(last.status.success(), "{}", said(&last));
    assert!(
        said(&last).contains("held 1 time(s)")
            && said(&last).contains("1720141748855000000 .. 1720141749055000000"),
        "{}",
        said(&last)
    );
}

/// `sextant org limits` sets one organization's query limits in place of the server's: its
/// queries are refused at them, naming them, while another organization's are not; `server`
/// gives it the server's limits back. A running server applies a change at the next query.
#[test]
fn an_organization_s_own_limits_apply_to_it_alone() {
    let server = Server::start();
    let address = server.url.trim_start_matches("http://").to_owned();
    let data = server.scratch().join("data");
    let data = data.to_str().unwrap();
    let created = server.sextant(&[
        "token",
        "create",
        "--data-dir",
        data,
        "--org",
        "acme",
        "--name",
        "acme",
        "--scope",
        "ingest,read",
    ]);
    assert!(created.status.success(), "{}", said(&created));
    let acme = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let points: Vec<[i64; 2]> = (0..1_500).map(|t| [1_000 + t, t]).collect();
    let write = serde_json::json!([{"name": "org.m", "tags": {"h": "a"}, "datapoints": points}]);
    let query = serde_json::json!({"start_absolute": 0, "metrics": [{"name": "org.m"}]});
    let send = |key: &str, path: &str, body: &serde_json::Value| {
        post_with_key(&address, path, "application/json", key, &body.to_string())
    };
    for key in [TOKEN, acme.as_str()] {
        let (status, reply) = send(key, "/api/v1/datapoints", &write);
        assert_eq!(status, 204, "{reply}");
    }
    let limits = |args: &[&str]| {
        let mut all = vec!["org", "limits", "--data-dir", data, "--org", "acme"];
        all.extend(args);
        let out = server.sextant(&all);
        assert!(out.status.success(), "{}", said(&out));
        said(&out)
    };
    assert!(
        limits(&[]).contains("query max points: the server's (sextant serve --query-max-points)")
    );

    let shown = limits(&["--query-max-points", "1000"]);
    assert!(shown.contains("query max points: 1000"), "{shown}");
    let (status, reply) = send(&acme, "/api/v1/datapoints/query", &query);
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply.contains("metric org.m reads more than 1000 points")
            && reply.contains("(the organization's limit: sextant org limits --query-max-points)"),
        "{reply}"
    );
    let (status, reply) = send(TOKEN, "/api/v1/datapoints/query", &query);
    assert_eq!(
        status, 200,
        "another organization keeps the server's limit: {reply}"
    );
    // A SignalFlow batch job holds at most that many values too.
    let program = "/v2/signalflow/execute?start=0&stop=2000000&resolution=1000&immediate=true";
    let flow = |key: &str| {
        post_with_key(
            &address,
            program,
            "text/plain",
            key,
            "data('org.m').publish()",
        )
    };
    // (The stream has begun when the job is planned: the refusal is its error message.)
    let (_, reply) = flow(&acme);
    assert!(
        reply.contains("ANALYTICS_PROGRAM_ERROR") && reply.contains("more than the limit of 1000"),
        "{reply}"
    );
    let (status, reply) = flow(TOKEN);
    assert_eq!(status, 200, "{reply}");
    assert!(
        !reply.contains("ERROR") && reply.contains("\"data\""),
        "{reply}"
    );

    let shown = limits(&["--query-max-points", "server", "--query-timeout", "0s"]);
    assert!(shown.contains("query timeout: 0 s"), "{shown}");
    let (status, reply) = send(&acme, "/api/v1/datapoints/query", &query);
    assert_eq!(status, 503, "{reply}");
    assert!(
        reply.contains("the organization's limit of 0 s (sextant org limits --query-timeout)"),
        "{reply}"
    );
    let (status, reply) = send(TOKEN, "/api/v1/datapoints/query", &query);
    assert_eq!(status, 200, "{reply}");

    limits(&["--query-timeout", "server"]);
    let (status, reply) = send(&acme, "/api/v1/datapoints/query", &query);
    assert_eq!(status, 200, "{reply}");
    let missing = server.sextant(&["org", "limits", "--data-dir", data, "--org", "nobody"]);
    assert!(!missing.status.success());
    assert!(
        said(&missing).contains("no organization named \"nobody\""),
        "{}",
        said(&missing)
    );
}
