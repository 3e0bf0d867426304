//! RBAC evaluation semantics (matching the Kubernetes RBAC authorizer), who-can without the
//! known gaps of kubectl-who-can, and property tests of the evaluator against an oracle written
//! here from the Kubernetes source: RuleAllows and its helpers (module `kubernetes` below) and a
//! naive scan that transcribes VisitRulesFor (pkg/registry/rbac/validation/rule.go) literally.
//! Nothing in the oracle calls the core's RBAC matching code (crates/chronom-core/src/rbac), so
//! a bug there cannot hide in both.

use chronom_core::rbac::{
    AccessSummary, BindingKind, Identity, QueryScope, RbacObjects, RbacSnapshot, Request,
    ResourceCatalog, ResourceRequest, RuleSource, Scope, SubjectKind, WhoCanRow, lookup,
    parse_request, who_can,
};
use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use proptest::prelude::*;

// ---------- builders ----------

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        non_resource_urls: None,
    }
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        non_resource_urls: Some(strings(urls)),
        ..Default::default()
    }
}

fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        ..Default::default()
    }
}

fn cr(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: meta(None, name),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

fn role(ns: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(Some(ns), name),
        rules: Some(rules),
    }
}

fn rref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
    }
}

fn crb(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(None, name),
        role_ref: rref("ClusterRole", role),
        subjects: Some(subjects),
    }
}

fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: meta(Some(ns), name),
        role_ref: rref(kind, role),
        subjects: Some(subjects),
    }
}

fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
    Subject {
        api_group: (kind != "ServiceAccount").then(|| "rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
        namespace: ns.map(Into::into),
    }
}

fn user(n: &str) -> Subject {
    subject("User", n, None)
}

fn group(n: &str) -> Subject {
    subject("Group", n, None)
}

fn snapshot(
    crs: Vec<ClusterRole>,
    crbs: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    rbs: Vec<RoleBinding>,
) -> RbacSnapshot {
    RbacSnapshot::from_parts(crs, crbs, roles, rbs, RuleSource::AsStored)
}

fn catalog() -> ResourceCatalog {
    ResourceCatalog::builtin()
}

fn req(s: &str, ns: Option<&str>) -> Request {
    parse_request(s, &catalog()).unwrap().with_namespace(ns)
}

fn allowed(s: &RbacSnapshot, id: &Identity, r: &str, ns: Option<&str>) -> bool {
    s.allows(id, &req(r, ns)).allowed
}

fn who(s: &RbacSnapshot, r: &str, scope: QueryScope) -> Vec<String> {
    who_can(s, &req(r, None), &scope)
        .into_iter()
        .filter(|row| row.via_binding.is_some())
        .map(|row| format!("{}:{}@{}", row.subject_kind, row.subject_name, row.scope))
        .collect()
}

// ---------- evaluator semantics ----------

#[test]
fn system_masters_is_allowed_everything_by_the_privileged_group_authorizer() {
    let s = snapshot(vec![], vec![], vec![], vec![]);
    let root = Identity::user("root", &["system:masters"]);
    for r in [
        "delete nodes",
        "escalate clusterroles",
        "impersonate users",
        "get /anything",
    ] {
        let d = s.allows(&root, &req(r, None));
        assert!(d.allowed, "{r}");
        assert_eq!(d.privileged_group.as_deref(), Some("system:masters"));
        assert!(
            !s.rbac_allows(&root, &req(r, None)).allowed,
            "RBAC alone says no: {r}"
        );
    }
}

#[test]
fn bindings_scope_roles() {
    let s = snapshot(
        vec![cr(
            "reader",
            vec![rule(&["get", "list"], &[""], &["pods"], &[])],
        )],
        vec![crb("everyone-reads", "reader", vec![group("readers")])],
        vec![role(
            "dev",
            "dev-writer",
            vec![rule(&["create"], &[""], &["pods"], &[])],
        )],
        vec![
            rb("dev", "w", "Role", "dev-writer", vec![user("w")]),
            rb("dev", "r", "ClusterRole", "reader", vec![user("r")]),
        ],
    );
    let reader = Identity::user("x", &["readers"]);
    assert!(
        allowed(&s, &reader, "list pods", None),
        "ClusterRoleBinding: cluster-wide"
    );
    assert!(allowed(&s, &reader, "list pods", Some("any")));
    let w = Identity::user("w", &[]);
    assert!(allowed(&s, &w, "create pods", Some("dev")));
    assert!(!allowed(&s, &w, "create pods", Some("prod")));
    assert!(
        !allowed(&s, &w, "create pods", None),
        "all namespaces: only cluster-wide grants count"
    );
    let r = Identity::user("r", &[]);
    assert!(
        allowed(&s, &r, "list pods", Some("dev")),
        "RoleBinding -> ClusterRole, in the binding's namespace"
    );
    assert!(!allowed(&s, &r, "list pods", Some("prod")));
    assert!(!allowed(&s, &r, "list pods", None));
}

#[test]
fn wildcards() {
    let s = snapshot(
        vec![
            cr("verbs", vec![rule(&["*"], &[""], &["configmaps"], &[])]),
            cr(
                "groups",
                vec![rule(&["get"], &["*"], &["deployments"], &[])],
            ),
            cr("resources", vec![rule(&["list"], &["apps"], &["*"], &[])]),
        ],
        vec![
            crb("v", "verbs", vec![user("v")]),
            crb("g", "groups", vec![user("g")]),
            crb("r", "resources", vec![user("r")]),
        ],
        vec![],
        vec![],
    );
    let (v, g, r) = (
        Identity::user("v", &[]),
        Identity::user("g", &[]),
        Identity::user("r", &[]),
    );
    assert!(allowed(&s, &v, "deletecollection configmaps", None));
    assert!(allowed(&s, &v, "frobnicate configmaps", None));
    assert!(!allowed(&s, &v, "get secrets", None));
    assert!(allowed(&s, &g, "get deployments.apps", None));
    assert!(allowed(&s, &g, "get deployments.example.com", None));
    assert!(
        !allowed(&s, &g, "get deployments/scale", None),
        "resource wildcard is not implied"
    );
    assert!(allowed(&s, &r, "list statefulsets", None));
    assert!(
        allowed(&s, &r, "list deployments/scale", None),
        "`*` covers subresources"
    );
    assert!(
        !allowed(&s, &r, "list pods", None),
        "core group is not apps"
    );
}

