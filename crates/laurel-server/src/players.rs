//! "Current players": who has fetched or stored their progress recently.
//!
//! A user counts as playing an app for [`CURRENT_PLAYER_WINDOW`] after their
//! own client read their progress or any store for them was accepted. The
//! map lives in this process only: with several nodes behind one database,
//! each node counts the players it saw (see `docs/steam-web-api.md` for what
//! a multi-node deployment needs).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use laurel_core::{AppId, SteamId};

/// How long after their last fetch or store a user still counts as playing
/// (counted in whole minutes: a user leaves between this and a minute more).
pub const CURRENT_PLAYER_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Most users tracked at once, over all apps. A full map takes no new users
/// (they are not counted) until some leave, rather than grow without bound.
pub const MAX_TRACKED_PLAYERS: usize = 1_000_000;
/// Users are kept in buckets of this long, by when they were last seen.
const BUCKET: Duration = Duration::from_secs(60);

/// One app's users by the minute they were last seen. Every operation is
/// O(1) amortized: a touch moves one user between two buckets, and a bucket
/// that leaves the window is dropped with its users, each of whom was put
/// there by one touch (issue 12: a prune that scanned every user ran on
/// requests, under the one lock).
#[derive(Default)]
struct AppPlayers {
    /// User → the minute (since the map's origin) they were last seen.
    last_seen: HashMap<SteamId, u64>,
    /// Oldest first: (minute, users last seen in it).
    buckets: VecDeque<(u64, HashSet<SteamId>)>,
}

impl AppPlayers {
    /// Drops the buckets older than the window; returns how many users left.
    fn expire(&mut self, minute: u64) -> usize {
        let window = CURRENT_PLAYER_WINDOW.as_secs() / BUCKET.as_secs();
        let mut gone = 0;
        while let Some((m, _)) = self.buckets.front() {
            if m + window >= minute {
                break;
            }
            if let Some((_, users)) = self.buckets.pop_front() {
                for user in users {
                    self.last_seen.remove(&user);
                    gone += 1;
                }
            }
        }
        gone
    }

    /// Moves (or adds) `user` to `minute`'s bucket; whether it was new.
    fn see(&mut self, user: SteamId, minute: u64) -> bool {
        let previous = self.last_seen.insert(user, minute);
        if previous == Some(minute) {
            return false;
        }
        if let Some(old) = previous
            && let Some((_, users)) = self.buckets.iter_mut().find(|(m, _)| *m == old)
        {
            users.remove(&user);
        }
        match self.buckets.back_mut() {
            Some((m, users)) if *m == minute => {
                users.insert(user);
            }
            _ => self.buckets.push_back((minute, HashSet::from([user]))),
        }
        previous.is_none()
    }
}

/// Last-seen minutes per app and user. One short lock per touch or count.
pub struct PlayerActivity {
    origin: Instant,
    inner: Mutex<Inner>,
}

impl Default for PlayerActivity {
    fn default() -> PlayerActivity {
        PlayerActivity {
            origin: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }
}

#[derive(Default)]
struct Inner {
    apps: HashMap<AppId, AppPlayers>,
    tracked: usize,
}

impl PlayerActivity {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn minute(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs() / BUCKET.as_secs()
    }

    /// Records that `user` fetched or stored their progress in `app` at `now`.
    pub fn touch(&self, app: AppId, user: SteamId, now: Instant) {
        let minute = self.minute(now);
        let mut inner = self.lock();
        let Inner { apps, tracked } = &mut *inner;
        let players = apps.entry(app).or_default();
        *tracked -= players.expire(minute);
        // A full map takes no new user; those it has still move.
        if !players.last_seen.contains_key(&user) && *tracked >= MAX_TRACKED_PLAYERS {
            return;
        }
        if players.see(user, minute) {
            *tracked += 1;
        }
    }

