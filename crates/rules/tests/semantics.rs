//! Rule semantics, one row per case: channels, an expression, points arriving in batches, and
//! the ranges where the rule holds (`[start, end)`, `None` for still open).

use sextant_expr::{ChannelSchema, Program, compile, parse};
use sextant_model::{BitFieldElement, DataType, EnumType, Point, Value};
use sextant_rules::{StreamState, evaluate, ranges};
use sextant_telemetry::{
    ChannelConfig, NamedExpression, NamedExpressions, RuleConfig, TelemetryConfig, validate_config,
};

type Ranges = Vec<(i64, Option<i64>)>;

fn thrust_enum() -> ChannelSchema {
    ChannelSchema::enumeration(vec![
        EnumType {
            name: "Stopped".into(),
            key: 0,
            is_signed: false,
        },
        EnumType {
            name: "Accelerating".into(),
            key: 1,
            is_signed: false,
        },
    ])
}

fn status_bits() -> ChannelSchema {
    ChannelSchema::bit_field(vec![
        BitFieldElement {
            name: "heater".into(),
            index: 7,
            bit_count: 1,
        },
        BitFieldElement {
            name: "led".into(),
            index: 3,
            bit_count: 4,
        },
    ])
}

fn program(expression: &str, channels: &[ChannelSchema]) -> Program {
    let expr = parse(expression).unwrap_or_else(|e| panic!("{expression}: {e:?}"));
    let bound: Vec<(String, ChannelSchema)> = channels
        .iter()
        .enumerate()
        .map(|(i, schema)| (format!("${}", i + 1), schema.clone()))
        .collect();
    compile(&expr, &bound).unwrap_or_else(|e| panic!("{expression}: {e:?}"))
}

/// Feeds `batches` (each a list of (input index, time, value)) one after another, like
/// successive commits, and collects the ranges.
fn run(program: &Program, inputs: usize, batches: &[Vec<(usize, i64, Value)>]) -> Ranges {
    let mut state = StreamState::new(program);
    let mut transitions = Vec::new();
    for batch in batches {
        let mut per_input: Vec<Vec<Point>> = vec![Vec::new(); inputs];
        for (input, time, value) in batch {
            per_input[*input].push(Point::new(*time, value.clone()));
        }
        for points in &mut per_input {
            points.sort_by_key(|p| p.timestamp);
        }
        transitions.extend(evaluate(program, &mut state, &per_input, None));
    }
    ranges(&transitions, None)
}

fn d(v: f64) -> Value {
    Value::Double(v)
}

