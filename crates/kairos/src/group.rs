//! A metric's pipeline after the read: split the series into groups (by type, then by tag,
//! then by time, value and bin), merge each group's points by timestamp, apply `limit`,
//! then the aggregators in order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::aggregate::{self, DataPoint, KValue, Window};
use crate::query::{AggregatorKind, GroupBy, MetricQuery, Query};
use crate::time::{self, TimeUnit};
use crate::{Proceed, Result};

/// KairosDB's group types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupKind {
    /// Longs and doubles.
    Number,
    /// Strings.
    Text,
}

impl GroupKind {
    /// The name in `{"name":"type","type":…}`.
    pub fn name(self) -> &'static str {
        match self {
            GroupKind::Number => "number",
            GroupKind::Text => "text",
        }
    }
}

/// One series as read from storage: its tags, its kind, and its points in `[start, end]` in
/// the requested order, at most `limit` of them.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Number or text.
    pub kind: GroupKind,
    /// Its points.
    pub points: Vec<DataPoint>,
}

/// Points a `save_as` aggregator asks to store.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveRequest {
    /// The metric written.
    pub metric_name: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The points (never null ones).
    pub points: Vec<DataPoint>,
}

/// One entry of a group's `group_by` in the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupByEntry {
    /// `{"group":{name:value,…},"name":"tag","tags":[names]}`: the tag group-by's names and
    /// the group's value of each (`""` for a series without the tag).
    Tag {
        /// The tag names the query grouped by, shared by every group of the metric.
        names: Arc<[String]>,
        /// Each name with the group's value, in the names' order.
        group: Vec<(String, String)>,
    },
    /// `{"name":"type","type":…}`, which ends every group's entries.
    Type(GroupKind),
    /// A time, value or bin group-by's entry, as KairosDB writes it.
    Other(Value),
}

/// One entry of a query result's `results`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResult {
    /// The metric name.
    pub name: String,
    /// The group-by entries; `None` for KairosDB's empty result.
    pub group_by: Option<Vec<GroupByEntry>>,
    /// Tag names and values of the group's series; `None` with `exclude_tags`.
    pub tags: Option<BTreeMap<String, BTreeSet<String>>>,
    /// The points.
    pub values: Vec<DataPoint>,
}

/// The result of one `metrics[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// Points read.
    pub sample_size: usize,
    /// The groups.
    pub results: Vec<GroupResult>,
    /// What `save_as` aggregators ask to store.
    pub saves: Vec<SaveRequest>,
}

/// A type and tag group: its tag-group pairs and its series.
type Parent = (Vec<(String, String)>, Vec<SeriesData>);

struct Group {
    tags: BTreeMap<String, BTreeSet<String>>,
    group_by: Vec<GroupByEntry>,
    kind: GroupKind,
    points: Vec<DataPoint>,
}

/// The most groups one metric of a query may split into. Each group costs its points, its
/// tags and its entry in the answer, so a `group_by` of a million time groups cost gigabytes;
/// KairosDB has no such limit, this server refuses the query naming it.
pub const MAX_GROUPS: usize = 100_000;

/// The refusal of a metric that splits into more than [`MAX_GROUPS`] groups.
fn too_many_groups() -> crate::Error {
    crate::Error::invalid(format!(
        "the query's group_by splits a metric into more than {MAX_GROUPS} groups, the server's limit; group into fewer (a larger range_size or a smaller group_count) or query a shorter range"
    ))
}

