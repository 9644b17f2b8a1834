//! The PostgreSQL store against a real PostgreSQL (`laurel_testkit::postgres`):
//! the shared conformance suite, then what is PostgreSQL's own (several
//! nodes on one database, the database going away and coming back,
//! migrations, key expiry).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use laurel_core::{EResult, Schema, SchemaDoc, StatValue, UserProgress};
use laurel_store::conformance::{self, NOW, app, request, set, unlock, user};
use laurel_store::{
    GlobalStatsQuery, IDEMPOTENCY_RETENTION_SECONDS, StatTotal, Store, StoreError, StoreReply,
};
use laurel_store_postgres::{LAYOUT_VERSION, PostgresOptions, PostgresStore};
use laurel_testkit::postgres::PostgresServer;
use proptest::prelude::*;

/// A database of the process's shared test cluster, for one test.
struct Database {
    url: String,
}

async fn new_database() -> String {
    tokio::task::spawn_blocking(|| PostgresServer::shared().database())
        .await
        .expect("creating a database")
}

async fn open(url: &str) -> PostgresStore {
    PostgresStore::open(PostgresOptions::new(url))
        .await
        .expect("open")
}

async fn fresh() -> (Database, Box<dyn Store>) {
    let url = new_database().await;
    let store = open(&url).await;
    (Database { url }, Box::new(store))
}

async fn reopen(db: &Database) -> Box<dyn Store> {
    Box::new(open(&db.url).await)
}

laurel_store::conformance_suite!(fresh: fresh, reopen: reopen);

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_in_memory_fold(batches in conformance::arb_batches()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (_db, store) = fresh().await;
            conformance::batches_match_in_memory_fold(&*store, &batches).await;
        });
    }
}

/// A raw connection to a test database, for looking behind the store's back.
async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("raw connect");
    tokio::spawn(connection);
    client
}

// ---- several nodes on one database ----

/// Achievements `ACH_0`… for the stores of one test, plus `FIRST` (unlocked
/// before the race) and `SHARED` (unlocked by every store of the race), and
/// `Kills`: increment-only and aggregated.
fn race_schema(stores: usize) -> Schema {
    let achievement = |name: &str| {
        format!(
            r#"{{ "name": "{name}", "display_name": {{ "english": "{name}" }}, "description": {{ "english": "" }} }}"#
        )
    };
    let mut achievements: Vec<String> = (0..stores)
        .map(|i| achievement(&format!("ACH_{i}")))
        .collect();
    achievements.push(achievement("FIRST"));
    achievements.push(achievement("SHARED"));
    let json = format!(
        r#"{{
          "app": {{ "name": "Race" }},
          "stats": [ {{ "name": "Kills", "type": "int", "min": 0, "increment_only": true, "aggregated": true }} ],
          "achievements": [ {} ]
        }}"#,
        achievements.join(",\n")
    );
    let doc = SchemaDoc::from_json(&json).expect("race schema parses");
    Schema::from_doc(&doc).expect("race schema is valid")
}

/// What one applied store of the race answered.
#[derive(Debug, Clone)]
struct Applied {
    version: u64,
    kills: i32,
    unlocked: BTreeSet<String>,
    newly: Vec<String>,
    now: i64,
}

/// Two stores ("nodes") on one database, many concurrent stores to the same
/// three users, spread over both: every acknowledged store is applied in one
/// order per user (versions count them, nothing is lost, increment-only never
/// goes down, an unlock keeps its first time), and the global counters equal
/// a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_serialize_the_stores_of_one_user() {
    const PER_USER: usize = 40;
    let url = new_database().await;
    let nodes: [Arc<PostgresStore>; 2] = [Arc::new(open(&url).await), Arc::new(open(&url).await)];
    let app = app(11);
    nodes[0]
        .put_schema(app, race_schema(PER_USER))
        .await
        .expect("put");
    let users = [user(1), user(u64::MAX), user(76561197960287930)];
    for (i, &who) in users.iter().enumerate() {
        let first = request(app, who, "first", vec![unlock("FIRST")], NOW);
        let reply = nodes[i % 2].store(first).await.expect("first store");
        assert!(matches!(
            reply,
            StoreReply::Applied {
                replayed: false,
                ..
            }
        ));
    }

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (u, &who) in users.iter().enumerate() {
        for j in 0..PER_USER {
            let node = Arc::clone(&nodes[(j + u) % 2]);
            // Even stores raise Kills (refused when a later one got there
            // first: increment-only); odd ones only unlock, so they all apply.
            let mut entries = vec![
                unlock(&format!("ACH_{j}")),
                unlock("FIRST"),
                unlock("SHARED"),
            ];
            if j % 2 == 0 {
                entries.push(set("Kills", (j + 1) as f64));
            }
            let now = NOW + 100 + j as i64;
            let sent = request(app, who, &format!("race-{j}"), entries, now);
            tasks.spawn(async move { (u, j, now, node.store(sent).await) });
        }
        // The same key through both nodes at once: applied once.
        for k in 0..6 {
            let node = Arc::clone(&nodes[k % 2]);
            let sent = request(app, who, "twice", vec![], NOW + 50);
            tasks.spawn(async move { (u, usize::MAX, NOW + 50, node.store(sent).await) });
        }
    }
    // Per user, every applied store's answer.
    let mut applied: Vec<Vec<Applied>> = vec![Vec::new(); users.len()];
    let mut twice_first = vec![0; users.len()];
    while let Some(joined) = tasks.join_next().await {
        let (u, j, now, reply) = joined.expect("task");
        match reply.unwrap_or_else(|e| panic!("user {u} store {j}: {e:?}")) {
            StoreReply::Applied {
                progress,
                newly_unlocked,
                replayed,
            } => {
                if j == usize::MAX {
                    twice_first[u] += usize::from(!replayed);
                    continue;
                }
                assert!(!replayed, "user {u} store {j} is no replay");
                let kills = match progress.stats.get("Kills") {
                    None => 0,
                    Some(StatValue::Int(kills)) => *kills,
                    Some(other) => panic!("Kills is {other:?}"),
                };
                if j % 2 == 0 {
                    assert_eq!(
                        kills,
                        (j + 1) as i32,
                        "user {u} store {j} set its own Kills"
                    );
                }
                assert_eq!(
                    progress.achievements["FIRST"].unlock_time,
                    Some(NOW),
                    "the first unlock time stays"
                );
                let unlocked = progress
                    .achievements
                    .iter()
                    .filter(|(_, a)| a.unlocked)
                    .map(|(n, _)| n.to_string())
                    .collect();
                let newly = newly_unlocked.iter().map(|n| n.to_string()).collect();
                applied[u].push(Applied {
                    version: progress.version,
                    kills,
                    unlocked,
                    newly,
                    now,
                });
            }
            StoreReply::Refused(refusal) => {
                assert!(
                    j % 2 == 0 && j != usize::MAX,
                    "user {u} store {j}: {refusal:?}"
                );
                assert_eq!(
                    refusal.result,
                    EResult::InvalidParam,
                    "user {u} store {j}: only increment-only refuses: {refusal:?}"
                );
            }
        }
    }
    eprintln!(
        "{} concurrent stores over two nodes in {:?}",
        users.len() * (PER_USER + 6),
        started.elapsed()
    );
    assert_eq!(twice_first, vec![1; users.len()], "one application per key");

    for (u, &who) in users.iter().enumerate() {
        let mut history = applied[u].clone();
        history.sort_by_key(|h| h.version);
        // In version order: Kills never goes down, each store adds exactly its
        // own achievement (and SHARED once), and SHARED was unlocked by
        // exactly one store, at that store's time.
        let mut previous: Option<&Applied> = None;
        let mut shared_by = Vec::new();
        for h in &history {
            if let Some(p) = previous {
                assert!(
                    h.kills >= p.kills,
                    "user {u}: Kills went down: {} after {}",
                    h.kills,
                    p.kills
                );
                let added: BTreeSet<&String> = h.unlocked.difference(&p.unlocked).collect();
                let reported: BTreeSet<&String> = h.newly.iter().collect();
                assert_eq!(added, reported, "user {u} version {}", h.version);
                assert!(
                    p.unlocked.is_subset(&h.unlocked),
                    "user {u}: an unlock was lost"
                );
            }
            if h.newly.iter().any(|n| n == "SHARED") {
                shared_by.push(h.now);
            }
            previous = Some(h);
        }
        assert_eq!(shared_by.len(), 1, "user {u}: SHARED unlocked once");
        let odd = history.iter().filter(|h| {
            h.newly.iter().any(|n| {
                n.strip_prefix("ACH_")
                    .and_then(|j| j.parse::<usize>().ok())
                    .is_some_and(|j| j % 2 == 1)
            })
        });
        assert_eq!(
            odd.count(),
            PER_USER / 2,
            "user {u}: every odd store applied"
        );
        eprintln!("user {u}: {} of {PER_USER} stores applied", history.len());

        for node in &nodes {
            let progress = node.progress(app, who).await.expect("progress");
            let last = history.last().expect("some store applied");
            // Phase one was version 1, the empty `twice` store one more.
            assert_eq!(
                progress.version,
                history.len() as u64 + 2,
                "user {u}: versions count every store"
            );
            assert_eq!(progress.stats["Kills"], StatValue::Int(PER_USER as i32 - 1));
            assert_eq!(progress.achievements["FIRST"].unlock_time, Some(NOW));
            assert_eq!(
                progress.achievements["SHARED"].unlock_time,
                Some(shared_by[0])
            );
            let unlocked: BTreeSet<String> = progress
                .achievements
                .iter()
                .filter(|(_, a)| a.unlocked)
                .map(|(n, _)| n.to_string())
                .collect();
            assert_eq!(
                unlocked, last.unlocked,
                "user {u}: what the last store answered"
            );
        }
    }

    // The counters equal a recount over the three users, on both nodes.
    let mut recount: BTreeMap<String, u64> = BTreeMap::new();
    let mut kills_total = 0i64;
    for &who in &users {
        let progress = nodes[0].progress(app, who).await.expect("progress");
        for (name, state) in &progress.achievements {
            if state.unlocked {
                *recount.entry(name.to_string()).or_default() += 1;
            }
        }
        if let Some(StatValue::Int(k)) = progress.stats.get("Kills") {
            kills_total += i64::from(*k);
        }
    }
    for node in &nodes {
        let global = node.global_achievements(app).await.expect("global");
        assert_eq!(global.users, users.len() as u64);
        let counted: BTreeMap<String, u64> = global
            .unlocked
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(counted, recount);
        let stats = node
            .global_stats(app, GlobalStatsQuery::default())
            .await
            .expect("global stats");
        assert_eq!(stats[0].total, StatTotal::Int(kills_total));
        assert_eq!(kills_total, 3 * (PER_USER as i64 - 1));
    }
}

