//! `sextant serve`: the server, on embedded defaults — data in `./sextant-data`, one address for
//! HTTP/1.1 and gRPC, no other service to start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use sextant_catalog::{Catalog, Scope, SqliteCatalog};
use sextant_model::parse_duration;
use sextant_rules::{EngineConfig, RuleEngine};
use sextant_server::listener::{ConnectionLimits, TlsFiles, load_tls, serve_with};
use sextant_server::live::SubscriptionLimits;
use sextant_server::state::AppState;
use sextant_server::webhook::{WebhookConfig, Webhooks};
use sextant_storage::{Db, DbConfig};

/// Arguments of `sextant serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where Sextant keeps its data: the catalog, the write-ahead log, the parts.
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "sextant-data")]
    data_dir: PathBuf,
    /// The address to serve HTTP/1.1 and gRPC on (plaintext h2c, or TLS with --tls-cert).
    #[arg(long, env = "SEXTANT_LISTEN", default_value = "127.0.0.1:7777")]
    listen: SocketAddr,
    /// A PEM certificate chain: serve TLS instead of plaintext (needs --tls-key).
    #[arg(long, env = "SEXTANT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SEXTANT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// On the first start, create an admin API key with exactly this secret. Without it, the
    /// first start creates a random admin key and prints it once.
    #[arg(long, env = "SEXTANT_BOOTSTRAP_TOKEN", hide_env_values = true)]
    bootstrap_token: Option<String>,
    /// How far live rule evaluation stays behind the newest point of each stream, so that
    /// points arriving up to this late are still evaluated in time order (e.g. `500ms`, `2s`).
    #[arg(long, env = "SEXTANT_RULES_LATENESS", default_value = "0s", value_parser = parse_duration)]
    rules_lateness: std::time::Duration,
    /// Where to POST a JSON notification whenever a live rule opens or closes an annotation
    /// (in addition to each rule's own webhook_url).
    #[arg(long, env = "SEXTANT_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// A host (`HOST`, any port, or `HOST:PORT`) that rules' own webhook_url may name;
    /// repeat or separate with commas. Without it no rule may have its own webhook (the
    /// server-wide --webhook-url needs no entry).
    #[arg(long, env = "SEXTANT_WEBHOOK_ALLOW", value_delimiter = ',')]
    webhook_allow: Vec<String>,
    /// Write the in-memory head out to parts once it holds about this much (e.g. `128MiB`,
    /// `1GiB`): the main bound on the server's memory. Series stay in memory after a flush;
    /// when they alone take more, the head is written out each time its points take a
    /// quarter of this.
    #[arg(long, env = "SEXTANT_HEAD_MEMORY", default_value = "256MiB", value_parser = parse_size)]
    head_memory: usize,
    /// Also write the head out once writes pause this long after at least 1 MiB of them, so
    /// that memory and the write-ahead log's disk shrink to the parts' compressed size soon
    /// after a burst (`0s` waits for the memory bound or the ten-minute flush instead).
    #[arg(long, env = "SEXTANT_FLUSH_IDLE", default_value = "30s", value_parser = parse_duration)]
    flush_idle: std::time::Duration,
    /// Refuse points further than this behind their series' newest point (e.g. `1h`, `30m`).
    /// Without it, points of any age are accepted.
    #[arg(long, env = "SEXTANT_OUT_OF_ORDER_WINDOW", value_parser = parse_duration)]
    out_of_order_window: Option<std::time::Duration>,
    /// Close an HTTP/1.1 connection whose client takes longer than this to send a request's
    /// headers.
    #[arg(long, env = "SEXTANT_HEADER_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    header_read_timeout: std::time::Duration,
    /// On SIGTERM or SIGINT, how long requests in flight may go on before their connections
    /// are closed and the process exits (it exits within about twice this).
    #[arg(long, env = "SEXTANT_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    shutdown_grace: std::time::Duration,
    /// Stop a query over stored data (KairosDB, Sift GetData, rule evaluation, a SignalFlow
    /// batch computation) that runs longer than this, answering with the limit named; a
    /// query whose client goes away stops too.
    #[arg(long, env = "SEXTANT_QUERY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    query_timeout: std::time::Duration,
    /// The most raw points a query may read into memory at once (a KairosDB metric without an
    /// aggregator the store computes reads its points before aggregating); more is refused
    /// with the limit named.
    #[arg(long, env = "SEXTANT_QUERY_MAX_POINTS", default_value_t = sextant_server::budget::DEFAULT_QUERY_MAX_POINTS)]
    query_max_points: usize,
    /// The most bytes of ingest bodies (decompressed) that are decoded and written at once,
    /// across every request and protocol, Sift ingest streams counted as they buffer (80 bytes
    /// a point plus its text); a request that finds no room waits up to --decode-wait, then is
    /// refused with 503 (e.g. `64MiB`, `1GiB`). Parsing costs a multiple of this in memory.
    #[arg(long, env = "SEXTANT_DECODE_BUDGET", default_value = "256MiB", value_parser = parse_size)]
    decode_budget: usize,
    /// How long an ingest body or Sift stream waits for room in the decode budget before it is
    /// refused (503, gRPC UNAVAILABLE).
    #[arg(long, env = "SEXTANT_DECODE_WAIT", default_value = "30s", value_parser = parse_duration)]
    decode_wait: std::time::Duration,
    /// The most tags an event of a collection may carry (more is `MAX_TAGS_EXCEEDED`).
    #[arg(long, env = "SEXTANT_COLLECTION_MAX_TAGS", default_value_t = 10)]
    collection_max_tags: usize,
    /// How far in the future an inference's time may be (later is `TIMESTAMP_OUT_OF_BOUNDS`).
    #[arg(long, env = "SEXTANT_COLLECTION_FUTURE_MARGIN", default_value = "24h", value_parser = parse_duration)]
    collection_future_margin: std::time::Duration,
    /// How many events a collection holds in memory before sealing them into a compressed
    /// part on disk (and starting a new log).
    #[arg(long, env = "SEXTANT_COLLECTION_PART_EVENTS", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..=1_047_576))]
    collection_part_events: u64,
    /// The most live subscriptions an organization may have open at once.
    #[arg(long, env = "SEXTANT_SUBSCRIPTION_LIMIT", default_value_t = 256)]
    subscription_limit: usize,
    /// The most bytes of messages a subscription may have waiting for a slow subscriber
    /// before it falls behind (it then reads from the write-ahead log, and is told so).
    #[arg(long, env = "SEXTANT_SUBSCRIPTION_BUFFER", default_value = "8MiB", value_parser = parse_size)]
    subscription_buffer: usize,
    /// The most bytes waiting across an organization's subscriptions.
    #[arg(long, env = "SEXTANT_SUBSCRIPTION_ORG_BUFFER", default_value = "256MiB", value_parser = parse_size)]
    subscription_org_buffer: usize,
    /// How long commits stay replayable for subscriptions resuming after a cursor once the
    /// head has flushed them to parts: the write-ahead log keeps its segments that long after
    /// their last write (its disk use grows by that much raw ingest). `0s`: a flush removes
    /// them, and an older cursor gets a `gap` message.
    #[arg(long, env = "SEXTANT_SUBSCRIPTION_REPLAY", default_value = "0s", value_parser = parse_duration)]
    subscription_replay: std::time::Duration,
    /// How long a subscriber may read nothing while its buffer is full before its stream is
    /// closed (with the cursor to resume from).
    #[arg(long, env = "SEXTANT_SUBSCRIPTION_STALL", default_value = "30s", value_parser = parse_duration)]
    subscription_stall: std::time::Duration,
    /// The largest file that may be attached to a run, annotation or annotation log.
    #[arg(long, env = "SEXTANT_FILE_MAX_BYTES", default_value = "4GiB", value_parser = parse_size)]
    file_max_bytes: usize,
    /// The bytes of attached files one organization may store.
    #[arg(long, env = "SEXTANT_ORG_FILES_MAX_BYTES", default_value = "100GiB", value_parser = parse_size)]
    org_files_max_bytes: usize,
}

