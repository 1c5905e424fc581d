//! Sextant's storage engine: durable, compact time series on local disk.
//!
//! Validated write batches arrive from the front ends; each is appended to the write-ahead log
//! ([`wal`]) and acknowledged only once it is durable, then applied to the in-memory head, which
//! answers queries at once. The head is later written out as immutable, compressed parts whose
//! columns are encoded by [`codec`]. This crate has no network code.

pub mod codec;
mod error;

pub use error::{Error, Result};
