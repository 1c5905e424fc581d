//! Conversion of points to typed Arrow arrays.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    NullArray, StringArray, TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use sextant_model::{DataType, Point, Value};

use super::ArrowPoints;

/// The Arrow type of the values of a series of `data_type`: `enum` keys are `UInt32`,
/// `bit_field` integers `UInt64`, the others their namesakes.
pub fn arrow_type(data_type: DataType) -> arrow_schema::DataType {
    use arrow_schema::DataType as A;
    match data_type {
        DataType::Double => A::Float64,
        DataType::Float => A::Float32,
        DataType::String => A::Utf8,
        DataType::Bool => A::Boolean,
        DataType::Int32 => A::Int32,
        DataType::Int64 => A::Int64,
        DataType::Uint32 | DataType::Enum => A::UInt32,
        DataType::Uint64 | DataType::BitField => A::UInt64,
        DataType::Bytes => A::Binary,
    }
}

/// A timestamp array in nanoseconds, time zone UTC.
pub(crate) fn timestamps(ts: Vec<i64>) -> TimestampNanosecondArray {
    TimestampNanosecondArray::from(ts).with_timezone("UTC")
}

/// `points`, all of `data_type`, as Arrow arrays. A value of another type (which the head's
/// type check rules out) is never silently converted: it becomes a null.
pub(crate) fn to_arrow(data_type: Option<DataType>, points: &[Point]) -> ArrowPoints {
    let ts = timestamps(points.iter().map(|p| p.timestamp).collect());
    macro_rules! column {
        ($array:ty, $variant:ident) => {
            Arc::new(
                points
                    .iter()
                    .map(|p| match p.value {
                        Value::$variant(v) => Some(v),
                        _ => None,
                    })
                    .collect::<$array>(),
            ) as ArrayRef
        };
        (ref $array:ty, $variant:ident) => {
            Arc::new(
                points
                    .iter()
                    .map(|p| match &p.value {
                        Value::$variant(v) => Some(v),
                        _ => None,
                    })
                    .collect::<$array>(),
            ) as ArrayRef
        };
    }
    let values = match data_type {
        None => Arc::new(NullArray::new(points.len())) as ArrayRef,
        Some(DataType::Double) => column!(Float64Array, Double),
        Some(DataType::Float) => column!(Float32Array, Float),
        Some(DataType::Int32) => column!(Int32Array, Int32),
        Some(DataType::Int64) => column!(Int64Array, Int64),
        Some(DataType::Uint32) => column!(UInt32Array, Uint32),
        Some(DataType::Uint64) => column!(UInt64Array, Uint64),
        Some(DataType::Enum) => column!(UInt32Array, Enum),
        Some(DataType::BitField) => column!(UInt64Array, BitField),
        Some(DataType::Bool) => column!(BooleanArray, Bool),
        Some(DataType::String) => column!(ref StringArray, String),
        Some(DataType::Bytes) => column!(ref BinaryArray, Bytes),
    };
    ArrowPoints {
        timestamps: ts,
        values,
    }
}
