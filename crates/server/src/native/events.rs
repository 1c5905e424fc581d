//! `GET /api/native/v1/events`: the custom events SignalFx clients send to `/v2/event`, by
//! type, dimensions and time, oldest first.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use sextant_api::{Event, EventList, EventProperty, EventQuery};
use sextant_catalog::{SfxEventFilter, SfxPropertyValue};

use super::blocking;
use crate::auth::{Action, Principal, authorize};
use crate::error::{HttpError, QueryParams};
use crate::state::AppState;

/// How many events a call returns when it names no limit.
const DEFAULT_LIMIT: usize = 1_000;
/// The most events one call returns.
const MAX_LIMIT: usize = 100_000;

/// `GET /api/native/v1/events`.
pub async fn list_events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryParams(query): QueryParams<EventQuery>,
) -> Result<Json<EventList>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let mut dimensions = Vec::new();
    for pair in query
        .dimension
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once(':').ok_or_else(|| {
            HttpError::invalid(format!("dimension {pair:?} is not of the form key:value"))
        })?;
        dimensions.push((key.to_owned(), value.to_owned()));
    }
    let filter = SfxEventFilter {
        event_type: query.event_type,
        dimensions,
        start: query.start,
        end: query.end,
        limit: query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let catalog = state.catalog.clone();
    let org = principal.organization_id.clone();
    let found = blocking(move || Ok(catalog.sfx_events(&org, &filter)?)).await?;
    let events = found
        .into_iter()
        .map(|e| Event {
            id: e.id,
            event_type: e.event_type,
            category: e.category,
            dimensions: e.dimensions.into_iter().collect(),
            properties: e
                .properties
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        SfxPropertyValue::Str(s) => EventProperty::Str(s),
                        SfxPropertyValue::Double(d) => EventProperty::Double(d),
                        SfxPropertyValue::Int(i) => EventProperty::Int(i),
                        SfxPropertyValue::Bool(b) => EventProperty::Bool(b),
                    };
                    (k, v)
                })
                .collect(),
            timestamp: e.timestamp,
        })
        .collect();
    Ok(Json(EventList { events }))
}
