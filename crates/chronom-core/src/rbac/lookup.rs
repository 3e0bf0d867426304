//! lookup: the roles bound to a subject, and where, like rbac-lookup.
//!
//! [`lookup`] answers for one subject exactly as RBAC would match it (a ServiceAccount is also
//! reached by a `User` subject spelled `system:serviceaccount:<ns>:<name>`, and a RoleBinding's
//! namespace-less ServiceAccount subject means a ServiceAccount of that namespace).
//! [`lookup_identity`] adds everything reached through the identity's groups.
//! [`lookup_matching`] is rbac-lookup's substring filter over subject names.

use serde::Serialize;

use super::index::{RbacSnapshot, SubjectHit};
use super::model::{BindingRef, Identity, RoleId, RoleKind, Scope, SubjectKind, SubjectRef};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LookupRow {
    /// The subject as the binding names it (namespace defaulted for ServiceAccounts).
    pub subject: SubjectRef,
    pub scope: Scope,
    /// The referenced role. A roleRef kind other than `Role` is shown as a ClusterRole; see
    /// [`RbacSnapshot::dangling_bindings`] for the raw kind of bindings that resolve to nothing.
    pub role: RoleId,
    pub binding: BindingRef,
    /// False when the role does not exist: the binding grants nothing.
    pub role_exists: bool,
}

fn row(snapshot: &RbacSnapshot, hit: SubjectHit) -> Option<LookupRow> {
    let entry = &snapshot.bindings[hit.binding];
    let subject = entry.subjects.get(hit.subject)?.clone()?;
    let role = match entry.role {
        Some(i) => snapshot.roles[i].id.clone(),
        None => RoleId {
            kind: if entry.role_kind == "Role" {
                RoleKind::Role
            } else {
                RoleKind::ClusterRole
            },
            namespace: if entry.role_kind == "Role" {
                entry.id.namespace.clone()
            } else {
                None
            },
            name: entry.role_name.clone(),
        },
    };
    Some(LookupRow {
        subject,
        scope: entry.scope(),
        role,
        binding: entry.id.clone(),
        role_exists: entry.role.is_some(),
    })
}

fn rows(snapshot: &RbacSnapshot, mut hits: Vec<SubjectHit>) -> Vec<LookupRow> {
    hits.sort();
    hits.dedup_by_key(|h| h.binding);
    let mut out: Vec<LookupRow> = hits.into_iter().filter_map(|h| row(snapshot, h)).collect();
    out.sort();
    out
}

/// The bindings that name `subject` (User, Group, or ServiceAccount with a namespace).
pub fn lookup(snapshot: &RbacSnapshot, subject: &SubjectRef) -> Vec<LookupRow> {
    let bucket = match subject.kind {
        SubjectKind::Group => snapshot.by_group.get(&subject.name),
        _ => subject.username().and_then(|u| snapshot.by_user.get(&u)),
    };
    rows(snapshot, bucket.cloned().unwrap_or_default())
}

/// The bindings that apply to `identity` through its username or any of its groups.
pub fn lookup_identity(snapshot: &RbacSnapshot, identity: &Identity) -> Vec<LookupRow> {
    rows(
        snapshot,
        snapshot.bindings_of(&identity.user, &identity.groups, None),
    )
}

/// The bindings that apply to a caller who may have any of these usernames (one per session
/// of a templated mapping) and has these groups; one row per binding, as [`lookup_identity`].
pub fn lookup_users_and_groups(
    snapshot: &RbacSnapshot,
    users: &[String],
    groups: &[String],
) -> Vec<LookupRow> {
    let mut hits = Vec::new();
    for user in users {
        hits.extend(snapshot.bindings_of(user, groups, None));
    }
    if users.is_empty() {
        // No username a binding names: only the groups reach the caller.
        hits.extend(
            groups
                .iter()
                .filter_map(|g| snapshot.by_group.get(g))
                .flatten()
                .copied(),
        );
    }
    rows(snapshot, hits)
}

/// rbac-lookup's filter: every binding subject whose name contains `name_contains`, optionally
/// of one kind. A full scan, meant for interactive use.
pub fn lookup_matching(
    snapshot: &RbacSnapshot,
    name_contains: &str,
    kind: Option<SubjectKind>,
) -> Vec<LookupRow> {
    let mut hits = Vec::new();
    for (b, entry) in snapshot.bindings.iter().enumerate() {
        for (s, subject) in entry.subjects.iter().enumerate() {
            let Some(subject) = subject else { continue };
            if subject.name.contains(name_contains) && kind.is_none_or(|k| k == subject.kind) {
                hits.push(SubjectHit {
                    binding: b,
                    subject: s,
                });
            }
        }
    }
    // Unlike `rows`, keep every matching subject of a binding: different subjects may match.
    let mut out: Vec<LookupRow> = hits.into_iter().filter_map(|h| row(snapshot, h)).collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::aggregate::RuleSource;
    use crate::rbac::fixture::*;

    fn snap() -> RbacSnapshot {
        RbacSnapshot::from_parts(
            vec![cluster_role(
                "view",
                vec![rule(&["get"], &[""], &["pods"], &[])],
            )],
            vec![
                crb("devs-view", "view", vec![group("devs")]),
                crb("ci-view", "view", vec![sa(Some("build"), "ci")]),
            ],
            vec![role("dev", "editor", vec![])],
            vec![
                rb("dev", "alice-edit", "Role", "editor", vec![user("alice")]),
                rb("build", "ci-local", "Role", "missing", vec![sa(None, "ci")]),
                rb(
                    "dev",
                    "alice-again",
                    "ClusterRole",
                    "view",
                    vec![user("alice"), user("alice")],
                ),
            ],
            RuleSource::AsStored,
        )
    }

    #[test]
    fn by_subject() {
        let s = snap();
        let alice = lookup(&s, &SubjectRef::user("alice"));
        assert_eq!(alice.len(), 2);
        assert!(
            alice
                .iter()
                .all(|r| r.scope == Scope::Namespace("dev".into()))
        );
        let ci = lookup(&s, &SubjectRef::parse_service_account("build:ci").unwrap());
        let got: Vec<_> = ci
            .iter()
            .map(|r| (r.binding.name.as_str(), r.role_exists, r.scope.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ci-view", true, "cluster-wide".to_string()),
                ("ci-local", false, "build".to_string())
            ]
        );
        assert_eq!(ci[1].role, RoleId::role("build", "missing"));
        assert_eq!(lookup(&s, &SubjectRef::group("devs")).len(), 1);
        assert!(lookup(&s, &SubjectRef::user("nobody")).is_empty());
    }

    #[test]
    fn by_identity_and_substring() {
        let s = snap();
        let id = Identity::user("alice", &["devs"]);
        assert_eq!(lookup_identity(&s, &id).len(), 3);
        let m = lookup_matching(&s, "ali", None);
        assert_eq!(m.len(), 2);
        assert_eq!(
            lookup_matching(&s, "ci", Some(SubjectKind::ServiceAccount)).len(),
            2
        );
        assert!(lookup_matching(&s, "ci", Some(SubjectKind::User)).is_empty());
    }
}
