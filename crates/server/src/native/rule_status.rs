//! What the web console's rules page shows: each rule's assets by name, whether it is
//! evaluated live, and how many annotations it has in each state; and the asset list the
//! historical evaluation form picks from.

use std::collections::HashMap;

use axum::extract::State;
use axum::{Extension, Json};
use sextant_api::explore::{AnnotationCounts, AssetInfo, AssetList, RuleStatus, RuleStatusList};
use sextant_catalog::{
    AnnotationFilter, AnnotationState, AssetFilter, Page, Principal, RuleFilter, all_pages,
};

use super::blocking;
use crate::auth::{Action, authorize};
use crate::error::HttpError;
use crate::state::AppState;

pub(super) async fn list_assets(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<AssetList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let assets = blocking(move || {
        Ok(all_pages(|page| {
            state
                .catalog
                .list_assets(&principal.organization_id, &AssetFilter::default(), page)
        })?)
    })
    .await?;
    let mut assets: Vec<AssetInfo> = assets
        .into_iter()
        .map(|a| AssetInfo {
            asset_id: a.id,
            name: a.name,
        })
        .collect();
    assets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(AssetList { assets }))
}

pub(super) async fn rule_status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<RuleStatusList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let list = blocking(move || {
        let catalog = state.catalog.as_ref();
        let org = &principal.organization_id;
        let every = RuleFilter {
            include_archived: true,
            ..RuleFilter::default()
        };
        let rules = all_pages(|page| catalog.list_rules(org, &every, page))?;
        let assets: HashMap<String, String> =
            all_pages(|page| catalog.list_assets(org, &AssetFilter::default(), page))?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect();
        // One pass over the annotations of these rules, counted by rule and state.
        let mut counts: HashMap<String, AnnotationCounts> = HashMap::new();
        let filter = AnnotationFilter {
            rule_ids: Some(rules.iter().map(|r| r.id.clone()).collect()),
            ..AnnotationFilter::default()
        };
        let mut token = String::new();
        loop {
            let page = Page {
                size: Page::MAX_SIZE,
                token,
            };
            let (annotations, next) = catalog.list_annotations(org, &filter, page)?;
            for a in annotations {
                let Some(rule) = a.fields.rule_id else {
                    continue;
                };
                let count = counts.entry(rule).or_default();
                match a.fields.state {
                    AnnotationState::Open => count.open += 1,
                    AnnotationState::Flagged => count.flagged += 1,
                    AnnotationState::Resolved => count.resolved += 1,
                }
            }
            if next.is_empty() {
                break;
            }
            token = next;
        }
        let mut rules: Vec<RuleStatus> = rules
            .into_iter()
            .map(|r| RuleStatus {
                annotations: counts.get(&r.id).copied().unwrap_or_default(),
                status: if r.archived_at.is_some() {
                    "archived"
                } else if r.def.is_live {
                    "live"
                } else {
                    "stored"
                }
                .to_owned(),
                assets: r
                    .def
                    .asset_ids
                    .iter()
                    .filter_map(|id| assets.get(id).cloned())
                    .collect(),
                channel_references: r.def.channel_references.into_iter().collect(),
                expression: r.def.expression,
                name: r.def.name,
                rule_id: r.id,
            })
            .collect();
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RuleStatusList { rules })
    })
    .await?;
    Ok(Json(list))
}
