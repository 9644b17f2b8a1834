//! How to reach the database and the bounds of every call, and how the
//! URL is shown in logs.

use std::time::Duration;

/// How to reach the database, and the bounds of every call. Out-of-range
/// values are clamped (connections to 1..=[`MAX_CONNECTIONS`](crate::MAX_CONNECTIONS),
/// timeouts to at least [`MIN_TIMEOUT`](crate::MIN_TIMEOUT)), so any value opens a working store. `Debug` shows
/// the URL without its password (see [`redacted_url`]).
#[derive(Clone, PartialEq)]
pub struct PostgresOptions {
    /// A libpq-style URL or key=value string, e.g.
    /// `postgres://user:password@host:5432/laurel`.
    pub url: String,
    /// Connections in the pool: at most this many calls run at once.
    pub max_connections: usize,
    /// Longest a new connection may take to open.
    pub connect_timeout: Duration,
    /// Longest a call waits for a free pooled connection.
    pub wait_timeout: Duration,
    /// Longest one statement may run on the server (`statement_timeout`);
    /// it includes waiting for a user's row lock behind other stores.
    pub statement_timeout: Duration,
    /// Longest one attempt of a call may take on the client, whatever the
    /// server does (a frozen server or a dropped network never hangs a call).
    pub operation_timeout: Duration,
    /// Longest a schema change may take (statement and attempt): it may
    /// recount an aggregated stat over every user, and it waits for the
    /// stores of its app in flight.
    pub schema_timeout: Duration,
    /// The server closes a session left idle inside a transaction this long
    /// (`idle_in_transaction_session_timeout`), so a node that froze in the
    /// middle of a store cannot hold a user's row lock for ever.
    pub idle_in_transaction_timeout: Duration,
    /// Least time between two purges of expired idempotency keys by this node.
    pub idempotency_purge_interval: Duration,
}

impl PostgresOptions {
    /// The defaults, for the database at `url`.
    pub fn new(url: impl Into<String>) -> PostgresOptions {
        PostgresOptions {
            url: url.into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            schema_timeout: Duration::from_secs(60),
            idle_in_transaction_timeout: Duration::from_secs(30),
            idempotency_purge_interval: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redacted_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("schema_timeout", &self.schema_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .field(
                "idempotency_purge_interval",
                &self.idempotency_purge_interval,
            )
            .finish()
    }
}

/// The database URL with every password replaced by `***`, fit for logs: the
/// one of the user-info part (`postgres://user:secret@host`) and any
/// `password=` parameter (`?password=secret`, or the key=value form
/// `host=db password=secret`, quoted or not).
pub fn redacted_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    if let Some(scheme_end) = url.find("://") {
        let (scheme, after) = url.split_at(scheme_end + 3);
        let authority_end = after.find(['/', '?']).unwrap_or(after.len());
        let (authority, tail) = after.split_at(authority_end);
        out.push_str(scheme);
        match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = tail;
    }
    const KEY: &str = "password=";
    while let Some(found) = rest.find(KEY) {
        let (before, after) = rest.split_at(found + KEY.len());
        out.push_str(before);
        out.push_str("***");
        let value_end = if let Some(quoted) = after.strip_prefix('\'') {
            // Up to the closing quote (a backslash escapes one).
            let mut escaped = false;
            quoted
                .char_indices()
                .find(|&(_, c)| {
                    let end = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                })
                .map_or(after.len(), |(i, _)| i + 2)
        } else {
            after.find(['&', ' ', '\t', '\n']).unwrap_or(after.len())
        };
        rest = &after[value_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        let cases = [
            (
                "postgres://laurel@127.0.0.1:5432/db",
                "postgres://laurel@127.0.0.1:5432/db",
            ),
            (
                "postgres://laurel:s3cr:et@db.internal/laurel",
                "postgres://laurel:***@db.internal/laurel",
            ),
            (
                "postgresql://u:p%40ss@h/db?password=other&sslmode=disable",
                "postgresql://u:***@h/db?password=***&sslmode=disable",
            ),
            (
                "host=db user=laurel password=secret dbname=x",
                "host=db user=laurel password=*** dbname=x",
            ),
            (
                "host=db password='se cr\\'et' user=u",
                "host=db password=*** user=u",
            ),
            ("password=", "password=***"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted_url(url), shown, "{url}");
        }
        let options = PostgresOptions::new("postgres://laurel:hunter2@db/laurel");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
