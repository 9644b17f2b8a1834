//! Row encodings and the SQL shared by the writer thread and the read pool.
//!
//! Every function takes a plain `&Connection` (a transaction or savepoint
//! derefs to one), so the caller decides the transaction boundaries.

use std::collections::BTreeMap;
use std::sync::Arc;

use laurel_core::{
    AchievementState, ApiName, AppId, Schema, SchemaDoc, StatDef, StatKind, StatValue, SteamId,
    UserProgress,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};

use laurel_store::figures;
use laurel_store::{
    DailyChange, GlobalStat, GlobalStatsQuery, MAX_HISTORY_DAYS, StatTotal, StoreError,
    StoredSchema,
};

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

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("database holds an invalid value: {what}"))
}

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

pub(crate) fn app_sql(app: AppId) -> i64 {
    i64::from(app.get())
}

pub(crate) fn app_from_sql(value: i64) -> Result<AppId, StoreError> {
    u32::try_from(value)
        .ok()
        .and_then(|v| AppId::new(v).ok())
        .ok_or_else(|| corrupt(format_args!("app id {value}")))
}

/// SQLite integers are i64 and Steam ids are u64: ids are stored bit-cast
/// (`as i64`), so ids above `i64::MAX` are negative in the database. The
/// cast is a bijection, so equality is all most statements need; the one
/// listing users in id order reads two ranges
/// ([`crate::stored_id_ranges_after`]) to get u64 order.
pub(crate) fn user_sql(user: SteamId) -> i64 {
    user.get() as i64
}