#[test]
fn resource_names_never_match_requests_without_a_name() {
    let s = snapshot(
        vec![cr(
            "named",
            vec![rule(
                &[
                    "get",
                    "list",
                    "watch",
                    "create",
                    "delete",
                    "deletecollection",
                    "update",
                ],
                &[""],
                &["configmaps"],
                &["a"],
            )],
        )],
        vec![crb("n", "named", vec![user("n")])],
        vec![],
        vec![],
    );
    let n = Identity::user("n", &[]);
    for r in [
        "get configmaps/a",
        "update configmaps/a",
        "delete configmaps/a",
        "list configmaps/a",
        "watch configmaps/a",
    ] {
        assert!(allowed(&s, &n, r, Some("x")), "{r}");
    }
    for r in [
        "get configmaps",
        "list configmaps",
        "watch configmaps",
        "create configmaps",
        "deletecollection configmaps",
        "get configmaps/b",
    ] {
        assert!(!allowed(&s, &n, r, Some("x")), "{r}");
    }
}

#[test]
fn subresources_exactly_as_resource_matches() {
    let s = snapshot(
        vec![
            cr("exec", vec![rule(&["create"], &[""], &["pods/exec"], &[])]),
            cr("scale", vec![rule(&["update"], &["*"], &["*/scale"], &[])]),
            cr("pods-star", vec![rule(&["get"], &[""], &["pods/*"], &[])]),
        ],
        vec![
            crb("e", "exec", vec![user("e")]),
            crb("s", "scale", vec![user("s")]),
            crb("p", "pods-star", vec![user("p")]),
        ],
        vec![],
        vec![],
    );
    let (e, sc, p) = (
        Identity::user("e", &[]),
        Identity::user("s", &[]),
        Identity::user("p", &[]),
    );
    assert!(allowed(&s, &e, "create pods/web-0/exec", Some("x")));
    assert!(!allowed(&s, &e, "create pods/web-0/attach", Some("x")));
    assert!(!allowed(&s, &e, "create pods", Some("x")));
    assert!(allowed(&s, &sc, "update deployments/web/scale", Some("x")));
    assert!(allowed(&s, &sc, "update statefulsets/scale", Some("x")));
    assert!(allowed(
        &s,
        &sc,
        "update widgets.example.com/scale",
        Some("x")
    ));
    assert!(!allowed(&s, &sc, "update deployments", Some("x")));
    assert!(
        !allowed(&s, &p, "get pods/web-0/log", Some("x")),
        "`pods/*` is not a pattern"
    );
    assert!(!allowed(&s, &p, "get pods", Some("x")));
}

#[test]
fn non_resource_urls_with_trailing_star() {
    let s = snapshot(
        vec![cr(
            "logs",
            vec![url_rule(&["get"], &["/logs/*", "/healthz"])],
        )],
        vec![crb("l", "logs", vec![user("l")])],
        vec![],
        vec![rb(
            "dev",
            "l-dev",
            "ClusterRole",
            "logs",
            vec![user("only-rb")],
        )],
    );
    let l = Identity::user("l", &[]);
    assert!(allowed(&s, &l, "get /logs/", None));
    assert!(allowed(&s, &l, "get /logs/kube-apiserver.log", None));
    assert!(!allowed(&s, &l, "get /logs", None));
    assert!(allowed(&s, &l, "get /healthz", None));
    assert!(!allowed(&s, &l, "get /healthz/etcd", None));
    assert!(!allowed(&s, &l, "post /healthz", None));
    // Non-resource requests have no namespace, so RoleBindings never grant them.
    assert!(!allowed(
        &s,
        &Identity::user("only-rb", &[]),
        "get /healthz",
        None
    ));
}

#[test]
fn dangling_bindings_grant_nothing_and_are_reported() {
    let s = snapshot(
        vec![cr("real", vec![rule(&["get"], &[""], &["pods"], &[])])],
        vec![
            crb("gone", "deleted-role", vec![user("u")]),
            crb("ok", "real", vec![user("u")]),
        ],
        vec![],
        vec![rb("dev", "gone-role", "Role", "nope", vec![user("u")])],
    );
    let u = Identity::user("u", &[]);
    let d = s.allows(&u, &req("get pods", Some("dev")));
    assert!(d.allowed);
    assert_eq!(d.reasons.len(), 1);
    let mut dangling: Vec<_> = d.dangling.iter().map(|x| x.binding.name.clone()).collect();
    dangling.sort();
    assert_eq!(dangling, vec!["gone", "gone-role"]);
    assert_eq!(s.dangling_bindings().len(), 2);
    assert!(!s.allows(&u, &req("list pods", Some("dev"))).allowed);
}

