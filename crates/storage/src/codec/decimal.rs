//! The decimal codec for `double` and `float` columns: values written with a few decimals are
//! stored as scaled integers through pco, with the odd value that is not kept aside.
//!
//! Telemetry floats are mostly decimals, `12.34` read from a text protocol or rounded by the
//! sender. Such a value is the float nearest `k / 10^d`, and IEEE 754 division is correctly
//! rounded, so `k as f64 / 10^d` restores it bit for bit. pco's own `FloatMult` mode restores
//! `k × 0.01` with a multiplication, whose rounding misses by a unit in the last place for many
//! values, and spends bits on each correction: on the generated data sets the decimal codec
//! stores 6% fewer bytes and decodes faster.
//!
//! A block uses the decimal codec when all but a few values (NaN, infinities, -0.0, a value with
//! more digits) are decimals at one scale; those few are stored as exceptions with their bits.

use std::cell::RefCell;

use super::header::{Element, read_len, write_varint};
use super::{Effort, Error, Order, numeric};

/// The most digits after the decimal point tried.
pub(crate) const MAX_DECIMALS: u8 = 9;

/// Set in the scale byte when the scaled integers are stored as `i64`; clear for `i32`.
const WIDE: u8 = 0x80;

/// At most one value in this many may be an exception. Each costs its index and raw bits (about
/// ten bytes for a `double`) while the decimal codec saves well under a tenth of a byte a value,
/// so past this share plain pco is the better choice.
const VALUES_PER_EXCEPTION: usize = 256;

/// A float type the decimal codec can carry.
pub(crate) trait Float: pco::data_types::Number + super::numeric::Ordered {
    /// Bytes of the raw little-endian bits of an exception.
    const BYTES: usize;
    /// `k = round(self × 10^decimals)`, if `k / 10^decimals` restores `self` bit for bit.
    fn scaled(self, decimals: u8) -> Option<i64>;
    /// `k / 10^decimals`.
    fn unscaled(k: i64, decimals: u8) -> Self;
    /// Appends the raw bits, little-endian.
    fn write_bits(self, out: &mut Vec<u8>);
    /// Reads raw little-endian bits from exactly [`Self::BYTES`] bytes.
    fn read_bits(bytes: &[u8]) -> Self;
}

/// `y` rounded half away from zero, as `f64::round` does for every `y` near an integer (the only
/// ones [`Float::scaled`]'s check accepts), saturating as `as` does. `f64::round` is a library
/// call on the baseline x86-64 target; adding a half and truncating is two instructions. From
/// 2^52 up every double is an integer already.
#[inline]
fn nearest_integer(y: f64) -> i64 {
    if y.abs() >= 4_503_599_627_370_496.0 {
        y as i64
    } else if y >= 0.0 {
        (y + 0.5) as i64
    } else {
        (y - 0.5) as i64
    }
}

const POWERS_F64: [f64; MAX_DECIMALS as usize + 1] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const POWERS_F32: [f32; MAX_DECIMALS as usize + 1] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

impl Float for f64 {
    const BYTES: usize = 8;

    #[inline]
    fn scaled(self, decimals: u8) -> Option<i64> {
        let k = nearest_integer(self * POWERS_F64[usize::from(decimals)]);
        (Self::unscaled(k, decimals).to_bits() == self.to_bits()).then_some(k)
    }

    #[inline]
    fn unscaled(k: i64, decimals: u8) -> Self {
        k as f64 / POWERS_F64[usize::from(decimals)]
    }

    fn write_bits(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_le_bytes());
    }

    fn read_bits(bytes: &[u8]) -> Self {
        let mut raw = [0; 8];
        raw.copy_from_slice(bytes);
        f64::from_bits(u64::from_le_bytes(raw))
    }
}

impl Float for f32 {
    const BYTES: usize = 4;

    #[inline]
    fn scaled(self, decimals: u8) -> Option<i64> {
        // Every float is a double exactly.
        let k = nearest_integer(f64::from(self * POWERS_F32[usize::from(decimals)]));
        (Self::unscaled(k, decimals).to_bits() == self.to_bits()).then_some(k)
    }

    #[inline]
    fn unscaled(k: i64, decimals: u8) -> Self {
        k as f32 / POWERS_F32[usize::from(decimals)]
    }

