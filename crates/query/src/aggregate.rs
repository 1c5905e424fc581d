//! Time buckets and the general aggregators, in nanoseconds.
//!
//! [`Buckets`] cut time into intervals of a fixed width from an origin: bucket `k` spans
//! `[origin + k·width, origin + (k+1)·width)`, for every integer `k`, so a point at `t`
//! falls into the bucket starting at `origin + ⌊(t − origin) / width⌋·width`. The default
//! origin is the epoch. Only buckets holding at least one point are returned, ascending, each
//! stamped with its start.
//!
//! The aggregators ([`Agg`]) are count, sum, min, max, avg (sum / count), first (the value
//! of the smallest timestamp) and last (of the largest). Values are folded as `f64`; `min`
//! and `max` skip NaNs unless every value of the bucket is NaN. Count is `UInt64`, the others
//! `Float64`. Count applies to series of any type, the others to numeric series only
//! ([`Error::NotNumeric`] otherwise).
//!
//! # Two ways to the same answer
//!
//! When the buckets are aligned to the epoch (the origin is a multiple of the width) and the
//! series is numeric, the store computes the aggregates itself ([`Store::aggregate`]),
//! answering whole part blocks from their index summaries without decoding them. Otherwise
//! this module folds the points it reads, in chunks, so memory stays bounded. Both give the
//! answer of folding the points a read returns; sums may differ in the last bits, since the
//! store adds per block first.
//!
//! Protocols with their own bucket rules (KairosDB's origin at the query start, truncation
//! toward zero, calendar units) keep them; they use this module only where their rules
//! reduce to these buckets.
//!
//! [`Store::aggregate`]: sextant_storage::Store::aggregate

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, TimestampNanosecondArray, UInt64Array};
use sextant_model::{DataType, SeriesKey, Timestamp, Value};
use sextant_storage::{AggregateResult, Order};

use crate::scan::{Series, SeriesRef};
use crate::{Error, Reader, Result};

pub use sextant_storage::Agg;

/// Points read at a time when this module folds points itself.
const CHUNK: usize = 65_536;

/// Fixed-width time buckets from an origin. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    width: i64,
    origin: Timestamp,
}

impl Buckets {
    /// Buckets of `width` nanoseconds aligned to the epoch.
    ///
    /// Fails with [`Error::BucketWidth`] unless `width` is positive.
    pub fn new(width: i64) -> Result<Buckets> {
        if width <= 0 {
            return Err(Error::BucketWidth { width });
        }
        Ok(Buckets { width, origin: 0 })
    }

    /// The same width, with a bucket starting at `origin`.
    pub fn with_origin(self, origin: Timestamp) -> Buckets {
        Buckets { origin, ..self }
    }

    /// The width in nanoseconds.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// The start of the bucket holding `t`, saturating at the edges of time.
    pub fn start_of(&self, t: Timestamp) -> Timestamp {
        let (t, o, w) = (
            i128::from(t),
            i128::from(self.origin),
            i128::from(self.width),
        );
        let start = o + (t - o).div_euclid(w) * w;
        i64::try_from(start).unwrap_or(if start < 0 { i64::MIN } else { i64::MAX })
    }

    /// Whether every bucket starts at a multiple of the width since the epoch, as the
    /// store's own aggregation buckets do.
    pub fn epoch_aligned(&self) -> bool {
        self.origin.rem_euclid(self.width) == 0
    }
}

/// A request for aggregates per time bucket.
#[derive(Debug, Clone)]
pub struct Aggregation {
    /// Which series.
    pub series: Series,
    /// Nanoseconds since the epoch, `[start, end)`.
    pub range: Range<Timestamp>,
    /// How time is cut.
    pub buckets: Buckets,
    /// The aggregates wanted, in the order of the result's columns.
    pub aggs: Vec<Agg>,
}

/// The aggregates of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesAggregates {
    /// The series.
    pub key: SeriesKey,
    /// Its type.
    pub data_type: DataType,
    /// Bucket starts and one column per aggregate asked for.
    pub result: AggregateResult,
}

/// Series per thread below which a request is aggregated on one thread: starting a thread
/// costs about as much as folding a few thousand points.
const SERIES_PER_THREAD: usize = 8;

