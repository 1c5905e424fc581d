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
pub(crate) fn encode_signal<T: Number>(
    element: Element,
    values: &[T],
    order: Order,
    effort: Effort,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
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
}
