//! Telling a file's format from its name and, for JSON, its shape.

use crate::format::Format;
use crate::json::{self, Json};
use crate::problems::Problems;

/// The format of a file, from its name (`*.toml`, `*.vdf`, `leaderboards.txt`,
/// `stats.txt`, …) and,
/// for JSON, from its shape: `{"game": …}` is Steam's response, an object with
/// `app`/`stats`/`achievements` is Laurel's, an array of objects with `type`
/// is the emulator's `stats.json`, any other array its `achievements.json`.
/// `None` when it cannot tell; the caller then asks for the format.
pub fn detect(file_name: &str, text: &str) -> Option<Format> {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .to_ascii_lowercase();
    let extension = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match extension {
        "toml" => return Some(Format::LaurelToml),
        "vdf" | "acf" => return Some(Format::ValveKeyValues),
        "txt" if base == "leaderboards.txt" => return Some(Format::EmulatorLeaderboardsTxt),
        "txt" if looks_like_stats_txt(text) => return Some(Format::EmulatorStatsTxt),
        "json" => return detect_json(&base, text),
        _ => {}
    }
    if looks_like_key_values(text) {
        return Some(Format::ValveKeyValues);
    }
    None
}

fn detect_json(base: &str, text: &str) -> Option<Format> {
    let mut ignored = Problems::default();
    let tree = json::parse(text, &mut ignored);
    match tree {
        Some(Json::Object(fields)) => {
            if fields.iter().any(|(k, _)| k == "game") {
                Some(Format::SteamSchemaJson)
            } else {
                Some(Format::LaurelJson)
            }
        }
        Some(Json::Array(items)) => {
            let first = items.iter().find_map(|i| match i {
                Json::Object(f) => Some(f),
                _ => None,
            });
            match first {
                Some(f) if f.iter().any(|(k, _)| k == "displayName") => {
                    Some(Format::EmulatorAchievementsJson)
                }
                Some(f) if f.iter().any(|(k, _)| k == "type") => Some(Format::EmulatorStatsJson),
                Some(_) => Some(Format::EmulatorAchievementsJson),
                None if base == "stats.json" => Some(Format::EmulatorStatsJson),
                None => Some(Format::EmulatorAchievementsJson),
            }
        }
        // Unreadable JSON: still JSON; let Laurel's reader report the syntax error.
        _ => match base {
            "stats.json" => Some(Format::EmulatorStatsJson),
            "achievements.json" => Some(Format::EmulatorAchievementsJson),
            _ => Some(Format::LaurelJson),
        },
    }
}

fn looks_like_stats_txt(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.contains('='))
}

fn looks_like_key_values(text: &str) -> bool {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    let Some(rest) = t.strip_prefix('"') else {
        return false;
    };
    let Some(end) = rest.find('"') else {
        return false;
    };
    rest[end + 1..].trim_start().starts_with('{')
}