/// Many users at once through two nodes (their counters spread over every
/// shard), with stores, unlocks, clears and resets: the global figures equal
/// a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_keep_global_figures_exact_for_many_users() {
    const USERS: u64 = 48;
    let url = new_database().await;
    let nodes: [Arc<PostgresStore>; 2] = [Arc::new(open(&url).await), Arc::new(open(&url).await)];
    let app = app(9);
    nodes[1]
        .put_schema(app, conformance::aggregated_schema())
        .await
        .expect("put");
    let mut tasks = tokio::task::JoinSet::new();
    for id in 1..=USERS {
        let node = Arc::clone(&nodes[(id % 2) as usize]);
        let other = Arc::clone(&nodes[((id + 1) % 2) as usize]);
        tasks.spawn(async move {
            let who = user(id * 7919);
            let first = vec![set("Kills", 10.0 + id as f64), unlock("A")];
            node.store(request(app, who, "a", first, NOW))
                .await
                .expect("store");
            let second = vec![set("Distance", id as f64 / 4.0)];
            other
                .store(request(app, who, "b", second, NOW + 60))
                .await
                .expect("store");
            match id % 4 {
                0 => {
                    node.reset(
                        app,
                        who,
                        laurel_core::ResetScope::full(true),
                        NOW + 90,
                        conformance::test_audit(),
                    )
                    .await
                    .expect("reset");
                }
                1 => {
                    let clear = vec![conformance::clear("A")];
                    other
                        .store(request(app, who, "c", clear, NOW + 120))
                        .await
                        .expect("store");
                }
                _ => {}
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task");
    }

    let schema = conformance::aggregated_schema();
    let (mut users, mut unlocked, mut kills, mut distance) = (0u64, 0u64, 0i64, 0f64);
    for id in 1..=USERS {
        let progress = nodes[0]
            .progress(app, user(id * 7919))
            .await
            .expect("progress");
        users += u64::from(progress.version > 0);
        unlocked += u64::from(progress.is_unlocked("A"));
        for def in schema.stats() {
            let value = progress.stat(def).read(def);
            match def.name.as_str() {
                "Kills" => kills += value as i64,
                "Distance" => distance += value,
                _ => {}
            }
        }
    }
    assert_eq!(users, USERS);
    for node in &nodes {
        let global = node.global_achievements(app).await.expect("global");
        assert_eq!((global.users, global.unlocked["A"]), (users, unlocked));
        let stats = node
            .global_stats(
                app,
                GlobalStatsQuery {
                    names: vec!["Kills".into(), "Distance".into()],
                    history: None,
                },
            )
            .await
            .expect("global stats");
        assert_eq!(stats[0].total, StatTotal::Int(kills));
        let StatTotal::Float(got) = stats[1].total else {
            panic!("{:?}", stats[1]);
        };
        assert!((got - distance).abs() < 1e-9, "{got} != {distance}");
        assert_eq!(
            node.apps().await.expect("apps")[0].users,
            users,
            "apps() adds the shards up too"
        );
    }
}

/// A schema put through one node is what the next store on another node is
/// validated against: nothing is cached past the database's version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_put_on_one_node_is_used_by_the_other_at_once() {
    let url = new_database().await;
    let (a, b) = (open(&url).await, open(&url).await);
    let app = app(7);
    a.put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    b.store(request(app, user(1), "k1", vec![set("Score", 3.0)], NOW))
        .await
        .expect("store");
    assert_eq!(
        b.schema(app).await.expect("schema").expect("known").version,
        1
    );

    let mut doc = conformance::test_schema().to_doc();
    doc.stats.retain(|s| s.name != "Score");
    a.put_schema(app, Schema::from_doc(&doc).expect("valid"))
        .await
        .expect("put");
    let reply = b
        .store(request(app, user(1), "k2", vec![set("Score", 4.0)], NOW))
        .await
        .expect("store");
    assert!(
        matches!(reply, StoreReply::Refused(_)),
        "Score is gone from the schema: {reply:?}"
    );
    assert_eq!(
        b.schema(app).await.expect("schema").expect("known").version,
        2
    );
    let progress = b.progress(app, user(1)).await.expect("progress");
    assert!(progress.stats.is_empty(), "{progress:?}");
}

// ---- the database going away ----

/// With the database stopped every call fails fast as unavailable, and the
/// same store object works again once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_is_unavailable_fast_and_comes_back() {
    let server = Arc::new(
        tokio::task::spawn_blocking(PostgresServer::start)
            .await
            .expect("start"),
    );
    eprintln!("own cluster started in {:?}", server.startup_time());
    let url = {
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || server.database())
            .await
            .expect("database")
    };
    let store = open(&url).await;
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    store
        .store(request(app, user(1), "before", vec![unlock("A")], NOW))
        .await
        .expect("store");
    // Several pooled connections, all of which the stop will break.
    let reads: Vec<_> = (0..8).map(|_| store.progress(app, user(1))).collect();
    for read in reads {
        read.await.expect("progress");
    }

    {
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || server.stop())
            .await
            .expect("stop");
    }
    let unavailable = |what: &str, e: StoreError, took: Duration| {
        assert!(matches!(e, StoreError::Unavailable(_)), "{what}: {e:?}");
        eprintln!("{what} with the database down: {took:?} ({e})");
        assert!(took < Duration::from_secs(10), "{what} took {took:?}");
    };
    let t = Instant::now();
    let e = store
        .store(request(app, user(1), "during", vec![unlock("B")], NOW))
        .await
        .unwrap_err();
    unavailable("store", e, t.elapsed());
    let t = Instant::now();
    let e = store.health().await.unwrap_err();
    unavailable("health", e, t.elapsed());
    let t = Instant::now();
    let e = store.progress(app, user(1)).await.unwrap_err();
    unavailable("progress", e, t.elapsed());

    {
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || server.start_again())
            .await
            .expect("start again");
    }
    store.health().await.expect("health after the restart");
    let reply = store
        .store(request(app, user(1), "after", vec![unlock("B")], NOW + 1))
        .await
        .expect("store after the restart");
    let StoreReply::Applied { progress, .. } = reply else {
        panic!("{reply:?}");
    };
    assert_eq!(
        progress.version, 2,
        "the store during the outage wrote nothing"
    );
    assert!(progress.is_unlocked("A") && progress.is_unlocked("B"));
}

