//! Runs: a named span of an asset's data (a test, a flight). Attaching a run finds it by name
//! or creates it; every flow sent afterwards carries its id.

use sift_rs::metadata::v1::metadata_value::Value as PbMetadata;
use sift_rs::metadata::v1::{MetadataKey, MetadataKeyType, MetadataValue as PbMetadataValue};
use sift_rs::runs::v2::run_service_client::RunServiceClient;
use sift_rs::runs::v2::{CreateRunRequest, ListRunsRequest};

use super::registration::quote;
use super::retry::{RetryPolicy, retry};
use crate::{Error, Result, SextantChannel};

/// A run metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// Text.
    String(String),
    /// A number.
    Number(f64),
    /// True or false.
    Bool(bool),
}

/// How a run is attached: the fields of a new run, and whether to always create one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// The run's description.
    pub description: Option<String>,
    /// Tags of the run.
    pub tags: Vec<String>,
    /// Metadata of the run, by key.
    pub metadata: Vec<(String, MetadataValue)>,
    /// Create a new run even when one of the same name exists.
    pub force_new: bool,
}

impl RunOptions {
    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: MetadataValue) -> Self {
        self.metadata.push((key.into(), value));
        self
    }

    /// Always creates a new run.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
}

fn metadata_to_pb((key, value): &(String, MetadataValue)) -> PbMetadataValue {
    let (kind, value) = match value {
        MetadataValue::String(s) => (MetadataKeyType::String, PbMetadata::StringValue(s.clone())),
        MetadataValue::Number(n) => (MetadataKeyType::Number, PbMetadata::NumberValue(*n)),
        MetadataValue::Bool(b) => (MetadataKeyType::Boolean, PbMetadata::BooleanValue(*b)),
    };
    PbMetadataValue {
        key: Some(MetadataKey {
            name: key.clone(),
            r#type: kind as i32,
            ..Default::default()
        }),
        value: Some(value),
        ..Default::default()
    }
}

/// The id of the run called `name`: an existing one unless `force_new`, else a new one.
pub(crate) async fn find_or_create(
    channel: &SextantChannel,
    name: &str,
    organization_id: &str,
    options: &RunOptions,
    policy: &RetryPolicy,
) -> Result<String> {
    if name.trim().is_empty() {
        return Err(Error::Validation("a run needs a name".to_owned()));
    }
    let client = RunServiceClient::new(channel.clone());
    if !options.force_new {
        let request = ListRunsRequest {
            page_size: 1,
            filter: quote("name", name)?,
            ..Default::default()
        };
        let found = retry(policy, "RunService/ListRuns", || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.list_runs(request).await }
        })
        .await?
        .into_inner()
        .runs
        .into_iter()
        .next();
        if let Some(run) = found {
            return Ok(run.run_id);
        }
    }
    let request = CreateRunRequest {
        name: name.to_owned(),
        description: options.description.clone().unwrap_or_default(),
        tags: options.tags.clone(),
        organization_id: organization_id.to_owned(),
        metadata: options.metadata.iter().map(metadata_to_pb).collect(),
        ..Default::default()
    };
    let created = retry(policy, "RunService/CreateRun", || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.create_run(request).await }
    })
    .await?
    .into_inner();
    created.run.map(|run| run.run_id).ok_or_else(|| {
        Error::rpc(
            "RunService/CreateRun",
            tonic::Status::internal("the reply holds no run"),
        )
    })
}
