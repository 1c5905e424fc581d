//! Property tests of the column codecs: every column decodes to exactly what was encoded, and
//! no input, however corrupt, makes a decoder panic.

use proptest::collection::vec;
use proptest::prelude::*;
use sextant_model::DataType;
use sextant_storage::codec::{self, Column, Effort, Error, Order};

const BLOCK_POINTS: usize = 16_384;

/// Encodes `column` with each effort and checks that it decodes to the same values.
fn round_trip(column: &Column) {
    for effort in [Effort::Thorough, Effort::Quick] {
        let mut bytes = Vec::new();
        codec::encode_with(column, Order::Time, effort, &mut bytes).unwrap();
        let decoded = codec::decode(column.data_type(), &bytes).unwrap();
        assert!(
            same(column, &decoded),
            "{:?} column of {} values did not round-trip ({effort:?})",
            column.data_type(),
            column.len()
        );
    }
}

/// Equality that compares floats by their bits, so NaN payloads and -0.0 count.
fn same(a: &Column, b: &Column) -> bool {
    match (a, b) {
        (Column::Double(a), Column::Double(b)) => a
            .iter()
            .map(|v| v.to_bits())
            .eq(b.iter().map(|v| v.to_bits())),
        (Column::Float(a), Column::Float(b)) => a
            .iter()
            .map(|v| v.to_bits())
            .eq(b.iter().map(|v| v.to_bits())),
        _ => a == b,
    }
}

fn timestamps_round_trip(timestamps: &[i64]) {
    for effort in [Effort::Thorough, Effort::Quick] {
        let mut bytes = Vec::new();
        codec::encode_timestamps_with(timestamps, effort, &mut bytes).unwrap();
        assert_eq!(
            codec::decode_timestamps(&bytes).unwrap(),
            timestamps,
            "{effort:?}"
        );
    }
}

/// Doubles mixing every bit pattern (NaN payloads included), edge values and 2-decimal values,
/// so both the decimal and the plain pco codecs are exercised.
fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            1e300,
        ]),
        (-1_000_000i64..1_000_000).prop_map(|k| k as f64 / 100.0),
    ]
}

fn float() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f32::NAN,
            f32::from_bits(0xffc0_1234),
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN,
            f32::MAX,
        ]),
        (-100_000i64..100_000).prop_map(|k| k as f32 / 10.0),
    ]
}

/// Columns whose values are all decimals, the decimal codec's case, of up to `max` values.
fn decimal_doubles(max: usize) -> impl Strategy<Value = Vec<f64>> {
    (0u32..=9, vec(-1_000_000_000i64..1_000_000_000, 0..max)).prop_map(|(d, ks)| {
        ks.into_iter()
            .map(|k| k as f64 / 10f64.powi(d as i32))
            .collect()
    })
}

/// Mostly decimals with an odd value here and there, which the decimal codec sets aside.
fn decimals_with_odd_ones() -> impl Strategy<Value = Vec<f64>> {
    (
        decimal_doubles(3_000),
        vec((any::<prop::sample::Index>(), double()), 0..12),
    )
        .prop_map(|(mut values, odd)| {
            if !values.is_empty() {
                for (at, value) in odd {
                    let i = at.index(values.len());
                    values[i] = value;
                }
            }
            values
        })
}

fn decimal_floats() -> impl Strategy<Value = Vec<f32>> {
    (
        0u32..=9,
        vec(-1_000_000i64..1_000_000, 0..1_000),
        vec(float(), 0..3),
    )
        .prop_map(|(d, ks, odd)| {
            let mut values: Vec<f32> = ks
                .into_iter()
                .map(|k| k as f32 / 10f32.powi(d as i32))
                .collect();
            values.extend(odd);
            values
        })
}

