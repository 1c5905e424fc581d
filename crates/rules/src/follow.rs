//! The rule engine's consumer of the commit feed: every committed write, from any protocol,
//! becomes the evaluations it calls for.
//!
//! A write's series name their stream by labels: `asset` (the asset's name) and `run` (a run
//! id; absent for data outside runs), as Sift ingestion writes them and as a line-protocol tag
//! or a KairosDB tag can. Per batch the follower groups the series by stream, takes each
//! stream's span of timestamps and hands it to [`Shared::committed`], which creates the
//! checkpoints of streams a live rule meets for the first time and queues the evaluation.
//! Series without an `asset` label, and assets the catalog does not know, are skipped.
//!
//! # Crash safety
//!
//! The follower commits its feed position only after [`Shared::committed`] returned for every
//! record up to it, that is once the checkpoints of the streams those records touched exist.
//! After a crash it reads again the records after that position (the store keeps them in the
//! WAL for it), and the engine's start-up recovery evaluates every stream with a checkpoint up
//! to the data in storage; evaluation resumes from each stream's checkpoint, so nothing is
//! opened twice. Records the feed can no longer give (a gap: the consumer fell more than the
//! feed's held bound behind) are covered by that same recovery for streams that already had
//! a checkpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use sextant_catalog::{AssetFilter, Page};
use sextant_model::{OrgId, Timestamp, ValidatedBatch};
use sextant_storage::{FeedEvent, FeedReader, Start};

use crate::engine::{Job, Shared, queue_recovery};
use crate::error::Result;

/// The name the engine reads the feed under.
pub(crate) const CONSUMER: &str = "rules";

/// How long a wait for the next record lasts before the follower looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);
/// How often at most the follower stores its position while records keep coming.
const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// How long [`Progress::wait_for`] waits at most.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// How far the follower got, for [`RuleEngine::flush`](crate::RuleEngine::flush), and its
/// stop flag.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The sequence number of the last record handled; `u64::MAX` once the follower is gone.
    done: Mutex<u64>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Progress {
    /// Waits until every record up to `seq` is handled (or the follower stopped).
    pub(crate) fn wait_for(&self, seq: u64) {
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut done = self.done.lock();
        while *done < seq {
            if self.changed.wait_until(&mut done, deadline).timed_out() {
                tracing::warn!(
                    seq,
                    handled = *done,
                    "the rule engine's feed follower is behind"
                );
                return;
            }
        }
    }

    /// Asks the follower to stop.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn set(&self, seq: u64) {
        *self.done.lock() = seq;
        self.changed.notify_all();
    }
}

/// Starts the follower thread; `None` (logged) if it cannot start.
pub(crate) fn start(shared: Arc<Shared>, sender: mpsc::Sender<Job>) -> Option<JoinHandle<()>> {
    let reader = match shared.store.feed().subscribe(CONSUMER, Start::Oldest) {
        Ok(reader) => reader,
        Err(e) => {
            tracing::error!(error = %e, "live rules cannot follow the commit feed");
            shared.follow.set(u64::MAX);
            return None;
        }
    };
    shared.follow.set(reader.position());
    let spawned = std::thread::Builder::new()
        .name("sextant-rules-feed".into())
        .spawn({
            let shared = shared.clone();
            move || Follower::new(shared, sender).run(reader)
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the rule engine's feed follower");
            shared.follow.set(u64::MAX);
            None
        }
    }
}

/// What the follower knows of an asset named in a series label.
#[derive(Debug, Clone)]
struct AssetRef {
    org: Arc<str>,
    asset_id: String,
}

struct Follower {
    shared: Arc<Shared>,
    sender: mpsc::Sender<Job>,
    /// Catalog organization ids by store number.
    orgs: HashMap<OrgId, Arc<str>>,
    /// Per organization, assets by name (`None`: the catalog has no such asset).
    assets: HashMap<OrgId, HashMap<String, Option<AssetRef>>>,
    /// The engine's epoch these caches were filled in.
    epoch: u64,
}

impl Follower {
    fn new(shared: Arc<Shared>, sender: mpsc::Sender<Job>) -> Self {
        Follower {
            shared,
            sender,
            orgs: HashMap::new(),
            assets: HashMap::new(),
            epoch: 0,
        }
    }

