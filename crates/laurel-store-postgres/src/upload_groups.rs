//! Group commit of leaderboard uploads on one node.
//!
//! An upload waits in the node's queue; up to [`GROUPS`] tasks each take
//! the uploads waiting (at most [`GROUP_SIZE`], of distinct entries and
//! distinct idempotency keys: a second upload of one entry waits for the
//! next group) and apply them in one transaction
//! ([`crate::boards::upload_group`]): two round trips and one `COMMIT` (one
//! WAL flush) for the group, where each upload alone paid its own. Entries
//! are locked in one order on every node, so groups never wait for each
//! other in a cycle. A group that fails as a whole (the connection, the
//! server, a deadlock rerun too often) is not the uploads' fault: each of
//! its uploads is then applied alone, so that one upload can only ever
//! fail itself.
//!
//! The groups run in their own tasks: a request given up by its caller (a
//! client that disconnected) neither cancels a group nor loses its place.
//! At most [`crate::upload_queue::WAITING_UPLOADS`] uploads wait or are applied at once on a
//! node; more wait for room.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use laurel_store::StoreError;
use laurel_store::boards::UploadRequest;
use tokio::sync::oneshot;

use crate::boards::{self, Uploaded};
use crate::inner::Inner;
use crate::upload_queue::{Waiting, lock};

/// Groups in flight at once on one node: enough to keep PostgreSQL's
/// cores busy while a group waits for its round trips and its flush.
const GROUPS: usize = 2;

/// Most uploads in one group.
const GROUP_SIZE: usize = 64;

/// Applies `request` in the next group; its answer.
pub(crate) async fn upload(inner: &Arc<Inner>, request: UploadRequest) -> Uploaded {
    let room = inner.uploads.admit().await?;
    let (answer, answered) = oneshot::channel();
    let start = {
        let mut state = lock(&inner.uploads);
        state.waiting.push_back(Waiting {
            request,
            answer,
            room,
        });
        let start = state.running < GROUPS;
        if start {
            state.running += 1;
        }
        start
    };
    if start {
        tokio::spawn(run_groups(Arc::clone(inner)));
    }
    answered.await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(
            "the node stopped before the upload was applied".into(),
        ))
    })
}

/// The next group: the waiting uploads in order, but for those whose entry
/// or key is already in it (they keep their place for the next one).
fn next_group(inner: &Inner) -> Vec<Waiting> {
    let mut state = lock(&inner.uploads);
    let mut group = Vec::new();
    let mut entries = HashSet::new();
    let mut keys = HashSet::new();
    let mut left = VecDeque::new();
    while let Some(waiting) = state.waiting.pop_front() {
        let r = &waiting.request;
        let entry = (r.board, r.period, r.user);
        let key = r
            .idempotency
            .as_ref()
            .map(|(key, _)| (r.app, r.user, key.as_str().to_owned()));
        let clash = entries.contains(&entry) || key.as_ref().is_some_and(|k| keys.contains(k));
        if group.len() == GROUP_SIZE || clash {
            left.push_back(waiting);
            continue;
        }
        entries.insert(entry);
        if let Some(key) = key {
            keys.insert(key);
        }
        group.push(waiting);
    }
    state.waiting = left;
    if group.is_empty() {
        state.running -= 1;
    }
    group
}

/// Runs groups until no upload is waiting.
async fn run_groups(inner: Arc<Inner>) {
    loop {
        let group = next_group(&inner);
        if group.is_empty() {
            return;
        }
        let mut requests = Vec::with_capacity(group.len());
        let mut answers = Vec::with_capacity(group.len());
        for waiting in group {
            requests.push(waiting.request);
            answers.push((waiting.answer, waiting.room));
        }
        let replies = apply(&inner, &requests).await;
        for ((answer, room), reply) in answers.into_iter().zip(replies) {
            // A caller that gave up has nobody to answer.
            let _ = answer.send(reply);
            drop(room);
        }
    }
}

/// The group's answers, one per request.
async fn apply(inner: &Inner, requests: &[UploadRequest]) -> Vec<Uploaded> {
    match in_one_transaction(inner, requests).await {
        Ok(replies) => replies,
        Err(e) if requests.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut replies = Vec::with_capacity(requests.len());
            for request in requests {
                let alone = in_one_transaction(inner, std::slice::from_ref(request)).await;
                replies.push(alone.and_then(|mut one| {
                    one.pop().unwrap_or_else(|| {
                        Err(StoreError::Backend("an upload was not answered".into()))
                    })
                }));
            }
            replies
        }
    }
}

/// `requests` in one transaction, rerun as the store reruns its work.
async fn in_one_transaction(
    inner: &Inner,
    requests: &[UploadRequest],
) -> Result<Vec<Uploaded>, StoreError> {
    with_client!(inner, inner.operation_timeout, |client| {
        boards::upload_group(client, requests).await
    })
}
