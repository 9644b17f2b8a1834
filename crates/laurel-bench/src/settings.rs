//! Fixed settings shared by the foundation bench and the PostgreSQL bench.

use std::time::Duration;

/// Unmeasured start of every phase, so the figures are of a warmed-up server.
pub(crate) const WARMUP: Duration = Duration::from_secs(1);
/// Longest a started server may take to print that it listens.
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The admin token the bench's Laurel servers are started with.
pub(crate) const ADMIN_TOKEN: &str = "laurel-bench-admin-token-0123456789";
/// Client `i` is this user plus `i`, in HTTP and in pgbench alike.
pub(crate) const FIRST_STEAM_ID: u64 = 76_561_198_000_000_000;
/// The dev-mode demo app, whose sessions need no server key.
pub(crate) const DEMO_APP: u32 = 480;
