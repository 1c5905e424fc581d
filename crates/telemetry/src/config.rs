//! The telemetry config model: an asset, its typed channels, the flows that send channels
//! together, and the rules evaluated over them.
//!
//! Values are built either by the YAML loader ([`crate::yaml`]) or in code with the builder
//! methods below, which read much like Sift's Python client:
//!
//! ```
//! use sextant_telemetry::{ChannelConfig, FlowConfig, RuleConfig, TelemetryConfig};
//! use sextant_model::DataType;
//!
//! let temperature = ChannelConfig::new("temperature", DataType::Double)
//!     .component("thruster")
//!     .description("temperature of thruster")
//!     .unit("Kelvin");
//!
//! let overheating = RuleConfig::review("overheating", "$1 > 400")
//!     .client_key("overheating-rule")
//!     .description("Notify Ripley if thrusters get too hot")
//!     .channel_reference("$1", &temperature)
//!     .assignee("ellen.ripley@weylandcorp.com")
//!     .tags(["warning", "thruster"]);
//!
//! let config = TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
//!     .flow(FlowConfig::new("temperature_reading", [temperature]))
//!     .rule(overheating);
//!
//! assert_eq!(config.channels[0].full_name(), "thruster.temperature");
//! ```

use sextant_model::{BitFieldElement, DataType, EnumType};

/// The schema of an asset's telemetry, identified by its `ingestion_client_key`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TelemetryConfig {
    /// The asset the telemetry comes from, e.g. `NostromoLV426`.
    pub asset_name: String,
    /// The user-chosen key that identifies this config on the server.
    pub ingestion_client_key: String,
    /// The organization, when the user belongs to several.
    pub organization_id: Option<String>,
    /// Every channel of the asset. The builder adds the channels of each flow it is given.
    pub channels: Vec<ChannelConfig>,
    /// Named groups of channels that are sent together, in order.
    pub flows: Vec<FlowConfig>,
    /// Rules evaluated over the channels.
    pub rules: Vec<RuleConfig>,
}

impl TelemetryConfig {
    /// An empty config for `asset_name`, registered under `ingestion_client_key`.
    pub fn new(asset_name: impl Into<String>, ingestion_client_key: impl Into<String>) -> Self {
        TelemetryConfig {
            asset_name: asset_name.into(),
            ingestion_client_key: ingestion_client_key.into(),
            ..TelemetryConfig::default()
        }
    }

    /// Sets the organization.
    pub fn organization_id(mut self, organization_id: impl Into<String>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// Declares a channel that no flow sends (yet).
    pub fn channel(mut self, channel: ChannelConfig) -> Self {
        self.declare(&channel);
        self
    }

    /// Adds a flow and declares its channels.
    pub fn flow(mut self, flow: FlowConfig) -> Self {
        for channel in &flow.channels {
            self.declare(channel);
        }
        self.flows.push(flow);
        self
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: RuleConfig) -> Self {
        self.rules.push(rule);
        self
    }

    /// The declared channel with this full name (`component.name` or `name`).
    pub fn channel_named(&self, full_name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.full_name() == full_name)
    }

    /// The flow with this name.
    pub fn flow_named(&self, name: &str) -> Option<&FlowConfig> {
        self.flows.iter().find(|f| f.name == name)
    }

    fn declare(&mut self, channel: &ChannelConfig) {
        if !self.channels.contains(channel) {
            self.channels.push(channel.clone());
        }
    }
}

/// A channel: one typed signal of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// The channel's name, e.g. `temperature`.
    pub name: String,
    /// The component it belongs to; the full name is then `component.name`. Sift deprecates
    /// components in favour of dotted names; both spellings name the same channel.
    pub component: Option<String>,
    /// The value type, fixed for the channel's life.
    pub data_type: DataType,
    /// The unit of measurement.
    pub unit: Option<String>,
    /// A description for people.
    pub description: Option<String>,
    /// The key → name table of an `enum` channel.
    pub enum_types: Vec<EnumType>,
    /// The elements of a `bit_field` channel.
    pub bit_field_elements: Vec<BitFieldElement>,
}

