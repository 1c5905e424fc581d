//! Downsampling that keeps a series' shape: per time bucket, the first, the smallest, the
//! largest and the last point (M4, as plotting tools and VictoriaMetrics' vmui draw large
//! series), each a real point of the series with its own timestamp, in time order, each once.
//!
//! A line drawn through them at one pixel column per bucket is the line drawn through every
//! point: spikes survive, which an average or every n-th point would lose. Buckets are `width`
//! nanoseconds wide, counted from `origin`, so that the pages of one read, sampled apart,
//! bucket alike.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::TimestampNanosecondArray;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, UInt32Array};
use arrow_schema::DataType;
use arrow_select::concat::concat;
use sextant_model::Timestamp;
use sextant_storage::ArrowPoints;

use crate::{Cursor, Reader, Result, Scan, Series, SeriesRef};

/// Time buckets of `width` nanoseconds from `origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Where bucket 0 starts.
    pub origin: Timestamp,
    /// The width of each, at least 1 ns.
    pub width: i64,
}

impl Buckets {
    /// The bucket of `t`.
    pub fn of(&self, t: Timestamp) -> i128 {
        (i128::from(t) - i128::from(self.origin)).div_euclid(i128::from(self.width.max(1)))
    }
}

/// Whether points of this Arrow type are numbers, which Sift's `sample_ms` samples (every other
/// type it keeps whole). [`m4`] samples booleans too.
pub fn samples(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Float64
            | DataType::Float32
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// The first, smallest, largest and last point of each bucket of `points` (in time order),
/// or `None` when their values are neither numbers ([`samples`]) nor booleans (false below
/// true). Of equal values the earliest is kept; a NaN is never the smallest or largest.
pub fn m4(points: &ArrowPoints, buckets: Buckets) -> Option<ArrowPoints> {
    let keep = match points.values.data_type() {
        DataType::Float64 => keep::<Float64Type>(points, buckets),
        DataType::Float32 => keep::<Float32Type>(points, buckets),
        DataType::Int32 => keep::<Int32Type>(points, buckets),
        DataType::Int64 => keep::<Int64Type>(points, buckets),
        DataType::UInt32 => keep::<UInt32Type>(points, buckets),
        DataType::UInt64 => keep::<UInt64Type>(points, buckets),
        DataType::Boolean => keep_bool(points, buckets),
        _ => return None,
    };
    let indices = UInt32Array::from(keep);
    let timestamps = arrow_select::take::take(&points.timestamps, &indices, None).ok()?;
    let values = arrow_select::take::take(points.values.as_ref(), &indices, None).ok()?;
    Some(ArrowPoints {
        timestamps: timestamps.as_primitive().clone(),
        values: Arc::clone(&values),
    })
}

/// Where the last bucket of `points` starts: the index of its first point (0 when all of them
/// are in one bucket; `points.len()` when there are none).
pub fn last_bucket_start(points: &ArrowPoints, buckets: Buckets) -> usize {
    let n = points.len();
    if n == 0 {
        return 0;
    }
    let times = points.timestamps.values();
    let last = buckets.of(times[n - 1]);
    // Times ascend: the first index whose bucket is the last one.
    times.partition_point(|t| buckets.of(*t) < last)
}

/// The points of one series in a range, sampled by [`m4`]: what [`read`] answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The points kept, in time order.
    pub points: ArrowPoints,
    /// How many points of the series the range holds.
    pub read: usize,
}

/// Reads `series` in `range` and samples it into `buckets` ([`m4`]), holding at most `page`
/// raw points at once: the cost of plotting a long range grows with the points read, its
/// memory with the buckets. `None` when the series' values are neither numbers ([`samples`])
/// nor booleans.
///
/// A page that ends inside a bucket is sampled up to that bucket, which the next page reads
/// again whole, so that no bucket is sampled in parts (unless one bucket holds more than `page`
/// points).
pub fn read(
    reader: &Reader<'_>,
    series: &SeriesRef,
    range: Range<Timestamp>,
    buckets: Buckets,
    page: usize,
) -> Result<Option<Sampled>> {
    let arrow_type = sextant_storage::read::arrow_type(series.data_type);
    if !samples(&arrow_type) && arrow_type != DataType::Boolean {
        return Ok(None);
    }
    let page = page.max(1);
    let (mut times, mut values) = (Vec::new(), Vec::new());
    let mut read = 0;
    let mut cursor = None;
    loop {
        let scan = Scan::new(Series::List(vec![series.clone()]), range.clone())
            .limit(page)
            .cursor(cursor);
        let answer = reader.scan(&scan)?;
        let Some(batch) = answer.batches.into_iter().next() else {
            break;
        };
        let n = batch.points.len();
        let whole = match answer.next {
            Some(_) => match last_bucket_start(&batch.points, buckets) {
                0 => n,
                last => last,
            },
            None => n,
        };
        let points = ArrowPoints {
            timestamps: batch.points.timestamps.slice(0, whole),
            values: batch.points.values.slice(0, whole),
        };
        read += whole;
        if let Some(kept) = m4(&points, buckets) {
            times.push(kept.timestamps);
            values.push(kept.values);
        }
        if answer.next.is_none() {
            break;
        }
        cursor = Some(Cursor::after(0, points.timestamps.value(whole - 1)));
    }
    Ok(Some(Sampled {
        points: join(times, values, &arrow_type)?,
        read,
    }))
}

