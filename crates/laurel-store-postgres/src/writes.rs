//! The write transactions: store, reset, schema change. Each runs on one
//! connection in one READ COMMITTED transaction; the caller reruns it when
//! the database reports a serialization failure or a deadlock.
//!
//! Lock order, the same in every transaction (see the crate documentation):
//! the app's advisory lock, then the user's row, then the global counters in
//! the order of [`figures::write`].

use std::time::Duration;

use deadpool_postgres::{ClientWrapper, GenericClient};
use laurel_core::{AppId, Schema, StatKind, SteamId, UserProgress};
use laurel_store::figures::{newly_aggregated, total_still_kept};
use laurel_store::{KeyRecord, StoreError, StoredKey, StoredSchema, check_import};

use crate::connection::{Context, Failure, execute, join3_pipelined, query, query_opt};
use crate::figures::{self, COUNTER_SHARDS, FigureChanges, shard_of};
use crate::rows::{
    CLEAR_ACHIEVEMENTS, INSERT_IDEMPOTENCY, LOCK_APP_SHARED, SELECT_ACHIEVEMENTS, SELECT_SCHEMA,
    SELECT_STATS, SELECT_VERSION, SchemaCache, UPSERT_ACHIEVEMENTS, WRITE_STATS, WRITE_VERSION,
    app_sql, corrupt, count, current_schema, existing_schema, kind_code, lock_app, read_as,
    stat_row, user_sql, write_achievements, write_stats,
};
use crate::script::{Prepared, Script};

/// Every statement run by name (the store, reset and import transactions,
/// the progress read): each connection of the pool prepares them when it
/// opens (`open` in the crate root).
pub(crate) const PREPARED: [&Prepared; 24] = [
    &LOCK_APP_SHARED,
    &SELECT_SCHEMA,
    &crate::store_groups::LOCK_USERS,
    &crate::store_groups::SELECT_USERS,
    &crate::store_groups::FIND_KEYS,
    &crate::store_groups::SELECT_USERS_STATS,
    &crate::store_groups::SELECT_USERS_ACHIEVEMENTS,
    &crate::store_groups::WRITE_VERSIONS,
    &crate::store_groups::DROP_PLACEHOLDERS,
    &SELECT_STATS,
    &SELECT_ACHIEVEMENTS,
    &SELECT_VERSION,
    &WRITE_STATS,
    &UPSERT_ACHIEVEMENTS,
    &CLEAR_ACHIEVEMENTS,
    &WRITE_VERSION,
    &INSERT_IDEMPOTENCY,
    &figures::ADD_USERS,
    &figures::ADD_UNLOCKS,
    &figures::ADD_TOTALS,
    &figures::ADD_HISTORY,
    &INSERT_USER,
    &DELETE_STATS,
    &DELETE_ACHIEVEMENTS,
];

const INSERT_USER: Prepared = Prepared {
    name: "laurel_insert_user",
    params: "int8, int8, int8",
    sql: "INSERT INTO users (app_id, steam_id, version) VALUES ($1, $2, $3) \
          ON CONFLICT (app_id, steam_id) DO NOTHING",
};
pub(crate) const DELETE_STATS: Prepared = Prepared {
    name: "laurel_delete_stats",
    params: "int8, int8",
    sql: "DELETE FROM stats WHERE app_id = $1 AND steam_id = $2",
};
pub(crate) const DELETE_ACHIEVEMENTS: Prepared = Prepared {
    name: "laurel_delete_achievements",
    params: "int8, int8",
    sql: "DELETE FROM achievements WHERE app_id = $1 AND steam_id = $2",
};

