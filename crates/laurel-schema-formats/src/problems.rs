//! Collecting problems, writing locations, and mapping `Schema::from_doc`'s locations (paths into
//! the `SchemaDoc`) back to where each entry came from in the input.

use std::borrow::Cow;

use laurel_core::SchemaProblem;

use crate::options::MAX_PROBLEMS;
use crate::outcome::ImportProblem;

#[derive(Debug, Default)]
pub(crate) struct Problems {
    file: String,
    list: Vec<ImportProblem>,
    over: usize,
    syntax: bool,
}

impl Problems {
    pub fn set_file(&mut self, file: &str) {
        file.clone_into(&mut self.file);
    }
    pub fn file(&self) -> &str {
        &self.file
    }
    pub fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        let file = self.file.clone();
        self.push_in(file, location.into(), message.into());
    }
    fn push_in(&mut self, file: String, location: String, message: String) {
        if self.list.len() >= MAX_PROBLEMS {
            self.over += 1;
            return;
        }
        self.list.push(ImportProblem {
            file,
            location,
            message,
        });
    }
    /// A required field that is not there.
    pub fn missing(&mut self, location: impl Into<String>) {
        self.push(location, "required, but missing");
    }
    /// A syntax error: nothing after it can be read, so the import stops there.
    pub fn push_syntax(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.syntax = true;
        self.push(location, message);
    }
    pub fn len(&self) -> usize {
        self.list.len() + self.over
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn syntax_failed(&self) -> bool {
        self.syntax
    }
    pub fn into_vec(mut self) -> Vec<ImportProblem> {
        if self.over > 0 {
            self.list.push(ImportProblem {
                file: String::new(),
                location: String::new(),
                message: format!(
                    "… and {} more problem(s); only the first {MAX_PROBLEMS} are listed",
                    self.over
                ),
            });
        }
        self.list
    }
}

/// A key as it appears in a location: cut after 40 bytes, so that a hostile
/// key cannot make every location as long as itself.
pub(crate) fn path_key(key: &str) -> Cow<'_, str> {
    const MAX: usize = 40;
    if key.len() <= MAX {
        return Cow::Borrowed(key);
    }
    let mut end = MAX;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &key[..end]))
}

/// `line L, column C` (1-based, columns in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |nl| &before[nl + 1..])
        .chars()
        .count()
        + 1;
    format!("line {line}, column {column}")
}

/// How a `SchemaDoc` path maps to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathStyle {
    /// The input uses Laurel's field names: `stats[2]` + `.min`.
    Same,
    /// A foreign format: the entry's own location, with the Laurel path in brackets.
    Annotated,
}

#[derive(Debug, Clone)]
struct Origin {
    file: String,
    location: String,
    style: PathStyle,
    /// The entry already has a problem from reading it; rule problems about it
    /// would only repeat that, so they are left out.
    broken: bool,
}

/// Where each stat, achievement and leaderboard of the `SchemaDoc` came from.
#[derive(Debug, Default)]
pub(crate) struct Origins {
    app: Option<Origin>,
    stats: Vec<Origin>,
    achievements: Vec<Origin>,
    leaderboards: Vec<Origin>,
}

impl Origins {
    pub fn app(&mut self, problems: &Problems, location: &str, style: PathStyle) {
        self.app = Some(Origin {
            file: problems.file().to_owned(),
            location: location.to_owned(),
            style,
            broken: false,
        });
    }
    /// Records the origin of the stat just pushed to the document.
    pub fn stat(&mut self, problems: &Problems, location: String, style: PathStyle, broken: bool) {
        self.stats.push(Origin {
            file: problems.file().to_owned(),
            location,
            style,
            broken,
        });
    }
    /// Records the origin of the achievement just pushed to the document.
    pub fn achievement(
        &mut self,
        problems: &Problems,
        location: String,
        style: PathStyle,
        broken: bool,
    ) {
        self.achievements.push(Origin {
            file: problems.file().to_owned(),
            location,
            style,
            broken,
        });
    }

    /// Records the origin of the leaderboard just pushed to the document.
    pub fn leaderboard(&mut self, problems: &Problems, location: String, style: PathStyle) {
        self.leaderboards.push(Origin {
            file: problems.file().to_owned(),
            location,
            style,
            broken: false,
        });
    }

    /// Adds a rule problem from `Schema::from_doc`, located in the input.
    pub fn report(&self, p: SchemaProblem, problems: &mut Problems) {
        let (origin, rest) = self.locate(&p.location);
        match origin {
            Some(o) if o.broken => {}
            Some(o) => {
                let location = match o.style {
                    PathStyle::Same => format!("{}{rest}", o.location),
                    PathStyle::Annotated => format!("{} ({})", o.location, p.location),
                };
                problems.push_in(o.file.clone(), location, p.message);
            }
            None => {
                let file = self
                    .app
                    .as_ref()
                    .or(self.stats.first())
                    .or(self.achievements.first())
                    .map(|o| o.file.clone())
                    .unwrap_or_default();
                problems.push_in(file, p.location, p.message);
            }
        }
    }

    fn locate<'p>(&self, location: &'p str) -> (Option<&Origin>, &'p str) {
        for (prefix, list) in [
            ("stats[", &self.stats),
            ("achievements[", &self.achievements),
            ("leaderboards[", &self.leaderboards),
        ] {
            if let Some(after) = location.strip_prefix(prefix)
                && let Some(end) = after.find(']')
                && let Ok(i) = after[..end].parse::<usize>()
            {
                return (list.get(i), &after[end + 1..]);
            }
        }
        if let Some(rest) = location.strip_prefix("app") {
            return (self.app.as_ref(), rest);
        }
        (None, location)
    }
}
