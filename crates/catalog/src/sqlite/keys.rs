//! Organizations, API keys and the bootstrap key.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;
use sha2::{Digest, Sha256};

use super::query::{new_id, require_name};
use crate::error::{Error, Result};
use crate::types::{ApiKey, OrgLimits, Organization, Principal, Scope, Scopes};

/// The organization `bootstrap` creates or reuses.
const BOOTSTRAP_ORGANIZATION: &str = "default";
/// The name of the key `bootstrap` creates.
const BOOTSTRAP_KEY_NAME: &str = "bootstrap";
/// Every generated secret starts with this, so that a leaked key is recognisable (secret
/// scanners, logs) and cannot be mistaken for another service's.
const SECRET_PREFIX: &str = "sxt_";
/// Bytes of OS randomness in a generated secret (256 bits).
const SECRET_BYTES: usize = 32;

const ORGANIZATION_COLUMNS: &str = "id, name, created_at";

fn read_organization(row: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: row.get(2)?,
    })
}

pub(super) fn create_organization(
    conn: &Connection,
    name: &str,
    now: Timestamp,
) -> Result<Organization> {
    require_name("organization", name)?;
    if find_organization_by_name(conn, name)?.is_some() {
        return Err(Error::already_exists(
            "organization",
            format!("an organization is named {name:?}"),
        ));
    }
    let organization = Organization {
        id: new_id(),
        name: name.to_owned(),
        created_at: now,
    };
    conn.execute(
        "INSERT INTO organizations (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![organization.id, organization.name, organization.created_at],
    )?;
    Ok(organization)
}

fn find_organization_by_name(conn: &Connection, name: &str) -> Result<Option<Organization>> {
    Ok(conn
        .query_row(
            &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE name = ?1"),
            [name],
            read_organization,
        )
        .optional()?)
}

pub(super) fn get_organization(conn: &Connection, id: &str) -> Result<Organization> {
    conn.query_row(
        &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = ?1"),
        [id],
        read_organization,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("organization", id))
}

pub(super) fn organization_limits(conn: &Connection, org_id: &str) -> Result<OrgLimits> {
    let limits = conn
        .query_row(
            "SELECT query_timeout_ms, query_max_points FROM organization_limits
             WHERE organization_id = ?1",
            [org_id],
            |row| {
                Ok(OrgLimits {
                    query_timeout_ms: row.get::<_, Option<i64>>(0)?.map(|v| v as u64),
                    query_max_points: row.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                })
            },
        )
        .optional()?;
    Ok(limits.unwrap_or_default())
}

pub(super) fn set_organization_limits(
    conn: &Connection,
    org_id: &str,
    limits: &OrgLimits,
) -> Result<()> {
    get_organization(conn, org_id)?;
    if *limits == OrgLimits::default() {
        conn.execute(
            "DELETE FROM organization_limits WHERE organization_id = ?1",
            [org_id],
        )?;
        return Ok(());
    }
    let stored = |value: Option<u64>, what: &str| {
        value
            .map(|v| {
                i64::try_from(v).map_err(|_| {
                    Error::InvalidInput(format!("{what} {v} is larger than the catalog can hold"))
                })
            })
            .transpose()
    };
    conn.execute(
        "INSERT INTO organization_limits (organization_id, query_timeout_ms, query_max_points)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (organization_id) DO UPDATE
         SET query_timeout_ms = excluded.query_timeout_ms,
             query_max_points = excluded.query_max_points",
        params![
            org_id,
            stored(limits.query_timeout_ms, "query timeout (ms)")?,
            stored(limits.query_max_points, "query point limit")?
        ],
    )?;
    Ok(())
}

pub(super) fn list_organizations(conn: &Connection) -> Result<Vec<Organization>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY seq"
    ))?;
    let organizations = statement
        .query_map([], read_organization)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(organizations)
}

/// The stored form of a secret. A plain SHA-256 is the right hash here: generated secrets carry
/// 256 bits of OS randomness, so there is nothing to guess and a slow password hash (bcrypt,
/// argon2) would only slow every request's authentication. It also makes the hash a lookup
/// key, so authentication is one indexed query.
fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn new_secret() -> Result<String> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| Error::Randomness(err.to_string()))?;
    let mut secret = String::with_capacity(SECRET_PREFIX.len() + 2 * SECRET_BYTES);
    secret.push_str(SECRET_PREFIX);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    Ok(secret)
}

const KEY_COLUMNS: &str = "id, organization_id, name, scope, created_at, revoked_at, expires_at";

