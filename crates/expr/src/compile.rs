//! Type checking and compilation: a parsed [`Expr`] plus the schemas of the channels bound to its
//! references become a [`Program`], or a list of every problem found.
//!
//! Checking is one walk that builds typed nodes bottom-up. A node that failed to check becomes
//! [`Typed::Error`], which its parents accept silently, so one mistake is reported once and
//! unrelated mistakes elsewhere are still found.

use std::collections::HashSet;

use sextant_model::{BitFieldElement, DataType, EnumType};

use crate::ast::{BinaryOp, Expr, ExprKind, ReferenceKind, UnaryOp};
use crate::diagnostic::{Diagnostic, Span};
use crate::eval::{
    BoolNode, Cmp, FloatNode, FloatOp, IntLeaf, IntNode, IntOp, Program, Slot, TextFn, TextNode,
};
use crate::functions::{self, FUNCTIONS};
use crate::value::{ValueNode, ValueProgram};

/// What a channel reference stands for when type checking.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSchema {
    /// The channel's value type.
    pub data_type: DataType,
    /// The name table of an enum channel (empty otherwise).
    pub enum_types: Vec<EnumType>,
    /// The elements of a bit-field channel (empty otherwise).
    pub bit_field_elements: Vec<BitFieldElement>,
}

impl ChannelSchema {
    /// A schema with no enum table and no bit-field elements.
    pub fn new(data_type: DataType) -> Self {
        ChannelSchema {
            data_type,
            enum_types: Vec::new(),
            bit_field_elements: Vec::new(),
        }
    }

    /// An enum channel with this table.
    pub fn enumeration(enum_types: Vec<EnumType>) -> Self {
        ChannelSchema {
            enum_types,
            ..ChannelSchema::new(DataType::Enum)
        }
    }

    /// A bit-field channel with these elements.
    pub fn bit_field(bit_field_elements: Vec<BitFieldElement>) -> Self {
        ChannelSchema {
            bit_field_elements,
            ..ChannelSchema::new(DataType::BitField)
        }
    }
}

/// Type-checks a rule expression (its result must be boolean) against the channels bound to its
/// references (pairs like ("$1", schema)), and compiles it for fast evaluation. Reports every
/// problem found, each with a span: syntax is already fine here; type errors (a string channel
/// compared with a number: "cannot compare string with number"), an enum compared with a name not
/// in its table (say which names exist), an unknown bit-field element, unknown function or wrong
/// arity, a non-boolean result, an unbound channel reference ("$2 is not bound in
/// channel_references"), a placeholder left unsubstituted ("$mass has no sub-expression").
///
/// Bound channels the expression does not use are ignored; if a name is bound twice, the first
/// binding counts.
pub fn compile(
    expr: &Expr,
    channels: &[(String, ChannelSchema)],
) -> Result<Program, Vec<Diagnostic>> {
    let (mut checker, inputs, typed) = check_expression(expr, channels);
    let root = checker.as_boolean(typed, expr.span(), |ty| {
        format!("a rule expression must be true or false, but this is a {ty}")
    });
    match root {
        Some(root) if checker.diagnostics.is_empty() => {
            Ok(Program::new(inputs, root, checker.held_sites))
        }
        _ => Err(checker.into_diagnostics()),
    }
}

