//! Validation of telemetry configs and rules: every problem is reported at once, each with
//! the path of the offending value, and only a config without problems becomes a
//! [`ValidConfig`], which carries each rule compiled for evaluation.

use std::collections::{BTreeMap, HashMap, HashSet};

use sextant_expr::{ChannelSchema, Expr, ExprKind, Program, ReferenceKind};
use sextant_model::DataType;

use crate::config::{
    ChannelConfig, ChannelReference, ChannelTarget, RuleConfig, RuleExpression, TelemetryConfig,
};
use crate::problem::{Problem, Problems};

/// Named expressions loaded from named-expression modules, by name.
#[derive(Debug, Clone, Default)]
pub struct NamedExpressions {
    entries: BTreeMap<String, NamedExpression>,
}

/// One named expression and where it was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedExpression {
    /// The expression text, with `$N` references and `$name` placeholders.
    pub text: String,
    /// `file:line` of its definition, when it came from a file.
    pub origin: Option<String>,
}

impl NamedExpressions {
    /// No named expressions.
    pub fn new() -> Self {
        NamedExpressions::default()
    }

    /// Adds `name`; returns the earlier definition if the name was taken (and keeps it).
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        expression: NamedExpression,
    ) -> Option<&NamedExpression> {
        use std::collections::btree_map::Entry;
        match self.entries.entry(name.into()) {
            Entry::Vacant(slot) => {
                slot.insert(expression);
                None
            }
            Entry::Occupied(slot) => Some(slot.into_mut()),
        }
    }

    /// The expression called `name`.
    pub fn get(&self, name: &str) -> Option<&NamedExpression> {
        self.entries.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A telemetry config that passed validation, with its rules compiled.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    config: TelemetryConfig,
    rules: Vec<CompiledRule>,
}

impl ValidConfig {
    /// The config.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// Each rule of the config, compiled, in the config's order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Gives back the config.
    pub fn into_config(self) -> TelemetryConfig {
        self.config
    }

    /// Gives back the config with each rule's expression resolved, as `sift_py` holds a
    /// loaded config: a named expression replaced by its text and sub-expressions put in
    /// place, so that the config validates again without its named-expression modules.
    pub fn into_resolved_config(self) -> TelemetryConfig {
        let mut config = self.config;
        for (rule, compiled) in config.rules.iter_mut().zip(self.rules) {
            rule.expression = RuleExpression::Text(compiled.expression);
            rule.sub_expressions.clear();
        }
        config
    }
}

/// A rule whose expression resolved, type-checked and compiled.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule as written.
    pub rule: RuleConfig,
    /// The expression text after resolving a named expression (placeholders still in it).
    pub expression_text: String,
    /// The expression as a server stores it: the text as written, or, with sub-expressions,
    /// the expression with them put in place of their placeholders, printed back.
    pub expression: String,
    /// The program; its inputs are the rule's `$N` references.
    pub program: Program,
    /// Each input of the program: the full name of the channel bound to it.
    pub input_channels: Vec<String>,
}

/// The channels a rule may refer to, by full name, or none for a rule checked on its own.
#[derive(Debug, Clone, Copy)]
pub enum ChannelScope<'a> {
    /// Rules of a telemetry config, or rule-module rules checked against an asset's config:
    /// every referenced channel must be declared here.
    Declared(&'a [ChannelConfig]),
    /// A rule module's rule checked on its own: references that carry a whole channel are
    /// type-checked with it; references by name alone cannot be.
    Standalone,
}

/// Validates `config`, reporting every problem. `untyped` lists full names of channels whose
/// data type could not be read, so that rules over them are not reported a second time.
pub fn validate_config(
    config: &TelemetryConfig,
    named: &NamedExpressions,
) -> Result<ValidConfig, Problems> {
    validate_config_with(config, named, &HashSet::new())
}

