//! The in-process server of `laurel_testkit::in_process`: it serves the
//! demo app, keeps its configuration and its address across a restart,
//! and reports a start it cannot make instead of panicking.

use laurel_testkit::in_process::InProcessServer;
use laurel_testkit::{ADMIN_TOKEN, Http};
use tempfile::TempDir;

const USER: &str = "76561197960287930";

#[test]
fn serves_the_demo_app_and_restarts_on_the_same_address_with_the_same_config() {
    let dir = TempDir::new().unwrap();
    let mut server = InProcessServer::start_with(&dir.path().join("laurel.sqlite3"), |config| {
        config.admin_token = Some(ADMIN_TOKEN.to_owned());
    })
    .unwrap();
    let http = Http::new(&server.url);
    assert_eq!(http.dev_progress(480, USER).unwrap()["version"], 0);
    assert_eq!(http.key_ids(480, ADMIN_TOKEN).unwrap(), Vec::<i64>::new());

    let addr = server.addr;
    server.stop().unwrap();
    assert!(
        http.dev_progress(480, USER).is_err(),
        "stopped, yet answered"
    );
    server.restart().unwrap();
    assert_eq!(server.addr, addr);
    assert_eq!(http.key_ids(480, ADMIN_TOKEN).unwrap(), Vec::<i64>::new());
    server.stop().unwrap();
}

#[test]
fn a_store_that_cannot_open_is_an_error() {
    let dir = TempDir::new().unwrap();
    // A file where the database's directory should be.
    let file = dir.path().join("a file");
    std::fs::write(&file, "").unwrap();
    let error = InProcessServer::start(&file.join("laurel.sqlite3"))
        .err()
        .expect("a server over a database it cannot create");
    assert!(error.to_string().contains("store"), "{error:#}");
}
