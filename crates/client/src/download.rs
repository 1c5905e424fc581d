//! Downloading channels: a [`DataQuery`] names an asset, a time window and channels (each
//! optionally scoped to a run); [`DataService::execute`] resolves the names and fetches the
//! points with the same calls, in the same order, as Sift's Python client, and hands back one
//! Arrow [`RecordBatch`] per channel key in a [`QueryResult`].
//!
//! The calls:
//!
//! 1. `AssetService/ListAssets` with `name=="<asset>"`: the asset's id.
//! 2. `ChannelService/ListChannels` with `asset_id=="<id>" && name in [...]`, page by page:
//!    every queried channel must exist, or the query fails naming the missing ones.
//! 3. Only when a channel is scoped to a run, `RunService/ListRuns` with `name in [...]`:
//!    every run must exist.
//! 4. `sift.data.v2.DataService/GetData`, one request per queried channel, several at a time,
//!    each following `next_page_token` to the end.
//!
//! Keys are channel names; a bit field comes back as one key per element,
//! `<channel>.<element>`, as the Python client names them. Everything the server sends for
//! one key (several runs, several pages) is concatenated and sorted by time; points are not
//! de-duplicated. Unlike the Python client, timestamps keep their nanoseconds both ways.

mod align;
mod decode;
mod result;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use align::align;
pub use arrow_array::RecordBatch;
use pbjson_types::Timestamp;
pub use result::{
    CHANNEL_METADATA, QueryResult, TIME, UNIT_METADATA, VALUE, VALUE_NAME, time_type,
};
use sift_rs::assets::v1::ListAssetsRequest;
use sift_rs::assets::v1::asset_service_client::AssetServiceClient;
use sift_rs::channels::v3::channel_service_client::ChannelServiceClient;
use sift_rs::channels::v3::{Channel, ListChannelsRequest};
use sift_rs::data::v2::data_service_client::DataServiceClient;
use sift_rs::data::v2::{GetDataRequest, Query, query};
use sift_rs::runs::v2::ListRunsRequest;
use sift_rs::runs::v2::run_service_client::RunServiceClient;

use crate::ingest::time::{IntoTimestamp, format_rfc3339};
use crate::{Error, Result, SextantChannel};

/// The page size of the list calls.
const LIST_PAGE_SIZE: u32 = 1000;
/// The page size of `GetData`: the most the API allows. The server may send fewer points a
/// page to stay under its byte limit.
const DATA_PAGE_SIZE: u32 = 100_000;
/// How many `GetData` requests are in flight at once.
const CONCURRENT_REQUESTS: usize = 16;
/// The largest response accepted. Sextant keeps pages near 3 MiB; the margin is for other
/// servers of the same API.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// What to download: channels of one asset over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataQuery {
    /// The asset's name, e.g. `NostromoLV426`.
    pub asset_name: String,
    /// The first instant included, in nanoseconds since the Unix epoch (UTC); `None` for no
    /// lower bound. [`parse_time`] reads RFC 3339 or integer nanoseconds.
    pub start: Option<i64>,
    /// The first instant excluded; `None` for no upper bound.
    pub end: Option<i64>,
    /// The channels, in the order their keys appear in the result.
    pub channels: Vec<ChannelQuery>,
    /// Downsample numeric channels to each bucket's first, lowest, highest and last point, in
    /// buckets of this many milliseconds from `start` (or the epoch); 0 for every point. Other
    /// channels always come back whole.
    pub sample_ms: u32,
}

impl DataQuery {
    /// A query of no channels yet over `[start, end)`.
    pub fn new(asset_name: impl Into<String>, start: Option<i64>, end: Option<i64>) -> Self {
        DataQuery {
            asset_name: asset_name.into(),
            start,
            end,
            channels: Vec::new(),
            sample_ms: 0,
        }
    }

    /// Starts the query at this instant (included): nanoseconds, a `SystemTime` or a
    /// `chrono` date-time ([`IntoTimestamp`]).
    #[must_use]
    pub fn start_at(mut self, start: impl IntoTimestamp) -> Self {
        self.start = Some(start.into_timestamp());
        self
    }

