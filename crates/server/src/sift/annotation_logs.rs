//! `sift.annotation_logs.v1.AnnotationLogService`: an annotation's review history (comments,
//! state changes, assignments), to which files can be attached as to the annotation itself.

use sextant_catalog::{AnnotationLog, AnnotationLogEntry, CommentElement, Page};
use sift_rs::annotation_logs::v1::annotation_log_service_server::AnnotationLogService;
use sift_rs::annotation_logs::v1::*;
use tonic::{Request, Response, Status};

use super::convert::timestamp_to_pb;
use super::filter;
use crate::auth::{Action, authorize_call};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct AnnotationLogs {
    pub(crate) state: AppState,
}

const STATES: [(AnnotationLogState, &str); 4] = [
    (AnnotationLogState::Created, "created"),
    (AnnotationLogState::Open, "open"),
    (AnnotationLogState::Flagged, "flagged"),
    (AnnotationLogState::Resolved, "resolved"),
];

const KINDS: [(AnnotationLogKind, &str); 3] = [
    (AnnotationLogKind::Comment, "comment"),
    (AnnotationLogKind::StateUpdate, "state_update"),
    (AnnotationLogKind::Assigned, "assigned"),
];

fn entry_from_pb(req: CreateAnnotationLogRequest) -> Result<AnnotationLogEntry, Status> {
    use create_annotation_log_request::Properties;
    let kind = AnnotationLogKind::try_from(req.kind).unwrap_or(AnnotationLogKind::Unspecified);
    let entry = match req.properties {
        Some(Properties::Comment(comment)) => AnnotationLogEntry::Comment {
            body: comment
                .body
                .into_iter()
                .enumerate()
                .map(|(i, element)| {
                    match AnnotationCommentBodyElementType::try_from(element.r#type) {
                        Ok(AnnotationCommentBodyElementType::Text) => {
                            Ok(CommentElement::Text { text: element.text })
                        }
                        Ok(AnnotationCommentBodyElementType::UserMention) => {
                            let mention = element.user_mention.unwrap_or_default();
                            Ok(CommentElement::Mention {
                                user_id: mention.user_id,
                                user_email: mention.user_email,
                            })
                        }
                        _ => Err(Status::invalid_argument(format!(
                            "comment body element {i} has type {}; it must be TEXT or \
                             USER_MENTION",
                            element.r#type
                        ))),
                    }
                })
                .collect::<Result<_, _>>()?,
        },
        Some(Properties::StateUpdate(update)) => {
            let state = STATES
                .iter()
                .find(|(s, _)| *s as i32 == update.state)
                .map(|(_, name)| (*name).to_owned())
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "state_update.state {} is not CREATED, OPEN, FLAGGED or RESOLVED",
                        update.state
                    ))
                })?;
            AnnotationLogEntry::StateUpdate { state }
        }
        Some(Properties::Assigned(assigned)) => AnnotationLogEntry::Assigned {
            user_id: assigned.assigned_to_user_id,
            user_email: assigned.assigned_to_user_email,
        },
        None => {
            return Err(Status::invalid_argument(
                "CreateAnnotationLog needs properties: assigned, state_update or comment",
            ));
        }
    };
    let expected = match &entry {
        AnnotationLogEntry::Comment { .. } => AnnotationLogKind::Comment,
        AnnotationLogEntry::StateUpdate { .. } => AnnotationLogKind::StateUpdate,
        AnnotationLogEntry::Assigned { .. } => AnnotationLogKind::Assigned,
    };
    if kind != AnnotationLogKind::Unspecified && kind != expected {
        return Err(Status::invalid_argument(format!(
            "kind {} does not match the properties given ({})",
            kind.as_str_name(),
            expected.as_str_name()
        )));
    }
    Ok(entry)
}

