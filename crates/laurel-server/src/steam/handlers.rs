//! The Steam methods. Each builds Steam's answer as a [`Node`] tree; failures
//! a Steam client branches on carry Steam's method-level shapes (e.g.
//! `{"playerstats":{"error":…,"success":false}}`), the front end's own
//! refusals are [`HtmlError`]s.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use laurel_core::limits::MAX_BATCH_ENTRIES;
use laurel_core::{
    AppId, BatchEntry, EResult, Fingerprint, IdempotencyKey, Schema, StatKind, StatValue, SteamId,
    StoreBatch, UserProgress, WriteAuthority,
};
use laurel_store::{
    GlobalStatsQuery, MAX_HISTORY_DAYS, SECONDS_PER_DAY, StatTotal, StoreError, StoreReply,
    StoreRequest, StoredSchema, utc_day,
};
use laurel_wire::IDEMPOTENCY_HEADER;

use super::format::{HtmlError, Node};
use super::{Credential, SteamCall, store_failure};
use crate::clock::unix_now;
use crate::routes::Endpoint;
use crate::state::AppState;

/// Steam's EResult `NoMatch`: what Steam answers for an app it does not know.
const RESULT_NO_MATCH: i64 = 42;
/// Days of history `GetGlobalStatsForGame` gives when only `enddate` is set.
const DEFAULT_HISTORY_DAYS: i64 = 60;

type SteamResult = Result<Response, HtmlError>;

pub(super) async fn handle(state: &AppState, endpoint: Endpoint, call: &SteamCall) -> SteamResult {
    use Endpoint::*;
    match endpoint {
        SteamPlayerAchievements => player_achievements(state, call).await,
        SteamUserStatsForGame => user_stats_for_game(state, call).await,
        SteamSchemaForGame => schema_for_game(state, call).await,
        SteamGlobalAchievementPercentages => global_achievement_percentages(state, call).await,
        SteamGlobalStatsForGame => global_stats_for_game(state, call).await,
        SteamNumberOfCurrentPlayers => number_of_current_players(state, call).await,
        SteamPlayerSummaries => player_summaries(state, call).await,
        SteamSetUserStatsForGame => set_user_stats_for_game(state, call).await,
        SteamServerInfo => Ok(server_info(call)),
        SteamSupportedApiList => Ok(supported_api_list(call)),
        _ => Err(HtmlError::Internal),
    }
}

fn ok(call: &SteamCall, root: &Node) -> SteamResult {
    Ok(call.format.respond(StatusCode::OK, root))
}

/// The global methods answer anyone for an app whose schema sets
/// `public_globals` (as Steam's do); otherwise a key or user token of the app.
fn require_unless_public(call: &SteamCall, stored: &StoredSchema) -> Result<(), HtmlError> {
    if stored.schema.settings().public_globals {
        return Ok(());
    }
    call.credential.require_app(stored.app)
}

async fn schema_of(state: &AppState, app: AppId) -> Result<Option<StoredSchema>, HtmlError> {
    state.schema(app).await.map_err(|e| store_failure(&e))
}

// ---- per-user reads ----

/// `{"playerstats":{"error":…,"success":false}}`, Steam's failure of the per-user reads.
fn playerstats_error(call: &SteamCall, status: StatusCode, error: &str) -> SteamResult {
    let root = Node::obj([(
        "playerstats",
        Node::obj([("error", Node::str(error)), ("success", Node::Bool(false))]),
    )]);
    Ok(call.format.respond(status, &root))
}

fn no_stats(call: &SteamCall) -> SteamResult {
    playerstats_error(call, StatusCode::BAD_REQUEST, "Requested app has no stats")
}

/// A user's progress as a per-user read sees it, or the Steam answer that
/// takes its place (no stats, not public).
enum UserRead {
    Progress(StoredSchema, UserProgress),
    Answer(Response),
}

