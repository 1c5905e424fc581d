//! Sextant's metadata: organizations, API keys, assets, channels, ingestion configs, flows,
//! runs, users, tags, rules and annotations.
//!
//! The server's front ends call the catalog to authenticate a request's key, to resolve what a
//! client names (an asset by name, an ingestion config by client key, a flow's channels by
//! position) and to answer metadata queries (list assets, channels, runs). It holds metadata
//! only: time series values go from the front ends to `sextant-storage`, never through here.
//! The contract is the [`Catalog`] trait, so that the server holds an `Arc<dyn Catalog>` and a
//! PostgreSQL implementation can replace [`SqliteCatalog`] when Sextant runs on several nodes.
//! The SQLite schema is described in `docs/catalog.md`.

mod calculated_types;
mod detector_types;
mod error;
mod file_types;
mod report_types;
mod rule_types;
mod signalfx_types;
mod sqlite;
mod types;

use std::fmt::Debug;

use sextant_model::{OrgId, Timestamp};

pub use calculated_types::{CalculatedChannel, CalculatedChannelDef, CalculatedChannelFilter};
pub use detector_types::{SfxDetector, SfxDetectorStep, SfxIncident};
pub use error::{Error, Result};
pub use file_types::{
    AnnotationLog, AnnotationLogEntry, CommentElement, FileEntity, FileMetadata, NewRemoteFile,
    RemoteFile, RemoteFileFilter,
};
pub use report_types::{
    DataImport, ImportStatus, NewReport, Report, ReportFilter, ReportRuleStatus, ReportRuleSummary,
    ReportTemplate, ReportTemplateDef, ReportTemplateFilter,
};
pub use rule_types::{
    Annotation, AnnotationEvent, AnnotationFilter, AnnotationState, AnnotationType,
    AnnotationUpdate, Archived, Login, NameFilter, NewAnnotation, Rule, RuleAction, RuleCheckpoint,
    RuleDef, RuleEvaluation, RuleFilter, RuleStream, Tag, User,
};
pub use signalfx_types::{
    SfxDimension, SfxEvent, SfxEventFilter, SfxMeta, SfxMetric, SfxMts, SfxNewMts,
    SfxPropertyValue, SfxRegistered, SfxSnapshot, SfxTag, SfxUpdate,
};
pub use sqlite::SqliteCatalog;
pub use types::{
    ApiKey, Asset, AssetFilter, AssetUpdate, Channel, ChannelDef, ChannelFilter, FlowDef,
    IngestionConfig, IngestionConfigFilter, MetadataValue, NewRun, OrgLimits, Organization, Page,
    Principal, Run, RunFilter, RunUpdate, Scope, Scopes,
};

/// The names of the tags with these ids, in the catalog's order.
pub fn tag_names(catalog: &dyn Catalog, org_id: &str, ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let filter = NameFilter {
        ids: Some(ids.to_vec()),
        ..NameFilter::default()
    };
    Ok(all_pages(|page| catalog.list_tags(org_id, &filter, page))?
        .into_iter()
        .map(|t| t.name)
        .collect())
}

/// Every item of a paged listing, page after page.
pub fn all_pages<T>(mut list: impl FnMut(Page) -> Result<(Vec<T>, String)>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = list(Page::next(Page::MAX_SIZE, token))?;
        out.extend(items);
        if next.is_empty() {
            return Ok(out);
        }
        token = next;
    }
}

/// Sextant's metadata store.
///
/// # Blocking
///
/// Every method is synchronous and may block on disk I/O (a write waits for its fsync).
/// Async callers run them on blocking threads (`tokio::task::spawn_blocking`) and cache what
/// the ingest path reads on every message (the [`Catalog::flow`] resolution).
///
/// # Durability
///
/// A method that changes something returns only once the change is durable: a crash after the
/// return never loses it. Each such method is atomic: when it fails, nothing it would have
/// changed is changed (for example `add_flows` adds all its flows or none).
///
/// # Concurrency
///
/// Implementations are `Send + Sync` and may be called from many threads at once. Each call
/// sees and leaves a consistent state, as if the calls ran one after another. Two concurrent
/// `get_or_create_*` calls for the same thing return the same record.
///
/// # Isolation
///
/// Every method but the organization and key administration ones takes the caller's
/// organization id, and never reads, returns or changes another organization's rows: an id of
/// another organization's asset, channel, config or run is reported as not found.
///
/// # Listings
///
/// List methods return one [`Page`] of results and the token of the next page, which is empty
/// when there are no more. Results come in creation order (runs: newest first). Tokens are
/// opaque; a token that was not returned by the catalog is invalid input.
///
/// # Ids and strings
///
/// Ids are UUID v4 strings. Optional client keys given as empty strings count as absent, as
/// protobuf cannot tell the two apart.
pub trait Catalog: Send + Sync + Debug {
    // ---- organizations and keys (administration: not scoped to an organization) ----

