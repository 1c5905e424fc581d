//! The public API as the telemetry crate and the live rule engine use it.

use std::collections::HashMap;
use std::error::Error;

use sextant_expr::{ChannelSchema, Diagnostic, ReferenceKind, Span, compile, parse};
use sextant_model::{BitFieldElement, DataType, EnumType, Value};

#[test]
fn a_named_expression_from_text_to_result() {
    let expr = parse("0.5 * $mass * $1 * $1 > $threshold").expect("parses");
    let refs = expr.references();
    let kinds: Vec<_> = refs.iter().map(|r| (r.name.as_str(), r.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("$mass", ReferenceKind::Placeholder),
            ("$1", ReferenceKind::Channel),
            ("$1", ReferenceKind::Channel),
            ("$threshold", ReferenceKind::Placeholder),
        ]
    );
    assert_eq!(refs[0].span, Span::new(6, 11));

    let subs = HashMap::from([
        ("$mass".to_owned(), parse("10").expect("parses")),
        ("$threshold".to_owned(), parse("470").expect("parses")),
    ]);
    let expr = expr.substitute(&subs);
    let channels = [("$1".to_owned(), ChannelSchema::new(DataType::Double))];
    let program = compile(&expr, &channels).expect("compiles");
    assert_eq!(program.inputs(), ["$1"]);
    assert!(!program.is_stateful());
    let mut state = program.new_state();
    assert_eq!(
        program.eval(&mut state, 0, &[Some(&Value::Double(10.0))]),
        Some(true)
    );
    assert_eq!(
        program.eval(&mut state, 0, &[Some(&Value::Double(9.0))]),
        Some(false)
    );
}

#[test]
fn diagnostics_are_errors_that_print_their_message() {
    let errors = parse("$1 > 3 &&").unwrap_err();
    let error: Box<dyn Error> = Box::new(errors[0].clone());
    assert_eq!(error.to_string(), "expected an expression after '&&'");
    assert_eq!(
        errors[0].render("$1 > 3 &&"),
        "expected an expression after '&&'\n  $1 > 3 &&\n         ^^"
    );
    let d = Diagnostic::new(Span::new(0, 1), "x");
    assert_eq!(d.span.to(Span::new(4, 5)), Span::new(0, 5));
}

#[test]
fn schema_constructors_carry_their_tables() {
    let schema = ChannelSchema::enumeration(vec![EnumType::new("Stopped", 0)]);
    assert_eq!(schema.data_type, DataType::Enum);
    let schema = ChannelSchema::bit_field(vec![BitFieldElement::new("heater", 7, 1)]);
    assert_eq!(schema.data_type, DataType::BitField);
    assert_eq!(schema.bit_field_elements.len(), 1);
}

#[test]
fn short_input_slices_and_foreign_states_are_tolerated() {
    let expr = parse("held_for($1 > 1, 1s) || $2").expect("parses");
    let channels = [
        ("$1".to_owned(), ChannelSchema::new(DataType::Int32)),
        ("$2".to_owned(), ChannelSchema::new(DataType::Bool)),
    ];
    let program = compile(&expr, &channels).expect("compiles");
    assert!(program.is_stateful());
    let mut foreign = sextant_expr::EvalState::default();
    assert_eq!(program.eval(&mut foreign, 0, &[]), None);
    let two = Value::Int32(2);
    assert_eq!(program.eval(&mut foreign, 0, &[Some(&two)]), None);
    assert_eq!(
        program.eval(&mut foreign, 1_000_000_000, &[Some(&two)]),
        Some(true)
    );
}

#[test]
fn states_are_independent_per_stream() {
    let expr = parse("held_for($1, 1s)").expect("parses");
    let channels = [("$1".to_owned(), ChannelSchema::new(DataType::Bool))];
    let program = compile(&expr, &channels).expect("compiles");
    let copy = program.clone();
    let on = Value::Bool(true);
    let (mut a, mut b) = (program.new_state(), copy.new_state());
    assert_eq!(program.eval(&mut a, 0, &[Some(&on)]), Some(false));
    assert_eq!(
        program.eval(&mut a, 1_000_000_000, &[Some(&on)]),
        Some(true)
    );
    assert_eq!(copy.eval(&mut b, 1_000_000_000, &[Some(&on)]), Some(false));
}

#[test]
fn programs_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<sextant_expr::Program>();
    assert_send_sync::<sextant_expr::EvalState>();
    assert_send_sync::<sextant_expr::Expr>();

    let expr = parse("$1 > 400").expect("parses");
    let channels = [("$1".to_owned(), ChannelSchema::new(DataType::Double))];
    let program = compile(&expr, &channels).expect("compiles");
    let shared = program.clone();
    let handle = std::thread::spawn(move || {
        let hot = Value::Double(500.0);
        shared.eval(&mut shared.new_state(), 0, &[Some(&hot)])
    });
    assert_eq!(handle.join().expect("thread ran"), Some(true));
    assert!(format!("{program:?}").contains("inputs: [\"$1\"]"));
}
