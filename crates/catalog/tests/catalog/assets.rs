//! Assets and channels.

use std::sync::Arc;

use sextant_catalog::{AssetFilter, Catalog, ChannelDef, ChannelFilter, Page};
use sextant_model::{BitFieldElement, DataType, EnumType, ErrorKind};

use crate::common::{Fixture, assert_error, channel};

#[test]
fn assets_are_found_by_name_or_created() {
    let f = Fixture::new();
    let org = f.org("acme");
    let a = f
        .catalog
        .get_or_create_asset(&org, "NostromoLV426")
        .unwrap();
    let b = f
        .catalog
        .get_or_create_asset(&org, "NostromoLV426")
        .unwrap();
    let c = f.catalog.get_or_create_asset(&org, "Sulaco").unwrap();
    assert_eq!(a, b);
    assert_ne!(a.id, c.id);
    assert_eq!(a.organization_id, org);
    assert_eq!(f.catalog.get_asset(&org, &a.id).unwrap(), a);
    assert_error(
        f.catalog.get_asset(&org, "missing"),
        ErrorKind::NotFound,
        "asset \"missing\" not found",
    );
    assert_error(
        f.catalog.get_or_create_asset(&org, ""),
        ErrorKind::InvalidInput,
        "asset name",
    );
    assert_error(
        f.catalog.get_or_create_asset("no-org", "x"),
        ErrorKind::NotFound,
        "organization \"no-org\"",
    );
}

#[test]
fn asset_filters() {
    let f = Fixture::new();
    let org = f.org("acme");
    let names = ["alpha", "beta", "gamma", "delta"];
    let assets: Vec<_> = names
        .iter()
        .map(|name| f.catalog.get_or_create_asset(&org, name).unwrap())
        .collect();
    let ids = |indexes: &[usize]| Some(indexes.iter().map(|&i| assets[i].id.clone()).collect());
    let names_of = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect());
    // (filter, indexes of the assets expected, in creation order)
    let cases: Vec<(AssetFilter, Vec<usize>)> = vec![
        (AssetFilter::default(), vec![0, 1, 2, 3]),
        (
            AssetFilter {
                ids: ids(&[2, 0]),
                names: None,
                archived: None,
            },
            vec![0, 2],
        ),
        (
            AssetFilter {
                ids: None,
                names: names_of(&["delta", "beta", "nope"]),
                archived: None,
            },
            vec![1, 3],
        ),
        (
            AssetFilter {
                ids: ids(&[0, 1]),
                names: names_of(&["beta", "gamma"]),
                archived: None,
            },
            vec![1],
        ),
        (
            AssetFilter {
                ids: Some(vec![]),
                names: None,
                archived: None,
            },
            vec![],
        ),
        (
            AssetFilter {
                ids: None,
                names: names_of(&["ALPHA"]),
                archived: None,
            },
            vec![],
        ),
        (
            AssetFilter {
                ids: None,
                names: names_of(&["al%"]),
                archived: None,
            },
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let (found, token) = f
            .catalog
            .list_assets(&org, &filter, Page::first(1000))
            .unwrap();
        let expected: Vec<_> = expected.iter().map(|&i| assets[i].clone()).collect();
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(token, "");
    }
}

fn gpio() -> ChannelDef {
    ChannelDef {
        name: "gpio".into(),
        data_type: DataType::BitField,
        unit: String::new(),
        description: "on-board switches".into(),
        enum_types: vec![],
        bit_field_elements: vec![
            BitFieldElement::new("12v", 0, 1),
            BitFieldElement::new("charge", 1, 2),
            BitFieldElement::new("led", 3, 4),
            BitFieldElement::new("heater", 7, 1),
        ],
    }
}

fn state() -> ChannelDef {
    ChannelDef {
        name: "vehicle_state".into(),
        data_type: DataType::Enum,
        unit: "vehicle state".into(),
        description: "the state machine".into(),
        enum_types: vec![
            EnumType::new("Accelerating", 0),
            EnumType::new("Decelerating", 1),
            EnumType {
                name: "Reverse".into(),
                key: u32::MAX,
                is_signed: true,
            },
        ],
        bit_field_elements: vec![],
    }
}

