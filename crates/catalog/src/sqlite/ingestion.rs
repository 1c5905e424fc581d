//! Ingestion configs and their flows.

use std::collections::HashSet;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use super::assets::{get_or_create_asset, get_or_create_channel};
use super::json::{ChannelDefJson, channel_defs_from_json, channel_defs_json};
use super::query::{
    Conditions, Order, client_key, json_column, list_page, new_id, require_name, to_json,
};
use crate::error::{Error, Result};
use crate::types::{ChannelDef, FlowDef, IngestionConfig, IngestionConfigFilter, Page};

const CONFIG_COLUMNS: &str = "seq, id, organization_id, asset_id, client_key, created_at";

fn read_config(row: &Row<'_>) -> rusqlite::Result<IngestionConfig> {
    Ok(IngestionConfig {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        asset_id: row.get(3)?,
        client_key: row.get(4)?,
        created_at: row.get(5)?,
    })
}

pub(super) fn find_ingestion_config(
    conn: &Connection,
    org_id: &str,
    key: &str,
) -> Result<Option<IngestionConfig>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CONFIG_COLUMNS} FROM ingestion_configs
             WHERE organization_id = ?1 AND client_key = ?2"
        ))?
        .query_row([org_id, key], read_config)
        .optional()?)
}

pub(super) fn get_ingestion_config(
    conn: &Connection,
    org_id: &str,
    config_id: &str,
) -> Result<IngestionConfig> {
    conn.prepare_cached(&format!(
        "SELECT {CONFIG_COLUMNS} FROM ingestion_configs WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, config_id], read_config)
    .optional()?
    .ok_or_else(|| Error::not_found("ingestion config", config_id))
}

pub(super) fn create_ingestion_config(
    conn: &Connection,
    org_id: &str,
    asset_name: &str,
    key: Option<&str>,
    flows: &[FlowDef],
    now: Timestamp,
) -> Result<IngestionConfig> {
    let key = client_key(key);
    if let Some(key) = key
        && find_ingestion_config(conn, org_id, key)?.is_some()
    {
        return Err(Error::already_exists(
            "ingestion config",
            format!("client key {key:?} is taken"),
        ));
    }
    let asset = get_or_create_asset(conn, org_id, asset_name, now)?;
    let config = IngestionConfig {
        id: new_id(),
        organization_id: org_id.to_owned(),
        asset_id: asset.id,
        client_key: key.map(str::to_owned),
        created_at: now,
    };
    conn.execute(
        "INSERT INTO ingestion_configs (id, organization_id, asset_id, client_key, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            config.id,
            config.organization_id,
            config.asset_id,
            config.client_key,
            config.created_at
        ],
    )?;
    add_flows(conn, &config, flows, now)?;
    Ok(config)
}

pub(super) fn list_ingestion_configs(
    conn: &Connection,
    org_id: &str,
    filter: &IngestionConfigFilter,
    page: &Page,
) -> Result<(Vec<IngestionConfig>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("client_key", &filter.client_keys)?;
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("asset_id", &filter.asset_ids)?;
    list_page(
        conn,
        &format!("SELECT {CONFIG_COLUMNS} FROM ingestion_configs"),
        conditions,
        page,
        Order::Created,
        read_config,
    )
}

/// Reads a flow's `channels` column.
fn flow_channels(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<ChannelDef>> {
    let json: Vec<ChannelDefJson> = json_column(row, index)?;
    channel_defs_from_json(json)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, err.into()))
}

pub(super) fn list_flows(conn: &Connection, org_id: &str, config_id: &str) -> Result<Vec<FlowDef>> {
    get_ingestion_config(conn, org_id, config_id)?;
    let mut statement = conn.prepare_cached(
        "SELECT name, channels FROM flows WHERE ingestion_config_id = ?1 ORDER BY seq",
    )?;
    let flows = statement
        .query_map([config_id], |row| {
            Ok(FlowDef {
                name: row.get(0)?,
                channels: flow_channels(row, 1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(flows)
}

/// Checks a flow on its own: a name, and no channel twice (values are matched to channels by
/// position, so a repeated channel could never be told apart).
fn validate_flow(flow: &FlowDef) -> Result<()> {
    require_name("flow", &flow.name)?;
    let mut seen = HashSet::new();
    for channel in &flow.channels {
        require_name("channel", &channel.name)?;
        if !seen.insert((channel.name.as_str(), channel.data_type)) {
            return Err(Error::InvalidInput(format!(
                "flow {:?} lists channel {:?} of type {} twice",
                flow.name, channel.name, channel.data_type
            )));
        }
    }
    Ok(())
}

/// Adds `flows` to a config known to belong to the caller's organization.
pub(super) fn add_flows(
    conn: &Connection,
    config: &IngestionConfig,
    flows: &[FlowDef],
    now: Timestamp,
) -> Result<()> {
    for flow in flows {
        validate_flow(flow)?;
    }
    for flow in flows {
        let existing = conn
            .prepare_cached(
                "SELECT channels FROM flows WHERE ingestion_config_id = ?1 AND name = ?2",
            )?
            .query_row([&config.id, &flow.name], |row| flow_channels(row, 0))
            .optional()?;
        if let Some(channels) = existing {
            if channels == flow.channels {
                continue;
            }
            return Err(Error::already_exists(
                "flow",
                format!(
                    "flow {:?} of ingestion config {:?} exists with other channels",
                    flow.name, config.id
                ),
            ));
        }
        let mut channel_ids = Vec::with_capacity(flow.channels.len());
        for def in &flow.channels {
            let channel =
                get_or_create_channel(conn, &config.organization_id, &config.asset_id, def, now)?;
            channel_ids.push(channel.id);
        }
        conn.prepare_cached(
            "INSERT INTO flows (ingestion_config_id, name, channels, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            config.id,
            flow.name,
            to_json(&channel_defs_json(&flow.channels))?,
            now
        ])?;
        let flow_seq = conn.last_insert_rowid();
        let mut insert = conn.prepare_cached(
            "INSERT INTO flow_channels (flow_seq, position, channel_id) VALUES (?1, ?2, ?3)",
        )?;
        for (position, channel_id) in channel_ids.iter().enumerate() {
            insert.execute(params![flow_seq, position as i64, channel_id])?;
        }
    }
    Ok(())
}

pub(super) fn flow(
    conn: &Connection,
    org_id: &str,
    config_id: &str,
    name: &str,
) -> Result<Option<(FlowDef, Vec<String>)>> {
    let found = conn
        .prepare_cached(
            "SELECT f.seq, f.channels FROM flows f
             JOIN ingestion_configs c ON c.id = f.ingestion_config_id
             WHERE c.organization_id = ?1 AND c.id = ?2 AND f.name = ?3",
        )?
        .query_row([org_id, config_id, name], |row| {
            Ok((row.get::<_, i64>(0)?, flow_channels(row, 1)?))
        })
        .optional()?;
    let Some((flow_seq, channels)) = found else {
        // Tell a missing flow from a config the caller cannot see.
        get_ingestion_config(conn, org_id, config_id)?;
        return Ok(None);
    };
    let channel_ids = conn
        .prepare_cached(
            "SELECT channel_id FROM flow_channels WHERE flow_seq = ?1 ORDER BY position",
        )?
        .query_map([flow_seq], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if channel_ids.len() != channels.len() {
        return Err(Error::Corrupt(format!(
            "flow {name:?} of ingestion config {config_id:?} declares {} channels but links {}",
            channels.len(),
            channel_ids.len()
        )));
    }
    Ok(Some((
        FlowDef {
            name: name.to_owned(),
            channels,
        },
        channel_ids,
    )))
}
