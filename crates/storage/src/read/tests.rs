use std::collections::BTreeMap;
use std::time::Duration;

use arrow_array::{Array, Float64Array, UInt64Array};
use proptest::prelude::*;
use sextant_model::{DataType, ErrorKind, OrgId, Point, SeriesKey, Value, WriteBatch};

use super::aggregate::{State, as_f64};
use super::*;
use crate::head::HeadConfig;
use crate::{Db, DbConfig, PartsConfig};

fn key(name: &str) -> SeriesKey {
    SeriesKey::new(name, [("asset", "NostromoLV426")]).unwrap()
}

/// Small partitions and blocks, so that a few points span several parts and blocks.
fn config() -> DbConfig {
    DbConfig {
        head: HeadConfig {
            out_of_order_window: Duration::from_secs(3600),
            ..HeadConfig::default()
        },
        parts: PartsConfig {
            partition: Duration::from_nanos(100),
            block_points: 4,
            summary_min_points: 0,
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    }
}

fn write(db: &Db, name: &str, data_type: DataType, points: Vec<Point>) {
    let mut b = WriteBatch::new(OrgId(1));
    b.push(key(name), data_type, points);
    db.write(b.validate().unwrap()).unwrap();
}

fn doubles(points: &[(i64, f64)]) -> Vec<Point> {
    points
        .iter()
        .map(|&(t, v)| Point::new(t, Value::Double(v)))
        .collect()
}

/// `read`'s points as Arrow arrays, in `order`, at most `limit`.
fn expected(
    db: &Db,
    name: &str,
    range: Range<i64>,
    limit: Option<usize>,
    order: Order,
) -> ArrowPoints {
    let mut points = db.read(OrgId(1), &key(name), range).unwrap();
    if order == Order::Descending {
        points.reverse();
    }
    if let Some(limit) = limit {
        points.truncate(limit);
    }
    let data_type = points.first().map(|p| p.value.data_type());
    arrow::to_arrow(data_type.or(Some(DataType::Double)), &points)
}

/// The naive answer: `read`'s points folded one by one, in time order.
fn naive(db: &Db, name: &str, range: Range<i64>, width: i64) -> BTreeMap<i64, State> {
    let mut out: BTreeMap<i64, State> = BTreeMap::new();
    for p in db.read(OrgId(1), &key(name), range).unwrap() {
        let v = as_f64(&p.value).unwrap();
        let start = p.timestamp - p.timestamp.rem_euclid(width);
        out.entry(start).or_default().add(p.timestamp, v);
    }
    out
}

const ALL: [Agg; 7] = [
    Agg::Count,
    Agg::Sum,
    Agg::Min,
    Agg::Max,
    Agg::Avg,
    Agg::First,
    Agg::Last,
];

fn f64s(r: &AggregateResult, agg: Agg) -> Vec<f64> {
    r.column(agg)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .values()
        .to_vec()
}

/// Checks `got` against the naive fold: counts, extremes, first and last exactly; sums and
/// means within a relative 1e-9 of the sum of magnitudes, since summaries add per block.
fn check(got: &AggregateResult, want: &BTreeMap<i64, State>, context: &str) {
    assert_eq!(
        got.buckets.values().to_vec(),
        want.keys().copied().collect::<Vec<_>>(),
        "{context}"
    );
    let counts = got
        .column(Agg::Count)
        .unwrap()
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap()
        .values()
        .to_vec();
    let states: Vec<&State> = want.values().collect();
    assert_eq!(
        counts,
        states.iter().map(|s| s.count).collect::<Vec<_>>(),
        "{context}"
    );
    for (agg, pick) in [
        (Agg::Min, (|s: &State| s.min) as fn(&State) -> f64),
        (Agg::Max, |s| s.max),
        (Agg::First, |s| s.first.1),
        (Agg::Last, |s| s.last.1),
    ] {
        let want: Vec<f64> = states.iter().map(|s| pick(s)).collect();
        assert_eq!(f64s(got, agg), want, "{agg:?} {context}");
    }
    let sums = f64s(got, Agg::Sum);
    let avgs = f64s(got, Agg::Avg);
    for (i, s) in states.iter().enumerate() {
        let tolerance = 1e-9 * (s.sum.abs() + s.count as f64 * 1e3) + 1e-9;
        assert!((sums[i] - s.sum).abs() <= tolerance, "sum {context}");
        let avg = s.sum / s.count as f64;
        assert!((avgs[i] - avg).abs() <= tolerance, "avg {context}");
    }
}

#[test]
fn every_data_type_has_its_arrow_type() {
    use arrow_schema::{DataType as A, TimeUnit};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config()).unwrap();
    let cases = [
        (DataType::Double, Value::Double(1.5), A::Float64),
        (DataType::Float, Value::Float(1.5), A::Float32),
        (DataType::Int32, Value::Int32(-3), A::Int32),
        (DataType::Int64, Value::Int64(-3), A::Int64),
        (DataType::Uint32, Value::Uint32(3), A::UInt32),
        (DataType::Uint64, Value::Uint64(3), A::UInt64),
        (DataType::Enum, Value::Enum(7), A::UInt32),
        (DataType::BitField, Value::BitField(0b101), A::UInt64),
        (DataType::Bool, Value::Bool(true), A::Boolean),
        (DataType::String, Value::String("ripley".into()), A::Utf8),
        (DataType::Bytes, Value::Bytes(vec![0, 255]), A::Binary),
    ];
    assert_eq!(cases.len(), DataType::ALL.len());
    for (i, (data_type, value, arrow)) in cases.iter().enumerate() {
        let name = format!("t{i}");
        write(&db, &name, *data_type, vec![Point::new(10, value.clone())]);
        // One point in a part, one in the head.
        if i % 2 == 0 {
            db.flush().unwrap();
        }
        let got = db
            .read_arrow(OrgId(1), &key(&name), 0..100, None, Order::Ascending)
            .unwrap();
        assert_eq!(arrow_type(*data_type), *arrow);
        assert_eq!(got.values.data_type(), arrow, "{data_type}");
        assert_eq!(
            got.timestamps.data_type(),
            &A::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
        assert_eq!((got.len(), got.values.null_count()), (1, 0));
        assert_eq!(got, expected(&db, &name, 0..100, None, Order::Ascending));
    }
}

#[test]
fn limits_and_orders_take_the_first_points_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config()).unwrap();
    let points: Vec<(i64, f64)> = (0..50).map(|t| (t * 7, t as f64)).collect();
    write(&db, "s", DataType::Double, doubles(&points));
    db.flush().unwrap();
    // A newer part and the head overwrite some points.
    write(
        &db,
        "s",
        DataType::Double,
        doubles(&[(14, -1.0), (300, -2.0)]),
    );
    db.flush().unwrap();
    write(
        &db,
        "s",
        DataType::Double,
        doubles(&[(7, -3.0), (343, -4.0)]),
    );
    for order in [Order::Ascending, Order::Descending] {
        for limit in [
            None,
            Some(0),
            Some(1),
            Some(3),
            Some(10),
            Some(49),
            Some(50),
        ] {
            for range in [0..1000, 10..300, 300..301, 5..5] {
                let got = db
                    .read_arrow(OrgId(1), &key("s"), range.clone(), limit, order)
                    .unwrap();
                let want = expected(&db, "s", range.clone(), limit, order);
                assert_eq!(got, want, "{order:?} {limit:?} {range:?}");
            }
        }
    }
    let first = db
        .read_arrow(OrgId(1), &key("s"), 0..1000, Some(2), Order::Ascending)
        .unwrap();
    assert_eq!(first.timestamps.values().to_vec(), [0, 7]);
    let values = first
        .values
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(values.values().to_vec(), [0.0, -3.0]);
    let last = db
        .read_arrow(OrgId(1), &key("s"), 0..1000, Some(2), Order::Descending)
        .unwrap();
    assert_eq!(last.timestamps.values().to_vec(), [343, 336]);
}

