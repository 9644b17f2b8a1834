//! The SQLite store: one database file in WAL mode with `synchronous=FULL`,
//! one writer thread doing group commit, and a small pool of read-only
//! connections.
//!
//! # Tables
//!
//! | table | key | holds |
//! |---|---|---|
//! | `meta` | `key` | server-wide values: the token-signing secret, `idempotency_indexed_seq` |
//! | `apps` | `app_id` | the schema (JSON of `Schema::to_doc`), `schema_version`, the game's `name`, and `users`: how many users have any stored progress |
//! | `users` | `(app_id, steam_id)` | the user's progress `version`; no row means version 0 |
//! | `stats` | `(app_id, steam_id, name)` | `kind` (0 int, 1 float, 2 avgrate) and its value columns `int_value`, `float_value`, or `avg_count` + `avg_seconds` |
//! | `achievements` | `(app_id, steam_id, name)` | `unlocked`, `unlock_time`, `progress_current`, `progress_max` |
//! | `achievement_unlocks` | `(app_id, name)` | `users` who have the achievement unlocked |
//! | `idempotency` | `seq` (arrival order) | a log of first answers: `app_id`, `steam_id`, `idem_key`, `fingerprint`, `version`, `newly_unlocked` (JSON), `created` |
//! | `idempotency_keys` | `(app_id, steam_id, idem_key)` | the log's `seq`, for records up to `meta.idempotency_indexed_seq`; later ones are indexed in the writer's memory and moved here in sorted batches (`idempotency.rs`) |
//! | `keys` | `id` | server keys: `app_id`, `label`, `secret_hash` (unique), `created`, `revoked` |
//! | `stat_totals` | `(app_id, name, kind)` | per aggregated stat: `value_rows` (users with a stored value), `int_sum` / `float_sum` of those values |
//! | `stat_history` | `(app_id, name, kind, day)` | per aggregated stat and UTC day: `int_change` / `float_change` of its total |
//!
//! Only rows that differ from the schema defaults exist: a store writes the
//! stats and achievements it changed, nothing else. Steam ids are u64 and
//! SQLite integers i64, so ids are stored bit-cast (`as i64`). The layout is
//! versioned by `PRAGMA user_version` (see `migrations.rs`); a database from a
//! newer build is refused rather than guessed at. Idempotency keys are scoped
//! to one user of one app: two players' clients may pick the same key.
//!
//! The global figures (`apps.users`, `achievement_unlocks.users`,
//! `stat_totals`, `stat_history`) are kept exact in the transaction that
//! changes a user, so reading them is a point query, never a scan: a user
//! counts once their version goes from 0 to 1, an unlock adds one, a clear or
//! a reset with achievements takes one away; a change of an aggregated stat
//! moves its sum by new − old and adds the change of the total to the day's
//! history. The total of a stat is `sum + default × (users − value_rows)`, so
//! users who never wrote it count with its default without a row each, and a
//! new default applies at once. A stat that becomes aggregated is counted
//! from its rows when the schema is put (the one scan, on a rare admin write).
//!
//! # Writes: one writer thread, group commit
//!
//! SQLite allows one writer at a time and a durable commit costs an fsync, so
//! the fsync, not the disk's bandwidth, bounds one-commit-per-request writes.
//! Every write therefore goes to one thread owning the only write connection,
//! over a bounded channel (a full queue makes senders wait: backpressure).
//! The thread takes the first queued command, then whatever stores and resets
//! are already queued behind it, up to `max_group_commit`, and runs them in
//! one `BEGIN IMMEDIATE … COMMIT`:
//!
//! ```text
//! callers ──(store, reset)──▶ queue ──▶ writer thread
//!                                        BEGIN IMMEDIATE
//!                                          SAVEPOINT; check key; user's progress; apply_batch; write; RELEASE
//!                                          SAVEPOINT; …                    (one per request)
//!                                          global figures: each moved row written once
//!                                        COMMIT  (fsync: synchronous=FULL)
//!                                        reply to every request of the group
//! ```
//!
//! Each request runs in its own savepoint, so a database error in one rolls
//! back that one only, and a request sees the writes of the requests before
//! it in the group (two stores to one user serialize, even in one group).
//! Nobody hears back before COMMIT returns: an acknowledged write is durable.
//! Rare writes (schemas, keys, the signing secret) run alone, in queue order.
//! Imports of users (`laurel migrate`) are group items like stores, so a
//! migration's users share commits too.
//!
//! The writer keeps the progress it last wrote for recent users, so a store
//! reads no rows back; `PRAGMA data_version` tells it when another process
//! wrote the file. The global figures a group moves are summed in memory and
//! each counter row is written once per group (the `figures` module).
//!
//! # Checkpoints
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold and is the source of the worst write latencies, so it is off
//! (`wal_autocheckpoint=0`) and the writer thread checkpoints itself, between
//! groups:
//! - when the queue has run empty (nobody is waiting) and at least
//!   `checkpoint_idle_commits` commits are in the WAL: a `PASSIVE` checkpoint,
//!   which never waits for readers;
//! - under sustained load, when the queue never empties, a `PASSIVE`
//!   checkpoint every `checkpoint_max_commits` commits anyway, so the WAL and
//!   the cost of the next checkpoint stay bounded;
//! - when idle and the WAL file has grown past `wal_truncate_bytes` (readers
//!   kept a passive checkpoint from finishing), a `TRUNCATE` checkpoint with a
//!   short busy timeout shrinks it back to zero; and one at shutdown.
//!
//! # Reads
//!
//! Reads run on read-only connections from a small pool, inside
//! `spawn_blocking`. Parsed schemas are cached by app; the writer puts a new
//! schema in the cache when `put_schema` commits. The writer itself checks the
//! cached version against the database before validating a batch, so a schema
//! changed by another process is used for writes at once (reads see it after a
//! restart).
//!
//! ```no_run
//! # async fn example() -> Result<(), laurel_store::StoreError> {
//! use laurel_store::Store;
//! use laurel_store_sqlite::{SqliteOptions, SqliteStore};
//!
//! let store = SqliteStore::open("laurel-data/laurel.db".as_ref(), SqliteOptions::default())?;
//! store.health().await?;
//! store.close().await?; // or drop it: queued writes finish either way
//! # Ok(()) }
//! ```

