//! Server child processes: started, waited for until they print their
//! address, and always stopped (also on error, by `Drop`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    stderr_path: PathBuf,
}

impl ChildGuard {
    /// Starts `cmd` (stdout piped, stderr to `stderr_path`) and waits up to
    /// `timeout` for a stdout line `READY_PREFIX<addr>`.
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        ready_prefix: &str,
        stderr_path: &Path,
        timeout: Duration,
    ) -> Result<(ChildGuard, SocketAddr)> {
        let stderr = File::create(stderr_path)
            .with_context(|| format!("creating {}", stderr_path.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the
        // child if this process dies, so no server outlives a killed benchmark.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        let stdout = child
            .stdout
            .take()
            .context("the child has no piped stdout")?;
        let mut guard = ChildGuard {
            name: name.to_owned(),
            child: Some(child),
            stderr_path: stderr_path.to_owned(),
        };

        let (tx, rx) = mpsc::channel::<String>();
        let prefix = ready_prefix.to_owned();
        std::thread::spawn(move || {
            // Keeps draining stdout after the ready line, so the child never blocks on it.
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.trim().strip_prefix(&prefix) {
                    sent = true;
                    let _ = tx.send(rest.trim_end_matches('/').to_owned());
                }
            }
        });
        let deadline = Instant::now() + timeout;
        let addr_text = match rx.recv_timeout(timeout) {
            Ok(text) => text,
            Err(_) => {
                let status = guard
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                let why = match status {
                    Some(s) => format!("exited with {s}"),
                    None if Instant::now() >= deadline => {
                        format!("did not print {ready_prefix:?} within {timeout:?}")
                    }
                    None => "closed its stdout".to_owned(),
                };
                bail!("{name} {why}; stderr tail:\n{}", guard.stderr_tail(2000));
            }
        };
        let addr: SocketAddr = addr_text.parse().map_err(|e| {
            anyhow!("{name} printed an address I cannot parse ({addr_text:?}): {e}")
        })?;
        if !addr.ip().is_loopback() {
            bail!("{name} listens on {addr}, not a loopback address");
        }
        Ok((guard, addr))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "{} exited with {status}; stderr tail:\n{}",
                self.name,
                self.stderr_tail(2000)
            );
        }
        Ok(())
    }

    /// The last `bytes` of the child's stderr.
    pub fn stderr_tail(&self, bytes: u64) -> String {
        let Ok(mut f) = File::open(&self.stderr_path) else {
            return String::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes)));
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// SIGKILL, as a crash or the OOM killer would end it; waits for the
    /// process (`laurel-bench soak`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 5 s; waits for the process.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // SAFETY: plain kill(2) on our own child's pid, which we have not reaped yet.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// VmRSS and VmHWM of a process, in KiB.
pub fn memory_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status"))?;
        let num = line[name.len()..].trim().trim_end_matches("kB").trim();
        Ok(num.parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used so far; `pid` 0 means this process.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let t = proc_ticks(pid)?;
    Some(ticks(t.utime + t.stime))
}

/// A process's CPU clock ticks, from `/proc/PID/stat` (`pid` 0: this process).
#[derive(Debug, Clone, Copy)]
struct ProcTicks {
    ppid: u32,
    utime: u64,
    stime: u64,
    /// Children that exited and were waited for.
    cutime: u64,
    cstime: u64,
}

fn proc_ticks(pid: u32) -> Option<ProcTicks> {
    let path = if pid == 0 {
        "/proc/self/stat".to_owned()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    Some(ProcTicks {
        ppid: u32::try_from(field(1)?).ok()?,
        utime: field(11)?,
        stime: field(12)?,
        cutime: field(13)?,
        cstime: field(14)?,
    })
}

fn ticks(n: u64) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Duration::from_secs_f64(n as f64 / hz as f64)
}

/// What one line of a [`GroupMeter`] counts.
#[derive(Debug, Clone, Copy)]
pub enum Counted {
    /// One process.
    Process(u32),
    /// A process and its children, also the children that exited meanwhile
    /// (the PostgreSQL postmaster: backends come and go with connections).
    Tree(u32),
    /// This process's children that exited and were waited for (`pgbench`).
    ReapedChildren,
}

