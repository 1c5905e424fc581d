//! One series in memory: its identity, its type for life, and its points sorted by time in
//! typed columns.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use parking_lot::Mutex;
use sextant_model::{DataType, OrgId, Point, SeriesId, SeriesKey, Timestamp, Value};

/// Batches of at least this many points that land among the held points are merged in one
/// pass rather than inserted one by one.
const MERGE_MIN_POINTS: usize = 16;

/// A series held by the head.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub(crate) id: SeriesId,
    pub(crate) org: OrgId,
    pub(crate) key: SeriesKey,
    pub(crate) data_type: DataType,
    pub(crate) data: Mutex<SeriesData>,
    /// Points taken out of `data` by a flush that has not finished writing them to parts;
    /// older than every point of `data`'s with the same timestamp. Lock `data` first.
    pub(crate) frozen: Mutex<Option<Arc<SeriesData>>>,
    /// Set when a deletion left the series with no point anywhere, so that selections and
    /// listings skip it; the next write clears it. The series keeps its id and type.
    pub(crate) hidden: AtomicBool,
}

impl MemSeries {
    pub(crate) fn new(id: SeriesId, org: OrgId, key: SeriesKey, data_type: DataType) -> Self {
        MemSeries {
            id,
            org,
            key,
            data_type,
            data: Mutex::new(SeriesData::new(data_type)),
            frozen: Mutex::new(None),
            hidden: AtomicBool::new(false),
        }
    }

    /// Bytes held besides the points: the key, twice (once in the index), and fixed overhead.
    pub(crate) fn overhead_bytes(&self) -> usize {
        2 * self.key.heap_size() + std::mem::size_of::<Self>() + 64
    }
}

macro_rules! columns {
    ($($variant:ident($t:ty)),* $(,)?) => {
        /// The values of a series, in a vector of their own type.
        #[derive(Debug)]
        enum Column {
            $($variant(Vec<$t>),)*
        }

        impl Column {
            fn new(data_type: DataType) -> Self {
                match data_type {
                    $(DataType::$variant => Column::$variant(Vec::new()),)*
                }
            }

            /// Inserts `value` at `index`; `false` if its type is not the column's.
            fn insert(&mut self, index: usize, value: Value) -> bool {
                match (self, value) {
                    $((Column::$variant(c), Value::$variant(v)) => c.insert(index, v),)*
                    _ => return false,
                }
                true
            }

            /// Replaces the value at `index`; `false` if its type is not the column's.
            fn set(&mut self, index: usize, value: Value) -> bool {
                match (self, value) {
                    $((Column::$variant(c), Value::$variant(v)) => c[index] = v,)*
                    _ => return false,
                }
                true
            }

            fn get(&self, index: usize) -> Value {
                match self {
                    $(Column::$variant(c) => Value::$variant(c[index].clone()),)*
                }
            }

            /// The points at `positions`, with their timestamps from `timestamps`: one loop
            /// per column type rather than a type dispatch per point.
            fn points(&self, timestamps: &[Timestamp], positions: Range<usize>) -> Vec<Point> {
                let timestamps = &timestamps[positions.clone()];
                match self {
                    $(Column::$variant(c) => timestamps
                        .iter()
                        .zip(&c[positions])
                        .map(|(&t, v)| Point::new(t, Value::$variant(v.clone())))
                        .collect(),)*
                }
            }

            /// Appends every value; the number of values whose type is not the column's,
            /// which are skipped.
            fn extend(&mut self, points: &[Point]) -> usize {
                let mut mismatched = 0;
                match self {
                    $(Column::$variant(c) => {
                        c.reserve(points.len());
                        for p in points {
                            match &p.value {
                                Value::$variant(v) => c.push(v.clone()),
                                _ => mismatched += 1,
                            }
                        }
                    })*
                }
                mismatched
            }

            fn truncate(&mut self, len: usize) {
                match self {
                    $(Column::$variant(c) => c.truncate(len),)*
                }
            }

            /// Appends `value`; `false` if its type is not the column's.
            fn push(&mut self, value: Value) -> bool {
                match (self, value) {
                    $((Column::$variant(c), Value::$variant(v)) => c.push(v),)*
                    _ => return false,
                }
                true
            }

            /// Splits off the values from `at` on.
            fn split_off(&mut self, at: usize) -> Column {
                match self {
                    $(Column::$variant(c) => Column::$variant(c.split_off(at)),)*
                }
            }

            /// Whether `value` has the column's type.
            fn accepts(&self, value: &Value) -> bool {
                matches!((self, value), $((Column::$variant(_), Value::$variant(_)))|*)
            }

            /// The values at `range` as a codec column.
            fn codec_column(&self, range: Range<usize>) -> crate::codec::Column {
                match self {
                    $(Column::$variant(c) => crate::codec::Column::$variant(c[range].to_vec()),)*
                }
            }

            fn capacity_bytes(&self) -> usize {
                match self {
                    $(Column::$variant(c) => c.capacity() * std::mem::size_of::<$t>(),)*
                }
            }
        }
    };
}

