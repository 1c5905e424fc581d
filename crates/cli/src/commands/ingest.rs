//! `sextant ingest`: send a CSV or Parquet table to a running server as the flows of one
//! telemetry config flow, through the SDK.
//!
//! The table has a time column (`time` or `timestamp`: RFC 3339 or integer nanoseconds) and
//! one column per channel of the flow, by full name. Rows are read and checked here; a row
//! that does not parse is rejected with every reason (where, which column, which value) and
//! shown in the summary, never dropped silently. Valid rows are sent in batches, one stream
//! each, which the server stores whole or not at all; one batch is in flight while the next
//! is read.

pub(crate) mod files;
mod rows;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sextant_client::ingest::{IngestionService, OrderedFlow, RunOptions};
use sextant_client::{ClientConfig, connect};
use sextant_telemetry::TelemetryConfig;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use self::files::RowSource;
use self::rows::RowDecoder;

/// Arguments of `sextant ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The telemetry config (YAML) that declares the flow; it is registered as the SDK does,
    /// rules included.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Named-expression modules the config's rules refer to.
    #[arg(long = "expressions", value_name = "FILE", num_args = 1..)]
    expressions: Vec<PathBuf>,
    /// The flow the table's rows are sent as.
    #[arg(long)]
    flow: String,
    /// The table: `.csv` with a header row, or `.parquet`. A `time` or `timestamp` column (RFC
    /// 3339, or integer nanoseconds since the Unix epoch) and one column per flow channel, by
    /// full name (`mainmotor.velocity`). Empty cells send no point. Bools read true/false/1/0,
    /// enums a key or a name, bit fields an integer (0x… and 0b… too), bytes hex.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Register only the config's asset, channels and flows, not its rules (whose assignees
    /// must otherwise be users of the organization).
    #[arg(long)]
    skip_rules: bool,
    /// Send the rows as part of this run (found by name, or created).
    #[arg(long)]
    run: Option<String>,
    /// Rows per stream.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// The most rejected rows the summary lists one by one (all are counted).
    #[arg(long, default_value_t = 100)]
    max_rejects_shown: usize,
    /// The server's gRPC address.
    #[arg(long, env = "SEXTANT_URL", default_value = "http://127.0.0.1:7777")]
    url: String,
    /// An API key allowed to ingest.
    #[arg(long, env = "SEXTANT_TOKEN", hide_env_values = true)]
    token: String,
}

/// What was sent and what was refused.
#[derive(Debug, Default)]
struct Tally {
    rows_read: u64,
    rows_stored: u64,
    points_stored: u64,
    rejected: Vec<(String, Vec<String>)>,
    rejected_count: u64,
}

