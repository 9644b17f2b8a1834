//! The writer thread: the only connection that writes. See the module
//! documentation of the crate for the group-commit and checkpoint design.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::figures::GroupFigures;
use crate::idempotency::{self, NewRecord, PendingKeys, StagedKeys};
use laurel_core::{
    ApiName, AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress, apply_batch, reset,
};
use laurel_store::figures::FigureChanges;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::rows::{
    Context, SchemaCache, app_sql, current_schema, load_progress, load_schema,
    reconcile_stat_totals, same_error, schema_version, user_sql, visible, write_achievement,
    write_stat, write_version,
};
use laurel_store::audit::{self, AuditDraft, TokenRevocation};
use laurel_store::{
    IDEMPOTENCY_RETENTION_SECONDS, KeyRecord, PURGE_BATCH_ROWS, SIGNING_SECRET_BYTES, StoreError,
    StoreReply, StoreRequest, StoredKey, StoredSchema, check_import,
};

/// Busy timeout during a TRUNCATE checkpoint: it waits for readers, and the
/// writer would rather skip it than stall every write behind a slow reader.
const TRUNCATE_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Command {
    Group(GroupItem),
    Single(SingleCommand),
    /// Stop taking commands; finish the ones already queued, then exit.
    Shutdown,
}

/// The rare writes: each in its own transaction, in queue order with the groups.
pub(crate) enum SingleCommand {
    PutSchema {
        app: AppId,
        schema: Arc<Schema>,
        json: String,
        reply: Reply<u64>,
    },
    CreateKey {
        app: AppId,
        label: String,
        secret_hash: String,
        now: UnixTime,
        reply: Reply<KeyRecord>,
    },
    RevokeKey {
        app: AppId,
        id: i64,
        reply: Reply<bool>,
    },
    SigningSecret {
        reply: Reply<Vec<u8>>,
    },
    ImportKey {
        key: Box<StoredKey>,
        reply: Reply<KeyRecord>,
    },
    ImportSigningSecret {
        secret: Vec<u8>,
        reply: Reply<bool>,
    },
    RotateSigningSecret {
        grace_until: i64,
        reply: Reply<()>,
    },
    RevokeTokens {
        revocation: TokenRevocation,
        audit: Box<AuditDraft>,
        reply: Reply<()>,
    },
    RecordAudit {
        draft: Box<AuditDraft>,
        reply: Reply<i64>,
    },
    SetDisplayName {
        app: AppId,
        user: SteamId,
        name: Option<String>,
        reply: Reply<()>,
    },
}

/// The writes that share a group commit: the frequent ones.
pub(crate) enum GroupItem {
    Store {
        request: Box<StoreRequest>,
        reply: Reply<StoreReply>,
    },
    Reset {
        app: AppId,
        user: SteamId,
        scope: ResetScope,
        now: UnixTime,
        audit: Box<AuditDraft>,
        reply: Reply<UserProgress>,
    },
    /// Puts back what a reset removed, from its audit record.
    UndoReset {
        id: i64,
        now: UnixTime,
        audit: Box<AuditDraft>,
        reply: Reply<audit::Undone>,
    },
    /// A user's progress copied from another store (`Store::import_user`):
    /// imports share group commits too, so a migration's many users do not
    /// cost an fsync each.
    Import {
        app: AppId,
        user: SteamId,
        progress: Box<UserProgress>,
        reply: Reply<()>,
    },
}

