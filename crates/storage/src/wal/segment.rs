//! WAL segment files: their names, their header and the framing of records inside them.
//!
//! A segment is named after the sequence number of its first record, zero-padded to 20 digits
//! (`00000000000000000001.wal`), so sorting names sorts segments. Its 32-byte header and the
//! 16-byte frame of each record are drawn in `docs/format/wal.md`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The first eight bytes of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"SEXTWAL\0";
/// The segment format version this build reads and writes.
pub(crate) const VERSION: u32 = 3;

/// The oldest segment version this build reads: version 2 is version 3 without write batches
/// of kind 4, version 1 is version 2 without compressed payloads.
pub(crate) const OLDEST_VERSION: u32 = 1;
/// The size of the segment header.
pub(crate) const HEADER_LEN: usize = 32;
/// The size of a record's frame before its payload: length, CRC, sequence number.
pub(crate) const FRAME_LEN: usize = 16;

const SUFFIX: &str = ".wal";

/// The file name of the segment whose first record has sequence number `first_seq`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The first sequence number encoded in a segment's file name, or `None` for other files.
fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentRef {
    pub(crate) first_seq: u64,
    pub(crate) path: PathBuf,
}

/// The segments in `dir`, oldest first. Files that are not segments are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentRef>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io("list WAL directory", dir))? {
        let entry = entry.map_err(Error::io("list WAL directory", dir))?;
        let name = entry.file_name();
        if let Some(first_seq) = name.to_str().and_then(parse_file_name) {
            out.push(SegmentRef {
                first_seq,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.first_seq);
    Ok(out)
}

/// The header of a segment whose first record will have sequence number `first_seq`.
pub(crate) fn encode_header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    // Bytes 12..16 (flags) and 24..28 (reserved) stay zero in version 1.
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What a segment header says, or why it cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// A good header.
    Valid { first_seq: u64 },
    /// Fewer than [`HEADER_LEN`] bytes, or all zero: a segment whose creation a crash cut short.
    Torn,
    /// A complete header from another version.
    Version(u32),
    /// Anything else.
    Corrupt(&'static str),
}

pub(crate) fn decode_header(bytes: &[u8]) -> Header {
    let Some(h) = bytes.get(..HEADER_LEN) else {
        return Header::Torn;
    };
    if h.iter().all(|&b| b == 0) {
        return Header::Torn;
    }
    if h[0..8] != MAGIC {
        return Header::Corrupt("bad magic: not a Sextant WAL segment");
    }
    let stored_crc = u32::from_le_bytes([h[28], h[29], h[30], h[31]]);
    if crc32fast::hash(&h[0..28]) != stored_crc {
        return Header::Corrupt("segment header CRC mismatch");
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Header::Version(version);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[16..24]);
    Header::Valid {
        first_seq: u64::from_le_bytes(seq),
    }
}

/// The CRC of a record frame: over the length, the sequence number, then the payload, whose
/// own CRC state is passed in so that it can be computed before the sequence number is known.
pub(crate) fn frame_crc(len: u32, seq: u64, payload_crc: &crc32fast::Hasher) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.combine(payload_crc);
    h.finalize()
}

/// Writes the frame of a record into the first [`FRAME_LEN`] bytes of `record`, whose payload
/// follows.
pub(crate) fn write_frame(record: &mut [u8], seq: u64, payload_crc: &crc32fast::Hasher) {
    let len = (record.len() - FRAME_LEN) as u32;
    let crc = frame_crc(len, seq, payload_crc);
    record[0..4].copy_from_slice(&len.to_le_bytes());
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record[8..16].copy_from_slice(&seq.to_le_bytes());
}

/// One record read back from a segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RawRecord<'a> {
    pub(crate) seq: u64,
    pub(crate) payload: &'a [u8],
    /// The offset just past the record.
    pub(crate) end: usize,
}

/// Why no record could be read at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The bytes end inside the frame or the payload.
    Short,
    /// The stored CRC does not match the bytes.
    Crc,
}

/// Reads the record that starts at `offset` of `segment`.
pub(crate) fn read_record(segment: &[u8], offset: usize) -> Result<RawRecord<'_>, FrameError> {
    let frame = segment
        .get(offset..offset + FRAME_LEN)
        .ok_or(FrameError::Short)?;
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let stored_crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&frame[8..16]);
    let seq = u64::from_le_bytes(seq);
    let start = offset + FRAME_LEN;
    let end = start.checked_add(len as usize).ok_or(FrameError::Short)?;
    let payload = segment.get(start..end).ok_or(FrameError::Short)?;
    let mut payload_crc = crc32fast::Hasher::new();
    payload_crc.update(payload);
    if frame_crc(len, seq, &payload_crc) != stored_crc {
        return Err(FrameError::Crc);
    }
    Ok(RawRecord { seq, payload, end })
}

/// Creates a new, empty segment in `dir` whose first record will be `first_seq`, makes the
/// file and its directory entry durable, and returns the file open for appending.
pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<(File, PathBuf)> {
    let path = dir.join(file_name(first_seq));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(Error::io("create WAL segment", &path))?;
    file.write_all(&encode_header(first_seq))
        .map_err(Error::io("write WAL segment header", &path))?;
    file.sync_all()
        .map_err(Error::io("sync WAL segment", &path))?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// Makes creations and removals of files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync WAL directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_sequence() {
        assert_eq!(file_name(1), "00000000000000000001.wal");
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "1.wal",
            "0000000000000000000x.wal",
            "00000000000000000001.tmp",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_round_trips_and_detects_damage() {
        let h = encode_header(77);
        assert_eq!(decode_header(&h), Header::Valid { first_seq: 77 });
        assert_eq!(decode_header(&h[..31]), Header::Torn);
        assert_eq!(decode_header(&[0; HEADER_LEN]), Header::Torn);
        let mut bad = h;
        bad[20] ^= 1;
        assert!(matches!(decode_header(&bad), Header::Corrupt(_)));
        let mut other = h;
        other[8..12].copy_from_slice(&4u32.to_le_bytes());
        let crc = crc32fast::hash(&other[0..28]);
        other[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_header(&other), Header::Version(4));
        // Versions 2 (before write batches of kind 4) and 1 (before compressed payloads) are
        // read.
        for version in [2u32, 1] {
            let mut old = other;
            old[8..12].copy_from_slice(&version.to_le_bytes());
            let crc = crc32fast::hash(&old[0..28]);
            old[28..32].copy_from_slice(&crc.to_le_bytes());
            assert_eq!(decode_header(&old), Header::Valid { first_seq: 77 });
        }
    }

    #[test]
    fn frames_round_trip_and_detect_damage() {
        let payload = b"hello";
        let mut rec = vec![0u8; FRAME_LEN];
        rec.extend_from_slice(payload);
        let mut crc = crc32fast::Hasher::new();
        crc.update(payload);
        write_frame(&mut rec, 9, &crc);
        let got = read_record(&rec, 0).unwrap();
        assert_eq!(
            (got.seq, got.payload, got.end),
            (9, &payload[..], rec.len())
        );
        assert_eq!(
            read_record(&rec[..rec.len() - 1], 0),
            Err(FrameError::Short)
        );
        for bit in 0..rec.len() * 8 {
            let mut bad = rec.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                read_record(&bad, 0).is_err(),
                "flip of bit {bit} went unseen"
            );
        }
    }
}
