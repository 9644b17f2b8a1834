//! `ISteamUserStats/SetUserStatsForGame`: a server key's write.

use axum::http::StatusCode;
use laurel_core::limits::MAX_BATCH_ENTRIES;
use laurel_core::{
    BatchEntry, EResult, Fingerprint, IdempotencyKey, Schema, StatKind, StoreBatch, WriteAuthority,
};
use laurel_store::{StoreError, StoreReply, StoreRequest};
use laurel_wire::IDEMPOTENCY_HEADER;

use crate::clock::unix_now;
use crate::state::AppState;
use crate::steam::format::{HtmlError, Node};
use crate::steam::method::{
    APPID_OF_GAME, Credential, KEY, STEAMID, SteamCall, SteamMethod, SteamResult, USER_STATS,
    param, schema_of,
};

/// Largest form body of `SetUserStatsForGame` (a full batch of
/// `MAX_BATCH_ENTRIES` name/value pairs with long names fits).
pub const MAX_STEAM_FORM_BYTES: usize = 512 * 1024;

pub(crate) const METHODS: &[SteamMethod] = &[SteamMethod {
    interface: USER_STATS,
    name: "SetUserStatsForGame",
    version: 1,
    http: "POST",
    body_limit: MAX_STEAM_FORM_BYTES,
    params: &[
        KEY,
        STEAMID,
        APPID_OF_GAME,
        param(
            "count",
            "uint32",
            false,
            "Number of stats and achievements to set a value for (name/value param pairs)",
        ),
        param(
            "name[0]",
            "string",
            false,
            "Name of stat or achievement to set",
        ),
        param("value[0]", "uint32", false, "Value to set"),
    ],
    answer: "/result/result",
    handler: |state, call| Box::pin(set_user_stats_for_game(state, call)),
}];

// ---- SetUserStatsForGame ----

