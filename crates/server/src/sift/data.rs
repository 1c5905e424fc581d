//! `sift.data.v2.DataService/GetData`: a channel's points over `[start_time, end_time)`, as
//! one typed `*Values` message per series (the channel alone, and once per run).
//!
//! - Run scoping follows the proto: `run_id` unset returns data with and without a run, each
//!   run as its own message; `run_id = ""` only data without a run; a run id only that run.
//! - Bit fields come back split into their elements, since the client keys them as
//!   `channel.element`.
//! - `sample_ms` downsamples numeric channels: per bucket of that many milliseconds from
//!   `start_time` (or the epoch), the first, lowest, highest and last point
//!   ([`sextant_query::sample`]), with `sampled_ms` set in the metadata; other types come back
//!   whole (`sampled_ms` 0). A page never splits a bucket unless one bucket holds more than a
//!   page.
//! - A page holds at most `page_size` points (100,000 when 0 or larger) and at most
//!   [`MAX_PAGE_BYTES`] of encoded messages, below the client's 4 MiB receive limit; the rest
//!   follows `next_page_token`.
//! - Reads go through `sextant-query`: one scan per channel query over its series, whose page
//!   limit (the page's points left, plus one that tells whether the series goes on) and start
//!   (the token's timestamp) reach the store, so each page costs the points it returns.

use std::collections::HashMap;
use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, BinaryArray, BooleanArray, PrimitiveArray, StringArray};
use prost::Message;
use sextant_catalog::{Channel, ChannelDef, Principal};
use sextant_model::{DataType, ErrorKind, Timestamp};
use sextant_query::{ArrowPoints, Reader, Scan, Selector, Series, SeriesRef};
use sextant_storage::head::SeriesMatcher;
use sift_rs::data::v2::data_service_server::DataService;
use sift_rs::data::v2::*;
use tonic::{Request, Response, Status};

use super::calculated_channels;
use super::convert::{
    bit_field_to_pb, data_type_to_pb, enum_types_to_pb, timestamp_from_pb, timestamp_to_pb,
};
use crate::auth::{Action, authorize_call};
use crate::budget::{QueryBudget, QueryLimits};
use crate::error::status;
use crate::state::{AppState, org_number};

/// The most encoded bytes of data one page carries.
pub const MAX_PAGE_BYTES: usize = 3 << 20;
/// The most points one page carries.
pub const MAX_PAGE_POINTS: usize = 100_000;

/// The service.
#[derive(Debug, Clone)]
pub struct Data {
    pub(crate) state: AppState,
}

/// Where a page starts: query, series of the query, first timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cursor {
    query: usize,
    series: usize,
    from: Option<Timestamp>,
}

impl Cursor {
    fn parse(token: &str) -> Result<Cursor, Status> {
        if token.is_empty() {
            return Ok(Cursor::default());
        }
        let bad = || {
            Status::invalid_argument(format!("page_token {token:?} is not one this server gave"))
        };
        let rest = token.strip_prefix("sxd1.").ok_or_else(bad)?;
        let mut parts = rest.split('.');
        let mut next = || parts.next().ok_or_else(bad);
        let query = next()?.parse().map_err(|_| bad())?;
        let series = next()?.parse().map_err(|_| bad())?;
        let from = next()?.parse().map_err(|_| bad())?;
        Ok(Cursor {
            query,
            series,
            from: Some(from),
        })
    }

    /// Where the query crate's scan of the current query resumes: the token holds the first
    /// timestamp not yet sent, which is right after the last one sent.
    fn scan_cursor(&self) -> sextant_query::Cursor {
        match self.from.and_then(|t| t.checked_sub(1)) {
            Some(last) => sextant_query::Cursor::after(self.series, last),
            None => sextant_query::Cursor::series_start(self.series),
        }
    }

    fn token(&self) -> String {
        format!(
            "sxd1.{}.{}.{}",
            self.query,
            self.series,
            self.from.unwrap_or(i64::MIN)
        )
    }
}

