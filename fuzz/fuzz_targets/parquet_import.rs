//! A Parquet data import of untrusted bytes, with a fixed config naming a time column and
//! columns of several types: the file is read or refused with a message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_imports::ParquetConfig;

const CONFIG: &str = r#"{
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

fuzz_target!(|data: &[u8]| {
    let config: ParquetConfig = serde_json::from_str(CONFIG).expect("the fixed config parses");
    let file = bytes::Bytes::copy_from_slice(data);
    if let Err(error) = sextant_imports::parquet::read(file, &config, |chunk| {
        assert_eq!(chunk.len(), 3);
        Ok(())
    }) {
        assert!(!error.to_string().is_empty());
    }
});
