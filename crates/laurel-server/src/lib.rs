//! Laurel's HTTP service: the client API (`/api/v1`), the admin API, the
//! Steam Web API ([`steam`]), health and the OpenAPI document, over any
//! [`laurel_store::Store`].
//!
//! This is the only crate that knows HTTP. It converts wire shapes
//! ([`laurel_wire`]) to core types at the edge, and maps every failure to a
//! Steam EResult and an HTTP status in one place ([`error`]).
//!
//! # Modules, bottom up
//!
//! No module imports one above it (`cargo xtask structure` checks that the
//! module graph has no cycle):
//!
//! - leaves: [`clock`] (the one clock read), [`request_id`], [`log_limit`],
//!   [`metrics`], [`cache`], [`players`], [`tls`], [`routes`] (the route
//!   table, data only), `steam::format` and `steam::params`;
//! - [`error`], [`auth`] (bearer parsing, key hashing, the admin gate),
//!   [`tokens`] (signing, verifying, revocations), [`rate_limit`] (the
//!   buckets), [`connections`], [`config`];
//! - [`state`] (`AppState`: the store and the per-node caches), then what
//!   reads it: `credentials` (who is calling), `admission` (the rate gate
//!   around a request), `extract` (axum extractors), `progress` (the paths
//!   both front ends share around a write);
//! - the handlers: `api::{service, client, admin}` by audience, and the
//!   Steam Web API ([`steam`]: one registry entry per method, beside its
//!   handler, grouped by interface);
//! - [`envelope`] and [`router`](router()), and at the top [`Application`].
//!
//! # A request's path, outside in
//!
//! 1. The accept loop ([`connections`]): hyper's HTTP/1 with a timer (the
//!    header-read timeout also closes idle keep-alive connections), caps on
//!    open connections in total and per client address, the TLS handshake
//!    after the caps on the connection's own task, the peer address put on
//!    the request.
//! 2. Routing, then the envelope ([`envelope`]: one hand-written tower
//!    `Service` around each route and the fallback, so it sees the matched
//!    route; `from_fn` layers box and clone the service under them per
//!    request, which the read path felt). It puts a request id in scope for
//!    every log line and error, runs the rate gate (`admission`: the client
//!    address, `X-Forwarded-For` believed only from `--trusted-proxy`
//!    networks; one GCRA bucket per request — the user token's under its
//!    app's quota, the server key's, or the address's; what it found goes
//!    to the handler as one [`rate_limit::Admitted`]), the request timeout,
//!    the handler, then the answer's headers (`X-Request-Id`, `nosniff`,
//!    `no-store`, `Connection: close` when the body was left unread), the
//!    metrics, the refusal log (at most 5 lines a second), and a failed
//!    authentication charged to the address's failure budget.
//! 3. The handler: credentials, path ids, body, then the store; an applied
//!    write goes through `progress::after_store` (the snapshot cache and the
//!    current players), whichever front end took it.
//!
//! User tokens are verified without the database ([`tokens`]): every node
//! keeps the signing secrets, the revocations and the revoked keys in
//! memory, applies its own changes at once and reloads them every 5 s, so a
//! revocation anywhere holds everywhere within 5 s.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use laurel_store::Store;
use tokio::net::TcpListener;

mod admission;
mod api;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod connections;
mod credentials;
pub mod envelope;
pub mod error;
mod extract;
pub mod log_limit;
pub mod metrics;
pub mod players;
mod progress;
pub mod rate_limit;
pub mod request_id;
pub mod router;
pub mod routes;
pub mod state;
pub mod steam;
pub mod tls;
pub mod tokens;

pub use api::admin::MAX_KEY_LABEL_BYTES;
pub use api::service::OPENAPI_JSON;
pub use auth::{generate_server_key, hash_server_key};
pub use cache::{DEFAULT_CACHE_BYTES, KEY_CACHE_TTL};
pub use config::{DEFAULT_TOKEN_TTL, MIN_ADMIN_TOKEN_CHARS, ServerConfig, ServerError};
pub use connections::{
    ConnectionGate, ConnectionLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
};
pub use players::{CURRENT_PLAYER_WINDOW, MAX_TRACKED_PLAYERS};
pub use rate_limit::{Rate, RateLimits};
pub use router::router;
pub use routes::{MAX_BODY_BYTES, MAX_SCHEMA_BODY_BYTES, ROUTES, RouteSpec};
pub use state::{AppState, DEMO_APP_ID};
pub use steam::MAX_STEAM_FORM_BYTES;
pub use tls::{ServerTls, TlsError, TlsFiles};

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
        let refresh = tokio::spawn(refresh_tokens(self.state));
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

/// Reloads secrets and revocations every [`crate::tokens::REFRESH_INTERVAL`]
/// until the process ends; a failed reload keeps what the node has.
async fn refresh_tokens(state: AppState) {
    let mut tick = tokio::time::interval(crate::tokens::REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.tokens().refresh(state.store()).await
            && crate::log_limit::refusals().is_some()
        {
            tracing::warn!(error = %e, "could not reload token secrets and revocations");
        }
    }
}