async fn read_user(state: &AppState, call: &SteamCall) -> Result<UserRead, HtmlError> {
    let user = call.params.steam_id()?;
    let app = call.params.app_id("appid")?;
    call.credential.require_app(app)?;
    let Some(schema) = schema_of(state, app).await? else {
        return no_stats(call).map(UserRead::Answer);
    };
    if let Credential::User(claims) = &call.credential {
        if claims.user != user && !schema.schema.settings().public_progress {
            return playerstats_error(call, StatusCode::FORBIDDEN, "Profile is not public")
                .map(UserRead::Answer);
        }
        if claims.user == user {
            state.players().touch(app, user, Instant::now());
        }
    }
    let progress = match state.store().progress(app, user).await {
        Ok(p) => p,
        Err(StoreError::UnknownApp(_)) => return no_stats(call).map(UserRead::Answer),
        Err(e) => return Err(store_failure(&e)),
    };
    // Steam answers "no stats" for a user who never played the app.
    if progress.version == 0 {
        return no_stats(call).map(UserRead::Answer);
    }
    Ok(UserRead::Progress(schema, progress))
}

fn language(call: &SteamCall) -> Option<&str> {
    call.params.get("l").filter(|l| !l.is_empty())
}

async fn player_achievements(state: &AppState, call: &SteamCall) -> SteamResult {
    let (stored, progress) = match read_user(state, call).await? {
        UserRead::Progress(s, p) => (s, p),
        UserRead::Answer(r) => return Ok(r),
    };
    let schema = &stored.schema;
    if schema.achievements().is_empty() {
        return no_stats(call);
    }
    let user = call.params.steam_id()?;
    let lang = language(call);
    let achievements = schema
        .achievements()
        .iter()
        .map(|def| {
            let state = progress.achievement(def.name.as_str());
            let mut fields = vec![
                ("apiname".to_owned(), Node::str(def.name.as_str())),
                ("achieved".to_owned(), Node::Int(i64::from(state.unlocked))),
                (
                    "unlocktime".to_owned(),
                    Node::Int(state.unlock_time.unwrap_or(0)),
                ),
            ];
            if let Some(lang) = lang {
                fields.push(("name".into(), Node::str(def.display_name.get(lang))));
                fields.push(("description".into(), Node::str(def.description.get(lang))));
            }
            Node::Obj(fields)
        })
        .collect();
    ok(
        call,
        &Node::obj([(
            "playerstats",
            Node::obj([
                ("steamID", Node::str(user.to_string())),
                ("gameName", Node::str(&schema.settings().name)),
                ("achievements", Node::arr("achievement", achievements)),
                ("success", Node::Bool(true)),
            ]),
        )]),
    )
}

fn stat_node(value: &StatValue, def: &laurel_core::StatDef) -> Node {
    match value {
        StatValue::Int(v) => Node::Int(i64::from(*v)),
        StatValue::Float(v) => Node::F32(*v),
        avg @ StatValue::AvgRate { .. } => Node::F32(avg.read(def) as f32),
    }
}

/// v1: objects keyed by name (`"stats":{"NumGames":{"value":3}}`); v2: arrays.
/// Only stats the user has stored and achievements the user has unlocked, as on Steam.
async fn user_stats_for_game(state: &AppState, call: &SteamCall) -> SteamResult {
    let (stored, progress) = match read_user(state, call).await? {
        UserRead::Progress(s, p) => (s, p),
        UserRead::Answer(r) => return Ok(r),
    };
    let schema = &stored.schema;
    let user = call.params.steam_id()?;
    let stats: Vec<(String, Node)> = schema
        .stats()
        .iter()
        .filter_map(|def| {
            let v = progress.stats.get(def.name.as_str())?;
            Some((def.name.to_string(), stat_node(v, def)))
        })
        .collect();
    let achieved: Vec<String> = schema
        .achievements()
        .iter()
        .filter(|def| progress.is_unlocked(def.name.as_str()))
        .map(|def| def.name.to_string())
        .collect();
    let (stats, achievements) = if call.doc.version == 1 {
        (
            Node::Obj(
                stats
                    .into_iter()
                    .map(|(n, v)| (n, Node::obj([("value", v)])))
                    .collect(),
            ),
            Node::Obj(
                achieved
                    .into_iter()
                    .map(|n| (n, Node::obj([("achieved", Node::Int(1))])))
                    .collect(),
            ),
        )
    } else {
        (
            Node::arr(
                "stat",
                stats
                    .into_iter()
                    .map(|(n, v)| Node::obj([("name", Node::Str(n)), ("value", v)]))
                    .collect(),
            ),
            Node::arr(
                "achievement",
                achieved
                    .into_iter()
                    .map(|n| Node::obj([("name", Node::Str(n)), ("achieved", Node::Int(1))]))
                    .collect(),
            ),
        )
    };
    let mut fields = vec![
        ("steamID".to_owned(), Node::str(user.to_string())),
        ("gameName".to_owned(), Node::str(&schema.settings().name)),
    ];
    if !schema.stats().is_empty() {
        fields.push(("stats".into(), stats));
    }
    if !schema.achievements().is_empty() {
        fields.push(("achievements".into(), achievements));
    }
    ok(call, &Node::obj([("playerstats", Node::Obj(fields))]))
}

