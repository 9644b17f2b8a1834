//! Row encodings and the SQL shared by the writer thread and the read pool.
//!
//! Every function takes a plain `&Connection` (a transaction or savepoint
//! derefs to one), so the caller decides the transaction boundaries.

use std::sync::Arc;

use laurel_core::{
    AchievementState, ApiName, AppId, Schema, StatDef, StatKind, StatValue, SteamId, UserProgress,
};
use laurel_store::figures::{
    KeptSums, check_history_range, daily_history, newly_aggregated, queried_stats, stat_total,
    total_still_kept,
};
use laurel_store::rows::{
    AchievementRow, AuditRow, StatColumns, StatRow, parse_schema, progress_columns,
    progress_from_rows,
};
use laurel_store::{GlobalStat, GlobalStatsQuery, StoreError, StoredSchema};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};

/// Attaches what the store was doing to a SQLite error.
pub(crate) trait Context<T> {
    fn context(self, what: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| sql_error(what, e))
    }
}

/// A busy or locked database is worth retrying (another process holds the
/// lock past the busy timeout); anything else is a failure.
pub(crate) fn sql_error(what: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("{what}: database is busy ({e})"))
        }
        _ => StoreError::Backend(format!("{what}: {e}")),
    }
}

pub(crate) use laurel_store::rows::{
    app_from_sql, app_sql, corrupt, count, revoked_user, user_sql,
};

/// Rebuilds an error for every request of a failed group (errors are not `Clone`).
pub(crate) fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::UnknownApp(app) => StoreError::UnknownApp(*app),
        StoreError::IdempotencyConflict { key } => {
            StoreError::IdempotencyConflict { key: key.clone() }
        }
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
        StoreError::AlreadyExists(m) => StoreError::AlreadyExists(m.clone()),
        StoreError::InvalidImport(m) => StoreError::InvalidImport(m.clone()),
        StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
    }
}

pub(crate) use laurel_store::SchemaCache;

pub(crate) fn schema_version(conn: &Connection, app: AppId) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT schema_version FROM apps WHERE app_id = ?1")
        .and_then(|mut s| {
            s.query_row([app_sql(app)], |r| r.get::<_, i64>(0))
                .optional()
        })
        .context("reading the schema version")?
        .map(|v| u64::try_from(v).map_err(|_| corrupt(format_args!("schema version {v}"))))
        .transpose()
}

