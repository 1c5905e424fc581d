//! Live subscriptions: points pushed by the server as they are committed, as an async
//! [`Stream`](futures_util::Stream) that reconnects and resumes by itself, and operators for
//! telemetry streams in [`ops`].
//!
//! ```no_run
//! # async fn example() -> sextant_client::Result<()> {
//! use futures_util::StreamExt;
//! use sextant_client::live::ops::TelemetryStreamExt;
//! use sextant_client::native::NativeClient;
//!
//! let client = NativeClient::new("http://127.0.0.1:7777", "KEY")?;
//! // The rolling mean of the last 10 values of each host's CPU, printed as it updates.
//! let mut means = client
//!     .subscribe(r#"cpu.usage_user{host=~"h1|h2"}"#)
//!     .since_ago(std::time::Duration::from_secs(60))
//!     .open()
//!     .await?
//!     .points()
//!     .count_window(10)
//!     .map(|w| (w.series.key(), w.mean()));
//! while let Some((series, mean)) = means.next().await {
//!     println!("{series}: {mean:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! The stream asks for committed writes by gRPC (`sextant.live.v1.LiveService/Subscribe`, a
//! server-streaming method of the proto in `sextant-api`), on the same port as the rest of
//! the API. Each message the server sends with a cursor moves the stream's resume point; when the
//! connection drops, it connects again after a short pause (doubling up to 5 s) and resumes
//! after that cursor, so nothing is lost or repeated, and says so with
//! [`Notice::Reconnecting`]. Before the first cursor (while stored history is still being
//! sent) a reconnection starts the history over, announced by [`Notice::Restarted`].
//! A refused subscription (a bad selector, a key that may not read) ends the stream with the
//! server's message.

pub mod ops;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use sextant_api::live::proto;
pub use sextant_api::live::{
    EventKind, LiveEvent, LiveValue, Message, SubscribeRequest, WindowRequest,
};
use tokio::sync::mpsc;

use crate::connect::{ClientConfig, connect};
use crate::ingest::time::IntoTimestamp;
use crate::native::NativeClient;
use crate::{Error, Result};
use sextant_model::ErrorKind;

/// The method, as errors name it.
const CALL: &str = "sextant.live.v1.LiveService/Subscribe";

/// The largest message read: a history batch is at most some 16k points plus one commit.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// A series, as the server named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Series {
    /// Its name (metric, channel).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value type, e.g. `double`.
    pub data_type: String,
}

impl Series {
    /// Its key in the query selector's form, e.g. `cpu{host="h1"}`.
    pub fn key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// One committed point.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePoint {
    /// Its series.
    pub series: Arc<Series>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp: i64,
    /// Its value.
    pub value: LiveValue,
}

/// One window the server aggregated (a subscription with
/// [`Subscribe::window`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveWindow {
    /// Its series.
    pub series: Arc<Series>,
    /// Its first instant.
    pub start: i64,
    /// The instant after its last.
    pub end: i64,
    /// How many points it holds.
    pub count: u64,
    /// The aggregates asked for, by name.
    pub values: BTreeMap<String, Option<f64>>,
    /// Whether late points changed a window sent before.
    pub update: bool,
}

/// What the stream says besides data.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The stored history is all sent; what follows is live.
    Live {
        /// The resume point.
        cursor: u64,
    },
    /// Commits that cannot be replayed: the server's log no longer holds them.
    Gap {
        /// The first commit missed.
        first: u64,
        /// The last.
        last: u64,
        /// The server's explanation.
        message: String,
    },
    /// The subscriber fell behind; nothing was lost.
    Behind {
        /// The newest commit then.
        newest: u64,
        /// The server's explanation.
        message: String,
    },
    /// A point came after its window was closed for good.
    Late {
        /// Its series.
        series: Arc<Series>,
        /// Its time.
        timestamp: i64,
        /// How many so far.
        total: u64,
    },
    /// Points of a series were deleted.
    Deleted {
        /// The series.
        series: Arc<Series>,
        /// The first instant deleted.
        start: i64,
        /// The instant after the last.
        end: i64,
    },
    /// The connection dropped; the stream connects again and resumes.
    Reconnecting {
        /// Why it dropped.
        error: String,
        /// How many attempts in a row so far.
        attempt: u32,
    },
    /// The connection dropped before the history was all sent: it starts over, so points of
    /// the history may come again.
    Restarted,
}

