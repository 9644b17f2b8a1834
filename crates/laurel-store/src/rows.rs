//! How both backends encode Laurel's values in their rows, and decode them
//! back: one copy of the codecs, so that a value means the same in SQLite and
//! PostgreSQL (`laurel migrate` copies between them) and a row that does not
//! decode fails the same way in both.
//!
//! Only the codecs are shared: each backend binds and reads the columns
//! with its own driver, and keeps its own SQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use laurel_core::{
    AchievementState, ApiName, AppId, Schema, SchemaDoc, StatKind, StatValue, SteamId, UserProgress,
};

use crate::{AuditRecord, IdempotencyRecord, StoreError, StoredSchema};

/// A value in the database that no store writes: the database was changed
/// behind the store's back, or the rules changed under it.
pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("database holds an invalid value: {what}"))
}

/// An app id as both databases store it.
pub fn app_sql(app: AppId) -> i64 {
    i64::from(app.get())
}

pub fn app_from_sql(value: i64) -> Result<AppId, StoreError> {
    u32::try_from(value)
        .ok()
        .and_then(|v| AppId::new(v).ok())
        .ok_or_else(|| corrupt(format_args!("app id {value}")))
}

/// Steam ids are u64 and both databases' widest integer is a signed i64:
/// ids are stored bit-cast (`as i64`), so ids above `i64::MAX` are negative
/// in the database. The cast is a bijection, so equality is all most
/// statements need; the listing of users in id order reads two ranges
/// ([`crate::stored_id_ranges_after`]) to get u64 order.
pub fn user_sql(user: SteamId) -> i64 {
    user.get() as i64
}

/// Reads what [`user_sql`] wrote.
pub fn user_from_sql(value: i64) -> Result<SteamId, StoreError> {
    SteamId::new(value as u64).map_err(|_| corrupt(format_args!("steam id {value}")))
}

/// A stat or achievement name as stored.
pub fn name_from_sql(text: String) -> Result<ApiName, StoreError> {
    ApiName::parse(&text).map_err(|e| corrupt(format_args!("name {text:?}: {e}")))
}

/// A count kept in a signed column (users, unlocks, a schema version).
pub fn count(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(format_args!("negative {what}: {value}")))
}

/// A stored schema (`apps.schema_json` at `schema_version`), parsed and
/// validated again.
pub fn parse_schema(app: AppId, version: u64, json: &str) -> Result<StoredSchema, StoreError> {
    // A stored schema passed validation when it was put; failing now means the
    // rules changed under it, which is worth a loud error rather than a guess.
    let doc = SchemaDoc::from_json(json)
        .map_err(|p| corrupt(format_args!("schema of app {app}: {p}")))?;
    let schema = Schema::from_doc(&doc).map_err(|problems| {
        let shown: Vec<String> = problems.iter().take(5).map(|p| p.to_string()).collect();
        corrupt(format_args!(
            "schema of app {app} no longer validates: {}",
            shown.join("; ")
        ))
    })?;
    Ok(StoredSchema {
        app,
        version,
        schema: Arc::new(schema),
    })
}

/// A schema as `apps.schema_json` stores it (what [`parse_schema`] reads).
pub fn schema_json(schema: &Schema) -> Result<String, StoreError> {
    serde_json::to_string(&schema.to_doc())
        .map_err(|e| StoreError::Backend(format!("encoding the schema: {e}")))
}

/// A stat kind as the databases store it (`kind` columns).
pub fn kind_code(kind: StatKind) -> i16 {
    match kind {
        StatKind::Int => KIND_INT,
        StatKind::Float => KIND_FLOAT,
        StatKind::AvgRate => KIND_AVGRATE,
    }
}

/// The kind of a stored value.
pub fn kind_of(value: &StatValue) -> StatKind {
    match value {
        StatValue::Int(_) => StatKind::Int,
        StatValue::Float(_) => StatKind::Float,
        StatValue::AvgRate { .. } => StatKind::AvgRate,
    }
}

/// Stat kinds in the `kind` columns (see [`kind_code`]).
pub const KIND_INT: i16 = 0;
pub const KIND_FLOAT: i16 = 1;
pub const KIND_AVGRATE: i16 = 2;

