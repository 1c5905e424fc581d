//! The rule expression language: parse user text, then type-check it against a few bound
//! channels and evaluate it once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_expr::{ChannelSchema, compile, parse};
use sextant_model::{DataType, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(src) else {
        return;
    };
    let channels = [
        ("$1".to_owned(), ChannelSchema::new(DataType::Double)),
        ("$2".to_owned(), ChannelSchema::new(DataType::Int64)),
        ("$3".to_owned(), ChannelSchema::new(DataType::String)),
        ("$4".to_owned(), ChannelSchema::new(DataType::Bool)),
        ("$5".to_owned(), ChannelSchema::new(DataType::Uint32)),
    ];
    let Ok(program) = compile(&expr, &channels) else {
        return;
    };
    let values: Vec<Value> = program
        .inputs()
        .iter()
        .map(|name| match name.as_str() {
            "$1" => Value::Double(401.5),
            "$2" => Value::Int64(-3),
            "$3" => Value::String("on".to_owned()),
            "$4" => Value::Bool(true),
            _ => Value::Uint32(7),
        })
        .collect();
    let inputs: Vec<Option<&Value>> = values.iter().map(Some).collect();
    let mut state = program.new_state();
    for t in 0..3 {
        let _ = program.eval(&mut state, t * 1_000_000_000, &inputs);
    }
});
