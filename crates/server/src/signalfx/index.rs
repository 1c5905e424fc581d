//! The in-memory index of each organization's SignalFx metadata: metrics with their types,
//! dimensions, MTS and tags, loaded from the catalog on first use and kept in step with every
//! catalog write made through this server.
//!
//! It is what keeps the ingest path free of catalog work for known MTS (a point of a known
//! MTS costs one hash lookup under a read lock) and what metadata searches scan, so that a
//! search over a million MTS needs no database query. The catalog stays the durable truth:
//! every change goes to it first and reaches the index only once stored.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use sextant_catalog::{
    SfxDimension, SfxMeta, SfxMetric, SfxMts, SfxRegistered, SfxSnapshot, SfxTag,
};
use sextant_model::SeriesKey;
use sha2::{Digest, Sha256};

use crate::error::HttpError;
use crate::state::AppState;

/// Every organization's index, by organization id.
#[derive(Debug, Default)]
pub struct SfxIndex {
    orgs: Mutex<HashMap<String, Arc<OrgIndex>>>,
}

/// One organization's metadata.
#[derive(Debug, Default)]
pub struct OrgIndex {
    /// The data, behind one lock: ingest takes it to read, catalog writes to apply.
    pub data: RwLock<OrgData>,
}

/// What one organization has.
#[derive(Debug, Default)]
pub struct OrgData {
    /// Metrics by name.
    pub metrics: HashMap<String, SfxMetric>,
    /// Metric names in creation order.
    pub metric_order: Vec<String>,
    /// Dimensions by key and value, in creation order.
    pub dimensions: Vec<SfxDimension>,
    /// Position in `dimensions` by key and value.
    pub dimension_at: HashMap<(String, String), usize>,
    /// MTS in creation order.
    pub mts: Vec<SfxMts>,
    /// For each MTS, the positions in `dimensions` of the dimensions it carries (whose
    /// custom properties and tags it inherits).
    pub mts_dimensions: Vec<Vec<u32>>,
    /// For each dimension, the positions in `mts` of the MTS that carry it (ascending).
    pub mts_by_dimension: Vec<Vec<u32>>,
    /// Positions in `dimensions` by key.
    pub dimensions_by_key: HashMap<String, Vec<u32>>,
    /// Positions in `dimensions` of those with a description, custom properties or tags:
    /// the only ones an MTS inherits anything from.
    pub described: std::collections::BTreeSet<u32>,
    /// Position in `mts` by series key.
    pub mts_by_key: HashMap<SeriesKey, usize>,
    /// Position in `mts` by id.
    pub mts_by_id: HashMap<String, usize>,
    /// Positions in `mts` by metric name.
    pub mts_by_metric: HashMap<String, Vec<usize>>,
    /// Tags by name.
    pub tags: BTreeMap<String, SfxTag>,
}

impl SfxIndex {
    /// The index of `org_id`, loaded from the catalog if this is its first use.
    pub async fn org(&self, state: &AppState, org_id: &str) -> Result<Arc<OrgIndex>, HttpError> {
        if let Some(found) = self.orgs.lock().get(org_id) {
            return Ok(found.clone());
        }
        let catalog = state.catalog.clone();
        let id = org_id.to_owned();
        let snapshot = tokio::task::spawn_blocking(move || catalog.sfx_snapshot(&id)).await??;
        let loaded = Arc::new(OrgIndex {
            data: RwLock::new(OrgData::from_snapshot(snapshot)),
        });
        // Two first requests may both load; the first one stored is kept.
        Ok(self
            .orgs
            .lock()
            .entry(org_id.to_owned())
            .or_insert(loaded)
            .clone())
    }
}

impl OrgData {
    fn from_snapshot(snapshot: SfxSnapshot) -> OrgData {
        let mut data = OrgData::default();
        data.apply(SfxRegistered {
            metrics: snapshot.metrics,
            dimensions: snapshot.dimensions,
            mts: snapshot.mts,
            metric_types: BTreeMap::new(),
        });
        for tag in snapshot.tags {
            data.tags.insert(tag.name.clone(), tag);
        }
        data
    }

