//! Request bodies as every HTTP front end receives them: received within the server-wide
//! budget of ingest data held at once ([`DecodeBudget`], [`receive`]), and gzip decoding within
//! a size limit.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use sextant_model::ErrorKind;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::HttpError;

/// The bytes of request bodies that may be decoded at once by default (`sextant serve
/// --decode-budget`).
pub const DEFAULT_DECODE_BUDGET: usize = 256 << 20;

/// How long a body waits for room in the budget before it is refused with 503.
pub const DECODE_WAIT: Duration = Duration::from_secs(30);

/// The memory that ingest requests may hold at once, across every request and protocol:
/// bodies as they are received, their gzip-decoded form, and Sift ingest streams as they
/// buffer (decoding and writing cost a multiple of that: up to about 14 times for a KairosDB
/// body of many small objects). A request grows its [`Share`] as it needs more
/// ([`DecodeBudget::grow`]) and gives it back when its write is done; a request that finds no
/// room waits its turn (first come, first served) for up to the budget's wait, then is refused
/// with 503 (gRPC UNAVAILABLE) naming the budget, so that many large requests at once queue
/// instead of multiplying the server's memory. A share never grows beyond the whole budget: a
/// request that needs more runs alone.
#[derive(Debug)]
pub struct DecodeBudget {
    /// One permit a KiB.
    permits: Arc<Semaphore>,
    /// The budget in KiB.
    kib: u32,
    wait: Duration,
}

/// A request's share of the [`DecodeBudget`], grown as it needs more and given back when
/// dropped.
#[derive(Debug, Default)]
#[must_use = "the share is given back as soon as it is dropped"]
pub struct Share {
    permit: Option<OwnedSemaphorePermit>,
    kib: u32,
}

impl Share {
    /// The share held, in bytes.
    pub fn bytes(&self) -> usize {
        self.kib as usize * 1024
    }
}

impl Default for DecodeBudget {
    fn default() -> Self {
        DecodeBudget::new(DEFAULT_DECODE_BUDGET, DECODE_WAIT)
    }
}

impl DecodeBudget {
    /// A budget of `bytes` (at least 1 KiB), a request waiting at most `wait` for its share.
    pub fn new(bytes: usize, wait: Duration) -> DecodeBudget {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .max(1);
        DecodeBudget {
            permits: Arc::new(Semaphore::new(kib as usize)),
            kib,
            wait,
        }
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> usize {
        self.kib as usize * 1024
    }

    /// The budget as people write it: `256 MiB`, or `64 KiB` when not whole mebibytes.
    fn size(&self) -> String {
        if self.kib.is_multiple_of(1024) {
            format!("{} MiB", self.kib / 1024)
        } else {
            format!("{} KiB", self.kib)
        }
    }

    /// Grows `share` to cover `bytes` (at most the whole budget), waiting for room at most the
    /// budget's wait; `what` names the request in the error ("this body of 2048 KiB", "this
    /// stream of 2000 points in 2000 messages"). A request waiting here reads no more of its
    /// body or stream, so its client is slowed by the transport's flow control rather than the
    /// server's memory growing.
    pub async fn grow(
        &self,
        share: &mut Share,
        bytes: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), HttpError> {
        let Some(more) = self.more(share, bytes) else {
            return Ok(());
        };
        let permit = match self.permits.clone().try_acquire_many_owned(more) {
            Ok(permit) => permit,
            Err(_) => {
                let acquire = self.permits.clone().acquire_many_owned(more);
                match tokio::time::timeout(self.wait, acquire).await {
                    Ok(Ok(permit)) => permit,
                    // The semaphore is never closed; a closed one would be a bug.
                    Ok(Err(closed)) => return Err(HttpError::internal(closed)),
                    Err(_) => return Err(self.refusal(share, more, what())),
                }
            }
        };
        add(share, permit);
        Ok(())
    }

    /// [`DecodeBudget::grow`] for a blocking thread of the runtime (where the handlers
    /// decode), not an async worker: blocks the calling thread while it waits.
    pub fn grow_blocking(
        &self,
        share: &mut Share,
        bytes: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), HttpError> {
        if self.more(share, bytes).is_none() {
            return Ok(());
        }
        let wait = self.grow(share, bytes, what);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime.block_on(wait),
            // Outside a runtime (a test's thread): a runtime of its own for the wait.
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(HttpError::internal)?
                .block_on(wait),
        }
    }

    /// The KiB `share` lacks to cover `bytes` (held to the whole budget), if any.
    fn more(&self, share: &Share, bytes: usize) -> Option<u32> {
        let want = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(self.kib);
        (want > share.kib).then(|| want - share.kib)
    }

