//! What a Steam method is: its entry in the registry (interface, name,
//! version, HTTP method, parameters as `GetSupportedAPIList` lists them, the
//! shape of its answer, and its handler), and the call a handler is given.
//! The entries live beside their handlers, one module per interface; the
//! registry ([`super::registry`]) lists those modules.

use std::future::Future;
use std::pin::Pin;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use laurel_core::AppId;
use laurel_store::{KeyRecord, StoredSchema};
use laurel_wire::TokenClaims;

use super::format::{Format, HtmlError, Node};
use super::params::Params;
use crate::state::AppState;

/// What a handler answers: Steam's answer, or the front end's own refusal.
pub type SteamResult = Result<Response, HtmlError>;

/// A handler's future, boxed so that every method's handler has one type.
pub type Answer<'a> = Pin<Box<dyn Future<Output = SteamResult> + Send + 'a>>;

/// A Steam method's handler: `|state, call| Box::pin(the_handler(state, call))`.
pub type Handler = for<'a> fn(&'a AppState, &'a SteamCall) -> Answer<'a>;

/// One parameter of a Steam method. `name[0]` marks an array (`name[0]`,
/// `name[1]`, …), as Steam writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteamParam {
    pub name: &'static str,
    /// Steam's type name: `string`, `uint32`, `uint64`.
    pub kind: &'static str,
    pub optional: bool,
    pub description: &'static str,
}

/// A Steam method at one version: one registry entry.
#[derive(Clone, Copy)]
pub struct SteamMethod {
    pub interface: &'static str,
    pub name: &'static str,
    pub version: u32,
    /// `GET` or `POST`; the other is refused with Steam's 405.
    pub http: &'static str,
    /// Largest form body read; 0 for a method that reads none.
    pub body_limit: usize,
    /// Exactly what `GetSupportedAPIList` lists, and what the dispatcher
    /// requires (every parameter not `optional`).
    pub params: &'static [SteamParam],
    /// A JSON pointer that a successful answer (`format=json`) has: the
    /// documented shape, checked for every entry by the server's tests.
    pub answer: &'static str,
    pub handler: Handler,
}

impl SteamMethod {
    /// The path Steam's own clients build: `/Interface/Method/v1/`.
    pub fn canonical_path(&self) -> String {
        format!("/{}/{}/v{}/", self.interface, self.name, self.version)
    }
}

impl std::fmt::Debug for SteamMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SteamMethod")
            .field("interface", &self.interface)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

pub(crate) const fn param(
    name: &'static str,
    kind: &'static str,
    optional: bool,
    description: &'static str,
) -> SteamParam {
    SteamParam {
        name,
        kind,
        optional,
        description,
    }
}

pub const USER_STATS: &str = "ISteamUserStats";
pub const WEB_API_UTIL: &str = "ISteamWebAPIUtil";
pub const USER: &str = "ISteamUser";
pub const LEADERBOARDS: &str = "ISteamLeaderboards";

pub(crate) const KEY: SteamParam = param("key", "string", false, "access key");
pub(crate) const STEAMID: SteamParam = param("steamid", "uint64", false, "SteamID of user");
pub(crate) const APPID_OF_GAME: SteamParam = param("appid", "uint32", false, "appid of game");

/// Who is calling, by `key=` or `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    None,
    Server(KeyRecord),
    User(TokenClaims),
}

impl Credential {
    /// The credential must be of `app` (a server key of it or a user token of it).
    pub(crate) fn require_app(&self, app: AppId) -> Result<(), HtmlError> {
        match self {
            Credential::None => Err(HtmlError::key_missing()),
            Credential::Server(k) if k.app == app => Ok(()),
            Credential::User(c) if c.app == app => Ok(()),
            _ => Err(HtmlError::Forbidden),
        }
    }
}

/// One call of a Steam method, with everything the handlers need.
pub struct SteamCall {
    /// The client address, as audit records name it.
    pub(crate) address: String,
    pub(crate) params: Params,
    pub(crate) format: Format,
    pub(crate) headers: HeaderMap,
    pub(crate) credential: Credential,
    /// The version called (some methods answer each version differently).
    pub(crate) version: u32,
    /// Every registered method, for `GetSupportedAPIList`: handed down so
    /// that the handlers sit below the registry that lists them.
    pub(crate) registry: &'static [&'static [SteamMethod]],
}

impl SteamCall {
    /// A 200 with `root` in the call's format.
    pub(crate) fn ok(&self, root: &Node) -> SteamResult {
        Ok(self.format.respond(StatusCode::OK, root))
    }

    /// The global methods answer anyone for an app whose schema sets
    /// `public_globals` (as Steam's do); otherwise a key or user token of the app.
    pub(crate) fn require_unless_public(&self, stored: &StoredSchema) -> Result<(), HtmlError> {
        if stored.schema.settings().public_globals {
            return Ok(());
        }
        self.credential.require_app(stored.app)
    }

    /// The values of `base[0]` … `base[count-1]`: exactly those, each once and not empty.
    pub(crate) fn indexed(&self, base: &str, count: u32) -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            match self.params.get(&format!("{base}[{i}]")) {
                Some(v) if !v.is_empty() => out.push(v.to_owned()),
                _ => return Err(format!("{base}[{i}] is missing (count is {count})")),
            }
        }
        for name in self.params.names() {
            let Some(index) = name
                .strip_prefix(base)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
            else {
                continue;
            };
            match index.parse::<u32>() {
                Ok(i) if i < count && index == i.to_string() => {}
                _ => {
                    let shown: String = name.chars().take(40).collect();
                    return Err(format!(
                        "{shown:?} is not one of {base}[0]..{base}[{}] (count is {count})",
                        count.saturating_sub(1)
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The stored schema of `app`, `None` for an app without one.
pub(crate) async fn schema_of(
    state: &AppState,
    app: AppId,
) -> Result<Option<StoredSchema>, HtmlError> {
    state
        .schema(app)
        .await
        .map_err(|e| HtmlError::from_store(&e))
}
