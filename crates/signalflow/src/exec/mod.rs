//! Running SignalFlow programs: a program's statements build a graph of streams
//! ([`plan`]), the job finds the time series each `data()` reads through a [`Source`], picks
//! one resolution, rolls the inputs up to it and evaluates the graph over the job's logical
//! timestamps ([`eval`]).
//!
//! The crate reads no store itself: the server implements [`Source`] over its query crate
//! and metadata, and tests over a few series in memory.
//!
//! # Time
//!
//! Every time here is milliseconds since the epoch. A job's logical timestamps are the
//! multiples of its resolution in `[start, stop)`; the logical timestamp `t` labels the
//! interval `[t, t + resolution)`, whose points its rollups summarise.
//!
//! Windows (`over=`), `timeshift`, `delta`, `when(lasting=)` and `detect` look back before a
//! logical timestamp: the job reads that much earlier data too, so the first logical
//! timestamps of a batch job are computed as they would be in the middle of a longer one,
//! and a detector starts with the state it would have had.

pub mod eval;
pub mod interp;
pub mod live;
pub mod plan;
pub mod series;
pub mod time;
mod window;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use crate::lang::{Pos, Program};

use plan::{Extrapolation, Node, NodeRef, Publication, Rollup};
use series::{Meta, MetricKind, Series, Stream, TsId, stable_id};
use time::{Timeline, align_up};

/// An error while running a program, with the place in the program it concerns when there is
/// one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", pos.map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct ExecError {
    /// Where in the program.
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
}

impl ExecError {
    /// An error at `pos`.
    pub fn at(pos: Pos, message: impl Into<String>) -> ExecError {
        ExecError {
            pos: Some(pos),
            message: message.into(),
        }
    }

    /// An error of the whole job.
    pub fn job(message: impl Into<String>) -> ExecError {
        ExecError {
            pos: None,
            message: message.into(),
        }
    }
}

/// A time series a program may read, as the [`Source`] describes it.
#[derive(Debug, Clone)]
pub struct Input {
    /// Identity and metadata: id, metric, dimensions, inherited properties and tags.
    pub meta: Meta,
    /// How it rolls up by default.
    pub kind: MetricKind,
}

/// What the source computes per interval; the job derives the rollups from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    /// Mean of the points.
    Avg,
    /// Sum.
    Sum,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Number of points.
    Count,
    /// The last point's value.
    Last,
}

/// A custom event the source holds.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its type.
    pub event_type: String,
    /// Its dimensions.
    pub dims: BTreeMap<String, String>,
    /// Its properties, as text.
    pub properties: BTreeMap<String, String>,
    /// When, milliseconds.
    pub timestamp: i64,
}

/// Where a job's data comes from.
pub trait Source {
    /// Every numeric time series of the metrics matching `metric` (`*` and `?` are
    /// wildcards), with their metadata. Fails with a message for the user.
    fn find(&self, metric: &str) -> Result<Vec<Input>, String>;

    /// The usual interval between points of `inputs` around `[start, end)`, milliseconds, if
    /// they have points.
    fn native_resolution(&self, inputs: &[&Input], start: i64, end: i64) -> Option<i64>;

    /// `primitive` per interval of `timeline` for each of `inputs`, in their order: one vector
    /// of `timeline.len` values each, `None` for an interval without points.
    fn rollup(
        &self,
        inputs: &[&Input],
        primitive: Primitive,
        timeline: Timeline,
    ) -> Result<Vec<Vec<Option<f64>>>, String>;

    /// The points of each of `inputs` in `[start, end)`, by time, as numbers.
    fn points(
        &self,
        inputs: &[&Input],
        start: i64,
        end: i64,
    ) -> Result<Vec<Vec<(i64, f64)>>, String>;

    /// The custom events of types matching `event_type` in `[start, end)`, by time.
    fn events(&self, event_type: &str, start: i64, end: i64) -> Result<Vec<StoredEvent>, String>;

    /// The metric probably meant by a name that matched nothing (a misspelling), if the
    /// source knows one.
    fn suggest(&self, metric: &str) -> Option<String> {
        let _ = metric;
        None
    }
}

