//! What a game passes to [`crate::Client::init`], and what can go wrong there.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use laurel_core::{AppId, SteamId};

/// How long a request keeps retrying before it is reported with `NoConnection` (3).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The language of achievement names and descriptions when none is configured.
pub const DEFAULT_LANGUAGE: &str = "english";

/// Who the game plays as.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user token (`lt2.<app>.<steamid>.<issued_ms>.<expires>.<key>.<mac>`) issued by the
    /// game's backend. The user id is read from it at once, without the network.
    Token(String),
    /// Development only: the client asks the server (in `--dev` mode) for a
    /// token for this user, in the background. The user id is known at once.
    DevUser(SteamId),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The MAC is a secret: never print it.
            Credentials::Token(t) => {
                let shown = t
                    .rsplit_once('.')
                    .map_or("<malformed>", |(claims, _)| claims);
                write!(f, "Token({shown:?}.<redacted>)")
            }
            Credentials::DevUser(id) => write!(f, "DevUser({id})"),
        }
    }
}

/// Configuration of a [`crate::Client`]. Build it with [`ClientConfig::new`]
/// and adjust with the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// `http://host:port` or `https://host[/prefix]`.
    pub server_url: String,
    pub app_id: AppId,
    pub credentials: Credentials,
    /// The offline journal (a SQLite file). `None`: the file
    /// `laurel-journal-<app>-<user>.sqlite3` in the current directory
    /// (see [`ClientConfig::default_journal_path`]).
    pub journal_path: Option<PathBuf>,
    /// How long a progress request keeps retrying before it is reported as
    /// failed with `NoConnection` (3); also the longest a single HTTP attempt
    /// may take. 60 s by default, as on Steam.
    pub request_timeout: Duration,
    /// Language of achievement names and descriptions (Steam's language
    /// names: `english`, `french`, `schinese`, …); English is the fallback.
    pub language: String,
}

impl ClientConfig {
    pub fn new(
        server_url: impl Into<String>,
        app_id: AppId,
        credentials: Credentials,
    ) -> ClientConfig {
        ClientConfig {
            server_url: server_url.into(),
            app_id,
            credentials,
            journal_path: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            language: DEFAULT_LANGUAGE.to_owned(),
        }
    }

    pub fn with_journal_path(mut self, path: impl Into<PathBuf>) -> ClientConfig {
        self.journal_path = Some(path.into());
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.request_timeout = timeout;
        self
    }

    pub fn with_language(mut self, language: impl Into<String>) -> ClientConfig {
        self.language = language.into();
        self
    }

    /// `laurel-journal-<app>-<user>.sqlite3`, relative to the current directory.
    pub fn default_journal_path(app: AppId, user: SteamId) -> PathBuf {
        PathBuf::from(format!("laurel-journal-{app}-{user}.sqlite3"))
    }
}

/// Why [`crate::Client::init`] failed. Nothing here involves the network:
/// init never waits for the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("server URL {url:?} is not usable: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("the token is not usable: {reason}")]
    InvalidToken { reason: String },
    #[error("invalid configuration: {reason}")]
    InvalidConfig { reason: String },
    #[error("the journal {path} cannot be opened: {source}")]
    Journal {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the background worker could not be started: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Checks a server URL and returns it without a trailing slash.
pub(crate) fn normalize_server_url(url: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::InvalidUrl {
        url: url.chars().take(200).collect(),
        reason: reason.to_owned(),
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if uri.query().is_some() {
        return Err(bad("a query string is not allowed"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        for (url, expect) in [
            ("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080")),
            ("http://127.0.0.1:8080/", Ok("http://127.0.0.1:8080")),
            (
                "https://example.com/laurel/",
                Ok("https://example.com/laurel"),
            ),
            ("ftp://example.com", Err("scheme")),
            ("127.0.0.1:8080", Err("scheme")),
            ("http://", Err("")),
            ("http://x/?a=b", Err("query")),
            ("", Err("")),
        ] {
            match (normalize_server_url(url), expect) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{url}: {e}"),
                (got, want) => panic!("{url}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn token_is_not_printed() {
        let mac = "ab".repeat(32);
        let c = Credentials::Token(format!("lt2.480.7.1.1800000000.0.{mac}"));
        let shown = format!("{c:?}");
        assert!(!shown.contains(&mac), "{shown}");
        assert!(shown.contains("lt2.480.7.1.1800000000.0"), "{shown}");
    }
}
