//! The WebSocket transport: one connection, many computations, each on a channel the client
//! names.
//!
//! The client sends its token in the first message and waits, without a timeout, for
//! `authenticated` or for a close with a code other than 1000: a bad token is answered with
//! an error and a close with 4401, never with silence. Data goes out as binary frames
//! (version 1), everything else as JSON text. An idle connection gets a `KEEP_ALIVE` every
//! 20 seconds, since the client never pings.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use sextant_catalog::Principal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::messages::Message;
use super::{MAX_PROGRAM_BYTES, Params, run};
use crate::auth::{Action, authorize};
use crate::state::AppState;

/// How long a new connection may take to authenticate.
const AUTHENTICATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection may go without a message before it gets a `KEEP_ALIVE`.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// Close code of a refused token (HTTP's 401 in the 4000 range), as SignalFx uses it.
const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code of a key whose scope may not read data.
const CLOSE_FORBIDDEN: u16 = 4403;

/// `GET /v2/signalflow/connect`: the upgrade to a WebSocket.
pub async fn connect(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .max_message_size(MAX_PROGRAM_BYTES + 64 * 1024)
        .on_upgrade(move |socket| session(state, socket))
}

async fn session(state: AppState, mut socket: WebSocket) {
    let Some(principal) = authenticate(&state, &mut socket).await else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<(String, Message)>(1024);
    let mut jobs: HashMap<String, JoinHandle<()>> = HashMap::new();
    // Each running computation's channel, by handle, for `stop`.
    let mut handles: HashMap<String, String> = HashMap::new();
    let mut last_sent = Instant::now();
    let mut tick = tokio::time::interval(KEEP_ALIVE / 4);
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Frame::Text(text))) => {
                    if let Some(reply) = request(&state, &principal, text.as_str(), &tx, &mut jobs, &mut handles) {
                        if send_json(&mut socket, reply).await.is_err() {
                            break;
                        }
                        last_sent = Instant::now();
                    }
                }
                Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            Some((channel, message)) = rx.recv() => {
                let end = message.ends_channel();
                if !jobs.contains_key(&channel) {
                    // Detached: the client no longer listens on the channel.
                    continue;
                }
                let frame = match message.to_binary(&channel) {
                    Some(bytes) => Frame::Binary(bytes.into()),
                    None => {
                        let mut text = Vec::new();
                        message.write_json(&channel, &mut text);
                        // JSON text is UTF-8.
                        Frame::Text(String::from_utf8_lossy(&text).into_owned().into())
                    }
                };
                if socket.send(frame).await.is_err() {
                    break;
                }
                last_sent = Instant::now();
                if end {
                    jobs.remove(&channel);
                }
            }
            _ = tick.tick() => {
                if last_sent.elapsed() >= KEEP_ALIVE {
                    let now = state.clock.now() / 1_000_000;
                    let alive = json!({"type": "control-message", "event": "KEEP_ALIVE", "timestampMs": now});
                    if send_json(&mut socket, alive).await.is_err() {
                        break;
                    }
                    last_sent = Instant::now();
                }
            }
        }
    }
    for (_, job) in jobs {
        job.abort();
    }
}

async fn send_json(socket: &mut WebSocket, value: Value) -> Result<(), axum::Error> {
    socket.send(Frame::Text(value.to_string().into())).await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Frame::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// Waits for the `authenticate` message and checks its token. On failure, sends an error
/// and closes with a non-1000 code, so that the client raises instead of waiting.
async fn authenticate(state: &AppState, socket: &mut WebSocket) -> Option<Principal> {
    let first = tokio::time::timeout(AUTHENTICATION_TIMEOUT, socket.recv()).await;
    let token = match first {
        Ok(Some(Ok(Frame::Text(text)))) => serde_json::from_str::<Value>(text.as_str())
            .ok()
            .filter(|v| v.get("type").and_then(Value::as_str) == Some("authenticate"))
            .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned)),
        _ => None,
    };
    let principal = match token {
        Some(token) => {
            let catalog = state.catalog.clone();
            tokio::task::spawn_blocking(move || catalog.authenticate(&token))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        }
        None => None,
    };
    let Some(principal) = principal else {
        let _ = send_json(
            socket,
            json!({"type": "error", "error": 401, "message": "Unauthorized: the first message must be {\"type\": \"authenticate\", \"token\": KEY} with a valid key"}),
        )
        .await;
        close(socket, CLOSE_UNAUTHORIZED, "Unauthorized").await;
        return None;
    };
    if let Err(denied) = authorize(&principal, Action::ReadData) {
        let _ = send_json(
            socket,
            json!({"type": "error", "error": 403, "message": denied.to_string()}),
        )
        .await;
        close(socket, CLOSE_FORBIDDEN, "Forbidden").await;
        return None;
    }
    send_json(
        socket,
        json!({"type": "authenticated", "orgId": principal.organization_id, "userId": principal.key_id}),
    )
    .await
    .ok()?;
    Some(principal)
}

