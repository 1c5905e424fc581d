//! Per-bucket aggregates of a numeric series, answered from block summaries where the
//! pushdown rule of the parent module allows and from decoded points elsewhere.
//!
//! Buckets are aligned to multiples of the bucket width since the epoch: a point at `t` falls
//! into the bucket starting at `t - t.rem_euclid(width)`. Only buckets holding at least one
//! point are returned, in time order.
//!
//! Values are folded as `f64` (`int64` and `uint64` beyond 2^53 round). `min` and `max` skip
//! NaNs unless every value of the bucket is NaN, as block summaries do. Sums are added per
//! block and then per bucket, so they may differ from a point-by-point sum in the last bits.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, TimestampNanosecondArray, UInt64Array};
use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp, Value};

use super::{BlockRef, Sources, arrow};
use crate::codec::Column;
use crate::head::merge_last_wins;
use crate::part::BlockSummary;
use crate::{Db, Error, Result};

/// An aggregate function over the points of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agg {
    /// Points, as `UInt64`.
    Count,
    /// Their sum.
    Sum,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The mean: sum divided by count.
    Avg,
    /// The value with the smallest timestamp.
    First,
    /// The value with the largest timestamp.
    Last,
}

/// The aggregates of a series per time bucket.
#[derive(Debug, Clone)]
pub struct AggregateResult {
    /// The start of every non-empty bucket, ascending, time zone UTC.
    pub buckets: TimestampNanosecondArray,
    /// One array per requested aggregate, in the order asked for, as long as `buckets`:
    /// `UInt64` for [`Agg::Count`], `Float64` for the others.
    pub columns: Vec<(Agg, ArrayRef)>,
}

impl PartialEq for AggregateResult {
    fn eq(&self, other: &Self) -> bool {
        self.buckets == other.buckets
            && self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|((a, x), (b, y))| a == b && x.to_data() == y.to_data())
    }
}

impl AggregateResult {
    /// The array of `agg`, if it was asked for.
    pub fn column(&self, agg: Agg) -> Option<&ArrayRef> {
        self.columns.iter().find(|(a, _)| *a == agg).map(|(_, c)| c)
    }
}

/// The running aggregate of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct State {
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) first: (Timestamp, f64),
    pub(crate) last: (Timestamp, f64),
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
    /// Folds in one point.
    pub(crate) fn add(&mut self, ts: Timestamp, v: f64) {
        self.add_many(1, v, v, v, (ts, v), (ts, v));
    }

    /// Folds in `count` points with sum `sum`, extremes `min` and `max` and the given first and
    /// last points.
    fn add_many(
        &mut self,
        count: u64,
        sum: f64,
        min: f64,
        max: f64,
        first: (Timestamp, f64),
        last: (Timestamp, f64),
    ) {
        if count == 0 {
            return;
        }
        self.count += count;
        self.sum += sum;
        // `x < self.min` is false for NaN, and a NaN minimum is replaced by anything.
        if min < self.min || self.min.is_nan() {
            self.min = min;
        }
        if max > self.max || self.max.is_nan() {
            self.max = max;
        }
        if first.0 < self.first.0 {
            self.first = first;
        }
        if last.0 > self.last.0 {
            self.last = last;
        }
    }

    /// Folds in a block from its summary alone; `false` if the summary holds no numeric
    /// summary of the values.
    fn add_summary(&mut self, s: &BlockSummary) -> bool {
        let Some(v) = &s.values else {
            return false;
        };
        let Some(n) = &v.numeric else {
            return false;
        };
        let (Some(min), Some(max), Some(first), Some(last)) = (
            as_f64(&n.min),
            as_f64(&n.max),
            as_f64(&v.first),
            as_f64(&v.last),
        ) else {
            return false;
        };
        self.add_many(
            u64::from(s.count),
            n.sum,
            min,
            max,
            (s.min_ts, first),
            (s.max_ts, last),
        );
        true
    }

    /// The value of `agg` as `f64`.
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

/// A numeric value as `f64`; `None` for other types.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
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

fn is_numeric(t: DataType) -> bool {
    matches!(
        t,
        DataType::Double
            | DataType::Float
            | DataType::Int32
            | DataType::Int64
            | DataType::Uint32
            | DataType::Uint64
    )
}

/// A numeric column as `f64`s.
fn column_f64(c: Column) -> Vec<f64> {
    match c {
        Column::Double(v) => v,
        Column::Float(v) => v.into_iter().map(f64::from).collect(),
        Column::Int32(v) => v.into_iter().map(f64::from).collect(),
        Column::Int64(v) => v.into_iter().map(|x| x as f64).collect(),
        Column::Uint32(v) => v.into_iter().map(f64::from).collect(),
        Column::Uint64(v) => v.into_iter().map(|x| x as f64).collect(),
        _ => Vec::new(),
    }
}

