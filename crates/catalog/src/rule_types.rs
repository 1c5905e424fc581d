//! The records of rules, annotations, users and tags, and the evaluation checkpoints of live
//! rules.

use std::fmt;
use std::str::FromStr;

use sextant_model::Timestamp;

use crate::error::Error;

/// A person of an organization, who annotations can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// Unique within the organization, usually an e-mail address.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A user's login: what `POST /v2/session` checks an e-mail address and password against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user's organization.
    pub organization_id: String,
    /// The user's id.
    pub user_id: String,
    /// The e-mail address, as it was set.
    pub email: String,
    /// The password's hash, in the PHC string format.
    pub password_hash: String,
    /// The scope of the session keys a login gives.
    pub session_scope: crate::types::Scope,
}

/// A label for annotations (and, in Sift, other things), unique by name in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// Unique within the organization.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Which users or tags to list; combined as in [`crate::AssetFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFilter {
    /// Ids.
    pub ids: Option<Vec<String>>,
    /// Names, compared exactly.
    pub names: Option<Vec<String>>,
}

/// The kind of annotation a rule creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotationType {
    /// A range for a person to review: it has an assignee, tags and a review state.
    DataReview,
    /// A range that marks a phase of operation (say, "burn"); nobody reviews it.
    Phase,
}

impl AnnotationType {
    /// The stored name: `data_review` or `phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationType::DataReview => "data_review",
            AnnotationType::Phase => "phase",
        }
    }
}

impl fmt::Display for AnnotationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AnnotationType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "data_review" => Ok(AnnotationType::DataReview),
            "phase" => Ok(AnnotationType::Phase),
            _ => Err(Error::InvalidInput(format!(
                "unknown annotation type {s:?}: expected data_review or phase"
            ))),
        }
    }
}

/// Where an annotation is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotationState {
    /// New, not looked at yet.
    Open,
    /// Looked at and found to need attention.
    Flagged,
    /// Dealt with.
    Resolved,
}

impl AnnotationState {
    /// Every state.
    pub const ALL: [AnnotationState; 3] = [
        AnnotationState::Open,
        AnnotationState::Flagged,
        AnnotationState::Resolved,
    ];

    /// The stored name: `open`, `flagged` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationState::Open => "open",
            AnnotationState::Flagged => "flagged",
            AnnotationState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AnnotationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AnnotationState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AnnotationState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "unknown annotation state {s:?}: expected open, flagged or resolved"
                ))
            })
    }
}

/// What a rule does while its condition holds: it annotates the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAction {
    /// A review annotation or a phase annotation.
    pub annotation_type: AnnotationType,
    /// Tag ids to put on the annotations.
    pub tag_ids: Vec<String>,
    /// The user the review annotations are assigned to.
    pub assignee_user_id: Option<String>,
}

/// A rule as declared: a condition over channels of some assets, and what to do while it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDef {
    /// Must not be empty.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The client's name for the rule, unique within the organization when present.
    pub client_key: Option<String>,
    /// The condition, in Sextant's rule language (`docs/expressions.md`), e.g. `$1 > 400`.
    pub expression: String,
    /// Each reference of the expression (`$1`) and the full name of the channel it stands for,
    /// sorted by reference.
    pub channel_references: Vec<(String, String)>,
    /// Channels shown beside the annotation; not evaluated.
    pub contextual_channels: Vec<String>,
    /// The assets the rule watches.
    pub asset_ids: Vec<String>,
    /// Asset tags (tag ids) the rule watches: it applies to every asset carrying a tag of one
    /// of their names, besides `asset_ids`.
    pub asset_tag_ids: Vec<String>,
    /// The annotation to create while the condition holds.
    pub action: RuleAction,
    /// Whether the rule is evaluated on data as it is ingested.
    pub is_live: bool,
    /// Sift's flag for rules managed outside the web application; kept, not interpreted.
    pub is_external: bool,
    /// Where to POST a JSON notification when one of the rule's annotations opens or closes,
    /// in addition to the server-wide webhook.
    pub webhook_url: Option<String>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The declaration, as most recently created or updated.
    pub def: RuleDef,
    /// 1 when created, one more on every update.
    pub version: u32,
    /// Archived rules are not evaluated and are listed only when asked for.
    pub archived_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub modified_at: Timestamp,
}

