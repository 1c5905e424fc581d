//! The Sift metadata services over a real socket, called as `sift_py` calls them: config
//! registration and re-registration, flows, assets, channels, runs, filters, authentication,
//! scopes and organization isolation.

use crate::common;

use common::{TOKEN, TestServer, authed};
use sextant_catalog::{Catalog, Scope};
use sift_rs::assets::v1::ListAssetsRequest;
use sift_rs::assets::v1::asset_service_client::AssetServiceClient;
use sift_rs::channels::v3::ListChannelsRequest;
use sift_rs::channels::v3::channel_service_client::ChannelServiceClient;
use sift_rs::common::r#type::v1::{ChannelBitFieldElement, ChannelDataType, ChannelEnumType};
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::*;
use sift_rs::ping::v1::PingRequest;
use sift_rs::ping::v1::ping_service_client::PingServiceClient;
use sift_rs::runs::v2::run_service_client::RunServiceClient;
use sift_rs::runs::v2::{CreateRunRequest, GetRunRequest, ListRunsRequest, UpdateRunRequest};
use tonic::Code;

fn channel(name: &str, t: ChannelDataType) -> ChannelConfig {
    ChannelConfig {
        name: name.to_owned(),
        data_type: t as i32,
        ..Default::default()
    }
}

/// The seed's four flows: every kind of channel, enum tables and bit fields included.
fn flows() -> Vec<FlowConfig> {
    let velocity = ChannelConfig {
        unit: "Miles Per Hour".into(),
        description: "speed".into(),
        ..channel("mainmotor.velocity", ChannelDataType::Double)
    };
    let voltage = channel("voltage", ChannelDataType::Int32);
    let state = ChannelConfig {
        enum_types: vec![
            ChannelEnumType {
                name: "Accelerating".into(),
                key: 0,
                is_signed: false,
            },
            ChannelEnumType {
                name: "Stopped".into(),
                key: 2,
                is_signed: false,
            },
        ],
        ..channel("vehicle_state", ChannelDataType::Enum)
    };
    let gpio = ChannelConfig {
        bit_field_elements: vec![
            ChannelBitFieldElement {
                name: "12v".into(),
                index: 0,
                bit_count: 1,
            },
            ChannelBitFieldElement {
                name: "heater".into(),
                index: 7,
                bit_count: 1,
            },
        ],
        ..channel("gpio", ChannelDataType::BitField)
    };
    vec![
        FlowConfig {
            name: "readings".into(),
            channels: vec![velocity, voltage.clone(), state, gpio.clone()],
        },
        FlowConfig {
            name: "voltage".into(),
            channels: vec![voltage],
        },
        FlowConfig {
            name: "gpio_channel".into(),
            channels: vec![gpio],
        },
        FlowConfig {
            name: "logs".into(),
            channels: vec![channel("log", ChannelDataType::String)],
        },
    ]
}

