//! The state's edge to the wire: a batch as a store request's body, and a
//! progress body from the server as the core's [`UserProgress`], read as
//! the server computes it.

use laurel_core::{
    AchievementState, BatchEntry, Schema, StatKind, StatValue, StoreBatch, UserProgress,
};
use laurel_wire::{ProgressBody, ProgressWrite, StatWrite, StoreRequestBody};

/// The request body of a batch.
pub(crate) fn body_of(batch: &StoreBatch) -> StoreRequestBody {
    let mut body = StoreRequestBody::default();
    for e in &batch.entries {
        match e {
            BatchEntry::SetStat { name, value } => body.stats.push(StatWrite {
                name: name.clone(),
                value: Some(*value),
                count: None,
                session_seconds: None,
            }),
            BatchEntry::UpdateAvgRate {
                name,
                count,
                session_seconds,
            } => body.stats.push(StatWrite {
                name: name.clone(),
                value: None,
                count: Some(*count),
                session_seconds: Some(*session_seconds),
            }),
            BatchEntry::UnlockAchievement { name } => body.unlock.push(name.clone()),
            BatchEntry::ClearAchievement { name } => body.clear.push(name.clone()),
            BatchEntry::IndicateProgress { name, current, max } => {
                body.progress.push(ProgressWrite {
                    name: name.clone(),
                    current: *current,
                    max: *max,
                })
            }
        }
    }
    body
}

/// A server snapshot in the core's terms. The wire carries an average-rate
/// stat as its rate only; it is modeled as that rate held over the whole
/// window (or as "no play yet" when it equals the default), which is what a
/// later local update is weighed against until the server answers.
pub(crate) fn progress_from_body(schema: &Schema, body: &ProgressBody) -> UserProgress {
    let mut p = UserProgress {
        version: body.version,
        ..UserProgress::default()
    };
    for s in &body.stats {
        let Some(def) = schema.stat(&s.name) else {
            continue;
        };
        let v = s.value.as_f64();
        let value = match def.kind {
            StatKind::Int => StatValue::Int(v.clamp(i32::MIN as f64, i32::MAX as f64) as i32),
            StatKind::Float => StatValue::Float(v as f32),
            StatKind::AvgRate => {
                let window = f64::from(def.window_seconds.unwrap_or(1));
                if v == def.default || !v.is_finite() {
                    StatValue::AvgRate {
                        count: 0.0,
                        seconds: 0.0,
                    }
                } else {
                    StatValue::AvgRate {
                        count: v * window,
                        seconds: window,
                    }
                }
            }
        };
        p.stats.insert(def.name.clone(), value);
    }
    for a in &body.achievements {
        let Some(def) = schema.achievement(&a.name) else {
            continue;
        };
        let shown = a.progress.map(|pp| (pp.current, pp.max));
        // For a stat-bound achievement the server fills in the stat's progress;
        // keep it only if it differs, i.e. if it was an indication.
        let indicated = match shown {
            Some(pair)
                if def.progress.is_some() && bound_progress(schema, def, &p) == Some(pair) =>
            {
                None
            }
            other => other,
        };
        if a.unlocked || indicated.is_some() {
            p.achievements.insert(
                def.name.clone(),
                AchievementState {
                    unlocked: a.unlocked,
                    unlock_time: if a.unlocked { a.unlock_time } else { None },
                    progress: indicated,
                },
            );
        }
    }
    p
}

/// The progress of a stat-bound achievement, computed as the server does.
pub(super) fn bound_progress(
    schema: &Schema,
    def: &laurel_core::AchievementDef,
    p: &UserProgress,
) -> Option<(u32, u32)> {
    let b = def.progress.as_ref()?;
    let stat = schema.stat(b.stat.as_str())?;
    let v = p.stat(stat).read(stat).clamp(0.0, b.max);
    Some((v as u32, b.max as u32))
}
