//! The data of a SignalFlow job: series from the query crate, their SignalFx metadata (metric
//! type, custom properties and tags inherited from dimensions) from the SignalFx index, and
//! custom events from the catalog.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{Array, Float64Array, UInt64Array};
use sextant_catalog::{Catalog, SfxEventFilter, SfxPropertyValue};
use sextant_query::{Agg, Aggregation, Buckets, Order, Reader, Scan, Selector, Series, SeriesRef};
use sextant_signalflow::exec::series::{Meta, MetricKind, TsId, ts_id_from_text, wildcard};
use sextant_signalflow::exec::time::Timeline;
use sextant_signalflow::exec::{Input, Primitive, Source, StoredEvent};
use sextant_storage::Store;

use crate::signalfx::index::{OrgIndex, mts_id};

/// Nanoseconds per millisecond.
const NS: i64 = 1_000_000;

/// Input series sampled to find the native resolution.
const SAMPLED_SERIES: usize = 8;

/// Points per sampled series.
const SAMPLED_POINTS: usize = 64;

/// One organization's data, for one job.
pub struct StoreSource {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The catalog, for events.
    pub catalog: Arc<dyn Catalog>,
    /// The organization.
    pub org: sextant_model::OrgId,
    /// Its id in the catalog.
    pub org_id: String,
    /// Its SignalFx metadata.
    pub index: Arc<OrgIndex>,
    /// The series each input stands for, by position in the inputs found so far.
    series: parking_lot::Mutex<HashMap<TsId, SeriesRef>>,
    /// Asked before each series read, once set: a batch computation's deadline.
    stop: std::sync::OnceLock<Box<dyn Fn() -> Result<(), String> + Send + Sync>>,
}

impl std::fmt::Debug for StoreSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSource")
            .field("org_id", &self.org_id)
            .finish_non_exhaustive()
    }
}

impl StoreSource {
    /// A source of `org`'s data.
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<dyn Catalog>,
        org: sextant_model::OrgId,
        org_id: String,
        index: Arc<OrgIndex>,
    ) -> StoreSource {
        StoreSource {
            store,
            catalog,
            org,
            org_id,
            index,
            series: parking_lot::Mutex::new(HashMap::new()),
            stop: std::sync::OnceLock::new(),
        }
    }

    /// From now on, every read asks `proceed` first and fails with its reason once it says
    /// no (see [`Reader::stopping_when`]). Set once; later calls are ignored.
    pub fn stop_when(&self, proceed: Box<dyn Fn() -> Result<(), String> + Send + Sync>) {
        let _ = self.stop.set(proceed);
    }

    fn reader(&self) -> Reader<'_> {
        let reader = Reader::new(self.store.as_ref(), self.org);
        match self.stop.get() {
            Some(proceed) => reader.stopping_when(proceed.as_ref()),
            None => reader,
        }
    }

    /// The series of `inputs`, as `find` listed them; an input it did not list has none.
    fn refs(&self, inputs: &[&Input]) -> Vec<Option<SeriesRef>> {
        let known = self.series.lock();
        inputs
            .iter()
            .map(|i| known.get(&i.meta.id).cloned())
            .collect()
    }
}

impl StoreSource {
    /// The input a committed series of a numeric type would be, for a live job.
    pub fn describe(
        &self,
        key: &sextant_model::SeriesKey,
        data_type: sextant_model::DataType,
    ) -> Option<Input> {
        if !data_type.is_numeric() {
            return None;
        }
        let input = input_of(&self.index.data.read(), key);
        self.series.lock().insert(
            input.meta.id,
            SeriesRef {
                key: key.clone(),
                data_type,
            },
        );
        Some(input)
    }
}

