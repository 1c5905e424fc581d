//! A server on a real socket with a real catalog in a temporary directory, and Sift clients
//! that authenticate to it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use sextant_catalog::{Catalog, Scope, SqliteCatalog};
use sextant_server::state::AppState;
use sextant_storage::{Db, DbConfig};
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The admin key every test server is bootstrapped with.
pub const TOKEN: &str = "sxt_test_bootstrap_token";

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub catalog: Arc<SqliteCatalog>,
    pub store: Arc<Db>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with_tls(None).await
    }

    pub async fn start_with_tls(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(SqliteCatalog::open(dir.path().join("catalog.db")).unwrap());
        catalog.bootstrap(TOKEN).unwrap();
        let store = Arc::new(Db::open(dir.path(), DbConfig::default()).unwrap());
        let state = AppState::new(
            catalog.clone(),
            store.clone(),
            sextant_rules::RuleEngine::start(
                catalog.clone(),
                store.clone(),
                sextant_rules::EngineConfig::default(),
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            sextant_server::listener::serve(
                listener,
                sextant_server::app::router(state),
                tls,
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
        });
        TestServer {
            addr,
            catalog,
            store,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// The number of the first organization.
    pub fn org(&self) -> sextant_model::OrgId {
        sextant_server::state::org_number(&self.catalog.list_organizations().unwrap()[0].id)
    }

    /// Every stored point of series `key` (in its text form) of the first organization.
    pub fn values(&self, key: &str) -> Vec<(i64, sextant_model::Value)> {
        let org = self.org();
        let key: sextant_model::SeriesKey = key.parse().unwrap();
        self.store
            .read(org, &key, i64::MIN..i64::MAX)
            .unwrap()
            .into_iter()
            .map(|p| (p.timestamp, p.value))
            .collect()
    }

    /// The data directory (catalog and store).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// A plaintext gRPC channel.
    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A key of `scope` in a new organization called `org`.
    pub fn key_in_new_org(&self, org: &str, scope: Scope) -> String {
        let org = self.catalog.create_organization(org).unwrap();
        self.catalog
            .create_api_key(&org.id, "test", scope.into())
            .unwrap()
            .1
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// Sends one HTTP/1.1 request and returns the status code and body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: sextant\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply[9..12].parse().unwrap();
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Adds `authorization: Bearer KEY` to every call.
#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.0).parse().unwrap(),
        );
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

pub fn authed(channel: Channel, key: &str) -> Authed {
    InterceptedService::new(channel, Bearer(key.to_owned()))
}
