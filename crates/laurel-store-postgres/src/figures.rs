//! The global figures a store or reset moves (users per app, unlocks per
//! achievement, totals and daily history of aggregated stats), computed
//! first and written afterwards in one fixed order.
//!
//! The rules are the SQLite store's (`count_aggregated_stats` and
//! `execute_reset` in `laurel_store::sqlite`), and the conformance suite
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
//! Each counter is split into [`COUNTER_SHARDS`] rows, and a user's changes
//! always go to the shard of their Steam id ([`shard_of`]): stores of users
//! in different shards never wait for each other's commit on a counter.
//! Reads add the shards up.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use laurel_core::{AppId, Schema, StatDef, StatKind, StoreOutcome, UnixTime, UserProgress};
use laurel_store::utc_day;

use crate::connection::{Failure, execute};
use crate::rows::{app_sql, kind_code, kind_of};

/// Rows per global counter: how many stores of one app may move the same
/// counter without waiting for each other's commit.
pub(crate) const COUNTER_SHARDS: i16 = 16;

/// The counter shard of a user: their Steam id (as stored, bit-cast) modulo
/// [`COUNTER_SHARDS`]. Account ids are sequential, so users spread evenly.
pub(crate) fn shard_of(steam_id: i64) -> i16 {
    // In 0..COUNTER_SHARDS, so the narrowing is exact.
    (steam_id as u64 % COUNTER_SHARDS as u64) as i16
}

/// How one aggregated stat's kept sums move.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct TotalChange {
    /// Users with a stored row of the stat.
    pub(crate) value_rows: i64,
    pub(crate) int_sum: i64,
    pub(crate) float_sum: f64,
}

/// How one day of an aggregated stat's history moves.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct HistoryChange {
    pub(crate) int_change: i64,
    pub(crate) float_change: f64,
}

/// Everything one store or reset changes in the global figures, keyed so
/// that iteration order is the lock order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FigureChanges {
    /// Change of the app's user count.
    pub(crate) users: i64,
    /// Change of each achievement's unlock count, by name.
    pub(crate) unlocks: BTreeMap<String, i64>,
    /// By (stat name, kind code).
    pub(crate) totals: BTreeMap<(String, i16), TotalChange>,
    /// By (stat name, kind code, UTC day).
    pub(crate) history: BTreeMap<(String, i16, i64), HistoryChange>,
}

/// `(int, float)` column values of an amount of a stat of `kind`. Int stats
/// only ever move by integers (i32 values, integral defaults).
fn amount_columns(kind: StatKind, amount: f64) -> (i64, f64) {
    match kind {
        StatKind::Int => (amount as i64, 0.0),
        StatKind::Float | StatKind::AvgRate => (0, amount),
    }
}

impl FigureChanges {
    /// What an accepted store changes. `current` is the user's visible
    /// progress before it (version 0 for a new user).
    pub(crate) fn of_store(
        schema: &Schema,
        current: &UserProgress,
        outcome: &StoreOutcome,
        now: UnixTime,
    ) -> FigureChanges {
        let mut changes = FigureChanges::default();
        let new_user = current.version == 0;
        if new_user {
            changes.users = 1;
        }
        for name in &outcome.newly_unlocked {
            changes.unlock(name.as_str(), 1);
        }
        for name in &outcome.newly_locked {
            changes.unlock(name.as_str(), -1);
        }
        let day = utc_day(now);
        for name in &outcome.changed_stats {
            let Some(def) = schema.stat(name.as_str()).filter(|d| d.aggregated) else {
                continue;
            };
            let Some(new) = outcome.progress.stats.get(name) else {
                continue;
            };
            let new = new.read(def);
            let (value_rows, sum, change) = match current.stats.get(name) {
                Some(old) => {
                    let old = old.read(def);
                    (0, new - old, new - old)
                }
                None if new_user => (1, new, new),
                None => (1, new, new - def.default),
            };
            changes.add_total(def, value_rows, sum, change, day);
        }
        if new_user {
            for def in schema.stats() {
                if def.aggregated
                    && def.default != 0.0
                    && !outcome.changed_stats.contains(&def.name)
                {
                    changes.add_total(def, 0, 0.0, def.default, day);
                }
            }
        }
        changes
    }

    /// What a reset changes. `stored` is the user's stored progress (every
    /// row, also of stats and achievements the schema no longer has: their
    /// rows are deleted too); `relocked` the achievements it locks again.
    pub(crate) fn of_reset(
        schema: &Schema,
        stored: &UserProgress,
        relocked: &[laurel_core::ApiName],
        day: i64,
    ) -> FigureChanges {
        let mut changes = FigureChanges::default();
        // Every stored row goes back to the default; rows of a kind the
        // schema no longer has are in no total.
        for (name, value) in &stored.stats {
            let Some(def) = schema
                .stat(name.as_str())
                .filter(|d| d.aggregated && d.kind == kind_of(value))
            else {
                continue;
            };
            let old = value.read(def);
            changes.add_total(def, -1, -old, def.default - old, day);
        }
        for name in relocked {
            changes.unlock(name.as_str(), -1);
        }
        changes
    }

