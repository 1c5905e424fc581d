//! Stored calculated channels: names and client keys, versions with their change messages,
//! archiving, isolation.

use sextant_catalog::{Archived, CalculatedChannelDef, CalculatedChannelFilter, Catalog, Page};
use sextant_model::ErrorKind;

use crate::common::{Fixture, assert_error};

fn power() -> CalculatedChannelDef {
    CalculatedChannelDef {
        name: "power".into(),
        description: "electrical power".into(),
        units: Some("W".into()),
        expression: "$1 * $2".into(),
        references: vec![
            ("$1".into(), "voltage".into()),
            ("$2".into(), "current".into()),
        ],
        all_assets: true,
        ..Default::default()
    }
}

#[test]
fn versions_names_keys_and_archiving() {
    let f = Fixture::new();
    let org = f.org("acme");
    let other = f.org("globex");
    let c = &f.catalog;
    let v1 = c
        .create_calculated_channel(&org, Some("power-key"), &power(), "first", "key-1")
        .unwrap();
    assert_eq!((v1.version, v1.change_message.as_str()), (1, "created"));
    assert_eq!(v1.def, power());
    assert_error(
        c.create_calculated_channel(&org, Some("power-key"), &power(), "", "key-1"),
        ErrorKind::AlreadyExists,
        "client key \"power-key\"",
    );
    assert_error(
        c.create_calculated_channel(&org, None, &power(), "", "key-1"),
        ErrorKind::AlreadyExists,
        "name \"power\"",
    );
    // Another organization has its own names and keys.
    c.create_calculated_channel(&other, Some("power-key"), &power(), "", "key-9")
        .unwrap();
    assert_error(
        c.get_calculated_channel(&other, &v1.id),
        ErrorKind::NotFound,
        "calculated channel",
    );

    let mut def = power();
    def.expression = "$1 * $2 / 1000".into();
    def.units = Some("kW".into());
    let v2 = c
        .update_calculated_channel(&org, &v1.id, &def, None, "in kW", "key-2")
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.change_message, "changed units, expression");
    assert_eq!(
        (v2.created_by.as_str(), v2.modified_by.as_str()),
        ("key-1", "key-2")
    );
    assert_ne!(v2.version_id, v1.version_id);
    // Nothing changed: no version.
    let same = c
        .update_calculated_channel(&org, &v1.id, &def, None, "", "key-2")
        .unwrap();
    assert_eq!(same.version, 2);
    let (versions, _) = c
        .list_calculated_channel_versions(&org, &v1.id, Page::default())
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        c.get_calculated_channel_version(&org, &v1.version_id)
            .unwrap()
            .def,
        power()
    );
    assert_eq!(
        c.find_calculated_channel(&org, "power-key")
            .unwrap()
            .unwrap()
            .version,
        2
    );

    // Archived: left out of lists, its name free again.
    let archived = c
        .update_calculated_channel(&org, &v1.id, &def, Some(true), "", "key-2")
        .unwrap();
    assert!(archived.archived_at.is_some());
    assert_eq!(archived.change_message, "changed archived");
    let (listed, _) = c
        .list_calculated_channels(&org, &CalculatedChannelFilter::default(), Page::default())
        .unwrap();
    assert!(listed.is_empty());
    let filter = CalculatedChannelFilter {
        archived: Archived::Only,
        ..Default::default()
    };
    let (listed, _) = c
        .list_calculated_channels(&org, &filter, Page::default())
        .unwrap();
    assert_eq!(listed.len(), 1);
    c.create_calculated_channel(&org, None, &power(), "", "key-1")
        .unwrap();
    // Unarchiving it now would take a name in use.
    assert_error(
        c.update_calculated_channel(&org, &v1.id, &power(), Some(false), "", "key-1"),
        ErrorKind::AlreadyExists,
        "name \"power\"",
    );
}
