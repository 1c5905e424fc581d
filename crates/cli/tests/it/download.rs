//! Downloading through the SDK and `sextant query` from the real server binary: data loaded
//! with the raw Sift clients comes back exactly, per type, split into bit-field elements,
//! scoped by run, across pages, aligned on one timeline and written as CSV and Parquet.

use crate::common;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use common::{Server, text};
use sextant_client::{ChannelQuery, DataQuery, DataService, Error, QueryResult, SextantChannel};
use sift_rs::common::r#type::v1::{ChannelBitFieldElement, ChannelDataType, ChannelEnumType};
use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;
use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as V;
use sift_rs::ingest::v1::{IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest};
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};
use sift_rs::runs::v2::CreateRunRequest;
use sift_rs::runs::v2::run_service_client::RunServiceClient;

const ASSET: &str = "NostromoLV426";
const RUN: &str = "[NostromoLV426].1720141748.047512";
/// The first flow's time: 2024-07-05T01:09:08.047512Z.
const BASE: i64 = 1_720_141_748_047_512_000;
/// Flows `0..RUN_FROM` have no run, flows `RUN_FROM..FLOWS` are in [`RUN`].
const FLOWS: i64 = 200;
const RUN_FROM: i64 = 100;

fn time(i: i64) -> i64 {
    BASE + i * 1_000_123
}

fn channel(name: &str, t: ChannelDataType) -> ChannelConfig {
    ChannelConfig {
        name: name.to_owned(),
        data_type: t as i32,
        ..Default::default()
    }
}

/// One channel of every data type, in the order of [`values`].
fn every_type() -> Vec<ChannelConfig> {
    use ChannelDataType as T;
    let element = |name: &str, index, bit_count| ChannelBitFieldElement {
        name: name.into(),
        index,
        bit_count,
    };
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
                element("12v", 0, 1),
                element("charge", 1, 2),
                element("led", 3, 4),
                element("heater", 7, 1),
            ],
            ..channel("gpio", T::BitField)
        },
        channel("frame", T::Bytes),
    ]
}

fn double(i: i64) -> f64 {
    i as f64 * 0.5 - 3.25
}
fn float(i: i64) -> f32 {
    i as f32 / 4.0
}
fn log(i: i64) -> String {
    if i == 1 {
        "a \"quoted\", line".to_owned()
    } else {
        format!("line {i}")
    }
}
fn door_open(i: i64) -> bool {
    i % 3 == 0
}
fn voltage(i: i64) -> i32 {
    i32::MIN + i as i32
}
fn energy(i: i64) -> i64 {
    i64::MAX - i
}
fn uptime(i: i64) -> u32 {
    u32::MAX - i as u32
}
fn packets(i: i64) -> u64 {
    u64::MAX - i as u64
}
fn vehicle_state(i: i64) -> (u32, &'static str) {
    if i % 2 == 0 {
        (0, "Accelerating")
    } else {
        (2, "Stopped")
    }
}
fn gpio(i: i64) -> u8 {
    (i as u8).wrapping_mul(37)
}
/// The elements of `gpio(i)`: 12v, charge, led, heater.
fn gpio_elements(i: i64) -> [u32; 4] {
    let byte = gpio(i);
    [byte & 1, (byte >> 1) & 3, (byte >> 3) & 15, byte >> 7].map(u32::from)
}
fn frame(i: i64) -> Vec<u8> {
    vec![i as u8, 0, 255]
}

