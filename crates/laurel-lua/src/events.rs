//! Listeners and the delivery of events to them.
//!
//! Events are queued by the SDK's worker thread and delivered only here, on
//! the Lua thread, from `steamworks.update()` or the `enterFrame` listener
//! the module puts on Solar2D's `Runtime`. Each event is dispatched to a copy
//! of its listener list, so a listener may add or remove listeners
//! (itself included) and may call any module function; what those calls
//! cause is delivered by a later `update()`, never from inside the call.

use std::collections::VecDeque;

use laurel_client::{Event, LeaderboardCall, SteamId};
use mlua::{Function, Lua, Table, Value};

/// The event names `addEventListener` accepts (the plugin's reference list).
/// The leaderboard events (`leaderboardEntries`, `leaderboardInfo`,
/// `setHighScore`) go only to the listener of the call they answer, so a
/// listener added for them never fires, as in the plugin; so do the events
/// Laurel does not produce (accepted so that games that listen for them load).
pub const EVENT_NAMES: [&str; 11] = [
    "achievementImageUpdate",
    "achievementInfoUpdate",
    "leaderboardEntries",
    "leaderboardInfo",
    "microtransactionAuthorization",
    "overlayStatus",
    "setHighScore",
    "userInfoUpdate",
    "userProgressSave",
    "userProgressUnload",
    "userProgressUpdate",
];

/// Most listeners kept per event name.
pub const MAX_LISTENERS_PER_EVENT: usize = 1024;

/// A registered listener: a function, or a table whose method named like
/// the event is called as `listener:eventName(event)`.
#[derive(Clone)]
pub enum Listener {
    Function(Function),
    Table(Table),
}

impl Listener {
    fn same(&self, other: &Listener) -> bool {
        match (self, other) {
            (Listener::Function(a), Listener::Function(b)) => a.to_pointer() == b.to_pointer(),
            (Listener::Table(a), Listener::Table(b)) => a.to_pointer() == b.to_pointer(),
            _ => false,
        }
    }
}

#[derive(Default)]
pub struct Listeners {
    by_event: [Vec<Listener>; EVENT_NAMES.len()],
}

pub fn event_index(name: &str) -> Option<usize> {
    EVENT_NAMES.iter().position(|n| *n == name)
}

pub enum Added {
    Yes,
    AlreadyThere,
    Full,
}

impl Listeners {
    pub fn add(&mut self, event: usize, listener: Listener) -> Added {
        let list = &mut self.by_event[event];
        if list.iter().any(|l| l.same(&listener)) {
            return Added::AlreadyThere;
        }
        if list.len() >= MAX_LISTENERS_PER_EVENT {
            return Added::Full;
        }
        list.push(listener);
        Added::Yes
    }

    pub fn remove(&mut self, event: usize, listener: &Listener) -> bool {
        let list = &mut self.by_event[event];
        let before = list.len();
        list.retain(|l| !l.same(listener));
        list.len() != before
    }

    /// A copy of an event's listeners, for one dispatch.
    pub fn snapshot(&self, event: &str) -> Vec<Listener> {
        event_index(event).map_or_else(Vec::new, |i| self.by_event[i].clone())
    }
}

/// The Lua table of one event, or `None` for an SDK event the plugin does
/// not have. Every event carries `name`, `isError`, `resultCode` and
/// `userSteamId` (a decimal string); `achievementInfoUpdate` adds
/// `achievementName`, `isGroup = false`, and `currentProgress` /
/// `maxProgress` only for a progress indication; a `userProgressSave` the
/// server refused adds `details`, an array of `{ name=, rule=, message= }`
/// (Laurel's addition).
pub fn event_table(lua: &Lua, event: &Event, current_user: SteamId) -> mlua::Result<Option<Table>> {
    // `if let` rather than `match`: the SDK may grow events the plugin lacks.
    let t = lua.create_table_with_capacity(0, 8)?;
    let (is_error, code, user) = if let Event::UserProgressUpdate {
        is_error,
        result_code,
        user_steam_id,
    } = event
    {
        (*is_error, result_code.code(), *user_steam_id)
    } else if let Event::UserProgressSave {
        is_error,
        result_code,
        user_steam_id,
        details,
    } = event
    {
        if !details.is_empty() {
            let list = lua.create_table_with_capacity(details.len(), 0)?;
            for (i, d) in details.iter().enumerate() {
                let entry = lua.create_table_with_capacity(0, 3)?;
                entry.raw_set("name", d.name.as_str())?;
                entry.raw_set("rule", d.rule.as_str())?;
                entry.raw_set("message", d.message.as_str())?;
                list.raw_set(i + 1, entry)?;
            }
            t.raw_set("details", list)?;
        }
        (*is_error, result_code.code(), *user_steam_id)
    } else if let Event::AchievementInfoUpdate {
        achievement_name,
        current_progress,
        max_progress,
    } = event
    {
        t.raw_set("achievementName", achievement_name.as_str())?;
        t.raw_set("isGroup", false)?;
        if let (Some(cur), Some(max)) = (current_progress, max_progress) {
            t.raw_set("currentProgress", *cur)?;
            t.raw_set("maxProgress", *max)?;
        }
        (false, 1, current_user)
    } else if let Event::UserProgressUnload { user_steam_id } = event {
        (false, 1, *user_steam_id)
    } else if let Event::UserInfoUpdate { user_steam_id } = event {
        // Laurel's profiles change only in name.
        t.raw_set("nameChanged", true)?;
        for flag in [
            "nicknameChanged",
            "steamLevelChanged",
            "statusChanged",
            "relationshipChanged",
            "facebookInfoChanged",
            "smallAvatarChanged",
            "mediumAvatarChanged",
            "largeAvatarChanged",
        ] {
            t.raw_set(flag, false)?;
        }
        (false, 1, *user_steam_id)
    } else {
        return Ok(None);
    };
    t.raw_set("name", event.name())?;
    t.raw_set("isError", is_error)?;
    t.raw_set("resultCode", code)?;
    t.raw_set("userSteamId", user.to_string())?;
    Ok(Some(t))
}

