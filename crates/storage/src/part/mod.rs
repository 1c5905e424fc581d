//! Parts: the head written out as immutable, compressed, time-partitioned files.
//!
//! A flush takes the points the head holds and writes them, per time partition, into one new
//! part file under `<data dir>/parts/<partition start in ns>/`. A part holds many series; each
//! series is a run of blocks of up to 16k points, a block being an encoded timestamp column
//! and an encoded value column ([`crate::codec`]) framed with a CRC-32, with a summary (count,
//! time range, first, last, and for numbers min, max and sum) in the part's index. The layout
//! is drawn byte by byte in `docs/format/parts.md`.
//!
//! # Contract
//!
//! - **Immutable and atomic.** A part is written under a temporary name, fsynced, renamed into
//!   place and its directory fsynced; a part file under its final name is complete and
//!   durable, and is never changed afterwards. Temporary files left by a crash are removed on
//!   open.
//! - **Ordering.** Parts are named by the range of part ids they hold,
//!   `<first id>-<last id>.part`, ids growing with every flush. For one series and timestamp,
//!   the part with the larger last id holds the newer value; the head is newer than any part.
//! - **Duplicates.** Parts may hold points another part also holds (a flush whose WAL
//!   truncation a crash cut short is replayed and flushed again). Reads resolve them by
//!   (series, timestamp), last write wins.
//! - **Corruption** of a header, footer, index or block is reported as
//!   [`Error::PartCorrupt`](crate::Error::PartCorrupt), naming the file and byte offset; reads
//!   never panic on damaged files.

mod files;
mod flush;
mod format;
mod merge;
mod order;
mod reader;
mod writer;

use std::ops::Range;
use std::sync::Arc;

use parking_lot::RwLock;
use sextant_model::{OrgId, SeriesKey, Timestamp};

use crate::Result;
pub use files::{LocalFile, LocalParts, PartFile, PartFiles, PartLocation, PartSink};
pub(crate) use flush::write_frozen;
pub use format::{BlockMeta, BlockSummary, NumericSummary, ValueSummary};
pub(crate) use merge::{Keep, rewrite, select_run};
pub use reader::{Part, PartSeries};
pub(crate) use writer::PartWriter;

/// How a flush or merge cuts a part's series into blocks (from [`crate::PartsConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocks {
    /// The most points of one series in one block.
    pub(crate) points: usize,
    /// Blocks of fewer points get no summary of their values in the index.
    pub(crate) summary_min_points: u32,
}

/// The suffix of part files.
const SUFFIX: &str = ".part";
/// The suffix of part files being written.
const TMP_SUFFIX: &str = ".tmp";

/// The name of a part: the range of part ids it holds. A flushed part holds one id; a merged
/// part the ids of the parts it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartName {
    /// The smallest id held.
    pub first: u64,
    /// The largest id held; orders parts from older to newer.
    pub last: u64,
}

impl PartName {
    /// The name of a freshly flushed part.
    pub fn single(id: u64) -> Self {
        PartName {
            first: id,
            last: id,
        }
    }

    /// `00000000000000000007-00000000000000000007.part`.
    pub fn file_name(&self) -> String {
        format!("{:020}-{:020}{SUFFIX}", self.first, self.last)
    }

    /// Parses a file name made by [`PartName::file_name`].
    pub fn parse(file_name: &str) -> Option<PartName> {
        let stem = file_name.strip_suffix(SUFFIX)?;
        let (first, last) = stem.split_once('-')?;
        let digits = |s: &str| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(first) || !digits(last) {
            return None;
        }
        let name = PartName {
            first: first.parse().ok()?,
            last: last.parse().ok()?,
        };
        (name.first <= name.last).then_some(name)
    }

    /// Whether `self` holds every id of `other` and more.
    fn supersedes(&self, other: &PartName) -> bool {
        self != other && self.first <= other.first && other.last <= self.last
    }
}

/// The partition of length `len` nanoseconds holding `ts`: `[start, end)`, clamped to the
/// range of timestamps at the extremes.
pub fn partition_of(ts: Timestamp, len: i64) -> Range<Timestamp> {
    let len = i128::from(len.max(1));
    let start = i128::from(ts).div_euclid(len) * len;
    let clamp = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    clamp(start)..clamp(start + len)
}

/// The parts of a store, oldest first (by last id), shared by readers and the flusher.
#[derive(Debug, Default)]
pub(crate) struct PartSet {
    parts: RwLock<Arc<Vec<Arc<Part>>>>,
}

impl PartSet {
    /// A snapshot of the parts, oldest first. Parts removed later stay readable through it.
    pub(crate) fn snapshot(&self) -> Arc<Vec<Arc<Part>>> {
        Arc::clone(&self.parts.read())
    }

    /// Adds parts (newer than all held).
    pub(crate) fn add(&self, added: Vec<Arc<Part>>) {
        let mut parts = self.parts.write();
        let mut next: Vec<Arc<Part>> = parts.iter().cloned().chain(added).collect();
        next.sort_by_key(|p| (p.name().last, p.name().first));
        *parts = Arc::new(next);
    }

    /// Replaces the parts named `removed` with `added`.
    pub(crate) fn replace(&self, removed: &[PartName], added: Option<Arc<Part>>) {
        let mut parts = self.parts.write();
        let mut next: Vec<Arc<Part>> = parts
            .iter()
            .filter(|p| !removed.contains(&p.name()))
            .cloned()
            .chain(added)
            .collect();
        next.sort_by_key(|p| (p.name().last, p.name().first));
        *parts = Arc::new(next);
    }

    /// The largest part id held, 0 if none.
    pub(crate) fn max_id(&self) -> u64 {
        self.parts
            .read()
            .iter()
            .map(|p| p.name().last)
            .max()
            .unwrap_or(0)
    }
}

/// Opens every part `files` holds, oldest first. Removes parts that a merged part supersedes
/// (the merge finished, but a crash came before it removed its inputs).
pub(crate) fn load(files: &Arc<dyn PartFiles>) -> Result<Vec<Arc<Part>>> {
    let found = files.list()?;
    let superseded: Vec<PartLocation> = found
        .iter()
        .filter(|p| {
            found
                .iter()
                .any(|q| q.partition == p.partition && q.name.supersedes(&p.name))
        })
        .copied()
        .collect();
    for at in &superseded {
        tracing::info!(part = %files.describe(at).display(), "removing part superseded by a merged part");
    }
    if !superseded.is_empty() {
        files.remove(&superseded)?;
    }
    let mut parts = Vec::new();
    // One copy of each key across the parts (the head registers these same keys).
    let mut keys: std::collections::HashSet<(OrgId, SeriesKey)> = std::collections::HashSet::new();
    for at in found.into_iter().filter(|p| !superseded.contains(p)) {
        let part = Part::open_in(files.as_ref(), at, &mut |org, key| {
            keys.get(&(org, key.clone())).map(|(_, k)| k.clone())
        })?;
        for (org, key, _) in part.series() {
            keys.insert((org, key.clone()));
        }
        parts.push(Arc::new(part));
    }
    parts.sort_by_key(|p| (p.name().last, p.name().first));
    Ok(parts)
}

#[cfg(test)]
mod tests;
