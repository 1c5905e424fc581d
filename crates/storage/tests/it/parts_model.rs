//! Property test: random interleavings of writes, deletes, flushes, merges, closes, reopens and
//! reads behave like a map from series to sorted points, wherever the points are (head, frozen,
//! parts), with last-write-wins duplicates, types for life, deletions of time ranges and
//! per-organization isolation. It runs twice: with part files in the data directory, and
//! with them in an in-memory [`PartFiles`] that publishes whole objects the way an object
//! store does, which holds the seam between the part format and the medium to its contract.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use proptest::prelude::*;
use sextant_model::{DataType, ErrorKind, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::head::{HeadConfig, SeriesMatcher};
use sextant_storage::part::{PartFile, PartFiles, PartLocation, PartSink};
use sextant_storage::wal::WalConfig;
use sextant_storage::{Db, DbConfig, Match, PartsConfig, SeriesSelector};

#[derive(Debug, Clone)]
enum Op {
    /// Write `(timestamp, value)` points to series `series` of organization `org`, as integers
    /// or as doubles.
    Write {
        org: u64,
        series: u8,
        int: bool,
        points: Vec<(i64, i64)>,
    },
    /// Read `[start, end)` of a series.
    Read {
        org: u64,
        series: u8,
        start: i64,
        end: i64,
    },
    /// Delete `[start, end)` of one series, or of every series of the organization.
    Delete {
        org: u64,
        series: Option<u8>,
        start: i64,
        end: i64,
    },
    /// Flush the head into parts.
    Flush,
    /// Merge the parts of every partition with at least two.
    Merge,
    /// Drop the store without flushing and open it again.
    Reopen,
    /// Close the store (which flushes) and open it again.
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            1..3u64,
            0..3u8,
            proptest::bool::weighted(0.1),
            proptest::collection::vec((-100..400i64, -50..50i64), 1..6),
        )
            .prop_map(|(org, series, int, points)| Op::Write { org, series, int, points }),
        3 => (1..3u64, 0..3u8, -110..420i64, -110..420i64)
            .prop_map(|(org, series, start, end)| Op::Read { org, series, start, end }),
        2 => (1..3u64, proptest::option::of(0..3u8), -110..420i64, -110..420i64)
            .prop_map(|(org, series, start, end)| Op::Delete { org, series, start, end }),
        2 => Just(Op::Flush),
        1 => Just(Op::Merge),
        1 => Just(Op::Reopen),
        1 => Just(Op::Close),
    ]
}

fn value(int: bool, v: i64) -> Value {
    if int {
        Value::Int64(v)
    } else {
        Value::Double(v as f64)
    }
}

fn key(series: u8) -> SeriesKey {
    SeriesKey::new("model.series", [("n", series.to_string())]).unwrap()
}

