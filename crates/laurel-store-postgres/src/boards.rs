//! Leaderboards: boards, one entry per user per board and period, the
//! board's change log, uploads, moderation, friends lists
//! (`laurel_store::boards` for the invariants).
//!
//! Locks, in this order in every transaction that takes more than one: a
//! user's entry row, then the board's row. An upload runs in two round
//! trips, each one [`Script`]:
//!
//! ```text
//! BEGIN
//!   INSERT the user's entry ON CONFLICT DO UPDATE … RETURNING   -- the entry's row lock (a placeholder
//!                                                               -- row for a user without one: never committed)
//!   the board (sort, epoch, reset_seq)                          -- read after the lock
//!   the idempotency key                                         -- read after the lock
//! (round trip)
//!   laurel_core::leaderboard::upload                            -- in memory
//!   UPDATE boards SET last_seq = last_seq + 1 … RETURNING,      -- the board's row lock, held only for
//!     the period's count (a new entry), the entry with that seq -- this message: a hot board's changing
//!   the key's first answer                                      -- uploads queue on it for one write and
//! COMMIT                                                        -- the commit's flush
//! (round trip)
//! ```
//!
//! An upload that changes nothing does not touch the board's row (and one
//! without a key rolls back). Resets take the entries first and the board's
//! row last, and no entry after it: what an upload commits in between stays
//! below the board's `reset_seq` mark and counts as removed
//! (`reset_board`). Board deletions delete the entries, then the board
//! (whose cascade takes what was written in between). Should two
//! transactions still wait for each other, PostgreSQL reports a deadlock
//! and the loser is rerun.

use deadpool_postgres::{ClientWrapper, GenericClient};
use laurel_core::leaderboard::{
    self, BoardName, BoardPeriod, BoardWrites, DisplayType, Entry, LeaderboardDef, SortMethod,
};
use laurel_core::limits::{MAX_LEADERBOARD_DETAILS, MAX_LEADERBOARDS_PER_APP};
use laurel_core::{AppId, SteamId, UnixTime};
use laurel_store::boards::{
    Board, BoardChange, BoardChanges, BoardId, BoardSummary, PeriodStart, StoredEntry, UploadReply,
    UploadRequest,
};
use laurel_store::{AuditDraft, StoreError};
use tokio_postgres::Row;

use crate::audit;
use crate::connection::{Context, Failure, execute, join_pipelined, query, query_opt};
use crate::rows::{Cells, app_from_sql, app_sql, corrupt, count, required, user_sql};
use crate::script::{Array, Prepared, Script};

/// A board's columns, in the order [`board_from_row`] reads them.
const BOARD_COLUMNS: &str = "id, app_id, name, sort, display, display_name, writes, period, epoch";

fn word<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T, Failure> {
    parse(text).ok_or_else(|| corrupt(format_args!("{what}: {text:?} is not a setting")))
}

/// A row whose first columns are [`BOARD_COLUMNS`].
fn board_from_row(row: &Row) -> Result<Board, Failure> {
    let what = "reading a board";
    let name: String = row.try_get(2).context(what)?;
    let name =
        BoardName::parse(&name).map_err(|e| corrupt(format_args!("board name {name:?}: {e}")))?;
    let sort: String = row.try_get(3).context(what)?;
    let display: String = row.try_get(4).context(what)?;
    let writes: String = row.try_get(6).context(what)?;
    let period: String = row.try_get(7).context(what)?;
    Ok(Board {
        id: row.try_get(0).context(what)?,
        app: app_from_sql(row.try_get(1).context(what)?)?,
        def: LeaderboardDef {
            name,
            sort: word(&sort, SortMethod::parse, "board sort")?,
            display: word(&display, DisplayType::parse, "board display")?,
            display_name: row.try_get(5).context(what)?,
            writes: word(&writes, BoardWrites::parse, "board writes")?,
            period: word(&period, BoardPeriod::parse, "board period")?,
        },
        epoch: row.try_get(8).context(what)?,
    })
}

/// The start of the period `now` falls in on a board of `period` (0 without periods).
fn period_at(period: BoardPeriod, now: UnixTime) -> PeriodStart {
    period.start(now).unwrap_or(0)
}

fn seq_from_sql(value: i64) -> Result<u64, Failure> {
    count(value, "entry sequence number")
}

fn seq_sql(seq: u64) -> Result<i64, Failure> {
    i64::try_from(seq).map_err(|_| corrupt(format_args!("sequence number {seq} overflows")))
}

fn steam_id_from_sql(value: i64) -> Result<SteamId, Failure> {
    SteamId::new(value as u64).map_err(|_| {
        corrupt(format_args!(
            "database holds an invalid value: steam id {value}"
        ))
    })
}

