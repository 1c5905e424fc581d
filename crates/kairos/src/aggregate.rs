//! The aggregator engine: each aggregator takes a group's points (in stream order) and
//! returns new points, with KairosDB 1.3.0's semantics.
//!
//! Range aggregators (avg, sum, min, max, count, dev, first, last, least_squares,
//! percentile, gaps) share one bucket rule. The origin O is the query start (or the
//! aggregator's `start_time`), rounded down in the zone when `align_sampling` is true (its
//! default). A point at t falls in bucket n = trunc(units(O, t) / S), spanning
//! [O + n·S, O + (n+1)·S) with calendar arithmetic for days and longer. The first remaining
//! point fixes the bucket's end; the points before that end form the bucket. A bucket is
//! stamped with its start (`align_start_time`), its end (`align_end_time`) or else its first
//! point's timestamp.
//!
//! These rules stay here rather than in `sextant-query`, whose buckets are fixed nanosecond
//! widths from a fixed origin: KairosDB's origin, truncation toward zero, calendar units and
//! first-point stamps share no code with them. Where a metric's buckets reduce to the query
//! crate's, the server aggregates there instead ([`crate::pushdown`]).

use chrono_tz::Tz;

use crate::query::{AggregatorKind, DevReturn, FilterOp, RangeFn, RangeSpec, Threshold};
use crate::time::{self, Sampling, TimeUnit};
use crate::{Error, Proceed, Result};

/// A value of a KairosDB data point.
#[derive(Debug, Clone, PartialEq)]
pub enum KValue {
    /// A long.
    Long(i64),
    /// A double.
    Double(f64),
    /// A string.
    Text(String),
    /// The null point `gaps` inserts.
    Null,
}

impl KValue {
    /// The value as a double, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            KValue::Long(v) => Some(*v as f64),
            KValue::Double(v) => Some(*v),
            _ => None,
        }
    }
}

/// A data point: epoch milliseconds and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    /// Epoch milliseconds.
    pub t: i64,
    /// The value.
    pub v: KValue,
}

impl DataPoint {
    /// A point.
    pub fn new(t: i64, v: KValue) -> DataPoint {
        DataPoint { t, v }
    }

    fn double(t: i64, v: f64) -> DataPoint {
        DataPoint {
            t,
            v: KValue::Double(v),
        }
    }
}

/// Whether an aggregator only handles numbers (other groups pass through it unchanged).
pub fn numeric_only(kind: &AggregatorKind) -> bool {
    match kind {
        AggregatorKind::Range { func, .. } => !matches!(
            func,
            RangeFn::Count | RangeFn::First | RangeFn::Last | RangeFn::Gaps
        ),
        AggregatorKind::Trim { .. }
        | AggregatorKind::Filter { .. }
        | AggregatorKind::SaveAs { .. } => false,
        _ => true,
    }
}

/// Whether an aggregator turns any group into a number group.
pub fn outputs_number(kind: &AggregatorKind) -> bool {
    matches!(
        kind,
        AggregatorKind::Range {
            func: RangeFn::Count,
            ..
        }
    )
}

/// Query-wide facts some aggregators need.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The query start (epoch ms).
    pub start: i64,
    /// The query end, inclusive.
    pub end: i64,
    /// The present, where `gaps` stops.
    pub now: i64,
}

