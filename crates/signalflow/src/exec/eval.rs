//! Evaluation of the stream graph over a timeline: every node's series, value by value.
//!
//! A node's stream is computed once per evaluation, however many nodes read it. Values are
//! `Option<f64>`: `None` where a series has no value at a logical timestamp. Booleans are 1
//! and 0.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use crate::lang::{Expr, ExprKind, LogicalOp, UnaryOp};

use super::ExecError;
use super::plan::{Arith, Cmp, FillLimit, Lambda, MapOp, Node, NodeRef, Operand, Stat};
use super::series::{Meta, Series, Stream, stable_id};
use super::time::Timeline;

/// Evaluates nodes over one timeline, with the `data()` nodes' series given.
pub(crate) struct Evaluator {
    pub timeline: Timeline,
    /// The series of each `data()` node, on the timeline.
    pub data: HashMap<*const Node, Rc<Stream>>,
    memo: HashMap<*const Node, Rc<Stream>>,
    seq: HashMap<*const Node, usize>,
}

impl Evaluator {
    pub fn new(timeline: Timeline, data: HashMap<*const Node, Rc<Stream>>) -> Evaluator {
        Evaluator {
            timeline,
            data,
            memo: HashMap::new(),
            seq: HashMap::new(),
        }
    }

    /// The stream of `node`.
    pub fn stream(&mut self, node: &NodeRef) -> Result<Rc<Stream>, ExecError> {
        let key = Rc::as_ptr(node);
        if let Some(found) = self.memo.get(&key) {
            return Ok(found.clone());
        }
        let next = self.seq.len();
        let seq = *self.seq.entry(key).or_insert(next);
        let out = match &**node {
            // A data block's series are shared, not copied; one not loaded has none.
            Node::Data { .. } => self.data.get(&key).cloned().unwrap_or_default(),
            _ => Rc::new(self.compute(node, seq)?),
        };
        self.memo.insert(key, out.clone());
        Ok(out)
    }

    fn operand(&mut self, o: &Operand) -> Result<Side, ExecError> {
        Ok(match o {
            Operand::Stream(n) => Side::Stream(self.stream(n)?),
            Operand::Scalar(x) => Side::Scalar(*x),
        })
    }

