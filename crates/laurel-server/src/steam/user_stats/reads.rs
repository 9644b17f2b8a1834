//! `ISteamUserStats`' per-user reads and the schema: `GetPlayerAchievements`,
//! `GetUserStatsForGame`, `GetSchemaForGame`.

use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use laurel_core::{Schema, StatKind, StatValue, UserProgress};
use laurel_store::{StoreError, StoredSchema};

use crate::state::AppState;
use crate::steam::format::{HtmlError, Node};
use crate::steam::method::{
    APPID_OF_GAME, Credential, KEY, STEAMID, SteamCall, SteamMethod, SteamParam, SteamResult,
    USER_STATS, param, schema_of,
};

const USER_STATS_PARAMS: &[SteamParam] = &[KEY, STEAMID, APPID_OF_GAME];

const GET_USER_STATS_FOR_GAME: SteamMethod = SteamMethod {
    interface: USER_STATS,
    name: "GetUserStatsForGame",
    version: 1,
    http: "GET",
    body_limit: 0,
    params: USER_STATS_PARAMS,
    answer: "/playerstats/stats",
    handler: |state, call| Box::pin(user_stats_for_game(state, call)),
};

pub(crate) const METHODS: &[SteamMethod] = &[
    SteamMethod {
        interface: USER_STATS,
        name: "GetPlayerAchievements",
        version: 1,
        http: "GET",
        body_limit: 0,
        params: &[
            KEY,
            STEAMID,
            param("appid", "uint32", false, "AppID to get achievements for"),
            param("l", "string", true, "Language to return strings for"),
        ],
        answer: "/playerstats/achievements",
        handler: |state, call| Box::pin(player_achievements(state, call)),
    },
    SteamMethod {
        interface: USER_STATS,
        name: "GetSchemaForGame",
        version: 2,
        http: "GET",
        body_limit: 0,
        params: &[
            KEY,
            APPID_OF_GAME,
            param(
                "l",
                "string",
                true,
                "localized language to return (english, french, etc.)",
            ),
        ],
        answer: "/game/availableGameStats",
        handler: |state, call| Box::pin(schema_for_game(state, call)),
    },
    GET_USER_STATS_FOR_GAME,
    SteamMethod {
        version: 2,
        ..GET_USER_STATS_FOR_GAME
    },
];

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
        Err(e) => return Err(HtmlError::from_store(&e)),
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
    call.ok(&Node::obj([(
        "playerstats",
        Node::obj([
            ("steamID", Node::str(user.to_string())),
            ("gameName", Node::str(&schema.settings().name)),
            ("achievements", Node::arr("achievement", achievements)),
            ("success", Node::Bool(true)),
        ]),
    )]))
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
    let (stats, achievements) = if call.version == 1 {
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
    call.ok(&Node::obj([("playerstats", Node::Obj(fields))]))
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
        return call.ok(&Node::obj([("game", Node::Obj(Vec::new()))]));
    };
    let lang = language(call).unwrap_or("english");
    call.ok(&schema_node(&stored.schema, stored.version, lang))
}