    fn write_bits(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_le_bytes());
    }

    fn read_bits(bytes: &[u8]) -> Self {
        let mut raw = [0; 4];
        raw.copy_from_slice(bytes);
        f32::from_bits(u32::from_le_bytes(raw))
    }
}

/// How a block is stored as decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Digits after the decimal point.
    pub(crate) decimals: u8,
    /// Indices of the values that are not decimals at that scale, ascending.
    pub(crate) exceptions: Vec<usize>,
}

/// The fewest decimals (at most [`MAX_DECIMALS`]) at which all but a few of `values` are
/// restored exactly from their scaled integers, or `None` if there is no such scale.
pub(crate) fn plan<T: Float>(values: &[T]) -> Option<Plan> {
    let limit = values.len() / VALUES_PER_EXCEPTION;
    'scales: for decimals in 0..=MAX_DECIMALS {
        let mut exceptions = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if v.scaled(decimals).is_none() {
                if exceptions.len() == limit {
                    continue 'scales;
                }
                exceptions.push(i);
            }
        }
        return Some(Plan {
            decimals,
            exceptions,
        });
    }
    None
}

/// Appends the decimal payload for `values` (at least one) stored as `plan` says.
///
/// The scaled integers go to pco as `i32` when they all fit, else as `i64`: pco compressed the
/// same integers better as `i32` on both generated data sets (hw doubles 0.83 against 0.87 bytes
/// a value) and decodes 32-bit numbers faster.
pub(crate) fn encode<T: Float>(
    element: Element,
    values: &[T],
    plan: &Plan,
    order: Order,
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut scaled = Vec::with_capacity(values.len());
    let mut previous = 0;
    for v in values {
        // An exception's slot repeats its neighbour, the cheapest delta for pco.
        let k = v.scaled(plan.decimals).unwrap_or(previous);
        scaled.push(k);
        previous = k;
    }
    let narrow: Option<Vec<i32>> = scaled.iter().map(|&k| i32::try_from(k).ok()).collect();
    out.push(plan.decimals | if narrow.is_some() { 0 } else { WIDE });
    write_varint(out, plan.exceptions.len() as u64);
    let mut next = 0;
    for &i in &plan.exceptions {
        write_varint(out, (i - next) as u64);
        values[i].write_bits(out);
        next = i + 1;
    }
    match narrow {
        Some(narrow) => numeric::encode_signal(element, &narrow, order, effort, out),
        None => numeric::encode_signal(element, &scaled, order, effort, out),
    }
}

thread_local! {
    /// Scaled integers of the block being decoded, reused so decoding does not allocate.
    static NARROW: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
    static WIDE_SCALED: RefCell<Vec<i64>> = const { RefCell::new(Vec::new()) };
}