#[test]
fn table() {
    let double = ChannelSchema::new(DataType::Double);
    let int32 = ChannelSchema::new(DataType::Int32);
    let string = ChannelSchema::new(DataType::String);
    // (what, expression, channels, batches, expected ranges)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        &str,
        &str,
        Vec<ChannelSchema>,
        Vec<Vec<(usize, i64, Value)>>,
        Ranges,
    )> = vec![
        (
            "one channel crossing a threshold twice",
            "$1 > 400",
            vec![double.clone()],
            vec![vec![
                (0, 1, d(300.0)),
                (0, 2, d(401.0)),
                (0, 3, d(450.0)),
                (0, 4, d(399.0)),
                (0, 5, d(500.0)),
            ]],
            vec![(2, Some(4)), (5, None)],
        ),
        (
            "true from the first value opens at once",
            "$1 > 400",
            vec![double.clone()],
            vec![vec![(0, 10, d(401.0)), (0, 20, d(1.0))]],
            vec![(10, Some(20))],
        ),
        (
            "a range spans batches",
            "$1 > 400",
            vec![double.clone()],
            vec![
                vec![(0, 1, d(500.0))],
                vec![(0, 2, d(600.0))],
                vec![(0, 3, d(100.0))],
            ],
            vec![(1, Some(3))],
        ),
        (
            "two channels aligned on the latest value of each",
            "$1 > 400 && $2 < 10",
            vec![double.clone(), int32.clone()],
            vec![vec![
                (0, 1, d(500.0)),
                (1, 2, Value::Int32(5)),
                (0, 3, d(450.0)),
                (1, 4, Value::Int32(20)),
                (1, 6, Value::Int32(3)),
                (0, 7, d(100.0)),
            ]],
            // Unknown at 1 ($2 has no value), true from 2, false at 4, true at 6, false at 7.
            vec![(2, Some(4)), (6, Some(7))],
        ),
        (
            "a channel with no value yet keeps the rule unknown, not false",
            "$1 > 400 || $2 > 400",
            vec![double.clone(), double.clone()],
            vec![vec![(0, 1, d(1.0)), (0, 2, d(500.0)), (0, 3, d(1.0))]],
            // At 3: false || unknown is unknown, so the range stays open.
            vec![(2, None)],
        ),
        (
            "points of several channels at one timestamp are evaluated once, together",
            "$1 > 400 && $2 > 400",
            vec![double.clone(), double.clone()],
            vec![vec![
                (0, 1, d(500.0)),
                (1, 1, d(500.0)),
                (0, 2, d(1.0)),
                (1, 2, d(1.0)),
            ]],
            vec![(1, Some(2))],
        ),
        (
            "enum by name",
            "$1 == \"Accelerating\"",
            vec![thrust_enum()],
            vec![vec![
                (0, 1, Value::Enum(0)),
                (0, 2, Value::Enum(1)),
                (0, 3, Value::Enum(1)),
                (0, 4, Value::Enum(0)),
            ]],
            vec![(2, Some(4))],
        ),
        (
            "bit-field elements: a 1-bit element as a boolean, a wider one compared",
            "$1.heater && $1.led >= 8",
            vec![status_bits()],
            vec![vec![
                (0, 1, Value::BitField(0b1000_0000)),
                (0, 2, Value::BitField(0b1100_0000)),
                (0, 3, Value::BitField(0b0100_0000)),
            ]],
            // led is bits 3..7: 0b1100_0000 >> 3 & 0xF = 8.
            vec![(2, Some(3))],
        ),
        (
            "strings",
            "contains($1, \"fault\")",
            vec![string.clone()],
            vec![vec![
                (0, 1, Value::String("ok".into())),
                (0, 2, Value::String("fault: valve".into())),
                (0, 3, Value::String("ok".into())),
            ]],
            vec![(2, Some(3))],
        ),
        (
            "points within a batch out of order are evaluated in time order",
            "$1 > 400",
            vec![double.clone()],
            vec![vec![(0, 3, d(1.0)), (0, 1, d(500.0)), (0, 2, d(600.0))]],
            vec![(1, Some(3))],
        ),
        (
            "a late point (at or before what was evaluated) is skipped",
            "$1 > 400",
            vec![double.clone()],
            vec![
                vec![(0, 10, d(1.0)), (0, 20, d(1.0))],
                vec![(0, 15, d(500.0)), (0, 20, d(500.0))],
                vec![(0, 30, d(500.0)), (0, 40, d(1.0))],
            ],
            vec![(30, Some(40))],
        ),
        (
            "held_for needs the condition sustained",
            "held_for($1 > 400, 5ns)",
            vec![double.clone()],
            vec![vec![
                (0, 0, d(500.0)),
                (0, 3, d(500.0)),
                (0, 6, d(500.0)),
                (0, 7, d(1.0)),
                (0, 8, d(500.0)),
                (0, 9, d(500.0)),
            ]],
            vec![(6, Some(7))],
        ),
        (
            "a value of the wrong kind counts as missing",
            "$1 > 400",
            vec![double.clone()],
            vec![vec![
                (0, 1, d(500.0)),
                (0, 2, Value::String("x".into())),
                (0, 3, d(1.0)),
            ]],
            vec![(1, Some(3))],
        ),
    ];
    for (what, expression, channels, batches, expected) in cases {
        let program = program(expression, &channels);
        assert_eq!(
            run(&program, channels.len(), &batches),
            expected,
            "{what}: {expression}"
        );
    }
}

#[test]
fn named_expressions_and_sub_expressions() {
    let velocity = ChannelConfig::new("velocity", DataType::Double).component("mainmotor");
    let rule = RuleConfig::review("kinetic_energy", "")
        .named_expression("kinetic_energy_gt")
        .client_key("ke")
        .channel_reference("$1", &velocity)
        .sub_expression("$mass", "10")
        .sub_expression("$threshold", "470");
    let config = TelemetryConfig::new("NostromoLV426", "k")
        .channel(velocity.clone())
        .rule(rule);
    let mut named = NamedExpressions::new();
    named.insert(
        "kinetic_energy_gt",
        NamedExpression {
            text: "0.5 * $mass * $1 * $1 > $threshold".into(),
            origin: None,
        },
    );
    let valid = validate_config(&config, &named).unwrap_or_else(|p| panic!("{p}"));
    let program = &valid.rules()[0].program;
    // 0.5 * 10 * 9.6² = 460.8 (false), 9.8² → 480.2 (true).
    let got = run(
        program,
        1,
        &[vec![(0, 1, d(9.6)), (0, 2, d(9.8)), (0, 3, d(9.6))]],
    );
    assert_eq!(got, vec![(2, Some(3))]);
}
