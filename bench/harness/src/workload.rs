//! The three workloads, generated deterministically as line-protocol request bodies, with the
//! answers a correct system gives to the 1-minute aggregation query computed alongside.
//!
//! - **W1 cpu**: 100 hosts x 10 metrics, 10 tags per line, a random walk in [0, 100] with two
//!   decimals, every 10 s for one day: 8.64M points.
//! - **W2 hw**: one rig of 50 channels at 1 kHz for 10 minutes: 30M points. 30 sine-plus-noise
//!   floats with two decimals, 10 12-bit integers, 5 rarely toggling bools, 5 rarely changing
//!   enums (as integers).
//! - **W3 highcard**: 100k series x 10 points, every 10 s, one step of every series at a time.
//! - **W4 onepass**: one million series x 10 points, every 10 s, arriving in one pass: each
//!   series' ten points together, then the next series (a fleet's backlog, or a migration).
//!
//! Values are kept as integer hundredths, so that the text sent and the expected aggregates
//! are exact. Every run of a generator with the same arguments gives the same bytes.

use std::collections::HashMap;
use std::io::Write;

use bytes::Bytes;
use serde::Serialize;

/// 2026-01-01T00:00:00Z in milliseconds: where every workload's data starts.
pub const T0_MS: i64 = 1_767_225_600_000;

/// The aggregation bucket of the query: one minute.
pub const BUCKET_MS: i64 = 60_000;

/// A small deterministic generator (SplitMix64).
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

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Kind {
    /// 100 hosts x 10 metrics every 10 s for a day.
    W1,
    /// 50 channels at 1 kHz for 10 minutes.
    W2,
    /// 100k series x 10 points.
    W3,
    /// One million series x 10 points, series after series.
    W4,
}

impl Kind {
    /// Every workload, in order.
    pub const ALL: [Kind; 4] = [Kind::W1, Kind::W2, Kind::W3, Kind::W4];

    /// The short name used in tables: `W1 cpu`, ….
    pub fn label(self) -> &'static str {
        match self {
            Kind::W1 => "W1 cpu",
            Kind::W2 => "W2 hw",
            Kind::W3 => "W3 highcard",
            Kind::W4 => "W4 onepass",
        }
    }

    /// Parses `w1`, `w2` or `w3`.
    pub fn parse(text: &str) -> Option<Kind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "w1" | "cpu" => Some(Kind::W1),
            "w2" | "hw" => Some(Kind::W2),
            "w3" | "highcard" => Some(Kind::W3),
            "w4" | "onepass" => Some(Kind::W4),
            _ => None,
        }
    }
}

/// What the workload writes, as the queries need to know it.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The line-protocol measurement.
    pub measurement: &'static str,
    /// The fields the aggregation query covers (the numeric ones), in order.
    pub fields: Vec<String>,
    /// The tag that tells the series of one field apart.
    pub id_tag: &'static str,
    /// The values of `id_tag`, in order.
    pub ids: Vec<String>,
}

impl Schema {
    /// The series number of `field` and `id`, as [`Expected`] keys them.
    pub fn series(&self, field: usize, id: usize) -> u32 {
        (field * self.ids.len() + id) as u32
    }

    /// Lookup tables from names to numbers.
    pub fn index(&self) -> SchemaIndex {
        SchemaIndex {
            fields: self
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone(), i))
                .collect(),
            ids: self
                .ids
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone(), i))
                .collect(),
            ids_len: self.ids.len(),
        }
    }
}

/// Names to numbers for a [`Schema`].
#[derive(Debug)]
pub struct SchemaIndex {
    fields: HashMap<String, usize>,
    ids: HashMap<String, usize>,
    ids_len: usize,
}

impl SchemaIndex {
    /// The series number of a field and id given by name, if both are known.
    pub fn series(&self, field: &str, id: &str) -> Option<u32> {
        let f = *self.fields.get(field)?;
        let i = *self.ids.get(id)?;
        Some((f * self.ids_len + i) as u32)
    }
}

/// One request body: lines holding `points` points.
#[derive(Debug, Clone)]
pub struct Request {
    /// Line protocol, millisecond timestamps.
    pub body: Bytes,
    /// Points (fields) in the body.
    pub points: usize,
}

/// Count, sum, min and max of one bucket, in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agg {
    /// Points.
    pub count: u64,
    /// Sum of the values, in hundredths.
    pub sum: i64,
    /// The smallest value, in hundredths.
    pub min: i64,
    /// The largest value, in hundredths.
    pub max: i64,
}

