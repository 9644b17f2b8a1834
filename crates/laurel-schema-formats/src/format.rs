//! The formats a schema file can be in, and one input file.

use std::fmt;
use std::str::FromStr;

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
    /// The Steam emulators' `steam_settings/leaderboards.txt`
    /// (`NAME=SORT=DISPLAY` lines, Steam's enum numbers).
    EmulatorLeaderboardsTxt,
    /// Valve KeyValues text of the stats schema (`"<appid>" { "stats" { … } }`).
    ValveKeyValues,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::LaurelJson,
        Format::LaurelToml,
        Format::SteamSchemaJson,
        Format::EmulatorAchievementsJson,
        Format::EmulatorStatsTxt,
        Format::EmulatorStatsJson,
        Format::EmulatorLeaderboardsTxt,
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
            Format::EmulatorLeaderboardsTxt => "emu-leaderboards",
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
            Format::EmulatorLeaderboardsTxt => "leaderboards.txt",
            Format::ValveKeyValues => "UserGameStatsSchema.vdf",
        }
    }

    pub(crate) fn is_emulator(self) -> bool {
        matches!(
            self,
            Format::EmulatorAchievementsJson
                | Format::EmulatorStatsTxt
                | Format::EmulatorStatsJson
                | Format::EmulatorLeaderboardsTxt
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
    "unknown schema format {0:?}; known: json, toml, steam-json, emu-achievements, emu-stats-txt, emu-stats-json, emu-leaderboards, vdf"
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
