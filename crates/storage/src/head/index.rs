//! The series registry: which series each organization has, by key, by id, and by name and
//! label for selection and listing.
//!
//! Names and label values are kept in ordered posting lists, so that a selector narrows to
//! the series of one name or label value by lookup, of a prefix by a range, and of a regex by
//! a pass over the distinct values rather than over the series.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use sextant_model::{OrgId, SeriesId, SeriesKey};

use super::selector::{Match, NAME_LABEL, SeriesSelector};
use super::series::MemSeries;

/// Which series to list by equality only: all conditions must hold; no condition lists every
/// series. [`SeriesSelector`] is the general form; this converts into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesMatcher {
    /// The series name must equal this.
    pub name: Option<String>,
    /// Each label `(name, value)` must be present with exactly this value.
    pub labels: Vec<(String, String)>,
}

impl SeriesMatcher {
    /// Every series.
    pub fn all() -> Self {
        SeriesMatcher::default()
    }

    /// Series called `name`.
    pub fn name(name: impl Into<String>) -> Self {
        SeriesMatcher {
            name: Some(name.into()),
            labels: Vec::new(),
        }
    }

    /// Also requires label `name` to equal `value`.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }
}

/// The series of one organization.
#[derive(Debug, Default)]
pub(crate) struct OrgIndex {
    /// Series by key; looked up for every series of every write, so with a fast hasher.
    pub(crate) by_key: HashMap<SeriesKey, Arc<MemSeries>, foldhash::fast::RandomState>,
    /// Series ids by series name, ascending.
    by_name: BTreeMap<String, Vec<SeriesId>>,
    /// Series ids by label name, then label value, ascending.
    by_label: BTreeMap<String, BTreeMap<String, Vec<SeriesId>>>,
}

/// Every series of every organization.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) orgs: HashMap<OrgId, OrgIndex>,
    pub(crate) by_id: HashMap<SeriesId, Arc<MemSeries>, foldhash::fast::RandomState>,
    /// How many series are hidden (see [`MemSeries::hidden`]); while none is, listings skip
    /// the check.
    hidden: AtomicUsize,
}

impl Index {
    pub(crate) fn get(&self, org: OrgId, key: &SeriesKey) -> Option<&Arc<MemSeries>> {
        self.orgs.get(&org)?.by_key.get(key)
    }

    /// Counts a series' hidden flag going from `was` to `now`.
    pub(crate) fn note_hidden(&self, was: bool, now: bool) {
        match (was, now) {
            (false, true) => {
                self.hidden.fetch_add(1, AtomicOrdering::AcqRel);
            }
            (true, false) => {
                self.hidden.fetch_sub(1, AtomicOrdering::AcqRel);
            }
            _ => {}
        }
    }

    /// Whether `ids` holds a series that is not hidden.
    fn any_visible(&self, ids: &[SeriesId]) -> bool {
        self.hidden.load(AtomicOrdering::Acquire) == 0
            || ids
                .iter()
                .filter_map(|id| self.by_id.get(id))
                .any(|s| !s.hidden.load(AtomicOrdering::Acquire))
    }

    fn visible(s: &MemSeries) -> bool {
        !s.hidden.load(AtomicOrdering::Acquire)
    }

    pub(crate) fn total_series(&self) -> usize {
        self.orgs.values().map(|o| o.by_key.len()).sum()
    }

    pub(crate) fn series_count(&self, org: OrgId) -> usize {
        self.orgs.get(&org).map_or(0, |o| o.by_key.len())
    }

    /// Adds a series; its id must be larger than every id added before.
    pub(crate) fn insert(&mut self, series: Arc<MemSeries>) {
        let id = series.id;
        let org = self.orgs.entry(series.org).or_default();
        org.by_name
            .entry(series.key.name().to_owned())
            .or_default()
            .push(id);
        for l in series.key.labels() {
            org.by_label
                .entry(l.name.to_owned())
                .or_default()
                .entry(l.value.to_owned())
                // Many values name one series (an `id` label): room for one id, not the four
                // a first push makes.
                .or_insert_with(|| Vec::with_capacity(1))
                .push(id);
        }
        org.by_key.insert(series.key.clone(), Arc::clone(&series));
        self.by_id.insert(id, series);
    }