/// What a job is asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    /// The first instant, milliseconds.
    pub start: i64,
    /// The end, exclusive, milliseconds.
    pub stop: i64,
    /// The smallest resolution wanted, milliseconds.
    pub resolution: Option<i64>,
    /// The most input time series the job may read.
    pub max_input_mts: usize,
    /// The most values (input series × logical timestamps) the job may hold.
    pub max_values: usize,
}

impl Request {
    /// A request for `[start, stop)` with the default limits.
    pub fn new(start: i64, stop: i64) -> Request {
        Request {
            start,
            stop,
            resolution: None,
            max_input_mts: 100_000,
            max_values: 10_000_000,
        }
    }
}

/// A note on the job for the client, as SignalFlow's info messages give them.
#[derive(Debug, Clone, PartialEq)]
pub enum Info {
    /// How many input time series the job reads.
    InputCount(usize),
    /// A `data()` found no time series.
    NoTimeSeries {
        /// The metric asked for.
        metric: String,
        /// The metric probably meant, when the name looks misspelt.
        suggestion: Option<String>,
    },
    /// How long a live job waits for late points, milliseconds.
    InitialMaxDelay(i64),
    /// Time series left out of a `by=` group for lacking a key.
    MissingGroupBy {
        /// The keys.
        keys: Vec<String>,
    },
}

/// One published series.
#[derive(Debug, Clone)]
pub struct OutSeries {
    /// Its id in the job's messages.
    pub id: TsId,
    /// The publish label.
    pub label: String,
    /// Metadata.
    pub meta: Arc<Meta>,
    /// Values, one per logical timestamp of [`Output::timeline`].
    pub values: Vec<Option<f64>>,
}

/// One event of a detector or of `events()`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutEvent {
    /// The id of the event time series.
    pub id: TsId,
    /// The publish label.
    pub label: String,
    /// When, milliseconds.
    pub timestamp: i64,
    /// The event type: the label for a detector, the stored type for `events()`.
    pub event_type: String,
    /// The dimensions of the series or event.
    pub dims: BTreeMap<String, String>,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of event a job emits.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A detector fired (`is: anomalous`) or cleared (`is: ok`).
    Detector {
        /// Whether it fired.
        anomalous: bool,
        /// The incident's id: the same for a trigger and its clear.
        incident: String,
        /// The value of the input series at that moment, if known.
        value: Option<f64>,
    },
    /// A stored custom event, with its properties.
    Custom(BTreeMap<String, String>),
}

/// What a batch job computed.
#[derive(Debug, Clone)]
pub struct Output {
    /// The logical timestamps asked for.
    pub timeline: Timeline,
    /// The published series.
    pub series: Vec<OutSeries>,
    /// Events, by time.
    pub events: Vec<OutEvent>,
    /// Notes for the client.
    pub infos: Vec<Info>,
}

/// Logical timestamps a job may have: a longer range gets a coarser resolution.
pub const MAX_TIMESTAMPS: i64 = 20_000;

/// Resolutions a job coarsens through when its range holds too many logical timestamps.
const LADDER: &[i64] = &[
    1_000,
    10_000,
    60_000,
    300_000,
    3_600_000,
    86_400_000,
    604_800_000,
];

/// A program ready to run: its graph and publications.
#[derive(Debug)]
pub struct Job {
    published: Vec<Publication>,
}

impl Job {
    /// Evaluates the program's statements (no data is read) and checks what it publishes.
    pub fn compile(program: &Program) -> Result<Job, ExecError> {
        let published = interp::run(program)?;
        Ok(Job { published })
    }

    /// What the program publishes, in program order.
    pub fn publications(&self) -> &[Publication] {
        &self.published
    }

    /// Runs the job over `request`'s range.
    pub fn run(&self, source: &dyn Source, request: &Request) -> Result<Output, ExecError> {
        let plan = self.plan(source, request)?;
        let visible = plan.timeline(request.start, request.stop);
        let extended = plan.extend(visible);
        let mut data = HashMap::new();
        for (node, inputs) in &plan.found {
            let stream = load(source, node, inputs, extended)?;
            data.insert(Rc::as_ptr(node), Rc::new(stream));
        }
        let mut evaluator = eval::Evaluator::new(extended, data);
        let mut publisher = Publisher::new(self.published.len());
        let (series, mut events) = publisher.publish(self, &mut evaluator, plan.back, 0)?;
        events.extend(self.stored_events(source, visible)?);
        events.sort_by_key(|e| e.timestamp);
        Ok(Output {
            timeline: visible,
            series,
            events,
            infos: plan.infos,
        })
    }

