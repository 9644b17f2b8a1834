//! `ISteamLeaderboards`: Steam's partner interface for leaderboards, for
//! the game's backend (a server key of the app; user tokens are refused).
//! Parameter names and the mixed-case fields of the answers are Steam's
//! (docs/steam-web-api.md says where each came from).

use axum::http::StatusCode;
use laurel_core::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod, UploadMethod,
};
use laurel_core::{AppId, EResult, SteamId};
use laurel_store::audit::{AuditDraft, action};
use laurel_store::{Board, BoardId, Scope, StoreError};

use crate::api::leaderboards::{current_period, upload_now};
use crate::clock::unix_now;
use crate::error::status_for;
use crate::state::AppState;
use crate::steam::format::{HtmlError, Node};
use crate::steam::method::{
    Credential, KEY, LEADERBOARDS, STEAMID, SteamCall, SteamMethod, SteamResult, param, schema_of,
};

const APPID: crate::steam::method::SteamParam = param("appid", "uint32", false, "appid of game");
const LEADERBOARDID: crate::steam::method::SteamParam = param(
    "leaderboardid",
    "uint32",
    false,
    "numeric ID of the target leaderboard",
);

/// Steam's `UGCHandle_t` of "no attachment" (`k_UGCHandleInvalid`).
const NO_UGC: &str = "18446744073709551615";

pub(crate) const METHODS: &[SteamMethod] = &[
    SteamMethod {
        interface: LEADERBOARDS,
        name: "GetLeaderboardsForGame",
        version: 2,
        http: "GET",
        body_limit: 0,
        params: &[KEY, APPID],
        answer: "/response/leaderboards",
        handler: |state, call| Box::pin(get_leaderboards_for_game(state, call)),
    },
    SteamMethod {
        interface: LEADERBOARDS,
        name: "FindOrCreateLeaderboard",
        version: 2,
        http: "POST",
        body_limit: 4096,
        params: &[
            KEY,
            APPID,
            param("name", "string", false, "name of the leaderboard to create"),
            param(
                "sortmethod",
                "string",
                true,
                "sort method to use for this leaderboard (defaults to Ascending)",
            ),
            param(
                "displaytype",
                "string",
                true,
                "display type for this leaderboard (defaults to Numeric)",
            ),
            param(
                "createifnotfound",
                "bool",
                true,
                "if this is true the leaderboard will be created if it doesn't exist. Defaults to true.",
            ),
            param(
                "onlytrustedwrites",
                "bool",
                true,
                "if this is true the leaderboard scores cannot be set by clients. Defaults to false.",
            ),
            param(
                "onlyfriendsreads",
                "bool",
                true,
                "if this is true the leaderboard scores can only be read for friends by clients. Defaults to false.",
            ),
        ],
        answer: "/result/leaderboard/leaderBoardID",
        handler: |state, call| Box::pin(find_or_create(state, call)),
    },
    SteamMethod {
        interface: LEADERBOARDS,
        name: "GetLeaderboardEntries",
        version: 1,
        http: "GET",
        body_limit: 0,
        params: &[
            KEY,
            APPID,
            param("rangestart", "int32", false, "range start or 0"),
            param("rangeend", "int32", false, "range end or max LB entries"),
            param(
                "steamid",
                "uint64",
                true,
                "SteamID used for friend & around user requests",
            ),
            LEADERBOARDID,
            param(
                "datarequest",
                "uint32",
                false,
                "type of request: RequestGlobal, RequestAroundUser, RequestFriends",
            ),
        ],
        answer: "/leaderboardEntryInformation/leaderboardEntries",
        handler: |state, call| Box::pin(get_leaderboard_entries(state, call)),
    },
    SteamMethod {
        interface: LEADERBOARDS,
        name: "SetLeaderboardScore",
        version: 1,
        http: "POST",
        body_limit: 4096,
        params: &[
            KEY,
            APPID,
            LEADERBOARDID,
            STEAMID,
            param("score", "int32", false, "the user's score"),
            param(
                "scoremethod",
                "string",
                false,
                "update method to use: KeepBest or ForceUpdate",
            ),
            param(
                "details",
                "string",
                true,
                "game-specific details: up to 64 int32s, comma-separated",
            ),
        ],
        answer: "/result/result",
        handler: |state, call| Box::pin(set_leaderboard_score(state, call)),
    },
    SteamMethod {
        interface: LEADERBOARDS,
        name: "ResetLeaderboard",
        version: 1,
        http: "POST",
        body_limit: 4096,
        params: &[KEY, APPID, LEADERBOARDID],
        answer: "/result/result",
        handler: |state, call| Box::pin(reset_leaderboard(state, call)),
    },
    SteamMethod {
        interface: LEADERBOARDS,
        name: "DeleteLeaderboardScore",
        version: 1,
        http: "POST",
        body_limit: 4096,
        params: &[KEY, APPID, LEADERBOARDID, STEAMID],
        answer: "/result/result",
        handler: |state, call| Box::pin(delete_leaderboard_score(state, call)),
    },
    SteamMethod {
        interface: LEADERBOARDS,
        name: "DeleteLeaderboard",
        version: 1,
        http: "POST",
        body_limit: 4096,
        params: &[
            KEY,
            APPID,
            param("name", "string", false, "name of the leaderboard to delete"),
        ],
        answer: "/result/result",
        handler: |state, call| Box::pin(delete_leaderboard(state, call)),
    },
];