impl Agg {
    fn first(v: i64) -> Agg {
        Agg {
            count: 1,
            sum: v,
            min: v,
            max: v,
        }
    }

    fn add(&mut self, v: i64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// The mean, in units.
    pub fn avg(&self) -> f64 {
        self.sum as f64 / self.count as f64 / 100.0
    }
}

/// The per-series 1-minute aggregates a correct system returns: (series, bucket start in ms)
/// to count, sum, min and max.
pub type Expected = HashMap<(u32, i64), Agg>;

/// Builds [`Expected`] while points are generated in time order per series.
#[derive(Debug)]
struct Truth {
    open: Vec<Option<(i64, Agg)>>,
    done: Vec<((u32, i64), Agg)>,
}

impl Truth {
    fn new(series: usize) -> Truth {
        Truth {
            open: vec![None; series],
            done: Vec::new(),
        }
    }

    fn add(&mut self, series: u32, ts_ms: i64, cents: i64) {
        let bucket = ts_ms.div_euclid(BUCKET_MS) * BUCKET_MS;
        let slot = &mut self.open[series as usize];
        match slot {
            Some((b, agg)) if *b == bucket => agg.add(cents),
            _ => {
                if let Some((b, agg)) = slot.take() {
                    self.done.push(((series, b), agg));
                }
                *slot = Some((bucket, Agg::first(cents)));
            }
        }
    }

    fn finish(mut self) -> Expected {
        for (series, slot) in self.open.iter_mut().enumerate() {
            if let Some((b, agg)) = slot.take() {
                self.done.push(((series as u32, b), agg));
            }
        }
        self.done.into_iter().collect()
    }
}

/// Cuts lines into request bodies of at least `target` points each.
#[derive(Debug)]
struct Batcher {
    target: usize,
    cap: u64,
    buf: Vec<u8>,
    points: usize,
    total: u64,
    out: Vec<Request>,
}

impl Batcher {
    fn new(target: usize, cap: u64) -> Batcher {
        Batcher {
            target: target.max(1),
            cap,
            buf: Vec::new(),
            points: 0,
            total: 0,
            out: Vec::new(),
        }
    }

    /// Whether another line may be written (the cap is not reached).
    fn open(&self) -> bool {
        self.total < self.cap
    }

    /// Ends the line just written into `buf`, holding `points` points.
    fn end_line(&mut self, points: usize) {
        self.points += points;
        self.total += points as u64;
        if self.points >= self.target {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.points > 0 {
            let body = std::mem::take(&mut self.buf);
            self.out.push(Request {
                body: Bytes::from(body),
                points: self.points,
            });
            self.points = 0;
        }
    }

    fn finish(mut self) -> (Vec<Request>, u64) {
        self.cut();
        (self.out, self.total)
    }
}

/// Writes hundredths as a decimal with two digits after the point: `-1234` is `-12.34`.
pub fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let c = cents.unsigned_abs();
    let _ = write!(buf, "{}.{:02}", c / 100, c % 100);
}

/// A generated workload.
#[derive(Debug)]
pub struct Generated {
    /// Which workload.
    pub kind: Kind,
    /// The series the bodies write.
    pub series: u64,
    /// The request bodies, in time order.
    pub requests: Vec<Request>,
    /// Points in all bodies.
    pub points: u64,
    /// The first timestamp, in ms.
    pub start_ms: i64,
    /// Just after the last timestamp, in ms.
    pub end_ms: i64,
    /// The fields and series the query covers.
    pub schema: Schema,
    /// The query's expected answer (only for the main data, not for the paced copy).
    pub expected: Option<Expected>,
}

/// How to generate a workload.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// 1.0 for the sizes of the issue; smaller shortens time (W1, W2) or series (W3).
    pub scale: f64,
    /// Points per request body (at least; whole lines).
    pub batch_points: usize,
    /// Added to every timestamp (the paced phase writes a later copy).
    pub offset_ms: i64,
    /// Stop after this many points.
    pub max_points: u64,
    /// Compute the expected query answer.
    pub truth: bool,
}

fn scaled(n: u64, scale: f64) -> u64 {
    ((n as f64 * scale).round() as u64).max(1)
}