/// Runs one aggregator over a group's points. `save_as` is handled by the caller and passes
/// through here.
pub fn apply(
    kind: &AggregatorKind,
    points: Vec<DataPoint>,
    window: Window,
    proceed: Proceed<'_>,
) -> Result<Vec<DataPoint>> {
    match kind {
        AggregatorKind::Range { func, spec } => range(*func, spec, &points, window),
        AggregatorKind::Rate { sampling, zone } => pairwise(&points, "rate", |p0, v0, p1, v1| {
            if p1.t == p0.t {
                return Err(Error::Runtime(format!(
                    "rate: two points at the same timestamp {}; a rate needs distinct timestamps",
                    p1.t
                )));
            }
            let d = sampling.ms_from(p0.t, *zone) as f64;
            Ok(DataPoint::double(
                p1.t,
                (v1 - v0) / (p1.t - p0.t) as f64 * d,
            ))
        }),
        AggregatorKind::Sampler { unit, zone } => pairwise(&points, "sampler", |p0, _, p1, v1| {
            if p1.t == p0.t {
                return Err(Error::Runtime(format!(
                    "sampler: two points at the same timestamp {}",
                    p1.t
                )));
            }
            let d = Sampling {
                value: 1,
                unit: *unit,
            }
            .ms_from(p0.t, *zone) as f64;
            Ok(DataPoint::double(p1.t, v1 / (p1.t - p0.t) as f64 * d))
        }),
        AggregatorKind::Diff => pairwise(&points, "diff", |_, v0, p1, v1| {
            Ok(DataPoint::double(p1.t, v1 - v0))
        }),
        AggregatorKind::Div(d) => map(&points, "div", |v| v / d),
        AggregatorKind::Scale(f) => map(&points, "scale", |v| v * f),
        AggregatorKind::Trim { first, last } => {
            let mut points = points;
            if *last && !points.is_empty() {
                points.pop();
            }
            if *first && !points.is_empty() {
                points.remove(0);
            }
            Ok(points)
        }
        AggregatorKind::Filter { op, threshold } => Ok(points
            .into_iter()
            .filter(|p| !filtered_out(&p.v, *op, threshold))
            .collect()),
        AggregatorKind::Sma(size) => sma(&points, *size, proceed),
        AggregatorKind::Score {
            thresholds,
            descending,
        } => map(&points, "score", |v| {
            let passed = thresholds
                .iter()
                .filter(|(t, inferior)| v > *t || (v == *t && *inferior))
                .count();
            if *descending {
                (thresholds.len() - passed) as f64
            } else {
                passed as f64
            }
        }),
        AggregatorKind::SaveAs { .. } => Ok(points),
    }
}

fn value_of(p: &DataPoint, aggregator: &str) -> Result<f64> {
    p.v.as_f64().ok_or_else(|| {
        Error::Runtime(format!(
            "{aggregator} met a point without a numeric value at {} (nothing can follow gaps)",
            p.t
        ))
    })
}

fn map(points: &[DataPoint], name: &str, f: impl Fn(f64) -> f64) -> Result<Vec<DataPoint>> {
    points
        .iter()
        .map(|p| Ok(DataPoint::double(p.t, f(value_of(p, name)?))))
        .collect()
}

fn pairwise(
    points: &[DataPoint],
    name: &str,
    f: impl Fn(&DataPoint, f64, &DataPoint, f64) -> Result<DataPoint>,
) -> Result<Vec<DataPoint>> {
    let mut out = Vec::with_capacity(points.len().saturating_sub(1));
    for pair in points.windows(2) {
        let (v0, v1) = (value_of(&pair[0], name)?, value_of(&pair[1], name)?);
        out.push(f(&pair[0], v0, &pair[1], v1)?);
    }
    Ok(out)
}

fn filtered_out(v: &KValue, op: FilterOp, threshold: &Threshold) -> bool {
    let ordering = match (v, threshold) {
        (KValue::Long(_) | KValue::Double(_), Threshold::Number(t)) => {
            v.as_f64().and_then(|x| x.partial_cmp(t))
        }
        (KValue::Text(s), Threshold::Text(t)) => Some(s.as_str().cmp(t.as_str())),
        _ => return true,
    };
    let Some(o) = ordering else { return true };
    use std::cmp::Ordering::*;
    match op {
        FilterOp::Lt => o == Less,
        FilterOp::Lte => o != Greater,
        FilterOp::Gt => o == Greater,
        FilterOp::Gte => o != Less,
        FilterOp::Equal => o == Equal,
        FilterOp::Ne => o != Equal,
    }
}

/// KairosDB's `sma`: each window summed afresh, as KairosDB does (a running sum would round
/// differently), so it costs `size` per point; `proceed` is asked every 1,024 windows.
fn sma(points: &[DataPoint], size: i64, proceed: Proceed<'_>) -> Result<Vec<DataPoint>> {
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| Error::Runtime(format!("sma: size must be at least 1, not {size}")))?;
    let values: Vec<f64> = points
        .iter()
        .map(|p| value_of(p, "sma"))
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    for i in size - 1..values.len() {
        if i % 1024 == 0 {
            proceed()?;
        }
        let window = &values[i + 1 - size..=i];
        out.push(DataPoint::double(
            points[i].t,
            window.iter().sum::<f64>() / size as f64,
        ));
    }
    Ok(out)
}

/// The buckets of a range aggregator.
#[derive(Debug, Clone, Copy)]
pub struct Buckets {
    origin: i64,
    sampling: Sampling,
    zone: Tz,
}

