//! SignalFlow over WebSocket (`/v2/signalflow/connect`, the `signalfx` client's default) and
//! Server-Sent Events (`POST /v2/signalflow/execute`). The language and its execution are the
//! pure crate `sextant-signalflow`; this module finds a job's data ([`source`]), runs it on a
//! blocking thread, and encodes its messages ([`messages`]) for each transport ([`ws`],
//! [`sse`]). `docs/signalflow.md` says what is served.

pub mod detectors;
pub mod messages;
pub mod source;
pub mod sse;
pub mod ws;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use parking_lot::Mutex;
use sextant_catalog::{Clock, Principal, org_number};
use sextant_model::{OrgId, SeriesKey};
use sextant_signalflow::exec::live::{InputAt, Live, LiveRequest, Step};
use sextant_signalflow::exec::{ExecError, Job, Request};
use sextant_storage::Store;
use sextant_storage::feed::FeedEvent;
use tokio::sync::mpsc;

use crate::auth::{Action, authorize};
use crate::budget::{QueryBudget, QueryLimits};
use crate::state::AppState;
use messages::{Message, Writer};
use source::StoreSource;

/// Computations one organization may run at once.
pub const MAX_COMPUTATIONS_PER_ORG: usize = 32;

/// Input time series one computation may read.
pub const MAX_INPUT_MTS: usize = 100_000;

/// Values a live computation may evaluate at each logical timestamp (input series × the
/// logical timestamps its windows look back): the bound on its work per emission.
pub const MAX_STEP_VALUES: usize = 2_000_000;

/// Bytes of program text accepted.
pub const MAX_PROGRAM_BYTES: usize = 256 * 1024;

/// The SignalFlow routes. The WebSocket route is served without a key: the client sends its
/// token in the first message.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/signalflow/connect", get(ws::connect))
        .route("/v2/signalflow/execute", post(sse::execute))
        .route("/v2/signalflow/preflight", post(sse::execute))
        .route("/v2/signalflow/{handle}/attach", post(sse::attach))
        .route("/v2/signalflow/start", post(sse::not_served))
        .route("/v2/signalflow/{handle}/keepalive", post(sse::not_served))
        .route("/v2/signalflow/{handle}/stop", post(sse::not_served))
        .merge(detectors::routes())
}

/// The computations running, per organization: the limit's bookkeeping, and the live ones
/// another channel may `attach` to, by organization and handle.
#[derive(Debug, Default)]
pub struct Computations {
    running: Mutex<HashMap<String, usize>>,
    attachable: Mutex<HashMap<(String, String), Arc<Broadcast>>>,
}

/// Messages attached channels receive in this many messages of slack; a channel further
/// behind is ended with an error rather than slowing the computation.
const ATTACHED_BACKLOG: usize = 1_024;

/// A live computation's messages for the channels attached to it.
#[derive(Debug)]
pub struct Broadcast {
    /// What an attached channel needs before the computation's next message: the stream and
    /// job starts and every series' metadata so far, in order.
    preamble: Mutex<Vec<Message>>,
    sender: tokio::sync::broadcast::Sender<Message>,
}

impl Broadcast {
    /// Hands `message` to the channels attached now, keeping what a later one needs first.
    fn publish(&self, message: &Message) {
        // Under the preamble's lock, so that an attach sees each message in its preamble or
        // from its receiver, never both nor neither.
        let mut preamble = self.preamble.lock();
        if message.is_preamble() {
            preamble.push(message.clone());
        }
        // No copy of each data message while nobody is attached.
        if self.sender.receiver_count() > 0 {
            let _ = self.sender.send(message.clone());
        }
    }

    /// The messages so far that a new channel needs, and a receiver of the next ones.
    fn attach(&self) -> (Vec<Message>, tokio::sync::broadcast::Receiver<Message>) {
        let preamble = self.preamble.lock();
        (preamble.clone(), self.sender.subscribe())
    }

