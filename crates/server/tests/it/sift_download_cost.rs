//! GetData's cost grows with the points downloaded, not with pages times the window: a server
//! over a real store that counts the points its reads return, paged through a channel.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{TOKEN, authed};
use prost::Message;
use sextant_catalog::{Catalog, ChannelFilter, Page, SqliteCatalog};
use sextant_model::{DataType, Point, SeriesKey, Value, WriteBatch};
use sextant_query::testing::Counting;
use sextant_server::state::{AppState, org_number};
use sextant_storage::{Db, DbConfig, Store};
use sift_rs::common::r#type::v1::ChannelDataType;
use sift_rs::data::v2::data_service_client::DataServiceClient;
use sift_rs::data::v2::*;
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};
use tokio::net::TcpListener;

#[tokio::test]
async fn paging_a_channel_reads_each_point_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Arc::new(SqliteCatalog::open(dir.path().join("catalog.db")).unwrap());
    let principal = catalog.bootstrap(TOKEN).unwrap().unwrap();
    let store = Arc::new(Counting::new(
        Db::open(dir.path(), DbConfig::default()).unwrap(),
    ));
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
    let server = tokio::spawn(async move {
        sextant_server::listener::serve(
            listener,
            sextant_server::app::router(state),
            None,
            async {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
    });
    let channel = || async {
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    };
    let config = IngestionConfigServiceClient::new(authed(channel().await, TOKEN))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: vec![FlowConfig {
                name: "motor".into(),
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
    let channel_id = catalog
        .list_channels(
            &principal.organization_id,
            &ChannelFilter {
                asset_ids: Some(vec![config.asset_id.clone()]),
                names: Some(vec!["velocity".to_owned()]),
                ids: None,
            },
            Page::first(10),
        )
        .unwrap()
        .0
        .remove(0)
        .id;

    // Half in a part, half in the head.
    let n = 20_000i64;
    let key = SeriesKey::new("velocity", [("asset", "NostromoLV426")]).unwrap();
    let org = org_number(&principal.organization_id);
    for (i, span) in [0..n / 2, n / 2..n].into_iter().enumerate() {
        let mut batch = WriteBatch::new(org);
        batch.push(
            key.clone(),
            DataType::Double,
            span.map(|t| Point::new(1_000 + t, Value::Double(t as f64)))
                .collect(),
        );
        store.write(batch.validate().unwrap()).unwrap();
        if i == 0 {
            store.flush().unwrap();
        }
    }
    store.points.store(0, Ordering::Relaxed);

    let page_size = 100;
    let mut data = DataServiceClient::new(authed(channel().await, TOKEN));
    let (mut token, mut pages, mut next) = (String::new(), 0usize, 0i64);
    loop {
        let page = data
            .get_data(GetDataRequest {
                queries: vec![Query {
                    query: Some(query::Query::Channel(ChannelQuery {
                        channel_id: channel_id.clone(),
                        run_id: None,
                    })),
                }],
                page_size: page_size as u32,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        for any in &page.data {
            for v in DoubleValues::decode(any.value.clone()).unwrap().values {
                assert_eq!(v.value, next as f64, "every point once, in order");
                next += 1;
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(next, n);
    assert_eq!(pages, n as usize / page_size);
    // Re-reading the rest of the window for each page would return about n × pages / 2 =
    // 2,000,000 points; each page reads its points and two more (one tells the server
    // whether the series goes on, one the query crate).
    let read = store.points.load(Ordering::Relaxed);
    assert!(
        read <= n as usize + 2 * pages,
        "the store returned {read} points for {n} over {pages} pages"
    );
    let _ = stop.send(());
    server.await.unwrap();
}
