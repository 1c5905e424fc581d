//! [`SqliteCatalog`]: the catalog in one SQLite file.

mod assets;
mod calculated;
mod detectors;
mod files;
mod ingestion;
mod json;
mod keys;
mod people;
mod query;
mod reports;
mod rules;
mod runs;
mod schema;
mod signalfx;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use sextant_model::Timestamp;

use crate::calculated_types::{CalculatedChannel, CalculatedChannelDef, CalculatedChannelFilter};
use crate::detector_types::{SfxDetector, SfxDetectorStep, SfxIncident};
use crate::error::{Error, Result};
use crate::file_types::{
    AnnotationLog, AnnotationLogEntry, NewRemoteFile, RemoteFile, RemoteFileFilter,
};
use crate::report_types::{
    DataImport, ImportStatus, NewReport, Report, ReportFilter, ReportTemplate, ReportTemplateDef,
    ReportTemplateFilter,
};
use crate::rule_types::{
    Annotation, AnnotationEvent, AnnotationFilter, AnnotationUpdate, Login, NameFilter,
    NewAnnotation, Rule, RuleCheckpoint, RuleDef, RuleEvaluation, RuleFilter, RuleStream, Tag,
    User,
};
use crate::signalfx_types::{
    SfxDimension, SfxEvent, SfxEventFilter, SfxMetric, SfxNewMts, SfxRegistered, SfxSnapshot,
    SfxTag, SfxUpdate,
};
use crate::types::{
    ApiKey, Asset, AssetFilter, AssetUpdate, Channel, ChannelDef, ChannelFilter, FlowDef,
    IngestionConfig, IngestionConfigFilter, NewRun, OrgLimits, Organization, Page, Principal, Run,
    RunFilter, RunUpdate, Scope, Scopes,
};
use crate::{Catalog, Clock, SystemClock};

pub(crate) use schema::SCHEMA_VERSION;

/// The catalog in one SQLite file (see `docs/catalog.md` for the schema).
///
/// The file is opened in WAL mode with `synchronous = FULL`, so a change is on disk when its
/// method returns, and with foreign keys enforced. One connection serves every call behind a
/// mutex: calls run one at a time, which keeps `get_or_create_*` free of races and is ample for
/// metadata traffic, since the ingest path caches what it reads (see [`Catalog::flow`]).
#[derive(Debug)]
pub struct SqliteCatalog {
    conn: Mutex<Connection>,
    clock: Arc<dyn Clock>,
}

impl SqliteCatalog {
    /// The schema version this build creates and reads (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: i64 = SCHEMA_VERSION;

    /// Opens the catalog file at `path`, creating it if missing and migrating its schema to
    /// [`Self::SCHEMA_VERSION`]. A file of a newer schema is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let open_error = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_error)?;
        // WAL lets readers of other processes (backups, inspection) run beside the writer.
        // Where the file system cannot do WAL, SQLite keeps its rollback journal, which with
        // `synchronous = FULL` is just as durable, only slower.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(open_error)?;
        Self::configure(conn).map_err(|err| match err {
            Error::Internal(source) => open_error(source),
            other => other,
        })
    }

    /// A catalog that lives in memory only, for tests and throwaway servers.
    pub fn open_in_memory() -> Result<Self> {
        Self::configure(Connection::open_in_memory()?)
    }

    /// Replaces the clock that stamps `created_at`, `modified_at` and `revoked_at`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn configure(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Another process holding the write lock (a backup, say) is waited for, not failed on.
        conn.busy_timeout(Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        // Creating or migrating the schema leaves a few hundred KiB in the WAL file, which
        // SQLite would keep until a thousand pages were written: moved into the database and
        // the file truncated, so that a new data directory holds what its tables hold. A
        // reader of another process keeping the WAL busy only makes this a no-op.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(SqliteCatalog {
            conn: Mutex::new(conn),
            clock: Arc::new(SystemClock),
        })
    }

    /// Runs `f` in a write transaction and commits it. `IMMEDIATE` takes the write lock at the
    /// start, so a transaction never fails half-way on a lock held by another process.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>, Timestamp) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx, self.clock.now())?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on the connection. Reads of several statements see one state, since no other
    /// call can run on the connection meanwhile.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock();
        f(&conn)
    }
}

impl Catalog for SqliteCatalog {
    fn create_organization(&self, name: &str) -> Result<Organization> {
        self.write(|tx, now| keys::create_organization(tx, name, now))
    }

