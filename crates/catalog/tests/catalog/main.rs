//! The catalog against real SQLite files: every entity, durability across reopening,
//! organization isolation, pagination, and a model-based property test.

mod common;

mod assets;
mod calculated;
mod detectors;
mod durability;
mod files;
mod ingestion;
mod isolation;
mod keys;
mod model;
mod pagination;
mod reports;
mod rules;
mod runs;
