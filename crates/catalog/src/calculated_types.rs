//! Stored calculated channels: an expression over channels named by their full names, made
//! available to some assets (or all), kept with every version.

use serde::{Deserialize, Serialize};
use sextant_model::Timestamp;

/// What a version of a calculated channel declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculatedChannelDef {
    /// Its name, unique among the organization's calculated channels not archived.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The unit of its values.
    pub units: Option<String>,
    /// The expression, e.g. `$1 * 2 + $2`.
    pub expression: String,
    /// Each reference of the expression (`$1`) and the full name of its channel.
    pub references: Vec<(String, String)>,
    /// Whether every asset has it.
    pub all_assets: bool,
    /// The assets that have it, unless `all_assets`.
    pub asset_ids: Vec<String>,
    /// The tags (names) whose assets have it, unless `all_assets`.
    pub tag_names: Vec<String>,
}

/// A stored calculated channel at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalculatedChannel {
    /// UUID v4, the same for every version.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The client's own key, unique in the organization.
    pub client_key: Option<String>,
    /// This version's id (UUID v4).
    pub version_id: String,
    /// 1 for the first version, then one more for each change.
    pub version: u32,
    /// What this version declares.
    pub def: CalculatedChannelDef,
    /// The notes given with this version.
    pub user_notes: String,
    /// What changed from the previous version, e.g. `changed expression, units`.
    pub change_message: String,
    /// When it was archived, if it is.
    pub archived_at: Option<Timestamp>,
    /// The key that created it.
    pub created_by: String,
    /// The key that made this version.
    pub modified_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When this version was made.
    pub modified_at: Timestamp,
}

/// Which calculated channels a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalculatedChannelFilter {
    /// Ids.
    pub ids: Option<Vec<String>>,
    /// Client keys.
    pub client_keys: Option<Vec<String>>,
    /// Names.
    pub names: Option<Vec<String>>,
    /// Archived or not.
    pub archived: crate::Archived,
}
