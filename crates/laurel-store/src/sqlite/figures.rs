//! The global figures a group of writes moves, summed in memory and written
//! once per group.
//!
//! Every store of a group moves the same few counter rows (the app's user
//! count, an achievement's unlock count, an aggregated stat's total and
//! today's history). Writing them per store made a group of 32 stores upsert
//! the same rows 32 times, a quarter of the writer's instructions. Summing the
//! changes and writing each row once, in the group's transaction before its
//! COMMIT, keeps them exactly as current (they still commit with the progress
//! they count) at the price of one upsert per row per group.
//!
//! An item of a group sums into its own [`FigureDeltas`], merged into the
//! group's only when the item's savepoint is released: a refused or failed
//! item moves nothing.

use std::collections::BTreeMap;

use laurel_core::{ApiName, AppId, StatDef, StatKind};
use rusqlite::Connection;

use super::rows::{Context, app_sql, kind_code};
use crate::StoreError;

/// `(int, float)` column values of an amount of a stat of `kind`. Int stats
/// only ever move by integers (i32 values, integral defaults).
pub(crate) fn amount_columns(kind: StatKind, amount: f64) -> (i64, f64) {
    match kind {
        StatKind::Int => (amount as i64, 0.0),
        StatKind::Float | StatKind::AvgRate => (0, amount),
    }
}

/// An amount in the table's two columns: exact integers for `int` stats.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Amount {
    int: i64,
    float: f64,
}

impl Amount {
    fn of(kind: StatKind, amount: f64) -> Amount {
        let (int, float) = amount_columns(kind, amount);
        Amount { int, float }
    }

    fn add(&mut self, other: Amount) {
        self.int = self.int.saturating_add(other.int);
        self.float += other.float;
    }
}

/// A stat total's row: app, stat name, kind code.
type TotalKey = (AppId, String, i64);

#[derive(Debug, Default)]
pub(crate) struct FigureDeltas {
    new_users: BTreeMap<AppId, i64>,
    unlocks: BTreeMap<(AppId, ApiName), i64>,
    /// Users with a row of the stat, and the sum of their values.
    totals: BTreeMap<TotalKey, (i64, Amount)>,
    /// Change of the total per UTC day.
    history: BTreeMap<(TotalKey, i64), Amount>,
}

impl FigureDeltas {
    /// Counts a user who got their first stored progress in the app.
    pub(crate) fn new_user(&mut self, app: AppId) {
        *self.new_users.entry(app).or_default() += 1;
    }

    /// Moves the global unlock count of an achievement by `delta` (+1 or −1).
    pub(crate) fn unlock(&mut self, app: AppId, name: &ApiName, delta: i64) {
        *self.unlocks.entry((app, name.clone())).or_default() += delta;
    }

    /// Moves the kept sums of an aggregated stat (`value_rows` users with a
    /// row, `sum` of their values) and adds `change` (the change of its total)
    /// to the history of UTC day `day`.
    pub(crate) fn stat_total(
        &mut self,
        app: AppId,
        def: &StatDef,
        value_rows: i64,
        sum: f64,
        change: f64,
        day: i64,
    ) {
        let key = (app, def.name.to_string(), kind_code(def.kind));
        let total = self.totals.entry(key.clone()).or_default();
        total.0 += value_rows;
        total.1.add(Amount::of(def.kind, sum));
        if change != 0.0 {
            self.history
                .entry((key, day))
                .or_default()
                .add(Amount::of(def.kind, change));
        }
    }

    /// Takes in an item's figures once the item's writes are kept.
    pub(crate) fn merge(&mut self, item: FigureDeltas) {
        for (app, n) in item.new_users {
            *self.new_users.entry(app).or_default() += n;
        }
        for (key, n) in item.unlocks {
            *self.unlocks.entry(key).or_default() += n;
        }
        for (key, (rows, sum)) in item.totals {
            let total = self.totals.entry(key).or_default();
            total.0 += rows;
            total.1.add(sum);
        }
        for (key, change) in item.history {
            self.history.entry(key).or_default().add(change);
        }
    }

    /// Writes every moved row once. Rows are written in key order, so two
    /// writers of one database (another process) take row locks in one order.
    pub(crate) fn write(self, conn: &Connection) -> Result<(), StoreError> {
        for (app, n) in self.new_users {
            conn.prepare_cached("UPDATE apps SET users = users + ?2 WHERE app_id = ?1")
                .and_then(|mut s| s.execute((app_sql(app), n)))
                .context("counting new users")?;
        }
        for ((app, name), delta) in self.unlocks {
            if delta == 0 {
                continue;
            }
            conn.prepare_cached(
                "INSERT INTO achievement_unlocks (app_id, name, users) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (app_id, name) DO UPDATE SET users = users + excluded.users",
            )
            .and_then(|mut s| s.execute((app_sql(app), name.as_str(), delta)))
            .context("counting unlocks")?;
        }
        for ((app, name, kind), (value_rows, sum)) in self.totals {
            conn.prepare_cached(
                "INSERT INTO stat_totals (app_id, name, kind, value_rows, int_sum, float_sum) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (app_id, name, kind) DO UPDATE SET \
                 value_rows = value_rows + excluded.value_rows, \
                 int_sum = int_sum + excluded.int_sum, \
                 float_sum = float_sum + excluded.float_sum",
            )
            .and_then(|mut s| {
                s.execute((
                    app_sql(app),
                    name.as_str(),
                    kind,
                    value_rows,
                    sum.int,
                    sum.float,
                ))
            })
            .context("adding to stat totals")?;
        }
        for (((app, name, kind), day), change) in self.history {
            conn.prepare_cached(
                "INSERT INTO stat_history (app_id, name, kind, day, int_change, float_change) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (app_id, name, kind, day) DO UPDATE SET \
                 int_change = int_change + excluded.int_change, \
                 float_change = float_change + excluded.float_change",
            )
            .and_then(|mut s| {
                s.execute((
                    app_sql(app),
                    name.as_str(),
                    kind,
                    day,
                    change.int,
                    change.float,
                ))
            })
            .context("adding to stat history")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_items_sum_per_row() {
        let app = AppId::new(480).expect("app id");
        let name = ApiName::parse("ACH_WIN").expect("name");
        let mut group = FigureDeltas::default();
        for delta in [1, 1, -1] {
            let mut item = FigureDeltas::default();
            item.unlock(app, &name, delta);
            item.new_user(app);
            group.merge(item);
        }
        assert_eq!(group.unlocks.get(&(app, name)), Some(&1));
        assert_eq!(group.new_users.get(&app), Some(&3));
    }
}
