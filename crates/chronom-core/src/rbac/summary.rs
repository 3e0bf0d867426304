//! One word for what an identity can do, for audit tables.
//!
//! Definitions, applied in this order to the identity's RBAC grants (every rule of every binding
//! that applies to it, [`RbacSnapshot::grants`] with all namespaces), after setting aside the
//! *baseline* rules every authenticated user holds through the default `system:basic-user`,
//! `system:discovery` and `system:public-info-viewer` ClusterRoles (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`):
//! `create` on self-subject access/rules/reviews, and `get` on the discovery and health URLs.
//!
//! 1. **cluster-admin**: in `system:masters`; or, cluster-wide (through ClusterRoleBindings), a
//!    rule with verb `*`, API group `*`, resource `*` and no resourceNames, *and* a rule with verb
//!    `*` on nonResourceURL `*` (or `/*`, which covers every path). That is what the
//!    `cluster-admin` ClusterRole holds.
//! 2. **none**: no grants beyond the baseline.
//! 3. **namespaced(N)**: every grant comes from RoleBindings; N is the number of namespaces.
//! 4. **custom** if any grant is not read-only. Read-only: verbs only `get`, `list`, `watch`
//!    (non-resource rules: `get`, `head`).
//! 5. **read-all**: cluster-wide, for each of get, list and watch, a rule with API group `*`,
//!    resource `*` and no resourceNames: every resource of every group, secrets and custom
//!    resources included. Only wildcards can say "every group".
//! 6. **read-all-but-secrets**: no grant anywhere lets it get, list or watch core `secrets` (any
//!    name, any namespace), and cluster-wide get, list and watch are allowed on every resource of
//!    a reference set except secrets. The reference set is [`READ_REFERENCE`] (stable resources
//!    every v1.37 cluster serves) for [`RbacSnapshot::effective_summary`], and every readable
//!    entry of the given catalog for [`RbacSnapshot::effective_summary_with`] (pass the
//!    discovery catalog to demand custom resources too). The default grant (profile `read-only`) grants this.
//! 7. **custom** otherwise.

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Serialize;

use super::catalog::ResourceCatalog;
use super::index::RbacSnapshot;
use super::model::{Identity, QueryScope};
use super::request::{Request, ResourceRequest};
use super::rule::{WILDCARD, api_group_matches, resource_matches, rule_allows, verb_matches};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessSummary {
    ClusterAdmin,
    ReadAll,
    ReadAllButSecrets,
    /// Grants only through RoleBindings, in this many namespaces.
    Namespaced(usize),
    Custom,
    None,
}

impl fmt::Display for AccessSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessSummary::ClusterAdmin => f.write_str("cluster-admin"),
            AccessSummary::ReadAll => f.write_str("read-all"),
            AccessSummary::ReadAllButSecrets => f.write_str("read-all-but-secrets"),
            AccessSummary::Namespaced(n) => write!(f, "namespaced({n})"),
            AccessSummary::Custom => f.write_str("custom"),
            AccessSummary::None => f.write_str("none"),
        }
    }
}

pub const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

const DISCOVERY_URLS: [&str; 11] = [
    "/livez",
    "/readyz",
    "/healthz",
    "/version",
    "/version/",
    "/openapi",
    "/openapi/*",
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
];
const SELF_REVIEW_GROUPS: [&str; 2] = ["authorization.k8s.io", "authentication.k8s.io"];
const SELF_REVIEWS: [&str; 3] = [
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "selfsubjectreviews",
];

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

fn has(v: &[String], x: &str) -> bool {
    v.iter().any(|s| s == x)
}

/// A rule the default ClusterRoles give every authenticated user; see the module docs.
pub fn is_baseline_rule(rule: &PolicyRule) -> bool {
    let urls = list(&rule.non_resource_urls);
    let resources = list(&rule.resources);
    if !urls.is_empty() && resources.is_empty() {
        return rule.verbs.iter().all(|v| v == "get")
            && urls.iter().all(|u| DISCOVERY_URLS.contains(&u.as_str()));
    }
    urls.is_empty()
        && !resources.is_empty()
        && rule.verbs.iter().all(|v| v == "create")
        && list(&rule.api_groups)
            .iter()
            .all(|g| SELF_REVIEW_GROUPS.contains(&g.as_str()))
        && resources.iter().all(|r| SELF_REVIEWS.contains(&r.as_str()))
}

