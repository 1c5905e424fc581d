use sextant_model::{DataType, ErrorKind};

use crate::{Agg, SelectorError};

/// What went wrong with a read.
///
/// Every variant maps to one [`ErrorKind`] through [`Error::kind`]; messages quote the input
/// at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A selector's text or one of its regular expressions is invalid.
    #[error(transparent)]
    Selector(#[from] SelectorError),

    /// A page cursor's token is not one this crate made.
    #[error("cannot resume from cursor {token:?}: {reason}")]
    Cursor {
        /// The token as given.
        token: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A page was asked to hold no point, so it could never make progress.
    #[error("a scan page limit of 0 points can never make progress; ask for at least 1")]
    ZeroPageLimit,

    /// A time bucket is not a positive number of nanoseconds.
    #[error("bucket width {width} ns is not positive")]
    BucketWidth {
        /// The width given.
        width: i64,
    },

    /// An aggregate that needs numbers was asked of a series that holds none.
    #[error("cannot compute {agg:?} of series {series} of type {data_type}: not numeric")]
    NotNumeric {
        /// The aggregate.
        agg: Agg,
        /// The series, in canonical form.
        series: String,
        /// Its data type.
        data_type: DataType,
    },

    /// The store failed.
    #[error(transparent)]
    Store(#[from] sextant_storage::Error),

    /// A read would hold more points than the reader's limit
    /// ([`Reader::holding_at_most`](crate::Reader::holding_at_most)).
    #[error(
        "series {series} has more than {limit} points in the range read, the most a query may \
         hold{hint}; ask for a shorter range"
    )]
    TooManyPoints {
        /// The series, in canonical form.
        series: String,
        /// The limit.
        limit: usize,
        /// Where the limit is set, as the reader's caller names it (` (sextant serve …)`).
        hint: String,
    },

    /// An aggregation would hold more buckets, over all its series, than the reader's point
    /// limit ([`Reader::holding_at_most`](crate::Reader::holding_at_most)): a bucket costs
    /// about what a point does.
    #[error(
        "the aggregation makes more than {limit} buckets over its series, the most a query may \
         hold{hint}; ask for longer buckets, a shorter range or fewer series"
    )]
    TooManyBuckets {
        /// The limit.
        limit: usize,
        /// Where the limit is set, as the reader's caller names it.
        hint: String,
    },

    /// Arrow refused to put arrays together (a fault of this crate: it joins only arrays of
    /// one type).
    #[error("joining the points read failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),

    /// The reader's caller stopped the read ([`Reader::stopping_when`](crate::Reader::stopping_when)):
    /// a deadline passed, or the client went away.
    #[error("{reason}")]
    Stopped {
        /// Why, naming the limit.
        reason: String,
    },
}

impl Error {
    /// The classification transports map to their statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Selector(e) => e.kind(),
            Error::Cursor { .. }
            | Error::ZeroPageLimit
            | Error::BucketWidth { .. }
            | Error::NotNumeric { .. }
            | Error::TooManyPoints { .. }
            | Error::TooManyBuckets { .. } => ErrorKind::InvalidInput,
            Error::Store(e) => e.kind(),
            Error::Stopped { .. } => ErrorKind::Unavailable,
            Error::Arrow(_) => ErrorKind::Internal,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
