//! The test control plane itself: contexts, the EKS seed, start/stop, and the Rust client.

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::support::{ControlPlane, unique_name};

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

const NODE_ROLE: &str =
    "arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `kubectl auth can-i <args>` as `context`: "yes" or "no" (it exits 1 on "no").
fn can_i(context: &str, args: &[&str]) -> String {
    let out = control_plane()
        .kubectl(context)
        .args(["auth", "can-i"])
        .args(args)
        .output()
        .unwrap();
    let answer = stdout(&out);
    assert!(
        answer == "yes" || answer == "no",
        "kubectl --context {context} auth can-i {args:?}: {answer:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    answer
}

#[test]
fn each_context_has_the_rights_it_promises() {
    assert_eq!(
        can_i("chronom-admin", &["list", "pods", "--all-namespaces"]),
        "yes"
    );
    assert_eq!(
        can_i("chronom-eks", &["list", "pods", "--all-namespaces"]),
        "yes"
    );
    assert_eq!(
        can_i("chronom-operator", &["list", "pods", "--all-namespaces"]),
        "no"
    );
    assert_eq!(
        can_i(
            "chronom-operator",
            &["get", "configmaps", "-n", "kube-system"]
        ),
        "no"
    );

    // The exec plugin authenticates like `aws eks get-token` for the cluster creator.
    let out = control_plane()
        .kubectl("chronom-eks")
        .args([
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        r#"kubernetes-admin ["system:masters","system:authenticated"]"#
    );
}

#[test]
fn eks_seed_maps_the_node_role_in_aws_auth() {
    let cp = control_plane();
    let out = cp
        .kubectl("chronom-admin")
        .args([
            "get",
            "configmap",
            "aws-auth",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.data.mapRoles}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let map_roles = stdout(&out);
    assert!(
        map_roles.contains(&format!("rolearn: {NODE_ROLE}")),
        "{map_roles}"
    );
    assert!(
        map_roles.contains("- system:bootstrappers\n  - system:nodes"),
        "{map_roles}"
    );
    assert!(
        map_roles.contains("username: system:node:{{EC2PrivateDNSName}}"),
        "{map_roles}"
    );

    for object in [
        "clusterrolebinding/eks:node-bootstrapper",
        "clusterrole/eks:node-manager",
        "clusterrolebinding/aws-node",
    ] {
        let out = cp
            .kubectl("chronom-admin")
            .args(["get", object, "-o", "name"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{object}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = cp
        .kubectl("chronom-admin")
        .args(["get", "role", "eks:node-manager", "-n", "kube-system"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_rust_client_connects_with_every_context() {
    let cp = control_plane();
    async fn aws_auth(kubeconfig: &Path, context: &str) -> Result<ConfigMap, kube::Error> {
        let options = KubeConfigOptions {
            context: Some(context.to_owned()),
            ..Default::default()
        };
        let config =
            Config::from_custom_kubeconfig(Kubeconfig::read_from(kubeconfig).unwrap(), &options)
                .await
                .unwrap();
        let client = Client::try_from(config).unwrap();
        Api::<ConfigMap>::namespaced(client, "kube-system")
            .get("aws-auth")
            .await
    }
    for context in ["chronom-admin", "chronom-eks"] {
        let cm = aws_auth(&cp.kubeconfig, context)
            .await
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        assert!(cm.data.unwrap()["mapRoles"].contains(NODE_ROLE));
    }
    match aws_auth(&cp.kubeconfig, "chronom-operator").await {
        Err(kube::Error::Api(status)) if status.is_forbidden() => {}
        other => panic!("chronom-operator should be forbidden, got {other:?}"),
    }
}

/// True if `pid` is a live process (a zombie waiting for its parent counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(") ").map(|(_, rest)| &rest[..1]),
            Some("Z" | "X")
        ),
        Err(_) => false,
    }
}

#[test]
fn up_then_down_leaves_no_process_and_no_directory() {
    let scratch = tempfile::Builder::new()
        .prefix("chronom-cp-test")
        .tempdir()
        .unwrap();
    let dir = scratch.path().join("cp");
    let started = Instant::now();
    let cp = ControlPlane::up(&["--dir", dir.to_str().unwrap()]).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "control plane up (warm cache) in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let dir = cp.dir.clone().expect("up makes a control-plane directory");
    let pids: Vec<(String, u32)> = ["etcd", "kube-apiserver", "watcher"]
        .iter()
        .map(|name| {
            let pid = std::fs::read_to_string(dir.join(format!("{name}.pid"))).unwrap();
            (name.to_string(), pid.trim().parse().unwrap())
        })
        .collect();
    for (name, pid) in &pids {
        assert!(alive(*pid), "{name} (pid {pid}) should be running after up");
    }
    let out = cp
        .kubectl("chronom-admin")
        .args(["get", "--raw", "/readyz"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "ok");

    cp.down().unwrap();
    for (name, pid) in &pids {
        assert!(!alive(*pid), "{name} (pid {pid}) still running after down");
    }
    assert!(!dir.exists(), "{} still exists after down", dir.display());
}

#[test]
fn unique_names_are_distinct_dns_labels_the_server_accepts() {
    let (a, b) = (unique_name("Grant_Test"), unique_name("Grant_Test"));
    assert_ne!(a, b);
    assert!(a.starts_with("grant-test-"), "{a}");
    for name in [&a, &b, &unique_name(&"x".repeat(100)), &unique_name("--")] {
        let dns_label = name.len() <= 63
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        assert!(dns_label, "{name:?} is not a DNS-1123 label");
    }
    let out = control_plane()
        .kubectl("chronom-admin")
        .args(["create", "namespace", &a])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
