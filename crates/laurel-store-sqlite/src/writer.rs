//! The writer thread: the only connection that writes. See the module
//! documentation of the crate for the group-commit and checkpoint design.

mod answer;
mod boards;
mod group;
mod progress_cache;
mod single;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::figures::GroupFigures;
use crate::idempotency::{self, PendingKeys, StagedKeys};
use laurel_core::{AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::mpsc;

use crate::rows::{Context, SchemaCache, app_sql, load_schema, reconcile_stat_totals, same_error};
use laurel_store::audit::{self, AuditDraft, TokenRevocation};
use laurel_store::{
    IDEMPOTENCY_RETENTION_SECONDS, KeyRecord, PURGE_BATCH_ROWS, StoreError, StoreReply,
    StoreRequest, StoredKey, StoredSchema,
};

pub(crate) use self::answer::Reply;
use self::answer::{Answer, answer};
pub(crate) use self::boards::BoardItem;
use self::group::{
    GroupEnv, execute_import, execute_reset, execute_store, execute_undo_reset, run_item,
};
use self::progress_cache::ProgressCache;
use self::single::{
    create_key, import_key, import_signing_secret, in_transaction, insert_audit, put_schema,
    revoke_tokens, rotate_signing_secret, set_display_name, signing_secret,
};

/// Busy timeout during a TRUNCATE checkpoint: it waits for readers, and the
/// writer would rather skip it than stall every write behind a slow reader.
const TRUNCATE_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

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
    /// Leaderboard writes: uploads above all, which must share commits.
    Board(BoardItem),
}

impl GroupItem {
    fn failed(self, e: &StoreError) -> Answer {
        match self {
            GroupItem::Store { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::Reset { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::UndoReset { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::Import { reply, .. } => answer(reply, Err(same_error(e))),
            GroupItem::Board(item) => item.failed(e),
        }
    }
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
            let now = match item {
                GroupItem::Store { request, .. } => Some(request.now),
                GroupItem::Board(item) => item.now(),
                _ => None,
            };
            if let Some(now) = now {
                self.clock = Some(self.clock.map_or(now, |c| c.max(now)));
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
                GroupItem::Board(item) => item.run(&tx),
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
                    boards::sync_schema_boards(tx, app, &schema)?;
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
            let stores = idempotency::purge(tx, cutoff, PURGE_BATCH_ROWS)?;
            let uploads = boards::purge_upload_keys(tx, cutoff, PURGE_BATCH_ROWS)?;
            Ok(stores.max(uploads))
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
