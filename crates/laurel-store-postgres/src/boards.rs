//! Leaderboards: boards, one entry per user per board and period, the
//! board's change log, uploads, moderation, friends lists
//! (`laurel_store::boards` for the invariants).
//!
//! An upload locks only the user's entry row (and, for a new entry, one
//! of the board's 64 count shards): uploads of different users on one board
//! never wait for each other. Uploads are applied in groups
//! (`crate::upload_groups` makes them: distinct entries, distinct keys),
//! one transaction per group in two round trips, each one [`Script`]:
//!
//! ```text
//! BEGIN
//!   for each upload, in (board, period, user) order:
//!     INSERT the user's entry ON CONFLICT DO UPDATE … RETURNING -- the entry's row lock (a placeholder
//!                                                               -- row for a user without one: never committed)
//!   for each upload:
//!     the board (sort, epoch)                                   -- read after the lock
//!     the idempotency key                                       -- read after the lock
//! (round trip)
//!   laurel_core::leaderboard::upload, for each                  -- in memory; a refused upload writes nothing
//!   for each upload that changes its entry:
//!     the entry with nextval('board_seq'), the board's epoch as -- no board-wide lock: a hot board's
//!       read, pg_current_xact_id(); a new entry counted in the  -- uploads commit side by side
//!       user's shard of (board, period, epoch)
//!   each key's first answer
//!   DELETE the placeholders of uploads that wrote nothing
//! COMMIT                                                        -- one WAL flush for the group
//! (round trip)
//! ```
//!
//! A group that writes nothing (uploads that change nothing, without keys)
//! rolls back instead. Locks are taken in one order on every node, so two
//! groups never wait for each other in a cycle.
//!
//! The change log. Sequence numbers come from one sequence for all boards:
//! two users' changes may commit out of sequence order, so a catch-up
//! cannot read "after the last sequence number". One user's changes are
//! numbered in commit order (the number is drawn with the entry locked),
//! which is all the rank index needs (`laurel_store::ranks`). A catch-up
//! reads instead, in one statement and so one snapshot, the snapshot's
//! `xmin` (`pg_snapshot_xmin(pg_current_snapshot())`) and the board's rows
//! in the period whose writer's transaction id (`xid`) is at least the
//! cursor, and answers that `xmin` as the next cursor. Why nothing is
//! missed: every transaction id below a snapshot's `xmin` had finished when
//! the snapshot was taken, so a transaction this snapshot does not see has
//! an id at least its `xmin`, and the next catch-up, reading `xid >= xmin`,
//! sees its row once it has committed (or a newer version of the row, which
//! supersedes it). A row the snapshot does see whose id is below the cursor
//! was seen by the previous catch-up (its writer had finished before that
//! snapshot too). `xid8` is 64 bits and does not wrap. The cost: rows
//! written since the oldest transaction running at the last catch-up are
//! read again (the index skips them by sequence number); a transaction left
//! open for long anywhere on the server holds `xmin` back and makes every
//! catch-up reread what was written since it began.
//!
//! Resets and deletions. A row counts only in its board's current epoch
//! (`board_entries.epoch`, as the upload read it after locking the entry).
//! A reset moves the board's epoch with its row locked, then deletes the
//! board's entries (waiting for any upload holding one); an upload that
//! read the old epoch before the reset committed writes its row and count
//! in the old epoch, so whatever commits before the reset is removed (or
//! left behind as a dead row in the old epoch, written over by the user's
//! next upload), and an upload that reads after it lands in the new epoch.
//! Indexes built before a reset see the epoch move and load again. Board
//! deletions delete the entries, then the board (whose cascade takes what
//! was written in between). Should two transactions still wait for each
//! other, PostgreSQL reports a deadlock and the loser is rerun.

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

/// Rows per board, period and epoch in `board_count_shards`: new entries
/// of users in different shards never wait for each other's commit on the
/// count. More than the stores' 16 (`figures::COUNTER_SHARDS`): every
/// client of a hot board may be adding entries at once.
const BOARD_COUNT_SHARDS: u64 = 64;

