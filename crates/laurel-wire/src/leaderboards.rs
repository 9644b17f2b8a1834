//! The JSON shapes of leaderboards in the client API
//! (`/api/v1/apps/{app_id}/leaderboards…`; docs/leaderboards.md).

use laurel_core::SteamId;
use laurel_core::limits::{MAX_LEADERBOARD_DETAILS, MAX_LEADERBOARD_USERS};
use serde::{Deserialize, Serialize};

/// A board as every answer about one shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BoardBody {
    /// The board's handle (Steam's `SteamLeaderboard_t`): never 0, never reused.
    pub id: u64,
    pub name: String,
    /// `ascending` (the lowest score is the top) or `descending`.
    pub sort: String,
    /// `numeric`, `seconds` or `milliseconds`.
    pub display: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `client` (user tokens may upload) or `trusted` (server keys only).
    pub writes: String,
    /// `none`, `daily`, `weekly` or `monthly` (UTC).
    pub period: String,
    /// Entries in the board's current period.
    pub entry_count: u64,
}

/// `GET …/leaderboards`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BoardListResponse {
    pub result: i32,
    pub leaderboards: Vec<BoardBody>,
}

/// `GET …/leaderboards/find?name=` and `POST …/leaderboards` (find or create).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BoardResponse {
    pub result: i32,
    /// `true` when this request made the board.
    pub created: bool,
    pub leaderboard: BoardBody,
}

/// `POST …/leaderboards`: Steam's `FindOrCreateLeaderboard`. The settings
/// are used only when the board is made; an existing board keeps its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BoardCreateRequest {
    pub name: String,
    pub sort: String,
    pub display: String,
    /// `false`: only find (an unknown name is 404).
    #[serde(default = "yes")]
    pub create: bool,
    /// Only a server key may make a trusted board. Default `client`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<String>,
}

fn yes() -> bool {
    true
}

/// `POST …/leaderboards/{board_id}/users/{steam_id}/score`, with an
/// optional `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScoreUploadRequest {
    /// An int32 (`-346.0` is -346, as JSON Schema reads integers).
    #[serde(deserialize_with = "crate::whole_number::i32")]
    pub score: i32,
    /// Up to 64 int32s.
    #[serde(default, deserialize_with = "crate::whole_number::i32s")]
    pub details: Vec<i32>,
    /// `KeepBest` (default) or `ForceUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// An upload's answer: Steam's `LeaderboardScoreUploaded_t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScoreUploadResponse {
    pub result: i32,
    pub leaderboard_id: u64,
    /// The score uploaded.
    pub score: i32,
    pub score_changed: bool,
    /// The user's rank now.
    pub global_rank_new: u64,
    /// The rank of the entry the user had, among the others now; 0 when
    /// the user had none.
    pub global_rank_previous: u64,
    pub entry_count: u64,
    /// `true` when the idempotency key had been seen: nothing was written.
    pub replayed: bool,
}

/// One entry of a download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    pub steam_id: String,
    pub rank: u64,
    pub score: i32,
    pub details: Vec<i32>,
    /// When the score was achieved (UTC Unix seconds).
    pub set_at: i64,
}

/// `GET …/leaderboards/{board_id}/entries`: Steam's `LeaderboardScoresDownloaded_t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntriesResponse {
    pub result: i32,
    pub leaderboard_id: u64,
    /// Entries in the period read.
    pub entry_count: u64,
    /// Start of the period read (UTC Unix seconds); 0 for a board without periods.
    pub period_start: i64,
    pub entries: Vec<EntryBody>,
}

/// `PUT …/users/{steam_id}/friends` (server key): the list `Friends`
/// downloads read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FriendsBody {
    /// Decimal strings; at most 2,000.
    pub steam_ids: Vec<String>,
}

/// Moderation answers: a board deleted or reset, an entry deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ModerationResponse {
    pub result: i32,
    /// Entries removed (0 or 1 for one entry).
    pub removed: u64,
}

/// The `scope` of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeWord {
    Global,
    AroundUser,
    Friends,
    Users,
}

/// The query string of `GET …/leaderboards/{board_id}/entries`, read
/// strictly: every parameter at most once, nothing unknown.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EntriesQuery {
    pub scope: Option<ScopeWord>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub steam_id: Option<SteamId>,
    /// At most [`MAX_LEADERBOARD_USERS`].
    pub steam_ids: Option<Vec<SteamId>>,
    /// `period=previous`.
    pub previous: bool,
}

/// A query parameter that cannot be read; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

fn range_number(name: &str, text: &str) -> Result<i64, QueryError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError(format!(
            "{name}: {} is not an integer",
            laurel_core::shown(text, 40)
        )));
    }
    text.parse::<i64>().map_err(|_| {
        QueryError(format!(
            "{name}: {} is out of range (a 64-bit integer)",
            laurel_core::shown(text, 40)
        ))
    })
}

