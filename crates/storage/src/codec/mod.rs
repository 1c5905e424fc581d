//! Column codecs: how timestamps and typed values are stored compactly in part blocks.
//!
//! A part stores each series as blocks of up to 16k points; a block is a timestamp column and a
//! value column, each encoded here into bytes that carry their own small header (layout
//! version, codec, element type, count), so a reader can check what it was given. Decoding is
//! pure, validates everything it reads and returns [`Error`] on corrupt input; it never panics.
//!
//! | column | codec, chosen per block |
//! |---|---|
//! | timestamps | regular (first and interval) when the interval never changes, else pco |
//! | `double`, `float` | decimal (integers scaled by a power of ten, through pco), else pco |
//! | `int32`, `int64`, `uint32`, `uint64` | pco |
//! | `bool` | runs, or a bitmap when the values flip too often for runs |
//! | `enum`, `bit_field` | runs, or pco when runs are not the smaller |
//! | `string`, `bytes` | dictionary: distinct values (zstd when smaller) and pco indices |
//!
//! pco runs at its default level with its own choice of mode and delta encoding; for 32-bit
//! numbers a fitted predictor (pco's Conv1) is kept where it is at least 10% smaller. The
//! reasons and measurements are in `numeric.rs` and `decimal.rs`, the byte layouts in
//! `docs/format/codecs.md`, and `examples/bytes_per_point.rs` measures the result.

pub(crate) mod decimal;
mod dictionary;
pub(crate) mod header;
mod numeric;
mod runs;
#[cfg(any(test, feature = "testdata"))]
pub mod testdata;

use sextant_model::{DataType, Timestamp};

pub use dictionary::MAX_DICTIONARY_BYTES;
use header::{Codec, Element};

/// The most values one encoded column may hold. Blocks are far smaller (16k points); the limit
/// bounds what a decoder allocates when a corrupt header claims a huge count.
pub const MAX_POINTS: usize = 1 << 20;

/// A codec failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Encoded bytes could not be decoded.
    #[error("corrupt {column} column: {detail}")]
    Corrupt {
        /// Which column was being decoded.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Values could not be encoded: too many of them, or too large a dictionary.
    #[error("cannot encode {column} column: {detail}")]
    Encode {
        /// Which column was being encoded.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl Error {
    fn corrupt(element: Element, detail: String) -> Error {
        Error::Corrupt {
            column: element.name(),
            detail,
        }
    }

    fn trailing(element: Element, rest: &[u8]) -> Error {
        Error::corrupt(
            element,
            format!(
                "{} unexpected bytes after the payload, starting {:02x?}",
                rest.len(),
                &rest[..rest.len().min(16)]
            ),
        )
    }
}

/// The values of one block, all of one data type.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// `double` values.
    Double(Vec<f64>),
    /// `float` values.
    Float(Vec<f32>),
    /// `int32` values.
    Int32(Vec<i32>),
    /// `int64` values.
    Int64(Vec<i64>),
    /// `uint32` values.
    Uint32(Vec<u32>),
    /// `uint64` values.
    Uint64(Vec<u64>),
    /// `bool` values.
    Bool(Vec<bool>),
    /// `enum` keys.
    Enum(Vec<u32>),
    /// `bit_field` integers.
    BitField(Vec<u64>),
    /// `string` values.
    String(Vec<String>),
    /// `bytes` values.
    Bytes(Vec<Vec<u8>>),
}

impl Column {
    /// An empty column of `data_type`.
    pub fn new(data_type: DataType) -> Column {
        match data_type {
            DataType::Double => Column::Double(Vec::new()),
            DataType::Float => Column::Float(Vec::new()),
            DataType::Int32 => Column::Int32(Vec::new()),
            DataType::Int64 => Column::Int64(Vec::new()),
            DataType::Uint32 => Column::Uint32(Vec::new()),
            DataType::Uint64 => Column::Uint64(Vec::new()),
            DataType::Bool => Column::Bool(Vec::new()),
            DataType::Enum => Column::Enum(Vec::new()),
            DataType::BitField => Column::BitField(Vec::new()),
            DataType::String => Column::String(Vec::new()),
            DataType::Bytes => Column::Bytes(Vec::new()),
        }
    }

