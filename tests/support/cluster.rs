//! Reading and writing the test cluster directly (as admin), and running the plugin on it.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, PostParams};

use super::control_plane::{ControlPlane, unique_name};

/// The node-role entry of the eks seed, as block-style mapRoles text.
pub const NODE_ENTRY: &str = "- rolearn: arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n";

/// `kubectl-chronom --kubeconfig <cp> --context <context> <args>`, with backups in a private dir.
pub fn chronom(cp: &ControlPlane, context: &str, args: &[&str]) -> Output {
    plugin_command(&cp.kubeconfig, context)
        .args(args)
        .output()
        .expect("run kubectl-chronom")
}

pub fn plugin_command(kubeconfig: &Path, context: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"));
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--context")
        .arg(context)
        .env_remove("KUBECONFIG")
        .env("XDG_STATE_HOME", state_dir(kubeconfig));
    cmd
}

/// Where the plugin writes backups during tests: one dir per test process and control plane
/// (named by its kubeconfig). Backups are named by context and second, so the modules of one
/// test binary, each on its own control plane, would otherwise write over each other's.
pub fn state_dir(kubeconfig: &Path) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    kubeconfig.hash(&mut hasher);
    std::env::temp_dir().join(format!(
        "chronom-test-state-{}-{:016x}",
        std::process::id(),
        hasher.finish()
    ))
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(o)))
}

/// Run `f` with an admin client for `cp`.
pub fn with_client<T>(cp: &ControlPlane, f: impl AsyncFnOnce(kube::Client) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&cp.kubeconfig).unwrap();
        let opts = kube::config::KubeConfigOptions {
            context: Some("chronom-admin".into()),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .unwrap();
        f(kube::Client::try_from(cfg).unwrap()).await
    })
}

pub fn get_aws_auth(cp: &ControlPlane) -> Option<ConfigMap> {
    with_client(cp, async |c| {
        Api::<ConfigMap>::namespaced(c, "kube-system")
            .get_opt("aws-auth")
            .await
            .unwrap()
    })
}

/// Replace aws-auth's data (None: delete the ConfigMap) and return what was there.
pub fn set_aws_auth(
    cp: &ControlPlane,
    data: Option<BTreeMap<String, String>>,
) -> Option<ConfigMap> {
    with_client(cp, async |c| {
        let api = Api::<ConfigMap>::namespaced(c, "kube-system");
        let before = api.get_opt("aws-auth").await.unwrap();
        match (data, &before) {
            (None, Some(_)) => {
                api.delete("aws-auth", &DeleteParams::default())
                    .await
                    .unwrap();
            }
            (None, None) => {}
            (Some(d), Some(cm)) => {
                let mut cm = cm.clone();
                cm.data = Some(d);
                cm.metadata.annotations = None;
                api.replace("aws-auth", &PostParams::default(), &cm)
                    .await
                    .unwrap();
            }
            (Some(d), None) => {
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some("aws-auth".into());
                cm.data = Some(d);
                api.create(&PostParams::default(), &cm).await.unwrap();
            }
        }
        before
    })
}

pub fn map_roles(cp: &ControlPlane) -> String {
    get_aws_auth(cp)
        .and_then(|c| c.data)
        .and_then(|d| d.get("mapRoles").cloned())
        .unwrap_or_default()
}

pub fn data(map_roles: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(
        "mapRoles".to_string(),
        map_roles.to_string(),
    )]))
}

pub fn cluster_role(cp: &ControlPlane, name: &str) -> Option<ClusterRole> {
    let name = name.to_string();
    with_client(cp, async move |c| {
        Api::<ClusterRole>::all(c).get_opt(&name).await.unwrap()
    })
}

pub fn cluster_role_binding(cp: &ControlPlane, name: &str) -> Option<ClusterRoleBinding> {
    let name = name.to_string();
    with_client(cp, async move |c| {
        Api::<ClusterRoleBinding>::all(c)
            .get_opt(&name)
            .await
            .unwrap()
    })
}

pub fn kubectl_apply(cp: &ControlPlane, manifest: &str) {
    use std::io::Write;
    let mut child = cp
        .kubectl("chronom-admin")
        .args(["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kubectl apply: {}", text(&out));
}

pub fn kubectl_delete(cp: &ControlPlane, what: &str) {
    let out = cp
        .kubectl("chronom-admin")
        .args(["delete", what])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl delete {what}: {}",
        text(&out)
    );
}

/// A ValidatingAdmissionPolicy (and binding) that refuses matching requests: a real server
/// refusal that RBAC-based preflight cannot foresee. Waits until it is in force.
pub fn deny_policy(
    cp: &ControlPlane,
    name: &str,
    operations: &str,
    resource: &str,
    group: &str,
    expression: &str,
    probe: impl Fn() -> bool,
) {
    let manifest = format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["{group}"]
      apiVersions: [v1]
      operations: [{operations}]
      resources: [{resource}]
  validations:
  - expression: "{expression}"
    message: test policy refuses this request
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {name}
  validationActions: [Deny]
"#
    );
    kubectl_apply(cp, &manifest);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !probe() {
        assert!(
            std::time::Instant::now() < deadline,
            "admission policy {name} never took effect"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub fn remove_policy(cp: &ControlPlane, name: &str) {
    kubectl_delete(cp, &format!("validatingadmissionpolicybinding/{name}"));
    kubectl_delete(cp, &format!("validatingadmissionpolicy/{name}"));
}

pub fn kubectl_ok(cp: &ControlPlane, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = cp.kubectl("chronom-admin");
    cmd.args(args);
    let out = match stdin {
        Some(input) => {
            use std::io::Write;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        }
        None => cmd.output().unwrap(),
    };
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Used by the modules whose tests need a caller with exactly some rights (audit_completeness,
/// preflight_rights). A ServiceAccount bound to a ClusterRole with `rules`, and a kubeconfig (in `dir`) whose
/// context `auditor` authenticates as it with a TokenRequest token.
pub fn auditor_with(cp: &ControlPlane, dir: &Path, rules: &str) -> PathBuf {
    let name = unique_name("auditor");
    let manifest = format!(
        "apiVersion: v1
kind: Namespace
metadata: {{name: {name}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {name}, namespace: {name}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}}}
rules:
{rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {name}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {name}}}
subjects: [{{kind: ServiceAccount, name: {name}, namespace: {name}}}]
"
    );
    kubectl_ok(cp, &["apply", "-f", "-"], Some(&manifest));
    let token = kubectl_ok(cp, &["create", "token", &name, "-n", &name], None);
    let kubeconfig = dir.join("kubeconfig");
    std::fs::copy(&cp.kubeconfig, &kubeconfig).unwrap();
    let config = |args: &[&str]| {
        let out = Command::new(cp.kubectl_path())
            .env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("config")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    config(&[
        "set-credentials",
        "auditor",
        &format!("--token={}", token.trim()),
    ]);
    // The cluster entry of the admin context, whatever its name.
    let cluster = String::from_utf8(
        Command::new(cp.kubectl_path())
            .env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args([
                "config",
                "view",
                "-o",
                "jsonpath={.contexts[?(@.name==\"chronom-admin\")].context.cluster}",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    config(&[
        "set-context",
        "auditor",
        &format!("--cluster={cluster}"),
        "--user=auditor",
    ]);
    kubeconfig
}
