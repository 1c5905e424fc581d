//! The live engine over a real SQLite catalog and on-disk store: annotations from committed
//! writes, writes committed but never evaluated before a stop are evaluated on the next start,
//! and nothing is opened twice.

use std::sync::Arc;

use sextant_catalog::{
    AnnotationFilter, AnnotationType, Catalog, ChannelDef, FlowDef, Page, RuleAction, RuleDef,
    SqliteCatalog, org_number,
};
use sextant_model::{DataType, Point, SeriesKey, Value, WriteBatch};
use sextant_rules::{EngineConfig, RuleEngine};
use sextant_storage::{Db, DbConfig};

const SECOND: i64 = 1_000_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    catalog: Arc<SqliteCatalog>,
    store: Arc<Db>,
    org: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(SqliteCatalog::open(dir.path().join("catalog.db")).unwrap());
        let store = Arc::new(Db::open(dir.path(), DbConfig::default()).unwrap());
        let org = catalog.create_organization("acme").unwrap().id;
        let config = catalog
            .create_ingestion_config(
                &org,
                "NostromoLV426",
                Some("k"),
                &[FlowDef {
                    name: "readings".into(),
                    channels: vec![
                        ChannelDef::new("thruster.temperature", DataType::Double),
                        ChannelDef::new("thruster.pressure", DataType::Double),
                    ],
                }],
            )
            .unwrap();
        catalog
            .create_rule(
                &org,
                &RuleDef {
                    name: "overheating".into(),
                    description: String::new(),
                    client_key: Some("overheating".into()),
                    expression: "$1 > 400".into(),
                    channel_references: vec![("$1".into(), "thruster.temperature".into())],
                    contextual_channels: vec![],
                    asset_ids: vec![config.asset_id.clone()],
                    asset_tag_ids: vec![],
                    action: RuleAction {
                        annotation_type: AnnotationType::DataReview,
                        tag_ids: vec![],
                        assignee_user_id: None,
                    },
                    is_live: true,
                    is_external: false,
                    webhook_url: None,
                },
            )
            .unwrap();
        Fixture {
            _dir: dir,
            catalog,
            store,
            org,
        }
    }

    fn engine(&self) -> Arc<RuleEngine> {
        RuleEngine::start(
            self.catalog.clone(),
            self.store.clone(),
            EngineConfig::default(),
        )
    }

    /// Stores temperatures at the given seconds; the engine hears of them through the store's
    /// commit feed.
    fn write(&self, points: &[(i64, f64)]) {
        let key = SeriesKey::new("thruster.temperature", [("asset", "NostromoLV426")]).unwrap();
        let mut batch = WriteBatch::new(org_number(&self.org));
        batch.push(
            key,
            DataType::Double,
            points
                .iter()
                .map(|&(s, v)| Point::new(s * SECOND, Value::Double(v)))
                .collect(),
        );
        self.store.write(batch.validate().unwrap()).unwrap();
    }

    fn ranges(&self) -> Vec<(i64, Option<i64>)> {
        self.ranges_of(&AnnotationFilter::default())
    }

    fn ranges_of(&self, filter: &AnnotationFilter) -> Vec<(i64, Option<i64>)> {
        let (found, _) = self
            .catalog
            .list_annotations(&self.org, filter, Page::first(100))
            .unwrap();
        found
            .iter()
            .map(|a| {
                (
                    a.fields.start_time / SECOND,
                    a.fields.end_time.map(|e| e / SECOND),
                )
            })
            .collect()
    }
}

#[test]
fn writes_left_unevaluated_at_a_stop_are_evaluated_on_start() {
    let f = Fixture::new();
    let engine = f.engine();
    f.write(&[(1, 100.0), (2, 500.0), (3, 450.0)]);
    engine.flush().unwrap();
    assert_eq!(f.ranges(), vec![(2, None)]);
    engine.shutdown();
    drop(engine);

    // Stored and acknowledged while no engine runs (as after a crash): the next engine reads
    // it from the commit feed, after the position the first one committed.
    f.write(&[(4, 100.0), (5, 600.0), (6, 50.0)]);
    let engine = f.engine();
    engine.flush().unwrap();
    assert_eq!(f.ranges(), vec![(2, Some(4)), (5, Some(6))]);

    // A third start finds nothing new to do and duplicates nothing.
    engine.shutdown();
    drop(engine);
    let engine = f.engine();
    engine.flush().unwrap();
    assert_eq!(f.ranges(), vec![(2, Some(4)), (5, Some(6))]);
    let stats = engine.stats();
    assert_eq!((stats.opened, stats.closed, stats.failures), (0, 0, 0));
}

#[test]
fn late_points_are_skipped_and_later_ones_evaluated() {
    let f = Fixture::new();
    let engine = f.engine();
    for batch in [
        vec![(10, 100.0), (11, 500.0)],
        // Late: before what was evaluated.
        vec![(5, 900.0), (12, 100.0)],
        vec![(13, 700.0)],
    ] {
        f.write(&batch);
        engine.flush().unwrap();
    }
    assert_eq!(f.ranges(), vec![(11, Some(12)), (13, None)]);
    let stats = engine.stats();
    assert_eq!((stats.opened, stats.closed), (2, 1));
}

#[test]
fn a_channel_that_never_sent_data_is_unknown_not_an_error() {
    let f = Fixture::new();
    let rule = f
        .catalog
        .create_rule(
            &f.org,
            &RuleDef {
                name: "hot_or_pressed".into(),
                client_key: Some("hot-or-pressed".into()),
                expression: "$1 > 400 || $2 > 5".into(),
                channel_references: vec![
                    ("$1".into(), "thruster.temperature".into()),
                    ("$2".into(), "thruster.pressure".into()),
                ],
                ..f.catalog
                    .find_rule(&f.org, "overheating")
                    .unwrap()
                    .unwrap()
                    .def
            },
        )
        .unwrap();
    let engine = f.engine();
    f.write(&[(1, 100.0), (2, 500.0), (3, 100.0)]);
    engine.flush().unwrap();
    // true || unknown is true; false || unknown is unknown, which leaves the range open.
    let filter = AnnotationFilter {
        rule_ids: Some(vec![rule.id]),
        ..AnnotationFilter::default()
    };
    assert_eq!(f.ranges_of(&filter), vec![(2, None)]);
    assert_eq!(engine.stats().failures, 0);
}
