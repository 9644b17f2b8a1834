//! The JSON shapes of leaderboards in the client API
//! (`/api/v1/apps/{app_id}/leaderboards…`; docs/leaderboards.md).

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
