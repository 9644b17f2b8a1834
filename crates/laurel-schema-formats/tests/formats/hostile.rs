//! Hostile input: deep nesting, huge strings, too much input, too many problems.
//! Each is refused with a precise problem, and none may crash the process.

use laurel_core::limits::{MAX_NAME_BYTES, MAX_TEXT_BYTES};
use laurel_schema_formats::{Format, MAX_INPUT_BYTES, MAX_NESTING, MAX_PROBLEMS};

use crate::support::{check, problems};

const JSON_FORMATS: [Format; 4] = [
    Format::LaurelJson,
    Format::SteamSchemaJson,
    Format::EmulatorAchievementsJson,
    Format::EmulatorStatsJson,
];

#[test]
fn input_over_the_size_limit_is_refused_before_parsing() {
    let text = " ".repeat(MAX_INPUT_BYTES + 1);
    for format in Format::ALL {
        check(
            format,
            &text,
            &[&format!(
                "in: {} bytes; the limit is {MAX_INPUT_BYTES} bytes",
                MAX_INPUT_BYTES + 1
            )],
        );
    }
}

#[test]
fn deep_json_nesting_stops_at_serde_json_limit() {
    let text = "[".repeat(100_000);
    for format in JSON_FORMATS {
        check(
            format,
            &text,
            &["in: line 1, column 128: recursion limit exceeded"],
        );
    }
    let text = format!("{{\"game\":{}", "{\"a\":".repeat(100_000));
    check(
        Format::SteamSchemaJson,
        &text,
        &["in: line 1, column 639: recursion limit exceeded"],
    );
}

#[test]
fn deep_toml_nesting_is_refused() {
    let text = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let got = problems(&[("in", Format::LaurelToml, &text)]);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("in: line 1, column "), "{got:?}");
}

#[test]
fn deep_key_values_nesting_is_refused_before_the_parser_recurses() {
    let text = "k {".repeat(1_000_000);
    check(
        Format::ValveKeyValues,
        &text,
        &[&format!(
            "in: line 1, column {}: objects are nested more than {MAX_NESTING} deep",
            3 * MAX_NESTING + 3
        )],
    );
    // Braces inside strings and comments do not count; structural ones after them do.
    let text = format!(
        "\"k\" {{ \"}}}}}}\" \"v\" // }}}} \"\n{}",
        "k {".repeat(100_000)
    );
    let got = problems(&[("in", Format::ValveKeyValues, &text)]);
    assert_eq!(
        got,
        [format!(
            "in: line 2, column {}: objects are nested more than {MAX_NESTING} deep",
            3 * (MAX_NESTING - 1) + 3
        )]
    );
    // An escaped quote does not end a string.
    let text = format!("\"k\\\" {{ {{ \" {{ {}", "k {".repeat(100_000));
    let got = problems(&[("in", Format::ValveKeyValues, &text)]);
    assert!(got[0].contains("objects are nested more than"), "{got:?}");
}

#[test]
fn base_includes_are_refused() {
    check(
        Format::ValveKeyValues,
        "// schema\n#base \"other.vdf\"\n\"480\" { \"stats\" { } }",
        &[
            "in: line 2, column 1: #base includes are not supported: give the whole schema in one file",
        ],
    );
}

