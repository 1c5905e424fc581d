//! The gRPC form of live subscriptions: `sextant.live.v1.LiveService/Subscribe`, whose messages are
//! those of `proto/sextant/live/v1/live.proto` in this crate, written here by hand with
//! prost's derives (a build script and `protoc` for one small file would cost every build
//! more than they save). Each type converts to and from its JSON twin in [`super`], so the
//! server and the SDK handle one vocabulary whatever the transport.

use std::collections::BTreeMap;

use super::{LiveValue, SeriesPoints as JsonSeriesPoints, WindowRow as JsonWindowRow};

/// The method's path, as gRPC routes it.
pub const SUBSCRIBE_PATH: &str = "/sextant.live.v1.LiveService/Subscribe";
/// The service's name, as gRPC routes it.
pub const SERVICE: &str = "sextant.live.v1.LiveService";

/// What a subscriber asks for ([`super::SubscribeRequest`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubscribeRequest {
    /// The query selector's text form.
    #[prost(string, tag = "1")]
    pub selector: String,
    /// Resume after this cursor.
    #[prost(uint64, optional, tag = "2")]
    pub cursor: Option<u64>,
    /// Stored points from this instant on, nanoseconds since the Unix epoch.
    #[prost(int64, optional, tag = "3")]
    pub since: Option<i64>,
    /// Event-time windows instead of points.
    #[prost(message, optional, tag = "4")]
    pub window: Option<Window>,
    /// Instead of series: the whole events of this event collection.
    #[prost(string, optional, tag = "5")]
    pub collection: Option<String>,
}

/// Event-time windows ([`super::WindowRequest`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Window {
    /// The length of a window, e.g. `10s`.
    #[prost(string, tag = "1")]
    pub size: String,
    /// How far apart windows start.
    #[prost(string, optional, tag = "2")]
    pub slide: Option<String>,
    /// The aggregates.
    #[prost(string, repeated, tag = "3")]
    pub aggs: Vec<String>,
    /// How far the watermark trails.
    #[prost(string, optional, tag = "4")]
    pub watermark: Option<String>,
    /// How long closed windows still take late points.
    #[prost(string, optional, tag = "5")]
    pub lateness: Option<String>,
}

/// One message of the stream ([`super::Message`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SubscribeResponse {
    /// The message.
    #[prost(
        oneof = "subscribe_response::Message",
        tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
    )]
    pub message: Option<subscribe_response::Message>,
}

/// The kinds of [`SubscribeResponse`].
pub mod subscribe_response {
    /// One of the stream's messages.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Message {
        /// A series named.
        #[prost(message, tag = "1")]
        Series(super::Series),
        /// Points.
        #[prost(message, tag = "2")]
        Points(super::Points),
        /// Windows.
        #[prost(message, tag = "3")]
        Windows(super::Windows),
        /// The history is sent.
        #[prost(message, tag = "4")]
        Live(super::Live),
        /// Nothing selected was committed up to a cursor.
        #[prost(message, tag = "5")]
        Progress(super::Progress),
        /// Commits that cannot be replayed.
        #[prost(message, tag = "6")]
        Gap(super::Gap),
        /// The subscriber fell behind.
        #[prost(message, tag = "7")]
        Behind(super::Behind),
        /// A point too late for its window.
        #[prost(message, tag = "8")]
        Late(super::Late),
        /// Points deleted.
        #[prost(message, tag = "9")]
        Deleted(super::Deleted),
        /// The server ends the stream.
        #[prost(message, tag = "10")]
        Closed(super::Closed),
        /// The subscription failed.
        #[prost(message, tag = "11")]
        Error(super::Error),
        /// Events of a collection.
        #[prost(message, tag = "12")]
        Events(super::Events),
    }
}

/// A series named.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Series {
    /// Its number in the stream.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// Its name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Its labels.
    #[prost(btree_map = "string, string", tag = "3")]
    pub labels: BTreeMap<String, String>,
    /// Its value type.
    #[prost(string, tag = "4")]
    pub data_type: String,
}

/// A value ([`LiveValue`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The value.
    #[prost(oneof = "value::Kind", tags = "1, 2, 3, 4, 5")]
    pub kind: Option<value::Kind>,
}