impl Buckets {
    /// The buckets of `spec`.
    pub fn new(spec: &RangeSpec) -> Buckets {
        Buckets {
            origin: spec.origin(),
            sampling: spec.sampling,
            zone: spec.zone,
        }
    }

    /// The bucket number of `t`.
    pub fn index(&self, t: i64) -> i64 {
        time::between(self.origin, t, self.sampling.unit, self.zone) / self.sampling.value
    }

    /// The start of bucket `n`.
    pub fn start(&self, n: i64) -> i64 {
        time::add(
            self.origin,
            n.saturating_mul(self.sampling.value),
            self.sampling.unit,
            self.zone,
        )
    }

    /// Whether buckets are fixed-length and aligned to the epoch, with their size in ms:
    /// then bucket n of t is ⌊t / size⌋ for every t at or after the origin.
    pub fn epoch_aligned(&self) -> Option<i64> {
        let unit_ms = match self.sampling.unit {
            TimeUnit::Days | TimeUnit::Weeks if self.zone == Tz::UTC => {
                if self.sampling.unit == TimeUnit::Days {
                    86_400_000
                } else {
                    7 * 86_400_000
                }
            }
            unit => unit.fixed_ms()?,
        };
        let size = self.sampling.value.checked_mul(unit_ms)?;
        (self.origin.rem_euclid(size) == 0).then_some(size)
    }

    /// The origin.
    pub fn origin(&self) -> i64 {
        self.origin
    }
}

fn range(
    func: RangeFn,
    spec: &RangeSpec,
    points: &[DataPoint],
    window: Window,
) -> Result<Vec<DataPoint>> {
    let buckets = Buckets::new(spec);
    if func == RangeFn::Gaps {
        return gaps(&buckets, spec, points, window);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let n = buckets.index(points[i].t);
        let (start, end) = (buckets.start(n), buckets.start(n + 1));
        let mut j = i + 1;
        while j < points.len() && points[j].t < end {
            j += 1;
        }
        let bucket = &points[i..j];
        let stamp = if spec.align_start_time {
            start
        } else if spec.align_end_time {
            end
        } else {
            bucket[0].t
        };
        reduce(func, spec, bucket, stamp, &mut out)?;
        i = j;
    }
    Ok(out)
}

fn values(bucket: &[DataPoint], name: &str) -> Result<Vec<f64>> {
    bucket.iter().map(|p| value_of(p, name)).collect()
}

fn reduce(
    func: RangeFn,
    spec: &RangeSpec,
    bucket: &[DataPoint],
    stamp: i64,
    out: &mut Vec<DataPoint>,
) -> Result<()> {
    match func {
        RangeFn::Avg => {
            let v = values(bucket, "avg")?;
            out.push(DataPoint::double(
                stamp,
                v.iter().sum::<f64>() / v.len() as f64,
            ));
        }
        RangeFn::Sum => out.push(DataPoint::double(
            stamp,
            values(bucket, "sum")?.iter().sum(),
        )),
        RangeFn::Min => out.push(DataPoint::double(
            stamp,
            values(bucket, "min")?
                .into_iter()
                .fold(f64::INFINITY, f64::min),
        )),
        RangeFn::Max => out.push(DataPoint::double(
            stamp,
            values(bucket, "max")?
                .into_iter()
                .fold(f64::NEG_INFINITY, f64::max),
        )),
        RangeFn::Count => out.push(DataPoint::new(stamp, KValue::Long(bucket.len() as i64))),
        RangeFn::First => out.push(DataPoint::new(stamp, bucket[0].v.clone())),
        RangeFn::Last => {
            let last = &bucket[bucket.len() - 1];
            let t = if spec.align_start_time || spec.align_end_time {
                stamp
            } else {
                last.t
            };
            out.push(DataPoint::new(t, last.v.clone()));
        }
        RangeFn::Dev(kind, k) => {
            let v = values(bucket, "dev")?;
            // Running averages of v and v², as KairosDB computes them.
            let (mut count, mut avg, mut power_avg) = (0.0_f64, 0.0_f64, 0.0_f64);
            for x in &v {
                count += 1.0;
                avg += (x - avg) / count;
                power_avg += (x * x - power_avg) / count;
            }
            let sd = if count > 1.0 {
                ((power_avg * count - count * avg * avg) / (count - 1.0)).sqrt()
            } else {
                0.0
            };
            let value = match kind {
                DevReturn::Value => sd,
                DevReturn::PosSd => avg + k * sd,
                DevReturn::NegSd => avg - k * sd,
            };
            out.push(DataPoint::double(stamp, value));
        }
        RangeFn::LeastSquares => {
            if bucket.len() < 3 {
                out.extend(bucket.iter().cloned());
                return Ok(());
            }
            let v = values(bucket, "least_squares")?;
            let n = v.len() as f64;
            let (mut sx, mut sy) = (0.0, 0.0);
            for (p, y) in bucket.iter().zip(&v) {
                sx += p.t as f64;
                sy += y;
            }
            // Centred sums keep the precision that epoch milliseconds squared would lose.
            let mean_x = sx / n;
            let mean_y = sy / n;
            let (mut cxx, mut cxy) = (0.0, 0.0);
            for (p, y) in bucket.iter().zip(&v) {
                let dx = p.t as f64 - mean_x;
                cxx += dx * dx;
                cxy += dx * (y - mean_y);
            }
            let slope = if cxx == 0.0 { 0.0 } else { cxy / cxx };
            let at = |t: i64| mean_y + slope * (t as f64 - mean_x);
            let (first, last) = (bucket[0].t, bucket[bucket.len() - 1].t);
            out.push(DataPoint::double(first, at(first)));
            out.push(DataPoint::double(last, at(last)));
        }
        RangeFn::Percentile(p) => {
            if p > 1.0 {
                return Err(Error::Runtime(format!(
                    "percentile must be greater than 0 and at most 1, not {p}"
                )));
            }
            let mut v = values(bucket, "percentile")?;
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let pos = p * (n as f64 + 1.0);
            let value = if pos < 1.0 {
                v[0]
            } else if pos >= n as f64 {
                v[n - 1]
            } else {
                let lower = pos.floor() as usize;
                let frac = pos - pos.floor();
                v[lower - 1] + frac * (v[lower] - v[lower - 1])
            };
            out.push(DataPoint::double(stamp, value));
        }
        RangeFn::Gaps => out.extend(bucket.iter().cloned()),
    }
    Ok(())
}

