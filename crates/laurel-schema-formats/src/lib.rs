//! Schema files in the formats game developers already have, converted to
//! and from Laurel's [`SchemaDoc`] (see `docs/schema-formats.md`):
//!
//! | [`Format`] | file | carries |
//! |---|---|---|
//! | `LaurelJson`, `LaurelToml` | Laurel's own document | everything |
//! | `SteamSchemaJson` | a saved `ISteamUserStats/GetSchemaForGame/v2` response | names, one language, hidden, icons, stat defaults |
//! | `EmulatorAchievementsJson` | Goldberg / gbe_fork `steam_settings/achievements.json` | achievements, all languages, progress |
//! | `EmulatorStatsTxt`, `EmulatorStatsJson` | the emulators' `stats.txt` / gbe_fork's `stats.json` | stat names, types, defaults |
//! | `ValveKeyValues` | the text form of `UserGameStatsSchema_<appid>.bin` | everything but Laurel's app settings |
//!
//! *Architecture invariants*: pure. No I/O, no clock: text in, [`Schema`] out and
//! back. An import validates the whole input and reports **every** problem with
//! its file and location (syntax first, then the mapping to Laurel's fields, then
//! [`Schema::from_doc`]'s rules); it returns a schema only when there is none, so
//! nothing is ever partially imported. Every input is bounded ([`MAX_INPUT_BYTES`],
//! [`MAX_NESTING`], [`MAX_PROBLEMS`], and `laurel_core::limits` through
//! `Schema::from_doc`), and no input can make a parser recurse without bound.

mod detect;
mod emulator;
mod foreign;
mod json;
mod laurel_doc;
mod problems;
mod steam_web;
mod vdf;

use std::fmt;
use std::str::FromStr;

use laurel_core::{Schema, SchemaDoc};

pub use detect::detect;
use problems::{Origins, Problems};

/// Largest input file accepted, in bytes (the admin API's schema body limit).
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting of objects accepted in KeyValues text (a schema needs 7);
/// JSON stops at serde_json's limit of 128 and TOML at its parser's limit.
pub const MAX_NESTING: usize = 32;
/// Most problems reported for one import; the rest are counted in a last entry.
pub const MAX_PROBLEMS: usize = 1_000;
/// Average-rate window given to `avgrate` stats read from a format that has no
/// window (`stats.txt`, `stats.json`, KeyValues without `windowsize`) unless
/// [`ImportOptions::avgrate_window_seconds`] says otherwise.
pub const DEFAULT_AVGRATE_WINDOW_SECONDS: u32 = 3_600;

