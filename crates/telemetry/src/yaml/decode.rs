//! Turns YAML nodes into the config model, recording the line of every value and reporting
//! every shape problem (a list where a mapping belongs, an unknown key, an unknown data type)
//! without stopping at the first.

use std::collections::HashSet;

use sextant_model::{BitFieldElement, DataType, EnumType};

use super::node::{Node, NodeKind};
use crate::config::{
    ChannelConfig, ChannelReference, ChannelTarget, FlowConfig, RuleConfig, RuleExpression,
    RuleType, SubExpression, TelemetryConfig,
};
use crate::problem::{Problem, SourceMap};

const CONFIG_KEYS: &[&str] = &[
    "asset_name",
    "ingestion_client_key",
    "organization_id",
    "channels",
    "flows",
    "rules",
];
const CHANNEL_KEYS: &[&str] = &[
    "name",
    "component",
    "data_type",
    "unit",
    "description",
    "enum_types",
    "bit_field_elements",
];
const FLOW_KEYS: &[&str] = &["name", "channels"];
const RULE_KEYS: &[&str] = &[
    "name",
    "rule_client_key",
    "description",
    "expression",
    "type",
    "assignee",
    "tags",
    "channel_references",
    "contextual_channels",
    "sub_expressions",
    "asset_names",
    "tag_names",
    "is_external",
    "is_live",
    "is_live_evaluation_enabled",
];

/// The decoder's state: problems found and lines recorded so far.
#[derive(Debug)]
pub(crate) struct Decoder {
    pub problems: Vec<Problem>,
    pub map: SourceMap,
    /// Full names of channels whose data type could not be read.
    pub untyped: HashSet<String>,
    /// (line, message) of every problem so far: an aliased channel is decoded again at each
    /// use, and its own problems are reported once, where it is defined.
    seen: HashSet<(usize, String)>,
}

impl Decoder {
    pub fn new(map: SourceMap) -> Self {
        Decoder {
            problems: Vec::new(),
            map,
            untyped: HashSet::new(),
            seen: HashSet::new(),
        }
    }

    fn problem(&mut self, path: &str, line: usize, message: String) {
        if self.seen.insert((line, message.clone())) {
            self.map.record(path, line);
            self.problems.push(Problem::new(path, message));
        }
    }

