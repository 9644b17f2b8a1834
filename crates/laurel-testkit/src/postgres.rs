//! An ephemeral PostgreSQL cluster for tests: started from the machine's
//! PostgreSQL binaries on a free loopback port, a fresh database per test,
//! stopped and deleted when dropped (or when the process exits, for the
//! [shared](PostgresServer::shared) one).
//!
//! Start-up is kept short because `cargo nextest` runs every test in its own
//! process, and so starts a cluster per test: `initdb` (1–2 s) runs once per
//! machine and PostgreSQL version, into a template under the temporary
//! directory; each cluster is a copy of it (`cp -a`, about 30 MB) and starts
//! in about half a second in all on an idle machine (a database for a test
//! takes 0.1 s more). A cluster shared by all test processes would save that
//! half second, but needs someone to stop it last and makes a test that
//! stops the server ([`PostgresServer::stop`]) disturb every other; it is
//! not worth it at this cost.
//!
//! `initdb` and `postgres` refuse to run as root. As root (how CI runs), the
//! clusters belong to the `postgres` user that Debian's package creates (or
//! `nobody`), and the binaries run under that user's id.
//!
//! A test process killed before it could stop its cluster leaves it
//! running; the next cluster started on the machine stops and deletes every
//! cluster whose owning process is gone.
//!
//! [`PostgresServer::start_tls`] starts one that speaks TLS (`ssl=on` with
//! a certificate the test made, [`crate::tls`]) and refuses TCP connections
//! without it, so a test can tell that a client really encrypts.

use std::ffi::CString;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

/// The superuser of every test cluster; it connects without a password
/// (`trust`, loopback only).
pub const SUPERUSER: &str = "laurel";

/// Bumped whenever the `initdb` flags change, so that old templates are not used.
const TEMPLATE_FORMAT: u32 = 2;

/// Longest `pg_ctl` may wait for a start or a stop.
const PG_CTL_WAIT_SECONDS: &str = "60";

/// A folder left by a process that could not record itself is reaped after this.
const STALE_AFTER: Duration = Duration::from_secs(600);

/// A running PostgreSQL cluster of its own: a data directory, a port, a log.
pub struct PostgresServer {
    bin: PathBuf,
    /// Holds `data/`, the socket, `postgres.log` and `owner` (our pid).
    root: PathBuf,
    port: u16,
    owner: Option<Account>,
    databases: AtomicU32,
    startup: Duration,
    /// Serializes `stop`/`start_again`/drop.
    control: Mutex<()>,
    /// Started with `ssl=on` and TCP connections without TLS refused.
    tls: bool,
}

/// The unprivileged account clusters run as when the tests run as root.
#[derive(Debug, Clone, Copy)]
struct Account {
    uid: u32,
    gid: u32,
}

static SHARED: OnceLock<PostgresServer> = OnceLock::new();

impl PostgresServer {
    /// Starts a cluster of its own; panics (with PostgreSQL's log) when it
    /// cannot. Tests that stop or restart the server want their own.
    pub fn start() -> PostgresServer {
        match PostgresServer::try_start() {
            Ok(server) => server,
            Err(e) => panic!("starting a test PostgreSQL: {e:#}"),
        }
    }

