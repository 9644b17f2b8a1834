//! The open-source Steam emulators' `steam_settings` files (Goldberg Steam
//! Emulator and its maintained fork gbe_fork):
//!
//! - `achievements.json`: an array of `{"name", "displayName", "description",
//!   "hidden", "icon", "icon_gray", "progress"}`. `displayName`/`description`
//!   are a string or a map language → text (gbe_fork's generator copies Steam's
//!   map, which also holds a `token` entry: skipped); `hidden` is `0`/`1`,
//!   `"0"`/`"1"` or a boolean; the gray icon is `icon_gray` or (older files,
//!   copied from the Web API) `icongray`; `progress` is
//!   `{"min_val", "max_val", "value": {"operation": "statvalue", "operand1": STAT}}`.
//!   Other fields (`defaultvalue`, …) are ignored.
//! - `stats.txt`: one `NAME=TYPE=DEFAULT` per line, `TYPE` one of `int`,
//!   `float`, `avgrate` (any case), `=DEFAULT` optional (0). Split at the first
//!   two `=` like the emulator does; blank lines are skipped.
//! - `stats.json` (gbe_fork): an array of `{"name", "type", "default", "global"}`,
//!   values as strings (gbe_fork reads only strings; numbers are accepted here);
//!   `global` (a shared value for the emulator) is ignored.

use std::collections::BTreeMap;

use laurel_core::SchemaDoc;
use laurel_core::schema_doc::{AchievementDoc, SetByDoc, StatDoc, StatKindDoc};
use serde::Serialize;
use serde_json::Number;

use crate::foreign::{
    self, Object, TOKEN_KEY, blank_achievement, drop_app_and_boards, in_default_language,
    non_empty, parse_number, plain_stat, push_achievement, push_stat,
};
use crate::json::{self, Fields, Json, json_number};
use crate::options::ImportOptions;
use crate::outcome::ExportError;
use crate::problems::{Origins, Problems};
use crate::text::{entry_lines, number_text, shown};

/// The entries of a file whose root must be an array of `what`; `None`
/// (with the problem recorded) for anything else.
fn root_items(text: &str, what: &str, problems: &mut Problems) -> Option<Vec<Json>> {
    match json::parse(text, problems)? {
        Json::Array(items) => Some(items),
        other => {
            problems.push(
                "(root)",
                format!("expected an array of {what}, found {}", other.kind()),
            );
            None
        }
    }
}

pub(crate) fn import_achievements(
    text: &str,
    options: &ImportOptions,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let Some(items) = root_items(text, "achievements", problems) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("[{i}]");
        push_achievement(doc, origins, problems, path.clone(), |problems| {
            read_achievement(item, &path, options, problems)
        });
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
    match fields.get("displayName") {
        Some(v) => {
            achievement.display_name =
                localized(v, &fields.path_of("displayName"), options, problems);
        }
        None => problems.missing(fields.path_of("displayName")),
    }
    achievement.description = match fields.get("description") {
        Some(v) => localized(v, &fields.path_of("description"), options, problems),
        None => in_default_language("", options),
    };
    if let Some(v) = fields.get("hidden") {
        match json::flag_of(v) {
            Ok(h) => achievement.hidden = h,
            Err(message) => problems.push(fields.path_of("hidden"), message),
        }
    }
    achievement.icon = non_empty(fields.opt_string("icon", problems));
    achievement.icon_gray = match fields.get("icon_gray") {
        Some(_) => non_empty(fields.opt_string("icon_gray", problems)),
        None => non_empty(fields.opt_string("icongray", problems)),
    };
    achievement.progress = fields
        .object("progress", problems)
        .and_then(|progress| foreign::read_progress(&progress, problems));
    achievement
}

