//! The schema, as a list of migrations. Migration `i` (counting from 1) takes a database from
//! `PRAGMA user_version = i - 1` to `i`. Released migrations are never edited: a change is a
//! new migration at the end. `docs/catalog.md` describes the resulting tables.

use rusqlite::Connection;

use crate::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 1: organizations, keys, assets, channels, ingestion configs, flows, runs.
    r#"
    CREATE TABLE organizations (
        seq         INTEGER PRIMARY KEY,
        id          TEXT    NOT NULL UNIQUE,
        name        TEXT    NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL
    );

    CREATE TABLE api_keys (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        name            TEXT    NOT NULL,
        scope           TEXT    NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
        secret_sha256   BLOB    NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
        created_at      INTEGER NOT NULL,
        revoked_at      INTEGER
    );
    CREATE INDEX api_keys_by_organization ON api_keys (organization_id);

    CREATE TABLE assets (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        name            TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        UNIQUE (organization_id, name)
    );

    CREATE TABLE channels (
        seq                 INTEGER PRIMARY KEY,
        id                  TEXT    NOT NULL UNIQUE,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        asset_id            TEXT    NOT NULL REFERENCES assets (id),
        name                TEXT    NOT NULL,
        data_type           TEXT    NOT NULL,
        unit                TEXT    NOT NULL,
        description         TEXT    NOT NULL,
        enum_types          TEXT    NOT NULL,
        bit_field_elements  TEXT    NOT NULL,
        created_at          INTEGER NOT NULL,
        UNIQUE (asset_id, name, data_type)
    );
    CREATE INDEX channels_by_organization_name ON channels (organization_id, name);

    CREATE TABLE ingestion_configs (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        asset_id        TEXT    NOT NULL REFERENCES assets (id),
        client_key      TEXT,
        created_at      INTEGER NOT NULL,
        UNIQUE (organization_id, client_key)
    );
    CREATE INDEX ingestion_configs_by_asset ON ingestion_configs (asset_id);

    CREATE TABLE flows (
        seq                 INTEGER PRIMARY KEY,
        ingestion_config_id TEXT    NOT NULL REFERENCES ingestion_configs (id),
        name                TEXT    NOT NULL,
        channels            TEXT    NOT NULL,
        created_at          INTEGER NOT NULL,
        UNIQUE (ingestion_config_id, name)
    );

    CREATE TABLE flow_channels (
        flow_seq    INTEGER NOT NULL REFERENCES flows (seq),
        position    INTEGER NOT NULL,
        channel_id  TEXT    NOT NULL REFERENCES channels (id),
        PRIMARY KEY (flow_seq, position)
    ) WITHOUT ROWID;

    CREATE TABLE runs (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        name            TEXT    NOT NULL,
        description     TEXT    NOT NULL,
        tags            TEXT    NOT NULL,
        metadata        TEXT    NOT NULL,
        client_key      TEXT,
        start_time      INTEGER,
        stop_time       INTEGER,
        created_at      INTEGER NOT NULL,
        modified_at     INTEGER NOT NULL,
        UNIQUE (organization_id, client_key)
    );
    CREATE INDEX runs_by_organization_name ON runs (organization_id, name);

    CREATE TABLE run_assets (
        seq         INTEGER PRIMARY KEY,
        run_id      TEXT    NOT NULL REFERENCES runs (id),
        asset_id    TEXT    NOT NULL REFERENCES assets (id),
        UNIQUE (run_id, asset_id)
    );
    "#,
    // 2: users, tags, rules, annotations and the checkpoints of live rule evaluation.
    r#"
    CREATE TABLE users (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        name            TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        UNIQUE (organization_id, name)
    );

    CREATE TABLE tags (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        name            TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        UNIQUE (organization_id, name)
    );

    CREATE TABLE rules (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        client_key      TEXT,
        name            TEXT    NOT NULL,
        definition      TEXT    NOT NULL,
        asset_ids       TEXT    NOT NULL,
        is_live         INTEGER NOT NULL CHECK (is_live IN (0, 1)),
        version         INTEGER NOT NULL,
        archived_at     INTEGER,
        created_at      INTEGER NOT NULL,
        modified_at     INTEGER NOT NULL,
        UNIQUE (organization_id, client_key)
    );

    CREATE TABLE annotations (
        seq                 INTEGER PRIMARY KEY,
        id                  TEXT    NOT NULL UNIQUE,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        name                TEXT    NOT NULL,
        description         TEXT    NOT NULL,
        start_time          INTEGER NOT NULL,
        end_time            INTEGER,
        asset_ids           TEXT    NOT NULL,
        run_id              TEXT,
        annotation_type     TEXT    NOT NULL CHECK (annotation_type IN ('data_review', 'phase')),
        state               TEXT    NOT NULL CHECK (state IN ('open', 'flagged', 'resolved')),
        assignee_user_id    TEXT    REFERENCES users (id),
        tags                TEXT    NOT NULL,
        rule_id             TEXT    REFERENCES rules (id),
        created_at          INTEGER NOT NULL,
        modified_at         INTEGER NOT NULL
    );
    CREATE INDEX annotations_by_rule ON annotations (rule_id);

    CREATE TABLE rule_checkpoints (
        rule_id             TEXT    NOT NULL REFERENCES rules (id),
        asset_id            TEXT    NOT NULL REFERENCES assets (id),
        run_id              TEXT    NOT NULL,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        evaluated_through   INTEGER,
        open_annotation_id  TEXT    REFERENCES annotations (id),
        state               TEXT    NOT NULL,
        PRIMARY KEY (rule_id, asset_id, run_id)
    ) WITHOUT ROWID;
    "#,
    // 3: SignalFx metadata (metrics, dimensions, tags, MTS) and custom events.
    r#"
    CREATE TABLE sfx_objects (
        seq                 INTEGER PRIMARY KEY,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        kind                TEXT    NOT NULL CHECK (kind IN ('metric', 'dimension', 'tag')),
        name                TEXT    NOT NULL,
        value               TEXT    NOT NULL,
        metric_type         TEXT    NOT NULL,
        description         TEXT    NOT NULL,
        custom_properties   TEXT    NOT NULL,
        tags                TEXT    NOT NULL,
        created             INTEGER NOT NULL,
        creator             TEXT    NOT NULL,
        last_updated        INTEGER NOT NULL,
        last_updated_by     TEXT    NOT NULL,
        UNIQUE (organization_id, kind, name, value)
    );

    CREATE TABLE sfx_mts (
        seq                 INTEGER PRIMARY KEY,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        id                  TEXT    NOT NULL,
        metric              TEXT    NOT NULL,
        dimensions          TEXT    NOT NULL,
        created             INTEGER NOT NULL,
        creator             TEXT    NOT NULL,
        UNIQUE (organization_id, id)
    );

    CREATE TABLE sfx_events (
        seq                 INTEGER PRIMARY KEY,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        event_type          TEXT    NOT NULL,
        category            TEXT    NOT NULL,
        dimensions          TEXT    NOT NULL,
        properties          TEXT    NOT NULL,
        timestamp           INTEGER NOT NULL
    );
    CREATE INDEX sfx_events_by_type ON sfx_events (organization_id, event_type, timestamp);
    CREATE INDEX sfx_events_by_time ON sfx_events (organization_id, timestamp);
    "#,
    // 4: logins (an e-mail address and a password hash) for users, and keys that expire
    // (the session tokens a login gives).
    r#"
    ALTER TABLE users ADD COLUMN email TEXT;
    ALTER TABLE users ADD COLUMN password_hash TEXT;
    ALTER TABLE users ADD COLUMN session_scope TEXT;
    CREATE UNIQUE INDEX users_by_email ON users (lower(email)) WHERE email IS NOT NULL;
    ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
    "#,
    // 5: SignalFlow detectors and their incidents.
    r#"
    CREATE TABLE sfx_detectors (
        seq                 INTEGER PRIMARY KEY,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        id                  TEXT    NOT NULL,
        name                TEXT    NOT NULL,
        description         TEXT    NOT NULL,
        program_text        TEXT    NOT NULL,
        body                TEXT    NOT NULL,
        disabled            INTEGER NOT NULL,
        created             INTEGER NOT NULL,
        creator             TEXT    NOT NULL,
        last_updated        INTEGER NOT NULL,
        last_updated_by     TEXT    NOT NULL,
        evaluated_until     INTEGER,
        UNIQUE (organization_id, id)
    );
    CREATE TABLE sfx_incidents (
        seq                 INTEGER PRIMARY KEY,
        organization_id     TEXT    NOT NULL REFERENCES organizations (id),
        id                  TEXT    NOT NULL,
        detector_id         TEXT    NOT NULL,
        detect_label        TEXT    NOT NULL,
        series_id           TEXT    NOT NULL,
        severity            TEXT    NOT NULL,
        dimensions          TEXT    NOT NULL,
        triggered_at        INTEGER NOT NULL,
        trigger_value       REAL,
        cleared_at          INTEGER,
        clear_value         REAL,
        cleared_manually    INTEGER NOT NULL DEFAULT 0,
        UNIQUE (organization_id, id)
    );
    CREATE INDEX sfx_incidents_by_detector ON sfx_incidents (organization_id, detector_id, triggered_at);
    "#,
    // 6: keys with several scopes, stored as a list (`ingest,read`). SQLite cannot change a
    // CHECK constraint in place, so the table is rebuilt with its rows.
    r#"
    CREATE TABLE api_keys_v6 (
        seq             INTEGER PRIMARY KEY,
        id              TEXT    NOT NULL UNIQUE,
        organization_id TEXT    NOT NULL REFERENCES organizations (id),
        name            TEXT    NOT NULL,
        scope           TEXT    NOT NULL CHECK (length(scope) > 0),
        secret_sha256   BLOB    NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
        created_at      INTEGER NOT NULL,
        revoked_at      INTEGER,
        expires_at      INTEGER
    );
    INSERT INTO api_keys_v6 (seq, id, organization_id, name, scope, secret_sha256, created_at,
                             revoked_at, expires_at)
        SELECT seq, id, organization_id, name, scope, secret_sha256, created_at, revoked_at,
               expires_at
        FROM api_keys;
    DROP TABLE api_keys;
    ALTER TABLE api_keys_v6 RENAME TO api_keys;
    CREATE INDEX api_keys_by_organization ON api_keys (organization_id);
    "#,
    // 7: limits set for one organization, replacing the server's for it.
    r#"
    CREATE TABLE organization_limits (
        organization_id  TEXT    PRIMARY KEY REFERENCES organizations (id),
        query_timeout_ms INTEGER CHECK (query_timeout_ms >= 0),
        query_max_points INTEGER CHECK (query_max_points >= 0)
    );
    "#,
    // 8: annotations can be archived (hidden from lists unless asked for).
    r#"
    ALTER TABLE annotations ADD COLUMN archived_at INTEGER;
    "#,
    // 9: assets carry tags (names) and metadata, as Sift's assets do.
    r#"
    ALTER TABLE assets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE assets ADD COLUMN metadata TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE assets ADD COLUMN modified_at INTEGER;
    "#,
    // 10: files attached to runs, annotations and annotation logs (their bytes are in the blob
    // store, named by `id`), and annotation logs.
    r#"
    CREATE TABLE annotation_logs (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        organization_id  TEXT    NOT NULL REFERENCES organizations (id),
        annotation_id    TEXT    NOT NULL,
        kind             TEXT    NOT NULL CHECK (kind IN ('comment', 'state_update', 'assigned')),
        entry            TEXT    NOT NULL,
        created_by       TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        modified_at      INTEGER NOT NULL
    );
    CREATE INDEX annotation_logs_by_annotation
        ON annotation_logs (organization_id, annotation_id);
    CREATE TABLE remote_files (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        organization_id  TEXT    NOT NULL REFERENCES organizations (id),
        entity_type      TEXT    NOT NULL
                         CHECK (entity_type IN ('run', 'annotation', 'annotation_log')),
        entity_id        TEXT    NOT NULL,
        file_name        TEXT    NOT NULL,
        mime_type        TEXT    NOT NULL,
        content_encoding TEXT    NOT NULL,
        size             INTEGER NOT NULL CHECK (size >= 0),
        sha256           BLOB    NOT NULL CHECK (length(sha256) = 32),
        description      TEXT,
        metadata         TEXT,
        created_by       TEXT    NOT NULL,
        modified_by      TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        modified_at      INTEGER NOT NULL
    );
    CREATE INDEX remote_files_by_entity
        ON remote_files (organization_id, entity_type, entity_id);
    "#,
    // 11: stored calculated channels, each change a new version.
    r#"
    CREATE TABLE calculated_channels (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        organization_id  TEXT    NOT NULL REFERENCES organizations (id),
        client_key       TEXT,
        current_version  INTEGER NOT NULL CHECK (current_version >= 1),
        archived_at      INTEGER,
        created_by       TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        UNIQUE (organization_id, client_key)
    );
    CREATE TABLE calculated_channel_versions (
        seq                   INTEGER PRIMARY KEY,
        id                    TEXT    NOT NULL UNIQUE,
        calculated_channel_id TEXT    NOT NULL REFERENCES calculated_channels (id),
        organization_id       TEXT    NOT NULL,
        version               INTEGER NOT NULL,
        name                  TEXT    NOT NULL,
        def                   TEXT    NOT NULL,
        user_notes            TEXT    NOT NULL,
        change_message        TEXT    NOT NULL,
        created_by            TEXT    NOT NULL,
        created_at            INTEGER NOT NULL,
        UNIQUE (calculated_channel_id, version)
    );
    CREATE VIEW calculated_channels_current AS
        SELECT c.seq AS seq, c.id AS id, c.organization_id AS organization_id,
               c.client_key AS client_key, v.id AS version_id, v.version AS version,
               v.name AS name, v.def AS def, v.user_notes AS user_notes,
               v.change_message AS change_message, c.archived_at AS archived_at,
               c.created_by AS created_by, v.created_by AS modified_by,
               c.created_at AS created_at, v.created_at AS modified_at
        FROM calculated_channels AS c
        JOIN calculated_channel_versions AS v
          ON v.calculated_channel_id = c.id AND v.version = c.current_version;
    CREATE VIEW calculated_channel_all_versions AS
        SELECT v.seq AS seq, c.id AS id, c.organization_id AS organization_id,
               c.client_key AS client_key, v.id AS version_id, v.version AS version,
               v.name AS name, v.def AS def, v.user_notes AS user_notes,
               v.change_message AS change_message, c.archived_at AS archived_at,
               c.created_by AS created_by, v.created_by AS modified_by,
               c.created_at AS created_at, v.created_at AS modified_at
        FROM calculated_channel_versions AS v
        JOIN calculated_channels AS c ON c.id = v.calculated_channel_id;
    "#,
    // 12: report templates (sets of rules) and reports (what evaluating rules found).
    r#"
    CREATE TABLE report_templates (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        organization_id  TEXT    NOT NULL REFERENCES organizations (id),
        client_key       TEXT,
        name             TEXT    NOT NULL,
        description      TEXT,
        rule_ids         TEXT    NOT NULL,
        tags             TEXT    NOT NULL,
        archived_at      INTEGER,
        created_by       TEXT    NOT NULL,
        modified_by      TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        modified_at      INTEGER NOT NULL,
        UNIQUE (organization_id, client_key)
    );
    CREATE TABLE reports (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        organization_id  TEXT    NOT NULL REFERENCES organizations (id),
        name             TEXT    NOT NULL,
        run_id           TEXT,
        template_id      TEXT,
        body             TEXT    NOT NULL,
        created_by       TEXT    NOT NULL,
        created_at       INTEGER NOT NULL
    );
    CREATE INDEX reports_by_run ON reports (organization_id, run_id);
    "#,
    // 13: data imports (a file and its config) and how far each got.
    r#"
    CREATE TABLE data_imports (
        seq              INTEGER PRIMARY KEY,
        id               TEXT    NOT NULL UNIQUE,
        organization_id  TEXT    NOT NULL REFERENCES organizations (id),
        format           TEXT    NOT NULL CHECK (format IN ('csv', 'parquet')),
        config           TEXT    NOT NULL,
        status           TEXT    NOT NULL
                         CHECK (status IN ('pending', 'in_progress', 'succeeded', 'failed')),
        error_message    TEXT    NOT NULL,
        rows             INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        modified_at      INTEGER NOT NULL
    );
    "#,
    // 14: assets can be archived (Sift's DeleteAsset and ArchiveAsset).
    r#"
    ALTER TABLE assets ADD COLUMN archived_at INTEGER;
    "#,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        // PRAGMA takes no parameters; the version is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog of schema 5 keeps its keys through the rebuild of `api_keys` (migration 6),
    /// and the rebuilt table takes keys of several scopes.
    #[test]
    fn keys_survive_the_migration_to_scope_lists() {
        let mut conn = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..5] {
            conn.execute_batch(migration).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 5;
             INSERT INTO organizations (id, name, created_at) VALUES ('o', 'default', 1);
             INSERT INTO api_keys (id, organization_id, name, scope, secret_sha256, created_at,
                                   revoked_at, expires_at)
             VALUES ('k', 'o', 'rig', 'ingest', zeroblob(32), 2, NULL, 9);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let row: (String, String, i64, Option<i64>) = conn
            .query_row(
                "SELECT id, scope, created_at, expires_at FROM api_keys",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, ("k".into(), "ingest".into(), 2, Some(9)));
        conn.execute(
            "INSERT INTO api_keys (id, organization_id, name, scope, secret_sha256, created_at)
             VALUES ('k2', 'o', 'both', 'ingest,read', randomblob(32), 3)",
            [],
        )
        .unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