/// The count shard of a user: their Steam id (as stored, bit-cast) modulo
/// [`BOARD_COUNT_SHARDS`].
fn count_shard(steam_id: i64) -> i16 {
    // Below 64, so the narrowing is exact.
    (steam_id as u64 % BOARD_COUNT_SHARDS) as i16
}

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
         coalesce((SELECT sum(c.entries)::bigint FROM board_count_shards c \
          WHERE c.board_id = b.id AND c.epoch = b.epoch \
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
    sql: "SELECT sort, epoch FROM boards WHERE id = $1 AND app_id = $2",
};
/// Parameters: board, app, period, user. Locks the user's entry, inserting
/// a placeholder (no score, sequence 0, epoch -1) where there is none;
/// answers it with the epoch it was written in.
pub(crate) const LOCK_ENTRY: Prepared = Prepared {
    name: "laurel_lb_lock_entry",
    params: "int8, int8, int8, int8",
    sql: "INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, seq, epoch) \
          SELECT $1, $3, $4, NULL, '{}', 0, 0, -1 \
          WHERE EXISTS (SELECT 1 FROM boards WHERE id = $1 AND app_id = $2) \
          ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET seq = board_entries.seq \
          RETURNING score, array_to_json(details)::text, set_at, seq, epoch",
};
pub(crate) const FIND_UPLOAD_KEY: Prepared = Prepared {
    name: "laurel_lb_find_key",
    params: "int8, int8, text",
    sql: "SELECT fingerprint, changed FROM board_idempotency \
          WHERE app_id = $1 AND steam_id = $2 AND idem_key = $3",
};
/// Parameters: board, period, user, score, details, set_at, the board's
/// epoch as read after the entry's lock, whether the entry is new in that
/// epoch (then counted), the user's count shard. Draws the next sequence
/// number and records the transaction; takes no board-wide lock. The entry
/// (locked, so there) is written through `ON CONFLICT` on the primary key,
/// never found with a plan PostgreSQL may pick for `WHERE board_id = … AND
/// period_start = … AND steam_id = …`: a generic plan can take the catch-up
/// index `(board_id, period_start, xid)` and filter the whole board for the
/// user (measured: three times slower on a hot board of 1,600 entries, and
/// worse as it grows).
pub(crate) const WRITE_ENTRY: Prepared = Prepared {
    name: "laurel_lb_write_entry",
    params: "int8, int8, int8, int4, int4[], int8, int8, bool, int2",
    sql: "WITH c AS (INSERT INTO board_count_shards (board_id, period_start, epoch, shard, entries) \
                SELECT $1, $2, $7, $9, 1 WHERE $8 \
                ON CONFLICT (board_id, period_start, epoch, shard) \
                DO UPDATE SET entries = board_count_shards.entries + 1) \
          INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, \
                 seq, epoch) VALUES ($1, $2, $3, $4, $5, $6, nextval('board_seq'), $7) \
          ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET score = excluded.score, \
                 details = excluded.details, set_at = excluded.set_at, seq = excluded.seq, \
                 epoch = excluded.epoch, xid = pg_current_xact_id() \
          RETURNING seq",
};
/// A key used at once on two boards by one user: the second keeps the first's record.
pub(crate) const INSERT_UPLOAD_KEY: Prepared = Prepared {
    name: "laurel_lb_insert_key",
    params: "int8, int8, text, text, bool, int8",
    sql: "INSERT INTO board_idempotency (app_id, steam_id, idem_key, fingerprint, changed, created) \
          VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
};

/// Parameters: board, app, period, cursor. The board's epoch, the
/// snapshot's `xmin` (the next cursor) and the rows written in the board's
/// epoch by transactions from the cursor on (none: one row of NULLs), in
/// one snapshot.
///
/// The rows must come from the index `(board_id, period_start, xid)`: read
/// through the primary key, a catch-up filters the whole board (measured
/// on a hot board of 32,000 entries: 7–15 ms against 0.2 ms, and the
/// uploads' rate halved). PostgreSQL picks the primary key whenever its
/// statistics are behind the table (a board filled since the last
/// `ANALYZE`: both paths then look like one row). So the rows are asked
/// for in `xid` order, which only that index gives without a sort, and the
/// catch-up runs with `enable_sort` off (`SET LOCAL`, in its script).
///
/// Prepared, as the uploads are: parsing and planning the query for every
/// catch-up cost more than its read. PostgreSQL still plans it per cursor
/// (a custom plan), as a plan for any cursor would expect a third of the
/// board.
pub(crate) const BOARD_CHANGES: Prepared = Prepared {
    name: "laurel_lb_changes",
    params: "int8, int8, int8, xid8",
    sql: "SELECT b.epoch, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, \
                 e.steam_id, e.score, array_to_json(e.details)::text, e.set_at, e.seq \
          FROM boards b LEFT JOIN LATERAL (SELECT steam_id, score, details, set_at, seq \
               FROM board_entries WHERE board_id = b.id AND period_start = $3 AND xid >= $4 \
               AND epoch = b.epoch AND seq > 0 ORDER BY xid) e ON true \
          WHERE b.id = $1 AND b.app_id = $2",
};

/// Parameters: board, period, user. Removes the placeholder row a group's
/// upload inserted to lock an entry and then wrote nothing to (a replay of
/// an upload whose entry is gone, a refused upload), so that only
/// placeholders of uncommitted transactions ever exist.
pub(crate) const DROP_PLACEHOLDER: Prepared = Prepared {
    name: "laurel_lb_drop_placeholder",
    params: "int8, int8, int8",
    sql: "DELETE FROM board_entries WHERE board_id = $1 AND period_start = $2 \
          AND steam_id = $3 AND seq = 0 AND score IS NULL AND epoch = -1",
};

/// Statements every connection prepares (see `writes::PREPARED`).
pub(crate) const PREPARED: [&Prepared; 7] = [
    &DROP_PLACEHOLDER,
    &SELECT_BOARD,
    &LOCK_ENTRY,
    &FIND_UPLOAD_KEY,
    &WRITE_ENTRY,
    &INSERT_UPLOAD_KEY,
    &BOARD_CHANGES,
];

/// An entry's details as `array_to_json` wrote them.
fn details_from_json(details: String) -> Result<Vec<i32>, Failure> {
    serde_json::from_str(&details)
        .map_err(|e| corrupt(format_args!("entry details {details:?}: {e}")))
}

/// The entry of a locked row (`score, details as JSON, set_at, seq`);
/// `None` for a tombstone or a placeholder.
fn entry_from_cells(row: &impl Cells, what: &'static str) -> Result<Option<Entry>, Failure> {
    let Some(score) = row.int8(0, what)? else {
        return Ok(None);
    };
    let score = i32::try_from(score).map_err(|_| corrupt(format_args!("score {score}")))?;
    Ok(Some(Entry {
        score,
        details: details_from_json(required(row.text(1, what)?, "entry details")?)?,
        set_at: required(row.int8(2, what)?, "entry time")?,
        seq: seq_from_sql(required(row.int8(3, what)?, "entry sequence number")?)?,
    }))
}

/// An upload's answer, or why it was refused.
pub(crate) type Uploaded = Result<UploadReply, StoreError>;

/// Applies a group of uploads in one transaction (one `COMMIT`, one WAL
/// flush for all of them); the transaction is committed or rolled back
/// when it returns. The requests must be of distinct entries (board,
/// period, user) and distinct keys (app, user, key): `crate::upload_groups`
/// makes the groups. Each upload is answered on its own (an upload refused
/// writes nothing); an `Err` is the whole group's (nothing was applied).
pub(crate) async fn upload_group(
    client: &mut deadpool_postgres::Client,
    requests: &[UploadRequest],
) -> Result<Vec<Uploaded>, Failure> {
    let client: &deadpool_postgres::Client = client;
    let outcome = upload_group_unfinished(client, requests).await;
    if let Ok((_, true)) = outcome {
        return outcome.map(|(replies, _)| replies);
    }
    client
        .batch_execute("ROLLBACK")
        .await
        .context("ending an upload")?;
    outcome.map(|(replies, _)| replies)
}

/// Where one upload's reads are among the first script's answers.
struct Reads {
    entry: usize,
    board: usize,
    key: Option<usize>,
}

/// What one upload does once its reads are in.
enum Step {
    /// Answered without writing; `true` when its entry row is a
    /// placeholder this transaction inserted (to be deleted if the group
    /// commits).
    Answered(Uploaded, bool),
    Write {
        previous: Option<Entry>,
        entry: Entry,
        changed: bool,
        epoch: i64,
    },
}

/// An upload to a board that is not there is answered as refused; a failed
/// lookup fails the group.
async fn missing_board(
    client: &deadpool_postgres::Client,
    app: AppId,
    board: BoardId,
) -> Result<Step, Failure> {
    match no_board(client, app, board).await {
        Failure::Store(refused) => Ok(Step::Answered(Err(refused), false)),
        failure => Err(failure),
    }
}

/// One upload's step from its reads.
async fn step(
    client: &deadpool_postgres::Client,
    request: &UploadRequest,
    answers: &[crate::script::Answer],
    at: &Reads,
) -> Result<Step, Failure> {
    let what = "reading an entry for an upload";
    let (app, board) = (request.app, request.board);
    let Some(board_row) = answers[at.board].rows.first() else {
        return missing_board(client, app, board).await;
    };
    let sort = required(board_row.text(0, what)?, "board sort")?;
    let sort = word(&sort, SortMethod::parse, "board sort")?;
    let epoch = required(board_row.int8(1, what)?, "board epoch")?;
    let Some(entry_row) = answers[at.entry].rows.first() else {
        return missing_board(client, app, board).await;
    };
    // An entry written in an earlier epoch is from before a reset: gone.
    let entry_epoch = required(entry_row.int8(4, what)?, "entry epoch")?;
    let placeholder = entry_epoch == -1 && entry_row.int8(0, what)?.is_none();
    let previous = entry_from_cells(entry_row, what)?.filter(|_| entry_epoch == epoch);
    if let (Some(key_at), Some((key, fingerprint))) = (at.key, &request.idempotency)
        && let Some(first) = answers[key_at].rows.first()
    {
        let stored = required(first.text(0, what)?, "key fingerprint")?;
        if stored != fingerprint.as_str() {
            let refused = StoreError::IdempotencyConflict {
                key: key.to_string(),
            };
            return Ok(Step::Answered(Err(refused), placeholder));
        }
        let changed = required(first.boolean(1, what)?, "key answer")?;
        let entry = previous.unwrap_or_else(|| Entry {
            score: request.score,
            details: request.details.clone(),
            set_at: request.now,
            seq: 0,
        });
        let reply = UploadReply {
            previous: None,
            entry,
            changed,
            replayed: true,
            epoch,
        };
        return Ok(Step::Answered(Ok(reply), placeholder));
    }
    let uploaded = match leaderboard::upload(
        sort,
        request.method,
        previous.as_ref(),
        request.score,
        &request.details,
        request.now,
        0,
    ) {
        Ok(uploaded) => uploaded,
        Err(e) => {
            let refused = StoreError::Conflict(e.to_string());
            return Ok(Step::Answered(Err(refused), placeholder));
        }
    };
    Ok(Step::Write {
        previous,
        entry: uploaded.entry,
        changed: uploaded.changed,
        epoch,
    })
}

/// The group up to its COMMIT; `true` when it committed.
async fn upload_group_unfinished(
    client: &deadpool_postgres::Client,
    requests: &[UploadRequest],
) -> Result<(Vec<Uploaded>, bool), Failure> {
    let raw: &tokio_postgres::Client = client;
    let mut reads = Script::new("reading entries for uploads");
    reads.plain("BEGIN");
    // Entries locked in one order on every node (board, period, user), so
    // that two groups never wait for each other; each entry before its
    // board's row is read (a reset that committed before the lock is in it).
    let mut order: Vec<usize> = (0..requests.len())
        .filter(|&i| requests[i].details.len() <= MAX_LEADERBOARD_DETAILS)
        .collect();
    order.sort_by_key(|&i| {
        let r = &requests[i];
        (r.board, r.period, user_sql(r.user))
    });
    let mut entry_at = vec![0; requests.len()];
    for &i in &order {
        let r = &requests[i];
        entry_at[i] = reads.execute(
            &LOCK_ENTRY,
            &[&r.board, &app_sql(r.app), &r.period, &user_sql(r.user)],
        )?;
    }
    let mut at: Vec<Option<Reads>> = (0..requests.len()).map(|_| None).collect();
    for &i in &order {
        let r = &requests[i];
        let (app_id, steam_id) = (app_sql(r.app), user_sql(r.user));
        let board = reads.execute(&SELECT_BOARD, &[&r.board, &app_id])?;
        let key = match &r.idempotency {
            Some((key, _)) => {
                Some(reads.execute(&FIND_UPLOAD_KEY, &[&app_id, &steam_id, &key.as_str()])?)
            }
            None => None,
        };
        at[i] = Some(Reads {
            entry: entry_at[i],
            board,
            key,
        });
    }
    let answers = reads.run(raw).await?;

    let mut replies: Vec<Option<Uploaded>> = (0..requests.len()).map(|_| None).collect();
    let mut placeholders = Vec::new();
    let mut decided: Vec<(usize, UploadReply)> = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let Some(reads_at) = &at[i] else {
            let refused = leaderboard::TooManyDetails {
                count: request.details.len(),
            };
            replies[i] = Some(Err(StoreError::Conflict(refused.to_string())));
            continue;
        };
        match step(client, request, &answers, reads_at).await? {
            Step::Answered(reply, placeholder) => {
                if placeholder {
                    placeholders.push(i);
                }
                replies[i] = Some(reply);
            }
            Step::Write {
                previous,
                entry,
                changed,
                epoch,
            } => decided.push((
                i,
                UploadReply {
                    previous,
                    entry,
                    changed,
                    replayed: false,
                    epoch,
                },
            )),
        }
    }
    // The writes lock count shards (new entries) and keys: each kind in one
    // order on every node, shards before keys, so that groups never wait
    // for each other in a cycle (their entries are all locked already).
    let mut writes = Script::new("writing uploads");
    decided.sort_by_key(|(i, _)| {
        let r = &requests[*i];
        let steam_id = user_sql(r.user);
        (r.board, r.period, count_shard(steam_id), steam_id)
    });
    // (request, where its entry write's sequence number is, its reply)
    let mut written: Vec<(usize, Option<usize>, UploadReply)> = Vec::new();
    for (i, reply) in decided {
        let request = &requests[i];
        let steam_id = user_sql(request.user);
        let entry_write = if reply.changed {
            let entry = &reply.entry;
            Some(writes.execute(
                &WRITE_ENTRY,
                &[
                    &request.board,
                    &request.period,
                    &steam_id,
                    &entry.score,
                    &Array(&entry.details),
                    &entry.set_at,
                    &reply.epoch,
                    &reply.previous.is_none(),
                    &count_shard(steam_id),
                ],
            )?)
        } else {
            None
        };
        written.push((i, entry_write, reply));
    }
    let mut keyed: Vec<(usize, bool)> = written
        .iter()
        .filter(|(i, _, _)| requests[*i].idempotency.is_some())
        .map(|(i, _, reply)| (*i, reply.changed))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let key = |r: &UploadRequest| {
            let text = r
                .idempotency
                .as_ref()
                .map(|(key, _)| key.as_str().to_owned());
            (app_sql(r.app), user_sql(r.user), text)
        };
        key(&requests[*a]).cmp(&key(&requests[*b]))
    });
    for (i, changed) in keyed {
        let request = &requests[i];
        if let Some((key, fingerprint)) = &request.idempotency {
            writes.execute(
                &INSERT_UPLOAD_KEY,
                &[
                    &app_sql(request.app),
                    &user_sql(request.user),
                    &key.as_str(),
                    &fingerprint.as_str(),
                    &changed,
                    &request.now,
                ],
            )?;
        }
    }
    let committing = writes.statements() > 0;
    if committing {
        // Placeholders of uploads that wrote nothing are not committed.
        for &i in &placeholders {
            let r = &requests[i];
            writes.execute(&DROP_PLACEHOLDER, &[&r.board, &r.period, &user_sql(r.user)])?;
        }
        writes.plain("COMMIT");
        let answers = writes.run(raw).await?;
        for (_, entry_write, reply) in &mut written {
            if let Some(at) = entry_write {
                let what = "writing an entry";
                let Some(row) = answers[*at].rows.first() else {
                    return Err(corrupt("an entry write drew no sequence number"));
                };
                reply.entry.seq = seq_from_sql(required(row.int8(0, what)?, "sequence number")?)?;
            }
        }
    }
    // Nothing to write: the placeholders' locks are given up by the rollback.
    for (i, _, reply) in written {
        replies[i] = Some(Ok(reply));
    }
    let replies = replies
        .into_iter()
        .map(|reply| {
            reply.unwrap_or_else(|| {
                Err(StoreError::Backend(
                    "an upload of a group was not answered".into(),
                ))
            })
        })
        .collect();
    Ok((replies, committing))
}