/// A leaderboard call waiting for its answer: its events go to this
/// listener only, never to `addEventListener` listeners.
pub struct BoardCall {
    pub listener: Function,
    /// The name the game asked with (the events' `leaderboardName`).
    pub name: String,
}

/// `Some(call)` for a leaderboard event (`None` inside: an upload of an
/// earlier run, which no listener waits for); `None` for other events.
pub fn board_call_of(event: &Event) -> Option<Option<LeaderboardCall>> {
    match event {
        Event::LeaderboardFindResult { call, .. }
        | Event::LeaderboardScoresDownloaded { call, .. } => Some(Some(*call)),
        Event::LeaderboardScoreUploaded { call, .. } => Some(*call),
        _ => None,
    }
}

/// The Lua table of a leaderboard event, with exactly the plugin's fields:
/// - `leaderboardInfo`: `name`, `isError`, `leaderboardName`; when not an
///   error also `leaderboardHandle` (a decimal string), `entryCount`,
///   `sortMethod`, `displayType`.
/// - `leaderboardEntries`: `name`, `isError`, `leaderboardName`,
///   `leaderboardHandle` (`"0"` on error), `entries` (an array of
///   `{ userSteamId, globalRank, score }`; empty on error).
/// - `setHighScore`: `name`, `isError`, `leaderboardHandle` (`"0"` on
///   error), `leaderboardName`, `scoreChanged`; `currentGlobalRank` and
///   `previousGlobalRank` only when the score changed and the rank is above 0.
pub fn board_event_table(
    lua: &Lua,
    event: &Event,
    asked_name: &str,
) -> mlua::Result<Option<Table>> {
    let t = lua.create_table_with_capacity(0, 8)?;
    t.raw_set("name", event.name())?;
    t.raw_set("leaderboardName", asked_name)?;
    let handle_text =
        |is_error: bool, handle: Option<laurel_client::LeaderboardHandle>| match handle {
            Some(h) if !is_error => h.to_string(),
            _ => "0".to_owned(),
        };
    match event {
        Event::LeaderboardFindResult {
            is_error, board, ..
        } => {
            let found = board.as_ref().filter(|_| !*is_error);
            t.raw_set("isError", found.is_none())?;
            if let Some(info) = found {
                t.raw_set("leaderboardHandle", info.handle.to_string())?;
                t.raw_set("entryCount", info.entry_count)?;
                t.raw_set("sortMethod", info.sort.as_str())?;
                t.raw_set("displayType", info.display.as_str())?;
            }
        }
        Event::LeaderboardScoresDownloaded {
            is_error,
            board,
            entries,
            ..
        } => {
            t.raw_set("isError", *is_error)?;
            t.raw_set("leaderboardHandle", handle_text(*is_error, *board))?;
            let list = lua.create_table_with_capacity(entries.len(), 0)?;
            for (i, e) in entries.iter().enumerate() {
                let entry = lua.create_table_with_capacity(0, 3)?;
                entry.raw_set("userSteamId", e.steam_id.to_string())?;
                entry.raw_set("globalRank", e.global_rank)?;
                entry.raw_set("score", e.score)?;
                list.raw_set(i + 1, entry)?;
            }
            t.raw_set("entries", list)?;
        }
        Event::LeaderboardScoreUploaded {
            is_error,
            board,
            score_changed,
            global_rank_new,
            global_rank_previous,
            ..
        } => {
            t.raw_set("isError", *is_error)?;
            t.raw_set("leaderboardHandle", handle_text(*is_error, *board))?;
            let changed = *score_changed && !*is_error;
            t.raw_set("scoreChanged", changed)?;
            if changed {
                if *global_rank_new > 0 {
                    t.raw_set("currentGlobalRank", *global_rank_new)?;
                }
                if *global_rank_previous > 0 {
                    t.raw_set("previousGlobalRank", *global_rank_previous)?;
                }
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(t))
}

/// Calls every listener of `snapshot` with `event`. The first error a
/// listener raises stops this event's dispatch and is returned.
pub fn call_listeners(name: &str, snapshot: Vec<Listener>, event: &Table) -> mlua::Result<()> {
    for listener in snapshot {
        match listener {
            Listener::Function(f) => f.call::<()>(event.clone())?,
            Listener::Table(t) => {
                // The method is looked up at each dispatch, as Solar2D does.
                if let Value::Function(f) = t.get::<Value>(name)? {
                    f.call::<()>((t, event.clone()))?;
                }
            }
        }
    }
    Ok(())
}

/// Events taken from the SDK and not yet dispatched (a listener that raised
/// leaves the rest here for the next `update()`).
#[derive(Default)]
pub struct Pending {
    pub queue: VecDeque<Event>,
}
