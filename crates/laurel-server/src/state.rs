//! What every handler shares: the store, the token signer, the caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use laurel_core::schema_doc::demo_schema;
use laurel_core::{AppId, Schema};
use laurel_store::{Leaderboards, Store, StoredSchema};

use crate::auth::AdminGate;
use crate::cache::{KeyCache, ProgressCache};
use crate::config::{ServerConfig, ServerError};
use crate::connections::ConnectionGate;
use crate::players::PlayerActivity;
use crate::rate_limit::{Rate, RateGate};
use crate::tokens::TokenAuthority;

/// How long a cached schema is used before the store is asked again, so that
/// a schema written by another process (CLI import, another node) is seen
/// within this time; its new version then also retires the cached progress.
pub const SCHEMA_CACHE_TTL: Duration = Duration::from_secs(5);

/// The id of the demo app that `--dev` creates.
pub const DEMO_APP_ID: u32 = 480;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    dev: bool,
    request_timeout: Duration,
    token_ttl: Duration,
    tokens: TokenAuthority,
    admin: AdminGate,
    keys: KeyCache,
    /// `None` when the snapshot cache is off (multi-node deployments).
    progress: Option<ProgressCache>,
    /// Schemas by app with the time they were fetched, for
    /// [`SCHEMA_CACHE_TTL`]; off when the operator turned the caches off.
    /// Kept with a shared database too: a schema put through another node
    /// reaches this one's answers within the TTL, while writes are always
    /// validated against the schema read in their own transaction.
    schemas: Option<RwLock<HashMap<AppId, (StoredSchema, Instant)>>>,
    /// Who fetched or stored progress recently ("current players").
    players: PlayerActivity,
    rate_gate: RateGate,
    connections: Arc<ConnectionGate>,
    /// Unlock percentages per app, computed from the store's counters, kept
    /// for [`GLOBAL_PERCENTAGES_TTL`]: the hot public read costs a map lookup.
    percentages: Mutex<HashMap<AppId, (Instant, Arc<GlobalPercentages>)>>,
    /// This node's rank index of every board it serves.
    leaderboards: Leaderboards,
}

/// How long computed unlock percentages are served before the counters are
/// read again (so the Steam answer lags the exact counters by at most this).
pub const GLOBAL_PERCENTAGES_TTL: Duration = Duration::from_secs(1);

/// Unlock percentages of an app's achievements, in schema order, for one schema version.
#[derive(Debug)]
pub struct GlobalPercentages {
    pub schema_version: u64,
    pub users: u64,
    /// (API name, unlocked users, percent 0–100).
    pub achievements: Vec<(String, u64, f64)>,
}