#[test]
fn service_account_subjects_and_groups() {
    let s = snapshot(
        vec![cr("r", vec![rule(&["get"], &[""], &["pods"], &[])])],
        vec![
            crb(
                "sa-explicit",
                "r",
                vec![subject("ServiceAccount", "a", Some("ns1"))],
            ),
            crb("sa-no-ns", "r", vec![subject("ServiceAccount", "b", None)]),
            crb(
                "all-sa-in-ns2",
                "r",
                vec![group("system:serviceaccounts:ns2")],
            ),
        ],
        vec![],
        vec![rb(
            "ns3",
            "local",
            "ClusterRole",
            "r",
            vec![subject("ServiceAccount", "c", None)],
        )],
    );
    assert!(allowed(
        &s,
        &Identity::service_account("ns1", "a"),
        "get pods",
        None
    ));
    assert!(
        !allowed(&s, &Identity::service_account("ns4", "a"), "get pods", None),
        "ns1:a is not ns4:a"
    );
    assert!(
        !allowed(
            &s,
            &Identity::service_account("default", "b"),
            "get pods",
            Some("default")
        ),
        "CRB SA without namespace never matches"
    );
    assert!(allowed(
        &s,
        &Identity::service_account("ns2", "anything"),
        "get pods",
        None
    ));
    assert!(allowed(
        &s,
        &Identity::service_account("ns3", "c"),
        "get pods",
        Some("ns3")
    ));
    assert!(!allowed(
        &s,
        &Identity::service_account("other", "c"),
        "get pods",
        Some("ns3")
    ));
    // A SubjectAccessReview adds no groups: the same SA as an exact identity without groups.
    assert!(!allowed(
        &s,
        &Identity::exact("system:serviceaccount:ns2:x", &[]),
        "get pods",
        None
    ));
}

#[test]
fn aggregation_offline_versus_as_stored() {
    let objects = RbacObjects {
        cluster_roles: vec![
            ClusterRole {
                metadata: meta(None, "monitoring"),
                rules: Some(vec![]),
                aggregation_rule: Some(AggregationRule {
                    cluster_role_selectors: Some(vec![LabelSelector {
                        match_labels: Some(
                            [("aggregate-to-monitoring".to_string(), "true".to_string())].into(),
                        ),
                        match_expressions: None,
                    }]),
                }),
            },
            ClusterRole {
                metadata: ObjectMeta {
                    labels: Some(
                        [("aggregate-to-monitoring".to_string(), "true".to_string())].into(),
                    ),
                    ..meta(None, "prom-piece")
                },
                rules: Some(vec![rule(&["list"], &[""], &["endpoints"], &[])]),
                aggregation_rule: None,
            },
        ],
        cluster_role_bindings: vec![crb("m", "monitoring", vec![user("prom")])],
        ..Default::default()
    };
    let prom = Identity::user("prom", &[]);
    let offline = RbacSnapshot::new(objects.clone(), RuleSource::Aggregate);
    assert!(allowed(&offline, &prom, "list endpoints", None));
    let live = RbacSnapshot::new(objects, RuleSource::AsStored);
    assert!(
        !allowed(&live, &prom, "list endpoints", None),
        "as stored: the controller has not run"
    );
}

// ---------- who-can without the peers' gaps ----------

fn peer_gap_snapshot() -> RbacSnapshot {
    snapshot(
        vec![
            cr("logs-reader", vec![url_rule(&["get"], &["/logs/*"])]),
            cr("everything-urls", vec![url_rule(&["*"], &["*"])]),
            cr(
                "scaler",
                vec![rule(&["update", "patch"], &["*"], &["*/scale"], &[])],
            ),
            cr(
                "one-secret",
                vec![rule(&["get"], &[""], &["secrets"], &["db-password"])],
            ),
            cr(
                "all-secrets",
                vec![rule(&["get"], &[""], &["secrets"], &[])],
            ),
            cr(
                "binder",
                vec![rule(
                    &["bind"],
                    &["rbac.authorization.k8s.io"],
                    &["clusterroles"],
                    &[],
                )],
            ),
            cr(
                "escalator",
                vec![rule(
                    &["escalate"],
                    &["rbac.authorization.k8s.io"],
                    &["roles", "clusterroles"],
                    &[],
                )],
            ),
            cr(
                "impersonator",
                vec![rule(&["impersonate"], &[""], &["users", "groups"], &[])],
            ),
            cr(
                "old-deployments",
                vec![rule(&["create"], &["extensions"], &["deployments"], &[])],
            ),
            cr("pod-reader", vec![rule(&["list"], &[""], &["pods"], &[])]),
        ],
        vec![
            crb("logs", "logs-reader", vec![user("log-user")]),
            crb("urls", "everything-urls", vec![user("url-admin")]),
            crb("scale", "scaler", vec![user("autoscaler")]),
            crb("one-secret", "one-secret", vec![user("narrow")]),
            crb("all-secrets", "all-secrets", vec![user("broad")]),
            crb("bind", "binder", vec![user("binder")]),
            crb("escalate", "escalator", vec![user("escalator")]),
            crb("impersonate", "impersonator", vec![user("impersonator")]),
            crb("old", "old-deployments", vec![user("legacy")]),
        ],
        vec![],
        vec![
            rb(
                "team-a",
                "readers",
                "ClusterRole",
                "pod-reader",
                vec![user("ann")],
            ),
            rb(
                "team-b",
                "readers",
                "ClusterRole",
                "pod-reader",
                vec![user("ben"), subject("ServiceAccount", "bot", None)],
            ),
        ],
    )
}

#[test]
fn who_can_non_resource_urls_with_star() {
    let s = peer_gap_snapshot();
    assert_eq!(
        who(
            &s,
            "get /logs/kube-apiserver.log",
            QueryScope::ClusterScoped
        ),
        vec!["User:log-user@cluster-wide", "User:url-admin@cluster-wide"]
    );
    assert_eq!(
        who(&s, "delete /metrics", QueryScope::AllNamespaces),
        vec!["User:url-admin@cluster-wide"]
    );
}

