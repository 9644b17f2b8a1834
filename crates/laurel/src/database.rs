//! The databases a command names (`--database`, `--from`, `--to`), and
//! opening a store on one.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use laurel_store::Store;
use laurel_store_postgres::{PostgresOptions, PostgresStore, redacted_url};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};

use crate::failure::{Failure, exit, fail};

/// A database named on the command line (`--database`, `--from`, `--to`):
/// `sqlite://PATH` or `postgres://…` (also `postgresql://…`). `Debug` and
/// `Display` show it without its password.
#[derive(Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL; the error says what is accepted (exit code 2: usage).
    pub fn parse(url: &str) -> Result<DatabaseUrl, Failure> {
        match url.split_once("://") {
            Some(("sqlite", path)) if !path.is_empty() => Ok(DatabaseUrl::Sqlite(path.into())),
            Some(("postgres" | "postgresql", _)) => Ok(DatabaseUrl::Postgres(url.to_owned())),
            _ => Err(fail(
                exit::USAGE,
                anyhow!(
                    "must be sqlite://PATH or postgres://USER@HOST:PORT/DB, got {:?}",
                    redacted_url(url)
                ),
            )),
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redacted_url(url)),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Opens a store; `pool_size` is PostgreSQL's connection pool. With
/// `warm`, every connection of the pool is opened now (a node about to
/// serve: [`PostgresStore::warm`]); one that cannot be is logged, and the
/// pool opens it later when it is needed.
pub async fn open_database(
    database: &DatabaseUrl,
    pool_size: u16,
    warm: bool,
) -> Result<Arc<dyn Store>, Failure> {
    match database {
        DatabaseUrl::Postgres(url) => {
            let mut options = PostgresOptions::new(url.as_str());
            options.max_connections = usize::from(pool_size);
            let store = PostgresStore::open(options)
                .await
                .with_context(|| format!("opening the database {database}"))?;
            if warm {
                match store.warm().await {
                    Ok(open) => tracing::info!(connections = open, "database pool opened"),
                    Err(e) => tracing::warn!(
                        error = %e,
                        pool_size,
                        "could not open the whole database pool now; it opens connections as they are needed"
                    ),
                }
            }
            Ok(Arc::new(store))
        }
        DatabaseUrl::Sqlite(path) => {
            let store = SqliteStore::open(path, SqliteOptions::default())
                .with_context(|| format!("opening the database {}", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}
