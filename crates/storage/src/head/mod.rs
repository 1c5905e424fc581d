//! The head: recent data of every series in memory, queryable as soon as a write is
//! acknowledged.
//!
//! # Contract
//!
//! - **Series registry.** Each `(organization, series key)` gets a [`SeriesId`] the first time it
//!   is written; the id is stable while the store is open and never reused. A series has one
//!   [`DataType`] for life: a write declaring another refuses the series with
//!   [`Error::SeriesTypeConflict`] (kind `InvalidInput`) naming the series and both types.
//! - **Out-of-order points** are accepted at any age by default; with a
//!   [`HeadConfig::out_of_order_window`] set, only when no older than the window behind the
//!   series' newest timestamp, counting the batch's own points; a series with an older point
//!   is refused with [`Error::TooOld`]. The window is an admission rule checked before the
//!   WAL: whatever reached the WAL is applied, even if a concurrent write has moved the newest
//!   timestamp on since.
//! - **Duplicates.** A point whose timestamp the series already holds replaces it: last write
//!   wins, in WAL order, also within one batch.
//! - **Isolation.** Every lookup and listing is by organization; one never sees another's series.
//! - **Selection.** [`SeriesSelector`]s pick series by name and labels (equal, not equal,
//!   anchored regex, regex not matching, prefix; a missing label counts as the empty value,
//!   as in Prometheus); equality and prefix conditions narrow through the index's posting
//!   lists before the other conditions are checked. [`SeriesMatcher`] is the equality-only
//!   form and converts into a selector.
//! - **Limits.** An organization may have at most [`HeadConfig::max_series_per_org`] series;
//!   the new series of a write that do not fit are refused, each with [`Error::SeriesLimit`]
//!   (those that come first in the batch fit). Replay ignores this limit: what is durable is
//!   loaded.
//! - **Refusals.** `Head::prepare` checks every series of a batch in one pass and reports
//!   each refused series with its reason; the [`WritePolicy`] says whether the others go on.
//!   A refused series is never created, and under [`WritePolicy::AllOrNothing`] a batch with
//!   a refusal creates none.
//! - **Concurrency.** All methods take `&self`. Writes to different series proceed in parallel;
//!   a new series briefly takes the registry's write lock. Locks are taken in one order: a
//!   series' state (its live and frozen points), then the registry; a series' lock is never
//!   taken while the registry's lock is held (a waiting registry writer would otherwise
//!   deadlock a write with a hide of emptied series).
//!
//! - **Flushes.** [`Db::flush`](crate::Db::flush) freezes the head: every series' points move
//!   aside, still readable (newer writes win over them), until the parts holding them are
//!   durable; then they are released. Series stay registered after their points are flushed.
//!
//! Only [`Db`](crate::Db) writes to the head: it checks a batch (creating the new series it
//! admits) before the WAL append and stores the admitted series' points after it, in WAL
//! order. Reads are open to all.

mod chunk;
mod index;
pub mod limits;
mod selector;
#[cfg(test)]
mod selector_tests;
mod series;

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use sextant_model::{
    DataType, OrgId, Point, SeriesId, SeriesKey, SeriesPoints, Timestamp, ValidatedBatch,
};

use crate::write::{Refusal, WritePolicy};
use crate::{Error, Result};
use index::Index;
pub use index::SeriesMatcher;
pub(crate) use index::key_hash;
pub use selector::{Match, NAME_LABEL, Pattern, SelectorError, SeriesSelector};
use series::{MemSeries, SeriesData, SeriesState};

/// Points a flush has taken out of the head: per series, what it held at the freeze.
#[derive(Debug, Default)]
pub(crate) struct Frozen {
    pub(crate) series: Vec<(Arc<MemSeries>, Arc<SeriesData>)>,
}

