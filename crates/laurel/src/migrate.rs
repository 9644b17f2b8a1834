//! `laurel migrate`: copies apps from one database to another (SQLite to
//! PostgreSQL, back, or between two of a kind), then proves the copy by
//! reading every user back from both and comparing the global figures.
//!
//! The order, per run:
//! 1. open both databases; pick the apps (all of the source, or `--app`);
//! 2. refuse, before writing anything, when the target has users in any of
//!    them (a migration goes into empty apps);
//! 3. the token-signing secret, if the target has none yet (so user tokens
//!    issued by the old deployment stay valid on the new one);
//! 4. per app: the schema (`put_schema`: the target's schema version starts
//!    at 1, or moves on by one if the app was there without users), the keys
//!    the target's app lacks, then the users page by page (`Store::users`,
//!    `Store::progress`, `Store::import_user`), several at once; then the
//!    leaderboards (each found or created by name with the source's
//!    settings: board ids are each store's own), their entries in every
//!    period (`Store::stored_entries`, `Store::import_entries`: scores,
//!    details, times and sequence numbers exactly), and the friends lists;
//! 5. per app: verify, and print one summary line on stdout.
//!
//! Progress goes to stderr, summaries to stdout. The daily history of
//! aggregated stats is not copied (`Store::import_user` says why): an app's
//! history starts again on the target.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use laurel_core::{AppId, StatValue, SteamId, UnixTime, UserProgress};
use laurel_store::{AppSummary, Board, GlobalStatsQuery, StatTotal, Store, StoredEntry, StoredKey};
use tokio::task::JoinSet;

use crate::args::{about_flag, parse_app};
use crate::database::{DatabaseUrl, open_database};
use crate::failure::{Failure, exit, fail};

/// Users listed, copied and verified per page.
const PAGE_USERS: usize = 1_000;
/// Differences listed when a verification fails (the rest are counted).
const MAX_REPORTED_DIFFERENCES: usize = 20;
/// Float totals of aggregated stats are sums in a different order on each
/// side (the source's a running sum of changes, the target's a sum of the
/// current values): they agree to this fraction of the sum of the values'
/// magnitudes.
const FLOAT_TOTAL_TOLERANCE: f64 = 1e-9;

/// `laurel migrate --help`.
pub const LONG_ABOUT: &str = "Copy apps (schema, keys, every user's progress, leaderboards with their \
entries, friends lists) from one database to another, then verify the copy: every user is read \
back from both databases and compared field by field (floats bit for bit), and so are the global \
figures, every leaderboard's entries and the friends lists.\n\n\
Each app copied must have no users in the target: the target is checked for every app before \
anything is written. The token-signing secret is copied when the target has none yet, so user \
tokens issued by the old deployment stay valid. Stop the servers of the source first: users \
written during a migration may be missed. The daily history of aggregated stats is not copied.\n\n\
Prints one line per app on stdout (`app 480: 1234 users, 5 keys copied, verified`), progress on \
stderr. Exit codes: 0 copied and verified; 1 failure, or a difference found; 2 usage (a bad \
URL); 3 invalid input (a bad app id, or the target already has users in an app); 4 not found \
(an --app the source does not have, or no SQLite file at --from).";

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// Database to copy from: sqlite://PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Database to copy into (the same forms); created if it is a new SQLite file.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Copy only this app (repeat for several); by default every app of the source.
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,
    /// Check what would be copied and whether the target can take it; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// PostgreSQL connections per database, and users copied at once (1–256).
    #[arg(long, env = "LAUREL_DB_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub db_pool_size: u16,
}

fn same_database(a: &DatabaseUrl, b: &DatabaseUrl) -> bool {
    match (a, b) {
        (DatabaseUrl::Sqlite(a), DatabaseUrl::Sqlite(b)) => {
            let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
            real(a) == real(b)
        }
        (DatabaseUrl::Postgres(a), DatabaseUrl::Postgres(b)) => a == b,
        _ => false,
    }
}