/// A schema file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Laurel's own document as JSON (`docs/schema.md`).
    LaurelJson,
    /// Laurel's own document as TOML.
    LaurelToml,
    /// A saved `ISteamUserStats/GetSchemaForGame/v2` JSON response.
    SteamSchemaJson,
    /// The Steam emulators' `steam_settings/achievements.json`.
    EmulatorAchievementsJson,
    /// The Steam emulators' `steam_settings/stats.txt` (`NAME=TYPE=DEFAULT` lines).
    EmulatorStatsTxt,
    /// gbe_fork's `steam_settings/stats.json`.
    EmulatorStatsJson,
    /// Valve KeyValues text of the stats schema (`"<appid>" { "stats" { … } }`).
    ValveKeyValues,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::LaurelJson,
        Format::LaurelToml,
        Format::SteamSchemaJson,
        Format::EmulatorAchievementsJson,
        Format::EmulatorStatsTxt,
        Format::EmulatorStatsJson,
        Format::ValveKeyValues,
    ];

    /// The name used on the command line and in the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::LaurelJson => "json",
            Format::LaurelToml => "toml",
            Format::SteamSchemaJson => "steam-json",
            Format::EmulatorAchievementsJson => "emu-achievements",
            Format::EmulatorStatsTxt => "emu-stats-txt",
            Format::EmulatorStatsJson => "emu-stats-json",
            Format::ValveKeyValues => "vdf",
        }
    }

    /// The file name this format usually has (what an export should be saved as).
    pub fn usual_file_name(self) -> &'static str {
        match self {
            Format::LaurelJson => "schema.json",
            Format::LaurelToml => "schema.toml",
            Format::SteamSchemaJson => "GetSchemaForGame.json",
            Format::EmulatorAchievementsJson => "achievements.json",
            Format::EmulatorStatsTxt => "stats.txt",
            Format::EmulatorStatsJson => "stats.json",
            Format::ValveKeyValues => "UserGameStatsSchema.vdf",
        }
    }

    fn is_emulator(self) -> bool {
        matches!(
            self,
            Format::EmulatorAchievementsJson | Format::EmulatorStatsTxt | Format::EmulatorStatsJson
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown schema format {0:?}; known: json, toml, steam-json, emu-achievements, emu-stats-txt, emu-stats-json, vdf"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// One input file. `name` is only used in problem reports.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'a> {
    pub name: &'a str,
    pub format: Format,
    pub text: &'a str,
}

/// Choices for formats that do not carry everything Laurel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The language of texts that are not marked with one: a whole
    /// `GetSchemaForGame` response (fetched with one `l`), an emulator
    /// `displayName` given as a plain string, a KeyValues `name` given as a
    /// plain string. Steam's language names (`english`, `french`, `schinese`, …).
    pub language: String,
    /// Window given to `avgrate` stats when the file has none.
    pub avgrate_window_seconds: u32,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            language: "english".to_owned(),
            avgrate_window_seconds: DEFAULT_AVGRATE_WINDOW_SECONDS,
        }
    }
}

/// One problem found in an input, with the file and the place in it:
/// `line 3, column 5` for syntax, a path such as `stats[2].min`,
/// `game.availableGameStats.achievements[0].hidden` or `480/stats/6/bits/0/name`
/// for content, and `line 4` for `stats.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub file: String,
    pub location: String,
    pub message: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in [&self.file, &self.location] {
            if !part.is_empty() {
                write!(f, "{part}: ")?;
            }
        }
        f.write_str(&self.message)
    }
}

