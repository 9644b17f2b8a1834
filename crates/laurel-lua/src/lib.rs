//! `plugin.steamworks` for LuaJIT and Lua 5.1: Solar2D's Steamworks plugin
//! API (achievements, stats, leaderboards, their events) over [`laurel_client`].
//!
//! Built as a Lua C module (`cdylib`, mlua's `module` + `lua51`: the Lua
//! symbols come from the host interpreter). Copied or linked as
//! `plugin/steamworks.so` under a `package.cpath` directory, it loads with
//! `require("plugin.steamworks")` (entry `luaopen_plugin_steamworks`).
//!
//! # Invariants
//! - The Lua state is touched only on the thread that calls into the module;
//!   the SDK's worker thread never sees it. Events wait in the SDK's queue
//!   until `steamworks.update()` (or the `enterFrame` listener put on a
//!   global `Runtime`) delivers them.
//! - No call into the module raises for bad input or waits on the network:
//!   invalid arguments are logged to stderr (naming the function and the
//!   argument) and answered with the plugin's documented `nil`/`false`.
//!   Every entry point runs under `catch_unwind`: a Rust panic becomes a
//!   logged message and that same `nil`/`false`. The only errors raised are
//!   those a game's own listener raises (from `update()`), as in Solar2D.
//! - No `RefCell` borrow is held while Lua code runs (listeners, metamethods
//!   of argument tables), so a listener may call any module function.

mod api;
mod args;
mod config;
mod convert;
mod events;
mod log;
mod plugin;
// The one module with unsafe code: the C API fast path.
#[allow(unsafe_code)]
mod raw_c_api;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use mlua::{Lua, MultiValue, Table, Value};

use plugin::{Plugin, guarded};

pub use plugin::MAX_UPDATE_WAIT;

/// The properties read through the module table's `__index`: cheap, no network.
fn property(plugin: &Plugin, key: &Value) -> mlua::Result<Value> {
    let Value::String(key) = key else {
        return Ok(Value::Nil);
    };
    let logged_on = || plugin.client().is_some_and(|c| c.is_logged_on());
    let text =
        |s: &RefCell<Option<mlua::LuaString>>| s.borrow().clone().map_or(Value::Nil, Value::String);
    Ok(match &*key.as_bytes() {
        b"appId" => text(&plugin.app_text),
        b"userSteamId" | b"appOwnerSteamId" if logged_on() => text(&plugin.user_text),
        b"isLoggedOn" => Value::Boolean(logged_on()),
        b"canShowOverlay" | b"isSteamDeck" => Value::Boolean(false),
        _ => Value::Nil,
    })
}

fn init_tracing() {
    // The SDK's own warnings (journal full, token expired…) go to stderr;
    // `LAUREL_LOG=debug` shows more.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAUREL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .try_init();
}

#[mlua::lua_module(name = "plugin_steamworks")]
fn plugin_steamworks(lua: &Lua) -> mlua::Result<Table> {
    let loaded = catch_unwind(AssertUnwindSafe(|| -> mlua::Result<Table> {
        init_tracing();
        let plugin = Rc::new(Plugin::default());
        let module = lua.create_table()?;
        api::register(lua, &module, &plugin)?;

        let meta = lua.create_table()?;
        let p = Rc::clone(&plugin);
        meta.raw_set(
            "__index",
            lua.create_function(move |_, (_, key): (Value, Value)| {
                guarded("__index", Value::Nil, false, || property(&p, &key))
            })?,
        )?;
        meta.raw_set("__metatable", false)?;
        module.set_metatable(Some(meta))?;

        // Debug builds only: a function that panics, so the tests can show
        // that a panic is caught, logged and answered with nil.
        #[cfg(debug_assertions)]
        if std::env::var_os("LAUREL_LUA_TEST_PANIC").is_some() {
            module.raw_set(
                "_testPanic",
                lua.create_function(|_, _: MultiValue| {
                    guarded("_testPanic", Value::Nil, false, || {
                        panic!("a panic on purpose")
                    })
                })?,
            )?;
        }

        plugin.configure(lua, None, false);
        plugin.hook_runtime(lua);
        Ok(module)
    }));
    match loaded {
        Ok(result) => result,
        Err(_) => Err(mlua::Error::runtime(
            "plugin.steamworks: internal error while loading",
        )),
    }
}
