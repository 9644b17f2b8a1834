//! `plugin.steamworks` in real interpreters: every script in `tests/lua/`
//! runs under both `luajit` and `lua5.1`, against a dev-mode server started
//! here, each run in its own working directory with its own server, with a
//! deadline (the process is killed if it hangs). A run passes when it exits
//! 0 and prints its `LUA-TEST-OK <script>` line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

mod support;

// The module's pure conversions, checked directly (the cdylib itself cannot
// be linked into a test executable).
#[path = "../src/convert.rs"]
#[allow(dead_code)]
mod convert;

use std::path::{Path, PathBuf};
use std::time::Duration;

use laurel_testkit::Http;
use serde_json::json;
use support::{
    INTERPRETERS, InProcessServer, ModuleDir, Outcome, Run, StepReply, assert_passed,
    server_progress, token, unlocked_on_server,
};
use tempfile::TempDir;

const USER_A: &str = "76561197960287930";
const USER_B: &str = "76561197960287931";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
const ADMIN_TOKEN: &str = "lua-tests-admin-token-0123456789";

fn lua_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lua")
}

/// One interpreter's run of a scenario: the module, a server, a working dir.
struct Case {
    interpreter: &'static str,
    module: ModuleDir,
    server: InProcessServer,
    _db_dir: TempDir,
    work: TempDir,
}

impl Case {
    fn new(interpreter: &'static str) -> Case {
        Case::with_admin(interpreter, None)
    }

    fn with_admin(interpreter: &'static str, admin: Option<&str>) -> Case {
        support::interpreter(interpreter);
        let db_dir = TempDir::new().unwrap();
        let server = support::start_server(&db_dir.path().join("laurel.sqlite3"), admin);
        Case {
            interpreter,
            module: ModuleDir::install(),
            server,
            _db_dir: db_dir,
            work: TempDir::new().unwrap(),
        }
    }

    /// The environment of a configured game: the server, app 480, a user.
    fn env(&self, user: &str) -> Vec<(String, String)> {
        let mut env = self.bare_env();
        for (k, v) in [
            ("LAUREL_URL", self.server.url.as_str()),
            ("LAUREL_APP_ID", "480"),
            ("LAUREL_USER_ID", user),
            ("LAUREL_TIMEOUT", "1"),
        ] {
            env.push((k.into(), v.into()));
        }
        env
    }

    /// Only where Lua finds the module and the test library.
    fn bare_env(&self) -> Vec<(String, String)> {
        vec![
            ("LUA_CPATH".into(), self.module.cpath()),
            (
                "LUA_PATH".into(),
                format!("{}/?.lua;;", lua_dir().display()),
            ),
        ]
    }

    fn run(&self, script: &str, env: Vec<(String, String)>, args: &[String]) -> Run {
        Run {
            interpreter: self.interpreter.into(),
            script: lua_dir().join(script),
            cwd: self.work.path().to_owned(),
            env,
            args: args.to_vec(),
            timeout: SCRIPT_TIMEOUT,
        }
    }

    /// Runs a script as user A (plus `extra` env) and asserts it passed.
    fn pass(&self, script: &str, extra: &[(&str, &str)]) -> Outcome {
        let mut env = self.env(USER_A);
        env.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        let run = self.run(script, env, &[]);
        let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
        assert_passed(&run, &outcome);
        outcome
    }
}

