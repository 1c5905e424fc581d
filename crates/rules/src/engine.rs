//! The live rule engine: evaluates live rules on committed writes, in a worker thread of its
//! own, and stores the annotations they open and close with each stream's checkpoint.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sextant_catalog::{
    AnnotationEvent, AnnotationState, AnnotationType, Catalog, Channel, ChannelFilter, NameFilter,
    NewAnnotation, Page, Rule, RuleEvaluation, RuleFilter, RuleStream,
};
use sextant_model::{OrgId, Point, SeriesKey, Timestamp};
use sextant_storage::Store;

use crate::compile::{CompiledRule, compile_rule};
use crate::error::{Error, Result};
use crate::evaluate::{
    StreamState, Transition, decode_state, encode_state, evaluate, evaluate_aligned,
    shared_timestamps,
};

/// Called with every annotation a live rule opens or closes, after it is stored, and the rule
/// that did it. Used for webhooks.
pub type Listener = Arc<dyn Fn(&AnnotationEvent, &Rule) + Send + Sync>;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How far behind the newest point of a stream evaluation stays, in nanoseconds, so that
    /// points arriving up to this late are still evaluated in order. 0 evaluates at once.
    pub lateness: i64,
    /// The longest a stream's checkpoint goes unsaved while nothing opens or closes. After a
    /// crash, at most this much evaluation is repeated (which opens nothing twice).
    pub checkpoint_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lateness: 0,
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

/// Figures about the engine, for monitoring and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Rule evaluations of a stream over a span of new data.
    pub evaluations: u64,
    /// Annotations opened.
    pub opened: u64,
    /// Annotations closed.
    pub closed: u64,
    /// Evaluations that failed (logged).
    pub failures: u64,
}

/// A live rule compiled for one asset, with what its annotations need.
#[derive(Debug)]
struct AssetRule {
    compiled: CompiledRule,
    tag_names: Vec<String>,
}

type RuleCache = HashMap<(String, String), Arc<Vec<Arc<AssetRule>>>>;

pub(crate) struct Shared {
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) store: Arc<dyn Store>,
    config: EngineConfig,
    rules: Mutex<RuleCache>,
    /// Bumped whenever cached rules are dropped, so that the feed follower drops what it
    /// cached about assets too.
    pub(crate) epoch: AtomicU64,
    /// The feed follower's progress and stop flag.
    pub(crate) follow: crate::follow::Progress,
    known: Mutex<HashSet<(String, RuleStream)>>,
    listeners: Mutex<Vec<Listener>>,
    evaluations: AtomicU64,
    opened: AtomicU64,
    closed: AtomicU64,
    pub(crate) failures: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Work for the evaluation thread.
pub(crate) enum Job {
    /// New data of one asset in one run is committed up to `through` (`None`: evaluate all
    /// that storage holds).
    Evaluate {
        org: String,
        asset_id: String,
        asset_name: String,
        run_id: String,
        through: Option<Timestamp>,
    },
    /// An organization's rules changed.
    RulesChanged { org: String },
    /// Save every checkpoint, then answer.
    Flush(mpsc::Sender<()>),
}

/// What the front ends need of live rules, so that they hold a trait object and only the
/// binary builds the engine.
pub trait LiveRules: Send + Sync + std::fmt::Debug {
    /// Tells the engine that rules of organization `org` were created, changed or archived,
    /// or that its channels changed: cached rules are dropped and reloaded.
    fn rules_changed(&self, org: &str);

    /// Waits until every write committed before the call is evaluated and every checkpoint
    /// saved.
    fn flush(&self) -> Result<()>;

    /// Figures so far.
    fn stats(&self) -> EngineStats;
}

impl LiveRules for RuleEngine {
    fn rules_changed(&self, org: &str) {
        RuleEngine::rules_changed(self, org)
    }

    fn flush(&self) -> Result<()> {
        RuleEngine::flush(self)
    }

    fn stats(&self) -> EngineStats {
        RuleEngine::stats(self)
    }
}

/// The live rule engine. See the crate documentation for the semantics.
#[derive(Debug)]
pub struct RuleEngine {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    follower: Mutex<Option<JoinHandle<()>>>,
}

