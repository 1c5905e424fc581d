//! The native API the web console reads with, over a real socket: who a key is, series by
//! selector, plots sampled per pixel column, API keys; and the errors that name what is wrong.

use crate::common;

use common::{TOKEN, TestServer, http};
use serde_json::{Value, json};
use sextant_catalog::Scope;

const SECOND: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SECOND;

async fn call(
    server: &TestServer,
    key: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let bearer = format!("Bearer {key}");
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, reply) = http(
        server.addr,
        method,
        path,
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        text.as_bytes(),
    )
    .await;
    (
        status,
        serde_json::from_str(&reply).unwrap_or(Value::String(reply)),
    )
}

async fn write(server: &TestServer, lines: &str) {
    let bearer = format!("Bearer {TOKEN}");
    let (status, reply) = http(
        server.addr,
        "POST",
        "/write?precision=ns",
        &[("authorization", &bearer)],
        lines.as_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{reply}");
}

#[tokio::test]
async fn a_plot_answers_each_pixel_column_s_extremes_and_the_first_four_texts_of_each() {
    let server = TestServer::start().await;
    // A ramp: in each column its first point is the lowest and its last the highest.
    let ramp: String = (0..1000)
        .map(|i| format!("ramp,unit=a v={i} {}\n", T0 + i * SECOND))
        .collect();
    write(&server, &ramp).await;
    let notes: String = (0..60)
        .map(|i| format!("notes,unit=a text=\"n{i}\" {}\n", T0 + i * SECOND))
        .collect();
    write(&server, &notes).await;

    let (status, list) = call(
        &server,
        TOKEN,
        "GET",
        "/api/native/v1/series?match=%7Bunit%3D%22a%22%7D",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list,
        json!({"series": [
            {"key": "notes.text{unit=\"a\"}", "name": "notes.text", "labels": {"unit": "a"}, "data_type": "string"},
            {"key": "ramp.v{unit=\"a\"}", "name": "ramp.v", "labels": {"unit": "a"}, "data_type": "double"},
        ], "truncated": false})
    );

    // Words: each must be in the key, whatever the case; with a selector, within what it selects.
    let (_, words) = call(
        &server,
        TOKEN,
        "GET",
        "/api/native/v1/series?q=RAMP%20unit",
        Value::Null,
    )
    .await;
    assert_eq!(words["series"].as_array().unwrap().len(), 1, "{words}");
    assert_eq!(words["series"][0]["name"], json!("ramp.v"));
    let (_, none) = call(
        &server,
        TOKEN,
        "GET",
        "/api/native/v1/series?q=ramp&match=notes.text",
        Value::Null,
    )
    .await;
    assert_eq!(none["series"], json!([]));

    let body = json!({"series": ["ramp.v{unit=\"a\"}", "notes.text{unit=\"a\"}"],
                      "start": T0, "end": T0 + 1000 * SECOND, "width": 10});
    let (status, plot) = call(&server, TOKEN, "POST", "/api/native/v1/plot", body).await;
    assert_eq!(status, 200, "{plot}");
    assert_eq!(plot["bucket"], json!(100 * SECOND));
    let ramp = &plot["series"][0];
    assert_eq!(
        (ramp["points"].clone(), ramp["sampled"].clone()),
        (json!(1000), json!(true))
    );
    let expected: Vec<f64> = (0..10)
        .flat_map(|c| [c as f64 * 100.0, c as f64 * 100.0 + 99.0])
        .collect();
    assert_eq!(ramp["v"], json!(expected));
    let times: Vec<f64> = expected
        .iter()
        .map(|v| (T0 / 1_000_000) as f64 + v * 1000.0)
        .collect();
    assert_eq!(ramp["t"], json!(times));
    // Text is not sampled: the first four of each column (six points a column here), and the
    // answer says some were left out.
    assert_eq!(plot["series"][1]["points"], json!(60));
    let body = json!({"series": ["notes.text{unit=\"a\"}"],
                      "start": T0, "end": T0 + 60 * SECOND, "width": 10});
    let (status, plot) = call(&server, TOKEN, "POST", "/api/native/v1/plot", body).await;
    assert_eq!(status, 200, "{plot}");
    let notes = &plot["series"][0];
    assert_eq!(notes["truncated"], json!(true));
    assert_eq!(notes["points"], json!(60));
    let kept: Vec<String> = (0..10)
        .flat_map(|c| (0..4).map(move |i| format!("n{}", c * 6 + i)))
        .collect();
    assert_eq!(notes["v"], json!(kept));
}

#[tokio::test]
async fn bad_requests_name_what_is_wrong_and_scopes_are_checked() {
    let server = TestServer::start().await;
    write(&server, &format!("m,host=a v=1 {T0}\n")).await;
    let plot = |series: Value, start: i64, end: i64, width: u32| json!({"series": series, "start": start, "end": end, "width": width});
    let cases = [
        (
            plot(json!(["m.v{host=\"a\"}"]), T0, T0 + SECOND, 0),
            400,
            "width 0 is out of range",
        ),
        (
            plot(json!(["m.v{host=\"a\"}"]), T0, T0, 10),
            400,
            "is not before end",
        ),
        (plot(json!([]), T0, T0 + SECOND, 10), 400, "series: 0 given"),
        (
            plot(json!(["m.v{host=\"b\"}"]), T0, T0 + SECOND, 10),
            404,
            "no series m.v{host=\"b\"}",
        ),
        (
            plot(json!(["m.v{host="]), T0, T0 + SECOND, 10),
            400,
            "series \"m.v{host=\"",
        ),
    ];
    for (body, status, message) in cases {
        let (got, reply) = call(&server, TOKEN, "POST", "/api/native/v1/plot", body.clone()).await;
        assert_eq!(got, status, "{body}: {reply}");
        let text = reply["error"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{body}: {text}");
    }
    let (status, reply) = call(
        &server,
        TOKEN,
        "GET",
        "/api/native/v1/series?match=m%7B",
        Value::Null,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        reply["error"].as_str().unwrap().starts_with("match: "),
        "{reply}"
    );
    let (status, reply) = call(
        &server,
        TOKEN,
        "GET",
        "/api/native/v1/series?match=m&limit=0",
        Value::Null,
    )
    .await;
    assert_eq!(status, 400, "{reply}");

    // An ingest key reads no points; a read key manages no keys.
    let ingest = server.key_in_new_org("other", Scope::Ingest);
    let body = plot(json!(["m.v{host=\"a\"}"]), T0, T0 + SECOND, 10);
    let (status, reply) = call(&server, &ingest, "POST", "/api/native/v1/plot", body).await;
    assert_eq!(status, 403, "{reply}");
    let read = server.key_in_new_org("third", Scope::Read);
    let (status, _) = call(&server, &read, "GET", "/api/native/v1/keys", Value::Null).await;
    assert_eq!(status, 403);
    let (status, who) = call(&server, &read, "GET", "/api/native/v1/whoami", Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(who["scopes"], json!(["read"]));
    let (status, reply) = call(
        &server,
        TOKEN,
        "GET",
        "/api/native/v1/runs/none",
        Value::Null,
    )
    .await;
    assert_eq!(status, 404, "{reply}");
}

#[tokio::test]
async fn an_admin_key_creates_lists_and_revokes_keys() {
    let server = TestServer::start().await;
    let (status, reply) = call(
        &server,
        TOKEN,
        "POST",
        "/api/native/v1/keys",
        json!({"name": "grafana", "scopes": ["reader"]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        reply["error"].as_str().unwrap().contains("\"reader\""),
        "{reply}"
    );
    let (status, made) = call(
        &server,
        TOKEN,
        "POST",
        "/api/native/v1/keys",
        json!({"name": "grafana", "scopes": ["read"]}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    let (_, who) = call(
        &server,
        &secret,
        "GET",
        "/api/native/v1/whoami",
        Value::Null,
    )
    .await;
    assert_eq!(who["key_name"], json!("grafana"));

    let (_, list) = call(&server, TOKEN, "GET", "/api/native/v1/keys", Value::Null).await;
    let names: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bootstrap", "grafana"]);
    let id = made["key"]["key_id"].as_str().unwrap();
    let (status, revoked) = call(
        &server,
        TOKEN,
        "DELETE",
        &format!("/api/native/v1/keys/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["revoked"], json!(true));
    let (status, _) = call(
        &server,
        &secret,
        "GET",
        "/api/native/v1/whoami",
        Value::Null,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn signing_out_ends_a_session_and_leaves_api_keys_alone() {
    let server = TestServer::start().await;
    let (status, _) = call(
        &server,
        TOKEN,
        "POST",
        "/api/native/v1/users",
        json!({"name": "Lambert", "email": "lambert@example.com", "password": "navigator-7"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, session) = call(
        &server,
        "",
        "POST",
        "/v2/session",
        json!({"email": "lambert@example.com", "password": "navigator-7"}),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let secret = session["accessToken"].as_str().unwrap().to_owned();

    // An API key is not a session: refused, and it still works.
    let (status, reply) = call(&server, TOKEN, "DELETE", "/v2/session", Value::Null).await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not a session"),
        "{reply}"
    );
    let (status, _) = call(&server, TOKEN, "GET", "/api/native/v1/whoami", Value::Null).await;
    assert_eq!(status, 200);
    // Without a key, nothing to end.
    let (status, _) = call(&server, "", "DELETE", "/v2/session", Value::Null).await;
    assert_eq!(status, 401);

    let (status, _) = call(&server, &secret, "DELETE", "/v2/session", Value::Null).await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &server,
        &secret,
        "GET",
        "/api/native/v1/whoami",
        Value::Null,
    )
    .await;
    assert_eq!(status, 401);
}