    /// The cluster of this test process, started on first use and stopped
    /// when the process exits. Do not [`stop`](Self::stop) it: other tests
    /// of the process share it (each with its own [`database`](Self::database)).
    pub fn shared() -> &'static PostgresServer {
        SHARED.get_or_init(|| {
            let server = PostgresServer::start();
            // SAFETY: registers a plain `extern "C"` function with no
            // arguments, which is what atexit(3) takes.
            unsafe {
                libc::atexit(stop_shared_at_exit);
            }
            server
        })
    }

    /// A cluster of its own that speaks TLS with `certificate` (its
    /// `server.crt` and `server.key`, the key 0600 and owned by the server's
    /// account, as PostgreSQL demands), and whose `pg_hba.conf` accepts TCP
    /// connections only with TLS (`hostssl`; `hostnossl … reject`). The
    /// Unix socket stays open without TLS, for the tools. Panics when it
    /// cannot start.
    pub fn start_tls(certificate: &crate::tls::Issued) -> PostgresServer {
        match PostgresServer::try_start_with(Some(certificate)) {
            Ok(server) => server,
            Err(e) => panic!("starting a test PostgreSQL with TLS: {e:#}"),
        }
    }

    pub fn try_start() -> Result<PostgresServer> {
        PostgresServer::try_start_with(None)
    }

    fn try_start_with(tls: Option<&crate::tls::Issued>) -> Result<PostgresServer> {
        let started = Instant::now();
        let bin = find_bin_dir()?;
        let owner = if is_root() {
            Some(unprivileged_account()?)
        } else {
            None
        };
        let base = base_dir()?;
        reap_orphans(&base, &bin, owner);
        let template = template(&base, &bin, owner)?;

        static CLUSTERS: AtomicU32 = AtomicU32::new(0);
        let root = base.join(format!(
            "cluster-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::Relaxed)
        ));
        if root.exists() {
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("removing an old {}", root.display()))?;
        }
        std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
        std::fs::write(root.join("owner"), std::process::id().to_string())
            .context("recording the cluster's owner")?;
        give_to(&root, owner)?;
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(root.join("data"))
            .output()
            .context("running cp")?;
        if let Err(e) = check(&copied, "copying the template cluster") {
            let _ = std::fs::remove_dir_all(&root);
            return Err(e);
        }

        // From here on, dropping `server` stops and deletes the cluster.
        let mut server = PostgresServer {
            bin,
            root,
            port: 0,
            owner,
            databases: AtomicU32::new(0),
            startup: Duration::ZERO,
            control: Mutex::new(()),
            tls: tls.is_some(),
        };
        if let Some(certificate) = tls {
            server.install_tls(certificate)?;
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            server.port = free_port()?;
            match server.pg_ctl_start() {
                Ok(()) => break,
                // Another process may have taken the port: try another one.
                Err(e) if attempts < 5 => {
                    eprintln!("laurel-testkit: PostgreSQL did not start, retrying: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
        server.startup = started.elapsed();
        Ok(server)
    }

    /// `postgres://laurel@127.0.0.1:PORT/dbN` for a freshly created, empty
    /// database; panics when it cannot be created.
    pub fn database(&self) -> String {
        match self.try_database() {
            Ok(url) => url,
            Err(e) => panic!("creating a test database: {e:#}"),
        }
    }

    pub fn try_database(&self) -> Result<String> {
        Ok(self.url(&self.create_database()?))
    }

    /// Creates a fresh, empty database; returns its name.
    pub fn create_database(&self) -> Result<String> {
        let name = format!("db{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("createdb"))
            .arg("-h")
            .arg(self.tool_host())
            .args(["-p", &port, "-U", SUPERUSER, &name])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .context("running createdb")?;
        check(&out, &format!("creating database {name}"))?;
        Ok(name)
    }

    /// Runs `sql` in database `name` with `psql` as the superuser; returns
    /// its rows, one a line, fields separated by `|`.
    pub fn psql(&self, name: &str, sql: &str) -> Result<String> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.tool_host())
            .args(["-p", &port, "-U", SUPERUSER, "-d", name])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        check(&out, &format!("psql {sql:?}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Where the tools connect: loopback TCP, or the Unix socket of a TLS
    /// cluster (whose TCP side wants TLS, which the tools would negotiate
    /// by their own rules).
    fn tool_host(&self) -> std::ffi::OsString {
        if self.tls {
            self.root.clone().into_os_string()
        } else {
            "127.0.0.1".into()
        }
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How long [`start`](Self::start) took (template, copy, start).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, the
    /// data is kept), as an operator or a crash of the database host would.
    pub fn stop(&self) {
        let _guard = self.lock();
        if let Err(e) = self.pg_ctl(&["-m", "fast", "stop"]) {
            panic!("stopping the test PostgreSQL: {e:#}");
        }
    }

    /// Starts the stopped server again, on the same port with the same data.
    pub fn start_again(&self) {
        let _guard = self.lock();
        if let Err(e) = self.pg_ctl_start() {
            panic!("restarting the test PostgreSQL: {e:#}");
        }
    }

    /// Freezes the server: SIGSTOP to the postmaster and every server
    /// process. Connections stay open and nothing answers, as with a hung
    /// database host or a network partition. [`thaw`](Self::thaw) undoes it
    /// (so does dropping the server).
    pub fn freeze(&self) {
        let _guard = self.lock();
        self.signal_all(libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        let _guard = self.lock();
        self.signal_all(libc::SIGCONT);
    }

    /// Sends `signal` to the postmaster and its children (the server
    /// processes: backends, checkpointer, WAL writer…).
    fn signal_all(&self, signal: libc::c_int) {
        let Some(postmaster) = self.postmaster_pid() else {
            return;
        };
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in pids {
            // SAFETY: kill(2) with a pid and a valid signal number has no memory effects.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    fn postmaster_pid(&self) -> Option<i32> {
        postmaster_pid(&self.root.join("data"))
    }

    /// The last lines of the server's log, for a failing test's message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes the certificate and key into the data directory and lets
    /// TCP connections in only with TLS.
    fn install_tls(&self, certificate: &crate::tls::Issued) -> Result<()> {
        let data = self.root.join("data");
        let cert = data.join("server.crt");
        let key = data.join("server.key");
        std::fs::write(&cert, &certificate.cert_pem)
            .with_context(|| format!("writing {}", cert.display()))?;
        std::fs::write(&key, &certificate.key_pem)
            .with_context(|| format!("writing {}", key.display()))?;
        // PostgreSQL refuses a key anyone but its owner, the server's
        // account, may read.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        let hba = data.join("pg_hba.conf");
        std::fs::write(
            &hba,
            "# Written by laurel-testkit: TCP only with TLS.\n\
             local     all all              trust\n\
             hostssl   all all 127.0.0.1/32 trust\n\
             hostssl   all all ::1/128      trust\n\
             hostnossl all all 0.0.0.0/0    reject\n\
             hostnossl all all ::/0         reject\n",
        )
        .with_context(|| format!("writing {}", hba.display()))?;
        for path in [&cert, &key, &hba] {
            give_to(path, self.owner)?;
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut settings = String::new();
        let _ = write!(
            settings,
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
             -c shared_buffers=16MB -c max_connections=300 -c log_min_messages=warning",
            self.port,
            self.root.display()
        );
        if self.tls {
            settings.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log = self.root.join("postgres.log");
        let log = log.to_string_lossy();
        self.pg_ctl(&["-l", &log, "-o", &settings, "start"])
            .with_context(|| {
                format!(
                    "starting PostgreSQL on port {}:\n{}",
                    self.port,
                    self.log_tail()
                )
            })
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<()> {
        let data = self.root.join("data");
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-w", "-s", "-t", PG_CTL_WAIT_SECONDS])
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null());
        run_as(&mut command, self.owner);
        let out = command.output().context("running pg_ctl")?;
        check(&out, &format!("pg_ctl {}", args.join(" ")))
    }

    /// Stops the server at once and deletes its folder; errors are ignored
    /// (this runs from `Drop` and at exit).
    fn destroy(&self) {
        let _guard = self.lock();
        if self.root.join("data").join("postmaster.pid").exists() {
            // A frozen server could not act on the stop.
            self.signal_all(libc::SIGCONT);
            let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.destroy();
    }
}

extern "C" fn stop_shared_at_exit() {
    // A panic must not unwind into libc.
    let _ = std::panic::catch_unwind(|| {
        if let Some(server) = SHARED.get() {
            server.destroy();
        }
    });
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// `postgres` (Debian's package creates it), else `nobody`.
fn unprivileged_account() -> Result<Account> {
    for name in ["postgres", "nobody"] {
        if let Some(account) = lookup_account(name) {
            return Ok(account);
        }
    }
    bail!(
        "running as root, and neither a `postgres` nor a `nobody` account exists \
         to run PostgreSQL as (initdb refuses root)"
    )
}

fn lookup_account(name: &str) -> Option<Account> {
    let name = CString::new(name).ok()?;
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, the buffer's length is
    // passed with it, and `entry` is only read when `found` points to it.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return None;
    }
    Some(Account {
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    })
}

/// Runs the command under the unprivileged account, if there is one (std
/// drops root's supplementary groups when it sets the uid).
fn run_as(command: &mut Command, owner: Option<Account>) {
    if let Some(account) = owner {
        command.uid(account.uid).gid(account.gid);
        command.env("HOME", "/");
    }
}

fn give_to(path: &Path, owner: Option<Account>) -> Result<()> {
    if let Some(account) = owner {
        std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid))
            .with_context(|| format!("handing {} to uid {}", path.display(), account.uid))?;
    }
    Ok(())
}

/// The folder of PostgreSQL's programs: where `initdb` is on `PATH`, else
/// the newest `/usr/lib/postgresql/*/bin` (Debian keeps `initdb` and
/// `pg_ctl` there, off `PATH`).
pub fn find_bin_dir() -> Result<PathBuf> {
    // Followed through symbolic links: a `PATH` folder may link `initdb`
    // alone (no `createdb` beside it); its real folder has every program.
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "createdb", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let Ok(initdb) = std::fs::canonicalize(dir.join("initdb")) else {
                continue;
            };
            if let Some(real) = initdb.parent().filter(|d| complete(d)) {
                return Ok(real.to_owned());
            }
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let version: Option<Vec<u32>> = name
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect();
            let bin = entry.path().join("bin");
            complete(&bin).then_some((version?, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL's initdb is neither on PATH nor in /usr/lib/postgresql/*/bin; \
             `cargo xtask deps` installs it"
        ),
    }
}

/// The folder every test cluster and template lives in, traversable by the
/// unprivileged account.
fn base_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir().join("laurel-testkit-postgres");
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let mode = std::fs::metadata(&base)?.permissions().mode();
    if mode & 0o755 != 0o755 {
        // Only its owner may change it; if that is someone else, initdb says so.
        let _ = std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755));
    }
    Ok(base)
}

/// A data directory `initdb` made, copied for every cluster. Built once per
/// PostgreSQL version: into a folder of its own, then renamed into place,
/// so that processes starting together never see a half-built one.
fn template(base: &Path, bin: &Path, owner: Option<Account>) -> Result<PathBuf> {
    let version = Command::new(bin.join("initdb"))
        .arg("--version")
        .output()
        .context("running initdb --version")?;
    check(&version, "initdb --version")?;
    let version: String = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap_or("unknown")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let uid = owner.map_or_else(|| unsafe { libc::geteuid() }, |a| a.uid);
    let template = base.join(format!("template-{TEMPLATE_FORMAT}-{version}-{uid}"));
    if template.join("PG_VERSION").is_file() {
        return Ok(template);
    }
    // Templates of an older format are of no more use to anyone.
    let current = format!("template-{TEMPLATE_FORMAT}-");
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("template-") && !name.starts_with(&current) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let building = base.join(format!(
        "building-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir(&building).with_context(|| format!("creating {}", building.display()))?;
    std::fs::set_permissions(&building, std::fs::Permissions::from_mode(0o700))?;
    give_to(&building, owner)?;
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&building)
        .args([
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            // 1 MiB WAL segments instead of 16: a third less to copy per cluster.
            "--wal-segsize=1",
        ])
        .current_dir(base)
        .stdin(Stdio::null());
    run_as(&mut initdb, owner);
    let out = initdb.output().context("running initdb")?;
    if let Err(e) = check(&out, "initdb") {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    // Fails when another process got there first: theirs is as good.
    if std::fs::rename(&building, &template).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    if !template.join("PG_VERSION").is_file() {
        bail!("no template cluster at {}", template.display());
    }
    Ok(template)
}

/// Stops and deletes clusters whose test process is gone (killed before it
/// could), and half-built templates nobody finished.
fn reap_orphans(base: &Path, bin: &Path, owner: Option<Account>) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let stale = |path: &Path| {
        std::fs::metadata(path)
            .ok()
            .and_then(|m| {
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(m.mtime().max(0) as u64))
            })
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER)
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("building-") {
            if stale(&path) {
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        }
        if !name.starts_with("cluster-") {
            continue;
        }
        let alive = match std::fs::read_to_string(path.join("owner")) {
            Ok(pid) => pid
                .trim()
                .parse::<u32>()
                .is_ok_and(|pid| Path::new("/proc").join(pid.to_string()).exists()),
            Err(_) => !stale(&path),
        };
        if alive {
            continue;
        }
        let data = path.join("data");
        if data.join("postmaster.pid").exists() {
            let mut stop = Command::new(bin.join("pg_ctl"));
            stop.arg("-D")
                .arg(&data)
                .args(["-w", "-s", "-m", "immediate", "stop"])
                .current_dir(base)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            run_as(&mut stop, owner);
            let _ = stop.status();
        }
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// A loopback port nobody listens on right now (the server binds it a moment
/// later; a lost race shows as a failed start, which is retried).
fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

fn check(out: &Output, what: &str) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    bail!(
        "{what} failed ({}): {} {}",
        out.status,
        text(&out.stderr),
        text(&out.stdout)
    )
}

/// The pid of a cluster's postmaster, from the first line of
/// `postmaster.pid` in its data directory; `None` when it is not running.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}
