//! Evaluation over many rows at once, for [`Program::eval_rows`](crate::Program::eval_rows).
//!
//! Every node is evaluated over all rows before its parent: a loop over the rows' values per
//! node instead of a walk of the whole tree per row. Results are columns of `Option`, `None`
//! being "not known" as in row-by-row evaluation, and each node combines its operands' columns
//! with the same rules. The common nodes (comparisons, arithmetic, `&&`, `||`, `!`) have loops
//! of their own; the others (text, comparisons of booleans) run the row evaluator on each row.
//!
//! Only stateless programs come here: with no `held_for`, evaluating an operand that the
//! row evaluator would skip (the right side of `false && x`) changes nothing, so `&&` and `||`
//! are Kleene's on whole columns.

use sextant_model::{Point, Value};

use crate::eval::{
    BoolNode, Cmp, Ctx, FloatNode, FloatOp, IntLeaf, IntNode, IntOp, Slot, float_of, kleene_and,
    kleene_or,
};
use crate::lower::{Compare, Eq, Ge, Gt, Le, Lt, Ne, by_cmp};

/// The inputs of a batch: row `i` of input `j` is `inputs[j][i]`.
pub(crate) struct Rows<'a> {
    inputs: &'a [&'a [Point]],
    len: usize,
}

impl<'a> Rows<'a> {
    /// `len` rows of `inputs`, each of which has at least that many points.
    pub(crate) fn new(inputs: &'a [&'a [Point]], len: usize) -> Self {
        Rows { inputs, len }
    }

    /// The values of input `slot`, one per row; `None` for an input that is not given.
    fn column(&self, slot: Slot) -> Option<&'a [Point]> {
        self.inputs.get(slot).map(|points| &points[..self.len])
    }

    /// `f` of each row's value of input `slot`; unknown throughout when the input is missing.
    fn map<T>(&self, slot: Slot, f: impl Fn(&Value) -> Option<T>) -> Vec<Option<T>> {
        match self.column(slot) {
            Some(points) => points.iter().map(|p| f(&p.value)).collect(),
            None => (0..self.len).map(|_| None).collect(),
        }
    }
}

/// The condition at every row.
pub(crate) fn bools(node: &BoolNode, rows: &Rows<'_>) -> Vec<Option<bool>> {
    match node {
        BoolNode::Const(b) => vec![Some(*b); rows.len],
        BoolNode::Input(slot) => rows.map(*slot, |value| match value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }),
        BoolNode::Not(inner) => {
            let mut column = bools(inner, rows);
            for b in &mut column {
                *b = b.map(|b| !b);
            }
            column
        }
        BoolNode::And(l, r, _) => zip(bools(l, rows), &bools(r, rows), kleene_and),
        BoolNode::Or(l, r, _) => zip(bools(l, rows), &bools(r, rows), kleene_or),
        BoolNode::Int(cmp, a, b) => by_cmp!(cmp, int_pair(ints(a, rows), ints(b, rows))),
        BoolNode::Float(cmp, a, b) => by_cmp!(cmp, float_pair(floats(a, rows), floats(b, rows))),
        BoolNode::IntConst(cmp, a, c) => by_cmp!(cmp, int_const(ints(a, rows), *c)),
        BoolNode::FloatConst(cmp, a, c) => by_cmp!(cmp, float_const(floats(a, rows), *c)),
        BoolNode::IntLeafConst(cmp, leaf, c) => by_cmp!(cmp, leaf_const(*leaf, *c, rows)),
        BoolNode::FloatInputConst(cmp, slot, c) => by_cmp!(cmp, input_const(*slot, *c, rows)),
        BoolNode::Bool(..)
        | BoolNode::Text(..)
        | BoolNode::TextFn(..)
        | BoolNode::HeldFor { .. } => row_by_row(node, rows),
    }
}

/// The integer at every row.
fn ints(node: &IntNode, rows: &Rows<'_>) -> Vec<Option<i128>> {
    match node {
        IntNode::Const(v) => vec![Some(*v); rows.len],
        IntNode::Leaf(leaf) => leaf_values(*leaf, rows),
        IntNode::Neg(inner) => map(ints(inner, rows), i128::checked_neg),
        IntNode::Abs(inner) => map(ints(inner, rows), i128::checked_abs),
        IntNode::Arith(op, a, b) => {
            let (a, b) = (ints(a, rows), ints(b, rows));
            match op {
                IntOp::Add => zip_known(a, &b, i128::checked_add),
                IntOp::Sub => zip_known(a, &b, i128::checked_sub),
                IntOp::Mul => zip_known(a, &b, i128::checked_mul),
                IntOp::Rem => zip_known(a, &b, i128::checked_rem),
            }
        }
        IntNode::Min(args) => fold(args.iter().map(|a| ints(a, rows)), rows, i128::min),
        IntNode::Max(args) => fold(args.iter().map(|a| ints(a, rows)), rows, i128::max),
    }
}