    /// The stored events every `events()` publication streams over `timeline`.
    fn stored_events(
        &self,
        source: &dyn Source,
        timeline: Timeline,
    ) -> Result<Vec<OutEvent>, ExecError> {
        let mut out = Vec::new();
        for p in &self.published {
            let Publication::Events {
                label,
                events: spec,
            } = p
            else {
                continue;
            };
            let stored = source
                .events(&spec.event_type, timeline.first, timeline.end())
                .map_err(ExecError::job)?;
            for e in stored {
                let meta = Meta {
                    dims: e.dims.clone(),
                    ..Meta::default()
                };
                if spec.filter.as_ref().is_some_and(|f| !f.matches(&meta)) {
                    continue;
                }
                out.push(OutEvent {
                    id: stable_id(&["event", &e.event_type, &meta.identity()]),
                    label: label.clone(),
                    timestamp: e.timestamp,
                    event_type: e.event_type,
                    dims: e.dims,
                    kind: EventKind::Custom(e.properties),
                });
            }
        }
        Ok(out)
    }

    /// Finds the inputs of every `data()` node and picks the resolution and the look-back.
    fn plan(&self, source: &dyn Source, request: &Request) -> Result<Plan, ExecError> {
        if request.stop < request.start {
            return Err(ExecError::job(format!(
                "the stop time {} is before the start time {}",
                request.stop, request.start
            )));
        }
        let roots = self.roots();
        let mut infos = Vec::new();
        let mut found: Vec<(NodeRef, Vec<Input>)> = Vec::new();
        let mut total = 0usize;
        for node in data_nodes(&roots) {
            let Node::Data { metric, filter, .. } = &*node else {
                continue;
            };
            let inputs: Vec<Input> = source
                .find(metric)
                .map_err(ExecError::job)?
                .into_iter()
                .filter(|i| filter.as_ref().is_none_or(|f| f.matches(&i.meta)))
                .collect();
            if inputs.is_empty() {
                infos.push(Info::NoTimeSeries {
                    metric: metric.clone(),
                    suggestion: source.suggest(metric),
                });
            }
            total += inputs.len();
            if total > request.max_input_mts {
                return Err(ExecError::job(format!(
                    "the program reads more than {} time series, this organization's limit; narrow its filters",
                    request.max_input_mts
                )));
            }
            found.push((node, inputs));
        }
        infos.insert(0, Info::InputCount(total));
        let resolution = self.resolution(source, request, &found);
        let reach = roots
            .iter()
            .map(|n| reach(n, resolution))
            .max()
            .unwrap_or(0);
        let back = ((reach + resolution - 1) / resolution) as usize;
        let steps = ((request.stop - request.start).max(0) / resolution) as usize + 1 + back;
        if total.saturating_mul(steps) > request.max_values {
            return Err(ExecError::job(format!(
                "the job would hold {} values ({} time series × {} logical timestamps), more than the limit of {}; narrow the filters or the time range",
                total.saturating_mul(steps),
                total,
                steps,
                request.max_values
            )));
        }
        Ok(Plan {
            found,
            resolution,
            back,
            infos,
        })
    }

    fn roots(&self) -> Vec<NodeRef> {
        let mut roots = Vec::new();
        for p in &self.published {
            match p {
                Publication::Stream { node, .. } => roots.push(node.clone()),
                Publication::Detect { detect, .. } => {
                    roots.push(detect.on.clone());
                    roots.extend(detect.off.clone());
                }
                Publication::Events { .. } => {}
            }
        }
        roots
    }

