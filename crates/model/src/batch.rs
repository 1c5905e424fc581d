//! The write type every front end produces: a batch of points for series of one organization.
//!
//! A front end decodes its wire format into a [`WriteBatch`] and calls
//! [`WriteBatch::validate`]. Only the [`ValidatedBatch`] that comes out can be handed to storage,
//! so the write-ahead log never sees a batch that breaks these rules:
//!
//! - the batch holds at least one series and every series at least one point;
//! - every value has the data type the series declares;
//! - entries naming the same series are merged into one, in order, and must declare one type.
//!
//! Timestamps are not optional in this type: a front end whose protocol lets a point omit its
//! timestamp fills in the arrival time before building the batch. What storage checks beyond
//! this (a series' type for life, the out-of-order window, limits) depends on what is stored and
//! is checked there.

use std::collections::{HashMap, HashSet};

use crate::{DataType, ErrorKind, OrgId, SeriesKey, Timestamp, Value};

/// One point: a time and a typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Nanoseconds since the Unix epoch, UTC.
    pub timestamp: Timestamp,
    /// The value, of the series' data type.
    pub value: Value,
}

impl Point {
    /// A point at `timestamp`.
    pub fn new(timestamp: Timestamp, value: Value) -> Self {
        Point { timestamp, value }
    }
}

/// The points written to one series, in the order they arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    /// Which series.
    pub key: SeriesKey,
    /// The series' declared data type.
    pub data_type: DataType,
    /// The points, in any time order. Two points with one timestamp: the later one wins.
    pub points: Vec<Point>,
}

/// An unvalidated batch of points for series of one organization, as a front end builds it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBatch {
    /// The organization that owns every series of the batch.
    pub org: OrgId,
    /// The series and their points.
    pub series: Vec<SeriesPoints>,
}

/// Why a [`WriteBatch`] is not valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// The batch holds no series.
    #[error("write batch for {org} holds no series")]
    Empty {
        /// The batch's organization.
        org: OrgId,
    },
    /// A series has no points.
    #[error("series {series} has no points")]
    NoPoints {
        /// The series, in canonical form.
        series: String,
    },
    /// A value does not have the series' declared type.
    #[error(
        "series {series} is declared {declared} but its point at {timestamp} (index {index}) is {found}"
    )]
    TypeMismatch {
        /// The series, in canonical form.
        series: String,
        /// The declared type.
        declared: DataType,
        /// The type of the offending value.
        found: DataType,
        /// The offending point's timestamp.
        timestamp: Timestamp,
        /// The offending point's index in the series' points.
        index: usize,
    },
    /// Two entries of one series declare different types.
    #[error("series {series} appears twice in the batch, declared {first} and then {second}")]
    ConflictingTypes {
        /// The series, in canonical form.
        series: String,
        /// The type declared first.
        first: DataType,
        /// The type declared later.
        second: DataType,
    },
}

impl BatchError {
    /// Every batch error is invalid input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

impl WriteBatch {
    /// An empty batch for `org`.
    pub fn new(org: OrgId) -> Self {
        WriteBatch {
            org,
            series: Vec::new(),
        }
    }

    /// Adds points for one series.
    pub fn push(&mut self, key: SeriesKey, data_type: DataType, points: Vec<Point>) -> &mut Self {
        self.series.push(SeriesPoints {
            key,
            data_type,
            points,
        });
        self
    }

