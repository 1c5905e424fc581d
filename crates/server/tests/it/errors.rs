//! Error replies, request ids, authorization and the injected clock, over a real socket.
//!
//! The server here runs over a store that fails on demand, so that internal failures, limits
//! and unavailability can be provoked without breaking a disk.

use crate::common;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;

use parking_lot::Mutex;
use sextant_catalog::{Catalog, Clock, Scope, SqliteCatalog};
use sextant_model::{OrgId, Point, SeriesKey, Timestamp, ValidatedBatch};
use sextant_server::state::AppState;
use sextant_storage::head::{SeriesInfo, SeriesMatcher};
use sextant_storage::{
    Agg, AggregateResult, ArrowPoints, Db, DbConfig, DeleteReport, FlushReport, MaintenanceReport,
    Order, SeriesSelector, Store, StoreStats, WriteReceipt,
};
use tokio::net::TcpListener;

const TOKEN: &str = common::TOKEN;

/// The fixed time of the test clock: 2024-01-01T00:00:00Z.
const NOW: Timestamp = 1_704_067_200_000_000_000;

#[derive(Debug)]
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        NOW
    }
}

/// Which failure the store answers writes, reads and flushes with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fail {
    Nothing,
    /// An I/O error naming a path: internal.
    Disk,
    /// The organization's series limit: limit exceeded.
    Limit,
    /// A poisoned WAL: unavailable.
    Poisoned,
}

/// A real store that fails on demand.
#[derive(Debug)]
struct FailingStore {
    db: Db,
    fail: Mutex<Fail>,
}

impl FailingStore {
    fn check(&self) -> sextant_storage::Result<()> {
        match *self.fail.lock() {
            Fail::Nothing => Ok(()),
            Fail::Disk => Err(sextant_storage::Error::Io {
                action: "write part",
                path: "/srv/secret/parts/000017.part".into(),
                source: std::io::Error::other("No space left on device"),
            }),
            Fail::Limit => Err(sextant_storage::Error::SeriesLimit {
                org: OrgId(1),
                series: "cpu.usage_user{host=\"h1\"}".into(),
                current: 10,
                new: 1,
                limit: 10,
            }),
            Fail::Poisoned => Err(sextant_storage::Error::WalPoisoned {
                cause: "fdatasync failed".into(),
            }),
        }
    }
}

impl Store for FailingStore {
    fn write(&self, batch: ValidatedBatch) -> sextant_storage::Result<WriteReceipt> {
        self.check()?;
        self.db.write(batch)
    }

    fn write_with(
        &self,
        batch: ValidatedBatch,
        policy: sextant_storage::WritePolicy,
    ) -> sextant_storage::Result<sextant_storage::WriteOutcome> {
        self.check()?;
        self.db.write_with(batch, policy)
    }

