//! Pure conversions between what Lua code passes and what the SDK takes:
//! stat types, numbers, Steam ids, configuration values. No Lua, no I/O, so
//! the integration tests compile this file too (`#[path]`) and check it
//! directly.

use std::time::Duration;

use laurel_client::{AppId, StatKind, SteamId};

/// Longest request timeout a configuration may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The plugin's stat `type` strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatType {
    Int,
    Float,
    AverageRate,
}

impl StatType {
    pub fn parse(text: &str) -> Option<StatType> {
        match text {
            "int" => Some(StatType::Int),
            "float" => Some(StatType::Float),
            "averageRate" => Some(StatType::AverageRate),
            _ => None,
        }
    }

    pub fn kind(self) -> StatKind {
        match self {
            StatType::Int => StatKind::Int,
            StatType::Float => StatKind::Float,
            StatType::AverageRate => StatKind::AvgRate,
        }
    }

    /// The plugin's name for a schema type.
    pub fn name_of(kind: StatKind) -> &'static str {
        match kind {
            StatKind::Int => "int",
            StatKind::Float => "float",
            StatKind::AvgRate => "averageRate",
        }
    }
}

/// An `int` stat value: rounded (half away from zero), within i32.
pub fn int_value(value: f64) -> Result<i32, String> {
    if !value.is_finite() {
        return Err(format!("must be a finite number, got {value}"));
    }
    let rounded = value.round();
    if rounded < f64::from(i32::MIN) || rounded > f64::from(i32::MAX) {
        return Err(format!(
            "does not fit an int stat ({}..={}), got {value}",
            i32::MIN,
            i32::MAX
        ));
    }
    Ok(rounded as i32)
}

/// A `float` stat value (or an average-rate count): stored as f32, so it
/// must be finite and within f32's range.
pub fn float_value(value: f64) -> Result<f32, String> {
    if !value.is_finite() {
        return Err(format!("must be a finite number, got {value}"));
    }
    let narrowed = value as f32;
    if !narrowed.is_finite() {
        return Err(format!("does not fit a float stat (f32), got {value}"));
    }
    Ok(narrowed)
}

/// An average-rate session length (`sessionTimeLength`): finite and above zero.
pub fn session_length(value: f64) -> Result<f64, String> {
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("must be a number above 0, got {value}"));
    }
    Ok(value)
}

/// An achievement progress figure: rounded, within 0..=u32::MAX.
pub fn progress_value(value: f64) -> Result<u32, String> {
    if !value.is_finite() {
        return Err(format!("must be a finite number, got {value}"));
    }
    let rounded = value.round();
    if rounded < 0.0 || rounded > f64::from(u32::MAX) {
        return Err(format!("is out of range (0..={}), got {value}", u32::MAX));
    }
    Ok(rounded as u32)
}

/// A leaderboard score (`requestSetHighScore`'s `value`): rounded (half
/// away from zero), within i32.
pub fn score_value(value: f64) -> Result<i32, String> {
    if !value.is_finite() {
        return Err(format!("must be a finite number, got {value}"));
    }
    let rounded = value.round();
    if rounded < f64::from(i32::MIN) || rounded > f64::from(i32::MAX) {
        return Err(format!(
            "does not fit a leaderboard score ({}..={}), got {value:?}",
            i32::MIN,
            i32::MAX
        ));
    }
    Ok(rounded as i32)
}

/// A `startIndex`/`endIndex`: truncated toward zero, as the plugin's
/// `lua_tointeger`; finite and within i32.
pub fn board_index(value: f64) -> Result<i32, String> {
    if !value.is_finite() {
        return Err(format!("must be a finite number, got {value}"));
    }
    let t = value.trunc();
    if t < f64::from(i32::MIN) || t > f64::from(i32::MAX) {
        return Err(format!(
            "is out of range ({}..={}), got {value:?}",
            i32::MIN,
            i32::MAX
        ));
    }
    Ok(t as i32)
}

/// `requestLeaderboardEntries`' `playerScope`, matched in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerScope {
    Global,
    GlobalAroundUser,
    FriendsOnly,
}

impl PlayerScope {
    pub fn parse(text: &str) -> Option<PlayerScope> {
        [
            ("Global", PlayerScope::Global),
            ("GlobalAroundUser", PlayerScope::GlobalAroundUser),
            ("FriendsOnly", PlayerScope::FriendsOnly),
        ]
        .into_iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(text))
        .map(|(_, scope)| scope)
    }
}

/// The request of a scope and its optional range, with the plugin's
/// defaults (Global 1..25, GlobalAroundUser -12..12) and adjustments (a
/// Global start below 1 is 1; an end below the start is the start).
/// `None` for `FriendsOnly`, which has no range.
pub fn entries_range(
    scope: PlayerScope,
    range: Option<(i32, i32)>,
) -> Option<laurel_client::EntriesRequest> {
    use laurel_client::EntriesRequest;
    match scope {
        PlayerScope::FriendsOnly => None,
        PlayerScope::Global => {
            let (start, end) = range.unwrap_or((1, 25));
            let start = start.max(1);
            Some(EntriesRequest::Global {
                start,
                end: end.max(start),
            })
        }
        PlayerScope::GlobalAroundUser => {
            let (start, end) = range.unwrap_or((-12, 12));
            Some(EntriesRequest::GlobalAroundUser {
                start,
                end: end.max(start),
            })
        }
    }
}

/// A Steam id from Lua text (decimal digits only).
pub fn steam_id(text: &[u8]) -> Result<SteamId, String> {
    let text = std::str::from_utf8(text).map_err(|_| "is not a decimal Steam id".to_owned())?;
    text.parse::<SteamId>().map_err(|e| e.to_string())
}

/// An app id from Lua text or a number.
pub fn app_id_text(text: &str) -> Result<AppId, String> {
    text.trim().parse::<AppId>().map_err(|e| e.to_string())
}

pub fn app_id_number(value: f64) -> Result<AppId, String> {
    if value.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&value) {
        return Err(format!(
            "app id {value} is out of range (a whole number in 1..={})",
            u32::MAX
        ));
    }
    AppId::new(value as u32).map_err(|e| e.to_string())
}

/// A request timeout in seconds, as `init{ timeout = }` or `LAUREL_TIMEOUT` give it.
pub fn timeout_seconds(value: f64) -> Result<Duration, String> {
    if !value.is_finite() || value <= 0.0 || value > MAX_TIMEOUT.as_secs_f64() {
        return Err(format!(
            "timeout must be seconds in (0, {}], got {value}",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// The first line of an error (Lua errors carry a traceback after it).
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// At most `max` characters of hostile text, quoted, for a log message.
pub fn shown(bytes: &[u8], max: usize) -> String {
    laurel_core::shown(&String::from_utf8_lossy(bytes), max)
}
