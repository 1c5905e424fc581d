//! Live subscriptions: what a subscriber asks for and the messages it is sent
//! (`docs/subscriptions.md`).
//!
//! A subscription is answered by a stream of [`Message`]s, one JSON object each (an SSE
//! record's `data`, or a WebSocket text message), tagged by `type`. Series are named once per
//! stream by a [`Message::Series`] message and then referred to by its `id`. Over gRPC the same
//! messages are protocol buffers ([`proto`]).

pub mod proto;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a subscriber asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscribeRequest {
    /// Which series: the query selector's text form, e.g. `cpu.usage_user{host=~"h1|h2"}` or
    /// `mainmotor.velocity{asset="NostromoLV426"}`.
    pub selector: String,
    /// Resume after this cursor (a commit sequence number from an earlier stream): every
    /// write committed after it, none before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Start with the stored points from this instant on (nanoseconds since the Unix epoch),
    /// then go on with the live ones, none twice and none missed at the handover. Later
    /// writes older than it are left out. Without it and without a cursor: only writes
    /// committed from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Aggregate into event-time windows instead of sending points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRequest>,
    /// Instead of series: the whole events of this event collection (inferences with every
    /// column, and labels as they arrive), as [`Message::Events`]; `selector` is then empty
    /// and `window` absent. Its cursors count the collection's ingest requests, not commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// Event-time windows, per series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRequest {
    /// The length of a window, e.g. `10s`.
    pub size: String,
    /// How far apart windows start, e.g. `5s` for windows of `10s` that overlap by half;
    /// `size` (tumbling windows) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide: Option<String>,
    /// The aggregates of each window: any of `count`, `sum`, `mean`, `min`, `max`, `first`,
    /// `last`; `count` and `mean` when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggs: Vec<String>,
    /// How far behind a series' newest timestamp its watermark trails, so that points up to
    /// that much out of order still count, e.g. `2s`; `0s` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    /// How long after the watermark passed a window's end it still takes late points, each
    /// sending the window again as an update; `0s` when absent. Points later than that are
    /// announced by [`Message::Late`] and left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness: Option<String>,
}

/// A value as subscriptions send it: numbers and bools as JSON numbers and bools, text as a
/// string, bytes as `0x`-prefixed hex, an enum key or a bit field as its integer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LiveValue {
    /// A bool.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer beyond `i64`.
    Uint(u64),
    /// A floating-point number.
    Float(f64),
    /// Text (or bytes in hex).
    Text(String),
}

impl LiveValue {
    /// The value as a number, if it is one (a bool is 0 or 1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            LiveValue::Bool(b) => Some(f64::from(u8::from(*b))),
            LiveValue::Int(v) => Some(*v as f64),
            LiveValue::Uint(v) => Some(*v as f64),
            LiveValue::Float(v) => Some(*v),
            LiveValue::Text(_) => None,
        }
    }
}

/// The points of one series in a [`Message::Points`], in commit order (and in time order
/// within one commit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoints {
    /// The series, as its [`Message::Series`] numbered it.
    pub id: u32,
    /// Nanoseconds since the Unix epoch.
    pub timestamps: Vec<i64>,
    /// One per timestamp.
    pub values: Vec<LiveValue>,
}

/// What a [`LiveEvent`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An inference: id, time, tags, project, inputs, predictions and extras (and, from
    /// stored history, the label columns of the label joined with it).
    Inference,
    /// A label for the inference of the same id, which it joins whenever either arrives.
    Label,
}

impl EventKind {
    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Inference => "inference",
            EventKind::Label => "label",
        }
    }
}

/// One event of an event collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// Inference or label.
    pub kind: EventKind,
    /// The event's id.
    pub id: String,
    /// An inference's time, nanoseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// An inference's `project_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// An inference's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The values of its columns by name; a column without a value is left out.
    pub columns: BTreeMap<String, LiveValue>,
}

/// One window of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRow {
    /// The series, as its [`Message::Series`] numbered it.
    pub id: u32,
    /// The window's first instant, nanoseconds since the Unix epoch.
    pub start: i64,
    /// The instant after its last.
    pub end: i64,
    /// How many points it holds.
    pub count: u64,
    /// Each aggregate asked for by name; `null` where it has no value (no numeric point).
    pub values: BTreeMap<String, Option<f64>>,
    /// Whether this window was sent before and late points changed it.
    #[serde(default)]
    pub update: bool,
}

