//! The collections of a data directory.
//!
//! On disk, `<root>/org-<16 hex digits>/<name>/` holds a collection's `schema.json` (replaced
//! atomically when columns are added) and its `events.log` ([`crate::log`]). In memory, each
//! collection keeps its inferences column by column, an index from id to inference, the
//! latest label of every id, and for each inference the label it joins with; opening replays
//! the log.
//!
//! Writes to one collection are serialized: an ingest request checks its events, appends the
//! accepted ones to the log and syncs, then applies them, while holding the collection's log.
//! Reads take the in-memory state only and never wait for a sync.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::{Condvar, Mutex, RwLock};
use sextant_api::collections::{
    Cell, CollectionSchema, ColumnRole, EventRows, EventsQuery, IngestResponse, RowColumn, Stats,
    StatsQuery,
};
use sextant_api::live::{EventKind, LiveEvent, LiveValue};
use sextant_model::OrgId;

use crate::columns::{Data, Needs, random_key};
use crate::event::{self, Entry, ErrorType, EventError, Limits, MAX_EVENTS, Request};
use crate::log::{Log, read_records};
use crate::part::{self, Part};
use crate::schema::{Schema, StoredSchema, check_collection_name};
use crate::{Error, Result};

const SCHEMA_FILE: &str = "schema.json";
const LOG_FILE: &str = "events.log";
/// The log of the events sealed last, kept for subscribers resuming from a cursor in it.
const PREV_LOG_FILE: &str = "events.1.log";
const PARTS_DIR: &str = "parts";
/// The most events the head may hold: what one part can take, less one request.
const HEAD_CAP: usize = part::MAX_PART_EVENTS - MAX_EVENTS;
/// The head is sealed before the distinct text of one of its columns (or its tags or projects)
/// passes this: one request adds at most its body's 64 MiB, and a part's dictionaries hold up
/// to 256 MiB each.
const HEAD_TEXT_CAP: usize = 128 << 20;

/// Every collection of every organization under one directory.
#[derive(Debug)]
pub struct Collections {
    root: PathBuf,
    limits: Limits,
    map: RwLock<BTreeMap<(u64, String), Arc<Collection>>>,
    /// Held while a collection is created, so that two creations of one name cannot race.
    creating: Mutex<()>,
}

impl Collections {
    /// Opens (creating if needed) the collections under `root`, replaying every log.
    pub fn open(root: &Path, limits: Limits) -> Result<Collections> {
        fs::create_dir_all(root).map_err(Error::io("create", root))?;
        let mut map = BTreeMap::new();
        for org_dir in read_dir(root)? {
            let Some(org) = org_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("org-"))
                .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            else {
                continue;
            };
            for dir in read_dir(&org_dir)? {
                if !dir.join(SCHEMA_FILE).exists() {
                    continue;
                }
                let collection = Collection::open(&dir)?;
                map.insert((org, collection.name.clone()), Arc::new(collection));
            }
        }
        Ok(Collections {
            root: root.to_owned(),
            limits,
            map: RwLock::new(map),
            creating: Mutex::new(()),
        })
    }

    /// The limits events are checked against.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Creates the collection `name` of `org` with the schema `spec`.
    pub fn create(
        &self,
        org: OrgId,
        name: &str,
        spec: &CollectionSchema,
    ) -> Result<Arc<Collection>> {
        check_collection_name(name).map_err(Error::Invalid)?;
        let schema = Schema::from_spec(spec).map_err(Error::Schema)?;
        let _creating = self.creating.lock();
        let key = (org.0, name.to_owned());
        {
            // Names differing only in case would share a directory on some file systems.
            let map = self.map.read();
            if let Some(((_, taken), _)) = map
                .iter()
                .find(|((o, n), _)| *o == org.0 && n.eq_ignore_ascii_case(name))
            {
                return Err(if *taken == name {
                    Error::Exists(name.to_owned())
                } else {
                    Error::Invalid(format!(
                        "collection `{taken}` exists, and names may not differ only in case"
                    ))
                });
            }
        }
        let org_dir = self.root.join(format!("org-{:016x}", org.0));
        let dir = org_dir.join(name);
        if dir.join(SCHEMA_FILE).exists() {
            return Err(Error::Exists(name.to_owned()));
        }
        // A directory without a schema was left by a creation that failed half-way and holds
        // nothing acknowledged.
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(Error::io("clear", &dir))?;
        }
        let new_org = !org_dir.exists();
        fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        if new_org {
            sync_dir(&self.root)?;
        }
        let log = Log::create(&dir.join(LOG_FILE), 0)?;
        // The schema is written last: a directory without it is not a collection.
        write_schema(&dir, name, &schema)?;
        sync_dir(&org_dir)?;
        let collection = Arc::new(Collection {
            name: name.to_owned(),
            dir,
            state: RwLock::new(State {
                schema: Arc::new(schema.clone()),
                data: Data::new(&schema, random_key()),
            }),
            published: Mutex::new(Published::of(&log, None)),
            changed: Condvar::new(),
            log: Mutex::new(Writer::new(log, 1)),
            deleted: Default::default(),
        });
        self.map.write().insert(key, collection.clone());
        Ok(collection)
    }

    /// The collection `name` of `org`.
    pub fn get(&self, org: OrgId, name: &str) -> Result<Arc<Collection>> {
        let map = self.map.read();
        if let Some(c) = map.get(&(org.0, name.to_owned())) {
            return Ok(c.clone());
        }
        let names = map
            .keys()
            .filter(|(o, _)| *o == org.0)
            .map(|(_, n)| n.as_str());
        Err(Error::NotFound {
            name: name.to_owned(),
            suggestion: sextant_expr::did_you_mean(name, names).map(str::to_owned),
        })
    }

    /// Deletes the collection `name` of `org` and its files. Writes in flight finish first;
    /// later ones, through a handle taken before, are refused as not found.
    pub fn delete(&self, org: OrgId, name: &str) -> Result<()> {
        let _creating = self.creating.lock();
        let collection = self.get(org, name)?;
        let _log = collection.log.lock();
        collection
            .deleted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        {
            // Under the lock its subscribers wait with, so that none misses the news.
            let _published = collection.published.lock();
            collection.changed.notify_all();
        }
        self.map.write().remove(&(org.0, name.to_owned()));
        // The schema goes first: a directory without it is no collection, so a crash half-way
        // leaves nothing that opens again (and creating the name clears it).
        let schema = collection.dir.join(SCHEMA_FILE);
        fs::remove_file(&schema).map_err(Error::io("remove", &schema))?;
        sync_dir(&collection.dir)?;
        fs::remove_dir_all(&collection.dir).map_err(Error::io("remove", &collection.dir))?;
        if let Some(org_dir) = collection.dir.parent() {
            sync_dir(org_dir)?;
        }
        Ok(())
    }

    /// The collections of `org`, by name.
    pub fn list(&self, org: OrgId) -> Vec<Arc<Collection>> {
        self.map
            .read()
            .iter()
            .filter(|((o, _), _)| *o == org.0)
            .map(|(_, c)| c.clone())
            .collect()
    }
}

