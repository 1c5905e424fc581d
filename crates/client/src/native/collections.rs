//! Event collections through the native API: schemas, ingest in TruEra's request shape, and
//! reads of inferences joined with their labels (as JSON rows or an Arrow batch).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use reqwest::Method;
use serde_json::Value as Json;
use sextant_api::collections::{
    Cell, Collection, CollectionList, CollectionSchema, ColumnRole, ColumnType, CreateCollection,
    EventRows, EventsQuery, IngestResponse, Stats, StatsQuery,
};
use sextant_api::paths;

use super::NativeClient;
use crate::{Error, Result};

impl NativeClient {
    /// Creates the collection `name` with `schema`.
    pub async fn create_collection(
        &self,
        name: &str,
        schema: &CollectionSchema,
    ) -> Result<Collection> {
        let body = CreateCollection {
            name: name.to_owned(),
            schema: schema.clone(),
        };
        self.call(Method::POST, paths::COLLECTIONS, None::<&()>, Some(&body))
            .await
    }

    /// Changes the schema of the collection `name`: columns may be added, nothing else.
    pub async fn update_collection(
        &self,
        name: &str,
        schema: &CollectionSchema,
    ) -> Result<Collection> {
        let path = collection_path(name, "")?;
        self.call(Method::PUT, &path, None::<&()>, Some(schema))
            .await
    }

    /// The collection `name`: its schema and counts.
    pub async fn collection(&self, name: &str) -> Result<Collection> {
        let path = collection_path(name, "")?;
        self.call(Method::GET, &path, None::<&()>, None::<&()>)
            .await
    }

    /// Deletes the collection `name` and its events (the series of its outputs stay).
    pub async fn delete_collection(&self, name: &str) -> Result<()> {
        let path = collection_path(name, "")?;
        self.call_no_content(Method::DELETE, &path).await
    }

    /// Every collection of the key's organization.
    pub async fn list_collections(&self) -> Result<Vec<Collection>> {
        let list: CollectionList = self
            .call(Method::GET, paths::COLLECTIONS, None::<&()>, None::<&()>)
            .await?;
        Ok(list.collections)
    }

    /// Sends events to the collection `collection` (TruEra's `model_id`) for `project_id`:
    /// each element of `events` is one event's data, an object of column values. At most
    /// [`MAX_EVENTS`](sextant_api::collections) per call; the answer lists every refused event
    /// by index.
    pub async fn ingest_events(
        &self,
        collection: &str,
        project_id: &str,
        events: &[Json],
    ) -> Result<IngestResponse> {
        let body = serde_json::json!({
            "project_id": project_id,
            "model_id": collection,
            "events": events.iter().map(|data| serde_json::json!({"data": data})).collect::<Vec<_>>(),
        });
        self.call(Method::POST, paths::INGEST_EVENTS, None::<&()>, Some(&body))
            .await
    }

    /// The inferences of `collection` in `query`'s range, oldest first, each joined with its
    /// label.
    pub async fn collection_events(
        &self,
        collection: &str,
        query: &EventsQuery,
    ) -> Result<EventRows> {
        let path = collection_path(collection, "/events")?;
        self.call(Method::GET, &path, Some(query), None::<&()>)
            .await
    }

    /// Per-window figures of `collection`: counts, means, label share, accuracy and mean
    /// absolute error.
    pub async fn collection_stats(&self, collection: &str, query: &StatsQuery) -> Result<Stats> {
        let path = collection_path(collection, "/stats")?;
        self.call(Method::GET, &path, Some(query), None::<&()>)
            .await
    }
}

/// The path of a collection, whose name must be a collection name (so it cannot reach
/// another path).
fn collection_path(name: &str, suffix: &str) -> Result<String> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(Error::Config(format!(
            "collection name {name:?} may hold only letters, digits, `_`, `-` and `.`"
        )));
    }
    Ok(paths::collection(name, suffix))
}

