//! Event-time windows per series: tumbling or sliding, closed by a watermark, with an allowed
//! lateness (`docs/subscriptions.md`, *Windows*).
//!
//! A window of size `size` starts at every multiple of `slide` (since the Unix epoch) and
//! covers `[start, start + size)`. Each series has its own watermark: its newest timestamp
//! minus `watermark`. A window is sent once the watermark reaches its end; it is kept for
//! `lateness` more, and a point that still falls into it changes it and sends it again as an
//! update. A point whose windows are all gone for good is late: it is counted and announced,
//! never silently dropped. A series that receives nothing for `size + watermark` of wall-clock
//! time has its open windows sent as they are (its watermark moves to their end).

use std::collections::BTreeMap;

/// An aggregate of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WindowAgg {
    /// How many points.
    Count,
    /// Their sum.
    Sum,
    /// Their mean.
    Mean,
    /// The least.
    Min,
    /// The greatest.
    Max,
    /// The value at the earliest timestamp.
    First,
    /// The value at the latest timestamp.
    Last,
}

impl WindowAgg {
    /// Every aggregate, by name.
    pub const ALL: [(&'static str, WindowAgg); 7] = [
        ("count", WindowAgg::Count),
        ("sum", WindowAgg::Sum),
        ("mean", WindowAgg::Mean),
        ("min", WindowAgg::Min),
        ("max", WindowAgg::Max),
        ("first", WindowAgg::First),
        ("last", WindowAgg::Last),
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        WindowAgg::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("?", |(n, _)| n)
    }

    /// The aggregate named `name`.
    pub fn parse(name: &str) -> Option<WindowAgg> {
        WindowAgg::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| *a)
    }
}

/// How to window, in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// The length of a window.
    pub size: i64,
    /// How far apart windows start (`size` for tumbling windows).
    pub slide: i64,
    /// The aggregates sent.
    pub aggs: Vec<WindowAgg>,
    /// How far the watermark trails the newest timestamp.
    pub watermark: i64,
    /// How long a window takes late points after the watermark passed its end.
    pub lateness: i64,
}

/// The running state of one window.
#[derive(Debug, Clone, Default, PartialEq)]
struct Acc {
    count: u64,
    numeric: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: Option<(i64, f64)>,
    last: Option<(i64, f64)>,
    /// Sent already (so the next send is an update).
    sent: bool,
    /// Changed since it was sent.
    dirty: bool,
}

impl Acc {
    fn add(&mut self, ts: i64, value: Option<f64>) {
        self.count += 1;
        let Some(v) = value else {
            return;
        };
        if self.numeric == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.numeric += 1;
        self.sum += v;
        if self.first.is_none_or(|(t, _)| ts < t) {
            self.first = Some((ts, v));
        }
        if self.last.is_none_or(|(t, _)| ts >= t) {
            self.last = Some((ts, v));
        }
    }

    fn value(&self, agg: WindowAgg) -> Option<f64> {
        if agg == WindowAgg::Count {
            return Some(self.count as f64);
        }
        if self.numeric == 0 {
            return None;
        }
        Some(match agg {
            WindowAgg::Count => self.count as f64,
            WindowAgg::Sum => self.sum,
            WindowAgg::Mean => self.sum / self.numeric as f64,
            WindowAgg::Min => self.min,
            WindowAgg::Max => self.max,
            WindowAgg::First => self.first.map_or(f64::NAN, |(_, v)| v),
            WindowAgg::Last => self.last.map_or(f64::NAN, |(_, v)| v),
        })
    }
}

/// What the windows of a series produce.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A window, sent for the first time or again (`update`).
    Window {
        /// Its first instant.
        start: i64,
        /// The instant after its last.
        end: i64,
        /// How many points it holds.
        count: u64,
        /// The aggregates, in the spec's order.
        values: Vec<(WindowAgg, Option<f64>)>,
        /// Whether it was sent before.
        update: bool,
    },
    /// A point that falls into no window still open.
    Late {
        /// Its timestamp.
        timestamp: i64,
    },
}