    /// The job's resolution: at least the request's and every `data(resolution=)`, at least
    /// the inputs' native resolution, coarsened along [`LADDER`] until the range holds at
    /// most [`MAX_TIMESTAMPS`] logical timestamps.
    fn resolution(
        &self,
        source: &dyn Source,
        request: &Request,
        found: &[(NodeRef, Vec<Input>)],
    ) -> i64 {
        let mut resolution = request.resolution.unwrap_or(0).max(1_000);
        for (node, inputs) in found {
            if let Node::Data {
                resolution: Some(r),
                ..
            } = &**node
            {
                resolution = resolution.max(*r);
            }
            let all: Vec<&Input> = inputs.iter().collect();
            if let Some(native) = source.native_resolution(&all, request.start, request.stop) {
                resolution = resolution.max(native);
            }
        }
        // Whole seconds, as SignalFx recommends.
        resolution = align_up(resolution, 1_000);
        let span = request.stop - request.start;
        while span / resolution > MAX_TIMESTAMPS {
            match LADDER.iter().find(|r| **r > resolution) {
                Some(r) => resolution = *r,
                None => break,
            }
        }
        resolution
    }
}

/// Every distinct `data()` node under `roots`.
fn data_nodes(roots: &[NodeRef]) -> Vec<NodeRef> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<NodeRef> = roots.to_vec();
    while let Some(n) = stack.pop() {
        if !seen.insert(Rc::as_ptr(&n)) {
            continue;
        }
        if matches!(&*n, Node::Data { .. }) {
            out.push(n.clone());
        }
        stack.extend(n.inputs().into_iter().cloned());
    }
    // The order the program wrote them in.
    out.sort_by_key(|n| match &**n {
        Node::Data { pos, .. } => *pos,
        _ => Pos { line: 0, column: 0 },
    });
    out
}

/// The milliseconds before a logical timestamp that `node` needs, through all its inputs.
fn reach(node: &NodeRef, resolution: i64) -> i64 {
    node.reach(resolution)
        + node
            .inputs()
            .into_iter()
            .map(|n| reach(n, resolution))
            .max()
            .unwrap_or(0)
}

/// The rolled-up series of one `data()` node.
fn load(
    source: &dyn Source,
    node: &NodeRef,
    inputs: &[Input],
    timeline: Timeline,
) -> Result<Stream, ExecError> {
    let Node::Data {
        rollup,
        extrapolation,
        max_extrapolations,
        ..
    } = &**node
    else {
        return Ok(Vec::new());
    };
    let seconds = timeline.resolution as f64 / 1000.0;
    let mut out = Vec::with_capacity(inputs.len());
    // Inputs grouped by the primitive their rollup needs, so each group is one source call.
    let mut groups: BTreeMap<u8, (Primitive, Vec<usize>)> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let primitive = primitive(*rollup, input.kind);
        groups
            .entry(primitive as u8)
            .or_insert((primitive, Vec::new()))
            .1
            .push(i);
    }
    let mut values: Vec<Option<Vec<Option<f64>>>> = vec![None; inputs.len()];
    for (primitive, members) in groups.into_values() {
        let refs: Vec<&Input> = members.iter().map(|&i| &inputs[i]).collect();
        // Differences need the interval before the first.
        let differences = primitive == Primitive::Last;
        let fetch = if differences {
            Timeline {
                first: timeline.first - timeline.resolution,
                len: timeline.len + 1,
                ..timeline
            }
        } else {
            timeline
        };
        let rolled = source
            .rollup(&refs, primitive, fetch)
            .map_err(ExecError::job)?;
        for (&i, mut v) in members.iter().zip(rolled) {
            v.resize(fetch.len, None);
            values[i] = Some(derive(*rollup, inputs[i].kind, &v, seconds));
        }
    }
    for (input, v) in inputs.iter().zip(values) {
        let mut v = v.unwrap_or_else(|| vec![None; timeline.len]);
        extrapolate(&mut v, *extrapolation, *max_extrapolations);
        out.push(Series {
            meta: Arc::new(input.meta.clone()),
            values: v,
        });
    }
    Ok(out)
}

