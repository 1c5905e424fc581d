//! One series in memory: its identity, its type for life, and its points sorted by time in
//! typed columns.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use parking_lot::Mutex;
use sextant_model::{DataType, OrgId, Point, SeriesId, SeriesKey, Timestamp, Value};

use super::chunk::{self, Chunk, chunk_points, open_points};
use crate::codec::Column;

/// Batches of at least this many points that land among the held points are merged in one
/// pass rather than inserted one by one.
const MERGE_MIN_POINTS: usize = 16;

/// A series held by the head: its identity and, under one lock, its points. A series whose
/// points were all flushed holds none of their structure: 96 bytes with its `Arc`'s counts,
/// besides its key and its place in the index.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub(crate) id: SeriesId,
    pub(crate) org: OrgId,
    pub(crate) key: SeriesKey,
    pub(crate) data_type: DataType,
    /// Set when a deletion left the series with no point anywhere, so that selections and
    /// listings skip it; the next write clears it. The series keeps its id and type.
    pub(crate) hidden: AtomicBool,
    pub(crate) state: Mutex<SeriesState>,
}

impl MemSeries {
    pub(crate) fn new(
        id: SeriesId,
        org: OrgId,
        key: SeriesKey,
        data_type: DataType,
        epoch: u64,
    ) -> Self {
        MemSeries {
            id,
            org,
            key,
            data_type,
            hidden: AtomicBool::new(false),
            state: Mutex::new(SeriesState {
                live: None,
                newest: Timestamp::MIN,
                frozen: None,
                frozen_epoch: epoch,
            }),
        }
    }

    /// Bytes held besides the points: the series, its key and an estimate of its index
    /// entries (a table slot for its key, and a posting for its name and each label).
    pub(crate) fn overhead_bytes(&self) -> usize {
        const INDEX_ENTRY: usize = 24;
        ARC_COUNTS
            + std::mem::size_of::<Self>()
            + self.key.heap_size()
            + INDEX_ENTRY * (2 + self.key.labels().len())
    }
}

/// The points of a series, live and frozen, with what the head remembers of them.
#[derive(Debug)]
pub(crate) struct SeriesState {
    /// The points written since a freeze last took them; `None` while there are none. Never
    /// shared while here, so that a freeze moves them aside without copying them.
    live: Option<Arc<SeriesData>>,
    /// The newest timestamp a freeze has taken or a part holds, so that the out-of-order
    /// window still applies once the points are gone; `Timestamp::MIN` for none. (A series
    /// whose newest point is at `Timestamp::MIN` accepts every point, as one with none does.)
    newest: Timestamp,
    /// Points taken by a freeze whose flush has not finished writing them to parts; older
    /// than every live point with the same timestamp.
    pub(crate) frozen: Option<Arc<SeriesData>>,
    /// The last freeze that took this series' points aside (`Head::begin_freeze`).
    pub(crate) frozen_epoch: u64,
}

/// The bytes an `Arc`'s reference counts take beside what it holds.
const ARC_COUNTS: usize = 16;

/// The bytes `data` takes, its own allocation included.
fn shared_bytes(data: &SeriesData) -> usize {
    ARC_COUNTS + std::mem::size_of::<SeriesData>() + data.heap_bytes()
}

impl SeriesState {
    /// The live points, if any.
    pub(crate) fn live(&self) -> Option<&SeriesData> {
        self.live.as_deref()
    }

    /// How many live points there are.
    pub(crate) fn len(&self) -> usize {
        self.live().map_or(0, SeriesData::len)
    }

    /// The newest timestamp inserted, if any, even if a flush has taken the point since.
    pub(crate) fn max_timestamp(&self) -> Option<Timestamp> {
        let newest = (self.newest != Timestamp::MIN).then_some(self.newest);
        newest.max(self.live().and_then(SeriesData::max_timestamp))
    }

    /// Raises the newest timestamp seen to `ts`, for points held elsewhere (in parts).
    pub(crate) fn note_newest(&mut self, ts: Timestamp) {
        self.newest = self.newest.max(ts);
    }

