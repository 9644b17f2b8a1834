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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use laurel_core::leaderboard::{Entry, RankKey, RankedSet, SortMethod, around_user, global_range};
use laurel_core::{AppId, SteamId};

use crate::boards::{Board, BoardChanges, BoardId, PeriodStart, UploadReply, UploadRequest};
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

    fn apply(&mut self, changes: BoardChanges) {
        if changes.epoch != self.epoch {
            *self = BoardIndex::empty(changes.epoch, self.sort);
        }
        self.cursor = changes.cursor;
        for change in changes.changes {
            let last = self.applied.entry(change.user).or_insert(0);
            if change.seq <= *last {
                continue;
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
    indexes: Mutex<HashMap<IndexKey, Arc<Mutex<BoardIndex>>>>,
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
                .map(|(key, index)| (*key, lock(index).set.len()))
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

    /// The board's index for `period`, caught up with every change
    /// committed before this call.
    async fn fresh(
        &self,
        store: &dyn Store,
        board: &Board,
        period: PeriodStart,
    ) -> Result<Arc<Mutex<BoardIndex>>, StoreError> {
        let key = (board.app, board.id, period);
        let check_budget = self.touch(key);
        let index = {
            let mut all = lock(&self.indexes);
            let index = all.entry(key).or_insert_with(|| {
                Arc::new(Mutex::new(BoardIndex::empty(board.epoch, board.def.sort)))
            });
            Arc::clone(index)
        };
        let (cursor, sort_changed) = {
            let held = lock(&index);
            (held.cursor, held.sort != board.def.sort)
        };
        if sort_changed {
            // The schema turned the board around: every key changes.
            *lock(&index) = BoardIndex::empty(board.epoch, board.def.sort);
        }
        let cursor = if sort_changed { 0 } else { cursor };
        let mut loading = cursor == 0;
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
            let mut held = lock(&index);
            // From cursor 0 the answer is the whole board, whatever epoch.
            if changes.epoch == held.epoch || cursor == 0 {
                held.apply(changes);
                false
            } else {
                true
            }
        };
        if reload {
            loading = true;
            // A reset since the last look: what the index holds is gone.
            let all = store.board_changes(board.app, board.id, period, 0).await?;
            let mut held = lock(&index);
            *held = BoardIndex::empty(all.epoch, board.def.sort);
            held.apply(all);
        }
        if loading || check_budget {
            self.within_budget(key);
        }
        Ok(index)
    }

    /// Uploads through the store, then answers with ranks that include it.
    pub async fn upload(
        &self,
        store: &dyn Store,
        board: &Board,
        request: UploadRequest,
    ) -> Result<RankedUpload, StoreError> {
        let user = request.user;
        let period = request.period;
        let reply = store.upload_score(request).await?;
        let index = self.fresh(store, board, period).await?;
        let held = lock(&index);
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
        let held = lock(&index);
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
        Ok(lock(&index).set.len() as u64)
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
