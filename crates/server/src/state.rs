//! What every front end shares: trait objects of the engines, built by the binary.

use std::sync::Arc;

use sextant_catalog::{Catalog, Clock, SystemClock};
use sextant_model::{ErrorKind, OrgId};
use sextant_rules::{EngineConfig, RuleEngine};
use sextant_storage::Store;
use tonic::Status;

use crate::error::status;
use crate::metrics::Metrics;

/// The engines behind the front ends.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Metadata: organizations, keys, assets, configs, channels, runs.
    pub catalog: Arc<dyn Catalog>,
    /// Time series.
    pub store: Arc<dyn Store>,
    /// The server's own figures.
    pub metrics: Arc<Metrics>,
    /// Live rule evaluation.
    pub rules: Arc<RuleEngine>,
    /// The wall clock front ends read "now" from (a line without a timestamp, a relative
    /// KairosDB query, a stopped run): the system's, unless a test fixes it.
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// The state of a server over these engines, with a rule engine of default settings and
    /// the system clock.
    pub fn new(catalog: Arc<dyn Catalog>, store: Arc<dyn Store>) -> Self {
        let rules = RuleEngine::start(
            catalog.clone(),
            store.clone(),
            org_number,
            EngineConfig::default(),
        );
        Self::with_rules(catalog, store, rules)
    }

    /// The state of a server over these engines and this rule engine, with the system clock.
    pub fn with_rules(
        catalog: Arc<dyn Catalog>,
        store: Arc<dyn Store>,
        rules: Arc<RuleEngine>,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(store.clone(), rules.clone()));
        AppState {
            catalog,
            store,
            metrics,
            rules,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same state reading the time from `clock` (tests fix the time with it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs a rule-engine call on a blocking thread (it may wait on the catalog) and maps its
    /// error to a gRPC status.
    pub async fn rules<T, F>(&self, call: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&RuleEngine) -> sextant_rules::Result<T> + Send + 'static,
    {
        let rules = self.rules.clone();
        tokio::task::spawn_blocking(move || call(rules.as_ref()))
            .await
            .map_err(|e| status(ErrorKind::Internal, e))?
            .map_err(|e| status(e.kind(), e))
    }

    /// Runs a catalog call on a blocking thread (catalog calls wait on disk I/O) and maps its
    /// error to a gRPC status.
    pub async fn catalog<T, F>(&self, call: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> sextant_catalog::Result<T> + Send + 'static,
    {
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || call(catalog.as_ref()))
            .await
            .map_err(|e| status(ErrorKind::Internal, e))?
            .map_err(crate::error::catalog_status)
    }

    /// Runs a store call on a blocking thread (writes wait for their WAL sync) and maps its
    /// error to a gRPC status.
    pub async fn store<T, F>(&self, call: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> sextant_storage::Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|e| status(ErrorKind::Internal, e))?
            .map_err(|e| status(e.kind(), e))
    }
}

/// The storage engine's number for an organization of the catalog: the first 64 bits of its
/// UUID. Version 4 UUIDs carry 60 random bits there, so two organizations of one server
/// colliding is not a practical concern; the mapping needs no table and never changes.
pub fn org_number(organization_id: &str) -> OrgId {
    let hex: String = organization_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    match u64::from_str_radix(&hex, 16) {
        Ok(n) if hex.len() == 16 => OrgId(n),
        // Not a UUID (an organization created by other means): hash the whole id instead.
        _ => OrgId(organization_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_numbers_are_stable_and_distinct() {
        let a = org_number("e508908d-1a93-4e12-908f-3d55d82bc7e2");
        assert_eq!(a, OrgId(0xe508_908d_1a93_4e12));
        assert_eq!(a, org_number("e508908d-1a93-4e12-908f-3d55d82bc7e2"));
        assert_ne!(org_number("default"), org_number("other"));
    }
}
