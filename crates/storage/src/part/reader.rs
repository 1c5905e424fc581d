//! Reading a part file: its footer and index once, when the part is opened, then blocks on
//! demand, each checked against its CRC and its index entry before it is decoded.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp};

use crate::head::key_hash;

use super::PartName;
use super::files::{LocalFile, PartFile, PartFiles, PartLocation};
use super::format::{self, BLOCK_OVERHEAD, BlockMeta, Cursor, FOOTER_LEN, Footer, FrameProblem};
use crate::codec::{self, Column};
use crate::{Error, Result};

/// One series in a part: its type and its blocks, in time order, borrowed from the part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartSeries<'a> {
    /// The series' type for life.
    pub data_type: DataType,
    /// Its blocks, oldest first, not overlapping.
    pub blocks: &'a [BlockMeta],
}

/// Gives, for a series of an organization, a key equal to the one parsed (see
/// [`Part::open_in`]).
pub(crate) type Canonical<'a> = &'a mut dyn FnMut(OrgId, &SeriesKey) -> Option<SeriesKey>;

/// An open, immutable part file with its index in memory.
///
/// Reads may run from many threads at once (they use positioned reads of the
/// [`PartFile`]).
#[derive(Debug)]
pub struct Part {
    path: PathBuf,
    file: Arc<dyn PartFile>,
    at: PartLocation,
    footer: Footer,
    size: u64,
    series: HashMap<OrgId, OrgSeries>,
}

/// The series of one organization in a part: their entries in index order, found by key
/// through a table of positions, and every series' blocks in one list, each entry naming its
/// run. A million series of one block take about 64 MB this way (24 bytes an entry, 40 a
/// block), where an entry owning a list of its blocks took 88 and an allocation each.
///
/// Built either by parsing a part's index ([`Part::open`]) or, for a part just written, by the
/// writer as it writes the index ([`PartWriter::finish_and_open`](super::PartWriter)).
#[derive(Default)]
pub(super) struct OrgSeries {
    entries: Vec<Entry>,
    blocks: Vec<BlockMeta>,
    by_key: hashbrown::HashTable<u32>,
}

/// A series of an [`OrgSeries`]: its blocks are `count` from `first`.
struct Entry {
    key: SeriesKey,
    first: u32,
    count: u32,
    data_type: DataType,
}

impl OrgSeries {
    fn series(&self, e: &Entry) -> PartSeries<'_> {
        let first = e.first as usize;
        PartSeries {
            data_type: e.data_type,
            blocks: &self.blocks[first..first + e.count as usize],
        }
    }

    fn get(&self, key: &SeriesKey) -> Option<PartSeries<'_>> {
        let i = *self
            .by_key
            .find(key_hash(key), |&i| self.entries[i as usize].key == *key)?;
        Some(self.series(&self.entries[i as usize]))
    }

    /// Adds a series whose blocks are the last `count` of `blocks`; gives the key back if the
    /// series is there already.
    fn insert(
        &mut self,
        key: SeriesKey,
        data_type: DataType,
        count: u32,
    ) -> std::result::Result<(), SeriesKey> {
        let Self {
            entries,
            blocks,
            by_key,
        } = self;
        match by_key.entry(
            key_hash(&key),
            |&i| entries[i as usize].key == key,
            |&i| key_hash(&entries[i as usize].key),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => Err(key),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                // An index holds fewer than 2^32 series and blocks (checked as it is read):
                // each takes bytes of a file whose index is read into memory whole.
                slot.insert(entries.len() as u32);
                entries.push(Entry {
                    key,
                    first: (blocks.len() - count as usize) as u32,
                    count,
                    data_type,
                });
                Ok(())
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes room for `series` more series of at least one block each.
    pub(super) fn reserve(&mut self, series: usize) {
        self.entries.reserve(series);
        self.blocks.reserve(series);
        self.by_key
            .reserve(series, |&i| key_hash(&self.entries[i as usize].key));
    }

    /// Whether `count` more blocks of series `key` keep the part under 2^32 blocks (entries
    /// name their blocks by `u32` positions); the problem if not.
    fn room_for(&self, key: &SeriesKey, count: usize) -> std::result::Result<(), String> {
        match self.blocks.len().checked_add(count) {
            Some(n) if u32::try_from(n).is_ok() => Ok(()),
            _ => Err(format!(
                "series {key} with {count} blocks takes the part past 2^32 blocks"
            )),
        }
    }

    /// Adds a series with its blocks, which the caller has checked (in time order, inside the
    /// file); the problem if the series is there already or the part would pass 2^32 blocks.
    pub(super) fn add(
        &mut self,
        key: SeriesKey,
        data_type: DataType,
        blocks: &[BlockMeta],
    ) -> std::result::Result<(), String> {
        let count = blocks.len();
        self.room_for(&key, count)?;
        self.blocks.extend_from_slice(blocks);
        self.insert(key, data_type, count as u32).map_err(|key| {
            self.blocks.truncate(self.blocks.len() - count);
            format!("series {key} appears twice in the index")
        })
    }

    /// Gives back the room the lists grew into beyond a quarter more than they need.
    pub(super) fn trim(&mut self) {
        if self.entries.capacity() > self.entries.len() + self.entries.len() / 4 {
            self.entries.shrink_to_fit();
        }
        if self.blocks.capacity() > self.blocks.len() + self.blocks.len() / 4 {
            self.blocks.shrink_to_fit();
        }
    }
}

impl std::fmt::Debug for OrgSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgSeries")
            .field("series", &self.entries.len())
            .finish()
    }
}

