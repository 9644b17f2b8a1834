//! The global figures a store or reset moves (users per app, unlocks per
//! achievement, totals and daily history of aggregated stats), computed
//! first and written afterwards in one fixed order.
//!
//! The rules are the SQLite store's (`count_aggregated_stats` and
//! `execute_reset` in `laurel_store_sqlite`), and the conformance suite
//! holds both to them: a user counts once their version goes from 0 to 1; an
//! unlock adds one, a clear or a reset with achievements takes one away; a
//! change of an aggregated stat moves its sum by new − old and adds the
//! change of the total to the day's history; a user's first store brings the
//! defaults of the aggregated stats it did not write into the totals. The
//! total of a stat is `sum + default × (users − value_rows)`.
//!
//! Why compute first: these rows are shared by the users of an app, so
//! every transaction that writes them takes their row locks. Taking them in
//! one global order — `app_users`, then `achievement_unlocks`,
//! `stat_totals`, `stat_history`, each by key — means two stores never wait
//! for each other in a cycle, so they cannot deadlock on counters
//! (PostgreSQL would resolve a deadlock by failing one, which would then be
//! rerun; the order makes it not happen in the first place).
//!
//! Each counter is split into [`COUNTER_SHARDS`] rows. A group of stores
//! writes its changes, summed, to the group's own shard
//! (`crate::store_groups`); a reset or an import to the shard of the user's
//! Steam id ([`shard_of`]). Transactions writing different shards never
//! wait for each other's commit on a counter. Reads add the shards up, so
//! which shard holds a change does not matter.

use laurel_core::AppId;
pub(crate) use laurel_store::figures::FigureChanges;

use crate::connection::Failure;
use crate::rows::app_sql;
use crate::script::{Array, Prepared, Script};

/// Rows per global counter: how many stores of one app may move the same
/// counter without waiting for each other's commit.
pub(crate) const COUNTER_SHARDS: i16 = 16;

/// The counter shard of a user: their Steam id (as stored, bit-cast) modulo
/// [`COUNTER_SHARDS`]. Account ids are sequential, so users spread evenly.
pub(crate) fn shard_of(steam_id: i64) -> i16 {
    // In 0..COUNTER_SHARDS, so the narrowing is exact.
    (steam_id as u64 % COUNTER_SHARDS as u64) as i16
}

// The counter statements, in the lock order.
pub(crate) const ADD_USERS: Prepared = Prepared {
    name: "laurel_add_users",
    params: "int8, int2, int8",
    sql: "INSERT INTO app_users (app_id, shard, users) VALUES ($1, $2, $3) \
          ON CONFLICT (app_id, shard) DO UPDATE SET users = app_users.users + excluded.users",
};
pub(crate) const ADD_UNLOCKS: Prepared = Prepared {
    name: "laurel_add_unlocks",
    params: "int8, int2, text[], int8[]",
    sql: "INSERT INTO achievement_unlocks (app_id, name, shard, users) \
          SELECT $1, t.name, $2, t.delta FROM unnest($3::text[], $4::bigint[]) AS t(name, delta) \
          ORDER BY t.name COLLATE \"C\" \
          ON CONFLICT (app_id, name, shard) DO UPDATE SET users = achievement_unlocks.users + excluded.users",
};
pub(crate) const ADD_TOTALS: Prepared = Prepared {
    name: "laurel_add_totals",
    params: "int8, text[], int2[], int8[], int8[], float8[], int2",
    sql: "INSERT INTO stat_totals (app_id, name, kind, shard, value_rows, int_sum, float_sum) \
          SELECT $1, t.name, t.kind, $7, t.value_rows, t.int_sum, t.float_sum \
          FROM unnest($2::text[], $3::smallint[], $4::bigint[], $5::bigint[], $6::float8[]) \
               AS t(name, kind, value_rows, int_sum, float_sum) \
          ORDER BY t.name COLLATE \"C\", t.kind \
          ON CONFLICT (app_id, name, kind, shard) DO UPDATE SET \
          value_rows = stat_totals.value_rows + excluded.value_rows, \
          int_sum = stat_totals.int_sum + excluded.int_sum, \
          float_sum = stat_totals.float_sum + excluded.float_sum",
};
pub(crate) const ADD_HISTORY: Prepared = Prepared {
    name: "laurel_add_history",
    params: "int8, text[], int2[], int8[], int8[], float8[], int2",
    sql: "INSERT INTO stat_history (app_id, name, kind, day, shard, int_change, float_change) \
          SELECT $1, t.name, t.kind, t.day, $7, t.int_change, t.float_change \
          FROM unnest($2::text[], $3::smallint[], $4::bigint[], $5::bigint[], $6::float8[]) \
               AS t(name, kind, day, int_change, float_change) \
          ORDER BY t.name COLLATE \"C\", t.kind, t.day \
          ON CONFLICT (app_id, name, kind, day, shard) DO UPDATE SET \
          int_change = stat_history.int_change + excluded.int_change, \
          float_change = stat_history.float_change + excluded.float_change",
};