fn to_pb(log: AnnotationLog) -> AnnotationLogSearchResult {
    use annotation_log_search_result::Properties;
    let (kind, properties) = match log.entry {
        AnnotationLogEntry::Comment { body } => (
            AnnotationLogKind::Comment,
            Properties::Comment(AnnotationLogCommentProperties {
                body: body
                    .into_iter()
                    .map(|element| match element {
                        CommentElement::Text { text } => AnnotationCommentBodyElement {
                            r#type: AnnotationCommentBodyElementType::Text as i32,
                            text,
                            user_mention: None,
                        },
                        CommentElement::Mention {
                            user_id,
                            user_email,
                        } => AnnotationCommentBodyElement {
                            r#type: AnnotationCommentBodyElementType::UserMention as i32,
                            text: String::new(),
                            user_mention: Some(AnnotationCommentUserMention {
                                user_id,
                                user_email,
                            }),
                        },
                    })
                    .collect(),
            }),
        ),
        AnnotationLogEntry::StateUpdate { state } => (
            AnnotationLogKind::StateUpdate,
            Properties::StateUpdate(AnnotationLogStateUpdateProperties {
                state: STATES
                    .iter()
                    .find(|(_, name)| *name == state)
                    .map_or(0, |(s, _)| *s as i32),
            }),
        ),
        AnnotationLogEntry::Assigned {
            user_id,
            user_email,
        } => (
            AnnotationLogKind::Assigned,
            Properties::Assigned(AnnotationLogAssignedProperties {
                assigned_to_user_id: user_id,
                assigned_to_user_email: user_email,
            }),
        ),
    };
    AnnotationLogSearchResult {
        annotation_log_id: log.id,
        created_date: Some(timestamp_to_pb(log.created_at)),
        modified_date: Some(timestamp_to_pb(log.modified_at)),
        annotation_id: log.annotation_id,
        kind: kind as i32,
        created_by_user_id: log.created_by,
        created_by_user_name: String::new(),
        properties: Some(properties),
    }
}

/// A filter's `kind` values (`COMMENT`, `comment`, `ANNOTATION_LOG_KIND_COMMENT`) as stored names.
fn kinds(values: Option<Vec<String>>) -> Result<Option<Vec<String>>, Status> {
    values
        .map(|values| {
            values
                .iter()
                .map(|v| {
                    let wanted = v
                        .trim()
                        .trim_start_matches("ANNOTATION_LOG_KIND_")
                        .to_ascii_lowercase();
                    KINDS
                        .iter()
                        .find(|(_, name)| *name == wanted)
                        .map(|(_, name)| (*name).to_owned())
                        .ok_or_else(|| {
                            Status::invalid_argument(format!(
                                "kind {v:?} is not COMMENT, STATE_UPDATE or ASSIGNED"
                            ))
                        })
                })
                .collect()
        })
        .transpose()
}

#[tonic::async_trait]
impl AnnotationLogService for AnnotationLogs {
    async fn create_annotation_log(
        &self,
        request: Request<CreateAnnotationLogRequest>,
    ) -> Result<Response<CreateAnnotationLogResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        let annotation_id = req.annotation_id.clone();
        let entry = entry_from_pb(req)?;
        let log = self
            .state
            .catalog(move |c| {
                c.create_annotation_log(
                    &principal.organization_id,
                    &annotation_id,
                    &entry,
                    &principal.key_id,
                )
            })
            .await?;
        Ok(Response::new(CreateAnnotationLogResponse {
            annotation_log: Some(to_pb(log)),
        }))
    }

    async fn list_annotation_logs(
        &self,
        request: Request<ListAnnotationLogsRequest>,
    ) -> Result<Response<ListAnnotationLogsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let parsed = filter::parse_for(&req.filter, &["kind"])?;
        let kinds = kinds(parsed.allowed("kind"))?;
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let annotation_id = req.annotation_id;
        let (logs, next) = self
            .state
            .catalog(move |c| {
                c.list_annotation_logs(&principal.organization_id, &annotation_id, &kinds, page)
            })
            .await?;
        Ok(Response::new(ListAnnotationLogsResponse {
            annotation_logs: logs.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn delete_annotation_log(
        &self,
        request: Request<DeleteAnnotationLogRequest>,
    ) -> Result<Response<DeleteAnnotationLogResponse>, Status> {
        let principal = authorize_call(&request, Action::ManageRules)?;
        let req = request.into_inner();
        let files = self
            .state
            .catalog(move |c| {
                c.delete_annotation_log(
                    &principal.organization_id,
                    &req.annotation_id,
                    &req.annotation_log_id,
                )
            })
            .await?;
        self.state.remove_file_blobs(files).await;
        Ok(Response::new(DeleteAnnotationLogResponse {}))
    }
}
