//! grant and revoke against the real control plane (scripts/control-plane).
//!
//! aws-auth is one object per cluster, so every test that reads or writes it holds
//! `AWS_AUTH`; RBAC objects use unique names so the rest runs in parallel.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, PostParams};
use support::cluster::*;
use support::{control_plane, unique_name};

static AWS_AUTH: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    AWS_AUTH.lock().unwrap_or_else(|p| p.into_inner())
}

fn admin(args: &[&str]) -> Output {
    chronom("chronom-admin", args)
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::111122223333:role/{name}")
}

/// A grant's unique names: role ARN, group and ClusterRole name.
struct Names {
    arn: String,
    group: String,
    role: String,
}

fn names(prefix: &str) -> Names {
    let id = unique_name(prefix);
    Names {
        arn: arn(&id),
        group: format!("{id}-group"),
        role: format!("{id}-role"),
    }
}

fn grant(n: &Names, extra: &[&str]) -> Output {
    let mut args = vec![
        "grant",
        "--role-arn",
        &n.arn,
        "--group",
        &n.group,
        "--role-name",
        &n.role,
    ];
    args.extend_from_slice(extra);
    admin(&args)
}

fn revoke(n: &Names, extra: &[&str]) -> Output {
    let mut args = vec![
        "revoke",
        "--role-arn",
        &n.arn,
        "--group",
        &n.group,
        "--role-name",
        &n.role,
    ];
    args.extend_from_slice(extra);
    admin(&args)
}

/// The API server's own answer, through the control plane's kubectl: may `user` in `group`
/// (and system:authenticated) do `verb` on `resource` (`res[/sub][.group]`), in `ns` or in
/// all namespaces? Independent of the plugin's verification table (issue 15).
fn server_allows(user: &str, group: &str, verb: &str, resource: &str, ns: Option<&str>) -> bool {
    let (res_sub, api_group) = match resource.split_once('.') {
        Some((r, g)) => (r, Some(g)),
        None => (resource, None),
    };
    let (res, sub) = match res_sub.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (res_sub, None),
    };
    let target = match api_group {
        Some(g) => format!("{res}.{g}"),
        None => res.to_string(),
    };
    let mut cmd = control_plane().kubectl("chronom-admin");
    cmd.args([
        "auth",
        "can-i",
        verb,
        &target,
        "--as",
        user,
        "--as-group",
        group,
        "--as-group",
        "system:authenticated",
    ]);
    if let Some(s) = sub {
        cmd.args(["--subresource", s]);
    }
    match ns {
        Some(n) if !n.is_empty() => cmd.args(["-n", n]),
        _ => cmd.arg("--all-namespaces"),
    };
    let out = cmd.output().expect("run kubectl auth can-i");
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match (out.status.code(), answer.as_str()) {
        (Some(0), "yes") => true,
        (Some(1), "no") => false,
        _ => panic!(
            "kubectl auth can-i {verb} {resource} as {user}: {}",
            text(&out)
        ),
    }
}

/// Every row of the plugin's verification table agrees with the server, asked directly.
fn rows_agree_with_the_server(report: &serde_json::Value, user: &str, group: &str) -> usize {
    let rows = report["verification"]
        .as_array()
        .expect("verification rows");
    for row in rows {
        let ns = row["namespace"].as_str().unwrap();
        let said = server_allows(
            user,
            group,
            row["verb"].as_str().unwrap(),
            row["resource"].as_str().unwrap(),
            Some(ns),
        );
        assert_eq!(
            row["allowed"], said,
            "the plugin reported {row} but the server says {said}"
        );
    }
    rows.len()
}

/// The binding binds exactly ClusterRole `role`, and binds these groups (among others).
fn assert_binding_binds(role: &str, groups: &[&str]) {
    let b = cluster_role_binding(role).expect("binding exists");
    assert_eq!(b.role_ref.kind, "ClusterRole");
    assert_eq!(b.role_ref.name, role);
    assert_eq!(
        b.role_ref.api_group.as_deref(),
        Some("rbac.authorization.k8s.io")
    );
    let subjects = b.subjects.unwrap_or_default();
    for g in groups {
        assert!(
            subjects.iter().any(|s| s.kind == "Group" && s.name == *g),
            "binding {role} lacks Group {g}: {subjects:?}"
        );
    }
}