fn config() -> DbConfig {
    DbConfig {
        wal: WalConfig {
            // Small segments, so that flushes remove some.
            segment_bytes: 512,
            ..WalConfig::default()
        },
        head: HeadConfig {
            // The window is the head's concern, tested elsewhere; here every point is admitted.
            out_of_order_window: Duration::from_secs(1 << 40),
            ..HeadConfig::default()
        },
        parts: PartsConfig {
            // Small partitions, so that flushes write several parts and reads cross them.
            partition: Duration::from_nanos(64),
            block_points: 3,
            // Full blocks carry their values' summary, shorter ones do not: reads and
            // aggregations see both.
            summary_min_points: 3,
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    }
}

/// Per series its type and points. A series whose points were all deleted stays with no
/// points: the store may still know it (reads give nothing, its type holds) or have forgotten
/// it after a reopen (reads fail with NotFound, any type may be written), but never lists it.
type Model = HashMap<(u64, u8), (DataType, BTreeMap<i64, Value>)>;

fn check_all(db: &Db, model: &Model) -> Result<(), TestCaseError> {
    for ((org, series), (_, m)) in model {
        let got = db.read(OrgId(*org), &key(*series), i64::MIN..i64::MAX);
        let want: Vec<Point> = m.iter().map(|(&t, v)| Point::new(t, v.clone())).collect();
        match got {
            Err(e) if m.is_empty() => prop_assert_eq!(e.kind(), ErrorKind::NotFound),
            got => prop_assert_eq!(got.unwrap(), want),
        }
    }
    for org in 1..3 {
        let listed: Vec<SeriesKey> = db
            .series(OrgId(org), &SeriesMatcher::all())
            .into_iter()
            .map(|s| s.key)
            .collect();
        let mut want: Vec<SeriesKey> = model
            .iter()
            .filter(|((o, _), (_, m))| *o == org && !m.is_empty())
            .map(|((_, s), _)| key(*s))
            .collect();
        want.sort();
        prop_assert_eq!(listed, want);
    }
    Ok(())
}

/// Part files as whole immutable objects in memory: a write becomes visible only when its
/// sink commits, as an object store's PUT; reads are ranged reads of the object.
#[derive(Debug, Default)]
struct MemoryParts {
    objects: Mutex<HashMap<PartLocation, Arc<Vec<u8>>>>,
}

#[derive(Debug)]
struct MemoryObject(Arc<Vec<u8>>);

impl PartFile for MemoryObject {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "past the object's end"))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

struct MemorySink {
    parts: Arc<MemoryParts>,
    at: PartLocation,
    bytes: Vec<u8>,
}

impl Write for MemorySink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PartSink for MemorySink {
    fn commit(self: Box<Self>) -> sextant_storage::Result<()> {
        let MemorySink { parts, at, bytes } = *self;
        parts.objects.lock().insert(at, Arc::new(bytes));
        Ok(())
    }

    fn abandon(self: Box<Self>) -> sextant_storage::Result<()> {
        Ok(())
    }
}

/// The in-memory parts as the store sees them; the same `Arc` outlives every reopen.
#[derive(Debug, Clone, Default)]
struct SharedMemoryParts(Arc<MemoryParts>);

impl PartFiles for SharedMemoryParts {
    fn list(&self) -> sextant_storage::Result<Vec<PartLocation>> {
        Ok(self.0.objects.lock().keys().copied().collect())
    }

    fn open(&self, at: &PartLocation) -> sextant_storage::Result<Arc<dyn PartFile>> {
        let object = self.0.objects.lock().get(at).cloned();
        object
            .map(|bytes| Arc::new(MemoryObject(bytes)) as Arc<dyn PartFile>)
            .ok_or_else(|| sextant_storage::Error::Io {
                action: "open part object",
                path: self.describe(at),
                source: io::ErrorKind::NotFound.into(),
            })
    }

    fn create(&self, at: &PartLocation) -> sextant_storage::Result<Box<dyn PartSink>> {
        Ok(Box::new(MemorySink {
            parts: Arc::clone(&self.0),
            at: *at,
            bytes: Vec::new(),
        }))
    }

    fn remove(&self, parts: &[PartLocation]) -> sextant_storage::Result<()> {
        let mut objects = self.0.objects.lock();
        for at in parts {
            objects.remove(at);
        }
        Ok(())
    }

    fn describe(&self, at: &PartLocation) -> PathBuf {
        PathBuf::from(format!("memory/{}/{}", at.partition, at.name.file_name()))
    }
}

/// How a run opens its store in a data directory.
type Open<'a> = &'a dyn Fn(&Path) -> Db;

