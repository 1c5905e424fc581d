//! Writing one part file: blocks streamed to a [`PartSink`], then the index and footer, then
//! the sink's commit, so that a part is either absent or complete and durable under its final
//! name.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::PathBuf;

use sextant_model::{DataType, OrgId, SeriesKey, Timestamp};

use super::format::{self, BLOCK_OVERHEAD, BlockMeta, Footer, IndexWriter};
use super::reader::OrgSeries;
use super::{Part, PartFiles, PartLocation, PartSink};
use crate::codec::{self, Column};
use crate::{Error, Result};

/// Builds one part file. Call [`PartWriter::begin_series`] with series in any order (readers
/// look series up by key), add that series' blocks in time order, and finish with
/// [`PartWriter::finish`]. Dropping an unfinished writer leaves a temporary file that the next
/// open removes.
pub(crate) struct PartWriter {
    file: BufWriter<Box<dyn PartSink>>,
    at: PartLocation,
    /// The part as [`PartFiles::describe`] names it, for errors.
    path: PathBuf,
    offset: u64,
    partition: Range<Timestamp>,
    wal_seq: u64,
    index: IndexWriter,
    /// The index entry of the series last ended, before it joins `index`.
    entry: Vec<u8>,
    /// The series being written.
    current: Option<(OrgId, SeriesKey, DataType)>,
    /// Its blocks so far.
    blocks: Vec<BlockMeta>,
    min_ts: Timestamp,
    max_ts: Timestamp,
    points: u64,
    scratch: Vec<u8>,
    /// Blocks of fewer points get no summary of their values.
    summary_min_points: u32,
    /// The index as an open part holds it, built as the series end: a part just written opens
    /// without reading its index back (for a million short series, the decompressed index and
    /// its parse took a quarter of a flush's peak memory), and holds the keys it was given.
    series: HashMap<OrgId, OrgSeries>,
}

impl PartWriter {
    /// Starts the part at `at` in `files`, for the partition `[partition.start,
    /// partition.end)`. `wal_seq` is the last WAL record whose points the part may hold; it is
    /// recorded for inspection. Blocks of fewer than `summary_min_points` points get no summary
    /// of their values in the index.
    pub(crate) fn create(
        files: &dyn PartFiles,
        at: PartLocation,
        partition: Range<Timestamp>,
        wal_seq: u64,
        summary_min_points: u32,
    ) -> Result<PartWriter> {
        let path = files.describe(&at);
        let sink = files.create(&at)?;
        let mut file = BufWriter::with_capacity(1 << 20, sink);
        file.write_all(&format::encode_header())
            .map_err(Error::io("write part file", &path))?;
        Ok(PartWriter {
            file,
            at,
            path,
            offset: format::HEADER_LEN as u64,
            partition,
            wal_seq,
            index: IndexWriter::new(format::STREAM_INDEX_FROM),
            entry: Vec::new(),
            current: None,
            min_ts: Timestamp::MAX,
            max_ts: Timestamp::MIN,
            points: 0,
            scratch: Vec::new(),
            summary_min_points,
            blocks: Vec::new(),
            series: HashMap::new(),
        })
    }

    /// Starts the next series, ending the one before.
    pub(crate) fn begin_series(
        &mut self,
        org: OrgId,
        key: &SeriesKey,
        data_type: DataType,
    ) -> Result<()> {
        self.end_series()?;
        self.current = Some((org, key.clone(), data_type));
        Ok(())
    }

    /// Makes room in the index for the series to come, given by their organizations (in any
    /// order, best grouped): their lists then take what they need rather than growing by
    /// doubling.
    pub(crate) fn expect_series(&mut self, orgs: impl IntoIterator<Item = OrgId>) {
        let mut orgs = orgs.into_iter().peekable();
        while let Some(org) = orgs.next() {
            let mut n = 1;
            while orgs.next_if_eq(&org).is_some() {
                n += 1;
            }
            self.series.entry(org).or_default().reserve(n);
        }
    }

