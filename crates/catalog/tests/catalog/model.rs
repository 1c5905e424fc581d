//! Random sequences of operations agree with a plain in-memory model of the catalog.

use proptest::prelude::*;
use sextant_catalog::{
    AssetFilter, Catalog, ChannelFilter, FlowDef, IngestionConfigFilter, NewRun, RunFilter,
};
use sextant_model::{DataType, ErrorKind};

use crate::common::{Fixture, channel};
use crate::pagination::collect;

const ASSETS: [&str; 3] = ["rover", "lander", "orbiter"];
const CHANNELS: [&str; 3] = ["velocity", "state", "mainmotor.velocity"];
const TYPES: [DataType; 2] = [DataType::Double, DataType::Int32];
const KEYS: [&str; 2] = ["k1", "k2"];

#[derive(Debug, Clone)]
enum Op {
    Asset {
        org: usize,
        asset: usize,
    },
    Channel {
        org: usize,
        asset: usize,
        channel: usize,
        data_type: usize,
    },
    Run {
        org: usize,
        name: usize,
        key: Option<usize>,
    },
    Config {
        org: usize,
        asset: usize,
        key: Option<usize>,
        channels: Vec<(usize, usize)>,
    },
    ListAssets {
        org: usize,
        names: Option<Vec<usize>>,
        size: u32,
    },
    ListChannels {
        org: usize,
        names: Option<Vec<usize>>,
        size: u32,
    },
    ListRuns {
        org: usize,
        size: u32,
    },
    ListConfigs {
        org: usize,
        size: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let org = 0..2usize;
    prop_oneof![
        (org.clone(), 0..3usize).prop_map(|(org, asset)| Op::Asset { org, asset }),
        (org.clone(), 0..3usize, 0..3usize, 0..2usize).prop_map(
            |(org, asset, channel, data_type)| {
                Op::Channel {
                    org,
                    asset,
                    channel,
                    data_type,
                }
            }
        ),
        (org.clone(), 0..3usize, proptest::option::of(0..2usize))
            .prop_map(|(org, name, key)| Op::Run { org, name, key }),
        (
            org.clone(),
            0..3usize,
            proptest::option::of(0..2usize),
            proptest::collection::vec((0..3usize, 0..2usize), 0..4)
        )
            .prop_map(|(org, asset, key, channels)| Op::Config {
                org,
                asset,
                key,
                channels
            }),
        (
            org.clone(),
            proptest::option::of(proptest::collection::vec(0..3usize, 0..3)),
            0..4u32
        )
            .prop_map(|(org, names, size)| Op::ListAssets { org, names, size }),
        (
            org.clone(),
            proptest::option::of(proptest::collection::vec(0..3usize, 0..3)),
            0..4u32
        )
            .prop_map(|(org, names, size)| Op::ListChannels { org, names, size }),
        (org.clone(), 0..4u32).prop_map(|(org, size)| Op::ListRuns { org, size }),
        (org, 0..4u32).prop_map(|(org, size)| Op::ListConfigs { org, size }),
    ]
}

/// One organization's rows, in creation order.
#[derive(Debug, Default)]
struct Tenant {
    /// (asset name, asset id)
    assets: Vec<(String, String)>,
    /// (asset id, channel name, data type, channel id)
    channels: Vec<(String, String, DataType, String)>,
    /// (run id, run name)
    runs: Vec<(String, String)>,
    /// (config id, client key)
    configs: Vec<(String, Option<String>)>,
    run_keys: Vec<String>,
}

impl Tenant {
    fn asset(&mut self, name: &str, id: &str) {
        match self.assets.iter().find(|(n, _)| n == name) {
            Some((_, known)) => assert_eq!(known, id, "asset {name} changed id"),
            None => self.assets.push((name.to_owned(), id.to_owned())),
        }
    }

