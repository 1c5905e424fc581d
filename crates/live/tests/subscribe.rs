//! Subscriptions against a real store in a temporary directory: history then live with writers
//! running throughout, resumption by cursor, flushes in the middle, gaps, and a subscriber
//! whose buffer stays full.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sextant_api::live::{LiveValue, Message, SubscribeRequest, WindowRequest};
use sextant_live::{Encoded, Fragments, Gone, Options, Sink, Spec};
use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::wal::WalConfig;
use sextant_storage::{Db, DbConfig, PartsConfig};

const ORG: OrgId = OrgId(1);

fn open(dir: &std::path::Path) -> Arc<Db> {
    let config = DbConfig {
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
        ..DbConfig::default()
    };
    Arc::new(Db::open(dir, config).unwrap())
}

fn write(db: &Db, org: OrgId, name: &str, points: &[(i64, f64)]) -> u64 {
    let mut batch = WriteBatch::new(org);
    batch.push(
        SeriesKey::new(name, [("host", "h1")]).unwrap(),
        DataType::Double,
        points
            .iter()
            .map(|(t, v)| Point::new(*t, Value::Double(*v)))
            .collect(),
    );
    db.write(batch.validate().unwrap()).unwrap().seq
}

/// A sink that keeps every message, holds at most `room` of them until `drain` empties it,
/// and says the subscriber is gone when `stop` is set.
#[derive(Clone)]
struct Keep {
    all: Arc<Mutex<Vec<Message>>>,
    queued: Arc<Mutex<usize>>,
    room: usize,
    stop: Arc<AtomicBool>,
}

impl Keep {
    fn new(room: usize) -> Keep {
        Keep {
            all: Arc::default(),
            queued: Arc::default(),
            room,
            stop: Arc::default(),
        }
    }

    fn drain(&self) {
        *self.queued.lock().unwrap() = 0;
    }

    fn messages(&self) -> Vec<Message> {
        self.all.lock().unwrap().clone()
    }