/// The buckets being filled, by start.
///
/// Blocks and head points mostly come in time order, so buckets are kept in a vector that is
/// appended to, and its last bucket updated, without a lookup. A bucket before the last one
/// (overlapping parts) moves every bucket to a map, which takes any order.
struct Buckets {
    width: i64,
    /// Ascending by start, while `map` is empty.
    sorted: Vec<(Timestamp, State)>,
    /// Every bucket, once one came out of order.
    map: BTreeMap<Timestamp, State>,
}

impl Buckets {
    fn new(width: i64) -> Buckets {
        Buckets {
            width,
            sorted: Vec::new(),
            map: BTreeMap::new(),
        }
    }

    /// Buckets for `range`, with room for as many as it spans (up to a few thousand, so that
    /// an open range costs nothing up front).
    fn for_range(width: i64, range: &Range<Timestamp>) -> Buckets {
        let spans = (range.end.saturating_sub(range.start) / width).saturating_add(1);
        let mut buckets = Buckets::new(width);
        buckets.sorted.reserve(spans.clamp(0, 4_096) as usize);
        buckets
    }

    /// The state of the bucket starting at `start`, created empty if new.
    fn at(&mut self, start: Timestamp) -> &mut State {
        if self.map.is_empty() {
            let last = self.sorted.last().map(|(t, _)| *t);
            match last {
                Some(t) if t == start => {
                    let n = self.sorted.len();
                    return &mut self.sorted[n - 1].1;
                }
                Some(t) if t > start => self.map.extend(self.sorted.drain(..)),
                _ => {
                    self.sorted.push((start, State::default()));
                    let n = self.sorted.len();
                    return &mut self.sorted[n - 1].1;
                }
            }
        }
        self.map.entry(start).or_default()
    }

    /// The buckets, ascending.
    fn into_states(self) -> Vec<(Timestamp, State)> {
        if self.map.is_empty() {
            self.sorted
        } else {
            self.map.into_iter().collect()
        }
    }

    /// The start of the bucket of `ts` (saturating at the edge of time).
    fn start(&self, ts: Timestamp) -> Timestamp {
        ts.saturating_sub(ts.rem_euclid(self.width))
    }

    fn state(&mut self, ts: Timestamp) -> &mut State {
        let start = self.start(ts);
        self.at(start)
    }

    /// Folds sorted `timestamps` with their `values`, one bucket's run at a time.
    fn add_sorted(&mut self, timestamps: &[Timestamp], values: &[f64]) {
        let mut i = 0;
        while i < timestamps.len() {
            let start = self.start(timestamps[i]);
            // Runs are short (a few points a bucket) or long: look a few points ahead, then
            // search.
            let end = match start.checked_add(self.width) {
                Some(end) => {
                    let near = timestamps[i..]
                        .iter()
                        .take(16)
                        .take_while(|&&t| t < end)
                        .count();
                    if near < 16 {
                        i + near
                    } else {
                        i + timestamps[i..].partition_point(|&t| t < end)
                    }
                }
                None => timestamps.len(),
            };
            let state = self.at(start);
            let run = &values[i..end];
            let (mut sum, mut min, mut max) = (0.0, f64::NAN, f64::NAN);
            for &v in run {
                sum += v;
                if v < min || min.is_nan() {
                    min = v;
                }
                if v > max || max.is_nan() {
                    max = v;
                }
            }
            state.add_many(
                run.len() as u64,
                sum,
                min,
                max,
                (timestamps[i], values[i]),
                (timestamps[end - 1], values[end - 1]),
            );
            i = end;
        }
    }

    /// Folds `points` in. They come sorted by time, so one bucket's points are one run: each
    /// run is folded into a state of its own and the bucket looked up once per run, and a
    /// bucket's bounds are worked out once per run rather than for every point.
    fn add_points(&mut self, points: &[Point]) {
        let mut i = 0;
        while i < points.len() {
            let start = self.start(points[i].timestamp);
            let end = start.checked_add(self.width);
            let mut run = State::default();
            while let Some(p) = points.get(i) {
                if p.timestamp < start || end.is_some_and(|end| p.timestamp >= end) {
                    break;
                }
                if let Some(v) = as_f64(&p.value) {
                    run.add(p.timestamp, v);
                }
                i += 1;
            }
            if run.count > 0 {
                self.fold(start, &run);
            }
        }
    }

    /// Folds `state`, the points of one run, into the bucket starting at `start`.
    fn fold(&mut self, start: Timestamp, state: &State) {
        self.at(start).add_many(
            state.count,
            state.sum,
            state.min,
            state.max,
            state.first,
            state.last,
        );
    }
}

/// Builds the result from bucket states.
pub(crate) fn finish(states: &[(Timestamp, State)], aggs: &[Agg]) -> AggregateResult {
    let kept = || states.iter().filter(|(_, s)| s.count > 0);
    let buckets = arrow::timestamps(kept().map(|(t, _)| *t).collect());
    let columns = aggs
        .iter()
        .map(|&agg| {
            let array: ArrayRef = match agg {
                Agg::Count => Arc::new(kept().map(|(_, s)| s.count).collect::<UInt64Array>()),
                _ => Arc::new(kept().map(|(_, s)| s.value(agg)).collect::<Float64Array>()),
            };
            (agg, array)
        })
        .collect();
    AggregateResult { buckets, columns }
}

