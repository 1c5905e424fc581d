//! A collection's event log (`events.log`): where accepted events become durable before the
//! answer. `docs/format/collections.md` draws it byte by byte.
//!
//! A 24-byte header (`SEXTEVT\0`, version, reserved, the cursor before its first record), then
//! one record per ingest request:
//! payload length (u32 LE), CRC-32 of the payload (u32 LE), the payload (the request's
//! accepted entries, postcard-encoded). Appends are written and `fdatasync`ed before they
//! return. On open, a torn last record (short, or its CRC wrong, with nothing after it) was
//! never acknowledged and is cut off with a warning; damage before the last record is an
//! error naming the file and byte offset.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::event::Entry;
use crate::{Error, Result};

const MAGIC: [u8; 8] = *b"SEXTEVT\0";
const VERSION: u32 = 2;
const HEADER_LEN: usize = 24;
/// Version 1 had no base cursor (it was 0): a 16-byte header.
const V1_HEADER_LEN: usize = 16;
const FRAME_LEN: usize = 8;
/// The largest record accepted on replay: a request of 1000 events is far below it.
const MAX_RECORD: usize = 256 << 20;

/// An open log, positioned at its end.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    file: File,
    /// The cursor before its first record: how many records earlier logs held.
    base: u64,
    /// Records appended or replayed.
    records: u64,
    /// Where each record starts in the file.
    offsets: Vec<u64>,
    /// The length of the file up to its last whole record.
    len: u64,
    /// Set when a failed append could not be undone: the log refuses appends until reopened.
    poisoned: bool,
    /// The last frame appended, its memory reused by the next.
    buffer: Vec<u8>,
}

