//! Differential test: our pure RBAC evaluator (`chronom_core::rbac`) against the real API server's
//! authorizer, asked through SubjectAccessReview, on thousands of queries.
//!
//! Each test applies `tests/fixtures/differential/*.yaml` under a unique prefix (chart-style RBAC
//! for ingress-nginx, cert-manager and Argo CD plus rule-matching and subject-resolution corner
//! cases), on top of what the control plane already holds: the API server's bootstrap roles and
//! the EKS seed. It then lists every RBAC object with `chronom::flows::audit::read_cluster`, builds an
//! `RbacSnapshot` with `RuleSource::AsStored` (what a live audit does), generates queries
//! deterministically (fixed-seed PRNG over the sorted objects; only the per-run name prefix
//! varies), asks the API server each one, and compares.
//!
//! The control plane runs `--authorization-mode=Node,RBAC` behind the `system:masters`
//! privileged-group authorizer. `RbacSnapshot::allows` models the privileged group and RBAC, not
//! the Node authorizer, so:
//! - `rbac_evaluator_agrees_with_subject_access_review` uses every identity the Node authorizer
//!   has no opinion on, and requires exact agreement;
//! - `node_identities_agree_including_the_node_authorizer` uses node identities
//!   (`system:node:<name>` in `system:nodes`) and also requires `server == ours`: our evaluator
//!   models the Node authorizer (`chronom_core::rbac::node`), a transcription of kubernetes v1.37.2
//!   `plugin/pkg/auth/authorizer/node/node_authorizer.go` (with an empty node graph) and
//!   `bootstrappolicy.NodeRules()`. It prints which requests only the Node authorizer allows;
//! - `who_can_in_one_namespace_agrees_with_the_whole_cluster_and_subject_access_review` checks
//!   `audit who-can -n NS`, which lists only that namespace's Roles and RoleBindings
//!   (`read_cluster_for`): the same answer as from every object, and, for an identity holding
//!   each known binding subject alone, "named in the answer" exactly when the server allows.
//!
//! The tests take turns (`serialized`): each writes RBAC (its fixture, then its deletion), and
//! a write while another test asks would make the server and that test's snapshot differ.
//! After reading the cluster, a test waits until the authorizer has seen every write up to that
//! read (`barrier`), and after asking, it checks that nothing changed (`assert_unchanged`). So
//! there is no race left to forgive: any disagreement fails the test.
//!
//! Queries come from a fixed seed (the same set every run) and from a rotating one, printed at
//! the start; `CHRONOM_DIFFERENTIAL_SEED=<seed>` replays a run's rotating set.
//!
//! Run with `cargo test --test cluster audit_differential:: -- --nocapture` to see the counts.
//! See docs/differential.md.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::ControlPlane;
use crate::support::splitmix::SplitMix64 as Rng;
use chronom::adapters::kube::{Connection, connect};
use chronom::cli::GlobalArgs;
use chronom::flows::audit::{read_cluster, read_cluster_for};
use chronom_core::audit::manifests::ClusterState;
use chronom_core::audit::{answers, inventory, report};
use chronom_core::rbac::{
    Identity, QueryScope, RbacObjects, RbacSnapshot, Request, ResourceRequest, RuleSource,
    SubjectKind, WhoCanRow, aggregate_cluster_roles,
};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

/// This module's own control plane (support::control_plane::for_module): its tests are the
/// only writers of its aws-auth and RBAC, as when the module was its own test binary.
fn control_plane() -> &'static ControlPlane {
    crate::support::control_plane::for_module(module_path!())
}

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/differential");
/// Replaced by the run's unique prefix in every fixture file.
const PLACEHOLDER: &str = "__P__";
/// Every fixture object carries `LABEL: <prefix>`.
const LABEL: &str = "chronom.test/differential";
/// SubjectAccessReviews in flight at once (loopback only).
const PARALLELISM: usize = 16;
const MIN_QUERIES: usize = 3000;
/// Every barrier object carries `BARRIER_LABEL: <prefix>` (and not LABEL: they are no part of
/// the fixture, and no query is made from them).
const BARRIER_LABEL: &str = "chronom.test/differential-barrier";
/// The fixed seeds: the same queries every run.
const MAIN_SEED: u64 = 0x5EED_C4A0_0000_0007;
const NODE_SEED: u64 = 0x5EED_0000_40DE_0007;
/// Replays a run's rotating query set.
const SEED_ENV: &str = "CHRONOM_DIFFERENTIAL_SEED";

// --- taking turns -------------------------------------------------------------------------------

static TURN: Mutex<()> = Mutex::new(());

/// Runs one test of this binary on a runtime of its own, while no other test of it runs.
fn serialized(test: impl Future<Output = ()>) {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    println!("{}", seed_line());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test);
}

/// The rotating seed: `CHRONOM_DIFFERENTIAL_SEED` (decimal or 0x hex), else the clock.
fn rotating_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var(SEED_ENV) {
        Ok(v) => {
            let t = v.trim();
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
                None => t.replace('_', "").parse(),
            };
            parsed.unwrap_or_else(|e| panic!("{SEED_ENV}={v:?} is not a number: {e}"))
        }
        Err(_) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("the clock is after 1970");
            // Nanoseconds, mixed, so that runs a second apart differ in every bit.
            Rng(now.as_nanos() as u64).next()
        }
    })
}

fn seed_line() -> String {
    let seed = rotating_seed();
    format!("differential: rotating seed {seed:#x} (replay: {SEED_ENV}={seed:#x})")
}

// --- the fixture ------------------------------------------------------------------------------

/// The fixture applied under a unique prefix; deleted again (by label) on drop.
struct Fixture {
    cp: &'static ControlPlane,
    prefix: String,
}

