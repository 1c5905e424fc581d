//! Data imports as pure decoders: Sift's CSV and Parquet import configs ([`config`]), and the
//! files they describe read into typed channels of points ([`csv`], [`parquet`]). Files are
//! read in chunks of rows handed to a sink, so a file of any length passes in bounded memory;
//! every refusal names the row or column and the value.

pub mod config;
pub mod csv;
pub mod parquet;

use sextant_model::{BitFieldElement, DataType, EnumType, Point, Value};

pub use config::{CsvConfig, ParquetConfig, TimeFormat, sift_type_name};

/// Rows read before a chunk is handed to the sink.
pub const CHUNK_ROWS: usize = 65_536;

/// Why a file or config cannot be imported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// The config is wrong.
    #[error("invalid import config: {0}")]
    Config(String),
    /// A value of the file is wrong.
    #[error("{0}")]
    Data(String),
    /// The sink refused a chunk (a write failed).
    #[error("{0}")]
    Sink(String),
}

/// A channel a file fills.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Its full name.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
    /// Its unit.
    pub units: String,
    /// Its description.
    pub description: String,
    /// An enum's table.
    pub enum_types: Vec<EnumType>,
    /// A bit field's layout.
    pub bit_field_elements: Vec<BitFieldElement>,
}

impl Channel {
    fn from_config(column: &config::ChannelColumn) -> Result<Channel, ImportError> {
        if column.name.trim().is_empty() {
            return Err(ImportError::Config(
                "a data column's channel has an empty name".to_owned(),
            ));
        }
        Ok(Channel {
            name: column.name.clone(),
            data_type: column.data_type()?,
            units: column.units.clone(),
            description: column.description.clone(),
            enum_types: column.enum_types()?,
            bit_field_elements: column.bit_field_elements(),
        })
    }

    /// A text cell as a value of the channel's type; `Ok(None)` for an empty cell.
    pub fn read_text(&self, text: &str) -> Result<Option<Value>, String> {
        let t = text.trim();
        if t.is_empty() && self.data_type != DataType::String {
            return Ok(None);
        }
        let bad = || format!("{text:?} is not a {} value", self.data_type);
        let value = match self.data_type {
            DataType::Double => Value::Double(t.parse().map_err(|_| bad())?),
            DataType::Float => Value::Float(t.parse().map_err(|_| bad())?),
            DataType::Int32 => Value::Int32(t.parse().map_err(|_| bad())?),
            DataType::Int64 => Value::Int64(t.parse().map_err(|_| bad())?),
            DataType::Uint32 => Value::Uint32(t.parse().map_err(|_| bad())?),
            DataType::Uint64 => Value::Uint64(t.parse().map_err(|_| bad())?),
            DataType::BitField => Value::BitField(t.parse().map_err(|_| bad())?),
            DataType::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => return Err(bad()),
            },
            DataType::String => Value::String(text.to_owned()),
            DataType::Bytes => Value::Bytes(text.as_bytes().to_vec()),
            DataType::Enum => {
                let by_name = self.enum_types.iter().find(|e| e.name == t).map(|e| e.key);
                let key = match by_name {
                    Some(key) => key,
                    None => {
                        let number: i64 = t.parse().map_err(|_| {
                            format!(
                                "{text:?} is neither a name nor a key of the enum ({})",
                                self.enum_types
                                    .iter()
                                    .map(|e| format!("{}={}", e.name, e.key))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })?;
                        u32::try_from(number)
                            .or_else(|_| i32::try_from(number).map(|k| k as u32))
                            .map_err(|_| bad())?
                    }
                };
                Value::Enum(key)
            }
        };
        Ok(Some(value))
    }
}

/// One chunk of a file: per channel (in config order), its points from these rows.
pub type Chunk = Vec<Vec<Point>>;
