//! What every front end shares: trait objects of the engines (store, catalog, live rules) and
//! the clock, built by the binary.

use std::sync::Arc;

use sextant_catalog::{Catalog, Clock, SystemClock};
use sextant_model::ErrorKind;
use sextant_rules::LiveRules;
use sextant_storage::Store;
use tonic::Status;

pub use sextant_catalog::org_number;

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
    pub rules: Arc<dyn LiveRules>,
    /// The wall clock front ends read "now" from (a line without a timestamp, a relative
    /// KairosDB query, a stopped run): the system's, unless a test fixes it.
    pub clock: Arc<dyn Clock>,
    /// SignalFx's metadata (metrics, dimensions, MTS, tags) in memory, loaded from the
    /// catalog per organization on first use.
    pub signalfx: Arc<crate::signalfx::index::SfxIndex>,
    /// The hosts rules' own webhooks may reach (`sextant serve --webhook-allow`); empty
    /// unless set with [`AppState::with_webhook_allow`].
    pub webhook_allow: Arc<crate::webhook::AllowList>,
    /// The SignalFlow computations running, counted per organization for its limit.
    pub computations: Arc<crate::signalflow::Computations>,
    /// The SignalFlow detectors running.
    pub detectors: Arc<crate::signalflow::detectors::Detectors>,
    /// The webhook sender, when the binary started one ([`AppState::with_webhooks`]).
    pub webhooks: Option<Arc<crate::webhook::Webhooks>>,
    /// The longest a query may run ([`crate::budget`]).
    pub query_timeout: std::time::Duration,
    /// The most raw points a query may hold at once ([`crate::budget::DEFAULT_QUERY_MAX_POINTS`]).
    pub query_max_points: usize,
    /// Failed logins per address ([`crate::login::LoginLimiter`]).
    pub logins: Arc<crate::login::LoginLimiter>,
    /// Event collections, when the binary opened them ([`AppState::with_collections`]).
    pub collections: Option<Arc<sextant_collections::Collections>>,
    /// The live subscriptions open, and their limits.
    pub subscriptions: Arc<crate::live::Subscriptions>,
    /// The ingest bodies that may be decoded at once ([`crate::body::DecodeBudget`]).
    pub decode_budget: Arc<crate::body::DecodeBudget>,
    /// Files attached to runs and annotations, when the binary opened a blob store
    /// ([`AppState::with_files`]).
    pub files: Option<Arc<crate::files::Files>>,
    /// Whether clients reach the server over TLS, for the URLs it hands out.
    pub tls: bool,
}

impl AppState {
    /// The state of a server over these engines, with the system clock.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        store: Arc<dyn Store>,
        rules: Arc<dyn LiveRules>,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(store.clone(), rules.clone()));
        AppState {
            catalog,
            store,
            metrics,
            rules,
            clock: Arc::new(SystemClock),
            signalfx: Arc::default(),
            webhook_allow: Arc::default(),
            computations: Arc::default(),
            detectors: Arc::default(),
            webhooks: None,
            query_timeout: crate::budget::DEFAULT_QUERY_TIMEOUT,
            query_max_points: crate::budget::DEFAULT_QUERY_MAX_POINTS,
            logins: Arc::default(),
            collections: None,
            subscriptions: Arc::default(),
            files: None,
            tls: false,
            decode_budget: Arc::default(),
        }
    }

    /// The same state decoding at most `bytes` of ingest bodies and Sift streams at once, a
    /// request waiting at most `wait` for its share.
    pub fn with_decode_budget(mut self, bytes: usize, wait: std::time::Duration) -> Self {
        self.decode_budget = Arc::new(crate::body::DecodeBudget::new(bytes, wait));
        self
    }

    /// The same state with these limits on live subscriptions.
    pub fn with_subscription_limits(mut self, limits: crate::live::SubscriptionLimits) -> Self {
        self.subscriptions = Arc::new(crate::live::Subscriptions::new(limits));
        self
    }

    /// The same state telling clients to use `https` in the URLs it hands out.
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// The same state keeping attached files in `files`.
    pub fn with_files(mut self, files: Arc<crate::files::Files>) -> Self {
        self.files = Some(files);
        self
    }

    /// Removes the bytes of files whose catalog rows were deleted.
    pub async fn remove_file_blobs(&self, files: Vec<sextant_catalog::RemoteFile>) {
        if let Some(store) = &self.files {
            store.remove_blobs(files).await;
        }
    }

    /// The same state serving the event collections of `collections`.
    pub fn with_collections(mut self, collections: Arc<sextant_collections::Collections>) -> Self {
        self.collections = Some(collections);
        self
    }

    /// The same state stopping queries that run longer than `timeout`.
    pub fn with_query_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// The same state refusing queries that would hold more than `points` raw points.
    pub fn with_query_max_points(mut self, points: usize) -> Self {
        self.query_max_points = points;
        self
    }

    /// The same state allowing rules' webhooks to reach the hosts of `allow`.
    pub fn with_webhook_allow(mut self, allow: crate::webhook::AllowList) -> Self {
        self.webhook_allow = Arc::new(allow);
        self
    }

    /// The same state sending detectors' notifications through `webhooks`.
    pub fn with_webhooks(mut self, webhooks: Arc<crate::webhook::Webhooks>) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    /// The same state reading the time from `clock` (tests fix the time with it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The limits queries of organization `org_id` run under: the server's, with those set for
    /// the organization (`sextant org limits`) in their place. Read from the catalog at each
    /// query, so a change applies to the next query; if the catalog cannot be read, the
    /// server's limits apply and the failure is logged.
    pub async fn query_limits(&self, org_id: &str) -> crate::budget::QueryLimits {
        let server = crate::budget::QueryLimits::server(self.query_timeout, self.query_max_points);
        let catalog = self.catalog.clone();
        let org = org_id.to_owned();
        let read = tokio::task::spawn_blocking(move || catalog.organization_limits(&org))
            .await
            .map_err(|e| e.to_string())
            .and_then(|read| read.map_err(|e| e.to_string()));
        match read {
            Ok(set) => server.for_org(&set),
            Err(error) => {
                tracing::warn!(org = org_id, %error, "cannot read the organization's limits; the server's apply");
                server
            }
        }
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

    /// [`AppState::catalog`] for HTTP handlers: the error is an [`crate::error::HttpError`].
    pub async fn catalog_http<T, F>(&self, call: F) -> Result<T, crate::error::HttpError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> sextant_catalog::Result<T> + Send + 'static,
    {
        let catalog = self.catalog.clone();
        Ok(tokio::task::spawn_blocking(move || call(catalog.as_ref())).await??)
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
