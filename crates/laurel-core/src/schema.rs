//! A validated app schema. The only way to get a [`Schema`] is
//! [`Schema::from_doc`], so a schema that exists has passed every rule.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::leaderboard::LeaderboardDef;
use crate::name::ApiName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatKind {
    Int,
    Float,
    AvgRate,
}

impl StatKind {
    /// The name used in Laurel's schema files and wire format.
    pub fn as_str(self) -> &'static str {
        match self {
            StatKind::Int => "int",
            StatKind::Float => "float",
            StatKind::AvgRate => "avgrate",
        }
    }
}

impl fmt::Display for StatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may write a stat: `Server` stats are written only with a server/publisher key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetBy {
    #[default]
    Client,
    Server,
}

/// A stat definition. Numbers are kept as f64, which holds every i32 and f32
/// exactly; the rules of its `kind` were checked when the schema was built.
#[derive(Debug, Clone, PartialEq)]
pub struct StatDef {
    pub name: ApiName,
    pub kind: StatKind,
    pub display_name: Option<String>,
    pub default: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_change: Option<f64>,
    pub increment_only: bool,
    pub set_by: SetBy,
    pub aggregated: bool,
    /// Average-rate window in seconds; `Some` exactly for `AvgRate` stats.
    pub window_seconds: Option<u32>,
}

/// Text per language. `english` is always present: it is the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Localized(BTreeMap<String, String>);

impl Localized {
    /// The text in `language`, falling back to English.
    pub fn get(&self, language: &str) -> &str {
        self.0
            .get(language)
            .or_else(|| self.0.get("english"))
            .map(String::as_str)
            .unwrap_or("")
    }
    pub fn english(&self) -> &str {
        self.get("english")
    }
    pub fn languages(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// An achievement whose progress is a stat: it unlocks when the stat reaches `max`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressBinding {
    pub stat: ApiName,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AchievementDef {
    pub name: ApiName,
    pub display_name: Localized,
    pub description: Localized,
    pub hidden: bool,
    pub icon: Option<String>,
    pub icon_gray: Option<String>,
    pub progress: Option<ProgressBinding>,
}

/// Per-app settings that change what clients may do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppSettings {
    /// The game's display name.
    pub name: String,
    /// Whether a user may read another user's progress (Steam: public profiles).
    pub public_progress: bool,
    /// Whether user credentials may clear achievements (for testing builds).
    pub allow_achievement_clear: bool,
    /// Whether a user token may reset its own progress (Steam's
    /// `ResetAllStats` from the game). Even then a user's reset keeps the
    /// `set_by: server` stats, and locks achievements only where
    /// `allow_achievement_clear` is on too. Server keys and the admin may always.
    pub allow_user_reset: bool,
    /// Whether a user token may set its own display name (otherwise only
    /// the game's backend, with a server key, names users).
    pub allow_user_display_name: bool,
    /// Whether Steam's global methods (`GetGlobalAchievementPercentagesForApp`,
    /// `GetGlobalStatsForGame`, `GetNumberOfCurrentPlayers`) answer without
    /// a key, as Steam's do for every game; off, they need a key or a user
    /// token of the app.
    pub public_globals: bool,
    /// This app's own rate limit for user tokens (requests per second, and
    /// the burst); each `None` means the server's default.
    pub user_requests_per_second: Option<u32>,
    pub user_request_burst: Option<u32>,
    /// Whether a user token may create a leaderboard the schema does not
    /// define (Steam's `FindOrCreateLeaderboard` from the game); server keys
    /// always may.
    pub allow_client_leaderboard_create: bool,
}

/// One problem found in a schema, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// A path into the document, e.g. `stats[2].min` or `achievements[0].progress.stat`.
    pub location: String,
    pub message: String,
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    settings: AppSettings,
    stats: Vec<StatDef>,
    achievements: Vec<AchievementDef>,
    leaderboards: Vec<LeaderboardDef>,
    stat_index: HashMap<String, usize>,
    achievement_index: HashMap<String, usize>,
    /// By [`crate::leaderboard::BoardName::key`]: names compare without case.
    leaderboard_index: HashMap<String, usize>,
}

impl Schema {
    /// Builds a schema from parts that [`crate::schema_doc`] has already checked.
    pub(crate) fn from_checked_parts(
        settings: AppSettings,
        stats: Vec<StatDef>,
        achievements: Vec<AchievementDef>,
        leaderboards: Vec<LeaderboardDef>,
    ) -> Schema {
        let stat_index = stats
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str().to_owned(), i))
            .collect();
        let achievement_index = achievements
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.as_str().to_owned(), i))
            .collect();
        let leaderboard_index = leaderboards
            .iter()
            .enumerate()
            .map(|(i, b)| (b.name.key().to_owned(), i))
            .collect();
        Schema {
            settings,
            stats,
            achievements,
            leaderboards,
            stat_index,
            achievement_index,
            leaderboard_index,
        }
    }

    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }
    pub fn stats(&self) -> &[StatDef] {
        &self.stats
    }
    pub fn achievements(&self) -> &[AchievementDef] {
        &self.achievements
    }
    pub fn leaderboards(&self) -> &[LeaderboardDef] {
        &self.leaderboards
    }
    /// The board called `name`, in any case.
    pub fn leaderboard(&self, name: &str) -> Option<&LeaderboardDef> {
        self.leaderboard_index
            .get(&name.to_lowercase())
            .map(|&i| &self.leaderboards[i])
    }
    pub fn stat(&self, name: &str) -> Option<&StatDef> {
        self.stat_index.get(name).map(|&i| &self.stats[i])
    }
    pub fn achievement(&self, name: &str) -> Option<&AchievementDef> {
        self.achievement_index
            .get(name)
            .map(|&i| &self.achievements[i])
    }
    /// Achievements whose progress is bound to `stat`.
    pub fn achievements_bound_to<'a>(
        &'a self,
        stat: &'a str,
    ) -> impl Iterator<Item = &'a AchievementDef> + 'a {
        self.achievements
            .iter()
            .filter(move |a| a.progress.as_ref().is_some_and(|p| p.stat.as_str() == stat))
    }
}

pub(crate) fn localized_from_checked(map: BTreeMap<String, String>) -> Localized {
    Localized(map)
}
