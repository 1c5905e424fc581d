//! Writing downloaded channels out for people and other tools: CSV, Parquet and a text table.
//!
//! CSV writes a header row and times in UTC as RFC 3339 with all nine fractional digits
//! (`2024-07-05T01:09:08.047512000Z`), so no precision is lost; bytes are hex. Tables show
//! times in UTC too. Arrow timestamps count from the epoch in UTC whatever their time zone
//! says, so rendering them in UTC needs no time-zone database.
//! Parquet keeps the Arrow schema (time zone, unsigned types, metadata) and compresses with
//! Snappy, which every Parquet reader understands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_cast::display::FormatOptions;
use arrow_schema::{ArrowError, DataType, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

/// The CSV format of times: UTC, nanoseconds.
const CSV_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.9fZ";
/// The table format of times: UTC, as many fractional digits as needed.
const TABLE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// Writes `batch` as CSV with a header row to `out`; `what` names `out` in errors.
pub fn write_csv(batch: &RecordBatch, out: impl Write, what: &str) -> Result<()> {
    let batch = in_utc(batch).map_err(|e| export_error(what, e))?;
    let mut writer = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .with_timestamp_format(CSV_TIME_FORMAT.to_owned())
        .build(out);
    writer.write(&batch).map_err(|e| export_error(what, e))?;
    writer
        .into_inner()
        .flush()
        .map_err(|e| export_error(what, e))
}

/// Writes `batch` as CSV to the file `path`, replacing it.
pub fn write_csv_file(batch: &RecordBatch, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let what = path.display().to_string();
    let file = File::create(path).map_err(|e| export_error(&what, e))?;
    write_csv(batch, BufWriter::new(file), &what)
}

/// Writes `batch` as a Parquet file to `out`; `what` names `out` in errors.
pub fn write_parquet(batch: &RecordBatch, out: impl Write + Send, what: &str) -> Result<()> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(out, batch.schema(), Some(properties))
        .map_err(|e| export_error(what, e))?;
    writer.write(batch).map_err(|e| export_error(what, e))?;
    let mut out = writer.into_inner().map_err(|e| export_error(what, e))?;
    out.flush().map_err(|e| export_error(what, e))
}

/// Writes `batch` as a Parquet file at `path`, replacing it.
pub fn write_parquet_file(batch: &RecordBatch, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let what = path.display().to_string();
    let file = File::create(path).map_err(|e| export_error(&what, e))?;
    write_parquet(batch, BufWriter::new(file), &what)
}

/// `batch` as a text table with borders, at most `max_rows` rows of it, followed by a line
/// saying how many rows were left out, if any.
pub fn format_table(batch: &RecordBatch, max_rows: usize) -> Result<String> {
    let shown = batch.slice(0, batch.num_rows().min(max_rows));
    let shown = in_utc(&shown).map_err(|e| export_error("a table", e))?;
    let options = FormatOptions::default()
        .with_null("null")
        .with_timestamp_format(Some(TABLE_TIME_FORMAT));
    let mut text = arrow_cast::pretty::pretty_format_batches_with_options(&[shown], &options)
        .map_err(|e| export_error("a table", e))?
        .to_string();
    text.push('\n');
    let hidden = batch.num_rows().saturating_sub(max_rows);
    if hidden > 0 {
        text.push_str(&format!(
            "… {hidden} more row{} of {} not shown\n",
            if hidden == 1 { "" } else { "s" },
            batch.num_rows()
        ));
    }
    Ok(text)
}

/// `batch` with every time-zone-aware timestamp column relabelled as zone-less: the same
/// instants, which then print in UTC.
fn in_utc(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let column: ArrayRef = match column.data_type() {
            DataType::Timestamp(unit, Some(_)) => match unit {
                TimeUnit::Second => Arc::new(
                    column
                        .as_primitive::<TimestampSecondType>()
                        .clone()
                        .with_timezone_opt(None::<&str>),
                ),
                TimeUnit::Millisecond => Arc::new(
                    column
                        .as_primitive::<TimestampMillisecondType>()
                        .clone()
                        .with_timezone_opt(None::<&str>),
                ),
                TimeUnit::Microsecond => Arc::new(
                    column
                        .as_primitive::<TimestampMicrosecondType>()
                        .clone()
                        .with_timezone_opt(None::<&str>),
                ),
                TimeUnit::Nanosecond => Arc::new(
                    column
                        .as_primitive::<TimestampNanosecondType>()
                        .clone()
                        .with_timezone_opt(None::<&str>),
                ),
            },
            _ => column.clone(),
        };
        fields.push(
            field
                .as_ref()
                .clone()
                .with_data_type(column.data_type().clone()),
        );
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn export_error(what: &str, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Export {
        what: what.to_owned(),
        source: Box::new(source),
    }
}