    fn compute(&mut self, node: &NodeRef, seq: usize) -> Result<Stream, ExecError> {
        let len = self.timeline.len;
        let resolution = self.timeline.resolution;
        let name = |kind: &str| format!("_SF_COMP_{kind}_{seq}");
        Ok(match &**node {
            // Shared by `stream`, never computed.
            Node::Data { .. } => Vec::new(),
            Node::Const { value, dims } => {
                let mut meta = Meta {
                    metric: name("CONST"),
                    dims: dims.iter().cloned().collect(),
                    computed: true,
                    ..Meta::default()
                };
                meta.id = stable_id(&["const", &seq.to_string(), &meta.identity()]);
                vec![Series {
                    meta: Arc::new(meta),
                    values: vec![Some(*value); len],
                }]
            }
            Node::Aggregate { input, stat, by } => {
                let input = self.stream(input)?;
                let mut groups: BTreeMap<Vec<String>, Vec<&Series>> = BTreeMap::new();
                for s in input.iter() {
                    let key = match by {
                        None => Vec::new(),
                        Some(keys) => {
                            let Some(values) = keys
                                .iter()
                                .map(|k| s.meta.get(k).map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                            else {
                                continue;
                            };
                            values
                        }
                    };
                    groups.entry(key).or_default().push(s);
                }
                let mut out = Vec::with_capacity(groups.len());
                let mut scratch = Vec::new();
                for members in groups.values() {
                    let meta = common_meta(members, &name("AGG"), seq);
                    let values = (0..len)
                        .map(|i| {
                            scratch.clear();
                            scratch.extend(members.iter().filter_map(|s| s.values[i]));
                            compute_stat(*stat, &mut scratch)
                        })
                        .collect();
                    out.push(Series { meta, values });
                }
                out
            }
            Node::Window { input, stat, over } => {
                let steps = self.timeline.steps(*over);
                let input = self.stream(input)?;
                input
                    .iter()
                    .map(|s| {
                        let values = super::window::sliding(*stat, &s.values[..len], steps);
                        Series {
                            meta: computed(&s.meta, &name("WINDOW"), seq),
                            values,
                        }
                    })
                    .collect()
            }
            Node::Cycle {
                input,
                stat,
                unit,
                offset,
                zone,
                partial,
            } => {
                let timeline = self.timeline;
                let input = self.stream(input)?;
                // Each logical timestamp's period start, and whether it is the period's last:
                // the same for every series.
                let periods = unit.periods(&timeline, *offset, *zone);
                input
                    .iter()
                    .map(|s| {
                        let mut values = vec![None; len];
                        // Running figures since the period's start, and for percentiles the
                        // period's values so far kept sorted.
                        let mut run = Running::default();
                        let mut sorted = super::window::Sorted::default();
                        let ranked = matches!(stat, Stat::Median | Stat::Percentile(_));
                        // One index into the timeline, the input's values and the output's.
                        #[allow(clippy::needless_range_loop)]
                        for i in 0..len {
                            let (start, last) = periods[i];
                            if i == 0 || timeline.at(i - 1) < start {
                                run = Running::default();
                                sorted.clear();
                            }
                            if let Some(v) = s.values[i] {
                                run.add(v);
                                if ranked {
                                    sorted.insert(v);
                                }
                            }
                            // Only whole periods (or their parts so far) are reported: not one
                            // that began before the timeline.
                            if (!partial && !last) || timeline.first > start {
                                continue;
                            }
                            values[i] = match stat {
                                Stat::Median => sorted.percentile(50.0),
                                Stat::Percentile(p) => sorted.percentile(*p),
                                _ => run.value(*stat),
                            };
                        }
                        Series {
                            meta: computed(&s.meta, &name("CYCLE"), seq),
                            values,
                        }
                    })
                    .collect()
            }
            Node::Map { input, op } => {
                let input = self.stream(input)?;
                input
                    .iter()
                    .map(|s| Series {
                        meta: computed(&s.meta, &name("MAP"), seq),
                        values: s
                            .values
                            .iter()
                            .map(|v| v.and_then(|x| map(*op, x)))
                            .collect(),
                    })
                    .collect()
            }
            Node::MapLambda { input, lambda } => {
                let input = self.stream(input)?;
                let mut out = Vec::with_capacity(input.len());
                for s in input.iter() {
                    let mut values = Vec::with_capacity(len);
                    for v in &s.values {
                        values.push(match v {
                            Some(x) => apply_lambda(lambda, *x)?,
                            None => None,
                        });
                    }
                    out.push(Series {
                        meta: computed(&s.meta, &name("MAP"), seq),
                        values,
                    });
                }
                out
            }
            Node::Timeshift { input, offset } => {
                let input = self.stream(input)?;
                let shift = (*offset / resolution) as usize;
                input
                    .iter()
                    .map(|s| Series {
                        meta: computed(&s.meta, &name("TIMESHIFT"), seq),
                        values: (0..len)
                            .map(|i| i.checked_sub(shift).and_then(|j| s.values[j]))
                            .collect(),
                    })
                    .collect()
            }
            Node::Delta(input) | Node::RateOfChange(input) => {
                let per_second = matches!(&**node, Node::RateOfChange(_));
                let seconds = resolution as f64 / 1000.0;
                let input = self.stream(input)?;
                input
                    .iter()
                    .map(|s| Series {
                        meta: computed(&s.meta, &name("DELTA"), seq),
                        values: (0..len)
                            .map(|i| {
                                let prev = i.checked_sub(1).and_then(|j| s.values[j])?;
                                let d = s.values[i]? - prev;
                                Some(if per_second { d / seconds } else { d })
                            })
                            .collect(),
                    })
                    .collect()
            }
            Node::Ewma { input, smoothing } => {
                let alpha = smoothing.alpha(self.timeline.resolution);
                let input = self.stream(input)?;
                input
                    .iter()
                    .map(|s| {
                        let mut level: Option<f64> = None;
                        let values = s
                            .values
                            .iter()
                            .map(|v| {
                                if let Some(x) = v {
                                    level = Some(match level {
                                        Some(l) => alpha * x + (1.0 - alpha) * l,
                                        None => *x,
                                    });
                                }
                                v.and(level)
                            })
                            .collect();
                        Series {
                            meta: computed(&s.meta, &name("EWMA"), seq),
                            values,
                        }
                    })
                    .collect()
            }
            Node::Fill {
                input,
                value,
                limit,
            } => {
                let max_gap = match limit {
                    FillLimit::None => usize::MAX,
                    FillLimit::Count(n) => *n,
                    FillLimit::Duration(d) => (*d / resolution) as usize,
                };
                let input = self.stream(input)?;
                input
                    .iter()
                    .map(|s| {
                        let mut last: Option<f64> = None;
                        let mut gap = 0usize;
                        let values = s
                            .values
                            .iter()
                            .map(|v| match v {
                                Some(x) => {
                                    last = Some(*x);
                                    gap = 0;
                                    Some(*x)
                                }
                                None => {
                                    gap += 1;
                                    if gap > max_gap { None } else { value.or(last) }
                                }
                            })
                            .collect();
                        Series {
                            meta: s.meta.clone(),
                            values,
                        }
                    })
                    .collect()
            }
            Node::Rank {
                input,
                keep,
                by,
                bottom,
            } => {
                let input = self.stream(input)?;
                // The series of each group, by their place in the input; a series missing a
                // key of `by=` is in no group and keeps no value (as aggregations leave it out).
                let mut groups: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
                for (k, s) in input.iter().enumerate() {
                    let key = match by {
                        None => Vec::new(),
                        Some(keys) => {
                            let Some(values) = keys
                                .iter()
                                .map(|k| s.meta.get(k))
                                .collect::<Option<Vec<_>>>()
                            else {
                                continue;
                            };
                            values
                        }
                    };
                    groups.entry(key).or_default().push(k);
                }
                let mut values: Vec<Vec<Option<f64>>> = vec![vec![None; len]; input.len()];
                let mut order: Vec<(f64, usize)> = Vec::new();
                for members in groups.values() {
                    // One index into the inputs' values and the outputs'.
                    #[allow(clippy::needless_range_loop)]
                    for i in 0..len {
                        order.clear();
                        order.extend(
                            members
                                .iter()
                                .filter_map(|&k| input[k].values[i].map(|v| (v, k))),
                        );
                        order.sort_by(|a, b| {
                            let o = a.0.total_cmp(&b.0);
                            (if *bottom { o } else { o.reverse() }).then(a.1.cmp(&b.1))
                        });
                        for &(v, k) in order.iter().take(keep.of(order.len())) {
                            values[k][i] = Some(v);
                        }
                    }
                }
                input
                    .iter()
                    .zip(values)
                    .map(|(s, values)| Series {
                        meta: s.meta.clone(),
                        values,
                    })
                    .collect()
            }
            Node::Union(all) => {
                let mut out = Vec::new();
                for n in all {
                    out.extend(self.stream(n)?.iter().cloned());
                }
                out
            }
            Node::Binary { op, lhs, rhs } => {
                let (a, b) = (self.operand(lhs)?, self.operand(rhs)?);
                combine(&a, &b, &name("ARITH"), seq, |x, y| arith(*op, x?, y?))
            }
            Node::Compare { op, lhs, rhs } => {
                let (a, b) = (self.operand(lhs)?, self.operand(rhs)?);
                combine(&a, &b, &name("CMP"), seq, |x, y| {
                    Some(f64::from(u8::from(compare(*op, x?, y?))))
                })
            }
            Node::Logic { and, lhs, rhs } => {
                let a = Side::Stream(self.stream(lhs)?);
                let b = Side::Stream(self.stream(rhs)?);
                combine(&a, &b, &name("LOGIC"), seq, |x, y| {
                    let (x, y) = (x.map(|v| v != 0.0), y.map(|v| v != 0.0));
                    let r = if *and {
                        match (x, y) {
                            (Some(false), _) | (_, Some(false)) => Some(false),
                            (Some(true), Some(true)) => Some(true),
                            _ => None,
                        }
                    } else {
                        match (x, y) {
                            (Some(true), _) | (_, Some(true)) => Some(true),
                            (Some(false), Some(false)) => Some(false),
                            _ => None,
                        }
                    };
                    r.map(|b| f64::from(u8::from(b)))
                })
            }
            Node::IfElse {
                then,
                test,
                otherwise,
            } => {
                let test = self.stream(test)?;
                let (a, b) = (self.operand(then)?, self.operand(otherwise)?);
                // One output per series of the test, paired with each side by metadata.
                test.iter()
                    .filter_map(|t| {
                        let x = partner(&a, t, test.len())?;
                        let y = partner(&b, t, test.len())?;
                        let values = (0..len)
                            .map(|i| match t.values[i] {
                                Some(c) if c != 0.0 => x.at(i),
                                Some(_) => y.at(i),
                                None => None,
                            })
                            .collect();
                        Some(Series {
                            meta: computed(&t.meta, &name("IF"), seq),
                            values,
                        })
                    })
                    .collect()
            }
            Node::When {
                predicate,
                lasting,
                at_least,
            } => {
                let steps = lasting.map_or(1, |l| self.timeline.steps(l));
                let need = ((*at_least * steps as f64) - 1e-9).ceil().max(1.0) as usize;
                let input = self.stream(predicate)?;
                input
                    .iter()
                    .map(|s| {
                        let mut held = 0usize;
                        let mut known = 0usize;
                        let values = (0..len)
                            .map(|i| {
                                let add = s.values[i];
                                known += usize::from(add.is_some());
                                held += usize::from(add.is_some_and(|v| v != 0.0));
                                if i >= steps {
                                    let drop = s.values[i - steps];
                                    known -= usize::from(drop.is_some());
                                    held -= usize::from(drop.is_some_and(|v| v != 0.0));
                                }
                                if known == 0 {
                                    None
                                } else {
                                    Some(f64::from(u8::from(i + 1 >= steps && held >= need)))
                                }
                            })
                            .collect();
                        Series {
                            meta: s.meta.clone(),
                            values,
                        }
                    })
                    .collect()
            }
        })
    }
}

/// One side of a binary operation.
enum Side {
    Stream(Rc<Stream>),
    Scalar(f64),
}

/// A side's value source for one series of the other side.
enum Partner<'a> {
    Scalar(f64),
    Series(&'a Series),
}

impl Partner<'_> {
    fn at(&self, i: usize) -> Option<f64> {
        match self {
            Partner::Scalar(x) => Some(*x),
            Partner::Series(s) => s.values[i],
        }
    }
}