    fn refusal(&self, share: &Share, more: u32, what: String) -> HttpError {
        let holding = if share.kib > 0 {
            format!(", holding {} KiB,", share.kib)
        } else {
            String::new()
        };
        HttpError::new(
            ErrorKind::Unavailable,
            format!(
                "the server is holding as much ingest data as its decode budget of {} allows \
                 (sextant serve --decode-budget); {what}{holding} waited {} s for {more} KiB \
                 of room and was not stored; retry later or send smaller requests",
                self.size(),
                self.wait.as_secs_f64(),
            ),
        )
    }
}

fn add(share: &mut Share, permit: OwnedSemaphorePermit) {
    share.kib += permit.num_permits() as u32;
    match &mut share.permit {
        Some(held) => held.merge(permit),
        None => share.permit = Some(permit),
    }
}

/// How much more of the budget a body takes at once while it is received.
const RECEIVE_STEP: usize = 64 << 10;

/// Receives an ingest body within the decode budget: as its bytes arrive it grows its share
/// ([`DecodeBudget::grow`]) and, with no room, stops reading (TCP holds its client back) and
/// waits, so bodies being received count in the budget like bodies being decoded. A body
/// declared or found larger than `limit` bytes is refused with 413, before more is read. The
/// share is held until dropped: by the handler, once its write is done.
pub async fn receive(
    budget: &DecodeBudget,
    body: axum::body::Body,
    limit: usize,
) -> Result<(bytes::Bytes, Share), HttpError> {
    use axum::body::HttpBody;
    use http_body_util::BodyExt;

    let too_large = || {
        HttpError::new(
            ErrorKind::InvalidInput,
            format!("the body is larger than {limit} bytes; send smaller requests"),
        )
        .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut share = Share::default();
    let first = declared.map_or(RECEIVE_STEP, |n| n as usize);
    budget
        .grow(&mut share, first, || {
            format!("this body of {} KiB", first.div_ceil(1024))
        })
        .await?;
    let mut received = bytes::BytesMut::with_capacity(first.min(limit));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| HttpError::invalid(format!("the request body could not be read: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if received.len() + data.len() > limit {
            return Err(too_large());
        }
        received.extend_from_slice(&data);
        if received.len() > share.bytes() {
            let so_far = received.len();
            budget
                .grow(&mut share, so_far.next_multiple_of(RECEIVE_STEP), || {
                    format!("this body, {} KiB of it received", so_far / 1024)
                })
                .await?;
        }
    }
    Ok((received.freeze(), share))
}

/// `body`, gzip-decoded when `gzip` (within `limit` bytes), with `share` grown to cover the
/// decoded bytes beside the received ones. Blocks while it waits for room: call it where the
/// handlers decode, on a blocking thread.
pub fn inflate<'a>(
    budget: &DecodeBudget,
    share: &mut Share,
    body: &'a [u8],
    gzip: bool,
    limit: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, HttpError> {
    if !gzip {
        return Ok(std::borrow::Cow::Borrowed(body));
    }
    let plain = gunzip(body, limit).map_err(HttpError::invalid)?;
    budget.grow_blocking(share, body.len() + plain.len(), || {
        format!(
            "this body of {} KiB decompressed",
            plain.len().div_ceil(1024)
        )
    })?;
    Ok(std::borrow::Cow::Owned(plain))
}

/// Whether the body is gzip (`Content-Encoding: gzip`, or KairosDB's `Content-Type:
/// application/gzip`).
pub fn is_gzip(headers: &axum::http::HeaderMap) -> bool {
    let says = |name: axum::http::header::HeaderName, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(value))
    };
    says(axum::http::header::CONTENT_ENCODING, "gzip")
        || says(axum::http::header::CONTENT_TYPE, "application/gzip")
}

/// Why a gzip body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    /// The bytes are not gzip, or a member is damaged or cut short.
    #[error("the gzip body cannot be decompressed: {0}")]
    Corrupt(String),
    /// The body decompresses to more than the limit.
    #[error("the body decompresses to more than {limit} bytes; send smaller requests")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// Decompresses a gzip body of one or more members (as `cat a.gz b.gz` makes, and as some
