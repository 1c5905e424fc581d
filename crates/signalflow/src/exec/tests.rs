//! Golden tests of every function, over a few series held in memory: each expectation is
//! worked out by hand from the points below.

use std::collections::BTreeMap;

use super::series::{Meta, MetricKind, stable_id};
use super::time::Timeline;
use super::{EventKind, Input, Output, Primitive, Request, Source, StoredEvent};
use crate::{Job, parse};

/// One point per second, `t` in whole seconds.
struct Memory {
    series: Vec<(Input, Vec<(i64, f64)>)>,
    events: Vec<StoredEvent>,
}

fn input(metric: &str, kind: MetricKind, dims: &[(&str, &str)], props: &[(&str, &str)]) -> Input {
    let dims: BTreeMap<String, String> = dims
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut meta = Meta {
        metric: metric.to_owned(),
        dims,
        props: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Meta::default()
    };
    meta.id = stable_id(&[metric, &meta.identity()]);
    Input { meta, kind }
}

/// `cpu` (gauge) of hosts a, b, c at seconds 0..10; `hits` (counter), `total` (cumulative
/// counter) of host a; `sparse` of host a at seconds 0, 1 and 5 only.
fn fleet() -> Memory {
    let cpu = |host: &str, region: &str, f: fn(i64) -> f64| {
        (
            input(
                "cpu",
                MetricKind::Gauge,
                &[("host", host), ("region", region)],
                &[],
            ),
            (0..10).map(|t| (t * 1000, f(t))).collect::<Vec<_>>(),
        )
    };
    let mut series = vec![
        cpu("a", "eu", |t| t as f64),
        cpu("b", "eu", |t| 10.0 + 2.0 * t as f64),
        cpu("c", "us", |t| 100.0 - t as f64),
    ];
    series[1].0.meta.props.insert("team".into(), "db".into());
    series[2].0.meta.tags.insert("canary".into());
    series.push((
        input("hits", MetricKind::Counter, &[("host", "a")], &[]),
        (0..10).map(|t| (t * 1000, 3.0)).collect(),
    ));
    series.push((
        input(
            "total",
            MetricKind::CumulativeCounter,
            &[("host", "a")],
            &[],
        ),
        // Increases by 5 a second, restarts at second 6.
        (0..10)
            .map(|t| {
                (
                    t * 1000,
                    if t < 6 {
                        100.0 + 5.0 * t as f64
                    } else {
                        5.0 * (t - 6) as f64
                    },
                )
            })
            .collect(),
    ));
    series.push((
        input("sparse", MetricKind::Gauge, &[("host", "a")], &[]),
        vec![(0, 1.0), (1000, 2.0), (5000, 7.0)],
    ));
    Memory {
        series,
        events: vec![
            StoredEvent {
                event_type: "deploy".into(),
                dims: [("service".to_string(), "shop".to_string())].into(),
                properties: [("version".to_string(), "1".to_string())].into(),
                timestamp: 3500,
            },
            StoredEvent {
                event_type: "deploy".into(),
                dims: [("service".to_string(), "cart".to_string())].into(),
                properties: BTreeMap::new(),
                timestamp: 8000,
            },
        ],
    }
}

impl Source for Memory {
    fn find(&self, metric: &str) -> Result<Vec<Input>, String> {
        Ok(self
            .series
            .iter()
            .filter(|(i, _)| super::series::wildcard(metric, &i.meta.metric))
            .map(|(i, _)| i.clone())
            .collect())
    }

    fn native_resolution(&self, inputs: &[&Input], _: i64, _: i64) -> Option<i64> {
        (!inputs.is_empty()).then_some(1000)
    }

    fn rollup(
        &self,
        inputs: &[&Input],
        p: Primitive,
        tl: Timeline,
    ) -> Result<Vec<Vec<Option<f64>>>, String> {
        Ok(inputs
            .iter()
            .map(|i| {
                let points = &self
                    .series
                    .iter()
                    .find(|(s, _)| s.meta.id == i.meta.id)
                    .unwrap()
                    .1;
                (0..tl.len)
                    .map(|k| {
                        let (from, to) = (tl.at(k), tl.at(k + 1));
                        let vs: Vec<f64> = points
                            .iter()
                            .filter(|(t, _)| *t >= from && *t < to)
                            .map(|p| p.1)
                            .collect();
                        if vs.is_empty() {
                            return None;
                        }
                        Some(match p {
                            Primitive::Avg => vs.iter().sum::<f64>() / vs.len() as f64,
                            Primitive::Sum => vs.iter().sum(),
                            Primitive::Min => vs.iter().copied().fold(f64::INFINITY, f64::min),
                            Primitive::Max => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                            Primitive::Count => vs.len() as f64,
                            Primitive::Last => *vs.last().unwrap(),
                        })
                    })
                    .collect()
            })
            .collect())
    }

    fn points(
        &self,
        inputs: &[&Input],
        start: i64,
        end: i64,
    ) -> Result<Vec<Vec<(i64, f64)>>, String> {
        Ok(inputs
            .iter()
            .map(|i| {
                let points = &self
                    .series
                    .iter()
                    .find(|(s, _)| s.meta.id == i.meta.id)
                    .unwrap()
                    .1;
                points
                    .iter()
                    .copied()
                    .filter(|(t, _)| *t >= start && *t < end)
                    .collect()
            })
            .collect())
    }

    fn events(&self, event_type: &str, start: i64, end: i64) -> Result<Vec<StoredEvent>, String> {
        Ok(self
            .events
            .iter()
            .filter(|e| e.event_type == event_type && e.timestamp >= start && e.timestamp < end)
            .cloned()
            .collect())
    }
}

