//! SignalFx metadata and events (tables `sfx_objects`, `sfx_mts`, `sfx_events`).
//!
//! Metrics, dimensions and tags share `sfx_objects`, told apart by `kind` (a dimension's key
//! is `name`, its value `value`). Custom properties are a JSON object, tags a JSON array,
//! dimensions a JSON array of `[key, value]` pairs. Event properties are a JSON array of
//! `[key, type, text]` with type `s`, `d`, `i` or `b`; doubles are written in Rust's
//! shortest round-trip form (`NaN`, `inf` and `-inf` included), so every value reads back
//! exactly.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use crate::error::{Error, Result};
use crate::signalfx_types::{
    SfxDimension, SfxEvent, SfxEventFilter, SfxMeta, SfxMetric, SfxMts, SfxNewMts,
    SfxPropertyValue, SfxRegistered, SfxSnapshot, SfxTag, SfxUpdate,
};

const OBJECT_COLUMNS: &str = "name, value, metric_type, description, custom_properties, tags, \
                              created, creator, last_updated, last_updated_by";

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{what}: {e}"))
}

fn read_object(
    row: &Row<'_>,
) -> rusqlite::Result<(String, String, String, SfxMeta, String, String)> {
    let properties: String = row.get(4)?;
    let tags: String = row.get(5)?;
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        SfxMeta {
            description: row.get(3)?,
            custom_properties: BTreeMap::new(),
            tags: Vec::new(),
            created: row.get(6)?,
            creator: row.get(7)?,
            last_updated: row.get(8)?,
            last_updated_by: row.get(9)?,
        },
        properties,
        tags,
    ))
}

type RawObject = (String, String, String, SfxMeta, String, String);

fn finish(raw: RawObject) -> Result<(String, String, String, SfxMeta)> {
    let (name, value, metric_type, mut meta, properties, tags) = raw;
    meta.custom_properties = serde_json::from_str(&properties)
        .map_err(|e| corrupt("sfx_objects.custom_properties", e))?;
    meta.tags = serde_json::from_str(&tags).map_err(|e| corrupt("sfx_objects.tags", e))?;
    Ok((name, value, metric_type, meta))
}

fn objects(
    conn: &Connection,
    org_id: &str,
    kind: &str,
    name: Option<(&str, &str)>,
) -> Result<Vec<(String, String, String, SfxMeta)>> {
    let mut out = Vec::new();
    match name {
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM sfx_objects WHERE organization_id = ?1 AND kind = ?2 ORDER BY seq"
            ))?;
            for raw in stmt.query_map([org_id, kind], read_object)? {
                out.push(finish(raw?)?);
            }
        }
        Some((name, value)) => {
            let raw = conn
                .prepare_cached(&format!(
                    "SELECT {OBJECT_COLUMNS} FROM sfx_objects \
                     WHERE organization_id = ?1 AND kind = ?2 AND name = ?3 AND value = ?4"
                ))?
                .query_row(params![org_id, kind, name, value], read_object)
                .optional()?;
            if let Some(raw) = raw {
                out.push(finish(raw)?);
            }
        }
    }
    Ok(out)
}

fn dims_json(dimensions: &[(String, String)]) -> String {
    serde_json::to_string(dimensions).unwrap_or_else(|_| "[]".into())
}

/// Which object of `sfx_objects`.
#[derive(Debug, Clone, Copy)]
struct Object<'a> {
    org_id: &'a str,
    kind: &'a str,
    name: &'a str,
    value: &'a str,
}

fn insert_object(
    conn: &Connection,
    Object {
        org_id,
        kind,
        name,
        value,
    }: Object<'_>,
    metric_type: &str,
    creator: &str,
    now: Timestamp,
) -> Result<bool> {
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO sfx_objects (organization_id, kind, name, value, metric_type, \
             description, custom_properties, tags, created, creator, last_updated, last_updated_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, '', '{}', '[]', ?6, ?7, ?6, ?7)",
        )?
        .execute(params![org_id, kind, name, value, metric_type, now, creator])?;
    Ok(added == 1)
}

fn fresh_meta(creator: &str, now: Timestamp) -> SfxMeta {
    SfxMeta {
        created: now,
        creator: creator.to_owned(),
        last_updated: now,
        last_updated_by: creator.to_owned(),
        ..SfxMeta::default()
    }
}

