//! The series registry: which series each organization has, by key, by id, and by name and
//! label for listing.

use std::collections::HashMap;
use std::sync::Arc;

use sextant_model::{OrgId, SeriesId, SeriesKey};

use super::series::MemSeries;

/// Which series to list: all conditions must hold; no condition lists every series.
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

    fn matches(&self, key: &SeriesKey) -> bool {
        self.name.as_deref().is_none_or(|n| key.name() == n)
            && self
                .labels
                .iter()
                .all(|(n, v)| key.label(n) == Some(v.as_str()))
    }
}

/// The series of one organization.
#[derive(Debug, Default)]
pub(crate) struct OrgIndex {
    pub(crate) by_key: HashMap<SeriesKey, Arc<MemSeries>>,
    /// Series ids by series name, ascending.
    by_name: HashMap<String, Vec<SeriesId>>,
    /// Series ids by label name and value, ascending.
    by_label: HashMap<(String, String), Vec<SeriesId>>,
}

/// Every series of every organization.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) orgs: HashMap<OrgId, OrgIndex>,
    pub(crate) by_id: HashMap<SeriesId, Arc<MemSeries>>,
}

impl Index {
    pub(crate) fn get(&self, org: OrgId, key: &SeriesKey) -> Option<&Arc<MemSeries>> {
        self.orgs.get(&org)?.by_key.get(key)
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
                .entry((l.name.clone(), l.value.clone()))
                .or_default()
                .push(id);
        }
        org.by_key.insert(series.key.clone(), Arc::clone(&series));
        self.by_id.insert(id, series);
    }

    /// The series of `org` that `matcher` selects, sorted by key.
    pub(crate) fn select(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<Arc<MemSeries>> {
        let Some(o) = self.orgs.get(&org) else {
            return Vec::new();
        };
        // Start from the shortest posting list among the conditions, then check the rest.
        let mut lists: Vec<Option<&Vec<SeriesId>>> = Vec::new();
        if let Some(name) = &matcher.name {
            lists.push(o.by_name.get(name));
        }
        for (n, v) in &matcher.labels {
            lists.push(o.by_label.get(&(n.clone(), v.clone())));
        }
        let mut out: Vec<Arc<MemSeries>> =
            match lists.iter().min_by_key(|l| l.map_or(0, |l| l.len())) {
                None => o.by_key.values().cloned().collect(),
                Some(None) => Vec::new(),
                Some(Some(ids)) => ids
                    .iter()
                    .filter_map(|id| self.by_id.get(id))
                    .filter(|s| matcher.matches(&s.key))
                    .cloned()
                    .collect(),
            };
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}
