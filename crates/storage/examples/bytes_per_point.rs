//! Bytes per point of the column codecs on the generated cpu and hw data sets.
//!
//! Each series is cut into blocks of up to 16k points; every block's timestamp and value
//! columns are encoded as a part writer would, and the encoded bytes (headers included, part
//! framing not) are divided by the number of points. Beside each figure stands pco's standalone
//! format with its default configuration on the same blocks, the baseline the codecs must beat.
//!
//! ```text
//! cargo run --release -p sextant-storage --features testdata --example bytes_per_point
//! cargo run --release -p sextant-storage --features testdata --example bytes_per_point -- --configs
//! ```
//!
//! `--configs` instead compares pco configurations per column kind, with timestamps that have
//! jitter, which is how the codecs' configuration was chosen.

use std::collections::BTreeMap;
use std::time::Instant;

use pco::data_types::Number;
use pco::{ChunkConfig, DeltaSpec, ModeSpec, PagingSpec};
use sextant_storage::codec::testdata::{self, BLOCK_POINTS, Rng, Series};
use sextant_storage::codec::{self, Column};

/// Generates a data set one series at a time.
type Generator = fn() -> Box<dyn Iterator<Item = Series>>;

/// Whether a series' values belong to a column kind.
type Selects = fn(&Column) -> bool;

fn main() {
    let configs = std::env::args().any(|arg| arg == "--configs");
    let datasets: [(&str, Generator); 2] = [
        ("cpu", || Box::new(testdata::cpu())),
        ("hw", || Box::new(testdata::hw())),
    ];
    for (name, generate) in datasets {
        if configs {
            compare_configs(name, generate());
        } else {
            report(name, generate());
        }
    }
    if configs {
        compare_timestamp_configs();
    }
}

#[derive(Default)]
struct Tally {
    points: usize,
    ours: usize,
    baseline: usize,
}

fn report(name: &str, series: impl Iterator<Item = Series>) {
    let mut kinds: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let started = Instant::now();
    let mut out = Vec::new();
    for series in series {
        for (timestamps, values) in series.blocks() {
            out.clear();
            codec::encode_timestamps(timestamps, &mut out).expect("timestamps encode");
            let tally = kinds.entry("timestamps").or_default();
            tally.points += timestamps.len();
            tally.ours += out.len();
            tally.baseline += standalone(timestamps);

            out.clear();
            codec::encode(&values, &mut out).expect("values encode");
            assert_eq!(
                codec::decode(values.data_type(), &out).expect("decode"),
                values
            );
            let tally = kinds.entry(values.data_type().as_str()).or_default();
            tally.points += values.len();
            tally.ours += out.len();
            tally.baseline += match &values {
                Column::Double(v) => standalone(v),
                Column::Int32(v) => standalone(v),
                Column::Bool(v) => standalone(&v.iter().map(|&b| u32::from(b)).collect::<Vec<_>>()),
                Column::Enum(v) => standalone(v),
                other => panic!("no baseline for {:?}", other.data_type()),
            };
        }
    }
    let points = kinds["timestamps"].points;
    println!(
        "{name}: {points} points, encoded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {:<12} {:>12} {:>14} {:>14}",
        "column", "values", "bytes/value", "pco default"
    );
    let (mut ours, mut baseline) = (0, 0);
    for (kind, tally) in &kinds {
        println!(
            "  {kind:<12} {:>12} {:>14.4} {:>14.4}",
            tally.points,
            tally.ours as f64 / tally.points as f64,
            tally.baseline as f64 / tally.points as f64
        );
        ours += tally.ours;
        baseline += tally.baseline;
    }
    println!(
        "  bytes/point (timestamps + values): {:.4}   pco default: {:.4}\n",
        ours as f64 / points as f64,
        baseline as f64 / points as f64
    );
}

/// pco's standalone format with its default configuration, the baseline.
fn standalone<T: Number>(values: &[T]) -> usize {
    pco::standalone::simple_compress(values, &ChunkConfig::default())
        .expect("pco compress")
        .len()
}

