//! Typed reads and aggregation pushdown: the read path as Arrow arrays, and per-bucket
//! aggregates that answer whole part blocks from their index summaries.
//!
//! Both [`Db::read_arrow`] and [`Db::aggregate`] see exactly the points [`Db::read`] returns:
//! the head and the parts merged, one point per timestamp, the newest write's (the head wins
//! over parts, a newer part over an older one).
//!
//! # Reads with a limit
//!
//! Part blocks are visited in the requested time order (by first timestamp ascending, by last
//! timestamp descending) and decoded one at a time. After each, every block not yet decoded
//! starts at or after (ends at or before) the next block's bound, so once one source alone
//! holds `limit` distinct points before that bound, no later block can change the first
//! `limit` points of the merge and decoding stops.
//!
//! # The pushdown rule
//!
//! A part block's index summary (count, sum, min, max, first, last) is used instead of its
//! points when all of the following hold:
//!
//! 1. the block lies wholly inside the query range,
//! 2. its first and last timestamp fall into the same bucket, and
//! 3. it is **alone in its time span**: no other source holds data in
//!    `[min_ts, max_ts]` of the block — no block of the series in another part overlaps that
//!    span, and the head holds no point in it.
//!
//! Rule 3 is symmetric on purpose. A newer source overlapping the block may replace some of
//! its points, so its summary would count superseded values; an older source overlapping it
//! has points that the block replaces at equal timestamps, which only the block's decoded
//! timestamps can tell. So every block in an overlap is decoded, and the decoded points of all
//! overlapping blocks and the head are merged newest-wins before they are folded. Blocks that
//! are alone but straddle a bucket boundary or the range's edge are decoded and folded
//! directly, without a merge. The overlap test uses block spans from the index, so it may
//! decode a block needlessly (spans overlap but timestamps do not), never trust one wrongly.

mod aggregate;
mod arrow;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{ArrayRef, TimestampNanosecondArray};
use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp};

use crate::head::merge_last_wins;
use crate::part::{BlockMeta, Part};
use crate::{Db, Result};

pub use aggregate::{Agg, AggregateResult};
pub use arrow::arrow_type;

