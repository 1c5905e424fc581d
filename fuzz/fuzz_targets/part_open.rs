//! Opening a part file of arbitrary bytes and reading every block its index names, whole and
//! its timestamps alone.
//!
//! Input: one byte of options, then the file's bytes. Option bit 0 recomputes the checksums
//! (the index CRC and the footer CRC, then each indexed block's CRC) so that mutations get past
//! them to the index entries and the column bytes behind them.
#![no_main]

use std::cell::RefCell;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use sextant_storage::part::{Part, PartName};

const HEADER_LEN: usize = 16;
const FOOTER_LEN: usize = 88;

thread_local! {
    static FILE: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

fn scratch() -> PathBuf {
    FILE.with(|file| {
        file.borrow_mut()
            .get_or_insert_with(|| {
                std::env::temp_dir().join(format!("sextant-fuzz-{}.part", std::process::id()))
            })
            .clone()
    })
}

fn fix_index_and_footer(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN + FOOTER_LEN {
        return;
    }
    let footer_at = bytes.len() - FOOTER_LEN;
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let index_offset = u64_at(bytes, footer_at);
    let index_len = u64_at(bytes, footer_at + 8);
    if let Some(end) = index_offset.checked_add(index_len)
        && end <= footer_at as u64
    {
        let crc = crc32fast::hash(&bytes[index_offset as usize..end as usize]);
        bytes[footer_at + 16..footer_at + 20].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes[footer_at..footer_at + 72]);
    bytes[footer_at + 72..footer_at + 76].copy_from_slice(&crc.to_le_bytes());
}

fn read_everything(part: &Part) {
    let everything = i64::MIN..i64::MAX;
    let mut out = Vec::new();
    let mut alone = Vec::new();
    for (org, key, series) in part.series() {
        out.clear();
        let _ = part.read_all_into(org, key, &mut out);
        out.clear();
        let _ = part.read_into(org, key, &everything, &mut out);
        for block in series.blocks {
            alone.clear();
            let read_alone = part.read_block_timestamps_into(block, &everything, &mut alone);
            // A block that decodes whole has the same timestamps read without its values.
            if let Ok((timestamps, _)) = part.read_block(block, series.data_type) {
                assert!(read_alone.is_ok(), "{read_alone:?}");
                let within: Vec<i64> = timestamps
                    .into_iter()
                    .filter(|t| everything.contains(t))
                    .collect();
                assert_eq!(alone, within);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let path = scratch();
    let name = PartName { first: 1, last: 1 };
    let mut bytes = rest.to_vec();
    let fix = options & 1 != 0;
    if fix {
        fix_index_and_footer(&mut bytes);
    }
    std::fs::write(&path, &bytes).unwrap();
    let Ok(part) = Part::open(&path, name) else {
        return;
    };
    if fix {
        let blocks: Vec<(u64, u32)> = part
            .series()
            .flat_map(|(_, _, s)| s.blocks.iter().map(|b| (b.offset, b.len)))
            .collect();
        drop(part);
        for (offset, len) in blocks {
            let (start, end) = (offset as usize, offset as usize + len as usize);
            if len >= 8 && end <= bytes.len() {
                let crc = crc32fast::hash(&bytes[start..end - 4]);
                bytes[end - 4..end].copy_from_slice(&crc.to_le_bytes());
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let Ok(part) = Part::open(&path, name) else {
            return;
        };
        read_everything(&part);
    } else {
        read_everything(&part);
    }
});