    /// Users of `app` seen within [`CURRENT_PLAYER_WINDOW`] of `now`
    /// (rounded to whole minutes).
    pub fn current(&self, app: AppId, now: Instant) -> u64 {
        self.current_besides(app, None, now)
    }

    /// Whether `user` counts as playing `app` at `now`.
    pub fn is_current(&self, app: AppId, user: SteamId, now: Instant) -> bool {
        let minute = self.minute(now);
        let mut inner = self.lock();
        let Inner { apps, tracked } = &mut *inner;
        let Some(players) = apps.get_mut(&app) else {
            return false;
        };
        *tracked -= players.expire(minute);
        players.last_seen.contains_key(&user)
    }

    /// [`PlayerActivity::current`], not counting `asking` (Steam's client
    /// call counts the players other than the one who asks).
    pub fn current_besides(&self, app: AppId, asking: Option<SteamId>, now: Instant) -> u64 {
        let minute = self.minute(now);
        let mut inner = self.lock();
        let Inner { apps, tracked } = &mut *inner;
        let Some(players) = apps.get_mut(&app) else {
            return 0;
        };
        *tracked -= players.expire(minute);
        let counted = asking.is_some_and(|u| players.last_seen.contains_key(&u));
        players.last_seen.len() as u64 - u64::from(counted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(app: u32, user: u64) -> (AppId, SteamId) {
        (AppId::new(app).unwrap(), SteamId::new(user).unwrap())
    }

    #[test]
    fn users_count_for_the_window_and_per_app() {
        let p = PlayerActivity::default();
        let t0 = Instant::now();
        let (a, u1) = ids(480, 1);
        let (b, u2) = ids(7, 2);
        p.touch(a, u1, t0);
        p.touch(a, u1, t0 + Duration::from_secs(1));
        p.touch(b, u2, t0);
        assert_eq!(
            p.current_besides(a, Some(u1), t0),
            0,
            "the asking user is not counted"
        );
        assert_eq!(
            p.current_besides(a, Some(u2), t0),
            1,
            "one not playing a is not taken off"
        );
        assert_eq!(p.current(a, t0), 1);
        assert_eq!(p.current(b, t0), 1);
        assert_eq!(p.current(ids(9, 1).0, t0), 0);
        // Seen again near the end of the window: still playing after it.
        p.touch(a, u1, t0 + CURRENT_PLAYER_WINDOW - Duration::from_secs(1));
        let later = t0 + CURRENT_PLAYER_WINDOW + BUCKET * 2;
        assert_eq!(p.current(a, later), 1);
        assert_eq!(p.current(b, later), 0, "the window passed");
        let much_later = later + CURRENT_PLAYER_WINDOW;
        assert_eq!(p.current(a, much_later), 0);
        assert_eq!(p.lock().tracked, 0);
    }

    #[test]
    fn a_touch_moves_one_user_and_the_map_follows_users_not_touches() {
        let p = PlayerActivity::default();
        let t0 = p.origin;
        let (a, _) = ids(480, 1);
        // 1,000 users, each seen once a minute for 30 minutes.
        for minute in 0..30u32 {
            for u in 1..=1_000 {
                p.touch(a, ids(480, u).1, t0 + BUCKET * minute);
            }
            let inner = p.lock();
            let players = &inner.apps[&a];
            assert_eq!(players.last_seen.len(), 1_000);
            let in_buckets: usize = players.buckets.iter().map(|(_, u)| u.len()).sum();
            assert_eq!(in_buckets, 1_000, "each user in one bucket");
            assert!(players.buckets.len() <= 1 + 10, "{}", players.buckets.len());
        }
        assert_eq!(p.current(a, t0 + BUCKET * 29), 1_000);
        assert_eq!(
            p.current(a, t0 + BUCKET * 29 + CURRENT_PLAYER_WINDOW + BUCKET),
            0
        );
        assert_eq!(p.lock().tracked, 0);
    }
}