impl RuleEngine {
    /// Starts the engine over these engines and catches up: every stream with a checkpoint is
    /// evaluated up to the data in storage, and the store's commit feed is followed from the
    /// engine's committed position on, so writes acknowledged before a crash but not
    /// evaluated are not missed.
    pub fn start(
        catalog: Arc<dyn Catalog>,
        store: Arc<dyn Store>,
        config: EngineConfig,
    ) -> Arc<RuleEngine> {
        let shared = Arc::new(Shared {
            catalog,
            store,
            config,
            epoch: AtomicU64::new(0),
            follow: crate::follow::Progress::default(),
            rules: Mutex::default(),
            known: Mutex::default(),
            listeners: Mutex::default(),
            evaluations: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        let (sender, receiver) = mpsc::channel();
        if let Err(e) = queue_recovery(&shared, &sender) {
            tracing::error!(error = %e, "cannot list rule checkpoints to catch up after start");
        }
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("sextant-rules".into())
            .spawn(move || Worker::new(worker_shared).run(receiver))
            .expect("spawn the rule engine thread");
        let follower = crate::follow::start(shared.clone(), sender.clone());
        Arc::new(RuleEngine {
            shared,
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(Some(worker)),
            follower: Mutex::new(follower),
        })
    }

    /// Adds a listener for opened and closed annotations.
    pub fn listen(&self, listener: Listener) {
        self.shared.listeners.lock().push(listener);
    }

    /// Tells the engine that rules of `org` were created, changed or archived, or that its
    /// channels changed.
    pub fn rules_changed(&self, org: &str) {
        self.shared.rules.lock().retain(|(o, _), _| o != org);
        self.shared.epoch.fetch_add(1, Ordering::Release);
        // A stopped engine has nothing to refresh.
        let _ = self.send(Job::RulesChanged {
            org: org.to_owned(),
        });
    }

    /// Waits until everything committed before the call is evaluated and every checkpoint
    /// saved.
    pub fn flush(&self) -> Result<()> {
        self.shared
            .follow
            .wait_for(self.shared.store.feed().last_seq());
        let (sender, receiver) = mpsc::channel();
        self.send(Job::Flush(sender))?;
        receiver.recv().map_err(|_| Error::Stopped)
    }

    /// Evaluates what is queued, saves the checkpoints and stops the thread. Later calls of
    /// that hand the engine committed writes fail with [`Error::Stopped`].
    pub fn shutdown(&self) {
        let _ = self.flush();
        self.shared.follow.stop();
        if let Some(follower) = self.follower.lock().take()
            && follower.join().is_err()
        {
            tracing::error!("the rule engine's feed follower panicked");
        }
        self.sender.lock().take();
        if let Some(worker) = self.worker.lock().take()
            && worker.join().is_err()
        {
            tracing::error!("the rule engine thread panicked");
        }
    }

    /// Figures so far.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            evaluations: self.shared.evaluations.load(Ordering::Relaxed),
            opened: self.shared.opened.load(Ordering::Relaxed),
            closed: self.shared.closed.load(Ordering::Relaxed),
            failures: self.shared.failures.load(Ordering::Relaxed),
        }
    }

    fn send(&self, job: Job) -> Result<()> {
        self.sender
            .lock()
            .as_ref()
            .ok_or(Error::Stopped)?
            .send(job)
            .map_err(|_| Error::Stopped)
    }
}

impl Drop for RuleEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Queues an evaluation of every stream with a checkpoint up to the end of its data.
pub(crate) fn queue_recovery(shared: &Shared, sender: &mpsc::Sender<Job>) -> Result<()> {
    for org in shared.catalog.list_organizations()? {
        let mut streams = HashSet::new();
        for checkpoint in shared.catalog.list_rule_checkpoints(&org.id)? {
            streams.insert((checkpoint.stream.asset_id, checkpoint.stream.run_id));
        }
        for (asset_id, run_id) in streams {
            let asset = shared.catalog.get_asset(&org.id, &asset_id)?;
            let _ = sender.send(Job::Evaluate {
                org: org.id.clone(),
                asset_id,
                asset_name: asset.name,
                run_id,
                through: None,
            });
        }
    }
    Ok(())
}

