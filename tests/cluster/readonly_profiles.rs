//! The role profiles against the real control plane (scripts/control-plane): what the API
//! server's own authorizer answers for the granted group, asked with `kubectl auth can-i --as
//! --as-group` (the kubectl built with the control plane), never the plugin's own table.
//!
//! Every test here holds `SERIAL`: they install CRDs, which changes what discovery reports and
//! so what a re-grant writes, and they all write aws-auth. The dedicated-cluster test and the
//! request count do neither and run alongside.

use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::support::cluster::*;
use crate::support::names::{Names, names};
use crate::support::{ControlPlane, unique_name};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

static SERIAL: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn admin(args: &[&str]) -> Output {
    chronom(control_plane(), "chronom-admin", args)
}

fn grant(n: &Names, extra: &[&str]) -> Output {
    admin(&n.args("grant", extra))
}

fn revoke(n: &Names) {
    let out = admin(&n.args("revoke", &[]));
    assert_eq!(out.status.code(), Some(0), "cleanup revoke: {}", text(&out));
}

fn granted_ok(n: &Names, extra: &[&str]) -> serde_json::Value {
    let mut args = extra.to_vec();
    args.extend(["-o", "json"]);
    let out = grant(n, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    json(&out)
}

/// One authorization question: `verb resource[.group]` with an optional subresource, cluster-wide.
struct Ask<'a> {
    verb: &'a str,
    resource: &'a str,
    sub: Option<&'a str>,
}

fn ask<'a>(verb: &'a str, resource: &'a str) -> Ask<'a> {
    Ask {
        verb,
        resource,
        sub: None,
    }
}

fn ask_sub<'a>(verb: &'a str, resource: &'a str, sub: &'a str) -> Ask<'a> {
    Ask {
        verb,
        resource,
        sub: Some(sub),
    }
}

impl Ask<'_> {
    fn describe(&self) -> String {
        match self.sub {
            Some(s) => format!("{} {}/{s}", self.verb, self.resource),
            None => format!("{} {}", self.verb, self.resource),
        }
    }
}

/// `kubectl auth can-i VERB RESOURCE [--subresource S] -A --as USER --as-group GROUP` as admin:
/// the API server's authorizer, through impersonation (which adds system:authenticated, as a
/// real token would have).
fn can_i_on(cp: &ControlPlane, user: &str, group: &str, q: &Ask) -> bool {
    let mut cmd = cp.kubectl("chronom-admin");
    cmd.args(["auth", "can-i", q.verb, q.resource, "-A"])
        .args(["--as", user, "--as-group", group]);
    if let Some(s) = q.sub {
        cmd.arg(format!("--subresource={s}"));
    }
    let out = cmd.output().expect("run kubectl auth can-i");
    let stdout = String::from_utf8_lossy(&out.stdout);
    match (stdout.split_whitespace().next(), out.status.code()) {
        (Some("yes"), Some(0)) => true,
        (Some("no"), Some(1)) => false,
        _ => panic!("kubectl auth can-i {}: {}", q.describe(), text(&out)),
    }
}

fn can_i(n: &Names, q: &Ask) -> bool {
    can_i_on(control_plane(), n.user(), &n.group, q)
}

