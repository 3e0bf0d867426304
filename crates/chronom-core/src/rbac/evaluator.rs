//! The decision: may this identity make this request, and which bindings and rules say so.
//!
//! Followed: `plugin/pkg/auth/authorizer/rbac/rbac.go` (Authorize, RuleAllows) and
//! `pkg/registry/rbac/validation/rule.go` (VisitRulesFor): ClusterRoleBindings apply to every
//! request; RoleBindings are listed only for a non-empty request namespace and only from that
//! namespace; a binding's role is a Role in the binding's namespace or a ClusterRole, whose rules
//! then apply only within the binding's namespace. The authorizer stops at the first allowing rule;
//! we collect every allowing rule so a report can show all of them. Unresolvable roles grant
//! nothing and are reported, never fatal.

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Serialize;

use super::index::{DanglingBinding, DanglingReason, RbacSnapshot, SubjectHit};
use super::model::{BindingRef, Identity, PRIVILEGED_GROUP, QueryScope, RoleId, Scope, SubjectRef};
use super::request::Request;
use super::rule::rule_allows;

/// One rule of one role, reaching an identity through one binding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grant {
    pub binding: BindingRef,
    pub role: RoleId,
    pub scope: Scope,
    /// The binding subject through which the identity is bound (the first one that applies).
    pub subject: SubjectRef,
    /// Position of `rule` in the role's (effective) rules.
    pub rule_index: usize,
    pub rule: PolicyRule,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// Every rule that allows the request, in binding order.
    pub reasons: Vec<Grant>,
    /// Set when the privileged-group authorizer allows the request (`system:masters`).
    pub privileged_group: Option<String>,
    /// Bindings of this identity that were consulted but reference a missing role.
    pub dangling: Vec<DanglingBinding>,
    /// Allowed by the Node authorizer (a `system:node:<name>` identity), not by RBAC.
    pub node_authorizer: bool,
}

impl RbacSnapshot {
    /// The kube-apiserver answer of its authorizer chain as EKS configures it: the
    /// privileged-group authorizer (`system:masters`), the Node authorizer (see [`super::node`]),
    /// then RBAC. Not modelled: webhook authorizers such as EKS access entries, and ABAC.
    pub fn allows(&self, identity: &Identity, request: &Request) -> Decision {
        let mut d = self.rbac_allows(identity, request);
        if identity.is_privileged() {
            d.allowed = true;
            d.privileged_group = Some(PRIVILEGED_GROUP.to_string());
        }
        if !d.allowed && super::node::allows(identity, request) {
            d.allowed = true;
            d.node_authorizer = true;
        }
        d
    }

    /// The RBAC authorizer alone.
    pub fn rbac_allows(&self, identity: &Identity, request: &Request) -> Decision {
        let ns = request.namespace();
        let mut reasons = Vec::new();
        let mut dangling = Vec::new();
        for hit in self.bindings_of(&identity.user, &identity.groups, Some(ns)) {
            self.collect_grants(hit, &mut dangling, &mut reasons, |rule| {
                rule_allows(rule, request)
            });
        }
        Decision {
            allowed: !reasons.is_empty(),
            reasons,
            privileged_group: None,
            dangling,
            node_authorizer: false,
        }
    }

    /// Every rule the identity holds through RBAC within `scope` (`AllNamespaces`: everywhere,
    /// each grant carrying its own scope). Does not include the `system:masters` bypass.
    pub fn grants(&self, identity: &Identity, scope: &QueryScope) -> Vec<Grant> {
        let ns = namespace_filter(scope);
        let mut out = Vec::new();
        let mut dangling = Vec::new();
        for hit in self.bindings_of(&identity.user, &identity.groups, ns) {
            self.collect_grants(hit, &mut dangling, &mut out, |_| true);
        }
        out
    }

    /// Every rule `identity` is granted in `scope`, with the namespace it holds in (`None`:
    /// cluster-wide), borrowed from the snapshot: what a summary reads, without the copies a
    /// [`Grant`] carries (the audit summarises every distinct identity of a 1,700-entry
    /// aws-auth).
    pub(crate) fn granted_rules(
        &self,
        identity: &Identity,
        scope: &QueryScope,
    ) -> Vec<(Option<&str>, &PolicyRule)> {
        let ns = namespace_filter(scope);
        let mut out = Vec::new();
        for hit in self.bindings_of(&identity.user, &identity.groups, ns) {
            let entry = &self.bindings[hit.binding];
            let Some(role) = entry.role else { continue };
            let namespace = entry.scope_namespace();
            out.extend(self.roles[role].rules.iter().map(|r| (namespace, r)));
        }
        out
    }