    /// Adds what a registration created (objects already known are left as they are).
    pub fn apply(&mut self, registered: SfxRegistered) {
        for metric in registered.metrics {
            if !self.metrics.contains_key(&metric.name) {
                self.metric_order.push(metric.name.clone());
                self.metrics.insert(metric.name.clone(), metric);
            }
        }
        for dimension in registered.dimensions {
            self.put_dimension(dimension);
        }
        for mts in registered.mts {
            if self.mts_by_id.contains_key(&mts.id) {
                continue;
            }
            let Ok(key) = SeriesKey::new(
                mts.metric.as_str(),
                mts.dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ) else {
                continue;
            };
            let at = self.mts.len();
            let dims = mts
                .dimensions
                .iter()
                .map(|(k, v)| self.dimension_position(k, v, &mts.meta))
                .collect();
            for &d in &dims {
                self.mts_by_dimension[d as usize].push(at as u32);
            }
            self.mts_dimensions.push(dims);
            self.mts_by_key.insert(key, at);
            self.mts_by_id.insert(mts.id.clone(), at);
            self.mts_by_metric
                .entry(mts.metric.clone())
                .or_default()
                .push(at);
            self.mts.push(mts);
        }
    }

    /// Adds or replaces a dimension.
    pub fn put_dimension(&mut self, dimension: SfxDimension) {
        let key = (dimension.key.clone(), dimension.value.clone());
        let meta = &dimension.meta;
        let described = !meta.description.is_empty()
            || !meta.custom_properties.is_empty()
            || !meta.tags.is_empty();
        let at = match self.dimension_at.get(&key) {
            Some(&at) => {
                self.dimensions[at] = dimension;
                at
            }
            None => {
                let at = self.dimensions.len();
                self.dimension_at.insert(key.clone(), at);
                self.dimensions_by_key
                    .entry(key.0)
                    .or_default()
                    .push(at as u32);
                self.dimensions.push(dimension);
                self.mts_by_dimension.push(Vec::new());
                at
            }
        };
        if described {
            self.described.insert(at as u32);
        } else {
            self.described.remove(&(at as u32));
        }
    }

    /// The position of dimension `key:value`, added with `meta`'s history if the index does
    /// not have it yet (another request registered it and has not applied it here yet).
    fn dimension_position(&mut self, key: &str, value: &str, meta: &SfxMeta) -> u32 {
        let pair = (key.to_owned(), value.to_owned());
        if let Some(&at) = self.dimension_at.get(&pair) {
            return at as u32;
        }
        self.put_dimension(SfxDimension {
            key: pair.0,
            value: pair.1,
            meta: SfxMeta {
                created: meta.created,
                creator: meta.creator.clone(),
                last_updated: meta.created,
                last_updated_by: meta.creator.clone(),
                ..SfxMeta::default()
            },
        });
        (self.dimensions.len() - 1) as u32
    }

    /// The dimension `key:value`, if known.
    pub fn dimension(&self, key: &str, value: &str) -> Option<&SfxDimension> {
        self.dimension_at
            .get(&(key.to_owned(), value.to_owned()))
            .map(|&at| &self.dimensions[at])
    }
}

/// The stable id of the MTS of `metric` with `dimensions` (sorted by key): the first 8 bytes
/// of a SHA-256 of the metric and dimensions, in URL-safe base64 without padding (11
/// characters), the form SignalFx gives time series ids.
pub fn mts_id(metric: &str, dimensions: &[(String, String)]) -> String {
    use base64::Engine;
    let mut hash = Sha256::new();
    hash.update(metric.as_bytes());
    for (k, v) in dimensions {
        hash.update([0]);
        hash.update(k.as_bytes());
        hash.update([0]);
        hash.update(v.as_bytes());
    }
    let digest = hash.finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mts_ids_are_stable_short_and_distinct() {
        let dims = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = mts_id("cpu", &dims(&[("host", "h1")]));
        assert_eq!(a, mts_id("cpu", &dims(&[("host", "h1")])));
        assert_eq!(a.len(), 11);
        assert_ne!(a, mts_id("cpu", &dims(&[("host", "h2")])));
        assert_ne!(a, mts_id("cpuhost", &dims(&[("", "h1")])));
        assert_ne!(mts_id("cpu", &[]), mts_id("cpu", &dims(&[("a", "b")])));
    }
}