/// The authorizer reads informer caches: wait until the group holds `q` (a read the grant gives),
/// so that the denials asked afterwards are asked of caches that already hold the grant.
fn wait_until_allowed_on(cp: &ControlPlane, user: &str, group: &str, q: &Ask) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !can_i_on(cp, user, group, q) {
        assert!(
            Instant::now() < deadline,
            "{group} never got {} (30 s)",
            q.describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_until_allowed(n: &Names, q: &Ask) {
    wait_until_allowed_on(control_plane(), n.user(), &n.group, q);
}

/// What must be denied to every read-only profile: each one a request that runs code, opens a
/// connection into a container, or makes the API server an HTTP client (docs/read-only-role.md).
const NOT_READS: [(&str, &str, &str); 7] = [
    ("get", "nodes", "proxy"),
    ("get", "pods", "exec"),
    ("create", "pods", "exec"),
    ("get", "pods", "attach"),
    ("get", "pods", "portforward"),
    ("get", "pods", "proxy"),
    ("get", "services", "proxy"),
];

/// A namespaced CRD `widgets.<group>` (with a status subresource), waited for until aggregated
/// discovery serves it, which is what grant reads. Returns its `resource.group` name.
fn install_crd(cp: &ControlPlane, group: &str) -> String {
    let name = format!("widgets.{group}");
    kubectl_apply(
        cp,
        &format!(
            r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {name}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"#
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let served = with_client(cp, async |c| {
            let d = kube::Discovery::new(c).run_aggregated().await.unwrap();
            d.get(group).is_some_and(|g| {
                g.versioned_resources("v1")
                    .iter()
                    .any(|(r, _)| r.plural == "widgets")
            })
        });
        if served {
            return name;
        }
        assert!(
            Instant::now() < deadline,
            "CRD {name} never appeared in aggregated discovery"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn crd_group(prefix: &str) -> String {
    format!("{}.chronom.test", unique_name(prefix))
}

fn role_rules(name: &str) -> Vec<PolicyRule> {
    cluster_role(control_plane(), name)
        .unwrap_or_else(|| panic!("clusterrole {name} exists"))
        .rules
        .unwrap_or_default()
}

fn profile_annotation(role: &ClusterRole) -> Option<String> {
    role.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("chronom.io/profile"))
        .cloned()
}

fn names_resource(rules: &[PolicyRule], group: &str, resource: &str) -> bool {
    rules.iter().any(|r| {
        r.api_groups
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|g| g == group)
            && r.resources
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|x| x == resource)
    })
}

fn no_wildcards(rules: &[PolicyRule]) {
    for r in rules {
        for v in r
            .api_groups
            .iter()
            .chain(r.resources.iter())
            .flatten()
            .chain(r.verbs.iter())
        {
            assert!(!v.contains('*'), "wildcard in a read-only rule: {r:?}");
        }
        assert_eq!(r.verbs, ["get", "list", "watch"], "{r:?}");
    }
}

/// Issue 12 item 1: the default grant must not hand out code execution or secrets, and must
/// still read core, apps and custom resources. Asked of the authorizer, not of our JSON.
#[test]
fn default_grant_reads_core_apps_and_crds_and_nothing_that_runs_code() {
    let _g = lock();
    let cp = control_plane();
    let group = crd_group("dflt");
    let crd = install_crd(cp, &group);
    let n = names("dflt");
    let r = granted_ok(&n, &[]);
    assert_eq!(r["clusterRole"]["profile"], "read-only", "{r}");

    wait_until_allowed(&n, &ask("list", "pods"));
    assert!(can_i(&n, &ask("get", "deployments.apps")));
    assert!(can_i(&n, &ask("list", &crd)), "list {crd}");
    for (verb, resource, sub) in NOT_READS {
        assert!(
            !can_i(&n, &ask_sub(verb, resource, sub)),
            "{verb} {resource}/{sub} must be denied"
        );
    }
    assert!(!can_i(&n, &ask("get", "secrets")));
    assert!(!can_i(&n, &ask("list", "secrets")));
    assert!(!can_i(&n, &ask_sub("create", "serviceaccounts", "token")));

    let role = cluster_role(control_plane(), &n.role).unwrap();
    assert_eq!(profile_annotation(&role).as_deref(), Some("read-only"));
    no_wildcards(role.rules.as_deref().unwrap());
    // The plugin's own verification asked the same and listed the CRD.
    let checks = r["verification"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["allowed"] == c["expected"]),
        "{checks:?}"
    );
    assert!(
        checks.iter().any(|c| c["verb"] == "list"
            && c["allowed"] == true
            && c["resource"].as_str().unwrap().ends_with(".chronom.test")),
        "verification lists a custom resource: {checks:?}"
    );
    revoke(&n);
    kubectl_delete(cp, &format!("crd/{crd}"));
}

/// Issue 12 "done when": `audit --fail-on high` exits 0 right after a default grant on
/// `scripts/control-plane up --seed eks` (a cluster of its own: nothing else granted there).
#[test]
fn audit_fail_on_high_passes_right_after_a_default_grant_on_the_eks_seed() {
    let cp = ControlPlane::up(&["--seed", "eks"]).expect("dedicated control plane");
    let out = chronom(
        &cp,
        "chronom-admin",
        &[
            "grant",
            "--role-arn",
            "arn:aws:iam::111122223333:role/chronom-scanner",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The grant is in the authorizer's caches before the audit asks it anything.
    wait_until_allowed_on(
        &cp,
        "chronom-scanner",
        "chronomReadOnlyGroup",
        &ask("list", "pods"),
    );
    let audit = chronom(&cp, "chronom-admin", &["audit", "--fail-on", "high"]);
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit));
    let report = json(&chronom(&cp, "chronom-admin", &["audit", "-o", "json"]));
    let ours: Vec<&serde_json::Value> = report["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["principal"]
                .as_str()
                .is_some_and(|p| p.ends_with("role/chronom-scanner"))
        })
        .collect();
    assert_eq!(ours.len(), 1, "the grant is in the audit: {report}");
    assert_eq!(ours[0]["access"], "read-all-but-secrets", "{}", ours[0]);
    cp.down().expect("stop the dedicated control plane");
}

/// Issue 12 "handle growth": a CRD installed after the grant is reported by the audit (CHR028),
/// a re-run of grant adds it to the role, and a further re-run writes nothing.
#[test]
fn a_crd_installed_after_the_grant_is_reported_then_added_by_a_rerun_that_then_writes_nothing() {
    let _g = lock();
    let cp = control_plane();
    let n = names("grow");
    let first = granted_ok(&n, &[]);
    assert_eq!(first["clusterRole"]["action"], "created");

    let group = crd_group("grow");
    let crd = install_crd(cp, &group);
    assert!(!names_resource(&role_rules(&n.role), &group, "widgets"));

    let audit = json(&admin(&["audit", "-o", "json"]));
    let subject = format!("ClusterRole/{}", n.role);
    let gap: Vec<&serde_json::Value> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "CHR028" && f["subject"] == subject.as_str())
        .collect();
    assert_eq!(gap.len(), 1, "CHR028 for {subject}: {}", audit["findings"]);
    assert_eq!(gap[0]["severity"], "low");
    assert_eq!(gap[0]["name"], "chronom-role-incomplete");
    let evidence = gap[0]["evidence"].as_str().unwrap();
    assert!(
        evidence.contains(&crd) && evidence.contains(&format!("widgets.{group}/status")),
        "{evidence}"
    );

    let second = granted_ok(&n, &[]);
    assert_eq!(second["clusterRole"]["action"], "updated", "{second}");
    let rules = role_rules(&n.role);
    assert!(names_resource(&rules, &group, "widgets"), "{rules:?}");
    assert!(
        names_resource(&rules, &group, "widgets/status"),
        "{rules:?}"
    );
    no_wildcards(&rules);
    wait_until_allowed(&n, &ask("list", &crd));

    let version = |name: &str| {
        cluster_role(control_plane(), name)
            .unwrap()
            .metadata
            .resource_version
    };
    let before = version(&n.role);
    let binding_before = cluster_role_binding(control_plane(), &n.role)
        .unwrap()
        .metadata
        .resource_version;
    let third = granted_ok(&n, &[]);
    assert_eq!(third["clusterRole"]["action"], "unchanged", "{third}");
    assert_eq!(
        third["clusterRoleBinding"]["action"], "unchanged",
        "{third}"
    );
    assert_eq!(
        version(&n.role),
        before,
        "a re-run with nothing new wrote the role"
    );
    assert_eq!(
        cluster_role_binding(control_plane(), &n.role)
            .unwrap()
            .metadata
            .resource_version,
        binding_before
    );

    let audit = json(&admin(&["audit", "-o", "json"]));
    assert!(
        !audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "CHR028" && f["subject"] == subject.as_str()),
        "CHR028 stays after the re-run: {}",
        audit["findings"]
    );
    revoke(&n);
    kubectl_delete(cp, &format!("crd/{crd}"));
}

