//! Every bound Laurel enforces, in one place. Each is tested at its boundary.

/// Longest API name of a stat or achievement, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 128;
/// Most stats one app may define.
pub const MAX_STATS_PER_APP: usize = 1_000;
/// Most achievements one app may define.
pub const MAX_ACHIEVEMENTS_PER_APP: usize = 10_000;
/// Most entries in one store batch (Steam sends every changed stat and achievement at once).
pub const MAX_BATCH_ENTRIES: usize = 2_048;
/// Longest localized text (name or description), in bytes.
pub const MAX_TEXT_BYTES: usize = 4_096;
/// Most languages one localized text may carry.
pub const MAX_LANGUAGES: usize = 64;
/// Longest language code (`english`, `schinese`, `brazilian`, …), in bytes.
pub const MAX_LANGUAGE_BYTES: usize = 32;
/// Longest icon URL or path, in bytes.
pub const MAX_ICON_BYTES: usize = 2_048;
/// Longest game name, in bytes.
pub const MAX_GAME_NAME_BYTES: usize = 256;
/// Longest average-rate window, in seconds (one year).
pub const MAX_AVGRATE_WINDOW_SECONDS: u32 = 366 * 24 * 3600;
/// Longest idempotency key, in bytes (printable ASCII only).
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;
/// Longest display name of a user, in bytes of UTF-8 (Steam's persona
/// names are at most 32 characters; 64 bytes holds those in most scripts).
pub const MAX_DISPLAY_NAME_BYTES: usize = 64;
/// Most int32 details one entry may carry (Steam's
/// `k_cLeaderboardDetailsMax`).
pub const MAX_LEADERBOARD_DETAILS: usize = 64;
/// Most boards one app may have.
pub const MAX_LEADERBOARDS_PER_APP: usize = 10_000;
/// Most users one for-users download may name (Steam's limit).
pub const MAX_LEADERBOARD_USERS: usize = 100;
/// Most friends one user's friends list may hold (Steam's own limit is 2,000).
pub const MAX_FRIENDS: usize = 2_000;
