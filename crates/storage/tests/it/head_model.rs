//! Property test: random interleavings of writes, reads and reopens of a store behave like a
//! map from series to sorted points, with the out-of-order window, last-write-wins duplicates
//! and per-organization isolation.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proptest::prelude::*;
use sextant_model::{DataType, ErrorKind, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::head::HeadConfig;
use sextant_storage::{Db, DbConfig};

const WINDOW: i64 = 100;

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
    /// Close and reopen the store.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            1..3u64,
            0..3u8,
            proptest::bool::weighted(0.1),
            proptest::collection::vec((0..400i64, -50..50i64), 1..6),
        )
            .prop_map(|(org, series, int, points)| Op::Write { org, series, int, points }),
        3 => (1..3u64, 0..3u8, 0..420i64, 0..420i64)
            .prop_map(|(org, series, start, end)| Op::Read { org, series, start, end }),
        1 => Just(Op::Reopen),
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
        head: HeadConfig {
            out_of_order_window: Duration::from_nanos(WINDOW as u64),
            ..HeadConfig::default()
        },
        ..DbConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn store_behaves_like_a_sorted_map(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(dir.path(), config()).unwrap();
        let mut model: HashMap<(u64, u8), (DataType, BTreeMap<i64, Value>)> = HashMap::new();

        for op in ops {
            match op {
                Op::Write { org, series, int, points } => {
                    let data_type = if int { DataType::Int64 } else { DataType::Double };
                    let mut b = WriteBatch::new(OrgId(org));
                    b.push(
                        key(series),
                        data_type,
                        points.iter().map(|&(t, v)| Point::new(t, value(int, v))).collect(),
                    );
                    let got = db.write(b.validate().unwrap());
                    let stored = model.get(&(org, series));
                    let newest = points
                        .iter()
                        .map(|p| p.0)
                        .chain(stored.and_then(|(_, m)| m.keys().next_back().copied()))
                        .max()
                        .unwrap();
                    let conflict = stored.is_some_and(|(t, _)| *t != data_type);
                    let too_old = points.iter().any(|&(t, _)| t < newest - WINDOW);
                    if conflict || too_old {
                        // Either reason may be reported when both apply.
                        let err = got.unwrap_err();
                        let msg = err.to_string();
                        prop_assert_eq!(err.kind(), ErrorKind::InvalidInput);
                        prop_assert!(
                            (conflict && msg.contains("for life"))
                                || (too_old && msg.contains("too old")),
                            "{}", msg
                        );
                    } else {
                        got.unwrap();
                        let (_, m) = model
                            .entry((org, series))
                            .or_insert((data_type, BTreeMap::new()));
                        for (t, v) in points {
                            m.insert(t, value(int, v));
                        }
                    }
                }
                Op::Read { org, series, start, end } => {
                    let got = db.read(OrgId(org), &key(series), start..end);
                    match model.get(&(org, series)) {
                        None => prop_assert_eq!(got.unwrap_err().kind(), ErrorKind::NotFound),
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
                Op::Reopen => {
                    drop(db);
                    db = Db::open(dir.path(), config()).unwrap();
                }
            }
        }
        // Finally everything survives one more reopen.
        drop(db);
        let db = Db::open(dir.path(), config()).unwrap();
        for ((org, series), (_, m)) in &model {
            let got = db.read(OrgId(*org), &key(*series), i64::MIN..i64::MAX).unwrap();
            let want: Vec<Point> = m.iter().map(|(&t, v)| Point::new(t, v.clone())).collect();
            prop_assert_eq!(got, want);
        }
    }
}