/// `{"result":{"result":N,"error":…}}`: a refused `SetUserStatsForGame`.
fn set_refused(call: &SteamCall, result: EResult, error: String) -> SteamResult {
    let status = match result {
        EResult::AccessDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    Ok(call.format.respond(
        status,
        &Node::obj([(
            "result",
            Node::obj([
                ("result", Node::Int(i64::from(result.code()))),
                ("error", Node::Str(error)),
            ]),
        )]),
    ))
}

/// A decimal number as Steam's forms carry them: `-12`, `3.5`, `1e3`. Not
/// `NaN`, `inf`, hex, or anything else `f64::from_str` would also take.
fn decimal(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (digits, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = text.len() <= 64
        && all_digits(int)
        && frac.is_none_or(all_digits)
        && exponent.is_none_or(|e| all_digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    if !ok {
        return None;
    }
    text.parse::<f64>().ok()
}

/// The batch of a `SetUserStatsForGame`: a stat's name sets it, an
/// achievement's name with value 1 unlocks it (0 locks it again). Every
/// problem is reported, not only the first.
fn steam_batch(
    schema: &Schema,
    names: &[String],
    values: &[String],
) -> Result<StoreBatch, Vec<String>> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (i, (name, text)) in names.iter().zip(values).enumerate() {
        let shown: String = name.chars().take(128).collect();
        let Some(value) = decimal(text) else {
            let t: String = text.chars().take(40).collect();
            problems.push(format!("value[{i}] {t:?} is not a decimal number"));
            continue;
        };
        if !value.is_finite() {
            problems.push(format!("value[{i}] is not a finite number"));
            continue;
        }
        match (schema.stat(name), schema.achievement(name)) {
            (Some(_), Some(_)) => problems.push(format!(
                "name[{i}] {shown:?} is both a stat and an achievement"
            )),
            (Some(def), None) if def.kind == StatKind::AvgRate => problems.push(format!(
                "name[{i}] {shown:?} is an avgrate stat, which SetUserStatsForGame cannot set"
            )),
            (Some(_), None) => entries.push(BatchEntry::SetStat {
                name: name.clone(),
                value,
            }),
            (None, Some(_)) if value == 1.0 => {
                entries.push(BatchEntry::UnlockAchievement { name: name.clone() })
            }
            (None, Some(_)) if value == 0.0 => {
                entries.push(BatchEntry::ClearAchievement { name: name.clone() })
            }
            (None, Some(_)) => problems.push(format!(
                "value[{i}] of achievement {shown:?} must be 1 (unlock) or 0 (lock), not {text}"
            )),
            (None, None) => problems.push(format!(
                "name[{i}] {shown:?} is no stat or achievement of this app"
            )),
        }
    }
    if problems.is_empty() {
        Ok(StoreBatch { entries })
    } else {
        Err(problems)
    }
}

/// The idempotency key of a `SetUserStatsForGame`: the caller's
/// `Idempotency-Key` header if it sent one (a retry with it is answered
/// from the first outcome), else a fresh random key, so that every call is
/// applied (the values it sets are absolute, so a repeated call ends in the
/// same state, as on Steam).
fn idempotency_key(call: &SteamCall) -> Result<IdempotencyKey, HtmlError> {
    const NAMESPACE: &str = "steam:";
    if let Some(value) = call.headers.get(IDEMPOTENCY_HEADER) {
        return IdempotencyKey::namespaced(NAMESPACE, value.as_bytes())
            .map_err(|e| HtmlError::BadRequest(format!("Header '{IDEMPOTENCY_HEADER}': {e}")));
    }
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|_| HtmlError::Internal)?;
    IdempotencyKey::namespaced(NAMESPACE, hex::encode(random).as_bytes())
        .map_err(|_| HtmlError::Internal)
}

async fn set_user_stats_for_game(state: &AppState, call: &SteamCall) -> SteamResult {
    let user = call.params.steam_id()?;
    let app = call.params.app_id("appid")?;
    match &call.credential {
        Credential::Server(k) if k.app == app => {}
        Credential::None => return Err(HtmlError::key_missing()),
        // A user token, or a key of another app.
        _ => return Err(HtmlError::Forbidden),
    }
    let count = call.params.required_u32("count")?;
    if count as usize > MAX_BATCH_ENTRIES {
        return set_refused(
            call,
            EResult::LimitExceeded,
            format!("count is {count}; the limit is {MAX_BATCH_ENTRIES}"),
        );
    }
    if count == 0 {
        return set_refused(
            call,
            EResult::InvalidParam,
            "count must be at least 1".into(),
        );
    }
    let (names, values) = match (call.indexed("name", count), call.indexed("value", count)) {
        (Ok(n), Ok(v)) => (n, v),
        (Err(e), _) | (_, Err(e)) => return set_refused(call, EResult::InvalidParam, e),
    };
    let Some(stored) = schema_of(state, app).await? else {
        return Err(HtmlError::Forbidden);
    };
    let batch = match steam_batch(&stored.schema, &names, &values) {
        Ok(b) => b,
        Err(problems) => {
            return set_refused(
                call,
                EResult::InvalidParam,
                format!("nothing was set: {}", problems.join("; ")),
            );
        }
    };
    let request = StoreRequest {
        app,
        user,
        batch,
        authority: WriteAuthority::Server,
        idempotency_key: idempotency_key(call)?,
        fingerprint: Fingerprint::of_steam_set(app, user, &names, &values),
        now: unix_now(),
    };
    match state.store().store(request).await {
        Ok(StoreReply::Applied { progress, .. }) => {
            // The same path as the client API's stores: the user plays, and
            // the snapshot of their progress is current.
            let _ = crate::progress::after_store(state, app, user, &stored, &progress);
            call.ok(&Node::obj([(
                "result",
                Node::obj([("result", Node::Int(i64::from(EResult::Ok.code())))]),
            )]))
        }
        Ok(StoreReply::Refused(refusal)) => {
            let problems: Vec<String> = refusal
                .problems
                .iter()
                .map(|p| format!("name[{}] {:?}: {}", p.index, p.name, p.problem))
                .collect();
            set_refused(
                call,
                refusal.result,
                format!("nothing was set: {}", problems.join("; ")),
            )
        }
        Err(StoreError::IdempotencyConflict { .. }) => set_refused(
            call,
            EResult::DuplicateRequest,
            format!("{IDEMPOTENCY_HEADER} was already used for a different request"),
        ),
        Err(StoreError::UnknownApp(_)) => Err(HtmlError::Forbidden),
        Err(e) => Err(HtmlError::from_store(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_strict() {
        for (text, want) in [
            ("1", Some(1.0)),
            ("-12", Some(-12.0)),
            ("3.5", Some(3.5)),
            ("1e3", Some(1000.0)),
            ("2E-1", Some(0.2)),
        ] {
            assert_eq!(decimal(text), want, "{text}");
        }
        for bad in [
            "", "-", "NaN", "nan", "inf", "-inf", "infinity", "0x10", "1.", ".5", "1e", "+1", "1 ",
            "١",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        // Parses, but is not finite: refused by the caller.
        assert_eq!(decimal("1e400"), Some(f64::INFINITY));
    }
}
