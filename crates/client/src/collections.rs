//! Sending model events to an event collection as TruEra's `ingest_events` does: at once, on a
//! bounded pool of workers, each call answered by a handle that resolves to the server's
//! response, with refused events raised as an error unless asked otherwise, an optional
//! callback, and a buffered form that sends full requests of 1000 events.
//!
//! ```no_run
//! # async fn example() -> sextant_client::Result<()> {
//! use serde_json::json;
//! use sextant_client::collections::{EventIngester, IngestOptions};
//! use sextant_client::native::NativeClient;
//!
//! let client = NativeClient::new("http://127.0.0.1:7777", "KEY")?;
//! let ingester = EventIngester::builder(client, "churn").project("retention").build();
//!
//! let inference = json!({"id": "a_guid", "ts": "2026-11-30T09:15:00Z", "f1": 0.1,
//!     "f2": 2, "f3": "A", "f4": false, "proba": 0.8, "prediction": 1});
//! let handle = ingester.ingest_events(vec![inference]);
//! // ... the program goes on; the events are on their way ...
//! let sent = handle.await?; // an error if any event was refused
//! assert_eq!(sent.response.num_errors, 0);
//!
//! // Without raising: the response lists the refusals, beside the events sent.
//! let options = IngestOptions::new()
//!     .raise_errors(false)
//!     .on_done(|result| println!("label sent: {}", result.is_ok()));
//! ingester.ingest_events_with(vec![json!({"id": "a_guid", "actual": 0})], options).await?;
//! # Ok(()) }
//! ```
//!
//! Transport failures (no connection, a reset, 429, 502, 503, 504) are retried with the
//! [`RetryPolicy`]'s backoff. That never stores an event twice: the server accepts an
//! identical inference again as a no-op, and a label sent again replaces itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::Value as Json;
use sextant_api::collections::IngestResponse;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::native::NativeClient;
use crate::{Error, Result, RetryPolicy};

/// The most events one request may hold, and the buffered form's request size.
pub const MAX_EVENTS: usize = 1_000;
/// Requests in flight at once unless set, like TruEra's thread pool.
pub const DEFAULT_WORKERS: usize = 4;

/// A callback run when a send ends, with its result.
type OnDone = Box<dyn FnOnce(&Result<Ingested>) + Send + 'static>;

/// Events sent, and what the server answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    /// The server's answer: refusals by type, column and event index.
    pub response: IngestResponse,
    /// The events as sent, so that refused ones can be found by index.
    pub events: Vec<Json>,
}

impl Ingested {
    /// The refused events with their reasons: `(index, event, "TYPE column: message")`. The
    /// server's message quotes the first event of each kind of error; the others read
    /// `TYPE column (as for event N: message)`.
    pub fn refused(&self) -> Vec<(usize, &Json, String)> {
        refusals(&self.response, |index| format!("event {index}"))
            .into_iter()
            .filter_map(|(index, why)| self.events.get(index).map(|event| (index, event, why)))
            .collect()
    }
}

/// Every refused event of `response` by index, with its reason: `TYPE column: message`. The
/// server's message quotes the first event of each kind of error; the others read
/// `TYPE column (as for NAME: message)`, `name` naming that first event (`event 3`, `line 4`).
pub fn refusals(response: &IngestResponse, name: impl Fn(usize) -> String) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for error in &response.validation_errors {
        let first = error.event_indexes.first().map(|&i| name(i));
        for (n, &index) in error.event_indexes.iter().enumerate() {
            let why = match (n, &first) {
                (0, _) | (_, None) => {
                    format!(
                        "{} {}: {}",
                        error.error_type, error.column_name, error.message
                    )
                }
                (_, Some(first)) => format!(
                    "{} {} (as for {first}: {})",
                    error.error_type, error.column_name, error.message
                ),
            };
            out.push((index, why));
        }
    }
    out.sort_by_key(|(index, _)| *index);
    out
}

/// How one call of [`EventIngester::ingest_events_with`] behaves.
#[derive(Default)]
pub struct IngestOptions {
    keep_refusals: bool,
    on_done: Option<OnDone>,
}

impl std::fmt::Debug for IngestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestOptions")
            .field("raise_errors", &!self.keep_refusals)
            .field("on_done", &self.on_done.is_some())
            .finish()
    }
}