impl ChannelConfig {
    /// A channel called `name` of type `data_type`.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        ChannelConfig {
            name: name.into(),
            component: None,
            data_type,
            unit: None,
            description: None,
            enum_types: Vec::new(),
            bit_field_elements: Vec::new(),
        }
    }

    /// An `enum` channel with its `(name, key)` table.
    pub fn enumeration<'a>(
        name: impl Into<String>,
        table: impl IntoIterator<Item = (&'a str, u32)>,
    ) -> Self {
        let mut channel = ChannelConfig::new(name, DataType::Enum);
        channel.enum_types = table
            .into_iter()
            .map(|(name, key)| EnumType::new(name, key))
            .collect();
        channel
    }

    /// A `bit_field` channel with its `(name, index, bit_count)` elements.
    pub fn bit_field<'a>(
        name: impl Into<String>,
        elements: impl IntoIterator<Item = (&'a str, u32, u32)>,
    ) -> Self {
        let mut channel = ChannelConfig::new(name, DataType::BitField);
        channel.bit_field_elements = elements
            .into_iter()
            .map(|(name, index, bit_count)| BitFieldElement::new(name, index, bit_count))
            .collect();
        channel
    }

    /// Sets the component.
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Sets the unit.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds an entry to the enum table.
    pub fn enum_type(mut self, enum_type: EnumType) -> Self {
        self.enum_types.push(enum_type);
        self
    }

    /// Adds a bit-field element.
    pub fn bit_field_element(mut self, element: BitFieldElement) -> Self {
        self.bit_field_elements.push(element);
        self
    }

    /// The full name: `component.name`, or `name` without a component.
    pub fn full_name(&self) -> String {
        match &self.component {
            Some(component) if !component.is_empty() => format!("{component}.{}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// A named group of channels that are sent together, with one value each, in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// The flow's name, unique within the config.
    pub name: String,
    /// The flow's channels, in the order their values are sent.
    pub channels: Vec<ChannelConfig>,
}

impl FlowConfig {
    /// A flow of `channels`, in order.
    pub fn new(name: impl Into<String>, channels: impl IntoIterator<Item = ChannelConfig>) -> Self {
        FlowConfig {
            name: name.into(),
            channels: channels.into_iter().collect(),
        }
    }
}

/// What a rule does while its expression holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleType {
    /// Open a data-review annotation for a person to look at.
    #[default]
    Review,
    /// Mark a phase (a span of time with a name).
    Phase,
}

impl RuleType {
    /// The name used in YAML: `review` or `phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Review => "review",
            RuleType::Phase => "phase",
        }
    }
}

/// A rule's expression: written out, or the name of an expression in a named-expression module.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleExpression {
    /// The expression text, e.g. `$1 > 400`.
    Text(String),
    /// The name of an expression loaded from a named-expression module.
    Named(String),
}

/// A channel bound to a `$N` reference of a rule expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelReference {
    /// The reference, e.g. `$1`.
    pub reference: String,
    /// The channel it stands for.
    pub channel: ChannelTarget,
}

impl ChannelReference {
    /// The full name of the channel referred to.
    pub fn full_name(&self) -> String {
        match &self.channel {
            ChannelTarget::Name(name) => name.clone(),
            ChannelTarget::Config(channel) => channel.full_name(),
        }
    }
}

/// How a rule names the channel behind a reference.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelTarget {
    /// The whole channel, as a telemetry config's YAML alias gives it.
    Config(ChannelConfig),
    /// Only its full name, as rule modules often give it; the asset's config supplies the rest.
    Name(String),
}

/// An expression bound to a `$name` placeholder of a named expression.
#[derive(Debug, Clone, PartialEq)]
pub struct SubExpression {
    /// The placeholder, e.g. `$threshold`.
    pub placeholder: String,
    /// The expression text that replaces it, e.g. `470`.
    pub expression: String,
}