pub(crate) fn run(reader: &Reader<'_>, request: &Aggregation) -> Result<Vec<SeriesAggregates>> {
    let series = request.series.resolve(reader);
    // Buckets held so far over every thread, against the reader's limit.
    let held = std::sync::atomic::AtomicUsize::new(0);
    let each = |part: &[SeriesRef]| -> Result<Vec<SeriesAggregates>> {
        let mut out = Vec::with_capacity(part.len());
        for s in part {
            reader.proceed()?;
            let result = series_aggregates(reader, s, request, false)?;
            if let Some((limit, hint)) = reader.max_points {
                let n = result.buckets.len();
                let before = held.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                if before.saturating_add(n) > limit {
                    return Err(Error::TooManyBuckets {
                        limit,
                        hint: hint.to_owned(),
                    });
                }
            }
            out.push(SeriesAggregates {
                key: s.key.clone(),
                data_type: s.data_type,
                result,
            });
        }
        Ok(out)
    };
    // Series are independent: spread them over the cores, keeping their order.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(series.len() / SERIES_PER_THREAD).max(1);
    if threads == 1 {
        return each(&series);
    }
    let chunk = series.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = series
            .chunks(chunk)
            .map(|part| scope.spawn(move || each(part)))
            .collect();
        let mut out = Vec::with_capacity(series.len());
        for part in parts {
            match part.join() {
                Ok(results) => out.extend(results?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

/// The aggregates of one series; `fold` forces folding points here (for tests that compare
/// both ways).
fn series_aggregates(
    reader: &Reader<'_>,
    s: &SeriesRef,
    request: &Aggregation,
    fold: bool,
) -> Result<AggregateResult> {
    let numeric = s.data_type.is_numeric();
    if !numeric && let Some(&agg) = request.aggs.iter().find(|&&a| a != Agg::Count) {
        return Err(Error::NotNumeric {
            agg,
            series: s.key.to_string(),
            data_type: s.data_type,
        });
    }
    if numeric && request.buckets.epoch_aligned() && !fold {
        // The fast path: block summaries where the store can use them.
        return match reader.store().aggregate(
            reader.org(),
            &s.key,
            request.range.clone(),
            request.buckets.width,
            &request.aggs,
        ) {
            Ok(r) => Ok(r),
            Err(sextant_storage::Error::SeriesNotFound { .. }) => {
                Ok(finish(&BTreeMap::new(), &request.aggs))
            }
            Err(e) => Err(e.into()),
        };
    }
    let mut states: BTreeMap<Timestamp, State> = BTreeMap::new();
    let mut from = request.range.start;
    while from < request.range.end {
        reader.proceed()?;
        let points = match reader.store().read_limited(
            reader.org(),
            &s.key,
            from..request.range.end,
            Some(CHUNK),
            Order::Ascending,
        ) {
            Ok(p) => p,
            Err(sextant_storage::Error::SeriesNotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        for p in &points {
            let state = states
                .entry(request.buckets.start_of(p.timestamp))
                .or_default();
            match as_f64(&p.value) {
                Some(v) => state.add(p.timestamp, v),
                None => state.count += 1,
            }
        }
        match points.last() {
            Some(last) if points.len() == CHUNK => match last.timestamp.checked_add(1) {
                Some(next) => from = next,
                None => break,
            },
            _ => break,
        }
    }
    Ok(finish(&states, &request.aggs))
}

/// A numeric value as `f64`; `None` for other types.
fn as_f64(v: &Value) -> Option<f64> {
    Some(match *v {
        Value::Double(x) => x,
        Value::Float(x) => f64::from(x),
        Value::Int32(x) => f64::from(x),
        Value::Int64(x) => x as f64,
        Value::Uint32(x) => f64::from(x),
        Value::Uint64(x) => x as f64,
        _ => return None,
    })
}

/// The running aggregate of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: (Timestamp, f64),
    last: (Timestamp, f64),
}

impl Default for State {
    fn default() -> Self {
        State {
            count: 0,
            sum: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            first: (Timestamp::MAX, f64::NAN),
            last: (Timestamp::MIN, f64::NAN),
        }
    }
}

impl State {
    fn add(&mut self, t: Timestamp, v: f64) {
        self.count += 1;
        self.sum += v;
        // `v < self.min` is false for NaN, and a NaN minimum is replaced by anything.
        if v < self.min || self.min.is_nan() {
            self.min = v;
        }
        if v > self.max || self.max.is_nan() {
            self.max = v;
        }
        // Points arrive in time order, one per timestamp; the comparisons keep this right
        // whatever the order.
        if t < self.first.0 {
            self.first = (t, v);
        }
        if t >= self.last.0 {
            self.last = (t, v);
        }
    }

    fn value(&self, agg: Agg) -> f64 {
        match agg {
            Agg::Count => self.count as f64,
            Agg::Sum => self.sum,
            Agg::Min => self.min,
            Agg::Max => self.max,
            Agg::Avg => self.sum / self.count as f64,
            Agg::First => self.first.1,
            Agg::Last => self.last.1,
        }
    }
}

fn finish(states: &BTreeMap<Timestamp, State>, aggs: &[Agg]) -> AggregateResult {
    let buckets = TimestampNanosecondArray::from(states.keys().copied().collect::<Vec<_>>())
        .with_timezone("UTC");
    let columns = aggs
        .iter()
        .map(|&agg| {
            let array: ArrayRef = match agg {
                Agg::Count => Arc::new(states.values().map(|s| s.count).collect::<UInt64Array>()),
                _ => Arc::new(
                    states
                        .values()
                        .map(|s| s.value(agg))
                        .collect::<Float64Array>(),
                ),
            };
            (agg, array)
        })
        .collect();
    AggregateResult { buckets, columns }
}

#[cfg(test)]
mod tests;
