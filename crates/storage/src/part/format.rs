//! The bytes of a part file: header, block frames, index entries, footer, and the summaries a
//! block carries. `docs/format/parts.md` draws them byte by byte; this module is the single
//! place that writes and parses them. Parsing checks every length against the bytes present
//! and reports what is wrong; it never panics.

use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp, Value};

use crate::codec::Column;
use crate::wal::payload::{type_code, type_from_code};

/// The first and last eight bytes of every part file.
pub(crate) const MAGIC: [u8; 8] = *b"SEXTPART";
/// The format version this build writes; it reads this one, version 2 (whose blocks all carry
/// their values' summary) and version 1 (whose index is also never compressed).
pub(crate) const VERSION: u32 = 3;
/// The oldest format version this build reads.
pub(crate) const OLDEST_VERSION: u32 = 1;
/// The footer's index encoding: the index bytes as they are.
pub(crate) const INDEX_RAW: u32 = 0;
/// The footer's index encoding: the index's length as a u64, then one zstd frame of it
/// (version 2).
pub(crate) const INDEX_ZSTD: u32 = 1;
/// zstd's level for the index: written once per part, read once per open.
const INDEX_ZSTD_LEVEL: i32 = 3;
/// The most a compressed index may expand, so that a damaged length cannot make an open
/// allocate without bound (real indexes compress by a few to a few tens of times).
const MAX_INDEX_RATIO: u64 = 4096;
/// Header: magic, version, flags.
pub(crate) const HEADER_LEN: usize = 16;
/// Footer: see [`Footer`].
pub(crate) const FOOTER_LEN: usize = 88;
/// Block frame: the timestamp column's length before the columns, the CRC after them.
pub(crate) const BLOCK_OVERHEAD: usize = 8;

/// The fixed-size tail of a part file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub(crate) index_offset: u64,
    pub(crate) index_len: u64,
    pub(crate) index_crc: u32,
    /// [`INDEX_RAW`] or [`INDEX_ZSTD`].
    pub(crate) index_encoding: u32,
    /// The format version (the header's must be the same).
    pub(crate) version: u32,
    pub(crate) partition_start: Timestamp,
    pub(crate) partition_end: Timestamp,
    pub(crate) min_ts: Timestamp,
    pub(crate) max_ts: Timestamp,
    pub(crate) points: u64,
    pub(crate) wal_seq: u64,
}

pub(crate) fn encode_header() -> [u8; HEADER_LEN] {
    let mut out = [0; HEADER_LEN];
    out[..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out
}

/// Why a header or footer is not acceptable.
#[derive(Debug)]
pub(crate) enum FrameProblem {
    /// Corrupt, with the offset (from the start of the checked bytes) and what is wrong.
    Corrupt(usize, String),
    /// A version this build does not read.
    Version(u32),
}

/// Checks a header; returns its version.
pub(crate) fn check_header(bytes: &[u8]) -> Result<u32, FrameProblem> {
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
        return Err(FrameProblem::Corrupt(
            0,
            format!(
                "header does not start with the part magic {MAGIC:02x?}: found {:02x?}",
                &bytes[..bytes.len().min(8)]
            ),
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(FrameProblem::Version(version));
    }
    let flags = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default());
    if flags != 0 {
        return Err(FrameProblem::Corrupt(
            12,
            format!("header flags are {flags:#x}; version {version} defines none"),
        ));
    }
    Ok(version)
}

/// The index section as written: compressed when that makes it smaller. Returns the bytes and
/// the encoding.
pub(crate) fn encode_index(raw: Vec<u8>) -> (Vec<u8>, u32) {
    if let Ok(frame) = zstd::bulk::compress(&raw, INDEX_ZSTD_LEVEL)
        && frame.len() + 8 < raw.len()
    {
        let mut out = Vec::with_capacity(8 + frame.len());
        out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        out.extend_from_slice(&frame);
        return (out, INDEX_ZSTD);
    }
    (raw, INDEX_RAW)
}

/// An index's raw bytes past which [`IndexWriter`] compresses as it goes.
pub(crate) const STREAM_INDEX_FROM: usize = 1 << 20;

/// An index being written: kept raw while it is small, and streamed through zstd once it
/// passes a threshold, so that a part of a million series holds neither its whole raw index
/// (about 50 bytes a series) nor a second, compressed copy of it while it is written. Either
/// way [`IndexWriter::finish`] gives what [`encode_index`] would: the streamed frame carries no
/// content size, which [`decode_index`] does not need.
pub(crate) struct IndexWriter {
    stream_from: usize,
    state: IndexState,
}

enum IndexState {
    Raw(Vec<u8>),
    /// The encoder writes after eight bytes kept for the raw length.
    Compressing {
        encoder: zstd::stream::write::Encoder<'static, Vec<u8>>,
        raw_len: u64,
    },
}

impl std::fmt::Debug for IndexWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (state, raw_len) = match &self.state {
            IndexState::Raw(raw) => ("raw", raw.len() as u64),
            IndexState::Compressing { raw_len, .. } => ("compressing", *raw_len),
        };
        f.debug_struct("IndexWriter")
            .field("state", &state)
            .field("raw_len", &raw_len)
            .finish()
    }
}

