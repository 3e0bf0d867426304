//! `RbacSnapshot`: the four RBAC object lists, resolved and indexed so a question about one
//! identity touches only that identity's bindings.
//!
//! Indexes: username -> (binding, subject) and group -> (binding, subject); RoleBindings by
//! namespace; role by name. ServiceAccount subjects are indexed under their username
//! `system:serviceaccount:<ns>:<name>`, because that is all appliesToUser compares
//! (`pkg/registry/rbac/validation/rule.go`): a `User` subject spelled like a ServiceAccount
//! username and the `ServiceAccount` subject land in the same bucket, as they should.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};
use serde::Serialize;

use super::aggregate::{AggregationIssue, RuleSource, aggregate_cluster_roles};
use super::model::{BindingKind, BindingRef, RoleId, SubjectKind, SubjectRef};
use super::namespace_pattern;

/// The RBAC objects of a cluster (or of manifests), as listed.
#[derive(Debug, Clone, Default)]
pub struct RbacObjects {
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
}

/// Why a binding grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DanglingReason {
    /// The referenced Role or ClusterRole does not exist (GetRoleReferenceRules errors; the
    /// authorizer records the error and carries on).
    MissingRole,
    /// roleRef.kind is neither Role nor ClusterRole, or a ClusterRoleBinding references a Role
    /// (looked up in namespace "", which never exists).
    UnsupportedRoleKind,
}

/// A binding whose roleRef resolves to nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DanglingBinding {
    pub binding: BindingRef,
    pub role_kind: String,
    pub role_name: String,
    pub reason: DanglingReason,
}

/// A binding subject that can never match anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InertSubject {
    pub binding: BindingRef,
    pub kind: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RoleEntry {
    pub id: RoleId,
    pub rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone)]
pub(crate) struct BindingEntry {
    pub id: BindingRef,
    pub role_kind: String,
    pub role_name: String,
    /// Index into `roles`; `None` when dangling.
    pub role: Option<usize>,
    /// Index into `RbacSnapshot::dangling` when `role` is `None`.
    pub dangling: Option<usize>,
    /// Subjects in binding order; `None` for subjects that can never apply.
    pub subjects: Vec<Option<SubjectRef>>,
}

impl BindingEntry {
    pub fn scope(&self) -> super::model::Scope {
        match self.scope_namespace() {
            Some(ns) => super::model::Scope::Namespace(ns.to_string()),
            None => super::model::Scope::Cluster,
        }
    }

    /// The namespace a RoleBinding grants in; `None` for a ClusterRoleBinding (cluster-wide).
    pub fn scope_namespace(&self) -> Option<&str> {
        match &self.id.namespace {
            Some(ns) if self.id.kind == BindingKind::RoleBinding => Some(ns),
            _ => None,
        }
    }
}

/// One (binding, subject position) pair an index bucket points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SubjectHit {
    pub binding: usize,
    pub subject: usize,
}

/// Resolved and indexed RBAC state. Bindings are ordered ClusterRoleBindings first (by name),
/// then RoleBindings (by namespace, name); that order is the order reasons are reported in.
#[derive(Debug, Clone)]
pub struct RbacSnapshot {
    pub(crate) roles: Vec<RoleEntry>,
    /// Role id -> index into `roles` (the first role of that id, as the authorizer's lookup finds it).
    pub(crate) role_by_id: HashMap<RoleId, usize>,
    pub(crate) bindings: Vec<BindingEntry>,
    /// `bindings[..cluster_binding_count]` are ClusterRoleBindings.
    pub(crate) cluster_binding_count: usize,
    /// Sorted: a username template's literal prefix is a range of it.
    pub(crate) by_user: BTreeMap<String, Vec<SubjectHit>>,
    pub(crate) by_group: HashMap<String, Vec<SubjectHit>>,
    pub(crate) role_bindings_by_namespace: BTreeMap<String, Vec<usize>>,
    /// Keys of `role_bindings_by_namespace` that are patterns (see [`super::namespace_pattern`]).
    pub(crate) namespace_patterns: Vec<String>,
    pub(crate) dangling: Vec<DanglingBinding>,
    pub(crate) inert: Vec<InertSubject>,
    pub(crate) aggregation_issues: Vec<AggregationIssue>,
}

