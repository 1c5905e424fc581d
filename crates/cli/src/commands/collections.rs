//! `sextant collections`: create event collections from schema files, send events to them
//! from JSON lines, CSV or Parquet, and read them back joined with their labels, or as
//! statistics per time window (`docs/collections.md`).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value as Json};
use sextant_client::collections::refusals;
use sextant_client::export::cells::{CellFormatter, TextOptions, format_nanos};
use sextant_client::export::{format_table, write_csv, write_csv_file, write_parquet_file};
use sextant_client::native::NativeClient;
use sextant_client::native::api::collections::{
    CollectionSchema, ColumnType, EventsQuery, StatsQuery,
};
use sextant_client::native::collections::rows_to_arrow;
use sextant_client::parse_time;

use super::ingest::files;

/// `sextant collections ...`.
#[derive(Debug, Subcommand)]
pub enum CollectionsCommand {
    /// Create a collection with a schema file (YAML: id, timestamp and tags columns, typed
    /// input, prediction, label and extra columns).
    Create {
        /// The collection's name (letters, digits, `_`, `-`, `.`); TruEra requests name it as
        /// their `model_id`.
        name: String,
        /// The schema file.
        #[arg(long, value_name = "FILE.yml")]
        schema: PathBuf,
        #[command(flatten)]
        server: Server,
    },
    /// Add the new columns of a schema file to a collection (columns cannot change type, move
    /// or go away).
    Update {
        /// The collection.
        name: String,
        /// The schema file, with every column the collection has and the new ones.
        #[arg(long, value_name = "FILE.yml")]
        schema: PathBuf,
        #[command(flatten)]
        server: Server,
    },
    /// Delete a collection and its events (the series of its outputs stay).
    Delete {
        /// The collection.
        name: String,
        /// Confirms the deletion, which cannot be undone.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        server: Server,
    },
    /// List the collections with their counts.
    List {
        #[command(flatten)]
        server: Server,
    },
    /// Send events from a file: `.jsonl` (one event's data per line, or `{"data": {...}}`),
    /// `.csv` with a header row, or `.parquet`. In CSV and Parquet, tags are one cell
    /// separated by `;` and values are typed by the collection's schema.
    Ingest(IngestArgs),
    /// Read inferences joined with their labels, oldest first.
    Query(QueryArgs),
    /// Count, means, label share, accuracy and mean absolute error per time window.
    Stats(StatsArgs),
}

/// Where the server is.
#[derive(Debug, Args)]
pub struct Server {
    /// The server's address.
    #[arg(long, env = "SEXTANT_URL", default_value = "http://127.0.0.1:7777")]
    url: String,
    /// An API key (ingest or admin to create and send; read or admin to read).
    #[arg(long, env = "SEXTANT_TOKEN", hide_env_values = true)]
    token: String,
}

impl Server {
    fn client(&self) -> anyhow::Result<NativeClient> {
        Ok(NativeClient::new(&self.url, &self.token)?)
    }
}

/// Arguments of `sextant collections ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The collection.
    name: String,
    /// The events.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The project the events are sent for (TruEra's `project_id`).
    #[arg(long, default_value = "")]
    project: String,
    /// Events per request (at most 1000).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch_size: u16,
    /// The most refused events the summary lists one by one (all are counted).
    #[arg(long, default_value_t = 20)]
    show_refused: usize,
    #[command(flatten)]
    server: Server,
}

/// Arguments of `sextant collections query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The collection.
    name: String,
    /// The first instant included: RFC 3339 or integer nanoseconds since the epoch.
    #[arg(long)]
    start: Option<String>,
    /// The first instant excluded.
    #[arg(long)]
    end: Option<String>,
    /// Only inferences with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// The most rows.
    #[arg(long)]
    limit: Option<usize>,
    /// How to write them.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The file to write; standard output when absent (not for parquet).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The most rows a table shows.
    #[arg(long, default_value_t = 50)]
    max_rows: usize,
    #[command(flatten)]
    server: Server,
}

/// Arguments of `sextant collections stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The collection.
    name: String,
    /// The width of a window: `30s`, `5m`, `1h`, `1d`.
    #[arg(long, default_value = "1h")]
    every: String,
    /// The first instant included.
    #[arg(long)]
    start: Option<String>,
    /// The first instant excluded.
    #[arg(long)]
    end: Option<String>,
    /// How to write them (parquet needs --out).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The file to write.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The most windows a table shows.
    #[arg(long, default_value_t = 50)]
    max_rows: usize,
    #[command(flatten)]
    server: Server,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A bordered text table.
    Table,
    /// CSV with a header row (tags as one cell, `[a, b]`).
    Csv,
    /// One JSON object per row.
    Json,
    /// A Parquet file (needs --out).
    Parquet,
}