fn for_each_interpreter(scenario: impl Fn(&'static str)) {
    for interpreter in INTERPRETERS {
        scenario(interpreter);
    }
}

#[test]
fn seed_examples_run_verbatim() {
    for_each_interpreter(|interpreter| {
        for seed in [
            "userProgressSave.lua",
            "userProgressUpdate.lua",
            "requestUserProgress.lua",
        ] {
            let case = Case::new(interpreter);
            let seed_path = lua_dir().join("seeds").join(seed);
            let run = case.run(
                "run_seed.lua",
                case.env(USER_A),
                &[seed_path.display().to_string()],
            );
            let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
            assert_passed(&run, &outcome);
            if seed == "requestUserProgress.lua" {
                // The example passes the placeholder "FRIEND_ID": refused, logged, no raise.
                assert!(
                    outcome.stderr.contains(
                        "steamworks.requestUserProgress(): argument #1 'userSteamId' is not a Steam id"
                    ),
                    "{}",
                    outcome.report(&run)
                );
            }
        }
    });
}

#[test]
fn every_function_and_property() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        let outcome = case.pass("api.lua", &[("TEST_OTHER_USER", USER_B)]);
        // Hostile arguments are logged naming the function and the argument.
        for expected in [
            "steamworks.getAchievementInfo(): argument #1 'name' must be a string, got nil",
            "steamworks.getAchievementInfo(): argument #2 'userSteamId' is not a Steam id",
            "steamworks.getAchievementInfo(): unknown achievement \"NO_SUCH_ACHIEVEMENT\"",
            "steamworks.getAchievementInfo(): argument #1 'name' is 1000000 bytes long",
            "steamworks.getUserStatValue(): argument #1 'params' must be a table, got string",
            "steamworks.getUserStatValue(): argument #1 field 'type' is \"float\" but stat \"NumGames\" is \"int\"",
            "steamworks.setUserStatValues(): entry #1 field 'value' must be a finite number, got NaN; entry skipped",
            "steamworks.setUserStatValues(): entry #1 field 'sessionTimeLength' must be a number, got nil; entry skipped",
            "steamworks.setUserStatValues(): entry #2 field 'statName' names no stat of the app: \"NoSuchStat\"; entry skipped",
            "steamworks.setAchievementProgress(): argument #3 'maxValue' must be at least 1",
            "steamworks.requestUserProgress(): argument #1 'userSteamId' must be a Steam id string",
            "steamworks.addEventListener(): argument #1 'eventName' is not an event of the plugin",
            "steamworks.addEventListener(): argument #2 'listener' is a table without a 'userProgressSave' function",
            "steamworks.showGameOverlay(): not supported by Laurel; returns false",
            "steamworks.getUserImageInfo(): not supported by Laurel; returns nil",
            "steamworks.init(): field 'appId' must be a string or a number, got table",
            "steamworks.update(): argument #1 'wait' must be a number, got string",
        ] {
            assert!(
                outcome.stderr.contains(expected),
                "stderr lacks {expected:?}\n{}",
                outcome.stderr
            );
        }
        assert!(
            !outcome.stderr.contains("internal error"),
            "{}",
            outcome.stderr
        );
    });
}

#[test]
fn events_order_fields_and_listeners() {
    for_each_interpreter(|interpreter| {
        Case::new(interpreter).pass("events.lua", &[("TEST_OTHER_USER", USER_B)]);
    });
}

#[test]
fn runtime_enter_frame_delivers_events() {
    for_each_interpreter(|interpreter| {
        Case::new(interpreter).pass("runtime.lua", &[]);
    });
}

#[test]
fn two_users_one_unlocks_the_other_reads_it() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        case.pass("two_users_a.lua", &[]);
        let mut env = case.env(USER_B);
        env.push(("TEST_OTHER_USER".into(), USER_A.into()));
        let run = case.run("two_users_b.lua", env, &[]);
        let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
        assert_passed(&run, &outcome);
    });
}

#[test]
fn a_refused_store_reports_8_and_reverts_the_cache() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        let url = case.server.url.clone();
        let run = case.run("constraint.lua", case.env(USER_A), &[]);
        let outcome = support::run(&run, |step| {
            assert_eq!(step, "raise NumGames to 10 on the server");
            // Another device of the same user.
            let (status, body) = Http::new(&url)
                .store(
                    480,
                    USER_A,
                    &token(&url, 480, USER_A),
                    "other-device-1",
                    &json!({"stats": [{"name": "NumGames", "value": 10}]}),
                )
                .expect("the server answers");
            assert_eq!(status, 200, "{body}");
            StepReply::Line("raised".into())
        });
        assert_passed(&run, &outcome);
    });
}

#[test]
fn offline_store_is_journaled_and_replayed() {
    for_each_interpreter(|interpreter| {
        let mut case = Case::new(interpreter);
        let run = case.run("offline.lua", case.env(USER_A), &[]);
        let server = &mut case.server;
        let outcome = support::run(&run, |step| match step {
            "stop the server" => {
                server.stop().expect("the server stops");
                StepReply::Line("stopped".into())
            }
            "start the server" => {
                server.restart().expect("the server restarts");
                StepReply::Line("started".into())
            }
            other => panic!("unexpected step {other}"),
        });
        assert_passed(&run, &outcome);
        // The failure came after the configured timeout (LAUREL_TIMEOUT=1), not at once.
        let waited = outcome.mark("request failed").unwrap() - outcome.mark("request").unwrap();
        assert!(
            waited >= Duration::from_millis(900),
            "NoConnection after {waited:?}"
        );
        let progress = server_progress(&case.server.url, 480, USER_A);
        assert!(
            unlocked_on_server(&progress, "ACH_WIN_ONE_GAME"),
            "{progress}"
        );
    });
}

