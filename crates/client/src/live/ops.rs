//! Operators for streams of [`LivePoint`]s, in the spirit of streamz, for telemetry: each
//! keeps its state per series where that is what a telemetry user means (a rolling mean of
//! each host, not of all hosts mixed).
//!
//! `map`, `filter`, `take`, `for_each` and `collect` are [`futures_util::StreamExt`]'s;
//! [`TelemetryStreamExt`] adds:
//!
//! | operator | yields |
//! |---|---|
//! | [`accumulate`](TelemetryStreamExt::accumulate) | a value from an accumulator and each point (streamz's `accumulate`, a scan) |
//! | [`count_window`](TelemetryStreamExt::count_window) | the last `n` points of the series of each point |
//! | [`time_window`](TelemetryStreamExt::time_window) | event-time tumbling or sliding windows per series, once closed |
//! | [`batch`](TelemetryStreamExt::batch) | points in groups of at most `size`, or what came within `timeout` |
//! | [`zip_latest`](TelemetryStreamExt::zip_latest) | at each point of the named series, the latest value of each |
//! | [`distinct`](TelemetryStreamExt::distinct) | points whose value differs from their series' previous one |
//! | [`throttle`](TelemetryStreamExt::throttle) | at most one point per series per period of event time |

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt, stream};

use super::{LivePoint, LiveValue, Series};

/// The last points of one series ([`TelemetryStreamExt::count_window`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CountWindow {
    /// The series.
    pub series: Arc<Series>,
    /// Its last points, oldest first: fewer than asked until that many came.
    pub points: Vec<LivePoint>,
}

/// One closed event-time window of one series ([`TelemetryStreamExt::time_window`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeWindow {
    /// The series.
    pub series: Arc<Series>,
    /// Its first instant, nanoseconds since the Unix epoch.
    pub start: i64,
    /// The instant after its last.
    pub end: i64,
    /// Its points, in arrival order.
    pub points: Vec<LivePoint>,
    /// Points of this series that came after their windows had closed, since the previous
    /// window was yielded (they are in no window).
    pub late: u64,
}

/// The mean of the numeric values of `points`, `None` if none is numeric.
fn mean(points: &[LivePoint]) -> Option<f64> {
    let values: Vec<f64> = points.iter().filter_map(|p| p.value.as_f64()).collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

impl CountWindow {
    /// The mean of its numeric values.
    pub fn mean(&self) -> Option<f64> {
        mean(&self.points)
    }
}

impl TimeWindow {
    /// The mean of its numeric values.
    pub fn mean(&self) -> Option<f64> {
        mean(&self.points)
    }
}

/// The values of several series aligned in time ([`TelemetryStreamExt::zip_latest`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    /// The time of the point that made this row.
    pub timestamp: i64,
    /// Each named series' latest value at that point, in the order named; `None` until it has
    /// one.
    pub values: Vec<Option<LiveValue>>,
}

/// Operators on streams of points; see the [module docs](self).
pub trait TelemetryStreamExt: Stream<Item = LivePoint> + Sized {
    /// Yields `f(&mut acc, point)` for each point, `acc` starting at `init` (a running
    /// total, an exponential average, a state machine).
    fn accumulate<A, T>(
        self,
        init: A,
        mut f: impl FnMut(&mut A, LivePoint) -> T,
    ) -> impl Stream<Item = T> {
        let mut acc = init;
        self.map(move |p| f(&mut acc, p))
    }

    /// At each point, the last `n` points of its series (its rolling window by count).
    fn count_window(self, n: usize) -> impl Stream<Item = CountWindow> {
        let n = n.max(1);
        let mut windows: HashMap<Arc<Series>, VecDeque<LivePoint>> = HashMap::new();
        self.map(move |p| {
            let window = windows.entry(Arc::clone(&p.series)).or_default();
            if window.len() == n {
                window.pop_front();
            }
            let series = Arc::clone(&p.series);
            window.push_back(p);
            CountWindow {
                series,
                points: window.iter().cloned().collect(),
            }
        })
    }

