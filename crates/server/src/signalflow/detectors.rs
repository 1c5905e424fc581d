//! Detectors: SignalFlow programs stored with rules, run live by the server, whose
//! `detect(...).publish(label)` events open and clear incidents (`/v2/detector`,
//! `/v2/incident`, as the `signalfx` client's REST API calls them).
//!
//! Each enabled detector runs as a live job on a blocking thread of its own ([`Detectors`]).
//! Every logical timestamp it evaluates is stored in one catalog transaction: its trigger and
//! clear events (custom events of the detector's name, readable with SignalFlow's `events()`
//! and `GET /v2/detector/{id}/events`), the incidents they open and clear, and how far the
//! evaluation got. After a restart, or a crash, the detector resumes from there with the
//! incidents that were open, computing the logical timestamps it missed from the store: no
//! trigger is sent twice or lost. Each event is also sent to the webhooks of the rule whose
//! `detectLabel` it carries (`{"type": "Webhook", "url": …}` notifications, to hosts allowed
//! with `--webhook-allow`) and to the server's webhook URL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use parking_lot::Mutex;
use serde_json::{Map, Value as Json, json};
use sextant_catalog::{
    Principal, SfxDetector, SfxDetectorStep, SfxEvent, SfxIncident, SfxPropertyValue, org_number,
};
use sextant_signalflow::exec::live::{Live, LiveRequest};
use sextant_signalflow::exec::plan::Publication;
use sextant_signalflow::exec::series::{ts_id_from_text, ts_id_text};
use sextant_signalflow::exec::{EventKind, ExecError, Job, OutEvent};
use tokio::task::JoinHandle;

use super::source::StoreSource;
use super::{
    DEFAULT_MAX_DELAY, MAX_INPUT_MTS, MAX_MAX_DELAY, MAX_PROGRAM_BYTES, MAX_STEP_VALUES, follow,
    now_ms,
};
use crate::auth::{Action, authorize};
use crate::error::HttpError;
use crate::signalfx::reply_error;
use crate::signalfx::rest::{blocking, respond};
use crate::state::AppState;

/// How long a detector that failed waits before it starts again.
const RETRY: Duration = Duration::from_secs(5);

/// The detector and incident routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/detector", post(create).get(list))
        .route("/v2/detector/validate", post(validate))
        .route("/v2/detector/{id}", get(get_one).put(update).delete(delete))
        .route("/v2/detector/{id}/events", get(events))
        .route("/v2/detector/{id}/incidents", get(detector_incidents))
        .route("/v2/incident", get(incidents))
        .route("/v2/incident/{id}", get(incident))
        .route("/v2/incident/{id}/clear", put(clear))
}

/// What a detector's body says, checked: the fields Sextant interprets.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    description: String,
    program_text: String,
    disabled: bool,
    body: Map<String, Json>,
}

/// A rule of a detector: what its `detectLabel`'s events are called and where they go.
#[derive(Debug, Clone, Default)]
struct Rule {
    severity: String,
    webhooks: Vec<String>,
}

