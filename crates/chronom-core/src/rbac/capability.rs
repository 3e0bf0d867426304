//! Dangerous capabilities as data: which requests make an identity able to take over the
//! cluster, and where it can make them. The findings layer turns hits into findings.
//!
//! The attributes of each probe follow the API server code that performs the check:
//! bind and escalate (`pkg/registry/rbac/escalation_check.go`: `bind` is checked in the
//! namespace of the binding being written, with the role's name; `escalate` with the role's
//! request namespace and name), impersonation (`staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation/impersonation.go`:
//! verb `impersonate` on core `users`, `groups`, `serviceaccounts` (namespaced) and
//! `authentication.k8s.io` `uids`; the ConstrainedImpersonation feature's
//! `impersonate:<mode>` verbs are not probed), CSR approval
//! (`pkg/certauthorization/certauthorization.go`: `approve` on `signers` named by the signer,
//! then by `<domain>/*`), and pods/exec (`create`; GET upgrades need `create` too once
//! AuthorizePodWebsocketUpgradeCreatePermission is on, the default since v1.35).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::evaluator::Grant;
use super::index::{RbacSnapshot, SubjectHit};
use super::model::{Identity, Scope};
use super::request::{Request, ResourceRequest};
use super::rule::rule_allows;

/// Where a capability is looked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Placement {
    /// In this namespace (ClusterRoleBindings count too).
    Namespace(String),
    /// Cluster-wide or in any namespace the identity has RoleBindings in.
    AnyNamespace,
    /// Cluster-wide only.
    ClusterWide,
}

