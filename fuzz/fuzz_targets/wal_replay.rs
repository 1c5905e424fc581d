//! WAL replay over arbitrary segment files: the segments are written into a scratch
//! directory and the WAL is opened on it, replaying every record (and cutting off a torn tail
//! or reporting corruption, as it decides).
//!
//! Input: one byte of options, then the segments' bytes separated by `SEGMENT_SEPARATOR`.
//! Option bit 0 recomputes every CRC (the segment header's, and each record frame's as far as
//! the frame lengths reach) so that mutations get past the checksums to the frames, sequence
//! numbers and payloads behind them. Each segment is named after the first sequence number in
//! its header (or its position when it has no header).
#![no_main]

use std::cell::RefCell;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use sextant_storage::wal::{Record, Wal, WalConfig};

const SEPARATOR: &[u8] = b"\n--SEGMENT--\n";
const HEADER_LEN: usize = 32;
const FRAME_LEN: usize = 16;

thread_local! {
    static DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

fn scratch() -> PathBuf {
    DIR.with(|dir| {
        dir.borrow_mut()
            .get_or_insert_with(|| {
                std::env::temp_dir().join(format!("sextant-fuzz-wal-{}", std::process::id()))
            })
            .clone()
    })
}

fn split<'a>(mut data: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = data.windows(separator.len()).position(|w| w == separator) {
        out.push(&data[..at]);
        data = &data[at + separator.len()..];
    }
    out.push(data);
    out
}

fn fix_crcs(segment: &mut [u8]) {
    if segment.len() < HEADER_LEN {
        return;
    }
    let crc = crc32fast::hash(&segment[..28]);
    segment[28..32].copy_from_slice(&crc.to_le_bytes());
    let mut offset = HEADER_LEN;
    while offset + FRAME_LEN <= segment.len() {
        let len = u32::from_le_bytes(segment[offset..offset + 4].try_into().unwrap()) as usize;
        let start = offset + FRAME_LEN;
        let Some(end) = start.checked_add(len).filter(|&e| e <= segment.len()) else {
            return;
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&segment[offset..offset + 4]);
        h.update(&segment[offset + 8..offset + 16]);
        h.update(&segment[start..end]);
        let crc = h.finalize();
        segment[offset + 4..offset + 8].copy_from_slice(&crc.to_le_bytes());
        offset = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let dir = scratch();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, bytes) in split(rest, SEPARATOR).into_iter().enumerate().take(8) {
        let mut segment = bytes.to_vec();
        if options & 1 != 0 {
            fix_crcs(&mut segment);
        }
        let first_seq = segment
            .get(16..24)
            .map_or(i as u64 + 1, |b| u64::from_le_bytes(b.try_into().unwrap()));
        std::fs::write(dir.join(format!("{first_seq:020}.wal")), &segment).unwrap();
    }
    let mut last = None;
    let opened = Wal::open(&dir, WalConfig::default(), |seq, record| {
        if let Some(previous) = last {
            assert_eq!(seq, previous + 1, "records replay in sequence order");
        }
        last = Some(seq);
        match record {
            Record::Write(batch) => drop(batch),
            Record::Delete(deletion) => drop(deletion),
        }
        Ok(())
    });
    match opened {
        Ok(wal) => drop(wal),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