impl GroupItem {
    fn failed(self, e: &StoreError) -> Answer {
        match self {
            GroupItem::Store { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::Reset { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::UndoReset { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::Import { reply, .. } => answer(reply, Err(same_error(e))),
        }
    }
}

/// An answer held back until its transaction's COMMIT has returned; called
/// with the COMMIT's error if it failed. A caller that stopped waiting is no
/// error: its write stands, and a retry with the same idempotency key gets
/// the same answer.
type Answer = Box<dyn FnOnce(Option<&StoreError>) + Send>;

fn answer<T: Send + 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Answer {
    Box::new(move |failed: Option<&StoreError>| {
        let _ = reply.send(match failed {
            Some(e) => Err(same_error(e)),
            None => result,
        });
    })
}

/// What the writer thread has done, for metrics and tests.
/// How often the writer looks for company while it delays a commit.
const COMMIT_DELAY_POLL: Duration = Duration::from_micros(50);

#[derive(Default)]
pub(crate) struct WriterCounters {
    pub(crate) groups: AtomicU64,
    pub(crate) grouped_requests: AtomicU64,
    pub(crate) largest_group: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) truncations: AtomicU64,
}

pub(crate) struct WriterConfig {
    pub(crate) max_group: usize,
    pub(crate) commit_delay: Duration,
    pub(crate) busy_timeout: Duration,
    pub(crate) checkpoint_idle_commits: u32,
    pub(crate) checkpoint_max_commits: u32,
    pub(crate) wal_truncate_bytes: u64,
    pub(crate) purge_interval: Duration,
    /// Pending idempotency keys that trigger a move into their index.
    pub(crate) index_batch: usize,
    /// Keep the global figures (users, unlock counts, aggregated stat totals
    /// and history). Off only in benchmarks that measure what they cost.
    pub(crate) global_figures: bool,
}

struct Writer {
    conn: Connection,
    commands: mpsc::Receiver<Command>,
    cache: Arc<SchemaCache>,
    counters: Arc<WriterCounters>,
    config: WriterConfig,
    wal_path: PathBuf,
    commits_since_checkpoint: u32,
    /// The latest `now` of any store: idempotency records expire by the
    /// clock their `created` times come from, not the machine's.
    clock: Option<UnixTime>,
    last_purge: Option<Instant>,
    purge_backlog: bool,
    /// Size of the last group committed: how many writers are active.
    last_group: usize,
    progress: ProgressCache,
    /// The index of the idempotency log's pending tail.
    keys: PendingKeys,
}

/// Most users whose progress the writer keeps in memory, and most bytes
/// their progress may take (estimated); when either is reached, it starts
/// over (a miss costs one read, and a bound on memory matters more than hits).
const PROGRESS_CACHE_USERS: usize = 4096;
const PROGRESS_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// About what a progress takes in the cache: its map nodes, names and values.
fn progress_bytes(progress: &UserProgress) -> usize {
    const PER_ENTRY: usize = 96;
    let stats: usize = progress
        .stats
        .keys()
        .map(|n| n.as_str().len() + PER_ENTRY)
        .sum();
    let achievements: usize = progress
        .achievements
        .keys()
        .map(|n| n.as_str().len() + PER_ENTRY)
        .sum();
    PER_ENTRY + stats + achievements
}

/// The progress the writer last wrote for each recent user, as the current
/// schema shows it, so that a user's next store validates without reading
/// its rows back.
///
/// It is right only while this connection is the database's one writer.
/// Another process (the CLI on the same file) may commit too, and
/// `PRAGMA data_version` changes when one did: each group checks it inside
/// its write transaction, where nobody else can commit, and starts over when
/// it moved. A new schema changes what is visible, so it starts over too,
/// and so does a group that failed (its writes were rolled back).
#[derive(Default)]
struct ProgressCache {
    users: HashMap<(AppId, SteamId), UserProgress>,
    /// [`progress_bytes`] of the entries, counted when they were put (an
    /// entry removed is counted until the next start over: it errs high).
    bytes: usize,
    data_version: Option<i64>,
}

impl ProgressCache {
    /// Starts over if another connection committed since the last check;
    /// says whether it did (or whether this is the first check).
    fn check(&mut self, conn: &Connection) -> Result<bool, StoreError> {
        let now: i64 = conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .context("reading the data version")?;
        if self.data_version == Some(now) {
            return Ok(false);
        }
        self.clear();
        self.data_version = Some(now);
        Ok(true)
    }

    fn put(&mut self, app: AppId, user: SteamId, progress: UserProgress) {
        let bytes = progress_bytes(&progress);
        if self.bytes + bytes > PROGRESS_CACHE_BYTES
            || (self.users.len() >= PROGRESS_CACHE_USERS && !self.users.contains_key(&(app, user)))
        {
            self.clear();
        }
        self.bytes += bytes;
        self.users.insert((app, user), progress);
    }

    fn clear(&mut self) {
        self.users.clear();
        self.bytes = 0;
    }
}

/// What the items of one group share.
struct GroupEnv<'a> {
    schemas: &'a SchemaCache,
    /// Schemas checked against the database in this group. Nothing else can
    /// change a schema while the group holds the write lock, and a schema put
    /// through this store ends the group, so once per app per group is enough.
    checked: HashMap<AppId, Arc<Schema>>,
    progress: &'a mut ProgressCache,
    keys: &'a PendingKeys,
    /// Idempotency keys this group recorded, for later items of the group.
    staged: StagedKeys,
    global_figures: bool,
}

impl GroupEnv<'_> {
    fn schema(&mut self, conn: &Connection, app: AppId) -> Result<Arc<Schema>, StoreError> {
        if let Some(schema) = self.checked.get(&app) {
            return Ok(Arc::clone(schema));
        }
        let schema = current_schema(conn, self.schemas, app)?;
        self.checked.insert(app, Arc::clone(&schema));
        Ok(schema)
    }

    /// The user's progress as `schema` shows it: from memory, else read.
    fn progress(
        &self,
        conn: &Connection,
        app: AppId,
        user: SteamId,
        schema: &Schema,
    ) -> Result<UserProgress, StoreError> {
        match self.progress.users.get(&(app, user)) {
            Some(progress) => Ok(progress.clone()),
            None => Ok(visible(load_progress(conn, app, user)?, schema)),
        }
    }
}

pub(crate) fn spawn(
    conn: Connection,
    commands: mpsc::Receiver<Command>,
    cache: Arc<SchemaCache>,
    counters: Arc<WriterCounters>,
    config: WriterConfig,
    wal_path: PathBuf,
) -> Result<JoinHandle<()>, StoreError> {
    let writer = Writer {
        conn,
        commands,
        cache,
        counters,
        config,
        wal_path,
        commits_since_checkpoint: 0,
        clock: None,
        last_purge: None,
        purge_backlog: false,
        last_group: 0,
        progress: ProgressCache::default(),
        keys: PendingKeys::default(),
    };
    std::thread::Builder::new()
        .name("laurel-sqlite-writer".into())
        .spawn(move || writer.run())
        .map_err(|e| StoreError::Backend(format!("starting the writer thread: {e}")))
}