#[tonic::async_trait]
impl DataService for Data {
    async fn get_data(
        &self,
        request: Request<GetDataRequest>,
    ) -> Result<Response<GetDataResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadData)?;
        let req = request.into_inner();
        let start = req
            .start_time
            .as_ref()
            .map(|t| timestamp_from_pb(t, "start_time"))
            .transpose()?
            .unwrap_or(i64::MIN);
        let end = req
            .end_time
            .as_ref()
            .map(|t| timestamp_from_pb(t, "end_time"))
            .transpose()?
            .unwrap_or(i64::MAX);
        if end < start {
            return Err(Status::invalid_argument(format!(
                "end_time {end} is before start_time {start}"
            )));
        }
        let page_points = match req.page_size as usize {
            0 => MAX_PAGE_POINTS,
            n => n.min(MAX_PAGE_POINTS),
        };
        let mut cursor = Cursor::parse(&req.page_token)?;
        // `sample_ms` buckets time from the request's start (or the epoch without one).
        let sampling = (req.sample_ms > 0).then(|| sextant_query::sample::Buckets {
            origin: if start == i64::MIN { 0 } else { start },
            width: i64::from(req.sample_ms) * 1_000_000,
        });
        let org = org_number(&principal.organization_id);
        let limits = self.state.query_limits(&principal.organization_id).await;

        let mut data = Vec::new();
        let mut budget = Budget {
            points: page_points,
            bytes: MAX_PAGE_BYTES,
        };
        let mut names: HashMap<String, String> = HashMap::new();
        while cursor.query < req.queries.len() {
            let channel_query = match &req.queries[cursor.query].query {
                Some(query::Query::Channel(q)) => q.clone(),
                Some(query::Query::CalculatedChannel(q)) => {
                    let q = q.clone();
                    let page = Page {
                        principal: &principal,
                        org,
                        limits: &limits,
                        range: start..end,
                        names: &mut names,
                    };
                    if let Some(token) = self
                        .calculated(page, &q, &mut cursor, &mut budget, &mut data)
                        .await?
                    {
                        return Ok(Response::new(GetDataResponse {
                            next_page_token: token,
                            data,
                        }));
                    }
                    cursor.query += 1;
                    cursor.series = 0;
                    cursor.from = None;
                    continue;
                }
                None => {
                    return Err(Status::invalid_argument(format!(
                        "queries[{}] names no channel",
                        cursor.query
                    )));
                }
            };
            let (channel, asset_name) = {
                let org_id = principal.organization_id.clone();
                let id = channel_query.channel_id.clone();
                self.state
                    .catalog(move |c| {
                        let channel = c.get_channel(&org_id, &id)?;
                        let asset = c.get_asset(&org_id, &channel.asset_id)?;
                        Ok((channel, asset.name))
                    })
                    .await?
            };
            let matcher = SeriesMatcher {
                name: Some(channel.def.name.clone()),
                labels: vec![("asset".to_owned(), asset_name.clone())],
            };
            let run_filter = channel_query.run_id.clone();
            let data_type = channel.def.data_type;
            let scan_cursor = cursor.scan_cursor();
            // One point beyond what the page can take tells whether the series goes on.
            let limit = budget.points.saturating_add(1);
            let page = query(&self.state, org, &limits, false, move |reader| {
                let mut series: Vec<SeriesRef> = reader
                    .select(&Selector::from(&matcher))
                    .into_iter()
                    .filter(|s| s.data_type == data_type)
                    .filter(|s| match (&run_filter, s.key.label("run")) {
                        (None, _) => true,
                        (Some(run), None) => run.is_empty(),
                        (Some(run), Some(label)) => run == label,
                    })
                    .filter(|s| s.key.labels().len() <= 2)
                    .map(SeriesRef::from)
                    .collect();
                series.sort_by(|a, b| a.key.label("run").cmp(&b.key.label("run")));
                let scan = Scan::new(Series::List(series), start..end)
                    .limit(limit)
                    .cursor(Some(scan_cursor));
                reader.scan(&scan)
            })
            .await?;

            // With `sample_ms`, numeric channels come back as each bucket's first, lowest,
            // highest and last point. A page cut by its limit ends before its last bucket, whose
            // points the next page reads again whole, so that no bucket is sampled in parts
            // (unless one bucket holds more points than a page).
            let cut = page.len() >= limit;
            let batches = page.batches.len();
            for (b, batch) in page.batches.iter().enumerate() {
                cursor.series = batch.index;
                let mut resume = None;
                let sampled = match sampling {
                    Some(buckets)
                        if sextant_query::sample::samples(batch.points.values.data_type()) =>
                    {
                        let mut whole = batch.points.len();
                        if cut && b + 1 == batches && whole > 0 {
                            let last =
                                sextant_query::sample::last_bucket_start(&batch.points, buckets);
                            whole = if last > 0 { last } else { whole - 1 };
                            resume = Some(batch.points.timestamps.value(whole));
                        }
                        let points = ArrowPoints {
                            timestamps: batch.points.timestamps.slice(0, whole),
                            values: batch.points.values.slice(0, whole),
                        };
                        sextant_query::sample::m4(&points, buckets)
                    }
                    _ => None,
                };
                let run = match batch.key.label("run") {
                    None => None,
                    Some(run_id) => Some(
                        run_name(&self.state, &principal.organization_id, run_id, &mut names)
                            .await?,
                    ),
                };
                let metadata = Metadata {
                    data_type: data_type_to_pb(channel.def.data_type),
                    sampled_ms: if sampled.is_some() { req.sample_ms } else { 0 },
                    asset: Some(metadata::Asset {
                        asset_id: channel.asset_id.clone(),
                        name: asset_name.clone(),
                    }),
                    run,
                    channel: Some(channel_metadata(&channel)),
                };
                let points = sampled.as_ref().unwrap_or(&batch.points);
                let (message, taken) = encode(&channel, metadata, points, &mut budget)?;
                if let Some(message) = message {
                    data.push(message);
                }
                if taken < points.len() {
                    resume = Some(points.timestamps.value(taken));
                }
                if let Some(from) = resume {
                    cursor.from = Some(from);
                    return Ok(Response::new(GetDataResponse {
                        next_page_token: cursor.token(),
                        data,
                    }));
                }
            }
            // The scan's limit is one more than the page can take, so a scan cut by its limit
            // always leaves a point untaken above; here every series of the query is done.
            cursor.query += 1;
            cursor.series = 0;
            cursor.from = None;
        }
        Ok(Response::new(GetDataResponse {
            next_page_token: String::new(),
            data,
        }))
    }
}