async fn app_exists<C: GenericClient>(client: &C, app: AppId) -> Result<(), Failure> {
    let row = query_opt(
        client,
        "looking for the app",
        "SELECT 1 FROM apps WHERE app_id = $1",
        &[&app_sql(app)],
    )
    .await?;
    match row {
        Some(_) => Ok(()),
        None => Err(Failure::Store(StoreError::UnknownApp(app))),
    }
}

/// The answer for a board that is not there: the app has no such board,
/// or there is no such app (one more statement, on this path only).
async fn no_board<C: GenericClient>(client: &C, app: AppId, board: BoardId) -> Failure {
    match app_exists(client, app).await {
        Ok(()) => Failure::Store(StoreError::NotFound(format!(
            "app {app} has no leaderboard {board}"
        ))),
        Err(failure) => failure,
    }
}

/// The app's boards with their entry counts in their periods at `now`.
pub(crate) async fn list<C: GenericClient>(
    client: &C,
    app: AppId,
    now: UnixTime,
) -> Result<Vec<BoardSummary>, Failure> {
    let starts: [i64; 3] = [
        period_at(BoardPeriod::Daily, now),
        period_at(BoardPeriod::Weekly, now),
        period_at(BoardPeriod::Monthly, now),
    ];
    let sql = format!(
        "SELECT {BOARD_COLUMNS}, \
         coalesce((SELECT c.entries FROM board_counts c WHERE c.board_id = b.id \
          AND c.period_start = CASE b.period WHEN 'daily' THEN $2::bigint \
          WHEN 'weekly' THEN $3::bigint WHEN 'monthly' THEN $4::bigint ELSE 0 END), 0) \
         FROM boards b WHERE app_id = $1 ORDER BY id"
    );
    let (_, rows) = join_pipelined(
        app_exists(client, app),
        query(
            client,
            "listing boards",
            &sql,
            &[&app_sql(app), &starts[0], &starts[1], &starts[2]],
        ),
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(BoardSummary {
                board: board_from_row(row)?,
                entries: count(row.try_get(9).context("listing boards")?, "entry count")?,
            })
        })
        .collect()
}

/// The board of this name in the app.
pub(crate) async fn find<C: GenericClient>(
    client: &C,
    app: AppId,
    name: &BoardName,
) -> Result<Option<Board>, Failure> {
    let (_, row) = join_pipelined(
        app_exists(client, app),
        query_opt(
            client,
            "finding a board",
            &format!("SELECT {BOARD_COLUMNS} FROM boards WHERE app_id = $1 AND name_key = $2"),
            &[&app_sql(app), &name.key()],
        ),
    )
    .await?;
    row.as_ref().map(board_from_row).transpose()
}

/// Find or create. The app's row is locked for the transaction, so that
/// two creations in one app count the boards one after the other.
pub(crate) async fn create(
    client: &mut ClientWrapper,
    app: AppId,
    def: &LeaderboardDef,
) -> Result<(Board, bool), Failure> {
    let tx = client
        .transaction()
        .await
        .context("beginning a board creation")?;
    let app_row = query_opt(
        &tx,
        "locking the app for a board creation",
        "SELECT 1 FROM apps WHERE app_id = $1 FOR UPDATE",
        &[&app_sql(app)],
    )
    .await?;
    if app_row.is_none() {
        return Err(Failure::Store(StoreError::UnknownApp(app)));
    }
    if let Some(board) = find(&tx, app, &def.name).await? {
        tx.commit().await.context("ending a board lookup")?;
        return Ok((board, false));
    }
    let row = query_opt(
        &tx,
        "counting boards",
        "SELECT count(*) FROM boards WHERE app_id = $1",
        &[&app_sql(app)],
    )
    .await?;
    let boards: i64 = match row {
        Some(row) => row.try_get(0).context("counting boards")?,
        None => 0,
    };
    if count(boards, "board count")? >= MAX_LEADERBOARDS_PER_APP as u64 {
        return Err(Failure::Store(StoreError::Conflict(format!(
            "app {app} has {MAX_LEADERBOARDS_PER_APP} leaderboards, the most it may have"
        ))));
    }
    let rows = query(
        &tx,
        "creating a board",
        &format!(
            "INSERT INTO boards (app_id, name, name_key, sort, display, display_name, writes, \
             period, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {BOARD_COLUMNS}"
        ),
        &[
            &app_sql(app),
            &def.name.as_str(),
            &def.name.key(),
            &def.sort.as_str(),
            &def.display.as_str(),
            &def.display_name,
            &def.writes.as_str(),
            &def.period.as_str(),
            &(laurel_store::unix_now_ms() / 1000),
        ],
    )
    .await?;
    let board = match rows.first() {
        Some(row) => board_from_row(row)?,
        None => return Err(corrupt("a board insert returned no row")),
    };
    tx.commit().await.context("committing a board creation")?;
    Ok((board, true))
}

