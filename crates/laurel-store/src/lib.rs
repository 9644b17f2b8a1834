//! The `Store` trait: everything Laurel persists, behind one seam, so that
//! the SQLite store (here) and the PostgreSQL store (crate
//! `laurel-store-postgres`) are interchangeable without touching the server.
//!
//! Invariants every implementation keeps:
//! - a store request is acknowledged (its future resolves `Ok`) only after it is durable;
//! - a batch is validated by [`laurel_core::apply_batch`] against the values read in
//!   the same transaction that writes it, so concurrent stores to one user serialize;
//! - a refused batch writes nothing; an idempotency key seen before (kept ≥ 24 h)
//!   returns the first answer and writes nothing; keys are scoped to one user of one app;
//! - stored values the current schema does not define (removed, or a stat whose type
//!   changed) read as absent, and come back if the schema defines them again;
//! - a reset of a user never written writes nothing and answers version 0;
//! - for an app without a schema, `schema` is `None`, `revoke_key` is `false`, and
//!   every other call about it is [`StoreError::UnknownApp`];
//! - the global figures (users per app, unlocks per achievement, totals and daily
//!   history of `aggregated` stats) change in the same transaction as the progress
//!   they count, so reading them never scans users (see [`GlobalStat`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use laurel_core::{
    ApiName, AppId, Refusal, ResetScope, Schema, StatKind, SteamId, StoreBatch, UnixTime,
    UserProgress, WriteAuthority,
};

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod sqlite;

/// How long idempotency keys are remembered, at least.
pub const IDEMPOTENCY_RETENTION_SECONDS: i64 = 48 * 3600;
/// Most store requests committed together by one fsync (group commit).
pub const MAX_GROUP_COMMIT: usize = 64;
/// Longest daily history of an aggregated stat one query returns, in days.
pub const MAX_HISTORY_DAYS: u32 = 366;
/// Seconds in a UTC day: history days start at multiples of it.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// The UTC day (days since 1970-01-01) of a Unix time.
pub fn utc_day(time: UnixTime) -> i64 {
    time.div_euclid(SECONDS_PER_DAY)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no app {0} on this server")]
    UnknownApp(AppId),
    #[error("idempotency key {key:?} was already used for a different request")]
    IdempotencyConflict { key: String },
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("storage failed: {0}")]
    Backend(String),
}

/// A schema as stored: its version increases on every change.
#[derive(Debug, Clone)]
pub struct StoredSchema {
    pub app: AppId,
    pub version: u64,
    pub schema: Arc<Schema>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppSummary {
    pub app: AppId,
    pub name: String,
    pub schema_version: u64,
    pub users: u64,
}

#[derive(Debug, Clone)]
pub struct StoreRequest {
    pub app: AppId,
    pub user: SteamId,
    pub batch: StoreBatch,
    pub authority: WriteAuthority,
    /// Client-chosen; a replay with the same key returns the first answer.
    pub idempotency_key: String,
    /// A digest of the request, so that a key reused for a different request is refused.
    pub fingerprint: String,
    pub now: UnixTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreReply {
    Applied {
        /// The user's progress after this store; for a replay, the current
        /// progress (later stores may have changed it since the first answer).
        progress: UserProgress,
        newly_unlocked: Vec<ApiName>,
        /// `true` when the key had been seen: nothing was written this time.
        replayed: bool,
    },
    Refused(Refusal),
}

/// Global unlock counts for one app, kept current on every store (no scans).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GlobalAchievements {
    /// Users with any stored progress in the app.
    pub users: u64,
    /// Users who have each achievement unlocked, by API name.
    pub unlocked: BTreeMap<String, u64>,
}

/// A total of an aggregated stat: exact for `int` stats, a double for the others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatTotal {
    Int(i64),
    Float(f64),
}

impl StatTotal {
    pub fn zero(kind: StatKind) -> StatTotal {
        match kind {
            StatKind::Int => StatTotal::Int(0),
            StatKind::Float | StatKind::AvgRate => StatTotal::Float(0.0),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            StatTotal::Int(v) => v as f64,
            StatTotal::Float(v) => v,
        }
    }
}

/// One day of an aggregated stat's history: how much its total changed that day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyChange {
    /// UTC day, as days since 1970-01-01 (see [`utc_day`]).
    pub day: i64,
    pub change: StatTotal,
}

/// Which aggregated stats [`Store::global_stats`] reads, and which days of history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GlobalStatsQuery {
    /// API names; empty means every aggregated stat of the schema. Names that
    /// are not aggregated stats of the current schema are left out of the answer.
    pub names: Vec<String>,
    /// Inclusive range of UTC days (see [`utc_day`]); at most [`MAX_HISTORY_DAYS`].
    pub history: Option<(i64, i64)>,
}

/// The global figures of one aggregated stat.
///
/// `total` is the sum over every user with stored progress in the app of the
/// user's current value (its default where the user never wrote it). Every
/// store and reset moves it by the change it makes, in its own transaction;
/// `history` holds, per UTC day, the sum of those changes (dense: a day without
/// change reads 0). A schema change of the stat's default moves the total
/// without a history entry; a stat that becomes aggregated is counted once,
/// when the schema is put, and its history starts then.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalStat {
    pub name: String,
    pub kind: StatKind,
    pub total: StatTotal,
    /// Ascending by day; empty unless asked for.
    pub history: Vec<DailyChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: i64,
    pub app: AppId,
    pub label: String,
    pub created: UnixTime,
    pub revoked: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the app or replaces its schema; returns the new schema version.
    async fn put_schema(&self, app: AppId, schema: Schema) -> Result<u64, StoreError>;
    async fn schema(&self, app: AppId) -> Result<Option<StoredSchema>, StoreError>;
    async fn apps(&self) -> Result<Vec<AppSummary>, StoreError>;
    /// A user's progress; version 0 and empty maps for a user never written.
    async fn progress(&self, app: AppId, user: SteamId) -> Result<UserProgress, StoreError>;
    async fn store(&self, request: StoreRequest) -> Result<StoreReply, StoreError>;
    async fn reset(
        &self,
        app: AppId,
        user: SteamId,
        scope: ResetScope,
    ) -> Result<UserProgress, StoreError>;
    async fn global_achievements(&self, app: AppId) -> Result<GlobalAchievements, StoreError>;
    /// Totals (and, if asked, daily history) of the app's aggregated stats, in
    /// schema order. Reads kept counters only: its cost does not grow with users.
    async fn global_stats(
        &self,
        app: AppId,
        query: GlobalStatsQuery,
    ) -> Result<Vec<GlobalStat>, StoreError>;
    /// Records a server key by the hash of its secret (the secret itself is never stored).
    async fn create_key(
        &self,
        app: AppId,
        label: &str,
        secret_hash: &str,
        now: UnixTime,
    ) -> Result<KeyRecord, StoreError>;
    async fn keys(&self, app: AppId) -> Result<Vec<KeyRecord>, StoreError>;
    /// Revokes a key; `false` if the app has no such key.
    async fn revoke_key(&self, app: AppId, id: i64) -> Result<bool, StoreError>;
    /// The live (not revoked) key with this secret hash.
    async fn find_key(&self, secret_hash: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// The server's token-signing secret, created on first use and shared by every node.
    async fn signing_secret(&self) -> Result<Vec<u8>, StoreError>;
    /// Cheap check that the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Whether other processes write the same database, so that anything this
    /// process remembers about a user (a cached progress snapshot) may be
    /// stale. `false` by default: the SQLite store's process owns its file;
    /// `true` for PostgreSQL, where every server node writes.
    fn shared_database(&self) -> bool {
        false
    }
}