/// Reads and checks a detector's JSON body: a name, a program that compiles, and rules whose
/// `detectLabel`s the program publishes.
fn spec(body: &[u8]) -> Result<Spec, HttpError> {
    let value: Json = serde_json::from_slice(body)
        .map_err(|e| HttpError::invalid(format!("the detector is not JSON: {e}")))?;
    let Json::Object(body) = value else {
        return Err(HttpError::invalid("the detector must be a JSON object"));
    };
    let text = |field: &str| body.get(field).and_then(Json::as_str).map(str::to_owned);
    let name = text("name").unwrap_or_default();
    if name.trim().is_empty() {
        return Err(HttpError::invalid("the detector needs a `name`"));
    }
    let program_text = text("programText").unwrap_or_default();
    if program_text.trim().is_empty() {
        return Err(HttpError::invalid("the detector needs a `programText`"));
    }
    if program_text.len() > MAX_PROGRAM_BYTES {
        return Err(HttpError::invalid(format!(
            "`programText` is {} bytes, more than the limit of {MAX_PROGRAM_BYTES}",
            program_text.len()
        )));
    }
    let job =
        compile(&program_text).map_err(|e| HttpError::invalid(format!("programText: {e}")))?;
    let labels: Vec<&str> = job
        .publications()
        .iter()
        .filter_map(|p| match p {
            Publication::Detect { label, .. } => Some(label.as_str()),
            _ => None,
        })
        .collect();
    if labels.is_empty() {
        return Err(HttpError::invalid(
            "programText publishes no detect(...): a detector needs detect(...).publish('label')",
        ));
    }
    for (i, rule) in body
        .get("rules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = rule.get("detectLabel").and_then(Json::as_str).unwrap_or("");
        if !labels.contains(&label) {
            return Err(HttpError::invalid(format!(
                "rules[{i}].detectLabel `{label}` is not published by the program (it publishes {})",
                labels.join(", ")
            )));
        }
    }
    if let Some(delay) = body.get("maxDelay").filter(|v| !v.is_null())
        && delay
            .as_i64()
            .is_none_or(|d| !(0..=MAX_MAX_DELAY).contains(&d))
    {
        return Err(HttpError::invalid(format!(
            "maxDelay must be milliseconds from 0 to {MAX_MAX_DELAY}, not {delay}"
        )));
    }
    Ok(Spec {
        name,
        description: text("description").unwrap_or_default(),
        program_text,
        disabled: body
            .get("disabled")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        body,
    })
}

fn compile(program: &str) -> Result<Job, ExecError> {
    let program = sextant_signalflow::parse(program).map_err(|e| ExecError {
        pos: Some(e.pos),
        message: e.message,
    })?;
    Job::compile(&program)
}

/// The rules of a stored detector, by `detectLabel`.
fn rules(detector: &SfxDetector) -> HashMap<String, Rule> {
    let body: Json = serde_json::from_str(&detector.body).unwrap_or(Json::Null);
    let mut out = HashMap::new();
    for rule in body
        .get("rules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let Some(label) = rule.get("detectLabel").and_then(Json::as_str) else {
            continue;
        };
        let webhooks = rule
            .get("notifications")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter(|n| n.get("type").and_then(Json::as_str) == Some("Webhook"))
            .filter_map(|n| n.get("url").and_then(Json::as_str).map(str::to_owned))
            .collect();
        out.insert(
            label.to_owned(),
            Rule {
                severity: rule
                    .get("severity")
                    .and_then(Json::as_str)
                    .unwrap_or("Critical")
                    .to_owned(),
                webhooks,
            },
        );
    }
    out
}

fn detector_json(d: &SfxDetector) -> Json {
    let mut body: Map<String, Json> = serde_json::from_str(&d.body).unwrap_or_default();
    body.insert("id".into(), json!(d.id));
    body.insert("name".into(), json!(d.name));
    body.insert("description".into(), json!(d.description));
    body.insert("programText".into(), json!(d.program_text));
    body.insert("disabled".into(), json!(d.disabled));
    body.insert("created".into(), json!(d.created / 1_000_000));
    body.insert("creator".into(), json!(d.creator));
    body.insert("lastUpdated".into(), json!(d.last_updated / 1_000_000));
    body.insert("lastUpdatedBy".into(), json!(d.last_updated_by));
    body.entry("rules").or_insert(json!([]));
    body.entry("tags").or_insert(json!([]));
    Json::Object(body)
}

fn event_json(i: &SfxIncident, anomalous: bool) -> Json {
    let (at, value) = if anomalous {
        (i.triggered_at, i.trigger_value)
    } else {
        (i.cleared_at.unwrap_or_default(), i.clear_value)
    };
    json!({
        "id": format!("{}-{}", i.id, if anomalous { "trigger" } else { "clear" }),
        "incidentId": i.id,
        "detectorId": i.detector_id,
        "detectLabel": i.detect_label,
        "severity": i.severity,
        "anomalyState": if anomalous { "ANOMALOUS" } else { "OK" },
        "timestamp": at,
        "inputs": {"_S0": {"value": value, "key": dims_map(&i.dimensions)}},
        "manuallyResolved": !anomalous && i.cleared_manually,
    })
}

