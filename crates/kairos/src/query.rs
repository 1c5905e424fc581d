//! KairosDB query bodies (`POST /api/v1/datapoints/query`, `…/query/tags`, `…/delete`),
//! parsed into typed requests with KairosDB 1.3.0's defaults and error messages.
//!
//! Parsing follows KairosDB's `QueryParser`: an aggregator starts with the query's start,
//! end and time zone, then its own JSON properties override them. Unknown keys at the query
//! and metric level are ignored; unknown aggregator properties are refused.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::time::{self, Sampling, TimeUnit, UNIT_NAMES};
use crate::{Error, Result};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The first millisecond asked for, inclusive.
    pub start: i64,
    /// The last millisecond asked for, inclusive (`i64::MAX` when no end is given).
    pub end: i64,
    /// The query's time zone (UTC when not given).
    pub time_zone: Tz,
    /// One entry per `metrics[]` entry, in request order.
    pub metrics: Vec<MetricQuery>,
}

/// One entry of `metrics[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    /// The metric (series) name.
    pub name: String,
    /// Tag filters: a series matches when it has every tag and one of each tag's values.
    pub tags: Vec<TagFilter>,
    /// Group-bys in request order.
    pub group_by: Vec<GroupBy>,
    /// Aggregators in request order.
    pub aggregators: Vec<Aggregator>,
    /// At most this many points per group before aggregation.
    pub limit: Option<usize>,
    /// Newest first when true.
    pub descending: bool,
    /// Leave `tags` out of the results.
    pub exclude_tags: bool,
}

/// A filter on one tag.
#[derive(Debug, Clone, PartialEq)]
pub struct TagFilter {
    /// The tag name.
    pub name: String,
    /// The accepted values (any of them).
    pub values: Vec<TagValue>,
}

/// One accepted value of a tag filter.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    /// The value itself.
    Exact(String),
    /// `regex:<expression>`: a regular expression that must match the whole value.
    Regex(String),
}

/// A group-by.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// By the values of these tags.
    Tag(Vec<String>),
    /// By time range: id = ((t − query start) / range) mod count.
    Time {
        /// The range size.
        range: Sampling,
        /// How many groups.
        count: i64,
    },
    /// By value: id = trunc(v) / range.
    Value(i64),
    /// By bins: ascending bounds.
    Bin(Vec<f64>),
}

/// An aggregator of a metric's chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregator {
    /// What it does.
    pub kind: AggregatorKind,
}

/// The aggregators KairosDB 1.3.0 registers by default.
#[derive(Debug, Clone, PartialEq)]
pub enum AggregatorKind {
    /// A per-bucket function with KairosDB's range (sampling) logic.
    Range {
        /// The function.
        func: RangeFn,
        /// The buckets.
        spec: RangeSpec,
    },
    /// (v1 − v0) / (t1 − t0) × the length of `sampling`.
    Rate {
        /// The unit of the rate.
        sampling: Sampling,
        /// Its zone.
        zone: Tz,
    },
    /// v1 / (t1 − t0) × the length of one `unit`.
    Sampler {
        /// The unit.
        unit: TimeUnit,
        /// Its zone.
        zone: Tz,
    },
    /// v1 − v0.
    Diff,
    /// v / divisor.
    Div(f64),
    /// v × factor.
    Scale(f64),
    /// Drops the first and/or last point.
    Trim {
        /// Drop the first point.
        first: bool,
        /// Drop the last point.
        last: bool,
    },
    /// Removes the points for which `v op threshold` holds.
    Filter {
        /// The comparison.
        op: FilterOp,
        /// The threshold.
        threshold: Threshold,
    },
    /// A simple moving average over `size` points.
    Sma(i64),
    /// How many thresholds each value passes.
    Score {
        /// (value, inferior boundary) of each threshold.
        thresholds: Vec<(f64, bool)>,
        /// Count from the top.
        descending: bool,
    },
    /// Passes points through and saves them as another metric.
    SaveAs {
        /// The metric written.
        metric_name: String,
        /// Tags added.
        tags: BTreeMap<String, String>,
        /// Add `saved_from=<source metric>`.
        add_saved_from: bool,
    },
}

