//! Page sizes and page tokens.

use sextant_catalog::{
    AssetFilter, Catalog, ChannelFilter, IngestionConfigFilter, NewRun, Page, RunFilter,
};
use sextant_model::{DataType, ErrorKind};

use crate::common::{Fixture, assert_error, channel};

/// Follows the tokens of a listing to its end, checking that every page but the last is full
/// and that the last one ends with an empty token.
pub fn collect<T: std::fmt::Debug>(
    mut list: impl FnMut(Page) -> sextant_catalog::Result<(Vec<T>, String)>,
    size: u32,
) -> Vec<T> {
    let full = match size {
        0 => Page::DEFAULT_SIZE,
        size => size.min(Page::MAX_SIZE),
    } as usize;
    let mut all = Vec::new();
    let mut token = String::new();
    for _ in 0..100_000 {
        let (items, next) = list(Page::next(size, token.clone())).unwrap();
        assert!(items.len() <= full);
        let last = next.is_empty();
        if !last {
            assert_eq!(items.len(), full, "a page before the last is full");
        }
        all.extend(items);
        if last {
            return all;
        }
        assert_ne!(next, token, "the token moves on");
        token = next;
    }
    panic!("listing never ended");
}

#[test]
fn every_page_size_sees_every_row_once() {
    let f = Fixture::new();
    let org = f.org("acme");
    let count = 57;
    let assets: Vec<_> = (0..count)
        .map(|i| {
            f.catalog
                .get_or_create_asset(&org, &format!("asset-{i:03}"))
                .unwrap()
        })
        .collect();
    let runs: Vec<_> = (0..count)
        .map(|i| {
            f.catalog
                .create_run(
                    &org,
                    NewRun {
                        name: format!("run-{i}"),
                        ..Default::default()
                    },
                )
                .unwrap()
        })
        .collect();
    let newest_first: Vec<_> = runs.iter().rev().cloned().collect();
    for asset in &assets[..3] {
        for i in 0..20 {
            f.catalog
                .get_or_create_channel(
                    &org,
                    &asset.id,
                    &channel(&format!("c{i}"), DataType::Double),
                )
                .unwrap();
        }
        f.catalog
            .create_ingestion_config(&org, &asset.name, Some(&asset.name), &[])
            .unwrap();
    }

    for size in [1, 2, 7, 50, 56, 57, 58, 1000, 0, 5000] {
        let listed = collect(
            |page| f.catalog.list_assets(&org, &AssetFilter::default(), page),
            size,
        );
        assert_eq!(listed, assets, "page size {size}");
        let listed = collect(
            |page| f.catalog.list_runs(&org, &RunFilter::default(), page),
            size,
        );
        assert_eq!(listed, newest_first, "page size {size}");
        let channels = collect(
            |page| {
                f.catalog
                    .list_channels(&org, &ChannelFilter::default(), page)
            },
            size,
        );
        assert_eq!(channels.len(), 60, "page size {size}");
        let configs = collect(
            |page| {
                f.catalog
                    .list_ingestion_configs(&org, &IngestionConfigFilter::default(), page)
            },
            size,
        );
        assert_eq!(configs.len(), 3, "page size {size}");
    }

    // Filters hold across pages.
    let names: Vec<String> = (0..count)
        .step_by(5)
        .map(|i| format!("asset-{i:03}"))
        .collect();
    let filter = AssetFilter {
        ids: None,
        names: Some(names.clone()),
        archived: None,
    };
    let listed = collect(|page| f.catalog.list_assets(&org, &filter, page), 2);
    assert_eq!(
        listed.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        names
    );
}

#[test]
fn exact_fit_ends_with_an_empty_token() {
    let f = Fixture::new();
    let org = f.org("acme");
    for i in 0..4 {
        f.catalog
            .get_or_create_asset(&org, &format!("a{i}"))
            .unwrap();
    }
    let (first, token) = f
        .catalog
        .list_assets(&org, &AssetFilter::default(), Page::first(2))
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(!token.is_empty());
    let (second, token) = f
        .catalog
        .list_assets(&org, &AssetFilter::default(), Page::next(2, token))
        .unwrap();
    assert_eq!(second.len(), 2);
    assert_eq!(token, "");
    let (all, token) = f
        .catalog
        .list_assets(&org, &AssetFilter::default(), Page::first(4))
        .unwrap();
    assert_eq!((all.len(), token.as_str()), (4, ""));

    let (none, token) = f
        .catalog
        .list_runs(&org, &RunFilter::default(), Page::first(1))
        .unwrap();
    assert!(none.is_empty() && token.is_empty());
}

#[test]
fn rows_added_between_pages_do_not_shift_them() {
    let f = Fixture::new();
    let org = f.org("acme");
    for i in 0..3 {
        f.catalog
            .create_run(
                &org,
                NewRun {
                    name: format!("old-{i}"),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let (first, token) = f
        .catalog
        .list_runs(&org, &RunFilter::default(), Page::first(2))
        .unwrap();
    assert_eq!(
        first.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["old-2", "old-1"]
    );
    f.catalog
        .create_run(
            &org,
            NewRun {
                name: "new".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let (second, token) = f
        .catalog
        .list_runs(&org, &RunFilter::default(), Page::next(2, token))
        .unwrap();
    assert_eq!(
        second.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["old-0"]
    );
    assert_eq!(token, "");
}

#[test]
fn foreign_tokens_are_invalid_input() {
    let f = Fixture::new();
    let org = f.org("acme");
    for token in ["garbage", "12", "sxp1.xyz"] {
        assert_error(
            f.catalog
                .list_assets(&org, &AssetFilter::default(), Page::next(10, token)),
            ErrorKind::InvalidInput,
            &format!("invalid page token {token:?}"),
        );
    }
}
