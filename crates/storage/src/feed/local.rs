//! The commit feed of one data directory: an in-memory tail fed by the WAL's commit hook, the
//! WAL segments behind it, and position files beside them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{CommitFeed, FeedConfig, FeedEvent, FeedReader, Start, position};
use crate::wal::{Record, reader};
use crate::{Error, Result};

/// How many payload bytes a reader behind the tail reads from the WAL at a time.
const DISK_READ_BYTES: usize = 16 << 20;

/// The feed of a [`Db`](crate::Db). See the [module docs](super) for the contract.
#[derive(Debug, Clone)]
pub struct LocalFeed {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    wal_dir: PathBuf,
    positions_dir: PathBuf,
    config: FeedConfig,
    state: Mutex<State>,
    /// Signalled when a record is committed.
    committed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The newest committed record.
    last_seq: u64,
    /// Records not yet read by every attached reader, consecutive, ending at `last_seq`, each
    /// with its estimated size.
    tail: VecDeque<(FeedEvent, usize)>,
    tail_bytes: usize,
    /// Attached readers and the position of each.
    readers: HashMap<u64, u64>,
    next_reader: u64,
    /// Named consumers with a reader now.
    attached: HashSet<String>,
    /// The committed position of every named consumer.
    durable: HashMap<String, u64>,
}

impl LocalFeed {
    /// The feed over the WAL in `wal_dir`, whose newest committed record is `last_seq`, with
    /// positions in `positions_dir`.
    pub(crate) fn open(
        wal_dir: PathBuf,
        positions_dir: PathBuf,
        config: FeedConfig,
        last_seq: u64,
    ) -> Result<LocalFeed> {
        let mut durable = position::load_all(&positions_dir)?;
        for (name, seq) in durable.iter_mut() {
            if *seq > last_seq {
                tracing::warn!(
                    consumer = %name, position = *seq, last_seq,
                    "feed position is ahead of the WAL; resuming at its end",
                );
                *seq = last_seq;
            }
        }
        Ok(LocalFeed {
            shared: Arc::new(Shared {
                wal_dir,
                positions_dir,
                config,
                state: Mutex::new(State {
                    last_seq,
                    durable,
                    ..State::default()
                }),
                committed: Condvar::new(),
            }),
        })
    }

    /// Hands a committed record to the readers. Called from the WAL's commit hook, so in
    /// sequence order.
    pub(crate) fn push(&self, event: FeedEvent) {
        let mut state = self.shared.state.lock();
        state.last_seq = event.seq();
        if state.readers.is_empty() {
            state.tail.clear();
            state.tail_bytes = 0;
            return;
        }
        let bytes = estimate(&event);
        state.tail.push_back((event, bytes));
        state.tail_bytes += bytes;
        let budget = self.shared.config.tail_bytes;
        while state.tail_bytes > budget {
            let Some((_, bytes)) = state.tail.pop_front() else {
                break;
            };
            state.tail_bytes -= bytes;
        }
        drop(state);
        self.shared.committed.notify_all();
    }

    /// The oldest record a flush must keep in the WAL for the named consumers: the one after
    /// the lowest committed position. `None` when there is no named consumer.
    pub(crate) fn hold_from(&self) -> Option<u64> {
        let state = self.shared.state.lock();
        state.durable.values().min().map(|seq| seq + 1)
    }

    /// The most segments a flush keeps for named consumers.
    pub(crate) fn max_held_segments(&self) -> usize {
        self.shared.config.max_held_segments
    }

    /// How long a flush keeps segments for replay ([`FeedConfig::replay`]).
    pub(crate) fn replay(&self) -> std::time::Duration {
        self.shared.config.replay
    }

    fn reader(&self, name: Option<String>, after: u64) -> Box<dyn FeedReader> {
        let mut state = self.shared.state.lock();
        let id = state.next_reader;
        state.next_reader += 1;
        state.readers.insert(id, after);
        drop(state);
        Box::new(LocalReader {
            shared: Arc::clone(&self.shared),
            id,
            name,
            position: after,
            committed_at: after,
            buffer: VecDeque::new(),
        })
    }
}

impl CommitFeed for LocalFeed {
    fn subscribe(&self, consumer: &str, start: Start) -> Result<Box<dyn FeedReader>> {
        if !position::valid_name(consumer) {
            return Err(Error::FeedConsumerName {
                name: consumer.to_owned(),
            });
        }
        let mut state = self.shared.state.lock();
        if !state.attached.insert(consumer.to_owned()) {
            return Err(Error::FeedConsumerBusy {
                name: consumer.to_owned(),
            });
        }
        let known = state.durable.get(consumer).copied();
        let last_seq = state.last_seq;
        drop(state);
        let after = match known {
            Some(seq) => seq,
            None => {
                let after = match start {
                    Start::Latest => last_seq,
                    Start::Oldest => reader::oldest_seq(&self.shared.wal_dir)?
                        .map_or(last_seq, |first| first.saturating_sub(1).min(last_seq)),
                };
                // From now on flushes keep its records.
                let stored = position::store(&self.shared.positions_dir, consumer, after);
                if let Err(e) = stored {
                    self.shared.state.lock().attached.remove(consumer);
                    return Err(e);
                }
                self.shared
                    .state
                    .lock()
                    .durable
                    .insert(consumer.to_owned(), after);
                after
            }
        };
        Ok(self.reader(Some(consumer.to_owned()), after))
    }