    /// Bindings of this identity (anywhere) that reference a missing role.
    pub fn dangling_bindings_of(&self, identity: &Identity) -> Vec<DanglingBinding> {
        self.bindings_of(&identity.user, &identity.groups, None)
            .into_iter()
            .filter(|h| self.bindings[h.binding].role.is_none())
            .map(|h| self.dangling_for(h.binding))
            .collect()
    }

    pub(crate) fn dangling_for(&self, b: usize) -> DanglingBinding {
        let entry = &self.bindings[b];
        match entry.dangling {
            Some(i) => self.dangling[i].clone(),
            None => DanglingBinding {
                binding: entry.id.clone(),
                role_kind: entry.role_kind.clone(),
                role_name: entry.role_name.clone(),
                reason: DanglingReason::MissingRole,
            },
        }
    }

    /// Appends the grants of `hit`'s binding whose rule passes `keep`; records a dangling binding.
    pub(crate) fn collect_grants(
        &self,
        hit: SubjectHit,
        dangling: &mut Vec<DanglingBinding>,
        out: &mut Vec<Grant>,
        keep: impl Fn(&PolicyRule) -> bool,
    ) {
        let entry = &self.bindings[hit.binding];
        let Some(role_idx) = entry.role else {
            dangling.push(self.dangling_for(hit.binding));
            return;
        };
        let role = &self.roles[role_idx];
        let subject = entry.subjects[hit.subject]
            .clone()
            .expect("indexed subjects are resolvable");
        for (i, rule) in role.rules.iter().enumerate().filter(|(_, r)| keep(r)) {
            out.push(Grant {
                binding: entry.id.clone(),
                role: role.id.clone(),
                scope: entry.scope(),
                subject: subject.clone(),
                rule_index: i,
                rule: rule.clone(),
            });
        }
    }
}