/// A rollup's values from its primitive's: those of [`Primitive::Last`] hold one interval
/// more, the one before the first, for the differences.
fn derive(rollup: Rollup, kind: MetricKind, v: &[Option<f64>], seconds: f64) -> Vec<Option<f64>> {
    match (rollup, kind) {
        (Rollup::Latest, _) => v[1..].to_vec(),
        (Rollup::Rate, MetricKind::Counter) => v.iter().map(|x| x.map(|x| x / seconds)).collect(),
        (Rollup::Rate, _) => increases(v, kind)
            .iter()
            .map(|x| x.map(|x| x / seconds))
            .collect(),
        (Rollup::Delta, _) | (Rollup::Default, MetricKind::CumulativeCounter) => increases(v, kind),
        _ => v.to_vec(),
    }
}

/// The primitive a rollup of a kind of metric is computed from.
fn primitive(rollup: Rollup, kind: MetricKind) -> Primitive {
    match (rollup, kind) {
        (Rollup::Default, MetricKind::Gauge) | (Rollup::Average, _) => Primitive::Avg,
        (Rollup::Default, MetricKind::Counter) | (Rollup::Sum, _) => Primitive::Sum,
        (Rollup::Rate, MetricKind::Counter) => Primitive::Sum,
        (Rollup::Min, _) => Primitive::Min,
        (Rollup::Max, _) => Primitive::Max,
        (Rollup::Count, _) => Primitive::Count,
        (Rollup::Default, MetricKind::CumulativeCounter)
        | (Rollup::Latest | Rollup::Delta | Rollup::Rate, _) => Primitive::Last,
    }
}

/// From the last values of `len + 1` intervals, the increase over each of the last `len`:
/// the difference from the previous known last value; for a cumulative counter that went
/// down (a restart), the new value itself.
fn increases(last: &[Option<f64>], kind: MetricKind) -> Vec<Option<f64>> {
    let mut previous = last.first().copied().flatten();
    last[1..]
        .iter()
        .map(|v| {
            let v = (*v)?;
            let out = previous.map(|p| {
                if kind == MetricKind::CumulativeCounter && v < p {
                    v
                } else {
                    v - p
                }
            });
            previous = Some(v);
            out
        })
        .collect()
}

/// Fills intervals without a value after the first one that has one.
fn extrapolate(values: &mut [Option<f64>], policy: Extrapolation, max: i64) {
    if policy == Extrapolation::Null {
        return;
    }
    let mut last = None;
    let mut run = 0i64;
    for v in values.iter_mut() {
        match v {
            Some(x) => {
                last = Some(*x);
                run = 0;
            }
            None => {
                run += 1;
                if last.is_some() && (max < 0 || run <= max) {
                    *v = match policy {
                        Extrapolation::Zero => Some(0.0),
                        _ => last,
                    };
                }
            }
        }
    }
}

/// What planning a job decided.
#[derive(Debug)]
struct Plan {
    /// Every `data()` node with its inputs.
    found: Vec<(NodeRef, Vec<Input>)>,
    /// The job's resolution, milliseconds.
    resolution: i64,
    /// Logical timestamps before the first one that the program needs.
    back: usize,
    /// Notes for the client.
    infos: Vec<Info>,
}

impl Plan {
    /// The logical timestamps in `[start, stop)`.
    fn timeline(&self, start: i64, stop: i64) -> Timeline {
        let first = align_up(start, self.resolution);
        let len = ((stop - first).max(0) + self.resolution - 1) / self.resolution;
        Timeline {
            first,
            resolution: self.resolution,
            len: len as usize,
        }
    }

    /// `visible` with the look-back before it.
    fn extend(&self, visible: Timeline) -> Timeline {
        Timeline {
            first: visible.first - self.back as i64 * self.resolution,
            resolution: self.resolution,
            len: visible.len + self.back,
        }
    }
}

/// Turns evaluated streams into published series and events, keeping the ids of published
/// series and the state of detectors from one evaluation to the next (a live job evaluates
/// once per logical timestamp).
#[derive(Debug)]
struct Publisher {
    /// The id given to each (publication, series) pair.
    ids: HashMap<(usize, TsId), TsId>,
    /// Ids given so far.
    used: std::collections::HashSet<TsId>,
    /// Per detector publication: the open incident of each series.
    incidents: Vec<HashMap<TsId, String>>,
}

impl Publisher {
    fn new(publications: usize) -> Publisher {
        Publisher {
            ids: HashMap::new(),
            used: std::collections::HashSet::new(),
            incidents: vec![HashMap::new(); publications],
        }
    }

