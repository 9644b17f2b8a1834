//! A tiny game process for the end-to-end tests: it plays online, loses the
//! server, stores anyway, and crashes with the store still unsent — then a
//! second run replays the journal.
//!
//! `offline_game URL JOURNAL STEAMID store-then-crash`: waits for its progress,
//! prints `READY`, waits for a line on stdin (the test stops the server), unlocks
//! `ACH_WIN_ONE_GAME` and counts a game, stores, prints `SAVE <code>` for the
//! save event, then aborts (no destructors, no clean shutdown).
//! `offline_game URL JOURNAL STEAMID first-frame-then-crash`: right after
//! init, before any answer (and whether or not the server can be reached),
//! unlocks `ACH_WIN_ONE_GAME`, sets `NumGames` to 1 and stores, prints
//! `STORED <ok>`, then aborts at once.
//! `offline_game URL JOURNAL STEAMID replay`: starts, prints `SAVE <code>` for
//! each save event until its progress arrives, then `UNSENT <n>`; exits with 0
//! only if a save succeeded.

use std::io::BufRead;
use std::time::{Duration, Instant};

use laurel_client::{AppId, Client, ClientConfig, Credentials, Event};

fn pump_until(client: &Client, secs: u64, mut stop: impl FnMut(&Event) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let mut done = false;
        client.run_callbacks(|e| {
            if let Event::UserProgressSave { result_code, .. } = &e {
                println!("SAVE {}", result_code.code());
            }
            done |= stop(&e);
        });
        if done {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, journal, user, mode] = args.as_slice() else {
        return Err(
            "usage: offline_game URL JOURNAL STEAMID store-then-crash|first-frame-then-crash|replay"
                .into(),
        );
    };
    let config = ClientConfig::new(
        url.clone(),
        AppId::new(480)?,
        Credentials::DevUser(user.parse()?),
    )
    .with_journal_path(journal.as_str())
    .with_request_timeout(Duration::from_secs(2));
    let client = Client::init(config)?;
    match mode.as_str() {
        "store-then-crash" => {
            let ready = pump_until(&client, 20, |e| {
                matches!(
                    e,
                    Event::UserProgressUpdate {
                        is_error: false,
                        ..
                    }
                )
            });
            if !ready {
                return Err("no progress from the server".into());
            }
            println!("READY");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let games = client.stat_i32("NumGames", None).unwrap_or(0);
            let ok = client.set_achievement("ACH_WIN_ONE_GAME")
                && client.set_stat_i32("NumGames", games + 1)
                && client.store_stats();
            println!("STORED {ok}");
            pump_until(&client, 20, |e| matches!(e, Event::UserProgressSave { .. }));
            std::process::abort();
        }
        "first-frame-then-crash" => {
            let ok = client.set_achievement("ACH_WIN_ONE_GAME")
                && client.set_stat_i32("NumGames", 1)
                && client.store_stats();
            println!("STORED {ok}");
            std::process::abort();
        }
        "replay" => {
            // The SDK replays its journal before the start-up progress request, so the
            // start-up update comes after every replayed save.
            let mut saved = false;
            pump_until(&client, 30, |e| {
                saved |= matches!(
                    e,
                    Event::UserProgressSave {
                        is_error: false,
                        ..
                    }
                );
                matches!(
                    e,
                    Event::UserProgressUpdate {
                        is_error: false,
                        ..
                    }
                )
            });
            println!("UNSENT {}", client.unsent_stores());
            if !saved {
                return Err("no successful save".into());
            }
            Ok(())
        }
        other => Err(format!("unknown mode {other:?}").into()),
    }
}
