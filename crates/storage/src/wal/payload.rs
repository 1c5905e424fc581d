//! The payload of a WAL record: a validated write batch or a deletion, in an explicit
//! little-endian layout.
//!
//! The layout is drawn in `docs/format/wal.md`. Encoding cannot fail; decoding checks every
//! length against the bytes left and validates the batch again, so a payload that passed its CRC
//! but does not decode (a bug, or a newer writer) is reported instead of trusted.

use sextant_model::{DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value, WriteBatch};

use super::columns::{self, ColumnReader};
use super::{Deletion, Record};
use crate::codec::header::{read_varint, write_varint};

/// The first byte of a payload holding a write batch with each value at full width (written
/// by segment versions 1 and 2; still read).
pub(crate) const KIND_WRITE_BATCH: u8 = 1;
/// The first byte of a payload holding a deletion.
pub(crate) const KIND_DELETE: u8 = 2;
/// The first byte of a payload holding another payload compressed with zstd (segment
/// version 2): the kind, the uncompressed length (u32) and one zstd frame.
pub(crate) const KIND_COMPRESSED: u8 = 3;
/// The first byte of a payload holding a write batch whose columns are transformed
/// (`columns.rs`) and whose series repeat the labels they share with the series before (segment
/// version 3).
pub(crate) const KIND_WRITE_COLUMNS: u8 = 4;

/// In a write batch of kind 4, a series name length, or label name length, of zero (which no
/// name has): "the same name as the series before", or "the same label as the one at this
/// position in the series before".
const SAME: u8 = 0;

/// Payloads shorter than this are stored as they are: a frame's overhead eats the gain.
pub(crate) const COMPRESS_FROM: usize = 256;

/// zstd's fastest level: the WAL is written on every acknowledged write, and level 1 already
/// takes most of the repetition (series keys, labels, timestamps) out of a batch.
const ZSTD_LEVEL: i32 = 1;

/// The largest uncompressed payload a compressed one may stand for, whatever its header says,
/// so that a damaged length cannot make replay allocate without bound.
const MAX_UNCOMPRESSED: usize = 1 << 30;

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Compresses the payload `record[from..]` in place when that makes it smaller.
pub(crate) fn compress(record: &mut Vec<u8>, from: usize) {
    let raw_len = record.len() - from;
    if raw_len < COMPRESS_FROM {
        return;
    }
    let compressed = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        slot.as_mut()?.compress(&record[from..]).ok()
    });
    let Some(compressed) = compressed else {
        return; // Stored as it is: still a valid record.
    };
    if compressed.len() + 5 >= raw_len {
        return;
    }
    record.truncate(from);
    record.push(KIND_COMPRESSED);
    put_u32(record, raw_len);
    record.extend_from_slice(&compressed);
}

/// The stable one-byte code of each data type in the WAL format (parts use the same codes).
pub(crate) fn type_code(t: DataType) -> u8 {
    match t {
        DataType::Double => 1,
        DataType::Float => 2,
        DataType::String => 3,
        DataType::Bool => 4,
        DataType::Int32 => 5,
        DataType::Int64 => 6,
        DataType::Uint32 => 7,
        DataType::Uint64 => 8,
        DataType::Enum => 9,
        DataType::BitField => 10,
        DataType::Bytes => 11,
    }
}

pub(crate) fn type_from_code(code: u8) -> Option<DataType> {
    DataType::ALL.into_iter().find(|&t| type_code(t) == code)
}

/// A guess of the encoded size, to size the buffer once.
pub(crate) fn size_hint(batch: &ValidatedBatch) -> usize {
    13 + batch
        .series()
        .iter()
        .map(|s| 64 + s.key.heap_size() + s.points.len() * 8)
        .sum::<usize>()
}

fn put_u32(out: &mut Vec<u8>, v: usize) {
    // Lengths and counts are bounded by the record size limit, far below u32::MAX.
    out.extend_from_slice(&(v as u32).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len());
    out.extend_from_slice(b);
}

fn put_key(out: &mut Vec<u8>, key: &SeriesKey) {
    put_bytes(out, key.name().as_bytes());
    put_u32(out, key.labels().len());
    for l in key.labels() {
        put_bytes(out, l.name.as_bytes());
        put_bytes(out, l.value.as_bytes());
    }
}

