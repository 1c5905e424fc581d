//! Live jobs: a job whose range reaches into the future. It computes the past as a batch
//! job does, then one logical timestamp at a time from points handed to it as they are
//! committed ([`Live::push`]); it never reads the store again.
//!
//! # Hand-over without gap or duplicate
//!
//! At the start the caller notes the commit feed's position, then calls [`Live::start`]:
//! the logical timestamps whose interval has closed (its end plus `max_delay` has passed)
//! are computed from the store, and the points of the open intervals are read from the store
//! too. The caller then pushes every point committed after the noted position. A point both
//! read and pushed lands on the same (series, timestamp) and counts once; a point for an
//! interval already emitted is late and left out, as SignalFx leaves it out.
//!
//! # Emission
//!
//! Logical timestamp `t` is emitted once `t + resolution + max_delay` has passed by the
//! caller's clock ([`Live::advance`]). Each emission evaluates the program over the last few
//! logical timestamps its windows need, so a step costs the same whatever the job's age.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use super::plan::{Extrapolation, Node, NodeRef};
use super::series::{Meta, Series, TsId};
use super::time::{Timeline, align_down, align_up};
use super::{
    ExecError, Info, Input, Job, OutEvent, OutSeries, Primitive, Publisher, Request, Source,
    derive, load, primitive,
};

/// What a live job is asked for.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    /// The first instant, milliseconds.
    pub start: i64,
    /// The end, exclusive, if the job ends.
    pub stop: Option<i64>,
    /// The smallest resolution wanted, milliseconds.
    pub resolution: Option<i64>,
    /// How long after an interval's end its points are waited for, milliseconds.
    pub max_delay: i64,
    /// The most input time series.
    pub max_input_mts: usize,
    /// The most values one logical timestamp evaluates: input series × (the look-back in
    /// logical timestamps + 1). Each emission evaluates the program over its look-back, so
    /// this bounds the work per emission.
    pub max_step_values: usize,
    /// For a stored detector resuming its evaluation: the incidents open when it stopped, as
    /// (detect label, series id, incident id). Its detectors then start from this state at
    /// `start` instead of replaying the look-back. `None` for a computation.
    pub resume: Option<Vec<(String, TsId, String)>>,
}

/// What one emitted logical timestamp carries.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The logical timestamp.
    pub timestamp: i64,
    /// Published series seen for the first time, whose metadata goes before their data.
    pub new_series: Vec<OutSeries>,
    /// Each published series' value.
    pub points: Vec<(TsId, f64)>,
    /// Detector events at this timestamp.
    pub events: Vec<OutEvent>,
}

/// One input series of a live job and its state.
#[derive(Debug)]
struct LiveInput {
    input: Input,
    /// The rolled-up values of the last logical timestamps, oldest first, as many as the
    /// program looks back plus one.
    ring: VecDeque<Option<f64>>,
    /// Points of intervals not emitted yet, by timestamp.
    pending: BTreeMap<i64, f64>,
    /// The primitive of the last emitted interval, for differences.
    previous: Option<f64>,
    /// The last value before a run of empty intervals, for extrapolation, and the run.
    last_value: Option<f64>,
    run: i64,
}

/// A `data()` node of a live job.
#[derive(Debug)]
struct LiveNode {
    node: NodeRef,
    inputs: Vec<LiveInput>,
}

/// A running live job. See the module docs.
#[derive(Debug)]
pub struct Live {
    job: Job,
    nodes: Vec<LiveNode>,
    publisher: Publisher,
    resolution: i64,
    back: usize,
    next: i64,
    stop: Option<i64>,
    max_delay: i64,
    max_input_mts: usize,
    announced: HashSet<TsId>,
    late: u64,
}

/// Where an input sits in a live job: node and position.
pub type InputAt = (usize, usize);

