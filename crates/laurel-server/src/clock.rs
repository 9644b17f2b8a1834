//! Where the server reads the time: everything below takes it as an argument.

use std::time::{SystemTime, UNIX_EPOCH};

/// UTC Unix seconds. A clock before 1970 reads as 0 rather than failing a request.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