/// A guess of the encoded size of a deletion.
pub(crate) fn delete_size_hint(deletion: &Deletion) -> usize {
    29 + deletion
        .keys
        .iter()
        .map(|k| 16 + k.heap_size())
        .sum::<usize>()
}

/// Appends the encoding of `deletion` to `out`.
pub(crate) fn encode_delete(deletion: &Deletion, out: &mut Vec<u8>) {
    out.push(KIND_DELETE);
    out.extend_from_slice(&deletion.org.0.to_le_bytes());
    out.extend_from_slice(&deletion.range.start.to_le_bytes());
    out.extend_from_slice(&deletion.range.end.to_le_bytes());
    put_u32(out, deletion.keys.len());
    for key in &deletion.keys {
        put_key(out, key);
    }
}

/// Appends the encoding of `batch` to `out`.
pub(crate) fn encode(batch: &ValidatedBatch, out: &mut Vec<u8>) {
    out.push(KIND_WRITE_COLUMNS);
    out.extend_from_slice(&batch.org().0.to_le_bytes());
    write_varint(out, batch.series().len() as u64);
    let mut name_before = "";
    let mut key_before: Option<&SeriesKey> = None;
    let mut first_timestamp = 0;
    for s in batch.series() {
        let name = s.key.name();
        if name == name_before {
            out.push(SAME);
        } else {
            put_text(out, name.as_bytes());
        }
        name_before = name;
        let labels = s.key.labels();
        write_varint(out, labels.len() as u64);
        match key_before {
            // A host's fields one after the other: every label as before.
            Some(before) if s.key.same_labels(before) => {
                out.extend(std::iter::repeat_n(SAME, labels.len()));
            }
            _ => {
                let labels_before = key_before.map(SeriesKey::labels);
                for (i, l) in labels.iter().enumerate() {
                    if labels_before.and_then(|b| b.get(i)) == Some(l) {
                        out.push(SAME);
                    } else {
                        put_text(out, l.name.as_bytes());
                        put_text(out, l.value.as_bytes());
                    }
                }
            }
        }
        key_before = Some(&s.key);
        out.push(type_code(s.data_type));
        write_varint(out, s.points.len() as u64);
        first_timestamp = columns::put_timestamps(out, &s.points, first_timestamp);
        columns::put_values(out, s.data_type, &s.points);
    }
}