/// Type-checks a calculated channel's expression, whose result is a value of any type but a
/// duration: a number (`$1 * 2 + $2`), a boolean, a string or bytes value, or an enum's key.
/// The diagnostics are those of [`compile`], but for the result's type.
pub fn compile_value(
    expr: &Expr,
    channels: &[(String, ChannelSchema)],
) -> Result<ValueProgram, Vec<Diagnostic>> {
    let (mut checker, inputs, typed) = check_expression(expr, channels);
    let root = match typed {
        Typed::Int { node, .. } => Some(ValueNode::Int(node)),
        Typed::Float(node) => Some(ValueNode::Float(node)),
        Typed::Bool(node) => Some(ValueNode::Bool(node)),
        Typed::Text { node, bytes, .. } => Some(ValueNode::Text(node, bytes)),
        Typed::Enum { slot, signed, .. } => Some(ValueNode::Enum(slot, signed)),
        Typed::Duration(_) => {
            checker.error(
                expr.span(),
                "a calculated channel's expression must give a value, but this is a duration",
            );
            None
        }
        Typed::Error => None,
    };
    match root {
        Some(root) if checker.diagnostics.is_empty() => {
            Ok(ValueProgram::new(inputs, root, checker.held_sites))
        }
        _ => Err(checker.into_diagnostics()),
    }
}

/// Checks `expr` against `channels`: the checker (with its diagnostics), the inputs in slot
/// order and the typed tree.
fn check_expression<'c>(
    expr: &Expr,
    channels: &'c [(String, ChannelSchema)],
) -> (Checker<'c>, Vec<String>, Typed) {
    let used: HashSet<String> = expr.references().into_iter().map(|r| r.name).collect();
    let mut inputs = Vec::new();
    let mut slots = Vec::with_capacity(channels.len());
    for (i, (name, _)) in channels.iter().enumerate() {
        let first = channels.iter().position(|(n, _)| n == name) == Some(i);
        if first && used.contains(name) {
            slots.push(Some(inputs.len()));
            inputs.push(name.clone());
        } else {
            slots.push(None);
        }
    }
    let mut checker = Checker {
        channels,
        slots,
        diagnostics: Vec::new(),
        held_sites: 0,
    };
    let typed = checker.check(expr);
    (checker, inputs, typed)
}

/// A checked subexpression: its type and the node that computes it.
#[derive(Debug)]
enum Typed {
    /// `one_bit` marks a 1-bit bit-field element, which may also stand for a boolean.
    Int {
        node: IntNode,
        one_bit: bool,
    },
    Float(FloatNode),
    Bool(BoolNode),
    /// `literal` keeps a quoted string's text, so an enum can be compared with it by name.
    Text {
        node: TextNode,
        bytes: bool,
        literal: Option<String>,
    },
    Enum {
        slot: Slot,
        channel: usize,
        signed: bool,
    },
    Duration(i64),
    /// Already reported.
    Error,
}

impl Typed {
    fn name(&self) -> &'static str {
        match self {
            Typed::Int { .. } | Typed::Float(_) => "number",
            Typed::Bool(_) => "boolean",
            Typed::Text { bytes: false, .. } => "string",
            Typed::Text { bytes: true, .. } => "bytes value",
            Typed::Enum { .. } => "enum",
            Typed::Duration(_) => "duration",
            Typed::Error => "error",
        }
    }
}

enum Num {
    Int(IntNode),
    Float(FloatNode),
}

impl Num {
    fn into_float(self) -> FloatNode {
        match self {
            Num::Int(IntNode::Const(v)) => FloatNode::Const(v as f64),
            Num::Int(node) => FloatNode::FromInt(Box::new(node)),
            Num::Float(node) => node,
        }
    }
}

struct Checker<'c> {
    channels: &'c [(String, ChannelSchema)],
    /// The input slot of each entry of `channels`, if it is used (and the first of its name).
    slots: Vec<Option<Slot>>,
    diagnostics: Vec<Diagnostic>,
    held_sites: usize,
}

fn cmp_of(op: BinaryOp) -> Cmp {
    match op {
        BinaryOp::Eq => Cmp::Eq,
        BinaryOp::Ne => Cmp::Ne,
        BinaryOp::Lt => Cmp::Lt,
        BinaryOp::Le => Cmp::Le,
        BinaryOp::Gt => Cmp::Gt,
        _ => Cmp::Ge,
    }
}

