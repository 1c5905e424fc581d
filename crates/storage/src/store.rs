//! The storage engine as the front ends see it: a trait, so that the server holds
//! `Arc<dyn Store>` and only the binary picks the engine.

use std::fmt::Debug;
use std::ops::Range;

use sextant_model::{OrgId, Point, SeriesKey, Timestamp, ValidatedBatch};

use crate::db::DeleteReport;
use crate::feed::CommitFeed;
use crate::head::SeriesSelector;
use crate::head::{SeriesInfo, SeriesMatcher};
use crate::wal::{SyncLatency, WalStats};
use crate::{
    Agg, AggregateResult, ArrowPoints, Db, FlushReport, MaintenanceReport, Order, Result,
    WriteOutcome, WritePolicy, WriteReceipt,
};

/// A durable time-series store.
///
/// Every method blocks (on disk I/O, or on the group commit of other writers); async callers
/// run them on blocking threads. Methods may be called from many threads at once.
pub trait Store: Send + Sync + Debug {
    /// Stores a batch atomically: when this returns `Ok`, every point of the batch is durable
    /// and visible to reads; on `Err`, none is stored. A refused series (another type than
    /// the one it has for life, a point outside the out-of-order window, a new series beyond
    /// the organization's limit) refuses the batch, with the first refusal as the error:
    /// [`Store::write_with`] under [`WritePolicy::AllOrNothing`], reporting one refusal.
    /// Batches are applied in one total order, which replay after a crash reproduces.
    fn write(&self, batch: ValidatedBatch) -> Result<WriteReceipt>;

    /// Stores a batch under `policy`, checking every series in one pass and reporting each
    /// refused series with its reason, in the batch's order. Under
    /// [`WritePolicy::AllOrNothing`] a refusal stores nothing; under
    /// [`WritePolicy::StoreTheRest`] the other series are stored atomically, as one batch
    /// whose replay after a crash gives back exactly them. A refused series is never created.
    /// When this returns, what it stored is durable and visible to reads. An `Err` is a
    /// failure of the batch as a whole and stores nothing.
    fn write_with(&self, batch: ValidatedBatch, policy: WritePolicy) -> Result<WriteOutcome>;

    /// The points of one series of `org` in `[range.start, range.end)`, in time order, one per
    /// timestamp (the newest write's), whether in memory or on disk.
    fn read(&self, org: OrgId, key: &SeriesKey, range: Range<Timestamp>) -> Result<Vec<Point>>;