/// How the head admits data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadConfig {
    /// How far behind a series' newest timestamp a point may be and still be accepted.
    /// Default [`Duration::MAX`]: no limit, as in VictoriaMetrics and InfluxDB, since telemetry
    /// is often uploaded hours or days after it was recorded; late points go to the partitions
    /// of their time like any other. Set a window to refuse data arriving later than that.
    pub out_of_order_window: Duration,
    /// The most series one organization may have. Default one million.
    pub max_series_per_org: usize,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            out_of_order_window: Duration::MAX,
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

/// The series of a batch, as [`Head::prepare`] found them.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The admitted series, in the batch's order, the refused ones left out: the batch to
    /// store is the written one without the refused series.
    series: Vec<Arc<MemSeries>>,
    /// The refused series, in the batch's order.
    pub(crate) refused: Vec<Refusal>,
}

/// Where [`Head::prepare`] stands with one series of a batch.
enum Admission {
    /// The series exists, with the batch's type and, as far as checked, within the window.
    Found(Arc<MemSeries>),
    /// The series does not exist yet.
    Missing,
    /// The series is refused; its reason is in the refusals.
    Refused,
}

/// The in-memory head of the store. See the module docs for its contract.
#[derive(Debug)]
pub struct Head {
    config: HeadConfig,
    index: RwLock<Index>,
    next_id: AtomicU64,
    /// Estimated bytes held, points and series overhead.
    memory: AtomicUsize,
    /// The part of `memory` that is series overhead (keys, registry), which no flush frees.
    overhead: AtomicUsize,
    /// The number of the last freeze begun (see [`Head::begin_freeze`]); a series whose
    /// [`SeriesState::frozen_epoch`] is behind it still holds points the freeze takes.
    epoch: AtomicU64,
}

impl Head {
    /// An empty head.
    pub fn new(config: HeadConfig) -> Self {
        Head {
            config,
            index: RwLock::new(Index::default()),
            next_id: AtomicU64::new(1),
            memory: AtomicUsize::new(0),
            overhead: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
        }
    }

    /// Checks every series of `batch` against the series registry, the out-of-order window
    /// and the series limit, in one pass, and creates the new series it admits. Nothing is
    /// stored. A refused series is not created; under [`WritePolicy::AllOrNothing`] nothing
    /// is admitted and nothing created once any series is refused. (A series created for a
    /// batch whose WAL append then fails stays registered, without points.)
    ///
    /// A series that a concurrent write creates between the lookup and the creation is taken
    /// with its type checked but not its newest timestamp: when this write looked, it had none.
    pub(crate) fn prepare(&self, batch: &ValidatedBatch, policy: WritePolicy) -> Prepared {
        let window = i64::try_from(self.config.out_of_order_window.as_nanos()).unwrap_or(i64::MAX);
        let org = batch.org();
        let written = batch.series();
        let mut refused = Vec::new();
        let mut states = Vec::with_capacity(written.len());
        let mut missing = 0;
        {
            let index = self.index.read();
            for (i, sp) in written.iter().enumerate() {
                if let Err(error) = limits::check_timestamps(sp) {
                    refused.push(refusal(i, sp, error));
                    states.push(Admission::Refused);
                    continue;
                }
                states.push(match index.get(org, &sp.key) {
                    Some(s) => match check_type(s, sp.data_type) {
                        Ok(()) => Admission::Found(Arc::clone(s)),
                        Err(error) => {
                            refused.push(refusal(i, sp, error));
                            Admission::Refused
                        }
                    },
                    None => match limits::check_new_key(&sp.key) {
                        Ok(()) => {
                            missing += 1;
                            Admission::Missing
                        }
                        Err(error) => {
                            refused.push(refusal(i, sp, error));
                            Admission::Refused
                        }
                    },
                });
            }
        }
        if window != i64::MAX {
            // Outside the registry's lock: a series' data lock is taken after it, never under.
            for (i, (state, sp)) in states.iter_mut().zip(written).enumerate() {
                let stored_max = match state {
                    Admission::Refused => continue,
                    Admission::Missing => None,
                    Admission::Found(s) => s.state.lock().max_timestamp(),
                };
                let batch_max = sp.points.iter().map(|p| p.timestamp).max();
                let checked = check_window(sp, batch_max, window)
                    .and_then(|()| check_window(sp, stored_max, window));
                if let Err(error) = checked {
                    if matches!(state, Admission::Missing) {
                        missing -= 1;
                    }
                    refused.push(refusal(i, sp, error));
                    *state = Admission::Refused;
                }
            }
        }
        let whole = policy == WritePolicy::AllOrNothing;
        // All or nothing, and already nothing: create no series.
        let mut settled = whole && !refused.is_empty();
        if missing > 0 && !settled {
            self.create_missing(batch, &mut states, &mut refused, whole);
            settled = whole && !refused.is_empty();
        }
        refused.sort_by_key(|r| r.index);
        let series = if settled {
            Vec::new()
        } else {
            states
                .into_iter()
                .filter_map(|state| match state {
                    Admission::Found(s) => Some(s),
                    Admission::Missing | Admission::Refused => None,
                })
                .collect()
        };
        Prepared { series, refused }
    }

