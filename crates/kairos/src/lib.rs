//! KairosDB's REST API as pure functions, for Sextant's KairosDB front end and SDK.
//!
//! This crate sits between the HTTP handlers (`sextant-server`'s `kairos` module) and the
//! store: it takes request bodies in, hands typed requests on, and turns the points the server
//! reads from storage into KairosDB's responses. It does no I/O.
//!
//! - [`ingest`] parses `POST /api/v1/datapoints` bodies into metrics with typed points,
//!   collecting KairosDB's validation messages.
//! - [`query`] parses query bodies (absolute and relative time, time zones, tag filters,
//!   group-bys, aggregators) with KairosDB's error messages.
//! - [`time`] resolves relative times and does calendar arithmetic in IANA time zones.
//! - [`aggregate`] is the aggregator engine over `(timestamp, value)` sequences, with
//!   KairosDB 1.3.0's exact bucket and alignment rules.
//! - [`group`] splits series into groups (type, tag, time, value, bin) and runs a metric's
//!   pipeline; [`response`] writes results with KairosDB's number formatting.
//!
//! Timestamps here are KairosDB's: milliseconds since the Unix epoch.

pub mod aggregate;
pub mod format;
pub mod group;
pub mod ingest;
pub mod pushdown;
pub mod query;
pub mod response;
pub mod time;

pub use aggregate::{DataPoint, KValue};
pub use group::{GroupKind, MetricResult, SaveRequest, SeriesData, run_metric};
pub use query::{Aggregator, GroupBy, MetricQuery, Query, TagFilter};
pub use time::TimeUnit;

/// What went wrong with a request, classified as KairosDB classifies it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The request is wrong: KairosDB answers 400 with these messages.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The request was valid but evaluating it failed (a NaN result, `rate` meeting two
    /// points at one timestamp, …): KairosDB answers 500.
    #[error("{0}")]
    Runtime(String),
    /// The caller stopped the evaluation (its deadline passed, its client left); the message
    /// says why.
    #[error("{0}")]
    Stopped(String),
}

/// Asked between units of work whether evaluation may go on: the caller's deadline and its
/// client's presence live behind it. `&|| Ok(())` when nothing bounds the query.
pub type Proceed<'a> = &'a dyn Fn() -> Result<()>;

impl Error {
    /// An invalid-request error with one message.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(vec![message.into()])
    }

    /// The messages for the `{"errors": [...]}` body.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Invalid(m) => m.clone(),
            Error::Runtime(m) | Error::Stopped(m) => vec![m.clone()],
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