pub(super) fn register(
    conn: &Connection,
    org_id: &str,
    creator: &str,
    mts: &[SfxNewMts],
    now: Timestamp,
) -> Result<SfxRegistered> {
    super::keys::get_organization(conn, org_id)?;
    let mut out = SfxRegistered::default();
    let mut seen_dims = BTreeSet::new();
    for new in mts {
        if new.metric.is_empty() {
            return Err(Error::InvalidInput(
                "an MTS has an empty metric name".into(),
            ));
        }
        if !out.metric_types.contains_key(&new.metric) {
            if insert_object(
                conn,
                Object {
                    org_id,
                    kind: "metric",
                    name: &new.metric,
                    value: "",
                },
                &new.metric_type,
                creator,
                now,
            )? {
                out.metrics.push(SfxMetric {
                    name: new.metric.clone(),
                    metric_type: new.metric_type.clone(),
                    meta: fresh_meta(creator, now),
                });
            }
            let stored: String = conn
                .prepare_cached(
                    "SELECT metric_type FROM sfx_objects \
                     WHERE organization_id = ?1 AND kind = 'metric' AND name = ?2 AND value = ''",
                )?
                .query_row([org_id, new.metric.as_str()], |row| row.get(0))?;
            out.metric_types.insert(new.metric.clone(), stored);
        }
        for (key, value) in &new.dimensions {
            if seen_dims.insert((key.clone(), value.clone()))
                && insert_object(
                    conn,
                    Object {
                        org_id,
                        kind: "dimension",
                        name: key,
                        value,
                    },
                    "",
                    creator,
                    now,
                )?
            {
                out.dimensions.push(SfxDimension {
                    key: key.clone(),
                    value: value.clone(),
                    meta: fresh_meta(creator, now),
                });
            }
        }
        let added = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO sfx_mts (organization_id, id, metric, dimensions, created, creator) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                org_id,
                new.id,
                new.metric,
                dims_json(&new.dimensions),
                now,
                creator
            ])?;
        if added == 1 {
            out.mts.push(SfxMts {
                id: new.id.clone(),
                metric: new.metric.clone(),
                dimensions: new.dimensions.clone(),
                meta: fresh_meta(creator, now),
            });
        }
    }
    Ok(out)
}