    /// The entries of a mapping with only `allowed` keys; unknown keys are reported.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<Vec<(&'n str, &'n Node)>> {
        self.map.record(path, node.line);
        let Some(entries) = node.as_map() else {
            self.problem(
                path,
                node.line,
                format!("expected {what} as a mapping, found {}", node.describe()),
            );
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                self.problem(path, key.line, format!("{what} keys must be text"));
                continue;
            };
            if allowed.contains(&name) {
                let field_path = join(path, name);
                self.map.record(&field_path, value.line);
                out.push((name, value));
            } else {
                let hint = suggest(name, allowed)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("; expected one of {}", allowed.join(", ")));
                self.problem(
                    &join(path, name),
                    key.line,
                    format!("unknown key `{name}` in {what}{hint}"),
                );
            }
        }
        Some(out)
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.as_scalar() {
            Some(text) if !node.is_null() => Some(text.to_owned()),
            _ => {
                self.problem(
                    path,
                    node.line,
                    format!("expected text, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn optional_string(&mut self, node: Option<&Node>, path: &str) -> Option<String> {
        match node {
            None => None,
            Some(n) if n.is_null() => None,
            Some(n) => self.string(n, path),
        }
    }

    fn bool(&mut self, node: Option<&Node>, path: &str) -> bool {
        match node {
            None => false,
            Some(n) => n.as_bool().unwrap_or_else(|| {
                self.problem(
                    path,
                    n.line,
                    format!("expected true or false, found {}", n.describe()),
                );
                false
            }),
        }
    }

    fn integer(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
        match node.as_i64() {
            Some(v) if (min..=max).contains(&v) => Some(v),
            Some(v) => {
                self.problem(
                    path,
                    node.line,
                    format!("{v} is out of range: expected {min} to {max}"),
                );
                None
            }
            None => {
                self.problem(
                    path,
                    node.line,
                    format!("expected a whole number, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn list<'n>(&mut self, node: Option<&'n Node>, path: &str) -> &'n [Node] {
        match node {
            None => &[],
            Some(n) if n.is_null() => &[],
            Some(n) => match n.as_seq() {
                Some(items) => items,
                None => {
                    self.problem(
                        path,
                        n.line,
                        format!("expected a list, found {}", n.describe()),
                    );
                    &[]
                }
            },
        }
    }

    fn strings(&mut self, node: Option<&Node>, path: &str) -> Vec<String> {
        let items = self.list(node, path);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            self.map.record(&item_path, item.line);
            if let Some(s) = self.string(item, &item_path) {
                out.push(s);
            }
        }
        out
    }

    /// Decodes a whole telemetry config document.
    pub fn config(&mut self, root: &Node) -> TelemetryConfig {
        let mut config = TelemetryConfig::default();
        let Some(fields) = self.fields(root, "", "a telemetry config", CONFIG_KEYS) else {
            return config;
        };
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        for required in ["asset_name", "ingestion_client_key"] {
            if get(required).is_none() {
                self.problem(required, root.line, format!("{required} is required"));
            }
        }
        if let Some(n) = get("asset_name") {
            config.asset_name = self.string(n, "asset_name").unwrap_or_default();
        }
        if let Some(n) = get("ingestion_client_key") {
            config.ingestion_client_key =
                self.string(n, "ingestion_client_key").unwrap_or_default();
        }
        config.organization_id = self.optional_string(get("organization_id"), "organization_id");

        if let Some(channels) = get("channels").filter(|n| !n.is_null()) {
            match &channels.kind {
                NodeKind::Map(entries) => {
                    for (key, value) in entries {
                        let index = config.channels.len();
                        let model_path = format!("channels[{index}]");
                        if let Some(anchor) = key.as_scalar() {
                            self.map.spell(&model_path, &format!("channels.{anchor}"));
                        }
                        if let Some(c) = self.channel(value, &model_path) {
                            config.channels.push(c);
                        }
                    }
                }
                NodeKind::Seq(items) => {
                    for item in items {
                        let path = format!("channels[{}]", config.channels.len());
                        if let Some(c) = self.channel(item, &path) {
                            config.channels.push(c);
                        }
                    }
                }
                NodeKind::Scalar { .. } => self.problem(
                    "channels",
                    channels.line,
                    format!(
                        "expected channels as a mapping of names to channels, found {}",
                        channels.describe()
                    ),
                ),
            }
        }

        for (i, item) in self.list(get("flows"), "flows").iter().enumerate() {
            let path = format!("flows[{i}]");
            if let Some(flow) = self.flow(item, &path, &config.channels) {
                config.flows.push(flow);
            }
        }
        for (i, item) in self.list(get("rules"), "rules").iter().enumerate() {
            let path = format!("rules[{i}]");
            if let Some(rule) = self.rule(item, &path) {
                config.rules.push(rule);
            }
        }
        config
    }

    /// Decodes a channel. A channel whose data type cannot be read is still returned (typed
    /// as bytes, its name remembered in `untyped`) so that flows and rules naming it are not
    /// reported as naming an undeclared channel.
    pub fn channel(&mut self, node: &Node, path: &str) -> Option<ChannelConfig> {
        let fields = self.fields(node, path, "a channel", CHANNEL_KEYS)?;
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let Some(name_node) = get("name") else {
            self.problem(path, node.line, "a channel needs a name".to_owned());
            return None;
        };
        let name = self.string(name_node, &join(path, "name"))?;
        let mut channel = ChannelConfig::new(name, DataType::Bytes);
        channel.component = self.optional_string(get("component"), &join(path, "component"));
        channel.unit = self.optional_string(get("unit"), &join(path, "unit"));
        channel.description = self.optional_string(get("description"), &join(path, "description"));
        let type_path = join(path, "data_type");
        match get("data_type") {
            None => {
                self.problem(
                    &type_path,
                    node.line,
                    format!("channel `{}` needs a data_type", channel.full_name()),
                );
                self.untyped.insert(channel.full_name());
            }
            Some(n) => match self.string(n, &type_path).map(|s| s.parse::<DataType>()) {
                Some(Ok(t)) => channel.data_type = t,
                Some(Err(e)) => {
                    self.problem(&type_path, n.line, e.to_string());
                    self.untyped.insert(channel.full_name());
                }
                None => {
                    self.untyped.insert(channel.full_name());
                }
            },
        }
        let enum_path = join(path, "enum_types");
        for (i, item) in self.list(get("enum_types"), &enum_path).iter().enumerate() {
            let item_path = format!("{enum_path}[{i}]");
            let Some(f) = self.fields(
                item,
                &item_path,
                "an enum type",
                &["name", "key", "is_signed"],
            ) else {
                continue;
            };
            let get = |name: &str| f.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            let is_signed = self.bool(get("is_signed"), &join(&item_path, "is_signed"));
            let name = match get("name") {
                Some(n) => self.string(n, &join(&item_path, "name")),
                None => {
                    self.problem(
                        &item_path,
                        item.line,
                        "an enum type needs a name".to_owned(),
                    );
                    None
                }
            };
            let (min, max) = if is_signed {
                (i64::from(i32::MIN), i64::from(i32::MAX))
            } else {
                (0, i64::from(u32::MAX))
            };
            let key = match get("key") {
                Some(n) => self.integer(n, &join(&item_path, "key"), min, max),
                None => {
                    self.problem(&item_path, item.line, "an enum type needs a key".to_owned());
                    None
                }
            };
            if let (Some(name), Some(key)) = (name, key) {
                // A signed key is kept as the u32 with the same bits, as on the wire.
                channel.enum_types.push(EnumType {
                    name,
                    key: key as i32 as u32,
                    is_signed,
                });
            }
        }
        let bits_path = join(path, "bit_field_elements");
        for (i, item) in self
            .list(get("bit_field_elements"), &bits_path)
            .iter()
            .enumerate()
        {
            let item_path = format!("{bits_path}[{i}]");
            let Some(f) = self.fields(
                item,
                &item_path,
                "a bit-field element",
                &["name", "index", "bit_count"],
            ) else {
                continue;
            };
            let get = |name: &str| f.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            let part = |field: &str, this: &mut Self| -> Option<i64> {
                match get(field) {
                    Some(n) => this.integer(n, &join(&item_path, field), 0, i64::from(u32::MAX)),
                    None => {
                        this.problem(
                            &item_path,
                            item.line,
                            format!("a bit-field element needs {field}"),
                        );
                        None
                    }
                }
            };
            let name = match get("name") {
                Some(n) => self.string(n, &join(&item_path, "name")),
                None => {
                    self.problem(
                        &item_path,
                        item.line,
                        "a bit-field element needs a name".to_owned(),
                    );
                    None
                }
            };
            let index = part("index", self);
            let bit_count = part("bit_count", self);
            if let (Some(name), Some(index), Some(bit_count)) = (name, index, bit_count) {
                channel.bit_field_elements.push(BitFieldElement::new(
                    name,
                    index as u32,
                    bit_count as u32,
                ));
            }
        }
        Some(channel)
    }

    fn flow(&mut self, node: &Node, path: &str, declared: &[ChannelConfig]) -> Option<FlowConfig> {
        let fields = self.fields(node, path, "a flow", FLOW_KEYS)?;
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        // A missing name is reported by validation, as an empty one.
        let name = match get("name") {
            Some(n) => self.string(n, &join(path, "name")).unwrap_or_default(),
            None => String::new(),
        };
        let channels_path = join(path, "channels");
        let mut channels = Vec::new();
        for (i, item) in self
            .list(get("channels"), &channels_path)
            .iter()
            .enumerate()
        {
            let item_path = format!("{channels_path}[{i}]");
            self.map.record(&item_path, item.line);
            if let Some(full_name) = item.as_scalar().filter(|_| !item.is_null()) {
                // A channel named by its full name instead of an alias.
                match declared.iter().find(|c| c.full_name() == full_name) {
                    Some(c) => channels.push(c.clone()),
                    None => self.problem(
                        &item_path,
                        item.line,
                        format!(
                            "channel `{full_name}` of flow `{name}` is not declared in channels"
                        ),
                    ),
                }
            } else if let Some(c) = self.channel(item, &item_path) {
                channels.push(c);
            }
        }
        Some(FlowConfig { name, channels })
    }

    /// Decodes a rule, of a telemetry config or of a rule module.
    pub fn rule(&mut self, node: &Node, path: &str) -> Option<RuleConfig> {
        let fields = self.fields(node, path, "a rule", RULE_KEYS)?;
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        // A missing name is reported by validation, as an empty one.
        let name = match get("name") {
            Some(n) => self.string(n, &join(path, "name")).unwrap_or_default(),
            None => String::new(),
        };
        let expression_path = join(path, "expression");
        let expression = match get("expression") {
            None => {
                self.problem(
                    &expression_path,
                    node.line,
                    format!("rule `{name}` needs an expression"),
                );
                return None;
            }
            Some(n) => match &n.kind {
                NodeKind::Map(_) => {
                    let f = self.fields(
                        n,
                        &expression_path,
                        "a named-expression reference",
                        &["name"],
                    )?;
                    match f.first() {
                        Some((_, v)) => {
                            RuleExpression::Named(self.string(v, &join(&expression_path, "name"))?)
                        }
                        None => {
                            self.problem(
                                &expression_path,
                                n.line,
                                "a named-expression reference needs a name".to_owned(),
                            );
                            return None;
                        }
                    }
                }
                _ => RuleExpression::Text(self.string(n, &expression_path)?),
            },
        };
        let type_path = join(path, "type");
        let rule_type = match get("type") {
            None => {
                self.problem(
                    &type_path,
                    node.line,
                    format!("rule `{name}` needs a type: review or phase"),
                );
                RuleType::Review
            }
            Some(n) => match n.as_scalar() {
                Some("review") => RuleType::Review,
                Some("phase") => RuleType::Phase,
                _ => {
                    self.problem(
                        &type_path,
                        n.line,
                        format!(
                            "unknown rule type {}: expected review or phase",
                            n.describe()
                        ),
                    );
                    RuleType::Review
                }
            },
        };
        let mut rule = RuleConfig::new(name, rule_type, expression);
        rule.rule_client_key =
            self.optional_string(get("rule_client_key"), &join(path, "rule_client_key"));
        rule.description = self.optional_string(get("description"), &join(path, "description"));
        rule.assignee = self.optional_string(get("assignee"), &join(path, "assignee"));
        rule.tags = self.strings(get("tags"), &join(path, "tags"));
        rule.asset_names = self.strings(get("asset_names"), &join(path, "asset_names"));
        rule.tag_names = self.strings(get("tag_names"), &join(path, "tag_names"));
        rule.is_external = self.bool(get("is_external"), &join(path, "is_external"));
        rule.is_live = self.bool(get("is_live"), &join(path, "is_live"))
            || self.bool(
                get("is_live_evaluation_enabled"),
                &join(path, "is_live_evaluation_enabled"),
            );

        let refs_path = join(path, "channel_references");
        for (i, item) in self
            .list(get("channel_references"), &refs_path)
            .iter()
            .enumerate()
        {
            let item_path = format!("{refs_path}[{i}]");
            for (reference, value) in self.single_entries(item, &item_path, "a channel reference") {
                let channel = match value.as_scalar().filter(|_| !value.is_null()) {
                    Some(full_name) => ChannelTarget::Name(full_name.to_owned()),
                    None => match self.channel(value, &item_path) {
                        Some(c) => ChannelTarget::Config(c),
                        None => continue,
                    },
                };
                rule.channel_references
                    .push(ChannelReference { reference, channel });
            }
        }
        let context_path = join(path, "contextual_channels");
        for (i, item) in self
            .list(get("contextual_channels"), &context_path)
            .iter()
            .enumerate()
        {
            let item_path = format!("{context_path}[{i}]");
            self.map.record(&item_path, item.line);
            if item.as_map().is_some() {
                // `- name: log`, as the seed's examples write it.
                if let Some(f) = self.fields(
                    item,
                    &item_path,
                    "a contextual channel",
                    &["name", "component"],
                ) {
                    let get = |name: &str| f.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
                    let name = get("name").and_then(|n| self.string(n, &join(&item_path, "name")));
                    let component =
                        self.optional_string(get("component"), &join(&item_path, "component"));
                    match (name, component) {
                        (Some(n), Some(c)) => rule.contextual_channels.push(format!("{c}.{n}")),
                        (Some(n), None) => rule.contextual_channels.push(n),
                        (None, _) => self.problem(
                            &item_path,
                            item.line,
                            "a contextual channel needs a name".to_owned(),
                        ),
                    }
                }
            } else if let Some(s) = self.string(item, &item_path) {
                rule.contextual_channels.push(s);
            }
        }
        let subs_path = join(path, "sub_expressions");
        for (i, item) in self
            .list(get("sub_expressions"), &subs_path)
            .iter()
            .enumerate()
        {
            let item_path = format!("{subs_path}[{i}]");
            for (placeholder, value) in self.single_entries(item, &item_path, "a sub-expression") {
                if let Some(expression) = self.string(value, &item_path) {
                    rule.sub_expressions.push(SubExpression {
                        placeholder,
                        expression,
                    });
                }
            }
        }
        Some(rule)
    }

    /// The entries of a list item written `- $1: value` (one or more keys per item).
    fn single_entries<'n>(
        &mut self,
        item: &'n Node,
        path: &str,
        what: &str,
    ) -> Vec<(String, &'n Node)> {
        self.map.record(path, item.line);
        let Some(entries) = item.as_map() else {
            self.problem(
                path,
                item.line,
                format!(
                    "expected {what} written `$key: value`, found {}",
                    item.describe()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            match key.as_scalar() {
                Some(k) => out.push((k.to_owned(), value)),
                None => self.problem(path, key.line, format!("{what} key must be text")),
            }
        }
        out
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The allowed word closest to a misspelt one, if any is close.
pub(crate) fn suggest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    sextant_expr::did_you_mean(word, allowed.iter().copied())
}
