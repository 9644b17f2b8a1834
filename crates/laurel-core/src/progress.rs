//! A user's progress in one app.

use std::collections::BTreeMap;

use crate::UnixTime;
use crate::avgrate;
use crate::name::ApiName;
use crate::schema::{Schema, SetBy, StatDef, StatKind};

/// A stored stat value. Average-rate stats keep their sums, not the rate, so
/// that later sessions can be folded in by the window rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatValue {
    Int(i32),
    Float(f32),
    AvgRate { count: f64, seconds: f64 },
}

impl StatValue {
    /// The value before the first write.
    pub fn default_for(def: &StatDef) -> StatValue {
        match def.kind {
            StatKind::Int => StatValue::Int(def.default as i32),
            StatKind::Float => StatValue::Float(def.default as f32),
            StatKind::AvgRate => StatValue::AvgRate {
                count: 0.0,
                seconds: 0.0,
            },
        }
    }

    /// Whether the value is one its type can hold: a finite float, finite
    /// average-rate sums (seconds never negative) whose rate is a finite f32.
    /// Every value `apply_batch` accepts is; a store that holds another (an
    /// older build let `inf` rates through) is repaired by its migrations.
    pub fn is_finite_within_type(&self, def: &StatDef) -> bool {
        match *self {
            StatValue::Int(_) => true,
            StatValue::Float(v) => v.is_finite(),
            StatValue::AvgRate { count, seconds } => {
                count.is_finite()
                    && seconds.is_finite()
                    && seconds >= 0.0
                    && self.read(def).is_finite()
            }
        }
    }

    /// The value a game reads: the integer, the float, or the average rate.
    pub fn read(&self, def: &StatDef) -> f64 {
        match *self {
            StatValue::Int(v) => v as f64,
            StatValue::Float(v) => v as f64,
            StatValue::AvgRate { count, seconds } => {
                avgrate::rate(count, seconds, def.default) as f32 as f64
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AchievementState {
    pub unlocked: bool,
    /// UTC Unix seconds of the first unlock; `Some` exactly when unlocked.
    pub unlock_time: Option<UnixTime>,
    /// The last indicated progress (`current`, `max`).
    pub progress: Option<(u32, u32)>,
}

/// Everything Laurel stores for one user in one app. Stats and achievements
/// absent from the maps have their schema defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserProgress {
    /// Increases by one on every accepted store or reset; 0 for a user never written.
    pub version: u64,
    pub stats: BTreeMap<ApiName, StatValue>,
    pub achievements: BTreeMap<ApiName, AchievementState>,
}

impl UserProgress {
    /// The stored value of a stat, or its default.
    pub fn stat(&self, def: &StatDef) -> StatValue {
        self.stats
            .get(def.name.as_str())
            .copied()
            .unwrap_or_else(|| StatValue::default_for(def))
    }

    pub fn achievement(&self, name: &str) -> AchievementState {
        self.achievements.get(name).cloned().unwrap_or_default()
    }

    pub fn is_unlocked(&self, name: &str) -> bool {
        self.achievements.get(name).is_some_and(|a| a.unlocked)
    }

    /// Drops values for names the schema no longer has (a schema may change under stored data).
    pub fn retain_known(&mut self, schema: &Schema) {
        self.stats.retain(|n, _| schema.stat(n.as_str()).is_some());
        self.achievements
            .retain(|n, _| schema.achievement(n.as_str()).is_some());
    }
}

/// What a reset clears: stats always (the `set_by: server` ones only when
/// `server_stats`); achievements too when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetScope {
    pub achievements: bool,
    /// Whether stats only a server key may write are reset too. A user's own
    /// reset keeps them: they are the game backend's authority, not the player's.
    pub server_stats: bool,
}

impl ResetScope {
    /// Every stat, and the achievements when `achievements`: a server key's
    /// or the admin's reset.
    pub fn full(achievements: bool) -> ResetScope {
        ResetScope {
            achievements,
            server_stats: true,
        }
    }

    /// A user's reset of their own progress: the server-set stats stay.
    pub fn own(achievements: bool) -> ResetScope {
        ResetScope {
            achievements,
            server_stats: false,
        }
    }
}

/// The progress after a reset, and the achievements it locked again.
/// `current` may hold rows the schema no longer defines; they are reset.
pub fn reset(
    current: &UserProgress,
    scope: ResetScope,
    schema: &Schema,
) -> (UserProgress, Vec<ApiName>) {
    let kept = current
        .stats
        .iter()
        .filter(|(name, _)| {
            !scope.server_stats
                && schema
                    .stat(name.as_str())
                    .is_some_and(|def| def.set_by == SetBy::Server)
        })
        .map(|(name, value)| (name.clone(), *value))
        .collect();
    let mut next = UserProgress {
        version: current.version + 1,
        stats: kept,
        achievements: current.achievements.clone(),
    };
    let mut relocked = Vec::new();
    if scope.achievements {
        relocked = current
            .achievements
            .iter()
            .filter(|(_, a)| a.unlocked)
            .map(|(n, _)| n.clone())
            .collect();
        next.achievements.clear();
    }
    (next, relocked)
}
