//! SignalFx ingest bodies and metadata queries, as the server decodes them: datapoints and
//! events in protobuf and in JSON, and the search language of the REST API.
//!
//! Input: one byte choosing the decoder (0 datapoints protobuf, 1 datapoints JSON, 2 events
//! protobuf, 3 events JSON, else a search query), then the body. Datapoints in protobuf also
//! go through the server's zero-copy reader (`fast`), twice: once learning every good point's
//! series text, once skipping the dimensions of those texts; both must agree with the owned
//! decoder on what is accepted and refused.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sextant_signalfx::{datapoint, event, fast, query::Query};

/// What the zero-copy reader made of a body: per point, accepted (with its dimensions) or
/// refused, by position.
fn read_fast(body: &[u8], learned: &mut HashMap<Vec<u8>, usize>) -> Option<Vec<Option<usize>>> {
    let mut seen = Vec::new();
    let mut scratch = fast::Scratch::default();
    let mut learn = Vec::new();
    let known = |text: &[u8]| learned.get(text).copied();
    let result = fast::for_each_point_known(body, &mut scratch, known, |p| match p {
        Ok(p) => {
            let dims = match p.known {
                Some(dims) => {
                    assert!(p.point.dimensions.is_empty());
                    dims
                }
                None => {
                    learn.push((p.text.to_vec(), p.point.dimensions.len()));
                    p.point.dimensions.len()
                }
            };
            seen.push(Some(dims));
        }
        Err(bad) => {
            assert!(!bad.reason.is_empty());
            seen.push(None);
        }
    });
    learned.extend(learn);
    result.ok().map(|()| seen)
}

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
            if choice % 5 == 0 {
                let mut learned = HashMap::new();
                let first = read_fast(body, &mut learned);
                let second = read_fast(body, &mut learned);
                assert_eq!(first, second);
                assert_eq!(first.is_some(), decoded.is_ok());
                if let (Some(first), Ok(decoded)) = (&first, &decoded) {
                    let accepted: Vec<usize> = first.iter().flatten().copied().collect();
                    let owned: Vec<usize> =
                        decoded.points.iter().map(|p| p.dimensions.len()).collect();
                    assert_eq!(accepted, owned);
                }
            }
            if let Ok(decoded) = decoded {
                for point in &decoded.points {
                    assert!(!point.metric.is_empty());
                    assert!(
                        point
                            .dimensions
                            .iter()
                            .all(|(k, v)| !k.is_empty() && !v.is_empty())
                    );
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
