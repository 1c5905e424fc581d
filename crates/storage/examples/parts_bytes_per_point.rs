//! Bytes per point on disk, everything included, for the generated cpu and hw data sets.
//!
//! Each data set is written through [`Db::write`] into an empty data directory, all series
//! advancing together a slice of time per round as live ingest would, flushed into parts, and the size of every file left in the data directory (parts with their indexes and
//! footers, and the WAL's empty open segment) is divided by the number of points. The WAL runs
//! in relaxed sync mode: durability does not change what ends up on disk, only how long the
//! load takes.
//!
//! ```text
//! cargo run --release -p sextant-storage --features testdata --example parts_bytes_per_point
//! cargo run --release -p sextant-storage --features testdata --example parts_bytes_per_point -- --flush-every 1000000
//! ```
//!
//! With `--flush-every N` the head is flushed after every N points written, as a memory-bound
//! flush would, so a partition ends up in many small parts; the figure is printed for those
//! parts, then again after merging each partition into one.

use std::path::Path;
use std::time::{Duration, Instant};

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::codec::Column;
use sextant_storage::codec::testdata::{self, Series};
use sextant_storage::head::HeadConfig;
use sextant_storage::wal::{SyncMode, WalConfig};
use sextant_storage::{Db, DbConfig, PartsConfig};

/// Points per write batch.
const BATCH_POINTS: usize = 50_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flush_every = args
        .iter()
        .position(|a| a == "--flush-every")
        .and_then(|i| args.get(i + 1))
        .map(|n| {
            n.parse::<usize>()
                .expect("--flush-every takes a number of points")
        });
    let datasets: [(&str, Box<dyn Iterator<Item = Series>>); 2] = [
        ("cpu", Box::new(testdata::cpu())),
        ("hw", Box::new(testdata::hw())),
    ];
    if flush_every.is_some() {
        println!("(* = after merging each partition into one part)");
    }
    println!(
        "{:<4} {:>11} {:>13} {:>12} {:>6} {:>14} {:>10}",
        "set", "points", "bytes on disk", "bytes/point", "parts", "write points/s", "flush s"
    );
    for (name, series) in datasets {
        let dir = tempfile::tempdir().expect("temporary directory");
        measure(name, series, dir.path(), flush_every);
    }
}

fn measure(
    name: &str,
    series: impl Iterator<Item = Series>,
    dir: &Path,
    flush_every: Option<usize>,
) {
    let config = DbConfig {
        wal: WalConfig {
            sync: SyncMode::Relaxed {
                interval: Duration::from_secs(1),
            },
            ..WalConfig::default()
        },
        head: HeadConfig {
            // Series are written a slice of time at a time, in order: the window never matters.
            out_of_order_window: Duration::from_secs(3600),
            ..HeadConfig::default()
        },
        parts: PartsConfig {
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    };
    let db = Db::open(dir, config).expect("open the store");
    let series: Vec<(SeriesKey, Series)> = series
        .map(|s| {
            let (metric, labels) = match s.name.split_once('.') {
                Some((host, metric)) => (metric.to_owned(), vec![("host", host.to_owned())]),
                None => (s.name.clone(), vec![("asset", "NostromoLV426".to_owned())]),
            };
            (SeriesKey::new(metric, labels).expect("series key"), s)
        })
        .collect();
    let points: usize = series.iter().map(|(_, s)| s.timestamps.len()).sum();
    let longest = series
        .iter()
        .map(|(_, s)| s.timestamps.len())
        .max()
        .unwrap_or(0);
    // Every series advances together, a slice of time per round, as live ingest does, so that
    // a flush cuts every series at the same moment.
    let window = (BATCH_POINTS / series.len().max(1)).max(1);
    let mut unflushed = 0;
    let started = Instant::now();
    for start in (0..longest).step_by(window) {
        for (key, s) in &series {
            let end = (start + window).min(s.timestamps.len());
            if start >= end {
                continue;
            }
            let chunk = (start..end)
                .map(|i| Point::new(s.timestamps[i], value_at(&s.values, i)))
                .collect();
            write(&db, key, s.values.data_type(), chunk);
            unflushed += end - start;
        }
        if flush_every.is_some_and(|n| unflushed >= n) {
            db.flush().expect("flush");
            unflushed = 0;
        }
    }
    let write_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    db.flush().expect("flush");
    let flush_secs = started.elapsed().as_secs_f64();
    let report = |label: &str, db: &Db| {
        let bytes = dir_bytes(dir);
        println!(
            "{label:<4} {points:>11} {bytes:>13} {:>12.3} {:>6} {:>14.0} {flush_secs:>10.1}",
            bytes as f64 / points as f64,
            db.parts().len(),
            points as f64 / write_secs,
        );
    };
    db.wal().sync().expect("sync");
    report(name, &db);
    if db.parts().len() > 1 {
        db.merge(2).expect("merge");
        report(&format!("{name}*"), &db);
    }
    db.close().expect("close");
}

fn write(db: &Db, key: &SeriesKey, data_type: DataType, points: Vec<Point>) {
    let mut b = WriteBatch::new(OrgId(1));
    b.push(key.clone(), data_type, points);
    db.write(b.validate().expect("valid batch")).expect("write");
}

fn value_at(column: &Column, i: usize) -> Value {
    match column {
        Column::Double(v) => Value::Double(v[i]),
        Column::Float(v) => Value::Float(v[i]),
        Column::Int32(v) => Value::Int32(v[i]),
        Column::Int64(v) => Value::Int64(v[i]),
        Column::Uint32(v) => Value::Uint32(v[i]),
        Column::Uint64(v) => Value::Uint64(v[i]),
        Column::Bool(v) => Value::Bool(v[i]),
        Column::Enum(v) => Value::Enum(v[i]),
        Column::BitField(v) => Value::BitField(v[i]),
        Column::String(v) => Value::String(v[i].clone()),
        Column::Bytes(v) => Value::Bytes(v[i].clone()),
    }
}

/// The total size of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("list directory")
        .map(|e| {
            let e = e.expect("directory entry");
            let meta = e.metadata().expect("file metadata");
            if meta.is_dir() {
                dir_bytes(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}