/// The app of the call, which the credential must be a server key of.
/// Answers the audit record's actor.
async fn server_app(state: &AppState, call: &SteamCall) -> Result<(AppId, String), HtmlError> {
    let app = call.params.app_id("appid")?;
    let actor = match &call.credential {
        Credential::Server(k) if k.app == app => format!("key:{}", k.id),
        Credential::None => return Err(HtmlError::key_missing()),
        // A user token, or a key of another app: Steam's publisher-key methods.
        _ => return Err(HtmlError::Forbidden),
    };
    if schema_of(state, app).await?.is_none() {
        return Err(HtmlError::Forbidden);
    }
    Ok((app, actor))
}

/// `{"result":{"result":N,"error":…}}` with the status of the EResult.
fn refused(call: &SteamCall, result: EResult, error: String) -> SteamResult {
    Ok(call.format.respond(
        status_for(result),
        &Node::obj([(
            "result",
            Node::obj([
                ("result", Node::Int(i64::from(result.code()))),
                ("error", Node::Str(error)),
            ]),
        )]),
    ))
}

fn ok_result(call: &SteamCall) -> SteamResult {
    call.ok(&Node::obj([(
        "result",
        Node::obj([("result", Node::Int(i64::from(EResult::Ok.code())))]),
    )]))
}

fn invalid(name: &str, value: &str, why: &str) -> HtmlError {
    HtmlError::BadRequest(format!(
        "Parameter '{name}' is invalid ({}): {why}",
        laurel_core::shown(value, 40)
    ))
}

/// A signed 32-bit parameter.
fn int32(call: &SteamCall, name: &str) -> Result<i32, HtmlError> {
    let text = call.params.required(name)?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(name, text, "not an integer"));
    }
    text.parse()
        .map_err(|_| invalid(name, text, "not a 32-bit integer"))
}

/// A `rangestart`/`rangeend`: any integer, clamped to 32 bits (a whole
/// board is asked for with a huge `rangeend`).
fn range(call: &SteamCall, name: &str) -> Result<i64, HtmlError> {
    let text = call.params.required(name)?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(name, text, "not an integer"));
    }
    Ok(text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// An optional bool: `true`/`false`/`1`/`0`, any case.
fn flag(call: &SteamCall, name: &str, default: bool) -> Result<bool, HtmlError> {
    match call.params.get(name) {
        None | Some("") => Ok(default),
        Some(t) if t == "1" || t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t == "0" || t.eq_ignore_ascii_case("false") => Ok(false),
        Some(t) => Err(invalid(name, t, "not true, false, 1 or 0")),
    }
}

fn board_id(call: &SteamCall) -> Result<BoardId, HtmlError> {
    let id = call.params.required_u32("leaderboardid")?;
    if id == 0 {
        return Err(invalid("leaderboardid", "0", "not a leaderboard"));
    }
    Ok(BoardId::from(id))
}

/// The board `id` of `app`, `None` when it has none.
async fn board(state: &AppState, app: AppId, id: BoardId) -> Result<Option<Board>, HtmlError> {
    state
        .board(app, id)
        .await
        .map_err(|e| HtmlError::from_store(&e))
}

fn sort_word(sort: SortMethod) -> &'static str {
    match sort {
        SortMethod::Ascending => "Ascending",
        SortMethod::Descending => "Descending",
    }
}

fn display_word(display: DisplayType) -> &'static str {
    match display {
        DisplayType::Numeric => "Numeric",
        DisplayType::Seconds => "TimeSeconds",
        DisplayType::Milliseconds => "TimeMilliSeconds",
    }
}

fn parse_sort(text: &str) -> Option<SortMethod> {
    SortMethod::parse(
        text.strip_prefix("k_ELeaderboardSortMethod")
            .unwrap_or(text),
    )
}