#[tokio::test]
async fn registration_as_the_python_client_does_it() {
    let server = TestServer::start().await;
    let mut configs = IngestionConfigServiceClient::new(authed(server.channel().await, TOKEN));

    let by_key = || ListIngestionConfigsRequest {
        page_size: 1,
        filter: r#"client_key=="nostromo_lv_426""#.into(),
        ..Default::default()
    };
    let found = configs
        .list_ingestion_configs(by_key())
        .await
        .unwrap()
        .into_inner();
    assert!(found.ingestion_configs.is_empty());

    let created = configs
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: flows(),
            organization_id: String::new(),
            client_key: "nostromo_lv_426".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap();
    assert!(!created.ingestion_config_id.is_empty());

    let found = configs
        .list_ingestion_configs(by_key())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.ingestion_configs, vec![created.clone()]);
    assert_eq!(found.next_page_token, "");

    let listed = configs
        .list_ingestion_config_flows(ListIngestionConfigFlowsRequest {
            ingestion_config_id: created.ingestion_config_id.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.flows,
        flows(),
        "flows come back in order with every field"
    );
    assert_eq!(listed.next_page_token, "");

    // The asset and the channels exist before any data is sent.
    let mut assets = AssetServiceClient::new(authed(server.channel().await, TOKEN));
    let asset = assets
        .list_assets(ListAssetsRequest {
            page_size: 1000,
            filter: r#"name in ["NostromoLV426"]"#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asset.assets.len(), 1);
    assert_eq!(asset.assets[0].asset_id, created.asset_id);
    let mut channels = ChannelServiceClient::new(authed(server.channel().await, TOKEN));
    let listed = channels
        .list_channels(ListChannelsRequest {
            page_size: 1000,
            filter: format!(
                r#"asset_id == '{}' && name in ["mainmotor.velocity","gpio"]"#,
                created.asset_id
            ),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut names: Vec<&str> = listed.channels.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["gpio", "mainmotor.velocity"]);
    let gpio = listed.channels.iter().find(|c| c.name == "gpio").unwrap();
    assert_eq!(
        gpio.bit_field_elements,
        flows()[3 - 1].channels[0].bit_field_elements
    );
    assert_eq!(listed.next_page_token, "");

    // Re-registration: a new flow is taken; identical flows are no-ops.
    let mut more = flows();
    more.push(FlowConfig {
        name: "power".into(),
        channels: vec![channel("energy", ChannelDataType::Int64)],
    });
    configs
        .create_ingestion_config_flows(CreateIngestionConfigFlowsRequest {
            ingestion_config_id: created.ingestion_config_id.clone(),
            flows: more,
        })
        .await
        .unwrap();
    let listed = configs
        .list_ingestion_config_flows(ListIngestionConfigFlowsRequest {
            ingestion_config_id: created.ingestion_config_id.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.flows.len(), 5);

    server.stop().await;
}

#[tokio::test]
async fn incompatible_re_registration_is_refused_naming_the_change() {
    let server = TestServer::start().await;
    let mut configs = IngestionConfigServiceClient::new(authed(server.channel().await, TOKEN));
    let id = configs
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: flows(),
            client_key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap()
        .ingestion_config_id;

    let mut grown = flows();
    grown[1]
        .channels
        .push(channel("current", ChannelDataType::Double));
    let mut retyped = flows();
    retyped[3].channels[0].data_type = ChannelDataType::Bytes as i32;
    let cases = [
        (grown, "channel `current` added to existing flow `voltage`"),
        (retyped, "channel `log` changed: data_type string vs bytes"),
    ];
    for (flows, expected) in cases {
        let err = configs
            .create_ingestion_config_flows(CreateIngestionConfigFlowsRequest {
                ingestion_config_id: id.clone(),
                flows,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(err.message().contains(expected), "{}", err.message());
        assert!(
            err.message()
                .ends_with("these need a new ingestion_client_key"),
            "{}",
            err.message()
        );
    }

    // A flow that leaves out a registered channel keeps its registration.
    let mut shrunk = flows();
    shrunk[0].channels.pop();
    configs
        .create_ingestion_config_flows(CreateIngestionConfigFlowsRequest {
            ingestion_config_id: id.clone(),
            flows: shrunk,
        })
        .await
        .unwrap();
    let listed = configs
        .list_ingestion_config_flows(ListIngestionConfigFlowsRequest {
            ingestion_config_id: id,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.flows, flows());

    // The same key cannot be created twice.
    let err = configs
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: flows(),
            client_key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    server.stop().await;
}

#[tokio::test]
async fn runs_are_created_found_by_bracketed_names_and_updated() {
    let server = TestServer::start().await;
    let mut runs = RunServiceClient::new(authed(server.channel().await, TOKEN));
    let name = "[NostromoLV426].1720141748.047512";
    let run = runs
        .create_run(CreateRunRequest {
            name: name.into(),
            description: "first light".into(),
            tags: vec!["nostromo".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let found = runs
        .list_runs(ListRunsRequest {
            page_size: 1,
            filter: format!(r#"name=="{name}""#),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.runs.len(), 1);
    assert_eq!(found.runs[0].run_id, run.run_id);
    assert_eq!(found.runs[0].name, name);

    let mut changed = run.clone();
    changed.description = "second light".into();
    changed.name = "ignored".into();
    let updated = runs
        .update_run(UpdateRunRequest {
            run: Some(changed),
            update_mask: Some(pbjson_types::FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(updated.description, "second light");
    assert_eq!(updated.name, name);
    let got = runs
        .get_run(GetRunRequest {
            run_id: run.run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(got, updated);
    server.stop().await;
}

#[tokio::test]
async fn keys_scopes_and_organizations_are_enforced() {
    let server = TestServer::start().await;
    let channel = server.channel().await;

    // No key, a wrong key: UNAUTHENTICATED, before anything is touched.
    let err = PingServiceClient::new(channel.clone())
        .ping(PingRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = IngestionConfigServiceClient::new(authed(channel.clone(), "sxt_wrong"))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "A".into(),
            client_key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let default_org = server.catalog.list_organizations().unwrap()[0].id.clone();
    assert!(
        server
            .catalog
            .find_ingestion_config(&default_org, "k")
            .unwrap()
            .is_none()
    );

    // A read key may not register configs.
    let read = server.key_in_new_org("readers", Scope::Read);
    let err = IngestionConfigServiceClient::new(authed(channel.clone(), &read))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "A".into(),
            client_key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Another organization sees none of the first one's configs or assets.
    let mut admin = IngestionConfigServiceClient::new(authed(channel.clone(), TOKEN));
    admin
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: flows(),
            client_key: "k".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let other = server.key_in_new_org("weyland", Scope::Ingest);
    let listed = IngestionConfigServiceClient::new(authed(channel.clone(), &other))
        .list_ingestion_configs(ListIngestionConfigsRequest {
            filter: "client_key == 'k'".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.ingestion_configs.is_empty());
    let assets = AssetServiceClient::new(authed(channel.clone(), &other))
        .list_assets(ListAssetsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(assets.assets.is_empty());

    // A filter outside the grammar is INVALID_ARGUMENT, naming the problem.
    let err = admin
        .list_ingestion_configs(ListIngestionConfigsRequest {
            filter: "client_key = 'k'".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("expected `==` or `in`"),
        "{}",
        err.message()
    );
    let err = admin
        .list_ingestion_configs(ListIngestionConfigsRequest {
            filter: "color == 'red'".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("cannot filter on `color`"),
        "{}",
        err.message()
    );
    server.stop().await;
}

#[tokio::test]
async fn http_requests_without_a_key_get_401_and_health_needs_none() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    for (path, status) in [("/health", "200 OK"), ("/anything", "401 Unauthorized")] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nhost: s\r\nconnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{path}: {reply}"
        );
    }
    server.stop().await;
}