// ---- schema ----

fn default_node(def: &laurel_core::StatDef) -> Node {
    match def.kind {
        StatKind::Int => Node::Int(def.default as i64),
        StatKind::Float | StatKind::AvgRate => Node::F32(def.default as f32),
    }
}

fn schema_node(schema: &Schema, version: u64, lang: &str) -> Node {
    let stats: Vec<Node> = schema
        .stats()
        .iter()
        .map(|def| {
            Node::obj([
                ("name", Node::str(def.name.as_str())),
                ("defaultvalue", default_node(def)),
                (
                    "displayName",
                    Node::str(def.display_name.clone().unwrap_or_default()),
                ),
            ])
        })
        .collect();
    let achievements: Vec<Node> = schema
        .achievements()
        .iter()
        .map(|def| {
            let mut fields = vec![
                ("name".to_owned(), Node::str(def.name.as_str())),
                ("defaultvalue".to_owned(), Node::Int(0)),
                (
                    "displayName".to_owned(),
                    Node::str(def.display_name.get(lang)),
                ),
                ("hidden".to_owned(), Node::Int(i64::from(def.hidden))),
            ];
            // Steam leaves the description of hidden achievements out.
            if !def.hidden {
                fields.push(("description".into(), Node::str(def.description.get(lang))));
            }
            fields.push((
                "icon".into(),
                Node::str(def.icon.clone().unwrap_or_default()),
            ));
            fields.push((
                "icongray".into(),
                Node::str(def.icon_gray.clone().unwrap_or_default()),
            ));
            Node::Obj(fields)
        })
        .collect();
    let mut game = vec![
        ("gameName".to_owned(), Node::str(&schema.settings().name)),
        ("gameVersion".to_owned(), Node::str(version.to_string())),
    ];
    let mut available = Vec::new();
    if !stats.is_empty() {
        available.push(("stats".to_owned(), Node::arr("stat", stats)));
    }
    if !achievements.is_empty() {
        available.push((
            "achievements".to_owned(),
            Node::arr("achievement", achievements),
        ));
    }
    if !available.is_empty() {
        game.push(("availableGameStats".into(), Node::Obj(available)));
    }
    Node::obj([("game", Node::Obj(game))])
}

async fn schema_for_game(state: &AppState, call: &SteamCall) -> SteamResult {
    let app = call.params.app_id("appid")?;
    call.credential.require_app(app)?;
    let Some(stored) = schema_of(state, app).await? else {
        // Steam's answer for a game without a stats schema.
        return ok(call, &Node::obj([("game", Node::Obj(Vec::new()))]));
    };
    let lang = language(call).unwrap_or("english");
    ok(call, &schema_node(&stored.schema, stored.version, lang))
}

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
    require_unless_public(call, &stored)?;
    if stored.schema.achievements().is_empty() {
        return empty();
    }
    let global = match state.global_percentages(&stored).await {
        Ok(g) => g,
        Err(StoreError::UnknownApp(_)) => return empty(),
        Err(e) => return Err(store_failure(&e)),
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
    let achievements = if call.doc.version == 1 {
        Node::obj([("achievement", list)])
    } else {
        list
    };
    ok(
        call,
        &Node::obj([(
            "achievementpercentages",
            Node::obj([("achievements", achievements)]),
        )]),
    )
}

