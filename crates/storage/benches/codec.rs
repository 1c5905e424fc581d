//! Encode and decode throughput of the column codecs, in points per second, on 16k-point blocks
//! of the generated data sets.
//!
//! ```text
//! cargo bench -p sextant-storage --features testdata --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_storage::codec::testdata::{self, BLOCK_POINTS, Rng, Series};
use sextant_storage::codec::{self, Column};

/// The values of the first block of the first series of `data_set` whose values satisfy
/// `selects` (16k points for hw, a whole 8,640-point series for cpu).
fn first_block(mut data_set: impl Iterator<Item = Series>, selects: fn(&Column) -> bool) -> Column {
    let series = data_set
        .find(|s| selects(&s.values))
        .expect("the data set has such a series");
    series.blocks().swap_remove(0).1
}

fn bench_timestamps(c: &mut Criterion) {
    // Exactly regular (stored as first and interval) and jittered (stored through pco).
    let regular: Vec<i64> = (0..BLOCK_POINTS as i64)
        .map(|i| START_NS + i * 1_000_000)
        .collect();
    let mut rng = Rng::new(11);
    let jittered: Vec<i64> = (0..BLOCK_POINTS as i64)
        .map(|i| {
            let jitter = if rng.chance(0.01) {
                (rng.range(-1.0, 1.0) * 5e6) as i64
            } else {
                0
            };
            START_NS + i * 10_000_000_000 + jitter
        })
        .collect();
    let mut group = c.benchmark_group("timestamps");
    for (label, timestamps) in [("1ms_regular", &regular), ("10s_jittered", &jittered)] {
        group.throughput(Throughput::Elements(timestamps.len() as u64));
        let mut encoded = Vec::new();
        group.bench_function(format!("encode/{label}"), |b| {
            b.iter(|| {
                encoded.clear();
                codec::encode_timestamps(black_box(timestamps), &mut encoded).unwrap();
            })
        });
        let mut decoded = Vec::with_capacity(timestamps.len());
        group.bench_function(format!("decode/{label}"), |b| {
            b.iter(|| {
                decoded.clear();
                codec::decode_timestamps_into(black_box(&encoded), &mut decoded).unwrap();
            })
        });
    }
    group.finish();
}

/// 2026-01-01T00:00:00Z in nanoseconds.
const START_NS: i64 = 1_767_225_600_000_000_000;

fn bench_values(c: &mut Criterion) {
    let cpu_double = first_block(testdata::cpu(), |_| true);
    let hw_double = first_block(testdata::hw(), |v| matches!(v, Column::Double(_)));
    let hw_int32 = first_block(testdata::hw(), |v| matches!(v, Column::Int32(_)));
    let mut group = c.benchmark_group("values");
    for (label, values) in [
        ("f64/cpu", &cpu_double),
        ("f64/hw", &hw_double),
        ("i32/hw", &hw_int32),
    ] {
        group.throughput(Throughput::Elements(values.len() as u64));
        let mut encoded = Vec::new();
        group.bench_function(format!("encode/{label}"), |b| {
            b.iter(|| {
                encoded.clear();
                codec::encode(black_box(values), &mut encoded).unwrap();
            })
        });
        let mut decoded = Column::new(values.data_type());
        group.bench_function(format!("decode/{label}"), |b| {
            b.iter(|| {
                decoded.clear();
                codec::decode_into(black_box(&encoded), &mut decoded).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_timestamps, bench_values);
criterion_main!(benches);
