//! The commit feed against a real store in a temporary directory: order and completeness
//! under concurrent writers, resumption after reopening, the WAL held for named consumers,
//! gaps past the bound, readers behind the in-memory tail.

use std::sync::Arc;
use std::time::Duration;

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::head::SeriesSelector;
use sextant_storage::wal::WalConfig;
use sextant_storage::{
    CommitFeed, Db, DbConfig, FeedConfig, FeedEvent, FeedReader, PartsConfig, Start,
};

const WAIT: Duration = Duration::from_secs(5);

/// A store without a background flusher, with small WAL segments.
fn config(feed: FeedConfig) -> DbConfig {
    DbConfig {
        wal: WalConfig {
            segment_bytes: 4096,
            ..WalConfig::default()
        },
        parts: PartsConfig {
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        feed,
        ..DbConfig::default()
    }
}

/// Writes one point `value` at `ts` to series `name`, returning its sequence number.
fn write(db: &Db, name: &str, ts: i64, value: f64) -> u64 {
    let mut batch = WriteBatch::new(OrgId(1));
    batch.push(
        SeriesKey::new(name, [("asset", "a")]).unwrap(),
        DataType::Double,
        vec![Point::new(ts, Value::Double(value))],
    );
    db.write(batch.validate().unwrap()).unwrap().seq
}

/// The value of the single point of a write event.
fn value_of(event: &FeedEvent) -> f64 {
    let FeedEvent::Write { batch, .. } = event else {
        panic!("expected a write, got {event:?}");
    };
    match batch.series()[0].points[0].value {
        Value::Double(v) => v,
        ref other => panic!("unexpected value {other:?}"),
    }
}

/// Every event up to `last`, in order.
fn read_through(reader: &mut dyn FeedReader, last: u64) -> Vec<FeedEvent> {
    let mut out = Vec::new();
    while reader.position() < last {
        let event = reader
            .next(WAIT)
            .unwrap()
            .expect("an event before the timeout");
        out.push(event);
    }
    out
}

#[test]
fn concurrent_writes_reach_a_reader_once_each_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), config(FeedConfig::default())).unwrap());
    let mut reader = db.feed().subscribe("test", Start::Latest).unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..200 {
                    write(&db, &format!("s{w}"), i, (w * 1000 + i) as f64);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let selector = SeriesSelector::parse(r#"s0{asset="a"}"#).unwrap();
    db.delete(OrgId(1), &selector, 0..10).unwrap();
    let last = db.feed().last_seq();
    assert_eq!(last, 801);
    let events = read_through(reader.as_mut(), last);
    let seqs: Vec<u64> = events.iter().map(FeedEvent::seq).collect();
    assert_eq!(seqs, (1..=801).collect::<Vec<_>>());
    // Each writer's points arrive in the order it wrote them.
    for w in 0..4 {
        let values: Vec<f64> = events[..800]
            .iter()
            .filter(|e| {
                let FeedEvent::Write { batch, .. } = e else {
                    return false;
                };
                batch.series()[0].key.name() == format!("s{w}")
            })
            .map(value_of)
            .collect();
        let want: Vec<f64> = (0..200).map(|i| (w * 1000 + i) as f64).collect();
        assert_eq!(values, want, "writer {w}");
    }
    assert!(matches!(events[800], FeedEvent::Delete { .. }));
    assert_eq!(reader.next(Duration::from_millis(20)).unwrap(), None);
}

#[test]
fn a_named_consumer_resumes_after_its_committed_position_across_reopen_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), config(FeedConfig::default())).unwrap();
        let mut reader = db.feed().subscribe("rules", Start::Oldest).unwrap();
        for i in 0..100 {
            write(&db, "x", i, i as f64);
        }
        let events = read_through(reader.as_mut(), 40);
        assert_eq!(events.len(), 40);
        reader.commit(40).unwrap();
        // A flush puts everything in parts; the segments after 40 stay for the consumer.
        db.flush().unwrap();
        assert!(db.wal().segment_count() > 1);
        // Dropped without close: as after a crash.
    }
    let db = Db::open(dir.path(), config(FeedConfig::default())).unwrap();
    for i in 100..110 {
        write(&db, "x", i, i as f64);
    }
    let mut reader = db.feed().subscribe("rules", Start::Latest).unwrap();
    assert_eq!(reader.position(), 40);
    let events = read_through(reader.as_mut(), 110);
    let values: Vec<f64> = events.iter().map(value_of).collect();
    assert_eq!(values, (40..110).map(|v| v as f64).collect::<Vec<_>>());

    // Only one reader per name.
    let busy = db.feed().subscribe("rules", Start::Latest).unwrap_err();
    assert!(busy.to_string().contains("already reading"), "{busy}");
    drop(reader);
    assert!(db.feed().subscribe("rules", Start::Latest).is_ok());
}

