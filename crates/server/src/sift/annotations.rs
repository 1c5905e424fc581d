//! `sift.annotations.v1.AnnotationService`, the subset a reviewer needs: create, get, list
//! with filters, and update the state, assignee, name, description and tags. Live rules create
//! most annotations (see `docs/rules.md`); an annotation still open has no end time.

use sextant_catalog::{
    Annotation, AnnotationFilter, AnnotationState, AnnotationType, AnnotationUpdate, Archived,
    NewAnnotation, Page,
};
use sift_rs::annotations::v1::annotation_service_server::AnnotationService;
use sift_rs::annotations::v1::*;
use tonic::{Request, Response, Status};

use super::convert::{timestamp_from_pb, timestamp_to_pb};
use super::filter;
use crate::auth::{Action, authorize_call, check_organization};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct Annotations {
    pub(crate) state: AppState,
}

/// Sift's `AnnotationState` number.
pub fn state_to_pb(state: AnnotationState) -> i32 {
    match state {
        AnnotationState::Open => 1,
        AnnotationState::Flagged => 2,
        AnnotationState::Resolved => 3,
    }
}

fn state_from_pb(value: i32) -> Result<AnnotationState, Status> {
    match value {
        1 => Ok(AnnotationState::Open),
        2 => Ok(AnnotationState::Flagged),
        3 => Ok(AnnotationState::Resolved),
        other => Err(Status::invalid_argument(format!(
            "annotation state {other} is not one of OPEN (1), FLAGGED (2), RESOLVED (3)"
        ))),
    }
}

