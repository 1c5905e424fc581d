//! Where it sits: in the user's program, in front of the server. Ingestion turns telemetry
//! configs and flows into Sift's gRPC calls (the server's `sift` front end takes them into the
//! engine); downloads turn `GetData` pages back into Arrow; `kairos` and `native` call the
//! server's HTTP APIs. It shares the telemetry-config vocabulary (`sextant-telemetry`) and the
//! native API's wire types (`sextant-api`) with the server and the CLI.
//!
#![doc = include_str!("../README.md")]

pub mod collections;
mod connect;
pub mod download;
mod error;
pub mod export;
mod http;
pub mod ingest;
pub mod kairos;
pub mod live;
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
/// Values, data types and timestamps (the `sextant-model` crate).
pub use sextant_model as model;
pub use sextant_model::{DataType, Timestamp, Value};
/// Telemetry configs: channels, flows, rules, YAML, validation (the `sextant-telemetry` crate).
pub use sextant_telemetry as telemetry;
pub use sextant_telemetry::{ChannelConfig, FlowConfig, RuleConfig, TelemetryConfig};