#[test]
fn a_consumer_past_the_held_bound_sees_a_gap_then_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let feed = FeedConfig {
        max_held_segments: 1,
        ..FeedConfig::default()
    };
    let db = Db::open(dir.path(), config(feed)).unwrap();
    let reader = db.feed().subscribe("slow", Start::Oldest).unwrap();
    drop(reader);
    for i in 0..300 {
        write(&db, "x", i, i as f64);
    }
    db.flush().unwrap();
    for i in 300..310 {
        write(&db, "x", i, i as f64);
    }
    let mut reader = db.feed().subscribe("slow", Start::Oldest).unwrap();
    let first = reader.next(WAIT).unwrap().unwrap();
    let FeedEvent::Gap { first: from, last } = first else {
        panic!("expected a gap, got {first:?}");
    };
    assert_eq!(from, 1);
    assert!(last > 1 && last < 300, "gap {from}..={last}");
    let rest = read_through(reader.as_mut(), 310);
    let values: Vec<f64> = rest.iter().map(value_of).collect();
    let want: Vec<f64> = (last..310).map(|v| v as f64).collect();
    assert_eq!(values, want);
}

#[test]
fn a_reader_behind_the_tail_reads_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    // A tail too small for even one record: every read goes to the segments.
    let feed = FeedConfig {
        tail_bytes: 1,
        ..FeedConfig::default()
    };
    let db = Db::open(dir.path(), config(feed)).unwrap();
    let mut slow = db.feed().follow(0);
    let mut fast = db.feed().follow(0);
    for i in 0..50 {
        write(&db, "x", i, i as f64);
        let event = fast.next(WAIT).unwrap().unwrap();
        assert_eq!(value_of(&event), i as f64);
    }
    let values: Vec<f64> = read_through(slow.as_mut(), 50)
        .iter()
        .map(value_of)
        .collect();
    assert_eq!(values, (0..50).map(|v| v as f64).collect::<Vec<_>>());
}

#[test]
fn consumer_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config(FeedConfig::default())).unwrap();
    let err = db.feed().subscribe("../etc", Start::Latest).unwrap_err();
    assert!(err.to_string().contains("\"../etc\""), "{err}");
}

#[test]
fn a_replay_window_keeps_flushed_segments_for_ephemeral_readers() {
    for (replay, replayable) in [(Duration::from_secs(3600), true), (Duration::ZERO, false)] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            config(FeedConfig {
                replay,
                ..FeedConfig::default()
            }),
        )
        .unwrap();
        for i in 0..200 {
            write(&db, "m", i, i as f64);
        }
        let report = db.flush().unwrap();
        let last = write(&db, "m", 200, 200.0);
        assert_eq!(report.wal_segments_removed == 0, replayable, "{report:?}");
        let mut reader = db.feed().follow(0);
        let events = read_through(reader.as_mut(), last);
        if replayable {
            assert_eq!(events.len(), 201, "every commit replays");
            assert!(events.iter().all(|e| matches!(e, FeedEvent::Write { .. })));
        } else {
            assert!(
                matches!(events[0], FeedEvent::Gap { first: 1, .. }),
                "{:?}",
                events[0]
            );
        }
    }
}
