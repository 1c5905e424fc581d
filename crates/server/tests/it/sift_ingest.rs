//! Ingest and download through the Sift services over a real socket: every data type round
//! trips exactly, bit fields come back split into elements, runs scope the data, pages stay
//! under the client's 4 MiB limit, and invalid streams are refused whole.

use crate::common;

use common::{Authed, TOKEN, TestServer, authed};
use prost::Message;
use sextant_catalog::{Catalog, Scope};
use sextant_model::{Point, SeriesKey, Value, WriteBatch};
use sextant_server::state::org_number;
use sift_rs::common::r#type::v1::{ChannelBitFieldElement, ChannelDataType, ChannelEnumType};
use sift_rs::data::v2::data_service_client::DataServiceClient;
use sift_rs::data::v2::*;
use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;
use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as V;
use sift_rs::ingest::v1::{IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest};
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};
use sift_rs::runs::v2::CreateRunRequest;
use sift_rs::runs::v2::run_service_client::RunServiceClient;
use tonic::Code;

fn channel(name: &str, t: ChannelDataType) -> ChannelConfig {
    ChannelConfig {
        name: name.to_owned(),
        data_type: t as i32,
        ..Default::default()
    }
}

/// One flow with a channel of every data type, in this order.
fn every_type() -> Vec<ChannelConfig> {
    use ChannelDataType as T;
    vec![
        channel("mainmotor.velocity", T::Double),
        channel("thrust", T::Float),
        channel("log", T::String),
        channel("door_open", T::Bool),
        channel("voltage", T::Int32),
        channel("energy", T::Int64),
        channel("uptime", T::Uint32),
        channel("packets", T::Uint64),
        ChannelConfig {
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
            ..channel("vehicle_state", T::Enum)
        },
        ChannelConfig {
            bit_field_elements: vec![
                ChannelBitFieldElement {
                    name: "12v".into(),
                    index: 0,
                    bit_count: 1,
                },
                ChannelBitFieldElement {
                    name: "charge".into(),
                    index: 1,
                    bit_count: 2,
                },
                ChannelBitFieldElement {
                    name: "led".into(),
                    index: 3,
                    bit_count: 4,
                },
                ChannelBitFieldElement {
                    name: "heater".into(),
                    index: 7,
                    bit_count: 1,
                },
            ],
            ..channel("gpio", T::BitField)
        },
        channel("frame", T::Bytes),
    ]
}

/// The values of flow number `i`, in channel order.
fn values(i: i64) -> Vec<V> {
    vec![
        V::Double(i as f64 * 0.5 - 3.25),
        V::Float(i as f32 / 4.0),
        V::String(format!("line {i}")),
        V::Bool(i % 3 == 0),
        V::Int32(i32::MIN + i as i32),
        V::Int64(i64::MAX - i),
        V::Uint32(u32::MAX - i as u32),
        V::Uint64(u64::MAX - i as u64),
        V::Enum(if i % 2 == 0 { 0 } else { 2 }),
        V::BitField(vec![(i as u8).wrapping_mul(37)]),
        V::Bytes(vec![i as u8, 0, 255]),
    ]
}

