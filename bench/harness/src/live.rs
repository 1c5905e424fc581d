//! `sextant-bench --live-subscribers N`: what live subscriptions cost while W2's rig is
//! ingested at its real rate (50 channels at 1 kHz, one line-protocol request per 100 ms).
//!
//! Two phases of `seconds` each on one server: the writes alone, then the same writes with
//! `N` subscribers, each to all 50 channels over Server-Sent Events (plain HTTP/1.0 sockets
//! read by this process) or gRPC (`--live-transport grpc`, the SDK's transport, read with a
//! decoder of the timestamps alone). Reported: the server's CPU seconds per second in each phase and the
//! difference, and the delay from each write's acknowledgement (its reply read here) to the
//! arrival of its points at each subscriber, p50 and p99 over every (write, subscriber).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::Conn;
use crate::systems::{SEXTANT_TOKEN, Server, System};
use crate::workload::{T0_MS, W2Row, w2_field_names, w2_rows};

/// Rows (milliseconds) per write.
const ROWS_PER_WRITE: usize = 100;

/// When each write was acknowledged, by the millisecond timestamp of its first row.
type Acks = Arc<Mutex<HashMap<i64, Instant>>>;

/// One line per row, W2's measurement and tags, millisecond timestamps.
fn lines(rows: &[W2Row], names: &[String]) -> Bytes {
    let mut out = String::new();
    for row in rows {
        out.push_str("hw,device=rig01 ");
        let mut first = true;
        let mut field = |name: &str, value: String| {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{name}={value}");
        };
        let mut n = names.iter();
        for v in row.floats {
            field(
                n.next().map_or("", String::as_str),
                format!("{}", v as f64 / 100.0),
            );
        }
        for v in row.ints {
            field(n.next().map_or("", String::as_str), format!("{v}i"));
        }
        for v in row.bools {
            field(n.next().map_or("", String::as_str), v.to_string());
        }
        for v in row.enums {
            field(n.next().map_or("", String::as_str), format!("{v}i"));
        }
        let _ = writeln!(out, " {}", row.ts_ms);
    }
    Bytes::from(out)
}

/// Writes `writes` requests, one every 100 ms, each acknowledged before the next.
async fn write_paced(
    server_addr: std::net::SocketAddr,
    batches: Vec<(i64, Bytes)>,
    acks: Acks,
) -> anyhow::Result<()> {
    let mut conn = Conn::new(server_addr);
    let auth = format!("Bearer {SEXTANT_TOKEN}");
    let started = tokio::time::Instant::now();
    for (i, (first_ms, body)) in batches.into_iter().enumerate() {
        tokio::time::sleep_until(started + Duration::from_millis(100 * i as u64)).await;
        let reply = conn
            .send(
                "POST",
                "/write?precision=ms",
                &[("authorization", &auth)],
                body,
            )
            .await?;
        anyhow::ensure!(reply.ok(), "write refused: {}", reply.text(300));
        acks.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(first_ms, Instant::now());
    }
    Ok(())
}

/// How subscribers subscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// Server-Sent Events.
    Sse,
    /// gRPC server streaming.
    Grpc,
}

/// The first instant of the write that a point at `ns` belongs to, in milliseconds.
fn write_of(ns: i64) -> i64 {
    let ms = ns / 1_000_000;
    ms - (ms - T0_MS).rem_euclid(ROWS_PER_WRITE as i64)
}