    fn run(mut self, mut reader: Box<dyn FeedReader>) {
        let mut committed = reader.position();
        let mut committed_at = Instant::now();
        while !self.shared.follow.stop.load(Ordering::Acquire) {
            let idle = match reader.next(POLL) {
                Ok(Some(event)) => {
                    self.handle(&event);
                    self.shared.follow.set(event.seq());
                    false
                }
                Ok(None) => true,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the commit feed; retrying");
                    std::thread::sleep(POLL * 10);
                    true
                }
            };
            let position = reader.position();
            if position > committed && (idle || committed_at.elapsed() >= COMMIT_EVERY) {
                match reader.commit(position) {
                    Ok(()) => committed = position,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot store the rule engine's feed position")
                    }
                }
                committed_at = Instant::now();
            }
        }
        if let Err(e) = reader.commit(reader.position()) {
            tracing::error!(error = %e, "cannot store the rule engine's feed position");
        }
        self.shared.follow.set(u64::MAX);
    }

    fn handle(&mut self, event: &FeedEvent) {
        match event {
            FeedEvent::Write { seq, batch } => {
                // A failure is most likely the catalog's; try again before giving up on it.
                for attempt in 1..=3 {
                    match self.write(batch) {
                        Ok(()) => return,
                        Err(e) if attempt == 3 => {
                            self.shared.failures.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(seq, error = %e, "live rules skip a committed write");
                        }
                        Err(e) => {
                            tracing::warn!(seq, attempt, error = %e, "live rules cannot take a committed write yet");
                            std::thread::sleep(POLL * attempt);
                        }
                    }
                }
            }
            FeedEvent::Delete { .. } => {}
            FeedEvent::Gap { first, last } => {
                tracing::warn!(
                    first,
                    last,
                    "live rules missed committed writes in the feed; re-evaluating every stream from storage",
                );
                if let Err(e) = queue_recovery(&self.shared, &self.sender) {
                    tracing::error!(error = %e, "cannot list rule checkpoints to catch up");
                }
            }
        }
    }

    /// Hands the streams of one committed batch to the engine.
    fn write(&mut self, batch: &ValidatedBatch) -> Result<()> {
        let mut spans: HashMap<(&str, &str), (Timestamp, Timestamp)> = HashMap::new();
        for series in batch.series() {
            let Some(asset) = series.key.label("asset") else {
                continue;
            };
            let run = series.key.label("run").unwrap_or("");
            let (min, max) = series
                .points
                .iter()
                .fold((Timestamp::MAX, Timestamp::MIN), |(min, max), p| {
                    (min.min(p.timestamp), max.max(p.timestamp))
                });
            let span = spans.entry((asset, run)).or_insert((min, max));
            *span = (span.0.min(min), span.1.max(max));
        }
        if spans.is_empty() {
            return Ok(());
        }
        for ((asset, run), (min, max)) in spans {
            let Some(found) = self.asset(batch.org(), asset)? else {
                continue;
            };
            self.shared.committed(
                &self.sender,
                &found.org,
                &found.asset_id,
                asset,
                run,
                min,
                max,
            )?;
        }
        Ok(())
    }

    /// The catalog's asset named `name` in the organization numbered `org`, cached.
    fn asset(&mut self, org: OrgId, name: &str) -> Result<Option<AssetRef>> {
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        if epoch != self.epoch {
            self.assets.clear();
            self.epoch = epoch;
        }
        if let Some(found) = self.assets.get(&org).and_then(|m| m.get(name)) {
            return Ok(found.clone());
        }
        let found = self.lookup(org, name)?;
        self.assets
            .entry(org)
            .or_default()
            .insert(name.to_owned(), found.clone());
        Ok(found)
    }

    fn lookup(&mut self, org: OrgId, name: &str) -> Result<Option<AssetRef>> {
        if !self.orgs.contains_key(&org) {
            for o in self.shared.catalog.list_organizations()? {
                let id: Arc<str> = o.id.into();
                self.orgs.insert(sextant_catalog::org_number(&id), id);
            }
        }
        let Some(org_id) = self.orgs.get(&org).cloned() else {
            return Ok(None);
        };
        let filter = AssetFilter {
            names: Some(vec![name.to_owned()]),
            ..AssetFilter::default()
        };
        let (assets, _) =
            self.shared
                .catalog
                .list_assets(&org_id, &filter, Page::next(1, String::new()))?;
        Ok(assets.into_iter().next().map(|asset| AssetRef {
            org: org_id,
            asset_id: asset.id,
        }))
    }
}
