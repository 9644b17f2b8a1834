//! The verdict, from the servers' answers and the writers' own record:
//! every user read back from every node (they must agree) must be at
//! exactly the version its writer's acknowledged stores make (fewer: a
//! store lost; more: one applied twice) with the stats and unlocks of that
//! many stores; and the global figures, through the client API and the
//! Steam Web API of every node, must equal a recount from the users read
//! back.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use laurel_testkit::Http;
use serde_json::Value;

use super::app::{ACHIEVEMENTS, AGGREGATED, APP, Snapshot, steam_id};
use super::writers::User;

/// Problems listed in full; the rest are counted.
const SHOWN: usize = 20;

/// What one user's writer knows of it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Record {
    /// Stores acknowledged (200).
    pub(super) acked: u64,
    /// One more store was sent and never answered: it may or may not be there.
    pub(super) unresolved: bool,
}

#[derive(Debug, Default)]
pub(super) struct Verdict {
    pub(super) users: usize,
    /// Stores acknowledged, by every writer.
    pub(super) acknowledged: u64,
    /// Acknowledged stores missing from the users read back.
    pub(super) lost: u64,
    /// Stores found beyond the acknowledged ones (and an unresolved one).
    pub(super) doubled: u64,
    pub(super) unresolved: u64,
    /// Users read back unlike what their stores make, or unlike on two nodes.
    pub(super) wrong_users: Vec<String>,
    /// Global figures unlike the recount.
    pub(super) wrong_figures: Vec<String>,
}

impl Verdict {
    pub(super) fn passed(&self) -> bool {
        self.lost == 0
            && self.doubled == 0
            && self.wrong_users.is_empty()
            && self.wrong_figures.is_empty()
    }

    /// Prints the problems (at most [`SHOWN`] of each kind).
    pub(super) fn print_problems(&self) {
        for (what, list) in [
            ("user", &self.wrong_users),
            ("global figure", &self.wrong_figures),
        ] {
            for p in list.iter().take(SHOWN) {
                println!("  WRONG {what}: {p}");
            }
            if list.len() > SHOWN {
                println!("  … and {} more", list.len() - SHOWN);
            }
        }
    }
}

pub(super) fn verify(
    urls: &[String],
    users: &[User],
    records: &BTreeMap<usize, Record>,
) -> Result<Verdict> {
    let nodes: Vec<Http> = urls.iter().map(|u| Http::new(u)).collect();
    let mut verdict = Verdict {
        users: users.len(),
        ..Verdict::default()
    };
    let mut finals = Vec::new();
    for user in users {
        let record = records.get(&user.index).copied().unwrap_or_default();
        verdict.acknowledged += record.acked;
        verdict.unresolved += u64::from(record.unresolved);
        let mut reads = Vec::new();
        for (url, node) in urls.iter().zip(&nodes) {
            let (status, body) = node
                .progress(APP, &steam_id(user.index), &user.token)
                .with_context(|| format!("reading user {} on {url}", user.index))?;
            if status != 200 {
                bail!("reading user {} on {url}: {status} {body}", user.index);
            }
            reads.push((url, Snapshot::of(&body)?));
        }
        let (_, last) = reads[0].clone();
        for (url, other) in &reads[1..] {
            if *other != last {
                verdict.wrong_users.push(format!(
                    "user {}: {} has {last:?}, {url} has {other:?}",
                    user.index, urls[0]
                ));
            }
        }
        let (acked, most) = (record.acked, record.acked + u64::from(record.unresolved));
        verdict.lost += acked.saturating_sub(last.version);
        verdict.doubled += last.version.saturating_sub(most);
        let stores = last.version.clamp(acked, most);
        let expected = Snapshot::after(stores);
        if last != expected {
            verdict.wrong_users.push(format!(
                "user {}: {acked} stores acknowledged{}; read back {last:?}, expected {expected:?}",
                user.index,
                if record.unresolved {
                    " (and one unresolved)"
                } else {
                    ""
                },
            ));
        }
        finals.push(last);
    }
    let recount = Recount::of(&finals);
    let token = &users.first().context("no users")?.token;
    for (url, node) in urls.iter().zip(&nodes) {
        let problems = recount.compare(node, token)?;
        verdict
            .wrong_figures
            .extend(problems.into_iter().map(|p| format!("{url}: {p}")));
    }
    Ok(verdict)
}