/// What a subscription's stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A committed point.
    Point(LivePoint),
    /// A window.
    Window(LiveWindow),
    /// An event of the collection subscribed to ([`NativeClient::subscribe_collection`]).
    Event(LiveEvent),
    /// A notice.
    Notice(Notice),
}

/// A subscription being set up: [`NativeClient::subscribe`], options, then
/// [`Subscribe::open`].
#[derive(Debug, Clone)]
pub struct Subscribe {
    url: String,
    token: String,
    request: SubscribeRequest,
    reconnect: bool,
    buffer: usize,
}

impl NativeClient {
    /// A subscription to the series `selector` selects (the query selector's text form,
    /// e.g. `mainmotor.velocity{asset="NostromoLV426"}`), from now on unless told otherwise.
    pub fn subscribe(&self, selector: &str) -> Subscribe {
        let (url, token) = self.endpoint();
        Subscribe {
            url,
            token,
            request: SubscribeRequest {
                selector: selector.to_owned(),
                ..SubscribeRequest::default()
            },
            reconnect: true,
            buffer: 1024,
        }
    }
}

impl NativeClient {
    /// A subscription to the whole events of event collection `name`: inferences with every
    /// column and labels as they arrive, as [`Update::Event`]s, from now on unless told
    /// otherwise (`since` gives the stored inferences from that time on first, each with its
    /// label's columns). Its cursors count the collection's stored ingest requests.
    pub fn subscribe_collection(&self, name: &str) -> Subscribe {
        let mut subscribe = self.subscribe("");
        subscribe.request.collection = Some(name.to_owned());
        subscribe
    }
}

impl Subscribe {
    /// Starts with the stored points from `time` on, then the live ones.
    pub fn since(mut self, time: impl IntoTimestamp) -> Self {
        self.request.since = Some(time.into_timestamp());
        self
    }

    /// Starts with the stored points of the last `ago`, then the live ones.
    pub fn since_ago(self, ago: Duration) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(ago);
        self.since(i64::try_from(now.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Resumes after `cursor`, from an earlier stream ([`LiveStream::cursor`]).
    pub fn after(mut self, cursor: u64) -> Self {
        self.request.cursor = Some(cursor);
        self
    }

    /// Server-side event-time windows instead of points.
    pub fn window(mut self, window: WindowRequest) -> Self {
        self.request.window = Some(window);
        self
    }

    /// Ends the stream with an error when the connection drops, instead of reconnecting.
    pub fn no_reconnect(mut self) -> Self {
        self.reconnect = false;
        self
    }

    /// Connects and returns the stream. Fails if the first connection cannot be made or the
    /// server refuses the subscription.
    pub async fn open(self) -> Result<LiveStream> {
        let (connection, first) = Connection::open(&self, &self.request).await?;
        let (tx, rx) = mpsc::channel(self.buffer);
        let task = tokio::spawn(follow(self, connection, first, tx));
        Ok(LiveStream {
            rx,
            cursor: None,
            _task: AbortOnDrop(task),
        })
    }
}

/// The updates of a subscription, in commit order per series. Dropping it closes the
/// connection.
#[derive(Debug)]
pub struct LiveStream {
    rx: mpsc::Receiver<Item>,
    /// The cursor of the last message all of whose updates were yielded.
    cursor: Option<u64>,
    _task: AbortOnDrop,
}

/// What the connection's task hands the stream: an update, with the cursor of its message
/// when it is the message's last, or the cursor of a message without updates.
#[derive(Debug)]
enum Item {
    Update(Result<Update>, Option<u64>),
    Cursor(u64),
}

#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl LiveStream {
    /// The cursor to resume from to get exactly what this stream has not yielded yet (the
    /// updates it has received but not yielded come again); `None` before the server sent
    /// one (while history is being sent).
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// The points alone: notices and windows left out, and the stream ending at the first
    /// error.
    pub fn points(self) -> impl futures_util::Stream<Item = LivePoint> + Unpin {
        self.take_while(|u| std::future::ready(u.is_ok()))
            .filter_map(|u| {
                std::future::ready(match u {
                    Ok(Update::Point(p)) => Some(p),
                    _ => None,
                })
            })
    }
}

impl futures_util::Stream for LiveStream {
    type Item = Result<Update>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        loop {
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(Item::Cursor(c))) => self.cursor = Some(c),
                std::task::Poll::Ready(Some(Item::Update(update, cursor))) => {
                    if cursor.is_some() {
                        self.cursor = cursor;
                    }
                    return std::task::Poll::Ready(Some(update));
                }
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(None),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    }
}