/// The windows of one series.
#[derive(Debug, Clone, Default)]
pub struct SeriesWindows {
    open: BTreeMap<i64, Acc>,
    newest: Option<i64>,
    /// Where the watermark stands (`i64::MIN` before the first point).
    watermark: Option<i64>,
    /// Wall-clock nanoseconds of the last point's arrival.
    arrived: i64,
}

impl SeriesWindows {
    /// Adds one point that arrived at wall-clock time `now`: into every window of it still
    /// kept, or announced as late. Call [`SeriesWindows::advance`] after a batch of points.
    pub fn push(
        &mut self,
        spec: &WindowSpec,
        ts: i64,
        value: Option<f64>,
        now: i64,
        out: &mut Vec<Output>,
    ) {
        self.arrived = now;
        let wm = self.watermark.unwrap_or(i64::MIN);
        let mut late = false;
        let mut start = ts.div_euclid(spec.slide).saturating_mul(spec.slide);
        loop {
            let end = start.saturating_add(spec.size);
            if end <= ts {
                break;
            }
            if end.saturating_add(spec.lateness) <= wm {
                late = true;
            } else {
                let acc = self.open.entry(start).or_default();
                acc.add(ts, value);
                acc.dirty = true;
            }
            match start.checked_sub(spec.slide) {
                Some(s) => start = s,
                None => break,
            }
        }
        if late {
            out.push(Output::Late { timestamp: ts });
        }
        if self.newest.is_none_or(|n| ts > n) {
            self.newest = Some(ts);
            let moved = ts.saturating_sub(spec.watermark);
            self.watermark = Some(self.watermark.map_or(moved, |w| w.max(moved)));
        }
    }

    /// Sends the windows the watermark has passed (and those late points changed), and forgets
    /// those beyond the lateness.
    pub fn advance(&mut self, spec: &WindowSpec, out: &mut Vec<Output>) {
        let Some(wm) = self.watermark else {
            return;
        };
        for (&start, acc) in self.open.iter_mut() {
            let end = start.saturating_add(spec.size);
            if end > wm {
                break;
            }
            if acc.dirty {
                out.push(Output::Window {
                    start,
                    end,
                    count: acc.count,
                    values: spec.aggs.iter().map(|a| (*a, acc.value(*a))).collect(),
                    update: acc.sent,
                });
                acc.sent = true;
                acc.dirty = false;
            }
        }
        self.open.retain(|start, _| {
            start
                .saturating_add(spec.size)
                .saturating_add(spec.lateness)
                > wm
        });
    }

