//! The module's state, one per `require`, and the guard every entry point
//! runs under.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use laurel_client::{AppId, Client, ClientConfig, SteamId};
use mlua::{Lua, MultiValue, ObjectLike, Value};

use crate::config::{self, Resolved};
use crate::events::{self, Listeners, Pending};
use crate::{args, convert, log};

/// Longest `steamworks.update(wait)` may wait for an event (a Laurel
/// extension for programs without a frame loop; games never pass it).
pub const MAX_UPDATE_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting `update(wait)` looks for events.
const UPDATE_POLL: Duration = Duration::from_micros(200);

/// The module's state, shared by its functions (one per `require`).
#[derive(Default)]
pub struct Plugin {
    pub(crate) client: RefCell<Option<Rc<Client>>>,
    /// The configuration the running client was made from.
    pub(crate) config: RefCell<Option<ClientConfig>>,
    /// The app id, known from the configuration even without a client, and
    /// its Lua string (`steamworks.appId`, made once: property reads are cheap).
    pub(crate) app: Cell<Option<AppId>>,
    pub(crate) app_text: RefCell<Option<mlua::LuaString>>,
    /// The current user's id as a Lua string (`steamworks.userSteamId`).
    pub(crate) user_text: RefCell<Option<mlua::LuaString>>,
    /// The current user (fixed for a client's life).
    pub(crate) user: Cell<Option<SteamId>>,
    pub(crate) listeners: RefCell<Listeners>,
    /// The listeners of `requestActivePlayerCount` calls not yet answered,
    /// oldest first (each answer goes to its call's listener only).
    pub(crate) count_listeners: RefCell<std::collections::VecDeque<mlua::Function>>,
    /// Leaderboard calls not yet answered, by the SDK's call id (each
    /// answer goes to its call's listener only).
    pub(crate) board_calls: RefCell<std::collections::HashMap<u64, events::BoardCall>>,
    pub(crate) pending: RefCell<Pending>,
    pub(crate) dispatching: Cell<bool>,
    pub(crate) runtime_hooked: Cell<bool>,
    pub(crate) said_once: RefCell<HashSet<&'static str>>,
}

impl Plugin {
    /// The running client, if any.
    pub(crate) fn client(&self) -> Option<Rc<Client>> {
        self.client.borrow().clone()
    }

    /// The client, if logged on; otherwise logs once per function why the
    /// call returns `nil`/`false`.
    pub(crate) fn logged_on(&self, function: &'static str) -> Option<Rc<Client>> {
        let client = self.client();
        match &client {
            Some(c) if c.is_logged_on() => client,
            _ => {
                if self.said_once.borrow_mut().insert(function) {
                    log::call(
                        function,
                        format_args!(
                            "not logged on ({}); returning nil/false",
                            if client.is_some() {
                                "the server rejected the credentials"
                            } else {
                                "the module is not configured: see steamworks.init{}"
                            }
                        ),
                    );
                }
                None
            }
        }
    }

    pub(crate) fn current_user(&self) -> Option<SteamId> {
        self.user.get()
    }

    pub(crate) fn set_app(&self, lua: &Lua, app: Option<AppId>) {
        self.app.set(app);
        self.app_text
            .replace(app.and_then(|a| lua.create_string(a.to_string()).ok()));
    }

    /// Starts (or keeps) a client from the configuration sources. `init` is
    /// `steamworks.init{}`'s table; `None` at `require` time.
    pub(crate) fn configure(&self, lua: &Lua, init: Option<config::Source>, by_init: bool) -> bool {
        match config::resolve(lua, init) {
            Resolved::Complete(cfg) => {
                let same = self.config.borrow().as_ref() == Some(&cfg);
                if same && self.client.borrow().is_some() {
                    return true;
                }
                // The old client goes first: the new one may use the same journal.
                self.client.replace(None);
                self.config.replace(None);
                self.user.set(None);
                self.user_text.replace(None);
                self.pending.borrow_mut().queue.clear();
                self.count_listeners.borrow_mut().clear();
                self.board_calls.borrow_mut().clear();
                self.set_app(lua, Some(cfg.app_id));
                match Client::init(cfg.clone()) {
                    Ok(client) => {
                        let user = client.user_steam_id();
                        self.user.set(user);
                        self.user_text
                            .replace(user.and_then(|u| lua.create_string(u.to_string()).ok()));
                        self.client.replace(Some(Rc::new(client)));
                        self.config.replace(Some(cfg));
                        self.said_once.borrow_mut().clear();
                        true
                    }
                    Err(e) => {
                        log::config(format_args!(
                            "cannot start: {e}; steamworks.isLoggedOn is false"
                        ));
                        false
                    }
                }
            }
            Resolved::Incomplete {
                app_id,
                missing,
                nothing_at_all,
            } => {
                if app_id.is_some() {
                    self.set_app(lua, app_id);
                }
                if by_init {
                    log::call(
                        "init",
                        format_args!(
                            "the configuration is incomplete: missing {}",
                            missing.join("; ")
                        ),
                    );
                } else if nothing_at_all {
                    log::config(format_args!(
                        "not configured, so steamworks.isLoggedOn is false and calls return false/nil. \
                         Set LAUREL_URL, LAUREL_APP_ID and LAUREL_TOKEN (or LAUREL_USER_ID against a \
                         dev server), or call steamworks.init{{ url=, appId=, token= }}; the app id may \
                         also come from config.lua (application.steamworks.appId)"
                    ));
                } else {
                    log::config(format_args!(
                        "not configured, so steamworks.isLoggedOn is false: missing {}; \
                         set it or call steamworks.init{{}}",
                        missing.join("; ")
                    ));
                }
                false
            }
        }
    }

