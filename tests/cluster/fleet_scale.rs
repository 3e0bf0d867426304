//! `audit --all-clusters` at fleet size (issue 18): one real control plane behind many EKS
//! clusters that moto lists and describes, some of them slow (a loopback proxy that waits before
//! it forwards) and some unreachable (a closed port; a port that accepts and never answers).
//! Every cluster is audited in process through `fleet::collect`, as in eks_moto's fleet test:
//! the control plane knows only its own static token, so the token plugin is its stand-in.
//!
//! The test proves what a fleet run must do at any size: a row per cluster, the reachable ones
//! audited (slow ones too), the unreachable ones failed with their reason, never more clusters
//! in flight than the bound. It prints the figures (wall min/median/max over the runs, peak
//! concurrent connections, the process's peak RSS) and asserts no timing.
//! `CHRONOM_FLEET_SIZES=50,100,200 CHRONOM_FLEET_RUNS=3` is what bench/run asks for; the
//! default is one run of 40 clusters.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::ControlPlane;
use crate::support::moto::Moto;
use aws_sdk_eks::types::VpcConfigRequest;
use chronom::adapters::aws::cluster::EksCluster;
use chronom::flows::fleet;
use clap::Parser;

fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

fn moto() -> &'static Moto {
    crate::support::moto::for_module(module_path!())
}

/// How long the slow endpoints wait before forwarding a connection.
const SLOW: Duration = Duration::from_millis(1500);
/// The request timeout of these runs: what an unanswered endpoint costs.
const TIMEOUT_SECONDS: &str = "5";

/// A loopback TCP proxy to `upstream` that waits `delay` before forwarding each connection,
/// and counts the connections open through it.
struct Proxy {
    port: u16,
    open: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: u16, delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (o, p) = (open.clone(), peak.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (open, peak) = (o.clone(), p.clone());
                std::thread::spawn(move || {
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(delay);
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) {
                        pipe(client, server);
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Proxy { port, open, peak }
    }
}

/// Copy both ways until either side closes.
fn pipe(client: TcpStream, server: TcpStream) {
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = copy(&mut c2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let (mut c, mut s) = (client, server);
    let _ = copy(&mut s, &mut c);
    let _ = c.shutdown(Shutdown::Write);
    let _ = up.join();
}

fn copy(from: &mut TcpStream, to: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Healthy,
    Slow,
    Refused,
    Silent,
}

/// The mix of a fleet of `n`: one in twenty slow, one in twenty refusing, one in fifty silent.
fn kinds(n: usize) -> Vec<Kind> {
    (0..n)
        .map(|i| match i % 100 {
            k if k % 20 == 7 => Kind::Slow,
            k if k % 20 == 13 => Kind::Refused,
            k if k % 50 == 29 => Kind::Silent,
            _ => Kind::Healthy,
        })
        .collect()
}

fn sizes() -> (Vec<usize>, usize) {
    let sizes = std::env::var("CHRONOM_FLEET_SIZES")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("CHRONOM_FLEET_SIZES: numbers"))
                .collect()
        })
        .unwrap_or_else(|| vec![40]);
    let runs = std::env::var("CHRONOM_FLEET_RUNS")
        .ok()
        .map(|r| r.parse().expect("CHRONOM_FLEET_RUNS: a number"))
        .unwrap_or(1);
    (sizes, runs)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn stats(mut xs: Vec<f64>) -> String {
    xs.sort_by(f64::total_cmp);
    let median = if xs.len() % 2 == 1 {
        xs[xs.len() / 2]
    } else {
        (xs[xs.len() / 2 - 1] + xs[xs.len() / 2]) / 2.0
    };
    format!(
        "median {median:.2} s (min {:.2}, max {:.2}, {} run(s))",
        xs[0],
        xs[xs.len() - 1],
        xs.len()
    )
}

#[test]
fn a_fleet_of_many_clusters_audits_every_reachable_one_and_names_the_others() {
    let cp = control_plane();
    let m = moto();
    let (described, plugin) = crate::eks_moto::eks_stand_in(cp);
    let (server, ca) = (described.endpoint, described.certificate_authority_data);
    let upstream: u16 = server.rsplit(':').next().unwrap().parse().unwrap();

    // Every healthy cluster goes through a proxy without delay, so that the connections in
    // flight are counted; the slow ones through one that waits.
    let direct = Proxy::start(upstream, Duration::ZERO);
    let slow = Proxy::start(upstream, SLOW);
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Accepts (the kernel's backlog completes the handshake) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let endpoint = |kind: Kind| {
        let port = match kind {
            Kind::Healthy => direct.port,
            Kind::Slow => slow.port,
            Kind::Refused => refused,
            Kind::Silent => silent_port,
        };
        format!("https://127.0.0.1:{port}")
    };

    let env = fleet::FleetEnv {
        sdk: m.sdk("us-east-1"),
        token_plugin: Arc::new(move |_: &EksCluster, _: Option<&str>| Ok(plugin.clone())),
    };
    let argv = [
        "kubectl-chronom",
        "--request-timeout",
        TIMEOUT_SECONDS,
        "token",
    ];
    let global = chronom::cli::Cli::try_parse_from(argv).unwrap().global;
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    };

