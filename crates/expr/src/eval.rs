//! The compiled form of a rule and its evaluator.
//!
//! [`compile`](crate::compile) turns a checked expression into a tree of typed nodes: each node
//! knows the type it produces, inputs are slot indexes, enum names are already keys and bit-field
//! elements are a shift and a mask. The `lower` module turns most nodes into specialized
//! closures; the rest are evaluated by walking the tree here. Neither looks anything up by name
//! or allocates. Every node yields an `Option`: `None` means "not known" (a missing
//! input, an integer overflow, an integer division by zero) and propagates up, except through
//! `&&` and `||`, which follow three-valued logic (`false && unknown` is `false`).

use std::fmt;
use std::sync::Arc;

use sextant_model::{Point, Timestamp, Value};

use crate::lower::{RootFn, lower};

pub(crate) type Slot = usize;

/// A compiled rule expression, ready to evaluate many times. Cloning is cheap and shares the
/// compiled code; each clone still needs its own [`EvalState`] per stream.
#[derive(Clone)]
pub struct Program {
    inputs: Vec<String>,
    root: BoolNode,
    held_sites: usize,
    run: Arc<RootFn>,
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("inputs", &self.inputs)
            .field("root", &self.root)
            .field("held_sites", &self.held_sites)
            .finish_non_exhaustive()
    }
}

/// Per-rule state of the duration-aware functions (`held_for`). Create one with
/// [`Program::new_state`] for each independent stream the rule watches (e.g. per asset and run).
#[derive(Debug, Clone, Default)]
pub struct EvalState {
    held: Vec<HeldRun>,
}

impl EvalState {
    pub(crate) fn with_sites(sites: usize) -> Self {
        EvalState {
            held: vec![HeldRun::default(); sites],
        }
    }

    /// The state of `sites` `held_for` calls; a state made for another program is resized.
    pub(crate) fn sites(&mut self, sites: usize) -> &mut [HeldRun] {
        if self.held.len() != sites {
            self.held.resize(sites, HeldRun::default());
        }
        &mut self.held
    }
}

/// What one `held_for` call remembers: when the current run of true evaluations began, and the
/// latest evaluation time seen.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeldRun {
    since: Option<Timestamp>,
    latest: Option<Timestamp>,
}

impl Program {
    pub(crate) fn new(inputs: Vec<String>, root: BoolNode, held_sites: usize) -> Program {
        let run = lower(&root);
        Program {
            inputs,
            root,
            held_sites,
            run,
        }
    }

    /// The reference names, in the slot order `eval` expects its inputs in (e.g. ["$1", "$2"]).
    ///
    /// These are the bound channels the expression uses, in the order of the `channels` list
    /// given to [`compile`](crate::compile).
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Fresh per-rule state for duration-aware functions.
    pub fn new_state(&self) -> EvalState {
        EvalState {
            held: vec![HeldRun::default(); self.held_sites],
        }
    }

    /// Whether the result depends on earlier evaluations (the expression uses `held_for`), so
    /// its [`EvalState`] must be kept between calls.
    pub fn is_stateful(&self) -> bool {
        self.held_sites > 0
    }

    /// Evaluates at `time` with the latest value of each input (None = that channel has no value
    /// yet). Returns None when the result cannot be known (a needed input has no value);
    /// the live rule engine treats None as "no change".
    ///
    /// Values are read by kind: a float channel accepts any numeric value, an integer channel
    /// any integer value, a string or bytes channel either; a value of another kind counts as
    /// missing, as do inputs beyond the end of `inputs`. A state made by another program is
    /// resized, not trusted to fit.
    pub fn eval(
        &self,
        state: &mut EvalState,
        time: Timestamp,
        inputs: &[Option<&Value>],
    ) -> Option<bool> {
        if state.held.len() != self.held_sites {
            state.held.resize(self.held_sites, HeldRun::default());
        }
        let mut ctx = Ctx {
            inputs,
            time,
            held: &mut state.held,
        };
        (self.run)(&mut ctx)
    }
}

impl Program {
    /// Evaluates a stateless program at every row of inputs that share their timestamps:
    /// at row `i`, input `j` has the value of `inputs[j][i]`. Gives one result per row, the
    /// result [`Program::eval`] gives with those values, for as many rows as the shortest input
    /// has; an input beyond the end of `inputs` is missing, as in `eval`.
    ///
    /// Each operation runs over all rows before the next one, in loops over typed values,
    /// which costs a fraction of one [`Program::eval`] per row. A stateful program (one using
    /// `held_for`) depends on the order of evaluations and gets `None`: evaluate it row by
    /// row with `eval`.
    pub fn eval_rows(&self, inputs: &[&[Point]]) -> Option<Vec<Option<bool>>> {
        if self.is_stateful() {
            return None;
        }
        let rows = inputs.iter().map(|points| points.len()).min().unwrap_or(0);
        Some(crate::rows::bools(
            &self.root,
            &crate::rows::Rows::new(inputs, rows),
        ))
    }
}