impl ServeArgs {
    fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            shutdown_grace: self.shutdown_grace,
            ..ConnectionLimits::default()
        }
    }
}

/// The store's configuration: the defaults, with the memory bound and window of `args`.
fn store_config(args: &ServeArgs) -> DbConfig {
    let mut config = DbConfig::default();
    config.parts.flush_head_bytes = args.head_memory.max(1);
    config.parts.flush_idle = (!args.flush_idle.is_zero()).then_some(args.flush_idle);
    if let Some(window) = args.out_of_order_window {
        config.head.out_of_order_window = window;
    }
    config.feed.replay = args.subscription_replay;
    config
}

/// A size in bytes such as `512MiB`, `1GiB`, `64KiB` or `1000000` (plain bytes).
/// Opens the blob store of attached files and removes what no catalog row names (uploads a
/// crash interrupted, files deleted just before one).
fn open_files(
    dir: &std::path::Path,
    args: &ServeArgs,
    catalog: &dyn Catalog,
) -> anyhow::Result<sextant_server::files::Files> {
    let blobs = sextant_storage::blobs::BlobStore::open(dir)?;
    let files = sextant_server::files::Files::new(
        blobs,
        sextant_server::files::FileLimits {
            max_file_bytes: args.file_max_bytes as u64,
            org_max_bytes: args.org_files_max_bytes as u64,
            ..Default::default()
        },
    )
    .map_err(anyhow::Error::msg)?;
    let interrupted = catalog.fail_interrupted_imports()?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "data imports a stop interrupted are marked failed"
        );
    }
    let (removed, bytes) = files.sweep(catalog).map_err(anyhow::Error::msg)?;
    if removed > 0 {
        tracing::info!(removed, bytes, "removed files no catalog row names");
    }
    Ok(files)
}

