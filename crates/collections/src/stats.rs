//! Statistics per window of a collection's inferences: the count, the mean of every numeric
//! column, the share with a label, and accuracy (int and bool labels) or mean absolute error
//! (float labels) against the first prediction of the label's type.
//!
//! Parts are read and summed in parallel, one worker per core, each with its own windows;
//! the workers' windows are added together at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use sextant_api::collections::{ColumnRole, ColumnType, Stats, StatsQuery, StatsWindow};

use crate::columns::{ColumnData, Data, LabelReader, NONE, Needs, Rows};
use crate::schema::Schema;
use crate::{Error, Result};

/// What to sum, from the schema.
struct Plan {
    every: i64,
    start: i64,
    end: i64,
    numeric_rows: Vec<usize>,
    numeric_labels: Vec<usize>,
    /// `(label slot, prediction slot, type)`.
    comparisons: Vec<(usize, usize, ColumnType)>,
}

#[derive(Debug, Clone, Default)]
struct Acc {
    count: u64,
    labeled: u64,
    sums: Vec<(f64, u64)>,
    label_sums: Vec<(f64, u64)>,
    compare: Vec<(f64, u64)>,
}

impl Acc {
    fn add(&mut self, other: &Acc) {
        self.count += other.count;
        self.labeled += other.labeled;
        for (mine, theirs) in [
            (&mut self.sums, &other.sums),
            (&mut self.label_sums, &other.label_sums),
            (&mut self.compare, &other.compare),
        ] {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.0 += t.0;
                m.1 += t.1;
            }
        }
    }
}

/// Windows in the order first met, found by their start; rows mostly come in time order, so
/// the last window is tried first.
#[derive(Default)]
struct Windows {
    list: Vec<(i64, Acc)>,
    where_is: HashMap<i64, usize>,
    last: Option<(i64, usize)>,
}

impl Windows {
    /// The place of `window` in the list, added if new.
    fn index(&mut self, window: i64, blank: &Acc) -> usize {
        match self.last {
            Some((w, at)) if w == window => at,
            _ => {
                let list = &mut self.list;
                let at = *self.where_is.entry(window).or_insert_with(|| {
                    list.push((window, blank.clone()));
                    list.len() - 1
                });
                self.last = Some((window, at));
                at
            }
        }
    }

    fn add(&mut self, other: Windows, blank: &Acc) {
        for (window, acc) in other.list {
            let at = self.index(window, blank);
            self.list[at].1.add(&acc);
        }
    }
}

/// Adds each present value of `column` to the sum `i` of its row's window.
fn sum_column(column: Option<&ColumnData>, win: &[u32], list: &mut [(i64, Acc)], i: usize) {
    fn add<T: Copy>(
        values: &[Option<T>],
        win: &[u32],
        list: &mut [(i64, Acc)],
        i: usize,
        f: impl Fn(T) -> f64,
    ) {
        for (&w, v) in win.iter().zip(values) {
            if let (true, Some(v)) = (w != OUT, v) {
                let sum = &mut list[w as usize].1.sums[i];
                sum.0 += f(*v);
                sum.1 += 1;
            }
        }
    }
    match column {
        Some(ColumnData::Float(v)) => add(v, win, list, i, |x| x),
        Some(ColumnData::Int(v)) => add(v, win, list, i, |x| x as f64),
        _ => {}
    }
}

/// A row outside the range, in a chunk's windows.
const OUT: u32 = u32::MAX;

impl Plan {
    fn blank(&self) -> Acc {
        Acc {
            sums: vec![(0.0, 0); self.numeric_rows.len()],
            label_sums: vec![(0.0, 0); self.numeric_labels.len()],
            compare: vec![(0.0, 0); self.comparisons.len()],
            ..Acc::default()
        }
    }

    /// Adds the inferences of `rows` (whose first is row `first`) to `windows`: the window
    /// of every row first, then column by column.
    fn sum(
        &self,
        data: &Data,
        labels: &LabelReader<'_>,
        first: usize,
        rows: &Rows,
        windows: &mut Windows,
        blank: &Acc,
    ) {
        let win: Vec<u32> = rows
            .ts
            .iter()
            .map(|&ts| {
                if ts < self.start || ts >= self.end {
                    return OUT;
                }
                let at = windows.index(ts.div_euclid(self.every) * self.every, blank);
                windows.list[at].1.count += 1;
                at as u32
            })
            .collect();
        let list = &mut windows.list;
        for (i, &slot) in self.numeric_rows.iter().enumerate() {
            sum_column(rows.columns.get(slot), &win, list, i);
        }
        let mut hint = 0;
        for (row, (&w, &label)) in win
            .iter()
            .zip(data.row_labels(first, rows.len()))
            .enumerate()
        {
            if w == OUT || label == NONE {
                continue;
            }
            let (label, acc) = (label as usize, &mut list[w as usize].1);
            acc.labeled += 1;
            let (found, at) = labels.locate(label, &mut hint);
            for (i, &slot) in self.numeric_labels.iter().enumerate() {
                if let Some(v) = found.number(slot, at) {
                    acc.label_sums[i].0 += v;
                    acc.label_sums[i].1 += 1;
                }
            }
            for (i, &(label_slot, row_slot, column_type)) in self.comparisons.iter().enumerate() {
                let score = if column_type == ColumnType::Float {
                    let truth = found.number(label_slot, at);
                    let predicted = rows.number(row_slot, row);
                    let (Some(truth), Some(predicted)) = (truth, predicted) else {
                        continue;
                    };
                    (truth - predicted).abs()
                } else {
                    let truth = found.value_ref(label_slot, at);
                    let predicted = rows.value_ref(row_slot, row);
                    let (Some(truth), Some(predicted)) = (truth, predicted) else {
                        continue;
                    };
                    f64::from(u8::from(truth == predicted))
                };
                acc.compare[i].0 += score;
                acc.compare[i].1 += 1;
            }
        }
    }
}