#[cfg(test)]
thread_local! {
    /// Points this thread's reads took out of the head or decoded from part blocks, so that
    /// tests can tell what a read cost, not only what it returned.
    pub(crate) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts `n` points taken out of the head or decoded, in tests.
#[inline]
pub(crate) fn note_scanned(n: usize) {
    #[cfg(test)]
    SCANNED.with(|c| c.set(c.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

/// The order of the points a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// The points of one series as Arrow arrays of equal length.
#[derive(Debug, Clone)]
pub struct ArrowPoints {
    /// Nanoseconds since the epoch, time zone `"UTC"`.
    pub timestamps: TimestampNanosecondArray,
    /// The values, of the Arrow type [`arrow_type`] gives for the series' data type; of type
    /// `Null` for a series that holds no point anywhere (its type is then not at hand).
    pub values: ArrayRef,
}

impl PartialEq for ArrowPoints {
    fn eq(&self, other: &Self) -> bool {
        self.timestamps == other.timestamps && self.values.to_data() == other.values.to_data()
    }
}

impl ArrowPoints {
    /// `points` of `data_type` as Arrow arrays; a value of another type becomes a null.
    pub fn from_points(data_type: DataType, points: &[Point]) -> Self {
        arrow::to_arrow(Some(data_type), points)
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}

/// A block of a part, by the part's position in the snapshot (oldest first).
#[derive(Debug, Clone, Copy)]
struct BlockRef<'a> {
    part: usize,
    meta: &'a BlockMeta,
}

/// What a read starts from: the head's points in range, a snapshot of the parts and the
/// blocks of the series that overlap the range, sorted by first timestamp.
struct Sources {
    head: Vec<Point>,
    parts: Vec<Arc<Part>>,
    data_type: Option<DataType>,
}

impl Sources {
    /// The sources of a read of `range`; with a `limit`, the head contributes only its first
    /// `limit` points in `order` (which is all a read cut to `limit` can use), so that a
    /// limited read costs what it returns rather than the head's whole range.
    fn load(
        db: &Db,
        org: OrgId,
        key: &SeriesKey,
        range: &Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Sources> {
        // The head first, then the parts, as `Db::read` does: a flush publishes parts before
        // it releases the frozen points, so in this order no point is missed.
        let head = db
            .head()
            .read_limited(org, key, range.clone(), limit, order)?;
        let parts = db.parts();
        let mut data_type = db
            .head()
            .data_type(org, key)
            .or_else(|| head.first().map(|p| p.value.data_type()));
        if data_type.is_none() {
            data_type = parts
                .iter()
                .find_map(|p| p.get(org, key))
                .map(|s| s.data_type);
        }
        if data_type.is_none() {
            data_type = db
                .head()
                .read(org, key, Timestamp::MIN..Timestamp::MAX)?
                .first()
                .map(|p| p.value.data_type());
        }
        Ok(Sources {
            head,
            parts,
            data_type,
        })
    }

    /// The blocks of the series overlapping `range`, sorted by first timestamp.
    fn blocks(&self, org: OrgId, key: &SeriesKey, range: &Range<Timestamp>) -> Vec<BlockRef<'_>> {
        let mut blocks = Vec::new();
        if range.start >= range.end {
            return blocks;
        }
        for (i, p) in self.parts.iter().enumerate() {
            let (min, max) = p.time_range();
            if max < range.start || min >= range.end {
                continue;
            }
            let Some(series) = p.get(org, key) else {
                continue;
            };
            for meta in series.blocks {
                let s = &meta.summary;
                if s.max_ts >= range.start && s.min_ts < range.end {
                    blocks.push(BlockRef { part: i, meta });
                }
            }
        }
        blocks.sort_by_key(|b| b.meta.summary.min_ts);
        blocks
    }
}

/// What a read returns of each point: the point, or only its timestamp.
trait Timed {
    fn timestamp(&self) -> Timestamp;
}

impl Timed for Point {
    fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
}

impl Timed for Timestamp {
    fn timestamp(&self) -> Timestamp {
        *self
    }
}

/// How many of the sorted `points` lie before `bound` in `order` (strictly earlier when
/// ascending, strictly later when descending).
fn count_before<T: Timed>(points: &[T], bound: Timestamp, order: Order) -> usize {
    match order {
        Order::Ascending => points.partition_point(|p| p.timestamp() < bound),
        Order::Descending => points.len() - points.partition_point(|p| p.timestamp() <= bound),
    }
}

impl Db {
    /// The points of series `key` of `org` with timestamps in `range` as typed Arrow arrays,
    /// in `order`, at most `limit` of them (the first ones in that order): the points
    /// [`Db::read`] returns, converted. Stops decoding part blocks once the limit is certain.
    ///
    /// Fails as [`Db::read`] does.
    pub fn read_arrow(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<ArrowPoints> {
        let (data_type, points) = self.read_ordered(org, key, range, limit, order)?;
        Ok(arrow::to_arrow(data_type, &points))
    }

    /// The points of series `key` of `org` with timestamps in `range`, in `order`, at most
    /// `limit` of them (the first ones in that order): [`Db::read`]'s points, reversed for
    /// [`Order::Descending`] and cut to the limit, with part blocks decoded only until the
    /// limit is certain.
    ///
    /// Fails as [`Db::read`] does.
    pub fn read_limited(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Point>> {
        Ok(self.read_ordered(org, key, range, limit, order)?.1)
    }

    /// The timestamps of the points [`Db::read_limited`] returns, without decoding any value:
    /// what finding a series' resolution or gaps needs. Blocks are read and checked as any read
    /// does.
    ///
    /// Fails as [`Db::read`] does.
    pub fn read_timestamps(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Timestamp>> {
        let sources = Sources::load(self, org, key, &range, limit, order)?;
        let head = sources.head.iter().map(|p| p.timestamp).collect();
        let decode = |part: &Part, block: &BlockMeta, _: DataType, out: &mut Vec<Timestamp>| {
            part.read_block_timestamps_into(block, &range, out)
        };
        let merge = |all: Vec<Vec<Timestamp>>| {
            let mut merged: Vec<Timestamp> = all.into_iter().flatten().collect();
            merged.sort_unstable();
            merged.dedup();
            merged
        };
        Self::ordered(
            &sources, head, org, key, &range, limit, order, decode, merge,
        )
    }

    fn read_ordered(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<(Option<DataType>, Vec<Point>)> {
        let mut sources = Sources::load(self, org, key, &range, limit, order)?;
        let head = std::mem::take(&mut sources.head);
        let decode = |part: &Part, block: &BlockMeta, dt: DataType, out: &mut Vec<Point>| {
            part.read_block_into(block, dt, &range, out)
        };
        let points = Self::ordered(
            &sources,
            head,
            org,
            key,
            &range,
            limit,
            order,
            decode,
            merge_last_wins,
        )?;
        Ok((sources.data_type, points))
    }

    /// The read of `sources` in `order` cut to `limit`: part blocks decoded by `decode` in
    /// that order until the limit is certain, then merged with the head's `head` by `merge`.
    #[allow(clippy::too_many_arguments)]
    fn ordered<T: Timed>(
        sources: &Sources,
        head: Vec<T>,
        org: OrgId,
        key: &SeriesKey,
        range: &Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
        decode: impl Fn(&Part, &BlockMeta, DataType, &mut Vec<T>) -> Result<()>,
        merge: impl FnOnce(Vec<Vec<T>>) -> Vec<T>,
    ) -> Result<Vec<T>> {
        let mut blocks = sources.blocks(org, key, range);
        if order == Order::Descending {
            blocks.sort_by_key(|b| std::cmp::Reverse(b.meta.summary.max_ts));
        }
        // Decoded points per part, each chunk one block's, in visiting order.
        let mut decoded: Vec<Vec<(Timestamp, Vec<T>)>> =
            (0..sources.parts.len()).map(|_| Vec::new()).collect();
        if limit != Some(0) {
            for (j, b) in blocks.iter().enumerate() {
                let Some(dt) = sources.data_type else { break };
                let mut points = Vec::new();
                decode(&sources.parts[b.part], b.meta, dt, &mut points)?;
                note_scanned(b.meta.summary.count as usize);
                decoded[b.part].push((b.meta.summary.min_ts, points));
                let (Some(limit), Some(next)) = (limit, blocks.get(j + 1)) else {
                    continue;
                };
                let bound = match order {
                    Order::Ascending => next.meta.summary.min_ts,
                    Order::Descending => next.meta.summary.max_ts,
                };
                let mut sure = count_before(&head, bound, order);
                for chunks in &decoded {
                    let n: usize = chunks
                        .iter()
                        .map(|(_, c)| count_before(c, bound, order))
                        .sum();
                    sure = sure.max(n);
                }
                if sure >= limit {
                    break;
                }
            }
        }
        let mut merged = if limit == Some(0) {
            Vec::new()
        } else {
            let mut all: Vec<Vec<T>> = decoded
                .into_iter()
                .map(|mut chunks| {
                    chunks.sort_by_key(|(min, _)| *min);
                    chunks.into_iter().flat_map(|(_, c)| c).collect()
                })
                .collect();
            all.push(head);
            merge(all)
        };
        if order == Order::Descending {
            merged.reverse();
        }
        if let Some(limit) = limit {
            merged.truncate(limit);
        }
        Ok(merged)
    }
}