fn corrupt(path: &Path, offset: u64, detail: impl Into<String>) -> Error {
    Error::PartCorrupt {
        path: path.to_owned(),
        offset,
        detail: detail.into(),
    }
}

impl Part {
    /// Opens the part at `path`, named `name`, and loads its index. Fails with
    /// [`Error::PartCorrupt`] (naming the file and byte offset) if the header, footer or index
    /// is damaged, and with [`Error::PartVersion`] if another format version wrote it.
    /// The part is filed under the partition its footer names.
    pub fn open(path: &Path, name: PartName) -> Result<Part> {
        let file = Arc::new(LocalFile::open(path)?);
        Part::read(file, path.to_owned(), name, None, &mut |_, _| None)
    }

    /// Opens the part at `at` in `files` and loads its index, failing as [`Part::open`] does.
    /// `canonical` may give, for a series, a key equal to the one parsed for the index to hold
    /// instead, so that the part shares it (keys are reference-counted) with the head and
    /// other parts rather than holding a copy: where series are many and short, the keys are
    /// most of a series' memory.
    pub(crate) fn open_in(
        files: &dyn PartFiles,
        at: PartLocation,
        canonical: Canonical<'_>,
    ) -> Result<Part> {
        let file = files.open(&at)?;
        Part::read(
            file,
            files.describe(&at),
            at.name,
            Some(at.partition),
            canonical,
        )
    }

    /// The part a writer has just made durable at `at`, with the index it built as it wrote
    /// it: nothing is read back.
    pub(super) fn written(
        file: Arc<dyn PartFile>,
        path: PathBuf,
        at: PartLocation,
        footer: Footer,
        series: HashMap<OrgId, OrgSeries>,
    ) -> Part {
        Part {
            path,
            size: file.len(),
            file,
            at,
            footer,
            series,
        }
    }