impl Fixture {
    fn apply(cp: &'static ControlPlane) -> Fixture {
        let prefix = crate::support::unique_name("diff");
        let mut files: Vec<_> = std::fs::read_dir(FIXTURE_DIR)
            .unwrap_or_else(|e| panic!("{FIXTURE_DIR}: {e}"))
            .map(|e| e.expect("fixture dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        assert!(files.len() >= 5, "fixture files missing in {FIXTURE_DIR}");
        let mut text = String::new();
        for f in &files {
            let body =
                std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            text.push_str(&body.replace(PLACEHOLDER, &prefix));
            text.push_str("\n---\n");
        }
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write fixture");
        let fixture = Fixture { cp, prefix };
        let out = cp
            .kubectl("chronom-admin")
            .args([
                "apply",
                "--server-side",
                "--field-manager=chronom-differential",
                "-f",
            ])
            .arg(file.path())
            .output()
            .expect("run kubectl apply");
        assert!(
            out.status.success(),
            "kubectl apply of the differential fixture failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fixture
    }

    fn ns(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    fn owns(&self, meta: &ObjectMeta) -> bool {
        meta.labels.as_ref().and_then(|l| l.get(LABEL)) == Some(&self.prefix)
    }

    /// The namespaces queries are asked in: "" (cluster-wide / all namespaces), the fixture's,
    /// the system ones and one that does not exist.
    fn namespaces(&self) -> Vec<String> {
        let mut v = vec![String::new(), String::new()];
        for s in [
            "ingress", "certs", "argocd", "team-a", "team-b", "team-c", "quiet", "nowhere",
        ] {
            v.push(self.ns(s));
        }
        for s in ["team-a", "team-b", "team-c"] {
            v.push(self.ns(s)); // weighted: most fixture bindings live there
        }
        for s in ["kube-system", "kube-public", "kube-node-lease", "default"] {
            v.push(s.to_string());
        }
        v
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let selector = format!("{LABEL}={}", self.prefix);
        let barriers = format!("{BARRIER_LABEL}={}", self.prefix);
        // Namespaced objects first: with no kube-controller-manager here, a deleted namespace
        // stays Terminating and keeps its contents.
        for args in [
            vec![
                "delete",
                "role,rolebinding",
                "--all-namespaces",
                "-l",
                &selector,
                "--wait=false",
            ],
            vec![
                "delete",
                "role,rolebinding",
                "--all-namespaces",
                "-l",
                &barriers,
                "--wait=false",
            ],
            vec![
                "delete",
                "clusterrole,clusterrolebinding",
                "-l",
                &selector,
                "--wait=false",
            ],
            vec![
                "delete",
                "clusterrole,clusterrolebinding",
                "-l",
                &barriers,
                "--wait=false",
            ],
            vec!["delete", "namespace", "-l", &selector, "--wait=false"],
        ] {
            match self.cp.kubectl("chronom-admin").args(&args).output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "cleanup `kubectl {}` failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => eprintln!("cleanup `kubectl {}` failed: {e}", args.join(" ")),
            }
        }
    }
}

/// The command line's global options, parsed like the CLI does (so new options keep defaults).
#[derive(clap::Parser)]
struct Options {
    #[command(flatten)]
    global: GlobalArgs,
}

async fn admin(cp: &ControlPlane) -> Connection {
    let kubeconfig = cp.kubeconfig.to_str().expect("kubeconfig path is UTF-8");
    let options = <Options as clap::Parser>::try_parse_from([
        "differential",
        "--kubeconfig",
        kubeconfig,
        "--context",
        "chronom-admin",
        "--request-timeout",
        "30",
    ])
    .unwrap_or_else(|e| panic!("global options: {e}"));
    connect(&options.global)
        .await
        .unwrap_or_else(|e| panic!("connect as chronom-admin: {e}"))
}

/// Waits until the API server's authorizer has seen every RBAC write made before this call.
///
/// The authorizer reads four informer caches (ClusterRoles, ClusterRoleBindings, Roles,
/// RoleBindings), and each receives its kind's writes in order. So this writes one new object
/// of each kind, granting a new user `get` on a made-up resource (cluster-wide through the
/// ClusterRole, in one namespace through the Role), and waits until SubjectAccessReview allows
/// both: then every earlier write of every kind is in the caches too. At most 30 s.
async fn barrier(conn: &Connection, fx: &Fixture) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{}-barrier-{}",
        fx.prefix,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let ns = fx.ns("quiet");
    let meta = |namespace: Option<&str>| ObjectMeta {
        name: Some(name.clone()),
        namespace: namespace.map(str::to_string),
        labels: Some(BTreeMap::from([(
            BARRIER_LABEL.to_string(),
            fx.prefix.clone(),
        )])),
        ..Default::default()
    };
    let rules = |resource: &str| {
        Some(vec![PolicyRule {
            api_groups: Some(vec!["chronom.test".into()]),
            resources: Some(vec![resource.into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        }])
    };
    let role_ref = |kind: &str| RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.clone(),
    };
    let subjects = Some(vec![Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "User".into(),
        name: name.clone(),
        namespace: None,
    }]);
    let pp = PostParams::default();
    let created = async {
        Api::<ClusterRole>::all(conn.client.clone())
            .create(
                &pp,
                &ClusterRole {
                    metadata: meta(None),
                    rules: rules("clusterbarriers"),
                    ..Default::default()
                },
            )
            .await?;
        Api::<ClusterRoleBinding>::all(conn.client.clone())
            .create(
                &pp,
                &ClusterRoleBinding {
                    metadata: meta(None),
                    role_ref: role_ref("ClusterRole"),
                    subjects: subjects.clone(),
                },
            )
            .await?;
        Api::<Role>::namespaced(conn.client.clone(), &ns)
            .create(
                &pp,
                &Role {
                    metadata: meta(Some(&ns)),
                    rules: rules("rolebarriers"),
                },
            )
            .await?;
        Api::<RoleBinding>::namespaced(conn.client.clone(), &ns)
            .create(
                &pp,
                &RoleBinding {
                    metadata: meta(Some(&ns)),
                    role_ref: role_ref("Role"),
                    subjects,
                },
            )
            .await?;
        Ok::<_, kube::Error>(())
    };
    created
        .await
        .unwrap_or_else(|e| panic!("writing the barrier {name}: {e}"));
    let user = Identity::user(&name, &[]);
    let cluster = Query::new(
        user.clone(),
        res("get", "chronom.test", "clusterbarriers", None, None, None),
        "barrier",
    );
    let role = Query::new(
        user,
        res("get", "chronom.test", "rolebarriers", None, None, Some(&ns)),
        "barrier",
    );
    let api: Api<SubjectAccessReview> = Api::all(conn.client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ask(&api, &cluster).await && ask(&api, &role).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the API server's RBAC caches never saw the barrier {name} (30 s)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The RBAC objects as listed, barriers left out, each as its JSON: to tell whether anything
/// changed between two reads.
fn fingerprint(objs: &RbacObjects) -> BTreeSet<String> {
    fn add<K: kube::Resource + serde::Serialize>(
        out: &mut BTreeSet<String>,
        kind: &str,
        items: &[K],
    ) {
        for item in items {
            let barrier = item
                .meta()
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(BARRIER_LABEL));
            if !barrier {
                out.insert(format!(
                    "{kind} {}",
                    serde_json::to_string(item).expect("serializable")
                ));
            }
        }
    }
    let mut out = BTreeSet::new();
    add(&mut out, "ClusterRole", &objs.cluster_roles);
    add(&mut out, "ClusterRoleBinding", &objs.cluster_role_bindings);
    add(&mut out, "Role", &objs.roles);
    add(&mut out, "RoleBinding", &objs.role_bindings);
    out
}

/// Fails unless the cluster's RBAC is still what `before` listed (barriers aside): the
/// comparison is between the server and a snapshot of one state, or it proves nothing.
async fn assert_unchanged(conn: &Connection, before: &RbacObjects) {
    let after = read_cluster(conn)
        .await
        .unwrap_or_else(|e| panic!("read_cluster: {e}"));
    let (a, b) = (fingerprint(before), fingerprint(&after.rbac));
    let gone: Vec<&String> = a.difference(&b).collect();
    let new: Vec<&String> = b.difference(&a).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "RBAC changed while the server was asked, so the comparison is void. Another writer on this \
         control plane (CHRONOM_TEST_KUBECONFIG shares one)? Gone: {gone:#?}\nNew: {new:#?}"
    );
}

// --- queries ------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Query {
    identity: Identity,
    request: Request,
    /// Which generator made it, for the statistics.
    origin: &'static str,
    /// Made from the rotating seed (else the fixed one, or no seed).
    rotating: bool,
}

impl Query {
    fn new(identity: Identity, request: Request, origin: &'static str) -> Self {
        Query {
            identity,
            request,
            origin,
            rotating: false,
        }
    }
}

/// Marks queries as made from the rotating seed.
fn rotating(mut queries: Vec<Query>) -> Vec<Query> {
    for q in &mut queries {
        q.rotating = true;
    }
    queries
}

fn res(
    verb: &str,
    group: &str,
    resource: &str,
    sub: Option<&str>,
    name: Option<&str>,
    ns: Option<&str>,
) -> Request {
    let mut r = ResourceRequest::new(verb, group, resource);
    r.subresource = sub.filter(|s| !s.is_empty()).map(str::to_string);
    r.name = name.filter(|s| !s.is_empty()).map(str::to_string);
    r.namespace = ns.filter(|s| !s.is_empty()).map(str::to_string);
    Request::Resource(r)
}

fn describe(q: &Query) -> String {
    let mut s = format!(
        "user={:?} groups={:?}: ",
        q.identity.user, q.identity.groups
    );
    match &q.request {
        Request::Resource(r) => {
            let _ = write!(
                s,
                "{} group={:?} resource={}",
                r.verb, r.api_group, r.resource
            );
            if let Some(sub) = &r.subresource {
                let _ = write!(s, "/{sub}");
            }
            if let Some(n) = &r.name {
                let _ = write!(s, " name={n:?}");
            }
            match &r.namespace {
                Some(ns) => {
                    let _ = write!(s, " in {ns}");
                }
                None => s.push_str(" cluster-wide"),
            }
        }
        Request::NonResource(n) => {
            let _ = write!(s, "{} {:?}", n.verb, n.path);
        }
    }
    let _ = write!(s, " [{}]", q.origin);
    if q.rotating {
        let _ = write!(s, " [rotating seed {:#x}]", rotating_seed());
    }
    s
}

const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "bind",
    "escalate",
    "impersonate",
    "approve",
    "sign",
    "use",
    "*",
    "Get",
];
const NON_RESOURCE_VERBS: &[&str] = &["get", "head", "post", "put", "delete", "*", "options"];
/// (group, resource, subresource): core and grouped, namespaced and cluster-scoped, subresources,
/// wildcards. Extended by every resource the known roles name.
const TARGETS: &[(&str, &str, &str)] = &[
    ("", "pods", ""),
    ("", "pods", "exec"),
    ("", "pods", "log"),
    ("", "pods", "attach"),
    ("", "pods", "portforward"),
    ("", "pods", "eviction"),
    ("", "pods", "status"),
    ("", "pods", "*"),
    ("", "secrets", ""),
    ("", "configmaps", ""),
    ("", "services", ""),
    ("", "services", "proxy"),
    ("", "namespaces", ""),
    ("", "nodes", ""),
    ("", "nodes", "proxy"),
    ("", "serviceaccounts", ""),
    ("", "serviceaccounts", "token"),
    ("", "events", ""),
    ("", "users", ""),
    ("", "groups", ""),
    ("", "persistentvolumes", ""),
    ("", "Pods", ""),
    ("core", "pods", ""),
    ("apps", "deployments", ""),
    ("apps", "deployments", "scale"),
    ("apps", "deployments", "status"),
    ("apps", "statefulsets", "scale"),
    ("apps", "daemonsets", ""),
    ("batch", "jobs", ""),
    ("batch", "cronjobs", ""),
    ("extensions", "deployments", "scale"),
    ("", "replicationcontrollers", "scale"),
    ("autoscaling", "horizontalpodautoscalers", ""),
    ("rbac.authorization.k8s.io", "clusterroles", ""),
    ("rbac.authorization.k8s.io", "roles", ""),
    ("rbac.authorization.k8s.io", "clusterrolebindings", ""),
    ("rbac.authorization.k8s.io", "rolebindings", ""),
    ("certificates.k8s.io", "certificatesigningrequests", ""),
    (
        "certificates.k8s.io",
        "certificatesigningrequests",
        "approval",
    ),
    ("certificates.k8s.io", "signers", ""),
    ("authentication.k8s.io", "userextras", "scopes"),
    ("authentication.k8s.io", "uids", ""),
    ("authorization.k8s.io", "subjectaccessreviews", ""),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "",
    ),
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        "",
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions", ""),
    ("networking.k8s.io", "ingresses", ""),
    ("networking.k8s.io", "ingresses", "status"),
    ("coordination.k8s.io", "leases", ""),
    ("cert-manager.io", "certificates", ""),
    ("cert-manager.io", "certificates", "status"),
    ("cert-manager.io", "signers", ""),
    ("argoproj.io", "applications", ""),
    ("policy", "podsecuritypolicies", ""),
    ("*", "*", ""),
    ("*", "pods", ""),
    ("", "*", ""),
    ("apps", "*", ""),
    ("*", "*", "scale"),
    ("*", "deployments", "scale"),
];
const SUBRESOURCES: &[&str] = &[
    "status",
    "scale",
    "exec",
    "log",
    "proxy",
    "token",
    "approval",
    "*",
    "finalizers",
];
const PATHS: &[&str] = &[
    "/",
    "/api",
    "/api/",
    "/api/v1",
    "/apis",
    "/apis/",
    "/apis/apps",
    "/apis/apps/v1",
    "/healthz",
    "/healthz/",
    "/healthz/etcd",
    "/healthz/ping",
    "/livez",
    "/livez/ping",
    "/readyz",
    "/readyz/",
    "/readyzz",
    "/metrics",
    "/metrics/slis",
    "/version",
    "/version/",
    "/openapi/v2",
    "/openapi/v3",
    "/openapi/v3/apis/apps/v1",
    "/logs",
    "/logs/",
    "/logs/kube-apiserver.log",
    "/logsx",
    "/debug",
    "/debug/",
    "/debug/pprof/profile",
    "/flagz",
    "/statusz",
    "/.well-known/openid-configuration",
    "/openid/v1/jwks",
    "/custom/path",
    "*",
];

