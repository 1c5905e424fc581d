//! The last compilation step: typed nodes to a tree of closures.
//!
//! Each closure does one node's work with everything known at compile time baked in: which
//! comparison, which input slot, which kind of integer leaf. Walking the node tree instead would
//! decide those again on every evaluation, and one general `match` over every kind of node keeps
//! more registers live than any single node needs; on a five-term rule the closures run in about
//! half the instructions. The node tree stays in the [`Program`](crate::Program) for `Debug`.

use std::sync::Arc;

use crate::eval::{
    BoolNode, Cmp, Ctx, FloatNode, FloatOp, IntLeaf, IntNode, IntOp, kleene_and, kleene_or,
    read_float,
};

/// A compiled rule: one call per evaluation.
pub(crate) type RootFn = dyn Fn(&mut Ctx<'_, '_>) -> Option<bool> + Send + Sync;
type BoolFn = Box<dyn Fn(&mut Ctx<'_, '_>) -> Option<bool> + Send + Sync>;
type IntFn = Box<dyn Fn(&mut Ctx<'_, '_>) -> Option<i128> + Send + Sync>;
type FloatFn = Box<dyn Fn(&mut Ctx<'_, '_>) -> Option<f64> + Send + Sync>;

/// The whole rule as one shareable closure.
pub(crate) fn lower(root: &BoolNode) -> Arc<RootFn> {
    Arc::from(lower_bool(root))
}

/// A comparison chosen at compile time, so each closure is specialized to one.
pub(crate) trait Compare {
    fn apply<T: PartialOrd + ?Sized>(a: &T, b: &T) -> bool;
}

macro_rules! compare_types {
    ($($name:ident => $op:tt),*) => {
        $(
            pub(crate) struct $name;
            impl Compare for $name {
                #[inline(always)]
                fn apply<T: PartialOrd + ?Sized>(a: &T, b: &T) -> bool {
                    a $op b
                }
            }
        )*
    };
}

compare_types!(Eq => ==, Ne => !=, Lt => <, Le => <=, Gt => >, Ge => >=);

/// Calls `$f::<C>($args)` with `C` the compare type for `$cmp`.
macro_rules! by_cmp {
    ($cmp:expr, $f:ident($($arg:expr),*)) => {
        match $cmp {
            Cmp::Eq => $f::<Eq>($($arg),*),
            Cmp::Ne => $f::<Ne>($($arg),*),
            Cmp::Lt => $f::<Lt>($($arg),*),
            Cmp::Le => $f::<Le>($($arg),*),
            Cmp::Gt => $f::<Gt>($($arg),*),
            Cmp::Ge => $f::<Ge>($($arg),*),
        }
    };
}
pub(crate) use by_cmp;

fn int_leaf_const<C: Compare>(leaf: IntLeaf, c: i128) -> BoolFn {
    match leaf {
        IntLeaf::Input(slot) => {
            Box::new(move |ctx| Some(C::apply(&IntLeaf::Input(slot).read(ctx)?, &c)))
        }
        IntLeaf::EnumKey { slot, signed } => {
            Box::new(move |ctx| Some(C::apply(&IntLeaf::EnumKey { slot, signed }.read(ctx)?, &c)))
        }
        IntLeaf::Element { slot, shift, mask } => Box::new(move |ctx| {
            Some(C::apply(
                &IntLeaf::Element { slot, shift, mask }.read(ctx)?,
                &c,
            ))
        }),
    }
}

fn float_input_const<C: Compare>(slot: usize, c: f64) -> BoolFn {
    Box::new(move |ctx| Some(C::apply(&read_float(ctx, slot)?, &c)))
}

fn int_const<C: Compare>(a: IntFn, c: i128) -> BoolFn {
    Box::new(move |ctx| Some(C::apply(&a(ctx)?, &c)))
}

fn float_const<C: Compare>(a: FloatFn, c: f64) -> BoolFn {
    Box::new(move |ctx| Some(C::apply(&a(ctx)?, &c)))
}

fn int_pair<C: Compare>(a: IntFn, b: IntFn) -> BoolFn {
    Box::new(move |ctx| {
        let x = a(ctx)?;
        Some(C::apply(&x, &b(ctx)?))
    })
}

fn float_pair<C: Compare>(a: FloatFn, b: FloatFn) -> BoolFn {
    Box::new(move |ctx| {
        let x = a(ctx)?;
        Some(C::apply(&x, &b(ctx)?))
    })
}