#[test]
fn a_store_made_offline_survives_a_killed_game() {
    for_each_interpreter(|interpreter| {
        let mut case = Case::new(interpreter);
        let run = case.run("offline_crash.lua", case.env(USER_A), &[]);
        let server = &mut case.server;
        let outcome = support::run(&run, |step| match step {
            "stop the server" => {
                server.stop().expect("the server stops");
                StepReply::Line("stopped".into())
            }
            "kill me" => StepReply::Kill,
            other => panic!("unexpected step {other}"),
        });
        assert!(outcome.killed_by_harness, "{}", outcome.report(&run));
        case.server.restart().expect("the server restarts");
        case.pass("offline_replay.lua", &[]);
        let progress = server_progress(&case.server.url, 480, USER_A);
        assert!(
            unlocked_on_server(&progress, "ACH_WIN_100_GAMES"),
            "{progress}"
        );
    });
}

/// The value of a stat in a progress body.
fn stat_on_server(progress: &serde_json::Value, name: &str) -> serde_json::Value {
    progress["stats"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .map_or(serde_json::Value::Null, |s| s["value"].clone())
}

#[test]
fn writes_in_the_first_frame_reach_the_server() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        case.pass("first_frame.lua", &[]);
        let progress = server_progress(&case.server.url, 480, USER_A);
        assert!(
            unlocked_on_server(&progress, "ACH_WIN_ONE_GAME"),
            "{progress}"
        );
        assert_eq!(
            stat_on_server(&progress, "NumGames"),
            json!(4),
            "{progress}"
        );
        assert_eq!(
            progress["version"],
            json!(2),
            "two stores, each once: {progress}"
        );
    });
}

/// A first launch with no network, then a launch online that stores its
/// writes exactly once, then a launch offline that reads them at once.
#[test]
fn a_cold_offline_start_then_relaunches_online_and_offline() {
    for_each_interpreter(|interpreter| {
        let mut case = Case::new(interpreter);
        case.server.stop().expect("the server stops");
        case.pass("cold_offline.lua", &[]);
        case.server.restart().expect("the server restarts");
        case.pass("cold_replay.lua", &[]);
        let progress = server_progress(&case.server.url, 480, USER_A);
        assert!(
            unlocked_on_server(&progress, "ACH_WIN_100_GAMES"),
            "{progress}"
        );
        assert_eq!(stat_on_server(&progress, "NumWins"), json!(2), "{progress}");
        assert_eq!(
            progress["version"],
            json!(2),
            "two stores, each once: {progress}"
        );
        case.server.stop().expect("the server stops");
        case.pass("offline_relaunch.lua", &[]);
    });
}

#[test]
fn request_active_player_count_answers_the_listener_with_the_others_playing() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        // User B reads their progress: B plays. A's count leaves A out.
        server_progress(&case.server.url, 480, USER_B);
        case.pass("player_count.lua", &[("EXPECT_COUNT", "1")]);
    });
}

/// The README's Lua quick start: `examples/game.lua` as written, against a
/// real server.
#[test]
fn the_example_game_of_the_quick_start_runs() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        let mut run = case.run("first_frame.lua", case.env(USER_A), &[]);
        run.script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/game.lua");
        let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
        let report = outcome.report(&run);
        assert!(outcome.status.is_some_and(|s| s.success()), "{report}");
        let lines: Vec<&str> = outcome.stdout.iter().map(|(_, l)| l.as_str()).collect();
        for want in [
            "achievement ACH_WIN_ONE_GAME updated",
            "76561197960287930's progress: NumGames = 1",
            "saved",
            "friend 76561197960287931: ACH_WIN_ONE_GAME unlocked = false",
            "others playing now: 0",
            "done",
        ] {
            assert!(lines.contains(&want), "{want:?} missing: {report}");
        }
        let progress = server_progress(&case.server.url, 480, USER_A);
        assert!(
            unlocked_on_server(&progress, "ACH_WIN_ONE_GAME"),
            "{progress}"
        );
    });
}