fn meta_name(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    m.name.clone().unwrap_or_default()
}

fn meta_ns(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    m.namespace.clone().unwrap_or_default()
}

/// The subject as appliesToUser will see it in a binding of `binding_ns` ("" for a
/// ClusterRoleBinding); `Err(reason)` if it can never apply.
fn resolve_subject(s: &Subject, binding_ns: &str) -> Result<SubjectRef, &'static str> {
    match SubjectKind::parse(&s.kind) {
        Some(SubjectKind::ServiceAccount) => {
            // The subject's namespace, else the namespace being authorized, which for a
            // RoleBinding is its own namespace; empty for a ClusterRoleBinding -> never applies.
            let ns = s
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            if ns.is_empty() {
                Err(
                    "ServiceAccount subject without a namespace in a ClusterRoleBinding never matches",
                )
            } else {
                Ok(SubjectRef::service_account(ns, &s.name))
            }
        }
        Some(kind) => Ok(SubjectRef {
            kind,
            name: s.name.clone(),
            namespace: None,
        }),
        None => Err("unknown subject kind; RBAC understands User, Group and ServiceAccount"),
    }
}

impl RbacSnapshot {
    /// Builds a snapshot. With [`RuleSource::Aggregate`], aggregated ClusterRoles get the rules
    /// the aggregation controller would compute; with [`RuleSource::AsStored`] they are used as is.
    pub fn new(objects: RbacObjects, source: RuleSource) -> Self {
        let RbacObjects {
            cluster_roles,
            cluster_role_bindings,
            roles,
            role_bindings,
        } = objects;
        let (cluster_roles, aggregation_issues) = match source {
            RuleSource::AsStored => (cluster_roles, Vec::new()),
            RuleSource::Aggregate => aggregate_cluster_roles(cluster_roles),
        };

        let mut role_entries = Vec::with_capacity(cluster_roles.len() + roles.len());
        let mut cluster_role_idx: HashMap<String, usize> = HashMap::new();
        let mut role_idx: HashMap<(String, String), usize> = HashMap::new();
        for cr in cluster_roles {
            let name = meta_name(&cr.metadata);
            cluster_role_idx
                .entry(name.clone())
                .or_insert(role_entries.len());
            role_entries.push(RoleEntry {
                id: RoleId::cluster_role(&name),
                rules: cr.rules.unwrap_or_default(),
            });
        }
        for r in roles {
            let (ns, name) = (meta_ns(&r.metadata), meta_name(&r.metadata));
            role_idx
                .entry((ns.clone(), name.clone()))
                .or_insert(role_entries.len());
            role_entries.push(RoleEntry {
                id: RoleId::role(&ns, &name),
                rules: r.rules.unwrap_or_default(),
            });
        }

        // (binding ref, roleRef, subjects) in report order.
        let mut raw: Vec<(
            BindingRef,
            k8s_openapi::api::rbac::v1::RoleRef,
            Vec<Subject>,
        )> = Vec::new();
        let mut crbs: Vec<_> = cluster_role_bindings
            .into_iter()
            .map(|b| {
                let id = BindingRef {
                    kind: BindingKind::ClusterRoleBinding,
                    namespace: None,
                    name: meta_name(&b.metadata),
                };
                (id, b.role_ref, b.subjects.unwrap_or_default())
            })
            .collect();
        crbs.sort_by(|a, b| a.0.cmp(&b.0));
        let cluster_binding_count = crbs.len();
        raw.extend(crbs);
        let mut rbs: Vec<_> = role_bindings
            .into_iter()
            .map(|b| {
                let id = BindingRef {
                    kind: BindingKind::RoleBinding,
                    namespace: Some(meta_ns(&b.metadata)),
                    name: meta_name(&b.metadata),
                };
                (id, b.role_ref, b.subjects.unwrap_or_default())
            })
            .collect();
        rbs.sort_by(|a, b| a.0.cmp(&b.0));
        raw.extend(rbs);

        let mut role_by_id = HashMap::with_capacity(role_entries.len());
        for (i, r) in role_entries.iter().enumerate() {
            role_by_id.entry(r.id.clone()).or_insert(i);
        }
        let mut snap = RbacSnapshot {
            roles: role_entries,
            role_by_id,
            bindings: Vec::with_capacity(raw.len()),
            cluster_binding_count,
            by_user: BTreeMap::new(),
            by_group: HashMap::new(),
            role_bindings_by_namespace: BTreeMap::new(),
            namespace_patterns: Vec::new(),
            dangling: Vec::new(),
            inert: Vec::new(),
            aggregation_issues,
        };

        for (bi, (id, role_ref, subjects)) in raw.into_iter().enumerate() {
            let binding_ns = id.namespace.clone().unwrap_or_default();
            let is_rb = id.kind == BindingKind::RoleBinding;
            // GetRoleReferenceRules: "Role" is looked up in the binding's namespace ("" for a
            // ClusterRoleBinding, so never found); "ClusterRole" by name; other kinds error.
            let (role, reason) = match role_ref.kind.as_str() {
                "ClusterRole" => (
                    cluster_role_idx.get(&role_ref.name).copied(),
                    DanglingReason::MissingRole,
                ),
                "Role" if is_rb => (
                    role_idx
                        .get(&(binding_ns.clone(), role_ref.name.clone()))
                        .copied(),
                    DanglingReason::MissingRole,
                ),
                _ => (None, DanglingReason::UnsupportedRoleKind),
            };
            let dangling = role.is_none().then_some(snap.dangling.len());
            if role.is_none() {
                snap.dangling.push(DanglingBinding {
                    binding: id.clone(),
                    role_kind: role_ref.kind.clone(),
                    role_name: role_ref.name.clone(),
                    reason,
                });
            }
            let mut resolved = Vec::with_capacity(subjects.len());
            for (si, s) in subjects.iter().enumerate() {
                match resolve_subject(s, &binding_ns) {
                    Ok(sr) => {
                        let hit = SubjectHit {
                            binding: bi,
                            subject: si,
                        };
                        match sr.kind {
                            SubjectKind::Group => {
                                snap.by_group.entry(sr.name.clone()).or_default().push(hit)
                            }
                            _ => snap
                                .by_user
                                .entry(sr.username().unwrap_or_default())
                                .or_default()
                                .push(hit),
                        }
                        resolved.push(Some(sr));
                    }
                    Err(reason) => {
                        snap.inert.push(InertSubject {
                            binding: id.clone(),
                            kind: s.kind.clone(),
                            name: s.name.clone(),
                            reason: reason.to_string(),
                        });
                        resolved.push(None);
                    }
                }
            }
            if is_rb {
                if namespace_pattern::is_pattern(&binding_ns)
                    && !snap.namespace_patterns.contains(&binding_ns)
                {
                    snap.namespace_patterns.push(binding_ns.clone());
                }
                snap.role_bindings_by_namespace
                    .entry(binding_ns)
                    .or_default()
                    .push(bi);
            }
            snap.bindings.push(BindingEntry {
                id,
                role_kind: role_ref.kind,
                role_name: role_ref.name,
                role,
                dangling,
                subjects: resolved,
            });
        }
        snap
    }

