//! Report templates (sets of rules) and reports (what evaluating rules over a run or assets
//! found, rule by rule).

use serde::{Deserialize, Serialize};
use sextant_model::Timestamp;

/// What a report template declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTemplateDef {
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The rules it runs, by id, in order.
    pub rule_ids: Vec<String>,
    /// Tag names.
    pub tags: Vec<String>,
}

/// A stored report template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTemplate {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The client's key, unique in the organization.
    pub client_key: Option<String>,
    /// What it declares.
    pub def: ReportTemplateDef,
    /// When it was archived, if it is.
    pub archived_at: Option<Timestamp>,
    /// The key that created it.
    pub created_by: String,
    /// The key that last changed it.
    pub modified_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub modified_at: Timestamp,
}

/// Which report templates a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTemplateFilter {
    /// Ids.
    pub ids: Option<Vec<String>>,
    /// Client keys.
    pub client_keys: Option<Vec<String>>,
    /// Names.
    pub names: Option<Vec<String>>,
    /// Archived ones too.
    pub include_archived: bool,
}

/// How the evaluation of one rule on one asset ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportRuleStatus {
    /// Evaluated over the whole range.
    Finished,
    /// Could not be evaluated (its channels are missing, its expression does not fit them, a
    /// query limit was reached); `error` says why.
    Error,
}

/// What one rule found on one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRuleSummary {
    /// The rule.
    pub rule_id: String,
    /// Its client key, empty when none.
    pub rule_client_key: String,
    /// The version evaluated.
    pub rule_version: u32,
    /// The asset.
    pub asset_id: String,
    /// Annotations created and still open.
    pub num_open: u32,
    /// Annotations marked failed.
    pub num_failed: u32,
    /// Annotations marked passed.
    pub num_passed: u32,
    /// How the evaluation ended.
    pub status: ReportRuleStatus,
    /// Why it could not be evaluated.
    pub error: Option<String>,
}

/// A report to record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewReport {
    /// Its name.
    pub name: String,
    /// The run evaluated, if one was.
    pub run_id: Option<String>,
    /// The template whose rules were evaluated, if one was.
    pub template_id: Option<String>,
    /// Rule by rule, asset by asset.
    pub summaries: Vec<ReportRuleSummary>,
    /// The time range evaluated, in ns: `[start, end)`.
    pub range: (Timestamp, Timestamp),
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// What it holds.
    pub fields: NewReport,
    /// The key that ran it.
    pub created_by: String,
    /// When it was made.
    pub created_at: Timestamp,
}

/// Which reports a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Ids.
    pub ids: Option<Vec<String>>,
    /// Runs.
    pub run_ids: Option<Vec<String>>,
    /// Templates.
    pub template_ids: Option<Vec<String>>,
    /// Names.
    pub names: Option<Vec<String>>,
}

/// Where a data import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    /// Waiting for its file.
    Pending,
    /// Its file is being read.
    InProgress,
    /// Its data is stored.
    Succeeded,
    /// It stopped; the message says why.
    Failed,
}

impl ImportStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Pending => "pending",
            ImportStatus::InProgress => "in_progress",
            ImportStatus::Succeeded => "succeeded",
            ImportStatus::Failed => "failed",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            ImportStatus::Pending,
            ImportStatus::InProgress,
            ImportStatus::Succeeded,
            ImportStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl std::str::FromStr for ImportStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ImportStatus::parse(s).ok_or_else(|| format!("unknown import status {s:?}"))
    }
}

/// A data import: a file of a format with its config, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataImport {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// `csv` or `parquet`.
    pub format: String,
    /// The config as the client sent it (JSON).
    pub config: String,
    /// Where it is.
    pub status: ImportStatus,
    /// Why it failed.
    pub error_message: String,
    /// Rows stored.
    pub rows: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub modified_at: Timestamp,
}