/// The kinds of [`Value`].
pub mod value {
    /// A value of one kind.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// A bool.
        #[prost(bool, tag = "1")]
        Bool(bool),
        /// A signed integer.
        #[prost(sint64, tag = "2")]
        Int(i64),
        /// An unsigned integer beyond `i64`.
        #[prost(uint64, tag = "3")]
        Uint(u64),
        /// A floating-point number.
        #[prost(double, tag = "4")]
        Float(f64),
        /// Text.
        #[prost(string, tag = "5")]
        Text(String),
    }
}

/// The points of one series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SeriesPoints {
    /// The series.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// Nanoseconds since the Unix epoch.
    #[prost(sint64, repeated, tag = "2")]
    pub timestamps: Vec<i64>,
    /// One per timestamp.
    #[prost(message, repeated, tag = "3")]
    pub values: Vec<Value>,
}

/// Points.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Points {
    /// The resume point after this message, if there is one yet.
    #[prost(uint64, optional, tag = "1")]
    pub cursor: Option<u64>,
    /// The points, by series.
    #[prost(message, repeated, tag = "2")]
    pub series: Vec<SeriesPoints>,
}

/// One aggregate of a window.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Aggregate {
    /// Its name, e.g. `mean`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its value; absent when the window holds no numeric point.
    #[prost(double, optional, tag = "2")]
    pub value: Option<f64>,
}

/// One window of one series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WindowRow {
    /// The series.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// The window's first instant.
    #[prost(int64, tag = "2")]
    pub start: i64,
    /// The instant after its last.
    #[prost(int64, tag = "3")]
    pub end: i64,
    /// How many points it holds.
    #[prost(uint64, tag = "4")]
    pub count: u64,
    /// The aggregates asked for.
    #[prost(message, repeated, tag = "5")]
    pub values: Vec<Aggregate>,
    /// Whether late points changed a window sent before.
    #[prost(bool, tag = "6")]
    pub update: bool,
}

/// Windows.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Windows {
    /// The resume point after this message, if there is one yet.
    #[prost(uint64, optional, tag = "1")]
    pub cursor: Option<u64>,
    /// The windows.
    #[prost(message, repeated, tag = "2")]
    pub windows: Vec<WindowRow>,
}

/// An event of an event collection ([`super::LiveEvent`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// `inference` or `label`.
    #[prost(string, tag = "1")]
    pub kind: String,
    /// Its id.
    #[prost(string, tag = "2")]
    pub id: String,
    /// An inference's time.
    #[prost(int64, optional, tag = "3")]
    pub timestamp: Option<i64>,
    /// An inference's `project_id`.
    #[prost(string, optional, tag = "4")]
    pub project: Option<String>,
    /// An inference's tags.
    #[prost(string, repeated, tag = "5")]
    pub tags: Vec<String>,
    /// The columns that have a value.
    #[prost(btree_map = "string, message", tag = "6")]
    pub columns: BTreeMap<String, Value>,
}

/// Events of a collection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Events {
    /// The resume point after this message, if there is one yet.
    #[prost(uint64, optional, tag = "1")]
    pub cursor: Option<u64>,
    /// The events.
    #[prost(message, repeated, tag = "2")]
    pub events: Vec<Event>,
}

/// The history is sent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Live {
    /// The resume point.
    #[prost(uint64, tag = "1")]
    pub cursor: u64,
}

/// Nothing selected was committed up to `cursor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Progress {
    /// The resume point.
    #[prost(uint64, tag = "1")]
    pub cursor: u64,
}

/// Commits that cannot be replayed.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Gap {
    /// The first commit missed.
    #[prost(uint64, tag = "1")]
    pub first: u64,
    /// The last commit missed.
    #[prost(uint64, tag = "2")]
    pub last: u64,
    /// What happened.
    #[prost(string, tag = "3")]
    pub message: String,
}

/// The subscriber fell behind.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Behind {
    /// The last cursor sent before.
    #[prost(uint64, optional, tag = "1")]
    pub cursor: Option<u64>,
    /// The newest commit at the time.
    #[prost(uint64, tag = "2")]
    pub newest: u64,
    /// What happened.
    #[prost(string, tag = "3")]
    pub message: String,
}

