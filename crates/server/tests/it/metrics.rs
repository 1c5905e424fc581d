//! `GET /metrics` reports what the server did, without a key, in the Prometheus text format.

use crate::common;

use common::{TOKEN, TestServer, authed};
use sift_rs::common::r#type::v1::ChannelDataType;
use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;
use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as V;
use sift_rs::ingest::v1::{IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest};
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scrape(server: &TestServer) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: s\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    reply
}

#[tokio::test]
async fn metrics_count_points_calls_series_and_wal_syncs() {
    let server = TestServer::start().await;
    let config = IngestionConfigServiceClient::new(authed(server.channel().await, TOKEN))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: vec![FlowConfig {
                name: "voltage".into(),
                channels: vec![ChannelConfig {
                    name: "voltage".into(),
                    data_type: ChannelDataType::Int32 as i32,
                    ..Default::default()
                }],
            }],
            client_key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap()
        .ingestion_config_id;
    let stream: Vec<_> = (0..25)
        .map(|i| IngestWithConfigDataStreamRequest {
            ingestion_config_id: config.clone(),
            flow: "voltage".into(),
            timestamp: Some(pbjson_types::Timestamp {
                seconds: i,
                nanos: 0,
            }),
            channel_values: vec![IngestWithConfigDataChannelValue {
                r#type: Some(V::Int32(i as i32)),
            }],
            ..Default::default()
        })
        .collect();
    let mut ingest = IngestServiceClient::new(authed(server.channel().await, TOKEN));
    ingest
        .ingest_with_config_data_stream(tokio_stream::iter(stream))
        .await
        .unwrap();
    let bad = vec![IngestWithConfigDataStreamRequest {
        ingestion_config_id: config.clone(),
        flow: "nope".into(),
        ..Default::default()
    }];
    assert!(
        ingest
            .ingest_with_config_data_stream(tokio_stream::iter(bad))
            .await
            .is_err()
    );

    let text = scrape(&server).await;
    for expected in [
        "sextant_ingested_points_total{protocol=\"sift\"} 25\n",
        "sextant_series 1\n",
        "sextant_wal_appends_total 1\n",
        "sextant_grpc_requests_total{method=\"/sift.ingest.v1.IngestService/IngestWithConfigDataStream\",code=\"OK\"} 1\n",
        "sextant_grpc_requests_total{method=\"/sift.ingest.v1.IngestService/IngestWithConfigDataStream\",code=\"NotFound\"} 1\n",
        "sextant_wal_sync_seconds_count 1\n",
        "# TYPE sextant_wal_sync_seconds histogram\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    server.stop().await;
}

#[tokio::test]
async fn calls_to_paths_no_service_has_share_one_label() {
    let server = TestServer::start().await;
    // Without a key and with one; on no service and on a served service's unknown method.
    let bearer = format!("Bearer {TOKEN}");
    for i in 0..40 {
        let path = if i % 2 == 0 {
            format!("/made.up.Service{i}/Method")
        } else {
            format!("/sift.ingest.v1.IngestService/Nope{i}")
        };
        let mut headers = vec![("content-type", "application/grpc")];
        if i % 4 >= 2 {
            headers.push(("authorization", &bearer));
        }
        common::http(server.addr, "POST", &path, &headers, b"").await;
    }
    let text = scrape(&server).await;
    assert!(!text.contains("made.up"), "{text}");
    assert!(!text.contains("Nope"), "{text}");
    let unknown: u64 = text
        .lines()
        .filter(|l| l.starts_with("sextant_grpc_requests_total{method=\"unknown\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(unknown, 40, "{text}");
    server.stop().await;
}
