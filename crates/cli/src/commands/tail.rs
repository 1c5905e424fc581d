//! `sextant tail`: print committed points (or server-side windows) of the series a selector
//! selects, or the events of an event collection (`--collection`), as they arrive, until
//! interrupted, `--count` lines or `--for` a while. Notices
//! (live, gaps, falling behind, late points, reconnections) go to standard error, and so does
//! the cursor to resume from (`--after`) when it stops.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use sextant_client::ingest::time::format_rfc3339;
use sextant_client::live::{LiveValue, Notice, Update, WindowRequest};
use sextant_client::native::NativeClient;
use sextant_client::parse_time;
use sextant_model::parse_duration;

/// Arguments of `sextant tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Which series, in the query selector's form, e.g. `cpu.usage_user{host="h1"}` or
    /// `mainmotor.velocity{asset="NostromoLV426"}`.
    #[arg(required_unless_present = "collection")]
    selector: Option<String>,
    /// Instead of series: the whole events (inferences and labels) of this event collection.
    #[arg(long, conflicts_with_all = ["selector", "window"])]
    collection: Option<String>,
    /// Start with the stored points from this instant on, then the live ones: RFC 3339,
    /// integer nanoseconds since the Unix epoch, or a duration ago such as `10m`.
    #[arg(long, conflicts_with = "after")]
    since: Option<String>,
    /// Resume after this cursor, which an earlier `sextant tail` printed when it stopped.
    #[arg(long)]
    after: Option<u64>,
    /// Aggregate into event-time windows of this length (e.g. `10s`) on the server.
    #[arg(long)]
    window: Option<String>,
    /// Windows start this far apart (sliding windows); the window's length unless given.
    #[arg(long, requires = "window")]
    slide: Option<String>,
    /// The windows' aggregates: count, sum, mean, min, max, first, last (comma-separated).
    #[arg(long, requires = "window", default_value = "count,mean")]
    agg: String,
    /// How far a series' watermark trails its newest point (out-of-order tolerance).
    #[arg(long, requires = "window")]
    watermark: Option<String>,
    /// How long after closing a window still takes late points (sending it again).
    #[arg(long, requires = "window")]
    lateness: Option<String>,
    /// How to print.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Stop after this many points or windows.
    #[arg(long)]
    count: Option<usize>,
    /// Stop after this long, e.g. `30s`.
    #[arg(long = "for", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// The server's address.
    #[arg(long, env = "SEXTANT_URL", default_value = "http://127.0.0.1:7777")]
    url: String,
    /// An API key allowed to read.
    #[arg(long, env = "SEXTANT_TOKEN", hide_env_values = true)]
    token: String,
}

/// Output formats of `sextant tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One aligned line per point: time, series, value.
    Table,
    /// One JSON object per line.
    Json,
}

/// `--since`: a time, or a duration ago.
fn since(text: &str) -> anyhow::Result<i64> {
    if let Ok(ago) = parse_duration(text) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?;
        return Ok(i64::try_from(now.saturating_sub(ago).as_nanos())?);
    }
    parse_time(text).map_err(|e| anyhow::anyhow!("--since: {e}; or give a duration ago, e.g. 10m"))
}

fn value_text(value: &LiveValue) -> String {
    match value {
        LiveValue::Bool(b) => b.to_string(),
        LiveValue::Int(v) => v.to_string(),
        LiveValue::Uint(v) => v.to_string(),
        LiveValue::Float(v) => v.to_string(),
        LiveValue::Text(t) => format!("{t:?}"),
    }
}

/// Runs `sextant tail`.
pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(tail(args))
}