    /// Ends the query at this instant (excluded).
    #[must_use]
    pub fn end_at(mut self, end: impl IntoTimestamp) -> Self {
        self.end = Some(end.into_timestamp());
        self
    }

    /// Adds a channel.
    #[must_use]
    pub fn channel(mut self, channel: ChannelQuery) -> Self {
        self.channels.push(channel);
        self
    }
}

/// One channel of a [`DataQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelQuery {
    /// The channel's name, e.g. `velocity` or `mainmotor.velocity`.
    pub channel_name: String,
    /// A prefix of the name, joined with a dot: component `mainmotor` and name `velocity` is
    /// the channel `mainmotor.velocity`. Sift deprecated components; prefer full names.
    pub component: Option<String>,
    /// Only this run's points; `None` for all points, with a run or without.
    pub run_name: Option<String>,
}

impl ChannelQuery {
    /// The channel `name`, all runs.
    pub fn new(name: impl Into<String>) -> Self {
        ChannelQuery {
            channel_name: name.into(),
            component: None,
            run_name: None,
        }
    }

    /// Prefixes the name with a component.
    #[must_use]
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Only the points of run `name`.
    #[must_use]
    pub fn run(mut self, name: impl Into<String>) -> Self {
        self.run_name = Some(name.into());
        self
    }

    /// The channel's full name: `component.channel_name`, or `channel_name`.
    pub fn full_name(&self) -> String {
        match &self.component {
            Some(component) if !component.is_empty() => {
                format!("{component}.{}", self.channel_name)
            }
            _ => self.channel_name.clone(),
        }
    }
}

/// Reads an instant: RFC 3339 (`2024-07-04T18:09:08.555-07:00`, or with a space for the `T`),
/// a date and time without an offset (UTC, seconds and fraction optional), a date (its
/// midnight in UTC), or an integer count of nanoseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Result<i64> {
    let trimmed = text.trim();
    if let Ok(ns) = trimmed.parse::<i64>() {
        return Ok(ns);
    }
    let instant = chrono::DateTime::parse_from_rfc3339(trimmed)
        .or_else(|_| chrono::DateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f%#z"))
        .or_else(|_| chrono::DateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(trimmed, format).ok())
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
                    .ok()
                    .map(|date| date.and_time(chrono::NaiveTime::MIN))
            })
            .map(|t| t.and_utc())
        });
    let invalid = |why: &str| {
        Error::Validation(format!(
            "cannot parse time {text:?}: {why}; expected RFC 3339 such as \
             2024-07-04T18:09:08.555-07:00 or integer nanoseconds since the Unix epoch"
        ))
    };
    instant
        .ok_or_else(|| invalid("not a date and time"))?
        .timestamp_nanos_opt()
        .ok_or_else(|| {
            invalid("outside the years 1677 to 2262 that nanoseconds since 1970 can count")
        })
}

/// Downloads channels; cheap to clone.
#[derive(Debug, Clone)]
pub struct DataService {
    channel: SextantChannel,
}

impl DataService {
    /// A service over an authenticated channel from [`crate::connect`].
    pub fn new(channel: SextantChannel) -> Self {
        DataService { channel }
    }

