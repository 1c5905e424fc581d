//! The flows a program sends: one timestamp and values for the channels of a named flow.
//!
//! [`Flow`] names each value's channel, as `sift_py`'s `Flow` dictionaries do, and is checked
//! against the registered flow before sending. [`OrderedFlow`] lists values in the flow's
//! registered channel order, `None` for a channel with no value, and is sent as it is.

use sextant_model::{Timestamp, Value};

use super::time::IntoTimestamp;

/// A flow's values at one time, each naming its channel.
///
/// ```
/// use sextant_client::ingest::{Flow, time};
/// use sextant_model::Value;
///
/// let flow = Flow::new("readings", time::now())
///     .value("mainmotor.velocity", Value::Double(10.0))
///     .value("voltage", Value::Int32(5));
/// assert_eq!(flow.channel_values.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The flow's name, as in the telemetry config.
    pub flow_name: String,
    /// When the values were taken: nanoseconds since the Unix epoch, UTC.
    pub timestamp: Timestamp,
    /// Values for some or all of the flow's channels, in any order. Channels left out get no
    /// point at this time.
    pub channel_values: Vec<ChannelValue>,
}

/// One channel's value in a [`Flow`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelValue {
    /// The channel's full name: `component.name`, or `name` for a channel without component.
    pub channel_name: String,
    /// The value, of the channel's data type. Bit fields are [`Value::BitField`] integers
    /// (bit 0 is the lowest bit of the first byte on the wire), enums are [`Value::Enum`] keys.
    pub value: Value,
}

impl Flow {
    /// A flow called `flow_name` at `timestamp` (nanoseconds, a `SystemTime`, a `chrono`
    /// date-time: see [`IntoTimestamp`]) with no values yet.
    pub fn new(flow_name: impl Into<String>, timestamp: impl IntoTimestamp) -> Self {
        Flow {
            flow_name: flow_name.into(),
            timestamp: timestamp.into_timestamp(),
            channel_values: Vec::new(),
        }
    }

    /// Adds the value of the channel with this full name.
    pub fn value(mut self, channel_name: impl Into<String>, value: Value) -> Self {
        self.channel_values.push(ChannelValue {
            channel_name: channel_name.into(),
            value,
        });
        self
    }
}

/// A flow's values at one time in the flow's registered channel order, `None` where a channel
/// has no value (sent as `empty`).
///
/// Nothing checks an ordered flow before it is sent: the server refuses the whole stream when
/// a value count or type is wrong. [`IngestionService::flow`](crate::ingest::IngestionService::flow)
/// gives the order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedFlow {
    /// The flow's name, as in the telemetry config.
    pub flow_name: String,
    /// When the values were taken: nanoseconds since the Unix epoch, UTC.
    pub timestamp: Timestamp,
    /// One entry per channel of the flow, in order.
    pub channel_values: Vec<Option<Value>>,
}

impl OrderedFlow {
    /// A flow called `flow_name` at `timestamp` with these values, in channel order.
    pub fn new(
        flow_name: impl Into<String>,
        timestamp: impl IntoTimestamp,
        channel_values: impl IntoIterator<Item = Option<Value>>,
    ) -> Self {
        OrderedFlow {
            flow_name: flow_name.into(),
            timestamp: timestamp.into_timestamp(),
            channel_values: channel_values.into_iter().collect(),
        }
    }
}

/// A bit-field value from its wire bytes, as `sift_py`'s `bit_field_value(bytes)` takes them:
/// little-endian, bit 0 the lowest bit of the first byte. Sextant stores up to 8 bytes.
///
/// ```
/// use sextant_client::ingest::bit_field_value;
/// use sextant_model::Value;
///
/// assert_eq!(bit_field_value(&[0b0000_1001]).unwrap(), Value::BitField(9));
/// assert_eq!(bit_field_value(&[0x01, 0x02]).unwrap(), Value::BitField(0x0201));
/// assert!(bit_field_value(&[0; 9]).is_err());
/// ```
pub fn bit_field_value(bytes: &[u8]) -> crate::Result<Value> {
    if bytes.len() > 8 {
        return Err(crate::Error::Validation(format!(
            "a bit field of {} bytes ({bytes:02x?}); Sextant stores bit fields of up to 8 bytes",
            bytes.len()
        )));
    }
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    Ok(Value::BitField(u64::from_le_bytes(buf)))
}
