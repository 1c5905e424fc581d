//! Turning points frozen in the head into parts: one new part per time partition touched,
//! series sorted by organization and key, each cut into blocks of a bounded number of points.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use sextant_model::{OrgId, SeriesKey, Timestamp};

use super::{Part, PartFiles, PartLocation, PartName, PartWriter, partition_of};
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
    block_points: usize,
    wal_seq: u64,
    next_id: &mut dyn FnMut() -> u64,
) -> Result<Vec<Arc<Part>>> {
    // Partition start -> (partition, [(series index, positions)]).
    type Slices = Vec<(usize, Range<usize>)>;
    let mut partitions: BTreeMap<Timestamp, (Range<Timestamp>, Slices)> = BTreeMap::new();
    for (i, (_, data)) in frozen.series.iter().enumerate() {
        let ts = data.timestamps();
        let mut at = 0;
        while at < ts.len() {
            let partition = partition_of(ts[at], partition_len);
            let end = if partition.end == Timestamp::MAX {
                ts.len()
            } else {
                at + ts[at..].partition_point(|&t| t < partition.end)
            };
            partitions
                .entry(partition.start)
                .or_insert_with(|| (partition, Vec::new()))
                .1
                .push((i, at..end));
            at = end;
        }
    }
    let block_points = block_points.max(1);
    // The head's keys, for the parts to share instead of the copies they parse.
    let canonical: std::collections::HashMap<(OrgId, &SeriesKey), &SeriesKey> = frozen
        .series
        .iter()
        .map(|(series, _)| ((series.org, &series.key), &series.key))
        .collect();
    let mut written = Vec::with_capacity(partitions.len());
    for (start, (partition, mut slices)) in partitions {
        slices.sort_by(|a, b| {
            let (sa, sb) = (&frozen.series[a.0].0, &frozen.series[b.0].0);
            (sa.org, &sa.key).cmp(&(sb.org, &sb.key))
        });
        let at = PartLocation {
            partition: start,
            name: PartName::single(next_id()),
        };
        let mut writer = PartWriter::create(files, at, partition, wal_seq)?;
        for (i, positions) in slices {
            let (series, data) = &frozen.series[i];
            writer.begin_series(series.org, &series.key, series.data_type);
            let mut at = positions.start;
            while at < positions.end {
                let end = (at + block_points).min(positions.end);
                writer.add_block(&data.timestamps()[at..end], &data.codec_column(at..end))?;
                at = end;
            }
        }
        let at = writer.finish()?;
        let mut part = Part::open_in(files, at)?;
        part.share_keys(&|org, key| canonical.get(&(org, key)).map(|&k| k.clone()));
        written.push(Arc::new(part));
    }
    Ok(written)
}
