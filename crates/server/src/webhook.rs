//! Webhooks: an HTTP POST with a JSON body whenever a live rule opens or closes an annotation,
//! to the server-wide URL (`sextant serve --webhook-url`) and to the rule's own `webhook_url`.
//!
//! Deliveries leave in the order the annotations changed, one at a time, from a task of their
//! own, so a slow receiver never holds up ingestion or evaluation. A delivery that fails (no
//! connection, a timeout, a status other than 2xx) is retried with exponential backoff; after
//! the last attempt it is logged and dropped. Notifications are not stored: those still queued
//! when the server stops, or in flight when it crashes, are lost (the annotations themselves
//! are not). Only `http://` URLs are supported; put a TLS-terminating proxy in front of an
//! HTTPS receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::json;
use sextant_catalog::{AnnotationEvent, Rule};
use sextant_rules::Listener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::native::annotation_json;

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Attempts per delivery, the first included.
    pub attempts: u32,
    /// The wait after the first failure; it doubles after each.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            attempts: 6,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }
    }
}

/// One notification to one URL.
#[derive(Debug)]
struct Delivery {
    url: String,
    body: Bytes,
}

/// The webhook sender.
#[derive(Debug)]
pub struct Webhooks {
    global: Option<String>,
    sender: Mutex<Option<mpsc::UnboundedSender<Delivery>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    delivered: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl Webhooks {
    /// Starts the delivery task on the current Tokio runtime; `global` receives every
    /// notification.
    pub fn start(global: Option<String>, config: WebhookConfig) -> Arc<Webhooks> {
        if let Some(url) = &global
            && let Err(e) = Target::parse(url)
        {
            tracing::error!(url = %url, error = %e, "the webhook URL cannot be used");
        }
        let (sender, mut receiver) = mpsc::unbounded_channel::<Delivery>();
        let delivered = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let (ok, lost) = (delivered.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            while let Some(delivery) = receiver.recv().await {
                if deliver(&delivery, &config).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Arc::new(Webhooks {
            global,
            sender: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
            delivered,
            dropped,
        })
    }

    /// The rule engine listener that queues the notifications of an event.
    pub fn listener(self: &Arc<Self>) -> Listener {
        let hooks = self.clone();
        Arc::new(move |event: &AnnotationEvent, rule: &Rule| hooks.queue(event, rule))
    }

    fn queue(&self, event: &AnnotationEvent, rule: &Rule) {
        let urls: Vec<&String> = self
            .global
            .iter()
            .chain(rule.def.webhook_url.iter())
            .collect();
        if urls.is_empty() {
            return;
        }
        let body = json!({
            "event": if event.opened { "annotation.opened" } else { "annotation.closed" },
            "annotation": annotation_json(&event.annotation),
            "rule": {
                "rule_id": rule.id,
                "name": rule.def.name,
                "client_key": rule.def.client_key,
            },
        });
        let body = Bytes::from(body.to_string());
        let sender = self.sender.lock();
        let Some(sender) = sender.as_ref() else {
            return;
        };
        for url in urls {
            let _ = sender.send(Delivery {
                url: url.clone(),
                body: body.clone(),
            });
        }
    }

    /// Notifications delivered and dropped so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }

    /// Stops taking notifications and waits up to `grace` for the queued ones.
    pub async fn shutdown(&self, grace: Duration) {
        self.sender.lock().take();
        let task = self.task.lock().take();
        if let Some(task) = task
            && tokio::time::timeout(grace, task).await.is_err()
        {
            tracing::warn!("webhook notifications still queued at shutdown were dropped");
        }
    }
}

/// Sends one delivery with retries; whether it got a 2xx answer.
async fn deliver(delivery: &Delivery, config: &WebhookConfig) -> bool {
    let target = match Target::parse(&delivery.url) {
        Ok(target) => target,
        Err(e) => {
            tracing::error!(url = %delivery.url, error = %e, "webhook not sent");
            return false;
        }
    };
    let mut backoff = config.first_backoff;
    for attempt in 1..=config.attempts.max(1) {
        let outcome = tokio::time::timeout(config.timeout, post(&target, delivery.body.clone()))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", config.timeout)));
        match outcome {
            Ok(status) if (200..300).contains(&status) => return true,
            Ok(status) => {
                tracing::warn!(url = %delivery.url, attempt, status, "webhook refused");
            }
            Err(e) => tracing::warn!(url = %delivery.url, attempt, error = %e, "webhook failed"),
        }
        if attempt < config.attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(config.max_backoff);
        }
    }
    tracing::error!(url = %delivery.url, attempts = config.attempts, "webhook dropped after its last attempt");
    false
}

/// Where an `http://host[:port][/path]` URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("webhook URL {url:?} must start with http:// (HTTPS is not supported)")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("webhook URL {url:?} has a bad port {port:?}"))?,
            ),
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("webhook URL {url:?} has no host"));
        }
        Ok(Target {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

/// One POST over a fresh HTTP/1.1 connection; the status code.
async fn post(target: &Target, body: Bytes) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let driver = tokio::spawn(connection);
    let request = Request::post(target.path.as_str())
        .header(HOST, format!("{}:{}", target.host, target.port))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    drop(response);
    drop(sender);
    driver.abort();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        // (url, expected host, port, path) or the error's fragment.
        let good = [
            ("http://127.0.0.1:8080/hook", "127.0.0.1", 8080, "/hook"),
            ("http://example.com", "example.com", 80, "/"),
            ("http://[::1]:9000/a/b?c=1", "::1", 9000, "/a/b?c=1"),
        ];
        for (url, host, port, path) in good {
            assert_eq!(
                Target::parse(url).unwrap(),
                Target {
                    host: host.into(),
                    port,
                    path: path.into()
                },
                "{url}"
            );
        }
        let bad = [
            ("https://example.com/", "must start with http://"),
            ("http://host:99999/", "bad port"),
            ("http:///x", "no host"),
        ];
        for (url, fragment) in bad {
            let err = Target::parse(url).unwrap_err();
            assert!(err.contains(fragment), "{url}: {err}");
        }
    }
}