// ---- the change log ----

/// The board's changes in `period` written by transactions from `cursor`
/// on (0: all), its epoch, and the next cursor, from one statement's
/// snapshot (the module docs say why nothing is missed).
///
/// Sent as an unnamed statement (`query_typed`, one round trip), so that
/// PostgreSQL plans it for this cursor every time. A cached generic plan
/// knows nothing of the cursor, guesses that a third of the board's rows
/// are read, and may scan the whole board (on a board that is most of the
/// table, it did: measured, 16 clients uploading to a 16,000-entry board
/// through the rank index went from about 280 to over 2,000 uploads/s).
/// The catch-up's script, and where its rows are among the answers.
pub(crate) fn changes_script(
    board: BoardId,
    app: AppId,
    period: PeriodStart,
    cursor: u64,
) -> Result<(Script, usize), Failure> {
    let mut script = Script::new("reading a board's changes");
    // For this statement only (the script is one implicit transaction):
    // see `BOARD_CHANGES`.
    script.plain("SET LOCAL enable_sort = off");
    let at = script.execute(
        &BOARD_CHANGES,
        &[&board, &app_sql(app), &period, &seq_sql(cursor)?],
    )?;
    Ok((script, at))
}

pub(crate) async fn changes(
    client: &deadpool_postgres::Client,
    app: AppId,
    board: BoardId,
    period: PeriodStart,
    cursor: u64,
) -> Result<BoardChanges, Failure> {
    let what = "reading a board's changes";
    let (script, at) = changes_script(board, app, period, cursor)?;
    let raw: &tokio_postgres::Client = client;
    let answers = script.run(raw).await?;
    let rows = &answers[at].rows;
    let Some(first) = rows.first() else {
        return Err(no_board(client, app, board).await);
    };
    let epoch = required(first.int8(0, what)?, "board epoch")?;
    let next = count(
        required(first.int8(1, what)?, "snapshot xmin")?,
        "snapshot xmin",
    )?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(user) = row.int8(2, what)? else {
            continue;
        };
        let seq = seq_from_sql(required(row.int8(6, what)?, "sequence number")?)?;
        let entry = match row.int8(3, what)? {
            None => None,
            Some(score) => Some(Entry {
                score: i32::try_from(score).map_err(|_| corrupt(format_args!("score {score}")))?,
                details: details_from_json(required(row.text(4, what)?, "entry details")?)?,
                set_at: required(row.int8(5, what)?, "entry time")?,
                seq,
            }),
        };
        changes.push(BoardChange {
            user: steam_id_from_sql(user)?,
            entry,
            seq,
        });
    }
    // In sequence order, as the trait answers (sorted here: an `ORDER BY`
    // would sort with `enable_sort` off).
    changes.sort_unstable_by_key(|c| c.seq);
    Ok(BoardChanges {
        epoch,
        changes,
        cursor: next,
    })
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