/// The input of series `key`: its metric kind, its id and what it inherits from the SignalFx
/// metadata.
fn input_of(index: &crate::signalfx::index::OrgData, key: &sextant_model::SeriesKey) -> Input {
    let name = key.name();
    let kind = match index.metrics.get(name).map(|m| m.metric_type.as_str()) {
        Some("COUNTER") => MetricKind::Counter,
        Some("CUMULATIVE_COUNTER") => MetricKind::CumulativeCounter,
        _ => MetricKind::Gauge,
    };
    let dims: BTreeMap<String, String> = key
        .labels()
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect();
    let mut meta = Meta {
        metric: name.to_owned(),
        dims,
        ..Meta::default()
    };
    match index.mts_by_key.get(key) {
        Some(&at) => {
            let mts = &index.mts[at];
            meta.id = ts_id_from_text(&mts.id).unwrap_or_default();
            // Inherited first, so the MTS's own properties win.
            for &d in &index.mts_dimensions[at] {
                let dimension = &index.dimensions[d as usize];
                meta.props.extend(dimension.meta.custom_properties.clone());
                meta.tags.extend(dimension.meta.tags.iter().cloned());
            }
            meta.props.extend(mts.meta.custom_properties.clone());
            meta.tags.extend(mts.meta.tags.iter().cloned());
        }
        None => {
            // A series written by another protocol: the id SignalFx would give it.
            let dims: Vec<(String, String)> = meta
                .dims
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            meta.id = ts_id_from_text(&mts_id(name, &dims)).unwrap_or_default();
            for (k, v) in &dims {
                if let Some(d) = index.dimension(k, v) {
                    meta.props.extend(d.meta.custom_properties.clone());
                    meta.tags.extend(d.meta.tags.iter().cloned());
                }
            }
        }
    }
    Input { meta, kind }
}

impl Source for StoreSource {
    fn suggest(&self, metric: &str) -> Option<String> {
        if metric.contains(['*', '?']) {
            return None;
        }
        let names = self.reader().names(None);
        sextant_expr::did_you_mean(metric, names.iter().map(String::as_str)).map(str::to_owned)
    }

    fn find(&self, metric: &str) -> Result<Vec<Input>, String> {
        let reader = self.reader();
        let names: Vec<String> = if metric.contains(['*', '?']) {
            let prefix = &metric[..metric.find(['*', '?']).unwrap_or(metric.len())];
            reader
                .names(Some(prefix))
                .into_iter()
                .filter(|n| wildcard(metric, n))
                .collect()
        } else {
            vec![metric.to_owned()]
        };
        let index = self.index.data.read();
        let mut out = Vec::new();
        let mut known = self.series.lock();
        for name in names {
            for info in reader.select(&Selector::name(name.as_str())) {
                if !info.data_type.is_numeric() {
                    continue;
                }
                let input = input_of(&index, &info.key);
                known.insert(input.meta.id, SeriesRef::from(&info));
                out.push(input);
            }
        }
        Ok(out)
    }

