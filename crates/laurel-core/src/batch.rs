//! Store batches: one atomic write of stats and achievements, validated as a
//! whole against the schema and the user's current values.

use std::collections::HashSet;
use std::fmt;

use crate::UnixTime;
use crate::avgrate;
use crate::eresult::EResult;
use crate::limits::MAX_BATCH_ENTRIES;
use crate::name::ApiName;
use crate::progress::{AchievementState, StatValue, UserProgress};
use crate::schema::{Schema, SetBy, StatKind};

/// One change a game asks for. Names are unvalidated text here, so that an
/// unknown or malformed name is reported against its entry.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchEntry {
    /// New value of an `int` or `float` stat.
    SetStat {
        name: String,
        value: f64,
    },
    /// One session's contribution to an `avgrate` stat.
    UpdateAvgRate {
        name: String,
        count: f64,
        session_seconds: f64,
    },
    UnlockAchievement {
        name: String,
    },
    ClearAchievement {
        name: String,
    },
    /// Progress shown to the player; unlocks when `current >= max`.
    IndicateProgress {
        name: String,
        current: u32,
        max: u32,
    },
}

impl BatchEntry {
    pub fn name(&self) -> &str {
        match self {
            BatchEntry::SetStat { name, .. }
            | BatchEntry::UpdateAvgRate { name, .. }
            | BatchEntry::UnlockAchievement { name }
            | BatchEntry::ClearAchievement { name }
            | BatchEntry::IndicateProgress { name, .. } => name,
        }
    }
    fn is_stat(&self) -> bool {
        matches!(
            self,
            BatchEntry::SetStat { .. } | BatchEntry::UpdateAvgRate { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreBatch {
    pub entries: Vec<BatchEntry>,
}

/// Whose credentials carry the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAuthority {
    /// A user token: only `set_by: client` stats; clears only where the app allows them.
    User,
    /// A server/publisher key: everything.
    Server,
}

/// Whether the schema's value constraints (`min`, `max`, `max_change`,
/// `increment_only`) are checked. The server always enforces them; the SDK
/// defers them to the server, as Steam's client does: a `SetStat` of a known
/// stat with the right type and a finite value is taken, and the store is
/// what the server refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraints {
    Enforced,
    Deferred,
}

/// Why one entry was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    TooManyEntries { count: usize },
    UnknownStat,
    UnknownAchievement,
    WrongType { kind: StatKind },
    NotFinite,
    NotIntegral,
    OutOfRange { kind: StatKind },
    BelowMin { value: f64, min: f64 },
    AboveMax { value: f64, max: f64 },
    ChangeTooLarge { change: f64, max_change: f64 },
    DecreaseOfIncrementOnly { from: f64, to: f64 },
    ServerOnlyStat,
    ClearNotAllowed,
    InvalidSessionLength,
    InvalidProgress,
    DuplicateEntry,
}

impl Problem {
    /// A stable machine-readable code for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::TooManyEntries { .. } => "too_many_entries",
            Problem::UnknownStat => "unknown_stat",
            Problem::UnknownAchievement => "unknown_achievement",
            Problem::WrongType { .. } => "wrong_type",
            Problem::NotFinite => "not_finite",
            Problem::NotIntegral => "not_integral",
            Problem::OutOfRange { .. } => "out_of_range",
            Problem::BelowMin { .. } => "below_min",
            Problem::AboveMax { .. } => "above_max",
            Problem::ChangeTooLarge { .. } => "change_too_large",
            Problem::DecreaseOfIncrementOnly { .. } => "decrease_of_increment_only",
            Problem::ServerOnlyStat => "server_only_stat",
            Problem::ClearNotAllowed => "clear_not_allowed",
            Problem::InvalidSessionLength => "invalid_session_length",
            Problem::InvalidProgress => "invalid_progress",
            Problem::DuplicateEntry => "duplicate_entry",
        }
    }

    /// A value constraint of the schema (what [`Constraints::Deferred`] skips).
    pub fn is_constraint(&self) -> bool {
        matches!(
            self,
            Problem::BelowMin { .. }
                | Problem::AboveMax { .. }
                | Problem::ChangeTooLarge { .. }
                | Problem::DecreaseOfIncrementOnly { .. }
        )
    }

    pub fn result(&self) -> EResult {
        match self {
            Problem::ServerOnlyStat | Problem::ClearNotAllowed => EResult::AccessDenied,
            Problem::TooManyEntries { .. } => EResult::LimitExceeded,
            _ => EResult::InvalidParam,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooManyEntries { count } => write!(
                f,
                "batch has {count} entries; the limit is {MAX_BATCH_ENTRIES}"
            ),
            Problem::UnknownStat => f.write_str("no stat of that name in the schema"),
            Problem::UnknownAchievement => f.write_str("no achievement of that name in the schema"),
            Problem::WrongType { kind } => {
                write!(f, "the stat is {kind}; this entry does not fit it")
            }
            Problem::NotFinite => f.write_str("value is not a finite number"),
            Problem::NotIntegral => f.write_str("value is not an integer, and the stat is int"),
            Problem::OutOfRange { kind } => write!(f, "value does not fit a {kind} stat"),
            Problem::BelowMin { value, min } => write!(f, "value {value} is below min {min}"),
            Problem::AboveMax { value, max } => write!(f, "value {value} is above max {max}"),
            Problem::ChangeTooLarge { change, max_change } => {
                write!(f, "change of {change} is above max_change {max_change}")
            }
            Problem::DecreaseOfIncrementOnly { from, to } => {
                write!(f, "stat is increment-only; {from} -> {to} decreases it")
            }
            Problem::ServerOnlyStat => {
                f.write_str("stat is set_by server; a user token may not write it")
            }
            Problem::ClearNotAllowed => {
                f.write_str("this app does not let user tokens clear achievements")
            }
            Problem::InvalidSessionLength => {
                f.write_str("session_seconds must be a finite number above 0")
            }
            Problem::InvalidProgress => f.write_str("progress max must be at least 1"),
            Problem::DuplicateEntry => {
                f.write_str("the batch names this stat or achievement twice")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryProblem {
    /// Position of the entry in the batch.
    pub index: usize,
    pub name: String,
    pub problem: Problem,
}

/// A refused batch: nothing of it may be applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub result: EResult,
    pub problems: Vec<EntryProblem>,
}

impl Refusal {
    fn from_problems(problems: Vec<EntryProblem>) -> Refusal {
        // Access problems outrank parameter problems: a forbidden write is reported as such.
        let result = [EResult::AccessDenied, EResult::LimitExceeded]
            .into_iter()
            .find(|r| problems.iter().any(|p| p.problem.result() == *r))
            .unwrap_or(EResult::InvalidParam);
        Refusal { result, problems }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store refused ({}): ", self.result)?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "entry {} {:?}: {}", p.index, p.name, p.problem)?;
        }
        Ok(())
    }
}

/// An accepted batch: the new progress and what changed, for the store to write.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOutcome {
    pub progress: UserProgress,
    pub changed_stats: Vec<ApiName>,
    pub changed_achievements: Vec<ApiName>,
    pub newly_unlocked: Vec<ApiName>,
    pub newly_locked: Vec<ApiName>,
}

