//! Crash test: a child process writes from several threads and reports each acknowledged
//! write, while another thread flushes the head into parts every few milliseconds; the parent
//! kills it with SIGKILL at random moments (so also in the middle of writing parts, removing WAL
//! segments or rotating them), reopens the store and checks that every acknowledged point is
//! there exactly once. The writers also delete what they wrote to a scratch series, every
//! fourth batch, and report each acknowledged deletion; no deleted point may come back.
//!
//! The child is this same test binary, re-run with an environment variable that selects child
//! mode and a filter that selects this test, so it works under `cargo test` and `cargo nextest`
//! alike. Set `SEXTANT_CRASH_SEED` to replay a particular sequence of kill moments.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::wal::{SyncMode, WalConfig};
use sextant_storage::{Db, DbConfig, Match, PartsConfig, SeriesSelector};

const TEST_NAME: &str = "crash::sigkill_loses_no_acknowledged_point";
const CHILD_DIR_ENV: &str = "SEXTANT_CRASH_CHILD_DIR";
const CHILD_ROUND_ENV: &str = "SEXTANT_CRASH_CHILD_ROUND";
const ROUNDS: u64 = 20;
const THREADS: u64 = 4;
const POINTS_PER_BATCH: u64 = 16;
const ORG: OrgId = OrgId(3);
/// Batches per deletion of the scratch series.
const DELETE_EVERY: u64 = 4;

fn config() -> DbConfig {
    DbConfig {
        wal: WalConfig {
            sync: SyncMode::Always,
            // Small segments, so that kills also land around segment rotation.
            segment_bytes: 64 << 10,
            ..WalConfig::default()
        },
        parts: PartsConfig {
            // Small partitions, so that one flush writes several parts.
            partition: Duration::from_nanos(4096),
            // The child flushes explicitly, at moments of its own.
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    }
}

fn key(series: &str, thread: u64) -> SeriesKey {
    SeriesKey::new(series, [("thread", thread.to_string())]).unwrap()
}

/// The timestamps of batch `i` of `thread` in `round`: disjoint across rounds and batches.
fn timestamps(round: u64, i: u64) -> impl Iterator<Item = i64> {
    let base = (round * 1_000_000_000 + i * POINTS_PER_BATCH) as i64;
    (0..POINTS_PER_BATCH as i64).map(move |j| base + j)
}

fn velocity(thread: u64, ts: i64) -> f64 {
    ts as f64 * 0.5 + thread as f64
}

fn counter(thread: u64, ts: i64) -> i64 {
    ts ^ (thread as i64) << 40
}

fn batch(round: u64, thread: u64, i: u64) -> sextant_model::ValidatedBatch {
    let mut b = WriteBatch::new(ORG);
    let ts: Vec<i64> = timestamps(round, i).collect();
    b.push(
        key("crash.velocity", thread),
        DataType::Double,
        ts.iter()
            .map(|&t| Point::new(t, Value::Double(velocity(thread, t))))
            .collect(),
    );
    b.push(
        key("crash.scratch", thread),
        DataType::Double,
        ts.iter()
            .map(|&t| Point::new(t, Value::Double(velocity(thread, t))))
            .collect(),
    );
    b.push(
        key("crash.counter", thread),
        DataType::Int64,
        ts.iter()
            .map(|&t| Point::new(t, Value::Int64(counter(thread, t))))
            .collect(),
    );
    b.validate().unwrap()
}

/// The timestamps of group `g` of `DELETE_EVERY` batches, which one deletion removes.
fn group_range(round: u64, g: u64) -> std::ops::Range<i64> {
    let start = timestamps(round, g * DELETE_EVERY).next().unwrap();
    let end = timestamps(round, (g + 1) * DELETE_EVERY).next().unwrap();
    start..end
}

/// Writes until killed, printing `ACK <thread> <batch>` after each acknowledged write and
/// `DEL <thread> <group>` after each acknowledged deletion.
fn run_child(dir: &Path, round: u64) -> ! {
    let db = Arc::new(Db::open(dir, config()).expect("child cannot open the store"));
    let deadline = Instant::now() + Duration::from_secs(30);
    {
        // Flushes until the process ends, at a period that differs from round to round.
        let db = Arc::clone(&db);
        let period = Duration::from_millis(3 + round * 7 % 40);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(period);
                db.flush().expect("flush failed");
            }
        });
    }
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0.. {
                    db.write(batch(round, thread, i)).expect("write failed");
                    let mut line = format!("ACK {thread} {i}\n");
                    if i % DELETE_EVERY == DELETE_EVERY - 1 {
                        let g = i / DELETE_EVERY;
                        let scratch = SeriesSelector::name("crash.scratch")
                            .label("thread", Match::equal(thread.to_string()));
                        // Announce the write before deleting, so its ack is not held back.
                        print_or_exit(&line, deadline);
                        db.delete(ORG, &scratch, group_range(round, g))
                            .expect("delete failed");
                        line = format!("DEL {thread} {g}\n");
                    }
                    print_or_exit(&line, deadline);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    std::process::exit(0)
}