pub(crate) fn load_schema(
    conn: &Connection,
    app: AppId,
) -> Result<Option<StoredSchema>, StoreError> {
    let row = conn
        .prepare_cached("SELECT schema_version, schema_json FROM apps WHERE app_id = ?1")
        .and_then(|mut s| {
            s.query_row([app_sql(app)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()
        })
        .context("reading a schema")?;
    let Some((version, json)) = row else {
        return Ok(None);
    };
    let version =
        u64::try_from(version).map_err(|_| corrupt(format_args!("schema version {version}")))?;
    parse_schema(app, version, &json).map(Some)
}

/// The schema the writer validates against: the cached one when its version
/// is the one in the database (so a schema changed by another process is
/// noticed), else parsed afresh.
pub(crate) fn current_schema(
    conn: &Connection,
    cache: &SchemaCache,
    app: AppId,
) -> Result<Arc<Schema>, StoreError> {
    let version = schema_version(conn, app)?.ok_or(StoreError::UnknownApp(app))?;
    if let Some(cached) = cache.get(app)
        && cached.version == version
    {
        return Ok(cached.schema);
    }
    let stored = load_schema(conn, app)?.ok_or(StoreError::UnknownApp(app))?;
    let schema = Arc::clone(&stored.schema);
    cache.offer(stored);
    Ok(schema)
}

/// The shared code of a kind, as SQLite's integer columns hold it.
pub(crate) fn kind_code(kind: StatKind) -> i64 {
    i64::from(laurel_store::rows::kind_code(kind))
}

pub(crate) use laurel_store::figures::visible;

/// One `stats` row as stored (`name, kind, int_value, float_value,
/// avg_count, avg_seconds`), before its kind is checked.
fn stat_row(row: &Row<'_>) -> rusqlite::Result<StatRow> {
    Ok(StatRow {
        name: row.get(0)?,
        columns: StatColumns {
            kind: row.get(1)?,
            int_value: row.get(2)?,
            // Written from an f32, so the conversion back is exact.
            float_value: row.get::<_, Option<f64>>(3)?.map(|v| v as f32),
            avg_count: row.get(4)?,
            avg_seconds: row.get(5)?,
        },
    })
}

/// The stored progress of a user, as rows say, including values the current
/// schema no longer defines (see [`visible`]).
pub(crate) fn load_progress(
    conn: &Connection,
    app: AppId,
    user: SteamId,
) -> Result<UserProgress, StoreError> {
    let key = (app_sql(app), user_sql(user));
    let version = conn
        .prepare_cached("SELECT version FROM users WHERE app_id = ?1 AND steam_id = ?2")
        .and_then(|mut s| s.query_row(key, |r| r.get::<_, i64>(0)).optional())
        .context("reading a user's version")?;
    let Some(version) = version else {
        // No row: never written, so no stat or achievement rows either.
        return Ok(UserProgress::default());
    };
    let version =
        u64::try_from(version).map_err(|_| corrupt(format_args!("user version {version}")))?;

    let stats = conn
        .prepare_cached(
            "SELECT name, kind, int_value, float_value, avg_count, avg_seconds \
             FROM stats WHERE app_id = ?1 AND steam_id = ?2",
        )
        .and_then(|mut s| {
            s.query_map(key, stat_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a user's stats")?;
    let achievements = conn
        .prepare_cached(
            "SELECT name, unlocked, unlock_time, progress_current, progress_max \
             FROM achievements WHERE app_id = ?1 AND steam_id = ?2",
        )
        .and_then(|mut s| {
            s.query_map(key, |r| {
                Ok(AchievementRow {
                    name: r.get(0)?,
                    unlocked: r.get(1)?,
                    unlock_time: r.get(2)?,
                    current: r.get(3)?,
                    max: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a user's achievements")?;
    progress_from_rows(
        version,
        stats.into_iter().map(Ok),
        achievements.into_iter().map(Ok),
    )
}

/// Writes a stat's value. `exists` says the caller read a row of the same
/// kind: a plain UPDATE then does (one B-tree search instead of the upsert's
/// two); a row that turns out to be missing falls back to the upsert.
pub(crate) fn write_stat(
    conn: &Connection,
    app: AppId,
    user: SteamId,
    name: &ApiName,
    value: &StatValue,
    exists: bool,
) -> Result<(), StoreError> {
    let StatColumns {
        kind,
        int_value,
        float_value,
        avg_count,
        avg_seconds,
    } = StatColumns::of(value);
    let float_value = float_value.map(f64::from);
    if exists {
        let changed = conn
            .prepare_cached(
                "UPDATE stats SET int_value = ?4, float_value = ?5, avg_count = ?6, \
                 avg_seconds = ?7 WHERE app_id = ?1 AND steam_id = ?2 AND name = ?3",
            )
            .and_then(|mut s| {
                s.execute((
                    app_sql(app),
                    user_sql(user),
                    name.as_str(),
                    int_value,
                    float_value,
                    avg_count,
                    avg_seconds,
                ))
            })
            .context("writing a stat")?;
        if changed > 0 {
            return Ok(());
        }
    }
    conn.prepare_cached(
        "INSERT INTO stats (app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (app_id, steam_id, name) DO UPDATE SET kind = excluded.kind, \
         int_value = excluded.int_value, float_value = excluded.float_value, \
         avg_count = excluded.avg_count, avg_seconds = excluded.avg_seconds",
    )
    .and_then(|mut s| {
        s.execute((
            app_sql(app),
            user_sql(user),
            name.as_str(),
            kind,
            int_value,
            float_value,
            avg_count,
            avg_seconds,
        ))
    })
    .context("writing a stat")?;
    Ok(())
}

/// Writes an achievement's state, or deletes its row when it went back to
/// the default (cleared).
pub(crate) fn write_achievement(
    conn: &Connection,
    app: AppId,
    user: SteamId,
    name: &ApiName,
    state: Option<&AchievementState>,
) -> Result<(), StoreError> {
    let Some(state) = state else {
        conn.prepare_cached(
            "DELETE FROM achievements WHERE app_id = ?1 AND steam_id = ?2 AND name = ?3",
        )
        .and_then(|mut s| s.execute((app_sql(app), user_sql(user), name.as_str())))
        .context("clearing an achievement")?;
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO achievements (app_id, steam_id, name, unlocked, unlock_time, progress_current, progress_max) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (app_id, steam_id, name) DO UPDATE SET unlocked = excluded.unlocked, \
         unlock_time = excluded.unlock_time, progress_current = excluded.progress_current, \
         progress_max = excluded.progress_max",
    )
    .and_then(|mut s| {
        let (current, max) = progress_columns(state);
        s.execute((
            app_sql(app),
            user_sql(user),
            name.as_str(),
            state.unlocked,
            state.unlock_time,
            current,
            max,
        ))
    })
    .context("writing an achievement")?;
    Ok(())
}

/// Writes a user's version; `exists` as for [`write_stat`].
pub(crate) fn write_version(
    conn: &Connection,
    app: AppId,
    user: SteamId,
    version: u64,
    exists: bool,
) -> Result<(), StoreError> {
    let version = i64::try_from(version)
        .map_err(|_| StoreError::Backend(format!("user version {version} overflows")))?;
    if exists {
        let changed = conn
            .prepare_cached("UPDATE users SET version = ?3 WHERE app_id = ?1 AND steam_id = ?2")
            .and_then(|mut s| s.execute((app_sql(app), user_sql(user), version)))
            .context("writing a user's version")?;
        if changed > 0 {
            return Ok(());
        }
    }
    conn.prepare_cached(
        "INSERT INTO users (app_id, steam_id, version) VALUES (?1, ?2, ?3) \
         ON CONFLICT (app_id, steam_id) DO UPDATE SET version = excluded.version",
    )
    .and_then(|mut s| s.execute((app_sql(app), user_sql(user), version)))
    .context("writing a user's version")?;
    Ok(())
}

// ---- aggregated stats: totals and daily history ----

/// Counts an aggregated stat from the stored rows: run when a stat becomes
/// aggregated (a schema change, rare), never on a store.
pub(crate) fn recount_stat_total(
    conn: &Connection,
    app: AppId,
    def: &StatDef,
) -> Result<(), StoreError> {
    let kind = kind_code(def.kind);
    let rows = conn
        .prepare_cached(
            "SELECT name, kind, int_value, float_value, avg_count, avg_seconds \
             FROM stats WHERE app_id = ?1 AND name = ?2 AND kind = ?3",
        )
        .and_then(|mut s| {
            s.query_map((app_sql(app), def.name.as_str(), kind), stat_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("counting an aggregated stat")?;
    let mut int_sum: i64 = 0;
    let mut float_sum: f64 = 0.0;
    for row in &rows {
        let v = row.value()?.read(def);
        match def.kind {
            StatKind::Int => int_sum += v as i64,
            StatKind::Float | StatKind::AvgRate => float_sum += v,
        }
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO stat_totals (app_id, name, kind, value_rows, int_sum, float_sum) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            app_sql(app),
            def.name.as_str(),
            kind,
            rows.len() as i64,
            int_sum,
            float_sum,
        ))
    })
    .context("writing a recounted stat total")?;
    Ok(())
}

/// After a schema change: totals of stats that are no longer aggregated (or
/// changed kind) are dropped, stats that became aggregated are counted.
pub(crate) fn reconcile_stat_totals(
    conn: &Connection,
    app: AppId,
    old: Option<&Schema>,
    new: &Schema,
) -> Result<(), StoreError> {
    let kept = conn
        .prepare_cached("SELECT name, kind FROM stat_totals WHERE app_id = ?1")
        .and_then(|mut s| {
            s.query_map([app_sql(app)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing stat totals")?;
    for (name, kind) in kept {
        let still = i16::try_from(kind).is_ok_and(|kind| total_still_kept(new, &name, kind));
        if !still {
            conn.prepare_cached(
                "DELETE FROM stat_totals WHERE app_id = ?1 AND name = ?2 AND kind = ?3",
            )
            .and_then(|mut s| s.execute((app_sql(app), &name, kind)))
            .context("dropping a stat total")?;
        }
    }
    for def in newly_aggregated(old, new) {
        recount_stat_total(conn, app, def)?;
    }
    Ok(())
}

/// The kept figures of the aggregated stats `query` names, for an app with
/// `users` users. No scan: one point read per stat, one range read per history.
pub(crate) fn load_global_stats(
    conn: &Connection,
    app: AppId,
    schema: &Schema,
    users: i64,
    query: &GlobalStatsQuery,
) -> Result<Vec<GlobalStat>, StoreError> {
    check_history_range(query)?;
    let mut out = Vec::new();
    for def in queried_stats(schema, query) {
        let kind = kind_code(def.kind);
        let key = (app_sql(app), def.name.as_str(), kind);
        let sums = conn
            .prepare_cached(
                "SELECT value_rows, int_sum, float_sum FROM stat_totals \
                 WHERE app_id = ?1 AND name = ?2 AND kind = ?3",
            )
            .and_then(|mut s| {
                s.query_row(key, |r| {
                    Ok(KeptSums {
                        value_rows: r.get(0)?,
                        int_sum: r.get(1)?,
                        float_sum: r.get(2)?,
                    })
                })
                .optional()
            })
            .context("reading a stat total")?;
        let mut history = Vec::new();
        if let Some((first, last)) = query.history {
            let changes = conn
                .prepare_cached(
                    "SELECT day, int_change, float_change FROM stat_history \
                     WHERE app_id = ?1 AND name = ?2 AND kind = ?3 AND day BETWEEN ?4 AND ?5 \
                     ORDER BY day",
                )
                .and_then(|mut s| {
                    s.query_map((key.0, key.1, key.2, first, last), |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, f64>(2)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .context("reading a stat's history")?;
            history = daily_history(def.kind, (first, last), changes);
        }
        out.push(GlobalStat {
            name: def.name.to_string(),
            kind: def.kind,
            total: stat_total(def, users, sums.unwrap_or_default()),
            history,
        });
    }
    Ok(out)
}

pub(crate) use laurel_store::rows::AUDIT_SELECT;

/// An audit record's row, in the order of [`AUDIT_SELECT`].
pub(crate) fn audit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: row.get(0)?,
        at_ms: row.get(1)?,
        actor: row.get(2)?,
        address: row.get(3)?,
        action: row.get(4)?,
        app: row.get(5)?,
        user: row.get(6)?,
        detail: row.get(7)?,
        undone_by: row.get(8)?,
    })
}

pub(crate) fn key_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(i64, i64, String, i64, bool)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

pub(crate) fn key_record(
    (id, app, label, created, revoked): (i64, i64, String, i64, bool),
) -> Result<laurel_store::KeyRecord, StoreError> {
    Ok(laurel_store::KeyRecord {
        id,
        app: app_from_sql(app)?,
        label,
        created,
        revoked,
    })
}

/// The app's user count as `apps.users` keeps it (0 for no such row).
pub(crate) fn app_user_count(conn: &Connection, app: AppId) -> Result<i64, StoreError> {
    let users: Option<i64> = conn
        .prepare_cached("SELECT users FROM apps WHERE app_id = ?1")
        .and_then(|mut s| s.query_row([app_sql(app)], |r| r.get(0)).optional())
        .context("reading the app's user count")?;
    Ok(users.unwrap_or(0))
}
