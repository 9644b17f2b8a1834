//! `ISteamUser/GetPlayerSummaries`: display names, as Steam's profiles give them.

use std::time::Instant;

use laurel_core::SteamId;

use crate::state::AppState;
use crate::steam::format::{HtmlError, Node};
use crate::steam::method::{
    Credential, KEY, SteamCall, SteamMethod, SteamResult, USER, param, schema_of,
};

pub(crate) const METHODS: &[SteamMethod] = &[SteamMethod {
    interface: USER,
    name: "GetPlayerSummaries",
    version: 2,
    http: "GET",
    body_limit: 0,
    params: &[
        KEY,
        param(
            "steamids",
            "string",
            false,
            "Comma-delimited list of SteamIDs (max: 100)",
        ),
    ],
    answer: "/response/players",
    handler: |state, call| Box::pin(player_summaries(state, call)),
}];

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
            return Err(HtmlError::key_missing());
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
            .map_err(|e| HtmlError::from_store(&e))?;
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
    call.ok(&Node::obj([(
        "response",
        Node::obj([("players", Node::arr("player", players))]),
    )]))
}
