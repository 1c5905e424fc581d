//! The payload of a WAL record: a validated write batch in an explicit little-endian layout.
//!
//! The layout is drawn in `docs/format/wal.md`. Encoding cannot fail; decoding checks every
//! length against the bytes left and validates the batch again, so a payload that passed its CRC
//! but does not decode (a bug, or a newer writer) is reported instead of trusted.

use sextant_model::{DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value, WriteBatch};

/// The first byte of a payload holding a write batch.
pub(crate) const KIND_WRITE_BATCH: u8 = 1;

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
        .map(|s| 64 + s.key.heap_size() + s.points.len() * 16)
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

/// Appends the encoding of `batch` to `out`.
pub(crate) fn encode(batch: &ValidatedBatch, out: &mut Vec<u8>) {
    out.push(KIND_WRITE_BATCH);
    out.extend_from_slice(&batch.org().0.to_le_bytes());
    put_u32(out, batch.series().len());
    for s in batch.series() {
        put_bytes(out, s.key.name().as_bytes());
        put_u32(out, s.key.labels().len());
        for l in s.key.labels() {
            put_bytes(out, l.name.as_bytes());
            put_bytes(out, l.value.as_bytes());
        }
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
                Value::Uint64(v) | Value::BitField(v) => out.extend_from_slice(&v.to_le_bytes()),
                Value::Bytes(v) => put_bytes(out, v),
            }
        }
    }
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

/// Decodes a payload written by [`encode`].
pub(crate) fn decode(payload: &[u8]) -> Result<ValidatedBatch, DecodeError> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let kind = r.u8("the record kind")?;
    if kind != KIND_WRITE_BATCH {
        r.pos = 0;
        return r.fail(format!("unknown record kind {kind}"));
    }
    let org = OrgId(r.u64("the organization")?);
    let series_count = r.count("series count", 14)?;
    let mut batch = WriteBatch::new(org);
    batch.series.reserve(series_count);
    for _ in 0..series_count {
        let key_at = r.pos;
        let name = r.string("series name length")?;
        let label_count = r.count("label count", 8)?;
        let mut labels = Vec::with_capacity(label_count);
        for _ in 0..label_count {
            let n = r.string("label name length")?;
            let v = r.string("label value length")?;
            labels.push((n, v));
        }
        let key = SeriesKey::new(name, labels).map_err(|e| DecodeError {
            offset: key_at,
            detail: e.to_string(),
        })?;
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
    if r.pos != payload.len() {
        return r.fail(format!(
            "{} bytes left over after the batch",
            payload.len() - r.pos
        ));
    }
    batch.validate().map_err(|e| DecodeError {
        offset: 0,
        detail: format!("decoded batch is not valid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_type_round_trips() {
        let b = batch();
        let mut out = Vec::new();
        encode(&b, &mut out);
        assert_eq!(decode(&out), Ok(b));
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
