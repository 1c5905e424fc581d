use std::collections::BTreeMap;

use sextant_model::{ErrorKind, Value, WriteBatch};

use super::*;

const HOUR: i64 = 3_600_000_000_000;

fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(name, labels.iter().copied()).unwrap()
}

fn doubles(org: u64, key: &SeriesKey, ts: &[i64]) -> ValidatedBatch {
    let mut b = WriteBatch::new(OrgId(org));
    let points = ts
        .iter()
        .map(|&t| Point::new(t, Value::Double(t as f64)))
        .collect();
    b.push(key.clone(), DataType::Double, points);
    b.validate().unwrap()
}

/// Writes `batch` whole, as `Db::write` does: the first refusal is the error.
fn write(head: &Head, batch: &ValidatedBatch) -> Result<()> {
    let mut prepared = head.prepare(batch, WritePolicy::AllOrNothing);
    if let Some(first) = std::mem::take(&mut prepared.refused).into_iter().next() {
        return Err(first.error);
    }
    head.apply(batch, &prepared);
    Ok(())
}

fn timestamps(head: &Head, org: u64, key: &SeriesKey) -> Vec<i64> {
    head.read(OrgId(org), key, i64::MIN..i64::MAX)
        .unwrap()
        .iter()
        .map(|p| p.timestamp)
        .collect()
}

