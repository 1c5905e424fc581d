//! Live subscriptions: committed points pushed to subscribers as they are committed, resumable
//! by cursor, with stored history first and optional event-time windows
//! (`docs/subscriptions.md`).
//!
//! ```text
//! store.select + read_as_of ──► history ─┐
//!                                         ├──► Sink (the transport's bounded buffer)
//! commit feed (follow after a cursor) ────┘      full? ──► Behind notice, or Closed
//! ```
//!
//! - [`spec`]: a [`SubscribeRequest`](sextant_api::live::SubscribeRequest) checked into a
//!   [`Spec`]: the selector, where to start, the window.
//! - [`run()`]: one subscription, on a thread of its own: the history, then every commit after
//!   it from the feed, in commit order, each message with the cursor to resume from.
//! - [`window`]: tumbling and sliding event-time windows with a watermark and allowed lateness.
//! - [`collection`]: a subscription to an event collection's whole events, read from its log.
//!
//! A cursor is a commit's sequence number in the write-ahead log. Resuming after it gives
//! exactly the writes committed later, for as long as the log holds them; a subscriber that
//! asks for older ones is told which commits cannot be replayed, then gets the rest.
//! Transports (gRPC, Server-Sent Events, WebSocket) are the server's; [`encode`] frames each
//! message for them.

pub mod collection;
pub mod encode;
pub mod run;
pub mod spec;
pub mod window;

use sextant_model::ErrorKind;

pub use encode::{Encoded, Fragments, Framing};
pub use run::{Gone, Options, Sink, run};
pub use spec::{Spec, Start};

/// Why a subscription was refused or ended.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as the request names it.
        field: &'static str,
        /// What is wrong, quoting the value.
        message: String,
    },
    /// A cursor beyond the newest commit: not one of this server's.
    #[error(
        "cursor {cursor} is ahead of the newest commit, {newest}: it is not a cursor of this server's log"
    )]
    CursorAhead {
        /// The cursor given.
        cursor: u64,
        /// The newest commit.
        newest: u64,
    },
    /// The history asked for is too large to send.
    #[error(
        "the stored points since the requested time number more than {limit}; start later or select fewer series"
    )]
    HistoryTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sextant_storage::Error),
    /// An event collection could not be read.
    #[error(transparent)]
    Collection(sextant_collections::Error),
}

impl Error {
    /// The classification transports map to their statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid { .. } | Error::CursorAhead { .. } => ErrorKind::InvalidInput,
            Error::HistoryTooLarge { .. } => ErrorKind::LimitExceeded,
            Error::Store(e) => e.kind(),
            Error::Collection(e) => e.kind(),
        }
    }
}
