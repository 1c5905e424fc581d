//! Change classification between two versions of a telemetry config registered under the
//! same `ingestion_client_key`.
//!
//! Following Sift's rules, adding or removing channels, flows and rules, removing a channel
//! from a flow, and updating rules are compatible: the server takes them in place. Changing an
//! existing channel, adding a channel to an existing flow, or moving the config to another
//! asset are not: data already sent under the key would change meaning, so the user must pick a
//! new `ingestion_client_key`. Each [`Change`] names exactly what changed.

use std::fmt;

use crate::config::{ChannelConfig, RuleConfig, TelemetryConfig};
use crate::validate::describe_difference;

/// One difference between two versions of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The config now belongs to another asset.
    AssetChanged {
        /// The registered asset.
        from: String,
        /// The asset of the new version.
        to: String,
    },
    /// A channel was declared.
    ChannelAdded {
        /// Its full name.
        channel: String,
    },
    /// A channel is no longer declared.
    ChannelRemoved {
        /// Its full name.
        channel: String,
    },
    /// A channel of the same full name has different fields.
    ChannelChanged {
        /// Its full name.
        channel: String,
        /// What differs, e.g. `data_type double vs float`.
        difference: String,
    },
    /// A flow was added.
    FlowAdded {
        /// Its name.
        flow: String,
    },
    /// A flow was removed.
    FlowRemoved {
        /// Its name.
        flow: String,
    },
    /// An existing flow sends a channel it did not send before.
    FlowChannelAdded {
        /// The flow's name.
        flow: String,
        /// The channel's full name.
        channel: String,
    },
    /// An existing flow no longer sends a channel.
    FlowChannelRemoved {
        /// The flow's name.
        flow: String,
        /// The channel's full name.
        channel: String,
    },
    /// An existing flow sends the same channels in another order. The registered order stays
    /// authoritative for positional values, so this is compatible.
    FlowChannelsReordered {
        /// The flow's name.
        flow: String,
    },
    /// A rule was added.
    RuleAdded {
        /// Its client key, or its name without one.
        rule: String,
    },
    /// A rule was removed.
    RuleRemoved {
        /// Its client key, or its name without one.
        rule: String,
    },
    /// A rule with the same client key changed.
    RuleUpdated {
        /// Its client key, or its name without one.
        rule: String,
        /// The fields that changed.
        fields: Vec<&'static str>,
    },
}

impl Change {
    /// Whether the server can take this change under the same `ingestion_client_key`.
    pub fn is_compatible(&self) -> bool {
        !matches!(
            self,
            Change::AssetChanged { .. }
                | Change::ChannelChanged { .. }
                | Change::FlowChannelAdded { .. }
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AssetChanged { from, to } => {
                write!(f, "asset changed from `{from}` to `{to}`")
            }
            Change::ChannelAdded { channel } => write!(f, "channel `{channel}` added"),
            Change::ChannelRemoved { channel } => write!(f, "channel `{channel}` removed"),
            Change::ChannelChanged {
                channel,
                difference,
            } => write!(f, "channel `{channel}` changed: {difference}"),
            Change::FlowAdded { flow } => write!(f, "flow `{flow}` added"),
            Change::FlowRemoved { flow } => write!(f, "flow `{flow}` removed"),
            Change::FlowChannelAdded { flow, channel } => {
                write!(f, "channel `{channel}` added to existing flow `{flow}`")
            }
            Change::FlowChannelRemoved { flow, channel } => {
                write!(f, "channel `{channel}` removed from flow `{flow}`")
            }
            Change::FlowChannelsReordered { flow } => {
                write!(f, "channels of flow `{flow}` reordered")
            }
            Change::RuleAdded { rule } => write!(f, "rule `{rule}` added"),
            Change::RuleRemoved { rule } => write!(f, "rule `{rule}` removed"),
            Change::RuleUpdated { rule, fields } => {
                write!(f, "rule `{rule}` updated: {}", fields.join(", "))
            }
        }
    }
}

/// Every difference between two versions of a config, in a stable order: asset, channels,
/// flows, rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSet {
    /// The differences.
    pub changes: Vec<Change>,
}

impl ChangeSet {
    /// Whether the versions are the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether every change can be taken under the same key.
    pub fn is_compatible(&self) -> bool {
        self.changes.iter().all(Change::is_compatible)
    }

    /// The changes that need a new `ingestion_client_key`.
    pub fn incompatible(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.is_compatible())
    }
}