/// Writes a user's progress as given (`Store::import_user`), for a user
/// without a row, and counts it in the global figures; the lock order of a
/// store: the app's advisory lock (shared), the user's row (inserted, so
/// locked until the commit), the counters.
pub(crate) async fn import_user(
    client: &mut ClientWrapper,
    cache: &SchemaCache,
    app: AppId,
    user: SteamId,
    progress: &UserProgress,
) -> Result<(), Failure> {
    let tx = client.transaction().await.context("beginning an import")?;
    lock_app(&tx, app, false).await?;
    let schema = existing_schema(&tx, cache, app).await?.schema;
    check_import(&schema, app, user, progress)?;
    let version = i64::try_from(progress.version)
        .map_err(|_| corrupt(format_args!("user version {} overflows", progress.version)))?;
    let stats: Vec<_> = progress.stats.iter().collect();
    let achievements: Vec<_> = progress
        .achievements
        .iter()
        .map(|(name, state)| (name, Some(state)))
        .collect();
    // One round trip. A store of this user in flight holds the user's row,
    // and the insert waits for it; if the user turns out to be there
    // already, whatever the rest wrote is rolled back.
    let mut writes = Script::new("importing a user");
    let inserted_at = writes.execute(&INSERT_USER, &[&app_sql(app), &user_sql(user), &version])?;
    write_stats(&mut writes, app, user, &stats)?;
    write_achievements(&mut writes, app, user, &achievements)?;
    let answers = writes.run(&*tx).await?;
    if answers[inserted_at].affected == 0 {
        tx.rollback().await.context("ending a refused import")?;
        return Err(Failure::Store(StoreError::AlreadyExists(format!(
            "user {user} of app {app}"
        ))));
    }
    let mut counters = Script::new("counting an imported user");
    let moved = FigureChanges::of_import(&schema, progress);
    moved.check_finite().map_err(Failure::Store)?;
    figures::write(&moved, &mut counters, app, shard_of(user_sql(user)))?;
    counters.run(&*tx).await?;
    tx.commit().await.context("committing an import")?;
    Ok(())
}

/// Records a key as given (`Store::import_key`); it keeps its id if that is
/// free. The table is locked against other inserts for the transaction, so
/// the id checked stays free and the identity sequence can be moved past an
/// id given explicitly (or `create_key` would later pick it again).
pub(crate) async fn import_key(
    client: &mut ClientWrapper,
    key: &StoredKey,
) -> Result<KeyRecord, Failure> {
    let record = &key.record;
    let app = record.app;
    let tx = client
        .transaction()
        .await
        .context("beginning a key import")?;
    tx.batch_execute("LOCK TABLE keys IN SHARE ROW EXCLUSIVE MODE")
        .await
        .context("locking the keys")?;
    let (app_row, hash_row, id_row) = join3_pipelined(
        query_opt(
            &tx,
            "looking for the app",
            "SELECT 1 FROM apps WHERE app_id = $1",
            &[&app_sql(app)],
        ),
        query_opt(
            &tx,
            "looking for a key's hash",
            "SELECT 1 FROM keys WHERE secret_hash = $1",
            &[&key.secret_hash],
        ),
        query_opt(
            &tx,
            "looking for a key's id",
            "SELECT 1 FROM keys WHERE id = $1",
            &[&record.id],
        ),
    )
    .await?;
    if app_row.is_none() {
        return Err(Failure::Store(StoreError::UnknownApp(app)));
    }
    if hash_row.is_some() {
        return Err(Failure::Store(StoreError::AlreadyExists(format!(
            "a key with the secret hash of key {} of app {app}",
            record.id
        ))));
    }
    let values: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &app_sql(app),
        &record.label,
        &key.secret_hash,
        &record.created,
        &record.revoked,
    ];
    let id: i64 = if id_row.is_none() && record.id > 0 {
        let mut with_id = values.to_vec();
        with_id.push(&record.id);
        execute(
            &tx,
            "writing an imported key",
            "INSERT INTO keys (id, app_id, label, secret_hash, created, revoked) \
             VALUES ($6, $1, $2, $3, $4, $5)",
            &with_id,
        )
        .await?;
        execute(
            &tx,
            "moving the key ids past an imported one",
            "SELECT setval(pg_get_serial_sequence('keys', 'id'), max(id)) FROM keys",
            &[],
        )
        .await?;
        record.id
    } else {
        let rows = query(
            &tx,
            "writing an imported key",
            "INSERT INTO keys (app_id, label, secret_hash, created, revoked) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &values,
        )
        .await?;
        match rows.first() {
            Some(row) => row.try_get(0).context("writing an imported key")?,
            None => return Err(corrupt("a key insert returned no id")),
        }
    };
    tx.commit().await.context("committing a key import")?;
    Ok(KeyRecord {
        id,
        ..record.clone()
    })
}