impl Writer {
    fn run(mut self) {
        let mut next: Option<Command> = None;
        loop {
            let command = match next.take() {
                Some(command) => command,
                None => match self.commands.blocking_recv() {
                    Some(command) => command,
                    None => break,
                },
            };
            match command {
                Command::Group(first) => {
                    let mut group = vec![first];
                    self.drain_into(&mut group, &mut next);
                    // Group-commit convoy: the clients of the last group were all answered
                    // at once and their next stores are on their way. Committing the first
                    // arrival alone would cost a whole fsync for one store and leave the rest
                    // queued behind it; a short wait lets them share this commit instead.
                    if !self.config.commit_delay.is_zero() {
                        let expected = self.last_group.min(self.config.max_group);
                        let deadline = Instant::now() + self.config.commit_delay;
                        while next.is_none() && group.len() < expected && Instant::now() < deadline
                        {
                            std::thread::sleep(COMMIT_DELAY_POLL);
                            self.drain_into(&mut group, &mut next);
                        }
                    }
                    self.last_group = group.len();
                    self.commit_group(group);
                }
                // Later sends fail at once; what is queued is still received.
                Command::Single(command) => self.run_single(command),
                Command::Shutdown => self.commands.close(),
            }
            let idle = next.is_none() && self.commands.is_empty();
            self.index_keys_if_due();
            self.purge_if_due();
            self.checkpoint_if_due(idle);
        }
        self.checkpoint("TRUNCATE");
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(error = %e, "closing the SQLite write connection");
        }
    }

    /// Moves queued stores and resets into `group`, up to the group limit; a
    /// command of another kind ends the group and is kept in `next`, in order.
    fn drain_into(&mut self, group: &mut Vec<GroupItem>, next: &mut Option<Command>) {
        while next.is_none() && group.len() < self.config.max_group {
            match self.commands.try_recv() {
                Ok(Command::Group(item)) => group.push(item),
                Ok(other @ (Command::Single(_) | Command::Shutdown)) => *next = Some(other),
                Err(_) => break,
            }
        }
    }

    fn commit_group(&mut self, group: Vec<GroupItem>) {
        for item in &group {
            if let GroupItem::Store { request, .. } = item {
                self.clock = Some(self.clock.map_or(request.now, |c| c.max(request.now)));
            }
        }
        let size = group.len();
        let mut pending = Vec::with_capacity(size);
        let started = std::time::Instant::now();
        let result = self.execute_group(group, &mut pending);
        match result {
            Ok(()) => {
                // No-ops unless the process installed a metrics recorder.
                metrics::histogram!("laurel_store_group_size").record(size as f64);
                metrics::histogram!("laurel_store_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                self.commits_since_checkpoint += 1;
                tracing::trace!(size, "group committed");
                let size = size as u64;
                let counters = &self.counters;
                counters.groups.fetch_add(1, Ordering::Relaxed);
                counters.grouped_requests.fetch_add(size, Ordering::Relaxed);
                counters.largest_group.fetch_max(size, Ordering::Relaxed);
                pending.into_iter().for_each(|answer| answer(None));
            }
            Err(e) => {
                tracing::error!(error = %e, size, "group commit failed");
                self.progress.clear();
                self.keys.invalidate();
                pending.into_iter().for_each(|answer| answer(Some(&e)));
            }
        }
    }

    /// Runs every item in its own savepoint of one IMMEDIATE transaction, so a
    /// failing item rolls back alone and later items see earlier ones' writes.
    /// `Err` means the whole transaction failed; `pending` then still holds
    /// every item's reply channel.
    fn execute_group(
        &mut self,
        group: Vec<GroupItem>,
        pending: &mut Vec<Answer>,
    ) -> Result<(), StoreError> {
        let begun = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("beginning a group commit");
        let tx = match begun {
            Ok(tx) => tx,
            Err(e) => {
                pending.extend(group.into_iter().map(|item| item.failed(&e)));
                return Err(e);
            }
        };
        let fresh = match self.progress.check(&tx) {
            Ok(moved) => {
                if moved {
                    self.keys.invalidate();
                }
                self.keys.ensure_loaded(&tx)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = fresh {
            pending.extend(group.into_iter().map(|item| item.failed(&e)));
            return Err(e);
        }
        let mut env = GroupEnv {
            schemas: &self.cache,
            checked: HashMap::new(),
            progress: &mut self.progress,
            keys: &self.keys,
            staged: StagedKeys::default(),
            global_figures: self.config.global_figures,
        };
        let mut figures = GroupFigures::default();
        let mut fatal: Option<StoreError> = None;
        for item in group {
            if let Some(e) = &fatal {
                pending.push(item.failed(e));
                continue;
            }
            let (done, failed) = match item {
                GroupItem::Store { request, reply } => run_item(
                    &tx,
                    &mut env,
                    &mut figures,
                    |_| request.app,
                    |c, env, moved| execute_store(c, env, &request, moved),
                    reply,
                ),
                GroupItem::Reset {
                    app,
                    user,
                    scope,
                    now,
                    audit,
                    reply,
                } => run_item(
                    &tx,
                    &mut env,
                    &mut figures,
                    |_| app,
                    |c, env, moved| execute_reset(c, env, (app, user), (scope, now), *audit, moved),
                    reply,
                ),
                GroupItem::UndoReset {
                    id,
                    now,
                    audit,
                    reply,
                } => run_item(
                    &tx,
                    &mut env,
                    &mut figures,
                    |undone: &audit::Undone| undone.app,
                    |c, env, moved| execute_undo_reset(c, env, id, now, *audit, moved),
                    reply,
                ),
                GroupItem::Import {
                    app,
                    user,
                    progress,
                    reply,
                } => run_item(
                    &tx,
                    &mut env,
                    &mut figures,
                    |_| app,
                    |c, env, moved| execute_import(c, env, app, user, &progress, moved),
                    reply,
                ),
            };
            pending.push(done);
            fatal = fatal.or(failed);
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        let staged = std::mem::take(&mut env.staged);
        figures.write(&tx)?;
        tx.commit().context("committing a group")?;
        self.keys.commit(staged);
        Ok(())
    }

    fn run_single(&mut self, command: SingleCommand) {
        let cache = &self.cache;
        let conn = &mut self.conn;
        let done = match command {
            SingleCommand::PutSchema {
                app,
                schema,
                json,
                reply,
            } => {
                let result = in_transaction(conn, "putting a schema", |tx| {
                    let old = load_schema(tx, app)?;
                    let version = put_schema(tx, app, &schema.settings().name, &json)?;
                    reconcile_stat_totals(tx, app, old.as_ref().map(|o| &*o.schema), &schema)?;
                    Ok(version)
                });
                if let Ok(version) = result {
                    self.progress.clear();
                    cache.offer(StoredSchema {
                        app,
                        version,
                        schema,
                    });
                }
                answer(reply, result)
            }
            SingleCommand::CreateKey {
                app,
                label,
                secret_hash,
                now,
                reply,
            } => {
                let result = in_transaction(conn, "creating a key", |tx| {
                    create_key(tx, app, &label, &secret_hash, now)
                });
                answer(reply, result)
            }
            SingleCommand::RevokeKey { app, id, reply } => {
                let result = in_transaction(conn, "revoking a key", |tx| {
                    tx.prepare_cached("UPDATE keys SET revoked = 1 WHERE app_id = ?1 AND id = ?2")
                        .and_then(|mut s| s.execute((app_sql(app), id)))
                        .context("revoking a key")
                        .map(|changed| changed > 0)
                });
                answer(reply, result)
            }
            SingleCommand::SigningSecret { reply } => {
                let result = in_transaction(conn, "creating the signing secret", signing_secret);
                answer(reply, result)
            }
            SingleCommand::ImportKey { key, reply } => {
                let result = in_transaction(conn, "importing a key", |tx| import_key(tx, &key));
                answer(reply, result)
            }
            SingleCommand::RotateSigningSecret { grace_until, reply } => {
                let result = in_transaction(conn, "rotating the signing secret", |tx| {
                    rotate_signing_secret(tx, grace_until)
                });
                answer(reply, result)
            }
            SingleCommand::RevokeTokens {
                revocation,
                audit,
                reply,
            } => {
                let result = in_transaction(conn, "revoking tokens", |tx| {
                    revoke_tokens(tx, revocation)?;
                    let audit = audit.about(revocation.app, revocation.user);
                    insert_audit(tx, &audit).map(|_| ())
                });
                answer(reply, result)
            }
            SingleCommand::RecordAudit { draft, reply } => {
                let result = in_transaction(conn, "recording an audit entry", |tx| {
                    insert_audit(tx, &draft)
                });
                answer(reply, result)
            }
            SingleCommand::SetDisplayName {
                app,
                user,
                name,
                reply,
            } => {
                let result = in_transaction(conn, "setting a display name", |tx| {
                    set_display_name(tx, app, user, name.as_deref())
                });
                answer(reply, result)
            }
            SingleCommand::ImportSigningSecret { secret, reply } => {
                let result = in_transaction(conn, "importing the signing secret", |tx| {
                    import_signing_secret(tx, &secret)
                });
                answer(reply, result)
            }
        };
        done(None);
        self.commits_since_checkpoint += 1;
    }

    /// Moves the pending idempotency keys into their index once enough are
    /// pending. After a failure they stay pending (they are on disk) and the
    /// next attempt waits a second.
    fn index_keys_if_due(&mut self) {
        if !self.keys.due(self.config.index_batch) {
            return;
        }
        let keys = &self.keys;
        match in_transaction(&mut self.conn, "indexing idempotency keys", |tx| {
            keys.flush(tx)
        }) {
            Ok(to) => {
                self.keys.flushed(to);
                self.commits_since_checkpoint += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "indexing idempotency keys");
                self.keys.flush_failed();
            }
        }
    }

    /// Deletes idempotency records older than the retention, at most once per
    /// `purge_interval` unless the last purge hit its batch limit.
    fn purge_if_due(&mut self) {
        let Some(now) = self.clock else {
            return;
        };
        let recent = self
            .last_purge
            .is_some_and(|t| t.elapsed() < self.config.purge_interval);
        if recent && !self.purge_backlog {
            return;
        }
        self.last_purge = Some(Instant::now());
        let cutoff = now.saturating_sub(IDEMPOTENCY_RETENTION_SECONDS);
        let deleted = in_transaction(&mut self.conn, "purging idempotency keys", |tx| {
            idempotency::purge(tx, cutoff, PURGE_BATCH_ROWS)
        });
        match deleted {
            Ok(n) => {
                self.purge_backlog = n as i64 >= PURGE_BATCH_ROWS;
                if n > 0 {
                    self.commits_since_checkpoint += 1;
                    tracing::debug!(deleted = n, "purged expired idempotency keys");
                }
            }
            Err(e) => {
                self.purge_backlog = false;
                tracing::warn!(error = %e, "purging idempotency keys");
            }
        }
    }

    fn checkpoint_if_due(&mut self, idle: bool) {
        let n = self.commits_since_checkpoint;
        let due = n >= self.config.checkpoint_max_commits
            || (idle && n >= self.config.checkpoint_idle_commits);
        if !due {
            return;
        }
        let wal_bytes = std::fs::metadata(&self.wal_path).map_or(0, |m| m.len());
        if idle && wal_bytes > self.config.wal_truncate_bytes {
            self.checkpoint("TRUNCATE");
        } else {
            self.checkpoint("PASSIVE");
        }
    }

    fn checkpoint(&mut self, mode: &'static str) {
        let truncate = mode == "TRUNCATE";
        if truncate && let Err(e) = self.conn.busy_timeout(TRUNCATE_BUSY_TIMEOUT) {
            tracing::warn!(error = %e, "lowering the busy timeout for a checkpoint");
        }
        // Counted before it runs, so whoever sees its effect sees it counted.
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        if truncate {
            self.counters.truncations.fetch_add(1, Ordering::Relaxed);
        }
        let started = Instant::now();
        let result = self
            .conn
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            });
        if truncate && let Err(e) = self.conn.busy_timeout(self.config.busy_timeout) {
            tracing::warn!(error = %e, "restoring the busy timeout after a checkpoint");
        }
        // Even an incomplete checkpoint resets the count: retrying after every
        // group while a reader holds old frames would only add latency.
        self.commits_since_checkpoint = 0;
        match result {
            Ok((busy, frames, copied)) => tracing::debug!(
                mode,
                busy = busy != 0,
                frames,
                copied,
                micros = started.elapsed().as_micros() as u64,
                "WAL checkpoint"
            ),
            Err(e) => tracing::warn!(mode, error = %e, "WAL checkpoint failed"),
        }
    }
}

