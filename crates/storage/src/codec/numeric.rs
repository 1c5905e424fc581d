//! Numbers through pco: timestamps, floats and integers, and the run-or-pco choice's pco side.
//!
//! The payload is pco's *wrapped* format (one format byte, one chunk header, one page), not its
//! standalone files: our column header already carries the count pco needs, so the standalone
//! magic, type byte, count and footer would repeat what we store. Numbers are decoded straight
//! into the caller's vector.

use pco::data_types::Number;
use pco::wrapped::{FileCompressor, FileDecompressor};
use pco::{ChunkConfig, DeltaSpec, ModeSpec, PagingSpec};

use super::header::Element;
use super::{Effort, Error, Order};

/// The pco configuration for a column of `count` numbers: pco's defaults (level 8, automatic
/// mode and delta encoding) in one page.
///
/// Chosen by `examples/bytes_per_point.rs --configs`, which tries the alternatives on the
/// generated data sets (figures in `docs/format/codecs.md`):
///
/// - Level 8. Level 12 saved at most 0.1% and encoded at half the speed; level 4 lost 2–4%.
/// - Automatic delta encoding. pco picks first-order deltas for random walks and jittered
///   timestamps and second-order for smooth signals; any fixed order loses on one of them
///   (first order on sines costs 22% more, second order on random walks 5%). Lookback never
///   won. Conv1 is tried on top by [`encode_signal`] for 32-bit numbers.
/// - Automatic mode. It finds the interval of jittered timestamps (`IntMult`), which halves them
///   against `Classic`; floats with decimals do not come here but go to the decimal codec.
/// - One page per column: a block is decoded whole, and each page would repeat its delta state.
///
/// [`Effort::Quick`] (the head's sealed chunks) takes level [`QUICK_LEVEL`], the classic mode
/// and first-order deltas: most of pco's encoding time at the default goes to choosing bins
/// and sampling modes, which a chunk re-encoded at the flush does not need.
pub(crate) fn config(count: usize, effort: Effort) -> ChunkConfig {
    let config = ChunkConfig::default().with_paging_spec(PagingSpec::Exact(vec![count]));
    match effort {
        Effort::Thorough => config
            .with_compression_level(pco::DEFAULT_COMPRESSION_LEVEL)
            .with_mode_spec(ModeSpec::Auto)
            .with_delta_spec(DeltaSpec::Auto),
        Effort::Quick => config
            .with_compression_level(QUICK_LEVEL)
            .with_mode_spec(ModeSpec::Classic)
            .with_delta_spec(DeltaSpec::TryConsecutive(1)),
    }
}

/// pco's compression level for [`Effort::Quick`].
const QUICK_LEVEL: usize = 2;

/// Appends the pco payload for `values` (at least one) to `out`.
pub(crate) fn encode<T: Number>(
    element: Element,
    values: &[T],
    config: &ChunkConfig,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let failed = |e: pco::errors::PcoError| Error::Encode {
        column: element.name(),
        detail: e.to_string(),
    };
    let file = FileCompressor::default();
    file.write_header(&mut *out).map_err(failed)?;
    let mut chunk = file.chunk_compressor(values, config).map_err(failed)?;
    chunk.write_meta(&mut *out).map_err(failed)?;
    chunk.write_page(0, &mut *out).map_err(failed)?;
    Ok(())
}

/// The order of the Conv1 predictor tried on 32-bit signals: pco decodes order 6 fastest.
const CONV1_ORDER: usize = 6;

/// Conv1 is kept only when it saves at least this share of the bytes of pco's automatic choice,
/// as it decodes at about half the speed: the hw block of 12-bit readings decodes at 136M
/// values/s with it against 233M without (`benches/codec.rs`), still above the 100M budget.
const CONV1_MIN_SAVING: f64 = 0.10;

/// Blocks shorter than this are not worth fitting a predictor to.
const CONV1_MIN_VALUES: usize = 1_024;

/// pco 1.1 encodes Conv1 in batches of this many numbers and panics (slice index out of range)
/// when the last batch is shorter than the predictor's order, e.g. for 1,025 to 1,029 numbers.
/// Such lengths are not given Conv1; `conv1_is_never_tried_where_pco_would_panic` guards this.
const CONV1_ENCODE_BATCH: usize = 512;

/// Whether pco can safely fit Conv1 to `count` numbers and it is worth trying.
fn conv1_worth_trying(count: usize) -> bool {
    let last_batch = count % CONV1_ENCODE_BATCH;
    count >= CONV1_MIN_VALUES && (last_batch == 0 || last_batch >= CONV1_ORDER)
}

