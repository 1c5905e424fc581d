//! Run-length and bitmap codecs for bools, enum keys and bit fields, and the per-block choice
//! between them and pco.
//!
//! Bools, enum keys and bit fields mostly hold one value for a long time, so a block is often a
//! handful of runs. When it is not (a bit field that counts, a bool that flips every sample),
//! the writer falls back to pco (integers) or a bitmap (bools), whichever is smaller for that
//! block; the choice is recorded in the column header, so each block decodes on its own.

use super::header::{Codec, Element, read_len, read_varint, varint_len, write_varint};
use super::{Effort, Error, numeric};

/// Appends a bool column's payload to `out` and returns the codec used: runs, or a bitmap when
/// the values flip so often that a bit per value is smaller.
pub(crate) fn encode_bools(values: &[bool], out: &mut Vec<u8>) -> Codec {
    let bitmap_size = values.len().div_ceil(8);
    let mut runs_size = 1;
    for_each_run(values, |_, len| runs_size += varint_len(len as u64));
    if runs_size <= bitmap_size {
        out.push(u8::from(values[0]));
        for_each_run(values, |_, len| write_varint(out, len as u64));
        Codec::Runs
    } else {
        for chunk in values.chunks(8) {
            let byte = chunk
                .iter()
                .enumerate()
                .fold(0u8, |byte, (bit, &value)| byte | u8::from(value) << bit);
            out.push(byte);
        }
        Codec::Bitmap
    }
}

/// Decodes `count` bools (at least one) encoded by [`encode_bools`], appending them to `out`.
pub(crate) fn decode_bools(
    codec: Codec,
    mut payload: &[u8],
    count: usize,
    out: &mut Vec<bool>,
) -> Result<(), Error> {
    let corrupt = |detail: String| Error::corrupt(Element::Bool, detail);
    match codec {
        Codec::Runs => {
            let [first, rest @ ..] = payload else {
                return Err(corrupt("bool runs are missing their first value".into()));
            };
            let mut value = match first {
                0 => false,
                1 => true,
                other => {
                    return Err(corrupt(format!(
                        "first value byte {other:#04x} of bool runs is neither 0 nor 1"
                    )));
                }
            };
            payload = rest;
            let mut remaining = count;
            while remaining > 0 {
                let len = read_run_len(&mut payload, remaining).map_err(corrupt)?;
                out.extend(std::iter::repeat_n(value, len));
                remaining -= len;
                value = !value;
            }
            if !payload.is_empty() {
                return Err(Error::trailing(Element::Bool, payload));
            }
            Ok(())
        }
        Codec::Bitmap => {
            let expected = count.div_ceil(8);
            if payload.len() != expected {
                return Err(corrupt(format!(
                    "bitmap of {count} bools needs {expected} bytes, found {}",
                    payload.len()
                )));
            }
            let last = payload[expected - 1];
            let used = count - (expected - 1) * 8;
            if used < 8 && last >> used != 0 {
                return Err(corrupt(format!(
                    "unused high bits set in the last bitmap byte {last:#04x} ({used} bits used)"
                )));
            }
            out.reserve(count);
            for (i, byte) in payload.iter().enumerate() {
                let bits = (count - i * 8).min(8);
                out.extend((0..bits).map(|bit| byte >> bit & 1 == 1));
            }
            Ok(())
        }
        codec @ (Codec::Pco | Codec::Dictionary | Codec::Decimal | Codec::Regular) => {
            Err(corrupt(format!("codec {codec:?} is not one for bools")))
        }
    }
}

/// An integer stored by runs or pco: enum keys (`u32`) and bit fields (`u64`).
pub(crate) trait RunValue: pco::data_types::Number + Eq + Into<u64> + TryFrom<u64> {}

impl RunValue for u32 {}
impl RunValue for u64 {}

/// Blocks whose runs take at most this many bits per value are written as runs without trying
/// pco: pco's chunk header alone is some tens of bytes, and its entropy coder cannot spend much
/// less than this on a value, so it never wins there.
const RUNS_WITHOUT_TRYING_PCO_BITS_PER_VALUE: usize = 1;