/// Reads the table, sends its valid rows and prints a summary. Exits 0 when every row was
/// stored, 1 when some rows were rejected (the others are stored); errors exit 2.
pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let config = TelemetryConfig::try_from_yaml_with_modules(&args.config, &args.expressions)
        .map_err(|problems| anyhow!("{}:\n{problems}", args.config.display()))?;
    if config.flow_named(&args.flow).is_none() {
        let names: Vec<&str> = config.flows.iter().map(|f| f.name.as_str()).collect();
        bail!(
            "{} has no flow `{}`; its flows are {}",
            args.config.display(),
            args.flow,
            names.join(", ")
        );
    }
    let mut source = files::open(&args.file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let service = runtime.block_on(async {
        let channel = connect(&ClientConfig::new(&args.url, &args.token)).await?;
        let mut builder = IngestionService::builder(channel, &config);
        if args.skip_rules {
            builder = builder.skip_rules();
        }
        let mut service = builder.build().await?;
        if let Some(run) = &args.run {
            service.attach_run(run, RunOptions::default()).await?;
        }
        anyhow::Ok(service)
    })?;
    let flow = service
        .flow(&args.flow)
        .ok_or_else(|| anyhow!("the server did not register flow `{}`", args.flow))?
        .clone();
    let decoder = RowDecoder::new(source.header(), &flow)
        .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    tracing::debug!(channels = decoder.mapped_channels(), "columns mapped");

    let progress = progress_bar(source.as_ref());
    let started = Instant::now();
    let mut tally = Tally::default();
    let sent = send_rows(
        &runtime,
        &service,
        &args,
        source.as_mut(),
        &decoder,
        &progress,
        &mut tally,
    );
    progress.finish_and_clear();
    let elapsed = started.elapsed();
    print!("{}", summary(&args, &tally, elapsed));
    sent?;
    Ok(if tally.rejected_count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn progress_bar(source: &dyn RowSource) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(source.total());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ({elapsed}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A batch on its way: its row and point counts and the send.
type InFlight = (u64, u64, JoinHandle<sextant_client::Result<()>>);

fn send_rows(
    runtime: &Runtime,
    service: &IngestionService,
    args: &IngestArgs,
    source: &mut dyn RowSource,
    decoder: &RowDecoder,
    progress: &ProgressBar,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let batch_size = args.batch_size as usize;
    let mut batch: Vec<OrderedFlow> = Vec::with_capacity(batch_size);
    let mut batch_points = 0u64;
    let mut in_flight: Option<InFlight> = None;
    let finish = |in_flight: &mut Option<InFlight>, tally: &mut Tally| -> anyhow::Result<()> {
        if let Some((rows, points, task)) = in_flight.take() {
            runtime
                .block_on(task)
                .context("the send task failed")?
                .with_context(|| {
                    format!(
                        "a batch of {rows} rows was not stored; the {} rows before it were",
                        tally.rows_stored
                    )
                })?;
            tally.rows_stored += rows;
            tally.points_stored += points;
        }
        Ok(())
    };
    loop {
        let row = source.next_row()?;
        let full = batch.len() >= batch_size;
        if full || (row.is_none() && !batch.is_empty()) {
            finish(&mut in_flight, tally)?;
            let flows = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            let rows = flows.len() as u64;
            let service = service.clone();
            let task = runtime.spawn(async move { service.ingest_flows(&flows).await });
            in_flight = Some((rows, batch_points, task));
            batch_points = 0;
            progress.set_position(source.position());
            progress.set_message(format!("{} rows", tally.rows_read));
        }
        let Some(row) = row else { break };
        tally.rows_read += 1;
        let decoded = row.cells.map_err(|why| vec![why]).and_then(|cells| {
            let cells: Vec<Option<&str>> = cells.iter().map(Option::as_deref).collect();
            decoder.decode(&cells)
        });
        match decoded {
            Ok((timestamp, values)) => {
                batch_points += values.iter().filter(|v| v.is_some()).count() as u64;
                batch.push(OrderedFlow {
                    flow_name: args.flow.clone(),
                    timestamp,
                    channel_values: values,
                });
            }
            Err(reasons) => {
                tally.rejected_count += 1;
                if tally.rejected.len() < args.max_rejects_shown {
                    tally.rejected.push((row.location, reasons));
                }
            }
        }
    }
    finish(&mut in_flight, tally)
}

fn summary(args: &IngestArgs, tally: &Tally, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let mut out = format!(
        "{}: {} rows read, {} rows stored as flow `{}`: {} points in {:.2} s ({:.0} points/s)\n",
        args.file.display(),
        tally.rows_read,
        tally.rows_stored,
        args.flow,
        tally.points_stored,
        seconds,
        tally.points_stored as f64 / seconds
    );
    if tally.rejected_count > 0 {
        out.push_str(&format!(
            "{} row{} rejected:\n",
            tally.rejected_count,
            if tally.rejected_count == 1 { "" } else { "s" }
        ));
        for (location, reasons) in &tally.rejected {
            out.push_str(&format!("  {location}: {}\n", reasons.join("; ")));
        }
        let hidden = tally.rejected_count - tally.rejected.len() as u64;
        if hidden > 0 {
            out.push_str(&format!(
                "  … and {hidden} more (raise --max-rejects-shown to list them)\n"
            ));
        }
    }
    out
}