    /// When nothing arrived for `size + watermark` of wall-clock time before `now`: moves the
    /// watermark to the end of the open windows, sending them.
    pub fn idle(&mut self, spec: &WindowSpec, now: i64, out: &mut Vec<Output>) {
        if self.open.values().all(|a| !a.dirty)
            || now.saturating_sub(self.arrived) < spec.size.saturating_add(spec.watermark)
        {
            return;
        }
        if let Some((&start, _)) = self.open.last_key_value() {
            let end = start.saturating_add(spec.size);
            self.watermark = Some(self.watermark.map_or(end, |w| w.max(end)));
            self.advance(spec, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: i64, slide: i64, watermark: i64, lateness: i64) -> WindowSpec {
        WindowSpec {
            size,
            slide,
            aggs: vec![WindowAgg::Count, WindowAgg::Mean, WindowAgg::First],
            watermark,
            lateness,
        }
    }

    fn windows(out: &[Output]) -> Vec<(i64, u64, Option<f64>, bool)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Window {
                    start,
                    count,
                    values,
                    update,
                    ..
                } => Some((*start, *count, values[1].1, *update)),
                Output::Late { .. } => None,
            })
            .collect()
    }

    #[test]
    fn tumbling_windows_close_when_the_watermark_passes_their_end() {
        let s = spec(10, 10, 0, 0);
        let mut w = SeriesWindows::default();
        let mut out = Vec::new();
        for (ts, v) in [(1, 1.0), (5, 3.0), (9, 5.0)] {
            w.push(&s, ts, Some(v), 0, &mut out);
        }
        w.advance(&s, &mut out);
        assert!(out.is_empty(), "{out:?}");
        w.push(&s, 10, Some(7.0), 0, &mut out);
        w.advance(&s, &mut out);
        assert_eq!(windows(&out), vec![(0, 3, Some(3.0), false)]);
        // A point of the closed window, with no lateness allowed, is late.
        out.clear();
        w.push(&s, 4, Some(100.0), 0, &mut out);
        w.advance(&s, &mut out);
        assert_eq!(out, vec![Output::Late { timestamp: 4 }]);
    }

    #[test]
    fn the_watermark_waits_for_out_of_order_points_and_lateness_updates_windows() {
        let s = spec(10, 10, 5, 10);
        let mut w = SeriesWindows::default();
        let mut out = Vec::new();
        w.push(&s, 2, Some(2.0), 0, &mut out);
        w.push(&s, 12, Some(4.0), 0, &mut out);
        w.advance(&s, &mut out);
        assert!(windows(&out).is_empty(), "watermark 7 < end 10: {out:?}");
        // Out of order, but before the watermark: counted in the first window.
        w.push(&s, 8, Some(4.0), 0, &mut out);
        w.push(&s, 15, Some(0.0), 0, &mut out);
        w.advance(&s, &mut out);
        assert_eq!(windows(&out), vec![(0, 2, Some(3.0), false)]);
        out.clear();
        // Late but within the lateness: the window is sent again.
        w.push(&s, 9, Some(6.0), 0, &mut out);
        w.advance(&s, &mut out);
        assert_eq!(windows(&out), vec![(0, 3, Some(4.0), true)]);
        out.clear();
        // The watermark moves to 25: window 0 (end 10 + lateness 10 <= 25) is gone.
        w.push(&s, 30, Some(1.0), 0, &mut out);
        w.advance(&s, &mut out);
        assert_eq!(windows(&out), vec![(10, 2, Some(2.0), false)]);
        out.clear();
        w.push(&s, 1, Some(1.0), 0, &mut out);
        assert_eq!(out, vec![Output::Late { timestamp: 1 }]);
    }

    #[test]
    fn sliding_windows_count_a_point_in_each_window_holding_it() {
        let s = spec(10, 5, 0, 0);
        let mut w = SeriesWindows::default();
        let mut out = Vec::new();
        for ts in [0, 3, 7, 12, 21] {
            w.push(&s, ts, Some(ts as f64), 0, &mut out);
        }
        w.advance(&s, &mut out);
        let got: Vec<(i64, u64)> = windows(&out).iter().map(|w| (w.0, w.1)).collect();
        // Windows [-5,5) [0,10) [5,15) [10,20) end at or before the watermark 21.
        assert_eq!(got, vec![(-5, 2), (0, 3), (5, 2), (10, 1)]);
        match &out[1] {
            Output::Window { values, .. } => assert_eq!(values[2], (WindowAgg::First, Some(0.0))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_idle_series_sends_its_open_windows() {
        let s = spec(10, 10, 2, 0);
        let mut w = SeriesWindows::default();
        let mut out = Vec::new();
        w.push(&s, 3, Some(1.0), 1_000, &mut out);
        w.advance(&s, &mut out);
        w.idle(&s, 1_005, &mut out);
        assert!(out.is_empty());
        w.idle(&s, 1_012, &mut out);
        assert_eq!(windows(&out), vec![(0, 1, Some(1.0), false)]);
        out.clear();
        w.idle(&s, 2_000, &mut out);
        assert!(out.is_empty(), "sent once: {out:?}");
    }

    #[test]
    fn text_points_are_counted_without_numbers() {
        let s = spec(10, 10, 0, 0);
        let mut w = SeriesWindows::default();
        let mut out = Vec::new();
        w.push(&s, 1, None, 0, &mut out);
        w.push(&s, 11, None, 0, &mut out);
        w.advance(&s, &mut out);
        assert_eq!(windows(&out), vec![(0, 1, None, false)]);
    }
}
