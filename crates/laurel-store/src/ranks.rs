//! Ranks at scale: each node keeps, per board and period it serves, an
//! in-memory [`RankedSet`] of the entries, and catches it up from the
//! board's change log ([`Store::board_changes`]) before every answer.
//!
//! Freshness: a catch-up starts, after the request began, from the cursor
//! the last one answered, and the store answers every change committed
//! since (`crate::boards`), so an answer includes every upload acknowledged
//! before the request began, on any node, and an upload's own answer
//! includes the upload. A catch-up may answer changes again (PostgreSQL's
//! cursor is a transaction id, not a position in a total order): the index
//! keeps the last sequence number it applied for each user (tombstones
//! included) and applies a change only when its number is larger, and one
//! user's changes are numbered in commit order, so a repeated or older
//! change never undoes a newer one and an index is never behind what it
//! answered before.
//!
//! Cost: the first answer about a board loads it (one read of its entries);
//! later ones read only the changes since the cursor (usually none or a
//! few) and walk the set in memory: no answer counts rows in the database.
//!
//! One catch-up at a time per index, shared: a request waits for the first
//! catch-up that begins after it arrived (or runs it), so the requests
//! that arrive while one catch-up reads join the next one. On a hot board
//! that turns one read of the change log per request into one per wave of
//! requests; on PostgreSQL, where a catch-up rereads what was written
//! since the oldest transaction then running, it also stops every upload
//! from rereading every other upload in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use laurel_core::leaderboard::{Entry, RankKey, RankedSet, SortMethod, around_user, global_range};
use laurel_core::{AppId, SteamId};

use crate::boards::{
    Board, BoardChange, BoardChanges, BoardId, PeriodStart, UploadReply, UploadRequest,
};
use crate::{Store, StoreError};

/// One entry as a download answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedEntry {
    pub user: SteamId,
    /// 1..N, never shared.
    pub rank: u64,
    pub score: i32,
    pub details: Vec<i32>,
    pub set_at: laurel_core::UnixTime,
}

/// Which entries a download asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Ranks `start..=end`, read as [`global_range`] does.
    Global { start: i64, end: i64 },
    /// `before..=after` around the user, as [`around_user`] does.
    AroundUser {
        user: SteamId,
        before: i64,
        after: i64,
    },
    /// These users' entries (users without one are left out), by rank.
    Users(Vec<SteamId>),
}

/// A download's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Entries in the board's period.
    pub entry_count: u64,
    pub entries: Vec<RankedEntry>,
}

/// An upload's answer, with ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedUpload {
    pub reply: UploadReply,
    /// The user's rank now (0 if the entry is gone again, deleted by a
    /// moderator between the upload and its answer).
    pub rank: u64,
    /// Where the entry the user had stands among the others now: 0 when
    /// the user had none.
    pub previous_rank: u64,
    pub entry_count: u64,
}

#[derive(Debug)]
struct BoardIndex {
    epoch: i64,
    sort: SortMethod,
    /// Where the next catch-up starts (0: nothing loaded yet).
    cursor: u64,
    /// The sequence number of the last change applied for each user,
    /// tombstones included.
    applied: HashMap<SteamId, u64>,
    set: RankedSet,
    by_user: HashMap<SteamId, Entry>,
}

impl BoardIndex {
    fn empty(epoch: i64, sort: SortMethod) -> BoardIndex {
        BoardIndex {
            epoch,
            sort,
            cursor: 0,
            applied: HashMap::new(),
            set: RankedSet::new(),
            by_user: HashMap::new(),
        }
    }

    /// Applies a catch-up's answer; answers whether the index had to be
    /// emptied first (another epoch).
    fn apply(&mut self, changes: BoardChanges) -> bool {
        let emptied = changes.epoch != self.epoch;
        if emptied {
            *self = BoardIndex::empty(changes.epoch, self.sort);
        }
        self.cursor = changes.cursor;
        for change in changes.changes {
            self.apply_one(change);
        }
        emptied
    }