/// Runs `sextant collections ...`.
pub fn run(command: CollectionsCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match command {
        CollectionsCommand::Create {
            name,
            schema,
            server,
        } => {
            let spec = read_schema(&schema)?;
            let created = runtime.block_on(server.client()?.create_collection(&name, &spec))?;
            println!(
                "created collection {} ({} columns)",
                created.name,
                columns(&created.schema)
            );
        }
        CollectionsCommand::Update {
            name,
            schema,
            server,
        } => {
            let spec = read_schema(&schema)?;
            let client = server.client()?;
            let before = runtime.block_on(client.collection(&name))?;
            let after = runtime.block_on(client.update_collection(&name, &spec))?;
            let added = columns(&after.schema) - columns(&before.schema);
            println!(
                "collection {}: {}",
                after.name,
                match added {
                    0 => "unchanged".to_owned(),
                    n => format!("{} added", sextant_model::count(n, "column", "columns")),
                }
            );
        }
        CollectionsCommand::Delete { name, yes, server } => {
            if !yes {
                bail!(
                    "deleting collection {name} removes its events for good; add --yes to confirm"
                );
            }
            runtime.block_on(server.client()?.delete_collection(&name))?;
            println!("deleted collection {name}");
        }
        CollectionsCommand::List { server } => {
            for c in runtime.block_on(server.client()?.list_collections())? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.name,
                    sextant_model::count(columns(&c.schema), "column", "columns"),
                    sextant_model::count(c.inferences as usize, "inference", "inferences"),
                    sextant_model::count(c.labels as usize, "label", "labels"),
                );
            }
        }
        CollectionsCommand::Ingest(args) => return runtime.block_on(ingest(&args)),
        CollectionsCommand::Query(args) => {
            if args.format == Format::Parquet && args.out.is_none() {
                bail!("--format parquet writes a binary file: give it one with --out FILE");
            }
            let query = EventsQuery {
                start: time(&args.start, "start")?,
                end: time(&args.end, "end")?,
                tag: args.tag.clone(),
                limit: args.limit,
            };
            let rows =
                runtime.block_on(args.server.client()?.collection_events(&args.name, &query))?;
            if args.format == Format::Json {
                let mut out = output(&args.out)?;
                for row in &rows.rows {
                    let object: Map<String, Json> = rows
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| (c.name.clone(), serde_json::to_value(v).unwrap_or_default()))
                        .collect();
                    writeln!(out, "{}", Json::Object(object))?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            write(
                &rows_to_arrow(&rows)?,
                args.format,
                &args.out,
                args.max_rows,
            )?;
        }
        CollectionsCommand::Stats(args) => {
            let query = StatsQuery {
                every: parse_every(&args.every)?,
                start: time(&args.start, "start")?,
                end: time(&args.end, "end")?,
            };
            let stats =
                runtime.block_on(args.server.client()?.collection_stats(&args.name, &query))?;
            if args.format == Format::Json {
                let mut out = output(&args.out)?;
                serde_json::to_writer_pretty(&mut out, &stats)?;
                writeln!(out)?;
                return Ok(ExitCode::SUCCESS);
            }
            for (label, prediction) in &stats.compared {
                eprintln!("label `{label}` is compared with prediction `{prediction}`");
            }
            write(&stats_table(&stats)?, args.format, &args.out, args.max_rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_schema(path: &Path) -> anyhow::Result<CollectionSchema> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    sextant_collections::Schema::from_yaml(&text, &path.display().to_string())
        .map_err(|problems| anyhow::anyhow!("{problems}"))
}

fn columns(schema: &CollectionSchema) -> usize {
    schema.input_columns.len()
        + schema.prediction_columns.len()
        + schema.label_columns.len()
        + schema.extra_columns.len()
}

fn time(text: &Option<String>, flag: &str) -> anyhow::Result<Option<i64>> {
    text.as_deref()
        .map(|t| parse_time(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
        .transpose()
}

/// A window width: a whole number and `s`, `m`, `h` or `d` (or `ms`).
fn parse_every(text: &str) -> anyhow::Result<i64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| {
        anyhow::anyhow!("--every {text:?} must start with a whole number (1h, 30m)")
    })?;
    let scale: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        other => bail!("--every {text:?} has unit {other:?}; use ms, s, m, h or d"),
    };
    match number.checked_mul(scale) {
        Some(every) if every > 0 => Ok(every),
        _ => bail!("--every {text:?} must be longer than zero and shorter than 292 years"),
    }
}

fn output(out: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match out {
        None => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
    })
}

