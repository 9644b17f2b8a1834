//! The plugin's functions, with its argument shapes and return values
//! (coronalabs/corona-docs, `markdown/plugin/steamworks/`).

use std::rc::Rc;
use std::time::Duration;

use laurel_client::{Client, EntriesRequest, SteamId, UploadMethod};
use laurel_core::leaderboard::BoardName;
use laurel_core::limits::MAX_BATCH_ENTRIES;
use mlua::{Lua, MultiValue, Table, Value};

use crate::args::{Checks, Place, arg, got};
use crate::convert::{self, StatType};
use crate::events::{self, Added, Listener};
use crate::plugin::{MAX_UPDATE_WAIT, Plugin, guarded};
use crate::{config, log, raw_c_api};

/// What a function returns when it cannot do its work.
#[derive(Clone, Copy)]
enum Fallback {
    Nil,
    False,
}

impl Fallback {
    fn value(self) -> Value {
        match self {
            Fallback::Nil => Value::Nil,
            Fallback::False => Value::Boolean(false),
        }
    }
}

type Body = fn(&Lua, &Rc<Plugin>, &MultiValue) -> mlua::Result<Value>;

const FUNCTIONS: &[(&str, Fallback, Body)] = &[
    ("init", Fallback::False, init),
    ("update", Fallback::Nil, update),
    ("addEventListener", Fallback::False, add_event_listener),
    (
        "removeEventListener",
        Fallback::False,
        remove_event_listener,
    ),
    ("getAchievementNames", Fallback::Nil, get_achievement_names),
    ("getAchievementInfo", Fallback::Nil, get_achievement_info),
    (
        "getAchievementImageInfo",
        Fallback::Nil,
        get_achievement_image_info,
    ),
    ("getUserStatValue", Fallback::Nil, get_user_stat_value),
    ("setUserStatValues", Fallback::False, set_user_stat_values),
    (
        "setAchievementUnlocked",
        Fallback::False,
        set_achievement_unlocked,
    ),
    (
        "setAchievementProgress",
        Fallback::False,
        set_achievement_progress,
    ),
    (
        "requestUserProgress",
        Fallback::False,
        request_user_progress,
    ),
    (
        "requestActivePlayerCount",
        Fallback::False,
        request_active_player_count,
    ),
    ("getUserInfo", Fallback::Nil, get_user_info),
    ("resetUserProgress", Fallback::False, reset_user_progress),
    ("resetUserStats", Fallback::False, reset_user_stats),
    (
        "requestLeaderboardInfo",
        Fallback::False,
        request_leaderboard_info,
    ),
    (
        "requestLeaderboardEntries",
        Fallback::False,
        request_leaderboard_entries,
    ),
    (
        "requestSetHighScore",
        Fallback::False,
        request_set_high_score,
    ),
];

/// The plugin's functions Laurel does not serve (yet): they exist so games
/// load, log once that they are not supported, and return `nil`/`false` as
/// the plugin does when it cannot act. docs/lua.md lists them with reasons.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    ("getUserImageInfo", "nil"),
    ("newImageRect", "nil"),
    ("newTexture", "nil"),
    ("setNotificationPosition", "false"),
    ("showGameOverlay", "false"),
    ("showStoreOverlay", "false"),
    ("showUserOverlay", "false"),
    ("showWebOverlay", "false"),
    ("getAuthSessionTicket", "nil"),
    ("getUserStorage", "nil"),
    ("fileExists", "false"),
    ("readFile", "nil"),
    ("writeFile", "false"),
    ("deleteFile", "false"),
];

pub fn register(lua: &Lua, module: &Table, plugin: &Rc<Plugin>) -> mlua::Result<()> {
    for &(name, fallback, body) in FUNCTIONS {
        let p = Rc::clone(plugin);
        let raise = name == "update";
        let f = lua.create_function(move |lua, args: MultiValue| {
            guarded(name, fallback.value(), raise, || body(lua, &p, &args))
        })?;
        module.raw_set(name, f)?;
    }
    for &(name, returns) in UNSUPPORTED {
        let p = Rc::clone(plugin);
        let fallback = if returns == "nil" {
            Fallback::Nil
        } else {
            Fallback::False
        };
        let f = lua.create_function(move |_, _: MultiValue| {
            guarded(name, fallback.value(), false, || {
                if p.said_once.borrow_mut().insert(name) {
                    log::call(
                        name,
                        format_args!("not supported by Laurel; returns {returns} (said once)"),
                    );
                }
                Ok(fallback.value())
            })
        })?;
        module.raw_set(name, f)?;
    }
    Ok(())
}