/// Reads a schema from one file, or from the emulator's pair of files
/// (`achievements.json` plus `stats.txt` or `stats.json`, either may be left out).
/// Returns the validated schema, or every problem found; never a partial result.
pub fn import(
    files: &[SourceFile<'_>],
    options: &ImportOptions,
) -> Result<Schema, Vec<ImportProblem>> {
    let mut problems = Problems::default();
    check_file_set(files, &mut problems);
    if !problems.is_empty() {
        return Err(problems.into_vec());
    }

    let mut doc = SchemaDoc::default();
    let mut origins = Origins::default();
    for file in files {
        problems.set_file(file.name);
        match file.format {
            Format::LaurelJson => {
                laurel_doc::import_json(file.text, &mut doc, &mut origins, &mut problems)
            }
            Format::LaurelToml => {
                laurel_doc::import_toml(file.text, &mut doc, &mut origins, &mut problems)
            }
            Format::SteamSchemaJson => {
                steam_web::import(file.text, options, &mut doc, &mut origins, &mut problems)
            }
            Format::EmulatorAchievementsJson => emulator::import_achievements(
                file.text,
                options,
                &mut doc,
                &mut origins,
                &mut problems,
            ),
            Format::EmulatorStatsTxt => emulator::import_stats_txt(
                file.text,
                options,
                &mut doc,
                &mut origins,
                &mut problems,
            ),
            Format::EmulatorStatsJson => emulator::import_stats_json(
                file.text,
                options,
                &mut doc,
                &mut origins,
                &mut problems,
            ),
            Format::ValveKeyValues => {
                vdf::import(file.text, options, &mut doc, &mut origins, &mut problems)
            }
        }
    }
    // A file that could not be parsed leaves the document incomplete: the
    // other files were still read, but rule checks would only mislead.
    if problems.syntax_failed() {
        return Err(problems.into_vec());
    }

    match Schema::from_doc(&doc) {
        Ok(schema) if problems.is_empty() => Ok(schema),
        Ok(_) => Err(problems.into_vec()),
        Err(rule_problems) => {
            for p in rule_problems {
                origins.report(p, &mut problems);
            }
            Err(problems.into_vec())
        }
    }
}

fn check_file_set(files: &[SourceFile<'_>], problems: &mut Problems) {
    for f in files {
        if f.text.len() > MAX_INPUT_BYTES {
            problems.set_file(f.name);
            problems.push(
                "",
                format!(
                    "{} bytes; the limit is {MAX_INPUT_BYTES} bytes",
                    f.text.len()
                ),
            );
        }
    }
    problems.set_file("");
    let emulator = files.iter().filter(|f| f.format.is_emulator()).count();
    let achievements = files
        .iter()
        .filter(|f| f.format == Format::EmulatorAchievementsJson)
        .count();
    let ok = match files.len() {
        1 => true,
        2 => emulator == 2 && achievements == 1,
        _ => false,
    };
    if !ok {
        let got: Vec<String> = files
            .iter()
            .map(|f| format!("{} ({})", f.name, f.format))
            .collect();
        problems.push(
            "",
            format!(
                "give one schema file, or the emulator's achievements.json with stats.txt or stats.json; got [{}]",
                got.join(", ")
            ),
        );
    }
}

/// Choices for formats that need something the schema does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The app id: the root key of KeyValues.
    pub app_id: u32,
    /// The schema version: `gameVersion` in Steam's JSON, `version` in KeyValues.
    pub version: u64,
    /// The one language written to formats that carry one (Steam's JSON);
    /// texts missing in it fall back to English, as Steam does.
    pub language: String,
}

impl ExportOptions {
    pub fn new(app_id: u32) -> ExportOptions {
        ExportOptions {
            app_id,
            version: 1,
            language: "english".to_owned(),
        }
    }
}

/// An exported file, and what of the schema the format could not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub text: String,
    /// One entry per dropped field, e.g. `stats[0].min: Steam's schema JSON has no min`.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// Something in the schema cannot be written in the format at all.
    #[error("{location}: {message}")]
    Unrepresentable { location: String, message: String },
}

/// Writes a schema in `format`. The emulator's schema is two files: export
/// `EmulatorAchievementsJson` and one of the stats formats.
/// `import(export(s)) == s` for every schema the format can express; what a
/// lossy format drops is listed in [`Exported::dropped`].
pub fn export(
    schema: &Schema,
    format: Format,
    options: &ExportOptions,
) -> Result<Exported, ExportError> {
    let doc = schema.to_doc();
    let mut dropped = Vec::new();
    let text = match format {
        Format::LaurelJson => laurel_doc::export_json(&doc),
        Format::LaurelToml => laurel_doc::export_toml(&doc)?,
        Format::SteamSchemaJson => steam_web::export(&doc, options, &mut dropped),
        Format::EmulatorAchievementsJson => emulator::export_achievements(&doc, &mut dropped),
        Format::EmulatorStatsTxt => emulator::export_stats_txt(&doc, &mut dropped)?,
        Format::EmulatorStatsJson => emulator::export_stats_json(&doc, &mut dropped),
        Format::ValveKeyValues => vdf::export(&doc, options, &mut dropped),
    };
    Ok(Exported { text, dropped })
}

/// Shows a value from the input in a message, cut to a readable length.
pub(crate) fn shown(text: &str) -> String {
    laurel_core::shown(text, 40)
}

/// Formats a number the way the text formats write it: shortest form that reads back exactly.
pub(crate) fn number_text(v: f64) -> String {
    format!("{v}")
}