// ---- uploads ----

pub(crate) const SELECT_BOARD: Prepared = Prepared {
    name: "laurel_lb_select_board",
    params: "int8, int8",
    sql: "SELECT sort, epoch, reset_seq FROM boards WHERE id = $1 AND app_id = $2",
};
/// Parameters: board, app, period, user. Locks the user's entry, inserting
/// a placeholder (no score, sequence 0) where there is none; answers it.
pub(crate) const LOCK_ENTRY: Prepared = Prepared {
    name: "laurel_lb_lock_entry",
    params: "int8, int8, int8, int8",
    sql: "INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, seq) \
          SELECT $1, $3, $4, NULL, '{}', 0, 0 \
          WHERE EXISTS (SELECT 1 FROM boards WHERE id = $1 AND app_id = $2) \
          ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET seq = board_entries.seq \
          RETURNING score, array_to_json(details)::text, set_at, seq",
};
pub(crate) const FIND_UPLOAD_KEY: Prepared = Prepared {
    name: "laurel_lb_find_key",
    params: "int8, int8, text",
    sql: "SELECT fingerprint, changed FROM board_idempotency \
          WHERE app_id = $1 AND steam_id = $2 AND idem_key = $3",
};
/// Parameters: board, period, user, score, details, set_at, the sequence
/// number of the live entry the user had (0: none). Draws the board's next
/// sequence number (its row lock: the count's row is moved under it) and
/// writes the entry with it; the entry is new, and counted, when the user
/// had none or a reset that committed meanwhile removed it (`reset_seq` as
/// the locked row has it).
pub(crate) const WRITE_ENTRY: Prepared = Prepared {
    name: "laurel_lb_write_entry",
    params: "int8, int8, int8, int4, int4[], int8, int8",
    sql: "WITH s AS (UPDATE boards SET last_seq = last_seq + 1 WHERE id = $1 \
                     RETURNING last_seq, epoch, reset_seq), \
          c AS (INSERT INTO board_counts (board_id, period_start, entries) \
                SELECT $1, $2, 1 FROM s WHERE $7 <= s.reset_seq \
                ON CONFLICT (board_id, period_start) \
                DO UPDATE SET entries = board_counts.entries + 1) \
          UPDATE board_entries e SET score = $4, details = $5, set_at = $6, seq = s.last_seq \
          FROM s WHERE e.board_id = $1 AND e.period_start = $2 AND e.steam_id = $3 \
          RETURNING s.last_seq, s.epoch, s.reset_seq",
};
/// A key used at once on two boards by one user: the second keeps the first's record.
pub(crate) const INSERT_UPLOAD_KEY: Prepared = Prepared {
    name: "laurel_lb_insert_key",
    params: "int8, int8, text, text, bool, int8",
    sql: "INSERT INTO board_idempotency (app_id, steam_id, idem_key, fingerprint, changed, created) \
          VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
};

/// Statements every connection prepares (see `writes::PREPARED`).
pub(crate) const PREPARED: [&Prepared; 5] = [
    &SELECT_BOARD,
    &LOCK_ENTRY,
    &FIND_UPLOAD_KEY,
    &WRITE_ENTRY,
    &INSERT_UPLOAD_KEY,
];

/// The entry of a locked row (`score, details as JSON, set_at, seq`);
/// `None` for a tombstone or a placeholder.
fn entry_from_cells(row: &impl Cells, what: &'static str) -> Result<Option<Entry>, Failure> {
    let Some(score) = row.int8(0, what)? else {
        return Ok(None);
    };
    let score = i32::try_from(score).map_err(|_| corrupt(format_args!("score {score}")))?;
    let details = required(row.text(1, what)?, "entry details")?;
    let details: Vec<i32> = serde_json::from_str(&details)
        .map_err(|e| corrupt(format_args!("entry details {details:?}: {e}")))?;
    Ok(Some(Entry {
        score,
        details,
        set_at: required(row.int8(2, what)?, "entry time")?,
        seq: seq_from_sql(required(row.int8(3, what)?, "entry sequence number")?)?,
    }))
}

/// Applies an upload; the transaction is committed or rolled back when it returns.
pub(crate) async fn upload(
    client: &mut deadpool_postgres::Client,
    request: &UploadRequest,
) -> Result<UploadReply, Failure> {
    let client: &deadpool_postgres::Client = client;
    let outcome = upload_unfinished(client, request).await;
    if let Ok((_, true)) = outcome {
        return outcome.map(|(reply, _)| reply);
    }
    client
        .batch_execute("ROLLBACK")
        .await
        .context("ending an upload")?;
    outcome.map(|(reply, _)| reply)
}

