//! Read-only connections, used from `spawn_blocking` so that SQLite's
//! blocking calls never stall the async runtime.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::rows::Context;
use laurel_store::StoreError;

/// Prepared statements kept per connection. The writer uses about twenty;
/// rusqlite's default of 16 made it prepare some again on every store.
pub(crate) const STATEMENT_CACHE: usize = 64;

pub(crate) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection: a reader waits here, not on a thread.
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub(crate) fn open(
        path: PathBuf,
        size: usize,
        busy_timeout: Duration,
    ) -> Result<ReadPool, StoreError> {
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            idle.push(open_reader(&path, busy_timeout)?);
        }
        Ok(ReadPool {
            path,
            busy_timeout,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    /// Runs `work` on a pooled connection on the blocking thread pool.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A connection lost to a panicking task is replaced here.
            let mut conn = match pool.take() {
                Some(conn) => conn,
                None => open_reader(&pool.path, pool.busy_timeout)?,
            };
            let out = work(&mut conn);
            pool.give_back(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a read task failed: {e}")))?
    }

    /// Refuses new reads and closes idle connections; reads in flight finish.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Option<Connection> {
        self.idle().pop()
    }

    fn give_back(&self, conn: Connection) {
        if !self.permits.is_closed() {
            self.idle().push(conn);
        }
    }
}

fn open_reader(path: &PathBuf, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .context(&format!("opening {} for reading", path.display()))?;
    conn.busy_timeout(busy_timeout)
        .context("setting the busy timeout")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}
