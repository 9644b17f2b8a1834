//! The JSON shapes of Laurel's client API (`/api/v1`). A serialized type is a
//! compatibility promise, so they live here, apart from the core's types,
//! and are converted at the edge. Every shape is pinned by a snapshot test.

use laurel_core::{
    AppId, BatchEntry, EResult, Refusal, Schema, SchemaDoc, SchemaProblem, StatKind, StatValue,
    SteamId, StoreBatch, UserProgress,
};
use serde::{Deserialize, Serialize};

pub mod leaderboards;
#[cfg(feature = "json-schema")]
pub mod schema;
pub mod token;
pub use token::{SERVER_KEY_PREFIX, TOKEN_PREFIX, TokenClaims};

/// Header carrying the client-chosen idempotency key of a store.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Every error answer: `{ "result": <EResult>, "error": "<message>", "details": [...] }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub result: i32,
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// Most `details` one error answer lists.
pub const MAX_ERROR_DETAILS: usize = 100;

/// One precise fault: where, which rule, and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// `stats[1]`, `unlock[0]`, `stats[2].min`, `line 3, column 4`, …
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub message: String,
}

impl ErrorBody {
    pub fn new(result: EResult, error: impl Into<String>) -> ErrorBody {
        ErrorBody {
            result: result.code(),
            error: error.into(),
            details: Vec::new(),
        }
    }

    /// Keeps the first [`MAX_ERROR_DETAILS`] details and says how many were
    /// left out, so that an answer stays small whatever the request held
    /// (issue 12: a 17 KB store drew 256 KB of details).
    pub fn capped(mut self) -> ErrorBody {
        let n = self.details.len();
        if n > MAX_ERROR_DETAILS {
            self.details.truncate(MAX_ERROR_DETAILS);
            self.error.push_str(&format!(
                " (the first {MAX_ERROR_DETAILS} of {n} are listed)"
            ));
        }
        self
    }

    /// A refused store, with each entry located in the request body it came from.
    pub fn from_refusal(refusal: &Refusal, body: &StoreRequestBody) -> ErrorBody {
        let n = refusal.problems.len();
        ErrorBody {
            result: refusal.result.code(),
            error: format!(
                "store refused: {n} {} broke the schema; nothing was applied",
                if n == 1 { "entry" } else { "entries" }
            ),
            details: refusal
                .problems
                .iter()
                .map(|p| ErrorDetail {
                    location: body.locate(p.index),
                    name: Some(p.name.clone()),
                    rule: Some(p.problem.code().to_owned()),
                    message: p.problem.to_string(),
                })
                .collect(),
        }
    }