/// What one evaluation sees: the inputs, the time and the `held_for` state.
pub(crate) struct Ctx<'v, 's> {
    inputs: &'v [Option<&'v Value>],
    time: Timestamp,
    held: &'s mut [HeldRun],
}

impl<'v, 's> Ctx<'v, 's> {
    /// What an evaluation at `time` over `inputs` sees, with `held` its `held_for` state.
    pub(crate) fn new(
        inputs: &'v [Option<&'v Value>],
        time: Timestamp,
        held: &'s mut [HeldRun],
    ) -> Self {
        Ctx { inputs, time, held }
    }

    #[inline]
    pub(crate) fn input(&self, slot: Slot) -> Option<&'v Value> {
        self.inputs.get(slot).copied().flatten()
    }

    /// One evaluation of the `held_for` at `site`, whose condition evaluated to `value`.
    pub(crate) fn held_for(
        &mut self,
        site: usize,
        value: Option<bool>,
        duration: i64,
    ) -> Option<bool> {
        let time = self.time;
        self.held
            .get_mut(site)
            .and_then(|run| run.step(time, value, duration))
    }
}

/// `a && b` where either may be unknown: false wins, then unknown.
#[inline]
pub(crate) fn kleene_and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// `a || b` where either may be unknown: true wins, then unknown.
#[inline]
pub(crate) fn kleene_or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    #[inline]
    fn apply<T: PartialOrd + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFn {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntOp {
    Add,
    Sub,
    Mul,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

// A plain tag instead of a niche keeps the dispatch on each node to a load and a jump.
#[derive(Debug, Clone)]
#[repr(u8)]
pub(crate) enum BoolNode {
    Const(bool),
    Input(Slot),
    Not(Box<BoolNode>),
    /// `eager` evaluates the right side even when the left decides the result, so that a
    /// `held_for` on the right sees every evaluation.
    And(Box<BoolNode>, Box<BoolNode>, bool),
    Or(Box<BoolNode>, Box<BoolNode>, bool),
    Int(Cmp, Box<IntNode>, Box<IntNode>),
    Float(Cmp, Box<FloatNode>, Box<FloatNode>),
    /// A comparison with a constant, the most common shape in rules (`$1 > 400`), kept in one
    /// node so that evaluating it is one step.
    IntConst(Cmp, IntNode, i128),
    FloatConst(Cmp, FloatNode, f64),
    /// `input cmp constant`, read in place without a call per operand.
    IntLeafConst(Cmp, IntLeaf, i128),
    FloatInputConst(Cmp, Slot, f64),
    Bool(Cmp, Box<BoolNode>, Box<BoolNode>),
    Text(Cmp, Box<TextNode>, Box<TextNode>),
    TextFn(TextFn, Box<TextNode>, Box<TextNode>),
    HeldFor {
        cond: Box<BoolNode>,
        duration: i64,
        site: usize,
    },
}

/// Integers are evaluated as `i128`, which holds every int32, int64, uint32 and uint64 value
/// exactly; arithmetic is checked and overflow yields "unknown".
// A plain tag instead of a niche keeps the dispatch on each node to a load and a jump.
#[derive(Debug, Clone)]
#[repr(u8)]
pub(crate) enum IntNode {
    Const(i128),
    Leaf(IntLeaf),
    Neg(Box<IntNode>),
    Abs(Box<IntNode>),
    Arith(IntOp, Box<IntNode>, Box<IntNode>),
    Min(Vec<IntNode>),
    Max(Vec<IntNode>),
}

/// An integer read straight from an input.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IntLeaf {
    /// Any integer-valued input (int32, int64, uint32, uint64, the whole of a bit field).
    Input(Slot),
    EnumKey {
        slot: Slot,
        signed: bool,
    },
    Element {
        slot: Slot,
        shift: u32,
        mask: u64,
    },
}

impl IntLeaf {
    #[inline(always)]
    pub(crate) fn read(self, ctx: &Ctx<'_, '_>) -> Option<i128> {
        self.of(ctx.input(self.slot())?)
    }

    /// The input slot the leaf reads.
    #[inline(always)]
    pub(crate) fn slot(self) -> Slot {
        match self {
            IntLeaf::Input(slot)
            | IntLeaf::EnumKey { slot, .. }
            | IntLeaf::Element { slot, .. } => slot,
        }
    }

    /// The leaf's integer in `value`, the value of its input.
    #[inline(always)]
    pub(crate) fn of(self, value: &Value) -> Option<i128> {
        match self {
            IntLeaf::Input(_) => match value {
                Value::Int32(v) => Some(i128::from(*v)),
                Value::Int64(v) => Some(i128::from(*v)),
                Value::Uint32(v) => Some(i128::from(*v)),
                Value::Uint64(v) | Value::BitField(v) => Some(i128::from(*v)),
                _ => None,
            },
            IntLeaf::EnumKey { signed, .. } => match value {
                // A signed table reads the same 32 bits as a two's-complement key.
                Value::Enum(key) if signed => Some(i128::from(*key as i32)),
                Value::Enum(key) => Some(i128::from(*key)),
                _ => None,
            },
            IntLeaf::Element { shift, mask, .. } => match value {
                Value::BitField(bits) => Some(i128::from((bits >> shift) & mask)),
                _ => None,
            },
        }
    }
}

#[inline(always)]
pub(crate) fn read_float(ctx: &Ctx<'_, '_>, slot: Slot) -> Option<f64> {
    float_of(ctx.input(slot)?)
}

/// A numeric value as `f64`; other values are not numbers.
#[inline(always)]
pub(crate) fn float_of(value: &Value) -> Option<f64> {
    match value {
        Value::Double(v) => Some(*v),
        Value::Float(v) => Some(f64::from(*v)),
        Value::Int32(v) => Some(f64::from(*v)),
        Value::Uint32(v) => Some(f64::from(*v)),
        Value::Int64(v) => Some(*v as f64),
        Value::Uint64(v) => Some(*v as f64),
        _ => None,
    }
}

// A plain tag instead of a niche keeps the dispatch on each node to a load and a jump.
#[derive(Debug, Clone)]
#[repr(u8)]
pub(crate) enum FloatNode {
    Const(f64),
    /// Any numeric input, converted to `f64`.
    Input(Slot),
    FromInt(Box<IntNode>),
    Neg(Box<FloatNode>),
    Abs(Box<FloatNode>),
    Arith(FloatOp, Box<FloatNode>, Box<FloatNode>),
    /// `/` between integers: a float quotient, unknown when the divisor is zero.
    IntDiv(Box<IntNode>, Box<IntNode>),
    Min(Vec<FloatNode>),
    Max(Vec<FloatNode>),
}

#[derive(Debug, Clone)]
pub(crate) enum TextNode {
    Const(Box<[u8]>),
    /// A string or bytes input, as bytes.
    Input(Slot),
}

impl Cmp {
    /// The comparison with its operands swapped: `a < b` is `b > a`.
    pub(crate) fn flipped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            same => same,
        }
    }
}

