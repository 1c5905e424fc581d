//! Bytes the write-ahead log writes per point, with and without payload compression, for a
//! batch shaped like the harness's W1 (CPU metrics of many hosts, one point per series per
//! request), and the CPU time of appending.
//!
//! `cargo run --release -p sextant-storage --example wal_bytes_per_point`

use std::time::{Duration, Instant};

use sextant_model::{DataType, OrgId, Point, SeriesKey, ValidatedBatch, Value, WriteBatch};
use sextant_storage::wal::{SyncMode, Wal, WalConfig};

const HOSTS: usize = 100;
const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
const REQUESTS: usize = 300;

/// One request: every host's ten fields at one timestamp, values a slow random walk.
fn request(i: usize, state: &mut [f64]) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(1));
    let t = 1_700_000_000_000_000_000 + i as i64 * 10_000_000_000;
    for h in 0..HOSTS {
        for (f, field) in FIELDS.iter().enumerate() {
            let slot = &mut state[h * FIELDS.len() + f];
            // A deterministic wobble in [0, 100), rounded as collectors report it.
            *slot = (*slot + ((i * 31 + h * 7 + f * 13) % 17) as f64 - 8.0).rem_euclid(100.0);
            let value = (*slot * 100.0).round() / 100.0;
            let key = SeriesKey::new(
                format!("cpu_{field}"),
                [
                    ("host", format!("host_{h}")),
                    ("region", format!("eu-west-{}", h % 3)),
                    (
                        "datacenter",
                        format!("eu-west-{}{}", h % 3, ["a", "b", "c"][h % 3]),
                    ),
                    ("rack", (h % 20).to_string()),
                    ("os", "Ubuntu16.04LTS".to_owned()),
                    ("cpu", "cpu-total".to_owned()),
                ],
            )
            .expect("key");
            b.push(
                key,
                DataType::Double,
                vec![Point::new(t, Value::Double(value))],
            );
        }
    }
    b.validate().expect("batch")
}

fn main() {
    let mut state = vec![50.0; HOSTS * FIELDS.len()];
    let batches: Vec<ValidatedBatch> = (0..REQUESTS).map(|i| request(i, &mut state)).collect();
    let points = (REQUESTS * HOSTS * FIELDS.len()) as f64;
    for compress in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = WalConfig {
            sync: SyncMode::Relaxed {
                interval: Duration::from_secs(60),
            },
            compress,
            ..WalConfig::default()
        };
        let wal = Wal::open(dir.path(), config, |_, _| Ok(())).expect("open");
        let start = Instant::now();
        for b in &batches {
            wal.append(b).expect("append");
        }
        let elapsed = start.elapsed();
        let bytes = wal.stats().bytes as f64;
        println!(
            "compress {compress:5}: {:6.1} bytes/point, {:6.0} ns/point appending ({} points)",
            bytes / points,
            elapsed.as_nanos() as f64 / points,
            points
        );
    }
}
