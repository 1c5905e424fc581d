//! The wire types of Sextant's native HTTP JSON API: the request and response bodies of
//! `/api/native/v1/...` (users, tags, rules, rule evaluation and flush, annotations, admin
//! maintenance) and the webhook notification body, with the paths they are served under.
//!
//! It sits between the server's `native` front end, which serializes these types, and the
//! SDK's `native` client and the CLI, which deserialize them, so both sides of the wire
//! share one definition and a field renamed on one side is a compile error on the other.
//! It is a crate of its own, depending only on serde (and prost for the gRPC form of live
//! subscriptions, [`live::proto`]), rather than a module of
//! `sextant-model` (the storage vocabulary, which knows nothing of JSON shapes) or of the
//! server (which the SDK must not pull in): a third-party program can use it to talk to
//! Sextant, or to receive its webhooks, without the engine.
//!
//! Times are nanoseconds since the Unix epoch (`i64`). Optional fields are written as `null`
//! when absent, as the server always has; the one exception is [`AnnotationQuery`], a query
//! string, which leaves them out. The byte-level contract is described in `docs/rules.md`
//! and `docs/protocols/admin.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Where the native API is served: a prefix of its own, so that it never collides with
/// KairosDB's REST API, which owns `/api/v1/...` (and whose later versions add routes such as
/// `/api/v1/rollups` and `/api/v1/metadata`).
pub const PREFIX: &str = "/api/native/v1";

/// The paths of the native API, as the server routes them (`{id}` is a path parameter).
pub mod paths {
    /// `GET` lists users, `POST` creates one.
    pub const USERS: &str = "/api/native/v1/users";
    /// `GET` lists tags, `POST` creates one (or returns the existing one).
    pub const TAGS: &str = "/api/native/v1/tags";
    /// `GET` lists rules, `POST` applies one.
    pub const RULES: &str = "/api/native/v1/rules";
    /// `POST` evaluates a rule over stored data.
    pub const RULES_EVAL: &str = "/api/native/v1/rules/eval";
    /// `POST` waits for the live rules to catch up with every committed write.
    pub const RULES_FLUSH: &str = "/api/native/v1/rules/flush";
    /// `GET` lists annotations.
    pub const ANNOTATIONS: &str = "/api/native/v1/annotations";
    /// `GET` reads one annotation, `PATCH` changes it.
    pub const ANNOTATION: &str = "/api/native/v1/annotations/{id}";
    /// `POST` flushes the head into parts and merges them.
    pub const ADMIN_FLUSH: &str = "/api/native/v1/admin/flush";
    /// `GET` lists custom events (SignalFx's `/v2/event`).
    pub const EVENTS: &str = "/api/native/v1/events";

    /// `GET` lists event collections, `POST` creates one.
    pub const COLLECTIONS: &str = "/api/native/v1/collections";
    /// `GET` reads a collection's schema and counts, `PUT` adds columns to its schema,
    /// `DELETE` deletes it.
    pub const COLLECTION: &str = "/api/native/v1/collections/{name}";
    /// `GET` reads a collection's inferences joined with their labels.
    pub const COLLECTION_EVENTS: &str = "/api/native/v1/collections/{name}/events";
    /// `GET` aggregates a collection per time window.
    pub const COLLECTION_STATS: &str = "/api/native/v1/collections/{name}/stats";
    /// `POST` ingests events in TruEra's streaming request shape (`model_id` names the
    /// collection). Not under the native prefix: it is the path TruEra's clients post to.
    pub const INGEST_EVENTS: &str = "/api/v0/ingest/streaming/events";
    /// `GET` subscribes to committed points as Server-Sent Events (query string: `selector`,
    /// `since`, `cursor`, `window`, `slide`, `agg`, `watermark`, `lateness`;
    /// `Last-Event-ID` resumes).
    pub const SUBSCRIBE: &str = "/api/native/v1/subscribe";
    /// `GET` upgrades to a WebSocket whose first message is a
    /// [`SubscribeRequest`](crate::live::SubscribeRequest).
    pub const SUBSCRIBE_WS: &str = "/api/native/v1/subscribe/ws";