#[test]
fn who_can_star_subresource_rules() {
    let s = peer_gap_snapshot();
    assert_eq!(
        who(
            &s,
            "patch deployments/scale",
            QueryScope::Namespace("x".into())
        ),
        vec!["User:autoscaler@cluster-wide"]
    );
    assert!(who(&s, "patch deployments", QueryScope::Namespace("x".into())).is_empty());
}

#[test]
fn who_can_resource_names_are_not_broad_grants() {
    let s = peer_gap_snapshot();
    assert_eq!(
        who(&s, "get secrets", QueryScope::Namespace("x".into())),
        vec!["User:broad@cluster-wide"]
    );
    assert_eq!(
        who(
            &s,
            "get secrets/db-password",
            QueryScope::Namespace("x".into())
        ),
        vec!["User:broad@cluster-wide", "User:narrow@cluster-wide"]
    );
    assert_eq!(
        who(&s, "get secrets/other", QueryScope::Namespace("x".into())),
        vec!["User:broad@cluster-wide"]
    );
}

#[test]
fn who_can_accepts_bind_escalate_impersonate() {
    let s = peer_gap_snapshot();
    assert_eq!(
        who(&s, "bind clusterroles", QueryScope::ClusterScoped),
        vec!["User:binder@cluster-wide"]
    );
    assert_eq!(
        who(&s, "escalate roles", QueryScope::Namespace("x".into())),
        vec!["User:escalator@cluster-wide"]
    );
    assert_eq!(
        who(&s, "impersonate users", QueryScope::ClusterScoped),
        vec!["User:impersonator@cluster-wide"]
    );
    assert_eq!(
        who(
            &s,
            "impersonate groups/system:masters",
            QueryScope::ClusterScoped
        ),
        vec!["User:impersonator@cluster-wide"]
    );
}

#[test]
fn who_can_all_namespaces_keeps_role_bindings() {
    let s = peer_gap_snapshot();
    let rows = who_can(&s, &req("list pods", None), &QueryScope::AllNamespaces);
    let rb_rows: Vec<&WhoCanRow> = rows
        .iter()
        .filter(|r| matches!(r.scope, Scope::Namespace(_)))
        .collect();
    assert_eq!(rb_rows.len(), 3);
    assert!(
        rb_rows
            .iter()
            .all(|r| r.via_binding.as_ref().unwrap().kind == BindingKind::RoleBinding)
    );
    let bot = rb_rows
        .iter()
        .find(|r| r.subject_kind == SubjectKind::ServiceAccount)
        .unwrap();
    assert_eq!(bot.subject_namespace.as_deref(), Some("team-b"));
    assert_eq!(bot.scope, Scope::Namespace("team-b".into()));
    // One namespace: only its RoleBindings.
    assert_eq!(
        who(&s, "list pods", QueryScope::Namespace("team-a".into())),
        vec!["User:ann@team-a"]
    );
    // Cluster-wide: no RoleBinding can grant a list across all namespaces.
    assert!(who(&s, "list pods", QueryScope::ClusterScoped).is_empty());
}

#[test]
fn who_can_checks_api_groups() {
    let s = peer_gap_snapshot();
    assert!(
        who(&s, "create deployments", QueryScope::Namespace("x".into())).is_empty(),
        "extensions is not apps"
    );
    assert_eq!(
        who(
            &s,
            "create deployments.extensions",
            QueryScope::Namespace("x".into())
        ),
        vec!["User:legacy@cluster-wide"]
    );
}

#[test]
fn who_can_always_lists_system_masters_first() {
    let s = peer_gap_snapshot();
    let rows = who_can(&s, &req("delete nodes", None), &QueryScope::ClusterScoped);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].subject_name, "system:masters");
    assert!(rows[0].via_binding.is_none());
}

#[test]
fn lookup_like_rbac_lookup() {
    let s = peer_gap_snapshot();
    let rows = lookup(
        &s,
        &chronom_core::rbac::SubjectRef::parse_service_account("team-b:bot").unwrap(),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].scope, Scope::Namespace("team-b".into()));
    assert_eq!(rows[0].role.name, "pod-reader");
}

#[test]
fn summaries_for_the_read_only_grant_shapes() {
    let read_all = cr(
        "chronom-read-only",
        vec![rule(&["get", "list", "watch"], &["*"], &["*"], &[])],
    );
    let s = snapshot(
        vec![read_all],
        vec![crb(
            "chronom",
            "chronom-read-only",
            vec![group("chronom-readers")],
        )],
        vec![],
        vec![],
    );
    assert_eq!(
        s.effective_summary(&Identity::user("iam-role", &["chronom-readers"])),
        AccessSummary::ReadAll
    );
    assert_eq!(
        s.effective_summary(&Identity::user("iam-role", &[])),
        AccessSummary::None
    );
}

// ---------- the oracle: Kubernetes' RuleAllows, transcribed ----------

/// Transcribed statement by statement from Kubernetes v1.37.2 (the release tests/control-plane
/// builds; read from the `k8s.io/kubernetes@v1.37.2` module source):
/// - `pkg/apis/rbac/v1/evaluation_helpers.go`: VerbMatches, APIGroupMatches, ResourceMatches,
///   ResourceNameMatches, NonResourceURLMatches;
/// - `plugin/pkg/auth/authorizer/rbac/rbac.go`: RuleAllows.
///
/// Kept deliberately literal (loops, early returns, the length test of the `*/subresource` form,
/// `strings.TrimRight`) rather than idiomatic, so that it reads line for line against the Go and
/// shares no code with crates/chronom-core/src/rbac/rule.rs. Go's nil and empty slices are both
/// `None`/empty here.
mod kubernetes {
    use chronom_core::rbac::Request;
    use k8s_openapi::api::rbac::v1::PolicyRule;