    /// The published series with their values from index `from` of the evaluator's timeline,
    /// and the detectors' events from index `from` on; detectors step through the indices
    /// from `state_from` (earlier ones were stepped by a previous call).
    fn publish(
        &mut self,
        job: &Job,
        evaluator: &mut eval::Evaluator,
        from: usize,
        state_from: usize,
    ) -> Result<(Vec<OutSeries>, Vec<OutEvent>), ExecError> {
        let timeline = evaluator.timeline;
        let mut series = Vec::new();
        let mut events = Vec::new();
        for (index, p) in job.published.iter().enumerate() {
            match p {
                Publication::Stream { label, node } => {
                    let stream = evaluator.stream(node)?;
                    for s in stream.iter() {
                        let id = self.id(index, label, s.meta.id);
                        series.push(OutSeries {
                            id,
                            label: label.clone(),
                            meta: s.meta.clone(),
                            values: s.values[from..].to_vec(),
                        });
                    }
                }
                Publication::Detect { label, detect } => {
                    let on = evaluator.stream(&detect.on)?;
                    let off = match &detect.off {
                        Some(off) => Some(evaluator.stream(off)?),
                        None => None,
                    };
                    let incidents = &mut self.incidents[index];
                    for s in on.iter() {
                        let off_series = off.as_deref().map(|o| {
                            if o.len() == 1 {
                                o.first()
                            } else {
                                o.iter().find(|x| x.meta.dims == s.meta.dims)
                            }
                        });
                        let id = stable_id(&["detector", label, &s.meta.identity()]);
                        for i in state_from..timeline.len {
                            let t = timeline.at(i);
                            let event = match incidents.get(&id) {
                                None if s.values[i].is_some_and(|v| v != 0.0) => {
                                    let incident = series::ts_id_text(&stable_id(&[
                                        label,
                                        &s.meta.identity(),
                                        &t.to_string(),
                                    ]));
                                    incidents.insert(id, incident.clone());
                                    Some((true, incident))
                                }
                                Some(incident) => {
                                    // Paired mode clears only once `on` stopped holding too;
                                    // split mode on `off` alone.
                                    let on_holds = s.values[i].is_some_and(|v| v != 0.0);
                                    let clear = match off_series {
                                        Some(Some(o)) => {
                                            o.values[i].is_some_and(|v| v != 0.0)
                                                && (detect.split || !on_holds)
                                        }
                                        Some(None) => false,
                                        None => s.values[i].is_some_and(|v| v == 0.0),
                                    };
                                    let incident = incident.clone();
                                    clear.then(|| {
                                        incidents.remove(&id);
                                        (false, incident)
                                    })
                                }
                                None => None,
                            };
                            if let Some((anomalous, incident)) = event
                                && i >= from
                            {
                                events.push(OutEvent {
                                    id,
                                    label: label.clone(),
                                    timestamp: t,
                                    event_type: label.clone(),
                                    dims: s.meta.dims.clone(),
                                    kind: EventKind::Detector {
                                        anomalous,
                                        incident,
                                        value: s.values[i],
                                    },
                                });
                            }
                        }
                    }
                }
                Publication::Events { .. } => {}
            }
        }
        Ok((series, events))
    }

    /// Marks `incident` open for `series` in the detector published as `label`.
    fn restore(&mut self, job: &Job, label: &str, series: TsId, incident: &str) {
        let index = job
            .published
            .iter()
            .position(|p| matches!(p, Publication::Detect { label: l, .. } if l == label));
        if let Some(index) = index {
            self.incidents[index].insert(series, incident.to_owned());
        }
    }

    /// The id of series `id` in publication `index`: its own the first time it is
    /// published, one derived from the label for a second publication of it.
    fn id(&mut self, index: usize, label: &str, id: TsId) -> TsId {
        if let Some(given) = self.ids.get(&(index, id)) {
            return *given;
        }
        let mut given = id;
        while !self.used.insert(given) {
            given = stable_id(&[label, &series::ts_id_text(&given)]);
        }
        self.ids.insert((index, id), given);
        given
    }
}
