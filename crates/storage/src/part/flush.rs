//! Turning points frozen in the head into parts: one new part per time partition touched,
//! series sorted by organization and key, each cut into blocks of a bounded number of points.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use sextant_model::Timestamp;

use super::order::sorted_order;
use super::{Blocks, Part, PartFiles, PartLocation, PartName, PartWriter, partition_of};
use crate::Result;
use crate::head::Frozen;

/// Writes the points of `frozen` into new parts in `files`, one per partition of
/// `partition_len` ns, taking part ids from `next_id`; returns them opened, oldest first. Every
/// part is durable when this returns. On error, parts already written stay (a later flush
/// writes the same points again, and reads resolve the duplicates).
pub(crate) fn write_frozen(
    files: &dyn PartFiles,
    frozen: &Frozen,
    partition_len: i64,
    blocks: Blocks,
    wal_seq: u64,
    next_id: &mut dyn FnMut() -> u64,
) -> Result<Vec<Arc<Part>>> {
    // Partition start -> (partition, [series index]).
    let mut partitions: BTreeMap<Timestamp, (Range<Timestamp>, Vec<usize>)> = BTreeMap::new();
    for (i, (_, data)) in frozen.series.iter().enumerate() {
        let mut next = data.first_at_or_after(Timestamp::MIN);
        while let Some(at) = next {
            let partition = partition_of(at, partition_len);
            next = match partition.end {
                Timestamp::MAX => None,
                end => data.first_at_or_after(end),
            };
            partitions
                .entry(partition.start)
                .or_insert_with(|| (partition, Vec::new()))
                .1
                .push(i);
        }
    }
    let mut written = Vec::with_capacity(partitions.len());
    for (start, (partition, slices)) in partitions {
        let keys: Vec<_> = slices
            .iter()
            .map(|&i| (frozen.series[i].0.org, &frozen.series[i].0.key))
            .collect();
        let slices: Vec<usize> = sorted_order(&keys).into_iter().map(|k| slices[k]).collect();
        let at = PartLocation {
            partition: start,
            name: PartName::single(next_id()),
        };
        let mut writer = PartWriter::create(
            files,
            at,
            partition.clone(),
            wal_seq,
            blocks.summary_min_points,
        )?;
        writer.expect_series(slices.iter().map(|&i| frozen.series[i].0.org));
        for i in slices {
            let (series, data) = &frozen.series[i];
            writer.begin_series(series.org, &series.key, series.data_type)?;
            // Timestamps end before `Timestamp::MAX` (see `head::limits::MAX_TIMESTAMP`),
            // so the exclusive end of the last partition loses nothing.
            data.blocks(partition.clone(), blocks.points, |ts, values| {
                writer.add_block(ts, values)
            })?;
        }
        // The part shares the head's keys.
        written.push(Arc::new(writer.finish_and_open(files)?));
    }
    Ok(written)
}
