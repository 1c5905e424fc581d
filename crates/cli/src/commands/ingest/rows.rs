//! Table rows into flows: which column is the time and which the channels, and how each cell
//! reads as a value of its channel's type. Pure: text in, values or reasons out.

use std::collections::HashMap;

use sextant_client::ingest::time::parse_rfc3339;
use sextant_model::{DataType, Timestamp, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig};

/// How the columns of a table map to a flow: the time column and, per flow channel, its
/// column if the table has one.
#[derive(Debug)]
pub struct RowDecoder {
    time_column: usize,
    /// Per flow channel, in flow order: the column and the channel.
    channels: Vec<(Option<usize>, ChannelConfig)>,
    header: Vec<String>,
    width: usize,
}

/// Names the time column may have.
const TIME_COLUMNS: [&str; 2] = ["time", "timestamp"];

impl RowDecoder {
    /// Maps `header` to `flow`: one column named `time` or `timestamp`, the others named after
    /// the flow's channels (full names). Flow channels without a column get no points.
    pub fn new(header: &[String], flow: &FlowConfig) -> Result<RowDecoder, String> {
        let times: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                TIME_COLUMNS
                    .iter()
                    .any(|t| h.trim().eq_ignore_ascii_case(t))
            })
            .map(|(i, _)| i)
            .collect();
        let time_column = match times.as_slice() {
            [one] => *one,
            [] => {
                return Err(format!(
                    "the header {header:?} has no time column: name one `time` or `timestamp`"
                ));
            }
            _ => {
                return Err(format!(
                    "the header {header:?} has more than one time column"
                ));
            }
        };
        let by_name: HashMap<String, usize> = flow
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.full_name(), i))
            .collect();
        let mut columns = vec![None; flow.channels.len()];
        for (i, name) in header.iter().enumerate() {
            if i == time_column {
                continue;
            }
            let Some(&channel) = by_name.get(name.trim()) else {
                let names: Vec<String> =
                    flow.channels.iter().map(ChannelConfig::full_name).collect();
                return Err(format!(
                    "column {name:?} is not a channel of flow `{}`; its channels are {}",
                    flow.name,
                    names.join(", ")
                ));
            };
            if columns[channel].is_some() {
                return Err(format!("channel column {name:?} appears twice"));
            }
            columns[channel] = Some(i);
        }
        if columns.iter().all(Option::is_none) {
            return Err(format!(
                "the header {header:?} names no channel of flow `{}`",
                flow.name
            ));
        }
        Ok(RowDecoder {
            time_column,
            channels: columns
                .into_iter()
                .zip(flow.channels.iter().cloned())
                .collect(),
            header: header.to_vec(),
            width: header.len(),
        })
    }

    /// The channels that have a column, by full name.
    pub fn mapped_channels(&self) -> usize {
        self.channels.iter().filter(|(c, _)| c.is_some()).count()
    }

    /// Reads one row (cells in header order, `None` or blank for no value): its timestamp and
    /// values in flow order, or every reason the row cannot be used.
    pub fn decode(
        &self,
        cells: &[Option<&str>],
    ) -> Result<(Timestamp, Vec<Option<Value>>), Vec<String>> {
        if cells.len() != self.width {
            return Err(vec![format!(
                "{} fields where the header has {}",
                cells.len(),
                self.width
            )]);
        }
        let mut reasons = Vec::new();
        let time_name = &self.header[self.time_column];
        let timestamp = match cells[self.time_column]
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            None => {
                reasons.push(format!("column {time_name:?}: no time"));
                None
            }
            Some(text) => match parse_time(text) {
                Ok(t) => Some(t),
                Err(why) => {
                    reasons.push(format!("column {time_name:?}: {why}"));
                    None
                }
            },
        };
        let mut values = Vec::with_capacity(self.channels.len());
        for (column, channel) in &self.channels {
            let cell = column
                .and_then(|c| cells[c])
                .filter(|c| !c.trim().is_empty());
            match cell.map(|text| parse_value(text, channel)) {
                None => values.push(None),
                Some(Ok(value)) => values.push(Some(value)),
                Some(Err(why)) => {
                    reasons.push(format!("column {:?}: {why}", channel.full_name()));
                    values.push(None);
                }
            }
        }
        match timestamp {
            Some(t) if reasons.is_empty() => Ok((t, values)),
            _ => Err(reasons),
        }
    }
}

