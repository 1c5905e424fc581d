//! SignalFlow programs run: parse, build the stream graph and evaluate it, batch and live,
//! over a few series held in memory. Nothing may panic, whatever the program asks for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_signalflow::exec::live::{Live, LiveRequest};
use sextant_signalflow::exec::series::{Meta, MetricKind, stable_id, wildcard};
use sextant_signalflow::exec::time::Timeline;
use sextant_signalflow::exec::{Input, Primitive, Request, Source, StoredEvent};
use sextant_signalflow::{Job, parse};

/// Three series of metric `m` (a gauge, a counter, a cumulative counter, told apart by
/// `k`), one point a second for 20 seconds, and one event.
struct Memory;

fn inputs() -> Vec<Input> {
    [
        MetricKind::Gauge,
        MetricKind::Counter,
        MetricKind::CumulativeCounter,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, kind)| {
        let mut meta = Meta {
            metric: "m".into(),
            dims: [("k".to_string(), i.to_string())].into(),
            ..Meta::default()
        };
        meta.id = stable_id(&["m", &i.to_string()]);
        Input { meta, kind }
    })
    .collect()
}

fn value(series: usize, t: i64) -> f64 {
    ((t / 1000) as f64 * (series as f64 + 1.0)).sin() * 10.0 + (t / 1000) as f64
}

impl Source for Memory {
    fn find(&self, metric: &str) -> Result<Vec<Input>, String> {
        Ok(if wildcard(metric, "m") {
            inputs()
        } else {
            Vec::new()
        })
    }

    fn native_resolution(&self, _: &[&Input], _: i64, _: i64) -> Option<i64> {
        Some(1000)
    }

    fn rollup(
        &self,
        inputs: &[&Input],
        _: Primitive,
        tl: Timeline,
    ) -> Result<Vec<Vec<Option<f64>>>, String> {
        Ok(inputs
            .iter()
            .map(|i| {
                let s: usize = i.meta.dims["k"].parse().unwrap_or(0);
                (0..tl.len)
                    .map(|k| {
                        let t = tl.at(k);
                        (0..20_000).contains(&t).then(|| value(s, t))
                    })
                    .collect()
            })
            .collect())
    }

    fn points(
        &self,
        inputs: &[&Input],
        start: i64,
        end: i64,
    ) -> Result<Vec<Vec<(i64, f64)>>, String> {
        Ok(inputs
            .iter()
            .map(|i| {
                let s: usize = i.meta.dims["k"].parse().unwrap_or(0);
                (start.max(0)..end.min(20_000))
                    .step_by(1000)
                    .map(|t| (t, value(s, t)))
                    .collect()
            })
            .collect())
    }

    fn events(&self, _: &str, _: i64, _: i64) -> Result<Vec<StoredEvent>, String> {
        Ok(vec![StoredEvent {
            event_type: "e".into(),
            dims: [("k".to_string(), "0".to_string())].into(),
            properties: Default::default(),
            timestamp: 5000,
        }])
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(program) = parse(src) else {
        return;
    };
    let Ok(job) = Job::compile(&program) else {
        return;
    };
    let mut request = Request::new(0, 20_000);
    request.max_values = 100_000;
    let _ = job.run(&Memory, &request);
    let Ok(job) = Job::compile(&program) else {
        return;
    };
    let live = LiveRequest {
        start: 0,
        stop: Some(20_000),
        resolution: None,
        max_delay: 0,
        max_input_mts: 100,
        max_step_values: 100_000,
        resume: None,
    };
    if let Ok((mut live, _)) = Live::start(job, &Memory, &live, 10_500) {
        let places: Vec<_> = live.inputs().map(|(at, _)| at).collect();
        for (n, at) in places.iter().enumerate() {
            live.push(*at, 11_000 + n as i64, 1.0);
        }
        let _ = live.advance(i64::MAX, true);
    }
});