/// Like [`encode`] with [`config`], but for 32-bit numbers also tries Conv1 delta encoding (a
/// linear predictor fitted to the block) and keeps it when it is markedly smaller.
///
/// Smooth signals (sines, slow analog readings) are where a predictor beats plain deltas: on the
/// hw data set's 12-bit readings and 2-decimal sines it stores 14–16% fewer bytes. Random walks
/// gain nothing and keep the faster encoding. pco offers Conv1 only for 32-bit latents, which is
/// one more reason decimals are scaled to `i32` when they fit.
///
/// With [`Order::None`] or [`Effort::Quick`] Conv1 is not tried: the same format, encoded once.
///
/// Blocks of fewer than [`SMALL_BLOCK`] numbers take [`small_config`] rather than pco's search.
pub(crate) fn encode_signal<T: Number + Ordered>(
    element: Element,
    values: &[T],
    order: Order,
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if effort == Effort::Thorough && values.len() < SMALL_BLOCK {
        return encode(element, values, &small_config(values), out);
    }
    let start = out.len();
    encode(element, values, &config(values.len(), effort), out)?;
    if order == Order::None
        || effort == Effort::Quick
        || size_of::<T>() != 4
        || !conv1_worth_trying(values.len())
    {
        return Ok(());
    }
    let automatic = out.len() - start;
    let mut predicted = Vec::with_capacity(automatic);
    let conv1 = config(values.len(), effort).with_delta_spec(DeltaSpec::TryConv1(CONV1_ORDER));
    // pco refuses Conv1 for some number types; the automatic encoding then stands.
    if encode(element, values, &conv1, &mut predicted).is_ok()
        && (predicted.len() as f64) <= automatic as f64 * (1.0 - CONV1_MIN_SAVING)
    {
        out.truncate(start);
        out.extend_from_slice(&predicted);
    }
    Ok(())
}

/// Blocks of fewer numbers than this skip pco's search for a mode and a delta order: a series
/// of ten points (one flushed every few minutes, or one of a million short series) spent five
/// times as long in the search as in the encoding, for at most a few bytes of a block.
const SMALL_BLOCK: usize = 64;

/// The configuration of a block of fewer than [`SMALL_BLOCK`] numbers: pco's default level
/// and classic mode, with the delta order [`small_delta_order`] picks. Measured on blocks of
/// 10 to 63 numbers (random walks, noise, sines, constants, jittered timestamps, multiples of
/// five), it stores as few bytes as the search or fewer, in a fifth to a quarter of the time.
fn small_config<T: Ordered>(values: &[T]) -> ChunkConfig {
    let delta = match small_delta_order(values) {
        0 => DeltaSpec::NoOp,
        k => DeltaSpec::TryConsecutive(k),
    };
    ChunkConfig::default()
        .with_paging_spec(PagingSpec::Exact(vec![values.len()]))
        .with_compression_level(pco::DEFAULT_COMPRESSION_LEVEL)
        .with_mode_spec(ModeSpec::Classic)
        .with_delta_spec(delta)
}

/// The delta order, 0 to 2, for a block of fewer than [`SMALL_BLOCK`] numbers: the one whose
/// numbers (after that many differences) lie closest to their median, in bits summed over the
/// block (pco's bins are as wide as what they hold, so a few outliers cost only themselves),
/// each order costing one number more (pco keeps its state).
fn small_delta_order<T: Ordered>(values: &[T]) -> usize {
    debug_assert!(values.len() < SMALL_BLOCK);
    let n = values.len().min(SMALL_BLOCK);
    let mut seq = [0u64; SMALL_BLOCK];
    for (d, v) in seq.iter_mut().zip(values) {
        *d = v.ordered();
    }
    let width = 8 * size_of::<T>() as u64;
    let mut best = (median_distance_bits(&seq[..n]), 0);
    for order in 1..=2 {
        if n <= order {
            break;
        }
        for i in (order..n).rev() {
            seq[i] = seq[i].wrapping_sub(seq[i - 1]);
        }
        let cost = median_distance_bits(&seq[order..n]) + width * order as u64;
        if cost < best.0 {
            best = (cost, order);
        }
    }
    best.1
}

/// The bits of the distances of `seq`'s numbers (read as signed: differences wrap) to their
/// median, summed.
fn median_distance_bits(seq: &[u64]) -> u64 {
    let mut sorted = [0i64; SMALL_BLOCK];
    let sorted = &mut sorted[..seq.len()];
    for (s, &d) in sorted.iter_mut().zip(seq) {
        *s = d as i64;
    }
    sorted.sort_unstable();
    let median = i128::from(sorted[sorted.len() / 2]);
    sorted
        .iter()
        .map(|&d| u64::from(128 - (i128::from(d) - median).unsigned_abs().leading_zeros()))
        .sum()
}