/// `{"response":{"result":N,"error":…}}` with HTTP 200: how Steam reports a
/// refused `GetGlobalStatsForGame` (the HTTP status stays 200).
fn response_error(call: &SteamCall, result: i64, error: String) -> SteamResult {
    ok(
        call,
        &Node::obj([(
            "response",
            Node::obj([("result", Node::Int(result)), ("error", Node::Str(error))]),
        )]),
    )
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

/// The names `name[0]` … `name[count-1]`: exactly those, each once.
fn indexed(call: &SteamCall, base: &str, count: u32) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        match call.params.get(&format!("{base}[{i}]")) {
            Some(v) if !v.is_empty() => out.push(v.to_owned()),
            _ => return Err(format!("{base}[{i}] is missing (count is {count})")),
        }
    }
    for name in call.params.names() {
        let Some(index) = name
            .strip_prefix(base)
            .and_then(|r| r.strip_prefix('['))
            .and_then(|r| r.strip_suffix(']'))
        else {
            continue;
        };
        match index.parse::<u32>() {
            Ok(i) if i < count && index == i.to_string() => {}
            _ => {
                let shown: String = name.chars().take(40).collect();
                return Err(format!(
                    "{shown:?} is not one of {base}[0]..{base}[{}] (count is {count})",
                    count.saturating_sub(1)
                ));
            }
        }
    }
    Ok(out)
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
    let names = match indexed(call, "name", count) {
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
    require_unless_public(call, &stored)?;
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
        Err(e) => return Err(store_failure(&e)),
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
    ok(
        call,
        &Node::obj([(
            "response",
            Node::obj([
                ("globalstats", Node::Obj(globalstats)),
                ("result", Node::Int(i64::from(EResult::Ok.code()))),
            ]),
        )]),
    )
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
    require_unless_public(call, &stored)?;
    // A player asking with their own token is told how many others play,
    // as Steam's client call (`GetNumberOfCurrentPlayers`) does.
    let asking = match &call.credential {
        Credential::User(claims) if claims.app == app => Some(claims.user),
        _ => None,
    };
    let count = state.players().current_besides(app, asking, Instant::now());
    ok(
        call,
        &Node::obj([(
            "response",
            Node::obj([
                ("player_count", Node::Int(count as i64)),
                ("result", Node::Int(i64::from(EResult::Ok.code()))),
            ]),
        )]),
    )
}

// ---- GetPlayerSummaries ----

/// Most ids one `GetPlayerSummaries` call takes (Steam's limit).
const MAX_SUMMARY_IDS: usize = 100;

