//! The integration tests of `sextant-server`, one test binary: each module is one area.
//! One binary instead of one per file keeps the build's disk use and link time down.

mod admin;
mod common;
mod errors;
mod explore;
mod influx;
mod listener;
mod metrics;
mod routes;
mod sift_download_cost;
mod sift_ingest;
mod sift_metadata;
mod sift_rules;
mod signalfx;
mod webhook;