    /// Creates an organization. Names are unique: a taken name is `AlreadyExists`.
    fn create_organization(&self, name: &str) -> Result<Organization>;

    /// The organization with this id.
    fn get_organization(&self, id: &str) -> Result<Organization>;

    /// Every organization, in creation order.
    fn list_organizations(&self) -> Result<Vec<Organization>>;

    /// The limits set for organization `org_id`: all `None` if none was set (or the
    /// organization does not exist).
    fn organization_limits(&self, org_id: &str) -> Result<OrgLimits>;

    /// Sets organization `org_id`'s limits, replacing those set before; all `None` clears
    /// them. `NotFound` if the organization does not exist.
    fn set_organization_limits(&self, org_id: &str, limits: &OrgLimits) -> Result<()>;

    /// Creates a key for an organization and returns it with its secret. The secret is shown
    /// only this once: the catalog keeps a hash of it.
    fn create_api_key(&self, org_id: &str, name: &str, scopes: Scopes) -> Result<(ApiKey, String)>;

    /// Creates a key that stops working at `expires_at` (a session token) and returns it with
    /// its secret.
    fn create_session_key(
        &self,
        org_id: &str,
        name: &str,
        scope: Scope,
        expires_at: Timestamp,
    ) -> Result<(ApiKey, String)>;

    /// Who the secret belongs to, or `None` when it is no valid key (unknown, revoked or
    /// expired).
    fn authenticate(&self, secret: &str) -> Result<Option<Principal>>;

    /// The organization's keys, revoked ones included, in creation order.
    fn list_api_keys(&self, org_id: &str) -> Result<Vec<ApiKey>>;

    /// Revokes a key; revoking a revoked key keeps its first revocation time.
    fn revoke_api_key(&self, org_id: &str, key_id: &str) -> Result<ApiKey>;

    /// Makes a fresh catalog usable: when it has no API keys at all, creates (or reuses) the
    /// organization `default` and an admin key whose secret is `token`, and returns it. When
    /// any key exists, changes nothing and returns `None`, so it is safe on every start.
    fn bootstrap(&self, token: &str) -> Result<Option<Principal>>;

    // ---- assets and channels ----

    /// The asset of this name, created if missing.
    fn get_or_create_asset(&self, org_id: &str, name: &str) -> Result<Asset>;

    /// The asset with this id.
    fn get_asset(&self, org_id: &str, asset_id: &str) -> Result<Asset>;

    /// Archives (or unarchives) an asset: it leaves listings that leave archived assets out;
    /// its channels and data stay. [`Catalog::get_or_create_asset`] of its name (a new
    /// ingestion config naming it) unarchives it.
    fn set_asset_archived(&self, org_id: &str, asset_id: &str, archived: bool) -> Result<Asset>;

    /// Changes the asset's tags or metadata (what `update` sets) and its modification time.
    fn update_asset(&self, org_id: &str, asset_id: &str, update: &AssetUpdate) -> Result<Asset>;

    /// Assets matching the filter, one page of them.
    fn list_assets(
        &self,
        org_id: &str,
        filter: &AssetFilter,
        page: Page,
    ) -> Result<(Vec<Asset>, String)>;

    /// The channel of the asset with this name and data type, created if missing. An existing
    /// channel takes the unit, description, enum table and bit-field layout of `def` when they
    /// differ: the newest declaration describes the channel.
    fn get_or_create_channel(
        &self,
        org_id: &str,
        asset_id: &str,
        def: &ChannelDef,
    ) -> Result<Channel>;

