//! Authenticated gRPC channels to a Sextant (or Sift) server.

use std::time::Duration;

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::{Error, Result};

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` for plaintext, `https://host:port` for TLS.
    pub uri: String,
    /// The API key, sent as `authorization: Bearer KEY` on every call.
    pub api_key: String,
    /// How to verify the server with TLS (ignored for `http://`).
    pub tls: Tls,
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
    let mut endpoint = Endpoint::from_shared(config.uri.clone())
        .map_err(|e| Error::Config(format!("URI {:?}: {e}", config.uri)))?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if config.uri.starts_with("https://") {
        let tls = match &config.tls {
            Tls::WebRoots => ClientTlsConfig::new().with_webpki_roots(),
            Tls::CaPem(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
    }
    let channel = endpoint.connect().await.map_err(|source| Error::Connect {
        uri: config.uri.clone(),
        source,
    })?;
    Ok(InterceptedService::new(channel, Bearer(bearer)))
}
