//! `sift.ping.v1.PingService`: a cheap authenticated round trip.

use sift_rs::ping::v1::ping_service_server::PingService;
use sift_rs::ping::v1::{PingRequest, PingResponse};
use tonic::{Request, Response, Status};

/// Answers pings.
#[derive(Debug, Default, Clone)]
pub struct Ping;

#[async_trait::async_trait]
impl PingService for Ping {
    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        Ok(Response::new(PingResponse {
            response: format!("Hello from Sextant {}", env!("CARGO_PKG_VERSION")),
        }))
    }
}
