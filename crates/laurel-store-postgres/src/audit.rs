//! The audit log, token revocations and signing-secret rotation.

use deadpool_postgres::{ClientWrapper, GenericClient};
use laurel_core::{AppId, ResetScope, SteamId, UnixTime, UserProgress, reset};
use laurel_store::audit::{self, AuditDraft, AuditQuery, AuditRecord, MAX_AUDIT_PAGE, Undone};
use laurel_store::rows::{AUDIT_SELECT, AuditRow, revoked_user};
use laurel_store::{
    SigningSecrets, StoreError, TokenRevocation, TokenRevocations, unix_now_ms, utc_day,
};
use tokio_postgres::Row;

use crate::connection::{Context, Failure, execute, query, query_opt};
use crate::figures::{self, FigureChanges, shard_of};
use crate::rows::{
    app_from_sql, app_sql, corrupt, existing_schema, load_progress, lock_app, lock_user, user_sql,
    visible, write_achievements, write_stats, write_version,
};
use crate::script::Script;
use crate::writes::{DELETE_ACHIEVEMENTS, DELETE_STATS};

/// A row of [`AUDIT_SELECT`] as a record.
fn audit_record(row: &Row) -> Result<AuditRecord, Failure> {
    let what = "reading an audit record";
    let row = AuditRow {
        id: row.try_get(0).context(what)?,
        at_ms: row.try_get(1).context(what)?,
        actor: row.try_get(2).context(what)?,
        address: row.try_get(3).context(what)?,
        action: row.try_get(4).context(what)?,
        app: row.try_get(5).context(what)?,
        user: row.try_get(6).context(what)?,
        detail: row.try_get(7).context(what)?,
        undone_by: row.try_get(8).context(what)?,
    };
    Ok(row.into_record()?)
}

/// Appends a record; its id.
pub(crate) async fn insert<C: GenericClient>(
    client: &C,
    draft: &AuditDraft,
) -> Result<i64, Failure> {
    let row = query_opt(
        client,
        "recording an audit entry",
        "INSERT INTO audit_log (at_ms, actor, address, action, app_id, steam_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &unix_now_ms(),
            &draft.actor,
            &draft.address,
            &draft.action,
            &draft.app.map(app_sql),
            &draft.user.map(user_sql),
            &draft.detail.to_string(),
        ],
    )
    .await?;
    match row {
        Some(row) => row.try_get(0).context("recording an audit entry"),
        None => Err(corrupt("an audit insert returned no id")),
    }
}

pub(crate) async fn list<C: GenericClient>(
    client: &C,
    q: AuditQuery,
) -> Result<Vec<AuditRecord>, Failure> {
    let limit = q.limit.min(MAX_AUDIT_PAGE) as i64;
    let before = q.before.unwrap_or(i64::MAX);
    let app = q.app.map(app_sql);
    let rows = query(
        client,
        "listing the audit log",
        &format!(
            "{AUDIT_SELECT} WHERE id < $1 AND ($2::bigint IS NULL OR app_id = $2) \
             ORDER BY id DESC LIMIT $3"
        ),
        &[&before, &app, &limit],
    )
    .await?;
    rows.iter().map(audit_record).collect()
}

/// Resets a user and records it, with the stored progress before, in one
/// transaction; the lock order of a store.
pub(crate) async fn reset_user(
    client: &mut ClientWrapper,
    cache: &crate::rows::SchemaCache,
    (app, user): (AppId, SteamId),
    (scope, now): (ResetScope, UnixTime),
    draft: &AuditDraft,
) -> Result<UserProgress, Failure> {
    let tx = client.transaction().await.context("beginning a reset")?;
    lock_app(&tx, app, false).await?;
    let schema = existing_schema(&tx, cache, app).await?.schema;
    let Some(version) = lock_user(&tx, app, user).await? else {
        // Nothing to reset, nothing to record (`audit::removes_something`).
        tx.rollback().await.context("ending a reset of nobody")?;
        return Ok(UserProgress::default());
    };
    // The stored rows, not the visible ones: rows of achievements the schema
    // dropped are deleted too, and their counters must follow.
    let stored = load_progress(&tx, app, user, version).await?;
    let (next, relocked) = reset(&stored, scope, &schema);
    let relocked = if scope.achievements {
        relocked
    } else {
        Vec::new()
    };
    let key: [&dyn crate::script::Literal; 2] = [&app_sql(app), &user_sql(user)];
    let mut writes = Script::new("resetting a user");
    writes.execute(&DELETE_STATS, &key)?;
    // The stats the reset keeps (server-set ones, in a user's own reset).
    let kept: Vec<_> = next.stats.iter().collect();
    write_stats(&mut writes, app, user, &kept)?;
    if scope.achievements {
        writes.execute(&DELETE_ACHIEVEMENTS, &key)?;
    }
    let version_at = write_version(&mut writes, app, user, next.version)?;
    let moved = FigureChanges::of_reset(&schema, &stored, &next, &relocked, utc_day(now));
    moved.check_finite().map_err(Failure::Store)?;
    figures::write(&moved, &mut writes, app, shard_of(user_sql(user)))?;
    let answers = writes.run(&*tx).await?;
    let updated = answers[version_at].affected;
    if updated != 1 {
        return Err(corrupt(format_args!(
            "user {user} of app {app}: {updated} rows for one locked user"
        )));
    }
    if audit::removes_something(&stored, &next) {
        let draft = draft
            .clone()
            .about(app, Some(user))
            .with_detail(audit::reset_detail(scope, &stored, next.version));
        insert(&tx, &draft).await?;
    }
    tx.commit().await.context("committing a reset")?;
    Ok(visible(next, &schema))
}

