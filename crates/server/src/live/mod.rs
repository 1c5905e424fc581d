//! Live subscriptions over HTTP: Server-Sent Events at `GET /api/native/v1/subscribe` (the
//! cursor as each record's `id`, so `Last-Event-ID` resumes), a WebSocket at
//! `/api/native/v1/subscribe/ws` whose first message is the request, and gRPC server
//! streaming at `sextant.live.v1.LiveService/Subscribe` ([`grpc`]). The subscription itself is
//! `sextant-live`'s; this is the glue: the request read, the limits per organization, a
//! thread per subscription, and a bounded buffer between it and the connection
//! (`docs/subscriptions.md`).

pub mod grpc;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use parking_lot::{Condvar, Mutex};
use sextant_api::live::{Message, SubscribeRequest, WindowRequest};
use sextant_api::paths;
use sextant_catalog::Principal;
use sextant_live::{Encoded, Fragments, Framing, Gone, Options, Sink, Spec, Start};
use sextant_model::{ErrorKind, OrgId};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::auth::{Action, authorize};
use crate::error::HttpError;
use crate::state::{AppState, org_number};

/// Limits on subscriptions (`sextant serve --subscription-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionLimits {
    /// The most subscriptions an organization may have open at once.
    pub per_org: usize,
    /// The most bytes of messages one subscription may have waiting for its connection.
    pub buffer_bytes: usize,
    /// The most bytes waiting across an organization's subscriptions.
    pub org_buffer_bytes: usize,
    /// How long a subscription's buffer may stay full before the stream is closed.
    pub max_stall: Duration,
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        SubscriptionLimits {
            per_org: 256,
            buffer_bytes: 8 << 20,
            org_buffer_bytes: 256 << 20,
            max_stall: Duration::from_secs(30),
        }
    }
}

/// The subscriptions open, per organization.
#[derive(Debug, Default)]
pub struct Subscriptions {
    limits: SubscriptionLimits,
    orgs: Mutex<HashMap<String, OrgUse>>,
    /// Commits encoded once for every subscription that sends them.
    fragments: Fragments,
    /// Set when the server shuts down: every subscription ends with a `closed` message.
    closing: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct OrgUse {
    open: usize,
    bytes: Arc<AtomicUsize>,
}

/// One subscription's place among its organization's; given back when dropped.
#[derive(Debug)]
struct Slot {
    subscriptions: Arc<Subscriptions>,
    org: String,
}

impl Subscriptions {
    /// Bookkeeping under `limits`.
    pub fn new(limits: SubscriptionLimits) -> Self {
        Subscriptions {
            limits,
            orgs: Mutex::default(),
            fragments: Fragments::default(),
            closing: Arc::default(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &SubscriptionLimits {
        &self.limits
    }

    /// Ends every subscription with a `closed` message and the cursor to resume from (the
    /// server is shutting down), and waits up to `timeout` for them to end.
    pub fn close_all(&self, timeout: Duration) {
        self.closing.store(true, Ordering::Relaxed);
        let deadline = std::time::Instant::now() + timeout;
        while self.open() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How many subscriptions are open, over every organization.
    pub fn open(&self) -> usize {
        self.orgs.lock().values().map(|o| o.open).sum()
    }

    fn take(self: &Arc<Self>, org: &str) -> Result<(Slot, Arc<AtomicUsize>), HttpError> {
        let mut orgs = self.orgs.lock();
        let used = orgs.entry(org.to_owned()).or_default();
        if used.open >= self.limits.per_org {
            return Err(HttpError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "this organization has {} subscriptions open, its limit (sextant serve --subscription-limit); close one first",
                    used.open
                ),
            ));
        }
        used.open += 1;
        let bytes = Arc::clone(&used.bytes);
        Ok((
            Slot {
                subscriptions: Arc::clone(self),
                org: org.to_owned(),
            },
            bytes,
        ))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut orgs = self.subscriptions.orgs.lock();
        if let Some(used) = orgs.get_mut(&self.org) {
            used.open = used.open.saturating_sub(1);
            if used.open == 0 {
                orgs.remove(&self.org);
            }
        }
    }
}

/// How long a quiet event stream waits before a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::SUBSCRIBE, get(sse))
        .route(paths::SUBSCRIBE_WS, get(ws))
}

/// The bytes a subscription has waiting, against its limit and its organization's.
#[derive(Debug)]
struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
    limit: usize,
    org: Arc<AtomicUsize>,
    org_limit: usize,
}

impl Budget {
    /// Takes `n` bytes if there is room. A message larger than the limit goes when nothing
    /// else waits, so that it is never stuck.
    fn take(&self, n: usize) -> bool {
        let mut used = self.used.lock();
        let org = self.org.load(Ordering::Relaxed);
        if *used > 0 && (*used + n > self.limit || org + n > self.org_limit) {
            return false;
        }
        *used += n;
        self.org.fetch_add(n, Ordering::Relaxed);
        true
    }

