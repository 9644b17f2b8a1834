//! The audit log's records, and the credentials' lifecycle data every node
//! shares through the store: the token-signing secrets and the revocations.
//!
//! A reset's record keeps the user's stored progress from before the reset,
//! bit for bit (floats as their bits), so that `Store::undo_reset` can put
//! it back exactly.

use std::collections::BTreeMap;

use laurel_core::{AchievementState, ApiName, AppId, ResetScope, StatValue, SteamId, UserProgress};
use serde_json::{Value, json};

use crate::StoreError;

/// Audit actions, as recorded (`action` of a record).
pub mod action {
    pub const RESET: &str = "reset";
    pub const UNDO_RESET: &str = "reset.undo";
    pub const SCHEMA_PUT: &str = "schema.put";
    pub const KEY_CREATE: &str = "key.create";
    pub const KEY_REVOKE: &str = "key.revoke";
    pub const TOKENS_REVOKE: &str = "tokens.revoke";
    pub const SECRET_ROTATE: &str = "secret.rotate";
    pub const LEADERBOARD_DELETE: &str = "leaderboard.delete";
    pub const LEADERBOARD_RESET: &str = "leaderboard.reset";
    pub const LEADERBOARD_ENTRY_DELETE: &str = "leaderboard.entry.delete";
}

/// An action about to be recorded: who (`actor`: `admin`, `key:<id>`,
/// `user:<steam id>`, `cli`), from where (`address`: the client address, or
/// `local` for the command line), what, on which app and user, and the
/// details (for a reset, the state before it).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    pub actor: String,
    pub address: String,
    pub action: &'static str,
    pub app: Option<AppId>,
    pub user: Option<SteamId>,
    pub detail: Value,
}

impl AuditDraft {
    pub fn new(actor: impl Into<String>, address: impl Into<String>, action: &'static str) -> Self {
        AuditDraft {
            actor: actor.into(),
            address: address.into(),
            action,
            app: None,
            user: None,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    pub fn about(mut self, app: AppId, user: Option<SteamId>) -> Self {
        self.app = Some(app);
        self.user = user;
        self
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    /// UTC Unix milliseconds.
    pub at_ms: i64,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub app: Option<AppId>,
    pub user: Option<SteamId>,
    pub detail: Value,
    /// The record of the undo that reverted this one.
    pub undone_by: Option<i64>,
}

/// What an undo put back: the app and user of the reset, and the user's
/// progress as now visible.
#[derive(Debug, Clone, PartialEq)]
pub struct Undone {
    pub app: AppId,
    pub user: SteamId,
    pub progress: UserProgress,
}

/// Which records to list: newest first, those with an id below `before`
/// (all when `None`), of one app when `app` is set, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditQuery {
    pub app: Option<AppId>,
    pub before: Option<i64>,
    pub limit: usize,
}

/// Most records one listing returns.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// The token-signing secrets: the current one signs, and during a rotation's
/// grace period the previous one still verifies, until `previous.1` (Unix
/// seconds).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecrets {
    pub current: Vec<u8>,
    pub previous: Option<(Vec<u8>, i64)>,
}

/// Keys of the signing secrets in a store's `meta` table.
pub const META_SECRET: &str = "signing_secret";
pub const META_PREVIOUS_SECRET: &str = "previous_signing_secret";
/// Big-endian i64 Unix seconds.
pub const META_PREVIOUS_UNTIL: &str = "previous_signing_secret_until";

impl SigningSecrets {
    /// The secrets from `meta`'s rows (key, value); `None` when there is no
    /// current one yet.
    pub fn from_meta(rows: impl IntoIterator<Item = (String, Vec<u8>)>) -> Option<SigningSecrets> {
        let mut rows: std::collections::HashMap<String, Vec<u8>> = rows.into_iter().collect();
        let current = rows.remove(META_SECRET)?;
        let until = rows
            .remove(META_PREVIOUS_UNTIL)
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(i64::from_be_bytes);
        let previous = rows.remove(META_PREVIOUS_SECRET).zip(until);
        Some(SigningSecrets { current, previous })
    }
}

/// A new random token-signing secret of [`crate::SIGNING_SECRET_BYTES`].
pub fn fresh_signing_secret() -> Result<Vec<u8>, StoreError> {
    let mut secret = vec![0u8; crate::SIGNING_SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|e| StoreError::Backend(format!("no randomness for the signing secret: {e}")))?;
    Ok(secret)
}

/// Refuses an empty secret to `Store::import_signing_secret`: no token
/// could be checked against it.
pub fn check_imported_secret(secret: &[u8]) -> Result<(), StoreError> {
    if secret.is_empty() {
        return Err(StoreError::InvalidImport(
            "the signing secret is empty".into(),
        ));
    }
    Ok(())
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecrets")
            .field("current", &"<redacted>")
            .field("previous_until", &self.previous.as_ref().map(|p| p.1))
            .finish()
    }
}

