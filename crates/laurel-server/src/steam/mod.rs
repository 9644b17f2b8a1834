//! Steam Web API compatibility: `ISteamUserStats/*` and `ISteamWebAPIUtil/*`
//! with Steam's paths, parameter names, versions, JSON shapes and errors, so
//! that existing tools and game backends work by changing the base URL.
//! `docs/steam-web-api.md` has every shape with the sources it was checked
//! against.
//!
//! - Routing: each method of the [`registry`] is served at
//!   `/Interface/Method/{version}` and `/Interface/Method/{version}/`, where
//!   the version is `v1`, `v0001`, `v2`, `v0002`, … ([`params::parse_version`]).
//! - Credentials: `key=` (or `Authorization: Bearer`) is a server key of the
//!   app or a user token of the app ([`method::Credential`](method)). Missing required
//!   parameters (the `key` included) are Steam's HTML 400, an unknown,
//!   revoked or wrong-app key its HTML 403, an expired user token its 401.
//! - Formats: `format=json` (default), `xml`, `vdf` ([`mod@format`]).

mod dispatch;
pub mod format;
mod leaderboards;
pub mod method;
pub mod params;
pub mod registry;
mod user;
mod user_stats;
mod web_api_util;

pub(crate) use self::dispatch::dispatch;
pub use self::format::{Format, HtmlError, Node};
pub use self::method::{SteamMethod, SteamParam};
pub(crate) use self::registry::not_found;
pub use self::registry::{REGISTRY, methods};
pub use self::user_stats::set::MAX_STEAM_FORM_BYTES;
