//! Remote files (attachments) and annotation logs.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use super::query::{Conditions, Order, json_column, list_page, new_id, to_json};
use crate::error::{Error, Result};
use crate::file_types::{
    AnnotationLog, AnnotationLogEntry, FileEntity, NewRemoteFile, RemoteFile, RemoteFileFilter,
};
use crate::types::Page;

const FILE_COLUMNS: &str = "seq, id, organization_id, entity_type, entity_id, file_name, \
     mime_type, content_encoding, size, sha256, description, metadata, created_by, modified_by, \
     created_at, modified_at";

fn read_file(row: &Row<'_>) -> rusqlite::Result<RemoteFile> {
    let entity: String = row.get(3)?;
    let sha: Vec<u8> = row.get(9)?;
    let corrupt = |index, what: String| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(Error::Corrupt(what)),
        )
    };
    let metadata: Option<String> = row.get(11)?;
    Ok(RemoteFile {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        entity_type: FileEntity::parse(&entity)
            .ok_or_else(|| corrupt(3, format!("remote file entity type {entity:?}")))?,
        entity_id: row.get(4)?,
        file_name: row.get(5)?,
        mime_type: row.get(6)?,
        content_encoding: row.get(7)?,
        size: row.get::<_, i64>(8)? as u64,
        sha256: sha
            .try_into()
            .map_err(|_| corrupt(9, "remote file checksum".to_owned()))?,
        description: row.get(10)?,
        metadata: match metadata {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    11,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?),
        },
        created_by: row.get(12)?,
        modified_by: row.get(13)?,
        created_at: row.get(14)?,
        modified_at: row.get(15)?,
    })
}

/// Fails with `NotFound` unless the entity exists in the organization.
fn check_entity(conn: &Connection, org_id: &str, entity: FileEntity, id: &str) -> Result<()> {
    let (table, what) = match entity {
        FileEntity::Run => ("runs", "run"),
        FileEntity::Annotation => ("annotations", "annotation"),
        FileEntity::AnnotationLog => ("annotation_logs", "annotation log"),
    };
    let found: Option<i64> = conn
        .query_row(
            &format!("SELECT 1 FROM {table} WHERE organization_id = ?1 AND id = ?2"),
            [org_id, id],
            |row| row.get(0),
        )
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::not_found(what, id)),
    }
}

pub(super) fn remote_files_bytes(conn: &Connection, org_id: &str) -> Result<u64> {
    let bytes: i64 = conn.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM remote_files WHERE organization_id = ?1",
        [org_id],
        |row| row.get(0),
    )?;
    Ok(bytes as u64)
}

pub(super) fn create_remote_file(
    conn: &Connection,
    org_id: &str,
    file: NewRemoteFile,
    org_max_bytes: u64,
    now: Timestamp,
) -> Result<RemoteFile> {
    if file.file_name.trim().is_empty() {
        return Err(Error::InvalidInput(
            "a file needs a name (the upload's file name was empty)".to_owned(),
        ));
    }
    check_entity(conn, org_id, file.entity_type, &file.entity_id)?;
    let used = remote_files_bytes(conn, org_id)?;
    if used.saturating_add(file.size) > org_max_bytes {
        return Err(Error::LimitExceeded(format!(
            "file {:?} ({} bytes) would bring the organization's stored files to {} bytes, past \
             its limit of {org_max_bytes} bytes; delete attachments or raise the limit",
            file.file_name,
            file.size,
            used.saturating_add(file.size)
        )));
    }
    let metadata = file.metadata.as_ref().map(to_json).transpose()?;
    conn.execute(
        "INSERT INTO remote_files (id, organization_id, entity_type, entity_id, file_name,
             mime_type, content_encoding, size, sha256, description, metadata, created_by,
             modified_by, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?13)",
        params![
            file.id,
            org_id,
            file.entity_type.as_str(),
            file.entity_id,
            file.file_name,
            file.mime_type,
            file.content_encoding,
            file.size as i64,
            file.sha256.as_slice(),
            file.description,
            metadata,
            file.created_by,
            now
        ],
    )?;
    get_remote_file(conn, org_id, &file.id)
}

pub(super) fn get_remote_file(conn: &Connection, org_id: &str, id: &str) -> Result<RemoteFile> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM remote_files WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, id], read_file)
    .optional()?
    .ok_or_else(|| Error::not_found("remote file", id))
}

pub(super) fn list_remote_files(
    conn: &Connection,
    org_id: &str,
    filter: &RemoteFileFilter,
    page: Page,
) -> Result<(Vec<RemoteFile>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("entity_type", &filter.entity_types)?;
    conditions.any_of("entity_id", &filter.entity_ids)?;
    conditions.any_of("file_name", &filter.file_names)?;
    list_page(
        conn,
        &format!("SELECT {FILE_COLUMNS} FROM remote_files"),
        conditions,
        &page,
        Order::Created,
        read_file,
    )
}

pub(super) fn update_remote_file(
    conn: &Connection,
    org_id: &str,
    id: &str,
    description: Option<String>,
    by: &str,
    now: Timestamp,
) -> Result<RemoteFile> {
    get_remote_file(conn, org_id, id)?;
    conn.execute(
        "UPDATE remote_files SET description = ?3, modified_by = ?4, modified_at = ?5
         WHERE organization_id = ?1 AND id = ?2",
        params![org_id, id, description, by, now],
    )?;
    get_remote_file(conn, org_id, id)
}

