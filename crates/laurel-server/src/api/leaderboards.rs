//! Leaderboards in the client API (docs/leaderboards.md): the board list,
//! find and find-or-create, uploads and downloads (user tokens and server
//! keys), moderation (server keys and the admin) and friends lists (server
//! keys). Ranks come from this node's index ([`laurel_store::Leaderboards`]),
//! caught up from the store before every answer.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use laurel_core::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod, UploadMethod,
};
use laurel_core::limits::{MAX_FRIENDS, MAX_LEADERBOARD_DETAILS};
use laurel_core::{AppId, EResult, Fingerprint, IdempotencyKey, SteamId, UnixTime};
use laurel_store::audit::{AuditDraft, action};
use laurel_store::{Board, BoardId, PeriodStart, RankedUpload, Scope, StoreError, UploadRequest};
use laurel_wire::leaderboards::{
    BoardBody, BoardCreateRequest, BoardListResponse, BoardResponse, EntriesQuery, EntriesResponse,
    EntryBody, FriendsBody, ModerationResponse, ScopeWord, ScoreUploadRequest, ScoreUploadResponse,
};

use super::{ApiResult, actor, ok_json};
use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::ApiError;
use crate::extract::{
    AppPath, BoardPath, BoardUserPath, OptionalIdempotencyKey, Origin, RawBody, UserPath,
};
use crate::progress::existing_schema;
use crate::state::AppState;

/// Default ranks of a `global` download: Steam's top 25.
const GLOBAL_DEFAULT: (i64, i64) = (1, 25);
/// Default window of an `around_user` download, relative to the user.
const AROUND_DEFAULT: (i64, i64) = (-12, 12);

/// The start of the period of `board` that holds `now` (0 without periods).
pub(crate) fn current_period(board: &Board, now: UnixTime) -> PeriodStart {
    board.def.period.start(now).unwrap_or(0)
}

/// The last finished period of a periodic board; `None` for one without periods.
/// Uploads now, into the board's current period, through this node's rank
/// index: what the client API and Steam's `SetLeaderboardScore` both do.
pub(crate) async fn upload_now(
    state: &AppState,
    board: &Board,
    user: SteamId,
    (method, score, details): (UploadMethod, i32, Vec<i32>),
    idempotency: Option<(IdempotencyKey, Fingerprint)>,
) -> Result<RankedUpload, StoreError> {
    let now = unix_now();
    let request = UploadRequest {
        app: board.app,
        board: board.id,
        period: current_period(board, now),
        user,
        method,
        score,
        details,
        now,
        idempotency,
    };
    state
        .leaderboards()
        .upload(state.store(), board, request)
        .await
}

pub(crate) fn previous_period(board: &Board, now: UnixTime) -> Option<PeriodStart> {
    let current = board.def.period.start(now)?;
    board.def.period.start(current - 1)
}

pub(crate) fn board_body(board: &Board, entry_count: u64) -> BoardBody {
    BoardBody {
        id: u64::try_from(board.id).unwrap_or(0),
        name: board.def.name.as_str().to_owned(),
        sort: board.def.sort.as_str().to_owned(),
        display: board.def.display.as_str().to_owned(),
        display_name: board.def.display_name.clone(),
        writes: board.def.writes.as_str().to_owned(),
        period: board.def.period.as_str().to_owned(),
        entry_count,
    }
}

fn unknown_board(app: AppId, id: BoardId) -> ApiError {
    ApiError::new(
        EResult::FileNotFound,
        format!("app {app} has no leaderboard {id}"),
    )
}

/// The board `id` of `app` (the app must exist).
pub(crate) async fn board_of(state: &AppState, app: AppId, id: BoardId) -> Result<Board, ApiError> {
    existing_schema(state, app).await?;
    state
        .board(app, id)
        .await?
        .ok_or_else(|| unknown_board(app, id))
}

/// A board name from a request, checked as every board name is.
pub(crate) fn board_name(text: &str) -> Result<BoardName, ApiError> {
    BoardName::parse(text).map_err(|e| ApiError::invalid(format!("leaderboard name: {e}")))
}

