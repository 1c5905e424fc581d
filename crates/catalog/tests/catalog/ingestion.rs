//! Ingestion configs and flows.

use sextant_catalog::{
    AssetFilter, Catalog, ChannelDef, ChannelFilter, FlowDef, IngestionConfigFilter, Page,
};
use sextant_model::{BitFieldElement, DataType, EnumType, ErrorKind};

use crate::common::{Fixture, assert_error, channel};

/// The seed's flows: enum with a signed entry, bit field, and one name with two types.
pub fn seed_flows() -> Vec<FlowDef> {
    let velocity = ChannelDef {
        unit: "m/s".into(),
        description: "speed of the main motor".into(),
        ..channel("mainmotor.velocity", DataType::Double)
    };
    let state = ChannelDef {
        enum_types: vec![
            EnumType::new("Accelerating", 0),
            EnumType::new("Decelerating", 1),
            EnumType {
                name: "Stopped".into(),
                key: 7,
                is_signed: true,
            },
        ],
        ..channel("vehicle_state", DataType::Enum)
    };
    let gpio = ChannelDef {
        bit_field_elements: vec![
            BitFieldElement::new("12v", 0, 1),
            BitFieldElement::new("charge", 1, 2),
            BitFieldElement::new("led", 3, 4),
            BitFieldElement::new("heater", 7, 1),
        ],
        ..channel("gpio", DataType::BitField)
    };
    vec![
        FlowDef {
            name: "readings".into(),
            channels: vec![
                velocity.clone(),
                state.clone(),
                channel("voltage", DataType::Int32),
                gpio,
            ],
        },
        FlowDef {
            name: "partial_readings".into(),
            channels: vec![velocity, channel("velocity_raw", DataType::Bytes)],
        },
        FlowDef {
            name: "logs".into(),
            channels: vec![
                channel("log", DataType::String),
                channel("voltage", DataType::Double),
            ],
        },
    ]
}

#[test]
fn creating_a_config_creates_asset_channels_and_flows() {
    let f = Fixture::new();
    let org = f.org("acme");
    let flows = seed_flows();
    let config = f
        .catalog
        .create_ingestion_config(&org, "NostromoLV426", Some("nostromo-v1"), &flows)
        .unwrap();
    assert_eq!(config.client_key.as_deref(), Some("nostromo-v1"));
    let (assets, _) = f
        .catalog
        .list_assets(
            &org,
            &AssetFilter {
                ids: None,
                names: Some(vec!["NostromoLV426".into()]),
                archived: None,
            },
            Page::first(1),
        )
        .unwrap();
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].id, config.asset_id);

    // Channels exist before any data: one per (name, type), `voltage` twice.
    let (channels, _) = f
        .catalog
        .list_channels(
            &org,
            &ChannelFilter {
                asset_ids: Some(vec![config.asset_id.clone()]),
                ..Default::default()
            },
            Page::first(1000),
        )
        .unwrap();
    let mut found: Vec<(String, DataType)> = channels
        .iter()
        .map(|c| (c.def.name.clone(), c.def.data_type))
        .collect();
    found.sort();
    let mut expected: Vec<(String, DataType)> = vec![
        ("gpio".into(), DataType::BitField),
        ("log".into(), DataType::String),
        ("mainmotor.velocity".into(), DataType::Double),
        ("vehicle_state".into(), DataType::Enum),
        ("velocity_raw".into(), DataType::Bytes),
        ("voltage".into(), DataType::Double),
        ("voltage".into(), DataType::Int32),
    ];
    expected.sort();
    assert_eq!(found, expected);

    assert_eq!(f.catalog.list_flows(&org, &config.id).unwrap(), flows);
    assert_eq!(
        f.catalog
            .find_ingestion_config(&org, "nostromo-v1")
            .unwrap(),
        Some(config.clone())
    );
    assert_eq!(
        f.catalog.find_ingestion_config(&org, "other").unwrap(),
        None
    );
    assert_eq!(
        f.catalog.get_ingestion_config(&org, &config.id).unwrap(),
        config
    );

    // The same asset name reuses the asset.
    let second = f
        .catalog
        .create_ingestion_config(&org, "NostromoLV426", Some("v2"), &[])
        .unwrap();
    assert_eq!(second.asset_id, config.asset_id);
    assert_eq!(f.catalog.list_flows(&org, &second.id).unwrap(), vec![]);
}