/// The upload up to its COMMIT; `true` when it committed.
async fn upload_unfinished(
    client: &deadpool_postgres::Client,
    request: &UploadRequest,
) -> Result<(UploadReply, bool), Failure> {
    let raw: &tokio_postgres::Client = client;
    let what = "reading an entry for an upload";
    let UploadRequest {
        app,
        board,
        period,
        user,
        method,
        score,
        details,
        now,
        idempotency,
    } = request;
    let (app, board) = (*app, *board);
    if details.len() > MAX_LEADERBOARD_DETAILS {
        return Err(Failure::Store(StoreError::Conflict(
            leaderboard::TooManyDetails {
                count: details.len(),
            }
            .to_string(),
        )));
    }
    let (app_id, steam_id) = (app_sql(app), user_sql(*user));
    let mut reads = Script::new(what);
    reads.plain("BEGIN");
    // The entry first: a reset that committed before the lock is in the board's row.
    let entry_at = reads.execute(&LOCK_ENTRY, &[&board, &app_id, period, &steam_id])?;
    let board_at = reads.execute(&SELECT_BOARD, &[&board, &app_id])?;
    let key_at = match idempotency {
        Some((key, _)) => {
            Some(reads.execute(&FIND_UPLOAD_KEY, &[&app_id, &steam_id, &key.as_str()])?)
        }
        None => None,
    };
    let answers = reads.run(raw).await?;
    let Some(board_row) = answers[board_at].rows.first() else {
        return Err(no_board(client, app, board).await);
    };
    let sort = required(board_row.text(0, what)?, "board sort")?;
    let sort = word(&sort, SortMethod::parse, "board sort")?;
    let epoch = required(board_row.int8(1, what)?, "board epoch")?;
    let reset_seq = seq_from_sql(required(board_row.int8(2, what)?, "board reset")?)?;
    let Some(entry_row) = answers[entry_at].rows.first() else {
        return Err(no_board(client, app, board).await);
    };
    let previous = entry_from_cells(entry_row, what)?.filter(|e| e.seq > reset_seq);
    if let (Some(at), Some((key, fingerprint))) = (key_at, idempotency)
        && let Some(first) = answers[at].rows.first()
    {
        let stored = required(first.text(0, what)?, "key fingerprint")?;
        if stored != fingerprint.as_str() {
            return Err(Failure::Store(StoreError::IdempotencyConflict {
                key: key.to_string(),
            }));
        }
        let changed = required(first.boolean(1, what)?, "key answer")?;
        let entry = previous.unwrap_or_else(|| Entry {
            score: *score,
            details: details.clone(),
            set_at: *now,
            seq: 0,
        });
        let reply = UploadReply {
            previous: None,
            entry,
            changed,
            replayed: true,
            epoch,
        };
        return Ok((reply, false));
    }
    let uploaded = leaderboard::upload(sort, *method, previous.as_ref(), *score, details, *now, 0)
        .map_err(|e| Failure::Store(StoreError::Conflict(e.to_string())))?;
    let mut writes = Script::new("writing an upload");
    let written_at = if uploaded.changed {
        let entry = &uploaded.entry;
        Some(writes.execute(
            &WRITE_ENTRY,
            &[
                &board,
                period,
                &steam_id,
                &entry.score,
                &Array(&entry.details),
                &entry.set_at,
                &previous.as_ref().map_or(Ok(0), |p| seq_sql(p.seq))?,
            ],
        )?)
    } else {
        None
    };
    if let Some((key, fingerprint)) = idempotency {
        writes.execute(
            &INSERT_UPLOAD_KEY,
            &[
                &app_id,
                &steam_id,
                &key.as_str(),
                &fingerprint.as_str(),
                &uploaded.changed,
                now,
            ],
        )?;
    }
    if written_at.is_none() && idempotency.is_none() {
        // Nothing to write: the placeholder's lock is given up by the rollback.
        let reply = UploadReply {
            previous,
            entry: uploaded.entry,
            changed: false,
            replayed: false,
            epoch,
        };
        return Ok((reply, false));
    }
    writes.plain("COMMIT");
    let answers = writes.run(raw).await?;
    let mut entry = uploaded.entry;
    let mut epoch = epoch;
    let mut previous = previous;
    if let Some(at) = written_at {
        let what = "writing an entry";
        let Some(row) = answers[at].rows.first() else {
            return Err(corrupt("an entry write drew no sequence number"));
        };
        entry.seq = seq_from_sql(required(row.int8(0, what)?, "sequence number")?)?;
        epoch = required(row.int8(1, what)?, "board epoch")?;
        // A reset committed between the reads and the write: the entry the
        // user had is gone, and this upload is the first after it.
        let reset_seq = seq_from_sql(required(row.int8(2, what)?, "board reset")?)?;
        previous = previous.filter(|p| p.seq > reset_seq);
    }
    let reply = UploadReply {
        previous,
        entry,
        changed: uploaded.changed,
        replayed: false,
        epoch,
    };
    Ok((reply, true))
}

