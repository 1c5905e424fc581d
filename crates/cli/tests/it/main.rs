//! The integration tests of `sextant-cli`, one test binary: each module is one area.
//! One binary instead of one per file keeps the build's disk use and link time down.

mod cli_ingest;
mod collections;
mod common;
mod config_check;
mod connections;
mod console;
mod download;
mod ingest_limits;
mod kairos_answers;
mod kairos_conformance;
mod native_client;
mod query_limits;
mod readme;
mod rules;
mod sdk_ingest;
mod sdk_rules;
mod subscriptions;
