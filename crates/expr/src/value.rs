//! Expressions whose result is a value rather than a condition: calculated channels.
//!
//! [`compile_value`](crate::compile_value) checks an expression such as `$1 * 2 + $2` as
//! [`compile`](crate::compile) checks a rule, but keeps its result's type; the
//! [`ValueProgram`] evaluates it with the latest value of each input, and
//! [`ValueProgram::eval_merged`] over whole series: at every timestamp where any input has a
//! point, with each input's latest value at or before it (sample and hold), as the live rule
//! engine sees data.

use sextant_model::{DataType, Point, Timestamp, Value};

use crate::eval::{BoolNode, Ctx, EvalState, FloatNode, HeldRun, IntNode, Slot, TextNode};

/// The root of a value expression.
#[derive(Debug, Clone)]
pub(crate) enum ValueNode {
    Int(IntNode),
    Float(FloatNode),
    Bool(BoolNode),
    /// `true` for bytes, `false` for a string.
    Text(TextNode, bool),
    /// An enum input, given as its key; `true` when the enum has negative keys.
    Enum(Slot, bool),
}

/// A compiled calculated-channel expression.
#[derive(Debug, Clone)]
pub struct ValueProgram {
    inputs: Vec<String>,
    root: ValueNode,
    held_sites: usize,
}

impl ValueProgram {
    pub(crate) fn new(inputs: Vec<String>, root: ValueNode, held_sites: usize) -> Self {
        ValueProgram {
            inputs,
            root,
            held_sites,
        }
    }

    /// The reference names, in the order `eval` expects its inputs in.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The type of the values: `double` for numbers with a fraction anywhere in them, `int64`
    /// for whole numbers and enum keys, `bool`, `string` or `bytes`.
    pub fn data_type(&self) -> DataType {
        match self.root {
            ValueNode::Int(_) | ValueNode::Enum(..) => DataType::Int64,
            ValueNode::Float(_) => DataType::Double,
            ValueNode::Bool(_) => DataType::Bool,
            ValueNode::Text(_, false) => DataType::String,
            ValueNode::Text(_, true) => DataType::Bytes,
        }
    }

    /// Fresh state for `held_for`.
    pub fn new_state(&self) -> EvalState {
        EvalState::with_sites(self.held_sites)
    }

    /// The value at `time` with the latest value of each input; `None` when it cannot be known
    /// (an input has no value yet, a whole number overflows 64 bits, a division by zero).
    pub fn eval(
        &self,
        state: &mut EvalState,
        time: Timestamp,
        inputs: &[Option<&Value>],
    ) -> Option<Value> {
        let held: &mut [HeldRun] = state.sites(self.held_sites);
        let mut ctx = Ctx::new(inputs, time, held);
        match &self.root {
            ValueNode::Int(node) => node
                .eval(&mut ctx)
                .and_then(|v| i64::try_from(v).ok())
                .map(Value::Int64),
            ValueNode::Float(node) => node.eval(&mut ctx).map(Value::Double),
            ValueNode::Bool(node) => node.eval(&mut ctx).map(Value::Bool),
            ValueNode::Text(node, bytes) => node.eval(&ctx).map(|b| {
                if *bytes {
                    Value::Bytes(b.to_vec())
                } else {
                    Value::String(String::from_utf8_lossy(b).into_owned())
                }
            }),
            ValueNode::Enum(slot, signed) => match ctx.input(*slot)? {
                Value::Enum(key) if *signed => Some(Value::Int64(i64::from(*key as i32))),
                Value::Enum(key) => Some(Value::Int64(i64::from(*key))),
                _ => None,
            },
        }
    }

