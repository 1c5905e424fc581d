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
    let aligned = shared_timestamps(&inputs);
    evaluate_inputs(program, state, &inputs, until, aligned)
}

/// [`evaluate`] for inputs the caller knows to have points at the same timestamps, as the
/// channels of one flow read over one span do: the check that every input has the same
/// timestamps, a pass over all of them, is left out. Inputs that do not share their
/// timestamps are evaluated as if each had the first one's; nothing panics.
pub fn evaluate_aligned(
    program: &Program,
    state: &mut StreamState,
    inputs: &[&[Point]],
    until: Option<Timestamp>,
) -> Vec<Transition> {
    evaluate_inputs(program, state, inputs, until, true)
}

fn evaluate_inputs(
    program: &Program,
    state: &mut StreamState,
    inputs: &[&[Point]],
    until: Option<Timestamp>,
    aligned: bool,
) -> Vec<Transition> {
    let mut transitions = Vec::new();
    if state.latest.len() != inputs.len() {
        state.latest.resize(inputs.len(), None);
    }
    // The new points of each input: late ones skipped.
    let inputs: Vec<&[Point]> = inputs
        .iter()
        .map(|&points| match state.through {
            Some(through) => &points[points.partition_point(|p| p.timestamp <= through)..],
            None => points,
        })
        .collect();
    let StreamState {
        latest,
        open,
        through,
        eval,
    } = state;
    let mut run = Run {
        program,
        stateful: program.is_stateful(),
        current: latest.iter().map(Option::as_ref).collect(),
        open,
        eval,
        through,
        out: &mut transitions,
    };
    if aligned {
        run.one_timeline(&inputs);
    } else {
        run.merged(&inputs);
    }
    // The latest value of each input is its last point.
    for (latest, points) in latest.iter_mut().zip(&inputs) {
        if let Some(last) = points.last() {
            *latest = Some(last.value.clone());
        }
    }
    if let Some(until) = until
        && state.through.is_none_or(|t| t < until)
    {
        state.through = Some(until);
    }
    transitions
}

/// Whether every input has points at the same timestamps, as the channels of one flow do (the
/// common case, which needs no merge).
pub fn shared_timestamps(inputs: &[&[Point]]) -> bool {
    let Some((first, rest)) = inputs.split_first() else {
        return true;
    };
    rest.iter().all(|points| {
        points.len() == first.len()
            && points
                .iter()
                .zip(first.iter())
                .all(|(a, b)| a.timestamp == b.timestamp)
    })
}

/// One evaluation pass over the new points: the value each input holds, borrowed from the
/// stream's state or from the new points, and where results go.
struct Run<'a, 'v> {
    program: &'a Program,
    stateful: bool,
    /// The value of each input at the current timestamp.
    current: Vec<Option<&'v Value>>,
    open: &'a mut bool,
    eval: &'a mut EvalState,
    through: &'a mut Option<Timestamp>,
    out: &'a mut Vec<Transition>,
}

