//! The KairosDB conformance suite: every case in `tests/kairos/cases/*.json` runs against
//! the real `sextant` binary over a real socket.
//!
//! A case file holds an optional `datapoints` body (written first, expecting 204) and
//! `steps`, each an HTTP request (`method`, `path`, `body` as JSON or `raw_body` as text,
//! optional `gzip` (`true` or `"content-type"`), `auth` of `basic` (default), `bearer` or `none`, and extra `headers`)
//! with the expected `status`, the exact `response` JSON (compared as JSON values: key order
//! does not matter and numbers compare by value) and optional `response_headers`.
//! Strings `"$now"` and `"$now-N"`/`"$now+N"` anywhere are replaced by the current epoch
//! milliseconds plus N before a case runs, for relative-time cases.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(address).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .expect("the request is sent");
    stream.write_all(body).expect("the body is sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("a reply");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a reply head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    if headers
        .iter()
        .any(|(n, v)| n == "content-encoding" && v == "gzip")
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body.as_slice())
            .read_to_end(&mut out)
            .expect("a gzip body");
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// Replaces `"$now±N"` strings with numbers.
fn substitute(value: &mut Value, now: i64) {
    match value {
        Value::String(s) if s.starts_with("$now") => {
            let offset: i64 = match &s[4..] {
                "" => 0,
                rest => rest
                    .trim_start_matches('+')
                    .parse()
                    .unwrap_or_else(|_| panic!("bad placeholder {s:?}")),
            };
            *value = Value::from(now + offset);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, now)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, now)),
        _ => {}
    }
}

/// JSON equality with numbers compared by value, as KairosDB's clients must compare them
/// (KairosDB prints the double 55.0 as `55` and 1.2345678E7 in Java's notation).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("compresses");
    encoder.finish().expect("compresses")
}

fn auth_header(kind: &str) -> Option<(String, String)> {
    use base64::Engine;
    match kind {
        "none" => None,
        "bearer" => Some(("Authorization".into(), format!("Bearer {}", common::TOKEN))),
        _ => Some((
            "Authorization".into(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("kairos:{}", common::TOKEN))
            ),
        )),
    }
}

