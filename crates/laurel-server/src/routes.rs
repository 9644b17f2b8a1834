//! The route table. The router is built from [`ROUTES`] and nothing else: a
//! test checks the OpenAPI document against its client-API routes, and the
//! Steam Web API's `GetSupportedAPIList` is generated from its Steam routes,
//! so neither description can drift from what is served.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::routing::{MethodRouter, any, delete, get, post, put};

use crate::handlers;
use crate::state::AppState;
use crate::steam::{self, SteamMethodDoc, methods as sm};

/// Largest body of a client route (a store batch of `MAX_BATCH_ENTRIES` short names fits).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest body of `PUT …/profile` (a display name is at most 64 bytes;
/// room for escapes).
pub const MAX_PROFILE_BODY_BYTES: usize = 1024;
/// Largest schema document the admin API takes (10 000 achievements with localized texts).
pub const MAX_SCHEMA_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest form body of `SetUserStatsForGame` (a full batch of
/// `MAX_BATCH_ENTRIES` name/value pairs with long names fits).
pub const MAX_STEAM_FORM_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Health,
    Metrics,
    OpenApi,
    CreateSession,
    GetSchema,
    GetProgress,
    GetProfile,
    PutProfile,
    StoreProgress,
    ResetProgress,
    GlobalAchievements,
    GlobalStats,
    AdminListApps,
    AdminPutSchema,
    AdminListKeys,
    AdminCreateKey,
    AdminRevokeKey,
    AdminResetProgress,
    AdminRevokeTokens,
    AdminAuditLog,
    AdminUndo,
    // Steam Web API (`steam` module).
    SteamGlobalAchievementPercentages,
    SteamGlobalStatsForGame,
    SteamNumberOfCurrentPlayers,
    SteamPlayerSummaries,
    SteamPlayerAchievements,
    SteamSchemaForGame,
    SteamUserStatsForGame,
    SteamSetUserStatsForGame,
    SteamServerInfo,
    SteamSupportedApiList,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// `GET`, `POST`, `PUT` or `DELETE`, as the OpenAPI document spells it (lowercased there).
    pub method: &'static str,
    /// axum's path syntax, which is also OpenAPI's (`{app_id}`).
    pub path: &'static str,
    pub endpoint: Endpoint,
    /// Largest accepted body; 0 for routes that read none.
    pub body_limit: usize,
    /// `Some` for a Steam Web API method: what `GetSupportedAPIList` says of
    /// it. Such a route is served at `/Interface/Method/vN` with or without
    /// zero padding and trailing slash; `path` is Steam's canonical spelling.
    pub steam: Option<&'static SteamMethodDoc>,
}

impl RouteSpec {
    /// A route of the client API (`/api/v1`, described by the OpenAPI document).
    pub fn is_client_api(&self) -> bool {
        self.steam.is_none()
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    body_limit: usize,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        endpoint,
        body_limit,
        steam: None,
    }
}

const fn steam_route(
    method: &'static str,
    path: &'static str,
    doc: &'static SteamMethodDoc,
    endpoint: Endpoint,
    body_limit: usize,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        endpoint,
        body_limit,
        steam: Some(doc),
    }
}

