//! The writes of leaderboards: group items like stores, so that uploads
//! share commits (one fsync for a group), each in its own savepoint. A
//! board's changes take its next sequence number (`boards.last_seq`) in the
//! transaction that makes them; with one writer thread they commit in that
//! order (the invariant of `laurel_store::boards`).

use std::collections::{HashMap, HashSet};

use laurel_core::leaderboard::{self, LeaderboardDef};
use laurel_core::limits::{MAX_LEADERBOARD_DETAILS, MAX_LEADERBOARDS_PER_APP};
use laurel_core::{AppId, Schema, SteamId, UnixTime};
use laurel_store::StoreError;
use laurel_store::audit::AuditDraft;
use laurel_store::boards::{Board, BoardId, PeriodStart, StoredEntry, UploadReply, UploadRequest};
use rusqlite::{Connection, OptionalExtension};

use crate::boards::{
    board_named, board_of, check_app, count_entries, encode_details, existing_board, read_entry,
};
use crate::rows::{Context, app_sql, same_error, user_sql};

use super::answer::{Answer, Reply, answer};
use super::group::{in_savepoint, split};
use super::single::insert_audit;

pub(crate) enum BoardItem {
    Upload {
        request: Box<UploadRequest>,
        reply: Reply<UploadReply>,
    },
    Create {
        app: AppId,
        def: Box<LeaderboardDef>,
        reply: Reply<(Board, bool)>,
    },
    Delete {
        app: AppId,
        board: BoardId,
        audit: Box<AuditDraft>,
        reply: Reply<bool>,
    },
    Reset {
        app: AppId,
        board: BoardId,
        audit: Box<AuditDraft>,
        reply: Reply<u64>,
    },
    DeleteEntry {
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        user: SteamId,
        audit: Box<AuditDraft>,
        reply: Reply<bool>,
    },
    SetFriends {
        app: AppId,
        user: SteamId,
        friends: Vec<SteamId>,
        reply: Reply<()>,
    },
    Import {
        app: AppId,
        board: BoardId,
        entries: Vec<StoredEntry>,
        reply: Reply<()>,
    },
}

/// Runs one item in its savepoint (see `group::run_item`).
fn run<T: Send + 'static>(
    tx: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    reply: Reply<T>,
) -> (Answer, Option<StoreError>) {
    let (result, failed) = split(in_savepoint(tx, work));
    (answer(reply, result), failed)
}

impl BoardItem {
    /// The clock of an upload: idempotency records expire by it.
    pub(super) fn now(&self) -> Option<UnixTime> {
        match self {
            BoardItem::Upload { request, .. } => Some(request.now),
            _ => None,
        }
    }

    pub(super) fn failed(self, e: &StoreError) -> Answer {
        let e = same_error(e);
        match self {
            BoardItem::Upload { reply, .. } => answer(reply, Err(e)),
            BoardItem::Create { reply, .. } => answer(reply, Err(e)),
            BoardItem::Delete { reply, .. } | BoardItem::DeleteEntry { reply, .. } => {
                answer(reply, Err(e))
            }
            BoardItem::Reset { reply, .. } => answer(reply, Err(e)),
            BoardItem::SetFriends { reply, .. } | BoardItem::Import { reply, .. } => {
                answer(reply, Err(e))
            }
        }
    }

    pub(super) fn run(self, tx: &Connection) -> (Answer, Option<StoreError>) {
        match self {
            BoardItem::Upload { request, reply } => run(tx, |c| upload(c, &request), reply),
            BoardItem::Create { app, def, reply } => run(tx, |c| create(c, app, &def), reply),
            BoardItem::Delete {
                app,
                board,
                audit,
                reply,
            } => run(tx, |c| delete_board(c, app, board, *audit), reply),
            BoardItem::Reset {
                app,
                board,
                audit,
                reply,
            } => run(tx, |c| reset_board(c, app, board, *audit), reply),
            BoardItem::DeleteEntry {
                app,
                board,
                period,
                user,
                audit,
                reply,
            } => run(
                tx,
                |c| delete_entry(c, (app, board, period, user), *audit),
                reply,
            ),
            BoardItem::SetFriends {
                app,
                user,
                friends,
                reply,
            } => run(tx, |c| set_friends(c, app, user, &friends), reply),
            BoardItem::Import {
                app,
                board,
                entries,
                reply,
            } => run(tx, |c| import_entries(c, app, board, &entries), reply),
        }
    }
}