fn unlock(state: &mut AchievementState, now: UnixTime) -> bool {
    if state.unlocked {
        return false;
    }
    state.unlocked = true;
    state.unlock_time = Some(now);
    true
}

/// Validates `batch` against `schema` and `current`; returns the new progress,
/// or every problem found. Pure: the caller decides whether to persist.
pub fn apply_batch(
    schema: &Schema,
    current: &UserProgress,
    batch: &StoreBatch,
    authority: WriteAuthority,
    now: UnixTime,
) -> Result<StoreOutcome, Refusal> {
    apply_batch_with(
        schema,
        current,
        batch,
        authority,
        now,
        Constraints::Enforced,
    )
}

/// [`apply_batch`], with the value constraints enforced or deferred.
pub fn apply_batch_with(
    schema: &Schema,
    current: &UserProgress,
    batch: &StoreBatch,
    authority: WriteAuthority,
    now: UnixTime,
    constraints: Constraints,
) -> Result<StoreOutcome, Refusal> {
    if batch.entries.len() > MAX_BATCH_ENTRIES {
        return Err(Refusal::from_problems(vec![EntryProblem {
            index: MAX_BATCH_ENTRIES,
            name: String::new(),
            problem: Problem::TooManyEntries {
                count: batch.entries.len(),
            },
        }]));
    }
    let mut next = current.clone();
    next.version = current.version + 1;
    let mut problems = Vec::new();
    let mut seen_stats = HashSet::new();
    let mut seen_achievements = HashSet::new();
    let mut changed_stats = Vec::new();
    let mut touched = Vec::new();
    let mut newly_unlocked = Vec::new();
    let mut newly_locked = Vec::new();

    for (index, entry) in batch.entries.iter().enumerate() {
        let name = entry.name();
        let fresh = if entry.is_stat() {
            seen_stats.insert(name)
        } else {
            seen_achievements.insert(name)
        };
        let result = if !fresh {
            Err(Problem::DuplicateEntry)
        } else {
            apply_entry(
                schema,
                current,
                &mut next,
                entry,
                authority,
                now,
                constraints,
            )
        };
        match result {
            Err(problem) => problems.push(EntryProblem {
                index,
                name: name.chars().take(crate::limits::MAX_NAME_BYTES).collect(),
                problem,
            }),
            Ok(Applied::Stat(n)) => changed_stats.push(n),
            Ok(Applied::Achievement {
                name,
                unlocked,
                locked,
            }) => {
                if unlocked {
                    newly_unlocked.push(name.clone());
                }
                if locked {
                    newly_locked.push(name.clone());
                }
                touched.push(name);
            }
        }
    }
    if !problems.is_empty() {
        return Err(Refusal::from_problems(problems));
    }

    // Achievements bound to a changed stat unlock when the stat reaches their max.
    for stat in &changed_stats {
        let Some(def) = schema.stat(stat.as_str()) else {
            continue;
        };
        let value = next.stat(def).read(def);
        for ach in schema.achievements_bound_to(stat.as_str()) {
            let Some(binding) = &ach.progress else {
                continue;
            };
            if value >= binding.max {
                let state = next.achievements.entry(ach.name.clone()).or_default();
                if unlock(state, now) {
                    newly_unlocked.push(ach.name.clone());
                    touched.push(ach.name.clone());
                }
            }
        }
    }
    touched.sort();
    touched.dedup();
    Ok(StoreOutcome {
        progress: next,
        changed_stats,
        changed_achievements: touched,
        newly_unlocked,
        newly_locked,
    })
}