fn word<T>(
    what: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
    words: &[&str],
) -> Result<T, ApiError> {
    parse(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "{what}: {} is not one of {}",
            laurel_core::shown(text, 40),
            words.join(", ")
        ))
    })
}

fn words<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

/// A store failure about a board: `NotFound` means the board went away.
fn board_error(app: AppId, id: BoardId) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound(_) => unknown_board(app, id),
        other => other.into(),
    }
}

/// `GET /api/v1/apps/{app_id}/leaderboards`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(app): AppPath,
) -> ApiResult {
    caller.require_app(app, false)?;
    existing_schema(&state, app).await?;
    let boards = state.store().leaderboards(app, unix_now()).await?;
    ok_json(&BoardListResponse {
        result: EResult::Ok.code(),
        leaderboards: boards
            .iter()
            .map(|s| board_body(&s.board, s.entries))
            .collect(),
    })
}

/// A board's answer, with its entry count in the current period.
async fn board_answer(state: &AppState, board: &Board, created: bool) -> ApiResult {
    let period = current_period(board, unix_now());
    let count = state
        .leaderboards()
        .entry_count(state.store(), board, period)
        .await
        .map_err(board_error(board.app, board.id))?;
    ok_json(&BoardResponse {
        result: EResult::Ok.code(),
        created,
        leaderboard: board_body(board, count),
    })
}

/// `GET /api/v1/apps/{app_id}/leaderboards/find?name=`
pub async fn find(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(app): AppPath,
    RawQuery(query): RawQuery,
) -> ApiResult {
    caller.require_app(app, false)?;
    let mut name = None;
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "name" if name.is_none() => name = Some(v.into_owned()),
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown or repeated query parameter {} (use name=…)",
                    laurel_core::shown(other, 40)
                )));
            }
        }
    }
    let Some(name) = name else {
        return Err(ApiError::invalid("find needs ?name=<leaderboard name>"));
    };
    let name = board_name(&name)?;
    existing_schema(&state, app).await?;
    match state.store().leaderboard(app, &name).await? {
        Some(board) => board_answer(&state, &board, false).await,
        None => Err(ApiError::new(
            EResult::FileNotFound,
            format!(
                "app {app} has no leaderboard named {}",
                laurel_core::shown(name.as_str(), 40)
            ),
        )),
    }
}

