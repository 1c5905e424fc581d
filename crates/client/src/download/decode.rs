//! Reading `GetData`'s typed `*Values` messages into plain columns, one [`Series`] per key:
//! the channel, or each element of a bit field.
//!
//! The message type comes from the `Any`'s type URL; the key from the metadata's channel name
//! (its id when the name is empty), as the Python client does.

use pbjson_types::Any;
use prost::Message;
use sift_rs::common::r#type::v1::ChannelDataType;
use sift_rs::data::v2::*;

use crate::{Error, Result};

/// The points of one key from one message, in the server's order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// The channel's name, or `<channel>.<element>` for an element of a bit field.
    pub key: String,
    /// Nanoseconds since the Unix epoch, one per value.
    pub times: Vec<i64>,
    /// The values.
    pub values: Values,
    /// The enum table, `(key, name)`, when the channel is an enum.
    pub enum_types: Vec<(u32, String)>,
    /// The unit, or empty.
    pub unit: String,
}

/// A column of values of one type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Double(Vec<f64>),
    Float(Vec<f32>),
    String(Vec<String>),
    Bool(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Uint32(Vec<u32>),
    Uint64(Vec<u64>),
    Enum(Vec<u32>),
    Bytes(Vec<Vec<u8>>),
    /// One element of a bit field.
    BitFieldElement(Vec<u32>),
}

impl Values {
    /// An empty column for a channel of `data_type`; a bit field's elements are
    /// [`Values::BitFieldElement`].
    pub fn empty(data_type: ChannelDataType) -> Option<Values> {
        use ChannelDataType as T;
        Some(match data_type {
            T::Double => Values::Double(Vec::new()),
            T::Float => Values::Float(Vec::new()),
            T::String => Values::String(Vec::new()),
            T::Bool => Values::Bool(Vec::new()),
            T::Int32 => Values::Int32(Vec::new()),
            T::Int64 => Values::Int64(Vec::new()),
            T::Uint32 => Values::Uint32(Vec::new()),
            T::Uint64 => Values::Uint64(Vec::new()),
            T::Enum => Values::Enum(Vec::new()),
            T::Bytes => Values::Bytes(Vec::new()),
            T::BitField => Values::BitFieldElement(Vec::new()),
            T::Unspecified => return None,
        })
    }

    /// The type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Values::Double(_) => "double",
            Values::Float(_) => "float",
            Values::String(_) => "string",
            Values::Bool(_) => "bool",
            Values::Int32(_) => "int32",
            Values::Int64(_) => "int64",
            Values::Uint32(_) => "uint32",
            Values::Uint64(_) => "uint64",
            Values::Enum(_) => "enum",
            Values::Bytes(_) => "bytes",
            Values::BitFieldElement(_) => "bit field element",
        }
    }

    /// Appends `other` when it holds the same type; hands it back otherwise.
    pub fn append(&mut self, other: Values) -> Result<(), Values> {
        match (self, other) {
            (Values::Double(a), Values::Double(b)) => a.extend(b),
            (Values::Float(a), Values::Float(b)) => a.extend(b),
            (Values::String(a), Values::String(b)) => a.extend(b),
            (Values::Bool(a), Values::Bool(b)) => a.extend(b),
            (Values::Int32(a), Values::Int32(b)) => a.extend(b),
            (Values::Int64(a), Values::Int64(b)) => a.extend(b),
            (Values::Uint32(a), Values::Uint32(b)) => a.extend(b),
            (Values::Uint64(a), Values::Uint64(b)) => a.extend(b),
            (Values::Enum(a), Values::Enum(b)) => a.extend(b),
            (Values::Bytes(a), Values::Bytes(b)) => a.extend(b),
            (Values::BitFieldElement(a), Values::BitFieldElement(b)) => a.extend(b),
            (_, other) => return Err(other),
        }
        Ok(())
    }

    /// Puts the values in the order of `order`, a permutation of their positions.
    pub fn permute(&mut self, order: &[usize]) {
        fn apply<T: Default>(values: &mut Vec<T>, order: &[usize]) {
            let mut taken: Vec<T> = order
                .iter()
                .map(|&i| std::mem::take(&mut values[i]))
                .collect();
            std::mem::swap(values, &mut taken);
        }
        match self {
            Values::Double(v) => apply(v, order),
            Values::Float(v) => apply(v, order),
            Values::String(v) => apply(v, order),
            Values::Bool(v) => apply(v, order),
            Values::Int32(v) => apply(v, order),
            Values::Int64(v) => apply(v, order),
            Values::Uint32(v) | Values::Enum(v) | Values::BitFieldElement(v) => apply(v, order),
            Values::Uint64(v) => apply(v, order),
            Values::Bytes(v) => apply(v, order),
        }
    }
}

