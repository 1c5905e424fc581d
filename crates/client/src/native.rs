//! A client of Sextant's native JSON API (`/api/native/v1/...`): users, tags, rules, rule
//! evaluation and flush, annotations and admin maintenance, with the typed bodies of
//! `sextant-api` (re-exported here as [`api`]).
//!
//! ```no_run
//! # async fn example() -> sextant_client::Result<()> {
//! use sextant_client::native::{NativeClient, api};
//!
//! let client = NativeClient::new("http://127.0.0.1:7777", "KEY")?;
//! client.create_user("ellen.ripley@weylandcorp.com").await?;
//! let open = client
//!     .all_annotations(&api::AnnotationQuery {
//!         state: Some(api::AnnotationState::Open),
//!         ..Default::default()
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A refused call is [`Error::Api`] with the HTTP status and the server's message. Plain
//! `http://` only, like the KairosDB client.

pub mod collections;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use sextant_api as api;
use sextant_api::{
    AdminFlushResponse, Annotation, AnnotationList, AnnotationPatch, AnnotationQuery, AppliedRule,
    CreateTag, CreateUser, ErrorBody, EvalRequest, EvalResponse, Event, EventList, EventQuery,
    FlushResponse, Rule, RuleBody, RuleList, RuleQuery, Tag, TagList, User, UserList, paths,
};

use crate::http::Http;
use crate::{Error, Result};

/// A client of one server's native API; cheap to clone.
#[derive(Debug, Clone)]
pub struct NativeClient {
    http: Http,
}

impl NativeClient {
    /// A client of the server at `url` (`http://host:port`) with API key `token`. Nothing is
    /// sent until the first call.
    pub fn new(url: &str, token: &str) -> Result<NativeClient> {
        Ok(NativeClient {
            http: Http::new(url, token)?,
        })
    }

    /// The server's base URL and the API key, for the gRPC subscriptions of [`crate::live`].
    pub(crate) fn endpoint(&self) -> (String, String) {
        self.http.endpoint()
    }

    /// Creates a user that review annotations can be assigned to (an admin key is needed).
    pub async fn create_user(&self, name: &str) -> Result<User> {
        self.create_user_with(&CreateUser {
            name: name.to_owned(),
            email: None,
            password: None,
            session_scope: None,
        })
        .await
    }

    /// Creates a user with everything [`CreateUser`] can set: also a login (an e-mail address
    /// and a password) that `POST /v2/session` exchanges for a session key.
    pub async fn create_user_with(&self, user: &CreateUser) -> Result<User> {
        self.call(Method::POST, paths::USERS, None::<&()>, Some(user))
            .await
    }

