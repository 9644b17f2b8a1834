//! What an import or export gives back besides the schema or text: the
//! problems found, what a lossy format dropped, what cannot be written.

use std::fmt;

/// One problem found in an input, with the file and the place in it:
/// `line 3, column 5` for syntax, a path such as `stats[2].min`,
/// `game.availableGameStats.achievements[0].hidden` or `480/stats/6/bits/0/name`
/// for content, and `line 4` for `stats.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub file: String,
    pub location: String,
    pub message: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in [&self.file, &self.location] {
            if !part.is_empty() {
                write!(f, "{part}: ")?;
            }
        }
        f.write_str(&self.message)
    }
}

/// An exported file, and what of the schema the format could not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub text: String,
    /// One entry per dropped field, e.g. `stats[0].min: Steam's schema JSON has no min`.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// Something in the schema cannot be written in the format at all.
    #[error("{location}: {message}")]
    Unrepresentable { location: String, message: String },
}