    fn native_resolution(&self, inputs: &[&Input], start: i64, end: i64) -> Option<i64> {
        if inputs.is_empty() {
            return None;
        }
        let sample: Vec<&Input> = inputs.iter().copied().take(SAMPLED_SERIES).collect();
        let reader = self.reader();
        let range = start.saturating_mul(NS)..end.saturating_mul(NS);
        // The smallest of the series' median gaps, from their newest timestamps alone.
        self.refs(&sample)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let ts = reader
                    .timestamps(&r.key, range.clone(), SAMPLED_POINTS, Order::Descending)
                    .ok()?;
                let mut gaps: Vec<i64> = ts
                    .windows(2)
                    .map(|w| (w[0] - w[1]).abs())
                    .filter(|g| *g > 0)
                    .collect();
                if gaps.is_empty() {
                    return None;
                }
                gaps.sort_unstable();
                Some(gaps[gaps.len() / 2] / NS)
            })
            .min()
            .filter(|g| *g > 0)
    }

    fn rollup(
        &self,
        inputs: &[&Input],
        primitive: Primitive,
        timeline: Timeline,
    ) -> Result<Vec<Vec<Option<f64>>>, String> {
        let agg = match primitive {
            Primitive::Avg => Agg::Avg,
            Primitive::Sum => Agg::Sum,
            Primitive::Min => Agg::Min,
            Primitive::Max => Agg::Max,
            Primitive::Count => Agg::Count,
            Primitive::Last => Agg::Last,
        };
        let buckets = Buckets::new(timeline.resolution * NS)
            .map_err(|e| e.to_string())?
            .with_origin(timeline.first * NS);
        let refs = self.refs(inputs);
        let request = Aggregation {
            series: Series::List(refs.iter().flatten().cloned().collect()),
            range: timeline.first * NS..timeline.end() * NS,
            buckets,
            aggs: vec![agg],
        };
        let results = self
            .reader()
            .aggregate(&request)
            .map_err(|e| format!("reading the inputs failed: {e}"))?;
        let mut by_key = HashMap::with_capacity(results.len());
        for series in results {
            let mut values = vec![None; timeline.len];
            let starts = &series.result.buckets;
            let column = &series.result.columns[0].1;
            let floats = column.as_any().downcast_ref::<Float64Array>();
            let counts = column.as_any().downcast_ref::<UInt64Array>();
            for i in 0..starts.len() {
                let at = (starts.value(i) / NS - timeline.first) / timeline.resolution;
                let Ok(at) = usize::try_from(at) else {
                    continue;
                };
                if at >= timeline.len || column.is_null(i) {
                    continue;
                }
                values[at] = match (floats, counts) {
                    (Some(f), _) => Some(f.value(i)),
                    (None, Some(c)) => Some(c.value(i) as f64),
                    (None, None) => None,
                };
            }
            by_key.insert(series.key, values);
        }
        Ok(refs
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|r| by_key.remove(&r.key))
                    .unwrap_or_else(|| vec![None; timeline.len])
            })
            .collect())
    }

    fn points(
        &self,
        inputs: &[&Input],
        start: i64,
        end: i64,
    ) -> Result<Vec<Vec<(i64, f64)>>, String> {
        let refs = self.refs(inputs);
        let list: Vec<SeriesRef> = refs.iter().flatten().cloned().collect();
        let scan = Scan::new(
            Series::List(list),
            start.saturating_mul(NS)..end.saturating_mul(NS),
        );
        let page = self
            .reader()
            .scan(&scan)
            .map_err(|e| format!("reading the inputs failed: {e}"))?;
        let mut by_key: HashMap<&sextant_model::SeriesKey, Vec<(i64, f64)>> = HashMap::new();
        for batch in &page.batches {
            let ts = &batch.points.timestamps;
            let values = numbers(&batch.points.values);
            let points = by_key.entry(&batch.key).or_default();
            for i in 0..ts.len() {
                if let Some(v) = values.get(i).copied().flatten() {
                    points.push((ts.value(i) / NS, v));
                }
            }
        }
        Ok(refs
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|r| by_key.remove(&r.key))
                    .unwrap_or_default()
            })
            .collect())
    }

    fn events(&self, event_type: &str, start: i64, end: i64) -> Result<Vec<StoredEvent>, String> {
        let exact = !event_type.contains(['*', '?']);
        let filter = SfxEventFilter {
            event_type: exact.then(|| event_type.to_owned()),
            dimensions: Vec::new(),
            start: Some(start.saturating_mul(NS)),
            end: Some(end.saturating_mul(NS)),
            limit: MAX_EVENTS,
        };
        let events = self
            .catalog
            .sfx_events(&self.org_id, &filter)
            .map_err(|e| format!("reading events failed: {e}"))?;
        Ok(events
            .into_iter()
            .filter(|e| exact || wildcard(event_type, &e.event_type))
            .map(|e| StoredEvent {
                event_type: e.event_type,
                dims: e.dimensions.into_iter().collect(),
                properties: e
                    .properties
                    .into_iter()
                    .map(|(k, v)| {
                        let text = match v {
                            SfxPropertyValue::Str(s) => s,
                            SfxPropertyValue::Double(d) => d.to_string(),
                            SfxPropertyValue::Int(i) => i.to_string(),
                            SfxPropertyValue::Bool(b) => b.to_string(),
                        };
                        (k, text)
                    })
                    .collect(),
                timestamp: e.timestamp / NS,
            })
            .collect())
    }
}

/// Events one `events()` reads at most.
const MAX_EVENTS: usize = 10_000;

/// The values of a numeric Arrow array as `f64` (`None` where null or not numeric).
fn numbers(values: &arrow_array::ArrayRef) -> Vec<Option<f64>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type,
    };
    use arrow_schema::DataType as Arrow;
    fn each<T: arrow_array::ArrowPrimitiveType>(
        a: &arrow_array::PrimitiveArray<T>,
        f: impl Fn(T::Native) -> f64,
    ) -> Vec<Option<f64>> {
        a.iter().map(|v| v.map(&f)).collect()
    }
    match values.data_type() {
        Arrow::Float64 => each(values.as_primitive::<Float64Type>(), |v| v),
        Arrow::Float32 => each(values.as_primitive::<Float32Type>(), f64::from),
        Arrow::Int64 => each(values.as_primitive::<Int64Type>(), |v| v as f64),
        Arrow::Int32 => each(values.as_primitive::<Int32Type>(), f64::from),
        Arrow::UInt32 => each(values.as_primitive::<UInt32Type>(), f64::from),
        Arrow::UInt64 => each(values.as_primitive::<UInt64Type>(), |v| v as f64),
        Arrow::Boolean => values
            .as_boolean()
            .iter()
            .map(|v| v.map(|b| f64::from(u8::from(b))))
            .collect(),
        _ => vec![None; values.len()],
    }
}
