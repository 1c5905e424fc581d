//! Statistics over a sliding window of logical timestamps (`mean(over='1h')` and the like), in
//! one pass over a series rather than one pass per window.
//!
//! A window of `steps` ending at index `i` holds the values present in `i + 1 − steps ..= i`.
//! Each statistic is kept as the window slides, a value entering on the right and one leaving on
//! the left:
//!
//! - count exactly; minimum and maximum with a queue of the values that can still be the
//!   answer; median and percentiles with the window's values kept sorted. These equal what
//!   folding each window's values gives, bit for bit.
//! - sum, mean, variance and standard deviation with running sums (compensated, so that a large
//!   value leaving does not take the small ones' bits with it), worked out again from the
//!   window's values each time the window has moved by its own length, so that rounding cannot
//!   build up. These may differ from folding each window in the last bits. Infinities and NaNs
//!   are counted aside, giving what a fold gives; a window whose finite values sum (or, for the
//!   variance, square) past the largest double is folded on its own.

use std::collections::VecDeque;

use super::eval::{compute_stat, percentile_of_sorted};
use super::plan::Stat;

/// `stat` over the window of `steps` values ending at each index of `values`; `None` where a
/// window holds no value.
pub(crate) fn sliding(stat: Stat, values: &[Option<f64>], steps: usize) -> Vec<Option<f64>> {
    let steps = steps.max(1);
    match stat {
        Stat::Count | Stat::Sum | Stat::Mean | Stat::Variance | Stat::Stddev => {
            moments(stat, values, steps)
        }
        Stat::Min | Stat::Max => extreme(stat == Stat::Min, values, steps),
        Stat::Median => ranked(50.0, values, steps),
        Stat::Percentile(p) => ranked(p, values, steps),
    }
}

/// The value that left the window when it moved to start at `from`: the one just before it.
fn leaving(values: &[Option<f64>], from: usize) -> Option<f64> {
    values[..from].last().copied().flatten()
}

/// A sum that values are added to and taken from, with Neumaier's compensation.
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.carry += (self.sum - t) + x;
        } else {
            self.carry += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.carry
    }
}

/// What a window holds for its moments: finite values summed, the others counted.
#[derive(Debug, Default, Clone, Copy)]
struct Moments {
    n: usize,
    sum: Sum,
    squares: Sum,
    nan: usize,
    positive: usize,
    negative: usize,
}

impl Moments {
    /// Counts `x` in (`sign` 1.0) or out (-1.0).
    fn count(&mut self, x: f64, sign: f64) {
        let step = |c: &mut usize| {
            if sign > 0.0 {
                *c += 1;
            } else {
                *c -= 1;
            }
        };
        step(&mut self.n);
        if x.is_nan() {
            step(&mut self.nan);
        } else if x == f64::INFINITY {
            step(&mut self.positive);
        } else if x == f64::NEG_INFINITY {
            step(&mut self.negative);
        } else {
            self.sum.add(sign * x);
            self.squares.add(sign * x * x);
        }
    }

    /// `stat` of the window; `None` for one that holds no value, and `Err` where only folding
    /// the window tells: finite values whose sum (or, for the variance, whose squares) pass
    /// the largest double. Such windows are folded one by one, which costs their length each.
    fn stat(&self, stat: Stat) -> Result<Option<f64>, ()> {
        if self.n == 0 {
            return Ok(None);
        }
        let count = self.n as f64;
        // What a fold gives when an infinity or NaN is among the values.
        let special = if self.nan > 0 || (self.positive > 0 && self.negative > 0) {
            Some(f64::NAN)
        } else if self.positive > 0 {
            Some(f64::INFINITY)
        } else if self.negative > 0 {
            Some(f64::NEG_INFINITY)
        } else {
            None
        };
        Ok(Some(match stat {
            Stat::Count => count,
            _ if special.is_none() && !self.sum.value().is_finite() => return Err(()),
            Stat::Sum | Stat::Mean => {
                let sum = special.unwrap_or_else(|| self.sum.value());
                if stat == Stat::Sum { sum } else { sum / count }
            }
            _ if special.is_some() => f64::NAN,
            _ if !self.squares.value().is_finite() => return Err(()),
            _ => {
                let mean = self.sum.value() / count;
                let variance = (self.squares.value() / count - mean * mean).max(0.0);
                if stat == Stat::Stddev {
                    variance.sqrt()
                } else {
                    variance
                }
            }
        }))
    }
}

