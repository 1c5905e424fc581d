//! The integration tests of `sextant-storage`, one test binary: each module is one area.
//! One binary instead of one per file keeps the build's disk use and link time down.

mod codec;
mod common;
mod crash;
mod feed;
mod head_model;
mod parts_concurrency;
mod parts_model;
mod selectors;
mod wal_props;