impl BoolNode {
    /// `a cmp b` on integers, folding a constant side into the node.
    pub(crate) fn int_cmp(cmp: Cmp, a: IntNode, b: IntNode) -> BoolNode {
        match (a, b) {
            (IntNode::Leaf(leaf), IntNode::Const(c)) => BoolNode::IntLeafConst(cmp, leaf, c),
            (IntNode::Const(c), IntNode::Leaf(leaf)) => {
                BoolNode::IntLeafConst(cmp.flipped(), leaf, c)
            }
            (a, IntNode::Const(c)) => BoolNode::IntConst(cmp, a, c),
            (IntNode::Const(c), b) => BoolNode::IntConst(cmp.flipped(), b, c),
            (a, b) => BoolNode::Int(cmp, Box::new(a), Box::new(b)),
        }
    }

    /// `a cmp b` on floats, folding a constant side into the node.
    pub(crate) fn float_cmp(cmp: Cmp, a: FloatNode, b: FloatNode) -> BoolNode {
        match (a, b) {
            (FloatNode::Input(slot), FloatNode::Const(c)) => {
                BoolNode::FloatInputConst(cmp, slot, c)
            }
            (FloatNode::Const(c), FloatNode::Input(slot)) => {
                BoolNode::FloatInputConst(cmp.flipped(), slot, c)
            }
            (a, FloatNode::Const(c)) => BoolNode::FloatConst(cmp, a, c),
            (FloatNode::Const(c), b) => BoolNode::FloatConst(cmp.flipped(), b, c),
            (a, b) => BoolNode::Float(cmp, Box::new(a), Box::new(b)),
        }
    }

