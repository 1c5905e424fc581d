//! Webhooks: an HTTP POST with a JSON body whenever a live rule opens or closes an annotation,
//! to the server-wide URL (`sextant serve --webhook-url`) and to the rule's own `webhook_url`.
//!
//! Deliveries leave in the order the annotations changed, one at a time, from a task of their
//! own, so a slow receiver never holds up ingestion or evaluation. A delivery that fails (no
//! connection, a timeout, a status other than 2xx) is retried with exponential backoff; after
//! the last attempt it is logged and dropped. Notifications are not stored: those still queued
//! when the server stops, or in flight when it crashes, are lost (the annotations themselves
//! are not). Only `http://` URLs are supported; put a TLS-terminating proxy in front of an
//! HTTPS receiver. Redirects are not followed (a 3xx is a failure, retried like any other),
//! and no proxy is taken from the environment.
//!
//! A rule's own `webhook_url` can be set by any key that manages rules, so it may only name a
//! host the operator allowed (`sextant serve --webhook-allow HOST[:PORT]`, [`AllowList`]):
//! otherwise a rule could make the server send requests to any address it can reach. The
//! list is empty by default, which allows no rule webhooks; the server-wide URL, set by the
//! operator, needs no entry. A rule naming another host is refused when it is created or
//! changed, and its notifications are skipped (and logged) if the list changed since.
//!
//! The body is a [`WebhookNotification`] of `sextant-api`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::CONTENT_TYPE;
use sextant_api::{WebhookEvent, WebhookNotification, WebhookRule};
use sextant_catalog::{AnnotationEvent, Rule};
use sextant_rules::Listener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::native::wire;

/// The hosts rules' own webhooks may reach: `host` (any port) or `host:port` entries, names
/// compared without case, as the URL names them (no name resolution).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowList {
    entries: Vec<(String, Option<u16>)>,
}

impl AllowList {
    /// The list from `--webhook-allow` entries.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let url = reqwest::Url::parse(&format!("http://{entry}/"))
                .map_err(|e| format!("webhook allow-list entry {entry:?}: {e}"))?;
            let host = match url.host_str() {
                Some(host)
                    if !host.is_empty() && url.path() == "/" && url.username().is_empty() =>
                {
                    host.to_ascii_lowercase()
                }
                _ => {
                    return Err(format!(
                        "webhook allow-list entry {entry:?} is not HOST or HOST:PORT"
                    ));
                }
            };
            list.entries.push((host, url.port()));
        }
        Ok(list)
    }

    /// Whether a rule's webhook may reach `url`; the error names the host and the option.
    pub fn check(&self, url: &str) -> Result<(), String> {
        let parsed = check_url(url)?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = parsed.port_or_known_default();
        let allowed = self
            .entries
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port));
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "webhook URL {url:?} names host {host}:{}, which is not on the server's webhook allow-list (sextant serve --webhook-allow HOST[:PORT])",
                port.unwrap_or(80)
            ))
        }
    }
}