/// Appends a varint length and the bytes.
fn put_text(out: &mut Vec<u8>, b: &[u8]) {
    write_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Why a payload did not decode, with the byte offset inside the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) offset: usize,
    pub(crate) detail: String,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, detail: impl Into<String>) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: self.pos,
            detail: detail.into(),
        })
    }

    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        match self.buf.get(self.pos..self.pos + N) {
            Some(b) => {
                self.pos += N;
                Ok(b.try_into().unwrap_or([0; N]))
            }
            None => self.fail(format!("payload ends inside {what}")),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take::<1>(what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(what)?))
    }

    /// A count of items each at least `min_item` bytes long, checked against the bytes left so
    /// a corrupt count cannot make us allocate more than the payload could hold.
    fn count(&mut self, what: &str, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32(what)? as usize;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_item) > left {
            self.pos -= 4;
            return self.fail(format!("{what} {n} exceeds the {left} bytes left"));
        }
        Ok(n)
    }

    fn varint(&mut self, what: &str) -> Result<u64, DecodeError> {
        let mut rest = &self.buf[self.pos..];
        let v = read_varint(&mut rest).or_else(|e| self.fail(format!("{what}: {e}")))?;
        self.pos = self.buf.len() - rest.len();
        Ok(v)
    }

    /// A varint count of items each at least `min_item` bytes long, checked as [`Self::count`].
    fn varint_count(&mut self, what: &str, min_item: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint(what)?;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_item as u64) > left as u64 {
            self.pos = at;
            return self.fail(format!("{what} {n} exceeds the {left} bytes left"));
        }
        Ok(n as usize)
    }

    /// A varint length and that many bytes of UTF-8; `None` for the length 0.
    fn text(&mut self, what: &str) -> Result<Option<&'a str>, DecodeError> {
        let at = self.pos;
        let n = self.varint_count(what, 1)?;
        if n == 0 {
            return Ok(None);
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Some(s)),
            Err(_) => Err(DecodeError {
                offset: at,
                detail: format!("the text after {what} is not UTF-8"),
            }),
        }
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let n = self.count(what, 1)?;
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let start = self.pos;
        let b = self.bytes(what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(DecodeError {
                offset: start,
                detail: format!("{what} is not UTF-8"),
            }),
        }
    }

    fn key(&mut self) -> Result<SeriesKey, DecodeError> {
        let key_at = self.pos;
        let name = self.string("series name length")?;
        let label_count = self.count("label count", 8)?;
        let mut labels = Vec::with_capacity(label_count);
        for _ in 0..label_count {
            let n = self.string("label name length")?;
            let v = self.string("label value length")?;
            labels.push((n, v));
        }
        SeriesKey::new(name, labels).map_err(|e| DecodeError {
            offset: key_at,
            detail: e.to_string(),
        })
    }

    fn end(&self, what: &str) -> Result<(), DecodeError> {
        if self.pos != self.buf.len() {
            return self.fail(format!(
                "{} bytes left over after the {what}",
                self.buf.len() - self.pos
            ));
        }
        Ok(())
    }

    fn value(&mut self, t: DataType) -> Result<Value, DecodeError> {
        Ok(match t {
            DataType::Double => Value::Double(f64::from_le_bytes(self.take("a double")?)),
            DataType::Float => Value::Float(f32::from_le_bytes(self.take("a float")?)),
            DataType::String => Value::String(self.string("string length")?),
            DataType::Bool => match self.u8("a bool")? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => {
                    self.pos -= 1;
                    return self.fail(format!("bool byte is {b}, not 0 or 1"));
                }
            },
            DataType::Int32 => Value::Int32(i32::from_le_bytes(self.take("an int32")?)),
            DataType::Int64 => Value::Int64(i64::from_le_bytes(self.take("an int64")?)),
            DataType::Uint32 => Value::Uint32(self.u32("a uint32")?),
            DataType::Uint64 => Value::Uint64(self.u64("a uint64")?),
            DataType::Enum => Value::Enum(self.u32("an enum key")?),
            DataType::BitField => Value::BitField(self.u64("a bit field")?),
            DataType::Bytes => Value::Bytes(self.bytes("bytes length")?.to_vec()),
        })
    }
}

/// Decodes a payload written by [`encode`] or [`encode_delete`], compressed by [`compress`]
/// or not.
pub(crate) fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
    if payload.first() == Some(&KIND_COMPRESSED) {
        let mut r = Reader {
            buf: payload,
            pos: 1,
        };
        let raw_len = r.u32("the uncompressed length")? as usize;
        if raw_len > MAX_UNCOMPRESSED {
            return r.fail(format!(
                "an uncompressed length of {raw_len} bytes, more than any record holds"
            ));
        }
        let raw = zstd::bulk::decompress(&payload[5..], raw_len).map_err(|e| DecodeError {
            offset: 5,
            detail: format!("the compressed payload does not decompress: {e}"),
        })?;
        if raw.len() != raw_len {
            return Err(DecodeError {
                offset: 1,
                detail: format!(
                    "the payload decompresses to {} bytes, its header says {raw_len}",
                    raw.len()
                ),
            });
        }
        if raw.first() == Some(&KIND_COMPRESSED) {
            return Err(DecodeError {
                offset: 5,
                detail: "a compressed payload holds another compressed payload".to_owned(),
            });
        }
        return decode_plain(&raw).map_err(|e| DecodeError {
            offset: 5,
            detail: format!(
                "inside the compressed payload, at byte {}: {}",
                e.offset, e.detail
            ),
        });
    }
    decode_plain(payload)
}

fn decode_plain(payload: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    match r.u8("the record kind")? {
        KIND_WRITE_BATCH => decode_batch(&mut r).map(Record::Write),
        KIND_WRITE_COLUMNS => decode_columns(&mut r).map(Record::Write),
        KIND_DELETE => decode_delete(&mut r).map(Record::Delete),
        kind => {
            r.pos = 0;
            r.fail(format!("unknown record kind {kind}"))
        }
    }
}

