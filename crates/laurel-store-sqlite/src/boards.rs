//! Leaderboards in SQLite: the rows of `boards`, `board_entries`,
//! `upload_idempotency` and `friends` (layout 8, `migrations.rs`), and the
//! reads, on the read pool. The writes are the writer thread's
//! (`writer/boards.rs`). Ranks are not computed here: a node keeps them in
//! memory ([`laurel_store::ranks`]) and catches up from `board_changes`.

use laurel_core::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, Entry, LeaderboardDef, SortMethod,
};
use laurel_core::{AppId, SteamId, UnixTime};
use laurel_store::StoreError;
use laurel_store::boards::{
    Board, BoardChange, BoardChanges, BoardId, BoardSummary, PeriodStart, StoredEntry,
};
use laurel_store::rows::user_from_sql;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::rows::{Context, app_from_sql, app_sql, corrupt, count, schema_version, user_sql};

/// A details list as stored: each value as 4 little-endian bytes.
pub(crate) fn encode_details(details: &[i32]) -> Vec<u8> {
    details.iter().flat_map(|d| d.to_le_bytes()).collect()
}

pub(crate) fn decode_details(bytes: &[u8]) -> Result<Vec<i32>, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(corrupt(format_args!("details of {} bytes", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The columns [`board_row`] reads, in order.
pub(crate) const BOARD_COLUMNS: &str =
    "id, app_id, name, sort, display, display_name, writes, period, epoch, last_seq";

/// A board's row as read, before its words are checked.
pub(crate) struct BoardRow {
    id: i64,
    app: i64,
    name: String,
    sort: String,
    display: String,
    display_name: Option<String>,
    writes: String,
    period: String,
    epoch: i64,
    /// The board's sequence: the last number a change took.
    pub(crate) last_seq: i64,
}

pub(crate) fn board_row(row: &Row<'_>) -> rusqlite::Result<BoardRow> {
    Ok(BoardRow {
        id: row.get(0)?,
        app: row.get(1)?,
        name: row.get(2)?,
        sort: row.get(3)?,
        display: row.get(4)?,
        display_name: row.get(5)?,
        writes: row.get(6)?,
        period: row.get(7)?,
        epoch: row.get(8)?,
        last_seq: row.get(9)?,
    })
}

fn word<T>(text: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| corrupt(format_args!("board {what} {text:?}")))
}

impl BoardRow {
    pub(crate) fn board(&self) -> Result<Board, StoreError> {
        let name = BoardName::parse(&self.name)
            .map_err(|e| corrupt(format_args!("board name {:?}: {e}", self.name)))?;
        Ok(Board {
            id: self.id,
            app: app_from_sql(self.app)?,
            def: LeaderboardDef {
                name,
                sort: word(&self.sort, SortMethod::parse, "sort")?,
                display: word(&self.display, DisplayType::parse, "display")?,
                display_name: self.display_name.clone(),
                writes: word(&self.writes, BoardWrites::parse, "writes")?,
                period: word(&self.period, BoardPeriod::parse, "period")?,
            },
            epoch: self.epoch,
        })
    }
}

/// `UnknownApp` unless the app has a schema.
pub(crate) fn check_app(conn: &Connection, app: AppId) -> Result<(), StoreError> {
    schema_version(conn, app)?
        .map(drop)
        .ok_or(StoreError::UnknownApp(app))
}

/// The board `id` of `app` (`UnknownApp` for an app without a schema).
pub(crate) fn board_of(
    conn: &Connection,
    app: AppId,
    id: BoardId,
) -> Result<Option<BoardRow>, StoreError> {
    check_app(conn, app)?;
    conn.prepare_cached(&format!(
        "SELECT {BOARD_COLUMNS} FROM boards WHERE id = ?1 AND app_id = ?2"
    ))
    .and_then(|mut s| s.query_row((id, app_sql(app)), board_row).optional())
    .context("reading a board")
}

/// Like [`board_of`], with `NotFound` for no such board.
pub(crate) fn existing_board(
    conn: &Connection,
    app: AppId,
    id: BoardId,
) -> Result<BoardRow, StoreError> {
    board_of(conn, app, id)?
        .ok_or_else(|| StoreError::NotFound(format!("app {app} has no leaderboard {id}")))
}

pub(crate) fn board_named(
    conn: &Connection,
    app: AppId,
    name: &BoardName,
) -> Result<Option<BoardRow>, StoreError> {
    check_app(conn, app)?;
    conn.prepare_cached(&format!(
        "SELECT {BOARD_COLUMNS} FROM boards WHERE app_id = ?1 AND name_key = ?2"
    ))
    .and_then(|mut s| {
        s.query_row((app_sql(app), name.key()), board_row)
            .optional()
    })
    .context("finding a board")
}

fn seq_from_sql(value: i64) -> Result<u64, StoreError> {
    count(value, "sequence number")
}

/// A row of `board_entries`: `None` for a tombstone.
fn entry_from_sql(
    score: Option<i32>,
    details: &[u8],
    set_at: UnixTime,
    seq: i64,
) -> Result<Option<Entry>, StoreError> {
    let seq = seq_from_sql(seq)?;
    score
        .map(|score| {
            Ok(Entry {
                score,
                details: decode_details(details)?,
                set_at,
                seq,
            })
        })
        .transpose()
}

/// The user's live entry on a board in a period.
pub(crate) fn read_entry(
    conn: &Connection,
    board: BoardId,
    period: PeriodStart,
    user: SteamId,
) -> Result<Option<Entry>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT score, details, set_at, seq FROM board_entries \
             WHERE board_id = ?1 AND period_start = ?2 AND steam_id = ?3",
        )
        .and_then(|mut s| {
            s.query_row((board, period, user_sql(user)), |r| {
                Ok((
                    r.get::<_, Option<i32>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()
        })
        .context("reading an entry")?;
    match row {
        Some((score, details, set_at, seq)) => entry_from_sql(score, &details, set_at, seq),
        None => Ok(None),
    }
}

/// Live entries of a board in a period (in every period: `None`), as
/// `board_counts` keeps them.
pub(crate) fn count_entries(
    conn: &Connection,
    board: BoardId,
    period: Option<PeriodStart>,
) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(entries), 0) FROM board_counts WHERE board_id = ?1 \
             AND (?2 IS NULL OR period_start = ?2)",
        )
        .and_then(|mut s| s.query_row((board, period), |r| r.get(0)))
        .context("counting entries")?;
    count(n, "entry count")
}

/// The period of `board` that holds `now`.
pub(crate) fn period_at(board: &Board, now: UnixTime) -> PeriodStart {
    board.def.period.start(now).unwrap_or(0)
}

pub(crate) fn list_boards(
    conn: &Connection,
    app: AppId,
    now: UnixTime,
) -> Result<Vec<BoardSummary>, StoreError> {
    check_app(conn, app)?;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {BOARD_COLUMNS} FROM boards WHERE app_id = ?1 ORDER BY id"
        ))
        .and_then(|mut s| {
            s.query_map([app_sql(app)], board_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing boards")?;
    rows.iter()
        .map(|row| {
            let board = row.board()?;
            let entries = count_entries(conn, board.id, Some(period_at(&board, now)))?;
            Ok(BoardSummary { board, entries })
        })
        .collect()
}

pub(crate) fn board_changes(
    conn: &Connection,
    app: AppId,
    board: BoardId,
    period: PeriodStart,
    cursor: u64,
) -> Result<BoardChanges, StoreError> {
    let row = existing_board(conn, app, board)?;
    // One writer commits a board's changes in sequence order: the cursor is
    // the largest sequence number answered, and the next catch-up reads
    // the changes after it.
    let after = i64::try_from(cursor).unwrap_or(i64::MAX);
    let rows = conn
        .prepare_cached(
            "SELECT steam_id, score, details, set_at, seq FROM board_entries \
             WHERE board_id = ?1 AND period_start = ?2 AND seq > ?3 ORDER BY seq",
        )
        .and_then(|mut s| {
            s.query_map((board, period, after), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i32>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a board's changes")?;
    let changes = rows
        .into_iter()
        .map(|(user, score, details, set_at, seq)| {
            Ok(BoardChange {
                user: user_from_sql(user)?,
                entry: entry_from_sql(score, &details, set_at, seq)?,
                seq: seq_from_sql(seq)?,
            })
        })
        .collect::<Result<Vec<BoardChange>, StoreError>>()?;
    let cursor = changes.iter().map(|c| c.seq).fold(cursor, u64::max);
    Ok(BoardChanges {
        epoch: row.epoch,
        changes,
        cursor,
    })
}

pub(crate) fn stored_entries(
    conn: &Connection,
    app: AppId,
    board: BoardId,
) -> Result<Vec<StoredEntry>, StoreError> {
    existing_board(conn, app, board)?;
    let rows = conn
        .prepare_cached(
            "SELECT period_start, steam_id, score, details, set_at, seq FROM board_entries \
             WHERE board_id = ?1 AND score IS NOT NULL ORDER BY period_start, seq",
        )
        .and_then(|mut s| {
            s.query_map([board], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i32>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a board's entries")?;
    let mut out = Vec::with_capacity(rows.len());
    for (period, user, score, details, set_at, seq) in rows {
        if let Some(entry) = entry_from_sql(score, &details, set_at, seq)? {
            out.push(StoredEntry {
                period,
                user: user_from_sql(user)?,
                entry,
            });
        }
    }
    Ok(out)
}

pub(crate) fn friends(
    conn: &Connection,
    app: AppId,
    user: SteamId,
) -> Result<Vec<SteamId>, StoreError> {
    check_app(conn, app)?;
    let stored = conn
        .prepare_cached("SELECT friend_id FROM friends WHERE app_id = ?1 AND steam_id = ?2")
        .and_then(|mut s| {
            s.query_map((app_sql(app), user_sql(user)), |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading a friends list")?;
    let mut ids = stored
        .into_iter()
        .map(user_from_sql)
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable_by_key(|id| id.get());
    Ok(ids)
}

/// Every friends list of the app that is not empty, by user, each
/// ascending (u64 order of the ids), for `laurel migrate`.
pub(crate) fn friend_lists(
    conn: &Connection,
    app: AppId,
) -> Result<Vec<(SteamId, Vec<SteamId>)>, StoreError> {
    check_app(conn, app)?;
    let stored = conn
        .prepare_cached("SELECT steam_id, friend_id FROM friends WHERE app_id = ?1")
        .and_then(|mut s| {
            s.query_map([app_sql(app)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading friends lists")?;
    let mut lists: std::collections::BTreeMap<u64, Vec<SteamId>> = Default::default();
    for (user, friend) in stored {
        lists
            .entry(user as u64)
            .or_default()
            .push(user_from_sql(friend)?);
    }
    lists
        .into_iter()
        .map(|(user, mut friends)| {
            friends.sort_unstable_by_key(|id| id.get());
            Ok((user_from_sql(user as i64)?, friends))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_bit_for_bit() {
        let details = vec![0, -1, 1, i32::MIN, i32::MAX, 0x0102_0304];
        let bytes = encode_details(&details);
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[20..], [4, 3, 2, 1], "little-endian");
        assert_eq!(decode_details(&bytes).unwrap(), details);
        assert!(decode_details(&bytes[..5]).is_err());
    }
}
