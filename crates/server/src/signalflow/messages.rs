//! The messages of a computation's channel, and their two encodings: JSON objects (text
//! frames, SSE records) and binary data frames (version 1).
//!
//! A batch computation's messages keep the order the `signalfx` client's batching needs
//! (`docs/signalflow.md`, *Message order*): stream and job start, every series' metadata,
//! the first logical timestamp's data, then the info messages (the client counts data
//! messages per timestamp until the first info), then exactly one data message for every
//! later logical timestamp, events in time order between them, and the end of the channel.

use serde_json::{Map, Value, json};
use sextant_signalflow::exec::live::Step;
use sextant_signalflow::exec::series::{TsId, ts_id_text};
use sextant_signalflow::exec::{EventKind, Info, OutEvent, OutSeries, Output};

/// One message of a channel, before the transport encodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A JSON message: control, metadata, info, event or error (the transport adds the
    /// channel).
    Json(Value),
    /// The values of one logical timestamp.
    Data {
        /// The logical timestamp, milliseconds.
        timestamp: i64,
        /// Each series' value.
        points: Vec<(TsId, f64)>,
    },
}

/// Version 1 of the binary data message.
const BINARY_VERSION: u8 = 1;
/// Message type "data batch".
const BINARY_DATA: u8 = 5;
/// The header: version, type, flags, a reserved byte and the channel in 16 bytes.
const HEADER: usize = 20;
/// The value type of a 64-bit float.
const VALUE_DOUBLE: u8 = 2;

impl Message {
    /// A control message.
    pub fn control(event: &str, now: i64) -> Message {
        Message::Json(json!({"type": "control-message", "event": event, "timestampMs": now}))
    }

    /// An error the client raises as `SignalFlowException(code, message)`.
    pub fn error(code: u16, error_type: &str, message: &str) -> Message {
        Message::Json(json!({
            "type": "error",
            "error": code,
            "errorType": error_type,
            "message": message,
        }))
    }

    /// The message as a JSON object with `channel` set (data in its JSON form).
    pub fn to_json(&self, channel: &str) -> Value {
        let mut value = match self {
            Message::Json(v) => v.clone(),
            Message::Data { timestamp, points } => json!({
                "type": "data",
                "logicalTimestampMs": timestamp,
                "data": points
                    .iter()
                    .map(|(id, v)| json!({"tsId": ts_id_text(id), "value": number(*v)}))
                    .collect::<Vec<_>>(),
            }),
        };
        if let Value::Object(map) = &mut value {
            map.insert("channel".into(), Value::String(channel.to_owned()));
        }
        value
    }