/// Decodes one `Any` of a `GetDataResponse` into its series: one, or one per element of a
/// bit field.
pub(crate) fn decode(any: &Any) -> Result<Vec<Series>> {
    let type_name = any.type_url.rsplit('/').next().unwrap_or_default();
    let invalid = |e: prost::DecodeError| {
        Error::Decode(format!(
            "GetData returned a {:?} that does not decode: {e}",
            any.type_url
        ))
    };
    macro_rules! plain {
        ($message:ty, $variant:ident, $value:ident => $converted:expr) => {{
            let message = <$message>::decode(&any.value[..]).map_err(invalid)?;
            let metadata = message.metadata.unwrap_or_default();
            let key = key(&metadata)?;
            let mut times = Vec::with_capacity(message.values.len());
            let mut values = Vec::with_capacity(message.values.len());
            for point in message.values {
                times.push(nanos(point.timestamp.as_ref(), &key)?);
                let $value = point.value;
                values.push($converted);
            }
            vec![Series {
                key,
                times,
                values: Values::$variant(values),
                enum_types: enum_types(&metadata),
                unit: unit(&metadata),
            }]
        }};
    }
    let series = match type_name {
        "sift.data.v2.DoubleValues" => plain!(DoubleValues, Double, v => v),
        "sift.data.v2.FloatValues" => plain!(FloatValues, Float, v => v),
        "sift.data.v2.StringValues" => plain!(StringValues, String, v => v),
        "sift.data.v2.BoolValues" => plain!(BoolValues, Bool, v => v),
        "sift.data.v2.Int32Values" => plain!(Int32Values, Int32, v => v),
        "sift.data.v2.Int64Values" => plain!(Int64Values, Int64, v => v),
        "sift.data.v2.Uint32Values" => plain!(Uint32Values, Uint32, v => v),
        "sift.data.v2.Uint64Values" => plain!(Uint64Values, Uint64, v => v),
        "sift.data.v2.EnumValues" => plain!(EnumValues, Enum, v => v),
        "sift.data.v2.BytesValues" => plain!(BytesValues, Bytes, v => v.to_vec()),
        "sift.data.v2.BitFieldValues" => {
            let message = BitFieldValues::decode(&any.value[..]).map_err(invalid)?;
            let metadata = message.metadata.unwrap_or_default();
            let channel = key(&metadata)?;
            let unit = unit(&metadata);
            let mut series = Vec::with_capacity(message.values.len());
            for element in message.values {
                let key = format!("{channel}.{}", element.name);
                let mut times = Vec::with_capacity(element.values.len());
                let mut values = Vec::with_capacity(element.values.len());
                for point in element.values {
                    times.push(nanos(point.timestamp.as_ref(), &key)?);
                    values.push(point.value);
                }
                series.push(Series {
                    key,
                    times,
                    values: Values::BitFieldElement(values),
                    enum_types: Vec::new(),
                    unit: unit.clone(),
                });
            }
            series
        }
        _ => {
            return Err(Error::Decode(format!(
                "GetData returned data of type {:?}, which this client does not know",
                any.type_url
            )));
        }
    };
    Ok(series)
}

/// The user-visible key: the channel's name, or its id when the name is empty.
fn key(metadata: &Metadata) -> Result<String> {
    if ChannelDataType::try_from(metadata.data_type).unwrap_or_default()
        == ChannelDataType::Unspecified
    {
        return Err(Error::Decode(format!(
            "GetData returned data of unknown data type {}",
            metadata.data_type
        )));
    }
    let channel = metadata.channel.as_ref();
    let key = channel
        .map(|c| {
            if c.name.is_empty() {
                &c.channel_id
            } else {
                &c.name
            }
        })
        .filter(|k| !k.is_empty());
    key.cloned().ok_or_else(|| {
        Error::Decode("GetData returned data whose metadata names no channel".to_owned())
    })
}

