//! Group commit on one node: requests wait in a queue, and a few tasks each
//! take the requests waiting (up to a bound, those that do not clash with
//! the group so far) and apply them in one transaction: one `COMMIT` (one
//! WAL flush) for the group, where each request alone paid its own.
//! Leaderboard uploads (`crate::upload_groups`) and stores
//! (`crate::store_groups`) are grouped this way.
//!
//! The groups run in their own tasks: a request given up by its caller (a
//! client that disconnected) neither cancels a group nor loses its place.
//! A group that fails as a whole (the connection, the server, a deadlock
//! rerun too often) is not its requests' fault: each of its requests is
//! then applied alone, so that one request can only ever fail itself. At
//! most [`WAITING`] requests of a kind wait or are applied at once on a
//! node; more wait for room (backpressure, as the SQLite writer's bounded
//! queue gives).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use laurel_store::StoreError;
use tokio::sync::oneshot;

/// Most requests of one kind waiting or being applied on one node.
pub(crate) const WAITING: usize = 4_096;

/// One kind of grouped request: how its groups are made and applied.
pub(crate) trait Grouping: 'static {
    /// What the groups run on (the node's shared state).
    type Node: Send + Sync + 'static;
    type Request: Send + Sync + 'static;
    type Reply: Send + 'static;
    /// What the requests of a group so far hold, that a request joining it
    /// must not hold too (an entry, an idempotency key).
    type Claims: Default;
    /// Groups in flight at once on one node: enough to keep PostgreSQL's
    /// cores busy while a group waits for its round trips and its flush.
    const GROUPS: usize;
    /// Most requests in one group.
    const GROUP_SIZE: usize;
    fn queue(node: &Self::Node) -> &Queue<Self::Request, Self::Reply>;
    /// Whether `request` may join a group holding `claims`; if so, adds its
    /// own. A request that may not keeps its place for the next group.
    fn claim(claims: &mut Self::Claims, request: &Self::Request) -> bool;
    /// The group in one transaction, one answer per request, in order.
    fn apply(
        node: &Self::Node,
        requests: &[Self::Request],
    ) -> impl Future<Output = Result<Vec<Answer<Self::Reply>>, StoreError>> + Send;
}

pub(crate) type Answer<R> = Result<R, StoreError>;

/// A request waiting for its group.
struct Waiting<Q, R> {
    request: Q,
    answer: oneshot::Sender<Answer<R>>,
    /// Its room in the queue, given back once it is answered (not when its
    /// caller gives up: it is still applied).
    room: tokio::sync::OwnedSemaphorePermit,
}

/// A node's waiting requests of one kind and how many groups are running.
pub(crate) struct Queue<Q, R> {
    state: Mutex<QueueState<Q, R>>,
    /// One permit per request waiting or being applied.
    room: Arc<tokio::sync::Semaphore>,
}

struct QueueState<Q, R> {
    waiting: VecDeque<Waiting<Q, R>>,
    running: usize,
}

impl<Q, R> Default for Queue<Q, R> {
    fn default() -> Queue<Q, R> {
        Queue::with_room(WAITING)
    }
}

impl<Q, R> Queue<Q, R> {
    fn with_room(requests: usize) -> Queue<Q, R> {
        Queue {
            state: Mutex::new(QueueState {
                waiting: VecDeque::new(),
                running: 0,
            }),
            room: Arc::new(tokio::sync::Semaphore::new(requests)),
        }
    }

    /// Waits for room for one more request; the room is given back when
    /// the permit is dropped.
    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreError> {
        Arc::clone(&self.room)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the node is stopping".into()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState<Q, R>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Applies `request` in the next group of its kind; its answer.
pub(crate) async fn submit<G: Grouping>(
    inner: &Arc<G::Node>,
    request: G::Request,
) -> Answer<G::Reply> {
    let queue = G::queue(inner);
    let room = queue.admit().await?;
    let (answer, answered) = oneshot::channel();
    let start = {
        let mut state = queue.lock();
        state.waiting.push_back(Waiting {
            request,
            answer,
            room,
        });
        let start = state.running < G::GROUPS;
        if start {
            state.running += 1;
        }
        start
    };
    if start {
        tokio::spawn(run_groups::<G>(Arc::clone(inner)));
    }
    answered.await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(
            "the node stopped before the request was applied".into(),
        ))
    })
}

/// The next group: the waiting requests in order, but for those that clash
/// with it (they keep their place for the next one).
fn next_group<G: Grouping>(inner: &G::Node) -> Vec<Waiting<G::Request, G::Reply>> {
    let mut state = G::queue(inner).lock();
    let mut group = Vec::new();
    let mut claims = G::Claims::default();
    let mut left = VecDeque::new();
    while let Some(waiting) = state.waiting.pop_front() {
        if group.len() == G::GROUP_SIZE || !G::claim(&mut claims, &waiting.request) {
            left.push_back(waiting);
            continue;
        }
        group.push(waiting);
    }
    state.waiting = left;
    if group.is_empty() {
        state.running -= 1;
    }
    group
}

/// Runs groups until no request is waiting.
async fn run_groups<G: Grouping>(inner: Arc<G::Node>) {
    loop {
        let group = next_group::<G>(&inner);
        if group.is_empty() {
            return;
        }
        let mut requests = Vec::with_capacity(group.len());
        let mut answers = Vec::with_capacity(group.len());
        for waiting in group {
            requests.push(waiting.request);
            answers.push((waiting.answer, waiting.room));
        }
        let replies = apply::<G>(&inner, &requests).await;
        for ((answer, room), reply) in answers.into_iter().zip(replies) {
            // A caller that gave up has nobody to answer.
            let _ = answer.send(reply);
            drop(room);
        }
    }
}

/// The group's answers, one per request: together, or one by one when the
/// group failed as a whole.
pub(crate) async fn apply<G: Grouping>(
    inner: &G::Node,
    requests: &[G::Request],
) -> Vec<Answer<G::Reply>> {
    let answered = |replies: Result<Vec<_>, StoreError>, n: usize| match replies {
        Ok(replies) if replies.len() == n => Ok(replies),
        Ok(replies) => Err(StoreError::Backend(format!(
            "{} answers for a group of {n}",
            replies.len()
        ))),
        Err(e) => Err(e),
    };
    match answered(G::apply(inner, requests).await, requests.len()) {
        Ok(replies) => replies,
        Err(e) if requests.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut replies = Vec::with_capacity(requests.len());
            for request in requests {
                let alone = answered(G::apply(inner, std::slice::from_ref(request)).await, 1);
                replies.push(alone.and_then(|mut one| {
                    one.pop().unwrap_or_else(|| {
                        Err(StoreError::Backend("a request was not answered".into()))
                    })
                }));
            }
            replies
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// At the bound, one more request waits for room (it is not refused and
    /// does not get in), and gets in once a request ahead of it is done.
    #[tokio::test]
    async fn a_request_past_the_bound_waits_for_room() {
        let queue: Queue<(), ()> = Queue::with_room(1);
        let first = queue.admit().await.expect("room");
        let waiting = tokio::time::timeout(Duration::from_millis(50), queue.admit()).await;
        assert!(waiting.is_err(), "a second request got in past the bound");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(10), queue.admit())
            .await
            .expect("room again");
        assert!(second.is_ok());
        let default: Queue<(), ()> = Queue::default();
        assert_eq!(default.room.available_permits(), WAITING);
    }
}