/// Reads `series` in `range` keeping at most the first `per_bucket` points of each of
/// `buckets`, of any type: what a plot draws of values that are not numbers (text markers),
/// spread over the range however the points cluster. [`Sampled::read`] counts every point of
/// the range; fewer kept means some were left out.
pub fn read_first(
    reader: &Reader<'_>,
    series: &SeriesRef,
    range: Range<Timestamp>,
    buckets: Buckets,
    per_bucket: usize,
    page: usize,
) -> Result<Sampled> {
    let arrow_type = sextant_storage::read::arrow_type(series.data_type);
    let (mut times, mut values) = (Vec::new(), Vec::new());
    let mut read = 0;
    let mut cursor = None;
    let (mut bucket, mut in_bucket) = (None, 0);
    loop {
        let scan = Scan::new(Series::List(vec![series.clone()]), range.clone())
            .limit(page.max(1))
            .cursor(cursor);
        let answer = reader.scan(&scan)?;
        let Some(batch) = answer.batches.into_iter().next() else {
            break;
        };
        let points = batch.points;
        read += points.len();
        let mut keep = Vec::new();
        for (i, &t) in points.timestamps.values().iter().enumerate() {
            let b = buckets.of(t);
            if bucket != Some(b) {
                (bucket, in_bucket) = (Some(b), 0);
            }
            if in_bucket < per_bucket {
                keep.push(i as u32);
                in_bucket += 1;
            }
        }
        let indices = UInt32Array::from(keep);
        times.push(
            arrow_select::take::take(&points.timestamps, &indices, None)?
                .as_primitive()
                .clone(),
        );
        values.push(arrow_select::take::take(
            points.values.as_ref(),
            &indices,
            None,
        )?);
        match (answer.next, points.timestamps.values().last()) {
            (Some(_), Some(&last)) => cursor = Some(Cursor::after(0, last)),
            _ => break,
        }
    }
    Ok(Sampled {
        points: join(times, values, &arrow_type)?,
        read,
    })
}

/// The pages' points as one.
fn join(
    times: Vec<TimestampNanosecondArray>,
    values: Vec<ArrayRef>,
    arrow_type: &DataType,
) -> Result<ArrowPoints> {
    let timestamps = match times.as_slice() {
        [] => TimestampNanosecondArray::from(Vec::<i64>::new()).with_timezone("UTC"),
        [one] => one.clone(),
        many => {
            let arrays: Vec<&dyn Array> = many.iter().map(|a| a as &dyn Array).collect();
            concat(&arrays)?.as_primitive().clone()
        }
    };
    let values = match values.as_slice() {
        [] => arrow_array::new_empty_array(arrow_type),
        [one] => Arc::clone(one),
        many => {
            let arrays: Vec<&dyn Array> = many.iter().map(|a| a.as_ref()).collect();
            concat(&arrays)?
        }
    };
    Ok(ArrowPoints { timestamps, values })
}

/// [`keep`] for booleans, false below true: each bucket's first point, its first false, its
/// first true and its last, so that a pulse shorter than a bucket survives.
fn keep_bool(points: &ArrowPoints, buckets: Buckets) -> Vec<u32> {
    let values = points.values.as_boolean();
    keep_each(points, buckets, |bucket| {
        let valid = || bucket.clone().filter(|&j| values.is_valid(j));
        (
            valid().find(|&j| !values.value(j)),
            valid().find(|&j| values.value(j)),
        )
    })
}

