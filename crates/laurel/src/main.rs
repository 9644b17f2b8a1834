//! The `laurel` command. `main` only parses arguments and chooses the exit
//! code; `try_main` does the work.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod cli;
mod commands;
mod database;
mod failure;
mod migrate;

use crate::cli::Cli;
use crate::failure::exit;

/// The server allocates per request on the HTTP workers and frees on other
/// threads (answers built by the store's writer); glibc's allocator spent a
/// fifth of the workers' time there under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(f) => {
            eprintln!("laurel: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}