/// A database that stops answering without closing anything (a hung host,
/// a network partition) makes calls fail as unavailable within the
/// configured bounds; none hangs. Thawed, the same store works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_never_hangs_a_call() {
    let server = Arc::new(
        tokio::task::spawn_blocking(PostgresServer::start)
            .await
            .expect("start"),
    );
    let url = {
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || server.database())
            .await
            .expect("database")
    };
    let second = Duration::from_secs(1);
    let options = PostgresOptions {
        connect_timeout: second,
        wait_timeout: second,
        operation_timeout: second,
        ..PostgresOptions::new(&url)
    };
    let store = PostgresStore::open(options).await.expect("open");
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");

    server.freeze();
    let frozen = |what: &str, result: Result<(), StoreError>, took: Duration| {
        match result {
            Err(StoreError::Unavailable(message)) => {
                eprintln!("{what} while frozen: {took:?} ({message})")
            }
            other => panic!("{what} while frozen: {other:?}"),
        }
        assert!(took < Duration::from_secs(5), "{what} took {took:?}");
    };
    let t = Instant::now();
    let result = store
        .store(request(app, user(1), "k", vec![unlock("A")], NOW))
        .await
        .map(drop);
    frozen("store", result, t.elapsed());
    let t = Instant::now();
    let result = store.health().await;
    frozen("health", result, t.elapsed());
    let t = Instant::now();
    let result = store.progress(app, user(1)).await.map(drop);
    frozen("progress", result, t.elapsed());
    server.thaw();

    store.health().await.expect("health after thawing");
    let reply = store
        .store(request(app, user(1), "k", vec![unlock("A")], NOW))
        .await
        .expect("store after thawing");
    assert!(matches!(reply, StoreReply::Applied { .. }), "{reply:?}");
}

#[tokio::test]
async fn nothing_listening_is_unavailable_at_open() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The listener is dropped: nobody listens on the port any more.
    let started = Instant::now();
    let result = PostgresStore::open(PostgresOptions::new(format!(
        "postgres://laurel@127.0.0.1:{port}/laurel"
    )))
    .await;
    let took = started.elapsed();
    eprintln!("open with nothing listening: {took:?}");
    match result {
        Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("wrong error: {other:?}"),
        Ok(_) => panic!("opened a database nobody serves"),
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A configuration that can never work is a backend error (retrying will
/// not help), and its message does not repeat the URL (it may hold a password).
#[tokio::test]
async fn a_bad_url_or_missing_database_is_a_backend_error() {
    let backend = |result: Result<PostgresStore, StoreError>, what: &str| match result {
        Err(StoreError::Backend(message)) => {
            assert!(!message.contains("secret-password"), "{what}: {message}");
        }
        Err(other) => panic!("{what}: wrong error: {other:?}"),
        Ok(_) => panic!("{what}: opened"),
    };
    backend(
        PostgresStore::open(PostgresOptions::new(
            "postgres://laurel:secret-password@127.0.0.1:notaport/db",
        ))
        .await,
        "malformed URL",
    );
    backend(
        PostgresStore::open(PostgresOptions::new(
            "postgres://laurel:secret-password@127.0.0.1:5432/db?sslmode=verify-full",
        ))
        .await,
        "verify-full without sslrootcert",
    );
    let url = new_database().await;
    let missing = format!("{}_missing", url);
    backend(
        PostgresStore::open(PostgresOptions::new(missing)).await,
        "missing database",
    );
}

// ---- TLS ----

/// `sslmode` and `sslrootcert` as libpq reads them, against a PostgreSQL
/// that accepts TCP only with TLS (so a store that opens there is
/// encrypted) and its certificate for `localhost`; and `require` against
/// one without TLS.
#[tokio::test]
async fn sslmode_and_sslrootcert_are_honoured_as_libpq_does() {
    use laurel_testkit::tls::TestCa;
    let dir = tempfile::tempdir().expect("dir");
    let ours = TestCa::new("PostgreSQL test CA").expect("CA");
    let ours_file = ours.write_cert(dir.path(), "ours.crt").expect("write");
    let stranger = TestCa::new("Another CA").expect("CA");
    let stranger_file = stranger
        .write_cert(dir.path(), "stranger.crt")
        .expect("write");
    let certificate = ours.issue(&["localhost"]).expect("certificate");
    let (pg, db) = tokio::task::spawn_blocking(move || {
        let pg = PostgresServer::start_tls(&certificate);
        let db = pg.create_database().expect("database");
        (pg, db)
    })
    .await
    .expect("a TLS cluster");
    let ours = format!("sslrootcert={}", ours_file.display());
    let stranger = format!("sslrootcert={}", stranger_file.display());
    let cases: [(&str, String, bool); 12] = [
        // Refused by the server's pg_hba.conf: no encryption.
        ("localhost", "sslmode=disable".into(), false),
        // Encrypted, the certificate not checked.
        ("localhost", String::new(), true),
        ("localhost", "sslmode=prefer".into(), true),
        ("localhost", "sslmode=require".into(), true),
        ("127.0.0.1", "sslmode=require".into(), true),
        // With a root file, prefer and require check the chain (libpq).
        ("localhost", format!("sslmode=require&{stranger}"), false),
        ("localhost", format!("sslmode=prefer&{stranger}"), false),
        // verify-ca: the chain, not the name.
        ("127.0.0.1", format!("sslmode=verify-ca&{ours}"), true),
        ("localhost", format!("sslmode=verify-ca&{stranger}"), false),
        // verify-full: the chain and the name.
        ("localhost", format!("sslmode=verify-full&{ours}"), true),
        ("127.0.0.1", format!("sslmode=verify-full&{ours}"), false),
        (
            "localhost",
            format!("sslmode=verify-full&{stranger}"),
            false,
        ),
    ];
    for (host, params, opens) in cases {
        let url = format!("postgres://laurel@{host}:{}/{db}?{params}", pg.port());
        match PostgresStore::open(PostgresOptions::new(url.as_str())).await {
            Ok(store) => {
                assert!(opens, "{url}: opened");
                store.health().await.expect("a call over TLS");
                store.close();
            }
            Err(e) => {
                eprintln!("{url}: refused: {e}");
                assert!(!opens, "{url}: {e}");
            }
        }
    }
    // A server without TLS: `require` does not fall back to plain text.
    let plain = new_database().await;
    let url = format!("{plain}?sslmode=require");
    match PostgresStore::open(PostgresOptions::new(url.as_str())).await {
        Ok(_) => panic!("{url}: opened without TLS"),
        Err(e) => assert!(e.to_string().contains("TLS"), "{url}: {e}"),
    }
    drop(pg);
}

// ---- migrations ----

/// Nodes starting together migrate once; a database from a newer build is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let url = new_database().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::open(PostgresOptions::new(url)).await })
        })
        .collect();
    for open in opens {
        open.await.expect("task").expect("open");
    }
    let client = raw(&url).await;
    let rows = client
        .query(
            "SELECT version FROM laurel_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("migrations");
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=LAYOUT_VERSION as i32).collect::<Vec<_>>());

    client
        .execute(
            "INSERT INTO laurel_migrations (version) VALUES ($1)",
            &[&(LAYOUT_VERSION as i32 + 1)],
        )
        .await
        .expect("bump");
    match PostgresStore::open(PostgresOptions::new(url)).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("newer than this build"), "{message}")
        }
        Err(other) => panic!("wrong error: {other:?}"),
        Ok(_) => panic!("a newer database was opened"),
    }
}

