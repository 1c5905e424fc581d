use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{ArrowPrimitiveType, Float64Type, Int64Type};
use sextant_model::{ErrorKind, Point, Value};
use sextant_storage::{Db, Store};

use super::*;
use crate::testing::{Counting, ORG, key, open, write};

fn doubles(ts: impl IntoIterator<Item = i64>) -> Vec<Point> {
    ts.into_iter()
        .map(|t| Point::new(t, Value::Double(t as f64)))
        .collect()
}

/// Points as `(timestamp, value as text)`.
type Rows = Vec<(i64, String)>;

/// Per series position, its points.
type Joined = Vec<(usize, Rows)>;

/// A page's expected batches (series position, timestamps) and its next token.
type PageCase<'a> = (&'a [(usize, &'a [i64])], Option<&'a str>);

/// The points of a batch as `(timestamp, value)` text, for comparing with `read`'s.
fn rows(points: &ArrowPoints) -> Rows {
    let data_type = points.values.data_type();
    let values: Vec<String> = if *data_type == Float64Type::DATA_TYPE {
        points
            .values
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|v| format!("{v:?}"))
            .collect()
    } else if *data_type == Int64Type::DATA_TYPE {
        points
            .values
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|v| v.to_string())
            .collect()
    } else {
        points
            .values
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect()
    };
    points
        .timestamps
        .values()
        .iter()
        .copied()
        .zip(values)
        .collect()
}

fn point_rows(points: Vec<Point>) -> Rows {
    points
        .into_iter()
        .map(|p| {
            let v = match p.value {
                Value::Double(v) => format!("{v:?}"),
                Value::Int64(v) => v.to_string(),
                Value::String(v) => v,
                other => panic!("unexpected value {other:?}"),
            };
            (p.timestamp, v)
        })
        .collect()
}

/// Three series over head and parts, with points overwritten by newer writes, and one series
/// with no point in the tests' ranges.
fn store(dir: &std::path::Path) -> Db {
    let db = open(dir);
    let a = key("a", &[("asset", "x")]);
    write(&db, &a, DataType::Double, doubles(0..20));
    db.flush().unwrap();
    write(&db, &a, DataType::Double, doubles(20..40));
    write(
        &db,
        &a,
        DataType::Double,
        vec![Point::new(5, Value::Double(-5.0))],
    );
    let b = key("b", &[("asset", "x")]);
    write(
        &db,
        &b,
        DataType::Int64,
        (10..16).map(|t| Point::new(t, Value::Int64(-t))).collect(),
    );
    db.flush().unwrap();
    write(
        &db,
        &b,
        DataType::Int64,
        vec![Point::new(12, Value::Int64(120))],
    );
    let c = key("c", &[("asset", "y")]);
    write(
        &db,
        &c,
        DataType::String,
        (30..34)
            .map(|t| Point::new(t, Value::String(format!("s{t}"))))
            .collect(),
    );
    write(
        &db,
        &key("d", &[("asset", "x")]),
        DataType::Double,
        doubles([1_000]),
    );
    db
}

/// What a whole scan returns: per series in scan order, `read`'s points in the order, cut.
fn expected(db: &Db, scan: &Scan) -> Joined {
    let reader = Reader::new(db, ORG);
    let mut out = Vec::new();
    for (i, s) in scan.series.resolve(&reader).iter().enumerate() {
        let mut points = db.read(ORG, &s.key, scan.range.clone()).unwrap_or_default();
        if scan.order == Order::Descending {
            points.reverse();
        }
        if let Some(l) = scan.series_limit {
            points.truncate(l);
        }
        if !points.is_empty() {
            out.push((i, point_rows(points)));
        }
    }
    out
}

