//! `ISteamUserStats`' global figures: `GetGlobalAchievementPercentagesForApp`,
//! `GetGlobalStatsForGame`, `GetNumberOfCurrentPlayers`.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::StatusCode;
use laurel_core::limits::MAX_BATCH_ENTRIES;
use laurel_core::{AppId, EResult};
use laurel_store::{
    GlobalStatsQuery, MAX_HISTORY_DAYS, SECONDS_PER_DAY, StatTotal, StoreError, utc_day,
};

use crate::clock::unix_now;
use crate::state::AppState;
use crate::steam::format::{HtmlError, Node};
use crate::steam::method::{
    Credential, SteamCall, SteamMethod, SteamResult, USER_STATS, param, schema_of,
};

/// Steam's EResult `NoMatch`: what Steam answers for an app it does not know.
const RESULT_NO_MATCH: i64 = 42;
/// Days of history `GetGlobalStatsForGame` gives when only `enddate` is set.
const DEFAULT_HISTORY_DAYS: i64 = 60;

const GET_GLOBAL_ACHIEVEMENT_PERCENTAGES: SteamMethod = SteamMethod {
    interface: USER_STATS,
    name: "GetGlobalAchievementPercentagesForApp",
    version: 1,
    http: "GET",
    body_limit: 0,
    params: &[param(
        "gameid",
        "uint64",
        false,
        "GameID to retrieve the achievement percentages for",
    )],
    answer: "/achievementpercentages/achievements",
    handler: |state, call| Box::pin(global_achievement_percentages(state, call)),
};

pub(crate) const METHODS: &[SteamMethod] = &[
    GET_GLOBAL_ACHIEVEMENT_PERCENTAGES,
    SteamMethod {
        version: 2,
        ..GET_GLOBAL_ACHIEVEMENT_PERCENTAGES
    },
    SteamMethod {
        interface: USER_STATS,
        name: "GetGlobalStatsForGame",
        version: 1,
        http: "GET",
        body_limit: 0,
        params: &[
            param(
                "appid",
                "uint32",
                false,
                "AppID that we're getting global stats for",
            ),
            param("count", "uint32", false, "Number of stats get data for"),
            param("name[0]", "string", false, "Names of stat to get data for"),
            param(
                "startdate",
                "uint32",
                true,
                "Start date for daily totals (unix epoch timestamp)",
            ),
            param(
                "enddate",
                "uint32",
                true,
                "End date for daily totals (unix epoch timestamp)",
            ),
        ],
        answer: "/response/globalstats",
        handler: |state, call| Box::pin(global_stats_for_game(state, call)),
    },
    SteamMethod {
        interface: USER_STATS,
        name: "GetNumberOfCurrentPlayers",
        version: 1,
        http: "GET",
        body_limit: 0,
        params: &[param(
            "appid",
            "uint32",
            false,
            "AppID that we're getting user count for",
        )],
        answer: "/response/player_count",
        handler: |state, call| Box::pin(number_of_current_players(state, call)),
    },
];

// ---- global figures ----

/// `gameid` is a 64-bit GameID; for a game (not a mod or shortcut) it is the app id.
fn game_id(call: &SteamCall) -> Result<Option<AppId>, HtmlError> {
    let text = call.params.required("gameid")?;
    let value: u64 = text
        .parse()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            let shown: String = text.chars().take(40).collect();
            HtmlError::BadRequest(format!(
                "Parameter 'gameid' is invalid ({shown:?}): not a decimal 64-bit number"
            ))
        })?;
    Ok(u32::try_from(value).ok().and_then(|v| AppId::new(v).ok()))
}

/// Sorted by percent, highest first, as Steam lists them. v1 wraps the array
/// in an element-named object (`"achievements":{"achievement":[…]}`); v2 does
/// not ("Removes element names from arrays"). An app without achievements, or
/// one this server does not have, is Steam's 403 with an empty object.
async fn global_achievement_percentages(state: &AppState, call: &SteamCall) -> SteamResult {
    let empty = || {
        Ok(call
            .format
            .respond(StatusCode::FORBIDDEN, &Node::Obj(Vec::new())))
    };
    let Some(app) = game_id(call)? else {
        return empty();
    };
    let Some(stored) = schema_of(state, app).await? else {
        return empty();
    };
    call.require_unless_public(&stored)?;
    if stored.schema.achievements().is_empty() {
        return empty();
    }
    let global = match state.global_percentages(&stored).await {
        Ok(g) => g,
        Err(StoreError::UnknownApp(_)) => return empty(),
        Err(e) => return Err(HtmlError::from_store(&e)),
    };
    let mut rows: Vec<(&str, f64)> = global
        .achievements
        .iter()
        .map(|(name, _, percent)| (name.as_str(), *percent))
        .collect();
    // Stable: equal percents keep schema order.
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let items: Vec<Node> = rows
        .into_iter()
        .map(|(name, p)| Node::obj([("name", Node::str(name)), ("percent", Node::F64(p))]))
        .collect();
    let list = Node::arr("achievement", items);
    let achievements = if call.version == 1 {
        Node::obj([("achievement", list)])
    } else {
        list
    };
    call.ok(&Node::obj([(
        "achievementpercentages",
        Node::obj([("achievements", achievements)]),
    )]))
}

/// `{"response":{"result":N,"error":…}}` with HTTP 200: how Steam reports a
/// refused `GetGlobalStatsForGame` (the HTTP status stays 200).
fn response_error(call: &SteamCall, result: i64, error: String) -> SteamResult {
    call.ok(&Node::obj([(
        "response",
        Node::obj([("result", Node::Int(result)), ("error", Node::Str(error))]),
    )]))
}

