//! The ingest request in TruEra's shape, and the check of each event against a schema.
//!
//! This is the decoder of untrusted bytes (fuzzed by `collection_events`): a request that is not
//! the expected JSON shape is refused whole, naming where; an event that breaks the schema is
//! refused alone, with every error it has.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sextant_api::collections::{ColumnRole, ColumnType, IngestResponse, ValidationError};

pub use crate::request::{EventData, MAX_EVENTS, Request, Scalar, decode_request};
use crate::schema::{Key, Schema};
/// The longest an id may be, in bytes.
pub const MAX_ID_LEN: usize = 1_024;

/// Limits on events, set by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most tags an event may carry (`MAX_TAGS_EXCEEDED` beyond).
    pub max_tags: usize,
    /// How far in the future an inference's time may be, in nanoseconds.
    pub future_margin: i64,
    /// How many events (inferences and label records) a collection holds in memory before
    /// they are sealed into a compressed part on disk (at most [`crate::part::MAX_PART_EVENTS`]
    /// less 1000).
    pub part_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tags: 10,
            future_margin: 86_400 * 1_000_000_000,
            part_events: 1_000_000,
        }
    }
}

/// A value of a typed column; text borrows from the request it was checked from, and is
/// owned when read back from the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value<'a> {
    /// A double.
    Float(f64),
    /// An integer.
    Int(i64),
    /// Text.
    Str(Cow<'a, str>),
    /// A bool.
    Bool(bool),
}

impl Value<'_> {
    /// The same value, owning its text.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Float(x) => Value::Float(x),
            Value::Int(x) => Value::Int(x),
            Value::Str(x) => Value::Str(Cow::Owned(x.into_owned())),
            Value::Bool(x) => Value::Bool(x),
        }
    }
}

/// An inference: a model's inputs and outputs at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inference<'a> {
    /// Its id.
    pub id: Cow<'a, str>,
    /// Its time, nanoseconds since the epoch.
    pub ts: i64,
    /// Its tags.
    pub tags: Vec<Cow<'a, str>>,
    /// The request's `project_id`.
    pub project: Cow<'a, str>,
    /// Row values by slot (inputs, predictions, extras); shorter than the schema's row columns
    /// when the columns after it were added later.
    pub values: Vec<Option<Value<'a>>>,
}

/// A label: the ground truth for an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label<'a> {
    /// The id of the inference it is for.
    pub id: Cow<'a, str>,
    /// Label values by slot.
    pub values: Vec<Option<Value<'a>>>,
}

/// An accepted event, as logged and applied. Checked from a request it borrows the request's
/// text; read from the log it owns it (the log's format is the same either way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entry<'a> {
    /// An inference.
    Inference(Inference<'a>),
    /// A label.
    Label(Label<'a>),
}

impl Entry<'_> {
    /// The id of an inference; `None` for a label.
    pub fn inference_id(&self) -> Option<&str> {
        match self {
            Entry::Inference(e) => Some(&e.id),
            Entry::Label(_) => None,
        }
    }

    /// The same entry, owning its text.
    pub fn into_owned(self) -> Entry<'static> {
        let values = |values: Vec<Option<Value<'_>>>| {
            values
                .into_iter()
                .map(|v| v.map(Value::into_owned))
                .collect()
        };
        match self {
            Entry::Inference(e) => Entry::Inference(Inference {
                id: Cow::Owned(e.id.into_owned()),
                ts: e.ts,
                tags: e
                    .tags
                    .into_iter()
                    .map(|t| Cow::Owned(t.into_owned()))
                    .collect(),
                project: Cow::Owned(e.project.into_owned()),
                values: values(e.values),
            }),
            Entry::Label(l) => Entry::Label(Label {
                id: Cow::Owned(l.id.into_owned()),
                values: values(l.values),
            }),
        }
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorType {
    /// A column the event needs is absent (or null).
    MissingColumn,
    /// A value is not of its column's type.
    TypeMismatch,
    /// The timestamp is not RFC 3339 text.
    TimestampInvalid,
    /// The timestamp is before 1970 or too far in the future.
    TimestampOutOfBounds,
    /// A different inference with this id is stored (or earlier in the request).
    DuplicateId,
    /// More tags than allowed.
    MaxTagsExceeded,
    /// A key the schema does not have.
    UnknownColumn,
}