    /// The messages of a newly attached channel: the preamble, then each message from the
    /// next one on, until the computation's end (its last message, or an `END_OF_CHANNEL`
    /// if it was stopped) or an error once the channel falls `ATTACHED_BACKLOG` (1,024) messages
    /// behind. Dropping the receiver detaches.
    pub fn follow(&self, clock: Arc<dyn Clock>) -> mpsc::Receiver<Message> {
        use tokio::sync::broadcast::error::RecvError;
        let (preamble, mut next) = self.attach();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            for message in preamble {
                if tx.send(message).await.is_err() {
                    return;
                }
            }
            loop {
                let message = match next.recv().await {
                    Ok(message) => message,
                    Err(RecvError::Lagged(n)) => Message::error(
                        503,
                        "ATTACHED_CHANNEL_BEHIND",
                        &format!(
                            "this attached channel fell {n} messages behind its computation and was ended; attach again"
                        ),
                    ),
                    Err(RecvError::Closed) => {
                        Message::control("END_OF_CHANNEL", now_ms(clock.as_ref()))
                    }
                };
                let end = message.ends_channel();
                if tx.send(message).await.is_err() || end {
                    return;
                }
            }
        });
        rx
    }
}

/// A live computation's place among the attachable ones; removed when dropped.
struct Attachable {
    computations: Arc<Computations>,
    key: (String, String),
    broadcast: Arc<Broadcast>,
}

impl Drop for Attachable {
    fn drop(&mut self) {
        self.computations.attachable.lock().remove(&self.key);
    }
}

/// A computation's place among its organization's; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    computations: Arc<Computations>,
    org: String,
}

impl Computations {
    /// A slot for one more computation of `org`, unless it runs [`MAX_COMPUTATIONS_PER_ORG`].
    pub fn take(self: &Arc<Self>, org: &str) -> Option<Slot> {
        let mut running = self.running.lock();
        let n = running.entry(org.to_owned()).or_default();
        if *n >= MAX_COMPUTATIONS_PER_ORG {
            return None;
        }
        *n += 1;
        Some(Slot {
            computations: self.clone(),
            org: org.to_owned(),
        })
    }

    /// The live computation of `org` with `handle`, to attach to.
    pub fn attachable(&self, org: &str, handle: &str) -> Option<Arc<Broadcast>> {
        let key = (org.to_owned(), handle.to_owned());
        self.attachable.lock().get(&key).cloned()
    }

    /// Makes the live computation `handle` of `org` attachable while the result lives.
    fn offer(self: &Arc<Self>, org: &str, handle: &str) -> Attachable {
        let (sender, _) = tokio::sync::broadcast::channel(ATTACHED_BACKLOG);
        let broadcast = Arc::new(Broadcast {
            preamble: Mutex::new(Vec::new()),
            sender,
        });
        let key = (org.to_owned(), handle.to_owned());
        self.attachable
            .lock()
            .insert(key.clone(), broadcast.clone());
        Attachable {
            computations: self.clone(),
            key,
            broadcast,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.computations.running.lock();
        if let Some(n) = running.get_mut(&self.org) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.org);
            }
        }
    }
}

/// What an `execute` asks for, in the client's terms (milliseconds).
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The program text.
    pub program: String,
    /// The first instant; absent: now (a live computation).
    pub start: Option<i64>,
    /// The end; absent: never (a live computation).
    pub stop: Option<i64>,
    /// The smallest resolution wanted.
    pub resolution: Option<i64>,
    /// Whether a stop in the future ends the computation now rather than waiting.
    pub immediate: bool,
    /// How long a live computation waits for late points, milliseconds.
    pub max_delay: Option<i64>,
    /// The computation's handle, when the transport chose it; a new one otherwise.
    pub handle: Option<String>,
}

/// The wait for late points of a live computation that does not say.
pub const DEFAULT_MAX_DELAY: i64 = 1_000;

/// The longest wait for late points a live computation may ask for.
pub const MAX_MAX_DELAY: i64 = 15 * 60_000;