#[test]
fn client_keys_are_unique_per_organization() {
    let f = Fixture::new();
    let org = f.org("acme");
    let other = f.org("initech");
    f.catalog
        .create_ingestion_config(&org, "a", Some("k"), &[])
        .unwrap();
    assert_error(
        f.catalog.create_ingestion_config(&org, "b", Some("k"), &[]),
        ErrorKind::AlreadyExists,
        "client key \"k\"",
    );
    // The same key in another organization is another config.
    f.catalog
        .create_ingestion_config(&other, "a", Some("k"), &[])
        .unwrap();
    // No key, or an empty one, may repeat.
    let a = f
        .catalog
        .create_ingestion_config(&org, "a", None, &[])
        .unwrap();
    let b = f
        .catalog
        .create_ingestion_config(&org, "a", Some(""), &[])
        .unwrap();
    assert_eq!((a.client_key, b.client_key), (None, None));
    assert_eq!(f.catalog.find_ingestion_config(&org, "").unwrap(), None);

    // A failed create leaves nothing behind: not even its asset.
    assert_error(
        f.catalog
            .create_ingestion_config(&org, "fresh-asset", Some("k"), &[]),
        ErrorKind::AlreadyExists,
        "\"k\"",
    );
    let bad_flow = FlowDef {
        name: "f".into(),
        channels: vec![channel("x", DataType::Bool), channel("x", DataType::Bool)],
    };
    assert_error(
        f.catalog
            .create_ingestion_config(&org, "fresh-asset", Some("new"), &[bad_flow]),
        ErrorKind::InvalidInput,
        "flow \"f\" lists channel \"x\" of type bool twice",
    );
    assert_eq!(f.catalog.find_ingestion_config(&org, "new").unwrap(), None);
    let (assets, _) = f
        .catalog
        .list_assets(
            &org,
            &AssetFilter {
                ids: None,
                names: Some(vec!["fresh-asset".into()]),
                archived: None,
            },
            Page::first(10),
        )
        .unwrap();
    assert!(assets.is_empty());
}

/// The error a case expects: its kind and a part of its message.
type ExpectedError<'a> = Option<(ErrorKind, &'a str)>;

#[test]
fn add_flows_semantics() {
    let flows = seed_flows();
    let mut changed = flows[0].clone();
    changed.channels.swap(0, 1);
    let mut retyped = flows[2].clone();
    retyped.channels[0].data_type = DataType::Bytes;
    let new = FlowDef {
        name: "new".into(),
        channels: vec![channel("t", DataType::Uint64)],
    };
    let empty_name = FlowDef {
        name: String::new(),
        channels: vec![],
    };

    // (flows to add, expected error kind and message part, expected flow names afterwards)
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<FlowDef>, ExpectedError<'_>, Vec<String>)> = vec![
        (
            vec![flows[0].clone()],
            None,
            names(&["readings", "partial_readings", "logs"]),
        ),
        (
            flows.clone(),
            None,
            names(&["readings", "partial_readings", "logs"]),
        ),
        (
            vec![changed.clone()],
            Some((ErrorKind::AlreadyExists, "flow \"readings\"")),
            names(&["readings", "partial_readings", "logs"]),
        ),
        (
            vec![retyped],
            Some((ErrorKind::AlreadyExists, "flow \"logs\"")),
            names(&["readings", "partial_readings", "logs"]),
        ),
        // All or nothing: the new flow is not added when another conflicts.
        (
            vec![new.clone(), changed],
            Some((ErrorKind::AlreadyExists, "\"readings\"")),
            names(&["readings", "partial_readings", "logs"]),
        ),
        (
            vec![empty_name],
            Some((ErrorKind::InvalidInput, "flow name")),
            names(&["readings", "partial_readings", "logs"]),
        ),
        (
            vec![new.clone(), new.clone()],
            None,
            names(&["readings", "partial_readings", "logs", "new"]),
        ),
    ];
    for (index, (to_add, error, expected)) in cases.into_iter().enumerate() {
        let f = Fixture::new();
        let org = f.org("acme");
        let config = f
            .catalog
            .create_ingestion_config(&org, "rover", Some("k"), &flows)
            .unwrap();
        let result = f.catalog.add_flows(&org, &config.id, &to_add);
        match error {
            None => result.unwrap_or_else(|err| panic!("case {index}: {err}")),
            Some((kind, needle)) => assert_error(result, kind, needle),
        }
        let listed: Vec<String> = f
            .catalog
            .list_flows(&org, &config.id)
            .unwrap()
            .into_iter()
            .map(|flow| flow.name)
            .collect();
        assert_eq!(listed, expected, "case {index}");
    }
}

