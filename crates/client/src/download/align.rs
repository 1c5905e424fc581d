//! Several channels on one timeline, as pandas' `merge_asof(direction="backward")` puts them:
//! the first channel's times are the rows, and every other channel contributes, on each row,
//! its latest point at or before that row's time.
//!
//! For example, with `a` at 10, 20, 30 and `b` at 5 (x), 20 (y), 20 (z), 40 (w):
//!
//! | time | a | b |
//! |---|---|---|
//! | 10 | a₁₀ | x |
//! | 20 | a₂₀ | z |
//! | 30 | a₃₀ | z |
//!
//! An exact match counts (20 takes the point at 20), among points at the same instant the last
//! one wins (z, not y), a row before a channel's first point gets null, and points after the
//! last row (w) are dropped. Applying `merge_asof` pairwise, as the Python example does, gives
//! the same table, because each channel is matched against the first channel's times.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, TimestampNanosecondArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use super::result::{TIME, VALUE, duplicates};
use crate::{Error, Result};

/// Puts `channels`, each a name and a batch with a sorted nanosecond `time` column (as
/// [`super::QueryResult`] gives), on the timeline of the first.
///
/// The result has `time` and, for each channel, its `value` column named after the channel
/// and any other column (an enum's `value_name`) as `<name>.<column>`. The first channel's
/// columns are copied; the others' are nullable, null on rows before their first point.
pub fn align(channels: &[(&str, &RecordBatch)]) -> Result<RecordBatch> {
    let Some((_, first)) = channels.first() else {
        return Err(Error::Validation(
            "align needs at least one channel".to_owned(),
        ));
    };
    let repeated = duplicates(channels.iter().map(|(name, _)| *name));
    if !repeated.is_empty() {
        return Err(Error::Validation(format!(
            "align got channel {:?} more than once",
            repeated[0]
        )));
    }
    let times: Vec<&TimestampNanosecondArray> = channels
        .iter()
        .map(|(name, batch)| sorted_times(name, batch))
        .collect::<Result<_>>()?;
    let rows = times[0];
    let time_index = first.schema().index_of(TIME).unwrap_or(0);

    let mut fields = vec![first.schema().field(time_index).as_ref().clone()];
    let mut columns = vec![first.column(time_index).clone()];
    for (n, ((name, batch), their_times)) in channels.iter().zip(&times).enumerate() {
        let indices = (n > 0).then(|| backward_matches(rows.values(), their_times.values()));
        let schema = batch.schema();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            if field.name() == TIME {
                continue;
            }
            let renamed = if field.name() == VALUE {
                (*name).to_owned()
            } else {
                format!("{name}.{}", field.name())
            };
            let (column, nullable) = match &indices {
                None => (column.clone(), field.is_nullable()),
                Some(indices) => {
                    let taken = arrow_select::take::take(column.as_ref(), indices, None)
                        .map_err(|e| Error::Validation(format!("cannot align {name:?}: {e}")))?;
                    (taken, true)
                }
            };
            fields.push(
                Field::new(renamed, field.data_type().clone(), nullable)
                    .with_metadata(field.metadata().clone()),
            );
            columns.push(column);
        }
    }
    let repeated = duplicates(fields.iter().map(|f| f.name().as_str()));
    if !repeated.is_empty() {
        return Err(Error::Validation(format!(
            "aligning would make two columns named {:?}",
            repeated[0]
        )));
    }
    let schema = Schema::new(fields).with_metadata(HashMap::new());
    RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| Error::Validation(format!("cannot align the channels: {e}")))
}

/// The `time` column of `batch`, checked to be nanoseconds in ascending order.
fn sorted_times<'a>(name: &str, batch: &'a RecordBatch) -> Result<&'a TimestampNanosecondArray> {
    let column: &ArrayRef = batch.column_by_name(TIME).ok_or_else(|| {
        Error::Validation(format!(
            "channel {name:?} has no {TIME:?} column to align on"
        ))
    })?;
    let times = column
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .filter(|_| {
            matches!(
                column.data_type(),
                DataType::Timestamp(TimeUnit::Nanosecond, _)
            )
        })
        .ok_or_else(|| {
            Error::Validation(format!(
                "channel {name:?} has a {TIME:?} column of type {}, not nanosecond timestamps",
                column.data_type()
            ))
        })?;
    if times.null_count() > 0 {
        return Err(Error::Validation(format!(
            "channel {name:?} has null times"
        )));
    }
    if !times.values().is_sorted() {
        return Err(Error::Validation(format!(
            "channel {name:?} is not sorted by time"
        )));
    }
    Ok(times)
}

/// For each of `rows`, the index of the last of `theirs` at or before it, or null.
fn backward_matches(rows: &[i64], theirs: &[i64]) -> UInt32Array {
    let mut next = 0;
    rows.iter()
        .map(|&t| {
            while next < theirs.len() && theirs[next] <= t {
                next += 1;
            }
            // Batches above 4 billion rows are out of reach of this index type anyway.
            next.checked_sub(1).and_then(|i| u32::try_from(i).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_look_backward_and_take_the_last_of_equal_times() {
        let got: Vec<Option<u32>> = backward_matches(&[1, 10, 20, 30], &[5, 20, 20, 40])
            .iter()
            .collect();
        assert_eq!(got, [None, Some(0), Some(2), Some(2)]);
        let got: Vec<Option<u32>> = backward_matches(&[1, 2], &[]).iter().collect();
        assert_eq!(got, [None, None]);
    }
}