    /// Runs `query`: resolves the asset, channels and runs, then downloads every channel.
    ///
    /// Fails with [`Error::NotFound`] naming what is missing when the asset, a channel or a
    /// run does not exist, and with [`Error::Validation`] when the query itself is unusable.
    pub async fn execute(&self, query: &DataQuery) -> Result<QueryResult> {
        if query.channels.is_empty() {
            return Err(Error::Validation(format!(
                "the query of asset {:?} names no channel",
                query.asset_name
            )));
        }
        if let (Some(start), Some(end)) = (query.start, query.end)
            && end < start
        {
            return Err(Error::Validation(format!(
                "the query's end {} is before its start {}",
                format_rfc3339(end),
                format_rfc3339(start)
            )));
        }
        let asset_id = self.asset_id(&query.asset_name).await?;
        let names: Vec<String> = query.channels.iter().map(ChannelQuery::full_name).collect();
        let channels = self.channels(&query.asset_name, &asset_id, &names).await?;
        let runs = self.run_ids(query).await?;

        // One GetData per (channel id, run) pair, in query order.
        let mut requests = Vec::new();
        for (channel_query, name) in query.channels.iter().zip(&names) {
            let run_id = channel_query
                .run_name
                .as_ref()
                .map(|name| runs[name].clone());
            for channel in &channels[name] {
                requests.push((channel.channel_id.clone(), run_id.clone()));
            }
        }
        let mut result = result::Builder::default();
        for name in &names {
            for channel in &channels[name] {
                result.declare(channel)?;
            }
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_REQUESTS));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (channel_id, run_id)) in requests.into_iter().enumerate() {
            let client = self.data_client();
            let limit = limit.clone();
            let (start, end, sample_ms) = (query.start, query.end, query.sample_ms);
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let series = get_data(client, &channel_id, run_id, start, end, sample_ms).await?;
                Ok::<_, Error>((index, series))
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let answer =
                joined.map_err(|e| Error::Decode(format!("a download task failed: {e}")))?;
            answers.push(answer?);
        }
        answers.sort_by_key(|(index, _)| *index);
        for series in answers.into_iter().flat_map(|(_, series)| series) {
            result.add(series)?;
        }
        result.finish()
    }

    fn data_client(&self) -> DataServiceClient<SextantChannel> {
        DataServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    async fn asset_id(&self, name: &str) -> Result<String> {
        let response = AssetServiceClient::new(self.channel.clone())
            .list_assets(ListAssetsRequest {
                page_size: 1,
                filter: format!("name=={}", quote(name)?),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc("AssetService/ListAssets", status))?
            .into_inner();
        if let Some(asset) = response.assets.into_iter().next() {
            return Ok(asset.asset_id);
        }
        // Not found: a close name, if the first page of assets has one.
        let assets = AssetServiceClient::new(self.channel.clone())
            .list_assets(ListAssetsRequest {
                page_size: LIST_PAGE_SIZE,
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc("AssetService/ListAssets", status))?
            .into_inner()
            .assets;
        let guess = sextant_expr::did_you_mean(name, assets.iter().map(|a| a.name.as_str()));
        Err(Error::NotFound(match guess {
            Some(guess) => format!("no asset named {name:?}; did you mean {guess:?}?"),
            None => format!("no asset named {name:?}"),
        }))
    }

    /// Every channel of the asset named in `names`, by name; fails naming the missing ones.
    async fn channels(
        &self,
        asset_name: &str,
        asset_id: &str,
        names: &[String],
    ) -> Result<HashMap<String, Vec<Channel>>> {
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let quoted = wanted
            .iter()
            .map(|name| quote(name))
            .collect::<Result<Vec<_>>>()?;
        let filter = format!(
            "asset_id=={} && name in [{}]",
            quote(asset_id)?,
            quoted.join(",")
        );
        let mut found: HashMap<String, Vec<Channel>> = HashMap::new();
        for channel in self.list_channels(&filter).await? {
            let same = found.entry(channel.name.clone()).or_default();
            if !same.iter().any(|c| c.channel_id == channel.channel_id) {
                same.push(channel);
            }
        }
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|name| !found.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            let known = self.channel_names(asset_id).await?;
            return Err(Error::NotFound(missing_channels(
                asset_name, &missing, &known,
            )));
        }
        Ok(found)
    }

    /// The names of every channel of an asset, sorted.
    async fn channel_names(&self, asset_id: &str) -> Result<Vec<String>> {
        let filter = format!("asset_id=={}", quote(asset_id)?);
        let names: BTreeSet<String> = self
            .list_channels(&filter)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        Ok(names.into_iter().collect())
    }

    /// Every channel matching `filter`, following page tokens.
    async fn list_channels(&self, filter: &str) -> Result<Vec<Channel>> {
        let mut client = ChannelServiceClient::new(self.channel.clone());
        let mut channels = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_channels(ListChannelsRequest {
                    page_size: LIST_PAGE_SIZE,
                    page_token,
                    filter: filter.to_owned(),
                    ..Default::default()
                })
                .await
                .map_err(|status| Error::rpc("ChannelService/ListChannels", status))?
                .into_inner();
            channels.extend(page.channels);
            if page.next_page_token.is_empty() {
                return Ok(channels);
            }
            page_token = page.next_page_token;
        }
    }

    /// The id of every run the query names, by name; fails naming the missing ones.
    async fn run_ids(&self, query: &DataQuery) -> Result<HashMap<String, String>> {
        let wanted: BTreeSet<&str> = query
            .channels
            .iter()
            .filter_map(|c| c.run_name.as_deref())
            .collect();
        let mut ids = HashMap::new();
        if wanted.is_empty() {
            return Ok(ids);
        }
        let quoted = wanted
            .iter()
            .map(|name| quote(name))
            .collect::<Result<Vec<_>>>()?;
        let filter = format!("name in [{}]", quoted.join(","));
        let mut client = RunServiceClient::new(self.channel.clone());
        let mut page_token = String::new();
        loop {
            let page = client
                .list_runs(ListRunsRequest {
                    page_size: LIST_PAGE_SIZE,
                    page_token,
                    filter: filter.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|status| Error::rpc("RunService/ListRuns", status))?
                .into_inner();
            for run in page.runs {
                if wanted.contains(run.name.as_str()) {
                    ids.entry(run.name).or_insert(run.run_id);
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let missing: Vec<String> = wanted
            .iter()
            .filter(|name| !ids.contains_key(**name))
            .map(|name| format!("{name:?}"))
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotFound(format!(
                "no run named {}",
                missing.join(", ")
            )));
        }
        Ok(ids)
    }
}

/// Every page of one channel's data, decoded page by page.
async fn get_data(
    mut client: DataServiceClient<SextantChannel>,
    channel_id: &str,
    run_id: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
    sample_ms: u32,
) -> Result<Vec<decode::Series>> {
    let mut series = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .get_data(GetDataRequest {
                queries: vec![Query {
                    query: Some(query::Query::Channel(sift_rs::data::v2::ChannelQuery {
                        channel_id: channel_id.to_owned(),
                        run_id: run_id.clone(),
                    })),
                }],
                start_time: start.map(timestamp),
                end_time: end.map(timestamp),
                sample_ms,
                page_size: DATA_PAGE_SIZE,
                page_token,
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc("DataService/GetData", status))?
            .into_inner();
        for data in &page.data {
            series.extend(decode::decode(data)?);
        }
        if page.next_page_token.is_empty() {
            return Ok(series);
        }
        page_token = page.next_page_token;
    }
}

fn timestamp(ns: i64) -> Timestamp {
    Timestamp {
        seconds: ns.div_euclid(1_000_000_000),
        // The remainder is below 10^9, so it fits.
        nanos: ns.rem_euclid(1_000_000_000) as i32,
    }
}

/// Quotes a literal of a list filter. The filter language has no escapes, so a literal is
/// quoted with the quote it does not contain.
fn quote(literal: &str) -> Result<String> {
    if !literal.contains('"') {
        Ok(format!("\"{literal}\""))
    } else if !literal.contains('\'') {
        Ok(format!("'{literal}'"))
    } else {
        Err(Error::Validation(format!(
            "{literal:?} holds both kinds of quote, which a filter cannot carry"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc_3339_or_nanoseconds() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("-5", -5),
            ("1720141748047512000", 1_720_141_748_047_512_000),
            ("2024-07-05T01:09:08.047512Z", 1_720_141_748_047_512_000),
            (
                "2024-07-04T18:09:08.047512-07:00",
                1_720_141_748_047_512_000,
            ),
            (
                "2024-07-05T01:09:08.000000001+00:00",
                1_720_141_748_000_000_001,
            ),
            (" 1970-01-01T00:00:01Z ", 1_000_000_000),
            ("2024-07-05 01:09:08.047512", 1_720_141_748_047_512_000),
            ("2024-07-05T01:09:08", 1_720_141_748_000_000_000),
            ("2024-07-05T06:39:08+0530", 1_720_141_748_000_000_000),
            ("2024-07-05 01:09", 1_720_141_740_000_000_000),
            ("2024-07-05", 1_720_137_600_000_000_000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time(text).unwrap(), *want, "{text}");
        }
        let err = parse_time("yesterday").unwrap_err();
        assert!(
            err.to_string().contains("cannot parse time \"yesterday\""),
            "{err}"
        );
        let err = parse_time("2300-01-01T00:00:00Z").unwrap_err();
        assert!(err.to_string().contains("1677 to 2262"), "{err}");
    }

    #[test]
    fn full_names_join_the_component() {
        assert_eq!(ChannelQuery::new("voltage").full_name(), "voltage");
        assert_eq!(
            ChannelQuery::new("velocity")
                .component("mainmotor")
                .full_name(),
            "mainmotor.velocity"
        );
    }

    #[test]
    fn literals_take_the_quote_they_lack() {
        assert_eq!(quote("[A].1").unwrap(), "\"[A].1\"");
        assert_eq!(quote("say \"hi\"").unwrap(), "'say \"hi\"'");
        assert!(quote("it's \"x\"").is_err());
    }

    #[test]
    fn timestamps_split_with_non_negative_nanos() {
        assert_eq!(timestamp(-1).seconds, -1);
        assert_eq!(timestamp(-1).nanos, 999_999_999);
        assert_eq!(timestamp(1_500_000_000).seconds, 1);
        assert_eq!(timestamp(1_500_000_000).nanos, 500_000_000);
    }
}

/// The most channel names a "no channel" message lists.
const LISTED_CHANNELS: usize = 20;

/// `asset "A" has no channel "temperature" (did you mean "thruster.temperature"?); its
/// channels are …`: each missing name with the channel it most likely means (the same name
/// under a component, or a close spelling), then the asset's channels.
fn missing_channels(asset_name: &str, missing: &[&str], known: &[String]) -> String {
    let described: Vec<String> = missing
        .iter()
        .map(|name| {
            let suffix = format!(".{name}");
            let guess = known
                .iter()
                .map(String::as_str)
                .find(|k| k.ends_with(&suffix))
                .or_else(|| sextant_expr::did_you_mean(name, known.iter().map(String::as_str)));
            match guess {
                Some(guess) => format!("{name:?} (did you mean {guess:?}?)"),
                None => format!("{name:?}"),
            }
        })
        .collect();
    let channels = if known.is_empty() {
        "it has no channels".to_owned()
    } else if known.len() <= LISTED_CHANNELS {
        format!("its channels are {}", known.join(", "))
    } else {
        format!(
            "its channels are {}, and {} more",
            known[..LISTED_CHANNELS].join(", "),
            known.len() - LISTED_CHANNELS
        )
    };
    format!(
        "asset {asset_name:?} has no channel {}; {channels}",
        described.join(", ")
    )
}

#[cfg(test)]
mod missing_tests {
    use super::missing_channels;

    #[test]
    fn a_missing_channel_names_what_was_probably_meant() {
        let known = ["mainmotor.velocity", "thruster.temperature", "voltage"].map(String::from);
        assert_eq!(
            missing_channels("Nostromo", &["temperature", "voltgae", "pressure"], &known),
            "asset \"Nostromo\" has no channel \"temperature\" (did you mean \"thruster.temperature\"?), \
             \"voltgae\" (did you mean \"voltage\"?), \"pressure\"; its channels are \
             mainmotor.velocity, thruster.temperature, voltage"
        );
        assert_eq!(
            missing_channels("Empty", &["x"], &[]),
            "asset \"Empty\" has no channel \"x\"; it has no channels"
        );
    }
}