    fn read(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> sextant_storage::Result<Vec<Point>> {
        self.check()?;
        self.db.read(org, key, range)
    }

    fn read_as_of(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
    ) -> sextant_storage::Result<(Vec<Point>, u64)> {
        self.check()?;
        self.db.read_as_of(org, key, range)
    }

    fn read_limited(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> sextant_storage::Result<Vec<Point>> {
        self.check()?;
        self.db.read_limited(org, key, range, limit, order)
    }

    fn read_arrow(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        limit: Option<usize>,
        order: Order,
    ) -> sextant_storage::Result<ArrowPoints> {
        self.check()?;
        self.db.read_arrow(org, key, range, limit, order)
    }

    fn aggregate(
        &self,
        org: OrgId,
        key: &SeriesKey,
        range: Range<Timestamp>,
        bucket_ns: i64,
        aggs: &[Agg],
    ) -> sextant_storage::Result<AggregateResult> {
        self.check()?;
        Store::aggregate(&self.db, org, key, range, bucket_ns, aggs)
    }

    fn delete(
        &self,
        org: OrgId,
        selector: &SeriesSelector,
        range: Range<Timestamp>,
    ) -> sextant_storage::Result<DeleteReport> {
        self.check()?;
        self.db.delete(org, selector, range)
    }

    fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        self.db.series(org, matcher)
    }

    fn select(&self, org: OrgId, selector: &SeriesSelector) -> Vec<SeriesInfo> {
        self.db.select(org, selector)
    }

    fn label_names(&self, org: OrgId, selector: &SeriesSelector) -> Vec<String> {
        self.db.label_names(org, selector)
    }

    fn label_values(&self, org: OrgId, label: &str, selector: &SeriesSelector) -> Vec<String> {
        self.db.label_values(org, label, selector)
    }

    fn names(&self, org: OrgId, prefix: Option<&str>) -> Vec<String> {
        self.db.names(org, prefix)
    }

    fn stats(&self) -> StoreStats {
        Store::stats(&self.db)
    }

    fn feed(&self) -> &dyn sextant_storage::CommitFeed {
        Store::feed(&self.db)
    }

    fn flush(&self) -> sextant_storage::Result<FlushReport> {
        self.check()?;
        self.db.flush()
    }

    fn merge(&self, min_parts: usize) -> sextant_storage::Result<MaintenanceReport> {
        self.check()?;
        self.db.merge(min_parts)
    }
}

struct Server {
    addr: SocketAddr,
    catalog: Arc<SqliteCatalog>,
    store: Arc<FailingStore>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(SqliteCatalog::open(dir.path().join("catalog.db")).unwrap());
        catalog.bootstrap(TOKEN).unwrap();
        let store = Arc::new(FailingStore {
            db: Db::open(dir.path(), DbConfig::default()).unwrap(),
            fail: Mutex::new(Fail::Nothing),
        });
        let state = AppState::new(
            catalog.clone(),
            store.clone(),
            sextant_rules::RuleEngine::start(
                catalog.clone(),
                store.clone(),
                sextant_rules::EngineConfig::default(),
            ),
        )
        .with_clock(Arc::new(FixedClock));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            sextant_server::listener::serve(
                listener,
                sextant_server::app::router(state),
                None,
                std::future::pending(),
            )
            .await
            .unwrap();
        });
        Server {
            addr,
            catalog,
            store,
            _dir: dir,
        }
    }

    fn fail(&self, fail: Fail) {
        *self.store.fail.lock() = fail;
    }

    /// A key of `scope` in the bootstrap token's organization.
    fn key(&self, scope: Scope) -> String {
        let principal = self.catalog.authenticate(TOKEN).unwrap().unwrap();
        self.catalog
            .create_api_key(&principal.organization_id, "test", scope.into())
            .unwrap()
            .1
    }

    async fn send(&self, method: &str, path: &str, key: &str, body: &str) -> Reply {
        let auth = format!("Bearer {key}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        send(self.addr, method, path, &headers, body).await
    }
}