    /// The data type of the values.
    pub fn data_type(&self) -> DataType {
        match self {
            Column::Double(_) => DataType::Double,
            Column::Float(_) => DataType::Float,
            Column::Int32(_) => DataType::Int32,
            Column::Int64(_) => DataType::Int64,
            Column::Uint32(_) => DataType::Uint32,
            Column::Uint64(_) => DataType::Uint64,
            Column::Bool(_) => DataType::Bool,
            Column::Enum(_) => DataType::Enum,
            Column::BitField(_) => DataType::BitField,
            Column::String(_) => DataType::String,
            Column::Bytes(_) => DataType::Bytes,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Double(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Int32(v) => v.len(),
            Column::Int64(v) => v.len(),
            Column::Uint32(v) => v.len(),
            Column::Uint64(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Enum(v) => v.len(),
            Column::BitField(v) => v.len(),
            Column::String(v) => v.len(),
            Column::Bytes(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes all values, keeping the allocation for the next [`decode_into`].
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        match self {
            Column::Double(v) => v.truncate(len),
            Column::Float(v) => v.truncate(len),
            Column::Int32(v) => v.truncate(len),
            Column::Int64(v) => v.truncate(len),
            Column::Uint32(v) => v.truncate(len),
            Column::Uint64(v) => v.truncate(len),
            Column::Bool(v) => v.truncate(len),
            Column::Enum(v) => v.truncate(len),
            Column::BitField(v) => v.truncate(len),
            Column::String(v) => v.truncate(len),
            Column::Bytes(v) => v.truncate(len),
        }
    }
}

/// Appends the encoded timestamp column (nanoseconds, in block order) to `out`.
///
/// Timestamps at an exactly fixed interval, as scrapers and instruments with a hardware clock
/// produce, are stored as the first and the interval (16 bytes, decoded at memory speed);
/// others through pco, whose delta and interval detection handles jitter well.
///
/// Fails only if there are more than [`MAX_POINTS`] timestamps.
pub fn encode_timestamps(timestamps: &[Timestamp], out: &mut Vec<u8>) -> Result<(), Error> {
    encode_timestamps_with(timestamps, Effort::Thorough, out)
}

/// [`encode_timestamps`] with the given effort; [`decode_timestamps`] reads either.
pub fn encode_timestamps_with(
    timestamps: &[Timestamp],
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let Some(interval) = regular_interval(timestamps) else {
        return encode_pco(Element::Timestamp, timestamps, Order::Time, effort, out);
    };
    start(Element::Timestamp, Codec::Regular, timestamps.len(), out)?;
    out.extend_from_slice(&timestamps[0].to_le_bytes());
    out.extend_from_slice(&interval.to_le_bytes());
    Ok(())
}

/// The interval between consecutive timestamps if it is always the same (0 for one
/// timestamp). Differences wrap, as decoding does, so any sequence that wraps the same way
/// round-trips.
fn regular_interval(timestamps: &[Timestamp]) -> Option<i64> {
    let (first, rest) = timestamps.split_first()?;
    let interval = rest.first().map_or(0, |second| second.wrapping_sub(*first));
    timestamps
        .windows(2)
        .all(|pair| pair[1].wrapping_sub(pair[0]) == interval)
        .then_some(interval)
}

/// Decodes a timestamp column written by [`encode_timestamps`].
pub fn decode_timestamps(bytes: &[u8]) -> Result<Vec<Timestamp>, Error> {
    let mut out = Vec::new();
    decode_timestamps_into(bytes, &mut out)?;
    Ok(out)
}

/// Decodes a timestamp column, appending to `out` (whose spare capacity is reused). On error
/// `out` is left as it was.
pub fn decode_timestamps_into(bytes: &[u8], out: &mut Vec<Timestamp>) -> Result<(), Error> {
    let element = Element::Timestamp;
    let (header, payload) = header::read(element, bytes)?;
    let allowed = [Codec::Pco, Codec::Regular];
    if header.count == 0 {
        return expect_empty(element, header.codec, &allowed, payload);
    }
    require_codec(element, header.codec, &allowed)?;
    if header.codec == Codec::Pco {
        return numeric::decode_into(element, payload, header.count, out);
    }
    let Some((first, interval)) = payload
        .split_first_chunk::<8>()
        .and_then(|(first, rest)| Some((first, rest.try_into().ok()?)))
    else {
        return Err(Error::corrupt(
            element,
            format!(
                "regular timestamps need 16 bytes (first, interval), found {} bytes {:02x?}",
                payload.len(),
                &payload[..payload.len().min(24)]
            ),
        ));
    };
    let (first, interval) = (i64::from_le_bytes(*first), i64::from_le_bytes(interval));
    out.reserve(header.count);
    let mut t = first;
    out.extend(
        std::iter::repeat_with(|| {
            let current = t;
            t = t.wrapping_add(interval);
            current
        })
        .take(header.count),
    );
    Ok(())
}

/// How the values of a column follow one another, which decides whether fitting a predictor
/// to the sequence is worth its encoding time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// One series in time: smooth signals may gain from a predictor (pco's Conv1), which is
    /// tried for 32-bit numbers and kept when markedly smaller.
    Time,
    /// Values of independent records (events, dictionary codes): no predictor is tried, so
    /// numbers are encoded once.
    None,
}

/// How hard an encoder works for fewer bytes. Either is read by the same decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// For parts: pco at its default level with its automatic mode and delta choice, and a
    /// predictor tried on signals (see `numeric::config`).
    Thorough,
    /// For the head's sealed chunks, encoded on the write path and again when flushed: pco at
    /// a low level with first-order deltas and no mode search or predictor, several times
    /// faster for some more bytes.
    Quick,
}

/// Appends the encoded value column of a series to `out`, choosing the codec for its data type
/// and, for bools, enums and bit fields, for its values.
///
/// Fails if there are more than [`MAX_POINTS`] values or, for strings and bytes, if the distinct
/// values take more than [`MAX_DICTIONARY_BYTES`].
pub fn encode(column: &Column, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_with(column, Order::Time, Effort::Thorough, out)
}

/// [`encode`] for values in `order`; [`decode`] reads either.
pub fn encode_ordered(column: &Column, order: Order, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_with(column, order, Effort::Thorough, out)
}

/// [`encode_ordered`] with the given effort; [`decode`] reads either.
pub fn encode_with(
    column: &Column,
    order: Order,
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match column {
        Column::Double(v) => encode_floats(Element::Double, v, order, effort, out),
        Column::Float(v) => encode_floats(Element::Float, v, order, effort, out),
        Column::Int32(v) => encode_pco(Element::Int32, v, order, effort, out),
        Column::Int64(v) => encode_pco(Element::Int64, v, order, effort, out),
        Column::Uint32(v) => encode_pco(Element::Uint32, v, order, effort, out),
        Column::Uint64(v) => encode_pco(Element::Uint64, v, order, effort, out),
        Column::Bool(v) => {
            let header_at = start(Element::Bool, Codec::Runs, v.len(), out)?;
            if !v.is_empty() {
                let codec = runs::encode_bools(v, out);
                set_codec(out, header_at, codec);
            }
            Ok(())
        }
        Column::Enum(v) => encode_integers(Element::Enum, v, effort, out),
        Column::BitField(v) => encode_integers(Element::BitField, v, effort, out),
        Column::String(v) => encode_dictionary(Element::String, v, effort, out),
        Column::Bytes(v) => encode_dictionary(Element::Bytes, v, effort, out),
    }
}

/// Decodes a value column of `data_type` written by [`encode`].
pub fn decode(data_type: DataType, bytes: &[u8]) -> Result<Column, Error> {
    let mut column = Column::new(data_type);
    decode_into(bytes, &mut column)?;
    Ok(column)
}

/// Decodes a value column, appending to `column` (whose spare capacity is reused), whose data
/// type says what the bytes must hold. On error `column` is left as it was.
pub fn decode_into(bytes: &[u8], column: &mut Column) -> Result<(), Error> {
    let len = column.len();
    decode_column(bytes, column).inspect_err(|_| column.truncate(len))
}

fn decode_column(bytes: &[u8], column: &mut Column) -> Result<(), Error> {
    match column {
        Column::Double(v) => decode_floats(Element::Double, bytes, v),
        Column::Float(v) => decode_floats(Element::Float, bytes, v),
        Column::Int32(v) => decode_pco(Element::Int32, bytes, v),
        Column::Int64(v) => decode_pco(Element::Int64, bytes, v),
        Column::Uint32(v) => decode_pco(Element::Uint32, bytes, v),
        Column::Uint64(v) => decode_pco(Element::Uint64, bytes, v),
        Column::Bool(v) => {
            let (header, payload) = header::read(Element::Bool, bytes)?;
            if header.count == 0 {
                return expect_empty(Element::Bool, header.codec, &[Codec::Runs], payload);
            }
            runs::decode_bools(header.codec, payload, header.count, v)
        }
        Column::Enum(v) => decode_integers(Element::Enum, bytes, v),
        Column::BitField(v) => decode_integers(Element::BitField, bytes, v),
        Column::String(v) => {
            let (header, payload) = header::read(Element::String, bytes)?;
            if header.count == 0 {
                return expect_empty(Element::String, header.codec, &[Codec::Dictionary], payload);
            }
            require_codec(Element::String, header.codec, &[Codec::Dictionary])?;
            dictionary::decode(
                Element::String,
                payload,
                header.count,
                |value| {
                    String::from_utf8(value.to_vec()).map_err(|e| {
                        let start = &value[..value.len().min(32)];
                        format!("{} in bytes starting {start:02x?}", e.utf8_error())
                    })
                },
                v,
            )
        }
        Column::Bytes(v) => {
            let (header, payload) = header::read(Element::Bytes, bytes)?;
            if header.count == 0 {
                return expect_empty(Element::Bytes, header.codec, &[Codec::Dictionary], payload);
            }
            require_codec(Element::Bytes, header.codec, &[Codec::Dictionary])?;
            dictionary::decode(
                Element::Bytes,
                payload,
                header.count,
                |value| Ok(value.to_vec()),
                v,
            )
        }
    }
}

/// Writes the header with `codec`, after checking the count; returns where the header starts,
/// so the codec can be changed once chosen.
fn start(element: Element, codec: Codec, count: usize, out: &mut Vec<u8>) -> Result<usize, Error> {
    if count > MAX_POINTS {
        return Err(Error::Encode {
            column: element.name(),
            detail: format!("{count} values exceed the limit of {MAX_POINTS} per column"),
        });
    }
    let at = out.len();
    header::write(out, codec, element, count);
    Ok(at)
}

fn set_codec(out: &mut [u8], header_at: usize, codec: Codec) {
    out[header_at] = header::VERSION << 4 | codec as u8;
}

fn encode_pco<T: pco::data_types::Number + numeric::Ordered>(
    element: Element,
    values: &[T],
    order: Order,
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let header_at = start(element, Codec::Pco, values.len(), out)?;
    if !values.is_empty()
        && let Err(e) = numeric::encode_signal(element, values, order, effort, out)
    {
        out.truncate(header_at);
        return Err(e);
    }
    Ok(())
}

fn decode_pco<T: pco::data_types::Number>(
    element: Element,
    bytes: &[u8],
    out: &mut Vec<T>,
) -> Result<(), Error> {
    let (header, payload) = header::read(element, bytes)?;
    if header.count == 0 {
        return expect_empty(element, header.codec, &[Codec::Pco], payload);
    }
    require_codec(element, header.codec, &[Codec::Pco])?;
    numeric::decode_into(element, payload, header.count, out)
}

fn encode_floats<T: decimal::Float>(
    element: Element,
    values: &[T],
    order: Order,
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let Some(plan) = decimal::plan(values).filter(|_| !values.is_empty()) else {
        return encode_pco(element, values, order, effort, out);
    };
    let header_at = start(element, Codec::Decimal, values.len(), out)?;
    decimal::encode(element, values, &plan, order, effort, out).inspect_err(|_| {
        out.truncate(header_at);
    })
}

fn decode_floats<T: decimal::Float>(
    element: Element,
    bytes: &[u8],
    out: &mut Vec<T>,
) -> Result<(), Error> {
    let (header, payload) = header::read(element, bytes)?;
    let allowed = [Codec::Pco, Codec::Decimal];
    if header.count == 0 {
        return expect_empty(element, header.codec, &allowed, payload);
    }
    require_codec(element, header.codec, &allowed)?;
    match header.codec {
        Codec::Decimal => decimal::decode_into(element, payload, header.count, out),
        _ => numeric::decode_into(element, payload, header.count, out),
    }
}

fn encode_integers<T: runs::RunValue>(
    element: Element,
    values: &[T],
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let header_at = start(element, Codec::Runs, values.len(), out)?;
    if !values.is_empty() {
        match runs::encode_integers(element, values, effort, out) {
            Ok(codec) => set_codec(out, header_at, codec),
            Err(e) => {
                out.truncate(header_at);
                return Err(e);
            }
        }
    }
    Ok(())
}

fn decode_integers<T: runs::RunValue>(
    element: Element,
    bytes: &[u8],
    out: &mut Vec<T>,
) -> Result<(), Error> {
    let (header, payload) = header::read(element, bytes)?;
    let allowed = [Codec::Runs, Codec::Pco];
    if header.count == 0 {
        return expect_empty(element, header.codec, &allowed, payload);
    }
    require_codec(element, header.codec, &allowed)?;
    runs::decode_integers(element, header.codec, payload, header.count, out)
}

fn encode_dictionary<V: AsRef<[u8]>>(
    element: Element,
    values: &[V],
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let header_at = start(element, Codec::Dictionary, values.len(), out)?;
    if !values.is_empty()
        && let Err(e) = dictionary::encode(element, values, effort, out)
    {
        out.truncate(header_at);
        return Err(e);
    }
    Ok(())
}

fn require_codec(element: Element, codec: Codec, allowed: &[Codec]) -> Result<(), Error> {
    if allowed.contains(&codec) {
        Ok(())
    } else {
        Err(Error::corrupt(
            element,
            format!("codec {codec:?} cannot hold {} values", element.name()),
        ))
    }
}

fn expect_empty(
    element: Element,
    codec: Codec,
    allowed: &[Codec],
    payload: &[u8],
) -> Result<(), Error> {
    require_codec(element, codec, allowed)?;
    if payload.is_empty() {
        Ok(())
    } else {
        Err(Error::trailing(element, payload))
    }
}
