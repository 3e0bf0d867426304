//! The AWS-managed EKS access policies as RBAC rules, and their associations as RBAC objects
//! the evaluator can read. Pure.
//!
//! EKS authorizes access policies in its own webhook authorizer, so no ClusterRole or binding
//! exists in the cluster and SubjectAccessReview is not where we learn them. The rules below
//! are transcribed from "Review access policy permissions" in the Amazon EKS User Guide
//! (access-policy-permissions; the tables for AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy,
//! AmazonEKSEditPolicy, AmazonEKSViewPolicy, AmazonEKSAdminViewPolicy,
//! AmazonEKSSecretReaderPolicy and AmazonEKSHybridPolicy). The same page describes the Auto
//! Mode policies and AmazonEKSClusterInsightsPolicy in prose only: their rules are our reading
//! of it, widened where it is vague ([`prose_rules`]), and marked `approximated`. An association is
//! modelled the way the docs describe its scope: `cluster` acts like a ClusterRoleBinding,
//! `namespace` like one RoleBinding per listed namespace. A listed name with wildcards (`dev-*`)
//! stays one RoleBinding in the namespace named by the pattern, which the evaluator applies in
//! every namespace the pattern matches ([`crate::rbac::namespace_pattern`]). Policies we do not model are listed
//! with their name and no rules, and said so in the report.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::rbac::RbacObjects;

pub const CLUSTER_ADMIN_POLICY: &str = "AmazonEKSClusterAdminPolicy";
pub const ADMIN_POLICY: &str = "AmazonEKSAdminPolicy";
pub const EDIT_POLICY: &str = "AmazonEKSEditPolicy";
pub const VIEW_POLICY: &str = "AmazonEKSViewPolicy";
pub const ADMIN_VIEW_POLICY: &str = "AmazonEKSAdminViewPolicy";
pub const SECRET_READER_POLICY: &str = "AmazonEKSSecretReaderPolicy";
pub const HYBRID_POLICY: &str = "AmazonEKSHybridPolicy";
pub const AUTO_NODE_POLICY: &str = "AmazonEKSAutoNodePolicy";
pub const BLOCK_STORAGE_POLICY: &str = "AmazonEKSBlockStoragePolicy";
pub const LOAD_BALANCING_POLICY: &str = "AmazonEKSLoadBalancingPolicy";
pub const NETWORKING_POLICY: &str = "AmazonEKSNetworkingPolicy";
pub const COMPUTE_POLICY: &str = "AmazonEKSComputePolicy";
pub const BLOCK_STORAGE_CLUSTER_POLICY: &str = "AmazonEKSBlockStorageClusterPolicy";
pub const COMPUTE_CLUSTER_POLICY: &str = "AmazonEKSComputeClusterPolicy";
pub const LOAD_BALANCING_CLUSTER_POLICY: &str = "AmazonEKSLoadBalancingClusterPolicy";
pub const NETWORKING_CLUSTER_POLICY: &str = "AmazonEKSNetworkingClusterPolicy";
pub const CLUSTER_INSIGHTS_POLICY: &str = "AmazonEKSClusterInsightsPolicy";

/// Name prefix of the ClusterRoles that stand for access policies in an augmented snapshot.
pub const ROLE_PREFIX: &str = "eks-access-policy:";
/// Name prefix of the group an access entry's policy associations are bound to.
pub const GROUP_PREFIX: &str = "eks-access-entry:";

/// Where an association applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PolicyScope {
    Cluster,
    Namespace { namespaces: Vec<String> },
}

impl std::fmt::Display for PolicyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyScope::Cluster => f.write_str("cluster"),
            PolicyScope::Namespace { namespaces } => {
                write!(f, "namespaces {}", namespaces.join(","))
            }
        }
    }
}

/// One access policy associated with one access entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    pub policy_arn: String,
    /// The policy's short name, e.g. AmazonEKSViewPolicy.
    pub policy: String,
    pub scope: PolicyScope,
    /// False when we do not know this policy's rules (it is then left out of the evaluation).
    pub modelled: bool,
    /// True when the docs describe this policy in prose only, so its rules are our reading of
    /// that prose, widened wherever it is vague ([`from_prose`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approximated: bool,
}