mod figures;
mod idempotency;
mod migrations;
mod read_pool;
mod rows;
mod writer;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use laurel_core::{AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use self::read_pool::ReadPool;
use self::rows::{
    Context, SchemaCache, app_from_sql, app_sql, count, load_global_stats, load_progress,
    load_schema, revoked_user, visible,
};
use self::writer::{Command, GroupItem, Reply, SingleCommand, WriterConfig, WriterCounters};
use laurel_store::rows::AuditRow;
use laurel_store::{
    AppSummary, GlobalAchievements, GlobalStat, GlobalStatsQuery, KeyRecord, MAX_GROUP_COMMIT,
    MAX_USERS_PAGE, Store, StoreError, StoreReply, StoreRequest, StoredKey, StoredSchema,
    stored_id_ranges_after, users_page,
};
use laurel_store::{
    AuditDraft, AuditQuery, AuditRecord, MAX_AUDIT_PAGE, SigningSecrets, TokenRevocation,
    TokenRevocations, Undone,
};

/// The database layout version this build writes (`PRAGMA user_version`).
pub const LAYOUT_VERSION: u32 = migrations::MIGRATIONS.len() as u32;

/// Most read-only connections a store opens.
pub const MAX_READ_CONNECTIONS: usize = 64;
/// Most write commands that may wait for the writer thread.
pub const MAX_WRITE_QUEUE: usize = 65_536;

/// Tuning of a [`SqliteStore`]. Out-of-range values are clamped to the
/// nearest allowed one (see each field), so any value opens a working store.
#[derive(Debug, Clone, PartialEq)]
pub struct SqliteOptions {
    /// Read-only connections (1..=[`MAX_READ_CONNECTIONS`]).
    pub read_connections: usize,
    /// Most stores and resets committed together (1..=[`MAX_GROUP_COMMIT`]).
    pub max_group_commit: usize,
    /// Write commands that may wait for the writer thread before senders
    /// wait too (1..=[`MAX_WRITE_QUEUE`]).
    pub write_queue: usize,
    /// How long a connection waits for a lock another process holds.
    pub busy_timeout: Duration,
    /// Checkpoint when the queue runs empty and at least this many commits
    /// are in the WAL (at least 1).
    pub checkpoint_idle_commits: u32,
    /// Checkpoint after this many commits even if the queue never runs empty
    /// (at least 1).
    pub checkpoint_max_commits: u32,
    /// Above this WAL size, an idle checkpoint truncates the WAL file.
    pub wal_truncate_bytes: u64,
    /// Least time between two purges of expired idempotency keys.
    pub idempotency_purge_interval: Duration,
    /// Longest the writer waits for more stores to join a group (PostgreSQL's
    /// `commit_delay`); it waits only while fewer are queued than joined the
    /// last group. Zero turns the wait off (at most [`MAX_COMMIT_DELAY`]).
    pub commit_delay: Duration,
    /// Idempotency keys recorded before they are moved into their index in
    /// one sorted batch (1..=[`MAX_IDEMPOTENCY_INDEX_BATCH`]); until then the
    /// writer finds them in memory. See `sqlite/idempotency.rs`.
    pub idempotency_index_batch: usize,
    /// Keep the global figures current on every store and reset (users,
    /// unlock counts, aggregated stat totals and their daily history).
    ///
    /// **For benchmarks only**: with `false` the global figures are wrong from
    /// the first store on. It exists so that one run can measure what keeping
    /// them costs (`laurel-bench-global`).
    pub maintain_global_figures: bool,
}

/// Upper bound of [`SqliteOptions::idempotency_index_batch`]: each pending
/// key costs the writer ~100 bytes of memory.
pub const MAX_IDEMPOTENCY_INDEX_BATCH: usize = 1 << 20;

/// Upper bound of [`SqliteOptions::commit_delay`]: a store never waits longer than this for company.
pub const MAX_COMMIT_DELAY: Duration = Duration::from_millis(5);

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            read_connections: 4,
            max_group_commit: MAX_GROUP_COMMIT,
            write_queue: 1_024,
            busy_timeout: Duration::from_secs(5),
            checkpoint_idle_commits: 8,
            checkpoint_max_commits: 256,
            wal_truncate_bytes: 64 * 1024 * 1024,
            idempotency_purge_interval: Duration::from_secs(60),
            commit_delay: Duration::from_micros(500),
            idempotency_index_batch: 8_192,
            maintain_global_figures: true,
        }
    }
}