    /// Checks the batch against the rules of the module docs and merges repeated series.
    pub fn validate(mut self) -> Result<ValidatedBatch, BatchError> {
        if self.series.is_empty() {
            return Err(BatchError::Empty { org: self.org });
        }
        for s in &self.series {
            if s.points.is_empty() {
                return Err(BatchError::NoPoints {
                    series: s.key.to_string(),
                });
            }
            if let Some((index, p)) = s
                .points
                .iter()
                .enumerate()
                .find(|(_, p)| p.value.data_type() != s.data_type)
            {
                return Err(BatchError::TypeMismatch {
                    series: s.key.to_string(),
                    declared: s.data_type,
                    found: p.value.data_type(),
                    timestamp: p.timestamp,
                    index,
                });
            }
        }
        if self.series.len() > 1 {
            self.series = merge_repeated(std::mem::take(&mut self.series))?;
        }
        let points = self.series.iter().map(|s| s.points.len()).sum();
        Ok(ValidatedBatch {
            batch: self,
            points,
        })
    }
}

fn merge_repeated(series: Vec<SeriesPoints>) -> Result<Vec<SeriesPoints>, BatchError> {
    // Most batches name each series once: find out without cloning a key.
    let mut seen: HashSet<&SeriesKey, foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(series.len(), Default::default());
    if series.iter().all(|s| seen.insert(&s.key)) {
        return Ok(series);
    }
    drop(seen);
    let mut index: HashMap<SeriesKey, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<SeriesPoints> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.key) {
            Some(&i) => {
                let first = &mut out[i];
                if first.data_type != s.data_type {
                    return Err(BatchError::ConflictingTypes {
                        series: s.key.to_string(),
                        first: first.data_type,
                        second: s.data_type,
                    });
                }
                first.points.extend(s.points);
            }
            None => {
                index.insert(s.key.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// A batch that passed [`WriteBatch::validate`]: the only kind of batch storage accepts.
///
/// It cannot be built any other way, nor changed once built; each series appears once.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedBatch {
    batch: WriteBatch,
    points: usize,
}

impl ValidatedBatch {
    /// The organization that owns every series of the batch.
    pub fn org(&self) -> OrgId {
        self.batch.org
    }

    /// The series and their points; each series appears once, in the order of its first
    /// [`WriteBatch::push`], so that a batch that pushed each series once keeps its order.
    pub fn series(&self) -> &[SeriesPoints] {
        &self.batch.series
    }

    /// How many points the batch holds.
    pub fn point_count(&self) -> usize {
        self.points
    }

    /// The batch, to be changed and validated again.
    pub fn into_inner(self) -> WriteBatch {
        self.batch
    }

    /// The batch without the series for which `keep` (given each series' index in
    /// [`series`](Self::series) and the series) returns false, or `None` when no series is
    /// kept. The kept series move, in order, with their points: nothing is cloned.
    ///
    /// Dropping whole series keeps every rule of the module docs but the first, hence the
    /// `None`.
    pub fn retain(mut self, mut keep: impl FnMut(usize, &SeriesPoints) -> bool) -> Option<Self> {
        let mut index = 0;
        self.batch.series.retain(|s| {
            index += 1;
            keep(index - 1, s)
        });
        if self.batch.series.is_empty() {
            return None;
        }
        self.points = self.batch.series.iter().map(|s| s.points.len()).sum();
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> SeriesKey {
        SeriesKey::new(name, [("asset", "NostromoLV426")]).unwrap()
    }

    fn doubles(ts: &[i64]) -> Vec<Point> {
        ts.iter()
            .map(|&t| Point::new(t, Value::Double(t as f64)))
            .collect()
    }

    #[test]
    fn valid_batch_merges_repeated_series() {
        let mut b = WriteBatch::new(OrgId(7));
        b.push(key("a"), DataType::Double, doubles(&[1, 2]));
        b.push(key("b"), DataType::Double, doubles(&[1]));
        b.push(key("a"), DataType::Double, doubles(&[3]));
        let v = b.validate().unwrap();
        assert_eq!(v.org(), OrgId(7));
        assert_eq!(v.point_count(), 4);
        assert_eq!(v.series().len(), 2);
        assert_eq!(v.series()[0].points, doubles(&[1, 2, 3]));
    }

    #[test]
    fn retain_drops_whole_series_and_recounts() {
        let mut b = WriteBatch::new(OrgId(7));
        b.push(key("a"), DataType::Double, doubles(&[1, 2]));
        b.push(key("b"), DataType::Double, doubles(&[1]));
        b.push(key("c"), DataType::Double, doubles(&[1, 2, 3]));
        let v = b.validate().unwrap();
        let kept = v.clone().retain(|i, _| i != 1).unwrap();
        assert_eq!(kept.point_count(), 5);
        let names: Vec<_> = kept.series().iter().map(|s| s.key.name()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(v.retain(|_, _| false), None);
    }

    #[test]
    fn invalid_batches_say_why() {
        let mismatched = {
            let mut b = WriteBatch::new(OrgId(1));
            let mut points = doubles(&[1]);
            points.push(Point::new(5, Value::Int64(3)));
            b.push(key("a"), DataType::Double, points);
            b
        };
        let conflicting = {
            let mut b = WriteBatch::new(OrgId(1));
            b.push(key("a"), DataType::Double, doubles(&[1]));
            b.push(
                key("a"),
                DataType::Float,
                vec![Point::new(2, Value::Float(1.0))],
            );
            b
        };
        let no_points = {
            let mut b = WriteBatch::new(OrgId(1));
            b.push(key("a"), DataType::Double, vec![]);
            b
        };
        let cases = [
            (WriteBatch::new(OrgId(1)), "org 1 holds no series"),
            (
                no_points,
                r#"series a{asset="NostromoLV426"} has no points"#,
            ),
            (
                mismatched,
                r#"series a{asset="NostromoLV426"} is declared double but its point at 5 (index 1) is int64"#,
            ),
            (conflicting, "declared double and then float"),
        ];
        for (batch, want) in cases {
            let err = batch.validate().unwrap_err();
            assert!(err.to_string().contains(want), "{err}");
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
    }
}
