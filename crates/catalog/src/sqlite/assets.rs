//! Assets and their channels.

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::{DataType, Timestamp};

use super::json::{
    MetadataJson, bit_field_elements_from_json, bit_field_elements_json, enum_types_from_json,
    enum_types_json, metadata_from_json, metadata_json,
};
use super::query::{Conditions, Order, json_column, list_page, new_id, require_name, to_json};
use crate::error::{Error, Result};
use crate::types::{Asset, AssetFilter, AssetUpdate, Channel, ChannelDef, ChannelFilter, Page};

const ASSET_COLUMNS: &str =
    "seq, id, organization_id, name, created_at, modified_at, tags, metadata, archived_at";

fn read_asset(row: &Row<'_>) -> rusqlite::Result<Asset> {
    let created_at: Timestamp = row.get(4)?;
    let metadata: Vec<MetadataJson> = json_column(row, 7)?;
    Ok(Asset {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        name: row.get(3)?,
        created_at,
        modified_at: row.get::<_, Option<Timestamp>>(5)?.unwrap_or(created_at),
        tags: json_column(row, 6)?,
        metadata: metadata_from_json(metadata),
        archived_at: row.get(8)?,
    })
}

/// Archives (or unarchives) an asset; an archived one keeps its archiving time.
pub(super) fn set_asset_archived(
    conn: &Connection,
    org_id: &str,
    asset_id: &str,
    archived: bool,
    now: Timestamp,
) -> Result<Asset> {
    let asset = get_asset(conn, org_id, asset_id)?;
    let archived_at = match (archived, asset.archived_at) {
        (true, Some(at)) => Some(at),
        (true, None) => Some(now),
        (false, _) => None,
    };
    conn.execute(
        "UPDATE assets SET archived_at = ?3, modified_at = ?4 WHERE organization_id = ?1 AND id = ?2",
        params![org_id, asset_id, archived_at, now],
    )?;
    get_asset(conn, org_id, asset_id)
}

pub(super) fn update_asset(
    conn: &Connection,
    org_id: &str,
    asset_id: &str,
    update: &AssetUpdate,
    now: Timestamp,
) -> Result<Asset> {
    let mut asset = get_asset(conn, org_id, asset_id)?;
    if let Some(tags) = &update.tags {
        if let Some(empty) = tags.iter().position(|t| t.trim().is_empty()) {
            return Err(Error::InvalidInput(format!(
                "asset {:?}: tag {} of {} is empty",
                asset.name,
                empty + 1,
                tags.len()
            )));
        }
        asset.tags = tags.clone();
        asset.tags.sort();
        asset.tags.dedup();
    }
    if let Some(metadata) = &update.metadata {
        super::runs::validate_metadata("asset", &asset.name, metadata)?;
        asset.metadata = metadata.clone();
    }
    asset.modified_at = now;
    conn.execute(
        "UPDATE assets SET tags = ?3, metadata = ?4, modified_at = ?5
         WHERE organization_id = ?1 AND id = ?2",
        params![
            org_id,
            asset_id,
            to_json(&asset.tags)?,
            to_json(&metadata_json(&asset.metadata))?,
            now
        ],
    )?;
    Ok(asset)
}

pub(super) fn get_or_create_asset(
    conn: &Connection,
    org_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<Asset> {
    require_name("asset", name)?;
    let existing = conn
        .prepare_cached(&format!(
            "SELECT {ASSET_COLUMNS} FROM assets WHERE organization_id = ?1 AND name = ?2"
        ))?
        .query_row([org_id, name], read_asset)
        .optional()?;
    if let Some(asset) = existing {
        // A new ingestion config naming an archived asset brings it back.
        if asset.archived_at.is_some() {
            return set_asset_archived(conn, org_id, &asset.id, false, now);
        }
        return Ok(asset);
    }
    super::keys::get_organization(conn, org_id)?;
    let asset = Asset {
        id: new_id(),
        organization_id: org_id.to_owned(),
        name: name.to_owned(),
        created_at: now,
        modified_at: now,
        tags: Vec::new(),
        metadata: Vec::new(),
        archived_at: None,
    };
    conn.execute(
        "INSERT INTO assets (id, organization_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            asset.id,
            asset.organization_id,
            asset.name,
            asset.created_at
        ],
    )?;
    Ok(asset)
}