    // k8s.io/api/rbac/v1 types.go
    const VERB_ALL: &str = "*";
    const API_GROUP_ALL: &str = "*";
    const RESOURCE_ALL: &str = "*";
    const NON_RESOURCE_ALL: &str = "*";

    fn slice(v: &Option<Vec<String>>) -> &[String] {
        v.as_deref().unwrap_or(&[])
    }

    pub fn verb_matches(rule: &PolicyRule, requested_verb: &str) -> bool {
        for rule_verb in &rule.verbs {
            if rule_verb == VERB_ALL {
                return true;
            }
            if rule_verb == requested_verb {
                return true;
            }
        }
        false
    }

    pub fn api_group_matches(rule: &PolicyRule, requested_group: &str) -> bool {
        for rule_group in slice(&rule.api_groups) {
            if rule_group == API_GROUP_ALL {
                return true;
            }
            if rule_group == requested_group {
                return true;
            }
        }
        false
    }

    pub fn resource_matches(
        rule: &PolicyRule,
        combined_requested_resource: &str,
        requested_subresource: &str,
    ) -> bool {
        for rule_resource in slice(&rule.resources) {
            // if everything is allowed, we match
            if rule_resource == RESOURCE_ALL {
                return true;
            }
            // if we have an exact match, we match
            if rule_resource == combined_requested_resource {
                return true;
            }
            // We can also match a */subresource.
            // if there isn't a subresource, then continue
            if requested_subresource.is_empty() {
                continue;
            }
            // if the rule isn't in the format */subresource, then we don't match, continue
            if rule_resource.len() == requested_subresource.len() + 2
                && rule_resource.starts_with("*/")
                && rule_resource.ends_with(requested_subresource)
            {
                return true;
            }
        }
        false
    }

    pub fn resource_name_matches(rule: &PolicyRule, requested_name: &str) -> bool {
        if slice(&rule.resource_names).is_empty() {
            return true;
        }
        for rule_name in slice(&rule.resource_names) {
            if rule_name == requested_name {
                return true;
            }
        }
        false
    }

    pub fn non_resource_url_matches(rule: &PolicyRule, requested_url: &str) -> bool {
        for rule_url in slice(&rule.non_resource_urls) {
            if rule_url == NON_RESOURCE_ALL {
                return true;
            }
            if rule_url == requested_url {
                return true;
            }
            // strings.HasSuffix(ruleURL, "*") && strings.HasPrefix(requestedURL, strings.TrimRight(ruleURL, "*"))
            if rule_url.ends_with('*') && requested_url.starts_with(rule_url.trim_end_matches('*'))
            {
                return true;
            }
        }
        false
    }

    /// RuleAllows. The request's fields are read the way authorizer.Attributes hands them out:
    /// an absent subresource or name is the empty string.
    pub fn rule_allows(request: &Request, rule: &PolicyRule) -> bool {
        match request {
            // requestAttributes.IsResourceRequest()
            Request::Resource(r) => {
                let subresource = r.subresource.clone().unwrap_or_default();
                let mut combined_resource = r.resource.clone();
                if !subresource.is_empty() {
                    combined_resource = format!("{}/{}", r.resource, subresource);
                }
                verb_matches(rule, &r.verb)
                    && api_group_matches(rule, &r.api_group)
                    && resource_matches(rule, &combined_resource, &subresource)
                    && resource_name_matches(rule, &r.name.clone().unwrap_or_default())
            }
            Request::NonResource(r) => {
                verb_matches(rule, &r.verb) && non_resource_url_matches(rule, &r.path)
            }
        }
    }
}

/// The oracle itself against cases worked out by hand from the Go code, so that a slip in the
/// transcription shows up here and not as a disagreement blamed on the evaluator.
#[test]
fn the_transcribed_oracle_keeps_the_documented_cases() {
    let res = |v: &str, g: &str, r: &str, sub: Option<&str>, name: Option<&str>| {
        let mut rr = ResourceRequest::new(v, g, r);
        rr.subresource = sub.map(Into::into);
        rr.name = name.map(Into::into);
        Request::Resource(rr)
    };
    let allows = |rule: &PolicyRule, request: &Request| kubernetes::rule_allows(request, rule);
    let star_scale = rule(&["update"], &["*"], &["*/scale"], &[]);
    assert!(allows(
        &star_scale,
        &res("update", "apps", "deployments", Some("scale"), None)
    ));
    assert!(!allows(
        &star_scale,
        &res("update", "apps", "deployments", Some("rescale"), None)
    ));
    assert!(!allows(
        &star_scale,
        &res("update", "apps", "deployments", None, None)
    ));
    // HasSuffix alone would let `*/xexec` match the subresource `exec`: the length test stops it.
    let star_xexec = rule(&["create"], &[""], &["*/xexec"], &[]);
    assert!(!allows(
        &star_xexec,
        &res("create", "", "pods", Some("exec"), None)
    ));
    let pods_star = rule(&["get"], &[""], &["pods/*"], &[]);
    assert!(!allows(
        &pods_star,
        &res("get", "", "pods", Some("log"), None)
    ));
    let all = rule(&["*"], &["*"], &["*"], &[]);
    assert!(allows(
        &all,
        &res("create", "", "pods", Some("exec"), Some("p"))
    ));
    assert!(!allows(&all, &Request::non_resource("get", "/healthz")));
    let named = rule(&["get", "list"], &[""], &["secrets"], &["a"]);
    assert!(allows(&named, &res("get", "", "secrets", None, Some("a"))));
    assert!(!allows(&named, &res("list", "", "secrets", None, None)));
    let urls = url_rule(&["get"], &["/apis/*", "/healthz", "/logs**"]);
    assert!(allows(&urls, &Request::non_resource("get", "/apis/")));
    assert!(allows(
        &urls,
        &Request::non_resource("get", "/apis/apps/v1")
    ));
    assert!(!allows(&urls, &Request::non_resource("get", "/apis")));
    assert!(allows(&urls, &Request::non_resource("get", "/logsx")));
    assert!(!allows(
        &urls,
        &Request::non_resource("get", "/healthz/etcd")
    ));
    assert!(!allows(&urls, &Request::non_resource("post", "/healthz")));
}