fn keep<T>(points: &ArrowPoints, buckets: Buckets) -> Vec<u32>
where
    T: ArrowPrimitiveType,
    T::Native: PartialOrd,
{
    let values = points.values.as_primitive::<T>();
    keep_each(points, buckets, |bucket| {
        let (mut low, mut high) = (None::<usize>, None::<usize>);
        for j in bucket {
            // A NaN is no extreme (it compares with nothing): a bucket that starts with one
            // still keeps its lowest and highest numbers.
            if !values.is_valid(j) || values.value(j).partial_cmp(&values.value(j)).is_none() {
                continue;
            }
            let v = values.value(j);
            if low.is_none_or(|l| v.partial_cmp(&values.value(l)) == Some(Ordering::Less)) {
                low = Some(j);
            }
            if high.is_none_or(|h| v.partial_cmp(&values.value(h)) == Some(Ordering::Greater)) {
                high = Some(j);
            }
        }
        (low, high)
    })
}

/// The indices to keep of `points`: of each bucket (a range of indices), its first point, the
/// two `extremes` picks, and its last, in time order, each once.
fn keep_each(
    points: &ArrowPoints,
    buckets: Buckets,
    extremes: impl Fn(Range<usize>) -> (Option<usize>, Option<usize>),
) -> Vec<u32> {
    let times = points.timestamps.values();
    let mut keep = Vec::new();
    let mut i = 0;
    while i < times.len() {
        let bucket = buckets.of(times[i]);
        let mut j = i;
        while j < times.len() && buckets.of(times[j]) == bucket {
            j += 1;
        }
        let (low, high) = extremes(i..j);
        let mut chosen = [Some(i), low, high, Some(j - 1)];
        chosen.sort_unstable();
        let mut last = None;
        for index in chosen.into_iter().flatten() {
            if last != Some(index) {
                keep.push(index as u32);
                last = Some(index);
            }
        }
        i = j;
    }
    keep
}

#[cfg(test)]
mod tests {
    use arrow_array::{Float64Array, Int64Array, StringArray, TimestampNanosecondArray};

    use super::*;

    fn points(times: &[i64], values: Arc<dyn Array>) -> ArrowPoints {
        ArrowPoints {
            timestamps: TimestampNanosecondArray::from(times.to_vec()).with_timezone("UTC"),
            values,
        }
    }

    fn pairs(points: &ArrowPoints) -> Vec<(i64, f64)> {
        let values = points.values.as_primitive::<Float64Type>();
        (0..points.len())
            .map(|i| (points.timestamps.value(i), values.value(i)))
            .collect()
    }

    #[test]
    fn each_bucket_keeps_its_first_lowest_highest_and_last_point_in_time_order() {
        // Bucket [0, 10): a spike up and one down between two ordinary points.
        // Bucket [10, 20): one point. Bucket [20, 30): two points.
        let input = points(
            &[0, 2, 4, 6, 8, 15, 21, 29],
            Arc::new(Float64Array::from(vec![
                1.0, 9.0, 1.5, -7.0, 2.0, 5.0, 3.0, 3.0,
            ])),
        );
        let buckets = Buckets {
            origin: 0,
            width: 10,
        };
        let sampled = m4(&input, buckets).unwrap();
        assert_eq!(
            pairs(&sampled),
            [
                (0, 1.0),
                (2, 9.0),
                (6, -7.0),
                (8, 2.0),
                (15, 5.0),
                (21, 3.0),
                (29, 3.0),
            ]
        );
        assert_eq!(sampled.timestamps.timezone(), Some("UTC"));
        assert_eq!(last_bucket_start(&input, buckets), 6);
        // Buckets count from the origin, before it too.
        let shifted = Buckets {
            origin: 5,
            width: 10,
        };
        assert_eq!(shifted.of(4), -1);
        assert_eq!(shifted.of(21), 1);
        assert_eq!(
            last_bucket_start(&input, shifted),
            7,
            "29 is alone in [25, 35)"
        );
    }

    #[test]
    fn a_read_in_pages_samples_as_one_pass_over_every_point() {
        use sextant_model::{DataType, Point, Value};

        use crate::testing::{ORG, key, open, write};

        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let series = key("wave", &[("unit", "a")]);
        // A saw tooth with a spike now and then, 1000 points, 1 ns apart.
        let all: Vec<Point> = (0..1000)
            .map(|t| {
                let v = if t % 97 == 0 { 500.0 } else { (t % 13) as f64 };
                Point::new(t, Value::Double(v))
            })
            .collect();
        write(&db, &series, DataType::Double, all.clone());
        let reader = Reader::new(&db, ORG);
        let series = SeriesRef {
            key: series,
            data_type: DataType::Double,
        };
        let buckets = Buckets {
            origin: 100,
            width: 37,
        };
        let range = 100..900;
        let inside: Vec<Point> = all
            .into_iter()
            .filter(|p| range.contains(&p.timestamp))
            .collect();
        let whole = m4(
            &ArrowPoints::from_points(DataType::Double, &inside),
            buckets,
        )
        .unwrap();
        // Pages smaller than a bucket, about one, and larger than the range.
        for page in [50, 37, 10_000] {
            let sampled = read(&reader, &series, range.clone(), buckets, page)
                .unwrap()
                .unwrap();
            assert_eq!(sampled.read, 800, "page {page}");
            assert_eq!(pairs(&sampled.points), pairs(&whole), "page {page}");
        }
        // Text is not sampled; an unknown series reads as empty.
        let text = SeriesRef {
            key: key("note", &[]),
            data_type: DataType::String,
        };
        assert_eq!(
            read(&reader, &text, range.clone(), buckets, 50).unwrap(),
            None
        );
        let unknown = SeriesRef {
            key: key("none", &[]),
            data_type: DataType::Double,
        };
        let empty = read(&reader, &unknown, range, buckets, 50)
            .unwrap()
            .unwrap();
        assert_eq!((empty.read, empty.points.len()), (0, 0));
    }