impl IndexWriter {
    /// A writer that starts compressing once the index passes `stream_from` bytes.
    pub(crate) fn new(stream_from: usize) -> IndexWriter {
        IndexWriter {
            stream_from,
            state: IndexState::Raw(Vec::new()),
        }
    }

    /// Appends index bytes.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        match &mut self.state {
            IndexState::Raw(raw) => {
                raw.extend_from_slice(bytes);
                if raw.len() > self.stream_from {
                    let mut encoder =
                        zstd::stream::write::Encoder::new(vec![0; 8], INDEX_ZSTD_LEVEL)?;
                    encoder.write_all(raw)?;
                    let raw_len = raw.len() as u64;
                    self.state = IndexState::Compressing { encoder, raw_len };
                }
            }
            IndexState::Compressing { encoder, raw_len } => {
                encoder.write_all(bytes)?;
                *raw_len += bytes.len() as u64;
            }
        }
        Ok(())
    }

    /// The index section and its footer encoding, as [`encode_index`] gives them.
    pub(crate) fn finish(self) -> std::io::Result<(Vec<u8>, u32)> {
        match self.state {
            IndexState::Raw(raw) => Ok(encode_index(raw)),
            IndexState::Compressing { encoder, raw_len } => {
                let mut out = encoder.finish()?;
                out[..8].copy_from_slice(&raw_len.to_le_bytes());
                Ok((out, INDEX_ZSTD))
            }
        }
    }
}

/// The index bytes of a section of `encoding`; problems at offsets within the section.
pub(crate) fn decode_index(section: Vec<u8>, encoding: u32) -> Result<Vec<u8>, (usize, String)> {
    if encoding == INDEX_RAW {
        return Ok(section);
    }
    let Some(len) = section.first_chunk::<8>().map(|b| u64::from_le_bytes(*b)) else {
        return Err((
            0,
            format!("compressed index of {} bytes has no length", section.len()),
        ));
    };
    let frame = &section[8..];
    if len > (frame.len() as u64).saturating_mul(MAX_INDEX_RATIO) || len > usize::MAX as u64 {
        return Err((
            0,
            format!(
                "compressed index of {} bytes claims {len} bytes uncompressed, more than it can hold",
                frame.len()
            ),
        ));
    }
    let raw = zstd::bulk::decompress(frame, len as usize)
        .map_err(|e| (8, format!("the compressed index does not decompress: {e}")))?;
    if raw.len() as u64 != len {
        return Err((
            0,
            format!(
                "the index decompresses to {} bytes, its length says {len}",
                raw.len()
            ),
        ));
    }
    Ok(raw)
}