impl Association {
    pub fn new(policy_arn: &str, scope: PolicyScope) -> Self {
        let policy = policy_name(policy_arn).to_string();
        let modelled = rules(&policy).is_some();
        let approximated = from_prose(&policy);
        Self {
            policy_arn: policy_arn.to_string(),
            policy,
            scope,
            modelled,
            approximated,
        }
    }

    pub fn describe(&self) -> String {
        let note = match (self.modelled, self.approximated) {
            (false, _) => ", not evaluated",
            (true, true) => ", rules approximated from the docs' prose",
            (true, false) => "",
        };
        format!("{} ({}{note})", self.policy, self.scope)
    }
}

/// `arn:aws:eks::aws:cluster-access-policy/NAME` -> NAME (anything else as given).
pub fn policy_name(arn: &str) -> &str {
    arn.rsplit_once("cluster-access-policy/")
        .map(|(_, n)| n)
        .unwrap_or(arn)
}

fn r(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    PolicyRule {
        api_groups: v(groups),
        resources: v(resources),
        verbs: verbs.iter().map(|x| x.to_string()).collect(),
        ..Default::default()
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

/// The rules AmazonEKSViewPolicy has; Edit and Admin build on them.
fn view_rules() -> Vec<PolicyRule> {
    vec![
        r(
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            READ,
        ),
        r(
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
            READ,
        ),
        r(
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
            READ,
        ),
        r(&["discovery.k8s.io"], &["endpointslices"], READ),
        r(
            &["extensions"],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
            ],
            READ,
        ),
        r(
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
            READ,
        ),
        r(
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
            READ,
        ),
        r(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
            READ,
        ),
        r(
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
            READ,
        ),
        r(&[""], &["namespaces"], READ),
    ]
}

/// AmazonEKSEditPolicy: View plus writes to workloads, pods (exec, attach, port-forward),
/// secrets and service-account impersonation.
fn edit_rules() -> Vec<PolicyRule> {
    let mut rules = view_rules();
    rules.extend([
        r(
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            WRITE,
        ),
        r(&["autoscaling"], &["horizontalpodautoscalers"], WRITE),
        r(&["batch"], &["cronjobs", "jobs"], WRITE),
        r(
            &["extensions"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "ingresses",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
            ],
            WRITE,
        ),
        r(
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
            WRITE,
        ),
        r(&["policy"], &["poddisruptionbudgets"], WRITE),
        r(
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
            READ,
        ),
        r(&[""], &["serviceaccounts"], &["impersonate"]),
        r(
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
            WRITE,
        ),
        r(
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            WRITE,
        ),
    ]);
    rules
}

/// AmazonEKSAdminPolicy: Edit plus local SubjectAccessReviews and Roles/RoleBindings.
fn admin_rules() -> Vec<PolicyRule> {
    let mut rules = edit_rules();
    rules.extend([
        r(
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
            &["create"],
        ),
        r(
            &["rbac.authorization.k8s.io"],
            &["rolebindings", "roles"],
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        ),
    ]);
    rules
}

/// Create, read, update and delete: what we give where the prose says "manage".
const MANAGE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const READ_MODIFY: &[&str] = &["get", "list", "patch", "update", "watch"];
const EVENTS: &[&str] = &["events"];

/// The Auto Mode policies and AmazonEKSClusterInsightsPolicy, whose page in the User Guide
/// ("Review access policy permissions") describes them in prose, not in a rule table.
pub fn from_prose(policy: &str) -> bool {
    matches!(
        policy,
        AUTO_NODE_POLICY
            | BLOCK_STORAGE_POLICY
            | LOAD_BALANCING_POLICY
            | NETWORKING_POLICY
            | COMPUTE_POLICY
            | BLOCK_STORAGE_CLUSTER_POLICY
            | COMPUTE_CLUSTER_POLICY
            | LOAD_BALANCING_CLUSTER_POLICY
            | NETWORKING_CLUSTER_POLICY
            | CLUSTER_INSIGHTS_POLICY
    )
}

/// Events in the core group and in events.k8s.io: the prose never says which.
fn events(verbs: &[&str]) -> Vec<PolicyRule> {
    vec![r(&["", "events.k8s.io"], EVENTS, verbs)]
}

/// Custom resource definitions: the prose says "create new CRDs" and "manage specific CRDs";
/// the names it gives are not a resourceNames list we can trust, so any CRD may be changed.
fn crds() -> PolicyRule {
    r(
        &["apiextensions.k8s.io"],
        &["customresourcedefinitions"],
        MANAGE,
    )
}

/// The leader-election leases of the four controller policies: "create and manage lease
/// objects", scoped in EKS to the controller's own lease names, which the docs do not give.
fn leases() -> Vec<PolicyRule> {
    vec![r(&["coordination.k8s.io"], &["leases"], MANAGE)]
}

/// Rules read from the prose of the Auto Mode policies and Cluster Insights (User Guide,
/// "Review access policy permissions", as of its November 2025 revision). Wherever the prose
/// names a resource without verbs, or "specific" objects without names, the rule is widened
/// to every verb or every name: the audit may report more than EKS grants, never less.
fn prose_rules(policy: &str) -> Option<Vec<PolicyRule>> {
    Some(match policy {
        BLOCK_STORAGE_POLICY | LOAD_BALANCING_POLICY | NETWORKING_POLICY | COMPUTE_POLICY => {
            leases()
        }
        // kube-proxy, ipamd (VPC CNI), coredns, the EBS CSI driver, neuron and the node
        // monitoring agent, each "restricted to the permissions required for its function".
        AUTO_NODE_POLICY => {
            let mut v = vec![
                r(
                    &[""],
                    &["endpoints", "namespaces", "nodes", "pods", "services"],
                    READ,
                ),
                r(&["discovery.k8s.io"], &["endpointslices"], READ),
                r(
                    &[""],
                    &["nodes", "nodes/status", "pods", "pods/status"],
                    &["patch", "update"],
                ),
                r(
                    &["", "storage.k8s.io"],
                    &[
                        "csinodes",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "persistentvolumes",
                        "storageclasses",
                        "volumeattachments",
                        "volumeattachments/status",
                    ],
                    MANAGE,
                ),
                r(
                    &["eks.amazonaws.com", "vpcresources.k8s.aws"],
                    &["*"],
                    MANAGE,
                ),
            ];
            v.extend(events(MANAGE));
            v
        }
        BLOCK_STORAGE_CLUSTER_POLICY => {
            let mut v = vec![
                r(&["storage.k8s.io"], &["csidrivers"], MANAGE),
                r(&[""], &["persistentvolumes"], MANAGE),
                r(
                    &[""],
                    &["persistentvolumeclaims", "persistentvolumeclaims/status"],
                    READ_MODIFY,
                ),
                r(&[""], &["nodes", "pods"], READ),
                r(
                    &["storage.k8s.io"],
                    &["csinodes", "storageclasses", "volumeattributesclasses"],
                    READ,
                ),
                r(
                    &["storage.k8s.io"],
                    &["volumeattachments", "volumeattachments/status"],
                    READ_MODIFY,
                ),
                r(
                    &["snapshot.storage.k8s.io", "groupsnapshot.storage.k8s.io"],
                    &["*"],
                    MANAGE,
                ),
            ];
            v.extend(events(MANAGE));
            v
        }
        COMPUTE_CLUSTER_POLICY => {
            let mut v = vec![
                r(&["karpenter.sh"], &["*"], MANAGE),
                r(&["eks.amazonaws.com"], &["*"], MANAGE),
                r(
                    &[""],
                    &[
                        "namespaces",
                        "nodes",
                        "persistentvolumeclaims",
                        "persistentvolumes",
                        "pods",
                        "replicationcontrollers",
                    ],
                    READ,
                ),
                r(
                    &["storage.k8s.io"],
                    &["csinodes", "storageclasses", "volumeattachments"],
                    READ,
                ),
                r(
                    &["apps"],
                    &["daemonsets", "deployments", "replicasets", "statefulsets"],
                    READ,
                ),
                r(&["policy"], &["poddisruptionbudgets"], READ),
                r(
                    &[""],
                    &["nodes", "nodes/status"],
                    &["delete", "patch", "update"],
                ),
                r(&[""], &["pods/eviction"], &["create"]),
                r(&[""], &["pods"], &["delete"]),
                crds(),
            ];
            v.extend(events(MANAGE));
            v
        }
        LOAD_BALANCING_CLUSTER_POLICY => {
            let mut v = vec![
                r(&[""], &["endpoints", "namespaces", "nodes", "pods"], READ),
                r(&[""], &["pods/status"], &["patch", "update"]),
                r(&[""], &["services", "services/status"], MANAGE),
                r(
                    &["networking.k8s.io"],
                    &["ingresses", "ingresses/status"],
                    MANAGE,
                ),
                r(&["discovery.k8s.io"], &["endpointslices"], READ),
                r(&["networking.k8s.io"], &["ingressclasses"], READ),
                r(
                    &["eks.amazonaws.com", "elbv2.k8s.aws"],
                    &[
                        "ingressclassparams",
                        "targetgroupbindings",
                        "targetgroupbindings/status",
                    ],
                    MANAGE,
                ),
                crds(),
                // "Create and read" webhook configurations and "manage" one of them: a
                // webhook that intercepts every request, whatever its name.
                r(
                    &["admissionregistration.k8s.io"],
                    &[
                        "mutatingwebhookconfigurations",
                        "validatingwebhookconfigurations",
                    ],
                    MANAGE,
                ),
            ];
            v.extend(events(&["create", "patch"]));
            v
        }
        NETWORKING_CLUSTER_POLICY => {
            let mut v = vec![
                r(
                    &["eks.amazonaws.com"],
                    &["nodeclasses", "nodeclasses/status"],
                    READ,
                ),
                r(
                    &["karpenter.sh"],
                    &["nodeclaims", "nodeclaims/status"],
                    READ,
                ),
                r(&[""], &["pods"], READ),
                r(
                    &["eks.amazonaws.com", "vpcresources.k8s.aws"],
                    &["cninodes", "cninodes/status"],
                    MANAGE,
                ),
                crds(),
            ];
            v.extend(events(&["create", "patch"]));
            v
        }
        CLUSTER_INSIGHTS_POLICY => vec![
            r(&[""], &["nodes", "nodes/status"], READ),
            r(&["apps"], &["daemonsets"], READ),
        ],
        _ => return None,
    })
}

/// The rules of an access policy, by short name; None for a policy we do not model.
pub fn rules(policy: &str) -> Option<Vec<PolicyRule>> {
    if from_prose(policy) {
        return prose_rules(policy);
    }
    Some(match policy {
        CLUSTER_ADMIN_POLICY => vec![
            r(&["*"], &["*"], &["*"]),
            PolicyRule {
                non_resource_urls: Some(vec!["*".into()]),
                verbs: vec!["*".into()],
                ..Default::default()
            },
        ],
        ADMIN_POLICY => admin_rules(),
        EDIT_POLICY => edit_rules(),
        VIEW_POLICY => view_rules(),
        ADMIN_VIEW_POLICY => vec![r(&["*"], &["*"], READ)],
        SECRET_READER_POLICY => vec![r(&[""], &["secrets"], READ)],
        // The one rule in its table: list nodes, in every API group.
        HYBRID_POLICY => vec![r(&["*"], &["nodes"], &["list"])],
        _ => return None,
    })
}

/// The group an entry's associations are bound to in the augmented snapshot. Not a real
/// Kubernetes group: it exists only inside our evaluation, and `--verify` leaves it out.
pub fn entry_group(principal_arn: &str) -> String {
    format!("{GROUP_PREFIX}{principal_arn}")
}

fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        ..Default::default()
    }
}

