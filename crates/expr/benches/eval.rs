//! Evaluations per second of compiled rule expressions over typed values, the work the live rule
//! engine does for every ingested flow.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_expr::{ChannelSchema, Program, compile, parse};
use sextant_model::{BitFieldElement, DataType, EnumType, Value};

/// Input sets per iteration: enough variety that branch prediction cannot learn one answer.
const BATCH: usize = 1024;

fn program(src: &str, channels: &[(String, ChannelSchema)]) -> Program {
    let expr = parse(src).expect("bench expression parses");
    compile(&expr, channels).expect("bench expression compiles")
}

/// Deterministic pseudo-random numbers, so runs compare.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn five_terms(c: &mut Criterion) {
    let channels = vec![
        ("$1".to_owned(), ChannelSchema::new(DataType::Double)),
        (
            "$2".to_owned(),
            ChannelSchema::enumeration(vec![
                EnumType::new("Stopped", 0),
                EnumType::new("Accelerating", 1),
                EnumType::new("Decelerating", 2),
            ]),
        ),
        (
            "$3".to_owned(),
            ChannelSchema::bit_field(vec![
                BitFieldElement::new("12v", 0, 1),
                BitFieldElement::new("led", 3, 4),
                BitFieldElement::new("heater", 7, 1),
            ]),
        ),
        ("$4".to_owned(), ChannelSchema::new(DataType::Double)),
        ("$5".to_owned(), ChannelSchema::new(DataType::Int32)),
    ];
    let src = r#"$1 > 400 && $2 == "Stopped" && $3.heater == 1 && abs($4) < 2.5 || $5 < 10"#;
    let program = program(src, &channels);

    let mut seed = 42;
    let rows: Vec<[Value; 5]> = (0..BATCH)
        .map(|_| {
            [
                Value::Double(300.0 + (lcg(&mut seed) % 200) as f64),
                Value::Enum((lcg(&mut seed) % 3) as u32),
                Value::BitField(lcg(&mut seed) & 0xff),
                Value::Double((lcg(&mut seed) % 600) as f64 / 100.0 - 3.0),
                Value::Int32((lcg(&mut seed) % 40) as i32),
            ]
        })
        .collect();
    let inputs: Vec<[Option<&Value>; 5]> = rows
        .iter()
        .map(|r| {
            [
                Some(&r[0]),
                Some(&r[1]),
                Some(&r[2]),
                Some(&r[3]),
                Some(&r[4]),
            ]
        })
        .collect();

    let mut group = c.benchmark_group("eval");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("five_terms", |b| {
        let mut state = program.new_state();
        b.iter(|| {
            let mut trues = 0u32;
            for (i, row) in inputs.iter().enumerate() {
                if program.eval(&mut state, i as i64, black_box(row)) == Some(true) {
                    trues += 1;
                }
            }
            trues
        });
    });

    // Telemetry usually changes slowly between flows; the same row over and over shows the
    // evaluator's own cost once branch prediction has learned the answer.
    let steady: Vec<[Option<&Value>; 5]> = vec![inputs[0]; BATCH];
    group.bench_function("five_terms_steady", |b| {
        let mut state = program.new_state();
        b.iter(|| {
            let mut trues = 0u32;
            for (i, row) in steady.iter().enumerate() {
                if program.eval(&mut state, i as i64, black_box(row)) == Some(true) {
                    trues += 1;
                }
            }
            trues
        });
    });

    let held = program_held(&channels);
    group.bench_function("five_terms_held_for", |b| {
        let mut state = held.new_state();
        let mut time = 0i64;
        b.iter(|| {
            let mut trues = 0u32;
            for row in &inputs {
                time += 1_000_000;
                if held.eval(&mut state, time, black_box(row)) == Some(true) {
                    trues += 1;
                }
            }
            trues
        });
    });
    group.finish();
}

fn program_held(channels: &[(String, ChannelSchema)]) -> Program {
    program(
        r#"held_for($1 > 400 && $2 == "Stopped" && $3.heater, 5ms) || abs($4) < 2.5 && $5 < 10"#,
        channels,
    )
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = five_terms
}
criterion_main!(benches);
