//! Steam Web API parameters: `application/x-www-form-urlencoded` pairs from
//! the query string (GET) or the body (POST), with Steam's names (`key`,
//! `steamid`, `appid`, `name[0]`, …). Every way a parameter can be missing or
//! unreadable is a 400 naming it.

use std::collections::HashMap;

use laurel_core::limits::MAX_BATCH_ENTRIES;
use laurel_core::{AppId, SteamId};

use super::format::HtmlError;

/// Most parameters one call may carry: a full `SetUserStatsForGame` batch
/// (`name[i]` and `value[i]` per entry) and a few more.
pub const MAX_PARAMS: usize = 2 * MAX_BATCH_ENTRIES + 16;
/// Longest parameter name or value, in bytes after decoding.
pub const MAX_PARAM_BYTES: usize = 1024;
/// Longest `steamids` (`GetPlayerSummaries`): 100 ids of up to 20 digits
/// and their commas, with room for spaces.
pub const MAX_STEAMIDS_BYTES: usize = 4096;

/// The parameters of one call. A name given twice is refused: Steam's
/// parameters are single-valued, and a duplicate would be silently ambiguous.
#[derive(Debug, Default)]
pub struct Params {
    map: HashMap<String, String>,
}

fn shown(text: &str) -> String {
    laurel_core::shown(text, 40)
}

impl Params {
    /// Reads the pairs of every source (query string, form body), in order.
    pub fn parse(sources: &[&[u8]]) -> Result<Params, HtmlError> {
        let mut map = HashMap::new();
        for source in sources {
            for (name, value) in form_urlencoded::parse(source) {
                if map.len() >= MAX_PARAMS {
                    return Err(HtmlError::BadRequest(format!(
                        "More than {MAX_PARAMS} parameters"
                    )));
                }
                let max = if name == "steamids" {
                    MAX_STEAMIDS_BYTES
                } else {
                    MAX_PARAM_BYTES
                };
                if name.len() > MAX_PARAM_BYTES || value.len() > max {
                    return Err(HtmlError::BadRequest(format!(
                        "Parameter {} is longer than {max} bytes",
                        shown(&name)
                    )));
                }
                if map.contains_key(name.as_ref()) {
                    return Err(HtmlError::BadRequest(format!(
                        "Parameter {} is given more than once",
                        shown(&name)
                    )));
                }
                map.insert(name.into_owned(), value.into_owned());
            }
        }
        Ok(Params { map })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub fn required(&self, name: &str) -> Result<&str, HtmlError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(HtmlError::BadRequest(format!(
                "Parameter '{name}' is missing"
            ))),
        }
    }

    fn invalid(name: &str, value: &str, why: impl std::fmt::Display) -> HtmlError {
        HtmlError::BadRequest(format!(
            "Parameter '{name}' is invalid ({}): {why}",
            shown(value)
        ))
    }

    /// A required app id (`appid`, `gameid`): decimal, 1..=4294967295.
    pub fn app_id(&self, name: &str) -> Result<AppId, HtmlError> {
        let text = self.required(name)?;
        text.parse().map_err(|e| Params::invalid(name, text, e))
    }

    /// The required `steamid`: a 64-bit id in decimal.
    pub fn steam_id(&self) -> Result<SteamId, HtmlError> {
        let text = self.required("steamid")?;
        text.parse()
            .map_err(|e| Params::invalid("steamid", text, e))
    }

    /// An optional unsigned 32-bit number (`count`, `startdate`, `enddate`).
    pub fn u32(&self, name: &str) -> Result<Option<u32>, HtmlError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(text) => {
                if !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Params::invalid(name, text, "not a decimal number"));
                }
                text.parse()
                    .map(Some)
                    .map_err(|_| Params::invalid(name, text, "above 4294967295"))
            }
        }
    }

    pub fn required_u32(&self, name: &str) -> Result<u32, HtmlError> {
        self.required(name)?;
        self.u32(name)?
            .ok_or_else(|| HtmlError::BadRequest(format!("Parameter '{name}' is missing")))
    }
}

/// A method version as the path spells it: `v1`, `v2`, `v0001`, `v0002`
/// (Steam accepts the zero-padded form everywhere). `None` for anything else.
pub fn parse_version(segment: &str) -> Option<u32> {
    let digits = segment.strip_prefix('v')?;
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|v| *v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (text, want) in [
            ("v1", Some(1)),
            ("v0001", Some(1)),
            ("v2", Some(2)),
            ("v0002", Some(2)),
            ("v002", Some(2)),
            ("v0", None),
            ("v", None),
            ("1", None),
            ("V1", None),
            ("v00001", None),
            ("v1x", None),
            ("v-1", None),
        ] {
            assert_eq!(parse_version(text), want, "{text}");
        }
    }

    #[test]
    fn params_are_single_valued_and_bounded() {
        let p = Params::parse(&[b"a=1&name%5B0%5D=Games%20Played", b"b=2"]).unwrap();
        assert_eq!(p.get("name[0]"), Some("Games Played"));
        assert_eq!(p.get("b"), Some("2"));
        assert!(matches!(
            Params::parse(&[b"a=1&a=2"]),
            Err(HtmlError::BadRequest(m)) if m.contains("more than once")
        ));
        assert!(Params::parse(&[b"a=1", b"a=1"]).is_err(), "query and body");
        let many: String = (0..=MAX_PARAMS).map(|i| format!("p{i}=1&")).collect();
        assert!(Params::parse(&[many.as_bytes()]).is_err());
        let long = format!("a={}", "x".repeat(MAX_PARAM_BYTES + 1));
        assert!(Params::parse(&[long.as_bytes()]).is_err());
    }

    #[test]
    fn numbers() {
        let p = Params::parse(&[b"count=3&big=4294967296&neg=-1&hex=0x10&sid=abc&app=0"]).unwrap();
        assert_eq!(p.u32("count").unwrap(), Some(3));
        assert_eq!(p.u32("missing").unwrap(), None);
        for bad in ["big", "neg", "hex"] {
            assert!(p.u32(bad).is_err(), "{bad}");
        }
        assert!(p.app_id("app").is_err());
        assert!(p.required("missing").is_err());
    }
}
