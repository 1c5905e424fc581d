//! The write-ahead log: where a validated batch, or a deletion, becomes durable before it is
//! acknowledged.
//!
//! The log is a directory of segment files (`<data dir>/wal/00000000000000000001.wal`, ...),
//! each a versioned header followed by framed records (length, CRC-32, sequence number,
//! payload); `docs/format/wal.md` draws the layout byte by byte.
//!
//! # Contract
//!
//! - **Durability.** With [`SyncMode::Always`] (the default), [`Wal::append`] returns only after
//!   the record, and every record before it, has been written and `fdatasync`ed. With
//!   [`SyncMode::Relaxed`] it returns once the record is written to the operating system, which
//!   survives a crash of the process but not of the machine; see there.
//! - **Group commit.** Any number of threads may append at once. Records are framed by each
//!   caller, then copied into one shared buffer; whichever caller finds no write in progress
//!   becomes the leader, writes the whole buffer and syncs once, and wakes everyone it covered.
//!   Callers that arrive meanwhile queue their records for the next leader. So under load one
//!   sync covers many writers, and with one writer there is no extra hand-off or thread.
//! - **Ordering.** Sequence numbers are consecutive and follow the order of the file. The
//!   `on_durable` hook of [`Wal::append_with`] runs once per record, in sequence order across
//!   all writers, after the record is durable: the caller uses it to apply the batch to the
//!   head, so that the head sees writes in the order replay will.
//! - **Failure.** If a write or sync fails, the log is poisoned: the callers in that group and
//!   every later one get [`Error::WalPoisoned`], since after a failed
//!   `fsync` the kernel may have dropped the dirty pages and retrying proves nothing. Reopening
//!   replays what did reach the disk.
//! - **Recovery.** [`Wal::open`] replays every record in order. A torn tail of the last segment
//!   (a partial record or a CRC mismatch) is cut off with a warning: those writes were never
//!   acknowledged. Damage anywhere else is an error naming the file and byte offset.
//! - **Async callers.** The calls block. From async code run them on a blocking thread (for
//!   tokio, `spawn_blocking`); the crate itself uses no runtime.

mod columns;
pub(crate) mod payload;
pub(crate) use segment::sync_dir;
pub(crate) mod reader;
mod replay;
mod segment;

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use sextant_model::{OrgId, SeriesKey, Timestamp, ValidatedBatch};

use crate::{Error, Result};
use segment::{FRAME_LEN, SegmentRef};

/// A record of the log, as replay hands it back.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A batch of points.
    Write(ValidatedBatch),
    /// The deletion of points.
    Delete(Deletion),
}

/// The deletion of the points of some series of one organization in a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The organization.
    pub org: OrgId,
    /// The series, resolved when the deletion was made.
    pub keys: Vec<SeriesKey>,
    /// The timestamps whose points go.
    pub range: Range<Timestamp>,
}

/// Decodes the payload of one record (the bytes after its frame) as replay does. The error
/// names the byte offset inside the payload and what is wrong. Used by the fuzz targets.
#[doc(hidden)]
pub fn decode_payload(payload: &[u8]) -> std::result::Result<Record, String> {
    payload::decode(payload).map_err(|e| format!("at payload byte {}: {}", e.offset, e.detail))
}

/// When appended records are synced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every append returns after an `fdatasync` covering its record; concurrent appends share
    /// one sync. An acknowledged write survives power loss. The default.
    #[default]
    Always,
    /// Appends return once the record is written to the operating system; a background thread
    /// syncs every `interval` while there is unsynced data. An acknowledged write survives a
    /// crash of the process, but power loss or a kernel crash can lose up to about `interval` of
    /// acknowledged writes. Never the default; for bulk loads that can be repeated.
    Relaxed {
        /// The longest time written data stays unsynced.
        interval: Duration,
    },
}

/// How the WAL is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalConfig {
    /// When records are synced.
    pub sync: SyncMode,
    /// A segment that has grown to this many bytes is closed and a new one started. Records
    /// never span segments, so a segment may end somewhat past this size.
    pub segment_bytes: u64,
    /// The largest encoded batch accepted, in bytes; larger ones fail with
    /// [`Error::BatchTooLarge`].
    pub max_record_bytes: usize,
    /// Whether payloads of at least 256 bytes are compressed (zstd, level 1) when that makes
    /// them smaller. Replay reads both kinds either way.
    pub compress: bool,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            sync: SyncMode::Always,
            segment_bytes: 64 << 20,
            max_record_bytes: 64 << 20,
            compress: true,
        }
    }
}