    /// The channel with this id.
    fn get_channel(&self, org_id: &str, channel_id: &str) -> Result<Channel>;

    /// Channels matching the filter, one page of them.
    fn list_channels(
        &self,
        org_id: &str,
        filter: &ChannelFilter,
        page: Page,
    ) -> Result<(Vec<Channel>, String)>;

    // ---- ingestion configs and flows ----

    /// The config with this client key, if any.
    fn find_ingestion_config(
        &self,
        org_id: &str,
        client_key: &str,
    ) -> Result<Option<IngestionConfig>>;

    /// Creates a config for the asset of this name (created if missing) with these flows, and
    /// the channel records of every flow, so that channels can be listed before data arrives.
    /// A client key already used in the organization is `AlreadyExists`. Flows follow the
    /// rules of [`Catalog::add_flows`].
    fn create_ingestion_config(
        &self,
        org_id: &str,
        asset_name: &str,
        client_key: Option<&str>,
        flows: &[FlowDef],
    ) -> Result<IngestionConfig>;

    /// The config with this id.
    fn get_ingestion_config(&self, org_id: &str, config_id: &str) -> Result<IngestionConfig>;

    /// Configs matching the filter, one page of them.
    fn list_ingestion_configs(
        &self,
        org_id: &str,
        filter: &IngestionConfigFilter,
        page: Page,
    ) -> Result<(Vec<IngestionConfig>, String)>;

    /// The config's flows in creation order, each with its channels in their original order and
    /// every field as given.
    fn list_flows(&self, org_id: &str, config_id: &str) -> Result<Vec<FlowDef>>;

    /// Adds flows to a config and creates their channel records. A flow whose name exists with
    /// identical channels is left as it is; a flow whose name exists with other channels is
    /// `AlreadyExists` naming the flow, and then none of the flows is added. A flow must not
    /// list one channel (name and data type) twice.
    fn add_flows(&self, org_id: &str, config_id: &str, flows: &[FlowDef]) -> Result<()>;

    /// The flow of this name with the id of each of its channels, in flow order, or `None`
    /// when the config has no such flow. This is the ingest path's look-up: one indexed query
    /// for the flow, one for its channels; callers cache it, since a flow never changes.
    fn flow(
        &self,
        org_id: &str,
        config_id: &str,
        name: &str,
    ) -> Result<Option<(FlowDef, Vec<String>)>>;

    // ---- runs ----

    /// Creates a run. A client key already used in the organization is `AlreadyExists`.
    fn create_run(&self, org_id: &str, run: NewRun) -> Result<Run>;

    /// The run with this id.
    fn get_run(&self, org_id: &str, run_id: &str) -> Result<Run>;

    /// Runs matching the filter, newest first, one page of them.
    fn list_runs(&self, org_id: &str, filter: &RunFilter, page: Page)
    -> Result<(Vec<Run>, String)>;

    /// Changes the fields of the run that `update` sets and its modification time.
    fn update_run(&self, org_id: &str, run_id: &str, update: RunUpdate) -> Result<Run>;

    /// Records that data of the asset was ingested with the run. Linking twice is a no-op.
    fn associate_asset(&self, org_id: &str, run_id: &str, asset_id: &str) -> Result<()>;

    // ---- users and tags ----

    /// Creates a user. Names are unique in an organization: a taken name is `AlreadyExists`.
    fn create_user(&self, org_id: &str, name: &str) -> Result<User>;

    /// The user with this id.
    fn get_user(&self, org_id: &str, user_id: &str) -> Result<User>;

    /// Gives a user a login: an e-mail address (unique across the server, compared without
    /// case), the hash of a password, and the scope of the session keys a login gives. A taken
    /// address is `AlreadyExists`.
    fn set_user_login(
        &self,
        org_id: &str,
        user_id: &str,
        email: &str,
        password_hash: &str,
        session_scope: Scope,
    ) -> Result<()>;

    /// The login of this e-mail address, if a user has it.
    fn find_login(&self, email: &str) -> Result<Option<Login>>;

