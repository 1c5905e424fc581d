//! The payload decoder of WAL records, on arbitrary bytes (the frame's CRC is what keeps
//! damaged payloads out in practice; this is the decoder behind it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    if let Err(e) = sextant_storage::wal::decode_payload(payload) {
        assert!(e.starts_with("at payload byte "), "{e}");
    }
});