/// The part of `sextant.live.v1.SubscribeResponse` the benchmark reads: the timestamps of
/// points messages (prost skips the rest).
#[derive(Clone, PartialEq, prost::Message)]
struct Response {
    #[prost(message, optional, tag = "2")]
    points: Option<Points>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Points {
    #[prost(message, repeated, tag = "2")]
    series: Vec<SeriesTimes>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SeriesTimes {
    #[prost(sint64, repeated, tag = "2")]
    timestamps: Vec<i64>,
}

/// One gRPC subscriber, as [`subscribe_sse`].
async fn subscribe_grpc(
    addr: std::net::SocketAddr,
    until: Instant,
) -> anyhow::Result<(HashMap<i64, Instant>, u64)> {
    let config = sextant_client::ClientConfig::new(format!("http://{addr}"), SEXTANT_TOKEN);
    let channel = sextant_client::connect(&config).await?;
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(256 << 20);
    grpc.ready().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = sextant_api::live::proto::SubscribeRequest {
        selector: r#"{device="rig01"}"#.to_owned(),
        ..Default::default()
    };
    let mut stream = grpc
        .server_streaming(
            tonic::Request::new(request),
            tonic::codegen::http::uri::PathAndQuery::from_static(
                sextant_api::live::proto::SUBSCRIBE_PATH,
            ),
            tonic_prost::ProstCodec::<_, Response>::default(),
        )
        .await?
        .into_inner();
    let mut seen: HashMap<i64, Instant> = HashMap::new();
    let mut bytes = 0u64;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let message = match tokio::time::timeout(left, stream.message()).await {
            Ok(message) => message?,
            Err(_) => break,
        };
        let Some(message) = message else { break };
        let now = Instant::now();
        bytes += prost::Message::encoded_len(&message) as u64;
        for series in message.points.into_iter().flat_map(|p| p.series) {
            if let Some(first) = series.timestamps.first() {
                seen.entry(write_of(*first)).or_insert(now);
            }
        }
    }
    Ok((seen, bytes))
}

/// One subscriber: reads its event stream until `until`, noting when each write's points
/// arrived (by the first timestamp of each series entry).
async fn subscribe_sse(
    addr: std::net::SocketAddr,
    until: Instant,
) -> anyhow::Result<(HashMap<i64, Instant>, u64)> {
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let request = format!(
        "GET /api/native/v1/subscribe?selector=%7Bdevice%3D%22rig01%22%7D HTTP/1.0\r\nAuthorization: Bearer {SEXTANT_TOKEN}\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await?;
    let mut seen: HashMap<i64, Instant> = HashMap::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    let key = b"\"timestamps\":[";
    let finder = memchr::memmem::Finder::new(key);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let n = match tokio::time::timeout(left, socket.read(&mut buffer)).await {
            Ok(read) => read?,
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        let now = Instant::now();
        bytes += n as u64;
        pending.extend_from_slice(&buffer[..n]);
        let Some(end) = memchr::memmem::rfind(&pending, b"\n\n") else {
            continue;
        };
        let records: Vec<u8> = pending.drain(..end + 2).collect();
        let mut at = 0;
        while let Some(i) = finder.find(&records[at..]) {
            let start = at + i + key.len();
            let digits = records[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if let Some(ns) = std::str::from_utf8(&records[start..start + digits])
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
            {
                seen.entry(write_of(ns)).or_insert(now);
            }
            at = start + digits;
        }
    }
    Ok((seen, bytes))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

/// Runs both phases and returns the report (Markdown).
pub async fn run(
    sextant: &Path,
    subscribers: usize,
    seconds: u64,
    transport: Transport,
) -> anyhow::Result<String> {
    let server = Server::start(System::Sextant, sextant).await?;
    let addr = server.addr;
    let names = w2_field_names();
    let writes = (seconds * 10) as usize;
    let rows: Vec<W2Row> = w2_rows(1.0, 0).take(writes * 2 * ROWS_PER_WRITE).collect();
    let batches: Vec<(i64, Bytes)> = rows
        .chunks(ROWS_PER_WRITE)
        .map(|c| (c[0].ts_ms, lines(c, &names)))
        .collect();
    let (alone, with) = batches.split_at(writes);

    // Phase 1: the writes alone.
    let acks: Acks = Arc::default();
    let cpu0 = server.cpu_seconds()?;
    let t0 = Instant::now();
    write_paced(addr, alone.to_vec(), Arc::clone(&acks)).await?;
    let alone_cpu = (server.cpu_seconds()? - cpu0) / t0.elapsed().as_secs_f64();

    // Phase 2: the same rate with subscribers.
    let acks: Acks = Arc::default();
    let until = Instant::now() + Duration::from_secs(seconds + 3);
    let mut readers = Vec::new();
    for _ in 0..subscribers {
        readers.push(match transport {
            Transport::Sse => tokio::spawn(subscribe_sse(addr, until)),
            Transport::Grpc => tokio::spawn(subscribe_grpc(addr, until)),
        });
    }
    // Let every subscription start before the measured writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = server.cpu_seconds()?;
    let t0 = Instant::now();
    write_paced(addr, with.to_vec(), Arc::clone(&acks)).await?;
    let with_cpu = (server.cpu_seconds()? - cpu0) / t0.elapsed().as_secs_f64();
    let mut delays = Vec::new();
    let mut missing = 0usize;
    let mut received = 0u64;
    let acks = acks
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    for reader in readers {
        let (seen, bytes) = reader.await.context("a subscriber")??;
        received += bytes;
        for (first, acked) in &acks {
            match seen.get(first) {
                Some(at) => delays.push(at.saturating_duration_since(*acked).as_secs_f64() * 1e3),
                None => missing += 1,
            }
        }
    }
    server.stop()?;
    delays.sort_by(f64::total_cmp);
    let mut out = String::new();
    writeln!(
        out,
        "## Live subscriptions: {subscribers} subscribers to W2's 50 channels, {}",
        match transport {
            Transport::Sse => "Server-Sent Events",
            Transport::Grpc => "gRPC",
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "W2 at its real rate (50 channels at 1 kHz, a line-protocol request of {ROWS_PER_WRITE} rows every 100 ms), {seconds} s per phase."
    )?;
    writeln!(out)?;
    writeln!(out, "| | server CPU s/s |")?;
    writeln!(out, "|---|---|")?;
    writeln!(out, "| writes alone | {alone_cpu:.3} |")?;
    writeln!(out, "| with {subscribers} subscribers | {with_cpu:.3} |")?;
    writeln!(
        out,
        "| added | {:.3} ({:.1}% of one core) |",
        with_cpu - alone_cpu,
        (with_cpu - alone_cpu) * 100.0
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Delay from a write's acknowledgement to its points at a subscriber, over {} deliveries ({missing} not seen): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms. Received {:.1} MB in all.",
        delays.len(),
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        delays.last().copied().unwrap_or(f64::NAN),
        received as f64 / 1e6
    )?;
    Ok(out)
}
