//! Live rules: conditions over an asset's channels, evaluated on every committed write, whose
//! true ranges become annotations for people to review.
//!
//! The engine follows the store's commit feed as the consumer `rules`: every committed write,
//! whichever protocol sent it, names the streams it touched (the `asset` and `run` labels of
//! its series, with the span of timestamps). The engine evaluates every live rule of the
//! asset over the new data on a thread of its own, reading the rule's input channels back from
//! the store, and stores the annotations it opens and closes in the catalog together with the
//! stream's checkpoint, in one transaction. [`evaluate`](mod@evaluate) holds the semantics (alignment of
//! inputs, unknown values, ranges) with no I/O; [`compile_rule`] checks a stored rule against an
//! asset's channels. `docs/rules.md` describes the semantics, out-of-order data and restarts.

mod compile;
mod engine;
mod error;
pub mod evaluate;
mod follow;
pub mod history;

pub use compile::{CompiledRule, compile_rule, schema_of};
pub use engine::{EngineConfig, EngineStats, Listener, LiveRules, RuleEngine};
pub use error::{Error, Result};
pub use evaluate::{
    StreamState, Transition, evaluate, evaluate_aligned, ranges, shared_timestamps,
};
