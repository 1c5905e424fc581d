//! [`IngestionService`]: a registered telemetry config and the calls that send its flows.

use std::sync::Arc;

use sextant_telemetry::{FlowConfig, NamedExpressions, TelemetryConfig, validate_config};
use sift_rs::ingest::v1::IngestWithConfigDataStreamRequest;
use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;

use super::buffered::BufferedIngestionBuilder;
use super::convert::FlowTable;
use super::flow::{Flow, OrderedFlow};
use super::registration::register;
use super::retry::{Failure, RetryPolicy, retry_call};
use super::rules::{Names, RegisteredRule, register_rules};
use super::run::{RunOptions, find_or_create};
use crate::{Error, Result, SextantChannel};

/// The RPC every ingest call is.
pub(crate) const INGEST_CALL: &str = "IngestService/IngestWithConfigDataStream";

/// Sends the flows of one registered telemetry config.
///
/// ```no_run
/// # async fn example() -> sextant_client::Result<()> {
/// use sextant_client::ingest::{Flow, IngestionService, time};
/// use sextant_client::{ClientConfig, connect};
/// use sextant_model::{DataType, Value};
/// use sextant_telemetry::{ChannelConfig, FlowConfig, TelemetryConfig};
///
/// let temperature = ChannelConfig::new("temperature", DataType::Double).component("thruster");
/// let config = TelemetryConfig::new("NostromoLV426", "nostromo_lv_426")
///     .flow(FlowConfig::new("temperature_reading", [temperature]));
/// let channel = connect(&ClientConfig::new("http://127.0.0.1:7777", "my-api-key")).await?;
/// let service = IngestionService::new(channel, &config).await?;
/// service
///     .try_ingest_flows(&[Flow::new("temperature_reading", time::now())
///         .value("thruster.temperature", Value::Double(327.0))])
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// Cloning is cheap: clones share the channel and the flow table, and each keeps its own run.
#[derive(Debug, Clone)]
pub struct IngestionService {
    channel: SextantChannel,
    table: Arc<FlowTable>,
    rules: Arc<[RegisteredRule]>,
    asset_id: String,
    run_id: String,
    retry: RetryPolicy,
}

impl IngestionService {
    /// Registers `config` and returns a service for its flows, as `sift_py`'s
    /// `IngestionService(channel, config)` does:
    ///
    /// 0. validates the config as a YAML file is validated (`validate_config`), so nothing is
    ///    sent for a config with a problem: the [`Error::Validation`] lists every problem with
    ///    where it is (`rules[0].rule_client_key`, say); and finds the users the rules are
    ///    assigned to ([`Error::NotFound`] names the rule and the user when one is missing);
    /// 1. finds the ingestion config by `ingestion_client_key`, or creates it with the asset
    ///    and every flow (channels by full name, `component.name`, with unit, description,
    ///    enum table and bit-field elements);
    /// 2. for an existing config, sends the flows the server lacks or holds differently; the
    ///    server adds new flows and refuses, with FAILED_PRECONDITION naming each change,
    ///    changes that would alter data already sent (a channel redefined, a channel added to
    ///    a flow) — those need a new `ingestion_client_key`;
    /// 3. lists the flows as the server holds them: values are laid out in the server's
    ///    channel order;
    /// 4. registers the config's rules on its asset, each by its `rule_client_key` (created,
    ///    or updated when the server has it): annotation tags the organization lacks are
    ///    created. Live rules (`is_live`) evaluate the data sent from then on.
    pub async fn new(channel: SextantChannel, config: &TelemetryConfig) -> Result<Self> {
        Self::with_retry(channel, config, RetryPolicy::default()).await
    }

    /// As [`IngestionService::new`], retrying failed calls by `policy`.
    pub async fn with_retry(
        channel: SextantChannel,
        config: &TelemetryConfig,
        policy: RetryPolicy,
    ) -> Result<Self> {
        Self::builder(channel, config)
            .retry_policy(policy)
            .build()
            .await
    }

