//! The subcommands of `sextant`, one module each.

pub mod collections;
pub mod config;
pub mod events;
pub mod ingest;
pub mod org;
pub mod query;
pub mod rules;
pub mod serve;
pub mod tail;
pub mod token;