/// Values to draw requests from: the fixed lists plus everything the known roles mention.
struct Dims {
    targets: Vec<(String, String, Option<String>)>,
    names: Vec<Option<String>>,
    namespaces: Vec<String>,
    paths: Vec<String>,
    groups: Vec<String>,
}

fn split_resource(r: &str) -> (String, Option<String>) {
    match r.split_once('/') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (r.to_string(), None),
    }
}

impl Dims {
    fn new(known_rules: &[&PolicyRule], namespaces: Vec<String>, extra_names: &[&str]) -> Dims {
        let mut targets: BTreeSet<(String, String, Option<String>)> = TARGETS
            .iter()
            .map(|(g, r, s)| {
                (
                    g.to_string(),
                    r.to_string(),
                    Some(s.to_string()).filter(|s| !s.is_empty()),
                )
            })
            .collect();
        let mut names: BTreeSet<String> = ["x", "other", "default"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        names.extend(extra_names.iter().map(|s| s.to_string()));
        let mut paths: BTreeSet<String> = PATHS.iter().map(|s| s.to_string()).collect();
        let mut groups: BTreeSet<String> = BTreeSet::new();
        for rule in known_rules {
            for g in rule.api_groups.iter().flatten() {
                groups.insert(g.clone());
                for r in rule.resources.iter().flatten() {
                    let (res, sub) = split_resource(r);
                    targets.insert((g.clone(), res, sub));
                }
            }
            names.extend(rule.resource_names.iter().flatten().cloned());
            for u in rule.non_resource_urls.iter().flatten() {
                paths.insert(u.clone());
                if let Some(p) = u.strip_suffix('*') {
                    paths.insert(format!("{p}sub/path"));
                    paths.insert(p.trim_end_matches('/').to_string());
                }
            }
        }
        groups.extend(TARGETS.iter().map(|t| t.0.to_string()));
        paths.remove("");
        let mut names: Vec<Option<String>> = names.into_iter().map(Some).collect();
        // Most real requests that carry no name: list, watch, create, deletecollection.
        names.extend([None, None, None, None, None, None].iter().cloned());
        Dims {
            targets: targets.into_iter().collect(),
            names,
            namespaces,
            paths: paths.into_iter().collect(),
            groups: groups.into_iter().collect(),
        }
    }

    fn random_resource(&self, rng: &mut Rng) -> Request {
        let (g, r, s) = rng.pick(&self.targets).clone();
        let verb = *rng.pick(VERBS);
        let name = rng.pick(&self.names).clone();
        let ns = rng.pick(&self.namespaces).clone();
        res(verb, &g, &r, s.as_deref(), name.as_deref(), Some(&ns))
    }

    fn random_non_resource(&self, rng: &mut Rng) -> Request {
        Request::non_resource(
            rng.pick::<&str>(NON_RESOURCE_VERBS),
            rng.pick(&self.paths).as_str(),
        )
    }

    /// A request `rule` allows (when asked in a namespace where its binding applies), and a
    /// near miss: one attribute changed.
    fn around_rule(&self, rule: &PolicyRule, ns: &str, rng: &mut Rng) -> [Request; 2] {
        let verb = match rng.pick(&rule.verbs).as_str() {
            "*" => rng.pick(VERBS).to_string(),
            v => v.to_string(),
        };
        if let Some(urls) = rule.non_resource_urls.as_ref().filter(|u| !u.is_empty()) {
            let url = rng.pick(urls);
            let (hit, miss) = if url == "*" {
                (rng.pick(&self.paths).clone(), rng.pick(&self.paths).clone())
            } else if let Some(prefix) = url.strip_suffix('*') {
                let prefix = prefix.trim_end_matches('*');
                let near = [
                    prefix.trim_end_matches('/').to_string(),
                    format!("x{prefix}"),
                    "/".to_string(),
                ];
                (
                    format!("{prefix}{}", rng.pick(&["", "a", "a/b", "*"])),
                    rng.pick(&near).clone(),
                )
            } else {
                let near = [
                    format!("{url}/"),
                    format!("{url}x"),
                    url.trim_end_matches('/').to_string(),
                ];
                (url.clone(), rng.pick(&near).clone())
            };
            let miss_verb = if rng.below(2) == 0 {
                rng.pick(NON_RESOURCE_VERBS).to_string()
            } else {
                verb.clone()
            };
            return [
                Request::non_resource(&verb, &hit),
                Request::non_resource(&miss_verb, &miss),
            ];
        }
        let group = match rule.api_groups.as_deref().filter(|g| !g.is_empty()) {
            Some(g) => match rng.pick(g).as_str() {
                "*" => rng.pick(&self.groups).clone(),
                g => g.to_string(),
            },
            None => String::new(),
        };
        let resources = rule.resources.clone().unwrap_or_default();
        let (resource, sub) = if resources.is_empty() {
            ("pods".to_string(), None)
        } else {
            match rng.pick(&resources).as_str() {
                "*" => {
                    let t = rng.pick(&self.targets);
                    (t.1.clone(), t.2.clone())
                }
                r if r.starts_with("*/") => {
                    let base = rng
                        .pick(&["deployments", "statefulsets", "replicasets", "*"])
                        .to_string();
                    (base, Some(r[2..].to_string()))
                }
                r => split_resource(r),
            }
        };
        let name = match rule.resource_names.as_deref().filter(|n| !n.is_empty()) {
            Some(names) => Some(rng.pick(names).clone()),
            None => rng.pick(&self.names).clone(),
        };
        let hit = res(
            &verb,
            &group,
            &resource,
            sub.as_deref(),
            name.as_deref(),
            Some(ns),
        );
        let Request::Resource(mut m) = hit.clone() else {
            unreachable!()
        };
        match rng.below(6) {
            0 => m.verb = rng.pick(VERBS).to_string(),
            1 => {
                m.name = if m.name.is_some() && rng.below(2) == 0 {
                    None
                } else {
                    Some("not-listed".into())
                }
            }
            2 => m.api_group = rng.pick(&self.groups).clone(),
            3 => {
                m.subresource = match m.subresource {
                    Some(_) => None,
                    None => Some(rng.pick(SUBRESOURCES).to_string()),
                }
            }
            4 => m.namespace = Some(rng.pick(&self.namespaces).clone()).filter(|s| !s.is_empty()),
            _ => {
                let t = rng.pick(&self.targets);
                m.resource = t.1.clone();
            }
        }
        [hit, Request::Resource(m)]
    }
}

/// Objects this test knows the origin of: the API server's bootstrap policy, the EKS seed, and
/// this run's fixture. Queries are derived from these only (objects other tests create on a
/// shared control plane are still in the snapshot and still evaluated).
fn known(meta: &ObjectMeta, fx: &Fixture) -> bool {
    let labels = meta.labels.as_ref();
    let has = |k: &str| labels.is_some_and(|l| l.contains_key(k));
    fx.owns(meta)
        || has("kubernetes.io/bootstrapping")
        || has("eks.amazonaws.com/component")
        || has("k8s-app")
}

/// A binding, flattened: (namespace or None, roleRef kind, roleRef name, subjects), sorted.
type FlatBinding<'a> = (Option<&'a str>, &'a str, &'a str, &'a [Subject]);

fn known_bindings<'a>(objs: &'a RbacObjects, fx: &Fixture) -> Vec<FlatBinding<'a>> {
    let mut out: Vec<FlatBinding<'a>> = Vec::new();
    for b in objs
        .cluster_role_bindings
        .iter()
        .filter(|b| known(&b.metadata, fx))
    {
        out.push((
            None,
            &b.role_ref.kind,
            &b.role_ref.name,
            b.subjects.as_deref().unwrap_or_default(),
        ));
    }
    for b in objs.role_bindings.iter().filter(|b| known(&b.metadata, fx)) {
        out.push((
            b.metadata.namespace.as_deref(),
            &b.role_ref.kind,
            &b.role_ref.name,
            b.subjects.as_deref().unwrap_or_default(),
        ));
    }
    out.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    out
}

