//! Sextant's one read path, between the front ends and the store.
//!
//! ```text
//! front ends (Sift GetData, KairosDB, rules, …) ──► query: select → scan → Arrow → aggregate ──► Store
//! ```
//!
//! A front end decodes its protocol's request into a [`Scan`] or an [`Aggregation`] over a
//! [`Selector`] or a list of series, hands it to a [`Reader`] bound to one organization, and
//! formats the Arrow arrays it gets back in its protocol's terms. The reader resolves the
//! series, pushes time ranges, orders and limits down to the [`Store`]
//! ([`Store::read_arrow`] decodes no more part blocks than a limit needs), resumes a paged scan
//! right after the last point it returned ([`Cursor`]), and buckets time in nanoseconds for
//! the general aggregators, answering whole part blocks from their summaries where it can
//! ([`Store::aggregate`]). Protocols keep their own parsing, semantics and formatting: KairosDB's
//! bucket rules stay in `sextant-kairos`, Sift's page tokens in the server.
//!
//! - [`selector`]: which series, and the text form of a selector.
//! - [`scan`]: points of many series, in pages, as Arrow arrays.
//! - [`aggregate`]: time buckets and the aggregators count, sum, min, max, avg, first, last.
//! - [`sample`]: downsampling that keeps each bucket's first, lowest, highest and last point.
//!
//! Every method blocks on the store; async callers run it on a blocking thread.

pub mod aggregate;
mod error;
pub mod sample;
pub mod scan;
pub mod selector;
/// A real store for tests, here and in the crates above, and a wrapper of it that counts the
/// points its reads return; not part of the API.
#[doc(hidden)]
pub mod testing;

use std::ops::Range;

use sextant_model::{OrgId, Point, SeriesKey, Timestamp};
use sextant_storage::Store;
use sextant_storage::head::SeriesInfo;

pub use aggregate::{Agg, Aggregation, Buckets, SeriesAggregates};
pub use error::{Error, Result};
pub use scan::{Cursor, Page, Scan, Series, SeriesBatch, SeriesRef};
pub use selector::{Match, Selector, SelectorError};
pub use sextant_storage::{ArrowPoints, Order};

/// Reads of one organization's data through one store. Cheap to make: a front end makes one
/// per request.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    store: &'a dyn Store,
    org: OrgId,
    stop: Option<&'a (dyn Fn() -> std::result::Result<(), String> + Sync)>,
    /// The most points one [`Reader::points`] may return, and where that limit is set.
    max_points: Option<(usize, &'a str)>,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("org", &self.org)
            .field("stops", &self.stop.is_some())
            .field("max_points", &self.max_points.map(|(limit, _)| limit))
            .finish_non_exhaustive()
    }
}

impl<'a> Reader<'a> {
    /// A reader of `org`'s data in `store`. It never sees another organization's series.
    pub fn new(store: &'a dyn Store, org: OrgId) -> Reader<'a> {
        Reader {
            store,
            org,
            stop: None,
            max_points: None,
        }
    }

    /// The same reader, refusing with [`Error::TooManyPoints`] a [`Reader::points`] read that
    /// would return more than `limit` points, having read no more than `limit + 1` of them,
    /// and with [`Error::TooManyBuckets`] a [`Reader::aggregate`] that would hold more than
    /// `limit` buckets over its series, stopping at the series that passes it;
    /// `hint` says where the limit is set (` (sextant serve --query-max-points)`) and ends the
    /// limit's name in the error.
    pub fn holding_at_most(self, limit: usize, hint: &'a str) -> Self {
        Reader {
            max_points: Some((limit, hint)),
            ..self
        }
    }

    /// The same reader, asking `proceed` before each series it reads and each chunk of
    /// points it folds, and failing with [`Error::Stopped`] and its reason once `proceed`
    /// says no: how a front end gives a query a deadline, or stops it when its client has
    /// gone.
    pub fn stopping_when(
        self,
        proceed: &'a (dyn Fn() -> std::result::Result<(), String> + Sync),
    ) -> Self {
        Reader {
            stop: Some(proceed),
            ..self
        }
    }

    /// Whether the read may go on.
    fn proceed(&self) -> Result<()> {
        match self.stop {
            Some(proceed) => proceed().map_err(|reason| Error::Stopped { reason }),
            None => Ok(()),
        }
    }

    /// The organization read.
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The series `selector` selects, sorted by key, with their data types.
    pub fn select(&self, selector: &Selector) -> Vec<SeriesInfo> {
        self.store.select(self.org, selector)
    }

    /// The series names, sorted, each once; only those starting with `prefix` if given.
    pub fn names(&self, prefix: Option<&str>) -> Vec<String> {
        self.store.names(self.org, prefix)
    }

    /// The label names of the series `selector` selects, sorted, each once.
    pub fn label_names(&self, selector: &Selector) -> Vec<String> {
        self.store.label_names(self.org, selector)
    }

    /// The values of label `label` among the series `selector` selects, sorted, each once.
    pub fn label_values(&self, label: &str, selector: &Selector) -> Vec<String> {
        self.store.label_values(self.org, label, selector)
    }

    /// Every point of series `key` in `range`, in time order, as the store holds them: for
    /// evaluators that work on points rather than columns (rules). A series the store does
    /// not know, such as a channel that has sent nothing yet, has no point.
    ///
    /// Fails if the store fails to read a part, or the series has more points in `range`
    /// than the reader may hold ([`Reader::holding_at_most`]).
    pub fn points(&self, key: &SeriesKey, range: Range<Timestamp>) -> Result<Vec<Point>> {
        self.proceed()?;
        let read = match self.max_points {
            None => self.store.read(self.org, key, range),
            Some((limit, _)) => self.store.read_limited(
                self.org,
                key,
                range,
                Some(limit.saturating_add(1)),
                Order::Ascending,
            ),
        };
        match read {
            Ok(points) => match self.max_points {
                Some((limit, hint)) if points.len() > limit => Err(Error::TooManyPoints {
                    series: key.to_string(),
                    limit,
                    hint: hint.to_owned(),
                }),
                _ => Ok(points),
            },
            Err(sextant_storage::Error::SeriesNotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// The timestamps of series `key` in `range` (nanoseconds), in `order`, at most `limit` of
    /// them (the first ones in that order), without reading any value: what a series' spacing
    /// is found from. A series the store does not know has none.
    pub fn timestamps(
        &self,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: usize,
        order: Order,
    ) -> Result<Vec<Timestamp>> {
        self.proceed()?;
        match self
            .store
            .read_timestamps(self.org, key, range, Some(limit), order)
        {
            Ok(timestamps) => Ok(timestamps),
            Err(sextant_storage::Error::SeriesNotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// One page of `scan`: see [`scan`] for limits, order and cursors.
    pub fn scan(&self, scan: &Scan) -> Result<Page> {
        scan::run(self, scan)
    }

    /// The aggregates of every series of `aggregation` per time bucket: see [`aggregate`].
    pub fn aggregate(&self, aggregation: &Aggregation) -> Result<Vec<SeriesAggregates>> {
        aggregate::run(self, aggregation)
    }

    fn store(&self) -> &'a dyn Store {
        self.store
    }
}