/// W1's layout: hosts, metrics, steps.
pub const W1_HOSTS: usize = 100;
const W1_FIELDS: [&str; 10] = [
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
const W1_STEP_MS: i64 = 10_000;

/// W2's layout.
pub const W2_FLOATS: usize = 30;
/// 12-bit integer channels of W2.
pub const W2_INTS: usize = 10;
/// Boolean channels of W2.
pub const W2_BOOLS: usize = 5;
/// Enum channels of W2.
pub const W2_ENUMS: usize = 5;
const W2_STEP_MS: i64 = 1;

const W3_STEP_MS: i64 = 10_000;
const W3_POINTS: u64 = 10;

/// The duration of a workload's data at `scale`, in ms: the offset of the paced copy.
pub fn span_ms(kind: Kind, scale: f64) -> i64 {
    match kind {
        Kind::W1 => scaled(8_640, scale) as i64 * W1_STEP_MS,
        Kind::W2 => scaled(600_000, scale) as i64 * W2_STEP_MS,
        Kind::W3 | Kind::W4 => W3_POINTS as i64 * W3_STEP_MS,
    }
}

/// Generates `kind` with `options`.
pub fn generate(kind: Kind, options: Options) -> Generated {
    match kind {
        Kind::W1 => w1(options),
        Kind::W2 => w2(options),
        Kind::W3 => w3(options),
        Kind::W4 => w4(options),
    }
}

fn w1_schema() -> Schema {
    Schema {
        measurement: "cpu",
        fields: W1_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
        id_tag: "host",
        ids: (0..W1_HOSTS).map(|h| format!("host_{h:03}")).collect(),
    }
}

/// The tags of W1's host `h`, after the measurement: `,host=…,region=…` (10 tags).
fn w1_tags(h: usize) -> String {
    const REGIONS: [&str; 6] = [
        "eu-west-1",
        "eu-central-1",
        "us-east-1",
        "us-west-2",
        "ap-south-1",
        "sa-east-1",
    ];
    const OS: [&str; 3] = ["Ubuntu16.04LTS", "Ubuntu15.10", "Debian12"];
    const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
    const ENVS: [&str; 3] = ["production", "staging", "test"];
    let mut rng = Rng::new(0x5eed_0001 ^ h as u64);
    let region = REGIONS[rng.below(6) as usize];
    format!(
        ",host=host_{h:03},region={region},datacenter={region}{},rack=r{},os={},arch={},team={},service=svc{},service_version=v{},service_environment={}",
        (b'a' + rng.below(3) as u8) as char,
        rng.below(100),
        OS[rng.below(3) as usize],
        if rng.below(2) == 0 { "x64" } else { "arm64" },
        TEAMS[rng.below(4) as usize],
        rng.below(20),
        rng.below(2),
        ENVS[rng.below(3) as usize],
    )
}

fn w1(o: Options) -> Generated {
    let schema = w1_schema();
    let steps = scaled(8_640, o.scale);
    let tags: Vec<String> = (0..W1_HOSTS).map(w1_tags).collect();
    let mut rng = Rng::new(0x0001_c0de);
    let mut state: Vec<i64> = (0..W1_HOSTS * W1_FIELDS.len())
        .map(|_| rng.between(0, 10_000))
        .collect();
    let mut truth = o.truth.then(|| Truth::new(state.len()));
    let mut out = Batcher::new(o.batch_points, o.max_points);
    let start_ms = T0_MS + o.offset_ms;
    'steps: for step in 0..steps {
        let ts = start_ms + step as i64 * W1_STEP_MS;
        for (h, tags) in tags.iter().enumerate() {
            if !out.open() {
                break 'steps;
            }
            out.buf.extend_from_slice(b"cpu");
            out.buf.extend_from_slice(tags.as_bytes());
            for (f, name) in W1_FIELDS.iter().enumerate() {
                let v = &mut state[f * W1_HOSTS + h];
                *v = (*v + rng.between(-100, 100)).clamp(0, 10_000);
                out.buf.push(if f == 0 { b' ' } else { b',' });
                out.buf.extend_from_slice(name.as_bytes());
                out.buf.push(b'=');
                push_cents(&mut out.buf, *v);
                if let Some(t) = truth.as_mut() {
                    t.add(schema.series(f, h), ts, *v);
                }
            }
            let _ = writeln!(out.buf, " {ts}");
            out.end_line(W1_FIELDS.len());
        }
    }
    finish(
        Kind::W1,
        out,
        schema,
        truth,
        start_ms,
        steps as i64 * W1_STEP_MS,
    )
}

