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

use hashbrown::{HashTable, hash_table};
use sextant_model::{OrgId, SeriesKey};

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

/// The series with one name or one label value, oldest first, with the value's hash (for a
/// label value; 0 for a name). A list of one is held in place: when a label is an id, most
/// values name one series, and their list then costs no allocation. Sixteen bytes either way:
/// the hash sits beside the variant's tag.
#[derive(Debug)]
pub(crate) enum Posting {
    One(u32, Arc<MemSeries>),
    // Boxed, so that a posting is two words, not four: most lists are of one series.
    #[allow(clippy::box_collection)]
    Many(u32, Box<Vec<Arc<MemSeries>>>),
}

impl Posting {
    fn as_slice(&self) -> &[Arc<MemSeries>] {
        match self {
            Posting::One(_, s) => std::slice::from_ref(s),
            Posting::Many(_, list) => list,
        }
    }

    fn push(&mut self, series: Arc<MemSeries>) {
        match self {
            Posting::One(hash, first) => {
                *self = Posting::Many(*hash, Box::new(vec![Arc::clone(first), series]));
            }
            Posting::Many(_, list) => list.push(series),
        }
    }

    fn hash(&self) -> u32 {
        match self {
            Posting::One(hash, _) | Posting::Many(hash, _) => *hash,
        }
    }

    /// The oldest series of the list, which every list has.
    fn first(&self) -> &MemSeries {
        match self {
            Posting::One(_, s) => s,
            Posting::Many(_, list) => &list[0],
        }
    }
}

/// The hash a series key is found by in the head's and open parts' tables: a key hashes as the
/// hash it carries, so this is one round of mixing over eight bytes.
pub(crate) fn key_hash(key: &SeriesKey) -> u64 {
    HASHER.hash_one(key)
}

static HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// The series of each value of one label, found by the value's hash. A value is not stored:
/// it is read from the key of the first series posted under it, so a label whose values are
/// ids (one series each) costs a table slot a series, not a copy of the value in a tree node.
/// Its hash is kept in the list, so that the table grows without reading every value again
/// (under the registry's write lock). Values come out in no order; listings sort them.
#[derive(Debug, Default)]
struct LabelValues {
    table: HashTable<Posting>,
}

/// The value of `label` that every series of `list` has.
fn value_of<'a>(label: &str, list: &'a Posting) -> &'a str {
    list.first().key.label(label).unwrap_or_default()
}

/// A label value's hash as its list keeps it.
fn value_hash(value: &str) -> u32 {
    HASHER.hash_one(value) as u32
}

/// A kept hash spread over the 64 bits the table takes (it picks buckets from the low bits and
/// tags from the top seven).
fn table_hash(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl LabelValues {
    fn get(&self, label: &str, value: &str) -> Option<&Posting> {
        let hash = value_hash(value);
        self.table.find(table_hash(hash), |list| {
            list.hash() == hash && value_of(label, list) == value
        })
    }

    /// Adds `series` to the list of its `value` of `label`, making the list if it is the
    /// value's first series.
    fn post(&mut self, label: &str, value: &str, series: &Arc<MemSeries>) {
        let hash = value_hash(value);
        match self.table.entry(
            table_hash(hash),
            |list| list.hash() == hash && value_of(label, list) == value,
            |list| table_hash(list.hash()),
        ) {
            hash_table::Entry::Occupied(mut e) => e.get_mut().push(Arc::clone(series)),
            hash_table::Entry::Vacant(e) => {
                e.insert(Posting::One(hash, Arc::clone(series)));
            }
        }
    }

    /// Every value with its list, in no order.
    fn iter<'a>(&'a self, label: &'a str) -> impl Iterator<Item = (&'a str, &'a Posting)> {
        self.table
            .iter()
            .map(move |list| (value_of(label, list), list))
    }
}

/// The series of one organization.
#[derive(Debug, Default)]
pub(crate) struct OrgIndex {
    /// The series, found by key: looked up for every series of every write. A table of the
    /// series themselves (eight bytes an entry), compared by the key each holds.
    by_key: HashTable<Arc<MemSeries>>,
    /// Series by series name, in name order (listings ask for names by prefix).
    by_name: BTreeMap<String, Posting>,
    /// Series by label name, then label value.
    by_label: BTreeMap<String, LabelValues>,
}

impl OrgIndex {
    fn get(&self, key: &SeriesKey) -> Option<&Arc<MemSeries>> {
        self.by_key.find(key_hash(key), |s| s.key == *key)
    }
}