/// One gRPC stream, with the series it named.
struct Connection {
    stream: tonic::Streaming<proto::SubscribeResponse>,
    series: HashMap<u32, Arc<Series>>,
}

impl Connection {
    /// Connects, asks for `request` and reads the first message: a refusal is the
    /// subscription's error.
    async fn open(
        options: &Subscribe,
        request: &SubscribeRequest,
    ) -> Result<(Connection, Option<Message>)> {
        let channel = connect(&ClientConfig::new(&options.url, &options.token)).await?;
        let mut grpc =
            tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        grpc.ready().await.map_err(|e| Error::Connect {
            uri: options.url.clone(),
            cause: crate::error::causes(&e),
        })?;
        let response = grpc
            .server_streaming(
                tonic::Request::new(proto::SubscribeRequest::from(request)),
                tonic::codegen::http::uri::PathAndQuery::from_static(proto::SUBSCRIBE_PATH),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .map_err(|status| Error::rpc(CALL, status))?;
        let mut connection = Connection {
            stream: response.into_inner(),
            series: HashMap::new(),
        };
        let first = match connection.next().await {
            Ok(Some(Message::Error { message })) => {
                return Err(Error::rpc(CALL, tonic::Status::internal(message)));
            }
            Ok(first) => first,
            Err(cause) => {
                return Err(Error::Connect {
                    uri: options.url.clone(),
                    cause,
                });
            }
        };
        Ok((connection, first))
    }

    /// The next message, `None` when the server ended the stream.
    async fn next(&mut self) -> std::result::Result<Option<Message>, String> {
        match self.stream.message().await {
            Ok(Some(response)) => Message::try_from(response)
                .map(Some)
                .map_err(|e| format!("cannot read a message of the server: {e}")),
            Ok(None) => Ok(None),
            Err(status) => Err(format!("{} ({:?})", status.message(), status.code())),
        }
    }

    /// The updates one message makes.
    fn updates(&mut self, message: Message) -> std::result::Result<Vec<Update>, Error> {
        let series = |s: &HashMap<u32, Arc<Series>>, id: u32| {
            s.get(&id).cloned().ok_or_else(|| {
                Error::Decode(format!(
                    "the server referred to series {id} before naming it"
                ))
            })
        };
        Ok(match message {
            Message::Series {
                id,
                name,
                labels,
                data_type,
            } => {
                self.series.insert(
                    id,
                    Arc::new(Series {
                        name,
                        labels,
                        data_type,
                    }),
                );
                Vec::new()
            }
            Message::Points { series: batch, .. } => {
                let mut out = Vec::new();
                for s in batch {
                    let named = series(&self.series, s.id)?;
                    for (timestamp, value) in s.timestamps.into_iter().zip(s.values) {
                        out.push(Update::Point(LivePoint {
                            series: Arc::clone(&named),
                            timestamp,
                            value,
                        }));
                    }
                }
                out
            }
            Message::Windows { windows, .. } => windows
                .into_iter()
                .map(|w| {
                    Ok(Update::Window(LiveWindow {
                        series: series(&self.series, w.id)?,
                        start: w.start,
                        end: w.end,
                        count: w.count,
                        values: w.values,
                        update: w.update,
                    }))
                })
                .collect::<Result<Vec<_>>>()?,
            Message::Events { events, .. } => events.into_iter().map(Update::Event).collect(),
            Message::Live { cursor } => vec![Update::Notice(Notice::Live { cursor })],
            Message::Progress { .. } => Vec::new(),
            Message::Gap {
                first,
                last,
                message,
            } => vec![Update::Notice(Notice::Gap {
                first,
                last,
                message,
            })],
            Message::Behind {
                newest, message, ..
            } => vec![Update::Notice(Notice::Behind { newest, message })],
            Message::Late {
                id,
                timestamp,
                total,
            } => vec![Update::Notice(Notice::Late {
                series: series(&self.series, id)?,
                timestamp,
                total,
            })],
            Message::Deleted { id, start, end } => vec![Update::Notice(Notice::Deleted {
                series: series(&self.series, id)?,
                start,
                end,
            })],
            Message::Closed { reason, .. } => {
                return Err(Error::Http {
                    url: proto::SUBSCRIBE_PATH.to_owned(),
                    detail: format!("the server closed the subscription: {reason}"),
                });
            }
            Message::Error { message } => {
                return Err(Error::rpc(CALL, tonic::Status::internal(message)));
            }
        })
    }
}

/// Reads the connection, reconnecting and resuming as needed, until the stream is dropped.
async fn follow(
    options: Subscribe,
    mut connection: Connection,
    first: Option<Message>,
    tx: mpsc::Sender<Item>,
) {
    // The last cursor received: where a new connection resumes.
    let mut received: Option<u64> = None;
    let mut pending = first;
    let mut attempt = 0u32;
    loop {
        let message = match pending.take() {
            Some(m) => Ok(Some(m)),
            None => connection.next().await,
        };
        let dropped = match message {
            Ok(Some(message)) => {
                attempt = 0;
                let at = message.cursor();
                match connection.updates(message) {
                    Ok(updates) => {
                        let last = updates.len();
                        if last == 0
                            && let Some(c) = at
                            && tx.send(Item::Cursor(c)).await.is_err()
                        {
                            return;
                        }
                        for (i, u) in updates.into_iter().enumerate() {
                            let cursor = if i + 1 == last { at } else { None };
                            if tx.send(Item::Update(Ok(u), cursor)).await.is_err() {
                                return;
                            }
                        }
                        if at.is_some() {
                            received = at;
                        }
                        continue;
                    }
                    Err(e @ Error::Http { .. }) => e.to_string(),
                    Err(e) => {
                        let _ = tx.send(Item::Update(Err(e), None)).await;
                        return;
                    }
                }
            }
            Ok(None) => "the server closed the connection".to_owned(),
            Err(e) => e,
        };
        if !options.reconnect {
            let error = Error::Http {
                url: options.url.clone(),
                detail: dropped,
            };
            let _ = tx.send(Item::Update(Err(error), None)).await;
            return;
        }
        // Reconnect, resuming after the last cursor (or starting over).
        loop {
            attempt += 1;
            let notice = Notice::Reconnecting {
                error: dropped.clone(),
                attempt,
            };
            if tx
                .send(Item::Update(Ok(Update::Notice(notice)), None))
                .await
                .is_err()
            {
                return;
            }
            let pause = Duration::from_millis(100 << attempt.min(6)).min(Duration::from_secs(5));
            tokio::time::sleep(pause).await;
            let mut request = options.request.clone();
            let resumed = received.is_some();
            if resumed {
                request.cursor = received;
            }
            match Connection::open(&options, &request).await {
                Ok((next, first)) => {
                    let restarted = Item::Update(Ok(Update::Notice(Notice::Restarted)), None);
                    if !resumed && tx.send(restarted).await.is_err() {
                        return;
                    }
                    connection = next;
                    pending = first;
                    break;
                }
                // Refused: a key revoked meanwhile, a limit reached.
                Err(e @ Error::Rpc { .. }) if e.kind() != ErrorKind::Unavailable => {
                    let _ = tx.send(Item::Update(Err(e), None)).await;
                    return;
                }
                Err(_) => continue,
            }
        }
    }
}
