//! Sealed chunks: a series' older points held in the head encoded with the parts' codec, so
//! that the head's memory tracks compressed size rather than 16 bytes a point.
//!
//! A chunk is a run of at most [`max_chunk_points`] points, sorted and distinct, encoded as a
//! part block's body is (the timestamp column, then the value column) but with
//! [`Effort::Quick`], with its first and last timestamps beside it so that reads and merges
//! pick chunks without decoding them.

use sextant_model::{DataType, Timestamp};

use crate::codec::{self, Column, Effort, Order};

/// Points a series seals at a time once its open points exceed this plus [`open_points`].
pub(crate) const CHUNK_POINTS: usize = 1024;

#[cfg(test)]
thread_local! {
    /// The chunk size of this thread's series in unit tests, so that a few dozen points go
    /// through sealing and merging.
    static TEST_CHUNK_POINTS: std::cell::Cell<usize> = const { std::cell::Cell::new(CHUNK_POINTS) };
}

/// Seals chunks of `n` points on this thread, in unit tests.
#[cfg(test)]
pub(crate) fn set_chunk_points(n: usize) {
    TEST_CHUNK_POINTS.with(|c| c.set(n.max(4)));
}

/// [`CHUNK_POINTS`], or a unit test's own.
#[inline]
pub(crate) fn chunk_points() -> usize {
    #[cfg(test)]
    return TEST_CHUNK_POINTS.with(std::cell::Cell::get);
    #[cfg(not(test))]
    CHUNK_POINTS
}

/// Points kept open after sealing, so that points a little late land among open points
/// rather than in a sealed chunk.
#[inline]
pub(crate) fn open_points() -> usize {
    chunk_points() / 4
}

/// The most points one chunk holds: a chunk that late points grow past this is split.
#[inline]
pub(crate) fn max_chunk_points() -> usize {
    2 * chunk_points()
}

/// A string value unit tests use to stand for values the codec refuses.
#[cfg(test)]
pub(crate) const REFUSED: &str = "refused by the codec";

/// A sealed run of points.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    first: Timestamp,
    last: Timestamp,
    len: u32,
    /// Where the value column starts in `bytes`.
    values_at: u32,
    bytes: Box<[u8]>,
}

impl Chunk {
    /// Encodes `timestamps` (sorted, distinct, at least one) with their `values`; `None` if
    /// the codec refuses them (strings too large for one dictionary), which leaves them open.
    pub(crate) fn encode(timestamps: &[Timestamp], values: &Column) -> Option<Chunk> {
        debug_assert_eq!(timestamps.len(), values.len());
        #[cfg(test)]
        if matches!(values, Column::String(v) if v.iter().any(|s| s == REFUSED)) {
            return None;
        }
        let (&first, &last) = (timestamps.first()?, timestamps.last()?);
        let mut bytes = Vec::new();
        codec::encode_timestamps_with(timestamps, Effort::Quick, &mut bytes).ok()?;
        let values_at = u32::try_from(bytes.len()).ok()?;
        codec::encode_with(values, Order::Time, Effort::Quick, &mut bytes).ok()?;
        Some(Chunk {
            first,
            last,
            len: u32::try_from(timestamps.len()).ok()?,
            values_at,
            bytes: bytes.into_boxed_slice(),
        })
    }

    pub(crate) fn first(&self) -> Timestamp {
        self.first
    }

    pub(crate) fn last(&self) -> Timestamp {
        self.last
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// The timestamps alone.
    pub(crate) fn timestamps(&self) -> Vec<Timestamp> {
        codec::decode_timestamps(&self.bytes[..self.values_at as usize])
            .expect("the head decodes the chunks it encoded")
    }

    /// The timestamps and values.
    pub(crate) fn decode(&self, data_type: DataType) -> (Vec<Timestamp>, Column) {
        let values = codec::decode(data_type, &self.bytes[self.values_at as usize..])
            .expect("the head decodes the chunks it encoded");
        (self.timestamps(), values)
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// Encodes sorted, distinct points as chunks of at most [`max_chunk_points`], split evenly;
/// `None` if the codec refuses any of them.
pub(crate) fn encode_all(timestamps: &[Timestamp], values: &Column) -> Option<Vec<Chunk>> {
    let n = timestamps.len();
    let pieces = n.div_ceil(max_chunk_points()).max(1);
    let mut chunks = Vec::with_capacity(pieces);
    let mut at = 0;
    for i in 0..pieces {
        let end = n * (i + 1) / pieces;
        if end > at {
            chunks.push(Chunk::encode(&timestamps[at..end], &values.slice(at..end))?);
        }
        at = end;
    }
    Some(chunks)
}