/// pco's wrapped format with one page, as the codecs write it: the size and the mode and delta
/// encoding pco chose, or why pco refused the configuration. Adds the time a decode takes to
/// `decode_seconds`.
fn wrapped<T: Number>(
    values: &[T],
    config: &ChunkConfig,
    decode_seconds: &mut f64,
) -> Result<(usize, String), String> {
    let mut out = Vec::new();
    let file = pco::wrapped::FileCompressor::default();
    file.write_header(&mut out).map_err(|e| e.to_string())?;
    let config = config
        .clone()
        .with_paging_spec(PagingSpec::Exact(vec![values.len()]));
    let mut chunk = file
        .chunk_compressor(values, &config)
        .map_err(|e| e.to_string())?;
    chunk.write_meta(&mut out).map_err(|e| e.to_string())?;
    chunk.write_page(0, &mut out).map_err(|e| e.to_string())?;
    let meta = chunk.meta();
    let chosen = format!("{:?} {:?}", meta.mode, meta.delta_encoding);
    let mut decoded = vec![T::default(); values.len()];
    let started = Instant::now();
    let (file, rest) =
        pco::wrapped::FileDecompressor::new(out.as_slice()).map_err(|e| e.to_string())?;
    let (mut chunk, rest) = file
        .chunk_decompressor::<T, _>(rest)
        .map_err(|e| e.to_string())?;
    let mut page = chunk
        .page_decompressor(rest, values.len())
        .map_err(|e| e.to_string())?;
    page.read(&mut decoded).map_err(|e| e.to_string())?;
    *decode_seconds += started.elapsed().as_secs_f64();
    assert!(decoded == values, "pco round trip");
    Ok((out.len(), chosen))
}

/// The values of a block of 2-decimal doubles as hundredths, for trying pco on the integers.
fn hundredths(values: &[f64]) -> Vec<i32> {
    values.iter().map(|v| (v * 100.0).round() as i32).collect()
}

/// The codecs' own encoding of a block, for comparison with plain pco configurations.
fn ours(values: &Column, decode_seconds: &mut f64) -> Result<(usize, String), String> {
    let mut out = Vec::new();
    codec::encode(values, &mut out).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let decoded = codec::decode(values.data_type(), &out).map_err(|e| e.to_string())?;
    *decode_seconds += started.elapsed().as_secs_f64();
    drop(decoded);
    Ok((out.len(), format!("codec byte {:#04x}", out[0])))
}

fn candidate_configs(floats: bool) -> Vec<(&'static str, ChunkConfig)> {
    let auto = ChunkConfig::default();
    let mut configs = vec![
        ("level 8, auto (default)", auto.clone()),
        ("level 4, auto", auto.clone().with_compression_level(4)),
        ("level 12, auto", auto.clone().with_compression_level(12)),
        ("no delta", auto.clone().with_delta_spec(DeltaSpec::NoOp)),
        (
            "delta order 1",
            auto.clone().with_delta_spec(DeltaSpec::TryConsecutive(1)),
        ),
        (
            "delta order 2",
            auto.clone().with_delta_spec(DeltaSpec::TryConsecutive(2)),
        ),
        (
            "lookback",
            auto.clone().with_delta_spec(DeltaSpec::TryLookback),
        ),
        (
            "conv1 order 6",
            auto.clone().with_delta_spec(DeltaSpec::TryConv1(6)),
        ),
        (
            "classic mode",
            auto.clone().with_mode_spec(ModeSpec::Classic),
        ),
    ];
    if floats {
        configs.push((
            "float mult 0.01",
            auto.with_mode_spec(ModeSpec::TryFloatMult(0.01)),
        ));
    }
    configs
}