/// Appends the payload of an enum or bit-field column (at least one value) to `out` and returns
/// the codec chosen: runs when they are at most as large as pco's encoding, else pco.
pub(crate) fn encode_integers<T: RunValue>(
    element: Element,
    values: &[T],
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<Codec, Error> {
    let mut runs_size = 0;
    for_each_run(values, |value, len| {
        runs_size += varint_len(value.into()) + varint_len(len as u64);
    });
    let pco_size = if runs_size * 8 <= values.len() * RUNS_WITHOUT_TRYING_PCO_BITS_PER_VALUE {
        None
    } else {
        let start = out.len();
        numeric::encode(element, values, &numeric::config(values.len(), effort), out)?;
        Some(out.len() - start)
    };
    match choose(runs_size, pco_size) {
        Codec::Runs => {
            if let Some(pco_size) = pco_size {
                out.truncate(out.len() - pco_size);
            }
            for_each_run(values, |value, len| {
                write_varint(out, value.into());
                write_varint(out, len as u64);
            });
            Ok(Codec::Runs)
        }
        codec => Ok(codec),
    }
}

/// The codec for an integer block whose runs take `runs_size` bytes and whose pco encoding
/// takes `pco_size` bytes, if it was tried: the smaller, runs on a tie (they decode faster).
pub(crate) fn choose(runs_size: usize, pco_size: Option<usize>) -> Codec {
    match pco_size {
        Some(pco_size) if pco_size < runs_size => Codec::Pco,
        _ => Codec::Runs,
    }
}

/// Decodes `count` integers (at least one) encoded by [`encode_integers`], appending them to
/// `out`.
pub(crate) fn decode_integers<T: RunValue>(
    element: Element,
    codec: Codec,
    mut payload: &[u8],
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), Error> {
    let corrupt = |detail: String| Error::corrupt(element, detail);
    match codec {
        Codec::Pco => numeric::decode_into(element, payload, count, out),
        Codec::Runs => {
            out.reserve(count);
            let mut remaining = count;
            while remaining > 0 {
                let raw =
                    read_varint(&mut payload).map_err(|e| corrupt(format!("run value: {e}")))?;
                let value = T::try_from(raw).map_err(|_| {
                    corrupt(format!(
                        "run value {raw} is out of range for {}",
                        element.name()
                    ))
                })?;
                let len = read_run_len(&mut payload, remaining).map_err(corrupt)?;
                out.extend(std::iter::repeat_n(value, len));
                remaining -= len;
            }
            if !payload.is_empty() {
                return Err(Error::trailing(element, payload));
            }
            Ok(())
        }
        codec @ (Codec::Bitmap | Codec::Dictionary | Codec::Decimal | Codec::Regular) => {
            Err(corrupt(format!(
                "codec {codec:?} is not one for {} values",
                element.name()
            )))
        }
    }
}

/// Calls `f` with the value and length of each maximal run of equal values.
fn for_each_run<T: Copy + PartialEq>(values: &[T], mut f: impl FnMut(T, usize)) {
    let mut start = 0;
    for i in 1..=values.len() {
        if i == values.len() || values[i] != values[start] {
            f(values[start], i - start);
            start = i;
        }
    }
}

/// Reads a run length: at least one, at most the `remaining` values.
fn read_run_len(payload: &mut &[u8], remaining: usize) -> Result<usize, String> {
    let len = read_len(payload, "run length", remaining)?;
    if len == 0 {
        return Err("run length 0".into());
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::super::{Column, encode};
    use super::*;

    fn codec_of(bytes: &[u8]) -> u8 {
        bytes[0] & 0x0f
    }

    #[test]
    fn bools_choose_runs_or_bitmap_by_size() {
        let alternating: Vec<bool> = (0..64).map(|i| i % 2 == 0).collect();
        let cases: [(&str, Vec<bool>, Codec); 5] = [
            ("one value: one bitmap byte", vec![true], Codec::Bitmap),
            ("constant block", vec![false; 16_384], Codec::Runs),
            (
                "rare toggles",
                (0..16_384).map(|i| i / 5_000 % 2 == 1).collect(),
                Codec::Runs,
            ),
            ("flips every value", alternating, Codec::Bitmap),
            (
                "flips every 8",
                (0..1_024).map(|i| i / 8 % 2 == 1).collect(),
                Codec::Bitmap,
            ),
        ];
        for (name, values, expected) in cases {
            let mut out = Vec::new();
            assert_eq!(encode_bools(&values, &mut out), expected, "{name}");
        }
    }

    #[test]
    fn integers_choose_runs_or_pco_by_size() {
        let counter: Vec<u64> = (0..16_384).collect();
        let noise: Vec<u32> = (0..4_096u32)
            .map(|i| i.wrapping_mul(2_654_435_761) >> 20)
            .collect();
        let rare: Vec<u32> = (0..16_384).map(|i| i / 3_000).collect();
        let often: Vec<u32> = (0..16_384).map(|i| (i / 3) % 5).collect();
        let cases = [
            ("one key", Column::Enum(vec![7]), Codec::Runs),
            ("constant keys", Column::Enum(vec![3; 16_384]), Codec::Runs),
            ("rare changes", Column::Enum(rare), Codec::Runs),
            ("counting bit field", Column::BitField(counter), Codec::Pco),
            ("noisy keys", Column::Enum(noise), Codec::Pco),
            ("runs of three", Column::Enum(often), Codec::Pco),
        ];
        for (name, column, expected) in cases {
            let mut encoded = Vec::new();
            encode(&column, &mut encoded).unwrap();
            assert_eq!(codec_of(&encoded), expected as u8, "{name}");
        }
    }

    #[test]
    fn choice_prefers_the_smaller_and_runs_on_ties() {
        let cases = [
            (10, None, Codec::Runs),
            (10, Some(11), Codec::Runs),
            (10, Some(10), Codec::Runs),
            (10, Some(9), Codec::Pco),
            (50_000, Some(20_000), Codec::Pco),
        ];
        for (runs_size, pco_size, expected) in cases {
            assert_eq!(
                choose(runs_size, pco_size),
                expected,
                "{runs_size} vs {pco_size:?}"
            );
        }
    }
}
