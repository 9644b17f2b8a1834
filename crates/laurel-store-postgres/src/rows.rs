//! Row encodings and the statements on one user's rows, shared by the
//! reads and the write transactions. Every function takes a
//! [`GenericClient`] (a pooled connection or a transaction), or adds to a
//! [`Script`], so the caller decides the transaction boundaries.

use deadpool_postgres::GenericClient;
use laurel_core::{AchievementState, ApiName, AppId, StatDef, StatValue, SteamId, UserProgress};
use laurel_store::rows::kind_of;
use laurel_store::rows::{
    AchievementRow, StatColumns, StatRow, idempotency_record, parse_schema, progress_columns,
};
use laurel_store::{IdempotencyRecord, StoreError, StoredSchema};
use tokio_postgres::{Row, SimpleQueryRow};

use crate::connection::{Context, Failure, execute, join_pipelined, query, query_opt};
use crate::script::{Array, Literal, Prepared, Script};

/// [`laurel_store::rows::corrupt`], as a [`Failure`].
pub(crate) fn corrupt(what: impl std::fmt::Display) -> Failure {
    Failure::Store(laurel_store::rows::corrupt(what))
}

pub(crate) use laurel_store::rows::{NewKeyRecord, app_sql, user_sql};

pub(crate) fn app_from_sql(value: i64) -> Result<AppId, Failure> {
    Ok(laurel_store::rows::app_from_sql(value)?)
}

/// The class of Laurel's per-app advisory locks (two-argument form; the
/// one-argument bigint form used by migrations is a separate lock space).
const APP_LOCK_CLASS: i32 = 0x4c61_7572; // "Laur"

/// The object of an app's advisory lock: the u32 app id bit-cast to int4.
pub(crate) fn app_lock_key(app: AppId) -> i32 {
    app.get() as i32
}

/// Waits until no schema change of the app is running, and keeps schema
/// changes out until the transaction ends. Stores and resets take it shared,
/// `put_schema` exclusive: a batch is then validated and counted against the
/// schema that is current when it commits, and the recount of a stat that
/// becomes aggregated sees no store in flight.
pub(crate) async fn lock_app<C: GenericClient>(
    client: &C,
    app: AppId,
    exclusive: bool,
) -> Result<(), Failure> {
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1, $2)"
    } else {
        LOCK_APP_SHARED.sql
    };
    execute(
        client,
        LOCKING_APP,
        sql,
        &[&APP_LOCK_CLASS, &app_lock_key(app)],
    )
    .await
    .map(drop)
}

pub(crate) const LOCKING_APP: &str = "waiting for the app's schema lock";
pub(crate) const LOCK_APP_SHARED: Prepared = Prepared {
    name: "laurel_lock_app_shared",
    params: "int4, int4",
    sql: "SELECT pg_advisory_xact_lock_shared($1, $2)",
};

/// The parameters of [`LOCK_APP_SHARED`] for `app`.
pub(crate) fn app_lock(app: AppId) -> [i32; 2] {
    [APP_LOCK_CLASS, app_lock_key(app)]
}

pub(crate) fn count(value: i64, what: &str) -> Result<u64, Failure> {
    Ok(laurel_store::rows::count(value, what)?)
}

/// A column the statement never leaves NULL.
pub(crate) fn required<T>(value: Option<T>, what: &str) -> Result<T, Failure> {
    value.ok_or_else(|| corrupt(format_args!("{what} is NULL")))
}

