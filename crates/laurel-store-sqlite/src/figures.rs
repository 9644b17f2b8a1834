//! The global figures a group of writes moves, summed in memory and written
//! once per group.
//!
//! Every store of a group moves the same few counter rows (the app's user
//! count, an achievement's unlock count, an aggregated stat's total and
//! today's history). Writing them per store made a group of 32 stores upsert
//! the same rows 32 times, a quarter of the writer's instructions. Summing the
//! changes ([`FigureChanges`], the rules every backend shares) and writing
//! each row once, in the group's transaction before its COMMIT, keeps them
//! exactly as current (they still commit with the progress they count) at the
//! price of one upsert per row per group.
//!
//! An item of a group computes its own changes, added to the group's only
//! when the item's savepoint is released: a refused or failed item moves
//! nothing.

use std::collections::BTreeMap;

use laurel_core::AppId;
use rusqlite::Connection;

use crate::rows::{Context, app_sql};
use laurel_store::StoreError;
use laurel_store::figures::FigureChanges;

/// The changes of a group, by app.
#[derive(Debug, Default)]
pub(crate) struct GroupFigures(BTreeMap<AppId, FigureChanges>);

impl GroupFigures {
    /// Takes in an item's changes once the item's writes are kept.
    pub(crate) fn add(&mut self, app: AppId, changes: FigureChanges) {
        self.0.entry(app).or_default().merge(changes);
    }

    /// Writes every moved row once, in key order.
    pub(crate) fn write(self, conn: &Connection) -> Result<(), StoreError> {
        for (app, changes) in self.0 {
            write_app(conn, app, changes)?;
        }
        Ok(())
    }
}

fn write_app(conn: &Connection, app: AppId, changes: FigureChanges) -> Result<(), StoreError> {
    let app_id = app_sql(app);
    if changes.users != 0 {
        conn.prepare_cached("UPDATE apps SET users = users + ?2 WHERE app_id = ?1")
            .and_then(|mut s| s.execute((app_id, changes.users)))
            .context("counting new users")?;
    }
    for (name, delta) in changes.unlocks {
        if delta == 0 {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO achievement_unlocks (app_id, name, users) VALUES (?1, ?2, ?3) \
             ON CONFLICT (app_id, name) DO UPDATE SET users = users + excluded.users",
        )
        .and_then(|mut s| s.execute((app_id, name.as_str(), delta)))
        .context("counting unlocks")?;
    }
    for ((name, kind), total) in changes.totals {
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
                app_id,
                name.as_str(),
                kind,
                total.value_rows,
                total.int_sum,
                total.float_sum,
            ))
        })
        .context("adding to stat totals")?;
    }
    for ((name, kind, day), change) in changes.history {
        conn.prepare_cached(
            "INSERT INTO stat_history (app_id, name, kind, day, int_change, float_change) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (app_id, name, kind, day) DO UPDATE SET \
             int_change = int_change + excluded.int_change, \
             float_change = float_change + excluded.float_change",
        )
        .and_then(|mut s| {
            s.execute((
                app_id,
                name.as_str(),
                kind,
                day,
                change.int_change,
                change.float_change,
            ))
        })
        .context("adding to stat history")?;
    }
    Ok(())
}