fn dims_map(dims: &[(String, String)]) -> BTreeMap<&str, &str> {
    dims.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn incident_json(i: &SfxIncident, detector_name: Option<&str>) -> Json {
    let mut events = vec![event_json(i, true)];
    if i.cleared_at.is_some() {
        events.push(event_json(i, false));
    }
    json!({
        "incidentId": i.id,
        "detectorId": i.detector_id,
        "detectorName": detector_name,
        "detectLabel": i.detect_label,
        "severity": i.severity,
        "active": i.cleared_at.is_none(),
        "anomalyState": if i.cleared_at.is_none() { "ANOMALOUS" } else { "OK" },
        "dimensions": dims_map(&i.dimensions),
        "events": events,
    })
}

/// A new detector id: 11 characters of URL-safe base64, like SignalFx's.
fn new_id() -> String {
    super::handle()
}

/// `POST /v2/detector`: stores a detector and, unless disabled, starts running it.
async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ManageRules)?;
            let spec = spec(&body)?;
            let detector = SfxDetector {
                id: new_id(),
                name: spec.name,
                description: spec.description,
                program_text: spec.program_text,
                body: Json::Object(spec.body).to_string(),
                disabled: spec.disabled,
                created: 0,
                creator: String::new(),
                last_updated: 0,
                last_updated_by: String::new(),
                evaluated_until: None,
            };
            let catalog = state.catalog.clone();
            let (org, by) = (principal.organization_id.clone(), principal.key_id.clone());
            let stored =
                blocking(move || catalog.sfx_create_detector(&org, &detector, &by)).await?;
            if !stored.disabled {
                state
                    .detectors
                    .start(&state, &principal.organization_id, stored.clone());
            }
            Ok(detector_json(&stored))
        }
        .await,
    )
}

/// `POST /v2/detector/validate`: 204 when the detector would be accepted, 400 naming what
/// is wrong otherwise.
async fn validate(Extension(principal): Extension<Principal>, body: Bytes) -> Response {
    let checked = authorize(&principal, Action::ReadMetadata)
        .map_err(HttpError::from)
        .and_then(|()| spec(&body));
    match checked {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => reply_error(e),
    }
}

/// The query of `GET /v2/detector`.
#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    name: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let name = q.name.filter(|n| !n.is_empty());
            let limit = q.limit.unwrap_or(50).min(10_000);
            let (count, found) = blocking(move || {
                catalog.sfx_detectors(&org, name.as_deref(), q.offset, limit)
            })
            .await?;
            Ok(json!({"count": count, "results": found.iter().map(detector_json).collect::<Vec<_>>()}))
        }
        .await,
    )
}

async fn get_one(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let found = blocking(move || catalog.sfx_get_detector(&org, &id)).await?;
            Ok(detector_json(&found))
        }
        .await,
    )
}

/// `PUT /v2/detector/{id}`: replaces the detector; it restarts with the new definition (from
/// where it was, unless the program changed).
async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ManageRules)?;
            let spec = spec(&body)?;
            let detector = SfxDetector {
                id: id.clone(),
                name: spec.name,
                description: spec.description,
                program_text: spec.program_text,
                body: Json::Object(spec.body).to_string(),
                disabled: spec.disabled,
                created: 0,
                creator: String::new(),
                last_updated: 0,
                last_updated_by: String::new(),
                evaluated_until: None,
            };
            state.detectors.stop(&id).await;
            let catalog = state.catalog.clone();
            let (org, by) = (principal.organization_id.clone(), principal.key_id.clone());
            let stored = blocking(move || catalog.sfx_update_detector(&org, &detector, &by)).await;
            // Whatever happened, the stored detector runs if it is enabled.
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let current = id.clone();
            if let Ok(found) = blocking(move || catalog.sfx_get_detector(&org, &current)).await
                && !found.disabled
            {
                state
                    .detectors
                    .start(&state, &principal.organization_id, found);
            }
            Ok(detector_json(&stored?))
        }
        .await,
    )
}

