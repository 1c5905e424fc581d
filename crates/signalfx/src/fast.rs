//! A zero-copy reader of `DataPointUploadMessage`, for the ingest hot path.
//!
//! [`crate::datapoint::decode_protobuf`] builds owned messages with `prost` (a `String` for the
//! metric and for every dimension key and value of every point). This reader walks the same
//! bytes and lends each point's strings from the body, so a server that has seen a series
//! before can find it from the point's text without allocating. Both accept and refuse the same
//! points with the same reasons (a property test holds them to it).

use crate::datapoint::MetricType;
use crate::{Error, Result};

/// A datapoint whose strings borrow from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRef<'a> {
    /// The metric name, not empty.
    pub metric: &'a str,
    /// The dimensions as sent, keys and values not empty, keys distinct.
    pub dimensions: &'a [(&'a str, &'a str)],
    /// Milliseconds since the Unix epoch; `None` means the server's time.
    pub timestamp_ms: Option<i64>,
    /// The value.
    pub value: ValueRef<'a>,
    /// The metric type.
    pub metric_type: MetricType,
}

/// A value borrowing its string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// `intValue`.
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `strValue`.
    Str(&'a str),
}

/// A refused point: its position, metric and dimensions as far as read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadPointRef<'a> {
    /// Its position in the body, from 0.
    pub index: usize,
    /// Its metric, when it has one.
    pub metric: Option<&'a str>,
    /// Its dimensions as far as they could be read.
    pub dimensions: &'a [(&'a str, &'a str)],
    /// What is wrong.
    pub reason: String,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::Protobuf {
        message: "DataPointUploadMessage",
        reason: reason.into(),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(malformed("a varint is cut short"));
            };
            self.at += 1;
            if shift == 63 && b > 1 {
                return Err(malformed("a varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("a varint is longer than 10 bytes"))
    }

    fn fixed64(&mut self) -> Result<u64> {
        let bytes = self
            .bytes
            .get(self.at..self.at + 8)
            .ok_or_else(|| malformed("a fixed64 is cut short"))?;
        self.at += 8;
        let mut array = [0; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    fn delimited(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| malformed("a length is too large"))?;
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed("a length-delimited field runs past the end"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// The next field's number and wire type.
    fn tag(&mut self) -> Result<(u32, u8)> {
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(malformed("a field key is too large"));
        }
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(malformed("field number 0"));
        }
        Ok((field, (key & 7) as u8))
    }

    /// Skips the value of field `field` of wire type `wire`.
    fn skip(&mut self, field: u32, wire: u8) -> Result<()> {
        self.skip_nested(field, wire, 0)
    }

    fn skip_nested(&mut self, field: u32, wire: u8, depth: usize) -> Result<()> {
        match wire {
            3 => {
                // A group: fields up to the end marker of the same field.
                if depth > 100 {
                    return Err(malformed("groups nest too deep"));
                }
                loop {
                    if self.done() {
                        return Err(malformed("a group is not closed"));
                    }
                    let (inner, wire) = self.tag()?;
                    if wire == 4 {
                        if inner != field {
                            return Err(malformed("a group ends with another field's marker"));
                        }
                        return Ok(());
                    }
                    self.skip_nested(inner, wire, depth + 1)?;
                }
            }
            0 => self.varint().map(|_| ()),
            1 => self.fixed64().map(|_| ()),
            2 => self.delimited().map(|_| ()),
            5 => {
                if self.at + 4 > self.bytes.len() {
                    return Err(malformed("a fixed32 is cut short"));
                }
                self.at += 4;
                Ok(())
            }
            other => Err(malformed(format!("wire type {other} is not supported"))),
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| malformed("a string is not valid UTF-8"))
}

fn expect(wire: u8, want: u8) -> Result<()> {
    if wire == want {
        Ok(())
    } else {
        Err(malformed(format!(
            "wire type {wire} where {want} was expected"
        )))
    }
}

/// Reads every point of a `DataPointUploadMessage`, calling `on_point` with each good point
/// or refused one, in order. `dims` is scratch space reused across calls. Fails as a whole,
/// before calling `on_point` at all, only when the bytes are not such a message.
pub fn for_each_point<'a>(
    body: &'a [u8],
    dims: &mut Vec<(&'a str, &'a str)>,
    mut on_point: impl FnMut(Result<PointRef<'_>, BadPointRef<'_>>),
) -> Result<()> {
    // The whole message is read before any point is handed on, so that a damaged body is
    // refused whole, as the owned decoder does. Dimensions go to one flat list.
    dims.clear();
    let mut points: Vec<(Raw<'a>, std::ops::Range<usize>)> = Vec::new();
    let mut reader = Reader { bytes: body, at: 0 };
    while !reader.done() {
        let (field, wire) = reader.tag()?;
        if field == 1 {
            expect(wire, 2)?;
            let bytes = reader.delimited()?;
            let from = dims.len();
            let raw = parse_point(bytes, dims)?;
            points.push((raw, from..dims.len()));
        } else {
            reader.skip(field, wire)?;
        }
    }
    for (index, (raw, range)) in points.into_iter().enumerate() {
        let dimensions = &dims[range];
        let metric = Some(raw.metric).filter(|m| !m.is_empty());
        let bad = |reason: String| BadPointRef {
            index,
            metric,
            dimensions,
            reason,
        };
        // The checks and their order are the owned decoder's.
        if let Err(reason) = check_dims(dimensions) {
            on_point(Err(bad(reason)));
            continue;
        }
        if metric.is_none() {
            on_point(Err(bad("the point has no metric name".to_owned())));
            continue;
        }
        let metric_type = match raw.metric_type.map(|t| t as i32) {
            None | Some(0) => MetricType::Gauge,
            Some(1) => MetricType::Counter,
            Some(3) => MetricType::CumulativeCounter,
            Some(2) => {
                on_point(Err(bad(
                    "metric type ENUM is not served: send GAUGE, COUNTER or CUMULATIVE_COUNTER"
                        .to_owned(),
                )));
                continue;
            }
            Some(other) => {
                on_point(Err(bad(format!("unknown metric type {other}"))));
                continue;
            }
        };
        let value = match (raw.str_value, raw.double_value, raw.int_value) {
            (Some(s), None, None) => ValueRef::Str(s),
            (None, Some(d), None) => ValueRef::Double(d),
            (None, None, Some(i)) => ValueRef::Int(i),
            (None, None, None) => {
                on_point(Err(bad("the point has no value".to_owned())));
                continue;
            }
            _ => {
                on_point(Err(bad(
                    "the point's value sets more than one of strValue, doubleValue and intValue"
                        .to_owned(),
                )));
                continue;
            }
        };
        on_point(Ok(PointRef {
            metric: raw.metric,
            dimensions,
            timestamp_ms: raw.timestamp_ms,
            value,
            metric_type,
        }));
    }
    Ok(())
}

fn check_dims(dims: &[(&str, &str)]) -> Result<(), String> {
    for (i, (key, value)) in dims.iter().enumerate() {
        if key.is_empty() {
            return Err(format!("a dimension has an empty key (value {value:?})"));
        }
        if value.is_empty() {
            return Err(format!("dimension `{key}` has an empty value"));
        }
        if dims[..i].iter().any(|(k, _)| k == key) {
            return Err(format!("dimension `{key}` is given twice"));
        }
    }
    Ok(())
}

/// One `DataPoint` as read, before its checks.
struct Raw<'a> {
    metric: &'a str,
    timestamp_ms: Option<i64>,
    metric_type: Option<u64>,
    str_value: Option<&'a str>,
    double_value: Option<f64>,
    int_value: Option<i64>,
}

/// Reads one `DataPoint`, appending its dimensions to `dims`. Repeated scalar fields keep
/// the last value and a repeated `value` message merges, as protobuf decoders do.
fn parse_point<'a>(bytes: &'a [u8], dims: &mut Vec<(&'a str, &'a str)>) -> Result<Raw<'a>> {
    let mut reader = Reader { bytes, at: 0 };
    let mut raw = Raw {
        metric: "",
        timestamp_ms: None,
        metric_type: None,
        str_value: None,
        double_value: None,
        int_value: None,
    };
    while !reader.done() {
        let (field, wire) = reader.tag()?;
        match field {
            1 => {
                expect(wire, 2)?;
                utf8(reader.delimited()?)?;
            }
            2 => {
                expect(wire, 2)?;
                raw.metric = utf8(reader.delimited()?)?;
            }
            3 => {
                expect(wire, 0)?;
                raw.timestamp_ms = Some(reader.varint()? as i64);
            }
            4 => {
                expect(wire, 2)?;
                let mut d = Reader {
                    bytes: reader.delimited()?,
                    at: 0,
                };
                while !d.done() {
                    let (field, wire) = d.tag()?;
                    match field {
                        1 => {
                            expect(wire, 2)?;
                            raw.str_value = Some(utf8(d.delimited()?)?);
                        }
                        2 => {
                            expect(wire, 1)?;
                            raw.double_value = Some(f64::from_bits(d.fixed64()?));
                        }
                        3 => {
                            expect(wire, 0)?;
                            raw.int_value = Some(d.varint()? as i64);
                        }
                        _ => d.skip(field, wire)?,
                    }
                }
            }
            5 => {
                expect(wire, 0)?;
                raw.metric_type = Some(reader.varint()?);
            }
            6 => {
                expect(wire, 2)?;
                let mut d = Reader {
                    bytes: reader.delimited()?,
                    at: 0,
                };
                let (mut key, mut value) = ("", "");
                while !d.done() {
                    let (field, wire) = d.tag()?;
                    match field {
                        1 => {
                            expect(wire, 2)?;
                            key = utf8(d.delimited()?)?;
                        }
                        2 => {
                            expect(wire, 2)?;
                            value = utf8(d.delimited()?)?;
                        }
                        _ => d.skip(field, wire)?,
                    }
                }
                dims.push((key, value));
            }
            _ => reader.skip(field, wire)?,
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::datapoint::{PointValue, decode_protobuf};
    use crate::proto;

    /// What either decoder yields, in a comparable form.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Good(
            String,
            Vec<(String, String)>,
            Option<i64>,
            String,
            MetricType,
        ),
        Bad(usize, Option<String>, String),
    }

    fn fast(body: &[u8]) -> Result<Vec<Seen>> {
        let mut seen = Vec::new();
        let mut dims = Vec::new();
        for_each_point(body, &mut dims, |p| {
            seen.push(match p {
                Ok(p) => Seen::Good(
                    p.metric.to_owned(),
                    p.dimensions
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    p.timestamp_ms,
                    match p.value {
                        ValueRef::Int(i) => format!("i{i}"),
                        ValueRef::Double(d) => format!("d{:?}", d.to_bits()),
                        ValueRef::Str(s) => format!("s{s}"),
                    },
                    p.metric_type,
                ),
                Err(b) => Seen::Bad(b.index, b.metric.map(str::to_owned), b.reason),
            })
        })?;
        Ok(seen)
    }

    fn owned(body: &[u8]) -> Result<Vec<Seen>> {
        let body = decode_protobuf(body)?;
        let mut seen: Vec<(usize, Seen)> = Vec::new();
        let mut good = body.points.into_iter();
        let mut bad = body.refused.into_iter().peekable();
        let total = good.len() + bad.len();
        for index in 0..total {
            if bad.peek().is_some_and(|b| b.index == index) {
                let b = bad.next().unwrap_or_else(|| unreachable!());
                seen.push((index, Seen::Bad(b.index, b.metric, b.reason)));
            } else if let Some(p) = good.next() {
                seen.push((
                    index,
                    Seen::Good(
                        p.metric,
                        p.dimensions,
                        p.timestamp_ms,
                        match p.value {
                            PointValue::Int(i) => format!("i{i}"),
                            PointValue::Double(d) => format!("d{:?}", d.to_bits()),
                            PointValue::Str(s) => format!("s{s}"),
                        },
                        p.metric_type,
                    ),
                ));
            }
        }
        Ok(seen.into_iter().map(|(_, s)| s).collect())
    }

    fn datum() -> impl Strategy<Value = Option<proto::Datum>> {
        proptest::option::of(
            (
                proptest::option::of("[a-z]{0,3}"),
                proptest::option::of(any::<f64>()),
                proptest::option::of(any::<i64>()),
            )
                .prop_map(|(s, d, i)| proto::Datum {
                    str_value: s,
                    double_value: d,
                    int_value: i,
                }),
        )
    }

    fn point() -> impl Strategy<Value = proto::DataPoint> {
        (
            proptest::option::of("[a-c]{0,2}"),
            proptest::option::of(any::<i64>()),
            datum(),
            proptest::option::of(0..5i32),
            proptest::collection::vec(
                (
                    proptest::option::of("[a-b]{0,1}"),
                    proptest::option::of("[x-y]{0,1}"),
                ),
                0..3,
            ),
        )
            .prop_map(
                |(metric, timestamp, value, metric_type, dims)| proto::DataPoint {
                    source: None,
                    metric,
                    timestamp,
                    value,
                    metric_type,
                    dimensions: dims
                        .into_iter()
                        .map(|(key, value)| proto::Dimension { key, value })
                        .collect(),
                },
            )
    }

    proptest! {
        #[test]
        fn the_fast_reader_agrees_with_the_owned_decoder(
            points in proptest::collection::vec(point(), 0..8)
        ) {
            let body = prost::Message::encode_to_vec(&proto::DataPointUploadMessage { datapoints: points });
            prop_assert_eq!(fast(&body).unwrap(), owned(&body).unwrap());
        }

        #[test]
        fn damaged_bodies_are_refused_whole_or_read_alike(
            bytes in proptest::collection::vec(any::<u8>(), 0..128)
        ) {
            match (fast(&bytes), owned(&bytes)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(false, "fast {:?} but owned {:?}", a, b),
            }
        }
    }
}
