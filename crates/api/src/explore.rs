//! What the web console (and any client) reads to find and plot series: who a key is, the
//! series a selector selects, a plot's points, and the organization's API keys.

use serde::{Deserialize, Serialize};

/// `GET /api/native/v1/whoami`: the key a request was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The key's organization.
    pub organization_id: String,
    /// The key's id.
    pub key_id: String,
    /// The key's name.
    pub key_name: String,
    /// Its scopes: `ingest`, `read`, `admin`.
    pub scopes: Vec<String>,
}

/// The query of `GET /api/native/v1/series`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// A selector (`docs/query.md`), e.g. `cpu{host=~"h1|h2"}`; every series if absent.
    #[serde(rename = "match", default)]
    pub selector: Option<String>,
    /// Words, each of which the series' key (its name, label names and values) must contain,
    /// ignoring case: `bench7 pressure`.
    #[serde(default)]
    pub q: Option<String>,
    /// The most series answered: 100 unless given, at most 1000.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One series as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesItem {
    /// Its key, in canonical form: what a plot request names it by.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its data type (`double`, `string`, …).
    pub data_type: String,
}

/// `GET /api/native/v1/series`: the series selected, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesList {
    /// The first `limit` of them.
    pub series: Vec<SeriesItem>,
    /// Whether more were selected.
    pub truncated: bool,
}

/// `POST /api/native/v1/plot`: the points of some series in a range, for a plot `width`
/// pixels wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotRequest {
    /// Series keys, as listed (at most 32).
    pub series: Vec<String>,
    /// Nanoseconds since the Unix epoch, inclusive.
    pub start: i64,
    /// Nanoseconds since the Unix epoch, exclusive.
    pub end: i64,
    /// Pixel columns (1 to 8192): the range is cut into this many buckets of equal width,
    /// counted from `start`.
    pub width: u32,
}

/// One value of a plotted series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlotValue {
    /// A number (enum keys and bit fields as their integers).
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(String),
}

/// One series of a plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotSeries {
    /// Its key.
    pub key: String,
    /// Its data type.
    pub data_type: String,
    /// The points it has in the range.
    pub points: usize,
    /// Whether `t` and `v` hold each bucket's first, lowest, highest and last point (numbers
    /// and booleans always are; a bucket with fewer points keeps them all).
    pub sampled: bool,
    /// Whether points were left out: a series of text or bytes answers the first four points
    /// of each pixel column.
    pub truncated: bool,
    /// Milliseconds since the Unix epoch (fractions for finer times), ascending.
    pub t: Vec<f64>,
    /// The values; `null` for a value that is not a finite number, or bytes.
    pub v: Vec<Option<PlotValue>>,
    /// What the series is, when it is a channel its asset declared (a series with an `asset`
    /// label naming an asset with a channel of the series' name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelInfo>,
}

/// A channel's declaration, as a plot needs it to draw and label the values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// Its unit, empty when none.
    pub unit: String,
    /// An enum channel's names of its keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enum_types: Vec<EnumName>,
    /// A bit field channel's elements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bit_field_elements: Vec<BitFieldPart>,
}

/// The name of one key of an enum channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumName {
    /// The key, as the values hold it.
    pub key: u32,
    /// Its name.
    pub name: String,
}

/// One element of a bit field channel: `bit_count` bits from bit `index` (0 the lowest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitFieldPart {
    /// Its name.
    pub name: String,
    /// Its lowest bit.
    pub index: u32,
    /// How many bits it has.
    pub bit_count: u32,
}

/// The answer of `POST /api/native/v1/plot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotAnswer {
    /// The range, as asked.
    pub start: i64,
    /// The range, as asked.
    pub end: i64,
    /// The width of each bucket, nanoseconds.
    pub bucket: i64,
    /// The series, in the order asked.
    pub series: Vec<PlotSeries>,
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// Its id.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was made, nanoseconds since the Unix epoch.
    pub created_at: i64,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// `GET /api/native/v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// Every key of the organization, revoked ones too.
    pub keys: Vec<ApiKeyInfo>,
}

/// `POST /api/native/v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Its name.
    pub name: String,
    /// Its scopes: `ingest`, `read`, `admin`.
    pub scopes: Vec<String>,
}

/// The answer of `POST /api/native/v1/keys`: the key and its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    /// The key.
    pub key: ApiKeyInfo,
    /// What clients send as `authorization: Bearer SECRET`.
    pub secret: String,
}

/// A run as the native API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Its id: the `run` label of its series.
    pub run_id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it started, nanoseconds since the Unix epoch, if known.
    pub start_time: Option<i64>,
    /// When it stopped, if it did.
    pub stop_time: Option<i64>,
    /// The names of the assets that sent data with it.
    pub assets: Vec<String>,
    /// The first and last timestamps of its data (`GET /runs/{id}` only; `None` in lists and
    /// for a run without data): where its page's plot starts and ends when the run has no
    /// start or stop time of its own, as runs that Sift clients attach have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_range: Option<(i64, i64)>,
}

/// The query of `GET /api/native/v1/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// The most runs answered (50 unless given, at most 1000).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Where the previous page ended.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// `GET /api/native/v1/runs`: runs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunList {
    /// One page of them.
    pub runs: Vec<RunInfo>,
    /// Where the next page starts; empty after the last.
    pub next_page_token: String,
}

/// An asset as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetInfo {
    /// Its id.
    pub asset_id: String,
    /// Its name: the `asset` label of its series.
    pub name: String,
}

/// `GET /api/native/v1/assets`: every asset, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetList {
    /// The assets.
    pub assets: Vec<AssetInfo>,
}

/// How many annotations a rule has, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationCounts {
    /// Open.
    pub open: u64,
    /// Flagged.
    pub flagged: u64,
    /// Resolved.
    pub resolved: u64,
}

/// A rule with what a status page shows of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStatus {
    /// Its id.
    pub rule_id: String,
    /// Its name.
    pub name: String,
    /// Its condition.
    pub expression: String,
    /// `$1` → channel name.
    pub channel_references: std::collections::BTreeMap<String, String>,
    /// The names of the assets it names (assets chosen by tag are not listed).
    pub assets: Vec<String>,
    /// `live` (evaluated on new data), `stored` (evaluated on request only) or `archived`.
    pub status: String,
    /// Its annotations (archived ones left out).
    pub annotations: AnnotationCounts,
}

/// `GET /api/native/v1/rules/status`: every rule, archived ones too, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStatusList {
    /// The rules.
    pub rules: Vec<RuleStatus>,
}

/// The query of `GET /api/native/v1/files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// `run`, `annotation` or `annotation_log`.
    pub entity_type: String,
    /// The run's, annotation's or log entry's id.
    pub entity_id: String,
}

/// A file attached to an entity, with a download path signed for an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Its id.
    pub file_id: String,
    /// Its name.
    pub file_name: String,
    /// Its media type.
    pub mime_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was uploaded, nanoseconds since the Unix epoch.
    pub created_at: i64,
    /// The path (and signed query) that downloads it from this server, without a key.
    pub download_path: String,
}

/// `GET /api/native/v1/files`: the files attached to one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    /// The files, oldest first.
    pub files: Vec<FileInfo>,
}
