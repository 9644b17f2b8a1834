//! The command line: the foundation bench's flags, its subcommands, and
//! the flags of `laurel-bench postgres`, `leaderboards` and `soak`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "laurel-bench",
    about = "Laurel's foundation benchmark (prints figures; never asserts them)"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Sub>,
    /// Seconds per measured phase (each phase also has a 1 s warm-up).
    #[arg(long, global = true, default_value_t = 10)]
    pub(crate) duration: u64,
    /// Concurrent clients (keep-alive connections), each its own user.
    #[arg(long, global = true, default_value_t = 32)]
    pub(crate) clients: usize,
    /// The `laurel` server binary (default: `laurel` next to this binary, i.e. target/release/laurel).
    #[arg(long, global = true)]
    pub(crate) laurel_bin: Option<PathBuf>,
    /// Smoke run: 2 s phases, one round.
    #[arg(long, global = true)]
    pub(crate) quick: bool,
    /// Rounds of the four phases, each round in an order rotated by one; the
    /// ratios pool every round, so a drift of the machine's speed during the
    /// run weighs on both sides of each ratio alike. (`leaderboards`: rounds
    /// of each hot-board comparison, the side that goes first alternating.)
    #[arg(long, default_value_t = 3, global = true)]
    pub(crate) rounds: usize,
    /// Directory under which the temporary databases are created (default: the system temp dir).
    /// Must be on a real disk: fsync on tmpfs costs nothing.
    #[arg(long, global = true)]
    pub(crate) work_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Sub {
    /// Stores on PostgreSQL: pgbench running the same transaction, then
    /// Laurel with 1 node and with 2 nodes, on one cluster.
    Postgres(PgFlags),
    /// Leaderboards: ranks at a million entries on SQLite and PostgreSQL,
    /// and durable uploads on one hot board against SQLite's baseline.
    Leaderboards(BoardFlags),
    /// Durability at scale (issue 16): SIGKILLs of `laurel serve` under
    /// concurrent stores, on SQLite and on two PostgreSQL nodes, then every
    /// acknowledged store checked present exactly once and the global
    /// figures against a recount (asserted: exit 1 on any loss). Not in CI.
    Soak(SoakFlags),
    /// Internal: the hello-world server of phase 3.
    #[command(hide = true)]
    HelloServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct BoardFlags {
    /// Entries on the board the ranks are measured on.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) entries: u64,
    /// Requests of each kind, one at a time.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) samples: usize,
    /// Skip PostgreSQL (SQLite only).
    #[arg(long)]
    pub(crate) no_postgres: bool,
    /// Measure only the uploads on one hot board (skip ranks at scale).
    #[arg(long)]
    pub(crate) uploads_only: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PgFlags {
    /// `shared_buffers` of the cluster. The test harness starts clusters with
    /// 16MB; the bench restarts its cluster with this (PostgreSQL's default).
    #[arg(long, default_value = "128MB")]
    pub(crate) shared_buffers: String,
    /// `max_wal_size`. The harness's clusters have 1 MB WAL segments, so
    /// initdb set 64MB (64 segments); PostgreSQL's default with 16 MB
    /// segments is 1GB. Small values bring checkpoints into the phases.
    #[arg(long, default_value = "1GB")]
    pub(crate) max_wal_size: String,
    /// `min_wal_size` (harness: 5MB, i.e. 5 segments; PostgreSQL's default: 80MB).
    #[arg(long, default_value = "80MB")]
    pub(crate) min_wal_size: String,
    /// Connections per Laurel node (`laurel serve --db-pool-size`). Default:
    /// the node's share of the clients, so that every client can have a
    /// transaction in flight, as every pgbench connection can.
    #[arg(long)]
    pub(crate) db_pool_size: Option<u16>,
    /// pgbench threads (`-j`).
    #[arg(long, default_value_t = 2)]
    pub(crate) pgbench_jobs: usize,
    /// Rounds of the phases (each round in an order rotated by one);
    /// the summary pools every round's measured windows. The speed of a
    /// shared VM drifts by tens of percent within a minute: one round per
    /// phase would compare phases run at different speeds.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// A `laurel` binary of an older build: its stores (1 and 2 nodes),
    /// hot-user stores and reads run as phases of their own in the same
    /// rounds, and the summary prints the new build's ratios against it.
    #[arg(long)]
    pub(crate) baseline_bin: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SoakFlags {
    /// Which store to soak.
    #[arg(long, value_enum, default_value_t = SoakBackend::Both)]
    pub(crate) backend: SoakBackend,
    /// SIGKILLs per backend.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) kills: usize,
    /// Longest the kills may go on per backend, in minutes: the run stops
    /// killing when this is reached, checks what it has and says so.
    #[arg(long, default_value_t = 20)]
    pub(crate) max_minutes: u64,
    /// Concurrent writers (threads, each with its own connection).
    #[arg(long, default_value_t = 16)]
    pub(crate) writers: usize,
    /// Users each writer owns (it is their only writer).
    #[arg(long, default_value_t = 4)]
    pub(crate) users_per_writer: usize,
    /// Longest wait, in milliseconds, between a node's restart and the next
    /// kill (each wait drawn at random from 0 to this).
    #[arg(long, default_value_t = 200)]
    pub(crate) max_delay_ms: u64,
    /// Seed of the kill schedule and the writers' choices (default: from the clock; printed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SoakBackend {
    Sqlite,
    Postgres,
    Both,
}

/// The `laurel` server binary: `--laurel-bin`, else `laurel` next to this binary.
pub(crate) fn laurel_bin(cli: &Cli, exe: &Path) -> PathBuf {
    cli.laurel_bin.clone().unwrap_or_else(|| {
        exe.parent()
            .map(|d| d.join("laurel"))
            .unwrap_or_else(|| "laurel".into())
    })
}