impl ErrorType {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ErrorType::MissingColumn => "MISSING_COLUMN",
            ErrorType::TypeMismatch => "TYPE_MISMATCH",
            ErrorType::TimestampInvalid => "TIMESTAMP_INVALID",
            ErrorType::TimestampOutOfBounds => "TIMESTAMP_OUT_OF_BOUNDS",
            ErrorType::DuplicateId => "DUPLICATE_ID",
            ErrorType::MaxTagsExceeded => "MAX_TAGS_EXCEEDED",
            ErrorType::UnknownColumn => "UNKNOWN_COLUMN",
        }
    }
}

/// One error of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// Its type.
    pub error_type: ErrorType,
    /// The column.
    pub column: String,
    /// What is wrong, quoting the value.
    pub message: String,
}

impl EventError {
    fn new(error_type: ErrorType, column: &str, message: String) -> EventError {
        EventError {
            error_type,
            column: column.to_owned(),
            message,
        }
    }
}

/// What one event makes: an inference, a label, or an inference and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<'a> {
    /// The inference, if the event carries one.
    pub inference: Option<Inference<'a>>,
    /// The label, if the event carries one.
    pub label: Option<Label<'a>>,
}

impl<'a> Checked<'a> {
    /// The entries, the inference first.
    pub fn into_entries(self) -> impl Iterator<Item = Entry<'a>> {
        let inference = self.inference.map(Entry::Inference);
        inference.into_iter().chain(self.label.map(Entry::Label))
    }
}

/// Checks events against one schema. Made once per request: it looks keys up in a table and
/// reuses its buffers from one event to the next.
#[derive(Debug)]
pub struct Checker<'s> {
    schema: &'s Schema,
    /// Every key of the schema, with its place in `present`.
    keys: HashMap<&'s str, (Key, usize), foldhash::fast::RandomState>,
    /// Per key, whether the event gave it a value other than `null` (the last one written).
    present: Vec<bool>,
}