/// Creates the app or replaces its schema, and brings the stat totals in
/// line with it; returns the new version. Holds the app's advisory lock
/// exclusively, so no store of the app runs meanwhile (see [`lock_app`]).
pub(crate) async fn put_schema(
    client: &mut ClientWrapper,
    cache: &SchemaCache,
    app: AppId,
    schema: &Schema,
    json: &str,
    statement_timeout: Duration,
) -> Result<u64, Failure> {
    let tx = client
        .transaction()
        .await
        .context("beginning a schema change")?;
    // The recount below is the one scan Laurel does; it may need longer
    // than a store is allowed.
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}",
        statement_timeout.as_millis()
    ))
    .await
    .context("setting the schema change's statement timeout")?;
    lock_app(&tx, app, true).await?;
    let old: Option<StoredSchema> = current_schema(&tx, cache, app).await?;
    let rows = query(
        &tx,
        "writing a schema",
        "INSERT INTO apps (app_id, name, schema_json, schema_version) \
         VALUES ($1, $2, $3, 1) \
         ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, \
         schema_json = excluded.schema_json, schema_version = apps.schema_version + 1 \
         RETURNING schema_version",
        &[&app_sql(app), &schema.settings().name, &json],
    )
    .await?;
    let version: i64 = match rows.first() {
        Some(row) => row.try_get(0).context("writing a schema")?,
        None => return Err(corrupt("a schema upsert returned no version")),
    };
    let version = count(version, "schema version")?;
    reconcile_stat_totals(&tx, app, old.as_ref().map(|o| &*o.schema), schema).await?;
    sync_schema_boards(&tx, app, schema).await?;
    tx.commit().await.context("committing a schema change")?;
    Ok(version)
}

/// In a schema change's transaction: the schema's leaderboards exist with its
/// settings (created where missing; the others keep their names, ids and
/// entries).
async fn sync_schema_boards<C: GenericClient>(
    client: &C,
    app: AppId,
    schema: &Schema,
) -> Result<(), Failure> {
    let defs = schema.leaderboards();
    if defs.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    let keys: Vec<&str> = defs.iter().map(|d| d.name.key()).collect();
    let sorts: Vec<&str> = defs.iter().map(|d| d.sort.as_str()).collect();
    let displays: Vec<&str> = defs.iter().map(|d| d.display.as_str()).collect();
    let display_names: Vec<Option<&str>> = defs.iter().map(|d| d.display_name.as_deref()).collect();
    let writes: Vec<&str> = defs.iter().map(|d| d.writes.as_str()).collect();
    let periods: Vec<&str> = defs.iter().map(|d| d.period.as_str()).collect();
    execute(
        client,
        "writing the schema's boards",
        "INSERT INTO boards (app_id, name, name_key, sort, display, display_name, writes, period, created) \
         SELECT $1, t.name, t.name_key, t.sort, t.display, t.display_name, t.writes, t.period, $9 \
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) \
              AS t(name, name_key, sort, display, display_name, writes, period) \
         ON CONFLICT (app_id, name_key) DO UPDATE SET sort = excluded.sort, \
         display = excluded.display, display_name = excluded.display_name, \
         writes = excluded.writes, period = excluded.period \
         WHERE (boards.sort, boards.display, boards.display_name, boards.writes, boards.period) \
         IS DISTINCT FROM (excluded.sort, excluded.display, excluded.display_name, \
         excluded.writes, excluded.period)",
        &[
            &app_sql(app),
            &names,
            &keys,
            &sorts,
            &displays,
            &display_names,
            &writes,
            &periods,
            &(laurel_store::unix_now_ms() / 1000),
        ],
    )
    .await
    .map(drop)
}