/// A rule over an asset's channels.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    /// The rule's name.
    pub name: String,
    /// The user-chosen key that identifies the rule on the server; required.
    pub rule_client_key: Option<String>,
    /// A description for people.
    pub description: Option<String>,
    /// The condition.
    pub expression: RuleExpression,
    /// The channels bound to the expression's `$N` references.
    pub channel_references: Vec<ChannelReference>,
    /// Full names of channels shown with the rule's annotations for context.
    pub contextual_channels: Vec<String>,
    /// The expressions bound to a named expression's `$name` placeholders.
    pub sub_expressions: Vec<SubExpression>,
    /// What the rule does while it holds.
    pub rule_type: RuleType,
    /// Who reviews the annotations of a review rule (an email).
    pub assignee: Option<String>,
    /// Tags given to the rule's annotations.
    pub tags: Vec<String>,
    /// For rules defined outside a telemetry config: the assets they apply to.
    pub asset_names: Vec<String>,
    /// For rules defined outside a telemetry config: the asset tags they apply to.
    pub tag_names: Vec<String>,
    /// Whether the rule is evaluated by an external system.
    pub is_external: bool,
    /// Whether the rule is evaluated on live data as it arrives (Sift's default: no).
    pub is_live: bool,
}

impl RuleConfig {
    /// A rule of `rule_type` with an expression written out.
    pub fn new(name: impl Into<String>, rule_type: RuleType, expression: RuleExpression) -> Self {
        RuleConfig {
            name: name.into(),
            rule_client_key: None,
            description: None,
            expression,
            channel_references: Vec::new(),
            contextual_channels: Vec::new(),
            sub_expressions: Vec::new(),
            rule_type,
            assignee: None,
            tags: Vec::new(),
            asset_names: Vec::new(),
            tag_names: Vec::new(),
            is_external: false,
            is_live: false,
        }
    }

    /// A review rule: an annotation is opened for a person while `expression` holds.
    pub fn review(name: impl Into<String>, expression: impl Into<String>) -> Self {
        RuleConfig::new(
            name,
            RuleType::Review,
            RuleExpression::Text(expression.into()),
        )
    }

    /// A phase rule: a phase annotation spans the time `expression` holds.
    pub fn phase(name: impl Into<String>, expression: impl Into<String>) -> Self {
        RuleConfig::new(
            name,
            RuleType::Phase,
            RuleExpression::Text(expression.into()),
        )
    }

    /// Replaces the expression with a reference to a named expression.
    pub fn named_expression(mut self, name: impl Into<String>) -> Self {
        self.expression = RuleExpression::Named(name.into());
        self
    }

    /// Sets the rule's client key.
    pub fn client_key(mut self, key: impl Into<String>) -> Self {
        self.rule_client_key = Some(key.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Binds `reference` (e.g. `$1`) to `channel`.
    pub fn channel_reference(
        mut self,
        reference: impl Into<String>,
        channel: &ChannelConfig,
    ) -> Self {
        self.channel_references.push(ChannelReference {
            reference: reference.into(),
            channel: ChannelTarget::Config(channel.clone()),
        });
        self
    }

    /// Binds `reference` (e.g. `$1`) to the channel with this full name.
    pub fn channel_reference_by_name(
        mut self,
        reference: impl Into<String>,
        full_name: impl Into<String>,
    ) -> Self {
        self.channel_references.push(ChannelReference {
            reference: reference.into(),
            channel: ChannelTarget::Name(full_name.into()),
        });
        self
    }

    /// Binds `placeholder` (e.g. `$threshold`) to `expression` (e.g. `470`).
    pub fn sub_expression(
        mut self,
        placeholder: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.sub_expressions.push(SubExpression {
            placeholder: placeholder.into(),
            expression: expression.into(),
        });
        self
    }

    /// Adds a contextual channel, by full name.
    pub fn contextual_channel(mut self, full_name: impl Into<String>) -> Self {
        self.contextual_channels.push(full_name.into());
        self
    }

    /// Sets the assignee of a review rule.
    pub fn assignee(mut self, assignee: impl Into<String>) -> Self {
        self.assignee = Some(assignee.into());
        self
    }

    /// Sets the tags.
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the assets a rule module's rule applies to.
    pub fn asset_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.asset_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the asset tags a rule module's rule applies to.
    pub fn tag_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.tag_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Enables evaluation on live data.
    pub fn live(mut self, is_live: bool) -> Self {
        self.is_live = is_live;
        self
    }

    /// Marks the rule as evaluated by an external system.
    pub fn external(mut self, is_external: bool) -> Self {
        self.is_external = is_external;
        self
    }
}
