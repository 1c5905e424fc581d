//! Live subscriptions over gRPC: `sextant.live.v1.LiveService/Subscribe`, a server-streaming method
//! (`crates/api/proto/sextant/live/v1/live.proto`), the SDK's transport.
//!
//! The method is served here by hand rather than through generated code and tonic's codec:
//! its responses are already gRPC frames when they reach the connection (the subscription's
//! thread encodes each one, length prefix included, with the points of a commit encoded once
//! for every subscriber), so each goes to HTTP/2 as it is. Through tonic's encoder every
//! response was copied once more into its buffer, which was a quarter of the server's time with
//! 100 subscribers. The framing is gRPC's plain one: requests are one length-prefixed,
//! uncompressed message; responses are such messages, then `grpc-status` in the trailers; a
//! refusal is a trailers-only response with its status.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, Response, header};
use axum::response::IntoResponse;
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::Frame;
use prost::Message as _;
use sextant_api::live::SubscribeRequest;
use sextant_api::live::proto;
use sextant_catalog::Principal;
use sextant_live::Framing;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Status;
use tonic::server::NamedService;

use super::{Stream, start};
use crate::auth::{Action, authorize};
use crate::error::status;
use crate::state::AppState;

/// The largest request accepted: a selector and a window's settings.
const MAX_REQUEST_BYTES: usize = 64 << 10;

/// `sextant.live.v1.LiveService`, ready for [`tonic::service::Routes::add_service`].
#[derive(Clone)]
pub struct LiveService {
    state: AppState,
}

impl LiveService {
    /// The service over `state`.
    pub fn new(state: AppState) -> Self {
        LiveService { state }
    }
}

impl std::fmt::Debug for LiveService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveService").finish_non_exhaustive()
    }
}

impl NamedService for LiveService {
    const NAME: &'static str = proto::SERVICE;
}

impl tower::Service<Request<tonic::body::Body>> for LiveService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            Ok(match subscribe(&state, request).await {
                Ok(response) => response,
                Err(status) => status.into_http::<Body>().into_response(),
            })
        })
    }
}

/// Reads the request, starts the subscription and streams its frames.
async fn subscribe(
    state: &AppState,
    request: Request<tonic::body::Body>,
) -> Result<axum::response::Response, Status> {
    if request.uri().path() != proto::SUBSCRIBE_PATH {
        return Err(Status::unimplemented(format!(
            "no method {}; {} has Subscribe only",
            request.uri().path(),
            proto::SERVICE
        )));
    }
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| status(sextant_model::ErrorKind::Unauthenticated, "missing API key"))?;
    authorize(&principal, Action::ReadData)?;
    let body = Limited::new(request.into_body(), MAX_REQUEST_BYTES + 5)
        .collect()
        .await
        .map_err(|e| {
            Status::invalid_argument(format!(
                "the subscription request could not be read (at most {MAX_REQUEST_BYTES} bytes): {e}"
            ))
        })?
        .to_bytes();
    let request = SubscribeRequest::from(decode_request(&body)?);
    let Stream { rx, budget } = start(state, &principal, &request, Framing::Grpc)?;
    let frames = UnboundedReceiverStream::new(rx)
        .map(move |out| {
            budget.give(out.bytes.len());
            Ok::<_, Infallible>(Frame::data(Bytes::from(out.bytes)))
        })
        // The subscription ended (closed, failed, or the server is stopping): a clean end
        // of the call; a `closed` or `error` message before says why.
        .chain(tokio_stream::once(Ok(Frame::trailers(ok_trailers()))));
    let mut response = Response::new(Body::new(StreamBody::new(frames)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    Ok(response)
}

/// The request body: one uncompressed, length-prefixed `SubscribeRequest`, or the status
/// that refuses it.
pub fn decode_request(body: &[u8]) -> Result<proto::SubscribeRequest, Status> {
    let refuse = |why: String| Status::invalid_argument(format!("the subscription request: {why}"));
    let Some((&[flag, a, b, c, d], message)) = body.split_first_chunk::<5>() else {
        return Err(refuse(format!(
            "{} bytes, shorter than gRPC's 5-byte message prefix",
            body.len()
        )));
    };
    if flag != 0 {
        return Err(Status::unimplemented(
            "the subscription request is compressed; send it uncompressed",
        ));
    }
    let length = u32::from_be_bytes([a, b, c, d]) as usize;
    if length != message.len() {
        return Err(refuse(format!(
            "its prefix says {length} bytes, but {} follow (one message per call)",
            message.len()
        )));
    }
    proto::SubscribeRequest::decode(message).map_err(|e| refuse(e.to_string()))
}

fn ok_trailers() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(message: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    #[test]
    fn a_request_is_one_uncompressed_length_prefixed_message() {
        let request = proto::SubscribeRequest {
            selector: "cpu".into(),
            cursor: Some(3),
            ..Default::default()
        };
        let body = framed(&request.encode_to_vec());
        assert_eq!(decode_request(&body).unwrap(), request);

        let message = |body: &[u8]| decode_request(body).unwrap_err().message().to_owned();
        assert!(message(&body[..3]).contains("shorter than gRPC's 5-byte"));
        let mut compressed = body.clone();
        compressed[0] = 1;
        assert!(message(&compressed).contains("uncompressed"));
        let mut two = body.clone();
        two.extend_from_slice(&body);
        assert!(message(&two).contains("one message per call"));
        assert!(message(&framed(&[0xff, 0xff])).starts_with("the subscription request: "));
    }
}
