//! Scan benchmark: points per second covered by `Db::aggregate`.
//!
//! Loads the numeric channels of the hw data set (30 `double` and 10 `int32` channels at
//! 1 kHz for 10 minutes, 24M points; its `bool` and `enum` channels cannot be averaged) with
//! a relaxed WAL, flushes and merges them into one part, then measures a 1-minute average per
//! series over the whole range. Throughput counts the points covered.
//!
//! Run with `cargo bench -p sextant-storage --features testdata --bench scan`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::codec::Column;
use sextant_storage::codec::testdata;
use sextant_storage::head::HeadConfig;
use sextant_storage::wal::{SyncMode, WalConfig};
use sextant_storage::{Agg, Db, DbConfig, PartsConfig};

const MINUTE_NS: i64 = 60_000_000_000;

fn key(name: &str) -> SeriesKey {
    SeriesKey::new(name, [("asset", "NostromoLV426")]).unwrap()
}

fn config() -> DbConfig {
    DbConfig {
        wal: WalConfig {
            sync: SyncMode::Relaxed {
                interval: Duration::from_secs(1),
            },
            ..WalConfig::default()
        },
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

/// Loads the numeric hw channels; returns their keys, the time range and the points held.
fn load(db: &Db) -> (Vec<SeriesKey>, std::ops::Range<i64>, u64) {
    let mut keys = Vec::new();
    let (mut min, mut max, mut points) = (i64::MAX, i64::MIN, 0u64);
    for series in testdata::hw() {
        let (data_type, values): (DataType, Vec<Value>) = match series.values {
            Column::Double(v) => (DataType::Double, v.into_iter().map(Value::Double).collect()),
            Column::Int32(v) => (DataType::Int32, v.into_iter().map(Value::Int32).collect()),
            _ => continue,
        };
        let key = key(&series.name);
        let all: Vec<Point> = series
            .timestamps
            .iter()
            .zip(values)
            .map(|(&t, v)| Point::new(t, v))
            .collect();
        min = min.min(series.timestamps[0]);
        max = max.max(series.timestamps[series.timestamps.len() - 1]);
        points += all.len() as u64;
        for chunk in all.chunks(50_000) {
            let mut b = WriteBatch::new(OrgId(1));
            b.push(key.clone(), data_type, chunk.to_vec());
            db.write(b.validate().unwrap()).unwrap();
        }
        keys.push(key);
        // Flushing per channel keeps the WAL and the head small.
        db.flush().unwrap();
    }
    db.merge(2).unwrap();
    (keys, min..max + 1, points)
}

fn scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config()).unwrap();
    let (keys, range, points) = load(&db);
    let mut group = c.benchmark_group("aggregate");
    group.throughput(Throughput::Elements(points));
    group.sample_size(10);
    group.bench_function("avg_1min_hw_numeric", |b| {
        b.iter(|| {
            let mut buckets = 0;
            for key in &keys {
                let r = db
                    .aggregate(OrgId(1), key, range.clone(), MINUTE_NS, &[Agg::Avg])
                    .unwrap();
                buckets += r.buckets.len();
            }
            buckets
        })
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