/// Decodes a decimal payload of exactly `count` values (at least one), appending them to `out`.
pub(crate) fn decode_into<T: Float>(
    element: Element,
    payload: &[u8],
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), Error> {
    let corrupt = |detail: String| Error::corrupt(element, detail);
    let [scale, rest @ ..] = payload else {
        return Err(corrupt("decimal payload is empty".into()));
    };
    let mut payload = rest;
    let decimals = scale & !WIDE;
    if decimals > MAX_DECIMALS {
        return Err(corrupt(format!(
            "scale byte {scale:#04x} has more than {MAX_DECIMALS} decimals"
        )));
    }
    let exception_count = read_len(&mut payload, "exception count", count).map_err(corrupt)?;
    let mut exceptions = Vec::with_capacity(exception_count);
    let mut next = 0;
    for _ in 0..exception_count {
        let gap = read_len(&mut payload, "exception index gap", count - next).map_err(corrupt)?;
        let index = next + gap;
        if index >= count || payload.len() < T::BYTES {
            return Err(corrupt(format!(
                "exception at index {index} of {count} values is out of range or truncated"
            )));
        }
        let (bits, rest) = payload.split_at(T::BYTES);
        exceptions.push((index, T::read_bits(bits)));
        payload = rest;
        next = index + 1;
    }

    let start = out.len();
    if scale & WIDE == 0 {
        NARROW.with_borrow_mut(|scaled| {
            scaled.clear();
            numeric::decode_into(element, payload, count, scaled)?;
            out.extend(scaled.iter().map(|&k| T::unscaled(i64::from(k), decimals)));
            Ok::<_, Error>(())
        })?;
    } else {
        WIDE_SCALED.with_borrow_mut(|scaled| {
            scaled.clear();
            numeric::decode_into(element, payload, count, scaled)?;
            out.extend(scaled.iter().map(|&k| T::unscaled(k, decimals)));
            Ok::<_, Error>(())
        })?;
    }
    for (index, value) in exceptions {
        out[start + index] = value;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::header::varint_len;
    use super::*;

    /// `scaled` as it was written with the library's `round`.
    fn scaled_by_round(v: f64, d: u8) -> Option<i64> {
        let k = (v * POWERS_F64[usize::from(d)]).round() as i64;
        (f64::unscaled(k, d).to_bits() == v.to_bits()).then_some(k)
    }

    fn scaled_by_round_f32(v: f32, d: u8) -> Option<i64> {
        let k = (v * POWERS_F32[usize::from(d)]).round() as i64;
        (f32::unscaled(k, d).to_bits() == v.to_bits()).then_some(k)
    }

    #[test]
    fn scaling_agrees_with_rounding_at_the_edges() {
        let edges = [
            0.49999999999999994,
            -0.49999999999999994,
            0.5,
            2.5,
            -2.5,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.2e18,
            -9.3e18,
            f64::NAN,
            f64::INFINITY,
            -0.0,
            f64::MIN_POSITIVE,
            12.345,
            0.1 + 0.2,
        ];
        for v in edges {
            for d in 0..=MAX_DECIMALS {
                assert_eq!(v.scaled(d), scaled_by_round(v, d), "{v} at {d}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn scaling_agrees_with_rounding(
            bits in proptest::prelude::any::<u64>(),
            k in -10_000_000_000i64..10_000_000_000,
            d in 0u8..=MAX_DECIMALS,
        ) {
            let v = f64::from_bits(bits);
            proptest::prop_assert_eq!(v.scaled(d), scaled_by_round(v, d));
            let decimal = f64::unscaled(k, d);
            proptest::prop_assert_eq!(decimal.scaled(d), scaled_by_round(decimal, d));
            let near = f64::from_bits(decimal.to_bits().wrapping_add(1));
            proptest::prop_assert_eq!(near.scaled(d), scaled_by_round(near, d));
            let f = f32::from_bits(bits as u32);
            proptest::prop_assert_eq!(f.scaled(d), scaled_by_round_f32(f, d));
            let small = f32::unscaled(k % 10_000_000, d);
            proptest::prop_assert_eq!(small.scaled(d), scaled_by_round_f32(small, d));
        }
    }

    /// The size of the exceptions of `plan` in a decimal payload.
    fn exceptions_size<T: Float>(plan: &Plan) -> usize {
        let mut next = 0;
        let mut size = varint_len(plan.exceptions.len() as u64);
        for &i in &plan.exceptions {
            size += varint_len((i - next) as u64) + T::BYTES;
            next = i + 1;
        }
        size
    }

    #[test]
    fn plans_pick_the_fewest_decimals_and_set_aside_the_rest() {
        let mut with_odd_ones = vec![1.25; 1_024];
        with_odd_ones[3] = -0.0;
        with_odd_ones[700] = f64::NAN;
        type Expected = Option<(u8, Vec<usize>)>;
        let cases: [(&str, Vec<f64>, Expected); 7] = [
            ("whole numbers", vec![1.0, -3.0, 1e15], Some((0, vec![]))),
            ("two decimals", vec![0.5, 12.34, -0.01], Some((2, vec![]))),
            ("nine decimals", vec![0.123_456_789], Some((9, vec![]))),
            ("too many digits", vec![0.1 + 0.2], None),
            ("a lone -0.0", vec![-0.0], None),
            ("few odd values", with_odd_ones, Some((2, vec![3, 700]))),
            (
                "random bits",
                (1..1_000u64)
                    .map(|i| f64::from_bits(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 2))
                    .collect(),
                None,
            ),
        ];
        for (name, values, expected) in cases {
            let plan = plan(&values).map(|p| (p.decimals, p.exceptions));
            assert_eq!(plan, expected, "{name}");
        }
    }

    #[test]
    fn exceptions_cost_their_index_and_bits() {
        let plan = Plan {
            decimals: 2,
            exceptions: vec![3, 700],
        };
        // count, gap 3 + 8 bytes, gap 696 (two varint bytes) + 8 bytes
        assert_eq!(exceptions_size::<f64>(&plan), 1 + 1 + 8 + 2 + 8);
    }
}