    /// The series of `org` that `selector` selects, sorted by key.
    pub(crate) fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<Arc<MemSeries>> {
        let Some(o) = self.orgs.get(&org) else {
            return Vec::new();
        };
        let mut out: Vec<Arc<MemSeries>> = match o.candidates(selector) {
            None => o
                .by_key
                .values()
                .filter(|s| Self::visible(s) && selector.matches(&s.key))
                .cloned()
                .collect(),
            Some(lists) => lists
                .into_iter()
                .flatten()
                .filter_map(|id| self.by_id.get(id))
                .filter(|s| Self::visible(s) && selector.matches(&s.key))
                .cloned()
                .collect(),
        };
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The label names of the series of `org` that `selector` selects, sorted.
    pub(crate) fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String> {
        let Some(o) = self.orgs.get(&org) else {
            return Vec::new();
        };
        if selector.is_all() {
            return o
                .by_label
                .iter()
                .filter(|(_, values)| values.values().any(|ids| self.any_visible(ids)))
                .map(|(name, _)| name.clone())
                .collect();
        }
        let selected = self.select(org, selector);
        let names: BTreeSet<&str> = selected
            .iter()
            .flat_map(|s| s.key.labels().iter().map(|l| l.name))
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }

    /// The values of label `label` among the series of `org` that `selector` selects, sorted;
    /// for `__name__`, their names.
    pub(crate) fn label_values(
        &self,
        org: OrgId,
        label: &str,
        selector: &SeriesSelector,
    ) -> Vec<String> {
        let Some(o) = self.orgs.get(&org) else {
            return Vec::new();
        };
        if selector.is_all() {
            let values = if label == NAME_LABEL {
                Some(&o.by_name)
            } else {
                o.by_label.get(label)
            };
            return values.map_or_else(Vec::new, |values| {
                values
                    .iter()
                    .filter(|(_, ids)| self.any_visible(ids))
                    .map(|(v, _)| v.clone())
                    .collect()
            });
        }
        let selected = self.select(org, selector);
        let values: BTreeSet<&str> = selected
            .iter()
            .filter_map(|s| {
                if label == NAME_LABEL {
                    Some(s.key.name())
                } else {
                    s.key.label(label)
                }
            })
            .collect();
        values.into_iter().map(str::to_owned).collect()
    }

    /// The series names of `org`, sorted, only those starting with `prefix` if given.
    pub(crate) fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String> {
        let Some(o) = self.orgs.get(&org) else {
            return Vec::new();
        };
        let m = Match::Prefix(prefix.unwrap_or_default().to_owned());
        postings(&o.by_name, &m)
            .into_iter()
            .filter(|(_, ids)| self.any_visible(ids))
            .map(|(name, _)| name.to_owned())
            .collect()
    }
}

/// How costly a condition's posting lists are to find: lookups before ranges before passes.
fn cost(m: &Match) -> u8 {
    match m {
        Match::Equal(_) => 0,
        Match::Prefix(_) => 1,
        Match::Regex(_) | Match::NotEqual(_) | Match::NotRegex(_) => 2,
    }
}

/// Once a candidate set is this small, conditions needing a pass over values are not used to
/// narrow it further; checking its series is cheaper.
const SMALL_CANDIDATES: usize = 256;

/// The values in `values` that `m` accepts, with their posting lists, in value order.
fn postings<'a>(
    values: &'a BTreeMap<String, Vec<SeriesId>>,
    m: &Match,
) -> Vec<(&'a str, &'a [SeriesId])> {
    let entry = |(v, ids): (&'a String, &'a Vec<SeriesId>)| (v.as_str(), ids.as_slice());
    match m {
        Match::Equal(v) => values.get_key_value(v).map(entry).into_iter().collect(),
        Match::Prefix(p) => values
            .range::<str, _>((Bound::Included(p.as_str()), Bound::Unbounded))
            .take_while(|(v, _)| v.starts_with(p.as_str()))
            .map(entry)
            .collect(),
        _ => values
            .iter()
            .filter(|(v, _)| m.matches(Some(v)))
            .map(entry)
            .collect(),
    }
}

impl OrgIndex {
    /// Posting lists holding every series `selector` may select, from the condition giving
    /// the fewest; `None` if no condition narrows (each accepts series lacking its label).
    fn candidates(&self, selector: &SeriesSelector) -> Option<Vec<&[SeriesId]>> {
        // Every series has a name, so a name condition always narrows; a label condition
        // narrows only if it rejects the empty value that a missing label stands for.
        let mut conditions: Vec<(&BTreeMap<String, Vec<SeriesId>>, &Match)> = Vec::new();
        if let Some(m) = &selector.name {
            conditions.push((&self.by_name, m));
        }
        for (label, m) in &selector.labels {
            if label == NAME_LABEL {
                conditions.push((&self.by_name, m));
            } else if !m.matches(None) {
                match self.by_label.get(label) {
                    Some(values) => conditions.push((values, m)),
                    // No series has the label, and the condition needs it.
                    None => return Some(Vec::new()),
                }
            }
        }
        conditions.sort_by_key(|(_, m)| cost(m));
        let mut best: Option<(usize, Vec<&[SeriesId]>)> = None;
        for (values, m) in conditions {
            if cost(m) == 2 && best.as_ref().is_some_and(|(n, _)| *n <= SMALL_CANDIDATES) {
                break;
            }
            let lists: Vec<&[SeriesId]> = postings(values, m).into_iter().map(|(_, l)| l).collect();
            let n = lists.iter().map(|l| l.len()).sum();
            if best.as_ref().is_none_or(|(b, _)| n < *b) {
                best = Some((n, lists));
            }
            if n == 0 {
                break;
            }
        }
        best.map(|(_, lists)| lists)
    }
}