    /// Convenience: [`RbacSnapshot::new`] from the four lists.
    pub fn from_parts(
        cluster_roles: Vec<ClusterRole>,
        cluster_role_bindings: Vec<ClusterRoleBinding>,
        roles: Vec<Role>,
        role_bindings: Vec<RoleBinding>,
        source: RuleSource,
    ) -> Self {
        Self::new(
            RbacObjects {
                cluster_roles,
                cluster_role_bindings,
                roles,
                role_bindings,
            },
            source,
        )
    }

    /// Bindings whose role does not exist; they grant nothing.
    pub fn dangling_bindings(&self) -> &[DanglingBinding] {
        &self.dangling
    }

    /// Binding subjects that can never match (unknown kind, namespace-less ServiceAccount in a
    /// ClusterRoleBinding).
    pub fn inert_subjects(&self) -> &[InertSubject] {
        &self.inert
    }

    /// Aggregated ClusterRoles left as stored because a selector was invalid.
    pub fn aggregation_issues(&self) -> &[AggregationIssue] {
        &self.aggregation_issues
    }

    /// The effective rules of a role (aggregated if the snapshot was built with `Aggregate`).
    pub fn role_rules(&self, role: &RoleId) -> Option<&[PolicyRule]> {
        self.role_by_id
            .get(role)
            .map(|&i| self.roles[i].rules.as_slice())
    }

