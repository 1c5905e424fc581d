//! Flat Parquet files as Sift imports them: one time column and data columns by path (the
//! column's name), each a channel. The file is read in batches of [`CHUNK_ROWS`] rows of only
//! those columns. A null is no point; a value that does not fit its channel's type, or a column
//! of a type that cannot hold it, refuses the file, naming the column, the row and the value.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType as ArrowType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use sextant_model::{DataType, Point, Timestamp, Value};

use crate::config::{ParquetConfig, TimeFormat};
use crate::{CHUNK_ROWS, Channel, Chunk, ImportError};

/// The channels a Parquet config declares, in config order, with their column paths.
pub fn channels(config: &ParquetConfig) -> Result<Vec<(String, Channel)>, ImportError> {
    let flat = flat(config)?;
    let columns: Vec<(String, Channel)> = flat
        .data_columns
        .iter()
        // A detected config lists every column, the one the client then names the time
        // column included: that one is the points' times, not a channel.
        .filter(|c| c.path != flat.time_column.path)
        .map(|c| Ok((c.path.clone(), Channel::from_config(&c.channel_config)?)))
        .collect::<Result<_, ImportError>>()?;
    if columns.is_empty() {
        return Err(ImportError::Config(
            "flat_dataset.data_columns names no column but the time column".to_owned(),
        ));
    }
    Ok(columns)
}

fn flat(config: &ParquetConfig) -> Result<&crate::config::FlatDataset, ImportError> {
    config.flat_dataset.as_ref().ok_or_else(|| {
        ImportError::Config(
            "parquet_config has no flat_dataset: Sextant imports flat Parquet files (a time \
             column and data columns by name)"
                .to_owned(),
        )
    })
}

fn parquet_error(e: impl std::fmt::Display) -> ImportError {
    ImportError::Data(format!("not a readable Parquet file: {e}"))
}

/// Reads a flat Parquet file, handing `sink` the points of each batch of rows, one list per
/// channel of [`channels`]. Returns the rows read.
///
/// The `parquet` crate (60.1) asserts on some malformed files instead of returning an error (a
/// column chunk with a negative start or length; definition levels running past their buffer,
/// in arrow-buffer under its record reader; both found by the `parquet_import` fuzz target);
/// such a panic is caught here and reported as a file that cannot be read, so that a bad upload
/// is an error for its client and nothing else.
pub fn read<R: ChunkReader + 'static>(
    file: R,
    config: &ParquetConfig,
    sink: impl FnMut(Chunk) -> Result<(), ImportError>,
) -> Result<u64, ImportError> {
    guarded(|| read_unguarded(file, config, sink))
}

/// What [`detect`] finds in a file's footer: a flat dataset config to complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The first column of a timestamp type, if any: the likely time column.
    pub time_column: Option<String>,
    /// The top-level columns a channel can hold, in the file's order, each with the channel
    /// type that holds its values exactly.
    pub columns: Vec<(String, DataType)>,
    /// The columns left out, with their Parquet type as Arrow names it: timestamps (time
    /// columns) and nested or other types no channel holds.
    pub skipped: Vec<(String, String)>,
}

/// Detects a flat dataset config from a Parquet file's footer (the metadata that precedes its
/// last eight bytes), as Sift's config detection does for `ParquetUploadService`'s
/// `flat_dataset_upload`: every top-level column of a type a channel holds becomes a data
/// column named after it.
pub fn detect(footer: &[u8]) -> Result<Detected, ImportError> {
    guarded(|| {
        let metadata = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(footer)
            .map_err(|e| ImportError::Data(format!("not a Parquet footer: {e}")))?;
        let file = metadata.file_metadata();
        let schema =
            parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
                .map_err(|e| ImportError::Data(format!("not a Parquet footer: {e}")))?;
        let mut detected = Detected {
            time_column: None,
            columns: Vec::new(),
            skipped: Vec::new(),
        };
        for field in schema.fields() {
            let name = field.name().clone();
            let channel = match field.data_type() {
                ArrowType::Float64 => Some(DataType::Double),
                ArrowType::Float32 => Some(DataType::Float),
                ArrowType::Int8 | ArrowType::Int16 | ArrowType::Int32 => Some(DataType::Int32),
                ArrowType::Int64 => Some(DataType::Int64),
                ArrowType::UInt8 | ArrowType::UInt16 | ArrowType::UInt32 => Some(DataType::Uint32),
                ArrowType::UInt64 => Some(DataType::Uint64),
                ArrowType::Boolean => Some(DataType::Bool),
                ArrowType::Utf8 | ArrowType::LargeUtf8 => Some(DataType::String),
                ArrowType::Binary | ArrowType::LargeBinary => Some(DataType::Bytes),
                _ => None,
            };
            match channel {
                Some(data_type) => detected.columns.push((name, data_type)),
                None => {
                    if matches!(field.data_type(), ArrowType::Timestamp(..))
                        && detected.time_column.is_none()
                    {
                        detected.time_column = Some(name.clone());
                    }
                    detected.skipped.push((name, field.data_type().to_string()));
                }
            }
        }
        Ok(detected)
    })
}

