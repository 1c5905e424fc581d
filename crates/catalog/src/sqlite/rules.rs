//! Rules, annotations and the checkpoints of live rule evaluation.

use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use sextant_model::Timestamp;

use super::query::{
    Conditions, Order, client_key, json_column, list_page, new_id, require_name, to_json,
};
use crate::error::{Error, Result};
use crate::file_types::RemoteFile;
use crate::rule_types::{
    Annotation, AnnotationEvent, AnnotationFilter, AnnotationType, AnnotationUpdate, Archived,
    NewAnnotation, Rule, RuleAction, RuleCheckpoint, RuleDef, RuleEvaluation, RuleFilter,
    RuleStream,
};
use crate::types::Page;

// ---- rules ----

/// The JSON of `rules.definition`: everything of a [`RuleDef`] but the columns of its own
/// (name, client key, asset ids, liveness). Field names are fixed here, not by the Rust type.
#[derive(Debug, Serialize, Deserialize)]
struct RuleDefJson {
    description: String,
    expression: String,
    channel_references: Vec<(String, String)>,
    contextual_channels: Vec<String>,
    asset_tag_ids: Vec<String>,
    annotation_type: String,
    tag_ids: Vec<String>,
    assignee_user_id: Option<String>,
    is_external: bool,
    webhook_url: Option<String>,
}

const RULE_COLUMNS: &str = "seq, id, organization_id, client_key, name, definition, asset_ids, \
     is_live, version, archived_at, created_at, modified_at";

fn read_rule(row: &Row<'_>) -> rusqlite::Result<Rule> {
    let def: RuleDefJson = json_column(row, 5)?;
    let annotation_type = def
        .annotation_type
        .parse::<AnnotationType>()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, Type::Text, Box::new(e)))?;
    Ok(Rule {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        def: RuleDef {
            name: row.get(4)?,
            description: def.description,
            client_key: row.get(3)?,
            expression: def.expression,
            channel_references: def.channel_references,
            contextual_channels: def.contextual_channels,
            asset_ids: json_column(row, 6)?,
            asset_tag_ids: def.asset_tag_ids,
            action: RuleAction {
                annotation_type,
                tag_ids: def.tag_ids,
                assignee_user_id: def.assignee_user_id,
            },
            is_live: row.get(7)?,
            is_external: def.is_external,
            webhook_url: def.webhook_url,
        },
        version: row.get(8)?,
        archived_at: row.get(9)?,
        created_at: row.get(10)?,
        modified_at: row.get(11)?,
    })
}

fn definition_json(def: &RuleDef) -> Result<String> {
    to_json(&RuleDefJson {
        description: def.description.clone(),
        expression: def.expression.clone(),
        channel_references: def.channel_references.clone(),
        contextual_channels: def.contextual_channels.clone(),
        asset_tag_ids: def.asset_tag_ids.clone(),
        annotation_type: def.action.annotation_type.as_str().to_owned(),
        tag_ids: def.action.tag_ids.clone(),
        assignee_user_id: def.action.assignee_user_id.clone(),
        is_external: def.is_external,
        webhook_url: def.webhook_url.clone(),
    })
}

/// Checks what the catalog can check of a rule: a name, an expression, references that exist,
/// and that its assets and assignee belong to the organization.
fn validate_rule(conn: &Connection, org_id: &str, def: &RuleDef) -> Result<()> {
    require_name("rule", &def.name)?;
    if def.expression.trim().is_empty() {
        return Err(Error::InvalidInput(format!(
            "rule {:?} has an empty expression",
            def.name
        )));
    }
    for asset_id in &def.asset_ids {
        super::assets::get_asset(conn, org_id, asset_id)?;
    }
    if let Some(user_id) = &def.action.assignee_user_id {
        super::people::get_user(conn, org_id, user_id)?;
    }
    Ok(())
}

fn client_key_owner(conn: &Connection, org_id: &str, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT id FROM rules WHERE organization_id = ?1 AND client_key = ?2",
            [org_id, key],
            |row| row.get(0),
        )
        .optional()?)
}

pub(super) fn create_rule(
    conn: &Connection,
    org_id: &str,
    def: &RuleDef,
    now: Timestamp,
) -> Result<Rule> {
    super::keys::get_organization(conn, org_id)?;
    validate_rule(conn, org_id, def)?;
    let key = client_key(def.client_key.as_deref());
    if let Some(key) = key
        && client_key_owner(conn, org_id, key)?.is_some()
    {
        return Err(Error::already_exists(
            "rule",
            format!("client key {key:?} is taken"),
        ));
    }
    let id = new_id();
    conn.execute(
        "INSERT INTO rules (id, organization_id, client_key, name, definition, asset_ids, is_live,
                            version, archived_at, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, NULL, ?8, ?8)",
        params![
            id,
            org_id,
            key,
            def.name,
            definition_json(def)?,
            to_json(&def.asset_ids)?,
            def.is_live,
            now
        ],
    )?;
    get_rule(conn, org_id, &id)
}