impl Live {
    /// Starts `job`: computes the closed logical timestamps from `request.start` up to `now`
    /// from the store (returned as a batch [`super::Output`], possibly empty) and reads the
    /// points of the open ones.
    pub fn start(
        job: Job,
        source: &dyn Source,
        request: &LiveRequest,
        now: i64,
    ) -> Result<(Live, super::Output), ExecError> {
        let mut batch_request = Request::new(
            request.start,
            request.stop.unwrap_or(now).min(now).max(request.start),
        );
        batch_request.resolution = request.resolution;
        batch_request.max_input_mts = request.max_input_mts;
        let plan = job.plan(source, &batch_request)?;
        let resolution = plan.resolution;
        let inputs: usize = plan.found.iter().map(|(_, i)| i.len()).sum();
        let per_step = inputs.max(1).saturating_mul(plan.back + 1);
        if per_step > request.max_step_values {
            return Err(ExecError::job(format!(
                "a live job would evaluate {per_step} values at every logical timestamp ({} time series × {} logical timestamps of look-back at {} ms), more than the limit of {}; use a coarser resolution or shorter windows",
                inputs.max(1),
                plan.back + 1,
                resolution,
                request.max_step_values
            )));
        }
        // The first logical timestamp still open at `now`.
        let open = align_down(now - request.max_delay - resolution, resolution) + resolution;
        let first = align_up(request.start, resolution);
        let live_from = open.max(first);
        let visible = plan.timeline(request.start, live_from);
        let extended = plan.extend(visible);
        let mut data = HashMap::new();
        let mut nodes = Vec::with_capacity(plan.found.len());
        for (node, inputs) in &plan.found {
            let stream = load(source, node, inputs, extended)?;
            let refs: Vec<&Input> = inputs.iter().collect();
            let pending = source
                .points(&refs, live_from, i64::MAX)
                .map_err(ExecError::job)?;
            let before = if needs_previous(node, inputs) {
                let one = Timeline {
                    first: live_from - resolution,
                    resolution,
                    len: 1,
                };
                source
                    .rollup(&refs, Primitive::Last, one)
                    .map_err(ExecError::job)?
            } else {
                Vec::new()
            };
            let mut live_inputs = Vec::with_capacity(inputs.len());
            for (i, (input, series)) in inputs.iter().zip(stream.iter()).enumerate() {
                let ring: VecDeque<Option<f64>> = series.values
                    [series.values.len().saturating_sub(plan.back)..]
                    .iter()
                    .copied()
                    .collect();
                let mut ring = ring;
                while ring.len() < plan.back {
                    ring.push_front(None);
                }
                live_inputs.push(LiveInput {
                    input: input.clone(),
                    last_value: ring.iter().rev().flatten().next().copied(),
                    ring,
                    pending: pending
                        .get(i)
                        .map(|p| p.iter().copied().collect())
                        .unwrap_or_default(),
                    previous: before.get(i).and_then(|v| v.first().copied().flatten()),
                    run: 0,
                });
            }
            data.insert(Rc::as_ptr(node), Rc::new(stream));
            nodes.push(LiveNode {
                node: node.clone(),
                inputs: live_inputs,
            });
        }
        let mut publisher = Publisher::new(job.published.len());
        let state_from = match &request.resume {
            Some(open) => {
                for (label, series, incident) in open {
                    publisher.restore(&job, label, *series, incident);
                }
                plan.back
            }
            None => 0,
        };
        let mut evaluator = super::eval::Evaluator::new(extended, data);
        let (series, mut events) =
            publisher.publish(&job, &mut evaluator, plan.back, state_from)?;
        events.extend(job.stored_events(source, visible)?);
        events.sort_by_key(|e| e.timestamp);
        let announced = series.iter().map(|s| s.id).collect();
        let live = Live {
            job,
            nodes,
            publisher,
            resolution,
            back: plan.back,
            next: live_from,
            stop: request.stop,
            max_delay: request.max_delay,
            max_input_mts: request.max_input_mts,
            announced,
            late: 0,
        };
        let mut infos = plan.infos;
        infos.push(Info::InitialMaxDelay(request.max_delay));
        Ok((
            live,
            super::Output {
                timeline: visible,
                series,
                events,
                infos,
            },
        ))
    }

    /// The job's resolution, milliseconds.
    pub fn resolution(&self) -> i64 {
        self.resolution
    }

    /// Every input with its place, for the caller's map from committed series to inputs.
    pub fn inputs(&self) -> impl Iterator<Item = (InputAt, &Meta)> {
        self.nodes.iter().enumerate().flat_map(|(n, node)| {
            node.inputs
                .iter()
                .enumerate()
                .map(move |(i, input)| ((n, i), &input.input.meta))
        })
    }

    /// Whether a series of metric `metric` could be an input: a `data()` of the job names
    /// it or a pattern matching it.
    pub fn wants_metric(&self, metric: &str) -> bool {
        self.nodes.iter().any(|n| match &*n.node {
            Node::Data { metric: m, .. } => super::series::wildcard(m, metric),
            _ => false,
        })
    }

    /// Adds a series that appeared after the start to every `data()` it matches; returns
    /// the places it got (none if it matches none, or the job already reads its limit).
    pub fn discover(&mut self, input: Input) -> Vec<InputAt> {
        let total: usize = self.nodes.iter().map(|n| n.inputs.len()).sum();
        if total >= self.max_input_mts {
            return Vec::new();
        }
        let mut places = Vec::new();
        for (n, node) in self.nodes.iter_mut().enumerate() {
            let Node::Data { metric, filter, .. } = &*node.node else {
                continue;
            };
            if !super::series::wildcard(metric, &input.meta.metric)
                || filter.as_ref().is_some_and(|f| !f.matches(&input.meta))
                || node.inputs.iter().any(|i| i.input.meta.id == input.meta.id)
            {
                continue;
            }
            places.push((n, node.inputs.len()));
            node.inputs.push(LiveInput {
                input: input.clone(),
                ring: std::iter::repeat_n(None, self.back).collect(),
                pending: BTreeMap::new(),
                previous: None,
                last_value: None,
                run: 0,
            });
        }
        places
    }

    /// A committed point of the input at `at`. Points of intervals already emitted are late
    /// and left out.
    pub fn push(&mut self, at: InputAt, timestamp: i64, value: f64) {
        if timestamp < self.next {
            self.late += 1;
            return;
        }
        if let Some(input) = self
            .nodes
            .get_mut(at.0)
            .and_then(|n| n.inputs.get_mut(at.1))
        {
            input.pending.insert(timestamp, value);
        }
    }

