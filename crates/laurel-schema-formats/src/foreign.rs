//! What the readers and writers of the foreign formats (Steam's JSON, the
//! emulators' files, KeyValues) do the same way, whatever their syntax.
//!
//! Reading: an entry starts blank and is filled field by field, so a wrong
//! field still leaves an entry, and its origin is recorded either way; the
//! entry is *broken* when reading it found a problem, and then the rule
//! problems about it are left out (they would only repeat the first). A text
//! not marked with a language is in [`ImportOptions::language`]. Flags and
//! numbers are often written as text, with the same words in every format.
//! The emulators' JSON and KeyValues bind progress the same way, so one
//! reader serves both through [`Object`].
//!
//! Writing: no foreign format carries Laurel's app settings.

use std::collections::BTreeMap;

use laurel_core::SchemaDoc;
use laurel_core::schema_doc::{AchievementDoc, ProgressDoc, SetByDoc, StatDoc, StatKindDoc};

use crate::options::ImportOptions;
use crate::problems::{Origins, PathStyle, Problems};
use crate::text::shown;

/// The key of Steam's localization token beside the languages of a text
/// (gbe_fork's generator copies it into `achievements.json`); not a language.
pub(crate) const TOKEN_KEY: &str = "token";

/// An achievement with nothing read yet.
pub(crate) fn blank_achievement() -> AchievementDoc {
    AchievementDoc {
        name: String::new(),
        display_name: BTreeMap::new(),
        description: BTreeMap::new(),
        hidden: false,
        icon: None,
        icon_gray: None,
        progress: None,
    }
}

/// A stat as the formats without bounds or flags describe it: a name, a
/// kind, a default; an `avgrate` gets the window of `options`.
pub(crate) fn plain_stat(
    name: String,
    kind: StatKindDoc,
    default: f64,
    options: &ImportOptions,
) -> StatDoc {
    StatDoc {
        name,
        kind,
        display_name: None,
        default,
        min: None,
        max: None,
        max_change: None,
        increment_only: false,
        set_by: SetByDoc::Client,
        aggregated: false,
        window: (kind == StatKindDoc::Avgrate).then_some(options.avgrate_window_seconds),
    }
}

/// Reads one stat with `read`, adds it to `doc` and records where it came from.
pub(crate) fn push_stat(
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
    location: String,
    read: impl FnOnce(&mut Problems) -> StatDoc,
) {
    let before = problems.len();
    doc.stats.push(read(problems));
    let broken = problems.len() > before;
    origins.stat(problems, location, PathStyle::Annotated, broken);
}

/// Reads one achievement with `read`, adds it to `doc` and records where it came from.
pub(crate) fn push_achievement(
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
    location: String,
    read: impl FnOnce(&mut Problems) -> AchievementDoc,
) {
    let before = problems.len();
    doc.achievements.push(read(problems));
    let broken = problems.len() > before;
    origins.achievement(problems, location, PathStyle::Annotated, broken);
}

/// A text not marked with a language: in `options.language`.
pub(crate) fn in_default_language(text: &str, options: &ImportOptions) -> BTreeMap<String, String> {
    BTreeMap::from([(options.language.clone(), text.to_owned())])
}

/// An icon (or other optional text) where empty means none.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A flag written as text: `0`/`1` or `false`/`true`, any case, spaces around.
pub(crate) fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "0" | "false" => Some(false),
        "1" | "true" => Some(true),
        _ => None,
    }
}

/// A number written as text (decimal, spaces around).
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok()
}

/// One object of a loosely typed input tree, as the shared readers need it;
/// each tree words its own type problems.
pub(crate) trait Object: Sized {
    /// The location of `key` in this object, for problems.
    fn path_of(&self, key: &str) -> String;
    fn has(&self, key: &str) -> bool;
    /// A required text field.
    fn text(&self, key: &str, problems: &mut Problems) -> Option<&str>;
    /// An optional number field.
    fn opt_number(&self, key: &str, problems: &mut Problems) -> Option<f64>;
    /// A field that must be an object, if present.
    fn object(&self, key: &str, problems: &mut Problems) -> Option<Self>;
}

/// A field `key` that must be there; a problem when it is not.
fn required(object: &impl Object, key: &str, problems: &mut Problems) -> bool {
    let present = object.has(key);
    if !present {
        problems.missing(object.path_of(key));
    }
    present
}

/// `{"min_val", "max_val", "value": {"operation": "statvalue", "operand1": STAT}}`:
/// the emulators' progress binding, which KeyValues writes with the same keys.
pub(crate) fn read_progress(
    progress: &impl Object,
    problems: &mut Problems,
) -> Option<ProgressDoc> {
    let min = progress.opt_number("min_val", problems).unwrap_or(0.0);
    let max = if required(progress, "max_val", problems) {
        progress.opt_number("max_val", problems)
    } else {
        None
    };
    let value = if required(progress, "value", problems) {
        progress.object("value", problems)
    } else {
        None
    }?;
    let operation = value.text("operation", problems)?;
    if !operation.eq_ignore_ascii_case("statvalue") {
        problems.push(
            value.path_of("operation"),
            format!(
                "only \"statvalue\" progress (the value of one stat) is supported, found {}",
                shown(operation)
            ),
        );
        return None;
    }
    let stat = value.text("operand1", problems)?.to_owned();
    Some(ProgressDoc {
        stat,
        min,
        max: max?,
    })
}

/// Lists the app settings that `doc` turns on and the leaderboards it
/// defines, which `format` cannot carry.
pub(crate) fn drop_app_and_boards(doc: &SchemaDoc, format: &str, dropped: &mut Vec<String>) {
    for (field, on) in [
        ("public_progress", doc.app.public_progress),
        ("allow_achievement_clear", doc.app.allow_achievement_clear),
        ("allow_user_reset", doc.app.allow_user_reset),
        ("allow_user_display_name", doc.app.allow_user_display_name),
        ("public_globals", doc.app.public_globals),
        (
            "allow_client_leaderboard_create",
            doc.app.allow_client_leaderboard_create,
        ),
    ] {
        if on {
            dropped.push(format!("app.{field}: {format} has no {field}"));
        }
    }
    for (field, value) in [
        ("user_requests_per_second", doc.app.user_requests_per_second),
        ("user_request_burst", doc.app.user_request_burst),
    ] {
        if value.is_some() {
            dropped.push(format!("app.{field}: {format} has no {field}"));
        }
    }
    for (i, board) in doc.leaderboards.iter().enumerate() {
        dropped.push(format!(
            "leaderboards[{i}] ({}): {format} has no leaderboards",
            board.name
        ));
    }
}