/// Smooth signals long enough for the encoder to try a fitted predictor (pco's Conv1).
fn smooth_signal() -> impl Strategy<Value = Column> {
    (
        1_024usize..3_000,
        1.0f64..2_000.0,
        0.001f64..0.05,
        0.0f64..3.0,
        any::<bool>(),
    )
        .prop_map(|(len, amplitude, step, noise, decimal)| {
            let wave =
                |i: usize| amplitude * (i as f64 * step).sin() + noise * (i as f64 * 7.3).sin();
            if decimal {
                Column::Double(
                    (0..len)
                        .map(|i| (wave(i) * 100.0).round() / 100.0)
                        .collect(),
                )
            } else {
                Column::Int32((0..len).map(|i| wave(i).round() as i32).collect())
            }
        })
}

/// Values in runs of random lengths, so the runs codecs are exercised as well as pco.
fn in_runs<T: Clone + std::fmt::Debug>(
    value: impl Strategy<Value = T>,
    max_runs: usize,
) -> impl Strategy<Value = Vec<T>> {
    vec((value, prop_oneof![1usize..4, 1usize..2_000]), 0..max_runs).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()
    })
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        vec(any::<String>(), 0..100),
        vec(
            prop::sample::select(vec!["", "idle", "running", "fault: überhitzt", "停止", "🛰"]),
            0..300
        )
        .prop_map(|v| v.into_iter().map(String::from).collect()),
    ]
}

fn column() -> impl Strategy<Value = Column> {
    prop_oneof![
        vec(double(), 0..300).prop_map(Column::Double),
        decimal_doubles(300).prop_map(Column::Double),
        decimals_with_odd_ones().prop_map(Column::Double),
        vec(float(), 0..300).prop_map(Column::Float),
        decimal_floats().prop_map(Column::Float),
        smooth_signal(),
        vec(any::<i32>(), 0..300).prop_map(Column::Int32),
        vec(any::<i64>(), 0..300).prop_map(Column::Int64),
        vec(any::<u32>(), 0..300).prop_map(Column::Uint32),
        vec(any::<u64>(), 0..300).prop_map(Column::Uint64),
        in_runs(any::<bool>(), 20).prop_map(Column::Bool),
        vec(any::<bool>(), 0..300).prop_map(Column::Bool),
        in_runs(prop_oneof![0u32..8, Just(u32::MAX)], 20).prop_map(Column::Enum),
        vec(any::<u32>(), 0..300).prop_map(Column::Enum),
        in_runs(prop_oneof![any::<u64>(), Just(u64::MAX)], 20).prop_map(Column::BitField),
        vec(any::<u64>(), 0..300).prop_map(Column::BitField),
        texts().prop_map(Column::String),
        vec(vec(any::<u8>(), 0..40), 0..100).prop_map(Column::Bytes),
        vec(
            prop::sample::select(vec![vec![], vec![0u8], vec![0xff; 3]]),
            0..300
        )
        .prop_map(Column::Bytes),
    ]
}

fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        vec(any::<i64>(), 0..300),
        (
            any::<i64>(),
            prop_oneof![
                Just(1_000_000i64),
                Just(10_000_000_000i64),
                1i64..1_000_000_000
            ],
            vec(
                prop_oneof![9 => Just(0i64), 1 => -5_000i64..5_000],
                0..2_000
            ),
        )
            .prop_map(|(start, interval, jitter)| {
                (0..jitter.len() as i64)
                    .map(|i| {
                        start
                            .wrapping_add(i.wrapping_mul(interval))
                            .wrapping_add(jitter[i as usize])
                    })
                    .collect()
            }),
    ]
}

