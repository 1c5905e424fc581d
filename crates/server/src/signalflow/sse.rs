//! The Server-Sent Events transport: `POST /v2/signalflow/execute` (and `/preflight`) with
//! the program as the body and the options in the query string, answered with one SSE record
//! per message (`event: <type>`, `data: <JSON>`), data in its JSON form.

use std::collections::HashMap;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, Stream, StreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;
use sextant_catalog::Principal;
use tokio_stream::wrappers::ReceiverStream;

use super::messages::Message;
use super::{Params, run};
use crate::auth::{Action, authorize};
use crate::state::AppState;

/// The channel name SSE messages carry: one computation per request.
const CHANNEL: &str = "sse";

/// `POST /v2/signalflow/execute`.
pub async fn execute(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let program = match String::from_utf8(body.to_vec()) {
        Ok(p) => p,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "the program is not UTF-8 text"),
    };
    let millis = |name: &str| -> Result<Option<i64>, String> {
        match query.get(name).map(String::as_str) {
            None | Some("" | "None") => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("`{name}` must be milliseconds, not `{text}`")),
        }
    };
    let params = match (
        millis("start"),
        millis("stop"),
        millis("resolution"),
        millis("maxDelay"),
    ) {
        (Ok(start), Ok(stop), Ok(resolution), Ok(max_delay)) => Params {
            program,
            start,
            stop,
            resolution,
            immediate: query
                .get("immediate")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            max_delay,
            handle: None,
        },
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return refuse(StatusCode::BAD_REQUEST, &e);
        }
    };
    // The computation runs on its own and its messages are streamed as they come, a batch
    // computation's as a live one's: when the client goes away the stream, and with it the
    // computation, stops.
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move { run(&state, &principal, params, tx).await });
    let Some(first) = rx.recv().await else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the computation ended at once",
        );
    };
    if first.kind() == "error" {
        return refused(&first);
    }
    streamed(futures_util::stream::iter([first]).chain(ReceiverStream::new(rx)))
}

/// Values in one run of messages encoded together: about a megabyte of JSON.
const VALUES_PER_RUN: usize = 20_000;

/// Values from which a run is encoded on the blocking pool rather than on the I/O thread.
const VALUES_OFF_THREAD: usize = 2_000;

/// The messages of `messages` in runs: each run is the next message and those that are ready
/// behind it, up to about [`VALUES_PER_RUN`] values. A live computation's messages come one
/// at a time and go out one at a time; a batch computation's all come at once and go out in
/// large runs.
fn runs(
    messages: impl Stream<Item = Message> + Send + 'static,
) -> impl Stream<Item = Vec<Message>> + Send + 'static {
    futures_util::stream::unfold(Box::pin(messages.fuse()), |mut messages| async move {
        let first = messages.next().await?;
        let mut values = first.values();
        let mut run = vec![first];
        while values < VALUES_PER_RUN {
            match messages.next().now_or_never() {
                Some(Some(m)) => {
                    values += m.values();
                    run.push(m);
                }
                _ => break,
            }
        }
        Some((run, messages))
    })
}

/// The SSE records of `run`, in order.
fn encode(run: &[Message]) -> Vec<u8> {
    let values: usize = run.iter().map(Message::values).sum();
    // Sized up front (at most about 64 bytes a value) so that it is not copied as it grows.
    let mut body = Vec::with_capacity(256 * run.len() + 64 * values);
    for m in run {
        record(m, &mut body);
    }
    body
}

/// A computation that failed before it started, answered with the error's status and message
/// (the client reads them from a non-200 reply only).
fn refused(error: &Message) -> Response {
    let json = error.to_json(CHANNEL);
    let status = json
        .get("error")
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| StatusCode::from_u16(c as u16).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    let message = json
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("the computation failed");
    refuse(status, message)
}

