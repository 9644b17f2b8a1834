//! Acknowledgement after durability, with the fsync off the writer thread.
//!
//! With `synchronous=FULL` the COMMIT of a group fsyncs the WAL inside the
//! writer thread, which then sits idle for the length of the fsync while the
//! next group waits in the queue: the writer's time per group is its CPU work
//! plus one fsync. Here the writer commits with `synchronous=NORMAL` (the WAL
//! frames are written, not synced, and checkpoints still sync) and hands the
//! group's answers to the sync thread, which fsyncs the WAL file and only
//! then answers. The writer runs the next group meanwhile, and one fsync
//! often covers several groups.
//!
//! What an acknowledgement means does not change: an answer is sent only
//! after an fsync of the WAL that began after its COMMIT returned, the same
//! fsync FULL does inside COMMIT. A group whose frames did not reach the disk
//! cannot be replayed by recovery without the frames before it either: WAL
//! frame checksums chain, so recovery stops at the first frame that is
//! missing.
//!
//! Readers must not see a commit before it is durable either (a client could
//! act on progress that a power loss then takes back). Every write
//! transaction takes a sequence number before it begins; a read notes the
//! highest number taken once it has finished reading, and returns only when
//! the sync thread has synced up to there. That covers every commit its
//! snapshot can contain, at the price of waiting out one fsync now and then.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::StoreError;

/// Sequence numbers of write transactions, and how far they are durable.
pub(crate) struct Durability {
    /// The number of the last write transaction that has begun.
    begun: AtomicU64,
    /// Every write transaction up to this number is durable (or failed).
    synced: watch::Sender<u64>,
}

impl Durability {
    pub(crate) fn new() -> Durability {
        Durability {
            begun: AtomicU64::new(0),
            synced: watch::Sender::new(0),
        }
    }

    /// Numbers a write transaction; call before its BEGIN.
    pub(crate) fn begin(&self) -> u64 {
        self.begun.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The number a finished read must wait for: the highest begun so far,
    /// which bounds every commit the read can have seen.
    pub(crate) fn read_horizon(&self) -> u64 {
        self.begun.load(Ordering::SeqCst)
    }

    /// Waits until every write transaction up to `horizon` is durable.
    pub(crate) async fn wait_until_synced(&self, horizon: u64) -> Result<(), StoreError> {
        if *self.synced.borrow() >= horizon {
            return Ok(());
        }
        let mut synced = self.synced.subscribe();
        synced
            .wait_for(|&s| s >= horizon)
            .await
            .map(drop)
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))
    }
}

/// What to do once a write transaction's fsync has returned: send its
/// answers, or, if the fsync failed, an error in their place.
pub(crate) type Answer = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// A committed (or failed) write transaction waiting for the fsync.
pub(crate) struct SyncJob {
    pub(crate) sequence: u64,
    pub(crate) answers: Vec<Answer>,
}

/// Starts the sync thread. It stops, after answering everything sent, when
/// the sender is dropped.
pub(crate) fn spawn(
    wal_path: PathBuf,
    durability: std::sync::Arc<Durability>,
) -> Result<(mpsc::Sender<SyncJob>, JoinHandle<()>), StoreError> {
    let (sender, jobs) = mpsc::channel::<SyncJob>();
    let handle = std::thread::Builder::new()
        .name("laurel-sqlite-sync".into())
        .spawn(move || run(&wal_path, &durability, &jobs))
        .map_err(|e| StoreError::Backend(format!("starting the sync thread: {e}")))?;
    Ok((sender, handle))
}

fn run(wal_path: &PathBuf, durability: &Durability, jobs: &mpsc::Receiver<SyncJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        // Everything in `batch` has committed: one fsync covers all of it.
        let failed = sync_wal(wal_path).err().map(|e| {
            // The frames are written and visible, their durability unknown.
            // The callers hear an error and retry with their idempotency
            // keys; the retry is answered after a later fsync.
            tracing::error!(error = %e, path = %wal_path.display(), "fsync of the WAL failed");
            StoreError::Unavailable(format!("syncing the write-ahead log: {e}"))
        });
        let highest = batch.iter().map(|job| job.sequence).max().unwrap_or(0);
        durability.synced.send_modify(|s| *s = (*s).max(highest));
        for job in batch {
            for answer in job.answers {
                answer(failed.as_ref());
            }
        }
    }
}

/// `fdatasync` of the WAL file. The file may not exist yet (nothing written
/// since it was truncated away): then there is nothing to sync.
fn sync_wal(path: &PathBuf) -> std::io::Result<()> {
    match File::open(path) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_read_waits_for_the_sync_of_what_it_may_have_seen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wal = dir.path().join("test.db-wal");
        std::fs::write(&wal, b"frames").expect("wal");
        let durability = Arc::new(Durability::new());
        // Nothing written yet: a read returns at once.
        durability
            .wait_until_synced(durability.read_horizon())
            .await
            .expect("nothing to wait for");

        let sequence = durability.begin();
        let horizon = durability.read_horizon();
        assert_eq!(horizon, sequence);
        let waiting = {
            let durability = Arc::clone(&durability);
            tokio::spawn(async move { durability.wait_until_synced(horizon).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a read returned before the sync");

        let (sync, thread) = spawn(wal, Arc::clone(&durability)).expect("sync thread");
        let (answered, answer) = std::sync::mpsc::channel();
        let job = SyncJob {
            sequence,
            answers: vec![Box::new(move |failed: Option<&StoreError>| {
                let _ = answered.send(failed.is_none());
            })],
        };
        sync.send(job).expect("send");
        assert_eq!(answer.recv_timeout(Duration::from_secs(10)), Ok(true));
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the read is released")
            .expect("task")
            .expect("synced");
        drop(sync);
        thread
            .join()
            .expect("sync thread exits when its sender is dropped");
    }

    #[test]
    fn a_missing_wal_has_nothing_to_sync() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(sync_wal(&dir.path().join("absent-wal")).is_ok());
    }
}
