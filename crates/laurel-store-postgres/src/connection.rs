//! Connections: the pool, what a failed call means, and which connections
//! may be used again.
//!
//! Every call takes a [`Lease`] on a pooled connection. A lease gives its
//! connection back to the pool only when the work on it finished with an
//! answer the connection can be trusted after (success, a decision of the
//! store, or an ordinary database error whose transaction was rolled back);
//! a lease dropped in the middle of its work (timeout, caller gave up) or
//! after a connection-level error removes its connection from the pool
//! instead, so a broken or half-used connection is never handed out again.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Object, PoolError, TimeoutType};
use laurel_store::StoreError;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Why a unit of work on a connection did not produce its answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// A statement failed; `what` says what the store was doing.
    #[error("{what}: {}", describe(.source))]
    Db {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The store's own answer (unknown app, idempotency conflict) or a value
    /// in the database that does not decode.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Attaches what the store was doing to a driver error.
pub(crate) trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn context(self, what: &'static str) -> Result<T, Failure> {
        self.map_err(|source| Failure::Db { what, source })
    }
}

/// The driver's own `Display` of a server error is only "db error": the
/// SQLSTATE and the server's message are what an operator needs.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What a failure means for the caller and for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Serialization failure or deadlock: the transaction was rolled back and
    /// running it again may succeed.
    Retry,
    /// The database cannot answer now (down, restarting, overloaded, too slow).
    Unavailable,
    /// Anything else: a bug, bad configuration, or data that does not decode.
    Backend,
}

/// How a driver error is answered, and whether its connection is still usable.
pub(crate) fn classify(e: &tokio_postgres::Error) -> (FailureKind, Reuse) {
    let Some(code) = e.code() else {
        // No SQLSTATE: the socket failed, the connection is closed, or a
        // value did not convert. Only the last is not about the connection,
        // and a connection is cheap: none of them is reused.
        let lost = e.is_closed() || has_io_source(e);
        let kind = if lost {
            FailureKind::Unavailable
        } else {
            FailureKind::Backend
        };
        return (kind, Reuse::Discard);
    };
    classify_sqlstate(code.code())
}

/// Whether a connection may go back to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    Keep,
    Discard,
}

/// SQLSTATE classes and codes (PostgreSQL manual, appendix A).
pub(crate) fn classify_sqlstate(code: &str) -> (FailureKind, Reuse) {
    match code {
        // serialization_failure, deadlock_detected: rolled back, safe to rerun.
        "40001" | "40P01" => (FailureKind::Retry, Reuse::Keep),
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting or
        // stopping), idle_in_transaction_session_timeout (the server closed
        // the session), read_only_sql_transaction (a standby after a
        // failover: reconnecting finds the new primary).
        "57P01" | "57P02" | "57P03" | "25P03" | "25006" => {
            (FailureKind::Unavailable, Reuse::Discard)
        }
        // invalid_sql_statement_name: a statement every connection prepares
        // when it opens is gone (something ran DEALLOCATE on the session);
        // a new connection has it again.
        "26000" => (FailureKind::Retry, Reuse::Discard),
        // query_canceled (statement_timeout), lock_not_available: the
        // database is too busy to answer in time; the session is fine.
        "57014" | "55P03" => (FailureKind::Unavailable, Reuse::Keep),
        // connection_exception (08xxx).
        _ if code.starts_with("08") => (FailureKind::Unavailable, Reuse::Discard),
        // insufficient_resources (53xxx): too many connections, disk full, out of memory.
        _ if code.starts_with("53") => (FailureKind::Unavailable, Reuse::Keep),
        _ => (FailureKind::Backend, Reuse::Keep),
    }
}

fn has_io_source(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The answer for a pool that could not hand out a connection.
pub(crate) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable(
            "no database connection became free in time (all are busy)".into(),
        ),
        PoolError::Timeout(TimeoutType::Create) => {
            StoreError::Unavailable("connecting to the database timed out".into())
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            StoreError::Unavailable("checking a pooled database connection timed out".into())
        }
        PoolError::Closed => StoreError::Unavailable("the store is closed".into()),
        PoolError::Backend(e) => {
            let message = format!("connecting to the database: {}", describe(&e));
            match classify(&e).0 {
                FailureKind::Backend => StoreError::Backend(message),
                FailureKind::Retry | FailureKind::Unavailable => StoreError::Unavailable(message),
            }
        }
        PoolError::PostCreateHook(e) => {
            StoreError::Unavailable(format!("preparing a new database connection: {e}"))
        }
        PoolError::NoRuntimeSpecified => {
            StoreError::Backend("the connection pool has no async runtime".into())
        }
    }
}

/// A pooled connection, given back only when [`Lease::keep`] says it is sound.
pub(crate) struct Lease {
    object: Option<Object>,
    keep: bool,
}

impl Lease {
    pub(crate) fn new(object: Object) -> Lease {
        Lease {
            object: Some(object),
            keep: false,
        }
    }