/// The partner in `side` of series `s` of a stream of `others` series: a scalar, the single
/// series of a one-series stream, or else the series with the same dimensions.
fn partner<'a>(side: &'a Side, s: &Series, others: usize) -> Option<Partner<'a>> {
    match side {
        Side::Scalar(x) => Some(Partner::Scalar(*x)),
        Side::Stream(y) if y.len() == 1 && others >= 1 => Some(Partner::Series(&y[0])),
        Side::Stream(y) => y
            .iter()
            .find(|t| t.meta.dims == s.meta.dims)
            .map(Partner::Series),
    }
}

/// Pairs the series of two sides and combines their values: a scalar or a single series
/// goes with every series of the other side; otherwise series pair when their dimensions are
/// the same, and a series without a partner gives nothing. The result keeps the metadata of
/// the side with more series (the left one on a tie).
fn combine(
    a: &Side,
    b: &Side,
    metric: &str,
    seq: usize,
    f: impl Fn(Option<f64>, Option<f64>) -> Option<f64>,
) -> Stream {
    let (lead, other, flipped) = match (a, b) {
        (Side::Scalar(_), Side::Scalar(_)) => return Vec::new(),
        (Side::Scalar(_), Side::Stream(y)) => (y, a, true),
        (Side::Stream(x), Side::Stream(y)) if x.len() == 1 && y.len() > 1 => (y, a, true),
        (Side::Stream(x), _) => (x, b, false),
    };
    let by_dims: HashMap<&BTreeMap<String, String>, &Series> = match other {
        Side::Stream(y) if y.len() > 1 => y.iter().map(|s| (&s.meta.dims, s)).collect(),
        _ => HashMap::new(),
    };
    lead.iter()
        .filter_map(|s| {
            let p = match other {
                Side::Scalar(x) => Partner::Scalar(*x),
                Side::Stream(y) if y.len() == 1 => Partner::Series(&y[0]),
                Side::Stream(_) => Partner::Series(by_dims.get(&s.meta.dims)?),
            };
            let values = s
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if flipped {
                        f(p.at(i), *v)
                    } else {
                        f(*v, p.at(i))
                    }
                })
                .collect();
            Some(Series {
                meta: computed(&s.meta, metric, seq),
                values,
            })
        })
        .collect()
}

