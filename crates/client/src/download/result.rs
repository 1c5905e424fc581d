//! The answer to a [`super::DataQuery`]: one Arrow record batch per key, in query order.
//!
//! Every batch has the columns
//!
//! | column | type | |
//! |---|---|---|
//! | `time` | `Timestamp(Nanosecond, "UTC")` | sorted, not null |
//! | `value` | the channel's type: `Float64`, `Float32`, `Utf8`, `Boolean`, `Int32`, `Int64`, `UInt32`, `UInt64`, `Binary`; `UInt32` for an enum's key and a bit-field element | not null |
//! | `value_name` | `Utf8`, enums only: the key's name in the enum table | null for a key outside the table |
//!
//! A bit field has a batch per element, keyed `<channel>.<element>`, and one keyed by the
//! channel's own name whose `value` is the whole integer (`UInt64`), put together from the
//! elements: bit `index` of each element's value at its place. Bits no element covers read as
//! 0 (Sift's API sends elements only).
//!
//! The schema's metadata carries the key under `channel`; the `value` field's metadata carries
//! the unit under `unit` when the channel has one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::types::*;
use arrow_array::*;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use sift_rs::channels::v3::Channel;
use sift_rs::common::r#type::v1::ChannelDataType;

use super::decode::{Series, Values};
use crate::{Error, Result};

/// The name of the time column.
pub const TIME: &str = "time";
/// The name of the value column.
pub const VALUE: &str = "value";
/// The name of an enum's name column.
pub const VALUE_NAME: &str = "value_name";
/// The schema metadata entry that holds the key.
pub const CHANNEL_METADATA: &str = "channel";
/// The field metadata entry that holds the unit.
pub const UNIT_METADATA: &str = "unit";

/// The time column's type.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// Downloaded channels, one record batch per key.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    channels: Vec<(String, RecordBatch)>,
}

impl QueryResult {
    /// The batch of `key` (a channel name, or `<channel>.<element>` for a bit field).
    pub fn channel(&self, key: &str) -> Option<&RecordBatch> {
        self.channels.iter().find(|(k, _)| k == key).map(|(_, b)| b)
    }

    /// The batches of `keys`, in that order; fails naming the keys the result lacks.
    pub fn channels(&self, keys: &[&str]) -> Result<Vec<&RecordBatch>> {
        let missing: Vec<String> = keys
            .iter()
            .filter(|key| self.channel(key).is_none())
            .map(|key| format!("{key:?}"))
            .collect();
        if !missing.is_empty() {
            let known: Vec<&str> = self.keys().collect();
            return Err(Error::NotFound(format!(
                "the result has no channel {}; it has {}",
                missing.join(", "),
                known.join(", ")
            )));
        }
        Ok(keys.iter().filter_map(|key| self.channel(key)).collect())
    }

    /// Every key and its batch, in query order (a bit field's elements in their order).
    pub fn all(&self) -> &[(String, RecordBatch)] {
        &self.channels
    }

    /// Every key, in query order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(|(k, _)| k.as_str())
    }

    /// The keys and batches, owned.
    pub fn into_inner(self) -> Vec<(String, RecordBatch)> {
        self.channels
    }

    /// The `time` column of `key`: nanoseconds since the Unix epoch, UTC, sorted.
    pub fn times(&self, key: &str) -> Result<&TimestampNanosecondArray> {
        self.column(key, TIME, "timestamps")
    }

    /// The `value` column of `key` as numbers of Arrow type `T`, for example
    /// `values::<Float64Type>("mainmotor.velocity")`; an enum's keys and a bit-field element
    /// are `UInt32Type`, a whole bit field `UInt64Type`. Fails naming the column's type when
    /// it holds another.
    pub fn values<T: ArrowPrimitiveType>(&self, key: &str) -> Result<&PrimitiveArray<T>> {
        self.column(key, VALUE, &T::DATA_TYPE.to_string())
    }

    /// The `value` column of a string channel.
    pub fn strings(&self, key: &str) -> Result<&StringArray> {
        self.column(key, VALUE, "Utf8")
    }

    /// The `value` column of a bool channel.
    pub fn bools(&self, key: &str) -> Result<&BooleanArray> {
        self.column(key, VALUE, "Boolean")
    }

    /// The `value` column of a bytes channel.
    pub fn bytes(&self, key: &str) -> Result<&BinaryArray> {
        self.column(key, VALUE, "Binary")
    }

    /// The `value_name` column of an enum channel: each key's name, null outside the table.
    pub fn value_names(&self, key: &str) -> Result<&StringArray> {
        self.column(key, VALUE_NAME, "Utf8")
    }

    fn column<A: Array + 'static>(&self, key: &str, name: &str, wanted: &str) -> Result<&A> {
        let [batch] = self.channels(&[key])?[..] else {
            unreachable!("one key asked, one batch given")
        };
        let column = batch.column_by_name(name).ok_or_else(|| {
            Error::Validation(format!(
                "channel {key:?} has no {name} column (only enums have value names)"
            ))
        })?;
        column.as_any().downcast_ref::<A>().ok_or_else(|| {
            Error::Validation(format!(
                "the {name} column of channel {key:?} holds {}, not {wanted}",
                column.data_type()
            ))
        })
    }

    /// `keys` on the timeline of the first, as [`super::align`] does.
    pub fn align(&self, keys: &[&str]) -> Result<RecordBatch> {
        let batches = self.channels(keys)?;
        let named: Vec<(&str, &RecordBatch)> = keys.iter().copied().zip(batches).collect();
        super::align(&named)
    }
}

