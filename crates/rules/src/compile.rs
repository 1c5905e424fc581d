//! A stored rule made ready to evaluate over one asset: its expression parsed and type-checked
//! against that asset's channels.

use sextant_catalog::{Channel, Rule};
use sextant_expr::{ChannelSchema, Program, compile, parse};

use crate::error::{Error, Result};

/// A rule compiled for one asset.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule as stored.
    pub rule: Rule,
    /// The program; its inputs are the references the expression uses.
    pub program: Program,
    /// For each input of the program, in order: the full name of its channel.
    pub input_channels: Vec<String>,
}

/// The type-checking schema of a catalog channel.
pub fn schema_of(channel: &Channel) -> ChannelSchema {
    ChannelSchema {
        data_type: channel.def.data_type,
        enum_types: channel.def.enum_types.clone(),
        bit_field_elements: channel.def.bit_field_elements.clone(),
    }
}

/// Parses and type-checks `rule`'s expression against `channels` (the channels of one asset,
/// found by the full names of the rule's references). A reference whose channel is not among
/// them, a syntax error or a type error is an error naming the rule, the expression and the
/// problem.
pub fn compile_rule(rule: &Rule, asset_name: &str, channels: &[Channel]) -> Result<CompiledRule> {
    let def = &rule.def;
    let invalid = |detail: String| Error::InvalidRule {
        rule: def.name.clone(),
        detail,
    };
    let expr = parse(&def.expression).map_err(|diagnostics| {
        invalid(format!(
            "expression `{}`: {}",
            def.expression,
            diagnostics
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let mut bound = Vec::with_capacity(def.channel_references.len());
    for (reference, channel_name) in &def.channel_references {
        let channel = channels
            .iter()
            .find(|c| c.def.name == *channel_name)
            .ok_or_else(|| {
                invalid(format!(
                    "{reference} refers to channel `{channel_name}`, which asset `{asset_name}` does not have"
                ))
            })?;
        bound.push((reference.clone(), schema_of(channel), channel_name.clone()));
    }
    let schemas: Vec<(String, ChannelSchema)> = bound
        .iter()
        .map(|(reference, schema, _)| (reference.clone(), schema.clone()))
        .collect();
    let program = compile(&expr, &schemas).map_err(|diagnostics| {
        invalid(format!(
            "expression `{}` over asset `{asset_name}`: {}",
            def.expression,
            diagnostics
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let input_channels = program
        .inputs()
        .iter()
        .map(|input| {
            bound
                .iter()
                .find(|(reference, _, _)| reference == input)
                .map(|(_, _, channel)| channel.clone())
                .unwrap_or_default()
        })
        .collect();
    Ok(CompiledRule {
        rule: rule.clone(),
        program,
        input_channels,
    })
}

/// A diagnostic on one line: its message and where in the expression it points.
fn describe(diagnostic: &sextant_expr::Diagnostic) -> String {
    format!("{} (at byte {})", diagnostic.message, diagnostic.span.start)
}