/// Puts back what the reset of record `id` removed, reverses the figures it
/// moved, records the undo and marks the reset undone, in one transaction.
pub(crate) async fn undo_reset(
    client: &mut ClientWrapper,
    cache: &crate::rows::SchemaCache,
    id: i64,
    now: UnixTime,
    draft: &AuditDraft,
) -> Result<Undone, Failure> {
    let tx = client.transaction().await.context("beginning an undo")?;
    // The record's row lock keeps two undos of one reset apart.
    let row = query_opt(
        &tx,
        "reading an audit record",
        &format!("{AUDIT_SELECT} WHERE id = $1 FOR UPDATE"),
        &[&id],
    )
    .await?
    .ok_or_else(|| Failure::Store(StoreError::NotFound(format!("no audit record {id}"))))?;
    let record = audit_record(&row)?;
    let (app, user) = audit::undoable(&record).map_err(Failure::Store)?;
    let (before, after_version) = audit::reset_before(&record.detail).map_err(Failure::Store)?;
    lock_app(&tx, app, false).await?;
    let schema = existing_schema(&tx, cache, app).await?.schema;
    let current = match lock_user(&tx, app, user).await? {
        Some(version) => load_progress(&tx, app, user, version).await?,
        None => UserProgress::default(),
    };
    audit::check_undo(&record, &current, after_version).map_err(Failure::Store)?;
    let restored = UserProgress {
        version: current.version + 1,
        ..before
    };
    let key: [&dyn crate::script::Literal; 2] = [&app_sql(app), &user_sql(user)];
    let mut writes = Script::new("undoing a reset");
    writes.execute(&DELETE_STATS, &key)?;
    writes.execute(&DELETE_ACHIEVEMENTS, &key)?;
    let stats: Vec<_> = restored.stats.iter().collect();
    write_stats(&mut writes, app, user, &stats)?;
    let achievements: Vec<_> = restored
        .achievements
        .iter()
        .map(|(name, state)| (name, Some(state)))
        .collect();
    write_achievements(&mut writes, app, user, &achievements)?;
    write_version(&mut writes, app, user, restored.version)?;
    let moved = FigureChanges::of_undo(
        &schema,
        &restored,
        &current,
        record.detail["achievements"].as_bool().unwrap_or(false),
        utc_day(now),
    );
    moved.check_finite().map_err(Failure::Store)?;
    figures::write(&moved, &mut writes, app, shard_of(user_sql(user)))?;
    writes.run(&*tx).await?;
    let draft = draft
        .clone()
        .about(app, Some(user))
        .with_detail(serde_json::json!({"undid": id, "version": restored.version}));
    let undo_id = insert(&tx, &draft).await?;
    execute(
        &tx,
        "marking a reset undone",
        "UPDATE audit_log SET undone_by = $2 WHERE id = $1",
        &[&id, &undo_id],
    )
    .await?;
    tx.commit().await.context("committing an undo")?;
    Ok(Undone {
        app,
        user,
        progress: visible(restored, &schema),
    })
}

pub(crate) async fn revoke_tokens(
    client: &mut ClientWrapper,
    r: TokenRevocation,
    draft: &AuditDraft,
) -> Result<(), Failure> {
    let tx = client
        .transaction()
        .await
        .context("beginning a revocation")?;
    execute(
        &tx,
        "revoking tokens",
        "INSERT INTO token_revocations (app_id, steam_id, not_before_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (app_id, steam_id) DO UPDATE \
         SET not_before_ms = greatest(token_revocations.not_before_ms, excluded.not_before_ms)",
        &[
            &app_sql(r.app),
            &r.user.map_or(0, user_sql),
            &r.not_before_ms,
        ],
    )
    .await?;
    insert(&tx, &draft.clone().about(r.app, r.user)).await?;
    tx.commit().await.context("committing a revocation")
}