    /// Creates the missing series of `batch` that fit the series limit, under the registry's
    /// write lock, refusing those that do not; with `whole`, creates none if any series is
    /// refused.
    fn create_missing(
        &self,
        batch: &ValidatedBatch,
        states: &mut [Admission],
        refused: &mut Vec<Refusal>,
        whole: bool,
    ) {
        let org = batch.org();
        let mut index = self.index.write();
        let mut new = 0;
        for (i, (state, sp)) in states.iter_mut().zip(batch.series()).enumerate() {
            if !matches!(state, Admission::Missing) {
                continue;
            }
            // Created by a concurrent write since the lookup.
            if let Some(s) = index.get(org, &sp.key) {
                *state = match check_type(s, sp.data_type) {
                    Ok(()) => Admission::Found(Arc::clone(s)),
                    Err(error) => {
                        refused.push(refusal(i, sp, error));
                        Admission::Refused
                    }
                };
                continue;
            }
            new += 1;
        }
        let current = index.series_count(org);
        let limit = self.config.max_series_per_org;
        let room = limit.saturating_sub(current);
        if new > room {
            let mut seen = 0;
            for (i, (state, sp)) in states.iter_mut().zip(batch.series()).enumerate() {
                if !matches!(state, Admission::Missing) {
                    continue;
                }
                seen += 1;
                if seen > room {
                    let error = Error::SeriesLimit {
                        org,
                        series: sp.key.to_string(),
                        current,
                        new,
                        limit,
                    };
                    refused.push(refusal(i, sp, error));
                    *state = Admission::Refused;
                }
            }
        }
        if whole && !refused.is_empty() {
            return;
        }
        for (state, sp) in states.iter_mut().zip(batch.series()) {
            if matches!(state, Admission::Missing) {
                *state = Admission::Found(self.create(&mut index, org, &sp.key, sp.data_type));
            }
        }
    }

    /// Registers a new series. The caller holds the registry's write lock and checked that
    /// the series is missing.
    fn create(
        &self,
        index: &mut Index,
        org: OrgId,
        key: &SeriesKey,
        data_type: DataType,
    ) -> Arc<MemSeries> {
        let id = SeriesId(self.next_id.fetch_add(1, Ordering::Relaxed));
        // Under the registry's write lock, which a freeze's start excludes: a series is
        // either there when a freeze begins or has nothing for it to take.
        let epoch = self.epoch.load(Ordering::Acquire);
        let s = Arc::new(MemSeries::new(id, org, key.clone(), data_type, epoch));
        let overhead = s.overhead_bytes();
        self.overhead.fetch_add(overhead, Ordering::Relaxed);
        self.account(0, overhead);
        index.insert(Arc::clone(&s));
        s
    }

