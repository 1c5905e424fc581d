//! Scans: the points of many series over a time range, in pages, as Arrow arrays.
//!
//! A [`Scan`] names its series (a [`Selector`], resolved to the selected series sorted by
//! key, or an explicit list in the caller's order), a half-open time range `[start, end)` in
//! nanoseconds, an [`Order`], and two limits:
//!
//! - `limit`: the most points one page holds, across series. The page stops there and its
//!   [`Page::next`] cursor resumes the scan.
//! - `series_limit`: the most points of each series over the whole scan (KairosDB's `limit`).
//!
//! Series are read one after the other, each in the scan's order.
//!
//! # Cost
//!
//! A page reads each series it touches once, from the store, with the time range starting
//! right after the cursor's last point and the limit the page has left (plus one, which tells
//! whether the series goes on): the store decodes no more part blocks than that limit needs
//! and takes no more points out of the head. So the points read over a whole paged scan grow
//! with the points returned, not with the pages times the window.

use std::ops::Range;

use sextant_model::{DataType, SeriesKey, Timestamp};
use sextant_storage::head::SeriesInfo;
use sextant_storage::{ArrowPoints, Order};

use crate::{Error, Reader, Result, Selector};

/// Which series a scan or aggregation reads.
#[derive(Debug, Clone)]
pub enum Series {
    /// The series the selector selects, sorted by key.
    Selector(Selector),
    /// These series, in this order. Series the store does not know have no point.
    List(Vec<SeriesRef>),
}

/// A series to read: its key and data type, as [`Reader::select`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRef {
    /// The series.
    pub key: SeriesKey,
    /// Its type for life.
    pub data_type: DataType,
}

impl From<SeriesInfo> for SeriesRef {
    fn from(info: SeriesInfo) -> Self {
        SeriesRef {
            key: info.key,
            data_type: info.data_type,
        }
    }
}

impl From<&SeriesInfo> for SeriesRef {
    fn from(info: &SeriesInfo) -> Self {
        SeriesRef {
            key: info.key.clone(),
            data_type: info.data_type,
        }
    }
}

impl Series {
    /// The series in reading order.
    pub(crate) fn resolve(&self, reader: &Reader<'_>) -> Vec<SeriesRef> {
        match self {
            Series::Selector(s) => reader.select(s).into_iter().map(SeriesRef::from).collect(),
            Series::List(list) => list.clone(),
        }
    }
}

/// A request for the points of some series in a time range. See the module docs.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Which series.
    pub series: Series,
    /// Nanoseconds since the epoch, `[start, end)`.
    pub range: Range<Timestamp>,
    /// The order of each series' points.
    pub order: Order,
    /// The most points a page holds, across series; `None` for no limit.
    pub limit: Option<usize>,
    /// The most points of each series over the whole scan; `None` for no limit.
    pub series_limit: Option<usize>,
    /// Where to resume: a previous page's [`Page::next`] of the same scan.
    pub cursor: Option<Cursor>,
}

impl Scan {
    /// Every point of `series` in `range`, oldest first, in one page.
    pub fn new(series: Series, range: Range<Timestamp>) -> Scan {
        Scan {
            series,
            range,
            order: Order::Ascending,
            limit: None,
            series_limit: None,
            cursor: None,
        }
    }

    /// With each series' points in `order`.
    pub fn order(mut self, order: Order) -> Scan {
        self.order = order;
        self
    }

    /// With at most `limit` points per page.
    pub fn limit(mut self, limit: usize) -> Scan {
        self.limit = Some(limit);
        self
    }

    /// With at most `limit` points of each series.
    pub fn series_limit(mut self, limit: usize) -> Scan {
        self.series_limit = Some(limit);
        self
    }

    /// Resuming at `cursor`.
    pub fn cursor(mut self, cursor: Option<Cursor>) -> Scan {
        self.cursor = cursor;
        self
    }
}

/// Where a paged scan resumes: a series (by its position in the scan's series) and the last
/// point returned of it, so that the next page starts right after that point instead of
/// reading the series' window again.
///
/// A cursor is only meaningful for the scan that made it (same series, range and order). Its
/// [`Cursor::token`] is opaque text for clients to hand back. A [`Series::Selector`] is
/// resolved again for every page, so a series created between pages that sorts before the
/// cursor's shifts the positions: a stable list ([`Series::List`]) avoids that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    series: usize,
    after: Option<Timestamp>,
    delivered: usize,
}

/// The prefix of cursor tokens; a new token format gets a new prefix.
const TOKEN_PREFIX: &str = "q1";

impl Cursor {
    /// The start of series `series` (a position in the scan's series).
    pub fn series_start(series: usize) -> Cursor {
        Cursor {
            series,
            after: None,
            delivered: 0,
        }
    }

    /// Right after the point at `last` of series `series`, in the scan's order.
    pub fn after(series: usize, last: Timestamp) -> Cursor {
        Cursor {
            series,
            after: Some(last),
            delivered: 0,
        }
    }

    /// The position of the series the scan resumes in.
    pub fn series(&self) -> usize {
        self.series
    }

    /// The timestamp of the last point returned of that series, if any was.
    pub fn last(&self) -> Option<Timestamp> {
        self.after
    }