/// One collection: its schema, log and data.
#[derive(Debug)]
pub struct Collection {
    name: String,
    dir: PathBuf,
    state: RwLock<State>,
    /// The log; whoever holds it is the one writer.
    log: Mutex<Writer>,
    /// Set, under the log, when the collection is deleted.
    deleted: std::sync::atomic::AtomicBool,
    /// The log's records as subscribers see them: changed with the in-memory state, under
    /// its write lock, so that the two always agree.
    published: Mutex<Published>,
    /// Notified when a record is published or the collection is deleted.
    changed: Condvar,
}

/// The log and what sealing needs.
#[derive(Debug)]
struct Writer {
    log: Log,
    /// The sequence number of the next part.
    next_part: u64,
    /// The head's size at which to seal next (put off after a failed seal).
    seal_at: Option<usize>,
    /// Why appends are refused until a restart: a log that could not be rotated.
    broken: Option<String>,
    /// Why the last seal failed, while it has not succeeded since.
    seal_error: Option<String>,
}

impl Writer {
    fn new(log: Log, next_part: u64) -> Writer {
        Writer {
            log,
            next_part,
            seal_at: None,
            broken: None,
            seal_error: None,
        }
    }
}

/// The published records of the log and of the one before it, for subscribers.
#[derive(Debug)]
struct Published {
    /// The cursor before the current log's first record.
    base: u64,
    current: Segment,
    prev: Option<Segment>,
}

/// Where each record of a log starts, and where the last ends.
#[derive(Debug)]
struct Segment {
    base: u64,
    offsets: Vec<u64>,
    end: u64,
}

impl Segment {
    fn of(log: &Log) -> Segment {
        Segment {
            base: log.base(),
            offsets: log.offsets().to_vec(),
            end: log.len(),
        }
    }
}

impl Published {
    fn of(log: &Log, prev: Option<Segment>) -> Published {
        Published {
            base: log.base(),
            current: Segment::of(log),
            prev,
        }
    }

    /// The cursor of the newest record.
    fn cursor(&self) -> u64 {
        self.base + self.current.offsets.len() as u64
    }
}

#[derive(Debug)]
struct State {
    schema: Arc<Schema>,
    data: Data,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SchemaFile {
    name: String,
    schema: StoredSchema,
}

impl Collection {
    fn open(dir: &Path) -> Result<Collection> {
        let path = dir.join(SCHEMA_FILE);
        let text = fs::read(&path).map_err(Error::io("read", &path))?;
        let file: SchemaFile = serde_json::from_slice(&text).map_err(|e| Error::Corrupt {
            path: path.clone(),
            offset: 0,
            detail: e.to_string(),
        })?;
        let schema = Schema::from_stored(&file.schema);
        let (parts, next_part) = open_parts(&dir.join(PARTS_DIR))?;
        let key = parts.first().map_or_else(random_key, |p| p.key());
        let sealed = parts.last().map_or(0, |p| p.cursor());
        let mut data = Data::from_parts(&schema, key, parts)?;
        // The log moved aside at the last seal serves subscribers only: damage in it is
        // a warning, not a reason to refuse the collection.
        let prev_path = dir.join(PREV_LOG_FILE);
        let prev = match prev_path.exists() {
            false => None,
            true => match Log::open(&prev_path, |_, _| {}) {
                Ok(log) => Some(Segment::of(&log)),
                Err(e) => {
                    tracing::warn!(error = %e, "the log kept for subscribers is damaged; resuming from cursors in it is refused");
                    None
                }
            },
        };
        let log_path = dir.join(LOG_FILE);
        let log = if log_path.exists() {
            Log::open(&log_path, |cursor, entries| {
                // Records already in parts (a crash after a seal, before the log was rotated).
                if cursor > sealed {
                    for entry in entries {
                        data.apply(entry);
                    }
                }
            })?
        } else if prev
            .as_ref()
            .is_some_and(|p| p.base + p.offsets.len() as u64 == sealed)
        {
            // A crash after the log was moved aside and before the next was made.
            let log = Log::create(&log_path, sealed)?;
            sync_dir(dir)?;
            log
        } else {
            return Err(Error::Corrupt {
                path: log_path,
                offset: 0,
                detail: format!(
                    "the event log is missing, and no log moved aside ends at record {sealed}, where the parts end"
                ),
            });
        };
        if log.cursor() < sealed || log.base() > sealed {
            return Err(Error::Corrupt {
                path: log_path,
                offset: 0,
                detail: format!(
                    "the log holds records {} to {}, but the parts end at record {sealed}",
                    log.base() + 1,
                    log.cursor()
                ),
            });
        }
        Ok(Collection {
            name: file.name,
            dir: dir.to_owned(),
            state: RwLock::new(State {
                schema: Arc::new(schema),
                data,
            }),
            published: Mutex::new(Published::of(&log, prev)),
            changed: Condvar::new(),
            log: Mutex::new(Writer::new(log, next_part)),
            deleted: Default::default(),
        })
    }