    /// Settings beyond the config's, with the defaults of [`IngestionService::new`]:
    ///
    /// ```no_run
    /// # async fn example(channel: sextant_client::SextantChannel, config: sextant_telemetry::TelemetryConfig) -> sextant_client::Result<()> {
    /// use sextant_client::ingest::{IngestionService, RetryPolicy};
    ///
    /// let service = IngestionService::builder(channel, &config)
    ///     .retry_policy(RetryPolicy::none())
    ///     .skip_rules()
    ///     .build()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(
        channel: SextantChannel,
        config: &TelemetryConfig,
    ) -> IngestionServiceBuilder<'_> {
        IngestionServiceBuilder {
            channel,
            config,
            retry: RetryPolicy::default(),
            rules: true,
        }
    }

    /// The server's id of the ingestion config.
    pub fn ingestion_config_id(&self) -> &str {
        &self.table.ingestion_config_id
    }

    /// The server's id of the asset.
    pub fn asset_id(&self) -> &str {
        &self.asset_id
    }

    /// The flow of this name as the server registered it: channels by full name, in the
    /// order [`OrderedFlow`] values follow.
    pub fn flow(&self, name: &str) -> Option<&FlowConfig> {
        self.table.flows.get(name).map(|f| &f.config)
    }

    /// Every registered flow, in no particular order.
    pub fn flows(&self) -> impl Iterator<Item = &FlowConfig> {
        self.table.flows.values().map(|f| &f.config)
    }

    /// The config's rules as the server registered them, in the config's order.
    pub fn rules(&self) -> &[RegisteredRule] {
        &self.rules
    }

    /// The retry policy of calls.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Attaches the run called `name`: unless `options.force_new`, an existing run of that
    /// name (`ListRuns`); otherwise a new one (`CreateRun`). Flows sent afterwards belong to
    /// it. Returns the run's id.
    pub async fn attach_run(&mut self, name: &str, options: RunOptions) -> Result<String> {
        self.run_id = find_or_create(
            &self.channel,
            name,
            &self.table.organization_id,
            &options,
            &self.retry,
        )
        .await?;
        Ok(self.run_id.clone())
    }

    /// Attaches a run by id, without calling the server; the server checks the id with the
    /// first flow sent.
    pub fn attach_run_id(&mut self, run_id: impl Into<String>) {
        self.run_id = run_id.into();
    }

    /// Flows sent afterwards belong to no run.
    pub fn detach_run(&mut self) {
        self.run_id.clear();
    }

    /// The attached run's id.
    pub fn run_id(&self) -> Option<&str> {
        Some(self.run_id.as_str()).filter(|id| !id.is_empty())
    }

    /// Checks every flow against its registered flow, then sends them all in one stream.
    ///
    /// Nothing is sent when a flow fails the check: the [`Error::Validation`](crate::Error::Validation) names the flow
    /// and the problem — a flow the config does not have, a flow with no values, a channel
    /// the flow does not have or given twice, a value not of the channel's data type, an enum
    /// key outside the channel's table. Channels of the flow left out are sent as `empty`
    /// (no point). An empty slice sends nothing.
    pub async fn try_ingest_flows(&self, flows: &[Flow]) -> Result<()> {
        let messages = self.encode(flows)?;
        self.send(messages).await
    }

    /// Sends flows with values in registered channel order, checking nothing, in one stream.
    /// A wrong value count or type makes the server refuse the whole stream.
    pub async fn ingest_flows(&self, flows: &[OrderedFlow]) -> Result<()> {
        let messages = self.encode_ordered(flows);
        self.send(messages).await
    }

    /// A buffer in front of this service (with its current run), as `sift_py`'s
    /// `buffered_ingestion()`: flows are sent in streams of 1,000 unless the builder says
    /// otherwise. See [`BufferedIngestion`](super::BufferedIngestion) for when flows are sent and what happens when a
    /// stream fails.
    ///
    /// ```no_run
    /// # async fn example(service: sextant_client::ingest::IngestionService) -> sextant_client::Result<()> {
    /// use std::time::Duration;
    ///
    /// let buffered = service
    ///     .buffered()
    ///     .buffer_size(5_000)
    ///     .flush_interval(Duration::from_secs(1))
    ///     .on_error(|error| eprintln!("a background flush failed: {error}"))
    ///     .start()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn buffered(&self) -> BufferedIngestionBuilder {
        BufferedIngestionBuilder::new(self.clone())
    }

    pub(crate) fn encode(&self, flows: &[Flow]) -> Result<Vec<IngestWithConfigDataStreamRequest>> {
        self.table.encode_checked(flows, &self.run_id)
    }

    pub(crate) fn encode_ordered(
        &self,
        flows: &[OrderedFlow],
    ) -> Vec<IngestWithConfigDataStreamRequest> {
        self.table.encode_ordered(flows, &self.run_id)
    }

    /// Sends messages as one stream, retrying by the policy (see [`RetryPolicy`] for why that
    /// is safe).
    pub(crate) async fn send(
        &self,
        messages: Vec<IngestWithConfigDataStreamRequest>,
    ) -> Result<()> {
        let count = messages.len();
        self.send_shared(messages.into()).await.map_err(|f| {
            let outcome = if f.transient {
                "not acknowledged"
            } else {
                "refused whole, nothing of it stored"
            };
            f.into_error(INGEST_CALL, || {
                format!("a stream of {count} flows, {outcome}")
            })
        })
    }

    /// Sends messages as one stream, keeping them for another attempt.
    pub(crate) async fn send_shared(
        &self,
        messages: Arc<[IngestWithConfigDataStreamRequest]>,
    ) -> Result<(), Failure> {
        if messages.is_empty() {
            return Ok(());
        }
        let client = IngestServiceClient::new(self.channel.clone());
        retry_call(&self.retry, INGEST_CALL, || {
            let mut client = client.clone();
            let messages = messages.clone();
            async move {
                let stream =
                    tokio_stream::iter((0..messages.len()).map(move |i| messages[i].clone()));
                client.ingest_with_config_data_stream(stream).await
            }
        })
        .await
        .map(|_| ())
    }
}

