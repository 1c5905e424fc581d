//! Event collections: TruEra-shaped ingest requests decoded and checked against a schema,
//! schema files, event logs replayed from disk, and sealed parts opened and read whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_collections::event::{Entry, Limits, check_event, decode_request, response};
use sextant_collections::schema::Schema;

const SCHEMA: &str = "\
tags_column: tags
input_columns: [{name: f1, type: float}, {name: f2, type: int}, {name: f3, type: string}, {name: f4, type: bool}]
prediction_columns: [{name: proba, type: float}, {name: prediction, type: int}]
label_columns: [{name: actual, type: int}]
extra_columns: [{name: extra1, type: string}]
";
/// 2026-01-01, the clock of every check.
const NOW: i64 = 1_767_225_600_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&option, body)) = data.split_first() else {
        return;
    };
    let spec = Schema::from_yaml(SCHEMA, "seed.yml").expect("the seed schema reads");
    let schema = Schema::from_spec(&spec).expect("the seed schema is valid");
    match option % 4 {
        0 => {
            let Ok(request) = decode_request(body) else {
                return;
            };
            let mut refused = Vec::new();
            for (i, event) in request.events.iter().enumerate() {
                match check_event(&schema, event, &request.project_id, NOW, Limits::default()) {
                    Ok(entries) => {
                        assert!(!entries.is_empty() && entries.len() <= 2);
                        for entry in entries {
                            if let Entry::Inference(inference) = entry {
                                assert_eq!(inference.values.len(), schema.row_columns.len());
                                assert!(inference.ts >= 0);
                            }
                        }
                    }
                    Err(errors) => {
                        assert!(!errors.is_empty());
                        refused.push((i, errors));
                    }
                }
            }
            let answer = response(request.events.len(), &refused);
            assert_eq!(answer.num_errors, refused.len());
        }
        1 => {
            let Ok(src) = std::str::from_utf8(body) else {
                return;
            };
            match Schema::from_yaml(src, "fuzz.yml") {
                Ok(spec) => {
                    let checked = Schema::from_spec(&spec).expect("a read schema is valid");
                    assert_eq!(checked.spec(), spec);
                    let _ = schema.evolve(&spec);
                }
                Err(problems) => {
                    for problem in problems.iter() {
                        assert!(problem.line.is_some(), "{problem}");
                    }
                }
            }
        }
        3 => {
            // Damage is an error naming where, never a panic.
            let _ = sextant_collections::part::check_bytes(body);
        }
        _ => {
            let path =
                std::env::temp_dir().join(format!("sextant-fuzz-{}.events", std::process::id()));
            std::fs::write(&path, body).expect("the scratch file is written");
            // A subscriber reads the records back by offset: from the first one, as far as
            // replay found whole records, what it reads must be what replay applied.
            let mut replayed = Vec::new();
            if let Ok(log) = sextant_collections::log::Log::open(&path, |_, e| replayed.push(e)) {
                if let Some(&first) = log.offsets().first() {
                    let read = sextant_collections::log::read_records(&path, first, log.len());
                    // Compared as text: a NaN read back is the NaN replayed.
                    assert_eq!(format!("{:?}", read.ok()), format!("{:?}", Some(replayed)));
                }
            }
        }
    }
});
