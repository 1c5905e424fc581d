//! Event collections against the real binary: schemas from files, TruEra-shaped ingest with
//! every error type and its event indexes, the 1000-event limit, labels before and after
//! their inference, resends, restarts after SIGKILL, reads, statistics and the CLI's file
//! ingest.

use crate::common;

use common::{Server, TOKEN, text};
use serde_json::{Value, json};

const INGEST: &str = "/api/v0/ingest/streaming/events";

fn example(path: &str) -> String {
    common::example(&format!("collections/{path}"))
}

/// A server with the example collection `churn` created through the CLI.
fn server_with_churn() -> Server {
    with_churn(Server::start())
}

/// `server` with the example collection `churn` created through the CLI.
fn with_churn(server: Server) -> Server {
    let out = server.sextant(&[
        "collections",
        "create",
        "churn",
        "--schema",
        &example("churn_model.yml"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "created collection churn (9 columns)\n");
    server
}

async fn post(server: &Server, body: &Value) -> (u16, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{}{INGEST}", server.url))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

async fn ingest(server: &Server, events: Vec<Value>) -> Value {
    let events: Vec<Value> = events
        .into_iter()
        .map(|data| json!({"data": data}))
        .collect();
    let (status, body) = post(
        server,
        &json!({"project_id": "retention", "model_id": "churn", "events": events}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `collections stats churn --every 1h --format json`.
fn hourly_stats(server: &Server) -> Value {
    let out = server.sextant(&[
        "collections",
        "stats",
        "churn",
        "--every",
        "1h",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The rows of `collections query churn --format json`.
fn rows(server: &Server) -> Vec<Value> {
    let out = server.sextant(&["collections", "query", "churn", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn inference(id: &str, minute: u32) -> Value {
    json!({
        "id": id, "ts": format!("2026-11-30T10:{minute:02}:00Z"), "tags": ["web"],
        "f1": 0.5, "f2": 2, "f3": "monthly", "f4": true,
        "proba": 0.75, "prediction": 1, "extra1": "DE"
    })
}

#[tokio::test]
async fn the_seed_inference_and_its_later_label_read_back_joined() {
    let server = server_with_churn();
    let answer = ingest(
        &server,
        vec![json!({
            "id": "a_guid", "ts": "2026-11-30T09:15:00Z", "tags": ["tag1", "tag2", "tag3"],
            "f1": 0.1, "f2": 2, "f3": "A", "f4": false, "proba": 0.8, "prediction": 1,
            "extra1": "CA", "extra2": "Male"
        })],
    )
    .await;
    assert_eq!(
        answer,
        json!({"validation_errors": [], "num_events": 1, "num_errors": 0})
    );
    let row = &rows(&server)[0];
    assert_eq!(row["actual"], Value::Null, "no label yet");

    ingest(&server, vec![json!({"id": "a_guid", "actual": 0})]).await;
    let rows = rows(&server);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0],
        json!({
            "id": "a_guid", "ts": 1_796_030_100_000_000_000i64, "tags": ["tag1", "tag2", "tag3"],
            "project_id": "retention", "f1": 0.1, "f2": 2, "f3": "A", "f4": false,
            "proba": 0.8, "prediction": 1, "extra1": "CA", "extra2": "Male", "actual": 0
        })
    );
}

#[tokio::test]
async fn every_error_type_names_its_column_and_events() {
    let server = server_with_churn();
    let mut no_prediction = inference("e1", 1);
    no_prediction.as_object_mut().unwrap().remove("prediction");
    let mut wrong_type = inference("e2", 2);
    wrong_type["f2"] = json!(2.5);
    let mut also_wrong = inference("e3", 3);
    also_wrong["f2"] = json!("two");
    let mut bad_time = inference("e4", 4);
    bad_time["ts"] = json!("30/11/2026 10:04");
    let mut old = inference("e5", 5);
    old["ts"] = json!("1969-07-20T20:17:40Z");
    let mut future = inference("e6", 6);
    future["ts"] = json!("2999-01-01T00:00:00Z");
    let mut tagged = inference("e7", 7);
    tagged["tags"] = json!(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]);
    let mut unknown = inference("e8", 8);
    unknown["colour"] = json!("red");
    let duplicate = {
        let mut d = inference("ok1", 9);
        d["f1"] = json!(0.9);
        d
    };
    let mut int_as_double = inference("e9", 10);
    int_as_double["f2"] = json!(2.0);
    let answer = ingest(
        &server,
        vec![
            inference("ok1", 0), // 0: stored
            no_prediction,       // 1
            wrong_type,          // 2
            also_wrong,          // 3
            bad_time,            // 4
            old,                 // 5
            future,              // 6
            tagged,              // 7
            unknown,             // 8
            duplicate,           // 9: a different inference with id ok1
            int_as_double,       // 10: stored, 2.0 is the integer 2
        ],
    )
    .await;
    let errors: Vec<(String, String, Vec<u64>)> = answer["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap().is_empty());
            (
                e["type"].as_str().unwrap().to_owned(),
                e["column_name"].as_str().unwrap().to_owned(),
                e["event_indexes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    let want = |t: &str, c: &str, i: Vec<u64>| (t.to_owned(), c.to_owned(), i);
    assert_eq!(
        errors,
        [
            want("MISSING_COLUMN", "prediction", vec![1]),
            want("TYPE_MISMATCH", "f2", vec![2, 3]),
            want("TIMESTAMP_INVALID", "ts", vec![4]),
            want("TIMESTAMP_OUT_OF_BOUNDS", "ts", vec![5, 6]),
            want("MAX_TAGS_EXCEEDED", "tags", vec![7]),
            want("UNKNOWN_COLUMN", "colour", vec![8]),
            want("DUPLICATE_ID", "id", vec![9]),
        ]
    );
    assert_eq!(answer["num_events"], 11);
    assert_eq!(answer["num_errors"], 9);
    let messages = answer.to_string();
    assert!(messages.contains("2.5"), "the value is quoted: {messages}");
    let stored: Vec<String> = rows(&server)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, ["ok1", "e9"]);

    // The refused events are counted for operators.
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("sextant_refused_points_total{")
                && l.contains("protocol=\"collections\"")
                && l.ends_with(" 9")),
        "{metrics}"
    );
}

#[tokio::test]
async fn more_than_1000_events_are_refused_whole() {
    let server = server_with_churn();
    let events: Vec<Value> = (0..1001)
        .map(|i| json!({"data": inference(&format!("id{i}"), 0)}))
        .collect();
    let (status, body) = post(
        &server,
        &json!({"project_id": "p", "model_id": "churn", "events": events}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "1001 events in one request; the limit is 1000: split them into several requests"
    );
    assert!(rows(&server).is_empty());
    // 1000 is fine, in a body of several megabytes.
    let events: Vec<Value> = (0..1000)
        .map(|i| {
            let mut event = inference(&format!("id{i}"), 0);
            event["extra2"] = json!("x".repeat(3000));
            event
        })
        .collect();
    let answer = ingest(&server, events).await;
    assert_eq!(answer["num_errors"], 0);
    assert_eq!(rows(&server).len(), 1000);
}

#[tokio::test]
async fn a_label_joins_its_inference_whichever_comes_first_and_the_latest_wins() {
    let server = server_with_churn();
    // Label first, then its inference.
    ingest(&server, vec![json!({"id": "early", "actual": 1})]).await;
    ingest(&server, vec![inference("early", 1), inference("late", 2)]).await;
    // Label after, then a correction.
    ingest(&server, vec![json!({"id": "late", "actual": 0})]).await;
    ingest(&server, vec![json!({"id": "late", "actual": 1})]).await;
    let labels: Vec<(String, Value)> = rows(&server)
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["actual"].clone()))
        .collect();
    assert_eq!(
        labels,
        [("early".into(), json!(1)), ("late".into(), json!(1))]
    );
    // A label of an unknown id waits without an error; an empty event is not a label.
    let answer = ingest(
        &server,
        vec![json!({"id": "nobody-yet", "actual": 0}), json!({"id": "x"})],
    )
    .await;
    assert_eq!(answer["num_errors"], 1);
    assert_eq!(answer["validation_errors"][0]["event_indexes"], json!([1]));
}

#[tokio::test]
async fn an_identical_resend_is_a_no_op_and_a_different_one_a_duplicate() {
    let server = server_with_churn();
    ingest(&server, vec![inference("r1", 1)]).await;
    let again = ingest(&server, vec![inference("r1", 1), inference("r1", 1)]).await;
    assert_eq!(again["num_errors"], 0, "retries are safe: {again}");
    let mut changed = inference("r1", 1);
    changed["proba"] = json!(0.2);
    let answer = ingest(&server, vec![inference("r2", 2), changed]).await;
    assert_eq!(answer["num_errors"], 1);
    assert_eq!(answer["validation_errors"][0]["type"], "DUPLICATE_ID");
    assert_eq!(answer["validation_errors"][0]["event_indexes"], json!([1]));
    let rows = rows(&server);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["proba"], 0.75, "the first inference stays");
}

#[tokio::test]
async fn acknowledged_events_survive_sigkill_and_restart() {
    let mut server = server_with_churn();
    ingest(
        &server,
        vec![inference("k1", 1), json!({"id": "k1", "actual": 1})],
    )
    .await;
    ingest(&server, vec![json!({"id": "k2", "actual": 0})]).await;
    server.kill_and_restart();
    ingest(&server, vec![inference("k2", 2)]).await;
    // After a restart the id index still refuses a different inference.
    let mut changed = inference("k1", 1);
    changed["f1"] = json!(0.0);
    let answer = ingest(&server, vec![changed]).await;
    assert_eq!(answer["validation_errors"][0]["type"], "DUPLICATE_ID");
    server.kill_and_restart();
    let rows: Vec<(String, Value)> = rows(&server)
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["actual"].clone()))
        .collect();
    assert_eq!(rows, [("k1".into(), json!(1)), ("k2".into(), json!(0))]);
}

#[tokio::test]
async fn sealed_parts_keep_joins_and_duplicate_checks_across_sigkill() {
    // Every request of two events or more seals the head into a part.
    let mut server = with_churn(Server::start_with(&["--collection-part-events", "2"]));
    // A label waiting for its inference, sealed before the inference comes.
    ingest(
        &server,
        vec![json!({"id": "w", "actual": 1}), inference("s1", 1)],
    )
    .await;
    ingest(
        &server,
        vec![inference("s2", 2), json!({"id": "s1", "actual": 0})],
    )
    .await;
    ingest(&server, vec![inference("w", 3), inference("s3", 4)]).await;
    // Against sealed inferences: an identical resend is a no-op, a changed one a duplicate.
    let mut changed = inference("s2", 2);
    changed["f3"] = json!("yearly");
    let answer = ingest(&server, vec![inference("s1", 1), changed]).await;
    assert_eq!(answer["num_errors"], 1, "{answer}");
    assert_eq!(answer["validation_errors"][0]["type"], "DUPLICATE_ID");
    assert_eq!(answer["validation_errors"][0]["event_indexes"], json!([1]));
    // A later label replaces a sealed one.
    ingest(
        &server,
        vec![
            json!({"id": "s1", "actual": 1}),
            json!({"id": "s3", "actual": 0}),
        ],
    )
    .await;
    let parts = server.path("data/collections");
    let count_parts = || {
        walk(&parts)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "part"))
            .count()
    };
    assert!(count_parts() >= 4, "parts on disk: {:?}", walk(&parts));
    let joined = |server: &Server| -> Vec<(String, Value, Value)> {
        rows(server)
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_owned(),
                    r["actual"].clone(),
                    r["f3"].clone(),
                )
            })
            .collect()
    };
    let expected = [
        ("s1".to_owned(), json!(1), json!("monthly")),
        ("s2".to_owned(), Value::Null, json!("monthly")),
        ("w".to_owned(), json!(1), json!("monthly")),
        ("s3".to_owned(), json!(0), json!("monthly")),
    ];
    assert_eq!(joined(&server), expected);
    server.kill_and_restart();
    assert_eq!(joined(&server), expected, "after SIGKILL");
    let answer = ingest(&server, vec![changed_again(), inference("s4", 5)]).await;
    assert_eq!(
        answer["validation_errors"][0]["type"], "DUPLICATE_ID",
        "{answer}"
    );
    let stats = hourly_stats(&server);
    let window = &stats["windows"][0];
    assert_eq!(window["count"], 5, "{stats}");
    assert_eq!(window["labeled_share"], 0.6, "{stats}");
    assert_eq!(window["accuracy"]["actual"], 2.0 / 3.0, "{stats}");
}

