//! Reads racing flushes and merges: while writers write and another thread flushes and merges
//! without pause, every read returns every point acknowledged before it started, exactly once.
//! (A read takes the head, live then frozen points, before the parts; a flush publishes its
//! parts before releasing the frozen points, and a merge publishes its output before removing
//! its inputs.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::{Db, DbConfig, PartsConfig};

const WRITERS: u64 = 3;
const POINTS_PER_BATCH: u64 = 8;

fn key(writer: u64) -> SeriesKey {
    SeriesKey::new("race.velocity", [("writer", writer.to_string())]).unwrap()
}

#[test]
fn reads_never_miss_acknowledged_points_during_flushes_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let config = DbConfig {
        parts: PartsConfig {
            partition: Duration::from_nanos(64),
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    };
    let db = Arc::new(Db::open(dir.path(), config).unwrap());
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let (db, acked, stop) = (Arc::clone(&db), Arc::clone(&acked), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || {
            let mut next = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut b = WriteBatch::new(OrgId(1));
                let points = (next..next + POINTS_PER_BATCH)
                    .map(|t| Point::new(t as i64, Value::Double(t as f64)))
                    .collect();
                b.push(key(w), DataType::Double, points);
                db.write(b.validate().unwrap()).unwrap();
                next += POINTS_PER_BATCH;
                acked[w as usize].store(next, Ordering::Release);
            }
        }));
    }
    {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                db.flush().unwrap();
                db.merge(3).unwrap();
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut reads = 0;
    while Instant::now() < deadline {
        for w in 0..WRITERS {
            let before = acked[w as usize].load(Ordering::Acquire);
            let points = match db.read(OrgId(1), &key(w), i64::MIN..i64::MAX) {
                Ok(points) => points,
                Err(_) if before == 0 => continue,
                Err(e) => panic!("read of writer {w} failed: {e}"),
            };
            assert!(
                points.len() as u64 >= before,
                "writer {w}: {before} points acknowledged before the read, {} read",
                points.len()
            );
            for (i, p) in points.iter().enumerate() {
                assert_eq!(
                    p.timestamp, i as i64,
                    "writer {w}: a point missing or twice"
                );
                assert_eq!(p.value, Value::Double(i as f64));
            }
            reads += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(reads > 0);
    assert!(!db.parts().is_empty(), "no flush finished");
}
