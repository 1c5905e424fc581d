//! The stream graph a program builds: what each published stream is computed from.
//!
//! Running a program first evaluates its statements over static values (numbers, strings,
//! lists, filters) and builds this graph of [`Node`]s; no data is read then. The job then finds
//! the inputs of every `data()` node, picks its resolution, and evaluates the graph over its
//! timeline ([`super::eval`]).

use std::rc::Rc;

use chrono::{Datelike, TimeZone, Timelike};
pub use chrono_tz::Tz;

use crate::lang::{BinaryOp, CompareOp, Expr, Pos};

use super::series::Filter;
use super::time::Timeline;

/// A node of the stream graph, shared where a stream is used twice.
pub type NodeRef = Rc<Node>;

/// The rollups of `data()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    /// The metric kind's default: average for gauges, sum for counters, delta for cumulative
    /// counters.
    Default,
    /// Mean of the interval's points.
    Average,
    /// Sum.
    Sum,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// How many points.
    Count,
    /// The last point.
    Latest,
    /// The increase since the previous interval's last point.
    Delta,
    /// Per second: sum for counters, delta otherwise, over the interval's seconds.
    Rate,
}

impl Rollup {
    /// The rollup named `name` in `data(rollup=…)`.
    pub fn from_name(name: &str) -> Option<Rollup> {
        Some(match name {
            "average" | "mean" => Rollup::Average,
            "sum" => Rollup::Sum,
            "min" => Rollup::Min,
            "max" => Rollup::Max,
            "count" => Rollup::Count,
            "latest" => Rollup::Latest,
            "delta" => Rollup::Delta,
            "rate" => Rollup::Rate,
            _ => return None,
        })
    }
}

/// What fills an interval without data in `data()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extrapolation {
    /// Nothing.
    Null,
    /// Zero.
    Zero,
    /// The last value seen.
    LastValue,
}

/// Statistics over several values: across series (aggregations) or over a window of one
/// series (transformations).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// Arithmetic mean.
    Mean,
    /// Sum.
    Sum,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// How many values.
    Count,
    /// Population standard deviation.
    Stddev,
    /// Population variance.
    Variance,
    /// The 50th percentile.
    Median,
    /// A percentile, 0 < p ≤ 100, interpolated between closest ranks.
    Percentile(f64),
}

/// The calendar periods of `cycle=` transformations, in UTC or the zone of `tz=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleUnit {
    /// From each whole hour.
    Hour,
    /// From each midnight.
    Day,
    /// From each Monday midnight.
    Week,
    /// From the first of each month.
    Month,
    /// From January, April, July and October the first.
    Quarter,
    /// From each January the first.
    Year,
}

impl CycleUnit {
    /// The unit named `name` in `cycle=…`.
    pub fn from_name(name: &str) -> Option<CycleUnit> {
        Some(match name {
            "hour" => CycleUnit::Hour,
            "day" => CycleUnit::Day,
            "week" => CycleUnit::Week,
            "month" => CycleUnit::Month,
            "quarter" => CycleUnit::Quarter,
            "year" => CycleUnit::Year,
            _ => return None,
        })
    }