/// Runs `f`, turning a panic of the `parquet` crate into an error naming the file unreadable.
fn guarded<T>(f: impl FnOnce() -> Result<T, ImportError>) -> Result<T, ImportError> {
    let guarded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    guarded.unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no detail".to_owned());
        Err(ImportError::Data(format!(
            "not a readable Parquet file: the Parquet reader failed on it ({detail})"
        )))
    })
}

fn read_unguarded<R: ChunkReader + 'static>(
    file: R,
    config: &ParquetConfig,
    mut sink: impl FnMut(Chunk) -> Result<(), ImportError>,
) -> Result<u64, ImportError> {
    let columns = channels(config)?;
    let flat = flat(config)?;
    let time = TimeFormat::parse(
        &flat.time_column.format,
        flat.time_column.relative_start_time.as_deref(),
    )?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    let schema = builder.schema().clone();
    let index_of = |path: &str| {
        schema.index_of(path).map_err(|_| {
            ImportError::Config(format!(
                "the file has no column {path:?}; its columns are {}",
                schema
                    .fields()
                    .iter()
                    .map(|f| format!("{:?}", f.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    let time_index = index_of(&flat.time_column.path)?;
    let data_indexes: Vec<usize> = columns
        .iter()
        .map(|(path, _)| index_of(path))
        .collect::<Result<_, _>>()?;
    let mut roots: Vec<usize> = data_indexes.clone();
    roots.push(time_index);
    roots.sort_unstable();
    roots.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(CHUNK_ROWS)
        .build()
        .map_err(parquet_error)?;
    // Columns of the projected batches, in the order of the file's schema.
    let position = |index: usize| roots.binary_search(&index).unwrap_or(0);
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(parquet_error)?;
        let times = timestamps(
            batch.column(position(time_index)),
            time,
            &flat.time_column.path,
            rows,
        )?;
        let mut chunk: Chunk = Vec::with_capacity(columns.len());
        for ((path, channel), index) in columns.iter().zip(&data_indexes) {
            let array = batch.column(position(*index));
            let mut points = Vec::with_capacity(array.len());
            for (row, timestamp) in times.iter().enumerate() {
                let value = cell(array, row, channel).map_err(|message| {
                    ImportError::Data(format!(
                        "column {path:?} ({}), row {}: {message}",
                        channel.name,
                        rows + row as u64 + 1
                    ))
                })?;
                if let Some(value) = value {
                    points.push(Point {
                        timestamp: *timestamp,
                        value,
                    });
                }
            }
            chunk.push(points);
        }
        rows += batch.num_rows() as u64;
        sink(chunk)?;
    }
    Ok(rows)
}

fn timestamps(
    array: &ArrayRef,
    format: TimeFormat,
    path: &str,
    first_row: u64,
) -> Result<Vec<Timestamp>, ImportError> {
    let bad = |row: usize, what: String| {
        ImportError::Data(format!(
            "time column {path:?}, row {}: {what}",
            first_row + row as u64 + 1
        ))
    };
    let mut out = Vec::with_capacity(array.len());
    for row in 0..array.len() {
        if array.is_null(row) {
            return Err(bad(row, "the time is empty".to_owned()));
        }
        let t = match array.data_type() {
            ArrowType::Timestamp(unit, _) => {
                let (v, scale) = match unit {
                    TimeUnit::Second => (
                        array.as_primitive::<TimestampSecondType>().value(row),
                        1_000_000_000,
                    ),
                    TimeUnit::Millisecond => (
                        array.as_primitive::<TimestampMillisecondType>().value(row),
                        1_000_000,
                    ),
                    TimeUnit::Microsecond => (
                        array.as_primitive::<TimestampMicrosecondType>().value(row),
                        1_000,
                    ),
                    TimeUnit::Nanosecond => (
                        array.as_primitive::<TimestampNanosecondType>().value(row),
                        1,
                    ),
                };
                v.checked_mul(scale)
            }
            ArrowType::Int64 => format.read_int(array.as_primitive::<Int64Type>().value(row)),
            ArrowType::Int32 => {
                format.read_int(i64::from(array.as_primitive::<Int32Type>().value(row)))
            }
            ArrowType::UInt32 => {
                format.read_int(i64::from(array.as_primitive::<UInt32Type>().value(row)))
            }
            ArrowType::UInt64 => i64::try_from(array.as_primitive::<UInt64Type>().value(row))
                .ok()
                .and_then(|v| format.read_int(v)),
            ArrowType::Float64 => format.read_float(array.as_primitive::<Float64Type>().value(row)),
            ArrowType::Float32 => {
                format.read_float(f64::from(array.as_primitive::<Float32Type>().value(row)))
            }
            ArrowType::Utf8 => format.read_text(array.as_string::<i32>().value(row)),
            ArrowType::LargeUtf8 => format.read_text(array.as_string::<i64>().value(row)),
            other => {
                return Err(bad(
                    row,
                    format!("a column of Parquet type {other} cannot hold times"),
                ));
            }
        };
        out.push(t.ok_or_else(|| {
            bad(
                row,
                "the value does not read as a time in the config's format, or is out of range"
                    .to_owned(),
            )
        })?);
    }
    Ok(out)
}

/// An integer cell as i128, for the integer arrays.
fn integer(array: &ArrayRef, row: usize) -> Option<i128> {
    Some(match array.data_type() {
        ArrowType::Int8 => i128::from(array.as_primitive::<Int8Type>().value(row)),
        ArrowType::Int16 => i128::from(array.as_primitive::<Int16Type>().value(row)),
        ArrowType::Int32 => i128::from(array.as_primitive::<Int32Type>().value(row)),
        ArrowType::Int64 => i128::from(array.as_primitive::<Int64Type>().value(row)),
        ArrowType::UInt8 => i128::from(array.as_primitive::<UInt8Type>().value(row)),
        ArrowType::UInt16 => i128::from(array.as_primitive::<UInt16Type>().value(row)),
        ArrowType::UInt32 => i128::from(array.as_primitive::<UInt32Type>().value(row)),
        ArrowType::UInt64 => i128::from(array.as_primitive::<UInt64Type>().value(row)),
        _ => return None,
    })
}

fn float(array: &ArrayRef, row: usize) -> Option<f64> {
    match array.data_type() {
        ArrowType::Float64 => Some(array.as_primitive::<Float64Type>().value(row)),
        ArrowType::Float32 => Some(f64::from(array.as_primitive::<Float32Type>().value(row))),
        _ => integer(array, row).map(|v| v as f64),
    }
}

/// One cell as a value of the channel's type; `Ok(None)` for a null.
fn cell(array: &ArrayRef, row: usize, channel: &Channel) -> Result<Option<Value>, String> {
    if array.is_null(row) {
        return Ok(None);
    }
    let arrow = array.data_type();
    let wrong = || {
        format!(
            "a Parquet column of type {arrow} cannot fill a {} channel",
            channel.data_type
        )
    };
    let int = |what: &str| -> Result<i128, String> {
        integer(array, row).ok_or_else(|| match array.data_type() {
            ArrowType::Utf8 | ArrowType::LargeUtf8 => wrong(),
            _ => format!("{what}: {}", wrong()),
        })
    };
    let fits = |v: i128| format!("{v} does not fit a {} channel", channel.data_type);
    let value = match channel.data_type {
        DataType::Double => Value::Double(float(array, row).ok_or_else(wrong)?),
        DataType::Float => Value::Float(float(array, row).ok_or_else(wrong)? as f32),
        DataType::Int32 => {
            let v = int("int32")?;
            Value::Int32(i32::try_from(v).map_err(|_| fits(v))?)
        }
        DataType::Int64 => {
            let v = int("int64")?;
            Value::Int64(i64::try_from(v).map_err(|_| fits(v))?)
        }
        DataType::Uint32 => {
            let v = int("uint32")?;
            Value::Uint32(u32::try_from(v).map_err(|_| fits(v))?)
        }
        DataType::Uint64 => {
            let v = int("uint64")?;
            Value::Uint64(u64::try_from(v).map_err(|_| fits(v))?)
        }
        DataType::BitField => {
            let v = int("bit field")?;
            Value::BitField(u64::try_from(v).map_err(|_| fits(v))?)
        }
        DataType::Enum => match arrow {
            ArrowType::Utf8 | ArrowType::LargeUtf8 => {
                let text = if matches!(arrow, ArrowType::Utf8) {
                    array.as_string::<i32>().value(row)
                } else {
                    array.as_string::<i64>().value(row)
                };
                return channel.read_text(text);
            }
            _ => {
                let v = int("enum")?;
                Value::Enum(
                    u32::try_from(v)
                        .or_else(|_| i32::try_from(v).map(|k| k as u32))
                        .map_err(|_| fits(v))?,
                )
            }
        },
        DataType::Bool => match arrow {
            ArrowType::Boolean => Value::Bool(array.as_boolean().value(row)),
            _ => return Err(wrong()),
        },
        DataType::String => match arrow {
            ArrowType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
            ArrowType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_owned()),
            _ => return Err(wrong()),
        },
        DataType::Bytes => match arrow {
            ArrowType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
            ArrowType::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(row).to_vec()),
            ArrowType::Utf8 => {
                Value::Bytes(array.as_string::<i32>().value(row).as_bytes().to_vec())
            }
            _ => return Err(wrong()),
        },
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    fn file(batch: RecordBatch) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        let mut w = ArrowWriter::try_new(&mut f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        f
    }

    fn config(json: &str) -> ParquetConfig {
        serde_json::from_str(json).unwrap()
    }

    const CONFIG: &str = r#"{
        "asset_name": "rig", "footer_offset": 0, "footer_length": 0,
        "complex_types_import_mode": "PARQUET_COMPLEX_TYPES_IMPORT_MODE_IGNORE",
        "flat_dataset": {
            "time_column": {"path": "t", "format": "TIME_FORMAT_ABSOLUTE_UNIX_MILLISECONDS", "relative_start_time": null},
            "data_columns": [
                {"path": "p", "channel_config": {"name": "pressure", "data_type": "CHANNEL_DATA_TYPE_DOUBLE", "units": "", "description": "", "enum_types": [], "bit_field_elements": []}},
                {"path": "n", "channel_config": {"name": "count", "data_type": "CHANNEL_DATA_TYPE_UINT_32", "units": "", "description": "", "enum_types": [], "bit_field_elements": []}}
            ]
        }
    }"#;

    fn batch(counts: Vec<Option<i64>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("t", ArrowType::Int64, false),
            Field::new("p", ArrowType::Float64, true),
            Field::new("n", ArrowType::Int64, true),
            Field::new("note", ArrowType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1000, 2000, 3000])),
                Arc::new(Float64Array::from(vec![Some(1.5), None, Some(-0.0)])),
                Arc::new(Int64Array::from(counts)),
                Arc::new(StringArray::from(vec!["a", "b", "c"])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn columns_become_channels() {
        let mut got = Vec::new();
        let rows = read(
            file(batch(vec![Some(1), Some(2), None])),
            &config(CONFIG),
            |c| {
                got.push(c);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(rows, 3);
        let chunk = &got[0];
        assert_eq!(
            chunk[0],
            vec![
                Point {
                    timestamp: 1_000_000_000,
                    value: Value::Double(1.5)
                },
                Point {
                    timestamp: 3_000_000_000,
                    value: Value::Double(-0.0)
                }
            ]
        );
        assert_eq!(chunk[1].len(), 2);
        assert_eq!(chunk[1][1].value, Value::Uint32(2));
    }

    #[test]
    fn a_file_the_parquet_reader_panics_on_is_an_error() {
        // Found by the `parquet_import` fuzz target: metadata whose column chunk has a
        // negative start makes the parquet crate assert, and so do definition levels that
        // run past their buffer (in arrow-buffer, under the record reader).
        for bytes in [
            &include_bytes!("../tests/fixtures/negative_column_start.parquet")[..],
            &include_bytes!("../tests/fixtures/definition_levels_out_of_bounds.parquet")[..],
        ] {
            failed_on(bytes);
        }
    }

    fn failed_on(bytes: &'static [u8]) {
        let fuzzed = r#"{
            "asset_name": "fuzz", "footer_offset": 0, "footer_length": 0,
            "flat_dataset": {
                "time_column": {"path": "t", "format": "TIME_FORMAT_ABSOLUTE_UNIX_NANOSECONDS"},
                "data_columns": [
                    {"path": "a", "channel_config": {"name": "a", "data_type": "CHANNEL_DATA_TYPE_DOUBLE"}},
                    {"path": "b", "channel_config": {"name": "b", "data_type": "CHANNEL_DATA_TYPE_STRING"}},
                    {"path": "c", "channel_config": {"name": "c", "data_type": "CHANNEL_DATA_TYPE_INT_32"}}
                ]
            }
        }"#;
        let err = read(
            bytes::Bytes::from_static(bytes),
            &config(fuzzed),
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("not a readable Parquet file: the Parquet reader failed on it"),
            "{err}"
        );
    }

    #[test]
    fn values_that_do_not_fit_and_missing_columns_are_named() {
        let err = read(
            file(batch(vec![Some(1), Some(-5), None])),
            &config(CONFIG),
            |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "column \"n\" (count), row 2: -5 does not fit a uint32 channel"
        );
        let missing = CONFIG.replace(r#""path": "p""#, r#""path": "q""#);
        let err = read(file(batch(vec![None; 3])), &config(&missing), |_| Ok(())).unwrap_err();
        assert!(
            err.to_string()
                .contains("no column \"q\"; its columns are \"t\", \"p\", \"n\", \"note\""),
            "{err}"
        );
        let err = read(tempfile::tempfile().unwrap(), &config(CONFIG), |_| Ok(())).unwrap_err();
        assert!(
            err.to_string().starts_with("not a readable Parquet file"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod detect_tests {
    use std::io::{Read, Seek, SeekFrom};
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, Int16Array, ListArray, RecordBatch, TimestampMicrosecondArray, UInt64Array,
    };
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// The footer of `batch` written as a Parquet file: the bytes before its last eight.
    fn footer(batch: RecordBatch) -> Vec<u8> {
        let mut f = tempfile::tempfile().unwrap();
        let mut w = ArrowWriter::try_new(&mut f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let mut tail = [0u8; 8];
        f.seek(SeekFrom::End(-8)).unwrap();
        f.read_exact(&mut tail).unwrap();
        let len = u32::from_le_bytes(tail[..4].try_into().unwrap()) as i64;
        f.seek(SeekFrom::End(-8 - len)).unwrap();
        let mut bytes = vec![0; len as usize];
        f.read_exact(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn columns_are_detected_with_the_channel_type_that_holds_them() {
        let list =
            ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![Some(
                vec![Some(1)],
            )]);
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "time",
                ArrowType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("ok", ArrowType::Boolean, true),
            Field::new("raw", ArrowType::Int16, true),
            Field::new("total", ArrowType::UInt64, true),
            Field::new("samples", list.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMicrosecondArray::from(vec![1])),
                Arc::new(BooleanArray::from(vec![true])),
                Arc::new(Int16Array::from(vec![-3])),
                Arc::new(UInt64Array::from(vec![u64::MAX])),
                Arc::new(list),
            ],
        )
        .unwrap();
        let detected = detect(&footer(batch)).unwrap();
        assert_eq!(detected.time_column.as_deref(), Some("time"));
        assert_eq!(
            detected.columns,
            [
                ("ok".to_owned(), DataType::Bool),
                ("raw".to_owned(), DataType::Int32),
                ("total".to_owned(), DataType::Uint64),
            ]
        );
        let skipped: Vec<&str> = detected.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["time", "samples"]);
    }

    #[test]
    fn bytes_that_are_no_footer_are_an_error() {
        for bytes in [&b""[..], b"PAR1", &[0xff; 64]] {
            let err = detect(bytes).unwrap_err();
            assert!(err.to_string().contains("not a Parquet footer"), "{err}");
        }
    }
}