impl Footer {
    pub(crate) fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        out.extend_from_slice(&self.index_offset.to_le_bytes());
        out.extend_from_slice(&self.index_len.to_le_bytes());
        out.extend_from_slice(&self.index_crc.to_le_bytes());
        out.extend_from_slice(&self.index_encoding.to_le_bytes());
        out.extend_from_slice(&self.partition_start.to_le_bytes());
        out.extend_from_slice(&self.partition_end.to_le_bytes());
        out.extend_from_slice(&self.min_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
        out.extend_from_slice(&self.points.to_le_bytes());
        out.extend_from_slice(&self.wal_seq.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&MAGIC);
        let mut fixed = [0; FOOTER_LEN];
        fixed.copy_from_slice(&out);
        fixed
    }

    /// Parses the last [`FOOTER_LEN`] bytes of a file; offsets in problems are relative to them.
    pub(crate) fn decode(bytes: &[u8; FOOTER_LEN]) -> Result<Footer, FrameProblem> {
        if bytes[80..88] != MAGIC {
            return Err(FrameProblem::Corrupt(
                80,
                format!(
                    "footer does not end with the part magic {MAGIC:02x?}: found {:02x?} (a file cut short?)",
                    &bytes[80..88]
                ),
            ));
        }
        let version = u32::from_le_bytes(bytes[76..80].try_into().unwrap_or_default());
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(FrameProblem::Version(version));
        }
        let stored_crc = u32::from_le_bytes(bytes[72..76].try_into().unwrap_or_default());
        let crc = crc32fast::hash(&bytes[..72]);
        if crc != stored_crc {
            return Err(FrameProblem::Corrupt(
                72,
                format!("footer CRC mismatch: stored {stored_crc:#010x}, computed {crc:#010x}"),
            ));
        }
        let u64_at =
            |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
        let index_encoding = u32::from_le_bytes(bytes[20..24].try_into().unwrap_or_default());
        let known = if version == 1 {
            index_encoding == INDEX_RAW
        } else {
            matches!(index_encoding, INDEX_RAW | INDEX_ZSTD)
        };
        if !known {
            return Err(FrameProblem::Corrupt(
                20,
                format!("index encoding {index_encoding} is not one of version {version}'s"),
            ));
        }
        let footer = Footer {
            index_offset: u64_at(0),
            index_len: u64_at(8),
            index_crc: u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default()),
            index_encoding,
            version,
            partition_start: u64_at(24) as i64,
            partition_end: u64_at(32) as i64,
            min_ts: u64_at(40) as i64,
            max_ts: u64_at(48) as i64,
            points: u64_at(56),
            wal_seq: u64_at(64),
        };
        Ok(footer)
    }
}

/// What the index says about one block, enough to skip it or, with its values' summary, to
/// answer an aggregation without decoding it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSummary {
    /// Points in the block.
    pub count: u32,
    /// The first (smallest) timestamp.
    pub min_ts: Timestamp,
    /// The last (largest) timestamp.
    pub max_ts: Timestamp,
    /// What the values are; `None` for a block shorter than
    /// [`PartsConfig::summary_min_points`](crate::PartsConfig::summary_min_points) written by
    /// version 3 or later, which a reader decodes instead. Boxed: an open part holds this for
    /// every block, and the summary is four values and a sum (about 150 bytes), most of which
    /// short blocks would pay for nothing.
    pub values: Option<Box<ValueSummary>>,
}

/// The summary of a block's values.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSummary {
    /// The value at the block's `min_ts`.
    pub first: Value,
    /// The value at its `max_ts`.
    pub last: Value,
    /// For numeric data types: the smallest and largest value and the sum.
    pub numeric: Option<NumericSummary>,
}

/// The summary of a block of a numeric series.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericSummary {
    /// The smallest value (NaNs are skipped unless every value is NaN).
    pub min: Value,
    /// The largest value (likewise).
    pub max: Value,
    /// The sum, as a `f64` (integers beyond 2^53 round).
    pub sum: f64,
}

