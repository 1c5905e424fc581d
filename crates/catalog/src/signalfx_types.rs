//! SignalFx's metadata as the catalog keeps it: metrics (with their type, fixed for life),
//! dimensions, metric time series (MTS) and tags, each with a description, custom properties
//! and tags where SignalFx has them, and who created and last changed it; and custom events.

use std::collections::BTreeMap;

use sextant_model::Timestamp;

/// What SignalFx's metadata objects carry besides their identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfxMeta {
    /// Free text.
    pub description: String,
    /// Custom properties, name to value.
    pub custom_properties: BTreeMap<String, String>,
    /// Tags (names), sorted, each once.
    pub tags: Vec<String>,
    /// When it was created, nanoseconds since the epoch.
    pub created: Timestamp,
    /// The id of the API key that created it.
    pub creator: String,
    /// When it was last changed.
    pub last_updated: Timestamp,
    /// The id of the API key that last changed it.
    pub last_updated_by: String,
}

/// A metric: a name and its type (`GAUGE`, `COUNTER`, `CUMULATIVE_COUNTER`), fixed by its
/// first point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfxMetric {
    /// The metric name.
    pub name: String,
    /// The metric type.
    pub metric_type: String,
    /// Description, properties, tags, history.
    pub meta: SfxMeta,
}

/// A dimension: one key and value pair carried by MTS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfxDimension {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Description, properties, tags, history.
    pub meta: SfxMeta,
}

/// A metric time series: a metric with its dimensions, under a stable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfxMts {
    /// The id, stable for the life of the MTS (chosen by the caller).
    pub id: String,
    /// The metric.
    pub metric: String,
    /// The dimensions, sorted by key.
    pub dimensions: Vec<(String, String)>,
    /// Description, properties, tags, history.
    pub meta: SfxMeta,
}

/// A tag: a name with a description and custom properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfxTag {
    /// The name.
    pub name: String,
    /// Description, properties, history (its own tags are unused).
    pub meta: SfxMeta,
}

/// What a PUT of a metric, dimension or tag replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfxUpdate {
    /// The new description.
    pub description: String,
    /// The new custom properties.
    pub custom_properties: BTreeMap<String, String>,
    /// The new tags.
    pub tags: Vec<String>,
}

/// Everything the catalog holds of one organization's SignalFx metadata, events aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfxSnapshot {
    /// Metrics, in creation order.
    pub metrics: Vec<SfxMetric>,
    /// Dimensions, in creation order.
    pub dimensions: Vec<SfxDimension>,
    /// MTS, in creation order.
    pub mts: Vec<SfxMts>,
    /// Tags, in creation order.
    pub tags: Vec<SfxTag>,
}

/// A new MTS to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfxNewMts {
    /// Its stable id.
    pub id: String,
    /// Its metric.
    pub metric: String,
    /// Its type, which the metric takes if it is new.
    pub metric_type: String,
    /// Its dimensions, sorted by key.
    pub dimensions: Vec<(String, String)>,
}

/// What registering new MTS created, and the type each metric has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfxRegistered {
    /// The metrics created now.
    pub metrics: Vec<SfxMetric>,
    /// The dimensions created now.
    pub dimensions: Vec<SfxDimension>,
    /// The MTS created now (those already registered are left out).
    pub mts: Vec<SfxMts>,
    /// The type of every metric named by the call, as stored (the first one wins).
    pub metric_types: BTreeMap<String, String>,
}

/// A property value of an event, with its type.
#[derive(Debug, Clone, PartialEq)]
pub enum SfxPropertyValue {
    /// A string.
    Str(String),
    /// A double (NaN and infinities included).
    Double(f64),
    /// A 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A custom event.
#[derive(Debug, Clone, PartialEq)]
pub struct SfxEvent {
    /// Its number in the organization, given by the catalog (0 before it is stored).
    pub id: i64,
    /// The event type.
    pub event_type: String,
    /// The category (`USER_DEFINED`, `ALERT`, ...).
    pub category: String,
    /// Dimensions, sorted by key.
    pub dimensions: Vec<(String, String)>,
    /// Properties, in the order sent.
    pub properties: Vec<(String, SfxPropertyValue)>,
    /// When it happened, nanoseconds since the epoch.
    pub timestamp: Timestamp,
}

/// Which events to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfxEventFilter {
    /// Only of this type.
    pub event_type: Option<String>,
    /// Only those carrying every one of these dimensions.
    pub dimensions: Vec<(String, String)>,
    /// Only at or after this time.
    pub start: Option<Timestamp>,
    /// Only before this time.
    pub end: Option<Timestamp>,
    /// At most this many, oldest first (0: no limit).
    pub limit: usize,
}
