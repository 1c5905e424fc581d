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

    #[inline(always)]
    fn varint(&mut self) -> Result<u64> {
        // Most varints here (keys, lengths, metric types) are one byte.
        if let Some(&b) = self.bytes.get(self.at)
            && b < 0x80
        {
            self.at += 1;
            return Ok(u64::from(b));
        }
        self.varint_slow()
    }

    #[cold]
    fn varint_slow(&mut self) -> Result<u64> {
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

    #[inline(always)]
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
    #[inline(always)]
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

#[inline(always)]
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
    let mut scratch = Scratch {
        dims: std::mem::take(dims),
        ..Scratch::default()
    };
    let result = for_each_point_known(
        body,
        &mut scratch,
        |_| None::<()>,
        |point| on_point(point.map(|p| p.point)),
    );
    *dims = std::mem::take(&mut scratch.dims);
    dims.clear();
    result
}

/// Scratch space for [`for_each_point_known`], reused across calls.
#[derive(Debug, Default)]
pub struct Scratch<'a> {
    dims: Vec<(&'a str, &'a str)>,
    texts: Vec<u8>,
}

/// A good point from [`for_each_point_known`].
#[derive(Debug)]
pub struct KnownPoint<'p, K> {
    /// The point. Its `dimensions` are empty when `known` is set: they were not read.
    pub point: PointRef<'p>,
    /// The point's series text: its `metric` and `dimensions` fields exactly as encoded in
    /// the body (key, length and bytes, in the order sent). Equal texts name the same series.
    pub text: &'p [u8],
    /// What the `known` callback returned for `text`.
    pub known: Option<K>,
}

/// As [`for_each_point`], but reads a point's dimensions only when its series text (see
/// [`KnownPoint::text`]) is not known: for each point, `known` is asked about the text first,
/// and when it answers, the dimensions are skipped (neither split into keys and values nor
/// checked) and its answer is handed on with the point.
///
/// `known` must answer only for texts that it saw in a good point before (a [`KnownPoint`]
/// with `known` unset): equal bytes decode to the same good dimensions, so skipping them
/// changes nothing. A point with a known text can still be refused for its value or type; its
/// dimensions are then read for the refusal.
pub fn for_each_point_known<'a, K>(
    body: &'a [u8],
    scratch: &mut Scratch<'a>,
    mut known: impl FnMut(&[u8]) -> Option<K>,
    mut on_point: impl FnMut(Result<KnownPoint<'_, K>, BadPointRef<'_>>),
) -> Result<()> {
    // The whole message is read before any point is handed on, so that a damaged body is
    // refused whole, as the owned decoder does. Dimensions go to one flat list, series texts
    // to one buffer.
    let Scratch { dims, texts } = scratch;
    dims.clear();
    texts.clear();
    let count = count_points(body);
    if count > MAX_POINTS {
        return Err(malformed(format!(
            "the body holds {count} datapoints; at most {MAX_POINTS} are read from one request"
        )));
    }
    // Every point's text is part of its bytes: the texts take less room than the body.
    texts.reserve(body.len());
    let mut points: Vec<Read<'a, K>> = Vec::with_capacity(count);
    let mut reader = Reader { bytes: body, at: 0 };
    while !reader.done() {
        let (field, wire) = reader.tag()?;
        if field == 1 {
            expect(wire, 2)?;
            let bytes = reader.delimited()?;
            let text_from = texts.len();
            let raw = parse_point(bytes, texts, &mut known, dims)?;
            points.push(Read {
                text: text_from..texts.len(),
                ..raw
            });
        } else {
            reader.skip(field, wire)?;
        }
    }
    let mut cold: Vec<(&str, &str)> = Vec::new();
    for (index, raw) in points.into_iter().enumerate() {
        let text = &texts[raw.text.clone()];
        let dimensions = if raw.known.is_none() {
            &dims[raw.dims.clone()]
        } else {
            &[][..]
        };
        let metric = Some(raw.metric).filter(|m| !m.is_empty());
        // The checks and their order are the owned decoder's. A known text passed the first
        // two before.
        let reason = if let Err(reason) = check_dims(dimensions) {
            Some(reason)
        } else if metric.is_none() {
            Some("the point has no metric name".to_owned())
        } else {
            None
        };
        let checked = match reason {
            Some(reason) => Err(reason),
            None => check_value(&raw),
        };
        match checked {
            Ok((value, metric_type)) => on_point(Ok(KnownPoint {
                point: PointRef {
                    metric: raw.metric,
                    dimensions,
                    timestamp_ms: raw.timestamp_ms,
                    value,
                    metric_type,
                },
                text,
                known: raw.known,
            })),
            Err(reason) => {
                let dimensions = if raw.known.is_some() {
                    // Read the skipped dimensions for the refusal: the text holds them.
                    cold.clear();
                    text_dims(text, &mut cold);
                    &cold[..]
                } else {
                    dimensions
                };
                on_point(Err(BadPointRef {
                    index,
                    metric,
                    dimensions,
                    reason,
                }))
            }
        }
    }
    Ok(())
}

