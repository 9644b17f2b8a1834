//! Log lines an attack could repeat as fast as it sends, kept to a few per
//! second, with a count of what was left out, so that an attack cannot turn
//! the log into a full disk (issue 12: one token produced 156 MB of WARN
//! lines).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Refusals an attack can repeat as fast as it sends (failed requests,
/// unknown routes, health checks of a database that is down): at most this
/// many lines a second, shared by all of them, each saying how many were
/// left out since.
pub const REFUSAL_LOG_LINES_PER_SECOND: u32 = 5;

static REFUSALS: std::sync::LazyLock<LogLimit> = std::sync::LazyLock::new(|| {
    LogLimit::new(REFUSAL_LOG_LINES_PER_SECOND, Duration::from_secs(1))
});

/// [`LogLimit::allow`] for the refusal log lines.
pub fn refusals() -> Option<u64> {
    REFUSALS.allow()
}

/// At most `lines` lines per `period`.
#[derive(Debug)]
pub struct LogLimit {
    lines: u32,
    period: Duration,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    written: u32,
    suppressed: u64,
}

impl LogLimit {
    pub fn new(lines: u32, period: Duration) -> LogLimit {
        LogLimit {
            lines,
            period,
            state: Mutex::new(Window {
                started: Instant::now(),
                written: 0,
                suppressed: 0,
            }),
        }
    }

    /// One line a second.
    pub fn per_second() -> LogLimit {
        LogLimit::new(1, Duration::from_secs(1))
    }

    /// `Some(lines left out since the last one written)` when a line may be
    /// written now; `None` when it must be left out (and is counted).
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut w = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(w.started) >= self.period {
            w.started = now;
            w.written = 0;
        }
        if w.written < self.lines {
            w.written += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_per_period_and_the_count_of_what_was_left_out() {
        let limit = LogLimit::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limit.allow_at(t0), Some(0));
        assert_eq!(limit.allow_at(t0), Some(0));
        for _ in 0..5 {
            assert_eq!(limit.allow_at(t0 + Duration::from_millis(500)), None);
        }
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(1)), Some(5));
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(1)), Some(0));
    }
}