/// Which RoleBindings a query in `scope` consults, as `bindings_of` takes it: `None` for every
/// namespace, `Some(None)` for none (a cluster-scoped request), `Some(Some(ns))` for one.
fn namespace_filter(scope: &QueryScope) -> Option<Option<&str>> {
    match scope {
        QueryScope::Namespace(ns) => Some(Some(ns.as_str()).filter(|s| !s.is_empty())),
        QueryScope::ClusterScoped => Some(None),
        QueryScope::AllNamespaces => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::aggregate::RuleSource;
    use crate::rbac::fixture::*;
    use crate::rbac::model::BindingKind;
    use crate::rbac::request::ResourceRequest;

    fn snap() -> RbacSnapshot {
        RbacSnapshot::from_parts(
            vec![
                cluster_role(
                    "pod-reader",
                    vec![rule(&["get", "list"], &[""], &["pods"], &[])],
                ),
                cluster_role(
                    "secret-a",
                    vec![rule(&["get"], &[""], &["secrets"], &["a"])],
                ),
                cluster_role("metrics", vec![non_resource_rule(&["get"], &["/metrics"])]),
            ],
            vec![
                crb("alice-pods", "pod-reader", vec![user("alice")]),
                crb("ghost", "does-not-exist", vec![user("alice")]),
                crb("metrics", "metrics", vec![group("monitoring")]),
            ],
            vec![role(
                "dev",
                "deployer",
                vec![rule(&["create"], &["apps"], &["deployments"], &[])],
            )],
            vec![
                rb("dev", "bob-deploy", "Role", "deployer", vec![user("bob")]),
                rb(
                    "dev",
                    "bob-secret",
                    "ClusterRole",
                    "secret-a",
                    vec![user("bob")],
                ),
                rb("dev", "ci", "Role", "deployer", vec![sa(None, "ci")]),
                rb(
                    "prod",
                    "bob-missing-role",
                    "Role",
                    "deployer",
                    vec![user("bob")],
                ),
            ],
            RuleSource::AsStored,
        )
    }

    fn req(verb: &str, group: &str, res: &str, ns: Option<&str>) -> ResourceRequest {
        let mut r = ResourceRequest::new(verb, group, res);
        r.namespace = ns.map(str::to_string);
        r
    }

    #[test]
    fn cluster_role_binding_applies_everywhere_and_cluster_wide() {
        let s = snap();
        let alice = Identity::user("alice", &[]);
        for ns in [None, Some("dev"), Some("anything")] {
            let d = s.allows(&alice, &req("list", "", "pods", ns).into());
            assert!(d.allowed, "{ns:?}");
            assert_eq!(d.reasons.len(), 1);
            assert_eq!(d.reasons[0].binding.name, "alice-pods");
            assert_eq!(d.reasons[0].scope, Scope::Cluster);
            assert_eq!(
                d.dangling.len(),
                1,
                "ghost binding is consulted and reported"
            );
        }
        assert!(
            !s.allows(&alice, &req("delete", "", "pods", None).into())
                .allowed
        );
    }

    #[test]
    fn role_binding_applies_only_in_its_namespace() {
        let s = snap();
        let bob = Identity::user("bob", &[]);
        let d = s.allows(
            &bob,
            &req("create", "apps", "deployments", Some("dev")).into(),
        );
        assert!(d.allowed);
        assert_eq!(d.reasons[0].binding.kind, BindingKind::RoleBinding);
        assert_eq!(d.reasons[0].scope, Scope::Namespace("dev".into()));
        assert_eq!(d.reasons[0].role, RoleId::role("dev", "deployer"));
        assert!(
            !s.allows(
                &bob,
                &req("create", "apps", "deployments", Some("other")).into()
            )
            .allowed
        );
        // All namespaces (no namespace): RoleBindings are not consulted.
        assert!(
            !s.allows(&bob, &req("create", "apps", "deployments", None).into())
                .allowed
        );
        // The Role is looked up in the binding's namespace: prod has no "deployer" Role.
        let d = s.allows(
            &bob,
            &req("create", "apps", "deployments", Some("prod")).into(),
        );
        assert!(!d.allowed);
        assert_eq!(d.dangling.len(), 1);
        assert_eq!(d.dangling[0].binding.name, "bob-missing-role");
    }

    #[test]
    fn role_binding_to_cluster_role_is_scoped() {
        let s = snap();
        let bob = Identity::user("bob", &[]);
        let get_a = |ns: Option<&str>| Request::from(req("get", "", "secrets", ns).name("a"));
        assert!(s.allows(&bob, &get_a(Some("dev"))).allowed);
        assert!(!s.allows(&bob, &get_a(Some("prod"))).allowed);
        assert!(!s.allows(&bob, &get_a(None)).allowed);
        assert!(
            !s.allows(&bob, &req("get", "", "secrets", Some("dev")).into())
                .allowed,
            "no name, named rule"
        );
    }

    #[test]
    fn service_account_subject_namespace_defaults_to_binding() {
        let s = snap();
        let ci = Identity::service_account("dev", "ci");
        assert!(
            s.allows(
                &ci,
                &req("create", "apps", "deployments", Some("dev")).into()
            )
            .allowed
        );
        let other = Identity::service_account("prod", "ci");
        assert!(
            !s.allows(
                &other,
                &req("create", "apps", "deployments", Some("dev")).into()
            )
            .allowed
        );
    }

    #[test]
    fn non_resource_requests_use_cluster_role_bindings() {
        let s = snap();
        let m = Identity::user("prom", &["monitoring"]);
        assert!(
            s.allows(&m, &Request::non_resource("get", "/metrics"))
                .allowed
        );
        assert!(
            !s.allows(&m, &Request::non_resource("get", "/metrics/x"))
                .allowed
        );
    }

    #[test]
    fn privileged_group_bypasses_rbac_but_rbac_alone_does_not() {
        let s = snap();
        let admin = Identity::user("root", &["system:masters"]);
        let r: Request = req("delete", "", "nodes", None).into();
        let d = s.allows(&admin, &r);
        assert!(d.allowed);
        assert_eq!(d.privileged_group.as_deref(), Some("system:masters"));
        assert!(d.reasons.is_empty());
        assert!(!s.rbac_allows(&admin, &r).allowed);
    }

    #[test]
    fn grants_by_scope() {
        let s = snap();
        let bob = Identity::user("bob", &[]);
        assert!(s.grants(&bob, &QueryScope::ClusterScoped).is_empty());
        assert_eq!(
            s.grants(&bob, &QueryScope::Namespace("dev".into())).len(),
            2
        );
        assert_eq!(
            s.grants(&bob, &QueryScope::AllNamespaces).len(),
            2,
            "prod binding is dangling"
        );
        assert_eq!(s.dangling_bindings_of(&bob).len(), 1);
    }
}
