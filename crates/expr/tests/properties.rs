//! Properties that must hold for any input: parsing and compiling never panic, printing reparses
//! to the same tree, substitution keeps spans inside the outer text, and evaluation never panics
//! whatever values, times and states it is given.

use std::collections::HashMap;

use proptest::prelude::*;
use sextant_expr::{ChannelSchema, Expr, ReferenceKind, compile, parse};
use sextant_model::{BitFieldElement, DataType, EnumType, Point, Value};

/// One channel of every data type, bound as `$1` ... `$11`.
fn channels() -> Vec<(String, ChannelSchema)> {
    DataType::ALL
        .iter()
        .enumerate()
        .map(|(i, &data_type)| {
            let mut schema = ChannelSchema::new(data_type);
            if data_type == DataType::Enum {
                schema.enum_types = vec![EnumType::new("Stopped", 0), EnumType::new("Running", 1)];
            }
            if data_type == DataType::BitField {
                schema.bit_field_elements = vec![
                    BitFieldElement::new("heater", 7, 1),
                    BitFieldElement::new("led", 3, 4),
                ];
            }
            (format!("${}", i + 1), schema)
        })
        .collect()
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        (1..=12u32).prop_map(|n| format!("${n}")),
        Just("$mass".to_owned()),
        Just("$10.heater".to_owned()),
        Just("$10.led".to_owned()),
        Just("$10.nope".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0..1000u32).prop_map(|n| n.to_string()),
        (-1e6..1e6f64).prop_map(|f| format!("{f:?}")),
        Just("\"Stopped\"".to_owned()),
        Just("'Runing'".to_owned()),
        Just("'a\\'b'".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("5s".to_owned()),
        Just("0ms".to_owned()),
    ]
}

/// Expression text from a loose grammar: fully parenthesized, so it always parses, but with no
/// regard for types, so compile sees every kind of mistake.
fn expression() -> impl Strategy<Value = String> {
    atom().prop_recursive(5, 48, 4, |inner| {
        let ops = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("=="),
            Just("!="),
            Just("<"),
            Just("<="),
            Just(">"),
            Just(">="),
            Just("&&"),
            Just("||"),
        ];
        let functions = prop_oneof![
            Just("abs"),
            Just("min"),
            Just("max"),
            Just("contains"),
            Just("starts_with"),
            Just("ends_with"),
            Just("held_for"),
            Just("abss"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("-{e}")),
            (functions, prop::collection::vec(inner, 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

/// Well-typed numeric expression text over the numeric channels.
fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop_oneof![
            Just("$1"),
            Just("$2"),
            Just("$5"),
            Just("$6"),
            Just("$7"),
            Just("$8"),
            Just("$10.led"),
            Just("$10")
        ]
        .prop_map(str::to_owned),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e3..1e3f64).prop_map(|f| format!("{f:?}")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let ops = prop_oneof![Just("+"), Just("-"), Just("*"), Just("/"), Just("%")];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("abs({e})")),
            prop::collection::vec(inner, 2..4).prop_map(|args| format!("max({})", args.join(", "))),
        ]
    })
}

/// Well-typed boolean expression text: every one must compile.
fn condition() -> impl Strategy<Value = String> {
    let cmp = prop_oneof![
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">=")
    ];
    let leaf = prop_oneof![
        (number(), cmp, number()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
        Just("$4".to_owned()),
        Just("$10.heater".to_owned()),
        Just("($9 == \"Running\")".to_owned()),
        Just("($9 != 1)".to_owned()),
        Just("contains($3, \"a\")".to_owned()),
        Just("($11 == \"ab\")".to_owned()),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} && {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} || {r})")),
            inner.clone().prop_map(|e| format!("!{e}")),
            (inner, 0..3u32).prop_map(|(e, s)| format!("held_for({e}, {s}s)")),
        ]
    })
}