/// What the writer thread has done since the store was opened: for metrics,
/// and to see group commit at work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Group transactions committed.
    pub groups: u64,
    /// Stores and resets committed in those groups.
    pub grouped_requests: u64,
    /// The most requests one group has committed.
    pub largest_group: u64,
    /// WAL checkpoints the writer has started, of any mode.
    pub checkpoints: u64,
    /// Of those, the TRUNCATE ones.
    pub truncations: u64,
}

/// The SQLite implementation of [`Store`].
///
/// Dropping it, like [`SqliteStore::close`], lets the writer finish every
/// queued write before the file is closed; the drop blocks the current thread
/// until then, so async code that can should `close().await` first.
pub struct SqliteStore {
    path: PathBuf,
    /// `None` only while dropping: the writer exits once the channel is drained.
    commands: Option<mpsc::Sender<Command>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    reads: Arc<ReadPool>,
    schemas: Arc<SchemaCache>,
    counters: Arc<WriterCounters>,
    closed: AtomicBool,
}

fn closed_error() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

/// The database holds the token-signing secret: its folder is created 0700
/// and its file 0600 (SQLite gives its `-wal` and `-shm` files the database
/// file's mode), and looser modes found on existing ones are reported.
mod private_files {
    use std::path::Path;

    use laurel_store::StoreError;

