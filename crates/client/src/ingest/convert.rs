//! Between the SDK's types and Sift's messages: channels and flows for registration, and flows
//! into ingest messages — checked ([`FlowTable::encode_checked`]) or as given
//! ([`FlowTable::encode_ordered`]).

use std::collections::HashMap;

use sextant_model::{BitFieldElement, DataType, EnumType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig};
use sift_rs::common::r#type::v1::{ChannelBitFieldElement, ChannelDataType, ChannelEnumType};
use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as PbValue;
use sift_rs::ingest::v1::{IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest};
use sift_rs::ingestion_configs::v2 as pb;

use super::flow::{Flow, OrderedFlow};
use super::time::{format_rfc3339, to_pb};
use crate::{Error, Result};

/// Sift's number for a data type.
pub(crate) fn data_type_to_pb(t: DataType) -> ChannelDataType {
    match t {
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
    }
}

fn data_type_from_pb(value: i32) -> Option<DataType> {
    Some(match ChannelDataType::try_from(value).ok()? {
        ChannelDataType::Double => DataType::Double,
        ChannelDataType::Float => DataType::Float,
        ChannelDataType::String => DataType::String,
        ChannelDataType::Bool => DataType::Bool,
        ChannelDataType::Int32 => DataType::Int32,
        ChannelDataType::Int64 => DataType::Int64,
        ChannelDataType::Uint32 => DataType::Uint32,
        ChannelDataType::Uint64 => DataType::Uint64,
        ChannelDataType::Enum => DataType::Enum,
        ChannelDataType::BitField => DataType::BitField,
        ChannelDataType::Bytes => DataType::Bytes,
        ChannelDataType::Unspecified => return None,
    })
}

/// A channel as registration sends it: named by its full name, every field filled in.
pub(crate) fn channel_to_pb(c: &ChannelConfig) -> pb::ChannelConfig {
    pb::ChannelConfig {
        name: c.full_name(),
        unit: c.unit.clone().unwrap_or_default(),
        description: c.description.clone().unwrap_or_default(),
        data_type: data_type_to_pb(c.data_type) as i32,
        enum_types: c
            .enum_types
            .iter()
            .map(|e| ChannelEnumType {
                name: e.name.clone(),
                key: e.key,
                is_signed: e.is_signed,
            })
            .collect(),
        bit_field_elements: c
            .bit_field_elements
            .iter()
            .map(|e| ChannelBitFieldElement {
                name: e.name.clone(),
                index: i32::try_from(e.index).unwrap_or(i32::MAX),
                bit_count: e.bit_count,
            })
            .collect(),
    }
}

/// A flow as registration sends it.
pub(crate) fn flow_to_pb(f: &FlowConfig) -> pb::FlowConfig {
    pb::FlowConfig {
        name: f.name.clone(),
        channels: f.channels.iter().map(channel_to_pb).collect(),
    }
}

/// A flow as the server registered it, with full channel names and no components.
pub(crate) fn flow_from_pb(f: &pb::FlowConfig) -> Result<FlowConfig> {
    let mut channels = Vec::with_capacity(f.channels.len());
    for c in &f.channels {
        let data_type = data_type_from_pb(c.data_type).ok_or_else(|| {
            Error::Validation(format!(
                "the server registered channel `{}` of flow `{}` with data type {}, which this SDK does not know",
                c.name, f.name, c.data_type
            ))
        })?;
        let mut channel = ChannelConfig::new(c.name.clone(), data_type);
        channel.unit = Some(c.unit.clone()).filter(|u| !u.is_empty());
        channel.description = Some(c.description.clone()).filter(|d| !d.is_empty());
        channel.enum_types = c
            .enum_types
            .iter()
            .map(|e| EnumType {
                name: e.name.clone(),
                key: e.key,
                is_signed: e.is_signed,
            })
            .collect();
        channel.bit_field_elements = c
            .bit_field_elements
            .iter()
            .map(|e| BitFieldElement::new(e.name.clone(), e.index.max(0) as u32, e.bit_count))
            .collect();
        channels.push(channel);
    }
    Ok(FlowConfig::new(f.name.clone(), channels))
}

