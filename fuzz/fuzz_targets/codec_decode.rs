//! The column codecs of part blocks: a timestamp column or a value column of any data type,
//! decoded from arbitrary bytes; whatever decodes to at most [`ROUND_TRIP_MAX`] values must
//! encode and decode again to as many values. Larger columns (a few bytes can declare up to
//! 2^20 values) are only decoded: re-encoding them with the compressor's search costs far more
//! than decoding, and would slow the fuzzer to a crawl without testing the decoder more.
//!
//! Input: one byte choosing the column (0..=10 a data type, else timestamps), then its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_model::DataType;
use sextant_storage::codec;

/// The most values a decoded column may hold for the round trip to be checked.
const ROUND_TRIP_MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match DataType::ALL.get(usize::from(which % 12)) {
        Some(&data_type) => {
            let Ok(column) = codec::decode(data_type, bytes) else {
                return;
            };
            if column.len() > ROUND_TRIP_MAX {
                return;
            }
            let mut out = Vec::new();
            if codec::encode(&column, &mut out).is_ok() {
                let again = codec::decode(data_type, &out).expect("re-encoded column decodes");
                assert_eq!(again.len(), column.len());
            }
        }
        None => {
            let Ok(timestamps) = codec::decode_timestamps(bytes) else {
                return;
            };
            if timestamps.len() > ROUND_TRIP_MAX {
                return;
            }
            let mut out = Vec::new();
            if codec::encode_timestamps(&timestamps, &mut out).is_ok() {
                let again = codec::decode_timestamps(&out).expect("re-encoded timestamps decode");
                assert_eq!(again, timestamps);
            }
        }
    }
});