columns!(
    Double(f64),
    Float(f32),
    String(String),
    Bool(bool),
    Int32(i32),
    Int64(i64),
    Uint32(u32),
    Uint64(u64),
    Enum(u32),
    BitField(u64),
    Bytes(Vec<u8>),
);

/// The bytes a value holds on the heap.
fn value_heap_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        _ => 0,
    }
}

/// A series' points, sorted by timestamp, one value per timestamp.
#[derive(Debug)]
pub(crate) struct SeriesData {
    timestamps: Vec<Timestamp>,
    values: Column,
    /// Heap bytes of string and bytes values.
    value_heap: usize,
    /// The newest timestamp ever inserted, kept when the points are taken by a flush, so that
    /// the out-of-order window still applies.
    newest: Option<Timestamp>,
}

impl SeriesData {
    fn new(data_type: DataType) -> Self {
        SeriesData {
            timestamps: Vec::new(),
            values: Column::new(data_type),
            value_heap: 0,
            newest: None,
        }
    }

    /// The newest timestamp inserted, if any, even if a flush has taken the point since.
    pub(crate) fn max_timestamp(&self) -> Option<Timestamp> {
        self.newest.max(self.timestamps.last().copied())
    }

    /// Raises the newest timestamp seen to `ts`, for points held elsewhere (in parts).
    pub(crate) fn note_newest(&mut self, ts: Timestamp) {
        self.newest = self.newest.max(Some(ts));
    }

    /// Moves the points out into a new `SeriesData`, leaving this one empty (but remembering
    /// its newest timestamp).
    pub(crate) fn take(&mut self, data_type: DataType) -> SeriesData {
        self.newest = self.max_timestamp();
        let mut taken = std::mem::replace(self, SeriesData::new(data_type));
        self.newest = taken.newest;
        taken.newest = None;
        taken
    }

    /// `older` with the points of `newer` inserted over it (last write wins).
    pub(crate) fn overlay(older: &SeriesData, newer: &SeriesData, data_type: DataType) -> Self {
        let mut out = SeriesData::new(data_type);
        out.insert(&older.points_at(0..older.len()));
        out.insert(&newer.points_at(0..newer.len()));
        out
    }

    /// How many points have timestamps in `range`.
    pub(crate) fn count_in(&self, range: &Range<Timestamp>) -> usize {
        let start = self.timestamps.partition_point(|&t| t < range.start);
        let end = self.timestamps.partition_point(|&t| t < range.end);
        end.saturating_sub(start)
    }

    /// A copy without the points whose timestamps are in `range`, remembering the same newest
    /// timestamp.
    pub(crate) fn without(&self, range: &Range<Timestamp>, data_type: DataType) -> SeriesData {
        let start = self.timestamps.partition_point(|&t| t < range.start);
        let end = self
            .timestamps
            .partition_point(|&t| t < range.end)
            .max(start);
        let mut out = SeriesData::new(data_type);
        out.insert(&self.points_at(0..start));
        out.insert(&self.points_at(end..self.len()));
        out.newest = self.max_timestamp();
        out
    }

    /// The timestamps, sorted and distinct.
    pub(crate) fn timestamps(&self) -> &[Timestamp] {
        &self.timestamps
    }

    /// The values at positions `range`, as a codec column.
    pub(crate) fn codec_column(&self, range: Range<usize>) -> crate::codec::Column {
        self.values.codec_column(range)
    }

