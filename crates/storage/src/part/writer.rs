//! Writing one part file: blocks streamed to a temporary file, then the index and footer, then
//! fsync, rename into place and fsync of the directory, so that a part is either absent or
//! complete and durable under its final name.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use sextant_model::{DataType, OrgId, SeriesKey, Timestamp};

use super::PartName;
use super::format::{self, BLOCK_OVERHEAD, BlockMeta, Footer};
use crate::codec::{self, Column};
use crate::{Error, Result};

/// Builds one part file. Call [`PartWriter::begin_series`] with series in any order (readers
/// look series up by key), add that series' blocks in time order, and finish with
/// [`PartWriter::finish`]. Dropping an unfinished writer leaves a temporary file that the next
/// open removes.
#[derive(Debug)]
pub(crate) struct PartWriter {
    file: BufWriter<File>,
    tmp_path: PathBuf,
    path: PathBuf,
    offset: u64,
    partition: Range<Timestamp>,
    wal_seq: u64,
    index: Vec<u8>,
    /// The series being written and its blocks so far.
    current: Option<(OrgId, SeriesKey, DataType, Vec<BlockMeta>)>,
    min_ts: Timestamp,
    max_ts: Timestamp,
    points: u64,
    scratch: Vec<u8>,
}

impl PartWriter {
    /// Starts part `name` of the partition `[partition.start, partition.end)` in `dir` (the
    /// partition's directory, which must exist). `wal_seq` is the last WAL record whose points
    /// the part may hold; it is recorded for inspection.
    pub(crate) fn create(
        dir: &Path,
        name: PartName,
        partition: Range<Timestamp>,
        wal_seq: u64,
    ) -> Result<PartWriter> {
        let path = dir.join(name.file_name());
        let tmp_path = dir.join(format!("{}.tmp", name.file_name()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .map_err(Error::io("create part file", &tmp_path))?;
        let mut file = BufWriter::with_capacity(1 << 20, file);
        file.write_all(&format::encode_header())
            .map_err(Error::io("write part file", &tmp_path))?;
        Ok(PartWriter {
            file,
            tmp_path,
            path,
            offset: format::HEADER_LEN as u64,
            partition,
            wal_seq,
            index: Vec::new(),
            current: None,
            min_ts: Timestamp::MAX,
            max_ts: Timestamp::MIN,
            points: 0,
            scratch: Vec::new(),
        })
    }

    /// Starts the next series, ending the one before.
    pub(crate) fn begin_series(&mut self, org: OrgId, key: &SeriesKey, data_type: DataType) {
        self.end_series();
        self.current = Some((org, key.clone(), data_type, Vec::new()));
    }

    /// Appends a block of the current series: `timestamps` sorted, strictly increasing, inside
    /// the partition and after the previous block's; `values` as many, of the series' type.
    pub(crate) fn add_block(&mut self, timestamps: &[Timestamp], values: &Column) -> Result<()> {
        let Some((_, key, data_type, blocks)) = &mut self.current else {
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
            .map_err(Error::io("write part file", &self.tmp_path))?;
        blocks.push(BlockMeta {
            offset: self.offset,
            len,
            summary: format::summarize(timestamps, values),
        });
        self.offset += u64::from(len);
        self.min_ts = self.min_ts.min(timestamps[0]);
        self.max_ts = self.max_ts.max(timestamps[timestamps.len() - 1]);
        self.points += timestamps.len() as u64;
        Ok(())
    }

    fn end_series(&mut self) {
        if let Some((org, key, data_type, blocks)) = self.current.take()
            && !blocks.is_empty()
        {
            format::put_series(&mut self.index, org, &key, data_type, blocks.len());
            for b in &blocks {
                format::put_block(&mut self.index, b);
            }
        }
    }

    /// Whether no block has been added.
    pub(crate) fn is_empty(&self) -> bool {
        self.points == 0 && self.current.as_ref().is_none_or(|c| c.3.is_empty())
    }

    /// Gives up the part, removing its temporary file.
    pub(crate) fn abandon(self) -> Result<()> {
        let PartWriter { file, tmp_path, .. } = self;
        drop(file);
        std::fs::remove_file(&tmp_path).map_err(Error::io("remove unfinished part file", &tmp_path))
    }

    /// Writes the index and footer, makes the file durable and renames it into place; returns
    /// its final path.
    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        self.end_series();
        let footer = Footer {
            index_offset: self.offset,
            index_len: self.index.len() as u64,
            index_crc: crc32fast::hash(&self.index),
            partition_start: self.partition.start,
            partition_end: self.partition.end,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            points: self.points,
            wal_seq: self.wal_seq,
        };
        let io = Error::io("write part file", &self.tmp_path);
        self.file
            .write_all(&self.index)
            .and_then(|()| self.file.write_all(&footer.encode()))
            .and_then(|()| self.file.flush())
            .map_err(io)?;
        let file = self
            .file
            .into_inner()
            .map_err(|e| Error::io("write part file", &self.tmp_path)(e.into_error()))?;
        file.sync_all()
            .map_err(Error::io("sync part file", &self.tmp_path))?;
        drop(file);
        std::fs::rename(&self.tmp_path, &self.path)
            .map_err(Error::io("rename part file into place", &self.path))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        super::sync_dir(dir)?;
        Ok(self.path)
    }
}
