//! Users and tags: names that rules and annotations refer to by id.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use super::query::{Conditions, Order, list_page, new_id, require_name};
use crate::error::{Error, Result};
use crate::rule_types::{NameFilter, Tag, User};
use crate::types::Page;

fn read_user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get(4)?,
    })
}

fn read_tag(row: &Row<'_>) -> rusqlite::Result<Tag> {
    Ok(Tag {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get(4)?,
    })
}

const COLUMNS: &str = "seq, id, organization_id, name, created_at";

pub(super) fn create_user(
    conn: &Connection,
    org_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<User> {
    require_name("user", name)?;
    super::keys::get_organization(conn, org_id)?;
    let taken: Option<String> = conn
        .query_row(
            "SELECT id FROM users WHERE organization_id = ?1 AND name = ?2",
            [org_id, name],
            |row| row.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Err(Error::already_exists(
            "user",
            format!("name {name:?} is taken"),
        ));
    }
    let id = new_id();
    conn.execute(
        "INSERT INTO users (id, organization_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, org_id, name, now],
    )?;
    get_user(conn, org_id, &id)
}

pub(super) fn get_user(conn: &Connection, org_id: &str, user_id: &str) -> Result<User> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, user_id], read_user)
    .optional()?
    .ok_or_else(|| Error::not_found("user", user_id))
}

pub(super) fn list_users(
    conn: &Connection,
    org_id: &str,
    filter: &NameFilter,
    page: &Page,
) -> Result<(Vec<User>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("name", &filter.names)?;
    list_page(
        conn,
        &format!("SELECT {COLUMNS} FROM users"),
        conditions,
        page,
        Order::Created,
        read_user,
    )
}

pub(super) fn get_or_create_tag(
    conn: &Connection,
    org_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<Tag> {
    require_name("tag", name)?;
    let existing = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tags WHERE organization_id = ?1 AND name = ?2"
        ))?
        .query_row([org_id, name], read_tag)
        .optional()?;
    if let Some(tag) = existing {
        return Ok(tag);
    }
    super::keys::get_organization(conn, org_id)?;
    let id = new_id();
    conn.execute(
        "INSERT INTO tags (id, organization_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, org_id, name, now],
    )?;
    Ok(Tag {
        id,
        organization_id: org_id.to_owned(),
        name: name.to_owned(),
        created_at: now,
    })
}

pub(super) fn list_tags(
    conn: &Connection,
    org_id: &str,
    filter: &NameFilter,
    page: &Page,
) -> Result<(Vec<Tag>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("name", &filter.names)?;
    list_page(
        conn,
        &format!("SELECT {COLUMNS} FROM tags"),
        conditions,
        page,
        Order::Created,
        read_tag,
    )
}