// ---- the change log ----

/// The board's changes in `period` after `after`, and its epoch, from one
/// statement's snapshot.
pub(crate) async fn changes<C: GenericClient>(
    client: &C,
    app: AppId,
    board: BoardId,
    period: PeriodStart,
    after: u64,
) -> Result<BoardChanges, Failure> {
    let what = "reading a board's changes";
    let rows = query(
        client,
        what,
        "SELECT b.epoch, e.steam_id, e.score, e.details, e.set_at, e.seq FROM boards b \
         LEFT JOIN board_entries e ON e.board_id = b.id AND e.period_start = $3 AND e.seq > $4 \
              AND e.seq > b.reset_seq \
         WHERE b.id = $1 AND b.app_id = $2 ORDER BY e.seq",
        &[&board, &app_sql(app), &period, &seq_sql(after)?],
    )
    .await?;
    let Some(first) = rows.first() else {
        return Err(no_board(client, app, board).await);
    };
    let epoch: i64 = first.try_get(0).context(what)?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(user) = row.try_get::<_, Option<i64>>(1).context(what)? else {
            continue;
        };
        let seq = seq_from_sql(required(row.try_get(5).context(what)?, "sequence number")?)?;
        let score: Option<i32> = row.try_get(2).context(what)?;
        let entry = match score {
            None => None,
            Some(score) => Some(Entry {
                score,
                details: required(row.try_get(3).context(what)?, "entry details")?,
                set_at: required(row.try_get(4).context(what)?, "entry time")?,
                seq,
            }),
        };
        changes.push(BoardChange {
            user: steam_id_from_sql(user)?,
            entry,
            seq,
        });
    }
    Ok(BoardChanges { epoch, changes })
}

// ---- moderation ----

/// The draft about the board's app (and the user of a deleted entry), its
/// detail the board's id and name with `extra`, as every backend records it.
fn audit_draft(
    draft: &AuditDraft,
    app: AppId,
    user: Option<SteamId>,
    (board, name): (BoardId, &str),
    extra: serde_json::Value,
) -> AuditDraft {
    let mut detail = serde_json::json!({ "board": board, "name": name });
    if let (Some(map), serde_json::Value::Object(more)) = (detail.as_object_mut(), extra) {
        map.extend(more);
    }
    draft.clone().about(app, user).with_detail(detail)
}

/// Deletes the board's entries, the live ones counted. Resets and board
/// deletions take the entries' rows before the board's, in the order of an
/// upload, which holds its entry while it waits for the board's row.
async fn remove_entries<C: GenericClient>(client: &C, board: BoardId) -> Result<i64, Failure> {
    let what = "deleting a board's entries";
    let row = query_opt(
        client,
        what,
        "WITH d AS (DELETE FROM board_entries WHERE board_id = $1 RETURNING score) \
         SELECT count(score) FROM d",
        &[&board],
    )
    .await?;
    match row {
        Some(row) => row.try_get(0).context(what),
        None => Ok(0),
    }
}

/// The board's name, if the app has it.
async fn board_name<C: GenericClient>(
    client: &C,
    app: AppId,
    board: BoardId,
) -> Result<Option<String>, Failure> {
    let row = query_opt(
        client,
        "looking for a board",
        "SELECT name FROM boards WHERE id = $1 AND app_id = $2",
        &[&board, &app_sql(app)],
    )
    .await?;
    row.map(|row| row.try_get(0).context("looking for a board"))
        .transpose()
}

pub(crate) async fn delete_board(
    client: &mut ClientWrapper,
    app: AppId,
    board: BoardId,
    draft: &AuditDraft,
) -> Result<bool, Failure> {
    let tx = client
        .transaction()
        .await
        .context("beginning a board deletion")?;
    if board_name(&tx, app, board).await?.is_none() {
        tx.rollback().await.context("ending a board deletion")?;
        return Ok(false);
    }
    let removed = remove_entries(&tx, board).await?;
    // Entries written meanwhile go with the board (the cascade).
    let row = query_opt(
        &tx,
        "deleting a board",
        "WITH d AS (DELETE FROM boards WHERE id = $1 AND app_id = $2 RETURNING name) \
         SELECT d.name, (SELECT count(*) FROM board_entries \
                         WHERE board_id = $1 AND score IS NOT NULL) FROM d",
        &[&board, &app_sql(app)],
    )
    .await?;
    let Some(row) = row else {
        tx.rollback().await.context("ending a board deletion")?;
        return Ok(false);
    };
    let name: String = row.try_get(0).context("deleting a board")?;
    let late: i64 = row.try_get(1).context("deleting a board")?;
    let extra = serde_json::json!({ "entries": removed + late });
    audit::insert(&tx, &audit_draft(draft, app, None, (board, &name), extra)).await?;
    tx.commit().await.context("committing a board deletion")?;
    Ok(true)
}