    fn get_organization(&self, id: &str) -> Result<Organization> {
        self.read(|conn| keys::get_organization(conn, id))
    }

    fn list_organizations(&self) -> Result<Vec<Organization>> {
        self.read(keys::list_organizations)
    }

    fn organization_limits(&self, org_id: &str) -> Result<OrgLimits> {
        self.read(|conn| keys::organization_limits(conn, org_id))
    }

    fn set_organization_limits(&self, org_id: &str, limits: &OrgLimits) -> Result<()> {
        self.write(|tx, _| keys::set_organization_limits(tx, org_id, limits))
    }

    fn create_api_key(&self, org_id: &str, name: &str, scopes: Scopes) -> Result<(ApiKey, String)> {
        self.write(|tx, now| keys::create_api_key(tx, org_id, name, scopes, now))
    }

    fn create_session_key(
        &self,
        org_id: &str,
        name: &str,
        scope: Scope,
        expires_at: Timestamp,
    ) -> Result<(ApiKey, String)> {
        self.write(|tx, now| keys::create_session_key(tx, org_id, name, scope, expires_at, now))
    }

    fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        let now = self.clock.now();
        self.read(|conn| keys::authenticate(conn, secret, now))
    }

    fn list_api_keys(&self, org_id: &str) -> Result<Vec<ApiKey>> {
        self.read(|conn| keys::list_api_keys(conn, org_id))
    }

    fn revoke_api_key(&self, org_id: &str, key_id: &str) -> Result<ApiKey> {
        self.write(|tx, now| keys::revoke_api_key(tx, org_id, key_id, now))
    }

    fn bootstrap(&self, token: &str) -> Result<Option<Principal>> {
        self.write(|tx, now| keys::bootstrap(tx, token, now))
    }

    fn get_or_create_asset(&self, org_id: &str, name: &str) -> Result<Asset> {
        self.write(|tx, now| assets::get_or_create_asset(tx, org_id, name, now))
    }

    fn update_asset(&self, org_id: &str, asset_id: &str, update: &AssetUpdate) -> Result<Asset> {
        self.write(|tx, now| assets::update_asset(tx, org_id, asset_id, update, now))
    }

    fn get_asset(&self, org_id: &str, asset_id: &str) -> Result<Asset> {
        self.read(|conn| assets::get_asset(conn, org_id, asset_id))
    }

    fn set_asset_archived(&self, org_id: &str, asset_id: &str, archived: bool) -> Result<Asset> {
        self.write(|tx, now| assets::set_asset_archived(tx, org_id, asset_id, archived, now))
    }

    fn list_assets(
        &self,
        org_id: &str,
        filter: &AssetFilter,
        page: Page,
    ) -> Result<(Vec<Asset>, String)> {
        self.read(|conn| assets::list_assets(conn, org_id, filter, &page))
    }

    fn get_or_create_channel(
        &self,
        org_id: &str,
        asset_id: &str,
        def: &ChannelDef,
    ) -> Result<Channel> {
        self.write(|tx, now| {
            assets::get_asset(tx, org_id, asset_id)?;
            assets::get_or_create_channel(tx, org_id, asset_id, def, now)
        })
    }

    fn get_channel(&self, org_id: &str, channel_id: &str) -> Result<Channel> {
        self.read(|conn| assets::get_channel(conn, org_id, channel_id))
    }

    fn list_channels(
        &self,
        org_id: &str,
        filter: &ChannelFilter,
        page: Page,
    ) -> Result<(Vec<Channel>, String)> {
        self.read(|conn| assets::list_channels(conn, org_id, filter, &page))
    }

    fn find_ingestion_config(
        &self,
        org_id: &str,
        client_key: &str,
    ) -> Result<Option<IngestionConfig>> {
        self.read(|conn| ingestion::find_ingestion_config(conn, org_id, client_key))
    }

    fn create_ingestion_config(
        &self,
        org_id: &str,
        asset_name: &str,
        client_key: Option<&str>,
        flows: &[FlowDef],
    ) -> Result<IngestionConfig> {
        self.write(|tx, now| {
            ingestion::create_ingestion_config(tx, org_id, asset_name, client_key, flows, now)
        })
    }

    fn get_ingestion_config(&self, org_id: &str, config_id: &str) -> Result<IngestionConfig> {
        self.read(|conn| ingestion::get_ingestion_config(conn, org_id, config_id))
    }

    fn list_ingestion_configs(
        &self,
        org_id: &str,
        filter: &IngestionConfigFilter,
        page: Page,
    ) -> Result<(Vec<IngestionConfig>, String)> {
        self.read(|conn| ingestion::list_ingestion_configs(conn, org_id, filter, &page))
    }

    fn list_flows(&self, org_id: &str, config_id: &str) -> Result<Vec<FlowDef>> {
        self.read(|conn| ingestion::list_flows(conn, org_id, config_id))
    }

    fn add_flows(&self, org_id: &str, config_id: &str, flows: &[FlowDef]) -> Result<()> {
        self.write(|tx, now| {
            let config = ingestion::get_ingestion_config(tx, org_id, config_id)?;
            ingestion::add_flows(tx, &config, flows, now)
        })
    }

    fn flow(
        &self,
        org_id: &str,
        config_id: &str,
        name: &str,
    ) -> Result<Option<(FlowDef, Vec<String>)>> {
        self.read(|conn| ingestion::flow(conn, org_id, config_id, name))
    }

    fn create_run(&self, org_id: &str, run: NewRun) -> Result<Run> {
        self.write(|tx, now| runs::create_run(tx, org_id, run, now))
    }

    fn get_run(&self, org_id: &str, run_id: &str) -> Result<Run> {
        self.read(|conn| runs::get_run(conn, org_id, run_id))
    }

    fn list_runs(
        &self,
        org_id: &str,
        filter: &RunFilter,
        page: Page,
    ) -> Result<(Vec<Run>, String)> {
        self.read(|conn| runs::list_runs(conn, org_id, filter, &page))
    }

    fn update_run(&self, org_id: &str, run_id: &str, update: RunUpdate) -> Result<Run> {
        self.write(|tx, now| runs::update_run(tx, org_id, run_id, update, now))
    }

    fn associate_asset(&self, org_id: &str, run_id: &str, asset_id: &str) -> Result<()> {
        self.write(|tx, _| runs::associate_asset(tx, org_id, run_id, asset_id))
    }

    fn create_user(&self, org_id: &str, name: &str) -> Result<User> {
        self.write(|tx, now| people::create_user(tx, org_id, name, now))
    }

    fn set_user_login(
        &self,
        org_id: &str,
        user_id: &str,
        email: &str,
        password_hash: &str,
        session_scope: Scope,
    ) -> Result<()> {
        self.write(|tx, _| {
            people::set_user_login(tx, org_id, user_id, email, password_hash, session_scope)
        })
    }

    fn find_login(&self, email: &str) -> Result<Option<Login>> {
        self.read(|conn| people::find_login(conn, email))
    }

    fn get_user(&self, org_id: &str, user_id: &str) -> Result<User> {
        self.read(|conn| people::get_user(conn, org_id, user_id))
    }

    fn list_users(
        &self,
        org_id: &str,
        filter: &NameFilter,
        page: Page,
    ) -> Result<(Vec<User>, String)> {
        self.read(|conn| people::list_users(conn, org_id, filter, &page))
    }

    fn get_or_create_tag(&self, org_id: &str, name: &str) -> Result<Tag> {
        self.write(|tx, now| people::get_or_create_tag(tx, org_id, name, now))
    }

    fn list_tags(
        &self,
        org_id: &str,
        filter: &NameFilter,
        page: Page,
    ) -> Result<(Vec<Tag>, String)> {
        self.read(|conn| people::list_tags(conn, org_id, filter, &page))
    }

    fn create_rule(&self, org_id: &str, def: &RuleDef) -> Result<Rule> {
        self.write(|tx, now| rules::create_rule(tx, org_id, def, now))
    }

    fn update_rule(&self, org_id: &str, rule_id: &str, def: &RuleDef) -> Result<Rule> {
        self.write(|tx, now| rules::update_rule(tx, org_id, rule_id, def, now))
    }

    fn get_rule(&self, org_id: &str, rule_id: &str) -> Result<Rule> {
        self.read(|conn| rules::get_rule(conn, org_id, rule_id))
    }

    fn find_rule(&self, org_id: &str, client_key: &str) -> Result<Option<Rule>> {
        self.read(|conn| rules::find_rule(conn, org_id, client_key))
    }

    fn list_rules(
        &self,
        org_id: &str,
        filter: &RuleFilter,
        page: Page,
    ) -> Result<(Vec<Rule>, String)> {
        self.read(|conn| rules::list_rules(conn, org_id, filter, &page))
    }

    fn set_rule_archived(&self, org_id: &str, rule_id: &str, archived: bool) -> Result<Rule> {
        self.write(|tx, now| rules::set_rule_archived(tx, org_id, rule_id, archived, now))
    }

    fn create_annotation(&self, org_id: &str, annotation: &NewAnnotation) -> Result<Annotation> {
        self.write(|tx, now| rules::create_annotation(tx, org_id, annotation, now))
    }

    fn get_annotation(&self, org_id: &str, annotation_id: &str) -> Result<Annotation> {
        self.read(|conn| rules::get_annotation(conn, org_id, annotation_id))
    }

    fn list_annotations(
        &self,
        org_id: &str,
        filter: &AnnotationFilter,
        page: Page,
    ) -> Result<(Vec<Annotation>, String)> {
        self.read(|conn| rules::list_annotations(conn, org_id, filter, &page))
    }

    fn update_annotation(
        &self,
        org_id: &str,
        annotation_id: &str,
        update: AnnotationUpdate,
    ) -> Result<Annotation> {
        self.write(|tx, now| rules::update_annotation(tx, org_id, annotation_id, update, now))
    }

    fn set_annotations_archived(
        &self,
        org_id: &str,
        annotation_ids: &[String],
        archived: bool,
    ) -> Result<Vec<Annotation>> {
        self.write(|tx, now| {
            rules::set_annotations_archived(tx, org_id, annotation_ids, archived, now)
        })
    }

    fn delete_annotations(
        &self,
        org_id: &str,
        annotation_ids: &[String],
    ) -> Result<Vec<RemoteFile>> {
        self.write(|tx, _| rules::delete_annotations(tx, org_id, annotation_ids))
    }

    fn create_annotation_log(
        &self,
        org_id: &str,
        annotation_id: &str,
        entry: &AnnotationLogEntry,
        by: &str,
    ) -> Result<AnnotationLog> {
        self.write(|tx, now| {
            files::create_annotation_log(tx, org_id, annotation_id, entry, by, now)
        })
    }

    fn list_annotation_logs(
        &self,
        org_id: &str,
        annotation_id: &str,
        kinds: &Option<Vec<String>>,
        page: Page,
    ) -> Result<(Vec<AnnotationLog>, String)> {
        self.read(|conn| files::list_annotation_logs(conn, org_id, annotation_id, kinds, page))
    }

    fn delete_annotation_log(
        &self,
        org_id: &str,
        annotation_id: &str,
        log_id: &str,
    ) -> Result<Vec<RemoteFile>> {
        self.write(|tx, _| files::delete_annotation_log(tx, org_id, annotation_id, log_id))
    }

    fn create_remote_file(
        &self,
        org_id: &str,
        file: NewRemoteFile,
        org_max_bytes: u64,
    ) -> Result<RemoteFile> {
        self.write(|tx, now| files::create_remote_file(tx, org_id, file, org_max_bytes, now))
    }

    fn remote_files_bytes(&self, org_id: &str) -> Result<u64> {
        self.read(|conn| files::remote_files_bytes(conn, org_id))
    }

    fn get_remote_file(&self, org_id: &str, id: &str) -> Result<RemoteFile> {
        self.read(|conn| files::get_remote_file(conn, org_id, id))
    }

    fn list_remote_files(
        &self,
        org_id: &str,
        filter: &RemoteFileFilter,
        page: Page,
    ) -> Result<(Vec<RemoteFile>, String)> {
        self.read(|conn| files::list_remote_files(conn, org_id, filter, page))
    }

    fn update_remote_file(
        &self,
        org_id: &str,
        id: &str,
        description: Option<String>,
        by: &str,
    ) -> Result<RemoteFile> {
        self.write(|tx, now| files::update_remote_file(tx, org_id, id, description, by, now))
    }

    fn delete_remote_files(&self, org_id: &str, ids: &[String]) -> Result<Vec<RemoteFile>> {
        self.write(|tx, _| files::delete_remote_files(tx, org_id, ids))
    }

    fn remote_file_keys(&self) -> Result<Vec<(String, String)>> {
        self.read(files::remote_file_keys)
    }

    fn create_calculated_channel(
        &self,
        org_id: &str,
        client_key: Option<&str>,
        def: &CalculatedChannelDef,
        notes: &str,
        by: &str,
    ) -> Result<CalculatedChannel> {
        self.write(|tx, now| calculated::create(tx, org_id, client_key, def, notes, by, now))
    }

    fn create_report_template(
        &self,
        org_id: &str,
        client_key: Option<&str>,
        def: &ReportTemplateDef,
        by: &str,
    ) -> Result<ReportTemplate> {
        self.write(|tx, now| reports::create_template(tx, org_id, client_key, def, by, now))
    }

    fn get_report_template(&self, org_id: &str, id: &str) -> Result<ReportTemplate> {
        self.read(|conn| reports::get_template(conn, org_id, id))
    }

    fn find_report_template(
        &self,
        org_id: &str,
        client_key: &str,
    ) -> Result<Option<ReportTemplate>> {
        self.read(|conn| reports::find_template(conn, org_id, client_key))
    }

    fn list_report_templates(
        &self,
        org_id: &str,
        filter: &ReportTemplateFilter,
        page: Page,
    ) -> Result<(Vec<ReportTemplate>, String)> {
        self.read(|conn| reports::list_templates(conn, org_id, filter, page))
    }

    fn update_report_template(
        &self,
        org_id: &str,
        id: &str,
        def: &ReportTemplateDef,
        archived: Option<bool>,
        by: &str,
    ) -> Result<ReportTemplate> {
        self.write(|tx, now| reports::update_template(tx, org_id, id, def, archived, by, now))
    }

    fn create_report(&self, org_id: &str, report: NewReport, by: &str) -> Result<Report> {
        self.write(|tx, now| reports::create_report(tx, org_id, report, by, now))
    }

    fn get_report(&self, org_id: &str, id: &str) -> Result<Report> {
        self.read(|conn| reports::get_report(conn, org_id, id))
    }

    fn list_reports(
        &self,
        org_id: &str,
        filter: &ReportFilter,
        page: Page,
    ) -> Result<(Vec<Report>, String)> {
        self.read(|conn| reports::list_reports(conn, org_id, filter, page))
    }

    fn create_data_import(&self, org_id: &str, format: &str, config: &str) -> Result<DataImport> {
        self.write(|tx, now| reports::create_import(tx, org_id, format, config, now))
    }

    fn get_data_import(&self, org_id: &str, id: &str) -> Result<DataImport> {
        self.read(|conn| reports::get_import(conn, org_id, id))
    }

    fn set_data_import_status(
        &self,
        org_id: &str,
        id: &str,
        from: ImportStatus,
        to: ImportStatus,
        error_message: &str,
        rows: u64,
    ) -> Result<DataImport> {
        self.write(|tx, now| {
            reports::set_import_status(tx, org_id, id, from, to, error_message, rows, now)
        })
    }

    fn fail_interrupted_imports(&self) -> Result<usize> {
        self.write(|tx, now| reports::fail_interrupted_imports(tx, now))
    }

    fn get_calculated_channel(&self, org_id: &str, id: &str) -> Result<CalculatedChannel> {
        self.read(|conn| calculated::get(conn, org_id, id))
    }

    fn find_calculated_channel(
        &self,
        org_id: &str,
        client_key: &str,
    ) -> Result<Option<CalculatedChannel>> {
        self.read(|conn| calculated::find_by_key(conn, org_id, client_key))
    }

    fn get_calculated_channel_version(
        &self,
        org_id: &str,
        version_id: &str,
    ) -> Result<CalculatedChannel> {
        self.read(|conn| calculated::get_version(conn, org_id, version_id))
    }

    fn list_calculated_channels(
        &self,
        org_id: &str,
        filter: &CalculatedChannelFilter,
        page: Page,
    ) -> Result<(Vec<CalculatedChannel>, String)> {
        self.read(|conn| calculated::list(conn, org_id, filter, page))
    }

    fn list_calculated_channel_versions(
        &self,
        org_id: &str,
        id: &str,
        page: Page,
    ) -> Result<(Vec<CalculatedChannel>, String)> {
        self.read(|conn| calculated::versions(conn, org_id, id, page))
    }

    fn update_calculated_channel(
        &self,
        org_id: &str,
        id: &str,
        def: &CalculatedChannelDef,
        archived: Option<bool>,
        notes: &str,
        by: &str,
    ) -> Result<CalculatedChannel> {
        self.write(|tx, now| calculated::update(tx, org_id, id, def, archived, notes, by, now))
    }

    fn ensure_rule_checkpoints(
        &self,
        org_id: &str,
        streams: &[(RuleStream, Option<Timestamp>)],
    ) -> Result<()> {
        self.write(|tx, _| rules::ensure_checkpoints(tx, org_id, streams))
    }

    fn rule_checkpoint(&self, org_id: &str, stream: &RuleStream) -> Result<Option<RuleCheckpoint>> {
        self.read(|conn| rules::checkpoint(conn, org_id, stream))
    }

    fn list_rule_checkpoints(&self, org_id: &str) -> Result<Vec<RuleCheckpoint>> {
        self.read(|conn| rules::list_checkpoints(conn, org_id))
    }

    fn commit_rule_evaluations(
        &self,
        org_id: &str,
        evaluations: &[RuleEvaluation],
    ) -> Result<Vec<AnnotationEvent>> {
        self.write(|tx, now| rules::commit_rule_evaluations(tx, org_id, evaluations, now))
    }

    fn sfx_register(
        &self,
        org_id: &str,
        creator: &str,
        mts: &[SfxNewMts],
    ) -> Result<SfxRegistered> {
        self.write(|tx, now| signalfx::register(tx, org_id, creator, mts, now))
    }

    fn sfx_snapshot(&self, org_id: &str) -> Result<SfxSnapshot> {
        self.read(|conn| signalfx::snapshot(conn, org_id))
    }

    fn sfx_update_metric(
        &self,
        org_id: &str,
        name: &str,
        update: &SfxUpdate,
        by: &str,
    ) -> Result<SfxMetric> {
        self.write(|tx, now| signalfx::update_metric(tx, org_id, name, update, by, now))
    }

    fn sfx_update_dimension(
        &self,
        org_id: &str,
        key: &str,
        value: &str,
        update: &SfxUpdate,
        by: &str,
    ) -> Result<SfxDimension> {
        self.write(|tx, now| signalfx::update_dimension(tx, org_id, key, value, update, by, now))
    }

    fn sfx_put_tag(
        &self,
        org_id: &str,
        name: &str,
        update: &SfxUpdate,
        by: &str,
    ) -> Result<SfxTag> {
        self.write(|tx, now| signalfx::put_tag(tx, org_id, name, update, by, now))
    }

    fn sfx_delete_tag(&self, org_id: &str, name: &str) -> Result<()> {
        self.write(|tx, _| signalfx::delete_tag(tx, org_id, name))
    }

    fn sfx_add_events(&self, org_id: &str, events: &[SfxEvent]) -> Result<Vec<SfxEvent>> {
        self.write(|tx, _| signalfx::add_events(tx, org_id, events))
    }

    fn sfx_events(&self, org_id: &str, filter: &SfxEventFilter) -> Result<Vec<SfxEvent>> {
        self.read(|conn| signalfx::events(conn, org_id, filter))
    }

    fn sfx_create_detector(
        &self,
        org_id: &str,
        detector: &SfxDetector,
        by: &str,
    ) -> Result<SfxDetector> {
        self.write(|tx, now| detectors::create(tx, org_id, detector, by, now))
    }

    fn sfx_get_detector(&self, org_id: &str, id: &str) -> Result<SfxDetector> {
        self.read(|conn| detectors::get(conn, org_id, id))
    }

    fn sfx_detectors(
        &self,
        org_id: &str,
        name: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<SfxDetector>)> {
        self.read(|conn| detectors::list(conn, org_id, name, offset, limit))
    }

    fn sfx_enabled_detectors(&self) -> Result<Vec<(String, SfxDetector)>> {
        self.read(detectors::enabled)
    }

    fn sfx_update_detector(
        &self,
        org_id: &str,
        detector: &SfxDetector,
        by: &str,
    ) -> Result<SfxDetector> {
        self.write(|tx, now| detectors::update(tx, org_id, detector, by, now))
    }

    fn sfx_delete_detector(&self, org_id: &str, id: &str) -> Result<()> {
        self.write(|tx, _| detectors::delete(tx, org_id, id))
    }

    fn sfx_detector_step(
        &self,
        org_id: &str,
        detector_id: &str,
        step: &SfxDetectorStep,
    ) -> Result<()> {
        self.write(|tx, _| detectors::step(tx, org_id, detector_id, step))
    }

    fn sfx_incidents(
        &self,
        org_id: &str,
        detector_id: Option<&str>,
        include_resolved: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SfxIncident>> {
        self.read(|conn| {
            detectors::incidents(conn, org_id, detector_id, include_resolved, offset, limit)
        })
    }

    fn sfx_get_incident(&self, org_id: &str, id: &str) -> Result<SfxIncident> {
        self.read(|conn| detectors::get_incident(conn, org_id, id))
    }

    fn sfx_clear_incident(&self, org_id: &str, id: &str, at: i64) -> Result<SfxIncident> {
        self.write(|tx, _| detectors::clear_incident(tx, org_id, id, at))
    }
}
