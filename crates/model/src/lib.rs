//! The vocabulary every Sextant crate shares.
//!
//! This crate sits below everything else in the data flow: front ends decode their wire formats
//! into these types, the telemetry configs declare channels with them, the rule language checks
//! and evaluates them, and storage persists them. It holds no logic beyond parsing and printing
//! its own names, so that it can be depended on by every crate without pulling anything in.
//!
//! - [`DataType`]: the value type of a channel or series, fixed for its life.
//! - [`EnumType`] and [`BitFieldElement`]: the metadata that gives enum keys and bit-field
//!   integers their meaning.
//! - [`Value`]: one typed value.
//! - [`Timestamp`]: nanoseconds since the Unix epoch, UTC.
//! - [`ErrorKind`]: the classification every error maps to, once per transport.
//! - [`OrgId`], [`SeriesKey`] and [`SeriesId`]: who owns a series, what it is called, its number.
//! - [`WriteBatch`] and [`ValidatedBatch`]: the write type every front end produces; only the
//!   validated one reaches storage.

mod batch;
mod data_type;
mod duration;
mod error_kind;
mod series;
mod text;
mod value;

pub use batch::{BatchError, Point, SeriesPoints, ValidatedBatch, WriteBatch};
pub use data_type::{BitFieldElement, DataType, EnumType, UnknownDataType};
pub use duration::parse_duration;
pub use error_kind::ErrorKind;
pub use series::{Label, LabelIter, LabelRef, Labels, OrgId, SeriesId, SeriesKey, SeriesKeyError};
pub use text::count;
pub use value::Value;

/// A point in time: nanoseconds since the Unix epoch, UTC.
pub type Timestamp = i64;