/// Removes the board's entries, then moves its epoch with its row locked and
/// marks its sequence there (`reset_seq`): an upload that committed between
/// the two (it held the board's row, so its number is at most the mark)
/// counts as removed; from then on an upload's write waits for the reset's
/// commit and lands in the new epoch above the mark. Taking no entry after
/// the board's row, a reset never waits in a cycle with uploads.
pub(crate) async fn reset_board(
    client: &mut ClientWrapper,
    app: AppId,
    board: BoardId,
    draft: &AuditDraft,
) -> Result<u64, Failure> {
    let tx = client
        .transaction()
        .await
        .context("beginning a board reset")?;
    if board_name(&tx, app, board).await?.is_none() {
        return Err(no_board(&tx, app, board).await);
    }
    let first = remove_entries(&tx, board).await?;
    let row = query_opt(
        &tx,
        "resetting a board",
        "UPDATE boards SET epoch = epoch + 1, reset_seq = last_seq \
         WHERE id = $1 AND app_id = $2 RETURNING name",
        &[&board, &app_sql(app)],
    )
    .await?;
    let Some(row) = row else {
        return Err(no_board(&tx, app, board).await);
    };
    let name: String = row.try_get(0).context("resetting a board")?;
    // What committed in between stays in place, below the mark, and is
    // written over by the user's next upload.
    let row = query_opt(
        &tx,
        "counting a reset's late entries",
        "SELECT count(*) FROM board_entries WHERE board_id = $1 AND score IS NOT NULL",
        &[&board],
    )
    .await?;
    let late: i64 = match row {
        Some(row) => row.try_get(0).context("counting a reset's late entries")?,
        None => 0,
    };
    let removed = count(first + late, "removed entries")?;
    execute(
        &tx,
        "resetting a board's counts",
        "DELETE FROM board_counts WHERE board_id = $1",
        &[&board],
    )
    .await?;
    let extra = serde_json::json!({ "removed": removed });
    audit::insert(&tx, &audit_draft(draft, app, None, (board, &name), extra)).await?;
    tx.commit().await.context("committing a board reset")?;
    Ok(removed)
}

pub(crate) async fn delete_entry(
    client: &mut ClientWrapper,
    (app, board): (AppId, BoardId),
    period: PeriodStart,
    user: SteamId,
    draft: &AuditDraft,
) -> Result<bool, Failure> {
    let what = "deleting an entry";
    let tx = client
        .transaction()
        .await
        .context("beginning an entry deletion")?;
    // The entry first (an upload's order), then the board as it is after any
    // reset that committed before the lock.
    let entry_row = query_opt(
        &tx,
        what,
        "SELECT score, seq FROM board_entries \
         WHERE board_id = $1 AND period_start = $2 AND steam_id = $3 FOR UPDATE",
        &[&board, &period, &user_sql(user)],
    )
    .await?;
    let board_row = query_opt(
        &tx,
        what,
        "SELECT name, reset_seq FROM boards WHERE id = $1 AND app_id = $2",
        &[&board, &app_sql(app)],
    )
    .await?;
    let Some(board_row) = board_row else {
        return Err(no_board(&tx, app, board).await);
    };
    let reset_seq: i64 = board_row.try_get(1).context(what)?;
    let score: Option<i32> = match entry_row {
        Some(row) if row.try_get::<_, i64>(1).context(what)? > reset_seq => {
            row.try_get(0).context(what)?
        }
        _ => None,
    };
    let Some(score) = score else {
        tx.rollback().await.context("ending an entry deletion")?;
        return Ok(false);
    };
    let name: String = board_row.try_get(0).context(what)?;
    let changed = execute(
        &tx,
        what,
        "WITH s AS (UPDATE boards SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq), \
         c AS (UPDATE board_counts SET entries = entries - 1 \
               WHERE board_id = $1 AND period_start = $2 AND EXISTS (SELECT 1 FROM s)) \
         UPDATE board_entries e SET score = NULL, details = '{}', seq = s.last_seq FROM s \
         WHERE e.board_id = $1 AND e.period_start = $2 AND e.steam_id = $3",
        &[&board, &period, &user_sql(user)],
    )
    .await?;
    if changed != 1 {
        return Err(corrupt(format_args!(
            "{changed} rows for one locked entry of board {board}"
        )));
    }
    let extra = serde_json::json!({ "period": period, "score": score });
    let draft = audit_draft(draft, app, Some(user), (board, &name), extra);
    audit::insert(&tx, &draft).await?;
    tx.commit().await.context("committing an entry deletion")?;
    Ok(true)
}