/// Splits a savepoint's outcome into the item's answer and, when the
/// savepoint itself could not be closed, an error that must fail the group.
/// One item of a group in its savepoint: its answer (held until the commit),
/// and the error that makes the rest of the group fail with it, if any. The
/// global figures it moved count only if it was applied (`app_of` names the
/// app they belong to).
fn run_item<T: Send + 'static>(
    tx: &Connection,
    env: &mut GroupEnv<'_>,
    figures: &mut GroupFigures,
    app_of: impl FnOnce(&T) -> AppId,
    work: impl FnOnce(&Connection, &mut GroupEnv<'_>, &mut FigureChanges) -> Result<T, StoreError>,
    reply: Reply<T>,
) -> (Answer, Option<StoreError>) {
    let mut moved = FigureChanges::default();
    let result = in_savepoint(tx, |c| work(c, env, &mut moved));
    if let Ok(Ok(value)) = &result {
        figures.add(app_of(value), moved);
    }
    let (result, failed) = split(result);
    (answer(reply, result), failed)
}

fn split<T>(
    result: Result<Result<T, StoreError>, StoreError>,
) -> (Result<T, StoreError>, Option<StoreError>) {
    match result {
        Ok(answer) => (answer, None),
        Err(fatal) => (Err(same_error(&fatal)), Some(fatal)),
    }
}

