//! The Server-Sent Events transport: `POST /v2/signalflow/execute` (and `/preflight`) with
//! the program as the body and the options in the query string, answered with one SSE record
//! per message (`event: <type>`, `data: <JSON>`), data in its JSON form.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::StreamBody;
use hyper::body::Frame;
use sextant_catalog::Principal;
use tokio_stream::StreamExt;
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
    let now = state.clock.now() / 1_000_000;
    let bounded = match params.stop {
        Some(stop) => params.start.is_some() && (stop <= now || params.immediate),
        None => false,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    if !bounded {
        // Live: the computation runs on its own and its messages are streamed as they come;
        // when the client goes away the stream, and with it the computation, stops.
        let (state, principal) = (state.clone(), principal.clone());
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
        return streamed(tokio_stream::once(first).chain(ReceiverStream::new(rx)));
    }
    let (_, messages) = tokio::join!(run(&state, &principal, params, tx), async {
        let mut all = Vec::new();
        while let Some(m) = rx.recv().await {
            all.push(m);
        }
        all
    });
    if let [only] = messages.as_slice()
        && only.kind() == "error"
    {
        return refused(only);
    }
    // Encoding is CPU work, a few milliseconds for 100,000 values: off the I/O threads, and
    // spread over the cores when the answer is large.
    let Ok(pieces) = tokio::task::spawn_blocking(move || encode(&messages)).await else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding the computation's messages failed",
        );
    };
    let frames = pieces
        .into_iter()
        .map(|piece| Ok::<_, Infallible>(Frame::data(Bytes::from(piece))));
    event_stream(Response::new(Body::new(StreamBody::new(
        tokio_stream::iter(frames),
    ))))
}

/// Values past which a batch answer is encoded on more than one thread.
const VALUES_PER_THREAD: usize = 20_000;

/// The SSE records of `messages`, in order, as consecutive pieces of the body: one piece per
/// thread that encoded them, each sized up front (at most about 64 bytes a value) so that it
/// is not copied as it grows.
fn encode(messages: &[Message]) -> Vec<Vec<u8>> {
    let encode_run = |run: &[Message]| {
        let values: usize = run.iter().map(Message::values).sum();
        let mut body = Vec::with_capacity(256 * run.len() + 64 * values);
        for m in run {
            record(m, &mut body);
        }
        body
    };
    let values: usize = messages.iter().map(Message::values).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(values / VALUES_PER_THREAD).max(1);
    if threads == 1 {
        return vec![encode_run(messages)];
    }
    // Runs of about equal values, cut between messages.
    let share = values.div_ceil(threads);
    let mut runs = Vec::with_capacity(threads);
    let (mut start, mut held) = (0, 0);
    for (i, m) in messages.iter().enumerate() {
        held += m.values();
        if held >= share && runs.len() + 1 < threads {
            runs.push(&messages[start..=i]);
            (start, held) = (i + 1, 0);
        }
    }
    runs.push(&messages[start..]);
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let first = runs.next().unwrap_or_default();
        let others: Vec<_> = runs.map(|run| scope.spawn(|| encode_run(run))).collect();
        let mut pieces = vec![encode_run(first)];
        for other in others {
            match other.join() {
                Ok(piece) => pieces.push(piece),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        pieces
    })
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

/// An event stream writing each of `messages` as it comes; dropped (and with it the source of
/// the messages) when the client goes away.
fn streamed(messages: impl tokio_stream::Stream<Item = Message> + Send + 'static) -> Response {
    let records = messages.map(|m| {
        let mut bytes = Vec::new();
        record(&m, &mut bytes);
        Ok::<_, Infallible>(Frame::data(Bytes::from(bytes)))
    });
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