/// An object exactly as the server stores it (resourceVersion included), for "unchanged" checks.
fn raw(kind: &str, name: &str) -> String {
    let out = control_plane()
        .kubectl("chronom-admin")
        .args(["get", kind, name, "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl get {kind} {name}: {}",
        text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn apply(manifest: &str) {
    kubectl_apply_on(control_plane(), manifest);
}

/// Deletes without waiting: this control plane runs no namespace controller to finish it.
fn delete(what: &str) {
    let out = control_plane()
        .kubectl("chronom-admin")
        .args(["delete", what, "--wait=false", "--ignore-not-found"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl delete {what}: {}",
        text(&out)
    );
}

/// The resourceVersion of aws-auth (None when absent): equal before and after means no write.
fn aws_auth_version() -> Option<String> {
    get_aws_auth().and_then(|c| c.metadata.resource_version)
}

/// Nothing of a refused grant is left: no ClusterRole or binding of its name, aws-auth untouched.
fn assert_nothing_written(n: &Names, aws_auth_before: &Option<String>) {
    assert!(
        cluster_role(&n.role).is_none(),
        "clusterrole {} was created",
        n.role
    );
    assert!(
        cluster_role_binding(&n.role).is_none(),
        "clusterrolebinding {} was created",
        n.role
    );
    assert_eq!(&aws_auth_version(), aws_auth_before, "aws-auth was written");
    assert!(!map_roles().contains(&n.arn), "{}", map_roles());
}

#[test]
fn grant_creates_maps_and_verifies_then_regrant_is_a_no_op() {
    let _g = lock();
    let before = set_aws_auth(data(NODE_ENTRY));
    let n = names("grant");
    let out = grant(&n, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["clusterRole"]["name"], n.role.as_str());
    assert_eq!(r["clusterRole"]["action"], "created");
    assert_eq!(r["clusterRoleBinding"]["action"], "created");
    assert_eq!(r["awsAuth"]["action"], "updated");
    assert_eq!(r["awsAuth"]["entry"]["rolearn"], n.arn.as_str());
    assert_eq!(r["awsAuth"]["entry"]["groups"][0], n.group.as_str());
    let checks = r["verification"].as_array().unwrap();
    // One row more when the server serves a custom resource (the "list a CRD" check).
    let crd_rows = checks
        .iter()
        .filter(|c| {
            let res = c["resource"].as_str().unwrap_or_default();
            res.contains('.') && !res.ends_with(".k8s.io") && !res.ends_with(".apps")
        })
        .count();
    assert_eq!(
        checks.len(),
        chronom::verify::after_grant(chronom_core::readonly_role::RoleProfile::ReadOnly, None)
            .len()
            + crd_rows,
        "{checks:?}"
    );
    for c in checks {
        for key in ["verb", "resource", "namespace", "allowed", "expected"] {
            assert!(c.get(key).is_some(), "verification row lacks {key}: {c}");
        }
    }
    // The proof is the server's, not the plugin's table: ask it directly.
    let user = n.arn.rsplit('/').next().unwrap();
    assert_eq!(rows_agree_with_the_server(&r, user, &n.group), checks.len());
    assert!(server_allows(user, &n.group, "list", "pods", None));
    assert!(server_allows(
        user,
        &n.group,
        "get",
        "deployments.apps",
        None
    ));
    for (verb, resource, ns) in [
        ("create", "pods", None),
        ("update", "configmaps", Some("kube-system")),
        ("impersonate", "users", None),
        ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
        ("create", "pods/exec", None),
    ] {
        assert!(
            !server_allows(user, &n.group, verb, resource, ns),
            "{verb} {resource} must be denied"
        );
    }
    assert_binding_binds(&n.role, &[&n.group]);
    assert!(
        map_roles().starts_with(NODE_ENTRY),
        "the node entry must stay first and intact:\n{}",
        map_roles()
    );

    let role = cluster_role(&n.role).expect("role exists");
    // The default profile: one read rule per API group, never a `*` (the seed's `*`/`*` role
    // is --wildcard-role, tested in readonly_profiles).
    let rules = role.rules.unwrap();
    assert!(rules.len() > 1, "{rules:?}");
    for r in &rules {
        assert_eq!(r.verbs, ["get", "list", "watch"], "{r:?}");
        let names = r.api_groups.iter().chain(r.resources.iter()).flatten();
        assert!(names.clone().all(|x| !x.contains('*')), "{r:?}");
    }
    assert_eq!(
        role.metadata.annotations.as_ref().unwrap()["chronom.io/profile"],
        "read-only"
    );
    let labels = role.metadata.labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "kubectl-chronom");
    let annotations = role.metadata.annotations.unwrap();
    assert!(
        annotations.values().any(|v| v.contains("admin")),
        "granted-by should record the caller: {annotations:?}"
    );
    let fields = role.metadata.managed_fields.unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f.manager.as_deref() == Some("kubectl-chronom")
                && f.operation.as_deref() == Some("Apply"))
    );

    // A second identical grant changes nothing, not even resourceVersions.
    let rv = |cm: Option<ConfigMap>| cm.unwrap().metadata.resource_version.unwrap();
    let cm_rv = rv(get_aws_auth());
    let role_rv = cluster_role(&n.role)
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let again = grant(&n, &["-o", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let r = json(&again);
    for key in ["clusterRole", "clusterRoleBinding", "awsAuth"] {
        assert_eq!(r[key]["action"], "unchanged", "{key}: {}", text(&again));
    }
    assert_eq!(rv(get_aws_auth()), cm_rv);
    assert_eq!(
        cluster_role(&n.role)
            .unwrap()
            .metadata
            .resource_version
            .unwrap(),
        role_rv
    );

    let out = revoke(&n, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(map_roles(), NODE_ENTRY);
    assert!(cluster_role(&n.role).is_none() && cluster_role_binding(&n.role).is_none());
    set_aws_auth(before.and_then(|c| c.data));
}

/// grant then revoke gives back aws-auth's text byte for byte, whatever its shape.
#[test]
fn grant_then_revoke_restores_every_shape_byte_for_byte() {
    let _g = lock();
    let original = get_aws_auth();
    let shapes: Vec<(&str, Option<BTreeMap<String, String>>)> = vec![
        ("block", data(NODE_ENTRY)),
        ("flow one line", data("[{\"rolearn\":\"arn:aws:iam::111122223333:role/node\",\"username\":\"system:node:{{EC2PrivateDNSName}}\",\"groups\":[\"system:nodes\"]}]")),
        ("flow multi line", data("[\n  {rolearn: 'arn:aws:iam::111122223333:role/node', username: 'system:node:{{EC2PrivateDNSName}}', groups: [system:nodes]}\n]\n")),
        ("comments", data("# managed by terraform\n- rolearn: arn:aws:iam::111122223333:role/node # node role\n  username: system:node:{{EC2PrivateDNSName}}\n  # keep these\n  groups:\n  - system:nodes\n# trailing comment\n")),
        ("quoted keys", data("- \"rolearn\": \"arn:aws:iam::111122223333:role/node\"\n  'username': 'system:node:{{EC2PrivateDNSName}}'\n  \"groups\": [\"system:nodes\"]\n")),
        ("crlf", data("- rolearn: arn:aws:iam::111122223333:role/node\r\n  username: system:node:{{EC2PrivateDNSName}}\r\n  groups:\r\n    - system:nodes\r\n")),
        ("indent 4, no trailing newline", data("    - rolearn: arn:aws:iam::111122223333:role/node\n      username: n\n      groups:\n        - system:nodes")),
        (
            "mapUsers and mapAccounts",
            Some(BTreeMap::from([
                ("mapRoles".into(), NODE_ENTRY.into()),
                ("mapUsers".into(), "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [viewers]\n".into()),
                ("mapAccounts".into(), "- \"444455556666\"\n".into()),
            ])),
        ),
        ("empty mapRoles", data("")),
        ("empty flow", data("[]")),
        ("missing mapRoles key", Some(BTreeMap::from([("mapUsers".to_string(), "[]\n".to_string())]))),
        ("userid and sso fields", data("- rolearn: arn:aws:iam::111122223333:role/node\n  username: n\n  userid: AROAEXAMPLE\n  groups: [system:nodes]\n- rolearn: arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123\n  username: admin:{{SessionName}}\n  groups: [admins]\n")),
        ("no ConfigMap", None),
    ];
    for (shape, d) in shapes {
        set_aws_auth(d.clone());
        let before = get_aws_auth();
        let n = names("shape");
        let out = grant(&n, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "[{shape}] grant: {}",
            text(&out)
        );
        let during = map_roles();
        assert!(
            during.contains(&n.arn),
            "[{shape}] entry not written: {during:?}"
        );
        let out = revoke(&n, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "[{shape}] revoke: {}",
            text(&out)
        );
        let after = get_aws_auth();
        let data_of =
            |c: &Option<ConfigMap>| c.as_ref().map(|c| c.data.clone().unwrap_or_default());
        match &before {
            Some(_) => assert_eq!(
                data_of(&after),
                data_of(&before),
                "[{shape}] data differs after grant+revoke"
            ),
            None => assert_eq!(
                data_of(&after).unwrap_or_default(),
                BTreeMap::new(),
                "[{shape}] created aws-auth must be left empty"
            ),
        }
        if let (Some(b), Some(a)) = (&before, &after) {
            assert_eq!(
                a.metadata.annotations, b.metadata.annotations,
                "[{shape}] annotations differ"
            );
        }
    }
    set_aws_auth(original.and_then(|c| c.data));
}

#[test]
fn denied_caller_learns_what_is_missing_and_nothing_changes() {
    let _g = lock();
    let before = get_aws_auth().map(|c| c.metadata.resource_version);
    let n = names("denied");
    let out = chronom(
        "chronom-operator",
        &[
            "grant",
            "--role-arn",
            &n.arn,
            "--group",
            &n.group,
            "--role-name",
            &n.role,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chronom-operator"),
        "must say who the server thinks we are: {err}"
    );
    assert!(
        err.contains("configmaps") && err.contains("clusterroles"),
        "must name the missing rights: {err}"
    );
    assert!(err.contains("next:"), "must say what to do next: {err}");
    assert_eq!(get_aws_auth().map(|c| c.metadata.resource_version), before);
    assert!(cluster_role(&n.role).is_none());
}

#[test]
fn conflicting_entry_is_refused_unless_forced() {
    let _g = lock();
    let original = get_aws_auth();
    let n = names("conflict");
    let existing = format!(
        "{NODE_ENTRY}- rolearn: {}\n  username: someone-else\n  groups:\n    - other\n",
        n.arn
    );
    set_aws_auth(data(&existing));
    let out = grant(&n, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--force-update") && err.contains("someone-else"),
        "must show the diff and the way out: {err}"
    );
    assert_eq!(map_roles(), existing, "a refused grant changes nothing");
    assert!(
        cluster_role(&n.role).is_none(),
        "nothing, not even RBAC, is written when aws-auth conflicts"
    );

    let out = grant(&n, &["--force-update", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["awsAuth"]["action"], "updated");
    let now = map_roles();
    assert!(
        now.starts_with(NODE_ENTRY)
            && !now.contains("someone-else")
            && now.matches(&n.arn).count() == 1,
        "{now}"
    );
    revoke(&n, &[]);
    set_aws_auth(original.and_then(|c| c.data));
}

#[test]
fn drifted_role_is_shown_and_restored() {
    let _g = lock();
    let n = names("drift");
    assert_eq!(grant(&n, &[]).status.code(), Some(0));
    with_client(async |c| {
        let api = Api::<ClusterRole>::all(c);
        let mut role = api.get(&n.role).await.unwrap();
        role.rules.as_mut().unwrap()[0].verbs.push("delete".into());
        api.replace(&n.role, &PostParams::default(), &role)
            .await
            .unwrap();
    });
    let out = grant(&n, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("-  - delete")
            || stdout.contains("- - delete")
            || stdout.contains("-- delete")
            || stdout
                .lines()
                .any(|l| l.starts_with('-') && l.contains("delete")),
        "diff must show the extra verb:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "clusterrole.rbac.authorization.k8s.io/{} updated",
            n.role
        )),
        "{stdout}"
    );
    assert_eq!(
        cluster_role(&n.role).unwrap().rules.unwrap()[0].verbs,
        ["get", "list", "watch"]
    );
    revoke(&n, &[]);
}

#[test]
fn dry_run_writes_nothing_and_shows_diff_and_manifests() {
    let _g = lock();
    let before = get_aws_auth().map(|c| c.metadata.resource_version);
    let n = names("dry");
    let out = grant(&n, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("+- rolearn: {}", n.arn))
            || stdout.contains(&format!("+  - rolearn: {}", n.arn))
            || stdout
                .lines()
                .any(|l| l.starts_with('+') && l.contains(&n.arn)),
        "{stdout}"
    );
    assert!(
        stdout.contains("kind: ClusterRole") && stdout.contains("kind: ClusterRoleBinding"),
        "{stdout}"
    );
    assert!(stdout.contains("would be created"), "{stdout}");
    assert!(stdout.contains("server-side dry run"), "{stdout}");
    assert_eq!(get_aws_auth().map(|c| c.metadata.resource_version), before);
    assert!(cluster_role(&n.role).is_none() && cluster_role_binding(&n.role).is_none());
}

#[test]
fn exclude_secrets_is_verified_by_the_authorizer() {
    let _g = lock();
    let n = names("nosecrets");
    let out = grant(&n, &["--exclude-secrets"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The server's answers, asked directly, are the proof.
    let user = n.arn.rsplit('/').next().unwrap();
    assert!(!server_allows(user, &n.group, "get", "secrets", None));
    assert!(!server_allows(
        user,
        &n.group,
        "list",
        "secrets",
        Some("kube-system")
    ));
    assert!(server_allows(user, &n.group, "list", "pods", None));
    assert!(server_allows(
        user,
        &n.group,
        "get",
        "pods/log",
        Some("default")
    ));
    assert!(server_allows(
        user,
        &n.group,
        "list",
        "configmaps",
        Some("kube-system")
    ));
    assert_binding_binds(&n.role, &[&n.group]);
    let rules = cluster_role(&n.role).unwrap().rules.unwrap();
    assert!(rules.iter().all(|r| {
        !r.resources
            .as_ref()
            .unwrap()
            .iter()
            .any(|x| x == "*" || x == "secrets" && r.api_groups.as_ref().unwrap()[0].is_empty())
    }));
    assert!(
        rules.iter().any(|r| r
            .resources
            .as_ref()
            .unwrap()
            .iter()
            .any(|x| x == "pods/log")),
        "subresources are granted too"
    );
    revoke(&n, &[]);
}

/// chronom-cli turned role/path/name into the username `path` and mapped an ARN that never matches.
#[test]
fn role_path_is_stripped_and_the_username_is_the_role_name() {
    let _g = lock();
    let id = unique_name("path");
    let n = Names {
        arn: format!("arn:aws:iam::111122223333:role/team/ops/{id}"),
        group: format!("{id}-group"),
        role: format!("{id}-role"),
    };
    let out = grant(&n, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["awsAuth"]["entry"]["rolearn"], arn(&id));
    assert_eq!(r["awsAuth"]["entry"]["username"], id.as_str());
    assert_eq!(r["roleArn"]["pathStripped"], "/team/ops/");
    let text_out = grant(&n, &[]);
    assert!(
        String::from_utf8_lossy(&text_out.stdout).contains("path /team/ops/ was stripped"),
        "{}",
        text(&text_out)
    );
    assert!(!map_roles().contains("team/ops"));
    revoke(&n, &[]);
}

/// eksctl appends a duplicate unless told not to; we never do.
#[test]
fn regrant_never_appends_a_duplicate() {
    let _g = lock();
    let n = names("dup");
    for _ in 0..3 {
        assert_eq!(grant(&n, &[]).status.code(), Some(0));
    }
    assert_eq!(map_roles().matches(&n.arn).count(), 1);
    // Case-insensitive, path-less match, as the authenticator does.
    let shouting = Names {
        arn: n
            .arn
            .to_uppercase()
            .replace("ARN:AWS:IAM", "arn:aws:iam")
            .replace(":ROLE/", ":role/"),
        group: n.group.clone(),
        role: n.role.clone(),
    };
    let username = n.arn.rsplit('/').next().unwrap().to_string();
    let out = grant(&shouting, &["--username", &username, "-o", "json"]);
    assert_eq!(
        json(&out)["awsAuth"]["action"],
        "unchanged",
        "{}",
        text(&out)
    );
    revoke(&n, &[]);
}

/// keikoproj/aws-auth rewrites all of `data`, dropping mapAccounts, comments and unknown fields.
#[test]
fn other_keys_comments_and_unknown_fields_survive() {
    let _g = lock();
    let original = get_aws_auth();
    let roles = format!(
        "# nodes\n{NODE_ENTRY}- rolearn: arn:aws:iam::111122223333:role/sso\n  username: sso:{{{{SessionName}}}}\n  userid: AROAEXAMPLE\n  groups: [sso]\n"
    );
    let full = BTreeMap::from([
        ("mapRoles".to_string(), roles.clone()),
        ("mapUsers".to_string(), "# users\n- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [viewers]\n".to_string()),
        ("mapAccounts".to_string(), "- \"444455556666\"\n".to_string()),
        ("extra".to_string(), "kept: true\n".to_string()),
    ]);
    set_aws_auth(Some(full.clone()));
    let n = names("keep");
    assert_eq!(grant(&n, &[]).status.code(), Some(0));
    let during = get_aws_auth().unwrap().data.unwrap();
    for key in ["mapUsers", "mapAccounts", "extra"] {
        assert_eq!(during[key], full[key], "{key} must be untouched");
    }
    assert!(
        during["mapRoles"].starts_with(&roles),
        "existing mapRoles bytes must be kept as a prefix:\n{}",
        during["mapRoles"]
    );
    assert_eq!(revoke(&n, &[]).status.code(), Some(0));
    assert_eq!(get_aws_auth().unwrap().data.unwrap(), full);
    set_aws_auth(original.and_then(|c| c.data));
}

#[test]
fn revoke_is_idempotent_and_keeps_rbac_still_in_use() {
    let _g = lock();
    let a = names("keepa");
    let b = Names {
        arn: arn(&unique_name("keepb")),
        group: a.group.clone(),
        role: a.role.clone(),
    };
    assert_eq!(grant(&a, &[]).status.code(), Some(0));
    assert_eq!(grant(&b, &[]).status.code(), Some(0));
    let out = revoke(&a, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["awsAuth"]["removed"], 1);
    assert_eq!(r["clusterRole"]["action"], "kept", "b still maps the group");
    assert!(cluster_role(&a.role).is_some());

    let again = revoke(&a, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to revoke"),
        "{}",
        text(&again)
    );

    let out = revoke(&b, &["--keep-rbac", "-o", "json"]);
    assert_eq!(json(&out)["clusterRoleBinding"]["action"], "kept");
    assert!(cluster_role_binding(&b.role).is_some());
    let out = revoke(&b, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["clusterRole"]["action"], "deleted");
    assert_eq!(r["clusterRoleBinding"]["action"], "deleted");
    assert_eq!(r["verification"][0]["allowed"], false);
    assert!(cluster_role(&b.role).is_none());
}

#[test]
fn malformed_map_roles_is_refused_with_line_and_column() {
    let _g = lock();
    let original = get_aws_auth();
    let broken = format!("{NODE_ENTRY}- rolearn: [unclosed\n  groups: x\n");
    set_aws_auth(data(&broken));
    let rv = get_aws_auth().unwrap().metadata.resource_version;
    let n = names("malformed");
    let out = grant(&n, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line ") && err.contains("column "), "{err}");
    assert_eq!(get_aws_auth().unwrap().metadata.resource_version, rv);
    assert!(cluster_role(&n.role).is_none());
    set_aws_auth(original.and_then(|c| c.data));
}

#[test]
fn hostile_usernames_and_groups_stay_one_scalar() {
    let _g = lock();
    let original = get_aws_auth();
    set_aws_auth(data(NODE_ENTRY));
    let payloads = [
        "evil\n- rolearn: arn:aws:iam::111122223333:role/x\n  groups: [system:masters]",
        "a: b",
        "x # comment",
        "\"quoted\"",
        "{{SessionName}}: [system:masters]",
        "- system:masters",
    ];
    let mut written = 0;
    let mut refused = Vec::new();
    for p in payloads {
        let n = names("hostile");
        let flag = format!("--username={p}");
        let out = grant(&n, &[&flag, "-o", "json"]);
        if out.status.code() == Some(2) {
            // Refusing a username outright is also safe; it must say why.
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("--username"),
                "{}",
                text(&out)
            );
            refused.push(p);
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{p:?}: {}", text(&out));
        let entries = chronom_core::awsauth::parse_map_roles(&map_roles()).expect("still parses");
        let mine: Vec<_> = entries
            .iter()
            .filter(|e| e.rolearn.contains(&n.arn))
            .collect();
        assert_eq!(mine.len(), 1, "{p:?}");
        assert_eq!(mine[0].username.as_deref(), Some(p), "{p:?}");
        assert_eq!(mine[0].groups, vec![n.group.clone()], "{p:?}");
        assert!(
            !entries
                .iter()
                .any(|e| e.groups.iter().any(|g| g == "system:masters")),
            "{p:?} smuggled a group"
        );
        assert_eq!(entries.len(), 2, "{p:?} added an entry:\n{}", map_roles());
        let out = revoke(&n, &[&flag]);
        assert_eq!(out.status.code(), Some(0), "{p:?}: {}", text(&out));
        assert_eq!(map_roles(), NODE_ENTRY, "{p:?}");
        written += 1;
    }
    // The session name completes whatever precedes the first colon (here: nothing), so
    // `{{SessionName}}: ...` could start with system: and is refused; every other payload
    // must be written as one scalar.
    assert_eq!(
        refused,
        ["{{SessionName}}: [system:masters]"],
        "{written} of {} were written",
        payloads.len()
    );
    let n = names("masters");
    let out = admin(&[
        "grant",
        "--role-arn",
        &n.arn,
        "--group",
        "system:masters",
        "--role-name",
        &n.role,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-privileged-group"));
    assert_eq!(map_roles(), NODE_ENTRY);
    set_aws_auth(original.and_then(|c| c.data));
}

#[test]
fn concurrent_grants_keep_every_entry() {
    let _g = lock();
    let original = get_aws_auth();
    set_aws_auth(data(NODE_ENTRY));
    let all: Vec<Names> = (0..8).map(|_| names("par")).collect();
    let handles: Vec<_> = all
        .iter()
        .map(|n| {
            let (a, g, r) = (n.arn.clone(), n.group.clone(), n.role.clone());
            std::thread::spawn(move || {
                admin(&["grant", "--role-arn", &a, "--group", &g, "--role-name", &r])
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let now = map_roles();
    assert!(now.starts_with(NODE_ENTRY));
    let entries = chronom_core::awsauth::parse_map_roles(&now).unwrap();
    assert_eq!(entries.len(), 9, "{now}");
    for n in &all {
        assert_eq!(
            now.matches(&n.arn).count(),
            1,
            "{} missing or doubled:\n{now}",
            n.arn
        );
        revoke(n, &[]);
    }
    assert_eq!(map_roles(), NODE_ENTRY);
    set_aws_auth(original.and_then(|c| c.data));
}

/// If aws-auth cannot be written after the RBAC objects were created, they are deleted again.
#[test]
fn failed_aws_auth_write_rolls_back_rbac() {
    let _g = lock();
    let original = get_aws_auth();
    set_aws_auth(data(NODE_ENTRY));
    let n = names("rollback");
    // A real admission policy on the real server refuses the write; RBAC allows it, so preflight passes.
    let policy = unique_name("deny-aws-auth");
    let expression = format!(
        "object.metadata.name != 'aws-auth' || !object.data.mapRoles.contains('{}')",
        n.arn
    );
    let probe = || {
        with_client(async |c| {
            let api = Api::<ConfigMap>::namespaced(c, "kube-system");
            let mut cm = api.get("aws-auth").await.unwrap();
            cm.data
                .as_mut()
                .unwrap()
                .insert("mapRoles".into(), format!("{NODE_ENTRY}# {}\n", n.arn));
            api.replace(
                "aws-auth",
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &cm,
            )
            .await
            .is_err()
        })
    };
    deny_policy_on(
        control_plane(),
        &policy,
        "UPDATE, CREATE",
        "configmaps",
        "",
        &expression,
        probe,
    );
    let out = grant(&n, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["clusterRole"]["action"], "rolledBack", "{}", text(&out));
    assert_eq!(r["clusterRoleBinding"]["action"], "rolledBack");
    assert_eq!(r["awsAuth"]["action"], "failed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("test policy refuses"),
        "{}",
        text(&out)
    );
    assert!(cluster_role(&n.role).is_none() && cluster_role_binding(&n.role).is_none());
    assert_eq!(map_roles(), NODE_ENTRY);
    remove_policy_on(control_plane(), &policy);
    set_aws_auth(original.and_then(|c| c.data));
}

#[test]
fn bad_arns_are_usage_errors_before_connecting() {
    for bad in [
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::11112222333:role/x",
        "arn:aws:iam::1111222233334:role/x",
        "arn:aws-xx:iam::111122223333:role/x",
        "arn:aws:iam::111122223333:role/x\n",
        " arn:aws:iam::111122223333:role/x",
        "arn:aws:iam::111122223333:rоle/x",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-chronom"))
            .args(["--kubeconfig", "/nonexistent", "grant", "--role-arn", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--role-arn") && err.contains("next:"),
            "{bad:?}: {err}"
        );
    }
}

/// Issue 12 item 2: `grant --role-name cluster-admin` rewrote the built-in role to read-only and
/// rebound its binding away from system:masters, exit 0. Now: refused, both byte-identical.
#[test]
fn grant_refuses_cluster_admin_and_leaves_it_byte_identical() {
    let _g = lock();
    let role_before = raw("clusterrole", "cluster-admin");
    let binding_before = raw("clusterrolebinding", "cluster-admin");
    let aws_auth_before = aws_auth_version();
    let n = names("takeover");
    for extra in [&[][..], &["--exclude-secrets"], &["--dry-run"]] {
        let mut args = vec![
            "grant",
            "--role-arn",
            &n.arn,
            "--group",
            &n.group,
            "--role-name",
            "cluster-admin",
        ];
        args.extend_from_slice(extra);
        let out = admin(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for want in [
            "clusterrole cluster-admin",
            "not managed by kubectl-chronom",
            "Group/system:masters (through ClusterRoleBinding/cluster-admin)",
            "next:",
        ] {
            assert!(err.contains(want), "{extra:?}: {want:?} missing: {err}");
        }
    }
    assert_eq!(raw("clusterrole", "cluster-admin"), role_before);
    assert_eq!(raw("clusterrolebinding", "cluster-admin"), binding_before);
    assert_eq!(aws_auth_version(), aws_auth_before);
    assert!(!map_roles().contains(&n.arn));
}

/// A team's own ClusterRole (or binding) of the requested name, without our label, is refused
/// and named with what binds it; nothing is written.
#[test]
fn a_teams_unlabelled_role_or_binding_is_refused() {
    let _g = lock();
    let n = names("team");
    apply(&format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {role}, labels: {{team: payments}}}}
rules:
- {{apiGroups: [""], resources: [configmaps], verbs: [get, update]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {role}-devs}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: payments-devs}}
"#,
        role = n.role
    ));
    let role_before = raw("clusterrole", &n.role);
    let aws_auth_before = aws_auth_version();
    let out = grant(&n, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("clusterrole {}", n.role))
            && err.contains(&format!(
                "Group/payments-devs (through ClusterRoleBinding/{}-devs)",
                n.role
            )),
        "{err}"
    );
    assert_eq!(raw("clusterrole", &n.role), role_before);
    assert!(cluster_role_binding(&n.role).is_none());
    assert_eq!(aws_auth_version(), aws_auth_before);

    // An unlabelled binding of the requested name (its role absent) is refused as well.
    let m = names("teambinding");
    apply(&format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {role}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: payments-lead}}
"#,
        role = m.role
    ));
    let binding_before = raw("clusterrolebinding", &m.role);
    let out = grant(&m, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("clusterrolebinding {}", m.role))
            && err.contains("User/payments-lead"),
        "{err}"
    );
    assert_eq!(raw("clusterrolebinding", &m.role), binding_before);
    assert!(cluster_role(&m.role).is_none());
    assert_eq!(aws_auth_version(), aws_auth_before);
    delete(&format!("clusterrolebinding/{}-devs", n.role));
    delete(&format!("clusterrole/{}", n.role));
    delete(&format!("clusterrolebinding/{}", m.role));
}

/// Issue 12 item 4: `--username bob`, where User bob can exec in a namespace, verified "ok"
/// cluster-wide and exited 0. Now refused before any write, naming the RoleBinding.
#[test]
fn a_username_that_can_exec_in_a_namespace_is_refused_before_any_write() {
    let _g = lock();
    let ns = unique_name("team-x");
    let bob = unique_name("bob");
    apply(&format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: debugger, namespace: {ns}}}
rules:
- {{apiGroups: [""], resources: [pods], verbs: [get, list]}}
- {{apiGroups: [""], resources: [pods/exec], verbs: [create]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: bob-debug, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: debugger}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {bob}}}
"#
    ));
    assert!(
        server_allows(&bob, "nobody", "create", "pods/exec", Some(&ns)),
        "setup: {bob} can exec in {ns}"
    );
    let aws_auth_before = aws_auth_version();
    let n = names("bob");
    let out = grant(&n, &["--username", &bob]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        format!("RoleBinding/{ns}/bob-debug"),
        format!("User/{bob}"),
        "create pods/exec".to_string(),
        format!("in namespace {ns}"),
        "nothing was changed".to_string(),
    ] {
        assert!(err.contains(&want), "{want:?} missing: {err}");
    }
    assert_nothing_written(&n, &aws_auth_before);
    delete(&format!("namespace/{ns}"));
}

/// Issue 12 item 4: a reserved username (eks:addon-manager is cluster-admin on EKS) and a group
/// bound to cluster-admin showed WRONG and exited 1 but left the mapping in place. Now both
/// are refused before any write and nothing is left behind.
#[test]
fn a_reserved_username_or_a_group_bound_to_cluster_admin_is_refused_before_any_write() {
    let _g = lock();
    let aws_auth_before = aws_auth_version();
    let n = names("addon");
    let out = grant(&n, &["--username", "eks:addon-manager"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--username") && err.contains("eks:"), "{err}");
    assert_nothing_written(&n, &aws_auth_before);

    let admins = names("admins");
    apply(&format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {g}-admin}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {g}}}
"#,
        g = admins.group
    ));
    let out = grant(&admins, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("ClusterRoleBinding/{}-admin", admins.group))
            && err.contains("ClusterRole/cluster-admin")
            && err.contains(&format!("Group/{}", admins.group)),
        "{err}"
    );
    assert_nothing_written(&admins, &aws_auth_before);
    delete(&format!("clusterrolebinding/{}-admin", admins.group));
}