/// Runs `work` in a savepoint: released when it succeeds, rolled back when it
/// fails. The outer `Err` means the savepoint could not be opened or closed,
/// and the transaction can no longer be trusted.
///
/// The savepoint statements are prepared once and cached: rusqlite's
/// `Savepoint` prepares its SQL text afresh on every use, twice per store.
fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<Result<T, StoreError>, StoreError> {
    let run = |sql: &str, what: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .context(what)
            .map(drop)
    };
    run("SAVEPOINT item", "opening a savepoint")?;
    match work(conn) {
        Ok(value) => {
            run("RELEASE item", "releasing a savepoint")?;
            Ok(Ok(value))
        }
        Err(e) => {
            run("ROLLBACK TO item", "rolling back a savepoint")?;
            run("RELEASE item", "releasing a savepoint")?;
            Ok(Err(e))
        }
    }
}

fn in_transaction<T>(
    conn: &mut Connection,
    what: &str,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context(what)?;
    let value = work(&tx)?;
    tx.commit().context(what)?;
    Ok(value)
}

fn execute_store(
    conn: &Connection,
    env: &mut GroupEnv<'_>,
    request: &StoreRequest,
    figures: &mut FigureChanges,
) -> Result<StoreReply, StoreError> {
    let StoreRequest {
        app,
        user,
        batch,
        authority,
        idempotency_key,
        fingerprint,
        now,
    } = request;
    let (app, user) = (*app, *user);
    let schema = env.schema(conn, app)?;
    if let Some(first) = env
        .keys
        .find(conn, &env.staged, app, user, idempotency_key.as_str())?
    {
        if first.fingerprint != *fingerprint {
            return Err(StoreError::IdempotencyConflict {
                key: idempotency_key.to_string(),
            });
        }
        return Ok(StoreReply::Applied {
            progress: env.progress(conn, app, user, &schema)?,
            newly_unlocked: first.newly_unlocked,
            replayed: true,
        });
    }
    let current = env.progress(conn, app, user, &schema)?;
    let outcome = match apply_batch(&schema, &current, batch, *authority, *now) {
        Ok(outcome) => outcome,
        Err(refusal) => return Ok(StoreReply::Refused(refusal)),
    };
    if env.global_figures {
        *figures = FigureChanges::of_store(&schema, &current, &outcome, *now);
        // The group's counter rows are written once for all its stores: one
        // store whose figures could not be written would fail them all.
        figures.check_finite()?;
    }
    let next = &outcome.progress;
    for name in &outcome.changed_stats {
        if let Some(value) = next.stats.get(name) {
            let exists = current.stats.contains_key(name);
            write_stat(conn, app, user, name, value, exists)?;
        }
    }
    for name in &outcome.changed_achievements {
        write_achievement(conn, app, user, name, next.achievements.get(name))?;
    }
    write_version(conn, app, user, next.version, current.version > 0)?;
    idempotency::record(
        conn,
        &mut env.staged,
        &NewRecord {
            app,
            user,
            key: idempotency_key.as_str(),
            fingerprint: fingerprint.as_str(),
            version: next.version,
            newly_unlocked: &outcome.newly_unlocked,
            created: *now,
        },
    )?;
    env.progress.put(app, user, outcome.progress.clone());
    Ok(StoreReply::Applied {
        progress: outcome.progress,
        newly_unlocked: outcome.newly_unlocked,
        replayed: false,
    })
}