    /// Inserts points among the live ones; see [`SeriesData::insert`].
    pub(crate) fn insert(&mut self, data_type: DataType, points: &[Point]) -> usize {
        let live = self
            .live
            .get_or_insert_with(|| Arc::new(SeriesData::new(data_type)));
        // Not shared: a copy is made only if a bug shared it, never a write lost.
        Arc::make_mut(live).insert(points)
    }

    /// Takes the live points out (`None` if there are none), remembering their newest
    /// timestamp.
    pub(crate) fn take_live(&mut self) -> Option<Arc<SeriesData>> {
        let taken = self.live.take()?;
        self.newest = self
            .newest
            .max(taken.max_timestamp().unwrap_or(Timestamp::MIN));
        (taken.len() > 0).then_some(taken)
    }

    /// Removes the points, live and frozen, with timestamps in `range`; how many it removed.
    pub(crate) fn delete(&mut self, range: &Range<Timestamp>, data_type: DataType) -> u64 {
        self.newest = self.max_timestamp().unwrap_or(Timestamp::MIN);
        let mut removed = 0;
        for slot in [&mut self.live, &mut self.frozen] {
            if let Some(data) = slot.as_ref() {
                let n = data.count_in(range);
                if n > 0 {
                    let kept = data.without(range, data_type);
                    *slot = (kept.len() > 0).then(|| Arc::new(kept));
                    removed += n as u64;
                }
            }
        }
        removed
    }

    /// An estimate of the bytes the points take, live and frozen.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.live.as_deref().map_or(0, shared_bytes)
            + self.frozen.as_deref().map_or(0, shared_bytes)
    }
}