fn parse_size(text: &str) -> Result<usize, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("size {text:?} must start with a whole number"))?;
    let scale: usize = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "size {text:?} has unit {other:?}; use B, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Runs the server until SIGINT or SIGTERM.
///
/// The data directory stays locked until this returns, after the last thread that could touch
/// it (a query still running past the shutdown grace included) has been given up on.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let lock = lock_data_dir(&args.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sextant")
        .build()
        .context("cannot start the async runtime")?;
    let grace = args.shutdown_grace;
    let served = runtime.block_on(serve_until_signalled(args));
    // Blocking work still running (a long query whose client is gone) is not waited for
    // beyond the grace; the process ends with the lock held to the last.
    runtime.shutdown_timeout(grace);
    drop(lock);
    served
}

async fn serve_until_signalled(args: ServeArgs) -> anyhow::Result<()> {
    let webhook_allow = sextant_server::webhook::AllowList::parse(&args.webhook_allow)
        .map_err(anyhow::Error::msg)
        .context("--webhook-allow")?;
    let catalog_path = args.data_dir.join("catalog.db");
    let catalog = Arc::new(
        SqliteCatalog::open(&catalog_path)
            .with_context(|| format!("cannot open the catalog {}", catalog_path.display()))?,
    );
    let first_key = bootstrap(catalog.as_ref(), args.bootstrap_token.as_deref())?;
    let opened = std::time::Instant::now();
    let store = Arc::new(
        Db::open(&args.data_dir, store_config(&args))
            .with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?,
    );
    tracing::info!(elapsed = ?opened.elapsed(), "store opened: write-ahead log replayed");

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(load_tls(&TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };

    let signals = shutdown_signals()?;
    println!(
        "Sextant {} listening on {scheme}://{addr} (HTTP/1.1 and gRPC)",
        env!("CARGO_PKG_VERSION")
    );
    println!("data directory: {}", args.data_dir.display());
    match first_key {
        Some(secret) => {
            println!("created the first admin API key (shown only now; keep it safe):");
            println!("    {secret}");
        }
        None => println!(
            "API keys: create more with `sextant token create --data-dir {}`",
            args.data_dir.display()
        ),
    }
    println!("authenticate every request with `authorization: Bearer <API key>`");

    // Catches up first: streams with a checkpoint are evaluated up to the data in storage, and
    // the commit feed is followed from the engine's last committed position.
    let rules = RuleEngine::start(
        catalog.clone(),
        store.clone(),
        EngineConfig {
            lateness: i64::try_from(args.rules_lateness.as_nanos()).unwrap_or(i64::MAX),
            ..EngineConfig::default()
        },
    );
    let webhooks = Webhooks::start(
        args.webhook_url.clone(),
        WebhookConfig {
            allow: webhook_allow.clone(),
            ..WebhookConfig::default()
        },
    );
    rules.listen(webhooks.listener());
    let collections_dir = args.data_dir.join("collections");
    let collections = sextant_collections::Collections::open(
        &collections_dir,
        sextant_collections::Limits {
            max_tags: args.collection_max_tags,
            future_margin: i64::try_from(args.collection_future_margin.as_nanos())
                .unwrap_or(i64::MAX),
            part_events: args.collection_part_events as usize,
        },
    )
    .with_context(|| {
        format!(
            "cannot open the event collections in {}",
            collections_dir.display()
        )
    })?;
    let files_dir = args.data_dir.join("files");
    let files = open_files(&files_dir, &args, catalog.as_ref())
        .with_context(|| format!("cannot open the attached files in {}", files_dir.display()))?;
    let state = AppState::new(catalog, store.clone(), rules.clone())
        .with_collections(Arc::new(collections))
        .with_files(Arc::new(files))
        .with_tls(args.tls_cert.is_some())
        .with_webhook_allow(webhook_allow)
        .with_webhooks(webhooks.clone())
        .with_query_timeout(args.query_timeout)
        .with_decode_budget(args.decode_budget, args.decode_wait)
        .with_query_max_points(args.query_max_points)
        .with_subscription_limits(SubscriptionLimits {
            per_org: args.subscription_limit,
            buffer_bytes: args.subscription_buffer,
            org_buffer_bytes: args.subscription_org_buffer,
            max_stall: args.subscription_stall,
        });
    // Stored SignalFlow detectors resume where their stored evaluation ends.
    let detectors = state.detectors.clone();
    detectors.start_all(&state).await;
    let subscriptions = state.subscriptions.clone();
    let signalled = async move {
        signals.await;
        // Live subscriptions never end by themselves: end them, each with its cursor, so that
        // their connections finish within the grace and the store can close.
        tokio::task::spawn_blocking(move || {
            subscriptions.close_all(std::time::Duration::from_secs(2));
        })
        .await
        .ok();
    };
    serve_with(
        listener,
        sextant_server::app::router_with(state, sextant_console::routes()),
        tls,
        signalled,
        &args.connection_limits(),
    )
    .await
    .context("the server stopped with an error")?;
    detectors.shutdown().await;
    tracing::info!("evaluating the rules' last writes");
    rules.shutdown();
    drop(rules);
    webhooks.shutdown(std::time::Duration::from_secs(5)).await;
    tracing::info!("no requests in flight; closing the store");
    match Arc::try_unwrap(store) {
        Ok(db) => db.close().context("cannot close the store")?,
        Err(_) => tracing::warn!("the store is still referenced; it was not closed cleanly"),
    }
    Ok(())
}

/// Creates the first admin key: the given token, or a random one that is returned to be shown.
fn bootstrap(catalog: &dyn Catalog, token: Option<&str>) -> anyhow::Result<Option<String>> {
    if let Some(token) = token {
        catalog
            .bootstrap(token)
            .context("cannot create the bootstrap API key")?;
        return Ok(None);
    }
    if !catalog.list_organizations()?.is_empty() {
        return Ok(None);
    }
    let org = catalog.create_organization("default")?;
    let (_, secret) = catalog.create_api_key(&org.id, "bootstrap", Scope::Admin.into())?;
    Ok(Some(secret))
}

/// Holds an exclusive lock on `DIR/LOCK` for the server's life, so that two servers never
/// share a data directory.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Sextant server is using the data directory {}",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// SIGINT and SIGTERM, their handlers installed now rather than when the server starts
/// waiting for them: a signal that comes while it is still starting (after it said where it
/// listens) is kept and shuts it down as soon as it serves, instead of killing the process
/// unhandled.
fn shutdown_signals() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let signalled = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        }
    };
    #[cfg(not(unix))]
    let signalled = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Ok(async move {
        signalled.await;
        tracing::info!("shutting down: no new connections; finishing requests in flight");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12MB").unwrap_err().contains("unit \"MB\""));
        assert!(parse_size("MiB").unwrap_err().contains("whole number"));
    }
}
