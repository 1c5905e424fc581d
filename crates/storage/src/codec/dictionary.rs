//! The dictionary codec for strings and bytes: each distinct value once (zstd-compressed when
//! that is smaller), then one index per value.
//!
//! Text channels repeat a few values (states, log levels, firmware versions), so the distinct
//! values are few and the indices, numbered in order of first appearance, compress to almost
//! nothing with pco. Values that never repeat still cost only their zstd-compressed bytes and a
//! near-free index sequence 0, 1, 2, ...

use std::collections::HashMap;

use super::header::{Element, read_len, write_varint};
use super::{Effort, Error, MAX_POINTS, numeric};

/// The largest dictionary, in bytes before compression, that a column may hold. It bounds what
/// a decoder allocates for a corrupt length.
pub const MAX_DICTIONARY_BYTES: usize = 256 << 20;

/// zstd's default level: the dictionary is small next to the cost of writing a part, and higher
/// levels gained little on short repeated text.
const ZSTD_LEVEL: i32 = 3;

/// Section byte: the distinct values follow as they are.
const RAW: u8 = 0;
/// Section byte: the distinct values follow as one zstd frame.
const ZSTD: u8 = 1;

/// Appends the payload of a string or bytes column (at least one value) to `out`.
pub(crate) fn encode<V: AsRef<[u8]>>(
    element: Element,
    values: &[V],
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut index_of: HashMap<&[u8], u32> = HashMap::new();
    let mut distinct: Vec<&[u8]> = Vec::new();
    let mut indices: Vec<u32> = Vec::with_capacity(values.len());
    for value in values {
        let value = value.as_ref();
        let index = *index_of.entry(value).or_insert_with(|| {
            distinct.push(value);
            (distinct.len() - 1) as u32
        });
        indices.push(index);
    }

    let mut raw = Vec::new();
    for value in &distinct {
        write_varint(&mut raw, value.len() as u64);
    }
    for value in &distinct {
        raw.extend_from_slice(value);
    }
    if raw.len() > MAX_DICTIONARY_BYTES {
        return Err(Error::Encode {
            column: element.name(),
            detail: format!(
                "distinct values take {} bytes, over the limit of {MAX_DICTIONARY_BYTES}",
                raw.len()
            ),
        });
    }

    write_varint(out, distinct.len() as u64);
    let compressed = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| Error::Encode {
        column: element.name(),
        detail: format!("zstd: {e}"),
    })?;
    write_varint(out, raw.len() as u64);
    if compressed.len() < raw.len() {
        out.push(ZSTD);
        write_varint(out, compressed.len() as u64);
        out.extend_from_slice(&compressed);
    } else {
        out.push(RAW);
        out.extend_from_slice(&raw);
    }
    if distinct.len() > 1 {
        numeric::encode(
            element,
            &indices,
            &numeric::config(indices.len(), effort),
            out,
        )?;
    }
    Ok(())
}

/// Decodes `count` values (at least one) encoded by [`encode`], appending them to `out`.
///
/// `convert` turns each distinct value into an output value once (strings check UTF-8 there);
/// each point is then a clone of its distinct value.
pub(crate) fn decode<D: Clone>(
    element: Element,
    mut payload: &[u8],
    count: usize,
    convert: impl Fn(&[u8]) -> Result<D, String>,
    out: &mut Vec<D>,
) -> Result<(), Error> {
    let corrupt = |detail: String| Error::corrupt(element, detail);
    let distinct_count =
        read_len(&mut payload, "distinct value count", count.min(MAX_POINTS)).map_err(corrupt)?;
    if distinct_count == 0 {
        return Err(corrupt(format!("{count} values but an empty dictionary")));
    }
    let raw_len =
        read_len(&mut payload, "dictionary size", MAX_DICTIONARY_BYTES).map_err(corrupt)?;
    let [section, rest @ ..] = payload else {
        return Err(corrupt("dictionary section byte is missing".into()));
    };
    payload = rest;
    let decompressed;
    let mut raw: &[u8] = match *section {
        RAW => {
            if payload.len() < raw_len {
                return Err(corrupt(format!(
                    "dictionary of {raw_len} bytes is truncated to {}",
                    payload.len()
                )));
            }
            let (raw, rest) = payload.split_at(raw_len);
            payload = rest;
            raw
        }
        ZSTD => {
            let available = payload.len();
            let compressed_len =
                read_len(&mut payload, "compressed dictionary size", available).map_err(corrupt)?;
            if payload.len() < compressed_len {
                return Err(corrupt(format!(
                    "compressed dictionary of {compressed_len} bytes is truncated to {}",
                    payload.len()
                )));
            }
            let (compressed, rest) = payload.split_at(compressed_len);
            payload = rest;
            decompressed = zstd::bulk::decompress(compressed, raw_len)
                .map_err(|e| corrupt(format!("zstd dictionary: {e}")))?;
            if decompressed.len() != raw_len {
                return Err(corrupt(format!(
                    "zstd dictionary holds {} bytes, its header says {raw_len}",
                    decompressed.len()
                )));
            }
            &decompressed
        }
        other => {
            return Err(corrupt(format!(
                "unknown dictionary section byte {other:#04x}"
            )));
        }
    };

    let mut lens = Vec::with_capacity(distinct_count);
    for _ in 0..distinct_count {
        let available = raw.len();
        lens.push(read_len(&mut raw, "dictionary value length", available).map_err(corrupt)?);
    }
    let mut distinct: Vec<D> = Vec::with_capacity(distinct_count);
    for (i, len) in lens.into_iter().enumerate() {
        if raw.len() < len {
            return Err(corrupt(format!(
                "dictionary value {i} of {len} bytes overruns the dictionary"
            )));
        }
        let (value, rest) = raw.split_at(len);
        raw = rest;
        distinct.push(convert(value).map_err(|e| corrupt(format!("dictionary value {i}: {e}")))?);
    }
    if !raw.is_empty() {
        return Err(corrupt(format!(
            "{} bytes left in the dictionary after its {distinct_count} values",
            raw.len()
        )));
    }

    if distinct_count == 1 {
        if !payload.is_empty() {
            return Err(Error::trailing(element, payload));
        }
        out.extend(std::iter::repeat_n(distinct[0].clone(), count));
        return Ok(());
    }
    let mut indices: Vec<u32> = Vec::new();
    numeric::decode_into(element, payload, count, &mut indices)?;
    if let Some(index) = indices.iter().find(|&&i| i as usize >= distinct_count) {
        return Err(corrupt(format!(
            "index {index} is outside the dictionary of {distinct_count} values"
        )));
    }
    out.reserve(count);
    out.extend(indices.iter().map(|&i| distinct[i as usize].clone()));
    Ok(())
}