    /// Stores the points of `batch`, which must be the batch `prepared` comes from without
    /// its refused series. Infallible: the checks were made before the batch became durable.
    pub(crate) fn apply(&self, batch: &ValidatedBatch, prepared: &Prepared) {
        debug_assert_eq!(prepared.series.len(), batch.series().len());
        let epoch = self.epoch.load(Ordering::Acquire);
        for (s, sp) in prepared.series.iter().zip(batch.series()) {
            let mut state = s.state.lock();
            // A freeze begun before this batch takes the series' earlier points first.
            self.freeze_series(&mut state, s.data_type, epoch);
            let before = state.heap_bytes();
            let mismatched = state.insert(s.data_type, &sp.points);
            let after = state.heap_bytes();
            if s.hidden.load(Ordering::Acquire) && s.hidden.swap(false, Ordering::AcqRel) {
                self.index.read().note_hidden(true, false);
            }
            drop(state);
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

    /// Removes the points of series `keys` of `org` with timestamps in `range`, live and
    /// frozen alike, and returns how many it removed. Keys the head does not know are skipped.
    /// The caller keeps flushes from running meanwhile.
    pub(crate) fn delete(&self, org: OrgId, keys: &[SeriesKey], range: &Range<Timestamp>) -> u64 {
        let mut removed = 0;
        for key in keys {
            let Some(s) = self.index.read().get(org, key).cloned() else {
                continue;
            };
            let mut state = s.state.lock();
            let before = state.heap_bytes();
            removed += state.delete(range, s.data_type);
            let after = state.heap_bytes();
            drop(state);
            self.account(before, after);
        }
        removed
    }

    /// Hides series `key` of `org` from selections and listings if it holds no point in
    /// memory and `in_parts` (asked only then) says no part holds it. A later write shows it
    /// again. Returns whether it is hidden now.
    ///
    /// `in_parts` is asked after the head was found empty: a flush publishes its parts before
    /// it releases the points it froze, so points that left the head are in the parts by then.
    pub(crate) fn hide_if_empty(
        &self,
        org: OrgId,
        key: &SeriesKey,
        in_parts: impl FnOnce() -> bool,
    ) -> bool {
        // Locks in the order writes take them: the series' data, then the registry (to count
        // the flag's change while the data lock orders it against a write's).
        let Some(s) = self.index.read().get(org, key).cloned() else {
            return false;
        };
        let state = s.state.lock();
        let empty = state.len() == 0 && state.frozen.is_none() && !in_parts();
        let was = s.hidden.swap(empty, Ordering::AcqRel);
        self.index.read().note_hidden(was, empty);
        drop(state);
        empty
    }

    /// Stores a batch read back from the WAL: no window and no limit, since it was acknowledged.
    pub(crate) fn apply_replayed(&self, batch: &ValidatedBatch) -> Result<()> {
        let org = batch.org();
        let mut series = Vec::with_capacity(batch.series().len());
        {
            let mut index = self.index.write();
            for sp in batch.series() {
                let s = match index.get(org, &sp.key) {
                    Some(s) => {
                        check_type(s, sp.data_type)?;
                        Arc::clone(s)
                    }
                    None => self.create(&mut index, org, &sp.key, sp.data_type),
                };
                series.push(s);
            }
        }
        let prepared = Prepared {
            series,
            refused: Vec::new(),
        };
        self.apply(batch, &prepared);
        Ok(())
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
            Some(s) => Ok(read_series(&s, range)),
            None => Err(Error::SeriesNotFound {
                org,
                series: key.to_string(),
            }),
        }
    }

    /// The first `limit` points of series `key` of `org` with timestamps in `range` in
    /// `order`, sorted by time: [`Head::read`] cut to the limit, taking no more points out of
    /// memory than it returns (plus, during a flush, up to `limit` frozen ones).
    pub fn read_limited(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: crate::Order,
    ) -> Result<Vec<Point>> {
        let series = self.index.read().get(org, key).cloned();
        match series {
            Some(s) => Ok(read_series_limited(&s, range, limit, order)),
            None => Err(Error::SeriesNotFound {
                org,
                series: key.to_string(),
            }),
        }
    }

    /// The data type of series `key` of `org`, if the head has registered it (every series
    /// of the store is, from the parts at open or at its first write).
    pub fn data_type(&self, org: OrgId, key: &SeriesKey) -> Option<DataType> {
        self.index.read().get(org, key).map(|s| s.data_type)
    }

    /// The id of series `key` of `org`, if the head has it.
    pub fn series_id(&self, org: OrgId, key: &SeriesKey) -> Option<SeriesId> {
        self.index.read().get(org, key).map(|s| s.id)
    }

    /// The series of `org` that `matcher` selects, sorted by key.
    pub fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        self.select(org, &SeriesSelector::from(matcher))
    }