/// Deletes the board's entries (waiting for any upload holding one),
/// counting those live in `epoch`.
async fn remove_entries<C: GenericClient>(
    client: &C,
    board: BoardId,
    epoch: i64,
) -> Result<i64, Failure> {
    let what = "deleting a board's entries";
    let row = query_opt(
        client,
        what,
        "WITH d AS (DELETE FROM board_entries WHERE board_id = $1 RETURNING score, epoch) \
         SELECT count(score) FILTER (WHERE epoch = $2) FROM d",
        &[&board, &epoch],
    )
    .await?;
    match row {
        Some(row) => row.try_get(0).context(what),
        None => Ok(0),
    }
}

/// The board's name and epoch, if the app has it.
async fn board_row<C: GenericClient>(
    client: &C,
    app: AppId,
    board: BoardId,
) -> Result<Option<(String, i64)>, Failure> {
    let what = "looking for a board";
    let row = query_opt(
        client,
        what,
        "SELECT name, epoch FROM boards WHERE id = $1 AND app_id = $2",
        &[&board, &app_sql(app)],
    )
    .await?;
    row.map(|row| Ok((row.try_get(0).context(what)?, row.try_get(1).context(what)?)))
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
    let Some((_, epoch)) = board_row(&tx, app, board).await? else {
        tx.rollback().await.context("ending a board deletion")?;
        return Ok(false);
    };
    let removed = remove_entries(&tx, board, epoch).await?;
    // Entries written meanwhile go with the board (the cascade).
    let row = query_opt(
        &tx,
        "deleting a board",
        "WITH d AS (DELETE FROM boards WHERE id = $1 AND app_id = $2 RETURNING name, epoch) \
         SELECT d.name, (SELECT count(*) FROM board_entries e \
                         WHERE e.board_id = $1 AND e.score IS NOT NULL AND e.epoch = d.epoch) \
         FROM d",
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

/// Moves the board's epoch with its row locked, then deletes its entries
/// (waiting for the uploads that hold one) and its counts from before.
/// From the commit on, entries count only in the new epoch: an upload that
/// read the old epoch and commits meanwhile, in a row the deletion did not
/// see, leaves a dead row in the old epoch (counted as removed here, and
/// written over by the user's next upload).
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
    let row = query_opt(
        &tx,
        "resetting a board",
        "UPDATE boards SET epoch = epoch + 1 WHERE id = $1 AND app_id = $2 RETURNING name, epoch",
        &[&board, &app_sql(app)],
    )
    .await?;
    let Some(row) = row else {
        return Err(no_board(&tx, app, board).await);
    };
    let name: String = row.try_get(0).context("resetting a board")?;
    let epoch: i64 = row.try_get(1).context("resetting a board")?;
    let old = epoch - 1;
    let first = remove_entries(&tx, board, old).await?;
    // What committed in between, in a row the deletion did not see.
    let row = query_opt(
        &tx,
        "counting a reset's late entries",
        "SELECT count(*) FROM board_entries WHERE board_id = $1 AND score IS NOT NULL \
         AND epoch = $2",
        &[&board, &old],
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
        "DELETE FROM board_count_shards WHERE board_id = $1 AND epoch < $2",
        &[&board, &epoch],
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
    // Locked as an upload locks it (through the primary key, `WRITE_ENTRY`
    // says why); a placeholder for a user without an entry is rolled back.
    let steam_id = user_sql(user);
    let entry_row = query_opt(
        &tx,
        what,
        "INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, \
                seq, epoch) \
         SELECT $1, $2, $3, NULL, '{}', 0, 0, -1 WHERE EXISTS (SELECT 1 FROM boards WHERE id = $1) \
         ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET seq = board_entries.seq \
         RETURNING score, epoch",
        &[&board, &period, &steam_id],
    )
    .await?;
    let Some((name, epoch)) = board_row(&tx, app, board).await? else {
        return Err(no_board(&tx, app, board).await);
    };
    let score: Option<i32> = match entry_row {
        Some(row) if row.try_get::<_, i64>(1).context(what)? == epoch => {
            row.try_get(0).context(what)?
        }
        _ => None,
    };
    let Some(score) = score else {
        tx.rollback().await.context("ending an entry deletion")?;
        return Ok(false);
    };
    let changed = execute(
        &tx,
        what,
        "WITH c AS (INSERT INTO board_count_shards (board_id, period_start, epoch, shard, entries) \
                    VALUES ($1, $2, $4, $5, -1) \
                    ON CONFLICT (board_id, period_start, epoch, shard) \
                    DO UPDATE SET entries = board_count_shards.entries - 1) \
         INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, \
                seq, epoch) VALUES ($1, $2, $3, NULL, '{}', 0, nextval('board_seq'), $4) \
         ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET score = NULL, \
                details = '{}', seq = excluded.seq, xid = pg_current_xact_id()",
        &[&board, &period, &steam_id, &epoch, &count_shard(steam_id)],
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
             WHERE e.board_id = $1 AND e.score IS NOT NULL AND e.epoch = b.epoch \
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
    let Some((_, epoch)) = board_row(&tx, app, board).await? else {
        return Err(no_board(&tx, app, board).await);
    };
    // Rows from before the last reset are garbage: gone.
    execute(
        &tx,
        what,
        "DELETE FROM board_entries WHERE board_id = $1 AND epoch <> $2",
        &[&board, &epoch],
    )
    .await?;
    let live = query_opt(
        &tx,
        what,
        "SELECT period_start FROM board_entries WHERE board_id = $1 \
         AND period_start = ANY($2::bigint[]) AND score IS NOT NULL AND epoch = $3 LIMIT 1",
        &[&board, &periods, &epoch],
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
    // The sequence moves past every imported number, so that the next
    // change of an imported entry sorts after it. Sequences are not
    // transactional: should uploads draw numbers past `largest` between the
    // two calls, `setval` would hand their numbers out again; an import is
    // for `laurel migrate` into a database nothing writes to yet.
    execute(
        &tx,
        what,
        "SELECT setval('board_seq', $1) WHERE nextval('board_seq') < $1",
        &[&seq_sql(largest)?],
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
            "INSERT INTO board_entries \
             (board_id, period_start, steam_id, score, details, set_at, seq, epoch) \
             SELECT $1, t.period, t.steam_id, t.score, \
                    ARRAY(SELECT d.x::int FROM json_array_elements_text(t.details::json) \
                           WITH ORDINALITY AS d(x, n) ORDER BY d.n), t.set_at, t.seq, $8 \
             FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::bigint[]) \
                  AS t(period, steam_id, score, details, set_at, seq)",
            &[&board, &periods, &users, &scores, &details, &set_ats, &seqs, &epoch],
        )
        .await?;
    }
    execute(
        &tx,
        "counting imported entries",
        "DELETE FROM board_count_shards WHERE board_id = $1 AND period_start = ANY($2::bigint[])",
        &[&board, &periods],
    )
    .await?;
    execute(
        &tx,
        "counting imported entries",
        "INSERT INTO board_count_shards (board_id, period_start, epoch, shard, entries) \
         SELECT board_id, period_start, $3, 0, count(*) FROM board_entries \
         WHERE board_id = $1 AND period_start = ANY($2::bigint[]) AND score IS NOT NULL \
         AND epoch = $3 GROUP BY board_id, period_start",
        &[&board, &periods, &epoch],
    )
    .await?;
    tx.commit().await.context("committing an entry import")
}
