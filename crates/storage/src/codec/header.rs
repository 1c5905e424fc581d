//! The self-describing header every encoded column starts with, and the LEB128 varints the
//! codecs use for counts and lengths.
//!
//! A header is two bytes and a varint: the layout version and codec id in one byte, the element
//! type in the next, then the count of values. `docs/format/codecs.md` draws it byte by byte.

use super::{Error, MAX_POINTS};

/// The layout version written in the high nibble of a column's first byte.
pub(crate) const VERSION: u8 = 1;

/// How a column's payload is encoded, in the low nibble of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// pco, wrapped format: pco's format byte, one chunk header, one page.
    Pco = 1,
    /// Runs: (value, length) pairs, or for bools a first value and alternating lengths.
    Runs = 2,
    /// Bools packed eight to a byte.
    Bitmap = 3,
    /// Distinct values (raw or zstd) and an index per value.
    Dictionary = 4,
    /// Floats as integers scaled by a power of ten, through pco.
    Decimal = 5,
    /// Timestamps at a fixed interval: the first and the interval.
    Regular = 6,
}

impl Codec {
    fn from_id(id: u8) -> Option<Codec> {
        Some(match id {
            1 => Codec::Pco,
            2 => Codec::Runs,
            3 => Codec::Bitmap,
            4 => Codec::Dictionary,
            5 => Codec::Decimal,
            6 => Codec::Regular,
            _ => return None,
        })
    }
}

/// What one value of a column is, in the second byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Element {
    Timestamp = 0,
    Double = 1,
    Float = 2,
    Int32 = 3,
    Int64 = 4,
    Uint32 = 5,
    Uint64 = 6,
    Bool = 7,
    Enum = 8,
    BitField = 9,
    String = 10,
    Bytes = 11,
}

impl Element {
    fn from_id(id: u8) -> Option<Element> {
        const ALL: [Element; 12] = [
            Element::Timestamp,
            Element::Double,
            Element::Float,
            Element::Int32,
            Element::Int64,
            Element::Uint32,
            Element::Uint64,
            Element::Bool,
            Element::Enum,
            Element::BitField,
            Element::String,
            Element::Bytes,
        ];
        ALL.get(usize::from(id)).copied()
    }

    /// The name used in error messages, that of the data type where there is one.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Element::Timestamp => "timestamp",
            Element::Double => "double",
            Element::Float => "float",
            Element::Int32 => "int32",
            Element::Int64 => "int64",
            Element::Uint32 => "uint32",
            Element::Uint64 => "uint64",
            Element::Bool => "bool",
            Element::Enum => "enum",
            Element::BitField => "bit_field",
            Element::String => "string",
            Element::Bytes => "bytes",
        }
    }
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) codec: Codec,
    pub(crate) count: usize,
}

/// Appends a header to `out`.
pub(crate) fn write(out: &mut Vec<u8>, codec: Codec, element: Element, count: usize) {
    out.push(VERSION << 4 | codec as u8);
    out.push(element as u8);
    write_varint(out, count as u64);
}

/// Reads the header of a column expected to hold `element`s; returns it and the payload.
pub(crate) fn read(element: Element, bytes: &[u8]) -> Result<(Header, &[u8]), Error> {
    let corrupt = |detail: String| Error::corrupt(element, detail);
    let [first, second, rest @ ..] = bytes else {
        return Err(corrupt(format!(
            "column of {} bytes {bytes:02x?} is shorter than its 3-byte minimum header",
            bytes.len()
        )));
    };
    let version = first >> 4;
    if version != VERSION {
        return Err(corrupt(format!(
            "unsupported layout version {version} in first byte {first:#04x} (expected {VERSION})"
        )));
    }
    let codec = Codec::from_id(first & 0x0f).ok_or_else(|| {
        corrupt(format!(
            "unknown codec id {} in first byte {first:#04x}",
            first & 0x0f
        ))
    })?;
    match Element::from_id(*second) {
        Some(found) if found == element => {}
        Some(found) => {
            return Err(corrupt(format!(
                "header says the column holds {} values (type byte {second:#04x})",
                found.name()
            )));
        }
        None => return Err(corrupt(format!("unknown element type byte {second:#04x}"))),
    }
    let mut rest = rest;
    let count = read_varint(&mut rest).map_err(|e| corrupt(format!("value count: {e}")))?;
    if count > MAX_POINTS as u64 {
        return Err(corrupt(format!(
            "value count {count} exceeds the limit of {MAX_POINTS}"
        )));
    }
    Ok((
        Header {
            codec,
            count: count as usize,
        },
        rest,
    ))
}

/// Appends `value` as an unsigned LEB128 varint: seven bits a byte, low bits first, the high bit
/// set on every byte but the last.
pub(crate) fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The number of bytes [`write_varint`] writes for `value`.
pub(crate) fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a varint from the front of `bytes` and advances past it. Rejects truncation,
/// encodings longer than ten bytes, bits beyond 64 and non-minimal encodings, so every value
/// has exactly one encoding.
pub(crate) fn read_varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let low = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return Err(format!("varint {:02x?} overflows 64 bits", &bytes[..=i]));
        }
        value |= low << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(format!(
                    "varint {:02x?} has a redundant trailing zero byte",
                    &bytes[..=i]
                ));
            }
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    Err(format!(
        "varint {:02x?} is truncated",
        &bytes[..bytes.len().min(10)]
    ))
}

/// Reads a varint that counts or measures something in memory, at most `max`.
pub(crate) fn read_len(bytes: &mut &[u8], what: &str, max: usize) -> Result<usize, String> {
    let value = read_varint(bytes).map_err(|e| format!("{what}: {e}"))?;
    if value > max as u64 {
        return Err(format!("{what} {value} exceeds the limit of {max}"));
    }
    Ok(value as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_length_boundary() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "length of {value}");
            let mut slice = out.as_slice();
            assert_eq!(read_varint(&mut slice), Ok(value));
            assert!(slice.is_empty());
        }
    }

    #[test]
    fn malformed_varints_are_rejected() {
        let cases: [(&[u8], &str); 4] = [
            (&[], "truncated"),
            (&[0x80], "truncated"),
            (&[0x80, 0x00], "redundant"),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                "overflows",
            ),
        ];
        for (bytes, expected) in cases {
            let mut slice = bytes;
            let err = read_varint(&mut slice).unwrap_err();
            assert!(err.contains(expected), "{bytes:02x?}: {err}");
        }
    }

    #[test]
    fn header_round_trips_and_checks_the_element_type() {
        let mut out = Vec::new();
        write(&mut out, Codec::Runs, Element::Enum, 300);
        assert_eq!(out, [0x12, 8, 0xac, 0x02]);
        let (header, rest) = read(Element::Enum, &out).unwrap();
        assert_eq!(
            header,
            Header {
                codec: Codec::Runs,
                count: 300
            }
        );
        assert!(rest.is_empty());
        let err = read(Element::Bool, &out).unwrap_err().to_string();
        assert!(err.contains("holds enum values"), "{err}");
    }
}
