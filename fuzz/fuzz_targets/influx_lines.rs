//! The line-protocol parser on arbitrary bytes: every line parses or yields an error naming
//! its line and a column inside it; and skipping the tags of a series seen in an earlier line
//! that parsed (what the write path does) gives the same lines, tags, fields and errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_server::influx::parser::{line_outcomes, parse_lines};

fuzz_target!(|body: &[u8]| {
    let lines = body.split(|b| *b == b'\n').count();
    let mut last = 0;
    parse_lines(body, |number, result| {
        assert!(number > last && number <= lines, "line {number} of {lines}");
        last = number;
        if let Err(e) = result {
            assert_eq!(e.line, number);
            assert!(e.column >= 1, "{e}");
            assert!(!e.message.is_empty());
        }
    });
    assert_eq!(line_outcomes(body, false), line_outcomes(body, true));
});
