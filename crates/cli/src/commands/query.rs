//! `sextant query`: download channels of an asset from a running server and print them as a
//! table or write them as CSV or Parquet. Several channels share one timeline, the first
//! channel's, each row showing every other channel's latest value at or before its time.
//!
//! `sextant query --kairos QUERY.json` runs a KairosDB query (aggregators, group-bys,
//! relative time) through the server's KairosDB API instead, one row per result point.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sextant_client::export::{format_table, write_csv, write_csv_file, write_parquet_file};
use sextant_client::{ChannelQuery, ClientConfig, DataQuery, DataService, connect, parse_time};

/// Arguments of `sextant query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The asset whose channels to read, e.g. `NostromoLV426`.
    #[arg(long, required_unless_present = "kairos")]
    asset: Option<String>,
    /// A channel by full name, e.g. `mainmotor.velocity`; repeat the flag or list several. A
    /// bit field gives one column per element. The first channel's times are the rows; every
    /// other channel shows its latest value at or before each row's time.
    #[arg(long = "channel", short = 'c', required_unless_present = "kairos", num_args = 1..)]
    channels: Vec<String>,
    /// A KairosDB query body (JSON file, `-` for standard input) to run through the KairosDB
    /// API instead of reading channels: one row per point with metric, group, tags,
    /// timestamp, value and text.
    #[arg(long, value_name = "QUERY.json", conflicts_with_all = ["asset", "channels", "run", "start", "end"])]
    kairos: Option<PathBuf>,
    /// Only the points of this run (by name); without it, all points, with a run or without.
    #[arg(long)]
    run: Option<String>,
    /// The first instant included: RFC 3339 (`2024-07-04T18:09:08.555-07:00`) or integer
    /// nanoseconds since the Unix epoch. Without it, from the first point.
    #[arg(long)]
    start: Option<String>,
    /// The first instant excluded, like --start. Without it, to the last point.
    #[arg(long)]
    end: Option<String>,
    /// Downsample numeric channels: per bucket of this many milliseconds from --start, the
    /// first, lowest, highest and last point. Other channels come back whole.
    #[arg(long, value_name = "MS", conflicts_with = "kairos")]
    sample_ms: Option<u32>,
    /// How to write the result.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The file to write; standard output when absent (not for parquet).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The most rows a table shows.
    #[arg(long, default_value_t = 50)]
    max_rows: usize,
    /// The server's gRPC address.
    #[arg(long, env = "SEXTANT_URL", default_value = "http://127.0.0.1:7777")]
    url: String,
    /// An API key allowed to read.
    #[arg(long, env = "SEXTANT_TOKEN", hide_env_values = true)]
    token: String,
}

/// Output formats of `sextant query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A bordered text table of the first --max-rows rows.
    Table,
    /// CSV with a header row; times in UTC, RFC 3339 with nanoseconds.
    Csv,
    /// A Parquet file (needs --out).
    Parquet,
}

/// Runs the query and writes its result.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    if args.format == Format::Parquet && args.out.is_none() {
        bail!("--format parquet writes a binary file: give it one with --out FILE");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let table = match &args.kairos {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
            } else {
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
            };
            let query: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            let client = sextant_client::kairos::KairosClient::new(&args.url, &args.token)?;
            let table = runtime.block_on(client.query_json(&query))?;
            // KairosDB answers a misspelt metric with no points; say so, on standard error.
            for line in runtime.block_on(client.explain_empty(&query, &table))? {
                eprintln!("{line}");
            }
            table
        }
        None => runtime.block_on(channels(&args))?,
    };
    write(&args, &table)
}

async fn channels(args: &QueryArgs) -> anyhow::Result<arrow_array::RecordBatch> {
    let start = args
        .start
        .as_deref()
        .map(parse_time)
        .transpose()
        .context("--start")?;
    let end = args
        .end
        .as_deref()
        .map(parse_time)
        .transpose()
        .context("--end")?;
    let asset = args.asset.as_deref().unwrap_or_default();
    let mut query = DataQuery::new(asset, start, end);
    query.sample_ms = args.sample_ms.unwrap_or(0);
    for name in &args.channels {
        let mut channel = ChannelQuery::new(name);
        channel.run_name = args.run.clone();
        query = query.channel(channel);
    }
    let channel = connect(&ClientConfig::new(&args.url, &args.token)).await?;
    let result = DataService::new(channel).execute(&query).await?;
    let keys: Vec<&str> = result.keys().collect();
    Ok(result.align(&keys)?)
}

fn write(args: &QueryArgs, table: &arrow_array::RecordBatch) -> anyhow::Result<()> {
    let table = table.clone();

    match args.format {
        Format::Table => {
            let text = format_table(&table, args.max_rows)?;
            match &args.out {
                None => std::io::stdout()
                    .lock()
                    .write_all(text.as_bytes())
                    .context("cannot write to standard output")?,
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            }
        }
        Format::Csv => match &args.out {
            None => write_csv(&table, std::io::stdout().lock(), "standard output")?,
            Some(path) => write_csv_file(&table, path)?,
        },
        Format::Parquet => {
            let Some(path) = &args.out else {
                bail!("--format parquet writes a binary file: give it one with --out FILE");
            };
            write_parquet_file(&table, path)?;
        }
    }
    if let Some(path) = &args.out {
        eprintln!("wrote {} rows to {}", table.num_rows(), path.display());
    }
    Ok(())
}
