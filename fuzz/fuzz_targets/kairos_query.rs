//! KairosDB query bodies (`POST /api/v1/datapoints/query` and friends): the JSON into a typed
//! query, then each metric's group-bys and aggregators run over a few small series, as the
//! server does when no aggregation is pushed down to storage.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sextant_kairos::query::AggregatorKind;
use sextant_kairos::{DataPoint, GroupKind, KValue, SeriesData, run_metric};

/// 2024-01-01T00:00:00Z in milliseconds.
const NOW: i64 = 1_704_067_200_000;

fn series() -> Vec<SeriesData> {
    let numbers = (0..8)
        .map(|i| {
            let v = if i % 3 == 0 {
                KValue::Long(i * 7 - 20)
            } else {
                KValue::Double(i as f64 * 1.5)
            };
            DataPoint::new(NOW - 3_600_000 + i * 450_000, v)
        })
        .collect();
    let texts = (0..3)
        .map(|i| DataPoint::new(NOW - 60_000 * i, KValue::Text(format!("s{i}"))))
        .collect();
    vec![
        SeriesData {
            tags: BTreeMap::from([("host".to_owned(), "a".to_owned())]),
            kind: GroupKind::Number,
            points: numbers,
        },
        SeriesData {
            tags: BTreeMap::from([("host".to_owned(), "b".to_owned())]),
            kind: GroupKind::Text,
            points: texts,
        },
    ]
}

fuzz_target!(|body: &[u8]| {
    let query = match sextant_kairos::query::parse(body, NOW) {
        Ok(query) => query,
        Err(e) => {
            assert!(!e.messages().is_empty());
            return;
        }
    };
    for metric in &query.metrics {
        for aggregator in &metric.aggregators {
            if let AggregatorKind::Range { spec, .. } = &aggregator.kind {
                let _ = spec.origin();
            }
        }
        // Never stopped: the fuzzer looks for panics and hangs, not deadlines.
        let _ = run_metric(&query, metric, NOW, series(), &|| Ok(()));
    }
});