impl<'s> Checker<'s> {
    /// A checker of events against `schema`.
    pub fn new(schema: &'s Schema) -> Checker<'s> {
        let mut names: Vec<(&str, Key)> = vec![
            (&schema.id_column, Key::Id),
            (&schema.timestamp_column, Key::Timestamp),
        ];
        names.extend(schema.tags_column.as_deref().map(|t| (t, Key::Tags)));
        let rows = schema.row_columns.iter().enumerate();
        names.extend(rows.map(|(slot, c)| (&*c.name, Key::Row(slot))));
        let labels = schema.label_columns.iter().enumerate();
        names.extend(labels.map(|(slot, c)| (&*c.name, Key::Label(slot))));
        let mut keys = HashMap::with_capacity_and_hasher(names.len(), Default::default());
        for (name, key) in names {
            let at = keys.len();
            // The first meaning of a name counts, as in `Schema::key`.
            keys.entry(name).or_insert((key, at));
        }
        let present = vec![false; keys.len()];
        Checker {
            schema,
            keys,
            present,
        }
    }

    fn is_present(&self, key: &str) -> bool {
        self.keys.get(key).is_some_and(|&(_, at)| self.present[at])
    }

    /// Checks one event's data: what it makes, or every error it has. Text borrows from
    /// `data` and `project`.
    pub fn check<'a>(
        &mut self,
        data: &'a EventData<'_>,
        project: &'a str,
        now: i64,
        limits: Limits,
    ) -> Result<Checked<'a>, Vec<EventError>> {
        let schema = self.schema;
        let mut errors = Vec::new();
        let mut id = None;
        let mut ts = None;
        let mut tags = Vec::new();
        let mut row: Vec<Option<Value<'a>>> = vec![None; schema.row_columns.len()];
        let mut labels: Vec<Option<Value<'a>>> = Vec::new();
        let mut inference = false;
        let mut any_label = false;
        self.present.fill(false);
        for (name, value) in &data.fields {
            let name: &str = name;
            let Some(&(key, at)) = self.keys.get(name) else {
                let hint = sextant_expr::did_you_mean(name, schema.names())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                errors.push(EventError::new(
                    ErrorType::UnknownColumn,
                    name,
                    format!("the schema has no column `{name}`{hint}"),
                ));
                continue;
            };
            self.present[at] = *value != Scalar::Null;
            if *value == Scalar::Null {
                continue;
            }
            match key {
                Key::Id => match value {
                    Scalar::Str(s) if !s.is_empty() && s.len() <= MAX_ID_LEN => {
                        id = Some(Cow::Borrowed(&**s))
                    }
                    Scalar::Int(n) => id = Some(Cow::Owned(n.to_string())),
                    Scalar::UInt(n) => id = Some(Cow::Owned(n.to_string())),
                    _ => errors.push(EventError::new(
                        ErrorType::TypeMismatch,
                        name,
                        format!(
                            "an id must be text of 1 to {MAX_ID_LEN} bytes or an integer, found {}",
                            quote(value)
                        ),
                    )),
                },
                Key::Timestamp => {
                    inference = true;
                    match timestamp(value, now, limits) {
                        Ok(t) => ts = Some(t),
                        Err((error_type, message)) => {
                            errors.push(EventError::new(error_type, name, message))
                        }
                    }
                }
                Key::Tags => {
                    inference = true;
                    match value {
                        Scalar::List(items)
                            if items.iter().all(|t| matches!(t, Scalar::Str(_))) =>
                        {
                            if items.len() > limits.max_tags {
                                errors.push(EventError::new(
                                    ErrorType::MaxTagsExceeded,
                                    name,
                                    format!(
                                        "{} tags; an event may carry at most {}",
                                        items.len(),
                                        limits.max_tags
                                    ),
                                ));
                            } else {
                                tags = items
                                    .iter()
                                    .filter_map(|t| match t {
                                        Scalar::Str(s) => Some(Cow::Borrowed(&**s)),
                                        _ => None,
                                    })
                                    .collect();
                            }
                        }
                        _ => errors.push(EventError::new(
                            ErrorType::TypeMismatch,
                            name,
                            format!("tags must be a list of strings, found {}", quote(value)),
                        )),
                    }
                }
                Key::Row(slot) => {
                    inference = true;
                    let column = &schema.row_columns[slot];
                    match typed(value, column.column_type) {
                        Ok(v) => row[slot] = Some(v),
                        Err(message) => {
                            errors.push(EventError::new(ErrorType::TypeMismatch, name, message))
                        }
                    }
                }
                Key::Label(slot) => {
                    any_label = true;
                    let column = &schema.label_columns[slot];
                    match typed(value, column.column_type) {
                        Ok(v) => {
                            labels.resize(schema.label_columns.len(), None);
                            labels[slot] = Some(v);
                        }
                        Err(message) => {
                            errors.push(EventError::new(ErrorType::TypeMismatch, name, message))
                        }
                    }
                }
            }
        }
        if !self.is_present(&schema.id_column) {
            errors.push(EventError::new(
                ErrorType::MissingColumn,
                &schema.id_column,
                format!(
                    "every event needs its id in `{}`: labels find their inference by it",
                    schema.id_column
                ),
            ));
        }
        if inference || !any_label {
            // An inference needs its time and every input and prediction.
            if !self.is_present(&schema.timestamp_column) {
                errors.push(EventError::new(
                    ErrorType::MissingColumn,
                    &schema.timestamp_column,
                    format!(
                        "an inference needs its time in `{}` (RFC 3339)",
                        schema.timestamp_column
                    ),
                ));
            }
            for column in &schema.row_columns {
                let required = matches!(column.role, ColumnRole::Input | ColumnRole::Prediction);
                if required && !self.is_present(&column.name) {
                    errors.push(EventError::new(
                        ErrorType::MissingColumn,
                        &column.name,
                        format!(
                            "an inference needs every input and prediction column; `{}` is missing",
                            column.name
                        ),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let id = id.unwrap_or_default();
        let label = any_label.then(|| {
            labels.resize(schema.label_columns.len(), None);
            Label {
                id: id.clone(),
                values: labels,
            }
        });
        let inference = (inference || !any_label).then(|| Inference {
            id,
            ts: ts.unwrap_or_default(),
            tags,
            project: Cow::Borrowed(project),
            values: row,
        });
        Ok(Checked { inference, label })
    }
}

/// Checks one event's data against `schema`: the entries it makes (an inference, a label, or
/// an inference and its label) or every error it has. For many events, [`Checker`] is
/// cheaper.
pub fn check_event<'a>(
    schema: &Schema,
    data: &'a EventData<'_>,
    project: &'a str,
    now: i64,
    limits: Limits,
) -> Result<Vec<Entry<'a>>, Vec<EventError>> {
    let checked = Checker::new(schema).check(data, project, now, limits)?;
    Ok(checked.into_entries().collect())
}

/// The errors of a request gathered in TruEra's shape: one entry per type and column, the
/// first message of each, every event index; `num_errors` counts refused events.
pub fn response(num_events: usize, refused: &[(usize, Vec<EventError>)]) -> IngestResponse {
    let mut grouped: BTreeMap<(ErrorType, String), (String, Vec<usize>)> = BTreeMap::new();
    for (index, errors) in refused {
        for error in errors {
            let entry = grouped
                .entry((error.error_type, error.column.clone()))
                .or_insert_with(|| (error.message.clone(), Vec::new()));
            if entry.1.last() != Some(index) {
                entry.1.push(*index);
            }
        }
    }
    let mut validation_errors: Vec<ValidationError> = grouped
        .into_iter()
        .map(|((error_type, column), (message, mut indexes))| {
            indexes.sort_unstable();
            ValidationError {
                error_type: error_type.name().to_owned(),
                message,
                column_name: column,
                event_indexes: indexes,
            }
        })
        .collect();
    validation_errors.sort_by_key(|e| e.event_indexes.first().copied());
    IngestResponse {
        validation_errors,
        num_events,
        num_errors: refused.len(),
    }
}

fn timestamp(value: &Scalar<'_>, now: i64, limits: Limits) -> Result<i64, (ErrorType, String)> {
    let Scalar::Str(text) = value else {
        return Err((
            ErrorType::TimestampInvalid,
            format!(
                "a timestamp must be RFC 3339 text (2024-05-01T12:00:00Z), found {}",
                quote(value)
            ),
        ));
    };
    let text: &str = text;
    let parsed = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        (
            ErrorType::TimestampInvalid,
            format!("{text:?} is not an RFC 3339 timestamp (2024-05-01T12:00:00Z): {e}"),
        )
    })?;
    let out_of_bounds = |why: String| (ErrorType::TimestampOutOfBounds, why);
    let ns = parsed
        .timestamp_nanos_opt()
        .ok_or_else(|| out_of_bounds(format!("{text:?} is outside the years 1678 to 2262")))?;
    if ns < 0 {
        return Err(out_of_bounds(format!("{text:?} is before 1970")));
    }
    if ns > now.saturating_add(limits.future_margin) {
        let hours = limits.future_margin as f64 / 3.6e12;
        return Err(out_of_bounds(format!(
            "{text:?} is more than {hours} h in the future"
        )));
    }
    Ok(ns)
}

