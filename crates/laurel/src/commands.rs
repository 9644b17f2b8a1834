//! The work behind each subcommand.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use laurel_core::{ResetScope, Schema};
use laurel_schema_formats::{
    ExportOptions, Format, ImportOptions, MAX_INPUT_BYTES, SourceFile, detect, export, import,
};
use laurel_store::audit::{AuditDraft, AuditQuery, action};
use laurel_store::{Store, StoreError, TokenRevocation};

use crate::args::{about_flag, parse_app, parse_user};
use crate::cli::{
    AuditAction, AuditArgs, Cli, Command, KeyAction, LeaderboardAction, LogFormat, PeriodChoice,
    SchemaAction, SecretAction, ServeArgs, StoreArgs, TokenAction, UserAction,
};
use crate::database::{DatabaseUrl, open_database};
use crate::failure::{Failure, exit, fail};

pub fn run(cli: Cli) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => serve(&args).await,
        Command::Schema { action } => schema(action).await,
        Command::User { action } => user(action).await,
        Command::Key { action } => key(action).await,
        Command::Migrate(args) => crate::migrate::run(args).await,
        Command::Tokens { action } => tokens(action).await,
        Command::Secret { action } => secret(action).await,
        Command::Audit(args) => audit(args).await,
        Command::Leaderboard { action } => leaderboard(action).await,
    }
}

/// Opens the store named by `--database` or `--data-dir`.
async fn open_store(args: &StoreArgs) -> Result<Arc<dyn Store>, Failure> {
    open_store_warm(args, false).await
}