    /// What importing a user's progress changes (`Store::import_user`):
    /// one more user, their unlocks, and their values of aggregated stats in
    /// the sums; no history (the progress does not say on which days its
    /// values changed).
    pub(crate) fn of_import(schema: &Schema, progress: &UserProgress) -> FigureChanges {
        let mut changes = FigureChanges {
            users: 1,
            ..FigureChanges::default()
        };
        for (name, state) in &progress.achievements {
            if state.unlocked {
                changes.unlock(name.as_str(), 1);
            }
        }
        for (name, value) in &progress.stats {
            if let Some(def) = schema
                .stat(name.as_str())
                .filter(|d| d.aggregated && d.kind == kind_of(value))
            {
                // A change of 0 adds no history.
                changes.add_total(def, 1, value.read(def), 0.0, 0);
            }
        }
        changes
    }

    fn unlock(&mut self, name: &str, delta: i64) {
        *self.unlocks.entry(name.to_owned()).or_default() += delta;
    }

    /// Moves the kept sums of an aggregated stat (`value_rows` users with a
    /// row, `sum` of their values) and adds `change` (the change of its
    /// total) to the history of `day`.
    fn add_total(&mut self, def: &StatDef, value_rows: i64, sum: f64, change: f64, day: i64) {
        let kind = kind_code(def.kind);
        let (int_sum, float_sum) = amount_columns(def.kind, sum);
        let total = self.totals.entry((def.name.to_string(), kind)).or_default();
        total.value_rows += value_rows;
        total.int_sum += int_sum;
        total.float_sum += float_sum;
        if change == 0.0 {
            return;
        }
        let (int_change, float_change) = amount_columns(def.kind, change);
        let history = self
            .history
            .entry((def.name.to_string(), kind, day))
            .or_default();
        history.int_change += int_change;
        history.float_change += float_change;
    }

    /// Writes the changes into counter shard `shard`, table after table in
    /// the lock order, each table's rows in key order (`ORDER BY … COLLATE
    /// "C"` is byte order, the order of the `BTreeMap` keys). One statement
    /// per table.
    pub(crate) async fn write<C: GenericClient>(
        &self,
        client: &C,
        app: AppId,
        shard: i16,
    ) -> Result<(), Failure> {
        let app_id = app_sql(app);
        if self.users != 0 {
            execute(
                client,
                "counting users",
                "INSERT INTO app_users (app_id, shard, users) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, shard) DO UPDATE SET users = app_users.users + excluded.users",
                &[&app_id, &shard, &self.users],
            )
            .await?;
        }

        let unlocks: Vec<(&str, i64)> = self
            .unlocks
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|(name, delta)| (name.as_str(), *delta))
            .collect();
        if !unlocks.is_empty() {
            let names: Vec<&str> = unlocks.iter().map(|u| u.0).collect();
            let deltas: Vec<i64> = unlocks.iter().map(|u| u.1).collect();
            execute(
                client,
                "counting unlocks",
                "INSERT INTO achievement_unlocks (app_id, name, shard, users) \
                 SELECT $1, t.name, $2, t.delta FROM unnest($3::text[], $4::bigint[]) AS t(name, delta) \
                 ORDER BY t.name COLLATE \"C\" \
                 ON CONFLICT (app_id, name, shard) DO UPDATE SET users = achievement_unlocks.users + excluded.users",
                &[&app_id, &shard, &names, &deltas],
            )
            .await?;
        }

        if !self.totals.is_empty() {
            let names: Vec<&str> = self.totals.keys().map(|k| k.0.as_str()).collect();
            let kinds: Vec<i16> = self.totals.keys().map(|k| k.1).collect();
            let rows: Vec<i64> = self.totals.values().map(|t| t.value_rows).collect();
            let ints: Vec<i64> = self.totals.values().map(|t| t.int_sum).collect();
            let floats: Vec<f64> = self.totals.values().map(|t| t.float_sum).collect();
            execute(
                client,
                "adding to stat totals",
                "INSERT INTO stat_totals (app_id, name, kind, shard, value_rows, int_sum, float_sum) \
                 SELECT $1, t.name, t.kind, $7, t.value_rows, t.int_sum, t.float_sum \
                 FROM unnest($2::text[], $3::smallint[], $4::bigint[], $5::bigint[], $6::float8[]) \
                      AS t(name, kind, value_rows, int_sum, float_sum) \
                 ORDER BY t.name COLLATE \"C\", t.kind \
                 ON CONFLICT (app_id, name, kind, shard) DO UPDATE SET \
                 value_rows = stat_totals.value_rows + excluded.value_rows, \
                 int_sum = stat_totals.int_sum + excluded.int_sum, \
                 float_sum = stat_totals.float_sum + excluded.float_sum",
                &[&app_id, &names, &kinds, &rows, &ints, &floats, &shard],
            )
            .await?;
        }

