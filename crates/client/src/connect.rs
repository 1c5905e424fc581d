//! Authenticated gRPC channels to a Sextant (or Sift) server.

use std::time::Duration;

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::{Error, Result};

/// How to reach the server.
///
/// ```
/// use sextant_client::ClientConfig;
///
/// // As sift_py writes it: host and port, with TLS unless told otherwise.
/// let local = ClientConfig::new("127.0.0.1:7777", "my-api-key").use_ssl(false);
/// assert_eq!(local.endpoint(), "http://127.0.0.1:7777");
/// // A scheme says it all.
/// let remote = ClientConfig::new("https://sextant.example.com", "my-api-key");
/// assert_eq!(remote.endpoint(), "https://sextant.example.com");
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` for plaintext, `https://host:port` for TLS, or `host:port` as
    /// `sift_py` takes it, with `use_ssl` choosing.
    pub uri: String,
    /// The API key, sent as `authorization: Bearer KEY` on every call.
    pub api_key: String,
    /// How to verify the server with TLS (ignored for `http://`).
    pub tls: Tls,
    /// For a URI without a scheme: TLS (`https://`, the default, as in `sift_py`) or
    /// plaintext (`http://`). A URI with a scheme ignores it.
    pub use_ssl: bool,
}

/// How a TLS server is verified.
#[derive(Debug, Clone, Default)]
pub enum Tls {
    /// With the web's public root certificates.
    #[default]
    WebRoots,
    /// With this PEM CA certificate (a self-signed server's own certificate, say).
    CaPem(Vec<u8>),
}

impl ClientConfig {
    /// Settings for `uri` with `api_key`, verifying TLS servers with public roots.
    pub fn new(uri: impl Into<String>, api_key: impl Into<String>) -> Self {
        ClientConfig {
            uri: uri.into(),
            api_key: api_key.into(),
            tls: Tls::default(),
            use_ssl: true,
        }
    }

    /// Settings from the environment variables the `sextant` command reads: `SEXTANT_URL`
    /// (default `http://127.0.0.1:7777`) and `SEXTANT_TOKEN`, the API key, which must be set.
    pub fn from_env() -> Result<Self> {
        let uri = std::env::var("SEXTANT_URL").unwrap_or_else(|_| "http://127.0.0.1:7777".into());
        let api_key = std::env::var("SEXTANT_TOKEN").map_err(|_| {
            Error::Config(
                "SEXTANT_TOKEN is not set: set it to an API key (`sextant token create`)".into(),
            )
        })?;
        Ok(ClientConfig::new(uri, api_key))
    }

    /// TLS or plaintext for a URI without a scheme.
    pub fn use_ssl(mut self, use_ssl: bool) -> Self {
        self.use_ssl = use_ssl;
        self
    }

    /// Verifies a TLS server with this PEM CA certificate instead of the public roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Tls::CaPem(pem.into());
        self
    }

    /// The URI connected to: `uri` itself when it has a scheme, otherwise `https://` or
    /// `http://` (by `use_ssl`) before it.
    pub fn endpoint(&self) -> String {
        if self.uri.contains("://") {
            self.uri.clone()
        } else if self.use_ssl {
            format!("https://{}", self.uri)
        } else {
            format!("http://{}", self.uri)
        }
    }
}

/// An authenticated channel; cheap to clone, shared by every service client.
pub type SextantChannel = InterceptedService<Channel, Bearer>;

/// Adds the API key to every call.
#[derive(Debug, Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// Connects to the server and checks nothing else: the first call authenticates.
pub async fn connect(config: &ClientConfig) -> Result<SextantChannel> {
    let bearer = AsciiMetadataValue::try_from(format!("Bearer {}", config.api_key))
        .map_err(|_| Error::Config("the API key has characters a header cannot carry".into()))?;
    let uri = config.endpoint();
    if !uri.starts_with("http://") && !uri.starts_with("https://") {
        return Err(Error::Config(format!(
            "URI {:?}: the scheme must be http:// or https://",
            config.uri
        )));
    }
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| Error::Config(format!("URI {:?}: {e}", config.uri)))?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    let tls = uri.starts_with("https://");
    if tls {
        let tls = match &config.tls {
            Tls::WebRoots => ClientTlsConfig::new().with_webpki_roots(),
            Tls::CaPem(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
    }
    let channel = endpoint.connect().await.map_err(|source| {
        let mut cause = crate::error::causes(&source);
        if tls && cause.contains("InvalidContentType") {
            cause.push_str(
                " (the server answers in plaintext: use an http:// URI, or use_ssl(false))",
            );
        }
        Error::Connect { uri, cause }
    })?;
    Ok(InterceptedService::new(channel, Bearer(bearer)))
}