#[test]
fn added_flows_create_channels_and_resolve_in_order() {
    let f = Fixture::new();
    let org = f.org("acme");
    let config = f
        .catalog
        .create_ingestion_config(&org, "rover", Some("lazy"), &[])
        .unwrap();
    let flows = seed_flows();
    f.catalog.add_flows(&org, &config.id, &flows).unwrap();
    assert_eq!(f.catalog.list_flows(&org, &config.id).unwrap(), flows);

    for flow in &flows {
        let (def, ids) = f
            .catalog
            .flow(&org, &config.id, &flow.name)
            .unwrap()
            .unwrap();
        assert_eq!(&def, flow);
        assert_eq!(ids.len(), flow.channels.len());
        for (channel_def, id) in flow.channels.iter().zip(&ids) {
            let channel = f.catalog.get_channel(&org, id).unwrap();
            assert_eq!(channel.asset_id, config.asset_id);
            assert_eq!(
                (&channel.def.name, channel.def.data_type),
                (&channel_def.name, channel_def.data_type)
            );
        }
    }
    // `mainmotor.velocity` is one channel, shared by two flows.
    let (_, readings) = f
        .catalog
        .flow(&org, &config.id, "readings")
        .unwrap()
        .unwrap();
    let (_, partial) = f
        .catalog
        .flow(&org, &config.id, "partial_readings")
        .unwrap()
        .unwrap();
    assert_eq!(readings[0], partial[0]);

    assert_eq!(f.catalog.flow(&org, &config.id, "missing").unwrap(), None);
    assert_error(
        f.catalog.flow(&org, "no-config", "readings"),
        ErrorKind::NotFound,
        "ingestion config \"no-config\"",
    );
    assert_error(
        f.catalog.add_flows(&org, "no-config", &flows),
        ErrorKind::NotFound,
        "ingestion config \"no-config\"",
    );
    assert_error(
        f.catalog.list_flows(&org, "no-config"),
        ErrorKind::NotFound,
        "ingestion config \"no-config\"",
    );
}

#[test]
fn ingestion_config_filters() {
    let f = Fixture::new();
    let org = f.org("acme");
    let a = f
        .catalog
        .create_ingestion_config(&org, "rover", Some("a"), &[])
        .unwrap();
    let b = f
        .catalog
        .create_ingestion_config(&org, "lander", Some("b"), &[])
        .unwrap();
    let c = f
        .catalog
        .create_ingestion_config(&org, "rover", None, &[])
        .unwrap();
    let strings = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect());
    // (filter, configs expected in creation order)
    let cases = [
        (IngestionConfigFilter::default(), vec![&a, &b, &c]),
        (
            IngestionConfigFilter {
                client_keys: strings(&["b", "zz"]),
                ..Default::default()
            },
            vec![&b],
        ),
        (
            IngestionConfigFilter {
                ids: Some(vec![c.id.clone(), a.id.clone()]),
                ..Default::default()
            },
            vec![&a, &c],
        ),
        (
            IngestionConfigFilter {
                asset_ids: Some(vec![a.asset_id.clone()]),
                ..Default::default()
            },
            vec![&a, &c],
        ),
        (
            IngestionConfigFilter {
                asset_ids: Some(vec![a.asset_id.clone()]),
                client_keys: strings(&["a", "b"]),
                ids: None,
            },
            vec![&a],
        ),
        (
            IngestionConfigFilter {
                client_keys: Some(vec![]),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let (found, token) = f
            .catalog
            .list_ingestion_configs(&org, &filter, Page::first(1000))
            .unwrap();
        let expected: Vec<_> = expected.into_iter().cloned().collect();
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(token, "");
    }
}

#[test]
fn flows_keep_their_declaration_when_a_channel_is_redeclared() {
    let f = Fixture::new();
    let org = f.org("acme");
    let first = seed_flows();
    let v1 = f
        .catalog
        .create_ingestion_config(&org, "rover", Some("v1"), &first)
        .unwrap();

    // A second config for the same asset declares `mainmotor.velocity` with another unit.
    let mut velocity = first[0].channels[0].clone();
    velocity.unit = "km/h".into();
    let second = vec![FlowDef {
        name: "readings".into(),
        channels: vec![velocity.clone()],
    }];
    let v2 = f
        .catalog
        .create_ingestion_config(&org, "rover", Some("v2"), &second)
        .unwrap();

    // One channel record, now described by the newest declaration...
    let (_, v1_ids) = f.catalog.flow(&org, &v1.id, "readings").unwrap().unwrap();
    let (_, v2_ids) = f.catalog.flow(&org, &v2.id, "readings").unwrap().unwrap();
    assert_eq!(v1_ids[0], v2_ids[0]);
    assert_eq!(
        f.catalog.get_channel(&org, &v1_ids[0]).unwrap().def,
        velocity
    );
    // ...while each flow still lists exactly what was declared in it.
    assert_eq!(f.catalog.list_flows(&org, &v1.id).unwrap(), first);
    assert_eq!(f.catalog.list_flows(&org, &v2.id).unwrap(), second);
    let f = f.reopen();
    assert_eq!(f.catalog.list_flows(&org, &v1.id).unwrap(), first);
}