fn parse_display(text: &str) -> Option<DisplayType> {
    let text = text
        .strip_prefix("k_ELeaderboardDisplayType")
        .unwrap_or(text);
    if text.eq_ignore_ascii_case("TimeSeconds") {
        return Some(DisplayType::Seconds);
    }
    if text.eq_ignore_ascii_case("TimeMilliSeconds") {
        return Some(DisplayType::Milliseconds);
    }
    DisplayType::parse(text)
}

async fn get_leaderboards_for_game(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, _) = server_app(state, call).await?;
    let boards = state
        .store()
        .leaderboards(app, unix_now())
        .await
        .map_err(|e| HtmlError::from_store(&e))?;
    let items = boards
        .iter()
        .map(|s| {
            Node::obj([
                ("id", Node::Int(s.board.id)),
                ("name", Node::str(s.board.def.name.as_str())),
                (
                    "entries",
                    Node::Int(i64::try_from(s.entries).unwrap_or(i64::MAX)),
                ),
                ("sortmethod", Node::str(sort_word(s.board.def.sort))),
                ("displaytype", Node::str(display_word(s.board.def.display))),
                (
                    "onlytrustedwrites",
                    Node::Bool(s.board.def.writes == BoardWrites::Trusted),
                ),
                ("onlyfriendsreads", Node::Bool(false)),
            ])
        })
        .collect();
    call.ok(&Node::obj([(
        "response",
        Node::obj([
            ("result", Node::Int(i64::from(EResult::Ok.code()))),
            ("leaderboards", Node::arr("leaderboard", items)),
        ]),
    )]))
}

async fn find_or_create(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, _) = server_app(state, call).await?;
    let text = call.params.required("name")?;
    let name = BoardName::parse(text).map_err(|e| invalid("name", text, &e.to_string()))?;
    let sort = match call.params.get("sortmethod") {
        None | Some("") => SortMethod::Ascending,
        Some(t) => {
            parse_sort(t).ok_or_else(|| invalid("sortmethod", t, "not Ascending or Descending"))?
        }
    };
    let display = match call.params.get("displaytype") {
        None | Some("") => DisplayType::Numeric,
        Some(t) => parse_display(t).ok_or_else(|| {
            invalid(
                "displaytype",
                t,
                "not Numeric, TimeSeconds or TimeMilliSeconds",
            )
        })?,
    };
    let create = flag(call, "createifnotfound", true)?;
    let trusted = flag(call, "onlytrustedwrites", false)?;
    flag(call, "onlyfriendsreads", false)?;
    let found = state
        .store()
        .leaderboard(app, &name)
        .await
        .map_err(|e| HtmlError::from_store(&e))?;
    let board = match found {
        Some(b) => b,
        None if !create => {
            return refused(
                call,
                EResult::FileNotFound,
                format!("no leaderboard named {}", laurel_core::shown(text, 40)),
            );
        }
        None => {
            let def = LeaderboardDef {
                name,
                sort,
                display,
                display_name: None,
                writes: if trusted {
                    BoardWrites::Trusted
                } else {
                    BoardWrites::Client
                },
                period: BoardPeriod::None,
            };
            match state.store().create_leaderboard(app, &def).await {
                Ok((b, _)) => {
                    state.forget_boards(app);
                    b
                }
                Err(StoreError::Conflict(why)) => {
                    return Ok(call.format.respond(
                        StatusCode::CONFLICT,
                        &Node::obj([(
                            "result",
                            Node::obj([
                                (
                                    "result",
                                    Node::Int(i64::from(EResult::LimitExceeded.code())),
                                ),
                                ("error", Node::Str(why)),
                            ]),
                        )]),
                    ));
                }
                Err(e) => return Err(HtmlError::from_store(&e)),
            }
        }
    };
    let entries = state
        .leaderboards()
        .entry_count(state.store(), &board, current_period(&board, unix_now()))
        .await
        .map_err(|e| HtmlError::from_store(&e))?;
    call.ok(&Node::obj([(
        "result",
        Node::obj([
            ("result", Node::Int(i64::from(EResult::Ok.code()))),
            (
                "leaderboard",
                Node::obj([
                    ("leaderBoardID", Node::Int(board.id)),
                    ("leaderboardName", Node::str(board.def.name.as_str())),
                    (
                        "leaderBoardEntries",
                        Node::Int(i64::try_from(entries).unwrap_or(i64::MAX)),
                    ),
                    (
                        "leaderBoardSortMethod",
                        Node::str(sort_word(board.def.sort)),
                    ),
                    (
                        "leaderBoardDisplayType",
                        Node::str(display_word(board.def.display)),
                    ),
                    (
                        "onlytrustedwrites",
                        Node::Bool(board.def.writes == BoardWrites::Trusted),
                    ),
                    ("onlyfriendsreads", Node::Bool(false)),
                ]),
            ),
        ]),
    )]))
}