/// Runs `metric`'s pipeline over the series read for it, asking `proceed` before each group's
/// aggregators and inside the costly ones.
pub fn run_metric(
    query: &Query,
    metric: &MetricQuery,
    now: i64,
    series: Vec<SeriesData>,
    proceed: Proceed<'_>,
) -> Result<MetricResult> {
    let sample_size = series.iter().map(|s| s.points.len()).sum();
    let series: Vec<SeriesData> = series
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    let splitters: Vec<&GroupBy> = metric
        .group_by
        .iter()
        .filter(|g| !matches!(g, GroupBy::Tag(_)))
        .collect();
    if series.is_empty() {
        let results = if splitters.is_empty() {
            vec![empty_result(metric)]
        } else {
            Vec::new()
        };
        return Ok(MetricResult {
            sample_size,
            results,
            saves: Vec::new(),
        });
    }
    let names = tag_names(metric);
    let tag_names = names.as_deref();

    // Type, then tag groups, in KairosDB's order: by type name, then by the concatenated
    // name and value pairs.
    let mut parents: BTreeMap<(GroupKind, String), Parent> = BTreeMap::new();
    for s in series {
        let (order, pairs) = tag_group(tag_names, &s.tags);
        parents
            .entry((s.kind, order))
            .or_insert_with(|| (pairs, Vec::new()))
            .1
            .push(s);
    }

    let mut groups = Vec::new();
    for ((kind, _), (pairs, members)) in parents {
        let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in &members {
            for (k, v) in &s.tags {
                tags.entry(k.clone()).or_default().insert(v.clone());
            }
        }
        let mut points: Vec<DataPoint> = members.into_iter().flat_map(|s| s.points).collect();
        let descending = metric.descending;
        points.sort_by(|a, b| {
            let by_time = if descending {
                b.t.cmp(&a.t)
            } else {
                a.t.cmp(&b.t)
            };
            by_time.then_with(|| compare_values(&a.v, &b.v))
        });
        let tail = group_by_tail(names.clone(), pairs, kind);
        if groups.len() >= MAX_GROUPS {
            return Err(too_many_groups());
        }
        if splitters.is_empty() {
            groups.push(Group {
                tags,
                group_by: tail,
                kind,
                points,
            });
            continue;
        }
        let mut index: HashMap<Vec<i64>, usize> = HashMap::new();
        let mut subgroups: Vec<(Vec<i64>, Vec<DataPoint>)> = Vec::new();
        for p in points {
            let key: Vec<i64> = splitters
                .iter()
                .map(|g| group_id(g, query.start, &p))
                .collect();
            let slot = match index.get(&key) {
                Some(&slot) => slot,
                None => {
                    if groups.len() + subgroups.len() >= MAX_GROUPS {
                        return Err(too_many_groups());
                    }
                    index.insert(key.clone(), subgroups.len());
                    subgroups.push((key, Vec::new()));
                    subgroups.len() - 1
                }
            };
            subgroups[slot].1.push(p);
        }
        for (key, points) in subgroups {
            let mut group_by: Vec<GroupByEntry> = splitters
                .iter()
                .zip(&key)
                .map(|(g, id)| GroupByEntry::Other(group_entry(g, *id)))
                .collect();
            group_by.extend(tail.iter().cloned());
            groups.push(Group {
                tags: tags.clone(),
                group_by,
                kind,
                points,
            });
        }
    }

    let window = Window {
        start: query.start,
        end: query.end,
        now,
    };
    let mut results = Vec::with_capacity(groups.len());
    let mut saves = Vec::new();
    for mut group in groups {
        if let Some(limit) = metric.limit {
            group.points.truncate(limit);
        }
        let mut kind = group.kind;
        let mut points = group.points;
        for aggregator in &metric.aggregators {
            if kind == GroupKind::Text && aggregate::numeric_only(&aggregator.kind) {
                continue;
            }
            if let AggregatorKind::SaveAs {
                metric_name,
                tags,
                add_saved_from,
            } = &aggregator.kind
            {
                let mut saved = tags.clone();
                if *add_saved_from {
                    saved.insert("saved_from".to_owned(), metric.name.clone());
                }
                if let Some(names) = tag_names {
                    for n in names {
                        if let Some(values) = group.tags.get(n)
                            && values.len() == 1
                            && let Some(v) = values.first()
                        {
                            saved.entry(n.clone()).or_insert_with(|| v.clone());
                        }
                    }
                }
                saves.push(SaveRequest {
                    metric_name: metric_name.clone(),
                    tags: saved,
                    points: points
                        .iter()
                        .filter(|p| p.v != KValue::Null)
                        .cloned()
                        .collect(),
                });
                continue;
            }
            proceed()?;
            points = aggregate::apply(&aggregator.kind, points, window, proceed)?;
            if aggregate::outputs_number(&aggregator.kind) {
                kind = GroupKind::Number;
            }
        }
        results.push(GroupResult {
            name: metric.name.clone(),
            group_by: Some(group.group_by),
            tags: (!metric.exclude_tags).then_some(group.tags),
            values: points,
        });
    }
    Ok(MetricResult {
        sample_size,
        results,
        saves,
    })
}