impl Shared {
    /// Records that data of `asset_id` (named `asset_name`) in run `run_id` ("" for none) with
    /// timestamps in `[min, max]` is committed, as the feed follower learns it. Blocks on the
    /// catalog the first time a live rule meets the stream, to create its checkpoint, so that
    /// the follower commits its position only once recovery would find the stream. The
    /// evaluation itself runs later, on the engine's thread, which `sender` reaches.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn committed(
        &self,
        sender: &mpsc::Sender<Job>,
        org: &str,
        asset_id: &str,
        asset_name: &str,
        run_id: &str,
        min: Timestamp,
        max: Timestamp,
    ) -> Result<()> {
        let rules = self.live_rules(org, asset_id)?;
        if rules.is_empty() {
            return Ok(());
        }
        let new: Vec<(RuleStream, Option<Timestamp>)> = {
            let known = self.known.lock();
            rules
                .iter()
                .map(|rule| RuleStream {
                    rule_id: rule.compiled.rule.id.clone(),
                    asset_id: asset_id.to_owned(),
                    run_id: run_id.to_owned(),
                })
                .filter(|stream| !known.contains(&(org.to_owned(), stream.clone())))
                .map(|stream| (stream, Some(min.saturating_sub(1))))
                .collect()
        };
        if !new.is_empty() {
            self.catalog.ensure_rule_checkpoints(org, &new)?;
            let mut known = self.known.lock();
            for (stream, _) in new {
                known.insert((org.to_owned(), stream));
            }
        }
        sender
            .send(Job::Evaluate {
                org: org.to_owned(),
                asset_id: asset_id.to_owned(),
                asset_name: asset_name.to_owned(),
                run_id: run_id.to_owned(),
                through: Some(max.saturating_sub(self.config.lateness)),
            })
            .map_err(|_| Error::Stopped)
    }

    /// The live rules of an asset, compiled; cached until the organization's rules change.
    fn live_rules(&self, org: &str, asset_id: &str) -> Result<Arc<Vec<Arc<AssetRule>>>> {
        let key = (org.to_owned(), asset_id.to_owned());
        if let Some(rules) = self.rules.lock().get(&key) {
            return Ok(rules.clone());
        }
        let rules = Arc::new(self.load_live_rules(org, asset_id)?);
        self.rules.lock().insert(key, rules.clone());
        Ok(rules)
    }

    fn load_live_rules(&self, org: &str, asset_id: &str) -> Result<Vec<Arc<AssetRule>>> {
        let filter = RuleFilter {
            asset_ids: Some(vec![asset_id.to_owned()]),
            live_only: true,
            ..RuleFilter::default()
        };
        let rules = all_pages(|page| self.catalog.list_rules(org, &filter, page))?;
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        let asset = self.catalog.get_asset(org, asset_id)?;
        let channel_filter = ChannelFilter {
            asset_ids: Some(vec![asset_id.to_owned()]),
            ..ChannelFilter::default()
        };
        let channels: Vec<Channel> =
            all_pages(|page| self.catalog.list_channels(org, &channel_filter, page))?;
        let mut out = Vec::with_capacity(rules.len());
        for rule in rules {
            let compiled = match compile_rule(&rule, &asset.name, &channels) {
                Ok(compiled) => compiled,
                Err(e) => {
                    tracing::warn!(rule = %rule.id, asset = %asset.name, error = %e, "live rule skipped");
                    continue;
                }
            };
            let tag_names = if rule.def.action.tag_ids.is_empty() {
                Vec::new()
            } else {
                let filter = NameFilter {
                    ids: Some(rule.def.action.tag_ids.clone()),
                    ..NameFilter::default()
                };
                all_pages(|page| self.catalog.list_tags(org, &filter, page))?
                    .into_iter()
                    .map(|tag| tag.name)
                    .collect()
            };
            out.push(Arc::new(AssetRule {
                compiled,
                tag_names,
            }));
        }
        Ok(out)
    }
}

/// The points of a series in `range`, through the query crate; a series with no point yet (a
/// channel that has not sent anything) has none.
pub(crate) fn read_points(
    store: &dyn Store,
    org: OrgId,
    key: &SeriesKey,
    range: std::ops::Range<Timestamp>,
) -> Result<Vec<Point>> {
    Ok(sextant_query::Reader::new(store, org).points(key, range)?)
}