/// The global figures counted from the users read back.
struct Recount {
    /// Users with at least one store.
    users: u64,
    unlocked: BTreeMap<&'static str, u64>,
    totals: BTreeMap<&'static str, i64>,
}

impl Recount {
    fn of(finals: &[Snapshot]) -> Recount {
        Recount {
            users: finals.iter().filter(|f| f.version > 0).count() as u64,
            unlocked: ACHIEVEMENTS
                .iter()
                .map(|&a| {
                    let n = finals.iter().filter(|f| f.unlocked.contains(a)).count();
                    (a, n as u64)
                })
                .collect(),
            totals: AGGREGATED
                .iter()
                .map(|&s| (s, finals.iter().map(|f| f.stat(s)).sum()))
                .collect(),
        }
    }

    fn percent(&self, name: &str) -> f64 {
        let n = self.unlocked.get(name).copied().unwrap_or(0);
        n as f64 * 100.0 / self.users.max(1) as f64
    }

    /// Every global figure `node` answers that differs from the recount.
    fn compare(&self, node: &Http, token: &str) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let get = |path: &str, bearer: Option<&str>| -> Result<Value> {
            let (status, body) = node.get(path, bearer).with_context(|| path.to_owned())?;
            if status != 200 {
                bail!("{path}: {status} {body}");
            }
            Ok(body)
        };
        let find = |list: &Value, key: &str, name: &str| -> Option<Value> {
            list.as_array()?.iter().find(|e| e[key] == name).cloned()
        };

        let body = get(
            &format!("/api/v1/apps/{APP}/global/achievements"),
            Some(token),
        )?;
        if body["users"].as_u64() != Some(self.users) {
            problems.push(format!(
                "global achievements: users {} ≠ {} users with progress",
                body["users"], self.users
            ));
        }
        for (&name, &n) in &self.unlocked {
            let entry = find(&body["achievements"], "name", name).unwrap_or_default();
            if entry["unlocked"].as_u64() != Some(n) {
                problems.push(format!(
                    "global achievements: {name} unlocked {} ≠ recount {n}",
                    entry["unlocked"]
                ));
            }
            let percent = entry["percent"].as_f64().unwrap_or(f64::NAN);
            if (percent - self.percent(name)).abs() > 1e-9 {
                problems.push(format!(
                    "global achievements: {name} {percent} % ≠ recount {} %",
                    self.percent(name)
                ));
            }
        }

        // The app was created by this run: all its history is in two days.
        let body = get(
            &format!("/api/v1/apps/{APP}/global/stats?days=2"),
            Some(token),
        )?;
        for (&name, &total) in &self.totals {
            let entry = find(&body["stats"], "name", name).unwrap_or_default();
            if entry["total"].as_i64() != Some(total) {
                problems.push(format!(
                    "global stats: {name} total {} ≠ recount {total}",
                    entry["total"]
                ));
            }
            let history: Option<i64> = entry["history"]
                .as_array()
                .and_then(|days| days.iter().map(|d| d["change"].as_i64()).sum());
            if history != Some(total) {
                problems.push(format!(
                    "global stats: {name} history sums to {history:?} ≠ recount {total}"
                ));
            }
        }

        // The same through the Steam Web API (public globals: no key).
        let body = get(
            &format!("/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid={APP}"),
            None,
        )?;
        for &name in self.unlocked.keys() {
            let row = find(
                &body["achievementpercentages"]["achievements"],
                "name",
                name,
            )
            .unwrap_or_default();
            let percent = row["percent"].as_f64().unwrap_or(f64::NAN);
            if (percent - self.percent(name)).abs() > 1e-9 {
                problems.push(format!(
                    "GetGlobalAchievementPercentagesForApp: {name} {percent} % ≠ recount {} %",
                    self.percent(name)
                ));
            }
        }
        let names: String = self
            .totals
            .keys()
            .enumerate()
            .map(|(i, n)| format!("&name%5B{i}%5D={n}"))
            .collect();
        let body = get(
            &format!(
                "/ISteamUserStats/GetGlobalStatsForGame/v1/?appid={APP}&count={}{names}",
                self.totals.len()
            ),
            None,
        )?;
        for (&name, &total) in &self.totals {
            let got = &body["response"]["globalstats"][name]["total"];
            if got.as_str() != Some(total.to_string().as_str()) {
                problems.push(format!(
                    "GetGlobalStatsForGame: {name} total {got} ≠ recount {total}"
                ));
            }
        }
        Ok(problems)
    }
}
