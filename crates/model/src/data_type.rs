use std::fmt;
use std::str::FromStr;

/// The value type of a channel or series. A series has one data type for life.
///
/// The names are those of Sift's telemetry configs (`double`, `int32`, `bit_field`, ...), which
/// [`DataType::as_str`] returns and [`FromStr`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// 64-bit IEEE 754 float.
    Double,
    /// 32-bit IEEE 754 float.
    Float,
    /// UTF-8 text.
    String,
    /// true or false.
    Bool,
    /// Signed 32-bit integer.
    Int32,
    /// Signed 64-bit integer.
    Int64,
    /// Unsigned 32-bit integer.
    Uint32,
    /// Unsigned 64-bit integer.
    Uint64,
    /// A `u32` key whose meaning is given by the channel's [`EnumType`] table.
    Enum,
    /// An integer of up to 64 bits split into named [`BitFieldElement`]s.
    BitField,
    /// Opaque bytes.
    Bytes,
}

impl DataType {
    /// Every data type, in declaration order.
    pub const ALL: [DataType; 11] = [
        DataType::Double,
        DataType::Float,
        DataType::String,
        DataType::Bool,
        DataType::Int32,
        DataType::Int64,
        DataType::Uint32,
        DataType::Uint64,
        DataType::Enum,
        DataType::BitField,
        DataType::Bytes,
    ];

    /// The name used in telemetry configs, e.g. `"bit_field"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Double => "double",
            DataType::Float => "float",
            DataType::String => "string",
            DataType::Bool => "bool",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::Uint32 => "uint32",
            DataType::Uint64 => "uint64",
            DataType::Enum => "enum",
            DataType::BitField => "bit_field",
            DataType::Bytes => "bytes",
        }
    }

    /// Whether values of this type are numbers in arithmetic (enum and bit field are not).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            DataType::Double
                | DataType::Float
                | DataType::Int32
                | DataType::Int64
                | DataType::Uint32
                | DataType::Uint64
        )
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`DataType`] from a name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown data type {0:?}: expected one of double, float, string, bool, int32, int64, uint32, uint64, enum, bit_field, bytes"
)]
pub struct UnknownDataType(pub String);

impl FromStr for DataType {
    type Err = UnknownDataType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownDataType(s.to_owned()))
    }
}

/// One entry of an enum channel's table: the key sent on the wire and the name people read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumType {
    /// The human-readable name, e.g. `"Accelerating"`.
    pub name: String,
    /// The key sent on the wire.
    pub key: u32,
    /// Whether the key is to be read as a signed 32-bit integer (Sift's `is_signed`).
    pub is_signed: bool,
}

impl EnumType {
    /// An unsigned enum entry.
    pub fn new(name: impl Into<String>, key: u32) -> Self {
        EnumType {
            name: name.into(),
            key,
            is_signed: false,
        }
    }
}

/// One named element of a bit-field channel: `bit_count` bits starting at bit `index`
/// (bit 0 is the least significant bit of the first byte on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BitFieldElement {
    /// The element's name, e.g. `"heater"`.
    pub name: String,
    /// The index of the element's lowest bit.
    pub index: u32,
    /// How many bits the element spans.
    pub bit_count: u32,
}

impl BitFieldElement {
    /// A bit-field element of `bit_count` bits starting at bit `index`.
    pub fn new(name: impl Into<String>, index: u32, bit_count: u32) -> Self {
        BitFieldElement {
            name: name.into(),
            index,
            bit_count,
        }
    }

    /// Extracts this element from a bit-field integer. Bits beyond 64 read as zero.
    pub fn extract(&self, bits: u64) -> u64 {
        if self.index >= 64 || self.bit_count == 0 {
            return 0;
        }
        let shifted = bits >> self.index;
        if self.bit_count >= 64 {
            shifted
        } else {
            shifted & ((1u64 << self.bit_count) - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_names_round_trip() {
        for t in DataType::ALL {
            assert_eq!(t.as_str().parse::<DataType>(), Ok(t));
        }
        let err = "doubel".parse::<DataType>().unwrap_err();
        assert!(err.to_string().contains("\"doubel\""), "{err}");
    }

    #[test]
    fn bit_field_extraction() {
        // The seed's gpio layout: 12v at bit 0, charge at 1..3, led at 3..7, heater at 7.
        let value = 0b1000_1001u64;
        let cases = [
            ("12v", 0, 1, 1),
            ("charge", 1, 2, 0),
            ("led", 3, 4, 1),
            ("heater", 7, 1, 1),
            ("beyond", 64, 1, 0),
            ("whole", 0, 64, value),
        ];
        for (name, index, bit_count, expected) in cases {
            let element = BitFieldElement::new(name, index, bit_count);
            assert_eq!(element.extract(value), expected, "{name}");
        }
    }
}