    fn follow(&self, after: u64) -> Box<dyn FeedReader> {
        self.reader(None, after)
    }

    fn last_seq(&self) -> u64 {
        self.shared.state.lock().last_seq
    }
}

/// A rough size in memory of an event, for the tail's budget.
fn estimate(event: &FeedEvent) -> usize {
    match event {
        FeedEvent::Write { batch, .. } => {
            batch.point_count() * 24
                + batch
                    .series()
                    .iter()
                    .map(|s| 64 + s.key.heap_size())
                    .sum::<usize>()
        }
        FeedEvent::Delete { deletion, .. } => {
            64 + deletion.keys.iter().map(|k| k.heap_size()).sum::<usize>()
        }
        FeedEvent::Gap { .. } => 16,
    }
}

#[derive(Debug)]
struct LocalReader {
    shared: Arc<Shared>,
    id: u64,
    name: Option<String>,
    position: u64,
    committed_at: u64,
    /// Events read from the WAL, not yet returned.
    buffer: VecDeque<FeedEvent>,
}

impl State {
    /// Moves reader `id` to `seq`, and drops from the tail what every reader has read.
    fn advance(&mut self, id: u64, seq: u64) {
        self.readers.insert(id, seq);
        let slowest = self.readers.values().copied().min().unwrap_or(seq);
        while self.tail.front().is_some_and(|(e, _)| e.seq() <= slowest) {
            if let Some((_, bytes)) = self.tail.pop_front() {
                self.tail_bytes -= bytes;
            }
        }
    }
}

impl LocalReader {
    /// Fills the buffer from the WAL with the records after the position, up to `through`.
    fn read_disk(&mut self, through: u64) -> Result<()> {
        let from = self.position + 1;
        let read = reader::read_records(&self.shared.wal_dir, from, through, DISK_READ_BYTES)?;
        let mut next = from;
        if let Some(oldest) = read.removed_before {
            let last = oldest.saturating_sub(1).min(through);
            self.buffer.push_back(FeedEvent::Gap { first: from, last });
            next = last + 1;
        }
        for (seq, record) in read.records {
            self.buffer.push_back(match record {
                Record::Write(batch) => FeedEvent::Write {
                    seq,
                    batch: Arc::new(batch),
                },
                Record::Delete(deletion) => FeedEvent::Delete {
                    seq,
                    deletion: Arc::new(deletion),
                },
            });
            next = seq + 1;
        }
        if next == from {
            // Committed records the segments do not hold: say so rather than wait for ever.
            tracing::error!(
                first = from,
                last = through,
                "committed WAL records are missing from the segments",
            );
            self.buffer.push_back(FeedEvent::Gap {
                first: from,
                last: through,
            });
        }
        Ok(())
    }
}

impl FeedReader for LocalReader {
    fn next(&mut self, wait: Duration) -> Result<Option<FeedEvent>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.position = event.seq();
                self.shared.state.lock().advance(self.id, self.position);
                return Ok(Some(event));
            }
            let mut state = self.shared.state.lock();
            let want = self.position + 1;
            if want > state.last_seq {
                if self
                    .shared
                    .committed
                    .wait_until(&mut state, deadline)
                    .timed_out()
                {
                    return Ok(None);
                }
                continue;
            }
            let front = state.tail.front().map(|(e, _)| e.seq());
            match front {
                Some(first) if first <= want => {
                    let index = usize::try_from(want - first).unwrap_or(usize::MAX);
                    let event = state.tail.get(index).map(|(e, _)| e.clone());
                    if let Some(event) = event {
                        state.advance(self.id, want);
                        drop(state);
                        self.position = want;
                        return Ok(Some(event));
                    }
                    // The tail ends at last_seq and want <= last_seq: unreachable, but a wrong
                    // index must not loop; read the WAL instead.
                    let through = state.last_seq;
                    drop(state);
                    self.read_disk(through)?;
                }
                _ => {
                    let through = front.map_or(state.last_seq, |first| first - 1);
                    drop(state);
                    self.read_disk(through)?;
                }
            }
        }
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn commit(&mut self, seq: u64) -> Result<()> {
        let Some(name) = &self.name else {
            return Ok(());
        };
        let seq = seq.min(self.position);
        if seq <= self.committed_at {
            return Ok(());
        }
        position::store(&self.shared.positions_dir, name, seq)?;
        self.committed_at = seq;
        self.shared.state.lock().durable.insert(name.clone(), seq);
        Ok(())
    }
}

impl Drop for LocalReader {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.readers.remove(&self.id);
        if let Some(name) = &self.name {
            state.attached.remove(name);
        }
        if state.readers.is_empty() {
            state.tail.clear();
            state.tail_bytes = 0;
        }
    }
}