pub(super) fn snapshot(conn: &Connection, org_id: &str) -> Result<SfxSnapshot> {
    let mut snapshot = SfxSnapshot::default();
    for (name, _, metric_type, meta) in objects(conn, org_id, "metric", None)? {
        snapshot.metrics.push(SfxMetric {
            name,
            metric_type,
            meta,
        });
    }
    for (key, value, _, meta) in objects(conn, org_id, "dimension", None)? {
        snapshot.dimensions.push(SfxDimension { key, value, meta });
    }
    for (name, _, _, meta) in objects(conn, org_id, "tag", None)? {
        snapshot.tags.push(SfxTag { name, meta });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, metric, dimensions, created, creator FROM sfx_mts \
         WHERE organization_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([org_id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (id, metric, dimensions, created, creator) = row?;
        let dimensions: Vec<(String, String)> =
            serde_json::from_str(&dimensions).map_err(|e| corrupt("sfx_mts.dimensions", e))?;
        snapshot.mts.push(SfxMts {
            id,
            metric,
            dimensions,
            meta: fresh_meta(&creator, created),
        });
    }
    Ok(snapshot)
}

fn normalized_tags(tags: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = tags.iter().filter(|t| !t.is_empty()).collect();
    set.into_iter().cloned().collect()
}

fn update_object(
    conn: &Connection,
    Object {
        org_id,
        kind,
        name,
        value,
    }: Object<'_>,
    update: &SfxUpdate,
    by: &str,
    now: Timestamp,
) -> Result<usize> {
    let properties = serde_json::to_string(&update.custom_properties)
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    let tags = serde_json::to_string(&normalized_tags(&update.tags))
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(conn
        .prepare_cached(
            "UPDATE sfx_objects SET description = ?5, custom_properties = ?6, tags = ?7, \
             last_updated = ?8, last_updated_by = ?9 \
             WHERE organization_id = ?1 AND kind = ?2 AND name = ?3 AND value = ?4",
        )?
        .execute(params![
            org_id,
            kind,
            name,
            value,
            update.description,
            properties,
            tags,
            now,
            by
        ])?)
}

pub(super) fn update_metric(
    conn: &Connection,
    org_id: &str,
    name: &str,
    update: &SfxUpdate,
    by: &str,
    now: Timestamp,
) -> Result<SfxMetric> {
    if update_object(
        conn,
        Object {
            org_id,
            kind: "metric",
            name,
            value: "",
        },
        update,
        by,
        now,
    )? == 0
    {
        return Err(Error::not_found("metric", name));
    }
    let (name, _, metric_type, meta) = objects(conn, org_id, "metric", Some((name, "")))?
        .pop()
        .ok_or_else(|| Error::not_found("metric", name))?;
    Ok(SfxMetric {
        name,
        metric_type,
        meta,
    })
}

pub(super) fn update_dimension(
    conn: &Connection,
    org_id: &str,
    key: &str,
    value: &str,
    update: &SfxUpdate,
    by: &str,
    now: Timestamp,
) -> Result<SfxDimension> {
    if key.is_empty() || value.is_empty() {
        return Err(Error::InvalidInput(
            "a dimension needs a non-empty key and value".into(),
        ));
    }
    super::keys::get_organization(conn, org_id)?;
    insert_object(
        conn,
        Object {
            org_id,
            kind: "dimension",
            name: key,
            value,
        },
        "",
        by,
        now,
    )?;
    update_object(
        conn,
        Object {
            org_id,
            kind: "dimension",
            name: key,
            value,
        },
        update,
        by,
        now,
    )?;
    let (key, value, _, meta) = objects(conn, org_id, "dimension", Some((key, value)))?
        .pop()
        .ok_or_else(|| Error::not_found("dimension", format!("{key}:{value}")))?;
    Ok(SfxDimension { key, value, meta })
}

pub(super) fn put_tag(
    conn: &Connection,
    org_id: &str,
    name: &str,
    update: &SfxUpdate,
    by: &str,
    now: Timestamp,
) -> Result<SfxTag> {
    if name.is_empty() {
        return Err(Error::InvalidInput("a tag needs a non-empty name".into()));
    }
    super::keys::get_organization(conn, org_id)?;
    insert_object(
        conn,
        Object {
            org_id,
            kind: "tag",
            name,
            value: "",
        },
        "",
        by,
        now,
    )?;
    update_object(
        conn,
        Object {
            org_id,
            kind: "tag",
            name,
            value: "",
        },
        update,
        by,
        now,
    )?;
    let (name, _, _, meta) = objects(conn, org_id, "tag", Some((name, "")))?
        .pop()
        .ok_or_else(|| Error::not_found("tag", name))?;
    Ok(SfxTag { name, meta })
}

pub(super) fn delete_tag(conn: &Connection, org_id: &str, name: &str) -> Result<()> {
    let deleted = conn.execute(
        "DELETE FROM sfx_objects WHERE organization_id = ?1 AND kind = 'tag' AND name = ?2",
        [org_id, name],
    )?;
    if deleted == 0 {
        return Err(Error::not_found("tag", name));
    }
    Ok(())
}

fn properties_json(properties: &[(String, SfxPropertyValue)]) -> String {
    let rows: Vec<(&str, &str, String)> = properties
        .iter()
        .map(|(k, v)| match v {
            SfxPropertyValue::Str(s) => (k.as_str(), "s", s.clone()),
            SfxPropertyValue::Double(d) => (k.as_str(), "d", d.to_string()),
            SfxPropertyValue::Int(i) => (k.as_str(), "i", i.to_string()),
            SfxPropertyValue::Bool(b) => (k.as_str(), "b", b.to_string()),
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
}

fn parse_properties(text: &str) -> Result<Vec<(String, SfxPropertyValue)>> {
    let rows: Vec<(String, String, String)> =
        serde_json::from_str(text).map_err(|e| corrupt("sfx_events.properties", e))?;
    rows.into_iter()
        .map(|(k, t, v)| {
            let value = match t.as_str() {
                "s" => Some(SfxPropertyValue::Str(v)),
                "d" => v.parse().ok().map(SfxPropertyValue::Double),
                "i" => v.parse().ok().map(SfxPropertyValue::Int),
                "b" => v.parse().ok().map(SfxPropertyValue::Bool),
                _ => None,
            };
            value
                .map(|value| (k, value))
                .ok_or_else(|| corrupt("sfx_events.properties", format!("bad value of type {t:?}")))
        })
        .collect()
}

pub(super) fn add_events(
    conn: &Connection,
    org_id: &str,
    events: &[SfxEvent],
) -> Result<Vec<SfxEvent>> {
    super::keys::get_organization(conn, org_id)?;
    let mut out = Vec::with_capacity(events.len());
    let mut stmt = conn.prepare_cached(
        "INSERT INTO sfx_events (organization_id, event_type, category, dimensions, properties, timestamp) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for event in events {
        if event.event_type.is_empty() {
            return Err(Error::InvalidInput(
                "an event has an empty event type".into(),
            ));
        }
        stmt.execute(params![
            org_id,
            event.event_type,
            event.category,
            dims_json(&event.dimensions),
            properties_json(&event.properties),
            event.timestamp
        ])?;
        out.push(SfxEvent {
            id: conn.last_insert_rowid(),
            ..event.clone()
        });
    }
    Ok(out)
}

pub(super) fn events(
    conn: &Connection,
    org_id: &str,
    filter: &SfxEventFilter,
) -> Result<Vec<SfxEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_type, category, dimensions, properties, timestamp FROM sfx_events \
         WHERE organization_id = ?1 AND (?2 IS NULL OR event_type = ?2) \
         AND timestamp >= ?3 AND timestamp < ?4 ORDER BY timestamp, seq",
    )?;
    let rows = stmt.query_map(
        params![
            org_id,
            filter.event_type,
            filter.start.unwrap_or(i64::MIN),
            filter.end.unwrap_or(i64::MAX)
        ],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (id, event_type, category, dimensions, properties, timestamp) = row?;
        let dimensions: Vec<(String, String)> =
            serde_json::from_str(&dimensions).map_err(|e| corrupt("sfx_events.dimensions", e))?;
        if !filter
            .dimensions
            .iter()
            .all(|wanted| dimensions.contains(wanted))
        {
            continue;
        }
        out.push(SfxEvent {
            id,
            event_type,
            category,
            dimensions,
            properties: parse_properties(&properties)?,
            timestamp,
        });
        if filter.limit != 0 && out.len() >= filter.limit {
            break;
        }
    }
    Ok(out)
}