/// Known roles, sorted: (namespace or None for a ClusterRole, name, rules to derive queries
/// from). An aggregated ClusterRole contributes its stored rules *and* the rules aggregation
/// would give it, so the queries probe which of the two the server uses.
fn known_roles<'a>(
    objs: &'a RbacObjects,
    fx: &Fixture,
) -> Vec<(Option<&'a str>, &'a str, Vec<PolicyRule>)> {
    let (aggregated, _) = aggregate_cluster_roles(objs.cluster_roles.clone());
    let aggregated: HashMap<&str, &[PolicyRule]> = aggregated
        .iter()
        .filter(|r| r.aggregation_rule.is_some())
        .map(|r| {
            (
                r.metadata.name.as_deref().unwrap_or(""),
                r.rules.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for r in objs.cluster_roles.iter().filter(|r| known(&r.metadata, fx)) {
        let name = r.metadata.name.as_deref().unwrap_or("");
        let mut rules = r.rules.clone().unwrap_or_default();
        rules.extend(
            aggregated
                .get(name)
                .copied()
                .unwrap_or_default()
                .iter()
                .cloned(),
        );
        out.push((None, name, rules));
    }
    for r in objs.roles.iter().filter(|r| known(&r.metadata, fx)) {
        out.push((
            r.metadata.namespace.as_deref(),
            r.metadata.name.as_deref().unwrap_or(""),
            r.rules.clone().unwrap_or_default(),
        ));
    }
    out.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out
}

/// The node name the Node authorizer identifies (`nodeidentifier.NodeIdentity`): a user named
/// `system:node:<name>` in the group `system:nodes`. `Some("")` is a node it cannot identify.
use chronom_core::rbac::node::node_identity;

/// Whether the Node authorizer has an opinion on this identity at all (a non-empty node name).
fn is_node(id: &Identity) -> bool {
    node_identity(id).is_some_and(|n| !n.is_empty())
}

/// An identity a binding subject stands for (groups get a member made up for the purpose).
fn subject_identity(s: &Subject, binding_ns: Option<&str>, fx: &Fixture) -> Option<Identity> {
    let p = &fx.prefix;
    match s.kind.as_str() {
        "User" if s.name == "system:anonymous" => Some(Identity::anonymous()),
        "User" => Some(Identity::user(&s.name, &[])),
        "Group" => Some(match s.name.as_str() {
            "system:unauthenticated" => Identity::anonymous(),
            "system:authenticated" => Identity::user(&format!("{p}-someone"), &[]),
            "system:serviceaccounts" => Identity::service_account(&fx.ns("team-c"), "any-sa"),
            g if g.starts_with("system:serviceaccounts:") => {
                Identity::service_account(&g["system:serviceaccounts:".len()..], "any-sa")
            }
            // Not a node identity: the name lacks `system:node:`.
            "system:nodes" => Identity::user(&format!("{p}-kubelet"), &["system:nodes"]),
            g => Identity::user(&format!("{p}-member"), &[g]),
        }),
        "ServiceAccount" => {
            let ns = s
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .or(binding_ns)?;
            Some(Identity::service_account(ns, &s.name))
        }
        _ => None,
    }
}

/// Whether a binding subject names this identity (used only to pick queries, never to answer them).
fn subject_names(s: &Subject, binding_ns: Option<&str>, id: &Identity) -> bool {
    match s.kind.as_str() {
        "User" => s.name == id.user,
        "Group" => id.in_group(&s.name),
        "ServiceAccount" => {
            let ns = s
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .or(binding_ns)
                .unwrap_or("");
            id.user == format!("system:serviceaccount:{ns}:{}", s.name)
        }
        _ => false,
    }
}

/// Identities the Node authorizer has no opinion on: every subject of a known binding, plus
/// identities that appear nowhere, anonymous, a `system:masters` member, and look-alikes.
fn non_node_identities(objs: &RbacObjects, fx: &Fixture) -> Vec<Identity> {
    let p = &fx.prefix;
    let mut ids = Vec::new();
    for (ns, _, _, subjects) in known_bindings(objs, fx) {
        ids.extend(subjects.iter().filter_map(|s| subject_identity(s, ns, fx)));
    }
    let (a, b, c) = (fx.ns("team-a"), fx.ns("team-b"), fx.ns("team-c"));
    ids.extend([
        Identity::user(&format!("{p}-stranger"), &[]),
        Identity::user(&format!("{p}-root"), &["system:masters"]),
        Identity::user(
            &format!("{p}-root-too"),
            &["system:masters", &format!("{p}:ghosts")],
        ),
        Identity::anonymous(),
        Identity::exact(&format!("{p}-nobody"), &["system:unauthenticated"]),
        // Exactly as sent, without system:authenticated.
        Identity::exact(&format!("{p}-alice"), &[]),
        Identity::exact("", &["system:authenticated"]),
        Identity::exact("", &[&format!("{p}:argocd-admins")]),
        Identity::user(&format!("{p}-jane.doe@example.com"), &[]),
        Identity::user(
            &format!("{p}-multi"),
            &[
                &format!("{p}:team-a-devs"),
                &format!("{p}:auditors"),
                &format!("{p}:probers"),
            ],
        ),
        // A User subject spelled like a ServiceAccount username, asked both ways.
        Identity::user(&format!("system:serviceaccount:{a}:deployer"), &[]),
        Identity::service_account(&a, "deployer"),
        Identity::service_account(&a, "ghost"),
        Identity::service_account(&b, "app"),
        Identity::service_account(&c, "app"),
        Identity::service_account(&fx.ns("quiet"), "ingress-nginx"),
        Identity::service_account("kube-system", "default"),
        // Node look-alikes the Node authorizer does not identify (or cannot name).
        Identity::user(&format!("system:node:{p}-node"), &[]),
        Identity::user(&format!("system:node:{p}-fake"), &[]),
        Identity::user(&format!("{p}-kubelet"), &["system:nodes"]),
        Identity::user("system:node:", &["system:nodes"]),
        Identity::user("system:admin", &[]),
    ]);
    dedup(ids.into_iter().filter(|i| !is_node(i)).collect())
}

fn dedup(ids: Vec<Identity>) -> Vec<Identity> {
    let mut seen = BTreeSet::new();
    ids.into_iter()
        .filter(|i| seen.insert((i.user.clone(), i.groups.clone())))
        .collect()
}

/// Queries around every rule of every known role, for identities its bindings name
/// (`pair(subject, binding namespace)`), in a namespace where the binding applies.
fn rule_queries(
    objs: &RbacObjects,
    fx: &Fixture,
    dims: &Dims,
    rng: &mut Rng,
    pair: &dyn Fn(&Subject, Option<&str>) -> Vec<Identity>,
    fallback: &[Identity],
) -> Vec<Query> {
    let bindings = known_bindings(objs, fx);
    let mut out = Vec::new();
    for (role_ns, role_name, rules) in known_roles(objs, fx) {
        // Bindings that reference this role: a RoleBinding to a Role in its own namespace, or
        // any binding to a ClusterRole.
        let mut targets: Vec<(Identity, String)> = Vec::new();
        for (b_ns, kind, name, subjects) in &bindings {
            let refers = match role_ns {
                None => *kind == "ClusterRole" && *name == role_name,
                Some(ns) => *kind == "Role" && *name == role_name && *b_ns == Some(ns),
            };
            if !refers {
                continue;
            }
            for s in subjects.iter().take(3) {
                for id in pair(s, *b_ns) {
                    let ns = match b_ns {
                        Some(ns) => ns.to_string(),
                        None => rng.pick(&dims.namespaces).clone(),
                    };
                    targets.push((id, ns));
                }
            }
        }
        if targets.is_empty() && !fallback.is_empty() {
            // Unbound (e.g. aggregation sources): still exercised, by someone.
            targets.push((
                rng.pick(fallback).clone(),
                rng.pick(&dims.namespaces).clone(),
            ));
        }
        for (id, ns) in targets.iter().take(4) {
            for rule in &rules {
                for r in dims.around_rule(rule, ns, rng) {
                    out.push(Query::new(id.clone(), r, "rule"));
                }
            }
        }
    }
    out
}

// --- asking the server ------------------------------------------------------------------------

fn review(q: &Query) -> SubjectAccessReview {
    let (resource_attributes, non_resource_attributes) = match &q.request {
        Request::Resource(r) => (
            Some(ResourceAttributes {
                verb: Some(r.verb.clone()),
                group: Some(r.api_group.clone()),
                resource: Some(r.resource.clone()),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                ..Default::default()
            }),
            None,
        ),
        Request::NonResource(n) => (
            None,
            Some(NonResourceAttributes {
                verb: Some(n.verb.clone()),
                path: Some(n.path.clone()),
            }),
        ),
    };
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(q.identity.user.clone()),
            groups: Some(q.identity.groups.clone()),
            resource_attributes,
            non_resource_attributes,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn ask(api: &Api<SubjectAccessReview>, q: &Query) -> bool {
    let body = review(q);
    let mut attempt = 0;
    loop {
        match api.create(&PostParams::default(), &body).await {
            Ok(r) => return r.status.is_some_and(|s| s.allowed),
            Err(e) if attempt < 4 => {
                attempt += 1;
                eprintln!("SubjectAccessReview failed (attempt {attempt}), retrying: {e}");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(e) => panic!("SubjectAccessReview for {} failed: {e}", describe(q)),
        }
    }
}

/// Every query's server answer, PARALLELISM at a time.
async fn ask_all(conn: &Connection, queries: &[Query]) -> Vec<bool> {
    let queries: Arc<Vec<Query>> = Arc::new(queries.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..PARALLELISM {
        let (queries, next) = (queries.clone(), next.clone());
        let api: Api<SubjectAccessReview> = Api::all(conn.client.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(q) = queries.get(i) else { break };
                out.push((i, ask(&api, q).await));
            }
            out
        }));
    }
    let mut answers = vec![None; queries.len()];
    for w in workers {
        for (i, a) in w.await.expect("SubjectAccessReview worker panicked") {
            answers[i] = Some(a);
        }
    }
    answers
        .into_iter()
        .map(|a| a.expect("every query answered"))
        .collect()
}

// --- comparing ----------------------------------------------------------------------------------

/// The evaluator under test, built as a live audit builds it: rules as stored.
fn evaluator(objects: RbacObjects) -> RbacSnapshot {
    RbacSnapshot::new(objects, RuleSource::AsStored)
}

struct Outcome {
    queries: Vec<Query>,
    server: Vec<bool>,
    ours: Vec<bool>,
    objects: RbacObjects,
}

/// Applies the fixture, builds the queries with `make`, asks the server and our evaluator
/// about one state of the cluster (see `barrier` and `assert_unchanged`).
async fn run(
    make: impl Fn(&RbacObjects, &Fixture) -> Vec<Query>,
) -> (Fixture, Connection, Outcome) {
    let cp = control_plane();
    let fx = Fixture::apply(cp);
    let conn = admin(cp).await;
    let t0 = Instant::now();
    let state = read_cluster(&conn)
        .await
        .unwrap_or_else(|e| panic!("read_cluster: {e}"));
    let objects = state.rbac;
    barrier(&conn, &fx).await;
    let snapshot = evaluator(objects.clone());
    let queries = make(&objects, &fx);
    let ours: Vec<bool> = queries
        .iter()
        .map(|q| snapshot.allows(&q.identity, &q.request).allowed)
        .collect();
    let t1 = Instant::now();
    let server = ask_all(&conn, &queries).await;
    assert_unchanged(&conn, &objects).await;
    println!(
        "differential[{}]: {} SubjectAccessReviews in {:.1}s ({} in flight), setup {:.1}s",
        fx.prefix,
        queries.len(),
        t1.elapsed().as_secs_f64(),
        PARALLELISM,
        (t1 - t0).as_secs_f64()
    );
    (
        fx,
        conn,
        Outcome {
            queries,
            server,
            ours,
            objects,
        },
    )
}

/// The queries where the server and ours differ: (query, ours, server).
fn mismatches(queries: &[Query], ours: &[bool], server: &[bool]) -> Vec<(Query, bool, bool)> {
    (0..queries.len())
        .filter(|&i| ours[i] != server[i])
        .map(|i| (queries[i].clone(), ours[i], server[i]))
        .collect()
}

fn tally<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

// --- the main differential --------------------------------------------------------------------

/// The fixed seed's queries, then the rotating seed's.
fn main_queries(objs: &RbacObjects, fx: &Fixture) -> Vec<Query> {
    let mut queries = main_queries_from(objs, fx, MAIN_SEED);
    queries.extend(rotating(main_queries_from(objs, fx, rotating_seed())));
    queries
}

fn main_queries_from(objs: &RbacObjects, fx: &Fixture, seed: u64) -> Vec<Query> {
    let mut rng = Rng(seed);
    let roles = known_roles(objs, fx);
    let rules: Vec<&PolicyRule> = roles.iter().flat_map(|r| r.2.iter()).collect();
    let p = &fx.prefix;
    let dims = Dims::new(
        &rules,
        fx.namespaces(),
        &[
            &format!("{p}-alice"),
            &format!("{p}-bob"),
            "deployer",
            "public-info",
            "special-pod",
            "ingress-nginx-leader",
            "cert-manager-controller",
        ],
    );
    let ids = non_node_identities(objs, fx);
    let mut queries = Vec::new();
    for id in &ids {
        for _ in 0..20 {
            queries.push(Query::new(
                id.clone(),
                dims.random_resource(&mut rng),
                "random",
            ));
        }
        for _ in 0..6 {
            queries.push(Query::new(
                id.clone(),
                dims.random_non_resource(&mut rng),
                "non-resource",
            ));
        }
    }
    let pair = |s: &Subject, ns: Option<&str>| {
        subject_identity(s, ns, fx)
            .filter(|i| !is_node(i))
            .into_iter()
            .collect()
    };
    queries.extend(rule_queries(objs, fx, &dims, &mut rng, &pair, &ids));
    queries
}

#[test]
fn rbac_evaluator_agrees_with_subject_access_review() {
    serialized(rbac_evaluator_agrees_with_subject_access_review_alone());
}

async fn rbac_evaluator_agrees_with_subject_access_review_alone() {
    let (fx, _conn, out) = run(main_queries).await;
    let n = out.queries.len();
    let persisting = mismatches(&out.queries, &out.ours, &out.server);
    let rotating_n = out.queries.iter().filter(|q| q.rotating).count();
    let allowed = out.server.iter().filter(|a| **a).count();
    let identities: BTreeSet<_> = out
        .queries
        .iter()
        .map(|q| (&q.identity.user, &q.identity.groups))
        .collect();
    println!(
        "differential: {n} queries ({rotating_n} from the rotating seed), {} mismatches ({} identities; server \
         allowed {allowed}, denied {}; by origin {:?})",
        persisting.len(),
        identities.len(),
        n - allowed,
        tally(out.queries.iter().map(|q| q.origin)),
    );

    // What aggregation looks like here: no kube-controller-manager, so aggregated ClusterRoles
    // keep their stored rules, and the server authorizes with those.
    let aggregated: Vec<String> = out
        .objects
        .cluster_roles
        .iter()
        .filter(|r| {
            r.aggregation_rule.is_some()
                && (fx.owns(&r.metadata)
                    || r.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| ["admin", "edit", "view"].contains(&n)))
        })
        .map(|r| {
            format!(
                "{}={} stored rules",
                r.metadata.name.as_deref().unwrap_or(""),
                r.rules.as_ref().map_or(0, Vec::len)
            )
        })
        .collect();
    let recomputed = RbacSnapshot::new(out.objects.clone(), RuleSource::Aggregate);
    let aggregate_disagrees = (0..n)
        .filter(|&i| {
            recomputed
                .allows(&out.queries[i].identity, &out.queries[i].request)
                .allowed
                != out.server[i]
        })
        .count();
    println!(
        "differential: aggregated ClusterRoles as stored: {}; with RuleSource::Aggregate instead, {aggregate_disagrees} \
         queries would disagree with the server",
        aggregated.join(", ")
    );

    for (q, ours, server) in &persisting {
        println!("MISMATCH ours={ours} server={server}: {}", describe(q));
    }
    assert!(
        n >= MIN_QUERIES,
        "only {n} queries (want at least {MIN_QUERIES})"
    );
    // Not vacuous: plenty of both answers.
    assert!(
        allowed * 10 >= n && (n - allowed) * 10 >= n,
        "lopsided query set: {allowed} of {n} allowed"
    );
    assert!(
        persisting.is_empty(),
        "{} of {n} queries: our evaluator disagrees with the API server (listed above; {})",
        persisting.len(),
        seed_line()
    );
    drop(fx);
}

// --- node identities --------------------------------------------------------------------------

/// `bootstrappolicy.NodeRules()` of kubernetes v1.37.2
/// (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`) with this server's default
/// feature gates: CSIVolumeHealth off (no `csinodes/status` rule); DynamicResourceAllocation,
/// ClusterTrustBundle, KubeletServiceAccountTokenForCredentialProviders and
/// PodCertificateRequest on.
fn node_identities(fx: &Fixture) -> Vec<Identity> {
    let p = &fx.prefix;
    vec![
        // Bound by the fixture as a User (ClusterRoleBinding) and through system:nodes (team-a).
        Identity::user(&format!("system:node:{p}-node"), &["system:nodes"]),
        // As aws-auth maps an EKS node group's instance role (seed-eks.yaml).
        Identity::user(
            &format!("system:node:ip-10-0-0-1.{p}.compute.internal"),
            &["system:bootstrappers", "system:nodes"],
        ),
    ]
}

/// Exhaustive where the Node authorizer subdivides, then random and rule-derived queries from
/// the fixed seed and from the rotating one.
fn node_queries(objs: &RbacObjects, fx: &Fixture) -> Vec<Query> {
    let roles = known_roles(objs, fx);
    let rules: Vec<&PolicyRule> = roles.iter().flat_map(|r| r.2.iter()).collect();
    let ids = node_identities(fx);
    let node_names: Vec<String> = ids
        .iter()
        .filter_map(|i| node_identity(i).map(str::to_string))
        .collect();
    let mut names: Vec<&str> = node_names.iter().map(String::as_str).collect();
    names.push("ip-10-9-9-9.ec2.internal");
    let dims = Dims::new(&rules, fx.namespaces(), &names);
    let mut queries = Vec::new();
    let team_a = fx.ns("team-a");
    // What the Node authorizer subdivides, crossed with the verbs, names and namespaces it checks.
    let subdivided: &[(&str, &str, &[&str])] = &[
        ("", "nodes", &["", "status", "proxy"]),
        ("", "pods", &["", "status", "eviction", "exec", "log"]),
        ("coordination.k8s.io", "leases", &[""]),
        ("storage.k8s.io", "csinodes", &["", "status"]),
        ("", "secrets", &[""]),
        ("", "configmaps", &[""]),
        ("", "persistentvolumeclaims", &["", "status"]),
        ("", "persistentvolumes", &[""]),
        ("resource.k8s.io", "resourceclaims", &[""]),
        ("resource.k8s.io", "resourceslices", &[""]),
        ("storage.k8s.io", "volumeattachments", &[""]),
        ("", "serviceaccounts", &["", "token"]),
        (
            "certificates.k8s.io",
            "podcertificaterequests",
            &["", "status"],
        ),
        // Static rules only.
        ("certificates.k8s.io", "certificatesigningrequests", &[""]),
        ("certificates.k8s.io", "clustertrustbundles", &[""]),
        ("node.k8s.io", "runtimeclasses", &[""]),
        ("storage.k8s.io", "csidrivers", &[""]),
        ("", "services", &[""]),
        ("", "endpoints", &[""]),
        ("", "events", &[""]),
        ("events.k8s.io", "events", &[""]),
        ("authentication.k8s.io", "tokenreviews", &[""]),
        ("authorization.k8s.io", "subjectaccessreviews", &[""]),
        ("authorization.k8s.io", "localsubjectaccessreviews", &[""]),
        ("authorization.k8s.io", "selfsubjectaccessreviews", &[""]),
    ];
    let verbs = [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ];
    let cluster_scoped = [
        "nodes",
        "persistentvolumes",
        "csinodes",
        "resourceslices",
        "volumeattachments",
        "csidrivers",
        "runtimeclasses",
        "clustertrustbundles",
        "certificatesigningrequests",
        "tokenreviews",
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
    ];
    for id in &ids {
        let own = node_identity(id).unwrap_or_default().to_string();
        // Every verb x the node's own name, another node's name, no name x the namespaces that
        // matter: exhaustive for what the Node authorizer subdivides.
        for (g, r, subs) in subdivided {
            let namespaces: &[&str] = match *r {
                "leases" => &["kube-node-lease", "kube-system"],
                r if cluster_scoped.contains(&r) => &[""],
                _ => &[team_a.as_str(), ""],
            };
            for sub in *subs {
                for verb in verbs {
                    for name in [Some(own.as_str()), Some("ip-10-9-9-9.ec2.internal"), None] {
                        for ns in namespaces {
                            queries.push(Query::new(
                                id.clone(),
                                res(verb, g, r, Some(sub), name, Some(ns)),
                                "node-subdivided",
                            ));
                        }
                    }
                }
            }
        }
    }
    let pair = |s: &Subject, ns: Option<&str>| {
        ids.iter()
            .filter(|i| subject_names(s, ns, i))
            .cloned()
            .collect()
    };
    for (seed, is_rotating) in [(NODE_SEED, false), (rotating_seed(), true)] {
        let mut rng = Rng(seed);
        let mut seeded = Vec::new();
        for id in &ids {
            for _ in 0..60 {
                seeded.push(Query::new(
                    id.clone(),
                    dims.random_resource(&mut rng),
                    "random",
                ));
            }
            for _ in 0..20 {
                seeded.push(Query::new(
                    id.clone(),
                    dims.random_non_resource(&mut rng),
                    "non-resource",
                ));
            }
        }
        seeded.extend(rule_queries(objs, fx, &dims, &mut rng, &pair, &[]));
        queries.extend(if is_rotating {
            rotating(seeded)
        } else {
            seeded
        });
    }
    queries
}

/// A short label for grouping: `verb group/resource[/sub]` or `verb <non-resource>`.
fn kind_of(r: &Request) -> String {
    match r {
        Request::Resource(r) => {
            let g = if r.api_group.is_empty() {
                "core"
            } else {
                &r.api_group
            };
            let sub = r
                .subresource
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            format!("{} {g}/{}{sub}", r.verb, r.resource)
        }
        Request::NonResource(n) => format!("{} {}", n.verb, n.path),
    }
}

#[test]
fn node_identities_agree_including_the_node_authorizer() {
    serialized(node_identities_agree_including_the_node_authorizer_alone());
}

async fn node_identities_agree_including_the_node_authorizer_alone() {
    let (fx, _conn, out) = run(node_queries).await;
    let n = out.queries.len();
    let mismatches = mismatches(&out.queries, &out.ours, &out.server);

    // What only the Node authorizer allows: proof that it is on, and that we model it.
    let rbac_only = evaluator(out.objects.clone());
    let node_only: Vec<usize> = (0..n)
        .filter(|&i| {
            out.server[i]
                && !rbac_only
                    .rbac_allows(&out.queries[i].identity, &out.queries[i].request)
                    .allowed
        })
        .collect();
    let kinds: HashMap<String, usize> = node_only.iter().fold(HashMap::new(), |mut m, &i| {
        *m.entry(kind_of(&out.queries[i].request)).or_insert(0) += 1;
        m
    });
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort();
    let allowed = out.server.iter().filter(|a| **a).count();
    println!(
        "differential (node identities): {n} queries, {} mismatches; {} allowed only by the Node authorizer; server allowed {allowed}",
        mismatches.len(),
        node_only.len()
    );
    for (k, c) in &kinds {
        println!("  {c:4}  {k}");
    }
    for (q, ours, server) in &mismatches {
        println!("MISMATCH ours={ours} server={server}: {}", describe(q));
    }
    assert!(n >= 1000, "only {n} node-identity queries");
    assert!(
        !node_only.is_empty(),
        "the Node authorizer allowed nothing RBAC denies: is it on?"
    );
    assert!(
        mismatches.is_empty(),
        "{} node-identity queries differ from the server ({})",
        mismatches.len(),
        seed_line()
    );
    drop(fx);
}

// --- who-can in one namespace -------------------------------------------------------------------

/// The namespaces and requests `who_can_in_one_namespace_*` asks about.
fn who_can_questions(fx: &Fixture) -> Vec<(String, Request)> {
    let mut out = Vec::new();
    for ns in [
        fx.ns("team-a"),
        fx.ns("team-b"),
        fx.ns("argocd"),
        fx.ns("quiet"),
        "kube-system".to_string(),
    ] {
        for (verb, group, resource, sub) in [
            ("get", "", "secrets", None),
            ("list", "", "pods", None),
            ("create", "", "pods", Some("exec")),
            ("update", "apps", "deployments", Some("scale")),
            ("create", "rbac.authorization.k8s.io", "rolebindings", None),
        ] {
            out.push((ns.clone(), res(verb, group, resource, sub, None, Some(&ns))));
        }
    }
    out
}

/// Whether a who-can row's subject applies to `id` (the authorizer's appliesToUser).
fn row_names(row: &WhoCanRow, id: &Identity) -> bool {
    match row.subject_kind {
        SubjectKind::Group => id.in_group(&row.subject_name),
        SubjectKind::User => id.user == row.subject_name,
        SubjectKind::ServiceAccount => {
            id.user
                == format!(
                    "system:serviceaccount:{}:{}",
                    row.subject_namespace.as_deref().unwrap_or(""),
                    row.subject_name
                )
        }
    }
}

/// One identity per binding subject the cluster knows, holding exactly that subject: a User or
/// ServiceAccount username with no groups, or a group with a member no binding names.
fn single_subject_identities(objs: &RbacObjects, fx: &Fixture) -> Vec<Identity> {
    let probe = format!("{}-probe", fx.prefix);
    let mut ids = vec![
        Identity::exact(&probe, &["system:masters"]),
        Identity::exact(&probe, &[]),
    ];
    for (ns, _, _, subjects) in known_bindings(objs, fx) {
        for s in subjects {
            ids.push(match s.kind.as_str() {
                "User" => Identity::exact(&s.name, &[]),
                "Group" => Identity::exact(&probe, &[s.name.as_str()]),
                "ServiceAccount" => match s.namespace.as_deref().filter(|n| !n.is_empty()).or(ns) {
                    Some(sa_ns) => {
                        Identity::exact(&format!("system:serviceaccount:{sa_ns}:{}", s.name), &[])
                    }
                    None => continue,
                },
                _ => continue,
            });
        }
    }
    dedup(ids.into_iter().filter(|i| !is_node(i)).collect())
}

/// The answer of `audit who-can` (rows with principals) from a state, as JSON for comparing.
fn who_can_answer(state: ClusterState, request: &Request, scope: &QueryScope) -> serde_json::Value {
    let mut state = state;
    let snapshot = report::take_snapshot(&mut state, RuleSource::AsStored);
    let inv = inventory::from_aws_auth(&state.aws_auth);
    serde_json::to_value(answers::answer_who_can(
        &snapshot,
        &inv.mappings,
        request,
        scope,
    ))
    .unwrap()
}

/// `audit who-can VERB RESOURCE -n NS` lists only NS's Roles and RoleBindings. Its answer must be
/// the one the whole cluster gives, and it must be the truth: a subject is in it exactly when
/// the API server allows an identity holding only that subject.
#[test]
fn who_can_in_one_namespace_agrees_with_the_whole_cluster_and_subject_access_review() {
    serialized(who_can_in_one_namespace_alone());
}

async fn who_can_in_one_namespace_alone() {
    let cp = control_plane();
    let fx = Fixture::apply(cp);
    let conn = admin(cp).await;
    let questions = who_can_questions(&fx);
    let state = read_cluster(&conn)
        .await
        .unwrap_or_else(|e| panic!("read_cluster: {e}"));

    // 1. The same answer from one namespace's objects as from all of them.
    for (ns, request) in &questions {
        let scope = QueryScope::Namespace(ns.clone());
        let one = read_cluster_for(&conn, &scope)
            .await
            .unwrap_or_else(|e| panic!("read_cluster_for {ns}: {e}"));
        let in_ns = |m: &ObjectMeta| m.namespace.as_deref() == Some(ns.as_str());
        assert!(
            one.rbac.role_bindings.iter().all(|b| in_ns(&b.metadata)),
            "RoleBindings listed outside {ns}"
        );
        assert!(
            one.rbac.roles.iter().all(|r| in_ns(&r.metadata)),
            "Roles listed outside {ns}"
        );
        let all = read_cluster(&conn)
            .await
            .unwrap_or_else(|e| panic!("read_cluster: {e}"));
        let (a, b) = (
            who_can_answer(one, request, &scope),
            who_can_answer(all, request, &scope),
        );
        assert_eq!(
            a, b,
            "who-can in {ns} differs between one namespace's objects and all of them"
        );
    }

    // 2. The truth, asked of the server: for every identity holding a single subject, allowed
    //    exactly when the answer names that subject (or it is system:masters).
    let ids = single_subject_identities(&state.rbac, &fx);
    let mut queries = Vec::new();
    let mut ours = Vec::new();
    for (ns, request) in &questions {
        let scope = QueryScope::Namespace(ns.clone());
        let one = read_cluster_for(&conn, &scope)
            .await
            .unwrap_or_else(|e| panic!("read_cluster_for {ns}: {e}"));
        let rows = chronom_core::rbac::who_can(
            &RbacSnapshot::new(one.rbac, RuleSource::AsStored),
            request,
            &scope,
        );
        for id in &ids {
            queries.push(Query::new(id.clone(), request.clone(), "who-can"));
            ours.push(rows.iter().any(|r| row_names(r, id)));
        }
    }
    barrier(&conn, &fx).await;
    let server = ask_all(&conn, &queries).await;
    assert_unchanged(&conn, &state.rbac).await;
    let n = queries.len();
    let persisting = mismatches(&queries, &ours, &server);
    let allowed = server.iter().filter(|a| **a).count();
    println!(
        "who-can -n: {} questions answered alike from one namespace and from all; {} single-subject identities, {n} \
         SubjectAccessReviews, server allowed {allowed}, {} mismatches",
        questions.len(),
        ids.len(),
        persisting.len(),
    );
    for (q, ours, server) in &persisting {
        println!("MISMATCH ours={ours} server={server}: {}", describe(q));
    }
    // Not vacuous: the answers name real subjects and leave others out.
    assert!(
        allowed * 20 >= n && (n - allowed) * 2 >= n,
        "lopsided: {allowed} of {n} allowed"
    );
    assert!(
        persisting.is_empty(),
        "{} of {n} who-can answers disagree with the API server (listed above)",
        persisting.len()
    );
    drop(fx);
}

/// The audit lists in pages of 5,000, so on this cluster every list is one page: the
/// continue-token path is exercised here with small pages, and must read exactly what one
/// page reads, trimmed the same way.
#[test]
fn listing_in_small_pages_reads_what_one_page_reads() {
    serialized(listing_in_small_pages_alone());
}

async fn listing_in_small_pages_alone() {
    use chronom::flows::audit::list_in_pages;
    use kube::Api;
    let cp = control_plane();
    let _fx = Fixture::apply(cp);
    let conn = admin(cp).await;
    let list = |page: u32| {
        let conn = &conn;
        async move {
            let roles: Vec<ClusterRole> = list_in_pages(
                conn,
                Api::all(conn.client.clone()),
                "clusterroles",
                "",
                page,
            )
            .await
            .expect("listed")
            .expect("readable");
            let bindings: Vec<RoleBinding> = list_in_pages(
                conn,
                Api::all(conn.client.clone()),
                "rolebindings",
                "",
                page,
            )
            .await
            .expect("listed")
            .expect("readable");
            (roles, bindings)
        }
    };
    let (one_roles, one_bindings) = list(5000).await;
    let (roles, bindings) = list(7).await;
    assert!(
        one_roles.len() > 7 * 3 && one_bindings.len() > 7,
        "too few objects to need pages: {} ClusterRoles, {} RoleBindings",
        one_roles.len(),
        one_bindings.len()
    );
    assert_eq!(roles, one_roles);
    assert_eq!(bindings, one_bindings);
    // Trimmed as it was read: no managedFields, uid or resourceVersion was kept.
    assert!(roles.iter().all(|r| r.metadata.managed_fields.is_none()
        && r.metadata.uid.is_none()
        && r.metadata.resource_version.is_none()));
}

/// The audit asks for LISTs in the API server's protobuf (`audit::page_proto`), with JSON
/// as the reference: every kind it lists, with the shapes that protobuf and JSON write
/// differently (empty strings and lists, which JSON omits; an aggregation rule; rules of every
/// field; annotations kept and skipped, one with non-ASCII text), reads the same objects from
/// both answers of the server, and `list_in_pages` reads what the JSON answer holds.
#[test]
fn protobuf_answers_read_as_the_json_answers() {
    serialized(protobuf_answers_alone());
}

async fn protobuf_answers_alone() {
    use chronom::flows::audit::ACCEPT_LIST;
    use chronom_core::eks::pod_roles::IRSA_ANNOTATION;
    use chronom_core::readonly_role::PROFILE_ANNOTATION;
    use k8s_openapi::api::core::v1::ServiceAccount;
    let cp = control_plane();
    let id = crate::support::unique_name("enc");
    let label = format!("chronom-test/encoding: {id}");
    crate::support::cluster::kubectl_apply(
        cp,
        &format!(
            "\
apiVersion: v1
kind: Namespace
metadata: {{name: {id}, labels: {{{label}}}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {id}-rules
  labels: {{{label}}}
  annotations: {{{PROFILE_ANNOTATION}: \"read-only, naïve ✓\", other: \"{big}\"}}
rules:
- {{apiGroups: [\"\"], resources: [pods, pods/log], verbs: [get, list], resourceNames: [a, b]}}
- {{nonResourceURLs: [/healthz, /version], verbs: [get]}}
- {{apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {id}-empty, labels: {{{label}}}}}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {id}-agg, labels: {{{label}}}}}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {{{id}/agg: \"true\"}}
  - matchExpressions:
    - {{key: {id}/tier, operator: In, values: [a, b]}}
    - {{key: {id}/any, operator: Exists}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: {id}-role, namespace: {id}, labels: {{{label}}}}}
rules:
- {{apiGroups: [apps], resources: [deployments], verbs: [get]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {id}-rb, namespace: {id}, labels: {{{label}}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {id}-role}}
subjects:
- {{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}}
- {{kind: Group, apiGroup: rbac.authorization.k8s.io, name: team}}
- {{kind: ServiceAccount, name: sa, namespace: {id}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {id}-nobody, namespace: {id}, labels: {{{label}}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {id}-rules}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {id}-crb, labels: {{{label}}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {id}-agg}}
subjects:
- {{kind: ServiceAccount, name: sa, namespace: {id}}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
  namespace: {id}
  labels: {{{label}}}
  annotations: {{{IRSA_ANNOTATION}: \"arn:aws:iam::111122223333:role/enc\"}}
",
            big = "x".repeat(20_000),
        ),
    );
    let conn = admin(cp).await;
    let selector = format!("chronom-test/encoding={id}");
    // Removed however the test ends: a Role that is not UTF-8 left behind would send every
    // later Role LIST of this module through the JSON retry.
    let _cleanup = Labelled(cp, selector.clone());
    let rules = both_ways::<ClusterRole>(&conn, &selector, 3).await;
    let r = rules
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(&format!("{id}-rules")));
    let r = r.expect("the ClusterRole with rules is listed");
    assert_eq!(
        r.metadata.annotations,
        Some(BTreeMap::from([(
            PROFILE_ANNOTATION.to_string(),
            "read-only, naïve ✓".to_string()
        )])),
        "the kept annotation, and only it"
    );
    both_ways::<ClusterRoleBinding>(&conn, &selector, 1).await;
    both_ways::<Role>(&conn, &selector, 1).await;
    both_ways::<RoleBinding>(&conn, &selector, 2).await;
    let sas = both_ways::<ServiceAccount>(&conn, &selector, 1).await;
    assert!(
        sas[0].metadata.annotations.is_some(),
        "the IRSA annotation is kept"
    );

    // A Role written in protobuf with a resource that is not UTF-8 (kubectl, writing JSON,
    // cannot make one): its protobuf answer cannot be read, so the page is asked again as JSON,
    // where the server writes the bytes replaced (U+FFFD).
    create_role_not_utf8(&conn, &id, &selector).await;
    let roles: Vec<Role> = listed(&conn).await;
    let ours = roles
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(&format!("{id}-bytes")));
    let ours = ours.expect("the Role that is not UTF-8 is listed");
    assert_eq!(
        ours.rules.as_ref().unwrap()[0].resources,
        Some(vec!["\u{fffd}bad".to_string()]),
        "read as the JSON answer carries it"
    );

    // The product's own listing: what the JSON answer of everything holds.
    for attempt in 1.. {
        let ours: Vec<ClusterRole> = listed(&conn).await;
        let json: Vec<ClusterRole> = as_json(&conn, "").await;
        let bindings: Vec<RoleBinding> = listed(&conn).await;
        let json_bindings: Vec<RoleBinding> = as_json(&conn, "").await;
        // Roles: the kind whose page was asked again as JSON, nothing read twice.
        let roles: Vec<Role> = listed(&conn).await;
        let json_roles: Vec<Role> = as_json(&conn, "").await;
        if (ours == json && bindings == json_bindings && roles == json_roles) || attempt == 3 {
            assert_eq!(ours, json, "ClusterRoles by list_in_pages and as JSON");
            assert_eq!(
                bindings, json_bindings,
                "RoleBindings by list_in_pages and as JSON"
            );
            assert_eq!(roles, json_roles, "Roles by list_in_pages and as JSON");
            break;
        }
    }

    async fn listed<K>(conn: &Connection) -> Vec<K>
    where
        K: kube::Resource<DynamicType = ()> + chronom_core::audit::page_proto::FromProtobuf,
    {
        chronom::flows::audit::list_in_pages(conn, Api::<K>::all(conn.client.clone()), "k", "", 500)
            .await
            .expect("listed")
            .expect("readable")
    }

    /// The JSON answer, read by the JSON reader.
    async fn as_json<K>(conn: &Connection, selector: &str) -> Vec<K>
    where
        K: kube::Resource<DynamicType = ()> + chronom_core::audit::page_proto::FromProtobuf,
    {
        let api = Api::<K>::all(conn.client.clone());
        let req = kube::core::Request::new(api.resource_url())
            .list(&kube::api::ListParams::default().labels(selector))
            .expect("request");
        let text = conn.client.request_text(req).await.expect("JSON answer");
        let mut items = Vec::new();
        chronom_core::audit::trimmed::PageInto {
            items: &mut items,
            limit: None,
        }
        .read(text.as_bytes())
        .expect("read as JSON");
        items
    }

    /// The labelled objects of a kind, read from the protobuf answer and from the JSON one:
    /// the same, `n` of them.
    async fn both_ways<K>(conn: &Connection, selector: &str, n: usize) -> Vec<K>
    where
        K: kube::Resource<DynamicType = ()>
            + chronom_core::audit::page_proto::FromProtobuf
            + PartialEq
            + std::fmt::Debug,
    {
        let api = Api::<K>::all(conn.client.clone());
        let mut req = kube::core::Request::new(api.resource_url())
            .list(&kube::api::ListParams::default().labels(selector))
            .expect("request");
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static(ACCEPT_LIST),
        );
        let res = conn
            .client
            .send(req.map(kube::client::Body::from))
            .await
            .expect("answer");
        let kind = K::kind(&());
        // The plugin's own test of an answer's media type, on the server's real header.
        assert!(
            chronom::flows::audit::answers_protobuf(res.headers()),
            "{kind}: the server answers protobuf, and the plugin sees it: {:?}",
            res.headers().get(http::header::CONTENT_TYPE)
        );
        let body = res.into_body().collect_bytes().await.expect("body");
        let mut from_proto = Vec::new();
        chronom_core::audit::page_proto::read_page(body, &mut from_proto)
            .expect("read as protobuf");
        let from_json: Vec<K> = as_json(conn, selector).await;
        assert_eq!(from_proto.len(), n, "{kind}: the labelled objects");
        assert_eq!(
            from_proto, from_json,
            "{kind}: read from protobuf and from JSON"
        );
        from_proto
    }
}

/// POST a Role in protobuf, one rule reading resource `\xffbad`, labelled `selector`.
async fn create_role_not_utf8(conn: &Connection, id: &str, selector: &str) {
    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    /// A length-delimited field: `field`, its length, its bytes.
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2];
        varint(bytes.len(), &mut out);
        out.extend_from_slice(bytes);
        out
    }
    let (key, value) = selector.split_once('=').expect("key=value");
    let label = [field(1, key.as_bytes()), field(2, value.as_bytes())].concat();
    let name = format!("{id}-bytes");
    let metadata = [
        field(1, name.as_bytes()),
        field(3, id.as_bytes()),
        field(11, &label),
    ]
    .concat();
    let rule = [field(1, b"get"), field(2, b""), field(3, b"\xffbad")].concat();
    let role = [field(1, &metadata), field(2, &rule)].concat();
    let type_meta = [field(1, b"rbac.authorization.k8s.io/v1"), field(2, b"Role")].concat();
    let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &role)].concat();
    let req = http::Request::post(format!(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{id}/roles"
    ))
    .header(
        http::header::CONTENT_TYPE,
        "application/vnd.kubernetes.protobuf",
    )
    .header(http::header::ACCEPT, "application/json")
    .body(body)
    .expect("request");
    conn.client
        .request_text(req)
        .await
        .expect("the API server takes a Role in protobuf");
}

/// Deletes what carries the label selector when dropped (the namespaced objects go with their
/// namespace); it does not panic, since it may run while a failed assertion unwinds.
struct Labelled<'a>(&'a ControlPlane, String);

impl Drop for Labelled<'_> {
    fn drop(&mut self) {
        let kinds = "clusterroles,clusterrolebindings,namespaces";
        let deleted = self
            .0
            .kubectl("chronom-admin")
            .args(["delete", kinds, "-l", &self.1, "--wait=false"])
            .output();
        if !deleted.is_ok_and(|o| o.status.success()) {
            eprintln!("could not delete the objects labelled {}", self.1);
        }
    }
}
