//! The game's client API: sessions, the schema, a user's progress and
//! profile, resets, and the global figures.

use axum::extract::State;
use axum::http::StatusCode;
use bytes::{BufMut, Bytes, BytesMut};
use laurel_core::limits::MAX_BATCH_ENTRIES;
use laurel_core::{AppId, EResult, EntryProblem, Problem, Refusal, SteamId, WriteAuthority};
use laurel_store::{GlobalStatsQuery, StatTotal, StoreReply, StoreRequest, StoredSchema};
use laurel_wire::{
    ErrorBody, ErrorDetail, GlobalAchievementBody, GlobalAchievementsResponse, GlobalStatBody,
    GlobalStatDay, GlobalStatsResponse, MAX_GLOBAL_STAT_HISTORY_DAYS, ProfileBody, ProfileRequest,
    SchemaResponse, SessionRequest, SessionResponse, StatNumber, StoreRequestBody,
};

use super::{ApiResult, ResetAuthority, actor, ok_json, reset_and_answer};
use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::{ApiError, json_raw};
use crate::extract::{AppPath, IdempotencyKey, Origin, RawBody, UserPath};
use crate::progress::{after_store, existing_schema, progress_snapshot};
use crate::state::AppState;
use laurel_store::audit::{AuditDraft, action};

pub async fn create_session(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    body: RawBody,
) -> ApiResult {
    let request: SessionRequest = body.json()?;
    let app =
        AppId::new(request.app_id).map_err(|e| ApiError::invalid(format!("bad app_id: {e}")))?;
    let user: SteamId = request
        .steam_id
        .parse()
        .map_err(|e| ApiError::invalid(format!("bad steam_id: {e}")).about(app, None))?;
    let about = |e: ApiError| e.about(app, Some(user));
    // Dev mode issues tokens for the demo app to anyone and ignores whatever
    // credential a client sends (they are minted by "key 0"); every other
    // app needs its server key, which the token names.
    let mut key_id = 0;
    if !state.dev_app(app) {
        match caller.map_err(about)? {
            Caller::Server(key) if key.app == app => key_id = key.id,
            Caller::Server(key) => {
                return Err(about(ApiError::access_denied(format!(
                    "server key is for app {}, not app {app}",
                    key.app
                ))));
            }
            Caller::User(_) => {
                return Err(about(ApiError::access_denied(
                    "a user token cannot start sessions; use the app's server key",
                )));
            }
            Caller::Anonymous => {
                return Err(about(ApiError::not_logged_on(
                    "starting a session needs `Authorization: Bearer <server key of the app>`",
                )));
            }
        }
    }
    existing_schema(&state, app).await.map_err(about)?;
    if let Some(name) = request.display_name {
        let name = checked_display_name(name).map_err(about)?;
        state
            .store()
            .set_display_name(app, user, Some(name))
            .await
            .map_err(|e| about(e.into()))?;
    }
    let ttl = i64::try_from(state.token_ttl().as_secs()).unwrap_or(i64::MAX);
    let (token, claims) = state
        .tokens()
        .mint(app, user, key_id, ttl, laurel_store::unix_now_ms());
    ok_json(&SessionResponse {
        result: EResult::Ok.code(),
        token,
        app_id: app.get(),
        steam_id: user.to_string(),
        expires_at: claims.expires_at,
    })
}

pub async fn get_schema(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(app): AppPath,
) -> ApiResult {
    caller.require_app(app, state.dev_app(app))?;
    let schema = existing_schema(&state, app).await?;
    ok_json(&SchemaResponse {
        result: EResult::Ok.code(),
        app_id: app.get(),
        version: schema.version,
        schema: schema.schema.to_doc(),
    })
}

/// The app's schema, if `caller` may read `user`'s `what` there: their own
/// token, a server key of the app, or another user's token where the app
/// makes progress public.
async fn readable_user(
    state: &AppState,
    caller: &Caller,
    app: AppId,
    user: SteamId,
    what: &str,
) -> Result<StoredSchema, ApiError> {
    caller.require_app(app, false)?;
    let schema = existing_schema(state, app).await?;
    if let Caller::User(claims) = caller
        && claims.user != user
        && !schema.schema.settings().public_progress
    {
        return Err(ApiError::access_denied(format!(
            "app {app} does not let users read other users' {what}"
        )));
    }
    Ok(schema)
}

/// The hot path: for a cached user, an HMAC check, two hash lookups and a
/// reference-counted copy of the already-serialized answer.
pub async fn get_progress(
    State(state): State<AppState>,
    caller: Caller,
    UserPath(app, user): UserPath,
) -> ApiResult {
    let schema = readable_user(&state, &caller, app, user, "progress").await?;
    if let Caller::User(claims) = &caller
        && claims.user == user
    {
        // The user's own client fetched its progress: the user is playing.
        state.players().touch(app, user, std::time::Instant::now());
    }
    if let Some(json) = state
        .progress_cache()
        .and_then(|c| c.get(app, user, schema.version))
    {
        return Ok(json_raw(StatusCode::OK, json));
    }
    let progress = state.store().progress(app, user).await?;
    let json = progress_snapshot(&state, app, user, &schema, &progress)?;
    Ok(json_raw(StatusCode::OK, json))
}