    /// `GET` tells who the request's key is.
    pub const WHOAMI: &str = "/api/native/v1/whoami";
    /// `GET` lists the series a selector selects (query string: `match`, `limit`).
    pub const SERIES: &str = "/api/native/v1/series";
    /// `POST` reads some series' points in a range, sampled to a plot's width.
    pub const PLOT: &str = "/api/native/v1/plot";
    /// `GET` lists the organization's API keys, `POST` creates one.
    pub const KEYS: &str = "/api/native/v1/keys";
    /// `GET` lists runs, newest first.
    pub const RUNS: &str = "/api/native/v1/runs";
    /// `GET` reads one run.
    pub const RUN: &str = "/api/native/v1/runs/{id}";
    /// `GET` lists assets.
    pub const ASSETS: &str = "/api/native/v1/assets";
    /// `GET` lists rules with their status and annotation counts.
    pub const RULES_STATUS: &str = "/api/native/v1/rules/status";
    /// `GET` lists the files attached to a run, an annotation or a log entry.
    pub const FILES: &str = "/api/native/v1/files";
    /// `DELETE` revokes a key.
    pub const KEY: &str = "/api/native/v1/keys/{id}";

    /// The path of the annotation `id`.
    pub fn annotation(id: &str) -> String {
        format!("{ANNOTATIONS}/{id}")
    }

    /// The path of the collection `name` (and of its `events` or `stats` with a suffix).
    pub fn collection(name: &str, suffix: &str) -> String {
        format!("{COLLECTIONS}/{name}{suffix}")
    }
}

pub mod collections;
pub mod explore;
pub mod live;

/// The body of every refused request: `{"error": "..."}`, with the status of the error's kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong, for a person.
    pub error: String,
}

// ---- users and tags ----

/// `POST /api/native/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// The user's name, usually an e-mail address; rules name assignees by it.
    pub name: String,
    /// An e-mail address to log in with (`POST /v2/session`), unique across the server. Needs
    /// `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The password of the login, at least 8 characters. Only its hash is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The scope of the session keys a login gives: `read` (the default), `ingest` or `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_scope: Option<String>,
}

/// A user annotations can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub user_id: String,
    /// Its name.
    pub name: String,
}

/// `GET /api/native/v1/users`: every user of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    /// The users, by name.
    pub users: Vec<User>,
}

/// `POST /api/native/v1/tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    /// The tag's name.
    pub name: String,
}

/// A tag of annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Its id.
    pub tag_id: String,
    /// Its name, unique in the organization.
    pub name: String,
}

/// `GET /api/native/v1/tags`: every tag of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagList {
    /// The tags, by name.
    pub tags: Vec<Tag>,
}

// ---- rules ----

/// What a rule's annotations are: a review for a person, or a phase of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationType {
    /// A data review, with an assignee and tags.
    #[default]
    Review,
    /// A phase of operation.
    Phase,
}

/// A rule as `POST /api/native/v1/rules` and `POST /api/native/v1/rules/eval` take it: names
/// instead of ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// The rule's name.
    pub name: String,
    /// Identifies the rule when it is applied again.
    #[serde(default)]
    pub client_key: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The condition, e.g. `$1 > 400`.
    pub expression: String,
    /// `$1` → full channel name.
    pub channel_references: BTreeMap<String, String>,
    /// Channels shown with the annotations.
    #[serde(default)]
    pub contextual_channels: Vec<String>,
    /// The assets the rule watches, by name; they must exist.
    #[serde(default)]
    pub asset_names: Vec<String>,
    /// `review` (the default) or `phase`.
    #[serde(default, rename = "type")]
    pub rule_type: Option<AnnotationType>,
    /// The user review annotations are assigned to, by name.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Tag names; created when missing.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Evaluate on live data.
    #[serde(default)]
    pub live: bool,
    /// Where to POST notifications of this rule's annotations (`http://` only).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// A stored rule, as the server answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Its id.
    pub rule_id: String,
    /// Starts at 1, one more at every change.
    pub version: u32,
    /// Its name.
    pub name: String,
    /// Identifies the rule when it is applied again.
    pub client_key: Option<String>,
    /// Free text.
    pub description: String,
    /// The condition.
    pub expression: String,
    /// `$1` → full channel name.
    pub channel_references: BTreeMap<String, String>,
    /// Channels shown with the annotations.
    pub contextual_channels: Vec<String>,
    /// The assets the rule watches, by id.
    pub asset_ids: Vec<String>,
    /// What its annotations are.
    #[serde(rename = "type")]
    pub rule_type: AnnotationType,
    /// The user review annotations are assigned to.
    pub assignee_user_id: Option<String>,
    /// The tags its annotations get, by id.
    pub tag_ids: Vec<String>,
    /// Evaluated on live data.
    pub live: bool,
    /// Where notifications of its annotations go.
    pub webhook_url: Option<String>,
    /// Archived rules are not evaluated.
    pub archived: bool,
}