/// Adds `series` to the list of `name` in `names`, making the list if it is the name's first
/// series (and only then copying the name).
fn post_name(names: &mut BTreeMap<String, Posting>, name: &str, series: &Arc<MemSeries>) {
    match names.get_mut(name) {
        Some(list) => list.push(Arc::clone(series)),
        None => {
            names.insert(name.to_owned(), Posting::One(0, Arc::clone(series)));
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
    fn any_visible(&self, list: &Posting) -> bool {
        self.hidden.load(AtomicOrdering::Acquire) == 0
            || list.as_slice().iter().any(|s| Self::visible(s))
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
        post_name(&mut org.by_name, series.key.name(), &series);
        for l in series.key.labels() {
            match org.by_label.get_mut(l.name) {
                Some(values) => values.post(l.name, l.value, &series),
                None => {
                    let mut values = LabelValues::default();
                    values.post(l.name, l.value, &series);
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
                .filter(|(_, values)| values.table.iter().any(|list| self.any_visible(list)))
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
            if label == NAME_LABEL {
                return self.names(org, None);
            }
            let Some(values) = o.by_label.get(label) else {
                return Vec::new();
            };
            let mut out = self.visible_values(values.iter(label));
            out.sort_unstable();
            return out;
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
        self.visible_values(Values::Names(&o.by_name).postings(&m))
    }

    /// The values among `values` whose lists hold a series that is not hidden, in the order
    /// given.
    fn visible_values<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, &'a Posting)>,
    ) -> Vec<String> {
        values
            .into_iter()
            .filter(|(_, list)| self.any_visible(list))
            .map(|(v, _)| v.to_owned())
            .collect()
    }
}

/// Where a condition finds its posting lists: the names, or the values of one label.
#[derive(Clone, Copy)]
enum Values<'a> {
    Names(&'a BTreeMap<String, Posting>),
    Label(&'a str, &'a LabelValues),
}

impl<'a> Values<'a> {
    /// How costly the lists `m` accepts are to find: lookups before ranges (of names) before
    /// passes over every value.
    fn cost(self, m: &Match) -> u8 {
        match (m, self) {
            (Match::Equal(_), _) => 0,
            (Match::Prefix(_), Values::Names(_)) => 1,
            _ => 2,
        }
    }

    /// The values that `m` accepts, with their posting lists: names in order, label values
    /// in none.
    fn postings(self, m: &Match) -> Vec<(&'a str, &'a Posting)> {
        let named = |(v, list): (&'a String, &'a Posting)| (v.as_str(), list);
        match (self, m) {
            (Values::Names(names), Match::Equal(v)) => {
                names.get_key_value(v).map(named).into_iter().collect()
            }
            (Values::Names(names), Match::Prefix(p)) => names
                .range::<str, _>((Bound::Included(p.as_str()), Bound::Unbounded))
                .take_while(|(v, _)| v.starts_with(p.as_str()))
                .map(named)
                .collect(),
            (Values::Names(names), _) => names
                .iter()
                .filter(|(v, _)| m.matches(Some(v)))
                .map(named)
                .collect(),
            (Values::Label(label, values), Match::Equal(v)) => values
                .get(label, v)
                .map(|list| (value_of(label, list), list))
                .into_iter()
                .collect(),
            (Values::Label(label, values), _) => values
                .iter(label)
                .filter(|(v, _)| m.matches(Some(v)))
                .collect(),
        }
    }
}

/// Once a candidate set is this small, conditions needing a pass over values are not used to
/// narrow it further; checking its series is cheaper.
const SMALL_CANDIDATES: usize = 256;

impl OrgIndex {
    /// Posting lists holding every series `selector` may select, from the condition giving
    /// the fewest; `None` if no condition narrows (each accepts series lacking its label).
    fn candidates(&self, selector: &SeriesSelector) -> Option<Vec<&[Arc<MemSeries>]>> {
        // Every series has a name, so a name condition always narrows; a label condition
        // narrows only if it rejects the empty value that a missing label stands for.
        let mut conditions: Vec<(Values<'_>, &Match)> = Vec::new();
        if let Some(m) = &selector.name {
            conditions.push((Values::Names(&self.by_name), m));
        }
        for (label, m) in &selector.labels {
            if label == NAME_LABEL {
                conditions.push((Values::Names(&self.by_name), m));
            } else if !m.matches(None) {
                match self.by_label.get_key_value(label) {
                    Some((label, values)) => conditions.push((Values::Label(label, values), m)),
                    // No series has the label, and the condition needs it.
                    None => return Some(Vec::new()),
                }
            }
        }
        conditions.sort_by_key(|(values, m)| values.cost(m));
        let mut best: Option<(usize, Vec<&[Arc<MemSeries>]>)> = None;
        for (values, m) in conditions {
            if values.cost(m) == 2 && best.as_ref().is_some_and(|(n, _)| *n <= SMALL_CANDIDATES) {
                break;
            }
            let lists: Vec<&[Arc<MemSeries>]> = values
                .postings(m)
                .into_iter()
                .map(|(_, l)| l.as_slice())
                .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posting_takes_two_words() {
        assert_eq!(std::mem::size_of::<Posting>(), 16);
    }
}
