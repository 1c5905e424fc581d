//! Report templates and reports.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use sextant_model::Timestamp;

use super::query::{Conditions, Order, json_column, list_page, new_id, require_name, to_json};
use crate::error::{Error, Result};
use crate::report_types::{
    DataImport, ImportStatus, NewReport, Report, ReportFilter, ReportRuleSummary, ReportTemplate,
    ReportTemplateDef, ReportTemplateFilter,
};
use crate::types::Page;

const TEMPLATE_COLUMNS: &str = "seq, id, organization_id, client_key, name, description, \
     rule_ids, tags, archived_at, created_by, modified_by, created_at, modified_at";

fn read_template(row: &Row<'_>) -> rusqlite::Result<ReportTemplate> {
    Ok(ReportTemplate {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        client_key: row.get(3)?,
        def: ReportTemplateDef {
            name: row.get(4)?,
            description: row.get(5)?,
            rule_ids: json_column(row, 6)?,
            tags: json_column(row, 7)?,
        },
        archived_at: row.get(8)?,
        created_by: row.get(9)?,
        modified_by: row.get(10)?,
        created_at: row.get(11)?,
        modified_at: row.get(12)?,
    })
}

/// Every rule of a template exists in the organization.
fn check_template(conn: &Connection, org_id: &str, def: &ReportTemplateDef) -> Result<()> {
    require_name("report template", &def.name)?;
    for id in &def.rule_ids {
        super::rules::get_rule(conn, org_id, id)?;
    }
    Ok(())
}

pub(super) fn create_template(
    conn: &Connection,
    org_id: &str,
    client_key: Option<&str>,
    def: &ReportTemplateDef,
    by: &str,
    now: Timestamp,
) -> Result<ReportTemplate> {
    check_template(conn, org_id, def)?;
    let client_key = client_key.filter(|k| !k.is_empty());
    if let Some(key) = client_key
        && find_template(conn, org_id, key)?.is_some()
    {
        return Err(Error::already_exists(
            "report template",
            format!("client key {key:?} is taken"),
        ));
    }
    super::keys::get_organization(conn, org_id)?;
    let id = new_id();
    conn.execute(
        "INSERT INTO report_templates (id, organization_id, client_key, name, description,
             rule_ids, tags, created_by, modified_by, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?9)",
        params![
            id,
            org_id,
            client_key,
            def.name,
            def.description,
            to_json(&def.rule_ids)?,
            to_json(&def.tags)?,
            by,
            now
        ],
    )?;
    get_template(conn, org_id, &id)
}

pub(super) fn get_template(conn: &Connection, org_id: &str, id: &str) -> Result<ReportTemplate> {
    conn.prepare_cached(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM report_templates WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, id], read_template)
    .optional()?
    .ok_or_else(|| Error::not_found("report template", id))
}

pub(super) fn find_template(
    conn: &Connection,
    org_id: &str,
    client_key: &str,
) -> Result<Option<ReportTemplate>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TEMPLATE_COLUMNS} FROM report_templates
             WHERE organization_id = ?1 AND client_key = ?2"
        ))?
        .query_row([org_id, client_key], read_template)
        .optional()?)
}

pub(super) fn list_templates(
    conn: &Connection,
    org_id: &str,
    filter: &ReportTemplateFilter,
    page: Page,
) -> Result<(Vec<ReportTemplate>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("client_key", &filter.client_keys)?;
    conditions.any_of("name", &filter.names)?;
    if !filter.include_archived {
        conditions.plain("archived_at IS NULL");
    }
    list_page(
        conn,
        &format!("SELECT {TEMPLATE_COLUMNS} FROM report_templates"),
        conditions,
        &page,
        Order::Created,
        read_template,
    )
}

pub(super) fn update_template(
    conn: &Connection,
    org_id: &str,
    id: &str,
    def: &ReportTemplateDef,
    archived: Option<bool>,
    by: &str,
    now: Timestamp,
) -> Result<ReportTemplate> {
    let current = get_template(conn, org_id, id)?;
    check_template(conn, org_id, def)?;
    let archived_at = match archived {
        None => current.archived_at,
        Some(false) => None,
        Some(true) => current.archived_at.or(Some(now)),
    };
    conn.execute(
        "UPDATE report_templates SET name = ?3, description = ?4, rule_ids = ?5, tags = ?6,
             archived_at = ?7, modified_by = ?8, modified_at = ?9
         WHERE organization_id = ?1 AND id = ?2",
        params![
            org_id,
            id,
            def.name,
            def.description,
            to_json(&def.rule_ids)?,
            to_json(&def.tags)?,
            archived_at,
            by,
            now
        ],
    )?;
    get_template(conn, org_id, id)
}

// ---- reports ----