    /// Refuses a write to a deleted collection (the caller holds the log).
    fn check_not_deleted(&self) -> Result<()> {
        if self.deleted.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::NotFound {
                name: self.name.clone(),
                suggestion: None,
            });
        }
        Ok(())
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its schema now.
    pub fn schema(&self) -> Arc<Schema> {
        self.state.read().schema.clone()
    }

    /// Its name, schema and counts, as the native API describes it.
    pub fn describe(&self) -> sextant_api::collections::Collection {
        let state = self.state.read();
        sextant_api::collections::Collection {
            name: self.name.clone(),
            schema: state.schema.spec(),
            inferences: state.data.inferences() as u64,
            labels: state.data.labels() as u64,
        }
    }

    /// Changes the schema to `spec`, which may only add columns.
    pub fn update_schema(&self, spec: &CollectionSchema) -> Result<()> {
        let _log = self.log.lock();
        self.check_not_deleted()?;
        let next = self.schema().evolve(spec).map_err(Error::Schema)?;
        write_schema(&self.dir, &self.name, &next)?;
        let mut state = self.state.write();
        state.data.widen(&next);
        state.schema = Arc::new(next);
        Ok(())
    }

    /// Ingests the events of `request`: each event is stored or refused alone, and the
    /// stored ones are durable when this returns.
    pub fn ingest(
        &self,
        request: &Request<'_>,
        now: i64,
        limits: Limits,
    ) -> Result<IngestResponse> {
        self.ingest_with(request, now, limits, |_, _| Ok(()))
    }

