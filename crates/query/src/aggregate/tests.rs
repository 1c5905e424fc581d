use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use sextant_model::{ErrorKind, Point};
use sextant_storage::Db;

use super::*;
use crate::Selector;
use crate::testing::{ORG, key, open, write};

const ALL: [Agg; 7] = [
    Agg::Count,
    Agg::Sum,
    Agg::Min,
    Agg::Max,
    Agg::Avg,
    Agg::First,
    Agg::Last,
];

/// Bucket starts and each aggregate's values as `f64`.
type Table = (Vec<i64>, Vec<(Agg, Vec<f64>)>);

fn table(r: &AggregateResult) -> Table {
    let columns = r
        .columns
        .iter()
        .map(|(agg, c)| {
            let values = match agg {
                Agg::Count => c
                    .as_primitive::<UInt64Type>()
                    .values()
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
                _ => c.as_primitive::<Float64Type>().values().to_vec(),
            };
            (*agg, values)
        })
        .collect();
    (r.buckets.values().to_vec(), columns)
}

#[test]
fn buckets_start_at_the_origin_plus_whole_widths() {
    // (width, origin, t, start of t's bucket)
    let cases: &[(i64, i64, i64, i64)] = &[
        (10, 0, 0, 0),
        (10, 0, 9, 0),
        (10, 0, 10, 10),
        (10, 0, -1, -10),
        (10, 0, -10, -10),
        (10, 5, 4, -5),
        (10, 5, 5, 5),
        (10, 5, 14, 5),
        (10, -3, 0, -3),
        (1_000_000_000, 0, 1_500_000_000, 1_000_000_000),
        (10, 0, i64::MIN, i64::MIN),
        (10, 0, i64::MAX, i64::MAX - 7),
        (10, 3, i64::MIN, i64::MIN),
    ];
    for &(width, origin, t, start) in cases {
        let b = Buckets::new(width).unwrap().with_origin(origin);
        assert_eq!(b.start_of(t), start, "width {width} origin {origin} t {t}");
        assert_eq!(b.epoch_aligned(), origin % width == 0);
    }
    for width in [0, -1, i64::MIN] {
        let err = Buckets::new(width).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains(&width.to_string()), "{err}");
    }
}

/// A numeric series across two parts and the head, with overlapping rewrites, integer
/// values so that sums are exact whichever way they are added.
fn numeric_store(dir: &std::path::Path) -> Db {
    let db = open(dir);
    let k = key("v", &[("asset", "a")]);
    let ints = |ts: std::ops::Range<i64>, f: fn(i64) -> i64| -> Vec<Point> {
        ts.map(|t| Point::new(t, Value::Int64(f(t)))).collect()
    };
    write(&db, &k, DataType::Int64, ints(0..100, |t| t % 17 - 8));
    db.flush().unwrap();
    write(&db, &k, DataType::Int64, ints(40..60, |t| t * 3));
    db.flush().unwrap();
    write(&db, &k, DataType::Int64, ints(90..130, |t| -t));
    db
}

#[test]
fn the_stores_pushdown_and_folding_points_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = numeric_store(dir.path());
    let reader = Reader::new(&db, ORG);
    let s = SeriesRef {
        key: key("v", &[("asset", "a")]),
        data_type: DataType::Int64,
    };
    for width in [1, 3, 8, 10, 25, 1_000] {
        for range in [0..130, 5..95, 41..42, 200..300, i64::MIN..i64::MAX] {
            let request = Aggregation {
                series: Series::List(vec![s.clone()]),
                range: range.clone(),
                buckets: Buckets::new(width).unwrap(),
                aggs: ALL.to_vec(),
            };
            let pushed = series_aggregates(&reader, &s, &request, false).unwrap();
            let folded = series_aggregates(&reader, &s, &request, true).unwrap();
            assert_eq!(table(&pushed), table(&folded), "width {width} {range:?}");
        }
    }
}

#[test]
fn buckets_from_an_origin_fold_every_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let k = key("v", &[]);
    let points = [
        (1, 4.0),
        (4, 2.0),
        (5, 7.0),
        (9, f64::NAN),
        (14, 1.0),
        (30, -3.0),
    ];
    write(
        &db,
        &k,
        DataType::Double,
        points
            .iter()
            .map(|&(t, v)| Point::new(t, Value::Double(v)))
            .collect(),
    );
    let reader = Reader::new(&db, ORG);
    let got = reader
        .aggregate(&Aggregation {
            series: Series::Selector(Selector::name("v")),
            range: 0..100,
            buckets: Buckets::new(10).unwrap().with_origin(5),
            aggs: ALL.to_vec(),
        })
        .unwrap();
    assert_eq!(got.len(), 1);
    let (starts, columns) = table(&got[0].result);
    assert_eq!(starts, [-5, 5, 25]);
    // (aggregate, per bucket); NaN compares via its text.
    let want: &[(Agg, [f64; 3])] = &[
        (Agg::Count, [2.0, 3.0, 1.0]),
        (Agg::Sum, [6.0, f64::NAN, -3.0]),
        (Agg::Min, [2.0, 1.0, -3.0]),
        (Agg::Max, [4.0, 7.0, -3.0]),
        (Agg::Avg, [3.0, f64::NAN, -3.0]),
        (Agg::First, [4.0, 7.0, -3.0]),
        (Agg::Last, [2.0, 1.0, -3.0]),
    ];
    for ((agg, values), (want_agg, want_values)) in columns.iter().zip(want) {
        assert_eq!(agg, want_agg);
        assert_eq!(format!("{values:?}"), format!("{want_values:?}"), "{agg:?}");
    }
}

