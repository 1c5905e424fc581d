//! The loader never panics, whatever it is given: arbitrary text, and the example config
//! mangled line by line (lines dropped, repeated, swapped, or with characters spliced in).

use proptest::prelude::*;
use sextant_telemetry::{NamedExpressions, load_config_str, parse_config_str};

const EXAMPLE: &str = include_str!("../../../examples/telemetry_configs/nostromo_lv_426.yml");

#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Repeat(usize),
    Swap(usize, usize),
    Splice(usize, usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Drop),
        any::<usize>().prop_map(Edit::Repeat),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (
            any::<usize>(),
            any::<usize>(),
            "[ -~]{0,6}|[&*<:$\\[\\]{}'\"|>-]{1,3}"
        )
            .prop_map(|(l, c, s)| Edit::Splice(l, c, s)),
    ]
}

fn apply(edits: &[Edit]) -> String {
    let mut lines: Vec<String> = EXAMPLE.lines().map(str::to_owned).collect();
    for edit in edits {
        let n = lines.len().max(1);
        match edit {
            Edit::Drop(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::Repeat(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Edit::Swap(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::Splice(l, c, s) if !lines.is_empty() => {
                let line = &mut lines[l % n];
                let mut at = c % (line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.insert_str(at, s);
            }
            _ => {}
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,400}") {
        let _ = load_config_str(&src, "fuzz.yml", &NamedExpressions::new());
    }

    #[test]
    fn mangled_configs_never_panic_and_problems_are_located(edits in prop::collection::vec(edit(), 1..6)) {
        let src = apply(&edits);
        if let Err(problems) = load_config_str(&src, "fuzz.yml", &NamedExpressions::new()) {
            for problem in problems.iter() {
                prop_assert_eq!(problem.file.as_deref(), Some("fuzz.yml"));
                prop_assert!(!problem.message.is_empty());
            }
        }
        let _ = parse_config_str(&src, "fuzz.yml");
    }
}