/// A user's profile: their own token, a server key of the app, or another
/// user's token where the app makes progress public (the same rule as
/// reading progress).
pub async fn get_profile(
    State(state): State<AppState>,
    caller: Caller,
    UserPath(app, user): UserPath,
) -> ApiResult {
    readable_user(&state, &caller, app, user, "profiles").await?;
    let name = state.store().display_name(app, user).await?;
    ok_json(&ProfileBody::new(app, user, name))
}

/// Sets (or with `null` removes) a user's display name: a server key of the
/// app for any user, or the user's own token where the app allows it.
pub async fn put_profile(
    State(state): State<AppState>,
    caller: Caller,
    UserPath(app, user): UserPath,
    raw: RawBody,
) -> ApiResult {
    caller.require_owner_or_server(app, user)?;
    let schema = existing_schema(&state, app).await?;
    if matches!(caller, Caller::User(_)) && !schema.schema.settings().allow_user_display_name {
        return Err(ApiError::access_denied(format!(
            "app {app} does not let users set their own display name \
             (allow_user_display_name); the game's backend sets it with a server key"
        )));
    }
    let request: ProfileRequest = raw.json()?;
    let name = request.display_name.map(checked_display_name).transpose()?;
    state
        .store()
        .set_display_name(app, user, name.clone())
        .await?;
    ok_json(&ProfileBody::new(app, user, name))
}

fn checked_display_name(name: String) -> Result<String, ApiError> {
    match laurel_core::check_display_name(&name) {
        Ok(_) => Ok(name),
        Err(why) => Err(ApiError::invalid(format!("display_name: {why}"))),
    }
}

pub async fn store_progress(
    State(state): State<AppState>,
    caller: Caller,
    UserPath(app, user): UserPath,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    raw: RawBody,
) -> ApiResult {
    caller.require_owner_or_server(app, user)?;
    let body: StoreRequestBody = raw.json()?;
    let count = body.entry_count();
    if count > MAX_BATCH_ENTRIES {
        // The core refuses this too; answering here spares the database the trip.
        let refusal = Refusal {
            result: EResult::LimitExceeded,
            problems: vec![EntryProblem {
                index: MAX_BATCH_ENTRIES,
                name: String::new(),
                problem: Problem::TooManyEntries { count },
            }],
        };
        return Err(ApiError::from_body(ErrorBody::from_refusal(
            &refusal, &body,
        )));
    }
    let batch = body.to_batch().map_err(ApiError::from_body)?;
    let schema = existing_schema(&state, app).await?;
    let authority = match caller {
        Caller::Server(_) => WriteAuthority::Server,
        _ => WriteAuthority::User,
    };
    let reply = state
        .store()
        .store(StoreRequest {
            app,
            user,
            batch,
            authority,
            idempotency_key,
            fingerprint: laurel_core::Fingerprint::of_body(app, user, &raw.0),
            now: unix_now(),
        })
        .await?;
    match reply {
        StoreReply::Refused(refusal) => Err(ApiError::from_body(ErrorBody::from_refusal(
            &refusal, &body,
        ))),
        StoreReply::Applied {
            progress,
            newly_unlocked,
            replayed,
        } => {
            let progress_json = after_store(&state, app, user, &schema, &progress)?;
            let newly_unlocked: Vec<&str> = newly_unlocked.iter().map(|n| n.as_str()).collect();
            Ok(json_raw(
                StatusCode::OK,
                store_response_json(replayed, &newly_unlocked, &progress_json)?,
            ))
        }
    }
}