/// Count, sum, mean, variance and standard deviation.
fn moments(stat: Stat, values: &[Option<f64>], steps: usize) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut window = Moments::default();
    let mut scratch = Vec::new();
    for i in 0..values.len() {
        let from = (i + 1).saturating_sub(steps);
        if i % steps == 0 {
            // Afresh from the window's values, once per window length.
            window = Moments::default();
            for x in values[from..=i].iter().flatten() {
                window.count(*x, 1.0);
            }
        } else {
            if let Some(x) = values[i] {
                window.count(x, 1.0);
            }
            if let Some(x) = leaving(values, from) {
                window.count(x, -1.0);
            }
        }
        out.push(window.stat(stat).unwrap_or_else(|()| {
            scratch.clear();
            scratch.extend(values[from..=i].iter().flatten());
            compute_stat(stat, &mut scratch)
        }));
    }
    out
}

/// Minimum (`min`) or maximum. Values that are NaN are never the answer, as with `f64::min`;
/// a window of NaNs alone gives an infinity, as folding from one does.
fn extreme(min: bool, values: &[Option<f64>], steps: usize) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    // The values that may still be the answer with their indices, ordered from the answer on.
    let mut queue: VecDeque<(usize, f64)> = VecDeque::new();
    let mut present = 0usize;
    let beats = |a: f64, b: f64| if min { a <= b } else { a >= b };
    for i in 0..values.len() {
        let from = (i + 1).saturating_sub(steps);
        if let Some(x) = values[i] {
            present += 1;
            if !x.is_nan() {
                while queue.back().is_some_and(|&(_, y)| beats(x, y)) {
                    queue.pop_back();
                }
                queue.push_back((i, x));
            }
        }
        if leaving(values, from).is_some() {
            present -= 1;
        }
        while queue.front().is_some_and(|&(j, _)| j < from) {
            queue.pop_front();
        }
        out.push(match (present, queue.front()) {
            (0, _) => None,
            (_, Some(&(_, x))) => Some(x),
            (_, None) if min => Some(f64::INFINITY),
            (_, None) => Some(f64::NEG_INFINITY),
        });
    }
    out
}

/// The `p`-th percentile (the median at 50), from the window's values kept sorted.
fn ranked(p: f64, values: &[Option<f64>], steps: usize) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut sorted = Sorted::default();
    for i in 0..values.len() {
        let from = (i + 1).saturating_sub(steps);
        if let Some(x) = values[i] {
            sorted.insert(x);
        }
        if let Some(x) = leaving(values, from) {
            sorted.remove(x);
        }
        out.push(sorted.percentile(p));
    }
    out
}

/// Values kept in the order sorting them by `f64::total_cmp` gives, as a fold's percentile
/// sorts them.
#[derive(Debug, Default)]
pub(crate) struct Sorted(Vec<f64>);

impl Sorted {
    pub(crate) fn insert(&mut self, x: f64) {
        let at = self.0.partition_point(|y| y.total_cmp(&x).is_lt());
        self.0.insert(at, x);
    }

