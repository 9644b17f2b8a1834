//! Native TLS, over the real binary: HTTPS with `--tls-cert`/`--tls-key`
//! (certificates from a CA each test makes), the start refused for a bad
//! pair, a replaced certificate served without a restart, a half-open
//! handshake that holds no place; and a node on a PostgreSQL that accepts
//! only TLS, with `sslmode=verify-full`.
//!
//! Every wait is for an event (an answer, a closed socket, a process exit)
//! with a deadline; nothing is decided on how long something took.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use laurel_testkit::postgres::{PostgresServer, SUPERUSER};
use laurel_testkit::tls::{Issued, TestCa};
use laurel_testkit::{Http, ServerProcess, stat};
use serde_json::json;

use crate::{bin, steam_id};

/// Longest a replaced certificate may take to be served: the server looks at
/// the files every 5 s.
const RELOAD_DEADLINE: Duration = Duration::from_secs(30);
/// Longest a `laurel serve` that must refuse to start may run.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(30);

fn ca(name: &str) -> TestCa {
    TestCa::new(name).expect("a test CA")
}

fn issue(ca: &TestCa, names: &[&str]) -> Issued {
    ca.issue(names).expect("a server certificate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A dev-mode server serving HTTPS with `cert`/`key`.
fn start_https(data: &Path, cert: &Path, key: &Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec![
        "--dev",
        "--tls-cert",
        path_arg(cert),
        "--tls-key",
        path_arg(key),
    ];
    args.extend_from_slice(extra);
    ServerProcess::start_with(bin(), data, "127.0.0.1:0", &args).expect("an HTTPS server starts")
}

/// Runs `laurel ARGS` to its exit (killed and failed past the deadline).
fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let child = Command::new(bin())
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("LAUREL_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run laurel");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(REFUSAL_DEADLINE) {
        Ok(output) => output.expect("laurel's output"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("laurel {args:?} still ran after {REFUSAL_DEADLINE:?}");
        }
    }
}

/// What the server sent on `stream` until it closed it (a reset counts as
/// closed: it resets when our bytes were still unread); fails if it did
/// not close within the stream's read timeout.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    received
}

/// One store and a read back over `http` as a new user; the stat read back.
fn store_and_read(http: &Http, user: u64) -> f64 {
    let user = steam_id(user);
    let token = http.dev_token(480, &user).expect("a dev token");
    let (status, body) = http
        .store(
            480,
            &user,
            &token,
            "tls-1",
            &json!({"stats": [{"name": "NumGames", "value": 7}], "unlock": ["ACH_WIN_ONE_GAME"]}),
        )
        .expect("a store");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http.progress(480, &user, &token).expect("a read");
    assert_eq!(status, 200, "{body}");
    stat(&body, "NumGames").expect("NumGames")
}