/// How deliveries are retried, and where rules' own webhooks may go.
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
    /// The hosts rules' own webhooks may reach.
    pub allow: AllowList,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            attempts: 6,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            allow: AllowList::default(),
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
    allow: AllowList,
    sender: Mutex<Option<mpsc::UnboundedSender<Delivery>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    delivered: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl Webhooks {
    /// Starts the delivery task on the current Tokio runtime; `global` receives every
    /// notification.
    pub fn start(global: Option<String>, config: WebhookConfig) -> Arc<Webhooks> {
        let allow = config.allow.clone();
        if let Some(url) = &global
            && let Err(e) = check_url(url)
        {
            tracing::error!(url = %url, error = %e, "the webhook URL cannot be used");
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()
            .map_err(|e| tracing::error!(error = %e, "no webhook will be sent: the HTTP client cannot start"))
            .ok();
        let (sender, mut receiver) = mpsc::unbounded_channel::<Delivery>();
        let delivered = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let (ok, lost) = (delivered.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            while let Some(delivery) = receiver.recv().await {
                let sent = match &client {
                    Some(client) => deliver(client, &delivery, &config).await,
                    None => false,
                };
                if sent {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Arc::new(Webhooks {
            global,
            allow,
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
        let own = rule.def.webhook_url.iter().filter(|url| {
            let check = self.allow.check(url);
            if let Err(e) = &check {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(rule = %rule.def.name, error = %e, "rule webhook skipped");
            }
            check.is_ok()
        });
        let urls: Vec<&String> = self.global.iter().chain(own).collect();
        if urls.is_empty() {
            return;
        }
        let notification = WebhookNotification {
            event: if event.opened {
                WebhookEvent::AnnotationOpened
            } else {
                WebhookEvent::AnnotationClosed
            },
            annotation: wire::annotation(&event.annotation),
            rule: WebhookRule {
                rule_id: rule.id.clone(),
                name: rule.def.name.clone(),
                client_key: rule.def.client_key.clone(),
            },
        };
        let body = match serde_json::to_vec(&notification) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                tracing::error!(error = %e, "webhook notification not serialized");
                return;
            }
        };
        self.send(&urls, body);
    }

    /// Queues `body` for the server's webhook URL and for `own` URLs (a detector rule's),
    /// each of which must be allowed; `source` names the sender in logs.
    pub fn queue_json(&self, source: &str, own: &[String], body: &serde_json::Value) {
        let own = own.iter().filter(|url| {
            let check = self.allow.check(url);
            if let Err(e) = &check {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %source, error = %e, "detector webhook skipped");
            }
            check.is_ok()
        });
        let urls: Vec<&String> = self.global.iter().chain(own).collect();
        if urls.is_empty() {
            return;
        }
        self.send(&urls, Bytes::from(body.to_string()));
    }

    /// Queues `body` for each of `urls`.
    fn send(&self, urls: &[&String], body: Bytes) {
        let sender = self.sender.lock();
        let Some(sender) = sender.as_ref() else {
            return;
        };
        for url in urls {
            let _ = sender.send(Delivery {
                url: (*url).clone(),
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
async fn deliver(client: &reqwest::Client, delivery: &Delivery, config: &WebhookConfig) -> bool {
    let url = match check_url(&delivery.url) {
        Ok(url) => url,
        Err(e) => {
            tracing::error!(url = %delivery.url, error = %e, "webhook not sent");
            return false;
        }
    };
    let mut backoff = config.first_backoff;
    for attempt in 1..=config.attempts.max(1) {
        let outcome = client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(delivery.body.clone())
            .send()
            .await;
        match outcome {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::warn!(url = %delivery.url, attempt, status, "webhook refused");
            }
            Err(e) if e.is_timeout() => tracing::warn!(
                url = %delivery.url, attempt, "webhook failed: no answer within {:?}", config.timeout
            ),
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

/// Checks that `url` is an `http://host[:port][/path]` URL.
fn check_url(url: &str) -> Result<reqwest::Url, String> {
    if !url.starts_with("http://") {
        return Err(format!(
            "webhook URL {url:?} must start with http:// (HTTPS is not supported)"
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("webhook URL {url:?}: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("webhook URL {url:?} has no host"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_matches_hosts_and_ports_as_written() {
        let list = AllowList::parse(&["Hooks.Example:8080", " 10.0.0.7 ", "[::1]:9000"]).unwrap();
        for url in [
            "http://hooks.example:8080/a",
            "http://HOOKS.EXAMPLE:8080",
            "http://10.0.0.7/x",
            "http://10.0.0.7:1234/x",
            "http://[::1]:9000/",
        ] {
            assert_eq!(list.check(url), Ok(()), "{url}");
        }
        for url in [
            "http://hooks.example/a",
            "http://hooks.example:8081/a",
            "http://127.0.0.1/",
            "http://10.0.0.70/",
            "http://[::1]:9001/",
        ] {
            let err = list.check(url).unwrap_err();
            assert!(
                err.contains("not on the server's webhook allow-list"),
                "{err}"
            );
        }
        assert!(AllowList::default().check("http://127.0.0.1/").is_err());
        for bad in ["", "http://x", "host/path", "user@host"] {
            assert!(AllowList::parse(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        // (url, expected host, port, path, query)
        let good = [
            (
                "http://127.0.0.1:8080/hook",
                "127.0.0.1",
                8080,
                "/hook",
                None,
            ),
            ("http://example.com", "example.com", 80, "/", None),
            (
                "http://[::1]:9000/a/b?c=1",
                "[::1]",
                9000,
                "/a/b",
                Some("c=1"),
            ),
        ];
        for (url, host, port, path, query) in good {
            let parsed = check_url(url).unwrap();
            let got = (
                parsed.host_str().unwrap(),
                parsed.port_or_known_default().unwrap(),
                parsed.path(),
                parsed.query(),
            );
            assert_eq!(got, (host, port, path, query), "{url}");
        }
        // (url, a fragment of the error)
        let bad = [
            ("https://example.com/", "must start with http://"),
            ("http://host:99999/", "invalid port"),
            ("http://", "empty host"),
        ];
        for (url, fragment) in bad {
            let err = check_url(url).unwrap_err();
            assert!(err.contains(fragment), "{url}: {err}");
        }
    }
}