/// After a schema change: totals of stats that are no longer aggregated (or
/// changed kind) are dropped, stats that became aggregated are counted from
/// their rows.
async fn reconcile_stat_totals<C: GenericClient>(
    client: &C,
    app: AppId,
    old: Option<&Schema>,
    new: &Schema,
) -> Result<(), Failure> {
    let app_id = app_sql(app);
    let kept = query(
        client,
        "listing stat totals",
        "SELECT DISTINCT name, kind FROM stat_totals WHERE app_id = $1",
        &[&app_id],
    )
    .await?;
    let mut dropped_names = Vec::new();
    let mut dropped_kinds = Vec::new();
    for row in &kept {
        let name: String = row.try_get(0).context("listing stat totals")?;
        let kind: i16 = row.try_get(1).context("listing stat totals")?;
        if !total_still_kept(new, &name, kind) {
            dropped_names.push(name);
            dropped_kinds.push(kind);
        }
    }
    if !dropped_names.is_empty() {
        execute(
            client,
            "dropping stat totals",
            "DELETE FROM stat_totals WHERE app_id = $1 AND (name, kind) IN \
             (SELECT * FROM unnest($2::text[], $3::smallint[]))",
            &[&app_id, &dropped_names, &dropped_kinds],
        )
        .await?;
    }
    for def in newly_aggregated(old, new) {
        recount_stat_total(client, app, def).await?;
    }
    Ok(())
}

/// Counts an aggregated stat from the stored rows, each user into their
/// counter shard: run when a stat becomes aggregated (a schema change,
/// rare), never on a store. The rows are streamed, so memory does not grow
/// with the number of users.
async fn recount_stat_total<C: GenericClient>(
    client: &C,
    app: AppId,
    def: &laurel_core::StatDef,
) -> Result<(), Failure> {
    use futures_util::TryStreamExt;

    let what = "counting an aggregated stat";
    let kind = kind_code(def.kind);
    let app_id = app_sql(app);
    let name = def.name.as_str();
    let statement = client
        .prepare_cached(
            "SELECT name, kind, int_value, float_value, avg_count, avg_seconds, steam_id \
             FROM stats WHERE app_id = $1 AND name = $2 AND kind = $3",
        )
        .await
        .context(what)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&app_id, &name, &kind];
    let rows = client
        .query_raw(
            &statement,
            params
                .iter()
                .map(|p| *p as &dyn tokio_postgres::types::ToSql),
        )
        .await
        .context(what)?;
    let mut rows = std::pin::pin!(rows);
    const SHARDS: usize = COUNTER_SHARDS as usize;
    let mut value_rows = vec![0i64; SHARDS];
    let mut int_sums = vec![0i64; SHARDS];
    let mut float_sums = vec![0f64; SHARDS];
    while let Some(row) = rows.try_next().await.context(what)? {
        let v = read_as(def, &stat_row(&row)?)?;
        let steam_id: i64 = row.try_get(6).context(what)?;
        // In 0..SHARDS: `shard_of` is a remainder.
        let shard = shard_of(steam_id) as usize;
        value_rows[shard] += 1;
        match def.kind {
            StatKind::Int => int_sums[shard] += v as i64,
            StatKind::Float | StatKind::AvgRate => float_sums[shard] += v,
        }
    }
    let shard_ids: Vec<i16> = (0..COUNTER_SHARDS).collect();
    execute(
        client,
        "replacing a recounted stat total",
        "DELETE FROM stat_totals WHERE app_id = $1 AND name = $2 AND kind = $3",
        &[&app_id, &name, &kind],
    )
    .await?;
    execute(
        client,
        "writing a recounted stat total",
        "INSERT INTO stat_totals (app_id, name, kind, shard, value_rows, int_sum, float_sum) \
         SELECT $1, $2, $3, t.shard, t.value_rows, t.int_sum, t.float_sum \
         FROM unnest($4::smallint[], $5::bigint[], $6::bigint[], $7::float8[]) \
              AS t(shard, value_rows, int_sum, float_sum)",
        &[
            &app_id,
            &name,
            &kind,
            &shard_ids,
            &value_rows,
            &int_sums,
            &float_sums,
        ],
    )
    .await
    .map(drop)
}
