//! The commit feed: every committed WAL record, in commit order, for live consumers (rules,
//! subscriptions, streaming analytics).
//!
//! ```text
//! Db::write ──► WAL append + fsync ──► on_durable (seq order) ──► head
//!                                           │
//!                                           └──► feed tail (memory) ──► readers
//!                                                      ▲
//!                        a reader behind the tail ─────┘ reads the WAL segments instead
//! ```
//!
//! # Contract
//!
//! - **Order and completeness.** A [`FeedReader`] returns the records after its position one
//!   by one, in WAL sequence order, each exactly once, without skipping any, until it reports a
//!   [`FeedEvent::Gap`]: records whose segments were removed before the reader got to them.
//!   A gap names the sequence numbers it covers; their data is in the store and a consumer
//!   that needs it reads it from there.
//! - **Durable positions.** A named consumer ([`CommitFeed::subscribe`]) resumes after the
//!   position it last [`FeedReader::commit`]ted, across restarts and crashes. Its records stay
//!   in the WAL until it commits past them, up to [`FeedConfig::max_held_segments`] segments
//!   behind the flushed data; past that bound the oldest are removed anyway and the consumer
//!   sees a gap. Committing is the consumer's promise that everything up to the position has
//!   taken effect durably on its side, so a crash makes it see records after the position again
//!   (at least once); a consumer whose effects are idempotent per record gets exactly once.
//! - **The write path never waits for a reader.** Committed records are appended to an
//!   in-memory tail that holds only what an attached reader has not read yet, up to
//!   [`FeedConfig::tail_bytes`]; a reader further behind reads the WAL segments from disk.
//!   The cost a write pays is one shared pointer and a short lock.
//! - **Ephemeral readers** ([`CommitFeed::follow`]) start at a given sequence number and keep
//!   no position.
//!
//! The trait keeps the transport out: a log service such as NATS JetStream can implement it
//! for several nodes (`docs/scale-out.md`).

mod local;
mod position;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use sextant_model::ValidatedBatch;

use crate::Result;
use crate::wal::Deletion;

pub use local::LocalFeed;

/// One committed record, as a reader sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// A batch of points, as it was written.
    Write {
        /// Its WAL sequence number.
        seq: u64,
        /// The batch.
        batch: Arc<ValidatedBatch>,
    },
    /// The deletion of points.
    Delete {
        /// Its WAL sequence number.
        seq: u64,
        /// What was deleted.
        deletion: Arc<Deletion>,
    },
    /// Records `first..=last` can no longer be read from the feed: their segments were removed
    /// after their data went to parts. The data is in the store.
    Gap {
        /// The first record missed.
        first: u64,
        /// The last record missed.
        last: u64,
    },
}

impl FeedEvent {
    /// The sequence number of the (last) record the event covers.
    pub fn seq(&self) -> u64 {
        match self {
            FeedEvent::Write { seq, .. } | FeedEvent::Delete { seq, .. } => *seq,
            FeedEvent::Gap { last, .. } => *last,
        }
    }
}

/// Where a named consumer seen for the first time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the oldest record the WAL still holds, so that a consumer added to an existing store
    /// also sees the writes not yet flushed.
    Oldest,
    /// After the newest committed record.
    Latest,
}

/// How the feed keeps records for its readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// The most memory, estimated, that the tail holds for readers that have not read it yet.
    /// A reader further behind reads the WAL from disk. Default 64 MiB.
    pub tail_bytes: usize,
    /// The most WAL segments a flush keeps for named consumers that have not committed past
    /// them (beyond those the flush itself still needs). Default 16, about 1 GiB with the
    /// default segment size.
    pub max_held_segments: usize,
    /// How long WAL segments stay after a flush put their records in parts, counted from
    /// their last write, so that ephemeral readers (live subscriptions resuming after a
    /// cursor) can still replay them. Default zero: a flush removes what it no longer needs.
    pub replay: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            tail_bytes: 64 << 20,
            max_held_segments: 16,
            replay: Duration::ZERO,
        }
    }
}

/// The commit feed of a store. See the module docs for its contract.
pub trait CommitFeed: Send + Sync + Debug {
    /// A reader for the named consumer `consumer`, resuming after its committed position; a
    /// consumer without one starts at `start`. One reader per name at a time: a second one
    /// fails with [`Error::FeedConsumerBusy`](crate::Error::FeedConsumerBusy) until the first
    /// is dropped.
    fn subscribe(&self, consumer: &str, start: Start) -> Result<Box<dyn FeedReader>>;

    /// A reader that returns the records after `after`, keeping no position.
    fn follow(&self, after: u64) -> Box<dyn FeedReader>;

    /// The sequence number of the newest committed record, 0 if none.
    fn last_seq(&self) -> u64;
}

/// A consumer's cursor in the feed. Blocking: call it from a thread of its own (or a blocking
/// task), not from an async executor's thread.
pub trait FeedReader: Send + Debug {
    /// The next event after the reader's position, waiting up to `wait` for one to be
    /// committed; `None` when none came in time.
    fn next(&mut self, wait: Duration) -> Result<Option<FeedEvent>>;

    /// The sequence number of the last record returned (or of the starting point).
    fn position(&self) -> u64;

    /// Records durably that this consumer is done with every record up to `seq`: after a
    /// restart it resumes after it. Ephemeral readers ignore it. `seq` must not be ahead of
    /// [`FeedReader::position`].
    fn commit(&mut self, seq: u64) -> Result<()>;
}
