//! Ingest throughput through the SDK: 50 channels at 1 kHz (20 doubles, 10 int32, 5 int64,
//! 10 bools, 5 enums) into a release `sextant serve` on loopback with its default durability
//! (every stream fsynced before it is acknowledged).
//!
//! Prints wall-clock points per second and points per server CPU-second, the server's user
//! plus system time read from `/proc/PID/stat` before and after. Not a test: nothing is
//! asserted. See `bench/README.md` for how to run it.
//!
//! Settings (environment): `SEXTANT_BIN` (the server binary; default: `sextant` beside this
//! benchmark's target directory), `BENCH_SECONDS` (seconds of 1 kHz data, default 60),
//! `BENCH_STREAM_FLOWS` (flows per stream, default 10,000), `BENCH_IN_FLIGHT` (streams sent at
//! once, default 1, as buffered ingestion sends them; with more, a later stream may commit
//! before an earlier one, and the earlier one's points then land before points already held),
//! `BENCH_RULES` (live rules over the channels, default 0; the server CPU then includes their
//! evaluation, waited for with `POST /api/native/v1/rules/flush` before the CPU time is read).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use sextant_client::ingest::{IngestionService, OrderedFlow};
use sextant_client::{ClientConfig, connect};
use sextant_model::{DataType, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};

const TOKEN: &str = "sxt_bench_token";
const CHANNELS: usize = 50;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The release server binary: `SEXTANT_BIN`, or `sextant` in the profile directory this
/// benchmark was built into (`target/release/deps/..`).
fn server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("SEXTANT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a target directory");
    profile_dir.join("sextant")
}

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let binary = server_binary();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new(&binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--bootstrap-token", TOKEN])
            .env("SEXTANT_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); build it with `cargo build --release -p sextant-cli` or set SEXTANT_BIN",
                    binary.display()
                )
            });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server printed its address")
                .expect("readable output");
            if let Some(rest) = line.split(" listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server {
            child,
            url,
            _dir: dir,
        }
    }

    /// The server's user plus system CPU time, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/PID/stat of the server");
        stat_cpu_seconds(&stat)
    }

    /// The CPU time of the server's rule engine thread, named `sextant-rules`.
    fn rule_engine_cpu_seconds(&self) -> Option<f64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).ok()?;
        tasks.flatten().find_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            (comm.trim() == "sextant-rules")
                .then(|| std::fs::read_to_string(task.path().join("stat")).ok())
                .flatten()
                .map(|stat| stat_cpu_seconds(&stat))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system time from a `/proc/.../stat` line.
fn stat_cpu_seconds(stat: &str) -> f64 {
    // The command name may hold spaces; the fields after it are plain numbers.
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The channel layout: 20 doubles, 10 int32, 5 int64, 10 bools, 5 enums.
fn data_type(channel: usize) -> DataType {
    match channel {
        0..20 => DataType::Double,
        20..30 => DataType::Int32,
        30..35 => DataType::Int64,
        35..45 => DataType::Bool,
        _ => DataType::Enum,
    }
}

fn config() -> TelemetryConfig {
    let channels = (0..CHANNELS).map(|c| match data_type(c) {
        DataType::Enum => ChannelConfig::enumeration(
            format!("state_{c}"),
            [("idle", 0), ("armed", 1), ("firing", 2), ("safe", 3)],
        ),
        t => ChannelConfig::new(format!("{}_{c}", t.as_str()), t).component("vehicle"),
    });
    TelemetryConfig::new("BenchRig", "bench_1khz").flow(FlowConfig::new("frame", channels))
}

/// Sample `i` of channel `c`: sine plus noise for doubles, 12-bit readings for integers,
/// rare toggles for bools, slow changes for enums.
fn sample(c: usize, i: u64, noise: &mut u64) -> Value {
    *noise ^= *noise << 13;
    *noise ^= *noise >> 7;
    *noise ^= *noise << 17;
    let jitter = (*noise % 1000) as f64 / 1000.0;
    let t = i as f64 / 1000.0;
    match data_type(c) {
        DataType::Double => {
            let v = 100.0 * (t * (c + 1) as f64 * 0.1).sin() + jitter;
            Value::Double((v * 100.0).round() / 100.0)
        }
        DataType::Int32 => {
            Value::Int32(2048 + ((t * c as f64).sin() * 1500.0) as i32 + (*noise % 8) as i32)
        }
        DataType::Int64 => Value::Int64(i as i64 * 3 + (*noise % 4) as i64),
        DataType::Bool => Value::Bool((i / (5_000 + c as u64 * 100)) % 2 == 1),
        _ => Value::Enum(((i / 10_000 + c as u64) % 4) as u32),
    }
}

fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 60);
    let per_stream: usize = env_or("BENCH_STREAM_FLOWS", 10_000);
    let in_flight: usize = env_or("BENCH_IN_FLIGHT", 1);
    let rules: usize = env_or("BENCH_RULES", 0);
    let flows_total = seconds * 1000;
    let points_total = flows_total * CHANNELS as u64;

    let server = Server::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let service = runtime.block_on(async {
        let channel = connect(&ClientConfig::new(&server.url, TOKEN))
            .await
            .expect("connect");
        IngestionService::new(channel, &config())
            .await
            .expect("register")
    });

    if rules > 0 {
        runtime.block_on(create_rules(&server, rules));
    }

    eprintln!("generating {seconds} s of 1 kHz data: {flows_total} flows, {points_total} points");
    let start_ns = 1_720_000_000_000_000_000i64;
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    let streams: Vec<Arc<Vec<OrderedFlow>>> = (0..flows_total)
        .collect::<Vec<_>>()
        .chunks(per_stream)
        .map(|chunk| {
            Arc::new(
                chunk
                    .iter()
                    .map(|&i| {
                        OrderedFlow::new(
                            "frame",
                            start_ns + i as i64 * 1_000_000,
                            (0..CHANNELS).map(|c| Some(sample(c, i, &mut noise))),
                        )
                    })
                    .collect(),
            )
        })
        .collect();

    let cpu_before = server.cpu_seconds();
    let rules_cpu_before = server.rule_engine_cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    runtime.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
        let mut tasks = Vec::new();
        for flows in streams {
            let permit = limit.clone().acquire_owned().await.expect("a permit");
            let service = service.clone();
            tasks.push(tokio::spawn(async move {
                let sent = service.ingest_flows(&flows).await;
                drop(permit);
                sent
            }));
        }
        for task in tasks {
            task.await.expect("a send task").expect("a stream stored");
        }
    });
    let flushed = (rules > 0).then(|| flush_rules(&server));
    let wall = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let rules_cpu = server.rule_engine_cpu_seconds().unwrap_or(0.0) - rules_cpu_before;

    println!(
        "ingest_1khz: {CHANNELS} channels x {flows_total} flows = {points_total} points, streams of {per_stream} flows, {in_flight} in flight, {rules} live rules"
    );
    if let Some(stats) = flushed {
        println!("  rule engine: {stats}, its thread's CPU {rules_cpu:.2} s");
    }
    println!(
        "  wall {wall:.2} s: {:.0} points/s",
        points_total as f64 / wall
    );
    println!(
        "  server CPU {cpu:.2} s: {:.0} points per server CPU-second",
        points_total as f64 / cpu.max(1e-9)
    );
}

