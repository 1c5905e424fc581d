//! Reading committed records back from the segments while the log is open, for consumers of
//! the commit feed that fell behind its in-memory tail or restarted.
//!
//! Unlike replay, this never repairs anything: it reads only records up to a sequence number
//! the caller knows to be committed, which are complete and synced, so any damage before that
//! point is corruption and is reported as such.

use std::fs;
use std::path::Path;

use super::segment::{self, FrameError, HEADER_LEN, Header};
use super::{Record, payload};
use crate::{Error, Result};

/// What [`read_records`] found.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// The records read, in sequence order, consecutive from the first one.
    pub(crate) records: Vec<(u64, Record)>,
    /// The oldest sequence number the segments still hold, when `from` is older than that:
    /// records `from..oldest` were removed (their data is in parts) and cannot be read back.
    pub(crate) removed_before: Option<u64>,
}

/// The sequence number of the first record the segments in `dir` hold, if there is one.
pub(crate) fn oldest_seq(dir: &Path) -> Result<Option<u64>> {
    Ok(segment::list(dir)?.first().map(|s| s.first_seq))
}

/// Reads the records `from..=through` of the log in `dir`, stopping after the segment in which
/// the records read reach `budget` payload bytes (at least one segment is read). `through`
/// must be committed (at most [`Wal::committed_seq`](super::Wal::committed_seq)).
///
/// A segment removed between listing and reading (a truncation racing with the reader) counts
/// as removed: the caller is told where the log now starts.
pub(crate) fn read_records(dir: &Path, from: u64, through: u64, budget: usize) -> Result<Read> {
    let mut out = Read::default();
    if from > through {
        return Ok(out);
    }
    let segments = segment::list(dir)?;
    let Some(oldest) = segments.first().map(|s| s.first_seq) else {
        return Ok(out);
    };
    let mut next = from;
    if from < oldest {
        out.removed_before = Some(oldest);
        next = oldest;
    }
    // The segment holding `next`: the last one starting at or before it.
    let start = segments
        .iter()
        .rposition(|s| s.first_seq <= next)
        .unwrap_or(0);
    let mut bytes_read = 0;
    for seg in &segments[start..] {
        if next > through || bytes_read >= budget {
            break;
        }
        let bytes = match fs::read(&seg.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && out.records.is_empty() => {
                // Truncated meanwhile: everything in it is in parts now; look again.
                return read_records(dir, from, through, budget);
            }
            Err(e) => return Err(Error::io("read WAL segment", &seg.path)(e)),
        };
        let corrupt = |offset: usize, detail: String| Error::WalCorrupt {
            path: seg.path.clone(),
            offset: offset as u64,
            detail,
        };
        match segment::decode_header(&bytes) {
            Header::Valid { first_seq } if first_seq == seg.first_seq => {}
            Header::Valid { first_seq } => {
                let detail = format!("header says seq {first_seq}, file name {}", seg.first_seq);
                return Err(corrupt(16, detail));
            }
            Header::Version(found) => {
                return Err(Error::WalVersion {
                    path: seg.path.clone(),
                    found,
                    supported: segment::VERSION,
                });
            }
            // A segment being created holds no committed record yet.
            Header::Torn => break,
            Header::Corrupt(detail) => return Err(corrupt(0, detail.to_string())),
        }
        let mut seq = seg.first_seq;
        let mut offset = HEADER_LEN;
        while offset < bytes.len() && seq <= through {
            let record = segment::read_record(&bytes, offset).map_err(|e| {
                let what = match e {
                    FrameError::Short => "is incomplete",
                    FrameError::Crc => "fails its CRC",
                };
                corrupt(offset, format!("committed record seq {seq} {what}"))
            })?;
            if record.seq != seq {
                let detail = format!("record has seq {}, expected {seq}", record.seq);
                return Err(corrupt(offset, detail));
            }
            if seq >= next {
                let decoded = payload::decode(record.payload).map_err(|e| {
                    corrupt(
                        offset + segment::FRAME_LEN + e.offset,
                        format!("record seq {seq} does not decode: {}", e.detail),
                    )
                })?;
                bytes_read += record.payload.len();
                out.records.push((seq, decoded));
                next = seq + 1;
            }
            seq += 1;
            offset = record.end;
        }
    }
    Ok(out)
}