fn finish(
    kind: Kind,
    out: Batcher,
    schema: Schema,
    truth: Option<Truth>,
    start_ms: i64,
    span: i64,
) -> Generated {
    let (requests, points) = out.finish();
    // W2's booleans are written but not queried.
    let series = match kind {
        Kind::W2 => (W2_FLOATS + W2_INTS + W2_BOOLS + W2_ENUMS) as u64,
        _ => (schema.fields.len() * schema.ids.len()) as u64,
    };
    Generated {
        kind,
        series,
        requests,
        points,
        start_ms,
        end_ms: start_ms + span,
        schema,
        expected: truth.map(Truth::finish),
    }
}

/// One sample of W2's rig: every channel at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct W2Row {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// Sine plus noise, in hundredths.
    pub floats: [i64; W2_FLOATS],
    /// 12-bit readings.
    pub ints: [i64; W2_INTS],
    /// Rarely toggling flags.
    pub bools: [bool; W2_BOOLS],
    /// Rarely changing states, 0 to 3.
    pub enums: [u8; W2_ENUMS],
}

/// W2's field names: `f00`…`f29`, `i00`…`i09`, `b00`…`b04`, `e00`…`e04`.
pub fn w2_field_names() -> Vec<String> {
    let mut names = Vec::new();
    names.extend((0..W2_FLOATS).map(|c| format!("f{c:02}")));
    names.extend((0..W2_INTS).map(|c| format!("i{c:02}")));
    names.extend((0..W2_BOOLS).map(|c| format!("b{c:02}")));
    names.extend((0..W2_ENUMS).map(|c| format!("e{c:02}")));
    names
}

/// W2's samples, in time order: `scale` of 600,000, starting `offset_ms` after [`T0_MS`].
pub fn w2_rows(scale: f64, offset_ms: i64) -> impl Iterator<Item = W2Row> {
    let samples = scaled(600_000, scale);
    let mut rng = Rng::new(0x0002_c0de);
    let mut bools = [false; W2_BOOLS];
    let mut enums = [0u8; W2_ENUMS];
    (0..samples).map(move |i| {
        let t = i as f64 / 1000.0;
        let mut floats = [0i64; W2_FLOATS];
        for (c, v) in floats.iter_mut().enumerate() {
            let amplitude = 10.0 + 3.0 * c as f64;
            let period = 0.5 + 0.37 * c as f64;
            let wave = amplitude * (std::f64::consts::TAU * t / period + c as f64).sin();
            *v = (wave * 100.0).round() as i64 + rng.between(-50, 50);
        }
        let mut ints = [0i64; W2_INTS];
        for (c, v) in ints.iter_mut().enumerate() {
            let period = 2.0 + 1.3 * c as f64;
            let wave = 1800.0 * (std::f64::consts::TAU * t / period).sin();
            *v = (2048 + wave.round() as i64 + rng.between(-8, 8)).clamp(0, 4095);
        }
        for b in &mut bools {
            if rng.below(20_000) == 0 {
                *b = !*b;
            }
        }
        for e in &mut enums {
            if rng.below(50_000) == 0 {
                *e = rng.below(4) as u8;
            }
        }
        W2Row {
            ts_ms: T0_MS + offset_ms + i as i64 * W2_STEP_MS,
            floats,
            ints,
            bools,
            enums,
        }
    })
}