// ---------- property: the indexes change nothing ----------

/// VisitRulesFor, transcribed without indexes: every ClusterRoleBinding, then, for a non-empty
/// namespace, every RoleBinding of that namespace; appliesTo; GetRoleReferenceRules; and the
/// transcribed RuleAllows (`kubernetes::rule_allows`), never src's own matcher.
fn naive_grants(
    o: &RbacObjects,
    id: &Identity,
    request: &Request,
) -> Vec<(BindingKind, String, String, usize)> {
    fn applies(id: &Identity, subjects: &[Subject], ns: &str) -> bool {
        subjects.iter().any(|s| match s.kind.as_str() {
            "User" => s.name == id.user,
            "Group" => id.groups.contains(&s.name),
            "ServiceAccount" => {
                let sa_ns = s
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ns.to_string());
                !sa_ns.is_empty() && id.user == format!("system:serviceaccount:{sa_ns}:{}", s.name)
            }
            _ => false,
        })
    }
    let cluster_role = |name: &str| {
        o.cluster_roles
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
    };
    let mut out = Vec::new();
    for b in &o.cluster_role_bindings {
        if !applies(id, b.subjects.as_deref().unwrap_or_default(), "") {
            continue;
        }
        let rules = match b.role_ref.kind.as_str() {
            "ClusterRole" => cluster_role(&b.role_ref.name).and_then(|c| c.rules.clone()),
            _ => None,
        };
        for (i, r) in rules.unwrap_or_default().iter().enumerate() {
            if kubernetes::rule_allows(request, r) {
                out.push((
                    BindingKind::ClusterRoleBinding,
                    String::new(),
                    b.metadata.name.clone().unwrap(),
                    i,
                ));
            }
        }
    }
    if let Some(ns) = request.namespace() {
        for b in o
            .role_bindings
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(ns))
        {
            if !applies(id, b.subjects.as_deref().unwrap_or_default(), ns) {
                continue;
            }
            let rules = match b.role_ref.kind.as_str() {
                "ClusterRole" => cluster_role(&b.role_ref.name).and_then(|c| c.rules.clone()),
                "Role" => o
                    .roles
                    .iter()
                    .find(|r| {
                        r.metadata.namespace.as_deref() == Some(ns)
                            && r.metadata.name.as_deref() == Some(&b.role_ref.name)
                    })
                    .and_then(|r| r.rules.clone()),
                _ => None,
            };
            for (i, r) in rules.unwrap_or_default().iter().enumerate() {
                if kubernetes::rule_allows(request, r) {
                    out.push((
                        BindingKind::RoleBinding,
                        ns.to_string(),
                        b.metadata.name.clone().unwrap(),
                        i,
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

const NAMESPACES: [&str; 2] = ["n0", "n1"];
const USERS: [&str; 4] = [
    "u0",
    "u1",
    "system:serviceaccount:n0:s0",
    "system:serviceaccount:n1:s0",
];
const GROUPS: [&str; 3] = ["g0", "g1", "system:serviceaccounts:n0"];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn arb_rule() -> impl Strategy<Value = PolicyRule> {
    let verbs = proptest::sample::subsequence(&["get", "list", "create", "*"][..], 1..=2);
    let groups = proptest::sample::subsequence(&["", "apps", "*"][..], 1..=2);
    let resources = proptest::sample::subsequence(
        &["pods", "pods/exec", "*/exec", "*/scale", "deployments", "*"][..],
        1..=2,
    );
    let names = proptest::sample::subsequence(&["a", "b"][..], 0..=1);
    let urls = proptest::sample::subsequence(&["/healthz", "/logs/*", "*"][..], 1..=2);
    prop_oneof![
        4 => (verbs.clone(), groups, resources, names).prop_map(|(v, g, r, n)| rule(&v, &g, &r, &n)),
        1 => (verbs, urls).prop_map(|(v, u)| url_rule(&v, &u)),
    ]
}

fn arb_subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        pick(&["u0", "u1", "system:serviceaccount:n0:s0"]).prop_map(user),
        pick(&["g0", "g1", "system:serviceaccounts:n0"]).prop_map(group),
        (pick(&[None, Some("n0"), Some("n1")]), pick(&["s0", "s1"])).prop_map(|(ns, n)| subject(
            "ServiceAccount",
            n,
            ns
        )),
        Just(subject("user", "u0", None)),
    ]
}

fn arb_objects() -> impl Strategy<Value = RbacObjects> {
    let rules = || proptest::collection::vec(arb_rule(), 0..3);
    let subjects = || proptest::collection::vec(arb_subject(), 0..3);
    let crs = proptest::collection::vec(rules(), 0..4);
    let roles = proptest::collection::vec((pick(&NAMESPACES), rules()), 0..4);
    let crbs = proptest::collection::vec(
        (pick(&["c0", "c1", "c2", "c3", "missing"]), subjects()),
        0..5,
    );
    let rbs = proptest::collection::vec(
        (
            pick(&NAMESPACES),
            pick(&["Role", "ClusterRole", "Bogus"]),
            pick(&["r0", "r1", "c0", "c1", "missing"]),
            subjects(),
        ),
        0..6,
    );
    (crs, roles, crbs, rbs).prop_map(|(crs, roles, crbs, rbs)| RbacObjects {
        cluster_roles: crs
            .into_iter()
            .enumerate()
            .map(|(i, r)| cr(&format!("c{i}"), r))
            .collect(),
        roles: roles
            .into_iter()
            .enumerate()
            .map(|(i, (ns, r))| role(ns, &format!("r{}", i % 2), r))
            .fold(Vec::new(), |mut acc: Vec<Role>, r| {
                // Unique (namespace, name), as the API server guarantees.
                if !acc.iter().any(|x| {
                    x.metadata.name == r.metadata.name
                        && x.metadata.namespace == r.metadata.namespace
                }) {
                    acc.push(r);
                }
                acc
            }),
        cluster_role_bindings: crbs
            .into_iter()
            .enumerate()
            .map(|(i, (role, s))| crb(&format!("crb{i}"), role, s))
            .collect(),
        role_bindings: rbs
            .into_iter()
            .enumerate()
            .map(|(i, (ns, kind, role, s))| rb(ns, &format!("rb{i}"), kind, role, s))
            .collect(),
    })
}

fn arb_request() -> impl Strategy<Value = Request> {
    let ns = pick(&[None, Some("n0"), Some("n1")]);
    let resource = (
        pick(&["get", "list", "create", "delete"]),
        pick(&["", "apps"]),
        pick(&["pods", "deployments"]),
        pick(&[None, Some("exec"), Some("scale")]),
        pick(&[None, Some("a"), Some("c")]),
        ns,
    )
        .prop_map(|(v, g, r, sub, name, ns)| {
            let mut rr = ResourceRequest::new(v, g, r);
            rr.subresource = sub.map(Into::into);
            rr.name = name.map(Into::into);
            rr.namespace = ns.map(Into::into);
            Request::Resource(rr)
        });
    let non_resource = (
        pick(&["get", "post"]),
        pick(&["/healthz", "/logs/a", "/logs", "/metrics"]),
    )
        .prop_map(|(v, p)| Request::non_resource(v, p));
    prop_oneof![4 => resource, 1 => non_resource]
}

fn arb_identity() -> impl Strategy<Value = Identity> {
    (
        pick(&USERS),
        proptest::sample::subsequence(&GROUPS[..], 0..=3),
    )
        .prop_map(|(u, g)| Identity::exact(u, &g))
}

proptest! {
    // Four times proptest's default: a grant needs a rule, a binding and a subject to line up.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn indexed_evaluator_equals_naive_scan(o in arb_objects(), id in arb_identity(), request in arb_request()) {
        let s = RbacSnapshot::new(o.clone(), RuleSource::AsStored);
        let d = s.rbac_allows(&id, &request);
        let mut got: Vec<_> = d
            .reasons
            .iter()
            .map(|g| (g.binding.kind, g.binding.namespace.clone().unwrap_or_default(), g.binding.name.clone(), g.rule_index))
            .collect();
        got.sort();
        let want = naive_grants(&o, &id, &request);
        prop_assert_eq!(d.allowed, !want.is_empty());
        prop_assert_eq!(got, want);
    }

    /// who-can and the evaluator agree: a user without groups is allowed in a namespace exactly
    /// when who-can lists a binding subject with that username in that namespace's scope.
    #[test]
    fn who_can_agrees_with_evaluator(o in arb_objects(), request in arb_request(), ns in pick(&[None, Some("n0"), Some("n1")])) {
        let s = RbacSnapshot::new(o, RuleSource::AsStored);
        let scope = match ns {
            Some(n) => QueryScope::Namespace(n.to_string()),
            None => QueryScope::ClusterScoped,
        };
        let rows = who_can(&s, &request, &scope);
        for u in USERS {
            let id = Identity::exact(u, &[]);
            let allowed = s.rbac_allows(&id, &request.with_namespace(ns)).allowed;
            let listed = rows.iter().filter(|r| r.via_binding.is_some()).any(|r| match r.subject_kind {
                SubjectKind::User => r.subject_name == u,
                SubjectKind::ServiceAccount => {
                    format!("system:serviceaccount:{}:{}", r.subject_namespace.as_deref().unwrap_or(""), r.subject_name) == u
                }
                SubjectKind::Group => false,
            });
            prop_assert_eq!(allowed, listed, "user {} request {}", u, request);
        }
    }

    /// Every who-can row under all namespaces is a real grant: its subject, asked in the row's
    /// scope, is allowed.
    #[test]
    fn who_can_rows_are_grants(o in arb_objects(), request in arb_request()) {
        let s = RbacSnapshot::new(o, RuleSource::AsStored);
        for row in who_can(&s, &request, &QueryScope::AllNamespaces).into_iter().filter(|r| r.via_binding.is_some()) {
            let id = match row.subject_kind {
                SubjectKind::User => Identity::exact(&row.subject_name, &[]),
                SubjectKind::Group => Identity::exact("nobody", &[row.subject_name.as_str()]),
                SubjectKind::ServiceAccount => Identity::exact(
                    &format!("system:serviceaccount:{}:{}", row.subject_namespace.as_deref().unwrap(), row.subject_name),
                    &[],
                ),
            };
            let at = match &row.scope { Scope::Namespace(n) => Some(n.as_str()), Scope::Cluster => None };
            let at = if matches!(request, Request::NonResource(_)) { None } else { at };
            prop_assert!(s.rbac_allows(&id, &request.with_namespace(at)).allowed, "{:?}", row);
        }
    }

    #[test]
    fn parse_round_trips(
        verb in pick(&["get", "create", "impersonate", "*"]),
        entry in 0usize..1000,
        sub in proptest::option::of(0usize..16),
        name in proptest::option::of(pick(&["a", "web-0", "kubernetes.io/x", "system:masters"])),
        ns in pick(&[None, Some("n0")]),
    ) {
        let c = catalog();
        let info = &c.entries()[entry % c.entries().len()];
        let mut r = ResourceRequest::new(verb, &info.group, &info.resource);
        r.subresource = sub.filter(|_| !info.subresources.is_empty()).map(|i| info.subresources[i % info.subresources.len()].clone());
        r.name = name.map(Into::into);
        r.namespace = ns.map(Into::into);
        let request = Request::Resource(r);
        let back = chronom_core::rbac::parse_verb_target(request.verb(), &request.target(), &c).unwrap();
        prop_assert_eq!(back.with_namespace(request.namespace()), request);
    }
}

// ---------- property: src's matcher is Kubernetes' RuleAllows ----------

/// Rules over deliberately awkward strings: every wildcard position, the `*/subresource` form
/// and its near misses (`*/`, `**/exec`, `*/xexec`, `pods/*`), case differences, listed empty
/// names, and URL patterns with one, two or a bare `*`.
fn arb_awkward_rule() -> impl Strategy<Value = PolicyRule> {
    let verbs = proptest::sample::subsequence(&["get", "list", "*", "GET", ""][..], 0..=3);
    let groups = proptest::sample::subsequence(&["", "apps", "*", "Apps"][..], 0..=3);
    let resources = proptest::sample::subsequence(
        &[
            "pods",
            "pods/exec",
            "*/exec",
            "*/scale",
            "*/",
            "**/exec",
            "*/xexec",
            "pods/*",
            "*",
            "deployments/scale",
            "exec",
            "",
        ][..],
        0..=3,
    );
    let names = proptest::sample::subsequence(&["", "a", "b"][..], 0..=2);
    let urls = proptest::sample::subsequence(
        &[
            "*", "/healthz", "/logs/*", "/logs**", "/", "/*", "/logs", "",
        ][..],
        0..=3,
    );
    let owned = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
    (verbs, groups, resources, names, proptest::option::of(urls)).prop_map(
        move |(v, g, r, n, u)| PolicyRule {
            verbs: owned(v),
            api_groups: Some(owned(g)),
            resources: Some(owned(r)),
            resource_names: Some(owned(n)),
            non_resource_urls: u.map(owned),
        },
    )
}

fn arb_awkward_request() -> impl Strategy<Value = Request> {
    let resource = (
        pick(&["get", "list", "*", "GET", "create"]),
        pick(&["", "apps", "*", "Apps"]),
        pick(&["pods", "deployments", "*", "", "exec"]),
        pick(&[
            None,
            Some(""),
            Some("exec"),
            Some("scale"),
            Some("*"),
            Some("xexec"),
        ]),
        pick(&[None, Some(""), Some("a"), Some("c")]),
    )
        .prop_map(|(v, g, r, sub, name)| {
            let mut rr = ResourceRequest::new(v, g, r);
            rr.subresource = sub.map(Into::into);
            rr.name = name.map(Into::into);
            Request::Resource(rr)
        });
    let non_resource = (
        pick(&["get", "post", "*", "GET"]),
        pick(&[
            "/healthz",
            "/healthz/etcd",
            "/logs",
            "/logs/",
            "/logs/a",
            "/logsx",
            "/",
            "",
            "*",
            "/metrics",
        ]),
    )
        .prop_map(|(v, p)| Request::non_resource(v, p));
    prop_oneof![3 => resource, 2 => non_resource]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// One rule, one request: `chronom_core::rbac::rule::rule_allows` says what Kubernetes'
    /// RuleAllows (transcribed above) says.
    #[test]
    fn rule_allows_agrees_with_kubernetes(rule in arb_awkward_rule(), request in arb_awkward_request()) {
        prop_assert_eq!(
            chronom_core::rbac::rule::rule_allows(&rule, &request),
            kubernetes::rule_allows(&request, &rule),
            "rule {:?} request {:?}", rule, request
        );
    }
}

/// The property above is only as good as its generator: both answers must actually occur, and
/// each matching form must decide some cases.
#[test]
fn the_rule_generator_reaches_every_matching_form() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut allowed, mut denied, mut star_sub, mut url_prefix, mut named) = (0, 0, 0, 0, 0);
    for _ in 0..4096 {
        let rule = arb_awkward_rule().new_tree(&mut runner).unwrap().current();
        let request = arb_awkward_request()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        if !kubernetes::rule_allows(&request, &rule) {
            denied += 1;
            continue;
        }
        allowed += 1;
        match &request {
            Request::Resource(r) => {
                let sub = r.subresource.as_deref().unwrap_or("");
                let combined = format!("{}/{sub}", r.resource);
                let resources = rule.resources.as_deref().unwrap_or_default();
                if !sub.is_empty()
                    && !resources.iter().any(|x| x == "*" || *x == combined)
                    && resources.iter().any(|x| *x == format!("*/{sub}"))
                {
                    star_sub += 1;
                }
                if r.name.as_deref().is_some_and(|n| !n.is_empty())
                    && !rule
                        .resource_names
                        .as_deref()
                        .unwrap_or_default()
                        .is_empty()
                {
                    named += 1;
                }
            }
            Request::NonResource(n) => {
                let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
                if !urls.iter().any(|u| u == "*" || *u == n.path) {
                    url_prefix += 1;
                }
            }
        }
    }
    eprintln!(
        "allowed {allowed}, denied {denied}, */subresource {star_sub}, URL prefix {url_prefix}, resourceNames {named}"
    );
    for (what, count, floor) in [
        ("allowed", allowed, 100),
        ("denied", denied, 1000),
        ("*/subresource matches", star_sub, 10),
        ("URL prefix matches", url_prefix, 20),
        ("resourceNames matches", named, 5),
    ] {
        assert!(
            count >= floor,
            "only {count} {what} in 4096 generated cases"
        );
    }
}