    /// Users matching the filter, one page of them.
    fn list_users(
        &self,
        org_id: &str,
        filter: &NameFilter,
        page: Page,
    ) -> Result<(Vec<User>, String)>;

    /// The tag of this name, created if missing.
    fn get_or_create_tag(&self, org_id: &str, name: &str) -> Result<Tag>;

    /// Tags matching the filter, one page of them.
    fn list_tags(
        &self,
        org_id: &str,
        filter: &NameFilter,
        page: Page,
    ) -> Result<(Vec<Tag>, String)>;

    // ---- rules ----

    /// Creates a rule, version 1. Its assets and assignee must exist; a client key already used
    /// in the organization is `AlreadyExists`. The expression is stored as given: checking it
    /// against channel types is the rule engine's work.
    fn create_rule(&self, org_id: &str, def: &RuleDef) -> Result<Rule>;

    /// Replaces a rule's declaration and increases its version. Its evaluation checkpoints and
    /// open annotations are kept: evaluation goes on from where it was with the new
    /// declaration.
    fn update_rule(&self, org_id: &str, rule_id: &str, def: &RuleDef) -> Result<Rule>;

    /// The rule with this id, archived or not.
    fn get_rule(&self, org_id: &str, rule_id: &str) -> Result<Rule>;

    /// The rule with this client key, if any, archived or not.
    fn find_rule(&self, org_id: &str, client_key: &str) -> Result<Option<Rule>>;

    /// Rules matching the filter, one page of them.
    fn list_rules(
        &self,
        org_id: &str,
        filter: &RuleFilter,
        page: Page,
    ) -> Result<(Vec<Rule>, String)>;

    /// Archives (`true`) or restores (`false`) a rule. Archiving an archived rule keeps its
    /// first archive time.
    fn set_rule_archived(&self, org_id: &str, rule_id: &str, archived: bool) -> Result<Rule>;

    // ---- annotations ----

    /// Creates an annotation. Its assets, run, assignee and rule must exist.
    fn create_annotation(&self, org_id: &str, annotation: &NewAnnotation) -> Result<Annotation>;

    /// The annotation with this id.
    fn get_annotation(&self, org_id: &str, annotation_id: &str) -> Result<Annotation>;

    /// Annotations matching the filter, in creation order, one page of them.
    fn list_annotations(
        &self,
        org_id: &str,
        filter: &AnnotationFilter,
        page: Page,
    ) -> Result<(Vec<Annotation>, String)>;

    /// Changes the fields `update` sets and the modification time.
    fn update_annotation(
        &self,
        org_id: &str,
        annotation_id: &str,
        update: AnnotationUpdate,
    ) -> Result<Annotation>;

    /// Archives (or, with `archived` false, unarchives) the annotations with these ids, all or
    /// none: `NotFound` naming the first that does not exist. An annotation already in that
    /// state keeps its archiving time.
    fn set_annotations_archived(
        &self,
        org_id: &str,
        annotation_ids: &[String],
        archived: bool,
    ) -> Result<Vec<Annotation>>;

    /// Deletes the annotations with these ids, all or none: `NotFound` naming the first that
    /// does not exist, `InvalidInput` naming one a live rule holds open (it is closed, then can
    /// go, or it can be archived now). Their logs and the files attached to them and their
    /// logs go with them; those files are returned, so their blobs can be removed.
    fn delete_annotations(
        &self,
        org_id: &str,
        annotation_ids: &[String],
    ) -> Result<Vec<RemoteFile>>;

    // ---- annotation logs ----

    /// Appends an entry to an annotation's log; `by` is the key writing it.
    fn create_annotation_log(
        &self,
        org_id: &str,
        annotation_id: &str,
        entry: &AnnotationLogEntry,
        by: &str,
    ) -> Result<AnnotationLog>;

    /// One page of an annotation's log, oldest first, optionally of some kinds only
    /// (`comment`, `state_update`, `assigned`).
    fn list_annotation_logs(
        &self,
        org_id: &str,
        annotation_id: &str,
        kinds: &Option<Vec<String>>,
        page: Page,
    ) -> Result<(Vec<AnnotationLog>, String)>;