/// `POST /api/v1/apps/{app_id}/leaderboards`: find or create.
pub async fn find_or_create(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(app): AppPath,
    raw: RawBody,
) -> ApiResult {
    caller.require_app(app, false)?;
    let request: BoardCreateRequest = raw.json()?;
    let name = board_name(&request.name)?;
    let sort = word(
        "sort",
        &request.sort,
        SortMethod::parse,
        &words(SortMethod::ALL, SortMethod::as_str),
    )?;
    let display = word(
        "display",
        &request.display,
        DisplayType::parse,
        &words(DisplayType::ALL, DisplayType::as_str),
    )?;
    let writes = match request.writes.as_deref() {
        None => BoardWrites::Client,
        Some(text) => word(
            "writes",
            text,
            BoardWrites::parse,
            &words(BoardWrites::ALL, BoardWrites::as_str),
        )?,
    };
    let schema = existing_schema(&state, app).await?;
    if let Some(board) = state.store().leaderboard(app, &name).await? {
        return board_answer(&state, &board, false).await;
    }
    if !request.create {
        return Err(ApiError::new(
            EResult::FileNotFound,
            format!(
                "app {app} has no leaderboard named {}",
                laurel_core::shown(name.as_str(), 40)
            ),
        ));
    }
    if let Caller::User(_) = caller {
        if !schema.schema.settings().allow_client_leaderboard_create {
            return Err(ApiError::access_denied(format!(
                "app {app} does not let clients create leaderboards \
                 (its schema's app.allow_client_leaderboard_create is off); \
                 define the board in the schema or create it with a server key"
            )));
        }
        if writes == BoardWrites::Trusted {
            return Err(ApiError::access_denied(
                "only a server key may create a trusted leaderboard",
            ));
        }
    }
    let def = LeaderboardDef {
        name,
        sort,
        display,
        display_name: None,
        writes,
        period: BoardPeriod::None,
    };
    match state.store().create_leaderboard(app, &def).await {
        Ok((board, created)) => {
            state.forget_boards(app);
            board_answer(&state, &board, created).await
        }
        Err(StoreError::Conflict(why)) => Err(ApiError::with_status(
            StatusCode::CONFLICT,
            EResult::LimitExceeded,
            format!(
                "app {app} has {} leaderboards, the most it may have: {why}",
                laurel_core::limits::MAX_LEADERBOARDS_PER_APP
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/apps/{app_id}/leaderboards/{board_id}/users/{steam_id}/score`
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    BoardUserPath(app, id, user): BoardUserPath,
    OptionalIdempotencyKey(key): OptionalIdempotencyKey,
    raw: RawBody,
) -> ApiResult {
    caller.require_owner_or_server(app, user)?;
    let request: ScoreUploadRequest = raw.json()?;
    if request.details.len() > MAX_LEADERBOARD_DETAILS {
        return Err(ApiError::invalid(format!(
            "details: {} values; an entry holds at most {MAX_LEADERBOARD_DETAILS}",
            request.details.len()
        )));
    }
    let method = match request.method.as_deref() {
        None => UploadMethod::KeepBest,
        Some(text) => word(
            "method",
            text,
            UploadMethod::parse,
            &words(UploadMethod::ALL, UploadMethod::as_str),
        )?,
    };
    let board = board_of(&state, app, id).await?;
    if board.def.writes == BoardWrites::Trusted && !matches!(caller, Caller::Server(_)) {
        return Err(ApiError::access_denied(format!(
            "leaderboard {} is trusted: only the game's server key may upload to it",
            laurel_core::shown(board.def.name.as_str(), 40)
        )));
    }
    // The fingerprint names the board: one key on two boards is two uploads.
    let mut fingerprinted = format!("leaderboard:{id}\n").into_bytes();
    fingerprinted.extend_from_slice(&raw.0);
    let idempotency = key.map(|k| (k, Fingerprint::of_body(app, user, &fingerprinted)));
    let ranked = upload_now(
        &state,
        &board,
        user,
        (method, request.score, request.details),
        idempotency,
    )
    .await
    .map_err(board_error(app, id))?;
    ok_json(&ScoreUploadResponse {
        result: EResult::Ok.code(),
        leaderboard_id: u64::try_from(id).unwrap_or(0),
        score: request.score,
        score_changed: ranked.reply.changed,
        global_rank_new: ranked.rank,
        global_rank_previous: ranked.previous_rank,
        entry_count: ranked.entry_count,
        replayed: ranked.reply.replayed,
    })
}

/// Which entries an `…/entries` request reads.
/// The user an `around_user` or `friends` download is about: the token's
/// own user, or with a server key the `steam_id` it names.
fn scope_user(
    caller: &Caller,
    steam_id: Option<SteamId>,
    scope: &str,
) -> Result<SteamId, ApiError> {
    match (caller, steam_id) {
        (Caller::User(claims), None) => Ok(claims.user),
        (Caller::User(claims), Some(id)) if id == claims.user => Ok(id),
        (Caller::User(claims), Some(id)) => Err(ApiError::access_denied(format!(
            "a user token reads {scope} of its own user ({}), not {id}",
            claims.user
        ))),
        (_, Some(id)) => Ok(id),
        (_, None) => Err(ApiError::invalid(format!(
            "scope={scope} with a server key needs steam_id=<the user>"
        ))),
    }
}

/// `GET /api/v1/apps/{app_id}/leaderboards/{board_id}/entries`
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    BoardPath(app, id): BoardPath,
    RawQuery(query): RawQuery,
) -> ApiResult {
    caller.require_app(app, false)?;
    let q = EntriesQuery::parse(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let scope_word = q.scope.unwrap_or(ScopeWord::Global);
    if q.steam_ids.is_some() && scope_word != ScopeWord::Users {
        return Err(ApiError::invalid("steam_ids is read only with scope=users"));
    }
    let scope = match scope_word {
        ScopeWord::Global => Scope::Global {
            start: q.start.unwrap_or(GLOBAL_DEFAULT.0),
            end: q.end.unwrap_or(GLOBAL_DEFAULT.1),
        },
        ScopeWord::AroundUser => Scope::AroundUser {
            user: scope_user(&caller, q.steam_id, "around_user")?,
            before: q.start.unwrap_or(AROUND_DEFAULT.0),
            after: q.end.unwrap_or(AROUND_DEFAULT.1),
        },
        ScopeWord::Friends => {
            let user = scope_user(&caller, q.steam_id, "friends")?;
            let mut users = state.store().friends(app, user).await?;
            users.push(user);
            Scope::Users(users)
        }
        ScopeWord::Users => match q.steam_ids {
            Some(ids) => Scope::Users(ids),
            None => {
                return Err(ApiError::invalid(
                    "scope=users needs steam_ids=<comma-separated ids>",
                ));
            }
        },
    };
    let board = board_of(&state, app, id).await?;
    let now = unix_now();
    let period = if q.previous {
        previous_period(&board, now).ok_or_else(|| {
            ApiError::invalid(format!(
                "leaderboard {} has no periods: there is no previous one to read",
                laurel_core::shown(board.def.name.as_str(), 40)
            ))
        })?
    } else {
        current_period(&board, now)
    };
    let download = state
        .leaderboards()
        .download(state.store(), &board, period, &scope)
        .await
        .map_err(board_error(app, id))?;
    ok_json(&EntriesResponse {
        result: EResult::Ok.code(),
        leaderboard_id: u64::try_from(id).unwrap_or(0),
        entry_count: download.entry_count,
        period_start: period,
        entries: download
            .entries
            .into_iter()
            .map(|e| EntryBody {
                steam_id: e.user.to_string(),
                rank: e.rank,
                score: e.score,
                details: e.details,
                set_at: e.set_at,
            })
            .collect(),
    })
}

/// A moderator: the admin token, or a server key of `app`. Answers the
/// audit record's actor.
async fn moderator(
    state: &AppState,
    headers: &HeaderMap,
    caller: Result<Caller, ApiError>,
    app: AppId,
) -> Result<String, ApiError> {
    if state.admin().check(headers).is_ok() {
        return Ok(actor(None));
    }
    match caller? {
        Caller::Server(key) if key.app == app => Ok(actor(Some(&Caller::Server(key)))),
        Caller::Server(key) => Err(ApiError::access_denied(format!(
            "server key is for app {}, not app {app}",
            key.app
        ))),
        Caller::User(_) => Err(ApiError::access_denied(
            "only the game's server key or the admin may moderate leaderboards",
        )),
        Caller::Anonymous => Err(ApiError::not_logged_on(
            "this route needs `Authorization: Bearer <server key or admin token>`",
        )),
    }
}

/// A moderation's audit record: who, from where, what, about which app and
/// user (the store adds the board's id and name to its detail).
fn moderation_audit(
    who: String,
    address: String,
    what: &'static str,
    board: &Board,
    user: Option<SteamId>,
) -> AuditDraft {
    AuditDraft::new(who, address, what).about(board.app, user)
}

/// `DELETE /api/v1/apps/{app_id}/leaderboards/{board_id}`
pub async fn delete_board(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    Origin(address): Origin,
    BoardPath(app, id): BoardPath,
) -> ApiResult {
    let who = moderator(&state, &headers, caller, app).await?;
    let board = board_of(&state, app, id).await?;
    // The count the store keeps with the board (a rank index would load
    // every entry of the board just to be dropped).
    let count = state
        .store()
        .leaderboards(app, unix_now())
        .await
        .map_err(board_error(app, id))?
        .into_iter()
        .find(|summary| summary.board.id == id)
        .map_or(0, |summary| summary.entries);
    let audit = moderation_audit(who, address, action::LEADERBOARD_DELETE, &board, None);
    let deleted = state
        .store()
        .delete_leaderboard(app, id, audit)
        .await
        .map_err(board_error(app, id))?;
    state.leaderboards().forget(app, id);
    state.forget_boards(app);
    if !deleted {
        return Err(unknown_board(app, id));
    }
    ok_json(&ModerationResponse {
        result: EResult::Ok.code(),
        removed: count,
    })
}

/// `POST /api/v1/apps/{app_id}/leaderboards/{board_id}/reset`
pub async fn reset_board(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    Origin(address): Origin,
    BoardPath(app, id): BoardPath,
) -> ApiResult {
    let who = moderator(&state, &headers, caller, app).await?;
    let board = board_of(&state, app, id).await?;
    let audit = moderation_audit(who, address, action::LEADERBOARD_RESET, &board, None);
    let removed = state
        .store()
        .reset_leaderboard(app, id, audit)
        .await
        .map_err(board_error(app, id))?;
    ok_json(&ModerationResponse {
        result: EResult::Ok.code(),
        removed,
    })
}

/// `DELETE /api/v1/apps/{app_id}/leaderboards/{board_id}/users/{steam_id}/score`:
/// the user's entry in the board's current period.
pub async fn delete_entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    Origin(address): Origin,
    BoardUserPath(app, id, user): BoardUserPath,
) -> ApiResult {
    let who = moderator(&state, &headers, caller, app).await?;
    let board = board_of(&state, app, id).await?;
    let audit = moderation_audit(
        who,
        address,
        action::LEADERBOARD_ENTRY_DELETE,
        &board,
        Some(user),
    );
    let removed = state
        .store()
        .delete_leaderboard_entry(app, id, current_period(&board, unix_now()), user, audit)
        .await
        .map_err(board_error(app, id))?;
    ok_json(&ModerationResponse {
        result: EResult::Ok.code(),
        removed: u64::from(removed),
    })
}

fn friends_body(friends: &[SteamId]) -> FriendsBody {
    FriendsBody {
        steam_ids: friends.iter().map(ToString::to_string).collect(),
    }
}

/// `PUT /api/v1/apps/{app_id}/users/{steam_id}/friends` (server key).
pub async fn put_friends(
    State(state): State<AppState>,
    caller: Caller,
    UserPath(app, user): UserPath,
    raw: RawBody,
) -> ApiResult {
    caller.require_app(app, false)?;
    if !matches!(caller, Caller::Server(_)) {
        return Err(ApiError::access_denied(
            "only the game's server key sets friends lists",
        ));
    }
    let body: FriendsBody = raw.json()?;
    if body.steam_ids.len() > MAX_FRIENDS {
        return Err(ApiError::invalid(format!(
            "steam_ids: {} ids; a friends list holds at most {MAX_FRIENDS}",
            body.steam_ids.len()
        )));
    }
    let mut friends = Vec::with_capacity(body.steam_ids.len());
    for (i, text) in body.steam_ids.iter().enumerate() {
        let id: SteamId = text
            .parse()
            .map_err(|e| ApiError::invalid(format!("steam_ids[{i}]: {e}")))?;
        if id != user {
            friends.push(id);
        }
    }
    friends.sort_unstable();
    friends.dedup();
    existing_schema(&state, app).await?;
    state.store().set_friends(app, user, &friends).await?;
    ok_json(&friends_body(&friends))
}

/// `GET /api/v1/apps/{app_id}/users/{steam_id}/friends` (server key, or the user's own token).
pub async fn get_friends(
    State(state): State<AppState>,
    caller: Caller,
    UserPath(app, user): UserPath,
) -> ApiResult {
    caller.require_owner_or_server(app, user)?;
    existing_schema(&state, app).await?;
    let friends = state.store().friends(app, user).await?;
    ok_json(&friends_body(&friends))
}
