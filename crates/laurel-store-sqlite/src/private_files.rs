//! The database holds the token-signing secret: its folder is created 0700
//! and its file 0600 (SQLite gives its `-wal` and `-shm` files the database
//! file's mode), and looser modes found on existing ones are reported.

use std::path::Path;

use laurel_store::StoreError;

/// Group and other permission bits.
#[cfg(unix)]
const SHARED_BITS: u32 = 0o077;

pub(crate) fn prepare(path: &Path) -> Result<(), StoreError> {
    let failed = |what: &str, at: &Path, e: std::io::Error| {
        StoreError::Backend(format!("{what} {}: {e}", at.display()))
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        if !parent.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(parent)
                .map_err(|e| failed("creating directory", parent, e))?;
        }
        warn_if_shared(parent, "data directory", "chmod 700");
    }
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            // Another process created it in between: theirs is used as it is.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed("creating database", path, e)),
        }
    }
    warn_if_shared(path, "database file", "chmod 600");
    Ok(())
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, what: &str, fix: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & SHARED_BITS != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the {what} is readable by other users of this machine and holds the \
                 token-signing secret; run `{fix}` on it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path, _: &str, _: &str) {}
