//! Conversions between Sift's messages and Sextant's types: data types, channels, flows,
//! timestamps, run metadata.

use pbjson_types::Timestamp as PbTimestamp;
use sextant_catalog::{ChannelDef, FlowDef, MetadataValue};
use sextant_model::{BitFieldElement, DataType, EnumType, Timestamp};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};
use sift_rs::common::r#type::v1::{ChannelBitFieldElement, ChannelDataType, ChannelEnumType};
use sift_rs::ingestion_configs::v2 as pb;
use sift_rs::metadata::v1 as meta;
use tonic::Status;

/// Sift's data type number for a data type.
pub fn data_type_to_pb(t: DataType) -> i32 {
    let pb = match t {
        DataType::Double => ChannelDataType::Double,
        DataType::Float => ChannelDataType::Float,
        DataType::String => ChannelDataType::String,
        DataType::Bool => ChannelDataType::Bool,
        DataType::Int32 => ChannelDataType::Int32,
        DataType::Int64 => ChannelDataType::Int64,
        DataType::Uint32 => ChannelDataType::Uint32,
        DataType::Uint64 => ChannelDataType::Uint64,
        DataType::Enum => ChannelDataType::Enum,
        DataType::BitField => ChannelDataType::BitField,
        DataType::Bytes => ChannelDataType::Bytes,
    };
    pb as i32
}

/// The data type of Sift's data type number; unspecified and unknown numbers are refused.
pub fn data_type_from_pb(value: i32, channel: &str) -> Result<DataType, Status> {
    let t = match ChannelDataType::try_from(value) {
        Ok(ChannelDataType::Double) => DataType::Double,
        Ok(ChannelDataType::Float) => DataType::Float,
        Ok(ChannelDataType::String) => DataType::String,
        Ok(ChannelDataType::Bool) => DataType::Bool,
        Ok(ChannelDataType::Int32) => DataType::Int32,
        Ok(ChannelDataType::Int64) => DataType::Int64,
        Ok(ChannelDataType::Uint32) => DataType::Uint32,
        Ok(ChannelDataType::Uint64) => DataType::Uint64,
        Ok(ChannelDataType::Enum) => DataType::Enum,
        Ok(ChannelDataType::BitField) => DataType::BitField,
        Ok(ChannelDataType::Bytes) => DataType::Bytes,
        Ok(ChannelDataType::Unspecified) | Err(_) => {
            return Err(Status::invalid_argument(format!(
                "channel `{channel}` has data_type {value}, which is not a data type Sextant stores"
            )));
        }
    };
    Ok(t)
}

/// A channel of a request, as the catalog stores it.
pub fn channel_from_pb(c: &pb::ChannelConfig) -> Result<ChannelDef, Status> {
    if c.name.trim().is_empty() {
        return Err(Status::invalid_argument("a channel has an empty name"));
    }
    let mut bit_field_elements = Vec::with_capacity(c.bit_field_elements.len());
    for e in &c.bit_field_elements {
        let index = u32::try_from(e.index).map_err(|_| {
            Status::invalid_argument(format!(
                "bit-field element `{}` of channel `{}` has a negative index {}",
                e.name, c.name, e.index
            ))
        })?;
        bit_field_elements.push(BitFieldElement::new(e.name.clone(), index, e.bit_count));
    }
    Ok(ChannelDef {
        name: c.name.clone(),
        data_type: data_type_from_pb(c.data_type, &c.name)?,
        unit: c.unit.clone(),
        description: c.description.clone(),
        enum_types: c
            .enum_types
            .iter()
            .map(|e| EnumType {
                name: e.name.clone(),
                key: e.key,
                is_signed: e.is_signed,
            })
            .collect(),
        bit_field_elements,
    })
}

/// A stored channel, as Sift's ingestion-config channel.
pub fn channel_to_pb(c: &ChannelDef) -> pb::ChannelConfig {
    pb::ChannelConfig {
        name: c.name.clone(),
        unit: c.unit.clone(),
        description: c.description.clone(),
        data_type: data_type_to_pb(c.data_type),
        enum_types: enum_types_to_pb(&c.enum_types),
        bit_field_elements: bit_field_to_pb(&c.bit_field_elements),
    }
}

/// An enum table, as Sift's.
pub fn enum_types_to_pb(types: &[EnumType]) -> Vec<ChannelEnumType> {
    types
        .iter()
        .map(|e| ChannelEnumType {
            name: e.name.clone(),
            key: e.key,
            is_signed: e.is_signed,
        })
        .collect()
}

/// A bit-field layout, as Sift's.
pub fn bit_field_to_pb(elements: &[BitFieldElement]) -> Vec<ChannelBitFieldElement> {
    elements
        .iter()
        .map(|e| ChannelBitFieldElement {
            name: e.name.clone(),
            index: i32::try_from(e.index).unwrap_or(i32::MAX),
            bit_count: e.bit_count,
        })
        .collect()
}

