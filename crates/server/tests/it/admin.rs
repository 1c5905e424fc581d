//! `POST /api/native/v1/admin/flush` over a real socket: it moves the head into one merged part per
//! partition, and only an admin key may call it.

use crate::common;

use common::{TOKEN, TestServer, http};
use sextant_catalog::Scope;

#[tokio::test]
async fn flush_writes_the_head_into_one_part_per_partition() {
    let server = TestServer::start().await;
    let bearer = format!("Bearer {TOKEN}");
    for second in 0..3 {
        let body = format!("m,host=a v={second} {}\n", 1_700_000_000 + second);
        let (status, reply) = http(
            server.addr,
            "POST",
            "/write?precision=s",
            &[("authorization", &bearer)],
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 204, "{reply}");
        // A part per flush, so that there is something to merge.
        server.store.flush().unwrap();
    }
    let body = "m,host=a v=9 1700000009\n";
    let (status, _) = http(
        server.addr,
        "POST",
        "/write?precision=s",
        &[("authorization", &bearer)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(server.store.parts().len(), 3);

    let (status, reply) = http(
        server.addr,
        "POST",
        "/api/native/v1/admin/flush",
        &[("authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["flushed_points"], 1);
    assert_eq!(reply["partitions_merged"], 1);
    assert_eq!(server.store.parts().len(), 1);
}

#[tokio::test]
async fn flush_needs_an_admin_key() {
    let server = TestServer::start().await;
    let key = server.key_in_new_org("ingesters", Scope::Ingest);
    let (status, reply) = http(
        server.addr,
        "POST",
        "/api/native/v1/admin/flush",
        &[("authorization", &format!("Bearer {key}"))],
        b"",
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    let (status, _) = http(server.addr, "POST", "/api/native/v1/admin/flush", &[], b"").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_admin_key_of_another_organization_cannot_flush_every_organization() {
    let server = TestServer::start().await;
    let key = server.key_in_new_org("tenant", Scope::Admin);
    let (status, reply) = http(
        server.addr,
        "POST",
        "/api/native/v1/admin/flush",
        &[("authorization", &format!("Bearer {key}"))],
        b"",
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    assert!(
        reply.contains("only an admin key of the server's own organization"),
        "{reply}"
    );
}
