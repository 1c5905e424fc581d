use crate::DataType;

/// One typed value, as ingested or as seen by the rule language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A `double`.
    Double(f64),
    /// A `float`.
    Float(f32),
    /// A `string`.
    String(String),
    /// A `bool`.
    Bool(bool),
    /// An `int32`.
    Int32(i32),
    /// An `int64`.
    Int64(i64),
    /// A `uint32`.
    Uint32(u32),
    /// A `uint64`.
    Uint64(u64),
    /// An `enum` key.
    Enum(u32),
    /// A `bit_field`, as an integer whose bit 0 is the lowest bit of the first byte on the wire.
    BitField(u64),
    /// `bytes`.
    Bytes(Vec<u8>),
}

/// A value as messages show it: numbers and bools as written, text in double quotes, bytes
/// in hex (`0x0aff`), an enum key or a bit field as its integer.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Double(v) => write!(f, "{v:?}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int32(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Uint32(v) | Value::Enum(v) => write!(f, "{v}"),
            Value::Uint64(v) | Value::BitField(v) => write!(f, "{v}"),
            Value::Bytes(v) => {
                f.write_str("0x")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl Value {
    /// The value as a quantity to aggregate: numbers as they are, a bool as 0 or 1; `None`
    /// for text, bytes, enum keys and bit fields, which are labels rather than amounts.
    pub fn as_number(&self) -> Option<f64> {
        Some(match self {
            Value::Double(v) => *v,
            Value::Float(v) => f64::from(*v),
            Value::Int32(v) => f64::from(*v),
            Value::Int64(v) => *v as f64,
            Value::Uint32(v) => f64::from(*v),
            Value::Uint64(v) => *v as f64,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::String(_) | Value::Bytes(_) | Value::Enum(_) | Value::BitField(_) => {
                return None;
            }
        })
    }

    /// The data type of this value.
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Double(_) => DataType::Double,
            Value::Float(_) => DataType::Float,
            Value::String(_) => DataType::String,
            Value::Bool(_) => DataType::Bool,
            Value::Int32(_) => DataType::Int32,
            Value::Int64(_) => DataType::Int64,
            Value::Uint32(_) => DataType::Uint32,
            Value::Uint64(_) => DataType::Uint64,
            Value::Enum(_) => DataType::Enum,
            Value::BitField(_) => DataType::BitField,
            Value::Bytes(_) => DataType::Bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_bools_are_amounts_and_labels_are_not() {
        assert_eq!(Value::Int32(-3).as_number(), Some(-3.0));
        assert_eq!(Value::Uint64(7).as_number(), Some(7.0));
        assert_eq!(Value::Float(0.5).as_number(), Some(0.5));
        assert_eq!(Value::Bool(true).as_number(), Some(1.0));
        for label in [
            Value::Enum(2),
            Value::BitField(3),
            Value::String("4".into()),
            Value::Bytes(vec![5]),
        ] {
            assert_eq!(label.as_number(), None, "{label}");
        }
    }
}
