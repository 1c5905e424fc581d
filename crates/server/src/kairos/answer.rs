//! A query's answer on its way out: sent whole while it is short, streamed once it is long.
//!
//! The text is gathered up to [`STREAM_CHUNK_BYTES`]. An answer that ends before that is
//! sent whole with the status of how it ended (200, or a failure's 400/500 in KairosDB's
//! shape). A longer one is streamed from its first chunk on, gzipped as it goes when the
//! client accepts gzip: the server then holds about a chunk of text per query whatever the
//! answer's size. A failure after the stream started (a NaN further on, the deadline) cannot
//! change the status any more: the body breaks off before its end and the failure is logged,
//! so that the client sees an error rather than a truncated answer taken for whole.

use std::io::Write as _;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt as _;

use super::{Failure, accepts_gzip, json, no_cache};
use crate::budget::ClientGuard;

/// Text gathered before it is sent on; answers shorter than this are sent whole.
pub const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// Chunks in flight between the query's thread and the connection.
const CHUNKS_IN_FLIGHT: usize = 4;

/// What a query's thread ends with.
#[derive(Debug)]
pub enum Outcome {
    /// The answer ended before it needed streaming: the handler sends it with its status.
    Whole(Result<String, Failure>),
    /// The answer went out as a stream (ended, or broken off on a failure).
    Streamed,
}

/// The query thread's end of the way out.
#[derive(Debug)]
pub struct Sink {
    /// Taken when the first chunk goes: tells the handler to answer with the stream.
    start: Option<oneshot::Sender<()>>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    gzip: Option<GzEncoder<Vec<u8>>>,
}

impl Sink {
    /// Sends `text` (taken, leaving it empty) on, starting the stream if it has not started.
    /// Fails when the client went away.
    pub fn send(&mut self, text: &mut String) -> sextant_kairos::Result<()> {
        if let Some(start) = self.start.take() {
            // The handler may already be gone, with the client; the send below says so.
            let _ = start.send(());
        }
        let bytes = match &mut self.gzip {
            Some(encoder) => {
                // Writing into a vector cannot fail.
                let _ = encoder.write_all(text.as_bytes());
                text.clear();
                Bytes::from(std::mem::take(encoder.get_mut()))
            }
            None => Bytes::from(std::mem::take(text)),
        };
        if bytes.is_empty() {
            return Ok(());
        }
        self.tx
            .blocking_send(Ok(bytes))
            .map_err(|_| sextant_kairos::Error::Stopped("the client went away".to_owned()))
    }

    /// Ends the query's thread: the whole answer if nothing was streamed, else the rest of
    /// the stream (or its breaking off, on a failure).
    pub fn finish(mut self, answer: Result<String, Failure>) -> Outcome {
        if self.start.is_some() {
            return Outcome::Whole(answer);
        }
        match answer {
            Ok(mut rest) => {
                if self.send(&mut rest).is_ok()
                    && let Some(encoder) = self.gzip.take()
                    && let Ok(tail) = encoder.finish()
                {
                    let _ = self.tx.blocking_send(Ok(Bytes::from(tail)));
                }
            }
            Err(failure) => {
                let message = failure.0.reply().message();
                tracing::warn!(error = %message, "a streamed KairosDB answer broke off");
                let _ = self
                    .tx
                    .blocking_send(Err(std::io::Error::other(message.clone())));
            }
        }
        Outcome::Streamed
    }
}

/// The handler's end: waits for the query's thread to finish or to start streaming.
#[derive(Debug)]
pub struct Answer {
    start: oneshot::Receiver<()>,
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    gzip: bool,
}

/// A way out for a query whose request had `headers`.
pub fn channel(headers: &HeaderMap) -> (Sink, Answer) {
    let (start_tx, start) = oneshot::channel();
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let gzip = accepts_gzip(headers);
    let sink = Sink {
        start: Some(start_tx),
        tx,
        gzip: gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
    };
    (sink, Answer { start, rx, gzip })
}

impl Answer {
    /// The response: the stream as soon as it starts (holding `client` until it ends, so that
    /// the query stops when the client leaves), else what `thread` ended with.
    pub async fn respond(
        self,
        thread: tokio::task::JoinHandle<Outcome>,
        headers: &HeaderMap,
        client: ClientGuard,
    ) -> Response {
        let Answer { start, rx, gzip } = self;
        let mut thread = thread;
        tokio::select! {
            biased;
            Ok(()) = start => streamed(rx, gzip, client),
            ended = &mut thread => match ended {
                Ok(Outcome::Whole(Ok(body))) => json(StatusCode::OK, body, headers),
                Ok(Outcome::Whole(Err(failure))) => failure.into_response(),
                // The start was sent before the stream ended, and `biased` looks at it first.
                Ok(Outcome::Streamed) => streamed(rx, gzip, client),
                Err(e) => Failure::from(e).into_response(),
            },
        }
    }
}

fn streamed(
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    gzip: bool,
    client: ClientGuard,
) -> Response {
    let chunks = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |chunk| {
        let _held = &client;
        chunk
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    no_cache(h);
    response
}