/// A time cell: integer nanoseconds since the epoch, or RFC 3339.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(ns) = text.parse::<i64>() {
        return Ok(ns);
    }
    parse_rfc3339(text).map_err(|_| {
        format!("{text:?} is neither RFC 3339 (2024-07-05T01:09:08.555Z) nor integer nanoseconds")
    })
}

/// An unsigned integer in decimal, `0x` hexadecimal or `0b` binary.
fn parse_unsigned(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = text.strip_prefix("0b").or_else(|| text.strip_prefix("0B")) {
        u64::from_str_radix(bin, 2).ok()
    } else {
        text.parse().ok()
    }
}

/// A cell as a value of `channel`'s type.
pub fn parse_value(text: &str, channel: &ChannelConfig) -> Result<Value, String> {
    let t = text.trim();
    let bad = |what: &str| format!("{text:?} is not {what}");
    Ok(match channel.data_type {
        DataType::Double => Value::Double(t.parse().map_err(|_| bad("a double"))?),
        DataType::Float => Value::Float(t.parse().map_err(|_| bad("a float"))?),
        DataType::String => Value::String(text.to_owned()),
        DataType::Bool => Value::Bool(match t.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad("a bool (true, false, 1 or 0)")),
        }),
        DataType::Int32 => Value::Int32(t.parse().map_err(|_| bad("an int32"))?),
        DataType::Int64 => Value::Int64(t.parse().map_err(|_| bad("an int64"))?),
        DataType::Uint32 => Value::Uint32(t.parse().map_err(|_| bad("a uint32"))?),
        DataType::Uint64 => Value::Uint64(t.parse().map_err(|_| bad("a uint64"))?),
        DataType::Enum => {
            let key = match t.parse::<u32>() {
                Ok(key) => channel
                    .enum_types
                    .iter()
                    .find(|e| e.key == key)
                    .map(|e| e.key)
                    .or(channel.enum_types.is_empty().then_some(key)),
                Err(_) => channel
                    .enum_types
                    .iter()
                    .find(|e| e.name == t)
                    .map(|e| e.key),
            };
            let Some(key) = key else {
                let table: Vec<String> = channel
                    .enum_types
                    .iter()
                    .map(|e| format!("{} {}", e.key, e.name))
                    .collect();
                return Err(bad(&format!(
                    "a key or name of the enum table ({})",
                    table.join(", ")
                )));
            };
            Value::Enum(key)
        }
        DataType::BitField => Value::BitField(
            parse_unsigned(t).ok_or_else(|| bad("a bit field (an integer, 0x… or 0b…)"))?,
        ),
        DataType::Bytes => {
            let hex = t.strip_prefix("0x").unwrap_or(t);
            if !hex.len().is_multiple_of(2) {
                return Err(bad("hex bytes (an even number of hex digits)"));
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| bad("hex bytes"))?;
            Value::Bytes(bytes)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> FlowConfig {
        FlowConfig::new(
            "readings",
            [
                ChannelConfig::new("mainmotor.velocity", DataType::Double),
                ChannelConfig::new("voltage", DataType::Int32),
                ChannelConfig::enumeration("vehicle_state", [("Accelerating", 0), ("Stopped", 2)]),
                ChannelConfig::bit_field("gpio", [("12v", 0, 1), ("heater", 7, 1)]),
            ],
        )
    }

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cells_by_type() {
        let ch = |t| ChannelConfig::new("c", t);
        let state = &flow().channels[2];
        let cases: &[(&ChannelConfig, &str, Result<Value, &str>)] = &[
            (&ch(DataType::Double), " 1.5 ", Ok(Value::Double(1.5))),
            (&ch(DataType::Double), "abc", Err("\"abc\" is not a double")),
            (&ch(DataType::Float), "-0.25", Ok(Value::Float(-0.25))),
            (
                &ch(DataType::String),
                " as is ",
                Ok(Value::String(" as is ".into())),
            ),
            (&ch(DataType::Bool), "TRUE", Ok(Value::Bool(true))),
            (&ch(DataType::Bool), "0", Ok(Value::Bool(false))),
            (&ch(DataType::Bool), "yes", Err("is not a bool")),
            (
                &ch(DataType::Int32),
                "-2147483648",
                Ok(Value::Int32(i32::MIN)),
            ),
            (&ch(DataType::Int32), "2147483648", Err("is not an int32")),
            (
                &ch(DataType::Int64),
                "9223372036854775807",
                Ok(Value::Int64(i64::MAX)),
            ),
            (&ch(DataType::Uint32), "-1", Err("is not a uint32")),
            (
                &ch(DataType::Uint64),
                "18446744073709551615",
                Ok(Value::Uint64(u64::MAX)),
            ),
            (state, "2", Ok(Value::Enum(2))),
            (state, "Stopped", Ok(Value::Enum(2))),
            (
                state,
                "1",
                Err("a key or name of the enum table (0 Accelerating, 2 Stopped)"),
            ),
            (&ch(DataType::Enum), "7", Ok(Value::Enum(7))),
            (&ch(DataType::BitField), "0b1001", Ok(Value::BitField(9))),
            (&ch(DataType::BitField), "0x89", Ok(Value::BitField(0x89))),
            (&ch(DataType::BitField), "137", Ok(Value::BitField(137))),
            (
                &ch(DataType::Bytes),
                "0x00ff10",
                Ok(Value::Bytes(vec![0, 255, 16])),
            ),
            (&ch(DataType::Bytes), "0fz", Err("an even number")),
        ];
        for (channel, text, want) in cases {
            match (parse_value(text, channel), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{got} / {want}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn rows_map_to_flow_order_and_collect_every_reason() {
        let decoder = RowDecoder::new(
            &header(&["gpio", "Time", "mainmotor.velocity", "voltage"]),
            &flow(),
        )
        .unwrap();
        assert_eq!(decoder.mapped_channels(), 3);
        let (t, values) = decoder
            .decode(&[
                Some("9"),
                Some("2024-07-05T01:09:08Z"),
                Some("1.5"),
                Some(""),
            ])
            .unwrap();
        assert_eq!(t, 1_720_141_748_000_000_000);
        assert_eq!(
            values,
            [
                Some(Value::Double(1.5)),
                None,
                None,
                Some(Value::BitField(9))
            ]
        );
        let (t, _) = decoder
            .decode(&[None, Some("42"), Some("1"), None])
            .unwrap();
        assert_eq!(t, 42);

        let reasons = decoder
            .decode(&[Some("x"), Some("yesterday"), Some("1.5"), Some("1.5")])
            .unwrap_err();
        assert_eq!(
            reasons,
            [
                "column \"Time\": \"yesterday\" is neither RFC 3339 (2024-07-05T01:09:08.555Z) nor integer nanoseconds",
                "column \"voltage\": \"1.5\" is not an int32",
                "column \"gpio\": \"x\" is not a bit field (an integer, 0x… or 0b…)",
            ]
        );
        assert_eq!(
            decoder.decode(&[Some("1")]).unwrap_err(),
            ["1 fields where the header has 4"]
        );
    }

    #[test]
    fn headers_that_cannot_be_mapped() {
        let cases = [
            (vec!["voltage"], "has no time column"),
            (
                vec!["time", "timestamp", "voltage"],
                "more than one time column",
            ),
            (
                vec!["time", "velocity"],
                "column \"velocity\" is not a channel of flow `readings`",
            ),
            (vec!["time", "voltage", "voltage"], "appears twice"),
            (vec!["time"], "names no channel"),
        ];
        for (names, want) in cases {
            let err = RowDecoder::new(&header(&names), &flow()).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
    }
}
