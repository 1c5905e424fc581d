//! CSV files as Sift imports them: header rows up to `first_data_row`, one time column and data
//! columns by number, each a channel. An empty cell is no point; any other cell that does not
//! read as its column's type refuses the file, naming the row, the column and the value.

use std::io::Read;

use sextant_model::Point;

use crate::config::{CsvConfig, TimeFormat};
use crate::{CHUNK_ROWS, Channel, Chunk, ImportError};

/// The channels a CSV config declares, in column order, with their 0-based column indexes.
pub fn channels(config: &CsvConfig) -> Result<Vec<(usize, Channel)>, ImportError> {
    if config.data_columns.is_empty() {
        return Err(ImportError::Config("data_columns is empty".to_owned()));
    }
    if config.first_data_row == 0 {
        return Err(ImportError::Config(
            "first_data_row counts from 1".to_owned(),
        ));
    }
    let mut out = Vec::with_capacity(config.data_columns.len());
    for (number, column) in &config.data_columns {
        let index = number
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                ImportError::Config(format!(
                    "data_columns key {number:?} is not a column number (1, 2, …)"
                ))
            })?;
        if index as u64 == config.time_column.column_number {
            return Err(ImportError::Config(format!(
                "column {index} is both the time column and channel {:?}",
                column.name
            )));
        }
        out.push((index - 1, Channel::from_config(column)?));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// Reads a CSV file, handing `sink` the points of every [`CHUNK_ROWS`] rows (and the rest at
/// the end), one list per channel of [`channels`]. Returns the rows read.
pub fn read(
    input: impl Read,
    config: &CsvConfig,
    mut sink: impl FnMut(Chunk) -> Result<(), ImportError>,
) -> Result<u64, ImportError> {
    let columns = channels(config)?;
    let time = TimeFormat::parse(
        &config.time_column.format,
        config.time_column.relative_start_time.as_deref(),
    )?;
    let time_index = usize::try_from(config.time_column.column_number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .ok_or_else(|| ImportError::Config("time_column.column_number counts from 1".to_owned()))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut chunk: Chunk = vec![Vec::new(); columns.len()];
    let mut rows_in_chunk = 0;
    let mut rows = 0u64;
    let mut record = ::csv::StringRecord::new();
    let mut line = 0u64;
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| ImportError::Data(format!("row {}: not valid CSV: {e}", line + 1)))?;
        if !more {
            break;
        }
        // Rows are counted as records, as Sift counts them (a quoted cell may span lines).
        line += 1;
        if line < config.first_data_row {
            continue;
        }
        let cell = |index: usize| record.get(index).unwrap_or("");
        let raw_time = cell(time_index);
        let Some(timestamp) = time.read_text(raw_time) else {
            return Err(ImportError::Data(format!(
                "row {line}, column {} (time): {raw_time:?} is not a time in format {}",
                time_index + 1,
                config.time_column.format
            )));
        };
        for ((index, channel), points) in columns.iter().zip(chunk.iter_mut()) {
            let value = channel.read_text(cell(*index)).map_err(|message| {
                ImportError::Data(format!(
                    "row {line}, column {} ({}): {message}",
                    index + 1,
                    channel.name
                ))
            })?;
            if let Some(value) = value {
                points.push(Point { timestamp, value });
            }
        }
        rows += 1;
        rows_in_chunk += 1;
        if rows_in_chunk == CHUNK_ROWS {
            sink(std::mem::replace(
                &mut chunk,
                vec![Vec::new(); columns.len()],
            ))?;
            rows_in_chunk = 0;
        }
    }
    if rows_in_chunk > 0 {
        sink(chunk)?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use sextant_model::{DataType, Value};

    use super::*;

    fn config(json: &str) -> CsvConfig {
        serde_json::from_str(json).unwrap()
    }

    const CONFIG: &str = r#"{
        "asset_name": "rig", "run_name": "", "run_id": "", "first_data_row": 2,
        "time_column": {"format": "TIME_FORMAT_ABSOLUTE_DATETIME", "relative_start_time": null, "column_number": 1},
        "data_columns": {
            "2": {"name": "pressure", "data_type": "CHANNEL_DATA_TYPE_DOUBLE", "units": "bar", "description": "", "enum_types": [], "bit_field_elements": []},
            "3": {"name": "state", "data_type": "CHANNEL_DATA_TYPE_ENUM", "units": "", "description": "", "enum_types": [{"name": "idle", "key": 0}, {"name": "firing", "key": 1}], "bit_field_elements": []}
        }
    }"#;

    fn read_all(text: &str, config: &CsvConfig) -> Result<Chunk, ImportError> {
        let mut all: Chunk = Vec::new();
        read(text.as_bytes(), config, |chunk| {
            if all.is_empty() {
                all = chunk;
            } else {
                for (a, c) in all.iter_mut().zip(chunk) {
                    a.extend(c);
                }
            }
            Ok(())
        })?;
        Ok(all)
    }

    #[test]
    fn rows_become_points_of_each_channel() {
        let config = config(CONFIG);
        let chans = channels(&config).unwrap();
        assert_eq!(chans[0].1.data_type, DataType::Double);
        assert_eq!(chans[1].1.enum_types.len(), 2);
        let text = "time,pressure,state\n\
                    2024-07-04 18:00:00,1.5,idle\n\
                    2024-07-04 18:00:00.5,,firing\n\
                    2024-07-04T18:00:01Z,2.25,0\n";
        let got = read_all(text, &config).unwrap();
        let t0 = 1_720_116_000_000_000_000;
        assert_eq!(
            got[0],
            vec![
                Point {
                    timestamp: t0,
                    value: Value::Double(1.5)
                },
                Point {
                    timestamp: t0 + 1_000_000_000,
                    value: Value::Double(2.25)
                }
            ]
        );
        assert_eq!(
            got[1].iter().map(|p| p.value.clone()).collect::<Vec<_>>(),
            [Value::Enum(0), Value::Enum(1), Value::Enum(0)]
        );
    }

    #[test]
    fn bad_cells_are_named_by_row_and_column() {
        let config = config(CONFIG);
        let err = read_all("h\n2024-07-04 18:00:00,abc,idle\n", &config).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 2, column 2 (pressure): \"abc\" is not a double value"
        );
        let err = read_all("h\nyesterday,1,idle\n", &config).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("row 2, column 1 (time): \"yesterday\""),
            "{err}"
        );
        let err = read_all("h\n2024-07-04 18:00:00,1,cruising\n", &config).unwrap_err();
        assert!(err.to_string().contains("idle=0, firing=1"), "{err}");
    }

    #[test]
    fn relative_and_unix_times() {
        let f = TimeFormat::parse(
            "TIME_FORMAT_RELATIVE_MILLISECONDS",
            Some("2024-07-04T18:00:00Z"),
        )
        .unwrap();
        assert_eq!(f.read_text("1500"), Some(1_720_116_001_500_000_000));
        assert_eq!(f.read_text("0.5"), Some(1_720_116_000_000_500_000));
        let f = TimeFormat::parse("TIME_FORMAT_ABSOLUTE_UNIX_SECONDS", None).unwrap();
        assert_eq!(f.read_text("1720116000"), Some(1_720_116_000_000_000_000));
        assert!(TimeFormat::parse("TIME_FORMAT_RELATIVE_SECONDS", None).is_err());
        assert!(TimeFormat::parse("TIME_FORMAT_SOMETIME", None).is_err());
    }
}