/// One message of a subscription's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// A series the stream will refer to by `id`, sent before its first points or windows.
    Series {
        /// Its number in this stream.
        id: u32,
        /// Its name (metric, channel).
        name: String,
        /// Its labels (tags, dimensions, asset and run).
        labels: BTreeMap<String, String>,
        /// Its value type, e.g. `double`.
        data_type: String,
    },
    /// Points. `cursor` is where a new subscription resumes to get exactly what follows this
    /// message; it is absent while stored history is still being sent (resume with `since`
    /// then).
    Points {
        /// The resume point after this message, if there is one yet.
        cursor: Option<u64>,
        /// The points, by series.
        series: Vec<SeriesPoints>,
    },
    /// Windows whose watermark has passed (or late points changed).
    Windows {
        /// The resume point after this message, if there is one yet.
        cursor: Option<u64>,
        /// The windows.
        windows: Vec<WindowRow>,
    },
    /// Events of the collection subscribed to, in the order they were stored. `cursor`
    /// counts the collection's stored ingest requests; it is absent while stored history is
    /// still being sent.
    Events {
        /// The resume point after this message, if there is one yet.
        cursor: Option<u64>,
        /// The events.
        events: Vec<LiveEvent>,
    },
    /// The stored history is all sent; from here on the stream is live.
    Live {
        /// The resume point.
        cursor: u64,
    },
    /// Nothing for this subscription was committed up to `cursor`; resume there.
    Progress {
        /// The resume point.
        cursor: u64,
    },
    /// Commits `first..=last` cannot be replayed: the write-ahead log no longer holds them
    /// (their points are in storage; read them with a query). The stream goes on after them.
    Gap {
        /// The first commit missed.
        first: u64,
        /// The last commit missed.
        last: u64,
        /// What happened, for people.
        message: String,
    },
    /// The subscriber fell behind: its buffer was full. Nothing is lost: the stream goes on
    /// from `cursor`, read from the write-ahead log rather than memory.
    Behind {
        /// The last cursor sent before it fell behind.
        cursor: Option<u64>,
        /// The newest commit at the time.
        newest: u64,
        /// What happened, for people.
        message: String,
    },
    /// A point arrived after its window was closed for good (beyond the allowed lateness)
    /// and is in no window.
    Late {
        /// The series.
        id: u32,
        /// The point's time.
        timestamp: i64,
        /// How many late points this stream has had so far.
        total: u64,
    },
    /// Points of a series were deleted.
    Deleted {
        /// The series.
        id: u32,
        /// The first instant deleted.
        start: i64,
        /// The instant after the last.
        end: i64,
    },
    /// The server ends the stream; resume from `cursor` later.
    Closed {
        /// The resume point, if there is one.
        cursor: Option<u64>,
        /// Why.
        reason: String,
    },
    /// The subscription failed.
    Error {
        /// What went wrong.
        message: String,
    },
}

impl Message {
    /// The resume point this message carries, if any.
    pub fn cursor(&self) -> Option<u64> {
        match self {
            Message::Points { cursor, .. }
            | Message::Windows { cursor, .. }
            | Message::Events { cursor, .. } => *cursor,
            Message::Live { cursor } | Message::Progress { cursor } => Some(*cursor),
            Message::Gap { last, .. } => Some(*last),
            Message::Closed { cursor, .. } => *cursor,
            _ => None,
        }
    }

    /// The message's `type` tag, e.g. `points`.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Series { .. } => "series",
            Message::Points { .. } => "points",
            Message::Windows { .. } => "windows",
            Message::Events { .. } => "events",
            Message::Live { .. } => "live",
            Message::Progress { .. } => "progress",
            Message::Gap { .. } => "gap",
            Message::Behind { .. } => "behind",
            Message::Late { .. } => "late",
            Message::Deleted { .. } => "deleted",
            Message::Closed { .. } => "closed",
            Message::Error { .. } => "error",
        }
    }
}