pub async fn run(args: MigrateArgs) -> Result<(), Failure> {
    let from = DatabaseUrl::parse(&args.from).map_err(about_flag("--from"))?;
    let to = DatabaseUrl::parse(&args.to).map_err(about_flag("--to"))?;
    if same_database(&from, &to) {
        return Err(fail(
            exit::USAGE,
            anyhow!("--from and --to name the same database ({from})"),
        ));
    }
    let mut wanted: Vec<AppId> = args
        .apps
        .iter()
        .map(|a| parse_app(a))
        .collect::<Result<_, _>>()?;
    wanted.sort();
    wanted.dedup();
    if let DatabaseUrl::Sqlite(path) = &from
        && !path.exists()
    {
        return Err(fail(
            exit::NOT_FOUND,
            anyhow!("--from: there is no database at {}", path.display()),
        ));
    }
    let pool = args.db_pool_size;
    let in_flight = usize::from(pool);
    let source = open_database(&from, pool, false).await?;
    let apps = choose_apps(&*source, &from, &wanted).await?;
    if apps.is_empty() {
        eprintln!("laurel migrate: the source has no apps; nothing to do");
        return Ok(());
    }
    // A dry run creates no file: a SQLite target that does not exist is empty.
    let target_absent = args.dry_run && matches!(&to, DatabaseUrl::Sqlite(path) if !path.exists());
    let target = match target_absent {
        true => None,
        false => Some(open_database(&to, pool, false).await?),
    };
    if let Some(target) = &target {
        refuse_occupied(&**target, &apps).await?;
    }
    let Some(target) = target.filter(|_| !args.dry_run) else {
        for app in &apps {
            let keys = source.stored_keys(app.app).await?.len();
            println!(
                "app {}: {} users, {keys} keys to copy (dry run: nothing written)",
                app.app, app.users
            );
        }
        return Ok(());
    };

    let secret = source
        .signing_secret()
        .await
        .context("reading the source's token-signing secret")?;
    let kept = target
        .import_signing_secret(&secret)
        .await
        .context("copying the token-signing secret")?;
    if !kept {
        eprintln!(
            "laurel migrate: warning: the target already has a token-signing secret of its own \
             (kept): user tokens issued by the source are not valid there, games sign in again"
        );
    }

    for app in &apps {
        let copied = copy_app(&source, &target, app, in_flight).await?;
        eprintln!("laurel migrate: app {}: verifying", app.app);
        let report = verify_app(&source, &target, app.app, in_flight).await?;
        for warning in &report.warnings {
            eprintln!("laurel migrate: warning: app {}: {warning}", app.app);
        }
        if !report.differences.is_empty() {
            let mut lines: Vec<String> = report
                .differences
                .iter()
                .map(|d| format!("  {d}"))
                .collect();
            if report.more > 0 {
                lines.push(format!("  … and {} more", report.more));
            }
            return Err(fail(
                exit::FAILURE,
                anyhow!(
                    "app {}: the copy differs from the source:\n{}",
                    app.app,
                    lines.join("\n")
                ),
            ));
        }
        let mut keys = format!("{} keys copied", copied.keys);
        if copied.keys_present > 0 {
            keys.push_str(&format!(" ({} were there already)", copied.keys_present));
        }
        let mut boards = String::new();
        if copied.boards > 0 {
            boards.push_str(&format!(
                ", {} leaderboards ({} entries)",
                copied.boards, copied.entries
            ));
        }
        if copied.friend_lists > 0 {
            boards.push_str(&format!(", {} friends lists", copied.friend_lists));
        }
        println!(
            "app {}: {} users, {keys}{boards}, verified",
            app.app, report.users
        );
    }
    Ok(())
}

/// The source's apps to copy: all of them, or those asked for (each must exist).
async fn choose_apps(
    source: &dyn Store,
    from: &DatabaseUrl,
    wanted: &[AppId],
) -> Result<Vec<AppSummary>, Failure> {
    let all = source.apps().await.context("listing the source's apps")?;
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|&id| {
            all.iter().find(|a| a.app == id).cloned().ok_or_else(|| {
                fail(
                    exit::NOT_FOUND,
                    anyhow!("app {id} is not in the source database {from}"),
                )
            })
        })
        .collect()
}

