//! Where the SDK reads the time.

/// UTC Unix seconds: the SDK's one clock read, at its edge (the calls and
/// the worker); the state's transitions take the time they are given.
pub(crate) fn now() -> laurel_core::UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
