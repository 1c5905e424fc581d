//! The semantics of a rule over one stream, with no I/O: align the inputs, evaluate, and find
//! where the condition starts and stops holding.
//!
//! The inputs are aligned on the union of their timestamps: at each timestamp where any input
//! has a point, every input takes its latest value at or before that time (points sharing the
//! timestamp included), and the rule is evaluated once. An input with no value yet is unknown,
//! and an unknown result changes nothing. The condition opens a range on its first true result
//! while closed, and closes it at the first false result while open; a range is thus
//! `[first true, first false after it)`.

use serde::{Deserialize, Serialize};
use sextant_expr::{EvalState, Program};
use sextant_model::{Point, Timestamp, Value};

/// What a rule remembers about one stream between evaluations.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    /// The latest value of each program input, in input order.
    pub latest: Vec<Option<Value>>,
    /// Whether a range is open (the condition held at the last known result).
    pub open: bool,
    /// Every point at or before this time has been evaluated.
    pub through: Option<Timestamp>,
    /// The state of `held_for`.
    pub eval: EvalState,
}

impl StreamState {
    /// A fresh state for `program`, nothing evaluated yet.
    pub fn new(program: &Program) -> Self {
        StreamState {
            latest: vec![None; program.inputs().len()],
            open: false,
            through: None,
            eval: program.new_state(),
        }
    }
}

/// A change of the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// It became true at this time.
    Opened(Timestamp),
    /// It became false at this time.
    Closed(Timestamp),
}

/// Evaluates `program` over `inputs` (for each program input, its new points in time order)
/// in timestamp order, updating `state`. Points at or before `state.through` are late and are
/// skipped: live evaluation never goes back in time. Afterwards `state.through` is the latest
/// evaluated timestamp, or `until` when that is later.
pub fn evaluate<P: AsRef<[Point]>>(
    program: &Program,
    state: &mut StreamState,
    inputs: &[P],
    until: Option<Timestamp>,
) -> Vec<Transition> {
    let inputs: Vec<&[Point]> = inputs.iter().map(AsRef::as_ref).collect();
    let mut transitions = Vec::new();
    if state.latest.len() != inputs.len() {
        state.latest.resize(inputs.len(), None);
    }
    let mut cursors = vec![0usize; inputs.len()];
    // Skip late points.
    if let Some(through) = state.through {
        for (cursor, points) in cursors.iter_mut().zip(&inputs) {
            *cursor = points.partition_point(|p| p.timestamp <= through);
        }
    }
    let stateful = program.is_stateful();
    if let [points] = inputs.as_slice() {
        single_input(
            program,
            state,
            &points[cursors[0]..],
            stateful,
            &mut transitions,
        );
    } else {
        several_inputs(program, state, &inputs, cursors, stateful, &mut transitions);
    }
    if let Some(until) = until
        && state.through.is_none_or(|t| t < until)
    {
        state.through = Some(until);
    }
    transitions
}

/// Applies one result at `time` to the open state.
#[inline]
fn apply(
    state: &mut StreamState,
    result: Option<bool>,
    time: Timestamp,
    out: &mut Vec<Transition>,
) {
    match result {
        Some(true) if !state.open => {
            state.open = true;
            out.push(Transition::Opened(time));
        }
        Some(false) if state.open => {
            state.open = false;
            out.push(Transition::Closed(time));
        }
        _ => {}
    }
}

/// The common case of a rule over one channel: no alignment needed. `points` hold one point
/// per timestamp, in time order, none of them late.
fn single_input(
    program: &Program,
    state: &mut StreamState,
    points: &[Point],
    stateful: bool,
    out: &mut Vec<Transition>,
) {
    for (i, point) in points.iter().enumerate() {
        // Of several points at one timestamp, the last counts.
        if points
            .get(i + 1)
            .is_some_and(|next| next.timestamp == point.timestamp)
        {
            continue;
        }
        state.through = Some(point.timestamp);
        if !stateful && state.latest[0].as_ref() == Some(&point.value) {
            continue;
        }
        let result = program.eval(&mut state.eval, point.timestamp, &[Some(&point.value)]);
        state.latest[0] = Some(point.value.clone());
        apply(state, result, point.timestamp, out);
    }
}

