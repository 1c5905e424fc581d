//! Users and tags: names that rules and annotations refer to by id.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use super::query::{Conditions, Order, list_page, new_id, require_name};
use crate::error::{Error, Result};
use crate::rule_types::{Login, NameFilter, Tag, User};
use crate::types::{Page, Scope};

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

pub(super) fn set_user_login(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    email: &str,
    password_hash: &str,
    session_scope: Scope,
) -> Result<()> {
    let email = email.trim();
    if email.is_empty() || !email.contains('@') || email.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    get_user(conn, org_id, user_id)?;
    let taken: Option<String> = conn
        .query_row(
            "SELECT id FROM users WHERE lower(email) = lower(?1) AND id <> ?2",
            [email, user_id],
            |row| row.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Err(Error::already_exists(
            "login",
            format!("e-mail address {email:?} is taken"),
        ));
    }
    conn.execute(
        "UPDATE users SET email = ?1, password_hash = ?2, session_scope = ?3
         WHERE organization_id = ?4 AND id = ?5",
        params![
            email,
            password_hash,
            session_scope.as_str(),
            org_id,
            user_id
        ],
    )?;
    Ok(())
}

pub(super) fn find_login(conn: &Connection, email: &str) -> Result<Option<Login>> {
    let found = conn
        .query_row(
            "SELECT organization_id, id, email, password_hash, session_scope FROM users
             WHERE lower(email) = lower(?1) AND password_hash IS NOT NULL",
            [email.trim()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((organization_id, user_id, email, password_hash, scope)) = found else {
        return Ok(None);
    };
    let session_scope = scope
        .parse()
        .map_err(|err| Error::Corrupt(format!("login of user {user_id:?}: {err}")))?;
    Ok(Some(Login {
        organization_id,
        user_id,
        email,
        password_hash,
        session_scope,
    }))
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
