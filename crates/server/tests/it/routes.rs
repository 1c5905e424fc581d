//! Paths no front end serves, over a real socket: HTTP clients get a 404 naming the path, not
//! the gRPC router's answer.

use crate::common;

use common::{TOKEN, TestServer, http};

#[tokio::test]
async fn an_unknown_path_is_a_404_naming_it() {
    let server = TestServer::start().await;
    let bearer = format!("Bearer {TOKEN}");
    for (method, path) in [("GET", "/api/v1/nothing-here"), ("POST", "/nope")] {
        let (status, reply) = http(
            server.addr,
            method,
            path,
            &[("authorization", &bearer)],
            b"",
        )
        .await;
        assert_eq!(status, 404, "{method} {path}: {reply}");
        assert!(
            reply.contains(&format!("no route for {method} {path}")),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn the_native_api_has_a_prefix_of_its_own() {
    let server = TestServer::start().await;
    let bearer = format!("Bearer {TOKEN}");
    // (method, path, with the key, expected status)
    let cases = [
        ("GET", "/api/native/v1/users", true, 200),
        ("GET", "/api/native/v1/annotations", true, 200),
        ("GET", "/api/v1/users", true, 404),
        ("POST", "/api/v1/rules/flush", true, 404),
        // KairosDB's preflights need no key; the native API answers none.
        ("OPTIONS", "/api/v1/datapoints/query", false, 200),
        ("OPTIONS", "/api/native/v1/rules", false, 401),
    ];
    for (method, path, keyed, expected) in cases {
        let auth = [("authorization", bearer.as_str())];
        let headers: &[(&str, &str)] = if keyed { &auth } else { &[] };
        let (status, reply) = http(server.addr, method, path, headers, b"").await;
        assert_eq!(status, expected, "{method} {path}: {reply}");
    }
}
