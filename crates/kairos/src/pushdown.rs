//! Aggregation pushdown: when a metric's only aggregator is avg, sum, min, max or count,
//! its buckets are fixed-length and aligned to the epoch, and each bucket is stamped with
//! its start or end (`align_start_time` or `align_end_time`), the store can compute
//! per-bucket count, sum, min and max from block summaries; this module plans that and
//! turns the per-series partials into KairosDB's result, with the same tag groups and
//! output as the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;
use std::sync::Arc;

use crate::aggregate::{Buckets, DataPoint, KValue};
use crate::group::{
    GroupKind, GroupResult, empty_result, group_by_tail, tag_names, tag_order, tag_pairs,
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

impl Partial {
    /// Folds `other`, a partial of the same bucket, into this one.
    pub fn merge(&mut self, other: &Partial) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// The partials of one numeric series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPartials {
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its non-empty buckets, ascending.
    pub buckets: Vec<Partial>,
}

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
    let bucket_ms = buckets
        .epoch_aligned()
        .filter(|ms| ms.checked_mul(1_000_000).is_some())?;
    // Points before the origin would fall in bucket 0 (truncation toward zero), not in the
    // epoch-aligned bucket below it.
    (buckets.origin() <= query.start).then_some(Plan {
        func: *func,
        bucket_ms,
        stamp_end: !spec.align_start_time,
    })
}

/// The metric's result from the store's partials: its groups, made one at a time.
pub fn run<'a>(metric: &'a MetricQuery, plan: &Plan, series: &'a [SeriesPartials]) -> Grouped<'a> {
    let sample_size = series
        .iter()
        .flat_map(|s| &s.buckets)
        .map(|b| b.count as usize)
        .sum();
    let names = tag_names(metric);
    // KairosDB orders groups by their tag names and values concatenated, a group's series in
    // the order the store gave them (a stable sort, skipped when the store's order is it).
    let mut order: Vec<(String, &SeriesPartials)> = series
        .iter()
        .filter(|s| !s.buckets.is_empty())
        .map(|s| (tag_order(names.as_deref(), &s.tags), s))
        .collect();
    if !order.is_sorted_by(|a, b| a.0 <= b.0) {
        order.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Grouped {
        metric,
        plan: *plan,
        names,
        sample_size,
        empty: order.is_empty(),
        series: order.into_iter().peekable(),
    }
}

/// A pushed-down metric's groups in KairosDB's order, each made when it is asked for, so that
/// a metric of many groups is written out without holding all of their results at once.
#[derive(Debug)]
pub struct Grouped<'a> {
    metric: &'a MetricQuery,
    plan: Plan,
    names: Option<Arc<[String]>>,
    /// Points the partials stand for.
    pub sample_size: usize,
    /// Whether no series had a point, which still answers KairosDB's one empty result.
    empty: bool,
    series: Peekable<std::vec::IntoIter<(String, &'a SeriesPartials)>>,
}

impl Grouped<'_> {
    /// The value of a merged bucket, stamped as the plan asks.
    fn point(&self, b: Partial) -> DataPoint {
        let t = if self.plan.stamp_end {
            b.start.saturating_add(self.plan.bucket_ms)
        } else {
            b.start
        };
        let v = match self.plan.func {
            RangeFn::Count => KValue::Long(b.count as i64),
            RangeFn::Sum => KValue::Double(b.sum),
            RangeFn::Min => KValue::Double(b.min),
            RangeFn::Max => KValue::Double(b.max),
            _ => KValue::Double(b.sum / b.count as f64),
        };
        DataPoint::new(t, v)
    }
}

