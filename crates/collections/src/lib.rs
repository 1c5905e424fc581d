//! Event collections: schema'd model events (inferences and their labels, joined by id) in the
//! style of TruEra's streaming ingestion.
//!
//! - [`schema`]: schemas from YAML (every mistake as `file:line: message`) or JSON, checked,
//!   changed only by adding columns.
//! - [`request`]: the pure decoder of an ingest request, one pass over the body.
//! - [`event`]: the check of each event against a schema, with TruEra's error types.
//! - [`log`]: each collection's event log, where accepted events are fsynced before the answer.
//! - [`part`]: sealed parts, where the events of the log are kept column by column, compressed,
//!   with the hashes the id index loads from.
//! - [`series`]: numeric and bool inputs and predictions as time series of the store.
//! - [`store`]: the collections of a data directory: ingest (all-or-nothing per event,
//!   duplicate ids refused, identical resends accepted as no-ops), the id index and the label
//!   join, reads and per-window statistics.
//!
//! `docs/collections.md` is the user's guide; `docs/format/collections.md` the files.

mod columns;
pub mod event;
pub mod log;
pub mod part;
pub mod request;
pub mod schema;
pub mod series;
mod stats;
pub mod store;

use std::path::{Path, PathBuf};

use sextant_model::ErrorKind;

pub use event::{Limits, MAX_EVENTS};
pub use schema::Schema;
pub use store::{Collection, Collections};

/// What can go wrong with collections.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No collection has this name.
    #[error("no collection named `{name}`{}", hint(suggestion))]
    NotFound {
        /// The name asked for.
        name: String,
        /// A collection with a close name.
        suggestion: Option<String>,
    },
    /// A collection with this name exists already.
    #[error("a collection named `{0}` exists already; change its schema with an update")]
    Exists(String),
    /// The request is malformed or breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The schema has problems (every one, each on a line).
    #[error("{0}")]
    Schema(sextant_telemetry::Problems),
    /// A file operation failed.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// To which file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The reader's caller stopped the read: a deadline passed, or the client went away.
    #[error("{0}")]
    Stopped(String),
    /// A file does not hold what it should.
    #[error("{} is damaged at byte {offset}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_else(|| "; create it with `sextant collections create`".to_owned())
}

impl Error {
    /// The kind of the error, for the transports' status codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Exists(_) => ErrorKind::AlreadyExists,
            Error::Invalid(_) | Error::Schema(_) => ErrorKind::InvalidInput,
            Error::Stopped(_) => ErrorKind::Unavailable,
            Error::Io { .. } | Error::Corrupt { .. } => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_owned();
        move |source| Error::Io { what, path, source }
    }
}

/// Whether a read may go on: `Err` with the reason once it must stop (its deadline passed,
/// its client went away). Asked before each part or log a read goes through.
pub type Proceed<'a> = &'a (dyn Fn() -> std::result::Result<(), String> + Sync);

/// The most rows one events read returns: a read of more, without a `limit`, is refused.
pub const MAX_ROWS: usize = 100_000;

/// The most windows one statistics read returns.
pub const MAX_WINDOWS: usize = 100_000;

/// The result of collection calls.
pub type Result<T> = std::result::Result<T, Error>;