/// Names a user through the session route (dev mode takes no key).
fn name_user(url: &str, user: &str, name: &str) {
    let (status, body) = Http::new(url)
        .post(
            "/api/v1/sessions",
            None,
            &json!({"app_id": 480, "steam_id": user, "display_name": name}),
        )
        .expect("the server answers");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn get_user_info_for_me_at_once_and_for_another_user_after_their_data() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        name_user(&case.server.url, USER_A, "Gordon");
        name_user(&case.server.url, USER_B, "Alyx");
        let outcome = case.pass(
            "user_info.lua",
            &[
                ("FRIEND_ID", USER_B),
                ("EXPECT_MY_NAME", "Gordon"),
                ("EXPECT_FRIEND_NAME", "Alyx"),
            ],
        );
        assert!(
            outcome
                .stderr
                .contains("steamworks.getUserInfo(): argument #1 'userSteamId'"),
            "a bad id is logged naming the function and argument: {}",
            outcome.stderr
        );
    });
}

#[test]
fn not_configured_then_init() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        let mut env = case.bare_env();
        env.push(("TEST_URL".into(), case.server.url.clone()));
        env.push(("TEST_USER".into(), USER_A.into()));
        let run = case.run("not_configured.lua", env, &[]);
        let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
        assert_passed(&run, &outcome);
        assert!(
            outcome.stderr.contains("plugin.steamworks: not configured"),
            "{}",
            outcome.report(&run)
        );
    });
}

#[test]
fn app_id_from_config_lua() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        std::fs::write(
            case.work.path().join("config.lua"),
            "-- a Solar2D config.lua\n\
             local aspectRatio = display.pixelHeight / display.pixelWidth\n\
             application = {\n\
               content = { width = aspectRatio > 1.5 and 320 or math.floor(480 / aspectRatio), scale = \"letterBox\" },\n\
               steamworks = { appId = \"480\" },\n\
             }\n",
        )
        .unwrap();
        let env_without_app = |extra: Option<&str>| {
            let mut env: Vec<(String, String)> = case
                .env(USER_A)
                .into_iter()
                .filter(|(k, _)| k != "LAUREL_APP_ID")
                .collect();
            if let Some(app) = extra {
                env.push(("LAUREL_APP_ID".into(), app.into()));
            }
            env
        };
        let mut env = env_without_app(None);
        env.push(("TEST_EXPECT_APP".into(), "480".into()));
        let run = case.run("config_lua.lua", env, &[]);
        let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
        assert_passed(&run, &outcome);
        // The environment wins over config.lua.
        let mut env = env_without_app(Some("777"));
        env.push(("TEST_EXPECT_APP".into(), "777".into()));
        let run = case.run("config_lua.lua", env, &[]);
        let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
        assert_passed(&run, &outcome);
    });
}

#[test]
fn a_broken_config_lua_is_logged_and_ignored() {
    for_each_interpreter(|interpreter| {
        let case = Case::new(interpreter);
        for (config, expected) in [
            ("application = {", "config.lua: raised an error"),
            ("error('boom')", "boom"),
            ("os.exit(3)", "config.lua: raised an error"),
            (
                "application = { steamworks = { appId = {} } }",
                "must be a string, got table",
            ),
            (
                "application = { steamworks = { appId = \"abc\" } }",
                "app id must be decimal digits only",
            ),
            (
                "application = { steamworks = { appId = 0 } }",
                "out of range",
            ),
            ("\x1bLua binary", "config.lua: raised an error"),
            ("string.format = nil; application = 5", ""),
        ] {
            std::fs::write(case.work.path().join("config.lua"), config).unwrap();
            let mut env: Vec<(String, String)> = case
                .env(USER_A)
                .into_iter()
                .filter(|(k, _)| k != "LAUREL_APP_ID")
                .collect();
            env.retain(|(k, _)| k != "LAUREL_URL");
            let run = case.run("config_bad.lua", env, &[]);
            let outcome = support::run(&run, |step| panic!("unexpected step {step}"));
            assert_passed(&run, &outcome);
            assert!(
                outcome.stderr.contains(expected),
                "config.lua {config:?}: stderr lacks {expected:?}\n{}",
                outcome.report(&run)
            );
        }
    });
}

