//! SignalFlow, SignalFx's language of streaming analytics, and its execution.
//!
//! - [`lang`]: the Python-like surface: source text to a [`Program`] of statements, with
//!   errors naming line and column. The grammar is in `docs/signalflow.md`.
//! - [`exec`]: running a program over the data a [`Source`] gives: the stream graph, the
//!   job's resolution and timeline, rollups, aggregations, transformations and detectors.

pub mod exec;
pub mod lang;

pub use exec::{Job, Output, Request, Source};
pub use lang::{Program, parse};
