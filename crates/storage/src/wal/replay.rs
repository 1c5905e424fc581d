//! Reading the WAL back on open: every record in order, a torn tail cut off, corruption
//! anywhere else reported.
//!
//! The recovery rule follows from how records are acknowledged: a write is acknowledged only
//! after a sync that covers its record and every byte before it. So the first bad record of
//! the last segment, and everything after it, belongs to writes that were never acknowledged,
//! and cutting it off loses nothing promised. Earlier segments were synced in full before the
//! next one was created, so a bad record there is damage, and replay stops with an error rather
//! than silently dropping acknowledged data.

use std::fs::{self, OpenOptions};
use std::path::Path;

use super::segment::{self, FrameError, HEADER_LEN, Header, SegmentRef};
use super::{Record, payload};
use crate::{Error, Result};

/// What replay leaves for the writer.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The segments that remain, oldest first; the last one, if any, is appended to next.
    pub(crate) segments: Vec<SegmentRef>,
    /// The sequence number the next record gets.
    pub(crate) next_seq: u64,
    /// How many records were replayed.
    pub(crate) records: u64,
}

/// The largest first sequence number a segment may carry. Sequence numbers start at 1 and
/// grow by one per record, so a log never gets near 2^63; a segment named or headed beyond it
/// is damaged, and refusing it keeps the sequence arithmetic of replay and of later appends
/// from overflowing.
pub(crate) const MAX_FIRST_SEQ: u64 = 1 << 63;

fn corrupt(seg: &SegmentRef, offset: usize, detail: impl Into<String>) -> Error {
    Error::WalCorrupt {
        path: seg.path.clone(),
        offset: offset as u64,
        detail: detail.into(),
    }
}

/// Replays every segment in `dir` into `on_record`, repairing a torn tail of the last one.
pub(crate) fn replay(
    dir: &Path,
    on_record: &mut dyn FnMut(u64, Record) -> Result<()>,
) -> Result<Recovered> {
    let mut segments = segment::list(dir)?;
    let mut next_seq: Option<u64> = None;
    let mut records = 0;
    let mut i = 0;
    while i < segments.len() {
        let seg = &segments[i];
        let last = i + 1 == segments.len();
        if !(1..=MAX_FIRST_SEQ).contains(&seg.first_seq) {
            return Err(corrupt(
                seg,
                0,
                format!(
                    "file name says the first record is seq {}, outside 1..={MAX_FIRST_SEQ}",
                    seg.first_seq
                ),
            ));
        }
        let bytes = fs::read(&seg.path).map_err(Error::io("read WAL segment", &seg.path))?;
        let first_seq = match segment::decode_header(&bytes) {
            Header::Valid { first_seq } => first_seq,
            Header::Torn if last => {
                tracing::warn!(
                    path = %seg.path.display(),
                    bytes = bytes.len(),
                    "removing WAL segment whose creation was cut short by a crash",
                );
                fs::remove_file(&seg.path)
                    .map_err(Error::io("remove torn WAL segment", &seg.path))?;
                segment::sync_dir(dir)?;
                next_seq = next_seq.or(Some(seg.first_seq));
                segments.pop();
                break;
            }
            Header::Torn => {
                return Err(corrupt(
                    seg,
                    0,
                    "segment header is missing or zeroed, and later segments exist",
                ));
            }
            Header::Version(found) => {
                return Err(Error::WalVersion {
                    path: seg.path.clone(),
                    found,
                    supported: segment::VERSION,
                });
            }
            Header::Corrupt(detail) => return Err(corrupt(seg, 0, detail)),
        };
        if first_seq != seg.first_seq {
            return Err(corrupt(
                seg,
                16,
                format!(
                    "header says the first record is seq {first_seq}, but the file name says {}",
                    seg.first_seq
                ),
            ));
        }
        if next_seq.is_some_and(|expected| first_seq != expected) {
            let expected = next_seq.unwrap_or_default();
            return Err(corrupt(
                seg,
                16,
                format!(
                    "segment starts at seq {first_seq}, but the previous segment ends before seq {expected}"
                ),
            ));
        }
        let mut seq = first_seq;
        let mut offset = HEADER_LEN;
        while offset < bytes.len() {
            let record = match segment::read_record(&bytes, offset) {
                Ok(record) => record,
                Err(e) if last => {
                    let reason = match e {
                        FrameError::Short => "incomplete record",
                        FrameError::Crc => "record CRC mismatch",
                    };
                    tracing::warn!(
                        path = %seg.path.display(),
                        offset,
                        dropped_bytes = bytes.len() - offset,
                        reason,
                        "truncating torn tail of the WAL: these writes were never acknowledged",
                    );
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&seg.path)
                        .map_err(Error::io("open WAL segment", &seg.path))?;
                    file.set_len(offset as u64)
                        .and_then(|()| file.sync_all())
                        .map_err(Error::io("truncate torn tail of WAL segment", &seg.path))?;
                    break;
                }
                Err(FrameError::Short) => {
                    return Err(corrupt(
                        seg,
                        offset,
                        "incomplete record in a segment that is not the last",
                    ));
                }
                Err(FrameError::Crc) => return Err(corrupt(seg, offset, "record CRC mismatch")),
            };
            if record.seq != seq {
                return Err(corrupt(
                    seg,
                    offset,
                    format!("record has seq {}, expected {seq}", record.seq),
                ));
            }
            let decoded = payload::decode(record.payload).map_err(|e| {
                corrupt(
                    seg,
                    offset + segment::FRAME_LEN + e.offset,
                    format!("record seq {seq} does not decode: {}", e.detail),
                )
            })?;
            on_record(seq, decoded)?;
            records += 1;
            seq += 1;
            offset = record.end;
        }
        next_seq = Some(seq);
        i += 1;
    }
    Ok(Recovered {
        segments,
        next_seq: next_seq.unwrap_or(1),
        records,
    })
}