    pub fn from_schema_problems(problems: &[SchemaProblem]) -> ErrorBody {
        ErrorBody {
            result: EResult::InvalidParam.code(),
            error: format!(
                "schema refused: {} problem(s); nothing was changed",
                problems.len()
            ),
            details: problems
                .iter()
                .map(|p| ErrorDetail {
                    location: p.location.clone(),
                    name: None,
                    rule: None,
                    message: p.message.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    #[serde(deserialize_with = "whole_number::u32")]
    pub app_id: u32,
    /// Decimal string: 64-bit ids do not survive a trip through a double.
    pub steam_id: String,
    /// The user's display name in the app, set with the session (the game's
    /// backend knows it when it signs the player in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A user's profile in an app: what `getUserInfo` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    pub result: i32,
    pub app_id: u32,
    pub steam_id: String,
    /// The name set for the user, or the default: the Steam id in decimal.
    pub display_name: String,
    /// Whether a name was set (`false`: `display_name` is the default).
    pub named: bool,
}

impl ProfileBody {
    pub fn new(app: AppId, user: SteamId, name: Option<String>) -> ProfileBody {
        ProfileBody {
            result: EResult::Ok.code(),
            app_id: app.get(),
            steam_id: user.to_string(),
            named: name.is_some(),
            display_name: name.unwrap_or_else(|| user.to_string()),
        }
    }
}

/// `PUT …/profile`: a new display name, or `null` to remove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SessionResponse {
    pub result: i32,
    pub token: String,
    pub app_id: u32,
    pub steam_id: String,
    /// UTC Unix seconds.
    pub expires_at: i64,
}

/// A JSON number that stays an integer for `int` stats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum StatNumber {
    Int(i64),
    Float(f64),
}

impl StatNumber {
    pub fn as_f64(self) -> f64 {
        match self {
            StatNumber::Int(v) => v as f64,
            StatNumber::Float(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StatBody {
    pub name: String,
    /// `int`, `float` or `avgrate`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: StatNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressPair {
    pub current: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AchievementBody {
    pub name: String,
    pub unlocked: bool,
    /// UTC Unix seconds of the first unlock; present exactly when unlocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_time: Option<i64>,
    /// The last indicated progress, or the bound stat's value and max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressPair>,
}

/// A user's progress, with every stat and achievement of the schema (defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressBody {
    pub result: i32,
    pub app_id: u32,
    pub steam_id: String,
    pub version: u64,
    pub schema_version: u64,
    pub stats: Vec<StatBody>,
    pub achievements: Vec<AchievementBody>,
}

impl ProgressBody {
    pub fn build(
        app: AppId,
        user: SteamId,
        schema_version: u64,
        schema: &Schema,
        progress: &UserProgress,
    ) -> ProgressBody {
        let stats = schema
            .stats()
            .iter()
            .map(|def| {
                let value = match progress.stat(def) {
                    StatValue::Int(v) => StatNumber::Int(v as i64),
                    other => StatNumber::Float(other.read(def)),
                };
                StatBody {
                    name: def.name.to_string(),
                    kind: def.kind.as_str().to_owned(),
                    value,
                }
            })
            .collect();
        let achievements = schema
            .achievements()
            .iter()
            .map(|def| {
                let state = progress.achievement(def.name.as_str());
                let bound = def.progress.as_ref().and_then(|b| {
                    let stat = schema.stat(b.stat.as_str())?;
                    let v = progress.stat(stat).read(stat).clamp(0.0, b.max);
                    Some(ProgressPair {
                        current: v as u32,
                        max: b.max as u32,
                    })
                });
                AchievementBody {
                    name: def.name.to_string(),
                    unlocked: state.unlocked,
                    unlock_time: state.unlock_time,
                    progress: state
                        .progress
                        .map(|(current, max)| ProgressPair { current, max })
                        .or(bound),
                }
            })
            .collect();
        ProgressBody {
            result: EResult::Ok.code(),
            app_id: app.get(),
            steam_id: user.to_string(),
            version: progress.version,
            schema_version,
            stats,
            achievements,
        }
    }
}

/// One stat write: `value` for `int`/`float`; `count` and `session_seconds` for `avgrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StatWrite {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressWrite {
    pub name: String,
    #[serde(deserialize_with = "whole_number::u32")]
    pub current: u32,
    #[serde(deserialize_with = "whole_number::u32")]
    pub max: u32,
}

/// The body of a store: one atomic batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StoreRequestBody {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stats: Vec<StatWrite>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlock: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clear: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<ProgressWrite>,
}

impl StoreRequestBody {
    pub fn entry_count(&self) -> usize {
        self.stats.len() + self.unlock.len() + self.clear.len() + self.progress.len()
    }

    /// The body's place of the batch entry at `index` (entries are flattened in field order).
    pub fn locate(&self, index: usize) -> String {
        let mut i = index;
        for (field, len) in [
            ("stats", self.stats.len()),
            ("unlock", self.unlock.len()),
            ("clear", self.clear.len()),
            ("progress", self.progress.len()),
        ] {
            if i < len {
                return format!("{field}[{i}]");
            }
            i -= len;
        }
        format!("entries[{index}]")
    }

    /// The core batch. A stat write must carry either `value` or
    /// `count` + `session_seconds`; anything else is reported by location.
    pub fn to_batch(&self) -> Result<StoreBatch, ErrorBody> {
        let mut entries = Vec::with_capacity(self.entry_count());
        let mut bad = Vec::new();
        for (i, s) in self.stats.iter().enumerate() {
            match (s.value, s.count, s.session_seconds) {
                (Some(value), None, None) => entries.push(BatchEntry::SetStat {
                    name: s.name.clone(),
                    value,
                }),
                (None, Some(count), Some(session_seconds)) => entries.push(BatchEntry::UpdateAvgRate {
                    name: s.name.clone(),
                    count,
                    session_seconds,
                }),
                _ => bad.push(ErrorDetail {
                    location: format!("stats[{i}]"),
                    name: Some(s.name.chars().take(128).collect()),
                    rule: Some("malformed_stat_write".into()),
                    message: "give `value` (int, float) or both `count` and `session_seconds` (avgrate), not a mix".into(),
                }),
            }
        }
        entries.extend(
            self.unlock
                .iter()
                .map(|n| BatchEntry::UnlockAchievement { name: n.clone() }),
        );
        entries.extend(
            self.clear
                .iter()
                .map(|n| BatchEntry::ClearAchievement { name: n.clone() }),
        );
        entries.extend(self.progress.iter().map(|p| BatchEntry::IndicateProgress {
            name: p.name.clone(),
            current: p.current,
            max: p.max,
        }));
        if !bad.is_empty() {
            return Err(ErrorBody {
                result: EResult::InvalidParam.code(),
                error: "store refused: malformed stat writes; nothing was applied".into(),
                details: bad,
            });
        }
        Ok(StoreBatch { entries })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StoreResponse {
    pub result: i32,
    /// `true` when the idempotency key had been seen: nothing was written this time.
    pub replayed: bool,
    pub newly_unlocked: Vec<String>,
    pub progress: ProgressBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Also lock every achievement again (stats are always reset).
    #[serde(default)]
    pub achievements: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SchemaResponse {
    pub result: i32,
    pub app_id: u32,
    pub version: u64,
    #[cfg_attr(feature = "json-schema", schemars(with = "schema::SchemaDocShape"))]
    pub schema: SchemaDoc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SchemaPutResponse {
    pub result: i32,
    pub app_id: u32,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GlobalAchievementBody {
    pub name: String,
    pub unlocked: u64,
    /// Percent of the app's users (0–100).
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GlobalAchievementsResponse {
    pub result: i32,
    pub app_id: u32,
    pub users: u64,
    pub achievements: Vec<GlobalAchievementBody>,
}

/// Most days of history `GET /api/v1/apps/{app_id}/global/stats` answers
/// (Steam's `RequestGlobalStats` takes 0–60 days).
pub const MAX_GLOBAL_STAT_HISTORY_DAYS: u32 = 60;

/// One UTC day of an aggregated stat: how much its global total changed that day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GlobalStatDay {
    /// UTC Unix seconds of the day's midnight.
    pub date: i64,
    pub change: StatNumber,
}

/// The global total of an aggregated stat: the sum of every user's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GlobalStatBody {
    pub name: String,
    /// `int`, `float` or `avgrate`.
    #[serde(rename = "type")]
    pub kind: String,
    /// An integer for `int` stats, a number otherwise.
    pub total: StatNumber,
    /// The asked-for days, oldest first, every day present (0 when nothing changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<GlobalStatDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GlobalStatsResponse {
    pub result: i32,
    pub app_id: u32,
    pub stats: Vec<GlobalStatBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyCreateRequest {
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    pub id: i64,
    pub app_id: u32,
    pub label: String,
    pub created: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyCreateResponse {
    pub result: i32,
    /// The secret, shown once: only its hash is stored.
    pub key: String,
    pub record: KeyBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyListResponse {
    pub result: i32,
    pub keys: Vec<KeyBody>,
}

/// `POST /api/v1/admin/apps/{app_id}/revocations`: refuse the user tokens
/// of one user (`steam_id`) or of every user of the app (no `steam_id`)
/// issued until now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRevokeRequest {
    #[serde(default)]
    pub steam_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRevokeResponse {
    pub result: i32,
    pub app_id: u32,
    /// `null`: every user of the app.
    pub steam_id: Option<String>,
    /// Tokens issued at or before this time (Unix milliseconds) are refused.
    pub not_before_ms: i64,
}

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "json-schema", schemars(rename = "AuditRecord"))]
#[serde(deny_unknown_fields)]
pub struct AuditRecordBody {
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `admin`, `key:<id>`, `user:<steam id>` or `cli`.
    pub actor: String,
    /// The client address, or `local` for the command line.
    pub address: String,
    pub action: String,
    pub app_id: Option<u32>,
    pub steam_id: Option<String>,
    /// For a reset: its scope and the stored progress before it.
    pub detail: serde_json::Value,
    pub undone_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditListResponse {
    pub result: i32,
    /// Newest first; pass the last id as `before` for the next page.
    pub records: Vec<AuditRecordBody>,
}

/// `POST /api/v1/admin/audit/{id}/undo`: the restored progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UndoResponse {
    pub result: i32,
    pub undone: i64,
    pub progress: ProgressBody,
}

/// The answer to revoking a server key: it stops working at once on the node
/// that revoked it, and within the key cache's lifetime on the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyRevokeResponse {
    pub result: i32,
    pub app_id: u32,
    pub id: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AppBody {
    pub app_id: u32,
    pub name: String,
    pub schema_version: u64,
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AppListResponse {
    pub result: i32,
    pub apps: Vec<AppBody>,
}

/// The stat type names the wire uses, for messages.
pub fn kind_name(kind: StatKind) -> &'static str {
    kind.as_str()
}

/// Integer fields of request bodies. JSON has one number type, and JSON
/// Schema (so the OpenAPI document) counts `3.0` as the integer 3: some
/// encoders write every number with a fraction (Python's `float`, Lua
/// numbers through some libraries). So an integer field takes a whole
/// number however it is spelled, and still refuses `3.5`, `-1` and values
/// out of range.
pub(crate) mod whole_number {
    use std::fmt;

    use serde::Deserializer;
    use serde::de::{Error, Unexpected, Visitor};

    struct U32;

    impl Visitor<'_> for U32 {
        type Value = u32;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer 0..=4294967295")
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<u32, E> {
            if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
                // Whole and in range (NaN and infinities fail both tests), so exact.
                Ok(v as u32)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }

    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        d.deserialize_u32(U32)
    }

    struct I32;

    impl Visitor<'_> for I32 {
        type Value = i32;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer -2147483648..=2147483647")
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<i32, E> {
            if v.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&v) {
                // Whole and in range (NaN and infinities fail both tests), so exact.
                Ok(v as i32)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }

    /// An int32 as JSON Schema reads `integer`: `-346.0` is -346; `1.5`,
    /// `2147483648` and `"7"` are refused.
    pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        d.deserialize_i32(I32)
    }

    /// A list of int32s, each read as [`i32`].
    pub fn i32s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
        struct Whole(i32);
        impl<'de> serde::Deserialize<'de> for Whole {
            fn deserialize<D2: Deserializer<'de>>(d: D2) -> Result<Whole, D2::Error> {
                i32(d).map(Whole)
            }
        }
        let list: Vec<Whole> = serde::Deserialize::deserialize(d)?;
        Ok(list.into_iter().map(|w| w.0).collect())
    }

    #[cfg(test)]
    mod tests {
        use crate::{ProgressWrite, SessionRequest};

        fn session(app_id: &str) -> Result<SessionRequest, serde_json::Error> {
            serde_json::from_str(&format!(r#"{{"app_id": {app_id}, "steam_id": "5"}}"#))
        }

        #[test]
        fn whole_numbers_are_integers_however_spelled() {
            for spelled in ["480", "480.0", "4.8e2", "480.000"] {
                assert_eq!(session(spelled).unwrap().app_id, 480, "{spelled}");
            }
            assert_eq!(session("4294967295.0").unwrap().app_id, u32::MAX);
            assert_eq!(session("0.0").unwrap().app_id, 0);
            let p: ProgressWrite =
                serde_json::from_str(r#"{"name": "A", "current": 3.0, "max": 10}"#).unwrap();
            assert_eq!((p.current, p.max), (3, 10));
        }

        #[test]
        fn fractions_negatives_and_overflow_are_refused() {
            for spelled in [
                "480.5",
                "-1",
                "-1.0",
                "4294967296",
                "4294967296.0",
                "1e300",
                r#""480""#,
                "true",
                "null",
            ] {
                let err = session(spelled).unwrap_err().to_string();
                assert!(
                    err.contains("invalid value") || err.contains("invalid type"),
                    "{spelled}: {err}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
