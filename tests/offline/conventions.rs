//! kubectl's conventions, held by the binary: its verbosity and timeout flags, KUBECONFIG
//! lists, and what a failure looks like on stderr (one `error:` with its `next:` step, no
//! library log lines and no Rust Debug dumps). Every case runs offline: a closed loopback port
//! stands for an unreachable server, an empty environment for missing AWS credentials.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-chronom");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/audit");

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A kubeconfig with one context `t` (current) whose server is `server`.
fn kubeconfig(dir: &Path, name: &str, server: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster: {{server: '{server}'}}\ncontexts:\n- name: t\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: x}}\n"
        ),
    )
    .unwrap();
    path
}

/// The binary with nothing from the caller's environment: no kubeconfig, no AWS credentials,
/// no instance metadata, a fresh HOME.
fn chronom(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// What is wrong with a failure's stderr, if anything: it must hold exactly one `error:`
/// line and one `next:` step, no log line from a library, and no Rust Debug formatting.
fn stderr_faults(stderr: &str) -> Vec<String> {
    let mut faults = Vec::new();
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    if errors != 1 {
        faults.push(format!("{errors} `error:` lines, want 1"));
    }
    let nexts = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("next:"))
        .count();
    if nexts != 1 {
        faults.push(format!("{nexts} `next:` lines, want 1"));
    }
    for line in stderr.lines() {
        for level in [" ERROR ", " WARN ", " INFO ", " DEBUG "] {
            if line.contains(level) {
                faults.push(format!("a log line: {line}"));
            }
        }
        for debug in ["Some(", "Error {", "DispatchFailure", "ProviderError("] {
            if line.contains(debug) {
                faults.push(format!("Debug formatting ({debug}): {line}"));
            }
        }
        // A struct dump: `Name { field: value }`.
        if let Some(open) = line.find(" { ") {
            let before = &line[..open];
            if line[open..].contains(" }")
                && before.ends_with(|c: char| c.is_ascii_alphanumeric())
                && line[open..].contains(": ")
            {
                faults.push(format!("a struct dump: {line}"));
            }
        }
    }
    faults
}

/// A failure case: its name, the arguments, extra environment, and the exit code.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, i32);