/// A user never written (version 0) has nothing to reset: the answer is the
/// empty progress at version 0 and nothing is written, so a reset cannot
/// create a user (nor count one in the app's users).
fn execute_reset(
    conn: &Connection,
    env: &mut GroupEnv<'_>,
    (app, user): (AppId, SteamId),
    (scope, now): (ResetScope, UnixTime),
    audit: AuditDraft,
    figures: &mut FigureChanges,
) -> Result<UserProgress, StoreError> {
    // Resets are rare: the next store of this user reads its rows again.
    env.progress.users.remove(&(app, user));
    let schema = env.schema(conn, app)?;
    // The stored rows, not the visible ones: rows of achievements the schema
    // dropped are deleted too, and their counters must follow.
    let stored = load_progress(conn, app, user)?;
    let (next, relocked) = reset(&stored, scope, &schema);
    if audit::removes_something(&stored, &next) {
        insert_audit(
            conn,
            &audit
                .about(app, Some(user))
                .with_detail(audit::reset_detail(scope, &stored, next.version)),
        )?;
    }
    if stored.version == 0 {
        return Ok(UserProgress::default());
    }
    let key = (app_sql(app), user_sql(user));
    conn.prepare_cached("DELETE FROM stats WHERE app_id = ?1 AND steam_id = ?2")
        .and_then(|mut s| s.execute(key))
        .context("resetting stats")?;
    // The stats the reset keeps (server-set ones, in a user's own reset).
    for (name, value) in &next.stats {
        write_stat(conn, app, user, name, value, false)?;
    }
    if scope.achievements {
        conn.prepare_cached("DELETE FROM achievements WHERE app_id = ?1 AND steam_id = ?2")
            .and_then(|mut s| s.execute(key))
            .context("resetting achievements")?;
    }
    if env.global_figures {
        let relocked: &[ApiName] = if scope.achievements { &relocked } else { &[] };
        *figures = FigureChanges::of_reset(
            &schema,
            &stored,
            &next,
            relocked,
            laurel_store::utc_day(now),
        );
        figures.check_finite()?;
    }
    write_version(conn, app, user, next.version, true)?;
    Ok(visible(next, &schema))
}

