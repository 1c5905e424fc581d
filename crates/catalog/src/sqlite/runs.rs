//! Runs and the assets whose data they carry.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use super::assets::get_asset;
use super::json::{MetadataJson, metadata_from_json, metadata_json};
use super::query::{
    Conditions, Order, client_key, json_column, list_page, new_id, require_name, to_json,
};
use crate::error::{Error, Result};
use crate::types::{MetadataValue, NewRun, Page, Run, RunFilter, RunUpdate};

/// The run's columns, its linked assets (as a JSON array, in link order) last.
const RUN_COLUMNS: &str = "seq, id, organization_id, name, description, tags, metadata, \
     client_key, start_time, stop_time, created_at, modified_at, \
     (SELECT json_group_array(asset_id) FROM \
        (SELECT asset_id FROM run_assets WHERE run_assets.run_id = runs.id ORDER BY seq))";

fn read_run(row: &Row<'_>) -> rusqlite::Result<Run> {
    let metadata: Vec<MetadataJson> = json_column(row, 6)?;
    Ok(Run {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        name: row.get(3)?,
        description: row.get(4)?,
        tags: json_column(row, 5)?,
        metadata: metadata_from_json(metadata),
        client_key: row.get(7)?,
        start_time: row.get(8)?,
        stop_time: row.get(9)?,
        created_at: row.get(10)?,
        modified_at: row.get(11)?,
        asset_ids: json_column(row, 12)?,
    })
}

/// Metadata keys are not empty and numbers are finite; `what` and `name` name the owner.
pub(super) fn validate_metadata(
    what: &str,
    name: &str,
    metadata: &[(String, MetadataValue)],
) -> Result<()> {
    for (key, value) in metadata {
        if key.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{what} {name:?} has a metadata entry with an empty key"
            )));
        }
        if let MetadataValue::Number(number) = value
            && !number.is_finite()
        {
            return Err(Error::InvalidInput(format!(
                "{what} {name:?} metadata {key:?} is {number}; numbers must be finite"
            )));
        }
    }
    Ok(())
}

fn validate(
    name: &str,
    metadata: &[(String, MetadataValue)],
    start_time: Option<Timestamp>,
    stop_time: Option<Timestamp>,
) -> Result<()> {
    require_name("run", name)?;
    validate_metadata("run", name, metadata)?;
    if let (Some(start), Some(stop)) = (start_time, stop_time)
        && stop < start
    {
        return Err(Error::InvalidInput(format!(
            "run {name:?} stops ({stop}) before it starts ({start})"
        )));
    }
    Ok(())
}

pub(super) fn create_run(
    conn: &Connection,
    org_id: &str,
    run: NewRun,
    now: Timestamp,
) -> Result<Run> {
    validate(&run.name, &run.metadata, run.start_time, run.stop_time)?;
    let key = client_key(run.client_key.as_deref());
    if let Some(key) = key {
        let taken: Option<String> = conn
            .query_row(
                "SELECT id FROM runs WHERE organization_id = ?1 AND client_key = ?2",
                [org_id, key],
                |row| row.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(Error::already_exists(
                "run",
                format!("client key {key:?} is taken"),
            ));
        }
    }
    super::keys::get_organization(conn, org_id)?;
    let id = new_id();
    conn.execute(
        "INSERT INTO runs (id, organization_id, name, description, tags, metadata, client_key,
                           start_time, stop_time, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            id,
            org_id,
            run.name,
            run.description,
            to_json(&run.tags)?,
            to_json(&metadata_json(&run.metadata))?,
            key,
            run.start_time,
            run.stop_time,
            now
        ],
    )?;
    get_run(conn, org_id, &id)
}

pub(super) fn get_run(conn: &Connection, org_id: &str, run_id: &str) -> Result<Run> {
    conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, run_id], read_run)
    .optional()?
    .ok_or_else(|| Error::not_found("run", run_id))
}

pub(super) fn list_runs(
    conn: &Connection,
    org_id: &str,
    filter: &RunFilter,
    page: &Page,
) -> Result<(Vec<Run>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("name", &filter.names)?;
    conditions.any_of("client_key", &filter.client_keys)?;
    list_page(
        conn,
        &format!("SELECT {RUN_COLUMNS} FROM runs"),
        conditions,
        page,
        Order::NewestFirst,
        read_run,
    )
}

pub(super) fn update_run(
    conn: &Connection,
    org_id: &str,
    run_id: &str,
    update: RunUpdate,
    now: Timestamp,
) -> Result<Run> {
    let mut run = get_run(conn, org_id, run_id)?;
    let RunUpdate {
        name,
        description,
        tags,
        start_time,
        stop_time,
        metadata,
    } = update;
    run.name = name.unwrap_or(run.name);
    run.description = description.unwrap_or(run.description);
    run.tags = tags.unwrap_or(run.tags);
    run.start_time = start_time.or(run.start_time);
    run.stop_time = stop_time.or(run.stop_time);
    run.metadata = metadata.unwrap_or(run.metadata);
    validate(&run.name, &run.metadata, run.start_time, run.stop_time)?;
    conn.execute(
        "UPDATE runs SET name = ?3, description = ?4, tags = ?5, metadata = ?6,
                         start_time = ?7, stop_time = ?8, modified_at = ?9
         WHERE organization_id = ?1 AND id = ?2",
        params![
            org_id,
            run_id,
            run.name,
            run.description,
            to_json(&run.tags)?,
            to_json(&metadata_json(&run.metadata))?,
            run.start_time,
            run.stop_time,
            now
        ],
    )?;
    get_run(conn, org_id, run_id)
}

pub(super) fn associate_asset(
    conn: &Connection,
    org_id: &str,
    run_id: &str,
    asset_id: &str,
) -> Result<()> {
    get_run(conn, org_id, run_id)?;
    get_asset(conn, org_id, asset_id)?;
    conn.prepare_cached("INSERT OR IGNORE INTO run_assets (run_id, asset_id) VALUES (?1, ?2)")?
        .execute([run_id, asset_id])?;
    Ok(())
}