impl IngestOptions {
    /// Raising refusals, no callback.
    pub fn new() -> Self {
        IngestOptions::default()
    }

    /// Whether refused events make the handle resolve to [`Error::EventsRefused`] (the
    /// default) or to the response listing them, beside the events sent.
    pub fn raise_errors(mut self, raise: bool) -> Self {
        self.keep_refusals = !raise;
        self
    }

    /// Runs `callback` with the result when the send ends, on the worker that sent it,
    /// whether or not anyone awaits the handle.
    pub fn on_done(mut self, callback: impl FnOnce(&Result<Ingested>) + Send + 'static) -> Self {
        self.on_done = Some(Box::new(callback));
        self
    }
}

/// How an [`EventIngester`] is set up.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventIngesterBuilder {
    client: NativeClient,
    collection: String,
    project: String,
    workers: usize,
    retry: RetryPolicy,
}

impl EventIngesterBuilder {
    /// The project the events are sent for (TruEra's `project_id`; none unless set).
    pub fn project(mut self, project: &str) -> Self {
        self.project = project.to_owned();
        self
    }

    /// Requests in flight at once ([`DEFAULT_WORKERS`] unless set; 0 counts as 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// How transport failures are retried ([`RetryPolicy::default`] unless set).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The ingester.
    pub fn build(self) -> EventIngester {
        EventIngester {
            inner: Arc::new(Inner {
                client: self.client,
                collection: self.collection,
                project: self.project,
                retry: self.retry,
            }),
            workers: Arc::new(Semaphore::new(self.workers)),
        }
    }
}

#[derive(Debug)]
struct Inner {
    client: NativeClient,
    collection: String,
    project: String,
    retry: RetryPolicy,
}

/// Sends events to one collection; cheap to clone (clones share the pool of workers).
#[derive(Debug, Clone)]
pub struct EventIngester {
    inner: Arc<Inner>,
    workers: Arc<Semaphore>,
}

impl EventIngester {
    /// An ingester sending to `collection` through `client`.
    pub fn builder(client: NativeClient, collection: &str) -> EventIngesterBuilder {
        EventIngesterBuilder {
            client,
            collection: collection.to_owned(),
            project: String::new(),
            workers: DEFAULT_WORKERS,
            retry: RetryPolicy::default(),
        }
    }

    /// Sends `events` (each an object of column values, at most [`MAX_EVENTS`]) in the
    /// background and returns at once. The handle resolves to the response, or to
    /// [`Error::EventsRefused`] if any event was refused. Must be called within a tokio
    /// runtime.
    pub fn ingest_events(&self, events: Vec<Json>) -> IngestHandle {
        self.ingest_events_with(events, IngestOptions::new())
    }

    /// [`EventIngester::ingest_events`] with options: refusals kept in the response rather
    /// than raised, a callback when done.
    pub fn ingest_events_with(&self, events: Vec<Json>, options: IngestOptions) -> IngestHandle {
        let inner = self.inner.clone();
        let workers = self.workers.clone();
        let task = tokio::spawn(async move {
            let result = match workers.acquire_owned().await {
                Ok(_permit) => inner.send(events, !options.keep_refusals).await,
                Err(_) => Err(Error::Config(
                    "the ingester's workers are closed".to_owned(),
                )),
            };
            if let Some(callback) = options.on_done {
                callback(&result);
            }
            result
        });
        IngestHandle { task }
    }

    /// A buffer that gathers events and sends them [`MAX_EVENTS`] at a time.
    pub fn buffered(&self) -> BufferedEvents {
        BufferedEvents {
            ingester: self.clone(),
            buffer: Vec::new(),
            size: MAX_EVENTS,
            in_flight: Vec::new(),
        }
    }
}

