//! who-can: every subject a request is allowed for, and through which binding.
//!
//! Same matching as the evaluator (so the same semantics as the RBAC authorizer), run from the
//! other side: decide once per role whether any of its rules allows the request, then list the
//! subjects of the bindings in scope that reference an allowing role. Unlike kubectl-who-can, it
//! keeps RoleBindings under all-namespaces, honours `*/subresource` and trailing-`*`
//! non-resource URLs, never counts a resourceNames-restricted rule for a request without that
//! name, checks API groups, and accepts any verb (`bind`, `escalate`, `impersonate`, ...).

use std::collections::HashMap;

use serde::Serialize;

use super::catalog::ResourceCatalog;
use super::index::RbacSnapshot;
use super::model::{
    BindingRef, PRIVILEGED_GROUP, QueryScope, RoleId, Scope, SubjectKind, SubjectRef,
};
use super::request::Request;
use super::rule::rule_allows;

/// The scope argument of [`who_can`].
pub type WhoCanScope = QueryScope;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WhoCanRow {
    pub subject_kind: SubjectKind,
    pub subject_name: String,
    /// ServiceAccounts only, already defaulted to the RoleBinding's namespace when omitted.
    pub subject_namespace: Option<String>,
    /// `None` only for the `system:masters` row: allowed by the privileged-group authorizer.
    pub via_binding: Option<BindingRef>,
    pub via_role: Option<RoleId>,
    /// Cluster for ClusterRoleBindings and `system:masters`, else the RoleBinding's namespace.
    pub scope: Scope,
}

impl QueryScope {
    /// The scope a who-can question should use for `request`, the way the API server would
    /// scope a real request: non-resource URLs and cluster-scoped resources are cluster-wide
    /// (RoleBindings are never consulted for them); `namespaces/<name>` is asked in namespace
    /// `<name>` (requestinfo.go gives a Namespace request its own name as namespace);
    /// otherwise all namespaces, the given namespace, or cluster-wide when neither is given.
    pub fn for_request(
        catalog: &ResourceCatalog,
        request: &Request,
        namespace: Option<&str>,
        all_namespaces: bool,
    ) -> QueryScope {
        let Request::Resource(r) = request else {
            return QueryScope::ClusterScoped;
        };
        if r.api_group.is_empty() && r.resource == "namespaces" {
            return match r.name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => QueryScope::Namespace(name.to_string()),
                None => QueryScope::ClusterScoped,
            };
        }
        if catalog.is_namespaced(&r.api_group, &r.resource) == Some(false) {
            return QueryScope::ClusterScoped;
        }
        match (all_namespaces, namespace.filter(|n| !n.is_empty())) {
            (true, _) => QueryScope::AllNamespaces,
            (false, Some(ns)) => QueryScope::Namespace(ns.to_string()),
            (false, None) => QueryScope::ClusterScoped,
        }
    }
}

