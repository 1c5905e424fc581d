//! `sextant-bench`: Sextant side by side with VictoriaMetrics and InfluxDB on three workloads,
//! over loopback, each server a real process with a fresh data directory. See
//! `bench/README.md`.

mod drive;
mod grouped;
mod http;
mod live;
mod query;
mod report;
mod sift;
mod signalfx;
mod systems;
mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use crate::drive::{Sent, Target, send_all};
use crate::report::{Ingest, Run};
use crate::systems::{Server, System};
use crate::workload::{Generated, Kind, Options, generate, span_ms};

/// Benchmarks Sextant through line protocol and Sift gRPC, and with --peers VictoriaMetrics
/// and InfluxDB on the same bytes, then writes JSON, Markdown and SVG results.
#[derive(Debug, Parser)]
#[command(name = "sextant-bench")]
struct Args {
    /// Also run VictoriaMetrics and InfluxDB (installed with apt-get when missing).
    #[arg(long)]
    peers: bool,
    /// Do not install missing peers; skip them instead.
    #[arg(long)]
    no_install: bool,
    /// Size of the workloads: 1 is the full size (W1 8.64M, W2 30M, W3 1M, W4 10M points);
    /// 0.01 is a quick try.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Workloads to run, comma-separated: w1, w2, w3, w4.
    #[arg(long, default_value = "w1,w2,w3,w4", value_delimiter = ',')]
    workloads: Vec<String>,
    /// The `sextant` binary (default: beside this one).
    #[arg(long)]
    sextant: Option<PathBuf>,
    /// Where to write results.json, results.md and ratios.svg.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Connections (or gRPC streams in flight) per driver.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Points per request.
    #[arg(long, default_value_t = 10_000)]
    batch_points: usize,
    /// The paced phase's rate, points per second.
    #[arg(long, default_value_t = 500_000.0)]
    paced_rate: f64,
    /// The most points the paced phase sends (a later copy of the workload).
    #[arg(long, default_value_t = 10_000_000)]
    paced_points: u64,
    /// Skip the Sift gRPC run of W2.
    #[arg(long)]
    no_sift: bool,
    /// Instead of the runs above: SignalFx protobuf ingest (300- and 10,000-point requests)
    /// beside line protocol on W1, and metadata search over --mts MTS; writes signalfx.md.
    #[arg(long)]
    signalfx: bool,
    /// MTS created for the --signalfx search figures.
    #[arg(long, default_value_t = 1_000_000)]
    mts: usize,
    /// Instead of the runs above: W2 at its real rate, alone and then with this many live
    /// subscribers to all its channels; writes live.md.
    #[arg(long)]
    live_subscribers: Option<usize>,
    /// Seconds per phase of --live-subscribers.
    #[arg(long, default_value_t = 30)]
    live_seconds: u64,
    /// How the --live-subscribers subscribe: `sse` (Server-Sent Events) or `grpc` (the SDK's
    /// transport).
    #[arg(long, default_value = "sse")]
    live_transport: live::Transport,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("sextant-bench: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut kinds = Vec::new();
    for w in &args.workloads {
        let kind = Kind::parse(w).with_context(|| format!("unknown workload {w:?}"))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    anyhow::ensure!(
        args.scale > 0.0 && args.scale <= 1.0,
        "--scale must be in (0, 1]"
    );
    let sextant = match &args.sextant {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("sextant"))
            .context("no directory for the sextant binary")?,
    };
    anyhow::ensure!(
        sextant.is_file(),
        "no sextant binary at {} (build it with `cargo build --release -p sextant-cli`, or pass --sextant)",
        sextant.display()
    );
    if let Some(subscribers) = args.live_subscribers {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let report = runtime.block_on(live::run(
            &sextant,
            subscribers,
            args.live_seconds,
            args.live_transport,
        ))?;
        std::fs::create_dir_all(&args.out)?;
        write(&args.out.join("live.md"), &report)?;
        println!("{report}");
        return Ok(());
    }
    if args.signalfx {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let report = runtime.block_on(signalfx::run(
            &sextant,
            args.scale,
            args.connections,
            args.mts,
        ))?;
        std::fs::create_dir_all(&args.out)?;
        write(&args.out.join("signalfx.md"), &report)?;
        println!("{report}");
        return Ok(());
    }
    let mut systems: Vec<(System, Result<PathBuf, String>)> = vec![(System::Sextant, Ok(sextant))];
    if args.peers {
        let peers = systems::find_or_install_peers(!args.no_install);
        for (system, found) in [
            (System::VictoriaMetrics, &peers.victoria_metrics),
            (System::InfluxDb, &peers.influxdb),
        ] {
            if let Err(e) = found {
                eprintln!("{}: {e}", system.label());
            }
            systems.push((system, found.clone()));
        }
        let foreign = systems::foreign_instances(&[]);
        if !foreign.is_empty() {
            eprintln!(
                "warning: other instances are running and will compete for the CPU: {}",
                foreign.join(", ")
            );
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut runs: Vec<Run> = Vec::new();
    for kind in kinds {
        eprintln!(
            "[{:>6.0} s] generating {}",
            started.elapsed().as_secs_f64(),
            kind.label()
        );
        let main = generate(
            kind,
            Options {
                scale: args.scale,
                batch_points: args.batch_points,
                offset_ms: 0,
                max_points: u64::MAX,
                truth: true,
            },
        );
        let paced = generate(
            kind,
            Options {
                scale: args.scale,
                batch_points: args.batch_points,
                offset_ms: span_ms(kind, args.scale),
                max_points: args.paced_points,
                truth: false,
            },
        );
        let bodies = Arc::new(main.requests.clone());
        let paced_bodies = Arc::new(paced.requests.clone());
        eprintln!(
            "[{:>6.0} s] {}: {} points in {} requests ({} MiB)",
            started.elapsed().as_secs_f64(),
            kind.label(),
            main.points,
            bodies.len(),
            bodies.iter().map(|r| r.body.len()).sum::<usize>() >> 20
        );
        for (system, binary) in &systems {
            let mut run = Run {
                system: system.label().to_owned(),
                workload: kind.label().to_owned(),
                driver: "line protocol".to_owned(),
                points: main.points,
                series: main.series,
                ..Run::default()
            };
            match binary {
                Err(e) => run.errors.push(e.clone()),
                Ok(binary) => {
                    eprintln!(
                        "[{:>6.0} s] {} on {}",
                        started.elapsed().as_secs_f64(),
                        kind.label(),
                        system.label()
                    );
                    runtime.block_on(line_protocol(
                        *system,
                        binary,
                        &main,
                        bodies.clone(),
                        paced_bodies.clone(),
                        &args,
                        &mut run,
                    ));
                }
            }
            print_run(&run);
            runs.push(run);
        }
        if kind == Kind::W2
            && !args.no_sift
            && let Ok(binary) = &systems[0].1
        {
            eprintln!(
                "[{:>6.0} s] W2 hw on Sextant through Sift gRPC",
                started.elapsed().as_secs_f64()
            );
            let mut run = Run {
                system: "Sextant".to_owned(),
                workload: kind.label().to_owned(),
                driver: "Sift gRPC (SDK)".to_owned(),
                points: main.points,
                ..Run::default()
            };
            runtime.block_on(sift_run(binary, &args, &mut run));
            print_run(&run);
            runs.push(run);
        }
    }

    cross_check_grouped(&mut runs);
    let ratios = report::ratios(&runs);
    let header = header(&args);
    let md = report::markdown(&header, &runs, &ratios);
    let chart = report::svg(&format!("Sextant / peer, scale {}", args.scale), &ratios);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let json = serde_json::json!({
        "meta": meta(&args),
        "runs": runs,
        "ratios": ratios,
    });
    write(
        &args.out.join("results.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    write(&args.out.join("results.md"), &md)?;
    write(&args.out.join("ratios.svg"), &chart)?;
    println!("{md}");
    println!(
        "results: {} (JSON), {} (Markdown), {} (chart); {:.0} s in all",
        args.out.join("results.json").display(),
        args.out.join("results.md").display(),
        args.out.join("ratios.svg").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn print_run(run: &Run) {
    let mut line = format!("    {} {} ({}):", run.system, run.workload, run.driver);
    if let Some(i) = &run.ingest {
        line += &format!(
            " {:.0} points/s, {:.0} points/CPU-s, p99 {:.1} ms",
            i.points_per_s, i.points_per_cpu_s, i.p99_ms
        );
    }
    if let Some(b) = run.bytes_per_point {
        line += &format!(", {b:.3} bytes/point");
    }
    if let Some(q) = &run.query {
        match q.seconds {
            Some(s) => line += &format!(", query {s:.2} s ({} mismatches)", q.mismatches),
            None => line += &format!(", query: {}", q.status),
        }
    }
    if let Some(p) = &run.paced {
        line += &format!(", paced p99 {:.1} ms at {:.0}/s", p.p99_ms, p.points_per_s);
    }
    if let Some(r) = run.peak_rss_bytes {
        line += &format!(", peak RSS {} MiB", r >> 20);
    }
    eprintln!("{line}");
    for e in &run.errors {
        eprintln!("    error: {e}");
    }
}

fn ingest_figures(sent: &Sent, cpu_s: f64, requests: usize) -> Ingest {
    Ingest {
        points: sent.points,
        wall_s: sent.wall.as_secs_f64(),
        points_per_s: sent.rate(),
        cpu_s,
        points_per_cpu_s: sent.points as f64 / cpu_s.max(1e-9),
        p50_ms: sent.quantile_ms(0.5),
        p99_ms: sent.quantile_ms(0.99),
        requests,
    }
}

/// How long after the closed-loop ingest the disk in use and the bytes written are read.
const IDLE_SECONDS: u64 = 60;

/// One system on one workload through line protocol: closed-loop ingest, settle and measure
/// the data directory, query, paced ingest, peak RSS, stop. Failures are recorded in `run`.
async fn line_protocol(
    system: System,
    binary: &Path,
    main: &Generated,
    bodies: Arc<Vec<workload::Request>>,
    paced: Arc<Vec<workload::Request>>,
    args: &Args,
    run: &mut Run,
) {
    let server = match Server::start(system, binary).await {
        Ok(server) => server,
        Err(e) => {
            run.errors.push(format!("cannot start: {e:#}"));
            return;
        }
    };
    if let Err(e) = measure(&server, main, bodies, paced, args, run).await {
        run.errors.push(format!("{e:#}"));
    }
    if let Ok(rss) = server.peak_rss() {
        run.peak_rss_bytes = Some(rss);
    }
    if let Err(e) = server.stop() {
        run.errors.push(format!("{e:#}"));
    }
}

async fn measure(
    server: &Server,
    main: &Generated,
    bodies: Arc<Vec<workload::Request>>,
    paced: Arc<Vec<workload::Request>>,
    args: &Args,
    run: &mut Run,
) -> anyhow::Result<()> {
    let (path, headers) = server.write_target();
    let target = Target {
        addr: server.addr,
        path,
        headers,
    };
    let requests = bodies.len();
    let written0 = server.written_bytes().ok();
    let rss0 = server.rss().ok();
    let cpu0 = server.cpu_seconds()?;
    let sent = send_all(&target, bodies, args.connections, None)
        .await
        .context("closed-loop ingest")?;
    let cpu1 = server.cpu_seconds()?;
    let ingest = ingest_figures(&sent, cpu1 - cpu0, requests);
    run.ingest = Some(ingest);
    if let (Some(before), Ok(after)) = (rss0, server.rss()) {
        run.memory_per_series =
            Some(after.saturating_sub(before) as f64 / run.series.max(1) as f64);
    }

    // What a user finds a minute after the load, with no flush asked for: the disk in use, and
    // what was written to get there.
    tokio::time::sleep(std::time::Duration::from_secs(IDLE_SECONDS)).await;
    let points = sent.points.max(1) as f64;
    run.idle_disk_bytes_per_point = Some(server.data_bytes().0 as f64 / points);
    if let (Some(before), Ok(after)) = (written0, server.written_bytes()) {
        run.written_bytes_per_point = Some(after.saturating_sub(before) as f64 / points);
    }
    let cpu1 = server.cpu_seconds()?;

    let note = server.settle().await.context("flush and merge")?;
    let cpu2 = server.cpu_seconds()?;
    run.settle = Some(note);
    run.settle_cpu_s = Some(cpu2 - cpu1);
    run.points_per_cpu_s_with_settle = Some(sent.points as f64 / (cpu2 - cpu0).max(1e-9));
    let (bytes, apparent) = server.data_bytes();
    run.bytes = Some(bytes);
    run.apparent_bytes = Some(apparent);
    run.bytes_by_entry = server.data_breakdown();
    run.bytes_per_point = Some(bytes as f64 / sent.points.max(1) as f64);

    // W4's goals name no query: a million groups in one answer measure the answer's size more
    // than the store.
    if main.kind != Kind::W4 {
        run.query = Some(query::run(server.system, server.addr, main, args.connections).await);
        run.grouped = grouped::run(server.system, server.addr, main).await;
    }

    let requests = paced.len();
    let cpu3 = server.cpu_seconds()?;
    let sent = send_all(&target, paced, args.connections, Some(args.paced_rate))
        .await
        .context("paced ingest")?;
    let cpu4 = server.cpu_seconds()?;
    run.paced = Some(ingest_figures(&sent, cpu4 - cpu3, requests));
    run.paced_target = Some(args.paced_rate);
    Ok(())
}

async fn sift_run(binary: &Path, args: &Args, run: &mut Run) {
    let server = match Server::start(System::Sextant, binary).await {
        Ok(server) => server,
        Err(e) => {
            run.errors.push(format!("cannot start: {e:#}"));
            return;
        }
    };
    let result = async {
        let cpu0 = server.cpu_seconds()?;
        let url = format!("http://{}", server.addr);
        let sent = sift::send_w2(&url, args.scale, args.batch_points, args.connections).await?;
        let cpu1 = server.cpu_seconds()?;
        let requests = sent.latencies.len();
        run.ingest = Some(ingest_figures(&sent, cpu1 - cpu0, requests));
        let note = server.settle().await.context("flush and merge")?;
        let cpu2 = server.cpu_seconds()?;
        run.settle = Some(note);
        run.settle_cpu_s = Some(cpu2 - cpu1);
        run.points_per_cpu_s_with_settle = Some(sent.points as f64 / (cpu2 - cpu0).max(1e-9));
        let (bytes, apparent) = server.data_bytes();
        run.bytes = Some(bytes);
        run.apparent_bytes = Some(apparent);
        run.bytes_by_entry = server.data_breakdown();
        run.bytes_per_point = Some(bytes as f64 / sent.points.max(1) as f64);
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        run.errors.push(format!("{e:#}"));
    }
    if let Ok(rss) = server.peak_rss() {
        run.peak_rss_bytes = Some(rss);
    }
    if let Err(e) = server.stop() {
        run.errors.push(format!("{e:#}"));
    }
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn meta(args: &Args) -> serde_json::Value {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .next()
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
    });
    serde_json::json!({
        "date": command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "scale": args.scale,
        "connections": args.connections,
        "batch_points": args.batch_points,
        "paced_rate": args.paced_rate,
        "paced_points": args.paced_points,
        "cores": cores,
        "memory_kib": memory,
        "kernel": command_output("uname", &["-r"]),
        "load_average_at_end": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_owned()),
        "victoria_metrics": command_output("victoria-metrics", &["-version"]),
        "influxdb": command_output("influxd", &["version"]),
        "sextant_fsync": "default: every write fsynced before it is acknowledged",
    })
}

fn header(args: &Args) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "## Results ({}, scale {}, {cores} cores)\n\nSame line-protocol bytes to every system; {} points per request, {} connections; paced at {:.0} points/s (up to {} points of a later copy). Bytes: the whole data directory after flush and merge. Query: 1-minute avg/min/max/count per series over the whole range; answers checked against the generator's.",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        args.scale,
        args.batch_points,
        args.connections,
        args.paced_rate,
        args.paced_points,
    )
}

/// Checks Sextant's grouped answers by region against VictoriaMetrics' (by host, each is
/// checked against the generator already).
fn cross_check_grouped(runs: &mut [Run]) {
    let peer = runs
        .iter()
        .find(|r| r.system == "VictoriaMetrics" && !r.grouped.is_empty())
        .map(|r| r.grouped.clone());
    let Some(peer) = peer else { return };
    for run in runs.iter_mut().filter(|r| r.system == "Sextant") {
        for g in &mut run.grouped {
            if g.query != "by region" {
                continue;
            }
            if let Some(other) = peer.iter().find(|p| p.query == g.query) {
                grouped::cross_check(g, other);
            }
        }
    }
}
