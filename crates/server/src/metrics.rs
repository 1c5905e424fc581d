//! `GET /metrics`: Sextant's own figures in the Prometheus text format — points ingested per
//! protocol, requests and errors per gRPC method, series held, head memory, WAL appends, syncs
//! and sync latency.
//!
//! Counters are kept here as requests pass; store figures are read from the store at each
//! scrape.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use sextant_rules::LiveRules;
use sextant_storage::Store;
use sextant_storage::wal::SyncLatency;

use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    protocol: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    status: u16,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    points: Family<ProtocolLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    grpc: Family<GrpcLabels, Counter>,
    http: Family<HttpLabels, Counter>,
}

impl Metrics {
    /// Metrics that read the store's figures from `store` and the rule engine's from `rules`
    /// at each scrape.
    pub fn new(store: Arc<dyn Store>, rules: Arc<dyn LiveRules>) -> Self {
        let mut registry = Registry::with_prefix("sextant");
        let points = Family::<ProtocolLabels, Counter>::default();
        registry.register(
            "ingested_points",
            "Points stored, by the protocol they came in by",
            points.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            "refused_points",
            "Points or events refused alone while the rest of their request was stored, by \
             protocol and reason (each is logged with the key's name and the reason)",
            refused.clone(),
        );
        let grpc = Family::<GrpcLabels, Counter>::default();
        registry.register(
            "grpc_requests",
            "gRPC calls by method and status code (OK where the call did not fail before its reply)",
            grpc.clone(),
        );
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests other than gRPC, by status",
            http.clone(),
        );
        registry.register_collector(Box::new(StoreCollector { store }));
        registry.register_collector(Box::new(RulesCollector { rules }));
        Metrics {
            registry,
            points,
            refused,
            grpc,
            http,
        }
    }

    /// Counts `n` points stored from `protocol`.
    pub fn ingested(&self, protocol: &'static str, n: usize) {
        self.points
            .get_or_create(&ProtocolLabels { protocol })
            .inc_by(n as u64);
    }

    /// Counts `n` points (or events) from `protocol` refused alone for `reason`.
    pub fn refused(&self, protocol: &'static str, reason: &'static str, n: usize) {
        self.refused
            .get_or_create(&RefusedLabels { protocol, reason })
            .inc_by(n as u64);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Reads the store's figures at scrape time.
/// The live rule engine's counters, read at each scrape.
#[derive(Debug)]
struct RulesCollector {
    rules: Arc<dyn LiveRules>,
}

impl Collector for RulesCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.rules.stats();
        for (name, help, value) in [
            (
                "rule_evaluations",
                "Evaluations of a live rule over a stream's new data",
                stats.evaluations,
            ),
            (
                "rule_annotations_opened",
                "Annotations opened by live rules",
                stats.opened,
            ),
            (
                "rule_annotations_closed",
                "Annotations closed by live rules",
                stats.closed,
            ),
            (
                "rule_failures",
                "Live rule evaluations or commits that failed (see the log); they are repeated",
                stats.failures,
            ),
        ] {
            let metric = ConstCounter::new(value);
            let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(e)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct StoreCollector {
    store: Arc<dyn Store>,
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.store.stats();
        let gauge = |encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64| {
            let metric = ConstGauge::new(value);
            let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(e)
        };
        gauge(&mut encoder, "series", "Series held", stats.series as i64)?;
        gauge(
            &mut encoder,
            "head_bytes",
            "Estimated memory held by the in-memory head, in bytes",
            stats.head_bytes as i64,
        )?;
        let counter = |encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64| {
            let metric = ConstCounter::new(value);
            let e = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(e)
        };
        counter(
            &mut encoder,
            "wal_appends",
            "Records appended to the write-ahead log",
            stats.wal.appends,
        )?;
        counter(
            &mut encoder,
            "wal_groups",
            "Groups written to the write-ahead log, each with one sync (appends / groups = group size)",
            stats.wal.groups,
        )?;
        counter(
            &mut encoder,
            "wal_written_bytes",
            "Bytes written to the write-ahead log",
            stats.wal.bytes,
        )?;
        encode_latency(&mut encoder, &stats.wal_sync_latency)
    }
}

fn encode_latency(
    encoder: &mut DescriptorEncoder<'_>,
    latency: &SyncLatency,
) -> Result<(), std::fmt::Error> {
    let mut cumulative = 0;
    let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(SyncLatency::BOUNDS.len() + 1);
    for (bound, count) in SyncLatency::BOUNDS
        .iter()
        .chain([f64::INFINITY].iter())
        .zip(latency.counts)
    {
        cumulative += count;
        buckets.push((*bound, cumulative));
    }
    let mut e = encoder.encode_descriptor(
        "wal_sync",
        "How long write-ahead log syncs (fdatasync) took",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    e.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        latency.sum_seconds,
        cumulative,
        &buckets,
        None,
    )
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The `method` label of calls that reached no method Sextant serves: paths of no service,
/// methods a service does not have, and calls refused before routing (no valid key). Labels
/// come only from a closed set, so that no request can grow the metrics.
const UNKNOWN_METHOD: &str = "unknown";

/// The middleware counting requests: gRPC by method and the status code visible in the
/// response headers (a failed call's code; OK otherwise), HTTP by status.
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    // A path matched a served service's route; the method is known once its handler answered.
    let routed = request.extensions().get::<MatchedPath>().is_some();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if grpc {
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(tonic::Code::Ok, tonic::Code::from);
        // Only a gRPC service answers in gRPC: a request that claims to be gRPC but reached an
        // HTTP route (the console's pages, served without a key) is not a method.
        let answered_grpc = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        let method = match code {
            tonic::Code::Unimplemented | tonic::Code::Unauthenticated => UNKNOWN_METHOD.to_owned(),
            _ if routed && answered_grpc => path,
            _ => UNKNOWN_METHOD.to_owned(),
        };
        let code = if code == tonic::Code::Ok {
            "OK".to_owned()
        } else {
            format!("{code:?}")
        };
        state
            .metrics
            .grpc
            .get_or_create(&GrpcLabels { method, code })
            .inc();
    } else {
        state
            .metrics
            .http
            .get_or_create(&HttpLabels {
                status: response.status().as_u16(),
            })
            .inc();
    }
    response
}