fn gaps(
    buckets: &Buckets,
    spec: &RangeSpec,
    points: &[DataPoint],
    window: Window,
) -> Result<Vec<DataPoint>> {
    let mut out = Vec::new();
    if spec.trim && points.is_empty() {
        return Ok(out);
    }
    let limit = window.end.min(window.now);
    let mut n = buckets.index(if spec.trim { points[0].t } else { window.start });
    let mut i = 0;
    // At most this many empty buckets are marked, so a tiny sampling over a long range fails
    // with a message instead of exhausting memory.
    const MAX_OUTPUT: usize = 10_000_000;
    loop {
        let start = buckets.start(n);
        if start > limit && !(spec.trim && i < points.len()) {
            break;
        }
        let end = buckets.start(n + 1);
        let from = i;
        while i < points.len() && points[i].t < end {
            i += 1;
        }
        if i > from {
            out.extend(points[from..i].iter().cloned());
        } else {
            out.push(DataPoint::new(start, KValue::Null));
        }
        if spec.trim && i == points.len() {
            break;
        }
        if out.len() > MAX_OUTPUT || end <= start {
            return Err(Error::Runtime(format!(
                "gaps would mark more than {MAX_OUTPUT} buckets; use a larger sampling or an earlier end"
            )));
        }
        n += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: i64, unit: TimeUnit) -> RangeSpec {
        RangeSpec {
            sampling: Sampling { value, unit },
            align_sampling: true,
            align_start_time: false,
            align_end_time: false,
            start_time: 0,
            end_time: i64::MAX,
            zone: Tz::UTC,
            trim: false,
        }
    }

    fn series(values: &[(i64, f64)]) -> Vec<DataPoint> {
        values
            .iter()
            .map(|(t, v)| DataPoint::double(*t, *v))
            .collect()
    }

    const WINDOW: Window = Window {
        start: 0,
        end: 100,
        now: 1000,
    };

    fn run(func: RangeFn, spec: RangeSpec, points: &[(i64, f64)]) -> Vec<(i64, f64)> {
        apply(
            &AggregatorKind::Range { func, spec },
            series(points),
            WINDOW,
            &|| Ok(()),
        )
        .unwrap()
        .into_iter()
        .map(|p| (p.t, p.v.as_f64().unwrap()))
        .collect()
    }

    #[test]
    fn buckets_are_stamped_by_first_point_start_or_end() {
        let pts = [(1, 1.0), (3, 2.0), (10, 3.0), (14, 4.0)];
        let s = spec(10, TimeUnit::Milliseconds);
        assert_eq!(run(RangeFn::Sum, s, &pts), [(1, 3.0), (10, 7.0)]);
        let start = RangeSpec {
            align_start_time: true,
            ..s
        };
        assert_eq!(run(RangeFn::Avg, start, &pts), [(0, 1.5), (10, 3.5)]);
        let end = RangeSpec {
            align_end_time: true,
            ..s
        };
        assert_eq!(run(RangeFn::Max, end, &pts), [(10, 2.0), (20, 4.0)]);
        assert_eq!(run(RangeFn::Last, s, &pts), [(3, 2.0), (14, 4.0)]);
        assert_eq!(run(RangeFn::First, s, &pts), [(1, 1.0), (10, 3.0)]);
    }

    #[test]
    fn dev_percentile_and_least_squares_match_kairosdb() {
        let pts: Vec<(i64, f64)> = (1..=10).map(|v| (v * 2, v as f64)).collect();
        let s = spec(10, TimeUnit::Years);
        let dev = run(RangeFn::Dev(DevReturn::Value, 1.0), s, &pts);
        assert!((dev[0].1 - 3.0276503540974917).abs() < 1e-12);
        assert_eq!(run(RangeFn::Percentile(0.5), s, &pts), [(2, 5.5)]);
        assert_eq!(run(RangeFn::Percentile(0.05), s, &pts), [(2, 1.0)]);
        let ls = run(RangeFn::LeastSquares, s, &pts);
        assert_eq!(ls.len(), 2);
        assert!((ls[0].1 - 1.0).abs() < 1e-9 && (ls[1].1 - 10.0).abs() < 1e-9);
    }

    #[test]
    fn gaps_mark_empty_buckets_until_the_end() {
        let s = spec(10, TimeUnit::Milliseconds);
        let out = apply(
            &AggregatorKind::Range {
                func: RangeFn::Gaps,
                spec: s,
            },
            series(&[(5, 1.0), (31, 2.0)]),
            Window {
                start: 0,
                end: 45,
                now: 1000,
            },
            &|| Ok(()),
        )
        .unwrap();
        let expect = vec![
            DataPoint::double(5, 1.0),
            DataPoint::new(10, KValue::Null),
            DataPoint::new(20, KValue::Null),
            DataPoint::double(31, 2.0),
            DataPoint::new(40, KValue::Null),
        ];
        assert_eq!(out, expect);
    }

    #[test]
    fn rate_refuses_equal_timestamps() {
        let kind = AggregatorKind::Rate {
            sampling: Sampling {
                value: 1,
                unit: TimeUnit::Seconds,
            },
            zone: Tz::UTC,
        };
        let out = apply(&kind, series(&[(0, 1.0), (500, 2.0)]), WINDOW, &|| Ok(())).unwrap();
        assert_eq!(out, [DataPoint::double(500, 2.0)]);
        assert!(matches!(
            apply(&kind, series(&[(0, 1.0), (0, 2.0)]), WINDOW, &|| Ok(())),
            Err(Error::Runtime(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn range_buckets_partition_the_points(
            mut ts in proptest::collection::vec(0i64..10_000_000_000, 1..50),
            size in 1i64..100,
            unit in 0usize..8,
        ) {
            ts.sort_unstable();
            let unit = [TimeUnit::Milliseconds, TimeUnit::Seconds, TimeUnit::Minutes, TimeUnit::Hours,
                TimeUnit::Days, TimeUnit::Weeks, TimeUnit::Months, TimeUnit::Years][unit];
            let mut s = spec(size, unit);
            s.zone = chrono_tz::Europe::Paris;
            let pts: Vec<(i64, f64)> = ts.iter().map(|t| (*t, 1.0)).collect();
            let counts = run(RangeFn::Sum, s, &pts);
            proptest::prop_assert_eq!(counts.iter().map(|c| c.1).sum::<f64>(), ts.len() as f64);
            let b = Buckets::new(&s);
            for t in ts {
                let n = b.index(t);
                proptest::prop_assert!(b.start(n) <= t && t < b.start(n + 1));
            }
        }
    }

    #[test]
    fn sma_stops_when_told() {
        let points = series(&(0..5000).map(|t| (t, 1.0)).collect::<Vec<_>>());
        let err = apply(&AggregatorKind::Sma(10), points, WINDOW, &|| {
            Err(Error::Stopped("the deadline passed".into()))
        })
        .unwrap_err();
        assert_eq!(err, Error::Stopped("the deadline passed".into()));
    }
}