impl EntriesQuery {
    pub fn parse(query: &str) -> Result<EntriesQuery, QueryError> {
        let mut q = EntriesQuery::default();
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if seen.iter().any(|s| *s == k) {
                return Err(QueryError(format!(
                    "query parameter {} is given more than once",
                    laurel_core::shown(&k, 40)
                )));
            }
            seen.push(k.clone().into_owned());
            match k.as_ref() {
                "scope" => {
                    q.scope = Some(match v.as_ref() {
                        "global" => ScopeWord::Global,
                        "around_user" => ScopeWord::AroundUser,
                        "friends" => ScopeWord::Friends,
                        "users" => ScopeWord::Users,
                        other => {
                            return Err(QueryError(format!(
                                "scope: {} is not one of global, around_user, friends, users",
                                laurel_core::shown(other, 40)
                            )));
                        }
                    });
                }
                "start" => q.start = Some(range_number("start", &v)?),
                "end" => q.end = Some(range_number("end", &v)?),
                "steam_id" => {
                    q.steam_id = Some(
                        v.parse()
                            .map_err(|e| QueryError(format!("steam_id: {e}")))?,
                    );
                }
                "steam_ids" => {
                    let parts: Vec<&str> = v.split(',').collect();
                    if parts.len() > MAX_LEADERBOARD_USERS {
                        return Err(QueryError(format!(
                            "steam_ids: {} ids; at most {MAX_LEADERBOARD_USERS} per request",
                            parts.len()
                        )));
                    }
                    let mut ids = Vec::with_capacity(parts.len());
                    for (i, part) in parts.iter().enumerate() {
                        let id = part
                            .parse::<SteamId>()
                            .map_err(|e| QueryError(format!("steam_ids[{i}]: {e}")))?;
                        ids.push(id);
                    }
                    q.steam_ids = Some(ids);
                }
                "period" => {
                    q.previous = match v.as_ref() {
                        "current" => false,
                        "previous" => true,
                        other => {
                            return Err(QueryError(format!(
                                "period: {} is not one of current, previous",
                                laurel_core::shown(other, 40)
                            )));
                        }
                    };
                }
                other => {
                    return Err(QueryError(format!(
                        "unknown query parameter {} (scope, start, end, steam_id, steam_ids, period)",
                        laurel_core::shown(other, 40)
                    )));
                }
            }
        }
        Ok(q)
    }
}

/// Steam's `details` form parameter as Laurel reads it: up to
/// [`MAX_LEADERBOARD_DETAILS`] int32s, comma-separated; empty is none.
pub fn parse_details(text: &str) -> Result<Vec<i32>, QueryError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() > MAX_LEADERBOARD_DETAILS {
        return Err(QueryError(format!(
            "details has {} values; an entry holds at most {MAX_LEADERBOARD_DETAILS}",
            parts.len()
        )));
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.trim().parse::<i32>().map_err(|_| {
                QueryError(format!(
                    "details[{i}] {} is not a 32-bit integer",
                    laurel_core::shown(p, 20)
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn an_entries_query_reads_every_parameter_once() {
        let q = EntriesQuery::parse(
            "scope=users&start=-3&end=9&steam_id=7&steam_ids=1,2&period=previous",
        )
        .unwrap();
        assert_eq!(q.scope, Some(ScopeWord::Users));
        assert_eq!((q.start, q.end), (Some(-3), Some(9)));
        assert_eq!(q.steam_ids.map(|ids| ids.len()), Some(2));
        assert!(q.previous);
        assert_eq!(EntriesQuery::parse("").unwrap(), EntriesQuery::default());
    }

    #[test]
    fn bad_queries_name_their_parameter() {
        let many = (1..=101)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        for (query, names) in [
            ("start=1&start=2", "more than once"),
            ("scope=everyone", "scope"),
            ("start=1.5", "start"),
            ("end=99999999999999999999", "out of range"),
            ("steam_ids=1,x", "steam_ids[1]"),
            (&format!("steam_ids={many}") as &str, "at most 100"),
            ("period=last", "period"),
            ("limit=5", "unknown query parameter"),
            ("steam_id=0", "steam_id"),
        ] {
            let err = EntriesQuery::parse(query).unwrap_err().to_string();
            assert!(err.contains(names), "{query}: {err}");
        }
    }

    #[test]
    fn details_are_up_to_64_int32s() {
        assert_eq!(parse_details("").unwrap(), Vec::<i32>::new());
        assert_eq!(
            parse_details("1, -2,2147483647,-2147483648").unwrap(),
            [1, -2, i32::MAX, i32::MIN]
        );
        let max = vec!["7"; 64].join(",");
        assert_eq!(parse_details(&max).unwrap().len(), 64);
        let over = vec!["7"; 65].join(",");
        assert!(
            parse_details(&over)
                .unwrap_err()
                .to_string()
                .contains("at most 64")
        );
        for bad in ["2147483648", "1,,2", "x", "1.5"] {
            assert!(parse_details(bad).is_err(), "{bad}");
        }
    }
}
