//! Static evaluation of a program: statements run once, over numbers, strings, lists, dicts,
//! filters and streams, building the stream graph ([`super::plan`]) and the list of what is
//! published. Every error names the line and column of the expression at fault.

use std::collections::HashMap;
use std::rc::Rc;

use crate::lang::{
    BinaryOp, CompareOp, Expr, ExprKind, Ident, LogicalOp, Pos, Program, StmtKind, UnaryOp,
};

use super::ExecError;
use super::plan::{
    Arith, Cmp, CycleUnit, Detect, Events, Extrapolation, FillLimit, Keep, Lambda, MapOp, Node,
    NodeRef, Operand, Publication, Rollup, Smoothing, Stat, Tz,
};
use super::series::Filter;
use super::time::parse_duration;

/// Graph nodes one program may build: a bound on what a program text can make the server do.
pub const MAX_NODES: usize = 10_000;

/// A value during static evaluation.
#[derive(Debug, Clone)]
enum Val {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    Dict(Vec<(Val, Val)>),
    Stream(NodeRef),
    Filter(Filter),
    Builtin(&'static str),
    Method(Box<Val>, String),
    Lambda(Rc<Lambda>),
    Detect(Rc<Detect>),
    Events(Rc<Events>),
}

impl Val {
    fn kind(&self) -> &'static str {
        match self {
            Val::None => "None",
            Val::Bool(_) => "a boolean",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a number",
            Val::Str(_) => "a string",
            Val::List(_) => "a list",
            Val::Dict(_) => "a dict",
            Val::Stream(_) => "a stream",
            Val::Filter(_) => "a filter",
            Val::Builtin(_) | Val::Method(..) => "a function",
            Val::Lambda(_) => "a lambda",
            Val::Detect(_) => "a detector",
            Val::Events(_) => "an event stream",
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            Val::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
}

const BUILTINS: &[&str] = &[
    "data", "filter", "const", "union", "when", "detect", "events", "abs", "duration",
];

const STATS: &[&str] = &[
    "mean",
    "sum",
    "min",
    "max",
    "count",
    "stddev",
    "variance",
    "median",
    "percentile",
];

/// The graph and publications of a program.
pub fn run(program: &Program) -> Result<Vec<Publication>, ExecError> {
    let mut interp = Interp {
        env: HashMap::new(),
        bound_at: HashMap::new(),
        published: Vec::new(),
        nodes: 0,
    };
    for stmt in &program.statements {
        match &stmt.kind {
            StmtKind::Assign { target, value } => {
                if let Some(first) = interp.bound_at.get(&target.name) {
                    return Err(ExecError::at(
                        target.pos,
                        format!(
                            "`{}` is already bound at {first}; each name is bound once",
                            target.name
                        ),
                    ));
                }
                let v = interp.eval(value)?;
                interp.bound_at.insert(target.name.clone(), target.pos);
                interp.env.insert(target.name.clone(), v);
            }
            StmtKind::Expr(expr) => {
                interp.eval(expr)?;
            }
        }
    }
    Ok(interp.published)
}

struct Interp {
    env: HashMap<String, Val>,
    bound_at: HashMap<String, Pos>,
    published: Vec<Publication>,
    nodes: usize,
}

/// Arguments of one call, positional and by keyword, taken one by one by name.
struct Args {
    pos: Pos,
    what: String,
    positional: Vec<(Val, Pos)>,
    keywords: Vec<(Ident, Val, Pos)>,
    next: usize,
}

impl Args {
    /// The next positional argument, or the keyword `name`.
    fn take(&mut self, name: &str) -> Option<(Val, Pos)> {
        if let Some(i) = self.keywords.iter().position(|(k, ..)| k.name == name) {
            let (_, v, p) = self.keywords.remove(i);
            return Some((v, p));
        }
        if self.next < self.positional.len() {
            self.next += 1;
            return Some(self.positional[self.next - 1].clone());
        }
        None
    }

    /// Only the keyword `name`.
    fn keyword(&mut self, name: &str) -> Option<(Val, Pos)> {
        let i = self.keywords.iter().position(|(k, ..)| k.name == name)?;
        let (_, v, p) = self.keywords.remove(i);
        Some((v, p))
    }

    /// Every positional argument left.
    fn rest(&mut self) -> Vec<(Val, Pos)> {
        let rest = self.positional[self.next..].to_vec();
        self.next = self.positional.len();
        rest
    }