/// Adds the writes of `changes` (computed by `laurel_store::figures`, the
/// rules every backend shares) into counter shard `shard`, table after table
/// in the lock order, each table's rows in key order (`ORDER BY … COLLATE
/// "C"` is byte order, the order of the `BTreeMap` keys). One statement per
/// table that changes; a script runs them in the order they were added.
pub(crate) fn write(
    changes: &FigureChanges,
    script: &mut Script,
    app: AppId,
    shard: i16,
) -> Result<(), Failure> {
    let app_id = app_sql(app);
    if changes.users != 0 {
        script.execute(&ADD_USERS, &[&app_id, &shard, &changes.users])?;
    }
    let unlocks: Vec<(&str, i64)> = changes
        .unlocks
        .iter()
        .filter(|(_, delta)| **delta != 0)
        .map(|(name, delta)| (name.as_str(), *delta))
        .collect();
    if !unlocks.is_empty() {
        let names: Vec<&str> = unlocks.iter().map(|u| u.0).collect();
        let deltas: Vec<i64> = unlocks.iter().map(|u| u.1).collect();
        script.execute(
            &ADD_UNLOCKS,
            &[&app_id, &shard, &Array(&names), &Array(&deltas)],
        )?;
    }
    let totals = &changes.totals;
    if !totals.is_empty() {
        let names: Vec<&str> = totals.keys().map(|k| k.0.as_str()).collect();
        let kinds: Vec<i16> = totals.keys().map(|k| k.1).collect();
        let rows: Vec<i64> = totals.values().map(|t| t.value_rows).collect();
        let ints: Vec<i64> = totals.values().map(|t| t.int_sum).collect();
        let floats: Vec<f64> = totals.values().map(|t| t.float_sum).collect();
        script.execute(
            &ADD_TOTALS,
            &[
                &app_id,
                &Array(&names),
                &Array(&kinds),
                &Array(&rows),
                &Array(&ints),
                &Array(&floats),
                &shard,
            ],
        )?;
    }
    let history = &changes.history;
    if !history.is_empty() {
        let names: Vec<&str> = history.keys().map(|k| k.0.as_str()).collect();
        let kinds: Vec<i16> = history.keys().map(|k| k.1).collect();
        let days: Vec<i64> = history.keys().map(|k| k.2).collect();
        let ints: Vec<i64> = history.values().map(|h| h.int_change).collect();
        let floats: Vec<f64> = history.values().map(|h| h.float_change).collect();
        script.execute(
            &ADD_HISTORY,
            &[
                &app_id,
                &Array(&names),
                &Array(&kinds),
                &Array(&days),
                &Array(&ints),
                &Array(&floats),
                &shard,
            ],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_steam_id() {
        for (id, shard) in [(0, 0), (1, 1), (15, 15), (16, 0), (-1, 15), (i64::MIN, 0)] {
            assert_eq!(shard_of(id), shard, "{id}");
        }
        assert!((0..1000).all(|id| (0..COUNTER_SHARDS).contains(&shard_of(id))));
    }
}