/// The metadata of a series computed from `input`: same dimensions, properties and tags, a
/// generated metric name, an id of its own.
fn computed(input: &Arc<Meta>, metric: &str, seq: usize) -> Arc<Meta> {
    let mut meta = (**input).clone();
    if meta.originating_metric.is_none() && !input.computed {
        meta.originating_metric = Some(input.metric.clone());
    }
    meta.metric = metric.to_owned();
    meta.computed = true;
    meta.id = stable_id(&[&seq.to_string(), &super::series::ts_id_text(&input.id)]);
    Arc::new(meta)
}

/// The metadata of an aggregate of `members`: what they all have in common.
fn common_meta(members: &[&Series], metric: &str, seq: usize) -> Arc<Meta> {
    let first = &members[0].meta;
    let mut meta = Meta {
        metric: metric.to_owned(),
        computed: true,
        dims: first.dims.clone(),
        props: first.props.clone(),
        tags: first.tags.clone(),
        originating_metric: Some(
            first
                .originating_metric
                .clone()
                .unwrap_or_else(|| first.metric.clone()),
        ),
        ..Meta::default()
    };
    for s in &members[1..] {
        meta.dims.retain(|k, v| s.meta.dims.get(k) == Some(v));
        meta.props.retain(|k, v| s.meta.props.get(k) == Some(v));
        meta.tags.retain(|t| s.meta.tags.contains(t));
        let origin = s
            .meta
            .originating_metric
            .as_deref()
            .unwrap_or(&s.meta.metric);
        if meta.originating_metric.as_deref() != Some(origin) {
            meta.originating_metric = None;
        }
    }
    meta.id = stable_id(&["agg", &seq.to_string(), &meta.identity()]);
    Arc::new(meta)
}