fn w2(o: Options) -> Generated {
    let names = w2_field_names();
    // The query covers the numeric channels: floats, integers and enums, not the bools.
    let queried: Vec<String> = names
        .iter()
        .filter(|n| !n.starts_with('b'))
        .cloned()
        .collect();
    let schema = Schema {
        measurement: "hw",
        fields: queried,
        id_tag: "device",
        ids: vec!["rig01".to_owned()],
    };
    let mut truth = o.truth.then(|| Truth::new(schema.fields.len()));
    let mut out = Batcher::new(o.batch_points, o.max_points);
    let per_line = names.len();
    for row in w2_rows(o.scale, o.offset_ms) {
        if !out.open() {
            break;
        }
        out.buf.extend_from_slice(b"hw,device=rig01");
        let mut sep = b' ';
        for (c, v) in row.floats.iter().enumerate() {
            out.buf.push(sep);
            sep = b',';
            out.buf.extend_from_slice(names[c].as_bytes());
            out.buf.push(b'=');
            push_cents(&mut out.buf, *v);
            if let Some(t) = truth.as_mut() {
                t.add(c as u32, row.ts_ms, *v);
            }
        }
        for (c, v) in row.ints.iter().enumerate() {
            let _ = write!(out.buf, ",{}={v}i", names[W2_FLOATS + c]);
            if let Some(t) = truth.as_mut() {
                t.add((W2_FLOATS + c) as u32, row.ts_ms, v * 100);
            }
        }
        for (c, v) in row.bools.iter().enumerate() {
            let _ = write!(
                out.buf,
                ",{}={}",
                names[W2_FLOATS + W2_INTS + c],
                if *v { 't' } else { 'f' }
            );
        }
        for (c, v) in row.enums.iter().enumerate() {
            let _ = write!(
                out.buf,
                ",{}={v}i",
                names[W2_FLOATS + W2_INTS + W2_BOOLS + c]
            );
            if let Some(t) = truth.as_mut() {
                t.add(
                    (W2_FLOATS + W2_INTS + c) as u32,
                    row.ts_ms,
                    i64::from(*v) * 100,
                );
            }
        }
        let _ = writeln!(out.buf, " {}", row.ts_ms);
        out.end_line(per_line);
    }
    let span = span_ms(Kind::W2, o.scale);
    finish(Kind::W2, out, schema, truth, T0_MS + o.offset_ms, span)
}

fn w3(o: Options) -> Generated {
    let series = scaled(100_000, o.scale) as usize;
    let schema = Schema {
        measurement: "hc",
        fields: vec!["value".to_owned()],
        id_tag: "id",
        ids: (0..series).map(|s| format!("s{s:06}")).collect(),
    };
    let mut rng = Rng::new(0x0003_c0de);
    let mut state: Vec<i64> = (0..series).map(|_| rng.between(0, 10_000)).collect();
    let mut truth = o.truth.then(|| Truth::new(series));
    let mut out = Batcher::new(o.batch_points, o.max_points);
    let start_ms = T0_MS + o.offset_ms;
    'steps: for step in 0..W3_POINTS {
        let ts = start_ms + step as i64 * W3_STEP_MS;
        for (s, v) in state.iter_mut().enumerate() {
            if !out.open() {
                break 'steps;
            }
            *v = (*v + rng.between(-100, 100)).clamp(0, 10_000);
            let _ = write!(out.buf, "hc,id=s{s:06},group=g{:02} value=", s % 100);
            push_cents(&mut out.buf, *v);
            let _ = writeln!(out.buf, " {ts}");
            if let Some(t) = truth.as_mut() {
                t.add(s as u32, ts, *v);
            }
            out.end_line(1);
        }
    }
    let span = span_ms(Kind::W3, o.scale);
    finish(Kind::W3, out, schema, truth, start_ms, span)
}