/// A text given as a plain string (in `options.language`) or as a map language → text.
fn localized(
    v: &Json,
    path: &str,
    options: &ImportOptions,
    problems: &mut Problems,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    match v {
        Json::String(s) => map = in_default_language(s, options),
        Json::Object(entries) => {
            for (language, text) in entries {
                if language == TOKEN_KEY {
                    continue;
                }
                match text {
                    Json::String(t) => {
                        map.insert(language.clone(), t.clone());
                    }
                    other => problems.push(
                        json::join(path, language),
                        format!("expected a string, found {}", other.kind()),
                    ),
                }
            }
        }
        other => problems.push(
            path,
            format!(
                "expected a string or a map language → text, found {}",
                other.kind()
            ),
        ),
    }
    map
}

fn kind_of(text: &str) -> Result<StatKindDoc, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "int" => Ok(StatKindDoc::Int),
        "float" => Ok(StatKindDoc::Float),
        "avgrate" => Ok(StatKindDoc::Avgrate),
        _ => Err(format!(
            "stat type must be int, float or avgrate, found {}",
            shown(text)
        )),
    }
}

pub(crate) fn import_stats_txt(
    text: &str,
    options: &ImportOptions,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    for (location, line) in entry_lines(text) {
        push_stat(doc, origins, problems, location.clone(), |problems| {
            read_stats_line(line, &location, options, problems)
        });
    }
}

fn read_stats_line(
    line: &str,
    location: &str,
    options: &ImportOptions,
    problems: &mut Problems,
) -> StatDoc {
    let Some((name, rest)) = line.split_once('=') else {
        problems.push(
            location,
            format!("expected NAME=TYPE=DEFAULT, found {}", shown(line)),
        );
        return plain_stat(String::new(), StatKindDoc::Int, 0.0, options);
    };
    let (kind_text, default_text) = rest.split_once('=').unwrap_or((rest, "0"));
    let kind = kind_of(kind_text).unwrap_or_else(|message| {
        problems.push(location, message);
        StatKindDoc::Int
    });
    let default = match parse_number(default_text) {
        Some(v) => v,
        None => {
            problems.push(
                location,
                format!(
                    "default value must be a number, found {}",
                    shown(default_text)
                ),
            );
            0.0
        }
    };
    if name.is_empty() {
        problems.push(location, "the stat name (before the first `=`) is empty");
    }
    plain_stat(name.to_owned(), kind, default, options)
}

pub(crate) fn import_stats_json(
    text: &str,
    options: &ImportOptions,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let Some(items) = root_items(text, "stats", problems) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("[{i}]");
        push_stat(doc, origins, problems, path.clone(), |problems| {
            read_stats_json_entry(item, &path, options, problems)
        });
    }
}

/// One `{"name", "type", "default"}` of `stats.json`.
fn read_stats_json_entry(
    item: &Json,
    path: &str,
    options: &ImportOptions,
    problems: &mut Problems,
) -> StatDoc {
    let mut stat = plain_stat(String::new(), StatKindDoc::Int, 0.0, options);
    let Some(fields) = Fields::of(item, path, problems) else {
        return stat;
    };
    if let Some(name) = fields.string("name", problems) {
        stat.name = name.to_owned();
    }
    if let Some(kind) = fields.string("type", problems) {
        match kind_of(kind) {
            Ok(kind) => stat = plain_stat(std::mem::take(&mut stat.name), kind, 0.0, options),
            Err(message) => problems.push(fields.path_of("type"), message),
        }
    }
    if let Some(default) = fields.opt_number("default", problems) {
        stat.default = default;
    }
    stat
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmuAchievement<'a> {
    name: &'a str,
    display_name: &'a BTreeMap<String, String>,
    description: &'a BTreeMap<String, String>,
    hidden: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(rename = "icon_gray", skip_serializing_if = "Option::is_none")]
    icon_gray: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<EmuProgress<'a>>,
}

#[derive(Serialize)]
struct EmuProgress<'a> {
    min_val: Number,
    max_val: Number,
    value: EmuProgressValue<'a>,
}