/// What a page of a calculated channel needs of the request.
struct Page<'a> {
    principal: &'a Principal,
    org: sextant_model::OrgId,
    limits: &'a QueryLimits,
    range: Range<Timestamp>,
    names: &'a mut HashMap<String, String>,
}

impl Data {
    /// Adds a calculated channel's values to the page, run by run from the cursor's; returns
    /// the next page's token when the page filled up. Each page evaluates the current run's
    /// inputs over the whole range again (at most the query point limit of each), and sends
    /// the values from the cursor's timestamp on.
    async fn calculated(
        &self,
        page: Page<'_>,
        q: &CalculatedChannelQuery,
        cursor: &mut Cursor,
        budget: &mut Budget,
        data: &mut Vec<pbjson_types::Any>,
    ) -> Result<Option<String>, Status> {
        let at = cursor.query;
        if q.channel_key.is_empty() {
            return Err(Status::invalid_argument(format!(
                "queries[{at}].calculated_channel needs a channel_key, the name its values come \
                 back under"
            )));
        }
        let expression = q.expression.as_ref().ok_or_else(|| {
            Status::invalid_argument(format!(
                "queries[{at}].calculated_channel needs an expression"
            ))
        })?;
        let resolved =
            calculated_channels::resolve(&self.state, &page.principal.organization_id, expression)
                .await?;
        let program = calculated_channels::compile_calculated(&expression.expression, &resolved)
            .map_err(Status::invalid_argument)?;
        let inputs = resolved.inputs(&program);
        let data_type = program.data_type();
        let channel = Channel {
            id: String::new(),
            asset_id: resolved.asset_id.clone(),
            def: ChannelDef::new(q.channel_key.clone(), data_type),
            created_at: 0,
        };
        loop {
            let (program, inputs) = (program.clone(), inputs.clone());
            let asset = resolved.asset_name.clone();
            let (run_filter, range, skip) = (q.run_id.clone(), page.range.clone(), cursor.series);
            let group = query(&self.state, page.org, page.limits, true, move |reader| {
                calculated_channels::evaluate(
                    &reader,
                    &program,
                    &inputs,
                    &asset,
                    run_filter.as_deref(),
                    range,
                    skip,
                )
            })
            .await?;
            let Some(calculated_channels::RunValues { run, points, more }) = group else {
                return Ok(None);
            };
            let first = points.partition_point(|p| p.timestamp < cursor.from.unwrap_or(i64::MIN));
            let points = &points[first..];
            let run = match run {
                Some(run_id) => Some(
                    run_name(
                        &self.state,
                        &page.principal.organization_id,
                        &run_id,
                        page.names,
                    )
                    .await?,
                ),
                None => None,
            };
            let metadata = Metadata {
                data_type: data_type_to_pb(data_type),
                sampled_ms: 0,
                asset: Some(metadata::Asset {
                    asset_id: resolved.asset_id.clone(),
                    name: resolved.asset_name.clone(),
                }),
                run,
                channel: Some(metadata::Channel {
                    name: q.channel_key.clone(),
                    ..Default::default()
                }),
            };
            let arrow = ArrowPoints::from_points(data_type, points);
            let (message, taken) = encode(&channel, metadata, &arrow, budget)?;
            data.extend(message);
            if taken < points.len() {
                cursor.from = Some(points[taken].timestamp);
                return Ok(Some(cursor.token()));
            }
            if !more {
                return Ok(None);
            }
            cursor.series += 1;
            cursor.from = None;
        }
    }
}

