//! Sextant's storage engine: durable, compact time series on local disk.
//!
//! Validated write batches arrive from the front ends; each is appended to the write-ahead log
//! ([`wal`]) and acknowledged only once it is durable, then applied to the in-memory [`head`],
//! which answers queries at once; [`Db`] ties the two into one write path, and hands every
//! committed record to the live consumers of its commit [`feed`]. The head is
//! flushed into immutable, compressed, time-partitioned [`part`]s whose columns are encoded by
//! [`codec`], and reads merge the head with the parts. Files attached to runs and annotations
//! are kept beside them, whole, in the [`blobs`] store. This crate has no network code.

pub mod blobs;
pub mod codec;
pub mod db;
mod error;
pub mod feed;
pub mod head;
pub mod part;
pub mod read;
mod store;
pub mod wal;
mod write;

pub use db::{
    Db, DbConfig, DeleteReport, FlushReport, MaintenanceReport, PartsConfig, RetentionRule,
    WriteReceipt,
};
pub use error::{Error, Result};
pub use feed::{CommitFeed, FeedConfig, FeedEvent, FeedReader, Start};
pub use head::{Match, SelectorError, SeriesSelector};
pub use read::{Agg, AggregateResult, ArrowPoints, Order};
pub use store::{Store, StoreStats};
pub use write::{Refusal, WriteOutcome, WritePolicy};