impl<'v> Run<'_, 'v> {
    /// Inputs whose points share their timestamps: the i-th point of every input is at the
    /// same time. A stateless expression is evaluated over all rows at once.
    fn one_timeline(&mut self, inputs: &[&'v [Point]]) {
        let Some(first) = inputs.first() else { return };
        let rows = inputs.iter().map(|points| points.len()).min().unwrap_or(0);
        // Of several points at one timestamp, the last counts.
        let last_at_its_time = |i: usize| {
            first
                .get(i + 1)
                .is_none_or(|next| next.timestamp != first[i].timestamp)
        };
        if let Some(results) = self.program.eval_rows(inputs) {
            // Only a result that differs from the open state can change it: skip to the next.
            let mut i = 0;
            while let Some(found) = results[i..]
                .iter()
                .position(|result| *result == Some(!*self.open))
            {
                i += found;
                if last_at_its_time(i) {
                    self.apply(first[i].timestamp, results[i]);
                }
                i += 1;
            }
            if let Some(last) = rows.checked_sub(1) {
                *self.through = Some(first[last].timestamp);
            }
            return;
        }
        for i in 0..rows {
            if !last_at_its_time(i) {
                continue;
            }
            let mut changed = false;
            for (current, points) in self.current.iter_mut().zip(inputs) {
                let value = &points[i].value;
                if *current != Some(value) {
                    *current = Some(value);
                    changed = true;
                }
            }
            self.step(first[i].timestamp, changed);
        }
    }

    /// Inputs at different timestamps, aligned on the union of their timestamps.
    fn merged(&mut self, inputs: &[&'v [Point]]) {
        let mut cursors = vec![0usize; inputs.len()];
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
            for ((points, cursor), current) in
                inputs.iter().zip(&mut cursors).zip(&mut self.current)
            {
                // Of several points at one timestamp, the last counts.
                let mut value = None;
                while let Some(point) = points.get(*cursor)
                    && point.timestamp == time
                {
                    value = Some(&point.value);
                    *cursor += 1;
                }
                if value.is_some() && *current != value {
                    *current = value;
                    changed = true;
                }
            }
            self.step(time, changed);
        }
    }

    /// Evaluates at `time`, unless nothing changed since the last evaluation of a stateless
    /// expression: that would give the result it gave then, which changed nothing then and
    /// changes nothing now (slow channels repeat values).
    #[inline]
    fn step(&mut self, time: Timestamp, changed: bool) {
        if !changed && !self.stateful {
            *self.through = Some(time);
            return;
        }
        let result = self.program.eval(self.eval, time, &self.current);
        self.apply(time, result);
    }

    /// Applies the result at `time`: a range opens on true while closed and closes on false
    /// while open; an unknown result changes nothing.
    #[inline]
    fn apply(&mut self, time: Timestamp, result: Option<bool>) {
        *self.through = Some(time);
        match result {
            Some(true) if !*self.open => {
                *self.open = true;
                self.out.push(Transition::Opened(time));
            }
            Some(false) if *self.open => {
                *self.open = false;
                self.out.push(Transition::Closed(time));
            }
            _ => {}
        }
    }
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sextant_expr::{ChannelSchema, compile, parse};
    use sextant_model::DataType;

    use super::*;

    fn program(src: &str) -> Program {
        let channels: Vec<(String, ChannelSchema)> =
            [DataType::Double, DataType::Int32, DataType::Bool]
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("${}", i + 1), ChannelSchema::new(t)))
                .collect();
        compile(&parse(src).expect("parses"), &channels).expect("compiles")
    }

    /// Rows of (timestamp step, double, int, bool): inputs sharing their timestamps, with
    /// repeated timestamps and repeated values.
    fn rows() -> impl Strategy<Value = Vec<(i64, f64, i32, bool)>> {
        prop::collection::vec((0..3i64, -3..4i32, -3..4i32, any::<bool>()), 0..40).prop_map(
            |rows| {
                let mut time = 0;
                rows.into_iter()
                    .map(|(step, d, i, b)| {
                        time += step;
                        (time, f64::from(d) / 2.0, i, b)
                    })
                    .collect()
            },
        )
    }

    proptest! {
        /// Evaluating inputs on one timeline, all rows at once or row by row for `held_for`,
        /// finds the transitions the general merge finds, batch after batch.
        #[test]
        fn one_timeline_agrees_with_the_merge(
            src in prop::sample::select(vec![
                "$1 > 0",
                "$1 > 0 && $3",
                "abs($1 - $2) >= 1 || !$3",
                "$2 % 2 == 0",
                "held_for($1 > 0, 2ns)",
            ]),
            rows in rows(),
            cuts in prop::collection::vec(0..40usize, 0..4),
        ) {
            let program = program(src);
            let inputs: Vec<Vec<Point>> = vec![
                rows.iter().map(|r| Point::new(r.0, Value::Double(r.1))).collect(),
                rows.iter().map(|r| Point::new(r.0, Value::Int32(r.2))).collect(),
                rows.iter().map(|r| Point::new(r.0, Value::Bool(r.3))).collect(),
            ];
            let used: Vec<&[Point]> = program
                .inputs()
                .iter()
                .map(|name| inputs[name[1..].parse::<usize>().unwrap() - 1].as_slice())
                .collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
            cuts.push(rows.len());
            cuts.sort_unstable();
            let mut aligned = StreamState::new(&program);
            let mut merged = StreamState::new(&program);
            let mut from = 0;
            for cut in cuts {
                // A commit's data: what storage holds up to this row's time.
                let until = rows.get(cut.max(1) - 1).map(|r| r.0);
                let end = rows.partition_point(|r| Some(r.0) <= until);
                let batch: Vec<&[Point]> = used.iter().map(|p| &p[from.min(end)..end]).collect();
                from = from.max(end);
                let a = evaluate_inputs(&program, &mut aligned, &batch, until, true);
                let m = evaluate_inputs(&program, &mut merged, &batch, until, false);
                prop_assert_eq!(&a, &m, "{} over {:?}", src, rows);
                prop_assert_eq!(aligned.open, merged.open);
                prop_assert_eq!(aligned.through, merged.through);
                prop_assert_eq!(&aligned.latest, &merged.latest);
            }
        }
    }
}