pub(crate) fn validate_config_with(
    config: &TelemetryConfig,
    named: &NamedExpressions,
    untyped: &HashSet<String>,
) -> Result<ValidConfig, Problems> {
    let mut problems = Vec::new();
    if config.asset_name.trim().is_empty() {
        problems.push(Problem::new("asset_name", "asset_name must not be empty"));
    }
    if config.ingestion_client_key.trim().is_empty() {
        problems.push(Problem::new(
            "ingestion_client_key",
            "ingestion_client_key must not be empty",
        ));
    }

    let mut declared: HashMap<String, usize> = HashMap::new();
    for (i, channel) in config.channels.iter().enumerate() {
        let path = format!("channels[{i}]");
        check_channel(channel, &path, &mut problems);
        let full_name = channel.full_name();
        if let Some(first) = declared.get(&full_name) {
            problems.push(Problem::new(
                path,
                format!("channel `{full_name}` is declared twice (first as channels[{first}])"),
            ));
        } else {
            declared.insert(full_name, i);
        }
    }

    let mut flow_names: HashMap<&str, usize> = HashMap::new();
    for (i, flow) in config.flows.iter().enumerate() {
        let path = format!("flows[{i}]");
        if flow.name.trim().is_empty() {
            problems.push(Problem::new(
                format!("{path}.name"),
                "flow name must not be empty",
            ));
        } else if let Some(first) = flow_names.insert(&flow.name, i) {
            problems.push(Problem::new(
                format!("{path}.name"),
                format!(
                    "flow `{}` is declared twice (first as flows[{first}])",
                    flow.name
                ),
            ));
        }
        if flow.channels.is_empty() {
            problems.push(Problem::new(
                format!("{path}.channels"),
                format!("flow `{}` has no channels", flow.name),
            ));
        }
        let mut seen: HashSet<String> = HashSet::new();
        for (j, channel) in flow.channels.iter().enumerate() {
            let channel_path = format!("{path}.channels[{j}]");
            let full_name = channel.full_name();
            match declared.get(&full_name) {
                None => problems.push(Problem::new(
                    &channel_path,
                    format!(
                        "channel `{full_name}` of flow `{}` is not declared in channels",
                        flow.name
                    ),
                )),
                Some(&d) if config.channels[d] != *channel => problems.push(Problem::new(
                    &channel_path,
                    format!(
                        "channel `{full_name}` of flow `{}` differs from its declaration in channels[{d}]: {}",
                        flow.name,
                        describe_difference(&config.channels[d], channel)
                    ),
                )),
                Some(_) => {}
            }
            if !seen.insert(full_name.clone()) {
                problems.push(Problem::new(
                    channel_path,
                    format!(
                        "channel `{full_name}` appears twice in flow `{}`",
                        flow.name
                    ),
                ));
            }
        }
    }

    let mut compiled = Vec::new();
    let mut rule_names: HashMap<&str, usize> = HashMap::new();
    let mut rule_keys: HashMap<&str, usize> = HashMap::new();
    for (i, rule) in config.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if !rule.name.is_empty()
            && let Some(first) = rule_names.insert(&rule.name, i)
        {
            problems.push(Problem::new(
                format!("{path}.name"),
                format!(
                    "rule `{}` is declared twice (first as rules[{first}])",
                    rule.name
                ),
            ));
        }
        if let Some(key) = rule.rule_client_key.as_deref()
            && !key.is_empty()
            && let Some(first) = rule_keys.insert(key, i)
        {
            problems.push(Problem::new(
                format!("{path}.rule_client_key"),
                format!("rule_client_key `{key}` is used twice (first by rules[{first}])"),
            ));
        }
        for (field, values) in [
            ("asset_names", &rule.asset_names),
            ("tag_names", &rule.tag_names),
        ] {
            if !values.is_empty() {
                problems.push(Problem::new(
                    format!("{path}.{field}"),
                    format!(
                        "{field} is only valid in rule modules; a telemetry config's rules apply to its own asset"
                    ),
                ));
            }
        }
        if let Some(rule) = validate_rule(
            rule,
            &path,
            ChannelScope::Declared(&config.channels),
            named,
            untyped,
            &mut problems,
        ) {
            compiled.push(rule);
        }
    }

    Problems(problems).into_result(ValidConfig {
        config: config.clone(),
        rules: compiled,
    })
}