/// A flow as the server registered it, ready to encode values for.
#[derive(Debug)]
pub(crate) struct RegisteredFlow {
    pub config: FlowConfig,
    positions: HashMap<String, usize>,
    /// Per channel: the fewest bytes a bit field of this channel is sent in.
    bit_field_bytes: Vec<usize>,
}

impl RegisteredFlow {
    pub fn new(config: FlowConfig) -> Self {
        let positions = config
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.full_name(), i))
            .collect();
        let bit_field_bytes = config
            .channels
            .iter()
            .map(|c| {
                let bits = c
                    .bit_field_elements
                    .iter()
                    .map(|e| e.index.saturating_add(e.bit_count))
                    .max()
                    .unwrap_or(8);
                (bits as usize).div_ceil(8).clamp(1, 8)
            })
            .collect();
        RegisteredFlow {
            config,
            positions,
            bit_field_bytes,
        }
    }

    fn channel_names(&self) -> String {
        let names: Vec<String> = self
            .config
            .channels
            .iter()
            .map(|c| format!("`{}` ({})", c.full_name(), c.data_type))
            .collect();
        names.join(", ")
    }
}

/// The registered flows of one ingestion config and what every message carries.
#[derive(Debug)]
pub(crate) struct FlowTable {
    pub ingestion_config_id: String,
    pub organization_id: String,
    pub client_key: String,
    pub flows: HashMap<String, RegisteredFlow>,
}

/// A bit-field integer as little-endian bytes: at least `min_bytes`, more if the value needs.
fn bit_field_bytes(bits: u64, min_bytes: usize) -> Vec<u8> {
    let needed = (64 - bits.leading_zeros() as usize).div_ceil(8);
    bits.to_le_bytes()[..needed.max(min_bytes).clamp(1, 8)].to_vec()
}

fn value_to_pb(value: Value, bit_field_min_bytes: usize) -> PbValue {
    match value {
        Value::Double(v) => PbValue::Double(v),
        Value::Float(v) => PbValue::Float(v),
        Value::String(v) => PbValue::String(v),
        Value::Bool(v) => PbValue::Bool(v),
        Value::Int32(v) => PbValue::Int32(v),
        Value::Int64(v) => PbValue::Int64(v),
        Value::Uint32(v) => PbValue::Uint32(v),
        Value::Uint64(v) => PbValue::Uint64(v),
        Value::Enum(v) => PbValue::Enum(v),
        Value::BitField(v) => PbValue::BitField(bit_field_bytes(v, bit_field_min_bytes)),
        Value::Bytes(v) => PbValue::Bytes(v),
    }
}

fn empty() -> IngestWithConfigDataChannelValue {
    IngestWithConfigDataChannelValue {
        r#type: Some(PbValue::Empty(pbjson_types::Empty {})),
    }
}

impl FlowTable {
    fn message(
        &self,
        flow: &str,
        timestamp: i64,
        run_id: &str,
        channel_values: Vec<IngestWithConfigDataChannelValue>,
    ) -> IngestWithConfigDataStreamRequest {
        IngestWithConfigDataStreamRequest {
            ingestion_config_id: self.ingestion_config_id.clone(),
            flow: flow.to_owned(),
            timestamp: Some(to_pb(timestamp)),
            channel_values,
            run_id: run_id.to_owned(),
            end_stream_on_validation_error: true,
            organization_id: self.organization_id.clone(),
        }
    }

    fn flow_names(&self) -> String {
        let mut names: Vec<&str> = self.flows.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.join(", ")
    }