fn output(program: &str, start: i64, stop: i64, resolution: i64) -> Output {
    let program = parse(program).unwrap_or_else(|e| panic!("{e}"));
    let job = Job::compile(&program).unwrap_or_else(|e| panic!("{e}"));
    let mut request = Request::new(start * 1000, stop * 1000);
    request.resolution = Some(resolution * 1000);
    job.run(&fleet(), &request)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The published series over seconds `[start, stop)` at 1 s, each named by its label and
/// its `host` or `region` (or `-`).
fn run(program: &str, start: i64, stop: i64) -> BTreeMap<String, Vec<Option<f64>>> {
    run_at(program, start, stop, 1)
}

fn run_at(
    program: &str,
    start: i64,
    stop: i64,
    resolution: i64,
) -> BTreeMap<String, Vec<Option<f64>>> {
    let out = output(program, start, stop, resolution);
    let mut series = BTreeMap::new();
    for s in out.series {
        let who = s
            .meta
            .dims
            .get("host")
            .or(s.meta.dims.get("region"))
            .cloned()
            .unwrap_or_else(|| "-".into());
        let name = format!("{}:{who}", s.label);
        assert!(
            series.insert(name.clone(), s.values).is_none(),
            "{name} twice"
        );
    }
    series
}

fn err(program: &str) -> String {
    let parsed = match parse(program) {
        Ok(p) => p,
        Err(e) => return e.to_string(),
    };
    match Job::compile(&parsed) {
        Err(e) => e.to_string(),
        Ok(job) => job
            .run(&fleet(), &Request::new(0, 10_000))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| panic!("`{program}` ran")),
    }
}

fn s(values: &[f64]) -> Vec<Option<f64>> {
    values.iter().map(|v| Some(*v)).collect()
}

fn one(map: &BTreeMap<String, Vec<Option<f64>>>, key: &str) -> Vec<Option<f64>> {
    map.get(key)
        .unwrap_or_else(|| panic!("no {key} in {map:?}"))
        .clone()
}

#[test]
fn data_publishes_each_series_with_its_metadata() {
    let out = output("data('cpu').publish('A')", 0, 3, 1);
    assert_eq!(out.timeline.first, 0);
    assert_eq!(out.timeline.resolution, 1000);
    assert_eq!(out.timeline.len, 3);
    let hosts: Vec<_> = out
        .series
        .iter()
        .map(|s| s.meta.dims["host"].clone())
        .collect();
    assert_eq!(hosts, ["a", "b", "c"]);
    assert_eq!(out.series[0].values, s(&[0.0, 1.0, 2.0]));
    assert_eq!(out.series[0].label, "A");
    assert_eq!(out.series[0].meta.metric, "cpu");
    assert!(!out.series[0].meta.computed);
}

#[test]
fn rollups_follow_the_metric_kind_or_the_one_asked_for() {
    // At 2 s: gauge average, counter sum, cumulative counter increase (a restart counts
    // from zero).
    let r = run_at(
        "data('cpu', filter=filter('host', 'a')).publish('g')",
        0,
        4,
        2,
    );
    assert_eq!(one(&r, "g:a"), s(&[0.5, 2.5]));
    let r = run_at("data('hits').publish('c')", 0, 4, 2);
    assert_eq!(one(&r, "c:a"), s(&[6.0, 6.0]));
    let r = run_at("data('total').publish('cc')", 2, 10, 2);
    // Last values per 2 s: [105, 115, 125, 5, 15] for intervals 0..10; increases from 2 s on.
    assert_eq!(one(&r, "cc:a"), s(&[10.0, 10.0, 5.0, 10.0]));
    let pick = |rollup: &str| {
        one(
            &run_at(
                &format!("data('cpu', filter=filter('host', 'b'), rollup='{rollup}').publish('x')"),
                0,
                4,
                2,
            ),
            "x:b",
        )
    };
    assert_eq!(pick("sum"), s(&[22.0, 30.0]));
    assert_eq!(pick("min"), s(&[10.0, 14.0]));
    assert_eq!(pick("max"), s(&[12.0, 16.0]));
    assert_eq!(pick("count"), s(&[2.0, 2.0]));
    assert_eq!(pick("latest"), s(&[12.0, 16.0]));
    assert_eq!(pick("average"), s(&[11.0, 15.0]));
    // delta: the last value's change from the interval before (none before the first).
    assert_eq!(pick("delta"), vec![None, Some(4.0)]);
    // rate: per second; for a counter, the sum over the interval's seconds.
    assert_eq!(pick("rate"), vec![None, Some(2.0)]);
    let r = run_at("data('hits', rollup='rate').publish('r')", 0, 4, 2);
    assert_eq!(one(&r, "r:a"), s(&[3.0, 3.0]));
}

#[test]
fn extrapolation_fills_after_the_first_value() {
    let r = run("data('sparse').publish('n')", 0, 8);
    let n = vec![
        Some(1.0),
        Some(2.0),
        None,
        None,
        None,
        Some(7.0),
        None,
        None,
    ];
    assert_eq!(one(&r, "n:a"), n);
    let r = run("data('sparse', extrapolation='zero').publish('z')", 0, 8);
    assert_eq!(one(&r, "z:a"), s(&[1.0, 2.0, 0.0, 0.0, 0.0, 7.0, 0.0, 0.0]));
    let r = run(
        "data('sparse', extrapolation='last_value', maxExtrapolations=2).publish('l')",
        0,
        8,
    );
    assert_eq!(
        one(&r, "l:a"),
        vec![
            Some(1.0),
            Some(2.0),
            Some(2.0),
            Some(2.0),
            None,
            Some(7.0),
            Some(7.0),
            Some(7.0)
        ]
    );
}