    /// [`Collection::ingest`], calling `before_log` with the accepted entries after they are
    /// checked and before they are logged (the server writes their series there, see
    /// [`crate::series`]). If it fails, nothing of the request is stored and its error is
    /// returned; a retry of the whole request is then safe.
    pub fn ingest_with<E: From<Error>>(
        &self,
        request: &Request<'_>,
        now: i64,
        limits: Limits,
        before_log: impl FnOnce(&Schema, &[Entry<'_>]) -> std::result::Result<(), E>,
    ) -> std::result::Result<IngestResponse, E> {
        let mut writer = self.log.lock();
        self.check_not_deleted()?;
        if let Some(why) = &writer.broken {
            return Err(Error::Io {
                what: "append to",
                path: self.dir.join(LOG_FILE),
                source: std::io::Error::other(why.clone()),
            }
            .into());
        }
        let part_events = limits.part_events.clamp(1, HEAD_CAP);
        if self.state.read().data.head_events() >= HEAD_CAP && !self.seal(&mut writer, part_events)
        {
            let why = writer.seal_error.clone().unwrap_or_default();
            return Err(Error::Io {
                what: "append to",
                path: self.dir.join(LOG_FILE),
                source: std::io::Error::other(format!(
                    "the collection holds {HEAD_CAP} events that cannot be sealed into a part ({why}); it takes more once they can"
                )),
            }
            .into());
        }
        let schema = self.schema();
        let mut refused: Vec<(usize, Vec<EventError>)> = Vec::new();
        let mut accepted: Vec<Entry<'_>> = Vec::with_capacity(request.events.len());
        {
            let state = self.state.read();
            // Inferences accepted earlier in this request: their place in `accepted`, by id.
            let mut pending: HashTable<usize> = HashTable::new();
            let hasher = foldhash::fast::FixedState::default();
            let mut checker = event::Checker::new(&schema);
            for (index, data) in request.events.iter().enumerate() {
                let checked = match checker.check(data, &request.project_id, now, limits) {
                    Ok(checked) => checked,
                    Err(errors) => {
                        refused.push((index, errors));
                        continue;
                    }
                };
                let mut inference = checked.inference;
                if let Some(new) = &inference {
                    let hash = hasher.hash_one(&*new.id);
                    let stored = state
                        .data
                        .find(&new.id)
                        .map(|row| state.data.same(row, new));
                    let earlier = pending
                        .find(hash, |&at| accepted[at].inference_id() == Some(&*new.id))
                        .map(|&at| matches!(&accepted[at], Entry::Inference(e) if e == new));
                    let message = match (stored, earlier) {
                        // Resent unchanged: a retry, accepted and not stored again.
                        (Some(true), _) | (None, Some(true)) => String::new(),
                        (Some(false), _) => format!(
                            "a different inference with id {:?} is stored already; an inference cannot be changed (resending the same one is fine)",
                            new.id
                        ),
                        (None, Some(false)) => format!(
                            "a different inference with id {:?} comes earlier in this request; an inference cannot be changed",
                            new.id
                        ),
                        (None, None) => {
                            pending.insert_unique(hash, accepted.len(), |&at| {
                                hasher.hash_one(accepted[at].inference_id().unwrap_or_default())
                            });
                            String::new()
                        }
                    };
                    if !message.is_empty() {
                        refused.push((
                            index,
                            vec![EventError {
                                error_type: ErrorType::DuplicateId,
                                column: schema.id_column.to_string(),
                                message,
                            }],
                        ));
                        continue;
                    }
                    if stored.is_some() || earlier.is_some() {
                        inference = None;
                    }
                }
                accepted.extend(inference.map(Entry::Inference));
                accepted.extend(checked.label.map(Entry::Label));
            }
        }
        if !accepted.is_empty() {
            before_log(&schema, &accepted)?;
            writer.log.append(&accepted)?;
            let mut state = self.state.write();
            for entry in accepted {
                state.data.apply(entry);
            }
            let mut published = self.published.lock();
            published
                .current
                .offsets
                .extend(writer.log.offsets().last());
            published.current.end = writer.log.len();
            drop(published);
            let head = state.data.head_events();
            let text = state.data.head_text_bytes();
            drop(state);
            self.changed.notify_all();
            if head >= writer.seal_at.unwrap_or(part_events) || text >= HEAD_TEXT_CAP {
                self.seal(&mut writer, part_events);
            }
        }
        Ok(event::response(request.events.len(), &refused))
    }

    /// The cursor of the newest stored ingest request: how many requests stored events.
    pub fn cursor(&self) -> u64 {
        self.published.lock().cursor()
    }

    /// Seals the head into a part, then moves the log aside (kept for subscribers until the
    /// next seal) and starts an empty one. A part that cannot be written is tried again
    /// `part_events` later (the events stay in memory and in the log); a log that cannot be
    /// moved aside stops appends until a restart, which finds the records in the part.
    fn seal(&self, writer: &mut Writer, part_events: usize) -> bool {
        let schema = self.schema();
        let parts_dir = self.dir.join(PARTS_DIR);
        let cursor = writer.log.cursor();
        let started = std::time::Instant::now();
        let written = (|| {
            if !parts_dir.exists() {
                fs::create_dir_all(&parts_dir).map_err(Error::io("create", &parts_dir))?;
                sync_dir(&self.dir)?;
            }
            let state = self.state.read();
            part::write(
                &parts_dir,
                writer.next_part,
                &state.data.seal_input(),
                &schema,
                cursor,
            )
        })();
        let part = match written {
            Ok(part) => part,
            Err(e) => {
                let head = self.state.read().data.head_events();
                tracing::warn!(collection = %self.name, error = %e, "cannot seal events into a part; they stay in memory and in the log");
                writer.seal_at = Some((head + part_events).min(HEAD_CAP));
                writer.seal_error = Some(e.to_string());
                return false;
            }
        };
        tracing::info!(
            collection = %self.name,
            inferences = part.rows(),
            labels = part.labels(),
            bytes = part.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sealed the head into a part"
        );
        writer.next_part += 1;
        writer.seal_at = None;
        writer.seal_error = None;
        self.state.write().data.sealed(Arc::new(part), &schema);
        // Under the lock readers of the log take, so that none reads a file moved under it.
        let mut published = self.published.lock();
        let (log_path, prev_path) = (self.dir.join(LOG_FILE), self.dir.join(PREV_LOG_FILE));
        let moved = fs::rename(&log_path, &prev_path).map_err(Error::io("move aside", &log_path));
        if moved.is_ok() {
            // Whatever happens next, the records sealed are in the log moved aside.
            published.prev = Some(Segment::of(&writer.log));
            published.base = cursor;
            published.current = Segment {
                base: cursor,
                offsets: Vec::new(),
                end: 0,
            };
        }
        let created = moved.and_then(|()| {
            let log = Log::create(&log_path, cursor)?;
            sync_dir(&self.dir)?;
            Ok(log)
        });
        match created {
            Ok(log) => {
                writer.log = log;
                published.current = Segment::of(&writer.log);
            }
            Err(e) => {
                tracing::error!(collection = %self.name, error = %e, "cannot start a new event log after a seal; appends are refused until a restart");
                writer.broken = Some(format!(
                    "the event log could not be replaced after a seal ({e}); restart the server"
                ));
            }
        }
        true
    }

    /// Whether the collection was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits up to `timeout` for a request stored after cursor `after`, or the collection's
    /// deletion; returns the newest cursor.
    pub fn wait_after(&self, after: u64, timeout: std::time::Duration) -> u64 {
        let mut published = self.published.lock();
        if published.cursor() <= after && !self.is_deleted() {
            self.changed.wait_for(&mut published, timeout);
        }
        published.cursor()
    }

    /// The inferences from `since` on, oldest first, as events with the columns of the label
    /// each joins with; and the cursor they are as of. More than `limit` is an error.
    pub fn history(&self, since: i64, limit: usize) -> Result<(u64, Vec<LiveEvent>)> {
        let state = self.state.read();
        let cursor = self.published.lock().cursor();
        let (schema, data) = (&state.schema, &state.data);
        let needs = Needs {
            text: true,
            tags: true,
            slots: (0..schema.row_columns.len()).collect(),
        };
        let labels = data.label_reader(&(0..schema.label_columns.len()).collect::<Vec<_>>())?;
        let mut events = Vec::new();
        for chunk in data.chunks(&needs, since, i64::MAX) {
            let (first, rows) = chunk?;
            for row in rows.select(since, i64::MAX, None) {
                if events.len() == limit {
                    return Err(Error::Invalid(format!(
                        "more than {limit} inferences since the requested time; start later"
                    )));
                }
                let mut columns = BTreeMap::new();
                for (slot, column) in schema.row_columns.iter().enumerate() {
                    if let Some(v) = rows.value(slot, row) {
                        columns.insert(column.name.to_string(), live_value(v));
                    }
                }
                if let Some(at) = data.label_of(first + row) {
                    for (slot, column) in schema.label_columns.iter().enumerate() {
                        if let Some(v) = labels.value(slot, at) {
                            columns.insert(column.name.to_string(), live_value(v));
                        }
                    }
                }
                events.push((
                    first + row,
                    LiveEvent {
                        kind: EventKind::Inference,
                        id: rows.id(row).to_owned(),
                        timestamp: Some(rows.ts[row]),
                        project: Some(rows.project(row).to_owned()),
                        tags: rows.tags(row).map(str::to_owned).collect(),
                        columns,
                    },
                ));
            }
        }
        events.sort_by_key(|(row, e)| (e.timestamp, *row));
        Ok((cursor, events.into_iter().map(|(_, e)| e).collect()))
    }

    /// The events of the requests stored after cursor `after`, at most `max` requests, each
    /// request's with its cursor; read back from the log, so a cursor from before a restart
    /// resumes exactly. The log of the events sealed last is kept too; a cursor older than
    /// that is refused, naming the oldest that can be resumed from.
    pub fn events_after(&self, after: u64, max: usize) -> Result<Vec<(u64, Vec<LiveEvent>)>> {
        // Held while reading, so that a seal cannot move the log underneath.
        let published = self.published.lock();
        let (segment, path) = if after >= published.base {
            (&published.current, self.dir.join(LOG_FILE))
        } else {
            match &published.prev {
                Some(prev) if after >= prev.base => (prev, self.dir.join(PREV_LOG_FILE)),
                _ => {
                    let oldest = published.prev.as_ref().map_or(published.base, |p| p.base);
                    return Err(Error::Invalid(format!(
                        "cursor {after} is older than the events kept for resuming (from cursor {oldest}); the events before are sealed into parts: subscribe with `since` instead"
                    )));
                }
            }
        };
        let first = usize::try_from(after - segment.base).unwrap_or(usize::MAX);
        let Some(&from) = segment.offsets.get(first) else {
            return Ok(Vec::new());
        };
        let last = first.saturating_add(max).min(segment.offsets.len());
        let to = segment.offsets.get(last).copied().unwrap_or(segment.end);
        let records = read_records(&path, from, to)?;
        drop(published);
        let schema = self.schema();
        Ok(records
            .into_iter()
            .enumerate()
            .map(|(i, entries)| {
                let events = entries
                    .into_iter()
                    .map(|e| entry_event(&schema, e))
                    .collect();
                (after + i as u64 + 1, events)
            })
            .collect())
    }

    /// The inferences in `query`'s range (and with its tag), oldest first, joined with their
    /// labels.
    ///
    /// At most [`crate::MAX_ROWS`] rows: a larger `limit`, or more matching rows without one,
    /// is refused naming the limit. `proceed` is asked before each part or log read.
    pub fn query(&self, query: &EventsQuery, proceed: crate::Proceed<'_>) -> Result<EventRows> {
        if let Some(limit) = query.limit.filter(|l| *l > crate::MAX_ROWS) {
            return Err(Error::Invalid(format!(
                "limit {limit} is more than the {} rows one answer holds; page with start and end",
                crate::MAX_ROWS
            )));
        }
        let state = self.state.read();
        let (schema, data) = (&state.schema, &state.data);
        let mut columns = vec![
            RowColumn {
                name: schema.id_column.to_string(),
                role: ColumnRole::Id,
                column_type: None,
            },
            RowColumn {
                name: schema.timestamp_column.to_string(),
                role: ColumnRole::Timestamp,
                column_type: None,
            },
        ];
        if let Some(tags) = &schema.tags_column {
            columns.push(RowColumn {
                name: tags.to_string(),
                role: ColumnRole::Tags,
                column_type: None,
            });
        }
        columns.push(RowColumn {
            name: "project_id".to_owned(),
            role: ColumnRole::Project,
            column_type: None,
        });
        let order = column_order(schema);
        for &(label, slot) in &order {
            let column = if label {
                &schema.label_columns[slot]
            } else {
                &schema.row_columns[slot]
            };
            columns.push(RowColumn {
                name: column.name.to_string(),
                role: column.role,
                column_type: Some(column.column_type),
            });
        }
        let (start, end) = (
            query.start.unwrap_or(i64::MIN),
            query.end.unwrap_or(i64::MAX),
        );
        // First the rows, by times (and tags) alone; then their values, from the parts
        // that hold them.
        let tag = query.tag.as_deref();
        let select = Needs {
            tags: tag.is_some(),
            ..Needs::default()
        };
        let sources = data.sources(start, end);
        // Without a limit, one row beyond the most an answer holds tells a read of too many.
        let limit = query.limit.unwrap_or(crate::MAX_ROWS + 1);
        // (time, row, source)
        let mut chosen: Vec<(i64, usize, usize)> = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            proceed().map_err(Error::Stopped)?;
            let (first, chunk) = data.read(source, &select)?;
            for row in chunk.select(start, end, tag) {
                chosen.push((chunk.ts[row], first + row, i));
            }
            // Keep at most `limit` of the oldest as parts are read.
            if chosen.len() > limit.saturating_mul(2).max(1 << 16) {
                chosen.sort_unstable();
                chosen.truncate(limit);
            }
        }
        chosen.sort_unstable();
        chosen.truncate(limit);
        if chosen.len() > crate::MAX_ROWS {
            return Err(Error::Invalid(format!(
                "more than {} events match, the most one answer holds; give a limit or a \
                 narrower start and end",
                crate::MAX_ROWS
            )));
        }
        let needs = Needs {
            text: true,
            tags: true,
            slots: (0..schema.row_columns.len()).collect(),
        };
        let labels = data.label_reader(&(0..schema.label_columns.len()).collect::<Vec<_>>())?;
        let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); chosen.len()];
        let mut by_source: Vec<Vec<(usize, usize)>> = vec![Vec::new(); sources.len()];
        for (at, &(_, row, source)) in chosen.iter().enumerate() {
            by_source[source].push((at, row));
        }
        for (source, wanted) in sources.iter().zip(by_source) {
            if wanted.is_empty() {
                continue;
            }
            proceed().map_err(Error::Stopped)?;
            let (first, chunk) = data.read(source, &needs)?;
            for (at, global) in wanted {
                let row = global - first;
                let mut cells = Vec::with_capacity(columns.len());
                cells.push(Cell::String(chunk.id(row).to_owned()));
                cells.push(Cell::Int(chunk.ts[row]));
                if schema.tags_column.is_some() {
                    cells.push(Cell::List(chunk.tags(row).map(str::to_owned).collect()));
                }
                cells.push(Cell::String(chunk.project(row).to_owned()));
                let label = data.label_of(global);
                for &(is_label, slot) in &order {
                    let cell = if is_label {
                        label.map(|at| labels.cell(slot, at)).unwrap_or(Cell::Null)
                    } else {
                        chunk.cell(slot, row)
                    };
                    cells.push(cell);
                }
                rows[at] = cells;
            }
        }
        Ok(EventRows { columns, rows })
    }

    /// Per window of `query.every`: the count, the mean of every numeric column, the share
    /// of inferences with a label, and accuracy or mean absolute error per label column.
    ///
    /// At most [`crate::MAX_WINDOWS`] windows; `proceed` is asked before each part or log read.
    pub fn stats(&self, query: &StatsQuery, proceed: crate::Proceed<'_>) -> Result<Stats> {
        let state = self.state.read();
        crate::stats::stats(&state.schema, &state.data, query, proceed)
    }
}

