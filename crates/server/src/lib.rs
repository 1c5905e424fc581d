//! Sextant's network front ends.
//!
//! Each protocol is a module that decodes its wire format into Sextant's own types and maps
//! results and errors back; none touches files and none knows the others. [`app::router`]
//! puts them under one router behind [`auth`] and [`request_id`], and [`listener::serve`] serves it on one
//! address, HTTP/1.1 and gRPC side by side. Handlers hold the engines as trait objects
//! ([`state::AppState`]); only the binary builds concrete types.

pub mod admin;
pub mod app;
pub mod auth;
pub mod body;
pub mod budget;
pub mod collections;
pub mod error;
pub mod files;
pub mod influx;
pub mod kairos;
mod key_cache;
pub mod listener;
pub mod live;
pub mod login;
pub mod metrics;
pub mod native;
pub mod request_id;
pub mod sift;
pub mod signalflow;
pub mod signalfx;
pub mod state;
pub mod webhook;
