//! The subcommands of `sextant`, one module each.

pub mod config;
pub mod serve;
pub mod token;