fn decode_delete(r: &mut Reader<'_>) -> Result<Deletion, DecodeError> {
    let org = OrgId(r.u64("the organization")?);
    let start = i64::from_le_bytes(r.take("the range start")?);
    let end = i64::from_le_bytes(r.take("the range end")?);
    let n = r.count("key count", 8)?;
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        keys.push(r.key()?);
    }
    r.end("deletion")?;
    Ok(Deletion {
        org,
        keys,
        range: start..end,
    })
}

fn decode_batch(r: &mut Reader<'_>) -> Result<ValidatedBatch, DecodeError> {
    let org = OrgId(r.u64("the organization")?);
    let series_count = r.count("series count", 14)?;
    let mut batch = WriteBatch::new(org);
    batch.series.reserve(series_count);
    for _ in 0..series_count {
        let key = r.key()?;
        let code = r.u8("the data type")?;
        let Some(data_type) = type_from_code(code) else {
            r.pos -= 1;
            return r.fail(format!("unknown data type code {code}"));
        };
        let n = r.count("point count", 9)?;
        let mut timestamps = Vec::with_capacity(n);
        for _ in 0..n {
            timestamps.push(i64::from_le_bytes(r.take("a timestamp")?));
        }
        let mut points = Vec::with_capacity(n);
        for timestamp in timestamps {
            points.push(Point::new(timestamp, r.value(data_type)?));
        }
        batch.push(key, data_type, points);
    }
    r.end("batch")?;
    batch.validate().map_err(|e| DecodeError {
        offset: 0,
        detail: format!("decoded batch is not valid: {e}"),
    })
}

