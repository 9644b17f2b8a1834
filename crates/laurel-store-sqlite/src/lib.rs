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
//! | `token_revocations`, `audit_log`, `user_profiles` | | revocations, the audit log, display names |
//! | `boards` | `id` (never reused) | a leaderboard: `app_id`, `name` and `name_key` (lower case, unique per app), `sort`, `display`, `display_name`, `writes`, `period`, `epoch` (moves on a reset), `last_seq` (the board's sequence) |
//! | `board_entries` | `(board_id, period_start, steam_id)` | `score` (NULL: a tombstone), `details` (little-endian i32s), `set_at`, `seq`; indexed by `(board_id, period_start, seq)` for catch-ups |
//! | `board_counts` | `(board_id, period_start)` | live `entries` of the period |
//! | `upload_idempotency` | `(app_id, steam_id, idem_key)` | an upload's `fingerprint`, `changed` and `created` |
//! | `friends` | `(app_id, steam_id, friend_id)` | friends lists, for `Friends` downloads |
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
//! Leaderboard writes are group items too (`writer/boards.rs`): uploads
//! share commits like stores, and each change to a board's entries takes
//! the board's next sequence number in its savepoint, so the single writer
//! commits a board's changes in sequence order. `put_schema` makes the
//! schema's boards exist, with its settings, in its own transaction.
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

mod boards;
mod figures;
mod idempotency;
mod migrations;
mod private_files;
mod read_pool;
mod rows;
mod store;
mod store_boards;
mod writer;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use laurel_core::AppId;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use self::read_pool::ReadPool;
use self::rows::{Context, SchemaCache};
use self::writer::{Command, Reply, WriterConfig, WriterCounters};
use laurel_store::{MAX_GROUP_COMMIT, Store, StoreError, StoredSchema};

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
    /// writer finds them in memory. See `idempotency.rs`.
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

fn configure_writer(conn: &Connection, busy_timeout: Duration) -> Result<(), StoreError> {
    conn.set_prepared_statement_cache_capacity(read_pool::STATEMENT_CACHE);
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