impl fmt::Display for ChangeSet {
    /// The incompatible changes (or all, when all are compatible), separated by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = if self.is_compatible() {
            self.changes.iter().map(ToString::to_string).collect()
        } else {
            self.incompatible().map(ToString::to_string).collect()
        };
        if shown.is_empty() {
            return f.write_str("no changes");
        }
        f.write_str(&shown.join("; "))?;
        if !self.is_compatible() {
            f.write_str(": these need a new ingestion_client_key")?;
        }
        Ok(())
    }
}

/// Classifies the differences from `registered` to `new`.
pub fn classify_changes(registered: &TelemetryConfig, new: &TelemetryConfig) -> ChangeSet {
    let mut changes = Vec::new();
    if registered.asset_name != new.asset_name {
        changes.push(Change::AssetChanged {
            from: registered.asset_name.clone(),
            to: new.asset_name.clone(),
        });
    }

    let old_channels = all_channels(registered);
    let new_channels = all_channels(new);
    for channel in &new_channels {
        let name = channel.full_name();
        match old_channels.iter().find(|c| c.full_name() == name) {
            None => changes.push(Change::ChannelAdded { channel: name }),
            Some(old) if old != channel => changes.push(Change::ChannelChanged {
                channel: name,
                difference: describe_difference(old, channel),
            }),
            Some(_) => {}
        }
    }
    for channel in &old_channels {
        let name = channel.full_name();
        if !new_channels.iter().any(|c| c.full_name() == name) {
            changes.push(Change::ChannelRemoved { channel: name });
        }
    }

    for flow in &new.flows {
        let Some(old) = registered.flow_named(&flow.name) else {
            changes.push(Change::FlowAdded {
                flow: flow.name.clone(),
            });
            continue;
        };
        let old_names: Vec<String> = old.channels.iter().map(ChannelConfig::full_name).collect();
        let new_names: Vec<String> = flow.channels.iter().map(ChannelConfig::full_name).collect();
        for name in &new_names {
            if !old_names.contains(name) {
                changes.push(Change::FlowChannelAdded {
                    flow: flow.name.clone(),
                    channel: name.clone(),
                });
            }
        }
        for name in &old_names {
            if !new_names.contains(name) {
                changes.push(Change::FlowChannelRemoved {
                    flow: flow.name.clone(),
                    channel: name.clone(),
                });
            }
        }
        let kept_old: Vec<&String> = old_names.iter().filter(|n| new_names.contains(n)).collect();
        let kept_new: Vec<&String> = new_names.iter().filter(|n| old_names.contains(n)).collect();
        if kept_old != kept_new {
            changes.push(Change::FlowChannelsReordered {
                flow: flow.name.clone(),
            });
        }
    }
    for flow in &registered.flows {
        if new.flow_named(&flow.name).is_none() {
            changes.push(Change::FlowRemoved {
                flow: flow.name.clone(),
            });
        }
    }

    for rule in &new.rules {
        let key = rule_key(rule);
        match registered.rules.iter().find(|r| rule_key(r) == key) {
            None => changes.push(Change::RuleAdded { rule: key }),
            Some(old) => {
                let fields = rule_differences(old, rule);
                if !fields.is_empty() {
                    changes.push(Change::RuleUpdated { rule: key, fields });
                }
            }
        }
    }
    for rule in &registered.rules {
        let key = rule_key(rule);
        if !new.rules.iter().any(|r| rule_key(r) == key) {
            changes.push(Change::RuleRemoved { rule: key });
        }
    }
    ChangeSet { changes }
}

/// The declared channels and any flow channel not declared, by first appearance.
fn all_channels(config: &TelemetryConfig) -> Vec<ChannelConfig> {
    let mut out: Vec<ChannelConfig> = config.channels.clone();
    for flow in &config.flows {
        for channel in &flow.channels {
            if !out.iter().any(|c| c.full_name() == channel.full_name()) {
                out.push(channel.clone());
            }
        }
    }
    out
}

fn rule_key(rule: &RuleConfig) -> String {
    match rule.rule_client_key.as_deref() {
        Some(key) if !key.is_empty() => key.to_owned(),
        _ => rule.name.clone(),
    }
}

fn rule_differences(a: &RuleConfig, b: &RuleConfig) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut check = |differs: bool, field: &'static str| {
        if differs {
            fields.push(field);
        }
    };
    check(a.name != b.name, "name");
    check(a.description != b.description, "description");
    check(a.expression != b.expression, "expression");
    check(
        a.channel_references != b.channel_references,
        "channel_references",
    );
    check(
        a.contextual_channels != b.contextual_channels,
        "contextual_channels",
    );
    check(a.sub_expressions != b.sub_expressions, "sub_expressions");
    check(a.rule_type != b.rule_type, "type");
    check(a.assignee != b.assignee, "assignee");
    check(a.tags != b.tags, "tags");
    check(a.asset_names != b.asset_names, "asset_names");
    check(a.tag_names != b.tag_names, "tag_names");
    check(a.is_external != b.is_external, "is_external");
    check(a.is_live != b.is_live, "is_live");
    fields
}