/// Issue 12 item 4: a bare `{{SessionName}}` username was accepted for aws-auth: whoever assumes
/// the role picks the session name and so the Kubernetes user. Refused, as on access entries.
#[test]
fn a_session_template_username_is_refused_for_aws_auth() {
    let _g = lock();
    let aws_auth_before = aws_auth_version();
    for username in ["{{SessionName}}", "{{SessionNameRaw}}", "{{SessionName}}:x"] {
        let n = names("session");
        let out = grant(&n, &["--username", username, "--via", "aws-auth"]);
        assert_eq!(out.status.code(), Some(2), "{username}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--username") && err.contains("next:"), "{err}");
        assert_nothing_written(&n, &aws_auth_before);
    }
}

/// Issue 12 item 5: a grant with another --group rebound the shared binding and took the first
/// group's access away. Now the binding accumulates subjects: both keep access.
#[test]
fn two_grants_with_different_groups_on_one_role_both_keep_access() {
    let _g = lock();
    let first = names("sharea");
    let second = Names {
        arn: arn(&unique_name("shareb")),
        group: format!("{}-other-readers", unique_name("g")),
        role: first.role.clone(),
    };
    let user = |n: &Names| n.arn.rsplit('/').next().unwrap().to_string();
    let out = grant(&first, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = grant(&second, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["clusterRoleBinding"]["action"], "updated");
    assert_binding_binds(&first.role, &[&first.group, &second.group]);
    for n in [&first, &second] {
        assert!(
            server_allows(&user(n), &n.group, "list", "pods", None),
            "{} lost its access",
            n.group
        );
    }
    // A re-run of the first grant does not drop the second group either.
    assert_eq!(grant(&first, &[]).status.code(), Some(0));
    assert_binding_binds(&first.role, &[&first.group, &second.group]);
    assert!(server_allows(
        &user(&second),
        &second.group,
        "list",
        "pods",
        None
    ));
    revoke(&second, &[]);
    revoke(&first, &[]);
    delete(&format!("clusterrolebinding/{}", first.role));
    delete(&format!("clusterrole/{}", first.role));
}

/// Decision 7 (docs/decisions.md): verification asks its denials again in every namespace where the username or
/// group has a RoleBinding (a cluster-wide question never sees a RoleBinding).
#[test]
fn verification_asks_the_denials_where_the_group_has_role_bindings() {
    let _g = lock();
    let ns = unique_name("readers-ns");
    let n = names("nsverify");
    apply(&format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: readers-view, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {g}}}
"#,
        g = n.group
    ));
    let out = grant(&n, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    let in_ns: Vec<&serde_json::Value> = r["verification"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["namespace"] == ns.as_str())
        .collect();
    for (verb, resource) in [("create", "pods"), ("update", "configmaps")] {
        assert!(
            in_ns
                .iter()
                .any(|c| c["verb"] == verb && c["resource"] == resource),
            "no {verb} {resource} row in {ns}: {in_ns:?}"
        );
    }
    let user = n.arn.rsplit('/').next().unwrap();
    rows_agree_with_the_server(&r, user, &n.group);
    revoke(&n, &[]);
    delete(&format!("namespace/{ns}"));
}

