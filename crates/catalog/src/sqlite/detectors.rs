//! SignalFlow detectors and incidents (tables `sfx_detectors`, `sfx_incidents`).
//!
//! A detector's evaluation is stored one step at a time ([`step`]): its events go to
//! `sfx_events`, its incidents open and clear, and `evaluated_until` moves forward, in one
//! transaction, so that after a crash the detector resumes exactly where its stored events
//! end: no trigger twice, none lost.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sextant_model::Timestamp;

use crate::detector_types::{SfxDetector, SfxDetectorStep, SfxIncident};
use crate::error::{Error, Result};

const DETECTOR_COLUMNS: &str = "id, name, description, program_text, body, disabled, created, \
                                creator, last_updated, last_updated_by, evaluated_until";

const INCIDENT_COLUMNS: &str = "id, detector_id, detect_label, severity, dimensions, triggered_at, \
                                trigger_value, cleared_at, clear_value, cleared_manually, series_id";

fn detector(row: &Row<'_>) -> rusqlite::Result<SfxDetector> {
    detector_from(row, 0)
}

/// A detector from the columns of [`DETECTOR_COLUMNS`], the first at `at`.
fn detector_from(row: &Row<'_>, at: usize) -> rusqlite::Result<SfxDetector> {
    Ok(SfxDetector {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        description: row.get(at + 2)?,
        program_text: row.get(at + 3)?,
        body: row.get(at + 4)?,
        disabled: row.get::<_, i64>(at + 5)? != 0,
        created: row.get(at + 6)?,
        creator: row.get(at + 7)?,
        last_updated: row.get(at + 8)?,
        last_updated_by: row.get(at + 9)?,
        evaluated_until: row.get(at + 10)?,
    })
}

fn incident(row: &Row<'_>) -> rusqlite::Result<(SfxIncident, String)> {
    Ok((
        SfxIncident {
            id: row.get(0)?,
            detector_id: row.get(1)?,
            detect_label: row.get(2)?,
            severity: row.get(3)?,
            dimensions: Vec::new(),
            triggered_at: row.get(5)?,
            trigger_value: row.get(6)?,
            cleared_at: row.get(7)?,
            clear_value: row.get(8)?,
            cleared_manually: row.get::<_, i64>(9)? != 0,
            series_id: row.get(10)?,
        },
        row.get(4)?,
    ))
}

fn with_dimensions((mut incident, dims): (SfxIncident, String)) -> Result<SfxIncident> {
    incident.dimensions = serde_json::from_str(&dims)
        .map_err(|e| Error::Corrupt(format!("sfx_incidents.dimensions: {e}")))?;
    Ok(incident)
}

fn check(detector: &SfxDetector) -> Result<()> {
    if detector.name.trim().is_empty() {
        return Err(Error::InvalidInput("a detector needs a name".into()));
    }
    if detector.program_text.trim().is_empty() {
        return Err(Error::InvalidInput("a detector needs a programText".into()));
    }
    Ok(())
}

pub(super) fn create(
    conn: &Connection,
    org_id: &str,
    d: &SfxDetector,
    by: &str,
    now: Timestamp,
) -> Result<SfxDetector> {
    super::keys::get_organization(conn, org_id)?;
    check(d)?;
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO sfx_detectors (organization_id, id, name, description, program_text, \
         body, disabled, created, creator, last_updated, last_updated_by, evaluated_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?9, NULL)",
        params![
            org_id,
            d.id,
            d.name,
            d.description,
            d.program_text,
            d.body,
            i64::from(d.disabled),
            now,
            by
        ],
    )?;
    if inserted == 0 {
        return Err(Error::already_exists("detector", d.id.clone()));
    }
    get(conn, org_id, &d.id)
}

pub(super) fn get(conn: &Connection, org_id: &str, id: &str) -> Result<SfxDetector> {
    conn.query_row(
        &format!(
            "SELECT {DETECTOR_COLUMNS} FROM sfx_detectors WHERE organization_id = ?1 AND id = ?2"
        ),
        params![org_id, id],
        detector,
    )
    .optional()?
    .ok_or_else(|| Error::not_found("detector", id))
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    name: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<SfxDetector>)> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM sfx_detectors WHERE organization_id = ?1 AND (?2 IS NULL OR name = ?2)",
        params![org_id, name],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DETECTOR_COLUMNS} FROM sfx_detectors WHERE organization_id = ?1 \
         AND (?2 IS NULL OR name = ?2) ORDER BY seq LIMIT ?3 OFFSET ?4"
    ))?;
    let limit = if limit == 0 { -1 } else { limit as i64 };
    let rows = stmt.query_map(params![org_id, name, limit, offset as i64], detector)?;
    Ok((count as usize, rows.collect::<rusqlite::Result<_>>()?))
}