/// The rows of a read as an Arrow batch: the id, project and string columns as `Utf8`, the
/// timestamp as nanoseconds in UTC, tags as a list of `Utf8`, float, int and bool columns as
/// `Float64`, `Int64` and `Boolean`. Columns keep their names; the role of each is in its
/// field metadata (`sextant.role`).
pub fn rows_to_arrow(rows: &EventRows) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(rows.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(rows.columns.len());
    for (i, column) in rows.columns.iter().enumerate() {
        let cells = rows
            .rows
            .iter()
            .map(|row| row.get(i).unwrap_or(&Cell::Null));
        let mismatch = |cell: &Cell| {
            Error::Decode(format!(
                "column `{}` holds {cell:?}, not a value of its type",
                column.name
            ))
        };
        let (data_type, array): (DataType, ArrayRef) = match (column.role, column.column_type) {
            (ColumnRole::Timestamp, _) => {
                let mut b = TimestampNanosecondBuilder::new().with_timezone("UTC");
                for cell in cells {
                    match cell {
                        Cell::Int(t) => b.append_value(*t),
                        Cell::Null => b.append_null(),
                        other => return Err(mismatch(other)),
                    }
                }
                (
                    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                    Arc::new(b.finish()),
                )
            }
            (ColumnRole::Tags, _) => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for cell in cells {
                    match cell {
                        Cell::List(tags) => {
                            for tag in tags {
                                b.values().append_value(tag);
                            }
                            b.append(true);
                        }
                        Cell::Null => b.append(false),
                        other => return Err(mismatch(other)),
                    }
                }
                let array = b.finish();
                (array.data_type().clone(), Arc::new(array))
            }
            (_, Some(ColumnType::Float)) => {
                let mut b = Float64Builder::new();
                for cell in cells {
                    match cell {
                        Cell::Float(v) => b.append_value(*v),
                        Cell::Int(v) => b.append_value(*v as f64),
                        Cell::Null => b.append_null(),
                        other => return Err(mismatch(other)),
                    }
                }
                (DataType::Float64, Arc::new(b.finish()))
            }
            (_, Some(ColumnType::Int)) => {
                let mut b = Int64Builder::new();
                for cell in cells {
                    match cell {
                        Cell::Int(v) => b.append_value(*v),
                        Cell::Null => b.append_null(),
                        other => return Err(mismatch(other)),
                    }
                }
                (DataType::Int64, Arc::new(b.finish()))
            }
            (_, Some(ColumnType::Bool)) => {
                let mut b = BooleanBuilder::new();
                for cell in cells {
                    match cell {
                        Cell::Bool(v) => b.append_value(*v),
                        Cell::Null => b.append_null(),
                        other => return Err(mismatch(other)),
                    }
                }
                (DataType::Boolean, Arc::new(b.finish()))
            }
            _ => {
                let mut b = StringBuilder::new();
                for cell in cells {
                    match cell {
                        Cell::String(v) => b.append_value(v),
                        Cell::Null => b.append_null(),
                        other => return Err(mismatch(other)),
                    }
                }
                (DataType::Utf8, Arc::new(b.finish()))
            }
        };
        let role = serde_json::to_value(column.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        fields.push(
            Field::new(&column.name, data_type, true).with_metadata(
                [("sextant.role".to_owned(), role)]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            ),
        );
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::Decode(format!("the rows do not make a table: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::collections::RowColumn;

    #[test]
    fn rows_become_typed_columns() {
        let column = |name: &str, role, column_type| RowColumn {
            name: name.into(),
            role,
            column_type,
        };
        let rows = EventRows {
            columns: vec![
                column("id", ColumnRole::Id, None),
                column("ts", ColumnRole::Timestamp, None),
                column("tags", ColumnRole::Tags, None),
                column("proba", ColumnRole::Prediction, Some(ColumnType::Float)),
                column("actual", ColumnRole::Label, Some(ColumnType::Int)),
            ],
            rows: vec![
                vec![
                    Cell::String("a".into()),
                    Cell::Int(5),
                    Cell::List(vec!["x".into()]),
                    Cell::Float(0.5),
                    Cell::Null,
                ],
                vec![
                    Cell::String("b".into()),
                    Cell::Int(6),
                    Cell::List(vec![]),
                    Cell::Int(1),
                    Cell::Int(0),
                ],
            ],
        };
        let batch = rows_to_arrow(&rows).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema().field(3).data_type(), &DataType::Float64);
        assert_eq!(batch.column(4).null_count(), 1);
        assert!(collection_path("../x", "").is_err());
    }
}