#[test]
fn filters_match_dimensions_properties_tags_and_wildcards() {
    let hosts = |filter: &str| -> Vec<String> {
        run(&format!("data('cpu', filter={filter}).publish('f')"), 0, 1)
            .keys()
            .map(|k| k.trim_start_matches("f:").to_owned())
            .collect()
    };
    assert_eq!(hosts("filter('host', 'a', 'c')"), ["a", "c"]);
    assert_eq!(hosts("filter('region', 'e*')"), ["a", "b"]);
    assert_eq!(
        hosts("filter('region', 'eu') and not filter('host', 'a')"),
        ["b"]
    );
    assert_eq!(
        hosts("filter('host', 'a') or filter('region', 'us')"),
        ["a", "c"]
    );
    assert_eq!(hosts("filter('team', 'db')"), ["b"]);
    assert_eq!(
        hosts("filter('team', 'db', match_missing=True)"),
        ["a", "b", "c"]
    );
    assert_eq!(hosts("filter('sf_tags', 'canary')"), ["c"]);
    assert_eq!(hosts("filter('host', '?')"), ["a", "b", "c"]);
    assert!(hosts("filter('host', 'z*')").is_empty());
    // Metric wildcards.
    assert_eq!(run("data('sp*').publish('w')", 0, 1).len(), 1);
}

#[test]
fn aggregations_across_series_and_by_keys() {
    // At second 2: a = 2, b = 14, c = 98.
    let at2 =
        |f: &str| one(&run(&format!("data('cpu').{f}.publish('x')"), 2, 3), "x:-")[0].unwrap();
    assert_eq!(at2("mean()"), (2.0 + 14.0 + 98.0) / 3.0);
    assert_eq!(at2("sum()"), 114.0);
    assert_eq!(at2("min()"), 2.0);
    assert_eq!(at2("max()"), 98.0);
    assert_eq!(at2("count()"), 3.0);
    assert_eq!(at2("median()"), 14.0);
    let mean = 38.0;
    let variance =
        ((2.0f64 - mean).powi(2) + (14.0f64 - mean).powi(2) + (98.0f64 - mean).powi(2)) / 3.0;
    assert_eq!(at2("variance()"), variance);
    assert_eq!(at2("stddev()"), variance.sqrt());
    // Rank 0.9 × 2 = 1.8 between 14 and 98.
    assert!((at2("percentile(90)") - (14.0 + 0.8 * 84.0)).abs() < 1e-9);
    let by = run("data('cpu').sum(by=['region']).publish('r')", 2, 3);
    assert_eq!(one(&by, "r:eu"), s(&[16.0]));
    // A group of one series keeps all its dimensions, so it is named by its host here.
    assert_eq!(one(&by, "r:c"), s(&[98.0]));
    // A series without the key is left out of every group.
    let by = run("data('cpu').sum(by=['team']).publish('t')", 2, 3);
    assert_eq!(by.len(), 1);
    let out = output("data('cpu').mean(by=['region']).publish('r')", 0, 1, 1);
    let eu = out
        .series
        .iter()
        .find(|s| s.meta.dims.get("region").is_some_and(|r| r == "eu"))
        .unwrap();
    assert!(
        !eu.meta.dims.contains_key("host"),
        "hosts differ within the group"
    );
    assert_eq!(eu.meta.originating_metric.as_deref(), Some("cpu"));
    assert!(eu.meta.metric.starts_with("_SF_COMP_"));
}