// ---- friends ----

pub(crate) async fn set_friends(
    client: &mut ClientWrapper,
    app: AppId,
    user: SteamId,
    friends: &[SteamId],
) -> Result<(), Failure> {
    let mut ids: Vec<i64> = friends.iter().map(|f| user_sql(*f)).collect();
    ids.sort_unstable();
    ids.dedup();
    let tx = client
        .transaction()
        .await
        .context("beginning a friends list")?;
    app_exists(&tx, app).await?;
    let (app_id, steam_id) = (app_sql(app), user_sql(user));
    execute(
        &tx,
        "replacing a friends list",
        "DELETE FROM friends WHERE app_id = $1 AND steam_id = $2",
        &[&app_id, &steam_id],
    )
    .await?;
    if !ids.is_empty() {
        execute(
            &tx,
            "writing a friends list",
            "INSERT INTO friends (app_id, steam_id, friend_id) \
             SELECT $1, $2, f FROM unnest($3::bigint[]) AS f ON CONFLICT DO NOTHING",
            &[&app_id, &steam_id, &ids],
        )
        .await?;
    }
    tx.commit().await.context("committing a friends list")
}

fn sorted_ids(stored: Vec<i64>) -> Result<Vec<SteamId>, Failure> {
    let mut ids: Vec<u64> = stored.into_iter().map(|id| id as u64).collect();
    ids.sort_unstable();
    ids.into_iter()
        .map(|id| steam_id_from_sql(id as i64))
        .collect()
}

pub(crate) async fn friends<C: GenericClient>(
    client: &C,
    app: AppId,
    user: SteamId,
) -> Result<Vec<SteamId>, Failure> {
    let (_, rows) = join_pipelined(
        app_exists(client, app),
        query(
            client,
            "reading a friends list",
            "SELECT friend_id FROM friends WHERE app_id = $1 AND steam_id = $2",
            &[&app_sql(app), &user_sql(user)],
        ),
    )
    .await?;
    let stored = rows
        .iter()
        .map(|row| row.try_get(0).context("reading a friends list"))
        .collect::<Result<Vec<i64>, Failure>>()?;
    sorted_ids(stored)
}

/// Every non-empty friends list of the app, by user (u64 order).
pub(crate) async fn friend_lists<C: GenericClient>(
    client: &C,
    app: AppId,
) -> Result<Vec<(SteamId, Vec<SteamId>)>, Failure> {
    let what = "reading friends lists";
    let (_, rows) = join_pipelined(
        app_exists(client, app),
        query(
            client,
            what,
            "SELECT steam_id, array_agg(friend_id) FROM friends WHERE app_id = $1 GROUP BY steam_id",
            &[&app_sql(app)],
        ),
    )
    .await?;
    let mut lists = Vec::with_capacity(rows.len());
    for row in &rows {
        let user = steam_id_from_sql(row.try_get(0).context(what)?)?;
        lists.push((user, sorted_ids(row.try_get(1).context(what)?)?));
    }
    lists.sort_unstable_by_key(|(user, _)| user.get());
    Ok(lists)
}

// ---- migrate ----

pub(crate) async fn stored_entries<C: GenericClient>(
    client: &C,
    app: AppId,
    board: BoardId,
) -> Result<Vec<StoredEntry>, Failure> {
    let what = "reading a board's entries";
    let (board_row, rows) = join_pipelined(
        query_opt(
            client,
            what,
            "SELECT 1 FROM boards WHERE id = $1 AND app_id = $2",
            &[&board, &app_sql(app)],
        ),
        query(
            client,
            what,
            "SELECT e.period_start, e.steam_id, e.score, e.details, e.set_at, e.seq \
             FROM board_entries e JOIN boards b ON b.id = e.board_id \
             WHERE e.board_id = $1 AND e.score IS NOT NULL AND e.seq > b.reset_seq \
             ORDER BY e.period_start, e.seq",
            &[&board],
        ),
    )
    .await?;
    if board_row.is_none() {
        return Err(no_board(client, app, board).await);
    }
    rows.iter()
        .map(|row| {
            Ok(StoredEntry {
                period: row.try_get(0).context(what)?,
                user: steam_id_from_sql(row.try_get(1).context(what)?)?,
                entry: Entry {
                    score: row.try_get(2).context(what)?,
                    details: row.try_get(3).context(what)?,
                    set_at: row.try_get(4).context(what)?,
                    seq: seq_from_sql(row.try_get(5).context(what)?)?,
                },
            })
        })
        .collect()
}