/// The float at every row.
fn floats(node: &FloatNode, rows: &Rows<'_>) -> Vec<Option<f64>> {
    match node {
        FloatNode::Const(v) => vec![Some(*v); rows.len],
        FloatNode::Input(slot) => rows.map(*slot, float_of),
        FloatNode::FromInt(inner) => ints(inner, rows)
            .iter()
            .map(|v| v.map(|v| v as f64))
            .collect(),
        FloatNode::Neg(inner) => map(floats(inner, rows), |v| Some(-v)),
        FloatNode::Abs(inner) => map(floats(inner, rows), |v| Some(v.abs())),
        FloatNode::Arith(op, a, b) => {
            let (a, b) = (floats(a, rows), floats(b, rows));
            match op {
                FloatOp::Add => zip_known(a, &b, |x, y| Some(x + y)),
                FloatOp::Sub => zip_known(a, &b, |x, y| Some(x - y)),
                FloatOp::Mul => zip_known(a, &b, |x, y| Some(x * y)),
                FloatOp::Div => zip_known(a, &b, |x, y| Some(x / y)),
                FloatOp::Rem => zip_known(a, &b, |x, y| Some(x % y)),
            }
        }
        FloatNode::IntDiv(a, b) => {
            let (a, b) = (ints(a, rows), ints(b, rows));
            let mut out = Vec::with_capacity(rows.len);
            out.extend(a.iter().zip(&b).map(|(x, y)| match (*x, *y) {
                (Some(x), Some(y)) if y != 0 => Some(x as f64 / y as f64),
                _ => None,
            }));
            out
        }
        FloatNode::Min(args) => fold(args.iter().map(|a| floats(a, rows)), rows, f64::min),
        FloatNode::Max(args) => fold(args.iter().map(|a| floats(a, rows)), rows, f64::max),
    }
}

fn leaf_values(leaf: IntLeaf, rows: &Rows<'_>) -> Vec<Option<i128>> {
    rows.map(leaf.slot(), |value| leaf.of(value))
}

fn leaf_const<C: Compare>(leaf: IntLeaf, c: i128, rows: &Rows<'_>) -> Vec<Option<bool>> {
    rows.map(leaf.slot(), |value| Some(C::apply(&leaf.of(value)?, &c)))
}

fn input_const<C: Compare>(slot: Slot, c: f64, rows: &Rows<'_>) -> Vec<Option<bool>> {
    rows.map(slot, |value| Some(C::apply(&float_of(value)?, &c)))
}

fn int_const<C: Compare>(a: Vec<Option<i128>>, c: i128) -> Vec<Option<bool>> {
    compare_const::<C, _>(&a, c)
}

fn float_const<C: Compare>(a: Vec<Option<f64>>, c: f64) -> Vec<Option<bool>> {
    compare_const::<C, _>(&a, c)
}

fn int_pair<C: Compare>(a: Vec<Option<i128>>, b: Vec<Option<i128>>) -> Vec<Option<bool>> {
    compare_pair::<C, _>(&a, &b)
}

fn float_pair<C: Compare>(a: Vec<Option<f64>>, b: Vec<Option<f64>>) -> Vec<Option<bool>> {
    compare_pair::<C, _>(&a, &b)
}

fn compare_const<C: Compare, T: PartialOrd + Copy>(a: &[Option<T>], c: T) -> Vec<Option<bool>> {
    a.iter().map(|x| Some(C::apply(&(*x)?, &c))).collect()
}

fn compare_pair<C: Compare, T: PartialOrd + Copy>(
    a: &[Option<T>],
    b: &[Option<T>],
) -> Vec<Option<bool>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| Some(C::apply(&(*x)?, &(*y)?)))
        .collect()
}

/// `f` of every known value, in place; unknown stays unknown.
fn map<T: Copy>(mut column: Vec<Option<T>>, f: impl Fn(T) -> Option<T>) -> Vec<Option<T>> {
    for v in &mut column {
        *v = v.and_then(&f);
    }
    column
}

/// `f` of the two columns row by row, into the first.
fn zip<T: Copy>(
    mut a: Vec<Option<T>>,
    b: &[Option<T>],
    f: impl Fn(Option<T>, Option<T>) -> Option<T>,
) -> Vec<Option<T>> {
    for (x, y) in a.iter_mut().zip(b) {
        *x = f(*x, *y);
    }
    a
}

/// `f` of rows where both columns are known; unknown elsewhere.
fn zip_known<T: Copy>(
    a: Vec<Option<T>>,
    b: &[Option<T>],
    f: impl Fn(T, T) -> Option<T>,
) -> Vec<Option<T>> {
    zip(a, b, |x, y| f(x?, y?))
}

/// `pick` over the arguments' columns, unknown where any argument is.
fn fold<T: Copy>(
    mut args: impl Iterator<Item = Vec<Option<T>>>,
    rows: &Rows<'_>,
    pick: fn(T, T) -> T,
) -> Vec<Option<T>> {
    let Some(first) = args.next() else {
        return vec![None; rows.len];
    };
    args.fold(first, |acc, column| {
        zip_known(acc, &column, |x, y| Some(pick(x, y)))
    })
}

/// The row evaluator on each row, for the nodes without a loop of their own.
fn row_by_row(node: &BoolNode, rows: &Rows<'_>) -> Vec<Option<bool>> {
    let mut values: Vec<Option<&Value>> = vec![None; rows.inputs.len()];
    // Stateless programs only: there is no `held_for` state to keep.
    let mut held = [];
    (0..rows.len)
        .map(|i| {
            for (value, points) in values.iter_mut().zip(rows.inputs) {
                *value = Some(&points[i].value);
            }
            node.eval(&mut Ctx::new(&values, 0, &mut held))
        })
        .collect()
}
