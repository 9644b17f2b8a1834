//! The Steam emulators' `achievements.json`, `stats.txt` and `stats.json`.

use laurel_core::{ProgressBinding, StatKind};
use laurel_schema_formats::{Format, ImportOptions};

use crate::support::{check, fixture, import_fixtures, import_texts, problems};

const ACH: Format = Format::EmulatorAchievementsJson;
const TXT: Format = Format::EmulatorStatsTxt;
const SJ: Format = Format::EmulatorStatsJson;

#[test]
fn gbe_fork_generated_pair_imports() {
    let s = import_fixtures(&[
        ("emulator/achievements.json", ACH),
        ("emulator/stats.txt", TXT),
    ])
    .unwrap();
    let kinds: Vec<(&str, StatKind, Option<u32>)> = s
        .stats()
        .iter()
        .map(|s| (s.name.as_str(), s.kind, s.window_seconds))
        .collect();
    assert_eq!(
        kinds,
        [
            ("NumGames", StatKind::Int, None),
            ("NumWins", StatKind::Int, None),
            ("FeetTraveled", StatKind::Float, None),
            ("MaxFeetTraveled", StatKind::Float, None),
            ("AverageSpeed", StatKind::AvgRate, Some(3600)),
        ]
    );
    let winner = s.achievement("ACH_WIN_ONE_GAME").unwrap();
    let languages: Vec<&str> = winner
        .display_name
        .languages()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        languages,
        ["english", "french"],
        "Steam's `token` entry is not a language"
    );
    assert_eq!(winner.description.get("french"), "Gagnez une partie.");
    assert_eq!(
        winner.icon.as_deref(),
        Some("img/2c0b3a0ea3fb8a5d5b4a3b9ce2bdbcf6e4c6c2c1.jpg")
    );
    let accum = s.achievement("ACH_TRAVEL_FAR_ACCUM").unwrap();
    assert_eq!(
        accum
            .progress
            .as_ref()
            .map(|p: &ProgressBinding| (p.stat.as_str(), p.min, p.max)),
        Some(("FeetTraveled", 0.0, 5280.0))
    );
    assert!(s.achievement("ACH_TRAVEL_FAR_SINGLE").unwrap().hidden);
}

#[test]
fn stats_json_and_a_chosen_avgrate_window() {
    let text = fixture("emulator/stats.json");
    let options = ImportOptions {
        avgrate_window_seconds: 600,
        ..ImportOptions::default()
    };
    let s = import_texts(&[("stats.json", SJ, &text)], &options).unwrap();
    assert_eq!(s.stat("AverageSpeed").unwrap().window_seconds, Some(600));
    assert_eq!(s.stat("FeetTraveled").unwrap().kind, StatKind::Float);
    assert!(s.achievements().is_empty());
}

#[test]
fn legacy_achievements_copied_from_the_web_api() {
    let s = import_fixtures(&[("emulator/achievements_legacy.json", ACH)]).unwrap();
    let orbiter = s.achievement("ACH_TRAVEL_FAR_SINGLE").unwrap();
    assert!(orbiter.hidden, "\"1\" as a string");
    assert_eq!(orbiter.display_name.english(), "Orbiter");
    assert!(
        orbiter
            .icon_gray
            .as_deref()
            .unwrap()
            .ends_with("5a8f4b7c9d1e3f6a8b0c2d4e5f7a9b1c3d4e6f8a.jpg"),
        "`icongray`"
    );
}

#[test]
fn windows_line_ends_bom_and_missing_defaults() {
    let s = import_fixtures(&[("emulator/stats_windows.txt", TXT)]).unwrap();
    let got: Vec<(&str, StatKind, f64)> = s
        .stats()
        .iter()
        .map(|s| (s.name.as_str(), s.kind, s.default))
        .collect();
    assert_eq!(
        got,
        [
            ("NumGames", StatKind::Int, 0.0),
            ("NumWins", StatKind::Int, 0.0),
            ("FeetTraveled", StatKind::Float, 1e-5)
        ]
    );
}