fn w4(o: Options) -> Generated {
    let series = scaled(1_000_000, o.scale) as usize;
    let schema = Schema {
        measurement: "op",
        fields: vec!["value".to_owned()],
        id_tag: "id",
        ids: (0..series).map(|s| format!("s{s:07}")).collect(),
    };
    let mut rng = Rng::new(0x0004_c0de);
    let mut truth = o.truth.then(|| Truth::new(series));
    let mut out = Batcher::new(o.batch_points, o.max_points);
    let start_ms = T0_MS + o.offset_ms;
    'series: for s in 0..series {
        let mut v = rng.between(0, 10_000);
        for step in 0..W3_POINTS {
            if !out.open() {
                break 'series;
            }
            let ts = start_ms + step as i64 * W3_STEP_MS;
            v = (v + rng.between(-100, 100)).clamp(0, 10_000);
            let _ = write!(out.buf, "op,id=s{s:07},group=g{:02} value=", s % 100);
            push_cents(&mut out.buf, v);
            let _ = writeln!(out.buf, " {ts}");
            if let Some(t) = truth.as_mut() {
                t.add(s as u32, ts, v);
            }
            out.end_line(1);
        }
    }
    let span = span_ms(Kind::W4, o.scale);
    finish(Kind::W4, out, schema, truth, start_ms, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(scale: f64) -> Options {
        Options {
            scale,
            batch_points: 10_000,
            offset_ms: 0,
            max_points: u64::MAX,
            truth: true,
        }
    }

    #[test]
    fn cents_are_written_with_two_decimals() {
        for (cents, text) in [
            (0, "0.00"),
            (5, "0.05"),
            (1234, "12.34"),
            (-7, "-0.07"),
            (-1230, "-12.30"),
        ] {
            let mut buf = Vec::new();
            push_cents(&mut buf, cents);
            assert_eq!(std::str::from_utf8(&buf).unwrap(), text);
        }
    }

    #[test]
    fn generators_are_deterministic() {
        for kind in Kind::ALL {
            let a = generate(kind, options(0.002));
            let b = generate(kind, options(0.002));
            assert_eq!(a.requests.len(), b.requests.len());
            for (x, y) in a.requests.iter().zip(&b.requests) {
                assert_eq!(x.body, y.body);
            }
            assert_eq!(a.expected, b.expected);
        }
    }

    #[test]
    fn counts_follow_the_layout() {
        // W1: 17 steps (0.002 of 8,640) x 100 hosts x 10 metrics.
        let w1 = generate(Kind::W1, options(0.002));
        assert_eq!(w1.points, 17 * 100 * 10);
        assert_eq!(w1.end_ms - w1.start_ms, 170_000);
        // W2: 1,200 samples x 50 channels.
        let w2 = generate(Kind::W2, options(0.002));
        assert_eq!(w2.points, 1_200 * 50);
        // W3: 200 series x 10 points.
        let w3 = generate(Kind::W3, options(0.002));
        assert_eq!(w3.points, 200 * 10);
        // W4: 2,000 series x 10 points, each series' points in one body but where a body ends.
        let w4 = generate(Kind::W4, options(0.002));
        assert_eq!(w4.points, 2_000 * 10);
        let first = std::str::from_utf8(&w4.requests[0].body).unwrap();
        let ids: Vec<&str> = first.lines().take(11).map(|l| &l[6..14]).collect();
        assert_eq!(ids[..10], ["s0000000"; 10]);
        assert_eq!(ids[10], "s0000001");
        for g in [&w1, &w2, &w3, &w4] {
            let in_bodies: usize = g.requests.iter().map(|r| r.points).sum();
            assert_eq!(in_bodies as u64, g.points);
            // Every body but the last holds at least the target, and whole lines.
            for r in &g.requests[..g.requests.len() - 1] {
                assert!(r.points >= 10_000);
                assert!(r.body.ends_with(b"\n"));
            }
        }
        // The expected answer counts every queried point once: W2 leaves out its 5 bools.
        let counted =
            |g: &Generated| -> u64 { g.expected.as_ref().unwrap().values().map(|a| a.count).sum() };
        assert_eq!(counted(&w1), w1.points);
        assert_eq!(counted(&w2), 1_200 * 45);
        assert_eq!(counted(&w3), w3.points);
        assert_eq!(counted(&w4), w4.points);
    }

    #[test]
    fn lines_have_the_expected_shape() {
        let w1 = generate(Kind::W1, options(0.001));
        let text = std::str::from_utf8(&w1.requests[0].body).unwrap();
        let line = text.lines().next().unwrap();
        let (series, rest) = line.split_once(' ').unwrap();
        assert!(series.starts_with("cpu,host=host_000,region="));
        assert_eq!(series.split(',').count(), 11, "measurement and 10 tags");
        let (fields, ts) = rest.split_once(' ').unwrap();
        assert_eq!(fields.split(',').count(), 10);
        assert_eq!(ts, T0_MS.to_string());
        for field in fields.split(',') {
            let value = field.split_once('=').unwrap().1;
            let (_, decimals) = value.split_once('.').unwrap();
            assert_eq!(decimals.len(), 2, "{value}");
        }

        let w2 = generate(Kind::W2, options(0.001));
        let line = std::str::from_utf8(&w2.requests[0].body)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        assert!(line.starts_with("hw,device=rig01 f00="));
        assert!(line.contains(",i00=") && line.contains(",b00=f,") && line.contains(",e04=0i "));
        assert_eq!(line.split(',').count(), 51);
    }

    #[test]
    fn the_paced_copy_is_later_and_capped() {
        let o = Options {
            offset_ms: span_ms(Kind::W1, 0.002),
            max_points: 5_000,
            truth: false,
            ..options(0.002)
        };
        let copy = generate(Kind::W1, o);
        assert_eq!(copy.points, 5_000);
        assert_eq!(copy.start_ms, T0_MS + 170_000);
        assert!(copy.expected.is_none());
    }

    #[test]
    fn w2_rows_stay_in_range() {
        for row in w2_rows(0.01, 0) {
            assert!(row.ints.iter().all(|v| (0..4096).contains(v)));
            assert!(row.enums.iter().all(|e| *e < 4));
        }
    }
}