/// `--wildcard-role` writes the seed's exact role, says on stderr what that grants, and its
/// verification expects (and gets) the dangerous reads.
#[test]
fn wildcard_role_is_exactly_star_star_read_and_warns_what_it_grants() {
    let _g = lock();
    let n = names("wild");
    let out = grant(&n, &["--wildcard-role", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning:"), "{stderr}");
    for named in [
        "nodes/proxy",
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "pods/proxy",
        "services/proxy",
        "Secret",
    ] {
        assert!(
            stderr.contains(named),
            "the warning names {named}: {stderr}"
        );
    }
    let r = json(&out);
    assert_eq!(r["clusterRole"]["profile"], "wildcard");
    assert!(
        r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("nodes/proxy")),
        "the report carries the warning: {}",
        r["notes"]
    );
    let role = cluster_role(control_plane(), &n.role).unwrap();
    assert_eq!(profile_annotation(&role).as_deref(), Some("wildcard"));
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].api_groups.as_deref().unwrap(), ["*"]);
    assert_eq!(rules[0].resources.as_deref().unwrap(), ["*"]);
    assert_eq!(rules[0].verbs, ["get", "list", "watch"]);
    assert!(rules[0].resource_names.is_none() && rules[0].non_resource_urls.is_none());

    let checks = r["verification"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["allowed"] == c["expected"]),
        "{checks:?}"
    );
    wait_until_allowed(&n, &ask("list", "pods"));
    assert!(can_i(&n, &ask_sub("get", "nodes", "proxy")));
    assert!(can_i(&n, &ask("get", "secrets")));
    assert!(!can_i(&n, &ask_sub("create", "pods", "exec")));
    revoke(&n);
}

