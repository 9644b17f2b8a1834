//! How a command fails: an error with the exit code it ends the process with.

/// Exit codes, chosen on purpose (documented in README and `laurel --help`).
pub mod exit {
    pub const OK: u8 = 0;
    /// Something failed at run time (I/O, database, network).
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// The input was read but is invalid (schema problems, bad ids, a
    /// migration target that already has users).
    pub const INVALID_INPUT: u8 = 3;
    /// The app, user or key named does not exist.
    pub const NOT_FOUND: u8 = 4;
}

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            code: exit::FAILURE,
            error: e.into(),
        }
    }
}

pub fn fail(code: u8, error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code,
        error: error.into(),
    }
}
