//! Every export of the demo schema, pinned: a change to a format is visible in review.

use laurel_core::schema_doc::demo_schema;
use laurel_schema_formats::{ExportOptions, Format, export};

fn exported(format: Format) -> String {
    let e = export(&demo_schema(), format, &ExportOptions::new(480)).unwrap();
    let mut out = e.text;
    if !e.dropped.is_empty() {
        out.push_str("\n--- dropped ---\n");
        out.push_str(&e.dropped.join("\n"));
        out.push('\n');
    }
    out
}

#[test]
fn laurel_json() {
    insta::assert_snapshot!(exported(Format::LaurelJson));
}

#[test]
fn laurel_toml() {
    insta::assert_snapshot!(exported(Format::LaurelToml));
}

#[test]
fn steam_schema_json() {
    insta::assert_snapshot!(exported(Format::SteamSchemaJson));
}

#[test]
fn emulator_achievements_json() {
    insta::assert_snapshot!(exported(Format::EmulatorAchievementsJson));
}

#[test]
fn emulator_stats_txt() {
    insta::assert_snapshot!(exported(Format::EmulatorStatsTxt));
}

#[test]
fn emulator_stats_json() {
    insta::assert_snapshot!(exported(Format::EmulatorStatsJson));
}

#[test]
fn valve_key_values() {
    insta::assert_snapshot!(exported(Format::ValveKeyValues));
}

#[test]
fn emulator_leaderboards_txt() {
    insta::assert_snapshot!(exported(Format::EmulatorLeaderboardsTxt));
}