#[test]
fn aggregates_use_summaries_and_reject_bad_queries() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config()).unwrap();
    let points: Vec<Point> = (0..40)
        .map(|t| Point::new(t, Value::Int32(t as i32)))
        .collect();
    write(&db, "i", DataType::Int32, points);
    db.flush().unwrap();
    let got = db.aggregate(OrgId(1), &key("i"), 0..40, 8, &ALL).unwrap();
    check(&got, &naive(&db, "i", 0..40, 8), "int32");
    assert_eq!(got.buckets.len(), 5);
    assert_eq!(f64s(&got, Agg::Sum)[0], 28.0);
    assert_eq!(f64s(&got, Agg::Last)[4], 39.0);

    let err = db
        .aggregate(OrgId(1), &key("i"), 0..40, 0, &ALL)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("bucket width 0"), "{err}");
    write(
        &db,
        "b",
        DataType::Bool,
        vec![Point::new(1, Value::Bool(true))],
    );
    let err = db
        .aggregate(OrgId(1), &key("b"), 0..40, 8, &ALL)
        .unwrap_err();
    assert!(err.to_string().contains("bool"), "{err}");
    let err = db
        .aggregate(OrgId(1), &key("nope"), 0..40, 8, &ALL)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let empty = db
        .aggregate(OrgId(1), &key("i"), 100..200, 8, &ALL)
        .unwrap();
    assert!(empty.buckets.is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<(i64, f64)>),
    Flush,
    Merge,
}