pub const ROUTES: &[RouteSpec] = &[
    route("GET", "/healthz", Endpoint::Health, 0),
    route("GET", "/metrics", Endpoint::Metrics, 0),
    route("GET", "/api/v1/openapi.json", Endpoint::OpenApi, 0),
    route(
        "POST",
        "/api/v1/sessions",
        Endpoint::CreateSession,
        MAX_BODY_BYTES,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/schema",
        Endpoint::GetSchema,
        0,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/users/{steam_id}/progress",
        Endpoint::GetProgress,
        0,
    ),
    route(
        "POST",
        "/api/v1/apps/{app_id}/users/{steam_id}/progress",
        Endpoint::StoreProgress,
        MAX_BODY_BYTES,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/users/{steam_id}/profile",
        Endpoint::GetProfile,
        0,
    ),
    route(
        "PUT",
        "/api/v1/apps/{app_id}/users/{steam_id}/profile",
        Endpoint::PutProfile,
        MAX_PROFILE_BODY_BYTES,
    ),
    route(
        "POST",
        "/api/v1/apps/{app_id}/users/{steam_id}/reset",
        Endpoint::ResetProgress,
        MAX_BODY_BYTES,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/global/achievements",
        Endpoint::GlobalAchievements,
        0,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/global/stats",
        Endpoint::GlobalStats,
        0,
    ),
    route("GET", "/api/v1/admin/apps", Endpoint::AdminListApps, 0),
    route(
        "PUT",
        "/api/v1/admin/apps/{app_id}/schema",
        Endpoint::AdminPutSchema,
        MAX_SCHEMA_BODY_BYTES,
    ),
    route(
        "GET",
        "/api/v1/admin/apps/{app_id}/keys",
        Endpoint::AdminListKeys,
        0,
    ),
    route(
        "POST",
        "/api/v1/admin/apps/{app_id}/keys",
        Endpoint::AdminCreateKey,
        MAX_BODY_BYTES,
    ),
    route(
        "DELETE",
        "/api/v1/admin/apps/{app_id}/keys/{key_id}",
        Endpoint::AdminRevokeKey,
        0,
    ),
    route(
        "POST",
        "/api/v1/admin/apps/{app_id}/users/{steam_id}/reset",
        Endpoint::AdminResetProgress,
        MAX_BODY_BYTES,
    ),
    route(
        "POST",
        "/api/v1/admin/apps/{app_id}/revocations",
        Endpoint::AdminRevokeTokens,
        MAX_BODY_BYTES,
    ),
    route("GET", "/api/v1/admin/audit", Endpoint::AdminAuditLog, 0),
    route(
        "POST",
        "/api/v1/admin/audit/{audit_id}/undo",
        Endpoint::AdminUndo,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v1/",
        &sm::GET_GLOBAL_ACHIEVEMENT_PERCENTAGES_V1,
        Endpoint::SteamGlobalAchievementPercentages,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/",
        &sm::GET_GLOBAL_ACHIEVEMENT_PERCENTAGES_V2,
        Endpoint::SteamGlobalAchievementPercentages,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUser/GetPlayerSummaries/v2/",
        &sm::GET_PLAYER_SUMMARIES_V2,
        Endpoint::SteamPlayerSummaries,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetGlobalStatsForGame/v1/",
        &sm::GET_GLOBAL_STATS_FOR_GAME_V1,
        Endpoint::SteamGlobalStatsForGame,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetNumberOfCurrentPlayers/v1/",
        &sm::GET_NUMBER_OF_CURRENT_PLAYERS_V1,
        Endpoint::SteamNumberOfCurrentPlayers,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetPlayerAchievements/v1/",
        &sm::GET_PLAYER_ACHIEVEMENTS_V1,
        Endpoint::SteamPlayerAchievements,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetSchemaForGame/v2/",
        &sm::GET_SCHEMA_FOR_GAME_V2,
        Endpoint::SteamSchemaForGame,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetUserStatsForGame/v1/",
        &sm::GET_USER_STATS_FOR_GAME_V1,
        Endpoint::SteamUserStatsForGame,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamUserStats/GetUserStatsForGame/v2/",
        &sm::GET_USER_STATS_FOR_GAME_V2,
        Endpoint::SteamUserStatsForGame,
        0,
    ),
    steam_route(
        "POST",
        "/ISteamUserStats/SetUserStatsForGame/v1/",
        &sm::SET_USER_STATS_FOR_GAME_V1,
        Endpoint::SteamSetUserStatsForGame,
        MAX_STEAM_FORM_BYTES,
    ),
    steam_route(
        "GET",
        "/ISteamWebAPIUtil/GetServerInfo/v1/",
        &sm::GET_SERVER_INFO_V1,
        Endpoint::SteamServerInfo,
        0,
    ),
    steam_route(
        "GET",
        "/ISteamWebAPIUtil/GetSupportedAPIList/v1/",
        &sm::GET_SUPPORTED_API_LIST_V1,
        Endpoint::SteamSupportedApiList,
        0,
    ),
];

/// The body limit of a route, for the message of a 413.
pub fn body_limit_of(method: &str, path: &str) -> Option<usize> {
    ROUTES
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map(|r| r.body_limit)
}

/// The method router of a client-API route. Steam routes are served by
/// [`steam::dispatch`], one method router per Steam method for all its versions.
fn method_router(spec: &RouteSpec) -> MethodRouter<AppState> {
    use Endpoint::*;
    let mr = match spec.endpoint {
        Health => get(handlers::health),
        Metrics => get(handlers::metrics),
        OpenApi => get(handlers::openapi),
        CreateSession => post(handlers::create_session),
        GetSchema => get(handlers::get_schema),
        GetProgress => get(handlers::get_progress),
        GetProfile => get(handlers::get_profile),
        PutProfile => put(handlers::put_profile),
        StoreProgress => post(handlers::store_progress),
        ResetProgress => post(handlers::reset_progress),
        GlobalAchievements => get(handlers::global_achievements),
        GlobalStats => get(handlers::global_stats),
        AdminListApps => get(handlers::admin_list_apps),
        AdminPutSchema => put(handlers::admin_put_schema),
        AdminListKeys => get(handlers::admin_list_keys),
        AdminCreateKey => post(handlers::admin_create_key),
        AdminRevokeKey => delete(handlers::admin_revoke_key),
        AdminResetProgress => post(handlers::admin_reset_progress),
        AdminRevokeTokens => post(crate::lifecycle::admin_revoke_tokens),
        AdminAuditLog => get(crate::lifecycle::admin_audit_log),
        AdminUndo => post(crate::lifecycle::admin_undo),
        SteamGlobalAchievementPercentages
        | SteamGlobalStatsForGame
        | SteamNumberOfCurrentPlayers
        | SteamPlayerSummaries
        | SteamPlayerAchievements
        | SteamSchemaForGame
        | SteamUserStatsForGame
        | SteamSetUserStatsForGame
        | SteamServerInfo
        | SteamSupportedApiList => any(handlers::method_not_allowed),
    };
    if spec.body_limit > 0 {
        mr.layer(DefaultBodyLimit::max(spec.body_limit))
    } else {
        mr
    }
}

/// The whole HTTP API over `state`. Routes with the same path and different
/// methods merge into one method router.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for spec in ROUTES.iter().filter(|r| r.is_client_api()) {
        router = router.route(spec.path, method_router(spec));
    }
    for (template, versions) in steam::route_templates() {
        let serve = move |state: State<AppState>, request: Request| {
            steam::dispatch(state, versions.clone(), request)
        };
        router = router.route(&template, any(serve));
    }
    router
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .fallback(handlers::unknown_route)
        .layer(crate::envelope::EnvelopeLayer::new(state.clone()))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{a:?}");
            }
        }
    }
}
