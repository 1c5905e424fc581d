//! Differential test: compiled programs against a direct, slow interpreter of the syntax tree
//! that follows docs/expressions.md literally (dynamic types, 128-bit checked integers, `/` always
//! a float, three-valued logic). Any disagreement is a bug in one of them.

use proptest::prelude::*;
use sextant_expr::{BinaryOp, ChannelSchema, Expr, ExprKind, UnaryOp, compile, parse};
use sextant_model::{BitFieldElement, DataType, Value};

fn channels() -> Vec<(String, ChannelSchema)> {
    vec![
        ("$1".to_owned(), ChannelSchema::new(DataType::Double)),
        ("$2".to_owned(), ChannelSchema::new(DataType::Int32)),
        ("$3".to_owned(), ChannelSchema::new(DataType::Int64)),
        ("$4".to_owned(), ChannelSchema::new(DataType::Uint64)),
        (
            "$5".to_owned(),
            ChannelSchema::bit_field(vec![
                BitFieldElement::new("led", 3, 4),
                BitFieldElement::new("heater", 7, 1),
            ]),
        ),
        ("$6".to_owned(), ChannelSchema::new(DataType::Bool)),
    ]
}

#[derive(Debug, Clone, Copy)]
enum V {
    I(i128),
    F(f64),
    B(bool),
}

impl V {
    fn f(self) -> f64 {
        match self {
            V::I(v) => v as f64,
            V::F(v) => v,
            V::B(_) => f64::NAN,
        }
    }

    fn b(self) -> Option<bool> {
        match self {
            V::B(b) => Some(b),
            // A 1-bit element stands for a boolean; the generator uses only `heater` that way.
            V::I(v) => Some(v != 0),
            V::F(_) => None,
        }
    }
}

struct Oracle<'a> {
    values: &'a [Option<Value>; 6],
}

impl Oracle<'_> {
    fn eval(&self, e: &Expr) -> Option<V> {
        match e.kind() {
            ExprKind::Int(v) => Some(V::I(i128::from(*v))),
            ExprKind::Float(v) => Some(V::F(*v)),
            ExprKind::Bool(b) => Some(V::B(*b)),
            ExprKind::Reference { name, .. } => {
                let index: usize = name[1..].parse().ok()?;
                Some(match self.values[index - 1].as_ref()? {
                    Value::Double(v) => V::F(*v),
                    Value::Int32(v) => V::I(i128::from(*v)),
                    Value::Int64(v) => V::I(i128::from(*v)),
                    Value::Uint64(v) | Value::BitField(v) => V::I(i128::from(*v)),
                    Value::Bool(b) => V::B(*b),
                    _ => return None,
                })
            }
            ExprKind::Element { base, name, .. } => {
                let Some(V::I(bits)) = self.eval(base) else {
                    return None;
                };
                let (index, count) = if name == "led" { (3, 4) } else { (7, 1) };
                Some(V::I((bits >> index) & ((1 << count) - 1)))
            }
            ExprKind::Unary { op, operand } => {
                let v = self.eval(operand)?;
                match (op, v) {
                    (UnaryOp::Neg, V::I(v)) => v.checked_neg().map(V::I),
                    (UnaryOp::Neg, v) => Some(V::F(-v.f())),
                    (UnaryOp::Not, v) => v.b().map(|b| V::B(!b)),
                }
            }
            ExprKind::Binary {
                op, left, right, ..
            } => self.binary(*op, left, right),
            ExprKind::Call { name, args, .. } => {
                let values: Vec<V> = args.iter().map(|a| self.eval(a)).collect::<Option<_>>()?;
                let all_int = values.iter().all(|v| matches!(v, V::I(_)));
                let ints = || values.iter().map(|v| if let V::I(i) = v { *i } else { 0 });
                let floats = || values.iter().map(|v| v.f());
                match (name.as_str(), all_int) {
                    ("abs", true) => ints().next()?.checked_abs().map(V::I),
                    ("abs", false) => Some(V::F(floats().next()?.abs())),
                    ("min", true) => ints().min().map(V::I),
                    ("max", true) => ints().max().map(V::I),
                    ("min", false) => floats().reduce(f64::min).map(V::F),
                    ("max", false) => floats().reduce(f64::max).map(V::F),
                    _ => None,
                }
            }
            ExprKind::String(_) | ExprKind::Duration(_) => None,
        }
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Option<V> {
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let l = self.eval(left).and_then(V::b);
            let r = self.eval(right).and_then(V::b);
            let decisive = op == BinaryOp::Or;
            return match (l, r) {
                (Some(x), _) | (_, Some(x)) if x == decisive => Some(V::B(decisive)),
                (Some(_), Some(_)) => Some(V::B(!decisive)),
                _ => None,
            };
        }
        let a = self.eval(left)?;
        let b = self.eval(right)?;
        if op.is_comparison() {
            let ordering = match (a, b) {
                (V::I(x), V::I(y)) => x.partial_cmp(&y),
                (V::B(_), _) | (_, V::B(_)) => a.b()?.partial_cmp(&b.b()?),
                (x, y) => x.f().partial_cmp(&y.f()),
            };
            use std::cmp::Ordering::*;
            return Some(V::B(match op {
                BinaryOp::Eq => ordering == Some(Equal),
                BinaryOp::Ne => ordering != Some(Equal),
                BinaryOp::Lt => ordering == Some(Less),
                BinaryOp::Le => matches!(ordering, Some(Less | Equal)),
                BinaryOp::Gt => ordering == Some(Greater),
                _ => matches!(ordering, Some(Greater | Equal)),
            }));
        }
        match (a, b) {
            (V::I(x), V::I(y)) => match op {
                BinaryOp::Add => x.checked_add(y).map(V::I),
                BinaryOp::Sub => x.checked_sub(y).map(V::I),
                BinaryOp::Mul => x.checked_mul(y).map(V::I),
                BinaryOp::Rem => x.checked_rem(y).map(V::I),
                _ => (y != 0).then(|| V::F(x as f64 / y as f64)),
            },
            (x, y) => {
                let (x, y) = (x.f(), y.f());
                Some(V::F(match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div => x / y,
                    _ => x % y,
                }))
            }
        }
    }
}

fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop_oneof![
            Just("$1"),
            Just("$2"),
            Just("$3"),
            Just("$4"),
            Just("$5"),
            Just("$5.led")
        ]
        .prop_map(str::to_owned),
        (0..20u64).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-100.0..100.0f64).prop_map(|f| format!("{f:?}")),
    ];
    leaf.prop_recursive(4, 20, 3, |inner| {
        let ops = prop_oneof![Just("+"), Just("-"), Just("*"), Just("/"), Just("%")];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("abs({e})")),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|args| format!("min({})", args.join(", "))),
            prop::collection::vec(inner, 2..4).prop_map(|args| format!("max({})", args.join(", "))),
        ]
    })
}

fn condition() -> impl Strategy<Value = String> {
    let cmp = prop_oneof![
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">=")
    ];
    let leaf = prop_oneof![
        4 => (number(), cmp, number()).prop_map(|(l, op, r)| format!("{l} {op} {r}")),
        1 => Just("$6".to_owned()),
        1 => Just("$5.heater".to_owned()),
        1 => Just("($6 == $5.heater)".to_owned()),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) && ({r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) || ({r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("(({l}) == ({r}))")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("(({l}) != ({r}))")),
            inner.prop_map(|e| format!("!({e})")),
        ]
    })
}

fn values() -> impl Strategy<Value = [Option<Value>; 6]> {
    fn some<S: Strategy<Value = Value>>(s: S) -> impl Strategy<Value = Option<Value>> {
        prop::option::weighted(0.85, s)
    }
    let small = || -20..20i64;
    (
        some(prop_oneof![
            (-50.0..50.0f64).prop_map(Value::Double),
            any::<f64>().prop_map(Value::Double),
            small().prop_map(|v| Value::Double(v as f64)),
        ]),
        some(prop_oneof![
            small().prop_map(|v| Value::Int32(v as i32)),
            any::<i32>().prop_map(Value::Int32)
        ]),
        some(prop_oneof![
            small().prop_map(Value::Int64),
            any::<i64>().prop_map(Value::Int64)
        ]),
        some(prop_oneof![
            (0..20u64).prop_map(Value::Uint64),
            any::<u64>().prop_map(Value::Uint64)
        ]),
        some(any::<u64>().prop_map(Value::BitField)),
        some(any::<bool>().prop_map(Value::Bool)),
    )
        .prop_map(|(a, b, c, d, e, f)| [a, b, c, d, e, f])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn compiled_programs_agree_with_the_tree_interpreter(src in condition(), values in values()) {
        let expr = parse(&src).map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let program = compile(&expr, &channels())
            .map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let all = channels();
        let inputs: Vec<Option<&Value>> = program
            .inputs()
            .iter()
            .map(|name| {
                let index = all.iter().position(|(n, _)| n == name).unwrap_or(0);
                values[index].as_ref()
            })
            .collect();
        let got = program.eval(&mut program.new_state(), 0, &inputs);
        let want = Oracle { values: &values }.eval(&expr).map(|v| v.b());
        let want = want.flatten();
        prop_assert_eq!(got, want, "{} with {:?}", src, values);
    }
}
