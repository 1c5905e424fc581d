//! The line-protocol parser on arbitrary bytes: every line parses or yields an error naming
//! its line and a column inside it; and skipping the tags of a series seen in an earlier line
//! that parsed (what the write path does) gives the same lines, tags, fields and errors.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use sextant_server::influx::parser::{Lines, parse_lines};

/// Every line's outcome, with known series' tags skipped or not.
fn outcomes(body: &[u8], skip: bool) -> Vec<String> {
    let mut known: HashSet<Vec<u8>> = HashSet::new();
    let mut lines = Lines::new(body);
    let mut out = Vec::new();
    while let Some((number, result)) = lines.next_line(|series| skip && known.contains(series)) {
        out.push(match result {
            Ok(line) => {
                known.insert(line.series.to_vec());
                format!(
                    "{number} {} {:?} {:?} {:?}",
                    line.measurement,
                    line.series_tags(),
                    line.fields,
                    line.timestamp
                )
            }
            Err(e) => format!("{number} {e}"),
        });
    }
    out
}

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
    assert_eq!(outcomes(body, false), outcomes(body, true));
});
