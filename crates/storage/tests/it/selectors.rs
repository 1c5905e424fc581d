//! Series selection and listings through the store: series whose points are in the head, in
//! parts only (after a flush and a reopen) or both are selected and listed alike, per
//! organization.

use std::time::Duration;

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::head::{HeadConfig, SeriesMatcher};
use sextant_storage::{Db, DbConfig, Match, PartsConfig, SeriesSelector, Store};

fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(name, labels.iter().copied()).unwrap()
}

fn config() -> DbConfig {
    DbConfig {
        head: HeadConfig {
            out_of_order_window: Duration::from_secs(1 << 40),
            ..HeadConfig::default()
        },
        parts: PartsConfig {
            flush_head_bytes: usize::MAX,
            flush_interval: None,
            flush_idle: None,
            ..PartsConfig::default()
        },
        ..DbConfig::default()
    }
}

fn write(db: &Db, org: u64, keys: &[SeriesKey]) {
    let mut b = WriteBatch::new(OrgId(org));
    for k in keys {
        b.push(
            k.clone(),
            DataType::Double,
            vec![Point::new(10, Value::Double(1.0))],
        );
    }
    db.write(b.validate().unwrap()).unwrap();
}

fn select(store: &dyn Store, org: u64, text: &str) -> Vec<String> {
    let selector = SeriesSelector::parse(text).unwrap();
    store
        .select(OrgId(org), &selector)
        .into_iter()
        .map(|s| s.key.to_string())
        .collect()
}

fn check(store: &dyn Store) {
    let all = SeriesSelector::all();
    assert_eq!(
        select(store, 1, "{}"),
        [
            r#"cpu.system{host="h1",region="eu"}"#,
            r#"cpu.user{host="h1",region="eu"}"#,
            r#"cpu.user{host="h2"}"#,
            r#"cpu.user{host="h3",region="us"}"#,
            r#"mem.used{host="h1",region="eu"}"#,
        ]
    );
    assert_eq!(
        select(store, 1, r#"cpu.user{host=~"h[0-9]+",region!="eu"}"#),
        [
            r#"cpu.user{host="h2"}"#,
            r#"cpu.user{host="h3",region="us"}"#
        ]
    );
    assert_eq!(
        select(store, 1, r#"{__name__^="cpu.",region=""}"#),
        [r#"cpu.user{host="h2"}"#]
    );
    assert_eq!(
        select(store, 1, r#"{__name__=~"cpu\..*|mem\.used",host!~"h[12]"}"#),
        [r#"cpu.user{host="h3",region="us"}"#]
    );
    assert_eq!(
        select(store, 2, "{}"),
        [r#"cpu.user{host="x9"}"#, r#"net.rx{iface="eth0"}"#]
    );
    assert!(select(store, 3, "{}").is_empty());
    // The equality-only matcher gives what the equivalent selector gives.
    let m = SeriesMatcher {
        name: Some("cpu.user".to_owned()),
        labels: vec![("host".to_owned(), "h1".to_owned())],
    };
    assert_eq!(
        store.series(OrgId(1), &m),
        store.select(OrgId(1), &SeriesSelector::from(&m))
    );
    assert_eq!(store.series(OrgId(1), &m).len(), 1);

    assert_eq!(store.label_names(OrgId(1), &all), ["host", "region"]);
    assert_eq!(store.label_names(OrgId(2), &all), ["host", "iface"]);
    assert_eq!(
        store.label_names(OrgId(1), &SeriesSelector::parse(r#"{region=""}"#).unwrap()),
        ["host"]
    );
    assert_eq!(
        store.label_values(OrgId(1), "host", &all),
        ["h1", "h2", "h3"]
    );
    assert_eq!(
        store.label_values(
            OrgId(1),
            "host",
            &SeriesSelector::name("cpu.user").label("region", Match::not_equal("us"))
        ),
        ["h1", "h2"]
    );
    assert_eq!(store.label_values(OrgId(1), "region", &all), ["eu", "us"]);
    assert_eq!(store.label_values(OrgId(2), "host", &all), ["x9"]);
    assert!(store.label_values(OrgId(2), "region", &all).is_empty());
    assert_eq!(
        store.names(OrgId(1), None),
        ["cpu.system", "cpu.user", "mem.used"]
    );
    assert_eq!(
        store.names(OrgId(1), Some("cpu.")),
        ["cpu.system", "cpu.user"]
    );
    assert_eq!(store.names(OrgId(2), None), ["cpu.user", "net.rx"]);
    assert!(store.names(OrgId(3), None).is_empty());
}

#[test]
fn selection_and_listings_cover_head_and_parts_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), config()).unwrap();
        write(
            &db,
            1,
            &[
                key("cpu.user", &[("host", "h1"), ("region", "eu")]),
                key("cpu.system", &[("host", "h1"), ("region", "eu")]),
                key("mem.used", &[("host", "h1"), ("region", "eu")]),
            ],
        );
        write(&db, 2, &[key("cpu.user", &[("host", "x9")])]);
        db.flush().unwrap();
        // After the flush: these are only in the head (and the WAL).
        write(
            &db,
            1,
            &[
                key("cpu.user", &[("host", "h2")]),
                key("cpu.user", &[("host", "h3"), ("region", "us")]),
            ],
        );
        write(&db, 2, &[key("net.rx", &[("iface", "eth0")])]);
        check(&db);
        // Dropped without closing: the newer series come back from the WAL.
    }
    let db = Db::open(dir.path(), config()).unwrap();
    check(&db);
    // The flushed series are known from the parts only; the others from the replayed WAL.
    let flushed = db.select(OrgId(1), &SeriesSelector::parse(r#"{host="h1"}"#).unwrap());
    assert_eq!(flushed.len(), 3);
    assert!(flushed.iter().all(|s| s.points == 0), "{flushed:?}");
    let replayed = db.select(OrgId(1), &SeriesSelector::parse(r#"{host!="h1"}"#).unwrap());
    assert_eq!(replayed.len(), 2);
    assert!(replayed.iter().all(|s| s.points == 1), "{replayed:?}");
    db.close().unwrap();

    // After a clean close everything is in parts, and nothing changes.
    let db = Db::open(dir.path(), config()).unwrap();
    check(&db);
}

#[test]
fn a_bad_selector_is_invalid_input_quoting_it() {
    let err =
        sextant_storage::Error::from(SeriesSelector::parse(r#"cpu{host=~"h[0-9"}"#).unwrap_err());
    assert_eq!(err.kind(), sextant_model::ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains(r#""cpu{host=~\"h[0-9\"}""#)
            && msg.contains(r#"invalid regular expression "h[0-9""#),
        "{msg}"
    );
}