/// Validates one rule at `path` (e.g. `rules[3]`), appending its problems; returns it compiled
/// when it has none.
pub fn validate_rule(
    rule: &RuleConfig,
    path: &str,
    scope: ChannelScope<'_>,
    named: &NamedExpressions,
    untyped: &HashSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<CompiledRule> {
    if rule.name.trim().is_empty() {
        problems.push(Problem::new(
            format!("{path}.name"),
            "rule name must not be empty",
        ));
    }
    if rule.rule_client_key.as_deref().is_none_or(str::is_empty) {
        problems.push(Problem::new(
            format!("{path}.rule_client_key"),
            format!(
                "rule `{}` has no rule_client_key; one is needed to identify the rule when it is registered again",
                rule.name
            ),
        ));
    }

    for (j, name) in rule.contextual_channels.iter().enumerate() {
        if let ChannelScope::Declared(channels) = scope
            && !channels.iter().any(|c| c.full_name() == *name)
        {
            problems.push(Problem::new(
                format!("{path}.contextual_channels[{j}]"),
                format!("contextual channel `{name}` is not declared in channels"),
            ));
        }
    }

    // Problems from here on are about what the expression refers to; any of them makes type
    // checking meaningless, so it is skipped.
    let before = problems.len();
    let mut bound: Vec<(String, Option<ChannelConfig>)> = Vec::new();
    let mut skip_types = false;
    for (j, reference) in rule.channel_references.iter().enumerate() {
        let ref_path = format!("{path}.channel_references[{j}]");
        if !is_channel_reference(&reference.reference) {
            problems.push(Problem::new(
                &ref_path,
                format!(
                    "`{}` is not a channel reference; expected `$` followed by a number, like `$1`",
                    reference.reference
                ),
            ));
            continue;
        }
        if bound.iter().any(|(r, _)| *r == reference.reference) {
            problems.push(Problem::new(
                &ref_path,
                format!(
                    "`{}` is bound twice in channel_references",
                    reference.reference
                ),
            ));
            continue;
        }
        let channel = resolve_reference(reference, &ref_path, scope, problems);
        if channel.is_none() || untyped.contains(&reference.full_name()) {
            skip_types = true;
        }
        bound.push((reference.reference.clone(), channel));
    }

    let expression_path = format!("{path}.expression");
    let (text, context) = match &rule.expression {
        RuleExpression::Text(text) => (text.clone(), None),
        RuleExpression::Named(name) => match named.get(name) {
            Some(found) => (found.text.clone(), Some((name.as_str(), found))),
            None => {
                let known: Vec<&str> = named.names().collect();
                problems.push(Problem::new(
                    &expression_path,
                    if known.is_empty() {
                        format!(
                            "unknown named expression `{name}`: no named-expression modules are loaded"
                        )
                    } else {
                        format!(
                            "unknown named expression `{name}`; known: {}",
                            known.join(", ")
                        )
                    },
                ));
                return None;
            }
        },
    };
    let describe = |message: &str| match context {
        Some((name, found)) => match &found.origin {
            Some(origin) => format!("in named expression `{name}` ({origin}): {message}"),
            None => format!("in named expression `{name}`: {message}"),
        },
        None => message.to_owned(),
    };
    let expr = match sextant_expr::parse(&text) {
        Ok(expr) => expr,
        Err(diagnostics) => {
            for d in diagnostics {
                problems.push(Problem::new(
                    &expression_path,
                    describe(&format!(
                        "{} (column {})",
                        d.message,
                        column(&text, d.span.start)
                    )),
                ));
            }
            return None;
        }
    };

    // Sub-expressions replace placeholders.
    let mut subs: HashMap<String, Expr> = HashMap::new();
    for (j, sub) in rule.sub_expressions.iter().enumerate() {
        let sub_path = format!("{path}.sub_expressions[{j}]");
        if !is_placeholder(&sub.placeholder) {
            problems.push(Problem::new(
                &sub_path,
                format!(
                    "`{}` is not a placeholder; expected `$` followed by letters, digits or `_`, like `$threshold`",
                    sub.placeholder
                ),
            ));
            continue;
        }
        match sextant_expr::parse(&sub.expression) {
            Ok(parsed) => {
                if subs.insert(sub.placeholder.clone(), parsed).is_some() {
                    problems.push(Problem::new(
                        &sub_path,
                        format!("`{}` is given twice in sub_expressions", sub.placeholder),
                    ));
                }
            }
            Err(diagnostics) => {
                for d in diagnostics {
                    problems.push(Problem::new(
                        &sub_path,
                        format!(
                            "sub-expression for `{}`: {} (column {})",
                            sub.placeholder,
                            d.message,
                            column(&sub.expression, d.span.start)
                        ),
                    ));
                }
            }
        }
    }
    let placeholders: Vec<String> = unique(
        expr.references()
            .into_iter()
            .filter(|r| r.kind == ReferenceKind::Placeholder)
            .map(|r| r.name),
    );
    for placeholder in &placeholders {
        if !rule
            .sub_expressions
            .iter()
            .any(|s| s.placeholder == *placeholder)
        {
            problems.push(Problem::new(
                &expression_path,
                describe(&format!(
                    "placeholder `{placeholder}` has no sub-expression in sub_expressions"
                )),
            ));
        }
    }
    for (j, sub) in rule.sub_expressions.iter().enumerate() {
        if is_placeholder(&sub.placeholder) && !placeholders.contains(&sub.placeholder) {
            problems.push(Problem::new(
                format!("{path}.sub_expressions[{j}]"),
                format!(
                    "sub-expression `{}` is not used: the expression has no such placeholder",
                    sub.placeholder
                ),
            ));
        }
    }
    let expr = expr.substitute(&subs);

    // Every reference used is bound, and every one bound is used.
    let used: Vec<String> = unique(
        expr.references()
            .into_iter()
            .filter(|r| r.kind == ReferenceKind::Channel)
            .map(|r| r.name),
    );
    for reference in &used {
        if !rule
            .channel_references
            .iter()
            .any(|r| r.reference == *reference)
        {
            problems.push(Problem::new(
                &expression_path,
                describe(&format!("{reference} is not bound in channel_references")),
            ));
        }
    }
    for (j, reference) in rule.channel_references.iter().enumerate() {
        if is_channel_reference(&reference.reference) && !used.contains(&reference.reference) {
            problems.push(Problem::new(
                format!("{path}.channel_references[{j}]"),
                format!(
                    "{} is bound to `{}` but not used in the expression",
                    reference.reference,
                    reference.full_name()
                ),
            ));
        }
    }

    if problems.len() > before || skip_types {
        return None;
    }
    let schemas: Vec<(String, ChannelSchema)> = bound
        .iter()
        .filter_map(|(reference, channel)| {
            channel.as_ref().map(|c| (reference.clone(), schema_of(c)))
        })
        .collect();
    match sextant_expr::compile(&expr, &schemas) {
        Ok(program) => {
            let input_channels = program
                .inputs()
                .iter()
                .map(|input| {
                    rule.channel_references
                        .iter()
                        .find(|r| r.reference == *input)
                        .map(ChannelReference::full_name)
                        .unwrap_or_default()
                })
                .collect();
            Some(CompiledRule {
                rule: rule.clone(),
                expression_text: text.clone(),
                expression: if rule.sub_expressions.is_empty() {
                    text.clone()
                } else {
                    unparenthesized(&expr)
                },
                program,
                input_channels,
            })
        }
        Err(diagnostics) => {
            for d in diagnostics {
                problems.push(Problem::new(&expression_path, describe(&d.message)));
            }
            None
        }
    }
}

/// The type-checking view of a channel.
pub fn schema_of(channel: &ChannelConfig) -> ChannelSchema {
    ChannelSchema {
        data_type: channel.data_type,
        enum_types: channel.enum_types.clone(),
        bit_field_elements: channel.bit_field_elements.clone(),
    }
}

fn resolve_reference(
    reference: &ChannelReference,
    path: &str,
    scope: ChannelScope<'_>,
    problems: &mut Vec<Problem>,
) -> Option<ChannelConfig> {
    let full_name = reference.full_name();
    match scope {
        ChannelScope::Standalone => match &reference.channel {
            ChannelTarget::Config(channel) => {
                let mut own = Vec::new();
                check_channel(channel, path, &mut own);
                let ok = own.is_empty();
                problems.extend(own);
                ok.then(|| channel.clone())
            }
            ChannelTarget::Name(_) => None,
        },
        ChannelScope::Declared(channels) => {
            match channels.iter().find(|c| c.full_name() == full_name) {
                None => {
                    problems.push(Problem::new(
                        path,
                        format!(
                            "{} refers to channel `{full_name}`, which is not declared in channels",
                            reference.reference
                        ),
                    ));
                    None
                }
                Some(declared) => {
                    if let ChannelTarget::Config(given) = &reference.channel
                        && given != declared
                    {
                        problems.push(Problem::new(
                            path,
                            format!(
                                "{} refers to channel `{full_name}` but differs from its declaration: {}",
                                reference.reference,
                                describe_difference(declared, given)
                            ),
                        ));
                        return None;
                    }
                    Some(declared.clone())
                }
            }
        }
    }
}

/// Checks one channel's own fields.
pub(crate) fn check_channel(channel: &ChannelConfig, path: &str, problems: &mut Vec<Problem>) {
    let full_name = channel.full_name();
    if channel.name.trim().is_empty() {
        problems.push(Problem::new(
            format!("{path}.name"),
            "channel name must not be empty",
        ));
    }
    match channel.data_type {
        DataType::Enum => {
            if channel.enum_types.is_empty() {
                problems.push(Problem::new(
                    format!("{path}.enum_types"),
                    format!("enum channel `{full_name}` needs enum_types"),
                ));
            }
            let mut keys: HashMap<u32, usize> = HashMap::new();
            let mut names: HashMap<&str, usize> = HashMap::new();
            for (j, e) in channel.enum_types.iter().enumerate() {
                let e_path = format!("{path}.enum_types[{j}]");
                if e.name.trim().is_empty() {
                    problems.push(Problem::new(
                        format!("{e_path}.name"),
                        "enum name must not be empty",
                    ));
                }
                if let Some(first) = keys.insert(e.key, j) {
                    problems.push(Problem::new(
                        format!("{e_path}.key"),
                        format!(
                            "enum key {} of channel `{full_name}` is used twice (`{}` and `{}`)",
                            display_key(e.key, e.is_signed),
                            channel.enum_types[first].name,
                            e.name
                        ),
                    ));
                }
                if let Some(first) = names.insert(&e.name, j) {
                    problems.push(Problem::new(
                        format!("{e_path}.name"),
                        format!(
                            "enum name `{}` of channel `{full_name}` is used twice (keys {} and {})",
                            e.name,
                            display_key(channel.enum_types[first].key, channel.enum_types[first].is_signed),
                            display_key(e.key, e.is_signed)
                        ),
                    ));
                }
            }
        }
        _ if !channel.enum_types.is_empty() => problems.push(Problem::new(
            format!("{path}.enum_types"),
            format!(
                "enum_types are only for enum channels; `{full_name}` is {}",
                channel.data_type
            ),
        )),
        _ => {}
    }
    match channel.data_type {
        DataType::BitField => check_bit_field(channel, path, &full_name, problems),
        _ if !channel.bit_field_elements.is_empty() => problems.push(Problem::new(
            format!("{path}.bit_field_elements"),
            format!(
                "bit_field_elements are only for bit_field channels; `{full_name}` is {}",
                channel.data_type
            ),
        )),
        _ => {}
    }
}

fn check_bit_field(
    channel: &ChannelConfig,
    path: &str,
    full_name: &str,
    problems: &mut Vec<Problem>,
) {
    if channel.bit_field_elements.is_empty() {
        problems.push(Problem::new(
            format!("{path}.bit_field_elements"),
            format!("bit_field channel `{full_name}` needs bit_field_elements"),
        ));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (j, e) in channel.bit_field_elements.iter().enumerate() {
        let e_path = format!("{path}.bit_field_elements[{j}]");
        if e.name.trim().is_empty() {
            problems.push(Problem::new(
                format!("{e_path}.name"),
                "bit-field element name must not be empty",
            ));
        } else if let Some(first) = names.insert(&e.name, j) {
            problems.push(Problem::new(
                format!("{e_path}.name"),
                format!(
                    "bit-field element `{}` of channel `{full_name}` is declared twice (first as bit_field_elements[{first}])",
                    e.name
                ),
            ));
        }
        let end = u64::from(e.index) + u64::from(e.bit_count);
        if e.bit_count == 0 {
            problems.push(Problem::new(
                format!("{e_path}.bit_count"),
                format!("bit-field element `{}` is empty: bit_count is 0", e.name),
            ));
        } else if end > 64 {
            problems.push(Problem::new(
                &e_path,
                format!(
                    "bit-field element `{}` spans bits {}..{} (index {}, bit_count {}), beyond the 64 bits a bit field can hold",
                    e.name,
                    e.index,
                    end - 1,
                    e.index,
                    e.bit_count
                ),
            ));
        }
        for (k, other) in channel.bit_field_elements[..j].iter().enumerate() {
            let other_end = u64::from(other.index) + u64::from(other.bit_count);
            if e.bit_count > 0
                && other.bit_count > 0
                && u64::from(e.index) < other_end
                && u64::from(other.index) < end
            {
                problems.push(Problem::new(
                    &e_path,
                    format!(
                        "bit-field element `{}` (bits {}..{}) overlaps `{}` (bits {}..{}, bit_field_elements[{k}])",
                        e.name,
                        e.index,
                        end - 1,
                        other.name,
                        other.index,
                        other_end - 1
                    ),
                ));
            }
        }
    }
}

fn display_key(key: u32, is_signed: bool) -> String {
    if is_signed {
        (key as i32).to_string()
    } else {
        key.to_string()
    }
}

/// Which fields of two channels of the same name differ, for messages.
pub(crate) fn describe_difference(a: &ChannelConfig, b: &ChannelConfig) -> String {
    let mut fields = Vec::new();
    if a.data_type != b.data_type {
        fields.push(format!("data_type {} vs {}", a.data_type, b.data_type));
    }
    if a.unit != b.unit {
        let unit = |u: &Option<String>| match u {
            Some(unit) => format!("`{unit}`"),
            None => "none".to_owned(),
        };
        fields.push(format!("unit {} vs {}", unit(&a.unit), unit(&b.unit)));
    }
    if a.description != b.description {
        fields.push("description".to_owned());
    }
    if a.enum_types != b.enum_types {
        fields.push("enum_types".to_owned());
    }
    if a.bit_field_elements != b.bit_field_elements {
        fields.push("bit_field_elements".to_owned());
    }
    if fields.is_empty() {
        "no field differs".to_owned()
    } else {
        fields.join(", ")
    }
}

fn is_channel_reference(s: &str) -> bool {
    s.strip_prefix('$')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn is_placeholder(s: &str) -> bool {
    s.strip_prefix('$').is_some_and(|d| {
        !d.is_empty()
            && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !d.bytes().all(|b| b.is_ascii_digit())
    })
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The 1-based column (in characters) of byte offset `at` in `text`.
fn column(text: &str, at: usize) -> usize {
    let prefix = text.get(..at).unwrap_or(text);
    let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
    prefix[line_start..].chars().count() + 1
}

/// An expression printed back without the parentheses around the whole of it: `$1 > 400`.
fn unparenthesized(expr: &Expr) -> String {
    let text = expr.to_string();
    match expr.kind() {
        ExprKind::Unary { .. } | ExprKind::Binary { .. } => text[1..text.len() - 1].to_owned(),
        _ => text,
    }
}