fn points() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((0i64..400, -1000.0f64..1000.0), 1..40)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => points().prop_map(Op::Write),
        2 => Just(Op::Flush),
        1 => Just(Op::Merge),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn aggregates_and_arrow_reads_equal_folding_read(
        first in points(),
        ops in prop::collection::vec(op(), 1..12),
        queries in prop::collection::vec(
            (-10i64..420, 0i64..420, 1i64..150, prop::option::of(0usize..60), any::<bool>()),
            1..8,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), config()).unwrap();
        // The series exists from the first write on.
        write(&db, "s", DataType::Double, doubles(&first));
        for op in &ops {
            match op {
                Op::Write(points) => write(&db, "s", DataType::Double, doubles(points)),
                Op::Flush => { db.flush().unwrap(); }
                Op::Merge => { db.merge(2).unwrap(); }
            }
        }
        for (start, len, width, limit, descending) in queries {
            let range = start..start + len;
            let context = format!("{range:?} width {width}");
            let got = db.aggregate(OrgId(1), &key("s"), range.clone(), width, &ALL).unwrap();
            check(&got, &naive(&db, "s", range.clone(), width), &context);
            let order = if descending { Order::Descending } else { Order::Ascending };
            let got = db.read_arrow(OrgId(1), &key("s"), range.clone(), limit, order).unwrap();
            let want = expected(&db, "s", range.clone(), limit, order);
            prop_assert_eq!(&got, &want);
            let timestamps = db.read_timestamps(OrgId(1), &key("s"), range, limit, order).unwrap();
            prop_assert_eq!(timestamps, want.timestamps.values().to_vec());
        }
    }
}

/// Damages the block of series `name` that starts at `min_ts`, so that decoding it fails.
fn damage_block(db: &Db, name: &str, min_ts: i64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let parts = db.parts();
    let part = &parts[0];
    let block = part
        .get(OrgId(1), &key(name))
        .unwrap()
        .blocks
        .iter()
        .find(|b| b.summary.min_ts == min_ts)
        .unwrap()
        .clone();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(part.path())
        .unwrap();
    let at = block.offset + 6;
    let mut byte = [0];
    file.seek(SeekFrom::Start(at)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&[byte[0] ^ 0xff]).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn whole_blocks_are_not_decoded_and_limits_stop_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), config()).unwrap();
    let points: Vec<(i64, f64)> = (0..40).map(|t| (t, t as f64)).collect();
    write(&db, "s", DataType::Double, doubles(&points));
    db.flush().unwrap();
    assert_eq!(db.parts().len(), 1);
    // Blocks of four points: [0, 3], [4, 7], [8, 11], ...; the third one is damaged.
    damage_block(&db, "s", 8);
    let err = db.read(OrgId(1), &key("s"), 0..40).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);

    // Buckets of 4 cover every block whole: its summary answers, it is not read.
    let got = db.aggregate(OrgId(1), &key("s"), 0..40, 4, &ALL).unwrap();
    assert_eq!(got.buckets.len(), 10);
    assert_eq!(f64s(&got, Agg::Sum)[2], 8.0 + 9.0 + 10.0 + 11.0);
    // Buckets of 3 cut it: it must be decoded.
    let err = db
        .aggregate(OrgId(1), &key("s"), 0..40, 3, &ALL)
        .unwrap_err();
    assert!(err.to_string().contains("CRC"), "{err}");
    // A head point in its span makes it untrusted too.
    write(&db, "s", DataType::Double, doubles(&[(9, 0.5)]));
    assert!(db.aggregate(OrgId(1), &key("s"), 0..40, 4, &ALL).is_err());

    // Eight points come from the first two blocks; the damaged third is never read.
    let first = db
        .read_arrow(OrgId(1), &key("s"), 0..40, Some(8), Order::Ascending)
        .unwrap();
    assert_eq!(
        first.timestamps.values().to_vec(),
        (0..8).collect::<Vec<_>>()
    );
    let last = db
        .read_arrow(OrgId(1), &key("s"), 0..40, Some(20), Order::Descending)
        .unwrap();
    assert_eq!(last.timestamps.values()[19], 20);
    assert!(
        db.read_arrow(OrgId(1), &key("s"), 0..40, Some(9), Order::Ascending)
            .is_err()
    );
    // Timestamps alone: the same blocks are read, and the damaged one is found by its CRC
    // though its values are not decoded.
    let first = db
        .read_timestamps(OrgId(1), &key("s"), 0..40, Some(8), Order::Ascending)
        .unwrap();
    assert_eq!(first, (0..8).collect::<Vec<_>>());
    let err = db
        .read_timestamps(OrgId(1), &key("s"), 0..40, Some(9), Order::Ascending)
        .unwrap_err();
    assert!(err.to_string().contains("CRC"), "{err}");
}