/// Deletes the files, all or none, returning them so their blobs can go.
pub(super) fn delete_remote_files(
    conn: &Connection,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<RemoteFile>> {
    let mut deleted = Vec::with_capacity(ids.len());
    for id in ids {
        deleted.push(get_remote_file(conn, org_id, id)?);
        conn.execute(
            "DELETE FROM remote_files WHERE organization_id = ?1 AND id = ?2",
            [org_id, id],
        )?;
    }
    Ok(deleted)
}

/// Deletes the files attached to one entity, returning them.
pub(super) fn delete_attached(
    conn: &Connection,
    org_id: &str,
    entity: FileEntity,
    entity_id: &str,
) -> Result<Vec<RemoteFile>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM remote_files
         WHERE organization_id = ?1 AND entity_type = ?2 AND entity_id = ?3"
    ))?;
    let files = statement
        .query_map(params![org_id, entity.as_str(), entity_id], read_file)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    conn.execute(
        "DELETE FROM remote_files
         WHERE organization_id = ?1 AND entity_type = ?2 AND entity_id = ?3",
        params![org_id, entity.as_str(), entity_id],
    )?;
    Ok(files)
}

pub(super) fn remote_file_keys(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut statement = conn.prepare("SELECT organization_id, id FROM remote_files")?;
    let keys = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(keys)
}

// ---- annotation logs ----

const LOG_COLUMNS: &str =
    "seq, id, organization_id, annotation_id, entry, created_by, created_at, modified_at";

fn read_log(row: &Row<'_>) -> rusqlite::Result<AnnotationLog> {
    Ok(AnnotationLog {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        annotation_id: row.get(3)?,
        entry: json_column(row, 4)?,
        created_by: row.get(5)?,
        created_at: row.get(6)?,
        modified_at: row.get(7)?,
    })
}

fn kind(entry: &AnnotationLogEntry) -> &'static str {
    match entry {
        AnnotationLogEntry::Comment { .. } => "comment",
        AnnotationLogEntry::StateUpdate { .. } => "state_update",
        AnnotationLogEntry::Assigned { .. } => "assigned",
    }
}

pub(super) fn create_annotation_log(
    conn: &Connection,
    org_id: &str,
    annotation_id: &str,
    entry: &AnnotationLogEntry,
    by: &str,
    now: Timestamp,
) -> Result<AnnotationLog> {
    check_entity(conn, org_id, FileEntity::Annotation, annotation_id)?;
    let id = new_id();
    conn.execute(
        "INSERT INTO annotation_logs (id, organization_id, annotation_id, kind, entry,
             created_by, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            id,
            org_id,
            annotation_id,
            kind(entry),
            to_json(entry)?,
            by,
            now
        ],
    )?;
    get_annotation_log(conn, org_id, &id)
}

fn get_annotation_log(conn: &Connection, org_id: &str, id: &str) -> Result<AnnotationLog> {
    conn.prepare_cached(&format!(
        "SELECT {LOG_COLUMNS} FROM annotation_logs WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, id], read_log)
    .optional()?
    .ok_or_else(|| Error::not_found("annotation log", id))
}

pub(super) fn list_annotation_logs(
    conn: &Connection,
    org_id: &str,
    annotation_id: &str,
    kinds: &Option<Vec<String>>,
    page: Page,
) -> Result<(Vec<AnnotationLog>, String)> {
    check_entity(conn, org_id, FileEntity::Annotation, annotation_id)?;
    let mut conditions = Conditions::organization(org_id);
    conditions.clause("annotation_id = ?", Value::Text(annotation_id.to_owned()));
    conditions.any_of("kind", kinds)?;
    list_page(
        conn,
        &format!("SELECT {LOG_COLUMNS} FROM annotation_logs"),
        conditions,
        &page,
        Order::Created,
        read_log,
    )
}

/// Deletes one log entry and its attachments, returning those.
pub(super) fn delete_annotation_log(
    conn: &Connection,
    org_id: &str,
    annotation_id: &str,
    log_id: &str,
) -> Result<Vec<RemoteFile>> {
    let log = get_annotation_log(conn, org_id, log_id)?;
    if log.annotation_id != annotation_id {
        return Err(Error::not_found(
            "annotation log",
            format!("{log_id} of annotation {annotation_id}"),
        ));
    }
    let files = delete_attached(conn, org_id, FileEntity::AnnotationLog, log_id)?;
    conn.execute(
        "DELETE FROM annotation_logs WHERE organization_id = ?1 AND id = ?2",
        [org_id, log_id],
    )?;
    Ok(files)
}

/// Deletes an annotation's log and every attachment of it and its log, returning those; run
/// as the annotation itself is deleted.
pub(super) fn delete_annotation_dependents(
    conn: &Connection,
    org_id: &str,
    annotation_id: &str,
) -> Result<Vec<RemoteFile>> {
    let mut files = delete_attached(conn, org_id, FileEntity::Annotation, annotation_id)?;
    let log_ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM annotation_logs WHERE organization_id = ?1 AND annotation_id = ?2",
        )?
        .query_map([org_id, annotation_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for log_id in log_ids {
        files.extend(delete_attached(
            conn,
            org_id,
            FileEntity::AnnotationLog,
            &log_id,
        )?);
    }
    conn.execute(
        "DELETE FROM annotation_logs WHERE organization_id = ?1 AND annotation_id = ?2",
        [org_id, annotation_id],
    )?;
    Ok(files)
}