/// Collects series into a [`QueryResult`].
#[derive(Debug, Default)]
pub(crate) struct Builder {
    order: Vec<String>,
    series: HashMap<String, Series>,
    /// Each bit field's key, with its elements' keys and first bits.
    bit_fields: HashMap<String, Vec<(String, u32)>>,
}

impl Builder {
    /// Gives `channel`'s keys a place, so a channel without points in the window still has an
    /// (empty) batch.
    pub fn declare(&mut self, channel: &Channel) -> Result<()> {
        let data_type = ChannelDataType::try_from(channel.data_type).unwrap_or_default();
        let Some(values) = Values::empty(data_type) else {
            return Err(Error::Decode(format!(
                "channel {:?} has unknown data type {}",
                channel.name, channel.data_type
            )));
        };
        let enum_types: Vec<(u32, String)> = channel
            .enum_types
            .iter()
            .map(|e| (e.key, e.name.clone()))
            .collect();
        let keys: Vec<String> = if data_type == ChannelDataType::BitField {
            let elements: Vec<(String, u32)> = channel
                .bit_field_elements
                .iter()
                .map(|e| {
                    (
                        format!("{}.{}", channel.name, e.name),
                        e.index.max(0) as u32,
                    )
                })
                .collect();
            if !self.bit_fields.contains_key(&channel.name) {
                self.order.push(channel.name.clone());
            }
            let keys = elements.iter().map(|(key, _)| key.clone()).collect();
            self.bit_fields.insert(channel.name.clone(), elements);
            keys
        } else {
            vec![channel.name.clone()]
        };
        for key in keys {
            self.add(Series {
                key,
                times: Vec::new(),
                values: values.clone(),
                enum_types: enum_types.clone(),
                unit: String::new(),
            })?;
        }
        Ok(())
    }

    /// Appends a series to its key.
    pub fn add(&mut self, series: Series) -> Result<()> {
        let Some(existing) = self.series.get_mut(&series.key) else {
            self.order.push(series.key.clone());
            self.series.insert(series.key.clone(), series);
            return Ok(());
        };
        if let Err(values) = existing.values.append(series.values) {
            return Err(Error::Decode(format!(
                "channel {:?} came back as both {} and {}; one column cannot hold both",
                series.key,
                existing.values.type_name(),
                values.type_name()
            )));
        }
        existing.times.extend(series.times);
        if existing.enum_types.is_empty() {
            existing.enum_types = series.enum_types;
        }
        if existing.unit.is_empty() {
            existing.unit = series.unit;
        }
        Ok(())
    }

    /// Sorts every key's points by time and builds the batches.
    pub fn finish(mut self) -> Result<QueryResult> {
        let mut channels = Vec::with_capacity(self.order.len());
        for key in self.order {
            if let Some(elements) = self.bit_fields.get(&key) {
                let batch = batch(&whole_bit_field(&key, elements, &self.series))?;
                channels.push((key, batch));
                continue;
            }
            let Some(mut series) = self.series.remove(&key) else {
                continue;
            };
            if !series.times.is_sorted() {
                let mut order: Vec<usize> = (0..series.times.len()).collect();
                // Stable: points at the same instant keep the server's order.
                order.sort_by_key(|&i| series.times[i]);
                series.times = order.iter().map(|&i| series.times[i]).collect();
                series.values.permute(&order);
            }
            let batch = batch(&series)?;
            channels.push((key, batch));
        }
        Ok(QueryResult { channels })
    }
}