/// A reply: status, headers (names lower-case), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// Every string of the JSON body, joined: the messages whatever the shape.
    fn text(&self) -> String {
        fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        strings(&self.json(), &mut out);
        out.join("\n")
    }

    fn request_id(&self) -> &str {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id: {self:?}"))
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
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
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn generic(id: &str) -> String {
    format!("internal error (request id {id}; the detail is in the server log)")
}

/// A query from 2024-01-01 of metric `m.v` (line protocol's `m v=…`), with `aggregators`.
fn kairos_query(aggregators: &str) -> String {
    format!(
        r#"{{"start_absolute": 1704067200000, "metrics": [{{"name": "m.v", "aggregators": [{aggregators}]}}]}}"#
    )
}

#[tokio::test]
async fn an_internal_failure_is_a_500_naming_the_request_id_and_no_detail() {
    let server = Server::start().await;
    server.fail(Fail::Disk);

    // Native shape.
    let reply = server
        .send("POST", "/api/native/v1/admin/flush", TOKEN, "")
        .await;
    assert_eq!(reply.status, 500, "{reply:?}");
    let id = reply.request_id();
    assert_eq!(reply.json(), serde_json::json!({ "error": generic(id) }));

    // Line protocol, both dialects.
    let reply = server.send("POST", "/write", TOKEN, "m v=1 1\n").await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(
        reply.json(),
        serde_json::json!({ "error": generic(reply.request_id()) })
    );
    let reply = server
        .send("POST", "/api/v2/write", TOKEN, "m v=1 1\n")
        .await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(
        reply.json(),
        serde_json::json!({ "code": "internal error", "message": generic(reply.request_id()) })
    );

    // KairosDB: a query reading a series whose read fails.
    server.fail(Fail::Nothing);
    let reply = server
        .send("POST", "/write?precision=s", TOKEN, "m v=1 1704067200\n")
        .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    server.fail(Fail::Disk);
    let reply = server
        .send("POST", "/api/v1/datapoints/query", TOKEN, &kairos_query(""))
        .await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(
        reply.json(),
        serde_json::json!({ "errors": [generic(reply.request_id())] })
    );

    // No reply carries the detail.
    for (method, path, body) in [
        ("POST", "/api/native/v1/admin/flush", ""),
        ("POST", "/write", "m v=1 1\n"),
        (
            "POST",
            "/api/v1/datapoints/query",
            kairos_query("").as_str(),
        ),
    ] {
        let reply = server.send(method, path, TOKEN, body).await;
        for secret in ["/srv/secret", "No space left", "part"] {
            assert!(!reply.body.contains(secret), "{path}: {}", reply.body);
        }
    }
}

#[tokio::test]
async fn limits_and_unavailability_keep_their_status_and_say_why() {
    let server = Server::start().await;
    server.fail(Fail::Limit);
    let reply = server.send("POST", "/write", TOKEN, "m v=1 1\n").await;
    assert_eq!(reply.status, 429, "{reply:?}");
    let message = reply.json()["error"].as_str().unwrap().to_owned();
    assert!(message.contains("limit"), "{message}");
    let reply = server
        .send("POST", "/api/v2/write", TOKEN, "m v=1 1\n")
        .await;
    assert_eq!(reply.status, 429, "{reply:?}");
    assert_eq!(reply.json()["code"], "too many requests");

    server.fail(Fail::Poisoned);
    let reply = server.send("POST", "/write", TOKEN, "m v=1 1\n").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    let message = reply.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("the WAL refuses writes after an earlier failure"),
        "{message}"
    );
    let reply = server
        .send("POST", "/api/native/v1/admin/flush", TOKEN, "")
        .await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.json()["error"].as_str().unwrap().contains("WAL"));
}

