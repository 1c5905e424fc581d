//! The catalog's rules and annotations in their wire form (`sextant-api`), and back.

use sextant_api as api;
use sextant_catalog::{Annotation, AnnotationState, AnnotationType, Rule};

/// The wire name of an annotation type.
pub fn annotation_type(t: AnnotationType) -> api::AnnotationType {
    match t {
        AnnotationType::DataReview => api::AnnotationType::Review,
        AnnotationType::Phase => api::AnnotationType::Phase,
    }
}

/// The catalog's annotation type of a wire name.
pub fn catalog_annotation_type(t: api::AnnotationType) -> AnnotationType {
    match t {
        api::AnnotationType::Review => AnnotationType::DataReview,
        api::AnnotationType::Phase => AnnotationType::Phase,
    }
}

/// The wire form of an annotation state.
pub fn state(s: AnnotationState) -> api::AnnotationState {
    match s {
        AnnotationState::Open => api::AnnotationState::Open,
        AnnotationState::Flagged => api::AnnotationState::Flagged,
        AnnotationState::Resolved => api::AnnotationState::Resolved,
    }
}

/// The catalog's annotation state of a wire state.
pub fn catalog_state(s: api::AnnotationState) -> AnnotationState {
    match s {
        api::AnnotationState::Open => AnnotationState::Open,
        api::AnnotationState::Flagged => AnnotationState::Flagged,
        api::AnnotationState::Resolved => AnnotationState::Resolved,
    }
}

/// A stored rule on the wire.
pub fn rule(rule: &Rule) -> api::Rule {
    let def = &rule.def;
    api::Rule {
        rule_id: rule.id.clone(),
        version: rule.version,
        name: def.name.clone(),
        client_key: def.client_key.clone(),
        description: def.description.clone(),
        expression: def.expression.clone(),
        channel_references: def.channel_references.iter().cloned().collect(),
        contextual_channels: def.contextual_channels.clone(),
        asset_ids: def.asset_ids.clone(),
        rule_type: annotation_type(def.action.annotation_type),
        assignee_user_id: def.action.assignee_user_id.clone(),
        tag_ids: def.action.tag_ids.clone(),
        live: def.is_live,
        webhook_url: def.webhook_url.clone(),
        archived: rule.archived_at.is_some(),
    }
}

/// An annotation on the wire.
pub fn annotation(a: &Annotation) -> api::Annotation {
    let f = &a.fields;
    api::Annotation {
        annotation_id: a.id.clone(),
        name: f.name.clone(),
        description: f.description.clone(),
        start_time: f.start_time,
        end_time: f.end_time,
        asset_ids: f.asset_ids.clone(),
        run_id: f.run_id.clone(),
        annotation_type: annotation_type(f.annotation_type),
        state: state(f.state),
        assignee_user_id: f.assignee_user_id.clone(),
        tags: f.tags.clone(),
        rule_id: f.rule_id.clone(),
        created_at: a.created_at,
        modified_at: a.modified_at,
    }
}
