//! The import configs as Sift's REST API takes them (`sift_py`'s `CsvConfig.to_dict()` and
//! `ParquetConfig.to_dict()`): which asset and run the data goes to, where time is and in
//! which format, and each data column's channel.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sextant_model::{BitFieldElement, DataType, EnumType, Timestamp};

use crate::ImportError;

/// A field that may be missing or `null` (as pydantic's `model_dump` writes unset optional
/// fields): its default either way.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// A CSV file's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// The asset the channels belong to (created if missing).
    pub asset_name: String,
    /// A run to create for the data.
    #[serde(default, deserialize_with = "null_default")]
    pub run_name: String,
    /// An existing run to add the data to.
    #[serde(default, deserialize_with = "null_default")]
    pub run_id: String,
    /// The 1-based row of the first data; the rows before it are headers.
    pub first_data_row: u64,
    /// The time column.
    pub time_column: TimeColumn,
    /// The data columns by 1-based column number.
    pub data_columns: BTreeMap<String, ChannelColumn>,
}

/// A Parquet file's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetConfig {
    /// The asset the channels belong to (created if missing).
    pub asset_name: String,
    /// A run to create for the data.
    #[serde(default, deserialize_with = "null_default")]
    pub run_name: String,
    /// An existing run to add the data to.
    #[serde(default, deserialize_with = "null_default")]
    pub run_id: String,
    /// The columns of a flat file (one row per timestamp).
    #[serde(default, deserialize_with = "null_default")]
    pub flat_dataset: Option<FlatDataset>,
    /// Where the file's footer starts (the server reads it from the file itself).
    #[serde(default, deserialize_with = "null_default")]
    pub footer_offset: u64,
    /// The footer's length.
    #[serde(default, deserialize_with = "null_default")]
    pub footer_length: u64,
    /// What to do with nested columns.
    #[serde(default, deserialize_with = "null_default")]
    pub complex_types_import_mode: Option<String>,
}

/// The columns of a flat Parquet file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatDataset {
    /// The time column.
    pub time_column: ParquetTimeColumn,
    /// The data columns.
    pub data_columns: Vec<ParquetDataColumn>,
}

/// Where time is in a CSV file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeColumn {
    /// Its 1-based column number.
    pub column_number: u64,
    /// `TIME_FORMAT_…`.
    pub format: String,
    /// The start that relative times count from, RFC 3339.
    #[serde(default, deserialize_with = "null_default")]
    pub relative_start_time: Option<String>,
}

/// Where time is in a Parquet file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetTimeColumn {
    /// The column's path (its name, for a flat file).
    pub path: String,
    /// `TIME_FORMAT_…`.
    pub format: String,
    /// The start that relative times count from, RFC 3339.
    #[serde(default, deserialize_with = "null_default")]
    pub relative_start_time: Option<String>,
}

/// A Parquet data column and its channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetDataColumn {
    /// The column's path.
    pub path: String,
    /// Its channel.
    pub channel_config: ChannelColumn,
}

/// The channel a column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelColumn {
    /// The channel's full name.
    pub name: String,
    /// `CHANNEL_DATA_TYPE_…`.
    pub data_type: String,
    /// Its unit.
    #[serde(default, deserialize_with = "null_default")]
    pub units: String,
    /// Its description.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// An enum's table.
    #[serde(default, deserialize_with = "null_default")]
    pub enum_types: Vec<EnumEntry>,
    /// A bit field's layout.
    #[serde(default, deserialize_with = "null_default")]
    pub bit_field_elements: Vec<BitFieldEntry>,
}

/// An enum entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumEntry {
    /// Its name.
    pub name: String,
    /// Its key.
    pub key: i64,
    /// Whether keys are signed.
    #[serde(default, deserialize_with = "null_default")]
    pub is_signed: bool,
}

/// A bit-field element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitFieldEntry {
    /// Its name.
    pub name: String,
    /// Its lowest bit.
    pub index: u32,
    /// Its width.
    pub bit_count: u32,
}

/// The name Sift's REST configs give a channel data type: `CHANNEL_DATA_TYPE_DOUBLE`, ….
pub fn sift_type_name(data_type: DataType) -> &'static str {
    match data_type {
        DataType::Double => "CHANNEL_DATA_TYPE_DOUBLE",
        DataType::Float => "CHANNEL_DATA_TYPE_FLOAT",
        DataType::String => "CHANNEL_DATA_TYPE_STRING",
        DataType::Bool => "CHANNEL_DATA_TYPE_BOOL",
        DataType::Int32 => "CHANNEL_DATA_TYPE_INT_32",
        DataType::Int64 => "CHANNEL_DATA_TYPE_INT_64",
        DataType::Uint32 => "CHANNEL_DATA_TYPE_UINT_32",
        DataType::Uint64 => "CHANNEL_DATA_TYPE_UINT_64",
        DataType::Enum => "CHANNEL_DATA_TYPE_ENUM",
        DataType::BitField => "CHANNEL_DATA_TYPE_BIT_FIELD",
        DataType::Bytes => "CHANNEL_DATA_TYPE_BYTES",
    }
}

impl ChannelColumn {
    /// The channel's data type.
    pub fn data_type(&self) -> Result<DataType, ImportError> {
        let short = self
            .data_type
            .strip_prefix("CHANNEL_DATA_TYPE_")
            .unwrap_or(&self.data_type)
            .to_ascii_lowercase()
            .replace("int_", "int");
        short.parse().map_err(|_| {
            ImportError::Config(format!(
                "channel {:?} has data type {:?}, not one of CHANNEL_DATA_TYPE_DOUBLE, FLOAT, \
                 STRING, BOOL, INT_32, INT_64, UINT_32, UINT_64, ENUM, BIT_FIELD, BYTES",
                self.name, self.data_type
            ))
        })
    }