pub(crate) fn name_from_sql(text: String) -> Result<ApiName, StoreError> {
    ApiName::parse(&text).map_err(|e| corrupt(format_args!("name {text:?}: {e}")))
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
    // A stored schema passed validation when it was put; failing now means the
    // rules changed under it, which is worth a loud error rather than a guess.
    let doc = SchemaDoc::from_json(&json)
        .map_err(|p| corrupt(format_args!("schema of app {app}: {p}")))?;
    let schema = Schema::from_doc(&doc).map_err(|problems| {
        let shown: Vec<String> = problems.iter().take(5).map(|p| p.to_string()).collect();
        corrupt(format_args!(
            "schema of app {app} no longer validates: {}",
            shown.join("; ")
        ))
    })?;
    Ok(Some(StoredSchema {
        app,
        version,
        schema: Arc::new(schema),
    }))
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

// Stat kinds in the `stats.kind` column.
const KIND_INT: i64 = 0;
const KIND_FLOAT: i64 = 1;
const KIND_AVGRATE: i64 = 2;

/// The shared code of a kind, as SQLite's integer columns hold it.
pub(crate) fn kind_code(kind: StatKind) -> i64 {
    i64::from(figures::kind_code(kind))
}

pub(crate) use laurel_store::figures::visible;

/// One `stats` row as stored, before its kind is checked.
struct StatRow {
    name: String,
    kind: i64,
    int_value: Option<i64>,
    float_value: Option<f64>,
    avg_count: Option<f64>,
    avg_seconds: Option<f64>,
}

impl StatRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<StatRow> {
        Ok(StatRow {
            name: row.get(0)?,
            kind: row.get(1)?,
            int_value: row.get(2)?,
            float_value: row.get(3)?,
            avg_count: row.get(4)?,
            avg_seconds: row.get(5)?,
        })
    }

    fn value(&self) -> Result<StatValue, StoreError> {
        let bad = || corrupt(format_args!("stat {:?} of kind {}", self.name, self.kind));
        match self.kind {
            KIND_INT => {
                let v = self.int_value.ok_or_else(bad)?;
                i32::try_from(v).map(StatValue::Int).map_err(|_| bad())
            }
            // Written from an f32, so the conversion back is exact.
            KIND_FLOAT => self
                .float_value
                .map(|v| StatValue::Float(v as f32))
                .ok_or_else(bad),
            KIND_AVGRATE => match (self.avg_count, self.avg_seconds) {
                (Some(count), Some(seconds)) => Ok(StatValue::AvgRate { count, seconds }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
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

    let mut stats = BTreeMap::new();
    let rows = conn
        .prepare_cached(
            "SELECT name, kind, int_value, float_value, avg_count, avg_seconds \
             FROM stats WHERE app_id = ?1 AND steam_id = ?2",
        )
        .and_then(|mut s| {
            s.query_map(key, StatRow::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a user's stats")?;
    for row in rows {
        let value = row.value()?;
        stats.insert(name_from_sql(row.name)?, value);
    }

    let mut achievements = BTreeMap::new();
    let rows = conn
        .prepare_cached(
            "SELECT name, unlocked, unlock_time, progress_current, progress_max \
             FROM achievements WHERE app_id = ?1 AND steam_id = ?2",
        )
        .and_then(|mut s| {
            s.query_map(key, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a user's achievements")?;
    for (name, unlocked, unlock_time, current, max) in rows {
        let progress = match (current, max) {
            (Some(c), Some(m)) => match (u32::try_from(c), u32::try_from(m)) {
                (Ok(c), Ok(m)) => Some((c, m)),
                _ => return Err(corrupt(format_args!("progress of {name:?}"))),
            },
            _ => None,
        };
        let state = AchievementState {
            unlocked,
            unlock_time,
            progress,
        };
        achievements.insert(name_from_sql(name)?, state);
    }
    Ok(UserProgress {
        version,
        stats,
        achievements,
    })
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
    let (kind, int_value, float_value, avg_count, avg_seconds) = match *value {
        StatValue::Int(v) => (KIND_INT, Some(i64::from(v)), None, None, None),
        StatValue::Float(v) => (KIND_FLOAT, None, Some(f64::from(v)), None, None),
        StatValue::AvgRate { count, seconds } => {
            (KIND_AVGRATE, None, None, Some(count), Some(seconds))
        }
    };
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
        s.execute((
            app_sql(app),
            user_sql(user),
            name.as_str(),
            state.unlocked,
            state.unlock_time,
            state.progress.map(|(c, _)| i64::from(c)),
            state.progress.map(|(_, m)| i64::from(m)),
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

fn total_from_columns(kind: StatKind, int: i64, float: f64) -> StatTotal {
    match kind {
        StatKind::Int => StatTotal::Int(int),
        StatKind::Float | StatKind::AvgRate => StatTotal::Float(float),
    }
}

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
            s.query_map((app_sql(app), def.name.as_str(), kind), StatRow::read)?
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
        let still = new
            .stat(&name)
            .is_some_and(|d| d.aggregated && kind_code(d.kind) == kind);
        if !still {
            conn.prepare_cached(
                "DELETE FROM stat_totals WHERE app_id = ?1 AND name = ?2 AND kind = ?3",
            )
            .and_then(|mut s| s.execute((app_sql(app), &name, kind)))
            .context("dropping a stat total")?;
        }
    }
    for def in new.stats().iter().filter(|d| d.aggregated) {
        let was = old
            .and_then(|o| o.stat(def.name.as_str()))
            .is_some_and(|d| d.aggregated && d.kind == def.kind);
        if !was {
            recount_stat_total(conn, app, def)?;
        }
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
    if let Some((first, last)) = query.history {
        let days = last.saturating_sub(first).saturating_add(1);
        if first > last || days > i64::from(MAX_HISTORY_DAYS) {
            return Err(StoreError::Backend(format!(
                "history of days {first}..={last} is not 1..={MAX_HISTORY_DAYS} days"
            )));
        }
    }
    let wanted = |def: &&StatDef| {
        def.aggregated
            && (query.names.is_empty() || query.names.iter().any(|n| n == def.name.as_str()))
    };
    let mut out = Vec::new();
    for def in schema.stats().iter().filter(wanted) {
        let kind = kind_code(def.kind);
        let key = (app_sql(app), def.name.as_str(), kind);
        let row = conn
            .prepare_cached(
                "SELECT value_rows, int_sum, float_sum FROM stat_totals \
                 WHERE app_id = ?1 AND name = ?2 AND kind = ?3",
            )
            .and_then(|mut s| {
                s.query_row(key, |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, f64>(2)?,
                    ))
                })
                .optional()
            })
            .context("reading a stat total")?;
        let (value_rows, int_sum, float_sum) = row.unwrap_or((0, 0, 0.0));
        let without_row = users.saturating_sub(value_rows).max(0);
        let total = match def.kind {
            StatKind::Int => StatTotal::Int(
                int_sum.saturating_add((def.default as i64).saturating_mul(without_row)),
            ),
            StatKind::Float | StatKind::AvgRate => {
                StatTotal::Float(float_sum + def.default * without_row as f64)
            }
        };
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
            let mut changes = changes.into_iter().peekable();
            for day in first..=last {
                let change = match changes.peek() {
                    Some(&(d, int, float)) if d == day => {
                        changes.next();
                        total_from_columns(def.kind, int, float)
                    }
                    _ => StatTotal::zero(def.kind),
                };
                history.push(DailyChange { day, change });
            }
        }
        out.push(GlobalStat {
            name: def.name.to_string(),
            kind: def.kind,
            total,
            history,
        });
    }
    Ok(out)
}

/// The columns of an audit record, in the order [`audit_row`] reads them.
pub(crate) const AUDIT_SELECT: &str = "SELECT id, at_ms, actor, address, action, app_id, \
     steam_id, detail, undone_by FROM audit_log";

pub(crate) type AuditRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    Option<i64>,
);

pub(crate) fn audit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

pub(crate) fn audit_record(
    (id, at_ms, actor, address, action, app, user, detail, undone_by): AuditRow,
) -> Result<laurel_store::AuditRecord, StoreError> {
    Ok(laurel_store::AuditRecord {
        id,
        at_ms,
        actor,
        address,
        action,
        app: app.map(app_from_sql).transpose()?,
        user: user
            .map(|u| SteamId::new(u as u64).map_err(|_| corrupt(format_args!("steam id {u}"))))
            .transpose()?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| corrupt(format_args!("audit detail of {id}: {e}")))?,
        undone_by,
    })
}
