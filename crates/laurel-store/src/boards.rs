//! Leaderboards as every backend stores them: boards, one entry per user
//! per board and period, and the change log a node's rank index catches up
//! from ([`crate::ranks`]).
//!
//! Invariants every backend keeps:
//! - a board's name is unique in its app without regard to case
//!   ([`BoardName::key`]); the boards a schema defines exist after
//!   [`crate::Store::put_schema`] with the schema's settings (boards made by
//!   clients, or dropped from the schema, stay, with their entries);
//! - every change to a board's entries (an upload that changes an entry, a
//!   deleted entry) takes a sequence number larger than every number the
//!   user's entry on that board held before, drawn in the transaction that
//!   makes it with the user's entry locked: one user's changes commit in
//!   the order of their numbers (different users' changes need not: a
//!   backend may draw numbers from one counter for all boards and commit
//!   them in any order, so nothing waits on a board-wide lock);
//! - a catch-up reads [`crate::Store::board_changes`] from an opaque
//!   cursor (0: from the start, every live entry and tombstone) and gets
//!   the cursor to pass next time. It misses no change that commits
//!   later, on any node, but may repeat changes it answered before: a
//!   reader applies a change only when its `seq` is larger than the last
//!   one it applied for that user (`crate::ranks` does);
//! - a deleted entry leaves a tombstone (`entry: None`) with its sequence
//!   number, so a catch-up sees it; a reset of a board removes all its
//!   entries and tombstones and moves its `epoch`, so an index built before
//!   loads again;
//! - an upload with an idempotency key seen before for the same user and
//!   app answers the first answer's `changed` with the entry as it is now,
//!   writes nothing, and is refused ([`crate::StoreError::IdempotencyConflict`])
//!   for a different upload.

use laurel_core::leaderboard::{BoardName, Entry, LeaderboardDef, UploadMethod};
use laurel_core::{AppId, Fingerprint, IdempotencyKey, SteamId, UnixTime};

/// A board's id: the store's own, unique across apps, never reused.
pub type BoardId = i64;

/// A board as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub id: BoardId,
    pub app: AppId,
    pub def: LeaderboardDef,
    /// Moves on every reset of the board.
    pub epoch: i64,
}

/// A board with its entry count in its current period, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardSummary {
    pub board: Board,
    pub entries: u64,
}

/// The period an entry belongs to: the start of its period
/// ([`laurel_core::leaderboard::BoardPeriod::start`]), 0 for a board
/// without periods.
pub type PeriodStart = UnixTime;

/// An upload of a user's score to a board, in the board's current period.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub app: AppId,
    pub board: BoardId,
    /// The period the upload counts in, as the caller computed it from `now`.
    pub period: PeriodStart,
    pub user: SteamId,
    pub method: UploadMethod,
    pub score: i32,
    /// At most [`laurel_core::limits::MAX_LEADERBOARD_DETAILS`], checked by
    /// the caller (a store answers [`crate::StoreError::Conflict`] for more).
    pub details: Vec<i32>,
    pub now: UnixTime,
    /// With its fingerprint: a replay answers the first answer.
    pub idempotency: Option<(IdempotencyKey, Fingerprint)>,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReply {
    /// The entry the user had before (`None`: none in this period).
    pub previous: Option<Entry>,
    /// The user's entry now.
    pub entry: Entry,
    pub changed: bool,
    /// The key had been seen: nothing was written; `previous` is `None`
    /// and `entry` is the entry as it is now.
    pub replayed: bool,
    /// The board's epoch the upload was applied in.
    pub epoch: i64,
}

/// A change to one user's entry, as a catch-up reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardChange {
    pub user: SteamId,
    /// `None`: the entry was deleted.
    pub entry: Option<Entry>,
    /// The board's sequence number of this change (the entry's `seq` when
    /// it holds one).
    pub seq: u64,
}

/// A board's changes in one period since a cursor, in sequence order;
/// changes seen before may come again (the invariants above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardChanges {
    pub epoch: i64,
    pub changes: Vec<BoardChange>,
    /// What to pass as the cursor of the next catch-up (opaque: a sequence
    /// number on SQLite, a transaction id on PostgreSQL).
    pub cursor: u64,
}

/// Every entry of a board in every period, for `laurel migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub period: PeriodStart,
    pub user: SteamId,
    pub entry: Entry,
}

/// Looks a board up by name in a list (names compare without case).
pub fn find_by_name<'a>(boards: &'a [Board], name: &BoardName) -> Option<&'a Board> {
    boards.iter().find(|b| b.def.name == *name)
}