/// The per-bucket functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeFn {
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Number of points.
    Count,
    /// Sample standard deviation; `Some(k)` positive or negative for mean ± k·sd.
    Dev(DevReturn, f64),
    /// The first point.
    First,
    /// The last point.
    Last,
    /// A least-squares line through the bucket.
    LeastSquares,
    /// A percentile (0 < p ≤ 1).
    Percentile(f64),
    /// Marks empty buckets with null points.
    Gaps,
}

/// What `dev` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevReturn {
    /// The deviation.
    Value,
    /// Mean plus k deviations.
    PosSd,
    /// Mean minus k deviations.
    NegSd,
}

/// A comparison of `filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// <
    Lt,
    /// <=
    Lte,
    /// >
    Gt,
    /// >=
    Gte,
    /// ==
    Equal,
    /// !=
    Ne,
}

/// The threshold of `filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    /// Compares numeric points.
    Number(f64),
    /// Compares string points.
    Text(String),
}

/// The bucket settings of a range aggregator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeSpec {
    /// The bucket size.
    pub sampling: Sampling,
    /// Round the origin down to the sampling unit.
    pub align_sampling: bool,
    /// Stamp buckets with their start.
    pub align_start_time: bool,
    /// Stamp buckets with their end.
    pub align_end_time: bool,
    /// The origin before alignment (the query start unless `start_time` is given).
    pub start_time: i64,
    /// The query end (or `end_time`).
    pub end_time: i64,
    /// The zone of calendar arithmetic.
    pub zone: Tz,
    /// `gaps` only: start at the first point and stop after the last.
    pub trim: bool,
}

impl RangeSpec {
    /// The origin O of the buckets.
    pub fn origin(&self) -> i64 {
        if self.align_sampling {
            time::align(self.start_time, self.sampling.unit, self.zone)
        } else {
            self.start_time
        }
    }
}

/// Parses a query body; `now` (epoch ms) resolves relative times.
pub fn parse(body: &[u8], now: i64) -> Result<Query> {
    let value = parse_json(body)?;
    parse_value(&value, now)
}

/// Parses JSON as KairosDB reports JSON errors.
pub fn parse_json(body: &[u8]) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid(
            "Invalid json. No content due to end of input.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| Error::invalid(format!("Invalid json. {e}")))
}

/// Parses a query from its JSON.
pub fn parse_value(root: &Value, now: i64) -> Result<Query> {
    let Some(root) = root.as_object() else {
        return Err(Error::invalid("query must be a JSON object"));
    };
    let time_zone = match root.get("time_zone") {
        None | Some(Value::Null) => Tz::UTC,
        Some(v) => zone(v, "query")?,
    };
    let start = match (root.get("start_absolute"), root.get("start_relative")) {
        (Some(v), _) if !v.is_null() => instant(v, "query.start_absolute")?,
        (_, Some(v)) if !v.is_null() => relative(v, "query.start_relative", now)?,
        _ => {
            return Err(Error::invalid(
                "query.metric[0].start_time relative or absolute time must be set",
            ));
        }
    };
    let end = match (root.get("end_absolute"), root.get("end_relative")) {
        (Some(v), _) if !v.is_null() => instant(v, "query.end_absolute")?,
        (_, Some(v)) if !v.is_null() => relative(v, "query.end_relative", now)?,
        _ => i64::MAX,
    };
    if let Some(cache) = root.get("cache_time")
        && !cache.is_null()
        && integer(cache, "query.cache_time")? < 0
    {
        return Err(Error::invalid(
            "query.cache_time must be greater than or equal to 0",
        ));
    }
    let metrics = match root.get("metrics") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(v) if !v.is_null() && !v.is_array() => {
            return Err(Error::invalid("query.metrics must be an array"));
        }
        _ => {
            return Err(Error::invalid(
                "query.metric[] must have a size of at least 1",
            ));
        }
    };
    if end < start {
        return Err(Error::invalid(
            "query.metric[0].end_time must be greater than the start time",
        ));
    }
    let context = Context {
        start,
        end,
        zone: time_zone,
    };
    let metrics = metrics
        .iter()
        .enumerate()
        .map(|(i, m)| metric(m, &format!("query.metric[{i}]"), &context))
        .collect::<Result<Vec<_>>>()?;
    Ok(Query {
        start,
        end,
        time_zone,
        metrics,
    })
}

struct Context {
    start: i64,
    end: i64,
    zone: Tz,
}