/// User tokens of `app` (of one `user`, or of every user when `None`) issued
/// at or before `not_before_ms` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRevocation {
    pub app: AppId,
    pub user: Option<SteamId>,
    pub not_before_ms: i64,
}

/// Everything that makes a well-signed, unexpired token unusable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRevocations {
    pub revocations: Vec<TokenRevocation>,
    /// Ids of revoked server keys: the tokens they minted are refused.
    pub revoked_keys: Vec<i64>,
}

/// The detail of a reset's record: its scope and the stored progress before it.
pub fn reset_detail(scope: ResetScope, before: &UserProgress, after_version: u64) -> Value {
    json!({
        "achievements": scope.achievements,
        "server_stats": scope.server_stats,
        "after_version": after_version,
        "before": progress_to_json(before),
    })
}

/// Whether a reset from `stored` to `next` removes anything: only such a
/// reset is recorded, so a player who resets again and again (where the
/// app lets them) grows the log no faster than they store.
pub fn removes_something(stored: &UserProgress, next: &UserProgress) -> bool {
    stored.version > 0 && (stored.stats != next.stats || stored.achievements != next.achievements)
}

/// The progress before a reset and the version the reset left, from its record.
pub fn reset_before(detail: &Value) -> Result<(UserProgress, u64), StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("audit record of a reset: {what}"));
    let after = detail["after_version"]
        .as_u64()
        .ok_or_else(|| bad("no after_version"))?;
    let before = progress_from_json(&detail["before"]).map_err(|e| bad(&e))?;
    Ok((before, after))
}

/// The app and user of a reset that can be undone: a reset's record, not
/// undone yet, that removed something.
pub fn undoable(record: &AuditRecord) -> Result<(AppId, SteamId), StoreError> {
    let id = record.id;
    if record.action != action::RESET {
        return Err(StoreError::Conflict(format!(
            "audit record {id} is a {:?}, not a reset: only resets can be undone",
            record.action
        )));
    }
    if let Some(by) = record.undone_by {
        return Err(StoreError::Conflict(format!(
            "reset {id} was already undone (audit record {by})"
        )));
    }
    match (record.app, record.user) {
        (Some(app), Some(user)) => Ok((app, user)),
        _ => Err(StoreError::Backend(format!(
            "audit record {id} is a reset without an app and user"
        ))),
    }
}

/// Refuses an undo that would lose progress: the user must still be at the
/// version the reset left, and the reset must have removed something.
pub fn check_undo(
    record: &AuditRecord,
    current: &UserProgress,
    after_version: u64,
) -> Result<(), StoreError> {
    let id = record.id;
    if after_version == 0 {
        return Err(StoreError::Conflict(format!(
            "reset {id} found nothing stored: there is nothing to put back"
        )));
    }
    if current.version != after_version {
        return Err(StoreError::Conflict(format!(
            "progress written after reset {id} (version {} now, {after_version} after the \
             reset); undoing the reset would lose it, so nothing was changed",
            current.version
        )));
    }
    Ok(())
}

