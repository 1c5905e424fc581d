//! `sextant ingest` as a user runs it against the real server: a CSV with a bad row (the
//! summary names it, the good rows are stored), a Parquet file, a run, a wrong key.

use crate::common;

use std::sync::Arc;

use common::{Server, example, text};
use prost::Message;
use sift_rs::channels::v3::ListChannelsRequest;
use sift_rs::channels::v3::channel_service_client::ChannelServiceClient;
use sift_rs::data::v2::data_service_client::DataServiceClient;
use sift_rs::data::v2::*;

/// `sextant ingest` with the example Nostromo config, flow `readings`.
fn ingest(server: &Server, file: &str, extra: &[&str]) -> std::process::Output {
    let config = example("telemetry_configs/nostromo_lv_426.yml");
    let kinematics = example("expression_modules/kinematics.yml");
    let strings = example("expression_modules/string.yml");
    let mut args = vec![
        "ingest",
        "--config",
        &config,
        "--expressions",
        &kinematics,
        &strings,
        "--flow",
        "readings",
    ];
    args.extend_from_slice(extra);
    args.push(file);
    server.sextant(&args)
}

/// A server with the users the example config's rules are assigned to.
fn nostromo_server() -> Server {
    let server = Server::start();
    for user in ["ellen.ripley@weylandcorp.com", "bob@example.com"] {
        let out = server.sextant(&["users", "create", user]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    server
}

/// Every stored (timestamp, value) of a channel of NostromoLV426, as text, of one run or all.
async fn stored(server: &Server, name: &str, run_id: Option<&str>) -> Vec<(i64, String)> {
    let channel = server.channel().await;
    let found = ChannelServiceClient::new(channel.clone())
        .list_channels(ListChannelsRequest {
            filter: format!("name == '{name}'"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;
    assert_eq!(found.len(), 1, "{name}");
    let page = DataServiceClient::new(channel)
        .get_data(GetDataRequest {
            queries: vec![Query {
                query: Some(query::Query::Channel(ChannelQuery {
                    channel_id: found[0].channel_id.clone(),
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
            page_size: 100_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ns = |t: &Option<pbjson_types::Timestamp>| {
        let t = t.as_ref().unwrap();
        t.seconds * 1_000_000_000 + i64::from(t.nanos)
    };
    let mut points = Vec::new();
    for any in page.data {
        match any.type_url.rsplit('.').next().unwrap() {
            "DoubleValues" => points.extend(
                DoubleValues::decode(any.value)
                    .unwrap()
                    .values
                    .iter()
                    .map(|v| (ns(&v.timestamp), v.value.to_string())),
            ),
            "Int32Values" => points.extend(
                Int32Values::decode(any.value)
                    .unwrap()
                    .values
                    .iter()
                    .map(|v| (ns(&v.timestamp), v.value.to_string())),
            ),
            "EnumValues" => points.extend(
                EnumValues::decode(any.value)
                    .unwrap()
                    .values
                    .iter()
                    .map(|v| (ns(&v.timestamp), v.value.to_string())),
            ),
            "BitFieldValues" => {
                let bits = BitFieldValues::decode(any.value).unwrap();
                let heater = bits.values.iter().find(|e| e.name == "heater").unwrap();
                points.extend(
                    heater
                        .values
                        .iter()
                        .map(|v| (ns(&v.timestamp), format!("heater={}", v.value))),
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    points
}

#[tokio::test]
async fn a_csv_with_a_bad_row_stores_the_good_rows_and_names_the_bad_one() {
    let server = nostromo_server();
    let csv = server.path("readings.csv");
    std::fs::write(
        &csv,
        "\
time,mainmotor.velocity,voltage,vehicle_state,gpio
2024-07-05T01:09:08Z,10.5,5,Stopped,0b10001001
1720141749000000000,11,6,1,
2024-07-05T01:09:10Z,abc,7,0,1
2024-07-05T01:09:11.25Z,12.25,,Accelerating,0x80
",
    )
    .unwrap();
    let out = ingest(&server, csv.to_str().unwrap(), &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("4 rows read, 3 rows stored as flow `readings`: 10 points in"),
        "{stdout}"
    );
    assert!(stdout.contains("1 row rejected:\n"), "{stdout}");
    assert!(
        stdout.contains("  line 4: column \"mainmotor.velocity\": \"abc\" is not a double\n"),
        "{stdout}"
    );

    let t0 = 1_720_141_748_000_000_000i64;
    let velocity = stored(&server, "mainmotor.velocity", None).await;
    assert_eq!(
        velocity,
        [
            (t0, "10.5".to_owned()),
            (t0 + 1_000_000_000, "11".to_owned()),
            (t0 + 3_250_000_000, "12.25".to_owned()),
        ]
    );
    let voltage = stored(&server, "voltage", None).await;
    assert_eq!(
        voltage,
        [(t0, "5".to_owned()), (t0 + 1_000_000_000, "6".to_owned())]
    );

    // The config's rules were registered with it, named expressions resolved.
    let native = sextant_client::native::NativeClient::new(&server.url, common::TOKEN).unwrap();
    let mut rules = native.list_rules(&Default::default()).await.unwrap();
    rules.sort_by(|a, b| a.client_key.cmp(&b.client_key));
    let keys: Vec<&str> = rules
        .iter()
        .filter_map(|r| r.client_key.as_deref())
        .collect();
    assert_eq!(
        keys,
        [
            "accelerating-phase",
            "kinetic-energy-rule",
            "log-errors-rule",
            "overheating-rule"
        ]
    );
    assert_eq!(rules[1].expression, "(((0.5 * 10) * $1) * $1) > 470");
    assert_eq!(rules[3].expression, "$1 == \"Stopped\" && $2.heater == 1");
    let state = stored(&server, "vehicle_state", None).await;
    assert_eq!(
        state.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(),
        ["2", "1", "0"]
    );
    let gpio = stored(&server, "gpio", None).await;
    assert_eq!(
        gpio,
        [
            (t0, "heater=1".to_owned()),
            (t0 + 3_250_000_000, "heater=1".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_parquet_file_is_sent_in_batches_into_a_run() {
    use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, TimestampMicrosecondArray};
    let server = nostromo_server();
    let path = server.path("readings.parquet");
    let n = 25_000usize;
    let t0_us = 1_720_141_748_000_000i64;
    let time: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from((0..n as i64).map(|i| t0_us + i).collect::<Vec<_>>())
            .with_timezone("UTC"),
    );
    let velocity: ArrayRef = Arc::new(Float64Array::from(
        (0..n).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
    ));
    let voltage: ArrayRef = Arc::new(Int32Array::from(
        (0..n)
            .map(|i| (i % 7 != 0).then_some(i as i32))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_from_iter([
        ("timestamp", time),
        ("mainmotor.velocity", velocity),
        ("voltage", voltage),
    ])
    .unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let out = ingest(
        &server,
        path.to_str().unwrap(),
        &["--run", "[NostromoLV426].parquet", "--batch-size", "10000"],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let voltages = n - n.div_ceil(7);
    assert!(
        stdout.contains(&format!(
            "25000 rows read, 25000 rows stored as flow `readings`: {} points",
            n + voltages
        )),
        "{stdout}"
    );

    let velocity = stored(&server, "mainmotor.velocity", None).await;
    assert_eq!(velocity.len(), n);
    for (i, (t, v)) in velocity.iter().enumerate() {
        assert_eq!(*t, (t0_us + i as i64) * 1_000);
        assert_eq!(v.parse::<f64>().unwrap(), i as f64 / 3.0, "row {i}");
    }
    assert_eq!(stored(&server, "voltage", None).await.len(), voltages);
    assert!(
        stored(&server, "voltage", Some("")).await.is_empty(),
        "all in the run"
    );
}

#[test]
fn a_wrong_key_or_a_foreign_column_is_a_clear_error() {
    let server = nostromo_server();
    let csv = server.path("readings.csv");
    std::fs::write(&csv, "time,voltage\n1,5\n").unwrap();
    let config = example("telemetry_configs/nostromo_lv_426.yml");
    let out = server.sextant(&[
        "ingest",
        "--config",
        &config,
        "--expressions",
        &example("expression_modules/kinematics.yml"),
        &example("expression_modules/string.yml"),
        "--flow",
        "readings",
        "--token",
        "sxt_wrong",
        csv.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: UserService/ListActiveUsers failed"),
        "{stderr}"
    );
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");

    std::fs::write(&csv, "time,temperature\n1,5\n").unwrap();
    let out = ingest(&server, csv.to_str().unwrap(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("column \"temperature\" is not a channel of flow `readings`; its channels are mainmotor.velocity, voltage, vehicle_state, gpio"),
        "{stderr}"
    );
}