fn boolean(b: bool) -> mlua::Result<Value> {
    Ok(Value::Boolean(b))
}

// ----- configuration and events -----

/// `steamworks.init{ url=, appId=, token= | userSteamId=, timeout=, journal=, language= }`
/// (Laurel's): fields given here win over the environment and config.lua.
/// `true` when a client runs with the resulting configuration.
fn init(lua: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("init");
    let source = match arg(args, 0) {
        Value::Nil => None,
        Value::Table(t) => match config::from_init_table(t) {
            Ok(s) => Some(s),
            Err(()) => return boolean(false),
        },
        other => {
            c.fail(
                Place::Arg(1, "settings"),
                format_args!("must be a table or nil, {}", got(other)),
            );
            return boolean(false);
        }
    };
    let started = p.configure(lua, source, true);
    p.hook_runtime(lua);
    boolean(started)
}

/// `steamworks.update([wait])`: delivers queued events. Laurel's `wait`
/// (seconds, optional) waits up to that long when none is queued.
fn update(lua: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let wait = match arg(args, 0) {
        Value::Nil => None,
        v => {
            let c = Checks::new("update");
            match c.number(Place::Arg(1, "wait"), v) {
                Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(
                    s.min(MAX_UPDATE_WAIT.as_secs_f64()),
                )),
                Some(s) => {
                    c.fail(
                        Place::Arg(1, "wait"),
                        format_args!("must be seconds >= 0, got {s}"),
                    );
                    None
                }
                None => None,
            }
        }
    };
    p.pump(lua, wait)?;
    Ok(Value::Nil)
}

fn listener_args(c: &Checks, args: &MultiValue) -> Option<(usize, Listener)> {
    let name_v = arg(args, 0);
    let Value::String(name) = &name_v else {
        c.fail(
            Place::Arg(1, "eventName"),
            format_args!("must be a string, {}", got(name_v)),
        );
        return None;
    };
    let name_bytes = name.as_bytes();
    let Some(index) = std::str::from_utf8(&name_bytes)
        .ok()
        .and_then(events::event_index)
    else {
        c.fail(
            Place::Arg(1, "eventName"),
            format_args!(
                "is not an event of the plugin ({}); expected one of: {}",
                convert::shown(&name_bytes, 40),
                events::EVENT_NAMES.join(", ")
            ),
        );
        return None;
    };
    let event_name = events::EVENT_NAMES[index];
    match arg(args, 1) {
        Value::Function(f) => Some((index, Listener::Function(f.clone()))),
        Value::Table(t) => Some((index, Listener::Table(t.clone()))),
        other => {
            c.fail(
                Place::Arg(2, "listener"),
                format_args!(
                    "must be a function or a table with a '{event_name}' function, {}",
                    got(other)
                ),
            );
            None
        }
    }
}

/// `steamworks.addEventListener(eventName, listener)` → boolean.
fn add_event_listener(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("addEventListener");
    let Some((index, listener)) = listener_args(&c, args) else {
        return boolean(false);
    };
    let event_name = events::EVENT_NAMES[index];
    if let Listener::Table(t) = &listener {
        // The table must hold a function named like the event (read before
        // any borrow: its metamethods may run Lua code).
        let method = c.field(Place::Arg(2, "listener"), t, event_name);
        if !matches!(method, Value::Function(_)) {
            c.fail(
                Place::Arg(2, "listener"),
                format_args!(
                    "is a table without a '{event_name}' function (its '{event_name}' is {})",
                    crate::args::type_of(&method)
                ),
            );
            return boolean(false);
        }
    }
    let added = p.listeners.borrow_mut().add(index, listener);
    match added {
        Added::Yes | Added::AlreadyThere => boolean(true),
        Added::Full => {
            c.say(format_args!(
                "'{event_name}' already has {} listeners, the limit",
                events::MAX_LISTENERS_PER_EVENT
            ));
            boolean(false)
        }
    }
}

