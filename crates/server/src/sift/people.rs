//! `sift.users.v2.UserService` and `sift.tags.v2.TagService`: the names rules refer to. A
//! rule's assignee (`ListActiveUsers` with `name=='…'`) must be exactly one user, and its tags
//! resolve by name (`ListTags`); unknown tags are dropped by the client.
//!
//! Sextant has no user accounts of its own: a user is a name that annotations can be assigned
//! to, created with `POST /api/native/v1/users`. Tags are created with `CreateTag` or
//! `POST /api/native/v1/tags`; one set of tags serves every `tag_type`.

use sextant_catalog::{NameFilter, Page, Tag, User};
use sift_rs::common::r#type::v1::User as PbUser;
use sift_rs::tags::v2::tag_service_server::TagService;
use sift_rs::tags::v2::*;
use sift_rs::users::v2::user_service_server::UserService;
use sift_rs::users::v2::*;
use tonic::{Request, Response, Status};

use super::convert::timestamp_to_pb;
use super::filter;
use super::unsupported;
use crate::auth::{Action, Principal, authorize_call, check_organization};
use crate::state::AppState;

/// The user service.
#[derive(Debug, Clone)]
pub struct Users {
    pub(crate) state: AppState,
}

/// The tag service.
#[derive(Debug, Clone)]
pub struct Tags {
    pub(crate) state: AppState,
}

fn user_to_pb(user: User) -> PbUser {
    PbUser {
        user_id: user.id,
        user_name: user.name,
        organizations: Vec::new(),
    }
}

fn tag_to_pb(tag: Tag) -> sift_rs::tags::v2::Tag {
    sift_rs::tags::v2::Tag {
        tag_id: tag.id,
        name: tag.name,
        created_by_user_id: String::new(),
        created_date: Some(timestamp_to_pb(tag.created_at)),
    }
}

impl Users {
    async fn list(
        &self,
        principal: Principal,
        filter: &str,
        page_size: u32,
        page_token: String,
    ) -> Result<(Vec<PbUser>, String), Status> {
        let filter = filter::parse_for(filter, &["name", "user_id", "user_name"])?;
        let names = match (filter.allowed("name"), filter.allowed("user_name")) {
            (Some(a), Some(b)) => Some(a.into_iter().filter(|n| b.contains(n)).collect()),
            (a, b) => a.or(b),
        };
        let filter = NameFilter {
            ids: filter.allowed("user_id"),
            names,
        };
        let page = Page {
            size: page_size,
            token: page_token,
        };
        let (users, next) = self
            .state
            .catalog(move |c| c.list_users(&principal.organization_id, &filter, page))
            .await?;
        Ok((users.into_iter().map(user_to_pb).collect(), next))
    }
}

#[tonic::async_trait]
impl UserService for Users {
    async fn update_user_organization_active(
        &self,
        _request: Request<UpdateUserOrganizationActiveRequest>,
    ) -> Result<Response<UpdateUserOrganizationActiveResponse>, Status> {
        Err(unsupported("UserService/UpdateUserOrganizationActive"))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().user_id;
        let user = self
            .state
            .catalog(move |c| c.get_user(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_to_pb(user)),
        }))
    }

    async fn list_active_users(
        &self,
        request: Request<ListActiveUsersRequest>,
    ) -> Result<Response<ListActiveUsersResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        check_organization(&principal, &req.organization_id)?;
        let (users, next_page_token) = self
            .list(principal, &req.filter, req.page_size, req.page_token)
            .await?;
        Ok(Response::new(ListActiveUsersResponse {
            users,
            next_page_token,
        }))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let (users, next_page_token) = self
            .list(principal, &req.filter, req.page_size, req.page_token)
            .await?;
        Ok(Response::new(ListUsersResponse {
            users,
            next_page_token,
        }))
    }
}

#[tonic::async_trait]
impl TagService for Tags {
    async fn create_tag(
        &self,
        request: Request<CreateTagRequest>,
    ) -> Result<Response<CreateTagResponse>, Status> {
        let principal = authorize_call(&request, Action::WriteMetadata)?;
        let name = request.into_inner().name;
        let tag = self
            .state
            .catalog(move |c| c.get_or_create_tag(&principal.organization_id, &name))
            .await?;
        Ok(Response::new(CreateTagResponse {
            tag: Some(tag_to_pb(tag)),
        }))
    }

    async fn list_tags(
        &self,
        request: Request<ListTagsRequest>,
    ) -> Result<Response<ListTagsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter = filter::parse_for(&req.filter, &["name", "tag_id"])?;
        let filter = NameFilter {
            ids: filter.allowed("tag_id"),
            names: filter.allowed("name"),
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (tags, next) = self
            .state
            .catalog(move |c| c.list_tags(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListTagsResponse {
            tags: tags.into_iter().map(tag_to_pb).collect(),
            next_page_token: next,
        }))
    }
}