/// Puts back the stored progress a reset removed (its audit record `id`),
/// as a new version, and reverses the figures it moved; records the undo and
/// marks the reset undone.
fn execute_undo_reset(
    conn: &Connection,
    env: &mut GroupEnv<'_>,
    id: i64,
    now: UnixTime,
    audit: AuditDraft,
    figures: &mut FigureChanges,
) -> Result<audit::Undone, StoreError> {
    let record = read_audit(conn, id)?;
    let (app, user) = audit::undoable(&record)?;
    env.progress.users.remove(&(app, user));
    let schema = env.schema(conn, app)?;
    let (before, after_version) = audit::reset_before(&record.detail)?;
    let current = load_progress(conn, app, user)?;
    audit::check_undo(&record, &current, after_version)?;
    let key = (app_sql(app), user_sql(user));
    conn.prepare_cached("DELETE FROM stats WHERE app_id = ?1 AND steam_id = ?2")
        .and_then(|mut s| s.execute(key))
        .and_then(|_| {
            conn.prepare_cached("DELETE FROM achievements WHERE app_id = ?1 AND steam_id = ?2")
                .and_then(|mut s| s.execute(key))
        })
        .context("clearing the progress a reset left")?;
    for (name, value) in &before.stats {
        write_stat(conn, app, user, name, value, false)?;
    }
    for (name, state) in &before.achievements {
        write_achievement(conn, app, user, name, Some(state))?;
    }
    let restored = UserProgress {
        version: current.version + 1,
        ..before
    };
    if env.global_figures {
        let achievements = record.detail["achievements"].as_bool().unwrap_or(false);
        *figures = FigureChanges::of_undo(
            &schema,
            &restored,
            &current,
            achievements,
            laurel_store::utc_day(now),
        );
        figures.check_finite()?;
    }
    write_version(conn, app, user, restored.version, true)?;
    let undo_id = insert_audit(
        conn,
        &audit.about(app, Some(user)).with_detail(serde_json::json!({
            "undid": id,
            "version": restored.version,
        })),
    )?;
    conn.prepare_cached("UPDATE audit_log SET undone_by = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute((id, undo_id)))
        .context("marking a reset undone")?;
    Ok(audit::Undone {
        app,
        user,
        progress: visible(restored, &schema),
    })
}

/// Writes a user's progress as given (`Store::import_user`), for a user
/// without stored progress, and counts it in the global figures: the app's
/// users, the unlocks, and the aggregated stats' sums (not their history:
/// the progress does not say on which days its values changed).
fn execute_import(
    conn: &Connection,
    env: &mut GroupEnv<'_>,
    app: AppId,
    user: SteamId,
    progress: &UserProgress,
    figures: &mut FigureChanges,
) -> Result<(), StoreError> {
    // Whatever happens, the next store of this user reads its rows.
    env.progress.users.remove(&(app, user));
    let schema = env.schema(conn, app)?;
    check_import(&schema, app, user, progress)?;
    let exists = conn
        .prepare_cached("SELECT 1 FROM users WHERE app_id = ?1 AND steam_id = ?2")
        .and_then(|mut s| {
            s.query_row((app_sql(app), user_sql(user)), |_| Ok(()))
                .optional()
        })
        .context("looking for a user")?
        .is_some();
    if exists {
        return Err(StoreError::AlreadyExists(format!(
            "user {user} of app {app}"
        )));
    }
    for (name, value) in &progress.stats {
        write_stat(conn, app, user, name, value, false)?;
    }
    for (name, state) in &progress.achievements {
        write_achievement(conn, app, user, name, Some(state))?;
    }
    write_version(conn, app, user, progress.version, false)?;
    if env.global_figures {
        *figures = FigureChanges::of_import(&schema, progress);
        figures.check_finite()?;
    }
    Ok(())
}

fn put_schema(conn: &Connection, app: AppId, name: &str, json: &str) -> Result<u64, StoreError> {
    let version: i64 = conn
        .prepare_cached(
            "INSERT INTO apps (app_id, name, schema_json, schema_version, users) \
             VALUES (?1, ?2, ?3, 1, 0) \
             ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, \
             schema_json = excluded.schema_json, schema_version = apps.schema_version + 1 \
             RETURNING schema_version",
        )
        .and_then(|mut s| s.query_row((app_sql(app), name, json), |r| r.get(0)))
        .context("writing a schema")?;
    u64::try_from(version)
        .map_err(|_| StoreError::Backend(format!("schema version {version} is negative")))
}

fn create_key(
    conn: &Connection,
    app: AppId,
    label: &str,
    secret_hash: &str,
    now: UnixTime,
) -> Result<KeyRecord, StoreError> {
    schema_version(conn, app)?.ok_or(StoreError::UnknownApp(app))?;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO keys (app_id, label, secret_hash, created, revoked) \
             VALUES (?1, ?2, ?3, ?4, 0) RETURNING id",
        )
        .and_then(|mut s| s.query_row((app_sql(app), label, secret_hash, now), |r| r.get(0)))
        .context("writing a key")?;
    Ok(KeyRecord {
        id,
        app,
        label: label.to_owned(),
        created: now,
        revoked: false,
    })
}

/// Records a key as given; it keeps its id if that is free.
fn import_key(conn: &Connection, key: &StoredKey) -> Result<KeyRecord, StoreError> {
    let record = &key.record;
    let app = record.app;
    schema_version(conn, app)?.ok_or(StoreError::UnknownApp(app))?;
    let taken = |sql: &str, what: &str, value: &dyn rusqlite::ToSql| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.query_row([value], |_| Ok(())).optional())
            .context(what)
            .map(|row| row.is_some())
    };
    if taken(
        "SELECT 1 FROM keys WHERE secret_hash = ?1",
        "looking for a key's hash",
        &key.secret_hash,
    )? {
        return Err(StoreError::AlreadyExists(format!(
            "a key with the secret hash of key {} of app {app}",
            record.id
        )));
    }
    let id_free = record.id > 0
        && !taken(
            "SELECT 1 FROM keys WHERE id = ?1",
            "looking for a key's id",
            &record.id,
        )?;
    let values = (
        app_sql(app),
        record.label.as_str(),
        key.secret_hash.as_str(),
        record.created,
        record.revoked,
    );
    // AUTOINCREMENT keeps later ids above an id given explicitly.
    let id: i64 = if id_free {
        conn.prepare_cached(
            "INSERT INTO keys (id, app_id, label, secret_hash, created, revoked) \
             VALUES (?6, ?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                (values.0, values.1, values.2, values.3, values.4, record.id),
                |r| r.get(0),
            )
        })
    } else {
        conn.prepare_cached(
            "INSERT INTO keys (app_id, label, secret_hash, created, revoked) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .and_then(|mut s| s.query_row(values, |r| r.get(0)))
    }
    .context("writing an imported key")?;
    Ok(KeyRecord {
        id,
        ..record.clone()
    })
}