/// `steamworks.removeEventListener(eventName, listener)` → boolean (`false`
/// also when that listener was not added).
fn remove_event_listener(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("removeEventListener");
    let Some((index, listener)) = listener_args(&c, args) else {
        return boolean(false);
    };
    let removed = p.listeners.borrow_mut().remove(index, &listener);
    boolean(removed)
}

// ----- reads -----

/// Whether the app's schema is known (kept from an earlier run, or arrived
/// with the first progress).
fn schema_known(client: &Client) -> bool {
    client.has_schema()
}

/// What a read is about, for messages.
#[derive(Clone, Copy)]
enum Kind {
    Achievement,
    Stat,
}

/// Why a read found nothing, logged when it is the game's mistake (not
/// merely "progress not loaded yet" for the current user).
fn explain_missing(
    c: &Checks,
    client: &Client,
    kind: Kind,
    name: &str,
    known: bool,
    user: Option<SteamId>,
) {
    if !known {
        if schema_known(client) {
            let what = match kind {
                Kind::Achievement => "achievement",
                Kind::Stat => "stat",
            };
            c.say(format_args!(
                "unknown {what} {}",
                convert::shown(name.as_bytes(), 64)
            ));
        }
    } else if let Some(user) = user {
        c.say(format_args!(
            "the progress of user {user} is not loaded: call steamworks.requestUserProgress(\"{user}\") \
             and wait for its userProgressUpdate event"
        ));
    }
}

/// `steamworks.getAchievementNames()` → array of API names (empty, never nil).
fn get_achievement_names(lua: &Lua, p: &Rc<Plugin>, _: &MultiValue) -> mlua::Result<Value> {
    let names = p
        .logged_on("getAchievementNames")
        .map(|c| c.achievement_names())
        .unwrap_or_default();
    raw_c_api::string_array(lua, &names)
}

/// `steamworks.getAchievementInfo(name [, userSteamId])` → AchievementInfo or nil.
fn get_achievement_info(lua: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("getAchievementInfo");
    let Some(name) = c.api_name(Place::Arg(1, "name"), arg(args, 0)) else {
        return Ok(Value::Nil);
    };
    let Some(client) = p.logged_on(c.function) else {
        return Ok(Value::Nil);
    };
    let Some(current) = p.current_user() else {
        return Ok(Value::Nil);
    };
    let Ok(user) = c.user(Place::Arg(2, "userSteamId"), arg(args, 1), current) else {
        return Ok(Value::Nil);
    };
    match client.achievement(&name, user) {
        Some(info) => raw_c_api::achievement_table(lua, &info),
        None => {
            let known = client.achievement_icons(&name).is_some();
            explain_missing(&c, &client, Kind::Achievement, &name, known, user);
            Ok(Value::Nil)
        }
    }
}

/// Steam's required achievement icon size; Laurel does not download icons,
/// so this is what the schema's icons are expected to be.
const ICON_PIXELS: u32 = 64;

/// `steamworks.getAchievementImageInfo(name)` → ImageInfo or nil. Laurel's
/// `imageHandle` is the schema's icon URL or path (a string) for the
/// achievement's current state; nil when the schema gives none.
fn get_achievement_image_info(lua: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("getAchievementImageInfo");
    let Some(name) = c.api_name(Place::Arg(1, "name"), arg(args, 0)) else {
        return Ok(Value::Nil);
    };
    let Some(client) = p.logged_on(c.function) else {
        return Ok(Value::Nil);
    };
    let Some(icons) = client.achievement_icons(&name) else {
        explain_missing(&c, &client, Kind::Achievement, &name, false, None);
        return Ok(Value::Nil);
    };
    let Some(info) = client.achievement(&name, None) else {
        return Ok(Value::Nil);
    };
    let icon = if info.unlocked {
        icons.icon
    } else {
        icons.icon_gray
    };
    let Some(icon) = icon else {
        return Ok(Value::Nil);
    };
    let t = lua.create_table_with_capacity(0, 3)?;
    t.raw_set("imageHandle", icon)?;
    t.raw_set("pixelWidth", ICON_PIXELS)?;
    t.raw_set("pixelHeight", ICON_PIXELS)?;
    Ok(Value::Table(t))
}