/// Refuses, before anything is written, when the target has users in any
/// of the apps.
async fn refuse_occupied(target: &dyn Store, apps: &[AppSummary]) -> Result<(), Failure> {
    let counts: BTreeMap<AppId, u64> = target
        .apps()
        .await
        .context("listing the target's apps")?
        .into_iter()
        .map(|a| (a.app, a.users))
        .collect();
    let mut occupied = Vec::new();
    for app in apps {
        let Some(&count) = counts.get(&app.app) else {
            continue;
        };
        let any = target
            .users(app.app, None, 1)
            .await
            .with_context(|| format!("listing the target's users of app {}", app.app))?;
        if count > 0 || !any.is_empty() {
            occupied.push(format!("app {} ({count} users)", app.app));
        }
    }
    if occupied.is_empty() {
        return Ok(());
    }
    Err(fail(
        exit::INVALID_INPUT,
        anyhow!(
            "the target already has users in {}; a migration copies only into apps without \
             users, and nothing was written",
            occupied.join(", ")
        ),
    ))
}

/// What one app's copy wrote.
struct Copied {
    keys: usize,
    keys_present: usize,
    boards: usize,
    entries: usize,
    friend_lists: usize,
}

async fn copy_app(
    source: &Arc<dyn Store>,
    target: &Arc<dyn Store>,
    app: &AppSummary,
    in_flight: usize,
) -> Result<Copied, Failure> {
    let id = app.app;
    let schema = source
        .schema(id)
        .await?
        .ok_or_else(|| anyhow!("app {id} left the source during the migration"))?;
    target
        .put_schema(id, (*schema.schema).clone())
        .await
        .with_context(|| format!("copying the schema of app {id}"))?;

    // Keys the target's app already has (a run interrupted after its keys
    // were copied) are left; the verification compares them all.
    let present: Vec<String> = target
        .stored_keys(id)
        .await?
        .into_iter()
        .map(|k| k.secret_hash)
        .collect();
    let mut copied = Copied {
        keys: 0,
        keys_present: 0,
        boards: 0,
        entries: 0,
        friend_lists: 0,
    };
    for key in source.stored_keys(id).await? {
        if present.contains(&key.secret_hash) {
            copied.keys_present += 1;
            continue;
        }
        let record = target
            .import_key(&key)
            .await
            .with_context(|| format!("copying key {} of app {id}", key.record.id))?;
        if record.id != key.record.id {
            eprintln!(
                "laurel migrate: app {id}: key {} is key {} in the target (its id was taken)",
                key.record.id, record.id
            );
        }
        copied.keys += 1;
    }

    let mut after = None;
    let mut done = 0usize;
    loop {
        let page = source
            .users(id, after, PAGE_USERS)
            .await
            .with_context(|| format!("listing the users of app {id}"))?;
        let (source, target) = (Arc::clone(source), Arc::clone(target));
        each_user(&page, in_flight, move |user| {
            let (source, target) = (Arc::clone(&source), Arc::clone(&target));
            async move {
                let progress = source
                    .progress(id, user)
                    .await
                    .with_context(|| format!("reading user {user} of app {id}"))?;
                target
                    .import_user(id, user, &progress)
                    .await
                    .with_context(|| format!("copying user {user} of app {id}"))
            }
        })
        .await?;
        done += page.len();
        if !page.is_empty() {
            eprintln!(
                "laurel migrate: app {id}: {done} of {} users copied",
                app.users
            );
        }
        match page.last() {
            Some(&last) if page.len() == PAGE_USERS => after = Some(last),
            _ => break,
        }
    }
    copy_leaderboards(&**source, &**target, id, &mut copied).await?;
    Ok(copied)
}

/// Now, for the entry counts of board listings (which period is current
/// does not matter to a copy: every period is copied).
fn unix_now() -> UnixTime {
    laurel_store::unix_now_ms() / 1000
}

/// Entries in a fixed order (period, user), whatever order a store lists them in.
fn sorted_entries(mut entries: Vec<StoredEntry>) -> Vec<StoredEntry> {
    entries.sort_by_key(|e| (e.period, e.user.get()));
    entries
}