    /// Fails on arguments nobody took.
    fn done(self) -> Result<(), ExecError> {
        if let Some((v, p)) = self.positional.get(self.next) {
            return Err(ExecError::at(
                *p,
                format!(
                    "{} takes {} positional argument(s); this one ({}) is one too many",
                    self.what,
                    self.next,
                    v.kind()
                ),
            ));
        }
        if let Some((k, ..)) = self.keywords.first() {
            return Err(ExecError::at(
                k.pos,
                format!("{} has no argument `{}`", self.what, k.name),
            ));
        }
        Ok(())
    }
}

fn string(v: (Val, Pos), what: &str) -> Result<String, ExecError> {
    match v.0 {
        Val::Str(s) => Ok(s),
        other => Err(ExecError::at(
            v.1,
            format!("{what} must be a string, not {}", other.kind()),
        )),
    }
}

fn number(v: &(Val, Pos), what: &str) -> Result<f64, ExecError> {
    v.0.number()
        .ok_or_else(|| ExecError::at(v.1, format!("{what} must be a number, not {}", v.0.kind())))
}

fn duration(v: (Val, Pos), what: &str) -> Result<i64, ExecError> {
    match &v.0 {
        Val::Str(s) => parse_duration(s).ok_or_else(|| {
            ExecError::at(
                v.1,
                format!("{what} `{s}` is not a duration such as '30s', '5m', '1h' or '1w'"),
            )
        }),
        Val::Int(ms) if *ms > 0 => Ok(*ms),
        other => Err(ExecError::at(
            v.1,
            format!(
                "{what} must be a duration such as '5m' or a positive number of milliseconds, not {}",
                other.kind()
            ),
        )),
    }
}

fn strings(v: (Val, Pos), what: &str) -> Result<Vec<String>, ExecError> {
    match v.0 {
        Val::Str(s) => Ok(vec![s]),
        Val::List(items) => items
            .into_iter()
            .map(|item| string((item, v.1), what))
            .collect(),
        other => Err(ExecError::at(
            v.1,
            format!(
                "{what} must be a string or a list of strings, not {}",
                other.kind()
            ),
        )),
    }
}

fn stream_of(v: (Val, Pos), what: &str) -> Result<NodeRef, ExecError> {
    match v.0 {
        Val::Stream(n) => Ok(n),
        other => Err(ExecError::at(
            v.1,
            format!("{what} must be a stream, not {}", other.kind()),
        )),
    }
}

fn operand(v: Val) -> Option<Operand> {
    match v {
        Val::Stream(n) => Some(Operand::Stream(n)),
        other => other.number().map(Operand::Scalar),
    }
}

impl Interp {
    fn node(&mut self, node: Node, pos: Pos) -> Result<Val, ExecError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(ExecError::at(
                pos,
                format!("the program builds more than {MAX_NODES} streams"),
            ));
        }
        Ok(Val::Stream(Rc::new(node)))
    }