    /// Deletes one log entry and its attachments, returning those files.
    fn delete_annotation_log(
        &self,
        org_id: &str,
        annotation_id: &str,
        log_id: &str,
    ) -> Result<Vec<RemoteFile>>;

    // ---- remote files (attachments) ----

    /// Records a file whose bytes are durable in the blob store, attached to an entity that
    /// must exist; `LimitExceeded` when the organization's files would pass `org_max_bytes`.
    fn create_remote_file(
        &self,
        org_id: &str,
        file: NewRemoteFile,
        org_max_bytes: u64,
    ) -> Result<RemoteFile>;

    /// The bytes of every file the organization stores.
    fn remote_files_bytes(&self, org_id: &str) -> Result<u64>;

    /// One file.
    fn get_remote_file(&self, org_id: &str, id: &str) -> Result<RemoteFile>;

    /// One page of files, oldest first.
    fn list_remote_files(
        &self,
        org_id: &str,
        filter: &RemoteFileFilter,
        page: Page,
    ) -> Result<(Vec<RemoteFile>, String)>;

    /// Sets a file's description; `by` is the key changing it.
    fn update_remote_file(
        &self,
        org_id: &str,
        id: &str,
        description: Option<String>,
        by: &str,
    ) -> Result<RemoteFile>;

    /// Deletes files, all or none (`NotFound` naming the first unknown id), returning them so
    /// their blobs can be removed.
    fn delete_remote_files(&self, org_id: &str, ids: &[String]) -> Result<Vec<RemoteFile>>;

    /// The organization and id of every file, for the blob store's sweep at start.
    fn remote_file_keys(&self) -> Result<Vec<(String, String)>>;

    // ---- calculated channels ----

    /// Stores a calculated channel at version 1; `AlreadyExists` for a client key or a name
    /// (among those not archived) taken. `by` is the key creating it.
    fn create_calculated_channel(
        &self,
        org_id: &str,
        client_key: Option<&str>,
        def: &CalculatedChannelDef,
        notes: &str,
        by: &str,
    ) -> Result<CalculatedChannel>;

    /// A calculated channel at its current version.
    fn get_calculated_channel(&self, org_id: &str, id: &str) -> Result<CalculatedChannel>;

    /// The calculated channel with this client key, if any.
    fn find_calculated_channel(
        &self,
        org_id: &str,
        client_key: &str,
    ) -> Result<Option<CalculatedChannel>>;

    /// A calculated channel at the version with this id.
    fn get_calculated_channel_version(
        &self,
        org_id: &str,
        version_id: &str,
    ) -> Result<CalculatedChannel>;

    /// One page of calculated channels at their current versions, oldest first.
    fn list_calculated_channels(
        &self,
        org_id: &str,
        filter: &CalculatedChannelFilter,
        page: Page,
    ) -> Result<(Vec<CalculatedChannel>, String)>;

    /// One page of a calculated channel's versions, newest first.
    fn list_calculated_channel_versions(
        &self,
        org_id: &str,
        id: &str,
        page: Page,
    ) -> Result<(Vec<CalculatedChannel>, String)>;

    // ---- report templates and reports ----

    /// Stores a report template; its rules must exist. `AlreadyExists` for a client key taken.
    fn create_report_template(
        &self,
        org_id: &str,
        client_key: Option<&str>,
        def: &ReportTemplateDef,
        by: &str,
    ) -> Result<ReportTemplate>;

    /// A report template.
    fn get_report_template(&self, org_id: &str, id: &str) -> Result<ReportTemplate>;

    /// The report template with this client key, if any.
    fn find_report_template(
        &self,
        org_id: &str,
        client_key: &str,
    ) -> Result<Option<ReportTemplate>>;

    /// One page of report templates, oldest first.
    fn list_report_templates(
        &self,
        org_id: &str,
        filter: &ReportTemplateFilter,
        page: Page,
    ) -> Result<(Vec<ReportTemplate>, String)>;

    /// Replaces a report template's declaration, and archives or unarchives it.
    fn update_report_template(
        &self,
        org_id: &str,
        id: &str,
        def: &ReportTemplateDef,
        archived: Option<bool>,
        by: &str,
    ) -> Result<ReportTemplate>;

