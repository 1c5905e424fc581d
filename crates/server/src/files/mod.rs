//! Files attached to runs, annotations and annotation logs: the upload and download over HTTP
//! that Sift's clients use ([`rest`]), and what the gRPC `RemoteFileService` shares with them
//! (`docs/files.md`).
//!
//! Bytes stream both ways between the socket and the blob store one chunk at a time, so a file
//! of any size passes in bounded memory. A download URL is signed (HMAC-SHA256 over the
//! organization, the file and the expiry, with a key made at start), as an object store's
//! presigned URL is: clients fetch it without credentials, for an hour or until the server
//! restarts.

pub mod rest;

use std::sync::Arc;
use std::time::Duration;

use ring::hmac;
use sextant_catalog::{Catalog, RemoteFile};
use sextant_storage::blobs::{Blob, BlobStore};
use tokio::sync::Semaphore;

/// How long a download URL works.
pub const URL_LIFETIME: Duration = Duration::from_secs(3600);

/// The default largest file: 4 GiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 30;

/// The default bytes of files one organization may store: 100 GiB.
pub const DEFAULT_ORG_MAX_BYTES: u64 = 100 << 30;

/// The default uploads received at once; more wait for one to end.
pub const DEFAULT_CONCURRENT_UPLOADS: usize = 16;

/// The limits on files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// The largest file, in bytes.
    pub max_file_bytes: u64,
    /// The bytes of files one organization may store.
    pub org_max_bytes: u64,
    /// Uploads received at once.
    pub concurrent_uploads: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            org_max_bytes: DEFAULT_ORG_MAX_BYTES,
            concurrent_uploads: DEFAULT_CONCURRENT_UPLOADS,
        }
    }
}

/// The blob store, its limits and the URL signing key.
#[derive(Debug)]
pub struct Files {
    /// Where the bytes are.
    pub blobs: BlobStore,
    /// The limits.
    pub limits: FileLimits,
    uploads: Semaphore,
    key: hmac::Key,
}

impl Files {
    /// Files kept in `blobs` under `limits`, with a fresh signing key.
    pub fn new(blobs: BlobStore, limits: FileLimits) -> Result<Self, String> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "cannot read OS randomness for the download URL key".to_owned())?;
        Ok(Files {
            blobs,
            uploads: Semaphore::new(limits.concurrent_uploads.max(1)),
            limits,
            key,
        })
    }

    /// Removes the blobs the catalog does not name and unfinished uploads; run at start.
    pub fn sweep(&self, catalog: &dyn Catalog) -> Result<(usize, u64), String> {
        let keys: std::collections::HashSet<(String, String)> = catalog
            .remote_file_keys()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let report = self
            .blobs
            .sweep(|org, id| keys.contains(&(org.to_owned(), id.to_owned())))
            .map_err(|e| e.to_string())?;
        Ok((report.removed, report.bytes))
    }

    fn message(org: &str, id: &str, expires: u64) -> String {
        format!("{org}\n{id}\n{expires}")
    }

    /// The signature of a download of `id` of `org` until `expires` (Unix seconds), in hex.
    pub fn sign(&self, org: &str, id: &str, expires: u64) -> String {
        let tag = hmac::sign(&self.key, Self::message(org, id, expires).as_bytes());
        sextant_storage::blobs::hex(tag.as_ref())
    }

    /// Whether `signature` (hex) is this server's for the download.
    pub fn verify(&self, org: &str, id: &str, expires: u64, signature: &str) -> bool {
        let Some(tag) = unhex(signature) else {
            return false;
        };
        hmac::verify(&self.key, Self::message(org, id, expires).as_bytes(), &tag).is_ok()
    }

    /// The path and query of a signed download of `file`, valid until `expires`.
    pub fn download_path(&self, file: &RemoteFile, expires: u64) -> String {
        format!(
            "{}/{}/download?organization={}&expires={expires}&signature={}",
            rest::FILES_PATH,
            file.id,
            file.organization_id,
            self.sign(&file.organization_id, &file.id, expires)
        )
    }

    /// Removes the blobs of deleted files; a failure is logged and left to the next sweep,
    /// since their rows are gone already.
    pub async fn remove_blobs(self: &Arc<Self>, files: Vec<RemoteFile>) {
        if files.is_empty() {
            return;
        }
        let this = self.clone();
        let removed = tokio::task::spawn_blocking(move || {
            for file in &files {
                if let Err(error) = this.blobs.remove(&file.organization_id, &file.id) {
                    tracing::warn!(%error, file = %file.id, "cannot remove a deleted file's bytes");
                }
            }
        })
        .await;
        if let Err(error) = removed {
            tracing::warn!(%error, "removing deleted files' bytes failed");
        }
    }
}

/// The blob of a recorded file.
pub fn blob_of(file: &RemoteFile) -> Blob {
    Blob {
        size: file.size,
        sha256: file.sha256,
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The scheme and host a request was sent to, kept for the one gRPC call that makes URLs
/// ([`remember_origin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(pub String);

/// The gRPC method whose answer is a URL.
const DOWNLOAD_URL_METHOD: &str =
    "/sift.remote_files.v1.RemoteFileService/GetRemoteFileDownloadUrl";

/// Middleware: stores the [`Origin`] of download-URL calls (the `:authority` or `Host` they were
/// sent to), so that the URL points where the client already reaches this server.
pub async fn remember_origin(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.uri().path() == DOWNLOAD_URL_METHOD {
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                request
                    .headers()
                    .get(axum::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            });
        if let Some(host) = host {
            let scheme = request.uri().scheme_str().unwrap_or("http").to_owned();
            request
                .extensions_mut()
                .insert(Origin(format!("{scheme}://{host}")));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_organization_file_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let files =
            Files::new(BlobStore::open(dir.path()).unwrap(), FileLimits::default()).unwrap();
        let sig = files.sign("org", "f1", 100);
        assert_eq!(sig.len(), 64);
        assert!(files.verify("org", "f1", 100, &sig));
        assert!(!files.verify("org", "f1", 101, &sig));
        assert!(!files.verify("org", "f2", 100, &sig));
        assert!(!files.verify("other", "f1", 100, &sig));
        assert!(!files.verify("org", "f1", 100, "zz"));
        assert!(!files.verify("org", "f1", 100, &sig[..63]));
        // Another server's key signs differently.
        let other =
            Files::new(BlobStore::open(dir.path()).unwrap(), FileLimits::default()).unwrap();
        assert!(!other.verify("org", "f1", 100, &sig));
    }
}