/// A point too late for its window.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Late {
    /// The series.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// The point's time.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// Late points so far.
    #[prost(uint64, tag = "3")]
    pub total: u64,
}

/// Points deleted.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Deleted {
    /// The series.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// The first instant deleted.
    #[prost(int64, tag = "2")]
    pub start: i64,
    /// The instant after the last.
    #[prost(int64, tag = "3")]
    pub end: i64,
}

/// The server ends the stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Closed {
    /// The resume point.
    #[prost(uint64, optional, tag = "1")]
    pub cursor: Option<u64>,
    /// Why.
    #[prost(string, tag = "2")]
    pub reason: String,
}

/// The subscription failed.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Error {
    /// What went wrong.
    #[prost(string, tag = "1")]
    pub message: String,
}

impl From<&super::SubscribeRequest> for SubscribeRequest {
    fn from(r: &super::SubscribeRequest) -> Self {
        SubscribeRequest {
            selector: r.selector.clone(),
            cursor: r.cursor,
            since: r.since,
            collection: r.collection.clone(),
            window: r.window.as_ref().map(|w| Window {
                size: w.size.clone(),
                slide: w.slide.clone(),
                aggs: w.aggs.clone(),
                watermark: w.watermark.clone(),
                lateness: w.lateness.clone(),
            }),
        }
    }
}

impl From<SubscribeRequest> for super::SubscribeRequest {
    fn from(r: SubscribeRequest) -> Self {
        super::SubscribeRequest {
            selector: r.selector,
            cursor: r.cursor,
            since: r.since,
            collection: r.collection,
            window: r.window.map(|w| super::WindowRequest {
                size: w.size,
                slide: w.slide,
                aggs: w.aggs,
                watermark: w.watermark,
                lateness: w.lateness,
            }),
        }
    }
}

impl From<&LiveValue> for Value {
    fn from(v: &LiveValue) -> Self {
        let kind = match v {
            LiveValue::Bool(b) => value::Kind::Bool(*b),
            LiveValue::Int(i) => value::Kind::Int(*i),
            LiveValue::Uint(u) => value::Kind::Uint(*u),
            LiveValue::Float(f) => value::Kind::Float(*f),
            LiveValue::Text(t) => value::Kind::Text(t.clone()),
        };
        Value { kind: Some(kind) }
    }
}

impl TryFrom<Value> for LiveValue {
    type Error = String;

    fn try_from(v: Value) -> Result<Self, String> {
        Ok(match v.kind {
            Some(value::Kind::Bool(b)) => LiveValue::Bool(b),
            Some(value::Kind::Int(i)) => LiveValue::Int(i),
            Some(value::Kind::Uint(u)) => LiveValue::Uint(u),
            Some(value::Kind::Float(f)) => LiveValue::Float(f),
            Some(value::Kind::Text(t)) => LiveValue::Text(t),
            None => return Err("a value of no kind".to_owned()),
        })
    }
}