fn stat_type(c: &Checks, place: Place<'_>, v: &Value) -> Option<StatType> {
    let parsed = match v {
        Value::String(s) => std::str::from_utf8(&s.as_bytes())
            .ok()
            .and_then(StatType::parse),
        _ => None,
    };
    if parsed.is_none() {
        c.fail(
            place,
            format_args!("must be \"int\", \"float\" or \"averageRate\", {}", got(v)),
        );
    }
    parsed
}

/// `steamworks.getUserStatValue{ statName=, type= [, userSteamId=] }` → number or nil.
fn get_user_stat_value(lua: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("getUserStatValue");
    let Some(params) = c.table(Place::Arg(1, "params"), arg(args, 0)) else {
        return Ok(Value::Nil);
    };
    let (name_v, type_v, user_v) = match raw_c_api::stat_params(lua, &params) {
        Ok(fields) => fields,
        Err(e) => {
            c.fail(
                Place::Arg(1, "params"),
                format_args!("could not be read: {}", convert::first_line(&e.to_string())),
            );
            return Ok(Value::Nil);
        }
    };
    let Some(name) = c.api_name(Place::Field(1, "statName"), &name_v) else {
        return Ok(Value::Nil);
    };
    let Some(ty) = stat_type(&c, Place::Field(1, "type"), &type_v) else {
        return Ok(Value::Nil);
    };
    let Some(client) = p.logged_on(c.function) else {
        return Ok(Value::Nil);
    };
    let Some(current) = p.current_user() else {
        return Ok(Value::Nil);
    };
    let Ok(user) = c.user(Place::Field(1, "userSteamId"), &user_v, current) else {
        return Ok(Value::Nil);
    };
    let value = match ty {
        StatType::Int => client.stat_i32(&name, user).map(f64::from),
        StatType::Float => client.stat_f32(&name, user).map(f64::from),
        StatType::AverageRate => client.stat_avg_rate(&name, user).map(f64::from),
    };
    if let Some(v) = value {
        return Ok(Value::Number(v));
    }
    // Why not: an unknown stat, another type, or that user's progress is not loaded.
    match client.stat_kind(&name) {
        None => explain_missing(&c, &client, Kind::Stat, &name, false, user),
        Some(kind) if kind != ty.kind() => c.fail(
            Place::Field(1, "type"),
            format_args!(
                "is \"{}\" but stat {} is \"{}\"",
                StatType::name_of(ty.kind()),
                convert::shown(name.as_bytes(), 64),
                StatType::name_of(kind)
            ),
        ),
        Some(_) => explain_missing(&c, &client, Kind::Stat, &name, true, user),
    }
    Ok(Value::Nil)
}

// ----- writes -----

/// Sends the pending writes as one store; logs if the journal cannot take it
/// (the writes then stay pending and go with the next store).
fn store(c: &Checks, client: &Client) {
    if !client.store_stats() {
        c.say(format_args!(
            "the change is made but could not be journaled for sending (journal full or failing); \
             it goes with the next store"
        ));
    }
}

/// Why a write of an API name was refused by the SDK.
fn explain_refused_write(c: &Checks, client: &Client, what: &str, name: &str, known: bool) {
    if !known && schema_known(client) {
        c.say(format_args!(
            "unknown {what} {}",
            convert::shown(name.as_bytes(), 64)
        ));
    } else if !schema_known(client) {
        // Before the schema, the SDK takes every well-formed write.
        c.say(format_args!(
            "{what} {} could not be written: the journal is full or failing",
            convert::shown(name.as_bytes(), 64)
        ));
    } else {
        c.say(format_args!(
            "{what} {} could not be written (refused by the schema's rules or the journal)",
            convert::shown(name.as_bytes(), 64)
        ));
    }
}

