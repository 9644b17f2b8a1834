//! The `Store` trait: everything Laurel persists, behind one seam, so that
//! the SQLite store (crate `laurel-store-sqlite`) and the PostgreSQL store
//! (crate `laurel-store-postgres`) are interchangeable without touching the server.
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
//!   they count, so reading them never scans users (see [`GlobalStat`]);
//! - [`Store::users`] lists an app's users in the order of the u64 value of
//!   their Steam id on every backend, so a page cursor means the same everywhere;
//! - the imports ([`Store::import_user`], [`Store::import_key`],
//!   [`Store::import_signing_secret`]) copy what another store holds, exactly,
//!   and write only where nothing is: they never overwrite (see `laurel migrate`).
//!
//! Besides the trait and its types, what every backend shares: the
//! global-figure rules ([`figures`]), the audit log's records ([`audit`]),
//! the row codecs ([`rows`]: how values are encoded in either database) and,
//! behind the `conformance` feature, the suite every backend's tests run.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use laurel_core::leaderboard::{BoardName, LeaderboardDef};
use laurel_core::{
    ApiName, AppId, Fingerprint, IdempotencyKey, Refusal, ResetScope, Schema, StatKind, SteamId,
    StoreBatch, UnixTime, UserProgress, WriteAuthority,
};

pub mod audit;
pub mod boards;
#[cfg(feature = "conformance")]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code run by every backend's tests: a failed unwrap is a failed test, with its place"
)]
pub mod conformance;
pub mod figures;
pub mod ranks;
pub mod rows;

/// How long idempotency keys are remembered, at least.
pub const IDEMPOTENCY_RETENTION_SECONDS: i64 = 48 * 3600;
/// Length of the token-signing secret, in bytes (every backend's).
pub const SIGNING_SECRET_BYTES: usize = 32;
/// Most expired idempotency records one purge deletes, so that a purge
/// after a long downtime stays short (it holds SQLite's write lock, or a
/// PostgreSQL transaction); a full batch means more are due, and the next
/// purge runs after the next write.
pub const PURGE_BATCH_ROWS: i64 = 10_000;
/// Most store requests committed together by one fsync (group commit).
pub const MAX_GROUP_COMMIT: usize = 64;
/// Longest daily history of an aggregated stat one query returns, in days.
pub const MAX_HISTORY_DAYS: u32 = 366;
/// Seconds in a UTC day: history days start at multiples of it.
pub use laurel_core::civil::SECONDS_PER_DAY;
/// Most Steam ids one call of [`Store::users`] returns.
pub const MAX_USERS_PAGE: usize = 10_000;

/// Now, in UTC Unix milliseconds (audit records, token revocations).
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The UTC day (days since 1970-01-01) of a Unix time.
pub fn utc_day(time: UnixTime) -> i64 {
    time.div_euclid(SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(v: u64) -> SteamId {
        SteamId::new(v).expect("not 0")
    }

    #[test]
    fn id_ranges_follow_u64_order_across_the_sign_bit() {
        let top = i64::MAX as u64;
        let cases = [
            (None, [(0, i64::MAX), (i64::MIN, -1)]),
            (Some(id(1)), [(2, i64::MAX), (i64::MIN, -1)]),
            (Some(id(top)), [(1, 0), (i64::MIN, -1)]),
            (Some(id(top + 1)), [(1, 0), (i64::MIN + 1, -1)]),
            (Some(id(u64::MAX - 1)), [(1, 0), (-1, -1)]),
            (Some(id(u64::MAX)), [(1, 0), (1, 0)]),
        ];
        for (after, ranges) in cases {
            assert_eq!(stored_id_ranges_after(after), ranges, "{after:?}");
        }
    }

    #[test]
    fn a_page_is_the_first_ids_in_u64_order() {
        let stored = vec![5, i64::MAX, 2, -1, i64::MIN];
        let page = users_page(stored.clone(), 4).expect("page");
        let want = [2, 5, i64::MAX as u64, 1 << 63];
        assert_eq!(page, want.map(id));
        assert!(users_page(vec![0], 1).is_err(), "0 is no Steam id");
    }
}

pub use audit::{
    AuditDraft, AuditQuery, AuditRecord, MAX_AUDIT_PAGE, SigningSecrets, TokenRevocation,
    TokenRevocations, Undone,
};
pub use boards::{
    Board, BoardChange, BoardChanges, BoardId, BoardSummary, PeriodStart, StoredEntry, UploadReply,
    UploadRequest,
};
pub use ranks::{Download, Leaderboards, RankedEntry, RankedUpload, Scope};

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
    /// An import met something already there (the user has progress in the
    /// app, or a key has the same secret hash); nothing was written.
    #[error("{0} already exists; an import writes only where nothing is")]
    AlreadyExists(String),
    /// An import does not fit the store (a stat or achievement its schema
    /// does not define, a user at version 0, an empty secret); nothing was written.
    #[error("invalid import: {0}")]
    InvalidImport(String),
    /// What was asked for is not there (an audit record).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be carried out in the state the data is in (an
    /// undo of a reset already undone, or after later progress); nothing
    /// was written.
    #[error("{0}")]
    Conflict(String),
}