/// How an [`IngestionService`] is set up; from [`IngestionService::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct IngestionServiceBuilder<'a> {
    channel: SextantChannel,
    config: &'a TelemetryConfig,
    retry: RetryPolicy,
    rules: bool,
}

impl IngestionServiceBuilder<'_> {
    /// How failed calls are retried ([`RetryPolicy::default`] unless set).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Registers only the asset, channels and flows: the config's rules are still validated
    /// but left as the server holds them, and their assignees need not exist. For programs
    /// that send data under a config whose rules someone else manages.
    pub fn skip_rules(mut self) -> Self {
        self.rules = false;
        self
    }

    /// Validates and registers the config (see [`IngestionService::new`]).
    pub async fn build(self) -> Result<IngestionService> {
        let IngestionServiceBuilder {
            channel,
            config,
            retry,
            rules,
        } = self;
        let valid = validate_config(config, &NamedExpressions::new()).map_err(|problems| {
            Error::Validation(format!(
                "the telemetry config of asset `{}` has {}:\n{problems}",
                config.asset_name,
                sextant_model::count(problems.0.len(), "problem", "problems")
            ))
        })?;
        let to_register = if rules { valid.rules() } else { &[] };
        let mut names = Names::new(&channel, &retry);
        names.find_assignees(to_register).await?;
        let (table, asset_id) = register(&channel, config, &retry).await?;
        let rules =
            register_rules(&mut names, to_register, &asset_id, &table.organization_id).await?;
        Ok(IngestionService {
            channel,
            table: Arc::new(table),
            rules: rules.into(),
            asset_id,
            run_id: String::new(),
            retry,
        })
    }
}