impl Iterator for Grouped<'_> {
    type Item = GroupResult;

    fn next(&mut self) -> Option<GroupResult> {
        if self.empty {
            self.empty = false;
            return Some(empty_result(self.metric));
        }
        let (order, first) = self.series.next()?;
        let pairs = tag_pairs(self.names.as_deref(), &first.tags);
        let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut add_tags = |s: &SeriesPartials| {
            for (k, v) in &s.tags {
                tags.entry(k.clone()).or_default().insert(v.clone());
            }
        };
        add_tags(first);
        let values: Vec<DataPoint> = if self.series.peek().is_none_or(|(o, _)| *o != order) {
            // One series: its buckets are ascending and distinct already.
            first.buckets.iter().map(|&b| self.point(b)).collect()
        } else {
            let mut merged: BTreeMap<i64, Partial> =
                first.buckets.iter().map(|b| (b.start, *b)).collect();
            while let Some((_, s)) = self.series.next_if(|(o, _)| *o == order) {
                add_tags(s);
                for b in &s.buckets {
                    merged
                        .entry(b.start)
                        .and_modify(|m| m.merge(b))
                        .or_insert(*b);
                }
            }
            merged.into_values().map(|b| self.point(b)).collect()
        };
        Some(GroupResult {
            name: self.metric.name.clone(),
            group_by: Some(group_by_tail(self.names.clone(), pairs, GroupKind::Number)),
            tags: (!self.metric.exclude_tags).then_some(tags),
            values,
        })
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

    use crate::group::{GroupKind, SeriesData, run_metric};
    use proptest::prelude::*;

    /// The store's partials of `points` (ms, value): count, sum, min and max per minute.
    fn partials(tags: &BTreeMap<String, String>, points: &[(i64, f64)]) -> SeriesPartials {
        let mut buckets: BTreeMap<i64, Partial> = BTreeMap::new();
        for &(t, v) in points {
            let start = t.div_euclid(60_000) * 60_000;
            let point = Partial {
                start,
                count: 1,
                sum: v,
                min: v,
                max: v,
            };
            buckets
                .entry(start)
                .and_modify(|b| b.merge(&point))
                .or_insert(point);
        }
        SeriesPartials {
            tags: tags.clone(),
            buckets: buckets.into_values().collect(),
        }
    }

    proptest! {
        /// Groups made one at a time from partials are the engine's groups from the points:
        /// the same order, tags, group-by entries and values, series sharing a group or not,
        /// with the tag grouped by or without it.
        #[test]
        fn pushed_down_groups_are_the_engines(
            series in prop::collection::vec(
                (
                    prop::option::of(0..4u8),
                    0..3u8,
                    prop::collection::btree_map(0..400i64, -50..50i32, 0..6),
                ),
                0..8,
            ),
            func in prop::sample::select(vec!["avg", "sum", "min", "max", "count"]),
            stamp_end in any::<bool>(),
            exclude_tags in any::<bool>(),
            group in any::<bool>(),
        ) {
            let align = if stamp_end { "align_end_time" } else { "align_start_time" };
            let group_by = if group { r#""group_by":[{"name":"tag","tags":["host"]}],"# } else { "" };
            let body = format!(
                r#"{{"start_absolute":0,"end_absolute":100000000,"metrics":[{{"name":"m",{group_by}"exclude_tags":{exclude_tags},"aggregators":[{{"name":"{func}","sampling":{{"value":1,"unit":"minutes"}},"{align}":true}}]}}]}}"#
            );
            let query = crate::query::parse(body.as_bytes(), 0).unwrap();
            let metric = &query.metrics[0];
            let plan = plan(&query, metric).expect("a plan");
            let mut read = Vec::new();
            let mut partial = Vec::new();
            for (i, (host, rack, points)) in series.iter().enumerate() {
                let mut tags = BTreeMap::from([
                    ("id".to_owned(), i.to_string()),
                    ("rack".to_owned(), rack.to_string()),
                ]);
                if let Some(host) = host {
                    tags.insert("host".to_owned(), format!("h{host}"));
                }
                // Whole numbers, so that sums in any order are exact.
                let points: Vec<(i64, f64)> =
                    points.iter().map(|(&t, &v)| (t * 1_000, f64::from(v))).collect();
                read.push(SeriesData {
                    tags: tags.clone(),
                    kind: GroupKind::Number,
                    points: points.iter().map(|&(t, v)| DataPoint::new(t, KValue::Double(v))).collect(),
                });
                partial.push(partials(&tags, &points));
            }
            let engine = run_metric(&query, metric, 0, read, &|| Ok(())).unwrap();
            let grouped = run(metric, &plan, &partial);
            prop_assert_eq!(grouped.sample_size, engine.sample_size);
            let groups: Vec<GroupResult> = grouped.collect();
            prop_assert_eq!(groups, engine.results);
        }
    }
}