    /// Records a report.
    fn create_report(&self, org_id: &str, report: NewReport, by: &str) -> Result<Report>;

    /// A report.
    fn get_report(&self, org_id: &str, id: &str) -> Result<Report>;

    /// One page of reports, newest first.
    fn list_reports(
        &self,
        org_id: &str,
        filter: &ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, String)>;

    // ---- data imports ----

    /// Records a data import waiting for its file.
    fn create_data_import(&self, org_id: &str, format: &str, config: &str) -> Result<DataImport>;

    /// A data import.
    fn get_data_import(&self, org_id: &str, id: &str) -> Result<DataImport>;

    /// Moves a data import from `from` to `to` with a message and the rows stored;
    /// `InvalidInput` naming where it is when it is not at `from`.
    #[allow(clippy::too_many_arguments)]
    fn set_data_import_status(
        &self,
        org_id: &str,
        id: &str,
        from: ImportStatus,
        to: ImportStatus,
        error_message: &str,
        rows: u64,
    ) -> Result<DataImport>;

    /// Marks the imports a stop interrupted as failed; run at start. Returns how many.
    fn fail_interrupted_imports(&self) -> Result<usize>;

    /// Declares a new version (unless nothing changed) and archives or unarchives it.
    fn update_calculated_channel(
        &self,
        org_id: &str,
        id: &str,
        def: &CalculatedChannelDef,
        archived: Option<bool>,
        notes: &str,
        by: &str,
    ) -> Result<CalculatedChannel>;

    // ---- live rule evaluation ----

    /// Makes sure each stream has a checkpoint; a new one starts at the given time (`None`:
    /// nothing evaluated yet). Existing checkpoints are left as they are. The rule engine calls
    /// this before a write that a live rule must see is acknowledged, so that a crash before
    /// the evaluation cannot lose it: on start, every checkpoint is evaluated up to the data
    /// in storage.
    fn ensure_rule_checkpoints(
        &self,
        org_id: &str,
        streams: &[(RuleStream, Option<Timestamp>)],
    ) -> Result<()>;

    /// The checkpoint of one stream, if it has one.
    fn rule_checkpoint(&self, org_id: &str, stream: &RuleStream) -> Result<Option<RuleCheckpoint>>;

    /// Every checkpoint of the organization.
    fn list_rule_checkpoints(&self, org_id: &str) -> Result<Vec<RuleCheckpoint>>;

    /// Stores the outcome of evaluations in one transaction: closes the open annotations that
    /// end, creates the new ones, and moves each stream's checkpoint and open annotation.
    /// Either all of it is stored or none. Returns what opened and closed, in order, for
    /// notifications. A checkpoint never moves back, and an annotation is never opened while
    /// the stream has one open: either is `InvalidInput`.
    fn commit_rule_evaluations(
        &self,
        org_id: &str,
        evaluations: &[RuleEvaluation],
    ) -> Result<Vec<AnnotationEvent>>;

    // ---- SignalFx metadata and events ----

    /// Registers MTS not yet known, with their metrics (a new metric takes the type of its
    /// first MTS; an existing one keeps its own) and dimensions, created by key `creator`.
    /// MTS already registered are left as they are. Returns what was created and the stored
    /// type of every metric named.
    fn sfx_register(&self, org_id: &str, creator: &str, mts: &[SfxNewMts])
    -> Result<SfxRegistered>;

    /// Every metric, dimension, MTS and tag of the organization.
    fn sfx_snapshot(&self, org_id: &str) -> Result<SfxSnapshot>;

    /// Replaces a metric's description, custom properties and tags. `NotFound` when unknown.
    fn sfx_update_metric(
        &self,
        org_id: &str,
        name: &str,
        update: &SfxUpdate,
        by: &str,
    ) -> Result<SfxMetric>;

    /// Replaces a dimension's description, custom properties and tags, creating the
    /// dimension if it is new (SignalFx lets a dimension be described before data carries it).
    fn sfx_update_dimension(
        &self,
        org_id: &str,
        key: &str,
        value: &str,
        update: &SfxUpdate,
        by: &str,
    ) -> Result<SfxDimension>;

    /// Creates or replaces a tag's description and custom properties.
    fn sfx_put_tag(&self, org_id: &str, name: &str, update: &SfxUpdate, by: &str)
    -> Result<SfxTag>;