#[cfg(test)]
mod tests {
    use sextant_model::DataType;

    use super::*;
    use crate::config::FlowConfig;

    fn base() -> TelemetryConfig {
        let velocity = ChannelConfig::new("velocity", DataType::Double).component("mainmotor");
        let voltage = ChannelConfig::new("voltage", DataType::Int32).unit("Volts");
        TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
            .flow(FlowConfig::new(
                "readings",
                [velocity.clone(), voltage.clone()],
            ))
            .flow(FlowConfig::new("voltage", [voltage.clone()]))
            .rule(
                RuleConfig::review("overvoltage", "$1 > 12")
                    .client_key("overvoltage")
                    .channel_reference("$1", &voltage),
            )
    }

    #[test]
    fn classification_follows_the_key_rules() {
        let log = ChannelConfig::new("log", DataType::String);
        let voltage_f = ChannelConfig::new("voltage", DataType::Float).unit("Volts");
        type Edit = fn(TelemetryConfig, &ChannelConfig, &ChannelConfig) -> TelemetryConfig;
        let cases: Vec<(&str, Edit, Vec<&str>, bool)> = vec![
            ("unchanged", |c, _, _| c, vec![], true),
            (
                "new flow and channel",
                |c, log, _| c.flow(FlowConfig::new("logs", [log.clone()])),
                vec!["channel `log` added", "flow `logs` added"],
                true,
            ),
            (
                "flow removed",
                |mut c, _, _| {
                    c.flows.retain(|f| f.name != "voltage");
                    c
                },
                vec!["flow `voltage` removed"],
                true,
            ),
            (
                "channel added to an existing flow",
                |mut c, log, _| {
                    c.channels.push(log.clone());
                    c.flows[1].channels.push(log.clone());
                    c
                },
                vec![
                    "channel `log` added",
                    "channel `log` added to existing flow `voltage`",
                ],
                false,
            ),
            (
                "channel removed from a flow and from the config",
                |mut c, _, _| {
                    c.flows[0].channels.remove(0);
                    c.channels.remove(0);
                    c
                },
                vec![
                    "channel `mainmotor.velocity` removed",
                    "channel `mainmotor.velocity` removed from flow `readings`",
                ],
                true,
            ),
            (
                "channel type changed",
                |mut c, _, voltage_f| {
                    c.channels[1] = voltage_f.clone();
                    c.flows[0].channels[1] = voltage_f.clone();
                    c.flows[1].channels[0] = voltage_f.clone();
                    c
                },
                vec!["channel `voltage` changed: data_type int32 vs float"],
                false,
            ),
            (
                "rule updated and added",
                |mut c, log, _| {
                    c.rules[0].expression = crate::RuleExpression::Text("$1 > 13".into());
                    c.channels.push(log.clone());
                    c.rule(
                        RuleConfig::review("errors", "contains($1, 'error')")
                            .client_key("errors")
                            .channel_reference("$1", log),
                    )
                },
                vec![
                    "channel `log` added",
                    "rule `overvoltage` updated: expression",
                    "rule `errors` added",
                ],
                true,
            ),
            (
                "asset changed",
                |mut c, _, _| {
                    c.asset_name = "Sulaco".into();
                    c
                },
                vec!["asset changed from `NostromoLV426` to `Sulaco`"],
                false,
            ),
        ];
        for (name, edit, expected, compatible) in cases {
            let changed = edit(base(), &log, &voltage_f);
            let set = classify_changes(&base(), &changed);
            let got: Vec<String> = set.changes.iter().map(ToString::to_string).collect();
            assert_eq!(got, expected, "{name}");
            assert_eq!(set.is_compatible(), compatible, "{name}");
        }
    }

    #[test]
    fn display_names_the_incompatible_changes() {
        let mut changed = base();
        changed
            .channels
            .push(ChannelConfig::new("log", DataType::String));
        changed.flows[1]
            .channels
            .push(ChannelConfig::new("log", DataType::String));
        let set = classify_changes(&base(), &changed);
        assert_eq!(
            set.to_string(),
            "channel `log` added to existing flow `voltage`: these need a new ingestion_client_key"
        );
    }
}