/// Adds the field at `field` to the run of text bytes not yet copied, copying the run first
/// when the field does not follow it.
#[inline(always)]
fn extend_run(
    texts: &mut Vec<u8>,
    bytes: &[u8],
    run: &mut std::ops::Range<usize>,
    field: std::ops::Range<usize>,
) {
    if run.end == field.start && run.start < run.end {
        run.end = field.end;
    } else {
        texts.extend_from_slice(&bytes[run.clone()]);
        *run = field;
    }
}

/// The most datapoints one body may hold. Every point read costs about a hundred bytes
/// before it is checked, whatever its size in the body, and a gzipped body of empty points
/// inflates to millions of them: past this the body is refused whole.
pub const MAX_POINTS: usize = 1_000_000;

/// How many times field 1 (the repeated message of an upload: datapoints or events) occurs at
/// the top level of a body, as far as it can be read.
pub(crate) fn count_points(body: &[u8]) -> usize {
    let mut reader = Reader { bytes: body, at: 0 };
    let mut count = 0;
    while !reader.done() {
        let Ok((field, wire)) = reader.tag() else {
            break;
        };
        count += usize::from(field == 1);
        if reader.skip(field, wire).is_err() {
            break;
        }
    }
    count
}

/// A point's value and metric type, or why it is refused.
fn check_value<'a, K>(raw: &Read<'a, K>) -> Result<(ValueRef<'a>, MetricType), String> {
    let metric_type = match raw.metric_type.map(|t| t as i32) {
        None | Some(0) => MetricType::Gauge,
        Some(1) => MetricType::Counter,
        Some(3) => MetricType::CumulativeCounter,
        Some(2) => {
            return Err(
                "metric type ENUM is not served: send GAUGE, COUNTER or CUMULATIVE_COUNTER"
                    .to_owned(),
            );
        }
        Some(other) => return Err(format!("unknown metric type {other}")),
    };
    let value = match (raw.str_value, raw.double_value, raw.int_value) {
        (Some(s), None, None) => ValueRef::Str(s),
        (None, Some(d), None) => ValueRef::Double(d),
        (None, None, Some(i)) => ValueRef::Int(i),
        (None, None, None) => return Err("the point has no value".to_owned()),
        _ => {
            return Err(
                "the point's value sets more than one of strValue, doubleValue and intValue"
                    .to_owned(),
            );
        }
    };
    Ok((value, metric_type))
}

/// The dimensions in a series text, which held good dimensions when it was first read.
fn text_dims<'t>(text: &'t [u8], out: &mut Vec<(&'t str, &'t str)>) {
    let mut reader = Reader { bytes: text, at: 0 };
    while let Ok((field, _)) = reader.tag() {
        let Ok(bytes) = reader.delimited() else {
            return;
        };
        if field == 6 {
            let _ = read_dimension(bytes).map(|d| out.push(d));
        }
    }
}

/// One `Dimension` message: its key and value.
fn read_dimension(bytes: &[u8]) -> Result<(&str, &str)> {
    let mut d = Reader { bytes, at: 0 };
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
    Ok((key, value))
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
struct Read<'a, K> {
    metric: &'a str,
    timestamp_ms: Option<i64>,
    metric_type: Option<u64>,
    str_value: Option<&'a str>,
    double_value: Option<f64>,
    int_value: Option<i64>,
    /// Its series text, in the texts buffer.
    text: std::ops::Range<usize>,
    /// What `known` said of the text; when set, `dims` is empty.
    known: Option<K>,
    /// Its dimensions, in the dimensions list.
    dims: std::ops::Range<usize>,
}

