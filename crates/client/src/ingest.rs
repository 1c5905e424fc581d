//! Ingestion: register a telemetry config with the server, then send flows for it.
//!
//! This is the SDK's write path, shaped after `sift_py`'s `IngestionService`. An
//! [`IngestionService`] is built from a connected channel and a
//! [`TelemetryConfig`](sextant_telemetry::TelemetryConfig): it finds or creates the ingestion
//! config on the server, adds the flows the server lacks, and keeps the server's own flow
//! definitions, whose channel order fixes how values are laid out on the wire. It then sends
//! flows three ways:
//!
//! - [`IngestionService::try_ingest_flows`] takes [`Flow`]s (values by channel name) and checks
//!   each against its flow before anything is sent;
//! - [`IngestionService::ingest_flows`] takes [`OrderedFlow`]s (values in flow order) and
//!   checks nothing: the fast path, where the server is the judge;
//! - [`IngestionService::buffered`] returns a [`BufferedIngestion`] that gathers flows and
//!   sends them in streams of a chosen size, on demand, on a timer, on close and on drop.
//!
//! Every call is one client stream, which the server stores whole or refuses whole. Failed
//! streams that may not have reached the server are retried with backoff ([`RetryPolicy`]).
//! [`IngestionService::attach_run`] makes the data that follows belong to a run.
//!
//! Rules declared in the telemetry config are registered with it, by their client keys, so a
//! live rule of the config annotates the data the service sends.

mod buffered;
mod convert;
mod flow;
mod registration;
mod retry;
mod rules;
mod run;
mod service;
pub mod time;

pub use buffered::{BufferedIngestion, BufferedIngestionBuilder, DEFAULT_BUFFER_SIZE};
pub use flow::{ChannelValue, Flow, OrderedFlow, bit_field_value};
pub use retry::RetryPolicy;
pub use rules::RegisteredRule;
pub use run::{MetadataValue, RunOptions};
pub use service::{IngestionService, IngestionServiceBuilder};