/// Issue 12: a database where an older build stored an average rate of
/// 1e40 and made its aggregated total NaN is repaired by migration 2: the
/// value goes back to its default, the total is counted again from the users,
/// and stores counting it work again.
#[tokio::test]
async fn migration_2_repairs_non_finite_values() {
    let url = new_database().await;
    let store = open(&url).await;
    let app = app(9);
    conformance::non_finite_repair_setup(&store, app).await;
    drop(store);
    // What the old build left, by hand, and the layout version before the repair.
    raw(&url)
        .await
        .batch_execute(
            "INSERT INTO users (app_id, steam_id, version) VALUES (9, 2, 1);
             INSERT INTO stats (app_id, steam_id, name, kind, avg_count, avg_seconds)
                 VALUES (9, 2, 'Speed', 2, 1e30, 1e-10);
             UPDATE stat_totals SET float_sum = 'NaN' WHERE app_id = 9 AND name = 'Speed';
             INSERT INTO stat_totals (app_id, name, kind, shard, value_rows, int_sum, float_sum)
                 VALUES (9, 'Speed', 2, 15, 1, 0, 'Infinity')
                 ON CONFLICT (app_id, name, kind, shard) DO UPDATE SET float_sum = 'Infinity';
             UPDATE stat_history SET float_change = 'NaN' WHERE app_id = 9 AND name = 'Speed';
             DELETE FROM laurel_migrations WHERE version >= 2;",
        )
        .await
        .expect("corrupt");
    let store = open(&url).await;
    conformance::non_finite_repair_check(&store, app).await;
}

/// Steam ids above `i64::MAX` are stored bit-cast: negative in the database,
/// themselves through the store.
#[tokio::test]
async fn steam_ids_are_stored_bit_cast() {
    let url = new_database().await;
    let store = open(&url).await;
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    store
        .store(request(app, user(u64::MAX), "k", vec![unlock("A")], NOW))
        .await
        .expect("store");
    let client = raw(&url).await;
    let row = client
        .query_one("SELECT steam_id FROM users", &[])
        .await
        .expect("user row");
    assert_eq!(row.get::<_, i64>(0), -1);
    assert!(
        store
            .progress(app, user(u64::MAX))
            .await
            .expect("progress")
            .is_unlocked("A")
    );
}

/// A refused first store leaves no row behind (the user's lock row is rolled back).
#[tokio::test]
async fn a_refused_first_store_leaves_no_row() {
    let url = new_database().await;
    let store = open(&url).await;
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    let reply = store
        .store(request(app, user(5), "k", vec![set("Nope", 1.0)], NOW))
        .await
        .expect("store");
    assert!(matches!(reply, StoreReply::Refused(_)));
    let client = raw(&url).await;
    let row = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("count");
    assert_eq!(row.get::<_, i64>(0), 0);
    assert_eq!(
        store.progress(app, user(5)).await.expect("progress"),
        UserProgress::default()
    );
}

/// A store of one pooled connection on a fresh database, with the
/// conformance schema as app 7: what a test sees next ran on that connection.
async fn one_connection_store() -> (String, PostgresStore, laurel_core::AppId) {
    let url = new_database().await;
    let options = PostgresOptions {
        max_connections: 1,
        ..PostgresOptions::new(url.clone())
    };
    let store = PostgresStore::open(options).await.expect("open");
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    (url, store, app)
}

/// A write that fails inside the writes' message (here: a trigger refuses
/// one idempotency key) stops the COMMIT sent behind it: none of the
/// store's rows stay, the version does not move, and the connection serves
/// the next store.
#[tokio::test]
async fn a_write_failing_before_the_commit_keeps_nothing() {
    let (url, store, app) = one_connection_store().await;
    store
        .store(request(app, user(5), "first", vec![set("Kills", 1.0)], NOW))
        .await
        .expect("first store");
    let client = raw(&url).await;
    client
        .batch_execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.idem_key = 'poison' THEN RAISE EXCEPTION 'poisoned key'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON idempotency \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .await
        .expect("trigger");
    let poisoned = store
        .store(request(
            app,
            user(5),
            "poison",
            vec![set("Kills", 9.0), unlock("A")],
            NOW,
        ))
        .await;
    match poisoned {
        Err(StoreError::Backend(message)) => assert!(message.contains("poisoned key"), "{message}"),
        other => panic!("the failed write must be the answer: {other:?}"),
    }
    let progress = store.progress(app, user(5)).await.expect("progress");
    assert_eq!(progress.version, 1);
    assert!(!progress.achievements.get("A").is_some_and(|a| a.unlocked));
    let after = store
        .store(request(app, user(5), "after", vec![set("Kills", 2.0)], NOW))
        .await
        .expect("the connection serves the next store");
    match after {
        StoreReply::Applied { progress, .. } => assert_eq!(progress.version, 2),
        other => panic!("{other:?}"),
    }
    let rows = client
        .query_one(
            "SELECT (SELECT count(*) FROM idempotency), \
             (SELECT count(*) FROM achievements), (SELECT version FROM users)",
            &[],
        )
        .await
        .expect("count");
    assert_eq!(
        (
            rows.get::<_, i64>(0),
            rows.get::<_, i64>(1),
            rows.get::<_, i64>(2)
        ),
        (2, 0, 2)
    );
}

// ---- values as text ----

/// A store reads the user's rows and writes its changes as SQL text (one
/// simple query per round trip): names full of SQL and array syntax, keys
/// with quotes and backslashes, and floats at the edges of their range come
/// back exactly, through the next store's reads, the binary reads of
/// `progress`, a replay's answer and the global totals, whatever the
/// database's own `extra_float_digits`.
#[tokio::test]
async fn hostile_names_keys_and_extreme_values_travel_exactly() {
    use laurel_core::{StoreBatch, WriteAuthority, apply_batch};
    use laurel_store::conformance::{assert_same_progress, avg};

    const INT: &str = "it's";
    const TINY: &str = r"back\slash";
    const ZERO: &str = r#"quote"d {a,b}"#;
    const RATE: &str = "NULL";
    const TOTAL: &str = "'); DROP TABLE stats; --";
    const HUGE: &str = "Δx 名";
    let achievements = ["null", "a,b", r#""q""#, r"x\y", "that's"];
    let doc = serde_json::json!({
        "app": { "name": "Hostile" },
        "stats": [
            { "name": INT, "type": "int" },
            { "name": TINY, "type": "float" },
            { "name": ZERO, "type": "float" },
            { "name": RATE, "type": "avgrate", "window": 3600 },
            { "name": TOTAL, "type": "int", "aggregated": true },
            { "name": HUGE, "type": "float" },
        ],
        "achievements": achievements.iter().map(|name| serde_json::json!({
            "name": name, "display_name": { "english": name }, "description": { "english": "" }
        })).collect::<Vec<_>>(),
    });
    let doc = SchemaDoc::from_json(&doc.to_string()).expect("schema parses");
    let schema = Schema::from_doc(&doc).expect("schema is valid");
    let url = new_database().await;
    // An operator's setting that would round floats written as text: each
    // session of the store sets its own.
    raw(&url)
        .await
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET extra_float_digits = -3', \
             current_database()); END $$",
        )
        .await
        .expect("alter database");
    let store = open(&url).await;
    let app = app(7);
    store.put_schema(app, schema.clone()).await.expect("put");

    let key = r#"k'1\"); --"#;
    let mut first = vec![
        set(INT, f64::from(i32::MIN)),
        set(TINY, f64::from(f32::from_bits(1))),
        set(ZERO, -0.0),
        avg(RATE, 0.1, 1.0 / 3.0),
        set(TOTAL, f64::from(i32::MAX)),
        set(HUGE, f64::from(f32::MAX)),
    ];
    first.extend(achievements.iter().map(|name| unlock(name)));
    let answer = store
        .store(request(app, user(u64::MAX), key, first.clone(), NOW))
        .await
        .expect("first store");
    let StoreReply::Applied {
        progress: after_first,
        newly_unlocked,
        replayed: false,
    } = answer
    else {
        panic!("first store: {answer:?}");
    };
    assert_eq!(newly_unlocked.len(), achievements.len());
    assert_eq!(after_first.stats[ZERO], StatValue::Float(-0.0));

    // The second store reads every value back as text before it validates.
    let second = vec![set(HUGE, 0.1), avg(RATE, 2.0, 7.0)];
    let want = apply_batch(
        &schema,
        &after_first,
        &StoreBatch {
            entries: second.clone(),
        },
        WriteAuthority::User,
        NOW + 1,
    )
    .expect("valid")
    .progress;
    let answer = store
        .store(request(app, user(u64::MAX), "k2", second, NOW + 1))
        .await
        .expect("second store");
    let StoreReply::Applied { progress, .. } = answer else {
        panic!("second store: {answer:?}");
    };
    assert_same_progress(&progress, &want, "second store's answer");
    let read = store.progress(app, user(u64::MAX)).await.expect("progress");
    assert_same_progress(&read, &want, "read back");

    // A replay answers the first answer's unlocks, from the key's record.
    let answer = store
        .store(request(app, user(u64::MAX), key, first, NOW + 2))
        .await
        .expect("replay");
    match answer {
        StoreReply::Applied {
            newly_unlocked: replayed_unlocks,
            replayed: true,
            ..
        } => assert_eq!(replayed_unlocks, newly_unlocked),
        other => panic!("replay: {other:?}"),
    }
    let totals = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: vec![TOTAL.into()],
                history: None,
            },
        )
        .await
        .expect("global stats");
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].total, StatTotal::Int(i64::from(i32::MAX)));
    let client = raw(&url).await;
    let row = client
        .query_one("SELECT count(*) FROM stats", &[])
        .await
        .expect("the stats table is still there");
    assert_eq!(row.get::<_, i64>(0), 6);
}