    /// Event-time windows of `size` starting every `slide` (`slide == size`: tumbling),
    /// per series. A window is yielded once a point of its series at or after its end
    /// arrives; a point older than every open window is late and counted in the next one.
    fn time_window(self, size: Duration, slide: Duration) -> impl Stream<Item = TimeWindow> {
        let size = i64::try_from(size.as_nanos()).unwrap_or(i64::MAX).max(1);
        let slide = i64::try_from(slide.as_nanos())
            .unwrap_or(i64::MAX)
            .clamp(1, size);
        #[derive(Default)]
        struct State {
            open: BTreeMap<i64, Vec<LivePoint>>,
            closed_before: Option<i64>,
            late: u64,
        }
        let mut states: HashMap<Arc<Series>, State> = HashMap::new();
        self.flat_map(move |p| {
            let series = Arc::clone(&p.series);
            let state = states.entry(Arc::clone(&series)).or_default();
            let ts = p.timestamp;
            let mut start = ts.div_euclid(slide) * slide;
            let mut placed = false;
            while start + size > ts {
                if state.closed_before.is_none_or(|c| start + size > c) {
                    state.open.entry(start).or_default().push(p.clone());
                    placed = true;
                }
                start -= slide;
            }
            if !placed {
                state.late += 1;
            }
            let mut out = Vec::new();
            let ready: Vec<i64> = state
                .open
                .keys()
                .copied()
                .take_while(|s| s + size <= ts)
                .collect();
            for start in ready {
                if let Some(points) = state.open.remove(&start) {
                    out.push(TimeWindow {
                        series: Arc::clone(&series),
                        start,
                        end: start + size,
                        points,
                        late: std::mem::take(&mut state.late),
                    });
                }
                state.closed_before = Some(
                    state
                        .closed_before
                        .map_or(start + size, |c| c.max(start + size)),
                );
            }
            stream::iter(out)
        })
    }

    /// Points in groups of at most `size`, a group going out early when `timeout` passed
    /// since its first point.
    fn batch(self, size: usize, timeout: Duration) -> impl Stream<Item = Vec<LivePoint>> {
        tokio_stream::StreamExt::chunks_timeout(self, size.max(1), timeout)
    }

    /// At each point of one of `series` (names, or keys as [`Series::key`] prints them), the
    /// latest value of each of them: channels aligned by time, as rules align them.
    fn zip_latest(self, series: &[&str]) -> impl Stream<Item = Aligned> {
        let wanted: Vec<String> = series.iter().map(|s| (*s).to_owned()).collect();
        let mut latest: Vec<Option<LiveValue>> = vec![None; wanted.len()];
        self.filter_map(move |p| {
            let key = p.series.key();
            let mut hit = false;
            for (i, w) in wanted.iter().enumerate() {
                if *w == p.series.name || *w == key {
                    latest[i] = Some(p.value.clone());
                    hit = true;
                }
            }
            std::future::ready(hit.then(|| Aligned {
                timestamp: p.timestamp,
                values: latest.clone(),
            }))
        })
    }

    /// Only the points whose value differs from the previous value of their series.
    fn distinct(self) -> impl Stream<Item = LivePoint> {
        let mut last: HashMap<Arc<Series>, LiveValue> = HashMap::new();
        self.filter(move |p| {
            let changed = last.get(&p.series) != Some(&p.value);
            if changed {
                last.insert(Arc::clone(&p.series), p.value.clone());
            }
            std::future::ready(changed)
        })
    }

    /// At most one point per series per `period` of event time: the first of each period.
    fn throttle(self, period: Duration) -> impl Stream<Item = LivePoint> {
        let period = i64::try_from(period.as_nanos()).unwrap_or(i64::MAX);
        let mut last: HashMap<Arc<Series>, i64> = HashMap::new();
        self.filter(move |p| {
            let keep = last
                .get(&p.series)
                .is_none_or(|t| p.timestamp.saturating_sub(*t) >= period);
            if keep {
                last.insert(Arc::clone(&p.series), p.timestamp);
            }
            std::future::ready(keep)
        })
    }
}