    fn channel(&mut self, asset_id: &str, name: &str, data_type: DataType, id: &str) {
        let found = self
            .channels
            .iter()
            .find(|(a, n, t, _)| a == asset_id && n == name && *t == data_type);
        match found {
            Some((_, _, _, known)) => assert_eq!(known, id, "channel {name} changed id"),
            None => self.channels.push((
                asset_id.to_owned(),
                name.to_owned(),
                data_type,
                id.to_owned(),
            )),
        }
    }
}

fn run(ops: Vec<Op>) {
    let f = Fixture::new();
    let orgs = [f.org("acme"), f.org("initech")];
    let mut model = [Tenant::default(), Tenant::default()];
    for op in ops {
        match op {
            Op::Asset { org, asset } => {
                let found = f
                    .catalog
                    .get_or_create_asset(&orgs[org], ASSETS[asset])
                    .unwrap();
                model[org].asset(ASSETS[asset], &found.id);
            }
            Op::Channel {
                org,
                asset,
                channel: c,
                data_type,
            } => {
                let a = f
                    .catalog
                    .get_or_create_asset(&orgs[org], ASSETS[asset])
                    .unwrap();
                model[org].asset(ASSETS[asset], &a.id);
                let def = channel(CHANNELS[c], TYPES[data_type]);
                let found = f
                    .catalog
                    .get_or_create_channel(&orgs[org], &a.id, &def)
                    .unwrap();
                model[org].channel(&a.id, CHANNELS[c], TYPES[data_type], &found.id);
            }
            Op::Run { org, name, key } => {
                let key = key.map(|k| KEYS[k].to_owned());
                let new = NewRun {
                    name: format!("run-{name}"),
                    client_key: key.clone(),
                    ..Default::default()
                };
                let result = f.catalog.create_run(&orgs[org], new);
                match key {
                    Some(key) if model[org].run_keys.contains(&key) => {
                        assert_eq!(result.unwrap_err().kind(), ErrorKind::AlreadyExists);
                    }
                    _ => {
                        let created = result.unwrap();
                        model[org].run_keys.extend(key);
                        model[org].runs.push((created.id, created.name));
                    }
                }
            }
            Op::Config {
                org,
                asset,
                key,
                channels,
            } => {
                let key = key.map(|k| KEYS[k]);
                let mut defs: Vec<_> = Vec::new();
                for (c, t) in channels {
                    let def = channel(CHANNELS[c], TYPES[t]);
                    if !defs.contains(&def) {
                        defs.push(def);
                    }
                }
                let flow = FlowDef {
                    name: "flow".into(),
                    channels: defs.clone(),
                };
                let result =
                    f.catalog
                        .create_ingestion_config(&orgs[org], ASSETS[asset], key, &[flow]);
                let taken = key.is_some_and(|k| {
                    model[org]
                        .configs
                        .iter()
                        .any(|(_, known)| known.as_deref() == Some(k))
                });
                if taken {
                    assert_eq!(result.unwrap_err().kind(), ErrorKind::AlreadyExists);
                    continue;
                }
                let config = result.unwrap();
                model[org].asset(ASSETS[asset], &config.asset_id);
                let (_, ids) = f
                    .catalog
                    .flow(&orgs[org], &config.id, "flow")
                    .unwrap()
                    .unwrap();
                for (def, id) in defs.iter().zip(&ids) {
                    model[org].channel(&config.asset_id, &def.name, def.data_type, id);
                }
                model[org].configs.push((config.id, key.map(str::to_owned)));
            }
            Op::ListAssets { org, names, size } => {
                let names: Option<Vec<String>> =
                    names.map(|n| n.iter().map(|&i| ASSETS[i].to_owned()).collect());
                let filter = AssetFilter {
                    ids: None,
                    names: names.clone(),
                    archived: None,
                };
                let listed: Vec<(String, String)> = collect(
                    |page| f.catalog.list_assets(&orgs[org], &filter, page),
                    size,
                )
                .into_iter()
                .map(|a| (a.name, a.id))
                .collect();
                let expected: Vec<_> = model[org]
                    .assets
                    .iter()
                    .filter(|(n, _)| names.as_ref().is_none_or(|names| names.contains(n)))
                    .cloned()
                    .collect();
                assert_eq!(listed, expected);
            }
            Op::ListChannels { org, names, size } => {
                let names: Option<Vec<String>> =
                    names.map(|n| n.iter().map(|&i| CHANNELS[i].to_owned()).collect());
                let filter = ChannelFilter {
                    names: names.clone(),
                    ..Default::default()
                };
                let listed: Vec<String> = collect(
                    |page| f.catalog.list_channels(&orgs[org], &filter, page),
                    size,
                )
                .into_iter()
                .map(|c| c.id)
                .collect();
                let expected: Vec<String> = model[org]
                    .channels
                    .iter()
                    .filter(|(_, n, _, _)| names.as_ref().is_none_or(|names| names.contains(n)))
                    .map(|(_, _, _, id)| id.clone())
                    .collect();
                assert_eq!(listed, expected);
            }
            Op::ListRuns { org, size } => {
                let listed: Vec<(String, String)> = collect(
                    |page| f.catalog.list_runs(&orgs[org], &RunFilter::default(), page),
                    size,
                )
                .into_iter()
                .map(|r| (r.id, r.name))
                .collect();
                let expected: Vec<_> = model[org].runs.iter().rev().cloned().collect();
                assert_eq!(listed, expected);
            }
            Op::ListConfigs { org, size } => {
                let listed: Vec<(String, Option<String>)> = collect(
                    |page| {
                        f.catalog.list_ingestion_configs(
                            &orgs[org],
                            &IngestionConfigFilter::default(),
                            page,
                        )
                    },
                    size,
                )
                .into_iter()
                .map(|c| (c.id, c.client_key))
                .collect();
                assert_eq!(listed, model[org].configs);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn operations_agree_with_a_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