/// Several channels, aligned on the union of their timestamps.
fn several_inputs(
    program: &Program,
    state: &mut StreamState,
    inputs: &[&[Point]],
    mut cursors: Vec<usize>,
    stateful: bool,
    transitions: &mut Vec<Transition>,
) {
    /// Rules with up to this many inputs pass them on the stack.
    const ON_STACK: usize = 8;
    let n = inputs.len();
    let mut buffer: Vec<Option<&Value>> = Vec::with_capacity(n);
    loop {
        // The next timestamp any input has.
        let mut next = None;
        for (points, &cursor) in inputs.iter().zip(&cursors) {
            if let Some(point) = points.get(cursor)
                && next.is_none_or(|t| point.timestamp < t)
            {
                next = Some(point.timestamp);
            }
        }
        let Some(time) = next else { break };
        let mut changed = false;
        for ((points, cursor), latest) in inputs.iter().zip(&mut cursors).zip(&mut state.latest) {
            while let Some(point) = points.get(*cursor)
                && point.timestamp == time
            {
                if latest.as_ref() != Some(&point.value) {
                    *latest = Some(point.value.clone());
                    changed = true;
                }
                *cursor += 1;
            }
        }
        state.through = Some(time);
        // A stateless expression over unchanged inputs gives the result it gave last time,
        // which changed nothing then and changes nothing now (slow channels repeat values).
        if !changed && !stateful {
            continue;
        }
        let result = if n <= ON_STACK {
            let mut refs: [Option<&Value>; ON_STACK] = [None; ON_STACK];
            for (slot, latest) in refs.iter_mut().zip(&state.latest) {
                *slot = latest.as_ref();
            }
            program.eval(&mut state.eval, time, &refs[..n])
        } else {
            let mut refs = recycle(buffer);
            refs.extend(state.latest.iter().map(Option::as_ref));
            let result = program.eval(&mut state.eval, time, &refs);
            buffer = recycle(refs);
            result
        };
        apply(state, result, time, transitions);
    }
}

/// An empty vector of references of another lifetime on the same allocation, so that one
/// buffer serves every evaluation without holding a borrow of the state between them.
fn recycle<'b>(mut refs: Vec<Option<&Value>>) -> Vec<Option<&'b Value>> {
    refs.clear();
    refs.into_iter().map(|_| None).collect()
}

/// The ranges where the condition held, from transitions: `(start, end)`, with `end` `None`
/// for a range still open. `open_since` is the start of a range already open before the first
/// transition, if any.
pub fn ranges(
    transitions: &[Transition],
    open_since: Option<Timestamp>,
) -> Vec<(Timestamp, Option<Timestamp>)> {
    let mut out = Vec::new();
    let mut start = open_since;
    for transition in transitions {
        match *transition {
            Transition::Opened(t) => start = Some(t),
            Transition::Closed(t) => {
                if let Some(s) = start.take() {
                    out.push((s, Some(t)));
                }
            }
        }
    }
    if let Some(s) = start {
        out.push((s, None));
    }
    out
}

/// The latest input values as stored in a checkpoint, by channel name, so that a changed rule
/// finds its channels' values again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct StoredState {
    pub(crate) latest: Vec<(String, StoredValue)>,
}

/// A value in a checkpoint's JSON; the tag names are fixed here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub(crate) enum StoredValue {
    Double(f64),
    Float(f32),
    String(String),
    Bool(bool),
    Int32(i32),
    Int64(i64),
    Uint32(u32),
    Uint64(u64),
    Enum(u32),
    BitField(u64),
    Bytes(Vec<u8>),
}

impl From<&Value> for StoredValue {
    fn from(value: &Value) -> Self {
        match value {
            Value::Double(v) => StoredValue::Double(*v),
            Value::Float(v) => StoredValue::Float(*v),
            Value::String(v) => StoredValue::String(v.clone()),
            Value::Bool(v) => StoredValue::Bool(*v),
            Value::Int32(v) => StoredValue::Int32(*v),
            Value::Int64(v) => StoredValue::Int64(*v),
            Value::Uint32(v) => StoredValue::Uint32(*v),
            Value::Uint64(v) => StoredValue::Uint64(*v),
            Value::Enum(v) => StoredValue::Enum(*v),
            Value::BitField(v) => StoredValue::BitField(*v),
            Value::Bytes(v) => StoredValue::Bytes(v.clone()),
        }
    }
}

impl From<StoredValue> for Value {
    fn from(value: StoredValue) -> Self {
        match value {
            StoredValue::Double(v) => Value::Double(v),
            StoredValue::Float(v) => Value::Float(v),
            StoredValue::String(v) => Value::String(v),
            StoredValue::Bool(v) => Value::Bool(v),
            StoredValue::Int32(v) => Value::Int32(v),
            StoredValue::Int64(v) => Value::Int64(v),
            StoredValue::Uint32(v) => Value::Uint32(v),
            StoredValue::Uint64(v) => Value::Uint64(v),
            StoredValue::Enum(v) => Value::Enum(v),
            StoredValue::BitField(v) => Value::BitField(v),
            StoredValue::Bytes(v) => Value::Bytes(v),
        }
    }
}

/// Encodes a stream's state for its checkpoint.
pub(crate) fn encode_state(state: &StreamState, channels: &[String]) -> String {
    let stored = StoredState {
        latest: channels
            .iter()
            .zip(&state.latest)
            .filter_map(|(channel, value)| value.as_ref().map(|v| (channel.clone(), v.into())))
            .collect(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// Restores a stream's state from its checkpoint for a program whose inputs are `channels`.
/// An empty or unreadable text restores nothing but the checkpoint's time.
pub(crate) fn decode_state(
    text: &str,
    program: &Program,
    channels: &[String],
    through: Option<Timestamp>,
    open: bool,
) -> StreamState {
    let mut state = StreamState::new(program);
    state.through = through;
    state.open = open;
    if let Ok(stored) = serde_json::from_str::<StoredState>(text) {
        for (channel, value) in stored.latest {
            if let Some(i) = channels.iter().position(|c| *c == channel) {
                state.latest[i] = Some(value.into());
            }
        }
    }
    state
}
