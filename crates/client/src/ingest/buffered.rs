//! [`BufferedIngestion`]: flows gathered client-side and sent in streams of a fixed size, so
//! that a program sending one flow at a time still sends few, large streams.
//!
//! The rules of sending, failing and dropping are documented on [`BufferedIngestion`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sift_rs::ingest::v1::IngestWithConfigDataStreamRequest;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::flow::{Flow, OrderedFlow};
use super::service::{INGEST_CALL, IngestionService};
use crate::{Error, Result};

/// Receives the errors of flushes that no caller awaits (the timer's and the one on drop).
pub(crate) type OnError = Box<dyn Fn(Error) + Send + Sync + 'static>;

/// The buffer size of `sift_py`'s buffered ingestion, and this SDK's default.
pub const DEFAULT_BUFFER_SIZE: usize = 1_000;

/// How a [`BufferedIngestion`] is set up; from [`IngestionService::buffered`].
#[must_use = "a builder does nothing until `start` is called"]
pub struct BufferedIngestionBuilder {
    service: IngestionService,
    buffer_size: usize,
    flush_interval: Option<Duration>,
    on_error: Option<OnError>,
}

impl std::fmt::Debug for BufferedIngestionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedIngestionBuilder")
            .field("buffer_size", &self.buffer_size)
            .field("flush_interval", &self.flush_interval)
            .field("on_error", &self.on_error.is_some())
            .finish_non_exhaustive()
    }
}

impl BufferedIngestionBuilder {
    pub(crate) fn new(service: IngestionService) -> Self {
        BufferedIngestionBuilder {
            service,
            buffer_size: DEFAULT_BUFFER_SIZE,
            flush_interval: None,
            on_error: None,
        }
    }

    /// Flows per stream ([`DEFAULT_BUFFER_SIZE`] unless set; 0 counts as 1).
    pub fn buffer_size(mut self, flows: usize) -> Self {
        self.buffer_size = flows;
        self
    }

    /// Sends what is buffered at this interval too (never, unless set; a zero interval is
    /// none).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = Some(interval);
        self
    }

    /// Receives the errors of flushes that no caller awaits (the timer's and the one on
    /// drop); without it they are logged with `tracing`.
    pub fn on_error(mut self, on_error: impl Fn(Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Box::new(on_error));
        self
    }

    /// Starts the buffer (and its timer). Needs a Tokio runtime: it fails with
    /// [`Error::Config`] outside one.
    pub fn start(self) -> Result<BufferedIngestion> {
        BufferedIngestion::new(
            self.service,
            self.buffer_size,
            self.flush_interval,
            self.on_error,
        )
    }
}

/// A buffer in front of an [`IngestionService`], from [`IngestionService::buffered`]: flows
/// gathered client-side and sent in streams of a fixed size, so that a program sending one
/// flow at a time still sends few, large streams.
///
/// The methods take `&self`, so one buffer can be shared by several tasks (in an `Arc`).
///
/// # When flows are sent
///
/// - when the buffer holds [`buffer_size`](BufferedIngestionBuilder::buffer_size) flows, by the call that filled it, in streams of
///   exactly `buffer_size` flows (what is left waits);
/// - on [`BufferedIngestion::flush`] and every
///   [`flush_interval`](BufferedIngestionBuilder::flush_interval), everything buffered;
/// - on [`BufferedIngestion::close`] and on drop, everything buffered.
///
/// Flushes never overlap, so streams leave in the order their flows were buffered.
///
/// # When a stream fails
///
/// The server stores a stream whole or not at all. A stream that failed on the way, after the
/// retries of the [`RetryPolicy`](crate::ingest::RetryPolicy), goes back to the front of the buffer and
/// is sent again by the next flush: nothing is lost while the buffer lives. A stream the server
/// refused (an invalid flow from `ingest_flows`, say) cannot succeed by sending it again; it is
/// dropped and the refusal, which names the offending message, is reported. A flush awaited by
/// a caller returns its error; flushes that no caller awaits — the timer's and the one on drop —
/// hand theirs to the [`on_error`](BufferedIngestionBuilder::on_error) callback, or log them
/// without one.
///
/// # Drop
///
/// Dropping a buffer that still holds flows sends them before the drop returns when it can
/// wait without blocking the runtime the connection runs on: on a multi-thread Tokio runtime
/// (with `block_in_place`), or from a thread outside the runtime. On a current-thread runtime
/// waiting would deadlock, so the final flush is spawned onto the runtime instead and completes
/// only if the runtime keeps running; call [`BufferedIngestion::close`] there (it is the better
/// habit anywhere, since it returns the error of the last flush).
pub struct BufferedIngestion {
    shared: Arc<Shared>,
    timer: Option<(Arc<Notify>, JoinHandle<()>)>,
    handle: Handle,
    closed: bool,
}

impl std::fmt::Debug for BufferedIngestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedIngestion")
            .field("buffer_size", &self.shared.buffer_size)
            .field("pending", &self.pending())
            .field("timer", &self.timer.is_some())
            .finish_non_exhaustive()
    }
}

struct Shared {
    service: IngestionService,
    buffer_size: usize,
    buffer: Mutex<Vec<IngestWithConfigDataStreamRequest>>,
    /// Held for the whole of a flush, so that flushes never overlap.
    flushing: tokio::sync::Mutex<()>,
    on_error: Option<OnError>,
}

