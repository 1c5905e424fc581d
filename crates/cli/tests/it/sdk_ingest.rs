//! The SDK's ingestion against the real `sextant serve` on a real socket: registration,
//! checked and unchecked flows, buffered ingestion, runs, bad keys. What was sent is read back
//! with Sift's own DataService client and compared exactly.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, TOKEN};
use prost::Message;
use sextant_client::ingest::{Flow, IngestionService, OrderedFlow, RunOptions};
use sextant_client::{ClientConfig, Error, SextantChannel, connect};
use sextant_model::{DataType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};
use sift_rs::channels::v3::ListChannelsRequest;
use sift_rs::channels::v3::channel_service_client::ChannelServiceClient;
use sift_rs::data::v2::data_service_client::DataServiceClient;
use sift_rs::data::v2::*;

const BASE: i64 = 1_720_141_748_047_512_000;

/// The channels of the seed's Nostromo example, plus one of each remaining type.
fn channels() -> Vec<ChannelConfig> {
    vec![
        ChannelConfig::new("velocity", DataType::Double)
            .component("mainmotor")
            .unit("Miles Per Hour")
            .description("speed"),
        ChannelConfig::new("thrust", DataType::Float),
        ChannelConfig::new("log", DataType::String).description("asset logs"),
        ChannelConfig::new("door_open", DataType::Bool),
        ChannelConfig::new("voltage", DataType::Int32).unit("Volts"),
        ChannelConfig::new("energy", DataType::Int64),
        ChannelConfig::new("uptime", DataType::Uint32),
        ChannelConfig::new("packets", DataType::Uint64),
        ChannelConfig::enumeration(
            "vehicle_state",
            [("Accelerating", 0), ("Decelerating", 1), ("Stopped", 2)],
        ),
        ChannelConfig::bit_field(
            "gpio",
            [
                ("12v", 0, 1),
                ("charge", 1, 2),
                ("led", 3, 4),
                ("heater", 7, 1),
            ],
        ),
        ChannelConfig::new("frame", DataType::Bytes),
    ]
}

fn config(key: &str) -> TelemetryConfig {
    let c = channels();
    TelemetryConfig::new("NostromoLV426", key)
        .flow(FlowConfig::new("everything", c.clone()))
        .flow(FlowConfig::new(
            "readings",
            [c[0].clone(), c[4].clone(), c[8].clone(), c[9].clone()],
        ))
        .flow(FlowConfig::new("logs", [c[2].clone()]))
}

/// The value of channel `channel` (an index into [`channels`]) in flow number `i`.
fn value(channel: usize, i: i64) -> Value {
    match channel {
        0 => Value::Double(i as f64 * 0.25 - 100.0),
        1 => Value::Float(i as f32 / 8.0),
        2 => Value::String(format!("line {i}")),
        3 => Value::Bool(i % 3 == 0),
        4 => Value::Int32(i32::MIN + i as i32),
        5 => Value::Int64(i64::MAX - i),
        6 => Value::Uint32(u32::MAX - i as u32),
        7 => Value::Uint64(u64::MAX - i as u64),
        8 => Value::Enum((i % 3) as u32),
        9 => Value::BitField((i as u64 * 37) % 256),
        10 => Value::Bytes(vec![i as u8, (i >> 8) as u8, 0xff]),
        _ => unreachable!("channel {channel}"),
    }
}

fn everything(i: i64) -> Flow {
    channels().iter().enumerate().fold(
        Flow::new("everything", BASE + i * 1_000),
        |flow, (c, channel)| flow.value(channel.full_name(), value(c, i)),
    )
}