        if !self.history.is_empty() {
            let names: Vec<&str> = self.history.keys().map(|k| k.0.as_str()).collect();
            let kinds: Vec<i16> = self.history.keys().map(|k| k.1).collect();
            let days: Vec<i64> = self.history.keys().map(|k| k.2).collect();
            let ints: Vec<i64> = self.history.values().map(|h| h.int_change).collect();
            let floats: Vec<f64> = self.history.values().map(|h| h.float_change).collect();
            execute(
                client,
                "adding to stat history",
                "INSERT INTO stat_history (app_id, name, kind, day, shard, int_change, float_change) \
                 SELECT $1, t.name, t.kind, t.day, $7, t.int_change, t.float_change \
                 FROM unnest($2::text[], $3::smallint[], $4::bigint[], $5::bigint[], $6::float8[]) \
                      AS t(name, kind, day, int_change, float_change) \
                 ORDER BY t.name COLLATE \"C\", t.kind, t.day \
                 ON CONFLICT (app_id, name, kind, day, shard) DO UPDATE SET \
                 int_change = stat_history.int_change + excluded.int_change, \
                 float_change = stat_history.float_change + excluded.float_change",
                &[&app_id, &names, &kinds, &days, &ints, &floats, &shard],
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use laurel_core::{SchemaDoc, StoreBatch, WriteAuthority, apply_batch};
    use laurel_store::conformance::{AGGREGATED_SCHEMA_JSON, NOW, set, unlock};

    use super::*;

    fn schema() -> Schema {
        let doc = SchemaDoc::from_json(AGGREGATED_SCHEMA_JSON).expect("parses");
        Schema::from_doc(&doc).expect("valid")
    }

    fn outcome(current: &UserProgress, entries: Vec<laurel_core::BatchEntry>) -> StoreOutcome {
        apply_batch(
            &schema(),
            current,
            &StoreBatch { entries },
            WriteAuthority::User,
            NOW,
        )
        .expect("valid batch")
    }

    #[test]
    fn shards_cover_every_steam_id() {
        for (id, shard) in [(0, 0), (1, 1), (15, 15), (16, 0), (-1, 15), (i64::MIN, 0)] {
            assert_eq!(shard_of(id), shard, "{id}");
        }
        assert!((0..1000).all(|id| (0..COUNTER_SHARDS).contains(&shard_of(id))));
    }

    #[test]
    fn a_new_user_counts_with_the_defaults_of_what_it_did_not_write() {
        let new = UserProgress::default();
        let out = outcome(&new, vec![set("Kills", 5.0), unlock("A")]);
        let changes = FigureChanges::of_store(&schema(), &new, &out, NOW);
        let day = utc_day(NOW);
        assert_eq!(changes.users, 1);
        assert_eq!(changes.unlocks, BTreeMap::from([("A".to_owned(), 1)]));
        assert_eq!(
            changes.totals,
            BTreeMap::from([
                (
                    ("Distance".to_owned(), 1),
                    TotalChange {
                        value_rows: 0,
                        int_sum: 0,
                        float_sum: 0.0
                    }
                ),
                (
                    ("Kills".to_owned(), 0),
                    TotalChange {
                        value_rows: 1,
                        int_sum: 5,
                        float_sum: 0.0
                    }
                ),
            ])
        );
        assert_eq!(
            changes.history,
            BTreeMap::from([
                (
                    ("Distance".to_owned(), 1, day),
                    HistoryChange {
                        int_change: 0,
                        float_change: 0.5
                    }
                ),
                (
                    ("Kills".to_owned(), 0, day),
                    HistoryChange {
                        int_change: 5,
                        float_change: 0.0
                    }
                ),
            ])
        );
    }

    #[test]
    fn a_known_user_moves_sums_by_the_difference_and_resets_undo_rows() {
        let new = UserProgress::default();
        let first = outcome(&new, vec![set("Kills", 5.0)]).progress;
        let second = outcome(&first, vec![set("Kills", 8.0), set("Plain", 2.0)]);
        let changes = FigureChanges::of_store(&schema(), &first, &second, NOW);
        assert_eq!(changes.users, 0);
        assert!(changes.unlocks.is_empty());
        assert_eq!(
            changes.totals[&("Kills".to_owned(), 0)],
            TotalChange {
                value_rows: 0,
                int_sum: 3,
                float_sum: 0.0
            }
        );
        assert_eq!(changes.totals.len(), 1, "Plain is not aggregated");

        let (_, relocked) = laurel_core::reset(
            &second.progress,
            laurel_core::ResetScope { achievements: true },
        );
        let reset = FigureChanges::of_reset(&schema(), &second.progress, &relocked, 3);
        assert_eq!(
            reset.totals[&("Kills".to_owned(), 0)],
            TotalChange {
                value_rows: -1,
                int_sum: -8,
                float_sum: 0.0
            }
        );
        assert_eq!(
            reset.history[&("Kills".to_owned(), 0, 3)],
            HistoryChange {
                int_change: 10 - 8,
                float_change: 0.0
            }
        );
    }
}
