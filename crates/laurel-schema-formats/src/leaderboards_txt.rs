//! The Steam emulators' `steam_settings/leaderboards.txt`: one board per
//! line, `NAME=SORT=DISPLAY`, with Steam's enum numbers (sort: 1 ascending,
//! 2 descending; display: 1 numeric, 2 seconds, 3 milliseconds). The 0s
//! ("none") of both enums are refused: a board needs an order, and Steam
//! refuses them too when a board is made.

use laurel_core::SchemaDoc;
use laurel_core::leaderboard::{BoardPeriod, BoardWrites, DisplayType, SortMethod};
use laurel_core::schema_doc::LeaderboardDoc;

use crate::outcome::ExportError;
use crate::problems::{Origins, PathStyle, Problems};
use crate::text::{entry_lines, shown};

const FILE: &str = "leaderboards.txt";

pub(crate) fn import(
    text: &str,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    for (location, line) in entry_lines(text) {
        if let Some(board) = read_line(line, &location, problems) {
            doc.leaderboards.push(board);
            origins.leaderboard(problems, location, PathStyle::Annotated);
        }
    }
}

/// One line, or `None` with its problems recorded.
fn read_line(line: &str, location: &str, problems: &mut Problems) -> Option<LeaderboardDoc> {
    let parts: Vec<&str> = line.split('=').collect();
    let [name, sort, display] = parts[..] else {
        problems.push(
            location,
            format!("expected NAME=SORT=DISPLAY, found {}", shown(line)),
        );
        return None;
    };
    let sort = match sort.trim() {
        "1" => Some(SortMethod::Ascending),
        "2" => Some(SortMethod::Descending),
        other => {
            problems.push(
                location,
                format!(
                    "sort method {}: use 1 (ascending) or 2 (descending); 0 (none) cannot rank",
                    shown(other)
                ),
            );
            None
        }
    };
    let display = match display.trim() {
        "1" => Some(DisplayType::Numeric),
        "2" => Some(DisplayType::Seconds),
        "3" => Some(DisplayType::Milliseconds),
        other => {
            problems.push(
                location,
                format!(
                    "display type {}: use 1 (numeric), 2 (seconds) or 3 (milliseconds)",
                    shown(other)
                ),
            );
            None
        }
    };
    Some(LeaderboardDoc {
        name: name.to_owned(),
        sort: sort?,
        display: display?,
        display_name: None,
        writes: BoardWrites::Client,
        period: BoardPeriod::None,
    })
}

pub(crate) fn export(doc: &SchemaDoc, dropped: &mut Vec<String>) -> Result<String, ExportError> {
    let mut out = String::new();
    for (i, b) in doc.leaderboards.iter().enumerate() {
        // `=` ends the name; a leading U+FEFF would be read as a byte-order mark.
        if b.name.contains('=') || b.name.starts_with('\u{feff}') {
            return Err(ExportError::Unrepresentable {
                location: format!("leaderboards[{i}].name"),
                message: format!(
                    "{} cannot be written to {FILE}: a name there holds no `=` and does not start with U+FEFF",
                    shown(&b.name)
                ),
            });
        }
        if b.display_name.is_some() {
            dropped.push(format!(
                "leaderboards[{i}].display_name: {FILE} has no display_name"
            ));
        }
        if b.writes != BoardWrites::Client {
            dropped.push(format!(
                "leaderboards[{i}].writes: {FILE} has no writes (the board reads back as client)"
            ));
        }
        if b.period != BoardPeriod::None {
            dropped.push(format!(
                "leaderboards[{i}].period: {FILE} has no period (the board reads back without one)"
            ));
        }
        let sort = match b.sort {
            SortMethod::Ascending => 1,
            SortMethod::Descending => 2,
        };
        let display = match b.display {
            DisplayType::Numeric => 1,
            DisplayType::Seconds => 2,
            DisplayType::Milliseconds => 3,
        };
        out.push_str(&format!("{}={sort}={display}\n", b.name));
    }
    Ok(out)
}