/// Reads one `DataPoint`: appends its series text (the `metric` and `dimensions` fields as
/// encoded) to `texts` and, unless `known` answers for that text, its dimensions to `dims`.
/// Repeated scalar fields keep the last value and a repeated `value` message merges, as
/// protobuf decoders do.
fn parse_point<'a, K>(
    bytes: &'a [u8],
    texts: &mut Vec<u8>,
    known: &mut impl FnMut(&[u8]) -> Option<K>,
    dims: &mut Vec<(&'a str, &'a str)>,
) -> Result<Read<'a, K>> {
    let mut reader = Reader { bytes, at: 0 };
    let mut raw = Read {
        metric: "",
        timestamp_ms: None,
        metric_type: None,
        str_value: None,
        double_value: None,
        int_value: None,
        text: 0..0,
        known: None,
        dims: 0..0,
    };
    let text_from = texts.len();
    // The text's bytes not yet copied: fields 2 and 6 that follow one another are copied at
    // once.
    let mut run = 0..0;
    while !reader.done() {
        let field_at = reader.at;
        let (field, wire) = reader.tag()?;
        if field != 2 && field != 6 && run.start < run.end {
            texts.extend_from_slice(&bytes[run.clone()]);
            run = 0..0;
        }
        match field {
            1 => {
                expect(wire, 2)?;
                utf8(reader.delimited()?)?;
            }
            2 => {
                expect(wire, 2)?;
                raw.metric = utf8(reader.delimited()?)?;
                extend_run(texts, bytes, &mut run, field_at..reader.at);
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
                reader.delimited()?;
                extend_run(texts, bytes, &mut run, field_at..reader.at);
            }
            _ => reader.skip(field, wire)?,
        }
    }
    texts.extend_from_slice(&bytes[run]);
    raw.known = known(&texts[text_from..]);
    let dims_from = dims.len();
    if raw.known.is_none() {
        // A second walk over the fields, read whole above, for the dimensions.
        let mut reader = Reader { bytes, at: 0 };
        while !reader.done() {
            let (field, wire) = reader.tag()?;
            if field == 6 {
                dims.push(read_dimension(reader.delimited()?)?);
            } else {
                reader.skip(field, wire)?;
            }
        }
    }
    raw.dims = dims_from..dims.len();
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
                Ok(p) => {
                    let dims = p
                        .dimensions
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    good(&p, dims)
                }
                Err(b) => Seen::Bad(b.index, b.metric.map(str::to_owned), b.reason),
            })
        })?;
        Ok(seen)
    }

    fn good(p: &PointRef<'_>, dims: Vec<(String, String)>) -> Seen {
        Seen::Good(
            p.metric.to_owned(),
            dims,
            p.timestamp_ms,
            match p.value {
                ValueRef::Int(i) => format!("i{i}"),
                ValueRef::Double(d) => format!("d{:?}", d.to_bits()),
                ValueRef::Str(s) => format!("s{s}"),
            },
            p.metric_type,
        )
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

    /// A gzipped body of empty datapoints (2 bytes each) inflates to millions of them: the
    /// count is checked before anything is read into memory.
    #[test]
    fn a_body_of_more_points_than_the_limit_is_refused_whole() {
        let body = [0x0a, 0x00].repeat(MAX_POINTS + 1);
        let mut calls = 0;
        let err = for_each_point(&body, &mut Vec::new(), |_| calls += 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("holds 1000001 datapoints; at most 1000000"),
            "{err}"
        );
        assert_eq!(calls, 0);
        let body = [0x0a, 0x00].repeat(MAX_POINTS);
        for_each_point(&body, &mut Vec::new(), |_| calls += 1).unwrap();
        assert_eq!(calls, MAX_POINTS);
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
        fn known_texts_skip_their_dimensions_and_change_nothing(
            points in proptest::collection::vec(point(), 0..8)
        ) {
            let body = prost::Message::encode_to_vec(&proto::DataPointUploadMessage { datapoints: points });
            let want = owned(&body).unwrap();
            // A first read learns the dimensions of every good point's text.
            let mut learned: HashMap<Vec<u8>, Vec<(String, String)>> = HashMap::new();
            let mut scratch = Scratch::default();
            for_each_point_known(&body, &mut scratch, |_| None::<()>, |p| {
                if let Ok(p) = p {
                    learned.insert(
                        p.text.to_vec(),
                        p.point.dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                    );
                }
            }).unwrap();
            // A second read knows them: it reads no dimensions of those points, and with the
            // learned ones put back, sees what the owned decoder sees.
            let mut seen = Vec::new();
            let mut scratch = Scratch::default();
            for_each_point_known(&body, &mut scratch, |text| learned.get(text).cloned(), |p| {
                seen.push(match p {
                    Ok(p) => {
                        let dims = match p.known {
                            Some(dims) => {
                                assert!(p.point.dimensions.is_empty());
                                dims
                            }
                            None => p.point.dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                        };
                        good(&p.point, dims)
                    }
                    Err(b) => Seen::Bad(b.index, b.metric.map(str::to_owned), b.reason),
                });
            }).unwrap();
            prop_assert_eq!(seen, want);
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