/// Parsed schemas by app, for a store's readers and writers: parsing a
/// schema's JSON again for every request would cost more than the request.
///
/// Entries only move forward (a newer version replaces an older one, never
/// the reverse): a reader that loaded version 1 just before a writer
/// committed version 2 cannot put the stale schema back. Callers check the
/// version in the database before trusting an entry for a write.
#[derive(Default)]
pub struct SchemaCache(std::sync::RwLock<std::collections::HashMap<AppId, StoredSchema>>);

impl SchemaCache {
    pub fn get(&self, app: AppId) -> Option<StoredSchema> {
        let map = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.get(&app).cloned()
    }

    pub fn offer(&self, stored: StoredSchema) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = map
            .get(&stored.app)
            .is_none_or(|have| have.version < stored.version);
        if newer {
            map.insert(stored.app, stored);
        }
    }
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

/// The first answer to an idempotency key, as every backend keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub fingerprint: Fingerprint,
    pub newly_unlocked: Vec<ApiName>,
}

impl IdempotencyRecord {
    /// From the stored fingerprint and unlocked names; a name that no longer
    /// parses means the database holds something no store wrote.
    pub fn from_stored(fingerprint: String, names: Vec<String>) -> Result<Self, StoreError> {
        let newly_unlocked = names
            .into_iter()
            .map(|name| {
                ApiName::parse(&name).map_err(|e| {
                    StoreError::Backend(format!(
                        "database holds an invalid value: unlocked name {name:?}: {e}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(IdempotencyRecord {
            fingerprint: Fingerprint::from_stored(fingerprint),
            newly_unlocked,
        })
    }

    /// The answer to `request` when its key already has this first answer:
    /// the first answer's unlocks with the user's `progress` as it is now
    /// (read only when the request is the same one), or
    /// [`StoreError::IdempotencyConflict`] for a key reused for another request.
    pub fn replay<E: From<StoreError>>(
        self,
        request: &StoreRequest,
        progress: impl FnOnce() -> Result<UserProgress, E>,
    ) -> Result<StoreReply, E> {
        if self.fingerprint != request.fingerprint {
            return Err(StoreError::IdempotencyConflict {
                key: request.idempotency_key.to_string(),
            }
            .into());
        }
        Ok(StoreReply::Applied {
            progress: progress()?,
            newly_unlocked: self.newly_unlocked,
            replayed: true,
        })
    }
}

#[derive(Debug, Clone)]
pub struct StoreRequest {
    pub app: AppId,
    pub user: SteamId,
    pub batch: StoreBatch,
    pub authority: WriteAuthority,
    /// Client-chosen; a replay with the same key returns the first answer.
    pub idempotency_key: IdempotencyKey,
    /// A digest of the request, so that a key reused for a different request is refused.
    pub fingerprint: Fingerprint,
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

/// A server key with the hash of its secret: what [`Store::stored_keys`]
/// reads and [`Store::import_key`] writes, to move keys between stores. (The
/// hash is all a store ever has: the secret itself is never stored.)
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKey {
    pub record: KeyRecord,
    pub secret_hash: String,
}

/// Checks a progress about to be imported into an app with `schema`: version
/// at least 1 (a user at version 0 has nothing stored), and every stat and
/// achievement defined by the schema, stats with the same kind. Values are
/// not checked against the schema's bounds: an import is a copy, and the
/// source may hold values from before a schema change.
pub fn check_import(
    schema: &Schema,
    app: AppId,
    user: SteamId,
    progress: &UserProgress,
) -> Result<(), StoreError> {
    let invalid = |what: String| {
        Err(StoreError::InvalidImport(format!(
            "user {user} of app {app}: {what}"
        )))
    };
    if progress.version == 0 {
        return invalid("version 0 (a user never written has nothing to import)".into());
    }
    for (name, value) in &progress.stats {
        let kind = match value {
            laurel_core::StatValue::Int(_) => StatKind::Int,
            laurel_core::StatValue::Float(_) => StatKind::Float,
            laurel_core::StatValue::AvgRate { .. } => StatKind::AvgRate,
        };
        match schema.stat(name.as_str()) {
            None => return invalid(format!("the app's schema has no stat {name}")),
            Some(def) if def.kind != kind => {
                return invalid(format!(
                    "stat {name} is {} in the app's schema, not {}",
                    def.kind.as_str(),
                    kind.as_str()
                ));
            }
            Some(def) if !value.is_finite_within_type(def) => {
                return invalid(format!("stat {name} holds {value:?}, not a finite value"));
            }
            Some(_) => {}
        }
    }
    if let Some(name) = progress
        .achievements
        .keys()
        .find(|name| schema.achievement(name.as_str()).is_none())
    {
        return invalid(format!("the app's schema has no achievement {name}"));
    }
    Ok(())
}

/// For stores that keep Steam ids bit-cast into a signed 64-bit integer
/// (`id as i64`, both backends): the two inclusive ranges of stored
/// values holding the ids after `after`, in the ids' u64 order. Ids up to
/// `i64::MAX` are stored as themselves; the ones above are stored negative,
/// and ascending among themselves too, so they come second. An empty range
/// is `(1, 0)`. Each range is one index range scan of `(app_id, steam_id)`.
pub fn stored_id_ranges_after(after: Option<SteamId>) -> [(i64, i64); 2] {
    const EMPTY: (i64, i64) = (1, 0);
    let Some(after) = after else {
        return [(0, i64::MAX), (i64::MIN, -1)];
    };
    let stored = after.get() as i64;
    if stored >= 0 {
        let first = if stored == i64::MAX {
            EMPTY
        } else {
            (stored + 1, i64::MAX)
        };
        [first, (i64::MIN, -1)]
    } else if stored == -1 {
        [EMPTY, EMPTY]
    } else {
        [EMPTY, (stored + 1, -1)]
    }
}

/// The page [`Store::users`] answers, from the stored (bit-cast) ids the
/// ranges of [`stored_id_ranges_after`] gave, each range's in ascending
/// order and at most `limit` of them: the first `limit` in u64 order.
pub fn users_page(stored: Vec<i64>, limit: usize) -> Result<Vec<SteamId>, StoreError> {
    let mut ids: Vec<u64> = stored.into_iter().map(|id| id as u64).collect();
    ids.sort_unstable();
    ids.truncate(limit);
    ids.into_iter()
        .map(|id| {
            SteamId::new(id).map_err(|_| {
                StoreError::Backend(format!("database holds an invalid value: steam id {id}"))
            })
        })
        .collect()
}

/// How many of the `known` migrations a database at layout version `found`
/// has applied; a database written by a newer build is refused rather than
/// guessed at (every backend numbers its own migrations from 1).
pub fn applied_migrations(found: i64, known: usize) -> Result<usize, StoreError> {
    match usize::try_from(found) {
        Ok(v) if v <= known => Ok(v),
        _ => Err(StoreError::Unavailable(format!(
            "the database has layout version {found}, newer than this build of Laurel \
             understands (up to {known}); run a newer Laurel or restore a backup"
        ))),
    }
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
    /// Resets a user's progress and records the reset, with the stored
    /// progress from before it, in the audit log in the same transaction.
    async fn reset(
        &self,
        app: AppId,
        user: SteamId,
        scope: ResetScope,
        now: UnixTime,
        audit: AuditDraft,
    ) -> Result<UserProgress, StoreError>;
    /// Puts back the progress a reset removed (from the reset's audit record
    /// `id`) and the global figures it moved, and records the undo; answers
    /// the reset's app and user with the restored progress as visible. Refused when the record is not a
    /// reset, is already undone, or the user was written since the reset
    /// (the undo would lose that later progress): [`StoreError::Conflict`];
    /// no such record: [`StoreError::NotFound`].
    async fn undo_reset(
        &self,
        id: i64,
        now: UnixTime,
        audit: AuditDraft,
    ) -> Result<Undone, StoreError>;
    /// Records an action in the audit log; answers its id.
    async fn record_audit(&self, draft: AuditDraft) -> Result<i64, StoreError>;
    /// A page of the audit log, newest first.
    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
    /// Refuses the tokens the revocation names (a later "not before" wins
    /// over an earlier one), and records it in the audit log (naming its app
    /// and user), in one transaction.
    async fn revoke_tokens(
        &self,
        revocation: TokenRevocation,
        audit: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Every revocation and revoked key, for the nodes' in-memory lists.
    async fn token_revocations(&self) -> Result<TokenRevocations, StoreError>;
    /// The signing secrets (creating the current one on first use).
    async fn signing_secrets(&self) -> Result<SigningSecrets, StoreError>;
    /// Makes a fresh secret current; the one it replaces verifies until
    /// `grace_until` (Unix seconds). A previous secret still in its grace
    /// period is dropped.
    async fn rotate_signing_secret(&self, grace_until: i64) -> Result<(), StoreError>;
    /// Sets a user's display name in an app (`None` removes it: the user
    /// then shows the default). The name is validated by the caller.
    async fn set_display_name(
        &self,
        app: AppId,
        user: SteamId,
        name: Option<String>,
    ) -> Result<(), StoreError>;
    /// A user's display name in an app, if one was set.
    async fn display_name(&self, app: AppId, user: SteamId) -> Result<Option<String>, StoreError>;
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
    /// The server's current token-signing secret, created on first use and
    /// shared by every node.
    async fn signing_secret(&self) -> Result<Vec<u8>, StoreError> {
        self.signing_secrets().await.map(|s| s.current)
    }
    /// Cheap check that the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// A page of the app's users (those with stored progress, version ≥ 1),
    /// ascending by the u64 value of their Steam id, after `after` (from the
    /// first when `None`); at most `limit`, clamped to [`MAX_USERS_PAGE`]. A
    /// page shorter than asked for is the last. Ids above `i64::MAX` come
    /// last on every backend, so a cursor taken from one store means the
    /// same on another.
    async fn users(
        &self,
        app: AppId,
        after: Option<SteamId>,
        limit: usize,
    ) -> Result<Vec<SteamId>, StoreError>;

    /// Writes a user's progress exactly as given: the version, every stat
    /// value bit for bit, every achievement's state with its unlock time and
    /// progress. Only for a user without stored progress in the app
    /// ([`StoreError::AlreadyExists`] otherwise); the progress must fit the
    /// app's schema ([`check_import`], else [`StoreError::InvalidImport`]).
    ///
    /// The global figures move in the same transaction as they would for
    /// that user's data: the app gains a user, each unlocked achievement one
    /// unlock, each aggregated stat the user's value. The daily history of
    /// aggregated stats does not move: it records changes on the days they
    /// happened, which the progress does not say, so an imported app's
    /// history starts empty. Nothing is recorded under any idempotency key.
    async fn import_user(
        &self,
        app: AppId,
        user: SteamId,
        progress: &UserProgress,
    ) -> Result<(), StoreError>;

    /// Every key of an app, revoked ones too, with its secret hash, by id.
    async fn stored_keys(&self, app: AppId) -> Result<Vec<StoredKey>, StoreError>;

    /// Records a key exactly as given (app, label, secret hash, creation
    /// time, revoked), and answers it as recorded. The key keeps its id when
    /// no key of this store has it, else it gets a new one (ids are the
    /// store's own; the answer says which). A key whose secret hash the store
    /// already has is [`StoreError::AlreadyExists`].
    async fn import_key(&self, key: &StoredKey) -> Result<KeyRecord, StoreError>;

    /// Makes `secret` the token-signing secret if the store has none yet.
    /// Answers whether the store's secret is now `secret`: `false` means the
    /// store already had another one, which it keeps (user tokens signed
    /// with `secret` are then not accepted by servers on this store). An
    /// empty secret is [`StoreError::InvalidImport`].
    async fn import_signing_secret(&self, secret: &[u8]) -> Result<bool, StoreError>;

    // Leaderboards (module `boards` for the invariants; ranks are not the
    // store's: `ranks::Leaderboards` keeps them in memory).

    /// An app's boards, by id, each with its entry count in its period at
    /// `now`.
    async fn leaderboards(
        &self,
        app: AppId,
        now: UnixTime,
    ) -> Result<Vec<BoardSummary>, StoreError>;
    /// The board of this name (without regard to case), if the app has one.
    async fn leaderboard(&self, app: AppId, name: &BoardName) -> Result<Option<Board>, StoreError>;
    /// The board of `def`'s name, created with `def`'s settings when the
    /// app has none; answers whether it was created. An app at
    /// [`laurel_core::limits::MAX_LEADERBOARDS_PER_APP`] boards gets
    /// [`StoreError::Conflict`] for a new one.
    async fn create_leaderboard(
        &self,
        app: AppId,
        def: &LeaderboardDef,
    ) -> Result<(Board, bool), StoreError>;
    /// Deletes a board with its entries, recorded in the audit log in the
    /// same transaction; `false` when the app has no such board.
    async fn delete_leaderboard(
        &self,
        app: AppId,
        board: BoardId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError>;
    /// Removes every entry of a board, in every period, and moves its
    /// epoch, recorded in the audit log; answers how many entries were
    /// removed. No such board: [`StoreError::NotFound`].
    async fn reset_leaderboard(
        &self,
        app: AppId,
        board: BoardId,
        audit: AuditDraft,
    ) -> Result<u64, StoreError>;
    /// Deletes a user's entry in a period (leaving a tombstone), recorded in
    /// the audit log; `false` when the user had none. No such board:
    /// [`StoreError::NotFound`].
    async fn delete_leaderboard_entry(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        user: SteamId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError>;
    /// Applies an upload (laurel_core::leaderboard::upload) to the user's
    /// entry, durably. No such board: [`StoreError::NotFound`].
    async fn upload_score(&self, request: UploadRequest) -> Result<UploadReply, StoreError>;
    /// The board's changes in `period` since `cursor` (0: every live entry
    /// and tombstone; otherwise the cursor of an earlier answer), in
    /// sequence order, with the cursor for next time. Changes answered
    /// before may come again; none committed after the earlier answer is
    /// missed (`crate::boards`). No such board: [`StoreError::NotFound`].
    async fn board_changes(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        cursor: u64,
    ) -> Result<BoardChanges, StoreError>;
    /// Replaces a user's friends list in an app (what `Friends` downloads read).
    async fn set_friends(
        &self,
        app: AppId,
        user: SteamId,
        friends: &[SteamId],
    ) -> Result<(), StoreError>;
    /// A user's friends list in an app, ascending by id; empty when never set.
    async fn friends(&self, app: AppId, user: SteamId) -> Result<Vec<SteamId>, StoreError>;
    /// Every friends list of an app that is not empty, by user (ascending
    /// by the u64 value of the user's id), each ascending by id, for
    /// `laurel migrate`.
    async fn friend_lists(&self, app: AppId) -> Result<Vec<(SteamId, Vec<SteamId>)>, StoreError>;
    /// Every live entry of a board in every period, for `laurel migrate`.
    async fn stored_entries(
        &self,
        app: AppId,
        board: BoardId,
    ) -> Result<Vec<StoredEntry>, StoreError>;
    /// Writes entries exactly as given (score, details, time, sequence
    /// number) into a board that has none in their periods; the board's
    /// sequence moves past the largest. [`StoreError::AlreadyExists`] when
    /// the board has an entry in one of their periods.
    async fn import_entries(
        &self,
        app: AppId,
        board: BoardId,
        entries: &[StoredEntry],
    ) -> Result<(), StoreError>;

    /// Whether other processes write the same database, so that anything this
    /// process remembers about a user (a cached progress snapshot) may be
    /// stale. `false` by default: the SQLite store's process owns its file;
    /// `true` for PostgreSQL, where every server node writes.
    fn shared_database(&self) -> bool {
        false
    }

    /// How the store's connection pool is used now, where it has one that
    /// can run short (PostgreSQL); `None` otherwise. For `/metrics`.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }
}

/// Connections of a store's pool, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub in_use: usize,
    pub idle: usize,
    pub max: usize,
}