fn typed<'a>(value: &'a Scalar<'_>, column_type: ColumnType) -> Result<Value<'a>, String> {
    let mismatch = || {
        format!(
            "expected {} ({}), found {}",
            match column_type {
                ColumnType::Float => "a number",
                ColumnType::Int => "a whole number",
                ColumnType::String => "text",
                ColumnType::Bool => "true or false",
            },
            column_type.name(),
            quote(value)
        )
    };
    match (column_type, value) {
        (ColumnType::Float, Scalar::Float(x)) => Ok(Value::Float(*x)),
        (ColumnType::Float, Scalar::Int(i)) => Ok(Value::Float(*i as f64)),
        (ColumnType::Float, Scalar::UInt(u)) => Ok(Value::Float(*u as f64)),
        (ColumnType::Int, Scalar::Int(i)) => Ok(Value::Int(*i)),
        // JSON numbers are doubles on this wire: 2.0 is the integer 2.
        (ColumnType::Int, Scalar::Float(f))
            if f.fract() == 0.0 && *f >= -(2f64.powi(63)) && *f < 2f64.powi(63) =>
        {
            Ok(Value::Int(*f as i64))
        }
        (ColumnType::Int, Scalar::UInt(u)) => Err(format!(
            "{u} is outside the int range ({} to {})",
            i64::MIN,
            i64::MAX
        )),
        (ColumnType::String, Scalar::Str(s)) => Ok(Value::Str(Cow::Borrowed(&**s))),
        (ColumnType::Bool, Scalar::Bool(b)) => Ok(Value::Bool(*b)),
        _ => Err(mismatch()),
    }
}