fn print_or_exit(line: &str, deadline: Instant) {
    let mut out = std::io::stdout().lock();
    // A parent that stopped listening has its answer; stop writing.
    if out
        .write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
        || Instant::now() > deadline
    {
        std::process::exit(0);
    }
}

/// A small deterministic generator for kill moments.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn sigkill_loses_no_acknowledged_point() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        let round = std::env::var(CHILD_ROUND_ENV).unwrap().parse().unwrap();
        run_child(Path::new(&dir), round);
    }

    let seed = std::env::var("SEXTANT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5e_c7a1);
    eprintln!("crash test seed {seed} (set SEXTANT_CRASH_SEED to repeat)");
    let mut rng = SplitMix(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // (round, thread) -> number of acknowledged batches 0..n.
    let mut acked: HashMap<(u64, u64), u64> = HashMap::new();
    // (round, thread, group) whose scratch points were deleted, acknowledged.
    let mut deleted: HashSet<(u64, u64, u64)> = HashSet::new();
    let mut total_acks = 0;

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .env(CHILD_ROUND_ENV, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let delay = Duration::from_millis(30 + rng.next() % 400);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL on unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        for line in lines {
            if let Some(at) = line.find("DEL ") {
                let mut parts = line[at + 4..].split(' ').map(|p| p.parse::<u64>().unwrap());
                let (thread, g) = (parts.next().unwrap(), parts.next().unwrap());
                deleted.insert((round, thread, g));
                continue;
            }
            // libtest may have printed the test's name on the same line before the first ack.
            let Some(at) = line.find("ACK ") else {
                continue;
            };
            let rest = &line[at + 4..];
            let mut parts = rest.split(' ').map(|p| p.parse::<u64>().unwrap());
            let (thread, i) = (parts.next().unwrap(), parts.next().unwrap());
            let n = acked.entry((round, thread)).or_default();
            // Each thread acknowledges its batches in order.
            assert_eq!(*n, i, "round {round} thread {thread}: acks out of order");
            *n = i + 1;
            total_acks += 1;
        }

        let db = Db::open(dir.path(), config())
            .unwrap_or_else(|e| panic!("round {round}: store did not reopen cleanly: {e}"));
        check_acked(&db, &acked, &deleted, round);
    }
    eprintln!(
        "{total_acks} acknowledged writes and {} deletions survived {ROUNDS} kills",
        deleted.len()
    );
    let db = Db::open(dir.path(), config()).unwrap();
    assert!(
        !db.parts().is_empty(),
        "no flush finished over {ROUNDS} rounds: the test did not exercise parts"
    );
    assert!(
        total_acks >= ROUNDS,
        "only {total_acks} writes were acknowledged over {ROUNDS} rounds: the child barely ran"
    );
}

fn check_acked(
    db: &Db,
    acked: &HashMap<(u64, u64), u64>,
    deleted: &HashSet<(u64, u64, u64)>,
    after_round: u64,
) {
    for thread in 0..THREADS {
        let read = |name: &str| -> HashMap<i64, Value> {
            match db.read(ORG, &key(name, thread), i64::MIN..i64::MAX) {
                Ok(points) => {
                    // Exactly once: however often a crash made a point be written to parts.
                    assert!(
                        points.windows(2).all(|w| w[0].timestamp < w[1].timestamp),
                        "after round {after_round}: {name} of thread {thread} returned a timestamp twice or out of order"
                    );
                    points.into_iter().map(|p| (p.timestamp, p.value)).collect()
                }
                Err(_) => HashMap::new(),
            }
        };
        let velocities = read("crash.velocity");
        let counters = read("crash.counter");
        let scratch = read("crash.scratch");
        for round in 0..=after_round {
            let n = acked.get(&(round, thread)).copied().unwrap_or(0);
            for g in 0..n.div_ceil(DELETE_EVERY) {
                let range = group_range(round, g);
                if deleted.contains(&(round, thread, g)) {
                    assert!(
                        !scratch.keys().any(|t| range.contains(t)),
                        "after round {after_round}: deleted scratch points of thread {thread} (round {round}, group {g}) came back"
                    );
                } else if (g + 1) * DELETE_EVERY > n {
                    // The group's deletion was never attempted: every acked point is there.
                    for i in g * DELETE_EVERY..n {
                        for ts in timestamps(round, i) {
                            assert!(
                                scratch.contains_key(&ts),
                                "after round {after_round}: acknowledged scratch point of thread {thread} at {ts} is missing"
                            );
                        }
                    }
                }
            }
            for i in 0..n {
                for ts in timestamps(round, i) {
                    assert_eq!(
                        velocities.get(&ts),
                        Some(&Value::Double(velocity(thread, ts))),
                        "after round {after_round}: acknowledged velocity of thread {thread} at {ts} (round {round}, batch {i}) is missing or wrong"
                    );
                    assert_eq!(
                        counters.get(&ts),
                        Some(&Value::Int64(counter(thread, ts))),
                        "after round {after_round}: acknowledged counter of thread {thread} at {ts} is missing or wrong"
                    );
                }
            }
        }
    }
}