/// A bit field's whole integers, from its elements' series.
fn whole_bit_field(
    key: &str,
    elements: &[(String, u32)],
    series: &HashMap<String, Series>,
) -> Series {
    let mut whole: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for (element, index) in elements {
        let Some(Series {
            times,
            values: Values::BitFieldElement(values),
            ..
        }) = series.get(element)
        else {
            continue;
        };
        for (&t, &v) in times.iter().zip(values) {
            *whole.entry(t).or_default() |= u64::from(v).checked_shl(*index).unwrap_or(0);
        }
    }
    let unit = elements
        .iter()
        .find_map(|(element, _)| series.get(element).map(|s| s.unit.clone()))
        .unwrap_or_default();
    Series {
        key: key.to_owned(),
        times: whole.keys().copied().collect(),
        values: Values::Uint64(whole.into_values().collect()),
        enum_types: Vec::new(),
        unit,
    }
}

/// The record batch of one key.
fn batch(series: &Series) -> Result<RecordBatch> {
    let time: ArrayRef =
        Arc::new(TimestampNanosecondArray::from(series.times.clone()).with_timezone("UTC"));
    let value: ArrayRef = match &series.values {
        Values::Double(v) => Arc::new(Float64Array::from(v.clone())),
        Values::Float(v) => Arc::new(Float32Array::from(v.clone())),
        Values::String(v) => Arc::new(StringArray::from_iter_values(v)),
        Values::Bool(v) => Arc::new(BooleanArray::from(v.clone())),
        Values::Int32(v) => Arc::new(Int32Array::from(v.clone())),
        Values::Int64(v) => Arc::new(Int64Array::from(v.clone())),
        Values::Uint32(v) | Values::Enum(v) | Values::BitFieldElement(v) => {
            Arc::new(PrimitiveArray::<UInt32Type>::from(v.clone()))
        }
        Values::Uint64(v) => Arc::new(UInt64Array::from(v.clone())),
        Values::Bytes(v) => Arc::new(BinaryArray::from_iter_values(v)),
    };
    let mut value_field = Field::new(VALUE, value.data_type().clone(), false);
    if !series.unit.is_empty() {
        value_field = value_field.with_metadata(HashMap::from([(
            UNIT_METADATA.to_owned(),
            series.unit.clone(),
        )]));
    }
    let mut fields = vec![Field::new(TIME, time_type(), false), value_field];
    let mut columns = vec![time, value];
    if let Values::Enum(keys) = &series.values {
        let table: HashMap<u32, &str> = series
            .enum_types
            .iter()
            .map(|(k, name)| (*k, name.as_str()))
            .collect();
        let names: StringArray = keys.iter().map(|k| table.get(k).copied()).collect();
        fields.push(Field::new(VALUE_NAME, DataType::Utf8, true));
        columns.push(Arc::new(names));
    }
    let schema = Schema::new(fields).with_metadata(HashMap::from([(
        CHANNEL_METADATA.to_owned(),
        series.key.clone(),
    )]));
    RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| Error::Decode(format!("cannot build the batch of {:?}: {e}", series.key)))
}

/// Keys whose names repeat, for messages; empty when all are distinct.
pub(crate) fn duplicates<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    keys.into_iter().filter(|k| !seen.insert(*k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_concatenated_and_sorted_by_time() {
        let mut builder = Builder::default();
        let series = |times: Vec<i64>, values: Vec<u32>| Series {
            key: "mode".into(),
            times,
            values: Values::Enum(values),
            enum_types: vec![(1, "idle".into()), (2, "burn".into())],
            unit: String::new(),
        };
        builder.add(series(vec![30, 10], vec![1, 2])).unwrap();
        builder.add(series(vec![20, 10], vec![7, 1])).unwrap();
        let result = builder.finish().unwrap();
        let batch = result.channel("mode").unwrap();
        let time = batch
            .column(0)
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        assert_eq!(time.values(), &[10, 10, 20, 30]);
        let value = batch
            .column(1)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap();
        assert_eq!(value.values(), &[2, 1, 7, 1]);
        let names = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let names: Vec<Option<&str>> = names.iter().collect();
        assert_eq!(names, [Some("burn"), Some("idle"), None, Some("idle")]);
        assert_eq!(batch.schema().metadata()[CHANNEL_METADATA], "mode");
    }

    #[test]
    fn a_key_of_two_types_is_refused() {
        let mut builder = Builder::default();
        let series = |values| Series {
            key: "x".into(),
            times: vec![1],
            values,
            enum_types: Vec::new(),
            unit: String::new(),
        };
        builder.add(series(Values::Double(vec![1.0]))).unwrap();
        let err = builder.add(series(Values::Int32(vec![1]))).unwrap_err();
        assert!(err.to_string().contains("both double and int32"), "{err}");
    }

    #[test]
    fn missing_keys_are_named() {
        let result = QueryResult::default();
        let err = result.channels(&["voltage"]).unwrap_err();
        assert!(err.to_string().contains("no channel \"voltage\""), "{err}");
        assert_eq!(duplicates(["a", "b", "a"]), ["a"]);
    }
}
