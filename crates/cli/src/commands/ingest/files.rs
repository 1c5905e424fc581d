//! The tables `sextant ingest` reads, row by row as text cells: CSV with a header row, and
//! Parquet, whose columns are turned into the same text (timestamps as integer nanoseconds,
//! binary as `0x` hex) so that both go through one cell parser.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

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

/// A column as text cells.
fn column_text(column: &ArrayRef) -> anyhow::Result<Vec<Option<String>>> {
    let nanos = DataType::Timestamp(TimeUnit::Nanosecond, None);
    let text = match column.data_type() {
        DataType::Timestamp(_, _) => {
            let ns = arrow_cast::cast(column, &nanos)?;
            let ns = ns.as_primitive::<TimestampNanosecondType>();
            (0..ns.len())
                .map(|i| ns.is_valid(i).then(|| ns.value(i).to_string()))
                .collect()
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            let binary = arrow_cast::cast(column, &DataType::LargeBinary)?;
            let binary = binary.as_binary::<i64>();
            (0..binary.len())
                .map(|i| {
                    binary.is_valid(i).then(|| {
                        let hex: String =
                            binary.value(i).iter().map(|b| format!("{b:02x}")).collect();
                        format!("0x{hex}")
                    })
                })
                .collect()
        }
        _ => {
            let strings: Arc<dyn Array> = arrow_cast::cast(column, &DataType::Utf8)?;
            let strings = strings.as_string::<i32>();
            (0..strings.len())
                .map(|i| strings.is_valid(i).then(|| strings.value(i).to_owned()))
                .collect()
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