#[test]
fn every_bad_stats_line_is_reported() {
    check(
        TXT,
        &fixture("malformed/stats_bad.txt"),
        &[
            "in: line 2: expected NAME=TYPE=DEFAULT, found \"NumWins\"",
            "in: line 3: the stat name (before the first `=`) is empty",
            "in: line 4: stat type must be int, float or avgrate, found \"double\"",
            "in: line 5: default value must be a number, found \"fast\"",
            "in: line 6 (stats[5].name): duplicate name \"NumGames\"",
            "in: line 8 (stats[7].default): 3000000000 does not fit a 32-bit signed integer",
        ],
    );
}

#[test]
fn every_bad_achievement_field_is_reported() {
    check(
        ACH,
        &fixture("malformed/achievements_wrong_types.json"),
        &[
            "in: [0].displayName.french: expected a string, found a number",
            "in: [0].description: expected a string or a map language → text, found an array",
            "in: [0].hidden: expected 0 or 1, found 2",
            "in: [0].icon: expected a string, found a number",
            "in: [1].hidden: expected 0 or 1, found the string \"yes\"",
            "in: [1].progress.max_val: expected a number, found the string \"lots\"",
            "in: [1].progress.value.operation: only \"statvalue\" progress (the value of one stat) is supported, found \"max\"",
            "in: [2]: expected an object, found a string",
            "in: [3] (achievements[3].name): duplicate name \"ACH_WIN_ONE_GAME\" (stats and achievements share one namespace)",
            "in: [3] (achievements[3].display_name): an `english` text is required (it is the fallback)",
        ],
    );
}

#[test]
fn problems_name_the_file_they_are_in() {
    let got = problems(&[
        (
            "steam_settings/achievements.json",
            ACH,
            r#"[{"name":"A","displayName":"a","progress":{"max_val":10,"value":{"operation":"statvalue","operand1":"Kills"}}}]"#,
        ),
        (
            "steam_settings/stats.txt",
            TXT,
            "Kills=avgrate=0\nA=int=0\n",
        ),
    ]);
    assert_eq!(
        got,
        [
            "steam_settings/achievements.json: [0] (achievements[0].name): duplicate name \"A\" (stats and achievements share one namespace)",
            "steam_settings/achievements.json: [0] (achievements[0].progress.stat): stat \"Kills\" is avgrate; progress needs an int or float stat",
        ]
    );
}

#[test]
fn only_the_emulator_pair_may_come_as_two_files() {
    let got = problems(&[("a.json", Format::LaurelJson, "{}"), ("stats.txt", TXT, "")]);
    assert_eq!(
        got,
        [
            "give one schema file, or the emulator's achievements.json with stats.txt or stats.json and/or leaderboards.txt; got [a.json (json), stats.txt (emu-stats-txt)]"
        ]
    );
    let got = problems(&[("stats.txt", TXT, ""), ("stats.json", SJ, "[]")]);
    assert_eq!(got.len(), 1);
    let got = problems(&[]);
    assert_eq!(
        got,
        [
            "give one schema file, or the emulator's achievements.json with stats.txt or stats.json and/or leaderboards.txt; got []"
        ]
    );
}

#[test]
fn stats_json_problems() {
    check(
        SJ,
        r#"[{"name":"A","type":"int","default":"x"},{"type":"float"},{"name":"B","type":"double","default":2},{"name":"C","type":7}]"#,
        &[
            "in: [0].default: expected a number, found the string \"x\"",
            "in: [1].name: required, but missing",
            "in: [2].type: stat type must be int, float or avgrate, found \"double\"",
            "in: [3].type: expected a string, found a number",
        ],
    );
    check(
        SJ,
        r#"{"name":"A"}"#,
        &["in: (root): expected an array of stats, found an object"],
    );
}

