//! Live subscriptions: a WebSocket's first message (a JSON subscription request), or else a
//! gRPC request body (a length-prefixed protobuf `SubscribeRequest`), checked into a spec, and
//! when it asks for windows, points derived from the rest of the input pushed through them:
//! nothing may panic, and windows keep their invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_api::live::SubscribeRequest;
use sextant_live::Spec;
use sextant_live::window::{Output, SeriesWindows};

fuzz_target!(|data: &[u8]| {
    // The request, then 0xff, then points as (i64 timestamp, i8 value) little-endian.
    let (json, points) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let request = match serde_json::from_slice::<SubscribeRequest>(json) {
        Ok(request) => request,
        Err(_) => match sextant_server::live::grpc::decode_request(json) {
            Ok(request) => SubscribeRequest::from(request),
            Err(_) => return,
        },
    };
    let Ok(spec) = Spec::from_request(&request) else {
        return;
    };
    let Some(window) = spec.window else {
        return;
    };
    assert!(window.size > 0 && window.slide > 0 && window.slide <= window.size);
    let mut windows = SeriesWindows::default();
    let mut out = Vec::new();
    for (i, chunk) in points.chunks_exact(9).enumerate() {
        let ts = i64::from_le_bytes(chunk[..8].try_into().unwrap_or_default());
        let value = (chunk[8] != 0x80).then_some(f64::from(chunk[8] as i8));
        windows.push(&window, ts, value, i as i64, &mut out);
        if i % 4 == 3 {
            windows.advance(&window, &mut out);
        }
    }
    windows.advance(&window, &mut out);
    windows.idle(&window, i64::MAX, &mut out);
    for o in &out {
        if let Output::Window {
            start, end, count, ..
        } = o
        {
            assert!(start < end && *count > 0);
        }
    }
});