pub(super) fn get_asset(conn: &Connection, org_id: &str, asset_id: &str) -> Result<Asset> {
    conn.prepare_cached(&format!(
        "SELECT {ASSET_COLUMNS} FROM assets WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, asset_id], read_asset)
    .optional()?
    .ok_or_else(|| Error::not_found("asset", asset_id))
}

pub(super) fn list_assets(
    conn: &Connection,
    org_id: &str,
    filter: &AssetFilter,
    page: &Page,
) -> Result<(Vec<Asset>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("name", &filter.names)?;
    match filter.archived {
        Some(true) => conditions.plain("archived_at IS NOT NULL"),
        Some(false) => conditions.plain("archived_at IS NULL"),
        None => {}
    }
    list_page(
        conn,
        &format!("SELECT {ASSET_COLUMNS} FROM assets"),
        conditions,
        page,
        Order::Created,
        read_asset,
    )
}

const CHANNEL_COLUMNS: &str = "seq, id, asset_id, name, data_type, unit, description, \
                               enum_types, bit_field_elements, created_at";

fn read_channel(row: &Row<'_>) -> rusqlite::Result<Channel> {
    let data_type: String = row.get(4)?;
    let data_type = data_type
        .parse::<DataType>()
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(4, Type::Text, Box::new(err)))?;
    Ok(Channel {
        id: row.get(1)?,
        asset_id: row.get(2)?,
        def: ChannelDef {
            name: row.get(3)?,
            data_type,
            unit: row.get(5)?,
            description: row.get(6)?,
            enum_types: enum_types_from_json(json_column(row, 7)?),
            bit_field_elements: bit_field_elements_from_json(json_column(row, 8)?),
        },
        created_at: row.get(9)?,
    })
}

/// The channel `def` declares on an asset known to belong to `org_id`: found by name and data
/// type, its metadata brought up to date, or created.
pub(super) fn get_or_create_channel(
    conn: &Connection,
    org_id: &str,
    asset_id: &str,
    def: &ChannelDef,
    now: Timestamp,
) -> Result<Channel> {
    require_name("channel", &def.name)?;
    let enum_types = to_json(&enum_types_json(&def.enum_types))?;
    let bit_field_elements = to_json(&bit_field_elements_json(&def.bit_field_elements))?;
    let existing = conn
        .prepare_cached(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels
             WHERE asset_id = ?1 AND name = ?2 AND data_type = ?3"
        ))?
        .query_row(
            params![asset_id, def.name, def.data_type.as_str()],
            read_channel,
        )
        .optional()?;
    if let Some(mut channel) = existing {
        if channel.def != *def {
            conn.prepare_cached(
                "UPDATE channels
                 SET unit = ?2, description = ?3, enum_types = ?4, bit_field_elements = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                channel.id,
                def.unit,
                def.description,
                enum_types,
                bit_field_elements
            ])?;
            channel.def = def.clone();
        }
        return Ok(channel);
    }
    let channel = Channel {
        id: new_id(),
        asset_id: asset_id.to_owned(),
        def: def.clone(),
        created_at: now,
    };
    conn.prepare_cached(
        "INSERT INTO channels (id, organization_id, asset_id, name, data_type, unit, description,
                               enum_types, bit_field_elements, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        channel.id,
        org_id,
        asset_id,
        def.name,
        def.data_type.as_str(),
        def.unit,
        def.description,
        enum_types,
        bit_field_elements,
        now
    ])?;
    Ok(channel)
}

pub(super) fn get_channel(conn: &Connection, org_id: &str, channel_id: &str) -> Result<Channel> {
    conn.prepare_cached(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, channel_id], read_channel)
    .optional()?
    .ok_or_else(|| Error::not_found("channel", channel_id))
}

pub(super) fn list_channels(
    conn: &Connection,
    org_id: &str,
    filter: &ChannelFilter,
    page: &Page,
) -> Result<(Vec<Channel>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("asset_id", &filter.asset_ids)?;
    conditions.any_of("name", &filter.names)?;
    conditions.any_of("id", &filter.ids)?;
    list_page(
        conn,
        &format!("SELECT {CHANNEL_COLUMNS} FROM channels"),
        conditions,
        page,
        Order::Created,
        read_channel,
    )
}