fn metric(value: &Value, path: &str, context: &Context) -> Result<MetricQuery> {
    let Some(m) = value.as_object() else {
        return Err(Error::invalid(format!("{path} must be a JSON object")));
    };
    let name = match m.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(v) if !v.is_null() && !v.is_string() => {
            return Err(Error::invalid(format!("{path}.name must be a string")));
        }
        _ => return Err(Error::invalid(format!("{path}.name may not be empty"))),
    };
    let mut tags = Vec::new();
    match m.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(object)) => {
            for (j, (tag, values)) in object.iter().enumerate() {
                if tag.is_empty() {
                    return Err(Error::invalid(format!(
                        "{path}.tags[{j}] name must not be null or empty"
                    )));
                }
                let empty = || {
                    Error::invalid(format!(
                        "{path}.tags[{j}].{tag} value must not be null or empty"
                    ))
                };
                let list: Vec<&Value> = match values {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                let mut parsed = Vec::new();
                for v in list {
                    match v {
                        Value::String(s) if s.is_empty() => return Err(empty()),
                        Value::String(s) => parsed.push(match s.strip_prefix("regex:") {
                            Some(regex) => TagValue::Regex(regex.to_owned()),
                            None => TagValue::Exact(s.clone()),
                        }),
                        Value::Number(n) => parsed.push(TagValue::Exact(n.to_string())),
                        _ => return Err(empty()),
                    }
                }
                if parsed.is_empty() {
                    return Err(empty());
                }
                tags.push(TagFilter {
                    name: tag.clone(),
                    values: parsed,
                });
            }
        }
        Some(_) => {
            return Err(Error::invalid(format!(
                "{path}.tags must be an object of tag names to values"
            )));
        }
    }
    let group_by = list(m, "group_by", path)?
        .iter()
        .enumerate()
        .map(|(j, g)| group_by(g, &format!("{path}.group_by[{j}]")))
        .collect::<Result<Vec<_>>>()?;
    let aggregators = list(m, "aggregators", path)?
        .iter()
        .enumerate()
        .map(|(j, a)| aggregator(a, &format!("{path}.aggregators[{j}]"), context))
        .collect::<Result<Vec<_>>>()?;
    let limit = match m.get("limit") {
        None | Some(Value::Null) => None,
        Some(v) => match integer(v, &format!("{path}.limit"))? {
            0 => None,
            n if n < 0 => {
                return Err(Error::invalid(format!(
                    "{path}.limit must be greater than or equal to 0"
                )));
            }
            n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        },
    };
    let descending = match m.get("order") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("asc") => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("desc") => true,
        Some(_) => {
            return Err(Error::invalid(format!(
                "{path}.order must be either 'asc' or 'desc'"
            )));
        }
    };
    let exclude_tags =
        flag(m.get("exclude_tags"), &format!("{path}.exclude_tags"))?.unwrap_or(false);
    Ok(MetricQuery {
        name,
        tags,
        group_by,
        aggregators,
        limit,
        descending,
        exclude_tags,
    })
}

fn list<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a [Value]> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(Error::invalid(format!("{path}.{key} must be an array"))),
    }
}

fn group_by(value: &Value, path: &str) -> Result<GroupBy> {
    let Some(g) = value.as_object() else {
        return Err(Error::invalid(format!("{path} must be a JSON object")));
    };
    let name = match g.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err(Error::invalid(format!("{path} must have a name"))),
    };
    match name.to_ascii_lowercase().as_str() {
        "tag" => {
            let tags: Vec<String> = match g.get("tags") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            if tags.is_empty() {
                return Err(Error::invalid(format!(
                    "{path}.tags may not be null or empty"
                )));
            }
            Ok(GroupBy::Tag(tags))
        }
        "time" => {
            let range = match g.get("range_size") {
                Some(v) if !v.is_null() => sampling(v, &format!("{path}.range_size"))?,
                _ => {
                    return Err(Error::invalid(format!("{path}.range_size may not be null")));
                }
            };
            let count = match g.get("group_count") {
                Some(v) if !v.is_null() => integer(v, &format!("{path}.group_count"))?,
                _ => 0,
            };
            if count < 1 {
                return Err(Error::invalid(format!(
                    "{path}.groupCount must be greater than or equal to 1"
                )));
            }
            Ok(GroupBy::Time { range, count })
        }
        "value" => {
            let range = match g.get("range_size") {
                Some(v) if !v.is_null() => integer(v, &format!("{path}.range_size"))?,
                _ => 0,
            };
            if range < 1 {
                return Err(Error::invalid(format!(
                    "{path}.range_size must be greater than or equal to 1"
                )));
            }
            Ok(GroupBy::Value(range))
        }
        "bin" => {
            let bins: Vec<f64> = match g.get("bins") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|b| number(b, &format!("{path}.bins")))
                    .collect::<Result<_>>()?,
                _ => Vec::new(),
            };
            if bins.is_empty() {
                return Err(Error::invalid(format!(
                    "{path}.bins may not be null or empty"
                )));
            }
            Ok(GroupBy::Bin(bins))
        }
        other => Err(Error::invalid(format!(
            "{path}.{other} invalid group_by name"
        ))),
    }
}