    /// Every point received, by series name, in arrival order.
    fn points(&self) -> BTreeMap<String, Vec<(i64, f64)>> {
        let mut names = BTreeMap::new();
        let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for m in self.messages() {
            match m {
                Message::Series { id, name, .. } => {
                    names.insert(id, name);
                }
                Message::Points { series, .. } => {
                    for s in series {
                        let name = names[&s.id].clone();
                        for (t, v) in s.timestamps.iter().zip(&s.values) {
                            let LiveValue::Float(v) = v else {
                                panic!("{v:?}")
                            };
                            out.entry(name.clone()).or_default().push((*t, *v));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn count(&self) -> usize {
        self.points().values().map(Vec::len).sum()
    }

    /// The cursor of the last message that carries one.
    fn last_cursor(&self) -> Option<u64> {
        self.messages().iter().rev().find_map(Message::cursor)
    }

    fn wait_for(&self, what: &str, done: impl Fn(&Keep) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}: {:#?}",
                self.messages()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Sink for Keep {
    fn offer(&mut self, message: Encoded) -> Result<Option<Encoded>, Gone> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Gone);
        }
        let mut queued = self.queued.lock().unwrap();
        if *queued >= self.room {
            return Ok(Some(message));
        }
        *queued += 1;
        self.all.lock().unwrap().push(decode(&message));
        Ok(None)
    }

    fn wait_for_room(&mut self, timeout: Duration) -> Result<bool, Gone> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Gone);
            }
            if *self.queued.lock().unwrap() < self.room {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(false)
    }

    fn force(&mut self, message: Encoded) -> Result<(), Gone> {
        *self.queued.lock().unwrap() += 1;
        self.all.lock().unwrap().push(decode(&message));
        Ok(())
    }

    fn gone(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// An encoded message read back, checking that it is the JSON its kind and cursor say.
fn decode(message: &Encoded) -> Message {
    let back: Message = serde_json::from_str(message.json()).unwrap();
    assert_eq!((back.kind(), back.cursor()), (message.kind, message.cursor));
    back
}

fn request(selector: &str, since: Option<i64>, cursor: Option<u64>) -> Spec {
    Spec::from_request(&SubscribeRequest {
        selector: selector.into(),
        since,
        cursor,
        ..SubscribeRequest::default()
    })
    .unwrap()
}

/// Runs a subscription on a thread; returns its sink and a handle.
fn start(
    db: &Arc<Db>,
    spec: Spec,
    sink: Keep,
    options: Options,
) -> std::thread::JoinHandle<Result<(), sextant_live::Error>> {
    let db = Arc::clone(db);
    std::thread::spawn(move || {
        let mut sink = sink;
        sextant_live::run(
            db.as_ref(),
            ORG,
            &spec,
            &mut sink,
            &options,
            &Fragments::default(),
        )
    })
}

/// Writes one point at `ts` to each of series `s0`..`s{n-1}` in one batch.
fn write_all(db: &Db, n: usize, ts: i64) {
    let mut batch = WriteBatch::new(ORG);
    for k in 0..n {
        batch.push(
            SeriesKey::new(format!("s{k}"), [("host", "h1")]).unwrap(),
            DataType::Double,
            vec![Point::new(ts, Value::Double((ts * 100 + k as i64) as f64))],
        );
    }
    db.write(batch.validate().unwrap()).unwrap();
}

#[test]
fn history_then_live_sends_every_point_once_while_writers_run() {
    const SERIES: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..200 {
        write_all(&db, SERIES, i);
    }
    db.flush().unwrap();
    // Writers go on while the subscription reads its history, one batch touching every
    // series at a time, so that series read one after the other reflect different commits;
    // one flush in the middle.
    let progress = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer = {
        let db = Arc::clone(&db);
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            for i in 200..2200 {
                write_all(&db, SERIES, i);
                write(&db, OrgId(2), "s0", &[(i, 0.0)]);
                if i == 1200 {
                    db.flush().unwrap();
                }
                progress.store(i, Ordering::Relaxed);
            }
        })
    };
    while progress.load(Ordering::Relaxed) < 400 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let sink = Keep::new(usize::MAX);
    let run = start(
        &db,
        request("{host=\"h1\"}", Some(100), None),
        sink.clone(),
        Options::default(),
    );
    writer.join().unwrap();
    sink.wait_for("every point", |s| s.count() >= SERIES * 2100);
    std::thread::sleep(Duration::from_millis(100));
    sink.stop.store(true, Ordering::Relaxed);
    run.join().unwrap().unwrap();

    let points = sink.points();
    assert_eq!(points.len(), SERIES);
    for k in 0..SERIES {
        let want: Vec<(i64, f64)> = (100..2200)
            .map(|i| (i, (i * 100 + k as i64) as f64))
            .collect();
        assert_eq!(
            points[&format!("s{k}")],
            want,
            "series s{k}: each point once, in order"
        );
    }
    let live = sink
        .messages()
        .iter()
        .position(|m| matches!(m, Message::Live { .. }))
        .expect("a live marker");
    // No cursor before the history is all sent.
    assert!(
        sink.messages()[..live].iter().all(|m| m.cursor().is_none()),
        "{:#?}",
        &sink.messages()[..live]
    );
}

#[test]
fn a_cursor_resumes_with_exactly_the_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write(&db, ORG, "a", &[(1, 1.0)]);
    let first = Keep::new(usize::MAX);
    let run = start(
        &db,
        request("a", None, None),
        first.clone(),
        Options::default(),
    );
    first.wait_for("the live marker", |s| {
        s.messages()
            .iter()
            .any(|m| matches!(m, Message::Live { .. }))
    });
    for i in 2..=5 {
        write(&db, ORG, "a", &[(i, i as f64)]);
    }
    first.wait_for("four points", |s| s.count() == 4);
    first.stop.store(true, Ordering::Relaxed);
    run.join().unwrap().unwrap();
    let cursor = first.last_cursor().expect("a cursor");

    // Written while nobody listened, some across a flush and a reopening of the store.
    for i in 6..=8 {
        write(&db, ORG, "a", &[(i, i as f64)]);
    }
    drop(db);
    let db = open(dir.path());
    write(&db, ORG, "a", &[(9, 9.0)]);

    let second = Keep::new(usize::MAX);
    let run = start(
        &db,
        request("a", None, Some(cursor)),
        second.clone(),
        Options::default(),
    );
    second.wait_for("four points", |s| s.count() == 4);
    std::thread::sleep(Duration::from_millis(50));
    second.stop.store(true, Ordering::Relaxed);
    run.join().unwrap().unwrap();
    let got: Vec<i64> = second.points()["a"].iter().map(|p| p.0).collect();
    assert_eq!(got, vec![6, 7, 8, 9]);

    // A cursor from the future is refused.
    let err = sextant_live::run(
        db.as_ref(),
        ORG,
        &request("a", None, Some(1_000_000)),
        &mut Keep::new(10),
        &Options::default(),
        &Fragments::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("ahead of the newest commit"),
        "{err}"
    );
}

#[test]
fn a_cursor_older_than_the_log_gets_a_gap_notice_then_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..300 {
        write(&db, ORG, "a", &[(i, i as f64)]);
    }
    // The flush removes the segments whose records are in parts.
    db.flush().unwrap();
    let last = write(&db, ORG, "a", &[(300, 300.0)]);
    let sink = Keep::new(usize::MAX);
    let run = start(
        &db,
        request("a", None, Some(0)),
        sink.clone(),
        Options::default(),
    );
    sink.wait_for("the last point", |s| {
        s.points()
            .get("a")
            .is_some_and(|p| p.contains(&(300, 300.0)))
    });
    sink.stop.store(true, Ordering::Relaxed);
    run.join().unwrap().unwrap();
    let gap = sink
        .messages()
        .into_iter()
        .find_map(|m| match m {
            Message::Gap {
                first,
                last,
                message,
            } => Some((first, last, message)),
            _ => None,
        })
        .expect("a gap notice");
    assert_eq!(gap.0, 1);
    assert!(
        gap.1 < last && gap.2.contains("cannot be replayed"),
        "{gap:?}"
    );
    // What the log still holds arrives, in order.
    let got: Vec<i64> = sink.points()["a"].iter().map(|p| p.0).collect();
    assert!(got.windows(2).all(|w| w[0] < w[1]) && got.last() == Some(&300));
}

#[test]
fn a_full_buffer_gets_a_behind_notice_or_closes_with_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let options = Options {
        max_stall: Duration::from_millis(300),
        max_batch_delay: Duration::ZERO,
        ..Options::default()
    };
    // Room for three messages: series, live, one batch.
    let sink = Keep::new(3);
    let run = start(&db, request("a", None, None), sink.clone(), options.clone());
    sink.wait_for("the live marker", |s| {
        s.messages()
            .iter()
            .any(|m| matches!(m, Message::Live { .. }))
    });
    write(&db, ORG, "a", &[(1, 1.0)]);
    sink.wait_for("a batch", |s| s.count() == 1);
    write(&db, ORG, "a", &[(2, 2.0)]);
    std::thread::sleep(Duration::from_millis(100));
    sink.drain();
    sink.wait_for("the behind notice", |s| {
        s.messages()
            .iter()
            .any(|m| matches!(m, Message::Behind { .. }))
    });
    assert_eq!(sink.count(), 2, "nothing lost: {:#?}", sink.messages());