#[test]
fn huge_strings_are_bounded_by_the_core_limits() {
    let name = "N".repeat(MAX_NAME_BYTES + 1);
    let text = "t".repeat(MAX_TEXT_BYTES + 1);
    let json = format!(r#"[{{"name":"{name}","displayName":"{text}"}}]"#);
    check(
        Format::EmulatorAchievementsJson,
        &json,
        &[
            &format!(
                "in: [0] (achievements[0].name): name is {} bytes long; the limit is {MAX_NAME_BYTES}",
                MAX_NAME_BYTES + 1
            ),
            &format!(
                "in: [0] (achievements[0].display_name.english): text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                MAX_TEXT_BYTES + 1
            ),
        ],
    );
    // A megabyte in a message is cut to a readable length.
    let line = format!("A={}=0\n", "x".repeat(1 << 20));
    check(
        Format::EmulatorStatsTxt,
        &line,
        &[&format!(
            "in: line 1: stat type must be int, float or avgrate, found \"{}\"… ({} bytes)",
            "x".repeat(40),
            1 << 20
        )],
    );
}

#[test]
fn problems_are_capped() {
    let text = "bad line\n".repeat(MAX_PROBLEMS + 500);
    let got = problems(&[("in", Format::EmulatorStatsTxt, &text)]);
    assert_eq!(got.len(), MAX_PROBLEMS + 1);
    // 1500 bad lines, and 1500 stats are over the limit of 1000.
    assert_eq!(
        got[MAX_PROBLEMS],
        format!("… and 501 more problem(s); only the first {MAX_PROBLEMS} are listed")
    );
}

#[test]
fn too_many_entries_are_refused_by_the_core_limits() {
    let text = (0..1_001)
        .map(|i| format!("S{i}=int=0\n"))
        .collect::<String>();
    check(
        Format::EmulatorStatsTxt,
        &text,
        &["in: stats: 1001 stats; the limit is 1000"],
    );
}

#[test]
fn truncated_files_of_every_format() {
    check(
        Format::EmulatorAchievementsJson,
        r#"[{"name":"A","displayName":{"english":"#,
        &["in: line 1, column 38: EOF while parsing a value"],
    );
    check(
        Format::EmulatorStatsJson,
        r#"[{"name":"A","type":"in"#,
        &["in: line 1, column 23: EOF while parsing a string"],
    );
    check(
        Format::LaurelToml,
        "[[achievements]]\nname = \"A\"\ndisplay_name = { english = \"W",
        &["in: line 3, column 30: unclosed inline table, expected `}`"],
    );
    check(
        Format::EmulatorStatsTxt,
        "NumGames=int=0\nNumWi",
        &["in: line 2: expected NAME=TYPE=DEFAULT, found \"NumWi\""],
    );
    check(
        Format::ValveKeyValues,
        "\"480\" { \"stats\" { \"1\" { \"name\" \"A",
        &["in: line 1, column 32: expected an object { … }, a quoted string, or a word"],
    );
}

#[test]
fn odd_but_valid_text_is_kept_exactly() {
    let text = "\"480\" { \"gamename\" \"Space\\\"war\\\\ \\n \té😀\" \"stats\" { } }";
    let s =
        crate::support::import_texts(&[("in", Format::ValveKeyValues, text)], &Default::default())
            .unwrap();
    assert_eq!(s.settings().name, "Space\"war\\ \n \té😀");
    // A NUL is not text (issue 12): refused with its place, whatever the format.
    let text = "\"480\" { \"gamename\" \"Space\u{0}war\" \"stats\" { } }";
    let problems =
        crate::support::import_texts(&[("in", Format::ValveKeyValues, text)], &Default::default())
            .unwrap_err();
    assert!(problems[0].contains("U+0000"), "{problems:?}");
}

#[test]
fn long_keys_are_cut_in_locations() {
    // A hostile key must not make every one of a thousand locations as long as itself.
    let key = "k".repeat(100_000);
    let dup = r#"{"a":1,"a":2}"#;
    let text = format!(
        r#"{{"{key}":[{}],"game":{{}}}}"#,
        vec![dup; 2_000].join(",")
    );
    let got = problems(&[("in", Format::SteamSchemaJson, &text)]);
    assert_eq!(got.len(), MAX_PROBLEMS + 1);
    assert_eq!(
        got[0],
        format!(
            "in: {}…[0].a: key \"a\" appears more than once in this object",
            "k".repeat(40)
        )
    );
    assert!(got.iter().all(|p| p.len() < 200));

    let stats = (0..2_000)
        .map(|i| format!("\"{i}\" {{ \"type\" \"1\" }}"))
        .collect::<String>();
    let text = format!("\"{key}\" {{ \"stats\" {{ {stats} }} }}");
    let got = problems(&[("in", Format::ValveKeyValues, &text)]);
    assert_eq!(got.len(), MAX_PROBLEMS + 1);
    assert_eq!(
        got[0],
        format!(
            "in: {}…/stats/0/name: required, but missing",
            "k".repeat(40)
        )
    );
    assert!(got.iter().all(|p| p.len() < 200));
}