    let (sizes, runs) = sizes();
    // One region per size, none that another module of this binary uses.
    let regions = [
        "sa-east-1",
        "eu-south-1",
        "me-south-1",
        "ap-south-2",
        "il-central-1",
    ];
    assert!(
        sizes.len() <= regions.len(),
        "at most {} sizes",
        regions.len()
    );
    for (&n, region) in sizes.iter().zip(regions) {
        let kinds = kinds(n);
        let names: Vec<String> = (0..n).map(|i| format!("fleet-{n}-{i:03}")).collect();
        let created = Instant::now();
        rt().block_on(async {
            for (name, &kind) in names.iter().zip(&kinds) {
                let vpc = VpcConfigRequest::builder()
                    .subnet_ids("subnet-0123")
                    .endpoint_public_access(true)
                    .build();
                m.create_cluster(region, name, vpc, Some((&endpoint(kind), &ca)))
                    .await;
            }
        });
        eprintln!(
            "fleet {n}: {n} clusters created in moto ({region}) in {:.1} s",
            created.elapsed().as_secs_f64()
        );
        let mut walls = Vec::new();
        for run in 0..runs {
            direct
                .peak
                .store(direct.open.load(Ordering::SeqCst), Ordering::SeqCst);
            let started = Instant::now();
            let report = rt()
                .block_on(fleet::collect(
                    &env,
                    &global,
                    &[region.to_string()],
                    false,
                    false,
                ))
                .unwrap_or_else(|e| panic!("{e}"));
            walls.push(started.elapsed().as_secs_f64());

            assert_eq!(report.clusters.len(), n, "a row per cluster");
            for (name, &kind) in names.iter().zip(&kinds) {
                let row = report
                    .clusters
                    .iter()
                    .find(|c| &c.cluster == name)
                    .unwrap_or_else(|| panic!("no row for {name}"));
                match kind {
                    Kind::Healthy | Kind::Slow => {
                        assert!(row.ok, "{name} ({kind:?}): {:?} {:?}", row.error, row.next);
                        let r = row.report.as_ref().expect("audited");
                        assert!(
                            r.aws_auth_present && !r.mappings.is_empty(),
                            "{name}: aws-auth was read"
                        );
                    }
                    Kind::Refused | Kind::Silent => {
                        assert!(!row.ok && row.report.is_none(), "{name} ({kind:?})");
                        let why = row.error.as_deref().unwrap_or_default();
                        assert!(why.contains(name.as_str()), "{name} ({kind:?}): {why}");
                    }
                }
            }
            eprintln!(
                "fleet {n}, run {}: {:.2} s; peak {} connections in flight to the healthy clusters (at most {} clusters at once)",
                run + 1,
                walls[run],
                direct.peak.load(Ordering::SeqCst),
                fleet::PARALLEL_CLUSTERS
            );
        }
        let count = |k| kinds.iter().filter(|&&x| x == k).count();
        eprintln!(
            "fleet {n} ({} healthy, {} slow by {:?}, {} refused, {} silent with a {TIMEOUT_SECONDS} s timeout): {}; peak RSS of the test process {} MiB",
            count(Kind::Healthy),
            count(Kind::Slow),
            SLOW,
            count(Kind::Refused),
            count(Kind::Silent),
            stats(walls),
            peak_rss_kib() / 1024
        );
    }
    drop(silent);
}