fn compare_configs(name: &str, series: impl Iterator<Item = Series>) {
    let series: Vec<Series> = series.collect();
    println!("{name}: pco configurations, bytes/value (wrapped, one page per block)");
    let kinds: [(&str, Selects); 3] = [
        ("timestamps", |_| true),
        ("double", |c| matches!(c, Column::Double(_))),
        ("int32", |c| matches!(c, Column::Int32(_))),
    ];
    for (kind, selects) in kinds {
        let blocks: Vec<(&[i64], Column)> = series
            .iter()
            .filter(|s| selects(&s.values))
            .flat_map(|s| s.blocks())
            .collect();
        if blocks.is_empty() {
            continue;
        }
        let mut configs: Vec<(&str, Option<ChunkConfig>, bool)> =
            candidate_configs(kind == "double")
                .into_iter()
                .map(|(label, config)| (label, Some(config), false))
                .collect();
        if kind == "double" {
            let auto = ChunkConfig::default();
            configs.push(("hundredths i32, auto", Some(auto.clone()), true));
            configs.push((
                "hundredths i32, conv1 6",
                Some(auto.with_delta_spec(DeltaSpec::TryConv1(6))),
                true,
            ));
        }
        if kind != "timestamps" {
            configs.push(("sextant codec", None, false));
        }
        'configs: for (label, config, scaled) in configs {
            let started = Instant::now();
            let mut decode_seconds = 0.0;
            let (mut bytes, mut points) = (0, 0);
            let mut chosen: BTreeMap<String, usize> = BTreeMap::new();
            for (timestamps, values) in &blocks {
                let d = &mut decode_seconds;
                let encoded = match (kind, values, &config) {
                    (_, values, None) => ours(values, d),
                    ("timestamps", _, Some(config)) => wrapped(timestamps, config, d),
                    (_, Column::Double(v), Some(config)) if scaled => {
                        wrapped(&hundredths(v), config, d)
                    }
                    (_, Column::Double(v), Some(config)) => wrapped(v, config, d),
                    (_, Column::Int32(v), Some(config)) => wrapped(v, config, d),
                    _ => unreachable!("kinds select doubles and int32s"),
                };
                let (size, mode) = match encoded {
                    Ok(encoded) => encoded,
                    Err(e) => {
                        println!("  {kind:<10} {label:<24} refused: {e}");
                        continue 'configs;
                    }
                };
                bytes += size;
                points += timestamps.len();
                *chosen.entry(mode).or_default() += 1;
            }
            let seconds = started.elapsed().as_secs_f64() - decode_seconds;
            let most = chosen
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(m, n)| format!("{m} ×{n}"));
            println!(
                "  {kind:<10} {label:<24} {:>8.4}  encode {:>5.1}M/s  decode {:>6.1}M/s  {}",
                bytes as f64 / points as f64,
                points as f64 / seconds / 1e6,
                points as f64 / decode_seconds / 1e6,
                most.unwrap_or_default()
            );
        }
    }
    println!();
}

fn compare_timestamp_configs() {
    println!("timestamps with jitter: bytes/point (wrapped, 16k-point blocks)");
    let mut rng = Rng::new(7);
    // (label, interval, how often a point is off, how far off at most)
    let shapes: [(&str, i64, f64, i64); 6] = [
        ("10 s regular", 10_000_000_000, 0.0, 0),
        ("10 s, 1% off by ≤5 ms", 10_000_000_000, 0.01, 5_000_000),
        ("10 s, all off by ≤1 ms", 10_000_000_000, 1.0, 1_000_000),
        ("1 ms regular", 1_000_000, 0.0, 0),
        ("1 ms, 1% off by ≤20 µs", 1_000_000, 0.01, 20_000),
        ("1 ms, all off by ≤1 µs", 1_000_000, 1.0, 1_000),
    ];
    for (label, interval, p, max_off) in shapes {
        let timestamps: Vec<i64> = (0..BLOCK_POINTS as i64 * 8)
            .map(|i| {
                let off = if rng.chance(p) {
                    (rng.range(-1.0, 1.0) * max_off as f64) as i64
                } else {
                    0
                };
                1_767_225_600_000_000_000 + i * interval + off
            })
            .collect();
        for (config_label, config) in candidate_configs(false) {
            let mut bytes = 0;
            let mut chosen = String::new();
            for block in timestamps.chunks(BLOCK_POINTS) {
                match wrapped(block, &config, &mut 0.0) {
                    Ok((size, mode)) => {
                        bytes += size;
                        chosen = mode;
                    }
                    Err(e) => {
                        chosen = format!("refused: {e}");
                        bytes = 0;
                        break;
                    }
                }
            }
            println!(
                "  {label:<24} {config_label:<24} {:>8.4}  {chosen}",
                bytes as f64 / timestamps.len() as f64
            );
        }
    }
}
