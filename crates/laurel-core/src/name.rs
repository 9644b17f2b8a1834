//! API names of stats and achievements.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use crate::limits::MAX_NAME_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name is {len} bytes long; the limit is {MAX_NAME_BYTES}")]
    TooLong { len: usize },
    #[error("name contains a control character at byte {at}")]
    ControlCharacter { at: usize },
    #[error("name contains a Unicode noncharacter at byte {at}")]
    Noncharacter { at: usize },
}

/// Unicode's noncharacters (U+FDD0..U+FDEF, and the last two code points of
/// every plane, U+FFFE and U+FFFF among them): never text, and not allowed
/// in XML, so never in a name or a text of a schema.
pub fn is_noncharacter(c: char) -> bool {
    let u = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE
}

/// Where `text` holds a character no schema text may hold (a control
/// character other than tab, line feed and carriage return, or a
/// noncharacter), if anywhere: the byte offset and the character.
pub fn forbidden_in_text(text: &str) -> Option<(usize, char)> {
    text.char_indices()
        .find(|(_, c)| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_noncharacter(*c))
}

/// Text from the input as a message or a log line shows it: at most
/// `max_chars` characters, quoted and escaped (so control characters and
/// quotes cannot forge a line), and when cut, how long it was: `"abc"… (900 bytes)`.
pub fn shown(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
    }
}

/// A user's display name, checked: 1–[`MAX_DISPLAY_NAME_BYTES`] bytes of
/// UTF-8 with no control character (tab and line breaks included: a name is
/// one line), no bidirectional override or isolate (they turn the text
/// around it, so one player's name could spoof another's), no
/// noncharacter, and not only spaces. Returned as given.
///
/// [`MAX_DISPLAY_NAME_BYTES`]: crate::limits::MAX_DISPLAY_NAME_BYTES
pub fn check_display_name(name: &str) -> Result<&str, String> {
    let max = crate::limits::MAX_DISPLAY_NAME_BYTES;
    if name.trim().is_empty() {
        return Err("a display name needs at least one visible character".into());
    }
    if name.len() > max {
        return Err(format!(
            "a display name is at most {max} bytes of UTF-8; this one has {}",
            name.len()
        ));
    }
    if let Some((at, c)) = name.char_indices().find(|(_, c)| {
        c.is_control()
            || is_noncharacter(*c)
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }) {
        return Err(format!(
            "a display name may not hold {:?} (at byte {at})",
            c.escape_unicode().to_string()
        ));
    }
    Ok(name)
}

/// An API name: 1–128 bytes of UTF-8 without control characters.
/// Spaces are allowed (real games have stats called `Games Played`).
///
/// Shared (`Arc<str>`) because progress maps are cloned on every store and
/// every cached read: a clone is a count increment, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiName(Arc<str>);

impl ApiName {
    pub fn parse(text: &str) -> Result<ApiName, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong { len: text.len() });
        }
        if let Some((at, _)) = text.char_indices().find(|(_, c)| c.is_control()) {
            return Err(NameError::ControlCharacter { at });
        }
        if let Some((at, _)) = text.char_indices().find(|(_, c)| is_noncharacter(*c)) {
            return Err(NameError::Noncharacter { at });
        }
        Ok(ApiName(Arc::from(text)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ApiName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_text_is_quoted_escaped_and_cut_with_its_length() {
        assert_eq!(shown("abc", 3), "\"abc\"");
        assert_eq!(shown("abcd", 3), "\"abc\"… (4 bytes)");
        assert_eq!(shown("a\nb\"", 10), "\"a\\nb\\\"\"");
        // Cut on a character, counted in bytes.
        assert_eq!(shown("ééé", 2), "\"éé\"… (6 bytes)");
    }

    #[test]
    fn display_names_are_one_visible_line_of_bounded_length() {
        for good in ["Gordon", "Ünïcødé 名前 🎮", " padded ", &"n".repeat(64)] {
            assert_eq!(check_display_name(good), Ok(good));
        }
        for bad in [
            "",
            "   ",
            "two\nlines",
            "tab\there",
            "nul\0",
            "bidi\u{202E}",
            "isolate\u{2067}",
            "\u{FFFE}",
            &"n".repeat(65),
        ] {
            assert!(check_display_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn noncharacters_are_refused_in_names_and_texts() {
        for c in [
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{1FFFE}',
            '\u{10FFFF}',
        ] {
            assert!(is_noncharacter(c), "{c:?}");
            let name = format!("A{c}");
            assert_eq!(
                ApiName::parse(&name),
                Err(NameError::Noncharacter { at: 1 })
            );
            assert_eq!(forbidden_in_text(&name), Some((1, c)));
        }
        for c in ['\u{FDCF}', '\u{FDF0}', '\u{FFFD}', 'é', '统'] {
            assert!(!is_noncharacter(c), "{c:?}");
        }
        assert_eq!(forbidden_in_text("two\nlines\tand\r\n"), None);
        assert_eq!(forbidden_in_text("bell\u{7}"), Some((4, '\u{7}')));
    }

    #[test]
    fn names() {
        assert!(ApiName::parse("ACH_WIN_ONE_GAME").is_ok());
        assert!(ApiName::parse("Games Played").is_ok());
        assert!(ApiName::parse("勝利").is_ok());
        assert_eq!(ApiName::parse(""), Err(NameError::Empty));
        assert!(ApiName::parse(&"a".repeat(MAX_NAME_BYTES)).is_ok());
        assert_eq!(
            ApiName::parse(&"a".repeat(MAX_NAME_BYTES + 1)),
            Err(NameError::TooLong {
                len: MAX_NAME_BYTES + 1
            })
        );
        assert_eq!(
            ApiName::parse("a\nb"),
            Err(NameError::ControlCharacter { at: 1 })
        );
        assert_eq!(
            ApiName::parse("\u{0}"),
            Err(NameError::ControlCharacter { at: 0 })
        );
    }
}
