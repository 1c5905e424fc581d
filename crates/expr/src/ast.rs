//! The syntax tree that [`parse`](crate::parse) builds: every node carries the span of the text
//! it came from.

use std::collections::HashMap;
use std::fmt;

use crate::diagnostic::Span;

/// A parsed expression: one node of the syntax tree and the text it spans.
///
/// Trees are built only by [`parse`](crate::parse) and [`Expr::substitute`], which bound their
/// depth, so walking one recursively is safe.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    kind: ExprKind,
    span: Span,
}

/// What an [`Expr`] node is.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal such as `400`. Literals are never negative: `-5` is a negation.
    Int(u64),
    /// A decimal literal such as `2.5` or `1e3`.
    Float(f64),
    /// A string literal, escapes resolved.
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// A duration literal such as `500ms`, in nanoseconds.
    Duration(i64),
    /// `$1` or `$mass`; the name includes the `$`.
    Reference {
        /// E.g. `"$1"`.
        name: String,
        /// Channel or placeholder.
        kind: ReferenceKind,
    },
    /// A bit-field element: `$1.heater`.
    Element {
        /// The bit-field value, normally a channel reference.
        base: Box<Expr>,
        /// The element's name, e.g. `"heater"`.
        name: String,
        /// Where the name is (without the dot).
        name_span: Span,
    },
    /// `-x` or `!x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Where the operator is.
        op_span: Span,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `name(args...)`.
    Call {
        /// The function's name.
        name: String,
        /// Where the name is.
        name_span: Span,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl UnaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
        }
    }
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    /// Whether this is one of `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

/// Whether a reference names a channel (`$1`) or a placeholder for a sub-expression (`$mass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferenceKind {
    /// `$` followed by digits only, bound in a rule's `channel_references`.
    Channel,
    /// `$` followed by `[A-Za-z0-9_]+`, not all digits, filled from a rule's `sub_expressions`.
    Placeholder,
}

/// One occurrence of a `$` reference in an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The name including the `$`, e.g. `"$1"`.
    pub name: String,
    /// Channel or placeholder.
    pub kind: ReferenceKind,
    /// Where it occurs.
    pub span: Span,
}

impl ReferenceKind {
    /// The kind of the reference `name` (which includes the `$`).
    pub fn of(name: &str) -> ReferenceKind {
        let rest = name.strip_prefix('$').unwrap_or(name);
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            ReferenceKind::Channel
        } else {
            ReferenceKind::Placeholder
        }
    }
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// What this node is.
    pub fn kind(&self) -> &ExprKind {
        &self.kind
    }

    /// The text this node was parsed from.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Every `$` reference, in source order (repeats included).
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out.sort_by_key(|r| (r.span.start, r.span.end));
        out
    }

    fn collect_references(&self, out: &mut Vec<Reference>) {
        match &self.kind {
            ExprKind::Reference { name, kind } => out.push(Reference {
                name: name.clone(),
                kind: *kind,
                span: self.span,
            }),
            ExprKind::Element { base, .. } => base.collect_references(out),
            ExprKind::Unary { operand, .. } => operand.collect_references(out),
            ExprKind::Binary { left, right, .. } => {
                left.collect_references(out);
                right.collect_references(out);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.collect_references(out)),
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::String(_)
            | ExprKind::Bool(_)
            | ExprKind::Duration(_) => {}
        }
    }

    /// Replaces each `$placeholder` named in `subs` (keys include '$') by that expression.
    /// Every node of an inserted tree takes the span of the placeholder it replaces, so all
    /// spans keep pointing into the outer text.
    ///
    /// Substitution is one level deep: placeholders inside an inserted expression are left as
    /// they are (and reported by [`compile`](crate::compile) if still unfilled). Channel
    /// references are never replaced.
    pub fn substitute(&self, subs: &HashMap<String, Expr>) -> Expr {
        let kind = match &self.kind {
            ExprKind::Reference {
                name,
                kind: ReferenceKind::Placeholder,
            } => {
                if let Some(sub) = subs.get(name) {
                    return sub.respanned(self.span);
                }
                self.kind.clone()
            }
            ExprKind::Element {
                base,
                name,
                name_span,
            } => ExprKind::Element {
                base: Box::new(base.substitute(subs)),
                name: name.clone(),
                name_span: *name_span,
            },
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(operand.substitute(subs)),
            },
            ExprKind::Binary {
                op,
                op_span,
                left,
                right,
            } => ExprKind::Binary {
                op: *op,
                op_span: *op_span,
                left: Box::new(left.substitute(subs)),
                right: Box::new(right.substitute(subs)),
            },
            ExprKind::Call {
                name,
                name_span,
                args,
            } => ExprKind::Call {
                name: name.clone(),
                name_span: *name_span,
                args: args.iter().map(|a| a.substitute(subs)).collect(),
            },
            other => other.clone(),
        };
        Expr::new(kind, self.span)
    }

    /// A copy of this tree with every span, inner spans included, set to `span`.
    fn respanned(&self, span: Span) -> Expr {
        let kind = match &self.kind {
            ExprKind::Element { base, name, .. } => ExprKind::Element {
                base: Box::new(base.respanned(span)),
                name: name.clone(),
                name_span: span,
            },
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(operand.respanned(span)),
            },
            ExprKind::Binary {
                op, left, right, ..
            } => ExprKind::Binary {
                op: *op,
                op_span: span,
                left: Box::new(left.respanned(span)),
                right: Box::new(right.respanned(span)),
            },
            ExprKind::Call { name, args, .. } => ExprKind::Call {
                name: name.clone(),
                name_span: span,
                args: args.iter().map(|a| a.respanned(span)).collect(),
            },
            other => other.clone(),
        };
        Expr::new(kind, span)
    }
}

/// Prints the expression back as text that parses to the same tree (spans aside). Every
/// operator application is parenthesized, so precedence never needs guessing.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(v) => write!(f, "{v}"),
            ExprKind::Float(v) => {
                // `{:?}` keeps a '.' or an exponent, so the text reads back as a float.
                write!(f, "{v:?}")
            }
            ExprKind::String(s) => write_string_literal(f, s),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Duration(ns) => write_duration(f, *ns),
            ExprKind::Reference { name, .. } => f.write_str(name),
            ExprKind::Element { base, name, .. } => write!(f, "{base}.{name}"),
            ExprKind::Unary { op, operand } => write!(f, "({}{operand})", op.as_str()),
            ExprKind::Binary {
                op, left, right, ..
            } => write!(f, "({left} {} {right})", op.as_str()),
            ExprKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}

fn write_string_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// The duration units, largest first, with their length in nanoseconds.
pub(crate) const DURATION_UNITS: [(&str, i64); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

fn write_duration(f: &mut fmt::Formatter<'_>, ns: i64) -> fmt::Result {
    for (unit, len) in DURATION_UNITS {
        if ns % len == 0 {
            return write!(f, "{}{unit}", ns / len);
        }
    }
    write!(f, "{ns}ns")
}