/// Counters of a WAL since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records appended.
    pub appends: u64,
    /// Groups written, each with one write and (in [`SyncMode::Always`]) one sync.
    /// `appends / groups` is the average group size.
    pub groups: u64,
    /// Bytes written, frames included.
    pub bytes: u64,
}

/// The write-ahead log of one store. See the module docs for its contract.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    syncer: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    config: WalConfig,
    state: Mutex<State>,
    /// Signalled when `durable_seq`, `committed_seq`, `leader` or `poisoned` change.
    changed: Condvar,
    /// The open segment. Held by the leader while it writes and syncs, by the background syncer
    /// and by [`Wal::truncate_before`]; never while `state` is held.
    io: Mutex<Writer>,
    /// Set to stop the background syncer.
    stop: Mutex<bool>,
    stop_signal: Condvar,
}

#[derive(Debug)]
struct State {
    /// Framed records not yet handed to a leader.
    pending: Vec<u8>,
    /// The sequence number of the last record in `pending`.
    pending_last: u64,
    /// A spare buffer, so that buffers are reused rather than reallocated.
    spare: Vec<u8>,
    next_seq: u64,
    /// Every record up to this one is durable (or, in relaxed mode, written).
    durable_seq: u64,
    /// Every record up to this one has had its `on_durable` hook run.
    committed_seq: u64,
    /// Whether a leader is writing a group now.
    leader: bool,
    poisoned: Option<String>,
    stats: WalStats,
}

#[derive(Debug)]
struct Writer {
    file: File,
    path: PathBuf,
    len: u64,
    /// Closed segments, oldest first; the open one is not among them.
    closed: Vec<SegmentRef>,
    first_seq: u64,
    /// The sequence number of the last record written to the open segment or before it.
    last_seq: u64,
    /// Whether written data awaits a sync (relaxed mode only).
    dirty: bool,
    last_sync: Instant,
    /// How long each sync took.
    sync_latency: SyncLatency,
}

/// How long the WAL's syncs took: a histogram with fixed bucket bounds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncLatency {
    /// Syncs that took at most [`SyncLatency::BOUNDS`]`[i]` seconds and more than the bound
    /// before it; the last entry counts the slower ones.
    pub counts: [u64; SyncLatency::BOUNDS.len() + 1],
    /// The syncs' total time, in seconds.
    pub sum_seconds: f64,
}

impl SyncLatency {
    /// The upper bounds of the buckets, in seconds.
    pub const BOUNDS: [f64; 12] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    ];

    /// How many syncs there were.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = Self::BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(Self::BOUNDS.len());
        self.counts[bucket] += 1;
        self.sum_seconds += seconds;
    }
}