/// Every item of a paged listing.
fn all_pages<T>(
    mut list: impl FnMut(Page) -> sextant_catalog::Result<(Vec<T>, String)>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = list(Page::next(Page::MAX_SIZE, token))?;
        out.extend(items);
        if next.is_empty() {
            return Ok(out);
        }
        token = next;
    }
}

/// A series read for a round: its points and the index of its timeline among the round's.
type Read = (Arc<Vec<Point>>, usize);

/// A stream as the worker keeps it between evaluations.
struct LiveStream {
    rule_version: u32,
    channels: Vec<String>,
    state: StreamState,
    saved_at: Instant,
    dirty: bool,
}

type StreamKey = (String, RuleStream);

/// The evaluation thread's state.
struct Worker {
    shared: Arc<Shared>,
    streams: HashMap<StreamKey, LiveStream>,
}

/// The work of one round, coalesced: per (organization, asset, run), the asset's name and the
/// latest time to evaluate through.
type Round = HashMap<(String, String, String), (String, Option<Timestamp>)>;

impl Worker {
    fn new(shared: Arc<Shared>) -> Self {
        Worker {
            shared,
            streams: HashMap::new(),
        }
    }

    fn run(mut self, receiver: mpsc::Receiver<Job>) {
        while let Ok(first) = receiver.recv() {
            // Take everything queued: many commits of one stream become one evaluation.
            let mut round = Round::new();
            let mut flushes = Vec::new();
            let mut job = Some(first);
            while let Some(current) = job {
                match current {
                    Job::Evaluate {
                        org,
                        asset_id,
                        asset_name,
                        run_id,
                        through,
                    } => {
                        let entry = round
                            .entry((org, asset_id, run_id))
                            .or_insert((asset_name, through));
                        entry.1 = match (entry.1, through) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    Job::RulesChanged { org } => {
                        // Finish what was queued under the old rules first.
                        self.evaluate_round(std::mem::take(&mut round));
                        self.save(|key| key.0 == org);
                        self.streams.retain(|key, _| key.0 != org);
                    }
                    Job::Flush(reply) => flushes.push(reply),
                }
                job = receiver.try_recv().ok();
            }
            self.evaluate_round(round);
            if !flushes.is_empty() {
                self.save(|_| true);
                for reply in flushes {
                    let _ = reply.send(());
                }
            }
        }
        self.save(|_| true);
    }

    fn evaluate_round(&mut self, round: Round) {
        let mut by_org: HashMap<String, Vec<(StreamKey, RuleEvaluation)>> = HashMap::new();
        for ((org, asset_id, run_id), (asset_name, through)) in round {
            match self.evaluate_stream(&org, &asset_id, &asset_name, &run_id, through) {
                Ok(evaluations) => by_org.entry(org).or_default().extend(evaluations),
                Err(e) => {
                    self.shared.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(asset = %asset_name, run = %run_id, error = %e, "rule evaluation failed");
                }
            }
        }
        for (org, evaluations) in by_org {
            self.commit(&org, evaluations);
        }
    }

    /// Evaluates every live rule of the asset over the stream's new data; returns the
    /// evaluations to store now.
    fn evaluate_stream(
        &mut self,
        org: &str,
        asset_id: &str,
        asset_name: &str,
        run_id: &str,
        through: Option<Timestamp>,
    ) -> Result<Vec<(StreamKey, RuleEvaluation)>> {
        let shared = self.shared.clone();
        let rules = shared.live_rules(org, asset_id)?;
        let org_number = sextant_catalog::org_number(org);
        let mut labels = vec![("asset", asset_name)];
        if !run_id.is_empty() {
            labels.push(("run", run_id));
        }
        let mut out = Vec::new();
        // Rules of one asset share channels: each series is read once per span, and noted
        // with its timeline (series with the same timestamps, as the channels of one flow
        // have, share one), so that rules over one flow skip aligning their inputs.
        let mut reads: HashMap<(String, Timestamp, Timestamp), Read> = HashMap::new();
        let mut timelines: Vec<Arc<Vec<Point>>> = Vec::new();
        for rule in rules.iter() {
            let compiled = &rule.compiled;
            let stream = RuleStream {
                rule_id: compiled.rule.id.clone(),
                asset_id: asset_id.to_owned(),
                run_id: run_id.to_owned(),
            };
            let key = (org.to_owned(), stream.clone());
            let Some(live) = self.stream(&key, compiled)? else {
                continue;
            };
            if let (Some(done), Some(through)) = (live.state.through, through)
                && done >= through
            {
                continue;
            }
            let start = live
                .state
                .through
                .map_or(Timestamp::MIN, |t| t.saturating_add(1));
            let end = through.map_or(Timestamp::MAX, |t| t.saturating_add(1));
            let mut inputs: Vec<Arc<Vec<Point>>> =
                Vec::with_capacity(compiled.input_channels.len());
            let mut input_timelines = Vec::with_capacity(compiled.input_channels.len());
            for channel in &compiled.input_channels {
                let key = (channel.clone(), start, end);
                if let Some((points, timeline)) = reads.get(&key) {
                    inputs.push(points.clone());
                    input_timelines.push(*timeline);
                    continue;
                }
                let series =
                    SeriesKey::new(channel.clone(), labels.iter().copied()).map_err(|e| {
                        Error::InvalidRule {
                            rule: compiled.rule.def.name.clone(),
                            detail: format!("channel `{channel}`: {e}"),
                        }
                    })?;
                let points = Arc::new(read_points(
                    shared.store.as_ref(),
                    org_number,
                    &series,
                    start..end,
                )?);
                let timeline = timelines
                    .iter()
                    .position(|seen| shared_timestamps(&[seen.as_slice(), points.as_slice()]))
                    .unwrap_or_else(|| {
                        timelines.push(points.clone());
                        timelines.len() - 1
                    });
                reads.insert(key, (points.clone(), timeline));
                inputs.push(points);
                input_timelines.push(timeline);
            }
            let inputs: Vec<&[Point]> = inputs.iter().map(|p| p.as_slice()).collect();
            let was_open = live.state.open;
            let before = live.state.through;
            let transitions = if input_timelines.windows(2).all(|w| w[0] == w[1]) {
                evaluate_aligned(&compiled.program, &mut live.state, &inputs, through)
            } else {
                evaluate(&compiled.program, &mut live.state, &inputs, through)
            };
            shared.evaluations.fetch_add(1, Ordering::Relaxed);
            if live.state.through != before {
                live.dirty = true;
            }
            let due = live.saved_at.elapsed() >= shared.config.checkpoint_interval;
            if transitions.is_empty() && !(live.dirty && due) {
                continue;
            }
            let evaluation =
                build_evaluation(rule, stream, was_open, &transitions, &live.state, run_id);
            out.push((key, evaluation));
        }
        Ok(out)
    }

    /// The in-memory stream, loaded from its checkpoint when missing or made for an older
    /// version of the rule; `None` when it has no checkpoint (no commit has met it yet).
    fn stream(
        &mut self,
        key: &StreamKey,
        compiled: &CompiledRule,
    ) -> Result<Option<&mut LiveStream>> {
        let stale = self
            .streams
            .get(key)
            .is_none_or(|live| live.rule_version != compiled.rule.version);
        if stale {
            self.streams.remove(key);
            let Some(checkpoint) = self.shared.catalog.rule_checkpoint(&key.0, &key.1)? else {
                return Ok(None);
            };
            let state = decode_state(
                &checkpoint.state,
                &compiled.program,
                &compiled.input_channels,
                checkpoint.evaluated_through,
                checkpoint.open_annotation_id.is_some(),
            );
            self.streams.insert(
                key.clone(),
                LiveStream {
                    rule_version: compiled.rule.version,
                    channels: compiled.input_channels.clone(),
                    state,
                    saved_at: Instant::now(),
                    dirty: false,
                },
            );
        }
        Ok(self.streams.get_mut(key))
    }

    /// Stores evaluations in one transaction and notifies listeners. On failure the streams are
    /// dropped from memory, to be evaluated again from their stored checkpoints.
    fn commit(&mut self, org: &str, evaluations: Vec<(StreamKey, RuleEvaluation)>) {
        if evaluations.is_empty() {
            return;
        }
        let (keys, evaluations): (Vec<StreamKey>, Vec<RuleEvaluation>) =
            evaluations.into_iter().unzip();
        match self
            .shared
            .catalog
            .commit_rule_evaluations(org, &evaluations)
        {
            Ok(events) => {
                for key in &keys {
                    if let Some(live) = self.streams.get_mut(key) {
                        live.dirty = false;
                        live.saved_at = Instant::now();
                    }
                }
                self.notify(org, &events);
            }
            Err(e) => {
                self.shared.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "cannot store rule evaluations; they will be repeated");
                for key in &keys {
                    self.streams.remove(key);
                }
            }
        }
    }