#[test]
fn transformations_over_a_window_read_before_the_start() {
    // a = t: the mean over 3 s at t is t − 1, including seconds before the job's start.
    let r = run(
        "data('cpu', filter=filter('host', 'a')).mean(over='3s').publish('w')",
        5,
        8,
    );
    assert_eq!(one(&r, "w:a"), s(&[4.0, 5.0, 6.0]));
    let r = run(
        "data('cpu', filter=filter('host', 'b')).sum(over='2s').publish('w')",
        1,
        3,
    );
    assert_eq!(one(&r, "w:b"), s(&[10.0 + 12.0, 12.0 + 14.0]));
    let r = run(
        "data('cpu', filter=filter('host', 'c')).max(over='4s').publish('w')",
        4,
        5,
    );
    assert_eq!(one(&r, "w:c"), s(&[99.0]));
    assert!(err("data('cpu').mean(over='5m', by=['host'])").contains("not both"));
    assert!(err("data('cpu').mean(cycle='fortnight')").contains("unknown cycle 'fortnight'"));
    assert!(err("data('cpu').mean(cycle='day', by=['host'])").contains("cycle= alone"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// The periods of a timeline, found once per period, are what asking at every timestamp
    /// gives, across daylight-saving changes (Berlin's, Sao Paulo's old midnight gaps, Lord
    /// Howe's half hour) and odd offsets and resolutions.
    #[test]
    fn periods_found_once_per_period_match_each_timestamps_own(
        unit in proptest::sample::select(vec![
            super::plan::CycleUnit::Hour,
            super::plan::CycleUnit::Day,
            super::plan::CycleUnit::Week,
            super::plan::CycleUnit::Month,
            super::plan::CycleUnit::Quarter,
            super::plan::CycleUnit::Year,
        ]),
        zone in proptest::sample::select(vec![
            "UTC", "Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kolkata",
        ]),
        // From 1985 to 2030, where those zones changed their clocks.
        first_s in 473_385_600i64..1_893_456_000,
        resolution in proptest::sample::select(vec![1_000i64, 60_000, 900_000, 3_600_000, 86_400_000]),
        len in 1usize..400,
        offset in proptest::sample::select(vec![0i64, 1_800_000, -3_600_000, 7 * 3_600_000]),
    ) {
        let zone: super::plan::Tz = zone.parse().unwrap();
        let timeline = Timeline {
            first: first_s * 1000 / resolution * resolution,
            resolution,
            len,
        };
        let each: Vec<(i64, bool)> = (0..len)
            .map(|i| {
                let t = timeline.at(i);
                let start = unit.start(t - offset, zone) + offset;
                let last = timeline.at(i + 1) >= unit.next(t - offset, zone) + offset;
                (start, last)
            })
            .collect();
        proptest::prop_assert_eq!(unit.periods(&timeline, offset, zone), each);
    }
}

#[test]
fn calendar_cycles_from_the_period_start() {
    use super::plan::{CycleUnit, Tz};
    // Periods in UTC: 2026-01-07 (a Wednesday) 15:30 falls in the week from Monday 2026-01-05,
    // the month from 2026-01-01, the quarter and year from 2026-01-01.
    let t = 1_767_799_800_000; // 2026-01-07T15:30:00Z
    let utc = Tz::UTC;
    assert_eq!(CycleUnit::Hour.start(t, utc), 1_767_798_000_000);
    assert_eq!(CycleUnit::Day.start(t, utc), 1_767_744_000_000);
    assert_eq!(CycleUnit::Week.start(t, utc), 1_767_571_200_000);
    assert_eq!(CycleUnit::Month.start(t, utc), 1_767_225_600_000);
    assert_eq!(CycleUnit::Quarter.start(t, utc), 1_767_225_600_000);
    assert_eq!(CycleUnit::Year.start(t, utc), 1_767_225_600_000);
    assert_eq!(CycleUnit::Month.next(t, utc), 1_769_904_000_000); // 2026-02-01
    assert_eq!(CycleUnit::Quarter.next(t, utc), 1_775_001_600_000); // 2026-04-01
    assert_eq!(CycleUnit::Week.next(t, utc), 1_768_176_000_000); // Monday 2026-01-12
    assert_eq!(CycleUnit::Day.next(t, utc), 1_767_830_400_000); // 2026-01-08

    // In Berlin (UTC+1 in winter) days, weeks and months start an hour before UTC's; in
    // Kolkata (UTC+5:30) hours start at half past the UTC hour.
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    const HOUR: i64 = 3_600_000;
    assert_eq!(CycleUnit::Day.start(t, berlin), 1_767_744_000_000 - HOUR);
    assert_eq!(CycleUnit::Week.start(t, berlin), 1_767_571_200_000 - HOUR);
    assert_eq!(CycleUnit::Month.start(t, berlin), 1_767_225_600_000 - HOUR);
    assert_eq!(CycleUnit::Year.next(t, berlin), 1_798_761_600_000 - HOUR); // 2027-01-01 CET
    let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
    assert_eq!(CycleUnit::Hour.start(t, kolkata), t);
    assert_eq!(CycleUnit::Hour.next(t - 1, kolkata), t);
    // New York's daylight-saving days: 23 hours on 2026-03-08, 25 on 2026-11-01.
    let new_york: Tz = "America/New_York".parse().unwrap();
    let noon = 1_772_989_200_000; // 2026-03-08T17:00Z
    assert_eq!(CycleUnit::Day.start(noon, new_york), 1_772_946_000_000); // 05:00Z, EST midnight
    assert_eq!(CycleUnit::Day.next(noon, new_york), 1_773_028_800_000); // 04:00Z, EDT midnight
    let noon = 1_793_552_400_000; // 2026-11-01T17:00Z
    assert_eq!(CycleUnit::Day.start(noon, new_york), 1_793_505_600_000); // 04:00Z
    assert_eq!(CycleUnit::Day.next(noon, new_york), 1_793_595_600_000); // 05:00Z
    assert!(
        err("data('cpu').mean(cycle='day', tz='Mars/Olympus')")
            .contains("unknown time zone 'Mars/Olympus'")
    );
    assert!(err("data('cpu').mean(over='1m', tz='UTC')").contains("tz= only with cycle="));
    let r = run(
        "data('cpu', filter=filter('host', 'a')).sum(cycle='day', tz='Europe/Berlin', partial_values=True).publish('c')",
        0,
        3,
    );
    assert_eq!(one(&r, "c:a"), s(&[0.0, 1.0, 3.0]));

    let r = run(
        "data('cpu', filter=filter('host', 'a')).sum(cycle='hour', partial_values=True).publish('c')",
        0,
        10,
    );
    // The epoch is an hour start, so the job reads back to it: 0..9 s is the hour so far.
    assert_eq!(
        one(&r, "c:a"),
        s(&[0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0, 28.0, 36.0, 45.0])
    );
    // Without partial values only the period's last logical timestamp has one: none here.
    let r = run(
        "data('cpu', filter=filter('host', 'a')).sum(cycle='hour').publish('c')",
        0,
        10,
    );
    assert_eq!(one(&r, "c:a"), vec![None; 10]);
    // With hours from 0:00:05, the hour ending at 5 s reports its whole sum at 4 s, its last
    // logical timestamp.
    let r = run(
        "data('cpu', filter=filter('host', 'a')).sum(cycle='hour', cycle_start='5s').publish('c')",
        0,
        8,
    );
    let mut expected = vec![None; 8];
    expected[4] = Some(0.0 + 1.0 + 2.0 + 3.0 + 4.0);
    assert_eq!(one(&r, "c:a"), expected);
    // cycle_start shifts the periods: hours from 0:00:05, so 5 s starts a new one.
    let r = run(
        "data('cpu', filter=filter('host', 'a')).max(cycle='hour', cycle_start='5s', partial_values=True).publish('c')",
        5,
        8,
    );
    assert_eq!(one(&r, "c:a"), s(&[5.0, 6.0, 7.0]));
    let r = run(
        "data('cpu', filter=filter('host', 'a')).median(cycle='hour', partial_values=True).publish('c')",
        0,
        4,
    );
    assert_eq!(one(&r, "c:a"), s(&[0.0, 0.5, 1.0, 1.5]));
}

#[test]
fn timeshift_delta_rate_of_change_and_ewma() {
    let a = "data('cpu', filter=filter('host', 'b'))";
    let r = run(&format!("{a}.timeshift('2s').publish('t')"), 3, 5);
    assert_eq!(one(&r, "t:b"), s(&[12.0, 14.0]));
    let r = run(&format!("{a}.delta().publish('d')"), 0, 3);
    assert_eq!(one(&r, "d:b"), vec![None, Some(2.0), Some(2.0)]);
    let r = run_at(&format!("{a}.rateofchange().publish('r')"), 2, 6, 2);
    // Averages per 2 s: 11, 15, 19: a change of 4 over 2 s.
    assert_eq!(one(&r, "r:b"), s(&[2.0, 2.0]));
    let r = run("data('sparse').ewma(0.5).publish('e')", 0, 2);
    assert_eq!(one(&r, "e:a"), s(&[1.0, 1.5]));
    // Three logical timestamps of 1 s in the window: alpha 2 / (3 + 1), the same.
    let r = run("data('sparse').ewma(over='3s').publish('e')", 0, 2);
    assert_eq!(one(&r, "e:a"), s(&[1.0, 1.5]));
    // At 2 s, 20 s hold ten: alpha 2 / 11 on b's 2-second averages 11 then 15.
    let r = run_at(&format!("{a}.ewma(over='20s').publish('e')"), 0, 4, 2);
    assert_eq!(one(&r, "e:b"), s(&[11.0, 11.0 + 2.0 / 11.0 * 4.0]));
    assert!(err("data('sparse').ewma(0.5, over='3s')").contains("alpha or over=, not both"));
    assert!(err("data('sparse').ewma()").contains("ewma(over='5m')"));
}

#[test]
fn fill_abs_scale_and_map() {
    let r = run("data('sparse').fill().publish('f')", 0, 5);
    assert_eq!(one(&r, "f:a"), s(&[1.0, 2.0, 2.0, 2.0, 2.0]));
    let r = run(
        "data('sparse').fill(value=0, max_count=2).publish('f')",
        0,
        5,
    );
    assert_eq!(
        one(&r, "f:a"),
        vec![Some(1.0), Some(2.0), Some(0.0), Some(0.0), None]
    );
    let r = run(
        "(-data('cpu', filter=filter('host', 'a'))).abs().publish('x')",
        1,
        3,
    );
    assert_eq!(one(&r, "x:a"), s(&[1.0, 2.0]));
    let r = run(
        "abs(data('cpu', filter=filter('host', 'c')) - 99).publish('x')",
        0,
        2,
    );
    assert_eq!(one(&r, "x:c"), s(&[1.0, 0.0]));
    let r = run(
        "data('cpu', filter=filter('host', 'a')).scale(0.5).publish('x')",
        2,
        4,
    );
    assert_eq!(one(&r, "x:a"), s(&[1.0, 1.5]));
    let r = run(
        "data('cpu', filter=filter('host', 'a')).map(lambda x: x * 10 if x > 1 else -1).publish('x')",
        1,
        3,
    );
    assert_eq!(one(&r, "x:a"), s(&[-1.0, 20.0]));
}

#[test]
fn top_bottom_const_and_union() {
    let r = run("data('cpu').top(count=2).publish('t')", 0, 1);
    assert_eq!(
        r.len(),
        3,
        "every series keeps its place; only values are dropped"
    );
    assert_eq!(one(&r, "t:a"), vec![None]);
    assert_eq!(one(&r, "t:b"), s(&[10.0]));
    assert_eq!(one(&r, "t:c"), s(&[100.0]));
    let r = run("data('cpu').bottom(1).publish('b')", 0, 1);
    assert_eq!((one(&r, "b:a"), one(&r, "b:b")), (s(&[0.0]), vec![None]));
    // Within each region (a and b in eu, c in us), at t = 0 (a 0, b 10, c 100).
    let r = run("data('cpu').top(count=1, by=['region']).publish('t')", 0, 1);
    assert_eq!(
        (one(&r, "t:a"), one(&r, "t:b"), one(&r, "t:c")),
        (vec![None], s(&[10.0]), s(&[100.0]))
    );
    // A share of the values, rounded up: half of three is two.
    let r = run("data('cpu').bottom(percentage=50).publish('b')", 0, 1);
    assert_eq!(
        (one(&r, "b:a"), one(&r, "b:b"), one(&r, "b:c")),
        (s(&[0.0]), s(&[10.0]), vec![None])
    );
    let r = run(
        "data('cpu').bottom(percentage=34, by=['region']).publish('b')",
        0,
        1,
    );
    assert_eq!(
        (one(&r, "b:a"), one(&r, "b:b"), one(&r, "b:c")),
        (s(&[0.0]), vec![None], s(&[100.0]))
    );
    // A series without the key (only b has the property `team`) is in no group.
    let r = run("data('cpu').top(by=['team']).publish('t')", 0, 1);
    assert_eq!(
        (one(&r, "t:a"), one(&r, "t:b"), one(&r, "t:c")),
        (vec![None], s(&[10.0]), vec![None])
    );
    assert!(err("data('cpu').top(count=1, percentage=5)").contains("count= or percentage="));
    assert!(err("data('cpu').top(percentage=0)").contains("above 0 and at most 100, not 0"));
    let r = run("const(7, {'host': 'k'}).publish('k')", 0, 2);
    assert_eq!(one(&r, "k:k"), s(&[7.0, 7.0]));
    let out = output("union(data('hits'), data('sparse')).publish('u')", 0, 1, 1);
    assert_eq!(out.series.len(), 2);
}

#[test]
fn arithmetic_pairs_series_by_dimensions() {
    // Per-host ratio of two streams with the same dimensions.
    let r = run(
        "A = data('cpu')\nB = data('cpu') + 1\n(A / B).publish('q')",
        2,
        3,
    );
    assert_eq!(one(&r, "q:a"), s(&[2.0 / 3.0]));
    assert_eq!(one(&r, "q:c"), s(&[98.0 / 99.0]));
    // A one-series stream goes with every series of the other side.
    let r = run("(data('cpu') - data('cpu').mean()).publish('d')", 2, 3);
    assert_eq!(one(&r, "d:a"), s(&[2.0 - 38.0]));
    assert_eq!(one(&r, "d:b"), s(&[14.0 - 38.0]));
    let r = run(
        "(100 - data('cpu', filter=filter('host', 'c'))).publish('x')",
        3,
        4,
    );
    assert_eq!(one(&r, "x:c"), s(&[3.0]));
    let r = run(
        "(data('cpu', filter=filter('host', 'a')) ** 2 // 3 % 5).publish('x')",
        4,
        5,
    );
    assert_eq!(one(&r, "x:a"), s(&[0.0]));
    // Division by zero gives no value.
    let r = run(
        "(data('cpu', filter=filter('host', 'a')) / 0).publish('x')",
        0,
        1,
    );
    assert_eq!(one(&r, "x:a"), vec![None]);
}

#[test]
fn comparisons_and_if_else() {
    let r = run(
        "(data('cpu', filter=filter('host', 'a')) >= 2).publish('c')",
        1,
        4,
    );
    assert_eq!(one(&r, "c:a"), s(&[0.0, 1.0, 1.0]));
    let r = run(
        "A = data('cpu', filter=filter('host', 'a'))\n(A if A > 1 else -A).publish('x')",
        0,
        4,
    );
    assert_eq!(one(&r, "x:a"), s(&[-0.0, -1.0, 2.0, 3.0]));
    let r = run("A = data('cpu')\n((A > 5) and (A < 50)).publish('x')", 3, 4);
    assert_eq!(
        (one(&r, "x:a"), one(&r, "x:b"), one(&r, "x:c")),
        (s(&[0.0]), s(&[1.0]), s(&[0.0]))
    );
    let r = run(
        "A = data('cpu')\n(not (A > 5) or A > 99).publish('x')",
        0,
        1,
    );
    assert_eq!(
        (one(&r, "x:a"), one(&r, "x:b"), one(&r, "x:c")),
        (s(&[1.0]), s(&[0.0]), s(&[1.0]))
    );
    // Static values decide at once.
    let r = run("X = 3 if 2 > 1 else 4\nconst(X).publish('k')", 0, 1);
    assert_eq!(one(&r, "k:-"), s(&[3.0]));
}

#[test]
fn when_needs_the_condition_to_last() {
    // a = t > 2 holds from second 3 on; lasting 3 s holds from second 5 on.
    let r = run(
        "A = data('cpu', filter=filter('host', 'a'))\nwhen(A > 2, lasting='3s').publish('w')",
        2,
        7,
    );
    assert_eq!(one(&r, "w:a"), s(&[0.0, 0.0, 0.0, 1.0, 1.0]));
    // At least half of 4 s: from second 4 (3 and 4 hold).
    let r = run(
        "A = data('cpu', filter=filter('host', 'a'))\nwhen(A > 2, lasting='4s', at_least=0.5).publish('w')",
        3,
        5,
    );
    assert_eq!(one(&r, "w:a"), s(&[0.0, 1.0]));
}

#[test]
fn detectors_fire_and_clear() {
    let out = output(
        "A = data('cpu', filter=filter('host', 'c'))\ndetect(when(A < 96), off=when(A > 97)).publish('low')",
        0,
        10,
        1,
    );
    // c = 100 − t: below 96 from second 5 on; never above 97 again, so it never clears.
    let kinds: Vec<_> = out
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Detector { anomalous, .. } => (e.timestamp, *anomalous),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, [(5000, true)]);
    let out = output(
        "A = data('sparse', extrapolation='last_value')\ndetect(A > 1.5).publish('d')",
        0,
        8,
        1,
    );
    // 1, 2, 2, 2, 2, 7 ...: fires at 1 and stays.
    assert_eq!(out.events.len(), 1);
    let out = output(
        "A = data('cpu', filter=filter('host', 'a'))\ndetect(when(A % 4 == 1)).publish('odd')",
        0,
        10,
        1,
    );
    // Holds at 1, 5, 9; clears at 2, 6.
    let times: Vec<_> = out.events.iter().map(|e| e.timestamp / 1000).collect();
    assert_eq!(times, [1, 2, 5, 6, 9]);
    let incidents: Vec<_> = out
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Detector { incident, .. } => incident.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(incidents[0], incidents[1]);
    assert_ne!(incidents[1], incidents[2]);
    // The state before the start is computed but not reported: starting at 2 s, the clear at
    // 2 s is reported, the trigger at 1 s is not.
    let out = output(
        "A = data('cpu', filter=filter('host', 'a'))\ndetect(when(A % 4 == 1, lasting='1s')).publish('odd')",
        2,
        10,
        1,
    );
    let first = out.events.first().map(|e| (e.timestamp, e.kind.clone()));
    assert!(
        matches!(
            first,
            Some((
                2000,
                EventKind::Detector {
                    anomalous: false,
                    ..
                }
            ))
        ),
        "{first:?}"
    );
}

#[test]
fn paired_detectors_clear_only_when_on_stops_holding_and_split_ones_on_off_alone() {
    // b = 10 + 2t: on = b > 12 (from 2 s), off = b > 15 (from 3 s), which holds while on does.
    let program = |mode: &str| {
        format!(
            "B = data('cpu', filter=filter('host', 'b'))\ndetect(B > 12, off=B > 15, mode='{mode}').publish('d')"
        )
    };
    let times = |mode: &str| -> Vec<(i64, bool)> {
        output(&program(mode), 0, 10, 1)
            .events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Detector { anomalous, .. } => (e.timestamp / 1000, *anomalous),
                _ => unreachable!(),
            })
            .collect()
    };
    assert_eq!(
        times("paired"),
        [(2, true)],
        "off holds but on too: no clear"
    );
    // Split: cleared at 3 s by off, fired again at 4 s since on still holds.
    assert_eq!(times("split")[..3], [(2, true), (3, false), (4, true)]);
}