/// Who can make `request` within `scope`. The request's own namespace is ignored; `scope`
/// decides which bindings count. A non-resource request is always answered cluster-wide,
/// because RBAC lists RoleBindings only for requests with a namespace.
///
/// Rows: first `Group system:masters` (privileged-group authorizer), then one row per
/// (binding, subject) sorted by scope, binding and subject. Subjects that can never match
/// (see [`RbacSnapshot::inert_subjects`]) are left out; so are dangling bindings.
pub fn who_can(snapshot: &RbacSnapshot, request: &Request, scope: &WhoCanScope) -> Vec<WhoCanRow> {
    let scope = if matches!(request, Request::NonResource(_)) {
        &QueryScope::ClusterScoped
    } else {
        scope
    };
    let cluster = 0..snapshot.cluster_binding_count;
    let namespaced: Box<dyn Iterator<Item = usize>> = match scope {
        QueryScope::ClusterScoped => Box::new(std::iter::empty()),
        QueryScope::AllNamespaces => {
            Box::new(snapshot.cluster_binding_count..snapshot.bindings.len())
        }
        QueryScope::Namespace(ns) => Box::new(snapshot.role_bindings_in(ns)),
    };

    let mut role_allows: HashMap<usize, bool> = HashMap::new();
    let mut rows = Vec::new();
    for b in cluster.chain(namespaced) {
        let entry = &snapshot.bindings[b];
        let Some(role) = entry.role else { continue };
        let allowed = *role_allows.entry(role).or_insert_with(|| {
            snapshot.roles[role]
                .rules
                .iter()
                .any(|r| rule_allows(r, request))
        });
        if !allowed {
            continue;
        }
        let mut seen: Vec<&SubjectRef> = Vec::new();
        for s in entry.subjects.iter().flatten() {
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            rows.push(WhoCanRow {
                subject_kind: s.kind,
                subject_name: s.name.clone(),
                subject_namespace: s.namespace.clone(),
                via_binding: Some(entry.id.clone()),
                via_role: Some(snapshot.roles[role].id.clone()),
                scope: entry.scope(),
            });
        }
    }
    rows.sort_by(|a, b| {
        (
            &a.scope,
            &a.via_binding,
            a.subject_kind,
            &a.subject_namespace,
            &a.subject_name,
        )
            .cmp(&(
                &b.scope,
                &b.via_binding,
                b.subject_kind,
                &b.subject_namespace,
                &b.subject_name,
            ))
    });
    rows.insert(
        0,
        WhoCanRow {
            subject_kind: SubjectKind::Group,
            subject_name: PRIVILEGED_GROUP.to_string(),
            subject_namespace: None,
            via_binding: None,
            via_role: None,
            scope: Scope::Cluster,
        },
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::aggregate::RuleSource;
    use crate::rbac::fixture::*;
    use crate::rbac::request::parse_request;

    fn snap() -> RbacSnapshot {
        RbacSnapshot::from_parts(
            vec![
                cluster_role(
                    "pod-reader",
                    vec![rule(&["get", "list"], &[""], &["pods"], &[])],
                ),
                cluster_role("node-reader", vec![rule(&["get"], &[""], &["nodes"], &[])]),
            ],
            vec![crb("ops", "pod-reader", vec![group("ops"), group("ops")])],
            vec![],
            vec![
                rb(
                    "dev",
                    "dev-pods",
                    "ClusterRole",
                    "pod-reader",
                    vec![user("bob"), sa(None, "ci")],
                ),
                rb(
                    "prod",
                    "prod-pods",
                    "ClusterRole",
                    "pod-reader",
                    vec![user("carol")],
                ),
                rb(
                    "dev",
                    "dev-nodes",
                    "ClusterRole",
                    "node-reader",
                    vec![user("bob")],
                ),
                rb("dev", "dangling", "ClusterRole", "nope", vec![user("dan")]),
            ],
            RuleSource::AsStored,
        )
    }

    fn names(rows: &[WhoCanRow]) -> Vec<String> {
        rows.iter()
            .map(|r| format!("{}:{}@{}", r.subject_kind, r.subject_name, r.scope))
            .collect()
    }

    #[test]
    fn scopes() {
        let s = snap();
        let c = ResourceCatalog::builtin();
        let list_pods = parse_request("list pods", &c).unwrap();
        assert_eq!(
            names(&who_can(
                &s,
                &list_pods,
                &QueryScope::Namespace("dev".into())
            )),
            vec![
                "Group:system:masters@cluster-wide",
                "Group:ops@cluster-wide",
                "User:bob@dev",
                "ServiceAccount:ci@dev"
            ]
        );
        assert_eq!(
            names(&who_can(&s, &list_pods, &QueryScope::AllNamespaces)),
            vec![
                "Group:system:masters@cluster-wide",
                "Group:ops@cluster-wide",
                "User:bob@dev",
                "ServiceAccount:ci@dev",
                "User:carol@prod"
            ]
        );
        assert_eq!(
            names(&who_can(&s, &list_pods, &QueryScope::ClusterScoped)),
            vec![
                "Group:system:masters@cluster-wide",
                "Group:ops@cluster-wide"
            ]
        );
        let rows = who_can(&s, &list_pods, &QueryScope::Namespace("dev".into()));
        assert_eq!(
            rows[3].subject_namespace.as_deref(),
            Some("dev"),
            "SA namespace defaulted"
        );
        assert_eq!(rows[1].via_role, Some(RoleId::cluster_role("pod-reader")));
    }

    #[test]
    fn cluster_scoped_resources_ignore_namespace() {
        let s = snap();
        let c = ResourceCatalog::builtin();
        let get_nodes = parse_request("get nodes", &c).unwrap();
        let scope = QueryScope::for_request(&c, &get_nodes, Some("dev"), false);
        assert_eq!(scope, QueryScope::ClusterScoped);
        assert_eq!(
            names(&who_can(&s, &get_nodes, &scope)),
            vec!["Group:system:masters@cluster-wide"]
        );
        assert_eq!(
            QueryScope::for_request(
                &c,
                &parse_request("get namespaces/dev", &c).unwrap(),
                None,
                true
            ),
            QueryScope::Namespace("dev".into())
        );
        assert_eq!(
            QueryScope::for_request(&c, &parse_request("get pods", &c).unwrap(), Some("x"), true),
            QueryScope::AllNamespaces
        );
        assert_eq!(
            QueryScope::for_request(&c, &Request::non_resource("get", "/x"), Some("x"), true),
            QueryScope::ClusterScoped
        );
    }
}