/// The sort key and the (name, value) pairs of a series' tag group: the listed tags in the
/// listed order, `""` for a missing one.
pub(crate) fn tag_group(
    tag_names: Option<&[String]>,
    tags: &BTreeMap<String, String>,
) -> (String, Vec<(String, String)>) {
    (tag_order(tag_names, tags), tag_pairs(tag_names, tags))
}

/// The sort key of a series' tag group: each listed tag's name and value, concatenated.
pub(crate) fn tag_order(tag_names: Option<&[String]>, tags: &BTreeMap<String, String>) -> String {
    let mut order = String::new();
    for n in tag_names.unwrap_or_default() {
        order.push_str(n);
        order.push_str(tags.get(n).map_or("", String::as_str));
    }
    order
}

/// The (name, value) pairs of a series' tag group.
pub(crate) fn tag_pairs(
    tag_names: Option<&[String]>,
    tags: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    tag_names
        .unwrap_or_default()
        .iter()
        .map(|n| (n.clone(), tags.get(n).cloned().unwrap_or_default()))
        .collect()
}

/// The tag and type entries that end every group's `group_by`.
pub(crate) fn group_by_tail(
    tag_names: Option<Arc<[String]>>,
    pairs: Vec<(String, String)>,
    kind: GroupKind,
) -> Vec<GroupByEntry> {
    let mut tail = Vec::with_capacity(2);
    if let Some(names) = tag_names {
        tail.push(GroupByEntry::Tag {
            names,
            group: pairs,
        });
    }
    tail.push(GroupByEntry::Type(kind));
    tail
}

/// The first tag group-by's tag names.
pub(crate) fn tag_names(metric: &MetricQuery) -> Option<Arc<[String]>> {
    metric.group_by.iter().find_map(|g| match g {
        GroupBy::Tag(names) => Some(Arc::from(names.as_slice())),
        _ => None,
    })
}

/// KairosDB's result for a metric without data.
pub(crate) fn empty_result(metric: &MetricQuery) -> GroupResult {
    GroupResult {
        name: metric.name.clone(),
        group_by: None,
        tags: (!metric.exclude_tags).then(BTreeMap::new),
        values: Vec::new(),
    }
}

fn compare_values(a: &KValue, b: &KValue) -> std::cmp::Ordering {
    match (a, b) {
        (KValue::Text(x), KValue::Text(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => std::cmp::Ordering::Equal,
        },
    }
}

fn group_id(group_by: &GroupBy, start: i64, p: &DataPoint) -> i64 {
    match group_by {
        GroupBy::Time { range, count } => {
            if range.unit == TimeUnit::Months {
                let (y0, m0) = time::utc_year_month(start);
                let (y, m) = time::utc_year_month(p.t);
                return (((y - y0) * 12 + (m - m0)) / range.value) % count;
            }
            let unit_ms = match range.unit {
                TimeUnit::Days => 86_400_000,
                TimeUnit::Weeks => 7 * 86_400_000,
                TimeUnit::Years => 52 * 7 * 86_400_000,
                unit => unit.fixed_ms().unwrap_or(1),
            };
            let size = range.value.saturating_mul(unit_ms).max(1);
            ((p.t.wrapping_sub(start)) / size) % count
        }
        GroupBy::Value(range) => match &p.v {
            KValue::Long(v) => v / range,
            KValue::Double(v) => (v.trunc() as i64) / range,
            _ => -1,
        },
        GroupBy::Bin(bins) => match p.v.as_f64() {
            Some(v) => bins.iter().take_while(|b| **b <= v).count() as i64,
            None => -1,
        },
        GroupBy::Tag(_) => 0,
    }
}

fn group_entry(group_by: &GroupBy, id: i64) -> Value {
    match group_by {
        GroupBy::Time { range, count } => json!({
            "name": "time",
            "range_size": {"value": range.value, "unit": range.unit.upper_name()},
            "group_count": count,
            "group": {"group_number": id},
        }),
        GroupBy::Value(range) => json!({
            "name": "value",
            "range_size": range,
            "group": {"group_number": id},
        }),
        GroupBy::Bin(bins) => {
            let bins: Vec<Value> = bins
                .iter()
                .map(|b| {
                    if b.fract() == 0.0 && b.abs() < 1e15 {
                        json!(*b as i64)
                    } else {
                        json!(b)
                    }
                })
                .collect();
            json!({"name": "bin", "bins": bins, "group": {"bin_number": id}})
        }
        GroupBy::Tag(_) => Value::Null,
    }
}
