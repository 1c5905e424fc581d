//! The JSON stored in text columns: enum tables, bit-field layouts, flow definitions, run tags
//! and metadata. These mirror types fix the stored field names, so that renaming a Rust field
//! never changes what is on disk.

use serde::{Deserialize, Serialize};
use sextant_model::{BitFieldElement, DataType, EnumType};

use crate::types::{ChannelDef, MetadataValue};

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EnumTypeJson {
    name: String,
    key: u32,
    is_signed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BitFieldElementJson {
    name: String,
    index: u32,
    bit_count: u32,
}

/// One channel of a flow definition, every field as declared.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ChannelDefJson {
    name: String,
    data_type: String,
    unit: String,
    description: String,
    enum_types: Vec<EnumTypeJson>,
    bit_field_elements: Vec<BitFieldElementJson>,
}

/// One metadata entry of a run: `{"key": "k", "string": "v"}`, `"number"` or `"bool"`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MetadataJson {
    key: String,
    #[serde(flatten)]
    value: MetadataValueJson,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum MetadataValueJson {
    String(String),
    Number(f64),
    Bool(bool),
}

pub(crate) fn enum_types_json(types: &[EnumType]) -> Vec<EnumTypeJson> {
    types
        .iter()
        .map(|t| EnumTypeJson {
            name: t.name.clone(),
            key: t.key,
            is_signed: t.is_signed,
        })
        .collect()
}

pub(crate) fn enum_types_from_json(types: Vec<EnumTypeJson>) -> Vec<EnumType> {
    types
        .into_iter()
        .map(|t| EnumType {
            name: t.name,
            key: t.key,
            is_signed: t.is_signed,
        })
        .collect()
}

pub(crate) fn bit_field_elements_json(elements: &[BitFieldElement]) -> Vec<BitFieldElementJson> {
    elements
        .iter()
        .map(|e| BitFieldElementJson {
            name: e.name.clone(),
            index: e.index,
            bit_count: e.bit_count,
        })
        .collect()
}

pub(crate) fn bit_field_elements_from_json(
    elements: Vec<BitFieldElementJson>,
) -> Vec<BitFieldElement> {
    elements
        .into_iter()
        .map(|e| BitFieldElement {
            name: e.name,
            index: e.index,
            bit_count: e.bit_count,
        })
        .collect()
}

pub(crate) fn channel_defs_json(defs: &[ChannelDef]) -> Vec<ChannelDefJson> {
    defs.iter()
        .map(|def| ChannelDefJson {
            name: def.name.clone(),
            data_type: def.data_type.as_str().to_owned(),
            unit: def.unit.clone(),
            description: def.description.clone(),
            enum_types: enum_types_json(&def.enum_types),
            bit_field_elements: bit_field_elements_json(&def.bit_field_elements),
        })
        .collect()
}

/// The flow's channels back from JSON; an unknown data type name is an error message.
pub(crate) fn channel_defs_from_json(defs: Vec<ChannelDefJson>) -> Result<Vec<ChannelDef>, String> {
    defs.into_iter()
        .map(|def| {
            Ok(ChannelDef {
                data_type: def
                    .data_type
                    .parse::<DataType>()
                    .map_err(|err| err.to_string())?,
                name: def.name,
                unit: def.unit,
                description: def.description,
                enum_types: enum_types_from_json(def.enum_types),
                bit_field_elements: bit_field_elements_from_json(def.bit_field_elements),
            })
        })
        .collect()
}

pub(crate) fn metadata_json(metadata: &[(String, MetadataValue)]) -> Vec<MetadataJson> {
    metadata
        .iter()
        .map(|(key, value)| MetadataJson {
            key: key.clone(),
            value: match value {
                MetadataValue::String(s) => MetadataValueJson::String(s.clone()),
                MetadataValue::Number(n) => MetadataValueJson::Number(*n),
                MetadataValue::Bool(b) => MetadataValueJson::Bool(*b),
            },
        })
        .collect()
}

pub(crate) fn metadata_from_json(metadata: Vec<MetadataJson>) -> Vec<(String, MetadataValue)> {
    metadata
        .into_iter()
        .map(|entry| {
            let value = match entry.value {
                MetadataValueJson::String(s) => MetadataValue::String(s),
                MetadataValueJson::Number(n) => MetadataValue::Number(n),
                MetadataValueJson::Bool(b) => MetadataValue::Bool(b),
            };
            (entry.key, value)
        })
        .collect()
}
