use std::sync::Arc;

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};

use super::*;

fn batch(i: u64) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(1));
    let key = SeriesKey::new("mainmotor.velocity", [("run", format!("R{}", i % 3))]).unwrap();
    let points = (0..5)
        .map(|j| {
            Point::new(
                (i * 10 + j) as i64,
                Value::Double(i as f64 + j as f64 / 10.0),
            )
        })
        .collect();
    b.push(key, DataType::Double, points);
    b.validate().unwrap()
}

fn open_collect(dir: &Path, config: WalConfig) -> Result<(Wal, Vec<(u64, ValidatedBatch)>)> {
    let mut seen = Vec::new();
    let wal = Wal::open(dir, config, |seq, record| match record {
        Record::Write(b) => {
            seen.push((seq, b));
            Ok(())
        }
        Record::Delete(d) => panic!("unexpected deletion {d:?}"),
    })?;
    Ok((wal, seen))
}

fn small_segments() -> WalConfig {
    WalConfig {
        segment_bytes: 512,
        ..WalConfig::default()
    }
}

fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    segment::list(dir)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

#[test]
fn appends_replay_in_order_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, seen) = open_collect(dir.path(), WalConfig::default()).unwrap();
    assert!(seen.is_empty());
    for i in 0..10 {
        assert_eq!(wal.append(&batch(i)).unwrap(), i + 1);
    }
    assert_eq!(wal.durable_seq(), 10);
    drop(wal);

    let (wal, seen) = open_collect(dir.path(), WalConfig::default()).unwrap();
    let want: Vec<_> = (0..10).map(|i| (i + 1, batch(i))).collect();
    assert_eq!(seen, want);
    assert_eq!(wal.append(&batch(10)).unwrap(), 11);
}

#[test]
fn segments_rotate_and_truncate_before_removes_only_covered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), small_segments()).unwrap();
    for i in 0..40 {
        wal.append(&batch(i)).unwrap();
    }
    let before = wal.segment_count();
    assert!(before > 3, "only {before} segments");
    assert_eq!(segment_paths(dir.path()).len(), before);

    assert_eq!(wal.truncate_before(1).unwrap(), 0);
    let removed = wal.truncate_before(20).unwrap();
    assert!(removed > 0);
    assert_eq!(wal.segment_count(), before - removed);
    // Removing everything below a far future seq still keeps the open segment.
    wal.truncate_before(u64::MAX).unwrap();
    assert_eq!(wal.segment_count(), 1);
    wal.append(&batch(40)).unwrap();
    drop(wal);

    let (wal, seen) = open_collect(dir.path(), small_segments()).unwrap();
    let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(*seqs.last().unwrap(), 41);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(wal.append(&batch(41)).unwrap(), 42);
}

#[test]
fn truncate_before_keeps_segments_holding_later_records() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), small_segments()).unwrap();
    for i in 0..40 {
        wal.append(&batch(i)).unwrap();
    }
    wal.truncate_before(20).unwrap();
    drop(wal);
    let (_, seen) = open_collect(dir.path(), small_segments()).unwrap();
    assert!(seen.first().unwrap().0 <= 20, "record 20 was removed");
}

#[test]
fn concurrent_writers_get_unique_seqs_and_hooks_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), small_segments()).unwrap();
    let wal = Arc::new(wal);
    let hooks = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let wal = Arc::clone(&wal);
            let hooks = Arc::clone(&hooks);
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| {
                        let (seq, ()) = wal
                            .append_with(&batch(t * 1000 + i), |seq| hooks.lock().push(seq))
                            .unwrap();
                        seq
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
    assert_eq!(*hooks.lock(), (1..=400).collect::<Vec<_>>());
    drop(wal);
    let (_, seen) = open_collect(dir.path(), small_segments()).unwrap();
    assert_eq!(seen.len(), 400);
}

#[test]
fn one_sync_covers_every_writer_queued_behind_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), WalConfig::default()).unwrap();
    let wal = Arc::new(wal);
    // Holding the segment stalls the first leader's write, so the others queue up behind it.
    let segment = wal.shared.io.lock();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || wal.append(&batch(t)).unwrap())
        })
        .collect();
    while wal.shared.state.lock().next_seq != 9 {
        std::thread::yield_now();
    }
    drop(segment);
    for t in threads {
        t.join().unwrap();
    }
    let stats = wal.stats();
    assert_eq!((stats.appends, stats.groups), (8, 2), "{stats:?}");
}

#[test]
fn a_panicking_hook_does_not_block_later_writers() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), WalConfig::default()).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wal.append_with(&batch(0), |_| panic!("hook failed"))
            .unwrap();
    }));
    assert!(r.is_err());
    assert_eq!(wal.append_with(&batch(1), |s| s).unwrap(), (2, 2));
}

#[test]
fn torn_tail_is_truncated_and_writing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), WalConfig::default()).unwrap();
    for i in 0..5 {
        wal.append(&batch(i)).unwrap();
    }
    drop(wal);
    let path = segment_paths(dir.path()).pop().unwrap();
    let full = fs::read(&path).unwrap();
    // Cut the last record in half.
    fs::write(&path, &full[..full.len() - 20]).unwrap();

    let (wal, seen) = open_collect(dir.path(), WalConfig::default()).unwrap();
    assert_eq!(seen.len(), 4);
    assert_eq!(wal.append(&batch(99)).unwrap(), 5);
    drop(wal);
    let (_, seen) = open_collect(dir.path(), WalConfig::default()).unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], (5, batch(99)));
}

