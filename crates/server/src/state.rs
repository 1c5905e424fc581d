//! What every front end shares: trait objects of the engines, built by the binary.

use std::sync::Arc;

use sextant_catalog::Catalog;
use tonic::Status;

/// The engines behind the front ends.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Metadata: organizations, keys, assets, configs, channels, runs.
    pub catalog: Arc<dyn Catalog>,
}

impl AppState {
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
            .map_err(|e| crate::error::status(sextant_model::ErrorKind::Internal, e))?
            .map_err(crate::error::catalog_status)
    }
}