    /// The values over whole series: `inputs[j]` holds input `j`'s points in time order. At
    /// every timestamp where any input has a point, the expression is evaluated with each
    /// input's latest value at or before it; timestamps where it cannot be known give no point.
    pub fn eval_merged(&self, inputs: &[&[Point]]) -> Vec<Point> {
        let mut state = self.new_state();
        let mut next = vec![0usize; inputs.len()];
        let mut latest: Vec<Option<&Value>> = vec![None; inputs.len()];
        let mut out = Vec::new();
        loop {
            let time = inputs
                .iter()
                .zip(&next)
                .filter_map(|(points, &i)| points.get(i).map(|p| p.timestamp))
                .min();
            let Some(time) = time else {
                return out;
            };
            for ((points, i), latest) in inputs.iter().zip(next.iter_mut()).zip(latest.iter_mut()) {
                // Several points at one timestamp: the last one counts.
                while let Some(point) = points.get(*i).filter(|p| p.timestamp == time) {
                    *latest = Some(&point.value);
                    *i += 1;
                }
            }
            if let Some(value) = self.eval(&mut state, time, &latest) {
                out.push(Point {
                    timestamp: time,
                    value,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sextant_model::{DataType, EnumType, Point, Value};

    use crate::{ChannelSchema, compile_value, parse};

    fn program(src: &str, types: &[DataType]) -> crate::ValueProgram {
        let channels: Vec<_> = types
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("${}", i + 1), ChannelSchema::new(*t)))
            .collect();
        compile_value(&parse(src).unwrap(), &channels).unwrap()
    }

    fn points(values: &[(i64, Value)]) -> Vec<Point> {
        values
            .iter()
            .map(|(t, v)| Point {
                timestamp: *t,
                value: v.clone(),
            })
            .collect()
    }

    #[test]
    fn values_are_computed_with_the_latest_value_of_each_input() {
        let p = program("$1 * 2 + $2", &[DataType::Double, DataType::Int32]);
        assert_eq!(p.data_type(), DataType::Double);
        let a = points(&[(1, Value::Double(1.5)), (3, Value::Double(2.0))]);
        let b = points(&[
            (2, Value::Int32(10)),
            (3, Value::Int32(20)),
            (5, Value::Int32(1)),
        ]);
        // At 1, $2 has no value yet; at 2 and 5 the other input's last value holds.
        assert_eq!(
            p.eval_merged(&[&a, &b]),
            points(&[
                (2, Value::Double(13.0)),
                (3, Value::Double(24.0)),
                (5, Value::Double(5.0))
            ])
        );
    }

    #[test]
    fn result_types_follow_the_expression() {
        let int = program("$1 % 7 - 1", &[DataType::Uint64]);
        assert_eq!(int.data_type(), DataType::Int64);
        let input = points(&[(1, Value::Uint64(20)), (2, Value::Uint64(u64::MAX))]);
        assert_eq!(
            int.eval_merged(&[&input]),
            points(&[(1, Value::Int64(5)), (2, Value::Int64(0))])
        );
        let overflow = program("$1 * 2", &[DataType::Uint64]);
        assert_eq!(
            overflow.eval_merged(&[&input]),
            points(&[(1, Value::Int64(40))]),
            "a result past 64 bits is unknown"
        );
        let cond = program("$1 > 10", &[DataType::Uint64]);
        assert_eq!(cond.data_type(), DataType::Bool);
        assert_eq!(
            cond.eval_merged(&[&input]),
            points(&[(1, Value::Bool(true)), (2, Value::Bool(true))])
        );
        let text = program("$1", &[DataType::String]);
        assert_eq!(text.data_type(), DataType::String);
        let state = ChannelSchema::enumeration(vec![EnumType {
            name: "Stopped".into(),
            key: 2,
            is_signed: false,
        }]);
        let e = compile_value(&parse("$1").unwrap(), &[("$1".into(), state)]).unwrap();
        assert_eq!(e.data_type(), DataType::Int64);
        let input = points(&[(1, Value::Enum(2))]);
        assert_eq!(e.eval_merged(&[&input]), points(&[(1, Value::Int64(2))]));
    }

    #[test]
    fn a_duration_is_not_a_value() {
        let err = compile_value(&parse("5s").unwrap(), &[]).unwrap_err();
        assert!(err[0].message.contains("must give a value"), "{err:?}");
        let err = compile_value(
            &parse("$2 + 1").unwrap(),
            &[("$1".into(), ChannelSchema::new(DataType::Double))],
        )
        .unwrap_err();
        assert!(err[0].message.contains("$2"), "{err:?}");
    }
}