/// A progress as JSON, floats with their bits so that it reads back exactly.
pub fn progress_to_json(progress: &UserProgress) -> Value {
    let stats: serde_json::Map<String, Value> = progress
        .stats
        .iter()
        .map(|(name, value)| {
            let v = match *value {
                StatValue::Int(v) => json!({"int": v}),
                StatValue::Float(v) => json!({"float": v, "bits": v.to_bits()}),
                StatValue::AvgRate { count, seconds } => json!({
                    "count": count, "count_bits": count.to_bits(),
                    "seconds": seconds, "seconds_bits": seconds.to_bits(),
                }),
            };
            (name.as_str().to_owned(), v)
        })
        .collect();
    let achievements: serde_json::Map<String, Value> = progress
        .achievements
        .iter()
        .map(|(name, a)| {
            (
                name.as_str().to_owned(),
                json!({
                    "unlocked": a.unlocked,
                    "unlock_time": a.unlock_time,
                    "progress": a.progress.map(|(c, m)| [c, m]),
                }),
            )
        })
        .collect();
    json!({"version": progress.version, "stats": stats, "achievements": achievements})
}

/// Reads what [`progress_to_json`] wrote.
pub fn progress_from_json(value: &Value) -> Result<UserProgress, String> {
    let name = |n: &str| ApiName::parse(n).map_err(|e| format!("name {n:?}: {e}"));
    let version = value["version"].as_u64().ok_or("no version")?;
    let mut stats = BTreeMap::new();
    for (n, v) in value["stats"].as_object().ok_or("no stats")? {
        let stat = if let Some(i) = v.get("int") {
            let i = i.as_i64().and_then(|i| i32::try_from(i).ok());
            StatValue::Int(i.ok_or_else(|| format!("stat {n}: bad int"))?)
        } else if let Some(bits) = v.get("bits") {
            let bits = bits.as_u64().and_then(|b| u32::try_from(b).ok());
            StatValue::Float(f32::from_bits(
                bits.ok_or_else(|| format!("stat {n}: bad bits"))?,
            ))
        } else {
            let bits = |k: &str| {
                v[k].as_u64()
                    .map(f64::from_bits)
                    .ok_or_else(|| format!("stat {n}: bad {k}"))
            };
            StatValue::AvgRate {
                count: bits("count_bits")?,
                seconds: bits("seconds_bits")?,
            }
        };
        stats.insert(name(n)?, stat);
    }
    let mut achievements = BTreeMap::new();
    for (n, a) in value["achievements"].as_object().ok_or("no achievements")? {
        let progress = match &a["progress"] {
            Value::Null => None,
            p => {
                let part = |i: usize| {
                    p[i].as_u64()
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or_else(|| format!("achievement {n}: bad progress"))
                };
                Some((part(0)?, part(1)?))
            }
        };
        achievements.insert(
            name(n)?,
            AchievementState {
                unlocked: a["unlocked"].as_bool().ok_or("bad unlocked")?,
                unlock_time: a["unlock_time"].as_i64(),
                progress,
            },
        );
    }
    Ok(UserProgress {
        version,
        stats,
        achievements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_back_bit_for_bit() {
        let mut p = UserProgress {
            version: 7,
            ..UserProgress::default()
        };
        let n = |s: &str| ApiName::parse(s).unwrap();
        p.stats.insert(n("I"), StatValue::Int(-5));
        p.stats.insert(n("F"), StatValue::Float(-0.0));
        p.stats.insert(n("G"), StatValue::Float(0.1));
        p.stats.insert(
            n("R"),
            StatValue::AvgRate {
                count: 1.0 / 3.0,
                seconds: 1e-300,
            },
        );
        p.achievements.insert(
            n("A"),
            AchievementState {
                unlocked: true,
                unlock_time: Some(1_700_000_000),
                progress: Some((3, 10)),
            },
        );
        p.achievements.insert(
            n("B"),
            AchievementState {
                unlocked: false,
                unlock_time: None,
                progress: None,
            },
        );
        let text = progress_to_json(&p).to_string();
        let back = progress_from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back.version, 7);
        assert_eq!(back.achievements, p.achievements);
        for (name, value) in &p.stats {
            let copy = back.stats[name];
            match (value, copy) {
                (StatValue::Float(a), StatValue::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                (a, b) => assert_eq!(*a, b),
            }
        }
        assert!(progress_from_json(&json!({"version": 1})).is_err());
    }
}