    /// Applies one committed change unless the index holds a newer one of
    /// the user's.
    fn apply_one(&mut self, change: BoardChange) {
        let last = self.applied.entry(change.user).or_insert(0);
        if change.seq <= *last {
            return;
        }
        *last = change.seq;
        if let Some(old) = self.by_user.remove(&change.user) {
            self.set.remove(&RankKey::of(self.sort, &old));
        }
        if let Some(entry) = change.entry {
            self.set.insert(RankKey::of(self.sort, &entry), change.user);
            self.by_user.insert(change.user, entry);
        }
    }

    fn ranked(&self, rank: u64, user: SteamId) -> Option<RankedEntry> {
        let entry = self.by_user.get(&user)?;
        Some(RankedEntry {
            user,
            rank,
            score: entry.score,
            details: entry.details.clone(),
            set_at: entry.set_at,
        })
    }

    fn rank_of_user(&self, user: SteamId) -> Option<u64> {
        let entry = self.by_user.get(&user)?;
        self.set.rank_of(&RankKey::of(self.sort, entry))
    }

    fn page(&self, range: Option<(u64, u64)>) -> Vec<RankedEntry> {
        let Some((first, last)) = range else {
            return Vec::new();
        };
        self.set
            .page(first, last)
            .into_iter()
            .filter_map(|(rank, _, user)| self.ranked(rank, user))
            .collect()
    }
}

type IndexKey = (AppId, BoardId, PeriodStart);

/// An index with its catch-up gate.
#[derive(Debug)]
struct Held {
    index: Mutex<BoardIndex>,
    /// Catch-ups begun on this index (each one's number is the count once
    /// it began).
    begun: AtomicU64,
    /// Held for the whole of a catch-up; holds the number of the last one
    /// that completed.
    gate: tokio::sync::Mutex<u64>,
    /// Times a catch-up emptied the index (a reset, the sort turned).
    emptied: AtomicU64,
}

impl Held {
    fn new(epoch: i64, sort: SortMethod) -> Held {
        Held {
            index: Mutex::new(BoardIndex::empty(epoch, sort)),
            begun: AtomicU64::new(0),
            gate: tokio::sync::Mutex::new(0),
            emptied: AtomicU64::new(0),
        }
    }
}

/// Most entries a node's indexes hold together before the least recently
/// used boards are dropped (about 100 bytes each: 1 GB). A dropped board
/// loads again on its next request. A single board larger than this is
/// still kept while it is used.
pub const DEFAULT_RANKED_ENTRIES: usize = 10_000_000;

/// How often (in requests) a node checks its indexes against the budget
/// besides after every load.
const BUDGET_CHECK_EVERY: u64 = 256;

/// The rank indexes of one node: shared by every request it serves.
pub struct Leaderboards {
    indexes: Mutex<HashMap<IndexKey, Arc<Held>>>,
    /// A request counter and when each index was last used by it.
    recency: Mutex<(u64, HashMap<IndexKey, u64>)>,
    budget: usize,
}