#[test]
fn include_secrets_allows_secrets_and_still_denies_what_runs_code() {
    let _g = lock();
    let n = names("withsec");
    let r = granted_ok(&n, &["--include-secrets"]);
    assert_eq!(r["clusterRole"]["profile"], "read-only-with-secrets");
    wait_until_allowed(&n, &ask("list", "pods"));
    assert!(can_i(&n, &ask("get", "secrets")));
    assert!(can_i(&n, &ask("list", "secrets")));
    for (verb, resource, sub) in NOT_READS {
        assert!(
            !can_i(&n, &ask_sub(verb, resource, sub)),
            "{verb} {resource}/{sub} must be denied"
        );
    }
    let role = cluster_role(control_plane(), &n.role).unwrap();
    assert_eq!(
        profile_annotation(&role).as_deref(),
        Some("read-only-with-secrets")
    );
    no_wildcards(role.rules.as_deref().unwrap());
    revoke(&n);
}

/// `--exclude-secrets` is in people's scripts: still accepted, and now the default profile.
#[test]
fn exclude_secrets_is_still_accepted_and_is_the_default() {
    let _g = lock();
    let flagged = names("exsec");
    let plain = names("plain");
    let a = granted_ok(&flagged, &["--exclude-secrets"]);
    let b = granted_ok(&plain, &[]);
    assert_eq!(a["clusterRole"]["profile"], "read-only");
    assert_eq!(b["clusterRole"]["profile"], "read-only");
    let (ra, rb) = (
        cluster_role(control_plane(), &flagged.role).unwrap(),
        cluster_role(control_plane(), &plain.role).unwrap(),
    );
    assert_eq!(ra.rules, rb.rules, "same rules with and without the flag");
    assert_eq!(profile_annotation(&ra), profile_annotation(&rb));
    wait_until_allowed(&flagged, &ask("list", "pods"));
    assert!(!can_i(&flagged, &ask("get", "secrets")));
    assert!(!can_i(&flagged, &ask_sub("get", "nodes", "proxy")));

    for conflicting in ["--include-secrets", "--wildcard-role"] {
        let out = grant(&flagged, &["--exclude-secrets", conflicting]);
        assert_eq!(out.status.code(), Some(2), "{conflicting}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
            "{}",
            text(&out)
        );
    }
    revoke(&flagged);
    revoke(&plain);
}

/// The evidence for not using label aggregation (docs/read-only-role.md). The built-in `view`
/// role has no rules of its own: kube-controller-manager's clusterrole-aggregation controller
/// sets them to the union of the rules of every ClusterRole its selector matches
/// (`rbac.authorization.k8s.io/aggregate-to-view: "true"`). This control plane runs no
/// controller manager, so the test reads that selector and computes the union from the live
/// objects, as the controller does: it covers pods but not a CRD installed without the label,
/// and a ClusterRole that anyone with `create clusterroles` adds with the label joins it.
#[test]
fn view_does_not_cover_an_unlabelled_crd_and_a_labelled_role_joins_view() {
    use k8s_openapi::api::rbac::v1::ClusterRole;
    use kube::api::{Api, ListParams};
    let _g = lock();
    let cp = control_plane();
    let group = crd_group("view");
    install_crd(cp, &group);
    const LABEL: &str = "rbac.authorization.k8s.io/aggregate-to-view";

    let view = cluster_role(control_plane(), "view").expect("the bootstrap view role");
    let selectors = view
        .aggregation_rule
        .expect("view is an aggregated role")
        .cluster_role_selectors
        .unwrap_or_default();
    assert_eq!(selectors.len(), 1, "{selectors:?}");
    assert_eq!(
        selectors[0].match_labels.as_ref().unwrap()[LABEL],
        "true",
        "{selectors:?}"
    );
    let selected = |cp: &ControlPlane| -> Vec<ClusterRole> {
        with_client(cp, async |c| {
            Api::<ClusterRole>::all(c)
                .list(&ListParams::default().labels(&format!("{LABEL}=true")))
                .await
                .unwrap()
                .items
        })
    };
    let reads = |roles: &[ClusterRole], g: &str, resource: &str| {
        roles
            .iter()
            .flat_map(|r| r.rules.clone().unwrap_or_default())
            .any(|rule| {
                let has = |v: &Option<Vec<String>>, x: &str| {
                    v.as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|y| y == x || y == "*")
                };
                has(&rule.api_groups, g)
                    && has(&rule.resources, resource)
                    && rule.verbs.iter().any(|v| v == "list" || v == "*")
            })
    };
    let before = selected(cp);
    assert!(reads(&before, "", "pods"), "view reads pods");
    assert!(reads(&before, "apps", "deployments"));
    assert!(
        !reads(&before, &group, "widgets"),
        "view would read a CRD without the aggregate-to-view label"
    );
    assert!(
        !reads(&before, "", "secrets"),
        "view leaves secrets out too"
    );

    let labelled = unique_name("aggregated");
    kubectl_apply(
        cp,
        &format!(
            r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {labelled}
  labels: {{{LABEL}: "true"}}
rules:
- {{apiGroups: ["{group}"], resources: [widgets], verbs: [get, list, watch]}}
"#
        ),
    );
    let after = selected(cp);
    assert!(
        reads(&after, &group, "widgets"),
        "a labelled ClusterRole joins view"
    );
    kubectl_delete(cp, &format!("clusterrole/{labelled}"));
    kubectl_delete(cp, &format!("crd/widgets.{group}"));
}