/// Verbs only get/list/watch (get/head for a non-resource rule).
pub fn is_read_only_rule(rule: &PolicyRule) -> bool {
    let non_resource =
        !list(&rule.non_resource_urls).is_empty() && list(&rule.resources).is_empty();
    let ok: &[&str] = if non_resource {
        &["get", "head"]
    } else {
        &READ_VERBS
    };
    !rule.verbs.is_empty() && rule.verbs.iter().all(|v| ok.contains(&v.as_str()))
}

/// Whether the rule lets anyone get, list or watch core secrets, whatever the name.
pub fn reads_secrets(rule: &PolicyRule) -> bool {
    READ_VERBS.iter().any(|v| verb_matches(rule, v))
        && api_group_matches(rule, "")
        && resource_matches(rule, "secrets", "")
}

fn is_unrestricted_everything(rule: &PolicyRule, verb: &str) -> bool {
    verb_matches(rule, verb)
        && has(list(&rule.api_groups), WILDCARD)
        && has(list(&rule.resources), WILDCARD)
        && list(&rule.resource_names).is_empty()
}

fn is_cluster_admin(cluster: &[&PolicyRule]) -> bool {
    let resources = cluster
        .iter()
        .any(|r| has(&r.verbs, WILDCARD) && is_unrestricted_everything(r, WILDCARD));
    let urls = cluster.iter().any(|r| {
        has(&r.verbs, WILDCARD)
            && list(&r.non_resource_urls)
                .iter()
                .any(|u| u == WILDCARD || u == "/*")
    });
    resources && urls
}

fn reads_everything(cluster: &[&PolicyRule]) -> bool {
    READ_VERBS
        .iter()
        .all(|v| cluster.iter().any(|r| is_unrestricted_everything(r, v)))
}