const RANGE_PROPERTIES: &[&str] = &[
    "sampling",
    "align_sampling",
    "align_start_time",
    "align_end_time",
    "start_time",
    "end_time",
    "time_zone",
    "trim",
];

fn aggregator(value: &Value, path: &str, context: &Context) -> Result<Aggregator> {
    let Some(a) = value.as_object() else {
        return Err(Error::invalid(format!("{path} must be a JSON object")));
    };
    let name = match a.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(Error::invalid(format!("{path} must have a name"))),
    };
    let func = match name.as_str() {
        "avg" => Some(RangeFn::Avg),
        "sum" => Some(RangeFn::Sum),
        "min" => Some(RangeFn::Min),
        "max" => Some(RangeFn::Max),
        "count" => Some(RangeFn::Count),
        "first" => Some(RangeFn::First),
        "last" => Some(RangeFn::Last),
        "least_squares" => Some(RangeFn::LeastSquares),
        "gaps" => Some(RangeFn::Gaps),
        "dev" => Some(RangeFn::Dev(DevReturn::Value, 1.0)),
        "percentile" => Some(RangeFn::Percentile(0.0)),
        _ => None,
    };
    let extra: &[&str] = match name.as_str() {
        "dev" => &["return_type", "dev_count"],
        "percentile" => &["percentile"],
        _ => &[],
    };
    let allowed: Vec<&str> = match name.as_str() {
        _ if func.is_some() => RANGE_PROPERTIES.iter().chain(extra).copied().collect(),
        "rate" => vec!["sampling", "unit", "time_zone"],
        "sampler" => vec!["unit", "time_zone"],
        "diff" => vec![],
        "div" => vec!["divisor"],
        "scale" => vec!["factor"],
        "trim" => vec!["trim"],
        "filter" => vec!["filter_op", "threshold"],
        "sma" => vec!["size"],
        "score" => vec!["thresholds", "order"],
        "save_as" => vec!["metric_name", "tags", "ttl", "add_saved_from"],
        other => {
            return Err(Error::invalid(format!(
                "{path}.{other} invalid aggregators name"
            )));
        }
    };
    for key in a.keys() {
        if key != "name" && !allowed.contains(&key.as_str()) {
            return Err(Error::invalid(format!(
                "{path}: Property '{key}' was specified for object '{name}' but no matching setter was found"
            )));
        }
    }
    let get = |key: &str| a.get(key).filter(|v| !v.is_null());
    let zone_of = || match get("time_zone") {
        Some(v) => zone(v, path),
        None => Ok(context.zone),
    };
    if let Some(mut func) = func {
        let spec = RangeSpec {
            sampling: match get("sampling") {
                Some(v) => sampling(v, &format!("{path}.sampling"))?,
                None => Sampling::MILLISECOND,
            },
            align_sampling: flag(get("align_sampling"), &format!("{path}.align_sampling"))?
                .unwrap_or(true),
            align_start_time: flag(get("align_start_time"), &format!("{path}.align_start_time"))?
                .unwrap_or(false),
            align_end_time: flag(get("align_end_time"), &format!("{path}.align_end_time"))?
                .unwrap_or(false),
            start_time: match get("start_time") {
                Some(v) => instant(v, &format!("{path}.start_time"))?,
                None => context.start,
            },
            end_time: match get("end_time") {
                Some(v) => instant(v, &format!("{path}.end_time"))?,
                None => context.end,
            },
            zone: zone_of()?,
            trim: flag(get("trim"), &format!("{path}.trim"))?.unwrap_or(false),
        };
        match &mut func {
            RangeFn::Dev(kind, count) => {
                if let Some(v) = get("return_type") {
                    *kind = match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                        Some("value") => DevReturn::Value,
                        Some("pos_sd") => DevReturn::PosSd,
                        Some("neg_sd") => DevReturn::NegSd,
                        _ => {
                            return Err(Error::invalid(format!(
                                "{path}.return_type must be one of value, pos_sd or neg_sd"
                            )));
                        }
                    };
                }
                if let Some(v) = get("dev_count") {
                    *count = number(v, &format!("{path}.dev_count"))?;
                }
            }
            RangeFn::Percentile(p) => {
                *p = match get("percentile") {
                    Some(v) => number(v, &format!("{path}.percentile"))?,
                    None => 0.0,
                };
                if *p <= 0.0 {
                    return Err(Error::invalid(format!("{path}.percentile may not be zero")));
                }
            }
            _ => {}
        }
        return Ok(Aggregator {
            kind: AggregatorKind::Range { func, spec },
        });
    }
    let kind = match name.as_str() {
        "rate" => AggregatorKind::Rate {
            sampling: match (get("sampling"), get("unit")) {
                (Some(v), _) => sampling(v, &format!("{path}.sampling"))?,
                (None, Some(u)) => Sampling {
                    value: 1,
                    unit: unit(u, &format!("{path}.unit"))?,
                },
                (None, None) => Sampling::MILLISECOND,
            },
            zone: zone_of()?,
        },
        "sampler" => AggregatorKind::Sampler {
            unit: match get("unit") {
                Some(u) => unit(u, &format!("{path}.unit"))?,
                None => TimeUnit::Milliseconds,
            },
            zone: zone_of()?,
        },
        "diff" => AggregatorKind::Diff,
        "div" => {
            let divisor = match get("divisor") {
                Some(v) => number(v, &format!("{path}.divisor"))?,
                None => 0.0,
            };
            if divisor == 0.0 {
                return Err(Error::invalid(format!("{path}.m_divisor may not be zero")));
            }
            AggregatorKind::Div(divisor)
        }
        "scale" => AggregatorKind::Scale(match get("factor") {
            Some(v) => number(v, &format!("{path}.factor"))?,
            None => 0.0,
        }),
        "trim" => {
            let which = get("trim")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            match which.as_deref() {
                None => AggregatorKind::Trim {
                    first: false,
                    last: false,
                },
                Some("first") => AggregatorKind::Trim {
                    first: true,
                    last: false,
                },
                Some("last") => AggregatorKind::Trim {
                    first: false,
                    last: true,
                },
                Some("both") => AggregatorKind::Trim {
                    first: true,
                    last: true,
                },
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "{path}.trim {other:?} is not one of first, last or both"
                    )));
                }
            }
        }
        "filter" => {
            let op = match get("filter_op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("lt") => FilterOp::Lt,
                Some("lte") => FilterOp::Lte,
                Some("gt") => FilterOp::Gt,
                Some("gte") => FilterOp::Gte,
                Some("equal") => FilterOp::Equal,
                Some("ne") => FilterOp::Ne,
                _ => {
                    return Err(Error::invalid(format!(
                        "{path}.filter_op must be one of lt, lte, gt, gte, equal or ne"
                    )));
                }
            };
            let threshold = match get("threshold") {
                Some(Value::Number(n)) => Threshold::Number(n.as_f64().unwrap_or(0.0)),
                Some(Value::String(s)) => match s.trim().parse::<f64>() {
                    Ok(n) => Threshold::Number(n),
                    Err(_) => Threshold::Text(s.clone()),
                },
                _ => {
                    return Err(Error::invalid(format!(
                        "{path}.threshold must be a number or a string"
                    )));
                }
            };
            AggregatorKind::Filter { op, threshold }
        }
        "sma" => AggregatorKind::Sma(match get("size") {
            Some(v) => integer(v, &format!("{path}.size"))?,
            None => return Err(Error::invalid(format!("{path}.size may not be null"))),
        }),
        "score" => {
            let mut thresholds = Vec::new();
            if let Some(list) = get("thresholds") {
                let Some(list) = list.as_array() else {
                    return Err(Error::invalid(format!(
                        "{path}.thresholds must be an array"
                    )));
                };
                for (k, t) in list.iter().enumerate() {
                    let tpath = format!("{path}.thresholds[{k}]");
                    let value = match t.get("value") {
                        Some(v) => number(v, &format!("{tpath}.value"))?,
                        None => {
                            return Err(Error::invalid(format!("{tpath}.value may not be null")));
                        }
                    };
                    let inferior = match t.get("boundary").and_then(Value::as_str) {
                        None => false,
                        Some(b) if b.eq_ignore_ascii_case("superior") => false,
                        Some(b) if b.eq_ignore_ascii_case("inferior") => true,
                        Some(_) => {
                            return Err(Error::invalid(format!(
                                "{tpath}.boundary must be superior or inferior"
                            )));
                        }
                    };
                    thresholds.push((value, inferior));
                }
            }
            let descending = match get("order").and_then(Value::as_str) {
                None => false,
                Some(o) if o.eq_ignore_ascii_case("ascending") => false,
                Some(o) if o.eq_ignore_ascii_case("descending") => true,
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "{path}.order must be ascending or descending"
                    )));
                }
            };
            AggregatorKind::Score {
                thresholds,
                descending,
            }
        }
        "save_as" => {
            let metric_name = match get("metric_name") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    return Err(Error::invalid(format!(
                        "{path}.metric_name may not be empty"
                    )));
                }
            };
            let mut tags = BTreeMap::new();
            if let Some(t) = get("tags") {
                let Some(t) = t.as_object() else {
                    return Err(Error::invalid(format!("{path}.tags must be an object")));
                };
                for (k, v) in t {
                    match v.as_str() {
                        Some(s) if !s.is_empty() && !k.is_empty() => {
                            tags.insert(k.clone(), s.to_owned());
                        }
                        _ => {
                            return Err(Error::invalid(format!(
                                "{path}.tags.{k} must be a non-empty string"
                            )));
                        }
                    }
                }
            }
            if let Some(ttl) = get("ttl") {
                integer(ttl, &format!("{path}.ttl"))?;
            }
            AggregatorKind::SaveAs {
                metric_name,
                tags,
                add_saved_from: flag(get("add_saved_from"), &format!("{path}.add_saved_from"))?
                    .unwrap_or(true),
            }
        }
        _ => unreachable_name(&name, path)?,
    };
    Ok(Aggregator { kind })
}