pub(super) fn update_rule(
    conn: &Connection,
    org_id: &str,
    rule_id: &str,
    def: &RuleDef,
    now: Timestamp,
) -> Result<Rule> {
    get_rule(conn, org_id, rule_id)?;
    validate_rule(conn, org_id, def)?;
    let key = client_key(def.client_key.as_deref());
    if let Some(key) = key
        && let Some(owner) = client_key_owner(conn, org_id, key)?
        && owner != rule_id
    {
        return Err(Error::already_exists(
            "rule",
            format!("client key {key:?} belongs to rule {owner}"),
        ));
    }
    conn.execute(
        "UPDATE rules SET client_key = ?3, name = ?4, definition = ?5, asset_ids = ?6,
                          is_live = ?7, version = version + 1, modified_at = ?8
         WHERE organization_id = ?1 AND id = ?2",
        params![
            org_id,
            rule_id,
            key,
            def.name,
            definition_json(def)?,
            to_json(&def.asset_ids)?,
            def.is_live,
            now
        ],
    )?;
    get_rule(conn, org_id, rule_id)
}

pub(super) fn get_rule(conn: &Connection, org_id: &str, rule_id: &str) -> Result<Rule> {
    conn.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM rules WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, rule_id], read_rule)
    .optional()?
    .ok_or_else(|| Error::not_found("rule", rule_id))
}

pub(super) fn find_rule(conn: &Connection, org_id: &str, key: &str) -> Result<Option<Rule>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE organization_id = ?1 AND client_key = ?2"
        ))?
        .query_row([org_id, key], read_rule)
        .optional()?)
}

pub(super) fn list_rules(
    conn: &Connection,
    org_id: &str,
    filter: &RuleFilter,
    page: &Page,
) -> Result<(Vec<Rule>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("client_key", &filter.client_keys)?;
    conditions.any_of("name", &filter.names)?;
    if let Some(asset_ids) = &filter.asset_ids {
        // A rule watches an asset it names, and every asset carrying one of its asset tags.
        let tag_ids = tags_carried(conn, org_id, asset_ids)?;
        conditions.clause_params(
            "(EXISTS (SELECT 1 FROM json_each(asset_ids) AS element \
               WHERE element.value IN (SELECT value FROM json_each(?))) \
              OR EXISTS (SELECT 1 FROM json_each(json_extract(definition, '$.asset_tag_ids')) \
               AS element WHERE element.value IN (SELECT value FROM json_each(?))))",
            vec![
                Value::Text(to_json(asset_ids)?),
                Value::Text(to_json(&tag_ids)?),
            ],
        );
    }
    if filter.live_only {
        conditions.plain("is_live = 1");
    }
    if !filter.include_archived {
        conditions.plain("archived_at IS NULL");
    }
    list_page(
        conn,
        &format!("SELECT {RULE_COLUMNS} FROM rules"),
        conditions,
        page,
        Order::Created,
        read_rule,
    )
}