/// Applies `ops` to a store and to the model, checking that they agree.
fn run(ops: Vec<Op>, open: Open<'_>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(open(dir.path()));
    let mut model: Model = HashMap::new();

    for op in ops {
        let store = db.as_ref().unwrap();
        match op {
            Op::Write {
                org,
                series,
                int,
                points,
            } => {
                let data_type = if int {
                    DataType::Int64
                } else {
                    DataType::Double
                };
                let mut b = WriteBatch::new(OrgId(org));
                b.push(
                    key(series),
                    data_type,
                    points
                        .iter()
                        .map(|&(t, v)| Point::new(t, value(int, v)))
                        .collect(),
                );
                let got = store.write(b.validate().unwrap());
                let stored = model.get(&(org, series));
                let conflict = stored.is_some_and(|(t, _)| *t != data_type);
                let emptied = stored.is_some_and(|(_, m)| m.is_empty());
                if conflict && !(emptied && got.is_ok()) {
                    let err = got.unwrap_err();
                    prop_assert_eq!(err.kind(), ErrorKind::InvalidInput);
                    prop_assert!(err.to_string().contains("for life"), "{}", err);
                } else {
                    got.unwrap();
                    if conflict {
                        // A forgotten series takes the new type.
                        model.remove(&(org, series));
                    }
                    let (_, m) = model
                        .entry((org, series))
                        .or_insert((data_type, BTreeMap::new()));
                    for (t, v) in points {
                        m.insert(t, value(int, v));
                    }
                }
            }
            Op::Read {
                org,
                series,
                start,
                end,
            } => {
                let got = store.read(OrgId(org), &key(series), start..end);
                match model.get(&(org, series)) {
                    None => prop_assert_eq!(got.unwrap_err().kind(), ErrorKind::NotFound),
                    Some((_, m)) if m.is_empty() && got.is_err() => {
                        prop_assert_eq!(got.unwrap_err().kind(), ErrorKind::NotFound);
                    }
                    Some((_, m)) => {
                        let want: Vec<Point> = if start < end {
                            m.range(start..end)
                                .map(|(&t, v)| Point::new(t, v.clone()))
                                .collect()
                        } else {
                            Vec::new()
                        };
                        prop_assert_eq!(got.unwrap(), want);
                    }
                }
            }
            Op::Delete {
                org,
                series,
                start,
                end,
            } => {
                let selector = match series {
                    Some(s) => {
                        SeriesSelector::name("model.series").label("n", Match::equal(s.to_string()))
                    }
                    None => SeriesSelector::name("model.series"),
                };
                store.delete(OrgId(org), &selector, start..end).unwrap();
                if start < end {
                    for ((o, s), (_, m)) in model.iter_mut() {
                        if *o == org && series.is_none_or(|want| want == *s) {
                            m.retain(|t, _| !(start..end).contains(t));
                        }
                    }
                }
                check_all(store, &model)?;
            }
            Op::Flush => {
                store.flush().unwrap();
                check_all(store, &model)?;
            }
            Op::Merge => {
                store.merge(2).unwrap();
                check_all(store, &model)?;
            }
            Op::Reopen => {
                drop(db.take());
                db = Some(open(dir.path()));
            }
            Op::Close => {
                db.take().unwrap().close().unwrap();
                db = Some(open(dir.path()));
                // Closing flushed everything and the WAL kept nothing to replay.
                let reopened = db.as_ref().unwrap();
                for org in 1..3 {
                    for s in reopened.series(OrgId(org), &SeriesMatcher::all()) {
                        prop_assert_eq!(s.points, 0, "{} still has points in the head", s.key);
                    }
                }
            }
        }
    }
    check_all(db.as_ref().unwrap(), &model)?;
    // Finally everything survives one more reopen.
    drop(db.take());
    let db = open(dir.path());
    check_all(&db, &model)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_with_parts_behaves_like_a_sorted_map(ops in proptest::collection::vec(op(), 1..50)) {
        run(ops, &|dir| Db::open(dir, config()).unwrap())?;
    }

    #[test]
    fn store_with_parts_in_memory_objects_behaves_like_a_sorted_map(
        ops in proptest::collection::vec(op(), 1..50),
    ) {
        let parts = SharedMemoryParts::default();
        run(ops, &|dir| {
            assert!(!dir.join("parts").exists(), "part files were written to disk");
            Db::open_with_parts(dir, config(), Arc::new(parts.clone())).unwrap()
        })?;
    }
}
