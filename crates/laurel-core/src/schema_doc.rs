//! Laurel's own schema document (JSON or TOML, see `docs/schema.md`): the
//! serializable form of a [`Schema`]. Every importer converts to a
//! [`SchemaDoc`] first, so there is one validation path, which reports every
//! problem with its location rather than stopping at the first.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod,
};
use crate::limits::*;
use crate::name::ApiName;
use crate::schema::{
    AchievementDef, AppSettings, ProgressBinding, Schema, SchemaProblem, SetBy, StatDef, StatKind,
    localized_from_checked,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SchemaDoc {
    #[serde(default)]
    pub app: AppDoc,
    #[serde(default)]
    pub stats: Vec<StatDoc>,
    #[serde(default)]
    pub achievements: Vec<AchievementDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaderboards: Vec<LeaderboardDoc>,
}

/// A leaderboard (`[[leaderboards]]`): Steam's settings of a board, and
/// Laurel's period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardDoc {
    pub name: String,
    pub sort: SortMethod,
    #[serde(default = "numeric")]
    pub display: DisplayType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default = "client_writes", skip_serializing_if = "is_client_writes")]
    pub writes: BoardWrites,
    #[serde(default = "no_period", skip_serializing_if = "is_no_period")]
    pub period: BoardPeriod,
}