    /// Appends a block of the current series: `timestamps` sorted, strictly increasing, inside
    /// the partition and after the previous block's; `values` as many, of the series' type.
    pub(crate) fn add_block(&mut self, timestamps: &[Timestamp], values: &Column) -> Result<()> {
        let Some((_, key, data_type)) = &self.current else {
            return Ok(());
        };
        if timestamps.is_empty() {
            return Ok(());
        }
        debug_assert_eq!(timestamps.len(), values.len());
        debug_assert_eq!(values.data_type(), *data_type);
        let block = &mut self.scratch;
        block.clear();
        block.extend_from_slice(&[0; 4]);
        codec::encode_timestamps(timestamps, block)?;
        let ts_len = (block.len() - 4) as u32;
        block[..4].copy_from_slice(&ts_len.to_le_bytes());
        codec::encode(values, block).map_err(|e| Error::PartWrite {
            path: self.path.clone(),
            detail: format!("cannot encode a block of series {key}: {e}"),
        })?;
        let crc = crc32fast::hash(block);
        block.extend_from_slice(&crc.to_le_bytes());
        debug_assert!(block.len() >= BLOCK_OVERHEAD);
        let len = u32::try_from(block.len()).map_err(|_| Error::PartWrite {
            path: self.path.clone(),
            detail: format!(
                "a block of series {key} encodes to {} bytes, more than 4 GiB",
                block.len()
            ),
        })?;
        self.file
            .write_all(block)
            .map_err(Error::io("write part file", &self.path))?;
        self.blocks.push(BlockMeta {
            offset: self.offset,
            len,
            summary: format::summarize_for_index(timestamps, values, self.summary_min_points),
        });
        self.offset += u64::from(len);
        self.min_ts = self.min_ts.min(timestamps[0]);
        self.max_ts = self.max_ts.max(timestamps[timestamps.len() - 1]);
        self.points += timestamps.len() as u64;
        Ok(())
    }

    fn end_series(&mut self) -> Result<()> {
        let Some((org, key, data_type)) = self.current.take() else {
            return Ok(());
        };
        if self.blocks.is_empty() {
            return Ok(());
        }
        self.entry.clear();
        format::put_series(&mut self.entry, org, &key, data_type, self.blocks.len());
        for b in &self.blocks {
            format::put_block(&mut self.entry, b, format::VERSION);
        }
        self.index
            .append(&self.entry)
            .map_err(Error::io("compress part index", &self.path))?;
        let added = self
            .series
            .entry(org)
            .or_default()
            .add(key, data_type, &self.blocks);
        self.blocks.clear();
        added.map_err(|detail| Error::PartWrite {
            path: self.path.clone(),
            detail: format!("{detail} (of {org})"),
        })
    }

    /// Whether no block has been added.
    pub(crate) fn is_empty(&self) -> bool {
        self.points == 0
    }

    /// Gives up the part; nothing is published.
    pub(crate) fn abandon(self) -> Result<()> {
        match self.file.into_inner() {
            Ok(sink) => sink.abandon(),
            // The buffered bytes could not be written: the sink is gone with them, and an open
            // clears what it left.
            Err(_) => Ok(()),
        }
    }

    /// Writes the index and footer and publishes the part durably; returns where it is.
    #[cfg(test)]
    pub(crate) fn finish(self) -> Result<PartLocation> {
        self.finish_with_index().map(|(at, ..)| at)
    }

    /// Finishes the part and opens it with the index built while writing it, which shares the
    /// keys it was given (they are reference-counted, and where series are many and short the
    /// keys are most of a series' memory).
    pub(crate) fn finish_and_open(self, files: &dyn PartFiles) -> Result<Part> {
        let path = self.path.clone();
        let (at, footer, series) = self.finish_with_index()?;
        Ok(Part::written(files.open(&at)?, path, at, footer, series))
    }

    /// Finishes the part; returns where it is, its footer and its index.
    fn finish_with_index(mut self) -> Result<(PartLocation, Footer, HashMap<OrgId, OrgSeries>)> {
        self.end_series()?;
        let (index, index_encoding) = self
            .index
            .finish()
            .map_err(Error::io("compress part index", &self.path))?;
        let footer = Footer {
            index_offset: self.offset,
            index_len: index.len() as u64,
            index_crc: crc32fast::hash(&index),
            index_encoding,
            version: format::VERSION,
            partition_start: self.partition.start,
            partition_end: self.partition.end,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            points: self.points,
            wal_seq: self.wal_seq,
        };
        let io = Error::io("write part file", &self.path);
        self.file
            .write_all(&index)
            .and_then(|()| self.file.write_all(&footer.encode()))
            .and_then(|()| self.file.flush())
            .map_err(io)?;
        let sink = self
            .file
            .into_inner()
            .map_err(|e| Error::io("write part file", &self.path)(e.into_error()))?;
        sink.commit()?;
        self.series.retain(|_, s| !s.is_empty());
        self.series.values_mut().for_each(OrgSeries::trim);
        Ok((self.at, footer, self.series))
    }
}