async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        authorize(&principal, Action::ManageRules)?;
        let catalog = state.catalog.clone();
        let org = principal.organization_id.clone();
        let wanted = id.clone();
        blocking(move || catalog.sfx_get_detector(&org, &wanted)).await?;
        state.detectors.stop(&id).await;
        let catalog = state.catalog.clone();
        let org = principal.organization_id.clone();
        blocking(move || catalog.sfx_delete_detector(&org, &id)).await?;
        Ok::<_, HttpError>(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => reply_error(e),
    }
}

/// `GET /v2/detector/{id}/events`: the trigger and clear events, oldest first.
async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let found = blocking(move || {
                let detector = catalog.sfx_get_detector(&org, &id)?;
                catalog
                    .sfx_incidents(&org, Some(&id), true, 0, 0)
                    .map(|i| (detector, i))
            })
            .await?;
            let (_, incidents) = found;
            let mut out: Vec<(i64, Json)> = Vec::new();
            for i in &incidents {
                out.push((i.triggered_at, event_json(i, true)));
                if let Some(at) = i.cleared_at {
                    out.push((at, event_json(i, false)));
                }
            }
            out.sort_by_key(|(t, _)| *t);
            Ok(Json::Array(out.into_iter().map(|(_, e)| e).collect()))
        }
        .await,
    )
}

async fn detector_incidents(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let (detector, open) = blocking(move || {
                let detector = catalog.sfx_get_detector(&org, &id)?;
                catalog
                    .sfx_incidents(&org, Some(&id), false, 0, 0)
                    .map(|i| (detector, i))
            })
            .await?;
            Ok(Json::Array(
                open.iter()
                    .map(|i| incident_json(i, Some(&detector.name)))
                    .collect(),
            ))
        }
        .await,
    )
}

/// The query of `GET /v2/incident`.
#[derive(Debug, serde::Deserialize)]
struct IncidentQuery {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
    include_resolved: Option<String>,
}

async fn incidents(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<IncidentQuery>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let resolved = q
                .include_resolved
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let limit = q.limit.unwrap_or(0).min(10_000);
            let found =
                blocking(move || catalog.sfx_incidents(&org, None, resolved, q.offset, limit))
                    .await?;
            Ok(Json::Array(
                found.iter().map(|i| incident_json(i, None)).collect(),
            ))
        }
        .await,
    )
}

async fn incident(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            authorize(&principal, Action::ReadMetadata)?;
            let catalog = state.catalog.clone();
            let org = principal.organization_id.clone();
            let found = blocking(move || catalog.sfx_get_incident(&org, &id)).await?;
            Ok(incident_json(&found, None))
        }
        .await,
    )
}

/// `PUT /v2/incident/{id}/clear`: clears an open incident by hand.
async fn clear(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        authorize(&principal, Action::ManageRules)?;
        let catalog = state.catalog.clone();
        let org = principal.organization_id.clone();
        let now = now_ms(state.clock.as_ref());
        blocking(move || catalog.sfx_clear_incident(&org, &id, now)).await?;
        Ok::<_, HttpError>(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => reply_error(e),
    }
}

/// The detectors running on this server.
#[derive(Debug, Default)]
pub struct Detectors {
    running: Mutex<HashMap<String, Runner>>,
}