/// A stored value as subscriptions send it.
fn live_value(value: event::Value<'_>) -> LiveValue {
    match value {
        event::Value::Float(v) if v.is_finite() => LiveValue::Float(v),
        event::Value::Float(v) => LiveValue::Text(v.to_string()),
        event::Value::Int(v) => LiveValue::Int(v),
        event::Value::Str(v) => LiveValue::Text(v.into_owned()),
        event::Value::Bool(v) => LiveValue::Bool(v),
    }
}

/// A logged entry as subscriptions send it, its columns named by `schema`.
fn entry_event(schema: &Schema, entry: Entry<'_>) -> LiveEvent {
    let named = |columns: &[crate::schema::Column], values: Vec<Option<event::Value<'_>>>| {
        values
            .into_iter()
            .zip(columns)
            .filter_map(|(v, c)| Some((c.name.to_string(), live_value(v?))))
            .collect()
    };
    match entry {
        Entry::Inference(e) => LiveEvent {
            kind: EventKind::Inference,
            id: e.id.into_owned(),
            timestamp: Some(e.ts),
            project: Some(e.project.into_owned()),
            tags: e.tags.into_iter().map(Cow::into_owned).collect(),
            columns: named(&schema.row_columns, e.values),
        },
        Entry::Label(l) => LiveEvent {
            kind: EventKind::Label,
            id: l.id.into_owned(),
            timestamp: None,
            project: None,
            tags: Vec::new(),
            columns: named(&schema.label_columns, l.values),
        },
    }
}