/// The target's board of each source board's name (created with the
/// source's settings where missing), their entries, and the friends lists.
/// A board whose entries the target already holds, identical (a run
/// interrupted after it), is left as it is.
async fn copy_leaderboards(
    source: &dyn Store,
    target: &dyn Store,
    app: AppId,
    copied: &mut Copied,
) -> Result<(), Failure> {
    let boards = source
        .leaderboards(app, unix_now())
        .await
        .with_context(|| format!("listing the leaderboards of app {app}"))?;
    for summary in &boards {
        let board = &summary.board;
        let (copy, _) = target
            .create_leaderboard(app, &board.def)
            .await
            .with_context(|| {
                format!(
                    "copying leaderboard {:?} of app {app}",
                    board.def.name.as_str()
                )
            })?;
        let entries = sorted_entries(
            source
                .stored_entries(app, board.id)
                .await
                .with_context(|| format!("reading the entries of leaderboard {}", board.id))?,
        );
        let present = sorted_entries(target.stored_entries(app, copy.id).await?);
        if present.is_empty() {
            if !entries.is_empty() {
                target
                    .import_entries(app, copy.id, &entries)
                    .await
                    .with_context(|| {
                        format!(
                            "copying the entries of leaderboard {} of app {app}",
                            board.id
                        )
                    })?;
            }
        } else if present != entries {
            return Err(fail(
                exit::INVALID_INPUT,
                anyhow!(
                    "app {app}: the target's leaderboard {:?} already has other entries; \
                     a migration copies only into empty boards",
                    board.def.name.as_str()
                ),
            ));
        }
        if copy.id != board.id {
            eprintln!(
                "laurel migrate: app {app}: leaderboard {} is leaderboard {} in the target",
                board.id, copy.id
            );
        }
        copied.boards += 1;
        copied.entries += entries.len();
    }
    let lists = source
        .friend_lists(app)
        .await
        .with_context(|| format!("reading the friends lists of app {app}"))?;
    for (user, friends) in &lists {
        target
            .set_friends(app, *user, friends)
            .await
            .with_context(|| format!("copying the friends list of user {user} of app {app}"))?;
    }
    copied.friend_lists = lists.len();
    Ok(())
}

/// Boards compare by name and settings, with their entries (every period,
/// exactly); ids and epochs are each store's own. Friends lists compare
/// whole.
async fn compare_leaderboards(
    report: &mut Report,
    source: &dyn Store,
    target: &dyn Store,
    app: AppId,
) -> Result<(), Failure> {
    let now = unix_now();
    let copies: Vec<Board> = target
        .leaderboards(app, now)
        .await?
        .into_iter()
        .map(|b| b.board)
        .collect();
    let originals: Vec<Board> = source
        .leaderboards(app, now)
        .await?
        .into_iter()
        .map(|b| b.board)
        .collect();
    for board in &originals {
        let name = board.def.name.as_str();
        let Some(copy) = laurel_store::boards::find_by_name(&copies, &board.def.name) else {
            report.differ(format!("leaderboard {name:?}: missing in the target"));
            continue;
        };
        if copy.def != board.def || copy.def.name.as_str() != name {
            report.differ(format!(
                "leaderboard {name:?}: settings {:?} in the source, {:?} in the target",
                board.def, copy.def
            ));
        }
        let original = sorted_entries(source.stored_entries(app, board.id).await?);
        let copied = sorted_entries(target.stored_entries(app, copy.id).await?);
        if original.len() != copied.len() {
            report.differ(format!(
                "leaderboard {name:?}: {} entries in the source, {} in the target",
                original.len(),
                copied.len()
            ));
        } else if let Some((a, b)) = original.iter().zip(&copied).find(|(a, b)| a != b) {
            report.differ(format!(
                "leaderboard {name:?}: entry {a:?} in the source, {b:?} in the target"
            ));
        }
    }
    for copy in &copies {
        if laurel_store::boards::find_by_name(&originals, &copy.def.name).is_none() {
            report.differ(format!(
                "leaderboard {:?}: in the target only",
                copy.def.name.as_str()
            ));
        }
    }
    if source.friend_lists(app).await? != target.friend_lists(app).await? {
        report.differ("the friends lists differ".into());
    }
    Ok(())
}

/// Runs `work` for every user of `page`, `in_flight` at once; the answers
/// come back in page order. The first failure stops the rest.
async fn each_user<T, F, Fut>(page: &[SteamId], in_flight: usize, work: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(SteamId) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut answers: Vec<Option<T>> = page.iter().map(|_| None).collect();
    let mut keep_answer =
        |joined: Option<Result<(usize, anyhow::Result<T>), tokio::task::JoinError>>| match joined {
            Some(Ok((i, Ok(answer)))) => {
                answers[i] = Some(answer);
                Ok(())
            }
            Some(Ok((_, Err(e)))) => Err(e),
            Some(Err(e)) => Err(anyhow!("a copying task failed: {e}")),
            None => Ok(()),
        };
    for (i, &user) in page.iter().enumerate() {
        while tasks.len() >= in_flight.max(1) {
            keep_answer(tasks.join_next().await)?;
        }
        let future = work(user);
        tasks.spawn(async move { (i, future.await) });
    }
    while !tasks.is_empty() {
        keep_answer(tasks.join_next().await)?;
    }
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| anyhow!("a user's task gave no answer")))
        .collect()
}