fn role_ref(policy: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "ClusterRole".into(),
        name: format!("{ROLE_PREFIX}{policy}"),
    }
}

fn group_subject(name: &str) -> Subject {
    Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "Group".into(),
        name: name.into(),
        namespace: None,
    }
}

/// Add the objects that stand for `associations` of the entry for `principal_arn`: one
/// ClusterRole per modelled policy (once), a ClusterRoleBinding for a cluster scope and a
/// RoleBinding per namespace for a namespace scope, all bound to [`entry_group`].
pub fn add_to(objects: &mut RbacObjects, principal_arn: &str, associations: &[Association]) {
    let group = entry_group(principal_arn);
    for a in associations {
        let Some(rules) = rules(&a.policy) else {
            continue;
        };
        let role_name = format!("{ROLE_PREFIX}{}", a.policy);
        if !objects
            .cluster_roles
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some(role_name.as_str()))
        {
            objects.cluster_roles.push(ClusterRole {
                metadata: meta(None, &role_name),
                rules: Some(rules),
                aggregation_rule: None,
            });
        }
        let binding = format!("{principal_arn} -> {}", a.policy);
        match &a.scope {
            PolicyScope::Cluster => objects.cluster_role_bindings.push(ClusterRoleBinding {
                metadata: meta(None, &binding),
                role_ref: role_ref(&a.policy),
                subjects: Some(vec![group_subject(&group)]),
            }),
            PolicyScope::Namespace { namespaces } => {
                for ns in namespaces {
                    objects.role_bindings.push(RoleBinding {
                        metadata: meta(Some(ns), &binding),
                        role_ref: role_ref(&a.policy),
                        subjects: Some(vec![group_subject(&group)]),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{AccessSummary, Identity, RbacSnapshot, Request, RuleSource};

    fn snapshot(policy: &str, scope: PolicyScope) -> (RbacSnapshot, Identity) {
        let arn = "arn:aws:iam::111122223333:role/team/viewer";
        let mut objects = RbacObjects::default();
        add_to(
            &mut objects,
            arn,
            &[Association::new(
                &format!("arn:aws:eks::aws:cluster-access-policy/{policy}"),
                scope,
            )],
        );
        let group = entry_group(arn);
        (
            RbacSnapshot::new(objects, RuleSource::AsStored),
            Identity::user("viewer", &[group.as_str()]),
        )
    }

    fn allows(
        s: &RbacSnapshot,
        id: &Identity,
        verb: &str,
        group: &str,
        resource: &str,
        ns: Option<&str>,
    ) -> bool {
        let mut q = Request::resource(verb, group, resource);
        if let Some((res, sub)) = resource.split_once('/') {
            q = Request::resource(verb, group, res).subresource(sub);
        }
        if let Some(ns) = ns {
            q = q.namespace(ns);
        }
        s.allows(id, &Request::Resource(q)).allowed
    }

    #[test]
    fn names_come_from_arns() {
        assert_eq!(
            policy_name("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"),
            VIEW_POLICY
        );
        assert_eq!(
            policy_name("arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"),
            EDIT_POLICY
        );
        // The issue-13 change: Auto Mode policies are now modelled (from prose); a policy
        // the docs give no rules for stays unmodelled.
        assert!(
            !Association::new(
                "arn:aws:eks::aws:cluster-access-policy/AmazonEMRJobPolicy",
                PolicyScope::Cluster
            )
            .modelled
        );
        let auto = Association::new(
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy",
            PolicyScope::Cluster,
        );
        assert!(auto.modelled && auto.approximated);
        assert!(
            auto.describe().contains("approximated"),
            "{}",
            auto.describe()
        );
        assert!(
            Association::new(
                "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy",
                PolicyScope::Cluster
            )
            .modelled
        );
    }

    #[test]
    fn cluster_admin_policy_is_cluster_admin() {
        let (s, id) = snapshot(CLUSTER_ADMIN_POLICY, PolicyScope::Cluster);
        assert_eq!(s.effective_summary(&id), AccessSummary::ClusterAdmin);
        assert!(
            s.allows(&id, &Request::non_resource("get", "/metrics"))
                .allowed
        );
    }

    #[test]
    fn view_policy_reads_workloads_but_not_secrets() {
        let (s, id) = snapshot(VIEW_POLICY, PolicyScope::Cluster);
        assert!(allows(&s, &id, "list", "", "pods", None));
        assert!(allows(
            &s,
            &id,
            "get",
            "apps",
            "deployments",
            Some("default")
        ));
        assert!(allows(&s, &id, "get", "", "pods/log", Some("default")));
        assert!(!allows(&s, &id, "get", "", "secrets", None));
        assert!(!allows(&s, &id, "create", "", "pods", Some("default")));
        assert!(!allows(&s, &id, "get", "", "nodes", None));
    }

    #[test]
    fn admin_view_policy_reads_everything_including_secrets() {
        let (s, id) = snapshot(ADMIN_VIEW_POLICY, PolicyScope::Cluster);
        assert!(allows(&s, &id, "get", "", "secrets", None));
        assert!(allows(&s, &id, "list", "example.com", "widgets", None));
        assert!(!allows(&s, &id, "delete", "", "pods", Some("default")));
        assert_eq!(s.effective_summary(&id), AccessSummary::ReadAll);
    }

    #[test]
    fn edit_policy_writes_pods_and_secrets_but_not_rbac() {
        let (s, id) = snapshot(EDIT_POLICY, PolicyScope::Cluster);
        assert!(allows(
            &s,
            &id,
            "create",
            "",
            "pods/exec",
            Some("kube-system")
        ));
        assert!(allows(&s, &id, "update", "", "secrets", Some("default")));
        assert!(allows(
            &s,
            &id,
            "impersonate",
            "",
            "serviceaccounts",
            Some("default")
        ));
        assert!(!allows(
            &s,
            &id,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            Some("default")
        ));
    }

    #[test]
    fn admin_policy_adds_roles_and_rolebindings() {
        let (s, id) = snapshot(ADMIN_POLICY, PolicyScope::Cluster);
        assert!(allows(
            &s,
            &id,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            Some("default")
        ));
        assert!(allows(
            &s,
            &id,
            "create",
            "authorization.k8s.io",
            "localsubjectaccessreviews",
            Some("default")
        ));
        assert!(!allows(
            &s,
            &id,
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None
        ));
    }

    #[test]
    fn namespace_scope_stays_in_its_namespaces() {
        let (s, id) = snapshot(
            EDIT_POLICY,
            PolicyScope::Namespace {
                namespaces: vec!["team-a".into(), "team-b".into()],
            },
        );
        assert!(allows(&s, &id, "create", "", "pods", Some("team-a")));
        assert!(allows(&s, &id, "create", "", "pods", Some("team-b")));
        assert!(!allows(&s, &id, "create", "", "pods", Some("default")));
        assert!(!allows(&s, &id, "list", "", "pods", None));
        assert_eq!(s.effective_summary(&id), AccessSummary::Namespaced(2));
    }

    #[test]
    fn a_wildcard_scope_applies_in_the_namespaces_it_matches() {
        let (s, id) = snapshot(
            EDIT_POLICY,
            PolicyScope::Namespace {
                namespaces: vec!["dev-*".into(), "qa".into()],
            },
        );
        assert!(allows(&s, &id, "create", "", "pods", Some("dev-x")));
        assert!(allows(&s, &id, "update", "", "secrets", Some("dev-team")));
        assert!(allows(&s, &id, "create", "", "pods", Some("qa")));
        assert!(!allows(&s, &id, "create", "", "pods", Some("dev")));
        assert!(!allows(&s, &id, "create", "", "pods", Some("qa-dev-x")));
        assert!(!allows(&s, &id, "list", "", "pods", None));
        assert_eq!(s.effective_summary(&id), AccessSummary::Namespaced(2));
        let exec = crate::rbac::dangerous_capabilities()
            .into_iter()
            .filter(|c| c.id == "pods-exec")
            .collect::<Vec<_>>();
        let hits = s.check_capabilities(&id, &exec);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0]
                .scopes
                .contains(&crate::rbac::Scope::Namespace("dev-*".into())),
            "{:?}",
            hits[0].scopes
        );
    }

    #[test]
    fn hybrid_policy_lists_nodes_and_nothing_else() {
        let (s, id) = snapshot(HYBRID_POLICY, PolicyScope::Cluster);
        assert!(allows(&s, &id, "list", "", "nodes", None));
        assert!(allows(&s, &id, "list", "example.com", "nodes", None));
        assert!(!allows(&s, &id, "get", "", "nodes", None));
        assert!(!allows(&s, &id, "list", "", "pods", None));
        assert!(
            !Association::new(&format!("x/{HYBRID_POLICY}"), PolicyScope::Cluster).approximated
        );
    }

    /// What the prose of each Auto Mode policy names is held; the dangerous parts it names
    /// (webhooks, CRDs, pod deletion and eviction) are findings, not omissions.
    #[test]
    fn auto_mode_policies_hold_what_their_prose_names() {
        let held = |policy: &str, verb: &str, group: &str, resource: &str, ns: Option<&str>| {
            let (s, id) = snapshot(policy, PolicyScope::Cluster);
            allows(&s, &id, verb, group, resource, ns)
        };
        let adm = "admissionregistration.k8s.io";
        let crd = "apiextensions.k8s.io";
        for verb in ["create", "update", "delete"] {
            assert!(held(
                LOAD_BALANCING_CLUSTER_POLICY,
                verb,
                adm,
                "mutatingwebhookconfigurations",
                None
            ));
            assert!(held(
                LOAD_BALANCING_CLUSTER_POLICY,
                verb,
                adm,
                "validatingwebhookconfigurations",
                None
            ));
        }
        for policy in [
            COMPUTE_CLUSTER_POLICY,
            LOAD_BALANCING_CLUSTER_POLICY,
            NETWORKING_CLUSTER_POLICY,
        ] {
            assert!(
                held(policy, "create", crd, "customresourcedefinitions", None),
                "{policy}"
            );
        }
        assert!(held(
            COMPUTE_CLUSTER_POLICY,
            "delete",
            "",
            "pods",
            Some("default")
        ));
        assert!(held(
            COMPUTE_CLUSTER_POLICY,
            "create",
            "",
            "pods/eviction",
            Some("default")
        ));
        assert!(held(COMPUTE_CLUSTER_POLICY, "delete", "", "nodes", None));
        assert!(!held(
            COMPUTE_CLUSTER_POLICY,
            "create",
            "",
            "pods",
            Some("default")
        ));
        assert!(held(
            COMPUTE_CLUSTER_POLICY,
            "create",
            "karpenter.sh",
            "nodepools",
            None
        ));
        assert!(held(
            BLOCK_STORAGE_CLUSTER_POLICY,
            "delete",
            "",
            "persistentvolumes",
            None
        ));
        assert!(held(
            BLOCK_STORAGE_CLUSTER_POLICY,
            "create",
            "storage.k8s.io",
            "csidrivers",
            None
        ));
        assert!(!held(
            BLOCK_STORAGE_CLUSTER_POLICY,
            "get",
            "",
            "secrets",
            Some("default")
        ));
        assert!(held(
            LOAD_BALANCING_CLUSTER_POLICY,
            "create",
            "",
            "services",
            Some("default")
        ));
        assert!(held(
            NETWORKING_CLUSTER_POLICY,
            "update",
            "eks.amazonaws.com",
            "cninodes",
            None
        ));
        assert!(held(AUTO_NODE_POLICY, "patch", "", "nodes", None));
        assert!(!held(
            AUTO_NODE_POLICY,
            "get",
            "",
            "secrets",
            Some("default")
        ));
        for policy in [
            BLOCK_STORAGE_POLICY,
            LOAD_BALANCING_POLICY,
            NETWORKING_POLICY,
            COMPUTE_POLICY,
        ] {
            assert!(held(
                policy,
                "update",
                "coordination.k8s.io",
                "leases",
                Some("kube-system")
            ));
            assert!(
                !held(policy, "get", "", "pods", Some("kube-system")),
                "{policy}"
            );
        }
        assert!(held(
            CLUSTER_INSIGHTS_POLICY,
            "get",
            "apps",
            "daemonsets",
            Some("kube-system")
        ));
        assert!(!held(
            CLUSTER_INSIGHTS_POLICY,
            "update",
            "apps",
            "daemonsets",
            Some("kube-system")
        ));

        // The audit's catalogue sees the webhooks: they intercept every request.
        let (s, id) = snapshot(LOAD_BALANCING_CLUSTER_POLICY, PolicyScope::Cluster);
        let hits: Vec<&str> = s
            .check_capabilities(&id, &crate::rbac::dangerous_capabilities())
            .iter()
            .map(|h| h.id)
            .collect();
        assert!(hits.contains(&"admission-webhook-write"), "{hits:?}");
    }

    #[test]
    fn namespaced_cluster_admin_policy_is_not_cluster_admin() {
        let (s, id) = snapshot(
            CLUSTER_ADMIN_POLICY,
            PolicyScope::Namespace {
                namespaces: vec!["dev".into()],
            },
        );
        assert_eq!(s.effective_summary(&id), AccessSummary::Namespaced(1));
        assert!(
            !s.allows(&id, &Request::non_resource("get", "/metrics"))
                .allowed
        );
    }

    #[test]
    fn unknown_policies_add_nothing_and_roles_are_shared() {
        let mut objects = RbacObjects::default();
        add_to(
            &mut objects,
            "arn:aws:iam::1:role/a",
            &[Association::new(
                "arn:aws:eks::aws:cluster-access-policy/AmazonEMRJobPolicy",
                PolicyScope::Cluster,
            )],
        );
        assert!(objects.cluster_roles.is_empty() && objects.cluster_role_bindings.is_empty());
        let view = Association::new(
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            PolicyScope::Cluster,
        );
        add_to(
            &mut objects,
            "arn:aws:iam::1:role/a",
            std::slice::from_ref(&view),
        );
        add_to(&mut objects, "arn:aws:iam::1:role/b", &[view]);
        assert_eq!(objects.cluster_roles.len(), 1);
        assert_eq!(objects.cluster_role_bindings.len(), 2);
    }
}