    fn notify(&self, org: &str, events: &[AnnotationEvent]) {
        for event in events {
            let counter = if event.opened {
                &self.shared.opened
            } else {
                &self.shared.closed
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let listeners = self.shared.listeners.lock().clone();
        if listeners.is_empty() {
            return;
        }
        let mut rules: HashMap<String, Rule> = HashMap::new();
        for event in events {
            let Some(rule_id) = &event.annotation.fields.rule_id else {
                continue;
            };
            if !rules.contains_key(rule_id) {
                match self.shared.catalog.get_rule(org, rule_id) {
                    Ok(rule) => {
                        rules.insert(rule_id.clone(), rule);
                    }
                    Err(e) => {
                        tracing::warn!(rule = %rule_id, error = %e, "cannot read rule to notify");
                        continue;
                    }
                }
            }
            for listener in &listeners {
                listener(event, &rules[rule_id]);
            }
        }
    }

    /// Saves the checkpoints of the dirty streams `which` selects.
    fn save(&mut self, which: impl Fn(&StreamKey) -> bool) {
        let mut by_org: HashMap<String, Vec<(StreamKey, RuleEvaluation)>> = HashMap::new();
        for (key, live) in &self.streams {
            if !live.dirty || !which(key) {
                continue;
            }
            let Some(through) = live.state.through else {
                continue;
            };
            by_org.entry(key.0.clone()).or_default().push((
                key.clone(),
                RuleEvaluation {
                    stream: key.1.clone(),
                    evaluated_through: through,
                    close_open_at: None,
                    new_annotations: Vec::new(),
                    state: encode_state(&live.state, &live.channels),
                },
            ));
        }
        for (org, evaluations) in by_org {
            self.commit(&org, evaluations);
        }
    }
}

/// The stored form of one stream's evaluation.
fn build_evaluation(
    rule: &AssetRule,
    stream: RuleStream,
    was_open: bool,
    transitions: &[Transition],
    state: &StreamState,
    run_id: &str,
) -> RuleEvaluation {
    let def = &rule.compiled.rule.def;
    let mut close_open_at = None;
    let mut rest = transitions;
    if was_open && let Some((Transition::Closed(t), tail)) = rest.split_first() {
        close_open_at = Some(*t);
        rest = tail;
    }
    let annotation = |start: Timestamp, end: Option<Timestamp>| {
        let review = def.action.annotation_type == AnnotationType::DataReview;
        NewAnnotation {
            name: def.name.clone(),
            description: def.description.clone(),
            start_time: start,
            end_time: end,
            asset_ids: vec![stream.asset_id.clone()],
            run_id: (!run_id.is_empty()).then(|| run_id.to_owned()),
            annotation_type: def.action.annotation_type,
            state: AnnotationState::Open,
            assignee_user_id: if review {
                def.action.assignee_user_id.clone()
            } else {
                None
            },
            tags: rule.tag_names.clone(),
            rule_id: Some(rule.compiled.rule.id.clone()),
        }
    };
    let mut new_annotations = Vec::new();
    let mut start = None;
    for transition in rest {
        match *transition {
            Transition::Opened(t) => start = Some(t),
            Transition::Closed(t) => {
                if let Some(s) = start.take() {
                    new_annotations.push(annotation(s, Some(t)));
                }
            }
        }
    }
    if let Some(s) = start {
        new_annotations.push(annotation(s, None));
    }
    RuleEvaluation {
        evaluated_through: state.through.unwrap_or(Timestamp::MIN),
        close_open_at,
        new_annotations,
        state: encode_state(state, &rule.compiled.input_channels),
        stream,
    }
}