fn lower_bool(node: &BoolNode) -> BoolFn {
    match node {
        BoolNode::Const(b) => {
            let b = *b;
            Box::new(move |_| Some(b))
        }
        BoolNode::Input(slot) => {
            let slot = *slot;
            Box::new(move |ctx| match ctx.input(slot)? {
                sextant_model::Value::Bool(b) => Some(*b),
                _ => None,
            })
        }
        BoolNode::Not(inner) => {
            let inner = lower_bool(inner);
            Box::new(move |ctx| inner(ctx).map(|b| !b))
        }
        BoolNode::And(l, r, false) => {
            let (l, r) = (lower_bool(l), lower_bool(r));
            Box::new(move |ctx| match l(ctx) {
                Some(false) => Some(false),
                Some(true) => r(ctx),
                None => r(ctx).filter(|b| !b),
            })
        }
        BoolNode::Or(l, r, false) => {
            let (l, r) = (lower_bool(l), lower_bool(r));
            Box::new(move |ctx| match l(ctx) {
                Some(true) => Some(true),
                Some(false) => r(ctx),
                None => r(ctx).filter(|b| *b),
            })
        }
        BoolNode::And(l, r, true) => {
            let (l, r) = (lower_bool(l), lower_bool(r));
            Box::new(move |ctx| kleene_and(l(ctx), r(ctx)))
        }
        BoolNode::Or(l, r, true) => {
            let (l, r) = (lower_bool(l), lower_bool(r));
            Box::new(move |ctx| kleene_or(l(ctx), r(ctx)))
        }
        BoolNode::HeldFor {
            cond,
            duration,
            site,
        } => {
            let (cond, duration, site) = (lower_bool(cond), *duration, *site);
            Box::new(move |ctx| {
                let value = cond(ctx);
                ctx.held_for(site, value, duration)
            })
        }
        BoolNode::IntLeafConst(cmp, leaf, c) => by_cmp!(cmp, int_leaf_const(*leaf, *c)),
        BoolNode::FloatInputConst(cmp, slot, c) => by_cmp!(cmp, float_input_const(*slot, *c)),
        BoolNode::IntConst(cmp, a, c) => by_cmp!(cmp, int_const(lower_int(a), *c)),
        BoolNode::FloatConst(cmp, a, c) => by_cmp!(cmp, float_const(lower_float(a), *c)),
        BoolNode::Int(cmp, a, b) => by_cmp!(cmp, int_pair(lower_int(a), lower_int(b))),
        BoolNode::Float(cmp, a, b) => by_cmp!(cmp, float_pair(lower_float(a), lower_float(b))),
        // The rest are rare in rules or dominated by their own work (strings); they keep the
        // node tree's evaluation.
        other => {
            let node = other.clone();
            Box::new(move |ctx| node.eval(ctx))
        }
    }
}

fn lower_int(node: &IntNode) -> IntFn {
    match node {
        IntNode::Const(v) => {
            let v = *v;
            Box::new(move |_| Some(v))
        }
        IntNode::Leaf(leaf) => {
            let leaf = *leaf;
            Box::new(move |ctx| leaf.read(ctx))
        }
        IntNode::Neg(inner) => {
            let inner = lower_int(inner);
            Box::new(move |ctx| inner(ctx)?.checked_neg())
        }
        IntNode::Abs(inner) => {
            let inner = lower_int(inner);
            Box::new(move |ctx| inner(ctx)?.checked_abs())
        }
        IntNode::Arith(op, a, b) => {
            let (a, b) = (lower_int(a), lower_int(b));
            match op {
                IntOp::Add => Box::new(move |ctx| a(ctx)?.checked_add(b(ctx)?)),
                IntOp::Sub => Box::new(move |ctx| a(ctx)?.checked_sub(b(ctx)?)),
                IntOp::Mul => Box::new(move |ctx| a(ctx)?.checked_mul(b(ctx)?)),
                IntOp::Rem => Box::new(move |ctx| a(ctx)?.checked_rem(b(ctx)?)),
            }
        }
        IntNode::Min(_) | IntNode::Max(_) => {
            let node = node.clone();
            Box::new(move |ctx| node.eval(ctx))
        }
    }
}

fn lower_float(node: &FloatNode) -> FloatFn {
    match node {
        FloatNode::Const(v) => {
            let v = *v;
            Box::new(move |_| Some(v))
        }
        FloatNode::Input(slot) => {
            let slot = *slot;
            Box::new(move |ctx| read_float(ctx, slot))
        }
        FloatNode::FromInt(inner) => {
            let inner = lower_int(inner);
            Box::new(move |ctx| inner(ctx).map(|v| v as f64))
        }
        FloatNode::Neg(inner) => {
            let inner = lower_float(inner);
            Box::new(move |ctx| inner(ctx).map(|v| -v))
        }
        FloatNode::Abs(inner) => {
            let inner = lower_float(inner);
            Box::new(move |ctx| inner(ctx).map(f64::abs))
        }
        FloatNode::Arith(op, a, b) => {
            let (a, b) = (lower_float(a), lower_float(b));
            match op {
                FloatOp::Add => Box::new(move |ctx| Some(a(ctx)? + b(ctx)?)),
                FloatOp::Sub => Box::new(move |ctx| Some(a(ctx)? - b(ctx)?)),
                FloatOp::Mul => Box::new(move |ctx| Some(a(ctx)? * b(ctx)?)),
                FloatOp::Div => Box::new(move |ctx| Some(a(ctx)? / b(ctx)?)),
                FloatOp::Rem => Box::new(move |ctx| Some(a(ctx)? % b(ctx)?)),
            }
        }
        FloatNode::IntDiv(a, b) => {
            let (a, b) = (lower_int(a), lower_int(b));
            Box::new(move |ctx| {
                let x = a(ctx)?;
                let y = b(ctx)?;
                (y != 0).then(|| x as f64 / y as f64)
            })
        }
        FloatNode::Min(_) | FloatNode::Max(_) => {
            let node = node.clone();
            Box::new(move |ctx| node.eval(ctx))
        }
    }
}