#[test]
fn events_are_read_in_range_and_filtered() {
    let out = output("events('deploy').publish('e')", 0, 10, 1);
    assert_eq!(
        out.events.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
        [3500, 8000]
    );
    let out = output(
        "events('deploy', filter=filter('service', 'cart')).publish('e')",
        0,
        10,
        1,
    );
    assert_eq!(out.events.len(), 1);
    assert!(matches!(&out.events[0].kind, EventKind::Custom(p) if p.is_empty()));
    let out = output("events('deploy').publish('e')", 4, 10, 1);
    assert_eq!(out.events.len(), 1);
}

#[test]
fn resolution_is_at_least_the_requested_and_coarsens_long_ranges() {
    let out = output("data('cpu').publish()", 0, 10, 5);
    assert_eq!((out.timeline.resolution, out.timeline.len), (5000, 2));
    // A day at 1 s would be 86 400 logical timestamps: coarsened to 10 s.
    let out = output("data('cpu').publish()", 0, 86_400, 1);
    assert_eq!(out.timeline.resolution, 10_000);
    // Start is rounded up to the resolution.
    let out = output("data('cpu').publish()", 3, 10, 5);
    assert_eq!((out.timeline.first, out.timeline.len), (5000, 1));
}

#[test]
fn ids_are_stable_and_distinct() {
    let a = output("data('cpu').mean(by=['region']).publish('A')", 0, 2, 1);
    let b = output("data('cpu').mean(by=['region']).publish('A')", 0, 2, 1);
    let ids = |o: &Output| o.series.iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    let twice = output("A = data('cpu')\nA.publish('x')\nA.publish('y')", 0, 1, 1);
    let mut all = ids(&twice);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 6, "the same series published twice gets two ids");
}