    /// The connection. Until [`Lease::keep`] is called again, the lease
    /// counts as interrupted: dropping it discards the connection.
    pub(crate) fn client(&mut self) -> &mut Object {
        self.keep = false;
        // `object` is `None` only inside `drop`.
        match &mut self.object {
            Some(object) => object,
            None => unreachable!("a lease is used after it was dropped"),
        }
    }

    /// The work on the connection ended cleanly: it may serve the next call.
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.keep
            && let Some(object) = self.object.take()
        {
            // Taken out of the pool: dropping the client closes the connection.
            drop(Object::take(object));
        }
    }
}

/// How many times a transaction runs at most when the database asks for a
/// rerun (serialization failure, deadlock).
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// Wait before rerun `attempt` (1-based): exponential from 2 ms, with full
/// jitter so that the transactions that collided do not collide again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ceiling_micros = 2_000u64 << attempt.min(6);
    let random = getrandom::u64().unwrap_or(0);
    Duration::from_micros(ceiling_micros / 2 + random % (ceiling_micros / 2))
}

/// Runs two pieces of work on one connection at once (their statements are
/// pipelined: one round trip) and keeps both answers.
///
/// In a transaction, the first failing statement aborts it and every later
/// one fails with `25P02 in_failed_sql_transaction`; which branch is polled
/// first is not fixed, so the error reported is the root cause, not the
/// echo (a deadlock must stay a deadlock, to be rerun).
pub(crate) async fn join_pipelined<A, B>(
    a: impl Future<Output = Result<A, Failure>>,
    b: impl Future<Output = Result<B, Failure>>,
) -> Result<(A, B), Failure> {
    match tokio::join!(a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(root_cause([a.err(), b.err()])),
    }
}

/// Like [`join_pipelined`], for three.
pub(crate) async fn join3_pipelined<A, B, C>(
    a: impl Future<Output = Result<A, Failure>>,
    b: impl Future<Output = Result<B, Failure>>,
    c: impl Future<Output = Result<C, Failure>>,
) -> Result<(A, B, C), Failure> {
    match tokio::join!(a, b, c) {
        (Ok(a), Ok(b), Ok(c)) => Ok((a, b, c)),
        (a, b, c) => Err(root_cause([a.err(), b.err(), c.err()])),
    }
}

/// The failure that made the others: in a pipeline, the statements after a
/// failed one answer only "current transaction is aborted" (25P02).
pub(crate) fn root_cause<const N: usize>(errors: [Option<Failure>; N]) -> Failure {
    let echo = |f: &Failure| {
        matches!(f, Failure::Db { source, .. }
            if source.code().is_some_and(|c| c.code() == "25P02"))
    };
    let mut errors: Vec<Failure> = errors.into_iter().flatten().collect();
    match errors.iter().position(|f| !echo(f)) {
        Some(i) => errors.swap_remove(i),
        None => errors.pop().unwrap_or_else(|| {
            Failure::Store(StoreError::Backend(
                "a joined failure without an error".into(),
            ))
        }),
    }
}

/// Runs one statement through the connection's statement cache.
pub(crate) async fn query<C: GenericClient>(
    client: &C,
    what: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Failure> {
    let statement = client.prepare_cached(sql).await.context(what)?;
    client.query(&statement, params).await.context(what)
}

pub(crate) async fn query_opt<C: GenericClient>(
    client: &C,
    what: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, Failure> {
    let statement = client.prepare_cached(sql).await.context(what)?;
    client.query_opt(&statement, params).await.context(what)
}

pub(crate) async fn execute<C: GenericClient>(
    client: &C,
    what: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, Failure> {
    let statement = client.prepare_cached(sql).await.context(what)?;
    client.execute(&statement, params).await.context(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        let cases = [
            ("40001", FailureKind::Retry, Reuse::Keep),
            ("40P01", FailureKind::Retry, Reuse::Keep),
            ("26000", FailureKind::Retry, Reuse::Discard),
            ("57P01", FailureKind::Unavailable, Reuse::Discard),
            ("57P03", FailureKind::Unavailable, Reuse::Discard),
            ("08006", FailureKind::Unavailable, Reuse::Discard),
            ("08001", FailureKind::Unavailable, Reuse::Discard),
            ("57014", FailureKind::Unavailable, Reuse::Keep),
            ("53300", FailureKind::Unavailable, Reuse::Keep),
            ("25006", FailureKind::Unavailable, Reuse::Discard),
            ("23505", FailureKind::Backend, Reuse::Keep),
            ("42P01", FailureKind::Backend, Reuse::Keep),
            ("3D000", FailureKind::Backend, Reuse::Keep),
            ("28P01", FailureKind::Backend, Reuse::Keep),
        ];
        for (code, kind, reuse) in cases {
            assert_eq!(classify_sqlstate(code), (kind, reuse), "{code}");
        }
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..=MAX_ATTEMPTS + 10 {
            let ceiling = Duration::from_micros(2_000u64 << attempt.min(6));
            let wait = backoff(attempt);
            assert!(wait >= ceiling / 2 && wait < ceiling, "{attempt}: {wait:?}");
        }
    }
}