    fn read(
        file: Arc<dyn PartFile>,
        path_buf: PathBuf,
        name: PartName,
        filed_under: Option<Timestamp>,
        canonical: Canonical<'_>,
    ) -> Result<Part> {
        let path = path_buf.as_path();
        let size = file.len();
        let min_len = (format::HEADER_LEN + FOOTER_LEN) as u64;
        if size < min_len {
            return Err(corrupt(
                path,
                0,
                format!("file is {size} bytes, shorter than a header and footer ({min_len})"),
            ));
        }
        let mut header = [0; format::HEADER_LEN];
        file.read_exact_at(&mut header, 0)
            .map_err(Error::io("read part file", path))?;
        let version_error = |found| Error::PartVersion {
            path: path.to_owned(),
            found,
            supported: format::VERSION,
        };
        let version = match format::check_header(&header) {
            Ok(version) => version,
            Err(FrameProblem::Version(v)) => return Err(version_error(v)),
            Err(FrameProblem::Corrupt(at, detail)) => return Err(corrupt(path, at as u64, detail)),
        };
        let footer_at = size - FOOTER_LEN as u64;
        let mut tail = [0; FOOTER_LEN];
        file.read_exact_at(&mut tail, footer_at)
            .map_err(Error::io("read part file", path))?;
        let footer = match Footer::decode(&tail) {
            Ok(f) => f,
            Err(FrameProblem::Version(v)) => return Err(version_error(v)),
            Err(FrameProblem::Corrupt(at, detail)) => {
                return Err(corrupt(path, footer_at + at as u64, detail));
            }
        };
        if footer.version != version {
            return Err(corrupt(
                path,
                footer_at + 76,
                format!(
                    "footer says format version {}, the header {version}",
                    footer.version
                ),
            ));
        }
        if footer.index_offset < format::HEADER_LEN as u64
            || footer.index_offset.checked_add(footer.index_len) != Some(footer_at)
        {
            return Err(corrupt(
                path,
                footer_at,
                format!(
                    "footer places the index at {}..+{}, but it must end where the footer starts, at {footer_at}",
                    footer.index_offset, footer.index_len
                ),
            ));
        }
        let mut index = vec![0; footer.index_len as usize];
        file.read_exact_at(&mut index, footer.index_offset)
            .map_err(Error::io("read part file", path))?;
        let crc = crc32fast::hash(&index);
        if crc != footer.index_crc {
            return Err(corrupt(
                path,
                footer.index_offset,
                format!(
                    "index CRC mismatch: footer says {:#010x}, computed {crc:#010x}",
                    footer.index_crc
                ),
            ));
        }
        let index = format::decode_index(index, footer.index_encoding)
            .map_err(|(at, detail)| corrupt(path, footer.index_offset + at as u64, detail))?;
        let series = parse_index(path, &index, &footer, canonical)?;
        let at = PartLocation {
            partition: filed_under.unwrap_or(footer.partition_start),
            name,
        };
        Ok(Part {
            path: path_buf,
            file,
            at,
            footer,
            size,
            series,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its name: the range of part ids it holds.
    pub fn name(&self) -> PartName {
        self.at.name
    }

    /// Where the part is filed.
    pub fn location(&self) -> PartLocation {
        self.at
    }

    /// The partition: `[start, end)` in nanoseconds.
    pub fn partition(&self) -> Range<Timestamp> {
        self.footer.partition_start..self.footer.partition_end
    }

    /// The smallest and largest timestamp held.
    pub fn time_range(&self) -> (Timestamp, Timestamp) {
        (self.footer.min_ts, self.footer.max_ts)
    }

    /// Points held, across series.
    pub fn points(&self) -> u64 {
        self.footer.points
    }

    /// The WAL sequence number recorded by the flush that wrote the part: it holds no point of
    /// a later WAL record.
    pub fn wal_seq(&self) -> u64 {
        self.footer.wal_seq
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The series it holds, with their block summaries, in no particular order.
    pub fn series(&self) -> impl Iterator<Item = (OrgId, &SeriesKey, PartSeries<'_>)> {
        self.series
            .iter()
            .flat_map(|(&org, m)| m.entries.iter().map(move |e| (org, &e.key, m.series(e))))
    }

    /// The series `key` of `org`, if the part holds it.
    pub fn get(&self, org: OrgId, key: &SeriesKey) -> Option<PartSeries<'_>> {
        self.series.get(&org)?.get(key)
    }

    /// Appends the points of series `key` of `org` in `range` to `out`, in time order;
    /// `false` if the part does not hold the series.
    pub fn read_into(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: &Range<Timestamp>,
        out: &mut Vec<Point>,
    ) -> Result<bool> {
        let Some(series) = self.get(org, key) else {
            return Ok(false);
        };
        if range.start >= range.end
            || self.footer.max_ts < range.start
            || self.footer.min_ts >= range.end
        {
            return Ok(true);
        }
        for block in series.blocks {
            let s = &block.summary;
            if s.max_ts < range.start || s.min_ts >= range.end {
                continue;
            }
            let (timestamps, values) = self.read_block(block, series.data_type)?;
            format::push_points(&timestamps, values, Some(range), out);
        }
        Ok(true)
    }

    /// Appends every point of series `key` of `org` to `out`, in time order; `false` if the
    /// part does not hold the series.
    pub fn read_all_into(&self, org: OrgId, key: &SeriesKey, out: &mut Vec<Point>) -> Result<bool> {
        let Some(series) = self.get(org, key) else {
            return Ok(false);
        };
        for block in series.blocks {
            let (timestamps, values) = self.read_block(block, series.data_type)?;
            format::push_points(&timestamps, values, None, out);
        }
        Ok(true)
    }

    /// Appends the points of one block of a series of type `data_type` with timestamps in
    /// `range` to `out`, in time order.
    pub fn read_block_into(
        &self,
        block: &BlockMeta,
        data_type: DataType,
        range: &Range<Timestamp>,
        out: &mut Vec<Point>,
    ) -> Result<()> {
        let (timestamps, values) = self.read_block(block, data_type)?;
        format::push_points(&timestamps, values, Some(range), out);
        Ok(())
    }

    /// Reads, checks and decodes one block.
    pub fn read_block(
        &self,
        block: &BlockMeta,
        data_type: DataType,
    ) -> Result<(Vec<Timestamp>, Column)> {
        let (bytes, values_at) = self.block_frame(block)?;
        let timestamps = self.block_timestamps(block, &bytes[..values_at])?;
        let at = block.offset;
        let values = codec::decode(data_type, &bytes[values_at..])
            .map_err(|e| corrupt(&self.path, at + values_at as u64, e.to_string()))?;
        if values.len() != timestamps.len() {
            return Err(corrupt(
                &self.path,
                at,
                format!(
                    "block holds {} timestamps and {} values",
                    timestamps.len(),
                    values.len()
                ),
            ));
        }
        Ok((timestamps, values))
    }

    /// The timestamps of one block in `range`, appended to `out`: the block is read and
    /// checked as [`Part::read_block`] does, but its values are not decoded.
    pub fn read_block_timestamps_into(
        &self,
        block: &BlockMeta,
        range: &Range<Timestamp>,
        out: &mut Vec<Timestamp>,
    ) -> Result<()> {
        let (bytes, values_at) = self.block_frame(block)?;
        let timestamps = self.block_timestamps(block, &bytes[..values_at])?;
        let from = timestamps.partition_point(|t| *t < range.start);
        let to = timestamps.partition_point(|t| *t < range.end);
        out.extend_from_slice(&timestamps[from..to]);
        Ok(())
    }

    /// Reads one block and checks its frame and CRC: its bytes without the CRC, and where its
    /// value column starts in them.
    fn block_frame(&self, block: &BlockMeta) -> Result<(Vec<u8>, usize)> {
        let at = block.offset;
        if (block.len as usize) < BLOCK_OVERHEAD {
            return Err(corrupt(
                &self.path,
                at,
                format!("block of {} bytes is shorter than its frame", block.len),
            ));
        }
        let mut bytes = vec![0; block.len as usize];
        self.file
            .read_exact_at(&mut bytes, at)
            .map_err(Error::io("read part file", &self.path))?;
        // The index guarantees at least BLOCK_OVERHEAD bytes; the last four are the CRC.
        let body_len = bytes.len() - 4;
        let stored = u32::from_le_bytes(bytes[body_len..].try_into().unwrap_or_default());
        let crc = crc32fast::hash(&bytes[..body_len]);
        if crc != stored {
            return Err(corrupt(
                &self.path,
                at,
                format!("block CRC mismatch: stored {stored:#010x}, computed {crc:#010x}"),
            ));
        }
        let ts_len = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default()) as usize;
        if 4 + ts_len > body_len {
            return Err(corrupt(
                &self.path,
                at,
                format!("timestamp column of {ts_len} bytes overruns the block of {body_len}"),
            ));
        }
        bytes.truncate(body_len);
        Ok((bytes, 4 + ts_len))
    }

    /// Decodes a block's timestamp column (`head` is the block's bytes up to its values) and
    /// checks them against the index: as many as it says, strictly increasing from its first
    /// to its last.
    fn block_timestamps(&self, block: &BlockMeta, head: &[u8]) -> Result<Vec<Timestamp>> {
        let at = block.offset;
        let timestamps = codec::decode_timestamps(&head[4..])
            .map_err(|e| corrupt(&self.path, at + 4, e.to_string()))?;
        let s = &block.summary;
        if timestamps.len() != s.count as usize {
            return Err(corrupt(
                &self.path,
                at,
                format!(
                    "block holds {} timestamps; the index says {}",
                    timestamps.len(),
                    s.count
                ),
            ));
        }
        let sorted = timestamps.windows(2).all(|w| w[0] < w[1]);
        if !sorted || timestamps.first() != Some(&s.min_ts) || timestamps.last() != Some(&s.max_ts)
        {
            return Err(corrupt(
                &self.path,
                at + 4,
                format!(
                    "block timestamps are not strictly increasing from {} to {} as the index says",
                    s.min_ts, s.max_ts
                ),
            ));
        }
        Ok(timestamps)
    }
}

fn parse_index(
    path: &Path,
    index: &[u8],
    footer: &Footer,
    canonical: Canonical<'_>,
) -> Result<HashMap<OrgId, OrgSeries>> {
    let base = footer.index_offset;
    let mut c = Cursor::new(index);
    let mut out: HashMap<OrgId, OrgSeries> = HashMap::new();
    // A compressed index's problems are placed in its decompressed bytes.
    let at = |pos: usize, detail: String| {
        if footer.index_encoding == format::INDEX_RAW {
            corrupt(path, base + pos as u64, detail)
        } else {
            corrupt(
                path,
                base,
                format!("{detail} (at byte {pos} of the decompressed index)"),
            )
        }
    };
    let bad = |c: &Cursor<'_>, detail: String| at(c.pos, detail);
    while !c.is_empty() {
        let entry_at = c.pos;
        let (org, key, data_type, count) = c
            .series()
            .map_err(|e| bad(&c, format!("index entry: {e}")))?;
        let key = canonical(org, &key).unwrap_or(key);
        let series = out.entry(org).or_default();
        let first = series.blocks.len();
        series
            .room_for(&key, count)
            .map_err(|detail| bad(&c, detail))?;
        series.blocks.reserve(count.min(index.len() / 32));
        for _ in 0..count {
            let block = c
                .block(data_type, footer.version)
                .map_err(|e| bad(&c, format!("block entry of series {key}: {e}")))?;
            let end = block.offset.checked_add(u64::from(block.len));
            let in_bounds = block.offset >= format::HEADER_LEN as u64
                && end.is_some_and(|e| e <= footer.index_offset)
                && block.len as usize >= BLOCK_OVERHEAD;
            if !in_bounds {
                return Err(bad(
                    &c,
                    format!(
                        "block of series {key} at {}..+{} lies outside the data area {}..{}",
                        block.offset,
                        block.len,
                        format::HEADER_LEN,
                        footer.index_offset
                    ),
                ));
            }
            if series.blocks[first..]
                .last()
                .is_some_and(|prev| prev.summary.max_ts >= block.summary.min_ts)
            {
                return Err(bad(
                    &c,
                    format!("blocks of series {key} overlap or are out of time order"),
                ));
            }
            series.blocks.push(block);
        }
        if let Err(key) = series.insert(key, data_type, count as u32) {
            return Err(at(
                entry_at,
                format!("series {key} of {org} appears twice in the index"),
            ));
        }
    }
    out.values_mut().for_each(OrgSeries::trim);
    Ok(out)
}
