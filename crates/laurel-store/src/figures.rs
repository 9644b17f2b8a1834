//! The global figures a store, reset or import moves (users per app, unlocks
//! per achievement, totals and daily history of aggregated stats), computed
//! without I/O, so that every backend counts by the same rules and the
//! conformance suite holds them all to it:
//!
//! - a user counts once their version goes from 0 to 1;
//! - an unlock adds one, a clear or a reset with achievements takes one away;
//! - a change of an aggregated stat moves its sum by new − old and adds the
//!   change of the total to the day's history;
//! - a user's first store brings the defaults of the aggregated stats it did
//!   not write into the totals (the user now counts with them).
//!
//! The total of a stat is `sum + default × (users − value_rows)`, so users who
//! never wrote it count with its default without a row each. Each backend
//! writes a [`FigureChanges`] in its own way (SQLite sums a whole group's
//! first; PostgreSQL writes into counter shards in a fixed lock order).

use std::collections::BTreeMap;

use laurel_core::{Schema, StatDef, StatKind, StoreOutcome, UnixTime, UserProgress};

use crate::rows::{count, kind_code, kind_of};
use crate::{
    DailyChange, GlobalAchievements, GlobalStatsQuery, MAX_HISTORY_DAYS, StatTotal, StoreError,
    utc_day,
};

/// Stored rows outlive schema changes. A stat or achievement the schema no
/// longer defines, or a stat whose type changed, reads as absent (its
/// default) rather than failing every later batch; the rows stay, so putting
/// the old schema back brings the values back.
pub fn visible(mut progress: UserProgress, schema: &Schema) -> UserProgress {
    progress.retain_known(schema);
    progress.stats.retain(|name, value| {
        schema
            .stat(name.as_str())
            .is_some_and(|def| def.kind == kind_of(value))
    });
    progress
}

/// `(int, float)` column values of an amount of a stat of `kind`. Int stats
/// only ever move by integers (i32 values, integral defaults).
fn amount_columns(kind: StatKind, amount: f64) -> (i64, f64) {
    match kind {
        StatKind::Int => (amount as i64, 0.0),
        StatKind::Float | StatKind::AvgRate => (0, amount),
    }
}

/// How one aggregated stat's kept sums move.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TotalChange {
    /// Users with a stored row of the stat.
    pub value_rows: i64,
    pub int_sum: i64,
    pub float_sum: f64,
}

/// How one day of an aggregated stat's history moves.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HistoryChange {
    pub int_change: i64,
    pub float_change: f64,
}

/// Everything one store or reset changes in the global figures, keyed so
/// that iteration order is the lock order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FigureChanges {
    /// Change of the app's user count.
    pub users: i64,
    /// Change of each achievement's unlock count, by name.
    pub unlocks: BTreeMap<String, i64>,
    /// By (stat name, kind code).
    pub totals: BTreeMap<(String, i16), TotalChange>,
    /// By (stat name, kind code, UTC day).
    pub history: BTreeMap<(String, i16, i64), HistoryChange>,
}