    fn eval(&mut self, expr: &Expr) -> Result<Val, ExecError> {
        let pos = expr.pos;
        Ok(match &expr.kind {
            ExprKind::Int(i) => Val::Int(*i),
            ExprKind::Float(f) => Val::Float(*f),
            ExprKind::Str(s) => Val::Str(s.clone()),
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::None => Val::None,
            ExprKind::Name(name) => match self.env.get(name) {
                Some(v) => v.clone(),
                None => match BUILTINS.iter().find(|b| **b == name) {
                    Some(b) => Val::Builtin(b),
                    None => {
                        return Err(ExecError::at(
                            pos,
                            format!(
                                "`{name}` is not defined: no assignment or function has that name"
                            ),
                        ));
                    }
                },
            },
            ExprKind::List(items) | ExprKind::Tuple(items) => Val::List(
                items
                    .iter()
                    .map(|e| self.eval(e))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Dict(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    out.push((self.eval(k)?, self.eval(v)?));
                }
                Val::Dict(out)
            }
            ExprKind::Attribute { value, name } => {
                let object = self.eval(value)?;
                Val::Method(Box::new(object), name.name.clone())
            }
            ExprKind::Index { value, index } => {
                let object = self.eval(value)?;
                let key = self.eval(index)?;
                self.index(object, key, pos)?
            }
            ExprKind::Call { func, args, kwargs } => {
                let callee = self.eval(func)?;
                let mut call = Args {
                    pos,
                    what: String::new(),
                    positional: Vec::with_capacity(args.len()),
                    keywords: Vec::with_capacity(kwargs.len()),
                    next: 0,
                };
                for a in args {
                    call.positional.push((self.eval(a)?, a.pos));
                }
                for (k, v) in kwargs {
                    call.keywords.push((k.clone(), self.eval(v)?, v.pos));
                }
                self.call(callee, call, func.pos)?
            }
            ExprKind::Unary { op, operand: inner } => {
                let v = self.eval(inner)?;
                self.unary(*op, v, pos)?
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.eval(lhs)?, self.eval(rhs)?);
                self.binary(*op, a, b, pos)?
            }
            ExprKind::Compare { op, lhs, rhs } => {
                let (a, b) = (self.eval(lhs)?, self.eval(rhs)?);
                self.compare(*op, a, b, pos)?
            }
            ExprKind::Logical { op, lhs, rhs } => {
                let a = self.eval(lhs)?;
                self.logical(*op, a, rhs, pos)?
            }
            ExprKind::IfElse {
                then,
                test,
                otherwise,
            } => {
                let t = self.eval(test)?;
                match t {
                    Val::Stream(test) => {
                        let (a, b) = (self.eval(then)?, self.eval(otherwise)?);
                        let (Some(a), Some(b)) = (operand(a.clone()), operand(b.clone())) else {
                            return Err(ExecError::at(
                                pos,
                                "both sides of `x if <stream> else y` must be streams or numbers",
                            ));
                        };
                        self.node(
                            Node::IfElse {
                                then: a,
                                test,
                                otherwise: b,
                            },
                            pos,
                        )?
                    }
                    other => {
                        if truthy(&other) {
                            self.eval(then)?
                        } else {
                            self.eval(otherwise)?
                        }
                    }
                }
            }
            ExprKind::Lambda { params, body } => {
                if params.len() != 1 {
                    return Err(ExecError::at(
                        pos,
                        format!(
                            "a lambda here takes exactly one parameter (the value), not {}",
                            params.len()
                        ),
                    ));
                }
                Val::Lambda(Rc::new(Lambda {
                    param: params[0].name.clone(),
                    body: (**body).clone(),
                }))
            }
        })
    }

    fn index(&self, object: Val, key: Val, pos: Pos) -> Result<Val, ExecError> {
        match (object, key) {
            (Val::List(items), Val::Int(i)) => {
                let at = if i < 0 { items.len() as i64 + i } else { i };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| items.get(at).cloned())
                    .ok_or_else(|| {
                        ExecError::at(
                            pos,
                            format!("index {i} is outside a list of {}", items.len()),
                        )
                    })
            }
            (Val::Dict(pairs), key) => pairs
                .into_iter()
                .find(|(k, _)| same_static(k, &key))
                .map(|(_, v)| v)
                .ok_or_else(|| ExecError::at(pos, "the dict has no such key")),
            (object, key) => Err(ExecError::at(
                pos,
                format!("cannot index {} with {}", object.kind(), key.kind()),
            )),
        }
    }

    fn unary(&mut self, op: UnaryOp, v: Val, pos: Pos) -> Result<Val, ExecError> {
        Ok(match (op, v) {
            (UnaryOp::Pos, v @ (Val::Int(_) | Val::Float(_) | Val::Stream(_))) => v,
            (UnaryOp::Neg, Val::Int(i)) => Val::Int(
                i.checked_neg()
                    .ok_or_else(|| ExecError::at(pos, "integer overflow"))?,
            ),
            (UnaryOp::Neg, Val::Float(f)) => Val::Float(-f),
            (UnaryOp::Neg, Val::Stream(input)) => self.node(
                Node::Map {
                    input,
                    op: MapOp::Neg,
                },
                pos,
            )?,
            (UnaryOp::Not, Val::Stream(input)) => self.node(
                Node::Map {
                    input,
                    op: MapOp::Not,
                },
                pos,
            )?,
            (UnaryOp::Not, Val::Filter(f)) => Val::Filter(Filter::Not(Box::new(f))),
            (UnaryOp::Not, v) => Val::Bool(!truthy(&v)),
            (op, v) => {
                return Err(ExecError::at(
                    pos,
                    format!("cannot apply `{}` to {}", unary_text(op), v.kind()),
                ));
            }
        })
    }

    fn binary(&mut self, op: BinaryOp, a: Val, b: Val, pos: Pos) -> Result<Val, ExecError> {
        let arith = Arith::from(op);
        if let (Val::Str(x), Val::Str(y), Arith::Add) = (&a, &b, arith) {
            return Ok(Val::Str(format!("{x}{y}")));
        }
        if let (Val::List(x), Val::List(y), Arith::Add) = (&a, &b, arith) {
            return Ok(Val::List(x.iter().chain(y).cloned().collect()));
        }
        if matches!(a, Val::Stream(_)) || matches!(b, Val::Stream(_)) {
            let (ka, kb) = (a.kind(), b.kind());
            let (Some(lhs), Some(rhs)) = (operand(a), operand(b)) else {
                return Err(ExecError::at(
                    pos,
                    format!("cannot combine {ka} and {kb} with `{}`", arith_text(arith)),
                ));
            };
            return self.node(
                Node::Binary {
                    op: arith,
                    lhs,
                    rhs,
                },
                pos,
            );
        }
        if let (Val::Int(x), Val::Int(y)) = (&a, &b) {
            let exact = match arith {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::FloorDiv if *y != 0 => Some(x.div_euclid(*y)),
                Arith::Mod if *y != 0 => Some(x.rem_euclid(*y)),
                _ => None,
            };
            if let Some(v) = exact {
                return Ok(Val::Int(v));
            }
        }
        match (a.number(), b.number()) {
            (Some(x), Some(y)) => match super::eval::arith(arith, x, y) {
                Some(v) => Ok(Val::Float(v)),
                None => Err(ExecError::at(pos, "division by zero")),
            },
            _ => Err(ExecError::at(
                pos,
                format!(
                    "cannot combine {} and {} with `{}`",
                    a.kind(),
                    b.kind(),
                    arith_text(arith)
                ),
            )),
        }
    }

    fn compare(&mut self, op: CompareOp, a: Val, b: Val, pos: Pos) -> Result<Val, ExecError> {
        let cmp = Cmp::from(op);
        if matches!(a, Val::Stream(_)) || matches!(b, Val::Stream(_)) {
            let (ka, kb) = (a.kind(), b.kind());
            let (Some(lhs), Some(rhs)) = (operand(a), operand(b)) else {
                return Err(ExecError::at(pos, format!("cannot compare {ka} with {kb}")));
            };
            return self.node(Node::Compare { op: cmp, lhs, rhs }, pos);
        }
        if let (Some(x), Some(y)) = (a.number(), b.number()) {
            return Ok(Val::Bool(super::eval::compare(cmp, x, y)));
        }
        match cmp {
            Cmp::Eq => Ok(Val::Bool(same_static(&a, &b))),
            Cmp::Ne => Ok(Val::Bool(!same_static(&a, &b))),
            _ => match (&a, &b) {
                (Val::Str(x), Val::Str(y)) => Ok(Val::Bool(super::eval::compare(
                    cmp,
                    0.0,
                    match x.cmp(y) {
                        std::cmp::Ordering::Less => 1.0,
                        std::cmp::Ordering::Equal => 0.0,
                        std::cmp::Ordering::Greater => -1.0,
                    },
                ))),
                _ => Err(ExecError::at(
                    pos,
                    format!("cannot compare {} with {}", a.kind(), b.kind()),
                )),
            },
        }
    }

    fn logical(&mut self, op: LogicalOp, a: Val, rhs: &Expr, pos: Pos) -> Result<Val, ExecError> {
        let and = op == LogicalOp::And;
        match a {
            Val::Filter(fa) => match self.eval(rhs)? {
                Val::Filter(fb) => Ok(Val::Filter(if and {
                    Filter::And(Box::new(fa), Box::new(fb))
                } else {
                    Filter::Or(Box::new(fa), Box::new(fb))
                })),
                other => Err(ExecError::at(
                    rhs.pos,
                    format!(
                        "a filter can only be combined with another filter, not {}",
                        other.kind()
                    ),
                )),
            },
            Val::Stream(lhs) => match self.eval(rhs)? {
                Val::Stream(rhs) => self.node(Node::Logic { and, lhs, rhs }, pos),
                other => Err(ExecError::at(
                    rhs.pos,
                    format!(
                        "a boolean stream can only be combined with another stream, not {}",
                        other.kind()
                    ),
                )),
            },
            a => {
                let short = if and { !truthy(&a) } else { truthy(&a) };
                if short { Ok(a) } else { self.eval(rhs) }
            }
        }
    }

    fn call(&mut self, callee: Val, mut args: Args, pos: Pos) -> Result<Val, ExecError> {
        match callee {
            Val::Builtin(name) => {
                args.what = format!("{name}()");
                self.builtin(name, args)
            }
            Val::Method(object, name) => {
                args.what = format!(".{name}()");
                match *object {
                    Val::Stream(input) => self.stream_method(input, &name, args, pos),
                    Val::Detect(detect) if name == "publish" => {
                        let label = self.label(&mut args)?;
                        args.done()?;
                        self.published.push(Publication::Detect {
                            label,
                            detect: detect.clone(),
                        });
                        Ok(Val::Detect(detect))
                    }
                    Val::Events(events) if name == "publish" => {
                        let label = self.label(&mut args)?;
                        args.done()?;
                        self.published.push(Publication::Events {
                            label,
                            events: events.clone(),
                        });
                        Ok(Val::Events(events))
                    }
                    other => Err(ExecError::at(
                        pos,
                        format!("{} has no method `{name}`", other.kind()),
                    )),
                }
            }
            other => Err(ExecError::at(
                pos,
                format!("{} cannot be called", other.kind()),
            )),
        }
    }

    fn label(&self, args: &mut Args) -> Result<String, ExecError> {
        let label = match args.take("label") {
            None | Some((Val::None, _)) => String::new(),
            Some(v) => string(v, "the label")?,
        };
        if let Some(v) = args.keyword("enable") {
            let _ = truthy(&v.0);
        }
        Ok(label)
    }

    fn builtin(&mut self, name: &'static str, mut args: Args) -> Result<Val, ExecError> {
        let pos = args.pos;
        match name {
            "data" => {
                let metric = match args.take("metric") {
                    Some(v) => string(v, "the metric")?,
                    None => return Err(ExecError::at(pos, "data() needs a metric name")),
                };
                let filter = match args.take("filter") {
                    None | Some((Val::None, _)) => None,
                    Some((Val::Filter(f), _)) => Some(f),
                    Some((other, p)) => {
                        return Err(ExecError::at(
                            p,
                            format!(
                                "filter= must be a filter such as filter('host', 'web*'), not {}",
                                other.kind()
                            ),
                        ));
                    }
                };
                let rollup = match args.take("rollup") {
                    None | Some((Val::None, _)) => Rollup::Default,
                    Some(v) => {
                        let p = v.1;
                        let name = string(v, "the rollup")?;
                        Rollup::from_name(&name).ok_or_else(|| {
                            ExecError::at(
                                p,
                                format!("unknown rollup '{name}': use average, sum, min, max, count, latest, delta or rate"),
                            )
                        })?
                    }
                };
                let extrapolation = match args.take("extrapolation") {
                    None | Some((Val::None, _)) => Extrapolation::Null,
                    Some(v) => {
                        let p = v.1;
                        match string(v, "the extrapolation")?.as_str() {
                            "null" => Extrapolation::Null,
                            "zero" => Extrapolation::Zero,
                            "last_value" => Extrapolation::LastValue,
                            other => {
                                return Err(ExecError::at(
                                    p,
                                    format!(
                                        "unknown extrapolation '{other}': use null, zero or last_value"
                                    ),
                                ));
                            }
                        }
                    }
                };
                let max_extrapolations = match args.take("maxExtrapolations") {
                    None => -1,
                    Some(v) => number(&v, "maxExtrapolations")? as i64,
                };
                let resolution = match args.take("resolution") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => Some(duration(v, "the resolution")?),
                };
                args.done()?;
                self.node(
                    Node::Data {
                        metric,
                        filter,
                        rollup,
                        extrapolation,
                        max_extrapolations,
                        resolution,
                        pos,
                    },
                    pos,
                )
            }
            "filter" => {
                let key = match args.take("key") {
                    Some(v) => string(v, "the filter's key")?,
                    None => {
                        return Err(ExecError::at(
                            pos,
                            "filter() needs a key and at least one value",
                        ));
                    }
                };
                let match_missing = args.keyword("match_missing").is_some_and(|v| truthy(&v.0));
                let mut values = Vec::new();
                for v in args.rest() {
                    values.extend(strings(v, "a filter value")?);
                }
                if values.is_empty() {
                    return Err(ExecError::at(
                        pos,
                        format!("filter('{key}') needs at least one value"),
                    ));
                }
                args.done()?;
                Ok(Val::Filter(Filter::Match {
                    key,
                    values,
                    match_missing,
                }))
            }
            "const" => {
                let value = match args.take("value") {
                    Some(v) => number(&v, "the constant")?,
                    None => return Err(ExecError::at(pos, "const() needs a value")),
                };
                let mut dims = Vec::new();
                if let Some((v, p)) = args.take("key").or_else(|| args.keyword("dimensions")) {
                    match v {
                        Val::Dict(pairs) => {
                            for (k, v) in pairs {
                                dims.push((
                                    string((k, p), "a dimension key")?,
                                    string((v, p), "a dimension value")?,
                                ));
                            }
                        }
                        Val::None => {}
                        other => {
                            return Err(ExecError::at(
                                p,
                                format!(
                                    "const()'s dimensions must be a dict, not {}",
                                    other.kind()
                                ),
                            ));
                        }
                    }
                }
                args.done()?;
                self.node(Node::Const { value, dims }, pos)
            }
            "union" => {
                let mut all = Vec::new();
                for v in args.rest() {
                    all.push(stream_of(v, "each argument of union()")?);
                }
                args.done()?;
                self.node(Node::Union(all), pos)
            }
            "abs" => {
                let input = match args.take("stream") {
                    Some(v) => stream_of(v, "abs()'s argument")?,
                    None => return Err(ExecError::at(pos, "abs() needs a stream")),
                };
                args.done()?;
                self.node(
                    Node::Map {
                        input,
                        op: MapOp::Abs,
                    },
                    pos,
                )
            }
            "duration" => {
                let ms = match args.take("text") {
                    Some(v) => duration(v, "duration()'s argument")?,
                    None => return Err(ExecError::at(pos, "duration() needs a text such as '5m'")),
                };
                args.done()?;
                Ok(Val::Int(ms))
            }
            "when" => {
                let predicate = match args.take("predicate") {
                    Some((Val::Stream(n), _)) => n,
                    Some((Val::Lambda(_), p)) => {
                        return Err(ExecError::at(
                            p,
                            "when() takes a boolean stream such as `A > 50`; apply a lambda with A.map(lambda x: …) first",
                        ));
                    }
                    Some((other, p)) => {
                        return Err(ExecError::at(
                            p,
                            format!(
                                "when()'s predicate must be a boolean stream such as `A > 50`, not {}",
                                other.kind()
                            ),
                        ));
                    }
                    None => {
                        return Err(ExecError::at(
                            pos,
                            "when() needs a predicate such as `A > 50`",
                        ));
                    }
                };
                let lasting = match args.take("lasting") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => Some(duration(v, "lasting")?),
                };
                let at_least = match args.take("at_least") {
                    None => 1.0,
                    Some(v) => {
                        let x = number(&v, "at_least")?;
                        if !(x > 0.0 && x <= 1.0) {
                            return Err(ExecError::at(
                                v.1,
                                format!("at_least must be above 0 and at most 1, not {x}"),
                            ));
                        }
                        x
                    }
                };
                args.done()?;
                self.node(
                    Node::When {
                        predicate,
                        lasting,
                        at_least,
                    },
                    pos,
                )
            }
            "detect" => {
                let on = match args.take("on") {
                    Some(v) => stream_of(v, "detect()'s `on`")?,
                    None => {
                        return Err(ExecError::at(
                            pos,
                            "detect() needs an `on` condition such as when(A > 50)",
                        ));
                    }
                };
                let off = match args.take("off") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => Some(stream_of(v, "detect()'s `off`")?),
                };
                let split = match args.take("mode") {
                    None | Some((Val::None, _)) => false,
                    Some(v) => {
                        let p = v.1;
                        match string(v, "the mode")?.as_str() {
                            "paired" => false,
                            "split" => true,
                            other => {
                                return Err(ExecError::at(
                                    p,
                                    format!("unknown mode '{other}': use paired or split"),
                                ));
                            }
                        }
                    }
                };
                for ignored in ["annotations", "event_annotations", "auto_resolve_after"] {
                    args.keyword(ignored);
                }
                args.done()?;
                Ok(Val::Detect(Rc::new(Detect {
                    on,
                    off,
                    split,
                    pos,
                })))
            }
            "events" => {
                let event_type = match args.take("eventType") {
                    Some(v) => string(v, "the event type")?,
                    None => return Err(ExecError::at(pos, "events() needs an event type")),
                };
                let filter = match args.take("filter") {
                    None | Some((Val::None, _)) => None,
                    Some((Val::Filter(f), _)) => Some(f),
                    Some((other, p)) => {
                        return Err(ExecError::at(
                            p,
                            format!("filter= must be a filter, not {}", other.kind()),
                        ));
                    }
                };
                args.done()?;
                Ok(Val::Events(Rc::new(Events { event_type, filter })))
            }
            _ => Err(ExecError::at(pos, format!("`{name}` is not a function"))),
        }
    }

    fn stream_method(
        &mut self,
        input: NodeRef,
        name: &str,
        mut args: Args,
        pos: Pos,
    ) -> Result<Val, ExecError> {
        if STATS.contains(&name) {
            let stat = match name {
                "mean" => Stat::Mean,
                "sum" => Stat::Sum,
                "min" => Stat::Min,
                "max" => Stat::Max,
                "count" => Stat::Count,
                "stddev" => Stat::Stddev,
                "variance" => Stat::Variance,
                "median" => Stat::Median,
                _ => {
                    let pct = match args.take("pct") {
                        Some(v) => number(&v, "the percentile")?,
                        None => {
                            return Err(ExecError::at(
                                pos,
                                "percentile() needs a percentile such as 95",
                            ));
                        }
                    };
                    if !(pct > 0.0 && pct <= 100.0) {
                        return Err(ExecError::at(
                            pos,
                            format!("the percentile must be above 0 and at most 100, not {pct}"),
                        ));
                    }
                    Stat::Percentile(pct)
                }
            };
            let by = match args.keyword("by") {
                None | Some((Val::None, _)) => None,
                Some(v) => Some(strings(v, "by=")?),
            };
            let over = match args.keyword("over") {
                None | Some((Val::None, _)) => None,
                Some(v) => Some(duration(v, "over=")?),
            };
            let cycle = match args.keyword("cycle") {
                None | Some((Val::None, _)) => None,
                Some(v) => {
                    let p = v.1;
                    let text = string(v, "cycle=")?;
                    Some(CycleUnit::from_name(&text).ok_or_else(|| {
                        ExecError::at(
                            p,
                            format!(
                                "unknown cycle '{text}': use hour, day, week, month, quarter or year"
                            ),
                        )
                    })?)
                }
            };
            let cycle_start = match args.keyword("cycle_start") {
                None | Some((Val::None, _)) => 0,
                Some(v) => duration(v, "cycle_start=")?,
            };
            let zone = match args.keyword("tz") {
                None | Some((Val::None, _)) => None,
                Some(v) => {
                    let p = v.1;
                    let text = string(v, "tz=")?;
                    Some(text.parse::<Tz>().map_err(|_| {
                        ExecError::at(
                            p,
                            format!(
                                "unknown time zone '{text}': use an IANA name such as 'Europe/Berlin' or 'UTC'"
                            ),
                        )
                    })?)
                }
            };
            let partial = args.keyword("partial_values").is_some_and(|v| truthy(&v.0));
            args.keyword("allow_missing");
            args.done()?;
            if let Some(unit) = cycle {
                if by.is_some() || over.is_some() {
                    return Err(ExecError::at(
                        pos,
                        format!("{name}() takes cycle= alone, without by= or over="),
                    ));
                }
                return self.node(
                    Node::Cycle {
                        input,
                        stat,
                        unit,
                        offset: cycle_start,
                        zone: zone.unwrap_or(Tz::UTC),
                        partial,
                    },
                    pos,
                );
            }
            if zone.is_some() {
                return Err(ExecError::at(
                    pos,
                    format!("{name}() takes tz= only with cycle=, whose periods it places"),
                ));
            }
            return match (by, over) {
                (Some(_), Some(_)) => Err(ExecError::at(
                    pos,
                    format!(
                        "{name}() takes by= (an aggregation) or over= (a transformation), not both"
                    ),
                )),
                (None, Some(over)) => self.node(Node::Window { input, stat, over }, pos),
                (by, None) => self.node(Node::Aggregate { input, stat, by }, pos),
            };
        }
        let node = match name {
            "publish" => {
                let label = self.label(&mut args)?;
                args.done()?;
                self.published.push(Publication::Stream {
                    label,
                    node: input.clone(),
                });
                return Ok(Val::Stream(input));
            }
            "timeshift" => {
                let offset = match args.take("offset") {
                    Some(v) => duration(v, "the offset")?,
                    None => {
                        return Err(ExecError::at(
                            pos,
                            "timeshift() needs an offset such as '1w'",
                        ));
                    }
                };
                Node::Timeshift { input, offset }
            }
            "delta" => Node::Delta(input),
            "rateofchange" => Node::RateOfChange(input),
            "abs" => Node::Map {
                input,
                op: MapOp::Abs,
            },
            "sqrt" => Node::Map {
                input,
                op: MapOp::Sqrt,
            },
            "floor" => Node::Map {
                input,
                op: MapOp::Floor,
            },
            "ceil" => Node::Map {
                input,
                op: MapOp::Ceil,
            },
            "scale" => {
                let m = match args.take("multiplier") {
                    Some(v) => number(&v, "the multiplier")?,
                    None => return Err(ExecError::at(pos, "scale() needs a multiplier")),
                };
                Node::Map {
                    input,
                    op: MapOp::Scale(m),
                }
            }
            "ewma" => {
                let smoothing = match (args.take("alpha"), args.keyword("over")) {
                    (Some(v), None | Some((Val::None, _))) => {
                        let a = number(&v, "alpha")?;
                        if !(a > 0.0 && a <= 1.0) {
                            return Err(ExecError::at(
                                v.1,
                                format!("alpha must be above 0 and at most 1, not {a}"),
                            ));
                        }
                        Smoothing::Alpha(a)
                    }
                    (None, Some(v)) if !matches!(v.0, Val::None) => {
                        let p = v.1;
                        let over = duration(v, "over=")?;
                        if over <= 0 {
                            return Err(ExecError::at(p, "over= must be a positive duration"));
                        }
                        Smoothing::Over(over)
                    }
                    (Some(_), Some(_)) => {
                        return Err(ExecError::at(pos, "ewma() takes alpha or over=, not both"));
                    }
                    (None, _) => {
                        return Err(ExecError::at(
                            pos,
                            "ewma() needs alpha, such as ewma(0.1), or over=, such as ewma(over='5m')",
                        ));
                    }
                };
                Node::Ewma { input, smoothing }
            }
            "fill" => {
                let value = match args.take("value") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => Some(number(&v, "the fill value")?),
                };
                let limit = match (args.take("duration"), args.take("max_count")) {
                    (None | Some((Val::None, _)), None | Some((Val::None, _))) => FillLimit::None,
                    (Some(d), None | Some((Val::None, _))) => {
                        FillLimit::Duration(duration(d, "the duration")?)
                    }
                    (None | Some((Val::None, _)), Some(c)) => {
                        FillLimit::Count(number(&c, "max_count")?.max(0.0) as usize)
                    }
                    (Some(_), Some(_)) => {
                        return Err(ExecError::at(
                            pos,
                            "fill() takes duration= or max_count=, not both",
                        ));
                    }
                };
                Node::Fill {
                    input,
                    value,
                    limit,
                }
            }
            "top" | "bottom" => {
                let count = match args.take("count") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => {
                        let n = number(&v, "count")?;
                        if n.is_nan() || n < 1.0 {
                            return Err(ExecError::at(
                                v.1,
                                format!("count must be at least 1, not {n}"),
                            ));
                        }
                        Some(n as usize)
                    }
                };
                let percentage = match args.keyword("percentage") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => {
                        let p = number(&v, "percentage")?;
                        if !(p > 0.0 && p <= 100.0) {
                            return Err(ExecError::at(
                                v.1,
                                format!("percentage must be above 0 and at most 100, not {p}"),
                            ));
                        }
                        Some(p)
                    }
                };
                let keep = match (count, percentage) {
                    (Some(_), Some(_)) => {
                        return Err(ExecError::at(
                            pos,
                            format!("{name}() takes count= or percentage=, not both"),
                        ));
                    }
                    (Some(n), None) => Keep::Count(n),
                    (None, Some(p)) => Keep::Percentage(p),
                    (None, None) => Keep::Count(5),
                };
                let by = match args.keyword("by") {
                    None | Some((Val::None, _)) => None,
                    Some(v) => Some(strings(v, "by=")?),
                };
                Node::Rank {
                    input,
                    keep,
                    by,
                    bottom: name == "bottom",
                }
            }
            "map" => {
                let lambda = match args.take("fn") {
                    Some((Val::Lambda(l), _)) => l,
                    Some((other, p)) => {
                        return Err(ExecError::at(
                            p,
                            format!(
                                "map() takes a lambda such as lambda x: x * 2, not {}",
                                other.kind()
                            ),
                        ));
                    }
                    None => {
                        return Err(ExecError::at(
                            pos,
                            "map() needs a lambda such as lambda x: x * 2",
                        ));
                    }
                };
                Node::MapLambda { input, lambda }
            }
            _ => {
                return Err(ExecError::at(
                    pos,
                    format!("a stream has no method `{name}`"),
                ));
            }
        };
        args.done()?;
        self.node(node, pos)
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        Val::None => false,
        Val::Bool(b) => *b,
        Val::Int(i) => *i != 0,
        Val::Float(f) => *f != 0.0,
        Val::Str(s) => !s.is_empty(),
        Val::List(l) => !l.is_empty(),
        Val::Dict(d) => !d.is_empty(),
        _ => true,
    }
}

fn same_static(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::None, Val::None) => true,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_static(a, b))
        }
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn unary_text(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "-",
        UnaryOp::Pos => "+",
        UnaryOp::Not => "not",
    }
}

fn arith_text(op: Arith) -> &'static str {
    match op {
        Arith::Add => "+",
        Arith::Sub => "-",
        Arith::Mul => "*",
        Arith::Div => "/",
        Arith::FloorDiv => "//",
        Arith::Mod => "%",
        Arith::Pow => "**",
    }
}