impl From<&super::Message> for SubscribeResponse {
    fn from(m: &super::Message) -> Self {
        use super::Message as J;
        use subscribe_response::Message as P;
        let message = match m {
            J::Series {
                id,
                name,
                labels,
                data_type,
            } => P::Series(Series {
                id: *id,
                name: name.clone(),
                labels: labels.clone(),
                data_type: data_type.clone(),
            }),
            J::Points { cursor, series } => P::Points(Points {
                cursor: *cursor,
                series: series
                    .iter()
                    .map(|s| SeriesPoints {
                        id: s.id,
                        timestamps: s.timestamps.clone(),
                        values: s.values.iter().map(Value::from).collect(),
                    })
                    .collect(),
            }),
            J::Windows { cursor, windows } => P::Windows(Windows {
                cursor: *cursor,
                windows: windows
                    .iter()
                    .map(|w| WindowRow {
                        id: w.id,
                        start: w.start,
                        end: w.end,
                        count: w.count,
                        values: w
                            .values
                            .iter()
                            .map(|(name, value)| Aggregate {
                                name: name.clone(),
                                value: *value,
                            })
                            .collect(),
                        update: w.update,
                    })
                    .collect(),
            }),
            J::Events { cursor, events } => P::Events(Events {
                cursor: *cursor,
                events: events
                    .iter()
                    .map(|e| Event {
                        kind: e.kind.name().to_owned(),
                        id: e.id.clone(),
                        timestamp: e.timestamp,
                        project: e.project.clone(),
                        tags: e.tags.clone(),
                        columns: e
                            .columns
                            .iter()
                            .map(|(name, value)| (name.clone(), Value::from(value)))
                            .collect(),
                    })
                    .collect(),
            }),
            J::Live { cursor } => P::Live(Live { cursor: *cursor }),
            J::Progress { cursor } => P::Progress(Progress { cursor: *cursor }),
            J::Gap {
                first,
                last,
                message,
            } => P::Gap(Gap {
                first: *first,
                last: *last,
                message: message.clone(),
            }),
            J::Behind {
                cursor,
                newest,
                message,
            } => P::Behind(Behind {
                cursor: *cursor,
                newest: *newest,
                message: message.clone(),
            }),
            J::Late {
                id,
                timestamp,
                total,
            } => P::Late(Late {
                id: *id,
                timestamp: *timestamp,
                total: *total,
            }),
            J::Deleted { id, start, end } => P::Deleted(Deleted {
                id: *id,
                start: *start,
                end: *end,
            }),
            J::Closed { cursor, reason } => P::Closed(Closed {
                cursor: *cursor,
                reason: reason.clone(),
            }),
            J::Error { message } => P::Error(Error {
                message: message.clone(),
            }),
        };
        SubscribeResponse {
            message: Some(message),
        }
    }
}

impl TryFrom<SubscribeResponse> for super::Message {
    type Error = String;