#[test]
fn every_failure_is_one_message_with_a_next_step() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let closed = kubeconfig(
        dir,
        "closed.yaml",
        &format!("https://127.0.0.1:{}", closed_port()),
    );
    let garbage = dir.join("garbage.yaml");
    std::fs::write(&garbage, "clusters: [\n").unwrap();
    let missing = dir.join("nonexistent.yaml");
    let closed_s = closed.to_str().unwrap();
    let garbage_s = garbage.to_str().unwrap();
    let missing_s = missing.to_str().unwrap();
    let web_identity = [
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/x"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", missing_s),
    ];
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("unreachable server, audit", vec!["--kubeconfig", closed_s, "audit"], vec![], 1),
        ("unreachable server, grant", vec!["--kubeconfig", closed_s, "grant", "--role-arn", "arn:aws:iam::111122223333:role/x"], vec![], 1),
        ("unreachable server, who-can", vec!["--kubeconfig", closed_s, "audit", "who-can", "get", "pods"], vec![], 1),
        ("unreachable server, lookup", vec!["--kubeconfig", closed_s, "audit", "lookup", "x"], vec![], 1),
        ("unreachable server, revoke", vec!["--kubeconfig", closed_s, "revoke", "--role-arn", "arn:aws:iam::111122223333:role/x"], vec![], 1),
        ("bad kubeconfig", vec!["--kubeconfig", garbage_s, "audit"], vec![], 1),
        ("missing --kubeconfig file", vec!["--kubeconfig", missing_s, "audit"], vec![], 1),
        ("no KUBECONFIG file exists", vec!["audit"], vec![("KUBECONFIG", missing_s)], 1),
        ("missing context", vec!["--kubeconfig", closed_s, "--context", "nope", "audit"], vec![], 1),
        ("no AWS credentials, --all-clusters", vec!["audit", "--all-clusters", "--regions", "eu-west-1"], vec![], 1),
        ("no AWS credentials, --cluster", vec!["--cluster", "prod", "--region", "eu-west-1", "audit"], vec![], 1),
        ("no AWS credentials, token", vec!["token", "--cluster", "prod", "--region", "eu-west-1"], vec![], 1),
        ("unreadable web identity, --all-clusters", vec!["audit", "--all-clusters", "--regions", "eu-west-1"], web_identity.to_vec(), 1),
        ("bad flag", vec!["audit", "--bogus"], vec![], 2),
        ("bad flag value", vec!["--request-timeout", "soon", "audit"], vec![], 2),
        ("missing required flag", vec!["grant"], vec![], 2),
        ("bad ARN", vec!["--kubeconfig", closed_s, "grant", "--role-arn", "arn:aws:iam::1:role/x"], vec![], 2),
    ];
    let mut failures = Vec::new();
    for (name, args, envs, code) in &cases {
        let out = chronom(dir)
            .args(args)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut faults = stderr_faults(&stderr);
        if out.status.code() != Some(*code) {
            faults.push(format!("exit {:?}, want {code}", out.status.code()));
        }
        if !faults.is_empty() {
            failures.push(format!(
                "{name}: {}\n--- stderr:\n{stderr}",
                faults.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn stderr_faults_sees_what_it_looks_for() {
    let good = "error: it failed\n  next: do this\n";
    assert!(stderr_faults(good).is_empty());
    for bad in [
        "2026-12-07T11:33:06.151129Z ERROR failed with error client error (Connect)\nerror: x\n  next: y\n",
        "error: x: DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io } })\n  next: y\n",
        "error: x: Some(\"a\")\n  next: y\n",
        "error: x\n",
        "error: x\n  next: y\nerror: z\n  next: w\n",
    ] {
        assert!(!stderr_faults(bad).is_empty(), "{bad}");
    }
}

#[test]
fn kubectl_verbosity_forms_reach_the_binary() {
    let home = tempfile::tempdir().unwrap();
    for v in [
        &["--v=9"][..],
        &["--v", "9"],
        &["-v=9"],
        &["-v", "9"],
        &["-vv"],
    ] {
        let out = chronom(home.path())
            .args(v)
            .args(["audit", "--from-file", FIXTURE])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{v:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn kubeconfig_list_skips_a_missing_file() {
    // kubectl: KUBECONFIG=/nonexistent:good.yaml uses good.yaml. Here the good file's server is
    // a closed port, so getting as far as "refused" proves the kubeconfig was read.
    let home = tempfile::tempdir().unwrap();
    let good = kubeconfig(
        home.path(),
        "good.yaml",
        &format!("https://127.0.0.1:{}", closed_port()),
    );
    let list = std::env::join_paths([home.path().join("nonexistent").as_path(), &good]).unwrap();
    let out = chronom(home.path())
        .env("KUBECONFIG", list)
        .args(["--request-timeout", "5s", "audit"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(!stderr.contains("cannot read the kubeconfig"), "{stderr}");
}

/// Issue 14: `restore-aws-auth` reads at most what an aws-auth backup can be. A device that
/// never ends, and a ConfigMap whose data is over the API server's 1 MiB, are refused before
/// any connection, with what to pass instead (exit 2, a usage error like any wrong FILE).
#[test]
fn restore_refuses_what_no_configmap_could_hold() {
    let home = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let o = chronom(home.path())
        .args(["restore-aws-auth", "/dev/zero"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: /dev/zero is larger than 4 MiB, so it is no aws-auth backup")
            && err.contains("next: pass a backup file written by grant or revoke"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    let big = home.path().join("big-aws-auth.yaml");
    std::fs::write(
        &big,
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: aws-auth, namespace: kube-system}}\ndata:\n  mapRoles: \"{}\"\n",
            "x".repeat(1 << 20)
        ),
    )
    .unwrap();
    let o = chronom(home.path())
        .args(["restore-aws-auth"])
        .arg(&big)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot be restored: its data is 1048584 bytes, more than the 1048576 (1 MiB) a ConfigMap may hold"),
        "{err}"
    );
}