    /// The longest period, milliseconds.
    pub fn longest(self) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            CycleUnit::Hour => 3_600_000,
            CycleUnit::Day => DAY,
            CycleUnit::Week => 7 * DAY,
            CycleUnit::Month => 31 * DAY,
            CycleUnit::Quarter => 92 * DAY,
            CycleUnit::Year => 366 * DAY,
        }
    }

    /// The start of the period holding `t` (milliseconds since the epoch) in `zone`: local
    /// midnights, Mondays and firsts of the month. A local start that does not exist (a
    /// daylight-saving gap at midnight) is the first instant after it.
    pub fn start(self, t: i64, zone: Tz) -> i64 {
        const DAY: i64 = 86_400_000;
        if zone == Tz::UTC {
            match self {
                CycleUnit::Hour => return t.div_euclid(3_600_000) * 3_600_000,
                CycleUnit::Day => return t.div_euclid(DAY) * DAY,
                CycleUnit::Week => {
                    // 1970-01-01 was a Thursday: Monday is 3 days before a multiple of 7 days.
                    let days = t.div_euclid(DAY);
                    return (days - (days + 3).rem_euclid(7)) * DAY;
                }
                _ => {}
            }
        }
        let Some(at) = zone.timestamp_millis_opt(t).single() else {
            return t.div_euclid(DAY) * DAY;
        };
        let local = at.naive_local();
        let date = local.date();
        let first = match self {
            CycleUnit::Hour => date.and_hms_opt(local.hour(), 0, 0),
            CycleUnit::Day => date.and_hms_opt(0, 0, 0),
            CycleUnit::Week => (date
                - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())))
            .and_hms_opt(0, 0, 0),
            CycleUnit::Month | CycleUnit::Quarter | CycleUnit::Year => {
                let month = match self {
                    CycleUnit::Month => date.month(),
                    CycleUnit::Quarter => (date.month() - 1) / 3 * 3 + 1,
                    _ => 1,
                };
                chrono::NaiveDate::from_ymd_opt(date.year(), month, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            }
        };
        let Some(first) = first else {
            return t.div_euclid(DAY) * DAY;
        };
        zone.from_local_datetime(&first)
            .earliest()
            .or_else(|| {
                // In a gap: the hour after the missing local time exists.
                zone.from_local_datetime(&(first + chrono::TimeDelta::hours(1)))
                    .earliest()
            })
            .map_or(t.div_euclid(DAY) * DAY, |d| d.timestamp_millis())
    }

    /// For each logical timestamp of `timeline`, the start of its period (periods begin
    /// `offset` after the unit's, in `zone`) and whether it is the period's last timestamp:
    /// [`CycleUnit::start`] and [`CycleUnit::next`] asked once per period met rather than at
    /// every timestamp. A live job evaluates its look-back again at every step, and a day of
    /// one-second timestamps took six conversions in the zone each.
    pub fn periods(self, timeline: &Timeline, offset: i64, zone: Tz) -> Vec<(i64, bool)> {
        let mut out = Vec::with_capacity(timeline.len);
        // The period of the timestamp before: its start and the next one's, offset removed.
        let mut current: Option<(i64, i64)> = None;
        for i in 0..timeline.len {
            let t = timeline.at(i) - offset;
            let (start, next) = match current {
                Some((start, next)) if start <= t && t < next => (start, next),
                _ => {
                    let period = (self.start(t, zone), self.next(t, zone));
                    current = Some(period);
                    period
                }
            };
            out.push((start + offset, timeline.at(i + 1) - offset >= next));
        }
        out
    }

    /// The start of the period after the one holding `t` in `zone`.
    pub fn next(self, t: i64, zone: Tz) -> i64 {
        const HOUR: i64 = 3_600_000;
        let start = self.start(t, zone);
        match self {
            CycleUnit::Hour => start + HOUR,
            // The longest period and an hour (a day with a daylight-saving hour more) always
            // reach into the next period, never past it; its start is that one's.
            _ => self.start(start + self.longest() + HOUR, zone),
        }
    }
}

/// One-input arithmetic on values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapOp {
    /// `-x`
    Neg,
    /// `abs(x)`
    Abs,
    /// `x × m`
    Scale(f64),
    /// `sqrt(x)`
    Sqrt,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`
    Ceil,
    /// `not x` on a boolean stream.
    Not,
}

/// Two-input arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`; dividing by zero gives no value.
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
}

/// Comparisons, giving boolean streams (1 or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
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

impl From<BinaryOp> for Arith {
    fn from(op: BinaryOp) -> Arith {
        match op {
            BinaryOp::Add => Arith::Add,
            BinaryOp::Sub => Arith::Sub,
            BinaryOp::Mul => Arith::Mul,
            BinaryOp::Div => Arith::Div,
            BinaryOp::FloorDiv => Arith::FloorDiv,
            BinaryOp::Mod => Arith::Mod,
            BinaryOp::Pow => Arith::Pow,
        }
    }
}

impl From<CompareOp> for Cmp {
    fn from(op: CompareOp) -> Cmp {
        match op {
            CompareOp::Lt => Cmp::Lt,
            CompareOp::Le => Cmp::Le,
            CompareOp::Gt => Cmp::Gt,
            CompareOp::Ge => Cmp::Ge,
            CompareOp::Eq => Cmp::Eq,
            CompareOp::Ne => Cmp::Ne,
        }
    }
}

/// A stream or a constant on one side of an operator.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A stream.
    Stream(NodeRef),
    /// The same number at every logical timestamp.
    Scalar(f64),
}

/// A scalar function written as a lambda: `lambda x: x * 2`.
#[derive(Debug, Clone)]
pub struct Lambda {
    /// Its one parameter.
    pub param: String,
    /// Its body.
    pub body: Expr,
}