/// The JSON body of a report row.
#[derive(Serialize, Deserialize)]
struct Body {
    summaries: Vec<ReportRuleSummary>,
    start: Timestamp,
    end: Timestamp,
}

const REPORT_COLUMNS: &str =
    "seq, id, organization_id, name, run_id, template_id, body, created_by, created_at";

fn read_report(row: &Row<'_>) -> rusqlite::Result<Report> {
    let body: Body = json_column(row, 6)?;
    Ok(Report {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        fields: NewReport {
            name: row.get(3)?,
            run_id: row.get(4)?,
            template_id: row.get(5)?,
            summaries: body.summaries,
            range: (body.start, body.end),
        },
        created_by: row.get(7)?,
        created_at: row.get(8)?,
    })
}

pub(super) fn create_report(
    conn: &Connection,
    org_id: &str,
    report: NewReport,
    by: &str,
    now: Timestamp,
) -> Result<Report> {
    super::keys::get_organization(conn, org_id)?;
    let id = new_id();
    let body = Body {
        summaries: report.summaries,
        start: report.range.0,
        end: report.range.1,
    };
    conn.execute(
        "INSERT INTO reports (id, organization_id, name, run_id, template_id, body, created_by,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            org_id,
            report.name,
            report.run_id,
            report.template_id,
            to_json(&body)?,
            by,
            now
        ],
    )?;
    get_report(conn, org_id, &id)
}

pub(super) fn get_report(conn: &Connection, org_id: &str, id: &str) -> Result<Report> {
    conn.prepare_cached(&format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, id], read_report)
    .optional()?
    .ok_or_else(|| Error::not_found("report", id))
}

pub(super) fn list_reports(
    conn: &Connection,
    org_id: &str,
    filter: &ReportFilter,
    page: Page,
) -> Result<(Vec<Report>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("run_id", &filter.run_ids)?;
    conditions.any_of("template_id", &filter.template_ids)?;
    conditions.any_of("name", &filter.names)?;
    list_page(
        conn,
        &format!("SELECT {REPORT_COLUMNS} FROM reports"),
        conditions,
        &page,
        Order::NewestFirst,
        read_report,
    )
}

// ---- data imports ----

const IMPORT_COLUMNS: &str = "seq, id, organization_id, format, config, status, error_message, \
     rows, created_at, modified_at";

fn read_import(row: &Row<'_>) -> rusqlite::Result<DataImport> {
    let status: String = row.get(5)?;
    Ok(DataImport {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        format: row.get(3)?,
        config: row.get(4)?,
        status: status.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                Box::new(Error::Corrupt(e)),
            )
        })?,
        error_message: row.get(6)?,
        rows: row.get::<_, i64>(7)? as u64,
        created_at: row.get(8)?,
        modified_at: row.get(9)?,
    })
}

pub(super) fn create_import(
    conn: &Connection,
    org_id: &str,
    format: &str,
    config: &str,
    now: Timestamp,
) -> Result<DataImport> {
    super::keys::get_organization(conn, org_id)?;
    let id = new_id();
    conn.execute(
        "INSERT INTO data_imports (id, organization_id, format, config, status, error_message,
             rows, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', '', 0, ?5, ?5)",
        params![id, org_id, format, config, now],
    )?;
    get_import(conn, org_id, &id)
}

pub(super) fn get_import(conn: &Connection, org_id: &str, id: &str) -> Result<DataImport> {
    conn.prepare_cached(&format!(
        "SELECT {IMPORT_COLUMNS} FROM data_imports WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, id], read_import)
    .optional()?
    .ok_or_else(|| Error::not_found("data import", id))
}

/// Moves an import from `from` to `to`; `InvalidInput` naming where it is when it is elsewhere.
#[allow(clippy::too_many_arguments)]
pub(super) fn set_import_status(
    conn: &Connection,
    org_id: &str,
    id: &str,
    from: ImportStatus,
    to: ImportStatus,
    error_message: &str,
    rows: u64,
    now: Timestamp,
) -> Result<DataImport> {
    let current = get_import(conn, org_id, id)?;
    if current.status != from {
        return Err(Error::InvalidInput(format!(
            "data import {id} is {}, not {}",
            current.status.as_str(),
            from.as_str()
        )));
    }
    conn.execute(
        "UPDATE data_imports SET status = ?3, error_message = ?4, rows = ?5, modified_at = ?6
         WHERE organization_id = ?1 AND id = ?2",
        params![org_id, id, to.as_str(), error_message, rows as i64, now],
    )?;
    get_import(conn, org_id, id)
}

pub(super) fn fail_interrupted_imports(conn: &Connection, now: Timestamp) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE data_imports SET status = 'failed',
             error_message = 'the server stopped while the file was being read; the data read \
             before it stopped may be stored: upload the file again to a new import',
             modified_at = ?1
         WHERE status = 'in_progress'",
        params![now],
    )?)
}
