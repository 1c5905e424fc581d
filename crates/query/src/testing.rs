//! A real store in a temporary directory for the tests, and a thin wrapper that counts the
//! points the store hands out.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp, ValidatedBatch, WriteBatch};
use sextant_storage::db::DeleteReport;
use sextant_storage::head::{HeadConfig, SeriesInfo, SeriesMatcher};
use sextant_storage::{
    Agg, AggregateResult, ArrowPoints, Db, DbConfig, FlushReport, MaintenanceReport, Order,
    PartsConfig, SeriesSelector, Store, StoreStats, WriteReceipt,
};

pub const ORG: OrgId = OrgId(1);

/// A store whose parts have small blocks, so that a few points span several blocks.
pub fn open(dir: &std::path::Path) -> Db {
    Db::open(
        dir,
        DbConfig {
            head: HeadConfig::default(),
            parts: PartsConfig {
                block_points: 8,
                flush_head_bytes: usize::MAX,
                flush_interval: None,
                flush_idle: None,
                partition: Duration::from_secs(3600),
                ..PartsConfig::default()
            },
            ..DbConfig::default()
        },
    )
    .unwrap()
}

pub fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(name, labels.iter().copied()).unwrap()
}

pub fn write(store: &dyn Store, key: &SeriesKey, data_type: DataType, points: Vec<Point>) {
    let mut b = WriteBatch::new(ORG);
    b.push(key.clone(), data_type, points);
    store.write(b.validate().unwrap()).unwrap();
}

/// A real store that counts the points its reads return.
#[derive(Debug)]
pub struct Counting {
    pub db: Db,
    pub points: AtomicUsize,
    pub reads: AtomicUsize,
}

impl Counting {
    pub fn new(db: Db) -> Counting {
        Counting {
            db,
            points: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
        }
    }

    pub fn points(&self) -> usize {
        self.points.load(Ordering::Relaxed)
    }

    fn count(&self, n: usize) {
        self.points.fetch_add(n, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
}

impl Store for Counting {
    fn write(&self, batch: ValidatedBatch) -> sextant_storage::Result<WriteReceipt> {
        self.db.write(batch)
    }

    fn write_with(
        &self,
        batch: ValidatedBatch,
        policy: sextant_storage::WritePolicy,
    ) -> sextant_storage::Result<sextant_storage::WriteOutcome> {
        self.db.write_with(batch, policy)
    }

    fn read(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> sextant_storage::Result<Vec<Point>> {
        let points = self.db.read(org, key, range)?;
        self.count(points.len());
        Ok(points)
    }

    fn read_as_of(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> sextant_storage::Result<(Vec<Point>, u64)> {
        let (points, seq) = self.db.read_as_of(org, key, range)?;
        self.count(points.len());
        Ok((points, seq))
    }

    fn read_limited(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> sextant_storage::Result<Vec<Point>> {
        let points = self.db.read_limited(org, key, range, limit, order)?;
        self.count(points.len());
        Ok(points)
    }

    fn read_arrow(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> sextant_storage::Result<ArrowPoints> {
        let points = self.db.read_arrow(org, key, range, limit, order)?;
        self.count(points.len());
        Ok(points)
    }

    fn aggregate(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        bucket_ns: i64,
        aggs: &[Agg],
    ) -> sextant_storage::Result<AggregateResult> {
        self.db.aggregate(org, key, range, bucket_ns, aggs)
    }

    fn delete(
        &self,
        org: OrgId,
        selector: &SeriesSelector,
        range: Range<Timestamp>,
    ) -> sextant_storage::Result<DeleteReport> {
        self.db.delete(org, selector, range)
    }

    fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        self.db.series(org, matcher)
    }

    fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<SeriesInfo> {
        self.db.select(org, selector)
    }

    fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String> {
        self.db.label_names(org, selector)
    }

    fn label_values(&self, org: OrgId, label: &str, selector: &SeriesSelector) -> Vec<String> {
        self.db.label_values(org, label, selector)
    }

    fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String> {
        self.db.names(org, prefix)
    }

    fn stats(&self) -> StoreStats {
        Store::stats(&self.db)
    }

    fn feed(&self) -> &dyn sextant_storage::CommitFeed {
        Store::feed(&self.db)
    }

    fn flush(&self) -> sextant_storage::Result<FlushReport> {
        self.db.flush()
    }

    fn merge(&self, min_parts: usize) -> sextant_storage::Result<MaintenanceReport> {
        self.db.merge(min_parts)
    }
}
