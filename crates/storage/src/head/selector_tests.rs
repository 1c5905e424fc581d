//! Selection and listings through the head's index: narrowing by posting lists selects
//! exactly what checking every series would, and organizations stay apart.

use sextant_model::{Value, WriteBatch};

use super::*;

fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(name, labels.iter().copied()).unwrap()
}

fn write(head: &Head, org: u64, keys: &[SeriesKey]) {
    let mut b = WriteBatch::new(OrgId(org));
    for k in keys {
        b.push(
            k.clone(),
            DataType::Double,
            vec![Point::new(1, Value::Double(1.0))],
        );
    }
    let batch = b.validate().unwrap();
    let prepared = head.prepare(&batch, WritePolicy::AllOrNothing);
    assert!(prepared.refused.is_empty(), "{:?}", prepared.refused);
    head.apply(&batch, &prepared);
}

fn fleet() -> Vec<SeriesKey> {
    let mut keys = Vec::new();
    for (i, name) in ["cpu.user", "cpu.system", "mem.used", "disk.io"]
        .iter()
        .enumerate()
    {
        for h in 0..12 {
            let host = format!("h{h}");
            let region = ["us", "eu", "ap"][h % 3];
            let mut labels = vec![("host", host.as_str()), ("region", region)];
            if (h + i) % 4 == 0 {
                labels.push(("rack", "r1"));
            } else if (h + i) % 4 == 1 {
                labels.push(("rack", "r10"));
            }
            keys.push(key(name, &labels));
        }
    }
    keys.push(key("cpu.user", &[]));
    keys
}

fn keys_of(infos: Vec<SeriesInfo>) -> Vec<SeriesKey> {
    infos.into_iter().map(|s| s.key).collect()
}

