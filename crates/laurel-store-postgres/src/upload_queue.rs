//! The queue of a node's leaderboard uploads waiting for their group
//! (`crate::upload_groups` runs the groups): its data and its bound.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use laurel_store::StoreError;
use laurel_store::boards::{UploadReply, UploadRequest};
use tokio::sync::oneshot;

/// Most uploads waiting or being applied on one node; more wait for room
/// (backpressure, as the SQLite writer's bounded queue gives).
pub(crate) const WAITING_UPLOADS: usize = 4_096;

/// An upload waiting for its group.
pub(crate) struct Waiting {
    pub(crate) request: UploadRequest,
    pub(crate) answer: oneshot::Sender<Result<UploadReply, StoreError>>,
    /// Its room in the queue, given back once it is answered (not when its
    /// caller gives up: it is still applied).
    pub(crate) room: tokio::sync::OwnedSemaphorePermit,
}

/// The node's waiting uploads and how many groups are running.
pub(crate) struct UploadQueue {
    state: Mutex<QueueState>,
    /// One permit per upload waiting or being applied.
    room: Arc<tokio::sync::Semaphore>,
}

impl Default for UploadQueue {
    fn default() -> UploadQueue {
        UploadQueue::with_room(WAITING_UPLOADS)
    }
}

impl UploadQueue {
    fn with_room(uploads: usize) -> UploadQueue {
        UploadQueue {
            state: Mutex::default(),
            room: Arc::new(tokio::sync::Semaphore::new(uploads)),
        }
    }

    /// Waits for room for one more upload; the room is given back when the
    /// permit is dropped.
    pub(crate) async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreError> {
        Arc::clone(&self.room)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the node is stopping".into()))
    }
}

#[derive(Default)]
pub(crate) struct QueueState {
    pub(crate) waiting: VecDeque<Waiting>,
    pub(crate) running: usize,
}

pub(crate) fn lock(queue: &UploadQueue) -> std::sync::MutexGuard<'_, QueueState> {
    queue
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// At the bound, one more upload waits for room (it is not refused and
    /// does not get in), and gets in once an upload ahead of it is done.
    #[tokio::test]
    async fn an_upload_past_the_bound_waits_for_room() {
        let queue = UploadQueue::with_room(1);
        let first = queue.admit().await.expect("room");
        let waiting = tokio::time::timeout(Duration::from_millis(50), queue.admit()).await;
        assert!(waiting.is_err(), "a second upload got in past the bound");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(10), queue.admit())
            .await
            .expect("room again");
        assert!(second.is_ok());
        assert_eq!(
            UploadQueue::default().room.available_permits(),
            WAITING_UPLOADS
        );
    }
}