pub(super) fn enabled(conn: &Connection) -> Result<Vec<(String, SfxDetector)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT organization_id, {DETECTOR_COLUMNS} FROM sfx_detectors WHERE disabled = 0 ORDER BY seq"
    ))?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, detector_from(row, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn update(
    conn: &Connection,
    org_id: &str,
    d: &SfxDetector,
    by: &str,
    now: Timestamp,
) -> Result<SfxDetector> {
    check(d)?;
    let old = get(conn, org_id, &d.id)?;
    let restart = old.program_text != d.program_text;
    conn.execute(
        "UPDATE sfx_detectors SET name = ?3, description = ?4, program_text = ?5, body = ?6, \
         disabled = ?7, last_updated = ?8, last_updated_by = ?9, \
         evaluated_until = CASE WHEN ?10 THEN NULL ELSE evaluated_until END \
         WHERE organization_id = ?1 AND id = ?2",
        params![
            org_id,
            d.id,
            d.name,
            d.description,
            d.program_text,
            d.body,
            i64::from(d.disabled),
            now,
            by,
            restart
        ],
    )?;
    if restart {
        // The new program's series are not the old one's: what the old one opened is over.
        conn.execute(
            "UPDATE sfx_incidents SET cleared_at = ?3, cleared_manually = 1 \
             WHERE organization_id = ?1 AND detector_id = ?2 AND cleared_at IS NULL",
            params![org_id, d.id, now / 1_000_000],
        )?;
    }
    get(conn, org_id, &d.id)
}

pub(super) fn delete(conn: &Connection, org_id: &str, id: &str) -> Result<()> {
    let deleted = conn.execute(
        "DELETE FROM sfx_detectors WHERE organization_id = ?1 AND id = ?2",
        params![org_id, id],
    )?;
    if deleted == 0 {
        return Err(Error::not_found("detector", id));
    }
    conn.execute(
        "DELETE FROM sfx_incidents WHERE organization_id = ?1 AND detector_id = ?2",
        params![org_id, id],
    )?;
    Ok(())
}

pub(super) fn step(
    conn: &Connection,
    org_id: &str,
    detector_id: &str,
    step: &SfxDetectorStep,
) -> Result<()> {
    let current = get(conn, org_id, detector_id)?;
    if current
        .evaluated_until
        .is_some_and(|until| step.evaluated_until < until)
    {
        return Err(Error::InvalidInput(format!(
            "detector {detector_id}: evaluation at {} would move back from {}",
            step.evaluated_until,
            current.evaluated_until.unwrap_or_default()
        )));
    }
    super::signalfx::add_events(conn, org_id, &step.events)?;
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO sfx_incidents (organization_id, id, detector_id, detect_label, \
         severity, dimensions, triggered_at, trigger_value, cleared_at, clear_value, \
         cleared_manually, series_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, 0, ?9)",
    )?;
    for i in &step.opened {
        let dims = serde_json::to_string(&i.dimensions).unwrap_or_else(|_| "[]".into());
        insert.execute(params![
            org_id,
            i.id,
            detector_id,
            i.detect_label,
            i.severity,
            dims,
            i.triggered_at,
            i.trigger_value,
            i.series_id
        ])?;
    }
    let mut clear = conn.prepare_cached(
        "UPDATE sfx_incidents SET cleared_at = ?3, clear_value = ?4 \
         WHERE organization_id = ?1 AND id = ?2 AND cleared_at IS NULL",
    )?;
    for (id, at, value) in &step.cleared {
        clear.execute(params![org_id, id, at, value])?;
    }
    conn.execute(
        "UPDATE sfx_detectors SET evaluated_until = ?3 WHERE organization_id = ?1 AND id = ?2",
        params![org_id, detector_id, step.evaluated_until],
    )?;
    Ok(())
}

pub(super) fn incidents(
    conn: &Connection,
    org_id: &str,
    detector_id: Option<&str>,
    include_resolved: bool,
    offset: usize,
    limit: usize,
) -> Result<Vec<SfxIncident>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM sfx_incidents WHERE organization_id = ?1 \
         AND (?2 IS NULL OR detector_id = ?2) AND (?3 OR cleared_at IS NULL) \
         ORDER BY triggered_at DESC, seq DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let limit = if limit == 0 { -1 } else { limit as i64 };
    let rows = stmt.query_map(
        params![org_id, detector_id, include_resolved, limit, offset as i64],
        incident,
    )?;
    rows.map(|r| with_dimensions(r?)).collect()
}

pub(super) fn get_incident(conn: &Connection, org_id: &str, id: &str) -> Result<SfxIncident> {
    let found = conn
        .query_row(
            &format!("SELECT {INCIDENT_COLUMNS} FROM sfx_incidents WHERE organization_id = ?1 AND id = ?2"),
            params![org_id, id],
            incident,
        )
        .optional()?
        .ok_or_else(|| Error::not_found("incident", id))?;
    with_dimensions(found)
}

pub(super) fn clear_incident(
    conn: &Connection,
    org_id: &str,
    id: &str,
    at: i64,
) -> Result<SfxIncident> {
    get_incident(conn, org_id, id)?;
    conn.execute(
        "UPDATE sfx_incidents SET cleared_at = ?3, cleared_manually = 1 \
         WHERE organization_id = ?1 AND id = ?2 AND cleared_at IS NULL",
        params![org_id, id, at],
    )?;
    get_incident(conn, org_id, id)
}
