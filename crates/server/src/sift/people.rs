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

/// The email address a filter looks up alone (`name == "ripley@example.com"`), if it does.
fn first_reference(src: &str) -> Option<String> {
    let filter = filter::parse_for(src, &["name", "user_id", "user_name"]).ok()?;
    if filter.allowed("user_id").is_some() {
        return None;
    }
    let names = match (filter.allowed("name"), filter.allowed("user_name")) {
        (Some(a), None) | (None, Some(a)) => a,
        _ => return None,
    };
    match names.as_slice() {
        [email] if looks_like_email(email) => Some(email.clone()),
        _ => None,
    }
}

/// `local@domain.tld`, without spaces: enough to tell an address from a name or a typo.
fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text.chars().any(char::is_whitespace)
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
        let (mut users, next_page_token) = self
            .list(
                principal.clone(),
                &req.filter,
                req.page_size,
                req.page_token.clone(),
            )
            .await?;
        // A lookup of one unknown email address by a key that may write rules creates the
        // user: it is how sift_py finds a review rule's assignee, and Sextant has no accounts
        // to invite first (docs/rules.md).
        if users.is_empty()
            && req.page_token.is_empty()
            && let Some(email) = first_reference(&req.filter)
            && crate::auth::authorize(&principal, Action::ManageRules).is_ok()
        {
            let org = principal.organization_id.clone();
            let created = self
                .state
                .catalog(move |c| c.create_user(&org, &email))
                .await?;
            tracing::info!(user = %created.name, key = %principal.key_name, "created a user on first reference");
            users.push(user_to_pb(created));
        }
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

#[cfg(test)]
mod tests {
    use super::first_reference;

    #[test]
    fn only_a_lone_email_is_a_first_reference() {
        assert_eq!(
            first_reference("name == 'ripley@weylandcorp.com'").as_deref(),
            Some("ripley@weylandcorp.com")
        );
        assert_eq!(
            first_reference(r#"user_name == "a@b.io""#).as_deref(),
            Some("a@b.io")
        );
        for src in [
            "name == 'ripley'",
            "name == 'a@b'",
            "name in ['a@b.io', 'c@d.io']",
            "name == 'a@b.io' && user_id == 'x'",
            "name == 'a b@c.io'",
            "",
        ] {
            assert_eq!(first_reference(src), None, "{src}");
        }
    }
}