/// Count, sum, sum of squares and extremes of values added one by one.
#[derive(Debug, Clone, Copy)]
struct Running {
    count: f64,
    sum: f64,
    squares: f64,
    min: f64,
    max: f64,
}

impl Default for Running {
    fn default() -> Self {
        Running {
            count: 0.0,
            sum: 0.0,
            squares: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Running {
    fn add(&mut self, v: f64) {
        self.count += 1.0;
        self.sum += v;
        self.squares += v * v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// A statistic other than the median and percentiles; `None` before any value.
    fn value(&self, stat: Stat) -> Option<f64> {
        if self.count == 0.0 {
            return None;
        }
        let mean = self.sum / self.count;
        let variance = (self.squares / self.count - mean * mean).max(0.0);
        Some(match stat {
            Stat::Count => self.count,
            Stat::Sum => self.sum,
            Stat::Mean => mean,
            Stat::Min => self.min,
            Stat::Max => self.max,
            Stat::Variance => variance,
            Stat::Stddev => variance.sqrt(),
            Stat::Median | Stat::Percentile(_) => return None,
        })
    }
}

/// One statistic of `values` (reordered in place), or `None` for no values.
pub(crate) fn compute_stat(stat: Stat, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    Some(match stat {
        Stat::Count => n,
        Stat::Sum => values.iter().sum(),
        Stat::Mean => values.iter().sum::<f64>() / n,
        Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Stat::Variance | Stat::Stddev => {
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            if stat == Stat::Stddev {
                var.sqrt()
            } else {
                var
            }
        }
        Stat::Median => percentile(values, 50.0),
        Stat::Percentile(p) => percentile(values, p),
    })
}

/// The `p`-th percentile, interpolated linearly between the closest ranks (rank
/// `p/100 × (n − 1)` counted from 0).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile_of_sorted(values, p)
}

/// The `p`-th percentile of `sorted` (sorted by `f64::total_cmp`, not empty), as
/// [`percentile`] takes it.
pub(crate) fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

fn map(op: MapOp, x: f64) -> Option<f64> {
    Some(match op {
        MapOp::Neg => -x,
        MapOp::Abs => x.abs(),
        MapOp::Scale(m) => x * m,
        MapOp::Sqrt => x.sqrt(),
        MapOp::Floor => x.floor(),
        MapOp::Ceil => x.ceil(),
        MapOp::Not => f64::from(u8::from(x == 0.0)),
    })
}

/// Two-value arithmetic; `None` where the result is undefined (division by zero).
pub(crate) fn arith(op: Arith, x: f64, y: f64) -> Option<f64> {
    Some(match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div if y == 0.0 => return None,
        Arith::Div => x / y,
        Arith::FloorDiv if y == 0.0 => return None,
        Arith::FloorDiv => (x / y).floor(),
        Arith::Mod if y == 0.0 => return None,
        Arith::Mod => x.rem_euclid(y),
        Arith::Pow => x.powf(y),
    })
}

/// A comparison of two values.
pub(crate) fn compare(op: Cmp, x: f64, y: f64) -> bool {
    match op {
        Cmp::Lt => x < y,
        Cmp::Le => x <= y,
        Cmp::Gt => x > y,
        Cmp::Ge => x >= y,
        Cmp::Eq => x == y,
        Cmp::Ne => x != y,
    }
}

/// Applies a one-parameter lambda to a value. Its body may use the parameter, numbers,
/// arithmetic, comparisons, `and`, `or`, `not` and `x if c else y`.
fn apply_lambda(lambda: &Lambda, x: f64) -> Result<Option<f64>, ExecError> {
    scalar(&lambda.body, &lambda.param, x)
}

fn scalar(e: &Expr, param: &str, x: f64) -> Result<Option<f64>, ExecError> {
    let b = |v: bool| Some(f64::from(u8::from(v)));
    Ok(match &e.kind {
        ExprKind::Int(i) => Some(*i as f64),
        ExprKind::Float(f) => Some(*f),
        ExprKind::Bool(v) => b(*v),
        ExprKind::None => None,
        ExprKind::Name(n) if n == param => Some(x),
        ExprKind::Unary { op, operand } => {
            let v = scalar(operand, param, x)?;
            match op {
                UnaryOp::Neg => v.map(|v| -v),
                UnaryOp::Pos => v,
                UnaryOp::Not => v.and_then(|v| b(v == 0.0)),
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let (l, r) = (scalar(lhs, param, x)?, scalar(rhs, param, x)?);
            let op = Arith::from(*op);
            match (l, r) {
                (Some(l), Some(r)) => arith(op, l, r),
                _ => None,
            }
        }
        ExprKind::Compare { op, lhs, rhs } => {
            let (l, r) = (scalar(lhs, param, x)?, scalar(rhs, param, x)?);
            let op = Cmp::from(*op);
            match (l, r) {
                (Some(l), Some(r)) => b(compare(op, l, r)),
                _ => None,
            }
        }
        ExprKind::Logical { op, lhs, rhs } => {
            let l = scalar(lhs, param, x)?.map(|v| v != 0.0);
            let r = scalar(rhs, param, x)?.map(|v| v != 0.0);
            match (op, l, r) {
                (LogicalOp::And, Some(l), Some(r)) => b(l && r),
                (LogicalOp::Or, Some(l), Some(r)) => b(l || r),
                _ => None,
            }
        }
        ExprKind::IfElse {
            then,
            test,
            otherwise,
        } => match scalar(test, param, x)? {
            Some(t) if t != 0.0 => scalar(then, param, x)?,
            Some(_) => scalar(otherwise, param, x)?,
            None => None,
        },
        _ => {
            return Err(ExecError::at(
                e.pos,
                format!(
                    "a lambda's body may use only `{param}`, numbers, arithmetic, comparisons and `if … else`"
                ),
            ));
        }
    })
}
