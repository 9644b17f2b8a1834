//! The hot paths (reads games make every frame) built with Lua's C API in
//! ONE protected call each, instead of one protected call per table field as
//! mlua's safe API needs in Lua 5.1 (where almost every API call may raise a
//! memory error). This is what brings a cache read from Lua to about a
//! microsecond (docs/lua.md, Benchmark).
//!
//! Safety, for every `exec_raw` closure here: it runs inside `lua_pcall`
//! (mlua's `protect_lua_closure`), so a Lua error (out of memory, or a
//! metamethod raising in `lua_getfield`) longjmps back to that `pcall` and
//! comes out as an `Err`. The closures therefore own nothing with a `Drop`
//! (they only borrow data owned by the caller's frame, which the longjmp does
//! not skip), cannot panic, and use at most 4 stack slots (a C function has
//! `LUA_MINSTACK` = 20).

use std::ffi::CStr;

use laurel_client::AchievementInfo;
use mlua::{Lua, Table, Value, ffi};

unsafe fn push_str(state: *mut ffi::lua_State, s: &str) {
    unsafe { ffi::lua_pushlstring(state, s.as_ptr().cast(), s.len()) };
}

unsafe fn set_str(state: *mut ffi::lua_State, key: &CStr, value: &str) {
    unsafe {
        push_str(state, value);
        ffi::lua_setfield(state, -2, key.as_ptr());
    }
}

unsafe fn set_bool(state: *mut ffi::lua_State, key: &CStr, value: bool) {
    unsafe {
        ffi::lua_pushboolean(state, i32::from(value));
        ffi::lua_setfield(state, -2, key.as_ptr());
    }
}

/// The plugin's `AchievementInfo` table: `unlocked`, `unlockTime` (only
/// when unlocked), `localizedName`, `localizedDescription` (empty texts
/// read "Unknown"), `hidden`.
pub fn achievement_table(lua: &Lua, info: &AchievementInfo) -> mlua::Result<Value> {
    let name = text_or_unknown(&info.display_name);
    let description = text_or_unknown(&info.description);
    let unlock_time = info.unlock_time.filter(|_| info.unlocked);
    // SAFETY: see the module documentation.
    unsafe {
        lua.exec_raw::<Value>((), |state| {
            ffi::lua_createtable(state, 0, 5);
            set_bool(state, c"unlocked", info.unlocked);
            if let Some(time) = unlock_time {
                ffi::lua_pushnumber(state, time as f64);
                ffi::lua_setfield(state, -2, c"unlockTime".as_ptr());
            }
            set_str(state, c"localizedName", name);
            set_str(state, c"localizedDescription", description);
            set_bool(state, c"hidden", info.hidden);
        })
    }
}

pub fn text_or_unknown(text: &str) -> &str {
    if text.is_empty() { "Unknown" } else { text }
}

/// An array of strings.
pub fn string_array(lua: &Lua, items: &[String]) -> mlua::Result<Value> {
    let len = i32::try_from(items.len()).unwrap_or(i32::MAX);
    // SAFETY: see the module documentation (`lua_rawseti` panics only for an
    // index beyond i32, which `take` rules out).
    unsafe {
        lua.exec_raw::<Value>((), |state| {
            ffi::lua_createtable(state, len, 0);
            for (i, item) in items.iter().take(len as usize).enumerate() {
                push_str(state, item);
                ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
            }
        })
    }
}

/// `params.statName`, `params.type`, `params.userSteamId` (metamethods
/// run, as in the plugin; an error they raise is the `Err`).
pub fn stat_params(lua: &Lua, params: &Table) -> mlua::Result<(Value, Value, Value)> {
    // SAFETY: see the module documentation. The table is argument 1 of the
    // protected call; it is removed so that the three fields are the results.
    unsafe {
        lua.exec_raw::<(Value, Value, Value)>(params, |state| {
            ffi::lua_getfield(state, 1, c"statName".as_ptr());
            ffi::lua_getfield(state, 1, c"type".as_ptr());
            ffi::lua_getfield(state, 1, c"userSteamId".as_ptr());
            ffi::lua_remove(state, 1);
        })
    }
}
