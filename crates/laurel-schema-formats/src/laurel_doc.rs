//! Laurel's own document (`docs/schema.md`), as JSON or TOML. Unknown fields
//! are refused. Each section and each stat and achievement is read on its own,
//! so a wrong field in one entry does not hide the problems of the others.

use laurel_core::SchemaDoc;
use laurel_core::schema_doc::{AchievementDoc, AppDoc, LeaderboardDoc, StatDoc};
use serde::de::DeserializeOwned;

use crate::json::{self, Json};
use crate::outcome::ExportError;
use crate::problems::{Origins, PathStyle, Problems, line_column};

const SECTIONS: &str = "expected one of `app`, `stats`, `achievements`, `leaderboards`";

/// One value of the input tree, in either syntax.
trait Tree: Sized {
    fn kind(&self) -> &'static str;
    fn as_array(&self) -> Option<&[Self]>;
    fn typed<T: DeserializeOwned>(&self) -> Result<T, (String, String)>;
}

impl Tree for Json {
    fn kind(&self) -> &'static str {
        Json::kind(self)
    }
    fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
    fn typed<T: DeserializeOwned>(&self) -> Result<T, (String, String)> {
        serde_path_to_error::deserialize(self.to_value())
            .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
    }
}

impl Tree for toml::Value {
    fn kind(&self) -> &'static str {
        match self {
            toml::Value::String(_) => "a string",
            toml::Value::Integer(_) | toml::Value::Float(_) => "a number",
            toml::Value::Boolean(_) => "a boolean",
            toml::Value::Datetime(_) => "a date-time",
            toml::Value::Array(_) => "an array",
            toml::Value::Table(_) => "a table",
        }
    }
    fn as_array(&self) -> Option<&[toml::Value]> {
        self.as_array().map(Vec::as_slice)
    }
    fn typed<T: DeserializeOwned>(&self) -> Result<T, (String, String)> {
        serde_path_to_error::deserialize(self.clone()).map_err(|e| {
            let message = e.inner().message().to_owned();
            (e.path().to_string(), message)
        })
    }
}

pub(crate) fn import_json(
    text: &str,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let Some(tree) = json::parse(text, problems) else {
        return;
    };
    let Json::Object(sections) = &tree else {
        problems.push(
            "(root)",
            format!(
                "expected an object with `app`, `stats`, `achievements` and `leaderboards`, found {}",
                tree.kind()
            ),
        );
        return;
    };
    read_sections(
        sections.iter().map(|(k, v)| (k.as_str(), v)),
        doc,
        origins,
        problems,
    );
}

pub(crate) fn import_toml(
    text: &str,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let table = match text.parse::<toml::Table>() {
        Ok(t) => t,
        Err(e) => {
            let location = match e.span() {
                Some(span) => line_column(text, span.start),
                None => "(root)".to_owned(),
            };
            problems.push_syntax(location, e.message().trim_end().to_owned());
            return;
        }
    };
    read_sections(
        table.iter().map(|(k, v)| (k.as_str(), v)),
        doc,
        origins,
        problems,
    );
}

fn read_sections<'a, T: Tree + 'a>(
    sections: impl Iterator<Item = (&'a str, &'a T)>,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    origins.app(problems, "app", PathStyle::Same);
    for (key, value) in sections {
        match key {
            "app" => match value.typed::<AppDoc>() {
                Ok(app) => doc.app = app,
                Err((path, message)) => problems.push(at("app", &path), message),
            },
            "stats" => {
                for (i, item) in entries(value, "stats", problems).iter().enumerate() {
                    let location = format!("stats[{i}]");
                    match item.typed::<StatDoc>() {
                        Ok(stat) => {
                            doc.stats.push(stat);
                            origins.stat(problems, location, PathStyle::Same, false);
                        }
                        Err((path, message)) => problems.push(at(&location, &path), message),
                    }
                }
            }
            "achievements" => {
                for (i, item) in entries(value, "achievements", problems).iter().enumerate() {
                    let location = format!("achievements[{i}]");
                    match item.typed::<AchievementDoc>() {
                        Ok(achievement) => {
                            doc.achievements.push(achievement);
                            origins.achievement(problems, location, PathStyle::Same, false);
                        }
                        Err((path, message)) => problems.push(at(&location, &path), message),
                    }
                }
            }
            "leaderboards" => {
                for (i, item) in entries(value, "leaderboards", problems).iter().enumerate() {
                    let location = format!("leaderboards[{i}]");
                    match item.typed::<LeaderboardDoc>() {
                        Ok(board) => {
                            doc.leaderboards.push(board);
                            origins.leaderboard(problems, location, PathStyle::Same);
                        }
                        Err((path, message)) => problems.push(at(&location, &path), message),
                    }
                }
            }
            other => problems.push(
                json::join("", other),
                format!("unknown field `{other}`, {SECTIONS}"),
            ),
        }
    }
}

fn entries<'a, T: Tree>(value: &'a T, key: &str, problems: &mut Problems) -> &'a [T] {
    match value.as_array() {
        Some(items) => items,
        None => {
            problems.push(key, format!("expected an array, found {}", value.kind()));
            &[]
        }
    }
}

/// `stats[2]` + the path inside it that serde reported (`.` when none).
fn at(base: &str, path: &str) -> String {
    if path.is_empty() || path == "." {
        base.to_owned()
    } else if path.starts_with('[') {
        format!("{base}{path}")
    } else {
        format!("{base}.{path}")
    }
}

#[allow(
    clippy::expect_used,
    reason = "plain data (strings, numbers, maps with string keys) always serializes"
)]
pub(crate) fn export_json(doc: &SchemaDoc) -> String {
    serde_json::to_string_pretty(doc).expect("a SchemaDoc always serializes") + "\n"
}

pub(crate) fn export_toml(doc: &SchemaDoc) -> Result<String, ExportError> {
    toml::to_string_pretty(doc).map_err(|e| ExportError::Unrepresentable {
        location: String::new(),
        message: e.to_string(),
    })
}