#[test]
fn errors_name_the_place() {
    assert_eq!(
        err("x = 1\nx = 2"),
        "line 2, column 1: `x` is already bound at line 1, column 1; each name is bound once"
    );
    assert!(
        err("data('cpu').publish(\n  nosuch)")
            .starts_with("line 2, column 3: `nosuch` is not defined")
    );
    assert!(err("data('cpu', rollup='median')").contains("unknown rollup 'median'"));
    assert!(err("data('cpu').mean(over='5 parsecs')").contains("not a duration"));
    assert!(err("data('cpu').frobnicate()").contains("a stream has no method `frobnicate`"));
    assert!(err("data(1)").starts_with("line 1, column 6: the metric must be a string"));
    assert!(err("data('cpu', nosuch=1)").contains("has no argument `nosuch`"));
    assert!(err("filter('host')").contains("at least one value"));
    assert!(err("when(lambda x: x > 1)").contains("boolean stream"));
    assert!(err("data('cpu').percentile(101)").contains("at most 100"));
    assert!(err("'a' - 1").contains("cannot combine"));
    assert!(err("1 / 0").contains("division by zero"));
}

#[test]
fn limits_refuse_what_would_not_fit() {
    let program = parse("data('cpu').publish()").unwrap();
    let job = Job::compile(&program).unwrap();
    let mut request = Request::new(0, 10_000);
    request.max_input_mts = 2;
    let e = job.run(&fleet(), &request).unwrap_err().to_string();
    assert!(e.contains("more than 2 time series"), "{e}");
    let mut request = Request::new(0, 10_000);
    request.max_values = 10;
    let e = job.run(&fleet(), &request).unwrap_err().to_string();
    assert!(e.contains("values"), "{e}");
    // A program cannot build unbounded graphs.
    let long = format!(
        "A = data('cpu')\nB = A{}\nB.publish()",
        " + A".repeat(super::interp::MAX_NODES + 1)
    );
    let e = match parse(&long) {
        Ok(p) => Job::compile(&p).unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("more than"), "{e}");
}