/// Runs one computation and sends its messages to `tx` until its end (a batch computation,
/// or a live one reaching its stop) or until `tx` is closed (the client went away). A
/// computation that cannot run sends one error message.
pub async fn run(
    state: &AppState,
    principal: &Principal,
    params: Params,
    tx: mpsc::Sender<Message>,
) {
    if let Err(denied) = authorize(principal, Action::ReadData) {
        let _ = tx
            .send(Message::error(403, "FORBIDDEN", &denied.to_string()))
            .await;
        return;
    }
    let Some(slot) = state.computations.take(&principal.organization_id) else {
        let message = format!(
            "this organization already runs {MAX_COMPUTATIONS_PER_ORG} computations, its limit; stop one first"
        );
        let _ = tx
            .send(Message::error(429, "TOO_MANY_COMPUTATIONS", &message))
            .await;
        return;
    };
    let index = match state.signalfx.org(state, &principal.organization_id).await {
        Ok(index) => index,
        Err(e) => {
            let _ = tx
                .send(Message::error(500, "INTERNAL", &e.reply().message()))
                .await;
            return;
        }
    };
    let org = org_number(&principal.organization_id);
    let source = StoreSource::new(
        state.store.clone(),
        state.catalog.clone(),
        org,
        principal.organization_id.clone(),
        index,
    );
    let store = state.store.clone();
    let clock = state.clock.clone();
    let computations = state.computations.clone();
    let org_id = principal.organization_id.clone();
    let key = principal.key_name.clone();
    let errors = tx.clone();
    // A batch computation's reads stop at the server's query deadline, or once its client has
    // gone (its messages' receiver is dropped; so is this future, with the guard, when its
    // connection closes).
    let limits = state.query_limits(&principal.organization_id).await;
    let (budget, _client) = QueryBudget::start(&limits);
    let outcome = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let gone = tx.clone();
        let deadline = move || {
            if gone.is_closed() {
                return Err("the computation was stopped: its client went away".to_owned());
            }
            budget.check()
        };
        compute(
            store.as_ref(),
            &source,
            clock.as_ref(),
            (org, &org_id, &computations),
            (params, &limits),
            &tx,
            deadline,
        )
    })
    .await;
    let message = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => {
            tracing::info!(key = %key, error = %e, "SignalFlow computation refused");
            Message::error(400, "ANALYTICS_PROGRAM_ERROR", &e.to_string())
        }
        Err(e) => Message::error(500, "INTERNAL", &e.to_string()),
    };
    let _ = errors.send(message).await;
}

/// Milliseconds since the epoch by `clock`.
fn now_ms(clock: &dyn Clock) -> i64 {
    clock.now() / 1_000_000
}

/// The body of a computation, on a blocking thread. Returns `Ok` once it ended or its client
/// went away.
fn compute(
    store: &dyn Store,
    source: &StoreSource,
    clock: &dyn Clock,
    (org, org_id, computations): (OrgId, &str, &Arc<Computations>),
    (params, limits): (Params, &QueryLimits),
    tx: &mpsc::Sender<Message>,
    deadline: impl Fn() -> Result<(), String> + Send + Sync + 'static,
) -> Result<(), ExecError> {
    // Set once the computation is live: its messages go to attached channels too.
    let attached: std::cell::OnceCell<Attachable> = std::cell::OnceCell::new();
    let send = |messages: Vec<Message>| -> bool {
        messages.into_iter().all(|m| {
            if let Some(a) = attached.get() {
                a.broadcast.publish(&m);
            }
            tx.blocking_send(m).is_ok()
        })
    };
    if params.program.len() > MAX_PROGRAM_BYTES {
        return Err(ExecError::job(format!(
            "the program is {} bytes, more than the limit of {MAX_PROGRAM_BYTES}",
            params.program.len()
        )));
    }
    let program = sextant_signalflow::parse(&params.program).map_err(|e| ExecError {
        pos: Some(e.pos),
        message: e.message,
    })?;
    let job = Job::compile(&program)?;
    let now = now_ms(clock);
    let start = params.start.unwrap_or(now);
    let handle = params.handle.clone().unwrap_or_else(handle);
    let batch_stop = match params.stop {
        Some(stop) if stop <= now => Some(stop),
        Some(_) if params.immediate => Some(now.max(start)),
        _ => None,
    };
    if let Some(stop) = batch_stop {
        source.stop_when(Box::new(deadline));
        let mut request = Request::new(start, stop);
        request.resolution = params.resolution.filter(|r| *r > 0);
        request.max_input_mts = MAX_INPUT_MTS;
        // A point limit set for the organization bounds the values a batch job holds too.
        if limits.max_points_by_org {
            request.max_values = request.max_values.min(limits.max_points);
        }
        let output = job.run(source, &request)?;
        let (mut writer, mut messages) = Writer::begin(&handle, now);
        messages.extend(writer.output(&output, now));
        messages.extend(writer.end(now));
        send(messages);
        return Ok(());
    }
    // Live: note the feed's position before reading the store, so that every point
    // committed after the read is in the feed (see `sextant_signalflow::exec::live`).
    let after = store.feed().last_seq();
    let request = LiveRequest {
        start,
        stop: params.stop,
        resolution: params.resolution.filter(|r| *r > 0),
        max_delay: params
            .max_delay
            .filter(|d| *d > 0)
            .unwrap_or(DEFAULT_MAX_DELAY)
            .min(MAX_MAX_DELAY),
        max_input_mts: MAX_INPUT_MTS,
        max_step_values: MAX_STEP_VALUES,
        resume: None,
    };
    let (mut live, past) = Live::start(job, source, &request, now)?;
    let _ = attached.set(computations.offer(org_id, &handle));
    let (mut writer, mut messages) = Writer::begin(&handle, now);
    messages.extend(writer.output(&past, now));
    if !send(messages) {
        return Ok(());
    }
    let finished = follow(
        store,
        source,
        clock,
        org,
        &mut live,
        after,
        |step| send(writer.step(step)),
        || tx.is_closed(),
    )?;
    if finished {
        send(writer.end(now_ms(clock)));
    }
    Ok(())
}