    /// Group and other permission bits.
    #[cfg(unix)]
    const SHARED_BITS: u32 = 0o077;

    pub(super) fn prepare(path: &Path) -> Result<(), StoreError> {
        let failed = |what: &str, at: &Path, e: std::io::Error| {
            StoreError::Backend(format!("{what} {}: {e}", at.display()))
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            if !parent.exists() {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder
                    .create(parent)
                    .map_err(|e| failed("creating directory", parent, e))?;
            }
            warn_if_shared(parent, "data directory", "chmod 700");
        }
        if !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(_) => {}
                // Another process created it in between: theirs is used as it is.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(failed("creating database", path, e)),
            }
        }
        warn_if_shared(path, "database file", "chmod 600");
        Ok(())
    }

    #[cfg(unix)]
    fn warn_if_shared(path: &Path, what: &str, fix: &str) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & SHARED_BITS != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "the {what} is readable by other users of this machine and holds the \
                     token-signing secret; run `{fix}` on it"
                );
            }
        }
    }

    #[cfg(not(unix))]
    fn warn_if_shared(_: &Path, _: &str, _: &str) {}
}

impl SqliteStore {
    /// Opens (or creates, with its parent directory) the database at `path`
    /// and brings its layout up to date.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        private_files::prepare(path)?;
        let mut conn =
            Connection::open(path).context(&format!("opening database {}", path.display()))?;
        configure_writer(&conn, options.busy_timeout)?;
        migrations::migrate(&mut conn)?;

        let reads = Arc::new(ReadPool::open(
            path.to_owned(),
            options.read_connections.clamp(1, MAX_READ_CONNECTIONS),
            options.busy_timeout,
        )?);
        let schemas = Arc::new(SchemaCache::default());
        let (sender, receiver) = mpsc::channel(options.write_queue.clamp(1, MAX_WRITE_QUEUE));
        let mut wal_path = OsString::from(path.as_os_str());
        wal_path.push("-wal");
        let config = WriterConfig {
            max_group: options.max_group_commit.clamp(1, MAX_GROUP_COMMIT),
            commit_delay: options.commit_delay.min(MAX_COMMIT_DELAY),
            busy_timeout: options.busy_timeout,
            checkpoint_idle_commits: options.checkpoint_idle_commits.max(1),
            checkpoint_max_commits: options.checkpoint_max_commits.max(1),
            wal_truncate_bytes: options.wal_truncate_bytes,
            purge_interval: options.idempotency_purge_interval,
            index_batch: options
                .idempotency_index_batch
                .clamp(1, MAX_IDEMPOTENCY_INDEX_BATCH),
            global_figures: options.maintain_global_figures,
        };
        let counters = Arc::new(WriterCounters::default());
        let handle = writer::spawn(
            conn,
            receiver,
            Arc::clone(&schemas),
            Arc::clone(&counters),
            config,
            wal_path.into(),
        )?;
        Ok(SqliteStore {
            path: path.to_owned(),
            commands: Some(sender),
            writer: Mutex::new(Some(handle)),
            reads,
            schemas,
            counters,
            closed: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            groups: c.groups.load(Ordering::Relaxed),
            grouped_requests: c.grouped_requests.load(Ordering::Relaxed),
            largest_group: c.largest_group.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            truncations: c.truncations.load(Ordering::Relaxed),
        }
    }