#[test]
fn blocks_without_a_summary_are_decoded_to_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.parts.summary_min_points = 5;
    let db = Db::open(dir.path(), config).unwrap();
    let points: Vec<(i64, f64)> = (0..40).map(|t| (t, t as f64)).collect();
    write(&db, "s", DataType::Double, doubles(&points));
    db.flush().unwrap();
    let parts = db.parts();
    let blocks = parts[0].get(OrgId(1), &key("s")).unwrap().blocks;
    assert!(blocks.iter().all(|b| b.summary.values.is_none()));
    let got = db.aggregate(OrgId(1), &key("s"), 0..40, 4, &ALL).unwrap();
    assert_eq!(f64s(&got, Agg::Sum)[2], 8.0 + 9.0 + 10.0 + 11.0);
    assert_eq!(f64s(&got, Agg::Max)[9], 39.0);
    // The buckets cover the third block whole, yet it has no summary: it is decoded.
    damage_block(&db, "s", 8);
    let err = db
        .aggregate(OrgId(1), &key("s"), 0..40, 4, &ALL)
        .unwrap_err();
    assert!(err.to_string().contains("CRC"), "{err}");
}

#[test]
fn paging_through_a_series_scans_each_point_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        DbConfig {
            parts: PartsConfig {
                block_points: 256,
                flush_head_bytes: usize::MAX,
                flush_interval: None,
                flush_idle: None,
                ..PartsConfig::default()
            },
            ..DbConfig::default()
        },
    )
    .unwrap();
    // Half in a part, half in the head.
    let n = 20_000i64;
    let half: Vec<(i64, f64)> = (0..n / 2).map(|t| (t, t as f64)).collect();
    write(&db, "s", DataType::Double, doubles(&half));
    db.flush().unwrap();
    let rest: Vec<(i64, f64)> = (n / 2..n).map(|t| (t, t as f64)).collect();
    write(&db, "s", DataType::Double, doubles(&rest));
    // (order, page size)
    for (order, page) in [
        (Order::Ascending, 100),
        (Order::Descending, 100),
        (Order::Ascending, 1_000),
    ] {
        SCANNED.with(|c| c.set(0));
        let (mut seen, mut pages) = (0, 0);
        let mut range = 0..n;
        loop {
            let got = db
                .read_arrow(OrgId(1), &key("s"), range.clone(), Some(page + 1), order)
                .unwrap();
            pages += 1;
            let taken = got.len().min(page);
            seen += taken;
            if got.len() <= page {
                break;
            }
            // The next page starts right after the last point taken.
            let last = got.timestamps.value(taken - 1);
            range = match order {
                Order::Ascending => last + 1..range.end,
                Order::Descending => range.start..last,
            };
        }
        assert_eq!(seen, n as usize);
        let scanned = SCANNED.with(|c| c.get());
        // A page takes at most its points and one more out of the head and decodes at most
        // those and the blocks they end in; re-reading the rest of the window would scan
        // more than n × pages / 2 points (1,000,000 for pages of 100).
        assert!(
            scanned <= 2 * n as usize + pages * (2 + 2 * 256),
            "{order:?} pages of {page}: {scanned} points scanned for {n} over {pages} pages"
        );
    }
}
