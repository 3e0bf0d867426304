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
    assert_eq!(checks.len(), 6, "{checks:?}");
    for c in checks {
        assert_eq!(c["allowed"], c["expected"], "{c}");
        for key in ["verb", "resource", "namespace", "allowed", "expected"] {
            assert!(c.get(key).is_some(), "verification row lacks {key}: {c}");
        }
    }
    assert!(
        map_roles().starts_with(NODE_ENTRY),
        "the node entry must stay first and intact:\n{}",
        map_roles()
    );

    let role = cluster_role(&n.role).expect("role exists");
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].api_groups.as_deref().unwrap(), ["*"]);
    assert_eq!(rules[0].resources.as_deref().unwrap(), ["*"]);
    assert_eq!(rules[0].verbs, ["get", "list", "watch"]);
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
    let out = grant(&n, &["--exclude-secrets", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    let secrets = r["verification"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["resource"] == "secrets")
        .unwrap()
        .clone();
    assert_eq!(secrets["allowed"], false);
    assert_eq!(secrets["expected"], false);
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
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{p:?}: {}", text(&out));
        let entries = chronom::awsauth::parse_map_roles(&map_roles()).expect("still parses");
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
        revoke(&n, &[]);
        assert_eq!(map_roles(), NODE_ENTRY, "{p:?}");
        written += 1;
    }
    assert!(
        written >= payloads.len() - 1,
        "only a newline payload may be refused; {written} of {} were written",
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
    let entries = chronom::awsauth::parse_map_roles(&now).unwrap();
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