    /// Takes out one value with `x`'s bits; it must be held.
    fn remove(&mut self, x: f64) {
        let at = self.0.partition_point(|y| y.total_cmp(&x).is_lt());
        self.0.remove(at);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The `p`-th percentile, interpolated linearly between the closest ranks (rank
    /// `p/100 × (n − 1)` counted from 0); `None` when empty.
    pub(crate) fn percentile(&self, p: f64) -> Option<f64> {
        (!self.0.is_empty()).then(|| percentile_of_sorted(&self.0, p))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Each window folded on its own, as the evaluator did before.
    fn folded(stat: Stat, values: &[Option<f64>], steps: usize) -> Vec<Option<f64>> {
        let mut scratch = Vec::new();
        (0..values.len())
            .map(|i| {
                scratch.clear();
                let from = (i + 1).saturating_sub(steps);
                scratch.extend(values[from..=i].iter().flatten());
                compute_stat(stat, &mut scratch)
            })
            .collect()
    }

    fn same(stat: Stat, got: Option<f64>, want: Option<f64>, scale: f64) -> bool {
        match (got, want) {
            (None, None) => true,
            (Some(a), Some(b)) if a.is_nan() || b.is_nan() => a.is_nan() && b.is_nan(),
            (Some(a), Some(b)) if a == b => true,
            (Some(a), Some(b)) => match stat {
                Stat::Count | Stat::Min | Stat::Max | Stat::Median | Stat::Percentile(_) => a == b,
                // Running sums round differently from a fold.
                Stat::Variance => (a - b).abs() <= 1e-9 * scale * scale,
                _ => (a - b).abs() <= 1e-9 * scale,
            },
            _ => false,
        }
    }

    fn stat() -> impl Strategy<Value = Stat> {
        prop_oneof![
            Just(Stat::Count),
            Just(Stat::Sum),
            Just(Stat::Mean),
            Just(Stat::Min),
            Just(Stat::Max),
            Just(Stat::Variance),
            Just(Stat::Stddev),
            Just(Stat::Median),
            (1.0f64..=100.0).prop_map(Stat::Percentile),
        ]
    }

    fn value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            1 => Just(None),
            4 => (-1000.0f64..1000.0).prop_map(Some),
            1 => (-5i32..5).prop_map(|v| Some(f64::from(v))),
        ]
    }

    proptest! {
        #[test]
        fn sliding_windows_equal_each_window_folded(
            stat in stat(),
            values in prop::collection::vec(value(), 0..200),
            steps in 1usize..40,
        ) {
            let got = sliding(stat, &values, steps);
            let want = folded(stat, &values, steps);
            prop_assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                prop_assert!(same(stat, *g, *w, 1000.0), "{stat:?} over {steps} at {i}: {g:?} against {w:?}");
            }
        }
    }

    fn assert_sliding_equals_folded(stat: Stat, values: &[Option<f64>], steps: usize, scale: f64) {
        let got = sliding(stat, values, steps);
        let want = folded(stat, values, steps);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                same(stat, *g, *w, scale),
                "{stat:?} over {steps} at {i}: {g:?} against {w:?}"
            );
        }
    }

    #[test]
    fn infinities_and_nans_leave_no_trace_once_out_of_the_window() {
        let values = [
            Some(1.0),
            Some(f64::INFINITY),
            Some(f64::NAN),
            Some(2.0),
            Some(4.0),
            None,
            Some(6.0),
        ];
        for stat in [
            Stat::Sum,
            Stat::Mean,
            Stat::Variance,
            Stat::Stddev,
            Stat::Min,
            Stat::Max,
            Stat::Median,
            Stat::Count,
        ] {
            assert_sliding_equals_folded(stat, &values, 3, 10.0);
        }
    }

    #[test]
    fn sums_past_the_largest_double_are_folded() {
        let values = [Some(1e308), Some(1e308), Some(-1e308), Some(1.0), Some(2.0)];
        for stat in [Stat::Sum, Stat::Mean, Stat::Variance, Stat::Stddev] {
            for steps in 1..=5 {
                assert_sliding_equals_folded(stat, &values, steps, 1.0);
            }
        }
    }

    #[test]
    fn a_long_window_over_a_long_series_is_one_pass() {
        // Five hours of one-second values in a five-hour window: 18,000 windows of up to 18,000
        // values, which folding each took seconds over.
        let values: Vec<Option<f64>> = (0..18_000).map(|i| Some(f64::from(i % 97))).collect();
        for stat in [Stat::Mean, Stat::Max, Stat::Percentile(90.0), Stat::Stddev] {
            let got = sliding(stat, &values, 18_000);
            assert_eq!(got.len(), 18_000);
            assert!(got.iter().all(Option::is_some));
        }
        let mean = sliding(Stat::Mean, &values, 18_000);
        let all: f64 = values.iter().flatten().sum::<f64>() / 18_000.0;
        assert!((mean[17_999].unwrap() - all).abs() < 1e-9);
    }
}