/// Every page of `scan`, joined per series.
fn all_pages(db: &Db, scan: &Scan) -> (Joined, usize) {
    let reader = Reader::new(db, ORG);
    let mut out: Joined = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = reader.scan(&scan.clone().cursor(cursor)).unwrap();
        pages += 1;
        assert!(pages < 1_000, "the scan does not end");
        if let Some(limit) = scan.limit {
            assert!(page.len() <= limit, "page of {} > {limit}", page.len());
        }
        for b in page.batches {
            assert!(!b.points.is_empty());
            match out.last_mut() {
                Some((i, rows_so_far)) if *i == b.index => rows_so_far.extend(rows(&b.points)),
                _ => out.push((b.index, rows(&b.points))),
            }
        }
        match page.next {
            // The token is what a client hands back.
            Some(next) => cursor = Some(Cursor::parse(&next.token()).unwrap()),
            None => return (out, pages),
        }
    }
}

#[test]
fn pages_join_to_the_whole_scan_in_every_order_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let selectors = ["{}", r#"{asset="x"}"#, r#"{__name__=~"a|c"}"#, "nothing"];
    for selector in selectors {
        for order in [Order::Ascending, Order::Descending] {
            for range in [0..100, 5..32, 12..13, 50..60, 7..7] {
                for series_limit in [None, Some(1), Some(3), Some(100)] {
                    for limit in [None, Some(1), Some(2), Some(5), Some(64)] {
                        let mut scan = Scan::new(
                            Series::Selector(crate::selector::parse(selector).unwrap()),
                            range.clone(),
                        )
                        .order(order);
                        scan.limit = limit;
                        scan.series_limit = series_limit;
                        let context = format!(
                            "{selector} {order:?} {range:?} series {series_limit:?} page {limit:?}"
                        );
                        let (got, pages) = all_pages(&db, &scan);
                        let want = expected(&db, &scan);
                        assert_eq!(got, want, "{context}");
                        // Pages are full but for the last, which may be empty when the
                        // series after the one before it hold nothing.
                        if let Some(limit) = limit {
                            let total: usize = want.iter().map(|(_, r)| r.len()).sum();
                            assert!(
                                pages <= total.div_ceil(limit) + 1,
                                "{context}: {pages} pages"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_page_stops_at_its_limit_and_the_next_starts_right_after() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let (a, b) = (key("a", &[]), key("b", &[]));
    write(&db, &a, DataType::Double, doubles([10, 20, 30]));
    write(&db, &b, DataType::Double, doubles([15, 25]));
    let reader = Reader::new(&db, ORG);
    let list = Series::List(vec![
        SeriesRef {
            key: a.clone(),
            data_type: DataType::Double,
        },
        SeriesRef {
            key: key("unknown", &[]),
            data_type: DataType::Double,
        },
        SeriesRef {
            key: b.clone(),
            data_type: DataType::Double,
        },
    ]);
    let scan = Scan::new(list, 0..100).limit(2);
    // (page's rows per series position, next token)
    let cases: &[PageCase<'_>] = &[
        (&[(0, &[10, 20])], Some("q1.0.20.2")),
        (&[(0, &[30]), (2, &[15])], Some("q1.2.15.1")),
        (&[(2, &[25])], None),
    ];
    let mut cursor = None;
    for (i, &(batches, next)) in cases.iter().enumerate() {
        let page = reader.scan(&scan.clone().cursor(cursor)).unwrap();
        let got: Vec<(usize, Vec<i64>)> = page
            .batches
            .iter()
            .map(|b| (b.index, b.points.timestamps.values().to_vec()))
            .collect();
        let want: Vec<(usize, Vec<i64>)> = batches.iter().map(|(i, t)| (*i, t.to_vec())).collect();
        assert_eq!(got, want, "page {i}");
        assert_eq!(page.next.map(|c| c.token()).as_deref(), next, "page {i}");
        cursor = page.next;
    }
    // A series that ends exactly at the page's limit moves the cursor to the next series.
    let page = reader
        .scan(
            &Scan::new(
                Series::List(vec![
                    SeriesRef {
                        key: b.clone(),
                        data_type: DataType::Double,
                    },
                    SeriesRef {
                        key: a.clone(),
                        data_type: DataType::Double,
                    },
                ]),
                0..100,
            )
            .limit(2),
        )
        .unwrap();
    assert_eq!(page.next, Some(Cursor::series_start(1)));
    // Descending, resuming after a point reads the older ones.
    let page = reader
        .scan(
            &Scan::new(Series::Selector(Selector::name("a")), 0..100)
                .order(Order::Descending)
                .cursor(Some(Cursor::after(0, 30))),
        )
        .unwrap();
    assert_eq!(
        page.batches[0].points.timestamps.values().to_vec(),
        [20, 10]
    );
    assert_eq!(page.batches[0].data_type, DataType::Double);
    assert_eq!(page.batches[0].key, a);
}

#[test]
fn cursor_tokens_round_trip_and_foreign_ones_are_refused() {
    for cursor in [
        Cursor::default(),
        Cursor::series_start(3),
        Cursor::after(2, -5),
        Cursor::after(0, i64::MAX),
        Cursor {
            series: 1,
            after: Some(i64::MIN),
            delivered: 7,
        },
    ] {
        assert_eq!(Cursor::parse(&cursor.token()).unwrap(), cursor);
    }
    let cases: &[(&str, &str)] = &[
        ("", "does not start with \"q1.\""),
        ("sxd1.0.0.0", "does not start with \"q1.\""),
        ("q1.0.5", "four dot-separated fields"),
        ("q1.0.5.1.2", "four dot-separated fields"),
        ("q1.x.5.1", "series position is not a number"),
        ("q1.-1.5.1", "series position is not a number"),
        ("q1.0.five.1", "timestamp is not a number"),
        ("q1.0.-.z", "point count is not a number"),
    ];
    for &(token, reason) in cases {
        let err = Cursor::parse(token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{token}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{token:?}")) && msg.contains(reason),
            "{token}: {msg}"
        );
    }
}

#[test]
fn a_page_of_no_points_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let err = Reader::new(&db, ORG)
        .scan(&Scan::new(Series::Selector(Selector::all()), 0..1).limit(0))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("limit of 0"), "{err}");
}

/// Pages through one series of `points` points, half in parts and half in the head, `page`
/// points at a time; returns the points the store returned in all and the pages read.
fn paged_cost(points: i64, page: usize) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::new(open(dir.path()));
    let k = key("v", &[("asset", "a")]);
    write(&store, &k, DataType::Double, doubles(0..points / 2));
    store.flush().unwrap();
    write(&store, &k, DataType::Double, doubles(points / 2..points));
    let reader = Reader::new(&store, ORG);
    let scan = Scan::new(Series::Selector(Selector::name("v")), 0..i64::MAX).limit(page);
    let mut cursor = None;
    let (mut pages, mut seen) = (0, 0);
    loop {
        let p = reader.scan(&scan.clone().cursor(cursor)).unwrap();
        pages += 1;
        seen += p.len();
        cursor = p.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen as i64, points);
    (store.points(), pages)
}

#[test]
fn a_paged_scan_reads_each_point_about_once() {
    // Re-reading the rest of the window for every page would return about
    // points × pages / 2 points: 400,000 for the first row.
    // (points, page size)
    let cases: &[(i64, usize)] = &[(8_000, 40), (8_000, 400), (16_000, 40), (32_000, 40)];
    let mut per_point = Vec::new();
    for &(points, page) in cases {
        let (read, pages) = paged_cost(points, page);
        // Each page reads its points and one more, which tells whether the series goes on.
        assert!(
            read <= points as usize + pages,
            "{points} points in pages of {page}: the store returned {read} over {pages} pages"
        );
        per_point.push(read as f64 / points as f64);
    }
    // Twice and four times the points with the same page size cost the same per point.
    assert!((per_point[2] - per_point[0]).abs() < 0.05, "{per_point:?}");
    assert!((per_point[3] - per_point[0]).abs() < 0.05, "{per_point:?}");
}
