//! Stored calculated channels and their versions. Each change adds a version row; the channel
//! row points at the current one. Two views give a channel at its current version and at every
//! version in the same columns.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use super::query::{Conditions, Order, json_column, list_page, new_id, require_name, to_json};
use crate::calculated_types::{CalculatedChannel, CalculatedChannelDef, CalculatedChannelFilter};
use crate::error::{Error, Result};
use crate::rule_types::Archived;
use crate::types::Page;

const COLUMNS: &str = "seq, id, organization_id, client_key, version_id, version, def, \
     user_notes, change_message, archived_at, created_by, modified_by, created_at, modified_at";

fn read(row: &Row<'_>) -> rusqlite::Result<CalculatedChannel> {
    Ok(CalculatedChannel {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        client_key: row.get(3)?,
        version_id: row.get(4)?,
        version: row.get(5)?,
        def: json_column(row, 6)?,
        user_notes: row.get(7)?,
        change_message: row.get(8)?,
        archived_at: row.get(9)?,
        created_by: row.get(10)?,
        modified_by: row.get(11)?,
        created_at: row.get(12)?,
        modified_at: row.get(13)?,
    })
}

fn validate(def: &CalculatedChannelDef) -> Result<()> {
    require_name("calculated channel", &def.name)?;
    if def.expression.trim().is_empty() {
        return Err(Error::InvalidInput(format!(
            "calculated channel {:?} has an empty expression",
            def.name
        )));
    }
    for (reference, channel) in &def.references {
        if reference.is_empty() || channel.is_empty() {
            return Err(Error::InvalidInput(format!(
                "calculated channel {:?} has a channel reference {reference:?} → {channel:?} \
                 with an empty side",
                def.name
            )));
        }
    }
    Ok(())
}

/// Another calculated channel not archived with the same name, if any.
fn name_taken(conn: &Connection, org_id: &str, name: &str, except: &str) -> Result<bool> {
    let found: Option<String> = conn
        .query_row(
            "SELECT id FROM calculated_channels_current
             WHERE organization_id = ?1 AND name = ?2 AND archived_at IS NULL AND id != ?3",
            params![org_id, name, except],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

#[allow(clippy::too_many_arguments)]
fn add_version(
    conn: &Connection,
    org_id: &str,
    id: &str,
    version: u32,
    def: &CalculatedChannelDef,
    notes: &str,
    change: &str,
    by: &str,
    now: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO calculated_channel_versions (id, calculated_channel_id, organization_id,
             version, name, def, user_notes, change_message, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            new_id(),
            id,
            org_id,
            version,
            def.name,
            to_json(def)?,
            notes,
            change,
            by,
            now
        ],
    )?;
    Ok(())
}

pub(super) fn create(
    conn: &Connection,
    org_id: &str,
    client_key: Option<&str>,
    def: &CalculatedChannelDef,
    notes: &str,
    by: &str,
    now: Timestamp,
) -> Result<CalculatedChannel> {
    validate(def)?;
    let client_key = client_key.filter(|k| !k.is_empty());
    if let Some(key) = client_key
        && find_by_key(conn, org_id, key)?.is_some()
    {
        return Err(Error::already_exists(
            "calculated channel",
            format!("client key {key:?} is taken"),
        ));
    }
    if name_taken(conn, org_id, &def.name, "")? {
        return Err(Error::already_exists(
            "calculated channel",
            format!("name {:?} is taken", def.name),
        ));
    }
    super::keys::get_organization(conn, org_id)?;
    let id = new_id();
    conn.execute(
        "INSERT INTO calculated_channels (id, organization_id, client_key, current_version,
             created_by, created_at)
         VALUES (?1, ?2, ?3, 1, ?4, ?5)",
        params![id, org_id, client_key, by, now],
    )?;
    add_version(conn, org_id, &id, 1, def, notes, "created", by, now)?;
    get(conn, org_id, &id)
}

pub(super) fn get(conn: &Connection, org_id: &str, id: &str) -> Result<CalculatedChannel> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM calculated_channels_current WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, id], read)
    .optional()?
    .ok_or_else(|| Error::not_found("calculated channel", id))
}