/// Where a block is and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockMeta {
    /// Byte offset of the block frame in the file.
    pub offset: u64,
    /// Length of the frame in bytes, CRC included.
    pub len: u32,
    /// What it holds.
    pub summary: BlockSummary,
}

/// The summary of `timestamps` (sorted, not empty) and `values` (as many) as the index keeps
/// it: without the values' summary for a block of fewer than `min_points` points.
pub(crate) fn summarize_for_index(
    timestamps: &[Timestamp],
    values: &Column,
    min_points: u32,
) -> BlockSummary {
    if (timestamps.len() as u64) < u64::from(min_points) {
        return BlockSummary {
            count: timestamps.len() as u32,
            min_ts: timestamps[0],
            max_ts: timestamps[timestamps.len() - 1],
            values: None,
        };
    }
    summarize(timestamps, values)
}

/// The whole summary of `timestamps` (sorted, not empty) and `values` (as many).
pub(crate) fn summarize(timestamps: &[Timestamp], values: &Column) -> BlockSummary {
    fn numeric<T: Copy + PartialOrd + Into<f64>>(
        v: &[T],
        wrap: fn(T) -> Value,
    ) -> Option<NumericSummary> {
        let (mut min, mut max, mut sum) = (v[0], v[0], 0.0);
        for &x in v {
            // `x < min` is false for NaN, and a NaN minimum is replaced by the first number.
            if x < min || min.partial_cmp(&min).is_none() {
                min = x;
            }
            if x > max || max.partial_cmp(&max).is_none() {
                max = x;
            }
            sum += x.into();
        }
        Some(NumericSummary {
            min: wrap(min),
            max: wrap(max),
            sum,
        })
    }
    // Integers wider than f64's mantissa sum approximately.
    fn wide<T: Copy + Ord>(v: &[T], wrap: fn(T) -> Value, f: fn(T) -> f64) -> NumericSummary {
        let min = v.iter().copied().min().unwrap_or(v[0]);
        let max = v.iter().copied().max().unwrap_or(v[0]);
        NumericSummary {
            min: wrap(min),
            max: wrap(max),
            sum: v.iter().map(|&x| f(x)).sum(),
        }
    }
    let n = timestamps.len() - 1;
    let (first, last, numeric) = match values {
        Column::Double(v) => (
            Value::Double(v[0]),
            Value::Double(v[n]),
            numeric(v, Value::Double),
        ),
        Column::Float(v) => (
            Value::Float(v[0]),
            Value::Float(v[n]),
            numeric(v, Value::Float),
        ),
        Column::Int32(v) => (
            Value::Int32(v[0]),
            Value::Int32(v[n]),
            numeric(v, Value::Int32),
        ),
        Column::Uint32(v) => (
            Value::Uint32(v[0]),
            Value::Uint32(v[n]),
            numeric(v, Value::Uint32),
        ),
        Column::Int64(v) => (
            Value::Int64(v[0]),
            Value::Int64(v[n]),
            Some(wide(v, Value::Int64, |x| x as f64)),
        ),
        Column::Uint64(v) => (
            Value::Uint64(v[0]),
            Value::Uint64(v[n]),
            Some(wide(v, Value::Uint64, |x| x as f64)),
        ),
        Column::Bool(v) => (Value::Bool(v[0]), Value::Bool(v[n]), None),
        Column::Enum(v) => (Value::Enum(v[0]), Value::Enum(v[n]), None),
        Column::BitField(v) => (Value::BitField(v[0]), Value::BitField(v[n]), None),
        Column::String(v) => (
            Value::String(v[0].clone()),
            Value::String(v[n].clone()),
            None,
        ),
        Column::Bytes(v) => (Value::Bytes(v[0].clone()), Value::Bytes(v[n].clone()), None),
    };
    BlockSummary {
        count: timestamps.len() as u32,
        min_ts: timestamps[0],
        max_ts: timestamps[n],
        values: Some(Box::new(ValueSummary {
            first,
            last,
            numeric,
        })),
    }
}