    /// Whether evaluating this node changes state, so it must never be skipped.
    pub(crate) fn is_stateful(&self) -> bool {
        match self {
            BoolNode::HeldFor { .. } => true,
            BoolNode::Not(inner) => inner.is_stateful(),
            BoolNode::And(l, r, _) | BoolNode::Or(l, r, _) | BoolNode::Bool(_, l, r) => {
                l.is_stateful() || r.is_stateful()
            }
            BoolNode::Const(_)
            | BoolNode::Input(_)
            | BoolNode::Int(..)
            | BoolNode::Float(..)
            | BoolNode::IntConst(..)
            | BoolNode::FloatConst(..)
            | BoolNode::IntLeafConst(..)
            | BoolNode::FloatInputConst(..)
            | BoolNode::Text(..)
            | BoolNode::TextFn(..) => false,
        }
    }

    pub(crate) fn eval(&self, ctx: &mut Ctx<'_, '_>) -> Option<bool> {
        match self {
            BoolNode::Const(b) => Some(*b),
            BoolNode::Input(slot) => match ctx.input(*slot)? {
                Value::Bool(b) => Some(*b),
                _ => None,
            },
            BoolNode::Not(inner) => inner.eval(ctx).map(|b| !b),
            BoolNode::And(l, r, eager) => {
                let left = l.eval(ctx);
                if left == Some(false) && !eager {
                    return Some(false);
                }
                kleene_and(left, r.eval(ctx))
            }
            BoolNode::Or(l, r, eager) => {
                let left = l.eval(ctx);
                if left == Some(true) && !eager {
                    return Some(true);
                }
                kleene_or(left, r.eval(ctx))
            }
            BoolNode::Int(cmp, l, r) => {
                let a = l.eval(ctx)?;
                let b = r.eval(ctx)?;
                Some(cmp.apply(&a, &b))
            }
            BoolNode::Float(cmp, l, r) => {
                let a = l.eval(ctx)?;
                let b = r.eval(ctx)?;
                Some(cmp.apply(&a, &b))
            }
            BoolNode::IntConst(cmp, l, b) => Some(cmp.apply(&l.eval(ctx)?, b)),
            BoolNode::IntLeafConst(cmp, leaf, b) => Some(cmp.apply(&leaf.read(ctx)?, b)),
            BoolNode::FloatInputConst(cmp, slot, b) => Some(cmp.apply(&read_float(ctx, *slot)?, b)),
            BoolNode::FloatConst(cmp, l, b) => Some(cmp.apply(&l.eval(ctx)?, b)),
            _ => self.eval_rare(ctx),
        }
    }

