//! `sextant events`: list the custom events of a running server (those SignalFx clients send
//! to `/v2/event`) by type, dimensions and time, one JSON object a line, oldest first.

use anyhow::Context;
use clap::Args;
use sextant_client::native::NativeClient;
use sextant_client::native::api::EventQuery;
use sextant_client::parse_time;

/// Arguments of `sextant events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this type.
    #[arg(long)]
    event_type: Option<String>,
    /// Only events carrying this dimension, `key:value`; repeat for several (all must match).
    #[arg(long = "dimension", short = 'd')]
    dimensions: Vec<String>,
    /// The first instant included: RFC 3339 or integer nanoseconds since the Unix epoch.
    #[arg(long)]
    start: Option<String>,
    /// The first instant excluded, like --start.
    #[arg(long)]
    end: Option<String>,
    /// The most events to list.
    #[arg(long, default_value_t = 1_000)]
    limit: usize,
    /// The server's address.
    #[arg(long, env = "SEXTANT_URL", default_value = "http://127.0.0.1:7777")]
    url: String,
    /// An API key.
    #[arg(long, env = "SEXTANT_TOKEN", hide_env_values = true)]
    token: String,
}

/// Runs `sextant events`.
pub fn run(args: EventsArgs) -> anyhow::Result<()> {
    let time = |text: &Option<String>, flag: &str| -> anyhow::Result<Option<i64>> {
        text.as_deref()
            .map(|t| parse_time(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let query = EventQuery {
        event_type: args.event_type.clone(),
        dimension: (!args.dimensions.is_empty()).then(|| args.dimensions.join(",")),
        start: time(&args.start, "start")?,
        end: time(&args.end, "end")?,
        limit: Some(args.limit),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let client = NativeClient::new(&args.url, &args.token)?;
    let events = runtime.block_on(client.list_events(&query))?;
    for event in events {
        println!("{}", serde_json::to_string(&event)?);
    }
    Ok(())
}