/// The full name of channel `c` in [`config`].
fn channel_name(c: usize) -> String {
    match data_type(c) {
        DataType::Enum => format!("state_{c}"),
        t => format!("vehicle.{}_{c}", t.as_str()),
    }
}

/// `count` live rules over the channels, cycling through four shapes: a double against a
/// threshold, an int32 and a bool, an enum by name, and the difference of two doubles. As
/// monitoring rules do, most rarely hold: the enum rules hold for 10 s in every 40 s, the
/// others hold near the peaks of their sines with `BENCH_RULES_BUSY=1` (about 100 annotations
/// per second of data) and never otherwise.
async fn create_rules(server: &Server, count: usize) {
    use sift_rs::assets::v1::ListAssetsRequest;
    use sift_rs::assets::v1::asset_service_client::AssetServiceClient;
    use sift_rs::rules::v1::rule_action_configuration::Configuration;
    use sift_rs::rules::v1::rule_condition_expression::Expression;
    use sift_rs::rules::v1::rule_service_client::RuleServiceClient;
    use sift_rs::rules::v1::*;

    let channel = connect(&ClientConfig::new(&server.url, TOKEN))
        .await
        .expect("connect");
    let asset_id = AssetServiceClient::new(channel.clone())
        .list_assets(ListAssetsRequest {
            filter: "name == 'BenchRig'".into(),
            ..Default::default()
        })
        .await
        .expect("list assets")
        .into_inner()
        .assets
        .remove(0)
        .asset_id;
    let busy = env_or("BENCH_RULES_BUSY", 0) == 1;
    let (double_limit, int_limit, spread) = if busy {
        (90, 3000, 150)
    } else {
        (1000, 5000, 1000)
    };
    let mut client = RuleServiceClient::new(channel);
    for i in 0..count {
        let (expression, channels) = match i % 4 {
            0 => (format!("$1 > {double_limit}"), vec![channel_name(i % 20)]),
            1 => (
                format!("$1 > {int_limit} && $2"),
                vec![channel_name(20 + i % 10), channel_name(35 + i % 10)],
            ),
            2 => (
                "$1 == \"firing\"".to_owned(),
                vec![channel_name(45 + i % 5)],
            ),
            _ => (
                format!("abs($1 - $2) > {spread}"),
                vec![channel_name(i % 20), channel_name((i + 7) % 20)],
            ),
        };
        let channel_references = channels
            .into_iter()
            .enumerate()
            .map(|(n, name)| {
                (
                    format!("${}", n + 1),
                    ChannelReference {
                        name,
                        ..Default::default()
                    },
                )
            })
            .collect();
        client
            .create_rule(CreateRuleRequest {
                update: Some(UpdateRuleRequest {
                    name: format!("bench_rule_{i}"),
                    client_key: Some(format!("bench-rule-{i}")),
                    conditions: vec![UpdateConditionRequest {
                        expression: Some(RuleConditionExpression {
                            expression: Some(Expression::CalculatedChannel(
                                CalculatedChannelConfig {
                                    channel_references,
                                    expression,
                                    ..Default::default()
                                },
                            )),
                        }),
                        actions: vec![UpdateActionRequest {
                            action_type: 2,
                            configuration: Some(RuleActionConfiguration {
                                configuration: Some(Configuration::Annotation(
                                    AnnotationActionConfiguration {
                                        annotation_type: 1,
                                        ..Default::default()
                                    },
                                )),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    asset_configuration: Some(RuleAssetConfiguration {
                        asset_ids: vec![asset_id.clone()],
                        tag_ids: Vec::new(),
                    }),
                    is_live_evaluation_enabled: Some(true),
                    ..Default::default()
                }),
            })
            .await
            .expect("create a rule");
    }
}

/// Waits until the server's live rules have evaluated everything; returns the engine's
/// figures as JSON text.
fn flush_rules(server: &Server) -> String {
    use std::io::{Read, Write};
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect for the flush");
    write!(
        stream,
        "POST /api/native/v1/rules/flush HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send the flush");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the flush answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "flush failed: {answer}");
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}
