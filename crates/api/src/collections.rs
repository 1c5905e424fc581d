//! Event collections: schemas, the answer of an ingest request, and what reads return
//! (`docs/collections.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The schema of a collection, as written in a schema file and sent to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSchema {
    /// The column holding each event's id (`id` unless set).
    #[serde(default = "default_id_column")]
    pub id_column: String,
    /// The column holding each inference's time, RFC 3339 (`ts` unless set).
    #[serde(default = "default_timestamp_column")]
    pub timestamp_column: String,
    /// The column holding an event's tags, a list of strings; none unless set.
    #[serde(default)]
    pub tags_column: Option<String>,
    /// The model's inputs.
    #[serde(default)]
    pub input_columns: Vec<ColumnSpec>,
    /// The model's outputs.
    #[serde(default)]
    pub prediction_columns: Vec<ColumnSpec>,
    /// The ground truth, usually sent later as label events.
    #[serde(default)]
    pub label_columns: Vec<ColumnSpec>,
    /// Anything else recorded with an inference.
    #[serde(default)]
    pub extra_columns: Vec<ColumnSpec>,
}

fn default_id_column() -> String {
    "id".to_owned()
}

fn default_timestamp_column() -> String {
    "ts".to_owned()
}

impl Default for CollectionSchema {
    fn default() -> Self {
        CollectionSchema {
            id_column: default_id_column(),
            timestamp_column: default_timestamp_column(),
            tags_column: None,
            input_columns: Vec::new(),
            prediction_columns: Vec::new(),
            label_columns: Vec::new(),
            extra_columns: Vec::new(),
        }
    }
}

/// A typed column of a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The key of the column in an event's data.
    pub name: String,
    /// What its values are.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// A double.
    Float,
    /// A 64-bit integer; on the JSON wire a number without a fraction (`2` or `2.0`).
    Int,
    /// Text.
    String,
    /// `true` or `false`.
    Bool,
}

impl ColumnType {
    /// Every type, as schema files spell them.
    pub const ALL: [ColumnType; 4] = [
        ColumnType::Float,
        ColumnType::Int,
        ColumnType::String,
        ColumnType::Bool,
    ];

    /// The name schema files use.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Float => "float",
            ColumnType::Int => "int",
            ColumnType::String => "string",
            ColumnType::Bool => "bool",
        }
    }
}

/// What a column is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnRole {
    /// The event's id.
    Id,
    /// The inference's time.
    Timestamp,
    /// The event's tags.
    Tags,
    /// The project the event was sent for.
    Project,
    /// A model input.
    Input,
    /// A model output.
    Prediction,
    /// Ground truth.
    Label,
    /// Anything else.
    Extra,
}

/// `POST /api/native/v1/collections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateCollection {
    /// The collection's name: letters, digits, `_`, `-` and `.`, at most 128 of them. TruEra
    /// requests name it as their `model_id`.
    pub name: String,
    /// Its schema.
    pub schema: CollectionSchema,
}

/// A collection, as the server describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// Its name.
    pub name: String,
    /// Its schema, with every column added since it was created.
    pub schema: CollectionSchema,
    /// How many inferences it holds.
    pub inferences: u64,
    /// How many ids have a label (with their inference or still waiting for it).
    pub labels: u64,
}

/// `GET /api/native/v1/collections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionList {
    /// Every collection of the organization, by name.
    pub collections: Vec<Collection>,
}

/// The answer to an ingest request, in TruEra's shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestResponse {
    /// One entry per kind of error and column, with every event it applies to.
    pub validation_errors: Vec<ValidationError>,
    /// How many events the request held.
    pub num_events: usize,
    /// How many of them were refused.
    pub num_errors: usize,
}

/// One kind of error on one column, and the events (by index in the request) it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationError {
    /// `MISSING_COLUMN`, `TYPE_MISMATCH`, `TIMESTAMP_INVALID`, `TIMESTAMP_OUT_OF_BOUNDS`,
    /// `DUPLICATE_ID`, `MAX_TAGS_EXCEEDED` or `UNKNOWN_COLUMN`.
    #[serde(rename = "type")]
    pub error_type: String,
    /// What is wrong, quoting the first offending value.
    pub message: String,
    /// The column.
    pub column_name: String,
    /// The index of every event refused for this, ascending.
    pub event_indexes: Vec<usize>,
}

/// The query string of `GET .../collections/{name}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventsQuery {
    /// The first instant included, nanoseconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// The first instant excluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// Only inferences carrying this tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The most rows to return (all unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// A column of [`EventRows`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowColumn {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub role: ColumnRole,
    /// The type of its values: `None` for the id, timestamp, tags and project columns, whose
    /// values are text, nanoseconds, a list of text and text.
    #[serde(rename = "type")]
    pub column_type: Option<ColumnType>,
}

/// A value of a row: absent, or one of the column types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// No value.
    Null,
    /// A bool.
    Bool(bool),
    /// An integer (also the timestamp, in nanoseconds).
    Int(i64),
    /// A double.
    Float(f64),
    /// Text.
    String(String),
    /// Tags.
    List(Vec<String>),
}

/// Inferences joined with their labels, oldest first: the answer of
/// `GET .../collections/{name}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRows {
    /// The columns: id, timestamp, tags, project, then inputs, predictions, extras and labels
    /// in schema order.
    pub columns: Vec<RowColumn>,
    /// One row per inference, its values in the order of `columns`.
    pub rows: Vec<Vec<Cell>>,
}

/// The query string of `GET .../collections/{name}/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatsQuery {
    /// The width of a window, in nanoseconds; windows start at multiples of it since the epoch.
    pub every: i64,
    /// The first instant included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// The first instant excluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
}

/// The figures of one window with inferences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsWindow {
    /// The window's first instant, nanoseconds since the epoch.
    pub start: i64,
    /// How many inferences have their time in it.
    pub count: u64,
    /// The mean of every numeric column (float or int; input, prediction, extra or label)
    /// over the inferences with a value for it; absent when none has one.
    pub means: BTreeMap<String, f64>,
    /// The share of inferences that have a label, 0 to 1.
    pub labeled_share: f64,
    /// Per int or bool label column with a prediction column of the same type: the share of
    /// labelled inferences whose prediction equals the label.
    pub accuracy: BTreeMap<String, f64>,
    /// Per float label column with a float prediction column: the mean absolute difference.
    pub mean_absolute_error: BTreeMap<String, f64>,
}

/// `GET .../collections/{name}/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Which prediction column each label is compared with, by label column.
    pub compared: BTreeMap<String, String>,
    /// The windows that hold inferences, oldest first.
    pub windows: Vec<StatsWindow>,
}