/// A flow of a request, as the catalog stores it.
pub fn flow_from_pb(f: &pb::FlowConfig) -> Result<FlowDef, Status> {
    if f.name.trim().is_empty() {
        return Err(Status::invalid_argument("a flow has an empty name"));
    }
    Ok(FlowDef {
        name: f.name.clone(),
        channels: f
            .channels
            .iter()
            .map(channel_from_pb)
            .collect::<Result<_, _>>()?,
    })
}

/// A stored flow, as Sift's.
pub fn flow_to_pb(f: &FlowDef) -> pb::FlowConfig {
    pb::FlowConfig {
        name: f.name.clone(),
        channels: f.channels.iter().map(channel_to_pb).collect(),
    }
}

/// Flows as a telemetry config, so that versions can be compared with the telemetry crate's
/// change classification. Channel names are already full names.
pub fn flows_as_config(asset: &str, flows: &[FlowDef]) -> TelemetryConfig {
    let mut config = TelemetryConfig::new(asset, "");
    for flow in flows {
        let channels = flow.channels.iter().map(|c| {
            let mut channel = ChannelConfig::new(c.name.clone(), c.data_type);
            channel.unit = Some(c.unit.clone()).filter(|u| !u.is_empty());
            channel.description = Some(c.description.clone()).filter(|d| !d.is_empty());
            channel.enum_types = c.enum_types.clone();
            channel.bit_field_elements = c.bit_field_elements.clone();
            channel
        });
        config = config.flow(FlowConfig::new(flow.name.clone(), channels));
    }
    config
}

/// Nanoseconds since the epoch from a protobuf timestamp.
pub fn timestamp_from_pb(t: &PbTimestamp, field: &str) -> Result<Timestamp, Status> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Status::invalid_argument(format!(
            "{field}: nanos {} is outside 0..999999999",
            t.nanos
        )));
    }
    let ns = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    i64::try_from(ns).map_err(|_| {
        Status::invalid_argument(format!(
            "{field}: {} seconds is outside the range Sextant stores (years 1678 to 2262)",
            t.seconds
        ))
    })
}

/// A protobuf timestamp from nanoseconds since the epoch.
pub fn timestamp_to_pb(ns: Timestamp) -> PbTimestamp {
    PbTimestamp {
        seconds: ns.div_euclid(1_000_000_000),
        nanos: ns.rem_euclid(1_000_000_000) as i32,
    }
}

/// Run metadata of a request, as the catalog stores it.
pub fn metadata_from_pb(
    values: &[meta::MetadataValue],
) -> Result<Vec<(String, MetadataValue)>, Status> {
    values
        .iter()
        .map(|m| {
            let name = m.key.as_ref().map(|k| k.name.clone()).unwrap_or_default();
            let value = match &m.value {
                Some(meta::metadata_value::Value::StringValue(s)) => {
                    MetadataValue::String(s.clone())
                }
                Some(meta::metadata_value::Value::NumberValue(n)) => MetadataValue::Number(*n),
                Some(meta::metadata_value::Value::BooleanValue(b)) => MetadataValue::Bool(*b),
                Some(meta::metadata_value::Value::RelationValue(_)) | None => {
                    return Err(Status::invalid_argument(format!(
                        "metadata `{name}` needs a string, number or boolean value"
                    )));
                }
            };
            Ok((name, value))
        })
        .collect()
}

/// Stored run metadata, as Sift's.
pub fn metadata_to_pb(values: &[(String, MetadataValue)]) -> Vec<meta::MetadataValue> {
    values
        .iter()
        .map(|(name, value)| {
            let (kind, value) = match value {
                MetadataValue::String(s) => (
                    meta::MetadataKeyType::String,
                    meta::metadata_value::Value::StringValue(s.clone()),
                ),
                MetadataValue::Number(n) => (
                    meta::MetadataKeyType::Number,
                    meta::metadata_value::Value::NumberValue(*n),
                ),
                MetadataValue::Bool(b) => (
                    meta::MetadataKeyType::Boolean,
                    meta::metadata_value::Value::BooleanValue(*b),
                ),
            };
            meta::MetadataValue {
                key: Some(meta::MetadataKey {
                    name: name.clone(),
                    r#type: kind as i32,
                    ..Default::default()
                }),
                value: Some(value),
                ..Default::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_round_trip_and_unspecified_is_refused() {
        for t in DataType::ALL {
            assert_eq!(data_type_from_pb(data_type_to_pb(t), "c").unwrap(), t);
        }
        let err = data_type_from_pb(0, "velocity").unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("`velocity`"), "{}", err.message());
    }

    #[test]
    fn timestamps_round_trip_and_out_of_range_is_refused() {
        for ns in [0, 1, -1, 1_720_141_748_047_512_000, i64::MAX, i64::MIN] {
            let pb = timestamp_to_pb(ns);
            assert_eq!(timestamp_from_pb(&pb, "t").unwrap(), ns, "{ns}");
        }
        let far = PbTimestamp {
            seconds: i64::MAX / 10,
            nanos: 0,
        };
        assert!(
            timestamp_from_pb(&far, "start_time")
                .unwrap_err()
                .message()
                .starts_with("start_time: ")
        );
        let bad = PbTimestamp {
            seconds: 0,
            nanos: -1,
        };
        assert!(timestamp_from_pb(&bad, "t").is_err());
    }
}