/// The answer of `POST /api/native/v1/rules`: the stored rule, and whether it is new (`201`)
/// or an update of the rule with the same client key (`200`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRule {
    /// The rule as stored.
    #[serde(flatten)]
    pub rule: Rule,
    /// Created rather than updated.
    pub created: bool,
}

/// The query of `GET /api/native/v1/rules`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleQuery {
    /// Only the rules watching this asset (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Archived rules too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_archived: bool,
}

/// `GET /api/native/v1/rules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleList {
    /// The rules.
    pub rules: Vec<Rule>,
}

/// `POST /api/native/v1/rules/eval`: a stored rule (`rule_key`) or one given inline (`rule`),
/// evaluated over one asset's data of one run in `[start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalRequest {
    /// A stored rule, by client key or id.
    #[serde(default)]
    pub rule_key: Option<String>,
    /// A rule given inline (not stored).
    #[serde(default)]
    pub rule: Option<RuleBody>,
    /// The asset whose data to evaluate, by name.
    pub asset: String,
    /// The run of the data; none for data sent without a run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The first nanosecond (default: the beginning).
    #[serde(default)]
    pub start: Option<i64>,
    /// The nanosecond after the last (default: the end).
    #[serde(default)]
    pub end: Option<i64>,
    /// Store the ranges as annotations of the (stored) rule.
    #[serde(default)]
    pub annotate: bool,
}

/// A range where a rule held: `[start, end)`, `end` null when it still held at the end of
/// the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRange {
    /// The first instant it held.
    pub start: i64,
    /// The first instant it no longer held.
    pub end: Option<i64>,
}

/// The answer of `POST /api/native/v1/rules/eval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalResponse {
    /// The rule's name.
    pub rule: String,
    /// The asset's name.
    pub asset: String,
    /// Where the rule held, in time order.
    pub ranges: Vec<HeldRange>,
    /// The annotations created (with `annotate`), one per range.
    pub annotation_ids: Vec<String>,
}

/// The answer of `POST /api/native/v1/rules/flush`: the live rule engine's counters since the
/// server started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushResponse {
    /// Rule evaluations of a stream over a span of new data.
    pub evaluations: u64,
    /// Annotations opened.
    pub opened: u64,
    /// Annotations closed.
    pub closed: u64,
    /// Evaluations that failed (logged).
    pub failures: u64,
}

// ---- annotations ----

/// Where an annotation is in its review.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationState {
    /// To be looked at.
    #[default]
    Open,
    /// Looked at and flagged.
    Flagged,
    /// Done with.
    Resolved,
}

impl AnnotationState {
    /// The state's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationState::Open => "open",
            AnnotationState::Flagged => "flagged",
            AnnotationState::Resolved => "resolved",
        }
    }
}

/// An annotation: a time range of an asset that a rule (or a person) marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Its id.
    pub annotation_id: String,
    /// Its name (a rule's annotations take the rule's).
    pub name: String,
    /// Free text.
    pub description: String,
    /// The first instant.
    pub start_time: i64,
    /// The first instant after it; null while it is open.
    pub end_time: Option<i64>,
    /// The assets it is about.
    pub asset_ids: Vec<String>,
    /// The run it is about, if any.
    pub run_id: Option<String>,
    /// A review or a phase.
    #[serde(rename = "type")]
    pub annotation_type: AnnotationType,
    /// Where it is in its review.
    pub state: AnnotationState,
    /// Who reviews it.
    pub assignee_user_id: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// The rule that created it.
    pub rule_id: Option<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it last changed.
    pub modified_at: i64,
}

/// The query of `GET /api/native/v1/annotations`; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationQuery {
    /// Created by this rule (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Of this asset (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Of this run (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// In this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AnnotationState>,
    /// Assigned to this user (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_user_id: Option<String>,
    /// With this tag (name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Overlapping `[from, to)`: from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Overlapping `[from, to)`: up to here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// At most this many (and at most the server's page size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// `GET /api/native/v1/annotations`: one page, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationList {
    /// The annotations of this page.
    pub annotations: Vec<Annotation>,
    /// The token of the next page; empty on the last.
    pub next_page_token: String,
}

/// `PATCH /api/native/v1/annotations/{id}`: the fields to change; absent ones stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationPatch {
    /// The new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AnnotationState>,
    /// The new assignee (`Some(None)`, `null` on the wire, removes it).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub assignee_user_id: Option<Option<String>>,
    /// The new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The new tags (names), replacing the old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A field that is present, `null` included: absent is `None` (through `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

// ---- webhooks ----

/// What happened to an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A live rule opened it.
    #[serde(rename = "annotation.opened")]
    AnnotationOpened,
    /// A live rule closed it.
    #[serde(rename = "annotation.closed")]
    AnnotationClosed,
}

