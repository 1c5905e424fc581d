//! The store: the WAL, the head and the parts of one data directory, tied into one write
//! path and one read path.
//!
//! ```text
//! ValidatedBatch ──► Head::prepare ──► Wal::append (group commit, fsync) ──► Head::apply ──► ack
//!                    (types, window,    one sync covers concurrent writers   (in WAL order)
//!                     series limit:     the record holds the admitted series     feed tail ──► live consumers
//!                     refusals per      only
//!                     series)
//!
//! Db::flush: freeze the head at WAL seq S ──► one part per partition (fsync, rename, fsync dir)
//!            ──► publish the parts, release the frozen points ──► drop WAL segments ≤ S
//! ```
//!
//! # Contract
//!
//! - [`Db::write`] and [`Db::write_with`] return only when what they store is durable in the
//!   WAL (per [`SyncMode`](crate::wal::SyncMode)) and visible to [`Db::read`].
//! - A write checks every series of its batch in one pass before the WAL append and reports
//!   each refused series with its reason (type for life, out-of-order window, series limit).
//!   The caller's [`WritePolicy`] decides the rest: [`WritePolicy::AllOrNothing`] stores
//!   nothing if any series is refused ([`Db::write`] is this policy, failing with the first
//!   refusal); [`WritePolicy::StoreTheRest`] stores the other series in one WAL record that
//!   holds exactly them. A refused series is never created. A failure of the batch as a whole
//!   (WAL poisoned, record too large) is an `Err` and stores nothing.
//! - Batches reach the head in WAL sequence order, so the head after a restart (replaying the
//!   WAL) equals the head before it, duplicates included.
//! - [`Db::read`] merges the head and the parts in time order; a timestamp held by several
//!   returns one point, the newest write's: the head wins over parts, a newer part over an
//!   older one.
//! - [`Db::flush`] writes everything the head holds into parts and then removes the WAL
//!   segments all of whose records are in parts. A crash at any moment loses no acknowledged
//!   point: the WAL is truncated only after the parts are durable, and a part written by a flush
//!   that a crash interrupted before the truncation only means that replay puts points back in
//!   the head that a part already holds; reads resolve them as duplicates, and since replay
//!   always covers a suffix of the WAL, the head's value is the newest. `docs/format/parts.md`
//!   gives the whole argument.
//! - A background thread flushes when the head's memory estimate exceeds
//!   [`PartsConfig::flush_head_bytes`] (with points for a quarter of it), every
//!   [`PartsConfig::flush_interval`], and once writes pause for [`PartsConfig::flush_idle`]
//!   after at least [`IDLE_FLUSH_MIN_WAL_BYTES`] of WAL; [`Db::close`] flushes.
//! - Every committed record reaches the commit [`feed`](crate::feed) in WAL order, from the same
//!   hook that applies it to the head. A flush keeps the WAL segments that named feed consumers
//!   have not committed past, within [`FeedConfig::max_held_segments`](crate::FeedConfig).
//! - [`Db::open`] loads the parts' indexes (their series are listed and keep their type for
//!   life) and replays the WAL into the head before returning.
//! - Everything takes `&self` and may be called from many threads; share the `Db` in an `Arc`.
//!   Calls block: from async code, call them on a blocking thread (`spawn_blocking` in tokio).
//!
//! Layout of the data directory: `wal/` holds the WAL segments, `parts/<partition>/` the parts.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use sextant_model::{OrgId, Point, SeriesKey, Timestamp, ValidatedBatch};

use crate::feed::{FeedConfig, FeedEvent, LocalFeed};
use crate::head::SeriesSelector;
use crate::head::{Head, HeadConfig, Prepared, SeriesInfo, SeriesMatcher, merge_last_wins};
use crate::part::{self, Keep, LocalParts, Part, PartFiles, PartSet};
use crate::wal::{Deletion, Record, Wal, WalConfig};
use crate::write::{WriteOutcome, WritePolicy};
use crate::{Error, Result};

/// The configuration of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbConfig {
    /// How the WAL is written.
    pub wal: WalConfig,
    /// How the head admits data.
    pub head: HeadConfig,
    /// How the head is written out to parts.
    pub parts: PartsConfig,
    /// How the commit feed keeps records for its readers.
    pub feed: FeedConfig,
}

/// How and when the head is written out to parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsConfig {
    /// The length of a time partition: a part holds points of one partition, and retention
    /// drops whole partitions. Default one day. Changing it leaves existing parts as they are.
    pub partition: Duration,
    /// The most points of one series in one block. Default 16,384.
    pub block_points: usize,
    /// Blocks of fewer points than this carry no summary of their values (first, last, min,
    /// max, sum) in the part's index; an aggregation decodes them instead. For series of a few
    /// points a part the summaries were most of the index. Default 32; 0 summarizes every
    /// block.
    pub summary_min_points: u32,
    /// The background flusher flushes when the head's memory estimate exceeds this many bytes
    /// and its points take at least a quarter of it (so that a head whose series alone take
    /// more is not flushed for a few points at a time). Default 256 MiB; `usize::MAX` turns
    /// it off.
    pub flush_head_bytes: usize,
    /// The background flusher also flushes this often. Default ten minutes; `None` turns it
    /// off.
    pub flush_interval: Option<Duration>,
    /// The background flusher also flushes once no write has been applied for this long, if
    /// the WAL has taken at least [`IDLE_FLUSH_MIN_WAL_BYTES`] since the last flush: after a
    /// burst of writes, the head's memory and the WAL's disk go back to the parts' compressed
    /// size within about this time instead of waiting for the interval. The pause is noticed
    /// at most a quarter of this time late. Default 30 seconds; `None` turns it off.
    pub flush_idle: Option<Duration>,
    /// After a flush, the background flusher merges, in every partition, the newest run of at
    /// least this many adjacent parts of similar size (within a factor of this number) into
    /// one. Default 4; `usize::MAX` turns background merges off.
    pub merge_min_parts: usize,
    /// How long series are kept, by name; the first rule whose pattern matches a series' name
    /// applies, and series no rule matches are kept for ever. Applied after every background
    /// flush, and by [`Db::apply_retention`]. Default: no rules.
    pub retention: Vec<RetentionRule>,
}

/// How long the series whose names match a pattern are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    /// A series name pattern: `*` matches any run of characters, everything else itself.
    /// `"*"` matches every series, `"mainmotor.*"` every series whose name starts so.
    pub series: String,
    /// Points are dropped, a whole partition at a time, once the partition's end is this far in
    /// the past.
    pub keep: Duration,
}

impl RetentionRule {
    fn matches(&self, name: &str) -> bool {
        glob_matches(self.series.as_bytes(), name.as_bytes())
    }
}

/// Whether `text` matches `pattern`, in which `*` matches any run of bytes.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    // Greedy with backtracking to the last star: linear for patterns with one star.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

impl Default for PartsConfig {
    fn default() -> Self {
        PartsConfig {
            partition: Duration::from_secs(24 * 3600),
            block_points: 16_384,
            summary_min_points: 32,
            flush_head_bytes: 256 << 20,
            flush_interval: Some(Duration::from_secs(600)),
            flush_idle: Some(Duration::from_secs(30)),
            merge_min_parts: 4,
            retention: Vec::new(),
        }
    }
}

impl PartsConfig {
    fn blocks(&self) -> part::Blocks {
        part::Blocks {
            points: self.block_points,
            summary_min_points: self.summary_min_points,
        }
    }

