//! The soak's app: its schema, what a user's n-th store sends, and what
//! the user's progress must be after exactly n stores. Each store changes
//! the user (its version goes up by one), so one store lost or applied
//! twice shows in the version and in the stats.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The app the soak creates through the admin API.
pub(super) const APP: u32 = 4343;
/// User `i` of the soak is this Steam id plus `i`.
const FIRST_USER: u64 = 76_561_198_100_000_000;

/// Set to `n` by a user's n-th store: increment-only, aggregated.
pub(super) const STORES: &str = "Stores";
/// Set to `n % CYCLE_LENGTH` by the n-th store: aggregated, and it goes
/// down too, so the totals move by new − old in both directions.
pub(super) const CYCLE: &str = "Cycle";
const CYCLE_LENGTH: u64 = 7;
/// The aggregated stats, whose totals the global figures keep.
pub(super) const AGGREGATED: [&str; 2] = [STORES, CYCLE];

/// Unlocked by a user's first store.
const FIRST: &str = "FIRST";
/// Unlocked by the 10th store.
const TENTH: &str = "TENTH";
/// Bound to `Stores`: unlocks by itself at [`HUNDRED_GOAL`].
const HUNDRED: &str = "HUNDRED";
const HUNDRED_GOAL: u64 = 100;
/// Never unlocked: its global count must stay 0.
const NEVER: &str = "NEVER";
/// Every achievement of the app.
pub(super) const ACHIEVEMENTS: [&str; 4] = [FIRST, TENTH, HUNDRED, NEVER];

pub(super) fn steam_id(user: usize) -> String {
    (FIRST_USER + user as u64).to_string()
}

/// The schema document: public progress and globals, so that user tokens
/// read the global figures and the Steam Web API answers without a key.
pub(super) fn schema() -> Value {
    let achievement = |name: &str| {
        json!({ "name": name, "display_name": { "english": name },
                "description": { "english": format!("{name}.") } })
    };
    let mut achievements: Vec<Value> = [FIRST, TENTH, NEVER]
        .iter()
        .map(|n| achievement(n))
        .collect();
    let mut bound = achievement(HUNDRED);
    bound["progress"] = json!({ "stat": STORES, "min": 0, "max": HUNDRED_GOAL });
    achievements.push(bound);
    json!({
        "app": { "name": "Soak", "public_progress": true, "public_globals": true },
        "stats": [
            { "name": STORES, "type": "int", "default": 0, "min": 0,
              "increment_only": true, "aggregated": true },
            { "name": CYCLE, "type": "int", "default": 0, "min": 0,
              "aggregated": true },
        ],
        "achievements": achievements,
    })
}

/// The body of a user's n-th store (n ≥ 1).
pub(super) fn store_body(n: u64) -> Value {
    let unlock: &[&str] = match n {
        1 => &[FIRST],
        10 => &[TENTH],
        _ => &[],
    };
    json!({
        "stats": [
            { "name": STORES, "value": n },
            { "name": CYCLE, "value": n % CYCLE_LENGTH },
        ],
        "unlock": unlock,
    })
}

/// What the answer to a user's n-th store lists as newly unlocked (a
/// replay lists the first answer's).
pub(super) fn newly_unlocked(n: u64) -> BTreeSet<String> {
    let names: &[&str] = match n {
        1 => &[FIRST],
        10 => &[TENTH],
        HUNDRED_GOAL => &[HUNDRED],
        _ => &[],
    };
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// A user's progress as an answer showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    pub(super) version: u64,
    pub(super) stats: BTreeMap<String, i64>,
    pub(super) unlocked: BTreeSet<String>,
}

impl Snapshot {
    /// Reads a `progress` object of the client API.
    pub(super) fn of(progress: &Value) -> Result<Snapshot> {
        let version = progress["version"]
            .as_u64()
            .with_context(|| format!("no version in {progress}"))?;
        let mut stats = BTreeMap::new();
        for s in progress["stats"].as_array().into_iter().flatten() {
            let name = s["name"].as_str().context("a stat without a name")?;
            let value = s["value"]
                .as_i64()
                .with_context(|| format!("stat {name}: not an integer"))?;
            stats.insert(name.to_owned(), value);
        }
        let unlocked = progress["achievements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["unlocked"] == true)
            .filter_map(|a| a["name"].as_str().map(str::to_owned))
            .collect();
        Ok(Snapshot {
            version,
            stats,
            unlocked,
        })
    }

    /// A user's progress after exactly `n` stores.
    pub(super) fn after(n: u64) -> Snapshot {
        let stats = [
            (STORES.to_owned(), n as i64),
            (CYCLE.to_owned(), (n % CYCLE_LENGTH) as i64),
        ]
        .into();
        let mut unlocked = BTreeSet::new();
        for (name, from) in [(FIRST, 1), (TENTH, 10), (HUNDRED, HUNDRED_GOAL)] {
            if n >= from {
                unlocked.insert(name.to_owned());
            }
        }
        Snapshot {
            version: n,
            stats,
            unlocked,
        }
    }

    pub(super) fn stat(&self, name: &str) -> i64 {
        self.stats.get(name).copied().unwrap_or(0)
    }
}
