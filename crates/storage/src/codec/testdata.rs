//! Deterministic generated data sets for measuring the codecs: bytes per point and speed.
//!
//! Two shapes of telemetry, each generated from a fixed seed so every run measures the same
//! points:
//!
//! - [`cpu`]: 100 hosts × 10 metrics, one point every 10 s for one day (8.64M points). Each
//!   series is a random walk with Gaussian steps (σ = 1.0) rounded to 2 decimals.
//! - [`hw`]: 50 channels at 1 kHz for 10 minutes (30M points): 30 `double` channels of a sine
//!   plus Gaussian noise rounded to 2 decimals, 10 `int32` channels of a 12-bit ADC reading a
//!   noisy sine, 5 `bool` channels that toggle about once a minute and 5 `enum` channels that
//!   change about once every 50 s among 8 keys.
//!
//! Timestamps are exactly regular, as from a scraper or an instrument with a hardware clock.
//! Only compiled for tests and with the `testdata` feature.

use super::Column;

/// 2026-01-01T00:00:00Z in nanoseconds.
const START_NS: i64 = 1_767_225_600_000_000_000;

/// The most points in a block.
pub const BLOCK_POINTS: usize = 16_384;

/// A small, fast, seeded pseudo-random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform float in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// A standard normal variate (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// One generated series: its name, timestamps and values, in time order.
#[derive(Debug, Clone)]
pub struct Series {
    /// A readable name, e.g. `host042.load1`.
    pub name: String,
    /// Nanoseconds since the epoch.
    pub timestamps: Vec<i64>,
    /// The values, one per timestamp.
    pub values: Column,
}

impl Series {
    /// The series cut into blocks of at most [`BLOCK_POINTS`] points: (timestamps, values).
    pub fn blocks(&self) -> Vec<(&[i64], Column)> {
        let mut blocks = Vec::new();
        let mut start = 0;
        while start < self.timestamps.len() {
            let end = (start + BLOCK_POINTS).min(self.timestamps.len());
            blocks.push((
                &self.timestamps[start..end],
                slice(&self.values, start, end),
            ));
            start = end;
        }
        blocks
    }
}

fn slice(column: &Column, start: usize, end: usize) -> Column {
    match column {
        Column::Double(v) => Column::Double(v[start..end].to_vec()),
        Column::Float(v) => Column::Float(v[start..end].to_vec()),
        Column::Int32(v) => Column::Int32(v[start..end].to_vec()),
        Column::Int64(v) => Column::Int64(v[start..end].to_vec()),
        Column::Uint32(v) => Column::Uint32(v[start..end].to_vec()),
        Column::Uint64(v) => Column::Uint64(v[start..end].to_vec()),
        Column::Bool(v) => Column::Bool(v[start..end].to_vec()),
        Column::Enum(v) => Column::Enum(v[start..end].to_vec()),
        Column::BitField(v) => Column::BitField(v[start..end].to_vec()),
        Column::String(v) => Column::String(v[start..end].to_vec()),
        Column::Bytes(v) => Column::Bytes(v[start..end].to_vec()),
    }
}

fn regular_timestamps(count: usize, interval_ns: i64) -> Vec<i64> {
    (0..count as i64)
        .map(|i| START_NS + i * interval_ns)
        .collect()
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

const CPU_METRICS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_iowait",
    "load1",
    "mem_used_percent",
    "disk_used_percent",
    "net_rx_mbps",
    "net_tx_mbps",
    "temperature",
];

/// The cpu data set: 1,000 series of 8,640 points, generated one at a time.
pub fn cpu() -> impl Iterator<Item = Series> {
    let mut rng = Rng::new(0x5e47_a471_c9a0_0001);
    (0..100).flat_map(move |host| {
        let series: Vec<Series> = CPU_METRICS
            .iter()
            .map(|metric| {
                let mut value = two_decimals(rng.range(0.0, 100.0));
                let values = (0..8_640)
                    .map(|_| {
                        let current = value;
                        value = two_decimals(value + rng.normal());
                        current
                    })
                    .collect();
                Series {
                    name: format!("host{host:03}.{metric}"),
                    timestamps: regular_timestamps(8_640, 10_000_000_000),
                    values: Column::Double(values),
                }
            })
            .collect();
        series
    })
}

/// Points per hw channel: 10 minutes at 1 kHz.
const HW_POINTS: usize = 600_000;

/// The hw data set: 50 channels of 600,000 points, generated one at a time.
pub fn hw() -> impl Iterator<Item = Series> {
    let mut rng = Rng::new(0x5e47_a471_c9a0_0002);
    let seconds = |i: usize| i as f64 / 1_000.0;
    (0..50).map(move |channel| {
        let timestamps = regular_timestamps(HW_POINTS, 1_000_000);
        let (name, values) = match channel {
            0..30 => {
                let amplitude = rng.range(1.0, 100.0);
                let hz = rng.range(0.1, 10.0);
                let phase = rng.range(0.0, std::f64::consts::TAU);
                let offset = rng.range(-50.0, 50.0);
                let noise = rng.range(0.02, 0.2);
                let values = (0..HW_POINTS)
                    .map(|i| {
                        let wave = (std::f64::consts::TAU * hz * seconds(i) + phase).sin();
                        two_decimals(offset + amplitude * wave + noise * rng.normal())
                    })
                    .collect();
                (format!("sensor{channel:02}"), Column::Double(values))
            }
            30..40 => {
                let amplitude = rng.range(200.0, 1_900.0);
                let hz = rng.range(0.1, 10.0);
                let noise = rng.range(1.0, 6.0);
                let values = (0..HW_POINTS)
                    .map(|i| {
                        let wave = (std::f64::consts::TAU * hz * seconds(i)).sin();
                        let reading = 2_048.0 + amplitude * wave + noise * rng.normal();
                        reading.round().clamp(0.0, 4_095.0) as i32
                    })
                    .collect();
                (format!("adc{channel:02}"), Column::Int32(values))
            }
            40..45 => {
                let mut state = rng.chance(0.5);
                let values = (0..HW_POINTS)
                    .map(|_| {
                        if rng.chance(1.0 / 60_000.0) {
                            state = !state;
                        }
                        state
                    })
                    .collect();
                (format!("relay{channel:02}"), Column::Bool(values))
            }
            _ => {
                let mut key = (rng.next_u64() % 8) as u32;
                let values = (0..HW_POINTS)
                    .map(|_| {
                        if rng.chance(1.0 / 50_000.0) {
                            key = (rng.next_u64() % 8) as u32;
                        }
                        key
                    })
                    .collect();
                (format!("mode{channel:02}"), Column::Enum(values))
            }
        };
        Series {
            name,
            timestamps,
            values,
        }
    })
}