/// `datarequest`: a name (`RequestGlobal`, with or without Steam's
/// `k_ELeaderboardDataRequest` prefix: `Global`) or its number 0-2.
fn data_request(text: &str) -> Option<u8> {
    let name = text
        .strip_prefix("k_ELeaderboardDataRequest")
        .or_else(|| text.strip_prefix("Request"))
        .unwrap_or(text);
    match name {
        "0" => Some(0),
        "1" => Some(1),
        "2" => Some(2),
        n if n.eq_ignore_ascii_case("Global") => Some(0),
        n if n.eq_ignore_ascii_case("GlobalAroundUser") || n.eq_ignore_ascii_case("AroundUser") => {
            Some(1)
        }
        n if n.eq_ignore_ascii_case("Friends") => Some(2),
        _ => None,
    }
}

async fn get_leaderboard_entries(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, _) = server_app(state, call).await?;
    let id = board_id(call)?;
    let start = range(call, "rangestart")?;
    let end = range(call, "rangeend")?;
    let request_text = call.params.required("datarequest")?;
    let request = data_request(request_text).ok_or_else(|| {
        invalid(
            "datarequest",
            request_text,
            "not RequestGlobal, RequestAroundUser, RequestFriends or 0-2",
        )
    })?;
    let user = || -> Result<SteamId, HtmlError> {
        call.params
            .get("steamid")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                HtmlError::BadRequest(
                    "Parameter 'steamid' is missing (needed for RequestAroundUser and RequestFriends)"
                        .into(),
                )
            })?;
        call.params.steam_id()
    };
    let scope = match request {
        0 => Scope::Global { start, end },
        1 => Scope::AroundUser {
            user: user()?,
            before: start,
            after: end,
        },
        _ => {
            let user = user()?;
            let mut users = state
                .store()
                .friends(app, user)
                .await
                .map_err(|e| HtmlError::from_store(&e))?;
            users.push(user);
            Scope::Users(users)
        }
    };
    let Some(board) = board(state, app, id).await? else {
        return Err(HtmlError::BadRequest(format!(
            "Leaderboard {id} not found in app {app}"
        )));
    };
    let download = state
        .leaderboards()
        .download(
            state.store(),
            &board,
            current_period(&board, unix_now()),
            &scope,
        )
        .await
        .map_err(|e| HtmlError::from_store(&e))?;
    let entries = download
        .entries
        .iter()
        .map(|e| {
            Node::obj([
                ("steamID", Node::str(e.user.to_string())),
                ("score", Node::Int(i64::from(e.score))),
                ("rank", Node::Int(i64::try_from(e.rank).unwrap_or(i64::MAX))),
                ("ugcid", Node::str(NO_UGC)),
            ])
        })
        .collect();
    call.ok(&Node::obj([(
        "leaderboardEntryInformation",
        Node::obj([
            ("appID", Node::Int(i64::from(app.get()))),
            ("leaderboardID", Node::Int(id)),
            (
                "totalLeaderBoardEntryCount",
                Node::Int(i64::try_from(download.entry_count).unwrap_or(i64::MAX)),
            ),
            ("leaderboardEntries", Node::arr("entry", entries)),
        ]),
    )]))
}

/// `details`: up to 64 int32s, comma-separated (empty: none).
fn details(call: &SteamCall) -> Result<Vec<i32>, String> {
    let text = call.params.get("details").unwrap_or("");
    laurel_wire::leaderboards::parse_details(text).map_err(|e| e.to_string())
}

async fn set_leaderboard_score(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, _) = server_app(state, call).await?;
    let id = board_id(call)?;
    let user = call.params.steam_id()?;
    let score = int32(call, "score")?;
    let method_text = call.params.required("scoremethod")?;
    let method = UploadMethod::parse(method_text)
        .ok_or_else(|| invalid("scoremethod", method_text, "not KeepBest or ForceUpdate"))?;
    let details = match details(call) {
        Ok(d) => d,
        Err(why) => return refused(call, EResult::InvalidParam, why),
    };
    let Some(board) = board(state, app, id).await? else {
        return refused(
            call,
            EResult::FileNotFound,
            format!("no leaderboard {id} in app {app}"),
        );
    };
    let ranked = upload_now(state, &board, user, (method, score, details), None).await;
    let ranked = match ranked {
        Ok(r) => r,
        Err(StoreError::NotFound(m)) => return refused(call, EResult::FileNotFound, m),
        Err(e) => return Err(HtmlError::from_store(&e)),
    };
    let int = |n: u64| Node::Int(i64::try_from(n).unwrap_or(i64::MAX));
    call.ok(&Node::obj([(
        "result",
        Node::obj([
            ("result", Node::Int(i64::from(EResult::Ok.code()))),
            ("leaderboard_entry_count", int(ranked.entry_count)),
            ("score_changed", Node::Bool(ranked.reply.changed)),
            ("global_rank_previous", int(ranked.previous_rank)),
            ("global_rank_new", int(ranked.rank)),
        ]),
    )]))
}