    /// Whether some binding names this username (as a User, or as the ServiceAccount it spells).
    /// When none does, an identity's bindings depend on its groups alone.
    pub fn names_user(&self, user: &str) -> bool {
        self.by_user.get(user).is_some_and(|b| !b.is_empty())
    }

    /// Every username some binding names (as a User, or as the ServiceAccount it spells) that
    /// starts with `prefix`, in order: the candidates a mapping's username template is matched
    /// against, found by the template's literal start instead of a walk over all of them.
    pub fn usernames_starting_with<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> {
        self.by_user
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(u, _)| u.as_str())
            .take_while(move |u| u.starts_with(prefix))
    }

    /// Every group some binding names.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.by_group
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(g, _)| g.as_str())
    }

    /// Whether some binding names this group.
    pub fn names_group(&self, group: &str) -> bool {
        self.by_group.get(group).is_some_and(|b| !b.is_empty())
    }

    pub(crate) fn is_cluster_binding(&self, b: usize) -> bool {
        b < self.cluster_binding_count
    }

    /// The RoleBindings that apply in `ns`: its own, then those of every pattern matching it.
    pub(crate) fn role_bindings_in<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = usize> + 'a {
        let patterns = self
            .namespace_patterns
            .iter()
            .filter(move |p| p.as_str() != ns && namespace_pattern::matches(p, ns));
        std::iter::once(ns)
            .chain(patterns.map(String::as_str))
            .filter_map(|k| self.role_bindings_by_namespace.get(k))
            .flatten()
            .copied()
    }

    /// Every (binding, first matching subject position) whose subjects apply to `user`/`groups`,
    /// sorted by binding, restricted by `ns`: `Some(Some(ns))` ClusterRoleBindings and that
    /// namespace's RoleBindings; `Some(None)` ClusterRoleBindings only; `None` all.
    /// Cost: the sizes of this identity's index buckets.
    pub(crate) fn bindings_of(
        &self,
        user: &str,
        groups: &[String],
        ns: Option<Option<&str>>,
    ) -> Vec<SubjectHit> {
        let mut hits: Vec<SubjectHit> = Vec::new();
        let buckets = std::iter::once(self.by_user.get(user))
            .chain(groups.iter().map(|g| self.by_group.get(g)))
            .flatten();
        for bucket in buckets {
            for h in bucket {
                let keep = match ns {
                    None => true,
                    Some(_) if self.is_cluster_binding(h.binding) => true,
                    Some(None) => false,
                    Some(Some(ns)) => self.bindings[h.binding]
                        .id
                        .namespace
                        .as_deref()
                        .is_some_and(|b| {
                            b == ns
                                || (namespace_pattern::is_pattern(b)
                                    && namespace_pattern::matches(b, ns))
                        }),
                };
                if keep {
                    hits.push(*h);
                }
            }
        }
        // appliesTo reports the first subject (in binding order) that applies.
        hits.sort();
        hits.dedup_by_key(|h| h.binding);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::fixture::*;
    use crate::rbac::model::{Identity, QueryScope};

    #[test]
    fn resolution_quirks() {
        let mut odd = crb(
            "odd",
            "view",
            vec![
                sa(None, "x"),
                Subject {
                    kind: "user".into(),
                    ..user("lower")
                },
            ],
        );
        odd.subjects
            .as_mut()
            .unwrap()
            .push(user("system:serviceaccount:ns:builder"));
        let crb_to_role = ClusterRoleBinding {
            role_ref: k8s_openapi::api::rbac::v1::RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Role".into(),
                name: "view".into(),
            },
            ..crb("crb-to-role", "view", vec![user("u")])
        };
        let weird_kind = rb("ns", "weird", "Policy", "view", vec![user("u")]);
        let s = RbacSnapshot::from_parts(
            vec![cluster_role(
                "view",
                vec![rule(&["get"], &[""], &["pods"], &[])],
            )],
            vec![odd, crb_to_role],
            vec![role("", "view", vec![rule(&["*"], &["*"], &["*"], &[])])],
            vec![weird_kind],
            RuleSource::AsStored,
        );
        assert_eq!(s.inert_subjects().len(), 2);
        assert!(
            s.inert_subjects()
                .iter()
                .any(|i| i.kind == "ServiceAccount")
        );
        assert!(
            s.inert_subjects().iter().any(|i| i.kind == "user"),
            "kinds are case-sensitive"
        );
        let reasons: Vec<_> = s
            .dangling_bindings()
            .iter()
            .map(|d| (d.binding.name.as_str(), d.reason.clone()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("crb-to-role", DanglingReason::UnsupportedRoleKind),
                ("weird", DanglingReason::UnsupportedRoleKind)
            ]
        );
        // A User subject spelled like a ServiceAccount username matches that ServiceAccount.
        let builder = Identity::service_account("ns", "builder");
        assert_eq!(s.grants(&builder, &QueryScope::ClusterScoped).len(), 1);
    }

    #[test]
    fn role_rules_by_id_find_the_first_of_a_name_and_subjects_are_known() {
        let s = RbacSnapshot::from_parts(
            vec![
                cluster_role("view", vec![rule(&["get"], &[""], &["pods"], &[])]),
                cluster_role("view", vec![rule(&["*"], &["*"], &["*"], &[])]),
            ],
            vec![crb("b", "view", vec![group("devs"), user("alice")])],
            vec![role(
                "dev",
                "view",
                vec![rule(&["list"], &[""], &["secrets"], &[])],
            )],
            vec![],
            RuleSource::AsStored,
        );
        let verbs = |id: &RoleId| s.role_rules(id).map(|r| r[0].verbs.clone());
        assert_eq!(
            verbs(&RoleId::cluster_role("view")),
            Some(vec!["get".to_string()]),
            "the first, as bindings resolve it"
        );
        assert_eq!(
            verbs(&RoleId::role("dev", "view")),
            Some(vec!["list".to_string()])
        );
        assert_eq!(verbs(&RoleId::role("prod", "view")), None);
        assert!(s.names_group("devs") && !s.names_group("alice"));
        assert!(s.names_user("alice") && !s.names_user("devs"));
    }

    #[test]
    fn first_matching_subject_is_reported_once_per_binding() {
        let s = RbacSnapshot::from_parts(
            vec![cluster_role(
                "view",
                vec![rule(&["get"], &[""], &["pods"], &[])],
            )],
            vec![crb(
                "b",
                "view",
                vec![group("devs"), user("alice"), group("devs")],
            )],
            vec![],
            vec![],
            RuleSource::AsStored,
        );
        let grants = s.grants(
            &Identity::user("alice", &["devs"]),
            &QueryScope::AllNamespaces,
        );
        assert_eq!(grants.len(), 1);
        assert_eq!(
            grants[0].subject,
            crate::rbac::model::SubjectRef::group("devs")
        );
    }
}