fn unreachable_name(name: &str, path: &str) -> Result<AggregatorKind> {
    Err(Error::invalid(format!(
        "{path}.{name} invalid aggregators name"
    )))
}

fn zone(value: &Value, path: &str) -> Result<Tz> {
    let id = value.as_str().unwrap_or_default();
    time::parse_zone(id).ok_or_else(|| {
        Error::invalid(format!(
            "{path}.{} is not a valid time zone, must be an IANA time zone id such as UTC or Europe/Paris",
            if id.is_empty() { value.to_string() } else { id.to_owned() }
        ))
    })
}

fn unit(value: &Value, path: &str) -> Result<TimeUnit> {
    let text = value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string());
    TimeUnit::parse(&text).ok_or_else(|| {
        Error::invalid(format!(
            "{path} {text} is not a valid time unit, must be one of {UNIT_NAMES}"
        ))
    })
}

fn sampling(value: &Value, path: &str) -> Result<Sampling> {
    let Some(s) = value.as_object() else {
        return Err(Error::invalid(format!(
            "{path} must be an object {{\"value\": N, \"unit\": \"…\"}}"
        )));
    };
    let unit = match s.get("unit") {
        Some(u) if !u.is_null() => unit(u, &format!("{path}.unit"))?,
        _ => return Err(Error::invalid(format!("{path}.unit may not be null"))),
    };
    let value = match s.get("value") {
        Some(v) if !v.is_null() => integer(v, &format!("{path}.value"))?,
        _ => 1,
    };
    if value < 1 {
        return Err(Error::invalid(format!(
            "{path}.value must be greater than or equal to 1"
        )));
    }
    Ok(Sampling { value, unit })
}

