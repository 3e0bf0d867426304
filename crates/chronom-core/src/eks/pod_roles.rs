//! The way out of a cluster into IAM: which IAM role each service account's pods can assume
//! (EKS Pod Identity associations and IRSA annotations), and which mapped IAM principals can run
//! a pod as that service account. Pure: the associations, the annotated service accounts, the
//! mappings and the RBAC snapshots in; the roles and who reaches them out.
//!
//! A pod names its service account freely (`spec.serviceAccountName`): RBAC has no check on it,
//! so whoever can create a pod in the namespace, or a workload whose controller creates pods
//! (Deployments, Jobs, ...), or change such a workload's pod template, can run a pod as any of
//! the namespace's service accounts and get that account's IAM credentials: from the EKS Pod
//! Identity Agent (an association for namespace/service account), or from STS with the
//! projected token (IRSA: the `eks.amazonaws.com/role-arn` annotation, read by EKS's pod
//! identity webhook). A Pod Identity association may name a service account that does not
//! exist yet: then the pod also needs the account created.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::audit::findings::{self, Finding};
use crate::audit::inventory::Mapping;
use crate::rbac::{Identity, RbacSnapshot, Request};

/// The annotation IRSA reads on a service account (User Guide, "Assign IAM roles to
/// Kubernetes service accounts").
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// How a service account's pods get an IAM role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleLink {
    PodIdentity,
    Irsa,
}

/// A service account as the audit lists it: its IRSA annotation, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountSeen {
    pub namespace: String,
    pub name: String,
    pub irsa_role_arn: Option<String>,
}

/// One DescribePodIdentityAssociation answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodIdentityAssociation {
    pub association_id: String,
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    /// The role assumed in turn for cross-account access, when set.
    pub target_role_arn: Option<String>,
}

/// A way for a mapped principal to run a pod as the service account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRoute {
    pub principal: String,
    /// The first request that allows it, e.g. `create pods` or `patch deployments.apps`.
    pub by: String,
}

/// An IAM role a service account's pods can assume, and who can run such a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountRole {
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub via: RoleLink,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
    /// False for a Pod Identity association whose service account is not in the cluster.
    pub service_account_exists: bool,
    pub reachable_by: Vec<PodRoute>,
}

impl ServiceAccountRole {
    fn subject(&self) -> String {
        format!(
            "ServiceAccount {}/{} -> {}",
            self.namespace, self.service_account, self.role_arn
        )
    }
}

/// The inventory: every association and every annotated service account, sorted by
/// namespace, service account and role. `service_accounts` is every service account of the
/// cluster (an association's account may be missing).
pub fn inventory(
    associations: &[PodIdentityAssociation],
    service_accounts: &[ServiceAccountSeen],
) -> Vec<ServiceAccountRole> {
    let existing: BTreeSet<(&str, &str)> = service_accounts
        .iter()
        .map(|s| (s.namespace.as_str(), s.name.as_str()))
        .collect();
    let mut out: Vec<ServiceAccountRole> = associations
        .iter()
        .map(|a| ServiceAccountRole {
            namespace: a.namespace.clone(),
            service_account: a.service_account.clone(),
            role_arn: a.role_arn.clone(),
            via: RoleLink::PodIdentity,
            target_role_arn: a.target_role_arn.clone(),
            association_id: Some(a.association_id.clone()),
            service_account_exists: existing
                .contains(&(a.namespace.as_str(), a.service_account.as_str())),
            reachable_by: Vec::new(),
        })
        .collect();
    out.extend(service_accounts.iter().filter_map(|s| {
        let role = s.irsa_role_arn.as_deref()?.trim();
        (!role.is_empty()).then(|| ServiceAccountRole {
            namespace: s.namespace.clone(),
            service_account: s.name.clone(),
            role_arn: role.to_string(),
            via: RoleLink::Irsa,
            target_role_arn: None,
            association_id: None,
            service_account_exists: true,
            reachable_by: Vec::new(),
        })
    }));
    out.sort_by(|a, b| {
        (&a.namespace, &a.service_account, &a.role_arn, a.via).cmp(&(
            &b.namespace,
            &b.service_account,
            &b.role_arn,
            b.via,
        ))
    });
    out
}

/// Requests that put a pod with a chosen service account in a namespace: the pod itself, or a
/// workload whose controller makes pods from a template the caller writes (created, or changed
/// by patch or update; a Job's template cannot change after creation, so only its create counts).
const POD_MAKERS: &[(&str, &str, &str)] = &[
    ("create", "", "pods"),
    ("create", "apps", "deployments"),
    ("create", "apps", "replicasets"),
    ("create", "apps", "statefulsets"),
    ("create", "apps", "daemonsets"),
    ("create", "batch", "jobs"),
    ("create", "batch", "cronjobs"),
    ("create", "", "replicationcontrollers"),
    ("patch", "apps", "deployments"),
    ("update", "apps", "deployments"),
    ("patch", "apps", "replicasets"),
    ("update", "apps", "replicasets"),
    ("patch", "apps", "statefulsets"),
    ("update", "apps", "statefulsets"),
    ("patch", "apps", "daemonsets"),
    ("update", "apps", "daemonsets"),
    ("patch", "batch", "cronjobs"),
    ("update", "batch", "cronjobs"),
    ("patch", "", "replicationcontrollers"),
    ("update", "", "replicationcontrollers"),
];