/// What a verification found.
#[derive(Default)]
struct Report {
    users: u64,
    /// The first differences, at most [`MAX_REPORTED_DIFFERENCES`].
    differences: Vec<String>,
    /// Differences found beyond those listed.
    more: usize,
    warnings: Vec<String>,
}

impl Report {
    fn differ(&mut self, difference: String) {
        if self.differences.len() < MAX_REPORTED_DIFFERENCES {
            self.differences.push(difference);
        } else {
            self.more += 1;
        }
    }
}

/// An aggregated stat recounted from the users read during verification.
#[derive(Default, Clone, Copy)]
struct Recount {
    sum: f64,
    /// Sum of the values' magnitudes: the scale rounding errors are measured against.
    magnitude: f64,
}

/// Compares one app in both stores: schema, keys, the list of users, every
/// user's progress field by field, and the global figures.
async fn verify_app(
    source: &Arc<dyn Store>,
    target: &Arc<dyn Store>,
    app: AppId,
    in_flight: usize,
) -> Result<Report, Failure> {
    let mut report = Report::default();
    let schema = source
        .schema(app)
        .await?
        .ok_or_else(|| anyhow!("app {app} left the source during the migration"))?
        .schema;
    match target.schema(app).await? {
        None => {
            report.differ("the target has no such app".into());
            return Ok(report);
        }
        Some(copy) if *copy.schema != *schema => report.differ("the schemas differ".into()),
        Some(_) => {}
    }
    compare_keys(
        &mut report,
        source.stored_keys(app).await?,
        target.stored_keys(app).await?,
    );
    compare_leaderboards(&mut report, &**source, &**target, app).await?;

    let aggregated: Vec<_> = schema
        .stats()
        .iter()
        .filter(|d| d.aggregated)
        .cloned()
        .collect();
    let mut recounts: BTreeMap<String, Recount> = BTreeMap::new();
    let mut after = None;
    loop {
        let listed = (
            source.users(app, after, PAGE_USERS).await?,
            target.users(app, after, PAGE_USERS).await?,
        );
        let (page, copy_page) = listed;
        let aligned = page == copy_page;
        if !aligned {
            compare_lists(&mut report, &page, &copy_page);
        }
        let (source2, target2) = (Arc::clone(source), Arc::clone(target));
        let pairs = each_user(&page, in_flight, move |user| {
            let (source, target) = (Arc::clone(&source2), Arc::clone(&target2));
            async move {
                let original = source
                    .progress(app, user)
                    .await
                    .with_context(|| format!("reading user {user} of app {app} (source)"))?;
                let copy = target
                    .progress(app, user)
                    .await
                    .with_context(|| format!("reading user {user} of app {app} (target)"))?;
                Ok((original, copy))
            }
        })
        .await?;
        for (user, (original, copy)) in page.iter().zip(&pairs) {
            if let Some(difference) = progress_difference(original, copy) {
                report.differ(format!("user {user}: {difference}"));
            }
            for def in &aggregated {
                let value = original.stat(def).read(def);
                let recount = recounts.entry(def.name.to_string()).or_default();
                recount.sum += value;
                recount.magnitude += value.abs();
            }
        }
        report.users += page.len() as u64;
        // Once the lists disagree, their cursors do too: what was found is reported.
        match page.last() {
            Some(&last) if aligned && page.len() == PAGE_USERS => after = Some(last),
            _ => break,
        }
    }

    let (original, copy) = (
        source.global_achievements(app).await?,
        target.global_achievements(app).await?,
    );
    if original.users != copy.users {
        report.differ(format!(
            "users counted: {} in the source, {} in the target",
            original.users, copy.users
        ));
    }
    if original.users != report.users {
        report.differ(format!(
            "the source counts {} users but lists {}",
            original.users, report.users
        ));
    }
    for (name, count) in &original.unlocked {
        let copied = copy.unlocked.get(name).copied().unwrap_or(0);
        if copied != *count {
            report.differ(format!(
                "achievement {name}: unlocked by {count} users in the source, {copied} in the target"
            ));
        }
    }
    let (original, copy) = (
        source
            .global_stats(app, GlobalStatsQuery::default())
            .await?,
        target
            .global_stats(app, GlobalStatsQuery::default())
            .await?,
    );
    for stat in &original {
        let Some(copied) = copy.iter().find(|c| c.name == stat.name) else {
            report.differ(format!("stat {}: no total in the target", stat.name));
            continue;
        };
        let recount = recounts.get(&stat.name).copied().unwrap_or_default();
        compare_totals(&mut report, &stat.name, stat.total, copied.total, recount);
    }
    Ok(report)
}