/// One entry of `setUserStatValues`, checked and written; `false` if skipped
/// (the reason is logged).
fn set_one_stat(c: &Checks, client: &Client, n: usize, entry: &Value) -> bool {
    let Some(entry) = c.table(Place::Item(n), entry) else {
        return false;
    };
    let name_v = c.field(Place::Entry(n, "statName"), &entry, "statName");
    let type_v = c.field(Place::Entry(n, "type"), &entry, "type");
    let value_v = c.field(Place::Entry(n, "value"), &entry, "value");
    let session_v = c.field(
        Place::Entry(n, "sessionTimeLength"),
        &entry,
        "sessionTimeLength",
    );
    let Some(name) = c.api_name(Place::Entry(n, "statName"), &name_v) else {
        return false;
    };
    let Some(ty) = stat_type(c, Place::Entry(n, "type"), &type_v) else {
        return false;
    };
    let Some(value) = c.number(Place::Entry(n, "value"), &value_v) else {
        return false;
    };
    // Before the schema is known (a first launch with no network), the
    // name and type are checked when it arrives, and by the server.
    match client.stat_kind(&name) {
        None if schema_known(client) => {
            c.fail(
                Place::Entry(n, "statName"),
                format_args!(
                    "names no stat of the app: {}",
                    convert::shown(name.as_bytes(), 64)
                ),
            );
            return false;
        }
        Some(kind) if kind != ty.kind() => {
            c.fail(
                Place::Entry(n, "type"),
                format_args!(
                    "is \"{}\" but stat {} is \"{}\"",
                    StatType::name_of(ty.kind()),
                    convert::shown(name.as_bytes(), 64),
                    StatType::name_of(kind)
                ),
            );
            return false;
        }
        _ => {}
    }
    let written = match ty {
        StatType::Int => match convert::int_value(value) {
            Ok(v) => client.set_stat_i32(&name, v),
            Err(e) => {
                c.fail(Place::Entry(n, "value"), format_args!("{e}"));
                return false;
            }
        },
        StatType::Float => match convert::float_value(value) {
            Ok(v) => client.set_stat_f32(&name, v),
            Err(e) => {
                c.fail(Place::Entry(n, "value"), format_args!("{e}"));
                return false;
            }
        },
        StatType::AverageRate => {
            let Some(session) = c.number(Place::Entry(n, "sessionTimeLength"), &session_v) else {
                return false;
            };
            let session = match convert::session_length(session) {
                Ok(s) => s,
                Err(e) => {
                    c.fail(Place::Entry(n, "sessionTimeLength"), format_args!("{e}"));
                    return false;
                }
            };
            match convert::float_value(value) {
                Ok(v) => client.update_avg_rate_stat(&name, v, session),
                Err(e) => {
                    c.fail(Place::Entry(n, "value"), format_args!("{e}"));
                    return false;
                }
            }
        }
    };
    if !written {
        c.say(format_args!(
            "entry #{n}: stat {} = {value} was refused (a stat only the server sets, or the \
             journal is full or failing)",
            convert::shown(name.as_bytes(), 64)
        ));
    }
    written
}

/// `steamworks.setUserStatValues{ {statName=, type=, value= [, sessionTimeLength=]}, … }`
/// → `true` when at least one stat was set (malformed entries are skipped,
/// each logged); then one store for the batch.
fn set_user_stat_values(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("setUserStatValues");
    let Some(array) = c.table(Place::Arg(1, "arrayOfStatTables"), arg(args, 0)) else {
        return boolean(false);
    };
    let len = array.raw_len();
    if len == 0 {
        c.fail(
            Place::Arg(1, "arrayOfStatTables"),
            format_args!("is empty: give an array of stat tables"),
        );
        return boolean(false);
    }
    if len > MAX_BATCH_ENTRIES {
        c.fail(
            Place::Arg(1, "arrayOfStatTables"),
            format_args!("has {len} entries; at most {MAX_BATCH_ENTRIES} per call"),
        );
        return boolean(false);
    }
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    let skipping = Checks {
        function: c.function,
        suffix: "; entry skipped",
    };
    let mut set = 0usize;
    for n in 1..=len {
        let entry: Value = array.raw_get(n)?;
        if set_one_stat(&skipping, &client, n, &entry) {
            set += 1;
        }
    }
    if set == 0 {
        c.say(format_args!("no stat was set; nothing is stored"));
        return boolean(false);
    }
    store(&c, &client);
    boolean(true)
}

/// `steamworks.setAchievementUnlocked(name)` → boolean (`true` also if
/// already unlocked, then nothing changes); then one store.
fn set_achievement_unlocked(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("setAchievementUnlocked");
    let Some(name) = c.api_name(Place::Arg(1, "name"), arg(args, 0)) else {
        return boolean(false);
    };
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    unlock(&c, &client, &name)
}

