//! The items of a group (stores, resets, undos, imports), each in its own
//! savepoint of the group's transaction.

use std::collections::HashMap;
use std::sync::Arc;

use crate::figures::GroupFigures;
use crate::idempotency::{self, PendingKeys, StagedKeys};
use laurel_core::{
    ApiName, AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress, apply_batch, reset,
};
use laurel_store::figures::FigureChanges;
use laurel_store::rows::NewKeyRecord;
use rusqlite::{Connection, OptionalExtension};

use crate::rows::{
    Context, SchemaCache, app_sql, current_schema, load_progress, same_error, user_sql, visible,
    write_achievement, write_stat, write_version,
};
use laurel_store::audit::{self, AuditDraft};
use laurel_store::{StoreError, StoreReply, StoreRequest, check_import};

use super::answer::{Answer, Reply, answer};
use super::progress_cache::ProgressCache;
use super::single::{insert_audit, read_audit};

/// What the items of one group share.
pub(super) struct GroupEnv<'a> {
    pub(super) schemas: &'a SchemaCache,
    /// Schemas checked against the database in this group. Nothing else can
    /// change a schema while the group holds the write lock, and a schema put
    /// through this store ends the group, so once per app per group is enough.
    pub(super) checked: HashMap<AppId, Arc<Schema>>,
    pub(super) progress: &'a mut ProgressCache,
    pub(super) keys: &'a PendingKeys,
    /// Idempotency keys this group recorded, for later items of the group.
    pub(super) staged: StagedKeys,
    pub(super) global_figures: bool,
}

impl GroupEnv<'_> {
    pub(super) fn schema(
        &mut self,
        conn: &Connection,
        app: AppId,
    ) -> Result<Arc<Schema>, StoreError> {
        if let Some(schema) = self.checked.get(&app) {
            return Ok(Arc::clone(schema));
        }
        let schema = current_schema(conn, self.schemas, app)?;
        self.checked.insert(app, Arc::clone(&schema));
        Ok(schema)
    }

    /// The user's progress as `schema` shows it: from memory, else read.
    pub(super) fn progress(
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

/// One item of a group in its savepoint: its answer (held until the commit),
/// and the error that makes the rest of the group fail with it, if any. The
/// global figures it moved count only if it was applied (`app_of` names the
/// app they belong to).
pub(super) fn run_item<T: Send + 'static>(
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

/// Splits a savepoint's outcome into the item's answer and, when the
/// savepoint itself could not be closed, an error that must fail the group.
pub(super) fn split<T>(
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
pub(super) fn in_savepoint<T>(
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

pub(super) fn execute_store(
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
        return first.replay(request, || env.progress(conn, app, user, &schema));
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
        &NewKeyRecord {
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
pub(super) fn execute_reset(
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
pub(super) fn execute_undo_reset(
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
pub(super) fn execute_import(
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
