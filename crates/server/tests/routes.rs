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
