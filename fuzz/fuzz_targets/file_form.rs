//! The text fields of a file upload's form (`metadata`, `entityType`) and the download path
//! test: untrusted text, decoded or refused with a message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_server::files::rest::{form, is_download};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match form::metadata(text) {
        Ok(_) => {}
        Err(message) => assert!(!message.is_empty()),
    }
    if let Err(message) = form::entity_type(text) {
        assert!(message.contains("entityType"));
    }
    let _ = is_download(text);
});
