//! The records the catalog stores and the arguments its methods take.

use std::fmt;
use std::str::FromStr;

use sextant_model::{BitFieldElement, DataType, EnumType, Timestamp};

use crate::error::Error;

/// A tenant. Every asset, channel, ingestion config, run and API key belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// UUID v4.
    pub id: String,
    /// Unique across the catalog.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Limits set for one organization, each replacing the server's own for it; `None` keeps the
/// server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgLimits {
    /// The longest a query runs, in milliseconds.
    pub query_timeout_ms: Option<u64>,
    /// The most raw points a query holds.
    pub query_max_points: Option<u64>,
}

/// What an API key may do.
///
/// `Admin` allows everything; `Read` and `Ingest` allow only themselves (see [`Scope::allows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Write telemetry and create what writing needs (ingestion configs, flows, runs).
    Ingest,
    /// Query data and read metadata.
    Read,
    /// Everything, including managing keys.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];

    /// Whether a key of this scope may do what needs `required`: `Admin` allows every scope,
    /// `Read` allows `Read`, `Ingest` allows `Ingest`.
    pub fn allows(self, required: Scope) -> bool {
        self == Scope::Admin || self == required
    }

    /// The name stored in the database and shown to users: `ingest`, `read` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "unknown key scope {s:?}: expected ingest, read or admin"
                ))
            })
    }
}

/// The scopes of one key: one or several of ingest, read and admin, written `ingest,read`.
/// A key may do what any of its scopes may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    fn bit(scope: Scope) -> u8 {
        match scope {
            Scope::Ingest => 1,
            Scope::Read => 2,
            Scope::Admin => 4,
        }
    }

    /// Whether `scope` is one of these.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & Self::bit(scope) != 0
    }

    /// Each scope, in the order ingest, read, admin.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Scopes from a list; `None` for an empty one (a key needs at least one scope).
    pub fn from_list(scopes: impl IntoIterator<Item = Scope>) -> Option<Scopes> {
        let bits = scopes.into_iter().fold(0, |bits, s| bits | Self::bit(s));
        (bits != 0).then_some(Scopes(bits))
    }
}

impl From<Scope> for Scopes {
    fn from(scope: Scope) -> Self {
        Scopes(Self::bit(scope))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = Error;

    /// `ingest`, `ingest,read`, …: as stored in the catalog and typed on the command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let scopes = s
            .split(',')
            .map(|part| part.trim().parse::<Scope>())
            .collect::<Result<Vec<_>, _>>()?;
        Scopes::from_list(scopes)
            .ok_or_else(|| Error::InvalidInput("a key needs at least one scope".into()))
    }
}

/// An API key as listed: everything but its secret, which the catalog never stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// UUID v4.
    pub id: String,
    /// The organization the key acts for.
    pub organization_id: String,
    /// A label chosen by whoever created the key.
    pub name: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked; a revoked key no longer authenticates.
    pub revoked_at: Option<Timestamp>,
    /// When it stops working by itself: set for the session keys a login gives.
    pub expires_at: Option<Timestamp>,
}

/// Who a request comes from, once its key has been authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The organization the key acts for; every catalog call of the request uses it.
    pub organization_id: String,
    /// The key used.
    pub key_id: String,
    /// The key's name, as logs name it.
    pub key_name: String,
    /// What the key may do.
    pub scopes: Scopes,
}

/// A thing that produces telemetry: a vehicle, a test stand, a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// Unique within the organization.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its tags or metadata last changed (its creation time until then).
    pub modified_at: Timestamp,
    /// Tag names; rules aimed at a tag watch the assets carrying it.
    pub tags: Vec<String>,
    /// Key-value metadata.
    pub metadata: Vec<(String, MetadataValue)>,
    /// When it was archived (Sift's DeleteAsset and ArchiveAsset), if it is.
    pub archived_at: Option<Timestamp>,
}

/// The parts of an asset to change; `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetUpdate {
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Replaces the metadata.
    pub metadata: Option<Vec<(String, MetadataValue)>>,
}

/// How a channel is declared: in a flow of an ingestion config, or on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDef {
    /// The full name, components included, e.g. `mainmotor.velocity`.
    pub name: String,
    /// The value type, fixed for the channel's life.
    pub data_type: DataType,
    /// The unit, e.g. `m/s`; empty when none.
    pub unit: String,
    /// Free text; empty when none.
    pub description: String,
    /// The table of an enum channel, in declared order.
    pub enum_types: Vec<EnumType>,
    /// The layout of a bit-field channel, in declared order.
    pub bit_field_elements: Vec<BitFieldElement>,
}

impl ChannelDef {
    /// A channel with no unit, description, enum table or bit-field layout.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        ChannelDef {
            name: name.into(),
            data_type,
            unit: String::new(),
            description: String::new(),
            enum_types: Vec::new(),
            bit_field_elements: Vec::new(),
        }
    }
}

/// A channel of an asset. It is identified by its asset, name and data type: one name may be
/// used twice with two data types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// UUID v4.
    pub id: String,
    /// The asset it belongs to.
    pub asset_id: String,
    /// Name, type and metadata, as most recently declared.
    pub def: ChannelDef,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A named, ordered list of channels whose values arrive together. Ingest messages carry one
/// value per channel in this order, so a flow's channels never change once created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowDef {
    /// Unique within its ingestion config.
    pub name: String,
    /// The channels, in the order their values are sent.
    pub channels: Vec<ChannelDef>,
}

