//! One subscription, run on a thread of its own until its subscriber goes away.
//!
//! # No point twice, none missed
//!
//! With `since`, the feed's newest commit `p0` is noted first, then each selected series is
//! read with [`Store::read_as_of`], which says the commit `q` its points reflect exactly
//! (`q >= p0`). The feed is then followed from `p0`, and a record at or before `q` is skipped
//! for that series. A series created after `p0` is not in the history and comes whole from the
//! feed. Cursors are sent only once the feed has passed every series' `q`: before that, no
//! single commit number says what was sent.
//!
//! # Back-pressure
//!
//! Messages go to a [`Sink`] with a bounded buffer. When it is full the subscription stops
//! reading the feed (the feed keeps a bounded tail in memory and serves a reader further
//! behind from the log on disk, so ingest never waits), waits up to
//! [`Options::max_stall`] for room, then sends a [`Message::Behind`] notice and goes on; if
//! no room came, it ends with [`Message::Closed`] and the cursor to resume from.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sextant_api::live::{Message, WindowRow};
use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp};
use sextant_storage::{FeedEvent, Store};

use crate::Error;
use crate::encode::{Encoded, Fragments, Framing, fragment};
use crate::spec::{Spec, Start};
use crate::window::{Output, SeriesWindows};

/// The subscriber went away (or the stream was closed): stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// Where a subscription's messages go: the transport's bounded buffer.
pub trait Sink {
    /// Hands `message` over if the buffer has room: `Ok(None)` when it did, `Ok(Some)` with
    /// the message given back when the buffer is full.
    fn offer(&mut self, message: Encoded) -> Result<Option<Encoded>, Gone>;
    /// Waits up to `timeout` for room: `Ok(true)` when there is.
    fn wait_for_room(&mut self, timeout: Duration) -> Result<bool, Gone>;
    /// Hands `message` over whether or not there is room: notices that explain or end.
    fn force(&mut self, message: Encoded) -> Result<(), Gone>;
    /// Whether the subscriber went away.
    fn gone(&self) -> bool;
    /// How the transport frames messages.
    fn framing(&self) -> Framing {
        Framing::Json
    }
    /// Why the server ends the stream now (it is shutting down), if it does: the
    /// subscription sends what it holds and a [`Message::Closed`] with this reason.
    fn closing(&self) -> Option<String> {
        None
    }
}

/// How a subscription runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long a full buffer may stay full before the stream is closed.
    pub max_stall: Duration,
    /// The most stored points a subscription's history may hold.
    pub max_history_points: usize,
    /// The most points in one message.
    pub batch_points: usize,
    /// The longest points wait to be batched with later ones.
    pub max_batch_delay: Duration,
    /// How often an idle stream is told its cursor moved ([`Message::Progress`]).
    pub progress_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_stall: Duration::from_secs(30),
            max_history_points: 50_000_000,
            batch_points: 16_384,
            max_batch_delay: Duration::from_millis(5),
            progress_every: Duration::from_secs(1),
        }
    }
}

/// The most series a subscription remembers as not selected.
const MAX_REJECTED: usize = 65_536;

/// How long a reader waits for a commit before it looks at its idle duties.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// Runs the subscription `spec` of organization `org` over `store`, sending to `sink`, until
/// the subscriber goes away (`Ok`) or the subscription fails (`Err`: a bad cursor, a history
/// too large, a store error; the caller tells the subscriber). `fragments` is the server's
/// cache of encoded commits, shared by its subscriptions.
pub fn run(
    store: &dyn Store,
    org: OrgId,
    spec: &Spec,
    sink: &mut dyn Sink,
    options: &Options,
    fragments: &Fragments,
) -> Result<(), Error> {
    let mut run = Run {
        store,
        fragments,
        org,
        spec,
        sink,
        options,
        ids: HashMap::new(),
        rejected: HashSet::new(),
        next_id: 0,
        history: HashMap::new(),
        exact_from: None,
        live: false,
        pending: Vec::new(),
        pending_points: 0,
        pending_since: None,
        windows: Vec::new(),
        rows: Vec::new(),
        late: Vec::new(),
        late_total: 0,
        last_cursor: None,
        last_sent: Instant::now(),
    };
    Halt::outcome(run.go())
}

/// Why a subscription's run stops early: its subscriber went away (or was closed), or it
/// failed.
pub(crate) enum Halt {
    Gone,
    Failed(Error),
}

impl Halt {
    /// The run's result for its caller: a subscriber that went away is no failure.
    pub(crate) fn outcome(run: Result<(), Halt>) -> Result<(), Error> {
        match run {
            Ok(()) | Err(Halt::Gone) => Ok(()),
            Err(Halt::Failed(e)) => Err(e),
        }
    }
}

