//! Telling formats apart by name and shape.

use laurel_schema_formats::{Format, detect};

use crate::support::fixture;

#[test]
fn by_name_and_shape() {
    let cases = [
        ("schema.toml", "[app]", Some(Format::LaurelToml)),
        (
            "examples/spacewar.json",
            r#"{"app":{}}"#,
            Some(Format::LaurelJson),
        ),
        (
            "GetSchemaForGame.json",
            &fixture("steam/GetSchemaForGame_480.json"),
            Some(Format::SteamSchemaJson),
        ),
        (
            "steam_settings/achievements.json",
            &fixture("emulator/achievements.json"),
            Some(Format::EmulatorAchievementsJson),
        ),
        (
            "steam_settings/stats.json",
            &fixture("emulator/stats.json"),
            Some(Format::EmulatorStatsJson),
        ),
        (
            "steam_settings/stats.json",
            "[]",
            Some(Format::EmulatorStatsJson),
        ),
        (
            "steam_settings\\stats.txt",
            &fixture("emulator/stats.txt"),
            Some(Format::EmulatorStatsTxt),
        ),
        (
            "UserGameStatsSchema_480.vdf",
            "",
            Some(Format::ValveKeyValues),
        ),
        (
            "schema",
            &fixture("vdf/UserGameStatsSchema_480.vdf"),
            Some(Format::ValveKeyValues),
        ),
        ("broken.json", "{", Some(Format::LaurelJson)),
        ("notes.txt", "hello", None),
        ("schema", "hello", None),
    ];
    for (name, text, expect) in cases {
        assert_eq!(detect(name, text), expect, "{name}");
    }
}

#[test]
fn names_parse_back() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>(), Ok(f));
    }
    assert_eq!(
        "xml".parse::<Format>().unwrap_err().to_string(),
        "unknown schema format \"xml\"; known: json, toml, steam-json, emu-achievements, emu-stats-txt, emu-stats-json, emu-leaderboards, vdf"
    );
}