enum Applied {
    Stat(ApiName),
    Achievement {
        name: ApiName,
        unlocked: bool,
        locked: bool,
    },
}

fn apply_entry(
    schema: &Schema,
    current: &UserProgress,
    next: &mut UserProgress,
    entry: &BatchEntry,
    authority: WriteAuthority,
    now: UnixTime,
    constraints: Constraints,
) -> Result<Applied, Problem> {
    let enforced = constraints == Constraints::Enforced;
    match entry {
        BatchEntry::SetStat { name, value }
        | BatchEntry::UpdateAvgRate {
            name, count: value, ..
        } => {
            let def = schema.stat(name).ok_or(Problem::UnknownStat)?;
            if def.set_by == SetBy::Server && authority == WriteAuthority::User {
                return Err(Problem::ServerOnlyStat);
            }
            let old = current.stat(def);
            let new = match (entry, def.kind) {
                (BatchEntry::SetStat { .. }, StatKind::Int) => {
                    if !value.is_finite() {
                        return Err(Problem::NotFinite);
                    }
                    if value.fract() != 0.0 {
                        return Err(Problem::NotIntegral);
                    }
                    if *value < i32::MIN as f64 || *value > i32::MAX as f64 {
                        return Err(Problem::OutOfRange { kind: def.kind });
                    }
                    StatValue::Int(*value as i32)
                }
                (BatchEntry::SetStat { .. }, StatKind::Float) => {
                    if !value.is_finite() {
                        return Err(Problem::NotFinite);
                    }
                    if value.abs() > f32::MAX as f64 {
                        return Err(Problem::OutOfRange { kind: def.kind });
                    }
                    StatValue::Float(*value as f32)
                }
                (
                    BatchEntry::UpdateAvgRate {
                        count,
                        session_seconds,
                        ..
                    },
                    StatKind::AvgRate,
                ) => {
                    if !count.is_finite() || count.abs() > f32::MAX as f64 {
                        return Err(Problem::NotFinite);
                    }
                    if !session_seconds.is_finite() || *session_seconds <= 0.0 {
                        return Err(Problem::InvalidSessionLength);
                    }
                    if enforced && def.increment_only && *count < 0.0 {
                        return Err(Problem::DecreaseOfIncrementOnly {
                            from: old.read(def),
                            to: old.read(def) + count,
                        });
                    }
                    let StatValue::AvgRate {
                        count: c,
                        seconds: s,
                    } = old
                    else {
                        return Err(Problem::WrongType { kind: def.kind });
                    };
                    let window = def.window_seconds.unwrap_or(1) as f64;
                    let (c, s) = avgrate::update(c, s, *count, *session_seconds, window);
                    StatValue::AvgRate {
                        count: c,
                        seconds: s,
                    }
                }
                _ => return Err(Problem::WrongType { kind: def.kind }),
            };
            // One rule for every kind: what is stored, and what is read from
            // it (an average rate's quotient), is finite and fits its type.
            if !new.is_finite_within_type(def) {
                return Err(Problem::NotFinite);
            }
            let (from, to) = (old.read(def), new.read(def));
            if let Some(min) = def.min
                && enforced
                && to < min
            {
                return Err(Problem::BelowMin { value: to, min });
            }
            if let Some(max) = def.max
                && enforced
                && to > max
            {
                return Err(Problem::AboveMax { value: to, max });
            }
            if enforced && def.increment_only && def.kind != StatKind::AvgRate && to < from {
                return Err(Problem::DecreaseOfIncrementOnly { from, to });
            }
            if let Some(max_change) = def.max_change
                && enforced
                && (to - from).abs() > max_change
            {
                return Err(Problem::ChangeTooLarge {
                    change: (to - from).abs(),
                    max_change,
                });
            }
            next.stats.insert(def.name.clone(), new);
            Ok(Applied::Stat(def.name.clone()))
        }
        BatchEntry::UnlockAchievement { name } => {
            let def = schema
                .achievement(name)
                .ok_or(Problem::UnknownAchievement)?;
            let state = next.achievements.entry(def.name.clone()).or_default();
            Ok(Applied::Achievement {
                name: def.name.clone(),
                unlocked: unlock(state, now),
                locked: false,
            })
        }
        BatchEntry::ClearAchievement { name } => {
            let def = schema
                .achievement(name)
                .ok_or(Problem::UnknownAchievement)?;
            if authority == WriteAuthority::User && !schema.settings().allow_achievement_clear {
                return Err(Problem::ClearNotAllowed);
            }
            let was = next.achievements.remove(def.name.as_str());
            Ok(Applied::Achievement {
                name: def.name.clone(),
                unlocked: false,
                locked: was.is_some_and(|a| a.unlocked),
            })
        }
        BatchEntry::IndicateProgress { name, current, max } => {
            let def = schema
                .achievement(name)
                .ok_or(Problem::UnknownAchievement)?;
            if *max == 0 {
                return Err(Problem::InvalidProgress);
            }
            let state = next.achievements.entry(def.name.clone()).or_default();
            state.progress = Some((*current, *max));
            let unlocked = current >= max && unlock(state, now);
            Ok(Applied::Achievement {
                name: def.name.clone(),
                unlocked,
                locked: false,
            })
        }
    }
}

#[cfg(test)]
mod tests;
