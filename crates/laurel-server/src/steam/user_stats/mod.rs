//! `ISteamUserStats`, by concern.

pub(super) mod global;
pub(super) mod reads;
pub(super) mod set;