#[test]
fn channels_are_keyed_by_asset_name_and_type() {
    let f = Fixture::new();
    let org = f.org("acme");
    let asset = f.catalog.get_or_create_asset(&org, "rover").unwrap();
    let other_asset = f.catalog.get_or_create_asset(&org, "lander").unwrap();

    let as_double = f
        .catalog
        .get_or_create_channel(
            &org,
            &asset.id,
            &channel("mainmotor.velocity", DataType::Double),
        )
        .unwrap();
    let as_int = f
        .catalog
        .get_or_create_channel(
            &org,
            &asset.id,
            &channel("mainmotor.velocity", DataType::Int64),
        )
        .unwrap();
    let on_other_asset = f
        .catalog
        .get_or_create_channel(
            &org,
            &other_asset.id,
            &channel("mainmotor.velocity", DataType::Double),
        )
        .unwrap();
    let again = f
        .catalog
        .get_or_create_channel(
            &org,
            &asset.id,
            &channel("mainmotor.velocity", DataType::Double),
        )
        .unwrap();
    assert_ne!(as_double.id, as_int.id);
    assert_ne!(as_double.id, on_other_asset.id);
    assert_eq!(again, as_double);

    let gpio = f
        .catalog
        .get_or_create_channel(&org, &asset.id, &gpio())
        .unwrap();
    let state = f
        .catalog
        .get_or_create_channel(&org, &asset.id, &state())
        .unwrap();
    assert_eq!(
        f.catalog.get_channel(&org, &gpio.id).unwrap().def,
        self::gpio()
    );
    assert_eq!(
        f.catalog.get_channel(&org, &state.id).unwrap().def,
        self::state()
    );

    // A newer declaration updates the metadata but keeps the id.
    let mut renamed_unit = channel("mainmotor.velocity", DataType::Double);
    renamed_unit.unit = "m/s".into();
    renamed_unit.description = "speed".into();
    let updated = f
        .catalog
        .get_or_create_channel(&org, &asset.id, &renamed_unit)
        .unwrap();
    assert_eq!(updated.id, as_double.id);
    assert_eq!(updated.created_at, as_double.created_at);
    assert_eq!(
        f.catalog.get_channel(&org, &as_double.id).unwrap().def,
        renamed_unit
    );

    let names = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect());
    // (filter, ids expected in creation order)
    let cases: Vec<(ChannelFilter, Vec<&str>)> = vec![
        (
            ChannelFilter {
                asset_ids: Some(vec![asset.id.clone()]),
                ..Default::default()
            },
            vec![&as_double.id, &as_int.id, &gpio.id, &state.id],
        ),
        (
            ChannelFilter {
                asset_ids: Some(vec![asset.id.clone()]),
                names: names(&["mainmotor.velocity"]),
                ids: None,
            },
            vec![&as_double.id, &as_int.id],
        ),
        (
            ChannelFilter {
                names: names(&["mainmotor.velocity"]),
                ..Default::default()
            },
            vec![&as_double.id, &as_int.id, &on_other_asset.id],
        ),
        (
            ChannelFilter {
                ids: Some(vec![state.id.clone()]),
                ..Default::default()
            },
            vec![&state.id],
        ),
        (
            ChannelFilter {
                asset_ids: Some(vec![other_asset.id.clone()]),
                names: names(&["gpio"]),
                ids: None,
            },
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let (found, token) = f
            .catalog
            .list_channels(&org, &filter, Page::first(1000))
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, expected, "{filter:?}");
        assert_eq!(token, "");
    }

    assert_error(
        f.catalog
            .get_or_create_channel(&org, "no-asset", &self::gpio()),
        ErrorKind::NotFound,
        "asset \"no-asset\"",
    );
    assert_error(
        f.catalog
            .get_or_create_channel(&org, &asset.id, &channel("", DataType::Bool)),
        ErrorKind::InvalidInput,
        "channel name",
    );
    assert_error(
        f.catalog.get_channel(&org, "nope"),
        ErrorKind::NotFound,
        "channel \"nope\"",
    );
}

#[test]
fn concurrent_get_or_create_agree() {
    let f = Fixture::new();
    let org = f.org("acme");
    let catalog = Arc::new(f.catalog);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let catalog = Arc::clone(&catalog);
            let org = org.clone();
            std::thread::spawn(move || {
                let asset = catalog.get_or_create_asset(&org, "shared").unwrap();
                let channel = catalog
                    .get_or_create_channel(&org, &asset.id, &channel("x", DataType::Float))
                    .unwrap();
                (asset.id, channel.id)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    let (assets, _) = catalog
        .list_assets(&org, &AssetFilter::default(), Page::first(10))
        .unwrap();
    assert_eq!(assets.len(), 1);
}