/// A live job over a store that holds only the points before `cut`, pushed the rest one by
/// one as if committed, emits what a batch job over the whole store computes.
#[test]
fn a_live_job_matches_the_batch_job_over_the_same_points() {
    use super::live::{Live, LiveRequest};
    let program = "A = data('cpu')\nA.mean(over='3s').publish('w')\nA.sum(by=['region']).publish('r')\n\
                   detect(when(A > 5, lasting='2s')).publish('d')\ndata('total').publish('t')\n\
                   events('deploy').publish('e')";
    let batch = output(program, 0, 10, 1);
    let full = fleet();
    let cut = 4_000;
    let mut early = fleet();
    for (_, points) in &mut early.series {
        points.retain(|(t, _)| *t < cut);
    }
    // Events too are stored later: each step reads those of its interval as it is emitted.
    early.events.clear();
    let job = Job::compile(&parse(program).unwrap()).unwrap();
    let request = LiveRequest {
        start: 0,
        stop: Some(10_000),
        resolution: Some(1000),
        max_delay: 500,
        max_input_mts: 100,
        max_step_values: 1_000_000,
        resume: None,
    };
    // At 4.2 s with half a second of delay, 0 .. 2 s are closed: 3 s is still open.
    let (mut live, past) = Live::start(job, &early, &request, cut + 200).unwrap();
    assert_eq!(past.timeline.len, 3);
    let places: Vec<_> = live.inputs().map(|(at, meta)| (at, meta.id)).collect();
    for (input, points) in &full.series {
        for &(t, v) in points.iter().filter(|(t, _)| *t >= 3_000) {
            for (at, id) in &places {
                if *id == input.meta.id {
                    live.push(*at, t, v);
                }
            }
        }
    }
    // Nothing is due before its interval's end plus the delay.
    assert!(live.advance(3_000 + 1000 + 499, false).unwrap().is_empty());
    let mut steps = live.advance(7_600, false).unwrap();
    assert_eq!(
        steps.iter().map(|s| s.timestamp).collect::<Vec<_>>(),
        [3_000, 4_000, 5_000, 6_000]
    );
    steps.extend(live.advance(i64::MAX, true).unwrap());
    for step in &mut steps {
        let stored = live.stored_events_at(&full, step.timestamp).unwrap();
        step.events.extend(stored);
    }
    assert!(live.finished());
    assert_eq!(live.next_deadline(), None);
    // Every value of every series, batch against past + live.
    let mut got: BTreeMap<TsIdKey, Vec<Option<f64>>> = BTreeMap::new();
    for s in &past.series {
        got.insert(s.id, s.values.clone());
    }
    for step in &steps {
        let i = ((step.timestamp - 3_000) / 1000) as usize;
        for s in got.values_mut() {
            s.resize(3 + i + 1, None);
        }
        for (id, v) in &step.points {
            let series = got.entry(*id).or_insert_with(|| vec![None; 3 + i + 1]);
            series[3 + i] = Some(*v);
        }
    }
    for s in &batch.series {
        assert_eq!(
            got.get(&s.id),
            Some(&s.values),
            "{} {:?}",
            s.label,
            s.meta.dims
        );
    }
    assert_eq!(got.len(), batch.series.len());
    let live_events: Vec<_> = past
        .events
        .iter()
        .chain(steps.iter().flat_map(|s| &s.events))
        .map(|e| (e.timestamp, e.dims.clone(), e.kind.clone()))
        .collect();
    let batch_events: Vec<_> = batch
        .events
        .iter()
        .map(|e| (e.timestamp, e.dims.clone(), e.kind.clone()))
        .collect();
    let mut sorted = live_events.clone();
    sorted.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut expected = batch_events.clone();
    expected.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(sorted, expected);
    assert!(!expected.is_empty());
    // A point for an interval already emitted is late.
    live.push(places[0].0, 1_000, 5.0);
    assert_eq!(live.late_points(), 1);
}

