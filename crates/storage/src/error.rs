use std::path::PathBuf;

use sextant_model::{BatchError, DataType, ErrorKind, OrgId, Timestamp};

/// The storage engine's error.
///
/// Every variant maps to one [`ErrorKind`] through [`Error::kind`]; messages name the file,
/// series or value involved so that the reader knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A column could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] crate::codec::Error),

    /// A file-system operation failed.
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        /// What was being done, e.g. `"sync WAL segment"`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A WAL segment holds bytes that are not a valid record where a valid one must be.
    #[error("corrupt WAL segment {path:?} at byte offset {offset}: {detail}")]
    WalCorrupt {
        /// The segment file.
        path: PathBuf,
        /// The byte offset of the bad header or record.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// A part file holds bytes that are not what the format requires.
    #[error("corrupt part file {path:?} at byte offset {offset}: {detail}")]
    PartCorrupt {
        /// The part file.
        path: PathBuf,
        /// The byte offset of the bad header, block, index entry or footer.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// A part file was written by a format version this build cannot read.
    #[error(
        "part file {path:?} has format version {found}; this build reads versions 1 to {supported}"
    )]
    PartVersion {
        /// The part file.
        path: PathBuf,
        /// The version in the part's header or footer.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// A part could not be written for a reason other than I/O.
    #[error("cannot write part file {path:?}: {detail}")]
    PartWrite {
        /// The part file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// A WAL segment was written by a format version this build cannot read.
    #[error(
        "WAL segment {path:?} has format version {found}; this build reads version {supported}"
    )]
    WalVersion {
        /// The segment file.
        path: PathBuf,
        /// The version in the segment header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// An earlier write or sync of the WAL failed, so no later record can be made durable.
    /// Reopen the store to recover.
    #[error("the WAL refuses writes after an earlier failure: {cause}")]
    WalPoisoned {
        /// The earlier failure.
        cause: String,
    },

    /// One batch would make a WAL record larger than allowed.
    #[error(
        "write batch encodes to {bytes} bytes, more than the limit of {limit} bytes per batch; split it"
    )]
    BatchTooLarge {
        /// The encoded size.
        bytes: usize,
        /// The configured limit.
        limit: usize,
    },

    /// A batch was not valid.
    #[error(transparent)]
    Batch(#[from] BatchError),

    /// A batch declares a series with a data type other than the one the series has.
    #[error("series {series} has type {existing} for life; cannot write {requested} values to it")]
    SeriesTypeConflict {
        /// The organization.
        org: OrgId,
        /// The series, in canonical form.
        series: String,
        /// The type the series has.
        existing: DataType,
        /// The type the batch declares.
        requested: DataType,
    },

    /// A point is further behind its series' newest point than the out-of-order window allows.
    #[error(
        "point at {timestamp} of series {series} is too old: the series' newest point is at {max}, and points older than {min_allowed} are rejected (out-of-order window)"
    )]
    TooOld {
        /// The series, in canonical form.
        series: String,
        /// The rejected point's timestamp.
        timestamp: Timestamp,
        /// The series' newest timestamp.
        max: Timestamp,
        /// The oldest timestamp still accepted.
        min_allowed: Timestamp,
    },

    /// A new series would give an organization more series than its limit. Reported for each
    /// new series of a write that does not fit.
    #[error(
        "series {series} cannot be added: the organization's series limit is {limit}; it has {current} and this write brings {new} new ones"
    )]
    SeriesLimit {
        /// The organization.
        org: OrgId,
        /// The refused series, in canonical form.
        series: String,
        /// How many series the organization had when the write was checked.
        current: usize,
        /// How many new series the write brings, this one included.
        new: usize,
        /// The limit.
        limit: usize,
    },

    /// A new series' key breaks a limit on names and labels or holds a control character
    /// ([`crate::head::limits`]).
    #[error("series {series} is refused: {reason}")]
    SeriesKeyRefused {
        /// The series, in canonical form, cut after 200 bytes.
        series: String,
        /// Which limit, and by how much.
        reason: String,
    },

    /// A point's timestamp is past the last instant a read can return.
    #[error(
        "point at {timestamp} of series {series} is refused: timestamps must be at most {max} nanoseconds since the epoch, the last instant a read can return"
    )]
    TimestampOutOfRange {
        /// The series, in canonical form, cut after 200 bytes.
        series: String,
        /// The refused timestamp.
        timestamp: Timestamp,
        /// The newest timestamp accepted.
        max: Timestamp,
    },

    /// A series selector or a regular expression in one is not valid.
    #[error(transparent)]
    Selector(#[from] crate::head::SelectorError),

    /// No such series in the organization.
    #[error("the organization has no series {series}")]
    SeriesNotFound {
        /// The organization.
        org: OrgId,
        /// The series asked for.
        series: String,
    },

    /// A commit-feed position file holds bytes that are not a valid position.
    #[error("corrupt feed position file {path:?} at byte offset {offset}: {detail}")]
    FeedPositionCorrupt {
        /// The position file.
        path: PathBuf,
        /// The byte offset of the bad field.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// A feed consumer name that cannot name a position file.
    #[error(
        "feed consumer name {name:?} is not valid: use 1 to 64 ASCII letters, digits, '-' or '_'"
    )]
    FeedConsumerName {
        /// The name given.
        name: String,
    },

    /// A named feed consumer already has a reader.
    #[error("feed consumer {name:?} is already reading the feed")]
    FeedConsumerBusy {
        /// The consumer's name.
        name: String,
    },

    /// A read or an aggregation asks for something the series cannot give, e.g. an
    /// aggregate of a non-numeric series or a bucket width that is not positive.
    #[error("invalid query: {detail}")]
    InvalidQuery {
        /// What is wrong, quoting the input.
        detail: String,
    },
}

impl Error {
    /// The kind of this error, for mapping to transport statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Codec(_)
            | Error::Io { .. }
            | Error::WalCorrupt { .. }
            | Error::WalVersion { .. }
            | Error::PartCorrupt { .. }
            | Error::PartVersion { .. }
            | Error::PartWrite { .. }
            | Error::FeedPositionCorrupt { .. } => ErrorKind::Internal,
            Error::FeedConsumerName { .. } => ErrorKind::InvalidInput,
            Error::FeedConsumerBusy { .. } => ErrorKind::AlreadyExists,
            Error::WalPoisoned { .. } => ErrorKind::Unavailable,
            Error::BatchTooLarge { .. } | Error::SeriesLimit { .. } => ErrorKind::LimitExceeded,
            Error::Batch(_)
            | Error::SeriesTypeConflict { .. }
            | Error::TooOld { .. }
            | Error::TimestampOutOfRange { .. }
            | Error::SeriesKeyRefused { .. }
            | Error::Selector(_)
            | Error::InvalidQuery { .. } => ErrorKind::InvalidInput,
            Error::SeriesNotFound { .. } => ErrorKind::NotFound,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

/// The storage engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
