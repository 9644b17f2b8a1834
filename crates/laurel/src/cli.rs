//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use laurel_schema_formats::Format;

use crate::migrate;

#[derive(Parser, Debug)]
#[command(
    name = "laurel",
    version,
    about = "Laurel: self-hosted, Steam-compatible achievements and stats",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage error, 3 invalid input, 4 not found."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the state lives; shared by every command that opens the store.
/// `Debug` shows the database URL without its password.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// Data directory for the embedded SQLite database.
    #[arg(long, env = "LAUREL_DATA_DIR", default_value = "./laurel-data")]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` (default: DATA_DIR/laurel.sqlite3), or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` for nodes sharing PostgreSQL.
    /// A URL with a password belongs in LAUREL_DATABASE, not on the command
    /// line, where every user of the machine can read it (`ps`).
    #[arg(long, env = "LAUREL_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// PostgreSQL only: connections in this node's pool, i.e. database calls
    /// in flight at once (1–256). Nodes × pool size must stay under the
    /// server's `max_connections`.
    #[arg(long, env = "LAUREL_DB_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub db_pool_size: u16,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("data_dir", &self.data_dir)
            .field(
                "database",
                &self
                    .database
                    .as_deref()
                    .map(laurel_store_postgres::redacted_url),
            )
            .field("db_pool_size", &self.db_pool_size)
            .finish()
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Import or export an app's schema.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
    /// Inspect or reset one user's progress.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage an app's server (publisher) keys.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Copy apps from one database to another (SQLite ⇄ PostgreSQL) and verify every user.
    #[command(long_about = migrate::LONG_ABOUT)]
    Migrate(migrate::MigrateArgs),
    /// Revoke user tokens (running servers refuse them within 5 seconds).
    Tokens {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Rotate the token-signing secret.
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// List the audit log (newest first, one JSON record per line), or undo a reset.
    Audit(AuditArgs),
    /// List, read and moderate an app's leaderboards.
    Leaderboard {
        #[command(subcommand)]
        action: LeaderboardAction,
    },
}

/// Which period of a periodic board (a board without periods has only the current one).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodChoice {
    Current,
    /// The last finished period, its final standings.
    Previous,
}