pub(super) fn find_by_key(
    conn: &Connection,
    org_id: &str,
    client_key: &str,
) -> Result<Option<CalculatedChannel>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calculated_channels_current
             WHERE organization_id = ?1 AND client_key = ?2"
        ))?
        .query_row([org_id, client_key], read)
        .optional()?)
}

pub(super) fn get_version(
    conn: &Connection,
    org_id: &str,
    version_id: &str,
) -> Result<CalculatedChannel> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM calculated_channel_all_versions
         WHERE organization_id = ?1 AND version_id = ?2"
    ))?
    .query_row([org_id, version_id], read)
    .optional()?
    .ok_or_else(|| Error::not_found("calculated channel version", version_id))
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    filter: &CalculatedChannelFilter,
    page: Page,
) -> Result<(Vec<CalculatedChannel>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("client_key", &filter.client_keys)?;
    conditions.any_of("name", &filter.names)?;
    match filter.archived {
        Archived::Not => conditions.plain("archived_at IS NULL"),
        Archived::Only => conditions.plain("archived_at IS NOT NULL"),
        Archived::Either => {}
    }
    list_page(
        conn,
        &format!("SELECT {COLUMNS} FROM calculated_channels_current"),
        conditions,
        &page,
        Order::Created,
        read,
    )
}

pub(super) fn versions(
    conn: &Connection,
    org_id: &str,
    id: &str,
    page: Page,
) -> Result<(Vec<CalculatedChannel>, String)> {
    get(conn, org_id, id)?;
    let mut conditions = Conditions::organization(org_id);
    conditions.clause("id = ?", Value::Text(id.to_owned()));
    list_page(
        conn,
        &format!("SELECT {COLUMNS} FROM calculated_channel_all_versions"),
        conditions,
        &page,
        Order::NewestFirst,
        read,
    )
}

/// What changed between two declarations, for the version's change message.
fn changes(old: &CalculatedChannelDef, new: &CalculatedChannelDef) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if old.name != new.name {
        changed.push("name");
    }
    if old.description != new.description {
        changed.push("description");
    }
    if old.units != new.units {
        changed.push("units");
    }
    if old.expression != new.expression {
        changed.push("expression");
    }
    if old.references != new.references {
        changed.push("channel references");
    }
    if (old.all_assets, &old.asset_ids, &old.tag_names)
        != (new.all_assets, &new.asset_ids, &new.tag_names)
    {
        changed.push("assets");
    }
    changed
}

#[allow(clippy::too_many_arguments)]
pub(super) fn update(
    conn: &Connection,
    org_id: &str,
    id: &str,
    def: &CalculatedChannelDef,
    archived: Option<bool>,
    notes: &str,
    by: &str,
    now: Timestamp,
) -> Result<CalculatedChannel> {
    validate(def)?;
    let current = get(conn, org_id, id)?;
    let unarchived = match archived {
        Some(archived) => !archived,
        None => current.archived_at.is_none(),
    };
    if unarchived && name_taken(conn, org_id, &def.name, id)? {
        return Err(Error::already_exists(
            "calculated channel",
            format!("name {:?} is taken", def.name),
        ));
    }
    let mut changed = changes(&current.def, def);
    if let Some(archived) = archived
        && archived != current.archived_at.is_some()
    {
        conn.execute(
            "UPDATE calculated_channels SET archived_at = ?3 WHERE organization_id = ?1 AND id = ?2",
            params![org_id, id, archived.then_some(now)],
        )?;
        changed.push(if archived { "archived" } else { "unarchived" });
    }
    if changed.is_empty() {
        return Ok(current);
    }
    let version = current.version + 1;
    let message = format!("changed {}", changed.join(", "));
    add_version(conn, org_id, id, version, def, notes, &message, by, now)?;
    conn.execute(
        "UPDATE calculated_channels SET current_version = ?3 WHERE organization_id = ?1 AND id = ?2",
        params![org_id, id, version],
    )?;
    get(conn, org_id, id)
}