/// The values of flow `i`, in channel order.
fn values(i: i64) -> Vec<V> {
    vec![
        V::Double(double(i)),
        V::Float(float(i)),
        V::String(log(i)),
        V::Bool(door_open(i)),
        V::Int32(voltage(i)),
        V::Int64(energy(i)),
        V::Uint32(uptime(i)),
        V::Uint64(packets(i)),
        V::Enum(vehicle_state(i).0),
        V::BitField(vec![gpio(i)]),
        V::Bytes(frame(i)),
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

async fn ingest(channel: &SextantChannel, messages: Vec<IngestWithConfigDataStreamRequest>) {
    IngestServiceClient::new(channel.clone())
        .ingest_with_config_data_stream(tokio_stream::iter(messages))
        .await
        .expect("the stream is accepted");
}

/// Registers the asset with a flow of every type and a one-channel `speed` flow, creates
/// [`RUN`], and ingests [`FLOWS`] flows of every type. Returns the config id.
async fn load(server: &Server) -> String {
    let channel = server.channel().await;
    let config = IngestionConfigServiceClient::new(channel.clone())
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: ASSET.into(),
            flows: vec![
                FlowConfig {
                    name: "everything".into(),
                    channels: every_type(),
                },
                FlowConfig {
                    name: "speed".into(),
                    channels: vec![channel_named("speed")],
                },
            ],
            client_key: "nostromo".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap()
        .ingestion_config_id;
    let run = RunServiceClient::new(channel.clone())
        .create_run(CreateRunRequest {
            name: RUN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap()
        .run_id;
    // The run's half first, so the server holds them out of time order across streams.
    let flow = |i: i64| {
        let run = if i >= RUN_FROM { run.as_str() } else { "" };
        message(&config, "everything", time(i), run, values(i))
    };
    ingest(&channel, (RUN_FROM..FLOWS).map(flow).collect()).await;
    ingest(&channel, (0..RUN_FROM).map(flow).collect()).await;
    config
}

fn channel_named(name: &str) -> ChannelConfig {
    channel(name, ChannelDataType::Double)
}

fn every_channel_query() -> DataQuery {
    let names = [
        "mainmotor.velocity",
        "thrust",
        "log",
        "door_open",
        "voltage",
        "energy",
        "uptime",
        "packets",
        "vehicle_state",
        "gpio",
        "frame",
    ];
    names
        .into_iter()
        .fold(DataQuery::new(ASSET, None, None), |q, name| {
            q.channel(ChannelQuery::new(name))
        })
}

fn times(batch: &RecordBatch) -> &[i64] {
    batch
        .column_by_name("time")
        .unwrap()
        .as_primitive::<TimestampNanosecondType>()
        .values()
}

fn value(batch: &RecordBatch) -> &ArrayRef {
    batch.column_by_name("value").unwrap()
}

#[tokio::test]
async fn every_data_type_downloads_exactly() {
    let server = Server::start();
    load(&server).await;
    let result = DataService::new(server.channel().await)
        .execute(&every_channel_query())
        .await
        .unwrap();

    let keys: Vec<&str> = result.keys().collect();
    assert_eq!(
        keys,
        [
            "mainmotor.velocity",
            "thrust",
            "log",
            "door_open",
            "voltage",
            "energy",
            "uptime",
            "packets",
            "vehicle_state",
            "gpio",
            "gpio.12v",
            "gpio.charge",
            "gpio.led",
            "gpio.heater",
            "frame"
        ],
        "query order, a bit field then its elements in their order"
    );
    let all: Vec<i64> = (0..FLOWS).collect();
    let expected_times: Vec<i64> = all.iter().map(|&i| time(i)).collect();
    for (key, batch) in result.all() {
        assert_eq!(
            times(batch),
            expected_times,
            "{key}: every point, sorted by time"
        );
        assert_eq!(
            batch.schema().field(0).data_type(),
            &arrow_schema::DataType::Timestamp(
                arrow_schema::TimeUnit::Nanosecond,
                Some("UTC".into())
            ),
        );
        assert_eq!(batch.schema().metadata()["channel"], *key);
    }
    let get = |key: &str| value(result.channel(key).unwrap()).clone();

    let doubles = get("mainmotor.velocity");
    assert_eq!(
        doubles.as_primitive::<Float64Type>().values().to_vec(),
        all.iter().map(|&i| double(i)).collect::<Vec<_>>()
    );
    let floats = get("thrust");
    assert_eq!(
        floats.as_primitive::<Float32Type>().values().to_vec(),
        all.iter().map(|&i| float(i)).collect::<Vec<_>>()
    );
    let strings = get("log");
    let strings: Vec<&str> = strings
        .as_string::<i32>()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(strings, all.iter().map(|&i| log(i)).collect::<Vec<_>>());
    let bools = get("door_open");
    let bools: Vec<bool> = bools.as_boolean().iter().map(Option::unwrap).collect();
    assert_eq!(bools, all.iter().map(|&i| door_open(i)).collect::<Vec<_>>());
    let int32s = get("voltage");
    assert_eq!(
        int32s.as_primitive::<Int32Type>().values().to_vec(),
        all.iter().map(|&i| voltage(i)).collect::<Vec<_>>()
    );
    let int64s = get("energy");
    assert_eq!(
        int64s.as_primitive::<Int64Type>().values().to_vec(),
        all.iter().map(|&i| energy(i)).collect::<Vec<_>>()
    );
    let uint32s = get("uptime");
    assert_eq!(
        uint32s.as_primitive::<UInt32Type>().values().to_vec(),
        all.iter().map(|&i| uptime(i)).collect::<Vec<_>>()
    );
    let uint64s = get("packets");
    assert_eq!(
        uint64s.as_primitive::<UInt64Type>().values().to_vec(),
        all.iter().map(|&i| packets(i)).collect::<Vec<_>>()
    );
    let bytes = get("frame");
    let bytes: Vec<&[u8]> = bytes
        .as_binary::<i32>()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(bytes, all.iter().map(|&i| frame(i)).collect::<Vec<_>>());

    let states = result.channel("vehicle_state").unwrap();
    let keys = value(states).as_primitive::<UInt32Type>().values().to_vec();
    assert_eq!(
        keys,
        all.iter().map(|&i| vehicle_state(i).0).collect::<Vec<_>>()
    );
    let names: Vec<&str> = states
        .column_by_name("value_name")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(
        names,
        all.iter().map(|&i| vehicle_state(i).1).collect::<Vec<_>>()
    );

    for (n, element) in ["12v", "charge", "led", "heater"].iter().enumerate() {
        let got = get(&format!("gpio.{element}"));
        let want: Vec<u32> = all.iter().map(|&i| gpio_elements(i)[n]).collect();
        assert_eq!(
            got.as_primitive::<UInt32Type>().values().to_vec(),
            want,
            "gpio.{element}"
        );
    }
    // The whole bit field, put together from its elements (which cover all 8 bits).
    let whole: Vec<u64> = all.iter().map(|&i| u64::from(gpio(i))).collect();
    assert_eq!(
        get("gpio").as_primitive::<UInt64Type>().values().to_vec(),
        whole
    );
    // The same through the typed accessors, and a wrong type named.
    assert_eq!(
        result
            .values::<UInt64Type>("gpio")
            .unwrap()
            .values()
            .to_vec(),
        whole
    );
    assert_eq!(
        result.times("gpio").unwrap().values().to_vec(),
        expected_times
    );
    let err = result.values::<Float64Type>("voltage").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the value column of channel \"voltage\" holds Int32, not Float64"
    );
    assert_eq!(
        result.value_names("vehicle_state").unwrap().value(0),
        vehicle_state(0).1
    );
}

#[tokio::test]
async fn a_window_and_a_run_scope_the_download() {
    let server = Server::start();
    load(&server).await;
    let service = DataService::new(server.channel().await);

    // [start, end): flow 10 included, flow 20 excluded.
    let window =
        DataQuery::new(ASSET, Some(time(10)), Some(time(20))).channel(ChannelQuery::new("voltage"));
    let result = service.execute(&window).await.unwrap();
    assert_eq!(
        times(result.channel("voltage").unwrap()),
        (10..20).map(time).collect::<Vec<_>>()
    );

    // The deprecated component prefixes the name.
    let in_run = DataQuery::new(ASSET, None, None)
        .channel(
            ChannelQuery::new("velocity")
                .component("mainmotor")
                .run(RUN),
        )
        .channel(ChannelQuery::new("gpio").run(RUN))
        .channel(ChannelQuery::new("voltage"));
    let result = service.execute(&in_run).await.unwrap();
    let run_times: Vec<i64> = (RUN_FROM..FLOWS).map(time).collect();
    assert_eq!(
        times(result.channel("mainmotor.velocity").unwrap()),
        run_times
    );
    assert_eq!(times(result.channel("gpio.led").unwrap()), run_times);
    assert_eq!(
        times(result.channel("voltage").unwrap()).len(),
        FLOWS as usize,
        "no run: everything"
    );
    let got = result
        .channels(&["voltage", "mainmotor.velocity", "gpio.12v"])
        .unwrap();
    assert_eq!(got.len(), 3);

    let err = service
        .execute(
            &DataQuery::new(ASSET, None, None)
                .channel(ChannelQuery::new("voltage").run("[NostromoLV426].2")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(err.to_string(), "no run named \"[NostromoLV426].2\"");

    // A channel with no points in the window still has its (empty) batch.
    let empty = DataQuery::new(ASSET, Some(0), Some(1)).channel(ChannelQuery::new("vehicle_state"));
    let result = service.execute(&empty).await.unwrap();
    let batch = result.channel("vehicle_state").unwrap();
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.num_columns(), 3);
}

#[tokio::test]
async fn missing_names_are_reported_clearly() {
    let server = Server::start();
    load(&server).await;
    let service = DataService::new(server.channel().await);
    let query = DataQuery::new(ASSET, None, None)
        .channel(ChannelQuery::new("voltage"))
        .channel(ChannelQuery::new("velocity"))
        .channel(ChannelQuery::new("gone"))
        .channel(ChannelQuery::new("votlage"));
    let err = service.execute(&query).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "asset \"NostromoLV426\" has no channel \"gone\", \
             \"velocity\" (did you mean \"mainmotor.velocity\"?), \
             \"votlage\" (did you mean \"voltage\"?); its channels are "
        ),
        "{text}"
    );
    assert!(text.contains("mainmotor.velocity, "), "{text}");

    let query = DataQuery::new("Sulaco", None, None).channel(ChannelQuery::new("voltage"));
    let err = service.execute(&query).await.unwrap_err();
    assert_eq!(err.to_string(), "no asset named \"Sulaco\"");
    let query = DataQuery::new("NostromoLV462", None, None).channel(ChannelQuery::new("voltage"));
    let err = service.execute(&query).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no asset named \"NostromoLV462\"; did you mean \"NostromoLV426\"?"
    );

    let result: QueryResult = service
        .execute(&DataQuery::new(ASSET, None, None).channel(ChannelQuery::new("gpio")))
        .await
        .unwrap();
    let err = result.channels(&["gpio.fan"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the result has no channel \"gpio.fan\"; it has gpio, gpio.12v, gpio.charge, gpio.led, gpio.heater"
    );
}

#[tokio::test]
async fn a_channel_of_more_than_one_page_comes_back_whole() {
    let server = Server::start();
    let config = load(&server).await;
    let channel = server.channel().await;
    let n = 150_000i64;
    let point = |i: i64| {
        message(
            &config,
            "speed",
            1_000 + i * 7,
            "",
            vec![V::Double(i as f64 / 8.0)],
        )
    };
    // Newest first, in two streams.
    ingest(&channel, (n / 2..n).map(point).collect()).await;
    ingest(&channel, (0..n / 2).map(point).collect()).await;

    let query = DataQuery::new(ASSET, None, None).channel(ChannelQuery::new("speed"));
    let result = DataService::new(channel).execute(&query).await.unwrap();
    let batch = result.channel("speed").unwrap();
    assert_eq!(batch.num_rows(), n as usize);
    assert!(
        times(batch)
            .iter()
            .enumerate()
            .all(|(i, &t)| t == 1_000 + i as i64 * 7)
    );
    let values = value(batch).as_primitive::<Float64Type>().values();
    assert!(values.iter().enumerate().all(|(i, &v)| v == i as f64 / 8.0));
}

#[tokio::test]
async fn csv_and_parquet_hold_exactly_the_batches() {
    let server = Server::start();
    load(&server).await;
    let result = DataService::new(server.channel().await)
        .execute(&every_channel_query())
        .await
        .unwrap();
    let keys: Vec<&str> = result.keys().collect();
    let table = result.align(&keys).unwrap();
    assert_eq!(table.num_rows(), FLOWS as usize);
    assert_eq!(
        table.num_columns(),
        1 + keys.len() + 1,
        "time, one per key, the enum's names"
    );

    for (name, batch) in result
        .all()
        .iter()
        .map(|(k, b)| (k.as_str(), b))
        .chain([("aligned", &table)])
    {
        let path = server.path(&format!("{name}.parquet"));
        sextant_client::export::write_parquet_file(batch, &path).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let read: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(read.len(), 1, "{name}: one batch of this size");
        let read = &read[0];
        assert_eq!(read.schema().fields(), batch.schema().fields(), "{name}");
        assert_eq!(read.columns(), batch.columns(), "{name}");
    }

    let first_rows = table.slice(0, 2);
    let mut csv = Vec::new();
    sextant_client::export::write_csv(&first_rows, &mut csv, "memory").unwrap();
    let expected = "\
time,mainmotor.velocity,thrust,log,door_open,voltage,energy,uptime,packets,vehicle_state,vehicle_state.value_name,gpio,gpio.12v,gpio.charge,gpio.led,gpio.heater,frame
2024-07-05T01:09:08.047512000Z,-3.25,0.0,line 0,true,-2147483648,9223372036854775807,4294967295,18446744073709551615,0,Accelerating,0,0,0,0,0,0000ff
2024-07-05T01:09:08.048512123Z,-2.75,0.25,\"a \"\"quoted\"\", line\",false,-2147483647,9223372036854775806,4294967294,18446744073709551614,2,Stopped,37,1,2,4,0,0100ff
";
    assert_eq!(text(&csv), expected);
    let path = server.path("aligned.csv");
    sextant_client::export::write_csv_file(&table, &path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with(expected));
    assert_eq!(written.lines().count(), 1 + FLOWS as usize);
}

#[tokio::test]
async fn the_query_command_prints_tables_and_csv() {
    let server = Server::start();
    load(&server).await;

    let out = server.sextant(&[
        "query",
        "--asset",
        ASSET,
        "--channel",
        "voltage",
        "vehicle_state",
        "--channel",
        "gpio",
        "--run",
        RUN,
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + (FLOWS - RUN_FROM) as usize);
    assert_eq!(
        lines[..3],
        [
            "time,voltage,vehicle_state,vehicle_state.value_name,gpio,gpio.12v,gpio.charge,gpio.led,gpio.heater",
            "2024-07-05T01:09:08.147524300Z,-2147483548,0,Accelerating,116,0,2,14,0",
            "2024-07-05T01:09:08.148524423Z,-2147483547,2,Stopped,153,1,0,3,1",
        ]
    );

    let out = server.sextant(&[
        "query",
        "--asset",
        ASSET,
        "-c",
        "log",
        "door_open",
        "--start",
        "2024-07-04T18:09:08.047512-07:00",
        "--end",
        &time(5).to_string(),
        "--max-rows",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = "\
+--------------------------------+------------------+-----------+
| time                           | log              | door_open |
+--------------------------------+------------------+-----------+
| 2024-07-05T01:09:08.047512Z    | line 0           | true      |
| 2024-07-05T01:09:08.048512123Z | a \"quoted\", line | false     |
| 2024-07-05T01:09:08.049512246Z | line 2           | false     |
+--------------------------------+------------------+-----------+
… 2 more rows of 5 not shown
";
    assert_eq!(text(&out.stdout), expected);

    let path = server.path("voltage.parquet");
    let out = server.sextant(&[
        "query",
        "--asset",
        ASSET,
        "--channel",
        "voltage",
        "--format",
        "parquet",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("wrote 200 rows to {}\n", path.display())
    );
    let file = std::fs::File::open(&path).unwrap();
    let rows: usize = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 200);

    let out = server.sextant(&["query", "--asset", ASSET, "--channel", "voltage", "warp"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: asset \"NostromoLV426\" has no channel \"warp\"; its channels are "
        ),
        "{stderr}"
    );
    let out = server.sextant(&[
        "query",
        "--asset",
        ASSET,
        "--channel",
        "voltage",
        "--start",
        "noon",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--start: cannot parse time \"noon\""),
        "{}",
        text(&out.stderr)
    );
    let out = server.sextant(&[
        "query",
        "--asset",
        ASSET,
        "--channel",
        "voltage",
        "--format",
        "parquet",
    ]);
    assert!(
        text(&out.stderr).contains("give it one with --out FILE"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn align_is_a_backward_as_of_join_on_the_first_timeline() {
    let batch = |times: Vec<i64>, values: ArrayRef| {
        RecordBatch::try_from_iter([
            (
                "time",
                Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")) as ArrayRef,
            ),
            ("value", values),
        ])
        .unwrap()
    };
    let a = batch(vec![10, 20, 30], Arc::new(Int32Array::from(vec![1, 2, 3])));
    let b = batch(
        vec![5, 20, 20, 40],
        Arc::new(StringArray::from(vec!["x", "y", "z", "w"])),
    );
    let c = batch(vec![25], Arc::new(Float64Array::from(vec![0.5])));
    let aligned = sextant_client::align(&[("a", &a), ("b", &b), ("c", &c)]).unwrap();
    let schema = aligned.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["time", "a", "b", "c"]);
    assert_eq!(times(&aligned), [10, 20, 30]);
    assert_eq!(
        aligned
            .column(1)
            .as_primitive::<Int32Type>()
            .values()
            .to_vec(),
        [1, 2, 3]
    );
    let got: Vec<Option<&str>> = aligned.column(2).as_string::<i32>().iter().collect();
    assert_eq!(
        got,
        [Some("x"), Some("z"), Some("z")],
        "exact matches count; the last of equal times wins"
    );
    let c: Vec<Option<f64>> = aligned
        .column(3)
        .as_primitive::<Float64Type>()
        .iter()
        .collect();
    assert_eq!(c, [None, None, Some(0.5)], "null before the first point");

    let err = sextant_client::align(&[("a", &a), ("a", &b)]).unwrap_err();
    assert_eq!(err.to_string(), "align got channel \"a\" more than once");
    let unsorted = batch(vec![2, 1], Arc::new(Int32Array::from(vec![1, 2])));
    let err = sextant_client::align(&[("a", &a), ("u", &unsorted)]).unwrap_err();
    assert_eq!(err.to_string(), "channel \"u\" is not sorted by time");
}