fn numeric() -> DisplayType {
    DisplayType::Numeric
}
fn client_writes() -> BoardWrites {
    BoardWrites::Client
}
fn is_client_writes(w: &BoardWrites) -> bool {
    *w == BoardWrites::Client
}
fn no_period() -> BoardPeriod {
    BoardPeriod::None
}
fn is_no_period(p: &BoardPeriod) -> bool {
    *p == BoardPeriod::None
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AppDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub public_progress: bool,
    #[serde(default)]
    pub allow_achievement_clear: bool,
    #[serde(default)]
    pub allow_user_reset: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_user_display_name: bool,
    #[serde(default)]
    pub public_globals: bool,
    /// Requests a user token may make per second, sustained (the server's
    /// `--user-rate` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_requests_per_second: Option<u32>,
    /// Requests a user token may make at once after being idle (the server's
    /// `--user-burst` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_request_burst: Option<u32>,
    /// Whether a user token may create a leaderboard this schema does not
    /// define.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_client_leaderboard_create: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatKindDoc {
    Int,
    Float,
    Avgrate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SetByDoc {
    #[default]
    Client,
    Server,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: StatKindDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub default: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_change: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub increment_only: bool,
    #[serde(default, skip_serializing_if = "is_client")]
    pub set_by: SetByDoc,
    #[serde(default, skip_serializing_if = "is_false")]
    pub aggregated: bool,
    /// Average-rate window in seconds (`avgrate` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AchievementDoc {
    pub name: String,
    pub display_name: BTreeMap<String, String>,
    #[serde(default)]
    pub description: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_gray: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressDoc {
    pub stat: String,
    #[serde(default)]
    pub min: f64,
    pub max: f64,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_client(s: &SetByDoc) -> bool {
    *s == SetByDoc::Client
}

/// Collects problems with their locations while a document is checked.
struct Problems(Vec<SchemaProblem>);

impl Problems {
    /// Parses an API name, recording why it is not one.
    fn name(&mut self, at: &str, text: &str) -> Option<ApiName> {
        ApiName::parse(text)
            .map_err(|e| self.push(format!("{at}.name"), e.to_string()))
            .ok()
    }

    fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(SchemaProblem {
            location: location.into(),
            message: message.into(),
        });
    }
}

fn check_number(p: &mut Problems, at: &str, kind: StatKind, v: f64) -> bool {
    if !v.is_finite() {
        p.push(at, format!("{v} is not a finite number"));
        return false;
    }
    match kind {
        StatKind::Int => {
            if v.fract() != 0.0 {
                p.push(at, format!("{v} is not an integer, and the stat is int"));
                return false;
            }
            if v < i32::MIN as f64 || v > i32::MAX as f64 {
                p.push(at, format!("{v} does not fit a 32-bit signed integer"));
                return false;
            }
        }
        StatKind::Float | StatKind::AvgRate => {
            if v.abs() > f32::MAX as f64 {
                p.push(at, format!("{v:e} does not fit a 32-bit float"));
                return false;
            }
        }
    }
    true
}

fn check_text(p: &mut Problems, at: &str, text: &str) {
    if let Some((byte, c)) = crate::name::forbidden_in_text(text) {
        p.push(
            at,
            format!(
                "text holds {c:?} (U+{:04X}) at byte {byte}: control characters other than \
                 tab and line breaks, and Unicode noncharacters, are not text",
                u32::from(c)
            ),
        );
    }
    if text.len() > MAX_TEXT_BYTES {
        p.push(
            at,
            format!(
                "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                text.len()
            ),
        );
    }
}

fn check_localized(p: &mut Problems, at: &str, map: &BTreeMap<String, String>) {
    if !map.contains_key("english") {
        p.push(at, "an `english` text is required (it is the fallback)");
    }
    if map.len() > MAX_LANGUAGES {
        p.push(
            at,
            format!("{} languages; the limit is {MAX_LANGUAGES}", map.len()),
        );
    }
    for (lang, text) in map {
        let ok = !lang.is_empty()
            && lang.len() <= MAX_LANGUAGE_BYTES
            && lang
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            p.push(
                format!("{at}.{lang:?}"),
                format!(
                    "language code must be 1–{MAX_LANGUAGE_BYTES} ASCII letters, digits, `_` or `-`"
                ),
            );
        }
        check_text(p, &format!("{at}.{lang}"), text);
    }
}

impl SchemaDoc {
    /// Parses a JSON document. Syntax errors name line and column.
    pub fn from_json(text: &str) -> Result<SchemaDoc, SchemaProblem> {
        serde_json::from_str(text).map_err(|e| SchemaProblem {
            location: format!("line {}, column {}", e.line(), e.column()),
            message: e.to_string(),
        })
    }
}

impl Schema {
    /// Checks a whole document and builds the schema, or returns every problem found.
    pub fn from_doc(doc: &SchemaDoc) -> Result<Schema, Vec<SchemaProblem>> {
        let mut p = Problems(Vec::new());
        if let Some((byte, c)) = crate::name::forbidden_in_text(&doc.app.name) {
            p.push(
                "app.name",
                format!(
                    "holds {c:?} (U+{:04X}) at byte {byte}: control characters other than tab \
                     and line breaks, and Unicode noncharacters, are not text",
                    u32::from(c)
                ),
            );
        }
        if doc.app.name.len() > MAX_GAME_NAME_BYTES {
            p.push(
                "app.name",
                format!(
                    "{} bytes; the limit is {MAX_GAME_NAME_BYTES}",
                    doc.app.name.len()
                ),
            );
        }
        for (field, value) in [
            ("user_requests_per_second", doc.app.user_requests_per_second),
            ("user_request_burst", doc.app.user_request_burst),
        ] {
            if value == Some(0) {
                p.push(
                    format!("app.{field}"),
                    "must be at least 1 (leave it out for the server's default)",
                );
            }
        }
        if doc.stats.len() > MAX_STATS_PER_APP {
            p.push(
                "stats",
                format!(
                    "{} stats; the limit is {MAX_STATS_PER_APP}",
                    doc.stats.len()
                ),
            );
        }
        if doc.achievements.len() > MAX_ACHIEVEMENTS_PER_APP {
            p.push(
                "achievements",
                format!(
                    "{} achievements; the limit is {MAX_ACHIEVEMENTS_PER_APP}",
                    doc.achievements.len()
                ),
            );
        }

        let mut seen = HashSet::new();
        let mut stats = Vec::with_capacity(doc.stats.len());
        for (i, s) in doc.stats.iter().enumerate() {
            let at = format!("stats[{i}]");
            let name = p.name(&at, &s.name);
            if !seen.insert(s.name.clone()) {
                p.push(format!("{at}.name"), format!("duplicate name {:?}", s.name));
            }
            let kind = match s.kind {
                StatKindDoc::Int => StatKind::Int,
                StatKindDoc::Float => StatKind::Float,
                StatKindDoc::Avgrate => StatKind::AvgRate,
            };
            let mut numbers_ok = check_number(&mut p, &format!("{at}.default"), kind, s.default);
            for (field, v) in [("min", s.min), ("max", s.max), ("max_change", s.max_change)] {
                if let Some(v) = v {
                    numbers_ok &= check_number(&mut p, &format!("{at}.{field}"), kind, v);
                }
            }
            if numbers_ok {
                if let (Some(min), Some(max)) = (s.min, s.max)
                    && min > max
                {
                    p.push(format!("{at}.min"), format!("min {min} is above max {max}"));
                }
                if s.min.is_some_and(|min| s.default < min)
                    || s.max.is_some_and(|max| s.default > max)
                {
                    p.push(
                        format!("{at}.default"),
                        format!("default {} is outside [min, max]", s.default),
                    );
                }
                if s.max_change.is_some_and(|c| c <= 0.0) {
                    p.push(format!("{at}.max_change"), "max_change must be above 0");
                }
            }
            match (kind, s.window) {
                (StatKind::AvgRate, None) => p.push(
                    format!("{at}.window"),
                    "an avgrate stat needs a window in seconds",
                ),
                (StatKind::AvgRate, Some(w)) if w == 0 || w > MAX_AVGRATE_WINDOW_SECONDS => p.push(
                    format!("{at}.window"),
                    format!("window must be 1..={MAX_AVGRATE_WINDOW_SECONDS} seconds"),
                ),
                (StatKind::Int | StatKind::Float, Some(_)) => {
                    p.push(format!("{at}.window"), "window is only for avgrate stats")
                }
                _ => {}
            }
            if let Some(d) = &s.display_name {
                check_text(&mut p, &format!("{at}.display_name"), d);
            }
            if let Some(name) = name {
                stats.push(StatDef {
                    name,
                    kind,
                    display_name: s.display_name.clone(),
                    default: s.default,
                    min: s.min,
                    max: s.max,
                    max_change: s.max_change,
                    increment_only: s.increment_only,
                    set_by: match s.set_by {
                        SetByDoc::Client => SetBy::Client,
                        SetByDoc::Server => SetBy::Server,
                    },
                    aggregated: s.aggregated,
                    window_seconds: s.window,
                });
            }
        }

        let mut achievements = Vec::with_capacity(doc.achievements.len());
        for (i, a) in doc.achievements.iter().enumerate() {
            let at = format!("achievements[{i}]");
            let name = p.name(&at, &a.name);
            if !seen.insert(a.name.clone()) {
                p.push(
                    format!("{at}.name"),
                    format!(
                        "duplicate name {:?} (stats and achievements share one namespace)",
                        a.name
                    ),
                );
            }
            check_localized(&mut p, &format!("{at}.display_name"), &a.display_name);
            check_localized(&mut p, &format!("{at}.description"), &a.description);
            for (field, icon) in [("icon", &a.icon), ("icon_gray", &a.icon_gray)] {
                if let Some(icon) = icon
                    && (icon.len() > MAX_ICON_BYTES || icon.chars().any(char::is_control))
                {
                    p.push(
                        format!("{at}.{field}"),
                        format!(
                            "must be at most {MAX_ICON_BYTES} bytes without control characters"
                        ),
                    );
                }
            }
            let mut progress = None;
            if let Some(pr) = &a.progress {
                let pat = format!("{at}.progress");
                match doc.stats.iter().find(|s| s.name == pr.stat) {
                    None => p.push(
                        format!("{pat}.stat"),
                        format!("no stat named {:?}", pr.stat),
                    ),
                    Some(s) if s.kind == StatKindDoc::Avgrate => p.push(
                        format!("{pat}.stat"),
                        format!(
                            "stat {:?} is avgrate; progress needs an int or float stat",
                            pr.stat
                        ),
                    ),
                    Some(_) => {}
                }
                if !pr.min.is_finite() || !pr.max.is_finite() || pr.min >= pr.max {
                    p.push(
                        format!("{pat}.max"),
                        format!("need finite min < max, got {} and {}", pr.min, pr.max),
                    );
                }
                if let Ok(stat) = ApiName::parse(&pr.stat) {
                    progress = Some(ProgressBinding {
                        stat,
                        min: pr.min,
                        max: pr.max,
                    });
                }
            }
            if let Some(name) = name {
                achievements.push(AchievementDef {
                    name,
                    display_name: localized_from_checked(a.display_name.clone()),
                    description: localized_from_checked(a.description.clone()),
                    hidden: a.hidden,
                    icon: a.icon.clone(),
                    icon_gray: a.icon_gray.clone(),
                    progress,
                });
            }
        }

        let leaderboards = check_leaderboards(&mut p, &doc.leaderboards);

        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Schema::from_checked_parts(
            AppSettings {
                name: doc.app.name.clone(),
                public_progress: doc.app.public_progress,
                allow_achievement_clear: doc.app.allow_achievement_clear,
                allow_user_reset: doc.app.allow_user_reset,
                allow_user_display_name: doc.app.allow_user_display_name,
                public_globals: doc.app.public_globals,
                user_requests_per_second: doc.app.user_requests_per_second,
                user_request_burst: doc.app.user_request_burst,
                allow_client_leaderboard_create: doc.app.allow_client_leaderboard_create,
            },
            stats,
            achievements,
            leaderboards,
        ))
    }

    /// The document this schema was built from (export; `from_doc(to_doc(s)) == s`).
    pub fn to_doc(&self) -> SchemaDoc {
        SchemaDoc {
            app: AppDoc {
                name: self.settings().name.clone(),
                public_progress: self.settings().public_progress,
                allow_achievement_clear: self.settings().allow_achievement_clear,
                allow_user_reset: self.settings().allow_user_reset,
                allow_user_display_name: self.settings().allow_user_display_name,
                public_globals: self.settings().public_globals,
                user_requests_per_second: self.settings().user_requests_per_second,
                user_request_burst: self.settings().user_request_burst,
                allow_client_leaderboard_create: self.settings().allow_client_leaderboard_create,
            },
            stats: self
                .stats()
                .iter()
                .map(|s| StatDoc {
                    name: s.name.to_string(),
                    kind: match s.kind {
                        StatKind::Int => StatKindDoc::Int,
                        StatKind::Float => StatKindDoc::Float,
                        StatKind::AvgRate => StatKindDoc::Avgrate,
                    },
                    display_name: s.display_name.clone(),
                    default: s.default,
                    min: s.min,
                    max: s.max,
                    max_change: s.max_change,
                    increment_only: s.increment_only,
                    set_by: match s.set_by {
                        SetBy::Client => SetByDoc::Client,
                        SetBy::Server => SetByDoc::Server,
                    },
                    aggregated: s.aggregated,
                    window: s.window_seconds,
                })
                .collect(),
            achievements: self
                .achievements()
                .iter()
                .map(|a| AchievementDoc {
                    name: a.name.to_string(),
                    display_name: a.display_name.languages().clone(),
                    description: a.description.languages().clone(),
                    hidden: a.hidden,
                    icon: a.icon.clone(),
                    icon_gray: a.icon_gray.clone(),
                    progress: a.progress.as_ref().map(|p| ProgressDoc {
                        stat: p.stat.to_string(),
                        min: p.min,
                        max: p.max,
                    }),
                })
                .collect(),
            leaderboards: self
                .leaderboards()
                .iter()
                .map(|b| LeaderboardDoc {
                    name: b.name.to_string(),
                    sort: b.sort,
                    display: b.display,
                    display_name: b.display_name.clone(),
                    writes: b.writes,
                    period: b.period,
                })
                .collect(),
        }
    }
}