/// A number as an unsigned integer in the same order, as pco sees it (its latent): differences
/// of these are what pco's delta encoding stores.
pub(crate) trait Ordered: Copy {
    fn ordered(self) -> u64;
}

macro_rules! ordered_signed {
    ($($t:ty => $u:ty),*) => {$(
        impl Ordered for $t {
            fn ordered(self) -> u64 {
                // Flipping the sign bit keeps the order.
                u64::from(self as $u ^ (1 << (<$u>::BITS - 1)))
            }
        }
    )*};
}
ordered_signed!(i32 => u32, i64 => u64);

impl Ordered for u32 {
    fn ordered(self) -> u64 {
        u64::from(self)
    }
}

impl Ordered for u64 {
    fn ordered(self) -> u64 {
        self
    }
}

macro_rules! ordered_floats {
    ($($t:ty => $u:ty),*) => {$(
        impl Ordered for $t {
            fn ordered(self) -> u64 {
                let bits = self.to_bits();
                let sign = 1 << (<$u>::BITS - 1);
                u64::from(if bits & sign != 0 { !bits } else { bits | sign })
            }
        }
    )*};
}
ordered_floats!(f32 => u32, f64 => u64);

/// Decodes a pco payload of exactly `count` values (at least one), appending them to `out`.
pub(crate) fn decode_into<T: Number>(
    element: Element,
    payload: &[u8],
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), Error> {
    let corrupt = |e: pco::errors::PcoError| Error::corrupt(element, format!("pco payload: {e}"));
    let (file, rest) = FileDecompressor::new(payload).map_err(corrupt)?;
    let (mut chunk, rest) = file.chunk_decompressor::<T, _>(rest).map_err(corrupt)?;
    let mut page = chunk.page_decompressor(rest, count).map_err(corrupt)?;
    let start = out.len();
    out.resize(start + count, T::default());
    let progress = page.read(&mut out[start..]).map_err(|e| {
        out.truncate(start);
        corrupt(e)
    })?;
    let rest = page.into_src();
    if progress.n_processed != count || !progress.finished {
        out.truncate(start);
        return Err(Error::corrupt(
            element,
            format!(
                "pco page ended after {} of {count} values",
                progress.n_processed
            ),
        ));
    }
    if !rest.is_empty() {
        out.truncate(start);
        return Err(Error::trailing(element, rest));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pco::metadata::DeltaEncoding;

    use super::*;

    /// The delta encoding pco recorded in a payload.
    fn delta_encoding<T: Number>(payload: &[u8]) -> DeltaEncoding {
        let (file, rest) = FileDecompressor::new(payload).unwrap();
        let (chunk, _) = file.chunk_decompressor::<T, _>(rest).unwrap();
        chunk.meta().delta_encoding.clone()
    }

    #[test]
    fn conv1_is_kept_only_where_it_pays() {
        let sine: Vec<i32> = (0..16_384)
            .map(|i| (1_800.0 * (f64::from(i) * 0.01).sin()).round() as i32)
            .collect();
        let mut walk = vec![0i32];
        for i in 1..16_384u32 {
            let step = (i.wrapping_mul(2_654_435_761) >> 24) as i32 - 128;
            walk.push(walk[walk.len() - 1] + step);
        }
        let short_sine = sine[..1_000].to_vec();
        let cases: [(&str, Vec<i32>, bool); 3] = [
            ("smooth sine", sine, true),
            ("random walk", walk, false),
            ("too short to fit", short_sine, false),
        ];
        for (name, values, expect_conv1) in cases {
            let mut out = Vec::new();
            encode_signal(
                Element::Int32,
                &values,
                Order::Time,
                Effort::Thorough,
                &mut out,
            )
            .unwrap();
            let conv1 = matches!(delta_encoding::<i32>(&out), DeltaEncoding::Conv1(_));
            assert_eq!(conv1, expect_conv1, "{name}");
            let mut decoded: Vec<i32> = Vec::new();
            decode_into(Element::Int32, &out, values.len(), &mut decoded).unwrap();
            assert_eq!(decoded, values, "{name}");
        }
    }

    #[test]
    fn conv1_is_never_tried_where_pco_would_panic() {
        let lengths = [
            1_024, 1_025, 1_029, 1_030, 1_536, 1_537, 1_541, 1_542, 16_384, 16_385,
        ];
        for len in lengths {
            let sine: Vec<i32> = (0..len)
                .map(|i| (1_800.0 * (i as f64 * 0.01).sin()).round() as i32)
                .collect();
            let mut out = Vec::new();
            encode_signal(
                Element::Int32,
                &sine,
                Order::Time,
                Effort::Thorough,
                &mut out,
            )
            .unwrap();
            let conv1 = matches!(delta_encoding::<i32>(&out), DeltaEncoding::Conv1(_));
            assert_eq!(conv1, conv1_worth_trying(len), "{len} values");
        }
        let cases = [
            (1_023, false),
            (1_024, true),
            (1_025, false),
            (1_029, false),
            (1_030, true),
            (16_384, true),
        ];
        for (count, expected) in cases {
            assert_eq!(conv1_worth_trying(count), expected, "{count}");
        }
    }

    /// Short blocks of several shapes, as the integers pco sees.
    fn short_blocks(len: usize) -> Vec<(&'static str, Vec<i64>)> {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as i64
        };
        let t0 = 1_767_225_600_000_000_000i64;
        let mut walk = vec![5_000];
        for _ in 1..len {
            walk.push((walk[walk.len() - 1] + next() % 201 - 100).clamp(0, 10_000));
        }
        let steps = |f: &mut dyn FnMut(i64) -> i64| (0..len as i64).map(f).collect::<Vec<_>>();
        vec![
            ("random walk", walk),
            ("noise", steps(&mut |_| next() % 4_096)),
            (
                "sine",
                steps(&mut |i| (1_000.0 * (i as f64 / 20.0).sin()) as i64),
            ),
            ("constant", steps(&mut |_| 42)),
            ("multiples of five", steps(&mut |_| 5 * (next() % 1_000))),
            (
                "jittered timestamps",
                steps(&mut |i| t0 + i * 10_000_000_000 + next() % 2_000_000),
            ),
            (
                "timestamps with a late one",
                steps(&mut |i| t0 + i * 10_000_000_000 + if i == 3 { 4_000_000 } else { 0 }),
            ),
            ("one value", vec![-3; len.min(1)]),
        ]
    }

    #[test]
    fn short_blocks_skip_the_search_for_as_few_bytes() {
        for len in [1, 2, 3, 10, 30, SMALL_BLOCK - 1] {
            for (shape, values) in short_blocks(len) {
                let mut out = Vec::new();
                encode_signal(
                    Element::Int64,
                    &values,
                    Order::Time,
                    Effort::Thorough,
                    &mut out,
                )
                .unwrap();
                let mut searched = Vec::new();
                encode(
                    Element::Int64,
                    &values,
                    &config(values.len(), Effort::Thorough),
                    &mut searched,
                )
                .unwrap();
                // Never more than a few bytes over pco's own choice (measured: at most 2% on
                // 63 numbers, and fewer bytes on most shapes).
                assert!(
                    out.len() <= searched.len() + searched.len() / 20 + 2,
                    "{shape}, {len} numbers: {} bytes against {} with the search",
                    out.len(),
                    searched.len()
                );
                let mut decoded: Vec<i64> = Vec::new();
                decode_into(Element::Int64, &out, values.len(), &mut decoded).unwrap();
                assert_eq!(decoded, values, "{shape}, {len} numbers");
            }
        }
    }

    #[test]
    fn short_blocks_take_the_delta_order_that_fits() {
        let line: Vec<i64> = (0..20).map(|i| 1_000 + 7 * i).collect();
        let parabola: Vec<i64> = (0..20).map(|i| i * i * 1_000).collect();
        let noise: Vec<i64> = (0..20).map(|i| (i * 7_919) % 101).collect();
        assert_eq!(small_delta_order(&line), 1);
        assert_eq!(small_delta_order(&parabola), 2);
        assert_eq!(small_delta_order(&noise), 0);
        // Orders keep the sign: a falling line is as regular as a rising one.
        let falling: Vec<i64> = line.iter().map(|v| -v).collect();
        assert_eq!(small_delta_order(&falling), 1);
        for (a, b) in [
            (-1.5f64, 2.0),
            (-0.0, 0.0),
            (1.0, 1.5),
            (f64::MIN, f64::MAX),
        ] {
            assert!(a.ordered() <= b.ordered(), "{a} {b}");
        }
        assert!((-1i32).ordered() < 0i32.ordered() && 0u32.ordered() < u32::MAX.ordered());
    }
}
