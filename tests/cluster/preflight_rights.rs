//! grant's preflight against the real authorizer (issue 14): a caller with every write right
//! grant uses, but neither `escalate`/`bind` on the ClusterRole nor the role's own rights, is
//! refused before anything is written (the API server's RBAC escalation prevention would
//! refuse the role mid-apply); `escalate` and `bind`, or holding every right of the role, each
//! let the same grant through; and a caller without rights sees each missing right once.
//!
//! The callers are ServiceAccounts with TokenRequest tokens (support::cluster::auditor_with):
//! real bearer tokens whose every request goes through RBAC.

use std::path::Path;
use std::process::Output;
use std::sync::{Mutex, MutexGuard};

use crate::support::ControlPlane;
use crate::support::cluster::*;
use crate::support::names::{Names, names};

fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

/// Each test edits the one aws-auth.
static AWS_AUTH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    AWS_AUTH.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every right grant's preflight lists (README "Rights each command needs"), and nothing
/// more: the writes, the reads, the SubjectAccessReviews of its verification.
const GRANT_WRITES: &str = "- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles, clusterrolebindings, roles, rolebindings], verbs: [get, list, watch, create, patch, update]}
- {apiGroups: [''], resources: [configmaps], resourceNames: [aws-auth], verbs: [get, update]}
- {apiGroups: [authorization.k8s.io], resources: [subjectaccessreviews], verbs: [create]}
";

fn grant_as(kubeconfig: &Path, n: &Names) -> Output {
    plugin_command(kubeconfig, "auditor")
        .args(n.args("grant", &[]))
        .output()
        .expect("run kubectl-chronom")
}

fn cleanup(n: &Names) {
    let out = chronom(control_plane(), "chronom-admin", &n.args("revoke", &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn without_escalate_or_the_roles_rights_grant_is_refused_before_any_write() {
    let _g = lock();
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = auditor_with(cp, dir.path(), GRANT_WRITES);
    let n = names("noescalate");
    let before = get_aws_auth(cp).map(|c| c.metadata.resource_version);

    let out = grant_as(&kubeconfig, &n);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        format!("escalate clusterroles.rbac.authorization.k8s.io/{}", n.role),
        format!("bind clusterroles.rbac.authorization.k8s.io/{}", n.role),
        "escalation prevention".to_string(),
        "Rights of the role you do not hold".to_string(),
        "get configmaps (cluster-wide)".to_string(),
        "nothing was changed".to_string(),
    ] {
        assert!(
            err.contains(&want),
            "stderr lacks {want:?}:\n{}",
            text(&out)
        );
    }
    assert!(
        !err.contains("403"),
        "refused in preflight, not by the API server mid-apply:\n{}",
        text(&out)
    );
    assert_eq!(
        get_aws_auth(cp).map(|c| c.metadata.resource_version),
        before,
        "aws-auth untouched"
    );
    assert!(cluster_role(cp, &n.role).is_none(), "no role written");
    assert!(cluster_role_binding(cp, &n.role).is_none(), "no binding");
}

#[test]
fn escalate_and_bind_let_the_same_caller_grant() {
    let _g = lock();
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let rules = format!(
        "{GRANT_WRITES}- {{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, bind]}}\n"
    );
    let kubeconfig = auditor_with(cp, dir.path(), &rules);
    let n = names("escalate");
    let out = grant_as(&kubeconfig, &n);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(cluster_role(cp, &n.role).is_some());
    cleanup(&n);
}

#[test]
fn holding_every_right_of_the_role_lets_the_caller_grant_without_escalate() {
    let _g = lock();
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let rules = format!(
        "{GRANT_WRITES}- {{apiGroups: ['*'], resources: ['*'], verbs: [get, list, watch]}}\n- {{nonResourceURLs: ['*'], verbs: [get]}}\n"
    );
    let kubeconfig = auditor_with(cp, dir.path(), &rules);
    let n = names("holdsall");
    let out = grant_as(&kubeconfig, &n);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(cluster_role(cp, &n.role).is_some());
    cleanup(&n);
}

#[test]
fn a_caller_without_rights_sees_each_missing_right_once() {
    let _g = lock();
    let cp = control_plane();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = auditor_with(
        cp,
        dir.path(),
        "- {apiGroups: [''], resources: [nothing-here], verbs: [get]}\n",
    );
    let n = names("norights");
    let out = grant_as(&kubeconfig, &n);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let rights: Vec<&str> = err
        .lines()
        .filter(|l| l.trim_start().starts_with("- "))
        .collect();
    assert!(rights.len() > 5, "{}", text(&out));
    for r in &rights {
        assert_eq!(
            rights.iter().filter(|x| x == &r).count(),
            1,
            "{r} listed twice:\n{}",
            text(&out)
        );
    }
    assert!(
        rights.iter().any(|r| r.contains("get configmaps/aws-auth")),
        "{}",
        text(&out)
    );
}
