//! Webhook deliveries to a receiver on a real socket: the typed body, order kept across
//! refusals and retries, a receiver that never answers timed out and retried, and the last
//! attempt dropped.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sextant_api::{WebhookEvent, WebhookNotification};
use sextant_catalog::{
    Annotation, AnnotationEvent, AnnotationState, AnnotationType, NewAnnotation, Rule, RuleAction,
    RuleDef,
};
use sextant_server::webhook::{WebhookConfig, Webhooks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the receiver does with the n-th request (0-based); past the plan, it answers 204.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    Silence,
}

/// A receiver that records the body of every request it accepted (2xx).
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<WebhookNotification>>>,
    requests: Arc<Mutex<usize>>,
}

async fn receiver(plan: Vec<Answer>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/sextant", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(0));
    let (seen, count) = (bodies.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, count) = (seen.clone(), count.clone());
            let plan = plan.clone();
            tokio::spawn(async move {
                // One request per connection is enough here: the answer closes it.
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let body = loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break body.to_owned();
                        }
                    }
                };
                let n = {
                    let mut count = count.lock();
                    *count += 1;
                    *count - 1
                };
                match plan.get(n).copied().unwrap_or(Answer::Status(204)) {
                    Answer::Silence => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Answer::Status(status) => {
                        if (200..300).contains(&status) {
                            seen.lock().push(serde_json::from_str(&body).unwrap());
                        }
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                        let _ = stream.write_all(reply.as_bytes()).await;
                    }
                }
            });
        }
    });
    Receiver {
        url,
        bodies,
        requests,
    }
}

fn config(attempts: u32) -> WebhookConfig {
    WebhookConfig {
        attempts,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        timeout: Duration::from_millis(300),
        allow: Default::default(),
    }
}

fn rule() -> Rule {
    Rule {
        id: "rule-1".into(),
        organization_id: "org".into(),
        def: RuleDef {
            name: "overheating".into(),
            description: String::new(),
            client_key: Some("overheating-nostromo".into()),
            expression: "$1 > 400".into(),
            channel_references: vec![("$1".into(), "thruster.temperature".into())],
            contextual_channels: vec![],
            asset_ids: vec!["asset-1".into()],
            asset_tag_ids: vec![],
            action: RuleAction {
                annotation_type: AnnotationType::DataReview,
                tag_ids: vec![],
                assignee_user_id: None,
            },
            is_live: true,
            is_external: false,
            webhook_url: None,
        },
        version: 1,
        archived_at: None,
        created_at: 0,
        modified_at: 0,
    }
}

fn event(opened: bool, start: i64) -> AnnotationEvent {
    AnnotationEvent {
        opened,
        annotation: Annotation {
            id: format!("a-{start}"),
            organization_id: "org".into(),
            fields: NewAnnotation {
                name: "overheating".into(),
                description: String::new(),
                start_time: start,
                end_time: (!opened).then_some(start + 3),
                asset_ids: vec!["asset-1".into()],
                run_id: None,
                annotation_type: AnnotationType::DataReview,
                state: AnnotationState::Open,
                assignee_user_id: None,
                tags: vec!["warning".into()],
                rule_id: Some("rule-1".into()),
            },
            created_at: 1,
            modified_at: 2,
            archived_at: None,
        },
    }
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn refused_deliveries_are_retried_in_order() {
    let receiver = receiver(vec![Answer::Status(503), Answer::Status(500)]).await;
    let hooks = Webhooks::start(Some(receiver.url.clone()), config(6));
    let listener = hooks.listener();
    let rule = rule();
    for (opened, start) in [(true, 10), (false, 10), (true, 20)] {
        listener(&event(opened, start), &rule);
    }
    wait_for("three deliveries", || receiver.bodies.lock().len() == 3).await;
    let bodies = receiver.bodies.lock().clone();
    let got: Vec<(WebhookEvent, i64, Option<i64>)> = bodies
        .iter()
        .map(|b| (b.event, b.annotation.start_time, b.annotation.end_time))
        .collect();
    assert_eq!(
        got,
        [
            (WebhookEvent::AnnotationOpened, 10, None),
            (WebhookEvent::AnnotationClosed, 10, Some(13)),
            (WebhookEvent::AnnotationOpened, 20, None),
        ]
    );
    assert_eq!(
        bodies[0].rule.client_key.as_deref(),
        Some("overheating-nostromo")
    );
    assert_eq!(bodies[0].annotation.tags, ["warning"]);
    assert_eq!(*receiver.requests.lock(), 5);
    // The sender counts a delivery once it has read the answer, after the receiver saw it.
    wait_for("the deliveries counted", || hooks.counts() == (3, 0)).await;
    hooks.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_silent_receiver_times_out_and_the_delivery_is_retried() {
    let receiver = receiver(vec![Answer::Silence]).await;
    let hooks = Webhooks::start(Some(receiver.url.clone()), config(3));
    hooks.listener()(&event(true, 5), &rule());
    wait_for("the retried delivery", || receiver.bodies.lock().len() == 1).await;
    assert_eq!(*receiver.requests.lock(), 2);
    // The sender counts a delivery once it has read the answer, after the receiver saw it.
    wait_for("the deliveries counted", || hooks.counts() == (1, 0)).await;
    hooks.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_delivery_is_dropped_after_its_last_attempt() {
    let receiver = receiver(vec![Answer::Status(503); 10]).await;
    let hooks = Webhooks::start(Some(receiver.url.clone()), config(3));
    hooks.listener()(&event(true, 5), &rule());
    wait_for("the dropped delivery", || hooks.counts() == (0, 1)).await;
    assert_eq!(*receiver.requests.lock(), 3);
    // Nobody listens here: a refused connection fails and is dropped the same way.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let nowhere = Webhooks::start(Some(url), config(2));
    nowhere.listener()(&event(true, 5), &rule());
    wait_for("the undeliverable one", || nowhere.counts() == (0, 1)).await;
}

#[tokio::test]
async fn a_rule_webhook_off_the_allow_list_is_skipped() {
    let global = receiver(vec![]).await;
    let own = receiver(vec![]).await;
    let mut rule = rule();
    rule.def.webhook_url = Some(own.url.clone());

    // Allowed: the rule's own URL gets the notification, beside the server-wide one.
    let allow = sextant_server::webhook::AllowList::parse(&["127.0.0.1"]).unwrap();
    let hooks = Webhooks::start(
        Some(global.url.clone()),
        WebhookConfig { allow, ..config(2) },
    );
    hooks.listener()(&event(true, 5), &rule);
    wait_for("the rule's delivery", || own.bodies.lock().len() == 1).await;
    wait_for("the global delivery", || global.bodies.lock().len() == 1).await;
    hooks.shutdown(Duration::from_secs(1)).await;

    // Not allowed (the list changed since the rule was made): skipped and counted as dropped;
    // the server-wide URL still gets it.
    let hooks = Webhooks::start(Some(global.url.clone()), config(2));
    hooks.listener()(&event(true, 6), &rule);
    wait_for("the global delivery", || global.bodies.lock().len() == 2).await;
    // The sender counts a delivery once it has read the answer, after the receiver saw it.
    wait_for("the deliveries counted", || hooks.counts() == (1, 1)).await;
    hooks.shutdown(Duration::from_secs(1)).await;
    assert_eq!(own.bodies.lock().len(), 1);
}