#[derive(Serialize)]
struct EmuProgressValue<'a> {
    operation: &'static str,
    operand1: &'a str,
}

#[allow(
    clippy::expect_used,
    reason = "plain data (strings, numbers, maps with string keys) always serializes"
)]
pub(crate) fn export_achievements(doc: &SchemaDoc, dropped: &mut Vec<String>) -> String {
    drop_app_and_boards(doc, "achievements.json", dropped);
    if !doc.app.name.is_empty() {
        dropped.push("app.name: achievements.json has no game name".to_owned());
    }
    let list: Vec<EmuAchievement<'_>> = doc
        .achievements
        .iter()
        .map(|a| EmuAchievement {
            name: &a.name,
            display_name: &a.display_name,
            description: &a.description,
            hidden: u8::from(a.hidden),
            icon: a.icon.as_deref(),
            icon_gray: a.icon_gray.as_deref(),
            progress: a.progress.as_ref().map(|p| EmuProgress {
                min_val: json_number(p.min),
                max_val: json_number(p.max),
                value: EmuProgressValue {
                    operation: "statvalue",
                    operand1: &p.stat,
                },
            }),
        })
        .collect();
    serde_json::to_string_pretty(&list).expect("plain data serializes") + "\n"
}

fn kind_text(kind: StatKindDoc) -> &'static str {
    match kind {
        StatKindDoc::Int => "int",
        StatKindDoc::Float => "float",
        StatKindDoc::Avgrate => "avgrate",
    }
}

fn drop_stat_fields(doc: &SchemaDoc, format: &str, dropped: &mut Vec<String>) {
    drop_app_and_boards(doc, format, dropped);
    if !doc.app.name.is_empty() {
        dropped.push(format!("app.name: {format} has no game name"));
    }
    for (i, s) in doc.stats.iter().enumerate() {
        for (field, present) in [
            ("display_name", s.display_name.is_some()),
            ("min", s.min.is_some()),
            ("max", s.max.is_some()),
            ("max_change", s.max_change.is_some()),
            ("increment_only", s.increment_only),
            ("set_by", s.set_by == SetByDoc::Server),
            ("aggregated", s.aggregated),
            ("window", s.window.is_some()),
        ] {
            if present {
                dropped.push(format!("stats[{i}].{field}: {format} has no {field}"));
            }
        }
    }
}

pub(crate) fn export_stats_txt(
    doc: &SchemaDoc,
    dropped: &mut Vec<String>,
) -> Result<String, ExportError> {
    drop_stat_fields(doc, "stats.txt", dropped);
    let mut out = String::new();
    for (i, s) in doc.stats.iter().enumerate() {
        // `=` ends the name; a leading U+FEFF would be read as a byte-order mark.
        if s.name.contains('=') || s.name.starts_with('\u{feff}') {
            return Err(ExportError::Unrepresentable {
                location: format!("stats[{i}].name"),
                message: format!(
                    "{} cannot be written to stats.txt: a name there holds no `=` and does not start with U+FEFF",
                    shown(&s.name)
                ),
            });
        }
        out.push_str(&format!(
            "{}={}={}\n",
            s.name,
            kind_text(s.kind),
            number_text(s.default)
        ));
    }
    Ok(out)
}

#[derive(Serialize)]
struct EmuStat<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    default: String,
}

#[allow(
    clippy::expect_used,
    reason = "plain data (strings, numbers, maps with string keys) always serializes"
)]
pub(crate) fn export_stats_json(doc: &SchemaDoc, dropped: &mut Vec<String>) -> String {
    drop_stat_fields(doc, "stats.json", dropped);
    let list: Vec<EmuStat<'_>> = doc
        .stats
        .iter()
        .map(|s| EmuStat {
            name: &s.name,
            kind: kind_text(s.kind),
            default: number_text(s.default),
        })
        .collect();
    serde_json::to_string_pretty(&list).expect("plain data serializes") + "\n"
}