impl AppState {
    /// Fetches the signing secret once (every node shares it through the store)
    /// and, in dev mode, creates the demo app if the store lacks it.
    pub async fn new(
        config: &ServerConfig,
        store: Arc<dyn Store>,
    ) -> Result<AppState, ServerError> {
        let secrets = store.signing_secrets().await?;
        let revocations = store.token_revocations().await?;
        if config.dev {
            let app = AppId::new(DEMO_APP_ID).map_err(|e| ServerError::Internal(e.to_string()))?;
            if store.schema(app).await?.is_none() {
                store.put_schema(app, demo_schema()).await?;
                tracing::info!(app = DEMO_APP_ID, "dev mode: created the demo app");
            }
        }
        // Other nodes write a shared database: a snapshot kept here would
        // miss their stores, so every read goes to the database.
        let progress_cache = config.progress_cache && !store.shared_database();
        if config.progress_cache && !progress_cache {
            tracing::info!("shared database: progress snapshots are not cached in this node");
        }
        Ok(AppState {
            inner: Arc::new(Inner {
                store,
                dev: config.dev,
                request_timeout: config.request_timeout,
                token_ttl: config.token_ttl,
                tokens: TokenAuthority::new(&secrets, revocations),
                admin: AdminGate::new(config.admin_token.as_deref()),
                keys: KeyCache::default(),
                progress: progress_cache.then(|| ProgressCache::new(config.cache_bytes)),
                schemas: config.progress_cache.then(|| RwLock::new(HashMap::new())),
                players: PlayerActivity::default(),
                rate_gate: RateGate::new(config.rate_limits.clone()),
                connections: Arc::new(ConnectionGate::new(config.connections.clone())),
                percentages: Mutex::new(HashMap::new()),
                leaderboards: Leaderboards::new(),
            }),
        })
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }
    pub fn dev(&self) -> bool {
        self.inner.dev
    }
    /// Whether dev mode's shortcuts (tokens without a key, anonymous reads)
    /// apply to `app`: only the demo app has them, never an app of the
    /// operator's that shares the database.
    pub fn dev_app(&self, app: AppId) -> bool {
        self.inner.dev && app.get() == DEMO_APP_ID
    }
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }
    pub fn token_ttl(&self) -> Duration {
        self.inner.token_ttl
    }
    pub fn tokens(&self) -> &TokenAuthority {
        &self.inner.tokens
    }
    pub fn admin(&self) -> &AdminGate {
        &self.inner.admin
    }
    pub fn key_cache(&self) -> &KeyCache {
        &self.inner.keys
    }
    pub fn progress_cache(&self) -> Option<&ProgressCache> {
        self.inner.progress.as_ref()
    }
    pub fn players(&self) -> &PlayerActivity {
        &self.inner.players
    }
    pub fn rate_gate(&self) -> &RateGate {
        &self.inner.rate_gate
    }
    pub fn connections(&self) -> &Arc<ConnectionGate> {
        &self.inner.connections
    }
    pub fn leaderboards(&self) -> &Leaderboards {
        &self.inner.leaderboards
    }

    /// The rate limit of `app`'s user tokens: the app's own where its schema
    /// sets one, the server's otherwise (also when the app is unknown or its
    /// schema cannot be read: the request then fails on its own).
    pub async fn user_rate(&self, app: AppId) -> Rate {
        // With the schema cache on, the rates were noted when the schemas
        // were read: no lookup per request.
        if self.inner.schemas.is_some() {
            return self.inner.rate_gate.noted_app_rate(app);
        }
        let default = self.inner.rate_gate.limits().user;
        match self.schema(app).await {
            Ok(Some(stored)) => {
                let settings = stored.schema.settings();
                Rate {
                    per_second: settings
                        .user_requests_per_second
                        .unwrap_or(default.per_second),
                    burst: settings.user_request_burst.unwrap_or(default.burst),
                }
            }
            _ => default,
        }
    }

    /// The app's unlock percentages, from memory when computed less than
    /// [`GLOBAL_PERCENTAGES_TTL`] ago for the same schema version.
    pub async fn global_percentages(
        &self,
        stored: &StoredSchema,
    ) -> Result<Arc<GlobalPercentages>, laurel_store::StoreError> {
        let app = stored.app;
        {
            let cached = self
                .inner
                .percentages
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((at, p)) = cached.get(&app)
                && at.elapsed() < GLOBAL_PERCENTAGES_TTL
                && p.schema_version == stored.version
            {
                return Ok(Arc::clone(p));
            }
        }
        let global = self.inner.store.global_achievements(app).await?;
        let achievements = stored
            .schema
            .achievements()
            .iter()
            .map(|a| {
                let n = global.unlocked.get(a.name.as_str()).copied().unwrap_or(0);
                let percent = if global.users == 0 {
                    0.0
                } else {
                    n as f64 * 100.0 / global.users as f64
                };
                (a.name.to_string(), n, percent)
            })
            .collect();
        let computed = Arc::new(GlobalPercentages {
            schema_version: stored.version,
            users: global.users,
            achievements,
        });
        self.inner
            .percentages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(app, (Instant::now(), Arc::clone(&computed)));
        Ok(computed)
    }

    /// The app's schema, from memory when the caches are on.
    pub async fn schema(
        &self,
        app: AppId,
    ) -> Result<Option<StoredSchema>, laurel_store::StoreError> {
        let Some(schemas) = &self.inner.schemas else {
            return self.inner.store.schema(app).await;
        };
        if let Some((s, at)) = read(schemas).get(&app)
            && at.elapsed() < SCHEMA_CACHE_TTL
        {
            return Ok(Some(s.clone()));
        }
        let fetched = self.inner.store.schema(app).await?;
        if let Some(s) = &fetched {
            self.remember_schema(s.clone());
        }
        Ok(fetched)
    }

    /// Replaces an app's schema and forgets everything built on the old one.
    pub async fn put_schema(
        &self,
        app: AppId,
        schema: Schema,
    ) -> Result<u64, laurel_store::StoreError> {
        let schema = Arc::new(schema);
        let version = self
            .inner
            .store
            .put_schema(app, Schema::clone(&schema))
            .await?;
        self.remember_schema(StoredSchema {
            app,
            version,
            schema,
        });
        if let Some(progress) = &self.inner.progress {
            progress.invalidate_app(app);
        }
        Ok(version)
    }

    /// Keeps the newest version: a read that fetched an old schema while it was
    /// being replaced must not win over the replacement.
    fn remember_schema(&self, s: StoredSchema) {
        let Some(schemas) = &self.inner.schemas else {
            return;
        };
        let mut schemas = schemas.write().unwrap_or_else(PoisonError::into_inner);
        match schemas.get(&s.app) {
            Some((old, _)) if old.version > s.version => {}
            _ => {
                let settings = s.schema.settings();
                self.inner.rate_gate.note_app_rate(
                    s.app,
                    settings.user_requests_per_second,
                    settings.user_request_burst,
                );
                schemas.insert(s.app, (s, Instant::now()));
            }
        }
    }
}

fn read(
    schemas: &RwLock<HashMap<AppId, (StoredSchema, Instant)>>,
) -> std::sync::RwLockReadGuard<'_, HashMap<AppId, (StoredSchema, Instant)>> {
    schemas.read().unwrap_or_else(PoisonError::into_inner)
}