fn list(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Checker<'_> {
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        diagnostics.sort_by_key(|d| d.span.start);
        diagnostics
    }

    fn error(&mut self, span: Span, message: impl Into<String>) -> Typed {
        self.diagnostics.push(Diagnostic::new(span, message));
        Typed::Error
    }

    fn check(&mut self, expr: &Expr) -> Typed {
        let span = expr.span();
        match expr.kind() {
            ExprKind::Int(v) => Typed::Int {
                node: IntNode::Const(i128::from(*v)),
                one_bit: false,
            },
            ExprKind::Float(v) => Typed::Float(FloatNode::Const(*v)),
            ExprKind::String(s) => Typed::Text {
                node: TextNode::Const(s.as_bytes().into()),
                bytes: false,
                literal: Some(s.clone()),
            },
            ExprKind::Bool(b) => Typed::Bool(BoolNode::Const(*b)),
            ExprKind::Duration(ns) => Typed::Duration(*ns),
            ExprKind::Reference { name, kind } => match self.channel(name, *kind, span) {
                Some((index, slot)) => self.reference(index, slot),
                None => Typed::Error,
            },
            ExprKind::Element {
                base,
                name,
                name_span,
            } => self.element(base, name, *name_span),
            ExprKind::Unary { op, operand } => {
                let inner = self.operand(operand);
                self.unary(*op, inner, span)
            }
            ExprKind::Binary {
                op, left, right, ..
            } => {
                let l = self.operand(left);
                let r = self.operand(right);
                match op {
                    BinaryOp::And | BinaryOp::Or => self.logic(*op, l, r, left, right),
                    op if op.is_comparison() => self.compare(*op, span, l, r, left, right),
                    op => self.arithmetic(*op, span, l, r),
                }
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, span, args),
        }
    }

    /// Checks an operand of an operator or function, where a duration has no meaning.
    fn operand(&mut self, expr: &Expr) -> Typed {
        match self.check(expr) {
            Typed::Duration(_) => self.error(
                expr.span(),
                "a duration such as `5s` can only be the second argument of `held_for`",
            ),
            typed => typed,
        }
    }

    /// Resolves a channel reference to its index in `channels` and its input slot, or reports why
    /// it cannot be.
    fn channel(&mut self, name: &str, kind: ReferenceKind, span: Span) -> Option<(usize, Slot)> {
        if kind == ReferenceKind::Placeholder {
            self.error(span, format!("{name} has no sub-expression"));
            return None;
        }
        let found = self
            .channels
            .iter()
            .position(|(n, _)| n == name)
            .and_then(|i| self.slots[i].map(|slot| (i, slot)));
        if found.is_none() {
            self.error(span, format!("{name} is not bound in channel_references"));
        }
        found
    }

    fn reference(&mut self, index: usize, slot: Slot) -> Typed {
        let schema = &self.channels[index].1;
        let int = Typed::Int {
            node: IntNode::Leaf(IntLeaf::Input(slot)),
            one_bit: false,
        };
        match schema.data_type {
            DataType::Double | DataType::Float => Typed::Float(FloatNode::Input(slot)),
            DataType::Int32 | DataType::Int64 | DataType::Uint32 | DataType::Uint64 => int,
            DataType::BitField => int,
            DataType::Bool => Typed::Bool(BoolNode::Input(slot)),
            DataType::String | DataType::Bytes => Typed::Text {
                node: TextNode::Input(slot),
                bytes: schema.data_type == DataType::Bytes,
                literal: None,
            },
            DataType::Enum => Typed::Enum {
                slot,
                channel: index,
                signed: schema.enum_types.iter().any(|e| e.is_signed),
            },
        }
    }

    fn element(&mut self, base: &Expr, name: &str, name_span: Span) -> Typed {
        let ExprKind::Reference {
            name: reference,
            kind,
        } = base.kind()
        else {
            if let Typed::Error = self.check(base) {
                return Typed::Error;
            }
            return self.error(
                name_span,
                format!(
                    "a bit-field element can only follow a channel reference, as in `$1.{name}`"
                ),
            );
        };
        let Some((index, slot)) = self.channel(reference, *kind, base.span()) else {
            return Typed::Error;
        };
        let schema = &self.channels[index].1;
        if schema.data_type != DataType::BitField {
            return self.error(
                name_span,
                format!(
                    "{reference} is a {} channel; only bit-field channels have elements such as `.{name}`",
                    schema.data_type
                ),
            );
        }
        let elements = &schema.bit_field_elements;
        let Some(element) = elements.iter().find(|e| e.name == name) else {
            let hint = match functions::did_you_mean(name, elements.iter().map(|e| e.name.as_str()))
            {
                Some(close) => format!("did you mean `{close}`?"),
                None if elements.is_empty() => "it declares no elements".to_owned(),
                None => format!(
                    "its elements are {}",
                    list(elements.iter().map(|e| &e.name))
                ),
            };
            return self.error(
                name_span,
                format!("{reference} has no bit-field element `{name}`; {hint}"),
            );
        };
        // An element at or beyond bit 64 always reads as zero, as `BitFieldElement::extract` says.
        let (shift, mask) = match (element.index, element.bit_count) {
            (index, _) if index >= 64 => (0, 0),
            (index, count) if count >= 64 => (index, u64::MAX),
            (index, count) => (index, (1u64 << count) - 1),
        };
        Typed::Int {
            node: IntNode::Leaf(IntLeaf::Element { slot, shift, mask }),
            one_bit: element.bit_count == 1,
        }
    }

    fn as_number(
        &mut self,
        typed: Typed,
        span: Span,
        describe: impl FnOnce(&'static str) -> String,
    ) -> Option<Num> {
        match typed {
            Typed::Int { node, .. } => Some(Num::Int(node)),
            Typed::Float(node) => Some(Num::Float(node)),
            Typed::Error => None,
            Typed::Enum { .. } => {
                self.error(
                    span,
                    "an enum is not a number: compare it by name or key (`== \"Stopped\"`, `== 0`)",
                );
                None
            }
            other => {
                let message = describe(other.name());
                self.error(span, message);
                None
            }
        }
    }

    /// A boolean node for `typed`, coercing a 1-bit element (`$1.heater` means `$1.heater != 0`).
    fn as_boolean(
        &mut self,
        typed: Typed,
        span: Span,
        describe: impl FnOnce(&'static str) -> String,
    ) -> Option<BoolNode> {
        match typed {
            Typed::Bool(node) => Some(node),
            Typed::Int {
                node,
                one_bit: true,
            } => Some(BoolNode::int_cmp(Cmp::Ne, node, IntNode::Const(0))),
            Typed::Error => None,
            Typed::Int {
                node: IntNode::Leaf(IntLeaf::Element { .. }),
                one_bit: false,
            } => {
                self.error(
                    span,
                    "only 1-bit bit-field elements stand for booleans; compare this one, e.g. `== 1`",
                );
                None
            }
            other => {
                let message = describe(other.name());
                self.error(span, message);
                None
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, inner: Typed, span: Span) -> Typed {
        match op {
            UnaryOp::Neg => match self.as_number(inner, span, |ty| {
                format!("'-' needs a number, but its operand is a {ty}")
            }) {
                Some(Num::Int(node)) => Typed::Int {
                    node: IntNode::Neg(Box::new(node)),
                    one_bit: false,
                },
                Some(Num::Float(node)) => Typed::Float(FloatNode::Neg(Box::new(node))),
                None => Typed::Error,
            },
            UnaryOp::Not => match self.as_boolean(inner, span, |ty| {
                format!("'!' needs a boolean, but its operand is a {ty}")
            }) {
                Some(node) => Typed::Bool(BoolNode::Not(Box::new(node))),
                None => Typed::Error,
            },
        }
    }

    fn logic(&mut self, op: BinaryOp, l: Typed, r: Typed, left: &Expr, right: &Expr) -> Typed {
        let symbol = op.as_str();
        let l = self.as_boolean(l, left.span(), |ty| {
            format!("'{symbol}' needs booleans, but its left side is a {ty}")
        });
        let r = self.as_boolean(r, right.span(), |ty| {
            format!("'{symbol}' needs booleans, but its right side is a {ty}")
        });
        let (Some(l), Some(r)) = (l, r) else {
            return Typed::Error;
        };
        let eager = r.is_stateful();
        let (l, r) = (Box::new(l), Box::new(r));
        Typed::Bool(if op == BinaryOp::And {
            BoolNode::And(l, r, eager)
        } else {
            BoolNode::Or(l, r, eager)
        })
    }

    fn arithmetic(&mut self, op: BinaryOp, span: Span, l: Typed, r: Typed) -> Typed {
        let symbol = op.as_str();
        let both = (
            self.as_number(l, span, |ty| {
                format!("'{symbol}' needs numbers, but its left side is a {ty}")
            }),
            self.as_number(r, span, |ty| {
                format!("'{symbol}' needs numbers, but its right side is a {ty}")
            }),
        );
        let (Some(l), Some(r)) = both else {
            return Typed::Error;
        };
        let int_op = match op {
            BinaryOp::Add => IntOp::Add,
            BinaryOp::Sub => IntOp::Sub,
            BinaryOp::Mul => IntOp::Mul,
            _ => IntOp::Rem,
        };
        match (l, r) {
            (Num::Int(a), Num::Int(b)) if op == BinaryOp::Div => {
                Typed::Float(FloatNode::IntDiv(Box::new(a), Box::new(b)))
            }
            (Num::Int(a), Num::Int(b)) => Typed::Int {
                node: IntNode::Arith(int_op, Box::new(a), Box::new(b)),
                one_bit: false,
            },
            (a, b) => {
                let float_op = match op {
                    BinaryOp::Add => FloatOp::Add,
                    BinaryOp::Sub => FloatOp::Sub,
                    BinaryOp::Mul => FloatOp::Mul,
                    BinaryOp::Div => FloatOp::Div,
                    _ => FloatOp::Rem,
                };
                Typed::Float(FloatNode::Arith(
                    float_op,
                    Box::new(a.into_float()),
                    Box::new(b.into_float()),
                ))
            }
        }
    }

    fn compare(
        &mut self,
        op: BinaryOp,
        span: Span,
        l: Typed,
        r: Typed,
        left: &Expr,
        right: &Expr,
    ) -> Typed {
        let cmp = cmp_of(op);
        let equality = matches!(cmp, Cmp::Eq | Cmp::Ne);
        match (l, r) {
            (Typed::Error, _) | (_, Typed::Error) => Typed::Error,
            (
                Typed::Enum {
                    slot,
                    channel,
                    signed,
                },
                other,
            ) => self.compare_enum(cmp, span, (slot, channel, signed), other, right),
            (
                other,
                Typed::Enum {
                    slot,
                    channel,
                    signed,
                },
            ) => {
                // `0 == $1` reads as `$1 == 0`, with the comparison turned around.
                self.compare_enum(cmp.flipped(), span, (slot, channel, signed), other, left)
            }
            (Typed::Int { node: a, .. }, Typed::Int { node: b, .. }) => {
                Typed::Bool(BoolNode::int_cmp(cmp, a, b))
            }
            (
                a @ (Typed::Int { .. } | Typed::Float(_)),
                b @ (Typed::Int { .. } | Typed::Float(_)),
            ) => {
                let a = self.as_number(a, span, String::from).map(Num::into_float);
                let b = self.as_number(b, span, String::from).map(Num::into_float);
                match (a, b) {
                    (Some(a), Some(b)) => Typed::Bool(BoolNode::float_cmp(cmp, a, b)),
                    _ => Typed::Error,
                }
            }
            (
                a @ (Typed::Bool(_) | Typed::Int { one_bit: true, .. }),
                b @ (Typed::Bool(_) | Typed::Int { one_bit: true, .. }),
            ) => {
                if !equality {
                    return self.error(
                        span,
                        "booleans cannot be ordered; compare them with == or !=",
                    );
                }
                let a = self.as_boolean(a, left.span(), String::from);
                let b = self.as_boolean(b, right.span(), String::from);
                match (a, b) {
                    (Some(a), Some(b)) => {
                        Typed::Bool(BoolNode::Bool(cmp, Box::new(a), Box::new(b)))
                    }
                    _ => Typed::Error,
                }
            }
            (
                Typed::Text {
                    node: a, bytes: ab, ..
                },
                Typed::Text {
                    node: b, bytes: bb, ..
                },
            ) => {
                if !equality && (ab || bb) {
                    return self.error(span, "bytes values can only be compared with == or !=");
                }
                Typed::Bool(BoolNode::Text(cmp, Box::new(a), Box::new(b)))
            }
            (a, b) => self.error(
                span,
                format!("cannot compare {} with {}", a.name(), b.name()),
            ),
        }
    }

    /// `enum_side op other`, where the enum side is the channel `channel` in input slot `slot`.
    fn compare_enum(
        &mut self,
        cmp: Cmp,
        span: Span,
        (slot, channel, signed): (Slot, usize, bool),
        other: Typed,
        other_expr: &Expr,
    ) -> Typed {
        if !matches!(cmp, Cmp::Eq | Cmp::Ne) {
            return self.error(
                span,
                "enums can only be compared with == or !=, by name or by key",
            );
        }
        let key_node = |slot| IntNode::Leaf(IntLeaf::EnumKey { slot, signed });
        let key = match other {
            Typed::Text {
                literal: Some(name),
                ..
            } => {
                let (reference, schema) = &self.channels[channel];
                let table = &schema.enum_types;
                let Some(entry) = table.iter().find(|e| e.name == name) else {
                    let hint =
                        match functions::did_you_mean(&name, table.iter().map(|e| e.name.as_str()))
                        {
                            Some(close) => format!("did you mean `{close}`?"),
                            None if table.is_empty() => "its table is empty".to_owned(),
                            None => {
                                format!("its names are {}", list(table.iter().map(|e| &e.name)))
                            }
                        };
                    return self.error(
                        other_expr.span(),
                        format!("`{name}` is not a name in the enum table of {reference}; {hint}"),
                    );
                };
                let key = if signed {
                    i128::from(entry.key as i32)
                } else {
                    i128::from(entry.key)
                };
                IntNode::Const(key)
            }
            Typed::Text { .. } => {
                return self.error(
                    span,
                    "an enum can only be compared with a quoted name or an integer key, not with a string channel",
                );
            }
            Typed::Int { node, .. } => node,
            Typed::Enum {
                slot: other,
                signed: other_signed,
                ..
            } => IntNode::Leaf(IntLeaf::EnumKey {
                slot: other,
                signed: other_signed,
            }),
            Typed::Error => return Typed::Error,
            other => {
                return self.error(span, format!("cannot compare enum with {}", other.name()));
            }
        };
        Typed::Bool(BoolNode::int_cmp(cmp, key_node(slot), key))
    }

    fn call(&mut self, name: &str, name_span: Span, span: Span, args: &[Expr]) -> Typed {
        let Some(function) = functions::lookup(name) else {
            for arg in args {
                self.check(arg);
            }
            let hint = match functions::did_you_mean(name, FUNCTIONS.iter().map(|f| f.name)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "the functions are {}",
                    list(FUNCTIONS.iter().map(|f| f.name))
                ),
            };
            return self.error(name_span, format!("unknown function `{name}`; {hint}"));
        };
        if let Some(message) = function.arity_error(args.len()) {
            for arg in args {
                self.check(arg);
            }
            return self.error(span, message);
        }
        if name == "held_for" {
            return self.held_for(&args[0], &args[1]);
        }
        let typed: Vec<(Typed, Span)> = args.iter().map(|a| (self.operand(a), a.span())).collect();
        match name {
            "abs" => {
                let Some((arg, arg_span)) = typed.into_iter().next() else {
                    return Typed::Error;
                };
                match self.as_number(arg, arg_span, |ty| {
                    format!("`abs` needs a number, but its argument is a {ty}")
                }) {
                    Some(Num::Int(node)) => Typed::Int {
                        node: IntNode::Abs(Box::new(node)),
                        one_bit: false,
                    },
                    Some(Num::Float(node)) => Typed::Float(FloatNode::Abs(Box::new(node))),
                    None => Typed::Error,
                }
            }
            "min" | "max" => self.min_max(name, typed),
            _ => {
                let f = match name {
                    "contains" => TextFn::Contains,
                    "starts_with" => TextFn::StartsWith,
                    _ => TextFn::EndsWith,
                };
                let mut nodes = Vec::new();
                for (i, (arg, arg_span)) in typed.into_iter().enumerate() {
                    match arg {
                        Typed::Text { node, .. } => nodes.push(node),
                        Typed::Error => {}
                        other => {
                            self.error(
                                arg_span,
                                format!(
                                    "`{name}` needs strings, but its argument {} is a {}",
                                    i + 1,
                                    other.name()
                                ),
                            );
                        }
                    }
                }
                match <[TextNode; 2]>::try_from(nodes) {
                    Ok([hay, needle]) => {
                        Typed::Bool(BoolNode::TextFn(f, Box::new(hay), Box::new(needle)))
                    }
                    Err(_) => Typed::Error,
                }
            }
        }
    }

    fn min_max(&mut self, name: &str, typed: Vec<(Typed, Span)>) -> Typed {
        let count = typed.len();
        let mut nums = Vec::with_capacity(count);
        for (i, (arg, arg_span)) in typed.into_iter().enumerate() {
            if let Some(num) = self.as_number(arg, arg_span, |ty| {
                format!(
                    "`{name}` needs numbers, but its argument {} is a {ty}",
                    i + 1
                )
            }) {
                nums.push(num);
            }
        }
        if nums.len() != count {
            return Typed::Error;
        }
        let is_max = name == "max";
        if nums.iter().all(|n| matches!(n, Num::Int(_))) {
            let ints: Vec<IntNode> = nums
                .into_iter()
                .filter_map(|n| match n {
                    Num::Int(node) => Some(node),
                    Num::Float(_) => None,
                })
                .collect();
            let node = if is_max {
                IntNode::Max(ints)
            } else {
                IntNode::Min(ints)
            };
            return Typed::Int {
                node,
                one_bit: false,
            };
        }
        let floats: Vec<FloatNode> = nums.into_iter().map(Num::into_float).collect();
        Typed::Float(if is_max {
            FloatNode::Max(floats)
        } else {
            FloatNode::Min(floats)
        })
    }

    fn held_for(&mut self, cond: &Expr, duration: &Expr) -> Typed {
        let checked = self.operand(cond);
        let cond_node = self.as_boolean(checked, cond.span(), |ty| {
            format!("`held_for` needs a boolean condition first, but this is a {ty}")
        });
        let duration = match self.check(duration) {
            Typed::Duration(ns) => Some(ns),
            Typed::Error => None,
            _ => {
                self.error(
                    duration.span(),
                    "the second argument of `held_for` must be a duration such as `500ms`, `5s`, `2m` or `1h`",
                );
                None
            }
        };
        let (Some(cond), Some(duration)) = (cond_node, duration) else {
            return Typed::Error;
        };
        let site = self.held_sites;
        self.held_sites += 1;
        Typed::Bool(BoolNode::HeldFor {
            cond: Box::new(cond),
            duration,
            site,
        })
    }
}