/// Keys compare by what they hold (hash, label, creation time, state); ids
/// are each database's own.
fn compare_keys(report: &mut Report, original: Vec<StoredKey>, copy: Vec<StoredKey>) {
    type Held = (String, String, i64, bool);
    let held = |k: &StoredKey| -> Held {
        (
            k.secret_hash.clone(),
            k.record.label.clone(),
            k.record.created,
            k.record.revoked,
        )
    };
    let copies: Vec<Held> = copy.iter().map(held).collect();
    let originals: Vec<Held> = original.iter().map(held).collect();
    for key in &original {
        if !copies.contains(&held(key)) {
            report.differ(format!(
                "key {} ({:?}) is missing or different in the target",
                key.record.id, key.record.label
            ));
        }
    }
    for key in &copy {
        if !originals.contains(&held(key)) {
            report.differ(format!(
                "the target has key {} ({:?}), which the source does not",
                key.record.id, key.record.label
            ));
        }
    }
}

/// Reports the users one page has and the other lacks, up to where both
/// pages reach.
fn compare_lists(report: &mut Report, original: &[SteamId], copy: &[SteamId]) {
    let reach = match (original.last(), copy.last()) {
        (Some(a), Some(b)) => (*a).min(*b).get(),
        _ => u64::MAX,
    };
    let mut found = false;
    for user in original.iter().filter(|u| u.get() <= reach) {
        if !copy.contains(user) {
            report.differ(format!("user {user}: missing in the target"));
            found = true;
        }
    }
    for user in copy.iter().filter(|u| u.get() <= reach) {
        if !original.contains(user) {
            report.differ(format!("user {user}: in the target only"));
            found = true;
        }
    }
    if !found {
        report.differ("the lists of users differ".into());
    }
}

fn compare_totals(
    report: &mut Report,
    name: &str,
    original: StatTotal,
    copy: StatTotal,
    recount: Recount,
) {
    match (original, copy) {
        (StatTotal::Int(a), StatTotal::Int(b)) if a == b => {}
        (StatTotal::Float(a), StatTotal::Float(b)) => {
            let scale = recount.magnitude.max(a.abs()).max(b.abs()).max(1.0);
            let close = |x: f64, y: f64| x == y || (x - y).abs() <= FLOAT_TOTAL_TOLERANCE * scale;
            if close(a, b) {
                return;
            }
            if close(b, recount.sum) {
                // The source's running sum drifted from its users' values;
                // the target holds the sum of the values themselves.
                report.warnings.push(format!(
                    "stat {name}: the source's kept total {a} differs from the sum of its \
                     users' values {}; the target's total is that sum ({b})",
                    recount.sum
                ));
            } else {
                report.differ(format!(
                    "stat {name}: total {a} in the source, {b} in the target"
                ));
            }
        }
        (a, b) => report.differ(format!(
            "stat {name}: total {a:?} in the source, {b:?} in the target"
        )),
    }
}

/// The first difference between two progresses, with stat values compared
/// bit for bit (`-0.0` is not `0.0`).
fn progress_difference(original: &UserProgress, copy: &UserProgress) -> Option<String> {
    if original.version != copy.version {
        return Some(format!(
            "version {} in the source, {} in the target",
            original.version, copy.version
        ));
    }
    let same_value = |a: &StatValue, b: &StatValue| match (a, b) {
        (StatValue::Int(a), StatValue::Int(b)) => a == b,
        (StatValue::Float(a), StatValue::Float(b)) => a.to_bits() == b.to_bits(),
        (
            StatValue::AvgRate { count, seconds },
            StatValue::AvgRate {
                count: c,
                seconds: s,
            },
        ) => count.to_bits() == c.to_bits() && seconds.to_bits() == s.to_bits(),
        _ => false,
    };
    let names = original.stats.keys().chain(copy.stats.keys());
    for name in names {
        match (original.stats.get(name), copy.stats.get(name)) {
            (Some(a), Some(b)) if same_value(a, b) => {}
            (a, b) => {
                return Some(format!(
                    "stat {name} is {} in the source, {} in the target",
                    described(a),
                    described(b)
                ));
            }
        }
    }
    let names = original.achievements.keys().chain(copy.achievements.keys());
    for name in names {
        let (a, b) = (original.achievements.get(name), copy.achievements.get(name));
        if a != b {
            return Some(format!(
                "achievement {name} is {} in the source, {} in the target",
                described(a),
                described(b)
            ));
        }
    }
    None
}

