//! What the run is measured on: the machine, its load, the file system.

use std::path::Path;

use anyhow::{Context, Result};

/// `/proc/loadavg`'s 1/5/15-minute figures: other work on the machine skews the run.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `nproc` and the CPU model.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model})")
}

/// The file system type of `path`, with a warning for tmpfs.
pub(crate) fn fs_kind(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return "unknown fs".into();
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a properly sized out-parameter.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown fs".into();
    }
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const EXT4_MAGIC: i64 = 0xEF53;
    const XFS_MAGIC: i64 = 0x5846_5342;
    const BTRFS_MAGIC: i64 = 0x9123_683E;
    match st.f_type as i64 {
        TMPFS_MAGIC => "tmpfs — WARNING: fsync is free here, durable-write figures are meaningless; use --work-dir".into(),
        EXT4_MAGIC => "ext4".into(),
        XFS_MAGIC => "xfs".into(),
        BTRFS_MAGIC => "btrfs".into(),
        other => format!("fs type {other:#x}"),
    }
}

/// A temporary directory for one run, under `parent`.
pub(crate) fn work_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .with_context(|| format!("creating a temp dir in {}", parent.display()))
}
