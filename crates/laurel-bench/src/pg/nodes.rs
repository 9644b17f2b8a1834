//! The Laurel side: `laurel serve` nodes on one database, driven over HTTP.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::cluster::{Cluster, per_tx};
use super::figures::Figures;
use crate::child::{ChildGuard, Counted, GroupMeter};
use crate::load::{self, Phase};
use crate::requests::{hot_user_requests, read_requests, store_requests};
use crate::servers::LOAD_RATE_ARGS;
use crate::settings::{ADMIN_TOKEN, STARTUP_TIMEOUT, WARMUP};

/// Starts `laurel serve --dev` on `url`; waits until it listens.
pub(super) fn start_node(
    bin: &Path,
    work: &Path,
    label: &str,
    url: &str,
    pool: u16,
) -> Result<(ChildGuard, SocketAddr)> {
    let data_dir = work.join(format!("{label}-data"));
    std::fs::create_dir_all(&data_dir)?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--dev")
        .args(["--listen", "127.0.0.1:0"])
        .args(LOAD_RATE_ARGS)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--database", url])
        .args(["--db-pool-size", &pool.to_string()])
        .env("LAUREL_ADMIN_TOKEN", ADMIN_TOKEN);
    ChildGuard::spawn(
        label,
        cmd,
        "laurel listening on http://",
        &work.join(format!("{label}.stderr")),
        STARTUP_TIMEOUT,
    )
}

/// What the clients of a Laurel phase send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Workload {
    /// The foundation bench's stores, the clients split over the nodes.
    Stores,
    /// Progress reads (`GET …/progress` of a user with 20 stats and 25 of
    /// 50 achievements unlocked), on the first node: issue 16's read tail.
    Reads,
    /// Every client's stores to one user, on the first node.
    HotUser,
}

/// The nodes of a Laurel phase and what their clients send.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub(super) nodes: usize,
    /// Connections per node.
    pub(super) pool: u16,
    pub(super) workload: Workload,
}

pub(super) async fn laurel_phase(
    cluster: &Cluster,
    bin: &Path,
    work: &Path,
    shape: Shape,
    clients: usize,
    duration: Duration,
) -> Result<Figures> {
    let Shape {
        nodes,
        pool,
        workload,
    } = shape;
    let (db, url) = cluster.database()?;
    // One after the other: the first creates the tables and demo app 480.
    let mut guards = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..nodes {
        let label = format!("laurel-{nodes}n-{}", i + 1);
        let (guard, addr) = start_node(bin, work, &label, &url, pool)?;
        println!(
            "{label}: pid {} listening on {addr}, database {db}",
            guard.pid()
        );
        guards.push(guard);
        addrs.push(addr);
    }
    cluster.checkpoint()?;
    let before = cluster.snapshot(&db)?;
    let make = match workload {
        Workload::Stores => store_requests(&addrs, clients).await?,
        Workload::Reads => read_requests(addrs[0], clients).await?,
        Workload::HotUser => hot_user_requests(addrs[0], clients).await?,
    };
    let mut groups: Vec<(String, Counted)> = guards
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let name = if nodes == 1 {
                "laurel".to_owned()
            } else {
                format!("laurel#{}", i + 1)
            };
            (name, Counted::Process(g.pid()))
        })
        .collect();
    if let Some(pm) = cluster.postmaster() {
        groups.push(("postgres".into(), Counted::Tree(pm)));
    }
    let meter = GroupMeter::start(groups);
    let result = load::run_phase_on(
        Phase {
            addr: addrs[0],
            server_pid: guards[0].pid(),
            clients,
            warmup: WARMUP,
            duration,
        },
        &addrs,
        make,
    )
    .await;
    let cpu = meter.stop();
    for g in &mut guards {
        g.check_alive()?;
    }
    // Stopped before the snapshot: closing their connections makes the
    // backends report their statistics.
    for g in &mut guards {
        g.stop();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = cluster.snapshot(&db)?;
    cluster.drop_database(&db)?;
    let stores = result.ok_total + 1; // + the probe
    Ok(Figures {
        rate: result.per_second(),
        errors: result.errors,
        error_samples: result.error_samples,
        cpu,
        per_tx: Some(per_tx(&before, &after, stores)),
        notes: vec![format!(
            "{} response {} B; clients per node: {}",
            match workload {
                Workload::Stores | Workload::HotUser => "store",
                Workload::Reads => "read",
            },
            result.last_body_len,
            (0..nodes)
                .map(|n| (n..clients).step_by(nodes).count().to_string())
                .collect::<Vec<_>>()
                .join(" + ")
        )],
        latencies: result.latencies,
    })
}