    /// Every user of the key's organization.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let list: UserList = self
            .call(Method::GET, paths::USERS, None::<&()>, None::<&()>)
            .await?;
        Ok(list.users)
    }

    /// Creates a tag, or returns the one with that name.
    pub async fn create_tag(&self, name: &str) -> Result<Tag> {
        let body = CreateTag {
            name: name.to_owned(),
        };
        self.call(Method::POST, paths::TAGS, None::<&()>, Some(&body))
            .await
    }

    /// Every tag of the key's organization.
    pub async fn list_tags(&self) -> Result<Vec<Tag>> {
        let list: TagList = self
            .call(Method::GET, paths::TAGS, None::<&()>, None::<&()>)
            .await?;
        Ok(list.tags)
    }

    /// Creates a rule, or updates the one with the same client key.
    pub async fn apply_rule(&self, rule: &RuleBody) -> Result<AppliedRule> {
        self.call(Method::POST, paths::RULES, None::<&()>, Some(rule))
            .await
    }

    /// The rules `query` selects.
    pub async fn list_rules(&self, query: &RuleQuery) -> Result<Vec<Rule>> {
        let list: RuleList = self
            .call(Method::GET, paths::RULES, Some(query), None::<&()>)
            .await?;
        Ok(list.rules)
    }

    /// Evaluates a rule over stored data: the ranges where it held.
    pub async fn eval_rule(&self, request: &EvalRequest) -> Result<EvalResponse> {
        self.call(Method::POST, paths::RULES_EVAL, None::<&()>, Some(request))
            .await
    }

    /// Waits until every write committed before the call has been evaluated by the live
    /// rules; the engine's counters.
    pub async fn flush_rules(&self) -> Result<FlushResponse> {
        self.call(Method::POST, paths::RULES_FLUSH, None::<&()>, None::<&()>)
            .await
    }

    /// One page of the annotations `query` selects; pass its `next_page_token` as the next
    /// query's `page_token` until it is empty.
    pub async fn list_annotations(&self, query: &AnnotationQuery) -> Result<AnnotationList> {
        self.call(Method::GET, paths::ANNOTATIONS, Some(query), None::<&()>)
            .await
    }

    /// Every annotation `query` selects, page after page.
    pub async fn all_annotations(&self, query: &AnnotationQuery) -> Result<Vec<Annotation>> {
        let mut query = query.clone();
        let mut out = Vec::new();
        loop {
            let page = self.list_annotations(&query).await?;
            out.extend(page.annotations);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            query.page_token = Some(page.next_page_token);
        }
    }

    /// The custom events `query` selects, oldest first.
    pub async fn list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let list: EventList = self
            .call(Method::GET, paths::EVENTS, Some(query), None::<&()>)
            .await?;
        Ok(list.events)
    }

    /// One annotation.
    pub async fn get_annotation(&self, id: &str) -> Result<Annotation> {
        self.call(Method::GET, &annotation_path(id)?, None::<&()>, None::<&()>)
            .await
    }

    /// Changes the fields `patch` sets; the annotation as changed.
    pub async fn update_annotation(&self, id: &str, patch: &AnnotationPatch) -> Result<Annotation> {
        self.call(
            Method::PATCH,
            &annotation_path(id)?,
            None::<&()>,
            Some(patch),
        )
        .await
    }

    /// Flushes the head into parts and merges every partition's parts into one (an admin key
    /// is needed).
    pub async fn admin_flush(&self) -> Result<AdminFlushResponse> {
        self.call(Method::POST, paths::ADMIN_FLUSH, None::<&()>, None::<&()>)
            .await
    }

    /// Sends one call and reads its answer as `T`; a status other than 2xx is
    /// [`Error::Api`].
    async fn call<Q, B, T>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let reply = self.send_call(method.clone(), path, query, body).await?;
        serde_json::from_slice(&reply).map_err(|e| {
            Error::Decode(format!(
                "the answer to {method} {path} is not what the SDK expects: {e}"
            ))
        })
    }

    /// Sends a call whose answer has no body (`204 No Content`).
    async fn call_no_content(&self, method: Method, path: &str) -> Result<()> {
        self.send_call(method, path, None::<&()>, None::<&()>)
            .await
            .map(drop)
    }

    /// Sends one call and returns its answer's body; a status other than 2xx is
    /// [`Error::Api`].
    async fn send_call<Q, B>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<Vec<u8>>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let url = self.http.url(path);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, reply) = self.http.send(request, &url).await?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<ErrorBody>(&reply)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&reply).trim().to_owned());
            return Err(Error::Api {
                call: format!("{method} {path}"),
                status,
                message,
            });
        }
        Ok(reply)
    }
}

/// The path of annotation `id`, which must be a plain id.
fn annotation_path(id: &str) -> Result<String> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Config(format!(
            "annotation id {id:?} is not an id (letters, digits, `-` and `_`)"
        )));
    }
    Ok(paths::annotation(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_ids_cannot_reach_other_paths() {
        assert_eq!(
            annotation_path("6f1c-aa_9").unwrap(),
            "/api/native/v1/annotations/6f1c-aa_9"
        );
        for bad in ["", "../rules", "a?b", "a/b", "é"] {
            assert!(annotation_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_plain_http_urls() {
        assert!(NativeClient::new("http://127.0.0.1:7777/", "k").is_ok());
        let err = NativeClient::new("https://example.com", "k").unwrap_err();
        assert!(err.to_string().contains("must start with http://"), "{err}");
    }
}
