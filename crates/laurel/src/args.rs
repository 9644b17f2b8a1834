//! Reading command-line values that the parser takes as text: ids, and
//! naming the flag a failure is about.

use anyhow::anyhow;
use laurel_core::{AppId, SteamId};

use crate::failure::{Failure, exit, fail};

/// Names the flag a failure is about, keeping its exit code.
pub fn about_flag(flag: &'static str) -> impl Fn(Failure) -> Failure {
    move |f| Failure {
        code: f.code,
        error: f.error.context(flag),
    }
}

pub fn parse_app(text: &str) -> Result<AppId, Failure> {
    text.parse()
        .map_err(|e| fail(exit::INVALID_INPUT, anyhow!("APP: {e}")))
}

pub fn parse_user(text: &str) -> Result<SteamId, Failure> {
    text.parse()
        .map_err(|e| fail(exit::INVALID_INPUT, anyhow!("STEAMID: {e}")))
}