impl Counted {
    fn time(self) -> Option<Duration> {
        match self {
            Counted::Process(pid) => cpu_time(pid),
            Counted::ReapedChildren => {
                let t = proc_ticks(0)?;
                Some(ticks(t.cutime + t.cstime))
            }
            Counted::Tree(root) => {
                let t = proc_ticks(root)?;
                let mut sum = t.utime + t.stime + t.cutime + t.cstime;
                for entry in std::fs::read_dir("/proc").ok()?.flatten() {
                    let Some(pid) = entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    if let Some(c) = proc_ticks(pid).filter(|c| c.ppid == root) {
                        sum += c.utime + c.stime + c.cutime + c.cstime;
                    }
                }
                Some(ticks(sum))
            }
        }
    }
}

/// Like [`CpuMeter`], for any number of named groups of processes.
pub struct GroupMeter {
    start: Instant,
    groups: Vec<(String, Counted, Option<Duration>)>,
    own: Option<Duration>,
    machine: Option<(u64, u64)>,
}

/// Cores used on average by each group, by this process and by everything else.
#[derive(Debug, Clone, Default)]
pub struct GroupCpu {
    pub groups: Vec<(String, Option<f64>)>,
    /// This process alone (the load generator), without its children.
    pub own: f64,
    pub others: Option<f64>,
}

impl GroupMeter {
    pub fn start(groups: Vec<(String, Counted)>) -> GroupMeter {
        GroupMeter {
            start: Instant::now(),
            groups: groups
                .into_iter()
                .map(|(name, c)| (name, c, c.time()))
                .collect(),
            own: cpu_time(0),
            machine: machine_ticks(),
        }
    }

    pub fn stop(&self) -> GroupCpu {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        let groups: Vec<(String, Option<f64>)> = self
            .groups
            .iter()
            .map(|(name, c, t0)| {
                let used = c
                    .time()
                    .zip(*t0)
                    .and_then(|(t1, t0)| t1.checked_sub(t0))
                    .map(|d| d.as_secs_f64() / wall);
                (name.clone(), used)
            })
            .collect();
        let own = cpu_time(0)
            .zip(self.own)
            .and_then(|(t1, t0)| t1.checked_sub(t0))
            .map_or(0.0, |d| d.as_secs_f64() / wall);
        let counted: f64 = own + groups.iter().filter_map(|g| g.1).sum::<f64>();
        let others = others_since(self.machine, counted);
        GroupCpu {
            groups,
            own,
            others,
        }
    }
}

/// Busy and total jiffies of the whole machine (`/proc/stat`), all CPUs.
/// Cores the rest of the machine used since `machine` (a [`machine_ticks`]
/// reading): the whole machine's busy cores less the `counted` ones.
fn others_since(machine: Option<(u64, u64)>, counted: f64) -> Option<f64> {
    let ((b0, t0), (b1, t1)) = machine.zip(machine_ticks())?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let busy = (b1.checked_sub(b0)? as f64) / (t1.checked_sub(t0)?.max(1) as f64) * cpus;
    Some((busy - counted).max(0.0))
}

fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already in user).
    let total: u64 = v.iter().take(8).sum();
    // Busy = user + nice + system + steal (time the hypervisor gave to other
    // guests). Interrupt time is left out: it is mostly our own disk and
    // loopback traffic. Kernel I/O workers serving our fsyncs count as system.
    let busy = v.get(0..3)?.iter().sum::<u64>() + v.get(7).copied().unwrap_or(0);
    Some((busy, total))
}

/// Measures, over a span, the CPU used by a server process (if any), by this
/// process, and by everything else on the machine.
pub struct CpuMeter {
    pid: Option<u32>,
    start: Instant,
    server: Option<Duration>,
    own: Option<Duration>,
    machine: Option<(u64, u64)>,
}

/// Cores used on average over a span (1.0 = one core busy all the time).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server: Option<f64>,
    /// This process (the load generator, or the baseline's SQLite work).
    pub own: f64,
    /// Everything else on the machine (other builds, the kernel's flushers…).
    pub others: Option<f64>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pid,
            start: Instant::now(),
            server: pid.and_then(cpu_time),
            own: cpu_time(0),
            machine: machine_ticks(),
        }
    }

    pub fn stop(&self) -> Option<CpuUse> {
        let wall = self.start.elapsed().as_secs_f64();
        let server = match self.pid {
            Some(pid) => Some(cpu_time(pid)?.checked_sub(self.server?)?.as_secs_f64() / wall),
            None => None,
        };
        let own = cpu_time(0)?.checked_sub(self.own?)?.as_secs_f64() / wall;
        let others = others_since(self.machine, own + server.unwrap_or(0.0));
        Some(CpuUse {
            server,
            own,
            others,
        })
    }
}