    /// Checks every flow against its registered flow and encodes them all, or names the first
    /// problem: an unknown flow, no values, an unknown or repeated channel, a value of another
    /// type, an enum key outside the channel's table.
    pub fn encode_checked(
        &self,
        flows: &[Flow],
        run_id: &str,
    ) -> Result<Vec<IngestWithConfigDataStreamRequest>> {
        let mut messages = Vec::with_capacity(flows.len());
        for (i, flow) in flows.iter().enumerate() {
            let at = || {
                format!(
                    "flow {} of {} (`{}` at {})",
                    i + 1,
                    flows.len(),
                    flow.flow_name,
                    format_rfc3339(flow.timestamp)
                )
            };
            let Some(registered) = self.flows.get(&flow.flow_name) else {
                return Err(Error::Validation(format!(
                    "{}: ingestion config `{}` has no flow `{}`; its flows are {}",
                    at(),
                    self.client_key,
                    flow.flow_name,
                    self.flow_names()
                )));
            };
            if flow.channel_values.is_empty() {
                return Err(Error::Validation(format!(
                    "{}: no channel values; give at least one of {}",
                    at(),
                    registered.channel_names()
                )));
            }
            let mut slots: Vec<Option<IngestWithConfigDataChannelValue>> =
                vec![None; registered.config.channels.len()];
            for cv in &flow.channel_values {
                let Some(&position) = registered.positions.get(&cv.channel_name) else {
                    return Err(Error::Validation(format!(
                        "{}: unexpected channel `{}`; the flow's channels are {}",
                        at(),
                        cv.channel_name,
                        registered.channel_names()
                    )));
                };
                if slots[position].is_some() {
                    return Err(Error::Validation(format!(
                        "{}: channel `{}` has two values",
                        at(),
                        cv.channel_name
                    )));
                }
                let channel = &registered.config.channels[position];
                if cv.value.data_type() != channel.data_type {
                    return Err(Error::Validation(format!(
                        "{}: channel `{}` is {} but the value is {} {}",
                        at(),
                        cv.channel_name,
                        channel.data_type,
                        cv.value.data_type(),
                        cv.value
                    )));
                }
                if let Value::Enum(key) = cv.value
                    && !channel.enum_types.is_empty()
                    && !channel.enum_types.iter().any(|e| e.key == key)
                {
                    let table: Vec<String> = channel
                        .enum_types
                        .iter()
                        .map(|e| format!("{} {}", e.key, e.name))
                        .collect();
                    return Err(Error::Validation(format!(
                        "{}: enum key {key} is not in the table of channel `{}` ({})",
                        at(),
                        cv.channel_name,
                        table.join(", ")
                    )));
                }
                slots[position] = Some(IngestWithConfigDataChannelValue {
                    r#type: Some(value_to_pb(
                        cv.value.clone(),
                        registered.bit_field_bytes[position],
                    )),
                });
            }
            let values = slots
                .into_iter()
                .map(|slot| slot.unwrap_or_else(empty))
                .collect();
            messages.push(self.message(&flow.flow_name, flow.timestamp, run_id, values));
        }
        Ok(messages)
    }

    /// Encodes flows as given, checking nothing.
    pub fn encode_ordered(
        &self,
        flows: &[OrderedFlow],
        run_id: &str,
    ) -> Vec<IngestWithConfigDataStreamRequest> {
        flows
            .iter()
            .map(|flow| {
                let widths = self
                    .flows
                    .get(&flow.flow_name)
                    .map(|r| r.bit_field_bytes.as_slice())
                    .unwrap_or_default();
                let values = flow
                    .channel_values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        None => empty(),
                        Some(v) => IngestWithConfigDataChannelValue {
                            r#type: Some(value_to_pb(
                                v.clone(),
                                widths.get(i).copied().unwrap_or(1),
                            )),
                        },
                    })
                    .collect();
                self.message(&flow.flow_name, flow.timestamp, run_id, values)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_telemetry::ChannelConfig;

    fn table() -> FlowTable {
        let velocity = ChannelConfig::new("velocity", DataType::Double).component("mainmotor");
        let voltage = ChannelConfig::new("voltage", DataType::Int32);
        let state = ChannelConfig::enumeration(
            "vehicle_state",
            [("Accelerating", 0), ("Decelerating", 1), ("Stopped", 2)],
        );
        let gpio = ChannelConfig::bit_field(
            "gpio",
            [
                ("12v", 0, 1),
                ("charge", 1, 2),
                ("led", 3, 4),
                ("heater", 7, 1),
            ],
        );
        // As the server returns it: full names, no components.
        let registered = flow_from_pb(&flow_to_pb(&FlowConfig::new(
            "readings",
            [velocity, voltage, state, gpio],
        )))
        .unwrap();
        FlowTable {
            ingestion_config_id: "cfg".into(),
            organization_id: String::new(),
            client_key: "nostromo_lv_426".into(),
            flows: [("readings".to_owned(), RegisteredFlow::new(registered))]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn checked_flows_are_laid_out_in_registered_order_with_empties() {
        let flows = [Flow::new("readings", 1_500)
            .value("gpio", Value::BitField(0b1000_1001))
            .value("mainmotor.velocity", Value::Double(10.0))];
        let messages = table().encode_checked(&flows, "run-1").unwrap();
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!((m.flow.as_str(), m.run_id.as_str()), ("readings", "run-1"));
        assert_eq!(m.ingestion_config_id, "cfg");
        assert!(m.end_stream_on_validation_error);
        let values: Vec<_> = m
            .channel_values
            .iter()
            .map(|v| v.r#type.clone().unwrap())
            .collect();
        assert_eq!(
            values,
            [
                PbValue::Double(10.0),
                PbValue::Empty(pbjson_types::Empty {}),
                PbValue::Empty(pbjson_types::Empty {}),
                PbValue::BitField(vec![0b1000_1001]),
            ]
        );
    }

    #[test]
    fn checked_flows_name_the_problem() {
        let at = |v: Flow| table().encode_checked(&[v], "").unwrap_err().to_string();
        let flow = || Flow::new("readings", 0);
        let cases = [
            (
                at(Flow::new("reading", 0).value("voltage", Value::Int32(1))),
                "flow 1 of 1 (`reading` at 1970-01-01T00:00:00.000000000Z): ingestion config `nostromo_lv_426` has no flow `reading`; its flows are readings",
            ),
            (at(flow()), "no channel values"),
            (
                at(flow().value("velocity", Value::Double(1.0))),
                "unexpected channel `velocity`; the flow's channels are `mainmotor.velocity` (double), `voltage` (int32)",
            ),
            (
                at(flow()
                    .value("voltage", Value::Int32(1))
                    .value("voltage", Value::Int32(2))),
                "channel `voltage` has two values",
            ),
            (
                at(flow().value("voltage", Value::Double(5.0))),
                "channel `voltage` is int32 but the value is double 5.0",
            ),
            (
                at(flow().value("vehicle_state", Value::Enum(7))),
                "enum key 7 is not in the table of channel `vehicle_state` (0 Accelerating, 1 Decelerating, 2 Stopped)",
            ),
        ];
        for (got, want) in cases {
            assert!(got.contains(want), "{got}\n  does not contain\n{want}");
        }
    }

    #[test]
    fn bit_fields_take_the_channel_width_or_more() {
        assert_eq!(bit_field_bytes(0, 1), [0]);
        assert_eq!(bit_field_bytes(0x0102, 1), [2, 1]);
        assert_eq!(bit_field_bytes(1, 3), [1, 0, 0]);
        assert_eq!(bit_field_bytes(u64::MAX, 1), [255; 8]);
    }

    #[test]
    fn ordered_flows_are_encoded_as_given() {
        let flows = [OrderedFlow::new(
            "readings",
            -1,
            [
                Some(Value::Double(1.0)),
                None,
                Some(Value::Enum(2)),
                Some(Value::BitField(9)),
            ],
        )];
        let m = table().encode_ordered(&flows, "").remove(0);
        let t = m.timestamp.unwrap();
        assert_eq!((t.seconds, t.nanos), (-1, 999_999_999));
        assert_eq!(m.channel_values.len(), 4);
        assert_eq!(m.channel_values[3].r#type, Some(PbValue::BitField(vec![9])));
    }
}