fn write(
    batch: &RecordBatch,
    format: Format,
    out: &Option<PathBuf>,
    max_rows: usize,
) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let text = format_table(&lists_as_text(batch)?, max_rows)?;
            output(out)?.write_all(text.as_bytes())?;
        }
        Format::Csv => match out {
            None => write_csv(
                &lists_as_text(batch)?,
                std::io::stdout().lock(),
                "standard output",
            )?,
            Some(path) => write_csv_file(&lists_as_text(batch)?, path)?,
        },
        Format::Parquet => {
            let Some(path) = out else {
                bail!("--format parquet writes a binary file: give it one with --out FILE");
            };
            write_parquet_file(batch, path)?;
        }
        Format::Json => unreachable!("JSON is written from the rows"),
    }
    if let Some(path) = out {
        eprintln!(
            "wrote {} to {}",
            sextant_model::count(batch.num_rows(), "row", "rows"),
            path.display()
        );
    }
    Ok(())
}

/// `batch` with list columns (tags) printed as text, `[a, b]`, for CSV and tables.
fn lists_as_text(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if matches!(field.data_type(), DataType::List(_)) {
            let formatter = CellFormatter::new(column.as_ref(), TextOptions::default())?;
            let text: StringArray = (0..column.len())
                .map(|i| formatter.value(i))
                .collect::<Result<_, _>>()?;
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(text));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The windows as a table: start, count, labelled share, then each mean, accuracy and mean
/// absolute error.
fn stats_table(
    stats: &sextant_client::native::api::collections::Stats,
) -> anyhow::Result<RecordBatch> {
    let start: arrow_array::TimestampNanosecondArray = stats
        .windows
        .iter()
        .map(|w| Some(w.start))
        .collect::<arrow_array::TimestampNanosecondArray>()
        .with_timezone("UTC");
    let count: UInt64Array = stats.windows.iter().map(|w| Some(w.count)).collect();
    let labeled: Float64Array = stats
        .windows
        .iter()
        .map(|w| Some(w.labeled_share))
        .collect();
    let mut fields = vec![
        Field::new("window", start.data_type().clone(), false),
        Field::new("count", DataType::UInt64, false),
        Field::new("labeled", DataType::Float64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(start), Arc::new(count), Arc::new(labeled)];
    let mut add = |prefix: &str,
                   pick: &dyn Fn(
        &sextant_client::native::api::collections::StatsWindow,
    ) -> &BTreeMap<String, f64>| {
        let mut names: Vec<&String> = stats.windows.iter().flat_map(|w| pick(w).keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let values: Float64Array = stats
                .windows
                .iter()
                .map(|w| pick(w).get(name).copied())
                .collect();
            fields.push(Field::new(
                format!("{prefix}{name}"),
                DataType::Float64,
                true,
            ));
            columns.push(Arc::new(values));
        }
    };
    add("mean ", &|w| &w.means);
    add("accuracy ", &|w| &w.accuracy);
    add("mae ", &|w| &w.mean_absolute_error);
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Sends the events of `args.file` in requests of `args.batch_size`, and prints what was
/// refused by line.
async fn ingest(args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let client = args.server.client()?;
    let collection = client.collection(&args.name).await?;
    let extension = args
        .file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let mut source: Box<dyn EventSource> = match extension.as_deref() {
        Some("jsonl" | "ndjson" | "json") => Box::new(JsonLines::open(&args.file)?),
        _ => Box::new(Table {
            rows: files::open(&args.file)?,
            schema: collection.schema.clone(),
        }),
    };
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(source.total());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {percent:>3}% {msg} ({elapsed}, {eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let (mut sent, mut refused) = (0usize, Vec::<(String, String)>::new());
    let mut unreadable = 0usize;
    loop {
        let mut events = Vec::new();
        let mut places = Vec::new();
        while events.len() < usize::from(args.batch_size) {
            match source.next_event()? {
                None => break,
                Some((place, Ok(event))) => {
                    places.push(place);
                    events.push(event);
                }
                Some((place, Err(why))) => {
                    unreadable += 1;
                    refused.push((place, why));
                }
            }
        }
        if events.is_empty() {
            break;
        }
        let response = client
            .ingest_events(&args.name, &args.project, &events)
            .await?;
        sent += events.len();
        let place = |index: usize| places.get(index).cloned().unwrap_or_default();
        for (index, why) in refusals(&response, place) {
            refused.push((place(index), why));
        }
        progress.set_position(source.position());
        progress.set_message(format!("{sent} events"));
    }
    progress.finish_and_clear();
    // An event refused for two reasons is listed under each; count it once.
    let mut places: Vec<&str> = refused.iter().map(|(p, _)| p.as_str()).collect();
    places.sort_unstable();
    places.dedup();
    let refused_events = places.len();
    println!(
        "{} sent to {}, {} stored, {} refused",
        sextant_model::count(sent + unreadable, "event", "events"),
        args.name,
        sent + unreadable - refused_events,
        refused_events
    );
    refused.sort_by_key(|a| natural(&a.0));
    for (place, why) in refused.iter().take(args.show_refused) {
        println!("  {place}: {why}");
    }
    if refused.len() > args.show_refused {
        println!("  … and {} more", refused.len() - args.show_refused);
    }
    Ok(if refused_events > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `line 12` sorts before `line 100`.
fn natural(place: &str) -> (String, u64) {
    let (word, number) = place.rsplit_once(' ').unwrap_or((place, ""));
    (word.to_owned(), number.parse().unwrap_or(0))
}

/// Events read one by one, each with its place in the file.
trait EventSource {
    fn next_event(&mut self) -> anyhow::Result<Option<(String, Result<Json, String>)>>;
    fn position(&self) -> u64;
    fn total(&self) -> u64;
}

struct JsonLines {
    reader: std::io::BufReader<std::fs::File>,
    line: usize,
    read: u64,
    size: u64,
}

impl JsonLines {
    fn open(path: &Path) -> anyhow::Result<JsonLines> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonLines {
            reader: std::io::BufReader::new(file),
            line: 0,
            read: 0,
            size,
        })
    }
}

impl EventSource for JsonLines {
    fn next_event(&mut self) -> anyhow::Result<Option<(String, Result<Json, String>)>> {
        loop {
            let mut text = String::new();
            let n = self.reader.read_line(&mut text)?;
            if n == 0 {
                return Ok(None);
            }
            self.read += n as u64;
            self.line += 1;
            if text.trim().is_empty() {
                continue;
            }
            let place = format!("line {}", self.line);
            let event = match serde_json::from_str::<Json>(&text) {
                Ok(Json::Object(mut object)) => {
                    // `{"data": {...}}` as in a request, or the data itself.
                    if object.len() == 1 && object.get("data").is_some_and(Json::is_object) {
                        Ok(object.remove("data").unwrap_or_default())
                    } else {
                        Ok(Json::Object(object))
                    }
                }
                Ok(other) => Err(format!(
                    "expected an object of column values, found {other}"
                )),
                Err(e) => Err(format!("not JSON: {e}")),
            };
            return Ok(Some((place, event)));
        }
    }

    fn position(&self) -> u64 {
        self.read
    }

    fn total(&self) -> u64 {
        self.size
    }
}

/// CSV or Parquet rows, typed by the collection's schema.
struct Table {
    rows: Box<dyn files::RowSource>,
    schema: CollectionSchema,
}

impl Table {
    fn column_type(&self, name: &str) -> Option<ColumnType> {
        let s = &self.schema;
        s.input_columns
            .iter()
            .chain(&s.prediction_columns)
            .chain(&s.label_columns)
            .chain(&s.extra_columns)
            .find(|c| c.name == name)
            .map(|c| c.column_type)
    }
}

impl EventSource for Table {
    fn next_event(&mut self) -> anyhow::Result<Option<(String, Result<Json, String>)>> {
        let Some(row) = self.rows.next_row()? else {
            return Ok(None);
        };
        let cells = match row.cells {
            Ok(cells) => cells,
            Err(why) => return Ok(Some((row.location, Err(why)))),
        };
        let header = self.rows.header().to_vec();
        let mut object = Map::new();
        for (name, cell) in header.iter().zip(cells) {
            let Some(text) = cell.filter(|t| !t.is_empty()) else {
                continue;
            };
            let value = if Some(name) == self.schema.tags_column.as_ref() {
                Json::Array(
                    text.split(';')
                        .map(|t| Json::String(t.to_owned()))
                        .collect(),
                )
            } else if *name == self.schema.timestamp_column {
                // Parquet times arrive as integer nanoseconds.
                match text.parse::<i64>() {
                    Ok(ns) => Json::String(rfc3339(ns)),
                    Err(_) => Json::String(text),
                }
            } else {
                // A cell that does not parse as its type is sent as text, and the server
                // names it (TYPE_MISMATCH with the value).
                match self.column_type(name) {
                    Some(ColumnType::Float) => text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Json::Number)
                        .unwrap_or(Json::String(text)),
                    Some(ColumnType::Int) => text
                        .parse::<i64>()
                        .map(Json::from)
                        .unwrap_or(Json::String(text)),
                    Some(ColumnType::Bool) => match text.to_ascii_lowercase().as_str() {
                        "true" | "1" => Json::Bool(true),
                        "false" | "0" => Json::Bool(false),
                        _ => Json::String(text),
                    },
                    _ => Json::String(text),
                }
            };
            object.insert(name.clone(), value);
        }
        Ok(Some((row.location, Ok(Json::Object(object)))))
    }

    fn position(&self) -> u64 {
        self.rows.position()
    }

    fn total(&self) -> u64 {
        self.rows.total()
    }
}

/// Nanoseconds since the epoch as RFC 3339 in UTC with nine fractional digits.
fn rfc3339(ns: i64) -> String {
    format_nanos(ns, "%Y-%m-%dT%H:%M:%S%.9fZ")
}
