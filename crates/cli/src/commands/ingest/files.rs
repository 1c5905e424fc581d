//! The tables `sextant ingest` reads, row by row as text cells: CSV with a header row, and
//! Parquet, whose columns are turned into the same text (timestamps as integer nanoseconds,
//! binary as `0x` hex) so that both go through one cell parser.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use sextant_client::export::cells::{CellFormatter, TextOptions};

/// One row: where it is in the file, and its cells (`None` for null), or why it is unreadable.
#[derive(Debug)]
pub struct RawRow {
    /// `line N` (CSV) or `row N` (Parquet), 1-based.
    pub location: String,
    /// The cells, or why the row cannot be read at all.
    pub cells: Result<Vec<Option<String>>, String>,
}

/// A table read row by row.
pub trait RowSource {
    /// The column names.
    fn header(&self) -> &[String];
    /// The next row, or `None` at the end.
    fn next_row(&mut self) -> anyhow::Result<Option<RawRow>>;
    /// How far reading is, in units of [`RowSource::total`].
    fn position(&self) -> u64;
    /// The size of the whole (bytes for CSV, rows for Parquet).
    fn total(&self) -> u64;
}

/// Opens `path` by its extension: `.csv` or `.parquet`.
pub fn open(path: &Path) -> anyhow::Result<Box<dyn RowSource>> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => Ok(Box::new(CsvRows::open(path)?)),
        Some("parquet" | "parq") => Ok(Box::new(ParquetRows::open(path)?)),
        _ => bail!(
            "{}: unknown file type; give a .csv or .parquet file",
            path.display()
        ),
    }
}

/// A CSV file with a header row.
struct CsvRows {
    reader: csv::Reader<File>,
    header: Vec<String>,
    record: csv::ByteRecord,
    size: u64,
}

impl CsvRows {
    fn open(path: &Path) -> anyhow::Result<CsvRows> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(file);
        let header = reader
            .headers()
            .with_context(|| format!("{}: cannot read the header row", path.display()))?
            .iter()
            .map(str::to_owned)
            .collect();
        Ok(CsvRows {
            reader,
            header,
            record: csv::ByteRecord::new(),
            size,
        })
    }
}

impl RowSource for CsvRows {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn next_row(&mut self) -> anyhow::Result<Option<RawRow>> {
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .context("cannot read the CSV file")?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |p| p.line());
        let cells = self
            .record
            .iter()
            .enumerate()
            .map(|(i, field)| {
                std::str::from_utf8(field)
                    .map(|text| Some(text.to_owned()))
                    .map_err(|_| {
                        let column = self.header.get(i).map_or("?", String::as_str);
                        format!("column {column:?}: the cell is not UTF-8")
                    })
            })
            .collect();
        Ok(Some(RawRow {
            location: format!("line {line}"),
            cells,
        }))
    }

    fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    fn total(&self) -> u64 {
        self.size
    }
}

/// A Parquet file, read a batch at a time.
struct ParquetRows {
    reader: ParquetRecordBatchReader,
    header: Vec<String>,
    /// The current batch as text, column by column.
    columns: Vec<Vec<Option<String>>>,
    next_in_batch: usize,
    rows_before_batch: u64,
    total: u64,
}

impl ParquetRows {
    fn open(path: &Path) -> anyhow::Result<ParquetRows> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
        let header = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let reader = builder
            .with_batch_size(8192)
            .build()
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(ParquetRows {
            reader,
            header,
            columns: Vec::new(),
            next_in_batch: 0,
            rows_before_batch: 0,
            total,
        })
    }

    fn load(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        self.rows_before_batch += self.columns.first().map_or(0, |c| c.len() as u64);
        self.columns = batch
            .columns()
            .iter()
            .zip(&self.header)
            .map(|(column, name)| column_text(column).with_context(|| format!("column {name:?}")))
            .collect::<anyhow::Result<_>>()?;
        self.next_in_batch = 0;
        Ok(())
    }
}

/// A column as text cells: times as integer nanoseconds, bytes as `0x` hex, the rest as
/// their text form.
fn column_text(column: &ArrayRef) -> anyhow::Result<Vec<Option<String>>> {
    let text = match column.data_type() {
        DataType::Timestamp(unit, _) => {
            let (values, per_ns): (&[i64], i64) = match unit {
                TimeUnit::Second => (
                    column.as_primitive::<TimestampSecondType>().values(),
                    1_000_000_000,
                ),
                TimeUnit::Millisecond => (
                    column.as_primitive::<TimestampMillisecondType>().values(),
                    1_000_000,
                ),
                TimeUnit::Microsecond => (
                    column.as_primitive::<TimestampMicrosecondType>().values(),
                    1_000,
                ),
                TimeUnit::Nanosecond => {
                    (column.as_primitive::<TimestampNanosecondType>().values(), 1)
                }
            };
            (0..column.len())
                .map(|i| {
                    if column.is_null(i) {
                        return Ok(None);
                    }
                    let value = values[i];
                    value
                        .checked_mul(per_ns)
                        .map(|ns| Some(ns.to_string()))
                        .with_context(|| {
                            format!(
                                "row {} of the batch: timestamp {value} ({unit:?}) is outside \
                                 the years 1677 to 2262 that nanoseconds since 1970 can count",
                                i + 1
                            )
                        })
                })
                .collect::<anyhow::Result<_>>()?
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            let formatter = CellFormatter::new(column.as_ref(), TextOptions::default())?;
            (0..column.len())
                .map(|i| Ok(formatter.value(i)?.map(|hex| format!("0x{hex}"))))
                .collect::<anyhow::Result<_>>()?
        }
        _ => {
            let formatter = CellFormatter::new(column.as_ref(), TextOptions::default())?;
            (0..column.len())
                .map(|i| formatter.value(i))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(text)
}

impl RowSource for ParquetRows {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn next_row(&mut self) -> anyhow::Result<Option<RawRow>> {
        while self
            .columns
            .first()
            .is_none_or(|c| self.next_in_batch >= c.len())
        {
            match self.reader.next() {
                None => return Ok(None),
                Some(batch) => {
                    let batch = batch.context("cannot read the Parquet file")?;
                    self.load(&batch)?;
                }
            }
        }
        let i = self.next_in_batch;
        self.next_in_batch += 1;
        let cells = self.columns.iter_mut().map(|c| c[i].take()).collect();
        Ok(Some(RawRow {
            location: format!("row {}", self.rows_before_batch + i as u64 + 1),
            cells: Ok(cells),
        }))
    }

    fn position(&self) -> u64 {
        self.rows_before_batch + self.next_in_batch as u64
    }

    fn total(&self) -> u64 {
        self.total
    }
}