#[derive(Debug)]
struct Runner {
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Detectors {
    /// Starts every enabled detector of every organization (at server start).
    pub async fn start_all(&self, state: &AppState) {
        let catalog = state.catalog.clone();
        match tokio::task::spawn_blocking(move || catalog.sfx_enabled_detectors()).await {
            Ok(Ok(all)) => {
                for (org, detector) in all {
                    self.start(state, &org, detector);
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the stored detectors cannot be read; none runs")
            }
            Err(e) => tracing::error!(error = %e, "the stored detectors cannot be read; none runs"),
        }
    }

    /// Runs `detector` of `org` until [`Detectors::stop`].
    pub fn start(&self, state: &AppState, org: &str, detector: SfxDetector) {
        let stop = Arc::new(AtomicBool::new(false));
        let id = detector.id.clone();
        let (state, org, flag) = (state.clone(), org.to_owned(), stop.clone());
        let task = tokio::task::spawn_blocking(move || run(&state, &org, detector, &flag));
        if let Some(old) = self.running.lock().insert(id, Runner { stop, task }) {
            old.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Stops detector `id` and waits for its thread.
    pub async fn stop(&self, id: &str) {
        let runner = self.running.lock().remove(id);
        if let Some(runner) = runner {
            runner.stop.store(true, Ordering::Relaxed);
            let _ = runner.task.await;
        }
    }

    /// Stops every detector and waits for them (at server stop).
    pub async fn shutdown(&self) {
        let all: Vec<Runner> = self.running.lock().drain().map(|(_, r)| r).collect();
        for r in &all {
            r.stop.store(true, Ordering::Relaxed);
        }
        for r in all {
            let _ = r.task.await;
        }
    }
}

/// A detector's thread: runs it, and after a failure (logged) starts it again from what was
/// stored, until told to stop.
fn run(state: &AppState, org: &str, detector: SfxDetector, stop: &AtomicBool) {
    let mut detector = detector;
    loop {
        match evaluate(state, org, &detector, stop) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(detector = %detector.id, name = %detector.name, error = %e, "the detector failed; it starts again")
            }
        }
        let deadline = std::time::Instant::now() + RETRY;
        while std::time::Instant::now() < deadline {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        match state.catalog.sfx_get_detector(org, &detector.id) {
            Ok(found) => detector = found,
            Err(e) => {
                tracing::warn!(detector = %detector.id, error = %e, "the detector is gone; it stops");
                return;
            }
        }
    }
}

/// One run of a detector, from where its stored evaluation ends.
fn evaluate(
    state: &AppState,
    org: &str,
    detector: &SfxDetector,
    stop: &AtomicBool,
) -> Result<(), String> {
    let job = compile(&detector.program_text).map_err(|e| e.to_string())?;
    let rules = rules(detector);
    let open = state
        .catalog
        .sfx_incidents(org, Some(&detector.id), false, 0, 0)
        .map_err(|e| e.to_string())?;
    let resume = open
        .iter()
        .filter_map(|i| {
            Some((
                i.detect_label.clone(),
                ts_id_from_text(&i.series_id)?,
                i.id.clone(),
            ))
        })
        .collect();
    let body: Json = serde_json::from_str(&detector.body).unwrap_or(Json::Null);
    let max_delay = body
        .get("maxDelay")
        .and_then(Json::as_i64)
        .filter(|d| *d > 0)
        .unwrap_or(DEFAULT_MAX_DELAY)
        .min(MAX_MAX_DELAY);
    let index = tokio::runtime::Handle::current()
        .block_on(state.signalfx.org(state, org))
        .map_err(|e| e.reply().message())?;
    let org_id = org_number(org);
    let source = StoreSource::new(
        state.store.clone(),
        state.catalog.clone(),
        org_id,
        org.to_owned(),
        index,
    );
    let clock = state.clock.as_ref();
    let now = now_ms(clock);
    let start = match detector.evaluated_until {
        Some(until) => until,
        None => {
            // A new detector evaluates from now on: stored before anything else, so that a
            // restart resumes from here rather than from its own later start.
            let first = SfxDetectorStep {
                evaluated_until: now,
                ..SfxDetectorStep::default()
            };
            state
                .catalog
                .sfx_detector_step(org, &detector.id, &first)
                .map_err(|e| e.to_string())?;
            now
        }
    };
    let request = LiveRequest {
        start,
        stop: None,
        resolution: None,
        max_delay,
        max_input_mts: MAX_INPUT_MTS,
        max_step_values: MAX_STEP_VALUES,
        resume: Some(resume),
    };
    let after = state.store.feed().last_seq();
    let (mut live, past) = Live::start(job, &source, &request, now).map_err(|e| e.to_string())?;
    let resolution = live.resolution();
    let store_step = |events: &[OutEvent], until: i64| -> Result<(), String> {
        let step = step(detector, &rules, events, until);
        state
            .catalog
            .sfx_detector_step(org, &detector.id, &step)
            .map_err(|e| e.to_string())?;
        notify(state, detector, &rules, events);
        Ok(())
    };
    if past.timeline.len > 0 {
        store_step(&past.events, past.timeline.end())?;
    }
    let mut failure = None;
    follow(
        state.store.as_ref(),
        &source,
        clock,
        org_id,
        &mut live,
        after,
        |s| match store_step(&s.events, s.timestamp + resolution) {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        },
        || stop.load(Ordering::Relaxed),
    )
    .map_err(|e| e.to_string())?;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The catalog record of one evaluated logical timestamp (or of the past at a start).
fn step(
    detector: &SfxDetector,
    rules: &HashMap<String, Rule>,
    events: &[OutEvent],
    until: i64,
) -> SfxDetectorStep {
    let mut out = SfxDetectorStep {
        evaluated_until: until,
        ..SfxDetectorStep::default()
    };
    for e in events {
        let EventKind::Detector {
            anomalous,
            incident,
            value,
        } = &e.kind
        else {
            continue;
        };
        let severity = rules
            .get(&e.label)
            .map(|r| r.severity.clone())
            .unwrap_or_else(|| "Critical".into());
        let dimensions: Vec<(String, String)> =
            e.dims.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let (is, was) = if *anomalous {
            ("anomalous", "ok")
        } else {
            ("ok", "anomalous")
        };
        let mut properties = vec![
            ("is".to_owned(), SfxPropertyValue::Str(is.into())),
            ("was".to_owned(), SfxPropertyValue::Str(was.into())),
            (
                "incidentId".to_owned(),
                SfxPropertyValue::Str(incident.clone()),
            ),
            (
                "detectorId".to_owned(),
                SfxPropertyValue::Str(detector.id.clone()),
            ),
            (
                "detectLabel".to_owned(),
                SfxPropertyValue::Str(e.label.clone()),
            ),
            (
                "severity".to_owned(),
                SfxPropertyValue::Str(severity.clone()),
            ),
        ];
        if let Some(v) = value {
            properties.push(("value".to_owned(), SfxPropertyValue::Double(*v)));
        }
        out.events.push(SfxEvent {
            id: 0,
            event_type: detector.name.clone(),
            category: "ALERT".into(),
            dimensions: dimensions.clone(),
            properties,
            timestamp: e.timestamp.saturating_mul(1_000_000),
        });
        if *anomalous {
            out.opened.push(SfxIncident {
                id: incident.clone(),
                detector_id: detector.id.clone(),
                detect_label: e.label.clone(),
                series_id: ts_id_text(&e.id),
                severity,
                dimensions,
                triggered_at: e.timestamp,
                trigger_value: *value,
                cleared_at: None,
                clear_value: None,
                cleared_manually: false,
            });
        } else {
            out.cleared.push((incident.clone(), e.timestamp, *value));
        }
    }
    out
}

/// Queues the webhooks of each event's rule, and the server's.
fn notify(
    state: &AppState,
    detector: &SfxDetector,
    rules: &HashMap<String, Rule>,
    events: &[OutEvent],
) {
    let Some(webhooks) = &state.webhooks else {
        return;
    };
    for e in events {
        let EventKind::Detector {
            anomalous,
            incident,
            value,
        } = &e.kind
        else {
            continue;
        };
        let rule = rules.get(&e.label).cloned().unwrap_or_default();
        let body = json!({
            "event": if *anomalous { "detector.triggered" } else { "detector.cleared" },
            "detectorId": detector.id,
            "detectorName": detector.name,
            "detectLabel": e.label,
            "incidentId": incident,
            "severity": rule.severity,
            "anomalyState": if *anomalous { "ANOMALOUS" } else { "OK" },
            "timestamp": e.timestamp,
            "value": value,
            "dimensions": e.dims,
        });
        webhooks.queue_json(&detector.name, &rule.webhooks, &body);
    }
}
