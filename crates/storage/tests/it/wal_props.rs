//! Property tests of the WAL: records round-trip, and damaged segments never make replay panic
//! or yield anything but a prefix of what was written.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sextant_model::ValidatedBatch;
use sextant_storage::wal::{Record, Wal, WalConfig};

/// Bytes of the segment header; damage past it in the last segment is a torn tail.
const HEADER_LEN: u64 = 32;

fn open(dir: &Path, config: &WalConfig) -> sextant_storage::Result<(Wal, Vec<ValidatedBatch>)> {
    let mut seen = Vec::new();
    let mut expected_seq = None;
    let wal = Wal::open(dir, config.clone(), |seq, b| {
        if let Some(e) = expected_seq {
            assert_eq!(seq, e, "replay skipped or repeated a sequence number");
        }
        expected_seq = Some(seq + 1);
        let Record::Write(b) = b else {
            panic!("unexpected deletion at seq {seq}")
        };
        seen.push(b);
        Ok(())
    })?;
    Ok((wal, seen))
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Damage {
    /// Cut the segment to this fraction of its length.
    Truncate(f64),
    /// Flip one bit at this fraction of the segment's length.
    Flip(f64, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Truncate),
        ((0.0..1.0f64), 0..8u8).prop_map(|(at, bit)| Damage::Flip(at, bit)),
    ]
}

/// Applies `damage` to `path` and returns the byte offset it hit.
fn apply(path: &Path, damage: &Damage) -> u64 {
    let mut bytes = fs::read(path).unwrap();
    let at = |f: f64| ((bytes.len() as f64 * f) as usize).min(bytes.len() - 1);
    let offset = match *damage {
        Damage::Truncate(f) => {
            let at = at(f);
            bytes.truncate(at);
            at
        }
        Damage::Flip(f, bit) => {
            let at = at(f);
            bytes[at] ^= 1 << bit;
            at
        }
    };
    fs::write(path, &bytes).unwrap();
    offset as u64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(batches in proptest::collection::vec(common::batch(), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let config = WalConfig::default();
        let (wal, _) = open(dir.path(), &config).unwrap();
        for (i, b) in batches.iter().enumerate() {
            prop_assert_eq!(wal.append(b).unwrap(), i as u64 + 1);
        }
        drop(wal);
        let (_, seen) = open(dir.path(), &config).unwrap();
        prop_assert_eq!(seen, batches);
    }

    #[test]
    fn damaged_segments_replay_a_prefix_or_fail_cleanly(
        batches in proptest::collection::vec(common::batch(), 1..12),
        small_segments in any::<bool>(),
        which in any::<prop::sample::Index>(),
        damage in damage(),
        extra in common::batch(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = WalConfig {
            segment_bytes: if small_segments { 512 } else { 64 << 20 },
            ..WalConfig::default()
        };
        let (wal, _) = open(dir.path(), &config).unwrap();
        for b in &batches {
            wal.append(b).unwrap();
        }
        drop(wal);

        let segs = segments(dir.path());
        let victim = which.index(segs.len());
        let is_last = victim + 1 == segs.len();
        let offset = apply(&segs[victim], &damage);

        match open(dir.path(), &config) {
            Ok((wal, seen)) => {
                prop_assert!(seen.len() <= batches.len());
                prop_assert_eq!(&seen[..], &batches[..seen.len()]);
                // Writing resumes after the surviving prefix, and survives another reopen.
                wal.append(&extra).unwrap();
                drop(wal);
                let (_, again) = open(dir.path(), &config).unwrap();
                prop_assert_eq!(&again[..seen.len()], &seen[..]);
                prop_assert_eq!(again.len(), seen.len() + 1);
                prop_assert_eq!(again.last(), Some(&extra));
            }
            Err(e) => {
                // Only damage outside the records of the last segment may refuse to open.
                prop_assert!(
                    !is_last || offset < HEADER_LEN,
                    "damage at {} of the last segment refused to open: {}", offset, e
                );
                let msg = e.to_string();
                prop_assert!(msg.contains(".wal"), "error does not name the file: {}", msg);
            }
        }
    }
}