/// A read is one message too: a statement that fails in it (here: its table
/// is gone for a moment) is the answer, and the one pooled connection is
/// left with no transaction open, so the next read on it succeeds.
#[tokio::test]
async fn a_read_failing_inside_its_message_leaves_the_connection_clean() {
    let (url, store, app) = one_connection_store().await;
    store
        .store(request(
            app,
            user(5),
            "k",
            vec![set("Kills", 3.0), unlock("A")],
            NOW,
        ))
        .await
        .expect("store");
    let client = raw(&url).await;
    client
        .batch_execute("ALTER TABLE achievements RENAME TO achievements_away")
        .await
        .expect("rename");
    match store.progress(app, user(5)).await {
        Err(StoreError::Backend(message)) => {
            assert!(message.contains("achievements"), "{message}")
        }
        other => panic!("the failed statement must be the answer: {other:?}"),
    }
    client
        .batch_execute("ALTER TABLE achievements_away RENAME TO achievements")
        .await
        .expect("rename back");
    let progress = store.progress(app, user(5)).await.expect("the next read");
    assert_eq!(progress.version, 1);
    assert_eq!(progress.stats["Kills"], StatValue::Int(3));
    assert!(progress.achievements["A"].unlocked);
}

// ---- idempotency keys expire ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_idempotency_keys_are_forgotten() {
    let url = new_database().await;
    let options = PostgresOptions {
        idempotency_purge_interval: Duration::ZERO,
        ..PostgresOptions::new(&url)
    };
    let store = PostgresStore::open(options).await.expect("open");
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    let old = request(app, user(1), "old", vec![set("Kills", 1.0)], NOW);
    store.store(old.clone()).await.expect("store");

    // Kept for the whole retention.
    let within = NOW + IDEMPOTENCY_RETENTION_SECONDS;
    assert_eq!(
        store
            .purge_expired_idempotency(within)
            .await
            .expect("purge"),
        0
    );
    store
        .store(request(app, user(2), "tick", vec![], within))
        .await
        .expect("store");
    let reply = store.store(old.clone()).await.expect("replay");
    assert!(
        matches!(reply, StoreReply::Applied { replayed: true, .. }),
        "{reply:?}"
    );

    // A store past the retention purges in the background.
    let past = NOW + IDEMPOTENCY_RETENTION_SECONDS + 10;
    store
        .store(request(app, user(2), "tick2", vec![], past))
        .await
        .expect("store");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = store.store(old.clone()).await.expect("store");
        match reply {
            StoreReply::Applied {
                replayed: false, ..
            } => break,
            StoreReply::Applied { replayed: true, .. } if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("the key was not forgotten: {other:?}"),
        }
    }
}

// ---- leaderboards (until the shared conformance checks cover them) ----

mod leaderboards {
    use laurel_core::leaderboard::{
        BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod, UploadMethod,
    };
    use laurel_core::{AppId, Fingerprint, IdempotencyKey, SteamId, UnixTime};
    use laurel_store::audit::{AuditDraft, AuditQuery};
    use laurel_store::{Board, Leaderboards, Scope, StoredEntry, UploadReply, UploadRequest};

    use super::*;