fn decode_columns(r: &mut Reader<'_>) -> Result<ValidatedBatch, DecodeError> {
    let org = OrgId(r.u64("the organization")?);
    // A series takes at least its name, label count, type and point count.
    let series_count = r.varint_count("series count", 4)?;
    let mut batch = WriteBatch::new(org);
    batch.series.reserve(series_count);
    let mut key_before: Option<SeriesKey> = None;
    let mut first_timestamp = 0;
    for _ in 0..series_count {
        let key_at = r.pos;
        let name = match (r.text("series name length")?, &key_before) {
            (Some(name), _) => name,
            (None, Some(before)) => before.name(),
            (None, None) => {
                r.pos = key_at;
                return r.fail("the first series repeats the name of the series before");
            }
        };
        let labels_before = key_before.as_ref().map(SeriesKey::labels);
        let label_count = r.varint_count("label count", 1)?;
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(label_count);
        for i in 0..label_count {
            let at = r.pos;
            match r.text("label name length")? {
                Some(n) => labels.push((n, r.text("label value length")?.unwrap_or_default())),
                None => match labels_before.and_then(|b| b.get(i)) {
                    Some(label) => labels.push((label.name, label.value)),
                    None => {
                        r.pos = at;
                        return r.fail(format!(
                            "label {i} repeats the series before, which has {} labels",
                            labels_before.map_or(0, |b| b.len())
                        ));
                    }
                },
            }
        }
        let key = SeriesKey::new(name, labels).map_err(|e| DecodeError {
            offset: key_at,
            detail: e.to_string(),
        })?;
        key_before = Some(key.clone());
        let code = r.u8("the data type")?;
        let Some(data_type) = type_from_code(code) else {
            r.pos -= 1;
            return r.fail(format!("unknown data type code {code}"));
        };
        // Every point takes at least a byte of timestamp and a byte of value.
        let n = r.varint_count("point count", 2)?;
        let mut columns = ColumnReader {
            buf: r.buf,
            pos: r.pos,
        };
        let read = columns
            .timestamps(n, first_timestamp)
            .and_then(|timestamps| {
                first_timestamp = timestamps.first().copied().unwrap_or(first_timestamp);
                columns.points(data_type, timestamps)
            });
        r.pos = columns.pos;
        batch.push(key, data_type, read.or_else(|detail| r.fail(detail))?);
    }
    r.end("batch")?;
    batch.validate().map_err(|e| DecodeError {
        offset: 0,
        detail: format!("decoded batch is not valid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write batch encoding of segment versions 1 and 2 (kind 1), kept to test that it is
    /// still read.
    fn encode_v1(batch: &ValidatedBatch, out: &mut Vec<u8>) {
        out.push(KIND_WRITE_BATCH);
        out.extend_from_slice(&batch.org().0.to_le_bytes());
        put_u32(out, batch.series().len());
        for s in batch.series() {
            put_key(out, &s.key);
            out.push(type_code(s.data_type));
            put_u32(out, s.points.len());
            for p in &s.points {
                out.extend_from_slice(&p.timestamp.to_le_bytes());
            }
            for p in &s.points {
                match &p.value {
                    Value::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Value::Float(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Value::String(v) => put_bytes(out, v.as_bytes()),
                    Value::Bool(v) => out.push(u8::from(*v)),
                    Value::Int32(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Value::Int64(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Value::Uint32(v) | Value::Enum(v) => out.extend_from_slice(&v.to_le_bytes()),
                    Value::Uint64(v) | Value::BitField(v) => {
                        out.extend_from_slice(&v.to_le_bytes())
                    }
                    Value::Bytes(v) => put_bytes(out, v),
                }
            }
        }
    }

    fn batch() -> ValidatedBatch {
        let mut b = WriteBatch::new(OrgId(42));
        let samples = [
            Value::Double(-1.5),
            Value::Float(2.25),
            Value::String("ünï\"".into()),
            Value::Bool(true),
            Value::Int32(-7),
            Value::Int64(i64::MIN),
            Value::Uint32(u32::MAX),
            Value::Uint64(u64::MAX),
            Value::Enum(3),
            Value::BitField(0b1010),
            Value::Bytes(vec![0, 255, 7]),
        ];
        for (i, v) in samples.into_iter().enumerate() {
            let key = SeriesKey::new(format!("s{i}"), [("asset", "NostromoLV426")]).unwrap();
            let t = v.data_type();
            b.push(
                key,
                t,
                vec![Point::new(i as i64 * 10, v.clone()), Point::new(-5, v)],
            );
        }
        b.validate().unwrap()
    }

    #[test]
    fn compressed_payloads_round_trip_and_damage_is_reported() {
        let mut batch = WriteBatch::new(OrgId(42));
        for s in 0..40 {
            let key = SeriesKey::new(format!("s{s}"), [("asset", "NostromoLV426")]).unwrap();
            let points = (0..4)
                .map(|i| Point::new(i * 1_000, Value::Double(f64::from(s) / 3.0)))
                .collect();
            batch.push(key, DataType::Double, points);
        }
        let batch = batch.validate().unwrap();
        let mut plain = Vec::new();
        encode(&batch, &mut plain);
        assert!(
            plain.len() >= COMPRESS_FROM,
            "the sample batch is worth compressing"
        );
        let mut record = vec![9u8; 4];
        record.extend_from_slice(&plain);
        compress(&mut record, 4);
        assert_eq!(&record[..4], &[9; 4], "the frame is left alone");
        let payload = &record[4..];
        assert_eq!(payload[0], KIND_COMPRESSED);
        assert!(
            payload.len() < plain.len(),
            "{} < {}",
            payload.len(),
            plain.len()
        );
        assert_eq!(decode(payload).unwrap(), Record::Write(batch.clone()));

        // A short payload is stored as it is.
        let mut short = vec![KIND_DELETE; 10];
        compress(&mut short, 0);
        assert_eq!(short, vec![KIND_DELETE; 10]);

        let fails = |bytes: &[u8], says: &str| {
            let err = decode(bytes).unwrap_err();
            assert!(err.detail.contains(says), "{err:?} lacks {says:?}");
        };
        let mut flipped = payload.to_vec();
        let last = flipped.len() - 3;
        flipped[last] ^= 0xff;
        fails(&flipped, "decompress");
        let mut lying = payload.to_vec();
        lying[1..5].copy_from_slice(&((plain.len() as u32) - 1).to_le_bytes());
        fails(&lying, "decompress");
        let mut huge = payload.to_vec();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        fails(&huge, "more than any record holds");
        // A compressed payload inside another is refused.
        let mut nested = vec![KIND_COMPRESSED];
        nested.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        nested.extend_from_slice(&zstd::bulk::compress(payload, 1).unwrap());
        fails(&nested, "holds another compressed payload");
    }

    #[test]
    fn every_type_round_trips() {
        let b = batch();
        let mut out = Vec::new();
        encode(&b, &mut out);
        assert_eq!(decode(&out), Ok(Record::Write(b)));
    }

    #[test]
    fn deletions_round_trip_and_truncations_fail() {
        let d = Deletion {
            org: OrgId(7),
            keys: vec![
                SeriesKey::new("mainmotor.velocity", [("asset", "NostromoLV426")]).unwrap(),
                SeriesKey::new("cpu", Vec::<(String, String)>::new()).unwrap(),
            ],
            range: i64::MIN..-3,
        };
        let mut out = Vec::new();
        encode_delete(&d, &mut out);
        assert!(out.len() <= delete_size_hint(&d));
        assert_eq!(decode(&out), Ok(Record::Delete(d)));
        for len in 0..out.len() {
            assert!(decode(&out[..len]).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn batches_of_the_full_width_kind_are_still_read() {
        let b = batch();
        let mut v1 = Vec::new();
        encode_v1(&b, &mut v1);
        assert_eq!(v1[0], KIND_WRITE_BATCH);
        assert_eq!(decode(&v1), Ok(Record::Write(b.clone())));
        let mut v4 = Vec::new();
        encode(&b, &mut v4);
        assert!(v4.len() < v1.len(), "{} < {}", v4.len(), v1.len());
        for len in 0..v1.len() {
            assert!(decode(&v1[..len]).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn labels_shared_with_the_series_before_are_written_once() {
        let mut b = WriteBatch::new(OrgId(1));
        let host = [("host", "h1"), ("region", "eu"), ("zone", "a")];
        for (name, labels) in [
            ("cpu.user", host.to_vec()),
            ("cpu.system", host.to_vec()),
            ("cpu.idle", vec![("host", "h2"), ("region", "eu")]),
            ("cpu.steal", vec![("host", "h2")]),
            ("cpu.nice", vec![("rack", "r1"), ("region", "eu")]),
            ("cpu.nice", vec![("rack", "r2"), ("region", "eu")]),
            ("up", vec![]),
        ] {
            let key = SeriesKey::new(name, labels).unwrap();
            b.push(key, DataType::Bool, vec![Point::new(5, Value::Bool(true))]);
        }
        let b = b.validate().unwrap();
        let mut out = Vec::new();
        encode(&b, &mut out);
        assert_eq!(decode(&out), Ok(Record::Write(b)));
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text.matches("region").count(),
            2,
            "written once, then by position"
        );
        assert_eq!(text.matches("h2").count(), 1);

        assert_eq!(
            text.matches("cpu.").count(),
            5,
            "a repeated name is written once"
        );

        // A first series cannot repeat a label, or the name, of the series before it.
        let mut bad = vec![KIND_WRITE_COLUMNS];
        bad.extend_from_slice(&1u64.to_le_bytes());
        bad.extend_from_slice(&[1, 3, b'c', b'p', b'u', 1, SAME]);
        bad.extend_from_slice(&[type_code(DataType::Bool), 1, 0, 1]);
        let err = decode(&bad).unwrap_err();
        assert!(
            err.detail
                .contains("label 0 repeats the series before, which has 0 labels"),
            "{err:?}"
        );
        assert_eq!(err.offset, 15);
        bad[10] = SAME;
        let err = decode(&bad).unwrap_err();
        assert!(
            err.detail.contains("first series repeats the name"),
            "{err:?}"
        );
        assert_eq!(err.offset, 10);
    }

    #[test]
    fn every_type_code_is_distinct() {
        for t in DataType::ALL {
            assert_eq!(type_from_code(type_code(t)), Some(t));
        }
    }

    #[test]
    fn truncated_payloads_fail_cleanly() {
        let mut out = Vec::new();
        encode(&batch(), &mut out);
        for len in 0..out.len() {
            assert!(
                decode(&out[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
        out.push(0);
        let err = decode(&out).unwrap_err();
        assert!(err.detail.contains("1 bytes left over"), "{err:?}");
    }
}