impl Wal {
    /// Opens the WAL in `dir` (created if missing), calls `on_record` with every record in
    /// sequence order, and returns the log ready to append after the last one.
    ///
    /// A torn tail of the last segment is truncated with a warning. Corruption elsewhere, and
    /// any error `on_record` returns, stops the replay and is returned.
    pub fn open(
        dir: &Path,
        config: WalConfig,
        mut on_record: impl FnMut(u64, Record) -> Result<()>,
    ) -> Result<Wal> {
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(Error::io("create WAL directory", dir))?;
            // The directory's own entry must be durable before anything in it is acknowledged.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                segment::sync_dir(parent)?;
            }
        }
        let started = Instant::now();
        let mut recovered = replay::replay(dir, &mut on_record)?;
        tracing::info!(
            dir = %dir.display(),
            records = recovered.records,
            segments = recovered.segments.len(),
            next_seq = recovered.next_seq,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "replayed WAL",
        );
        let writer = match recovered.segments.pop() {
            Some(last) => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(&last.path)
                    .map_err(Error::io("open WAL segment", &last.path))?;
                let len = file
                    .seek(SeekFrom::End(0))
                    .map_err(Error::io("seek WAL segment", &last.path))?;
                Writer {
                    file,
                    path: last.path,
                    len,
                    closed: recovered.segments,
                    first_seq: last.first_seq,
                    last_seq: recovered.next_seq - 1,
                    dirty: false,
                    last_sync: Instant::now(),
                    sync_latency: SyncLatency::default(),
                }
            }
            None => {
                let (file, path) = segment::create(dir, recovered.next_seq)?;
                Writer {
                    file,
                    path,
                    len: segment::HEADER_LEN as u64,
                    closed: Vec::new(),
                    first_seq: recovered.next_seq,
                    last_seq: recovered.next_seq - 1,
                    dirty: false,
                    last_sync: Instant::now(),
                    sync_latency: SyncLatency::default(),
                }
            }
        };
        let last = recovered.next_seq - 1;
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            config,
            state: Mutex::new(State {
                pending: Vec::new(),
                pending_last: last,
                spare: Vec::new(),
                next_seq: recovered.next_seq,
                durable_seq: last,
                committed_seq: last,
                leader: false,
                poisoned: None,
                stats: WalStats::default(),
            }),
            changed: Condvar::new(),
            io: Mutex::new(writer),
            stop: Mutex::new(false),
            stop_signal: Condvar::new(),
        });
        let syncer = match shared.config.sync {
            SyncMode::Always => None,
            SyncMode::Relaxed { interval } => {
                let shared = Arc::clone(&shared);
                let handle = std::thread::Builder::new()
                    .name("sextant-wal-sync".into())
                    .spawn(move || shared.sync_periodically(interval))
                    .map_err(Error::io("start the WAL sync thread", dir))?;
                Some(handle)
            }
        };
        Ok(Wal { shared, syncer })
    }

    /// Appends `batch` and returns its sequence number once it is durable (see [`SyncMode`]).
    pub fn append(&self, batch: &ValidatedBatch) -> Result<u64> {
        self.append_with(batch, |_| ()).map(|(seq, ())| seq)
    }

    /// Appends `batch`, waits until it is durable, then runs `on_durable` with its sequence
    /// number and returns both.
    ///
    /// `on_durable` runs on the calling thread, after the hooks of all earlier records have run
    /// and before any later one's: the hooks of all writers run one at a time, in sequence
    /// order. It should be short, and it must not append to this WAL (that would wait on itself).
    /// If it panics, later hooks still run and the panic continues in the caller.
    pub fn append_with<R>(
        &self,
        batch: &ValidatedBatch,
        on_durable: impl FnOnce(u64) -> R,
    ) -> Result<(u64, R)> {
        let mut record = Vec::with_capacity(FRAME_LEN + payload::size_hint(batch));
        record.resize(FRAME_LEN, 0);
        payload::encode(batch, &mut record);
        if self.shared.config.compress {
            payload::compress(&mut record, FRAME_LEN);
        }
        self.append_record(record, on_durable)
    }

    /// Appends `deletion` as [`Wal::append_with`] appends a batch: `on_durable` runs in
    /// sequence order once it is durable.
    pub fn append_delete_with<R>(
        &self,
        deletion: &Deletion,
        on_durable: impl FnOnce(u64) -> R,
    ) -> Result<(u64, R)> {
        let mut record = Vec::with_capacity(FRAME_LEN + payload::delete_size_hint(deletion));
        record.resize(FRAME_LEN, 0);
        payload::encode_delete(deletion, &mut record);
        if self.shared.config.compress {
            payload::compress(&mut record, FRAME_LEN);
        }
        self.append_record(record, on_durable)
    }

    /// Appends `record`, an empty frame followed by the payload.
    fn append_record<R>(
        &self,
        mut record: Vec<u8>,
        on_durable: impl FnOnce(u64) -> R,
    ) -> Result<(u64, R)> {
        // The frame's length field is a u32, whatever the configuration says.
        let limit = self.shared.config.max_record_bytes.min(u32::MAX as usize);
        if record.len() - FRAME_LEN > limit {
            return Err(Error::BatchTooLarge {
                bytes: record.len() - FRAME_LEN,
                limit,
            });
        }
        let mut payload_crc = crc32fast::Hasher::new();
        payload_crc.update(&record[FRAME_LEN..]);

        let shared = &*self.shared;
        let mut state = shared.state.lock();
        if let Some(cause) = &state.poisoned {
            return Err(Error::WalPoisoned {
                cause: cause.clone(),
            });
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        segment::write_frame(&mut record, seq, &payload_crc);
        state.pending.extend_from_slice(&record);
        state.pending_last = seq;
        drop(record);

        while state.durable_seq < seq {
            if let Some(cause) = &state.poisoned {
                return Err(Error::WalPoisoned {
                    cause: cause.clone(),
                });
            }
            if state.leader {
                shared.changed.wait(&mut state);
            } else {
                shared.lead(&mut state);
            }
        }

        // Every record before ours is durable too, so their writers will commit in turn.
        while state.committed_seq + 1 != seq {
            shared.changed.wait(&mut state);
        }
        drop(state);
        let commit = Commit { shared, seq };
        let out = on_durable(seq);
        drop(commit);
        Ok((seq, out))
    }

    /// Removes the segments all of whose records have sequence numbers below `seq`, oldest
    /// first, and returns how many it removed. The open segment is never removed, so the log
    /// always knows the next sequence number.
    ///
    /// Call it once everything below `seq` is durable elsewhere (written to parts).
    pub fn truncate_before(&self, seq: u64) -> Result<usize> {
        let mut io = self.shared.io.lock();
        let mut removable = 0;
        for i in 0..io.closed.len() {
            let next_first = io
                .closed
                .get(i + 1)
                .map_or(io.first_seq, |next| next.first_seq);
            if next_first > seq {
                break;
            }
            removable = i + 1;
        }
        let mut removed = 0;
        for seg in &io.closed[..removable] {
            let r = fs::remove_file(&seg.path).map_err(Error::io("remove WAL segment", &seg.path));
            if let Err(e) = r {
                io.closed.drain(..removed);
                return Err(e);
            }
            removed += 1;
        }
        io.closed.drain(..removed);
        if removed > 0 {
            segment::sync_dir(&self.shared.dir)?;
        }
        Ok(removed)
    }

    /// Closes the open segment, if it holds any record, and starts a new one after its last
    /// record, so that [`Wal::truncate_before`] can later remove everything written so far.
    /// Records waiting for a group write go to the new segment. Returns whether it rotated.
    pub fn rotate(&self) -> Result<bool> {
        let mut io = self.shared.io.lock();
        if io.len <= segment::HEADER_LEN as u64 {
            return Ok(false);
        }
        // A closed segment must be complete on disk: replay treats damage in it as corruption.
        io.sync()?;
        let next = io.last_seq + 1;
        let (file, path) = segment::create(&self.shared.dir, next)?;
        let old_path = std::mem::replace(&mut io.path, path);
        let old_first = std::mem::replace(&mut io.first_seq, next);
        io.closed.push(SegmentRef {
            first_seq: old_first,
            path: old_path,
        });
        io.file = file;
        io.len = segment::HEADER_LEN as u64;
        Ok(true)
    }

    /// Syncs any written but unsynced data now (useful in relaxed mode; cheap otherwise).
    pub fn sync(&self) -> Result<()> {
        let mut io = self.shared.io.lock();
        io.sync()
    }

    /// The sequence number of the newest durable record, 0 if there is none.
    pub fn durable_seq(&self) -> u64 {
        self.shared.state.lock().durable_seq
    }

    /// The sequence number of the newest record whose `on_durable` hook has run: every record
    /// up to it is durable and applied, in order. 0 if there is none.
    pub fn committed_seq(&self) -> u64 {
        self.shared.state.lock().committed_seq
    }

    /// The first sequence number of every segment, oldest first, the open one last.
    pub(crate) fn segment_starts(&self) -> Vec<u64> {
        let io = self.shared.io.lock();
        let mut starts: Vec<u64> = io.closed.iter().map(|s| s.first_seq).collect();
        starts.push(io.first_seq);
        starts
    }

    /// The first sequence number of the oldest closed segment last written within `age`
    /// of now (by its file's modification time), if any: the segments from there on hold
    /// records younger than `age`.
    pub(crate) fn written_within(&self, age: std::time::Duration) -> Option<u64> {
        let io = self.shared.io.lock();
        let now = std::time::SystemTime::now();
        io.closed.iter().find_map(|seg| {
            let modified = fs::metadata(&seg.path).and_then(|m| m.modified()).ok()?;
            let old = now.duration_since(modified).unwrap_or_default();
            (old < age).then_some(seg.first_seq)
        })
    }

    /// How long its syncs have taken since the WAL was opened.
    pub fn sync_latency(&self) -> SyncLatency {
        self.shared.io.lock().sync_latency.clone()
    }

    /// Counts of appends, groups and bytes since the log was opened.
    pub fn stats(&self) -> WalStats {
        self.shared.state.lock().stats
    }

    /// The number of segment files, the open one included.
    pub fn segment_count(&self) -> usize {
        self.shared.io.lock().closed.len() + 1
    }

    /// The directory of the segments.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Some(syncer) = self.syncer.take() {
            *self.shared.stop.lock() = true;
            self.shared.stop_signal.notify_all();
            let _ = syncer.join();
            if let Err(e) = self.sync() {
                tracing::error!(error = %e, "final WAL sync failed");
            }
        }
    }
}