/// An ingestion config: the flows one asset's data arrives in, found again by a client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestionConfig {
    /// UUID v4; clients put it into every ingest message.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The asset whose data the flows carry.
    pub asset_id: String,
    /// The client's name for the config, unique within the organization when present.
    pub client_key: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A typed value of a run's metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// Text.
    String(String),
    /// A finite number.
    Number(f64),
    /// true or false.
    Bool(bool),
}

/// A run: a named stretch of time (a test, a flight) that ingested data can be tagged with.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The run's name; not unique.
    pub name: String,
    /// Free text; empty when none.
    pub description: String,
    /// Tags, in the order given.
    pub tags: Vec<String>,
    /// Key-value metadata, in the order given.
    pub metadata: Vec<(String, MetadataValue)>,
    /// The client's name for the run, unique within the organization when present.
    pub client_key: Option<String>,
    /// When the run started, if known.
    pub start_time: Option<Timestamp>,
    /// When the run stopped, if known.
    pub stop_time: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed by an update.
    pub modified_at: Timestamp,
    /// The assets whose data was ingested with this run, in the order they were linked.
    pub asset_ids: Vec<String>,
}

/// The fields of a run to create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRun {
    /// Must not be empty.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Key-value metadata; numbers must be finite.
    pub metadata: Vec<(String, MetadataValue)>,
    /// Unique within the organization when given; an empty string counts as none.
    pub client_key: Option<String>,
    /// When the run started.
    pub start_time: Option<Timestamp>,
    /// When the run stopped; not before `start_time`.
    pub stop_time: Option<Timestamp>,
}

/// The fields of a run to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunUpdate {
    /// A new name; must not be empty.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// Sets the start time.
    pub start_time: Option<Timestamp>,
    /// Sets the stop time.
    pub stop_time: Option<Timestamp>,
    /// Replaces all metadata.
    pub metadata: Option<Vec<(String, MetadataValue)>>,
}

/// One page of a listing. `size` 0 means [`Page::DEFAULT_SIZE`]; sizes above
/// [`Page::MAX_SIZE`] are reduced to it. `token` is empty for the first page, and otherwise the
/// `next_page_token` the previous page returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The most items to return.
    pub size: u32,
    /// Where to continue; empty for the first page.
    pub token: String,
}

impl Page {
    /// The page size used when none is given.
    pub const DEFAULT_SIZE: u32 = 50;
    /// The largest page returned.
    pub const MAX_SIZE: u32 = 1000;

    /// The first page of `size` items.
    pub fn first(size: u32) -> Self {
        Page {
            size,
            token: String::new(),
        }
    }

    /// The page after the one that returned `token`.
    pub fn next(size: u32, token: impl Into<String>) -> Self {
        Page {
            size,
            token: token.into(),
        }
    }
}

/// Which assets to list. Each `Some` list keeps the assets matching any of its values; the
/// conditions of several lists must all hold; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    /// Asset ids.
    pub ids: Option<Vec<String>>,
    /// Asset names, compared exactly.
    pub names: Option<Vec<String>>,
    /// Archived assets only (`Some(true)`), those not archived (`Some(false)`), or both.
    pub archived: Option<bool>,
}

/// Which channels to list; combined as in [`AssetFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFilter {
    /// The assets the channels belong to.
    pub asset_ids: Option<Vec<String>>,
    /// Full channel names, compared exactly.
    pub names: Option<Vec<String>>,
    /// Channel ids.
    pub ids: Option<Vec<String>>,
}

/// Which ingestion configs to list; combined as in [`AssetFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestionConfigFilter {
    /// Client keys, compared exactly.
    pub client_keys: Option<Vec<String>>,
    /// Ingestion config ids.
    pub ids: Option<Vec<String>>,
    /// The assets the configs are for.
    pub asset_ids: Option<Vec<String>>,
}

/// Which runs to list; combined as in [`AssetFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Run ids.
    pub ids: Option<Vec<String>>,
    /// Run names, compared exactly.
    pub names: Option<Vec<String>>,
    /// Client keys, compared exactly.
    pub client_keys: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_allows() {
        use Scope::*;
        // (key scope, required scope, allowed)
        let cases = [
            (Admin, Admin, true),
            (Admin, Read, true),
            (Admin, Ingest, true),
            (Read, Read, true),
            (Read, Ingest, false),
            (Read, Admin, false),
            (Ingest, Ingest, true),
            (Ingest, Read, false),
            (Ingest, Admin, false),
        ];
        for (scope, required, allowed) in cases {
            assert_eq!(scope.allows(required), allowed, "{scope} allows {required}");
        }
    }

    #[test]
    fn scope_sets_read_and_print_as_lists() {
        let both: Scopes = "ingest,read".parse().unwrap();
        assert!(both.contains(Scope::Ingest) && both.contains(Scope::Read));
        assert!(!both.contains(Scope::Admin));
        assert_eq!(both.to_string(), "ingest,read");
        assert_eq!(" read , ingest".parse::<Scopes>().unwrap(), both);
        assert_eq!(
            "admin".parse::<Scopes>().unwrap(),
            Scopes::from(Scope::Admin)
        );
        let err = "ingest,root".parse::<Scopes>().unwrap_err();
        assert!(err.to_string().contains("\"root\""), "{err}");
        assert_eq!(Scopes::from_list([]), None);
    }

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
        }
        let err = "root".parse::<Scope>().unwrap_err();
        assert!(err.to_string().contains("\"root\""), "{err}");
    }
}