impl Log {
    /// Creates an empty log at `path` whose first record will have cursor `base + 1`: written
    /// and synced under a temporary name, then renamed, so that a crash leaves no log without
    /// its header (the caller syncs the directory).
    pub fn create(path: &Path, base: u64) -> Result<Log> {
        let tmp = path.with_extension("log.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .append(true)
            .open(&tmp)
            .map_err(Error::io("create", &tmp))?;
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[16..24].copy_from_slice(&base.to_le_bytes());
        file.write_all(&header).map_err(Error::io("write", &tmp))?;
        file.sync_all().map_err(Error::io("sync", &tmp))?;
        if path.exists() {
            return Err(Error::Io {
                what: "create",
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        std::fs::rename(&tmp, path).map_err(Error::io("rename", &tmp))?;
        Ok(Log {
            path: path.to_owned(),
            file,
            base,
            records: 0,
            offsets: Vec::new(),
            len: HEADER_LEN as u64,
            poisoned: false,
            buffer: Vec::new(),
        })
    }

    /// Opens the log at `path`, handing every record's cursor and entries to `apply` in order.
    pub fn open(path: &Path, mut apply: impl FnMut(u64, Vec<Entry<'static>>)) -> Result<Log> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(Error::io("open", path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(Error::io("read", path))?;
        let corrupt = |offset: usize, detail: String| Error::Corrupt {
            path: path.to_owned(),
            offset: offset as u64,
            detail,
        };
        if bytes.len() < V1_HEADER_LEN || bytes[..8] != MAGIC {
            return Err(corrupt(0, "not an event log (bad header)".to_owned()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let (header_len, base) = match version {
            1 => (V1_HEADER_LEN, 0),
            VERSION if bytes.len() >= HEADER_LEN => (
                HEADER_LEN,
                u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
            ),
            VERSION => return Err(corrupt(0, "a short header".to_owned())),
            _ => {
                return Err(corrupt(
                    8,
                    format!(
                        "event log version {version}; this build reads versions 1 and {VERSION}"
                    ),
                ));
            }
        };
        let mut offset = header_len;
        let mut records = 0;
        let mut offsets = Vec::new();
        while offset < bytes.len() {
            let torn = |why: &str| {
                tracing::warn!(
                    path = %path.display(),
                    offset,
                    "cutting off a torn last record ({why}): it was never acknowledged"
                );
            };
            if bytes.len() - offset < FRAME_LEN {
                torn("short frame");
                break;
            }
            let len =
                u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes")) as usize;
            let crc =
                u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().expect("4 bytes"));
            let start = offset + FRAME_LEN;
            if len > MAX_RECORD {
                return Err(corrupt(offset, format!("a record of {len} bytes")));
            }
            let end = start + len;
            if end > bytes.len() {
                torn("short payload");
                break;
            }
            let payload = &bytes[start..end];
            let last = end == bytes.len();
            // Appends never write an empty record: zeros are a file extended but never written.
            if len == 0 {
                if bytes[offset..].iter().all(|&b| b == 0) {
                    torn("zeros");
                    break;
                }
                return Err(corrupt(offset, "an empty record".to_owned()));
            }
            if crc32fast::hash(payload) != crc {
                if last {
                    torn("CRC mismatch");
                    break;
                }
                return Err(corrupt(
                    offset,
                    "CRC mismatch in a record before the last".to_owned(),
                ));
            }
            let entries: Vec<Entry<'static>> = match postcard::from_bytes(payload) {
                Ok(entries) => entries,
                Err(e) if last => {
                    torn(&format!("undecodable: {e}"));
                    break;
                }
                Err(e) => return Err(corrupt(start, format!("undecodable record: {e}"))),
            };
            records += 1;
            apply(base + records, entries);
            offsets.push(offset as u64);
            offset = end;
        }
        if offset < bytes.len() {
            file.set_len(offset as u64)
                .map_err(Error::io("truncate", path))?;
            file.sync_all().map_err(Error::io("sync", path))?;
        }
        Ok(Log {
            path: path.to_owned(),
            file,
            base,
            records,
            offsets,
            len: offset as u64,
            poisoned: false,
            buffer: Vec::new(),
        })
    }

    /// Appends one record and syncs it: when this returns, the entries survive a crash. If
    /// the write or the sync fails, the file is cut back to its last whole record, so that
    /// later records never follow a partial one; if even that fails, the log refuses every
    /// append until it is reopened (which cuts the partial record as a torn tail).
    pub fn append(&mut self, entries: &[Entry<'_>]) -> Result<()> {
        if self.poisoned {
            return Err(Error::Io {
                what: "append to",
                path: self.path.clone(),
                source: std::io::Error::other(
                    "an earlier append failed and could not be undone; restart the server",
                ),
            });
        }
        // The frame is encoded in place after room for its length and CRC, into a buffer kept
        // from one append to the next.
        let mut frame = std::mem::take(&mut self.buffer);
        frame.clear();
        frame.resize(FRAME_LEN, 0);
        let encoded = postcard::to_extend(entries, frame).map_err(|e| Error::Io {
            what: "encode a record for",
            path: self.path.clone(),
            source: std::io::Error::other(e),
        });
        let mut frame = encoded?;
        let payload_len = frame.len() - FRAME_LEN;
        if payload_len == 0 || payload_len > MAX_RECORD {
            return Err(Error::Invalid(format!(
                "a record of {payload_len} bytes; records hold 1 byte to {MAX_RECORD} bytes"
            )));
        }
        let crc = crc32fast::hash(&frame[FRAME_LEN..]);
        frame[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        frame[4..FRAME_LEN].copy_from_slice(&crc.to_le_bytes());
        let written = self
            .file
            .write_all(&frame)
            .map_err(Error::io("append to", &self.path))
            .and_then(|()| self.file.sync_data().map_err(Error::io("sync", &self.path)));
        if let Err(error) = written {
            let undone = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_all());
            if undone.is_err() {
                self.poisoned = true;
            }
            return Err(error);
        }
        self.offsets.push(self.len);
        self.len += frame.len() as u64;
        self.records += 1;
        self.buffer = frame;
        Ok(())
    }

    /// How many records the log holds.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The cursor before its first record.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The cursor of its last record (its base if it has none).
    pub fn cursor(&self) -> u64 {
        self.base + self.records
    }

    /// Where each record starts in the file, in order.
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// The length of the file up to the end of its last whole record.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// The records of the log at `path` in bytes `from..to`, which are whole records that were
/// synced (a reader's view of what [`Log::append`] wrote; the writer need not be held).
/// Damage is an error naming the file and offset.
pub fn read_records(path: &Path, from: u64, to: u64) -> Result<Vec<Vec<Entry<'static>>>> {
    let mut file = File::open(path).map_err(Error::io("open", path))?;
    file.seek(SeekFrom::Start(from))
        .map_err(Error::io("read", path))?;
    let len = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
    let mut bytes = vec![0; len];
    file.read_exact(&mut bytes)
        .map_err(Error::io("read", path))?;
    let corrupt = |at: usize, detail: String| Error::Corrupt {
        path: path.to_owned(),
        offset: from + at as u64,
        detail,
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let frame = bytes
            .get(at..at + FRAME_LEN)
            .ok_or_else(|| corrupt(at, "a short frame".to_owned()))?;
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let payload = bytes
            .get(at + FRAME_LEN..at + FRAME_LEN + len)
            .ok_or_else(|| corrupt(at, format!("a record of {len} bytes past the end")))?;
        if crc32fast::hash(payload) != crc {
            return Err(corrupt(at, "CRC mismatch".to_owned()));
        }
        let entries = postcard::from_bytes(payload)
            .map_err(|e| corrupt(at + FRAME_LEN, format!("undecodable record: {e}")))?;
        out.push(entries);
        at += FRAME_LEN + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Label, Value};

    fn label(id: &str) -> Entry<'static> {
        Entry::Label(Label {
            id: id.to_owned().into(),
            values: vec![Some(Value::Int(1)), None],
        })
    }

    #[test]
    fn records_are_read_back_by_offset_while_the_log_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut log = Log::create(&path, 0).unwrap();
        for id in ["a", "b", "c"] {
            log.append(&[label(id)]).unwrap();
        }
        let offsets = log.offsets().to_vec();
        assert_eq!(offsets.len(), 3);
        let later = read_records(&path, offsets[1], log.len()).unwrap();
        assert_eq!(later, [vec![label("b")], vec![label("c")]]);
        assert!(read_records(&path, offsets[0], offsets[1]).unwrap() == [vec![label("a")]]);
        // Not at a record's start: damage, named.
        let err = read_records(&path, offsets[0] + 1, log.len()).unwrap_err();
        assert!(err.to_string().contains("events.log"), "{err}");
    }

    #[test]
    fn records_replay_in_order_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut log = Log::create(&path, 0).unwrap();
        log.append(&[label("a"), label("b")]).unwrap();
        let first_end = std::fs::metadata(&path).unwrap().len() as usize;
        log.append(&[label("c")]).unwrap();
        drop(log);
        let full = std::fs::read(&path).unwrap();
        // Every cut inside the last record loses that record only.
        for cut in (first_end + 1)..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let mut seen = Vec::new();
            let log = Log::open(&path, |_, e| seen.extend(e)).unwrap();
            assert_eq!(seen, [label("a"), label("b")], "cut at {cut}");
            assert_eq!(log.records(), 1);
            assert_eq!(log.offsets(), [HEADER_LEN as u64]);
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, first_end);
        }
        // Zeros after the last record (the file extended, its data never written) are torn.
        let mut zeros = full.clone();
        zeros.extend_from_slice(&[0; 24]);
        std::fs::write(&path, &zeros).unwrap();
        let mut seen = Vec::new();
        Log::open(&path, |_, e| seen.extend(e)).unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, full.len());
        // A flipped byte in the first record, with a good one after it, is damage.
        let mut damaged = full.clone();
        damaged[HEADER_LEN + FRAME_LEN + 1] ^= 0xff;
        std::fs::write(&path, &damaged).unwrap();
        let err = Log::open(&path, |_, _| {}).unwrap_err().to_string();
        assert!(
            err.contains("byte 24") && err.contains("CRC mismatch"),
            "{err}"
        );
    }

    #[test]
    fn a_version_1_log_reads_with_cursors_from_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut log = Log::create(&path, 0).unwrap();
        log.append(&[label("a")]).unwrap();
        log.append(&[label("b")]).unwrap();
        drop(log);
        // The same records behind version 1's 16-byte header, which had no base cursor.
        let bytes = std::fs::read(&path).unwrap();
        let mut v1 = bytes[..V1_HEADER_LEN].to_vec();
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&bytes[HEADER_LEN..]);
        std::fs::write(&path, &v1).unwrap();
        let mut seen = Vec::new();
        let log = Log::open(&path, |cursor, e| seen.push((cursor, e))).unwrap();
        assert_eq!(seen, [(1, vec![label("a")]), (2, vec![label("b")])]);
        assert_eq!((log.base(), log.cursor()), (0, 2));
        // A log started after a seal numbers its records on from its base.
        let later = dir.path().join("later.log");
        let mut log = Log::create(&later, 40).unwrap();
        log.append(&[label("c")]).unwrap();
        drop(log);
        let mut seen = Vec::new();
        Log::open(&later, |cursor, _| seen.push(cursor)).unwrap();
        assert_eq!(seen, [41]);
    }
}