#[tokio::test]
async fn client_errors_name_the_problem() {
    let server = Server::start().await;
    let read = server.key(Scope::Read);
    let ingest = server.key(Scope::Ingest);
    for (method, path, key, body, status, expected) in [
        (
            "POST",
            "/write?precision=d",
            TOKEN,
            "m v=1 1\n",
            400,
            "unknown precision \"d\"",
        ),
        (
            "POST",
            "/write",
            read.as_str(),
            "m v=1 1\n",
            403,
            "this read key may not write points: that needs a key of scope ingest or admin",
        ),
        (
            "POST",
            "/api/native/v1/admin/flush",
            ingest.as_str(),
            "",
            403,
            "this ingest key may not run maintenance: that needs a key of scope admin",
        ),
        (
            "POST",
            "/api/v1/datapoints/query",
            ingest.as_str(),
            "{}",
            403,
            "this ingest key may not read data",
        ),
        (
            "POST",
            "/api/v1/datapoints/query",
            TOKEN,
            r#"{"metrics": []}"#,
            400,
            "start",
        ),
        (
            "POST",
            "/api/native/v1/users",
            ingest.as_str(),
            r#"{"name": "ripley"}"#,
            403,
            "may not manage users",
        ),
        (
            "GET",
            "/api/native/v1/annotations/nope",
            read.as_str(),
            "",
            404,
            "nope",
        ),
        (
            "GET",
            "/api/v1/nothing",
            TOKEN,
            "",
            404,
            "no route for GET /api/v1/nothing",
        ),
    ] {
        let reply = server.send(method, path, key, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {reply:?}");
        assert!(
            reply.text().contains(expected),
            "{method} {path}: {}",
            reply.body
        );
        assert!(reply.header("x-request-id").is_some());
    }

    // A wrong key is refused in the error shape of each protocol.
    let wrong = "Token sxt_not_a_key";
    for (path, pointer) in [
        ("/write", "/error"),
        ("/api/v2/write", "/message"),
        ("/api/v1/datapoints", "/errors/0"),
        ("/v2/datapoint", "/error"),
        ("/api/native/v1/rules", "/error"),
    ] {
        let reply = send(server.addr, "POST", path, &[("authorization", wrong)], "").await;
        assert_eq!(reply.status, 401, "{path}: {reply:?}");
        assert_eq!(
            reply.json().pointer(pointer).and_then(|m| m.as_str()),
            Some("invalid or revoked API key"),
            "{path}: {}",
            reply.body
        );
    }
    let reply = send(
        server.addr,
        "POST",
        "/api/v2/write",
        &[("authorization", wrong)],
        "",
    )
    .await;
    assert_eq!(reply.json()["code"], "unauthorized", "{}", reply.body);

    // A body the native API cannot take is refused in its shape too.
    let auth = format!("Bearer {TOKEN}");
    let reply = send(
        server.addr,
        "POST",
        "/api/native/v1/users",
        &[("authorization", &auth)],
        r#"{"name": "ripley"}"#,
    )
    .await;
    assert_eq!(reply.status, 415, "{reply:?}");
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("Content-Type")
    );
    let reply = server
        .send(
            "POST",
            "/api/native/v1/users",
            TOKEN,
            r#"{"nom": "ripley"}"#,
        )
        .await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `nom`"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_made_otherwise() {
    let server = Server::start().await;
    let auth = format!("Bearer {TOKEN}");
    let reply = send(
        server.addr,
        "GET",
        "/api/v1/metricnames",
        &[
            ("authorization", &auth),
            ("x-request-id", "trace-4bf92f35.7"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.request_id(), "trace-4bf92f35.7");

    // Made ids: a prefix and a counter; distinct per request, even without a key.
    let a = send(server.addr, "GET", "/health", &[], "").await;
    let b = send(server.addr, "GET", "/api/v1/metricnames", &[], "").await;
    assert_eq!(b.status, 401);
    // A refused key is answered like every other HTTP error of the protocol (KairosDB's
    // here): JSON naming what is wrong.
    assert!(
        b.json()["errors"][0]
            .as_str()
            .unwrap()
            .contains("missing API key"),
        "{}",
        b.body
    );
    assert_eq!(b.header("www-authenticate"), Some("Bearer"));
    for reply in [&a, &b] {
        let (prefix, n) = reply.request_id().split_once('-').unwrap();
        assert_eq!(prefix.len(), 8, "{}", reply.request_id());
        assert!(n.parse::<u64>().is_ok(), "{}", reply.request_id());
    }
    assert_ne!(a.request_id(), b.request_id());

    // An id that is not sane is replaced.
    let long = "x".repeat(100);
    for sent in ["has space", long.as_str()] {
        let reply = send(server.addr, "GET", "/health", &[("x-request-id", sent)], "").await;
        assert_ne!(reply.request_id(), sent);
        assert_eq!(reply.request_id().split_once('-').unwrap().0.len(), 8);
    }

    // The client's id is the one an internal error names.
    server.fail(Fail::Disk);
    let reply = send(
        server.addr,
        "POST",
        "/api/native/v1/admin/flush",
        &[("authorization", &auth), ("x-request-id", "ticket-1234")],
        "",
    )
    .await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.request_id(), "ticket-1234");
    assert_eq!(reply.json()["error"], generic("ticket-1234"));
}

#[tokio::test]
async fn a_read_only_key_may_not_save_as_but_may_query() {
    let server = Server::start().await;
    let read = server.key(Scope::Read);
    let reply = server
        .send("POST", "/write?precision=s", TOKEN, "m v=1 1704067200\n")
        .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let query = kairos_query;
    let save = r#"{"name": "save_as", "metric_name": "m.saved"}"#;

    let reply = server
        .send("POST", "/api/v1/datapoints/query", &read, &query(""))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = server
        .send("POST", "/api/v1/datapoints/query", &read, &query(save))
        .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.json(),
        serde_json::json!({"errors": [
            "this read key may not write points: that needs a key of scope ingest or admin"
        ]})
    );
    let names = server.send("GET", "/api/v1/metricnames", &read, "").await;
    assert_eq!(names.json()["results"], serde_json::json!(["m.v"]));

    // An admin key may; the saved metric appears.
    let reply = server
        .send("POST", "/api/v1/datapoints/query", TOKEN, &query(save))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let names = server.send("GET", "/api/v1/metricnames", &read, "").await;
    assert_eq!(
        names.json()["results"],
        serde_json::json!(["m.saved", "m.v"])
    );
}