    /// The message as JSON text with `channel` set, appended to `out`. Data messages, the
    /// bulk of a computation, are written directly rather than built as a JSON tree.
    pub fn write_json(&self, channel: &str, out: &mut Vec<u8>) {
        use base64::Engine;
        use std::io::Write;
        let Message::Data { timestamp, points } = self else {
            let _ = serde_json::to_writer(&mut *out, &self.to_json(channel));
            return;
        };
        out.reserve(64 + points.len() * 64);
        out.extend_from_slice(b"{\"type\":\"data\",\"channel\":");
        let _ = serde_json::to_writer(&mut *out, channel);
        let _ = write!(out, ",\"logicalTimestampMs\":{timestamp},\"data\":[");
        // Each value starts with the same 30 bytes but for its id (8 bytes, 11 characters),
        // encoded in place on the stack and appended at once.
        let mut head = *b"{\"tsId\":\"...........\",\"value\":";
        for (i, (id, v)) in points.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode_slice(id, &mut head[9..20])
                .unwrap_or(0);
            debug_assert_eq!(written, 11);
            out.extend_from_slice(&head);
            if v.is_finite() {
                let _ = serde_json::to_writer(&mut *out, v);
            } else {
                out.extend_from_slice(b"null");
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }

    /// Whether a channel attaching later needs this message before the next ones: the stream
    /// and job starts and the series' metadata.
    pub fn is_preamble(&self) -> bool {
        let Message::Json(v) = self else {
            return false;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("metadata") => true,
            Some("control-message") => matches!(
                v.get("event").and_then(Value::as_str),
                Some("STREAM_START" | "JOB_START")
            ),
            _ => false,
        }
    }

    /// Whether this message ends its channel: the end of the channel or an error.
    pub fn ends_channel(&self) -> bool {
        match self {
            Message::Json(v) => {
                v.get("event").and_then(Value::as_str) == Some("END_OF_CHANNEL")
                    || v.get("type").and_then(Value::as_str) == Some("error")
            }
            Message::Data { .. } => false,
        }
    }

    /// How many values a data message carries (0 for other messages).
    pub fn values(&self) -> usize {
        match self {
            Message::Data { points, .. } => points.len(),
            Message::Json(_) => 0,
        }
    }

    /// The `type` of the message, SSE's event name.
    pub fn kind(&self) -> String {
        match self {
            Message::Json(v) => v
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("message")
                .to_owned(),
            Message::Data { .. } => "data".to_owned(),
        }
    }

    /// A binary data frame (version 1, uncompressed) for `channel`, if this is data and the
    /// channel's name fits the header's 16 bytes.
    pub fn to_binary(&self, channel: &str) -> Option<Vec<u8>> {
        let Message::Data { timestamp, points } = self else {
            return None;
        };
        if channel.len() > 16 || !channel.is_ascii() {
            return None;
        }
        let mut frame = Vec::with_capacity(HEADER + 12 + 17 * points.len());
        frame.extend([BINARY_VERSION, BINARY_DATA, 0, 0]);
        let mut name = [0u8; 16];
        name[..channel.len()].copy_from_slice(channel.as_bytes());
        frame.extend(name);
        frame.extend(timestamp.to_be_bytes());
        frame.extend(
            u32::try_from(points.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for (id, value) in points {
            frame.push(VALUE_DOUBLE);
            frame.extend(id);
            frame.extend(value.to_be_bytes());
        }
        Some(frame)
    }
}

/// A JSON number, or `null` for NaN and infinities (which JSON cannot write).
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Writes one computation's messages in the order the client needs, whether its data comes
/// as one batch [`Output`], step by step from a live job, or both.
#[derive(Debug)]
pub struct Writer {
    handle: String,
    resolution: i64,
    /// Info messages held until the first data message is out.
    held: Vec<Message>,
    data_sent: bool,
}

impl Writer {
    /// The writer of computation `handle`, with its opening messages.
    pub fn begin(handle: &str, now: i64) -> (Writer, Vec<Message>) {
        let writer = Writer {
            handle: handle.to_owned(),
            resolution: 0,
            held: Vec::new(),
            data_sent: false,
        };
        let opening = vec![
            Message::control("STREAM_START", now),
            Message::Json(json!({
                "type": "control-message", "event": "JOB_START", "handle": handle, "timestampMs": now,
            })),
        ];
        (writer, opening)
    }

    /// The messages of a batch output: metadata, data per logical timestamp with events
    /// between, and its notes after the first data.
    pub fn output(&mut self, output: &Output, now: i64) -> Vec<Message> {
        let timeline = output.timeline;
        self.resolution = timeline.resolution;
        let mut out: Vec<Message> = output.series.iter().map(|s| self.metadata(s)).collect();
        self.held.push(info(
            now,
            timeline.first,
            "JOB_RUNNING_RESOLUTION",
            json!({"resolutionMs": timeline.resolution}),
        ));
        for i in &output.infos {
            self.held.push(note(i, now, timeline.first));
        }
        let mut events = output.events.iter().peekable();
        for i in 0..timeline.len {
            let t = timeline.at(i);
            while let Some(e) = events.next_if(|e| e.timestamp <= t) {
                out.push(event(e, timeline.resolution));
            }
            let mut points = Vec::with_capacity(output.series.len());
            points.extend(
                output
                    .series
                    .iter()
                    .filter_map(|s| s.values[i].map(|v| (s.id, v))),
            );
            self.data(&mut out, t, points);
        }
        out.extend(events.map(|e| event(e, timeline.resolution)));
        out
    }

    /// The messages of one live step.
    pub fn step(&mut self, step: &Step) -> Vec<Message> {
        let mut out: Vec<Message> = step.new_series.iter().map(|s| self.metadata(s)).collect();
        out.extend(step.events.iter().map(|e| event(e, self.resolution)));
        self.data(&mut out, step.timestamp, step.points.clone());
        out
    }

    /// The closing messages: notes never sent (a computation without any logical
    /// timestamp) and the end of the channel.
    pub fn end(&mut self, now: i64) -> Vec<Message> {
        let mut out = std::mem::take(&mut self.held);
        out.push(Message::control("END_OF_CHANNEL", now));
        out
    }

    /// One data message, with the held notes after the first.
    fn data(&mut self, out: &mut Vec<Message>, timestamp: i64, points: Vec<(TsId, f64)>) {
        out.push(Message::Data { timestamp, points });
        if !self.data_sent {
            // After the first data: the client counts data messages per timestamp until the
            // first info message.
            self.data_sent = true;
            out.append(&mut self.held);
        }
    }

    fn metadata(&self, s: &OutSeries) -> Message {
        let meta = &s.meta;
        let mut properties = Map::new();
        for (k, v) in meta.props.iter().chain(meta.dims.iter()) {
            properties.insert(k.clone(), Value::String(v.clone()));
        }
        if !meta.tags.is_empty() {
            properties.insert("sf_tags".into(), json!(meta.tags));
        }
        let mut key: Vec<&str> = meta.dims.keys().map(String::as_str).collect();
        key.push("sf_metric");
        key.sort_unstable();
        properties.insert("sf_metric".into(), json!(meta.metric));
        if let Some(origin) = &meta.originating_metric {
            properties.insert("sf_originatingMetric".into(), json!(origin));
        }
        properties.insert("sf_key".into(), json!(key));
        properties.insert("sf_type".into(), json!("MetricTimeSeries"));
        properties.insert("sf_streamLabel".into(), json!(s.label));
        properties.insert("sf_resolutionMs".into(), json!(self.resolution));
        properties.insert("sf_isPreQuantized".into(), json!(true));
        properties.insert("jobId".into(), json!(self.handle));
        Message::Json(json!({
            "type": "metadata",
            "tsId": ts_id_text(&s.id),
            "properties": properties,
        }))
    }
}

/// The info message of a note.
fn note(i: &Info, now: i64, logical: i64) -> Message {
    match i {
        Info::InputCount(n) => {
            let mut m = info(now, logical, "FETCH_NUM_TIMESERIES", json!({}));
            if let Message::Json(Value::Object(o)) = &mut m
                && let Some(Value::Object(msg)) = o.get_mut("message")
            {
                msg.insert("numInputTimeSeries".into(), json!(n));
            }
            m
        }
        Info::NoTimeSeries { metric, suggestion } => {
            let mut contents = json!({"query": format!("sf_metric:{metric}")});
            // Not SignalFx's: the metric probably meant, which clients that do not know the
            // field ignore.
            if let Some(suggestion) = suggestion {
                contents["didYouMean"] = json!(suggestion);
            }
            info(now, logical, "FIND_MATCHED_NO_TIMESERIES", contents)
        }
        Info::MissingGroupBy { keys } => info(
            now,
            logical,
            "GROUPBY_MISSING_PROPERTY",
            json!({"propertyNames": keys}),
        ),
        Info::InitialMaxDelay(ms) => info(
            now,
            logical,
            "JOB_INITIAL_MAX_DELAY",
            json!({"maxDelayMs": ms}),
        ),
    }
}

fn info(now: i64, logical: i64, code: &str, contents: Value) -> Message {
    Message::Json(json!({
        "type": "message",
        "logicalTimestampMs": logical,
        "message": {
            "messageCode": code,
            "messageLevel": "INFO",
            "timestampMs": now,
            "contents": contents,
        },
    }))
}

fn event(e: &OutEvent, resolution: i64) -> Message {
    let mut metadata = Map::new();
    for (k, v) in &e.dims {
        metadata.insert(k.clone(), json!(v));
    }
    metadata.insert("sf_type".into(), json!("EventTimeSeries"));
    metadata.insert("sf_eventType".into(), json!(e.event_type));
    metadata.insert("sf_streamLabel".into(), json!(e.label));
    let properties = match &e.kind {
        EventKind::Detector {
            anomalous,
            incident,
            value,
        } => {
            let (is, was) = if *anomalous {
                ("anomalous", "ok")
            } else {
                ("ok", "anomalous")
            };
            metadata.insert("sf_detectInputContexts".into(), json!("{}"));
            json!({
                "is": is,
                "was": was,
                "incidentId": incident,
                "sf_resolutionMs": resolution,
                "inputs": {"_S0": {"value": value.map(number), "key": e.dims}},
            })
        }
        EventKind::Custom(properties) => json!(properties),
    };
    Message::Json(json!({
        "type": "event",
        "tsId": ts_id_text(&e.id),
        "timestampMs": e.timestamp,
        "metadata": metadata,
        "properties": properties,
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sextant_signalflow::exec::series::Meta;
    use sextant_signalflow::exec::time::Timeline;

    use super::*;

    fn kinds(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m {
                Message::Data { timestamp, .. } => format!("data@{timestamp}"),
                Message::Json(v) => v
                    .get("event")
                    .or_else(|| v.get("message").and_then(|m| m.get("messageCode")))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| v["type"].as_str().unwrap_or("?"))
                    .to_owned(),
            })
            .collect()
    }

    fn output(len: usize) -> Output {
        let meta = Arc::new(Meta {
            metric: "cpu".into(),
            ..Meta::default()
        });
        Output {
            timeline: Timeline {
                first: 60_000,
                resolution: 60_000,
                len,
            },
            series: vec![OutSeries {
                id: [1; 8],
                label: "A".into(),
                meta,
                // Nothing at the first logical timestamp: its data message is still sent.
                values: (0..len).map(|i| (i > 0).then_some(i as f64)).collect(),
            }],
            events: Vec::new(),
            infos: vec![Info::InputCount(1)],
        }
    }

    /// The client counts data messages per timestamp until its first info message: the
    /// infos go after the first data, and every timestamp has exactly one data message.
    #[test]
    fn infos_follow_the_first_data_and_every_timestamp_has_one_data_message() {
        let (mut writer, mut all) = Writer::begin("h", 5);
        all.extend(writer.output(&output(3), 5));
        all.extend(writer.end(6));
        assert_eq!(
            kinds(&all),
            [
                "STREAM_START",
                "JOB_START",
                "metadata",
                "data@60000",
                "JOB_RUNNING_RESOLUTION",
                "FETCH_NUM_TIMESERIES",
                "data@120000",
                "data@180000",
                "END_OF_CHANNEL"
            ]
        );
        assert_eq!(
            all[3],
            Message::Data {
                timestamp: 60_000,
                points: vec![]
            }
        );
    }

    #[test]
    fn a_live_computation_keeps_the_order_across_its_steps() {
        let (mut writer, mut all) = Writer::begin("h", 5);
        // A live computation started now: nothing in the past, its series seen live.
        let mut past = output(0);
        past.series.clear();
        all.extend(writer.output(&past, 5));
        let step = Step {
            timestamp: 60_000,
            new_series: output(1).series,
            points: vec![([1; 8], 2.0)],
            events: Vec::new(),
        };
        all.extend(writer.step(&step));
        all.extend(writer.step(&Step {
            timestamp: 120_000,
            ..Step::default()
        }));
        assert_eq!(
            kinds(&all),
            [
                "STREAM_START",
                "JOB_START",
                "metadata",
                "data@60000",
                "JOB_RUNNING_RESOLUTION",
                "FETCH_NUM_TIMESERIES",
                "data@120000"
            ]
        );
    }

    #[test]
    fn binary_data_frames_are_version_1_with_17_bytes_a_value() {
        let message = Message::Data {
            timestamp: 1_700_000_000_000,
            points: vec![([7; 8], 1.5), ([9; 8], -2.0)],
        };
        let frame = message.to_binary("channel-abcd1234").unwrap();
        assert_eq!(frame.len(), 20 + 12 + 2 * 17);
        assert_eq!(&frame[..4], &[1, 5, 0, 0]);
        assert_eq!(&frame[4..20], b"channel-abcd1234");
        assert_eq!(
            i64::from_be_bytes(frame[20..28].try_into().unwrap()),
            1_700_000_000_000
        );
        assert_eq!(u32::from_be_bytes(frame[28..32].try_into().unwrap()), 2);
        assert_eq!(frame[32], 2);
        assert_eq!(&frame[33..41], &[7; 8]);
        assert_eq!(f64::from_be_bytes(frame[41..49].try_into().unwrap()), 1.5);
        // A channel name longer than the header's 16 bytes goes as JSON instead.
        assert!(message.to_binary("a-channel-name-too-long").is_none());
        let json = message.to_json("c");
        assert_eq!(json["data"][0]["tsId"], "BwcHBwcHBwc");
        assert_eq!(json["channel"], "c");
        // The direct JSON writer says the same as the tree.
        let mut text = Vec::new();
        message.write_json("c", &mut text);
        assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), json);
        let odd = Message::Data {
            timestamp: 1,
            points: vec![([0; 8], f64::NAN), ([1; 8], 1e300), ([2; 8], -0.5)],
        };
        let mut text = Vec::new();
        odd.write_json("c\"q", &mut text);
        assert_eq!(
            serde_json::from_slice::<Value>(&text).unwrap(),
            odd.to_json("c\"q")
        );
    }
}