fn enum_types(metadata: &Metadata) -> Vec<(u32, String)> {
    metadata
        .channel
        .iter()
        .flat_map(|c| &c.enum_types)
        .map(|e| (e.key, e.name.clone()))
        .collect()
}

fn unit(metadata: &Metadata) -> String {
    metadata
        .channel
        .as_ref()
        .and_then(|c| c.unit.as_ref())
        .map(|u| u.abbreviated_name.clone())
        .unwrap_or_default()
}

fn nanos(timestamp: Option<&pbjson_types::Timestamp>, key: &str) -> Result<i64> {
    let t = timestamp.ok_or_else(|| {
        Error::Decode(format!(
            "GetData returned a point of {key:?} without a timestamp"
        ))
    })?;
    t.seconds
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(i64::from(t.nanos)))
        .ok_or_else(|| {
            Error::Decode(format!(
                "GetData returned a point of {key:?} at {}s {}ns, outside the nanosecond range",
                t.seconds, t.nanos
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(name: &str, data_type: ChannelDataType) -> Option<Metadata> {
        Some(Metadata {
            data_type: data_type as i32,
            channel: Some(metadata::Channel {
                name: name.to_owned(),
                channel_id: "id-1".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn any(name: &str, message: &impl Message) -> Any {
        Any {
            type_url: format!("type.googleapis.com/sift.data.v2.{name}"),
            value: message.encode_to_vec().into(),
        }
    }

    fn ts(ns: i64) -> Option<pbjson_types::Timestamp> {
        Some(pbjson_types::Timestamp {
            seconds: ns.div_euclid(1_000_000_000),
            nanos: ns.rem_euclid(1_000_000_000) as i32,
        })
    }

    #[test]
    fn bit_fields_split_into_elements() {
        let message = BitFieldValues {
            metadata: metadata("gpio", ChannelDataType::BitField),
            values: ["12v", "led"]
                .iter()
                .enumerate()
                .map(|(i, name)| BitFieldElementValues {
                    name: (*name).to_owned(),
                    values: vec![BitFieldValue {
                        timestamp: ts(-1),
                        value: i as u32 + 1,
                    }],
                })
                .collect(),
        };
        let series = decode(&any("BitFieldValues", &message)).unwrap();
        let keys: Vec<&str> = series.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["gpio.12v", "gpio.led"]);
        assert_eq!(series[1].times, [-1]);
        assert_eq!(series[1].values, Values::BitFieldElement(vec![2]));
    }

    #[test]
    fn the_key_falls_back_to_the_channel_id() {
        let message = DoubleValues {
            metadata: metadata("", ChannelDataType::Double),
            values: vec![DoubleValue {
                timestamp: ts(5),
                value: 1.5,
            }],
            extras: Vec::new(),
        };
        let series = decode(&any("DoubleValues", &message)).unwrap();
        assert_eq!(series[0].key, "id-1");
        assert_eq!(series[0].values, Values::Double(vec![1.5]));
    }

    #[test]
    fn unknown_types_and_missing_metadata_are_refused() {
        let message = DoubleValues::default();
        let err = decode(&any("DecimalValues", &message)).unwrap_err();
        assert!(
            err.to_string().contains("sift.data.v2.DecimalValues"),
            "{err}"
        );
        let err = decode(&any("DoubleValues", &message)).unwrap_err();
        assert!(err.to_string().contains("unknown data type 0"), "{err}");
    }

    #[test]
    fn permuting_reorders_every_type() {
        let mut values = Values::String(vec!["a".into(), "b".into(), "c".into()]);
        values.permute(&[2, 0, 1]);
        assert_eq!(
            values,
            Values::String(vec!["c".into(), "a".into(), "b".into()])
        );
        let mut other = Values::Float(vec![1.0]);
        assert!(other.append(Values::Double(vec![2.0])).is_err());
    }
}