    fn partition_ns(&self) -> i64 {
        i64::try_from(self.partition.as_nanos())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    fn background(&self) -> bool {
        self.flush_head_bytes != usize::MAX
            || self.flush_interval.is_some()
            || self.flush_idle.is_some()
    }
}

/// The shortest time between two flushes the memory bound starts.
const MIN_FLUSH_GAP: Duration = Duration::from_millis(500);

/// How much nicer the flush thread is than the rest of the process (at most 19): under CPU
/// contention it gets about a tenth of what a request thread gets, and all the CPU left idle.
const BACKGROUND_NICE: i32 = 10;

/// The WAL bytes written since the last flush below which a pause in the writes does not flush
/// ([`PartsConfig::flush_idle`]): a writer that sends a little now and then would otherwise
/// make a small part at every pause, for little memory or disk saved.
pub const IDLE_FLUSH_MIN_WAL_BYTES: u64 = 1 << 20;

/// What an acknowledged write reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteReceipt {
    /// The WAL sequence number of the batch.
    pub seq: u64,
    /// How many points it held.
    pub points: usize,
}

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushReport {
    /// Every WAL record up to this one is in parts now.
    pub wal_seq: u64,
    /// Parts written.
    pub parts: usize,
    /// Points written (a point frozen again after a failed flush counts once).
    pub points: u64,
    /// WAL segments removed.
    pub wal_segments_removed: usize,
}

/// What a deletion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteReport {
    /// Series the selector matched.
    pub series: usize,
    /// Points removed from the head.
    pub head_points: u64,
    /// Partitions rewritten, or removed, because they held points that went.
    pub partitions_rewritten: usize,
    /// Series left with no point, which selections and listings no longer show.
    pub series_emptied: usize,
}

/// What a pass of merges or of retention did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaintenanceReport {
    /// Partitions rewritten as one part.
    pub partitions_rewritten: usize,
    /// Partitions removed whole.
    pub partitions_dropped: usize,
    /// Part files removed.
    pub parts_removed: usize,
}

/// A store over one data directory. See the module docs for its contract.
#[derive(Debug)]
pub struct Db {
    inner: Arc<Inner>,
    flusher: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    config: DbConfig,
    head: Head,
    wal: Wal,
    feed: LocalFeed,
    parts: PartSet,
    /// Where the part files are.
    files: Arc<dyn PartFiles>,
    /// Held shared while a batch is applied to the head, exclusively while a freeze begins,
    /// so that a freeze takes exactly the batches up to `applied_seq`.
    gate: RwLock<()>,
    /// The WAL sequence number of the last batch applied to the head.
    applied_seq: AtomicU64,
    /// One flush at a time; holds the next part id.
    flushing: Mutex<u64>,
    /// One merge or retention pass at a time.
    maintenance: Mutex<()>,
    signal: Signal,
}

/// Wakes the background flusher.
#[derive(Debug, Default)]
struct Signal {
    state: Mutex<SignalState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct SignalState {
    stop: bool,
    wanted: bool,
}

impl Db {
    /// Opens the store in `dir`, creating it if missing: loads the parts' indexes and replays
    /// the WAL into the head. Starts the background flusher if the configuration asks for one.
    pub fn open(dir: impl AsRef<Path>, config: DbConfig) -> Result<Db> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(Error::io("create data directory", dir))?;
        let files = Arc::new(LocalParts::open(dir.join("parts"))?);
        Db::open_with_parts(dir, config, files)
    }