fn unlock(c: &Checks, client: &Client, name: &str) -> mlua::Result<Value> {
    if !client.set_achievement(name) {
        let known = client.achievement_icons(name).is_some();
        explain_refused_write(c, client, "achievement", name, known);
        return boolean(false);
    }
    store(c, client);
    boolean(true)
}

/// `steamworks.setAchievementProgress(name, value, maxValue)` → boolean;
/// `value >= maxValue` unlocks. As on Steam, progress of an achievement
/// already unlocked is refused (`false`).
fn set_achievement_progress(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("setAchievementProgress");
    let Some(name) = c.api_name(Place::Arg(1, "name"), arg(args, 0)) else {
        return boolean(false);
    };
    let Some(value) = c.number(Place::Arg(2, "value"), arg(args, 1)) else {
        return boolean(false);
    };
    let Some(max) = c.number(Place::Arg(3, "maxValue"), arg(args, 2)) else {
        return boolean(false);
    };
    let value = match convert::progress_value(value) {
        Ok(v) => v,
        Err(e) => {
            c.fail(Place::Arg(2, "value"), format_args!("{e}"));
            return boolean(false);
        }
    };
    let max = match convert::progress_value(max) {
        Ok(0) => {
            c.fail(
                Place::Arg(3, "maxValue"),
                format_args!("must be at least 1"),
            );
            return boolean(false);
        }
        Ok(v) => v,
        Err(e) => {
            c.fail(Place::Arg(3, "maxValue"), format_args!("{e}"));
            return boolean(false);
        }
    };
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    if value >= max {
        return unlock(&c, &client, &name);
    }
    if !client.indicate_achievement_progress(&name, value, max) {
        let known = client.achievement_icons(&name).is_some();
        if known && client.achievement(&name, None).is_some_and(|a| a.unlocked) {
            c.say(format_args!(
                "achievement {} is already unlocked; its progress is not shown (as on Steam)",
                convert::shown(name.as_bytes(), 64)
            ));
        } else {
            explain_refused_write(&c, &client, "achievement", &name, known);
        }
        return boolean(false);
    }
    store(&c, &client);
    boolean(true)
}

/// `steamworks.requestUserProgress([userSteamId])` → boolean.
fn request_user_progress(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("requestUserProgress");
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    let Some(current) = p.current_user() else {
        return boolean(false);
    };
    let Ok(user) = c.user(Place::Arg(1, "userSteamId"), arg(args, 0), current) else {
        return boolean(false);
    };
    let queued = client.request_user_progress(user);
    if !queued {
        c.say(format_args!(
            "too many requests are queued; try again later"
        ));
    }
    boolean(queued)
}

/// `steamworks.getUserInfo([userSteamId])` → the plugin's `UserInfo` table,
/// or `nil` for another user whose info has not arrived: as in Steam's
/// plugin, that call asks for it, and `userInfoUpdate` announces it. Laurel has a
/// display name only: `nickname` is `""`, `steamLevel` 0, `relationship`
/// `"none"` (no friends lists), `status` `"online"` for the current user
/// and `"unknown"` for others.
fn get_user_info(lua: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("getUserInfo");
    let Some(client) = p.logged_on(c.function) else {
        return Ok(Value::Nil);
    };
    let Some(current) = p.current_user() else {
        return Ok(Value::Nil);
    };
    let Ok(user) = c.user(Place::Arg(1, "userSteamId"), arg(args, 0), current) else {
        return Ok(Value::Nil);
    };
    let Some(info) = client.user_info(user) else {
        // As Steam's plugin: asked for now, announced by `userInfoUpdate`.
        if let Some(other) = user {
            client.request_user_info(other);
        }
        return Ok(Value::Nil);
    };
    let t = lua.create_table_with_capacity(0, 5)?;
    t.raw_set("name", info.name)?;
    t.raw_set("nickname", "")?;
    t.raw_set("steamLevel", 0)?;
    t.raw_set("status", if user.is_none() { "online" } else { "unknown" })?;
    t.raw_set("relationship", "none")?;
    Ok(Value::Table(t))
}