    /// The points of series `key` of `org` in `range` as the store held them after the
    /// commit whose sequence number it returns ([`Db::read_as_of`]).
    fn read_as_of(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> Result<(Vec<Point>, u64)>;

    /// The points of series `key` of `org` in `range`, in `order`, at most `limit` of them
    /// (the first ones in that order): what [`Store::read`] returns, ordered and cut, reading
    /// no more of the parts than the limit needs.
    fn read_limited(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Point>>;

    /// The timestamps of the points [`Store::read_limited`] returns. A store that can read
    /// them without decoding values does; the default reads the points.
    fn read_timestamps(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Timestamp>> {
        let points = self.read_limited(org, key, range, limit, order)?;
        Ok(points.into_iter().map(|p| p.timestamp).collect())
    }

    /// The points of series `key` of `org` in `range` as typed Arrow arrays, in `order`, at
    /// most `limit` of them: what [`Store::read`] returns, converted.
    fn read_arrow(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<ArrowPoints>;

    /// The aggregates `aggs` of numeric series `key` of `org` over `range` per bucket of
    /// `bucket_ns` nanoseconds aligned to the epoch; only non-empty buckets are returned.
    fn aggregate(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        bucket_ns: i64,
        aggs: &[Agg],
    ) -> Result<AggregateResult>;

    /// Deletes the points in `range` of every series of `org` that `selector` selects,
    /// durably: when this returns `Ok`, no read sees them again, even after a crash. A series
    /// left with no point disappears from selections and listings.
    fn delete(
        &self,
        org: OrgId,
        selector: &SeriesSelector,
        range: Range<Timestamp>,
    ) -> Result<DeleteReport>;

    /// The series of `org` that `matcher` selects. Never another organization's.
    fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo>;

    /// The series of `org` that `selector` selects, sorted by key. Never another
    /// organization's.
    fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<SeriesInfo>;

    /// The label names of the series of `org` that `selector` selects, sorted, each once.
    fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String>;

    /// The values of label `label` among the series of `org` that `selector` selects, sorted,
    /// each once.
    fn label_values(&self, org: OrgId, label: &str, selector: &SeriesSelector) -> Vec<String>;

    /// The series names of `org`, sorted, each once; only those starting with `prefix` if
    /// given.
    fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String>;

    /// Figures about the store as a whole, for monitoring.
    fn stats(&self) -> StoreStats;

    /// The commit feed: every committed write and deletion, in commit order, for live
    /// consumers (see [`crate::feed`]).
    fn feed(&self) -> &dyn CommitFeed;

    /// Writes everything held in memory into durable parts now (see [`Db::flush`]).
    fn flush(&self) -> Result<FlushReport>;

    /// Merges the parts of every partition holding at least `min_parts` of them into one
    /// part per partition (see [`Db::merge`]).
    fn merge(&self, min_parts: usize) -> Result<MaintenanceReport>;
}

/// Figures about a store, for monitoring.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreStats {
    /// Series held, across organizations.
    pub series: usize,
    /// An estimate of the memory the head holds, in bytes.
    pub head_bytes: usize,
    /// Part files.
    pub parts: usize,
    /// Bytes of the part files.
    pub part_bytes: u64,
    /// WAL appends, groups and bytes.
    pub wal: WalStats,
    /// How long WAL syncs took.
    pub wal_sync_latency: SyncLatency,
}

impl Store for Db {
    fn write(&self, batch: ValidatedBatch) -> Result<WriteReceipt> {
        Db::write(self, batch)
    }

    fn write_with(&self, batch: ValidatedBatch, policy: WritePolicy) -> Result<WriteOutcome> {
        Db::write_with(self, batch, policy)
    }

    fn read(&self, org: OrgId, key: &SeriesKey, range: Range<Timestamp>) -> Result<Vec<Point>> {
        Db::read(self, org, key, range)
    }

    fn read_as_of(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> Result<(Vec<Point>, u64)> {
        Db::read_as_of(self, org, key, range)
    }

    fn read_limited(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Point>> {
        Db::read_limited(self, org, key, range, limit, order)
    }

    fn read_timestamps(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<Vec<Timestamp>> {
        Db::read_timestamps(self, org, key, range, limit, order)
    }

    fn read_arrow(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> Result<ArrowPoints> {
        Db::read_arrow(self, org, key, range, limit, order)
    }

    fn aggregate(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        bucket_ns: i64,
        aggs: &[Agg],
    ) -> Result<AggregateResult> {
        Db::aggregate(self, org, key, range, bucket_ns, aggs)
    }

    fn delete(
        &self,
        org: OrgId,
        selector: &SeriesSelector,
        range: Range<Timestamp>,
    ) -> Result<DeleteReport> {
        Db::delete(self, org, selector, range)
    }

    fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        Db::series(self, org, matcher)
    }

    fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<SeriesInfo> {
        Db::select(self, org, selector)
    }

    fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String> {
        Db::label_names(self, org, selector)
    }

    fn label_values(&self, org: OrgId, label: &str, selector: &SeriesSelector) -> Vec<String> {
        Db::label_values(self, org, label, selector)
    }

    fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String> {
        Db::names(self, org, prefix)
    }

    fn stats(&self) -> StoreStats {
        let parts = self.parts();
        StoreStats {
            parts: parts.len(),
            part_bytes: parts.iter().map(|p| p.size()).sum(),
            series: self.head().total_series(),
            head_bytes: self.head().memory_bytes(),
            wal: self.wal().stats(),
            wal_sync_latency: self.wal().sync_latency(),
        }
    }

    fn feed(&self) -> &dyn CommitFeed {
        Db::feed(self)
    }

    fn flush(&self) -> Result<FlushReport> {
        Db::flush(self)
    }

    fn merge(&self, min_parts: usize) -> Result<MaintenanceReport> {
        Db::merge(self, min_parts)
    }
}
