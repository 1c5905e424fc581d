//! The head: recent data of every series in memory, queryable as soon as a write is
//! acknowledged.
//!
//! # Contract
//!
//! - **Series registry.** Each `(organization, series key)` gets a [`SeriesId`] the first time it
//!   is written; the id is stable while the store is open and never reused. A series has one
//!   [`DataType`] for life: a batch declaring another is rejected whole with
//!   [`Error::SeriesTypeConflict`] (kind `InvalidInput`) naming the series and both types.
//! - **Out-of-order points** are accepted when no older than
//!   [`HeadConfig::out_of_order_window`] behind the series' newest timestamp, counting the
//!   batch's own points; an older point rejects the whole batch with [`Error::TooOld`]. The
//!   window is an admission rule checked before the WAL: whatever reached the WAL is applied,
//!   even if a concurrent write has moved the newest timestamp on since.
//! - **Duplicates.** A point whose timestamp the series already holds replaces it: last write
//!   wins, in WAL order, also within one batch.
//! - **Isolation.** Every lookup and listing is by organization; one never sees another's series.
//! - **Limits.** An organization may have at most [`HeadConfig::max_series_per_org`] series; a
//!   batch that would add more is rejected whole with [`Error::SeriesLimit`]. Replay ignores
//!   this limit: what is durable is loaded.
//! - **Concurrency.** All methods take `&self`. Writes to different series proceed in parallel;
//!   a new series briefly takes the registry's write lock.
//!
//! Only [`Db`](crate::Db) writes to the head: it checks a batch (creating new series) before
//! the WAL append and stores its points after it, in WAL order. Reads are open to all.

mod index;
mod series;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use sextant_model::{
    DataType, OrgId, Point, SeriesId, SeriesKey, SeriesPoints, Timestamp, ValidatedBatch,
};

use crate::{Error, Result};
use index::Index;
pub use index::SeriesMatcher;
use series::MemSeries;

/// How the head admits data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadConfig {
    /// How far behind a series' newest timestamp a point may be and still be accepted.
    /// Default one hour.
    pub out_of_order_window: Duration,
    /// The most series one organization may have. Default one million.
    pub max_series_per_org: usize,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            out_of_order_window: Duration::from_secs(3600),
            max_series_per_org: 1_000_000,
        }
    }
}

/// A series as listed by [`Head::series`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Its id.
    pub id: SeriesId,
    /// Its key.
    pub key: SeriesKey,
    /// Its type for life.
    pub data_type: DataType,
    /// How many points the head holds for it.
    pub points: usize,
}

/// The series of a batch, resolved by [`Head::prepare`], in the batch's order.
#[derive(Debug)]
pub(crate) struct Prepared {
    series: Vec<Arc<MemSeries>>,
}

/// The in-memory head of the store. See the module docs for its contract.
#[derive(Debug)]
pub struct Head {
    config: HeadConfig,
    index: RwLock<Index>,
    next_id: AtomicU64,
    /// Estimated bytes held, points and series overhead.
    memory: AtomicUsize,
}

impl Head {
    /// An empty head.
    pub fn new(config: HeadConfig) -> Self {
        Head {
            config,
            index: RwLock::new(Index::default()),
            next_id: AtomicU64::new(1),
            memory: AtomicUsize::new(0),
        }
    }

    /// Checks `batch` against the series registry, the out-of-order window and the series
    /// limit, creating the series it writes first. Nothing is stored, and a rejected batch
    /// creates no series. (A series created for a batch whose WAL append then fails stays
    /// registered, without points.)
    pub(crate) fn prepare(&self, batch: &ValidatedBatch) -> Result<Prepared> {
        let window = i64::try_from(self.config.out_of_order_window.as_nanos()).unwrap_or(i64::MAX);
        for sp in batch.series() {
            let batch_max = sp.points.iter().map(|p| p.timestamp).max();
            check_window(sp, batch_max, window)?;
        }
        let series = self.resolve(batch, true)?;
        for (s, sp) in series.iter().zip(batch.series()) {
            let stored_max = s.data.lock().max_timestamp();
            if stored_max.is_some() {
                check_window(sp, stored_max, window)?;
            }
        }
        Ok(Prepared { series })
    }

    /// Stores the points of `batch`, which `prepared` must come from. Infallible: the checks
    /// were made before the batch became durable.
    pub(crate) fn apply(&self, batch: &ValidatedBatch, prepared: &Prepared) {
        for (s, sp) in prepared.series.iter().zip(batch.series()) {
            let mut data = s.data.lock();
            let before = data.heap_bytes();
            let mismatched = data.insert(&sp.points);
            let after = data.heap_bytes();
            drop(data);
            self.account(before, after);
            if mismatched > 0 {
                tracing::error!(
                    series = %sp.key,
                    mismatched,
                    "values of the wrong type reached the head",
                );
            }
        }
    }

    /// Stores a batch read back from the WAL: no window and no limit, since it was acknowledged.
    pub(crate) fn apply_replayed(&self, batch: &ValidatedBatch) -> Result<()> {
        let series = self.resolve(batch, false)?;
        self.apply(batch, &Prepared { series });
        Ok(())
    }