pub(crate) async fn set_display_name<C: GenericClient>(
    client: &C,
    app: AppId,
    user: SteamId,
    name: Option<&str>,
) -> Result<(), Failure> {
    match name {
        Some(name) => {
            execute(
                client,
                "setting a display name",
                "INSERT INTO user_profiles (app_id, steam_id, display_name, updated_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, steam_id) \
                 DO UPDATE SET display_name = excluded.display_name, updated_ms = excluded.updated_ms",
                &[&app_sql(app), &user_sql(user), &name, &unix_now_ms()],
            )
            .await?
        }
        None => {
            execute(
                client,
                "removing a display name",
                "DELETE FROM user_profiles WHERE app_id = $1 AND steam_id = $2",
                &[&app_sql(app), &user_sql(user)],
            )
            .await?
        }
    };
    Ok(())
}

pub(crate) async fn display_name<C: GenericClient>(
    client: &C,
    app: AppId,
    user: SteamId,
) -> Result<Option<String>, Failure> {
    let what = "reading a display name";
    query_opt(
        client,
        what,
        "SELECT display_name FROM user_profiles WHERE app_id = $1 AND steam_id = $2",
        &[&app_sql(app), &user_sql(user)],
    )
    .await?
    .map(|row| row.try_get(0).context(what))
    .transpose()
}

pub(crate) async fn revocations<C: GenericClient>(client: &C) -> Result<TokenRevocations, Failure> {
    let rows = query(
        client,
        "reading token revocations",
        "SELECT app_id, steam_id, not_before_ms FROM token_revocations",
        &[],
    )
    .await?;
    let keys = query(
        client,
        "reading revoked keys",
        "SELECT id FROM keys WHERE revoked",
        &[],
    )
    .await?;
    let what = "reading token revocations";
    let revocations = rows
        .iter()
        .map(|row| {
            let user: i64 = row.try_get(1).context(what)?;
            Ok(TokenRevocation {
                app: app_from_sql(row.try_get(0).context(what)?)?,
                user: revoked_user(user)?,
                not_before_ms: row.try_get(2).context(what)?,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let revoked_keys = keys
        .iter()
        .map(|row| row.try_get::<_, i64>(0).context("reading revoked keys"))
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(TokenRevocations {
        revocations,
        revoked_keys,
    })
}

/// The secrets in `meta`; `None` when there is no current one yet.
pub(crate) async fn secrets<C: GenericClient>(
    client: &C,
) -> Result<Option<SigningSecrets>, Failure> {
    let rows = query(
        client,
        "reading the signing secrets",
        "SELECT key, value FROM meta WHERE key IN ('signing_secret', \
         'previous_signing_secret', 'previous_signing_secret_until')",
        &[],
    )
    .await?;
    let found = rows
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<_, String>(0)
                    .context("reading the signing secrets")?,
                row.try_get::<_, Vec<u8>>(1)
                    .context("reading the signing secrets")?,
            ))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(SigningSecrets::from_meta(found))
}

/// Moves the current secret to `previous` (verifying until `grace_until`)
/// and makes `fresh` current, under a lock of the secret's row.
pub(crate) async fn rotate(
    client: &mut ClientWrapper,
    fresh: &[u8],
    grace_until: i64,
) -> Result<(), Failure> {
    let tx = client.transaction().await.context("beginning a rotation")?;
    let current = query_opt(
        &tx,
        "reading the signing secret",
        "SELECT value FROM meta WHERE key = 'signing_secret' FOR UPDATE",
        &[],
    )
    .await?;
    let until = grace_until.to_be_bytes().to_vec();
    let upsert = "INSERT INTO meta (key, value) VALUES ($1, $2) \
                  ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    if let Some(row) = current {
        let current: Vec<u8> = row.try_get(0).context("reading the signing secret")?;
        execute(
            &tx,
            "rotating the signing secret",
            upsert,
            &[&"previous_signing_secret", &current],
        )
        .await?;
        execute(
            &tx,
            "rotating the signing secret",
            upsert,
            &[&"previous_signing_secret_until", &until],
        )
        .await?;
    }
    execute(
        &tx,
        "rotating the signing secret",
        upsert,
        &[&"signing_secret", &fresh],
    )
    .await?;
    tx.commit().await.context("committing a rotation")
}