/// Stable (GA, on by default) resources every v1.37 cluster serves: the "everything" of
/// read-all-but-secrets when no discovery data is given. (group, resource).
pub const READ_REFERENCE: [(&str, &str); 30] = [
    ("", "pods"),
    ("", "services"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "namespaces"),
    ("", "nodes"),
    ("", "endpoints"),
    ("", "events"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "replicationcontrollers"),
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("policy", "poddisruptionbudgets"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("storage.k8s.io", "storageclasses"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
];

fn reads_all_except_secrets<'a>(
    cluster: &[&PolicyRule],
    reference: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> bool {
    reference
        .into_iter()
        .filter(|(g, r)| !(g.is_empty() && *r == "secrets"))
        .all(|(g, r)| {
            READ_VERBS.iter().all(|v| {
                let req = Request::Resource(ResourceRequest::new(v, g, r));
                cluster.iter().any(|rule| rule_allows(rule, &req))
            })
        })
}

impl RbacSnapshot {
    /// [`AccessSummary`] with [`READ_REFERENCE`] as the "every resource" of read-all-but-secrets.
    pub fn effective_summary(&self, identity: &Identity) -> AccessSummary {
        if identity.is_privileged() {
            return AccessSummary::ClusterAdmin;
        }
        summarize(
            &self.granted_rules(identity, &QueryScope::AllNamespaces),
            READ_REFERENCE.iter().copied(),
        )
    }

    /// [`AccessSummary`] with the readable entries of `catalog` (typically built from discovery)
    /// as the "every resource" of read-all-but-secrets.
    pub fn effective_summary_with(
        &self,
        identity: &Identity,
        catalog: &ResourceCatalog,
    ) -> AccessSummary {
        if identity.is_privileged() {
            return AccessSummary::ClusterAdmin;
        }
        let reference = catalog
            .entries()
            .iter()
            .filter(|e| e.readable)
            .map(|e| (e.group.as_str(), e.resource.as_str()));
        summarize(
            &self.granted_rules(identity, &QueryScope::AllNamespaces),
            reference,
        )
    }
}

/// The classification of a set of granted rules, each with the namespace it holds in (`None`:
/// cluster-wide), privileged groups aside; see the module docs.
pub fn summarize<'a>(
    granted: &[(Option<&str>, &PolicyRule)],
    reference: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> AccessSummary {
    let grants: Vec<(Option<&str>, &PolicyRule)> = granted
        .iter()
        .filter(|(_, rule)| !is_baseline_rule(rule))
        .copied()
        .collect();
    if grants.is_empty() {
        return AccessSummary::None;
    }
    let cluster: Vec<&PolicyRule> = grants
        .iter()
        .filter(|(ns, _)| ns.is_none())
        .map(|(_, rule)| *rule)
        .collect();
    if cluster.is_empty() {
        let namespaces: BTreeSet<&str> = grants.iter().filter_map(|(ns, _)| *ns).collect();
        return AccessSummary::Namespaced(namespaces.len());
    }
    if is_cluster_admin(&cluster) {
        return AccessSummary::ClusterAdmin;
    }
    if !grants.iter().all(|(_, rule)| is_read_only_rule(rule)) {
        return AccessSummary::Custom;
    }
    if reads_everything(&cluster) {
        return AccessSummary::ReadAll;
    }
    if !grants.iter().any(|(_, rule)| reads_secrets(rule))
        && reads_all_except_secrets(&cluster, reference)
    {
        return AccessSummary::ReadAllButSecrets;
    }
    AccessSummary::Custom
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::aggregate::RuleSource;
    use crate::rbac::fixture::*;
    use k8s_openapi::api::rbac::v1::ClusterRole;

    fn baseline() -> Vec<ClusterRole> {
        vec![
            cluster_role(
                "system:basic-user",
                vec![
                    rule(
                        &["create"],
                        &["authorization.k8s.io"],
                        &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                        &[],
                    ),
                    rule(
                        &["create"],
                        &["authentication.k8s.io"],
                        &["selfsubjectreviews"],
                        &[],
                    ),
                ],
            ),
            cluster_role(
                "system:discovery",
                vec![non_resource_rule(
                    &["get"],
                    &["/api", "/api/*", "/apis", "/apis/*", "/version"],
                )],
            ),
        ]
    }

    fn summary_for(
        extra_roles: Vec<ClusterRole>,
        crb_role: Option<&str>,
        rb_roles: &[(&str, &str)],
    ) -> AccessSummary {
        let mut roles = baseline();
        roles.extend(extra_roles);
        let mut crbs = vec![
            crb(
                "basic",
                "system:basic-user",
                vec![group("system:authenticated")],
            ),
            crb(
                "discovery",
                "system:discovery",
                vec![group("system:authenticated")],
            ),
        ];
        if let Some(r) = crb_role {
            crbs.push(crb("subject", r, vec![user("u")]));
        }
        let rbs = rb_roles
            .iter()
            .map(|(ns, r)| rb(ns, &format!("rb-{r}"), "ClusterRole", r, vec![user("u")]))
            .collect();
        let s = RbacSnapshot::from_parts(roles, crbs, vec![], rbs, RuleSource::AsStored);
        s.effective_summary(&Identity::user("u", &[]))
    }

    fn read_all_but_secrets_role() -> ClusterRole {
        let mut rules = Vec::new();
        for (g, r) in READ_REFERENCE
            .iter()
            .filter(|(g, r)| !(g.is_empty() && *r == "secrets"))
        {
            rules.push(rule(&READ_VERBS, &[g], &[r], &[]));
        }
        cluster_role("read-no-secrets", rules)
    }

    #[test]
    fn classification() {
        let admin = cluster_role(
            "cluster-admin",
            vec![
                rule(&["*"], &["*"], &["*"], &[]),
                non_resource_rule(&["*"], &["*"]),
            ],
        );
        let no_urls = cluster_role("almost-admin", vec![rule(&["*"], &["*"], &["*"], &[])]);
        let read_all = cluster_role("read-all", vec![rule(&READ_VERBS, &["*"], &["*"], &[])]);
        let split_read_all = cluster_role(
            "split",
            vec![
                rule(&["get"], &["*"], &["*"], &[]),
                rule(&["list", "watch"], &["*"], &["*"], &[]),
            ],
        );
        let writer = cluster_role(
            "writer",
            vec![rule(&["get", "update"], &[""], &["configmaps"], &[])],
        );
        let view = cluster_role(
            "view",
            vec![rule(
                &READ_VERBS,
                &["", "apps"],
                &["pods", "deployments"],
                &[],
            )],
        );
        let secret_one = cluster_role(
            "secret-one",
            vec![rule(&["get"], &[""], &["secrets"], &["one"])],
        );

        assert_eq!(
            summary_for(vec![], None, &[]),
            AccessSummary::None,
            "baseline only"
        );
        assert_eq!(
            summary_for(vec![admin.clone()], Some("cluster-admin"), &[]),
            AccessSummary::ClusterAdmin
        );
        assert_eq!(
            summary_for(vec![no_urls], Some("almost-admin"), &[]),
            AccessSummary::Custom
        );
        assert_eq!(
            summary_for(vec![read_all.clone()], Some("read-all"), &[]),
            AccessSummary::ReadAll
        );
        assert_eq!(
            summary_for(vec![split_read_all], Some("split"), &[]),
            AccessSummary::ReadAll
        );
        assert_eq!(
            summary_for(
                vec![read_all_but_secrets_role()],
                Some("read-no-secrets"),
                &[]
            ),
            AccessSummary::ReadAllButSecrets
        );
        assert_eq!(
            summary_for(
                vec![read_all_but_secrets_role(), secret_one.clone()],
                Some("read-no-secrets"),
                &[("dev", "secret-one")]
            ),
            AccessSummary::Custom,
            "one readable secret anywhere disqualifies"
        );
        assert_eq!(
            summary_for(vec![view.clone()], Some("view"), &[]),
            AccessSummary::Custom,
            "partial read"
        );
        assert_eq!(
            summary_for(
                vec![read_all.clone(), writer.clone()],
                Some("read-all"),
                &[("dev", "writer")]
            ),
            AccessSummary::Custom,
            "read-all plus a write is not read-all"
        );
        assert_eq!(
            summary_for(
                vec![admin, view],
                None,
                &[("a", "cluster-admin"), ("b", "view"), ("a", "view")]
            ),
            AccessSummary::Namespaced(2)
        );
        let s = RbacSnapshot::from_parts(vec![], vec![], vec![], vec![], RuleSource::AsStored);
        assert_eq!(
            s.effective_summary(&Identity::user("x", &["system:masters"])),
            AccessSummary::ClusterAdmin
        );
    }

    #[test]
    fn discovery_reference_demands_custom_resources() {
        let roles = vec![read_all_but_secrets_role()];
        let s = RbacSnapshot::from_parts(
            roles,
            vec![crb("b", "read-no-secrets", vec![user("u")])],
            vec![],
            vec![],
            RuleSource::AsStored,
        );
        let u = Identity::user("u", &[]);
        assert_eq!(s.effective_summary(&u), AccessSummary::ReadAllButSecrets);
        let with_crd = ResourceCatalog::from_entries([
            crate::rbac::catalog::ResourceInfo::new("", "pods", true),
            crate::rbac::catalog::ResourceInfo::new("example.com", "widgets", true),
        ]);
        assert_eq!(
            s.effective_summary_with(&u, &with_crd),
            AccessSummary::Custom
        );
    }

    #[test]
    fn rule_predicates() {
        assert!(is_baseline_rule(&non_resource_rule(
            &["get"],
            &["/healthz", "/version/"]
        )));
        assert!(!is_baseline_rule(&non_resource_rule(
            &["get"],
            &["/metrics"]
        )));
        assert!(!is_baseline_rule(&rule(
            &["create"],
            &["authorization.k8s.io"],
            &["subjectaccessreviews"],
            &[]
        )));
        assert!(is_read_only_rule(&non_resource_rule(
            &["get", "head"],
            &["/metrics"]
        )));
        assert!(!is_read_only_rule(&rule(&["*"], &[""], &["pods"], &[])));
        assert!(reads_secrets(&rule(&["*"], &["*"], &["*"], &[])));
        assert!(reads_secrets(&rule(
            &["watch"],
            &[""],
            &["secrets"],
            &["x"]
        )));
        assert!(!reads_secrets(&rule(
            &["get"],
            &[""],
            &["secrets/status"],
            &[]
        )));
        assert_eq!(AccessSummary::Namespaced(3).to_string(), "namespaced(3)");
        assert_eq!(
            serde_json::to_string(&AccessSummary::ReadAllButSecrets).unwrap(),
            "\"read-all-but-secrets\""
        );
    }
}
