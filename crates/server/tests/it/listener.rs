//! One address serves HTTP/1.1 and gRPC, in plaintext and with TLS, over real sockets.

use crate::common;

use common::{TOKEN, TestServer, authed};
use sextant_server::listener::{TlsFiles, load_tls};
use sift_rs::ping::v1::PingRequest;
use sift_rs::ping::v1::ping_service_client::PingServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn http1_and_grpc_share_one_plaintext_address() {
    let server = TestServer::start().await;
    let addr = server.addr;

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: sextant\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("ok\n"), "{reply}");

    let pong = PingServiceClient::new(authed(server.channel().await, TOKEN))
        .ping(PingRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(pong.response.starts_with("Hello from Sextant"), "{pong:?}");

    server.stop().await;
}

#[tokio::test]
async fn tls_serves_grpc_with_alpn_h2() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    let server = TestServer::start_with_tls(Some(load_tls(&files).unwrap())).await;
    let addr = server.addr;

    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.pem()))
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let pong = PingServiceClient::new(authed(channel, TOKEN))
        .ping(PingRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(pong.response.starts_with("Hello from Sextant"), "{pong:?}");

    server.stop().await;
}

#[test]
fn unusable_tls_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("key.pem"),
    };
    let err = load_tls(&files).unwrap_err().to_string();
    assert!(err.starts_with("cannot read certificate from "), "{err}");
    assert!(err.contains("missing.pem"), "{err}");

    std::fs::write(&files.cert, "not a certificate").unwrap();
    let err = load_tls(&files).unwrap_err().to_string();
    assert!(err.contains("no CERTIFICATE block found"), "{err}");
}