/// `steamworks.requestActivePlayerCount(listener)` → boolean: how many
/// others play the app now, from the server's current-players figure;
/// `listener` alone gets the `activePlayerCount` event
/// (`name`, `isError`, `count`, and Laurel's `resultCode`).
fn request_active_player_count(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("requestActivePlayerCount");
    let listener = match arg(args, 0) {
        Value::Function(f) => f.clone(),
        other => {
            c.fail(
                Place::Arg(1, "listener"),
                format_args!("must be a function, {}", got(other)),
            );
            return boolean(false);
        }
    };
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    if !client.request_active_player_count() {
        c.say(format_args!(
            "too many requests are queued; try again later"
        ));
        return boolean(false);
    }
    p.count_listeners.borrow_mut().push_back(listener);
    boolean(true)
}

/// `steamworks.resetUserProgress()`: clears stats and re-locks achievements.
fn reset_user_progress(_: &Lua, p: &Rc<Plugin>, _: &MultiValue) -> mlua::Result<Value> {
    reset(p, "resetUserProgress", true)
}

/// `steamworks.resetUserStats()`: clears stats, keeps achievements.
fn reset_user_stats(_: &Lua, p: &Rc<Plugin>, _: &MultiValue) -> mlua::Result<Value> {
    reset(p, "resetUserStats", false)
}

fn reset(p: &Rc<Plugin>, function: &'static str, achievements: bool) -> mlua::Result<Value> {
    let Some(client) = p.logged_on(function) else {
        return boolean(false);
    };
    let done = client.reset_all_stats(achievements);
    if !done {
        Checks::new(function).say(format_args!("refused: the journal is full or failing"));
    }
    boolean(done)
}

// ----- leaderboards -----

/// `params.leaderboardName`: a board name (an API name; names compare
/// case-insensitively).
fn board_name(c: &Checks, params: &Table) -> Option<String> {
    let place = Place::Field(1, "leaderboardName");
    let v = c.field(place, params, "leaderboardName");
    let name = c.api_name(place, &v)?;
    if let Err(e) = BoardName::parse(&name) {
        c.fail(
            place,
            format_args!(
                "is not a leaderboard name ({e}): {}",
                convert::shown(name.as_bytes(), 64)
            ),
        );
        return None;
    }
    Some(name)
}

/// `params.listener`: a function (required).
fn board_listener(c: &Checks, params: &Table) -> Option<mlua::Function> {
    let place = Place::Field(1, "listener");
    match c.field(place, params, "listener") {
        Value::Function(f) => Some(f),
        other => {
            c.fail(place, format_args!("must be a function, {}", got(&other)));
            None
        }
    }
}

/// Remembers the listener of a queued call, or says why nothing was queued.
fn board_queued(
    c: &Checks,
    p: &Rc<Plugin>,
    call: Option<laurel_client::LeaderboardCall>,
    listener: mlua::Function,
    name: String,
    why_not: &str,
) -> mlua::Result<Value> {
    let Some(call) = call else {
        c.say(format_args!("{why_not}"));
        return boolean(false);
    };
    p.board_calls
        .borrow_mut()
        .insert(call.0, events::BoardCall { listener, name });
    boolean(true)
}

/// `steamworks.requestLeaderboardInfo{ leaderboardName=, listener= }` →
/// boolean; `listener` alone gets the `leaderboardInfo` event. Never
/// creates a board: an unknown name is an error event.
fn request_leaderboard_info(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("requestLeaderboardInfo");
    let Some(params) = c.table(Place::Arg(1, "params"), arg(args, 0)) else {
        return boolean(false);
    };
    let Some(name) = board_name(&c, &params) else {
        return boolean(false);
    };
    let Some(listener) = board_listener(&c, &params) else {
        return boolean(false);
    };
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    let call = client.find_leaderboard(&name);
    board_queued(
        &c,
        p,
        call,
        listener,
        name,
        "too many requests are queued; try again later",
    )
}

/// `startIndex` or `endIndex`: `Ok(None)` when absent, a whole number
/// (truncated toward zero, as the plugin's `lua_tointeger`) within i32.
fn board_index(c: &Checks, params: &Table, field: &'static str) -> Result<Option<i32>, ()> {
    let place = Place::Field(1, field);
    match c.field(place, params, field) {
        Value::Nil => Ok(None),
        v => {
            let Some(n) = c.number(place, &v) else {
                return Err(());
            };
            match convert::board_index(n) {
                Ok(i) => Ok(Some(i)),
                Err(e) => {
                    c.fail(place, format_args!("{e}"));
                    Err(())
                }
            }
        }
    }
}