/// Appends a value in the index encoding of its type: fixed-width little-endian numbers,
/// one byte for a bool, `u32` length and the bytes for strings and bytes.
fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Float(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Int32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Int64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Uint32(v) | Value::Enum(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Uint64(v) | Value::BitField(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::String(v) => put_bytes(out, v.as_bytes()),
        Value::Bytes(v) => put_bytes(out, v),
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Index strings are series keys and block summaries, far below 4 GiB.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Appends the index entry header of one series; its blocks follow.
pub(crate) fn put_series(
    out: &mut Vec<u8>,
    org: OrgId,
    key: &SeriesKey,
    data_type: DataType,
    blocks: usize,
) {
    out.extend_from_slice(&org.0.to_le_bytes());
    // The key's text, written in place (as `put_bytes` would write it) rather than first
    // into a string of its own.
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    // Writing to a vector cannot fail.
    let _ = std::io::Write::write_fmt(out, format_args!("{key}"));
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    out.push(type_code(data_type));
    out.extend_from_slice(&(blocks as u32).to_le_bytes());
}

/// Appends the index entry of one block as `version` writes it. Before version 3 every block
/// has its values' summary and there is no byte saying so; a block without one cannot be
/// written there (`false`, nothing appended).
pub(crate) fn put_block(out: &mut Vec<u8>, block: &BlockMeta, version: u32) -> bool {
    let s = &block.summary;
    if version < 3 && s.values.is_none() {
        return false;
    }
    out.extend_from_slice(&block.offset.to_le_bytes());
    out.extend_from_slice(&block.len.to_le_bytes());
    out.extend_from_slice(&s.count.to_le_bytes());
    out.extend_from_slice(&s.min_ts.to_le_bytes());
    out.extend_from_slice(&s.max_ts.to_le_bytes());
    if version >= 3 {
        out.push(u8::from(s.values.is_some()));
    }
    if let Some(v) = &s.values {
        put_value(out, &v.first);
        put_value(out, &v.last);
        if let Some(n) = &v.numeric {
            put_value(out, &n.min);
            put_value(out, &n.max);
            out.extend_from_slice(&n.sum.to_le_bytes());
        }
    }
    true
}

/// A bounds-checked reader over index bytes.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(format!(
                "needs {n} more bytes, only {} left",
                self.bytes.len().saturating_sub(self.pos)
            )),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let b = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn value(&mut self, data_type: DataType) -> Result<Value, String> {
        Ok(match data_type {
            DataType::Double => Value::Double(f64::from_le_bytes(self.array()?)),
            DataType::Float => Value::Float(f32::from_le_bytes(self.array()?)),
            DataType::Int32 => Value::Int32(i32::from_le_bytes(self.array()?)),
            DataType::Int64 => Value::Int64(self.i64()?),
            DataType::Uint32 => Value::Uint32(self.u32()?),
            DataType::Enum => Value::Enum(self.u32()?),
            DataType::Uint64 => Value::Uint64(self.u64()?),
            DataType::BitField => Value::BitField(self.u64()?),
            DataType::Bool => match self.u8()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("bool value byte is {b:#04x}, not 0 or 1")),
            },
            DataType::String => {
                let b = self.bytes()?;
                Value::String(
                    String::from_utf8(b.to_vec())
                        .map_err(|e| format!("string value is not UTF-8: {}", e.utf8_error()))?,
                )
            }
            DataType::Bytes => Value::Bytes(self.bytes()?.to_vec()),
        })
    }

    /// Reads a series entry header: organization, key, data type, block count.
    pub(crate) fn series(&mut self) -> Result<(OrgId, SeriesKey, DataType, usize), String> {
        let org = OrgId(self.u64()?);
        let text = self.bytes()?;
        let text = std::str::from_utf8(text).map_err(|e| format!("series key: {e}"))?;
        let key: SeriesKey = text
            .parse()
            .map_err(|e| format!("series key {text:?} does not parse: {e}"))?;
        let code = self.u8()?;
        let data_type = type_from_code(code)
            .ok_or_else(|| format!("series {key} has unknown data type code {code}"))?;
        let blocks = self.u32()? as usize;
        Ok((org, key, data_type, blocks))
    }

    /// Reads a block entry of a series of `data_type` in a part of format `version`.
    pub(crate) fn block(&mut self, data_type: DataType, version: u32) -> Result<BlockMeta, String> {
        let offset = self.u64()?;
        let len = self.u32()?;
        let count = self.u32()?;
        let min_ts = self.i64()?;
        let max_ts = self.i64()?;
        let summarized = if version >= 3 {
            match self.u8()? {
                0 => false,
                1 => true,
                b => {
                    return Err(format!(
                        "block at offset {offset} has summary flag {b:#04x}, not 0 or 1"
                    ));
                }
            }
        } else {
            true
        };
        let values = if summarized {
            let first = self.value(data_type)?;
            let last = self.value(data_type)?;
            let numeric = if data_type.is_numeric() {
                Some(NumericSummary {
                    min: self.value(data_type)?,
                    max: self.value(data_type)?,
                    sum: f64::from_le_bytes(self.array()?),
                })
            } else {
                None
            };
            Some(Box::new(ValueSummary {
                first,
                last,
                numeric,
            }))
        } else {
            None
        };
        if count == 0 || min_ts > max_ts {
            return Err(format!(
                "block at offset {offset} claims {count} points from {min_ts} to {max_ts}"
            ));
        }
        Ok(BlockMeta {
            offset,
            len,
            summary: BlockSummary {
                count,
                min_ts,
                max_ts,
                values,
            },
        })
    }
}