/// A `StoreResponse` around progress JSON that is already serialized (it is
/// also the cache's snapshot), so the progress is serialized once.
fn store_response_json(
    replayed: bool,
    newly_unlocked: &[&str],
    progress_json: &[u8],
) -> Result<Bytes, ApiError> {
    let unlocked = serde_json::to_vec(newly_unlocked)
        .map_err(|e| ApiError::new(EResult::Fail, format!("could not serialize answer: {e}")))?;
    let mut out = BytesMut::with_capacity(progress_json.len() + unlocked.len() + 64);
    out.put_slice(
        format!(
            r#"{{"result":{},"replayed":{replayed},"newly_unlocked":"#,
            EResult::Ok.code()
        )
        .as_bytes(),
    );
    out.put_slice(&unlocked);
    out.put_slice(br#","progress":"#);
    out.put_slice(progress_json);
    out.put_u8(b'}');
    Ok(out.freeze())
}

pub async fn reset_progress(
    State(state): State<AppState>,
    caller: Caller,
    Origin(address): Origin,
    UserPath(app, user): UserPath,
    raw: RawBody,
) -> ApiResult {
    caller.require_owner_or_server(app, user)?;
    let authority = match caller {
        Caller::Server(_) => ResetAuthority::Full,
        _ => ResetAuthority::User,
    };
    let audit = AuditDraft::new(actor(Some(&caller)), address, action::RESET);
    reset_and_answer(&state, app, user, &raw, authority, audit).await
}

pub async fn global_achievements(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(app): AppPath,
) -> ApiResult {
    caller.require_app(app, state.dev_app(app))?;
    let schema = existing_schema(&state, app).await?;
    let global = state.store().global_achievements(app).await?;
    let achievements = schema
        .schema
        .achievements()
        .iter()
        .map(|a| {
            let unlocked = global.unlocked.get(a.name.as_str()).copied().unwrap_or(0);
            GlobalAchievementBody {
                name: a.name.to_string(),
                unlocked,
                percent: percent(unlocked, global.users),
            }
        })
        .collect();
    ok_json(&GlobalAchievementsResponse {
        result: EResult::Ok.code(),
        app_id: app.get(),
        users: global.users,
        achievements,
    })
}

/// `GET /api/v1/apps/{app_id}/global/stats?name=A&name=B&days=N`: totals of
/// the aggregated stats named (all of them without `name`), with the last
/// `days` UTC days of history (today included), oldest first.
pub async fn global_stats(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(app): AppPath,
    query: axum::extract::RawQuery,
) -> ApiResult {
    caller.require_app(app, state.dev_app(app))?;
    let mut names: Vec<String> = Vec::new();
    let mut days: Option<u32> = None;
    for (k, v) in form_urlencoded::parse(query.0.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "name" => {
                if names.len() >= laurel_core::limits::MAX_STATS_PER_APP {
                    return Err(ApiError::invalid(format!(
                        "more than {} names",
                        laurel_core::limits::MAX_STATS_PER_APP
                    )));
                }
                names.push(v.into_owned());
            }
            "days" if days.is_none() => {
                let n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| {
                        *n <= MAX_GLOBAL_STAT_HISTORY_DAYS && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .ok_or_else(|| {
                        let shown: String = v.chars().take(20).collect();
                        ApiError::invalid(format!(
                            "days must be 0..={MAX_GLOBAL_STAT_HISTORY_DAYS}, not {shown:?}"
                        ))
                    })?;
                days = Some(n);
            }
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(ApiError::invalid(format!(
                    "unknown or repeated query parameter {shown:?} (use name=… and days=…)"
                )));
            }
        }
    }
    let schema = existing_schema(&state, app).await?;
    let problems: Vec<ErrorDetail> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !schema.schema.stat(n).is_some_and(|d| d.aggregated))
        .map(|(i, n)| ErrorDetail {
            location: format!("name[{i}]"),
            name: Some(
                n.chars()
                    .take(laurel_core::limits::MAX_NAME_BYTES)
                    .collect(),
            ),
            rule: Some("not_aggregated".into()),
            message: "no aggregated stat of that name in the schema".into(),
        })
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::invalid(format!(
            "{} name(s) are not aggregated stats of app {app}",
            problems.len()
        ))
        .with_details(problems));
    }
    let today = laurel_store::utc_day(unix_now());
    let history = days
        .filter(|d| *d > 0)
        .map(|d| (today - i64::from(d) + 1, today));
    let stats = state
        .store()
        .global_stats(app, GlobalStatsQuery { names, history })
        .await?;
    let number = |t: StatTotal| match t {
        StatTotal::Int(v) => StatNumber::Int(v),
        StatTotal::Float(v) => StatNumber::Float(v),
    };
    ok_json(&GlobalStatsResponse {
        result: EResult::Ok.code(),
        app_id: app.get(),
        stats: stats
            .into_iter()
            .map(|g| GlobalStatBody {
                name: g.name,
                kind: g.kind.as_str().to_owned(),
                total: number(g.total),
                history: g
                    .history
                    .iter()
                    .map(|d| GlobalStatDay {
                        date: d.day * laurel_store::SECONDS_PER_DAY,
                        change: number(d.change),
                    })
                    .collect(),
            })
            .collect(),
    })
}

fn percent(unlocked: u64, users: u64) -> f64 {
    if users == 0 {
        0.0
    } else {
        unlocked as f64 * 100.0 / users as f64
    }
}

// ---- admin API ----

#[cfg(test)]
mod tests {
    use laurel_core::UserProgress;
    use laurel_wire::ProgressBody;

    use super::*;

    #[test]
    fn store_response_is_a_store_response() {
        let schema = laurel_core::schema_doc::demo_schema();
        let app = AppId::new(480).unwrap();
        let user = SteamId::new(5).unwrap();
        let body = ProgressBody::build(app, user, 3, &schema, &UserProgress::default());
        let json = serde_json::to_vec(&body).unwrap();
        let out = store_response_json(true, &["A", "B"], &json).unwrap();
        let parsed: laurel_wire::StoreResponse = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            parsed,
            laurel_wire::StoreResponse {
                result: 1,
                replayed: true,
                newly_unlocked: vec!["A".into(), "B".into()],
                progress: body,
            }
        );
    }

    #[test]
    fn percents() {
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(3, 3), 100.0);
    }
}