fn value() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            any::<f64>().prop_map(Value::Double),
            any::<f32>().prop_map(Value::Float),
            "[a-zA-Z ]{0,6}".prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::Int32),
            any::<i64>().prop_map(Value::Int64),
            any::<u32>().prop_map(Value::Uint32),
            any::<u64>().prop_map(Value::Uint64),
            (0..3u32).prop_map(Value::Enum),
            any::<u64>().prop_map(Value::BitField),
            prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        ],
    )
}

/// One value (or none) for each channel of `channels()`, each of its channel's type.
fn typed_values() -> impl Strategy<Value = Vec<Option<Value>>> {
    fn some<S: Strategy<Value = Value>>(s: S) -> impl Strategy<Value = Option<Value>> {
        prop::option::weighted(0.9, s)
    }
    (
        (
            some(any::<f64>().prop_map(Value::Double)),
            some(any::<f32>().prop_map(Value::Float)),
            some("[a-c]{0,3}".prop_map(Value::String)),
            some(any::<bool>().prop_map(Value::Bool)),
            some(any::<i32>().prop_map(Value::Int32)),
            some(any::<i64>().prop_map(Value::Int64)),
        ),
        (
            some(any::<u32>().prop_map(Value::Uint32)),
            some(any::<u64>().prop_map(Value::Uint64)),
            some((0..3u32).prop_map(Value::Enum)),
            some(any::<u64>().prop_map(Value::BitField)),
            some(prop::collection::vec(97..100u8, 0..3).prop_map(Value::Bytes)),
        ),
    )
        .prop_map(|((a, b, c, d, e, f), (g, h, i, j, k))| vec![a, b, c, d, e, f, g, h, i, j, k])
}

/// A value of channel `index`'s type in `channels()`, for a row that must have one.
fn fallback(index: usize) -> Value {
    match index {
        0 => Value::Double(0.5),
        1 => Value::Float(-1.5),
        2 => Value::String("ab".into()),
        3 => Value::Bool(true),
        4 => Value::Int32(-7),
        5 => Value::Int64(i64::MAX),
        6 => Value::Uint32(7),
        7 => Value::Uint64(u64::MAX),
        8 => Value::Enum(1),
        9 => Value::BitField(0x80),
        _ => Value::Bytes(b"ab".to_vec()),
    }
}