    pub(crate) fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Inserts points in the order given: a point with a timestamp already held replaces it
    /// (last write wins). Values of the wrong type are skipped and counted; validation and the
    /// series registry make that impossible, so a count above zero is a bug.
    pub(crate) fn insert(&mut self, points: &[Point]) -> usize {
        let after_last = match (self.timestamps.last(), points.first()) {
            (Some(&last), Some(first)) => first.timestamp > last,
            _ => true,
        };
        if after_last && points.windows(2).all(|w| w[0].timestamp < w[1].timestamp) {
            // The common case, points newer than any held and in order, appends in bulk.
            let mismatched = self.values.extend(points);
            if mismatched == 0 {
                self.timestamps.extend(points.iter().map(|p| p.timestamp));
                self.value_heap += points
                    .iter()
                    .map(|p| value_heap_bytes(&p.value))
                    .sum::<usize>();
                return 0;
            }
            // Unreachable after validation; undo the partial append and take the careful path.
            self.values.truncate(self.timestamps.len());
        }
        if points.len() >= MERGE_MIN_POINTS {
            return self.merge(points);
        }
        let mut mismatched = 0;
        self.timestamps.reserve(points.len());
        for p in points {
            let heap = value_heap_bytes(&p.value);
            let ok = match self.timestamps.last() {
                Some(&last) if p.timestamp <= last => {
                    match self.timestamps.binary_search(&p.timestamp) {
                        Ok(i) => {
                            let old = value_heap_bytes(&self.values.get(i));
                            let ok = self.values.set(i, p.value.clone());
                            if ok {
                                self.value_heap = self.value_heap - old + heap;
                            }
                            ok
                        }
                        Err(i) => {
                            let ok = self.values.insert(i, p.value.clone());
                            if ok {
                                self.timestamps.insert(i, p.timestamp);
                                self.value_heap += heap;
                            }
                            ok
                        }
                    }
                }
                _ => {
                    let i = self.timestamps.len();
                    let ok = self.values.insert(i, p.value.clone());
                    if ok {
                        self.timestamps.push(p.timestamp);
                        self.value_heap += heap;
                    }
                    ok
                }
            };
            if !ok {
                mismatched += 1;
            }
        }
        mismatched
    }

    /// Merges points that land among those held in one pass: sorted (stably, so the last of
    /// equal timestamps wins), then merged with the held points from the first incoming
    /// timestamp on. Costs O(held after that point + incoming), where inserting one by one
    /// would shift the columns once per point.
    fn merge(&mut self, points: &[Point]) -> usize {
        let mut incoming: Vec<&Point> = points
            .iter()
            .filter(|p| self.values.accepts(&p.value))
            .collect();
        let mismatched = points.len() - incoming.len();
        incoming.sort_by_key(|p| p.timestamp);
        // Keep the last of each run of equal timestamps.
        let mut deduped: Vec<&Point> = Vec::with_capacity(incoming.len());
        for p in incoming {
            match deduped.last_mut() {
                Some(last) if last.timestamp == p.timestamp => *last = p,
                _ => deduped.push(p),
            }
        }
        let Some(first) = deduped.first().map(|p| p.timestamp) else {
            return mismatched;
        };
        let cut = self.timestamps.partition_point(|t| *t < first);
        let held_timestamps = self.timestamps.split_off(cut);
        let held_values = self.values.split_off(cut);
        self.timestamps
            .reserve(held_timestamps.len() + deduped.len());
        let (mut i, mut j) = (0, 0);
        while i < held_timestamps.len() || j < deduped.len() {
            let take_held = j == deduped.len()
                || (i < held_timestamps.len() && held_timestamps[i] < deduped[j].timestamp);
            if take_held {
                self.timestamps.push(held_timestamps[i]);
                self.values.push(held_values.get(i));
                i += 1;
                continue;
            }
            let p = deduped[j];
            if i < held_timestamps.len() && held_timestamps[i] == p.timestamp {
                // Last write wins: the incoming point replaces the held one.
                self.value_heap -= value_heap_bytes(&held_values.get(i));
                i += 1;
            }
            self.timestamps.push(p.timestamp);
            self.values.push(p.value.clone());
            self.value_heap += value_heap_bytes(&p.value);
            j += 1;
        }
        mismatched
    }

