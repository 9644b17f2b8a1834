//! What every answer carries, whatever route made it: a request id (also in
//! the log lines about the request, and in place of internal error text),
//! `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`
//! (answers hold one user's progress or a credential and must not be kept by
//! a shared cache).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

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

fn status_needs_close(status: axum::http::StatusCode) -> bool {
    status == axum::http::StatusCode::PAYLOAD_TOO_LARGE
}

/// The outermost layer: numbers the request, runs it with its id in scope,
/// and adds the common headers to its answer.
pub async fn envelope(mut request: Request, next: Next) -> Response {
    let id = RequestId::next();
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let method = request.method().clone();
    request.extensions_mut().insert(id);
    let mut response = CURRENT.scope(id, next.run(request)).await;
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
    // A body refused for its size was not read to its end: the connection
    // cannot carry another request, and the client must not try one on it.
    if status_needs_close(response.status()) {
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