#[test]
fn icons_empty_texts_and_spaced_names() {
    for_each_interpreter(|interpreter| {
        let case = Case::with_admin(interpreter, Some(ADMIN_TOKEN));
        let schema = json!({
            "app": { "name": "Example", "public_progress": true },
            "stats": [
                { "name": "Games Played", "type": "int", "default": 0, "min": 0 },
                { "name": "Feet Traveled", "type": "float", "default": 0 },
                { "name": "Average Speed", "type": "avgrate", "default": 0, "window": 3600 }
            ],
            "achievements": [
                { "name": "Achievement 1", "display_name": { "english": "First" },
                  "description": { "english": "" },
                  "icon": "icons/first.png", "icon_gray": "icons/first_gray.png" },
                { "name": "Achievement 2", "display_name": { "english": "Second" },
                  "description": { "english": "The second." } }
            ]
        });
        let (status, body) = Http::new(&case.server.url)
            .send(
                "PUT",
                "/api/v1/admin/apps/481/schema",
                Some(ADMIN_TOKEN),
                &[],
                &schema.to_string(),
            )
            .expect("the server answers");
        assert_eq!(status, 200, "{body}");
        // Dev mode mints tokens for the demo app only: app 481's comes from its key.
        let http = Http::new(&case.server.url);
        let key = http.server_key(481, ADMIN_TOKEN).expect("key");
        let token = http.session(481, USER_A, &key).expect("token");
        case.pass(
            "schema_extras.lua",
            &[("LAUREL_APP_ID", "481"), ("LAUREL_TOKEN", &token)],
        );
    });
}

