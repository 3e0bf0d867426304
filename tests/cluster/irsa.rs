//! IRSA against the real control plane: the service accounts' `eks.amazonaws.com/role-arn`
//! annotations as the audit lists them from the API server, and which mapped IAM principals can
//! run a pod as such an account, checked against the API server itself (SubjectAccessReview
//! through `kubectl auth can-i`, and a pod really created as the principal).

use std::collections::BTreeMap;

use crate::support::cluster::*;
use crate::support::{ControlPlane, unique_name};
use chronom_core::audit::report::{self, EksState};
use chronom_core::eks::posture::ClusterFacts;

/// This module's own control plane: its tests are the only writers of its aws-auth and RBAC.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

const DEPLOYER: &str = "arn:aws:iam::111122223333:role/deployer";
const READER: &str = "arn:aws:iam::111122223333:role/reader";
const S3_ROLE: &str = "arn:aws:iam::111122223333:role/s3-writer";
const BILLING_ROLE: &str = "arn:aws:iam::111122223333:role/billing";

fn can_i(cp: &ControlPlane, user: &str, group: &str, ns: &str) -> bool {
    let out = cp
        .kubectl("chronom-admin")
        .args([
            "auth",
            "can-i",
            "create",
            "pods",
            "-n",
            ns,
            "--as",
            user,
            "--as-group",
            group,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

#[test]
fn irsa_roles_are_read_from_the_cluster_and_reached_by_who_can_make_pods() {
    let cp = control_plane();
    let id = unique_name("irsa");
    let (apps, billing) = (format!("{id}-apps"), format!("{id}-billing"));
    kubectl_apply(
        cp,
        &format!(
            "\
apiVersion: v1
kind: Namespace
metadata: {{name: {apps}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {billing}}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: uploader
  namespace: {apps}
  annotations: {{eks.amazonaws.com/role-arn: {S3_ROLE}}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: invoicer
  namespace: {billing}
  annotations: {{eks.amazonaws.com/role-arn: {BILLING_ROLE}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: plain, namespace: {apps}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {id}-pod-maker}}
rules: [{{apiGroups: [''], resources: [pods], verbs: [create]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {id}-deployers, namespace: {apps}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {id}-pod-maker}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {id}-deployers}}]
"
        ),
    );
    let map_roles = format!(
        "- rolearn: {DEPLOYER}\n  username: deployer\n  groups: [{id}-deployers]\n- rolearn: {READER}\n  username: reader\n  groups: [{id}-readers]\n"
    );
    set_aws_auth(
        cp,
        Some(BTreeMap::from([("mapRoles".to_string(), map_roles)])),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (accounts, state) = rt.block_on(async {
        use clap::Parser;
        let cli = chronom::cli::Cli::try_parse_from([
            "kubectl-chronom",
            "--kubeconfig",
            cp.kubeconfig.to_str().unwrap(),
            "--context",
            "chronom-admin",
            "audit",
        ])
        .unwrap();
        let conn = chronom::adapters::kube::connect(&cli.global).await.unwrap();
        let accounts = chronom::flows::audit::read_service_accounts(&conn)
            .await
            .unwrap()
            .expect("the admin lists service accounts");
        (
            accounts,
            chronom::flows::audit::read_cluster(&conn).await.unwrap(),
        )
    });
    let annotated: Vec<(&str, &str, Option<&str>)> = accounts
        .iter()
        .filter(|a| a.namespace.starts_with(&id))
        .map(|a| {
            (
                a.namespace.as_str(),
                a.name.as_str(),
                a.irsa_role_arn.as_deref(),
            )
        })
        .collect();
    for want in [
        (apps.as_str(), "uploader", Some(S3_ROLE)),
        (apps.as_str(), "plain", None),
        (billing.as_str(), "invoicer", Some(BILLING_ROLE)),
    ] {
        assert!(annotated.contains(&want), "{want:?} in {annotated:?}");
    }

    let snapshot = report::snapshot_of(&state, chronom_core::rbac::RuleSource::AsStored);
    let eks = EksState {
        cluster: ClusterFacts {
            name: "prod".into(),
            authentication_mode: Some("CONFIG_MAP".into()),
            ..Default::default()
        },
        service_accounts: accounts,
        ..Default::default()
    };
    let r = report::build_with_eks("ctx", &state, &snapshot, Some(&eks));
    let roles = &r.eks.as_ref().unwrap().iam_roles_from_pods;
    let of = |ns: &str| {
        roles
            .iter()
            .find(|r| r.namespace == ns)
            .unwrap_or_else(|| panic!("{ns} in {roles:#?}"))
    };
    let s3 = of(&apps);
    assert_eq!(
        (s3.service_account.as_str(), s3.role_arn.as_str()),
        ("uploader", S3_ROLE)
    );
    let reached: Vec<(&str, &str)> = s3
        .reachable_by
        .iter()
        .map(|p| (p.principal.as_str(), p.by.as_str()))
        .collect();
    assert_eq!(reached, [(DEPLOYER, "create pods")]);
    assert!(of(&billing).reachable_by.is_empty(), "{roles:#?}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "CHR048" && f.subject.contains(&format!("{apps}/uploader"))),
        "{:#?}",
        r.findings
    );

    // The API server agrees: the deployer may create pods in apps and not in billing, the
    // reader nowhere; and a pod naming the annotated account is really admitted for him.
    assert!(can_i(cp, "deployer", &format!("{id}-deployers"), &apps));
    assert!(!can_i(cp, "deployer", &format!("{id}-deployers"), &billing));
    assert!(!can_i(cp, "reader", &format!("{id}-readers"), &apps));
    let pod = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{{\"name\":\"probe\",\"namespace\":\"{apps}\"}},\"spec\":{{\"serviceAccountName\":\"uploader\",\"automountServiceAccountToken\":false,\"containers\":[{{\"name\":\"c\",\"image\":\"busybox\"}}]}}}}"
    );
    let mut child = cp
        .kubectl("chronom-admin")
        .args([
            "create",
            "-f",
            "-",
            "--as",
            "deployer",
            "--as-group",
            &format!("{id}-deployers"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pod.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the deployer runs a pod as uploader: {}",
        text(&out)
    );
}