    /// Delivers queued events to the listeners. `wait`: if none is queued,
    /// wait up to that long for one. A nested call (from a listener) does
    /// nothing: the outer call goes on delivering, in order.
    pub(crate) fn pump(&self, lua: &Lua, wait: Option<Duration>) -> mlua::Result<()> {
        if self.dispatching.get() {
            return Ok(());
        }
        if let Some(client) = self.client() {
            let mut pending = self.pending.borrow_mut();
            pending.queue.extend(client.take_events());
            if let Some(wait) = wait.filter(|_| pending.queue.is_empty()) {
                let deadline = Instant::now() + wait;
                while pending.queue.is_empty() && Instant::now() < deadline {
                    std::thread::sleep(UPDATE_POLL);
                    pending.queue.extend(client.take_events());
                }
            }
        }
        let Some(user) = self.current_user() else {
            return Ok(());
        };
        self.dispatching.set(true);
        let _reset = ResetOnDrop(&self.dispatching);
        loop {
            let Some(event) = self.pending.borrow_mut().queue.pop_front() else {
                return Ok(());
            };
            if let laurel_client::Event::ActivePlayerCount {
                is_error,
                result_code,
                count,
            } = event
            {
                let listener = self.count_listeners.borrow_mut().pop_front();
                if let Some(listener) = listener {
                    let t = lua.create_table_with_capacity(0, 4)?;
                    t.raw_set("name", "activePlayerCount")?;
                    t.raw_set("isError", is_error)?;
                    t.raw_set("resultCode", result_code.code())?;
                    t.raw_set("count", count)?;
                    listener.call::<()>(t)?;
                }
                continue;
            }
            if let Some(call) = events::board_call_of(&event) {
                let waiting = call.and_then(|c| self.board_calls.borrow_mut().remove(&c.0));
                if let Some(waiting) = waiting
                    && let Some(t) = events::board_event_table(lua, &event, &waiting.name)?
                {
                    waiting.listener.call::<()>(t)?;
                }
                continue;
            }
            let snapshot = self.listeners.borrow().snapshot(event.name());
            if snapshot.is_empty() {
                continue;
            }
            if let Some(table) = events::event_table(lua, &event, user)? {
                events::call_listeners(event.name(), snapshot, &table)?;
            }
        }
    }

    /// Puts an `enterFrame` listener on a global `Runtime` (Solar2D's), once.
    pub(crate) fn hook_runtime(self: &Rc<Self>, lua: &Lua) {
        if self.runtime_hooked.get() {
            return;
        }
        let result = (|| -> mlua::Result<bool> {
            let runtime: Value = lua.globals().raw_get("Runtime")?;
            let add: Value = match &runtime {
                Value::Table(t) => t.get("addEventListener")?,
                Value::UserData(u) => u.get("addEventListener")?,
                _ => return Ok(false),
            };
            let Value::Function(add) = add else {
                return Ok(false);
            };
            let plugin = Rc::clone(self);
            let on_frame = lua.create_function(move |lua, _: MultiValue| {
                guarded("update", Value::Nil, true, || {
                    plugin.pump(lua, None).map(|()| Value::Nil)
                })
            })?;
            add.call::<()>((runtime, "enterFrame", on_frame))?;
            Ok(true)
        })();
        match result {
            Ok(hooked) => self.runtime_hooked.set(hooked),
            Err(e) => log::config(format_args!(
                "Runtime:addEventListener(\"enterFrame\") failed: {}; call steamworks.update() each frame",
                convert::first_line(&e.to_string())
            )),
        }
    }
}

struct ResetOnDrop<'a>(&'a Cell<bool>);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Runs an entry point's body: a panic, or (unless `raise` is set) an
/// error, is logged and answered with `fallback`. Only `update()` raises,
/// and only what a listener raised.
pub(crate) fn guarded(
    function: &'static str,
    fallback: Value,
    raise: bool,
    body: impl FnOnce() -> mlua::Result<Value>,
) -> mlua::Result<Value> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if raise => Err(e),
        Ok(Err(e)) => {
            log::call(
                function,
                format_args!("failed: {}", convert::first_line(&e.to_string())),
            );
            Ok(fallback)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log::call(
                function,
                format_args!(
                    "internal error ({what}); returning {}",
                    args::type_of(&fallback)
                ),
            );
            Ok(fallback)
        }
    }
}
