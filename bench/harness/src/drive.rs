//! Line-protocol drivers: the request bodies sent over a few kept-alive connections, either
//! closed-loop (each connection sends its next body as soon as the last is answered) or paced
//! at a target rate of points per second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::http::Conn;
use crate::workload::Request;

/// What a phase of writes measured.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// Points acknowledged.
    pub points: u64,
    /// From the first send to the last reply.
    pub wall: Duration,
    /// Latency of each request. Closed-loop: send to reply. Paced: from the moment the request
    /// was due to its reply, so that a server falling behind shows in the figures.
    pub latencies: Vec<Duration>,
}

impl Sent {
    /// Points per wall-clock second.
    pub fn rate(&self) -> f64 {
        self.points as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile of the latencies (0 to 1), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile(&self.latencies, q)
    }
}

/// The `q` quantile (nearest rank) of `values`, in milliseconds; 0 when empty.
pub fn quantile(values: &[Duration], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// How to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub addr: SocketAddr,
    /// Path and query of the write endpoint.
    pub path: String,
    /// Extra headers (authorization).
    pub headers: Vec<(String, String)>,
}

/// Sends every request over `connections` connections, closed-loop (`rate` is `None`) or
/// paced at `rate` points per second. Stops at the first request the server refuses.
pub async fn send_all(
    target: &Target,
    requests: Arc<Vec<Request>>,
    connections: usize,
    rate: Option<f64>,
) -> anyhow::Result<Sent> {
    // When each request is due, in seconds from the start, when paced.
    let due: Arc<Vec<f64>> = Arc::new(match rate {
        Some(rate) => {
            let mut at = 0.0;
            requests
                .iter()
                .map(|r| {
                    let t = at;
                    at += r.points as f64 / rate;
                    t
                })
                .collect()
        }
        None => Vec::new(),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let start_tokio = tokio::time::Instant::from_std(start);
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (requests, due, next, failed, target) = (
            requests.clone(),
            due.clone(),
            next.clone(),
            failed.clone(),
            target.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(target.addr);
            let headers: Vec<(&str, &str)> = target
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut latencies = Vec::new();
            let mut points = 0u64;
            loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    break;
                };
                let began = match due.get(i) {
                    Some(&at) => {
                        let when = start_tokio + Duration::from_secs_f64(at);
                        tokio::time::sleep_until(when).await;
                        when.into_std()
                    }
                    None => Instant::now(),
                };
                let reply = conn
                    .send("POST", &target.path, &headers, request.body.clone())
                    .await;
                let reply = match reply {
                    Ok(reply) if reply.ok() => reply,
                    Ok(reply) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(anyhow!(
                            "request {i} refused: HTTP {} {}",
                            reply.status,
                            reply.text(400)
                        ));
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e.context(format!("request {i}")));
                    }
                };
                drop(reply);
                latencies.push(began.elapsed());
                points += request.points as u64;
            }
            Ok::<_, anyhow::Error>((points, latencies))
        }));
    }
    let mut sent = Sent::default();
    let mut error = None;
    for task in tasks {
        match task.await {
            Ok(Ok((points, latencies))) => {
                sent.points += points;
                sent.latencies.extend(latencies);
            }
            Ok(Err(e)) => error = error.or(Some(e)),
            Err(e) => error = error.or(Some(anyhow!("a sending task failed: {e}"))),
        }
    }
    sent.wall = start.elapsed();
    match error {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&values, 0.5), 50.0);
        assert_eq!(quantile(&values, 0.99), 99.0);
        assert_eq!(quantile(&values, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
