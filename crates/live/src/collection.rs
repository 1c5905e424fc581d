//! A subscription to an event collection's whole events: inferences with every column, and
//! labels as they arrive (`docs/subscriptions.md`, *Event collections*).
//!
//! A collection's events do not go through the commit feed: each ingest request that stores
//! events is one record of the collection's own log, synced before the request is answered.
//! A cursor here is the number of such records, so resuming after it reads the log from the
//! next record on: exact across reconnects and restarts, for the life of the collection.
//!
//! History (`since`) is the stored inferences from that time on, each with the columns of the
//! label it joins with, as of one cursor; the records after it follow, so nothing is sent
//! twice or missed at the handover. Live records carry labels as their own events (a label
//! may come before or after its inference).

use std::time::Duration;

use sextant_api::live::{LiveEvent, Message};
use sextant_collections::Collection;

use crate::Error;
use crate::encode::Encoded;
use crate::run::{Halt, Options, Sink};
use crate::spec::{Spec, Start};

/// How long the reader waits for a record before it looks at its subscriber again.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// The most records read from the log at a time.
const RECORDS_PER_READ: usize = 64;

/// Runs the subscription `spec` to `collection`, sending to `sink`, until the subscriber goes
/// away or the collection is deleted (`Ok`), or the subscription fails (`Err`: a bad cursor,
/// a history too large, a log that cannot be read).
pub fn run(
    collection: &Collection,
    spec: &Spec,
    sink: &mut dyn Sink,
    options: &Options,
) -> Result<(), Error> {
    let mut run = Run {
        sink,
        options,
        last_cursor: None,
    };
    Halt::outcome(run.go(collection, spec))
}

impl From<sextant_collections::Error> for Halt {
    fn from(e: sextant_collections::Error) -> Self {
        Halt::Failed(Error::Collection(e))
    }
}

struct Run<'a> {
    sink: &'a mut dyn Sink,
    options: &'a Options,
    last_cursor: Option<u64>,
}

impl Run<'_> {
    fn go(&mut self, collection: &Collection, spec: &Spec) -> Result<(), Halt> {
        let mut position = match spec.start {
            Start::After(cursor) => {
                let newest = collection.cursor();
                if cursor > newest {
                    return Err(Error::CursorAhead { cursor, newest }.into());
                }
                cursor
            }
            Start::Now => collection.cursor(),
            Start::Since(since) => {
                let (cursor, events) =
                    collection.history(since, self.options.max_history_points)?;
                for batch in events.chunks(self.options.batch_points.max(1)) {
                    self.send(&Message::Events {
                        cursor: None,
                        events: batch.to_vec(),
                    })?;
                }
                cursor
            }
        };
        self.send(&Message::Live { cursor: position })?;
        loop {
            if self.sink.gone() {
                return Err(Halt::Gone);
            }
            if let Some(reason) = self.sink.closing() {
                return Err(self.close(Some(position), reason));
            }
            if collection.is_deleted() {
                let reason = format!("collection `{}` was deleted", collection.name());
                return Err(self.close(Some(position), reason));
            }
            let records = collection.events_after(position, RECORDS_PER_READ)?;
            let Some(&(last, _)) = records.last() else {
                collection.wait_after(position, IDLE_WAIT);
                continue;
            };
            let mut events: Vec<LiveEvent> = Vec::new();
            for (_, record) in records {
                events.extend(record.into_iter().filter(|e| {
                    // `since` leaves out older inferences, as it leaves out older points.
                    spec.since
                        .is_none_or(|since| e.timestamp.is_none_or(|t| t >= since))
                }));
            }
            position = last;
            let message = if events.is_empty() {
                Message::Progress { cursor: position }
            } else {
                Message::Events {
                    cursor: Some(position),
                    events,
                }
            };
            self.send(&message)?;
        }
    }

    /// Ends the stream with [`Message::Closed`]; returns why the run stops.
    fn close(&mut self, cursor: Option<u64>, reason: String) -> Halt {
        let framing = self.sink.framing();
        // Sent or not (the subscriber may be gone already), the run stops.
        let _ = self
            .sink
            .force(Encoded::of(&Message::Closed { cursor, reason }, framing));
        Halt::Gone
    }

    /// Sends `message`, waiting for room as [`Options::max_stall`] allows: a subscriber
    /// whose buffer stays full that long is closed with its cursor.
    fn send(&mut self, message: &Message) -> Result<(), Halt> {
        let framing = self.sink.framing();
        let encoded = Encoded::of(message, framing);
        if let Some(encoded) = self.sink.offer(encoded)? {
            if !self.sink.wait_for_room(self.options.max_stall)? {
                let reason = format!(
                    "the subscriber read nothing for {} s while its buffer was full; resume from the cursor",
                    self.options.max_stall.as_secs_f64()
                );
                return Err(self.close(self.last_cursor, reason));
            }
            self.sink.force(encoded)?;
        }
        if let Some(c) = message.cursor() {
            self.last_cursor = Some(c);
        }
        Ok(())
    }
}
