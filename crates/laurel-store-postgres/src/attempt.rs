//! One call's attempts: each on a leased connection, bounded in time, rerun
//! when the database asks for it (see [`crate::connection`] for what a
//! failure means).

use std::time::Duration;

use laurel_store::StoreError;
use tokio::time::error::Elapsed;

use crate::connection::{Failure, FailureKind, Lease, MAX_ATTEMPTS, Reuse, classify, pool_error};
use crate::inner::Inner;

/// What follows one attempt of a call: its answer, or a rerun.
pub(crate) enum AfterAttempt<T> {
    Answer(Result<T, StoreError>),
    Rerun,
}

/// Runs `$body` (an expression of type `Result<T, Failure>` that may
/// `.await`, with `$client: &mut Object`, a pooled connection) on a pooled connection,
/// bounded by `$timeout`, rerunning it when the database asks for a rerun;
/// evaluates to `Result<T, StoreError>`. A macro rather than a function
/// taking a closure: the body borrows the connection and the caller's data
/// for the length of one attempt, which closures returning futures cannot
/// express without boxing and cloning.
macro_rules! with_client {
    ($inner:expr, $timeout:expr, |$client:ident| $body:expr) => {{
        let inner: &$crate::inner::Inner = $inner;
        let timeout: ::std::time::Duration = $timeout;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut lease = inner.lease().await?;
            let outcome = tokio::time::timeout(timeout, async {
                let $client: &mut ::deadpool_postgres::Object = lease.client();
                $body
            })
            .await;
            match $crate::attempt::after_attempt(&mut lease, outcome, attempt, timeout) {
                $crate::attempt::AfterAttempt::Answer(result) => break result,
                $crate::attempt::AfterAttempt::Rerun => {
                    drop(lease);
                    tokio::time::sleep($crate::connection::backoff(attempt)).await;
                }
            }
        }
    }};
}

/// Turns one attempt's outcome into the answer (or a rerun), and decides
/// whether its connection goes back to the pool.
pub(crate) fn after_attempt<T>(
    lease: &mut Lease,
    outcome: Result<Result<T, Failure>, Elapsed>,
    attempt: u32,
    timeout: Duration,
) -> AfterAttempt<T> {
    let failure = match outcome {
        // The lease is left as interrupted: its connection is discarded.
        Err(_) => {
            return AfterAttempt::Answer(Err(StoreError::Unavailable(format!(
                "the database did not answer within {} ms",
                timeout.as_millis()
            ))));
        }
        Ok(Ok(value)) => {
            lease.keep();
            return AfterAttempt::Answer(Ok(value));
        }
        Ok(Err(failure)) => failure,
    };
    let (what, source) = match failure {
        Failure::Store(e) => {
            lease.keep();
            return AfterAttempt::Answer(Err(e));
        }
        Failure::Db { what, source } => (what, source),
    };
    let (kind, reuse) = classify(&source);
    if reuse == Reuse::Keep {
        lease.keep();
    }
    let message = Failure::Db { what, source }.to_string();
    match kind {
        FailureKind::Retry if attempt < MAX_ATTEMPTS => {
            tracing::debug!(attempt, error = %message, "rerunning a transaction");
            AfterAttempt::Rerun
        }
        FailureKind::Retry => AfterAttempt::Answer(Err(StoreError::Unavailable(format!(
            "{message} (still failing after {MAX_ATTEMPTS} attempts)"
        )))),
        FailureKind::Unavailable => AfterAttempt::Answer(Err(StoreError::Unavailable(message))),
        FailureKind::Backend => AfterAttempt::Answer(Err(StoreError::Backend(message))),
    }
}

impl Inner {
    pub(crate) async fn lease(&self) -> Result<Lease, StoreError> {
        self.pool.get().await.map(Lease::new).map_err(pool_error)
    }
}