/// For every block (sorted by first timestamp), whether it is alone in its time span: no
/// other block and no head point in `[min_ts, max_ts]`. Blocks of one part never overlap, so
/// an overlapping block is always another part's.
fn alone(blocks: &[BlockRef<'_>], head: &[Point]) -> Vec<bool> {
    let mut out = vec![true; blocks.len()];
    let mut max_end = Timestamp::MIN;
    for (j, b) in blocks.iter().enumerate() {
        let s = &b.meta.summary;
        let after_earlier = j == 0 || max_end < s.min_ts;
        let before_later = blocks
            .get(j + 1)
            .is_none_or(|n| n.meta.summary.min_ts > s.max_ts);
        let i = head.partition_point(|p| p.timestamp < s.min_ts);
        let head_free = head.get(i).is_none_or(|p| p.timestamp > s.max_ts);
        out[j] = after_earlier && before_later && head_free;
        max_end = max_end.max(s.max_ts);
    }
    out
}

impl Db {
    /// The aggregates `aggs` of numeric series `key` of `org` over the points in `range`, per
    /// bucket of `bucket_ns` nanoseconds aligned to the epoch; only non-empty buckets are
    /// returned. The answer is that of folding the points [`Db::read`] returns; whole blocks
    /// alone in their time span are answered from their summaries (see the module docs).
    ///
    /// Fails with [`Error::InvalidQuery`] if `bucket_ns` is not positive or the series is not
    /// numeric, and otherwise as [`Db::read`] does.
    pub fn aggregate(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        bucket_ns: i64,
        aggs: &[Agg],
    ) -> Result<AggregateResult> {
        if bucket_ns <= 0 {
            return Err(Error::InvalidQuery {
                detail: format!("bucket width {bucket_ns} ns is not positive"),
            });
        }
        let sources = Sources::load(self, org, key, &range, None, crate::Order::Ascending)?;
        let mut buckets = Buckets::for_range(bucket_ns, &range);
        let Some(data_type) = sources.data_type else {
            return Ok(finish(&[], aggs));
        };
        if !is_numeric(data_type) {
            return Err(Error::InvalidQuery {
                detail: format!("cannot aggregate series {key} of type {data_type}: not numeric"),
            });
        }
        let blocks = sources.blocks(org, key, &range);
        let alone = alone(&blocks, &sources.head);
        // Points of blocks that overlap other sources, per part (oldest first), to merge.
        let mut overlapping: Vec<Vec<Point>> = vec![Vec::new(); sources.parts.len()];
        for (b, alone) in blocks.iter().zip(alone) {
            let part = &sources.parts[b.part];
            let s = &b.meta.summary;
            if !alone {
                part.read_block_into(b.meta, data_type, &range, &mut overlapping[b.part])?;
                continue;
            }
            let whole = s.min_ts >= range.start
                && s.max_ts < range.end
                && buckets.start(s.min_ts) == buckets.start(s.max_ts);
            if whole && buckets.state(s.min_ts).add_summary(s) {
                continue;
            }
            let (timestamps, column) = part.read_block(b.meta, data_type)?;
            let from = timestamps.partition_point(|&t| t < range.start);
            let to = timestamps.partition_point(|&t| t < range.end).max(from);
            let values = column_f64(column);
            buckets.add_sorted(&timestamps[from..to], &values[from..to]);
        }
        if overlapping.iter().all(Vec::is_empty) {
            buckets.add_points(&sources.head);
        } else {
            overlapping.push(sources.head);
            buckets.add_points(&merge_last_wins(overlapping));
        }
        Ok(finish(&buckets.into_states(), aggs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buckets filled in order, then out of order (as overlapping parts do), give the same
    /// states as a map filled in any order.
    #[test]
    fn buckets_in_and_out_of_order_agree_with_a_map() {
        let runs: [(i64, f64); 8] = [
            (0, 1.0),
            (5, 2.0),
            (12, 3.0),
            (31, 4.0),
            (7, 5.0),
            (40, 6.0),
            (31, 7.0),
            (-3, 8.0),
        ];
        let mut buckets = Buckets::new(10);
        let mut map: BTreeMap<Timestamp, State> = BTreeMap::new();
        for (i, &(t, v)) in runs.iter().enumerate() {
            buckets.state(t).add(t, v);
            map.entry(t.div_euclid(10) * 10).or_default().add(t, v);
            if i == 3 {
                // Still in order so far: no map yet.
                assert!(buckets.map.is_empty());
            }
        }
        let expected: Vec<(Timestamp, State)> = map.into_iter().collect();
        assert_eq!(buckets.into_states(), expected);
    }
}
