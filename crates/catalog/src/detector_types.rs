//! SignalFlow detectors: stored programs that run live, and the incidents they open.

use sextant_model::Timestamp;

use crate::signalfx_types::SfxEvent;

/// A detector: a SignalFlow program evaluated live, whose `detect(...).publish(label)`
/// events open and clear incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct SfxDetector {
    /// Its id, chosen by the server when created.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The SignalFlow program.
    pub program_text: String,
    /// The whole object as the client last sent it (rules, tags, notifications, …), a JSON
    /// object, so that what is not interpreted is given back as sent.
    pub body: String,
    /// Whether it is stopped.
    pub disabled: bool,
    /// When it was created, nanoseconds since the epoch.
    pub created: Timestamp,
    /// The key that created it.
    pub creator: String,
    /// When it was last changed.
    pub last_updated: Timestamp,
    /// The key that last changed it.
    pub last_updated_by: String,
    /// Milliseconds since the epoch: every logical timestamp before it was evaluated and its
    /// events stored. `None` before the first evaluation.
    pub evaluated_until: Option<i64>,
}

/// An incident: a detector's trigger for one time series, open until its clear.
#[derive(Debug, Clone, PartialEq)]
pub struct SfxIncident {
    /// Its id, the same as the trigger and clear events carry.
    pub id: String,
    /// The detector.
    pub detector_id: String,
    /// The label of the `detect` that fired.
    pub detect_label: String,
    /// The id of the series that fired, as the detector's evaluation names it.
    pub series_id: String,
    /// The severity its rule gives it (`Critical`, `Major`, …).
    pub severity: String,
    /// The dimensions of the series that fired, sorted by key.
    pub dimensions: Vec<(String, String)>,
    /// When it fired, milliseconds.
    pub triggered_at: i64,
    /// The value that fired it.
    pub trigger_value: Option<f64>,
    /// When it cleared, milliseconds; `None` while open.
    pub cleared_at: Option<i64>,
    /// The value at the clear.
    pub clear_value: Option<f64>,
    /// Whether it was cleared by hand (`PUT /v2/incident/{id}/clear`) rather than by its
    /// detector.
    pub cleared_manually: bool,
}

/// What one evaluation of a detector produced, stored together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SfxDetectorStep {
    /// Every logical timestamp before this was evaluated.
    pub evaluated_until: i64,
    /// The trigger and clear events, as custom events (readable with SignalFlow's `events()`).
    pub events: Vec<SfxEvent>,
    /// Incidents opened.
    pub opened: Vec<SfxIncident>,
    /// Incidents cleared: id, time (milliseconds) and value.
    pub cleared: Vec<(String, i64, Option<f64>)>,
}