/// Handles one request of the client; returns a message to send at once, if any.
fn request(
    state: &AppState,
    principal: &Principal,
    text: &str,
    tx: &mpsc::Sender<(String, Message)>,
    jobs: &mut HashMap<String, JoinHandle<()>>,
    handles: &mut HashMap<String, String>,
) -> Option<Value> {
    let mut request: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Some(
                json!({"type": "error", "error": 400, "message": format!("the request is not JSON: {e}")}),
            );
        }
    };
    // The client's `start` request is encoded twice: a JSON string holding the object.
    if let Value::String(inner) = &request
        && let Ok(v) = serde_json::from_str::<Value>(inner)
    {
        request = v;
    }
    let kind = request.get("type").and_then(Value::as_str).unwrap_or("");
    let channel = request
        .get("channel")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let failure = |channel: &Option<String>, code: u16, message: String| {
        let mut reply = json!({"type": "error", "error": code, "message": message});
        if let Some(c) = channel {
            reply["channel"] = json!(c);
        }
        Some(reply)
    };
    match kind {
        "execute" | "preflight" => {
            let Some(channel) = channel else {
                return failure(&None, 400, format!("`{kind}` needs a `channel`"));
            };
            if jobs.contains_key(&channel) {
                return failure(
                    &Some(channel.clone()),
                    400,
                    format!("channel `{channel}` is in use"),
                );
            }
            let params = match params(&request) {
                Ok(p) => p,
                Err(message) => return failure(&Some(channel), 400, message),
            };
            handles.retain(|_, c| jobs.contains_key(c));
            if let Some(handle) = &params.handle {
                handles.insert(handle.clone(), channel.clone());
            }
            let (state, principal, tx) = (state.clone(), principal.clone(), tx.clone());
            let name = channel.clone();
            let job = tokio::spawn(async move {
                let (job_tx, mut job_rx) = mpsc::channel(256);
                let computation = run(&state, &principal, params, job_tx);
                let forward = async {
                    while let Some(message) = job_rx.recv().await {
                        if tx.send((name.clone(), message)).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::join!(computation, forward);
            });
            jobs.insert(channel, job);
            None
        }
        "detach" => {
            if let Some(job) = channel.and_then(|c| jobs.remove(&c)) {
                job.abort();
            }
            None
        }
        // A computation lives as long as its channel: there is nothing to keep alive apart.
        "keepalive" => None,
        // Stops the computation of `handle`; its channel ends.
        "stop" => {
            let handle = request.get("handle").and_then(Value::as_str).unwrap_or("");
            let channel = handles.remove(handle)?;
            let job = jobs.remove(&channel)?;
            job.abort();
            let now = state.clock.now() / 1_000_000;
            let mut end = Message::control("END_OF_CHANNEL", now).to_json(&channel);
            end["reason"] = request.get("reason").cloned().unwrap_or(Value::Null);
            Some(end)
        }
        // Another channel's live computation, from its next message on, after the stream
        // and job starts and the metadata of every series so far.
        "attach" => {
            let Some(channel) = channel else {
                return failure(&None, 400, "`attach` needs a `channel`".into());
            };
            if jobs.contains_key(&channel) {
                return failure(
                    &Some(channel.clone()),
                    400,
                    format!("channel `{channel}` is in use"),
                );
            }
            let handle = request.get("handle").and_then(Value::as_str).unwrap_or("");
            let Some(broadcast) = state
                .computations
                .attachable(&principal.organization_id, handle)
            else {
                return failure(
                    &Some(channel),
                    404,
                    format!(
                        "no live computation with handle `{handle}` is running in this organization"
                    ),
                );
            };
            let mut messages = broadcast.follow(state.clock.clone());
            drop(broadcast);
            let (tx, name) = (tx.clone(), channel.clone());
            let job = tokio::spawn(async move {
                while let Some(message) = messages.recv().await {
                    if tx.send((name.clone(), message)).await.is_err() {
                        return;
                    }
                }
            });
            jobs.insert(channel, job);
            None
        }
        "start" => None,
        other => failure(&channel, 400, format!("unknown request type `{other}`")),
    }
}

/// The parameters of an `execute` or `preflight` request.
fn params(request: &Value) -> Result<Params, String> {
    let program = request
        .get("program")
        .and_then(Value::as_str)
        .ok_or("the request has no `program`")?
        .to_owned();
    let millis = |name: &str| -> Result<Option<i64>, String> {
        match request.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| format!("`{name}` must be milliseconds, not {v}")),
        }
    };
    Ok(Params {
        program,
        start: millis("start")?,
        stop: millis("stop")?,
        resolution: millis("resolution")?,
        immediate: request
            .get("immediate")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_delay: millis("maxDelay")?,
        handle: Some(super::handle()),
    })
}