    /// Takes `n` bytes, room or not.
    fn force(&self, n: usize) {
        *self.used.lock() += n;
        self.org.fetch_add(n, Ordering::Relaxed);
    }

    /// Gives back `n` bytes once written to the connection.
    fn give(&self, n: usize) {
        let mut used = self.used.lock();
        *used = used.saturating_sub(n);
        self.org
            .fetch_sub(n.min(self.org.load(Ordering::Relaxed)), Ordering::Relaxed);
        drop(used);
        self.freed.notify_all();
    }

    /// Waits up to `timeout` for the buffer to be below its limit again.
    fn wait(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut used = self.used.lock();
        loop {
            if *used < self.limit && self.org.load(Ordering::Relaxed) < self.org_limit {
                return true;
            }
            if self.freed.wait_until(&mut used, deadline).timed_out() {
                return *used < self.limit;
            }
        }
    }
}

impl Drop for Budget {
    /// Gives the organization back what was never written: messages left in the buffer of a
    /// connection that went away.
    fn drop(&mut self) {
        let left = *self.used.get_mut();
        self.org.fetch_sub(
            left.min(self.org.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
}

/// The subscription's end of its buffer.
struct ChannelSink {
    tx: mpsc::UnboundedSender<Encoded>,
    budget: Arc<Budget>,
    framing: Framing,
    closing: Arc<AtomicBool>,
}

impl ChannelSink {
    fn push(&self, out: Encoded) -> Result<(), Gone> {
        self.tx.send(out).map_err(|_| Gone)
    }
}

impl Sink for ChannelSink {
    fn offer(&mut self, message: Encoded) -> Result<Option<Encoded>, Gone> {
        if self.tx.is_closed() {
            return Err(Gone);
        }
        if !self.budget.take(message.bytes.len()) {
            return Ok(Some(message));
        }
        self.push(message).map(|()| None)
    }

    fn wait_for_room(&mut self, timeout: Duration) -> Result<bool, Gone> {
        // Wake up now and then to notice a connection that went away.
        let step = Duration::from_millis(250);
        let mut left = timeout;
        loop {
            if self.tx.is_closed() {
                return Err(Gone);
            }
            let wait = left.min(step);
            if self.budget.wait(wait) {
                return Ok(true);
            }
            left = left.saturating_sub(wait);
            if left.is_zero() {
                return Ok(false);
            }
        }
    }

    fn force(&mut self, message: Encoded) -> Result<(), Gone> {
        self.budget.force(message.bytes.len());
        self.push(message)
    }

    fn gone(&self) -> bool {
        self.tx.is_closed()
    }

    fn framing(&self) -> Framing {
        self.framing
    }

    fn closing(&self) -> Option<String> {
        self.closing
            .load(Ordering::Relaxed)
            .then(|| "the server is shutting down; resume from the cursor".to_owned())
    }
}

/// The connection's end of a subscription's buffer.
pub(crate) struct Stream {
    rx: mpsc::UnboundedReceiver<Encoded>,
    budget: Arc<Budget>,
}

impl Stream {
    async fn next(&mut self) -> Option<Encoded> {
        let out = self.rx.recv().await?;
        self.budget.give(out.bytes.len());
        Some(out)
    }
}

/// Checks the request and starts the subscription on a thread of its own.
pub(crate) fn start(
    state: &AppState,
    principal: &Principal,
    request: &SubscribeRequest,
    framing: Framing,
) -> Result<Stream, HttpError> {
    authorize(principal, Action::ReadData)?;
    let spec = Spec::from_request(request).map_err(|e| HttpError::new(e.kind(), e.to_string()))?;
    let org: OrgId = org_number(&principal.organization_id);
    // A collection's events, or series from the commit feed; the cursor is the one of each.
    let collection = match &spec.collection {
        Some(name) => Some(
            crate::collections::collections(state)?
                .get(org, name)
                .map_err(|e| HttpError::new(e.kind(), format!("collection: {e}")))?,
        ),
        None => None,
    };
    if let Start::After(cursor) = spec.start {
        let newest = match &collection {
            Some(collection) => collection.cursor(),
            None => state.store.feed().last_seq(),
        };
        if cursor > newest {
            let e = sextant_live::Error::CursorAhead { cursor, newest };
            return Err(HttpError::new(e.kind(), e.to_string()));
        }
    }
    let subscriptions = Arc::clone(&state.subscriptions);
    let limits = subscriptions.limits().clone();
    let (slot, org_bytes) = subscriptions.take(&principal.organization_id)?;
    let budget = Arc::new(Budget {
        used: Mutex::new(0),
        freed: Condvar::new(),
        limit: limits.buffer_bytes,
        org: org_bytes,
        org_limit: limits.org_buffer_bytes,
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let mut sink = ChannelSink {
        tx,
        budget: Arc::clone(&budget),
        framing,
        closing: Arc::clone(&subscriptions.closing),
    };
    let store = Arc::clone(&state.store);
    let options = Options {
        max_stall: limits.max_stall,
        ..Options::default()
    };
    std::thread::Builder::new()
        .name("subscription".into())
        .spawn(move || {
            let _slot = slot;
            let run = match &collection {
                Some(collection) => {
                    sextant_live::collection::run(collection, &spec, &mut sink, &options)
                }
                None => sextant_live::run(
                    store.as_ref(),
                    org,
                    &spec,
                    &mut sink,
                    &options,
                    &subscriptions.fragments,
                ),
            };
            if let Err(e) = run {
                tracing::info!(error = %e, "subscription failed");
                let _ = sink.force(Encoded::of(
                    &Message::Error {
                        message: e.to_string(),
                    },
                    framing,
                ));
            }
        })
        .map_err(|e| {
            HttpError::new(
                ErrorKind::Unavailable,
                format!("cannot start a subscription thread: {e}"),
            )
        })?;
    Ok(Stream { rx, budget })
}

/// A time in a query string: integer nanoseconds since the Unix epoch or RFC 3339.
fn parse_time(field: &str, text: &str) -> Result<i64, HttpError> {
    if let Ok(ns) = text.trim().parse::<i64>() {
        return Ok(ns);
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            HttpError::invalid(format!(
                "{field}: {text:?} is neither nanoseconds since the Unix epoch nor an RFC 3339 time such as 2024-07-04T18:09:08Z"
            ))
        })
}

/// The request of an SSE subscription, from its query string and `Last-Event-ID`.
fn sse_request(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<SubscribeRequest, HttpError> {
    let selector = match query.get("selector") {
        Some(selector) => selector.clone(),
        None if query.contains_key("collection") => String::new(),
        None => {
            return Err(HttpError::invalid(
                "selector: missing; e.g. ?selector=cpu{host=\"h1\"} (or ?collection=NAME)",
            ));
        }
    };
    let mut cursor = match query.get("cursor") {
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            HttpError::invalid(format!("cursor: {text:?} is not a cursor (a whole number)"))
        })?),
        None => None,
    };
    if let Some(last) = headers.get("last-event-id") {
        let text = last.to_str().unwrap_or("");
        cursor = Some(text.trim().parse::<u64>().map_err(|_| {
            HttpError::invalid(format!(
                "Last-Event-ID: {text:?} is not a cursor of this stream (a whole number)"
            ))
        })?);
    }
    let since = query
        .get("since")
        .map(|text| parse_time("since", text))
        .transpose()?;
    let collection = query.get("collection").cloned();
    let window = query.get("window").map(|size| WindowRequest {
        size: size.clone(),
        slide: query.get("slide").cloned(),
        aggs: query.get("agg").cloned().into_iter().collect(),
        watermark: query.get("watermark").cloned(),
        lateness: query.get("lateness").cloned(),
    });
    for name in ["slide", "agg", "watermark", "lateness"] {
        if window.is_none() && query.contains_key(name) {
            return Err(HttpError::invalid(format!(
                "{name}: only with window=, e.g. window=10s"
            )));
        }
    }
    Ok(SubscribeRequest {
        selector,
        cursor,
        since,
        window,
        collection,
    })
}

/// `GET /api/native/v1/subscribe`: Server-Sent Events, one record per message (`event:` its
/// type, `data:` its JSON, `id:` its cursor when it has one).
async fn sse(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let request = sse_request(&query, &headers)?;
    let Stream { rx, budget } = start(&state, &principal, &request, Framing::Sse)?;
    // The subscription's thread frames each record; a comment keeps a quiet stream alive.
    let records = UnboundedReceiverStream::new(rx)
        .timeout_repeating(tokio::time::interval(KEEP_ALIVE))
        .map(move |record| {
            Ok::<_, std::convert::Infallible>(match record {
                Ok(out) => {
                    budget.give(out.bytes.len());
                    Bytes::from(out.bytes)
                }
                Err(_) => Bytes::from_static(b": keep-alive\n\n"),
            })
        });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(records),
    )
        .into_response())
}

/// `GET /api/native/v1/subscribe/ws`: a WebSocket whose first text message is a
/// [`SubscribeRequest`]; each message after it is one JSON text message.
async fn ws(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, HttpError> {
    authorize(&principal, Action::ReadData)?;
    Ok(upgrade.on_upgrade(move |socket| session(state, principal, socket)))
}

async fn session(state: AppState, principal: Principal, mut socket: WebSocket) {
    let request = match socket.recv().await {
        Some(Ok(Frame::Text(text))) => serde_json::from_str::<SubscribeRequest>(&text)
            .map_err(|e| HttpError::invalid(format!("the subscription request: {e}"))),
        Some(Ok(_)) => Err(HttpError::invalid(
            "the first message must be the subscription request, as JSON text",
        )),
        _ => return,
    };
    let started = request.and_then(|r| start(&state, &principal, &r, Framing::Json));
    let mut stream = match started {
        Ok(stream) => stream,
        Err(e) => {
            let message = Message::Error {
                message: e.reply().message(),
            };
            let json = serde_json::to_string(&message).unwrap_or_default();
            let _ = socket.send(Frame::Text(json.into())).await;
            let _ = socket
                .send(Frame::Close(Some(CloseFrame {
                    code: 4400,
                    reason: "subscription refused".into(),
                })))
                .await;
            return;
        }
    };
    loop {
        tokio::select! {
            out = stream.next() => {
                let Some(text) = out.and_then(Encoded::into_text) else { break };
                if socket.send(Frame::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(org: &Arc<AtomicUsize>, limit: usize, org_limit: usize) -> Budget {
        Budget {
            used: Mutex::new(0),
            freed: Condvar::new(),
            limit,
            org: Arc::clone(org),
            org_limit,
        }
    }

    #[test]
    fn a_budget_holds_to_its_limits_and_gives_back_what_was_never_written() {
        let org = Arc::new(AtomicUsize::new(0));
        let a = budget(&org, 100, 150);
        // A message larger than the limit goes when nothing else waits.
        assert!(a.take(120));
        assert!(!a.take(1), "full");
        assert!(!a.wait(Duration::from_millis(10)));
        a.give(120);
        assert!(a.wait(Duration::ZERO));
        assert!(a.take(60) && a.take(40));
        let b = budget(&org, 100, 150);
        assert!(b.take(30));
        assert!(!b.take(30), "the organization's 150 bytes are taken");
        b.force(10);
        assert_eq!(org.load(Ordering::Relaxed), 140);
        // The connection of `a` went away with 100 bytes unwritten.
        drop(a);
        assert_eq!(org.load(Ordering::Relaxed), 40);
        assert!(b.take(30));
    }
}