    /// The message, or what makes it unreadable (a message of no kind, a value of none, a
    /// series whose timestamps and values differ in number).
    fn try_from(r: SubscribeResponse) -> Result<Self, String> {
        use super::Message as J;
        use subscribe_response::Message as P;
        let Some(message) = r.message else {
            return Err("a message of no kind".to_owned());
        };
        Ok(match message {
            P::Series(s) => J::Series {
                id: s.id,
                name: s.name,
                labels: s.labels,
                data_type: s.data_type,
            },
            P::Points(p) => J::Points {
                cursor: p.cursor,
                series: p
                    .series
                    .into_iter()
                    .map(|s| {
                        if s.timestamps.len() != s.values.len() {
                            return Err(format!(
                                "series {} has {} timestamps and {} values",
                                s.id,
                                s.timestamps.len(),
                                s.values.len()
                            ));
                        }
                        Ok(JsonSeriesPoints {
                            id: s.id,
                            timestamps: s.timestamps,
                            values: s
                                .values
                                .into_iter()
                                .map(LiveValue::try_from)
                                .collect::<Result<_, _>>()?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            },
            P::Windows(w) => J::Windows {
                cursor: w.cursor,
                windows: w
                    .windows
                    .into_iter()
                    .map(|w| JsonWindowRow {
                        id: w.id,
                        start: w.start,
                        end: w.end,
                        count: w.count,
                        values: w.values.into_iter().map(|a| (a.name, a.value)).collect(),
                        update: w.update,
                    })
                    .collect(),
            },
            P::Events(e) => J::Events {
                cursor: e.cursor,
                events: e
                    .events
                    .into_iter()
                    .map(|e| {
                        let kind = match e.kind.as_str() {
                            "inference" => super::EventKind::Inference,
                            "label" => super::EventKind::Label,
                            other => return Err(format!("an event of kind {other:?}")),
                        };
                        Ok(super::LiveEvent {
                            kind,
                            id: e.id,
                            timestamp: e.timestamp,
                            project: e.project,
                            tags: e.tags,
                            columns: e
                                .columns
                                .into_iter()
                                .map(|(name, value)| Ok((name, LiveValue::try_from(value)?)))
                                .collect::<Result<_, String>>()?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            },
            P::Live(l) => J::Live { cursor: l.cursor },
            P::Progress(p) => J::Progress { cursor: p.cursor },
            P::Gap(g) => J::Gap {
                first: g.first,
                last: g.last,
                message: g.message,
            },
            P::Behind(b) => J::Behind {
                cursor: b.cursor,
                newest: b.newest,
                message: b.message,
            },
            P::Late(l) => J::Late {
                id: l.id,
                timestamp: l.timestamp,
                total: l.total,
            },
            P::Deleted(d) => J::Deleted {
                id: d.id,
                start: d.start,
                end: d.end,
            },
            P::Closed(c) => J::Closed {
                cursor: c.cursor,
                reason: c.reason,
            },
            P::Error(e) => J::Error { message: e.message },
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::super::{Message, SubscribeRequest as JsonRequest, WindowRequest};
    use super::*;

    #[test]
    fn every_message_goes_through_protobuf_unchanged() {
        let messages = vec![
            Message::Series {
                id: 1,
                name: "cpu".into(),
                labels: [("host".to_owned(), "h1".to_owned())].into(),
                data_type: "double".into(),
            },
            Message::Points {
                cursor: None,
                series: vec![JsonSeriesPoints {
                    id: 1,
                    timestamps: vec![-5, 0, i64::MAX],
                    values: vec![
                        LiveValue::Float(1.5),
                        LiveValue::Uint(u64::MAX),
                        LiveValue::Text("NaN".into()),
                    ],
                }],
            },
            Message::Windows {
                cursor: Some(9),
                windows: vec![JsonWindowRow {
                    id: 1,
                    start: 0,
                    end: 10,
                    count: 2,
                    values: [("mean".to_owned(), Some(2.0)), ("min".to_owned(), None)].into(),
                    update: true,
                }],
            },
            Message::Live { cursor: 0 },
            Message::Events {
                cursor: Some(2),
                events: vec![
                    super::super::LiveEvent {
                        kind: super::super::EventKind::Inference,
                        id: "e1".into(),
                        timestamp: Some(5),
                        project: Some("p".into()),
                        tags: vec!["a".into()],
                        columns: [
                            ("f1".to_owned(), LiveValue::Float(0.5)),
                            ("f3".to_owned(), LiveValue::Text("x".into())),
                        ]
                        .into(),
                    },
                    super::super::LiveEvent {
                        kind: super::super::EventKind::Label,
                        id: "e1".into(),
                        timestamp: None,
                        project: None,
                        tags: vec![],
                        columns: [("actual".to_owned(), LiveValue::Int(1))].into(),
                    },
                ],
            },
            Message::Progress { cursor: 4 },
            Message::Gap {
                first: 1,
                last: 3,
                message: "m".into(),
            },
            Message::Behind {
                cursor: None,
                newest: 7,
                message: "b".into(),
            },
            Message::Late {
                id: 2,
                timestamp: 5,
                total: 1,
            },
            Message::Deleted {
                id: 2,
                start: 1,
                end: 2,
            },
            Message::Closed {
                cursor: Some(3),
                reason: "r".into(),
            },
            Message::Error {
                message: "e".into(),
            },
        ];
        for message in messages {
            let bytes = SubscribeResponse::from(&message).encode_to_vec();
            let back = SubscribeResponse::decode(bytes.as_slice()).unwrap();
            assert_eq!(Message::try_from(back).unwrap(), message);
        }
        let request = JsonRequest {
            selector: "cpu".into(),
            cursor: Some(0),
            since: Some(-1),
            collection: Some("churn".into()),
            window: Some(WindowRequest {
                size: "10s".into(),
                slide: None,
                aggs: vec!["max".into()],
                watermark: Some("1s".into()),
                lateness: None,
            }),
        };
        let bytes = SubscribeRequest::from(&request).encode_to_vec();
        let back = SubscribeRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(JsonRequest::from(back), request);
    }

    #[test]
    fn unreadable_messages_are_named() {
        let empty = SubscribeResponse { message: None };
        assert_eq!(
            Message::try_from(empty).unwrap_err(),
            "a message of no kind"
        );
        let uneven = SubscribeResponse {
            message: Some(subscribe_response::Message::Points(Points {
                cursor: None,
                series: vec![SeriesPoints {
                    id: 3,
                    timestamps: vec![1, 2],
                    values: vec![],
                }],
            })),
        };
        assert_eq!(
            Message::try_from(uneven).unwrap_err(),
            "series 3 has 2 timestamps and 0 values"
        );
    }
}
