//! Group commit of stores on one node (`crate::group_queue` runs the
//! groups, one at a time per node): up to 64 stores, of any users of any apps,
//! in one READ COMMITTED transaction of two round trips and one `COMMIT`,
//! where each store alone paid its own transaction, its own round trips and
//! its own WAL flush.
//!
//! ```text
//! BEGIN
//!   pg_advisory_xact_lock_shared(app), schema_version   -- each app, by lock key
//!   INSERT users … version 0 ON CONFLICT DO UPDATE … WHERE false
//!                                     -- every user of the group, by (app, user): the users' row locks
//!   the users' versions, keys, stats, achievements        -- one statement each
//! (round trip)
//!   apply_batch, store after store    -- in memory, each store on what the one before it left
//!   stats, achievements, versions of the users; DELETE the placeholders of users nothing was applied to
//!   keys
//!   app_users → achievement_unlocks → stat_totals → stat_history  -- summed per app into the group's shard
//! COMMIT
//! (round trip)
//! ```
//!
//! Each store is decided on its own, in the order it came: refused, a
//! replay, or applied on top of what the stores before it in the group left
//! (so several stores of one hot user share one lock, one read and one
//! write of their rows). A refused store writes nothing; nothing is written
//! for a store before the whole group has been decided, so none needs a
//! savepoint: a statement that fails fails the group, and
//! `crate::group_queue` then applies each store alone.
//!
//! Lock order, the same in every transaction of every node: the apps'
//! advisory locks by key, the users' rows by (app, user), then the counters
//! by app, table after table, by key. A reset or an import holds one user
//! and one shard, so it follows the same order; two transactions never
//! wait for each other in a cycle.
//!
//! The counter changes of a group are summed per app and written to one
//! counter shard, drawn for the group: groups of different nodes seldom
//! wait for each other's counter rows (a group holds them until its
//! flush), and a group writes one row per counter, where one per user's
//! shard would touch most of the 16. Reads add the shards up, so which shard holds a
//! change does not matter.
//!
//! A user never written gets a row at version 0 to lock (a placeholder);
//! it is deleted before the commit if no store of the group was applied to
//! them, so no other transaction ever sees version 0. Keys are distinct
//! within a group (a second store with the same key waits for the next
//! group, where it is a replay).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use laurel_core::{ApiName, AppId, StatValue, SteamId, UserProgress, apply_batch};
use laurel_store::rows::user_from_sql;
use laurel_store::{StoreError, StoreReply, StoreRequest, StoredSchema};

use crate::connection::{Context, Failure};
use crate::figures::{self, COUNTER_SHARDS, FigureChanges};
use crate::group_queue::{Answer, Grouping, Queue, Stage, submit};
use crate::inner::Inner;
use crate::rows::{
    AchievementWrite, Cells, LOCK_APP_SHARED, NewKeyRecord, SELECT_SCHEMA, SchemaCache, StatWrite,
    app_from_sql, app_lock, app_sql, cached_schema, corrupt, count, idempotency_from_row,
    insert_keys, progress_from_rows, required, schema_from_row, user_sql, visible,
    write_achievement_rows, write_stat_rows,
};
use crate::script::{Array, Prepared, Script};

/// Stores, as [`Grouping`] makes groups of them.
pub(crate) struct Stores;

impl Grouping for Stores {
    type Node = Inner;
    type Request = StoreRequest;
    type Reply = StoreReply;
    /// Keys (app, user, key) of the group.
    type Claims = HashSet<(AppId, SteamId, String)>;
    /// Two groups in flight per node, but only one reading at a time (see
    /// [`Stage`]): the next group reads while the one before flushes.
    /// Measured against one, two and four groups free to overlap
    /// (docs/benchmarks.md, issue 16): free groups split the stores into
    /// smaller groups, and PostgreSQL's work per store grows as groups
    /// shrink.
    const GROUPS: usize = 2;
    const GROUP_SIZE: usize = 64;

    fn queue(inner: &Inner) -> &Queue<StoreRequest, StoreReply> {
        &inner.stores
    }

    fn claim(claims: &mut Self::Claims, r: &StoreRequest) -> bool {
        claims.insert((r.app, r.user, r.idempotency_key.as_str().to_owned()))
    }