#[test]
fn bad_crc_at_the_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), WalConfig::default()).unwrap();
    for i in 0..3 {
        wal.append(&batch(i)).unwrap();
    }
    drop(wal);
    let path = segment_paths(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    bytes.extend_from_slice(&[0; 100]);
    fs::write(&path, &bytes).unwrap();
    let (_, seen) = open_collect(dir.path(), WalConfig::default()).unwrap();
    assert_eq!(seen.len(), 2);
}

#[test]
fn damage_before_the_last_segment_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), small_segments()).unwrap();
    for i in 0..20 {
        wal.append(&batch(i)).unwrap();
    }
    drop(wal);
    let first = segment_paths(dir.path()).remove(0);
    let mut bytes = fs::read(&first).unwrap();
    bytes[segment::HEADER_LEN + FRAME_LEN + 3] ^= 1;
    fs::write(&first, &bytes).unwrap();

    let err = open_collect(dir.path(), small_segments()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::WalCorrupt { offset: 32, .. }), "{msg}");
    assert!(msg.contains(&segment::file_name(1)), "{msg}");
    assert!(msg.contains("CRC mismatch"), "{msg}");
    assert_eq!(err.kind(), sextant_model::ErrorKind::Internal);
}

#[test]
fn a_missing_segment_in_the_middle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), small_segments()).unwrap();
    for i in 0..30 {
        wal.append(&batch(i)).unwrap();
    }
    drop(wal);
    let paths = segment_paths(dir.path());
    assert!(paths.len() >= 3);
    fs::remove_file(&paths[1]).unwrap();
    let err = open_collect(dir.path(), small_segments()).unwrap_err();
    assert!(err.to_string().contains("previous segment ends"), "{err}");
}

#[test]
fn a_torn_new_segment_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), WalConfig::default()).unwrap();
    for i in 0..3 {
        wal.append(&batch(i)).unwrap();
    }
    drop(wal);
    // As if a crash cut short the creation of the next segment.
    let torn = dir.path().join(segment::file_name(4));
    fs::write(&torn, &segment::encode_header(4)[..10]).unwrap();
    let (wal, seen) = open_collect(dir.path(), WalConfig::default()).unwrap();
    assert_eq!(seen.len(), 3);
    assert!(!torn.exists());
    assert_eq!(wal.append(&batch(3)).unwrap(), 4);
}

#[test]
fn another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_collect(dir.path(), WalConfig::default()).unwrap());
    let path = segment_paths(dir.path()).pop().unwrap();
    let mut h = fs::read(&path).unwrap();
    h[8..12].copy_from_slice(&9u32.to_le_bytes());
    let crc = crc32fast::hash(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    fs::write(&path, &h).unwrap();
    let err = open_collect(dir.path(), WalConfig::default()).unwrap_err();
    assert!(err.to_string().contains("format version 9"), "{err}");
}

#[test]
fn oversized_batches_are_refused_before_taking_a_seq() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        max_record_bytes: 16,
        ..WalConfig::default()
    };
    let (wal, _) = open_collect(dir.path(), config).unwrap();
    let err = wal.append(&batch(0)).unwrap_err();
    assert_eq!(err.kind(), sextant_model::ErrorKind::LimitExceeded);
    assert!(err.to_string().contains("split it"), "{err}");
    assert_eq!(wal.durable_seq(), 0);
}

#[test]
fn relaxed_mode_appends_survive_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let config = WalConfig {
        sync: SyncMode::Relaxed {
            interval: Duration::from_millis(5),
        },
        ..small_segments()
    };
    let (wal, _) = open_collect(dir.path(), config.clone()).unwrap();
    for i in 0..30 {
        wal.append(&batch(i)).unwrap();
    }
    drop(wal);
    let (_, seen) = open_collect(dir.path(), config).unwrap();
    assert_eq!(seen.len(), 30);
}

#[test]
fn replay_errors_from_the_caller_stop_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open_collect(dir.path(), WalConfig::default()).unwrap();
    wal.append(&batch(0)).unwrap();
    drop(wal);
    let refuse = |_, _| {
        Err(Error::SeriesNotFound {
            org: OrgId(1),
            series: "x".into(),
        })
    };
    let err = Wal::open(dir.path(), WalConfig::default(), refuse).unwrap_err();
    assert!(matches!(err, Error::SeriesNotFound { .. }), "{err}");
}

/// Inputs the `wal_replay` fuzz target found to overflow the sequence arithmetic: a segment
/// whose name and header say its first record is seq 0 (replay then hands the writer a next
/// seq of 0), and one at the largest seq (the next record's seq overflows). Both are refused
/// as corruption naming the file.
#[test]
fn segments_outside_the_sequence_range_are_corrupt() {
    for (first_seq, records) in [
        (0, 0),
        (0, 1),
        (u64::MAX, 0),
        (u64::MAX, 1),
        ((1 << 63) + 1, 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = segment::encode_header(first_seq).to_vec();
        for _ in 0..records {
            let mut payload = Vec::new();
            payload::encode(&batch(1), &mut payload);
            let mut record = vec![0; FRAME_LEN];
            record.extend_from_slice(&payload);
            let mut crc = crc32fast::Hasher::new();
            crc.update(&payload);
            segment::write_frame(&mut record, first_seq, &crc);
            bytes.extend_from_slice(&record);
        }
        let path = dir.path().join(segment::file_name(first_seq));
        fs::write(&path, &bytes).unwrap();
        let err = open_collect(dir.path(), WalConfig::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::WalCorrupt { path: p, offset: 0, .. } if *p == path),
            "{msg}"
        );
        assert!(
            msg.contains(&format!(
                "file name says the first record is seq {first_seq}, outside 1..=9223372036854775808"
            )),
            "{msg}"
        );
    }
}
