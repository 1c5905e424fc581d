//! Points per second through [`sextant_rules::evaluate`]: the alignment of a rule's inputs and
//! its evaluation over one round of new data, the work the live rule engine does for every rule
//! of an asset on every committed stream. Shapes follow the ingest benchmark's rules.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_expr::{ChannelSchema, Program, compile, parse};
use sextant_model::{DataType, EnumType, Point, Value};
use sextant_rules::{StreamState, evaluate};

/// Points per input per round: one stream of 10,000 flows at 1 kHz.
const POINTS: usize = 10_000;
const STEP: i64 = 1_000_000;

fn program(src: &str, types: &[ChannelSchema]) -> Program {
    let channels: Vec<(String, ChannelSchema)> = types
        .iter()
        .enumerate()
        .map(|(i, schema)| (format!("${}", i + 1), schema.clone()))
        .collect();
    let expr = parse(src).expect("bench expression parses");
    compile(&expr, &channels).expect("bench expression compiles")
}

/// `POINTS` points from `offset`, one every `STEP`, valued by `value(i)`.
fn series(offset: i64, value: impl Fn(usize) -> Value) -> Vec<Point> {
    (0..POINTS)
        .map(|i| Point::new(offset + i as i64 * STEP, value(i)))
        .collect()
}

fn sine(i: usize, period: f64, amplitude: f64) -> Value {
    Value::Double((i as f64 / period).sin() * amplitude)
}

fn bench_rule(c: &mut Criterion, name: &str, program: &Program, inputs: &[Vec<Point>]) {
    let total: usize = inputs.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut state = StreamState::new(program);
            black_box(evaluate(program, &mut state, black_box(inputs), None))
        })
    });
    group.finish();
}

fn rules(c: &mut Criterion) {
    let double = ChannelSchema::new(DataType::Double);
    let one = program("$1 > 90", std::slice::from_ref(&double));
    bench_rule(
        c,
        "double_threshold",
        &one,
        &[series(0, |i| sine(i, 300.0, 100.0))],
    );

    let both = program(
        "$1 > 3000 && $2",
        &[
            ChannelSchema::new(DataType::Int32),
            ChannelSchema::new(DataType::Bool),
        ],
    );
    bench_rule(
        c,
        "int_and_bool_one_flow",
        &both,
        &[
            series(0, |i| {
                Value::Int32(2048 + ((i as f64 / 200.0).sin() * 1500.0) as i32)
            }),
            series(0, |i| Value::Bool((i / 5000) % 2 == 1)),
        ],
    );

    let states = ChannelSchema::enumeration(vec![
        EnumType::new("idle", 0),
        EnumType::new("armed", 1),
        EnumType::new("firing", 2),
        EnumType::new("safe", 3),
    ]);
    let firing = program("$1 == \"firing\"", &[states]);
    bench_rule(
        c,
        "enum_by_name",
        &firing,
        &[series(0, |i| Value::Enum(((i / 1000) % 4) as u32))],
    );

    let spread = program("abs($1 - $2) > 150", &[double.clone(), double.clone()]);
    let a = series(0, |i| sine(i, 300.0, 100.0));
    let b = series(0, |i| sine(i + 70, 300.0, 100.0));
    bench_rule(c, "two_doubles_one_flow", &spread, &[a.clone(), b]);
    // The same rule over channels of two flows whose timestamps interleave.
    let b = series(STEP / 2, |i| sine(i + 70, 300.0, 100.0));
    bench_rule(c, "two_doubles_two_flows", &spread, &[a, b]);
}

criterion_group!(benches, rules);
criterion_main!(benches);