impl Default for Leaderboards {
    fn default() -> Leaderboards {
        Leaderboards::with_budget(DEFAULT_RANKED_ENTRIES)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Leaderboards {
    pub fn new() -> Leaderboards {
        Leaderboards::default()
    }

    /// Indexes holding at most about `entries` entries together.
    pub fn with_budget(entries: usize) -> Leaderboards {
        Leaderboards {
            indexes: Mutex::default(),
            recency: Mutex::default(),
            budget: entries,
        }
    }

    /// Marks `key` used; answers whether the budget is due for a check.
    fn touch(&self, key: IndexKey) -> bool {
        let mut held = lock(&self.recency);
        held.0 += 1;
        let tick = held.0;
        held.1.insert(key, tick);
        tick.is_multiple_of(BUDGET_CHECK_EVERY)
    }

    /// Drops the least recently used indexes (never `keep`) while the
    /// indexes hold more entries than the budget.
    fn within_budget(&self, keep: IndexKey) {
        let sizes: Vec<(IndexKey, usize)> = {
            let all = lock(&self.indexes);
            all.iter()
                .map(|(key, held)| (*key, lock(&held.index).set.len()))
                .collect()
        };
        let mut total: usize = sizes.iter().map(|(_, n)| n).sum();
        if total <= self.budget {
            return;
        }
        let mut recency = lock(&self.recency);
        let mut by_age: Vec<(u64, IndexKey, usize)> = sizes
            .into_iter()
            .filter(|(key, _)| *key != keep)
            .map(|(key, n)| (recency.1.get(&key).copied().unwrap_or(0), key, n))
            .collect();
        by_age.sort_unstable_by_key(|(tick, _, _)| *tick);
        let mut all = lock(&self.indexes);
        for (_, key, n) in by_age {
            if total <= self.budget {
                break;
            }
            all.remove(&key);
            recency.1.remove(&key);
            total -= n;
        }
    }

    /// How many boards (with their periods) this node holds in memory.
    pub fn boards_held(&self) -> usize {
        lock(&self.indexes).len()
    }

    /// The board's index for `period` (made empty if there is none); and
    /// whether the budget is due for a check.
    fn held(&self, board: &Board, period: PeriodStart) -> (Arc<Held>, bool) {
        let key = (board.app, board.id, period);
        let check_budget = self.touch(key);
        let mut all = lock(&self.indexes);
        let held = all
            .entry(key)
            .or_insert_with(|| Arc::new(Held::new(board.epoch, board.def.sort)));
        (Arc::clone(held), check_budget)
    }

    /// The board's index for `period`, caught up with every change
    /// committed before this call.
    async fn fresh(
        &self,
        store: &dyn Store,
        board: &Board,
        period: PeriodStart,
    ) -> Result<Arc<Held>, StoreError> {
        let (held, check_budget) = self.held(board, period);
        // Every catch-up numbered above `seen` begins after this line.
        let seen = held.begun.load(Ordering::SeqCst);
        self.caught_up(store, board, period, &held, seen, check_budget)
            .await?;
        Ok(held)
    }

    /// Returns once a catch-up numbered above `seen` has completed on
    /// `held`: the first to begin after the caller read `seen`, run by the
    /// caller or by another request that was waiting too.
    async fn caught_up(
        &self,
        store: &dyn Store,
        board: &Board,
        period: PeriodStart,
        held: &Held,
        seen: u64,
        check_budget: bool,
    ) -> Result<(), StoreError> {
        let loading = {
            let mut completed = held.gate.lock().await;
            if *completed > seen {
                false
            } else {
                let number = held.begun.fetch_add(1, Ordering::SeqCst) + 1;
                let loading = self.catch_up(store, board, period, held).await?;
                *completed = number;
                loading
            }
        };
        if loading || check_budget {
            self.within_budget((board.app, board.id, period));
        }
        Ok(())
    }

    /// One catch-up of `held` (its gate held); answers whether it loaded
    /// the whole board.
    async fn catch_up(
        &self,
        store: &dyn Store,
        board: &Board,
        period: PeriodStart,
        held: &Held,
    ) -> Result<bool, StoreError> {
        let key = (board.app, board.id, period);
        let (cursor, sort_changed) = {
            let index = lock(&held.index);
            (index.cursor, index.sort != board.def.sort)
        };
        if sort_changed {
            // The schema turned the board around: every key changes.
            *lock(&held.index) = BoardIndex::empty(board.epoch, board.def.sort);
            held.emptied.fetch_add(1, Ordering::SeqCst);
        }
        let cursor = if sort_changed { 0 } else { cursor };
        let changes = match store
            .board_changes(board.app, board.id, period, cursor)
            .await
        {
            Ok(changes) => changes,
            Err(e) => {
                if matches!(e, StoreError::NotFound(_)) {
                    lock(&self.indexes).remove(&key);
                    lock(&self.recency).1.remove(&key);
                }
                return Err(e);
            }
        };
        let reload = {
            let mut index = lock(&held.index);
            // From cursor 0 the answer is the whole board, whatever epoch.
            if changes.epoch == index.epoch || cursor == 0 {
                if index.apply(changes) {
                    held.emptied.fetch_add(1, Ordering::SeqCst);
                }
                false
            } else {
                true
            }
        };
        if reload {
            // A reset since the last look: what the index holds is gone.
            let all = store.board_changes(board.app, board.id, period, 0).await?;
            let mut index = lock(&held.index);
            *index = BoardIndex::empty(all.epoch, board.def.sort);
            index.apply(all);
            held.emptied.fetch_add(1, Ordering::SeqCst);
        }
        Ok(cursor == 0 || reload)
    }

    /// Uploads through the store, then answers with ranks that include it.
    ///
    /// The upload's answer holds the user's entry as committed (with its
    /// sequence number): applied to the index, it lets the upload be
    /// answered by the first catch-up that began after the request began
    /// rather than after its commit. So the upload and that catch-up run
    /// side by side, and uploads committing while a catch-up reads do not
    /// each wait for one more.
    pub async fn upload(
        &self,
        store: &dyn Store,
        board: &Board,
        request: UploadRequest,
    ) -> Result<RankedUpload, StoreError> {
        let user = request.user;
        let period = request.period;
        let (index, check_budget) = self.held(board, period);
        let seen = index.begun.load(Ordering::SeqCst);
        let (reply, caught_up) = tokio::join!(
            store.upload_score(request),
            self.caught_up(store, board, period, &index, seen, check_budget)
        );
        let reply = reply?;
        caught_up?;
        let emptied = index.emptied.load(Ordering::SeqCst);
        let applied = reply.entry.seq > 0 && {
            let mut held = lock(&index.index);
            let same = held.epoch == reply.epoch && held.sort == board.def.sort;
            if same {
                held.apply_one(BoardChange {
                    user,
                    entry: Some(reply.entry.clone()),
                    seq: reply.entry.seq,
                });
            }
            same
        };
        // Not applied (a replay of an upload whose entry is gone, or an
        // index of another epoch), or the index emptied and loaded again
        // since, maybe from before the commit: a catch-up from now.
        if !applied || index.emptied.load(Ordering::SeqCst) != emptied {
            let now = index.begun.load(Ordering::SeqCst);
            self.caught_up(store, board, period, &index, now, false)
                .await?;
        }
        let held = lock(&index.index);
        let rank = held.rank_of_user(user).unwrap_or(0);
        let previous_rank = match (&reply.previous, reply.changed) {
            (None, _) => 0,
            (Some(_), false) => rank,
            (Some(old), true) => {
                let old_key = RankKey::of(held.sort, old);
                let ahead = held.set.count_before(&old_key);
                // The user's own new entry does not stand in front of the old one.
                let own_ahead = held
                    .by_user
                    .get(&user)
                    .is_some_and(|now| RankKey::of(held.sort, now) < old_key);
                ahead - u64::from(own_ahead) + 1
            }
        };
        Ok(RankedUpload {
            reply,
            rank,
            previous_rank,
            entry_count: held.set.len() as u64,
        })
    }

    /// The entries a download asks for, by rank.
    pub async fn download(
        &self,
        store: &dyn Store,
        board: &Board,
        period: PeriodStart,
        scope: &Scope,
    ) -> Result<Download, StoreError> {
        let index = self.fresh(store, board, period).await?;
        let held = lock(&index.index);
        let count = held.set.len() as u64;
        let entries = match scope {
            Scope::Global { start, end } => held.page(global_range(*start, *end, count)),
            Scope::AroundUser {
                user,
                before,
                after,
            } => held.page(around_user(
                held.rank_of_user(*user),
                *before,
                *after,
                count,
            )),
            Scope::Users(users) => {
                let mut found: Vec<RankedEntry> = users
                    .iter()
                    .filter_map(|u| held.rank_of_user(*u).and_then(|r| held.ranked(r, *u)))
                    .collect();
                found.sort_by_key(|e| e.rank);
                found.dedup_by_key(|e| e.rank);
                found
            }
        };
        Ok(Download {
            entry_count: count,
            entries,
        })
    }

    /// The board's entry count in `period`, caught up.
    pub async fn entry_count(
        &self,
        store: &dyn Store,
        board: &Board,
        period: PeriodStart,
    ) -> Result<u64, StoreError> {
        let index = self.fresh(store, board, period).await?;
        Ok(lock(&index.index).set.len() as u64)
    }

    /// Drops what this node holds about a board (after it is deleted here;
    /// other nodes drop theirs when the store answers that it is gone).
    pub fn forget(&self, app: AppId, board: BoardId) {
        lock(&self.indexes).retain(|(a, b, _), _| !(*a == app && *b == board));
        lock(&self.recency)
            .1
            .retain(|(a, b, _), _| !(*a == app && *b == board));
    }
}