#[test]
fn narrowed_selection_equals_checking_every_series() {
    let head = Head::new(HeadConfig::default());
    let keys = fleet();
    write(&head, 1, &keys);
    let selectors = [
        "{}",
        "cpu.user",
        "cpu.user{}",
        "nope",
        r#"{__name__^="cpu."}"#,
        r#"{__name__^="c"}"#,
        r#"{__name__^=""}"#,
        r#"{__name__=~"(cpu|mem)\..*"}"#,
        r#"{__name__!="cpu.user"}"#,
        r#"{__name__!~"cpu.*"}"#,
        r#"cpu.user{host="h3"}"#,
        r#"cpu.user{host=~"h1[0-9]"}"#,
        r#"{host=~"h1.*",region!="eu"}"#,
        r#"{region="eu",rack^="r1"}"#,
        r#"{rack="r1"}"#,
        r#"{rack=""}"#,
        r#"{rack!=""}"#,
        r#"{rack=~"r1|"}"#,
        r#"{rack!~"r1"}"#,
        r#"{rack^="r"}"#,
        r#"{rack^=""}"#,
        r#"{missing="x"}"#,
        r#"{missing!="x"}"#,
        r#"{missing=~".+"}"#,
        r#"{host="h1",host!="h1"}"#,
        r#"cpu.system{host="h4",region="us",rack="r1"}"#,
    ];
    let mut selectors: Vec<SeriesSelector> = selectors
        .iter()
        .map(|t| SeriesSelector::parse(t).unwrap())
        .collect();
    // A condition on the name given as a label is a condition on the name.
    selectors.push(SeriesSelector::all().label(NAME_LABEL, Match::prefix("mem")));
    selectors
        .push(SeriesSelector::name("cpu.user").label(NAME_LABEL, Match::regex("cpu.*").unwrap()));
    for s in selectors {
        let text = s.to_string();
        let mut want: Vec<SeriesKey> = keys.iter().filter(|k| s.matches(k)).cloned().collect();
        want.sort();
        assert_eq!(keys_of(head.select(OrgId(1), &s)), want, "{text}");
    }
    // Spot checks that the reference itself is right.
    let count = |t: &str| {
        head.select(OrgId(1), &SeriesSelector::parse(t).unwrap())
            .len()
    };
    assert_eq!(count("{}"), 49);
    assert_eq!(count("cpu.user"), 13);
    assert_eq!(count(r#"{rack=""}"#), 25);
    assert_eq!(count(r#"{rack^="r1"}"#), 24);
    assert_eq!(count(r#"{missing="x"}"#), 0);
    assert_eq!(count(r#"{missing!="x"}"#), 49);
    let mem = SeriesSelector::all().label(NAME_LABEL, Match::prefix("mem"));
    assert_eq!(head.select(OrgId(1), &mem).len(), 12);
}

#[test]
fn listings_are_sorted_deduplicated_and_follow_the_selector() {
    let head = Head::new(HeadConfig::default());
    write(&head, 1, &fleet());
    let all = SeriesSelector::all();
    assert_eq!(head.label_names(OrgId(1), &all), ["host", "rack", "region"]);
    assert_eq!(
        head.label_names(OrgId(1), &SeriesSelector::name("cpu.user")),
        ["host", "rack", "region"]
    );
    let no_rack = SeriesSelector::parse(r#"mem.used{rack="",host="h1"}"#).unwrap();
    assert_eq!(head.label_names(OrgId(1), &no_rack), ["host", "region"]);
    assert!(
        head.label_names(
            OrgId(1),
            &SeriesSelector::name("cpu.user").label("host", Match::equal(""))
        )
        .is_empty()
    );

    assert_eq!(
        head.label_values(OrgId(1), "region", &all),
        ["ap", "eu", "us"]
    );
    assert_eq!(head.label_values(OrgId(1), "rack", &all), ["r1", "r10"]);
    assert!(head.label_values(OrgId(1), "missing", &all).is_empty());
    let eu = SeriesSelector::parse(r#"{region="eu",host=~"h[0-4]"}"#).unwrap();
    assert_eq!(head.label_values(OrgId(1), "host", &eu), ["h1", "h4"]);
    assert_eq!(
        head.label_values(OrgId(1), NAME_LABEL, &all),
        ["cpu.system", "cpu.user", "disk.io", "mem.used"]
    );
    let r1 = SeriesSelector::parse(r#"{rack="r1",host=~"h[02]"}"#).unwrap();
    assert_eq!(
        head.label_values(OrgId(1), NAME_LABEL, &r1),
        ["cpu.user", "mem.used"]
    );

    assert_eq!(
        head.names(OrgId(1), None),
        ["cpu.system", "cpu.user", "disk.io", "mem.used"]
    );
    assert_eq!(
        head.names(OrgId(1), Some("cpu.")),
        ["cpu.system", "cpu.user"]
    );
    assert_eq!(head.names(OrgId(1), Some("cpu.user")), ["cpu.user"]);
    assert_eq!(head.names(OrgId(1), Some("")).len(), 4);
    assert!(head.names(OrgId(1), Some("cpu.userx")).is_empty());
    assert!(head.names(OrgId(1), Some("zzz")).is_empty());
}

#[test]
fn selection_and_listings_never_cross_organizations() {
    let head = Head::new(HeadConfig::default());
    write(&head, 1, &[key("cpu", &[("host", "a"), ("team", "red")])]);
    write(
        &head,
        2,
        &[key("cpu", &[("host", "b")]), key("mem", &[("zone", "z")])],
    );
    let all = SeriesSelector::all();
    let cpu = SeriesSelector::parse(r#"{__name__=~".*",host!=""}"#).unwrap();
    assert_eq!(
        keys_of(head.select(OrgId(1), &cpu)),
        [key("cpu", &[("host", "a"), ("team", "red")])]
    );
    assert_eq!(
        keys_of(head.select(OrgId(2), &cpu)),
        [key("cpu", &[("host", "b")])]
    );
    assert_eq!(head.label_names(OrgId(1), &all), ["host", "team"]);
    assert_eq!(head.label_names(OrgId(2), &all), ["host", "zone"]);
    assert_eq!(head.label_values(OrgId(1), "host", &cpu), ["a"]);
    assert_eq!(head.label_values(OrgId(2), "host", &all), ["b"]);
    assert_eq!(head.names(OrgId(1), None), ["cpu"]);
    assert_eq!(head.names(OrgId(2), None), ["cpu", "mem"]);
    // An organization with no series sees nothing at all.
    assert!(head.select(OrgId(3), &all).is_empty());
    assert!(head.label_names(OrgId(3), &all).is_empty());
    assert!(head.label_values(OrgId(3), "host", &all).is_empty());
    assert!(head.names(OrgId(3), None).is_empty());
    // The equality-only matcher still works, through the same path.
    assert_eq!(head.series(OrgId(2), &SeriesMatcher::name("mem")).len(), 1);
    assert_eq!(head.series(OrgId(1), &SeriesMatcher::name("mem")).len(), 0);
}

#[test]
fn label_values_found_by_hash_survive_the_table_growing() {
    // An id label (one series a value) beside a group label (many a value): the tables grow
    // and rehash many times, lists of one become lists of many, and every value is still
    // found, listed once and in order.
    let head = Head::new(HeadConfig::default());
    let keys: Vec<SeriesKey> = (0..3000)
        .map(|i| {
            let id = format!("s{i:05}");
            let group = format!("g{}", i % 7);
            key("op", &[("id", id.as_str()), ("group", group.as_str())])
        })
        .collect();
    for chunk in keys.chunks(500) {
        write(&head, 1, chunk);
    }
    let all = SeriesSelector::all();
    let ids = head.label_values(OrgId(1), "id", &all);
    assert_eq!(ids.len(), 3000);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    assert_eq!(
        head.label_values(OrgId(1), "group", &all),
        ["g0", "g1", "g2", "g3", "g4", "g5", "g6"]
    );
    for i in [0, 1, 999, 2999] {
        let s = SeriesSelector::parse(&format!(r#"op{{id="s{i:05}"}}"#)).unwrap();
        assert_eq!(keys_of(head.select(OrgId(1), &s)), [keys[i].clone()]);
    }
    let g3 = head.select(OrgId(1), &SeriesSelector::parse(r#"{group="g3"}"#).unwrap());
    assert_eq!(g3.len(), 3000 / 7 + 1);
    assert!(g3.iter().all(|s| s.key.label("group") == Some("g3")));
    let prefix = SeriesSelector::parse(r#"{id^="s012"}"#).unwrap();
    assert_eq!(head.select(OrgId(1), &prefix).len(), 100);
    let none = SeriesSelector::parse(r#"{id="s03000"}"#).unwrap();
    assert!(head.select(OrgId(1), &none).is_empty());
}
