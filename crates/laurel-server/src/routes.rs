//! The route table of the client and admin API, as data: the router
//! ([`crate::router()`]) is built from [`ROUTES`] and nothing else, and a test
//! checks the OpenAPI document against it. The Steam Web API's methods are
//! listed by [`crate::steam::registry`].

/// Largest body of a client route (a store batch of `MAX_BATCH_ENTRIES` short names fits).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest body of `PUT …/profile` (a display name is at most 64 bytes;
/// room for escapes).
pub const MAX_PROFILE_BODY_BYTES: usize = 1024;
/// Largest schema document the admin API takes (10 000 achievements with localized texts).
pub const MAX_SCHEMA_BODY_BYTES: usize = 8 * 1024 * 1024;

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
    ListLeaderboards,
    FindLeaderboard,
    FindOrCreateLeaderboard,
    UploadScore,
    LeaderboardEntries,
    DeleteLeaderboard,
    ResetLeaderboard,
    DeleteLeaderboardEntry,
    PutFriends,
    GetFriends,
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
    route(
        "GET",
        "/api/v1/apps/{app_id}/leaderboards",
        Endpoint::ListLeaderboards,
        0,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/leaderboards/find",
        Endpoint::FindLeaderboard,
        0,
    ),
    route(
        "POST",
        "/api/v1/apps/{app_id}/leaderboards",
        Endpoint::FindOrCreateLeaderboard,
        MAX_BODY_BYTES,
    ),
    route(
        "POST",
        "/api/v1/apps/{app_id}/leaderboards/{board_id}/users/{steam_id}/score",
        Endpoint::UploadScore,
        MAX_BODY_BYTES,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/leaderboards/{board_id}/entries",
        Endpoint::LeaderboardEntries,
        0,
    ),
    route(
        "DELETE",
        "/api/v1/apps/{app_id}/leaderboards/{board_id}",
        Endpoint::DeleteLeaderboard,
        0,
    ),
    route(
        "POST",
        "/api/v1/apps/{app_id}/leaderboards/{board_id}/reset",
        Endpoint::ResetLeaderboard,
        0,
    ),
    route(
        "DELETE",
        "/api/v1/apps/{app_id}/leaderboards/{board_id}/users/{steam_id}/score",
        Endpoint::DeleteLeaderboardEntry,
        0,
    ),
    route(
        "PUT",
        "/api/v1/apps/{app_id}/users/{steam_id}/friends",
        Endpoint::PutFriends,
        MAX_BODY_BYTES,
    ),
    route(
        "GET",
        "/api/v1/apps/{app_id}/users/{steam_id}/friends",
        Endpoint::GetFriends,
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
];

/// The body limit of a route, for the message of a 413.
pub fn body_limit_of(method: &str, path: &str) -> Option<usize> {
    ROUTES
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map(|r| r.body_limit)
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