    // Now it never drains: the stream ends, naming the last cursor sent.
    for i in 3..10 {
        write(&db, ORG, "a", &[(i, i as f64)]);
    }
    run.join().unwrap().unwrap();
    let messages = sink.messages();
    let Some(Message::Closed { cursor, reason }) = messages.last() else {
        panic!("{messages:#?}")
    };
    assert!(reason.contains("resume from the cursor"), "{reason}");
    let sent_up_to = messages[..messages.len() - 1]
        .iter()
        .rev()
        .find_map(Message::cursor);
    assert_eq!(*cursor, sent_up_to);
}

#[test]
fn windows_send_aggregates_and_late_notices() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let spec = Spec::from_request(&SubscribeRequest {
        selector: "a".into(),
        window: Some(WindowRequest {
            size: "10ns".into(),
            aggs: vec!["count,max".into()],
            ..WindowRequest::default()
        }),
        ..SubscribeRequest::default()
    })
    .unwrap();
    let sink = Keep::new(usize::MAX);
    let run = start(&db, spec, sink.clone(), Options::default());
    sink.wait_for("the live marker", |s| {
        s.messages()
            .iter()
            .any(|m| matches!(m, Message::Live { .. }))
    });
    write(&db, ORG, "a", &[(1, 1.0), (5, 7.0)]);
    write(&db, ORG, "a", &[(12, 2.0)]);
    write(&db, ORG, "a", &[(3, 9.0)]);
    sink.wait_for("a window and a late point", |s| {
        s.messages()
            .iter()
            .any(|m| matches!(m, Message::Late { .. }))
    });
    sink.stop.store(true, Ordering::Relaxed);
    run.join().unwrap().unwrap();
    let windows: Vec<_> = sink
        .messages()
        .into_iter()
        .filter_map(|m| match m {
            Message::Windows { windows, .. } => Some(windows),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        (windows[0].start, windows[0].end, windows[0].count),
        (0, 10, 2)
    );
    assert_eq!(windows[0].values["max"], Some(7.0));
    let late: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| matches!(m, Message::Late { .. }))
        .collect();
    assert_eq!(
        late,
        vec![Message::Late {
            id: 0,
            timestamp: 3,
            total: 1
        }]
    );
}