type TsIdKey = super::series::TsId;

#[test]
fn a_live_job_takes_series_that_appear_after_its_start() {
    use super::live::{Live, LiveRequest};
    let job =
        Job::compile(&parse("data('cpu', filter=filter('region', 'eu')).publish('c')").unwrap())
            .unwrap();
    let request = LiveRequest {
        start: 10_000,
        stop: None,
        resolution: Some(1000),
        max_delay: 0,
        max_input_mts: 100,
        max_step_values: 1_000_000,
        resume: None,
    };
    let (mut live, past) = Live::start(job, &fleet(), &request, 10_000).unwrap();
    assert_eq!(past.timeline.len, 0);
    assert!(live.wants_metric("cpu") && !live.wants_metric("hits"));
    let newcomer = input(
        "cpu",
        MetricKind::Gauge,
        &[("host", "d"), ("region", "eu")],
        &[],
    );
    let elsewhere = input(
        "cpu",
        MetricKind::Gauge,
        &[("host", "e"), ("region", "us")],
        &[],
    );
    assert!(
        live.discover(elsewhere).is_empty(),
        "the filter still applies"
    );
    let id = newcomer.meta.id;
    let places = live.discover(newcomer);
    assert_eq!(places.len(), 1);
    live.push(places[0], 10_500, 42.0);
    let steps = live.advance(11_000, false).unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].points, [(id, 42.0)]);
    // a and b were announced by the start's output; only d is new.
    assert_eq!(past.series.len(), 2);
    assert_eq!(
        steps[0].new_series.iter().map(|s| s.id).collect::<Vec<_>>(),
        [id]
    );
    let steps = live.advance(12_000, false).unwrap();
    assert!(steps[0].new_series.is_empty() && steps[0].points.is_empty());
    assert!(!live.finished());
}

#[test]
fn a_live_job_refuses_a_look_back_it_would_evaluate_at_every_step() {
    use super::live::{Live, LiveRequest};
    let job =
        Job::compile(&parse("when(data('cpu') > 1, lasting='1h').publish()").unwrap()).unwrap();
    let request = LiveRequest {
        start: 0,
        stop: None,
        resolution: Some(1000),
        max_delay: 0,
        max_input_mts: 100,
        max_step_values: 10_000,
        resume: None,
    };
    let e = Live::start(job, &fleet(), &request, 10_000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 time series × 3601 logical timestamps"), "{e}");
    assert!(e.contains("more than the limit of 10000"), "{e}");
}
