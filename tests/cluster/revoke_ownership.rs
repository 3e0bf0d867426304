//! revoke and `grant --force-update` touch only what grant wrote (issue 12, items 3 and 5;
//! docs/ownership.md), against the real control plane (scripts/control-plane).
//!
//! aws-auth is one object per cluster, so every test here holds `AWS_AUTH`; RBAC objects use
//! unique names.

use std::process::Output;
use std::sync::{Mutex, MutexGuard};

use crate::support::cluster::*;
use crate::support::names::{Names, names};
use crate::support::{ControlPlane, unique_name};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, PostParams};

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

static AWS_AUTH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    AWS_AUTH.lock().unwrap_or_else(|p| p.into_inner())
}

/// The node group's instance role of the eks seed.
const NODE_ROLE: &str =
    "arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF";

/// mapRoles exactly as tests/control-plane/seed-eks.yaml writes it.
const SEED_MAP_ROLES: &str = "- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: arn:aws:iam::111122223333:role/eksctl-demo-nodegroup-NodeInstanceRole-1ABCDEF\n  username: system:node:{{EC2PrivateDNSName}}\n";

fn admin(args: &[&str]) -> Output {
    chronom(control_plane(), "chronom-admin", args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn with_names(cmd: &str, n: &Names, extra: &[&str]) -> Output {
    admin(&n.args(cmd, extra))
}

/// aws-auth as it is, down to the resourceVersion: a refused run must not even write it back.
fn snapshot() -> (Option<std::collections::BTreeMap<String, String>>, String) {
    let cm = get_aws_auth(control_plane()).expect("aws-auth exists");
    (cm.data, cm.metadata.resource_version.unwrap())
}

/// `kubectl auth can-i list pods` as a member of `group`, asked of the real authorizer.
fn group_can_list_pods(group: &str) -> bool {
    let out = control_plane()
        .kubectl("chronom-admin")
        .args([
            "auth",
            "can-i",
            "list",
            "pods",
            "--all-namespaces",
            "--as",
            "chronom-probe",
            "--as-group",
            group,
        ])
        .output()
        .unwrap();
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => true,
        "no" => false,
        other => panic!("kubectl auth can-i said {other:?}: {}", text(&out)),
    }
}

#[test]
fn revoking_the_node_role_is_refused_even_with_the_override() {
    let _g = lock();
    let original = set_aws_auth(control_plane(), data(SEED_MAP_ROLES));
    let before = snapshot();
    for extra in [
        &[][..],
        &["--force-remove-foreign-entry"][..],
        // Naming the node mapping exactly changes nothing: nodes are never unmapped.
        &[
            "--force-remove-foreign-entry",
            "--group",
            "system:nodes",
            "--username",
            "system:node:{{EC2PrivateDNSName}}",
        ][..],
    ] {
        let mut args = vec!["revoke", "--role-arn", NODE_ROLE];
        args.extend_from_slice(extra);
        let out = admin(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("nodes of this role would drop out of the cluster")
                && err.contains("rolearn: arn:aws:iam::111122223333:role/eksctl-demo-nodegroup")
                && err.contains("- system:bootstrappers")
                && err.contains("nothing was changed")
                && err.contains("edit aws-auth by hand"),
            "{extra:?}: {err}"
        );
        assert_eq!(snapshot(), before, "{extra:?}: aws-auth must be untouched");
    }
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

#[test]
fn grant_force_update_over_the_node_role_is_refused() {
    let _g = lock();
    let original = set_aws_auth(control_plane(), data(SEED_MAP_ROLES));
    let before = snapshot();
    let role = unique_name("nodeforce");
    let out = admin(&[
        "grant",
        "--role-arn",
        NODE_ROLE,
        "--role-name",
        &role,
        "--group",
        &format!("{role}-group"),
        "--force-update",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to replace")
            && err.contains("nodes of this role would drop out of the cluster"),
        "{err}"
    );
    assert_eq!(snapshot(), before, "aws-auth must be untouched");
    assert!(
        cluster_role(control_plane(), &role).is_none()
            && cluster_role_binding(control_plane(), &role).is_none(),
        "refused before any write: no RBAC object either"
    );
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

#[test]
fn an_entry_with_another_group_or_username_is_removed_only_when_asked() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    let n = names("foreign");
    let extra_group = format!(
        "- rolearn: {}\n  username: {}\n  groups:\n    - {}\n    - deployers\n",
        n.arn,
        n.user(),
        n.group
    );
    let other_user = format!(
        "- rolearn: {}\n  username: someone-else\n  groups:\n    - {}\n",
        n.arn, n.group
    );
    for (entry, breaks) in [
        (&extra_group, "would lose what groups [".to_string()),
        (
            &other_user,
            "bindings to user \"someone-else\" would no longer apply".to_string(),
        ),
    ] {
        set_aws_auth(control_plane(), data(&format!("{NODE_ENTRY}{entry}")));
        let before = snapshot();
        let out = with_names("revoke", &n, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("it is not the entry grant writes")
                && err.contains(&breaks)
                && err.contains("--force-remove-foreign-entry"),
            "{err}"
        );
        assert_eq!(snapshot(), before, "refused: aws-auth untouched");

        let out = with_names(
            "revoke",
            &n,
            &["--force-remove-foreign-entry", "-o", "json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(json(&out)["awsAuth"]["removed"], 1);
        assert_eq!(map_roles(control_plane()), NODE_ENTRY);
    }

    // --username names what grant --username wrote: no override needed.
    set_aws_auth(control_plane(), data(&format!("{NODE_ENTRY}{other_user}")));
    let out = with_names("revoke", &n, &["--username", "someone-else"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(map_roles(control_plane()), NODE_ENTRY);
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

#[test]
fn two_groups_through_one_binding_revoking_one_keeps_the_other() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    set_aws_auth(control_plane(), data(NODE_ENTRY));
    let a = names("shared-a");
    let b = Names {
        role: a.role.clone(),
        ..names("shared-b")
    };
    let out = with_names("grant", &a, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The second grant's mapping and subject, as grant writes them (mapRoles entry, one more
    // Group subject on the shared managed binding), independent of how grant adds them.
    let mut roles = map_roles(control_plane());
    roles.push_str(&format!(
        "- rolearn: {}\n  username: {}\n  groups:\n    - {}\n",
        b.arn,
        b.user(),
        b.group
    ));
    let mut d = get_aws_auth(control_plane()).unwrap().data.unwrap();
    d.insert("mapRoles".into(), roles);
    set_aws_auth(control_plane(), Some(d));
    let role = a.role.clone();
    let group_b = b.group.clone();
    with_client(control_plane(), async move |c| {
        let api = Api::<ClusterRoleBinding>::all(c);
        let mut binding = api.get(&role).await.unwrap();
        let mut subject = binding.subjects.as_ref().unwrap()[0].clone();
        subject.name = group_b;
        binding.subjects.as_mut().unwrap().push(subject);
        api.replace(&role, &PostParams::default(), &binding)
            .await
            .unwrap();
    });
    assert!(group_can_list_pods(&a.group) && group_can_list_pods(&b.group));

    let out = with_names("revoke", &a, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["clusterRoleBinding"]["action"], "updated", "{r:#}");
    assert_eq!(r["clusterRole"]["action"], "kept", "{r:#}");
    assert_eq!(r["verification"][0]["allowed"], false, "{r:#}");
    assert!(!group_can_list_pods(&a.group), "a's access is gone");
    assert!(group_can_list_pods(&b.group), "b keeps its access");
    let binding = cluster_role_binding(control_plane(), &a.role).expect("the binding stays for b");
    let subjects: Vec<String> = binding
        .subjects
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(subjects, std::slice::from_ref(&b.group));

    // The last group takes the binding and then the role with it.
    let out = with_names("revoke", &b, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["clusterRoleBinding"]["action"], "deleted", "{r:#}");
    assert_eq!(r["clusterRole"]["action"], "deleted", "{r:#}");
    assert!(
        cluster_role(control_plane(), &a.role).is_none()
            && cluster_role_binding(control_plane(), &a.role).is_none()
    );
    assert!(!group_can_list_pods(&b.group));
    assert_eq!(map_roles(control_plane()), NODE_ENTRY);
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}

#[test]
fn objects_without_our_label_are_never_changed() {
    let _g = lock();
    let original = get_aws_auth(control_plane());
    let n = names("unlabelled");
    // A team's own role and binding that happen to have the name, binding our group and theirs.
    kubectl_apply(
        control_plane(),
        &format!(
            r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {role}}}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {role}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {group}}}
- {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: team}}
"#,
            role = n.role,
            group = n.group
        ),
    );
    let version = |rv: Option<String>| rv.expect("resourceVersion");
    let role_rv = version(
        cluster_role(control_plane(), &n.role)
            .unwrap()
            .metadata
            .resource_version,
    );
    let binding_rv = version(
        cluster_role_binding(control_plane(), &n.role)
            .unwrap()
            .metadata
            .resource_version,
    );
    set_aws_auth(
        control_plane(),
        data(&format!(
            "{NODE_ENTRY}- rolearn: {}\n  username: {}\n  groups:\n    - {}\n",
            n.arn,
            n.user(),
            n.group
        )),
    );
    let out = with_names("revoke", &n, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["awsAuth"]["removed"], 1);
    assert_eq!(r["clusterRole"]["action"], "kept", "{r:#}");
    assert_eq!(r["clusterRoleBinding"]["action"], "kept", "{r:#}");
    assert_eq!(
        version(
            cluster_role(control_plane(), &n.role)
                .unwrap()
                .metadata
                .resource_version
        ),
        role_rv
    );
    let binding = cluster_role_binding(control_plane(), &n.role).unwrap();
    assert_eq!(version(binding.metadata.resource_version), binding_rv);
    assert_eq!(binding.subjects.unwrap().len(), 2);
    kubectl_delete(control_plane(), &format!("clusterrolebinding/{}", n.role));
    kubectl_delete(control_plane(), &format!("clusterrole/{}", n.role));
    set_aws_auth(control_plane(), original.and_then(|c| c.data));
}