#[derive(Subcommand, Debug)]
pub enum LeaderboardAction {
    /// One line per board: id, name, sort, display, writes, period, entries (current period).
    List {
        #[arg(long)]
        app: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One line per entry, by rank: rank, Steam id, score, set_at (Unix seconds).
    Show {
        #[arg(long)]
        app: String,
        /// The board's name (any case).
        #[arg(long)]
        board: String,
        /// First rank shown (1-based).
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        start: i64,
        /// Last rank shown.
        #[arg(long, default_value_t = 25, allow_negative_numbers = true)]
        end: i64,
        #[arg(long, value_enum, default_value_t = PeriodChoice::Current)]
        period: PeriodChoice,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove every entry of a board, in every period (recorded in the audit log).
    Reset {
        #[arg(long)]
        app: String,
        #[arg(long)]
        board: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete one user's entry in the board's current period (recorded in the audit log).
    DeleteEntry {
        #[arg(long)]
        app: String,
        #[arg(long)]
        board: String,
        /// The user's Steam id.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Refuse the tokens issued until now: one user's, or with no STEAM_ID every user's of APP.
    Revoke {
        app: String,
        steam_id: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretAction {
    /// Make a fresh secret sign new tokens; tokens signed with the old one
    /// are accepted for the grace period, then refused.
    Rotate {
        /// Seconds the old secret still verifies (default: a day, the default token lifetime).
        #[arg(long, default_value_t = 86_400)]
        grace: u64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: Option<AuditAction>,
    /// Only this app's records.
    #[arg(long)]
    pub app: Option<String>,
    /// Only records older than this id (the next page).
    #[arg(long)]
    pub before: Option<i64>,
    /// At most this many records (1–1000).
    #[arg(long, default_value_t = 100,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand, Debug)]
pub enum AuditAction {
    /// Undo the reset of audit record ID: put back the progress and the
    /// global figures it removed (refused if the user has stored since).
    Undo {
        id: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `laurel serve`: where to listen, what to serve, and its limits.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "LAUREL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Development mode: load demo app 480 and issue its tokens for any user id without
    /// a key. Refused on a non-loopback address unless --dev-allow-remote.
    #[arg(long)]
    pub dev: bool,
    /// Let --dev listen on an address other than loopback (anyone who reaches it gets tokens).
    #[arg(long, requires = "dev")]
    pub dev_allow_remote: bool,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds a connection may take to send a request's head, counted from
    /// when it opened or its previous answer was sent (so also the idle
    /// timeout of keep-alive connections).
    #[arg(long, env = "LAUREL_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Lifetime of the user tokens this server mints, in seconds (a game's
    /// backend asks for a new one when it runs out).
    #[arg(long, env = "LAUREL_TOKEN_TTL", default_value_t = 24 * 3600,
          value_parser = clap::value_parser!(u64).range(60..=366 * 24 * 3600))]
    pub token_ttl: u64,
    /// Bytes of users' progress kept in memory to answer reads (0: none).
    #[arg(long, env = "LAUREL_CACHE_BYTES", default_value_t = laurel_server::DEFAULT_CACHE_BYTES)]
    pub cache_bytes: usize,
    /// Most connections open at once (lowered to what the file-descriptor limit allows).
    #[arg(long, env = "LAUREL_MAX_CONNECTIONS", default_value_t = laurel_server::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
    /// Most connections open at once from one client address.
    #[arg(long, env = "LAUREL_MAX_CONNECTIONS_PER_ADDRESS",
          default_value_t = laurel_server::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections_per_address: usize,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate
    /// first, then any intermediates); needs --tls-key. Both files are read
    /// again without a restart when they change (checked every 5 s) and on
    /// SIGHUP.
    #[arg(
        long,
        env = "LAUREL_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert's certificate (PEM: PKCS#8, RSA or EC).
    #[arg(
        long,
        env = "LAUREL_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub rates: RateArgs,
}

/// Rate limits (docs/security.md has the defaults' arithmetic). A request
/// over its budget is answered 429 with EResult 84 and `Retry-After`.
#[derive(clap::Args, Debug)]
pub struct RateArgs {
    /// Requests per second one user token may make, sustained (an app's
    /// schema may set its own: app.user_requests_per_second).
    #[arg(long, env = "LAUREL_USER_RATE", default_value_t = laurel_server::rate_limit::DEFAULT_USER_RATE.per_second,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub user_rate: u32,
    /// Requests one user token may make at once after an idle period.
    #[arg(long, env = "LAUREL_USER_BURST", default_value_t = laurel_server::rate_limit::DEFAULT_USER_RATE.burst,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub user_burst: u32,
    /// Requests per second one server key may make, sustained.
    #[arg(long, env = "LAUREL_KEY_RATE", default_value_t = laurel_server::rate_limit::DEFAULT_SERVER_KEY_RATE.per_second,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub key_rate: u32,
    /// Requests one server key may make at once after an idle period.
    #[arg(long, env = "LAUREL_KEY_BURST", default_value_t = laurel_server::rate_limit::DEFAULT_SERVER_KEY_RATE.burst,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub key_burst: u32,
    /// Requests per second one client address may make without a credential.
    #[arg(long, env = "LAUREL_ADDRESS_RATE", default_value_t = laurel_server::rate_limit::DEFAULT_ADDRESS_RATE.per_second,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub address_rate: u32,
    /// Requests one client address may make at once without a credential.
    #[arg(long, env = "LAUREL_ADDRESS_BURST", default_value_t = laurel_server::rate_limit::DEFAULT_ADDRESS_RATE.burst,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub address_burst: u32,
    /// Failed authentications per minute one client address may make before
    /// its requests with a credential are refused for a while.
    #[arg(long, env = "LAUREL_AUTH_FAILURES_PER_MINUTE", default_value_t = laurel_server::rate_limit::DEFAULT_AUTH_FAILURES_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_per_minute: u32,
    /// Failed authentications one client address may make at once.
    #[arg(long, env = "LAUREL_AUTH_FAILURE_BURST", default_value_t = laurel_server::rate_limit::DEFAULT_AUTH_FAILURE_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failure_burst: u32,
    /// A network (CIDR) of reverse proxies whose X-Forwarded-For is believed;
    /// repeat for several.
    #[arg(
        long = "trusted-proxy",
        env = "LAUREL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Turn rate limiting off (benchmarks of the server itself; never on the Internet).
    #[arg(long)]
    pub no_rate_limits: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum SchemaAction {
    /// Validate a schema file and make it the app's schema (creates the app).
    ///
    /// Formats: json, toml (Laurel's own), steam-json (a saved GetSchemaForGame
    /// response), emu-achievements + emu-stats-txt | emu-stats-json +
    /// emu-leaderboards (the Steam emulators' achievements.json with stats.txt
    /// or stats.json, and leaderboards.txt: give them together), vdf (Valve
    /// KeyValues text). See docs/schema-formats.md.
    Import {
        /// App id (e.g. 480).
        app: String,
        /// Schema file(s): one file, or the emulators' achievements.json with
        /// its stats file and leaderboards.txt.
        #[arg(required = true, num_args = 1..=3)]
        files: Vec<PathBuf>,
        /// Format of a single file; by default detected from its name and content.
        #[arg(long)]
        format: Option<Format>,
        /// Language of texts that carry none (a Steam response fetched with one `l`).
        #[arg(long, default_value = "english")]
        language: String,
        /// Only validate; change nothing.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print an app's schema (what a format cannot carry is listed on stderr).
    Export {
        app: String,
        /// json, toml, steam-json, emu-achievements, emu-stats-txt, emu-stats-json,
        /// emu-leaderboards or vdf.
        #[arg(long, default_value = "json")]
        format: Format,
        /// The one language written by formats that carry one (steam-json).
        #[arg(long, default_value = "english")]
        language: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Print a user's progress as JSON (every stat and achievement of the schema).
    Show {
        app: String,
        steam_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Reset a user's stats (and achievements with --achievements).
    Reset {
        app: String,
        steam_id: String,
        /// Lock every achievement again too.
        #[arg(long)]
        achievements: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyAction {
    /// Create a server key for an app and print its secret (shown once; only its hash is stored).
    Create {
        app: String,
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List an app's keys (never the secrets).
    List {
        app: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id.
    Revoke {
        app: String,
        id: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
}