/// Most entries one statement of an import writes.
const IMPORT_CHUNK: usize = 5_000;

pub(crate) async fn import_entries(
    client: &mut ClientWrapper,
    app: AppId,
    board: BoardId,
    entries: &[StoredEntry],
) -> Result<(), Failure> {
    let what = "importing entries";
    let invalid = |text: String| {
        Err(Failure::Store(StoreError::InvalidImport(format!(
            "board {board} of app {app}: {text}"
        ))))
    };
    for e in entries {
        if e.entry.details.len() > MAX_LEADERBOARD_DETAILS {
            return invalid(format!(
                "user {} has {} details",
                e.user,
                e.entry.details.len()
            ));
        }
        if e.entry.seq == 0 {
            return invalid(format!("user {} has sequence number 0", e.user));
        }
    }
    let largest = entries.iter().map(|e| e.entry.seq).max().unwrap_or(0);
    let mut periods: Vec<i64> = entries.iter().map(|e| e.period).collect();
    periods.sort_unstable();
    periods.dedup();
    let tx = client
        .transaction()
        .await
        .context("beginning an entry import")?;
    let row = query_opt(
        &tx,
        what,
        "UPDATE boards SET last_seq = GREATEST(last_seq, $3) WHERE id = $1 AND app_id = $2 \
         RETURNING reset_seq",
        &[&board, &app_sql(app), &seq_sql(largest)?],
    )
    .await?;
    let Some(row) = row else {
        return Err(no_board(&tx, app, board).await);
    };
    let reset_seq: i64 = row.try_get(0).context(what)?;
    if reset_seq > 0 {
        // Rows from before the last reset are garbage: gone, the mark can
        // go back to 0, and every imported number counts.
        execute(
            &tx,
            what,
            "DELETE FROM board_entries WHERE board_id = $1 AND seq <= $2",
            &[&board, &reset_seq],
        )
        .await?;
        execute(
            &tx,
            what,
            "UPDATE boards SET reset_seq = 0 WHERE id = $1",
            &[&board],
        )
        .await?;
    }
    let live = query_opt(
        &tx,
        what,
        "SELECT period_start FROM board_entries WHERE board_id = $1 \
         AND period_start = ANY($2::bigint[]) AND score IS NOT NULL LIMIT 1",
        &[&board, &periods],
    )
    .await?;
    if let Some(row) = live {
        let period: i64 = row.try_get(0).context(what)?;
        return Err(Failure::Store(StoreError::AlreadyExists(format!(
            "an entry of board {board} of app {app} in period {period}"
        ))));
    }
    execute(
        &tx,
        what,
        "DELETE FROM board_entries WHERE board_id = $1 AND period_start = ANY($2::bigint[])",
        &[&board, &periods],
    )
    .await?;
    for chunk in entries.chunks(IMPORT_CHUNK) {
        let periods: Vec<i64> = chunk.iter().map(|e| e.period).collect();
        let users: Vec<i64> = chunk.iter().map(|e| user_sql(e.user)).collect();
        let scores: Vec<i32> = chunk.iter().map(|e| e.entry.score).collect();
        let details: Vec<String> = chunk
            .iter()
            .map(|e| serde_json::to_string(&e.entry.details).unwrap_or_else(|_| "[]".into()))
            .collect();
        let set_ats: Vec<i64> = chunk.iter().map(|e| e.entry.set_at).collect();
        let seqs = chunk
            .iter()
            .map(|e| seq_sql(e.entry.seq))
            .collect::<Result<Vec<i64>, Failure>>()?;
        execute(
            &tx,
            what,
            "INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, seq) \
             SELECT $1, t.period, t.steam_id, t.score, \
                    ARRAY(SELECT d.x::int FROM json_array_elements_text(t.details::json) \
                           WITH ORDINALITY AS d(x, n) ORDER BY d.n), t.set_at, t.seq \
             FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::bigint[]) \
                  AS t(period, steam_id, score, details, set_at, seq)",
            &[&board, &periods, &users, &scores, &details, &set_ats, &seqs],
        )
        .await?;
    }
    execute(
        &tx,
        "counting imported entries",
        "INSERT INTO board_counts (board_id, period_start, entries) \
         SELECT board_id, period_start, count(*) FROM board_entries \
         WHERE board_id = $1 AND period_start = ANY($2::bigint[]) AND score IS NOT NULL \
         GROUP BY board_id, period_start \
         ON CONFLICT (board_id, period_start) DO UPDATE SET entries = excluded.entries",
        &[&board, &periods],
    )
    .await?;
    tx.commit().await.context("committing an entry import")
}
