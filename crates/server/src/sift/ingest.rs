//! `sift.ingest.v1.IngestService/IngestWithConfigDataStream`: the client streams flows (one
//! timestamp and one value per flow channel, in the flow's registered order); the server
//! validates every message against the registered flow and commits the whole stream as one
//! durable batch before answering.
//!
//! A stream is all or nothing. Any invalid message — unknown config or flow, wrong value count
//! or type, unknown run — fails the call with a non-retryable code (INVALID_ARGUMENT or
//! NOT_FOUND) naming the message, and nothing of the stream is stored. The store writes the
//! stream under [`WritePolicy::AllOrNothing`]: a series it refuses (another type for life,
//! older than the out-of-order window, beyond the series limit) fails the call naming every
//! refused series, and again nothing is stored. This holds whether or
//! not the client set `end_stream_on_validation_error`: storing part of a stream would leave
//! the client unable to know what to send again, and a retried stream would duplicate points.
//!
//! Holding its points until its end, a stream takes its share of the server's decode budget
//! ([`crate::body::DecodeBudget`]) as it grows: when the budget has no room it stops reading
//! (the transport's flow control slows its client) and waits, up to the budget's wait, then
//! fails with UNAVAILABLE naming the budget; a stream larger than the whole budget holds all
//! of it and runs alone.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sextant_catalog::ChannelDef;
use sextant_model::{DataType, Point, SeriesKey, Value, WriteBatch};
use sextant_storage::{Refusal, WritePolicy};
use sift_rs::ingest::v1::ingest_service_server::IngestService;
use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as PbValue;
use sift_rs::ingest::v1::*;
use tonic::{Request, Response, Status, Streaming};

use super::convert::timestamp_from_pb;
use super::unsupported;
use crate::auth::{Action, Principal, authorize_call, check_organization};
use crate::body::Share;
use crate::state::{AppState, org_number};

/// Points one stream may carry; past this the stream is refused (RESOURCE_EXHAUSTED) rather
/// than held in memory. Clients flush buffers far below it.
pub const MAX_POINTS_PER_STREAM: usize = 20_000_000;

/// What a buffered point counts against the server's decode budget, besides its text or bytes:
/// its own size and the room its series' list grows into.
const POINT_COST: usize = 2 * std::mem::size_of::<Point>();

/// The service.
#[derive(Debug, Clone)]
pub struct Ingest {
    state: AppState,
    configs: Arc<Mutex<ConfigCache>>,
    runs: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Ingest {
    /// The service over `state`.
    pub fn new(state: AppState) -> Self {
        Ingest {
            state,
            configs: Arc::default(),
            runs: Arc::default(),
        }
    }
}

/// Registered configs by (organization id, ingestion config id).
type ConfigCache = HashMap<(String, String), Arc<ConfigInfo>>;

/// A registered ingestion config as the ingest path needs it. Flows never change once
/// registered, so this is cached; a flow added later is found by reloading on a miss.
#[derive(Debug)]
struct ConfigInfo {
    asset_id: String,
    asset_name: String,
    flows: HashMap<String, Arc<Vec<ChannelDef>>>,
}

impl Ingest {
    async fn config(
        &self,
        principal: &Principal,
        id: &str,
        flow: &str,
    ) -> Result<Arc<ConfigInfo>, Status> {
        let cache_key = (principal.organization_id.clone(), id.to_owned());
        if let Some(config) = self.configs.lock().expect("config cache").get(&cache_key)
            && config.flows.contains_key(flow)
        {
            return Ok(config.clone());
        }
        let org = principal.organization_id.clone();
        let config_id = id.to_owned();
        let info = self
            .state
            .catalog(move |c| {
                let config = c.get_ingestion_config(&org, &config_id)?;
                let asset = c.get_asset(&org, &config.asset_id)?;
                let flows = c.list_flows(&org, &config_id)?;
                Ok(ConfigInfo {
                    asset_id: asset.id,
                    asset_name: asset.name,
                    flows: flows
                        .into_iter()
                        .map(|f| (f.name, Arc::new(f.channels)))
                        .collect(),
                })
            })
            .await?;
        let info = Arc::new(info);
        self.configs
            .lock()
            .expect("config cache")
            .insert(cache_key, info.clone());
        Ok(info)
    }