    /// Deletes a tag. `NotFound` when unknown.
    fn sfx_delete_tag(&self, org_id: &str, name: &str) -> Result<()>;

    /// Stores events, durably and together; returns them with their ids.
    fn sfx_add_events(&self, org_id: &str, events: &[SfxEvent]) -> Result<Vec<SfxEvent>>;

    /// Events matching `filter`, oldest first.
    fn sfx_events(&self, org_id: &str, filter: &SfxEventFilter) -> Result<Vec<SfxEvent>>;

    // ---- SignalFlow detectors and incidents ----

    /// Stores a new detector (its id, name and program set by the caller); `created` and
    /// friends are set here.
    fn sfx_create_detector(
        &self,
        org_id: &str,
        detector: &SfxDetector,
        by: &str,
    ) -> Result<SfxDetector>;

    /// A detector. `NotFound` when unknown.
    fn sfx_get_detector(&self, org_id: &str, id: &str) -> Result<SfxDetector>;

    /// The detectors named `name` (all without), by creation, from `offset`, at most `limit`
    /// (0: all); with the count of all that match.
    fn sfx_detectors(
        &self,
        org_id: &str,
        name: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<SfxDetector>)>;

    /// Every enabled detector of every organization, with its organization: what a server
    /// starts running.
    fn sfx_enabled_detectors(&self) -> Result<Vec<(String, SfxDetector)>>;

    /// Replaces a detector's name, description, program, body and state. A changed program
    /// starts over: its evaluation restarts now and its open incidents are cleared.
    /// `NotFound` when unknown.
    fn sfx_update_detector(
        &self,
        org_id: &str,
        detector: &SfxDetector,
        by: &str,
    ) -> Result<SfxDetector>;

    /// Deletes a detector and its incidents. `NotFound` when unknown.
    fn sfx_delete_detector(&self, org_id: &str, id: &str) -> Result<()>;

    /// Stores one evaluation of a detector: its events, the incidents it opened and cleared,
    /// and how far it got, all or nothing. `evaluated_until` never moves back
    /// (`InvalidInput`). `NotFound` when the detector is gone.
    fn sfx_detector_step(
        &self,
        org_id: &str,
        detector_id: &str,
        step: &SfxDetectorStep,
    ) -> Result<()>;

    /// Incidents, newest first: of one detector or all; only open ones unless
    /// `include_resolved`; from `offset`, at most `limit` (0: all).
    fn sfx_incidents(
        &self,
        org_id: &str,
        detector_id: Option<&str>,
        include_resolved: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SfxIncident>>;

    /// One incident. `NotFound` when unknown.
    fn sfx_get_incident(&self, org_id: &str, id: &str) -> Result<SfxIncident>;

    /// Clears an open incident by hand at `at` (milliseconds); a cleared one is left as it
    /// is. `NotFound` when unknown.
    fn sfx_clear_incident(&self, org_id: &str, id: &str, at: i64) -> Result<SfxIncident>;
}

/// Where the catalog reads the time for `created_at` and friends; tests inject a fixed one.
pub trait Clock: Send + Sync + Debug {
    /// Now, in nanoseconds since the Unix epoch.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// The storage engine's number for an organization of the catalog: the first 64 bits of its
/// UUID. Version 4 UUIDs carry 60 random bits there, so two organizations of one server
/// colliding is not a practical concern; the mapping needs no table and never changes.
pub fn org_number(organization_id: &str) -> OrgId {
    let hex: String = organization_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    match u64::from_str_radix(&hex, 16) {
        Ok(n) if hex.len() == 16 => OrgId(n),
        // Not a UUID (an organization created by other means): hash the whole id instead.
        _ => OrgId(organization_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_numbers_are_stable_and_distinct() {
        let a = org_number("e508908d-1a93-4e12-908f-3d55d82bc7e2");
        assert_eq!(a, OrgId(0xe508_908d_1a93_4e12));
        assert_eq!(a, org_number("e508908d-1a93-4e12-908f-3d55d82bc7e2"));
        assert_ne!(org_number("default"), org_number("other"));
    }
}