    /// The points with timestamps in `range`, in time order.
    pub(crate) fn read(&self, range: Range<Timestamp>) -> Vec<Point> {
        let start = self.timestamps.partition_point(|&t| t < range.start);
        let end = self.timestamps.partition_point(|&t| t < range.end);
        self.points_at(start..end.max(start))
    }

    /// The first `limit` points with timestamps in `range` in `order`, in time order:
    /// [`SeriesData::read`] cut to the limit without taking out the points past it, so
    /// that a limited read costs the points it returns, not the range.
    pub(crate) fn read_limited(
        &self,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: crate::Order,
    ) -> Vec<Point> {
        let mut start = self.timestamps.partition_point(|&t| t < range.start);
        let mut end = self
            .timestamps
            .partition_point(|&t| t < range.end)
            .max(start);
        if let Some(limit) = limit {
            match order {
                crate::Order::Ascending => end = end.min(start.saturating_add(limit)),
                crate::Order::Descending => start = start.max(end.saturating_sub(limit)),
            }
        }
        self.points_at(start..end)
    }

    fn points_at(&self, positions: Range<usize>) -> Vec<Point> {
        crate::read::note_scanned(positions.len());
        self.values.points(&self.timestamps, positions)
    }

    /// An estimate of the heap bytes the points hold.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.timestamps.capacity() * std::mem::size_of::<Timestamp>()
            + self.values.capacity_bytes()
            + self.value_heap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(ts: &[(i64, f64)]) -> Vec<Point> {
        ts.iter()
            .map(|&(t, v)| Point::new(t, Value::Double(v)))
            .collect()
    }

    #[test]
    fn inserts_sort_and_last_write_wins() {
        let mut d = SeriesData::new(DataType::Double);
        assert_eq!(
            d.insert(&points(&[(10, 1.0), (30, 3.0), (20, 2.0), (30, 3.5)])),
            0
        );
        assert_eq!(d.insert(&points(&[(5, 0.5), (10, 1.5)])), 0);
        assert_eq!(
            d.read(i64::MIN..i64::MAX),
            points(&[(5, 0.5), (10, 1.5), (20, 2.0), (30, 3.5)])
        );
        assert_eq!(d.read(10..30), points(&[(10, 1.5), (20, 2.0)]));
        let (start, end) = (30, 10);
        assert_eq!(d.read(start..end), vec![]);
        assert_eq!(d.max_timestamp(), Some(30));
    }

    proptest::proptest! {
        /// Batches of any size and order, merged or inserted one by one, agree with a sorted
        /// map where the last write of a timestamp wins; the heap estimate follows.
        #[test]
        fn batches_agree_with_a_last_write_wins_model(
            batches in proptest::collection::vec(
                proptest::collection::vec((0i64..200, 0u32..1000), 0..60),
                1..8,
            )
        ) {
            let mut d = SeriesData::new(DataType::String);
            let mut model = std::collections::BTreeMap::new();
            for batch in &batches {
                let points: Vec<Point> = batch
                    .iter()
                    .map(|(t, v)| Point::new(*t, Value::String(v.to_string())))
                    .collect();
                proptest::prop_assert_eq!(d.insert(&points), 0);
                for (t, v) in batch {
                    model.insert(*t, v.to_string());
                }
            }
            let expected: Vec<Point> = model
                .iter()
                .map(|(t, v)| Point::new(*t, Value::String(v.clone())))
                .collect();
            proptest::prop_assert_eq!(d.read(i64::MIN..i64::MAX), expected);
            let heap: usize = model.values().map(String::len).sum();
            proptest::prop_assert_eq!(d.value_heap, heap);
        }
    }

    #[test]
    fn wrong_types_are_counted_not_stored() {
        let mut d = SeriesData::new(DataType::Int64);
        assert_eq!(d.insert(&points(&[(1, 1.0)])), 1);
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn heap_estimate_follows_string_sizes() {
        let mut d = SeriesData::new(DataType::String);
        d.insert(&[Point::new(1, Value::String("x".repeat(1000)))]);
        let big = d.heap_bytes();
        assert!(big >= 1000, "{big}");
        d.insert(&[Point::new(1, Value::String("y".into()))]);
        assert!(d.heap_bytes() < big - 900, "{}", d.heap_bytes());
    }
}