/// A moderation's audit record (the store adds the board's id and name).
fn audit(
    actor: String,
    call: &SteamCall,
    what: &'static str,
    board: &Board,
    user: Option<SteamId>,
) -> AuditDraft {
    AuditDraft::new(actor, call.address.clone(), what).about(board.app, user)
}

async fn reset_leaderboard(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, actor) = server_app(state, call).await?;
    let id = board_id(call)?;
    let Some(board) = board(state, app, id).await? else {
        return refused(
            call,
            EResult::FileNotFound,
            format!("no leaderboard {id} in app {app}"),
        );
    };
    let draft = audit(actor, call, action::LEADERBOARD_RESET, &board, None);
    match state.store().reset_leaderboard(app, id, draft).await {
        Ok(_) => ok_result(call),
        Err(StoreError::NotFound(m)) => refused(call, EResult::FileNotFound, m),
        Err(e) => Err(HtmlError::from_store(&e)),
    }
}

async fn delete_leaderboard_score(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, actor) = server_app(state, call).await?;
    let id = board_id(call)?;
    let user = call.params.steam_id()?;
    let Some(board) = board(state, app, id).await? else {
        return refused(
            call,
            EResult::FileNotFound,
            format!("no leaderboard {id} in app {app}"),
        );
    };
    let draft = audit(
        actor,
        call,
        action::LEADERBOARD_ENTRY_DELETE,
        &board,
        Some(user),
    );
    let period = current_period(&board, unix_now());
    match state
        .store()
        .delete_leaderboard_entry(app, id, period, user, draft)
        .await
    {
        Ok(_) => ok_result(call),
        Err(StoreError::NotFound(m)) => refused(call, EResult::FileNotFound, m),
        Err(e) => Err(HtmlError::from_store(&e)),
    }
}

async fn delete_leaderboard(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, actor) = server_app(state, call).await?;
    let text = call.params.required("name")?;
    let name = BoardName::parse(text).map_err(|e| invalid("name", text, &e.to_string()))?;
    let found = state
        .store()
        .leaderboard(app, &name)
        .await
        .map_err(|e| HtmlError::from_store(&e))?;
    let Some(board) = found else {
        return refused(
            call,
            EResult::FileNotFound,
            format!("no leaderboard named {}", laurel_core::shown(text, 40)),
        );
    };
    let draft = audit(actor, call, action::LEADERBOARD_DELETE, &board, None);
    match state.store().delete_leaderboard(app, board.id, draft).await {
        Ok(true) => {
            state.leaderboards().forget(app, board.id);
            state.forget_boards(app);
            ok_result(call)
        }
        Ok(false) | Err(StoreError::NotFound(_)) => refused(
            call,
            EResult::FileNotFound,
            format!("no leaderboard named {}", laurel_core::shown(text, 40)),
        ),
        Err(e) => Err(HtmlError::from_store(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_requests() {
        for (text, want) in [
            ("0", Some(0)),
            ("2", Some(2)),
            ("RequestGlobal", Some(0)),
            ("RequestAroundUser", Some(1)),
            ("RequestFriends", Some(2)),
            ("k_ELeaderboardDataRequestGlobalAroundUser", Some(1)),
            ("3", None),
            ("RequestUsers", None),
            ("", None),
        ] {
            assert_eq!(data_request(text), want, "{text}");
        }
    }

    #[test]
    fn words() {
        assert_eq!(parse_sort("descending"), Some(SortMethod::Descending));
        assert_eq!(
            parse_sort("k_ELeaderboardSortMethodAscending"),
            Some(SortMethod::Ascending)
        );
        assert_eq!(
            parse_display("TimeMilliSeconds"),
            Some(DisplayType::Milliseconds)
        );
        assert_eq!(parse_display("seconds"), Some(DisplayType::Seconds));
        assert_eq!(
            parse_display("k_ELeaderboardDisplayTypeNumeric"),
            Some(DisplayType::Numeric)
        );
        assert_eq!(parse_display("None"), None);
    }
}