    /// The series of `org` that `selector` selects, sorted by key.
    pub fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<SeriesInfo> {
        let selected = self.index.read().select(org, selector);
        selected
            .into_iter()
            .map(|s| SeriesInfo {
                id: s.id,
                key: s.key.clone(),
                data_type: s.data_type,
                points: s.state.lock().len(),
            })
            .collect()
    }

    /// The label names of the series of `org` that `selector` selects, sorted, each once.
    pub fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String> {
        self.index.read().label_names(org, selector)
    }

    /// The values of label `label` among the series of `org` that `selector` selects, sorted,
    /// each once; for [`NAME_LABEL`], their series names.
    pub fn label_values(&self, org: OrgId, label: &str, selector: &SeriesSelector) -> Vec<String> {
        self.index.read().label_values(org, label, selector)
    }

    /// The series names of `org`, sorted, each once; only those starting with `prefix` if
    /// given.
    pub fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String> {
        self.index.read().names(org, prefix)
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

    /// The part of [`Head::memory_bytes`] that points take, live and frozen: what flushes
    /// free. The rest is the series themselves, which stay.
    pub fn points_bytes(&self) -> usize {
        self.memory_bytes()
            .saturating_sub(self.overhead.load(Ordering::Relaxed))
    }

    /// The configuration.
    pub fn config(&self) -> &HeadConfig {
        &self.config
    }

    /// Registers series `key` of `org` with `data_type` if missing (a series found in a part
    /// on open), with `newest` as its newest timestamp for the out-of-order window; fails if it
    /// exists with another type. Ignores the series limit.
    pub(crate) fn register(
        &self,
        org: OrgId,
        key: &SeriesKey,
        data_type: DataType,
        newest: Timestamp,
    ) -> Result<()> {
        let s = {
            let mut index = self.index.write();
            match index.get(org, key) {
                Some(s) => {
                    check_type(s, data_type)?;
                    Arc::clone(s)
                }
                None => self.create(&mut index, org, key, data_type),
            }
        };
        // A series' data lock is never taken under the registry's.
        s.state.lock().note_newest(newest);
        Ok(())
    }

    /// Begins taking every series' points aside for a flush, and returns the freeze's number
    /// for [`Head::freeze`]. The caller keeps writes from being applied while this runs (a
    /// moment: no series is visited), so that what the freeze takes is exactly what the head
    /// held then, the points of a WAL prefix. Writes go on during [`Head::freeze`]: a write
    /// to a series the freeze has not reached yet takes the series' earlier points aside
    /// itself before it adds its own ([`Head::apply`]).
    pub(crate) fn begin_freeze(&self) -> u64 {
        // Under the registry's read lock, so that no series is created meanwhile.
        let _registry = self.index.read();
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Takes aside the points every series held when freeze `epoch` began, and returns them.
    /// Points frozen by an earlier flush that failed are frozen again, under the newer ones.
    pub(crate) fn freeze(&self, epoch: u64) -> Frozen {
        let all = self.index.read().all();
        let mut frozen = Frozen::default();
        for s in all {
            let mut state = s.state.lock();
            self.freeze_series(&mut state, s.data_type, epoch);
            let taken = state.frozen.clone();
            drop(state);
            if let Some(taken) = taken {
                frozen.series.push((s, taken));
            }
        }
        frozen
    }

    /// Takes the live points of a series aside for freeze `epoch` unless that was done:
    /// `state` is its locked state.
    fn freeze_series(&self, state: &mut SeriesState, data_type: DataType, epoch: u64) {
        if state.frozen_epoch >= epoch {
            return;
        }
        state.frozen_epoch = epoch;
        let before = state.heap_bytes();
        if let Some(taken) = state.take_live() {
            state.frozen = Some(match state.frozen.take() {
                Some(older) => Arc::new(SeriesData::overlay(&older, &taken, data_type)),
                None => taken,
            });
        }
        self.account(before, state.heap_bytes());
    }

    /// Drops the frozen points of `frozen` once they are durable in parts (and visible there).
    pub(crate) fn release(&self, frozen: Frozen) {
        for (s, points) in frozen.series {
            let mut state = s.state.lock();
            if state
                .frozen
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, &points))
            {
                let before = state.heap_bytes();
                state.frozen = None;
                let after = state.heap_bytes();
                drop(state);
                self.account(before, after);
            }
        }
    }
}