fn described<T: std::fmt::Debug>(value: Option<&T>) -> String {
    value.map_or_else(|| "absent".to_owned(), |v| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use laurel_core::{AchievementState, ApiName};

    fn progress(version: u64, stats: &[(&str, StatValue)]) -> UserProgress {
        UserProgress {
            version,
            stats: stats
                .iter()
                .map(|(n, v)| (ApiName::parse(n).expect("name"), *v))
                .collect(),
            achievements: BTreeMap::new(),
        }
    }

    #[test]
    fn progress_differences_are_bit_exact() {
        let zero = progress(1, &[("F", StatValue::Float(0.0))]);
        let negative_zero = progress(1, &[("F", StatValue::Float(-0.0))]);
        assert_eq!(progress_difference(&zero, &zero.clone()), None);
        assert_eq!(
            progress_difference(&zero, &negative_zero).as_deref(),
            Some("stat F is Float(0.0) in the source, Float(-0.0) in the target")
        );
        assert_eq!(
            progress_difference(&zero, &progress(2, &[])).as_deref(),
            Some("version 1 in the source, 2 in the target")
        );
        assert_eq!(
            progress_difference(&zero, &progress(1, &[])).as_deref(),
            Some("stat F is Float(0.0) in the source, absent in the target")
        );
        let rate = |seconds| StatValue::AvgRate {
            count: 1.0,
            seconds,
        };
        assert!(
            progress_difference(
                &progress(1, &[("R", rate(0.1 + 0.2))]),
                &progress(1, &[("R", rate(0.3))])
            )
            .is_some()
        );
        let mut unlocked = zero.clone();
        unlocked.achievements.insert(
            ApiName::parse("A").expect("name"),
            AchievementState {
                unlocked: true,
                unlock_time: Some(5),
                progress: None,
            },
        );
        let mut later = unlocked.clone();
        if let Some(a) = later.achievements.values_mut().next() {
            a.unlock_time = Some(6);
        }
        assert!(
            progress_difference(&unlocked, &later)
                .is_some_and(|d| d.starts_with("achievement A is AchievementState"))
        );
    }

    #[test]
    fn float_totals_agree_to_rounding_and_drift_is_a_warning() {
        let recount = Recount {
            sum: 0.3,
            magnitude: 0.3,
        };
        let mut report = Report::default();
        compare_totals(
            &mut report,
            "S",
            StatTotal::Float(0.1 + 0.2),
            StatTotal::Float(0.3),
            recount,
        );
        compare_totals(
            &mut report,
            "I",
            StatTotal::Int(3),
            StatTotal::Int(3),
            recount,
        );
        assert!(report.differences.is_empty() && report.warnings.is_empty());
        compare_totals(
            &mut report,
            "S",
            StatTotal::Float(0.5),
            StatTotal::Float(0.3),
            recount,
        );
        assert_eq!(report.warnings.len(), 1, "the source drifted");
        compare_totals(
            &mut report,
            "S",
            StatTotal::Float(0.3),
            StatTotal::Float(0.5),
            recount,
        );
        compare_totals(
            &mut report,
            "I",
            StatTotal::Int(3),
            StatTotal::Int(4),
            recount,
        );
        assert_eq!(report.differences.len(), 2, "{:?}", report.differences);
    }

    #[test]
    fn totals_of_different_kinds_differ() {
        let mut report = Report::default();
        let (int, float) = (StatTotal::Int(1), StatTotal::Float(1.0));
        compare_totals(&mut report, "K", int, float, Recount::default());
        assert_eq!(report.differences.len(), 1);
    }
}
