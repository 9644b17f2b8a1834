//! Leaderboards' rules, as Steam's `ISteamUserStats` has them, without I/O:
//! what a board is, what an upload does to a user's entry, the order that
//! gives every entry its own rank, and the ranges a download asks for.
//!
//! Decisions where Steam is silent (docs/leaderboards.md):
//! - Board names compare case-insensitively (Unicode lower case), as
//!   Steam's `FindLeaderboard` does; a board keeps the spelling it was made
//!   with.
//! - Ties: the score achieved first ranks first. An entry remembers when its
//!   score was achieved (`set_at`, and the store's arrival sequence `seq` for
//!   two in one second); a `KeepBest` upload of an equal score changes
//!   nothing, so it keeps its place.

use std::cmp::Ordering;
use std::fmt;

use crate::UnixTime;
use crate::civil::{SECONDS_PER_DAY, civil_from_days, days_from_civil};
use crate::limits::MAX_LEADERBOARD_DETAILS;
use crate::name::{ApiName, NameError};

pub mod ranking;
pub use ranking::RankedSet;

/// A board's name: an API name (1–128 bytes of UTF-8, no control
/// character, no noncharacter), compared case-insensitively.
#[derive(Debug, Clone)]
pub struct BoardName {
    name: ApiName,
    key: String,
}

impl BoardName {
    pub fn parse(text: &str) -> Result<BoardName, NameError> {
        let name = ApiName::parse(text)?;
        Ok(BoardName {
            key: text.to_lowercase(),
            name,
        })
    }

    /// The name as the board was made.
    pub fn as_str(&self) -> &str {
        self.name.as_str()
    }

    /// What two names that mean the same board share: the lower case.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl PartialEq for BoardName {
    fn eq(&self, other: &BoardName) -> bool {
        self.key == other.key
    }
}

impl Eq for BoardName {}

impl fmt::Display for BoardName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A board as the schema defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardDef {
    pub name: BoardName,
    pub sort: SortMethod,
    pub display: DisplayType,
    pub display_name: Option<String>,
    pub writes: BoardWrites,
    pub period: BoardPeriod,
}

/// Words a board's settings are written with, in schemas and on the wire.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            /// Reads the word, ignoring ASCII case (Steam's tools and the
            /// Solar2D plugin spell them either way).
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    let words: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    serde::de::Error::custom(format!(
                        "{} is not one of {}",
                        crate::name::shown(&text, 40),
                        words.join(", ")
                    ))
                })
            }
        }
    };
}

words!(
    /// Which end of a board is its top.
    SortMethod {
        /// The lowest score is the best (a fastest time).
        Ascending = "ascending",
        /// The highest score is the best.
        Descending = "descending",
    }
);

words!(
    /// How a game shows a board's scores; Laurel only keeps it.
    DisplayType {
        Numeric = "numeric",
        Seconds = "seconds",
        Milliseconds = "milliseconds",
    }
);

words!(
    /// Who may upload: anyone with a user token of the app, or only the
    /// game's backend with a server key (Steam's "trusted" boards).
    BoardWrites {
        Client = "client",
        Trusted = "trusted",
    }
);

words!(
    /// When a board starts again empty (UTC); Steam's boards never do.
    BoardPeriod {
        None = "none",
        Daily = "daily",
        Weekly = "weekly",
        Monthly = "monthly",
    }
);

words!(
    /// How an upload treats the entry the user has.
    UploadMethod {
        /// Replace it only with a strictly better score.
        KeepBest = "KeepBest",
        /// Always replace it.
        ForceUpdate = "ForceUpdate",
    }
);

impl BoardPeriod {
    /// The start of the period that holds `now`: midnight UTC, Monday's
    /// midnight UTC, or the first of the month's; `None` for a board
    /// without periods.
    pub fn start(self, now: UnixTime) -> Option<UnixTime> {
        let day = now.div_euclid(SECONDS_PER_DAY);
        match self {
            BoardPeriod::None => None,
            BoardPeriod::Daily => Some(day * SECONDS_PER_DAY),
            // 1970-01-01 was a Thursday: day 4 after a Monday.
            BoardPeriod::Weekly => Some((day - (day + 3).rem_euclid(7)) * SECONDS_PER_DAY),
            BoardPeriod::Monthly => {
                let (year, month, _) = civil_from_days(day);
                Some(days_from_civil(year, month, 1) * SECONDS_PER_DAY)
            }
        }
    }
}