fn relative(value: &Value, path: &str, now: i64) -> Result<i64> {
    let Some(r) = value.as_object() else {
        return Err(Error::invalid(format!(
            "{path} must be an object {{\"value\": N, \"unit\": \"…\"}}"
        )));
    };
    let unit = match r.get("unit") {
        Some(u) if !u.is_null() => unit(u, &format!("{path}.unit"))?,
        _ => return Err(Error::invalid(format!("{path}.unit may not be null"))),
    };
    let value = match r.get("value") {
        Some(v) if !v.is_null() => integer(v, &format!("{path}.value"))?,
        _ => return Err(Error::invalid(format!("{path}.value may not be null"))),
    };
    if value < 0 {
        return Err(Error::invalid(format!(
            "{path}.value must be greater than or equal to 0"
        )));
    }
    let t = time::relative(now, value, unit);
    if !(-INSTANT_LIMIT_MS..=INSTANT_LIMIT_MS).contains(&t) {
        return Err(Error::invalid(format!(
            "{path} {value} {} before now is outside the supported range of ±{INSTANT_LIMIT_MS} milliseconds",
            unit.upper_name().to_ascii_lowercase()
        )));
    }
    Ok(t)
}

/// The earliest and latest instants accepted (about 250,000 years either side of 1970),
/// inside the range calendar arithmetic covers. Absolute and relative times alike are held
/// within it, so that alignment and bucket arithmetic on them cannot overflow.
pub const INSTANT_LIMIT_MS: i64 = 8_000_000_000_000_000;