/// clients send), whole: every member is decoded, never only the first. Fails on damage, and
/// as soon as the output would exceed `limit` bytes, so a small body that inflates enormously
/// costs at most `limit` bytes of memory.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    // A gzip member ends with its uncompressed size (modulo 2^32): room for that at once
    // rather than growing step by step. Only a hint, held to the limit and to what deflate
    // can expand the body to (at most 1032 times), so a lying trailer reserves no more.
    let hint = body
        .last_chunk::<4>()
        .map_or(0, |size| u32::from_le_bytes(*size) as usize);
    let room = hint.min(limit).min(body.len().saturating_mul(1032));
    let mut out = Vec::with_capacity(room.saturating_add(1));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| GzipError::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(GzipError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A body's share of `bytes`, as a handler takes it.
    fn admit(budget: &DecodeBudget, bytes: usize) -> Result<Share, HttpError> {
        let mut share = Share::default();
        budget
            .grow_blocking(&mut share, bytes, || {
                format!("this body of {} KiB", bytes.div_ceil(1024))
            })
            .map(|()| share)
    }

    #[tokio::test]
    async fn a_stream_share_grows_until_it_holds_the_whole_budget() {
        let budget = DecodeBudget::new(4 << 20, Duration::from_millis(50));
        let mut stream = Share::default();
        budget
            .grow(&mut stream, 1 << 20, String::new)
            .await
            .unwrap();
        budget
            .grow(&mut stream, 1 << 19, String::new)
            .await
            .unwrap();
        assert_eq!(stream.bytes(), 1 << 20, "a share never shrinks while held");
        // Another stream holding the rest: the first cannot grow, and says so.
        let mut other = Share::default();
        budget.grow(&mut other, 3 << 20, String::new).await.unwrap();
        let refused = budget
            .grow(&mut stream, 2 << 20, || "this stream of 9 points".into())
            .await
            .expect_err("no room while the other holds the rest");
        assert_eq!(refused.kind(), ErrorKind::Unavailable);
        let message = format!("{refused:?}");
        assert!(
            message.contains("decode budget of 4 MiB")
                && message.contains("this stream of 9 points, holding 1024 KiB")
                && message.contains("for 1024 KiB of room"),
            "{message}"
        );
        // The other ends: the first grows past the budget's size, holding all of it.
        drop(other);
        budget
            .grow(&mut stream, 64 << 20, String::new)
            .await
            .unwrap();
        assert_eq!(stream.bytes(), 4 << 20);
        assert_eq!(
            budget.permits.available_permits(),
            0,
            "a stream holding it all runs alone"
        );
        drop(stream);
        budget
            .grow(&mut Share::default(), 4 << 20, String::new)
            .await
            .expect("the stream's share is given back");
    }

    #[test]
    fn bodies_wait_for_room_in_the_decode_budget_then_are_refused_naming_it() {
        let budget = DecodeBudget::new(4 << 20, Duration::from_millis(50));
        let first = admit(&budget, 3 << 20).expect("room for the first");
        // 1 MiB is left: a small body fits beside the first, a larger one does not.
        let small = admit(&budget, 512 << 10).expect("room for a small body");
        let refused = admit(&budget, 2 << 20).expect_err("no room while the first is decoded");
        assert_eq!(refused.kind(), ErrorKind::Unavailable);
        let message = format!("{refused:?}");
        assert!(message.contains("decode budget of 4 MiB"), "{message}");
        assert!(message.contains("this body of 2048 KiB"), "{message}");
        drop((first, small));
        // A body larger than the whole budget takes all of it, and runs alone.
        let all = admit(&budget, 1 << 30).expect("admitted alone");
        assert!(admit(&budget, 1).is_err(), "nothing is left beside it");
        drop(all);
        assert!(admit(&budget, 4 << 20).is_ok(), "all of it is given back");
    }

    #[test]
    fn a_waiting_body_is_admitted_once_another_gives_its_share_back() {
        let budget = Arc::new(DecodeBudget::new(1 << 20, Duration::from_secs(60)));
        let first = admit(&budget, 1 << 20).expect("room for the first");
        let (started, waits) = std::sync::mpsc::channel();
        let waiting = std::thread::spawn({
            let budget = budget.clone();
            move || {
                started.send(()).unwrap();
                admit(&budget, 1 << 20).map(drop)
            }
        });
        waits.recv().unwrap();
        drop(first);
        assert!(waiting.join().unwrap().is_ok(), "admitted once room came");
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// A body, a limit, and the bytes or the error message expected.
    type Case<'a> = (&'a [u8], usize, Result<&'a [u8], &'a str>);

    #[test]
    fn every_member_is_decoded_and_limits_hold() {
        let mut two = gzip(b"cpu v=1 1\n");
        two.extend(gzip(b"cpu v=2 2\n"));
        let cut = gzip(b"cpu v=1 1\n")[..12].to_vec();
        let cases: [Case<'_>; 4] = [
            (&two, 100, Ok(b"cpu v=1 1\ncpu v=2 2\n")),
            (&two, 15, Err("more than 15 bytes")),
            (&cut, 100, Err("cannot be decompressed")),
            (b"not gzip", 100, Err("cannot be decompressed")),
        ];
        for (body, limit, want) in cases {
            match (gunzip(body, limit), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
                (got, want) => panic!("{got:?}, expected {want:?}"),
            }
        }
    }
}