impl From<Gone> for Halt {
    fn from(_: Gone) -> Self {
        Halt::Gone
    }
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Halt::Failed(e)
    }
}

impl From<sextant_storage::Error> for Halt {
    fn from(e: sextant_storage::Error) -> Self {
        Halt::Failed(e.into())
    }
}

struct Run<'a> {
    store: &'a dyn Store,
    fragments: &'a Fragments,
    org: OrgId,
    spec: &'a Spec,
    sink: &'a mut dyn Sink,
    options: &'a Options,
    /// The series the selector selects, with their numbers in the stream.
    ids: HashMap<SeriesKey, u32>,
    /// Series seen that the selector does not select, remembered up to
    /// [`MAX_REJECTED`] (then forgotten and matched again), so that an organization with
    /// millions of series does not grow every subscription's memory with them.
    rejected: HashSet<SeriesKey>,
    next_id: u32,
    /// The commit each history series was read at: its records up to it are skipped.
    history: HashMap<u32, u64>,
    /// Cursors are exact from this feed position on; unknown while the history is read.
    exact_from: Option<u64>,
    /// Whether [`Message::Live`] was sent.
    live: bool,
    /// The points of the next message: a fragment per series and commit, in commit order.
    pending: Vec<(u32, Arc<[u8]>)>,
    pending_points: usize,
    pending_since: Option<Instant>,
    /// The windows of each series, by number (when windowing).
    windows: Vec<SeriesWindows>,
    rows: Vec<WindowRow>,
    late: Vec<(u32, i64)>,
    late_total: u64,
    last_cursor: Option<u64>,
    last_sent: Instant,
}