#[test]
fn a_syntax_error_in_one_file_does_not_hide_the_other_files_problems() {
    let got = problems(&[
        (
            "achievements.json",
            ACH,
            r#"[{"name":"A","displayName":"a"},"#,
        ),
        ("stats.txt", TXT, "Kills=int=0\nDeaths=integer=0\n"),
    ]);
    assert_eq!(
        got,
        [
            "achievements.json: line 1, column 32: EOF while parsing a value",
            "stats.txt: line 2: stat type must be int, float or avgrate, found \"integer\"",
        ]
    );
}

const LB: Format = Format::EmulatorLeaderboardsTxt;

#[test]
fn leaderboards_txt_reads_steams_enum_numbers() {
    let text = "\u{feff}Feet Traveled=2=1\r\n\nQuickest Win=1=2\nLap Time=1=3\n";
    let s = import_texts(&[("leaderboards.txt", LB, text)], &ImportOptions::default()).unwrap();
    let boards: Vec<(&str, &str, &str)> = s
        .leaderboards()
        .iter()
        .map(|b| (b.name.as_str(), b.sort.as_str(), b.display.as_str()))
        .collect();
    assert_eq!(
        boards,
        [
            ("Feet Traveled", "descending", "numeric"),
            ("Quickest Win", "ascending", "seconds"),
            ("Lap Time", "ascending", "milliseconds"),
        ]
    );
    // With the rest of the emulator's files.
    let s = import_fixtures(&[
        ("emulator/achievements.json", ACH),
        ("emulator/stats.txt", TXT),
    ])
    .unwrap();
    let ach = fixture("emulator/achievements.json");
    let stats = fixture("emulator/stats.txt");
    let all = import_texts(
        &[
            ("achievements.json", ACH, &ach),
            ("stats.txt", TXT, &stats),
            ("leaderboards.txt", LB, text),
        ],
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(all.stats(), s.stats());
    assert_eq!(all.leaderboards().len(), 3);
}

#[test]
fn leaderboards_txt_problems_name_the_line() {
    check(
        LB,
        "Ok=2=1\nNoEquals\nA=0=1\nB=2=0\nC=3=9\nD=2\nE=1=1=1\n=1=1\nok=1=1\n",
        &[
            "in: line 2: expected NAME=SORT=DISPLAY, found \"NoEquals\"",
            "in: line 3: sort method \"0\": use 1 (ascending) or 2 (descending); 0 (none) cannot rank",
            "in: line 4: display type \"0\": use 1 (numeric), 2 (seconds) or 3 (milliseconds)",
            "in: line 5: sort method \"3\": use 1 (ascending) or 2 (descending); 0 (none) cannot rank",
            "in: line 5: display type \"9\": use 1 (numeric), 2 (seconds) or 3 (milliseconds)",
            "in: line 6: expected NAME=SORT=DISPLAY, found \"D=2\"",
            "in: line 7: expected NAME=SORT=DISPLAY, found \"E=1=1=1\"",
            "in: line 8 (leaderboards[1].name): name is empty",
            "in: line 9 (leaderboards[2].name): \"ok\" is already a board (names compare without case)",
        ],
    );
}

#[test]
fn leaderboards_txt_goes_with_the_emulators_files_only() {
    let got = problems(&[
        ("leaderboards.txt", LB, "A=1=1\n"),
        ("stats.txt", TXT, "S=int=0\n"),
    ]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("and/or leaderboards.txt"), "{got:?}");
    let got = problems(&[
        ("achievements.json", ACH, "[]"),
        ("leaderboards.txt", LB, "A=1=1\n"),
        ("leaderboards.txt", LB, "B=1=1\n"),
    ]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        laurel_schema_formats::detect("steam_settings/leaderboards.txt", "A=1=1\n") == Some(LB)
    );
    assert!(laurel_schema_formats::detect("stats.txt", "A=int=0\n") == Some(TXT));
}