fn run_step(address: &str, step: &Value) -> Result<(), String> {
    let method = step["method"].as_str().unwrap_or("POST");
    let path = step["path"].as_str().ok_or("a step needs a path")?;
    let mut body: Vec<u8> = match (&step["raw_body"], &step["body"]) {
        (Value::String(raw), _) => raw.clone().into_bytes(),
        (_, Value::Null) => Vec::new(),
        (_, body) => body.to_string().into_bytes(),
    };
    // `"gzip": true` sends `Content-Encoding: gzip`; `"gzip": "content-type"` sends KairosDB's
    // older `Content-Type: application/gzip` instead.
    let gzip_type = step["gzip"].as_str() == Some("content-type");
    let content_type = if gzip_type {
        "application/gzip"
    } else {
        "application/json"
    };
    let mut headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
    if let Some(h) = auth_header(step["auth"].as_str().unwrap_or("basic")) {
        headers.push(h);
    }
    if step["gzip"].as_bool() == Some(true) || gzip_type {
        body = gzip(&body);
    }
    if step["gzip"].as_bool() == Some(true) {
        headers.push(("Content-Encoding".into(), "gzip".into()));
    }
    if let Some(extra) = step["headers"].as_object() {
        for (n, v) in extra {
            headers.push((n.clone(), v.as_str().unwrap_or_default().to_owned()));
        }
    }
    let reply = request(address, method, path, &headers, &body);
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    let expected_status = step["status"].as_u64().unwrap_or(200);
    if u64::from(reply.status) != expected_status {
        return Err(format!(
            "{method} {path}: status {} (expected {expected_status}), body {text}",
            reply.status
        ));
    }
    if let Some(expected) = step.get("response") {
        let actual: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {path}: the body is not JSON ({e}): {text}"))?;
        if !same(&actual, expected) {
            return Err(format!(
                "{method} {path}: body\n  got      {actual}\n  expected {expected}"
            ));
        }
    } else if expected_status == 204 && !reply.body.is_empty() {
        return Err(format!("{method} {path}: 204 with a body {text}"));
    }
    if let Some(expected) = step["response_headers"].as_object() {
        for (name, value) in expected {
            let name = name.to_ascii_lowercase();
            let got = reply
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v);
            if got.map(String::as_str) != value.as_str() {
                return Err(format!(
                    "{method} {path}: header {name} is {got:?}, expected {value}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn kairosdb_conformance_cases_pass_against_the_real_server() {
    let server = common::Server::start();
    let address = server.url.trim_start_matches("http://").to_owned();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kairos/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the cases directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut steps = 0;
    for file in &files {
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(file).expect("a readable case");
        let mut case: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("case {name} is not JSON: {e}"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis() as i64;
        substitute(&mut case, now);
        if let Some(points) = case.get("datapoints") {
            let write = serde_json::json!({
                "method": "POST", "path": "/api/v1/datapoints", "body": points, "status": 204
            });
            if let Err(e) = run_step(&address, &write) {
                failures.push(format!("{name}: writing datapoints: {e}"));
                continue;
            }
        }
        for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
            steps += 1;
            if let Err(e) = run_step(&address, step) {
                failures.push(format!("{name} step {i}: {e}"));
            }
        }
    }
    assert!(steps > 0, "no conformance step ran");
    assert!(
        failures.is_empty(),
        "{} of {steps} steps in {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!("{steps} steps in {} cases passed", files.len());
}

#[test]
fn sextant_query_kairos_writes_the_points_of_a_kairosdb_query() {
    let server = common::Server::start();
    let address = server.url.trim_start_matches("http://").to_owned();
    let write = serde_json::json!({
        "method": "POST", "path": "/api/v1/datapoints", "status": 204,
        "body": [{"name": "cli.m", "tags": {"h": "a"}, "datapoints": [[1000, 1], [2000, 3], [61000, 5]]},
                 {"name": "cli.m", "tags": {"h": "b"}, "datapoints": [[1000, "on"]]}]
    });
    run_step(&address, &write).expect("the points are written");
    let query = server.path("query.json");
    std::fs::write(
        &query,
        r#"{"start_absolute": 0, "end_absolute": 100000, "metrics": [{"name": "cli.m",
            "aggregators": [{"name": "avg", "sampling": {"value": 1, "unit": "minutes"}, "align_start_time": true}]}]}"#,
    )
    .expect("the query file is written");
    let out = server.sextant(&[
        "query",
        "--kairos",
        query.to_str().expect("a UTF-8 path"),
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert_eq!(
        common::text(&out.stdout),
        "metric,group,tags,timestamp,value,text\n\
         cli.m,0,\"{\"\"h\"\":[\"\"a\"\"]}\",1970-01-01T00:00:00.000000000Z,2.0,\n\
         cli.m,0,\"{\"\"h\"\":[\"\"a\"\"]}\",1970-01-01T00:01:00.000000000Z,5.0,\n\
         cli.m,1,\"{\"\"h\"\":[\"\"b\"\"]}\",1970-01-01T00:00:01.000000000Z,,on\n"
    );

    // A misspelt metric and one with nothing in the range answer with no points, as KairosDB
    // does; the command says which is which on standard error.
    std::fs::write(
        &query,
        r#"{"start_absolute": 0, "end_absolute": 100000,
            "metrics": [{"name": "cli.n"}, {"name": "cli.m"}]}"#,
    )
    .expect("the query file is written");
    let out = server.sextant(&["query", "--kairos", query.to_str().expect("a UTF-8 path")]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert_eq!(
        common::text(&out.stderr),
        "no metric named `cli.n`; did you mean `cli.m`?\n"
    );
    std::fs::write(
        &query,
        r#"{"start_absolute": 500000, "metrics": [{"name": "cli.m"}]}"#,
    )
    .expect("the query file is written");
    let out = server.sextant(&["query", "--kairos", query.to_str().expect("a UTF-8 path")]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert_eq!(
        common::text(&out.stderr),
        "metric `cli.m` has no points in the query's range\n"
    );

    std::fs::write(&query, r#"{"start_absolute": 0, "metrics": [{"name": "cli.m", "aggregators": [{"name": "bogus"}]}]}"#)
        .expect("the query file is written");
    let out = server.sextant(&["query", "--kairos", query.to_str().expect("a UTF-8 path")]);
    assert!(!out.status.success());
    assert!(
        common::text(&out.stderr)
            .contains("query.metric[0].aggregators[0].bogus invalid aggregators name"),
        "{}",
        common::text(&out.stderr)
    );
}
