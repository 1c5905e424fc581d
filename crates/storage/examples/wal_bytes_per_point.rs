//! Bytes the write-ahead log writes per point, with and without payload compression, for
//! requests shaped like the harness's W1 (CPU metrics of 100 hosts, ten steps of every series
//! per request of 10,000 points) and W3 (10,000 series of two labels, one point each), and the
//! CPU time of appending.
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
const REQUESTS: usize = 100;
const STEPS: usize = 10;
const T0: i64 = 1_700_000_000_000_000_000;
const STEP_NS: i64 = 10_000_000_000;

/// A step of a random walk in [0, 100] by at most 1.00, in hundredths as collectors report
/// it, drawn from `seed` (as the harness's generator draws its values).
fn wobble(slot: &mut f64, seed: usize) -> f64 {
    let mut z = (seed as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let cents = (*slot * 100.0).round() as i64 + (z % 201) as i64 - 100;
    *slot = cents.clamp(0, 10_000) as f64 / 100.0;
    *slot
}

/// W1's request `i`: ten steps of every host's ten fields.
fn w1_request(i: usize, state: &mut [f64]) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(1));
    for h in 0..HOSTS {
        for (f, field) in FIELDS.iter().enumerate() {
            let slot = &mut state[h * FIELDS.len() + f];
            let points = (0..STEPS)
                .map(|s| {
                    let step = i * STEPS + s;
                    let value = wobble(slot, (step * HOSTS + h) * FIELDS.len() + f);
                    Point::new(T0 + step as i64 * STEP_NS, Value::Double(value))
                })
                .collect();
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
            b.push(key, DataType::Double, points);
        }
    }
    b.validate().expect("batch")
}

/// W3's request `i`: one point of each of 10,000 series, `hc,id=s000123,group=g23`.
fn w3_request(i: usize, state: &mut [f64]) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(1));
    let t = T0 + i as i64 * STEP_NS;
    for (s, slot) in state.iter_mut().enumerate() {
        let key = SeriesKey::new(
            "hc.value",
            [
                ("id", format!("s{s:06}")),
                ("group", format!("g{:02}", s % 100)),
            ],
        )
        .expect("key");
        let value = wobble(slot, i * 10_000 + s);
        b.push(
            key,
            DataType::Double,
            vec![Point::new(t, Value::Double(value))],
        );
    }
    b.validate().expect("batch")
}

fn main() {
    let mut w1_state = vec![50.0; HOSTS * FIELDS.len()];
    let w1: Vec<ValidatedBatch> = (0..REQUESTS)
        .map(|i| w1_request(i, &mut w1_state))
        .collect();
    let mut w3_state = vec![50.0; 10_000];
    let w3: Vec<ValidatedBatch> = (0..REQUESTS)
        .map(|i| w3_request(i, &mut w3_state))
        .collect();
    for (name, batches) in [("W1", &w1), ("W3", &w3)] {
        measure(name, batches);
    }
}

fn measure(name: &str, batches: &[ValidatedBatch]) {
    let points = batches.iter().map(|b| b.point_count()).sum::<usize>() as f64;
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
        for b in batches {
            wal.append(b).expect("append");
        }
        let elapsed = start.elapsed();
        let bytes = wal.stats().bytes as f64;
        println!(
            "{name} compress {compress:5}: {:6.2} bytes/point, {:6.0} ns/point appending ({} points)",
            bytes / points,
            elapsed.as_nanos() as f64 / points,
            points
        );
    }
}
