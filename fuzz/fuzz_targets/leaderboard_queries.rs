#![no_main]
//! Any text as a leaderboard download's query string and as Steam's
//! `details` parameter: never a panic, and what is accepted stays within
//! its limits (100 users, 64 details).
use laurel_core::limits::{MAX_LEADERBOARD_DETAILS, MAX_LEADERBOARD_USERS};
use laurel_wire::leaderboards::{EntriesQuery, parse_details};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(q) = EntriesQuery::parse(text) {
        assert!(q.steam_ids.is_none_or(|ids| ids.len() <= MAX_LEADERBOARD_USERS));
    }
    if let Ok(details) = parse_details(text) {
        assert!(details.len() <= MAX_LEADERBOARD_DETAILS);
    }
});