/// One request to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// The request; its namespace is filled in per placement.
    pub request: Request,
    /// True: a rule restricted to some resourceNames also counts (the request is made on some
    /// object whose name we cannot know). False: the request's name (or its absence) is exact;
    /// use it for requests that carry no name, like `create` of a top-level object.
    pub any_name: bool,
    /// True for requests the API server always makes without a namespace (cluster-scoped
    /// objects), so RoleBindings never satisfy them.
    pub cluster_wide_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityCheck {
    pub id: &'static str,
    pub title: &'static str,
    pub placement: Placement,
    /// All of these groups must hold, each by at least one allowed probe, in the same scope.
    pub requires: Vec<Vec<Probe>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapabilityHit {
    pub id: &'static str,
    pub title: &'static str,
    /// Cluster when it holds cluster-wide (then no namespaces are listed), else each namespace.
    pub scopes: Vec<Scope>,
    /// The rules that allowed the probes.
    pub evidence: Vec<Grant>,
    /// Holds because the identity is in `system:masters`.
    pub privileged_group: bool,
}

fn probe(
    verb: &str,
    group: &str,
    resource: &str,
    sub: Option<&str>,
    name: Option<&str>,
    any_name: bool,
    cluster: bool,
) -> Probe {
    let mut r = ResourceRequest::new(verb, group, resource);
    r.subresource = sub.map(str::to_string);
    r.name = name.map(str::to_string);
    Probe {
        request: Request::Resource(r),
        any_name,
        cluster_wide_only: cluster,
    }
}

/// Some object of this namespaced resource.
fn some(verb: &str, group: &str, resource: &str, sub: Option<&str>) -> Probe {
    probe(verb, group, resource, sub, None, true, false)
}

/// Some object of this cluster-scoped resource.
fn some_cluster(verb: &str, group: &str, resource: &str, sub: Option<&str>) -> Probe {
    probe(verb, group, resource, sub, None, true, true)
}

const RBAC: &str = "rbac.authorization.k8s.io";
const ADM: &str = "admissionregistration.k8s.io";
const CERT: &str = "certificates.k8s.io";

/// The catalogue of dangerous capabilities.
pub fn dangerous_capabilities() -> Vec<CapabilityCheck> {
    let kube_system = || Placement::Namespace("kube-system".into());
    let webhook_writes = [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ]
    .into_iter()
    .chain([
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
    ])
    .chain([
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    ])
    .flat_map(|res| {
        std::iter::once(probe("create", ADM, res, None, None, false, true)).chain(
            ["update", "patch", "delete"]
                .into_iter()
                .map(move |v| some_cluster(v, ADM, res, None)),
        )
    })
    .collect();
    vec![
        CapabilityCheck {
            id: "aws-auth-write",
            title: "update or patch the aws-auth ConfigMap in kube-system",
            placement: kube_system(),
            requires: vec![vec![
                probe(
                    "update",
                    "",
                    "configmaps",
                    None,
                    Some("aws-auth"),
                    false,
                    false,
                ),
                probe(
                    "patch",
                    "",
                    "configmaps",
                    None,
                    Some("aws-auth"),
                    false,
                    false,
                ),
            ]],
        },
        CapabilityCheck {
            id: "kube-system-configmaps-write",
            title: "update or patch ConfigMaps in kube-system",
            placement: kube_system(),
            requires: vec![vec![
                some("update", "", "configmaps", None),
                some("patch", "", "configmaps", None),
            ]],
        },
        CapabilityCheck {
            id: "rbac-escalate",
            title: "escalate: write Roles or ClusterRoles with permissions it does not hold",
            placement: Placement::AnyNamespace,
            requires: vec![vec![
                some("escalate", RBAC, "roles", None),
                some_cluster("escalate", RBAC, "clusterroles", None),
            ]],
        },
        CapabilityCheck {
            id: "rbac-bind",
            title: "bind: create bindings to roles with permissions it does not hold",
            placement: Placement::AnyNamespace,
            // bind on clusterroles is checked in the binding's namespace: RoleBindings count.
            requires: vec![vec![
                some("bind", RBAC, "roles", None),
                some("bind", RBAC, "clusterroles", None),
            ]],
        },
        CapabilityCheck {
            id: "impersonate",
            title: "impersonate users, groups, service accounts or UIDs",
            placement: Placement::AnyNamespace,
            requires: vec![vec![
                some_cluster("impersonate", "", "users", None),
                some_cluster("impersonate", "", "groups", None),
                some("impersonate", "", "serviceaccounts", None),
                some_cluster("impersonate", "authentication.k8s.io", "uids", None),
            ]],
        },
        CapabilityCheck {
            id: "pods-create",
            title: "create pods (run any image, mount any service account or host path the admission policy allows)",
            placement: Placement::AnyNamespace,
            requires: vec![vec![probe("create", "", "pods", None, None, false, false)]],
        },
        CapabilityCheck {
            id: "pods-exec",
            title: "exec into pods",
            placement: Placement::AnyNamespace,
            requires: vec![vec![some("create", "", "pods", Some("exec"))]],
        },
        CapabilityCheck {
            id: "pods-attach",
            title: "attach to pods",
            placement: Placement::AnyNamespace,
            requires: vec![vec![some("create", "", "pods", Some("attach"))]],
        },
        CapabilityCheck {
            id: "nodes-proxy",
            title: "reach the kubelet API through nodes/proxy",
            placement: Placement::ClusterWide,
            requires: vec![vec![
                some_cluster("get", "", "nodes", Some("proxy")),
                some_cluster("create", "", "nodes", Some("proxy")),
            ]],
        },
        CapabilityCheck {
            id: "secrets-read-cluster-wide",
            title: "read Secrets in every namespace",
            placement: Placement::ClusterWide,
            requires: vec![vec![
                probe("get", "", "secrets", None, None, false, true),
                probe("list", "", "secrets", None, None, false, true),
                probe("watch", "", "secrets", None, None, false, true),
            ]],
        },
        CapabilityCheck {
            id: "serviceaccount-token-create",
            title: "mint tokens for service accounts",
            placement: Placement::AnyNamespace,
            requires: vec![vec![some("create", "", "serviceaccounts", Some("token"))]],
        },
        CapabilityCheck {
            id: "csr-approve",
            title: "approve certificate signing requests for kube-apiserver client certificates",
            placement: Placement::ClusterWide,
            requires: vec![
                vec![some_cluster(
                    "update",
                    CERT,
                    "certificatesigningrequests",
                    Some("approval"),
                )],
                vec![
                    probe(
                        "approve",
                        CERT,
                        "signers",
                        None,
                        Some("kubernetes.io/kube-apiserver-client"),
                        false,
                        true,
                    ),
                    probe(
                        "approve",
                        CERT,
                        "signers",
                        None,
                        Some("kubernetes.io/*"),
                        false,
                        true,
                    ),
                ],
            ],
        },
        CapabilityCheck {
            id: "admission-webhook-write",
            title: "write admission webhook configurations or admission policies",
            placement: Placement::ClusterWide,
            requires: vec![webhook_writes],
        },
    ]
}

/// An identity's bindings split once by where they apply: ClusterRoleBindings, and RoleBindings
/// by namespace, each in binding order. A probe's ClusterRoleBinding grants do not depend on the
/// namespace (rules name no namespace), so they are found once per probe; each namespace then
/// adds only its own RoleBindings. Trying every namespace of an identity bound in many of them
/// stays linear in its bindings.
struct IdentityHits {
    cluster: Vec<SubjectHit>,
    by_namespace: BTreeMap<String, Vec<SubjectHit>>,
    /// Keys of `by_namespace` that are namespace patterns.
    patterns: Vec<String>,
}

impl IdentityHits {
    fn new(snapshot: &RbacSnapshot, identity: &Identity) -> Self {
        let mut hits = IdentityHits {
            cluster: Vec::new(),
            by_namespace: BTreeMap::new(),
            patterns: Vec::new(),
        };
        // Sorted by binding and one per binding; splitting by a per-binding key keeps both.
        for h in snapshot.bindings_of(&identity.user, &identity.groups, None) {
            match &snapshot.bindings[h.binding].id.namespace {
                Some(ns) if !snapshot.is_cluster_binding(h.binding) => {
                    hits.by_namespace.entry(ns.clone()).or_default().push(h)
                }
                _ => hits.cluster.push(h),
            }
        }
        hits.patterns = (hits.by_namespace.keys())
            .filter(|k| super::namespace_pattern::is_pattern(k))
            .cloned()
            .collect();
        hits
    }

    /// The identity's RoleBinding hits that apply in `ns`: its own namespace's, then those of
    /// every namespace pattern matching it (see [`super::namespace_pattern`]).
    fn in_namespace<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = &'a Vec<SubjectHit>> + 'a {
        let patterns = self
            .patterns
            .iter()
            .filter(move |p| p.as_str() != ns && super::namespace_pattern::matches(p, ns));
        std::iter::once(ns)
            .chain(patterns.map(String::as_str))
            .filter_map(|k| self.by_namespace.get(k))
    }

    /// Namespaces where a RoleBinding gives the identity at least one rule (what
    /// `grants(AllNamespaces)` reports as namespaced scopes).
    fn granting_namespaces(&self, snapshot: &RbacSnapshot) -> BTreeSet<String> {
        let grants = |h: &SubjectHit| {
            snapshot.bindings[h.binding]
                .role
                .is_some_and(|r| !snapshot.roles[r].rules.is_empty())
        };
        self.by_namespace
            .iter()
            .filter(|(_, hits)| hits.iter().any(grants))
            .map(|(ns, _)| ns.clone())
            .collect()
    }
}

/// A probe's grants through ClusterRoleBindings, per requirement group and probe.
type ClusterGrants = Vec<Vec<Vec<Grant>>>;

impl RbacSnapshot {
    /// The checks that hold for `identity`, each with where and why.
    pub fn check_capabilities(
        &self,
        identity: &Identity,
        checks: &[CapabilityCheck],
    ) -> Vec<CapabilityHit> {
        let hits = IdentityHits::new(self, identity);
        let rb_namespaces = hits.granting_namespaces(self);
        checks
            .iter()
            .filter_map(|c| self.check_one(identity, &hits, c, &rb_namespaces))
            .collect()
    }

    fn check_one(
        &self,
        identity: &Identity,
        hits: &IdentityHits,
        check: &CapabilityCheck,
        rb_namespaces: &BTreeSet<String>,
    ) -> Option<CapabilityHit> {
        let hit =
            |scopes: Vec<Scope>, evidence: Vec<Grant>, privileged_group: bool| CapabilityHit {
                id: check.id,
                title: check.title,
                scopes,
                evidence,
                privileged_group,
            };
        if identity.is_privileged() {
            let scope = match &check.placement {
                Placement::Namespace(ns) => Scope::Namespace(ns.clone()),
                _ => Scope::Cluster,
            };
            return Some(hit(vec![scope], Vec::new(), true));
        }
        let candidates: Vec<Option<&str>> = match &check.placement {
            Placement::Namespace(ns) => vec![Some(ns.as_str())],
            Placement::ClusterWide => vec![None],
            Placement::AnyNamespace => std::iter::once(None)
                .chain(rb_namespaces.iter().map(|n| Some(n.as_str())))
                .collect(),
        };
        let cluster: ClusterGrants = check
            .requires
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|p| self.probe_grants(&hits.cluster, p))
                    .collect()
            })
            .collect();
        let mut scopes = Vec::new();
        let mut evidence: Vec<Grant> = Vec::new();
        for ns in candidates {
            let Some(found) = self.holds_in(hits, &check.requires, &cluster, ns) else {
                continue;
            };
            scopes.push(ns.map_or(Scope::Cluster, |n| Scope::Namespace(n.to_string())));
            for g in found {
                if !evidence
                    .iter()
                    .any(|e| e.binding == g.binding && e.rule_index == g.rule_index)
                {
                    evidence.push(g.into_owned());
                }
            }
            if ns.is_none() {
                break; // Holds everywhere; the namespaces add nothing.
            }
        }
        (!scopes.is_empty()).then(|| hit(scopes, evidence, false))
    }

    /// The grants satisfying every group in namespace `ns` (`None`: cluster-wide), or `None`. For
    /// each probe: its ClusterRoleBinding grants, then those of `ns`'s RoleBindings (the order of
    /// the identity's bindings, as the authorizer visits them). The ClusterRoleBinding grants are
    /// borrowed: an identity bound in hundreds of namespaces is asked this for each of them.
    fn holds_in<'c>(
        &self,
        hits: &IdentityHits,
        requires: &[Vec<Probe>],
        cluster: &'c ClusterGrants,
        ns: Option<&str>,
    ) -> Option<Vec<Cow<'c, Grant>>> {
        let mut all = Vec::new();
        for (group, cluster) in requires.iter().zip(cluster) {
            let mut found = Vec::new();
            for (p, cluster) in group.iter().zip(cluster) {
                found.extend(cluster.iter().map(Cow::Borrowed));
                // Asked without a namespace (cluster-wide-only probes, or no namespace at all),
                // a request is never matched by RoleBindings.
                if let Some(n) = ns.filter(|ns| !ns.is_empty() && !p.cluster_wide_only) {
                    for in_ns in hits.in_namespace(n) {
                        found.extend(self.probe_grants(in_ns, p).into_iter().map(Cow::Owned));
                    }
                }
            }
            if found.is_empty() {
                return None;
            }
            all.extend(found);
        }
        Some(all)
    }

    /// The grants of `hits` whose rules allow probe `p`. A rule names no namespace (the binding
    /// does), so the probe's request is matched as it is, wherever it is asked.
    fn probe_grants(&self, hits: &[SubjectHit], p: &Probe) -> Vec<Grant> {
        let request = &p.request;
        let mut out = Vec::new();
        let mut dangling = Vec::new();
        for hit in hits {
            self.collect_grants(*hit, &mut dangling, &mut out, |rule| {
                rule_allows(rule, request)
                    || (p.any_name
                        && rule
                            .resource_names
                            .iter()
                            .flatten()
                            .any(|n| rule_allows(rule, &with_name(request, n))))
            });
        }
        out
    }
}

