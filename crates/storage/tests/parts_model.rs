//! Property test: random interleavings of writes, deletes, flushes, merges, closes, reopens and
//! reads behave like a map from series to sorted points, wherever the points are (head, frozen,
//! parts), with last-write-wins duplicates, types for life, deletions of time ranges and
//! per-organization isolation.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proptest::prelude::*;
use sextant_model::{DataType, ErrorKind, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::head::{HeadConfig, SeriesMatcher};
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
            flush_head_bytes: usize::MAX,
            flush_interval: None,
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_with_parts_behaves_like_a_sorted_map(ops in proptest::collection::vec(op(), 1..50)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Some(Db::open(dir.path(), config()).unwrap());
        let mut model: Model = HashMap::new();

        for op in ops {
            let store = db.as_ref().unwrap();
            match op {
                Op::Write { org, series, int, points } => {
                    let data_type = if int { DataType::Int64 } else { DataType::Double };
                    let mut b = WriteBatch::new(OrgId(org));
                    b.push(
                        key(series),
                        data_type,
                        points.iter().map(|&(t, v)| Point::new(t, value(int, v))).collect(),
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
                Op::Read { org, series, start, end } => {
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
                Op::Delete { org, series, start, end } => {
                    let selector = match series {
                        Some(s) => SeriesSelector::name("model.series")
                            .label("n", Match::equal(s.to_string())),
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
                    db = Some(Db::open(dir.path(), config()).unwrap());
                }
                Op::Close => {
                    db.take().unwrap().close().unwrap();
                    db = Some(Db::open(dir.path(), config()).unwrap());
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
        let db = Db::open(dir.path(), config()).unwrap();
        check_all(&db, &model)?;
    }
}
