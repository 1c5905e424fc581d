//! Writing downloaded channels out for people and other tools: CSV, Parquet and a text table.
//!
//! CSV writes a header row and times in UTC as RFC 3339 with all nine fractional digits
//! (`2024-07-05T01:09:08.047512000Z`), so no precision is lost; bytes are hex. Tables show
//! times in UTC too. [`cells`] writes each value.
//! Parquet keeps the Arrow schema (time zone, unsigned types, metadata) and compresses with
//! Snappy, which every Parquet reader understands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

pub mod cells;

use cells::{CellFormatter, TextError, TextOptions};

/// The CSV format of times: UTC, nanoseconds.
const CSV_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.9fZ";
/// The table format of times: UTC, as many fractional digits as needed.
const TABLE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// Writes `batch` as CSV with a header row to `out`; `what` names `out` in errors. A missing
/// value is an empty field.
pub fn write_csv(batch: &RecordBatch, out: impl Write, what: &str) -> Result<()> {
    let options = TextOptions {
        null: "",
        time_format: CSV_TIME_FORMAT,
    };
    let formatters = formatters(batch, options).map_err(|e| export_error(what, e))?;
    let mut writer = csv::Writer::from_writer(out);
    let schema = batch.schema();
    writer
        .write_record(schema.fields().iter().map(|field| field.name()))
        .map_err(|e| export_error(what, e))?;
    let mut fields = vec![String::new(); formatters.len()];
    for row in 0..batch.num_rows() {
        for (field, formatter) in fields.iter_mut().zip(&formatters) {
            field.clear();
            formatter
                .write(row, field)
                .map_err(|e| export_error(what, e))?;
        }
        writer
            .write_record(&fields)
            .map_err(|e| export_error(what, e))?;
    }
    writer
        .into_inner()
        .map_err(|e| export_error(what, e.into_error()))?
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
/// saying how many rows were left out, if any. A missing value shows as `null`.
pub fn format_table(batch: &RecordBatch, max_rows: usize) -> Result<String> {
    let options = TextOptions {
        null: "null",
        time_format: TABLE_TIME_FORMAT,
    };
    let formatters = formatters(batch, options).map_err(|e| export_error("a table", e))?;
    let mut table = comfy_table::Table::new();
    table.load_style(
        comfy_table::presets::ASCII_FULL_CONDENSED
            .header_separator(comfy_table::LineStyle::new('+', '-', '+', '+')),
    );
    table.set_header(batch.schema().fields().iter().map(|field| field.name()));
    for row in 0..batch.num_rows().min(max_rows) {
        let cells = formatters
            .iter()
            .map(|formatter| {
                let mut cell = String::new();
                formatter.write(row, &mut cell).map(|()| cell)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| export_error("a table", e))?;
        table.add_row(cells);
    }
    let mut text = table.to_string();
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

/// One formatter per column of `batch`.
fn formatters<'a>(
    batch: &'a RecordBatch,
    options: TextOptions<'a>,
) -> Result<Vec<CellFormatter<'a>>, TextError> {
    batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            CellFormatter::new(column.as_ref(), options)
                .map_err(|e| TextError::new(format!("column {:?}: {e}", field.name())))
        })
        .collect()
}

fn export_error(what: &str, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Export {
        what: what.to_owned(),
        source: Box::new(source),
    }
}
