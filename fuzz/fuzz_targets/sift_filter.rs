//! The filter strings of Sift's list calls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_server::sift::filter::Filter;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::parse(src) {
        Ok(filter) => {
            let _ = filter.allowed("name");
            let _ = filter.check_fields(&["name", "asset_id", "client_key"]);
        }
        Err(e) => {
            assert!(e.position <= src.chars().count(), "{e}");
            let _ = e.to_string();
        }
    }
});