fn changed_again() -> Value {
    let mut changed = inference("w", 3);
    changed["f1"] = json!(9.5);
    changed
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn schema_files_report_every_mistake_by_line_and_columns_can_only_be_added() {
    let server = server_with_churn();
    std::fs::write(
        server.path("bad.yml"),
        "id_column: id\ninput_columns:\n  - {name: f1, type: double}\n  - {nme: f2, type: int}\n",
    )
    .unwrap();
    let out = server.sextant(&["collections", "create", "bad", "--schema", "bad.yml"]);
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr),
        "error: bad.yml:3: input_columns[0].type: unknown column type \"double\"; the types are float, int, string, bool\n\
         bad.yml:4: input_columns[1].nme: unknown key `nme` in a column; did you mean `name`?\n"
    );

    let schema = std::fs::read_to_string(example("churn_model.yml")).unwrap();
    std::fs::write(
        server.path("more.yml"),
        format!("{schema}  - {{name: channel, type: string}}\n"),
    )
    .unwrap();
    let out = server.sextant(&["collections", "update", "churn", "--schema", "more.yml"]);
    assert_eq!(
        text(&out.stdout),
        "collection churn: 1 column added\n",
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        server.path("changed.yml"),
        schema.replace("{name: f2, type: int}", "{name: f2, type: float}"),
    )
    .unwrap();
    let out = server.sextant(&["collections", "update", "churn", "--schema", "changed.yml"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "changing column `f2` from int to float is refused: stored events hold int values"
        ),
        "{err}"
    );
    assert!(
        err.contains("column `channel` (an extra string) is missing"),
        "{err}"
    );

    let out = server.sextant(&["collections", "query", "chrun"]);
    assert!(
        text(&out.stderr).contains("no collection named `chrun`; did you mean `churn`?"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_cli_sends_files_names_refused_lines_and_summarizes_windows() {
    let server = server_with_churn();
    let out = server.sextant(&[
        "collections",
        "ingest",
        "churn",
        &example("events.jsonl"),
        "--project",
        "retention",
    ]);
    assert_eq!(
        text(&out.stdout),
        "5 events sent to churn, 5 stored, 0 refused\n",
        "{}",
        text(&out.stderr)
    );
    assert!(out.status.success());

    std::fs::write(
        server.path("more.csv"),
        "id,ts,tags,f1,f2,f3,f4,proba,prediction,extra1,actual\n\
         cust-0004,2026-11-30T11:00:00Z,web;eu,0.3,4,monthly,true,0.4,0,DE,0\n\
         cust-0005,2026-11-30T11:30:00Z,app,0.9,many,yearly,false,0.9,1,FR,\n\
         cust-0006,2026-11-30T11:45:00Z,,0.1,7,monthly,true,0.2,0,,1\n",
    )
    .unwrap();
    let out = server.sextant(&["collections", "ingest", "churn", "more.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let summary = text(&out.stdout);
    assert!(
        summary.starts_with(
            "3 events sent to churn, 2 stored, 1 refused\n  line 3: TYPE_MISMATCH f2: "
        ),
        "{summary}"
    );

    let stats = hourly_stats(&server);
    assert_eq!(stats["compared"], json!({"actual": "prediction"}));
    let windows = stats["windows"].as_array().unwrap();
    let counts: Vec<u64> = windows
        .iter()
        .map(|w| w["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 1, 2], "09:00, 10:00 and 11:00");
    // 09:00: cust-0001 (predicted 1, actually 1) labelled, cust-0002 not.
    assert_eq!(windows[0]["labeled_share"], 0.5);
    assert_eq!(windows[0]["accuracy"]["actual"], 1.0);
    assert_eq!(windows[0]["means"]["f2"], 7.0);
    // 10:00: cust-0003 predicted 1, actually 0.
    assert_eq!(windows[1]["accuracy"]["actual"], 0.0);

    let out = server.sextant(&["collections", "stats", "churn", "--every", "1h"]);
    let table = text(&out.stdout);
    assert!(
        table.contains("accuracy actual") && table.contains("2026-11-30T09:00:00Z"),
        "{table}"
    );

    let out = server.sextant(&[
        "collections",
        "query",
        "churn",
        "--tag",
        "eu",
        "--format",
        "csv",
    ]);
    let csv = text(&out.stdout);
    assert_eq!(
        csv.lines().count(),
        3,
        "a header and two rows tagged eu: {csv}"
    );
    assert!(
        csv.contains("cust-0004,2026-11-30T11:00:00.000000000Z,\"[web, eu]\""),
        "{csv}"
    );

    let out = server.sextant(&["collections", "list"]);
    assert_eq!(
        text(&out.stdout),
        "churn\t9 columns\t5 inferences\t4 labels\n"
    );
}

#[tokio::test]
async fn numeric_and_bool_outputs_are_series_that_kairosdb_reads() {
    let server = server_with_churn();
    let mut second = inference("s2", 2);
    second["proba"] = json!(0.25);
    second["f4"] = json!(false);
    ingest(
        &server,
        vec![inference("s1", 1), second, json!({"id": "s1", "actual": 1})],
    )
    .await;
    let query = json!({
        "start_absolute": 0,
        "metrics": [
            {"name": "proba", "tags": {"model": ["churn"], "project": ["retention"]}},
            {"name": "f4", "tags": {"model": ["churn"]}},
            {"name": "f3"}
        ]
    });
    let reply: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/datapoints/query", server.url))
        .bearer_auth(TOKEN)
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let values = |i: usize| reply["queries"][i]["results"][0]["values"].clone();
    let minute = |m: i64| 1_796_032_800_000i64 + m * 60_000;
    assert_eq!(
        values(0),
        json!([[minute(1), 0.75], [minute(2), 0.25]]),
        "{reply}"
    );
    assert_eq!(reply["queries"][1]["sample_size"], 2, "{reply}");
    assert_eq!(
        reply["queries"][2]["sample_size"], 0,
        "strings are not series: {reply}"
    );
}

mod sdk {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use serde_json::{Value, json};
    use sextant_client::collections::{EventIngester, IngestOptions};
    use sextant_client::native::NativeClient;
    use sextant_client::native::api::collections::EventsQuery;
    use sextant_client::{Error, RetryPolicy};

    use super::common::TOKEN;
    use super::{inference, server_with_churn};

    async fn stored(client: &NativeClient) -> usize {
        client
            .collection_events("churn", &EventsQuery::default())
            .await
            .unwrap()
            .rows
            .len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handles_resolve_to_responses_refusals_raise_unless_kept_and_callbacks_run() {
        let server = server_with_churn();
        let client = NativeClient::new(&server.url, TOKEN).unwrap();
        let ingester = EventIngester::builder(client.clone(), "churn")
            .project("retention")
            .workers(2)
            .build();

        // Ten sends at once on two workers: each resolves with its own response.
        let handles: Vec<_> = (0..10)
            .map(|i| ingester.ingest_events(vec![inference(&format!("w{i}"), i)]))
            .collect();
        for handle in handles {
            assert_eq!(handle.await.unwrap().response.num_errors, 0);
        }
        assert_eq!(stored(&client).await, 10);

        let mut bad = inference("bad", 30);
        bad["f2"] = json!("two");
        let events = vec![inference("fine", 31), bad.clone()];
        let Err(Error::EventsRefused(refused)) = ingester.ingest_events(events.clone()).await
        else {
            panic!("a refused event raises");
        };
        assert_eq!(refused.events, events, "the events sent are given back");
        let message = Error::EventsRefused(refused.clone()).to_string();
        assert!(
            message.starts_with("1 of 2 events refused: event 1: TYPE_MISMATCH f2: expected a whole number (int), found \"two\""),
            "{message}"
        );

        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let options = IngestOptions::new()
            .raise_errors(false)
            .on_done(move |result| {
                let refused = result.as_ref().map(|i| i.refused().len()).unwrap_or(99);
                seen.fetch_add(refused, Ordering::SeqCst);
            });
        let kept = ingester
            .ingest_events_with(vec![bad.clone()], options)
            .await
            .unwrap();
        assert_eq!(kept.refused()[0].1, &bad);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the callback saw one refusal"
        );

        let too_many = vec![inference("x", 0); 1001];
        let error = ingester.ingest_events(too_many).await.unwrap_err();
        assert!(error.to_string().contains("at most 1000"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_buffered_form_sends_full_requests_and_the_rest_on_flush_or_drop() {
        let server = server_with_churn();
        let client = NativeClient::new(&server.url, TOKEN).unwrap();
        let ingester = EventIngester::builder(client.clone(), "churn").build();
        let mut buffer = ingester.buffered();
        for i in 0..2500 {
            buffer.push(inference(&format!("b{i}"), (i % 60) as u32));
        }
        assert_eq!(buffer.pending(), 500, "two full requests left already");
        let sent = buffer.flush().await.unwrap();
        let sizes: Vec<usize> = sent.iter().map(|s| s.response.num_events).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        assert_eq!(stored(&client).await, 2500);

        let mut buffer = ingester.buffered().with_size(100);
        for i in 0..150 {
            buffer.push(inference(&format!("d{i}"), 0));
        }
        drop(buffer);
        assert_eq!(stored(&client).await, 2650, "dropping sent the rest");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_send_retries_until_the_server_is_back_and_a_resend_stores_nothing_twice() {
        // A collection made by a first server, which then stops.
        let mut first = server_with_churn();
        let data = first.scratch().join("data");
        let _ = first.process().kill();
        let _ = first.process().wait();

        // The same data served again on a known port, half a second after the send starts.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let client = NativeClient::new(&url, TOKEN).unwrap();
        let ingester = EventIngester::builder(client.clone(), "churn")
            .retry_policy(RetryPolicy {
                attempts: 30,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(200),
                multiplier: 2,
            })
            .build();
        let events: Vec<Value> = (0..20).map(|i| inference(&format!("r{i}"), i)).collect();
        let handle = ingester.ingest_events(events.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .env("SEXTANT_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let sent = handle.await;
        let again = ingester.ingest_events(events).await;
        let count = stored(&client).await;
        let _ = second.kill();
        let _ = second.wait();
        assert_eq!(sent.unwrap().response.num_errors, 0);
        assert_eq!(
            again.unwrap().response.num_errors,
            0,
            "a resend is accepted"
        );
        assert_eq!(count, 20, "and stores nothing twice");
    }
}

#[test]
fn parquet_files_go_in_and_come_out() {
    use std::sync::Arc;

    use arrow_array::{
        Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMillisecondArray,
    };

    let server = server_with_churn();
    // Times as a timestamp column, tags as text separated by `;`.
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(StringArray::from(vec!["p1", "p2"]))),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from(vec![
                1_796_032_800_000,
                1_796_032_860_500,
            ])),
        ),
        ("tags", Arc::new(StringArray::from(vec!["a;b", "c"]))),
        ("f1", Arc::new(Float64Array::from(vec![0.5, 1.5]))),
        ("f2", Arc::new(Int64Array::from(vec![1, 2]))),
        ("f3", Arc::new(StringArray::from(vec!["x", "y"]))),
        ("f4", Arc::new(BooleanArray::from(vec![true, false]))),
        ("proba", Arc::new(Float64Array::from(vec![0.9, 0.1]))),
        ("prediction", Arc::new(Int64Array::from(vec![1, 0]))),
        ("actual", Arc::new(Int64Array::from(vec![Some(1), None]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(server.path("in.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let out = server.sextant(&["collections", "ingest", "churn", "in.parquet"]);
    assert_eq!(
        text(&out.stdout),
        "2 events sent to churn, 2 stored, 0 refused\n",
        "{}",
        text(&out.stderr)
    );

    let out = server.sextant(&[
        "collections",
        "query",
        "churn",
        "--format",
        "parquet",
        "--out",
        "out.parquet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = std::fs::File::open(server.path("out.parquet")).unwrap();
    let batches: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let read = &batches[0];
    assert_eq!(read.num_rows(), 2);
    let names: Vec<String> = read
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "ts",
            "tags",
            "project_id",
            "f1",
            "f2",
            "f3",
            "f4",
            "proba",
            "prediction",
            "extra1",
            "extra2",
            "actual"
        ]
    );
    let ts = read
        .column(1)
        .as_any()
        .downcast_ref::<arrow_array::TimestampNanosecondArray>()
        .unwrap();
    assert_eq!(ts.value(1), 1_796_032_860_500_000_000);
    let actual = read
        .column(12)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(actual.value(0), 1);
    assert!(actual.is_null(1));
    let tags = sextant_client::export::cells::CellFormatter::new(
        read.column(2).as_ref(),
        Default::default(),
    )
    .unwrap();
    assert_eq!(tags.value(0).unwrap().as_deref(), Some("[a, b]"));
}

#[tokio::test]
async fn signalflow_reads_model_outputs_by_the_model_label() {
    let server = server_with_churn();
    let mut second = inference("g2", 2);
    second["proba"] = json!(0.25);
    ingest(&server, vec![inference("g1", 1), second]).await;
    // 10:00 to 10:03, one-minute resolution, over the series of `proba`.
    let start = 1_796_032_800_000i64;
    let url = format!(
        "{}/v2/signalflow/execute?start={start}&stop={}&resolution=60000&immediate=true",
        server.url,
        start + 180_000
    );
    let body = reqwest::Client::new()
        .post(url)
        .header("X-SF-Token", TOKEN)
        .header("Content-Type", "text/plain")
        .body("data('proba', filter=filter('model', 'churn')).publish()")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let values: Vec<(i64, f64)> = body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter(|message| message["type"] == "data")
        .flat_map(|message| {
            let at = message["logicalTimestampMs"].as_i64().unwrap();
            message["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |point| (at, point["value"].as_f64().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        values,
        [(start + 60_000, 0.75), (start + 120_000, 0.25)],
        "{body}"
    );
}

#[tokio::test]
async fn keys_may_do_what_their_scope_allows() {
    let server = server_with_churn();
    let key = |scope: &str| {
        let data = server.scratch().join("data");
        let out = server.sextant(&[
            "token",
            "create",
            "--data-dir",
            data.to_str().unwrap(),
            "--name",
            scope,
            "--scope",
            scope,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let (read, ingest_key) = (key("read"), key("ingest"));
    let client = reqwest::Client::new();
    let body = json!({"model_id": "churn", "events": [{"data": inference("s1", 1)}]});
    let send = |key: &str| {
        client
            .post(format!("{}{INGEST}", server.url))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let denied = send(&read).await.unwrap();
    assert_eq!(denied.status(), 403);
    assert!(
        denied
            .text()
            .await
            .unwrap()
            .contains("may not write points")
    );
    assert_eq!(send(&ingest_key).await.unwrap().status(), 200);

    let events = format!("{}/api/native/v1/collections/churn/events", server.url);
    let get = |key: &str| client.get(&events).bearer_auth(key).send();
    assert_eq!(
        get(&ingest_key).await.unwrap().status(),
        403,
        "ingest keys do not read data"
    );
    assert_eq!(get(&read).await.unwrap().status(), 200);
    let schema = format!("{}/api/native/v1/collections/churn", server.url);
    let described = client
        .get(&schema)
        .bearer_auth(&ingest_key)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status(), 200, "metadata is readable with any key");
}

#[tokio::test]
async fn a_deleted_collection_is_gone_across_a_restart_and_its_name_free() {
    let mut server = server_with_churn();
    ingest(&server, vec![inference("x1", 1)]).await;
    let out = server.sextant(&["collections", "delete", "churn"]);
    assert!(
        text(&out.stderr).contains("add --yes to confirm"),
        "{}",
        text(&out.stderr)
    );
    let out = server.sextant(&["collections", "delete", "churn", "--yes"]);
    assert_eq!(
        text(&out.stdout),
        "deleted collection churn\n",
        "{}",
        text(&out.stderr)
    );
    let (status, body) = post(
        &server,
        &json!({"model_id": "churn", "events": [{"data": inference("x2", 2)}]}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    server.kill_and_restart();
    let out = server.sextant(&["collections", "list"]);
    assert_eq!(text(&out.stdout), "");
    // The name is free again, for an empty collection.
    let out = server.sextant(&[
        "collections",
        "create",
        "churn",
        "--schema",
        &example("churn_model.yml"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(rows(&server).is_empty());
}

/// 2026-11-30T10:MM:00Z in nanoseconds, as `inference(_, MM)` stamps it.
fn minute_ns(minute: i64) -> i64 {
    (1_796_032_800 + minute * 60) * 1_000_000_000
}

/// The next update of `stream` that is not a reconnection notice, within 30 s.
async fn next_update(
    stream: &mut sextant_client::live::LiveStream,
) -> sextant_client::live::Update {
    use futures_util::StreamExt;
    let wait = std::time::Duration::from_secs(30);
    tokio::time::timeout(wait, stream.next())
        .await
        .expect("an update within 30 s")
        .expect("the stream goes on")
        .expect("no error")
}

#[tokio::test]
async fn a_subscriber_gets_whole_events_history_then_live_and_resumes_after_sigkill() {
    use sextant_client::live::{EventKind, LiveValue, Notice, Update};
    use sextant_client::native::NativeClient;

    let mut server = server_with_churn();
    ingest(&server, vec![inference("h0", 0)]).await;
    ingest(
        &server,
        vec![inference("h1", 1), json!({"id": "h1", "actual": 1})],
    )
    .await;
    let client = NativeClient::new(&server.url, TOKEN).unwrap();

    // History from 10:01: h1 alone, with its label's column; then live after two requests.
    let mut stream = client
        .subscribe_collection("churn")
        .since(minute_ns(1))
        .open()
        .await
        .unwrap();
    let Update::Event(h1) = next_update(&mut stream).await else {
        panic!("the stored inference first");
    };
    assert_eq!(
        (h1.kind, h1.id.as_str(), h1.timestamp),
        (EventKind::Inference, "h1", Some(minute_ns(1)))
    );
    assert_eq!(
        (h1.project.as_deref(), h1.tags.as_slice()),
        (Some("retention"), &["web".to_owned()][..])
    );
    assert_eq!(h1.columns["actual"], LiveValue::Int(1));
    assert_eq!(h1.columns["f3"], LiveValue::Text("monthly".into()));
    assert_eq!(h1.columns["f4"], LiveValue::Bool(true));
    assert_eq!(h1.columns["proba"], LiveValue::Float(0.75));
    assert!(
        !h1.columns.contains_key("extra2"),
        "a column without a value is left out"
    );
    assert_eq!(
        next_update(&mut stream).await,
        Update::Notice(Notice::Live { cursor: 2 })
    );

    // Live: a label of the older inference and a new inference, in one request.
    ingest(
        &server,
        vec![json!({"id": "h0", "actual": 0}), inference("h2", 2)],
    )
    .await;
    let Update::Event(label) = next_update(&mut stream).await else {
        panic!("the label");
    };
    assert_eq!(
        (label.kind, label.id.as_str(), label.timestamp),
        (EventKind::Label, "h0", None)
    );
    assert_eq!(
        label.columns,
        [("actual".to_owned(), LiveValue::Int(0))].into()
    );
    let Update::Event(h2) = next_update(&mut stream).await else {
        panic!("the new inference");
    };
    assert_eq!((h2.kind, h2.id.as_str()), (EventKind::Inference, "h2"));
    assert_eq!(stream.cursor(), Some(3));
    drop(stream);

    // Resume after a SIGKILL: exactly what was stored after the cursor.
    server.kill_and_restart();
    ingest(&server, vec![inference("h3", 3)]).await;
    let client = NativeClient::new(&server.url, TOKEN).unwrap();
    let mut resumed = client
        .subscribe_collection("churn")
        .after(3)
        .open()
        .await
        .unwrap();
    assert_eq!(
        next_update(&mut resumed).await,
        Update::Notice(Notice::Live { cursor: 3 })
    );
    let Update::Event(h3) = next_update(&mut resumed).await else {
        panic!("the inference stored after the cursor");
    };
    assert_eq!(h3.id, "h3");
    assert_eq!(resumed.cursor(), Some(4));

    // Over Server-Sent Events too, by `collection=`; mistakes are named.
    let sse = reqwest::Client::new()
        .get(format!(
            "{}/api/native/v1/subscribe?collection=churn&cursor=3",
            server.url
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut sse = sse;
    let mut seen = String::new();
    while !seen.contains("\"h3\"") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(30), sse.chunk())
            .await
            .unwrap()
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(seen.contains("event: events\nid: 4\n"), "{seen}");
    let refused = client
        .subscribe_collection("chrun")
        .open()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("chrun") && refused.to_string().contains("churn"),
        "{refused}"
    );
    let refused = client
        .subscribe_collection("churn")
        .after(99)
        .open()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("ahead of the newest"),
        "{refused}"
    );
}

/// Reads of a collection's events and statistics have the query deadline (here already past)
/// and an answer of at most 100,000 rows: a larger `limit` is refused naming it.
#[tokio::test]
async fn reads_stop_at_the_query_deadline_and_answers_are_bounded() {
    let server = with_churn(Server::start_with(&["--query-timeout", "0s"]));
    ingest(&server, vec![inference("a", 1)]).await;
    for args in [
        vec!["collections", "query", "churn"],
        vec!["collections", "stats", "churn", "--every", "1h"],
    ] {
        let out = server.sextant(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains("limit of 0 s (sextant serve --query-timeout)"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let server = server_with_churn();
    ingest(&server, vec![inference("a", 1)]).await;
    let events = format!("{}/api/native/v1/collections/churn/events", server.url);
    let reply = reqwest::Client::new()
        .get(format!("{events}?limit=100001"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body = reply.text().await.unwrap();
    assert!(
        body.contains("limit 100001 is more than the 100000 rows one answer holds"),
        "{body}"
    );
    assert_eq!(rows(&server).len(), 1);
}