/// The rule a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRule {
    /// Its id.
    pub rule_id: String,
    /// Its name.
    pub name: String,
    /// Its client key.
    pub client_key: Option<String>,
}

/// The body Sextant POSTs to a webhook when a live rule opens or closes an annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookNotification {
    /// What happened.
    pub event: WebhookEvent,
    /// The annotation after it happened.
    pub annotation: Annotation,
    /// The rule that made it happen.
    pub rule: WebhookRule,
}

// ---- admin ----

/// The answer of `POST /api/native/v1/admin/flush`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminFlushResponse {
    /// Points moved from the head into parts.
    pub flushed_points: u64,
    /// Parts the flush wrote.
    pub parts_written: u64,
    /// Partitions whose parts were merged into one.
    pub partitions_merged: u64,
    /// Parts the merge replaced.
    pub parts_removed: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_annotation_reads_and_writes_the_documented_json() {
        let text = json!({"annotation_id": "a1", "name": "overheating", "description": "hot",
            "start_time": 1720116010250000000_i64, "end_time": null, "asset_ids": ["x"],
            "run_id": null, "type": "review", "state": "open", "assignee_user_id": "u1",
            "tags": ["warning"], "rule_id": "r1", "created_at": 1, "modified_at": 2});
        let annotation: Annotation = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(annotation.end_time, None);
        assert_eq!(annotation.annotation_type, AnnotationType::Review);
        assert_eq!(serde_json::to_value(&annotation).unwrap(), text);
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        // (body, expected assignee change)
        let cases = [
            (json!({}), None),
            (json!({"assignee_user_id": null}), Some(None)),
            (json!({"assignee_user_id": "u"}), Some(Some("u".to_owned()))),
        ];
        for (body, assignee) in cases {
            let patch: AnnotationPatch = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(patch.assignee_user_id, assignee, "{body}");
            assert_eq!(serde_json::to_value(&patch).unwrap(), body);
        }
        let unknown = serde_json::from_value::<AnnotationPatch>(json!({"start_time": 1}));
        assert!(unknown.unwrap_err().to_string().contains("start_time"));
    }

    #[test]
    fn an_applied_rule_is_the_rule_and_whether_it_is_new() {
        let rule = Rule {
            rule_id: "r".into(),
            version: 2,
            name: "n".into(),
            client_key: None,
            description: String::new(),
            expression: "$1 > 1".into(),
            channel_references: BTreeMap::from([("$1".into(), "a.b".into())]),
            contextual_channels: vec![],
            asset_ids: vec![],
            rule_type: AnnotationType::Phase,
            assignee_user_id: None,
            tag_ids: vec![],
            live: true,
            webhook_url: None,
            archived: false,
        };
        let applied = AppliedRule {
            rule,
            created: false,
        };
        let value = serde_json::to_value(&applied).unwrap();
        assert_eq!(value["type"], "phase");
        assert_eq!(value["created"], false);
        assert_eq!(value["client_key"], serde_json::Value::Null);
        assert_eq!(
            serde_json::from_value::<AppliedRule>(value).unwrap(),
            applied
        );
    }

    #[test]
    fn webhook_events_are_dotted() {
        assert_eq!(
            serde_json::to_value(WebhookEvent::AnnotationClosed).unwrap(),
            "annotation.closed"
        );
    }
}

// ---- events ----

/// A property value of a custom event, with its type: a JSON string, integer, number with a
/// fraction, or boolean. A non-finite double is written as `null` (JSON has no NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventProperty {
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A string.
    Str(String),
}

/// A custom event, as SignalFx clients send them to `/v2/event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its number in the organization, in the order stored.
    pub id: i64,
    /// The event type.
    pub event_type: String,
    /// The category: `USER_DEFINED`, `ALERT`, `AUDIT`, `JOB`, `COLLECTD`,
    /// `SERVICE_DISCOVERY`, `EXCEPTION` or `AGENT`.
    pub category: String,
    /// Dimensions.
    pub dimensions: BTreeMap<String, String>,
    /// Properties.
    pub properties: BTreeMap<String, EventProperty>,
    /// When it happened, nanoseconds since the Unix epoch.
    pub timestamp: i64,
}

/// The reply of `GET /api/native/v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    /// The events, oldest first.
    pub events: Vec<Event>,
}

/// Which events to list (a query string; absent fields select everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Of this event type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Carrying these dimensions: `key:value`, several separated by commas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// At or after this time (nanoseconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// Before this time (nanoseconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// At most this many (default 1,000, at most 100,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}
