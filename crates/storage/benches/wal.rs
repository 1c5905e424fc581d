//! Write-path benchmarks.
//!
//! - `wal_append/<n>`: appends per second of small batches (10 points) with `n` concurrent
//!   writers under `SyncMode::Always`: every append waits for an fdatasync, so this shows what
//!   group commit buys as writers are added.
//! - `ingest/<mode>/<n>`: points per second through `Db::write` with 1000-point batches
//!   (10 series × 100 points), WAL and head included, with `n` writer threads. Building the
//!   batches is included, as a front end would pay it too.
//! - `replay`: points per second replayed into the head by `Db::open` (restart time).
//!
//! Run with `cargo bench -p sextant-storage --bench wal -- --warm-up-time 1 --measurement-time 3`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_model::{DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value, WriteBatch};
use sextant_storage::wal::{SyncMode, Wal, WalConfig};
use sextant_storage::{Db, DbConfig};

/// A batch of `series` series × `points` points for writer `writer`, starting at `start`.
fn batch(writer: usize, series: usize, points: usize, start: i64) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(1));
    for s in 0..series {
        let key = SeriesKey::new(
            "bench.velocity",
            [("writer", writer.to_string()), ("channel", s.to_string())],
        )
        .unwrap();
        let pts = (0..points as i64)
            .map(|i| Point::new(start + i, Value::Double((start + i) as f64 * 0.25)))
            .collect();
        b.push(key, DataType::Double, pts);
    }
    b.validate().unwrap()
}

/// Runs `total` operations split over `writers` threads and returns the elapsed time.
fn run_parallel(writers: usize, total: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let op = &op;
            let share = total / writers as u64 + u64::from((w as u64) < total % writers as u64);
            s.spawn(move || {
                for i in 0..share {
                    op(w, i);
                }
            });
        }
    });
    start.elapsed()
}

fn wal_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_append");
    group.throughput(Throughput::Elements(1));
    for writers in [1usize, 4, 16] {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), WalConfig::default(), |_, _| Ok(())).unwrap();
        let batches: Vec<_> = (0..writers).map(|w| batch(w, 1, 10, 0)).collect();
        group.bench_function(writers.to_string(), |b| {
            b.iter_custom(|iters| {
                run_parallel(writers, iters, |w, _| {
                    wal.append(&batches[w]).unwrap();
                })
            })
        });
    }
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1000));
    let modes = [
        ("always", SyncMode::Always, 1usize),
        ("always", SyncMode::Always, 4),
        (
            "relaxed",
            SyncMode::Relaxed {
                interval: Duration::from_millis(100),
            },
            1,
        ),
    ];
    for (name, sync, writers) in modes {
        let dir = tempfile::tempdir().unwrap();
        let config = DbConfig {
            wal: WalConfig {
                sync,
                ..WalConfig::default()
            },
            ..DbConfig::default()
        };
        let db = Db::open(dir.path(), config).unwrap();
        let clocks: Arc<Vec<AtomicI64>> =
            Arc::new((0..writers).map(|_| AtomicI64::new(0)).collect());
        group.bench_function(format!("{name}/{writers}"), |b| {
            b.iter_custom(|iters| {
                run_parallel(writers, iters, |w, _| {
                    let start = clocks[w].fetch_add(100, Ordering::Relaxed);
                    db.write(batch(w, 10, 100, start)).unwrap();
                })
            })
        });
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    const BATCHES: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let relaxed = DbConfig {
        wal: WalConfig {
            sync: SyncMode::Relaxed {
                interval: Duration::from_secs(1),
            },
            ..WalConfig::default()
        },
        ..DbConfig::default()
    };
    let db = Db::open(dir.path(), relaxed).unwrap();
    for i in 0..BATCHES {
        db.write(batch(0, 10, 100, i as i64 * 100)).unwrap();
    }
    db.close().unwrap();

    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements((BATCHES * 1000) as u64));
    group.sample_size(10);
    group.bench_function("200k_points", |b| {
        b.iter(|| Db::open(dir.path(), DbConfig::default()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, wal_append, ingest, replay);
criterion_main!(benches);