    /// Opens the store in `dir` as [`Db::open`] does, with its part files in `files` instead
    /// of `dir/parts`; the WAL and feed positions stay in `dir`.
    pub fn open_with_parts(
        dir: impl AsRef<Path>,
        config: DbConfig,
        files: Arc<dyn PartFiles>,
    ) -> Result<Db> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(Error::io("create data directory", dir))?;
        let parts = part::load(&files)?;
        let head = Head::new(config.head.clone());
        for p in &parts {
            for (org, key, series) in p.series() {
                let newest = series.blocks.last().map_or(i64::MIN, |b| b.summary.max_ts);
                head.register(org, key, series.data_type, newest)?;
            }
        }
        // A deletion reaches the head at its place in the log; the parts are brought in line
        // after the replay (see `Inner::delete`).
        let mut deletions = Vec::new();
        let wal = Wal::open(
            &dir.join("wal"),
            config.wal.clone(),
            |_, record| match record {
                Record::Write(batch) => head.apply_replayed(&batch),
                Record::Delete(d) => {
                    head.delete(d.org, &d.keys, &d.range);
                    deletions.push(d);
                    Ok(())
                }
            },
        )?;
        let set = PartSet::default();
        set.add(parts);
        let next_id = set.max_id() + 1;
        let feed = LocalFeed::open(
            dir.join("wal"),
            dir.join("feed"),
            config.feed.clone(),
            wal.committed_seq(),
        )?;
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            applied_seq: AtomicU64::new(wal.durable_seq()),
            config,
            head,
            wal,
            feed,
            parts: set,
            files,
            gate: RwLock::new(()),
            flushing: Mutex::new(next_id),
            maintenance: Mutex::new(()),
            signal: Signal::default(),
        });
        for d in &deletions {
            inner.delete_in_parts(d)?;
            inner.hide_emptied(d);
        }
        let flusher = if inner.config.parts.background() {
            let worker = Arc::clone(&inner);
            let handle = std::thread::Builder::new()
                .name("sextant-flush".into())
                .spawn(move || worker.flush_in_background())
                .map_err(Error::io("start the flush thread", dir))?;
            Some(handle)
        } else {
            None
        };
        Ok(Db { inner, flusher })
    }

    /// Writes `batch` whole and returns once it is durable and readable.
    ///
    /// Fails without writing anything if a series conflicts with its type for life, has a
    /// point outside the out-of-order window or would exceed the organization's series limit
    /// (the error is the first such refusal; [`Db::write_with`] reports them all), or if the
    /// batch is too large for one WAL record.
    pub fn write(&self, batch: ValidatedBatch) -> Result<WriteReceipt> {
        let mut prepared = self.inner.head.prepare(&batch, WritePolicy::AllOrNothing);
        if let Some(first) = std::mem::take(&mut prepared.refused).into_iter().next() {
            return Err(first.error);
        }
        self.inner.append(batch, &prepared)
    }

    /// Writes `batch` under `policy` and returns once what it stores is durable and readable.
    ///
    /// Every series is checked in one pass before the WAL append; each refused series is
    /// reported in the outcome with its reason. Under [`WritePolicy::StoreTheRest`] the other
    /// series are stored in one WAL record, which holds exactly them, so that replay after a
    /// restart gives back what was acknowledged; under [`WritePolicy::AllOrNothing`] a refusal
    /// stores nothing. Refused series are never created.
    ///
    /// An `Err` is a failure of the batch as a whole (the WAL refuses writes, the record is
    /// too large) and stores nothing.
    pub fn write_with(&self, batch: ValidatedBatch, policy: WritePolicy) -> Result<WriteOutcome> {
        let mut prepared = self.inner.head.prepare(&batch, policy);
        let refused = std::mem::take(&mut prepared.refused);
        if refused.is_empty() {
            let receipt = self.inner.append(batch, &prepared)?;
            return Ok(WriteOutcome {
                receipt: Some(receipt),
                refused,
            });
        }
        let rest = match policy {
            WritePolicy::AllOrNothing => None,
            WritePolicy::StoreTheRest => {
                // Refusals are in batch order: one pass moves the admitted series out.
                let mut skip = refused.iter().map(|r| r.index).peekable();
                batch.retain(|i, _| skip.next_if_eq(&i).is_none())
            }
        };
        let receipt = match rest {
            Some(rest) => Some(self.inner.append(rest, &prepared)?),
            None => None,
        };
        Ok(WriteOutcome { receipt, refused })
    }

    /// The points of series `key` of `org` with timestamps in `range`, sorted by time, from
    /// the head and the parts; of several points with one timestamp, the newest write's.
    ///
    /// Fails with [`Error::SeriesNotFound`] for a series the store does not know, and with
    /// [`Error::PartCorrupt`] if a part block it needs is damaged.
    pub fn read(&self, org: OrgId, key: &SeriesKey, range: Range<Timestamp>) -> Result<Vec<Point>> {
        // The head first, then the parts: a flush publishes parts before it releases the
        // frozen points, so in this order no point is missed.
        let head = self.inner.head.read(org, key, range.clone())?;
        let parts = self.inner.parts.snapshot();
        with_parts(&parts, org, key, range, head)
    }

    /// The points of series `key` of `org` in `range` exactly as the store held them after
    /// the commit whose sequence number it returns: every write up to it, none after. A
    /// reader that goes on from the commit feed after that number, skipping this series'
    /// earlier records, sees each point once (live subscriptions' history).
    ///
    /// The head is read while no write is being applied (writers wait for that copy, not for
    /// the parts' reads), and the parts are those published by then: parts hold only points
    /// frozen out of the head, so none of them holds a later write.
    pub fn read_as_of(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> Result<(Vec<Point>, u64)> {
        let (head, parts, seq) = {
            let _no_writes = self.inner.gate.write();
            (
                self.inner.head.read(org, key, range.clone()),
                self.inner.parts.snapshot(),
                self.inner.applied_seq.load(Ordering::Acquire),
            )
        };
        Ok((with_parts(&parts, org, key, range, head?)?, seq))
    }

    /// The series of `org` that `matcher` selects, sorted by key, whether their points are in
    /// the head or only in parts.
    pub fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        self.inner.head.series(org, matcher)
    }

    /// The series of `org` that `selector` selects, sorted by key, whether their points are in
    /// the head or only in parts.
    pub fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<SeriesInfo> {
        self.inner.head.select(org, selector)
    }

    /// The label names of the series of `org` that `selector` selects, sorted, each once.
    pub fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String> {
        self.inner.head.label_names(org, selector)
    }

    /// The values of label `label` among the series of `org` that `selector` selects, sorted,
    /// each once; for [`NAME_LABEL`](crate::head::NAME_LABEL), their series names.
    pub fn label_values(&self, org: OrgId, label: &str, selector: &SeriesSelector) -> Vec<String> {
        self.inner.head.label_values(org, label, selector)
    }

    /// The series names of `org`, sorted, each once; only those starting with `prefix` if
    /// given.
    pub fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String> {
        self.inner.head.names(org, prefix)
    }

    /// Writes every point the head holds into parts, then removes the WAL segments whose
    /// records are all in parts. Returns once the parts are durable. Concurrent writes proceed
    /// (they wait only while the freeze begins, which visits no series); concurrent flushes
    /// run one after the other.
    ///
    /// On error the points stay in the head and the WAL, and the next flush writes them.
    pub fn flush(&self) -> Result<FlushReport> {
        self.inner.flush()
    }

    /// Merges the parts of every partition that has at least `min_parts` of them into one
    /// part per partition. Reads go on meanwhile; a crash at any moment leaves either the inputs
    /// or the merged part (see `docs/format/parts.md`).
    pub fn merge(&self, min_parts: usize) -> Result<MaintenanceReport> {
        self.inner.merge_parts(min_parts, false)
    }

    /// Drops the points of series that [`PartsConfig::retention`] says are expired at `now`
    /// (ns since the epoch), a whole partition at a time: a partition all of whose series are
    /// expired is removed, one that also holds series still kept is rewritten without the
    /// expired ones. Points still in the head are not affected. A series whose points are all
    /// dropped is no longer selected or listed (as after [`Db::delete`]).
    pub fn apply_retention(&self, now: Timestamp) -> Result<MaintenanceReport> {
        self.inner.apply_retention(now)
    }

    /// Deletes the points with timestamps in `range` of every series of `org` that
    /// `selector` selects, and returns once the deletion is durable: no read sees those points
    /// again, before or after a crash. A series left with no point disappears from selections
    /// and listings until it is written again; it keeps its type until the store is reopened
    /// without any trace of it.
    ///
    /// The deletion is a WAL record, applied to the head in log order like a write (a write
    /// acknowledged after the deletion is kept even inside `range`), then to the parts, whose
    /// partitions holding deleted points are rewritten without them. Flushes, merges and
    /// retention wait meanwhile; writes and reads go on. Replay applies the record again, to
    /// the head in order and to the parts after the replay, so a crash in the middle of the
    /// rewrites is completed on open.
    pub fn delete(
        &self,
        org: OrgId,
        selector: &SeriesSelector,
        range: Range<Timestamp>,
    ) -> Result<DeleteReport> {
        self.inner.delete(org, selector, range)
    }

    /// The parts, oldest first.
    pub fn parts(&self) -> Vec<Arc<Part>> {
        self.inner.parts.snapshot().to_vec()
    }

    /// The head, for reads beyond [`Db::read`] and for its statistics.
    pub fn head(&self) -> &Head {
        &self.inner.head
    }

    /// The WAL, for its statistics.
    pub fn wal(&self) -> &Wal {
        &self.inner.wal
    }

    /// The commit feed: every committed record, in WAL order, for live consumers.
    pub fn feed(&self) -> &LocalFeed {
        &self.inner.feed
    }

    /// Closes the store: stops the background flusher, flushes the head into parts and syncs
    /// the WAL, reporting a failure, which dropping the store can only log.
    pub fn close(mut self) -> Result<()> {
        self.stop_flusher();
        self.inner.flush()?;
        self.inner.wal.sync()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn stop_flusher(&mut self) {
        if let Some(handle) = self.flusher.take() {
            self.inner.signal.state.lock().stop = true;
            self.inner.signal.changed.notify_all();
            if handle.join().is_err() {
                tracing::error!("the flush thread panicked");
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_flusher();
    }
}

impl Signal {
    fn wake(&self) {
        let mut state = self.state.lock();
        if !state.wanted {
            state.wanted = true;
            self.changed.notify_all();
        }
    }
}

impl Inner {
    /// Appends `batch`, whose series `prepared` admitted, to the WAL and applies it to the
    /// head once durable, in WAL order.
    fn append(&self, batch: ValidatedBatch, prepared: &Prepared) -> Result<WriteReceipt> {
        let batch = Arc::new(batch);
        let (seq, ()) = self.wal.append_with(&batch, |seq| {
            let _applying = self.gate.read();
            self.head.apply(&batch, prepared);
            self.applied_seq.store(seq, Ordering::Release);
            self.feed.push(FeedEvent::Write {
                seq,
                batch: Arc::clone(&batch),
            });
        })?;
        if self.flush_wanted() {
            self.signal.wake();
        }
        Ok(WriteReceipt {
            seq,
            points: batch.point_count(),
        })
    }

    /// Whether the head is over its memory bound with enough points to be worth a flush: at
    /// least a quarter of the bound. A head whose series alone take more than the bound (a
    /// million series) would otherwise be flushed again and again for a few points each time,
    /// every flush visiting every series; it grows past the bound by a quarter of it instead.
    fn flush_wanted(&self) -> bool {
        let bound = self.config.parts.flush_head_bytes;
        self.head.memory_bytes() > bound && self.head.points_bytes() >= bound / 4
    }

    fn flush(&self) -> Result<FlushReport> {
        let mut next_id = self.flushing.lock();
        // Writes pause only while the freeze begins; the series are visited after.
        let (epoch, wal_seq) = {
            let _frozen = self.gate.write();
            (
                self.head.begin_freeze(),
                self.applied_seq.load(Ordering::Acquire),
            )
        };
        let frozen = self.head.freeze(epoch);
        let mut report = FlushReport {
            wal_seq,
            ..FlushReport::default()
        };
        if !frozen.series.is_empty() {
            let started = Instant::now();
            let parts = part::write_frozen(
                self.files.as_ref(),
                &frozen,
                self.config.parts.partition_ns(),
                self.config.parts.blocks(),
                wal_seq,
                &mut || {
                    let id = *next_id;
                    *next_id += 1;
                    id
                },
            )?;
            report.parts = parts.len();
            report.points = parts.iter().map(|p| p.points()).sum();
            self.parts.add(parts);
            self.head.release(frozen);
            tracing::info!(
                wal_seq,
                parts = report.parts,
                points = report.points,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "flushed the head into parts",
            );
        }
        // Everything up to wal_seq is durable in parts: the WAL may forget it, but for what
        // the feed's named consumers have yet to read.
        self.wal.rotate()?;
        let mut keep_from = self.wal_keep_from(wal_seq + 1);
        let replay = self.feed.replay();
        if !replay.is_zero()
            && let Some(recent) = self.wal.written_within(replay)
        {
            keep_from = keep_from.min(recent);
        }
        report.wal_segments_removed = self.wal.truncate_before(keep_from)?;
        Ok(report)
    }

    /// The first WAL record to keep when the parts hold everything before `flushed`: the
    /// oldest one a named feed consumer has not committed past, unless that keeps more than
    /// [`FeedConfig::max_held_segments`] segments the parts no longer need.
    fn wal_keep_from(&self, flushed: u64) -> u64 {
        let Some(hold) = self.feed.hold_from().filter(|&hold| hold < flushed) else {
            return flushed;
        };
        // Segment i holds records starts[i]..starts[i + 1]; only closed segments go.
        let starts = self.wal.segment_starts();
        let removable: Vec<usize> = (0..starts.len() - 1)
            .filter(|&i| starts[i + 1] <= flushed)
            .collect();
        let held: Vec<usize> = removable
            .into_iter()
            .filter(|&i| starts[i + 1] > hold)
            .collect();
        let max = self.feed.max_held_segments();
        if held.len() <= max {
            return hold;
        }
        let dropped = held.len() - max;
        tracing::warn!(
            held = held.len(),
            max,
            oldest_needed = hold,
            "a feed consumer is too far behind; removing the oldest WAL segments it has not read",
        );
        starts[held[dropped - 1] + 1]
    }

    fn delete(
        &self,
        org: OrgId,
        selector: &SeriesSelector,
        range: Range<Timestamp>,
    ) -> Result<DeleteReport> {
        let mut report = DeleteReport::default();
        // Neither a flush nor a rewrite may run between the head and the parts.
        let _flushes = self.flushing.lock();
        let _maintenance = self.maintenance.lock();
        let keys: Vec<SeriesKey> = self
            .head
            .select(org, selector)
            .into_iter()
            .map(|s| s.key)
            .collect();
        report.series = keys.len();
        if keys.is_empty() || range.start >= range.end {
            return Ok(report);
        }
        let deletion = Arc::new(Deletion { org, keys, range });
        let (_, removed) = self.wal.append_delete_with(&deletion, |seq| {
            let _applying = self.gate.read();
            let removed = self.head.delete(org, &deletion.keys, &deletion.range);
            self.applied_seq.store(seq, Ordering::Release);
            self.feed.push(FeedEvent::Delete {
                seq,
                deletion: Arc::clone(&deletion),
            });
            removed
        })?;
        report.head_points = removed;
        report.partitions_rewritten = self.delete_in_parts(&deletion)?;
        report.series_emptied = self.hide_emptied(&deletion);
        Ok(report)
    }

    /// Rewrites every partition holding points that `deletion` deletes without them; returns
    /// how many it rewrote. Idempotent: a partition without such points is left alone.
    fn delete_in_parts(&self, deletion: &Deletion) -> Result<usize> {
        let keys: HashSet<&SeriesKey> = deletion.keys.iter().collect();
        let range = &deletion.range;
        let org = deletion.org;
        let mut rewritten = 0;
        for inputs in self.parts_by_partition().into_values() {
            let mut touched = false;
            'parts: for p in &inputs {
                let (min, max) = p.time_range();
                if max < range.start || min >= range.end {
                    continue;
                }
                for key in &deletion.keys {
                    let mut points = Vec::new();
                    if p.read_into(org, key, range, &mut points)? && !points.is_empty() {
                        touched = true;
                        break 'parts;
                    }
                }
            }
            if !touched {
                continue;
            }
            let keep = |o: OrgId, k: &SeriesKey| {
                if o == org && keys.contains(k) {
                    Keep::Outside(range.clone())
                } else {
                    Keep::All
                }
            };
            let output = part::rewrite(
                self.files.as_ref(),
                &inputs,
                &keep,
                self.config.parts.blocks(),
            )?;
            self.swap(&inputs, output)?;
            rewritten += 1;
        }
        Ok(rewritten)
    }

    /// Hides the series of `deletion` that hold no point any more; returns how many.
    fn hide_emptied(&self, deletion: &Deletion) -> usize {
        deletion
            .keys
            .iter()
            .filter(|key| {
                self.head
                    .hide_if_empty(deletion.org, key, || self.in_parts(deletion.org, key))
            })
            .count()
    }

    /// Whether a part holds points of series `key` of `org`.
    fn in_parts(&self, org: OrgId, key: &SeriesKey) -> bool {
        self.parts
            .snapshot()
            .iter()
            .any(|p| p.get(org, key).is_some())
    }

    /// The parts, grouped by the partition they are filed under, oldest first within each.
    fn parts_by_partition(&self) -> BTreeMap<Timestamp, Vec<Arc<Part>>> {
        let mut groups: BTreeMap<Timestamp, Vec<Arc<Part>>> = BTreeMap::new();
        for p in self.parts.snapshot().iter() {
            groups
                .entry(p.location().partition)
                .or_default()
                .push(Arc::clone(p));
        }
        groups
    }

    /// Merges every partition with at least `min_parts` parts whole, or (`tiered`) only its
    /// newest run of parts of similar size.
    fn merge_parts(&self, min_parts: usize, tiered: bool) -> Result<MaintenanceReport> {
        let _one = self.maintenance.lock();
        let mut report = MaintenanceReport::default();
        for parts in self.parts_by_partition().into_values() {
            let run = if tiered {
                let sizes: Vec<u64> = parts.iter().map(|p| p.size()).collect();
                part::select_run(&sizes, min_parts)
            } else {
                Some(0..parts.len()).filter(|r| r.len() >= min_parts.max(2))
            };
            let Some(run) = run else {
                continue;
            };
            let inputs = &parts[run];
            let blocks = self.config.parts.blocks();
            let merged = part::rewrite(self.files.as_ref(), inputs, &|_, _| Keep::All, blocks)?;
            self.swap(inputs, merged)?;
            report.partitions_rewritten += 1;
            report.parts_removed += inputs.len();
        }
        Ok(report)
    }

    fn apply_retention(&self, now: Timestamp) -> Result<MaintenanceReport> {
        let rules = &self.config.parts.retention;
        let mut report = MaintenanceReport::default();
        if rules.is_empty() {
            return Ok(report);
        }
        let _one = self.maintenance.lock();
        // Series some of whose points were dropped; hidden at the end if none is left.
        let mut gone: Vec<(OrgId, SeriesKey)> = Vec::new();
        let expired = |end: Timestamp, key: &SeriesKey| {
            rules
                .iter()
                .find(|r| r.matches(key.name()))
                .is_some_and(|r| {
                    let keep = i64::try_from(r.keep.as_nanos()).unwrap_or(i64::MAX);
                    end <= now.saturating_sub(keep)
                })
        };
        for inputs in self.parts_by_partition().into_values() {
            let end = inputs
                .iter()
                .map(|p| p.partition().end)
                .max()
                .unwrap_or(i64::MAX);
            let (mut dropped, mut kept) = (false, false);
            for p in &inputs {
                for (org, key, _) in p.series() {
                    if expired(end, key) {
                        dropped = true;
                        gone.push((org, key.clone()));
                    } else {
                        kept = true;
                    }
                }
            }
            if !dropped {
                continue;
            }
            if kept {
                let rewritten = part::rewrite(
                    self.files.as_ref(),
                    &inputs,
                    &|_, key| {
                        if expired(end, key) {
                            Keep::Nothing
                        } else {
                            Keep::All
                        }
                    },
                    self.config.parts.blocks(),
                )?;
                self.swap(&inputs, rewritten)?;
                report.partitions_rewritten += 1;
            } else {
                self.swap(&inputs, None)?;
                report.partitions_dropped += 1;
            }
            report.parts_removed += inputs.len();
        }
        gone.sort();
        gone.dedup();
        for (org, key) in gone {
            self.head
                .hide_if_empty(org, &key, || self.in_parts(org, &key));
        }
        Ok(report)
    }

    /// Publishes `output` in place of `inputs` and removes the inputs' files (and an emptied
    /// partition). Readers holding a snapshot keep reading the removed files through their
    /// open handles.
    fn swap(&self, inputs: &[Arc<Part>], output: Option<Arc<Part>>) -> Result<()> {
        let names: Vec<_> = inputs.iter().map(|p| p.name()).collect();
        let replaced = output.as_ref().map(|p| p.name());
        self.parts.replace(&names, output);
        // A rewrite of a single part has its name: publishing it replaced the file atomically.
        let removed: Vec<_> = inputs
            .iter()
            .filter(|p| Some(p.name()) != replaced)
            .map(|p| p.location())
            .collect();
        self.files.remove(&removed)
    }

    /// The bytes the WAL has written since it was opened.
    fn wal_bytes(&self) -> u64 {
        self.wal.stats().bytes
    }

    /// Merges and applies retention after a background flush, logging failures.
    fn maintain(&self) {
        let config = &self.config.parts;
        if config.merge_min_parts != usize::MAX
            && let Err(e) = self.merge_parts(config.merge_min_parts, true)
        {
            tracing::error!(error = %e, "background merge failed");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        if let Err(e) = self.apply_retention(now) {
            tracing::error!(error = %e, "background retention failed");
        }
    }

    fn flush_in_background(&self) {
        // Below the threads that answer requests: flushes and merges take the CPU that writes
        // and queries leave, instead of delaying them (a flush of a million series keeps a
        // core busy for seconds).
        let tid = rustix::thread::gettid();
        let nice = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        let lower = nice.saturating_add(BACKGROUND_NICE).min(19);
        if let Err(error) = rustix::process::setpriority_process(Some(tid), lower) {
            tracing::warn!(%error, "could not lower the flush thread's priority");
        }
        let config = &self.config.parts;
        let mut last = Instant::now()
            .checked_sub(MIN_FLUSH_GAP)
            .unwrap_or_else(Instant::now);
        // The writes are watched through the last applied sequence number, read when the
        // thread wakes, so that the write path pays nothing for it.
        let mut idle = IdleWatch::new(self.applied_seq.load(Ordering::Acquire), self.wal_bytes());
        loop {
            let mut state = self.signal.state.lock();
            loop {
                if state.stop {
                    return;
                }
                let due = config.flush_interval.map(|i| last + i);
                let now = Instant::now();
                if due.is_some_and(|d| now >= d) {
                    break;
                }
                // A head over its bound with little to flush (its series alone may exceed it)
                // would otherwise be flushed after every write.
                if state.wanted && now >= last + MIN_FLUSH_GAP {
                    break;
                }
                let idle_due = config.flush_idle.and_then(|pause| {
                    idle.observe(self.applied_seq.load(Ordering::Acquire), now);
                    idle.due(pause, self.wal_bytes())
                });
                if idle_due.is_some_and(|d| now >= d) {
                    break;
                }
                let due = match due {
                    Some(d) if state.wanted => Some(d.min(last + MIN_FLUSH_GAP)),
                    Some(d) => Some(d),
                    None if state.wanted => Some(last + MIN_FLUSH_GAP),
                    None => None,
                };
                // Look at the writes again after a quarter of the pause, so that a pause is
                // noticed at most a quarter late.
                let due = match config.flush_idle {
                    Some(pause) => {
                        let check = now + pause / 4;
                        let check = idle_due.map_or(check, |d| d.min(check));
                        Some(due.map_or(check, |d| d.min(check)))
                    }
                    None => due,
                };
                match due {
                    Some(d) => {
                        self.signal.changed.wait_until(&mut state, d);
                    }
                    None => self.signal.changed.wait(&mut state),
                }
            }
            state.wanted = false;
            drop(state);
            last = Instant::now();
            idle.flushed(self.applied_seq.load(Ordering::Acquire), self.wal_bytes());
            let flushed = self.flush();
            self.maintain();
            if let Err(e) = flushed {
                tracing::error!(error = %e, "background flush failed; retrying later");
                // Back off, so that a persistent failure does not spin.
                let mut state = self.signal.state.lock();
                if !state.stop {
                    self.signal
                        .changed
                        .wait_for(&mut state, Duration::from_secs(1));
                }
            }
        }
    }
}

/// Whether the writes have paused long enough for [`PartsConfig::flush_idle`], from the last
/// applied sequence number as the flusher sees it when it wakes.
#[derive(Debug)]
struct IdleWatch {
    /// The last applied sequence number seen, and when it was first seen.
    seen: u64,
    since: Instant,
    /// The last applied sequence number and the WAL's bytes when the last flush began.
    flushed_seq: u64,
    flushed_bytes: u64,
}

impl IdleWatch {
    fn new(seq: u64, wal_bytes: u64) -> Self {
        IdleWatch {
            seen: seq,
            since: Instant::now(),
            flushed_seq: seq,
            flushed_bytes: wal_bytes,
        }
    }

    fn observe(&mut self, seq: u64, now: Instant) {
        if seq != self.seen {
            self.seen = seq;
            self.since = now;
        }
    }

    fn flushed(&mut self, seq: u64, wal_bytes: u64) {
        self.flushed_seq = seq;
        self.flushed_bytes = wal_bytes;
    }

    /// When a flush is due for the pause, if writes since the last flush would make one.
    fn due(&self, pause: Duration, wal_bytes: u64) -> Option<Instant> {
        let written = self.seen != self.flushed_seq
            && wal_bytes.saturating_sub(self.flushed_bytes) >= IDLE_FLUSH_MIN_WAL_BYTES;
        written.then(|| self.since + pause)
    }
}

/// `head`, the points of series `key` that the head holds in `range`, merged with those of
/// `parts` (the newest write wins at a timestamp).
fn with_parts(
    parts: &[Arc<Part>],
    org: OrgId,
    key: &SeriesKey,
    range: Range<Timestamp>,
    head: Vec<Point>,
) -> Result<Vec<Point>> {
    let mut sources = Vec::new();
    for p in parts.iter() {
        let (min, max) = p.time_range();
        if max < range.start || min >= range.end {
            continue;
        }
        let mut points = Vec::new();
        p.read_into(org, key, &range, &mut points)?;
        if !points.is_empty() {
            sources.push(points);
        }
    }
    if sources.is_empty() {
        return Ok(head);
    }
    sources.push(head);
    Ok(merge_last_wins(sources))
}

#[cfg(test)]
mod tests {
    use sextant_model::{DataType, ErrorKind, Value, WriteBatch};

    use super::*;

    fn key(run: &str) -> SeriesKey {
        SeriesKey::new(
            "mainmotor.velocity",
            [("asset", "NostromoLV426"), ("run", run)],
        )
        .unwrap()
    }

    fn batch(org: u64, run: &str, ts: &[i64]) -> ValidatedBatch {
        let mut b = WriteBatch::new(OrgId(org));
        let points = ts
            .iter()
            .map(|&t| Point::new(t, Value::Double(t as f64)))
            .collect();
        b.push(key(run), DataType::Double, points);
        b.validate().unwrap()
    }

    #[test]
    fn writes_are_readable_at_once_and_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        let r = db.write(batch(1, "R1", &[30, 10, 20])).unwrap();
        assert_eq!(r, WriteReceipt { seq: 1, points: 3 });
        db.write(batch(1, "R1", &[20])).unwrap();
        let want = db.read(OrgId(1), &key("R1"), 0..100).unwrap();
        assert_eq!(
            want.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        drop(db);

        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        assert_eq!(db.read(OrgId(1), &key("R1"), 0..100).unwrap(), want);
        assert_eq!(db.write(batch(1, "R1", &[40])).unwrap().seq, 3);
    }

    #[test]
    fn rejected_writes_leave_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        db.write(batch(1, "R1", &[10])).unwrap();
        let mut b = WriteBatch::new(OrgId(1));
        b.push(
            key("R1"),
            DataType::Int64,
            vec![Point::new(11, Value::Int64(1))],
        );
        let err = db.write(b.validate().unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(db.wal().durable_seq(), 1);
        drop(db);
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        assert_eq!(db.read(OrgId(1), &key("R1"), 0..100).unwrap().len(), 1);
    }

    #[test]
    fn concurrent_duplicates_resolve_the_same_before_and_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = std::sync::Arc::new(Db::open(dir.path(), DbConfig::default()).unwrap());
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let db = std::sync::Arc::clone(&db);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let mut b = WriteBatch::new(OrgId(1));
                        let points = (0..8)
                            .map(|t| Point::new(t, Value::Double((w * 100 + i) as f64)))
                            .collect();
                        b.push(key("R1"), DataType::Double, points);
                        db.write(b.validate().unwrap()).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let before = db.read(OrgId(1), &key("R1"), 0..100).unwrap();
        assert_eq!(before.len(), 8);
        drop(db);
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        assert_eq!(db.read(OrgId(1), &key("R1"), 0..100).unwrap(), before);
    }

    /// Flushes run while writers write: a flush pauses writes only while it begins, and
    /// writes to series it has not reached yet take their earlier points aside themselves.
    /// Every point reads back with its last value, before and after reopening, and the
    /// parts with what the WAL still holds hold each exactly once.
    #[test]
    fn writes_during_flushes_are_kept_with_their_last_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = std::sync::Arc::new(Db::open(dir.path(), quiet()).unwrap());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flusher = {
            let (db, done) = (std::sync::Arc::clone(&db), std::sync::Arc::clone(&done));
            std::thread::spawn(move || {
                let mut flushes = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    db.flush().unwrap();
                    flushes += 1;
                }
                flushes
            })
        };
        // Each writer owns its series; every timestamp is written twice, the second value
        // last, so that the answer is known whatever the flushes split.
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let db = std::sync::Arc::clone(&db);
                std::thread::spawn(move || {
                    for round in 0..40i64 {
                        for pass in 0..2 {
                            let mut b = WriteBatch::new(OrgId(1));
                            for s in 0..50 {
                                let t = round * 10;
                                let v = (w * 1_000_000 + s * 1_000 + round * 2 + pass) as f64;
                                b.push(
                                    key(&format!("w{w}s{s}")),
                                    DataType::Double,
                                    vec![
                                        Point::new(t, Value::Double(v)),
                                        Point::new(t + 1, Value::Double(-v)),
                                    ],
                                );
                            }
                            db.write(b.validate().unwrap()).unwrap();
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        let flushes = flusher.join().unwrap();
        assert!(flushes > 0);
        let expected = |w: i64, s: i64| -> Vec<(i64, f64)> {
            (0..40i64)
                .flat_map(|round| {
                    let v = (w * 1_000_000 + s * 1_000 + round * 2 + 1) as f64;
                    [(round * 10, v), (round * 10 + 1, -v)]
                })
                .collect()
        };
        let check = |db: &Db| {
            for w in 0..3 {
                for s in 0..50 {
                    assert_eq!(values(db, &format!("w{w}s{s}")), expected(w, s), "w{w}s{s}");
                }
            }
        };
        check(&db);
        let db = std::sync::Arc::into_inner(db).unwrap();
        drop(db);
        let db = Db::open(dir.path(), quiet()).unwrap();
        check(&db);
        db.flush().unwrap();
        check(&db);
    }

    /// A head whose series alone take more than the memory bound is flushed once its points
    /// take a quarter of the bound, not for every few points.
    #[test]
    fn a_head_of_many_series_waits_for_points_worth_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = quiet();
        config.parts.flush_head_bytes = 256 << 10;
        let db = Db::open(dir.path(), config).unwrap();
        let write = |series: std::ops::Range<usize>, t: i64| {
            let mut b = WriteBatch::new(OrgId(1));
            for s in series {
                b.push(
                    key(&format!("s{s}")),
                    DataType::Double,
                    vec![Point::new(t, Value::Double(t as f64))],
                );
            }
            db.write(b.validate().unwrap()).unwrap();
        };
        // Series until they alone take more than the bound, their points then flushed.
        let mut n = 0;
        while db.head().memory_bytes() - db.head().points_bytes() <= 256 << 10 {
            write(n..n + 100, 0);
            n += 100;
        }
        db.flush().unwrap();
        assert!(db.head().memory_bytes() > 256 << 10);
        assert_eq!(db.head().points_bytes(), 0);
        write(0..100, 1);
        assert!(
            db.head().points_bytes() < 64 << 10,
            "{}",
            db.head().points_bytes()
        );
        assert!(!db.inner.flush_wanted(), "a few points over the bound");
        let mut t = 2;
        while db.head().points_bytes() < 64 << 10 {
            write(0..n, t);
            t += 1;
        }
        assert!(db.inner.flush_wanted());
        db.flush().unwrap();
        assert_eq!(db.head().points_bytes(), 0);
        assert!(!db.inner.flush_wanted());
    }

    fn quiet() -> DbConfig {
        DbConfig {
            head: HeadConfig {
                out_of_order_window: Duration::from_secs(3600),
                ..HeadConfig::default()
            },
            parts: PartsConfig {
                partition: Duration::from_nanos(100),
                flush_head_bytes: usize::MAX,
                flush_interval: None,
                flush_idle: None,
                ..PartsConfig::default()
            },
            ..DbConfig::default()
        }
    }

    fn values(db: &Db, run: &str) -> Vec<(i64, f64)> {
        db.read(OrgId(1), &key(run), i64::MIN..i64::MAX)
            .unwrap()
            .into_iter()
            .map(|p| match p.value {
                Value::Double(v) => (p.timestamp, v),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn batch_values(run: &str, points: &[(i64, f64)]) -> ValidatedBatch {
        let mut b = WriteBatch::new(OrgId(1));
        let points = points
            .iter()
            .map(|&(t, v)| Point::new(t, Value::Double(v)))
            .collect();
        b.push(key(run), DataType::Double, points);
        b.validate().unwrap()
    }

    #[test]
    fn flushed_points_read_back_merged_with_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        db.write(batch_values("R1", &[(10, 1.0), (150, 2.0), (20, 3.0)]))
            .unwrap();
        let report = db.flush().unwrap();
        assert_eq!((report.wal_seq, report.parts, report.points), (1, 2, 3));
        assert!(db.head().memory_bytes() < 4096);
        // Newer writes win over the parts, within and across partitions.
        db.write(batch_values("R1", &[(20, 4.0), (30, 5.0)]))
            .unwrap();
        let want = vec![(10, 1.0), (20, 4.0), (30, 5.0), (150, 2.0)];
        assert_eq!(values(&db, "R1"), want);
        db.flush().unwrap();
        assert_eq!(values(&db, "R1"), want);
        assert_eq!(db.parts().len(), 3);
        let ranged = db.read(OrgId(1), &key("R1"), 20..150).unwrap();
        assert_eq!(ranged.len(), 2);
        drop(db);

        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(values(&db, "R1"), want);
        assert_eq!(db.series(OrgId(1), &SeriesMatcher::all()).len(), 1);
        // The out-of-order window still counts from the newest point, now in a part.
        let err = db
            .write(batch_values("R1", &[(-10_000_000_000_000, 0.0)]))
            .unwrap_err();
        assert!(err.to_string().contains("too old"), "{err}");
        // The series keeps its type for life after its points left the head.
        let mut b = WriteBatch::new(OrgId(1));
        b.push(
            key("R1"),
            DataType::Int64,
            vec![Point::new(40, Value::Int64(1))],
        );
        let err = db.write(b.validate().unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn flush_removes_covered_wal_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = quiet();
        config.wal.segment_bytes = 256;
        let db = Db::open(dir.path(), config.clone()).unwrap();
        for i in 0..20 {
            db.write(batch_values("R1", &[(i, i as f64)])).unwrap();
        }
        assert!(db.wal().segment_count() > 3);
        let report = db.flush().unwrap();
        assert!(report.wal_segments_removed > 3, "{report:?}");
        assert_eq!(db.wal().segment_count(), 1);
        db.write(batch_values("R1", &[(5, -1.0)])).unwrap();
        drop(db);
        let db = Db::open(dir.path(), config).unwrap();
        let got = values(&db, "R1");
        assert_eq!(got.len(), 20);
        assert_eq!(got[5], (5, -1.0));
        assert_eq!(db.wal().durable_seq(), 21);
    }

    #[test]
    fn closing_flushes_and_the_flusher_follows_the_memory_bound() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        db.write(batch_values("R1", &[(1, 1.0)])).unwrap();
        db.close().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(db.parts().len(), 1);
        assert_eq!(db.head().read(OrgId(1), &key("R1"), 0..10).unwrap(), vec![]);
        assert_eq!(values(&db, "R1"), vec![(1, 1.0)]);
        drop(db);

        let mut config = quiet();
        config.parts.flush_head_bytes = 1;
        let db = Db::open(dir.path(), config).unwrap();
        db.write(batch_values("R1", &[(2, 2.0)])).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while db.parts().len() < 2 {
            assert!(Instant::now() < deadline, "the background flush never ran");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(values(&db, "R1"), vec![(1, 1.0), (2, 2.0)]);
    }

    #[test]
    fn a_pause_after_enough_writes_flushes_and_frees_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = quiet();
        config.parts.partition = Duration::from_secs(24 * 3600);
        config.parts.flush_idle = Some(Duration::from_millis(200));
        let db = Db::open(dir.path(), config).unwrap();
        // Less WAL than the minimum: a pause does not flush.
        db.write(batch_values("R1", &[(1, 1.0)])).unwrap();
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(db.parts().len(), 0);

        // Values that do not compress, so that the WAL takes more than the minimum.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut written = 1;
        for chunk in 0..40 {
            let points: Vec<(i64, f64)> = (0..5_000)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (2 + chunk * 5_000 + i, f64::from_bits(x >> 2))
                })
                .collect();
            written += points.len();
            db.write(batch_values("R1", &points)).unwrap();
        }
        assert!(db.wal().stats().bytes > IDLE_FLUSH_MIN_WAL_BYTES);
        // Every point reaches parts (in one flush, or more if a slow machine paused between
        // writes), and the WAL segments they were in go once they are in parts.
        let deadline = Instant::now() + Duration::from_secs(20);
        let in_parts = |db: &Db| -> u64 { db.parts().iter().map(|p| p.points()).sum() };
        while in_parts(&db) < written as u64 || db.wal().segment_count() > 1 {
            assert!(
                Instant::now() < deadline,
                "the pause never flushed: {} of {written} points in parts, {} WAL segments",
                in_parts(&db),
                db.wal().segment_count()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(in_parts(&db), written as u64);
        assert_eq!(values(&db, "R1").len(), written);
    }

    #[test]
    fn parts_share_the_head_s_keys_after_flushes_merges_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = quiet();
        config.parts.partition = Duration::from_secs(24 * 3600);
        let db = Db::open(dir.path(), config.clone()).unwrap();
        let shared = |db: &Db| {
            let head = db.head().series(OrgId(1), &SeriesMatcher::default());
            assert_eq!(head.len(), 2);
            db.parts().iter().all(|part| {
                part.series()
                    .all(|(_, key, _)| head.iter().any(|s| s.key.shares_memory_with(key)))
            })
        };
        for i in 0..4 {
            db.write(batch_values("R1", &[(i, 1.0)])).unwrap();
            db.write(batch_values("R2", &[(i, 2.0)])).unwrap();
            db.flush().unwrap();
        }
        assert_eq!(db.parts().len(), 4);
        assert!(shared(&db), "flushed parts parse their own keys");
        db.merge(2).unwrap();
        assert_eq!(db.parts().len(), 1);
        assert!(shared(&db), "a merged part parses its own keys");
        drop(db);
        let db = Db::open(dir.path(), config).unwrap();
        assert!(shared(&db), "parts loaded on open parse their own keys");
    }

    #[test]
    fn merges_replace_parts_and_survive_a_crash_before_removing_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        for i in 0..4 {
            db.write(batch_values("R1", &[(i, i as f64), (i + 1, -1.0)]))
                .unwrap();
            db.flush().unwrap();
        }
        let want = values(&db, "R1");
        assert_eq!(want, [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (4, -1.0)]);
        let inputs: Vec<(PathBuf, Vec<u8>)> = db
            .parts()
            .iter()
            .map(|p| (p.path().to_owned(), fs::read(p.path()).unwrap()))
            .collect();
        assert_eq!(db.merge(5).unwrap(), MaintenanceReport::default());
        let report = db.merge(4).unwrap();
        assert_eq!((report.partitions_rewritten, report.parts_removed), (1, 4));
        let parts = db.parts();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name(), part::PartName { first: 1, last: 4 });
        assert_eq!(parts[0].points(), 5);
        assert_eq!(values(&db, "R1"), want);
        drop(db);
        // As if a crash came after the merged part was in place but before the inputs went.
        for (path, bytes) in &inputs {
            fs::write(path, bytes).unwrap();
        }
        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(db.parts().len(), 1);
        assert!(inputs.iter().all(|(path, _)| !path.exists()));
        assert_eq!(values(&db, "R1"), want);
    }

    #[test]
    fn background_merges_take_runs_of_similar_parts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        // One big part, then three small ones in the same partition.
        let big: Vec<(i64, f64)> = (0..90).map(|t| (t, (t as f64 * 1.7).sin() / 7.0)).collect();
        db.write(batch_values("R1", &big)).unwrap();
        db.flush().unwrap();
        for t in 90..93 {
            db.write(batch_values("R1", &[(t, 1.0)])).unwrap();
            db.flush().unwrap();
        }
        let want = values(&db, "R1");
        let sizes: Vec<u64> = db.parts().iter().map(|p| p.size()).collect();
        let report = db.inner.merge_parts(3, true).unwrap();
        assert_eq!(report.parts_removed, 3, "{report:?} {sizes:?}");
        let names: Vec<_> = db.parts().iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                part::PartName::single(1),
                part::PartName { first: 2, last: 4 }
            ]
        );
        assert_eq!(values(&db, "R1"), want);
        assert_eq!(db.inner.merge_parts(3, true).unwrap().parts_removed, 0);
    }

    #[test]
    fn retention_drops_whole_partitions_per_series_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = quiet();
        config.parts.retention = vec![
            RetentionRule {
                series: "mainmotor.*".into(),
                keep: Duration::from_nanos(1000),
            },
            RetentionRule {
                series: "*".into(),
                keep: Duration::from_nanos(5000),
            },
        ];
        let db = Db::open(dir.path(), config).unwrap();
        let mut b = WriteBatch::new(OrgId(1));
        let other = SeriesKey::new("battery.voltage", [("asset", "NostromoLV426")]).unwrap();
        b.push(
            other.clone(),
            DataType::Double,
            vec![Point::new(50, Value::Double(1.0))],
        );
        b.push(
            key("R1"),
            DataType::Double,
            vec![Point::new(60, Value::Double(2.0))],
        );
        db.write(b.validate().unwrap()).unwrap();
        db.write(batch_values("R1", &[(4500, 3.0)])).unwrap();
        db.flush().unwrap();
        assert_eq!(db.parts().len(), 2);
        // Partition [0, 100) ended 1,000 ns before 1,100: mainmotor expires, battery stays.
        let report = db.apply_retention(1_100).unwrap();
        assert_eq!(
            (report.partitions_rewritten, report.partitions_dropped),
            (1, 0)
        );
        assert_eq!(values(&db, "R1"), [(4500, 3.0)]);
        assert_eq!(db.read(OrgId(1), &other, 0..100).unwrap().len(), 1);
        // Partition [0, 100) is 5,000 ns old at 5,100: dropped whole, with its directory.
        let report = db.apply_retention(5_100).unwrap();
        assert_eq!(
            (report.partitions_rewritten, report.partitions_dropped),
            (0, 1)
        );
        assert!(db.read(OrgId(1), &other, 0..100).unwrap().is_empty());
        assert!(!dir.path().join("parts").join("0").exists());
        // The series whose every point expired is no longer listed.
        assert_eq!(db.names(OrgId(1), None), ["mainmotor.velocity"]);
        assert_eq!(values(&db, "R1"), [(4500, 3.0)]);
    }

    fn listed(db: &Db, org: u64) -> Vec<String> {
        db.select(OrgId(org), &SeriesSelector::all())
            .into_iter()
            .map(|s| s.key.to_string())
            .collect()
    }

    #[test]
    fn deletes_reach_head_and_parts_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        // R1 in two partitions on disk and in the head; R2 only in the head; org 2 apart.
        db.write(batch_values("R1", &[(10, 1.0), (50, 2.0), (150, 3.0)]))
            .unwrap();
        db.flush().unwrap();
        db.write(batch_values("R1", &[(60, 4.0), (160, 5.0)]))
            .unwrap();
        db.write(batch_values("R2", &[(55, 6.0)])).unwrap();
        db.write(batch(2, "R1", &[55])).unwrap();

        let all_runs = SeriesSelector::name("mainmotor.velocity");
        let report = db.delete(OrgId(1), &all_runs, 50..155).unwrap();
        assert_eq!(report.series, 2);
        assert_eq!(report.head_points, 2);
        assert_eq!(report.partitions_rewritten, 2);
        assert_eq!(report.series_emptied, 1);
        assert_eq!(values(&db, "R1"), [(10, 1.0), (160, 5.0)]);
        assert_eq!(values(&db, "R2"), []);
        // The emptied series is no longer listed; the other organization is untouched.
        assert_eq!(listed(&db, 1), [key("R1").to_string()]);
        assert_eq!(db.names(OrgId(1), None), ["mainmotor.velocity"]);
        assert_eq!(
            db.label_values(OrgId(1), "run", &SeriesSelector::all()),
            ["R1"]
        );
        assert_eq!(db.read(OrgId(2), &key("R1"), 0..100).unwrap().len(), 1);

        // A write after the deletion is kept, even inside the deleted range, and shows the
        // emptied series again.
        db.write(batch_values("R2", &[(70, 7.0)])).unwrap();
        assert_eq!(listed(&db, 1).len(), 2);
        db.delete(OrgId(1), &all_runs, 0..1000).unwrap();
        db.write(batch_values("R1", &[(100, 8.0)])).unwrap();
        let want_r1 = vec![(100, 8.0)];
        assert_eq!(values(&db, "R1"), want_r1);
        assert_eq!(listed(&db, 1), [key("R1").to_string()]);

        drop(db);
        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(values(&db, "R1"), want_r1);
        assert!(db.read(OrgId(1), &key("R2"), 0..1000).unwrap().is_empty());
        assert_eq!(listed(&db, 1), [key("R1").to_string()]);
        db.close().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(values(&db, "R1"), want_r1);
        assert_eq!(listed(&db, 1), [key("R1").to_string()]);
        // With no trace left, the deleted series is forgotten, type and all.
        let mut b = WriteBatch::new(OrgId(1));
        b.push(
            key("R2"),
            DataType::Int64,
            vec![Point::new(1, Value::Int64(1))],
        );
        db.write(b.validate().unwrap()).unwrap();
    }

    #[test]
    fn a_deletion_cut_short_by_a_crash_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        db.write(batch_values("R1", &[(10, 1.0), (20, 2.0), (150, 3.0)]))
            .unwrap();
        db.flush().unwrap();
        let before: Vec<(PathBuf, Vec<u8>)> = db
            .parts()
            .iter()
            .map(|p| (p.path().to_owned(), fs::read(p.path()).unwrap()))
            .collect();
        db.delete(
            OrgId(1),
            &SeriesSelector::name("mainmotor.velocity"),
            15..200,
        )
        .unwrap();
        assert_eq!(values(&db, "R1"), [(10, 1.0)]);
        drop(db);
        // As if the crash came after the deletion was logged, before any part was rewritten.
        for (path, bytes) in &before {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(values(&db, "R1"), [(10, 1.0)]);
        assert!(!dir.path().join("parts").join("100").exists());
        // Flushing truncates the WAL: the parts alone now say what was deleted.
        db.close().unwrap();
        let db = Db::open(dir.path(), quiet()).unwrap();
        assert_eq!(values(&db, "R1"), [(10, 1.0)]);
    }

    #[test]
    fn globs_match_series_names() {
        for (pattern, name, want) in [
            ("*", "anything", true),
            ("mainmotor.*", "mainmotor.velocity", true),
            ("mainmotor.*", "main.velocity", false),
            ("*.velocity", "mainmotor.velocity", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYc1", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(
                glob_matches(pattern.as_bytes(), name.as_bytes()),
                want,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn organizations_do_not_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        db.write(batch(1, "R1", &[10])).unwrap();
        let err = db.read(OrgId(2), &key("R1"), 0..100).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(db.series(OrgId(2), &SeriesMatcher::all()).is_empty());
        assert_eq!(db.series(OrgId(1), &SeriesMatcher::all()).len(), 1);
    }
}