/// Sets the signing secret if there is none; whether it is now `secret`.
fn import_signing_secret(conn: &Connection, secret: &[u8]) -> Result<bool, StoreError> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'signing_secret'",
            [],
            |r| r.get(0),
        )
        .optional()
        .context("reading the signing secret")?;
    if let Some(existing) = existing {
        return Ok(existing == secret);
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('signing_secret', ?1)",
        [secret],
    )
    .context("writing the signing secret")?;
    Ok(true)
}

/// Appends a record to the audit log; its id.
pub(crate) fn insert_audit(conn: &Connection, draft: &AuditDraft) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at_ms, actor, address, action, app_id, steam_id, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute((
            laurel_store::unix_now_ms(),
            &draft.actor,
            &draft.address,
            draft.action,
            draft.app.map(app_sql),
            draft.user.map(user_sql),
            draft.detail.to_string(),
        ))
    })
    .context("recording an audit entry")?;
    Ok(conn.last_insert_rowid())
}

fn read_audit(conn: &Connection, id: i64) -> Result<audit::AuditRecord, StoreError> {
    let row = conn
        .prepare_cached(&format!("{} WHERE id = ?1", crate::rows::AUDIT_SELECT))
        .and_then(|mut s| s.query_row([id], crate::rows::audit_row).optional())
        .context("reading an audit record")?
        .ok_or_else(|| StoreError::NotFound(format!("no audit record {id}")))?;
    row.into_record()
}

fn set_display_name(
    conn: &Connection,
    app: AppId,
    user: SteamId,
    name: Option<&str>,
) -> Result<(), StoreError> {
    match name {
        Some(name) => conn
            .prepare_cached(
                "INSERT INTO user_profiles (app_id, steam_id, display_name, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (app_id, steam_id) \
                 DO UPDATE SET display_name = excluded.display_name, updated_ms = excluded.updated_ms",
            )
            .and_then(|mut s| s.execute((app_sql(app), user_sql(user), name, laurel_store::unix_now_ms()))),
        None => conn
            .prepare_cached("DELETE FROM user_profiles WHERE app_id = ?1 AND steam_id = ?2")
            .and_then(|mut s| s.execute((app_sql(app), user_sql(user)))),
    }
    .context("setting a display name")?;
    Ok(())
}

fn revoke_tokens(conn: &Connection, r: TokenRevocation) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO token_revocations (app_id, steam_id, not_before_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (app_id, steam_id) \
         DO UPDATE SET not_before_ms = max(not_before_ms, excluded.not_before_ms)",
    )
    .and_then(|mut s| s.execute((app_sql(r.app), r.user.map_or(0, user_sql), r.not_before_ms)))
    .context("revoking tokens")?;
    Ok(())
}

fn rotate_signing_secret(conn: &Transaction<'_>, grace_until: i64) -> Result<(), StoreError> {
    let current = signing_secret(conn)?;
    let mut fresh = vec![0u8; SIGNING_SECRET_BYTES];
    getrandom::fill(&mut fresh)
        .map_err(|e| StoreError::Backend(format!("no randomness for the signing secret: {e}")))?;
    let mut put = conn
        .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
        .context("rotating the signing secret")?;
    for (key, value) in [
        ("previous_signing_secret", current),
        (
            "previous_signing_secret_until",
            grace_until.to_be_bytes().to_vec(),
        ),
        ("signing_secret", fresh),
    ] {
        put.execute((key, value))
            .context("rotating the signing secret")?;
    }
    Ok(())
}

fn signing_secret(conn: &Transaction<'_>) -> Result<Vec<u8>, StoreError> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'signing_secret'",
            [],
            |r| r.get(0),
        )
        .optional()
        .context("reading the signing secret")?;
    if let Some(secret) = existing {
        return Ok(secret);
    }
    let mut secret = vec![0u8; SIGNING_SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|e| StoreError::Backend(format!("no randomness for the signing secret: {e}")))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('signing_secret', ?1)",
        [&secret],
    )
    .context("writing the signing secret")?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use laurel_core::StatValue;

    #[test]
    fn the_writers_progress_cache_stays_within_its_byte_budget() {
        let app = AppId::new(480).unwrap();
        // A user with 3,000 long stat names: ~0.4 MB by the estimate.
        let mut big = UserProgress::default();
        for i in 0..3000 {
            let name = ApiName::parse(&format!("{}{i}", "S".repeat(40))).unwrap();
            big.stats.insert(name, StatValue::Int(1));
        }
        let each = progress_bytes(&big);
        assert!(each > 3000 * 96, "{each}");
        let mut cache = ProgressCache::default();
        for n in 1..=500u64 {
            cache.put(app, SteamId::new(n).unwrap(), big.clone());
            assert!(
                cache.bytes <= PROGRESS_CACHE_BYTES,
                "{} after {n}",
                cache.bytes
            );
            assert_eq!(cache.bytes, cache.users.len() * each);
        }
        assert!(cache.users.len() < 500 && !cache.users.is_empty());
    }
}