/// Takes the board's next sequence number.
fn next_seq(conn: &Connection, board: BoardId) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "UPDATE boards SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
    )
    .and_then(|mut s| s.query_row([board], |r| r.get(0)))
    .context("taking a board's sequence number")
}

fn write_entry(
    conn: &Connection,
    (board, period, user): (BoardId, PeriodStart, SteamId),
    score: Option<i32>,
    details: &[i32],
    set_at: UnixTime,
    seq: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET score = excluded.score, \
         details = excluded.details, set_at = excluded.set_at, seq = excluded.seq",
    )
    .and_then(|mut s| {
        s.execute((
            board,
            period,
            user_sql(user),
            score,
            encode_details(details),
            set_at,
            seq,
        ))
    })
    .context("writing an entry")?;
    Ok(())
}

/// Moves the live entry count of a board's period by `by`.
fn count_moves(
    conn: &Connection,
    board: BoardId,
    period: PeriodStart,
    by: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO board_counts (board_id, period_start, entries) VALUES (?1, ?2, ?3) \
         ON CONFLICT (board_id, period_start) DO UPDATE SET entries = entries + excluded.entries",
    )
    .and_then(|mut s| s.execute((board, period, by)))
    .context("counting a board's entries")?;
    Ok(())
}

/// Removes every entry of a board, with its counts.
fn remove_entries(conn: &Connection, board: BoardId) -> Result<(), StoreError> {
    for sql in [
        "DELETE FROM board_entries WHERE board_id = ?1",
        "DELETE FROM board_counts WHERE board_id = ?1",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([board]))
            .context("removing a board's entries")?;
    }
    Ok(())
}

fn too_many_details(count: usize) -> StoreError {
    StoreError::Conflict(format!(
        "{count} details; an entry holds at most {MAX_LEADERBOARD_DETAILS}"
    ))
}

fn upload(conn: &Connection, r: &UploadRequest) -> Result<UploadReply, StoreError> {
    if r.details.len() > MAX_LEADERBOARD_DETAILS {
        return Err(too_many_details(r.details.len()));
    }
    let row = existing_board(conn, r.app, r.board)?;
    let board = row.board()?;
    let place = (r.board, r.period, r.user);
    if let Some((key, fingerprint)) = &r.idempotency {
        let first: Option<(String, bool)> = conn
            .prepare_cached(
                "SELECT fingerprint, changed FROM upload_idempotency \
                 WHERE app_id = ?1 AND steam_id = ?2 AND idem_key = ?3",
            )
            .and_then(|mut s| {
                s.query_row((app_sql(r.app), user_sql(r.user), key.as_str()), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
            })
            .context("looking up an upload's idempotency key")?;
        if let Some((stored, changed)) = first {
            if stored != fingerprint.as_str() {
                return Err(StoreError::IdempotencyConflict {
                    key: key.to_string(),
                });
            }
            // The entry as it is now; gone since (deleted, reset): the score
            // the upload carried, as it would have been written.
            let entry = read_entry(conn, r.board, r.period, r.user)?.unwrap_or_else(|| {
                leaderboard::Entry {
                    score: r.score,
                    details: r.details.clone(),
                    set_at: r.now,
                    seq: 0,
                }
            });
            return Ok(UploadReply {
                previous: None,
                entry,
                changed,
                replayed: true,
                epoch: board.epoch,
            });
        }
    }
    let previous = read_entry(conn, r.board, r.period, r.user)?;
    let next = u64::try_from(row.last_seq + 1).unwrap_or(0);
    let uploaded = leaderboard::upload(
        board.def.sort,
        r.method,
        previous.as_ref(),
        r.score,
        &r.details,
        r.now,
        next,
    )
    .map_err(|e| too_many_details(e.count))?;
    if uploaded.changed {
        let seq = next_seq(conn, r.board)?;
        let e = &uploaded.entry;
        write_entry(conn, place, Some(e.score), &e.details, e.set_at, seq)?;
        if previous.is_none() {
            count_moves(conn, r.board, r.period, 1)?;
        }
    }
    if let Some((key, fingerprint)) = &r.idempotency {
        conn.prepare_cached(
            "INSERT INTO upload_idempotency (app_id, steam_id, idem_key, fingerprint, changed, created) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute((
                app_sql(r.app),
                user_sql(r.user),
                key.as_str(),
                fingerprint.as_str(),
                uploaded.changed,
                r.now,
            ))
        })
        .context("recording an upload's idempotency key")?;
    }
    Ok(UploadReply {
        previous,
        entry: uploaded.entry,
        changed: uploaded.changed,
        replayed: false,
        epoch: board.epoch,
    })
}

