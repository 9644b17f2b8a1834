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
    /// Calls [`Stage::done`] once the group no longer needs to be the only
    /// one reading (see [`Stage`]).
    fn apply(
        node: &Self::Node,
        requests: &[Self::Request],
        stage: &mut Stage,
    ) -> impl Future<Output = Result<Vec<Answer<Self::Reply>>, StoreError>> + Send;
}

/// A group's turn to be made and read: one group of a kind at a time per
/// node holds it, from taking its requests off the queue until it has read
/// what it needs and decided (for a store group: until it sends its writes
/// and `COMMIT`). The next group is then made of every request that arrived
/// meanwhile, and its reads overlap the flush of the one before, so groups
/// stay large while the database's work and the disk's flushes overlap.
pub(crate) struct Stage(Option<tokio::sync::OwnedSemaphorePermit>);

impl Stage {
    /// Lets the next group be made and start reading.
    pub(crate) fn done(&mut self) {
        self.0.take();
    }

    #[cfg(test)]
    pub(crate) fn free() -> Stage {
        Stage(None)
    }
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
    /// The [`Stage`]'s one permit.
    stage: Arc<tokio::sync::Semaphore>,
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
            stage: Arc::new(tokio::sync::Semaphore::new(1)),
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
        // Never closed, so the permit always comes.
        let permit = Arc::clone(&G::queue(&inner).stage)
            .acquire_owned()
            .await
            .ok();
        let mut stage = Stage(permit);
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
        let replies = apply::<G>(&inner, &requests, &mut stage).await;
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
    stage: &mut Stage,
) -> Vec<Answer<G::Reply>> {
    let answered = |replies: Result<Vec<_>, StoreError>, n: usize| match replies {
        Ok(replies) if replies.len() == n => Ok(replies),
        Ok(replies) => Err(StoreError::Backend(format!(
            "{} answers for a group of {n}",
            replies.len()
        ))),
        Err(e) => Err(e),
    };
    let together = G::apply(inner, requests, stage).await;
    // One by one, if at all, with the stage given on.
    stage.done();
    match answered(together, requests.len()) {
        Ok(replies) => replies,
        Err(e) if requests.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut replies = Vec::with_capacity(requests.len());
            for request in requests {
                let mut free = Stage(None);
                let alone = G::apply(inner, std::slice::from_ref(request), &mut free).await;
                let alone = answered(alone, 1);
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A kind of request whose groups record how many of them read at once.
    struct Probe;

    #[derive(Default)]
    struct ProbeNode {
        queue: Queue<u32, u32>,
        reading: AtomicUsize,
        most_reading: AtomicUsize,
        groups: AtomicUsize,
    }

    impl Grouping for Probe {
        type Node = ProbeNode;
        type Request = u32;
        type Reply = u32;
        type Claims = ();
        const GROUPS: usize = 2;
        const GROUP_SIZE: usize = 4;

        fn queue(node: &ProbeNode) -> &Queue<u32, u32> {
            &node.queue
        }

        fn claim(_: &mut (), _: &u32) -> bool {
            true
        }

        async fn apply(
            node: &ProbeNode,
            requests: &[u32],
            stage: &mut Stage,
        ) -> Result<Vec<Answer<u32>>, StoreError> {
            node.groups.fetch_add(1, Ordering::SeqCst);
            let now = node.reading.fetch_add(1, Ordering::SeqCst) + 1;
            node.most_reading.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
            node.reading.fetch_sub(1, Ordering::SeqCst);
            stage.done();
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(requests.iter().map(|r| Ok(r * 10)).collect())
        }
    }

    /// Two groups may be in flight, but only one reads at a time; every
    /// request gets its own answer, in groups of at most the bound.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_group_reads_at_a_time_and_each_request_gets_its_answer() {
        let node = Arc::new(ProbeNode::default());
        let mut tasks = Vec::new();
        for r in 0..40u32 {
            let node = Arc::clone(&node);
            tasks.push(tokio::spawn(
                async move { (r, submit::<Probe>(&node, r).await) },
            ));
        }
        for task in tasks {
            let (r, answer) = task.await.expect("task");
            assert_eq!(answer.expect("answered"), r * 10);
        }
        assert_eq!(node.most_reading.load(Ordering::SeqCst), 1);
        assert!(
            node.groups.load(Ordering::SeqCst) >= 10,
            "groups of at most 4"
        );
    }

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
