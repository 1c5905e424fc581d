//! The Rust SDK for Sextant, with the ergonomics of Sift's Python client in idiomatic Rust.
//!
//! It sits in front of the server: it speaks Sift's gRPC API, which Sextant serves, so the
//! same program works against either. [`connect`] opens an authenticated channel; the
//! ingestion side registers a telemetry config and sends flows; the download side reads
//! channels back as Arrow record batches. [`kairos`] builds KairosDB queries and runs them
//! over Sextant's KairosDB REST API, returning Arrow. [`native`] calls Sextant's own JSON API
//! (rules, annotations, users, tags) with the typed bodies of `sextant-api`, which the server
//! answers with.

mod connect;
pub mod download;
mod error;
pub mod export;
mod http;
pub mod ingest;
pub mod kairos;
pub mod native;

/// The Arrow crates results are built with, at the SDK's versions: `arrow_array` for typed
/// columns (`sextant_client::arrow::array::Float64Array`, `…::types::Float64Type`),
/// `arrow_schema` for schemas and data types.
pub mod arrow {
    pub use arrow_array as array;
    pub use arrow_array::RecordBatch;
    pub use arrow_schema as schema;
}

pub use connect::{ClientConfig, SextantChannel, Tls, connect};
pub use download::{ChannelQuery, DataQuery, DataService, QueryResult, align, parse_time};
pub use error::{Error, Result};
pub use ingest::{BufferedIngestion, Flow, IngestionService, OrderedFlow, RetryPolicy, RunOptions};
