//! Laurel's HTTP service: the client API (`/api/v1`), the admin API, the
//! Steam Web API ([`steam`]), health and the OpenAPI document, over any
//! [`laurel_store::Store`].
//!
//! This is the only crate that knows HTTP. It converts wire shapes
//! ([`laurel_wire`]) to core types at the edge, and maps every failure to a
//! Steam EResult and an HTTP status in one place ([`error`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use laurel_store::{Store, StoreError};
use tokio::net::TcpListener;

pub mod auth;
pub mod cache;
pub mod connections;
pub mod envelope;
pub mod error;
mod extract;
mod handlers;
pub mod lifecycle;
pub mod log_limit;
pub mod metrics;
pub mod players;
pub mod rate_limit;
pub mod routes;
pub mod state;
pub mod steam;
pub mod tls;
pub mod tokens;

pub use auth::{generate_server_key, hash_server_key};
pub use cache::{DEFAULT_CACHE_BYTES, KEY_CACHE_TTL};
pub use connections::{
    ConnectionGate, ConnectionLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
};
pub use handlers::{MAX_KEY_LABEL_BYTES, OPENAPI_JSON};
pub use players::{CURRENT_PLAYER_WINDOW, MAX_TRACKED_PLAYERS};
pub use rate_limit::{Rate, RateLimits};
pub use routes::{
    MAX_BODY_BYTES, MAX_SCHEMA_BODY_BYTES, MAX_STEAM_FORM_BYTES, ROUTES, RouteSpec, router,
};
pub use state::{AppState, DEMO_APP_ID};
pub use tls::{ServerTls, TlsError, TlsFiles};

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
    /// Header timeout and connection caps ([`connections`]).
    pub connections: ConnectionLimits,
    /// Rate limits per credential and client address ([`rate_limit`]).
    pub rate_limits: RateLimits,
    /// Serve HTTPS with this certificate ([`tls`]); plain HTTP when `None`.
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

/// A bound, ready server. Binding happens in [`Application::build`], so the
/// caller knows the real port (`:0` in tests) before serving starts.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: axum::Router,
    connections: Arc<ConnectionGate>,
    state: AppState,
    tls: Option<Arc<ServerTls>>,
}

impl Application {
    /// Binds the listener. In dev mode, creates demo app 480 if the store does not have it.
    pub async fn build(
        config: ServerConfig,
        store: Arc<dyn Store>,
    ) -> Result<Application, ServerError> {
        config.check()?;
        if config.dev {
            tracing::warn!(
                addr = %config.listen,
                app = DEMO_APP_ID,
                "DEV MODE: anyone who reaches this server gets a token for any user of demo app \
                 {DEMO_APP_ID}; never run --dev in production"
            );
        }
        let tls = config.tls.clone();
        let state = AppState::new(&config, store).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        Ok(Application {
            listener,
            local_addr,
            connections: Arc::clone(state.connections()),
            router: router(state.clone()),
            state,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound address as a URL: `https://…` with TLS, else `http://…`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the
    /// requests in flight finish (each is bounded by the request timeout).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        tracing::info!(addr = %self.local_addr, tls = self.tls.is_some(), "laurel server listening");
        let refresh = tokio::spawn(lifecycle::refresh_tokens(self.state));
        connections::serve(
            self.listener,
            self.router,
            self.connections,
            self.tls,
            shutdown,
        )
        .await;
        refresh.abort();
        tracing::info!("laurel server stopped");
        Ok(())
    }
}

/// UTC Unix seconds. A clock before 1970 reads as 0 rather than failing a request.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
