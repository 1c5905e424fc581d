//! A whole line-protocol write body, as the `/write` handlers decode it before storing:
//! optional gzip, the precision parameter, lines into series, the batch validated.
//!
//! Input: one byte of options (bit 0: gzip; bits 1..=3: the precision), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_model::OrgId;
use sextant_server::influx::write::decode_body;

const PRECISIONS: [Option<&str>; 8] = [
    None,
    Some("ns"),
    Some("us"),
    Some("ms"),
    Some("s"),
    Some("m"),
    Some("h"),
    Some("d"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&options, body)) = data.split_first() else {
        return;
    };
    let gzip = options & 1 != 0;
    let precision = PRECISIONS[usize::from((options >> 1) & 7)];
    let now = 1_767_225_600_000_000_000;
    match decode_body(body, gzip, precision, OrgId(1), now) {
        Ok(decoded) => {
            for e in &decoded.errors {
                assert!(e.starts_with("line "), "{e}");
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