/// A value as a message quotes it, cut to 80 characters.
fn quote(value: &Scalar<'_>) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::collections::{CollectionSchema, ColumnSpec};

    fn schema() -> Schema {
        let col = |name: &str, column_type| ColumnSpec {
            name: name.into(),
            column_type,
        };
        Schema::from_spec(&CollectionSchema {
            tags_column: Some("tags".into()),
            input_columns: vec![col("f1", ColumnType::Float), col("f2", ColumnType::Int)],
            prediction_columns: vec![col("prediction", ColumnType::Int)],
            label_columns: vec![col("actual", ColumnType::Int)],
            extra_columns: vec![col("extra1", ColumnType::String)],
            ..CollectionSchema::default()
        })
        .unwrap()
    }

    const NOW: i64 = 1_767_225_600_000_000_000; // 2026-01-01

    fn check(json: &str) -> Result<Vec<Entry<'static>>, Vec<(ErrorType, String)>> {
        let body = format!(r#"{{"model_id": "m", "events": [{{"data": {json}}}]}}"#);
        let request = decode_request(body.as_bytes()).unwrap();
        let data = &request.events[0];
        let checked = check_event(&schema(), data, "p", NOW, Limits::default());
        let owned = checked.map(|entries| entries.into_iter().map(Entry::into_owned).collect());
        owned.map_err(|errors| {
            let mut errors: Vec<_> = errors
                .into_iter()
                .map(|e| (e.error_type, e.column))
                .collect();
            errors.sort();
            errors
        })
    }

    #[test]
    fn an_inference_with_its_label_makes_two_entries() {
        let entries = check(
            r#"{"id": "a", "ts": "2025-12-31T23:00:00Z", "f1": 0.5, "f2": 2.0, "prediction": 1, "actual": 0, "tags": ["x"]}"#,
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        let Entry::Inference(inference) = &entries[0] else {
            panic!("{entries:?}")
        };
        assert_eq!(inference.ts, NOW - 3_600_000_000_000);
        assert_eq!(
            inference.values,
            [
                Some(Value::Float(0.5)),
                Some(Value::Int(2)),
                Some(Value::Int(1)),
                None
            ]
        );
        assert_eq!(
            entries[1],
            Entry::Label(Label {
                id: "a".into(),
                values: vec![Some(Value::Int(0))]
            })
        );
        assert!(
            matches!(&check(r#"{"id": 7, "actual": 1}"#).unwrap()[..], [Entry::Label(l)] if l.id == "7")
        );
    }

    #[test]
    fn every_error_of_an_event_is_named() {
        use ErrorType::*;
        assert_eq!(
            check(r#"{"id": "a", "ts": "yesterday", "f1": "x", "f2": 2.5, "colour": 1}"#)
                .unwrap_err(),
            [
                (MissingColumn, "prediction".into()),
                (TypeMismatch, "f1".into()),
                (TypeMismatch, "f2".into()),
                (TimestampInvalid, "ts".into()),
                (UnknownColumn, "colour".into()),
            ]
        );
        assert_eq!(
            check(r#"{"id": "a", "ts": "1969-12-31T23:59:59Z", "f1": 1, "f2": 1, "prediction": 1, "tags": ["1","2","3","4","5","6","7","8","9","10","11"]}"#).unwrap_err(),
            [(TimestampOutOfBounds, "ts".into()), (MaxTagsExceeded, "tags".into())]
        );
        assert_eq!(
            check(r#"{"ts": "2027-01-01T00:00:00Z", "f1": 1, "f2": 1, "prediction": 1}"#)
                .unwrap_err(),
            [
                (MissingColumn, "id".into()),
                (TimestampOutOfBounds, "ts".into())
            ]
        );
    }

    #[test]
    fn the_response_groups_by_type_and_column() {
        let e = |t, c: &str| EventError::new(t, c, format!("{c} is wrong"));
        let response = response(
            5,
            &[
                (1, vec![e(ErrorType::TypeMismatch, "f1")]),
                (
                    3,
                    vec![
                        e(ErrorType::TypeMismatch, "f1"),
                        e(ErrorType::MissingColumn, "ts"),
                    ],
                ),
            ],
        );
        assert_eq!(response.num_events, 5);
        assert_eq!(response.num_errors, 2);
        assert_eq!(response.validation_errors.len(), 2);
        assert_eq!(response.validation_errors[0].event_indexes, [1, 3]);
        assert_eq!(response.validation_errors[1].column_name, "ts");
    }
}