/// The value columns of a `stats` row: `kind` ([`kind_code`]) says which of
/// the others holds the value (`int_value`, `float_value`, or `avg_count` +
/// `avg_seconds`); the rest are NULL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatColumns {
    pub kind: i64,
    pub int_value: Option<i64>,
    /// An f32 value; SQLite keeps it in a double, exactly.
    pub float_value: Option<f32>,
    pub avg_count: Option<f64>,
    pub avg_seconds: Option<f64>,
}

impl StatColumns {
    /// The columns that store `value`.
    pub fn of(value: &StatValue) -> StatColumns {
        let mut columns = StatColumns {
            kind: i64::from(kind_code(kind_of(value))),
            int_value: None,
            float_value: None,
            avg_count: None,
            avg_seconds: None,
        };
        match *value {
            StatValue::Int(v) => columns.int_value = Some(i64::from(v)),
            StatValue::Float(v) => columns.float_value = Some(v),
            StatValue::AvgRate { count, seconds } => {
                columns.avg_count = Some(count);
                columns.avg_seconds = Some(seconds);
            }
        }
        columns
    }

    /// The value the columns of stat `name` hold.
    pub fn value(&self, name: &str) -> Result<StatValue, StoreError> {
        let bad = || corrupt(format_args!("stat {name:?} of kind {}", self.kind));
        match i16::try_from(self.kind) {
            Ok(KIND_INT) => {
                let v = self.int_value.ok_or_else(bad)?;
                i32::try_from(v).map(StatValue::Int).map_err(|_| bad())
            }
            Ok(KIND_FLOAT) => self.float_value.map(StatValue::Float).ok_or_else(bad),
            Ok(KIND_AVGRATE) => match (self.avg_count, self.avg_seconds) {
                (Some(count), Some(seconds)) => Ok(StatValue::AvgRate { count, seconds }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// One `stats` row as stored (`name`, then the [`StatColumns`]), before its
/// kind is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub name: String,
    pub columns: StatColumns,
}

impl StatRow {
    /// The value the row holds.
    pub fn value(&self) -> Result<StatValue, StoreError> {
        self.columns.value(&self.name)
    }
}

/// One `achievements` row as stored: `name, unlocked, unlock_time,
/// progress_current, progress_max`.
#[derive(Debug, Clone, PartialEq)]
pub struct AchievementRow {
    pub name: String,
    pub unlocked: bool,
    pub unlock_time: Option<i64>,
    pub current: Option<i64>,
    pub max: Option<i64>,
}

/// A user's stored progress at `version` from its `stats` and
/// `achievements` rows, as each driver reads them (a row read may fail).
pub fn progress_from_rows<E: From<StoreError>>(
    version: u64,
    stat_rows: impl IntoIterator<Item = Result<StatRow, E>>,
    achievement_rows: impl IntoIterator<Item = Result<AchievementRow, E>>,
) -> Result<UserProgress, E> {
    let mut stats = BTreeMap::new();
    for row in stat_rows {
        let row = row?;
        let value = row.value()?;
        stats.insert(name_from_sql(row.name)?, value);
    }
    let mut achievements = BTreeMap::new();
    for row in achievement_rows {
        let AchievementRow {
            name,
            unlocked,
            unlock_time,
            current,
            max,
        } = row?;
        let state = achievement_state(&name, unlocked, unlock_time, current, max)?;
        achievements.insert(name_from_sql(name)?, state);
    }
    Ok(UserProgress {
        version,
        stats,
        achievements,
    })
}

/// The `progress_current` and `progress_max` columns of an achievement's row.
pub fn progress_columns(state: &AchievementState) -> (Option<i64>, Option<i64>) {
    match state.progress {
        Some((current, max)) => (Some(i64::from(current)), Some(i64::from(max))),
        None => (None, None),
    }
}

/// An achievement's state from the columns of its row (`unlocked`,
/// `unlock_time`, `progress_current`, `progress_max`).
pub fn achievement_state(
    name: &str,
    unlocked: bool,
    unlock_time: Option<i64>,
    current: Option<i64>,
    max: Option<i64>,
) -> Result<AchievementState, StoreError> {
    let progress = match (current, max) {
        (Some(c), Some(m)) => match (u32::try_from(c), u32::try_from(m)) {
            (Ok(c), Ok(m)) => Some((c, m)),
            _ => return Err(corrupt(format_args!("progress of {name:?}"))),
        },
        _ => None,
    };
    Ok(AchievementState {
        unlocked,
        unlock_time,
        progress,
    })
}

/// The first answer to an idempotency key from its fingerprint and the
/// names it unlocked, as a JSON array of strings (the form SQLite stores and
/// PostgreSQL's `array_to_json` answers).
pub fn idempotency_record(
    fingerprint: String,
    unlocked_json: &str,
) -> Result<IdempotencyRecord, StoreError> {
    let names: Vec<String> = serde_json::from_str(unlocked_json)
        .map_err(|e| corrupt(format_args!("unlocked names {unlocked_json:?}: {e}")))?;
    IdempotencyRecord::from_stored(fingerprint, names)
}

/// What a store applied for the first time records under its key: the
/// row both backends write (each with its own SQL).
#[derive(Debug, Clone, Copy)]
pub struct NewKeyRecord<'a> {
    pub app: AppId,
    pub user: SteamId,
    pub key: &'a str,
    pub fingerprint: &'a str,
    /// The user's version after the store.
    pub version: u64,
    pub newly_unlocked: &'a [ApiName],
    pub created: i64,
}

impl NewKeyRecord<'_> {
    /// The version as a BIGINT.
    pub fn version_sql(&self) -> Result<i64, StoreError> {
        i64::try_from(self.version)
            .map_err(|_| corrupt(format_args!("user version {} overflows", self.version)))
    }

    /// The unlocked names as the JSON array [`idempotency_record`] reads.
    pub fn unlocked_json(&self) -> Result<String, StoreError> {
        let names: Vec<&str> = self.newly_unlocked.iter().map(ApiName::as_str).collect();
        serde_json::to_string(&names)
            .map_err(|e| StoreError::Backend(format!("encoding newly_unlocked: {e}")))
    }
}

/// The columns of an audit record, in the order of [`AuditRow`]'s fields.
pub const AUDIT_SELECT: &str = "SELECT id, at_ms, actor, address, action, app_id, \
     steam_id, detail, undone_by FROM audit_log";

/// An `audit_log` row as [`AUDIT_SELECT`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub app: Option<i64>,
    pub user: Option<i64>,
    /// JSON text.
    pub detail: String,
    pub undone_by: Option<i64>,
}

impl AuditRow {
    pub fn into_record(self) -> Result<AuditRecord, StoreError> {
        let id = self.id;
        Ok(AuditRecord {
            id,
            at_ms: self.at_ms,
            actor: self.actor,
            address: self.address,
            action: self.action,
            app: self.app.map(app_from_sql).transpose()?,
            user: self.user.map(user_from_sql).transpose()?,
            detail: serde_json::from_str(&self.detail)
                .map_err(|e| corrupt(format_args!("audit detail of {id}: {e}")))?,
            undone_by: self.undone_by,
        })
    }
}

/// The user of a `token_revocations` row: 0 stands for every user of the app.
pub fn revoked_user(value: i64) -> Result<Option<SteamId>, StoreError> {
    (value != 0).then(|| user_from_sql(value)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_values_read_back_from_their_columns() {
        let values = [
            StatValue::Int(-7),
            StatValue::Float(-0.0),
            StatValue::Float(0.1),
            StatValue::AvgRate {
                count: 1.0 / 3.0,
                seconds: 1e-300,
            },
        ];
        for value in values {
            let back = StatColumns::of(&value).value("S").expect("decodes");
            match (value, back) {
                (StatValue::Float(a), StatValue::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                (a, b) => assert_eq!(a, b),
            }
        }
        let mut wrong = StatColumns::of(&StatValue::Int(1));
        wrong.kind = 9;
        assert!(wrong.value("S").is_err());
    }

    #[test]
    fn achievement_progress_must_fit_u32() {
        assert!(achievement_state("A", true, Some(1), Some(-1), Some(3)).is_err());
        let state = achievement_state("A", false, None, Some(2), Some(3)).expect("fits");
        assert_eq!(progress_columns(&state), (Some(2), Some(3)));
    }

    #[test]
    fn steam_ids_round_trip_across_the_sign_bit() {
        for id in [1, i64::MAX as u64, u64::MAX] {
            let user = SteamId::new(id).expect("not 0");
            assert_eq!(user_from_sql(user_sql(user)).expect("decodes"), user);
        }
        assert!(user_from_sql(0).is_err());
        assert_eq!(revoked_user(0).expect("every user"), None);
    }
}
