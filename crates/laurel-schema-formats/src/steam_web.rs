//! A saved `ISteamUserStats/GetSchemaForGame/v2` response:
//!
//! ```json
//! {"game":{"gameName":"Spacewar","gameVersion":"3","availableGameStats":{
//!   "achievements":[{"name":"ACH_WIN_ONE_GAME","defaultvalue":0,"displayName":"Winner",
//!                    "hidden":0,"description":"Win one game.","icon":"https://…","icongray":"https://…"}],
//!   "stats":[{"name":"NumGames","defaultvalue":0,"displayName":"Games played"}]}}}
//! ```
//!
//! The response is in one language (the request's `l`), and has no stat types,
//! bounds or flags: a stat whose `defaultvalue` is written with a fraction or an
//! exponent (`0.0`, `2.5`) is read as `float`, any other as `int`. `description`
//! is often missing for hidden achievements; it reads as an empty text. Unknown
//! fields are ignored (Steam may add some).

use std::collections::BTreeMap;

use laurel_core::SchemaDoc;
use laurel_core::schema_doc::{AchievementDoc, SetByDoc, StatDoc, StatKindDoc};
use serde::Serialize;
use serde_json::Number;

use crate::foreign::{
    blank_achievement, drop_app_and_boards, in_default_language, non_empty, plain_stat,
    push_achievement, push_stat,
};
use crate::json::{self, Fields, Json};
use crate::options::{ExportOptions, ImportOptions};
use crate::problems::{Origins, PathStyle, Problems};

pub(crate) fn import(
    text: &str,
    options: &ImportOptions,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let Some(tree) = json::parse(text, problems) else {
        return;
    };
    let Some(root) = Fields::of(&tree, "", problems) else {
        return;
    };
    let Some(game) = root.get("game") else {
        problems.push(
            "game",
            "required, but missing (a GetSchemaForGame response is {\"game\":{…}})",
        );
        return;
    };
    let Some(game) = Fields::of(game, "game", problems) else {
        return;
    };
    origins.app(problems, "game.gameName", PathStyle::Annotated);
    if let Some(name) = game.opt_string("gameName", problems) {
        doc.app.name = name.to_owned();
    }
    // Games without stats or achievements answer without `availableGameStats`.
    let Some(available) = game.get("availableGameStats") else {
        return;
    };
    let Some(available) = Fields::of(available, &game.path_of("availableGameStats"), problems)
    else {
        return;
    };
    for (i, item) in available
        .opt_array("stats", problems)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("{}[{i}]", available.path_of("stats"));
        push_stat(doc, origins, problems, path.clone(), |problems| {
            read_stat(item, &path, options, problems)
        });
    }
    for (i, item) in available
        .opt_array("achievements", problems)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("{}[{i}]", available.path_of("achievements"));
        push_achievement(doc, origins, problems, path.clone(), |problems| {
            read_achievement(item, &path, options, problems)
        });
    }
}

fn read_stat(item: &Json, path: &str, options: &ImportOptions, problems: &mut Problems) -> StatDoc {
    let mut stat = plain_stat(String::new(), StatKindDoc::Int, 0.0, options);
    let Some(fields) = Fields::of(item, path, problems) else {
        return stat;
    };
    if let Some(name) = fields.string("name", problems) {
        stat.name = name.to_owned();
    }
    if let Some(v) = fields.get("defaultvalue") {
        match json::number_of(v) {
            Ok(n) => {
                stat.default = n;
                if written_as_fraction(v) {
                    stat.kind = StatKindDoc::Float;
                }
            }
            Err(message) => problems.push(fields.path_of("defaultvalue"), message),
        }
    }
    stat.display_name = fields
        .opt_string("displayName", problems)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    stat
}

/// `2.5`, `0.0`, `1e3` (or the same in a string) — not `0`.
fn written_as_fraction(v: &Json) -> bool {
    match v {
        Json::Number(n) => n.is_f64(),
        Json::String(s) => s.contains(['.', 'e', 'E']),
        _ => false,
    }
}

fn read_achievement(
    item: &Json,
    path: &str,
    options: &ImportOptions,
    problems: &mut Problems,
) -> AchievementDoc {
    let mut achievement = blank_achievement();
    let Some(fields) = Fields::of(item, path, problems) else {
        return achievement;
    };
    if let Some(name) = fields.string("name", problems) {
        achievement.name = name.to_owned();
    }
    let display = fields.string("displayName", problems).unwrap_or_default();
    achievement.display_name = in_default_language(display, options);
    let description = fields
        .opt_string("description", problems)
        .unwrap_or_default();
    achievement.description = in_default_language(description, options);
    if let Some(v) = fields.get("hidden") {
        match json::flag_of(v) {
            Ok(h) => achievement.hidden = h,
            Err(message) => problems.push(fields.path_of("hidden"), message),
        }
    }
    achievement.icon = non_empty(fields.opt_string("icon", problems));
    achievement.icon_gray = non_empty(fields.opt_string("icongray", problems));
    achievement
}