impl<S: Stream<Item = LivePoint> + Sized> TelemetryStreamExt for S {}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str) -> Arc<Series> {
        Arc::new(Series {
            name: name.into(),
            labels: BTreeMap::new(),
            data_type: "double".into(),
        })
    }

    fn points(items: &[(&Arc<Series>, i64, f64)]) -> impl Stream<Item = LivePoint> {
        let v: Vec<LivePoint> = items
            .iter()
            .map(|(s, t, v)| LivePoint {
                series: Arc::clone(s),
                timestamp: *t,
                value: LiveValue::Float(*v),
            })
            .collect();
        stream::iter(v)
    }

    #[tokio::test]
    async fn count_windows_and_scans_keep_state_per_series() {
        let (a, b) = (series("a"), series("b"));
        let input = [(&a, 1, 1.0), (&b, 1, 10.0), (&a, 2, 3.0), (&a, 3, 5.0)];
        let means: Vec<(String, Option<f64>)> = points(&input)
            .count_window(2)
            .map(|w| (w.series.name.clone(), w.mean()))
            .collect()
            .await;
        assert_eq!(
            means,
            vec![
                ("a".into(), Some(1.0)),
                ("b".into(), Some(10.0)),
                ("a".into(), Some(2.0)),
                ("a".into(), Some(4.0))
            ]
        );
        let totals: Vec<f64> = points(&input)
            .accumulate(0.0, |sum, p| {
                *sum += p.value.as_f64().unwrap_or(0.0);
                *sum
            })
            .collect()
            .await;
        assert_eq!(totals, vec![1.0, 11.0, 14.0, 19.0]);
    }

    #[tokio::test]
    async fn time_windows_close_on_a_later_point_and_count_late_ones() {
        let a = series("a");
        let input = [
            (&a, 0, 1.0),
            (&a, 4, 3.0),
            (&a, 10, 5.0),
            (&a, 2, 100.0),
            (&a, 25, 7.0),
        ];
        let windows: Vec<(i64, usize, Option<f64>, u64)> = points(&input)
            .time_window(Duration::from_nanos(10), Duration::from_nanos(10))
            .map(|w| (w.start, w.points.len(), w.mean(), w.late))
            .collect()
            .await;
        assert_eq!(windows, vec![(0, 2, Some(2.0), 0), (10, 1, Some(5.0), 1)]);

        let sliding: Vec<(i64, usize)> = points(&[(&a, 0, 1.0), (&a, 6, 1.0), (&a, 12, 1.0)])
            .time_window(Duration::from_nanos(10), Duration::from_nanos(5))
            .map(|w| (w.start, w.points.len()))
            .collect()
            .await;
        assert_eq!(sliding, vec![(-5, 1), (0, 2)]);
    }

    #[tokio::test]
    async fn zip_distinct_and_throttle() {
        let (a, b) = (series("a"), series("b"));
        let input = [(&a, 1, 1.0), (&b, 2, 2.0), (&a, 3, 1.0), (&a, 4, 3.0)];
        let rows: Vec<Aligned> = points(&input).zip_latest(&["b", "a"]).collect().await;
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].values, vec![None, Some(LiveValue::Float(1.0))]);
        assert_eq!(
            rows[3].values,
            vec![Some(LiveValue::Float(2.0)), Some(LiveValue::Float(3.0))]
        );
        let distinct: Vec<i64> = points(&input)
            .distinct()
            .map(|p| p.timestamp)
            .collect()
            .await;
        assert_eq!(distinct, vec![1, 2, 4]);
        let throttled: Vec<i64> = points(&input)
            .throttle(Duration::from_nanos(3))
            .map(|p| p.timestamp)
            .collect()
            .await;
        assert_eq!(throttled, vec![1, 2, 4]);
    }

    #[tokio::test]
    async fn batches_by_size() {
        let a = series("a");
        let batches: Vec<usize> = points(&[(&a, 1, 1.0), (&a, 2, 1.0), (&a, 3, 1.0)])
            .batch(2, Duration::from_secs(1))
            .map(|b| b.len())
            .collect()
            .await;
        assert_eq!(batches, vec![2, 1]);
    }
}