    async fn apply(
        inner: &Inner,
        requests: &[StoreRequest],
        stage: &mut Stage,
    ) -> Result<Vec<Answer<StoreReply>>, StoreError> {
        // A shard drawn per group (a Weyl sequence, mixed; the start is
        // random per node, see `open`), so that groups of different nodes
        // seldom meet on a counter row, and never in long runs.
        let step = inner.group_shards.fetch_add(WEYL, Ordering::Relaxed);
        let shard = (splitmix64(step) % COUNTER_SHARDS as u64) as i16;
        with_client!(inner, inner.operation_timeout, |client| {
            store_group(client, &inner.schemas, requests, shard, &mut *stage).await
        })
    }
}

/// The golden-ratio increment of a Weyl sequence (SplitMix64's).
const WEYL: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a well-mixed 64-bit value from a step of
/// the Weyl sequence.
fn splitmix64(step: u64) -> u64 {
    let mut z = step.wrapping_add(WEYL);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Applies `request` in the next group of stores; its answer.
pub(crate) async fn store(inner: &Arc<Inner>, request: StoreRequest) -> Answer<StoreReply> {
    submit::<Stores>(inner, request).await
}

/// Parameters: apps, users (distinct pairs, in lock order). Creates each
/// user never written at version 0 (a placeholder), and locks every user's
/// row. `DO UPDATE … WHERE false` locks a user's row without writing a new
/// version of it (PostgreSQL locks every conflicting row of `DO UPDATE`,
/// updated or not): the group's one write of the row is its new version.
pub(crate) const LOCK_USERS: Prepared = Prepared {
    name: "laurel_lock_users",
    params: "int8[], int8[]",
    sql: "INSERT INTO users (app_id, steam_id, version) \
          SELECT t.app_id, t.steam_id, 0 FROM unnest($1::bigint[], $2::bigint[]) \
               WITH ORDINALITY AS t(app_id, steam_id, n) ORDER BY t.n \
          ON CONFLICT (app_id, steam_id) DO UPDATE SET version = users.version WHERE false",
};
/// Parameters: apps, users. Columns: app, user, version. After
/// [`LOCK_USERS`], in a later statement: READ COMMITTED gives it a snapshot
/// taken once the locks were held, so it sees what every store before
/// committed.
pub(crate) const SELECT_USERS: Prepared = Prepared {
    name: "laurel_select_users",
    params: "int8[], int8[]",
    sql: "SELECT u.app_id, u.steam_id, u.version \
          FROM unnest($1::bigint[], $2::bigint[]) AS t(app_id, steam_id) \
          JOIN users u ON u.app_id = t.app_id AND u.steam_id = t.steam_id",
};
/// Parameters: apps, users, keys. Columns: the key's first answer
/// ([`crate::rows::idempotency_from_row`]), then app, user, key.
pub(crate) const FIND_KEYS: Prepared = Prepared {
    name: "laurel_find_keys",
    params: "int8[], int8[], text[]",
    sql: "SELECT i.fingerprint, array_to_json(i.newly_unlocked)::text, i.app_id, i.steam_id, i.idem_key \
          FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS t(app_id, steam_id, idem_key) \
          JOIN idempotency i ON i.app_id = t.app_id AND i.steam_id = t.steam_id \
               AND i.idem_key = t.idem_key",
};
/// Parameters: apps, users. Columns: those of `SELECT_STATS`, then app, user.
pub(crate) const SELECT_USERS_STATS: Prepared = Prepared {
    name: "laurel_select_users_stats",
    params: "int8[], int8[]",
    sql: "SELECT s.name, s.kind, s.int_value, s.float_value, s.avg_count, s.avg_seconds, \
                 s.app_id, s.steam_id \
          FROM unnest($1::bigint[], $2::bigint[]) AS t(app_id, steam_id) \
          JOIN stats s ON s.app_id = t.app_id AND s.steam_id = t.steam_id",
};
/// Parameters: apps, users. Columns: those of `SELECT_ACHIEVEMENTS`, then
/// app, user.
pub(crate) const SELECT_USERS_ACHIEVEMENTS: Prepared = Prepared {
    name: "laurel_select_users_achievements",
    params: "int8[], int8[]",
    sql: "SELECT a.name, a.unlocked, a.unlock_time, a.progress_current, a.progress_max, \
                 a.app_id, a.steam_id \
          FROM unnest($1::bigint[], $2::bigint[]) AS t(app_id, steam_id) \
          JOIN achievements a ON a.app_id = t.app_id AND a.steam_id = t.steam_id",
};
/// Parameters: apps, users, versions.
pub(crate) const WRITE_VERSIONS: Prepared = Prepared {
    name: "laurel_write_versions",
    params: "int8[], int8[], int8[]",
    sql: "UPDATE users SET version = t.version \
          FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS t(app_id, steam_id, version) \
          WHERE users.app_id = t.app_id AND users.steam_id = t.steam_id",
};
/// Parameters: apps, users: placeholders no store was applied to.
pub(crate) const DROP_PLACEHOLDERS: Prepared = Prepared {
    name: "laurel_drop_user_placeholders",
    params: "int8[], int8[]",
    sql: "DELETE FROM users u USING unnest($1::bigint[], $2::bigint[]) AS t(app_id, steam_id) \
          WHERE u.app_id = t.app_id AND u.steam_id = t.steam_id AND u.version = 0",
};

/// Applies `requests` in one transaction; one answer per request, in order.
/// A transaction that writes nothing (every store a replay or refused) is
/// rolled back, and so is one that failed.
pub(crate) async fn store_group(
    client: &mut deadpool_postgres::Client,
    cache: &SchemaCache,
    requests: &[StoreRequest],
    shard: i16,
    stage: &mut Stage,
) -> Result<Vec<Answer<StoreReply>>, Failure> {
    let client: &tokio_postgres::Client = client;
    let started = Instant::now();
    let outcome = group_unfinished(client, cache, requests, shard, stage).await;
    if let Ok((_, true)) = outcome {
        // No-ops without a metrics recorder.
        metrics::histogram!("laurel_store_group_size").record(requests.len() as f64);
        metrics::histogram!("laurel_store_commit_seconds").record(started.elapsed().as_secs_f64());
        return outcome.map(|(answers, _)| answers);
    }
    client
        .batch_execute("ROLLBACK")
        .await
        .context("ending a group of stores")?;
    outcome.map(|(answers, _)| answers)
}

/// (app, user) as stored.
type UserKey = (i64, i64);

/// One user of the group, as the stores before the current one left them.
struct UserState {
    app: AppId,
    user: SteamId,
    /// As visible through the current schema; version 0 for a user never
    /// written.
    current: UserProgress,
    /// `current` as read, before the group: rows that end the group as
    /// they were are not written again.
    stored: UserProgress,
    /// Whether any store of the group was applied to the user.
    applied: bool,
    changed_stats: BTreeSet<ApiName>,
    changed_achievements: BTreeSet<ApiName>,
}

/// Where the reads' answers are.
struct ReadsAt {
    schemas: BTreeMap<AppId, usize>,
    /// The schema each app had in the node's cache when the reads were made.
    cached: BTreeMap<AppId, Option<StoredSchema>>,
    users: usize,
    keys: usize,
    stats: usize,
    achievements: usize,
}

/// The reads: the apps' locks and schemas, the users' locks, their keys and
/// rows; every user (app, user) once, in lock order.
fn reads(
    cache: &SchemaCache,
    requests: &[StoreRequest],
    users: &[UserKey],
) -> Result<(Script, ReadsAt), Failure> {
    let mut script = Script::new("reading users for stores");
    script.plain("BEGIN");
    let mut apps: Vec<AppId> = requests.iter().map(|r| r.app).collect();
    apps.sort_by_key(|&app| (app_lock(app), app));
    apps.dedup();
    let mut schemas = BTreeMap::new();
    let mut cached = BTreeMap::new();
    for app in apps {
        let (stored, version) = cached_schema(cache, app);
        let lock = app_lock(app);
        script.execute(&LOCK_APP_SHARED, &[&lock[0], &lock[1]])?;
        schemas.insert(
            app,
            script.execute(&SELECT_SCHEMA, &[&app_sql(app), &version])?,
        );
        cached.insert(app, stored);
    }
    let app_ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    let steam_ids: Vec<i64> = users.iter().map(|u| u.1).collect();
    script.execute(&LOCK_USERS, &[&Array(&app_ids), &Array(&steam_ids)])?;
    let locked = script.execute(&SELECT_USERS, &[&Array(&app_ids), &Array(&steam_ids)])?;
    let key_apps: Vec<i64> = requests.iter().map(|r| app_sql(r.app)).collect();
    let key_users: Vec<i64> = requests.iter().map(|r| user_sql(r.user)).collect();
    let key_names: Vec<&str> = requests
        .iter()
        .map(|r| r.idempotency_key.as_str())
        .collect();
    let keys = script.execute(
        &FIND_KEYS,
        &[&Array(&key_apps), &Array(&key_users), &Array(&key_names)],
    )?;
    let stats = script.execute(&SELECT_USERS_STATS, &[&Array(&app_ids), &Array(&steam_ids)])?;
    let achievements = script.execute(
        &SELECT_USERS_ACHIEVEMENTS,
        &[&Array(&app_ids), &Array(&steam_ids)],
    )?;
    let at = ReadsAt {
        schemas,
        cached,
        users: locked,
        keys,
        stats,
        achievements,
    };
    Ok((script, at))
}

/// Whether a stored stat holds exactly `value`, bit for bit (`-0.0` is not
/// `0.0`, and a NaN never is: such a value is written).
fn same_bits(stored: Option<&StatValue>, value: &StatValue) -> bool {
    match (stored, value) {
        (Some(StatValue::Int(a)), StatValue::Int(b)) => a == b,
        (Some(StatValue::Float(a)), StatValue::Float(b)) => a.to_bits() == b.to_bits(),
        (
            Some(StatValue::AvgRate { count, seconds }),
            StatValue::AvgRate {
                count: c,
                seconds: s,
            },
        ) => count.to_bits() == c.to_bits() && seconds.to_bits() == s.to_bits(),
        _ => false,
    }
}

/// The (app, user) of a row whose last columns are them, from `first`.
fn row_user(row: &impl Cells, first: usize, what: &'static str) -> Result<UserKey, Failure> {
    Ok((
        required(row.int8(first, what)?, "app id")?,
        required(row.int8(first + 1, what)?, "steam id")?,
    ))
}

/// The group up to its COMMIT; `true` when it committed.
async fn group_unfinished(
    client: &tokio_postgres::Client,
    cache: &SchemaCache,
    requests: &[StoreRequest],
    shard: i16,
    stage: &mut Stage,
) -> Result<(Vec<Answer<StoreReply>>, bool), Failure> {
    let mut user_keys: Vec<UserKey> = requests
        .iter()
        .map(|r| (app_sql(r.app), user_sql(r.user)))
        .collect();
    user_keys.sort_unstable();
    user_keys.dedup();
    let (script, mut at) = reads(cache, requests, &user_keys)?;
    let answers = script.run(client).await?;

    let mut schemas: BTreeMap<AppId, Option<StoredSchema>> = BTreeMap::new();
    for (app, stored) in std::mem::take(&mut at.cached) {
        let row = at.schemas.get(&app).and_then(|&i| answers[i].rows.first());
        schemas.insert(app, schema_from_row(cache, app, stored, row)?);
    }
    let what = "reading users for stores";
    let mut versions: HashMap<UserKey, u64> = HashMap::new();
    for row in &answers[at.users].rows {
        let version = required(row.int8(2, what)?, "user version")?;
        versions.insert(row_user(row, 0, what)?, count(version, "user version")?);
    }
    let mut stat_rows: HashMap<UserKey, Vec<_>> = HashMap::new();
    for row in &answers[at.stats].rows {
        stat_rows
            .entry(row_user(row, 6, what)?)
            .or_default()
            .push(row);
    }
    let mut achievement_rows: HashMap<UserKey, Vec<_>> = HashMap::new();
    for row in &answers[at.achievements].rows {
        achievement_rows
            .entry(row_user(row, 5, what)?)
            .or_default()
            .push(row);
    }
    let mut firsts = HashMap::new();
    for row in &answers[at.keys].rows {
        let (app, user) = row_user(row, 2, what)?;
        let key = required(row.text(4, what)?, "idempotency key")?;
        firsts.insert((app, user, key), row);
    }

    let mut users: BTreeMap<UserKey, UserState> = BTreeMap::new();
    for &(app_id, steam_id) in &user_keys {
        let app = app_from_sql(app_id)?;
        let Some(Some(stored_schema)) = schemas.get(&app) else {
            continue;
        };
        let Some(&version) = versions.get(&(app_id, steam_id)) else {
            return Err(corrupt(format_args!(
                "user {steam_id} of app {app_id} was not locked"
            )));
        };
        let stored = if version == 0 {
            UserProgress::default()
        } else {
            let none = Vec::new();
            progress_from_rows(
                version,
                stat_rows.get(&(app_id, steam_id)).unwrap_or(&none),
                achievement_rows.get(&(app_id, steam_id)).unwrap_or(&none),
            )?
        };
        let current = visible(stored, &stored_schema.schema);
        users.insert(
            (app_id, steam_id),
            UserState {
                app,
                user: user_from_sql(steam_id).map_err(Failure::Store)?,
                stored: current.clone(),
                current,
                applied: false,
                changed_stats: BTreeSet::new(),
                changed_achievements: BTreeSet::new(),
            },
        );
    }

    // Each store in turn, on what the stores before it left.
    let mut replies = Vec::with_capacity(requests.len());
    let mut counters: BTreeMap<i64, FigureChanges> = BTreeMap::new();
    let mut keys: Vec<(usize, u64, Vec<ApiName>)> = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let user_key = (app_sql(request.app), user_sql(request.user));
        let (Some(Some(stored_schema)), Some(state)) =
            (schemas.get(&request.app), users.get_mut(&user_key))
        else {
            replies.push(Err(StoreError::UnknownApp(request.app)));
            continue;
        };
        let schema = &*stored_schema.schema;
        let first_key = (
            user_key.0,
            user_key.1,
            request.idempotency_key.as_str().to_owned(),
        );
        if let Some(row) = firsts.get(&first_key) {
            let first = idempotency_from_row(Some(*row))?.ok_or_else(|| corrupt("a key"))?;
            replies.push(first.replay(request, || Ok::<_, StoreError>(state.current.clone())));
            continue;
        }
        let outcome = match apply_batch(
            schema,
            &state.current,
            &request.batch,
            request.authority,
            request.now,
        ) {
            Ok(outcome) => outcome,
            Err(refusal) => {
                replies.push(Ok(StoreReply::Refused(refusal)));
                continue;
            }
        };
        if outcome.progress.version != state.current.version + 1 {
            return Err(corrupt(format_args!(
                "user {} of app {}: version {} after {}",
                request.user, request.app, outcome.progress.version, state.current.version
            )));
        }
        let moved = FigureChanges::of_store(schema, &state.current, &outcome, request.now);
        if let Err(e) = moved.check_finite() {
            replies.push(Err(e));
            continue;
        }
        counters.entry(user_key.0).or_default().merge(moved);
        state.applied = true;
        state.changed_stats.extend(outcome.changed_stats);
        state
            .changed_achievements
            .extend(outcome.changed_achievements);
        state.current = outcome.progress.clone();
        keys.push((i, outcome.progress.version, outcome.newly_unlocked.clone()));
        replies.push(Ok(StoreReply::Applied {
            progress: outcome.progress,
            newly_unlocked: outcome.newly_unlocked,
            replayed: false,
        }));
    }
    if keys.is_empty() {
        return Ok((replies, false));
    }
    for changes in counters.values() {
        changes.check_finite().map_err(Failure::Store)?;
    }

    // Every write, in the lock order: the users' own rows (locked already),
    // the keys, then the counters. COMMIT last in the same script: should a
    // write fail, the server runs nothing after it.
    let mut writes = Script::new("writing stores");
    let mut stats: Vec<StatWrite<'_>> = Vec::new();
    let mut achievements: Vec<AchievementWrite<'_>> = Vec::new();
    let (mut version_apps, mut version_users, mut version_values) = (vec![], vec![], vec![]);
    let (mut dropped_apps, mut dropped_users) = (vec![], vec![]);
    for (&(app_id, steam_id), &version) in &versions {
        let applied = users.get(&(app_id, steam_id)).is_some_and(|s| s.applied);
        if version == 0 && !applied {
            dropped_apps.push(app_id);
            dropped_users.push(steam_id);
        }
    }
    for (&(app_id, steam_id), state) in &users {
        if !state.applied {
            continue;
        }
        let next = &state.current;
        // Rows as they were stay untouched (a batch names an achievement
        // unlocked long ago, or sets a stat to its value): no new row
        // version, no WAL, no index entry.
        for name in &state.changed_stats {
            if let Some(value) = next.stats.get(name)
                && !same_bits(state.stored.stats.get(name), value)
            {
                stats.push((state.app, state.user, name, value));
            }
        }
        for name in &state.changed_achievements {
            let state_now = next.achievements.get(name);
            if state.stored.achievements.get(name) != state_now {
                achievements.push((state.app, state.user, name, state_now));
            }
        }
        version_apps.push(app_id);
        version_users.push(steam_id);
        version_values.push(
            i64::try_from(next.version)
                .map_err(|_| corrupt(format_args!("user version {} overflows", next.version)))?,
        );
    }
    write_stat_rows(&mut writes, &stats)?;
    write_achievement_rows(&mut writes, &achievements)?;
    writes.execute(
        &WRITE_VERSIONS,
        &[
            &Array(&version_apps),
            &Array(&version_users),
            &Array(&version_values),
        ],
    )?;
    if !dropped_apps.is_empty() {
        writes.execute(
            &DROP_PLACEHOLDERS,
            &[&Array(&dropped_apps), &Array(&dropped_users)],
        )?;
    }
    let key_writes: Vec<NewKeyRecord<'_>> = keys
        .iter()
        .map(|(i, version, unlocked)| {
            let r = &requests[*i];
            NewKeyRecord {
                app: r.app,
                user: r.user,
                key: r.idempotency_key.as_str(),
                fingerprint: r.fingerprint.as_str(),
                version: *version,
                newly_unlocked: unlocked,
                created: r.now,
            }
        })
        .collect();
    insert_keys(&mut writes, &key_writes)?;
    for (&app_id, changes) in &counters {
        figures::write(changes, &mut writes, app_from_sql(app_id)?, shard)?;
    }
    writes.plain("COMMIT");
    // Decided: the next group may read while this one writes and flushes.
    stage.done();
    writes.run(client).await?;
    Ok((replies, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_equal_bit_for_bit_are_the_same() {
        let f = |v: f32| StatValue::Float(v);
        assert!(same_bits(Some(&StatValue::Int(3)), &StatValue::Int(3)));
        assert!(!same_bits(Some(&StatValue::Int(3)), &StatValue::Int(4)));
        assert!(same_bits(Some(&f(1.5)), &f(1.5)));
        assert!(
            !same_bits(Some(&f(0.0)), &f(-0.0)),
            "-0.0 is kept as written"
        );
        assert!(!same_bits(None, &f(0.0)), "no row: written");
        assert!(
            !same_bits(Some(&StatValue::Int(0)), &f(0.0)),
            "another kind"
        );
        let rate = |count, seconds| StatValue::AvgRate { count, seconds };
        assert!(same_bits(Some(&rate(1.0, 2.0)), &rate(1.0, 2.0)));
        assert!(!same_bits(Some(&rate(1.0, 2.0)), &rate(1.0, 3.0)));
    }

    /// Consecutive groups draw every shard, evenly.
    #[test]
    fn drawn_shards_cover_every_shard_evenly() {
        let mut counts = [0u32; COUNTER_SHARDS as usize];
        let mut state = 12_345u64;
        for _ in 0..16_000 {
            let step = state;
            state = state.wrapping_add(WEYL);
            counts[(splitmix64(step) % COUNTER_SHARDS as u64) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&n| (800..1200).contains(&n)),
            "{counts:?}"
        );
    }
}