    async fn check_run(&self, principal: &Principal, run_id: &str) -> Result<(), Status> {
        let key = (principal.organization_id.clone(), run_id.to_owned());
        if self.runs.lock().expect("run cache").contains(&key) {
            return Ok(());
        }
        let org = principal.organization_id.clone();
        let id = run_id.to_owned();
        self.state.catalog(move |c| c.get_run(&org, &id)).await?;
        self.runs.lock().expect("run cache").insert(key);
        Ok(())
    }
}

/// The series of a stream and their points, built message by message.
#[derive(Debug, Default)]
struct StreamBatch {
    series: Vec<(SeriesKey, DataType, Vec<Point>)>,
    slots: HashMap<SeriesKey, usize>,
    /// For each flow's channel list (by address) and run id: the slot of each flow channel.
    /// Looked up once per message, so keyed to need no allocation on a hit.
    flow_slots: HashMap<usize, HashMap<String, Vec<usize>>>,
    points: usize,
    /// The memory the points hold, as counted against the decode budget: [`POINT_COST`] a
    /// point plus its text or bytes.
    bytes: usize,
    /// (run id, asset id) pairs to link once the stream is stored.
    run_assets: HashSet<(String, String)>,
}

impl StreamBatch {
    /// Makes sure `flow_slots` has the slots of `channels` sent with `run_id`, creating the
    /// series on first sight.
    fn ensure_slots(
        &mut self,
        config: &ConfigInfo,
        channels: &Arc<Vec<ChannelDef>>,
        run_id: &str,
    ) -> Result<(), Status> {
        let flow = Arc::as_ptr(channels) as usize;
        if self
            .flow_slots
            .get(&flow)
            .is_some_and(|runs| runs.contains_key(run_id))
        {
            return Ok(());
        }
        let mut slots = Vec::with_capacity(channels.len());
        for channel in channels.iter() {
            let mut labels = vec![("asset", config.asset_name.as_str())];
            if !run_id.is_empty() {
                labels.push(("run", run_id));
            }
            let key = SeriesKey::new(channel.name.clone(), labels).map_err(|e| {
                Status::invalid_argument(format!("channel `{}`: {e}", channel.name))
            })?;
            let slot = match self.slots.get(&key) {
                Some(slot) => *slot,
                None => {
                    self.series
                        .push((key.clone(), channel.data_type, Vec::new()));
                    self.slots.insert(key, self.series.len() - 1);
                    self.series.len() - 1
                }
            };
            slots.push(slot);
        }
        self.flow_slots
            .entry(flow)
            .or_default()
            .insert(run_id.to_owned(), slots);
        Ok(())
    }
}

/// The status of a stream the store refused, naming every refused series with its reason;
/// its code is the first refusal's.
fn refusal_status(refused: &[Refusal]) -> Option<Status> {
    let first = refused.first()?;
    let reasons: Vec<String> = refused.iter().map(Refusal::to_string).collect();
    Some(crate::error::status(
        first.kind(),
        format!("nothing of the stream is stored: {}", reasons.join("; ")),
    ))
}

#[tonic::async_trait]
impl IngestService for Ingest {
    async fn ingest_with_config_data_stream(
        &self,
        request: Request<Streaming<IngestWithConfigDataStreamRequest>>,
    ) -> Result<Response<IngestWithConfigDataStreamResponse>, Status> {
        let principal = authorize_call(&request, Action::WritePoints)?;
        let mut stream = request.into_inner();
        let mut batch = StreamBatch::default();
        // The stream's share of the decode budget, held until its write is done.
        let mut share = Share::default();
        let mut number = 0usize;
        while let Some(message) = stream
            .message()
            .await
            .map_err(|s| stream_error(s, number + 1))?
        {
            number += 1;
            self.add(&principal, &mut batch, number, message).await?;
            if batch.points > MAX_POINTS_PER_STREAM {
                return Err(Status::resource_exhausted(format!(
                    "the stream carries more than {MAX_POINTS_PER_STREAM} points; send it as several streams"
                )));
            }
            if batch.bytes > share.bytes() {
                let points = batch.points;
                self.state
                    .decode_budget
                    .grow(&mut share, batch.bytes, || {
                        format!("this stream of {points} points in {number} messages")
                    })
                    .await
                    .map_err(Status::from)?;
            }
        }
        // A client that cancels a call (or whose deadline passes) half-closes its stream and
        // then resets it, so the messages read so far look like a whole stream: the transport
        // reports the reset only to a handler that waits. Wait once before storing anything,
        // so that a stream its client abandoned is dropped here and stores nothing, as a
        // stream is all or nothing. (A reset that arrives after the write has begun finds the
        // messages received stored; the client sees an error, sends the stream again, and its
        // points replace those.)
        tokio::task::yield_now().await;
        let series: Vec<_> = batch
            .series
            .into_iter()
            .filter(|(_, _, points)| !points.is_empty())
            .collect();
        if series.is_empty() {
            return Ok(Response::new(IngestWithConfigDataStreamResponse {}));
        }
        let mut write = WriteBatch::new(org_number(&principal.organization_id));
        for (key, data_type, points) in series {
            write.push(key, data_type, points);
        }
        let write = write
            .validate()
            .map_err(|e| crate::error::status(e.kind(), e))?;
        let outcome = self
            .state
            .store(move |s| s.write_with(write, WritePolicy::AllOrNothing))
            .await?;
        if let Some(status) = refusal_status(&outcome.refused) {
            return Err(status);
        }
        // At debug level, what each stream carried: where to look when points a client sent are
        // missing (a message lost on its way never reaches the server).
        tracing::debug!(
            messages = number,
            points = outcome.points(),
            "stored a stream"
        );
        self.state.metrics.ingested("sift", outcome.points());

        for (run_id, asset_id) in batch.run_assets {
            let org = principal.organization_id.clone();
            self.state
                .catalog(move |c| c.associate_asset(&org, &run_id, &asset_id))
                .await?;
        }
        Ok(Response::new(IngestWithConfigDataStreamResponse {}))
    }

