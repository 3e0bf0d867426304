//! The shared ClusterRoleBinding (decision 4): grant adds its group's subject, revoke takes
//! only that subject out. Both flows and their retry loops use these functions.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};

use crate::action::Action;
use crate::rbac::RbacObjects;
use crate::readonly_role as ro;

use super::refusal::{BoundSubject, Refusal};

pub fn is_group(subject: &Subject, group: &str) -> bool {
    subject.kind == "Group" && subject.name == group
}

pub fn has_group_subject(binding: &ClusterRoleBinding, group: &str) -> bool {
    binding
        .subjects
        .iter()
        .flatten()
        .any(|s| is_group(s, group))
}

/// `Group/name`, `User/name` or `ServiceAccount/namespace:name`.
pub fn subject_text(s: &Subject) -> String {
    match &s.namespace {
        Some(ns) if !ns.is_empty() => format!("{}/{}:{}", s.kind, ns, s.name),
        _ => format!("{}/{}", s.kind, s.name),
    }
}

/// `Group a, User b`, as revoke's notes name what a binding still binds.
pub fn describe_subjects(subjects: &[Subject]) -> String {
    subjects
        .iter()
        .map(|s| format!("{} {}", s.kind, s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn refers_to_role(binding: &ClusterRoleBinding, role_name: &str) -> bool {
    binding.role_ref.kind == "ClusterRole" && binding.role_ref.name == role_name
}

/// Every subject of every binding (cluster-wide or namespaced) that references ClusterRole `role_name`.
pub fn subjects_bound_to(objects: &RbacObjects, role_name: &str) -> Vec<BoundSubject> {
    let refers = |r: &RoleRef| r.kind == "ClusterRole" && r.name == role_name;
    let name = |n: &Option<String>| n.clone().unwrap_or_default();
    let cluster = objects
        .cluster_role_bindings
        .iter()
        .filter(|b| refers(&b.role_ref))
        .map(|b| {
            (
                format!("ClusterRoleBinding/{}", name(&b.metadata.name)),
                &b.subjects,
            )
        });
    let namespaced = objects
        .role_bindings
        .iter()
        .filter(|b| refers(&b.role_ref))
        .map(|b| {
            let at = format!(
                "RoleBinding/{}/{}",
                name(&b.metadata.namespace),
                name(&b.metadata.name)
            );
            (at, &b.subjects)
        });
    cluster
        .chain(namespaced)
        .flat_map(|(binding, subjects)| {
            subjects.iter().flatten().map(move |s| BoundSubject {
                binding: binding.clone(),
                subject: subject_text(s),
            })
        })
        .collect()
}

/// Decision 4: the binding after a grant is the live one with our group added when missing;
/// subjects are never removed. Returns the binding to write and whether it changes.
pub fn accumulated_binding(
    desired: &ClusterRoleBinding,
    live: &ClusterRoleBinding,
    group: &str,
) -> (ClusterRoleBinding, bool) {
    let mut out = desired.clone();
    let mut subjects = live.subjects.clone().unwrap_or_default();
    let missing = !has_group_subject(live, group);
    if missing {
        subjects.extend(desired.subjects.iter().flatten().cloned());
    }
    out.subjects = Some(subjects);
    (out, missing)
}

/// Whether a live binding is one a grant can rely on: ours, bound to our role, with our group.
pub fn binding_serves(
    live: &ClusterRoleBinding,
    desired: &ClusterRoleBinding,
    group: &str,
) -> bool {
    ro::is_managed(&live.metadata)
        && live.role_ref == desired.role_ref
        && has_group_subject(live, group)
}

/// What revoke (or grant's rollback) does to the managed binding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BindingStep {
    Absent,
    Kept,
    /// No subject would be left.
    Delete,
    /// Other grants' groups stay bound: only this group's subject leaves.
    RemoveSubject {
        remaining: Vec<Subject>,
    },
}

impl BindingStep {
    pub fn action(&self) -> Action {
        match self {
            BindingStep::Absent => Action::Absent,
            BindingStep::Kept => Action::Kept,
            BindingStep::Delete => Action::Deleted,
            BindingStep::RemoveSubject { .. } => Action::Updated,
        }
    }

    pub fn writes(&self) -> bool {
        matches!(
            self,
            BindingStep::Delete | BindingStep::RemoveSubject { .. }
        )
    }
}

/// What leaving `group` does to a binding: delete it when no subject is left, else take out
/// only the group's subject (whatever else it binds stays bound).
pub fn leave(binding: &ClusterRoleBinding, group: &str) -> BindingStep {
    let subjects = binding.subjects.as_deref().unwrap_or_default();
    let remaining: Vec<Subject> = subjects
        .iter()
        .filter(|s| !is_group(s, group))
        .cloned()
        .collect();
    if remaining.is_empty() {
        BindingStep::Delete
    } else if remaining.len() == subjects.len() {
        BindingStep::Kept
    } else {
        BindingStep::RemoveSubject { remaining }
    }
}

/// What joining `group` does to the live binding, for grant's optimistic retry loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Join {
    /// No binding: create this one (only our group's subject).
    Create(ClusterRoleBinding),
    /// Our group is bound already.
    AlreadyBound,
    /// Write the live binding back with our subject added.
    AddSubject(ClusterRoleBinding),
}

/// Decide the next binding write of a grant from the live binding (re-read after a 409).
pub fn join(
    live: Option<&ClusterRoleBinding>,
    desired: &ClusterRoleBinding,
    group: &str,
) -> Result<Join, super::refusal::Refusal> {
    let ours = || {
        desired
            .subjects
            .iter()
            .flatten()
            .filter(|s| is_group(s, group))
            .cloned()
    };
    let Some(live) = live else {
        let mut fresh = desired.clone();
        fresh.subjects = Some(ours().collect());
        return Ok(Join::Create(fresh));
    };
    ownership_refusal(
        desired.metadata.name.as_deref().unwrap_or_default(),
        None,
        Some(live),
        &[],
    )?;
    if live.role_ref != desired.role_ref {
        return Err(super::refusal::Refusal::BindingChangedMeanwhile {
            role_name: desired.metadata.name.clone().unwrap_or_default(),
            kind: live.role_ref.kind.clone(),
            name: live.role_ref.name.clone(),
        });
    }
    if has_group_subject(live, group) {
        return Ok(Join::AlreadyBound);
    }
    let mut next = live.clone();
    next.subjects.get_or_insert_with(Vec::new).extend(ours());
    Ok(Join::AddSubject(next))
}

/// Decision 5 (docs/decisions.md): grant writes only objects with our managed-by label. An
/// existing ClusterRole or ClusterRoleBinding of the requested name without it is refused
/// before any write, naming the object and what binds it.
pub fn ownership_refusal(
    role_name: &str,
    live_role: Option<&ClusterRole>,
    live_binding: Option<&ClusterRoleBinding>,
    bound: &[BoundSubject],
) -> Result<(), Refusal> {
    if let Some(role) = live_role
        && !ro::is_managed(&role.metadata)
    {
        return Err(Refusal::UnmanagedRole {
            role_name: role_name.into(),
            bound: bound.to_vec(),
        });
    }
    if let Some(b) = live_binding
        && !ro::is_managed(&b.metadata)
    {
        return Err(Refusal::UnmanagedBinding {
            role_name: role_name.into(),
            role_ref: format!("{} {}", b.role_ref.kind, b.role_ref.name),
            subjects: b.subjects.iter().flatten().map(subject_text).collect(),
        });
    }
    Ok(())
}