/// The global options, parsed like the CLI does, for an in-process connection.
#[derive(clap::Parser)]
struct Options {
    #[command(flatten)]
    global: chronom::cli::GlobalArgs,
}

/// Measured: the discovery grant and the audit use is aggregated discovery, 2 requests however
/// many groups the server has; the per-group walk it replaced is 2 plus one per group version.
/// And the verbs come back per subresource (`pods/exec` is create+get), which the profiles need.
#[test]
fn discovery_is_two_requests_and_carries_the_verbs_of_each_subresource() {
    let cp = control_plane();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kubeconfig = cp.kubeconfig.to_str().unwrap();
        let options = <Options as clap::Parser>::try_parse_from([
            "t",
            "--kubeconfig",
            kubeconfig,
            "--context",
            "chronom-admin",
        ])
        .unwrap();
        let mut conn = chronom::adapters::kube::connect(&options.global).await.unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let inner = conn.client.clone();
        let counter = count.clone();
        let counting = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let inner = inner.clone();
            async move { inner.send(req).await }
        });
        conn.client = kube::Client::new(counting, "default");
        // Warm the connection, so that neither timing below pays the TLS handshake.
        conn.client.apiserver_version().await.unwrap();
        count.store(0, Ordering::SeqCst);

        let t = Instant::now();
        let served = chronom::adapters::kube::discovery::served_resources(&conn, "test")
            .await
            .unwrap();
        let aggregated = (count.swap(0, Ordering::SeqCst), t.elapsed());
        // The reference walk lists the groups, then asks each for its resources: a CRD that
        // another test installs meanwhile can be listed before its group serves (404). Only
        // the reference is asked again; the plugin's own discovery above had to succeed once.
        let mut attempts = 0;
        let (walked, per_group) = loop {
            attempts += 1;
            count.store(0, Ordering::SeqCst);
            let t = Instant::now();
            match kube::Discovery::new(conn.client.clone()).run().await {
                Ok(walked) => break (walked, (count.swap(0, Ordering::SeqCst), t.elapsed())),
                Err(kube::Error::Api(s)) if s.code == 404 && attempts < 5 => {
                    eprintln!("the reference walk met a group that did not serve yet: again");
                }
                Err(e) => panic!("the reference walk failed: {e}"),
            }
        };
        let group_versions: usize = walked.groups().map(|g| g.versions().count()).sum();
        eprintln!(
            "discovery: aggregated {} requests in {:?}; per-group walk {} requests in {:?} ({} groups, {} group versions)",
            aggregated.0,
            aggregated.1,
            per_group.0,
            per_group.1,
            walked.groups().count(),
            group_versions
        );
        assert_eq!(aggregated.0, 2, "served_resources is one aggregated round trip");
        assert!(per_group.0 > 2 + 20, "the walk it replaces: {}", per_group.0);

        let core = &served[""];
        let verbs = |r: &str| {
            core.get(r)
                .unwrap_or_else(|| panic!("{r} not discovered"))
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        };
        assert_eq!(verbs("pods/exec"), ["create", "get"]);
        assert_eq!(verbs("pods/log"), ["get"]);
        assert!(verbs("nodes/proxy").contains(&"get"));
        assert_eq!(verbs("serviceaccounts/token"), ["create"]);
        assert!(verbs("pods").contains(&"watch"));
        assert!(served["apps"].contains_key("deployments/scale"));
    });
}
