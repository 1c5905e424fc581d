//! The web console as the `sextant` binary serves it: the page and its bundle without a key,
//! under a content security policy, and nothing else let through by it.

use crate::common::Server;

#[tokio::test]
async fn the_console_is_served_without_a_key_and_opens_nothing_else() {
    let server = Server::start();
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/ui/", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    let at = html.find("/ui/assets/").expect("the page names its bundle");
    let bundle: String = html[at..].chars().take_while(|c| *c != '"').collect();
    let script = client
        .get(format!("{}{bundle}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200, "{bundle}");

    // The console's paths open no API: a path under /ui/ is a page or a 404, never data.
    let sneaky = client
        .get(format!("{}/ui/../api/native/v1/whoami", server.url))
        .send()
        .await
        .unwrap();
    assert_ne!(sneaky.status(), 200);
    let whoami = client
        .get(format!("{}/api/native/v1/whoami", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 401);

    // Requests that claim to be gRPC on the console's paths are not counted as methods, so
    // no one without a key can grow the metrics with made-up paths.
    for i in 0..5 {
        client
            .get(format!("{}/ui/made-up-{i}", server.url))
            .header("content-type", "application/grpc")
            .send()
            .await
            .unwrap();
    }
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("made-up"), "{metrics}");
}