#[test]
fn conversions() {
    use convert::*;
    for (value, want) in [
        (2.5, Ok(3)),
        (-2.5, Ok(-3)),
        (2.4, Ok(2)),
        (2147483647.4, Ok(i32::MAX)),
        (-2147483648.0, Ok(i32::MIN)),
        (2147483647.5, Err("does not fit")),
        (f64::NAN, Err("finite")),
        (f64::INFINITY, Err("finite")),
    ] {
        match (int_value(value), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{value}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{value}: {e}"),
            (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
        }
    }
    assert_eq!(float_value(0.1), Ok(0.1f32));
    assert!(float_value(1e39).is_err());
    assert!(float_value(f64::NAN).is_err());
    assert!(float_value(f64::from(f32::MAX)).is_ok());
    assert!(session_length(0.0).is_err());
    assert!(session_length(-1.0).is_err());
    assert_eq!(session_length(0.5), Ok(0.5));
    assert_eq!(progress_value(99.6), Ok(100));
    assert!(progress_value(-0.6).is_err());
    assert_eq!(progress_value(-0.4), Ok(0));
    assert!(progress_value(1e12).is_err());
    assert_eq!(
        steam_id(USER_A.as_bytes()).map(|s| s.get()),
        Ok(76561197960287930)
    );
    for bad in [
        "",
        "0",
        "-1",
        " 1",
        "1 ",
        "FRIEND_ID",
        "99999999999999999999999",
        "１２",
    ] {
        assert!(steam_id(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(steam_id(b"\xff\xfe").is_err());
    assert_eq!(app_id_text(" 480 ").map(|a| a.get()), Ok(480));
    assert!(app_id_number(480.5).is_err());
    assert!(app_id_number(0.0).is_err());
    assert!(app_id_number(5e9).is_err());
    assert_eq!(app_id_number(480.0).map(|a| a.get()), Ok(480));
    assert!(timeout_seconds(0.0).is_err());
    assert!(timeout_seconds(f64::NAN).is_err());
    assert!(timeout_seconds(7200.0).is_err());
    assert_eq!(timeout_seconds(1.5), Ok(Duration::from_millis(1500)));
    assert_eq!(StatType::parse("averageRate"), Some(StatType::AverageRate));
    assert_eq!(StatType::parse("avgrate"), None);
    assert_eq!(shown(&[b'a'; 100], 3), "\"aaa\"… (100 bytes)");
}

#[test]
fn a_rust_panic_never_reaches_lua() {
    for_each_interpreter(|interpreter| {
        let outcome = Case::new(interpreter).pass("panic.lua", &[("LAUREL_LUA_TEST_PANIC", "1")]);
        assert!(
            outcome.stderr.contains(
                "steamworks._testPanic(): internal error (a panic on purpose); returning nil"
            ),
            "{}",
            outcome.stderr
        );
    });
}

#[test]
fn fetching_a_257th_user_unloads_the_oldest() {
    for_each_interpreter(|interpreter| {
        Case::new(interpreter).pass("unload.lua", &[]);
    });
}

// ----- leaderboards -----

const BOARD_COUNT: usize = 2001;
const ID_PREFIX: &str = "765611979603";

fn seeded_id(i: usize) -> String {
    format!("{ID_PREFIX}{i:05}")
}

/// A board's id, found with `key`.
fn board_id(url: &str, key: &str, name: &str) -> u64 {
    let (status, body) = Http::new(url)
        .get(
            &format!(
                "/api/v1/apps/480/leaderboards/find?name={}",
                name.replace(' ', "%20")
            ),
            Some(key),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["leaderboard"]["id"].as_u64().unwrap()
}

fn upload_as_server(url: &str, key: &str, board: u64, user: &str, score: i64) {
    let (status, body) = Http::new(url)
        .post(
            &format!("/api/v1/apps/480/leaderboards/{board}/users/{user}/score"),
            Some(key),
            &json!({ "score": score }),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// What leaderboards.lua expects: "Feet Traveled" with `BOARD_COUNT`
/// entries (score i / 3; the three of a score uploaded in order of i, by
/// one of 8 threads), user B's 30 on "Quickest Win", and user A's friends.
fn seed_boards(url: &str) {
    let key = Http::new(url).server_key(480, ADMIN_TOKEN).unwrap();
    let feet = board_id(url, &key, "Feet Traveled");
    let quickest = board_id(url, &key, "Quickest Win");
    std::thread::scope(|s| {
        for t in 0..8 {
            let key = &key;
            s.spawn(move || {
                for triple in (t..BOARD_COUNT / 3).step_by(8) {
                    for i in triple * 3..triple * 3 + 3 {
                        upload_as_server(url, key, feet, &seeded_id(i), triple as i64);
                    }
                }
            });
        }
    });
    upload_as_server(url, &key, quickest, USER_B, 30);
    let (status, body) = Http::new(url)
        .send(
            "PUT",
            &format!("/api/v1/apps/480/users/{USER_A}/friends"),
            Some(&key),
            &[],
            &json!({ "steam_ids": [seeded_id(0), seeded_id(3), seeded_id(BOARD_COUNT - 1)] })
                .to_string(),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

#[test]
fn leaderboards_as_the_plugin_has_them() {
    for_each_interpreter(|interpreter| {
        let case = Case::with_admin(interpreter, Some(ADMIN_TOKEN));
        seed_boards(&case.server.url);
        let count = BOARD_COUNT.to_string();
        let outcome = case.pass(
            "leaderboards.lua",
            &[
                ("TEST_BOARD_COUNT", count.as_str()),
                ("TEST_ID_PREFIX", ID_PREFIX),
                ("TEST_OTHER_USER", USER_B),
            ],
        );
        for expected in [
            "steamworks.requestLeaderboardInfo(): argument #1 'params' must be a table, got nil",
            "steamworks.requestLeaderboardInfo(): argument #1 'params' must be a table, got string",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'leaderboardName' must be a string, got nil",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'leaderboardName' must not be empty",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'leaderboardName' must be a string, got number 5",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'leaderboardName' is 129 bytes long",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'leaderboardName' is not a leaderboard name",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'listener' must be a function, got nil",
            "steamworks.requestLeaderboardInfo(): argument #1 field 'listener' must be a function, got string",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'playerScope' must be \"Global\", \"GlobalAroundUser\" or \"FriendsOnly\", got number 5",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'playerScope' must be \"Global\", \"GlobalAroundUser\" or \"FriendsOnly\", got string \"Everyone\"",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'endIndex' is missing: give both startIndex and endIndex, or neither",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'startIndex' is missing: give both startIndex and endIndex, or neither",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'startIndex' must be a number, got string",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'endIndex' must be a finite number",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'endIndex' is out of range",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'listener' must be a function, got nil",
            "steamworks.requestLeaderboardEntries(): argument #1 field 'leaderboardName' must be a string, got nil",
            "steamworks.requestSetHighScore(): argument #1 field 'value' must be a number, got nil",
            "steamworks.requestSetHighScore(): argument #1 field 'value' must be a number, got string",
            "steamworks.requestSetHighScore(): argument #1 field 'value' must be a finite number, got inf",
            "steamworks.requestSetHighScore(): argument #1 field 'value' does not fit a leaderboard score",
            "steamworks.requestSetHighScore(): argument #1 field 'listener' must be a function, got nil",
        ] {
            assert!(
                outcome.stderr.contains(expected),
                "stderr lacks {expected:?}\n{}",
                outcome.stderr
            );
        }
        assert!(
            !outcome.stderr.contains("internal error"),
            "{}",
            outcome.stderr
        );
    });
}

#[test]
fn a_high_score_set_offline_is_sent_when_the_server_is_back() {
    for_each_interpreter(|interpreter| {
        let mut case = Case::new(interpreter);
        let run = case.run("leaderboards_offline.lua", case.env(USER_A), &[]);
        let server = &mut case.server;
        let outcome = support::run(&run, |step| match step {
            "stop the server" => {
                server.stop().expect("the server stops");
                StepReply::Line("stopped".into())
            }
            "start the server" => {
                server.restart().expect("the server restarts");
                StepReply::Line("started".into())
            }
            other => panic!("unexpected step {other}"),
        });
        assert_passed(&run, &outcome);
    });
}

#[test]
fn a_high_score_set_offline_survives_a_killed_game() {
    for_each_interpreter(|interpreter| {
        let mut case = Case::new(interpreter);
        let run = case.run("leaderboards_crash.lua", case.env(USER_A), &[]);
        let server = &mut case.server;
        let outcome = support::run(&run, |step| match step {
            "stop the server" => {
                server.stop().expect("the server stops");
                StepReply::Line("stopped".into())
            }
            "kill me" => StepReply::Kill,
            other => panic!("unexpected step {other}"),
        });
        assert!(outcome.killed_by_harness, "{}", outcome.report(&run));
        case.server.restart().expect("the server restarts");
        case.pass("leaderboards_relaunch.lua", &[]);
        // Sent once: one entry on the board.
        let token = token(&case.server.url, 480, USER_B);
        let key_free = Http::new(&case.server.url);
        let (status, body) = key_free
            .get(
                "/api/v1/apps/480/leaderboards/find?name=Quickest%20Win",
                Some(&token),
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["leaderboard"]["entry_count"], 1, "{body}");
    });
}

#[test]
fn leaderboard_conversions() {
    use convert::*;
    use laurel_client::EntriesRequest;
    assert_eq!(score_value(29.4), Ok(29));
    assert_eq!(score_value(-2147483648.0), Ok(i32::MIN));
    assert!(score_value(2147483647.5).is_err());
    assert!(score_value(f64::NAN).is_err());
    assert_eq!(board_index(-3.9), Ok(-3), "truncated toward zero");
    assert_eq!(board_index(2147483647.9), Ok(i32::MAX));
    assert!(board_index(2147483648.0).is_err());
    assert!(board_index(f64::INFINITY).is_err());
    for (text, want) in [
        ("Global", Some(PlayerScope::Global)),
        ("GLOBALAROUNDUSER", Some(PlayerScope::GlobalAroundUser)),
        ("friendsOnly", Some(PlayerScope::FriendsOnly)),
        ("Friends", None),
        ("", None),
    ] {
        assert_eq!(PlayerScope::parse(text), want, "{text:?}");
    }
    let range = |scope, r| entries_range(scope, r);
    assert_eq!(
        range(PlayerScope::Global, None),
        Some(EntriesRequest::Global { start: 1, end: 25 })
    );
    assert_eq!(
        range(PlayerScope::GlobalAroundUser, None),
        Some(EntriesRequest::GlobalAroundUser {
            start: -12,
            end: 12
        })
    );
    assert_eq!(
        range(PlayerScope::Global, Some((-4, -9))),
        Some(EntriesRequest::Global { start: 1, end: 1 })
    );
    assert_eq!(
        range(PlayerScope::GlobalAroundUser, Some((-4, -9))),
        Some(EntriesRequest::GlobalAroundUser { start: -4, end: -4 })
    );
    assert_eq!(range(PlayerScope::FriendsOnly, Some((1, 2))), None);
}