#[tokio::test]
async fn reading_metadata_means_the_same_for_every_protocol() {
    let server = Server::start().await;
    let ingest = server.key(Scope::Ingest);
    let read = server.key(Scope::Read);
    // Metadata: every scope.
    for path in [
        "/api/v1/metricnames",
        "/api/v1/tagnames",
        "/api/v1/tagvalues",
        "/api/native/v1/rules",
        "/api/native/v1/users",
        "/api/native/v1/annotations",
    ] {
        for key in [ingest.as_str(), read.as_str(), TOKEN] {
            let reply = server.send("GET", path, key, "").await;
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
        }
    }
    // Data: read and admin keys only.
    let query = kairos_query("");
    for (key, status) in [(ingest.as_str(), 403), (read.as_str(), 200), (TOKEN, 200)] {
        let reply = server
            .send("POST", "/api/v1/datapoints/query", key, &query)
            .await;
        assert_eq!(reply.status, status, "{reply:?}");
    }
    // Deleting: ingest and admin keys only.
    for (key, status) in [(read.as_str(), 403), (ingest.as_str(), 204)] {
        let reply = server.send("DELETE", "/api/v1/metric/m", key, "").await;
        assert_eq!(reply.status, status, "{reply:?}");
    }
}

#[tokio::test]
async fn front_ends_read_the_time_from_the_injected_clock() {
    let server = Server::start().await;
    // A line without a timestamp takes the clock's time.
    let reply = server.send("POST", "/write", TOKEN, "clocked v=7\n").await;
    assert_eq!(reply.status, 204, "{reply:?}");
    // A relative KairosDB query counts back from the clock's time: the point is within the
    // last minute only by that clock.
    let query = r#"{"start_relative": {"value": 1, "unit": "minutes"},
                    "metrics": [{"name": "clocked.v"}]}"#;
    let reply = server
        .send("POST", "/api/v1/datapoints/query", TOKEN, query)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let values = &reply.json()["queries"][0]["results"][0]["values"];
    assert_eq!(values, &serde_json::json!([[NOW / 1_000_000, 7]]));
}

#[tokio::test]
async fn grpc_internal_errors_name_the_request_id_and_stop_run_reads_the_clock() {
    use sift_rs::common::r#type::v1::ChannelDataType;
    use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;
    use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as V;
    use sift_rs::ingest::v1::{
        IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest,
    };
    use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
    use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};
    use sift_rs::runs::v2::run_service_client::RunServiceClient;
    use sift_rs::runs::v2::{CreateRunRequest, GetRunRequest, StopRunRequest};

    let server = Server::start().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let config = IngestionConfigServiceClient::new(common::authed(channel.clone(), TOKEN))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: vec![FlowConfig {
                name: "f".into(),
                channels: vec![ChannelConfig {
                    name: "velocity".into(),
                    data_type: ChannelDataType::Double as i32,
                    ..Default::default()
                }],
            }],
            client_key: "nostromo".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap();

    server.fail(Fail::Disk);
    let message = IngestWithConfigDataStreamRequest {
        ingestion_config_id: config.ingestion_config_id,
        flow: "f".into(),
        timestamp: Some(pbjson_types::Timestamp {
            seconds: 1_704_067_200,
            nanos: 0,
        }),
        channel_values: vec![IngestWithConfigDataChannelValue {
            r#type: Some(V::Double(1.5)),
        }],
        ..Default::default()
    };
    let err = IngestServiceClient::new(common::authed(channel.clone(), TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(vec![message]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{}", err.message());
    let id = err
        .metadata()
        .get("x-request-id")
        .expect("the request id travels with the status")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(err.message(), generic(&id));
    server.fail(Fail::Nothing);

    // StopRun stamps the run with the injected clock's time.
    let mut runs = RunServiceClient::new(common::authed(channel, TOKEN));
    let run = runs
        .create_run(CreateRunRequest {
            name: "run 1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    runs.stop_run(StopRunRequest {
        run_id: run.run_id.clone(),
    })
    .await
    .unwrap();
    let stopped = runs
        .get_run(GetRunRequest { run_id: run.run_id })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let stop = stopped.stop_time.unwrap();
    assert_eq!(
        stop.seconds * 1_000_000_000 + i64::from(stop.nanos),
        NOW,
        "{stopped:?}"
    );
}
