//! How the server runs, as the CLI builds it from flags and environment, and
//! the settings it refuses to start with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use laurel_store::StoreError;

use crate::cache::DEFAULT_CACHE_BYTES;
use crate::connections::ConnectionLimits;
use crate::rate_limit::RateLimits;
use crate::tls::ServerTls;

/// How the server runs. Built by the CLI from flags and environment.
/// `Debug` shows whether an admin token is set, never the token.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Creates the demo app and issues its user tokens without a server key.
    pub dev: bool,
    /// Lets `dev` listen on an address other than loopback.
    pub dev_allow_remote: bool,
    /// Enables the admin API; `None` answers every admin route with 403.
    pub admin_token: Option<String>,
    /// Longest a request may take before it is answered with 504 (EResult 16).
    pub request_timeout: Duration,
    /// Lifetime of the user tokens this server issues.
    pub token_ttl: Duration,
    /// Serve reads from an in-memory snapshot of each user's progress.
    ///
    /// The cache sees only writes made through this process, so it is off
    /// whatever this says when the store is shared by several nodes
    /// ([`laurel_store::Store::shared_database`]). Turn it off too when other
    /// processes write a SQLite database while the server runs.
    pub progress_cache: bool,
    /// Bytes the progress snapshot cache may hold.
    pub cache_bytes: usize,
    /// Header timeout and connection caps ([`crate::connections`]).
    pub connections: ConnectionLimits,
    /// Rate limits per credential and client address ([`crate::rate_limit`]).
    pub rate_limits: RateLimits,
    /// Serve HTTPS with this certificate ([`crate::tls`]); plain HTTP when `None`.
    pub tls: Option<Arc<ServerTls>>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("dev", &self.dev)
            .field("dev_allow_remote", &self.dev_allow_remote)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("request_timeout", &self.request_timeout)
            .field("token_ttl", &self.token_ttl)
            .field("progress_cache", &self.progress_cache)
            .field("cache_bytes", &self.cache_bytes)
            .field("connections", &self.connections)
            .field("rate_limits", &self.rate_limits)
            .field("tls", &self.tls.as_ref().map(|tls| tls.files()))
            .finish()
    }
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            dev: false,
            dev_allow_remote: false,
            admin_token: None,
            request_timeout: Duration::from_secs(30),
            token_ttl: DEFAULT_TOKEN_TTL,
            progress_cache: true,
            cache_bytes: DEFAULT_CACHE_BYTES,
            connections: ConnectionLimits::default(),
            rate_limits: RateLimits::default(),
            tls: None,
        }
    }
}

/// Lifetime of the user tokens a server mints unless told otherwise
/// (`--token-ttl`): a day, so that a leaked token is worth little; the
/// game's backend mints a new one for each play session.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Shortest admin token accepted: a token is a password that unlocks every
/// app, and a short one falls to guessing.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

impl ServerConfig {
    /// Refuses settings that would expose the server: dev mode (tokens for
    /// anyone) reachable from other machines, or a guessable admin token.
    pub fn check(&self) -> Result<(), ServerError> {
        if self.dev && !self.listen.ip().is_loopback() && !self.dev_allow_remote {
            return Err(ServerError::Config(format!(
                "--dev issues tokens to anyone and must not listen on {}: use a loopback \
                 address (127.0.0.1 or [::1]), or add --dev-allow-remote if you really mean it",
                self.listen
            )));
        }
        if let Some(token) = &self.admin_token
            && token.chars().count() < MIN_ADMIN_TOKEN_CHARS
        {
            return Err(ServerError::Config(format!(
                "the admin token has {} characters; it must have at least \
                 {MIN_ADMIN_TOKEN_CHARS} (for example: `openssl rand -hex 32`)",
                token.chars().count()
            )));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("refusing to start: {0}")]
    Config(String),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, dev: bool, remote: bool, admin: Option<&str>) -> ServerConfig {
        let mut c = ServerConfig::new(listen.parse().expect("address"));
        c.dev = dev;
        c.dev_allow_remote = remote;
        c.admin_token = admin.map(str::to_owned);
        c
    }

    #[test]
    fn debug_output_never_shows_the_admin_token() {
        let token = "a-secret-admin-token-of-forty-characters!";
        let shown = format!("{:?}", config("127.0.0.1:0", false, false, Some(token)));
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn dev_mode_stays_on_loopback_unless_told_and_admin_tokens_are_long() {
        let long = "x".repeat(MIN_ADMIN_TOKEN_CHARS);
        let short = "x".repeat(MIN_ADMIN_TOKEN_CHARS - 1);
        for (listen, dev, remote, admin, ok) in [
            ("127.0.0.1:0", true, false, None, true),
            ("[::1]:0", true, false, None, true),
            ("0.0.0.0:0", true, false, None, false),
            ("0.0.0.0:0", true, true, None, true),
            ("192.0.2.1:0", false, false, None, true),
            ("127.0.0.1:0", false, false, Some(long.as_str()), true),
            ("127.0.0.1:0", false, false, Some(short.as_str()), false),
        ] {
            let checked = config(listen, dev, remote, admin).check();
            assert_eq!(
                checked.is_ok(),
                ok,
                "{listen} {dev} {remote} {admin:?}: {checked:?}"
            );
        }
    }
}