/// Inserts a board, or updates the settings of the one of that name
/// (`put_schema`, with `update`).
fn upsert_board(
    conn: &Connection,
    app: AppId,
    def: &LeaderboardDef,
    update: bool,
) -> Result<(), StoreError> {
    let conflict = if update {
        "ON CONFLICT (app_id, name_key) DO UPDATE SET name = excluded.name, \
         sort = excluded.sort, display = excluded.display, \
         display_name = excluded.display_name, writes = excluded.writes, \
         period = excluded.period"
    } else {
        ""
    };
    conn.prepare_cached(&format!(
        "INSERT INTO boards (app_id, name, name_key, sort, display, display_name, writes, \
         period, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) {conflict}"
    ))
    .and_then(|mut s| {
        s.execute((
            app_sql(app),
            def.name.as_str(),
            def.name.key(),
            def.sort.as_str(),
            def.display.as_str(),
            def.display_name.as_deref(),
            def.writes.as_str(),
            def.period.as_str(),
            laurel_store::unix_now_ms(),
        ))
    })
    .context("writing a board")?;
    Ok(())
}

/// Makes the boards a schema defines exist with its settings, in the
/// transaction that puts the schema. Boards it does not define stay.
pub(super) fn sync_schema_boards(
    conn: &Connection,
    app: AppId,
    schema: &Schema,
) -> Result<(), StoreError> {
    for def in schema.leaderboards() {
        upsert_board(conn, app, def, true)?;
    }
    Ok(())
}

fn create(
    conn: &Connection,
    app: AppId,
    def: &LeaderboardDef,
) -> Result<(Board, bool), StoreError> {
    if let Some(row) = board_named(conn, app, &def.name)? {
        return Ok((row.board()?, false));
    }
    let boards: i64 = conn
        .prepare_cached("SELECT count(*) FROM boards WHERE app_id = ?1")
        .and_then(|mut s| s.query_row([app_sql(app)], |r| r.get(0)))
        .context("counting boards")?;
    if usize::try_from(boards).unwrap_or(usize::MAX) >= MAX_LEADERBOARDS_PER_APP {
        return Err(StoreError::Conflict(format!(
            "app {app} has {boards} leaderboards; the limit is {MAX_LEADERBOARDS_PER_APP}"
        )));
    }
    upsert_board(conn, app, def, false)?;
    let row = board_named(conn, app, &def.name)?
        .ok_or_else(|| StoreError::Backend("a board just written is not there".into()))?;
    Ok((row.board()?, true))
}

/// What a moderation's audit record says: the board's id and name, and `extra`.
fn audit_detail(board: &Board, extra: serde_json::Value) -> serde_json::Value {
    let mut detail = serde_json::json!({ "board": board.id, "name": board.def.name.as_str() });
    if let (Some(map), serde_json::Value::Object(more)) = (detail.as_object_mut(), extra) {
        map.extend(more);
    }
    detail
}

