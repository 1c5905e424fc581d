//! KairosDB ingest bodies (`POST /api/v1/datapoints`), as the handler reads them: optional gzip
//! (`Content-Encoding: gzip`), then the JSON into metrics and messages.
//!
//! Input: one byte of options (bit 0: gzip), then the body.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use sextant_server::kairos::body_bytes;

fuzz_target!(|data: &[u8]| {
    let Some((&options, body)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    if options & 1 != 0 {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let Ok(body) = body_bytes(&headers, body) else {
        return;
    };
    match sextant_kairos::ingest::parse(&body) {
        Ok(ingest) => {
            for metric in &ingest.metrics {
                assert!(!metric.points.is_empty());
                for (j, _) in &metric.points {
                    let _ = metric.point_path(*j);
                }
            }
        }
        Err(e) => assert!(!e.messages().is_empty()),
    }
});
