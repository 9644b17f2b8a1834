//! The router: every route of [`crate::routes::ROUTES`] with its handler,
//! every Steam method of [`crate::steam::registry`] through the Steam
//! dispatcher, the fallbacks, and the envelope around them all.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::routing::{MethodRouter, any, delete, get, post, put};

use crate::api::{admin, client, leaderboards, service};
use crate::envelope::EnvelopeLayer;
use crate::routes::{Endpoint, ROUTES, RouteSpec};
use crate::state::AppState;
use crate::steam;

/// The method router of a route of the table. The match has no catch-all:
/// a route without a handler does not compile.
fn method_router(spec: &RouteSpec) -> MethodRouter<AppState> {
    use Endpoint::*;
    let mr = match spec.endpoint {
        Health => get(service::health),
        Metrics => get(service::metrics),
        OpenApi => get(service::openapi),
        CreateSession => post(client::create_session),
        GetSchema => get(client::get_schema),
        GetProgress => get(client::get_progress),
        GetProfile => get(client::get_profile),
        PutProfile => put(client::put_profile),
        StoreProgress => post(client::store_progress),
        ResetProgress => post(client::reset_progress),
        GlobalAchievements => get(client::global_achievements),
        GlobalStats => get(client::global_stats),
        AdminListApps => get(admin::admin_list_apps),
        AdminPutSchema => put(admin::admin_put_schema),
        AdminListKeys => get(admin::admin_list_keys),
        AdminCreateKey => post(admin::admin_create_key),
        AdminRevokeKey => delete(admin::admin_revoke_key),
        AdminResetProgress => post(admin::admin_reset_progress),
        AdminRevokeTokens => post(admin::admin_revoke_tokens),
        AdminAuditLog => get(admin::admin_audit_log),
        AdminUndo => post(admin::admin_undo),
        ListLeaderboards => get(leaderboards::list),
        FindLeaderboard => get(leaderboards::find),
        FindOrCreateLeaderboard => post(leaderboards::find_or_create),
        UploadScore => post(leaderboards::upload),
        LeaderboardEntries => get(leaderboards::entries),
        DeleteLeaderboard => delete(leaderboards::delete_board),
        ResetLeaderboard => post(leaderboards::reset_board),
        DeleteLeaderboardEntry => delete(leaderboards::delete_entry),
        PutFriends => put(leaderboards::put_friends),
        GetFriends => get(leaderboards::get_friends),
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
    for spec in ROUTES {
        router = router.route(spec.path, method_router(spec));
    }
    for (template, versions) in steam::registry::route_templates() {
        let serve = move |state: State<AppState>, request: Request| {
            steam::dispatch(state, versions.clone(), request)
        };
        router = router.route(&template, any(serve));
    }
    router
        .method_not_allowed_fallback(service::method_not_allowed)
        .fallback(service::unknown_route)
        .layer(EnvelopeLayer::new(state.clone()))
        .with_state(state)
}