/// The points of `s` in `range`: its live points over those frozen for a flush.
fn read_series(s: &MemSeries, range: Range<Timestamp>) -> Vec<Point> {
    // Both under the series' lock, which a freeze takes to move points from one to the
    // other; the frozen points are read after it is let go.
    let (live, frozen) = {
        let state = s.state.lock();
        let live = state.live().map(|d| d.read(range.clone()));
        (live.unwrap_or_default(), state.frozen.clone())
    };
    match frozen {
        Some(f) => merge_last_wins(vec![f.read(range), live]),
        None => live,
    }
}

/// [`read_series`] cut to the first `limit` points in `order`. Each source is cut before the
/// merge: a timestamp among the first `limit` of the merge is among the first `limit` of
/// every source holding it, so the cut sources merge to the same first points, with the
/// newest write winning as before.
fn read_series_limited(
    s: &MemSeries,
    range: Range<Timestamp>,
    limit: Option<usize>,
    order: crate::Order,
) -> Vec<Point> {
    let (live, frozen) = {
        let state = s.state.lock();
        let live = state
            .live()
            .map(|d| d.read_limited(range.clone(), limit, order));
        (live.unwrap_or_default(), state.frozen.clone())
    };
    let mut merged = match frozen {
        Some(f) => merge_last_wins(vec![f.read_limited(range, limit, order), live]),
        None => return live,
    };
    if let Some(limit) = limit.filter(|&l| l < merged.len()) {
        match order {
            crate::Order::Ascending => merged.truncate(limit),
            crate::Order::Descending => {
                merged.drain(..merged.len() - limit);
            }
        }
    }
    merged
}

/// Merges sorted point lists, oldest source first, into one sorted list in which a timestamp
/// held by several sources takes the value of the newest.
pub(crate) fn merge_last_wins(mut sources: Vec<Vec<Point>>) -> Vec<Point> {
    sources.retain(|s| !s.is_empty());
    if sources.len() <= 1 {
        return sources.pop().unwrap_or_default();
    }
    let mut all = Vec::with_capacity(sources.iter().map(Vec::len).sum());
    // Newest source first: the stable sort keeps it first among equal timestamps, and dedup
    // keeps the first.
    for s in sources.into_iter().rev() {
        all.extend(s);
    }
    all.sort_by_key(|p| p.timestamp);
    all.dedup_by_key(|p| p.timestamp);
    all
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

fn refusal(index: usize, sp: &SeriesPoints, error: Error) -> Refusal {
    Refusal {
        index,
        key: sp.key.clone(),
        error,
    }
}

#[cfg(test)]
mod tests;