    /// The cursor as opaque text: `q1.<series>.<last or ->.<points of the series returned>`.
    pub fn token(&self) -> String {
        let after = self.after.map_or_else(|| "-".to_owned(), |t| t.to_string());
        format!("{TOKEN_PREFIX}.{}.{after}.{}", self.series, self.delivered)
    }

    /// The cursor of a [`Cursor::token`].
    ///
    /// Fails with [`Error::Cursor`], quoting the token, if it is not one.
    pub fn parse(token: &str) -> Result<Cursor> {
        let bad = |reason: &str| Error::Cursor {
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = token.split('.');
        if parts.next() != Some(TOKEN_PREFIX) {
            return Err(bad("it does not start with \"q1.\""));
        }
        let (Some(series), Some(after), Some(delivered), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("it does not have four dot-separated fields"));
        };
        let series = series
            .parse()
            .map_err(|_| bad("the series position is not a number"))?;
        let after = match after {
            "-" => None,
            t => Some(
                t.parse()
                    .map_err(|_| bad("the timestamp is not a number"))?,
            ),
        };
        let delivered = delivered
            .parse()
            .map_err(|_| bad("the point count is not a number"))?;
        Ok(Cursor {
            series,
            after,
            delivered,
        })
    }

    /// What is left of `range` for the cursor's series in `order`: after the last point.
    fn remaining(&self, range: &Range<Timestamp>, order: Order) -> Range<Timestamp> {
        let Some(last) = self.after else {
            return range.clone();
        };
        match order {
            Order::Ascending => match last.checked_add(1) {
                Some(next) => next.max(range.start)..range.end,
                None => range.end..range.end,
            },
            Order::Descending => range.start..last.min(range.end),
        }
    }
}

/// The points of one series in a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesBatch {
    /// Its position in the scan's series (for [`Series::List`], the list's index).
    pub index: usize,
    /// The series.
    pub key: SeriesKey,
    /// Its type; the values' Arrow type is [`sextant_storage::read::arrow_type`] of it.
    pub data_type: DataType,
    /// Timestamps (nanoseconds, UTC) and values, in the scan's order; never empty.
    pub points: ArrowPoints,
}

/// One page of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The series with points in this page, in the scan's series order. A series with no
    /// point left in the range has no batch.
    pub batches: Vec<SeriesBatch>,
    /// Where the next page starts; `None` when the scan is complete. The last page may hold
    /// no point, when the series after the previous page's have none left in the range.
    pub next: Option<Cursor>,
}

impl Page {
    /// Points in the page.
    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.points.len()).sum()
    }

    /// Whether the page holds no point.
    pub fn is_empty(&self) -> bool {
        self.batches.iter().all(|b| b.points.is_empty())
    }
}

fn min_limit(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

pub(crate) fn run(reader: &Reader<'_>, scan: &Scan) -> Result<Page> {
    if scan.limit == Some(0) {
        return Err(Error::ZeroPageLimit);
    }
    let series = scan.series.resolve(reader);
    let mut cursor = scan.cursor.unwrap_or_default();
    let mut left = scan.limit;
    let mut batches = Vec::new();
    while let Some(s) = series.get(cursor.series) {
        if left == Some(0) {
            return Ok(Page {
                batches,
                next: Some(cursor),
            });
        }
        let series_left = scan
            .series_limit
            .map(|l| l.saturating_sub(cursor.delivered));
        let want = min_limit(left, series_left);
        let range = cursor.remaining(&scan.range, scan.order);
        reader.proceed()?;
        let mut points = if want == Some(0) || range.start >= range.end {
            None
        } else {
            // One point beyond what is wanted tells whether the series goes on.
            let limit = want.map(|w| w.saturating_add(1));
            read(reader, &s.key, range, limit, scan.order)?
        };
        let mut more = false;
        if let (Some(p), Some(want)) = (&mut points, want)
            && p.len() > want
        {
            *p = slice(p, want);
            more = true;
        }
        let n = points.as_ref().map_or(0, ArrowPoints::len);
        left = left.map(|l| l - n);
        cursor.delivered += n;
        if let Some(p) = points.filter(|p| !p.is_empty()) {
            cursor.after = Some(p.timestamps.value(p.len() - 1));
            batches.push(SeriesBatch {
                index: cursor.series,
                key: s.key.clone(),
                data_type: s.data_type,
                points: p,
            });
        }
        let series_done = !more || series_left.is_some_and(|l| l == n);
        if series_done {
            cursor = Cursor::series_start(cursor.series + 1);
        }
    }
    Ok(Page {
        batches,
        next: None,
    })
}

/// The points of `key` in `range`; `None` for a series the store does not know.
fn read(
    reader: &Reader<'_>,
    key: &SeriesKey,
    range: Range<Timestamp>,
    limit: Option<usize>,
    order: Order,
) -> Result<Option<ArrowPoints>> {
    match reader
        .store()
        .read_arrow(reader.org(), key, range, limit, order)
    {
        Ok(points) => Ok(Some(points)),
        Err(sextant_storage::Error::SeriesNotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The first `n` points of `points`.
fn slice(points: &ArrowPoints, n: usize) -> ArrowPoints {
    ArrowPoints {
        timestamps: points.timestamps.slice(0, n),
        values: points.values.slice(0, n),
    }
}

#[cfg(test)]
mod tests;