    async fn ingest_arbitrary_protobuf_data_stream(
        &self,
        _request: Request<Streaming<IngestArbitraryProtobufDataStreamRequest>>,
    ) -> Result<Response<IngestArbitraryProtobufDataStreamResponse>, Status> {
        Err(unsupported(
            "IngestService/IngestArbitraryProtobufDataStream",
        ))
    }
}

impl Ingest {
    /// Validates one message and adds its values to the batch.
    async fn add(
        &self,
        principal: &Principal,
        batch: &mut StreamBatch,
        number: usize,
        message: IngestWithConfigDataStreamRequest,
    ) -> Result<(), Status> {
        let at = |detail: String| {
            format!(
                "message {number} of the stream (flow `{}`): {detail}",
                message.flow
            )
        };
        check_organization(principal, &message.organization_id)?;
        let config = self
            .config(principal, &message.ingestion_config_id, &message.flow)
            .await
            .map_err(|s| Status::new(s.code(), at(s.message().to_owned())))?;
        let Some(channels) = config.flows.get(&message.flow) else {
            let mut known: Vec<&str> = config.flows.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(Status::not_found(at(format!(
                "ingestion config {} has no flow `{}`; its flows are {}",
                message.ingestion_config_id,
                message.flow,
                known.join(", ")
            ))));
        };
        if message.channel_values.len() != channels.len() {
            return Err(Status::invalid_argument(at(format!(
                "{} values for the flow's {} channels ({})",
                message.channel_values.len(),
                channels.len(),
                channels
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))));
        }
        let timestamp = message
            .timestamp
            .as_ref()
            .ok_or_else(|| Status::invalid_argument(at("no timestamp".to_owned())))
            .and_then(|t| {
                timestamp_from_pb(t, "timestamp")
                    .map_err(|s| Status::invalid_argument(at(s.message().to_owned())))
            })?;
        if !message.run_id.is_empty() {
            self.check_run(principal, &message.run_id)
                .await
                .map_err(|s| {
                    Status::new(
                        s.code(),
                        at(format!("run {}: {}", message.run_id, s.message())),
                    )
                })?;
            batch
                .run_assets
                .insert((message.run_id.clone(), config.asset_id.clone()));
        }
        batch.ensure_slots(&config, channels, &message.run_id)?;
        let slots = &batch.flow_slots[&(Arc::as_ptr(channels) as usize)][message.run_id.as_str()];
        for ((value, channel), &slot) in message
            .channel_values
            .into_iter()
            .zip(channels.iter())
            .zip(slots)
        {
            let Some(value) = convert_value(value.r#type, channel)
                .map_err(|e| Status::invalid_argument(at(e)))?
            else {
                continue;
            };
            batch.bytes += POINT_COST
                + match &value {
                    Value::String(text) => text.len(),
                    Value::Bytes(bytes) => bytes.len(),
                    _ => 0,
                };
            batch.series[slot].2.push(Point { timestamp, value });
            batch.points += 1;
        }
        Ok(())
    }
}

/// tonic reports a message it cannot decode as INTERNAL and one over the size limit as
/// OUT_OF_RANGE. Both are the client's doing, and INTERNAL is among the codes sift_py retries,
/// replaying the whole stream; so they become INVALID_ARGUMENT and RESOURCE_EXHAUSTED (gRPC's
/// code for a message over the limit), naming the message.
fn stream_error(status: Status, number: usize) -> Status {
    let at = || format!("message {number} of the stream: {}", status.message());
    match status.code() {
        tonic::Code::Internal if status.message().starts_with("failed to decode") => {
            Status::invalid_argument(at())
        }
        tonic::Code::OutOfRange => Status::resource_exhausted(at()),
        _ => status,
    }
}

/// The value of a channel, `None` for `empty` (no point for this channel), or why the value
/// does not fit the channel.
fn convert_value(value: Option<PbValue>, channel: &ChannelDef) -> Result<Option<Value>, String> {
    let value = match (value, channel.data_type) {
        (Some(PbValue::Empty(_)), _) => return Ok(None),
        (Some(PbValue::Double(v)), DataType::Double) => Value::Double(v),
        (Some(PbValue::Float(v)), DataType::Float) => Value::Float(v),
        (Some(PbValue::String(v)), DataType::String) => Value::String(v),
        (Some(PbValue::Bool(v)), DataType::Bool) => Value::Bool(v),
        (Some(PbValue::Int32(v)), DataType::Int32) => Value::Int32(v),
        (Some(PbValue::Int64(v)), DataType::Int64) => Value::Int64(v),
        (Some(PbValue::Uint32(v)), DataType::Uint32) => Value::Uint32(v),
        (Some(PbValue::Uint64(v)), DataType::Uint64) => Value::Uint64(v),
        (Some(PbValue::Enum(v)), DataType::Enum) => Value::Enum(v),
        (Some(PbValue::Bytes(v)), DataType::Bytes) => Value::Bytes(v),
        (Some(PbValue::BitField(bytes)), DataType::BitField) => {
            // Bytes past the eighth hold no bit an element can name (elements lie within 64
            // bits), so zeros there are dropped: sift_py's own docs send
            // `bytes(int("00001001", 2))`, nine zero bytes. A set bit there is refused.
            if bytes.iter().skip(8).any(|b| *b != 0) {
                return Err(format!(
                    "bit field `{}` has {} bytes with bits set past the 64th; Sextant stores bit fields of up to 8 bytes",
                    channel.name,
                    bytes.len()
                ));
            }
            // Little-endian, bit 0 the lowest bit of the first byte.
            let mut buf = [0u8; 8];
            let used = bytes.len().min(8);
            buf[..used].copy_from_slice(&bytes[..used]);
            Value::BitField(u64::from_le_bytes(buf))
        }
        (None, _) => {
            return Err(format!(
                "channel `{}` has no value (send `empty` for none)",
                channel.name
            ));
        }
        (Some(other), expected) => {
            return Err(format!(
                "channel `{}` is {expected} but the value is {}",
                channel.name,
                value_kind(&other)
            ));
        }
    };
    Ok(Some(value))
}

fn value_kind(value: &PbValue) -> &'static str {
    match value {
        PbValue::String(_) => "a string",
        PbValue::Double(_) => "a double",
        PbValue::Float(_) => "a float",
        PbValue::Bool(_) => "a bool",
        PbValue::Int32(_) => "an int32",
        PbValue::Uint32(_) => "a uint32",
        PbValue::Int64(_) => "an int64",
        PbValue::Uint64(_) => "a uint64",
        PbValue::BitField(_) => "a bit field",
        PbValue::Enum(_) => "an enum",
        PbValue::Empty(_) => "empty",
        PbValue::Bytes(_) => "bytes",
    }
}