impl Inner {
    async fn send(&self, events: Vec<Json>, raise: bool) -> Result<Ingested> {
        if events.len() > MAX_EVENTS {
            return Err(Error::Validation(format!(
                "{} events in one call; at most {MAX_EVENTS} go in one request (the buffered form splits them)",
                events.len()
            )));
        }
        let mut attempt = 1;
        let response = loop {
            let sent = self
                .client
                .ingest_events(&self.collection, &self.project, &events)
                .await;
            match sent {
                Err(error) if is_transient(&error) && attempt < self.retry.attempts.max(1) => {
                    let wait = self.retry.backoff(attempt);
                    tracing::warn!(attempt, ?wait, "sending events failed ({error}); retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => break other?,
            }
        };
        let ingested = Ingested { response, events };
        if raise && ingested.response.num_errors > 0 {
            return Err(Error::EventsRefused(Box::new(ingested)));
        }
        Ok(ingested)
    }
}

/// Whether a failed send said nothing about the events, so that sending again may work.
fn is_transient(error: &Error) -> bool {
    match error {
        Error::Http { .. } | Error::Connect { .. } => true,
        Error::Api { status, .. } => matches!(status, 429 | 502 | 503 | 504),
        _ => false,
    }
}

/// A send on its way; resolves to its result. Dropping it does not stop the send.
#[derive(Debug)]
#[must_use = "the send goes on without it, but its result (and refusals) would be lost"]
pub struct IngestHandle {
    task: JoinHandle<Result<Ingested>>,
}

impl IngestHandle {
    /// Whether the send has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Future for IngestHandle {
    type Output = Result<Ingested>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx).map(|joined| {
            joined.unwrap_or_else(|e| Err(Error::Decode(format!("the send task failed: {e}"))))
        })
    }
}

/// Events gathered and sent in requests of [`MAX_EVENTS`] (from
/// [`EventIngester::buffered`]). A full buffer is sent in the background as soon as it
/// fills; [`BufferedEvents::flush`] sends the rest and waits for every send. Refusals never
/// raise here: each [`Ingested`] lists its own.
///
/// Dropped with events unsent, it sends them: on a multi-threaded runtime it waits for them;
/// on a current-thread runtime it cannot wait, so it leaves the sends running in the
/// background and logs a warning. Call [`BufferedEvents::flush`] to know the outcome.
#[derive(Debug)]
pub struct BufferedEvents {
    ingester: EventIngester,
    buffer: Vec<Json>,
    size: usize,
    in_flight: Vec<IngestHandle>,
}

impl BufferedEvents {
    /// Requests of `size` events (1 to [`MAX_EVENTS`]) rather than [`MAX_EVENTS`].
    pub fn with_size(mut self, size: usize) -> Self {
        self.size = size.clamp(1, MAX_EVENTS);
        self
    }

    /// Adds an event; sends a request when the buffer is full.
    pub fn push(&mut self, event: Json) {
        self.buffer.push(event);
        if self.buffer.len() >= self.size {
            self.send_buffer();
        }
    }

    /// Events buffered and not yet sent.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    fn send_buffer(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.buffer);
        let handle = self
            .ingester
            .ingest_events_with(events, IngestOptions::new().raise_errors(false));
        self.in_flight.push(handle);
    }

    /// Sends what is buffered and waits for every request sent so far; returns their
    /// results in the order sent. A request that failed for good (after retries) is an
    /// error, after every other request has been waited for.
    pub async fn flush(&mut self) -> Result<Vec<Ingested>> {
        self.send_buffer();
        let mut out = Vec::new();
        let mut failed = None;
        for handle in std::mem::take(&mut self.in_flight) {
            match handle.await {
                Ok(ingested) => out.push(ingested),
                Err(error) => {
                    failed.get_or_insert(error);
                }
            }
        }
        match failed {
            Some(error) => Err(error),
            None => Ok(out),
        }
    }
}

impl Drop for BufferedEvents {
    fn drop(&mut self) {
        if self.buffer.is_empty() && self.in_flight.is_empty() {
            return;
        }
        let Ok(current) = Handle::try_current() else {
            tracing::error!(
                pending = self.buffer.len(),
                "buffered events dropped outside a tokio runtime: they were not sent"
            );
            return;
        };
        self.send_buffer();
        let in_flight = std::mem::take(&mut self.in_flight);
        let wait = async move {
            for handle in in_flight {
                if let Err(error) = handle.await {
                    tracing::error!("buffered events were not stored: {error}");
                }
            }
        };
        if matches!(current.runtime_flavor(), RuntimeFlavor::MultiThread) {
            tokio::task::block_in_place(|| current.block_on(wait));
        } else {
            tracing::warn!(
                "buffered events dropped on a current-thread runtime: their sends go on in the background; call flush() to wait for them"
            );
            current.spawn(wait);
        }
    }
}