fn delete_board(
    conn: &Connection,
    app: AppId,
    id: BoardId,
    audit: AuditDraft,
) -> Result<bool, StoreError> {
    let Some(row) = board_of(conn, app, id)? else {
        return Ok(false);
    };
    let board = row.board()?;
    let entries = count_entries(conn, id, None)?;
    remove_entries(conn, id)?;
    conn.prepare_cached("DELETE FROM boards WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .context("deleting a board")?;
    let detail = audit_detail(&board, serde_json::json!({ "entries": entries }));
    insert_audit(conn, &audit.about(app, None).with_detail(detail))?;
    Ok(true)
}

fn reset_board(
    conn: &Connection,
    app: AppId,
    id: BoardId,
    audit: AuditDraft,
) -> Result<u64, StoreError> {
    let row = existing_board(conn, app, id)?;
    let board = row.board()?;
    let removed = count_entries(conn, id, None)?;
    remove_entries(conn, id)?;
    conn.prepare_cached("UPDATE boards SET epoch = epoch + 1 WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .context("resetting a board")?;
    let detail = audit_detail(&board, serde_json::json!({ "removed": removed }));
    insert_audit(conn, &audit.about(app, None).with_detail(detail))?;
    Ok(removed)
}

fn delete_entry(
    conn: &Connection,
    (app, id, period, user): (AppId, BoardId, PeriodStart, SteamId),
    audit: AuditDraft,
) -> Result<bool, StoreError> {
    let row = existing_board(conn, app, id)?;
    let Some(entry) = read_entry(conn, id, period, user)? else {
        return Ok(false);
    };
    let seq = next_seq(conn, id)?;
    write_entry(conn, (id, period, user), None, &[], entry.set_at, seq)?;
    count_moves(conn, id, period, -1)?;
    let board = row.board()?;
    let detail = audit_detail(
        &board,
        serde_json::json!({ "period": period, "score": entry.score }),
    );
    insert_audit(conn, &audit.about(app, Some(user)).with_detail(detail))?;
    Ok(true)
}

fn set_friends(
    conn: &Connection,
    app: AppId,
    user: SteamId,
    friends: &[SteamId],
) -> Result<(), StoreError> {
    check_app(conn, app)?;
    let me = (app_sql(app), user_sql(user));
    conn.prepare_cached("DELETE FROM friends WHERE app_id = ?1 AND steam_id = ?2")
        .and_then(|mut s| s.execute(me))
        .context("replacing a friends list")?;
    let mut insert = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO friends (app_id, steam_id, friend_id) VALUES (?1, ?2, ?3)",
        )
        .context("writing a friends list")?;
    for friend in friends {
        insert
            .execute((me.0, me.1, user_sql(*friend)))
            .context("writing a friends list")?;
    }
    Ok(())
}

fn import_entries(
    conn: &Connection,
    app: AppId,
    id: BoardId,
    entries: &[StoredEntry],
) -> Result<(), StoreError> {
    let row = existing_board(conn, app, id)?;
    let mut places = HashSet::new();
    let mut periods: HashMap<PeriodStart, i64> = HashMap::new();
    let mut last = row.last_seq;
    for e in entries {
        let invalid =
            |what: String| Err(StoreError::InvalidImport(format!("{what} on board {id}")));
        if e.entry.details.len() > MAX_LEADERBOARD_DETAILS {
            return invalid(format!("{} details", e.entry.details.len()));
        }
        let Ok(seq) = i64::try_from(e.entry.seq) else {
            return invalid(format!("sequence number {}", e.entry.seq));
        };
        if seq < 1 {
            return invalid("sequence number 0".into());
        }
        if !places.insert((e.period, e.user)) {
            return invalid(format!(
                "two entries of user {} in period {}",
                e.user, e.period
            ));
        }
        *periods.entry(e.period).or_default() += 1;
        last = last.max(seq);
    }
    for &period in periods.keys() {
        let taken = conn
            .prepare_cached(
                "SELECT 1 FROM board_entries WHERE board_id = ?1 AND period_start = ?2 LIMIT 1",
            )
            .and_then(|mut s| s.query_row((id, period), |_| Ok(())).optional())
            .context("looking for entries")?
            .is_some();
        if taken {
            return Err(StoreError::AlreadyExists(format!(
                "entries of board {id} of app {app} in period {period}"
            )));
        }
    }
    for e in entries {
        let entry = &e.entry;
        let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
        write_entry(
            conn,
            (id, e.period, e.user),
            Some(entry.score),
            &entry.details,
            entry.set_at,
            seq,
        )?;
    }
    for (period, n) in periods {
        count_moves(conn, id, period, n)?;
    }
    conn.prepare_cached("UPDATE boards SET last_seq = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute((id, last)))
        .context("moving a board's sequence")?;
    Ok(())
}

/// Deletes upload idempotency records created before `cutoff`, at most
/// `limit`; answers how many.
pub(super) fn purge_upload_keys(
    conn: &Connection,
    cutoff: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    conn.prepare_cached(
        "DELETE FROM upload_idempotency WHERE (app_id, steam_id, idem_key) IN \
         (SELECT app_id, steam_id, idem_key FROM upload_idempotency \
         WHERE created < ?1 ORDER BY created LIMIT ?2)",
    )
    .and_then(|mut s| s.execute((cutoff, limit)))
    .context("purging upload idempotency keys")
}