/// The order of the value columns in a read: inputs, predictions, extras, labels, each in
/// slot order. `(is_label, slot)`.
fn column_order(schema: &Schema) -> Vec<(bool, usize)> {
    let mut order = Vec::new();
    for role in [ColumnRole::Input, ColumnRole::Prediction, ColumnRole::Extra] {
        order.extend(
            schema
                .row_columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.role == role)
                .map(|(slot, _)| (false, slot)),
        );
    }
    order.extend((0..schema.label_columns.len()).map(|slot| (true, slot)));
    order
}

/// The parts in `dir`, in order, each checked to start where the one before ends; and the
/// sequence number of the next. Unfinished writes (`.tmp`) are removed.
fn open_parts(dir: &Path) -> Result<(Vec<Arc<Part>>, u64)> {
    let mut found = Vec::new();
    if !dir.exists() {
        return Ok((Vec::new(), 1));
    }
    for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let path = entry.map_err(Error::io("list", dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".tmp") {
            fs::remove_file(&path).map_err(Error::io("remove", &path))?;
        } else if let Some(sequence) = name
            .strip_suffix(".part")
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push((sequence, path));
        }
    }
    found.sort();
    let next = found.last().map_or(1, |(s, _)| s + 1);
    let (mut rows, mut labels, mut cursor) = (0, 0, 0);
    let mut parts = Vec::new();
    for (_, path) in found {
        let part = Part::open(&path)?;
        let key = parts.first().map(|p: &Arc<Part>| p.key());
        if part.first_row() != rows
            || part.first_label() != labels
            || part.cursor() < cursor
            || key.is_some_and(|k| k != part.key())
        {
            return Err(Error::Corrupt {
                path,
                offset: 0,
                detail: format!(
                    "the part does not follow the one before (rows from {}, labels from {}, records to {}; expected rows from {rows}, labels from {labels}, records from {cursor}, the same key)",
                    part.first_row(),
                    part.first_label(),
                    part.cursor()
                ),
            });
        }
        rows += part.rows();
        labels += part.labels();
        cursor = part.cursor();
        parts.push(Arc::new(part));
    }
    Ok((parts, next))
}

