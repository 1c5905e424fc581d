//! Request ids: every request gets one, so that an error reply and the log line that holds its
//! detail can be matched.
//!
//! The middleware [`assign`] takes the client's `x-request-id` when it is sane (1 to 64 ASCII
//! letters, digits or `-_.:`, as UUIDs, W3C trace ids and most proxies' ids are) and makes one
//! otherwise. The id is answered in the response header `x-request-id`, stored in the request's
//! extensions as a [`RequestId`], and set as a task-local for the handler's future, so that the
//! error mappings in [`crate::error`] can name it without every handler passing it along.
//!
//! Made ids are a random per-process prefix and a counter (`5f3a9c01-42`): unique across
//! restarts in practice, and cheap (one atomic increment and one small string per request).

use std::fmt;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// The longest id accepted from a client.
const MAX_LEN: usize = 64;

/// The id of one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new id: this process's prefix and the next number.
    pub fn generate() -> RequestId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        RequestId(format!("{}-{n}", *PREFIX).into())
    }

    /// The id a client sent, when it is sane: 1 to 64 characters, each an ASCII letter, digit,
    /// `-`, `_`, `.` or `:`. Anything else (empty, long, spaces, control characters) could
    /// confuse logs or headers, and is replaced by a made id.
    pub fn parse(sent: &str) -> Option<RequestId> {
        let sane = !sent.is_empty()
            && sent.len() <= MAX_LEN
            && sent
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        sane.then(|| RequestId(sent.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Eight hex digits chosen at start-up, so that ids of two runs of the server differ.
static PREFIX: LazyLock<String> = LazyLock::new(|| {
    use std::hash::{BuildHasher, Hasher};
    // The standard library seeds `RandomState` from the operating system's randomness; that
    // is random enough for telling runs apart and needs no dependency.
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    format!("{:08x}", hasher.finish() as u32)
});

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request whose handler is running, if any. Code that runs outside a request's
/// future (a blocking thread, a gRPC stream's body after its headers went out) has none.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

/// The id of the running request, or a new one where there is none, so that a logged error
/// can always be found from what the client was told.
pub fn current_or_new() -> RequestId {
    current().unwrap_or_else(RequestId::generate)
}

/// The middleware: assigns the id, runs the request with it, answers it in `x-request-id`.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    request.extensions_mut().insert(id.clone());
    let mut response = CURRENT.scope(id.clone(), next.run(request)).await;
    // Ids are sane by construction, so this always succeeds.
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_refused() {
        for sent in [
            "abc",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "req_1.2:3",
        ] {
            assert_eq!(RequestId::parse(sent).unwrap().as_str(), sent);
        }
        let long = "a".repeat(65);
        for sent in ["", "a b", "x\u{7f}", "é", "a/b", long.as_str()] {
            assert_eq!(RequestId::parse(sent), None, "{sent:?}");
        }
    }

    #[test]
    fn made_ids_are_distinct_and_sane() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().split_once('-').unwrap().0.len(), 8);
    }

    #[tokio::test]
    async fn the_current_id_is_set_within_the_scope_only() {
        assert_eq!(current(), None);
        let id = RequestId::generate();
        let seen = CURRENT.scope(id.clone(), async { current() }).await;
        assert_eq!(seen, Some(id));
    }
}