#[test]
fn any_series_is_counted_but_only_numbers_are_summed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let k = key("state", &[("asset", "a")]);
    write(
        &db,
        &k,
        DataType::String,
        ["on", "off", "on"]
            .iter()
            .enumerate()
            .map(|(i, s)| Point::new(i as i64 * 10, Value::String((*s).to_owned())))
            .collect(),
    );
    let reader = Reader::new(&db, ORG);
    let request = |aggs: Vec<Agg>| Aggregation {
        series: Series::Selector(Selector::name("state")),
        range: 0..100,
        buckets: Buckets::new(20).unwrap(),
        aggs,
    };
    let got = reader.aggregate(&request(vec![Agg::Count])).unwrap();
    assert_eq!(
        table(&got[0].result),
        (vec![0, 20], vec![(Agg::Count, vec![2.0, 1.0])])
    );
    let err = reader
        .aggregate(&request(vec![Agg::Count, Agg::Max]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        r#"cannot compute Max of series state{asset="a"} of type string: not numeric"#
    );
}

#[test]
fn every_selected_series_gets_its_aggregates_and_unknown_ones_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = numeric_store(dir.path());
    write(
        &db,
        &key("v", &[("asset", "b")]),
        DataType::Double,
        vec![Point::new(7, Value::Double(1.5))],
    );
    let reader = Reader::new(&db, ORG);
    let got = reader
        .aggregate(&Aggregation {
            series: Series::Selector(Selector::name("v")),
            range: 0..10,
            buckets: Buckets::new(1_000).unwrap(),
            aggs: vec![Agg::Count, Agg::Last],
        })
        .unwrap();
    let summary: Vec<(String, Table)> = got
        .iter()
        .map(|s| (s.key.to_string(), table(&s.result)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                r#"v{asset="a"}"#.to_owned(),
                (
                    vec![0],
                    vec![(Agg::Count, vec![10.0]), (Agg::Last, vec![1.0])]
                )
            ),
            (
                r#"v{asset="b"}"#.to_owned(),
                (
                    vec![0],
                    vec![(Agg::Count, vec![1.0]), (Agg::Last, vec![1.5])]
                )
            ),
        ]
    );
    let unknown = reader
        .aggregate(&Aggregation {
            series: Series::List(vec![SeriesRef {
                key: key("nope", &[]),
                data_type: DataType::Double,
            }]),
            range: 0..10,
            buckets: Buckets::new(5).unwrap(),
            aggs: vec![Agg::Sum],
        })
        .unwrap();
    assert_eq!(unknown[0].result.buckets.len(), 0);
}

#[test]
fn a_reader_stops_when_its_caller_says_so_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for host in ["a", "b", "c"] {
        let points = (0..10).map(|t| Point::new(t, Value::Double(1.0))).collect();
        write(&db, &key("v", &[("host", host)]), DataType::Double, points);
    }
    let asked = std::sync::atomic::AtomicUsize::new(0);
    // Lets two units of work through, then refuses.
    let proceed = || {
        if asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2 {
            Err("past the deadline".to_owned())
        } else {
            Ok(())
        }
    };
    let reader = Reader::new(&db, ORG).stopping_when(&proceed);
    let request = Aggregation {
        series: Series::Selector(Selector::name("v")),
        range: 0..100,
        buckets: Buckets::new(10).unwrap().with_origin(5),
        aggs: vec![Agg::Count],
    };
    let err = reader.aggregate(&request).unwrap_err();
    assert_eq!(err.to_string(), "past the deadline");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    // A scan asks before each series too; a reader without a check never stops.
    asked.store(0, std::sync::atomic::Ordering::SeqCst);
    let scan = crate::Scan::new(Series::Selector(Selector::name("v")), 0..100);
    assert!(matches!(reader.scan(&scan), Err(Error::Stopped { .. })));
    let all = Reader::new(&db, ORG).aggregate(&request).unwrap();
    assert_eq!(all.len(), 3);
}