/// [`open_store`], with every connection of a PostgreSQL pool opened at
/// once when `warm` (a node about to serve).
async fn open_store_warm(args: &StoreArgs, warm: bool) -> Result<Arc<dyn Store>, Failure> {
    let database = match &args.database {
        None => DatabaseUrl::Sqlite(args.data_dir.join("laurel.sqlite3")),
        Some(url) => DatabaseUrl::parse(url).map_err(about_flag("--database"))?,
    };
    open_database(&database, args.db_pool_size, warm).await
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: &ServeArgs) -> Result<(), Failure> {
    init_logging(args.log_format);
    let mut config = laurel_server::ServerConfig::new(args.listen);
    config.dev = args.dev;
    config.dev_allow_remote = args.dev_allow_remote;
    config.admin_token = std::env::var("LAUREL_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    config.request_timeout = std::time::Duration::from_secs(args.request_timeout.max(1));
    config.cache_bytes = args.cache_bytes;
    config.token_ttl = std::time::Duration::from_secs(args.token_ttl);
    let rates = &args.rates;
    config.rate_limits = laurel_server::RateLimits {
        enabled: !rates.no_rate_limits,
        user: laurel_server::Rate::new(rates.user_rate, rates.user_burst),
        server_key: laurel_server::Rate::new(rates.key_rate, rates.key_burst),
        address: laurel_server::Rate::new(rates.address_rate, rates.address_burst),
        auth_failures_per_minute: rates.auth_failures_per_minute,
        auth_failure_burst: rates.auth_failure_burst,
        trusted_proxies: rates.trusted_proxies.clone(),
    };
    config.connections = laurel_server::ConnectionLimits {
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        max_connections: fd_limited(args.max_connections),
        max_per_address: args.max_connections_per_address,
    };
    // Before anything is opened or created: a refused configuration changes nothing.
    config.check().map_err(|e| fail(exit::USAGE, e))?;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let files = laurel_server::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        let tls = laurel_server::ServerTls::load(files)
            .map_err(|e| fail(exit::USAGE, anyhow!("refusing to start: {e}")))?;
        let tls = Arc::new(tls);
        reload_on_hangup(&tls)?;
        config.tls = Some(tls);
    }
    if config.admin_token.is_none() {
        tracing::info!("admin API disabled: set LAUREL_ADMIN_TOKEN to enable it");
    }
    let store = open_store_warm(&args.store, true).await?;
    let app = laurel_server::Application::build(config, store.clone())
        .await
        .context("starting the server")?;
    // Tests and scripts read this line to learn the bound port.
    println!("laurel listening on {}", app.url());
    std::io::stdout().flush().ok();
    app.run_until_stopped(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// Reads the TLS certificate and key again on each SIGHUP (whether or not
/// they look changed). Installed before the server listens, so a SIGHUP
/// never ends a TLS server.
fn reload_on_hangup(tls: &Arc<laurel_server::ServerTls>) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        let tls = Arc::clone(tls);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let reloading = Arc::clone(&tls);
                match tokio::task::spawn_blocking(move || reloading.reload(true)).await {
                    Ok(Ok(_)) => tracing::info!(
                        cert = %tls.files().cert.display(),
                        "SIGHUP: TLS certificate reloaded"
                    ),
                    Ok(Err(e)) => tracing::warn!(
                        error = %e,
                        "SIGHUP: TLS certificate not reloaded; the previous one stays in use"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "SIGHUP: reloading the TLS certificate failed")
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tls;
    Ok(())
}

/// File descriptors kept for everything but client connections: the
/// database files and connections, logs, the listener.
const RESERVED_FDS: u64 = 64;

/// Raises the soft limit on open files to the hard one, and lowers
/// `max_connections` to what it allows: past it, accepting fails and the
/// server could take no one, not even its health check.
fn fd_limited(max_connections: usize) -> usize {
    #[cfg(unix)]
    {
        use rlimit::Resource;
        let Ok((mut soft, hard)) = Resource::NOFILE.get() else {
            return max_connections;
        };
        if soft < hard && Resource::NOFILE.set(hard, hard).is_ok() {
            soft = hard;
        }
        let allowed =
            usize::try_from(soft.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
        if allowed < max_connections {
            tracing::warn!(
                max_connections,
                allowed,
                open_files = soft,
                "the open-file limit allows fewer connections than --max-connections; using {allowed}"
            );
            return allowed;
        }
    }
    max_connections
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// Reads one schema file as UTF-8 text within the importers' size limit.
fn read_text(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(fail(
            exit::INVALID_INPUT,
            anyhow!(
                "{}: {} bytes; the limit is {MAX_INPUT_BYTES}",
                path.display(),
                bytes.len()
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(
            exit::INVALID_INPUT,
            anyhow!(
                "{}: not UTF-8 text (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads, converts and validates schema files; every problem of every file is
/// reported with its file and place, and nothing is returned unless all is valid.
pub fn read_schema_files(
    files: &[PathBuf],
    format: Option<Format>,
    language: &str,
) -> Result<Schema, Failure> {
    if format.is_some() && files.len() > 1 {
        return Err(fail(
            exit::USAGE,
            anyhow!("--format names the format of a single file; with two files each is detected"),
        ));
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| Ok((f.display().to_string(), read_text(f)?)))
        .collect::<Result<_, Failure>>()?;
    let mut sources = Vec::with_capacity(texts.len());
    for (name, text) in &texts {
        let format = format.or_else(|| detect(name, text)).ok_or_else(|| {
            let all: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            fail(
                exit::USAGE,
                anyhow!(
                    "{name}: cannot tell its format; pass --format ({})",
                    all.join(", ")
                ),
            )
        })?;
        sources.push(SourceFile { name, format, text });
    }
    let options = ImportOptions {
        language: language.to_owned(),
        ..ImportOptions::default()
    };
    import(&sources, &options).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        fail(
            exit::INVALID_INPUT,
            anyhow!(
                "{} problem(s); nothing was changed:\n{}",
                problems.len(),
                lines.join("\n")
            ),
        )
    })
}

async fn schema(action: SchemaAction) -> Result<(), Failure> {
    match action {
        SchemaAction::Import {
            app,
            files,
            format,
            language,
            check,
            store,
        } => {
            let app = parse_app(&app)?;
            let schema = read_schema_files(&files, format, &language)?;
            let (stats, achievements) = (schema.stats().len(), schema.achievements().len());
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            if check {
                println!(
                    "{}: valid ({stats} stats, {achievements} achievements)",
                    names.join(" + ")
                );
                return Ok(());
            }
            let store = open_store(&store).await?;
            let version = store
                .put_schema(app, schema)
                .await
                .context("storing the schema")?;
            println!(
                "app {app}: schema version {version} ({stats} stats, {achievements} achievements)"
            );
            Ok(())
        }
        SchemaAction::Export {
            app,
            format,
            language,
            output,
            store,
        } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            let stored = store
                .schema(app)
                .await?
                .ok_or_else(|| fail(exit::NOT_FOUND, anyhow!("no app {app}")))?;
            let mut options = ExportOptions::new(app.get());
            options.version = stored.version;
            options.language = language;
            let exported = export(&stored.schema, format, &options)
                .map_err(|e| fail(exit::INVALID_INPUT, anyhow!("app {app} as {format}: {e}")))?;
            for dropped in &exported.dropped {
                eprintln!("laurel: {format} cannot carry {dropped}");
            }
            match output {
                Some(path) => std::fs::write(&path, exported.text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{}", exported.text),
            }
            Ok(())
        }
    }
}

async fn user(action: UserAction) -> Result<(), Failure> {
    let (app, steam_id, store_args, reset) = match &action {
        UserAction::Show {
            app,
            steam_id,
            store,
        } => (app, steam_id, store, None),
        UserAction::Reset {
            app,
            steam_id,
            achievements,
            store,
        } => (app, steam_id, store, Some(ResetScope::full(*achievements))),
    };
    let (app, user) = (parse_app(app)?, parse_user(steam_id)?);
    let store = open_store(store_args).await?;
    let stored = store
        .schema(app)
        .await?
        .ok_or_else(|| fail(exit::NOT_FOUND, anyhow!("no app {app}")))?;
    let progress = match reset {
        None => store.progress(app, user).await?,
        Some(scope) => {
            store
                .reset(app, user, scope, unix_now(), cli_audit(action::RESET))
                .await?
        }
    };
    let body =
        laurel_wire::ProgressBody::build(app, user, stored.version, &stored.schema, &progress);
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(())
}

async fn key(action: KeyAction) -> Result<(), Failure> {
    match action {
        KeyAction::Create { app, label, store } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            if store.schema(app).await?.is_none() {
                return Err(fail(exit::NOT_FOUND, anyhow!("no app {app}")));
            }
            let secret = laurel_server::auth::generate_server_key()
                .map_err(|e| anyhow!("no randomness for a key: {e}"))?;
            let hash = laurel_server::auth::hash_server_key(&secret);
            let record = store.create_key(app, &label, &hash, now()).await?;
            // The secret first: it is shown once, and must not be lost to a
            // failing audit record.
            println!("{secret}");
            record_or_warn(
                store.as_ref(),
                cli_audit(action::KEY_CREATE)
                    .about(app, None)
                    .with_detail(serde_json::json!({"key_id": record.id, "label": label})),
            )
            .await;
            eprintln!(
                "key {} for app {app} created; the secret above is shown once",
                record.id
            );
            Ok(())
        }
        KeyAction::List { app, store } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            for k in store.keys(app).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    k.id,
                    if k.revoked { "revoked" } else { "live" },
                    k.created,
                    k.label
                );
            }
            Ok(())
        }
        KeyAction::Revoke { app, id, store } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            if store.revoke_key(app, id).await? {
                record_or_warn(
                    store.as_ref(),
                    cli_audit(action::KEY_REVOKE)
                        .about(app, None)
                        .with_detail(serde_json::json!({"key_id": id})),
                )
                .await;
                println!("key {id} of app {app} revoked");
                Ok(())
            } else {
                Err(fail(exit::NOT_FOUND, anyhow!("app {app} has no key {id}")))
            }
        }
    }
}

/// Records a completed action; a record that cannot be written is a
/// warning, not a failure (the action stands).
async fn record_or_warn(store: &dyn Store, draft: AuditDraft) {
    if let Err(e) = store.record_audit(draft).await {
        eprintln!("laurel: warning: the audit record of this action was not written: {e}");
    }
}

/// An audit entry of the command line: actor `cli`, address `local`.
fn cli_audit(what: &'static str) -> AuditDraft {
    AuditDraft::new("cli", "local", what)
}

async fn tokens(action: TokenAction) -> Result<(), Failure> {
    let TokenAction::Revoke {
        app,
        steam_id,
        store,
    } = action;
    let app = parse_app(&app)?;
    let user = steam_id.as_deref().map(parse_user).transpose()?;
    let store = open_store(&store).await?;
    if store.schema(app).await?.is_none() {
        return Err(fail(exit::NOT_FOUND, anyhow!("no app {app}")));
    }
    let revocation = TokenRevocation {
        app,
        user,
        not_before_ms: laurel_store::unix_now_ms(),
    };
    store
        .revoke_tokens(
            revocation,
            cli_audit(action::TOKENS_REVOKE).about(app, user),
        )
        .await?;
    match user {
        Some(user) => println!("tokens of user {user} in app {app} issued until now are revoked"),
        None => println!("tokens of every user of app {app} issued until now are revoked"),
    }
    Ok(())
}

async fn secret(action: SecretAction) -> Result<(), Failure> {
    let SecretAction::Rotate { grace, store } = action;
    let store = open_store(&store).await?;
    let grace = i64::try_from(grace).unwrap_or(i64::MAX);
    let until = now().saturating_add(grace);
    store.rotate_signing_secret(until).await?;
    record_or_warn(
        store.as_ref(),
        cli_audit(action::SECRET_ROTATE).with_detail(serde_json::json!({"grace_until": until})),
    )
    .await;
    println!(
        "signing secret rotated; tokens signed with the previous one are accepted for {grace} s more"
    );
    Ok(())
}

async fn audit(args: AuditArgs) -> Result<(), Failure> {
    if let Some(AuditAction::Undo { id, store }) = args.action {
        let store = open_store(&store).await?;
        let undone = match store
            .undo_reset(id, unix_now(), cli_audit(action::UNDO_RESET))
            .await
        {
            Ok(undone) => undone,
            Err(StoreError::NotFound(m)) => return Err(fail(exit::NOT_FOUND, anyhow!(m))),
            Err(StoreError::Conflict(m)) => return Err(fail(exit::INVALID_INPUT, anyhow!(m))),
            Err(e) => return Err(e.into()),
        };
        println!(
            "reset {id} undone: the user is at version {} again with what it removed",
            undone.progress.version
        );
        return Ok(());
    }
    let app = args.app.as_deref().map(parse_app).transpose()?;
    let store = open_store(&args.store).await?;
    let records = store
        .audit_log(AuditQuery {
            app,
            before: args.before,
            limit: usize::from(args.limit),
        })
        .await?;
    for r in records {
        let line = serde_json::json!({
            "id": r.id,
            "at_ms": r.at_ms,
            "actor": r.actor,
            "address": r.address,
            "action": r.action,
            "app_id": r.app.map(laurel_core::AppId::get),
            "steam_id": r.user.map(|u| u.to_string()),
            "detail": r.detail,
            "undone_by": r.undone_by,
        });
        println!("{line}");
    }
    Ok(())
}

/// The board of this name in the app (an unknown app or board is "not found").
async fn find_board(
    store: &dyn Store,
    app: laurel_core::AppId,
    name: &str,
) -> Result<laurel_store::Board, Failure> {
    let name = laurel_core::leaderboard::BoardName::parse(name)
        .map_err(|e| fail(exit::INVALID_INPUT, anyhow!("--board: {e}")))?;
    match store.leaderboard(app, &name).await {
        Ok(Some(board)) => Ok(board),
        Ok(None) => Err(fail(
            exit::NOT_FOUND,
            anyhow!("app {app} has no leaderboard {:?}", name.as_str()),
        )),
        Err(StoreError::UnknownApp(_)) => Err(fail(exit::NOT_FOUND, anyhow!("no app {app}"))),
        Err(e) => Err(e.into()),
    }
}

/// The start of the board's period at `now`: the current one, or the one
/// before it (a board without periods has no previous one).
fn board_period(
    board: &laurel_store::Board,
    choice: PeriodChoice,
    now: laurel_core::UnixTime,
) -> Result<laurel_store::PeriodStart, Failure> {
    let period = board.def.period;
    let Some(current) = period.start(now) else {
        return match choice {
            PeriodChoice::Current => Ok(0),
            PeriodChoice::Previous => Err(fail(
                exit::INVALID_INPUT,
                anyhow!(
                    "leaderboard {:?} has no periods: there is no previous one",
                    board.def.name.as_str()
                ),
            )),
        };
    };
    Ok(match choice {
        PeriodChoice::Current => current,
        PeriodChoice::Previous => period.start(current - 1).unwrap_or(0),
    })
}

async fn leaderboard(action: LeaderboardAction) -> Result<(), Failure> {
    match action {
        LeaderboardAction::List { app, store } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            let boards = match store.leaderboards(app, unix_now()).await {
                Err(StoreError::UnknownApp(_)) => {
                    return Err(fail(exit::NOT_FOUND, anyhow!("no app {app}")));
                }
                other => other?,
            };
            for b in boards {
                let def = &b.board.def;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    b.board.id, def.name, def.sort, def.display, def.writes, def.period, b.entries
                );
            }
            Ok(())
        }
        LeaderboardAction::Show {
            app,
            board,
            start,
            end,
            period,
            store,
        } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            let board = find_board(&*store, app, &board).await?;
            let period = board_period(&board, period, unix_now())?;
            let ranks = laurel_store::Leaderboards::new();
            let download = ranks
                .download(
                    &*store,
                    &board,
                    period,
                    &laurel_store::Scope::Global { start, end },
                )
                .await?;
            for e in &download.entries {
                println!("{}\t{}\t{}\t{}", e.rank, e.user, e.score, e.set_at);
            }
            eprintln!(
                "leaderboard {:?} of app {app}: {} entries",
                board.def.name.as_str(),
                download.entry_count
            );
            Ok(())
        }
        LeaderboardAction::Reset { app, board, store } => {
            let app = parse_app(&app)?;
            let store = open_store(&store).await?;
            let board = find_board(&*store, app, &board).await?;
            // The store writes the record's detail (the board, what was removed).
            let draft = cli_audit(action::LEADERBOARD_RESET).about(app, None);
            let removed = store.reset_leaderboard(app, board.id, draft).await?;
            println!(
                "leaderboard {:?} of app {app} reset: {removed} entries removed",
                board.def.name.as_str()
            );
            Ok(())
        }
        LeaderboardAction::DeleteEntry {
            app,
            board,
            user,
            store,
        } => {
            let (app, user) = (parse_app(&app)?, parse_user(&user)?);
            let store = open_store(&store).await?;
            let board = find_board(&*store, app, &board).await?;
            let period = board_period(&board, PeriodChoice::Current, unix_now())?;
            let draft = cli_audit(action::LEADERBOARD_ENTRY_DELETE).about(app, Some(user));
            if store
                .delete_leaderboard_entry(app, board.id, period, user, draft)
                .await?
            {
                println!(
                    "the entry of user {user} on leaderboard {:?} of app {app} is deleted",
                    board.def.name.as_str()
                );
                Ok(())
            } else {
                Err(fail(
                    exit::NOT_FOUND,
                    anyhow!(
                        "user {user} has no entry on leaderboard {:?} of app {app}",
                        board.def.name.as_str()
                    ),
                ))
            }
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// UTC Unix seconds, the time the CLI's resets and undos are dated by.
fn unix_now() -> laurel_core::UnixTime {
    laurel_store::unix_now_ms() / 1000
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use laurel_core::leaderboard::{
        BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod,
    };

    use super::*;

    fn board(period: BoardPeriod) -> laurel_store::Board {
        laurel_store::Board {
            id: 1,
            app: laurel_core::AppId::new(480).unwrap(),
            def: LeaderboardDef {
                name: BoardName::parse("B").unwrap(),
                sort: SortMethod::Ascending,
                display: DisplayType::Numeric,
                display_name: None,
                writes: BoardWrites::Client,
                period,
            },
            epoch: 0,
        }
    }

    #[test]
    fn the_previous_period_is_the_one_before_the_current() {
        // 2023-11-14 22:13:20 UTC, a Tuesday.
        let now = 1_700_000_000;
        let day = 86_400;
        let today = now - now % day;
        let daily = board(BoardPeriod::Daily);
        assert_eq!(
            board_period(&daily, PeriodChoice::Current, now).unwrap(),
            today
        );
        assert_eq!(
            board_period(&daily, PeriodChoice::Previous, now).unwrap(),
            today - day
        );
        let weekly = board(BoardPeriod::Weekly);
        let monday = today - day;
        assert_eq!(
            board_period(&weekly, PeriodChoice::Previous, now).unwrap(),
            monday - 7 * day
        );
        let monthly = board(BoardPeriod::Monthly);
        // 2023-10-01 00:00 UTC.
        assert_eq!(
            board_period(&monthly, PeriodChoice::Previous, now).unwrap(),
            1_696_118_400
        );
        let plain = board(BoardPeriod::None);
        assert_eq!(board_period(&plain, PeriodChoice::Current, now).unwrap(), 0);
        assert_eq!(
            board_period(&plain, PeriodChoice::Previous, now)
                .err()
                .map(|f| f.code),
            Some(exit::INVALID_INPUT)
        );
    }
}