/// `POST /v2/signalflow/{handle}/attach`: a live computation running on another channel (a
/// WebSocket's), streamed from its next message on as it is computed, after the stream and
/// job starts and the metadata of every series so far.
pub async fn attach(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(handle): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&principal, Action::ReadData) {
        return refuse(StatusCode::FORBIDDEN, &denied.to_string());
    }
    let Some(broadcast) = state
        .computations
        .attachable(&principal.organization_id, &handle)
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("no live computation with handle `{handle}` is running in this organization"),
        );
    };
    streamed(ReceiverStream::new(broadcast.follow(state.clock.clone())))
}

/// An event stream writing `messages` as they come; dropped (and with it the source of the
/// messages) when the client goes away. Large runs of messages are encoded on the blocking
/// pool, as many at once as there are cores, and written in order as each is ready: the first
/// bytes of a large answer leave while the rest is encoded, and no more than a few runs are
/// held encoded at once.
fn streamed(messages: impl Stream<Item = Message> + Send + 'static) -> Response {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let records = runs(messages)
        .map(|run| async move {
            let values: usize = run.iter().map(Message::values).sum();
            if values < VALUES_OFF_THREAD {
                return Ok(encode(&run));
            }
            tokio::task::spawn_blocking(move || encode(&run))
                .await
                .map_err(|e| std::io::Error::other(format!("encoding messages failed: {e}")))
        })
        .buffered(cores.max(1))
        .map(|bytes| bytes.map(|b| Frame::data(Bytes::from(b))));
    event_stream(Response::new(Body::new(StreamBody::new(records))))
}

/// Appends `message` as one SSE record: `event: <type>`, `data: <JSON>`.
fn record(message: &Message, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(message.kind().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    message.write_json(CHANNEL, out);
    out.extend_from_slice(b"\n\n");
}

/// `response` as an event stream.
fn event_stream(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}

/// `POST /v2/signalflow/start`, `/{handle}/keepalive` and `/{handle}/stop`: not served, with
/// what to use instead.
pub async fn not_served() -> Response {
    refuse(
        StatusCode::NOT_IMPLEMENTED,
        "starting a computation without a channel, and keeping alive or stopping one over SSE, are not served: execute it (over SSE or the WebSocket) and close the stream, or send `stop` on the WebSocket, to stop it",
    )
}

/// A refusal the client reads: exactly `application/json` with `message` and `errorType`.
fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"message": message, "errorType": "ANALYTICS_PROGRAM_ERROR"});
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(timestamp: i64, values: usize) -> Message {
        Message::Data {
            timestamp,
            points: (0..values)
                .map(|i| ((i as u64).to_be_bytes(), 0.5))
                .collect(),
        }
    }

    #[tokio::test]
    async fn a_batch_answer_goes_out_in_runs_that_keep_its_order_and_bytes() {
        let mut messages = vec![Message::control("STREAM_START", 1)];
        messages.extend((0..300).map(|t| data(t, 100)));
        messages.push(Message::control("END_OF_CHANNEL", 2));
        let runs: Vec<Vec<Message>> = runs(futures_util::stream::iter(messages.clone()))
            .collect()
            .await;
        // 30,000 values: more than one run, none past its size by more than one message.
        assert!(runs.len() >= 2, "{} runs", runs.len());
        for run in &runs {
            let values: usize = run.iter().map(Message::values).sum();
            assert!(values < VALUES_PER_RUN + 100, "a run of {values} values");
        }
        assert_eq!(runs.concat(), messages);
        let pieces: Vec<u8> = runs.iter().flat_map(|run| encode(run)).collect();
        assert_eq!(pieces, encode(&messages));
    }

    #[tokio::test]
    async fn a_live_message_goes_out_alone_when_no_other_is_ready() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut runs = Box::pin(runs(ReceiverStream::new(rx)));
        tx.send(data(1, 3)).await.unwrap();
        assert_eq!(runs.next().await, Some(vec![data(1, 3)]));
        tx.send(data(2, 3)).await.unwrap();
        tx.send(data(3, 3)).await.unwrap();
        assert_eq!(runs.next().await, Some(vec![data(2, 3), data(3, 3)]));
        drop(tx);
        assert_eq!(runs.next().await, None);
    }
}
