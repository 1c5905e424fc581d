//! A small HTTP/1.1 JSON client for Sextant's native API (`/api/v1`), used by the `rules` and
//! `annotations` commands.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A server address and key.
#[derive(Debug, Clone)]
pub struct Api {
    host: String,
    port: u16,
    token: String,
}

impl Api {
    /// The server at `url` (`http://host:port`), authenticating with `token`.
    pub fn new(url: &str, token: &str) -> anyhow::Result<Api> {
        let rest = url.trim_end_matches('/').strip_prefix("http://").with_context(|| {
            format!("server URL {url:?} must start with http:// (the native API is served in plaintext here)")
        })?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse()
                    .with_context(|| format!("server URL {url:?} has a bad port"))?,
            ),
            None => (rest.to_owned(), 80),
        };
        Ok(Api {
            host,
            port,
            token: token.to_owned(),
        })
    }

    /// Sends `method path` with an optional JSON body and returns the JSON answer; an answer
    /// other than 2xx is an error quoting the server's message.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(self.send(method, path, body))
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot connect to {}:{}", self.host, self.port))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(connection);
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, format!("{}:{}", self.host, self.port))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{method} {path} failed"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        driver.abort();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(
            |_| serde_json::json!({ "error": String::from_utf8_lossy(&bytes).trim().to_owned() }),
        );
        if !status.is_success() {
            let message = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            bail!("{method} {path}: {status}: {message}");
        }
        Ok(value)
    }
}