impl FigureChanges {
    /// What an accepted store changes. `current` is the user's visible
    /// progress before it (version 0 for a new user).
    pub fn of_store(
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
    /// rows are deleted too), `next` the progress after it (the stats it
    /// kept); `relocked` the achievements it locks again.
    pub fn of_reset(
        schema: &Schema,
        stored: &UserProgress,
        next: &UserProgress,
        relocked: &[laurel_core::ApiName],
        day: i64,
    ) -> FigureChanges {
        let mut changes = FigureChanges::default();
        // Every stored row but the kept ones goes back to the default; rows
        // of a kind the schema no longer has are in no total.
        for (name, value) in &stored.stats {
            if next.stats.contains_key(name) {
                continue;
            }
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

    /// What undoing a reset changes: the reset's changes, reversed. `before`
    /// is the stored progress the reset removed, `current` the progress it
    /// left (the user was not written since); the history moves on `day`,
    /// the day of the undo.
    pub fn of_undo(
        schema: &Schema,
        before: &UserProgress,
        current: &UserProgress,
        achievements: bool,
        day: i64,
    ) -> FigureChanges {
        let relocked: Vec<laurel_core::ApiName> = if achievements {
            before
                .achievements
                .iter()
                .filter(|(_, a)| a.unlocked)
                .map(|(n, _)| n.clone())
                .collect()
        } else {
            Vec::new()
        };
        let mut changes = FigureChanges::of_reset(schema, before, current, &relocked, day);
        changes.users = -changes.users;
        for n in changes.unlocks.values_mut() {
            *n = -*n;
        }
        for t in changes.totals.values_mut() {
            t.value_rows = -t.value_rows;
            t.int_sum = t.int_sum.saturating_neg();
            t.float_sum = -t.float_sum;
        }
        for h in changes.history.values_mut() {
            h.int_change = h.int_change.saturating_neg();
            h.float_change = -h.float_change;
        }
        changes
    }

    /// What importing a user's progress changes (`Store::import_user`):
    /// one more user, their unlocks, and their values of aggregated stats in
    /// the sums; no history (the progress does not say on which days its
    /// values changed).
    pub fn of_import(schema: &Schema, progress: &UserProgress) -> FigureChanges {
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

    /// Refuses changes that no counter column can hold. The core accepts only
    /// finite values, so this fails only for progress stored by an older
    /// build (repaired by the migrations); it keeps such a write from failing
    /// the writes it is counted with.
    pub fn check_finite(&self) -> Result<(), StoreError> {
        let finite = self.totals.values().all(|t| t.float_sum.is_finite())
            && self.history.values().all(|h| h.float_change.is_finite());
        if finite {
            Ok(())
        } else {
            Err(StoreError::Backend(
                "a global total would not be a finite number; the write was not applied".into(),
            ))
        }
    }

    /// Adds another change of the same app (a later item of the same group).
    pub fn merge(&mut self, other: FigureChanges) {
        self.users += other.users;
        for (name, n) in other.unlocks {
            *self.unlocks.entry(name).or_default() += n;
        }
        for (key, t) in other.totals {
            let total = self.totals.entry(key).or_default();
            total.value_rows += t.value_rows;
            total.int_sum = total.int_sum.saturating_add(t.int_sum);
            total.float_sum += t.float_sum;
        }
        for (key, h) in other.history {
            let history = self.history.entry(key).or_default();
            history.int_change = history.int_change.saturating_add(h.int_change);
            history.float_change += h.float_change;
        }
    }
}

// ---- reading the figures back: the same arithmetic on every backend ----

/// The answer of [`crate::Store::global_achievements`] for an app with
/// `users` users, from the kept unlock count of each achievement name
/// (`None`: no row, none unlocked): every achievement the schema has and none
/// it lost, the same view as `progress`.
pub fn global_achievements(
    schema: &Schema,
    users: i64,
    unlocks: impl Fn(&str) -> Option<i64>,
) -> Result<GlobalAchievements, StoreError> {
    let mut unlocked = BTreeMap::new();
    for def in schema.achievements() {
        let n = unlocks(def.name.as_str()).unwrap_or(0);
        unlocked.insert(def.name.to_string(), count(n, "unlock count")?);
    }
    Ok(GlobalAchievements {
        users: count(users, "user count")?,
        unlocked,
    })
}

/// Refuses a history range that is empty or longer than [`MAX_HISTORY_DAYS`].
pub fn check_history_range(query: &GlobalStatsQuery) -> Result<(), StoreError> {
    match query.history {
        Some((first, last)) if !history_range_fits(first, last) => Err(StoreError::Backend(
            format!("history of days {first}..={last} is not 1..={MAX_HISTORY_DAYS} days"),
        )),
        _ => Ok(()),
    }
}

fn history_range_fits(first: i64, last: i64) -> bool {
    let days = last.saturating_sub(first).saturating_add(1);
    first <= last && days <= i64::from(MAX_HISTORY_DAYS)
}

/// The stats [`crate::Store::global_stats`] answers about, in schema order:
/// the aggregated ones `query` names (all of them when it names none).
pub fn queried_stats<'a>(
    schema: &'a Schema,
    query: &'a GlobalStatsQuery,
) -> impl Iterator<Item = &'a StatDef> + 'a {
    schema.stats().iter().filter(|def| {
        def.aggregated
            && (query.names.is_empty() || query.names.iter().any(|n| n == def.name.as_str()))
    })
}

/// The kept sums of one aggregated stat, as its `stat_totals` row(s) hold
/// them (all zero when it has none).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KeptSums {
    /// Users with a stored row of the stat.
    pub value_rows: i64,
    pub int_sum: i64,
    pub float_sum: f64,
}

/// The total of an aggregated stat over an app's `users`: the kept sum plus
/// the default for every user without a row of it.
pub fn stat_total(def: &StatDef, users: i64, sums: KeptSums) -> StatTotal {
    let without_row = users.saturating_sub(sums.value_rows).max(0);
    match def.kind {
        StatKind::Int => StatTotal::Int(
            sums.int_sum
                .saturating_add((def.default as i64).saturating_mul(without_row)),
        ),
        StatKind::Float | StatKind::AvgRate => {
            StatTotal::Float(sums.float_sum + def.default * without_row as f64)
        }
    }
}

/// The dense history of days `first..=last` of a stat of `kind`, from its
/// `stat_history` rows `(day, int_change, float_change)` in ascending day
/// order: a day without a row changed by zero.
pub fn daily_history(
    kind: StatKind,
    (first, last): (i64, i64),
    rows: impl IntoIterator<Item = (i64, i64, f64)>,
) -> Vec<DailyChange> {
    let mut rows = rows.into_iter().peekable();
    let mut days = Vec::new();
    for day in first..=last {
        let change = match rows.peek() {
            Some(&(d, int, float)) if d == day => {
                rows.next();
                match kind {
                    StatKind::Int => StatTotal::Int(int),
                    StatKind::Float | StatKind::AvgRate => StatTotal::Float(float),
                }
            }
            _ => StatTotal::zero(kind),
        };
        days.push(DailyChange { day, change });
    }
    days
}

/// Whether the kept total of stat `name` of kind code `kind` survives a
/// change to schema `new`: only while the stat is still aggregated with
/// the same kind.
pub fn total_still_kept(new: &Schema, name: &str, kind: i16) -> bool {
    new.stat(name)
        .is_some_and(|d| d.aggregated && kind_code(d.kind) == kind)
}

/// The stats a change from schema `old` to `new` makes aggregated (or
/// aggregated with another kind): their totals are counted from the stored
/// rows once, when the schema is put.
pub fn newly_aggregated<'a>(
    old: Option<&'a Schema>,
    new: &'a Schema,
) -> impl Iterator<Item = &'a StatDef> + 'a {
    new.stats().iter().filter(move |def| {
        def.aggregated
            && !old
                .and_then(|o| o.stat(def.name.as_str()))
                .is_some_and(|d| d.aggregated && d.kind == def.kind)
    })
}

#[cfg(test)]
#[cfg(feature = "conformance")]
mod tests {
    use laurel_core::{SchemaDoc, StoreBatch, WriteAuthority, apply_batch};

    use super::*;
    use crate::conformance::{AGGREGATED_SCHEMA_JSON, NOW, set, unlock};

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

        let (next, relocked) = laurel_core::reset(
            &second.progress,
            laurel_core::ResetScope::full(true),
            &schema(),
        );
        let reset = FigureChanges::of_reset(&schema(), &second.progress, &next, &relocked, 3);
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

    #[test]
    fn merged_changes_sum_per_row() {
        let new = UserProgress::default();
        let first = outcome(&new, vec![set("Kills", 5.0), unlock("A")]);
        let mut group = FigureChanges::of_store(&schema(), &new, &first, NOW);
        let second = outcome(&first.progress, vec![set("Kills", 7.0)]);
        group.merge(FigureChanges::of_store(
            &schema(),
            &first.progress,
            &second,
            NOW,
        ));
        assert_eq!(group.users, 1);
        assert_eq!(group.unlocks, BTreeMap::from([("A".to_owned(), 1)]));
        let kills = group.totals[&("Kills".to_owned(), 0)];
        assert_eq!((kills.value_rows, kills.int_sum), (1, 7));
        assert_eq!(
            group.history[&("Kills".to_owned(), 0, utc_day(NOW))].int_change,
            7
        );
    }
}
