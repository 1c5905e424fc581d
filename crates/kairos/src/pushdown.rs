//! Aggregation pushdown: when a metric's only aggregator is avg, sum, min, max or count,
//! its buckets are fixed-length and aligned to the epoch, and each bucket is stamped with
//! its start or end (`align_start_time` or `align_end_time`), the store can compute
//! per-bucket count, sum, min and max from block summaries; this module plans that and
//! turns the per-series partials into KairosDB's result, with the same tag groups and
//! output as the engine.

use std::collections::{BTreeMap, BTreeSet};

use crate::aggregate::{Buckets, DataPoint, KValue};
use crate::group::{
    GroupKind, GroupResult, MetricResult, empty_result, group_by_tail, tag_group, tag_names,
};
use crate::query::{AggregatorKind, GroupBy, MetricQuery, Query, RangeFn};

/// How to push a metric down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The function.
    pub func: RangeFn,
    /// The bucket size; buckets start at multiples of it.
    pub bucket_ms: i64,
    /// Stamp buckets with their end rather than their start.
    pub stamp_end: bool,
}

/// One bucket of one series, as the store computed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    /// The bucket start (epoch ms).
    pub start: i64,
    /// Points.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Their minimum.
    pub min: f64,
    /// Their maximum.
    pub max: f64,
}

/// The partials of one numeric series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPartials {
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its non-empty buckets, ascending.
    pub buckets: Vec<Partial>,
}

/// A tag group's (name, value) pairs and its series.
type TagGroup = (Vec<(String, String)>, Vec<SeriesPartials>);

/// The plan for `metric`, if it can be pushed down.
pub fn plan(query: &Query, metric: &MetricQuery) -> Option<Plan> {
    let [aggregator] = metric.aggregators.as_slice() else {
        return None;
    };
    let AggregatorKind::Range { func, spec } = &aggregator.kind else {
        return None;
    };
    if !matches!(
        func,
        RangeFn::Avg | RangeFn::Sum | RangeFn::Min | RangeFn::Max | RangeFn::Count
    ) || !(spec.align_start_time || spec.align_end_time)
        || metric.limit.is_some()
        || metric.descending
        || metric
            .group_by
            .iter()
            .any(|g| !matches!(g, GroupBy::Tag(_)))
    {
        return None;
    }
    let buckets = Buckets::new(spec);
    let bucket_ms = buckets.epoch_aligned()?;
    // Points before the origin would fall in bucket 0 (truncation toward zero), not in the
    // epoch-aligned bucket below it.
    (buckets.origin() <= query.start).then_some(Plan {
        func: *func,
        bucket_ms,
        stamp_end: !spec.align_start_time,
    })
}

/// The metric's result from the store's partials.
pub fn run(metric: &MetricQuery, plan: &Plan, series: Vec<SeriesPartials>) -> MetricResult {
    let sample_size = series
        .iter()
        .flat_map(|s| &s.buckets)
        .map(|b| b.count as usize)
        .sum();
    let names = tag_names(metric);
    let mut groups: BTreeMap<String, TagGroup> = BTreeMap::new();
    for s in series.into_iter().filter(|s| !s.buckets.is_empty()) {
        let (order, pairs) = tag_group(names, &s.tags);
        groups
            .entry(order)
            .or_insert_with(|| (pairs, Vec::new()))
            .1
            .push(s);
    }
    if groups.is_empty() {
        return MetricResult {
            sample_size,
            results: vec![empty_result(metric)],
            saves: Vec::new(),
        };
    }
    let results = groups
        .into_values()
        .map(|(pairs, members)| {
            let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut merged: BTreeMap<i64, Partial> = BTreeMap::new();
            for s in members {
                for (k, v) in &s.tags {
                    tags.entry(k.clone()).or_default().insert(v.clone());
                }
                for b in s.buckets {
                    merged
                        .entry(b.start)
                        .and_modify(|m| {
                            m.count += b.count;
                            m.sum += b.sum;
                            m.min = m.min.min(b.min);
                            m.max = m.max.max(b.max);
                        })
                        .or_insert(b);
                }
            }
            let values = merged
                .into_values()
                .map(|b| {
                    let t = if plan.stamp_end {
                        b.start.saturating_add(plan.bucket_ms)
                    } else {
                        b.start
                    };
                    let v = match plan.func {
                        RangeFn::Count => KValue::Long(b.count as i64),
                        RangeFn::Sum => KValue::Double(b.sum),
                        RangeFn::Min => KValue::Double(b.min),
                        RangeFn::Max => KValue::Double(b.max),
                        _ => KValue::Double(b.sum / b.count as f64),
                    };
                    DataPoint::new(t, v)
                })
                .collect();
            GroupResult {
                name: metric.name.clone(),
                group_by: Some(group_by_tail(names, &pairs, GroupKind::Number)),
                tags: (!metric.exclude_tags).then_some(tags),
                values,
            }
        })
        .collect();
    MetricResult {
        sample_size,
        results,
        saves: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(aggregator: &str, extra: &str) -> Option<Plan> {
        let body = format!(
            r#"{{"start_absolute":1704067230000,{extra}"metrics":[{{"name":"m","aggregators":[{aggregator}]}}]}}"#
        );
        let query = crate::query::parse(body.as_bytes(), 0).unwrap();
        plan(&query, &query.metrics[0])
    }

    #[test]
    fn aligned_fixed_buckets_stamped_at_an_edge_are_pushed_down() {
        let minute =
            r#"{"name":"avg","sampling":{"value":1,"unit":"minutes"},"align_start_time":true}"#;
        assert_eq!(
            plan_of(minute, ""),
            Some(Plan {
                func: RangeFn::Avg,
                bucket_ms: 60_000,
                stamp_end: false
            })
        );
        // Stamped with the first point's time: the store does not know it.
        assert_eq!(
            plan_of(
                r#"{"name":"avg","sampling":{"value":1,"unit":"minutes"}}"#,
                ""
            ),
            None
        );
        // Not aligned: the origin is the query start, 30 s into a minute.
        assert_eq!(
            plan_of(
                r#"{"name":"sum","sampling":{"value":1,"unit":"minutes"},"align_sampling":false,"align_end_time":true}"#,
                ""
            ),
            None
        );
        // Calendar units have no fixed length.
        assert_eq!(
            plan_of(
                r#"{"name":"max","sampling":{"value":1,"unit":"months"},"align_start_time":true}"#,
                ""
            ),
            None
        );
        assert_eq!(
            plan_of(
                r#"{"name":"dev","sampling":{"value":1,"unit":"minutes"},"align_start_time":true}"#,
                ""
            ),
            None
        );
        // Hour buckets from local midnight in a half-hour zone are not epoch-aligned.
        assert_eq!(
            plan_of(
                r#"{"name":"count","sampling":{"value":1,"unit":"hours"},"align_start_time":true}"#,
                r#""time_zone":"Asia/Kolkata","#
            ),
            None
        );
    }
}
