//! The Rust SDK against the real binary, with a real game process that
//! crashes holding an unsent store: the journal survives, the next run
//! replays it, and the server applies it exactly once.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use laurel_testkit::{achievement, stat};
use serde_json::json;

use crate::{start, steam_id};

/// The example binary cargo builds beside the test binaries (`target/<profile>/examples`).
fn game_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    profile_dir.join("examples").join("offline_game")
}

struct Game {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Game {
    fn spawn(url: &str, journal: &std::path::Path, user: &str, mode: &str) -> Game {
        let mut child = Command::new(game_bin())
            .args([url, journal.to_str().expect("utf8"), user, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("game starts (is the offline_game example built? `cargo test` builds it)");
        let stdout: ChildStdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Game { child, lines }
    }

    /// Reads lines until `want`, within a bounded wait; returns those before it.
    fn lines_until(&self, want: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(40))
                .unwrap_or_else(|_| panic!("no {want:?} from the game; before: {before:?}"));
            if line == want {
                return before;
            }
            before.push(line);
        }
    }

    /// The next line of output, within a bounded wait.
    fn expect_line(&self, want: &str) {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(40))
            .unwrap_or_else(|_| panic!("no {want:?} from the game"));
        assert_eq!(line, want);
    }
}

#[test]
fn a_crashed_game_replays_its_journal_once() {
    let mut env = start();
    let user = steam_id(500);
    let journal = env.dir.path().join("journal.sqlite3");

    let mut game = Game::spawn(&env.server.url, &journal, &user, "store-then-crash");
    game.expect_line("READY");
    env.server.kill();
    writeln!(game.child.stdin.as_mut().expect("stdin"), "go").expect("write");
    game.expect_line("STORED true");
    game.expect_line("SAVE 3");
    let status = game.child.wait().expect("wait");
    assert!(!status.success(), "the game was meant to crash");

    env.server.restart().expect("restart");
    let replay = Game::spawn(&env.server.url, &journal, &user, "replay");
    replay.expect_line("SAVE 1");
    replay.expect_line("UNSENT 0");

    let token = env.http.dev_token(480, &user).expect("token");
    let (_, p) = env.http.progress(480, &user, &token).expect("read");
    assert_eq!(stat(&p, "NumGames"), Some(1.0));
    assert_eq!(
        achievement(&p, "ACH_WIN_ONE_GAME").expect("ach")["unlocked"],
        json!(true)
    );
    assert_eq!(p["version"], json!(1), "the store was applied exactly once");

    // A third run finds an empty journal and applies nothing again.
    let mut again = Game::spawn(&env.server.url, &journal, &user, "replay");
    let status = again.child.wait().expect("wait");
    assert!(
        !status.success(),
        "nothing to save: the replay run reports no successful save"
    );
    let (_, p) = env.http.progress(480, &user, &token).expect("read");
    assert_eq!(p["version"], json!(1));
}

/// What the server holds after a first-frame store: applied exactly once.
fn stored_once(env: &crate::Env, user: &str) {
    let token = env.http.dev_token(480, user).expect("token");
    let (_, p) = env.http.progress(480, user, &token).expect("read");
    assert_eq!(stat(&p, "NumGames"), Some(1.0), "{p}");
    assert_eq!(
        achievement(&p, "ACH_WIN_ONE_GAME").expect("ach")["unlocked"],
        json!(true)
    );
    assert_eq!(p["version"], json!(1), "the store was applied exactly once");
}

/// Killed between its first-frame write and the first answer: whether or
/// not the store reached the server before the kill, the next run leaves it
/// applied exactly once.
#[test]
fn a_game_killed_right_after_a_first_frame_write_stores_it_once() {
    let env = start();
    let user = steam_id(501);
    let journal = env.dir.path().join("journal.sqlite3");

    let mut game = Game::spawn(&env.server.url, &journal, &user, "first-frame-then-crash");
    game.expect_line("STORED true");
    assert!(!game.child.wait().expect("wait").success());

    let mut replay = Game::spawn(&env.server.url, &journal, &user, "replay");
    let saves = replay.lines_until("UNSENT 0");
    assert!(saves.iter().all(|l| l == "SAVE 1"), "{saves:?}");
    let _ = replay.child.wait();
    stored_once(&env, &user);
}

/// A game started with the server down, on a machine that never reached it
/// (no schema, no progress kept): its writes are taken, journaled, and
/// stored once by the next run with the server up.
#[test]
fn a_cold_offline_start_stores_its_writes_once_the_server_is_back() {
    let mut env = start();
    let user = steam_id(502);
    let journal = env.dir.path().join("journal.sqlite3");
    env.server.kill();

    let mut game = Game::spawn(&env.server.url, &journal, &user, "first-frame-then-crash");
    game.expect_line("STORED true");
    assert!(!game.child.wait().expect("wait").success());

    env.server.restart().expect("restart");
    let mut replay = Game::spawn(&env.server.url, &journal, &user, "replay");
    replay.expect_line("SAVE 1");
    replay.expect_line("UNSENT 0");
    assert!(replay.child.wait().expect("wait").success());
    stored_once(&env, &user);
}
