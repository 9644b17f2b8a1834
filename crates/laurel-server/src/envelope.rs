//! What every answer carries, whatever route made it: a request id (also in
//! the log lines about the request, and in place of internal error text),
//! `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`
//! (answers hold one user's progress or a credential and must not be kept by
//! a shared cache).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The id of one request: 16 hex digits, unique within a process run and
/// unlikely to repeat across runs (the counter starts at a random value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    fn next() -> RequestId {
        // The first caller seeds the counter; a lost race only means two
        // seeds were drawn, and the ids stay unique either way.
        if NEXT_ID.load(Ordering::Relaxed) == 0 {
            let mut seed = [0u8; 8];
            let seed = getrandom::fill(&mut seed).map_or(1, |()| u64::from_le_bytes(seed) | 1);
            let _ = NEXT_ID.compare_exchange(0, seed, Ordering::Relaxed, Ordering::Relaxed);
        }
        RequestId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// The id of the request being answered on this task, if any.
    pub fn current() -> Option<RequestId> {
        CURRENT.try_with(|id| *id).ok()
    }
}

impl RequestId {
    /// The 16 hex digits, without an allocation (one per answer).
    fn hex(self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = DIGITS[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        out
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A request body that notes when it was read to its end.
struct Tracked {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps a body that has something left to read, so that the answer can
/// tell whether it was read; `None` when there is nothing to read.
fn track(request: Request) -> (Request, Option<Arc<AtomicBool>>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let ended = Arc::new(AtomicBool::new(false));
    let (parts, inner) = request.into_parts();
    let body = Body::new(Tracked {
        inner,
        ended: Arc::clone(&ended),
    });
    (Request::from_parts(parts, body), Some(ended))
}

/// The outermost layer: numbers the request, runs it with its id in scope
/// through the rate gate ([`crate::rate_limit::rate_gate`]), and adds the
/// common headers to its answer.
pub async fn envelope(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (request, body_ended) = track(request);
    let id = RequestId::next();
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let method = request.method().clone();
    let mut response = CURRENT
        .scope(id, crate::rate_limit::rate_gate(&state, request, next))
        .await;
    crate::metrics::request(
        route.as_ref().map(axum::extract::MatchedPath::as_str),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_bytes(&id.hex()) {
        headers.insert(REQUEST_ID_HEADER.clone(), value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    // A body that was not read to its end (refused for its size, or before
    // it was needed: a bad credential, a spent quota) leaves the connection
    // unable to carry another request: hyper closes it once the answer is
    // written, and the client must be told not to send one more on it.
    if body_ended.is_some_and(|ended| !ended.load(Ordering::Relaxed)) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_hex() {
        let a = RequestId::next();
        let b = RequestId::next();
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 16);
        assert!(a.to_string().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.hex().as_slice(), a.to_string().as_bytes());
    }
}