/// Marks a record's hook as run, even if the hook panicked, so later writers are not stuck.
struct Commit<'a> {
    shared: &'a Shared,
    seq: u64,
}

impl Drop for Commit<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.committed_seq = self.seq;
        drop(state);
        self.shared.changed.notify_all();
    }
}

impl Shared {
    /// Writes and syncs everything pending as one group, releasing `state` meanwhile.
    fn lead(&self, state: &mut MutexGuard<'_, State>) {
        state.leader = true;
        let spare = std::mem::take(&mut state.spare);
        let mut group = std::mem::replace(&mut state.pending, spare);
        let upto = state.pending_last;
        let first = state.durable_seq;
        let result = MutexGuard::unlocked(state, || self.write_group(&group, upto));
        state.leader = false;
        match result {
            Ok(()) => {
                state.durable_seq = upto;
                state.stats.appends += upto - first;
                state.stats.groups += 1;
                state.stats.bytes += group.len() as u64;
            }
            Err(e) => {
                tracing::error!(error = %e, "WAL write failed; refusing further writes");
                state.poisoned = Some(e.to_string());
            }
        }
        group.clear();
        state.spare = group;
        self.changed.notify_all();
    }

    fn write_group(&self, group: &[u8], upto: u64) -> Result<()> {
        let mut io = self.io.lock();
        io.file
            .write_all(group)
            .map_err(Error::io("write WAL segment", &io.path))?;
        io.len += group.len() as u64;
        io.last_seq = upto;
        io.dirty = true;
        match self.config.sync {
            SyncMode::Always => io.sync()?,
            SyncMode::Relaxed { interval } => {
                if io.last_sync.elapsed() >= interval {
                    io.sync()?;
                }
            }
        }
        if io.len >= self.config.segment_bytes {
            // A closed segment must be complete on disk: replay treats damage in it as corruption.
            io.sync()?;
            let (file, path) = segment::create(&self.dir, upto + 1)?;
            let old_path = std::mem::replace(&mut io.path, path);
            let old_first = std::mem::replace(&mut io.first_seq, upto + 1);
            io.closed.push(SegmentRef {
                first_seq: old_first,
                path: old_path,
            });
            io.file = file;
            io.len = segment::HEADER_LEN as u64;
        }
        Ok(())
    }

    fn sync_periodically(&self, interval: Duration) {
        let mut stop = self.stop.lock();
        while !*stop {
            self.stop_signal.wait_for(&mut stop, interval);
            if *stop {
                break;
            }
            let result = self.io.lock().sync();
            if let Err(e) = result {
                tracing::error!(error = %e, "WAL background sync failed; refusing further writes");
                self.state.lock().poisoned = Some(e.to_string());
                self.changed.notify_all();
            }
        }
    }
}

impl Writer {
    fn sync(&mut self) -> Result<()> {
        if self.dirty {
            let started = Instant::now();
            self.file
                .sync_data()
                .map_err(Error::io("sync WAL segment", &self.path))?;
            self.dirty = false;
            self.last_sync = Instant::now();
            self.sync_latency.observe(self.last_sync - started);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