    /// Stops taking requests (later ones get [`StoreError::Unavailable`]),
    /// waits until every write already queued is committed and answered, and
    /// closes the database.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        self.reads.close();
        if let Some(commands) = &self.commands {
            // Fails only when the writer is already gone, which is what we want.
            let _ = commands.send(Command::Shutdown).await;
        }
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(handle) = handle else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || handle.join())
            .await
            .map_err(|e| StoreError::Backend(format!("waiting for the writer thread: {e}")))?
            .map_err(|_| StoreError::Backend("the writer thread panicked".into()))
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed_error());
        }
        Ok(())
    }

    /// Sends a command to the writer thread and waits for its answer.
    async fn write<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, StoreError> {
        self.check_open()?;
        let commands = self.commands.as_ref().ok_or_else(closed_error)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(command(reply))
            .await
            .map_err(|_| closed_error())?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the writer thread stopped before answering".into())
        })?
    }

    async fn existing_schema(&self, app: AppId) -> Result<StoredSchema, StoreError> {
        self.schema(app).await?.ok_or(StoreError::UnknownApp(app))
    }
}

/// Prepared statements kept per connection. The writer uses about twenty;
/// rusqlite's default of 16 made it prepare some again on every store.
pub(crate) const STATEMENT_CACHE: usize = 64;

