//! SignalFx's wire formats as pure functions: bytes in, datapoints, events and search queries
//! out, no I/O.
//!
//! This crate sits at the front of the data flow for SignalFx clients (the `signalfx` Python
//! client, pyformance's reporter): the server's `signalfx` module hands it request bodies,
//! already inflated, and turns what it returns into a write batch, catalog events or a
//! metadata search.
//!
//! - [`datapoint`]: `POST /v2/datapoint` bodies, protobuf (proto2, with presence) and the
//!   JSON fallback, decoded point by point: a bad point is refused alone, named with its
//!   reason, and the others are kept.
//! - [`event`]: `POST /v2/event` bodies, protobuf and JSON.
//! - [`query`]: the Lucene-like language of the metadata searches (`field:value`, `*`
//!   wildcards, `AND`/`OR`/`NOT`, parentheses) and its evaluation against any object.
//! - [`fast`]: a zero-copy reader of datapoint messages for the ingest hot path, which lends
//!   each point's strings from the body and agrees with [`datapoint`] point for point.
//! - [`proto`]: the protobuf messages (`com.signalfx.metrics.protobuf`).
//! - [`json`]: a small JSON reader that keeps what the client sends and `serde_json` refuses
//!   or rounds: `NaN`, `Infinity`, and integers beyond 64 bits.

pub mod datapoint;
pub mod event;
pub mod fast;
pub mod json;
pub mod proto;
pub mod query;

pub use datapoint::{BadPoint, Datapoint, DatapointBody, MetricType, PointValue};
pub use event::{Event, EventCategory, PropertyValue};

/// Why a whole body could not be decoded. Problems of single points are not errors: they are
/// [`BadPoint`]s, and the rest of the body is kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The body is not a protobuf message of the expected type.
    #[error("the body is not a valid protobuf {message}: {reason}")]
    Protobuf {
        /// The message expected (`DataPointUploadMessage`, `EventUploadMessage`).
        message: &'static str,
        /// What the protobuf decoder reported.
        reason: String,
    },
    /// The body is not JSON, or not of the expected shape.
    #[error("the JSON body is invalid: {0}")]
    Json(String),
}

/// `pub type Result<T, E = Error>`, as every Sextant crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