#[derive(Serialize)]
struct Response<'a> {
    game: Game<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Game<'a> {
    game_name: &'a str,
    game_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_game_stats: Option<Available<'a>>,
}

#[derive(Serialize)]
struct Available<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stats: Vec<WebStat<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    achievements: Vec<WebAchievement<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebStat<'a> {
    name: &'a str,
    #[serde(rename = "defaultvalue")]
    default_value: Number,
    display_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebAchievement<'a> {
    name: &'a str,
    #[serde(rename = "defaultvalue")]
    default_value: u8,
    display_name: &'a str,
    hidden: u8,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(rename = "icongray", skip_serializing_if = "Option::is_none")]
    icon_gray: Option<&'a str>,
}

/// The text of `language`, falling back to English as Steam does.
fn text_in<'a>(map: &'a BTreeMap<String, String>, language: &str) -> &'a str {
    map.get(language)
        .or_else(|| map.get("english"))
        .map_or("", String::as_str)
}

#[allow(
    clippy::expect_used,
    reason = "plain data (strings, numbers, maps with string keys) always serializes"
)]
pub(crate) fn export(
    doc: &SchemaDoc,
    options: &ExportOptions,
    dropped: &mut Vec<String>,
) -> String {
    const NO: &str = "Steam's schema JSON has no";
    drop_app_and_boards(doc, "Steam's schema JSON", dropped);
    let stats: Vec<WebStat<'_>> = doc
        .stats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at = format!("stats[{i}]");
            for (field, present) in [
                ("min", s.min.is_some()),
                ("max", s.max.is_some()),
                ("max_change", s.max_change.is_some()),
                ("increment_only", s.increment_only),
                ("set_by", s.set_by == SetByDoc::Server),
                ("aggregated", s.aggregated),
            ] {
                if present {
                    dropped.push(format!("{at}.{field}: {NO} {field}"));
                }
            }
            if s.kind == StatKindDoc::Avgrate {
                dropped.push(format!(
                    "{at}.type: {NO} stat types; avgrate is written as a float default and reads back as float, without its window"
                ));
            }
            if s.display_name.as_deref() == Some("") {
                dropped.push(format!(
                    "{at}.display_name: an empty display name reads back as none"
                ));
            }
            let default_value = match s.kind {
                StatKindDoc::Int => Number::from(s.default as i64),
                StatKindDoc::Float | StatKindDoc::Avgrate => Number::from_f64(s.default)
                    .unwrap_or_else(|| Number::from(0)),
            };
            WebStat {
                name: &s.name,
                default_value,
                display_name: s.display_name.as_deref().unwrap_or(""),
            }
        })
        .collect();
    let achievements: Vec<WebAchievement<'_>> = doc
        .achievements
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let at = format!("achievements[{i}]");
            for (field, map) in [
                ("display_name", &a.display_name),
                ("description", &a.description),
            ] {
                let others: Vec<&str> = map
                    .keys()
                    .filter(|l| **l != options.language)
                    .map(String::as_str)
                    .collect();
                if !others.is_empty() {
                    dropped.push(format!(
                        "{at}.{field}: the response carries one language ({}); dropped {}",
                        options.language,
                        others.join(", ")
                    ));
                }
            }
            if a.progress.is_some() {
                dropped.push(format!("{at}.progress: {NO} progress bindings"));
            }
            WebAchievement {
                name: &a.name,
                default_value: 0,
                display_name: text_in(&a.display_name, &options.language),
                hidden: u8::from(a.hidden),
                description: text_in(&a.description, &options.language),
                icon: a.icon.as_deref(),
                icon_gray: a.icon_gray.as_deref(),
            }
        })
        .collect();
    let available = (!stats.is_empty() || !achievements.is_empty()).then_some(Available {
        stats,
        achievements,
    });
    let response = Response {
        game: Game {
            game_name: &doc.app.name,
            game_version: options.version.to_string(),
            available_game_stats: available,
        },
    };
    serde_json::to_string_pretty(&response).expect("plain data serializes") + "\n"
}
