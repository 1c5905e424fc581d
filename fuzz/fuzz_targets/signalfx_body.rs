//! SignalFx ingest bodies and metadata queries, as the server decodes them: datapoints and
//! events in protobuf and in JSON, and the search language of the REST API.
//!
//! Input: one byte choosing the decoder (0 datapoints protobuf, 1 datapoints JSON, 2 events
//! protobuf, 3 events JSON, else a search query), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_signalfx::{datapoint, event, query::Query};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    match choice % 5 {
        0 | 1 => {
            let decoded = if choice % 5 == 0 {
                datapoint::decode_protobuf(body)
            } else {
                datapoint::decode_json(body)
            };
            if let Ok(decoded) = decoded {
                for point in &decoded.points {
                    assert!(!point.metric.is_empty());
                    assert!(point.dimensions.iter().all(|(k, v)| !k.is_empty() && !v.is_empty()));
                }
                for bad in &decoded.refused {
                    assert!(!bad.reason.is_empty());
                }
            }
        }
        2 | 3 => {
            let decoded = if choice % 5 == 2 {
                event::decode_protobuf(body)
            } else {
                event::decode_json(body)
            };
            if let Ok(decoded) = decoded {
                for event in &decoded.events {
                    assert!(!event.event_type.is_empty());
                }
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body) {
                let _ = Query::parse(text);
            }
        }
    }
});
