//! The cache of global figures: unlock percentages and totals of aggregated
//! stats, filled by the worker from `/api/v1/apps/{app}/global/*` and read by
//! the game without the network (Steam's `GetAchievementAchievedPercent`,
//! `GetGlobalStat`, `GetGlobalStatHistory`).

use std::collections::HashMap;

use laurel_wire::{GlobalAchievementsResponse, GlobalStatsResponse, StatNumber};

/// A request for global figures, queued for the worker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GlobalRequest {
    Percentages,
    Stats {
        names: Vec<String>,
        days: u32,
    },
    /// How many others play the app now (answered by the event itself).
    PlayerCount,
    /// A user's profile (announced by `UserInfoUpdate` when it arrived).
    Profile(laurel_core::SteamId),
}

#[derive(Debug, Clone, PartialEq)]
struct StatFigures {
    total: StatNumber,
    /// Newest first: index 0 is today (UTC), as Steam's `GetGlobalStatHistory`.
    history: Vec<StatNumber>,
}

#[derive(Debug, Default)]
pub(crate) struct GlobalCache {
    percents: HashMap<String, f32>,
    stats: HashMap<String, StatFigures>,
}

impl GlobalCache {
    pub(crate) fn install_percentages(&mut self, resp: &GlobalAchievementsResponse) {
        self.percents = resp
            .achievements
            .iter()
            .map(|a| (a.name.clone(), a.percent as f32))
            .collect();
    }

    /// Keeps the figures of stats not in this answer (a request may name a few).
    pub(crate) fn install_stats(&mut self, resp: &GlobalStatsResponse) {
        for s in &resp.stats {
            self.stats.insert(
                s.name.clone(),
                StatFigures {
                    total: s.total,
                    history: s.history.iter().rev().map(|d| d.change).collect(),
                },
            );
        }
    }

    pub(crate) fn percent(&self, name: &str) -> Option<f32> {
        self.percents.get(name).copied()
    }

    pub(crate) fn total_i64(&self, name: &str) -> Option<i64> {
        match self.stats.get(name)?.total {
            StatNumber::Int(v) => Some(v),
            StatNumber::Float(_) => None,
        }
    }

    pub(crate) fn total_f64(&self, name: &str) -> Option<f64> {
        match self.stats.get(name)?.total {
            StatNumber::Float(v) => Some(v),
            StatNumber::Int(_) => None,
        }
    }

    pub(crate) fn history_i64(&self, name: &str) -> Option<Vec<i64>> {
        let s = self.stats.get(name)?;
        match s.total {
            StatNumber::Int(_) => Some(s.history.iter().map(|v| v.as_f64() as i64).collect()),
            StatNumber::Float(_) => None,
        }
    }

    pub(crate) fn history_f64(&self, name: &str) -> Option<Vec<f64>> {
        let s = self.stats.get(name)?;
        match s.total {
            StatNumber::Float(_) => Some(s.history.iter().map(|v| v.as_f64()).collect()),
            StatNumber::Int(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use laurel_wire::{GlobalAchievementBody, GlobalStatBody, GlobalStatDay};

    use super::*;

    #[test]
    fn figures_read_by_type_and_history_is_newest_first() {
        let mut c = GlobalCache::default();
        c.install_percentages(&GlobalAchievementsResponse {
            result: 1,
            app_id: 480,
            users: 4,
            achievements: vec![GlobalAchievementBody {
                name: "A".into(),
                unlocked: 1,
                percent: 25.0,
            }],
        });
        assert_eq!(c.percent("A"), Some(25.0));
        assert_eq!(c.percent("B"), None);
        c.install_stats(&GlobalStatsResponse {
            result: 1,
            app_id: 480,
            stats: vec![
                GlobalStatBody {
                    name: "Kills".into(),
                    kind: "int".into(),
                    total: StatNumber::Int(7),
                    history: vec![
                        GlobalStatDay {
                            date: 0,
                            change: StatNumber::Int(2),
                        },
                        GlobalStatDay {
                            date: 86_400,
                            change: StatNumber::Int(5),
                        },
                    ],
                },
                GlobalStatBody {
                    name: "Feet".into(),
                    kind: "float".into(),
                    total: StatNumber::Float(1.5),
                    history: Vec::new(),
                },
            ],
        });
        assert_eq!(c.total_i64("Kills"), Some(7));
        assert_eq!(c.total_f64("Kills"), None, "wrong type");
        assert_eq!(c.history_i64("Kills"), Some(vec![5, 2]));
        assert_eq!(c.total_f64("Feet"), Some(1.5));
        assert_eq!(c.history_f64("Feet"), Some(vec![]));
        assert_eq!(c.total_i64("Nope"), None);
    }
}
