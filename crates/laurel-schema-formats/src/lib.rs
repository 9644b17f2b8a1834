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
mod format;
mod json;
mod laurel_doc;
mod leaderboards_txt;
mod options;
mod outcome;
mod problems;
mod steam_web;
mod text;
mod vdf;

use laurel_core::{Schema, SchemaDoc};

pub use detect::detect;
pub use format::{Format, SourceFile, UnknownFormat};
pub use options::{
    DEFAULT_AVGRATE_WINDOW_SECONDS, ExportOptions, ImportOptions, MAX_INPUT_BYTES, MAX_NESTING,
    MAX_PROBLEMS,
};
pub use outcome::{ExportError, Exported, ImportProblem};
use problems::{Origins, Problems};

/// Reads a schema from one file, or from the emulator's files
/// (`achievements.json` with `stats.txt` or `stats.json`, and
/// `leaderboards.txt`; any of them may be given alone).
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
            Format::EmulatorLeaderboardsTxt => {
                leaderboards_txt::import(file.text, &mut doc, &mut origins, &mut problems)
            }
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
    let of = |format: Format| files.iter().filter(|f| f.format == format).count();
    let stats = of(Format::EmulatorStatsTxt) + of(Format::EmulatorStatsJson);
    let ok = match files.len() {
        1 => true,
        2 | 3 => {
            emulator == files.len()
                && of(Format::EmulatorAchievementsJson) == 1
                && stats <= 1
                && of(Format::EmulatorLeaderboardsTxt) <= 1
        }
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
                "give one schema file, or the emulator's achievements.json with stats.txt or stats.json and/or leaderboards.txt; got [{}]",
                got.join(", ")
            ),
        );
    }
}

/// Writes a schema in `format`. The emulator's schema is several files:
/// export `EmulatorAchievementsJson`, one of the stats formats and
/// `EmulatorLeaderboardsTxt`.
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
        Format::EmulatorLeaderboardsTxt => leaderboards_txt::export(&doc, &mut dropped)?,
        Format::ValveKeyValues => vdf::export(&doc, options, &mut dropped),
    };
    Ok(Exported { text, dropped })
}