/// Runs a read on a blocking thread within the server's query deadline (it stops when the
/// call is cancelled, as this future is then dropped) and maps its error to a gRPC status.
/// With `hold`, the reader refuses reads of more points than the query point limit.
async fn query<T, F>(
    state: &AppState,
    org: sextant_model::OrgId,
    limits: &QueryLimits,
    hold: bool,
    call: F,
) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce(Reader<'_>) -> sextant_query::Result<T> + Send + 'static,
{
    let store = state.store.clone();
    let (budget, _client) = QueryBudget::start(limits);
    let (max_points, hint) = (limits.max_points, limits.max_points_hint());
    tokio::task::spawn_blocking(move || {
        let proceed = || budget.check();
        let reader = Reader::new(store.as_ref(), org).stopping_when(&proceed);
        call(if hold {
            reader.holding_at_most(max_points, hint)
        } else {
            reader
        })
    })
    .await
    .map_err(|e| status(ErrorKind::Internal, e))?
    .map_err(|e| status(e.kind(), e))
}

async fn run_name(
    state: &AppState,
    org: &str,
    run_id: &str,
    names: &mut HashMap<String, String>,
) -> Result<metadata::Run, Status> {
    if let Some(name) = names.get(run_id) {
        return Ok(metadata::Run {
            run_id: run_id.to_owned(),
            name: name.clone(),
        });
    }
    let org = org.to_owned();
    let id = run_id.to_owned();
    let run = state.catalog(move |c| c.get_run(&org, &id)).await?;
    names.insert(run.id.clone(), run.name.clone());
    Ok(metadata::Run {
        run_id: run.id,
        name: run.name,
    })
}

fn channel_metadata(channel: &Channel) -> metadata::Channel {
    metadata::Channel {
        channel_id: channel.id.clone(),
        name: channel.def.name.clone(),
        unit: Some(metadata::channel::Unit {
            name: channel.def.unit.clone(),
            abbreviated_name: channel.def.unit.clone(),
        }),
        enum_types: enum_types_to_pb(&channel.def.enum_types),
        bit_field_elements: bit_field_to_pb(&channel.def.bit_field_elements),
    }
}

/// What a page may still hold.
#[derive(Debug)]
struct Budget {
    points: usize,
    bytes: usize,
}

impl Budget {
    /// Takes one point of `bytes` encoded bytes, if it fits.
    fn take(&mut self, bytes: usize) -> bool {
        // Tag and length prefix of the repeated field.
        let bytes = bytes + 4;
        if self.points == 0 || self.bytes < bytes {
            return false;
        }
        self.points -= 1;
        self.bytes -= bytes;
        true
    }
}

/// Encodes as many of `points` as the budget allows into one `Any`; returns it (or `None`
/// when no point fitted) and how many points it holds.
///
/// Fails as an internal error if the values are not of the channel's type, which the store
/// rules out (a series has one type for life and the scan selects the channel's).
// Some `*Values` messages have fields beyond metadata and values, others do not.
#[allow(clippy::needless_update)]
fn encode(
    channel: &Channel,
    metadata: Metadata,
    points: &ArrowPoints,
    budget: &mut Budget,
) -> Result<(Option<pbjson_types::Any>, usize), Status> {
    let timestamps = &points.timestamps;
    let mismatch = || {
        status(
            ErrorKind::Internal,
            format!(
                "channel {} of type {} read back as Arrow {}",
                channel.def.name,
                channel.def.data_type,
                points.values.data_type()
            ),
        )
    };
    macro_rules! values {
        ($values:ident, $value:ident, $array:expr, $convert:expr) => {
            values!($values, $value, $array, $convert, |_| 0, |m: $values| m
                .encode_to_vec())
        };
        ($values:ident, $value:ident, $array:expr, $convert:expr, $extra:expr, $encode:expr) => {{
            let array = $array.ok_or_else(mismatch)?;
            let mut values = Vec::new();
            for i in 0..array.len() {
                // A null stands for a value of another type, which the store rules out.
                if array.is_null(i) {
                    continue;
                }
                let raw = array.value(i);
                let value = $value {
                    timestamp: Some(timestamp_to_pb(timestamps.value(i))),
                    value: $convert(raw),
                };
                if !budget.take(value.encoded_len() + $extra(raw)) {
                    break;
                }
                values.push(value);
            }
            let taken = values.len();
            let message = $values {
                metadata: Some(metadata),
                values,
                ..Default::default()
            };
            Ok((any(stringify!($values), $encode(message), taken), taken))
        }};
    }
    let values = &points.values;
    match channel.def.data_type {
        DataType::Double => values!(
            DoubleValues,
            DoubleValue,
            values.as_primitive_opt::<Float64Type>(),
            |v: f64| v,
            |v: f64| if is_negative_zero(v) { 9 } else { 0 },
            |mut m: DoubleValues| {
                let values = std::mem::take(&mut m.values);
                keep_negative_zeros(m.encode_to_vec(), &values, |v| {
                    let mut field = Vec::new();
                    if is_negative_zero(v.value) {
                        prost::encoding::double::encode(2, &v.value, &mut field);
                    }
                    field
                })
            }
        ),
        DataType::Float => values!(
            FloatValues,
            FloatValue,
            values.as_primitive_opt::<Float32Type>(),
            |v: f32| v,
            |v: f32| if is_negative_zero(f64::from(v)) { 5 } else { 0 },
            |mut m: FloatValues| {
                let values = std::mem::take(&mut m.values);
                keep_negative_zeros(m.encode_to_vec(), &values, |v| {
                    let mut field = Vec::new();
                    if is_negative_zero(f64::from(v.value)) {
                        prost::encoding::float::encode(2, &v.value, &mut field);
                    }
                    field
                })
            }
        ),
        DataType::String => values!(
            StringValues,
            StringValue,
            values.as_any().downcast_ref::<StringArray>(),
            |v: &str| v.to_owned()
        ),
        DataType::Bool => values!(
            BoolValues,
            BoolValue,
            values.as_any().downcast_ref::<BooleanArray>(),
            |v: bool| v
        ),
        DataType::Int32 => values!(
            Int32Values,
            Int32Value,
            values.as_primitive_opt::<Int32Type>(),
            |v: i32| v
        ),
        DataType::Int64 => values!(
            Int64Values,
            Int64Value,
            values.as_primitive_opt::<Int64Type>(),
            |v: i64| v
        ),
        DataType::Uint32 => values!(
            Uint32Values,
            Uint32Value,
            values.as_primitive_opt::<UInt32Type>(),
            |v: u32| v
        ),
        DataType::Uint64 => values!(
            Uint64Values,
            Uint64Value,
            values.as_primitive_opt::<UInt64Type>(),
            |v: u64| v
        ),
        DataType::Enum => values!(
            EnumValues,
            EnumValue,
            values.as_primitive_opt::<UInt32Type>(),
            |v: u32| v
        ),
        DataType::Bytes => values!(
            BytesValues,
            BytesValue,
            values.as_any().downcast_ref::<BinaryArray>(),
            |v: &[u8]| v.to_vec()
        ),
        DataType::BitField => {
            let array: &PrimitiveArray<UInt64Type> =
                values.as_primitive_opt().ok_or_else(mismatch)?;
            let elements = &channel.def.bit_field_elements;
            let mut columns: Vec<BitFieldElementValues> = elements
                .iter()
                .map(|e| BitFieldElementValues {
                    name: e.name.clone(),
                    values: Vec::new(),
                })
                .collect();
            let mut taken = 0;
            for i in 0..array.len() {
                if array.is_null(i) {
                    continue;
                }
                let bits = array.value(i);
                let row: Vec<BitFieldValue> = elements
                    .iter()
                    .map(|e| BitFieldValue {
                        timestamp: Some(timestamp_to_pb(timestamps.value(i))),
                        value: u32::try_from(e.extract(bits)).unwrap_or(u32::MAX),
                    })
                    .collect();
                let bytes: usize = row.iter().map(|v| v.encoded_len() + 4).sum();
                if budget.points == 0 || budget.bytes < bytes {
                    break;
                }
                budget.points -= 1;
                budget.bytes -= bytes;
                for (column, value) in columns.iter_mut().zip(row) {
                    column.values.push(value);
                }
                taken += 1;
            }
            let message = BitFieldValues {
                metadata: Some(metadata),
                values: columns,
            };
            Ok((any("BitFieldValues", message.encode_to_vec(), taken), taken))
        }
    }
}

fn any(name: &str, message: Vec<u8>, points: usize) -> Option<pbjson_types::Any> {
    (points > 0).then(|| pbjson_types::Any {
        type_url: format!("type.googleapis.com/sift.data.v2.{name}"),
        value: message.into(),
    })
}

/// Whether `v` is -0.0, which prost leaves out and [`keep_negative_zeros`] puts back: tag and
/// fixed64 (9 bytes) or fixed32 (5 bytes) more than prost counts.
fn is_negative_zero(v: f64) -> bool {
    v == 0.0 && v.is_sign_negative()
}

/// Appends `values` as field 2 (the repeated points) to `head`, the encoded message without
/// them. prost leaves out a `double` or `float` field equal to 0.0, so -0.0 would come back as
/// 0.0 (tokio-rs/prost#1177); protobuf omits only +0.0. `zero_field` gives the value field of a
/// -0.0 point (empty otherwise), which is appended to that point's encoding.
fn keep_negative_zeros<V: Message>(
    mut head: Vec<u8>,
    values: &[V],
    zero_field: impl Fn(&V) -> Vec<u8>,
) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    for value in values {
        let extra = zero_field(value);
        encode_key(2, WireType::LengthDelimited, &mut head);
        encode_varint((value.encoded_len() + extra.len()) as u64, &mut head);
        value.encode_raw(&mut head);
        head.extend_from_slice(&extra);
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_keeps_its_sign() {
        let value = |v: f64| DoubleValue {
            timestamp: Some(timestamp_to_pb(7)),
            value: v,
        };
        let message = DoubleValues {
            values: vec![value(-0.0), value(0.0), value(-1.5)],
            ..Default::default()
        };
        let plain = message.encode_to_vec();
        let kept = keep_negative_zeros(
            DoubleValues::default().encode_to_vec(),
            &message.values,
            |v| {
                let mut field = Vec::new();
                if v.value == 0.0 && v.value.is_sign_negative() {
                    prost::encoding::double::encode(2, &v.value, &mut field);
                }
                field
            },
        );
        assert!(is_negative_zero(-0.0) && !is_negative_zero(0.0));
        assert_eq!(kept.len(), plain.len() + 9);
        let decoded = DoubleValues::decode(kept.as_slice()).unwrap();
        let signs: Vec<bool> = decoded
            .values
            .iter()
            .map(|v| v.value.is_sign_negative())
            .collect();
        assert_eq!(signs, [true, false, true]);
        assert_eq!(decoded.values[2].value, -1.5);
    }

    #[test]
    fn page_tokens_round_trip_and_foreign_ones_are_refused() {
        let cursor = Cursor {
            query: 2,
            series: 1,
            from: Some(-5),
        };
        assert_eq!(Cursor::parse(&cursor.token()).unwrap(), cursor);
        assert_eq!(Cursor::parse("").unwrap(), Cursor::default());
        for bad in ["x", "sxd1.1.2", "sxd1.a.b.c", "sxd2.0.0.0"] {
            let err = Cursor::parse(bad).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad}");
        }
    }
}