impl BufferedIngestion {
    pub(crate) fn new(
        service: IngestionService,
        buffer_size: usize,
        flush_interval: Option<Duration>,
        on_error: Option<OnError>,
    ) -> Result<Self> {
        let handle = Handle::try_current().map_err(|_| {
            Error::Config("buffered ingestion must be started inside a Tokio runtime".to_owned())
        })?;
        let buffer_size = buffer_size.max(1);
        let shared = Arc::new(Shared {
            service,
            buffer_size,
            buffer: Mutex::new(Vec::with_capacity(buffer_size)),
            flushing: tokio::sync::Mutex::new(()),
            on_error,
        });
        let timer = flush_interval
            .filter(|interval| !interval.is_zero())
            .map(|interval| {
                let stop = Arc::new(Notify::new());
                let task = handle.spawn(run_timer(shared.clone(), interval, stop.clone()));
                (stop, task)
            });
        Ok(BufferedIngestion {
            shared,
            timer,
            handle,
            closed: false,
        })
    }

    /// Checks flows as [`IngestionService::try_ingest_flows`] does and buffers them; sends
    /// full streams if the buffer is full. A checking error buffers none of the flows.
    ///
    /// An error of the send leaves the flows in the buffer when they may yet be stored (see
    /// [`BufferedIngestion`]); do not buffer them again.
    pub async fn try_ingest_flows(&self, flows: &[Flow]) -> Result<()> {
        let messages = self.shared.service.encode(flows)?;
        self.push(messages).await
    }

    /// Buffers flows with values in registered channel order, checking nothing; sends full
    /// streams if the buffer is full.
    pub async fn ingest_flows(&self, flows: &[OrderedFlow]) -> Result<()> {
        let messages = self.shared.service.encode_ordered(flows);
        self.push(messages).await
    }

    /// Sends everything buffered.
    pub async fn flush(&self) -> Result<()> {
        self.shared.flush(true).await
    }

    /// Flows buffered and not yet sent.
    pub fn pending(&self) -> usize {
        self.shared.buffer.lock().expect("buffer lock").len()
    }

    /// Stops the timer, waits for a flush in progress and sends everything buffered. The
    /// error is that of the last flush; flows it could not send are then lost.
    pub async fn close(mut self) -> Result<()> {
        self.closed = true;
        if let Some((stop, task)) = self.timer.take() {
            stop.notify_one();
            let _ = task.await;
        }
        self.shared.flush(true).await
    }

    async fn push(&self, messages: Vec<IngestWithConfigDataStreamRequest>) -> Result<()> {
        let full = {
            let mut buffer = self.shared.buffer.lock().expect("buffer lock");
            buffer.extend(messages);
            buffer.len() >= self.shared.buffer_size
        };
        if full {
            self.shared.flush(false).await
        } else {
            Ok(())
        }
    }
}

impl Shared {
    /// Sends buffered flows in streams of at most `buffer_size`: all of them, or (`all` false)
    /// only full streams.
    async fn flush(&self, all: bool) -> Result<()> {
        let _flushing = self.flushing.lock().await;
        let mut first_error = None;
        loop {
            let chunk: Arc<[IngestWithConfigDataStreamRequest]> = {
                let mut buffer = self.buffer.lock().expect("buffer lock");
                if buffer.is_empty() || (!all && buffer.len() < self.buffer_size) {
                    break;
                }
                let n = buffer.len().min(self.buffer_size);
                buffer.drain(..n).collect()
            };
            let Err(failure) = self.service.send_shared(chunk.clone()).await else {
                continue;
            };
            let count = chunk.len();
            if failure.transient {
                let mut buffer = self.buffer.lock().expect("buffer lock");
                buffer.splice(0..0, chunk.iter().cloned());
                let waiting = buffer.len();
                return Err(failure.into_error(INGEST_CALL, || {
                    format!(
                        "a stream of {count} flows, not acknowledged; kept in the buffer ({waiting} flows) for the next flush"
                    )
                }));
            }
            let error = failure.into_error(INGEST_CALL, || {
                format!("a stream of {count} flows, refused whole and dropped from the buffer")
            });
            if first_error.is_none() {
                first_error = Some(error);
            } else {
                self.report(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn report(&self, error: Error) {
        match &self.on_error {
            Some(on_error) => on_error(error),
            None => tracing::error!("buffered ingestion: {error}"),
        }
    }
}

async fn run_timer(shared: Arc<Shared>, interval: Duration, stop: Arc<Notify>) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.notified() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = shared.flush(true).await {
            shared.report(error);
        }
    }
}

impl Drop for BufferedIngestion {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if let Some((stop, _task)) = self.timer.take() {
            // The timer finishes a flush in progress, then stops; the flush below waits for it.
            stop.notify_one();
        }
        let shared = self.shared.clone();
        let pending = self.pending();
        let flush = async move {
            if let Err(error) = shared.flush(true).await {
                shared.report(error);
            }
        };
        let can_wait =
            |handle: &Handle| matches!(handle.runtime_flavor(), RuntimeFlavor::MultiThread);
        match Handle::try_current() {
            Ok(current) if can_wait(&current) => {
                tokio::task::block_in_place(|| current.block_on(flush));
            }
            Ok(current) => {
                if pending > 0 {
                    tracing::warn!(
                        pending,
                        "a buffered ingestion was dropped on a current-thread runtime; its last flush runs in the background (call close().await to wait for it)"
                    );
                }
                current.spawn(flush);
            }
            Err(_) if can_wait(&self.handle) => self.handle.block_on(flush),
            Err(_) => {
                if pending > 0 {
                    tracing::warn!(
                        pending,
                        "a buffered ingestion was dropped outside its current-thread runtime; its last flush runs there when the runtime runs"
                    );
                }
                self.handle.spawn(flush);
            }
        }
    }
}