    #[test]
    fn the_first_points_of_each_bucket_whatever_the_pages() {
        use arrow_array::StringArray;
        use sextant_model::{DataType, Point, Value};

        use crate::testing::{ORG, key, open, write};

        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let notes = key("notes", &[]);
        let all: Vec<Point> = (0..100)
            .map(|t| Point::new(t, Value::String(format!("n{t}"))))
            .collect();
        write(&db, &notes, DataType::String, all);
        let reader = Reader::new(&db, ORG);
        let series = SeriesRef {
            key: notes,
            data_type: DataType::String,
        };
        // Buckets of 7 from 3: [3, 10), [10, 17), ...; two of each.
        let buckets = Buckets {
            origin: 3,
            width: 7,
        };
        let expected: Vec<String> = (3..100)
            .filter(|t| (t - 3) % 7 < 2)
            .map(|t| format!("n{t}"))
            .collect();
        for page in [1, 5, 1000] {
            let first = read_first(&reader, &series, 3..100, buckets, 2, page).unwrap();
            assert_eq!(first.read, 97, "page {page}");
            let texts = first
                .points
                .values
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let got: Vec<&str> = texts.iter().map(|t| t.unwrap()).collect();
            assert_eq!(got, expected, "page {page}");
        }
    }

    #[test]
    fn integers_sample_and_other_types_do_not() {
        let input = points(
            &[0, 1, 2, 3, 4],
            Arc::new(Int64Array::from(vec![5, i64::MIN, 7, i64::MAX, 6])),
        );
        let sampled = m4(
            &input,
            Buckets {
                origin: 0,
                width: 100,
            },
        )
        .unwrap();
        let values = sampled.values.as_primitive::<Int64Type>();
        assert_eq!(
            values.values().to_vec(),
            vec![5, i64::MIN, i64::MAX, 6],
            "first, lowest, highest, last"
        );
        let text = points(&[0, 1], Arc::new(StringArray::from(vec!["a", "b"])));
        assert!(
            m4(
                &text,
                Buckets {
                    origin: 0,
                    width: 100
                }
            )
            .is_none()
        );
        assert!(!samples(&DataType::Utf8));
    }

    #[test]
    fn nan_is_never_the_extreme() {
        let input = points(
            &[0, 1, 2, 3],
            Arc::new(Float64Array::from(vec![1.0, f64::NAN, 0.5, 2.0])),
        );
        let sampled = m4(
            &input,
            Buckets {
                origin: 0,
                width: 10,
            },
        )
        .unwrap();
        assert_eq!(
            sampled.timestamps.values().to_vec(),
            vec![0, 2, 3],
            "NaN at 1 is neither lowest nor highest"
        );
        // A boolean pulse shorter than a bucket survives.
        let input = points(
            &[0, 1, 2, 3, 4, 5],
            Arc::new(arrow_array::BooleanArray::from(vec![
                false, false, true, false, false, false,
            ])),
        );
        let sampled = m4(
            &input,
            Buckets {
                origin: 0,
                width: 10,
            },
        )
        .unwrap();
        assert_eq!(sampled.timestamps.values().to_vec(), vec![0, 2, 5]);
        // A bucket that starts with NaN keeps its spike and its dip.
        let input = points(
            &[0, 1, 2, 3, 4],
            Arc::new(Float64Array::from(vec![f64::NAN, 1.0, 90.0, -5.0, 1.0])),
        );
        let sampled = m4(
            &input,
            Buckets {
                origin: 0,
                width: 10,
            },
        )
        .unwrap();
        assert_eq!(sampled.timestamps.values().to_vec(), vec![0, 2, 3, 4]);
    }
}
