//! Long KairosDB answers are streamed by the real binary: an answer past the first chunk goes
//! out with chunked transfer encoding (gzipped as it goes when asked) and reads back whole
//! and exact; a failure after the stream started breaks the answer off before its end
//! instead of ending it as if complete; short answers and early failures keep their status.

use crate::common;

use std::io::{Read, Write};

use common::{Server, TOKEN, post};

const SERIES: usize = 20;

/// A result per series: KairosDB merges a metric's series into one result unless grouped.
fn by_s() -> serde_json::Value {
    serde_json::json!([{"name": "tag", "tags": ["s"]}])
}
const POINTS: i64 = 2_000;

/// Writes `big.m` with [`SERIES`] series of [`POINTS`] points, about 800 KB as an answer.
fn write_big(address: &str) {
    let metrics: Vec<serde_json::Value> = (0..SERIES)
        .map(|s| {
            let points: Vec<[i64; 2]> = (0..POINTS)
                .map(|t| [1_000 + t, (t * 7 + s as i64) % 1_000])
                .collect();
            serde_json::json!({"name": "big.m", "tags": {"s": format!("{s:02}")}, "datapoints": points})
        })
        .collect();
    let (status, reply) = post(
        address,
        "/api/v1/datapoints",
        &serde_json::Value::Array(metrics).to_string(),
    );
    assert_eq!(status, 204, "{reply}");
}

/// An answer as sent: the head, and the body with chunked encoding undone; `complete` says
/// whether the body ended with its last (empty) chunk.
struct Answer {
    head: String,
    body: Vec<u8>,
    complete: bool,
}

fn query(address: &str, query: &serde_json::Value, gzip: bool) -> Answer {
    let body = query.to_string();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let accept = if gzip {
        "accept-encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "POST /api/v1/datapoints/query HTTP/1.1\r\nhost: sextant\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\n{accept}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    // A connection the server breaks off may end in a reset rather than a close.
    let _ = stream.read_to_end(&mut raw);
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..at]).to_lowercase();
    let mut rest = &raw[at..];
    if !head.contains("transfer-encoding: chunked") {
        return Answer {
            head,
            body: rest.to_vec(),
            complete: true,
        };
    }
    let (mut body, mut complete) = (Vec::new(), false);
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16)
            .expect("a chunk size");
        let data = line_end + 2;
        if size == 0 {
            complete = rest[data..].starts_with(b"\r\n");
            break;
        }
        if rest.len() < data + size + 2 {
            body.extend_from_slice(&rest[data..]);
            break;
        }
        body.extend_from_slice(&rest[data..data + size]);
        rest = &rest[data + size + 2..];
    }
    Answer {
        head,
        body,
        complete,
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Every series' values as written, by tag `s`.
fn check_values(answer: &serde_json::Value) {
    let results = answer["queries"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), SERIES);
    for result in results {
        let s: i64 = result["tags"]["s"][0].as_str().unwrap().parse().unwrap();
        let expected: Vec<serde_json::Value> = (0..POINTS)
            .map(|t| serde_json::json!([1_000 + t, (t * 7 + s) % 1_000]))
            .collect();
        assert_eq!(
            result["values"].as_array().unwrap(),
            &expected,
            "series {s}"
        );
    }
}

#[test]
fn a_long_answer_is_streamed_and_reads_back_exactly() {
    let server = Server::start();
    let address = server.url.trim_start_matches("http://").to_owned();
    write_big(&address);
    let raw = serde_json::json!({"start_absolute": 0, "metrics": [{"name": "big.m", "group_by": by_s()}]});
    let plain = query(&address, &raw, false);
    assert!(plain.head.starts_with("http/1.1 200"), "{}", plain.head);
    assert!(
        plain.head.contains("transfer-encoding: chunked") && plain.complete,
        "{}",
        plain.head
    );
    assert!(plain.body.len() > 256 * 1024, "{} bytes", plain.body.len());
    check_values(&serde_json::from_slice(&plain.body).unwrap());

    let zipped = query(&address, &raw, true);
    assert!(
        zipped.head.contains("content-encoding: gzip"),
        "{}",
        zipped.head
    );
    assert!(zipped.complete);
    assert_eq!(gunzip(&zipped.body), plain.body);

    // A short answer is sent whole, with its length.
    let short = serde_json::json!({
        "start_absolute": 0, "end_absolute": 1_009,
        "metrics": [{"name": "big.m", "tags": {"s": ["03"]}}]
    });
    let whole = query(&address, &short, false);
    assert!(whole.head.starts_with("http/1.1 200"), "{}", whole.head);
    assert!(whole.head.contains("content-length:"), "{}", whole.head);
    let whole: serde_json::Value = serde_json::from_slice(&whole.body).unwrap();
    assert_eq!(
        whole["queries"][0]["results"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn a_failure_after_the_stream_started_breaks_the_answer_off() {
    // The first metric is aggregated by the store into a bucket a millisecond over 14 of the
    // 20 series (28,000 buckets, within the limit), an answer past 256 KiB; the second reads
    // all the points raw, past the limit.
    let server = Server::start_with(&["--query-max-points", "30000"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    write_big(&address);
    let sum = serde_json::json!([{"name": "sum", "sampling": {"value": 1, "unit": "milliseconds"}, "align_start_time": true}]);
    let most: Vec<String> = (0..14).map(|s| format!("{s:02}")).collect();
    let aggregated = serde_json::json!({"name": "big.m", "tags": {"s": most}, "group_by": by_s(), "aggregators": sum});
    let two = serde_json::json!({
        "start_absolute": 0,
        "metrics": [aggregated, {"name": "big.m"}]
    });
    for gzip in [false, true] {
        let broken = query(&address, &two, gzip);
        assert!(
            broken.head.starts_with("http/1.1 200"),
            "{}{}",
            broken.head,
            String::from_utf8_lossy(&broken.body)
        );
        assert!(!broken.complete, "the answer ended as if whole");
        let body = if gzip {
            let mut out = Vec::new();
            // The gzip stream breaks off too: what arrived decodes up to the break.
            let _ = flate2::read::GzDecoder::new(&broken.body[..]).read_to_end(&mut out);
            out
        } else {
            broken.body
        };
        assert!(body.starts_with(b"{\"queries\":[{\"sample_size\":"));
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    }

    // The same failure before anything was sent keeps KairosDB's status and message.
    let early = serde_json::json!({"start_absolute": 0, "metrics": [{"name": "big.m"}]});
    let refused = query(&address, &early, false);
    assert!(refused.head.starts_with("http/1.1 400"), "{}", refused.head);
    let text = String::from_utf8_lossy(&refused.body);
    assert!(
        text.contains("metric big.m reads more than 30000 points"),
        "{text}"
    );
}
