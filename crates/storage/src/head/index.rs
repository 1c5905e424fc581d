//! The series registry: which series each organization has, by key, by id, and by name and
//! label for selection and listing.
//!
//! Names and label values are kept in ordered posting lists, so that a selector narrows to
//! the series of one name or label value by lookup, of a prefix by a range, and of a regex by
//! a pass over the distinct values rather than over the series.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, LazyLock};

use hashbrown::HashTable;
use sextant_model::{OrgId, SeriesKey};
use smallvec::SmallVec;

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

/// The series with one name or one label value, oldest first. One is held inline: when a label
/// is an id, most values name one series, and a list of one then costs no allocation.
pub(crate) type Posting = SmallVec<[Arc<MemSeries>; 1]>;

/// The hash a series key is found by in the head's and open parts' tables: a key hashes as the
/// hash it carries, so this is one round of mixing over eight bytes.
pub(crate) fn key_hash(key: &SeriesKey) -> u64 {
    static HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);
    HASHER.hash_one(key)
}

/// The series of one organization.
#[derive(Debug, Default)]
pub(crate) struct OrgIndex {
    /// The series, found by key: looked up for every series of every write. A table of the
    /// series themselves (eight bytes an entry), compared by the key each holds.
    by_key: HashTable<Arc<MemSeries>>,
    /// Series by series name.
    by_name: BTreeMap<String, Posting>,
    /// Series by label name, then label value.
    by_label: BTreeMap<String, BTreeMap<String, Posting>>,
}

impl OrgIndex {
    fn get(&self, key: &SeriesKey) -> Option<&Arc<MemSeries>> {
        self.by_key.find(key_hash(key), |s| s.key == *key)
    }
}

/// Adds `series` to the posting list of `value` in `values`, making the list if it is the
/// value's first series (and only then copying the value).
fn post(values: &mut BTreeMap<String, Posting>, value: &str, series: &Arc<MemSeries>) {
    match values.get_mut(value) {
        Some(list) => list.push(Arc::clone(series)),
        None => {
            values.insert(value.to_owned(), smallvec::smallvec![Arc::clone(series)]);
        }
    }
}

/// Every series of every organization.
#[derive(Debug, Default)]
pub(crate) struct Index {
    orgs: HashMap<OrgId, OrgIndex>,
    /// How many series are hidden (see [`MemSeries::hidden`]); while none is, listings skip
    /// the check.
    hidden: AtomicUsize,
}

impl Index {
    pub(crate) fn get(&self, org: OrgId, key: &SeriesKey) -> Option<&Arc<MemSeries>> {
        self.orgs.get(&org)?.get(key)
    }

    /// Every series of every organization, in no particular order.
    pub(crate) fn all(&self) -> Vec<Arc<MemSeries>> {
        let mut all = Vec::with_capacity(self.total_series());
        for o in self.orgs.values() {
            all.extend(o.by_key.iter().cloned());
        }
        all
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

    /// Whether `list` holds a series that is not hidden.
    fn any_visible(&self, list: &[Arc<MemSeries>]) -> bool {
        self.hidden.load(AtomicOrdering::Acquire) == 0 || list.iter().any(|s| Self::visible(s))
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

    /// Adds a series, which must be missing; its id must be larger than every id added
    /// before, so that posting lists stay oldest first.
    pub(crate) fn insert(&mut self, series: Arc<MemSeries>) {
        let org = self.orgs.entry(series.org).or_default();
        post(&mut org.by_name, series.key.name(), &series);
        for l in series.key.labels() {
            match org.by_label.get_mut(l.name) {
                Some(values) => post(values, l.value, &series),
                None => {
                    let mut values = BTreeMap::new();
                    post(&mut values, l.value, &series);
                    org.by_label.insert(l.name.to_owned(), values);
                }
            }
        }
        org.by_key
            .insert_unique(key_hash(&series.key), series, |s| key_hash(&s.key));
    }

    /// The series of `org` that `selector` selects, sorted by key.
    pub(crate) fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<Arc<MemSeries>> {
        let Some(o) = self.orgs.get(&org) else {
            return Vec::new();
        };
        let mut out: Vec<Arc<MemSeries>> = match o.candidates(selector) {
            None => o
                .by_key
                .iter()
                .filter(|s| Self::visible(s) && selector.matches(&s.key))
                .cloned()
                .collect(),
            Some(lists) => lists
                .into_iter()
                .flatten()
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
                .filter(|(_, values)| values.values().any(|list| self.any_visible(list)))
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
                    .filter(|(_, list)| self.any_visible(list))
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
            .filter(|(_, list)| self.any_visible(list))
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
    values: &'a BTreeMap<String, Posting>,
    m: &Match,
) -> Vec<(&'a str, &'a [Arc<MemSeries>])> {
    let entry = |(v, list): (&'a String, &'a Posting)| (v.as_str(), list.as_slice());
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
    fn candidates(&self, selector: &SeriesSelector) -> Option<Vec<&[Arc<MemSeries>]>> {
        // Every series has a name, so a name condition always narrows; a label condition
        // narrows only if it rejects the empty value that a missing label stands for.
        let mut conditions: Vec<(&BTreeMap<String, Posting>, &Match)> = Vec::new();
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
        let mut best: Option<(usize, Vec<&[Arc<MemSeries>]>)> = None;
        for (values, m) in conditions {
            if cost(m) == 2 && best.as_ref().is_some_and(|(n, _)| *n <= SMALL_CANDIDATES) {
                break;
            }
            let lists: Vec<&[Arc<MemSeries>]> =
                postings(values, m).into_iter().map(|(_, l)| l).collect();
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
