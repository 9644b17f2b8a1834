//! The id of one request, shown in its answer (`X-Request-Id`), in the log
//! lines about it, and in place of internal error text.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderName;

/// The id of one request: 16 hex digits, unique within a process run and
/// unlikely to repeat across runs (the counter starts at a random value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    pub(crate) fn next() -> RequestId {
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
    pub(crate) fn hex(self) -> [u8; 16] {
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

impl RequestId {
    /// Runs `work` as the request `self`: [`RequestId::current`] answers it.
    pub(crate) async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }
}

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

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