async fn tail(args: TailArgs) -> anyhow::Result<()> {
    let client = NativeClient::new(&args.url, &args.token)?;
    let mut subscribe = match (&args.collection, &args.selector) {
        (Some(name), _) => client.subscribe_collection(name),
        (None, selector) => client.subscribe(selector.as_deref().unwrap_or_default()),
    };
    if let Some(text) = &args.since {
        subscribe = subscribe.since(since(text)?);
    }
    if let Some(cursor) = args.after {
        subscribe = subscribe.after(cursor);
    }
    if let Some(size) = &args.window {
        subscribe = subscribe.window(WindowRequest {
            size: size.clone(),
            slide: args.slide.clone(),
            aggs: vec![args.agg.clone()],
            watermark: args.watermark.clone(),
            lateness: args.lateness.clone(),
        });
    }
    let mut stream = subscribe.open().await?;
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let mut printed = 0usize;
    let stdout = std::io::stdout();
    let outcome: anyhow::Result<()> = async {
        loop {
            if args.count.is_some_and(|n| printed >= n) {
                break;
            }
            let next = tokio::select! {
                next = stream.next() => next,
                () = sleep_until(deadline) => break,
                _ = tokio::signal::ctrl_c() => break,
            };
            let Some(update) = next else { break };
            let mut out = stdout.lock();
            match update? {
                Update::Point(p) => {
                    printed += 1;
                    match args.format {
                        Format::Table => writeln!(
                            out,
                            "{}  {}  {}",
                            format_rfc3339(p.timestamp),
                            p.series.key(),
                            value_text(&p.value)
                        )?,
                        Format::Json => writeln!(
                            out,
                            "{}",
                            serde_json::json!({
                                "time": p.timestamp,
                                "series": p.series.key(),
                                "value": p.value,
                            })
                        )?,
                    }
                }
                Update::Window(w) => {
                    printed += 1;
                    match args.format {
                        Format::Table => {
                            let values: Vec<String> = w
                                .values
                                .iter()
                                .map(|(k, v)| {
                                    format!("{k}={}", v.map_or("-".to_owned(), |v| v.to_string()))
                                })
                                .collect();
                            writeln!(
                                out,
                                "{}  {}  {}  {}{}",
                                format_rfc3339(w.start),
                                format_rfc3339(w.end),
                                w.series.key(),
                                values.join(" "),
                                if w.update { "  (update)" } else { "" }
                            )?;
                        }
                        Format::Json => writeln!(
                            out,
                            "{}",
                            serde_json::json!({
                                "start": w.start,
                                "end": w.end,
                                "series": w.series.key(),
                                "count": w.count,
                                "values": w.values,
                                "update": w.update,
                            })
                        )?,
                    }
                }
                Update::Event(e) => {
                    printed += 1;
                    match args.format {
                        Format::Table => {
                            let columns: Vec<String> = e
                                .columns
                                .iter()
                                .map(|(k, v)| format!("{k}={}", value_text(v)))
                                .collect();
                            let time = e.timestamp.map_or_else(
                                || "-".repeat(format_rfc3339(0).len()),
                                format_rfc3339,
                            );
                            writeln!(
                                out,
                                "{time}  {:<9}  {}  {}",
                                e.kind.name(),
                                e.id,
                                columns.join(" ")
                            )?;
                        }
                        Format::Json => writeln!(out, "{}", serde_json::to_string(&e)?)?,
                    }
                }
                Update::Notice(notice) => {
                    drop(out);
                    eprintln!("# {}", describe(&notice));
                }
            }
            stdout.lock().flush()?;
        }
        Ok(())
    }
    .await;
    match stream.cursor() {
        Some(cursor) => eprintln!("# resume with --after {cursor}"),
        None => eprintln!("# stopped before the history was all sent: no cursor to resume from"),
    }
    outcome?;
    if args.count.is_some_and(|n| printed < n) && deadline.is_none() {
        bail!(
            "the stream ended after {printed} of {} lines",
            args.count.unwrap_or(0)
        );
    }
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn describe(notice: &Notice) -> String {
    match notice {
        Notice::Live { cursor } => format!("live (cursor {cursor})"),
        Notice::Gap {
            first,
            last,
            message,
        } => format!("gap: commits {first} to {last}: {message}"),
        Notice::Behind { message, .. } => format!("behind: {message}"),
        Notice::Late {
            series,
            timestamp,
            total,
        } => format!(
            "late: {} at {} is in no window ({total} so far)",
            series.key(),
            format_rfc3339(*timestamp)
        ),
        Notice::Deleted { series, start, end } => format!(
            "deleted: {} from {} to {}",
            series.key(),
            format_rfc3339(*start),
            format_rfc3339(*end)
        ),
        Notice::Reconnecting { error, attempt } => {
            format!("reconnecting (attempt {attempt}): {error}")
        }
        Notice::Restarted => {
            "reconnected before the history was all sent: it starts over, so points may repeat"
                .to_owned()
        }
    }
}