/// A row's columns by position, whichever protocol brought it: binary
/// values (a [`Row`] of the extended protocol) or text (a
/// [`SimpleQueryRow`] of a [`Script`]). One decoder per table serves both.
pub(crate) trait Cells {
    fn int2(&self, i: usize, what: &'static str) -> Result<Option<i16>, Failure>;
    fn int8(&self, i: usize, what: &'static str) -> Result<Option<i64>, Failure>;
    fn float4(&self, i: usize, what: &'static str) -> Result<Option<f32>, Failure>;
    fn float8(&self, i: usize, what: &'static str) -> Result<Option<f64>, Failure>;
    fn boolean(&self, i: usize, what: &'static str) -> Result<Option<bool>, Failure>;
    fn text(&self, i: usize, what: &'static str) -> Result<Option<String>, Failure>;
}

impl Cells for Row {
    fn int2(&self, i: usize, what: &'static str) -> Result<Option<i16>, Failure> {
        self.try_get(i).context(what)
    }
    fn int8(&self, i: usize, what: &'static str) -> Result<Option<i64>, Failure> {
        self.try_get(i).context(what)
    }
    fn float4(&self, i: usize, what: &'static str) -> Result<Option<f32>, Failure> {
        self.try_get(i).context(what)
    }
    fn float8(&self, i: usize, what: &'static str) -> Result<Option<f64>, Failure> {
        self.try_get(i).context(what)
    }
    fn boolean(&self, i: usize, what: &'static str) -> Result<Option<bool>, Failure> {
        self.try_get(i).context(what)
    }
    fn text(&self, i: usize, what: &'static str) -> Result<Option<String>, Failure> {
        self.try_get(i).context(what)
    }
}

/// Text as PostgreSQL writes it: integers in decimal; floats as the
/// shortest decimal that reads back exactly (`extra_float_digits` > 0, set
/// for every session) or `NaN`, `Infinity`, `-Infinity`, which Rust reads
/// too; booleans as `t` and `f`.
impl Cells for SimpleQueryRow {
    fn int2(&self, i: usize, what: &'static str) -> Result<Option<i16>, Failure> {
        parse_cell(self, i, what)
    }
    fn int8(&self, i: usize, what: &'static str) -> Result<Option<i64>, Failure> {
        parse_cell(self, i, what)
    }
    fn float4(&self, i: usize, what: &'static str) -> Result<Option<f32>, Failure> {
        parse_cell(self, i, what)
    }
    fn float8(&self, i: usize, what: &'static str) -> Result<Option<f64>, Failure> {
        parse_cell(self, i, what)
    }
    fn boolean(&self, i: usize, what: &'static str) -> Result<Option<bool>, Failure> {
        match self.try_get(i).context(what)? {
            None => Ok(None),
            Some("t") => Ok(Some(true)),
            Some("f") => Ok(Some(false)),
            Some(other) => Err(corrupt(format_args!("{what}: {other:?} is not a boolean"))),
        }
    }
    fn text(&self, i: usize, what: &'static str) -> Result<Option<String>, Failure> {
        Ok(self.try_get(i).context(what)?.map(str::to_owned))
    }
}

impl<T: Cells + ?Sized> Cells for &T {
    fn int2(&self, i: usize, what: &'static str) -> Result<Option<i16>, Failure> {
        (**self).int2(i, what)
    }
    fn int8(&self, i: usize, what: &'static str) -> Result<Option<i64>, Failure> {
        (**self).int8(i, what)
    }
    fn float4(&self, i: usize, what: &'static str) -> Result<Option<f32>, Failure> {
        (**self).float4(i, what)
    }
    fn float8(&self, i: usize, what: &'static str) -> Result<Option<f64>, Failure> {
        (**self).float8(i, what)
    }
    fn boolean(&self, i: usize, what: &'static str) -> Result<Option<bool>, Failure> {
        (**self).boolean(i, what)
    }
    fn text(&self, i: usize, what: &'static str) -> Result<Option<String>, Failure> {
        (**self).text(i, what)
    }
}

fn parse_cell<T: std::str::FromStr>(
    row: &SimpleQueryRow,
    i: usize,
    what: &'static str,
) -> Result<Option<T>, Failure> {
    match row.try_get(i).context(what)? {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            corrupt(format_args!(
                "{what}: {text:?} is not a {}",
                std::any::type_name::<T>()
            ))
        }),
    }
}

pub(crate) use laurel_store::SchemaCache;

/// The app's current schema, as the statement's snapshot sees it: the
/// version comes from the database, the parsed schema from the cache when
/// the versions match (the JSON is sent only when they do not).
pub(crate) async fn current_schema<C: GenericClient>(
    client: &C,
    cache: &SchemaCache,
    app: AppId,
) -> Result<Option<StoredSchema>, Failure> {
    let (cached, cached_version) = cached_schema(cache, app);
    let row = query_opt(
        client,
        READING_SCHEMA,
        SELECT_SCHEMA.sql,
        &[&app_sql(app), &cached_version],
    )
    .await?;
    schema_from_row(cache, app, cached, row.as_ref())
}

pub(crate) const READING_SCHEMA: &str = "reading the schema";
/// Parameters: the app, and the version of its cached schema (see [`cached_schema`]).
pub(crate) const SELECT_SCHEMA: Prepared = Prepared {
    name: "laurel_select_schema",
    params: "int8, int8",
    sql: "SELECT schema_version, \
          CASE WHEN schema_version = $2 THEN NULL ELSE schema_json END \
          FROM apps WHERE app_id = $1",
};

/// The cached schema of `app` and its version as [`SELECT_SCHEMA`] takes it
/// (-1 when none is cached).
pub(crate) fn cached_schema(cache: &SchemaCache, app: AppId) -> (Option<StoredSchema>, i64) {
    let cached = cache.get(app);
    let version = cached
        .as_ref()
        .and_then(|c| i64::try_from(c.version).ok())
        .unwrap_or(-1);
    (cached, version)
}

/// The schema [`SELECT_SCHEMA`] answered: the cached one when the versions
/// match, else the stored JSON, parsed and offered to the cache.
pub(crate) fn schema_from_row(
    cache: &SchemaCache,
    app: AppId,
    cached: Option<StoredSchema>,
    row: Option<&impl Cells>,
) -> Result<Option<StoredSchema>, Failure> {
    let Some(row) = row else {
        return Ok(None);
    };
    let version = required(row.int8(0, READING_SCHEMA)?, "schema version")?;
    let json = row.text(1, READING_SCHEMA)?;
    let version = count(version, "schema version")?;
    match (json, cached) {
        (None, Some(cached)) => Ok(Some(cached)),
        (None, None) => Err(corrupt(format_args!("schema of app {app} is missing"))),
        (Some(json), _) => {
            let stored = parse_schema(app, version, &json)?;
            cache.offer(stored.clone());
            Ok(Some(stored))
        }
    }
}

/// Like [`current_schema`], for the calls that need the app to exist.
pub(crate) async fn existing_schema<C: GenericClient>(
    client: &C,
    cache: &SchemaCache,
    app: AppId,
) -> Result<StoredSchema, Failure> {
    current_schema(client, cache, app)
        .await?
        .ok_or(Failure::Store(StoreError::UnknownApp(app)))
}

pub(crate) use laurel_store::figures::visible;
pub(crate) use laurel_store::rows::kind_code;

/// One `stats` row as stored, before its kind is checked. Columns:
/// `name, kind, int_value, float_value, avg_count, avg_seconds`.
pub(crate) fn stat_row(row: &impl Cells) -> Result<StatRow, Failure> {
    let what = "reading a stat";
    Ok(StatRow {
        name: required(row.text(0, what)?, "stat name")?,
        columns: StatColumns {
            kind: i64::from(required(row.int2(1, what)?, "stat kind")?),
            int_value: row.int8(2, what)?,
            float_value: row.float4(3, what)?,
            avg_count: row.float8(4, what)?,
            avg_seconds: row.float8(5, what)?,
        },
    })
}

/// One `achievements` row as [`SELECT_ACHIEVEMENTS`] reads it.
fn achievement_row(row: &impl Cells) -> Result<AchievementRow, Failure> {
    let what = "reading an achievement";
    Ok(AchievementRow {
        name: required(row.text(0, what)?, "achievement name")?,
        unlocked: required(row.boolean(1, what)?, "achievement state")?,
        unlock_time: row.int8(2, what)?,
        current: row.int8(3, what)?,
        max: row.int8(4, what)?,
    })
}

pub(crate) const SELECT_STATS: Prepared = Prepared {
    name: "laurel_select_stats",
    params: "int8, int8",
    sql: "SELECT name, kind, int_value, float_value, avg_count, avg_seconds \
          FROM stats WHERE app_id = $1 AND steam_id = $2",
};
pub(crate) const SELECT_ACHIEVEMENTS: Prepared = Prepared {
    name: "laurel_select_achievements",
    params: "int8, int8",
    sql: "SELECT name, unlocked, unlock_time, progress_current, progress_max \
          FROM achievements WHERE app_id = $1 AND steam_id = $2",
};

pub(crate) const SELECT_VERSION: Prepared = Prepared {
    name: "laurel_select_version",
    params: "int8, int8",
    sql: "SELECT version FROM users WHERE app_id = $1 AND steam_id = $2",
};

/// A user's stored progress and the app's schema, from one snapshot (a
/// REPEATABLE READ READ ONLY transaction) in one round trip: `None` for
/// an unknown app; a user never written is the empty progress at version
/// 0. The stored rows, before [`visible`] hides what the schema dropped.
pub(crate) async fn read_progress(
    client: &tokio_postgres::Client,
    cache: &SchemaCache,
    app: AppId,
    user: SteamId,
) -> Result<Option<(StoredSchema, UserProgress)>, Failure> {
    let (cached, cached_version) = cached_schema(cache, app);
    let (app_id, steam_id) = (app_sql(app), user_sql(user));
    let key: [&dyn Literal; 2] = [&app_id, &steam_id];
    let mut read = Script::new("reading a user's progress");
    read.plain("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    let schema_at = read.execute(&SELECT_SCHEMA, &[&app_id, &cached_version])?;
    let version_at = read.execute(&SELECT_VERSION, &key)?;
    let stats_at = read.execute(&SELECT_STATS, &key)?;
    let achievements_at = read.execute(&SELECT_ACHIEVEMENTS, &key)?;
    read.plain("COMMIT");
    let answers = match read.run(client).await {
        Ok(answers) => answers,
        Err(failure) => {
            // The statements after the failed one, COMMIT included, did not
            // run: the connection goes back to the pool with no transaction.
            client
                .batch_execute("ROLLBACK")
                .await
                .context("ending a failed read")?;
            return Err(failure);
        }
    };
    let Some(schema) = schema_from_row(cache, app, cached, answers[schema_at].rows.first())? else {
        return Ok(None);
    };
    let Some(version) = version_of(answers[version_at].rows.first())? else {
        return Ok(Some((schema, UserProgress::default())));
    };
    let progress = progress_from_rows(
        version,
        &answers[stats_at].rows,
        &answers[achievements_at].rows,
    )?;
    Ok(Some((schema, progress)))
}

/// A user's version, or `None` for a user never written. A row at version 0
/// (only ever seen inside a store's own transaction) is never written too.
pub(crate) fn version_of(row: Option<&impl Cells>) -> Result<Option<u64>, Failure> {
    let Some(row) = row else {
        return Ok(None);
    };
    let version = required(row.int8(0, "reading a user's version")?, "user version")?;
    Ok(Some(count(version, "user version")?).filter(|&v| v > 0))
}

pub(crate) const LOCKING_USER: &str = "locking a user";
/// Parameters: app, user. Its row is the user's lock (see [`lock_user`]).
pub(crate) const LOCK_USER: &str =
    "SELECT version FROM users WHERE app_id = $1 AND steam_id = $2 FOR UPDATE";
/// Locks the user's row until the transaction ends, so that every store and
/// reset of one user, from any node, runs one after the other; returns the
/// version (`None` for a user never written, who has no row to lock: a
/// store creates it, see `crate::store_groups`).
pub(crate) async fn lock_user<C: GenericClient>(
    client: &C,
    app: AppId,
    user: SteamId,
) -> Result<Option<u64>, Failure> {
    let row = query_opt(
        client,
        LOCKING_USER,
        LOCK_USER,
        &[&app_sql(app), &user_sql(user)],
    )
    .await?;
    version_of(row.as_ref())
}

/// The stored stats and achievements of a user at `version`, including values
/// the current schema no longer defines (see [`visible`]). The two reads are
/// sent together (one round trip); in a transaction they see the same rows.
pub(crate) async fn load_progress<C: GenericClient>(
    client: &C,
    app: AppId,
    user: SteamId,
    version: u64,
) -> Result<UserProgress, Failure> {
    let (app_id, steam_id) = (app_sql(app), user_sql(user));
    let (stat_rows, achievement_rows) = join_pipelined(
        query(
            client,
            "reading a user's stats",
            SELECT_STATS.sql,
            &[&app_id, &steam_id],
        ),
        query(
            client,
            "reading a user's achievements",
            SELECT_ACHIEVEMENTS.sql,
            &[&app_id, &steam_id],
        ),
    )
    .await?;
    progress_from_rows(version, &stat_rows, &achievement_rows)
}

pub(crate) fn progress_from_rows<R: Cells>(
    version: u64,
    stat_rows: &[R],
    achievement_rows: &[R],
) -> Result<UserProgress, Failure> {
    laurel_store::rows::progress_from_rows(
        version,
        stat_rows.iter().map(stat_row),
        achievement_rows.iter().map(achievement_row),
    )
}

/// One stat row to write: app, user, name, value.
pub(crate) type StatWrite<'a> = (AppId, SteamId, &'a ApiName, &'a StatValue);

/// One achievement row to write: app, user, name, state; `None` (back to
/// the default: cleared) deletes the row.
pub(crate) type AchievementWrite<'a> = (AppId, SteamId, &'a ApiName, Option<&'a AchievementState>);

/// Adds the write of the given stats of a user (one statement for all of
/// them; none when there are none).
pub(crate) fn write_stats(
    script: &mut Script,
    app: AppId,
    user: SteamId,
    stats: &[(&ApiName, &StatValue)],
) -> Result<(), Failure> {
    let rows: Vec<StatWrite<'_>> = stats
        .iter()
        .map(|(name, value)| (app, user, *name, *value))
        .collect();
    write_stat_rows(script, &rows)
}

/// Adds the write of stat rows of any users (one statement for all of
/// them; none when there are none). Each (app, user, name) at most once.
pub(crate) fn write_stat_rows(script: &mut Script, rows: &[StatWrite<'_>]) -> Result<(), Failure> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut apps = Vec::with_capacity(rows.len());
    let mut users = Vec::with_capacity(rows.len());
    let mut names = Vec::with_capacity(rows.len());
    let mut kinds = Vec::with_capacity(rows.len());
    let mut ints: Vec<Option<i64>> = Vec::with_capacity(rows.len());
    let mut floats: Vec<Option<f32>> = Vec::with_capacity(rows.len());
    let mut counts: Vec<Option<f64>> = Vec::with_capacity(rows.len());
    let mut seconds: Vec<Option<f64>> = Vec::with_capacity(rows.len());
    for (app, user, name, value) in rows {
        let columns = StatColumns::of(value);
        apps.push(app_sql(*app));
        users.push(user_sql(*user));
        names.push(name.as_str());
        kinds.push(kind_code(kind_of(value)));
        ints.push(columns.int_value);
        floats.push(columns.float_value);
        counts.push(columns.avg_count);
        seconds.push(columns.avg_seconds);
    }
    script
        .execute(
            &WRITE_STATS,
            &[
                &Array(&apps),
                &Array(&users),
                &Array(&names),
                &Array(&kinds),
                &Array(&ints),
                &Array(&floats),
                &Array(&counts),
                &Array(&seconds),
            ],
        )
        .map(drop)
}

/// Adds the writes of the given achievement states of a user; `None` (back
/// to the default: cleared) deletes the row.
pub(crate) fn write_achievements(
    script: &mut Script,
    app: AppId,
    user: SteamId,
    achievements: &[(&ApiName, Option<&AchievementState>)],
) -> Result<(), Failure> {
    let rows: Vec<AchievementWrite<'_>> = achievements
        .iter()
        .map(|(name, state)| (app, user, *name, *state))
        .collect();
    write_achievement_rows(script, &rows)
}

/// Adds the writes of achievement rows of any users: one upsert, one
/// delete, each only when needed. Each (app, user, name) at most once.
pub(crate) fn write_achievement_rows(
    script: &mut Script,
    rows: &[AchievementWrite<'_>],
) -> Result<(), Failure> {
    let mut apps = Vec::new();
    let mut users = Vec::new();
    let mut names = Vec::new();
    let mut unlocked = Vec::new();
    let mut times: Vec<Option<i64>> = Vec::new();
    let mut currents: Vec<Option<i64>> = Vec::new();
    let mut maxes: Vec<Option<i64>> = Vec::new();
    let mut cleared_apps = Vec::new();
    let mut cleared_users = Vec::new();
    let mut cleared = Vec::new();
    for (app, user, name, state) in rows {
        let Some(state) = state else {
            cleared_apps.push(app_sql(*app));
            cleared_users.push(user_sql(*user));
            cleared.push(name.as_str());
            continue;
        };
        apps.push(app_sql(*app));
        users.push(user_sql(*user));
        names.push(name.as_str());
        unlocked.push(state.unlocked);
        times.push(state.unlock_time);
        let (current, max) = progress_columns(state);
        currents.push(current);
        maxes.push(max);
    }
    if !names.is_empty() {
        script.execute(
            &UPSERT_ACHIEVEMENTS,
            &[
                &Array(&apps),
                &Array(&users),
                &Array(&names),
                &Array(&unlocked),
                &Array(&times),
                &Array(&currents),
                &Array(&maxes),
            ],
        )?;
    }
    if !cleared.is_empty() {
        script.execute(
            &CLEAR_ACHIEVEMENTS,
            &[
                &Array(&cleared_apps),
                &Array(&cleared_users),
                &Array(&cleared),
            ],
        )?;
    }
    Ok(())
}

/// Adds the write of a user's version; returns its answer's index (one row
/// must change).
pub(crate) fn write_version(
    script: &mut Script,
    app: AppId,
    user: SteamId,
    version: u64,
) -> Result<usize, Failure> {
    let version = i64::try_from(version)
        .map_err(|_| corrupt(format_args!("user version {version} overflows")))?;
    script.execute(&WRITE_VERSION, &[&app_sql(app), &user_sql(user), &version])
}

// The statements of a store's writes, in the order a store sends them.
pub(crate) const WRITE_STATS: Prepared = Prepared {
    name: "laurel_write_stats",
    params: "int8[], int8[], text[], int2[], int8[], float4[], float8[], float8[]",
    sql: "INSERT INTO stats (app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) \
          SELECT t.app_id, t.steam_id, t.name, t.kind, t.int_value, t.float_value, t.avg_count, t.avg_seconds \
          FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::smallint[], $5::bigint[], $6::real[], \
               $7::float8[], $8::float8[]) \
               AS t(app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) \
          ON CONFLICT (app_id, steam_id, name) DO UPDATE SET kind = excluded.kind, \
          int_value = excluded.int_value, float_value = excluded.float_value, \
          avg_count = excluded.avg_count, avg_seconds = excluded.avg_seconds",
};
pub(crate) const UPSERT_ACHIEVEMENTS: Prepared = Prepared {
    name: "laurel_upsert_achievements",
    params: "int8[], int8[], text[], bool[], int8[], int8[], int8[]",
    sql: "INSERT INTO achievements (app_id, steam_id, name, unlocked, unlock_time, progress_current, progress_max) \
          SELECT t.app_id, t.steam_id, t.name, t.unlocked, t.unlock_time, t.progress_current, t.progress_max \
          FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::boolean[], $5::bigint[], $6::bigint[], \
               $7::bigint[]) \
               AS t(app_id, steam_id, name, unlocked, unlock_time, progress_current, progress_max) \
          ON CONFLICT (app_id, steam_id, name) DO UPDATE SET unlocked = excluded.unlocked, \
          unlock_time = excluded.unlock_time, progress_current = excluded.progress_current, \
          progress_max = excluded.progress_max",
};
pub(crate) const CLEAR_ACHIEVEMENTS: Prepared = Prepared {
    name: "laurel_clear_achievements",
    params: "int8[], int8[], text[]",
    sql: "DELETE FROM achievements a \
          USING unnest($1::bigint[], $2::bigint[], $3::text[]) AS t(app_id, steam_id, name) \
          WHERE a.app_id = t.app_id AND a.steam_id = t.steam_id AND a.name = t.name",
};
pub(crate) const WRITE_VERSION: Prepared = Prepared {
    name: "laurel_write_version",
    params: "int8, int8, int8",
    sql: "UPDATE users SET version = $3 WHERE app_id = $1 AND steam_id = $2",
};
/// The names each key's store unlocked come as JSON arrays (one text per
/// row: arrays of arrays must be rectangular).
pub(crate) const INSERT_IDEMPOTENCY: Prepared = Prepared {
    name: "laurel_insert_idempotency",
    params: "int8[], int8[], text[], text[], int8[], text[], int8[]",
    sql: "INSERT INTO idempotency (app_id, steam_id, idem_key, fingerprint, version, newly_unlocked, created) \
          SELECT t.app_id, t.steam_id, t.idem_key, t.fingerprint, t.version, \
                 ARRAY(SELECT json_array_elements_text(t.names::json)), t.created \
          FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], \
               $7::bigint[]) \
               AS t(app_id, steam_id, idem_key, fingerprint, version, names, created)",
};

/// A key's first answer from its row: fingerprint, then the names it
/// unlocked as a JSON array (text that serde reads, where PostgreSQL's own
/// array text would need a parser of its quoting).
pub(crate) fn idempotency_from_row(
    row: Option<&impl Cells>,
) -> Result<Option<IdempotencyRecord>, Failure> {
    let Some(row) = row else {
        return Ok(None);
    };
    let what = "reading an idempotency key";
    let fingerprint = required(row.text(0, what)?, "key fingerprint")?;
    let names = required(row.text(1, what)?, "unlocked names")?;
    Ok(Some(idempotency_record(fingerprint, &names)?))
}

/// Adds the records of stores' keys (one statement; none when there are
/// none). Each (app, user, key) at most once.
pub(crate) fn insert_keys(script: &mut Script, keys: &[NewKeyRecord<'_>]) -> Result<(), Failure> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut apps = Vec::with_capacity(keys.len());
    let mut users = Vec::with_capacity(keys.len());
    let mut names = Vec::with_capacity(keys.len());
    let mut fingerprints = Vec::with_capacity(keys.len());
    let mut versions = Vec::with_capacity(keys.len());
    let mut unlocked = Vec::with_capacity(keys.len());
    let mut created = Vec::with_capacity(keys.len());
    for k in keys {
        apps.push(app_sql(k.app));
        users.push(user_sql(k.user));
        names.push(k.key);
        fingerprints.push(k.fingerprint);
        versions.push(k.version_sql()?);
        unlocked.push(k.unlocked_json()?);
        created.push(k.created);
    }
    script
        .execute(
            &INSERT_IDEMPOTENCY,
            &[
                &Array(&apps),
                &Array(&users),
                &Array(&names),
                &Array(&fingerprints),
                &Array(&versions),
                &Array(&unlocked),
                &Array(&created),
            ],
        )
        .map(drop)
}

/// The value of a stat row as its definition reads it, for recounts.
pub(crate) fn read_as(def: &StatDef, row: &StatRow) -> Result<f64, Failure> {
    Ok(row.value()?.read(def))
}