    /// Points that came for intervals already emitted.
    pub fn late_points(&self) -> u64 {
        self.late
    }

    /// When the next logical timestamp may be emitted, by the caller's clock (milliseconds);
    /// `None` once the job has reached its stop.
    pub fn next_deadline(&self) -> Option<i64> {
        if self.finished() {
            return None;
        }
        Some(self.next + self.resolution + self.max_delay)
    }

    /// The events of the job's `events()` publications stored with a timestamp in logical
    /// timestamp `t`'s interval, for the step emitting `t`: read when it is emitted, so an
    /// event stored later than that (after `maxDelay`) is not sent, like a late point. Reads
    /// nothing for a job without `events()`.
    pub fn stored_events_at(
        &self,
        source: &dyn Source,
        t: i64,
    ) -> Result<Vec<OutEvent>, ExecError> {
        self.job.stored_events(
            source,
            Timeline {
                first: t,
                resolution: self.resolution,
                len: 1,
            },
        )
    }

    /// Whether every logical timestamp before the stop was emitted.
    pub fn finished(&self) -> bool {
        self.stop.is_some_and(|stop| self.next >= stop)
    }

    /// Emits every logical timestamp whose deadline is at or before `now`, or, with
    /// `immediate`, every one up to the stop.
    pub fn advance(&mut self, now: i64, immediate: bool) -> Result<Vec<Step>, ExecError> {
        let mut steps = Vec::new();
        while let Some(deadline) = self.next_deadline() {
            if deadline > now && !immediate {
                break;
            }
            steps.push(self.step()?);
        }
        Ok(steps)
    }

    /// Emits logical timestamp `self.next`.
    fn step(&mut self) -> Result<Step, ExecError> {
        let t = self.next;
        let resolution = self.resolution;
        let seconds = resolution as f64 / 1000.0;
        let window = self.back + 1;
        let timeline = Timeline {
            first: t - self.back as i64 * resolution,
            resolution,
            len: window,
        };
        let mut data = HashMap::new();
        for node in &mut self.nodes {
            let Node::Data {
                rollup,
                extrapolation,
                max_extrapolations,
                ..
            } = &*node.node
            else {
                continue;
            };
            let mut stream = Vec::with_capacity(node.inputs.len());
            for input in &mut node.inputs {
                let values: Vec<f64> = input
                    .pending
                    .range(t..t + resolution)
                    .map(|(_, v)| *v)
                    .collect();
                input.pending = input.pending.split_off(&(t + resolution));
                let p = primitive(*rollup, input.input.kind);
                let now = of(p, &values);
                let value = if p == Primitive::Last {
                    let v = derive(*rollup, input.input.kind, &[input.previous, now], seconds)[0];
                    if now.is_some() {
                        input.previous = now;
                    }
                    v
                } else {
                    derive(*rollup, input.input.kind, &[now], seconds)[0]
                };
                let filled = match value {
                    Some(v) => {
                        input.run = 0;
                        input.last_value = Some(v);
                        Some(v)
                    }
                    None => {
                        input.run += 1;
                        let within = *max_extrapolations < 0 || input.run <= *max_extrapolations;
                        match extrapolation {
                            Extrapolation::Zero if within && input.last_value.is_some() => {
                                Some(0.0)
                            }
                            Extrapolation::LastValue if within => input.last_value,
                            _ => None,
                        }
                    }
                };
                input.ring.push_back(filled);
                while input.ring.len() > window {
                    input.ring.pop_front();
                }
                while input.ring.len() < window {
                    input.ring.push_front(None);
                }
                stream.push(Series {
                    meta: Arc::new(input.input.meta.clone()),
                    values: input.ring.iter().copied().collect(),
                });
            }
            data.insert(Rc::as_ptr(&node.node), Rc::new(stream));
        }
        let mut evaluator = super::eval::Evaluator::new(timeline, data);
        let last = window - 1;
        let (series, events) = self
            .publisher
            .publish(&self.job, &mut evaluator, last, last)?;
        let mut step = Step {
            timestamp: t,
            events,
            ..Step::default()
        };
        for s in series {
            if let Some(v) = s.values[0] {
                step.points.push((s.id, v));
            }
            if self.announced.insert(s.id) {
                step.new_series.push(s);
            }
        }
        self.next += resolution;
        Ok(step)
    }
}

/// Whether any input of `node` rolls up by differences of last values.
fn needs_previous(node: &NodeRef, inputs: &[Input]) -> bool {
    let Node::Data { rollup, .. } = &**node else {
        return false;
    };
    inputs
        .iter()
        .any(|i| primitive(*rollup, i.kind) == Primitive::Last)
}

/// One primitive of an interval's values, in time order.
fn of(p: Primitive, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match p {
        Primitive::Avg => values.iter().sum::<f64>() / values.len() as f64,
        Primitive::Sum => values.iter().sum(),
        Primitive::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Primitive::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Primitive::Count => values.len() as f64,
        Primitive::Last => values[values.len() - 1],
    })
}