fn write_schema(dir: &Path, name: &str, schema: &Schema) -> Result<()> {
    let file = SchemaFile {
        name: name.to_owned(),
        schema: schema.to_stored(),
    };
    let bytes = serde_json::to_vec_pretty(&file).expect("a schema serializes");
    let tmp = dir.join(format!("{SCHEMA_FILE}.tmp"));
    let path = dir.join(SCHEMA_FILE);
    {
        use std::io::Write;
        let mut f = fs::File::create(&tmp).map_err(Error::io("create", &tmp))?;
        f.write_all(&bytes).map_err(Error::io("write", &tmp))?;
        f.sync_all().map_err(Error::io("sync", &tmp))?;
    }
    fs::rename(&tmp, &path).map_err(Error::io("replace", &path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync", dir))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let entry = entry.map_err(Error::io("list", dir))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::collections::{ColumnSpec, ColumnType};

    #[test]
    fn a_handle_taken_before_a_delete_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let collections = Collections::open(dir.path(), Limits::default()).unwrap();
        let spec = CollectionSchema {
            input_columns: vec![ColumnSpec {
                name: "x".into(),
                column_type: ColumnType::Float,
            }],
            ..CollectionSchema::default()
        };
        let org = OrgId(7);
        let handle = collections.create(org, "m", &spec).unwrap();
        let body = br#"{"model_id": "m", "events": [{"data": {"id": "a", "ts": "2024-01-01T00:00:00Z", "x": 1}}]}"#;
        let request = crate::request::decode_request(body).unwrap();
        let now = 1_767_225_600_000_000_000;
        assert_eq!(
            handle
                .ingest(&request, now, Limits::default())
                .unwrap()
                .num_errors,
            0
        );
        collections.delete(org, "m").unwrap();
        let err = handle.ingest(&request, now, Limits::default()).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(handle.update_schema(&spec).is_err());
        assert!(!dir.path().join("org-0000000000000007/m").exists());
        // Reopened, nothing of it remains, and the name can be taken again.
        drop(collections);
        let collections = Collections::open(dir.path(), Limits::default()).unwrap();
        assert!(collections.list(org).is_empty());
        collections.create(org, "m", &spec).unwrap();
    }

    fn churn_spec() -> CollectionSchema {
        let col = |name: &str, column_type| ColumnSpec {
            name: name.into(),
            column_type,
        };
        CollectionSchema {
            tags_column: Some("tags".into()),
            input_columns: vec![
                col("f1", ColumnType::Float),
                col("f2", ColumnType::Int),
                col("f3", ColumnType::String),
                col("f4", ColumnType::Bool),
            ],
            prediction_columns: vec![
                col("proba", ColumnType::Float),
                col("prediction", ColumnType::Int),
            ],
            label_columns: vec![col("actual", ColumnType::Int)],
            extra_columns: vec![col("e1", ColumnType::String)],
            ..CollectionSchema::default()
        }
    }

    /// A request of inferences (some resent, some changed, some missing a column) and labels
    /// (some before their inference, some replacing an earlier one), from `seed`.
    fn request_body(seed: &mut u64, n: usize) -> Vec<u8> {
        let mut next = |m: u64| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) % m
        };
        let mut events = Vec::new();
        for _ in 0..n {
            let id = next(90);
            let event = if next(3) == 0 {
                serde_json::json!({"id": format!("e{id}"), "actual": next(2)})
            } else {
                let changed = next(10) == 0;
                let mut data = serde_json::json!({
                    "id": format!("e{id}"),
                    "ts": format!("2024-05-01T{:02}:{:02}:00Z", id % 24, id % 60),
                    "tags": [format!("t{}", id % 3)],
                    "f1": id as f64 / 4.0 + if changed { 1.0 } else { 0.0 },
                    "f2": id % 7,
                    "f3": format!("c{}", id % 5),
                    "f4": id % 2 == 0,
                    "proba": 0.5,
                    "prediction": id % 2,
                });
                if id % 4 == 0 {
                    data["e1"] = serde_json::json!("x");
                }
                if next(20) == 0 {
                    data.as_object_mut().unwrap().remove("f2");
                }
                data
            };
            events.push(serde_json::json!({"data": event}));
        }
        serde_json::to_vec(
            &serde_json::json!({"project_id": "p", "model_id": "m", "events": events}),
        )
        .unwrap()
    }

    fn everything(c: &Collection) -> (sextant_api::collections::Collection, Vec<EventRows>, Stats) {
        let hour = 3_600_000_000_000;
        let may_1 = 1_714_521_600_000_000_000;
        let rows = [
            EventsQuery::default(),
            EventsQuery {
                tag: Some("t1".into()),
                limit: Some(7),
                ..EventsQuery::default()
            },
            EventsQuery {
                start: Some(may_1 + 5 * hour),
                end: Some(may_1 + 9 * hour),
                limit: Some(5),
                ..EventsQuery::default()
            },
            EventsQuery {
                tag: Some("none".into()),
                ..EventsQuery::default()
            },
        ]
        .iter()
        .map(|q| c.query(q, &|| Ok(())).unwrap())
        .collect();
        let stats = c
            .stats(
                &StatsQuery {
                    every: 3_600_000_000_000,
                    start: None,
                    end: None,
                },
                &|| Ok(()),
            )
            .unwrap();
        (c.describe(), rows, stats)
    }

    #[test]
    fn sealed_parts_answer_as_the_head_did_across_restarts() {
        let (one, many) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let org = OrgId(1);
        let open = |dir: &Path, part_events| {
            let limits = Limits {
                part_events,
                ..Limits::default()
            };
            (Collections::open(dir, limits).unwrap(), limits)
        };
        let (mut head_only, head_limits) = open(one.path(), 1_000_000);
        let (mut sealing, seal_limits) = open(many.path(), 7);
        head_only.create(org, "m", &churn_spec()).unwrap();
        sealing.create(org, "m", &churn_spec()).unwrap();
        let now = 1_767_225_600_000_000_000;
        let mut seed = 7;
        for round in 0..3 {
            for n in [1, 5, 3, 9, 2, 4, 8, 1, 6, 3, 12, 2] {
                let body = request_body(&mut seed, n);
                let request = crate::request::decode_request(&body).unwrap();
                let a = head_only
                    .get(org, "m")
                    .unwrap()
                    .ingest(&request, now, head_limits)
                    .unwrap();
                let b = sealing
                    .get(org, "m")
                    .unwrap()
                    .ingest(&request, now, seal_limits)
                    .unwrap();
                assert_eq!(a, b, "round {round}: the same answer");
            }
            let (a, b) = (
                head_only.get(org, "m").unwrap(),
                sealing.get(org, "m").unwrap(),
            );
            assert_eq!(everything(&a), everything(&b), "round {round}");
            assert_eq!(a.cursor(), b.cursor());
            assert!(
                b.state.read().data.parts().len() > round,
                "parts were sealed"
            );
            // Subscribers resume from the log before the last seal, not from older ones.
            let oldest = b.published.lock().prev.as_ref().unwrap().base;
            let all_after = |c: &Collection| {
                let (mut at, mut all) = (oldest, Vec::new());
                loop {
                    let records = c.events_after(at, 4).unwrap();
                    let Some(&(last, _)) = records.last() else {
                        return all;
                    };
                    at = last;
                    all.extend(records);
                }
            };
            assert_eq!(all_after(&b), all_after(&a));
            assert_eq!(all_after(&b).last().unwrap().0, b.cursor());
            if oldest > 0 {
                let err = b.events_after(oldest - 1, 10).unwrap_err().to_string();
                assert!(err.contains("subscribe with `since`"), "{err}");
            }
            let since = 1_714_550_400_000_000_000; // 2024-05-01T08:00:00Z
            assert_eq!(
                a.history(since, 1000).unwrap(),
                b.history(since, 1000).unwrap()
            );
            drop((a, b));
            // Reopened, from parts and the log after them.
            drop((head_only, sealing));
            (head_only, _) = open(one.path(), 1_000_000);
            (sealing, _) = open(many.path(), 7);
            let (a, b) = (
                head_only.get(org, "m").unwrap(),
                sealing.get(org, "m").unwrap(),
            );
            assert_eq!(everything(&a), everything(&b), "round {round}, reopened");
        }
        // Columns added later read back empty for sealed events.
        let mut spec = churn_spec();
        spec.extra_columns.push(ColumnSpec {
            name: "e2".into(),
            column_type: ColumnType::Float,
        });
        for c in [&head_only, &sealing] {
            c.get(org, "m").unwrap().update_schema(&spec).unwrap();
        }
        let (a, b) = (
            head_only.get(org, "m").unwrap(),
            sealing.get(org, "m").unwrap(),
        );
        assert_eq!(everything(&a), everything(&b), "after a column was added");
    }

    #[test]
    fn a_crash_between_sealing_and_replacing_the_log_replays_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let org = OrgId(1);
        let limits = Limits {
            part_events: 2,
            ..Limits::default()
        };
        let collections = Collections::open(dir.path(), limits).unwrap();
        let c = collections.create(org, "m", &churn_spec()).unwrap();
        let mut seed = 3;
        for n in [3, 3] {
            let body = request_body(&mut seed, n);
            c.ingest(
                &crate::request::decode_request(&body).unwrap(),
                1_767_225_600_000_000_000,
                limits,
            )
            .unwrap();
        }
        let before = everything(&c);
        assert!(
            c.published.lock().current.offsets.is_empty(),
            "the last request sealed"
        );
        let coll_dir = dir.path().join("org-0000000000000001/m");
        drop((c, collections));
        // As if the server stopped after the part was written and before the log moved
        // aside: the log still holds the sealed records.
        fs::rename(coll_dir.join(PREV_LOG_FILE), coll_dir.join(LOG_FILE)).unwrap();
        let collections = Collections::open(dir.path(), limits).unwrap();
        assert_eq!(everything(&collections.get(org, "m").unwrap()), before);
        drop(collections);
        // And after it moved aside, before the new one was made.
        fs::rename(coll_dir.join(LOG_FILE), coll_dir.join(PREV_LOG_FILE)).unwrap();
        let collections = Collections::open(dir.path(), limits).unwrap();
        assert_eq!(everything(&collections.get(org, "m").unwrap()), before);
        // A log lost otherwise (no log moved aside ends where the parts do) is damage.
        drop(collections);
        let saved = fs::read(coll_dir.join(LOG_FILE)).unwrap();
        fs::remove_file(coll_dir.join(LOG_FILE)).unwrap();
        fs::remove_file(coll_dir.join(PREV_LOG_FILE)).unwrap();
        let err = Collections::open(dir.path(), limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the event log is missing"), "{err}");
        fs::write(coll_dir.join(LOG_FILE), saved).unwrap();
        assert_eq!(
            everything(
                &Collections::open(dir.path(), limits)
                    .unwrap()
                    .get(org, "m")
                    .unwrap()
            ),
            before
        );
        // A damaged part is named with its offset.
        let part = fs::read_dir(coll_dir.join(PARTS_DIR))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = fs::read(&part).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&part, &bytes).unwrap();
        let err = Collections::open(dir.path(), limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains(".part is damaged at byte"), "{err}");
    }
}
