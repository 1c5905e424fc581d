//! What is written survives closing and reopening the file.

use sextant_catalog::{
    AssetFilter, Catalog, ChannelFilter, IngestionConfigFilter, Page, RunFilter, Scope,
    SqliteCatalog,
};
use sextant_model::ErrorKind;

use crate::common::{Fixture, assert_error};
use crate::ingestion::seed_flows;
use crate::runs::full_run;

#[test]
fn everything_survives_reopening() {
    let f = Fixture::new();
    let bootstrap = f
        .catalog
        .bootstrap("bootstrap-token-0123456789")
        .unwrap()
        .unwrap();
    let org = f.org("acme");
    let (key, secret) = f
        .catalog
        .create_api_key(&org, "rig", Scope::Ingest.into())
        .unwrap();
    let (revoked, revoked_secret) = f
        .catalog
        .create_api_key(&org, "old", Scope::Read.into())
        .unwrap();
    f.catalog.revoke_api_key(&org, &revoked.id).unwrap();
    let flows = seed_flows();
    let config = f
        .catalog
        .create_ingestion_config(&org, "NostromoLV426", Some("k"), &flows[..1])
        .unwrap();
    f.catalog.add_flows(&org, &config.id, &flows[1..]).unwrap();
    let run = f.catalog.create_run(&org, full_run()).unwrap();
    f.catalog
        .associate_asset(&org, &run.id, &config.asset_id)
        .unwrap();

    let snapshot = |catalog: &SqliteCatalog| {
        let page = || Page::first(1000);
        (
            catalog.list_organizations().unwrap(),
            catalog.list_api_keys(&org).unwrap(),
            catalog
                .list_assets(&org, &AssetFilter::default(), page())
                .unwrap(),
            catalog
                .list_channels(&org, &ChannelFilter::default(), page())
                .unwrap(),
            catalog
                .list_ingestion_configs(&org, &IngestionConfigFilter::default(), page())
                .unwrap(),
            catalog.list_flows(&org, &config.id).unwrap(),
            flows
                .iter()
                .map(|flow| catalog.flow(&org, &config.id, &flow.name).unwrap())
                .collect::<Vec<_>>(),
            catalog
                .list_runs(&org, &RunFilter::default(), page())
                .unwrap(),
        )
    };
    let before = snapshot(&f.catalog);
    let f = f.reopen();
    let after = snapshot(&f.catalog);
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    assert_eq!(after.5, flows, "flows keep order and every field");

    assert_eq!(
        f.catalog.authenticate(&secret).unwrap().map(|p| p.key_id),
        Some(key.id.clone())
    );
    assert_eq!(f.catalog.authenticate(&revoked_secret).unwrap(), None);
    assert_eq!(
        f.catalog
            .authenticate("bootstrap-token-0123456789")
            .unwrap(),
        Some(bootstrap)
    );
    assert_eq!(
        f.catalog.get_run(&org, &run.id).unwrap().asset_ids,
        vec![config.asset_id.clone()]
    );

    // Declaring the same flows again after a restart is a no-op, not a conflict.
    f.catalog.add_flows(&org, &config.id, &flows).unwrap();
    assert_eq!(f.catalog.list_flows(&org, &config.id).unwrap(), flows);
}

#[test]
fn the_file_carries_its_schema_version_and_wal_mode() {
    let f = Fixture::new();
    let path = f.path();
    drop(f.catalog);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SqliteCatalog::SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    // A file from a newer Sextant is refused rather than misread.
    conn.execute_batch(&format!(
        "PRAGMA user_version = {}",
        SqliteCatalog::SCHEMA_VERSION + 1
    ))
    .unwrap();
    drop(conn);
    assert_error(
        SqliteCatalog::open(&path),
        ErrorKind::Internal,
        &format!("schema version {}", SqliteCatalog::SCHEMA_VERSION + 1),
    );

    let missing_dir = f.dir.path().join("no/such/dir/catalog.db");
    assert_error(
        SqliteCatalog::open(&missing_dir),
        ErrorKind::Internal,
        "no/such/dir",
    );
}

#[test]
fn in_memory_catalogs_work_and_forget() {
    // The server holds the catalog as a trait object.
    let catalog: std::sync::Arc<dyn Catalog> =
        std::sync::Arc::new(SqliteCatalog::open_in_memory().unwrap());
    assert!(
        catalog
            .bootstrap("some-long-token-value")
            .unwrap()
            .is_some()
    );
    let other = SqliteCatalog::open_in_memory().unwrap();
    assert!(other.list_organizations().unwrap().is_empty());
}

/// Creating the schema leaves no write-ahead log behind: a new catalog's WAL file is empty,
/// its tables in the database file.
#[test]
fn a_new_catalog_leaves_its_schema_in_the_database_not_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let catalog = SqliteCatalog::open(&path).unwrap();
    let wal = std::fs::metadata(dir.path().join("catalog.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the WAL holds {wal} bytes after opening");
    assert!(std::fs::metadata(&path).unwrap().len() > 4096);
    drop(catalog);
    // And opening it again finds the schema there.
    let again = SqliteCatalog::open(&path).unwrap();
    assert!(again.list_organizations().unwrap().is_empty());
}
