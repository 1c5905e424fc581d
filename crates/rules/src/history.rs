//! Historical evaluation: a rule over stored data of one asset (and run) in a time range,
//! returning where it held. Nothing is stored; [`annotation`] gives the annotation a caller
//! records for a range.

use std::ops::Range;

use sextant_catalog::{AnnotationState, NewAnnotation, Rule};
use sextant_model::{Point, SeriesKey, Timestamp};
use sextant_query::Reader;

use crate::compile::CompiledRule;
use crate::error::{Error, Result};
use crate::evaluate::{StreamState, evaluate, ranges};

/// A range where a rule held: `[start, end)`, `end` `None` when it still held at the last
/// point of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldRange {
    /// The first true evaluation.
    pub start: Timestamp,
    /// The first false evaluation after it.
    pub end: Option<Timestamp>,
}

/// Evaluates `rule` over the data of asset `asset_name` in run `run_id` ("" for data sent
/// without a run) in `range`, from a fresh state, with the semantics of live evaluation.
/// The data is read through `reader`, whose organization it is and which may stop the read
/// ([`Reader::stopping_when`]).
pub fn evaluate_history(
    reader: &Reader<'_>,
    rule: &CompiledRule,
    asset_name: &str,
    run_id: &str,
    range: Range<Timestamp>,
) -> Result<Vec<HeldRange>> {
    let mut labels = vec![("asset", asset_name)];
    if !run_id.is_empty() {
        labels.push(("run", run_id));
    }
    let mut inputs: Vec<Vec<Point>> = Vec::with_capacity(rule.input_channels.len());
    for channel in &rule.input_channels {
        let key = SeriesKey::new(channel.clone(), labels.iter().copied()).map_err(|e| {
            Error::InvalidRule {
                rule: rule.rule.def.name.clone(),
                detail: format!("channel `{channel}`: {e}"),
            }
        })?;
        inputs.push(reader.points(&key, range.clone())?);
    }
    let mut state = StreamState::new(&rule.program);
    let transitions = evaluate(&rule.program, &mut state, &inputs, None);
    Ok(ranges(&transitions, None)
        .into_iter()
        .map(|(start, end)| HeldRange { start, end })
        .collect())
}

/// The annotation of a range where `rule` held on asset `asset_id` (in run `run_id`), as the
/// rule's action declares it: its name and description, type, assignee and `tags` (the names
/// of the action's tags), open for review. `end` is the range's end, or what the caller
/// makes of a range still holding at the end of the data (`None` leaves it open).
pub fn annotation(
    rule: &Rule,
    asset_id: &str,
    run_id: Option<&str>,
    tags: Vec<String>,
    start: Timestamp,
    end: Option<Timestamp>,
) -> NewAnnotation {
    let def = &rule.def;
    NewAnnotation {
        name: def.name.clone(),
        description: def.description.clone(),
        start_time: start,
        end_time: end,
        asset_ids: vec![asset_id.to_owned()],
        run_id: run_id.filter(|r| !r.is_empty()).map(str::to_owned),
        annotation_type: def.action.annotation_type,
        state: AnnotationState::Open,
        assignee_user_id: def.action.assignee_user_id.clone(),
        tags,
        rule_id: (!rule.id.is_empty()).then(|| rule.id.clone()),
    }
}