fn assert_spans_inside(expr: &Expr, len: usize) {
    for reference in expr.references() {
        assert!(
            reference.span.start <= reference.span.end && reference.span.end <= len,
            "{reference:?} is outside 0..{len}"
        );
    }
    assert!(expr.span().end <= len);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_any_string(src in any::<String>()) {
        if let Err(diagnostics) = parse(&src) {
            prop_assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                prop_assert!(d.span.start <= d.span.end && d.span.end <= src.len(), "{d:?}");
                prop_assert!(!d.message.is_empty());
                let _ = d.render(&src);
            }
        }
    }

    #[test]
    fn parse_never_panics_on_expression_like_text(
        src in r#"[$0-9a-z_ .()'"\\+*/%<>=!&|,-]{0,60}"#
    ) {
        if let Ok(expr) = parse(&src) {
            assert_spans_inside(&expr, src.len());
        }
    }

    #[test]
    fn printing_reparses_to_the_same_tree(src in expression()) {
        let expr = parse(&src).map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let printed = expr.to_string();
        let again = parse(&printed).map_err(|d| TestCaseError::fail(format!("{printed}: {d:?}")))?;
        prop_assert_eq!(again.to_string(), printed);
        prop_assert_eq!(
            again.references().into_iter().map(|r| r.name).collect::<Vec<_>>(),
            expr.references().into_iter().map(|r| r.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn compile_and_eval_never_panic(
        src in expression(),
        values in prop::collection::vec(value(), 0..13),
        times in prop::collection::vec(any::<i64>(), 1..6),
    ) {
        let expr = parse(&src).map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        match compile(&expr, &channels()) {
            Ok(program) => {
                let inputs: Vec<Option<&Value>> = values.iter().map(Option::as_ref).collect();
                let mut state = program.new_state();
                for time in times {
                    let _ = program.eval(&mut state, time, &inputs);
                }
                // A state that does not belong to this program is tolerated too.
                let mut foreign = sextant_expr::EvalState::default();
                let _ = program.eval(&mut foreign, 0, &inputs);
            }
            Err(diagnostics) => {
                prop_assert!(!diagnostics.is_empty());
                for d in diagnostics {
                    prop_assert!(d.span.end <= src.len(), "{d:?} outside {src}");
                }
            }
        }
    }

    #[test]
    fn well_typed_conditions_compile_and_evaluate(
        src in condition(),
        values in typed_values(),
        times in prop::collection::vec(-5_000_000_000..5_000_000_000i64, 1..8),
    ) {
        let expr = parse(&src).map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let program = compile(&expr, &channels())
            .map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let all = channels();
        let inputs: Vec<Option<&Value>> = program
            .inputs()
            .iter()
            .map(|name| {
                let index = all.iter().position(|(n, _)| n == name).unwrap_or(0);
                values[index].as_ref()
            })
            .collect();
        let mut state = program.new_state();
        for time in times {
            let _ = program.eval(&mut state, time, &inputs);
        }
        let none: Vec<Option<&Value>> = vec![None; program.inputs().len()];
        let _ = program.eval(&mut program.new_state(), 0, &none);
    }

    #[test]
    fn evaluating_rows_at_once_agrees_with_evaluating_each_row(
        src in condition(),
        rows in prop::collection::vec(typed_values(), 0..6),
    ) {
        let expr = parse(&src).map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let program = compile(&expr, &channels())
            .map_err(|d| TestCaseError::fail(format!("{src}: {d:?}")))?;
        let all = channels();
        // Input j at row i: the row's value of the channel bound to input j.
        let columns: Vec<Vec<Point>> = program
            .inputs()
            .iter()
            .map(|name| {
                let index = all.iter().position(|(n, _)| n == name).unwrap_or(0);
                rows.iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let value = row[index].clone().unwrap_or_else(|| fallback(index));
                        Point::new(i as i64, value)
                    })
                    .collect()
            })
            .collect();
        let slices: Vec<&[Point]> = columns.iter().map(Vec::as_slice).collect();
        let Some(at_once) = program.eval_rows(&slices) else {
            prop_assert!(program.is_stateful(), "{src}: a stateless program is evaluated");
            return Ok(());
        };
        prop_assert!(!program.is_stateful());
        let expected_rows = if slices.is_empty() { 0 } else { rows.len() };
        prop_assert_eq!(at_once.len(), expected_rows);
        for (i, result) in at_once.iter().enumerate() {
            let inputs: Vec<Option<&Value>> = slices.iter().map(|c| Some(&c[i].value)).collect();
            let one = program.eval(&mut program.new_state(), i as i64, &inputs);
            prop_assert_eq!(*result, one, "{} at row {}", src, i);
        }
    }

    #[test]
    fn substitution_replaces_placeholders_and_keeps_spans_inside(
        src in expression(),
        sub in expression(),
    ) {
        let expr = parse(&src).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        let sub = parse(&sub).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        let subs = HashMap::from([("$mass".to_owned(), sub.clone())]);
        let replaced = expr.substitute(&subs);
        assert_spans_inside(&replaced, src.len());
        let placeholders_before = expr
            .references()
            .iter()
            .filter(|r| r.kind == ReferenceKind::Placeholder)
            .count();
        let channels_before = expr.references().len() - placeholders_before;
        let sub_refs = sub.references().len();
        prop_assert_eq!(
            replaced.references().len(),
            channels_before + placeholders_before * sub_refs
        );
        let _ = compile(&replaced, &channels());
    }
}