fn read_key(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = row.get(3)?;
    Ok(ApiKey {
        id: row.get(0)?,
        organization_id: row.get(1)?,
        name: row.get(2)?,
        scopes: scopes.parse().map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(err))
        })?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
        expires_at: row.get(6)?,
    })
}

fn insert_key(
    conn: &Connection,
    org_id: &str,
    name: &str,
    scopes: Scopes,
    secret: &str,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<ApiKey> {
    let key = ApiKey {
        id: new_id(),
        organization_id: org_id.to_owned(),
        name: name.to_owned(),
        scopes,
        created_at: now,
        revoked_at: None,
        expires_at,
    };
    conn.execute(
        "INSERT INTO api_keys (id, organization_id, name, scope, secret_sha256, created_at,
                               expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.id,
            key.organization_id,
            key.name,
            key.scopes.to_string(),
            secret_hash(secret),
            key.created_at,
            expires_at
        ],
    )?;
    Ok(key)
}

pub(super) fn create_api_key(
    conn: &Connection,
    org_id: &str,
    name: &str,
    scopes: Scopes,
    now: Timestamp,
) -> Result<(ApiKey, String)> {
    create_key(conn, org_id, name, scopes, None, now)
}

/// A new key with a generated secret, working until `expires_at` if given.
fn create_key(
    conn: &Connection,
    org_id: &str,
    name: &str,
    scopes: Scopes,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(ApiKey, String)> {
    require_name("API key", name)?;
    get_organization(conn, org_id)?;
    let secret = new_secret()?;
    let key = insert_key(conn, org_id, name, scopes, &secret, expires_at, now)?;
    Ok((key, secret))
}

pub(super) fn authenticate(
    conn: &Connection,
    secret: &str,
    now: Timestamp,
) -> Result<Option<Principal>> {
    if secret.is_empty() {
        return Ok(None);
    }
    let mut statement = conn.prepare_cached(
        "SELECT organization_id, id, scope, name FROM api_keys
         WHERE secret_sha256 = ?1 AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > ?2)",
    )?;
    let found = statement
        .query_row(params![secret_hash(secret), now], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    let Some((organization_id, key_id, scopes, key_name)) = found else {
        return Ok(None);
    };
    let scopes = scopes
        .parse()
        .map_err(|err| Error::Corrupt(format!("API key {key_id:?}: {err}")))?;
    Ok(Some(Principal {
        organization_id,
        key_id,
        key_name,
        scopes,
    }))
}

pub(super) fn create_session_key(
    conn: &Connection,
    org_id: &str,
    name: &str,
    scope: Scope,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<(ApiKey, String)> {
    create_key(conn, org_id, name, scope.into(), Some(expires_at), now)
}

pub(super) fn list_api_keys(conn: &Connection, org_id: &str) -> Result<Vec<ApiKey>> {
    get_organization(conn, org_id)?;
    let mut statement = conn.prepare(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = ?1 ORDER BY seq"
    ))?;
    let keys = statement
        .query_map([org_id], read_key)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(keys)
}

fn get_api_key(conn: &Connection, org_id: &str, key_id: &str) -> Result<ApiKey> {
    conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = ?1 AND id = ?2"),
        [org_id, key_id],
        read_key,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("API key", key_id))
}

pub(super) fn revoke_api_key(
    conn: &Connection,
    org_id: &str,
    key_id: &str,
    now: Timestamp,
) -> Result<ApiKey> {
    get_api_key(conn, org_id, key_id)?;
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?3
         WHERE organization_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![org_id, key_id, now],
    )?;
    get_api_key(conn, org_id, key_id)
}

pub(super) fn bootstrap(
    conn: &Connection,
    token: &str,
    now: Timestamp,
) -> Result<Option<Principal>> {
    if token.trim().is_empty() {
        return Err(Error::InvalidInput(
            "bootstrap token must not be empty".to_owned(),
        ));
    }
    let keys: i64 = conn.query_row("SELECT count(*) FROM api_keys", [], |row| row.get(0))?;
    if keys > 0 {
        return Ok(None);
    }
    let organization = match find_organization_by_name(conn, BOOTSTRAP_ORGANIZATION)? {
        Some(organization) => organization,
        None => create_organization(conn, BOOTSTRAP_ORGANIZATION, now)?,
    };
    let key = insert_key(
        conn,
        &organization.id,
        BOOTSTRAP_KEY_NAME,
        Scope::Admin.into(),
        token,
        None,
        now,
    )?;
    Ok(Some(Principal {
        organization_id: organization.id,
        key_id: key.id,
        key_name: key.name,
        scopes: key.scopes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_hex() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        let hex = a.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(hex.len(), 2 * SECRET_BYTES);
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    }
}
