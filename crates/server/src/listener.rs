//! The listener: one address that serves HTTP/1.1 and gRPC (HTTP/2) side by side, in plaintext
//! (HTTP/2 by prior knowledge, as gRPC clients speak it without TLS) or with TLS (ALPN `h2`
//! and `http/1.1`).
//!
//! Shutdown follows the usual order: when the shutdown future completes, no new connection is
//! accepted, requests and streams in flight run to completion, then [`serve`] returns so the
//! caller can flush storage.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The certificate chain and private key to serve TLS with, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key of the leaf certificate.
    pub key: PathBuf,
}

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {detail}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The certificate and key do not make a usable configuration.
    #[error("cannot use the certificate {cert} with the key {key}: {source}")]
    Config {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// The cause.
        source: rustls::Error,
    },
}

/// Loads a TLS server configuration offering HTTP/2 and HTTP/1.1.
pub fn load_tls(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem = |what: &'static str, path: &Path, detail: String| TlsError::Pem {
        what,
        path: path.display().to_string(),
        detail,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .map_err(|e| pem("certificate", &files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem(
            "certificate",
            &files.cert,
            "no CERTIFICATE block found".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| pem("private key", &files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config_error = |source| TlsError::Config {
        cert: files.cert.display().to_string(),
        key: files.key.display().to_string(),
        source,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// HTTP/2 flow-control windows. The HTTP/2 library charges every small DATA frame it holds
/// unread against a budget of half the connection window, and drops the connection when it is
/// spent. gRPC clients send each streamed message as its own small frame, so a window that is
/// large for the connection and moderate for each stream lets an ingest stream fall far behind
/// (over 8,000 messages of 60 bytes each) without tripping it, while one stream never holds
/// more than half a mebibyte unread.
const CONNECTION_WINDOW: u32 = 64 << 20;
const STREAM_WINDOW: u32 = 512 << 10;
/// Streams open at once on one connection.
const MAX_CONCURRENT_STREAMS: u32 = 100;

/// Time limits on connections, so that clients that stall cannot hold the server's sockets
/// and memory, nor keep it from stopping.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// HTTP/1.1: how long a client may take to send a request's headers once it started
    /// one. The connection is closed when it runs out.
    pub header_read_timeout: Duration,
    /// HTTP/2: how often an idle connection is pinged; one that does not answer within the
    /// same time is closed.
    pub keep_alive_interval: Duration,
    /// How long a shutdown waits for the requests in flight to finish before it closes their
    /// connections.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            keep_alive_interval: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` with the default [`ConnectionLimits`] until `shutdown` completes
/// and the requests in flight finish, or the shutdown grace runs out.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, tls, shutdown, &ConnectionLimits::default()).await
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes and the requests in
/// flight finish; requests still running when [`ConnectionLimits::shutdown_grace`] has passed
/// since `shutdown` lose their connections.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &ConnectionLimits,
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keep_alive_interval)
        .keep_alive_timeout(limits.keep_alive_interval)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .initial_stream_window_size(STREAM_WINDOW)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors is transient; back off briefly.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        // Reap finished connections, so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let result = match acceptor {
                None => {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    watcher.watch(connection).await
                }
                Some(acceptor) => {
                    let stream = match acceptor.accept(stream).await {
                        Ok(stream) => stream,
                        Err(error) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                    };
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    watcher.watch(connection).await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?limits.shutdown_grace,
            connections = connections.len(),
            "requests still running after the shutdown grace; closing their connections",
        );
    }
    // Dropping the set aborts the connections left, and the requests on them.
    drop(connections);
    Ok(())
}