/// Pairs timestamps with the values of `column` whose timestamps fall in `range` (all of them
/// for `None`), appending them to `out`.
pub(crate) fn push_points(
    timestamps: &[Timestamp],
    column: Column,
    range: Option<&std::ops::Range<Timestamp>>,
    out: &mut Vec<Point>,
) {
    let (start, end) = match range {
        Some(range) => {
            let start = timestamps.partition_point(|&t| t < range.start);
            (
                start,
                timestamps.partition_point(|&t| t < range.end).max(start),
            )
        }
        None => (0, timestamps.len()),
    };
    let ts = &timestamps[start..end];
    macro_rules! pair {
        ($v:expr, $variant:ident) => {
            out.extend(
                ts.iter()
                    .zip($v.into_iter().skip(start))
                    .map(|(&t, v)| Point::new(t, Value::$variant(v))),
            )
        };
    }
    match column {
        Column::Double(v) => pair!(v, Double),
        Column::Float(v) => pair!(v, Float),
        Column::Int32(v) => pair!(v, Int32),
        Column::Int64(v) => pair!(v, Int64),
        Column::Uint32(v) => pair!(v, Uint32),
        Column::Uint64(v) => pair!(v, Uint64),
        Column::Bool(v) => pair!(v, Bool),
        Column::Enum(v) => pair!(v, Enum),
        Column::BitField(v) => pair!(v, BitField),
        Column::String(v) => pair!(v, String),
        Column::Bytes(v) => pair!(v, Bytes),
    }
}

/// Splits sorted points of one data type into their timestamps and a value column; `None` if
/// a value is not of `data_type`.
pub(crate) fn split_points(
    data_type: DataType,
    points: Vec<Point>,
) -> Option<(Vec<Timestamp>, Column)> {
    let timestamps = points.iter().map(|p| p.timestamp).collect();
    let mut column = Column::new(data_type);
    macro_rules! fill {
        ($($variant:ident),*) => {
            match &mut column {
                $(Column::$variant(c) => {
                    c.reserve(points.len());
                    for p in points {
                        match p.value {
                            Value::$variant(v) => c.push(v),
                            _ => return None,
                        }
                    }
                })*
            }
        };
    }
    fill!(
        Double, Float, Int32, Int64, Uint32, Uint64, Bool, Enum, BitField, String, Bytes
    );
    Some((timestamps, column))
}
