//! Leaderboards as Steam's `ISteamUserStats` has them: find (or create) a
//! board, upload a score, download entries; each call answered by one
//! event. The types the game sees, the requests the worker serves, and the
//! cache of boards found (Steam's `GetLeaderboardName`,
//! `GetLeaderboardEntryCount`, … read from it).
//!
//! Uploads are journaled like stores (kind `score`): one made offline, or
//! failing for lack of a connection, is sent later with its idempotency
//! key, also by a later run; its event comes when the server answers.
//! Finds and downloads are not cached answers: offline they end in an error
//! event at `request_timeout`.

use std::collections::HashMap;
use std::num::NonZeroU64;

use laurel_core::SteamId;
use laurel_core::leaderboard::{DisplayType, SortMethod};
use laurel_core::limits::MAX_LEADERBOARDS_PER_APP;
use laurel_wire::leaderboards::{BoardBody, ScoreUploadRequest};
use serde::{Deserialize, Serialize};

/// A board's handle (Steam's `SteamLeaderboard_t`): the server's board id,
/// never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaderboardHandle(NonZeroU64);

impl LeaderboardHandle {
    pub fn new(id: u64) -> Option<LeaderboardHandle> {
        NonZeroU64::new(id).map(LeaderboardHandle)
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }
}

impl std::fmt::Display for LeaderboardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Names one leaderboard call (Steam's `SteamAPICall_t`): the event that
/// answers it carries the same value. Unique within a [`crate::Client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaderboardCall(pub u64);

/// What a game knows of a board once found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardInfo {
    pub handle: LeaderboardHandle,
    /// The name as the board was made (names compare case-insensitively).
    pub name: String,
    pub sort: SortMethod,
    pub display: DisplayType,
    /// Entries when the server last said.
    pub entry_count: u64,
}

impl LeaderboardInfo {
    /// `None` for a body that is not a board (id 0, unknown words).
    pub(crate) fn from_wire(body: &BoardBody) -> Option<LeaderboardInfo> {
        Some(LeaderboardInfo {
            handle: LeaderboardHandle::new(body.id)?,
            name: body.name.clone(),
            sort: SortMethod::parse(&body.sort)?,
            display: DisplayType::parse(&body.display)?,
            entry_count: body.entry_count,
        })
    }
}

/// One downloaded entry (Steam's `LeaderboardEntry_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardEntry {
    pub steam_id: SteamId,
    /// 1..N, one per entry (ties: the score achieved first ranks first).
    pub global_rank: u64,
    pub score: i32,
    pub details: Vec<i32>,
}

/// Which entries to download (Steam's `ELeaderboardDataRequest` with its range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntriesRequest {
    /// Ranks `start..=end`, 1-based (a start below 1 is 1; an end below the
    /// start is the start; ranks past the last entry are left out).
    Global { start: i32, end: i32 },
    /// `start..=end` relative to the current user (0 is the user, negative
    /// is better); empty when the user has no entry.
    GlobalAroundUser { start: i32, end: i32 },
    /// The current user's friends (the list the game's backend set), the
    /// user included.
    Friends,
}

/// Which board a queued call is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BoardRef {
    Handle(u64),
    /// Found by name when the call is served (Solar2D's calls name boards).
    Name(String),
}

/// A download's scope, as the route takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Request(EntriesRequest),
    Users(Vec<SteamId>),
}

/// A find or a download, queued for the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BoardRequest {
    Find {
        call: LeaderboardCall,
        name: String,
        /// `Some`: create the board with these settings when none has the name.
        create: Option<(SortMethod, DisplayType)>,
    },
    Download {
        call: LeaderboardCall,
        board: BoardRef,
        scope: Scope,
    },
}

/// The body of a journaled upload (kind `score`): the board and the
/// request, sent as `ScoreUploadRequest` under the entry's idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct JournaledScore {
    pub board: BoardRef,
    pub upload: ScoreUploadRequest,
}

/// A journaled upload waiting for the server's answer.
#[derive(Debug, Clone)]
pub(crate) struct ScoreJob {
    /// The journal row.
    pub seq: i64,
    pub key: String,
    pub body: String,
    /// `None` for an upload of an earlier run.
    pub call: Option<LeaderboardCall>,
}

/// Boards found, by handle and by name (lower case). Bounded by the app's
/// board limit; past it, new boards are not remembered (calls by name then
/// ask the server).
#[derive(Debug, Default)]
pub(crate) struct BoardCache {
    by_handle: HashMap<LeaderboardHandle, LeaderboardInfo>,
    by_name: HashMap<String, LeaderboardHandle>,
}

impl BoardCache {
    pub(crate) fn install(&mut self, info: &LeaderboardInfo) {
        if self.by_handle.len() >= MAX_LEADERBOARDS_PER_APP
            && !self.by_handle.contains_key(&info.handle)
        {
            return;
        }
        self.by_name.insert(info.name.to_lowercase(), info.handle);
        self.by_handle.insert(info.handle, info.clone());
    }

    pub(crate) fn set_entry_count(&mut self, handle: LeaderboardHandle, count: u64) {
        if let Some(info) = self.by_handle.get_mut(&handle) {
            info.entry_count = count;
        }
    }

    pub(crate) fn get(&self, handle: LeaderboardHandle) -> Option<&LeaderboardInfo> {
        self.by_handle.get(&handle)
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<LeaderboardHandle> {
        self.by_name.get(&name.to_lowercase()).copied()
    }

    /// The board is gone (the server said 404): forget it.
    pub(crate) fn forget(&mut self, handle: LeaderboardHandle) {
        if let Some(info) = self.by_handle.remove(&handle) {
            self.by_name.remove(&info.name.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u64, name: &str) -> LeaderboardInfo {
        LeaderboardInfo {
            handle: LeaderboardHandle::new(id).unwrap(),
            name: name.into(),
            sort: SortMethod::Descending,
            display: DisplayType::Numeric,
            entry_count: 0,
        }
    }

    #[test]
    fn the_cache_finds_boards_by_name_in_any_case_and_forgets_them() {
        let mut c = BoardCache::default();
        c.install(&info(7, "Feet Traveled"));
        let h = LeaderboardHandle::new(7).unwrap();
        assert_eq!(c.by_name("FEET TRAVELED"), Some(h));
        c.set_entry_count(h, 3);
        assert_eq!(c.get(h).unwrap().entry_count, 3);
        c.forget(h);
        assert_eq!(c.by_name("feet traveled"), None);
        assert!(c.get(h).is_none());
    }

    #[test]
    fn a_journaled_score_reads_back() {
        let body = JournaledScore {
            board: BoardRef::Name("Quickest Win".into()),
            upload: ScoreUploadRequest {
                score: -3,
                details: vec![1, 2],
                method: Some("KeepBest".into()),
            },
        };
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(serde_json::from_str::<JournaledScore>(&text).unwrap(), body);
        assert!(LeaderboardHandle::new(0).is_none());
    }
}
