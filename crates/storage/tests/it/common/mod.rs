//! Strategies shared by the property tests.

use proptest::prelude::*;
use sextant_model::{DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value, WriteBatch};

/// A value of type `t`.
pub fn value(t: DataType) -> BoxedStrategy<Value> {
    match t {
        // Finite floats only, so that batches compare equal to themselves.
        DataType::Double => (-1e12f64..1e12).prop_map(Value::Double).boxed(),
        DataType::Float => (-1e6f32..1e6).prop_map(Value::Float).boxed(),
        DataType::String => ".{0,12}".prop_map(Value::String).boxed(),
        DataType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DataType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        DataType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        DataType::Uint32 => any::<u32>().prop_map(Value::Uint32).boxed(),
        DataType::Uint64 => any::<u64>().prop_map(Value::Uint64).boxed(),
        DataType::Enum => any::<u32>().prop_map(Value::Enum).boxed(),
        DataType::BitField => any::<u64>().prop_map(Value::BitField).boxed(),
        DataType::Bytes => proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(Value::Bytes)
            .boxed(),
    }
}

/// A series key with up to three labels.
pub fn series_key() -> impl Strategy<Value = SeriesKey> {
    (
        "[a-z][a-z.]{0,7}",
        proptest::collection::btree_map("[a-z]{1,4}", ".{1,6}", 0..3),
    )
        .prop_map(|(name, labels)| SeriesKey::new(name, labels).unwrap())
}

/// The points of one series of any type.
pub fn series_points() -> impl Strategy<Value = (SeriesKey, DataType, Vec<Point>)> {
    (
        series_key(),
        proptest::sample::select(DataType::ALL.to_vec()),
    )
        .prop_flat_map(|(key, t)| {
            let point = (any::<i64>(), value(t)).prop_map(|(ts, v)| Point::new(ts, v));
            (Just(key), Just(t), proptest::collection::vec(point, 1..8))
        })
}

/// A valid batch of one to three series.
pub fn batch() -> impl Strategy<Value = ValidatedBatch> {
    (0..4u64, proptest::collection::vec(series_points(), 1..4)).prop_filter_map(
        "repeated series with conflicting types",
        |(org, series)| {
            let mut b = WriteBatch::new(OrgId(org));
            for (key, t, points) in series {
                b.push(key, t, points);
            }
            b.validate().ok()
        },
    )
}