/// `steamworks.requestLeaderboardEntries{ leaderboardName=, listener= [,
/// playerScope=] [, startIndex=, endIndex=] }` → boolean; `listener` alone
/// gets the `leaderboardEntries` event. `playerScope` (any case):
/// `"Global"` (default; absolute ranks, default 1..25), `"GlobalAroundUser"`
/// (relative to the user, default -12..12) or `"FriendsOnly"` (the indexes
/// are ignored). The indexes come both or neither.
fn request_leaderboard_entries(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("requestLeaderboardEntries");
    let Some(params) = c.table(Place::Arg(1, "params"), arg(args, 0)) else {
        return boolean(false);
    };
    let Some(name) = board_name(&c, &params) else {
        return boolean(false);
    };
    let scope_place = Place::Field(1, "playerScope");
    let scope = match c.field(scope_place, &params, "playerScope") {
        Value::Nil => convert::PlayerScope::Global,
        v => {
            let parsed = match &v {
                Value::String(s) => std::str::from_utf8(&s.as_bytes())
                    .ok()
                    .and_then(convert::PlayerScope::parse),
                _ => None,
            };
            let Some(scope) = parsed else {
                c.fail(
                    scope_place,
                    format_args!(
                        "must be \"Global\", \"GlobalAroundUser\" or \"FriendsOnly\", {}",
                        got(&v)
                    ),
                );
                return boolean(false);
            };
            scope
        }
    };
    let request = if scope == convert::PlayerScope::FriendsOnly {
        EntriesRequest::Friends
    } else {
        let Ok(start) = board_index(&c, &params, "startIndex") else {
            return boolean(false);
        };
        let Ok(end) = board_index(&c, &params, "endIndex") else {
            return boolean(false);
        };
        let range = match (start, end) {
            (Some(start), Some(end)) => Some((start, end)),
            (None, None) => None,
            (Some(_), None) => {
                c.fail(
                    Place::Field(1, "endIndex"),
                    format_args!("is missing: give both startIndex and endIndex, or neither"),
                );
                return boolean(false);
            }
            (None, Some(_)) => {
                c.fail(
                    Place::Field(1, "startIndex"),
                    format_args!("is missing: give both startIndex and endIndex, or neither"),
                );
                return boolean(false);
            }
        };
        match convert::entries_range(scope, range) {
            Some(request) => request,
            None => EntriesRequest::Friends,
        }
    };
    let Some(listener) = board_listener(&c, &params) else {
        return boolean(false);
    };
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    let call = client.download_leaderboard_entries_by_name(&name, request);
    board_queued(
        &c,
        p,
        call,
        listener,
        name,
        "too many requests are queued; try again later",
    )
}

/// `steamworks.requestSetHighScore{ leaderboardName=, value=, listener= }`
/// → boolean; uploads with `KeepBest` and no details, and `listener` alone
/// gets the `setHighScore` event. Laurel journals the upload first: made
/// offline, it is sent when the server can be reached (also by a later
/// run), and the event comes then.
fn request_set_high_score(_: &Lua, p: &Rc<Plugin>, args: &MultiValue) -> mlua::Result<Value> {
    let c = Checks::new("requestSetHighScore");
    let Some(params) = c.table(Place::Arg(1, "params"), arg(args, 0)) else {
        return boolean(false);
    };
    let Some(name) = board_name(&c, &params) else {
        return boolean(false);
    };
    let value_place = Place::Field(1, "value");
    let value_v = c.field(value_place, &params, "value");
    let Some(value) = c.number(value_place, &value_v) else {
        return boolean(false);
    };
    let score = match convert::score_value(value) {
        Ok(v) => v,
        Err(e) => {
            c.fail(value_place, format_args!("{e}"));
            return boolean(false);
        }
    };
    let Some(listener) = board_listener(&c, &params) else {
        return boolean(false);
    };
    let Some(client) = p.logged_on(c.function) else {
        return boolean(false);
    };
    let call = client.upload_leaderboard_score_by_name(&name, UploadMethod::KeepBest, score, &[]);
    board_queued(
        &c,
        p,
        call,
        listener,
        name,
        "the upload could not be journaled for sending (journal full or failing)",
    )
}