    /// The enum table as the model keeps it.
    pub fn enum_types(&self) -> Result<Vec<EnumType>, ImportError> {
        self.enum_types
            .iter()
            .map(|e| {
                let key = if e.is_signed {
                    i32::try_from(e.key).map(|k| k as u32).ok()
                } else {
                    u32::try_from(e.key).ok()
                };
                key.map(|key| EnumType {
                    name: e.name.clone(),
                    key,
                    is_signed: e.is_signed,
                })
                .ok_or_else(|| {
                    ImportError::Config(format!(
                        "channel {:?}: enum key {} of {:?} does not fit 32 bits",
                        self.name, e.key, e.name
                    ))
                })
            })
            .collect()
    }

    /// The bit-field layout as the model keeps it.
    pub fn bit_field_elements(&self) -> Vec<BitFieldElement> {
        self.bit_field_elements
            .iter()
            .map(|e| BitFieldElement {
                name: e.name.clone(),
                index: e.index,
                bit_count: e.bit_count,
            })
            .collect()
    }
}

/// How a time column's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// RFC 3339 text.
    Rfc3339,
    /// A date and time without an offset, in UTC (`2024-07-04 18:09:08.5`, or with a `T`).
    DateTime,
    /// A number of these units since the Unix epoch.
    Unix(i64),
    /// A number of these units since the relative start time.
    Relative(i64, Timestamp),
}

impl TimeFormat {
    /// The format a config names.
    pub fn parse(format: &str, relative_start: Option<&str>) -> Result<Self, ImportError> {
        let unit = |name: &str| match name {
            "NANOSECONDS" => Some(1),
            "MICROSECONDS" => Some(1_000),
            "MILLISECONDS" => Some(1_000_000),
            "SECONDS" => Some(1_000_000_000),
            "MINUTES" => Some(60_000_000_000),
            "HOURS" => Some(3_600_000_000_000),
            _ => None,
        };
        let name = format.strip_prefix("TIME_FORMAT_").unwrap_or(format);
        let parsed = match name {
            "ABSOLUTE_RFC3339" => Some(TimeFormat::Rfc3339),
            "ABSOLUTE_DATETIME" => Some(TimeFormat::DateTime),
            _ => {
                if let Some(u) = name.strip_prefix("ABSOLUTE_UNIX_").and_then(unit) {
                    Some(TimeFormat::Unix(u))
                } else if let Some(u) = name.strip_prefix("RELATIVE_").and_then(unit) {
                    let start = relative_start.ok_or_else(|| {
                        ImportError::Config(format!(
                            "time format {format} needs relative_start_time"
                        ))
                    })?;
                    let start = rfc3339(start).ok_or_else(|| {
                        ImportError::Config(format!(
                            "relative_start_time {start:?} is not an RFC 3339 time"
                        ))
                    })?;
                    Some(TimeFormat::Relative(u, start))
                } else {
                    None
                }
            }
        };
        parsed.ok_or_else(|| {
            ImportError::Config(format!(
                "time format {format:?} is not one Sextant reads: TIME_FORMAT_ABSOLUTE_RFC3339, \
                 _ABSOLUTE_DATETIME, _ABSOLUTE_UNIX_{{NANOSECONDS,MICROSECONDS,MILLISECONDS,\
                 SECONDS}}, _RELATIVE_{{NANOSECONDS,…,HOURS}}"
            ))
        })
    }

    /// A time cell as nanoseconds since the epoch.
    pub fn read_text(self, text: &str) -> Option<Timestamp> {
        let text = text.trim();
        match self {
            TimeFormat::Rfc3339 => rfc3339(text),
            TimeFormat::DateTime => rfc3339(text).or_else(|| {
                ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d"]
                    .iter()
                    .find_map(|f| {
                        chrono::NaiveDateTime::parse_from_str(text, f)
                            .ok()
                            .or_else(|| {
                                chrono::NaiveDate::parse_from_str(text, f)
                                    .ok()
                                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                            })
                    })
                    .and_then(|t| t.and_utc().timestamp_nanos_opt())
            }),
            TimeFormat::Unix(_) | TimeFormat::Relative(..) => {
                if let Ok(whole) = text.parse::<i64>() {
                    self.read_int(whole)
                } else {
                    text.parse::<f64>().ok().and_then(|v| self.read_float(v))
                }
            }
        }
    }

    /// A whole-number time.
    pub fn read_int(self, value: i64) -> Option<Timestamp> {
        match self {
            TimeFormat::Unix(unit) => value.checked_mul(unit),
            TimeFormat::Relative(unit, start) => value.checked_mul(unit)?.checked_add(start),
            TimeFormat::Rfc3339 | TimeFormat::DateTime => None,
        }
    }

    /// A fractional time.
    pub fn read_float(self, value: f64) -> Option<Timestamp> {
        let (unit, start) = match self {
            TimeFormat::Unix(unit) => (unit, 0),
            TimeFormat::Relative(unit, start) => (unit, start),
            TimeFormat::Rfc3339 | TimeFormat::DateTime => return None,
        };
        let ns = (value * unit as f64).round();
        if !ns.is_finite() || ns.abs() >= 9.2e18 {
            return None;
        }
        (ns as i64).checked_add(start)
    }
}

fn rfc3339(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}