fn configure_writer(conn: &Connection, busy_timeout: Duration) -> Result<(), StoreError> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(busy_timeout)
        .context("setting the busy timeout")?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .context("switching to WAL mode")?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "the database refused WAL mode (journal_mode is {mode:?}); \
             is it on a file system without shared memory?"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .context("setting synchronous=FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .context("turning automatic checkpoints off")?;
    Ok(())
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
        self.reads.close();
        // With its only sender gone, the writer drains the queue and exits.
        self.commands = None;
        let handle = self
            .writer
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the SQLite writer thread panicked");
        }
    }
}

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, String, i64, bool)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn key_record(
    (id, app, label, created, revoked): (i64, i64, String, i64, bool),
) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        id,
        app: app_from_sql(app)?,
        label,
        created,
        revoked,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_schema(&self, app: AppId, schema: Schema) -> Result<u64, StoreError> {
        // Serialized here, on the caller's task: the writer thread is the one
        // resource every write shares.
        let json = serde_json::to_string(&schema.to_doc())
            .map_err(|e| StoreError::Backend(format!("encoding the schema: {e}")))?;
        let schema = Arc::new(schema);
        self.write(|reply| {
            Command::Single(SingleCommand::PutSchema {
                app,
                schema,
                json,
                reply,
            })
        })
        .await
    }

    async fn schema(&self, app: AppId) -> Result<Option<StoredSchema>, StoreError> {
        self.check_open()?;
        if let Some(cached) = self.schemas.get(app) {
            return Ok(Some(cached));
        }
        let loaded = self.reads.run(move |c| load_schema(c, app)).await?;
        Ok(loaded.map(|stored| {
            self.schemas.offer(stored.clone());
            // The cache may already hold a newer version than this read saw.
            self.schemas.get(app).unwrap_or(stored)
        }))
    }

    async fn apps(&self) -> Result<Vec<AppSummary>, StoreError> {
        self.check_open()?;
        self.reads
            .run(|c| {
                let rows = c
                    .prepare_cached(
                        "SELECT app_id, name, schema_version, users FROM apps ORDER BY app_id",
                    )
                    .and_then(|mut s| {
                        s.query_map([], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, i64>(3)?,
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing apps")?;
                rows.into_iter()
                    .map(|(app, name, version, users)| {
                        Ok(AppSummary {
                            app: app_from_sql(app)?,
                            name,
                            schema_version: count(version, "schema version")?,
                            users: count(users, "user count")?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn progress(&self, app: AppId, user: SteamId) -> Result<UserProgress, StoreError> {
        let schema = self.existing_schema(app).await?;
        let stored = self
            .reads
            .run(move |c| {
                // One read transaction: the version and the rows are one snapshot.
                let tx = c.transaction().context("beginning a read")?;
                load_progress(&tx, app, user)
            })
            .await?;
        Ok(visible(stored, &schema.schema))
    }

    async fn store(&self, request: StoreRequest) -> Result<StoreReply, StoreError> {
        let request = Box::new(request);
        self.write(|reply| Command::Group(GroupItem::Store { request, reply }))
            .await
    }

    async fn reset(
        &self,
        app: AppId,
        user: SteamId,
        scope: ResetScope,
        now: UnixTime,
        audit: AuditDraft,
    ) -> Result<UserProgress, StoreError> {
        self.write(|reply| {
            Command::Group(GroupItem::Reset {
                app,
                user,
                scope,
                now,
                audit: Box::new(audit),
                reply,
            })
        })
        .await
    }

    async fn global_achievements(&self, app: AppId) -> Result<GlobalAchievements, StoreError> {
        let schema = self.existing_schema(app).await?;
        let (users, counts) = self
            .reads
            .run(move |c| {
                let tx = c.transaction().context("beginning a read")?;
                let users: Option<i64> = tx
                    .prepare_cached("SELECT users FROM apps WHERE app_id = ?1")
                    .and_then(|mut s| s.query_row([app_sql(app)], |r| r.get(0)).optional())
                    .context("reading the app's user count")?;
                let counts = tx
                    .prepare_cached("SELECT name, users FROM achievement_unlocks WHERE app_id = ?1")
                    .and_then(|mut s| {
                        s.query_map([app_sql(app)], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                        })?
                        .collect::<rusqlite::Result<BTreeMap<_, _>>>()
                    })
                    .context("reading unlock counts")?;
                Ok((users.unwrap_or(0), counts))
            })
            .await?;
        // Every achievement the schema has, none it lost: the same view as `progress`.
        let mut unlocked = BTreeMap::new();
        for def in schema.schema.achievements() {
            let n = counts.get(def.name.as_str()).copied().unwrap_or(0);
            unlocked.insert(def.name.to_string(), count(n, "unlock count")?);
        }
        Ok(GlobalAchievements {
            users: count(users, "user count")?,
            unlocked,
        })
    }

    async fn global_stats(
        &self,
        app: AppId,
        query: GlobalStatsQuery,
    ) -> Result<Vec<GlobalStat>, StoreError> {
        let schema = self.existing_schema(app).await?;
        self.reads
            .run(move |c| {
                // One read transaction: the user count and the sums are one snapshot.
                let tx = c.transaction().context("beginning a read")?;
                let users: i64 = tx
                    .prepare_cached("SELECT users FROM apps WHERE app_id = ?1")
                    .and_then(|mut s| s.query_row([app_sql(app)], |r| r.get(0)).optional())
                    .context("reading the app's user count")?
                    .unwrap_or(0);
                load_global_stats(&tx, app, &schema.schema, users, &query)
            })
            .await
    }

    async fn create_key(
        &self,
        app: AppId,
        label: &str,
        secret_hash: &str,
        now: UnixTime,
    ) -> Result<KeyRecord, StoreError> {
        let (label, secret_hash) = (label.to_owned(), secret_hash.to_owned());
        self.write(|reply| {
            Command::Single(SingleCommand::CreateKey {
                app,
                label,
                secret_hash,
                now,
                reply,
            })
        })
        .await
    }

    async fn keys(&self, app: AppId) -> Result<Vec<KeyRecord>, StoreError> {
        self.existing_schema(app).await?;
        self.reads
            .run(move |c| {
                let rows = c
                    .prepare_cached(
                        "SELECT id, app_id, label, created, revoked FROM keys \
                         WHERE app_id = ?1 ORDER BY id",
                    )
                    .and_then(|mut s| {
                        s.query_map([app_sql(app)], key_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing keys")?;
                rows.into_iter().map(key_record).collect()
            })
            .await
    }

    async fn revoke_key(&self, app: AppId, id: i64) -> Result<bool, StoreError> {
        self.write(|reply| Command::Single(SingleCommand::RevokeKey { app, id, reply }))
            .await
    }

    async fn find_key(&self, secret_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.check_open()?;
        let secret_hash = secret_hash.to_owned();
        self.reads
            .run(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT id, app_id, label, created, revoked FROM keys \
                         WHERE secret_hash = ?1 AND revoked = 0",
                    )
                    .and_then(|mut s| s.query_row([&secret_hash], key_from_row).optional())
                    .context("finding a key")?;
                row.map(key_record).transpose()
            })
            .await
    }

    async fn signing_secrets(&self) -> Result<SigningSecrets, StoreError> {
        self.check_open()?;
        let found = self
            .reads
            .run(|c| {
                let secrets = c
                    .prepare_cached(
                        "SELECT key, value FROM meta WHERE key IN ('signing_secret', \
                         'previous_signing_secret', 'previous_signing_secret_until')",
                    )
                    .and_then(|mut s| {
                        s.query_map([], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("reading the signing secrets")?;
                Ok(SigningSecrets::from_meta(secrets))
            })
            .await?;
        if let Some(secrets) = found {
            return Ok(secrets);
        }
        // The writer creates it unless another caller got there first.
        let current = self
            .write(|reply| Command::Single(SingleCommand::SigningSecret { reply }))
            .await?;
        Ok(SigningSecrets {
            current,
            previous: None,
        })
    }

    async fn rotate_signing_secret(&self, grace_until: i64) -> Result<(), StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::RotateSigningSecret { grace_until, reply })
        })
        .await
    }

    async fn revoke_tokens(
        &self,
        revocation: TokenRevocation,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::RevokeTokens {
                revocation,
                audit: Box::new(audit),
                reply,
            })
        })
        .await
    }

    async fn token_revocations(&self) -> Result<TokenRevocations, StoreError> {
        self.check_open()?;
        self.reads
            .run(|c| {
                let rows = c
                    .prepare_cached("SELECT app_id, steam_id, not_before_ms FROM token_revocations")
                    .and_then(|mut s| {
                        s.query_map([], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("reading token revocations")?;
                let revoked_keys = c
                    .prepare_cached("SELECT id FROM keys WHERE revoked = 1")
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get::<_, i64>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("reading revoked keys")?;
                let revocations = rows
                    .into_iter()
                    .map(|(app, user, not_before_ms)| {
                        Ok(TokenRevocation {
                            app: app_from_sql(app)?,
                            user: revoked_user(user)?,
                            not_before_ms,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(TokenRevocations {
                    revocations,
                    revoked_keys,
                })
            })
            .await
    }

    async fn set_display_name(
        &self,
        app: AppId,
        user: SteamId,
        name: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::SetDisplayName {
                app,
                user,
                name,
                reply,
            })
        })
        .await
    }

    async fn display_name(&self, app: AppId, user: SteamId) -> Result<Option<String>, StoreError> {
        self.check_open()?;
        self.reads
            .run(move |c| {
                c.prepare_cached(
                    "SELECT display_name FROM user_profiles WHERE app_id = ?1 AND steam_id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row((rows::app_sql(app), rows::user_sql(user)), |r| r.get(0))
                        .optional()
                })
                .context("reading a display name")
            })
            .await
    }

    async fn record_audit(&self, draft: AuditDraft) -> Result<i64, StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::RecordAudit {
                draft: Box::new(draft),
                reply,
            })
        })
        .await
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.check_open()?;
        let limit = query.limit.min(MAX_AUDIT_PAGE) as i64;
        let before = query.before.unwrap_or(i64::MAX);
        let app = query.app.map(app_sql);
        self.reads
            .run(move |c| {
                let rows = c
                    .prepare_cached(&format!(
                        "{} WHERE id < ?1 AND (?2 IS NULL OR app_id = ?2) \
                         ORDER BY id DESC LIMIT ?3",
                        rows::AUDIT_SELECT
                    ))
                    .and_then(|mut s| {
                        s.query_map((before, app, limit), rows::audit_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing the audit log")?;
                rows.into_iter().map(AuditRow::into_record).collect()
            })
            .await
    }

    async fn undo_reset(
        &self,
        id: i64,
        now: UnixTime,
        audit: AuditDraft,
    ) -> Result<Undone, StoreError> {
        self.write(|reply| {
            Command::Group(GroupItem::UndoReset {
                id,
                now,
                audit: Box::new(audit),
                reply,
            })
        })
        .await
    }

    async fn users(
        &self,
        app: AppId,
        after: Option<SteamId>,
        limit: usize,
    ) -> Result<Vec<SteamId>, StoreError> {
        self.existing_schema(app).await?;
        let limit = limit.min(MAX_USERS_PAGE);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let [(low_a, high_a), (low_b, high_b)] = stored_id_ranges_after(after);
        let stored = self
            .reads
            .run(move |c| {
                // Two index range scans, each in stored order, at most `limit` each.
                c.prepare_cached(
                    "SELECT steam_id FROM (SELECT steam_id FROM users \
                     WHERE app_id = ?1 AND steam_id BETWEEN ?2 AND ?3 AND version > 0 \
                     ORDER BY steam_id LIMIT ?6) \
                     UNION ALL \
                     SELECT steam_id FROM (SELECT steam_id FROM users \
                     WHERE app_id = ?1 AND steam_id BETWEEN ?4 AND ?5 AND version > 0 \
                     ORDER BY steam_id LIMIT ?6)",
                )
                .and_then(|mut s| {
                    s.query_map(
                        (app_sql(app), low_a, high_a, low_b, high_b, limit as i64),
                        |r| r.get::<_, i64>(0),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .context("listing users")
            })
            .await?;
        users_page(stored, limit)
    }

    async fn import_user(
        &self,
        app: AppId,
        user: SteamId,
        progress: &UserProgress,
    ) -> Result<(), StoreError> {
        let progress = Box::new(progress.clone());
        self.write(|reply| {
            Command::Group(GroupItem::Import {
                app,
                user,
                progress,
                reply,
            })
        })
        .await
    }

    async fn stored_keys(&self, app: AppId) -> Result<Vec<StoredKey>, StoreError> {
        self.existing_schema(app).await?;
        self.reads
            .run(move |c| {
                let rows = c
                    .prepare_cached(
                        "SELECT id, app_id, label, created, revoked, secret_hash FROM keys \
                         WHERE app_id = ?1 ORDER BY id",
                    )
                    .and_then(|mut s| {
                        s.query_map([app_sql(app)], |r| {
                            Ok((key_from_row(r)?, r.get::<_, String>(5)?))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing keys")?;
                rows.into_iter()
                    .map(|(row, secret_hash)| {
                        Ok(StoredKey {
                            record: key_record(row)?,
                            secret_hash,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn import_key(&self, key: &StoredKey) -> Result<KeyRecord, StoreError> {
        let key = Box::new(key.clone());
        self.write(|reply| Command::Single(SingleCommand::ImportKey { key, reply }))
            .await
    }

    async fn import_signing_secret(&self, secret: &[u8]) -> Result<bool, StoreError> {
        if secret.is_empty() {
            return Err(StoreError::InvalidImport(
                "the signing secret is empty".into(),
            ));
        }
        let secret = secret.to_vec();
        self.write(|reply| Command::Single(SingleCommand::ImportSigningSecret { secret, reply }))
            .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.check_open()?;
        if self.commands.as_ref().is_none_or(|c| c.is_closed()) {
            return Err(StoreError::Unavailable(
                "the writer thread has stopped".into(),
            ));
        }
        self.reads
            .run(|c| {
                c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .context("health check")
                    .map(drop)
            })
            .await
    }
}