fn message(
    config: &str,
    flow: &str,
    ts_ns: i64,
    run: &str,
    values: Vec<V>,
) -> IngestWithConfigDataStreamRequest {
    IngestWithConfigDataStreamRequest {
        ingestion_config_id: config.into(),
        flow: flow.into(),
        timestamp: Some(pbjson_types::Timestamp {
            seconds: ts_ns.div_euclid(1_000_000_000),
            nanos: ts_ns.rem_euclid(1_000_000_000) as i32,
        }),
        channel_values: values
            .into_iter()
            .map(|v| IngestWithConfigDataChannelValue { r#type: Some(v) })
            .collect(),
        run_id: run.into(),
        ..Default::default()
    }
}

async fn register(server: &TestServer, key: &str) -> (String, String) {
    let created = IngestionConfigServiceClient::new(authed(server.channel().await, key))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: vec![
                FlowConfig {
                    name: "everything".into(),
                    channels: every_type(),
                },
                FlowConfig {
                    name: "log".into(),
                    channels: vec![channel("log", ChannelDataType::String)],
                },
            ],
            client_key: "nostromo".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap();
    (created.ingestion_config_id, created.asset_id)
}

async fn channel_id(server: &TestServer, key: &str, asset: &str, name: &str) -> String {
    use sift_rs::channels::v3::ListChannelsRequest;
    use sift_rs::channels::v3::channel_service_client::ChannelServiceClient;
    ChannelServiceClient::new(authed(server.channel().await, key))
        .list_channels(ListChannelsRequest {
            filter: format!("asset_id == '{asset}' && name in [\"{name}\"]"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels
        .remove(0)
        .channel_id
}

/// Every page of one channel's data, decoded.
async fn download(
    client: &mut DataServiceClient<Authed>,
    channel_id: &str,
    run_id: Option<&str>,
) -> Vec<pbjson_types::Any> {
    download_sampled(client, channel_id, run_id, 0, 100_000).await
}

/// Every page of one channel's data, downsampled to `sample_ms`, in pages of `page_size`.
async fn download_sampled(
    client: &mut DataServiceClient<Authed>,
    channel_id: &str,
    run_id: Option<&str>,
    sample_ms: u32,
    page_size: u32,
) -> Vec<pbjson_types::Any> {
    let mut token = String::new();
    let mut all = Vec::new();
    loop {
        let page = client
            .get_data(GetDataRequest {
                queries: vec![Query {
                    query: Some(query::Query::Channel(ChannelQuery {
                        channel_id: channel_id.into(),
                        run_id: run_id.map(str::to_owned),
                    })),
                }],
                start_time: Some(pbjson_types::Timestamp {
                    seconds: 0,
                    nanos: 0,
                }),
                end_time: Some(pbjson_types::Timestamp {
                    seconds: 4_000_000_000,
                    nanos: 0,
                }),
                sample_ms,
                page_size,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.data);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

fn ns(t: &Option<pbjson_types::Timestamp>) -> i64 {
    let t = t.as_ref().unwrap();
    t.seconds * 1_000_000_000 + i64::from(t.nanos)
}

#[tokio::test]
async fn every_data_type_round_trips_exactly() {
    let server = TestServer::start().await;
    let (config, asset) = register(&server, TOKEN).await;
    let base = 1_720_141_748_047_512_000i64;
    let n = 500i64;
    let messages: Vec<_> = (0..n)
        .map(|i| {
            let mut v = values(i);
            if i == 7 {
                // No point for `thrust` in flow 7.
                v[1] = V::Empty(pbjson_types::Empty {});
            }
            message(&config, "everything", base + i * 1_000_123, "", v)
        })
        .collect();
    IngestServiceClient::new(authed(server.channel().await, TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(messages))
        .await
        .unwrap();

    let mut data = DataServiceClient::new(authed(server.channel().await, TOKEN));
    let id = channel_id(&server, TOKEN, &asset, "mainmotor.velocity").await;
    let got = download(&mut data, &id, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].type_url,
        "type.googleapis.com/sift.data.v2.DoubleValues"
    );
    let doubles = DoubleValues::decode(got[0].value.clone()).unwrap();
    let meta = doubles.metadata.unwrap();
    assert_eq!(meta.data_type, ChannelDataType::Double as i32);
    assert_eq!(meta.channel.unwrap().name, "mainmotor.velocity");
    assert_eq!(meta.asset.unwrap().name, "NostromoLV426");
    assert_eq!(doubles.values.len(), n as usize);
    for (i, v) in doubles.values.iter().enumerate() {
        assert_eq!(ns(&v.timestamp), base + i as i64 * 1_000_123);
        assert_eq!(v.value, i as f64 * 0.5 - 3.25);
    }

    let id = channel_id(&server, TOKEN, &asset, "thrust").await;
    let floats =
        FloatValues::decode(download(&mut data, &id, None).await[0].value.clone()).unwrap();
    assert_eq!(
        floats.values.len(),
        n as usize - 1,
        "the empty value made no point"
    );

    let id = channel_id(&server, TOKEN, &asset, "packets").await;
    let u64s = Uint64Values::decode(download(&mut data, &id, None).await[0].value.clone()).unwrap();
    assert_eq!(u64s.values[3].value, u64::MAX - 3);

    let id = channel_id(&server, TOKEN, &asset, "vehicle_state").await;
    let enums = EnumValues::decode(download(&mut data, &id, None).await[0].value.clone()).unwrap();
    assert_eq!(enums.values[1].value, 2);
    assert_eq!(enums.metadata.unwrap().channel.unwrap().enum_types.len(), 2);

    let id = channel_id(&server, TOKEN, &asset, "frame").await;
    let bytes = BytesValues::decode(download(&mut data, &id, None).await[0].value.clone()).unwrap();
    assert_eq!(bytes.values[9].value, vec![9, 0, 255]);

    let id = channel_id(&server, TOKEN, &asset, "gpio").await;
    let got = download(&mut data, &id, None).await;
    assert_eq!(
        got[0].type_url,
        "type.googleapis.com/sift.data.v2.BitFieldValues"
    );
    let bits = BitFieldValues::decode(got[0].value.clone()).unwrap();
    let names: Vec<&str> = bits.values.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["12v", "charge", "led", "heater"]);
    for i in [0usize, 1, 5, 200] {
        let byte = (i as u8).wrapping_mul(37);
        let expected = [byte & 1, (byte >> 1) & 3, (byte >> 3) & 15, byte >> 7];
        for (element, want) in bits.values.iter().zip(expected) {
            assert_eq!(
                element.values[i].value,
                u32::from(want),
                "flow {i} element {}",
                element.name
            );
        }
    }
    server.stop().await;
}

/// `sample_ms` returns each bucket's first, lowest, highest and last point of a numeric
/// channel, with `sampled_ms` in the metadata, whatever the page size (a page never splits a
/// bucket); a string channel comes back whole, marked not sampled.
#[tokio::test]
async fn sample_ms_keeps_each_bucket_s_first_lowest_highest_and_last_point() {
    let server = TestServer::start().await;
    let (config, asset) = register(&server, TOKEN).await;
    // 1,000 flows 1 ms apart from 1 s after the epoch: 100 buckets of 10 ms, 10 points each.
    let at = |i: i64| 1_000_000_000 + i * 1_000_000;
    let messages: Vec<_> = (0..1_000)
        .map(|i| {
            let mut v = values(i);
            // A spike down in the middle of every bucket.
            if i % 10 == 5 {
                v[0] = V::Double(-1e6 - i as f64);
            }
            message(&config, "everything", at(i), "", v)
        })
        .collect();
    IngestServiceClient::new(authed(server.channel().await, TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(messages))
        .await
        .unwrap();
    let mut data = DataServiceClient::new(authed(server.channel().await, TOKEN));
    let velocity = channel_id(&server, TOKEN, &asset, "mainmotor.velocity").await;
    // Rising values with one spike down a bucket: its first (also its highest but one), its
    // spike (the lowest), and its last (the highest).
    let want: Vec<i64> = (0..100)
        .flat_map(|b| [10 * b, 10 * b + 5, 10 * b + 9])
        .map(at)
        .collect();
    for page_size in [100_000, 25, 11, 7] {
        let got = download_sampled(&mut data, &velocity, None, 10, page_size).await;
        let mut times = Vec::new();
        for any in &got {
            let values = DoubleValues::decode(any.value.clone()).unwrap();
            assert_eq!(values.metadata.unwrap().sampled_ms, 10);
            times.extend(values.values.iter().map(|v| ns(&v.timestamp)));
        }
        if page_size > 10 {
            assert_eq!(times, want, "pages of {page_size}");
        } else {
            // Pages smaller than a bucket sample it in parts: more points, each once, and
            // still every spike.
            assert!(
                times.windows(2).all(|w| w[0] < w[1]),
                "pages of {page_size}"
            );
            assert!(
                want.iter().all(|t| times.contains(t)),
                "pages of {page_size}"
            );
        }
    }
    // Text is not sampled.
    let log = channel_id(&server, TOKEN, &asset, "log").await;
    let got = download_sampled(&mut data, &log, None, 10, 100_000).await;
    let values = StringValues::decode(got[0].value.clone()).unwrap();
    assert_eq!(values.metadata.unwrap().sampled_ms, 0);
    assert_eq!(values.values.len(), 1_000);
    server.stop().await;
}

#[tokio::test]
async fn runs_scope_what_is_downloaded() {
    let server = TestServer::start().await;
    let (config, asset) = register(&server, TOKEN).await;
    let mut runs = RunServiceClient::new(authed(server.channel().await, TOKEN));
    let run = runs
        .create_run(CreateRunRequest {
            name: "[NostromoLV426].1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let log = |i: i64, run: &str| {
        message(
            &config,
            "log",
            1_000 + i,
            run,
            vec![V::String(format!("{run}{i}"))],
        )
    };
    let stream = vec![
        log(0, ""),
        log(1, &run.run_id),
        log(2, &run.run_id),
        log(3, ""),
    ];
    IngestServiceClient::new(authed(server.channel().await, TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(stream))
        .await
        .unwrap();

    let mut data = DataServiceClient::new(authed(server.channel().await, TOKEN));
    let id = channel_id(&server, TOKEN, &asset, "log").await;
    let count = |got: &[pbjson_types::Any]| -> Vec<(Option<String>, usize)> {
        got.iter()
            .map(|a| {
                let v = StringValues::decode(a.value.clone()).unwrap();
                (v.metadata.unwrap().run.map(|r| r.name), v.values.len())
            })
            .collect()
    };
    assert_eq!(
        count(&download(&mut data, &id, None).await),
        [(None, 2), (Some("[NostromoLV426].1".to_owned()), 2)]
    );
    assert_eq!(
        count(&download(&mut data, &id, Some("")).await),
        [(None, 2)]
    );
    assert_eq!(
        count(&download(&mut data, &id, Some(&run.run_id)).await),
        [(Some("[NostromoLV426].1".to_owned()), 2)]
    );
    let linked = runs
        .get_run(sift_rs::runs::v2::GetRunRequest {
            run_id: run.run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(linked.asset_ids, [asset]);
    server.stop().await;
}

#[tokio::test]
async fn pages_stay_under_four_mebibytes() {
    let server = TestServer::start().await;
    let (config, asset) = register(&server, TOKEN).await;
    let n = 60_000i64;
    let line = "x".repeat(80);
    let stream: Vec<_> = (0..n)
        .map(|i| {
            message(
                &config,
                "log",
                1_000_000 + i,
                "",
                vec![V::String(format!("{i:08}{line}"))],
            )
        })
        .collect();
    IngestServiceClient::new(authed(server.channel().await, TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(stream))
        .await
        .unwrap();
    // The client's default receive limit is 4 MiB: a larger page would fail here.
    let mut data = DataServiceClient::new(authed(server.channel().await, TOKEN));
    let id = channel_id(&server, TOKEN, &asset, "log").await;
    let got = download(&mut data, &id, None).await;
    assert!(got.len() >= 2, "{} pages", got.len());
    let mut next = 0i64;
    for page in &got {
        for v in StringValues::decode(page.value.clone()).unwrap().values {
            assert_eq!(ns(&v.timestamp), 1_000_000 + next);
            assert!(v.value.starts_with(&format!("{next:08}")));
            next += 1;
        }
    }
    assert_eq!(next, n, "every point once, in order, across pages");
    server.stop().await;
}

#[tokio::test]
async fn invalid_streams_are_refused_whole_with_clear_errors() {
    let server = TestServer::start().await;
    let (config, asset) = register(&server, TOKEN).await;
    let good = |i: i64| message(&config, "everything", 10 + i, "", values(i));
    let mut wrong_type = values(3);
    wrong_type[4] = V::Double(1.0);
    let cases: Vec<(Vec<IngestWithConfigDataStreamRequest>, Code, &str)> = vec![
        (
            vec![
                good(0),
                message(&config, "everything", 11, "", values(1)[..3].to_vec()),
            ],
            Code::InvalidArgument,
            "message 2 of the stream (flow `everything`): 3 values for the flow's 11 channels",
        ),
        (
            vec![
                good(0),
                good(1),
                message(&config, "everything", 12, "", wrong_type),
            ],
            Code::InvalidArgument,
            "message 3 of the stream (flow `everything`): channel `voltage` is int32 but the value is a double",
        ),
        (
            vec![good(0), message(&config, "readings", 11, "", values(1))],
            Code::NotFound,
            "has no flow `readings`; its flows are everything, log",
        ),
        (
            vec![message("no-such-config", "everything", 11, "", values(1))],
            Code::NotFound,
            "message 1 of the stream (flow `everything`): ",
        ),
        (
            vec![
                good(0),
                message(&config, "everything", 11, "no-such-run", values(1)),
            ],
            Code::NotFound,
            "run no-such-run",
        ),
        (
            vec![good(0), {
                let mut m = good(1);
                m.timestamp = None;
                m
            }],
            Code::InvalidArgument,
            "message 2 of the stream (flow `everything`): no timestamp",
        ),
        (
            vec![{
                let mut v = values(0);
                v[9] = V::BitField(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]);
                message(&config, "everything", 10, "", v)
            }],
            Code::InvalidArgument,
            "bit field `gpio` has 9 bytes",
        ),
    ];
    let mut ingest = IngestServiceClient::new(authed(server.channel().await, TOKEN));
    for (stream, code, expected) in cases {
        let err = ingest
            .ingest_with_config_data_stream(tokio_stream::iter(stream))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{}", err.message());
        assert!(err.message().contains(expected), "{}", err.message());
    }
    // A stream whose series the store refuses (here two that other writers gave other types)
    // is refused whole, naming every refused series.
    let org = org_number(&server.catalog.list_organizations().unwrap()[0].id);
    let mut taken = WriteBatch::new(org);
    for (name, value) in [("thrust", Value::Int64(1)), ("log", Value::Double(1.0))] {
        let key = SeriesKey::new(name, [("asset", "NostromoLV426")]).unwrap();
        taken.push(key, value.data_type(), vec![Point::new(1, value)]);
    }
    server.store.write(taken.validate().unwrap()).unwrap();
    let err = ingest
        .ingest_with_config_data_stream(tokio_stream::iter(vec![good(0), good(1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    for expected in [
        "nothing of the stream is stored",
        r#"series thrust{asset="NostromoLV426"} has type"#,
        "has type int64 for life; cannot write float values",
        r#"series log{asset="NostromoLV426"} has type"#,
        "has type double for life; cannot write string values",
    ] {
        assert!(err.message().contains(expected), "{}", err.message());
    }
    // Nothing of any refused stream was stored.
    let mut data = DataServiceClient::new(authed(server.channel().await, TOKEN));
    let id = channel_id(&server, TOKEN, &asset, "mainmotor.velocity").await;
    assert!(download(&mut data, &id, None).await.is_empty());

    // A read key may not ingest; an ingest key may not download; another organization cannot
    // read the channel.
    let read = server.key_in_new_org("readers", Scope::Read);
    let err = IngestServiceClient::new(authed(server.channel().await, &read))
        .ingest_with_config_data_stream(tokio_stream::iter(vec![good(0)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = DataServiceClient::new(authed(server.channel().await, &read))
        .get_data(GetDataRequest {
            queries: vec![Query {
                query: Some(query::Query::Channel(ChannelQuery {
                    channel_id: id.clone(),
                    run_id: None,
                })),
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}
