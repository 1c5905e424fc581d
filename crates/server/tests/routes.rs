//! Paths no front end serves, over a real socket: HTTP clients get a 404 naming the path, not
//! the gRPC router's answer.

mod common;

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
    let auth = [("authorization", bearer.as_str())];
    // (method, path, headers, expected status)
    let cases: [(&str, &str, &[(&str, &str)], u16); 6] = [
        ("GET", "/api/native/v1/users", &auth, 200),
        ("GET", "/api/native/v1/annotations", &auth, 200),
        ("GET", "/api/v1/users", &auth, 404),
        ("POST", "/api/v1/rules/flush", &auth, 404),
        // KairosDB's preflights need no key; the native API answers none.
        ("OPTIONS", "/api/v1/datapoints/query", &[], 200),
        ("OPTIONS", "/api/native/v1/rules", &[], 401),
    ];
    for (method, path, headers, expected) in cases {
        let (status, reply) = http(server.addr, method, path, headers, b"").await;
        assert_eq!(status, expected, "{method} {path}: {reply}");
    }
}
