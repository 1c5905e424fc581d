//! The syntax tree of a SignalFlow program.
//!
//! Every node carries the [`Pos`] of its first character, so the evaluator's errors can name
//! line and column just as the parser's do.

use std::fmt;

/// A place in the program text: 1-based line and 1-based column, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters (not bytes).
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A whole program: statements in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The statements, in order.
    pub statements: Vec<Stmt>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// What the statement does.
    pub kind: StmtKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `name = value`. Each name is bound once per program.
    Assign {
        /// The name bound.
        target: Ident,
        /// The value.
        value: Expr,
    },
    /// An expression evaluated for its effect, such as `data('x').publish()`.
    Expr(Expr),
}

/// A name with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal that fits in `i64`, such as `5`.
    Int(i64),
    /// A floating-point literal, such as `0.5` or `1e3`, or an integer too large for `i64`.
    Float(f64),
    /// A string literal after escapes are resolved; adjacent literals are joined.
    Str(String),
    /// `True` or `False`.
    Bool(bool),
    /// `None`.
    None,
    /// A name: a variable or a built-in function.
    Name(String),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `(a, b)` or `(a,)`. A parenthesised single expression is that expression, not a tuple.
    Tuple(Vec<Expr>),
    /// `{k: v, …}`.
    Dict(Vec<(Expr, Expr)>),
    /// `func(args…, name=value…)`. Positional arguments come before keyword arguments.
    Call {
        /// What is called: a name, or an attribute for a method call.
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments, in order; a name appears at most once.
        kwargs: Vec<(Ident, Expr)>,
    },
    /// `value.name`: a method or an attribute.
    Attribute {
        /// The object.
        value: Box<Expr>,
        /// The attribute's name.
        name: Ident,
    },
    /// `value[index]`.
    Index {
        /// The object.
        value: Box<Expr>,
        /// The index.
        index: Box<Expr>,
    },
    /// `-x`, `+x`, `not x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a + b` and the other arithmetic operators.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `a < b` and the other comparisons. A chain `a < b < c` is refused by the parser.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `a and b`, `a or b`.
    Logical {
        /// The operator.
        op: LogicalOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `then if test else otherwise`.
    IfElse {
        /// The value when `test` holds.
        then: Box<Expr>,
        /// The condition.
        test: Box<Expr>,
        /// The value otherwise.
        otherwise: Box<Expr>,
    },
    /// `lambda x, y: body`.
    Lambda {
        /// The parameters.
        params: Vec<Ident>,
        /// The body.
        body: Box<Expr>,
    },
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
    /// `not`
    Not,
}

/// Arithmetic operators.
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
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// Boolean connectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    /// `and`
    And,
    /// `or`
    Or,
}

/// Prints the program one statement a line, each as [`Stmt`]'s `Display` does.
impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, statement) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{statement}")?;
        }
        Ok(())
    }
}

/// Prints `name = value` or the expression, as [`Expr`]'s `Display` does.
impl fmt::Display for Stmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StmtKind::Assign { target, value } => write!(f, "{} = {value}", target.name),
            StmtKind::Expr(value) => write!(f, "{value}"),
        }
    }
}

/// Prints the expression in a canonical, fully parenthesised form that parses back to the same
/// tree (positions aside): every operator, conditional and lambda in parentheses, as
/// `(a + (b * c))`; strings in single quotes with escapes; calls as
/// `data('cpu', filter=filter('host', 'a'))`. A negative number, which the parser only builds
/// as a negation, prints as `(-5)`; a float that is not finite prints as `float('inf')`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(v) if *v < 0 => write!(f, "({v})"),
            ExprKind::Int(v) => write!(f, "{v}"),
            ExprKind::Float(v) if v.is_nan() => f.write_str("float('nan')"),
            ExprKind::Float(v) if v.is_infinite() && *v > 0.0 => f.write_str("float('inf')"),
            ExprKind::Float(v) if v.is_infinite() => f.write_str("float('-inf')"),
            ExprKind::Float(v) if v.is_sign_negative() => write!(f, "({v:?})"),
            ExprKind::Float(v) => write!(f, "{v:?}"),
            ExprKind::Str(s) => write_string(f, s),
            ExprKind::Bool(true) => f.write_str("True"),
            ExprKind::Bool(false) => f.write_str("False"),
            ExprKind::None => f.write_str("None"),
            ExprKind::Name(name) => f.write_str(name),
            ExprKind::List(items) => {
                f.write_str("[")?;
                write_list(f, items)?;
                f.write_str("]")
            }
            ExprKind::Tuple(items) => {
                f.write_str("(")?;
                write_list(f, items)?;
                if items.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
            ExprKind::Dict(entries) => {
                f.write_str("{")?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}: {value}")?;
                }
                f.write_str("}")
            }
            ExprKind::Call { func, args, kwargs } => {
                write!(f, "{func}(")?;
                write_list(f, args)?;
                for (i, (name, value)) in kwargs.iter().enumerate() {
                    if i > 0 || !args.is_empty() {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}={value}", name.name)?;
                }
                f.write_str(")")
            }
            ExprKind::Attribute { value, name } => {
                // `1.x` would read as a malformed number.
                let bare_number = match value.kind {
                    ExprKind::Int(v) => v >= 0,
                    ExprKind::Float(v) => v.is_finite() && v.is_sign_positive(),
                    _ => false,
                };
                if bare_number {
                    write!(f, "({value}).{}", name.name)
                } else {
                    write!(f, "{value}.{}", name.name)
                }
            }
            ExprKind::Index { value, index } => write!(f, "{value}[{index}]"),
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => write!(f, "(not {operand})"),
            ExprKind::Unary { op, operand } => write!(f, "({op}{operand})"),
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({lhs} {op} {rhs})"),
            ExprKind::Compare { op, lhs, rhs } => write!(f, "({lhs} {op} {rhs})"),
            ExprKind::Logical { op, lhs, rhs } => write!(f, "({lhs} {op} {rhs})"),
            ExprKind::IfElse {
                then,
                test,
                otherwise,
            } => write!(f, "({then} if {test} else {otherwise})"),
            ExprKind::Lambda { params, body } => {
                f.write_str("(lambda")?;
                for (i, param) in params.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    f.write_str(&param.name)?;
                }
                write!(f, ": {body})")
            }
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// A string literal in single quotes that the lexer reads back to `s`.
fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\'' => f.write_str("\\'")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() && u32::from(c) < 0x100 => write!(f, "\\x{:02x}", u32::from(c))?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("'")
}

impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
            UnaryOp::Not => "not",
        })
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::FloorDiv => "//",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "**",
        })
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        })
    }
}

impl fmt::Display for LogicalOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogicalOp::And => "and",
            LogicalOp::Or => "or",
        })
    }
}