/// Which rules to list; combined as in [`crate::AssetFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    /// Rule ids.
    pub ids: Option<Vec<String>>,
    /// Client keys.
    pub client_keys: Option<Vec<String>>,
    /// Names, compared exactly.
    pub names: Option<Vec<String>>,
    /// Rules watching any of these assets.
    pub asset_ids: Option<Vec<String>>,
    /// Only live rules.
    pub live_only: bool,
    /// Archived rules too.
    pub include_archived: bool,
}

/// An annotation: a time range of some assets that a rule (or a person) marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// Fields as created, then updated.
    pub fields: NewAnnotation,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub modified_at: Timestamp,
    /// When it was archived, if it is.
    pub archived_at: Option<Timestamp>,
}

/// The fields of an annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnnotation {
    /// Must not be empty; a rule's annotations carry the rule's name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The first instant of the range.
    pub start_time: Timestamp,
    /// The first instant after the range; `None` while a live rule's condition still holds.
    pub end_time: Option<Timestamp>,
    /// The assets concerned.
    pub asset_ids: Vec<String>,
    /// The run of the data, if any.
    pub run_id: Option<String>,
    /// Review or phase.
    pub annotation_type: AnnotationType,
    /// Review state.
    pub state: AnnotationState,
    /// Who reviews it.
    pub assignee_user_id: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// The rule that created it.
    pub rule_id: Option<String>,
}

/// The fields of an annotation to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnotationUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new review state.
    pub state: Option<AnnotationState>,
    /// A new assignee; `Some(None)` removes it.
    pub assignee_user_id: Option<Option<String>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
}

/// Which annotations to list; combined as in [`crate::AssetFilter`]. Times select annotations
/// whose range overlaps `[from, to)`; an open annotation extends to the end of time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnotationFilter {
    /// Annotation ids.
    pub ids: Option<Vec<String>>,
    /// Created by any of these rules.
    pub rule_ids: Option<Vec<String>>,
    /// Concerning any of these assets.
    pub asset_ids: Option<Vec<String>>,
    /// Of any of these runs.
    pub run_ids: Option<Vec<String>>,
    /// In any of these states.
    pub states: Option<Vec<AnnotationState>>,
    /// Assigned to any of these users.
    pub assignee_user_ids: Option<Vec<String>>,
    /// Carrying any of these tag names.
    pub tags: Option<Vec<String>>,
    /// Only those whose range ends after this (or is still open).
    pub from: Option<Timestamp>,
    /// Only those whose range starts before this.
    pub to: Option<Timestamp>,
    /// Archived or not; by default only those not archived.
    pub archived: Archived,
}

/// Which annotations a list shows by their archiving.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Archived {
    /// Those not archived.
    #[default]
    Not,
    /// Archived ones only.
    Only,
    /// Both.
    Either,
}

/// One independent stream a live rule watches: the data of one asset in one run (or in no run).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleStream {
    /// The rule.
    pub rule_id: String,
    /// The asset.
    pub asset_id: String,
    /// The run id, empty for data sent without a run.
    pub run_id: String,
}

/// How far a live rule has evaluated a stream, stored with the annotations it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCheckpoint {
    /// The stream.
    pub stream: RuleStream,
    /// Every point at or before this time has been evaluated; `None` when nothing has been.
    pub evaluated_through: Option<Timestamp>,
    /// The annotation open because the condition holds at `evaluated_through`.
    pub open_annotation_id: Option<String>,
    /// The evaluator's own state (the latest input values), opaque to the catalog.
    pub state: String,
}

/// The outcome of evaluating a stream up to a time, to store atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleEvaluation {
    /// The stream.
    pub stream: RuleStream,
    /// The new checkpoint time.
    pub evaluated_through: Timestamp,
    /// When the annotation that was open closes, if it does.
    pub close_open_at: Option<Timestamp>,
    /// Annotations to create, in time order; only the last may have no end time, and it then
    /// becomes the stream's open annotation.
    pub new_annotations: Vec<NewAnnotation>,
    /// The evaluator's own state, stored as given.
    pub state: String,
}

/// An annotation opened or closed by [`crate::Catalog::commit_rule_evaluations`], for
/// notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationEvent {
    /// `true` when it opened, `false` when it closed.
    pub opened: bool,
    /// The annotation after the change.
    pub annotation: Annotation,
}