/// Every point of a channel of the asset, optionally of one run: (timestamp, value), with bit
/// fields put back together from their elements.
async fn download(
    channel: &SextantChannel,
    asset_id: &str,
    name: &str,
    run_id: Option<&str>,
) -> Vec<(i64, Value)> {
    let found = ChannelServiceClient::new(channel.clone())
        .list_channels(ListChannelsRequest {
            filter: format!("asset_id == '{asset_id}' && name == '{name}'"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;
    assert_eq!(found.len(), 1, "channel {name}");
    let mut client = DataServiceClient::new(channel.clone());
    let mut page_token = String::new();
    let mut points = Vec::new();
    loop {
        let page = client
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
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for any in page.data {
            points.extend(decode(&any));
        }
        if page.next_page_token.is_empty() {
            points.sort_by_key(|(t, _)| *t);
            return points;
        }
        page_token = page.next_page_token;
    }
}

fn ns(t: &Option<pbjson_types::Timestamp>) -> i64 {
    let t = t.as_ref().expect("a timestamp");
    t.seconds * 1_000_000_000 + i64::from(t.nanos)
}

fn decode(any: &pbjson_types::Any) -> Vec<(i64, Value)> {
    let kind = any.type_url.rsplit('.').next().unwrap();
    let bytes = any.value.clone();
    macro_rules! each {
        ($t:ty, $v:ident => $e:expr) => {
            <$t>::decode(bytes)
                .unwrap()
                .values
                .into_iter()
                .map(|$v| (ns(&$v.timestamp), $e))
                .collect()
        };
    }
    match kind {
        "DoubleValues" => each!(DoubleValues, v => Value::Double(v.value)),
        "FloatValues" => each!(FloatValues, v => Value::Float(v.value)),
        "StringValues" => each!(StringValues, v => Value::String(v.value)),
        "BoolValues" => each!(BoolValues, v => Value::Bool(v.value)),
        "Int32Values" => each!(Int32Values, v => Value::Int32(v.value)),
        "Int64Values" => each!(Int64Values, v => Value::Int64(v.value)),
        "Uint32Values" => each!(Uint32Values, v => Value::Uint32(v.value)),
        "Uint64Values" => each!(Uint64Values, v => Value::Uint64(v.value)),
        "EnumValues" => each!(EnumValues, v => Value::Enum(v.value)),
        "BytesValues" => each!(BytesValues, v => Value::Bytes(v.value)),
        "BitFieldValues" => {
            let message = BitFieldValues::decode(bytes).unwrap();
            let layout = message
                .metadata
                .unwrap()
                .channel
                .unwrap()
                .bit_field_elements;
            let mut points: Vec<(i64, u64)> = Vec::new();
            for element in &message.values {
                let index = layout
                    .iter()
                    .find(|e| e.name == element.name)
                    .unwrap()
                    .index;
                for (row, v) in element.values.iter().enumerate() {
                    if points.len() <= row {
                        points.push((ns(&v.timestamp), 0));
                    }
                    assert_eq!(points[row].0, ns(&v.timestamp));
                    points[row].1 |= u64::from(v.value) << index;
                }
            }
            points
                .into_iter()
                .map(|(t, v)| (t, Value::BitField(v)))
                .collect()
        }
        other => panic!("unexpected data message {other}"),
    }
}

#[tokio::test]
async fn registration_creates_once_then_reuses_and_adds_flows() {
    let server = Server::start();
    let channel = server.channel().await;
    let first = IngestionService::new(channel.clone(), &config("nostromo_lv_426"))
        .await
        .unwrap();
    let again = IngestionService::new(channel.clone(), &config("nostromo_lv_426"))
        .await
        .unwrap();
    assert_eq!(first.ingestion_config_id(), again.ingestion_config_id());
    assert_eq!(first.asset_id(), again.asset_id());

    // The server's flow keeps the full names and the order of the config.
    let readings = again.flow("readings").unwrap();
    let names: Vec<String> = readings
        .channels
        .iter()
        .map(ChannelConfig::full_name)
        .collect();
    assert_eq!(
        names,
        ["mainmotor.velocity", "voltage", "vehicle_state", "gpio"]
    );
    assert_eq!(readings.channels[0].unit.as_deref(), Some("Miles Per Hour"));
    assert_eq!(readings.channels[2].enum_types.len(), 3);
    assert_eq!(readings.channels[3].bit_field_elements.len(), 4);

    // A new flow is added to the existing config.
    let extra = config("nostromo_lv_426").flow(FlowConfig::new(
        "power",
        [ChannelConfig::new("voltage", DataType::Int32).unit("Volts")],
    ));
    let grown = IngestionService::new(channel.clone(), &extra)
        .await
        .unwrap();
    assert_eq!(grown.ingestion_config_id(), first.ingestion_config_id());
    assert!(grown.flow("power").is_some());

    // A channel redefined in an existing flow needs a new key; the server names the change.
    let mut changed = config("nostromo_lv_426");
    // (Flow `everything` is left out: it declares voltage too, and one config cannot
    // declare a channel two ways.)
    changed.flows.remove(0);
    let redefined = ChannelConfig::new("voltage", DataType::Double);
    changed.flows[0].channels[1] = redefined.clone();
    for declared in changed.channels.iter_mut().filter(|c| c.name == "voltage") {
        *declared = redefined.clone();
    }
    let err = IngestionService::new(channel.clone(), &changed)
        .await
        .unwrap_err();
    let Error::Rpc { status, .. } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(
        status.code(),
        sift_rs::GrpcCode::FailedPrecondition,
        "{err}"
    );
    assert!(err.to_string().contains("voltage"), "{err}");
}

#[tokio::test]
async fn try_ingest_flows_round_trips_and_fills_missing_channels_with_empty() {
    let server = Server::start();
    let channel = server.channel().await;
    let service = IngestionService::new(channel.clone(), &config("try"))
        .await
        .unwrap();
    let flows: Vec<Flow> = (0..50).map(everything).collect();
    service.try_ingest_flows(&flows).await.unwrap();
    // A partial flow: only velocity and gpio, as in the seed.
    service
        .try_ingest_flows(&[Flow::new("readings", BASE + 1_000_000)
            .value("gpio", Value::BitField(0b0000_1001))
            .value("mainmotor.velocity", Value::Double(10.0))])
        .await
        .unwrap();

    for (c, channel_config) in channels().iter().enumerate() {
        let got = download(
            &channel,
            service.asset_id(),
            &channel_config.full_name(),
            None,
        )
        .await;
        let mut want: Vec<(i64, Value)> =
            (0..50).map(|i| (BASE + i * 1_000, value(c, i))).collect();
        match c {
            0 => want.push((BASE + 1_000_000, Value::Double(10.0))),
            9 => want.push((BASE + 1_000_000, Value::BitField(9))),
            _ => {}
        }
        assert_eq!(got, want, "channel {}", channel_config.full_name());
    }
}

#[tokio::test]
async fn checks_fail_before_anything_is_sent() {
    let server = Server::start();
    let channel = server.channel().await;
    let service = IngestionService::new(channel.clone(), &config("checks"))
        .await
        .unwrap();
    let good = || Flow::new("readings", BASE).value("voltage", Value::Int32(5));
    let cases = [
        (
            vec![
                good(),
                Flow::new("telemetry", BASE).value("voltage", Value::Int32(5)),
            ],
            "flow 2 of 2 (`telemetry` at 2024-07-05T01:09:08.047512000Z): ingestion config `checks` has no flow `telemetry`",
        ),
        (vec![Flow::new("readings", BASE)], "no channel values"),
        (
            vec![good().value("thrust", Value::Float(1.0))],
            "unexpected channel `thrust`",
        ),
        (
            vec![good().value("voltage", Value::Int32(6))],
            "channel `voltage` has two values",
        ),
        (
            vec![Flow::new("readings", BASE).value("voltage", Value::Int64(5))],
            "channel `voltage` is int32 but the value is int64",
        ),
        (
            vec![Flow::new("readings", BASE).value("vehicle_state", Value::Enum(9))],
            "enum key 9 is not in the table of channel `vehicle_state`",
        ),
    ];
    // With the server gone, any call would fail as unavailable: a validation error proves
    // that none was made.
    drop(server);
    let quick = IngestionService::with_retry(
        channel.clone(),
        &config("checks"),
        sextant_client::RetryPolicy::none(),
    )
    .await;
    assert!(quick.is_err(), "the server is gone");
    for (flows, want) in cases {
        let err = service.try_ingest_flows(&flows).await.unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{err}");
        assert!(
            err.to_string().contains(want),
            "{err}\n  should contain\n{want}"
        );
    }
}

#[tokio::test]
async fn ingest_flows_sends_positional_values_and_the_server_judges_them() {
    let server = Server::start();
    let channel = server.channel().await;
    let service = IngestionService::new(channel.clone(), &config("ordered"))
        .await
        .unwrap();
    let flows: Vec<OrderedFlow> = (0..20)
        .map(|i| {
            OrderedFlow::new(
                "readings",
                BASE + i,
                [
                    Some(value(0, i)),
                    (i % 2 == 0).then(|| value(4, i)),
                    Some(value(8, i)),
                    Some(value(9, i)),
                ],
            )
        })
        .collect();
    service.ingest_flows(&flows).await.unwrap();
    let got = download(&channel, service.asset_id(), "voltage", None).await;
    let want: Vec<_> = (0..20)
        .step_by(2)
        .map(|i| (BASE + i, value(4, i)))
        .collect();
    assert_eq!(got, want);
    let got = download(&channel, service.asset_id(), "gpio", None).await;
    assert_eq!(got.len(), 20);
    assert_eq!(got[7], (BASE + 7, value(9, 7)));

    // A wrong value count: the whole stream is refused, and the error says so.
    let mut bad = flows.clone();
    bad[3].channel_values.pop();
    let err = service.ingest_flows(&bad).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("message 4 of the stream"), "{message}");
    assert!(message.contains("refused whole"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_ingestion_of_every_type_flushes_on_drop() {
    let server = Server::start();
    let channel = server.channel().await;
    let service = IngestionService::new(channel.clone(), &config("buffered"))
        .await
        .unwrap();
    let n = 10_007i64;
    {
        let buffered = service.buffered().start().unwrap();
        for i in 0..n {
            buffered.try_ingest_flows(&[everything(i)]).await.unwrap();
        }
        assert_eq!(
            buffered.pending(),
            7,
            "full streams of 1000 went out as the buffer filled"
        );
        // Dropped here with 7 flows buffered: the drop sends them before it returns.
    }
    for (c, channel_config) in channels().iter().enumerate() {
        let got = download(
            &channel,
            service.asset_id(),
            &channel_config.full_name(),
            None,
        )
        .await;
        assert_eq!(
            got.len(),
            n as usize,
            "channel {}",
            channel_config.full_name()
        );
        for (i, point) in got.iter().enumerate() {
            let i = i as i64;
            assert_eq!(point, &(BASE + i * 1_000, value(c, i)), "channel {c}");
        }
    }
}

#[tokio::test]
async fn buffered_timer_flushes_and_background_errors_reach_the_callback() {
    let server = Server::start();
    let channel = server.channel().await;
    let service = IngestionService::new(channel.clone(), &config("timer"))
        .await
        .unwrap();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = errors.clone();
    let buffered = service
        .buffered()
        .flush_interval(Duration::from_millis(50))
        .on_error(move |e: Error| seen.lock().unwrap().push(e.to_string()))
        .start()
        .unwrap();
    buffered
        .try_ingest_flows(
            &[Flow::new("logs", BASE).value("log", Value::String("INFO: one".into()))],
        )
        .await
        .unwrap();
    let waited = tokio::time::Instant::now();
    while buffered.pending() > 0 && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(buffered.pending(), 0, "the timer sent the flow");
    // Not pending means taken for sending: the send may still be in flight.
    let want = [(BASE, Value::String("INFO: one".into()))];
    let mut got = download(&channel, service.asset_id(), "log", None).await;
    while got.is_empty() && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        got = download(&channel, service.asset_id(), "log", None).await;
    }
    assert_eq!(got, want);

    // A flow the server refuses: the timer's flush reports it to the callback.
    buffered
        .ingest_flows(&[OrderedFlow::new("logs", BASE + 1, [Some(Value::Int32(1))])])
        .await
        .unwrap();
    let waited = tokio::time::Instant::now();
    while errors.lock().unwrap().is_empty() && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reported = errors.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(
        reported[0].contains("channel `log` is string but the value is an int32"),
        "{reported:?}"
    );
    assert!(
        reported[0].contains("refused whole and dropped"),
        "{reported:?}"
    );
    buffered.close().await.unwrap();
}

#[tokio::test]
async fn attach_run_finds_or_creates_and_scopes_the_data() {
    let server = Server::start();
    let channel = server.channel().await;
    let mut service = IngestionService::new(channel.clone(), &config("runs"))
        .await
        .unwrap();
    let name = "[NostromoLV426].1720141748.047512";
    let options = RunOptions::default()
        .description("a test run")
        .tag("nostromo")
        .metadata(
            "attempt",
            sextant_client::ingest::MetadataValue::Number(1.0),
        );
    let run = service
        .attach_run(name, options.clone())
        .await
        .unwrap()
        .to_owned();
    let log = |t: i64, text: &str| Flow::new("logs", t).value("log", Value::String(text.into()));
    service
        .try_ingest_flows(&[log(BASE, "in the run")])
        .await
        .unwrap();

    // The same name finds the same run; force_new makes another.
    assert_eq!(
        service.attach_run(name, options.clone()).await.unwrap(),
        run
    );
    let other = service
        .attach_run(name, options.force_new())
        .await
        .unwrap()
        .to_owned();
    assert_ne!(other, run);

    service.detach_run();
    assert_eq!(service.run_id(), None);
    service
        .try_ingest_flows(&[log(BASE + 1, "no run")])
        .await
        .unwrap();

    let in_run = download(&channel, service.asset_id(), "log", Some(&run)).await;
    assert_eq!(in_run, [(BASE, Value::String("in the run".into()))]);
    let without = download(&channel, service.asset_id(), "log", Some("")).await;
    assert_eq!(without, [(BASE + 1, Value::String("no run".into()))]);
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error() {
    let server = Server::start();
    let channel = connect(&ClientConfig::new(&server.url, "sxt_not_a_key"))
        .await
        .unwrap();
    let err = IngestionService::new(channel, &config("nope"))
        .await
        .unwrap_err();
    let Error::Rpc { status, .. } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(status.code(), sift_rs::GrpcCode::Unauthenticated, "{err}");
    assert!(err.to_string().contains("ListIngestionConfigs"), "{err}");
    assert_ne!(TOKEN, "sxt_not_a_key");
}

#[tokio::test]
async fn a_uri_as_sift_py_writes_it_connects_and_connection_errors_name_their_cause() {
    let server = Server::start();
    let host_port = server.url.trim_start_matches("http://").to_owned();

    // host:port with use_ssl(false), as sift_py's SiftChannelConfig takes it.
    let channel = connect(&ClientConfig::new(&host_port, TOKEN).use_ssl(false))
        .await
        .unwrap();
    IngestionService::new(channel, &config("schemeless"))
        .await
        .unwrap();

    // TLS (the default for host:port, as in sift_py) against this plaintext server: the
    // error says what is wrong and what to do.
    let err = connect(&ClientConfig::new(&host_port, TOKEN))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to https://{host_port}: ")),
        "{text}"
    );
    assert!(
        text.contains("use an http:// URI, or use_ssl(false)"),
        "{text}"
    );
    assert_eq!(format!("{err:?}"), text, "Debug is the message");

    // Nothing listening: the cause is the operating system's.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = connect(&ClientConfig::new(
        format!("http://127.0.0.1:{port}"),
        TOKEN,
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), sextant_model::ErrorKind::Unavailable);
    assert!(err.to_string().contains("Connection refused"), "{err}");

    // A scheme that is neither.
    let err = connect(&ClientConfig::new("grpc://127.0.0.1:1", TOKEN))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the scheme must be http:// or https://"),
        "{err}"
    );
}

/// `sextant serve` on a given address and data directory, for a server that restarts.
fn serve(listen: &str, data_dir: &std::path::Path) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .args(["--bootstrap-token", TOKEN])
        .env("SEXTANT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(" listening on ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_sent_while_the_server_restarts_is_retried_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A free port, for the server and its successor.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut server = serve(&listen, &data);
    let channel = connect(&ClientConfig::new(format!("http://{listen}"), TOKEN))
        .await
        .unwrap();
    let patient = sextant_client::RetryPolicy {
        attempts: 20,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(300),
        multiplier: 2,
    };
    let service = IngestionService::with_retry(channel.clone(), &config("restart"), patient)
        .await
        .unwrap();
    let flows: Vec<Flow> = (0..100).map(everything).collect();
    service.try_ingest_flows(&flows[..50]).await.unwrap();

    // The server goes away and comes back on the same address a moment later.
    let _ = server.kill();
    let _ = server.wait();
    let restart = {
        let listen = listen.clone();
        let data = data.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            serve(&listen, &data)
        })
    };
    service.try_ingest_flows(&flows[50..]).await.unwrap();
    let mut server = restart.join().unwrap();

    let got = download(&channel, service.asset_id(), "mainmotor.velocity", None).await;
    let want: Vec<_> = (0..100).map(|i| (BASE + i * 1_000, value(0, i))).collect();
    assert_eq!(got, want);
    let _ = server.kill();
    let _ = server.wait();
}