/// Checks the boards of a document: names, no two that differ only in
/// case, display names that are text, and their number.
fn check_leaderboards(p: &mut Problems, docs: &[LeaderboardDoc]) -> Vec<LeaderboardDef> {
    if docs.len() > MAX_LEADERBOARDS_PER_APP {
        p.push(
            "leaderboards",
            format!(
                "{} leaderboards; the limit is {MAX_LEADERBOARDS_PER_APP}",
                docs.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    let mut boards = Vec::with_capacity(docs.len());
    for (i, b) in docs.iter().enumerate() {
        let at = format!("leaderboards[{i}]");
        let name = match BoardName::parse(&b.name) {
            Ok(name) => name,
            Err(e) => {
                p.push(format!("{at}.name"), e.to_string());
                continue;
            }
        };
        if !seen.insert(name.key().to_owned()) {
            p.push(
                format!("{at}.name"),
                format!(
                    "{} is already a board (names compare without case)",
                    crate::name::shown(&b.name, 40)
                ),
            );
        }
        if let Some(text) = &b.display_name {
            if text.len() > MAX_TEXT_BYTES {
                p.push(
                    format!("{at}.display_name"),
                    format!("{} bytes; the limit is {MAX_TEXT_BYTES}", text.len()),
                );
            }
            if let Some((byte, c)) = crate::name::forbidden_in_text(text) {
                p.push(
                    format!("{at}.display_name"),
                    format!("holds {c:?} (U+{:04X}) at byte {byte}", u32::from(c)),
                );
            }
        }
        boards.push(LeaderboardDef {
            name,
            sort: b.sort,
            display: b.display,
            display_name: b.display_name.clone(),
            writes: b.writes,
            period: b.period,
        });
    }
    boards
}

/// The demo app `480` (Spacewar), loaded by `laurel serve --dev`.
pub const DEMO_SCHEMA_JSON: &str = include_str!("demo_schema.json");

#[allow(
    clippy::expect_used,
    reason = "a constant of this crate, parsed and validated by its tests"
)]
pub fn demo_schema() -> Schema {
    let doc = SchemaDoc::from_json(DEMO_SCHEMA_JSON).expect("demo schema parses");
    Schema::from_doc(&doc).expect("demo schema is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(json: &str) -> Vec<String> {
        let doc = SchemaDoc::from_json(json).expect("parses");
        match Schema::from_doc(&doc) {
            Ok(_) => vec![],
            Err(ps) => ps.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn demo_round_trips() {
        let s = demo_schema();
        assert_eq!(s.stats().len(), 5);
        assert_eq!(s.achievements().len(), 4);
        assert_eq!(s.leaderboards().len(), 2);
        assert_eq!(Schema::from_doc(&s.to_doc()), Ok(s.clone()));
        let json = serde_json::to_string(&s.to_doc()).unwrap();
        assert_eq!(
            Schema::from_doc(&SchemaDoc::from_json(&json).unwrap()),
            Ok(s)
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let got = problems(
            r#"{
              "stats": [
                {"name": "A", "type": "int", "min": 10, "max": 5},
                {"name": "A", "type": "int"},
                {"name": "B", "type": "int", "default": 1.5},
                {"name": "C", "type": "float", "default": 5, "max": 1},
                {"name": "D", "type": "avgrate"},
                {"name": "", "type": "float", "window": 3},
                {"name": "E", "type": "int", "max_change": 0}
              ],
              "achievements": [
                {"name": "X", "display_name": {"french": "x"}, "progress": {"stat": "nope", "max": 1}},
                {"name": "Y", "display_name": {"english": "y"}, "description": {"english": "d"},
                 "progress": {"stat": "D", "min": 3, "max": 3}},
                {"name": "A", "display_name": {"english": "a"}, "description": {"english": "a"}}
              ]
            }"#,
        );
        let expect = [
            "stats[0].min: min 10 is above max 5",
            "stats[0].default: default 0 is outside [min, max]",
            "stats[1].name: duplicate name \"A\"",
            "stats[2].default: 1.5 is not an integer, and the stat is int",
            "stats[3].default: default 5 is outside [min, max]",
            "stats[4].window: an avgrate stat needs a window in seconds",
            "stats[5].name: name is empty",
            "stats[5].window: window is only for avgrate stats",
            "stats[6].max_change: max_change must be above 0",
            "achievements[0].display_name: an `english` text is required (it is the fallback)",
            "achievements[0].description: an `english` text is required (it is the fallback)",
            "achievements[0].progress.stat: no stat named \"nope\"",
            "achievements[1].progress.stat: stat \"D\" is avgrate; progress needs an int or float stat",
            "achievements[1].progress.max: need finite min < max, got 3 and 3",
            "achievements[2].name: duplicate name \"A\" (stats and achievements share one namespace)",
        ];
        assert_eq!(got, expect);
    }

    #[test]
    fn leaderboards_are_checked_and_found_in_any_case() {
        let got = problems(
            r#"{"leaderboards": [
                {"name": "Feet Traveled", "sort": "descending"},
                {"name": "FEET TRAVELED", "sort": "ascending"},
                {"name": "", "sort": "ascending"},
                {"name": "Q", "sort": "ascending", "display_name": "bad\u0007bell"}
            ]}"#,
        );
        assert_eq!(
            got,
            [
                "leaderboards[1].name: \"FEET TRAVELED\" is already a board (names compare without case)",
                "leaderboards[2].name: name is empty",
                "leaderboards[3].display_name: holds '\\u{7}' (U+0007) at byte 3",
            ]
        );
        let s = demo_schema();
        let board = s.leaderboard("quickest WIN").expect("found without case");
        assert_eq!(board.name.as_str(), "Quickest Win");
        assert_eq!(board.sort, SortMethod::Ascending);
        assert_eq!(board.display, DisplayType::Seconds);
        assert_eq!(board.writes, BoardWrites::Client);
        assert!(s.leaderboard("Nope").is_none());
        // Settings' words: defaults, any case, and a refusal that lists the words.
        let doc = SchemaDoc::from_json(
            r#"{"leaderboards": [{"name": "T", "sort": "DESCENDING", "writes": "trusted", "period": "weekly"}]}"#,
        )
        .unwrap();
        let schema = Schema::from_doc(&doc).unwrap();
        let b = &schema.leaderboards()[0];
        assert_eq!(
            (b.sort, b.display, b.writes, b.period),
            (
                SortMethod::Descending,
                DisplayType::Numeric,
                BoardWrites::Trusted,
                BoardPeriod::Weekly
            )
        );
        let e =
            SchemaDoc::from_json(r#"{"leaderboards": [{"name": "T", "sort": "up"}]}"#).unwrap_err();
        assert!(
            e.message
                .contains("\"up\" is not one of ascending, descending"),
            "{e}"
        );
        let e = SchemaDoc::from_json(r#"{"leaderboards": [{"name": "T"}]}"#).unwrap_err();
        assert!(e.message.contains("missing field `sort`"), "{e}");
        // A schema without boards writes none.
        let json = serde_json::to_string(&SchemaDoc::default()).unwrap();
        assert!(!json.contains("leaderboards"), "{json}");
    }

    #[test]
    fn too_many_leaderboards_are_refused() {
        let many: Vec<String> = (0..=MAX_LEADERBOARDS_PER_APP)
            .map(|i| format!(r#"{{"name":"B{i}","sort":"ascending"}}"#))
            .collect();
        let got = problems(&format!(r#"{{"leaderboards":[{}]}}"#, many.join(",")));
        assert_eq!(
            got,
            ["leaderboards: 10001 leaderboards; the limit is 10000"]
        );
    }

    #[test]
    fn int_bounds_must_fit_i32() {
        let got = problems(r#"{"stats":[{"name":"A","type":"int","max":3000000000}]}"#);
        assert_eq!(
            got,
            ["stats[0].max: 3000000000 does not fit a 32-bit signed integer"]
        );
        let got = problems(r#"{"stats":[{"name":"A","type":"float","max":1e300}]}"#);
        assert_eq!(got, ["stats[0].max: 1e300 does not fit a 32-bit float"]);
    }

    #[test]
    fn limits_are_enforced() {
        let many: Vec<String> = (0..=MAX_STATS_PER_APP)
            .map(|i| format!(r#"{{"name":"S{i}","type":"int"}}"#))
            .collect();
        let got = problems(&format!(r#"{{"stats":[{}]}}"#, many.join(",")));
        assert_eq!(
            got,
            [format!(
                "stats: {} stats; the limit is {MAX_STATS_PER_APP}",
                MAX_STATS_PER_APP + 1
            )]
        );
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let got = problems(&format!(
            r#"{{"achievements":[{{"name":"A","display_name":{{"english":"{long}"}},"description":{{"english":""}}}}]}}"#
        ));
        assert_eq!(
            got,
            [format!(
                "achievements[0].display_name.english: text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                MAX_TEXT_BYTES + 1
            )]
        );
    }

    #[test]
    fn texts_refuse_control_characters_and_noncharacters() {
        let got = problems(
            r#"{"app":{"name":"Game\u0007"},
                "achievements":[{"name":"A\uFFFE","display_name":{"english":"Two\nlines"},
                                 "description":{"english":"Bad\u001b[31m"}}]}"#,
        );
        assert_eq!(
            got,
            [
                "app.name: holds '\\u{7}' (U+0007) at byte 4: control characters other than tab and line breaks, and Unicode noncharacters, are not text",
                "achievements[0].name: name contains a Unicode noncharacter at byte 1",
                "achievements[0].description.english: text holds '\\u{1b}' (U+001B) at byte 3: control characters other than tab and line breaks, and Unicode noncharacters, are not text",
            ]
        );
    }

    #[test]
    fn unknown_fields_and_syntax_errors_name_their_place() {
        let err =
            SchemaDoc::from_json(r#"{"stats":[{"name":"A","type":"int","mni":1}]}"#).unwrap_err();
        assert!(err.message.contains("unknown field `mni`"), "{err}");
        let err = SchemaDoc::from_json("{\n  \"stats\": [\n  {\"name\": }").unwrap_err();
        assert_eq!(err.location, "line 3, column 12");
        let err = SchemaDoc::from_json(r#"{"stats":[{"name":"A","type":"double"}]}"#).unwrap_err();
        assert!(err.message.contains("unknown variant `double`"), "{err}");
    }

    #[test]
    fn toml_documents_parse_like_json() {
        let doc: SchemaDoc = toml::from_str(
            r#"
            [app]
            name = "T"
            [[stats]]
            name = "NumGames"
            type = "int"
            min = 0
            increment_only = true
            "#,
        )
        .unwrap();
        let s = Schema::from_doc(&doc).unwrap();
        assert_eq!(s.stat("NumGames").unwrap().min, Some(0.0));
    }
}
