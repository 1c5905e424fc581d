//! A Parquet data import of untrusted bytes, with a fixed config naming a time column and
//! columns of several types: the file is read or refused with a message, never a panic; and
//! config detection from its footer, which is detected or refused the same way.
//!
//! The `parquet` crate asserts on some malformed files; `sextant_imports::parquet::read`
//! catches those panics and reports the file as unreadable (its test
//! `a_file_the_parquet_reader_panics_on_is_an_error` holds the inputs found). libFuzzer's panic
//! hook would count them as crashes all the same, so panics located in a crate from the
//! registry (parquet, or arrow under it) are let through to the reader here; a panic located in
//! Sextant's own code still aborts. (A panic in arrow called from Sextant's code directly would
//! be let through too: the reader indexes arrays only within their length.)
#![no_main]

use std::sync::Once;

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

static HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let third_party = info
                .location()
                .is_some_and(|l| l.file().contains("/.cargo/registry/"));
            if !third_party {
                fuzzer_hook(info);
            }
        }));
    });
    let config: ParquetConfig = serde_json::from_str(CONFIG).expect("the fixed config parses");
    let file = bytes::Bytes::copy_from_slice(data);
    if let Err(error) = sextant_imports::parquet::read(file, &config, |chunk| {
        assert_eq!(chunk.len(), 3);
        Ok(())
    }) {
        assert!(!error.to_string().is_empty());
    }
    // Config detection reads the footer alone: the bytes before the last eight, as long as
    // they say (or all of the input when they say nothing sensible).
    let footer = match data.len().checked_sub(8) {
        Some(end) => {
            let len = u32::from_le_bytes(data[end..end + 4].try_into().expect("four bytes"));
            &data[end.saturating_sub(len as usize)..end]
        }
        None => data,
    };
    match sextant_imports::parquet::detect(footer) {
        Ok(detected) => assert!(detected.columns.len() + detected.skipped.len() < 1 << 20),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