/// A node of the graph.
#[derive(Debug)]
pub enum Node {
    /// `data(metric, filter, rollup, extrapolation, maxExtrapolations)`.
    Data {
        /// The metric name or pattern.
        metric: String,
        /// The filter, if any.
        filter: Option<Filter>,
        /// The rollup.
        rollup: Rollup,
        /// The extrapolation policy.
        extrapolation: Extrapolation,
        /// At most this many intervals extrapolated in a row; negative: no limit.
        max_extrapolations: i64,
        /// A minimum resolution for the job, in milliseconds.
        resolution: Option<i64>,
        /// Where `data` is called.
        pos: Pos,
    },
    /// `const(value, dimensions)`.
    Const {
        /// The value.
        value: f64,
        /// Its dimensions.
        dims: Vec<(String, String)>,
    },
    /// An aggregation across series, per group of `by` keys.
    Aggregate {
        /// The input.
        input: NodeRef,
        /// The statistic.
        stat: Stat,
        /// Group keys; `None` makes one group of everything.
        by: Option<Vec<String>>,
    },
    /// A transformation over a trailing window of each series.
    Window {
        /// The input.
        input: NodeRef,
        /// The statistic.
        stat: Stat,
        /// The window, milliseconds.
        over: i64,
    },
    /// A transformation over the calendar period holding each logical timestamp: from the
    /// period's start up to it.
    Cycle {
        /// The input.
        input: NodeRef,
        /// The statistic.
        stat: Stat,
        /// The period.
        unit: CycleUnit,
        /// Periods start this many milliseconds after the calendar's (`cycle_start=`).
        offset: i64,
        /// The time zone of the calendar (`tz=`, UTC by default).
        zone: Tz,
        /// Whether every logical timestamp gets the value so far (`partial_values=True`), or
        /// only the last one of each period the whole period's.
        partial: bool,
    },
    /// Value-by-value arithmetic.
    Map {
        /// The input.
        input: NodeRef,
        /// The operation.
        op: MapOp,
    },
    /// `map(lambda x: …)`.
    MapLambda {
        /// The input.
        input: NodeRef,
        /// The function.
        lambda: Rc<Lambda>,
    },
    /// `timeshift(offset)`: the value `offset` milliseconds earlier.
    Timeshift {
        /// The input.
        input: NodeRef,
        /// Milliseconds; positive looks back.
        offset: i64,
    },
    /// `delta()`: the change from the previous logical timestamp.
    Delta(NodeRef),
    /// `rateofchange()`: the change per second.
    RateOfChange(NodeRef),
    /// `ewma(alpha)` or `ewma(over=duration)`.
    Ewma {
        /// The input.
        input: NodeRef,
        /// The smoothing factor, or the window it is worked out from.
        smoothing: Smoothing,
    },
    /// `fill(value, duration, max_count)`.
    Fill {
        /// The input.
        input: NodeRef,
        /// The value to fill with; `None` repeats the last value.
        value: Option<f64>,
        /// At most this many logical timestamps filled in a row, or this many milliseconds.
        limit: FillLimit,
    },
    /// `top()` or `bottom()`: at each logical timestamp only the largest (smallest) values
    /// keep their value, among all series or within each group of `by=`.
    Rank {
        /// The input.
        input: NodeRef,
        /// How many values of a group keep theirs.
        keep: Keep,
        /// Group keys; `None` ranks all series together.
        by: Option<Vec<String>>,
        /// Smallest instead of largest.
        bottom: bool,
    },
    /// `union(a, b, …)`.
    Union(Vec<NodeRef>),
    /// `a + b` and the other arithmetic on streams.
    Binary {
        /// The operator.
        op: Arith,
        /// Left.
        lhs: Operand,
        /// Right.
        rhs: Operand,
    },
    /// `a > b` and the other comparisons.
    Compare {
        /// The operator.
        op: Cmp,
        /// Left.
        lhs: Operand,
        /// Right.
        rhs: Operand,
    },
    /// `a and b`, `a or b` on boolean streams.
    Logic {
        /// `and` rather than `or`.
        and: bool,
        /// Left.
        lhs: NodeRef,
        /// Right.
        rhs: NodeRef,
    },
    /// `a if b else c`.
    IfElse {
        /// The value where the test holds.
        then: Operand,
        /// The test.
        test: NodeRef,
        /// The value elsewhere.
        otherwise: Operand,
    },
    /// `when(predicate, lasting, at_least)`.
    When {
        /// The boolean input.
        predicate: NodeRef,
        /// How long it must hold, milliseconds; `None`: one logical timestamp.
        lasting: Option<i64>,
        /// The share of the window it must hold, 0 < at_least ≤ 1.
        at_least: f64,
    },
}

/// How far `fill()` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillLimit {
    /// Without limit.
    None,
    /// At most this many logical timestamps in a row.
    Count(usize),
    /// At most this many milliseconds after the last value.
    Duration(i64),
}

/// `detect(on, off, mode)`.
#[derive(Debug, Clone)]
pub struct Detect {
    /// Fires when this boolean stream holds.
    pub on: NodeRef,
    /// Clears when this holds; `None`: when `on` stops holding.
    pub off: Option<NodeRef>,
    /// `split` mode: a clear needs `off` and a new trigger needs `on` again.
    pub split: bool,
    /// Where `detect` is called.
    pub pos: Pos,
}

