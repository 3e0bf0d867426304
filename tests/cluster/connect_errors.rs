//! When the API server cannot be reached, the user is told which case it is.
//! Every case runs for real on loopback (or against a name that cannot resolve).

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output};

use crate::support::ControlPlane;

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

fn server() -> String {
    let kc = kube::config::Kubeconfig::read_from(&control_plane().kubeconfig).unwrap();
    kc.clusters
        .iter()
        .find(|c| c.name.contains("chronom"))
        .or(kc.clusters.first())
        .unwrap()
        .cluster
        .as_ref()
        .unwrap()
        .server
        .clone()
        .unwrap()
}

/// Write a kubeconfig with one context `t` pointing at `server` with the given cluster/user YAML.
fn kubeconfig(server: &str, cluster_extra: &str, user: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    write!(
        f,
        "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n    server: {server}\n{cluster_extra}contexts:\n- name: t\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user:\n{user}"
    )
    .unwrap();
    f
}

fn grant_with(kc: &std::path::Path, timeout: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
        .args(["--kubeconfig"])
        .arg(kc)
        .args([
            "--request-timeout",
            timeout,
            "grant",
            "--role-arn",
            "arn:aws:iam::111122223333:role/diag",
        ])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_case(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    assert!(
        err.contains("next:"),
        "every error says what to do next:\n{err}"
    );
}

fn ca_data() -> String {
    let kc = kube::config::Kubeconfig::read_from(&control_plane().kubeconfig).unwrap();
    kc.clusters[0]
        .cluster
        .as_ref()
        .unwrap()
        .certificate_authority_data
        .clone()
        .unwrap()
}

#[test]
fn dns_failure() {
    let kc = kubeconfig(
        "https://chronom-no-such-host.invalid:6443",
        "",
        "    token: x\n",
    );
    assert_case(&grant_with(kc.path(), "10"), "DNS failure");
}

#[test]
fn tls_failure_when_the_ca_is_not_trusted() {
    // No CA data: the server's self-signed chain is not trusted by the system roots.
    let kc = kubeconfig(&server(), "", "    token: x\n");
    assert_case(&grant_with(kc.path(), "10"), "TLS");
}

#[test]
fn unauthorized_identity() {
    let kc = kubeconfig(
        &server(),
        &format!("    certificate-authority-data: {}\n", ca_data()),
        "    token: not-a-valid-token\n",
    );
    let o = grant_with(kc.path(), "10");
    assert_case(&o, "401");
    assert!(
        !stderr(&o).contains("not-a-valid-token"),
        "tokens are never printed"
    );
}

#[test]
fn timeout_when_the_server_never_answers() {
    // Accepts TCP (the kernel completes the handshake) but never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let kc = kubeconfig(&format!("https://127.0.0.1:{port}"), "", "    token: x\n");
    let started = std::time::Instant::now();
    let o = grant_with(kc.path(), "1");
    assert_case(&o, "timeout");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the timeout must be honoured"
    );
    drop(listener);
}

#[test]
fn connection_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let kc = kubeconfig(&format!("https://127.0.0.1:{port}"), "", "    token: x\n");
    assert_case(&grant_with(kc.path(), "5"), "refused");
}

#[test]
fn unknown_context_lists_the_known_ones() {
    let o = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
        .arg("--kubeconfig")
        .arg(&control_plane().kubeconfig)
        .args([
            "--context",
            "nope",
            "grant",
            "--role-arn",
            "arn:aws:iam::111122223333:role/x",
        ])
        .output()
        .unwrap();
    assert_case(&o, "chronom-admin");
}

#[test]
fn kubeconfig_env_with_several_files_is_merged() {
    // The first file has only the current-context; the second holds the context itself.
    let mut first = tempfile::NamedTempFile::new().unwrap();
    write!(
        first,
        "apiVersion: v1\nkind: Config\ncurrent-context: chronom-admin\n"
    )
    .unwrap();
    let joined =
        std::env::join_paths([first.path(), control_plane().kubeconfig.as_path()]).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
        .args([
            "grant",
            "--dry-run",
            "--role-arn",
            "arn:aws:iam::111122223333:role/merged",
            "--role-name",
            "merged-check",
            "--group",
            "merged-check",
        ])
        .env("KUBECONFIG", joined)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("context chronom-admin"));
}
