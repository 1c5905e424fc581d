//! The SDK's HTTP transport for Sextant's JSON APIs (native and KairosDB): one `reqwest`
//! client per server, with its base URL and API key, over plain HTTP/1.1.

use std::time::Duration;

use crate::{Error, Result};

/// A server's base URL, its API key and a pooled HTTP client; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Http {
    /// A client of the server at `url` (`http://host:port`) with API key `token`.
    pub(crate) fn new(url: &str, token: &str) -> Result<Http> {
        let base = url.trim_end_matches('/');
        if !base.starts_with("http://") {
            return Err(Error::Config(format!(
                "server URL {url:?} must start with http:// (the SDK's HTTP clients speak plain \
                 HTTP; put a TLS-terminating proxy in front of the server for https)"
            )));
        }
        reqwest::Url::parse(base).map_err(|e| Error::Config(format!("server URL {url:?}: {e}")))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Config(format!("cannot start the HTTP client: {}", detail(&e))))?;
        Ok(Http {
            client,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    /// The base URL (`http://host:port`) and the API key.
    pub(crate) fn endpoint(&self) -> (String, String) {
        (self.base.clone(), self.token.clone())
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request of `method` to `url`, authenticated.
    pub(crate) fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.client.request(method, url).bearer_auth(&self.token)
    }

    /// Sends `request` (to `url`) and returns the status and the whole body.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, Vec<u8>)> {
        let failed = |e: reqwest::Error| Error::Http {
            url: url.to_owned(),
            detail: detail(&e),
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(failed)?;
        Ok((status, body.to_vec()))
    }
}

/// A reqwest error with its causes, which its own message leaves out.
fn detail(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