    /// The series of `batch`, created if missing, with their types checked.
    fn resolve(&self, batch: &ValidatedBatch, enforce_limit: bool) -> Result<Vec<Arc<MemSeries>>> {
        let org = batch.org();
        {
            let index = self.index.read();
            let found: Option<Vec<_>> = batch
                .series()
                .iter()
                .map(|sp| index.get(org, &sp.key).cloned())
                .collect();
            if let Some(found) = found {
                check_types(batch, &found)?;
                return Ok(found);
            }
        }
        let mut index = self.index.write();
        let missing: HashSet<&SeriesKey> = batch
            .series()
            .iter()
            .map(|sp| &sp.key)
            .filter(|k| index.get(org, k).is_none())
            .collect();
        // Check the types of existing series before creating any: a rejected batch creates none.
        for sp in batch.series() {
            if let Some(s) = index.get(org, &sp.key) {
                check_type(s, sp.data_type)?;
            }
        }
        let current = index.series_count(org);
        let limit = self.config.max_series_per_org;
        if enforce_limit && current + missing.len() > limit {
            return Err(Error::SeriesLimit {
                org,
                current,
                new: missing.len(),
                limit,
            });
        }
        let mut out = Vec::with_capacity(batch.series().len());
        for sp in batch.series() {
            let s = match index.get(org, &sp.key) {
                Some(s) => Arc::clone(s),
                None => {
                    let id = SeriesId(self.next_id.fetch_add(1, Ordering::Relaxed));
                    let s = Arc::new(MemSeries::new(id, org, sp.key.clone(), sp.data_type));
                    self.account(0, s.overhead_bytes());
                    index.insert(Arc::clone(&s));
                    s
                }
            };
            out.push(s);
        }
        Ok(out)
    }

    fn account(&self, before: usize, after: usize) {
        if after >= before {
            self.memory.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.memory.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// The points of series `key` of `org` with timestamps in `range`, sorted by time.
    pub fn read(&self, org: OrgId, key: &SeriesKey, range: Range<Timestamp>) -> Result<Vec<Point>> {
        let series = self.index.read().get(org, key).cloned();
        match series {
            Some(s) => Ok(s.data.lock().read(range)),
            None => Err(Error::SeriesNotFound {
                org,
                series: key.to_string(),
            }),
        }
    }

    /// The points of series `id` of `org` with timestamps in `range`, sorted by time. A series
    /// of another organization is not found.
    pub fn read_id(&self, org: OrgId, id: SeriesId, range: Range<Timestamp>) -> Result<Vec<Point>> {
        let series = self
            .index
            .read()
            .by_id
            .get(&id)
            .filter(|s| s.org == org)
            .cloned();
        match series {
            Some(s) => Ok(s.data.lock().read(range)),
            None => Err(Error::SeriesNotFound {
                org,
                series: id.to_string(),
            }),
        }
    }

    /// The id of series `key` of `org`, if the head has it.
    pub fn series_id(&self, org: OrgId, key: &SeriesKey) -> Option<SeriesId> {
        self.index.read().get(org, key).map(|s| s.id)
    }

    /// The series of `org` that `matcher` selects, sorted by key.
    pub fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        let selected = self.index.read().select(org, matcher);
        selected
            .into_iter()
            .map(|s| SeriesInfo {
                id: s.id,
                key: s.key.clone(),
                data_type: s.data_type,
                points: s.data.lock().len(),
            })
            .collect()
    }

    /// How many series `org` has.
    pub fn series_count(&self, org: OrgId) -> usize {
        self.index.read().series_count(org)
    }

    /// How many series the head holds, across organizations.
    pub fn total_series(&self) -> usize {
        self.index.read().total_series()
    }

    /// An estimate of the bytes the head holds: points, keys and per-series overhead.
    pub fn memory_bytes(&self) -> usize {
        self.memory.load(Ordering::Relaxed)
    }

    /// The configuration.
    pub fn config(&self) -> &HeadConfig {
        &self.config
    }
}

/// Rejects points further than `window` behind `max`.
fn check_window(sp: &SeriesPoints, max: Option<Timestamp>, window: i64) -> Result<()> {
    let Some(max) = max else {
        return Ok(());
    };
    let min_allowed = max.saturating_sub(window);
    match sp.points.iter().find(|p| p.timestamp < min_allowed) {
        Some(p) => Err(Error::TooOld {
            series: sp.key.to_string(),
            timestamp: p.timestamp,
            max,
            min_allowed,
        }),
        None => Ok(()),
    }
}

fn check_type(s: &MemSeries, requested: DataType) -> Result<()> {
    if s.data_type == requested {
        Ok(())
    } else {
        Err(Error::SeriesTypeConflict {
            org: s.org,
            series: s.key.to_string(),
            existing: s.data_type,
            requested,
        })
    }
}

fn check_types(batch: &ValidatedBatch, series: &[Arc<MemSeries>]) -> Result<()> {
    for (s, sp) in series.iter().zip(batch.series()) {
        check_type(s, sp.data_type)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