/// Runs a live job on: feeds it every point of its organization committed after feed
/// position `after` and hands each logical timestamp it emits to `on_step`, until the job
/// reaches its stop (`Ok(true)`), or `on_step` returns false or `stopped()` holds
/// (`Ok(false)`). Blocking.
#[allow(clippy::too_many_arguments)]
pub(crate) fn follow(
    store: &dyn Store,
    source: &StoreSource,
    clock: &dyn Clock,
    org: OrgId,
    live: &mut Live,
    after: u64,
    mut on_step: impl FnMut(&Step) -> bool,
    stopped: impl Fn() -> bool,
) -> Result<bool, ExecError> {
    let mut places: HashMap<SeriesKey, Vec<InputAt>> = HashMap::new();
    for (at, meta) in live.inputs() {
        if let Ok(key) = SeriesKey::new(
            meta.metric.as_str(),
            meta.dims.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            places.entry(key).or_default().push(at);
        }
    }
    let mut reader = store.feed().follow(after);
    loop {
        if stopped() {
            return Ok(false);
        }
        let now = now_ms(clock);
        for mut step in live.advance(now, false)? {
            // `events()` read as each step is emitted; data comes from the feed below.
            step.events
                .extend(live.stored_events_at(source, step.timestamp)?);
            step.events.sort_by_key(|e| e.timestamp);
            if !on_step(&step) {
                return Ok(false);
            }
        }
        let Some(deadline) = live.next_deadline() else {
            return Ok(true);
        };
        let wait = Duration::from_millis((deadline - now).clamp(1, 1_000) as u64);
        let event = reader
            .next(wait)
            .map_err(|e| ExecError::job(format!("reading committed writes failed: {e}")))?;
        let Some(FeedEvent::Write { batch, .. }) = event else {
            continue;
        };
        if batch.org() != org {
            continue;
        }
        for series in batch.series() {
            let at = match places.get(&series.key) {
                Some(at) => at.clone(),
                None => {
                    if !live.wants_metric(series.key.name()) {
                        continue;
                    }
                    let at = source
                        .describe(&series.key, series.data_type)
                        .map(|input| live.discover(input))
                        .unwrap_or_default();
                    // Remembered either way: a series that matches nothing is not looked at
                    // again.
                    places.insert(series.key.clone(), at.clone());
                    at
                }
            };
            for point in &series.points {
                if let Some(v) = point.value.as_number() {
                    for place in &at {
                        live.push(*place, point.timestamp / 1_000_000, v);
                    }
                }
            }
        }
    }
}

/// A new computation handle: 11 characters of URL-safe base64, like SignalFx's.
pub(crate) fn handle() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 8];
    // A handle only names a computation on its connection; a failing random source leaves
    // zeros, which still work.
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