/// The statistics of `data` per `query`.
pub(crate) fn stats(
    schema: &Schema,
    data: &Data,
    query: &StatsQuery,
    proceed: crate::Proceed<'_>,
) -> Result<Stats> {
    if query.every <= 0 {
        return Err(Error::Invalid(format!(
            "a window of {} ns; windows must be longer than zero",
            query.every
        )));
    }
    let numeric = |t: ColumnType| matches!(t, ColumnType::Float | ColumnType::Int);
    let mut compared = BTreeMap::new();
    let mut comparisons = Vec::new();
    for (label_slot, label) in schema.label_columns.iter().enumerate() {
        let found =
            schema.row_columns.iter().enumerate().find(|(_, c)| {
                c.role == ColumnRole::Prediction && c.column_type == label.column_type
            });
        if let Some((row_slot, prediction)) = found {
            compared.insert(label.name.to_string(), prediction.name.to_string());
            comparisons.push((label_slot, row_slot, label.column_type));
        }
    }
    let plan = Plan {
        every: query.every,
        start: query.start.unwrap_or(i64::MIN),
        end: query.end.unwrap_or(i64::MAX),
        numeric_rows: (0..schema.row_columns.len())
            .filter(|&s| numeric(schema.row_columns[s].column_type))
            .collect(),
        numeric_labels: (0..schema.label_columns.len())
            .filter(|&s| numeric(schema.label_columns[s].column_type))
            .collect(),
        comparisons,
    };
    let mut slots = plan.numeric_rows.clone();
    slots.extend(plan.comparisons.iter().map(|&(_, row_slot, _)| row_slot));
    let mut label_slots = plan.numeric_labels.clone();
    label_slots.extend(
        plan.comparisons
            .iter()
            .map(|&(label_slot, _, _)| label_slot),
    );
    let needs = Needs {
        slots,
        ..Needs::default()
    };
    let labels = data.label_reader(&label_slots)?;
    let sources = data.sources(plan.start, plan.end);
    let blank = plan.blank();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sources.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let work = || -> Result<Windows> {
        let mut windows = Windows::default();
        loop {
            let Some(source) = sources.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(windows);
            };
            proceed().map_err(Error::Stopped)?;
            let (first, rows) = data.read(source, &needs)?;
            plan.sum(data, &labels, first, &rows, &mut windows, &blank);
            if windows.list.len() > crate::MAX_WINDOWS {
                return Err(too_many_windows(query.every));
            }
        }
    };
    let mut windows = Windows::default();
    let results: Vec<Result<Windows>> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut results = vec![work()];
        for handle in others {
            results.push(
                handle
                    .join()
                    .unwrap_or_else(|_| Err(Error::Invalid("a statistics worker failed".into()))),
            );
        }
        results
    });
    for result in results {
        windows.add(result?, &blank);
        if windows.list.len() > crate::MAX_WINDOWS {
            return Err(too_many_windows(query.every));
        }
    }
    let mut list = windows.list;
    list.sort_by_key(|(start, _)| *start);
    let windows = list
        .into_iter()
        .map(|(start, acc)| window(schema, &plan, start, acc))
        .collect();
    Ok(Stats { compared, windows })
}

fn too_many_windows(every: i64) -> Error {
    Error::Invalid(format!(
        "windows of {every} ns make more than {} windows with inferences, the most one answer \
         holds; ask for wider windows or a narrower start and end",
        crate::MAX_WINDOWS
    ))
}

fn window(schema: &Schema, plan: &Plan, start: i64, acc: Acc) -> StatsWindow {
    let mut means = BTreeMap::new();
    // A mean whose sum overflowed a double is left out rather than shown as infinity (which
    // JSON cannot carry).
    let mut mean = |name: &str, (sum, n): (f64, u64)| {
        let value = sum / n as f64;
        if n > 0 && value.is_finite() {
            means.insert(name.to_owned(), value);
        }
    };
    for (i, &slot) in plan.numeric_rows.iter().enumerate() {
        mean(&schema.row_columns[slot].name, acc.sums[i]);
    }
    for (i, &slot) in plan.numeric_labels.iter().enumerate() {
        mean(&schema.label_columns[slot].name, acc.label_sums[i]);
    }
    let mut accuracy = BTreeMap::new();
    let mut mean_absolute_error = BTreeMap::new();
    for (i, &(label_slot, _, column_type)) in plan.comparisons.iter().enumerate() {
        let (sum, n) = acc.compare[i];
        if n == 0 {
            continue;
        }
        let name = schema.label_columns[label_slot].name.to_string();
        if column_type == ColumnType::Float {
            let error = sum / n as f64;
            if error.is_finite() {
                mean_absolute_error.insert(name, error);
            }
        } else {
            accuracy.insert(name, sum / n as f64);
        }
    }
    StatsWindow {
        start,
        count: acc.count,
        means,
        labeled_share: acc.labeled as f64 / acc.count as f64,
        accuracy,
        mean_absolute_error,
    }
}