fn wall_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Run<'_> {
    fn go(&mut self) -> Result<(), Halt> {
        let feed = self.store.feed();
        // The reader is made before the history is read, so that the feed keeps the commits
        // made meanwhile in memory for it.
        let mut reader = match self.spec.start {
            Start::After(cursor) => {
                let newest = feed.last_seq();
                if cursor > newest {
                    return Err(Error::CursorAhead { cursor, newest }.into());
                }
                self.exact_from = Some(cursor);
                feed.follow(cursor)
            }
            Start::Now => {
                let p0 = feed.last_seq();
                self.exact_from = Some(p0);
                feed.follow(p0)
            }
            Start::Since(since) => {
                let p0 = feed.last_seq();
                let reader = feed.follow(p0);
                self.exact_from = Some(self.history(since)?.max(p0));
                reader
            }
        };
        self.maybe_live(reader.position())?;
        loop {
            if self.sink.gone() {
                return Err(Halt::Gone);
            }
            if let Some(reason) = self.sink.closing() {
                let position = reader.position();
                self.flush(position)?;
                let cursor = self.cursor_at(position).or(self.last_cursor);
                return Err(self.close(cursor, reason));
            }
            let busy = self.pending_points > 0 || !self.rows.is_empty() || !self.late.is_empty();
            let wait = if busy { Duration::ZERO } else { IDLE_WAIT };
            match reader.next(wait)? {
                Some(event) => {
                    self.apply(event)?;
                    let position = reader.position();
                    self.maybe_live(position)?;
                    if self.pending_points >= self.options.batch_points
                        || self
                            .pending_since
                            .is_some_and(|t| t.elapsed() >= self.options.max_batch_delay)
                    {
                        self.flush(position)?;
                    }
                }
                None => {
                    let position = reader.position();
                    if !busy {
                        self.idle_windows();
                    }
                    self.flush(position)?;
                    if self.live
                        && self.last_cursor.is_none_or(|c| c < position)
                        && self.last_sent.elapsed() >= self.options.progress_every
                    {
                        self.send(&Message::Progress { cursor: position })?;
                    }
                }
            }
        }
    }

    /// Sends the stored points of the selected series from `since` on; returns the newest
    /// commit any of them reflects.
    fn history(&mut self, since: Timestamp) -> Result<u64, Halt> {
        let mut newest = 0;
        let mut total = 0usize;
        for info in self.store.select(self.org, &self.spec.selector) {
            if self.sink.gone() {
                return Err(Halt::Gone);
            }
            let (points, seq) = match self.store.read_as_of(self.org, &info.key, since..i64::MAX) {
                Ok(read) => read,
                // Deleted since it was listed.
                Err(sextant_storage::Error::SeriesNotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            total += points.len();
            if total > self.options.max_history_points {
                return Err(Error::HistoryTooLarge {
                    limit: self.options.max_history_points,
                }
                .into());
            }
            let Some(id) = self.id(&info.key, info.data_type)? else {
                continue;
            };
            self.history.insert(id, seq);
            newest = newest.max(seq);
            for chunk in points.chunks(self.options.batch_points.max(1)) {
                self.add(id, chunk);
                if self.pending_points >= self.options.batch_points {
                    self.flush_with(None)?;
                }
            }
        }
        self.flush_with(None)?;
        Ok(newest)
    }

    /// The stream's number for series `key`, if the selector selects it; the first time,
    /// the subscriber is told about it.
    fn id(&mut self, key: &SeriesKey, data_type: DataType) -> Result<Option<u32>, Halt> {
        if let Some(id) = self.ids.get(key) {
            return Ok(Some(*id));
        }
        if self.rejected.contains(key) {
            return Ok(None);
        }
        if !self.spec.selector.matches(key) {
            if self.rejected.len() >= MAX_REJECTED {
                self.rejected.clear();
            }
            self.rejected.insert(key.clone());
            return Ok(None);
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        self.ids.insert(key.clone(), id);
        if self.spec.window.is_some() {
            self.windows.push(SeriesWindows::default());
        }
        let message = Message::Series {
            id,
            name: key.name().to_owned(),
            labels: key
                .labels()
                .iter()
                .map(|l| (l.name.to_owned(), l.value.to_owned()))
                .collect(),
            data_type: data_type.to_string(),
        };
        self.send(&message)?;
        Ok(Some(id))
    }

    /// Handles one committed record.
    fn apply(&mut self, event: FeedEvent) -> Result<(), Halt> {
        match event {
            FeedEvent::Write { seq, batch } => {
                if batch.org() != self.org {
                    return Ok(());
                }
                let mut commit = None;
                for (index, series) in batch.series().iter().enumerate() {
                    let Some(id) = self.id(&series.key, series.data_type)? else {
                        continue;
                    };
                    if self.history.get(&id).is_some_and(|q| seq <= *q) {
                        continue;
                    }
                    match self.spec.since {
                        Some(since) if series.points.iter().any(|p| p.timestamp < since) => {
                            let kept: Vec<Point> = series
                                .points
                                .iter()
                                .filter(|p| p.timestamp >= since)
                                .cloned()
                                .collect();
                            self.add(id, &kept);
                        }
                        _ if self.spec.window.is_some() || series.points.is_empty() => {
                            self.add(id, &series.points);
                        }
                        _ => {
                            let commit = commit.get_or_insert_with(|| {
                                self.fragments.commit(
                                    seq,
                                    batch.series().len(),
                                    batch.point_count(),
                                )
                            });
                            let framing = self.sink.framing();
                            let bytes = commit.get(index, &series.points, framing);
                            self.add_encoded(id, series.points.len(), bytes);
                        }
                    }
                }
            }
            FeedEvent::Delete { seq, deletion } => {
                if deletion.org != self.org {
                    return Ok(());
                }
                for key in &deletion.keys {
                    let Some(id) = self.ids.get(key).copied() else {
                        continue;
                    };
                    if self.history.get(&id).is_some_and(|q| seq <= *q) {
                        continue;
                    }
                    self.flush(seq.saturating_sub(1))?;
                    self.send(&Message::Deleted {
                        id,
                        start: deletion.range.start,
                        end: deletion.range.end,
                    })?;
                }
            }
            FeedEvent::Gap { first, last } => {
                self.flush(first.saturating_sub(1))?;
                self.send(&Message::Gap {
                    first,
                    last,
                    message: format!(
                        "commits {first} to {last} are no longer in the write-ahead log (their points were flushed to storage and the log's segments removed); they cannot be replayed, so the stream goes on after them. Read their points with a query."
                    ),
                })?;
            }
        }
        Ok(())
    }

    /// Adds points of series `id` to the next message, or to its windows.
    fn add(&mut self, id: u32, points: &[Point]) {
        if points.is_empty() {
            return;
        }
        if self.spec.window.is_some() {
            self.add_to_windows(id, points);
        } else {
            self.add_encoded(id, points.len(), fragment(points, self.sink.framing()));
        }
    }

    /// Adds `count` points of series `id`, encoded as `bytes`, to the next message.
    fn add_encoded(&mut self, id: u32, count: usize, bytes: Arc<[u8]>) {
        self.pending.push((id, bytes));
        self.pending_points += count;
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// Adds points of series `id` to its windows.
    fn add_to_windows(&mut self, id: u32, points: &[Point]) {
        let Some(spec) = &self.spec.window else {
            return;
        };
        let now = wall_now();
        let mut out = Vec::new();
        if let Some(w) = self.windows.get_mut(id as usize) {
            for p in points {
                w.push(spec, p.timestamp, p.value.as_number(), now, &mut out);
            }
            w.advance(spec, &mut out);
        }
        self.window_outputs(id, out);
        self.pending_since.get_or_insert_with(Instant::now);
    }

    fn window_outputs(&mut self, id: u32, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Window {
                    start,
                    end,
                    count,
                    values,
                    update,
                } => {
                    self.pending_points += 1;
                    self.rows.push(WindowRow {
                        id,
                        start,
                        end,
                        count,
                        values: values
                            .into_iter()
                            .map(|(a, v)| (a.name().to_owned(), v))
                            .collect(),
                        update,
                    });
                }
                Output::Late { timestamp } => self.late.push((id, timestamp)),
            }
        }
    }

    /// Sends the windows of series idle for long enough.
    fn idle_windows(&mut self) {
        let Some(spec) = &self.spec.window else {
            return;
        };
        let now = wall_now();
        let mut outs = Vec::new();
        for (id, w) in self.windows.iter_mut().enumerate() {
            let mut out = Vec::new();
            w.idle(spec, now, &mut out);
            if !out.is_empty() {
                outs.push((id as u32, out));
            }
        }
        for (id, out) in outs {
            self.window_outputs(id, out);
        }
    }

    /// The cursor of a message sent after the feed reached `position`: `position`, once
    /// cursors are exact.
    fn cursor_at(&self, position: u64) -> Option<u64> {
        self.exact_from
            .filter(|from| position >= *from)
            .map(|_| position)
    }

    /// Sends what is pending, with the cursor of feed position `position`.
    fn flush(&mut self, position: u64) -> Result<(), Halt> {
        self.flush_with(self.cursor_at(position))
    }

    /// Sends what is pending, with `cursor`.
    fn flush_with(&mut self, cursor: Option<u64>) -> Result<(), Halt> {
        if !self.pending.is_empty() {
            let series = std::mem::take(&mut self.pending);
            self.send_encoded(Encoded::points(cursor, &series, self.sink.framing()))?;
        }
        if !self.rows.is_empty() {
            let windows = std::mem::take(&mut self.rows);
            self.send(&Message::Windows { cursor, windows })?;
        }
        for (id, timestamp) in std::mem::take(&mut self.late) {
            self.late_total += 1;
            self.send(&Message::Late {
                id,
                timestamp,
                total: self.late_total,
            })?;
        }
        self.pending_points = 0;
        self.pending_since = None;
        Ok(())
    }

    /// Once the feed has passed the history: sends what is pending and [`Message::Live`].
    fn maybe_live(&mut self, position: u64) -> Result<(), Halt> {
        if self.live || self.exact_from.is_none_or(|from| position < from) {
            return Ok(());
        }
        self.live = true;
        self.history.clear();
        // The marker right after carries the cursor.
        self.flush_with(None)?;
        self.send(&Message::Live { cursor: position })
    }

    /// Sends `message` whether or not the buffer has room.
    fn force(&mut self, message: &Message) -> Result<(), Halt> {
        let framing = self.sink.framing();
        Ok(self.sink.force(Encoded::of(message, framing))?)
    }

    /// Ends the stream with [`Message::Closed`]; returns why the run stops.
    fn close(&mut self, cursor: Option<u64>, reason: String) -> Halt {
        match self.force(&Message::Closed { cursor, reason }) {
            Ok(()) => Halt::Gone,
            Err(halt) => halt,
        }
    }

    /// Sends `message`, waiting for room as [`Options::max_stall`] allows.
    fn send(&mut self, message: &Message) -> Result<(), Halt> {
        self.send_encoded(Encoded::of(message, self.sink.framing()))
    }

    /// Sends `message`, waiting for room as [`Options::max_stall`] allows.
    fn send_encoded(&mut self, message: Encoded) -> Result<(), Halt> {
        let cursor = message.cursor;
        if let Some(message) = self.sink.offer(message)? {
            let newest = self.store.feed().last_seq();
            if !self.sink.wait_for_room(self.options.max_stall)? {
                let reason = format!(
                    "the subscriber read nothing for {} s while its buffer was full; resume from the cursor",
                    self.options.max_stall.as_secs_f64()
                );
                return Err(self.close(self.last_cursor, reason));
            }
            self.force(&Message::Behind {
                cursor: self.last_cursor,
                newest,
                message: "the subscriber fell behind and its buffer filled; nothing is lost: the stream goes on from the write-ahead log".to_owned(),
            })?;
            self.sink.force(message)?;
        }
        if let Some(c) = cursor {
            self.last_cursor = Some(c);
        }
        self.last_sent = Instant::now();
        Ok(())
    }
}
