//! Model outputs as time series: every float, int and bool input and prediction column of an
//! inference is also a point, so that KairosDB queries, SignalFlow and live rules read model
//! outputs like any metric.
//!
//! The series of column `C` of collection `M` is the metric `C` with the label `model=M`, and
//! `project=P` when the request named project `P`. Floats are doubles, ints int64, bools bool.
//! A series holds one value per instant: of several inferences at the same nanosecond, the
//! series keeps the last written, while the collection keeps them all.

use std::collections::BTreeMap;

use sextant_api::collections::{ColumnRole, ColumnType};
use sextant_model::{
    DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value as SeriesValue, WriteBatch,
};

use crate::event::{Entry, Value};
use crate::schema::Schema;

/// The label naming the collection.
pub const MODEL_LABEL: &str = "model";
/// The label naming the project, when the request gave one.
pub const PROJECT_LABEL: &str = "project";

/// The points of the inferences among `entries`, as one batch of `org`; `None` when there are
/// none (only labels, or no numeric or bool inputs and predictions).
pub fn batch(
    org: OrgId,
    collection: &str,
    schema: &Schema,
    entries: &[Entry<'_>],
) -> Result<Option<ValidatedBatch>, String> {
    // (slot, project) -> points; BTreeMap for a stable series order.
    let mut series: BTreeMap<(usize, &str), Vec<Point>> = BTreeMap::new();
    for entry in entries {
        let Entry::Inference(inference) = entry else {
            continue;
        };
        for (slot, value) in inference.values.iter().enumerate() {
            let Some(column) = schema.row_columns.get(slot) else {
                break;
            };
            if !matches!(column.role, ColumnRole::Input | ColumnRole::Prediction) {
                continue;
            }
            let value = match value {
                Some(Value::Float(v)) => SeriesValue::Double(*v),
                Some(Value::Int(v)) => SeriesValue::Int64(*v),
                Some(Value::Bool(v)) => SeriesValue::Bool(*v),
                _ => continue,
            };
            series
                .entry((slot, &*inference.project))
                .or_insert_with(|| Vec::with_capacity(entries.len()))
                .push(Point::new(inference.ts, value));
        }
    }
    if series.is_empty() {
        return Ok(None);
    }
    let mut batch = WriteBatch::new(org);
    for ((slot, project), points) in series {
        let column = &schema.row_columns[slot];
        let mut labels = vec![(MODEL_LABEL, collection)];
        if !project.is_empty() {
            labels.push((PROJECT_LABEL, project));
        }
        let key = SeriesKey::new(&*column.name, labels)
            .map_err(|e| format!("column `{}` cannot name a series: {e}", column.name))?;
        let data_type = match column.column_type {
            ColumnType::Float => DataType::Double,
            ColumnType::Int => DataType::Int64,
            _ => DataType::Bool,
        };
        batch.push(key, data_type, points);
    }
    batch.validate().map(Some).map_err(|e| e.to_string())
}