/// A state as a filter names it: `open`, `ANNOTATION_STATE_OPEN` or `1`.
fn state_from_filter(value: &str) -> Result<AnnotationState, Status> {
    let lower = value.to_ascii_lowercase();
    let name = lower.strip_prefix("annotation_state_").unwrap_or(&lower);
    if let Ok(number) = name.parse::<i32>() {
        return state_from_pb(number);
    }
    name.parse::<AnnotationState>()
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

fn type_to_pb(kind: AnnotationType) -> i32 {
    match kind {
        AnnotationType::DataReview => 1,
        AnnotationType::Phase => 2,
    }
}

/// The wire form of an annotation.
pub fn annotation_to_pb(a: Annotation) -> sift_rs::annotations::v1::Annotation {
    let f = a.fields;
    sift_rs::annotations::v1::Annotation {
        annotation_id: a.id,
        name: f.name,
        description: f.description,
        start_time: Some(timestamp_to_pb(f.start_time)),
        end_time: f.end_time.map(timestamp_to_pb),
        created_date: Some(timestamp_to_pb(a.created_at)),
        modified_date: Some(timestamp_to_pb(a.modified_at)),
        run_id: f.run_id,
        state: Some(state_to_pb(f.state)),
        organization_id: a.organization_id,
        assigned_to_user_id: f.assignee_user_id.unwrap_or_default(),
        annotation_type: type_to_pb(f.annotation_type),
        tags: f.tags,
        created_by_condition_id: f.rule_id,
        asset_ids: f.asset_ids,
        archived_date: a.archived_at.map(timestamp_to_pb),
        is_archived: a.archived_at.is_some(),
        ..Default::default()
    }
}

impl Annotations {
    /// Archives or unarchives the annotations `ids`, all or none, and returns them.
    async fn archive<T>(
        &self,
        request: &Request<T>,
        ids: Vec<String>,
        archived: bool,
    ) -> Result<Vec<sift_rs::annotations::v1::Annotation>, Status> {
        let principal = authorize_call(request, Action::ManageRules)?;
        let annotations = self
            .state
            .catalog(move |c| {
                c.set_annotations_archived(&principal.organization_id, &ids, archived)
            })
            .await?;
        Ok(annotations.into_iter().map(annotation_to_pb).collect())
    }
}

/// The fields an UpdateAnnotation mask may name.
const UPDATABLE: &[&str] = &[
    "state",
    "assigned_to_user_id",
    "name",
    "description",
    "tags",
];

#[tonic::async_trait]
impl AnnotationService for Annotations {
    async fn create_annotation(
        &self,
        request: Request<CreateAnnotationRequest>,
    ) -> Result<Response<CreateAnnotationResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let start_time = req
            .start_time
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("an annotation needs a start_time"))
            .and_then(|t| timestamp_from_pb(t, "start_time"))?;
        let annotation_type = match req.annotation_type {
            2 => AnnotationType::Phase,
            _ => AnnotationType::DataReview,
        };
        let fields = NewAnnotation {
            name: req.name,
            description: req.description,
            start_time,
            end_time: req
                .end_time
                .as_ref()
                .map(|t| timestamp_from_pb(t, "end_time"))
                .transpose()?,
            asset_ids: req.assets,
            run_id: req.run_id.filter(|id| !id.is_empty()),
            annotation_type,
            state: req
                .state
                .map(state_from_pb)
                .transpose()?
                .unwrap_or(AnnotationState::Open),
            assignee_user_id: req.assign_to_user_id.filter(|id| !id.is_empty()),
            tags: req.tags,
            rule_id: req.created_by_condition_id.filter(|id| !id.is_empty()),
        };
        let annotation = self
            .state
            .catalog(move |c| c.create_annotation(&principal.organization_id, &fields))
            .await?;
        Ok(Response::new(CreateAnnotationResponse {
            annotation: Some(annotation_to_pb(annotation)),
        }))
    }

    async fn delete_annotation(
        &self,
        request: Request<DeleteAnnotationRequest>,
    ) -> Result<Response<DeleteAnnotationResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let ids = vec![request.into_inner().annotation_id];
        let files = self
            .state
            .catalog(move |c| c.delete_annotations(&principal.organization_id, &ids))
            .await?;
        self.state.remove_file_blobs(files).await;
        Ok(Response::new(DeleteAnnotationResponse {}))
    }

    async fn archive_annotation(
        &self,
        request: Request<ArchiveAnnotationRequest>,
    ) -> Result<Response<ArchiveAnnotationResponse>, Status> {
        let ids = vec![request.get_ref().annotation_id.clone()];
        let annotation = self.archive(&request, ids, true).await?.pop();
        Ok(Response::new(ArchiveAnnotationResponse { annotation }))
    }

    async fn unarchive_annotation(
        &self,
        request: Request<UnarchiveAnnotationRequest>,
    ) -> Result<Response<UnarchiveAnnotationResponse>, Status> {
        let ids = vec![request.get_ref().annotation_id.clone()];
        let annotation = self.archive(&request, ids, false).await?.pop();
        Ok(Response::new(UnarchiveAnnotationResponse { annotation }))
    }

    async fn batch_delete_annotations(
        &self,
        request: Request<BatchDeleteAnnotationsRequest>,
    ) -> Result<Response<BatchDeleteAnnotationsResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let ids = request.into_inner().annotation_ids;
        let files = self
            .state
            .catalog(move |c| c.delete_annotations(&principal.organization_id, &ids))
            .await?;
        self.state.remove_file_blobs(files).await;
        Ok(Response::new(BatchDeleteAnnotationsResponse {}))
    }

    async fn batch_archive_annotations(
        &self,
        request: Request<BatchArchiveAnnotationsRequest>,
    ) -> Result<Response<BatchArchiveAnnotationsResponse>, Status> {
        let ids = request.get_ref().annotation_ids.clone();
        let annotations = self.archive(&request, ids, true).await?;
        Ok(Response::new(BatchArchiveAnnotationsResponse {
            annotations,
        }))
    }

    async fn batch_unarchive_annotations(
        &self,
        request: Request<BatchUnarchiveAnnotationsRequest>,
    ) -> Result<Response<BatchUnarchiveAnnotationsResponse>, Status> {
        let ids = request.get_ref().annotation_ids.clone();
        let annotations = self.archive(&request, ids, false).await?;
        Ok(Response::new(BatchUnarchiveAnnotationsResponse {
            annotations,
        }))
    }

    async fn list_annotations(
        &self,
        request: Request<ListAnnotationsRequest>,
    ) -> Result<Response<ListAnnotationsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let parsed = filter::parse_for(
            &req.filter,
            &[
                "annotation_id",
                "run_id",
                "asset_id",
                "assigned_to_user_id",
                "state",
                "tag_name",
                "created_by_condition_id",
                "rule_id",
                "is_archived",
            ],
        )?;
        let archived = match parsed.allowed("is_archived") {
            None => Archived::Not,
            Some(values) => {
                let says = |v: &str| values.iter().any(|x| x.eq_ignore_ascii_case(v));
                match (says("true"), says("false")) {
                    (true, true) => Archived::Either,
                    (true, false) => Archived::Only,
                    (false, true) => Archived::Not,
                    (false, false) => {
                        return Err(Status::invalid_argument(format!(
                            "is_archived is compared with {values:?}; it is true or false"
                        )));
                    }
                }
            }
        };
        let rule_ids = match (
            parsed.allowed("created_by_condition_id"),
            parsed.allowed("rule_id"),
        ) {
            (Some(a), Some(b)) => Some(a.into_iter().filter(|id| b.contains(id)).collect()),
            (a, b) => a.or(b),
        };
        let states = parsed
            .allowed("state")
            .map(|values| {
                values
                    .iter()
                    .map(|v| state_from_filter(v))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let filter = AnnotationFilter {
            ids: parsed.allowed("annotation_id"),
            rule_ids,
            asset_ids: parsed.allowed("asset_id"),
            run_ids: parsed.allowed("run_id"),
            states,
            assignee_user_ids: parsed.allowed("assigned_to_user_id"),
            tags: parsed.allowed("tag_name"),
            from: None,
            to: None,
            archived,
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (annotations, next) = self
            .state
            .catalog(move |c| c.list_annotations(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListAnnotationsResponse {
            annotations: annotations.into_iter().map(annotation_to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn get_annotation(
        &self,
        request: Request<GetAnnotationRequest>,
    ) -> Result<Response<GetAnnotationResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().annotation_id;
        let annotation = self
            .state
            .catalog(move |c| c.get_annotation(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetAnnotationResponse {
            annotation: Some(annotation_to_pb(annotation)),
        }))
    }

    async fn update_annotation(
        &self,
        request: Request<UpdateAnnotationRequest>,
    ) -> Result<Response<UpdateAnnotationResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        let annotation = req
            .annotation
            .ok_or_else(|| Status::invalid_argument("UpdateAnnotation needs an annotation"))?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Status::invalid_argument(format!(
                "UpdateAnnotation needs an update_mask naming the fields to change: {}",
                UPDATABLE.join(", ")
            )));
        }
        let mut update = AnnotationUpdate::default();
        for path in &paths {
            match path.as_str() {
                "state" => {
                    update.state = Some(state_from_pb(annotation.state.unwrap_or_default())?);
                }
                "assigned_to_user_id" => {
                    let id = annotation.assigned_to_user_id.clone();
                    update.assignee_user_id = Some((!id.is_empty()).then_some(id));
                }
                "name" => update.name = Some(annotation.name.clone()),
                "description" => update.description = Some(annotation.description.clone()),
                "tags" => update.tags = Some(annotation.tags.clone()),
                other => {
                    return Err(Status::invalid_argument(format!(
                        "update_mask names `{other}`, which UpdateAnnotation cannot change; it can change {}",
                        UPDATABLE.join(", ")
                    )));
                }
            }
        }
        let id = annotation.annotation_id;
        let annotation = self
            .state
            .catalog(move |c| c.update_annotation(&principal.organization_id, &id, update))
            .await?;
        Ok(Response::new(UpdateAnnotationResponse {
            annotation: Some(annotation_to_pb(annotation)),
        }))
    }
}
