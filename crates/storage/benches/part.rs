//! Part benchmarks: points per second from the head into parts, and back.
//!
//! - `flush`: points per second written by `Db::flush` (freeze, encode, write, fsync, rename),
//!   for 100 series × 16,384 sine-and-noise doubles at 1 kHz, regular timestamps.
//! - `read/parts`: points per second returned by `Db::read` of one whole series held in one
//!   part (block reads, CRC checks, decoding, conversion to points).
//! - `read/head_and_parts`: the same series with half its points overwritten in the head, so
//!   the read merges two sources.
//!
//! Run with `cargo bench -p sextant-storage --bench part -- --warm-up-time 1 --measurement-time 3`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_model::{DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value, WriteBatch};
use sextant_storage::head::HeadConfig;
use sextant_storage::{Db, DbConfig, PartsConfig};

const SERIES: usize = 100;
const POINTS: usize = 16_384;

fn key(s: usize) -> SeriesKey {
    SeriesKey::new("bench.sensor", [("channel", s.to_string())]).unwrap()
}

/// `points` points of series `s` from point `from` on: a sine with a little noise, 2 decimals.
fn batch(s: usize, from: usize, points: usize) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(1));
    let pts = (from..from + points)
        .map(|i| {
            let x = i as f64 / 1000.0;
            let noise = ((i * 7919 + s * 104_729) % 13) as f64 / 100.0;
            let v = ((x * (1.0 + s as f64 / 10.0)).sin() * 50.0 + noise) * 100.0;
            Point::new(i as i64 * 1_000_000, Value::Double(v.round() / 100.0))
        })
        .collect();
    b.push(key(s), DataType::Double, pts);
    b.validate().unwrap()
}

fn config() -> DbConfig {
    DbConfig {
        head: HeadConfig {
            out_of_order_window: Duration::from_secs(86_400),
            ..HeadConfig::default()
        },
        parts: PartsConfig {
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    }
}

fn flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("flush");
    group.throughput(Throughput::Elements((SERIES * POINTS) as u64));
    group.sample_size(10);
    group.bench_function("100x16k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let db = Db::open(dir.path(), config()).unwrap();
                for s in 0..SERIES {
                    db.write(batch(s, 0, POINTS)).unwrap();
                }
                let started = Instant::now();
                db.flush().unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config()).unwrap();
    for s in 0..SERIES {
        db.write(batch(s, 0, POINTS)).unwrap();
    }
    db.flush().unwrap();
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("parts", |b| {
        b.iter(|| {
            let points = db.read(OrgId(1), &key(7), i64::MIN..i64::MAX).unwrap();
            assert_eq!(points.len(), POINTS);
        })
    });
    db.write(batch(7, POINTS / 2, POINTS / 2)).unwrap();
    group.bench_function("head_and_parts", |b| {
        b.iter(|| {
            let points = db.read(OrgId(1), &key(7), i64::MIN..i64::MAX).unwrap();
            assert_eq!(points.len(), POINTS);
        })
    });
    group.finish();
}

criterion_group!(benches, flush, read);
criterion_main!(benches);
