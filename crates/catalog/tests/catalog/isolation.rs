//! No organization sees or changes another's rows.

use sextant_catalog::{
    AssetFilter, Catalog, ChannelFilter, IngestionConfig, IngestionConfigFilter, NewRun, Page, Run,
    RunFilter, RunUpdate, Scope,
};
use sextant_model::{DataType, ErrorKind};

use crate::common::{Fixture, assert_error, channel};
use crate::ingestion::seed_flows;

struct Tenant {
    org: String,
    config: IngestionConfig,
    channel_id: String,
    run: Run,
    key_id: String,
}

fn tenant(f: &Fixture, name: &str, client_key: &str) -> Tenant {
    let org = f.org(name);
    let config = f
        .catalog
        .create_ingestion_config(&org, "NostromoLV426", Some(client_key), &seed_flows())
        .unwrap();
    let (_, ids) = f
        .catalog
        .flow(&org, &config.id, "readings")
        .unwrap()
        .unwrap();
    let run = f
        .catalog
        .create_run(
            &org,
            NewRun {
                name: "run".into(),
                client_key: Some(client_key.into()),
                ..Default::default()
            },
        )
        .unwrap();
    f.catalog
        .associate_asset(&org, &run.id, &config.asset_id)
        .unwrap();
    let run = f.catalog.get_run(&org, &run.id).unwrap();
    let (key, _) = f
        .catalog
        .create_api_key(&org, "k", Scope::Read.into())
        .unwrap();
    Tenant {
        org,
        config,
        channel_id: ids[0].clone(),
        run,
        key_id: key.id,
    }
}

#[test]
fn organizations_never_see_each_other() {
    let f = Fixture::new();
    let us = tenant(&f, "acme", "shared-key");
    let them = tenant(&f, "initech", "their-key");
    let org = &us.org;

    // Gets of the other organization's ids are "not found".
    assert_error(
        f.catalog.get_asset(org, &them.config.asset_id),
        ErrorKind::NotFound,
        &them.config.asset_id,
    );
    assert_error(
        f.catalog.get_channel(org, &them.channel_id),
        ErrorKind::NotFound,
        &them.channel_id,
    );
    assert_error(
        f.catalog.get_ingestion_config(org, &them.config.id),
        ErrorKind::NotFound,
        &them.config.id,
    );
    assert_error(
        f.catalog.list_flows(org, &them.config.id),
        ErrorKind::NotFound,
        &them.config.id,
    );
    assert_error(
        f.catalog.flow(org, &them.config.id, "readings"),
        ErrorKind::NotFound,
        &them.config.id,
    );
    assert_error(
        f.catalog.get_run(org, &them.run.id),
        ErrorKind::NotFound,
        &them.run.id,
    );
    assert_eq!(
        f.catalog.find_ingestion_config(org, "their-key").unwrap(),
        None
    );

    // Changes through the other organization's ids fail and change nothing.
    assert_error(
        f.catalog.add_flows(org, &them.config.id, &seed_flows()),
        ErrorKind::NotFound,
        &them.config.id,
    );
    assert_error(
        f.catalog
            .get_or_create_channel(org, &them.config.asset_id, &channel("x", DataType::Bool)),
        ErrorKind::NotFound,
        &them.config.asset_id,
    );
    assert_error(
        f.catalog.update_run(
            org,
            &them.run.id,
            RunUpdate {
                name: Some("mine".into()),
                ..Default::default()
            },
        ),
        ErrorKind::NotFound,
        &them.run.id,
    );
    assert_error(
        f.catalog
            .associate_asset(org, &them.run.id, &us.config.asset_id),
        ErrorKind::NotFound,
        &them.run.id,
    );
    assert_error(
        f.catalog
            .associate_asset(org, &us.run.id, &them.config.asset_id),
        ErrorKind::NotFound,
        &them.config.asset_id,
    );
    assert_error(
        f.catalog.revoke_api_key(org, &them.key_id),
        ErrorKind::NotFound,
        &them.key_id,
    );
    assert_eq!(
        f.catalog.get_run(&them.org, &them.run.id).unwrap(),
        them.run
    );

    // Listings, unfiltered or filtered by the other organization's ids, hold only our rows.
    let page = || Page::first(1000);
    let (assets, _) = f
        .catalog
        .list_assets(org, &AssetFilter::default(), page())
        .unwrap();
    assert!(assets.iter().all(|a| a.organization_id == *org) && assets.len() == 1);
    let (assets, _) = f
        .catalog
        .list_assets(
            org,
            &AssetFilter {
                ids: Some(vec![them.config.asset_id.clone()]),
                names: None,
                archived: None,
            },
            page(),
        )
        .unwrap();
    assert!(assets.is_empty());

    let (channels, _) = f
        .catalog
        .list_channels(org, &ChannelFilter::default(), page())
        .unwrap();
    assert_eq!(channels.len(), 7);
    assert!(channels.iter().all(|c| c.asset_id == us.config.asset_id));
    let (channels, _) = f
        .catalog
        .list_channels(
            org,
            &ChannelFilter {
                asset_ids: Some(vec![them.config.asset_id.clone()]),
                ids: Some(vec![them.channel_id.clone()]),
                names: None,
            },
            page(),
        )
        .unwrap();
    assert!(channels.is_empty());

    let (configs, _) = f
        .catalog
        .list_ingestion_configs(org, &IngestionConfigFilter::default(), page())
        .unwrap();
    assert_eq!(configs, vec![us.config.clone()]);
    let (configs, _) = f
        .catalog
        .list_ingestion_configs(
            org,
            &IngestionConfigFilter {
                client_keys: Some(vec!["their-key".into()]),
                ..Default::default()
            },
            page(),
        )
        .unwrap();
    assert!(configs.is_empty());

    let (runs, _) = f
        .catalog
        .list_runs(org, &RunFilter::default(), page())
        .unwrap();
    assert_eq!(runs, vec![us.run.clone()]);
    let (runs, _) = f
        .catalog
        .list_runs(
            org,
            &RunFilter {
                ids: Some(vec![them.run.id.clone()]),
                ..Default::default()
            },
            page(),
        )
        .unwrap();
    assert!(runs.is_empty());

    let keys = f.catalog.list_api_keys(org).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, us.key_id);

    // The same client key and asset name in two organizations are two things.
    let ours = f
        .catalog
        .find_ingestion_config(org, "shared-key")
        .unwrap()
        .unwrap();
    let other_same_key = f
        .catalog
        .create_ingestion_config(&them.org, "NostromoLV426", Some("shared-key"), &[])
        .unwrap();
    assert_ne!(ours.id, other_same_key.id);
    assert_eq!(other_same_key.asset_id, them.config.asset_id);
}
