//! App ids and Steam ids. Both are parsed from decimal text only: a value that
//! exists is valid.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} must be decimal digits only, got {shown}")]
    NotDecimal { what: &'static str, shown: String },
    #[error("{what} {shown} is out of range (1..={max})")]
    OutOfRange {
        what: &'static str,
        shown: String,
        max: u64,
    },
}

/// Shows at most 40 characters of hostile input in an error message.
fn shown(text: &str) -> String {
    crate::name::shown(text, 40)
}

fn parse_decimal(text: &str, what: &'static str, max: u64) -> Result<u64, IdError> {
    if text.is_empty() {
        return Err(IdError::Empty { what });
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotDecimal {
            what,
            shown: shown(text),
        });
    }
    match text.parse::<u64>() {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(IdError::OutOfRange {
            what,
            shown: shown(text),
            max,
        }),
    }
}

/// A game's numeric id (Steam's `AppId_t`). Zero is not an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(u32);

impl AppId {
    pub fn new(value: u32) -> Result<AppId, IdError> {
        if value == 0 {
            return Err(IdError::OutOfRange {
                what: "app id",
                shown: "\"0\"".into(),
                max: u32::MAX as u64,
            });
        }
        Ok(AppId(value))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for AppId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<AppId, IdError> {
        parse_decimal(s, "app id", u32::MAX as u64).map(|v| AppId(v as u32))
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A 64-bit Steam-style user id. Always carried as a decimal string on the
/// wire and in Lua, because doubles lose its low digits. Zero is not a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SteamId(u64);

impl SteamId {
    pub fn new(value: u64) -> Result<SteamId, IdError> {
        if value == 0 {
            return Err(IdError::OutOfRange {
                what: "steam id",
                shown: "\"0\"".into(),
                max: u64::MAX,
            });
        }
        Ok(SteamId(value))
    }
    pub fn get(self) -> u64 {
        self.0
    }
}

impl FromStr for SteamId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<SteamId, IdError> {
        parse_decimal(s, "steam id", u64::MAX).map(SteamId)
    }
}

impl fmt::Display for SteamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_steam(input: &str, expect: Result<u64, &str>) {
        let got = input.parse::<SteamId>();
        match expect {
            Ok(v) => assert_eq!(got.map(SteamId::get), Ok(v), "{input:?}"),
            Err(msg) => {
                let err = got.expect_err(input).to_string();
                assert!(err.contains(msg), "{input:?}: {err}");
            }
        }
    }

    #[test]
    fn steam_ids() {
        check_steam("76561197960287930", Ok(76561197960287930));
        check_steam("18446744073709551615", Ok(u64::MAX));
        check_steam("1", Ok(1));
        check_steam("0", Err("out of range"));
        check_steam("18446744073709551616", Err("out of range"));
        check_steam("99999999999999999999999999", Err("out of range"));
        check_steam("", Err("empty"));
        check_steam("-1", Err("decimal digits only"));
        check_steam("+1", Err("decimal digits only"));
        check_steam(" 1", Err("decimal digits only"));
        check_steam("1e5", Err("decimal digits only"));
        check_steam("7.6e16", Err("decimal digits only"));
        check_steam("0x10", Err("decimal digits only"));
        check_steam("１２", Err("decimal digits only"));
    }

    #[test]
    fn hostile_input_is_truncated_in_messages() {
        let long = "x".repeat(10_000);
        let err = long.parse::<SteamId>().unwrap_err().to_string();
        assert!(err.len() < 120, "{err}");
    }

    #[test]
    fn app_ids() {
        assert_eq!("480".parse::<AppId>().map(AppId::get), Ok(480));
        assert_eq!("4294967295".parse::<AppId>().map(AppId::get), Ok(u32::MAX));
        assert!("4294967296".parse::<AppId>().is_err());
        assert!("0".parse::<AppId>().is_err());
        assert!(AppId::new(0).is_err());
        assert!("abc".parse::<AppId>().is_err());
    }
}