proptest! {
    #[test]
    fn every_column_round_trips(column in column()) {
        round_trip(&column);
    }

    #[test]
    fn timestamps_round_trip_exactly(timestamps in timestamps()) {
        timestamps_round_trip(&timestamps);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..200), header in any::<[u8; 3]>()) {
        // Once as they are, once behind a plausible header, so payload decoders are reached.
        for data_type in DataType::ALL {
            let _ = codec::decode(data_type, &bytes);
            let mut framed = vec![0x10 | (header[0] % 6), type_byte(data_type), header[2] % 64];
            framed.extend_from_slice(&bytes);
            let _ = codec::decode(data_type, &framed);
        }
        let _ = codec::decode_timestamps(&bytes);
        let mut framed = vec![0x11, 0, header[2] % 64];
        framed.extend_from_slice(&bytes);
        let _ = codec::decode_timestamps(&framed);
    }

    #[test]
    fn damaged_encodings_never_panic(
        column in column(),
        cut in any::<prop::sample::Index>(),
        flips in vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = Vec::new();
        codec::encode(&column, &mut bytes).unwrap();
        let data_type = column.data_type();
        let _ = codec::decode(data_type, &bytes[..cut.index(bytes.len() + 1)]);
        let mut flipped = bytes.clone();
        for (at, bit) in flips {
            let i = at.index(flipped.len());
            flipped[i] ^= 1 << bit;
        }
        let _ = codec::decode(data_type, &flipped);
    }

    #[test]
    fn damaged_signals_never_panic(
        column in smooth_signal(),
        flips in vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        // Smooth signals are where the encoder keeps pco's Conv1 predictor, whose metadata
        // (weights, bias) is then what the flips damage.
        let mut bytes = Vec::new();
        codec::encode(&column, &mut bytes).unwrap();
        for (at, bit) in flips {
            let i = at.index(bytes.len().min(64));
            bytes[i] ^= 1 << bit;
        }
        let _ = codec::decode(column.data_type(), &bytes);
    }

    #[test]
    fn damaged_timestamps_never_panic(
        timestamps in timestamps(),
        cut in any::<prop::sample::Index>(),
        flips in vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = Vec::new();
        codec::encode_timestamps(&timestamps, &mut bytes).unwrap();
        let _ = codec::decode_timestamps(&bytes[..cut.index(bytes.len() + 1)]);
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let _ = codec::decode_timestamps(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn full_blocks_round_trip(
        column in prop_oneof![
            vec(double(), BLOCK_POINTS).prop_map(Column::Double),
            decimal_doubles(BLOCK_POINTS + 1).prop_map(Column::Double),
            vec(float(), BLOCK_POINTS).prop_map(Column::Float),
            vec(any::<i32>(), BLOCK_POINTS).prop_map(Column::Int32),
            vec(any::<u64>(), BLOCK_POINTS).prop_map(Column::Uint64),
            in_runs(any::<bool>(), 40).prop_map(Column::Bool),
            in_runs(0u32..8, 40).prop_map(Column::Enum),
            vec(prop::sample::select(vec!["a".to_string(), "ß".repeat(20), String::new()]), BLOCK_POINTS)
                .prop_map(Column::String),
        ],
        timestamps in vec(any::<i64>(), BLOCK_POINTS),
    ) {
        round_trip(&column);
        timestamps_round_trip(&timestamps);
    }
}

/// The element type byte of the header for `data_type` (see docs/format/codecs.md).
fn type_byte(data_type: DataType) -> u8 {
    match data_type {
        DataType::Double => 1,
        DataType::Float => 2,
        DataType::Int32 => 3,
        DataType::Int64 => 4,
        DataType::Uint32 => 5,
        DataType::Uint64 => 6,
        DataType::Bool => 7,
        DataType::Enum => 8,
        DataType::BitField => 9,
        DataType::String => 10,
        DataType::Bytes => 11,
    }
}

#[test]
fn edge_values_round_trip_in_every_type() {
    let columns = [
        Column::Double(vec![
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
        ]),
        Column::Double(vec![-0.0]),
        Column::Double(vec![0.1 + 0.2, 0.3]),
        Column::Double(vec![1.5, 2.25, -7.125, 1e15]),
        Column::Float(vec![
            f32::NAN,
            f32::from_bits(0x7fc0_0001),
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
        ]),
        Column::Int32(vec![i32::MIN, i32::MAX, 0, -1]),
        Column::Int64(vec![i64::MIN, i64::MAX, 0, -1]),
        Column::Uint32(vec![u32::MAX, 0]),
        Column::Uint64(vec![u64::MAX, 0, u64::MAX]),
        Column::Bool(vec![true]),
        Column::Bool(vec![false; BLOCK_POINTS]),
        Column::Enum(vec![u32::MAX; 3]),
        Column::BitField(vec![u64::MAX, u64::MAX, 0]),
        Column::String(vec![String::new()]),
        Column::String(vec![
            "ünïcödé ✓".into(),
            String::new(),
            "ünïcödé ✓".into(),
            "🛰".into(),
        ]),
        Column::Bytes(vec![vec![], vec![0, 255], vec![]]),
    ];
    for column in &columns {
        round_trip(column);
    }
    for data_type in DataType::ALL {
        round_trip(&Column::new(data_type));
    }
    for timestamps in [&[][..], &[i64::MIN], &[i64::MIN, i64::MAX, 0, -1]] {
        timestamps_round_trip(timestamps);
    }
}

#[test]
fn decoding_checks_the_data_type() {
    let mut bytes = Vec::new();
    codec::encode(&Column::Int32(vec![1, 2, 3]), &mut bytes).unwrap();
    let err = codec::decode(DataType::Uint32, &bytes).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupt {
                column: "uint32",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("holds int32 values"), "{err}");
    assert!(codec::decode_timestamps(&bytes).is_err());
}

#[test]
fn errors_quote_what_they_found() {
    let cases: [(&[u8], &str); 5] = [
        (&[], "shorter than its 3-byte minimum header"),
        (
            &[0x21, 0, 0],
            "unsupported layout version 2 in first byte 0x21",
        ),
        (&[0x1f, 0, 0], "unknown codec id 15 in first byte 0x1f"),
        (
            &[0x11, 0, 0x80, 0x80, 0x80, 0x01],
            "value count 2097152 exceeds the limit",
        ),
        (
            &[0x11, 0, 0, 0xab],
            "1 unexpected bytes after the payload, starting [ab]",
        ),
    ];
    for (bytes, expected) in cases {
        let err = codec::decode_timestamps(bytes).unwrap_err().to_string();
        assert!(err.contains(expected), "{bytes:02x?}: {err}");
    }
}

#[test]
fn too_many_values_are_refused() {
    let mut bytes = Vec::new();
    let err = codec::encode_timestamps(&vec![0; codec::MAX_POINTS + 1], &mut bytes).unwrap_err();
    assert!(matches!(err, Error::Encode { .. }), "{err}");
    assert!(bytes.is_empty());
}

#[test]
fn decode_into_appends_and_keeps_values_on_error() {
    let mut first = Vec::new();
    codec::encode(&Column::Double(vec![1.25, 2.5]), &mut first).unwrap();
    let mut second = Vec::new();
    codec::encode(&Column::Double(vec![f64::NAN]), &mut second).unwrap();
    let mut column = Column::new(DataType::Double);
    codec::decode_into(&first, &mut column).unwrap();
    codec::decode_into(&second, &mut column).unwrap();
    let Column::Double(values) = &column else {
        unreachable!()
    };
    assert_eq!(values[..2], [1.25, 2.5]);
    assert!(values[2].is_nan());
    assert!(codec::decode_into(&second[..second.len() - 1], &mut column).is_err());
    assert_eq!(column.len(), 3);

    // Runs that describe fewer values than the header's count fail after appending some.
    let mut bools = Column::Bool(vec![true]);
    let short_runs = [0x12, 0x07, 0x05, 0x01, 0x02];
    assert!(codec::decode_into(&short_runs, &mut bools).is_err());
    assert_eq!(bools, Column::Bool(vec![true]));
}