/// The ids of the tags the assets `asset_ids` carry (assets name their tags).
fn tags_carried(conn: &Connection, org_id: &str, asset_ids: &[String]) -> Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT tags.id FROM assets
         JOIN json_each(assets.tags) AS carried
         JOIN tags ON tags.organization_id = assets.organization_id AND tags.name = carried.value
         WHERE assets.organization_id = ?1 AND assets.id IN (SELECT value FROM json_each(?2))",
    )?;
    let ids = statement
        .query_map(params![org_id, to_json(&asset_ids)?], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

pub(super) fn set_rule_archived(
    conn: &Connection,
    org_id: &str,
    rule_id: &str,
    archived: bool,
    now: Timestamp,
) -> Result<Rule> {
    let rule = get_rule(conn, org_id, rule_id)?;
    let archived_at = match (archived, rule.archived_at) {
        (true, Some(at)) => Some(at),
        (true, None) => Some(now),
        (false, _) => None,
    };
    conn.execute(
        "UPDATE rules SET archived_at = ?3, modified_at = ?4 WHERE organization_id = ?1 AND id = ?2",
        params![org_id, rule_id, archived_at, now],
    )?;
    get_rule(conn, org_id, rule_id)
}

// ---- annotations ----

const ANNOTATION_COLUMNS: &str = "seq, id, organization_id, name, description, start_time, \
     end_time, asset_ids, run_id, annotation_type, state, assignee_user_id, tags, rule_id, \
     created_at, modified_at, archived_at";

fn parse_column<T: std::str::FromStr<Err = Error>>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    text.parse::<T>()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn read_annotation(row: &Row<'_>) -> rusqlite::Result<Annotation> {
    Ok(Annotation {
        id: row.get(1)?,
        organization_id: row.get(2)?,
        fields: NewAnnotation {
            name: row.get(3)?,
            description: row.get(4)?,
            start_time: row.get(5)?,
            end_time: row.get(6)?,
            asset_ids: json_column(row, 7)?,
            run_id: row.get(8)?,
            annotation_type: parse_column(row, 9)?,
            state: parse_column(row, 10)?,
            assignee_user_id: row.get(11)?,
            tags: json_column(row, 12)?,
            rule_id: row.get(13)?,
        },
        created_at: row.get(14)?,
        modified_at: row.get(15)?,
        archived_at: row.get(16)?,
    })
}

fn validate_annotation(conn: &Connection, org_id: &str, fields: &NewAnnotation) -> Result<()> {
    require_name("annotation", &fields.name)?;
    if let Some(end) = fields.end_time
        && end < fields.start_time
    {
        return Err(Error::InvalidInput(format!(
            "annotation {:?} ends ({end}) before it starts ({})",
            fields.name, fields.start_time
        )));
    }
    for asset_id in &fields.asset_ids {
        super::assets::get_asset(conn, org_id, asset_id)?;
    }
    if let Some(run_id) = &fields.run_id {
        super::runs::get_run(conn, org_id, run_id)?;
    }
    if let Some(user_id) = &fields.assignee_user_id {
        super::people::get_user(conn, org_id, user_id)?;
    }
    if let Some(rule_id) = &fields.rule_id {
        get_rule(conn, org_id, rule_id)?;
    }
    Ok(())
}

pub(super) fn create_annotation(
    conn: &Connection,
    org_id: &str,
    fields: &NewAnnotation,
    now: Timestamp,
) -> Result<Annotation> {
    super::keys::get_organization(conn, org_id)?;
    validate_annotation(conn, org_id, fields)?;
    let id = new_id();
    conn.prepare_cached(
        "INSERT INTO annotations (id, organization_id, name, description, start_time, end_time,
                                  asset_ids, run_id, annotation_type, state, assignee_user_id,
                                  tags, rule_id, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )?
    .execute(params![
        id,
        org_id,
        fields.name,
        fields.description,
        fields.start_time,
        fields.end_time,
        to_json(&fields.asset_ids)?,
        fields.run_id,
        fields.annotation_type.as_str(),
        fields.state.as_str(),
        fields.assignee_user_id,
        to_json(&fields.tags)?,
        fields.rule_id,
        now
    ])?;
    get_annotation(conn, org_id, &id)
}

pub(super) fn get_annotation(
    conn: &Connection,
    org_id: &str,
    annotation_id: &str,
) -> Result<Annotation> {
    conn.prepare_cached(&format!(
        "SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE organization_id = ?1 AND id = ?2"
    ))?
    .query_row([org_id, annotation_id], read_annotation)
    .optional()?
    .ok_or_else(|| Error::not_found("annotation", annotation_id))
}

pub(super) fn list_annotations(
    conn: &Connection,
    org_id: &str,
    filter: &AnnotationFilter,
    page: &Page,
) -> Result<(Vec<Annotation>, String)> {
    let mut conditions = Conditions::organization(org_id);
    conditions.any_of("id", &filter.ids)?;
    conditions.any_of("rule_id", &filter.rule_ids)?;
    conditions.any_of("run_id", &filter.run_ids)?;
    conditions.any_of("assignee_user_id", &filter.assignee_user_ids)?;
    conditions.any_in_array("asset_ids", &filter.asset_ids)?;
    conditions.any_in_array("tags", &filter.tags)?;
    let states = filter
        .states
        .as_ref()
        .map(|states| states.iter().map(|s| s.as_str().to_owned()).collect());
    conditions.any_of("state", &states)?;
    if let Some(from) = filter.from {
        conditions.clause("(end_time IS NULL OR end_time > ?)", Value::Integer(from));
    }
    if let Some(to) = filter.to {
        conditions.clause("start_time < ?", Value::Integer(to));
    }
    match filter.archived {
        Archived::Not => conditions.plain("archived_at IS NULL"),
        Archived::Only => conditions.plain("archived_at IS NOT NULL"),
        Archived::Either => {}
    }
    list_page(
        conn,
        &format!("SELECT {ANNOTATION_COLUMNS} FROM annotations"),
        conditions,
        page,
        Order::Created,
        read_annotation,
    )
}

pub(super) fn set_annotations_archived(
    conn: &Connection,
    org_id: &str,
    annotation_ids: &[String],
    archived: bool,
    now: Timestamp,
) -> Result<Vec<Annotation>> {
    let mut changed = Vec::with_capacity(annotation_ids.len());
    for id in annotation_ids {
        let mut annotation = get_annotation(conn, org_id, id)?;
        if annotation.archived_at.is_some() != archived {
            annotation.archived_at = archived.then_some(now);
            annotation.modified_at = now;
            conn.execute(
                "UPDATE annotations SET archived_at = ?3, modified_at = ?4
                 WHERE organization_id = ?1 AND id = ?2",
                params![org_id, id, annotation.archived_at, now],
            )?;
        }
        changed.push(annotation);
    }
    Ok(changed)
}

pub(super) fn delete_annotations(
    conn: &Connection,
    org_id: &str,
    annotation_ids: &[String],
) -> Result<Vec<RemoteFile>> {
    let mut files = Vec::new();
    for id in annotation_ids {
        let annotation = get_annotation(conn, org_id, id)?;
        let held: Option<String> = conn
            .query_row(
                "SELECT rule_id FROM rule_checkpoints
                 WHERE organization_id = ?1 AND open_annotation_id = ?2",
                params![org_id, id],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(rule_id) = held {
            return Err(Error::InvalidInput(format!(
                "annotation {id} ({:?}) is held open by live rule {rule_id}: it can be deleted \
                 once the rule closes it, or archived now",
                annotation.fields.name
            )));
        }
        files.extend(super::files::delete_annotation_dependents(
            conn, org_id, id,
        )?);
        conn.execute(
            "DELETE FROM annotations WHERE organization_id = ?1 AND id = ?2",
            params![org_id, id],
        )?;
    }
    Ok(files)
}

pub(super) fn update_annotation(
    conn: &Connection,
    org_id: &str,
    annotation_id: &str,
    update: AnnotationUpdate,
    now: Timestamp,
) -> Result<Annotation> {
    let mut annotation = get_annotation(conn, org_id, annotation_id)?;
    let AnnotationUpdate {
        name,
        description,
        state,
        assignee_user_id,
        tags,
    } = update;
    let fields = &mut annotation.fields;
    fields.name = name.unwrap_or(std::mem::take(&mut fields.name));
    fields.description = description.unwrap_or(std::mem::take(&mut fields.description));
    fields.state = state.unwrap_or(fields.state);
    if let Some(assignee) = assignee_user_id {
        fields.assignee_user_id = assignee;
    }
    if let Some(tags) = tags {
        fields.tags = tags;
    }
    validate_annotation(conn, org_id, fields)?;
    conn.execute(
        "UPDATE annotations SET name = ?3, description = ?4, state = ?5, assignee_user_id = ?6,
                                tags = ?7, modified_at = ?8
         WHERE organization_id = ?1 AND id = ?2",
        params![
            org_id,
            annotation_id,
            fields.name,
            fields.description,
            fields.state.as_str(),
            fields.assignee_user_id,
            to_json(&fields.tags)?,
            now
        ],
    )?;
    get_annotation(conn, org_id, annotation_id)
}

// ---- checkpoints ----

fn read_checkpoint(row: &Row<'_>) -> rusqlite::Result<RuleCheckpoint> {
    Ok(RuleCheckpoint {
        stream: RuleStream {
            rule_id: row.get(0)?,
            asset_id: row.get(1)?,
            run_id: row.get(2)?,
        },
        evaluated_through: row.get(3)?,
        open_annotation_id: row.get(4)?,
        state: row.get(5)?,
    })
}

const CHECKPOINT_COLUMNS: &str =
    "rule_id, asset_id, run_id, evaluated_through, open_annotation_id, state";

pub(super) fn ensure_checkpoints(
    conn: &Connection,
    org_id: &str,
    streams: &[(RuleStream, Option<Timestamp>)],
) -> Result<()> {
    for (stream, through) in streams {
        get_rule(conn, org_id, &stream.rule_id)?;
        super::assets::get_asset(conn, org_id, &stream.asset_id)?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO rule_checkpoints
                 (rule_id, asset_id, run_id, organization_id, evaluated_through,
                  open_annotation_id, state)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, '')",
        )?
        .execute(params![
            stream.rule_id,
            stream.asset_id,
            stream.run_id,
            org_id,
            through
        ])?;
    }
    Ok(())
}