/// `events(eventType, filter)`.
#[derive(Debug, Clone)]
pub struct Events {
    /// The event type, or a pattern of them.
    pub event_type: String,
    /// The filter on the events' dimensions.
    pub filter: Option<Filter>,
}

/// What a program publishes.
#[derive(Debug, Clone)]
pub enum Publication {
    /// A stream's series, with the label given to `publish`.
    Stream {
        /// The label, `sf_streamLabel`.
        label: String,
        /// The stream.
        node: NodeRef,
    },
    /// A detector's trigger and clear events.
    Detect {
        /// The label.
        label: String,
        /// The detector.
        detect: Rc<Detect>,
    },
    /// Stored custom events.
    Events {
        /// The label.
        label: String,
        /// Which events.
        events: Rc<Events>,
    },
}

impl Node {
    /// The nodes this one reads.
    pub fn inputs(&self) -> Vec<&NodeRef> {
        fn operand(o: &Operand) -> Option<&NodeRef> {
            match o {
                Operand::Stream(n) => Some(n),
                Operand::Scalar(_) => None,
            }
        }
        match self {
            Node::Data { .. } | Node::Const { .. } => vec![],
            Node::Aggregate { input, .. }
            | Node::Window { input, .. }
            | Node::Cycle { input, .. }
            | Node::Map { input, .. }
            | Node::MapLambda { input, .. }
            | Node::Timeshift { input, .. }
            | Node::Delta(input)
            | Node::RateOfChange(input)
            | Node::Ewma { input, .. }
            | Node::Fill { input, .. }
            | Node::Rank { input, .. } => vec![input],
            Node::When { predicate, .. } => vec![predicate],
            Node::Union(all) => all.iter().collect(),
            Node::Binary { lhs, rhs, .. } | Node::Compare { lhs, rhs, .. } => {
                operand(lhs).into_iter().chain(operand(rhs)).collect()
            }
            Node::Logic { lhs, rhs, .. } => vec![lhs, rhs],
            Node::IfElse {
                then,
                test,
                otherwise,
            } => operand(then)
                .into_iter()
                .chain([test])
                .chain(operand(otherwise))
                .collect(),
        }
    }

    /// Milliseconds of data before a logical timestamp this node needs, besides its inputs'
    /// own needs, at resolution `resolution`.
    pub fn reach(&self, resolution: i64) -> i64 {
        match self {
            Node::Window { over, .. } => *over,
            Node::Cycle { unit, offset, .. } => unit.longest() + offset.rem_euclid(unit.longest()),
            Node::Timeshift { offset, .. } => (*offset).max(0),
            Node::Delta(_) | Node::RateOfChange(_) => resolution,
            Node::When {
                lasting: Some(l), ..
            } => *l,
            // An average of this many steps weighs the rest below 1e-4 for alpha ≥ 0.1.
            Node::Ewma { smoothing, .. } => {
                ((9.3 / smoothing.alpha(resolution).max(0.01)).ceil() as i64) * resolution
            }
            Node::Fill {
                limit: FillLimit::Duration(d),
                ..
            } => *d,
            Node::Fill {
                limit: FillLimit::Count(n),
                ..
            } => *n as i64 * resolution,
            _ => 0,
        }
    }
}

/// How many values of a group `top()` and `bottom()` keep at a logical timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keep {
    /// `count=`: at most this many.
    Count(usize),
    /// `percentage=`: this share of the group's values (those with a value at the logical
    /// timestamp), rounded up, so a group with any value keeps at least one.
    Percentage(f64),
}

impl Keep {
    /// How many of `values` values to keep.
    pub fn of(self, values: usize) -> usize {
        match self {
            Keep::Count(n) => n.min(values),
            Keep::Percentage(p) => ((values as f64 * p / 100.0).ceil() as usize).min(values),
        }
    }
}

/// The smoothing of `ewma()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// `alpha`: the weight of each new value, 0 < alpha ≤ 1.
    Alpha(f64),
    /// `over=`: a window in milliseconds; with `n` logical timestamps in it (at least 1),
    /// alpha is `2 / (n + 1)`, the weight whose average age matches a window of `n` values.
    Over(i64),
}

impl Smoothing {
    /// The weight of each new value at `resolution` milliseconds.
    pub fn alpha(self, resolution: i64) -> f64 {
        match self {
            Smoothing::Alpha(a) => a,
            Smoothing::Over(over) => {
                let n = (over / resolution.max(1)).max(1);
                2.0 / (n as f64 + 1.0)
            }
        }
    }
}