    /// The less common nodes, kept out of `eval` so that its frame stays small: every node
    /// of a rule passes through `eval`, and each register it saves costs on every call.
    #[inline(never)]
    fn eval_rare(&self, ctx: &mut Ctx<'_, '_>) -> Option<bool> {
        match self {
            BoolNode::Bool(cmp, l, r) => {
                // Both sides run before either is unwrapped, for a stateful side's sake.
                let a = l.eval(ctx);
                let b = r.eval(ctx);
                Some(cmp.apply(&a?, &b?))
            }
            BoolNode::Text(cmp, l, r) => {
                let a = l.eval(ctx)?;
                let b = r.eval(ctx)?;
                Some(cmp.apply(a, b))
            }
            BoolNode::TextFn(f, l, r) => {
                let hay = l.eval(ctx)?;
                let needle = r.eval(ctx)?;
                Some(match f {
                    TextFn::Contains => contains(hay, needle),
                    TextFn::StartsWith => hay.starts_with(needle),
                    TextFn::EndsWith => hay.ends_with(needle),
                })
            }
            BoolNode::HeldFor {
                cond,
                duration,
                site,
            } => {
                let value = cond.eval(ctx);
                ctx.held_for(*site, value, *duration)
            }
            other => other.eval(ctx),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if let (Ok(hay), Ok(needle)) = (std::str::from_utf8(hay), std::str::from_utf8(needle)) {
        return hay.contains(needle);
    }
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

impl HeldRun {
    /// One evaluation of `held_for(cond, duration)` at `time`, where `cond` evaluated to `value`.
    ///
    /// In time order: a true value starts a run (or continues one) and the answer is whether
    /// the run began at least `duration` ago; a false value ends the run; an unknown value
    /// leaves the run as it is and answers unknown. An evaluation earlier than the latest one
    /// seen is late: it never starts or extends a run, it answers from the run as it stands,
    /// and a late false that falls inside the current run breaks it, the run restarting at the
    /// latest time seen (the one moment known to be true since).
    fn step(&mut self, time: Timestamp, value: Option<bool>, duration: i64) -> Option<bool> {
        let late = self.latest.is_some_and(|latest| time < latest);
        if !late {
            self.latest = Some(time);
        }
        let held_since = |since: Timestamp| time.saturating_sub(since) >= duration;
        match (value?, late) {
            (true, false) => Some(held_since(*self.since.get_or_insert(time))),
            (true, true) => Some(self.since.is_some_and(held_since)),
            (false, false) => {
                self.since = None;
                Some(false)
            }
            (false, true) => {
                if self.since.is_some_and(|since| time >= since) {
                    self.since = self.latest;
                }
                Some(false)
            }
        }
    }
}

impl IntNode {
    pub(crate) fn eval(&self, ctx: &mut Ctx<'_, '_>) -> Option<i128> {
        match self {
            IntNode::Const(v) => Some(*v),
            IntNode::Leaf(leaf) => leaf.read(ctx),
            IntNode::Neg(inner) => inner.eval(ctx)?.checked_neg(),
            IntNode::Abs(inner) => inner.eval(ctx)?.checked_abs(),
            IntNode::Arith(op, l, r) => {
                let a = l.eval(ctx)?;
                let b = r.eval(ctx)?;
                match op {
                    IntOp::Add => a.checked_add(b),
                    IntOp::Sub => a.checked_sub(b),
                    IntOp::Mul => a.checked_mul(b),
                    IntOp::Rem => a.checked_rem(b),
                }
            }
            IntNode::Min(args) => fold(args, ctx, i128::min),
            IntNode::Max(args) => fold(args, ctx, i128::max),
        }
    }
}

fn fold<N: Evaluate>(
    args: &[N],
    ctx: &mut Ctx<'_, '_>,
    pick: fn(N::Out, N::Out) -> N::Out,
) -> Option<N::Out> {
    let (first, rest) = args.split_first()?;
    let mut acc = first.evaluate(ctx)?;
    for arg in rest {
        acc = pick(acc, arg.evaluate(ctx)?);
    }
    Some(acc)
}

trait Evaluate {
    type Out;
    fn evaluate(&self, ctx: &mut Ctx<'_, '_>) -> Option<Self::Out>;
}

impl Evaluate for IntNode {
    type Out = i128;
    fn evaluate(&self, ctx: &mut Ctx<'_, '_>) -> Option<i128> {
        self.eval(ctx)
    }
}

impl Evaluate for FloatNode {
    type Out = f64;
    fn evaluate(&self, ctx: &mut Ctx<'_, '_>) -> Option<f64> {
        self.eval(ctx)
    }
}

impl FloatNode {
    pub(crate) fn eval(&self, ctx: &mut Ctx<'_, '_>) -> Option<f64> {
        match self {
            FloatNode::Const(v) => Some(*v),
            FloatNode::Input(slot) => read_float(ctx, *slot),
            FloatNode::FromInt(inner) => inner.eval(ctx).map(|v| v as f64),
            FloatNode::Neg(inner) => inner.eval(ctx).map(|v| -v),
            FloatNode::Abs(inner) => inner.eval(ctx).map(f64::abs),
            FloatNode::Arith(op, l, r) => {
                let a = l.eval(ctx)?;
                let b = r.eval(ctx)?;
                Some(match op {
                    FloatOp::Add => a + b,
                    FloatOp::Sub => a - b,
                    FloatOp::Mul => a * b,
                    FloatOp::Div => a / b,
                    FloatOp::Rem => a % b,
                })
            }
            FloatNode::IntDiv(l, r) => {
                let a = l.eval(ctx)?;
                let b = r.eval(ctx)?;
                (b != 0).then(|| a as f64 / b as f64)
            }
            FloatNode::Min(args) => fold(args, ctx, f64::min),
            FloatNode::Max(args) => fold(args, ctx, f64::max),
        }
    }
}

impl TextNode {
    #[inline]
    pub(crate) fn eval<'v>(&'v self, ctx: &Ctx<'v, '_>) -> Option<&'v [u8]> {
        match self {
            TextNode::Const(bytes) => Some(bytes),
            TextNode::Input(slot) => match ctx.input(*slot)? {
                Value::String(s) => Some(s.as_bytes()),
                Value::Bytes(b) => Some(b),
                _ => None,
            },
        }
    }
}
