//! Rewriting the parts of one partition as one part: merges of the small parts successive
//! flushes leave, retention, which drops expired series from a partition that still holds
//! others, and deletion, which drops a time range of some series.
//!
//! The new part is named after the whole range of ids of its inputs, so that it supersedes
//! them: it is durable under its final name before any input is removed, and an open that finds
//! both (a crash came in between) removes the inputs. A rewrite of a single part gets that
//! part's own name, and its rename replaces the old file atomically. Duplicates among the inputs are resolved
//! as reads resolve them, the newer part's point winning.

use std::ops::Range;
use std::sync::Arc;

use sextant_model::{DataType, OrgId, Point, SeriesKey, Timestamp};

use super::format::split_points;
use super::order::sorted_order;
use super::{Blocks, Part, PartFiles, PartLocation, PartName, PartWriter};
use crate::head::merge_last_wins;
use crate::{Error, Result};

/// Which points of a series a rewrite keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Every point.
    All,
    /// None: the series is dropped.
    Nothing,
    /// The points whose timestamps are not in the range.
    Outside(Range<Timestamp>),
}

/// Writes the points of `inputs` (parts filed under one partition of `files`, oldest first)
/// that `keep` keeps into one new part there, cut into `blocks`; returns it, or
/// `None` if no point is kept. The inputs are left in place.
pub(crate) fn rewrite(
    files: &dyn PartFiles,
    inputs: &[Arc<Part>],
    keep: &dyn Fn(OrgId, &SeriesKey) -> Keep,
    blocks: Blocks,
) -> Result<Option<Arc<Part>>> {
    let (Some(first), Some(last)) = (
        inputs.iter().map(|p| p.name().first).min(),
        inputs.iter().map(|p| p.name().last).max(),
    ) else {
        return Ok(None);
    };
    let at = PartLocation {
        partition: inputs[0].location().partition,
        name: PartName { first, last },
    };
    let path = files.describe(&at);
    // Every input's series, then sorted: the inputs' keys are compared only where two lie
    // side by side in the order (see `order`).
    let mut listed: Vec<(OrgId, &SeriesKey, DataType, usize)> = Vec::new();
    for (p, part) in inputs.iter().enumerate() {
        for (org, key, s) in part.series() {
            if keep(org, key) != Keep::Nothing {
                listed.push((org, key, s.data_type, p));
            }
        }
    }
    let keys: Vec<(OrgId, &SeriesKey)> = listed.iter().map(|&(o, k, ..)| (o, k)).collect();
    let mut series: Vec<(OrgId, SeriesKey, DataType)> = Vec::with_capacity(listed.len());
    for i in sorted_order(&keys) {
        let (org, key, data_type, p) = listed[i];
        match series.last() {
            Some((o, k, known)) if *o == org && k == key => {
                if *known != data_type {
                    return Err(Error::PartWrite {
                        path: path.clone(),
                        detail: format!(
                            "series {key} of {org} has type {known} in one input part and \
                             {data_type} in {:?}",
                            inputs[p].path()
                        ),
                    });
                }
            }
            _ => series.push((org, key.clone(), data_type)),
        }
    }
    drop(keys);
    drop(listed);
    let start = inputs
        .iter()
        .map(|p| p.partition().start)
        .min()
        .unwrap_or(0);
    let end = inputs.iter().map(|p| p.partition().end).max().unwrap_or(0);
    let wal_seq = inputs.iter().map(|p| p.wal_seq()).max().unwrap_or(0);
    let mut writer = PartWriter::create(files, at, start..end, wal_seq, blocks.summary_min_points)?;
    writer.expect_series(series.iter().map(|(org, ..)| *org));
    for (org, key, data_type) in series {
        let mut sources = Vec::with_capacity(inputs.len());
        for part in inputs {
            let mut points = Vec::new();
            part.read_all_into(org, &key, &mut points)?;
            sources.push(points);
        }
        let mut points = merge_last_wins(sources);
        if let Keep::Outside(range) = keep(org, &key) {
            points.retain(|p| !range.contains(&p.timestamp));
        }
        if points.is_empty() {
            continue;
        }
        writer.begin_series(org, &key, data_type)?;
        let mut rest = points.into_iter();
        loop {
            let chunk: Vec<Point> = rest.by_ref().take(blocks.points.max(1)).collect();
            if chunk.is_empty() {
                break;
            }
            let Some((timestamps, values)) = split_points(data_type, chunk) else {
                return Err(Error::PartWrite {
                    path: path.clone(),
                    detail: format!(
                        "series {key} of {org} holds values of another type than {data_type}"
                    ),
                });
            };
            writer.add_block(&timestamps, &values)?;
        }
    }
    if writer.is_empty() {
        writer.abandon()?;
        return Ok(None);
    }
    // The part shares the inputs' keys, which the head and other parts share already.
    Ok(Some(Arc::new(writer.finish_and_open(files)?)))
}

/// Which parts of one partition (oldest first, with their sizes in bytes) the background
/// should merge: the newest run of at least `fan_in` adjacent parts of one size tier, a tier
/// being a power of `fan_in` bytes. Flushes add small parts at the new end; merging runs of
/// similar size makes every point rewritten about log(partition / flush) times, instead of
/// once per flush as merging the whole partition would.
pub(crate) fn select_run(sizes: &[u64], fan_in: usize) -> Option<std::ops::Range<usize>> {
    let fan_in = fan_in.max(2);
    let tier = |size: u64| (size.max(1) as f64).log(fan_in as f64).floor() as i64;
    let mut end = sizes.len();
    while end >= fan_in {
        let t = tier(sizes[end - 1]);
        let mut start = end - 1;
        while start > 0 && tier(sizes[start - 1]) == t {
            start -= 1;
        }
        if end - start >= fan_in {
            return Some(start..end);
        }
        end = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::select_run;

    #[test]
    fn runs_of_one_tier_are_merged_newest_first() {
        let cases: [(&[u64], Option<std::ops::Range<usize>>); 5] = [
            (&[], None),
            (&[100, 100, 100], None),
            (&[100, 100, 100, 100], Some(0..4)),
            (&[5000, 100, 90, 110, 120], Some(1..5)),
            (&[100, 110, 120, 130, 5000, 100], Some(0..4)),
        ];
        for (sizes, want) in cases {
            assert_eq!(select_run(sizes, 4), want, "{sizes:?}");
        }
    }
}