/// A user's entry on a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub score: i32,
    pub details: Vec<i32>,
    /// When this score was achieved.
    pub set_at: UnixTime,
    /// The store's arrival order of the upload that achieved it: breaks a
    /// tie of two scores achieved in one second.
    pub seq: u64,
}

/// Where an entry stands: a lower key ranks better, and no two entries of
/// a board share one (their `seq`s differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RankKey {
    /// The score, negated on a descending board, so that lower is better.
    pub order: i64,
    pub set_at: UnixTime,
    pub seq: u64,
}

impl RankKey {
    pub fn of(sort: SortMethod, entry: &Entry) -> RankKey {
        let score = i64::from(entry.score);
        RankKey {
            order: match sort {
                SortMethod::Ascending => score,
                SortMethod::Descending => -score,
            },
            set_at: entry.set_at,
            seq: entry.seq,
        }
    }
}

/// Whether `new` is strictly better than `old` on a board sorted by `sort`.
pub fn improves(sort: SortMethod, new: i32, old: i32) -> bool {
    match sort {
        SortMethod::Ascending => new < old,
        SortMethod::Descending => new > old,
    }
}

/// An upload's details, refused beyond [`MAX_LEADERBOARD_DETAILS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{count} details; an entry holds at most {MAX_LEADERBOARD_DETAILS}")]
pub struct TooManyDetails {
    pub count: usize,
}

/// What an upload leaves: the entry the user has after it, and whether it
/// changed (`score_changed` in Steam's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub entry: Entry,
    pub changed: bool,
}

/// Applies an upload of `score` and `details` at `now` (arrival `seq`) to
/// the entry the user had, if any.
pub fn upload(
    sort: SortMethod,
    method: UploadMethod,
    previous: Option<&Entry>,
    score: i32,
    details: &[i32],
    now: UnixTime,
    seq: u64,
) -> Result<Uploaded, TooManyDetails> {
    if details.len() > MAX_LEADERBOARD_DETAILS {
        return Err(TooManyDetails {
            count: details.len(),
        });
    }
    let replace = match (method, previous) {
        (_, None) | (UploadMethod::ForceUpdate, Some(_)) => true,
        (UploadMethod::KeepBest, Some(old)) => improves(sort, score, old.score),
    };
    Ok(match previous {
        Some(old) if !replace => Uploaded {
            entry: old.clone(),
            changed: false,
        },
        _ => Uploaded {
            entry: Entry {
                score,
                details: details.to_vec(),
                set_at: now,
                seq,
            },
            changed: true,
        },
    })
}

/// The ranks `first..=last` (1-based, inclusive) of a board of `count`
/// entries that a download returns; `None` when there are none.
pub type RankRange = Option<(u64, u64)>;

/// A `Global` download's ranks, as Steam reads `start..=end`: a start below
/// 1 is 1, an end below the start is the start, and what lies beyond the
/// last entry is left out.
pub fn global_range(start: i64, end: i64, count: u64) -> RankRange {
    let first = u64::try_from(start.max(1)).unwrap_or(1);
    let last = u64::try_from(end.max(start).max(1)).unwrap_or(1);
    clamp(first, last, count)
}

/// A `GlobalAroundUser` download's ranks: `before..=after` relative to the
/// user's rank (0 is the user, negative is better), shifted at the ends of
/// the board so that it still returns the requested number of entries
/// where the board has them. `None` when the user has no entry.
pub fn around_user(user_rank: Option<u64>, before: i64, after: i64, count: u64) -> RankRange {
    let rank = i64::try_from(user_rank?).ok()?;
    let count_i = i64::try_from(count).ok()?;
    let (low, high) = (before.min(after), before.max(after));
    let width = high.saturating_sub(low).saturating_add(1).min(count_i);
    let mut first = rank.saturating_add(low);
    if first < 1 {
        first = 1;
    }
    if first.saturating_add(width - 1) > count_i {
        first = (count_i - width + 1).max(1);
    }
    let last = first.saturating_add(width - 1);
    clamp(u64::try_from(first).ok()?, u64::try_from(last).ok()?, count)
}

fn clamp(first: u64, last: u64, count: u64) -> RankRange {
    let last = last.min(count);
    (first <= last).then_some((first, last))
}

/// Orders two entries of one board for ranking.
pub fn compare(sort: SortMethod, a: &Entry, b: &Entry) -> Ordering {
    RankKey::of(sort, a).cmp(&RankKey::of(sort, b))
}

#[cfg(test)]
mod tests;