pub(super) fn checkpoint(
    conn: &Connection,
    org_id: &str,
    stream: &RuleStream,
) -> Result<Option<RuleCheckpoint>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM rule_checkpoints
             WHERE organization_id = ?1 AND rule_id = ?2 AND asset_id = ?3 AND run_id = ?4"
        ))?
        .query_row(
            params![org_id, stream.rule_id, stream.asset_id, stream.run_id],
            read_checkpoint,
        )
        .optional()?)
}

pub(super) fn list_checkpoints(conn: &Connection, org_id: &str) -> Result<Vec<RuleCheckpoint>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM rule_checkpoints WHERE organization_id = ?1
         ORDER BY rule_id, asset_id, run_id"
    ))?;
    let rows = statement.query_map([org_id], read_checkpoint)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn commit_rule_evaluations(
    conn: &Connection,
    org_id: &str,
    evaluations: &[RuleEvaluation],
    now: Timestamp,
) -> Result<Vec<AnnotationEvent>> {
    let mut events = Vec::new();
    for evaluation in evaluations {
        let stream = &evaluation.stream;
        let current = checkpoint(conn, org_id, stream)?.ok_or_else(|| {
            Error::not_found(
                "rule checkpoint",
                format!(
                    "rule {} asset {} run {:?}",
                    stream.rule_id, stream.asset_id, stream.run_id
                ),
            )
        })?;
        if let Some(previous) = current.evaluated_through
            && evaluation.evaluated_through < previous
        {
            return Err(Error::InvalidInput(format!(
                "rule {} cannot move its checkpoint back from {previous} to {}",
                stream.rule_id, evaluation.evaluated_through
            )));
        }
        let mut open = current.open_annotation_id.clone();
        if let Some(end) = evaluation.close_open_at {
            let Some(id) = open.take() else {
                return Err(Error::InvalidInput(format!(
                    "rule {} has no open annotation to close",
                    stream.rule_id
                )));
            };
            conn.prepare_cached(
                "UPDATE annotations SET end_time = ?3, modified_at = ?4
                 WHERE organization_id = ?1 AND id = ?2",
            )?
            .execute(params![org_id, id, end, now])?;
            events.push(AnnotationEvent {
                opened: false,
                annotation: get_annotation(conn, org_id, &id)?,
            });
        }
        let count = evaluation.new_annotations.len();
        for (i, fields) in evaluation.new_annotations.iter().enumerate() {
            if open.is_some() {
                return Err(Error::InvalidInput(format!(
                    "rule {} opens an annotation while one is open",
                    stream.rule_id
                )));
            }
            if fields.end_time.is_none() && i + 1 != count {
                return Err(Error::InvalidInput(format!(
                    "rule {}: only the last new annotation may stay open",
                    stream.rule_id
                )));
            }
            let annotation = create_annotation(conn, org_id, fields, now)?;
            let still_open = annotation.fields.end_time.is_none();
            events.push(AnnotationEvent {
                opened: true,
                annotation: annotation.clone(),
            });
            if still_open {
                open = Some(annotation.id);
            } else {
                events.push(AnnotationEvent {
                    opened: false,
                    annotation,
                });
            }
        }
        conn.prepare_cached(
            "UPDATE rule_checkpoints SET evaluated_through = ?5, open_annotation_id = ?6, state = ?7
             WHERE organization_id = ?1 AND rule_id = ?2 AND asset_id = ?3 AND run_id = ?4",
        )?
        .execute(params![
            org_id,
            stream.rule_id,
            stream.asset_id,
            stream.run_id,
            evaluation.evaluated_through,
            open,
            evaluation.state
        ])?;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule_types::AnnotationState;

    #[test]
    fn annotation_names_round_trip() {
        for state in AnnotationState::ALL {
            assert_eq!(state.as_str().parse::<AnnotationState>().unwrap(), state);
        }
        for kind in [AnnotationType::DataReview, AnnotationType::Phase] {
            assert_eq!(kind.as_str().parse::<AnnotationType>().unwrap(), kind);
        }
        let err = "closed".parse::<AnnotationState>().unwrap_err();
        assert!(err.to_string().contains("\"closed\""), "{err}");
    }
}