fn total_text(total: StatTotal) -> String {
    match total {
        StatTotal::Int(v) => v.to_string(),
        StatTotal::Float(v) if v.is_finite() => v.to_string(),
        StatTotal::Float(_) => "0".to_owned(),
    }
}

/// The UTC days `startdate`/`enddate` cover: each day whose midnight-to-midnight
/// overlaps the range. Only `enddate`: the [`DEFAULT_HISTORY_DAYS`] before it.
fn history_days(call: &SteamCall) -> Result<Result<Option<(i64, i64)>, String>, HtmlError> {
    let start = call.params.u32("startdate")?;
    let end = call.params.u32("enddate")?;
    let (start, end) = match (start, end) {
        (None, None) => return Ok(Ok(None)),
        (Some(s), e) => (
            utc_day(i64::from(s)),
            utc_day(e.map_or_else(unix_now, i64::from)),
        ),
        (None, Some(e)) => {
            let end = utc_day(i64::from(e));
            (end - (DEFAULT_HISTORY_DAYS - 1), end)
        }
    };
    if start > end {
        return Ok(Err("startdate is after enddate".into()));
    }
    if end - start + 1 > i64::from(MAX_HISTORY_DAYS) {
        return Ok(Err(format!(
            "startdate..enddate spans {} days; the limit is {MAX_HISTORY_DAYS}",
            end - start + 1
        )));
    }
    Ok(Ok(Some((start, end))))
}

async fn global_stats_for_game(state: &AppState, call: &SteamCall) -> SteamResult {
    let app = call.params.app_id("appid")?;
    let count = call.params.required_u32("count")?;
    if count == 0 || count as usize > MAX_BATCH_ENTRIES {
        return response_error(
            call,
            i64::from(EResult::InvalidParam.code()),
            format!("count must be 1..={MAX_BATCH_ENTRIES}, not {count}"),
        );
    }
    let names = match call.indexed("name", count) {
        Ok(n) => n,
        Err(e) => return response_error(call, i64::from(EResult::InvalidParam.code()), e),
    };
    let history = match history_days(call)? {
        Ok(h) => h,
        Err(e) => return response_error(call, i64::from(EResult::InvalidParam.code()), e),
    };
    let Some(stored) = schema_of(state, app).await? else {
        return response_error(
            call,
            RESULT_NO_MATCH,
            format!("No app {app} on this server"),
        );
    };
    call.require_unless_public(&stored)?;
    let mut seen = std::collections::HashSet::new();
    for name in &names {
        if !seen.insert(name.as_str()) {
            return response_error(
                call,
                i64::from(EResult::InvalidParam.code()),
                format!("stat {name:?} is asked for twice"),
            );
        }
        if !stored.schema.stat(name).is_some_and(|d| d.aggregated) {
            let shown: String = name.chars().take(128).collect();
            return response_error(
                call,
                i64::from(EResult::InvalidParam.code()),
                format!("{shown:?} is not an aggregated stat of app {app}"),
            );
        }
    }
    let query = GlobalStatsQuery {
        names: names.clone(),
        history,
    };
    let stats = match state.store().global_stats(app, query).await {
        Ok(s) => s,
        Err(StoreError::UnknownApp(_)) => {
            return response_error(
                call,
                RESULT_NO_MATCH,
                format!("No app {app} on this server"),
            );
        }
        Err(e) => return Err(HtmlError::from_store(&e)),
    };
    let by_name: BTreeMap<&str, &laurel_store::GlobalStat> =
        stats.iter().map(|g| (g.name.as_str(), g)).collect();
    let mut globalstats = Vec::new();
    for name in &names {
        let Some(g) = by_name.get(name.as_str()) else {
            continue;
        };
        let mut fields = vec![("total".to_owned(), Node::Str(total_text(g.total)))];
        if history.is_some() {
            let days = g
                .history
                .iter()
                .map(|d| {
                    Node::obj([
                        ("date", Node::Int(d.day * SECONDS_PER_DAY)),
                        ("total", Node::Str(total_text(d.change))),
                    ])
                })
                .collect();
            fields.push(("history".into(), Node::arr("day", days)));
        }
        globalstats.push((name.clone(), Node::Obj(fields)));
    }
    call.ok(&Node::obj([(
        "response",
        Node::obj([
            ("globalstats", Node::Obj(globalstats)),
            ("result", Node::Int(i64::from(EResult::Ok.code()))),
        ]),
    )]))
}

async fn number_of_current_players(state: &AppState, call: &SteamCall) -> SteamResult {
    let app = call.params.app_id("appid")?;
    let Some(stored) = schema_of(state, app).await? else {
        return Ok(call.format.respond(
            StatusCode::NOT_FOUND,
            &Node::obj([(
                "response",
                Node::obj([("result", Node::Int(RESULT_NO_MATCH))]),
            )]),
        ));
    };
    call.require_unless_public(&stored)?;
    // A player asking with their own token is told how many others play,
    // as Steam's client call (`GetNumberOfCurrentPlayers`) does.
    let asking = match &call.credential {
        Credential::User(claims) if claims.app == app => Some(claims.user),
        _ => None,
    };
    let count = state.players().current_besides(app, asking, Instant::now());
    call.ok(&Node::obj([(
        "response",
        Node::obj([
            ("player_count", Node::Int(count as i64)),
            ("result", Node::Int(i64::from(EResult::Ok.code()))),
        ]),
    )]))
}
