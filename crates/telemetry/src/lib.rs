//! Telemetry configs: the shared vocabulary of what an asset sends.
//!
//! A telemetry config names an asset, declares its typed channels, groups them into flows that
//! are sent together, and declares rules over them. Users write configs in YAML, in the format
//! of Sift's `sift_py`, or build them in code; the server registers them, the SDK validates
//! flows against them before sending, and the CLI checks them. This crate sits in front of
//! ingestion: it takes YAML or builder calls and hands on a [`ValidConfig`] whose rules are
//! compiled by the expression language (`sextant-expr`), and it classifies the changes between
//! two versions of a config ([`classify_changes`]) so that incompatible re-registration can be
//! refused with a message that names what changed.

mod change;
mod config;
mod problem;
mod validate;
pub mod yaml;

pub use change::{Change, ChangeSet, classify_changes};
pub use config::{
    ChannelConfig, ChannelReference, ChannelTarget, FlowConfig, RuleConfig, RuleExpression,
    RuleType, SubExpression, TelemetryConfig,
};
pub use problem::{Problem, Problems, SourceMap};
pub use validate::{
    ChannelScope, CompiledRule, NamedExpression, NamedExpressions, ValidConfig, schema_of,
    validate_config, validate_rule,
};
pub use yaml::{
    RuleModule, load_config_file, load_config_str, load_named_expressions, load_rule_modules,
    parse_config_str,
};
