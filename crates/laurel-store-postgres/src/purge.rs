//! Expired idempotency keys: each node purges them in the background,
//! a batch at a time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use laurel_core::UnixTime;
use laurel_store::{IDEMPOTENCY_RETENTION_SECONDS, PURGE_BATCH_ROWS, StoreError};

use crate::connection::execute;
use crate::inner::Inner;

/// Deletes up to [`PURGE_BATCH_ROWS`] idempotency records of stores, and
/// as many of uploads, created before `cutoff`; returns the larger count.
pub(crate) async fn purge_before(inner: &Inner, cutoff: UnixTime) -> Result<u64, StoreError> {
    with_client!(inner, inner.operation_timeout, |client| {
        let stores = execute(
            &*client,
            "purging idempotency keys",
            "DELETE FROM idempotency WHERE (app_id, steam_id, idem_key) IN \
             (SELECT app_id, steam_id, idem_key FROM idempotency WHERE created < $1 LIMIT $2)",
            &[&cutoff, &PURGE_BATCH_ROWS],
        )
        .await?;
        let uploads = execute(
            &*client,
            "purging upload idempotency keys",
            "DELETE FROM board_idempotency WHERE (app_id, steam_id, idem_key) IN \
             (SELECT app_id, steam_id, idem_key FROM board_idempotency WHERE created < $1 LIMIT $2)",
            &[&cutoff, &PURGE_BATCH_ROWS],
        )
        .await?;
        // A full batch of either means more are due.
        Ok(stores.max(uploads))
    })
}

/// Starts a purge of expired idempotency keys in the background when one is
/// due (the interval has passed, or the last one left a backlog) and none is
/// running. Every node purges on its own; two purges that pick the same rows
/// queue on their row locks (the second deletes what is left), and should
/// they deadlock, the loser is rerun.
pub(crate) fn purge_if_due(inner: &Arc<Inner>) {
    let state = &inner.purge;
    let clock = state.clock.load(Ordering::Relaxed);
    if clock == i64::MIN {
        return;
    }
    {
        let mut last = state
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let recent = last.is_some_and(|t| t.elapsed() < state.interval);
        if recent && !state.backlog.load(Ordering::Relaxed) {
            return;
        }
        if state.running.swap(true, Ordering::AcqRel) {
            return;
        }
        *last = Some(Instant::now());
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let cutoff = clock.saturating_sub(IDEMPOTENCY_RETENTION_SECONDS);
        match purge_before(&inner, cutoff).await {
            Ok(deleted) => {
                let full = i64::try_from(deleted).unwrap_or(i64::MAX) >= PURGE_BATCH_ROWS;
                inner.purge.backlog.store(full, Ordering::Relaxed);
                if deleted > 0 {
                    tracing::debug!(deleted, "purged expired idempotency keys");
                }
            }
            Err(e) => {
                inner.purge.backlog.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "purging idempotency keys");
            }
        }
        inner.purge.running.store(false, Ordering::Release);
    });
}