macro_rules! columns {
    ($($variant:ident($t:ty)),* $(,)?) => {
        /// What the head does with a column of values, one vector of their own type.
        impl Column {
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
            fn extend_points(&mut self, points: &[Point]) -> usize {
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

            /// Appends the values of `other` at `positions`; nothing if its type differs.
            fn append_from(&mut self, other: &Column, positions: Range<usize>) {
                match (self, other) {
                    $((Column::$variant(c), Column::$variant(o)) => {
                        c.extend_from_slice(&o[positions])
                    })*
                    _ => {}
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

            fn shrink_to(&mut self, capacity: usize) {
                match self {
                    $(Column::$variant(c) => c.shrink_to(capacity),)*
                }
            }

            /// Removes the first `n` values.
            fn drain_front(&mut self, n: usize) {
                match self {
                    $(Column::$variant(c) => {
                        c.drain(..n);
                    })*
                }
            }

            /// Whether `value` has the column's type.
            fn accepts(&self, value: &Value) -> bool {
                matches!((self, value), $((Column::$variant(_), Value::$variant(_)))|*)
            }

            /// A copy of the values at `range`.
            pub(crate) fn slice(&self, range: Range<usize>) -> Column {
                match self {
                    $(Column::$variant(c) => Column::$variant(c[range].to_vec()),)*
                }
            }

            fn capacity_bytes(&self) -> usize {
                match self {
                    $(Column::$variant(c) => c.capacity() * std::mem::size_of::<$t>(),)*
                }
            }

            /// Heap bytes of the string and bytes values at `range`.
            fn value_heap(&self, range: Range<usize>) -> usize {
                match self {
                    Column::String(c) => c[range].iter().map(String::len).sum(),
                    Column::Bytes(c) => c[range].iter().map(Vec::len).sum(),
                    _ => 0,
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

/// A series' points, sorted by timestamp, one value per timestamp: the older ones sealed in
/// compressed chunks, the newest open in a typed column.
#[derive(Debug, Clone)]
pub(crate) struct SeriesData {
    /// The sealed chunks, once there are any: boxed, so that the many series that never
    /// seal one (a few points each) pay a pointer for them.
    sealed: Option<Box<Sealed>>,
    /// The open points' timestamps.
    timestamps: Vec<Timestamp>,
    /// The open points' values.
    values: Column,
    /// Heap bytes of the open string and bytes values.
    value_heap: usize,
}

/// A series' sealed chunks.
#[derive(Debug, Default, Clone)]
struct Sealed {
    /// Sorted, disjoint, and all older than the series' open points.
    chunks: Vec<Chunk>,
    /// Points in `chunks`.
    len: usize,
    /// Bytes `chunks` hold.
    bytes: usize,
}

impl Sealed {
    /// Counts `chunk` in (`add`) or out.
    fn count(&mut self, chunk: &Chunk, add: bool) {
        if add {
            self.len += chunk.len();
            self.bytes += chunk.heap_bytes();
        } else {
            self.len -= chunk.len();
            self.bytes -= chunk.heap_bytes();
        }
    }
}

/// Positions of `timestamps` within `range`.
fn positions(timestamps: &[Timestamp], range: &Range<Timestamp>) -> Range<usize> {
    let start = timestamps.partition_point(|&t| t < range.start);
    let end = timestamps.partition_point(|&t| t < range.end).max(start);
    start..end
}

impl SeriesData {
    fn new(data_type: DataType) -> Self {
        Self::open(Vec::new(), Column::new(data_type))
    }

    /// Open points only.
    fn open(timestamps: Vec<Timestamp>, values: Column) -> Self {
        SeriesData {
            sealed: None,
            timestamps,
            value_heap: values.value_heap(0..values.len()),
            values,
        }
    }

    fn data_type(&self) -> DataType {
        self.values.data_type()
    }

    /// The sealed chunks, oldest first.
    fn chunks(&self) -> &[Chunk] {
        self.sealed.as_ref().map_or(&[], |s| &s.chunks)
    }

    /// The newest timestamp held, if any.
    pub(crate) fn max_timestamp(&self) -> Option<Timestamp> {
        (self.timestamps.last().copied()).or_else(|| self.chunks().last().map(Chunk::last))
    }

    /// `older` with the points of `newer` inserted over it (last write wins).
    pub(crate) fn overlay(older: &SeriesData, newer: &SeriesData, data_type: DataType) -> Self {
        let mut out = SeriesData::new(data_type);
        out.insert(&older.all_points());
        out.insert(&newer.all_points());
        out
    }

    /// How many points have timestamps in `range`.
    pub(crate) fn count_in(&self, range: &Range<Timestamp>) -> usize {
        let mut n = positions(&self.timestamps, range).len();
        for c in self.chunks_in(range) {
            n += if range.start <= c.first() && c.last() < range.end {
                c.len()
            } else {
                positions(&c.timestamps(), range).len()
            };
        }
        n
    }

    /// A copy without the points whose timestamps are in `range`.
    pub(crate) fn without(&self, range: &Range<Timestamp>, data_type: DataType) -> SeriesData {
        let mut kept = self.all_points();
        kept.retain(|p| !range.contains(&p.timestamp));
        let mut out = SeriesData::new(data_type);
        out.insert(&kept);
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.sealed.as_ref().map_or(0, |s| s.len) + self.timestamps.len()
    }

    /// The sealed chunks that may hold timestamps in `range`.
    fn chunks_in(&self, range: &Range<Timestamp>) -> &[Chunk] {
        let chunks = self.chunks();
        let lo = chunks.partition_point(|c| c.last() < range.start);
        let hi = chunks.partition_point(|c| c.first() < range.end).max(lo);
        &chunks[lo..hi]
    }

    /// Inserts points in the order given: a point with a timestamp already held replaces it
    /// (last write wins). Values of the wrong type are skipped and counted; validation and the
    /// series registry make that impossible, so a count above zero is a bug. Open points
    /// beyond what stays open are sealed into chunks.
    pub(crate) fn insert(&mut self, points: &[Point]) -> usize {
        let mismatched = match self.chunks().last().map(Chunk::last) {
            Some(sealed) if points.iter().any(|p| p.timestamp <= sealed) => {
                let (older, newer): (Vec<Point>, Vec<Point>) =
                    points.iter().cloned().partition(|p| p.timestamp <= sealed);
                self.insert_sealed(older) + self.insert_open(&newer)
            }
            _ => self.insert_open(points),
        };
        self.seal();
        mismatched
    }

    /// Inserts points no newer than the last sealed chunk's into the chunks they fall in:
    /// each point goes to the first chunk whose last timestamp is at or after it, which is
    /// decoded, merged and encoded again (split if it grew past the most a chunk holds).
    fn insert_sealed(&mut self, points: Vec<Point>) -> usize {
        let data_type = self.data_type();
        let mut groups: std::collections::BTreeMap<usize, Vec<Point>> = Default::default();
        for p in points {
            let k = self.chunks().partition_point(|c| c.last() < p.timestamp);
            groups.entry(k).or_default().push(p);
        }
        let mut mismatched = 0;
        // From the newest chunk back, so that a chunk's split leaves the older indices valid.
        for (k, group) in groups.into_iter().rev() {
            let (timestamps, values) = self.chunks()[k].decode(data_type);
            let mut run = SeriesData::open(timestamps, values);
            mismatched += run.insert_open(&group);
            match chunk::encode_all(&run.timestamps, &run.values) {
                Some(new) => {
                    // `self.chunks()[k]` was there, so the chunks are.
                    if let Some(sealed) = self.sealed.as_deref_mut() {
                        for c in &new {
                            sealed.count(c, true);
                        }
                        let old: Vec<Chunk> = sealed.chunks.splice(k..=k, new).collect();
                        for c in &old {
                            sealed.count(c, false);
                        }
                    }
                }
                None => self.unseal_from(k, run),
            }
        }
        mismatched
    }

    /// Makes chunk `k` (replaced by `run`, its points merged with late ones) and every newer
    /// chunk open again: for points the codec would not encode.
    fn unseal_from(&mut self, k: usize, run: SeriesData) {
        let data_type = self.data_type();
        let SeriesData {
            mut timestamps,
            mut values,
            ..
        } = run;
        if let Some(sealed) = self.sealed.as_deref_mut() {
            let newer: Vec<Chunk> = sealed.chunks.drain(k..).collect();
            for (i, c) in newer.iter().enumerate() {
                sealed.count(c, false);
                if i > 0 {
                    let (t, v) = c.decode(data_type);
                    timestamps.extend_from_slice(&t);
                    values.append_from(&v, 0..v.len());
                }
            }
            if sealed.chunks.is_empty() {
                self.sealed = None;
            }
        }
        timestamps.extend_from_slice(&self.timestamps);
        values.append_from(&self.values, 0..self.values.len());
        self.value_heap = values.value_heap(0..values.len());
        self.timestamps = timestamps;
        self.values = values;
    }

    /// Seals the oldest open points into chunks of [`chunk_points`], keeping from
    /// [`open_points`] to that many more open.
    fn seal(&mut self) {
        let (n, chunk, open) = (self.timestamps.len(), chunk_points(), open_points());
        if n < chunk + open {
            return;
        }
        let sealable = (n - open) / chunk * chunk;
        let mut at = 0;
        while at < sealable {
            let end = at + chunk;
            let Some(c) = Chunk::encode(&self.timestamps[at..end], &self.values.slice(at..end))
            else {
                break;
            };
            let sealed = self.sealed.get_or_insert_with(Default::default);
            sealed.count(&c, true);
            sealed.chunks.push(c);
            at = end;
        }
        if at == 0 {
            return;
        }
        self.value_heap -= self.values.value_heap(0..at);
        self.timestamps.drain(..at);
        self.values.drain_front(at);
        let keep = 2 * (chunk + open);
        if self.timestamps.capacity() > keep {
            self.timestamps.shrink_to(keep);
            self.values.shrink_to(keep);
        }
    }

    /// Inserts points among the open ones (see [`SeriesData::insert`]), sealing nothing.
    fn insert_open(&mut self, points: &[Point]) -> usize {
        let after_last = match (self.timestamps.last(), points.first()) {
            (Some(&last), Some(first)) => first.timestamp > last,
            _ => true,
        };
        if after_last && points.windows(2).all(|w| w[0].timestamp < w[1].timestamp) {
            // The common case, points newer than any held and in order, appends in bulk.
            let mismatched = self.values.extend_points(points);
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
                    let ok = self.values.push(p.value.clone());
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

    /// Merges points that land among the open ones in one pass: sorted (stably, so the last
    /// of equal timestamps wins), then merged with the held points from the first incoming
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
        self.read_limited(range, None, crate::Order::Ascending)
    }

    /// Every point, in time order.
    pub(crate) fn all_points(&self) -> Vec<Point> {
        let mut out = Vec::with_capacity(self.len());
        for c in self.chunks() {
            let (timestamps, values) = c.decode(self.data_type());
            out.extend(values.points(&timestamps, 0..timestamps.len()));
        }
        out.extend(
            self.values
                .points(&self.timestamps, 0..self.timestamps.len()),
        );
        crate::read::note_scanned(out.len());
        out
    }

    /// The first `limit` points with timestamps in `range` in `order`, in time order:
    /// [`SeriesData::read`] cut to the limit without taking out the points past it, so
    /// that a limited read costs the points it returns (and the chunks holding them), not
    /// the range.
    pub(crate) fn read_limited(
        &self,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: crate::Order,
    ) -> Vec<Point> {
        let mut remaining = limit.unwrap_or(usize::MAX);
        let chunks = self.chunks_in(&range);
        let mut pieces = Vec::new();
        let mut cut = |timestamps: &[Timestamp], values: &Column, remaining: &mut usize| {
            let Range { mut start, mut end } = positions(timestamps, &range);
            match order {
                crate::Order::Ascending => end = end.min(start.saturating_add(*remaining)),
                crate::Order::Descending => start = start.max(end.saturating_sub(*remaining)),
            }
            *remaining -= end - start;
            crate::read::note_scanned(end - start);
            if end > start {
                pieces.push(values.points(timestamps, start..end));
            }
        };
        match order {
            crate::Order::Ascending => {
                for c in chunks {
                    if remaining == 0 {
                        break;
                    }
                    let (timestamps, values) = c.decode(self.data_type());
                    cut(&timestamps, &values, &mut remaining);
                }
                if remaining > 0 {
                    cut(&self.timestamps, &self.values, &mut remaining);
                }
            }
            crate::Order::Descending => {
                cut(&self.timestamps, &self.values, &mut remaining);
                for c in chunks.iter().rev() {
                    if remaining == 0 {
                        break;
                    }
                    let (timestamps, values) = c.decode(self.data_type());
                    cut(&timestamps, &values, &mut remaining);
                }
                pieces.reverse();
            }
        }
        if pieces.len() == 1 {
            return pieces.pop().unwrap_or_default();
        }
        pieces.concat()
    }

    /// The first timestamp at or after `t`, if any.
    pub(crate) fn first_at_or_after(&self, t: Timestamp) -> Option<Timestamp> {
        let chunks = self.chunks();
        let k = chunks.partition_point(|c| c.last() < t);
        match chunks.get(k) {
            Some(c) if c.first() >= t => Some(c.first()),
            Some(c) => {
                let timestamps = c.timestamps();
                timestamps
                    .get(timestamps.partition_point(|&x| x < t))
                    .copied()
            }
            None => {
                let i = self.timestamps.partition_point(|&x| x < t);
                self.timestamps.get(i).copied()
            }
        }
    }

    /// Hands the points in `range` to `block` in time order, as runs of `block_points`
    /// (the last one shorter), decoding one chunk at a time.
    pub(crate) fn blocks<E>(
        &self,
        range: Range<Timestamp>,
        block_points: usize,
        mut block: impl FnMut(&[Timestamp], &Column) -> Result<(), E>,
    ) -> Result<(), E> {
        let block_points = block_points.max(1);
        let mut timestamps_out = Vec::new();
        let mut values_out = Column::new(self.data_type());
        let mut fill = |timestamps: &[Timestamp], values: &Column| -> Result<(), E> {
            let Range { mut start, end } = positions(timestamps, &range);
            while start < end {
                let n = (block_points - timestamps_out.len()).min(end - start);
                timestamps_out.extend_from_slice(&timestamps[start..start + n]);
                values_out.append_from(values, start..start + n);
                start += n;
                if timestamps_out.len() == block_points {
                    block(&timestamps_out, &values_out)?;
                    timestamps_out.clear();
                    values_out.clear();
                }
            }
            Ok(())
        };
        for c in self.chunks_in(&range) {
            let (timestamps, values) = c.decode(self.data_type());
            fill(&timestamps, &values)?;
        }
        fill(&self.timestamps, &self.values)?;
        if !timestamps_out.is_empty() {
            block(&timestamps_out, &values_out)?;
        }
        Ok(())
    }

    /// An estimate of the heap bytes the points hold.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.timestamps.capacity() * std::mem::size_of::<Timestamp>()
            + self.values.capacity_bytes()
            + self.value_heap
            + self.sealed.as_ref().map_or(0, |s| {
                std::mem::size_of::<Sealed>()
                    + s.bytes
                    + s.chunks.capacity() * std::mem::size_of::<Chunk>()
            })
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
            chunk::set_chunk_points(8);
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
            // The open strings' heap is counted exactly; the sealed ones are in the chunks.
            proptest::prop_assert_eq!(d.value_heap, d.values.value_heap(0..d.values.len()));
            proptest::prop_assert_eq!(d.len(), model.len());
        }
    }

    proptest::proptest! {
        /// With chunks of eight points, sealed and merged as batches come in any order, every
        /// way of reading agrees with a sorted map: ranges, limits from either end, counts,
        /// the next timestamp, blocks for a flush, and deleting a range.
        #[test]
        fn sealed_chunks_read_as_the_points_written(
            batches in proptest::collection::vec(
                proptest::collection::vec((0i64..400, -1000i32..1000), 0..80),
                1..10,
            ),
            a in 0i64..420,
            b in 0i64..420,
            limit in 0usize..50,
            block in 1usize..40,
        ) {
            chunk::set_chunk_points(8);
            let mut d = SeriesData::new(DataType::Double);
            let mut model = std::collections::BTreeMap::new();
            for batch in &batches {
                let points: Vec<Point> = batch
                    .iter()
                    .map(|&(t, v)| Point::new(t, Value::Double(f64::from(v) / 8.0)))
                    .collect();
                proptest::prop_assert_eq!(d.insert(&points), 0);
                for &(t, v) in batch {
                    model.insert(t, f64::from(v) / 8.0);
                }
                proptest::prop_assert!(d.chunks().windows(2).all(|w| w[0].last() < w[1].first()));
                proptest::prop_assert!(d.chunks().iter().all(|c| c.len() <= chunk::max_chunk_points()));
                if let Some(sealed) = &d.sealed {
                    proptest::prop_assert!(!sealed.chunks.is_empty());
                    proptest::prop_assert_eq!(sealed.len, sealed.chunks.iter().map(Chunk::len).sum::<usize>());
                    proptest::prop_assert_eq!(sealed.bytes, sealed.chunks.iter().map(Chunk::heap_bytes).sum::<usize>());
                }
                if let (Some(c), Some(t)) = (d.chunks().last(), d.timestamps.first()) {
                    proptest::prop_assert!(c.last() < *t);
                }
            }
            let as_points = |range: std::ops::Range<i64>| -> Vec<Point> {
                model
                    .range(range)
                    .map(|(&t, &v)| Point::new(t, Value::Double(v)))
                    .collect()
            };
            let range = a.min(b)..a.max(b);
            let all = as_points(i64::MIN..i64::MAX);
            proptest::prop_assert_eq!(d.len(), all.len());
            proptest::prop_assert_eq!(d.all_points(), all.clone());
            let expected = as_points(range.clone());
            proptest::prop_assert_eq!(d.read(range.clone()), expected.clone());
            proptest::prop_assert_eq!(d.count_in(&range), expected.len());
            let first: Vec<Point> = expected.iter().take(limit).cloned().collect();
            proptest::prop_assert_eq!(
                d.read_limited(range.clone(), Some(limit), crate::Order::Ascending),
                first
            );
            let last: Vec<Point> =
                expected[expected.len().saturating_sub(limit)..].to_vec();
            proptest::prop_assert_eq!(
                d.read_limited(range.clone(), Some(limit), crate::Order::Descending),
                last
            );
            proptest::prop_assert_eq!(
                d.first_at_or_after(a),
                model.range(a..).next().map(|(&t, _)| t)
            );
            let mut blocks: Vec<Point> = Vec::new();
            d.blocks(range.clone(), block, |ts, values| {
                assert!(!ts.is_empty() && ts.len() <= block);
                blocks.extend(values.points(ts, 0..ts.len()));
                Ok::<(), ()>(())
            })
            .unwrap();
            proptest::prop_assert_eq!(blocks, expected);
            let kept = d.without(&range, DataType::Double);
            let mut rest = as_points(i64::MIN..range.start);
            rest.extend(as_points(range.end..i64::MAX));
            proptest::prop_assert_eq!(kept.max_timestamp(), rest.last().map(|p| p.timestamp));
            proptest::prop_assert_eq!(kept.all_points(), rest);
        }
    }

    #[test]
    fn points_the_codec_refuses_stay_open_and_read_back() {
        chunk::set_chunk_points(8);
        let text = |t: i64| {
            let v = if t % 10 == 7 {
                chunk::REFUSED.to_string()
            } else {
                t.to_string()
            };
            Point::new(t, Value::String(v))
        };
        let mut d = SeriesData::new(DataType::String);
        // Without a refused value, the first points seal.
        let first: Vec<Point> = (0..30).filter(|t| t % 10 != 7).map(text).collect();
        assert_eq!(d.insert(&first), 0);
        let sealed = d.chunks().len();
        assert!(sealed >= 1);
        // A late refused value in a sealed chunk opens it and every newer one; the points
        // from it on stay open, since sealing stops at the first chunk refused.
        assert_eq!(d.insert(&[text(7)]), 0);
        assert!(d.chunks().len() < sealed, "{} chunks", d.chunks().len());
        assert_eq!(d.insert(&[text(17), text(27)]), 0);
        let all: Vec<Point> = (0..30).map(text).collect();
        assert_eq!(d.all_points(), all);
        assert_eq!(d.read(5..25), all[5..25].to_vec());
        assert_eq!(d.len(), 30);
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

    #[test]
    fn a_flushed_series_fits_the_allocation_size_it_was_made_for() {
        // With the reference counts of its `Arc`, 96 bytes: one of the allocator's size
        // classes. Every series in the head pays it, and a series with live points pays a
        // `SeriesData` besides (in 96 bytes too).
        assert!(
            std::mem::size_of::<MemSeries>() <= 80,
            "{} bytes",
            std::mem::size_of::<MemSeries>()
        );
        assert!(
            std::mem::size_of::<SeriesData>() <= 80,
            "{} bytes",
            std::mem::size_of::<SeriesData>()
        );
    }

    #[test]
    fn the_newest_timestamp_is_remembered_across_a_take_and_a_deletion() {
        let s = MemSeries::new(
            SeriesId(1),
            OrgId(1),
            SeriesKey::new("m", [("k", "v")]).unwrap(),
            DataType::Int64,
            0,
        );
        let mut state = s.state.lock();
        assert_eq!(state.max_timestamp(), None);
        assert!(state.take_live().is_none());
        state.insert(
            DataType::Int64,
            &[
                Point::new(5, Value::Int64(1)),
                Point::new(9, Value::Int64(2)),
            ],
        );
        assert_eq!(state.heap_bytes(), shared_bytes(state.live().unwrap()));
        let taken = state.take_live().unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!(state.len(), 0);
        assert_eq!(state.heap_bytes(), 0, "no structure kept for no points");
        assert_eq!(
            state.max_timestamp(),
            Some(9),
            "kept for the out-of-order window"
        );
        assert_eq!(taken.max_timestamp(), Some(9));
        state.note_newest(3);
        assert_eq!(state.max_timestamp(), Some(9));
        state.note_newest(12);
        assert_eq!(state.max_timestamp(), Some(12));
        state.insert(DataType::Int64, &[Point::new(20, Value::Int64(3))]);
        state.frozen = Some(taken);
        assert_eq!(state.delete(&(0..30), DataType::Int64), 3);
        assert!(state.live().is_none() && state.frozen.is_none());
        assert_eq!(
            state.max_timestamp(),
            Some(20),
            "a deletion keeps the window"
        );
    }
}