/// Steam's persona shape, from the app's profiles: Steam's personas are
/// global, Laurel's names are per app, so the app is the credential's (a
/// server key's, or a user token's). A user token reads itself, and others
/// where the app has `public_progress`. Every well-formed id is answered
/// (a user without a name shows their id); malformed ones are skipped, as
/// Steam skips unknown accounts. No avatars: the avatar fields are empty.
async fn player_summaries(state: &AppState, call: &SteamCall) -> SteamResult {
    let (app, asking) = match &call.credential {
        Credential::Server(k) => (k.app, None),
        Credential::User(c) => (c.app, Some(c.user)),
        Credential::None => {
            return Err(HtmlError::BadRequest("Parameter 'key' is missing".into()));
        }
    };
    let list = call.params.required("steamids")?;
    let ids: Vec<SteamId> = list
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .take(MAX_SUMMARY_IDS)
        .collect();
    let Some(stored) = schema_of(state, app).await? else {
        return Err(HtmlError::Forbidden);
    };
    let public = stored.schema.settings().public_progress;
    let now = Instant::now();
    let mut players = Vec::with_capacity(ids.len());
    for user in ids {
        if asking.is_some_and(|me| me != user) && !public {
            continue;
        }
        let name = state
            .store()
            .display_name(app, user)
            .await
            .map_err(|e| store_failure(&e))?;
        let playing = state.players().is_current(app, user, now);
        players.push(Node::obj([
            ("steamid", Node::str(user.to_string())),
            (
                "communityvisibilitystate",
                Node::Int(if public { 3 } else { 1 }),
            ),
            ("profilestate", Node::Int(1)),
            (
                "personaname",
                Node::str(name.unwrap_or_else(|| user.to_string())),
            ),
            ("profileurl", Node::str("")),
            ("avatar", Node::str("")),
            ("avatarmedium", Node::str("")),
            ("avatarfull", Node::str("")),
            ("avatarhash", Node::str("")),
            ("personastate", Node::Int(i64::from(playing))),
        ]));
    }
    ok(
        call,
        &Node::obj([(
            "response",
            Node::obj([("players", Node::arr("player", players))]),
        )]),
    )
}

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
        Credential::None => return Err(HtmlError::BadRequest("Parameter 'key' is missing".into())),
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
    let (names, values) = match (indexed(call, "name", count), indexed(call, "value", count)) {
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
            // Keeps the client API's snapshot of this user current.
            let _ = crate::handlers::progress_snapshot(state, app, user, &stored, &progress);
            state.players().touch(app, user, Instant::now());
            ok(
                call,
                &Node::obj([(
                    "result",
                    Node::obj([("result", Node::Int(i64::from(EResult::Ok.code())))]),
                )]),
            )
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
        Err(e) => Err(store_failure(&e)),
    }
}

// ---- ISteamWebAPIUtil ----

/// `Tue Nov 14 22:13:20 2023`: C's `asctime` layout, in UTC (Steam writes
/// its own server's local time; Laurel's servers agree on UTC).
pub(crate) fn asctime(time: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = time.div_euclid(SECONDS_PER_DAY);
    let secs = time.rem_euclid(SECONDS_PER_DAY);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{weekday} {} {day:>2} {:02}:{:02}:{:02} {year}",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn server_info(call: &SteamCall) -> Response {
    let now = unix_now();
    call.format.respond(
        StatusCode::OK,
        &Node::obj([
            ("servertime", Node::Int(now)),
            ("servertimestring", Node::str(asctime(now))),
        ]),
    )
}

/// Generated from the route table: interfaces by name, each method version
/// once, with the parameters exactly as `required_params` enforces them.
fn supported_api_list(call: &SteamCall) -> Response {
    let mut interfaces: BTreeMap<&str, Vec<&super::SteamMethodDoc>> = BTreeMap::new();
    for doc in crate::routes::ROUTES.iter().filter_map(|r| r.steam) {
        interfaces.entry(doc.interface).or_default().push(doc);
    }
    let list: Vec<Node> = interfaces
        .into_iter()
        .map(|(name, mut methods)| {
            methods.sort_by_key(|d| (d.name, d.version));
            let methods = methods
                .into_iter()
                .map(|d| {
                    let method = crate::routes::ROUTES
                        .iter()
                        .find(|r| r.steam == Some(d))
                        .map_or("GET", |r| r.method);
                    let params = d
                        .params
                        .iter()
                        .map(|p| {
                            Node::obj([
                                ("name", Node::str(p.name)),
                                ("type", Node::str(p.kind)),
                                ("optional", Node::Bool(p.optional)),
                                ("description", Node::str(p.description)),
                            ])
                        })
                        .collect();
                    Node::obj([
                        ("name", Node::str(d.name)),
                        ("version", Node::Int(i64::from(d.version))),
                        ("httpmethod", Node::str(method)),
                        ("parameters", Node::arr("parameter", params)),
                    ])
                })
                .collect();
            Node::obj([
                ("name", Node::str(name)),
                ("methods", Node::arr("method", methods)),
            ])
        })
        .collect();
    call.format.respond(
        StatusCode::OK,
        &Node::obj([(
            "apilist",
            Node::obj([("interfaces", Node::arr("interface", list))]),
        )]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_is_c_layout_in_utc() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
        // Steam's example (1625396869) shown in UTC.
        assert_eq!(asctime(1_625_396_869), "Sun Jul  4 11:07:49 2021");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }

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