/// Decision 7 (docs/decisions.md): when verification fails after the writes, grant undoes them (the aws-auth entry
/// first, then the RBAC objects it created), says so in the report, and exits 1. A real
/// MutatingAdmissionPolicy adds `create pods` to the role as the server stores it, after every
/// check grant can make before writing, so the authorizer contradicts the grant.
#[test]
fn a_grant_the_authorizer_contradicts_is_rolled_back() {
    let _g = lock();
    let original = get_aws_auth();
    set_aws_auth(data(NODE_ENTRY));
    let n = names("widened");
    let policy = unique_name("widen-role");
    apply(&format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {{name: {policy}}}
spec:
  failurePolicy: Fail
  reinvocationPolicy: Never
  matchConstraints:
    resourceRules:
    - apiGroups: [rbac.authorization.k8s.io]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [clusterroles]
  matchConditions:
  - name: this-role
    expression: "object.metadata.name == '{role}'"
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >-
        [JSONPatch{{op: "add", path: "/rules/-", value: Object.rules{{apiGroups: [""], resources: ["pods"], verbs: ["create"]}}}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {{name: {policy}}}
spec:
  policyName: {policy}
"#,
        role = n.role
    ));
    // Wait until the policy is in force: a server-side dry run of the role comes back widened.
    let widened = || {
        let role = n.role.clone();
        with_client(async move |c| {
            let mut cr = ClusterRole::default();
            cr.metadata.name = Some(role);
            cr.rules = Some(vec![k8s_openapi::api::rbac::v1::PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".into()]),
                verbs: vec!["get".into()],
                ..Default::default()
            }]);
            let params = PostParams {
                dry_run: true,
                ..Default::default()
            };
            let back = Api::<ClusterRole>::all(c)
                .create(&params, &cr)
                .await
                .unwrap();
            back.rules.unwrap_or_default().len() == 2
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !widened() {
        assert!(
            std::time::Instant::now() < deadline,
            "policy {policy} never took effect"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = grant(&n, &["-o", "json"]);
    delete(&format!("mutatingadmissionpolicybinding/{policy}"));
    delete(&format!("mutatingadmissionpolicy/{policy}"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&out);
    let wrong: Vec<&serde_json::Value> = r["verification"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["allowed"] != c["expected"])
        .collect();
    assert!(
        wrong
            .iter()
            .any(|c| c["verb"] == "create" && c["resource"] == "pods"),
        "{}",
        text(&out)
    );
    assert_eq!(r["awsAuth"]["action"], "rolledBack", "{}", text(&out));
    assert_eq!(r["clusterRole"]["action"], "rolledBack");
    assert_eq!(r["clusterRoleBinding"]["action"], "rolledBack");
    assert_eq!(r["ok"], false);
    assert!(
        r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|note| note.as_str().unwrap().contains("rolled back")),
        "{}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rolled back"), "{err}");
    assert_eq!(map_roles(), NODE_ENTRY, "the entry must be gone again");
    assert!(cluster_role(&n.role).is_none() && cluster_role_binding(&n.role).is_none());
    let user = n.arn.rsplit('/').next().unwrap();
    assert!(!server_allows(user, &n.group, "list", "pods", None));
    set_aws_auth(original.and_then(|c| c.data));
}