fn describe(verb: &str, group: &str, resource: &str) -> String {
    if group.is_empty() {
        format!("{verb} {resource}")
    } else {
        format!("{verb} {resource}.{group}")
    }
}

/// The first pod-making request `identity` may make in `ns`, as `verb resource[.group]`. A
/// node's own "create pods" does not count: the Node authorizer allows only mirror pods, which
/// the NodeRestriction admission plugin forbids to name a service account.
fn pod_maker(snapshot: &RbacSnapshot, identity: &Identity, ns: &str) -> Option<String> {
    POD_MAKERS.iter().find_map(|(verb, group, resource)| {
        let q = Request::Resource(Request::resource(verb, group, resource).namespace(ns));
        let d = snapshot.allows(identity, &q);
        (d.allowed && !d.node_authorizer).then(|| describe(verb, group, resource))
    })
}

/// One active mapping as the evaluator sees it, with the snapshot its rights are in (access
/// entries with access policies are evaluated in the augmented one).
pub struct Evaluated<'a> {
    pub mapping: &'a Mapping,
    pub identity: Identity,
    pub snapshot: &'a RbacSnapshot,
}

/// Fill in `reachable_by`: each active mapping that can make a pod in the role's namespace
/// (and, for a missing service account, create it too).
pub fn reach(roles: &mut [ServiceAccountRole], principals: &[Evaluated<'_>]) {
    for role in roles.iter_mut() {
        let mut routes = BTreeSet::new();
        for p in principals.iter().filter(|p| p.mapping.active) {
            let by = match pod_maker(p.snapshot, &p.identity, &role.namespace) {
                Some(by) if role.service_account_exists => by,
                Some(by) => {
                    let create_sa = Request::Resource(
                        Request::resource("create", "", "serviceaccounts")
                            .namespace(&role.namespace),
                    );
                    if !p.snapshot.allows(&p.identity, &create_sa).allowed {
                        continue;
                    }
                    format!("{by} and create serviceaccounts")
                }
                // No pod needed: a token of the service account (TokenRequest, any audience)
                // is what IRSA's AssumeRoleWithWebIdentity takes. Counted for Pod Identity too,
                // whose agent also trades a service-account token: never under-report.
                None if role.service_account_exists => {
                    let token = Request::Resource(
                        Request::resource("create", "", "serviceaccounts")
                            .subresource("token")
                            .name(&role.service_account)
                            .namespace(&role.namespace),
                    );
                    if !p.snapshot.allows(&p.identity, &token).allowed {
                        continue;
                    }
                    "create serviceaccounts/token".to_string()
                }
                None => continue,
            };
            routes.insert(PodRoute {
                principal: p.mapping.principal.clone(),
                by,
            });
        }
        role.reachable_by = routes.into_iter().collect();
    }
}

/// CHR048 for every role some mapped principal can reach through a pod.
pub fn findings(roles: &[ServiceAccountRole]) -> Vec<Finding> {
    roles
        .iter()
        .filter(|r| !r.reachable_by.is_empty())
        .map(|r| {
            let who: Vec<String> = r
                .reachable_by
                .iter()
                .map(|p| format!("{} ({} in {})", p.principal, p.by, r.namespace))
                .collect();
            let via = match r.via {
                RoleLink::PodIdentity => "an EKS Pod Identity association",
                RoleLink::Irsa => "the eks.amazonaws.com/role-arn annotation (IRSA)",
            };
            let target = r
                .target_role_arn
                .as_deref()
                .map(|t| format!(", then {t}"))
                .unwrap_or_default();
            findings::finding(
                findings::POD_REACHES_IAM_ROLE,
                r.subject(),
                format!(
                    "pods running as {}/{} get IAM role {}{target} through {via}; these mapped principals can run such a pod: {}",
                    r.namespace,
                    r.service_account,
                    r.role_arn,
                    who.join("; ")
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::inventory::from_aws_auth;
    use crate::audit::report::identity_of;
    use crate::rbac::fixture::*;
    use crate::rbac::{RbacObjects, RuleSource};

    const ROLE: &str = "arn:aws:iam::111122223333:role/s3-writer";

    /// verbs, API groups, resources, resource names.
    type PolicyRuleSpec = (
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<String>,
        Vec<&'static str>,
    );

    fn sa(ns: &str, name: &str, role: Option<&str>) -> ServiceAccountSeen {
        ServiceAccountSeen {
            namespace: ns.into(),
            name: name.into(),
            irsa_role_arn: role.map(String::from),
        }
    }

    fn association(ns: &str, name: &str) -> PodIdentityAssociation {
        PodIdentityAssociation {
            association_id: "a-1".into(),
            namespace: ns.into(),
            service_account: name.into(),
            role_arn: ROLE.into(),
            target_role_arn: Some("arn:aws:iam::444455556666:role/target".into()),
        }
    }

    /// `deployers` may create deployments in `apps`; `pod-makers` may create pods and
    /// serviceaccounts in `jobs`; `readers` may only read pods everywhere.
    fn snapshot() -> RbacSnapshot {
        let objects = RbacObjects {
            cluster_roles: vec![
                cluster_role(
                    "deployer",
                    vec![rule(&["create"], &["apps"], &["deployments"], &[])],
                ),
                cluster_role(
                    "pod-maker",
                    vec![rule(&["create"], &[""], &["pods", "serviceaccounts"], &[])],
                ),
                cluster_role(
                    "reader",
                    vec![rule(&["get", "list"], &[""], &["pods"], &[])],
                ),
            ],
            cluster_role_bindings: vec![crb("readers", "reader", vec![group("readers")])],
            role_bindings: vec![
                rb(
                    "apps",
                    "deployers",
                    "ClusterRole",
                    "deployer",
                    vec![group("deployers")],
                ),
                rb(
                    "jobs",
                    "pod-makers",
                    "ClusterRole",
                    "pod-maker",
                    vec![group("pod-makers")],
                ),
            ],
            ..Default::default()
        };
        RbacSnapshot::new(objects, RuleSource::AsStored)
    }

    fn mappings() -> Vec<Mapping> {
        let map_roles = "\
- rolearn: arn:aws:iam::111122223333:role/deploy
  username: deploy
  groups: [deployers]
- rolearn: arn:aws:iam::111122223333:role/batch
  username: batch
  groups: [pod-makers]
- rolearn: arn:aws:iam::111122223333:role/read
  username: read
  groups: [readers]
- rolearn: arn:aws:iam::111122223333:role/nodes
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:nodes, system:bootstrappers]
";
        from_aws_auth(&std::collections::BTreeMap::from([(
            "mapRoles".to_string(),
            map_roles.to_string(),
        )]))
        .mappings
    }

    fn reached(roles: &[ServiceAccountRole], ns: &str) -> Vec<(String, String)> {
        roles
            .iter()
            .find(|r| r.namespace == ns)
            .unwrap()
            .reachable_by
            .iter()
            .map(|p| (p.principal.clone(), p.by.clone()))
            .collect()
    }

    /// Each way to run a pod as a service account, granted alone in the namespace, reaches the
    /// role; so does a token of the account itself; a right elsewhere or on another account's
    /// token does not.
    #[test]
    fn every_single_pod_making_right_and_the_token_right_reach_the_role() {
        // Written out, not taken from POD_MAKERS, so a right dropped from that list fails here.
        let makers: &[(&str, &str, &str)] = &[
            ("create", "", "pods"),
            ("create", "batch", "jobs"),
            ("create", "", "replicationcontrollers"),
            ("patch", "", "replicationcontrollers"),
            ("update", "", "replicationcontrollers"),
            ("create", "batch", "cronjobs"),
            ("patch", "batch", "cronjobs"),
            ("update", "batch", "cronjobs"),
            ("create", "apps", "deployments"),
            ("patch", "apps", "deployments"),
            ("update", "apps", "deployments"),
            ("create", "apps", "replicasets"),
            ("patch", "apps", "replicasets"),
            ("update", "apps", "replicasets"),
            ("create", "apps", "statefulsets"),
            ("patch", "apps", "statefulsets"),
            ("update", "apps", "statefulsets"),
            ("create", "apps", "daemonsets"),
            ("patch", "apps", "daemonsets"),
            ("update", "apps", "daemonsets"),
        ];
        let mut rights: Vec<(String, PolicyRuleSpec)> = makers
            .iter()
            .map(|(verb, group, resource)| {
                (
                    describe(verb, group, resource),
                    (
                        vec![*verb],
                        vec![*group],
                        vec![resource.to_string()],
                        vec![],
                    ),
                )
            })
            .collect();
        rights.push((
            "create serviceaccounts/token".into(),
            (
                vec!["create"],
                vec![""],
                vec!["serviceaccounts/token".into()],
                vec!["uploader"],
            ),
        ));
        let denied: [PolicyRuleSpec; 2] = [
            (
                vec!["create"],
                vec![""],
                vec!["serviceaccounts/token".into()],
                vec!["someone-else"],
            ),
            (
                vec!["get", "list", "watch"],
                vec!["*"],
                vec!["*".into()],
                vec![],
            ),
        ];
        let map_roles =
            "- rolearn: arn:aws:iam::111122223333:role/one\n  username: one\n  groups: [team]\n";
        let mappings = from_aws_auth(&std::collections::BTreeMap::from([(
            "mapRoles".to_string(),
            map_roles.to_string(),
        )]))
        .mappings;
        let case = |spec: &PolicyRuleSpec| {
            let (verbs, groups, resources, names) = spec;
            let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
            let snapshot = RbacSnapshot::new(
                RbacObjects {
                    cluster_roles: vec![cluster_role(
                        "r",
                        vec![rule(verbs, groups, &resources, names)],
                    )],
                    role_bindings: vec![rb("apps", "b", "ClusterRole", "r", vec![group("team")])],
                    ..Default::default()
                },
                RuleSource::AsStored,
            );
            let evaluated = [Evaluated {
                mapping: &mappings[0],
                identity: identity_of(&mappings[0]),
                snapshot: &snapshot,
            }];
            let mut roles = inventory(&[], &[sa("apps", "uploader", Some(ROLE))]);
            reach(&mut roles, &evaluated);
            reached(&roles, "apps")
        };
        for (by, spec) in &rights {
            assert_eq!(
                case(spec),
                [("arn:aws:iam::111122223333:role/one".to_string(), by.clone())],
                "{by} alone"
            );
        }
        for spec in &denied {
            assert!(case(spec).is_empty(), "{spec:?}");
        }
    }

    #[test]
    fn the_inventory_joins_associations_and_annotations() {
        let sas = [
            sa("apps", "uploader", Some(ROLE)),
            sa("apps", "plain", None),
            sa("jobs", "empty", Some("  ")),
        ];
        let roles = inventory(&[association("jobs", "worker")], &sas);
        assert_eq!(roles.len(), 2, "{roles:#?}");
        assert_eq!(
            (
                roles[0].via,
                roles[0].namespace.as_str(),
                roles[0].service_account_exists
            ),
            (RoleLink::Irsa, "apps", true)
        );
        assert_eq!(
            (
                roles[1].via,
                roles[1].service_account.as_str(),
                roles[1].service_account_exists
            ),
            (RoleLink::PodIdentity, "worker", false)
        );
        let j = serde_json::to_value(&roles[1]).unwrap();
        assert_eq!(j["via"], "pod-identity");
        assert_eq!(j["targetRoleArn"], "arn:aws:iam::444455556666:role/target");
        assert_eq!(j["serviceAccountExists"], false);
    }

    #[test]
    fn principals_that_can_make_a_pod_in_the_namespace_reach_the_role() {
        let snapshot = snapshot();
        let mappings = mappings();
        let evaluated: Vec<Evaluated> = mappings
            .iter()
            .map(|m| Evaluated {
                mapping: m,
                identity: identity_of(m),
                snapshot: &snapshot,
            })
            .collect();
        let mut roles = inventory(
            &[
                association("jobs", "worker"),
                association("apps", "missing"),
            ],
            &[
                sa("apps", "uploader", Some(ROLE)),
                sa("jobs", "other", None),
            ],
        );
        reach(&mut roles, &evaluated);
        // IRSA in apps: the deployer, through a Deployment; the reader never.
        let apps_irsa = roles.iter().find(|r| r.via == RoleLink::Irsa).unwrap();
        assert_eq!(
            apps_irsa
                .reachable_by
                .iter()
                .map(|p| (p.principal.as_str(), p.by.as_str()))
                .collect::<Vec<_>>(),
            [(
                "arn:aws:iam::111122223333:role/deploy",
                "create deployments.apps"
            )]
        );
        // The node role's "create pods" (the Node authorizer's mirror pods) never counts.
        assert!(
            roles
                .iter()
                .flat_map(|r| &r.reachable_by)
                .all(|p| !p.principal.ends_with("role/nodes")),
            "{roles:#?}"
        );
        // The association in jobs names a service account that does not exist: the batch
        // role can create pods and the account.
        assert_eq!(
            reached(&roles, "jobs"),
            [(
                "arn:aws:iam::111122223333:role/batch".to_string(),
                "create pods and create serviceaccounts".to_string()
            )]
        );
        // In apps the associated account is missing and the deployer cannot create it.
        let missing = roles
            .iter()
            .find(|r| r.service_account == "missing")
            .unwrap();
        assert!(missing.reachable_by.is_empty(), "{missing:#?}");

        let f = findings(&roles);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(
            f.iter()
                .all(|f| f.rule == findings::POD_REACHES_IAM_ROLE.id)
        );
        assert!(
            f.iter().any(|f| f
                .evidence
                .contains("then arn:aws:iam::444455556666:role/target")),
            "{f:#?}"
        );
    }
}