/// `GET /healthz` answered 200 through `http`; the error otherwise.
fn healthy(http: &Http) -> Result<(), String> {
    match http.get("/healthz", None) {
        Ok((200, _)) => Ok(()),
        Ok((status, body)) => Err(format!("{status} {body}")),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Asks `check` until it holds or the deadline passes.
fn wait_for(what: &str, deadline: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let until = Instant::now() + deadline;
    loop {
        let last = match check() {
            Ok(()) => return,
            Err(e) => e,
        };
        assert!(
            Instant::now() < until,
            "{what}: not within {deadline:?}; last: {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn https_with_a_test_ca_stores_and_reads_and_refuses_strangers() {
    let certs = tempfile::tempdir().expect("dir");
    let data = tempfile::tempdir().expect("dir");
    let ours = ca("Laurel test CA");
    let (cert, key) = issue(&ours, &["localhost", "127.0.0.1"])
        .write(certs.path(), "server")
        .expect("write");
    let server = start_https(data.path(), &cert, &key, &[]);
    assert!(server.url.starts_with("https://"), "{}", server.url);

    // A client that trusts the CA, by IP address and by host name.
    let by_ip = Http::trusting(&server.url, ours.cert_pem()).expect("client");
    assert_eq!(store_and_read(&by_ip, 1), 7.0);
    let port = server.addr.rsplit_once(':').expect("port").1;
    let by_name =
        Http::trusting(&format!("https://localhost:{port}"), ours.cert_pem()).expect("client");
    assert_eq!(store_and_read(&by_name, 2), 7.0);

    // Plain HTTP on the TLS port: no HTTP answer, and the server closes.
    let mut plain = TcpStream::connect(&server.addr).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let answer = read_until_closed(&mut plain);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {}",
        text(&answer)
    );
    let error = healthy(&Http::new(&format!("http://{}", server.addr)))
        .expect_err("plain HTTP is not answered");
    assert!(!error.is_empty());

    // Clients that do not trust the CA fail the handshake: the default
    // roots, and another CA.
    for (who, client) in [
        ("default roots", Http::new(&server.url)),
        (
            "another CA",
            Http::trusting(&server.url, ca("Another CA").cert_pem()).expect("client"),
        ),
    ] {
        let error = healthy(&client).expect_err(who);
        assert!(
            error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"),
            "{who}: {error}"
        );
    }

    // None of that disturbed the server.
    assert_eq!(store_and_read(&by_ip, 3), 7.0);
}

/// A client that opens a TLS handshake and never finishes it is cut off at
/// the header timeout, and its place (the only one its address has) comes
/// back.
#[test]
fn a_half_open_handshake_holds_no_place_past_the_header_timeout() {
    let certs = tempfile::tempdir().expect("dir");
    let data = tempfile::tempdir().expect("dir");
    let ours = ca("Laurel test CA");
    let (cert, key) = issue(&ours, &["127.0.0.1"])
        .write(certs.path(), "server")
        .expect("write");
    let server = start_https(
        data.path(),
        &cert,
        &key,
        &[
            "--header-timeout",
            "1",
            "--max-connections-per-address",
            "1",
        ],
    );
    let mut half_open = TcpStream::connect(&server.addr).expect("connect");
    // A TLS record header announcing a 512-byte handshake message, and
    // nothing more.
    half_open
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .expect("send");
    half_open
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    read_until_closed(&mut half_open);
    // The place is free again: a whole request gets through.
    let client = Http::trusting(&server.url, ours.cert_pem()).expect("client");
    wait_for("a request after the half-open one", RELOAD_DEADLINE, || {
        healthy(&client)
    });
}

/// Start-up is refused, exit 2, with the flag or file and the reason named,
/// for half a pair, unreadable or garbage files and a key of another
/// certificate; no key material is ever printed, and nothing is created.
#[test]
fn start_is_refused_for_half_a_pair_or_a_bad_file() {
    let dir = tempfile::tempdir().expect("dir");
    let ours = ca("Laurel test CA");
    let (cert, key) = issue(&ours, &["localhost"])
        .write(dir.path(), "server")
        .expect("write");
    let (_, other_key) = issue(&ours, &["localhost"])
        .write(dir.path(), "other")
        .expect("write");
    let garbage = dir.path().join("garbage.crt");
    std::fs::write(&garbage, "this is not a certificate\n").expect("write");
    let missing = dir.path().join("missing.key");
    let key_text = std::fs::read_to_string(&key).expect("key");
    let secret_line = key_text.lines().nth(1).expect("a base64 line");
    let data = dir.path().join("data");
    let (cert, key, other_key, garbage, missing) = (
        path_arg(&cert),
        path_arg(&key),
        path_arg(&other_key),
        path_arg(&garbage),
        path_arg(&missing),
    );
    let serve = |tls: &[&str]| -> Vec<String> {
        [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            path_arg(&data),
        ]
        .iter()
        .chain(tls)
        .map(|arg| arg.to_string())
        .collect()
    };
    // (arguments, environment, what the message must name)
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (serve(&["--tls-cert", cert]), vec![], vec!["--tls-key"]),
        (serve(&["--tls-key", key]), vec![], vec!["--tls-cert"]),
        (
            serve(&[]),
            vec![("LAUREL_TLS_CERT", cert)],
            vec!["--tls-key"],
        ),
        (
            serve(&["--tls-cert", garbage, "--tls-key", key]),
            vec![],
            vec![garbage, "no certificate"],
        ),
        (
            serve(&["--tls-cert", key, "--tls-key", key]),
            vec![],
            vec![key, "no certificate"],
        ),
        (
            serve(&["--tls-cert", cert, "--tls-key", cert]),
            vec![],
            vec![cert, "no private key"],
        ),
        (
            serve(&["--tls-cert", cert, "--tls-key", missing]),
            vec![],
            vec![missing, "cannot read it"],
        ),
        (
            serve(&["--tls-cert", cert, "--tls-key", other_key]),
            vec![],
            vec![other_key, "does not belong"],
        ),
        (
            serve(&[]),
            vec![("LAUREL_TLS_CERT", garbage), ("LAUREL_TLS_KEY", key)],
            vec![garbage, "no certificate"],
        ),
    ];
    for (args, envs, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_to_exit(&args, &envs);
        let stderr = text(&out.stderr);
        eprintln!("{envs:?} {args:?}:\n{stderr}");
        assert_eq!(out.status.code(), Some(2), "{args:?} {envs:?}: {stderr}");
        for said in says {
            assert!(stderr.contains(said), "{args:?} {envs:?}: {stderr}");
        }
        assert!(
            !stderr.contains(secret_line),
            "key material shown: {stderr}"
        );
        assert!(
            !text(&out.stdout).contains("listening"),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert!(!data.exists(), "{args:?}: the data dir was created");
    }
}

/// New certificate files are served from the next handshake, with no
/// restart: found by the server's own look at the files, and at once on
/// SIGHUP (which must not stop the server).
#[test]
fn a_replaced_certificate_is_served_without_a_restart() {
    let certs = tempfile::tempdir().expect("dir");
    let data = tempfile::tempdir().expect("dir");
    let first = ca("First CA");
    let (cert, key) = issue(&first, &["127.0.0.1"])
        .write(certs.path(), "server")
        .expect("write");
    let mut server = start_https(data.path(), &cert, &key, &[]);
    let url = server.url.clone();
    let trusts = |ca: &TestCa| Http::trusting(&url, ca.cert_pem()).expect("client");
    healthy(&trusts(&first)).expect("the first certificate is served");

    // Replaced on disk: the server notices by itself.
    let second = ca("Second CA");
    healthy(&trusts(&second)).expect_err("not the second CA's yet");
    issue(&second, &["127.0.0.1"])
        .write(certs.path(), "server")
        .expect("replace");
    wait_for("the second certificate", RELOAD_DEADLINE, || {
        healthy(&trusts(&second))
    });
    // A new handshake no longer gets the first one.
    healthy(&trusts(&first)).expect_err("the first certificate is gone");
    assert_eq!(store_and_read(&trusts(&second), 10), 7.0);

    // Replaced and SIGHUP: read again, and the server keeps running.
    let third = ca("Third CA");
    issue(&third, &["127.0.0.1"])
        .write(certs.path(), "server")
        .expect("replace");
    server.signal(libc::SIGHUP).expect("SIGHUP");
    wait_for("the third certificate", RELOAD_DEADLINE, || {
        healthy(&trusts(&third))
    });
    assert!(server.is_running(), "SIGHUP stopped the server");
    assert_eq!(store_and_read(&trusts(&third), 11), 7.0);
}

/// A PostgreSQL that refuses TCP without TLS, its certificate for
/// `localhost` from the test's CA; the CA's certificate in a file.
struct TlsPostgres {
    pg: PostgresServer,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

fn tls_postgres() -> TlsPostgres {
    let dir = tempfile::tempdir().expect("dir");
    let ours = ca("PostgreSQL test CA");
    let pg = PostgresServer::start_tls(&issue(&ours, &["localhost"]));
    let ca_file = ours.write_cert(dir.path(), "ca.crt").expect("write");
    TlsPostgres {
        pg,
        ca_file,
        _dir: dir,
    }
}

impl TlsPostgres {
    fn url(&self, host: &str, db: &str, params: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@{host}:{}/{db}?{params}",
            self.pg.port()
        )
    }

    fn verify_full(&self, host: &str, db: &str) -> String {
        self.url(
            host,
            db,
            &format!(
                "sslmode=verify-full&sslrootcert={}",
                path_arg(&self.ca_file)
            ),
        )
    }
}

/// A node whose database URL says `sslmode=verify-full` stores and reads,
/// and PostgreSQL reports each of the node's sessions encrypted.
#[test]
fn a_node_on_postgres_with_verify_full_stores_and_reads_over_tls() {
    let tls = tls_postgres();
    let db = tls.pg.create_database().expect("a database");
    let data = tempfile::tempdir().expect("dir");
    let url = tls.verify_full("localhost", &db);
    let node = ServerProcess::start_with(
        bin(),
        data.path(),
        "127.0.0.1:0",
        &["--dev", "--database", &url],
    )
    .expect("a node on PostgreSQL over TLS");
    let http = Http::new(&node.url);
    assert_eq!(store_and_read(&http, 20), 7.0);
    // The node's own sessions, as PostgreSQL sees them.
    let sessions = tls
        .pg
        .psql(
            &db,
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) \
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.datname = '{db}' AND a.application_name = 'laurel'"
            ),
        )
        .expect("psql");
    let (all, encrypted) = sessions.split_once('|').expect("two columns");
    assert!(all.parse::<u32>().expect("a count") > 0, "{sessions}");
    assert_eq!(all, encrypted, "sessions, encrypted: {sessions}");
}

/// Start-up fails (exit 1, the database named as the problem) without TLS
/// (`sslmode=disable`: PostgreSQL refuses it), and with `verify-full` for a
/// host name the certificate was not issued for.
#[test]
fn a_node_without_tls_or_with_the_wrong_host_name_is_refused_by_postgres() {
    let tls = tls_postgres();
    let db = tls.pg.create_database().expect("a database");
    let data = tempfile::tempdir().expect("dir");
    for (url, says) in [
        (
            tls.url("localhost", &db, "sslmode=disable"),
            "no encryption",
        ),
        (tls.verify_full("127.0.0.1", &db), "certificate"),
    ] {
        let out = run_to_exit(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                path_arg(data.path()),
                "--database",
                &url,
            ],
            &[],
        );
        let stderr = text(&out.stderr);
        eprintln!("{url}:\n{stderr}");
        assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
        assert!(stderr.contains("opening the database"), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
    }
}