#[test]
fn series_get_stable_ids_and_one_type_for_life() {
    let head = Head::new(HeadConfig::default());
    let k = key("mainmotor.velocity", &[("asset", "NostromoLV426")]);
    write(&head, &doubles(1, &k, &[1])).unwrap();
    let id = head.series_id(OrgId(1), &k).unwrap();
    write(&head, &doubles(1, &k, &[2])).unwrap();
    assert_eq!(head.series_id(OrgId(1), &k), Some(id));
    // The same key in another organization is another series.
    write(&head, &doubles(2, &k, &[1])).unwrap();
    assert_ne!(head.series_id(OrgId(2), &k), Some(id));

    let mut b = WriteBatch::new(OrgId(1));
    b.push(
        k.clone(),
        DataType::Int32,
        vec![Point::new(3, Value::Int32(3))],
    );
    let err = write(&head, &b.validate().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains(r#"mainmotor.velocity{asset="NostromoLV426"}"#)
            && msg.contains("double")
            && msg.contains("int32"),
        "{msg}"
    );
    assert_eq!(timestamps(&head, 1, &k), [1, 2]);
}

#[test]
fn out_of_order_points_within_the_window_are_accepted() {
    let head = Head::new(HeadConfig {
        out_of_order_window: Duration::from_secs(3600),
        ..HeadConfig::default()
    });
    let k = key("temp", &[]);
    write(&head, &doubles(1, &k, &[10 * HOUR])).unwrap();
    write(&head, &doubles(1, &k, &[9 * HOUR, 10 * HOUR - 1])).unwrap();
    let err = write(&head, &doubles(1, &k, &[10 * HOUR + 1, 9 * HOUR - 1])).unwrap_err();
    assert!(
        matches!(err, Error::TooOld { timestamp, .. } if timestamp == 9 * HOUR - 1),
        "{err}"
    );
    assert!(err.to_string().contains("out-of-order window"), "{err}");
    // The rejected batch was rejected whole.
    assert_eq!(
        timestamps(&head, 1, &k),
        [9 * HOUR, 10 * HOUR - 1, 10 * HOUR]
    );
    // The window counts the batch's own points, also for a new series.
    let fresh = key("fresh", &[]);
    assert!(write(&head, &doubles(1, &fresh, &[0, 2 * HOUR])).is_err());
    assert_eq!(
        head.series_id(OrgId(1), &fresh),
        None,
        "a rejected batch created a series"
    );
}

#[test]
fn by_default_points_of_any_age_are_accepted() {
    let head = Head::new(HeadConfig::default());
    let k = key("temp", &[]);
    write(&head, &doubles(1, &k, &[10 * HOUR])).unwrap();
    write(&head, &doubles(1, &k, &[i64::MIN, -1000 * HOUR, 20 * HOUR])).unwrap();
    assert_eq!(
        timestamps(&head, 1, &k),
        [i64::MIN, -1000 * HOUR, 10 * HOUR, 20 * HOUR]
    );
}

#[test]
fn duplicates_last_write_wins() {
    let head = Head::new(HeadConfig::default());
    let k = key("temp", &[]);
    let mut b = WriteBatch::new(OrgId(1));
    b.push(
        k.clone(),
        DataType::Double,
        vec![
            Point::new(5, Value::Double(1.0)),
            Point::new(5, Value::Double(2.0)),
        ],
    );
    write(&head, &b.validate().unwrap()).unwrap();
    let read = head.read(OrgId(1), &k, 0..10).unwrap();
    assert_eq!(read, vec![Point::new(5, Value::Double(2.0))]);
    let mut b = WriteBatch::new(OrgId(1));
    b.push(
        k.clone(),
        DataType::Double,
        vec![Point::new(5, Value::Double(3.0))],
    );
    write(&head, &b.validate().unwrap()).unwrap();
    assert_eq!(
        head.read(OrgId(1), &k, 0..10).unwrap(),
        vec![Point::new(5, Value::Double(3.0))]
    );
}

#[test]
fn listing_by_name_and_labels_stays_within_the_organization() {
    let head = Head::new(HeadConfig::default());
    let series = [
        (1, key("velocity", &[("asset", "A"), ("run", "R1")])),
        (1, key("velocity", &[("asset", "B"), ("run", "R1")])),
        (1, key("current", &[("asset", "A"), ("run", "R1")])),
        (2, key("velocity", &[("asset", "A"), ("run", "R1")])),
    ];
    for (org, k) in &series {
        write(&head, &doubles(*org, k, &[1])).unwrap();
    }
    let names = |org: u64, m: SeriesMatcher| -> Vec<String> {
        head.series(OrgId(org), &m)
            .into_iter()
            .map(|s| s.key.to_string())
            .collect()
    };
    let cases = [
        (1, SeriesMatcher::all(), 3),
        (1, SeriesMatcher::name("velocity"), 2),
        (1, SeriesMatcher::name("velocity").label("asset", "A"), 1),
        (1, SeriesMatcher::all().label("asset", "A"), 2),
        (1, SeriesMatcher::all().label("asset", "C"), 0),
        (1, SeriesMatcher::name("nope"), 0),
        (2, SeriesMatcher::all(), 1),
        (3, SeriesMatcher::all(), 0),
    ];
    for (org, m, want) in cases {
        assert_eq!(names(org, m.clone()).len(), want, "org {org}, {m:?}");
    }
    assert_eq!(
        names(1, SeriesMatcher::all().label("asset", "A")),
        [
            r#"current{asset="A",run="R1"}"#,
            r#"velocity{asset="A",run="R1"}"#
        ]
    );
    // The same key in two organizations is two series; a series of one is not found in
    // the other.
    let (one, two) = (OrgId(1), OrgId(2));
    assert_ne!(
        head.series_id(one, &series[0].1),
        head.series_id(two, &series[3].1)
    );
    assert!(head.read(one, &series[2].1, 0..10).is_ok());
    assert_eq!(
        head.read(two, &series[2].1, 0..10).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn the_series_limit_rejects_whole_batches() {
    let head = Head::new(HeadConfig {
        max_series_per_org: 2,
        ..HeadConfig::default()
    });
    write(&head, &doubles(1, &key("a", &[]), &[1])).unwrap();
    let mut b = WriteBatch::new(OrgId(1));
    for name in ["b", "c"] {
        b.push(
            key(name, &[]),
            DataType::Double,
            vec![Point::new(1, Value::Double(1.0))],
        );
    }
    let err = write(&head, &b.validate().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert!(
        err.to_string()
            .contains("the organization's series limit is 2"),
        "{err}"
    );
    assert_eq!(head.series_count(OrgId(1)), 1);
    // Other organizations have their own budget.
    write(&head, &doubles(2, &key("a", &[]), &[1])).unwrap();
    write(&head, &doubles(1, &key("b", &[]), &[1])).unwrap();
}

#[test]
fn memory_estimate_follows_compressed_points() {
    let head = Head::new(HeadConfig::default());
    let k = key("a", &[]);
    write(&head, &doubles(1, &k, &[1])).unwrap();
    let small = head.memory_bytes();
    // Noisy values, as a sensor's: what the sealed chunks hold is what the codec makes of them.
    let mut b = WriteBatch::new(OrgId(1));
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let points: Vec<Point> = (2..10_000)
        .map(|t| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Point::new(t * 1_000_000, Value::Double((x % 10_000) as f64 / 100.0))
        })
        .collect();
    let n = points.len();
    b.push(k.clone(), DataType::Double, points.clone());
    write(&head, &b.validate().unwrap()).unwrap();
    let grown = head.memory_bytes() - small;
    // Sealed, 10,000 values of two decimals take about 14 bits each and timestamps at a fixed
    // interval next to nothing; the open points (up to 2,560 of room) 16 bytes each. Less than
    // half of what 16 bytes a point would take.
    assert!(grown >= n * 14 / 8, "{grown} bytes for {n} points");
    assert!(grown <= n * 16 / 2, "{grown} bytes for {n} points");
    let read = head.read(OrgId(1), &k, 2_000_000..i64::MAX).unwrap();
    assert_eq!(read, points);
}

#[test]
fn a_freeze_takes_what_the_head_held_when_it_began() {
    let head = Head::new(HeadConfig::default());
    let (early, late, untouched) = (key("early", &[]), key("late", &[]), key("untouched", &[]));
    write(&head, &doubles(1, &early, &[1, 2])).unwrap();
    write(&head, &doubles(1, &untouched, &[5])).unwrap();
    let epoch = head.begin_freeze();
    // Writes between the start and the visit: to a series that held points, and a new one.
    write(&head, &doubles(1, &early, &[3])).unwrap();
    write(&head, &doubles(1, &late, &[7])).unwrap();
    let frozen = head.freeze(epoch);
    let taken: BTreeMap<String, Vec<i64>> = frozen
        .series
        .iter()
        .map(|(s, data)| {
            let ts = data.all_points().iter().map(|p| p.timestamp).collect();
            (s.key.to_string(), ts)
        })
        .collect();
    assert_eq!(
        taken,
        BTreeMap::from([
            ("early".to_owned(), vec![1, 2]),
            ("untouched".to_owned(), vec![5]),
        ])
    );
    // Reads see frozen and live points alike, before and after the release.
    assert_eq!(timestamps(&head, 1, &early), [1, 2, 3]);
    head.release(frozen);
    assert_eq!(timestamps(&head, 1, &early), [3]);
    assert_eq!(timestamps(&head, 1, &late), [7]);
    assert_eq!(timestamps(&head, 1, &untouched), Vec::<i64>::new());
    // The next freeze takes what came after.
    let frozen = head.freeze(head.begin_freeze());
    assert_eq!(frozen.series.len(), 2);
    head.release(frozen);
    assert!(head.freeze(head.begin_freeze()).series.is_empty());
}