fn with_name(request: &Request, name: &str) -> Request {
    match request {
        Request::Resource(r) => {
            let mut r = r.clone();
            r.name = Some(name.to_string());
            Request::Resource(r)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::aggregate::RuleSource;
    use crate::rbac::fixture::*;

    /// The straightforward evaluation `check_capabilities` must agree with, evidence order
    /// included: every probe asked through `bindings_of` in every candidate namespace.
    fn reference(
        s: &RbacSnapshot,
        identity: &Identity,
        checks: &[CapabilityCheck],
    ) -> Vec<CapabilityHit> {
        let probe = |p: &Probe, ns: Option<&str>| {
            let request = p
                .request
                .with_namespace(if p.cluster_wide_only { None } else { ns });
            let mut out = Vec::new();
            for hit in s.bindings_of(&identity.user, &identity.groups, Some(request.namespace())) {
                s.collect_grants(hit, &mut Vec::new(), &mut out, |rule| {
                    rule_allows(rule, &request)
                        || (p.any_name
                            && rule
                                .resource_names
                                .iter()
                                .flatten()
                                .any(|n| rule_allows(rule, &with_name(&request, n))))
                });
            }
            out
        };
        let rb_namespaces: BTreeSet<String> = s
            .grants(identity, &crate::rbac::model::QueryScope::AllNamespaces)
            .into_iter()
            .filter_map(|g| match g.scope {
                Scope::Namespace(ns) => Some(ns),
                Scope::Cluster => None,
            })
            .collect();
        let mut out = Vec::new();
        for check in checks {
            let candidates: Vec<Option<&str>> = match &check.placement {
                Placement::Namespace(ns) => vec![Some(ns.as_str())],
                Placement::ClusterWide => vec![None],
                Placement::AnyNamespace => std::iter::once(None)
                    .chain(rb_namespaces.iter().map(|n| Some(n.as_str())))
                    .collect(),
            };
            let (mut scopes, mut evidence) = (Vec::new(), Vec::<Grant>::new());
            for ns in candidates {
                let mut all = Vec::new();
                let holds = check.requires.iter().all(|group| {
                    let found: Vec<Grant> = group.iter().flat_map(|p| probe(p, ns)).collect();
                    all.extend(found.iter().cloned());
                    !found.is_empty()
                });
                if !holds {
                    continue;
                }
                scopes.push(ns.map_or(Scope::Cluster, |n| Scope::Namespace(n.to_string())));
                for g in all {
                    if !evidence
                        .iter()
                        .any(|e| e.binding == g.binding && e.rule_index == g.rule_index)
                    {
                        evidence.push(g);
                    }
                }
                if ns.is_none() {
                    break;
                }
            }
            if !scopes.is_empty() {
                out.push(CapabilityHit {
                    id: check.id,
                    title: check.title,
                    scopes,
                    evidence,
                    privileged_group: false,
                });
            }
        }
        out
    }

    #[test]
    fn splitting_bindings_by_namespace_changes_no_answer_and_no_evidence_order() {
        // Users bound in several namespaces, cluster-wide, through groups and by name, with
        // requirements met across both kinds of binding, and a RoleBinding without a namespace.
        let s = RbacSnapshot::from_parts(
            vec![
                cluster_role(
                    "pods",
                    vec![
                        rule(&["create"], &[""], &["pods"], &[]),
                        rule(&["create"], &[""], &["pods/exec"], &["web-0"]),
                    ],
                ),
                cluster_role(
                    "attach",
                    vec![rule(&["create"], &[""], &["pods/attach"], &[])],
                ),
                cluster_role(
                    "approval",
                    vec![rule(
                        &["update"],
                        &["certificates.k8s.io"],
                        &["certificatesigningrequests/approval"],
                        &[],
                    )],
                ),
                cluster_role(
                    "signer",
                    vec![rule(
                        &["approve"],
                        &["certificates.k8s.io"],
                        &["signers"],
                        &["kubernetes.io/*"],
                    )],
                ),
                cluster_role(
                    "cm",
                    vec![rule(&["patch", "update"], &[""], &["configmaps"], &[])],
                ),
                cluster_role(
                    "binder",
                    vec![rule(
                        &["bind"],
                        &["rbac.authorization.k8s.io"],
                        &["clusterroles"],
                        &[],
                    )],
                ),
                cluster_role("empty", vec![]),
            ],
            vec![
                crb("team-attach", "attach", vec![group("team")]),
                crb("team-approval", "approval", vec![group("team")]),
                crb("u-cm", "cm", vec![user("u")]),
            ],
            vec![role(
                "a",
                "local-exec",
                vec![rule(&["create"], &[""], &["pods/exec"], &[])],
            )],
            vec![
                rb("a", "pods", "ClusterRole", "pods", vec![group("team")]),
                rb(
                    "a",
                    "exec",
                    "Role",
                    "local-exec",
                    vec![user("u"), group("team")],
                ),
                rb("b", "pods", "ClusterRole", "pods", vec![user("u")]),
                rb("b", "signer", "ClusterRole", "signer", vec![group("team")]),
                rb(
                    "kube-system",
                    "cm",
                    "ClusterRole",
                    "cm",
                    vec![group("team")],
                ),
                rb("c", "bind", "ClusterRole", "binder", vec![group("team")]),
                rb("d", "nothing", "ClusterRole", "empty", vec![group("team")]),
                rb(
                    "",
                    "no-namespace",
                    "ClusterRole",
                    "pods",
                    vec![group("team")],
                ),
                rb("e", "ghost", "ClusterRole", "missing", vec![group("team")]),
            ],
            RuleSource::AsStored,
        );
        let catalogue = dangerous_capabilities();
        let mut compared = 0;
        for id in [
            Identity::user("u", &["team"]),
            Identity::user("u", &[]),
            Identity::user("v", &["team"]),
            Identity::user("w", &[]),
        ] {
            let got = s.check_capabilities(&id, &catalogue);
            assert_eq!(got, reference(&s, &id, &catalogue), "{id:?}");
            compared += got.len();
        }
        assert!(
            compared >= 8,
            "the fixture should hold several capabilities, got {compared}"
        );
    }

    fn ids(hits: &[CapabilityHit]) -> Vec<&str> {
        hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn catalogue_finds_each_capability() {
        let s = RbacSnapshot::from_parts(
            vec![
                cluster_role(
                    "aws-auth-editor",
                    vec![rule(&["patch"], &[""], &["configmaps"], &["aws-auth"])],
                ),
                cluster_role(
                    "coredns-editor",
                    vec![rule(&["update"], &[""], &["configmaps"], &["coredns"])],
                ),
                cluster_role(
                    "binder",
                    vec![rule(
                        &["bind"],
                        &["rbac.authorization.k8s.io"],
                        &["clusterroles"],
                        &["admin"],
                    )],
                ),
                cluster_role(
                    "escalator",
                    vec![rule(
                        &["escalate"],
                        &["rbac.authorization.k8s.io"],
                        &["clusterroles"],
                        &[],
                    )],
                ),
                cluster_role(
                    "sa-impersonator",
                    vec![rule(&["impersonate"], &[""], &["serviceaccounts"], &[])],
                ),
                cluster_role(
                    "user-impersonator",
                    vec![rule(&["impersonate"], &[""], &["users"], &[])],
                ),
                cluster_role(
                    "pod-maker",
                    vec![rule(&["create"], &[""], &["pods"], &["named"])],
                ),
                cluster_role(
                    "any-pod-maker",
                    vec![rule(&["create"], &[""], &["pods"], &[])],
                ),
                cluster_role(
                    "execer",
                    vec![rule(
                        &["create"],
                        &[""],
                        &["pods/exec", "pods/attach"],
                        &["web-0"],
                    )],
                ),
                cluster_role(
                    "kubelet",
                    vec![rule(&["get"], &[""], &["nodes/proxy"], &[])],
                ),
                cluster_role(
                    "secret-lister",
                    vec![rule(&["list"], &[""], &["secrets"], &[])],
                ),
                cluster_role(
                    "tokens",
                    vec![rule(&["create"], &[""], &["serviceaccounts/token"], &[])],
                ),
                cluster_role(
                    "csr-approver",
                    vec![rule(
                        &["update"],
                        &["certificates.k8s.io"],
                        &["certificatesigningrequests/approval"],
                        &[],
                    )],
                ),
                cluster_role(
                    "signer",
                    vec![rule(
                        &["approve"],
                        &["certificates.k8s.io"],
                        &["signers"],
                        &["kubernetes.io/*"],
                    )],
                ),
                cluster_role(
                    "webhooks",
                    vec![rule(
                        &["patch"],
                        &["admissionregistration.k8s.io"],
                        &["*"],
                        &[],
                    )],
                ),
            ],
            vec![
                crb("a", "aws-auth-editor", vec![user("a")]),
                crb("b", "binder", vec![user("b")]),
                crb("e", "escalator", vec![user("e")]),
                crb("k", "kubelet", vec![user("k")]),
                crb("s", "secret-lister", vec![user("s")]),
                crb("c1", "csr-approver", vec![user("c")]),
                crb("c2", "signer", vec![user("c"), user("half")]),
                crb("w", "webhooks", vec![user("w")]),
                crb("ui", "user-impersonator", vec![user("ui")]),
            ],
            vec![],
            vec![
                rb(
                    "kube-system",
                    "cd",
                    "ClusterRole",
                    "coredns-editor",
                    vec![user("cd")],
                ),
                rb("dev", "bind-dev", "ClusterRole", "binder", vec![user("bd")]),
                rb(
                    "dev",
                    "esc-dev",
                    "ClusterRole",
                    "escalator",
                    vec![user("ed")],
                ),
                rb(
                    "dev",
                    "imp",
                    "ClusterRole",
                    "sa-impersonator",
                    vec![user("i")],
                ),
                rb(
                    "dev",
                    "ui-dev",
                    "ClusterRole",
                    "user-impersonator",
                    vec![user("uid")],
                ),
                rb("dev", "pm", "ClusterRole", "pod-maker", vec![user("p")]),
                rb(
                    "dev",
                    "pa",
                    "ClusterRole",
                    "any-pod-maker",
                    vec![user("pa")],
                ),
                rb("dev", "ex", "ClusterRole", "execer", vec![user("x")]),
                rb("dev", "tok", "ClusterRole", "tokens", vec![user("t")]),
                rb(
                    "dev",
                    "sec",
                    "ClusterRole",
                    "secret-lister",
                    vec![user("sd")],
                ),
            ],
            RuleSource::AsStored,
        );
        let catalogue = dangerous_capabilities();
        let check = |u: &str| s.check_capabilities(&Identity::user(u, &[]), &catalogue);
        assert_eq!(
            ids(&check("a")),
            vec!["aws-auth-write", "kube-system-configmaps-write"]
        );
        assert_eq!(
            ids(&check("cd")),
            vec!["kube-system-configmaps-write"],
            "named coredns rule: not aws-auth"
        );
        assert_eq!(ids(&check("b")), vec!["rbac-bind"]);
        assert_eq!(check("b")[0].scopes, vec![Scope::Cluster]);
        assert_eq!(
            ids(&check("bd")),
            vec!["rbac-bind"],
            "bind clusterroles is checked in the binding's namespace"
        );
        assert_eq!(check("bd")[0].scopes, vec![Scope::Namespace("dev".into())]);
        assert_eq!(ids(&check("e")), vec!["rbac-escalate"]);
        assert!(
            check("ed").is_empty(),
            "escalate on cluster-scoped clusterroles: a RoleBinding never applies"
        );
        assert_eq!(ids(&check("i")), vec!["impersonate"]);
        assert_eq!(ids(&check("ui")), vec!["impersonate"]);
        assert!(
            check("uid").is_empty(),
            "impersonating users is cluster-scoped"
        );
        assert!(
            check("p").is_empty(),
            "a named create rule never applies to create"
        );
        assert_eq!(ids(&check("pa")), vec!["pods-create"]);
        assert_eq!(ids(&check("x")), vec!["pods-exec", "pods-attach"]);
        assert_eq!(ids(&check("k")), vec!["nodes-proxy"]);
        assert_eq!(ids(&check("s")), vec!["secrets-read-cluster-wide"]);
        assert!(
            check("sd").is_empty(),
            "secrets in one namespace is not cluster-wide"
        );
        assert_eq!(ids(&check("t")), vec!["serviceaccount-token-create"]);
        assert_eq!(ids(&check("c")), vec!["csr-approve"]);
        assert!(
            check("half").is_empty(),
            "signer approval without the approval subresource"
        );
        assert_eq!(ids(&check("w")), vec!["admission-webhook-write"]);
        assert!(check("nobody").is_empty());
        // "each": every capability of the catalogue is found for someone above.
        let mut found: Vec<&str> = [
            "a", "cd", "b", "bd", "e", "i", "ui", "pa", "x", "k", "s", "t", "c", "w",
        ]
        .iter()
        .flat_map(|u| check(u).into_iter().map(|h| h.id))
        .collect();
        found.sort();
        found.dedup();
        let mut all: Vec<&str> = catalogue.iter().map(|c| c.id).collect();
        all.sort();
        assert!(all.len() >= 13, "catalogue has {} capabilities", all.len());
        assert_eq!(found, all);
        let root = s.check_capabilities(&Identity::user("root", &["system:masters"]), &catalogue);
        assert_eq!(root.len(), catalogue.len());
        assert!(root.iter().all(|h| h.privileged_group));
        let c = check("c");
        assert_eq!(c[0].evidence.len(), 2);
    }
}
