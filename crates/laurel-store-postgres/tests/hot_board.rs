//! The cost of a hot board, by hand (`--ignored`): 16 clients × 100 changing
//! uploads on one board against the same spread over 16 boards, on the test
//! cluster (`fsync=on`, `synchronous_commit=on`). Prints the times; asserts
//! nothing about them (a timing is no test on a shared machine).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use laurel_core::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod, UploadMethod,
};
use laurel_core::{AppId, Schema, SchemaDoc, SteamId};
use laurel_store::{Board, Store, UploadRequest};
use laurel_store_postgres::{PostgresOptions, PostgresStore};
use laurel_testkit::postgres::PostgresServer;

const CLIENTS: u64 = 16;
const UPLOADS: u64 = 100;
const NOW: i64 = 1_700_000_000;

fn user(n: u64) -> SteamId {
    SteamId::new(76_561_197_960_265_728 + n).expect("id")
}

async fn store_with_boards() -> (PostgresStore, Vec<Board>) {
    let url = tokio::task::spawn_blocking(|| PostgresServer::shared().database())
        .await
        .expect("database");
    let mut options = PostgresOptions::new(url);
    options.max_connections = CLIENTS as usize + 2;
    let store = PostgresStore::open(options).await.expect("open");
    let app = AppId::new(480).expect("app");
    let doc = SchemaDoc::from_json(r#"{ "app": { "name": "Hot" } }"#).expect("doc");
    store
        .put_schema(app, Schema::from_doc(&doc).expect("schema"))
        .await
        .expect("schema");
    let mut boards = Vec::new();
    for i in 0..CLIENTS {
        let def = LeaderboardDef {
            name: BoardName::parse(&format!("Board {i}")).expect("name"),
            sort: SortMethod::Descending,
            display: DisplayType::Numeric,
            display_name: None,
            writes: BoardWrites::Client,
            period: BoardPeriod::None,
        };
        boards.push(store.create_leaderboard(app, &def).await.expect("board").0);
    }
    (store, boards)
}

/// Which user a client's `i`th upload is for.
type UserOf = fn(u64, u64) -> u64;

/// Every client uploads `UPLOADS` changing scores; `user_of(client, i)`.
async fn run(
    store: &Arc<PostgresStore>,
    boards: &[Board],
    spread: bool,
    user_of: UserOf,
) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let store = Arc::clone(store);
        let board = boards[if spread { client as usize } else { 0 }].clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..UPLOADS {
                let reply = store
                    .upload_score(UploadRequest {
                        app: board.app,
                        board: board.id,
                        period: 0,
                        user: user(user_of(client, i)),
                        method: UploadMethod::KeepBest,
                        score: i32::try_from(i + 1).expect("score"),
                        details: Vec::new(),
                        now: NOW,
                        idempotency: None,
                    })
                    .await
                    .expect("upload");
                assert!(reply.changed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing, run by hand"]
async fn hot_board_against_spread_boards() {
    let shapes: [(&str, UserOf); 2] = [
        ("each client improves its own user", |client, _| client),
        ("every upload a new user", |client, i| {
            1_000 + client * UPLOADS + i
        }),
    ];
    for (shape, user_of) in shapes {
        for spread in [false, true] {
            let (store, boards) = store_with_boards().await;
            let store = Arc::new(store);
            // A warm-up round on other users, then the timed one.
            run(&store, &boards, spread, |client, i| {
                900_000 + client * UPLOADS + i
            })
            .await;
            let took = run(&store, &boards, spread, user_of).await;
            println!(
                "{shape}: {} × {} changing uploads on {}: {:.2} s",
                CLIENTS,
                UPLOADS,
                if spread { "16 boards" } else { "one board" },
                took.as_secs_f64()
            );
        }
    }
}
