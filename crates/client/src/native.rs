//! A client of Sextant's native JSON API (`/api/native/v1/...`): users, tags, rules, rule
//! evaluation and flush, annotations, series and plots, runs, assets, files, API keys and
//! admin maintenance, with the typed bodies of `sextant-api` (re-exported here as [`api`]).
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
use sextant_api::explore::{
    ApiKeyInfo, AssetInfo, AssetList, CreateKey, CreatedKey, FileInfo, FileList, FileQuery,
    KeyList, PlotAnswer, PlotRequest, RuleStatus, RuleStatusList, RunInfo, RunList, RunQuery,
    SeriesList, SeriesQuery, Whoami,
};
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

    /// Who the client's key is: its organization, name and scopes.
    pub async fn whoami(&self) -> Result<Whoami> {
        self.call(Method::GET, paths::WHOAMI, None::<&()>, None::<&()>)
            .await
    }

    /// The series a selector selects, and whose keys contain the query's words.
    pub async fn list_series(&self, query: &SeriesQuery) -> Result<SeriesList> {
        self.call(Method::GET, paths::SERIES, Some(query), None::<&()>)
            .await
    }

    /// Some series' points in a range, sampled to a plot's width: each pixel column's first,
    /// lowest, highest and last point of numbers and booleans, the first four of text.
    pub async fn plot(&self, request: &PlotRequest) -> Result<PlotAnswer> {
        self.call(Method::POST, paths::PLOT, None::<&()>, Some(request))
            .await
    }

    /// One page of runs, newest first.
    pub async fn list_runs(&self, query: &RunQuery) -> Result<RunList> {
        self.call(Method::GET, paths::RUNS, Some(query), None::<&()>)
            .await
    }

    /// One run, with the first and last timestamps of its data.
    pub async fn get_run(&self, id: &str) -> Result<RunInfo> {
        let path = format!("{}/{}", paths::RUNS, checked_id("run", id)?);
        self.call(Method::GET, &path, None::<&()>, None::<&()>)
            .await
    }

    /// Every asset, by name.
    pub async fn list_assets(&self) -> Result<Vec<AssetInfo>> {
        let list: AssetList = self
            .call(Method::GET, paths::ASSETS, None::<&()>, None::<&()>)
            .await?;
        Ok(list.assets)
    }

    /// Every rule with its status and annotation counts.
    pub async fn rule_status(&self) -> Result<Vec<RuleStatus>> {
        let list: RuleStatusList = self
            .call(Method::GET, paths::RULES_STATUS, None::<&()>, None::<&()>)
            .await?;
        Ok(list.rules)
    }

    /// The files attached to a run, an annotation or a log entry, with signed download paths.
    pub async fn list_files(&self, query: &FileQuery) -> Result<Vec<FileInfo>> {
        let list: FileList = self
            .call(Method::GET, paths::FILES, Some(query), None::<&()>)
            .await?;
        Ok(list.files)
    }

    /// The organization's API keys, revoked ones too (an admin key is needed).
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        let list: KeyList = self
            .call(Method::GET, paths::KEYS, None::<&()>, None::<&()>)
            .await?;
        Ok(list.keys)
    }

    /// Creates an API key; its secret is in the answer only (an admin key is needed).
    pub async fn create_key(&self, key: &CreateKey) -> Result<CreatedKey> {
        self.call(Method::POST, paths::KEYS, None::<&()>, Some(key))
            .await
    }

    /// Revokes an API key (an admin key is needed).
    pub async fn revoke_key(&self, id: &str) -> Result<ApiKeyInfo> {
        let path = format!("{}/{}", paths::KEYS, checked_id("key", id)?);
        self.call(Method::DELETE, &path, None::<&()>, None::<&()>)
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
    Ok(paths::annotation(checked_id("annotation", id)?))
}

/// `id` if it is one (letters, digits, `-` and `_`), so that it goes into a path as it is.
fn checked_id<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Config(format!(
            "{what} id {id:?} is not an id (letters, digits, `-` and `_`)"
        )));
    }
    Ok(id)
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