/// An instant in epoch milliseconds, within [`INSTANT_LIMIT_MS`].
fn instant(value: &Value, path: &str) -> Result<i64> {
    let t = integer(value, path)?;
    if !(-INSTANT_LIMIT_MS..=INSTANT_LIMIT_MS).contains(&t) {
        return Err(Error::invalid(format!(
            "{path} {t} is outside the supported range of ±{INSTANT_LIMIT_MS} milliseconds"
        )));
    }
    Ok(t)
}

/// An integer given as a JSON number or a numeric string.
pub(crate) fn integer(value: &Value, path: &str) -> Result<i64> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| Error::invalid(format!("{path} must be an integer, not {value}")))
}

fn number(value: &Value, path: &str) -> Result<f64> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    parsed.ok_or_else(|| Error::invalid(format!("{path} must be a number, not {value}")))
}

fn flag(value: Option<&Value>, path: &str) -> Result<Option<bool>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(Error::invalid(format!(
            "{path} must be true or false, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Query> {
        parse(text.as_bytes(), 1_000_000_000)
    }

    fn message(text: &str) -> String {
        parse_str(text).unwrap_err().messages().join("; ")
    }

    #[test]
    fn defaults_follow_kairosdb_1_3() {
        let q = parse_str(
            r#"{"start_relative":{"value":"1","unit":"SECONDS"},"metrics":[{"name":"m",
            "tags":{"host":["a","regex:b.*"],"dc":"x"},"aggregators":[{"name":"avg",
            "sampling":{"value":2,"unit":"minutes"}}]}]}"#,
        )
        .unwrap();
        assert_eq!(q.start, 999_999_000);
        assert_eq!(q.end, i64::MAX);
        let m = &q.metrics[0];
        assert_eq!(
            m.tags[1].values,
            [TagValue::Exact("a".into()), TagValue::Regex("b.*".into())]
        );
        let AggregatorKind::Range { spec, .. } = &m.aggregators[0].kind else {
            panic!("a range aggregator");
        };
        assert!(spec.align_sampling && !spec.align_start_time && !spec.align_end_time);
        assert_eq!(spec.start_time, q.start);
        assert_eq!(
            spec.sampling,
            Sampling {
                value: 2,
                unit: TimeUnit::Minutes
            }
        );
    }

    #[test]
    fn errors_name_the_field() {
        for (body, expected) in [
            ("", "Invalid json. No content due to end of input."),
            (
                r#"{"metrics":[{"name":"m"}]}"#,
                "query.metric[0].start_time relative or absolute time must be set",
            ),
            (
                r#"{"start_absolute":1,"metrics":[]}"#,
                "query.metric[] must have a size of at least 1",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":""}]}"#,
                "query.metric[0].name may not be empty",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","tags":{"host":""}}]}"#,
                "query.metric[0].tags[0].host value must not be null or empty",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","aggregators":[{}]}]}"#,
                "query.metric[0].aggregators[0] must have a name",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","aggregators":[{"name":"bogus"}]}]}"#,
                "query.metric[0].aggregators[0].bogus invalid aggregators name",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","aggregators":[{"name":"sum","x":1}]}]}"#,
                "query.metric[0].aggregators[0]: Property 'x' was specified for object 'sum' but no matching setter was found",
            ),
            (
                r#"{"start_relative":{"value":1,"unit":"bogus"},"metrics":[{"name":"m"}]}"#,
                "query.start_relative.unit bogus is not a valid time unit, must be one of MILLISECONDS,SECONDS,MINUTES,HOURS,DAYS,WEEKS,MONTHS,YEARS",
            ),
            (
                r#"{"start_relative":{"value":-1,"unit":"days"},"metrics":[{"name":"m"}]}"#,
                "query.start_relative.value must be greater than or equal to 0",
            ),
            (
                r#"{"start_absolute":5,"end_absolute":4,"metrics":[{"name":"m"}]}"#,
                "query.metric[0].end_time must be greater than the start time",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","order":"up"}]}"#,
                "query.metric[0].order must be either 'asc' or 'desc'",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","aggregators":[{"name":"div","divisor":0}]}]}"#,
                "query.metric[0].aggregators[0].m_divisor may not be zero",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","aggregators":[{"name":"percentile","percentile":0}]}]}"#,
                "query.metric[0].aggregators[0].percentile may not be zero",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","group_by":[{"name":"tag","tags":[]}]}]}"#,
                "query.metric[0].group_by[0].tags may not be null or empty",
            ),
            (
                r#"{"start_absolute":1,"metrics":[{"name":"m","group_by":[{"name":"time","range_size":{"value":1,"unit":"hours"},"group_count":0}]}]}"#,
                "query.metric[0].group_by[0].groupCount must be greater than or equal to 1",
            ),
            (
                r#"{"start_absolute":1,"cache_time":-1,"metrics":[{"name":"m"}]}"#,
                "query.cache_time must be greater than or equal to 0",
            ),
        ] {
            assert_eq!(message(body), expected, "{body}");
        }
        assert!(
            message(r#"{"start_absolute":1,"time_zone":"Mars/Olympus","metrics":[{"name":"m"}]}"#)
                .starts_with("query.Mars/Olympus is not a valid time zone")
        );
        assert!(message("{").starts_with("Invalid json."));
        assert_eq!(
            message(r#"{"start_absolute":-9000000000000000000,"metrics":[{"name":"m"}]}"#),
            "query.start_absolute -9000000000000000000 is outside the supported range of ±8000000000000000 milliseconds"
        );
    }

    /// Inputs the `kairos_query` fuzz target found to overflow (a panic with overflow checks,
    /// a wrapped instant without): times at the ends of `i64` are refused, naming the field.
    #[test]
    fn times_beyond_the_supported_range_are_refused() {
        for (body, expected) in [
            (
                r#"{"start_absolute":-9223372036854775808,"metrics":[{"name":"m"}]}"#,
                "query.start_absolute -9223372036854775808 is outside the supported range of ±8000000000000000 milliseconds",
            ),
            (
                r#"{"start_absolute":1,"end_absolute":"-9223372036854775808","metrics":[{"name":"m"}]}"#,
                "query.end_absolute -9223372036854775808 is outside the supported range of ±8000000000000000 milliseconds",
            ),
            (
                r#"{"start_relative":{"value":1000000,"unit":"years"},"metrics":[{"name":"m","aggregators":[{"name":"avg"}]}]}"#,
                "query.start_relative 1000000 years before now is outside the supported range of ±8000000000000000 milliseconds",
            ),
            (
                r#"{"start_absolute":1,"end_relative":{"value":9223372036854775807,"unit":"milliseconds"},"metrics":[{"name":"m"}]}"#,
                "query.end_relative 9223372036854775807 milliseconds before now is outside the supported range of ±8000000000000000 milliseconds",
            ),
        ] {
            assert_eq!(message(body), expected, "{body}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(body in ".{0,200}", start in proptest::num::i64::ANY, value in proptest::num::i64::ANY, unit in "[a-z]{0,12}") {
            let _ = parse(body.as_bytes(), 0);
            let _ = crate::ingest::parse(body.as_bytes());
            let q = format!(
                r#"{{"start_absolute":{start},"metrics":[{{"name":"m","aggregators":[{{"name":"gaps","sampling":{{"value":{value},"unit":"{unit}"}}}}]}}]}}"#
            );
            if let Ok(query) = parse(q.as_bytes(), 0) {
                let series = vec![crate::SeriesData {
                    tags: Default::default(),
                    kind: crate::GroupKind::Number,
                    points: vec![crate::DataPoint::new(start.clamp(-INSTANT_LIMIT_MS, INSTANT_LIMIT_MS), crate::KValue::Long(1))],
                }];
                let _ = crate::run_metric(&query, &query.metrics[0], 0, series, &|| Ok(()));
            }
        }
    }
}