    const BOARDS_SCHEMA: &str = r#"{
      "app": { "name": "Boards" },
      "leaderboards": [
        { "name": "Feet Traveled", "sort": "descending" },
        { "name": "Quickest Win", "sort": "ascending", "display": "seconds", "period": "daily" }
      ]
    }"#;

    fn boards_schema(json: &str) -> Schema {
        Schema::from_doc(&SchemaDoc::from_json(json).expect("parses")).expect("valid")
    }

    fn def(name: &str, sort: SortMethod) -> LeaderboardDef {
        LeaderboardDef {
            name: BoardName::parse(name).expect("name"),
            sort,
            display: DisplayType::Numeric,
            display_name: None,
            writes: BoardWrites::Client,
            period: BoardPeriod::None,
        }
    }

    fn upload(board: &Board, who: SteamId, method: UploadMethod, score: i32) -> UploadRequest {
        UploadRequest {
            app: board.app,
            board: board.id,
            period: board.def.period.start(NOW).unwrap_or(0),
            user: who,
            method,
            score,
            details: vec![score, 7],
            now: NOW,
            idempotency: None,
        }
    }

    fn keyed(mut request: UploadRequest, key: &str, fingerprint: &str) -> UploadRequest {
        request.idempotency = Some((
            IdempotencyKey::from_stored(key.to_owned()),
            Fingerprint::from_stored(fingerprint.to_owned()),
        ));
        request
    }

    async fn board(store: &dyn Store, app: AppId, name: &str) -> Board {
        store
            .leaderboard(app, &BoardName::parse(name).expect("name"))
            .await
            .expect("find")
            .expect("the board exists")
    }

    async fn setup() -> (Database, Box<dyn Store>, AppId) {
        let (db, store) = fresh().await;
        let app = app(480);
        store
            .put_schema(app, boards_schema(BOARDS_SCHEMA))
            .await
            .expect("put");
        (db, store, app)
    }

    #[tokio::test]
    async fn the_schemas_boards_exist_and_clients_may_add_more() {
        let (_db, store, app) = setup().await;
        let listed = store.leaderboards(app, NOW).await.expect("list");
        let names: Vec<&str> = listed.iter().map(|b| b.board.def.name.as_str()).collect();
        assert_eq!(names, ["Feet Traveled", "Quickest Win"]);
        assert!(listed.iter().all(|b| b.entries == 0 && b.board.epoch == 0));
        let quickest = board(&*store, app, "QUICKEST WIN").await;
        assert_eq!(quickest.def.sort, SortMethod::Ascending);
        assert_eq!(quickest.def.display, DisplayType::Seconds);
        assert_eq!(quickest.def.period, BoardPeriod::Daily);

        let (found, created) = store
            .create_leaderboard(app, &def("feet traveled", SortMethod::Ascending))
            .await
            .expect("find");
        assert!(!created);
        assert_eq!(found.def.name.as_str(), "Feet Traveled");
        assert_eq!(found.def.sort, SortMethod::Descending, "found, not changed");
        let (made, created) = store
            .create_leaderboard(app, &def("Laps", SortMethod::Ascending))
            .await
            .expect("create");
        assert!(created);
        assert_eq!(board(&*store, app, "laps").await, made);

        // A new schema changes its boards' settings and keeps the others.
        store
            .put_schema(
                app,
                boards_schema(
                    r#"{ "app": { "name": "Boards" }, "leaderboards": [
                        { "name": "FEET TRAVELED", "sort": "ascending", "writes": "trusted" } ] }"#,
                ),
            )
            .await
            .expect("put again");
        let listed = store.leaderboards(app, NOW).await.expect("list");
        assert_eq!(listed.len(), 3);
        let feet = board(&*store, app, "Feet Traveled").await;
        assert_eq!(
            feet.def.name.as_str(),
            "Feet Traveled",
            "keeps its spelling"
        );
        assert_eq!(feet.def.sort, SortMethod::Ascending);
        assert_eq!(feet.def.writes, BoardWrites::Trusted);

        let unknown = app_id(9);
        assert!(matches!(
            store.leaderboards(unknown, NOW).await,
            Err(StoreError::UnknownApp(_))
        ));
        assert!(matches!(
            store
                .create_leaderboard(unknown, &def("X", SortMethod::Ascending))
                .await,
            Err(StoreError::UnknownApp(_))
        ));
    }

    fn app_id(id: u32) -> AppId {
        conformance::app(id)
    }

    #[tokio::test]
    async fn uploads_keep_the_best_and_the_change_log_follows() {
        let (_db, store, app) = setup().await;
        let feet = board(&*store, app, "Feet Traveled").await;
        let first = store
            .upload_score(upload(&feet, user(1), UploadMethod::KeepBest, 100))
            .await
            .expect("upload");
        assert!(first.changed && first.previous.is_none() && !first.replayed);
        assert_eq!((first.entry.score, first.entry.seq), (100, 1));
        assert_eq!(first.entry.details, [100, 7]);
        let worse = store
            .upload_score(upload(&feet, user(1), UploadMethod::KeepBest, 50))
            .await
            .expect("upload");
        assert!(!worse.changed);
        assert_eq!(worse.entry, first.entry);
        let equal = store
            .upload_score(upload(&feet, user(1), UploadMethod::KeepBest, 100))
            .await
            .expect("upload");
        assert!(!equal.changed);
        let better = store
            .upload_score(upload(&feet, user(1), UploadMethod::KeepBest, 150))
            .await
            .expect("upload");
        assert!(better.changed);
        assert_eq!(better.previous, Some(first.entry.clone()));
        assert_eq!(better.entry.seq, 2);
        let forced = store
            .upload_score(upload(&feet, user(1), UploadMethod::ForceUpdate, 10))
            .await
            .expect("upload");
        assert!(forced.changed);
        assert_eq!((forced.entry.score, forced.entry.seq), (10, 3));
        store
            .upload_score(upload(&feet, user(2), UploadMethod::KeepBest, 20))
            .await
            .expect("upload");

        let all = store
            .board_changes(app, feet.id, 0, 0)
            .await
            .expect("changes");
        let seen: Vec<(u64, u64, Option<i32>)> = all
            .changes
            .iter()
            .map(|c| (c.user.get(), c.seq, c.entry.as_ref().map(|e| e.score)))
            .collect();
        assert_eq!(seen, [(1, 3, Some(10)), (2, 4, Some(20))]);
        let later = store
            .board_changes(app, feet.id, 0, all.cursor)
            .await
            .expect("changes");
        assert!(later.cursor >= all.cursor, "the cursor never goes back");
        assert!(
            later.changes.iter().all(|c| c.seq <= 4),
            "nothing new: {later:?}"
        );

        // Ranks from the node's index.
        let ranks = Leaderboards::new();
        let page = ranks
            .download(&*store, &feet, 0, &Scope::Global { start: 1, end: 10 })
            .await
            .expect("download");
        let order: Vec<(u64, u64)> = page
            .entries
            .iter()
            .map(|e| (e.user.get(), e.rank))
            .collect();
        assert_eq!(order, [(2, 1), (1, 2)]);

        // A deleted entry leaves a tombstone with the next sequence number.
        assert!(
            store
                .delete_leaderboard_entry(app, feet.id, 0, user(2), conformance::test_audit())
                .await
                .expect("delete")
        );
        assert!(
            !store
                .delete_leaderboard_entry(app, feet.id, 0, user(2), conformance::test_audit())
                .await
                .expect("delete again")
        );
        let after = store
            .board_changes(app, feet.id, 0, later.cursor)
            .await
            .expect("changes");
        let after: Vec<_> = after.changes.iter().filter(|c| c.seq > 4).collect();
        assert_eq!(after.len(), 1);
        assert_eq!((after[0].seq, &after[0].entry), (5, &None));
        let page = ranks
            .download(&*store, &feet, 0, &Scope::Global { start: 1, end: 10 })
            .await
            .expect("download");
        assert_eq!(page.entry_count, 1);
        assert_eq!(
            store
                .stored_entries(app, feet.id)
                .await
                .expect("entries")
                .len(),
            1
        );

        // A reset removes everything and moves the epoch.
        let removed = store
            .reset_leaderboard(app, feet.id, conformance::test_audit())
            .await
            .expect("reset");
        assert_eq!(removed, 1);
        let reset = store
            .board_changes(app, feet.id, 0, 0)
            .await
            .expect("changes");
        assert_eq!((reset.epoch, reset.changes.len()), (1, 0));
        let again = store
            .upload_score(upload(&feet, user(3), UploadMethod::KeepBest, 1))
            .await
            .expect("upload");
        assert_eq!((again.entry.seq, again.epoch), (6, 1));
        let page = ranks
            .download(&*store, &feet, 0, &Scope::Global { start: 1, end: 10 })
            .await
            .expect("download");
        assert_eq!(page.entry_count, 1);
        let listed = store.leaderboards(app, NOW).await.expect("list");
        assert_eq!(listed[0].entries, 1);

        // Moderation is in the audit log.
        let log = store
            .audit_log(AuditQuery {
                app: Some(app),
                before: None,
                limit: 10,
            })
            .await
            .expect("audit");
        assert_eq!(log.len(), 2, "{log:?}");

        // Deleting the board.
        let draft = AuditDraft::new("test", "local", "leaderboard.delete");
        assert!(
            store
                .delete_leaderboard(app, feet.id, draft.clone())
                .await
                .expect("delete")
        );
        assert!(
            !store
                .delete_leaderboard(app, feet.id, draft)
                .await
                .expect("again")
        );
        assert!(matches!(
            store.board_changes(app, feet.id, 0, 0).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store
                .upload_score(upload(&feet, user(1), UploadMethod::KeepBest, 1))
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store
                .reset_leaderboard(app, feet.id, conformance::test_audit())
                .await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn periods_and_bad_uploads() {
        let (_db, store, app) = setup().await;
        let quickest = board(&*store, app, "Quickest Win").await;
        let today = upload(&quickest, user(1), UploadMethod::KeepBest, 30);
        assert_eq!(today.period, NOW - NOW % 86_400);
        store.upload_score(today.clone()).await.expect("upload");
        let yesterday = UploadRequest {
            period: today.period - 86_400,
            score: 10,
            ..today.clone()
        };
        store.upload_score(yesterday).await.expect("upload");
        let now = store
            .board_changes(app, quickest.id, today.period, 0)
            .await
            .expect("changes");
        assert_eq!(now.changes.len(), 1);
        assert_eq!(now.changes[0].entry.as_ref().map(|e| e.score), Some(30));
        assert_eq!(
            store
                .stored_entries(app, quickest.id)
                .await
                .expect("all")
                .len(),
            2
        );

        let mut many = upload(&quickest, user(1), UploadMethod::ForceUpdate, 1);
        many.details = vec![0; 65];
        assert!(matches!(
            store.upload_score(many).await,
            Err(StoreError::Conflict(_))
        ));
        let mut elsewhere = upload(&quickest, user(1), UploadMethod::ForceUpdate, 1);
        elsewhere.app = app_id(9);
        assert!(matches!(
            store.upload_score(elsewhere).await,
            Err(StoreError::UnknownApp(_))
        ));
    }

    #[tokio::test]
    async fn an_upload_key_answers_its_first_answer() {
        let (_db, store, app) = setup().await;
        let feet = board(&*store, app, "Feet Traveled").await;
        let first = keyed(
            upload(&feet, user(1), UploadMethod::KeepBest, 100),
            "k1",
            "f1",
        );
        let answer = store.upload_score(first.clone()).await.expect("upload");
        assert!(answer.changed);
        store
            .upload_score(upload(&feet, user(1), UploadMethod::KeepBest, 200))
            .await
            .expect("upload");
        let replay: UploadReply = store.upload_score(first.clone()).await.expect("replay");
        assert!(replay.replayed && replay.changed && replay.previous.is_none());
        assert_eq!(replay.entry.score, 200, "the entry as it is now");
        let other = keyed(
            upload(&feet, user(1), UploadMethod::KeepBest, 5),
            "k1",
            "f2",
        );
        assert!(matches!(
            store.upload_score(other).await,
            Err(StoreError::IdempotencyConflict { .. })
        ));
        // A key of an upload that changed nothing replays "not changed".
        let worse = keyed(
            upload(&feet, user(1), UploadMethod::KeepBest, 1),
            "k2",
            "f3",
        );
        assert!(
            !store
                .upload_score(worse.clone())
                .await
                .expect("upload")
                .changed
        );
        let replay = store.upload_score(worse).await.expect("replay");
        assert!(replay.replayed && !replay.changed);
        let changes = store
            .board_changes(app, feet.id, 0, 0)
            .await
            .expect("changes");
        assert_eq!(changes.changes[0].seq, 2, "replays draw no sequence number");
    }

    /// Two nodes race KeepBest uploads of one user and of many users on one
    /// board: the best score stays, and every change has its own sequence
    /// number, in commit order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_uploads_on_two_nodes() {
        let (db, store, app) = setup().await;
        let other = reopen(&db).await;
        let feet = board(&*store, app, "Feet Traveled").await;
        let stores: [Arc<dyn Store>; 2] = [Arc::from(store), Arc::from(other)];
        let mut tasks = Vec::new();
        for i in 0..40i32 {
            let node = Arc::clone(&stores[(i % 2) as usize]);
            let one = upload(&feet, user(1), UploadMethod::KeepBest, (i * 37) % 41);
            let mine = upload(&feet, user(100 + i as u64), UploadMethod::KeepBest, i);
            tasks.push(tokio::spawn(async move {
                node.upload_score(one).await.expect("upload");
                node.upload_score(mine).await.expect("upload");
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        let best = (0..40).map(|i| (i * 37) % 41).max().expect("scores");
        let changes = stores[0]
            .board_changes(app, feet.id, 0, 0)
            .await
            .expect("changes");
        let one = changes
            .changes
            .iter()
            .find(|c| c.user == user(1))
            .expect("user 1");
        assert_eq!(one.entry.as_ref().map(|e| e.score), Some(best));
        assert_eq!(changes.changes.len(), 41);
        let seqs: Vec<u64> = changes.changes.iter().map(|c| c.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let ranks = Leaderboards::new();
        let top = ranks
            .download(&*stores[1], &feet, 0, &Scope::Global { start: 1, end: 1 })
            .await
            .expect("download");
        assert_eq!(top.entry_count, 41);
        assert_eq!(top.entries[0].score, best);
    }

    /// A reset racing uploads on two nodes: every upload answered in the
    /// old epoch is gone, every one answered in the new epoch stays.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reset_racing_uploads_removes_exactly_the_older_ones() {
        let (db, store, app) = setup().await;
        let other = reopen(&db).await;
        let feet = board(&*store, app, "Feet Traveled").await;
        let stores: [Arc<dyn Store>; 2] = [Arc::from(store), Arc::from(other)];
        let mut tasks = Vec::new();
        for i in 0..60u64 {
            let node = Arc::clone(&stores[(i % 2) as usize]);
            let request = upload(&feet, user(1 + i % 30), UploadMethod::ForceUpdate, i as i32);
            tasks.push(tokio::spawn(async move {
                let reply = node.upload_score(request).await.expect("upload");
                (1 + i % 30, reply)
            }));
            if i == 30 {
                let node = Arc::clone(&stores[1]);
                let id = feet.id;
                tasks.push(tokio::spawn(async move {
                    node.reset_leaderboard(app, id, conformance::test_audit())
                        .await
                        .expect("reset");
                    (
                        999,
                        node.upload_score(upload_probe(app, id))
                            .await
                            .expect("probe"),
                    )
                }));
            }
        }
        let mut last: BTreeMap<u64, (i64, u64, i32)> = BTreeMap::new();
        for task in tasks {
            let (who, reply) = task.await.expect("task");
            let newest = last.entry(who).or_insert((i64::MIN, 0, 0));
            let key = (reply.epoch, reply.entry.seq, reply.entry.score);
            if (key.0, key.1) > (newest.0, newest.1) {
                *newest = key;
            }
        }
        let now = stores[0]
            .board_changes(app, feet.id, 0, 0)
            .await
            .expect("changes");
        assert_eq!(now.epoch, 1);
        let stored: BTreeMap<u64, i32> = now
            .changes
            .iter()
            .filter_map(|c| c.entry.as_ref().map(|e| (c.user.get(), e.score)))
            .collect();
        for (who, (epoch, _, score)) in &last {
            match epoch {
                0 => assert!(!stored.contains_key(who), "user {who}: {stored:?}"),
                _ => assert_eq!(stored.get(who), Some(score), "user {who}"),
            }
        }
        let listed = stores[1].leaderboards(app, NOW).await.expect("list");
        assert_eq!(listed[0].entries, stored.len() as u64, "the count follows");
    }

    /// A hot board: two nodes, each with its own rank index, upload many
    /// changes to one board at once (every uploader's users their own, each
    /// user's scores rising, so the newest answer of a user is its best; and
    /// two users every uploader races on, with deletions) while both
    /// download. Every download holds every upload acknowledged before it
    /// began; at the end both indexes, caught up, hold exactly the
    /// database's entries, as does an index loaded from scratch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hot_board_on_two_nodes_misses_no_change() {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicBool, Ordering};

        const UPLOADERS: u64 = 8;
        const ROUNDS: i32 = 40;
        const OWN_USERS: u64 = 4;
        let (db, store, app) = setup().await;
        let other = reopen(&db).await;
        let feet = board(&*store, app, "Feet Traveled").await;
        let stores: [Arc<dyn Store>; 2] = [Arc::from(store), Arc::from(other)];
        let ranks = [Arc::new(Leaderboards::new()), Arc::new(Leaderboards::new())];
        // The best score acknowledged so far of each user with rising scores.
        let acked: Arc<Mutex<BTreeMap<u64, i32>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));

        let mut uploaders = Vec::new();
        for task in 0..UPLOADERS {
            let stores = stores.clone();
            let ranks = ranks.clone();
            let acked = Arc::clone(&acked);
            let feet = feet.clone();
            uploaders.push(tokio::spawn(async move {
                for round in 0..ROUNDS {
                    let node = (task as usize + round as usize) % 2;
                    let who = 1_000 + task * OWN_USERS + (round as u64 % OWN_USERS);
                    let score = round * 10 + task as i32;
                    let method = if round % 3 == 0 {
                        UploadMethod::ForceUpdate
                    } else {
                        UploadMethod::KeepBest
                    };
                    let answer = ranks[node]
                        .upload(
                            &*stores[node],
                            &feet,
                            upload(&feet, user(who), method, score),
                        )
                        .await
                        .expect("upload");
                    assert!(answer.reply.changed, "a rising score changes the entry");
                    assert!(answer.rank >= 1, "the upload's answer holds it");
                    acked.lock().expect("acked").insert(who, score);
                    // The racing users: any node, any order, sometimes deleted.
                    let racer = user(1 + (round as u64 % 2));
                    let raced = upload(&feet, racer, UploadMethod::ForceUpdate, -round);
                    ranks[1 - node]
                        .upload(&*stores[1 - node], &feet, raced)
                        .await
                        .expect("racing upload");
                    if round % 7 == task as i32 % 7 {
                        stores[node]
                            .delete_leaderboard_entry(
                                app,
                                feet.id,
                                0,
                                racer,
                                conformance::test_audit(),
                            )
                            .await
                            .expect("delete");
                    }
                }
            }));
        }
        let mut downloaders = Vec::new();
        for node in 0..2 {
            let stores = stores.clone();
            let ranks = ranks.clone();
            let acked = Arc::clone(&acked);
            let done = Arc::clone(&done);
            let feet = feet.clone();
            downloaders.push(tokio::spawn(async move {
                let mut checked = 0u32;
                while !done.load(Ordering::Acquire) || checked == 0 {
                    let before = acked.lock().expect("acked").clone();
                    let page = ranks[node]
                        .download(&*stores[node], &feet, 0, &Scope::Global { start: 1, end: 10_000 })
                        .await
                        .expect("download");
                    let got: BTreeMap<u64, i32> = page
                        .entries
                        .iter()
                        .map(|e| (e.user.get(), e.score))
                        .collect();
                    for (who, score) in &before {
                        let seen = got.get(who).copied();
                        assert!(
                            seen.is_some_and(|s| s >= *score),
                            "node {node}: user {who} acknowledged {score} before the download, which has {seen:?}"
                        );
                    }
                    let ranks_in_order: Vec<u64> = page.entries.iter().map(|e| e.rank).collect();
                    let expected: Vec<u64> = (1..=page.entries.len() as u64).collect();
                    assert_eq!(ranks_in_order, expected, "ranks are 1..N");
                    assert_eq!(page.entry_count, page.entries.len() as u64);
                    checked += 1;
                }
                checked
            }));
        }
        for task in uploaders {
            task.await.expect("uploader");
        }
        done.store(true, Ordering::Release);
        for task in downloaders {
            assert!(task.await.expect("downloader") > 0);
        }

        let stored: BTreeMap<u64, i32> = stores[0]
            .stored_entries(app, feet.id)
            .await
            .expect("entries")
            .iter()
            .map(|e| (e.user.get(), e.entry.score))
            .collect();
        assert!(stored.len() as u64 >= UPLOADERS * OWN_USERS, "{stored:?}");
        let scratch = Leaderboards::new();
        let whole = Scope::Global {
            start: 1,
            end: 10_000,
        };
        let fresh_page = scratch
            .download(&*stores[0], &feet, 0, &whole)
            .await
            .expect("download");
        for node in 0..2 {
            let page = ranks[node]
                .download(&*stores[node], &feet, 0, &whole)
                .await
                .expect("download");
            let held: BTreeMap<u64, i32> = page
                .entries
                .iter()
                .map(|e| (e.user.get(), e.score))
                .collect();
            assert_eq!(held, stored, "node {node} holds the database's entries");
            assert_eq!(page, fresh_page, "node {node} ranks as a fresh load does");
        }
        let listed = stores[1].leaderboards(app, NOW).await.expect("list");
        let count = listed
            .iter()
            .find(|b| b.board.id == feet.id)
            .map(|b| b.entries);
        assert_eq!(
            count,
            Some(stored.len() as u64),
            "the sharded count follows"
        );
    }

    fn upload_probe(app: AppId, board: i64) -> UploadRequest {
        UploadRequest {
            app,
            board,
            period: 0,
            user: user(999),
            method: UploadMethod::KeepBest,
            score: 1,
            details: Vec::new(),
            now: NOW,
            idempotency: None,
        }
    }

    /// Upload keys expire with the stores' keys.
    #[tokio::test]
    async fn upload_keys_are_purged() {
        let url = new_database().await;
        let store = open(&url).await;
        let app = app_id(480);
        store
            .put_schema(app, boards_schema(BOARDS_SCHEMA))
            .await
            .expect("put");
        let feet = board(&store, app, "Feet Traveled").await;
        let first = keyed(upload(&feet, user(1), UploadMethod::KeepBest, 5), "k", "f");
        store.upload_score(first.clone()).await.expect("upload");
        let within = NOW + IDEMPOTENCY_RETENTION_SECONDS;
        assert_eq!(
            store
                .purge_expired_idempotency(within)
                .await
                .expect("purge"),
            0
        );
        assert!(
            store
                .upload_score(first.clone())
                .await
                .expect("replay")
                .replayed
        );
        let past = within + 1;
        assert_eq!(
            store.purge_expired_idempotency(past).await.expect("purge"),
            1
        );
        let again = store.upload_score(first).await.expect("upload");
        assert!(!again.replayed && !again.changed, "{again:?}");
    }

    #[tokio::test]
    async fn friends_lists() {
        let (_db, store, app) = setup().await;
        assert!(store.friends(app, user(1)).await.expect("none").is_empty());
        let big = user(u64::MAX);
        store
            .set_friends(app, user(1), &[big, user(3), user(2), user(3)])
            .await
            .expect("set");
        assert_eq!(
            store.friends(app, user(1)).await.expect("friends"),
            [user(2), user(3), big]
        );
        store
            .set_friends(app, user(1), &[user(4)])
            .await
            .expect("replace");
        store.set_friends(app, big, &[user(1)]).await.expect("set");
        store.set_friends(app, user(5), &[]).await.expect("empty");
        assert_eq!(
            store.friend_lists(app).await.expect("lists"),
            [(user(1), vec![user(4)]), (big, vec![user(1)])]
        );
        assert!(matches!(
            store.friends(app_id(9), user(1)).await,
            Err(StoreError::UnknownApp(_))
        ));
    }

    #[tokio::test]
    async fn entries_are_copied_exactly() {
        let (_db, store, app) = setup().await;
        let feet = board(&*store, app, "Feet Traveled").await;
        for (who, score) in [(1, 5), (2, 9), (u64::MAX, -3)] {
            store
                .upload_score(upload(&feet, user(who), UploadMethod::KeepBest, score))
                .await
                .expect("upload");
        }
        let entries = store.stored_entries(app, feet.id).await.expect("entries");
        assert_eq!(entries.len(), 3);

        let (_db2, target, _) = setup().await;
        let copy = board(&*target, app, "feet traveled").await;
        target
            .import_entries(app, copy.id, &entries)
            .await
            .expect("import");
        assert_eq!(
            target.stored_entries(app, copy.id).await.expect("copied"),
            entries
        );
        assert!(matches!(
            target.import_entries(app, copy.id, &entries).await,
            Err(StoreError::AlreadyExists(_))
        ));
        let listed = target.leaderboards(app, NOW).await.expect("list");
        assert_eq!(listed[0].entries, 3, "imported entries are counted");
        let bad = [StoredEntry {
            period: 0,
            user: user(7),
            entry: laurel_core::leaderboard::Entry {
                score: 1,
                details: Vec::new(),
                set_at: NOW as UnixTime,
                seq: 0,
            },
        }];
        assert!(matches!(
            target.import_entries(app, copy.id, &bad).await,
            Err(StoreError::InvalidImport(_))
        ));
        // The board's sequence moved past the imported ones.
        let next = target
            .upload_score(upload(&copy, user(8), UploadMethod::KeepBest, 1))
            .await
            .expect("upload");
        assert_eq!(next.entry.seq, 4);
    }
}

/// `warm` opens the whole pool at once (a node about to serve), and the
/// store then answers from those connections without opening more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_opens_every_connection_of_the_pool() {
    let url = new_database().await;
    let mut options = PostgresOptions::new(url.as_str());
    options.max_connections = 6;
    let store = PostgresStore::open(options).await.expect("open");
    let db: String = url.rsplit('/').next().expect("a database name").to_owned();
    let raw = raw(&url).await;
    let count = || async {
        let row = raw
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND application_name = 'laurel'",
                &[&db],
            )
            .await
            .expect("count");
        row.get::<_, i64>(0)
    };
    assert_eq!(store.warm().await.expect("warm"), 6);
    // The connection that migrated was closed when the store opened; its
    // backend may take a moment to go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count().await != 6 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count().await, 6);
    store
        .progress(app(1), user(1))
        .await
        .expect_err("no such app yet");
    assert_eq!(count().await, 6, "answered from the warm pool");
}
