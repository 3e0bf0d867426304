//! `RevokePlan`: what a revoke removes and keeps, from what it observed (docs/ownership.md).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Serialize;

use crate::action::Action;
use crate::arn::RoleArnInput;
use crate::outcome::{AwsAuthResult, EntryView, ObjectResult};
use crate::readonly_role as ro;

use super::aws_auth::{self, AwsAuthRemoval, AwsAuthSeen};
use super::binding::{self, BindingStep};
use super::messages;
use super::refusal::Refusal;
use super::report::{AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, PlannedReport};

/// A revoke request. Pure data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeRequest {
    pub role: RoleArnInput,
    /// The username grant wrote (the role name by default).
    pub username: String,
    pub group: String,
    pub role_name: String,
    pub keep_rbac: bool,
    /// `--force-remove-foreign-entry`.
    pub force: bool,
}

/// The cluster's access entries as revoke read them (with an EKS cluster whose
/// authentication mode reads them).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntriesSeen {
    pub cluster: String,
    /// The role's entry, if it has one (already judged deletable).
    pub entry: Option<String>,
    /// Another entry maps the group, or one could not be read.
    pub group_still_mapped: bool,
    pub notes: Vec<String>,
}

/// What a revoke read before deciding anything.
#[derive(Debug, Clone)]
pub struct RevokeObservation<'a> {
    pub request: &'a RevokeRequest,
    /// None: not read (the cluster's authentication mode is API).
    pub aws_auth: Option<&'a AwsAuthSeen>,
    pub access_entries: Option<&'a AccessEntriesSeen>,
    pub live_role: Option<&'a ClusterRole>,
    pub live_binding: Option<&'a ClusterRoleBinding>,
    /// Every ClusterRoleBinding; None when not read (see [`RevokePlan::wants_all_bindings`]).
    pub all_bindings: Option<&'a [ClusterRoleBinding]>,
}

/// Everything a revoke will do, decided before any write.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokePlan {
    #[serde(skip)]
    pub request: RevokeRequest,
    pub uses_aws_auth: bool,
    pub aws_auth: AwsAuthRemoval,
    pub access_entries: Option<AccessEntriesSeen>,
    /// aws-auth (any section) or an access entry still maps the group.
    pub group_still_mapped: bool,
    pub binding: BindingStep,
    pub binding_note: Option<String>,
    pub role: Action,
    pub role_live: bool,
    pub binding_live: bool,
    pub all_bindings_read: bool,
    pub notes: Vec<String>,
}

/// What revoke does to the RBAC objects.
struct RbacRevoke {
    binding: BindingStep,
    binding_note: Option<String>,
    role: Action,
    notes: Vec<String>,
}

/// Everything stays (`--keep-rbac`, or the group is still mapped).
fn keep_all(o: &RevokeObservation<'_>, why: &str) -> RbacRevoke {
    let name = &o.request.role_name;
    let sep = if why.starts_with(':') { "" } else { " " };
    let mut notes = Vec::new();
    let mut kept = |kind: &str, there: bool| {
        if there {
            notes.push(format!("{kind} {name} kept{sep}{why}"));
            Action::Kept
        } else {
            Action::Absent
        }
    };
    let role = kept("clusterrole", o.live_role.is_some());
    let binding = match kept("clusterrolebinding", o.live_binding.is_some()) {
        Action::Kept => BindingStep::Kept,
        _ => BindingStep::Absent,
    };
    RbacRevoke {
        binding,
        binding_note: None,
        role,
        notes,
    }
}

/// Decision 4: only this group's subject leaves the binding; it goes when none is left.
fn plan_binding(
    o: &RevokeObservation<'_>,
    notes: &mut Vec<String>,
) -> (BindingStep, Option<String>) {
    let (name, group) = (&o.request.role_name, &o.request.group);
    let Some(b) = o.live_binding else {
        return (BindingStep::Absent, None);
    };
    if !ro::is_managed(&b.metadata) {
        notes.push(messages::not_managed("clusterrolebinding", name));
        return (BindingStep::Kept, None);
    }
    let step = binding::leave(b, group);
    let mut note = None;
    match &step {
        BindingStep::Kept => notes.push(format!(
            "clusterrolebinding {name} kept: it does not bind group {group} (it binds {})",
            binding::describe_subjects(b.subjects.as_deref().unwrap_or_default())
        )),
        BindingStep::RemoveSubject { remaining } => {
            note = Some(format!(
                "group {group} removed; still binds {}",
                binding::describe_subjects(remaining)
            ));
        }
        _ => {}
    }
    (step, note)
}

/// The role goes only when no binding refers to it any more.
fn plan_role(o: &RevokeObservation<'_>, binding: &BindingStep, notes: &mut Vec<String>) -> Action {
    let name = o.request.role_name.as_str();
    let Some(r) = o.live_role else {
        return Action::Absent;
    };
    if !ro::is_managed(&r.metadata) {
        notes.push(messages::not_managed("clusterrole", name));
        return Action::Kept;
    }
    let ours_stays = !matches!(binding, BindingStep::Absent | BindingStep::Delete)
        && o.live_binding
            .is_some_and(|b| binding::refers_to_role(b, name));
    let others: Vec<&str> = o
        .all_bindings
        .unwrap_or_default()
        .iter()
        .filter(|b| b.metadata.name.as_deref() != Some(name))
        .filter(|b| binding::refers_to_role(b, name))
        .filter_map(|b| b.metadata.name.as_deref())
        .collect();
    if ours_stays {
        notes.push(format!(
            "clusterrole {name} kept: clusterrolebinding {name} still binds it"
        ));
        Action::Kept
    } else if !others.is_empty() {
        notes.push(format!(
            "clusterrole {name} kept: clusterrolebinding(s) {} still refer to it",
            others.join(", ")
        ));
        Action::Kept
    } else {
        Action::Deleted
    }
}

fn plan_rbac(o: &RevokeObservation<'_>, group_still_mapped: bool) -> RbacRevoke {
    if o.request.keep_rbac {
        return keep_all(o, "(--keep-rbac)");
    }
    if group_still_mapped {
        return keep_all(o, &messages::still_mapped(&o.request.group));
    }
    let mut notes = Vec::new();
    let (binding, binding_note) = plan_binding(o, &mut notes);
    let role = plan_role(o, &binding, &mut notes);
    RbacRevoke {
        binding,
        binding_note,
        role,
        notes,
    }
}

/// The one decision of a revoke. A refused aws-auth entry refuses the run before any write.
pub fn plan_revoke(o: &RevokeObservation<'_>) -> Result<RevokePlan, Refusal> {
    let r = o.request;
    let unread = AwsAuthSeen::default();
    let aws_auth = aws_auth::revoke(
        o.aws_auth.unwrap_or(&unread),
        &aws_auth::RevokeEntry {
            role: &r.role,
            username: &r.username,
            group: &r.group,
            force: r.force,
        },
    )?;
    let entries_map_group = o.access_entries.is_some_and(|a| a.group_still_mapped);
    let group_still_mapped = aws_auth.group_still_mapped || entries_map_group;
    let rbac = plan_rbac(o, group_still_mapped);
    let mut notes: Vec<String> = o
        .access_entries
        .map(|a| a.notes.clone())
        .unwrap_or_default();
    notes.extend(aws_auth.forced.iter().cloned());
    if aws_auth.removed.len() > 1 {
        notes.push(format!(
            "{} mapRoles entries matched {} (duplicates); all were removed",
            aws_auth.removed.len(),
            r.role.canonical
        ));
    }
    notes.extend(rbac.notes);
    Ok(RevokePlan {
        request: r.clone(),
        uses_aws_auth: o.aws_auth.is_some(),
        aws_auth,
        access_entries: o.access_entries.cloned(),
        group_still_mapped,
        binding: rbac.binding,
        binding_note: rbac.binding_note,
        role: rbac.role,
        role_live: o.live_role.is_some(),
        binding_live: o.live_binding.is_some(),
        all_bindings_read: o.all_bindings.is_some(),
        notes,
    })
}

impl RevokePlan {
    /// Other bindings that refer to the role keep it; they are read only when the role could
    /// go. When this is true, read them and plan again.
    pub fn wants_all_bindings(&self) -> bool {
        !self.all_bindings_read
            && self.role_live
            && !self.request.keep_rbac
            && !self.group_still_mapped
    }

    /// The access entry this run deletes.
    pub fn access_entry_to_delete(&self) -> Option<&str> {
        self.access_entries.as_ref()?.entry.as_deref()
    }

    pub fn binding_action(&self) -> Action {
        self.binding.action()
    }

    /// Nothing to remove anywhere.
    pub fn nothing_to_do(&self) -> bool {
        self.aws_auth.removed.is_empty()
            && self.access_entry_to_delete().is_none()
            && self.role != Action::Deleted
            && !self.binding.writes()
    }

    /// aws-auth changed between our read and our write (409): decide the aws-auth part again
    /// from the fresh text. When the group is mapped now (someone mapped it while we worked),
    /// its RBAC is kept.
    pub fn rebase(&mut self, fresh: &AwsAuthSeen) -> Result<(), Refusal> {
        let r = &self.request;
        self.aws_auth = aws_auth::revoke(
            fresh,
            &aws_auth::RevokeEntry {
                role: &r.role,
                username: &r.username,
                group: &r.group,
                force: r.force,
            },
        )?;
        let now_mapped = self.aws_auth.group_still_mapped;
        if now_mapped && !self.group_still_mapped {
            self.group_still_mapped = true;
            if self.role != Action::Absent {
                self.role = Action::Kept;
            }
            if self.binding != BindingStep::Absent {
                self.binding = BindingStep::Kept;
            }
            self.binding_note = None;
        }
        Ok(())
    }

    /// After a failed write, the RBAC objects that were there stay there.
    pub fn keep_rbac(&mut self) {
        self.role = if self.role_live {
            Action::Kept
        } else {
            Action::Absent
        };
        self.binding = if self.binding_live {
            BindingStep::Kept
        } else {
            BindingStep::Absent
        };
        self.binding_note = None;
    }

    /// Where there was nothing, for the "nothing to revoke" note.
    pub fn nothing_note(&self) -> String {
        let where_ = match (&self.access_entries, self.uses_aws_auth) {
            (Some(a), true) => format!(
                "neither aws-auth nor cluster {} has an access entry",
                a.cluster
            ),
            (Some(a), false) => format!("cluster {} has no access entry", a.cluster),
            (None, _) => "aws-auth has no entry".to_string(),
        };
        format!(
            "nothing to revoke: {where_} for {}",
            self.request.role.canonical
        )
    }

    /// The report as planned.
    pub fn report(&self) -> PlannedReport {
        let r = &self.request;
        let object = |action, note| ObjectResult {
            name: r.role_name.clone(),
            action,
            note,
            profile: None,
        };
        let removed = &self.aws_auth.removed;
        let entry = removed.last().map_or_else(
            || EntryView {
                rolearn: r.role.canonical.to_string(),
                username: String::new(),
                groups: vec![],
            },
            |e| EntryView {
                rolearn: e.rolearn.clone(),
                username: e.username.clone().unwrap_or_default(),
                groups: e.groups.clone(),
            },
        );
        let mut notes = self.notes.clone();
        if self.nothing_to_do() {
            notes.push(self.nothing_note());
        }
        PlannedReport {
            role_arn: messages::role_arn_view(&r.role),
            cluster_role: object(self.role, None),
            cluster_role_binding: object(self.binding_action(), self.binding_note.clone()),
            aws_auth: AwsAuthResult {
                name: AWS_AUTH_NAME.into(),
                namespace: AWS_AUTH_NAMESPACE.into(),
                action: if removed.is_empty() {
                    Action::Unchanged
                } else {
                    Action::Updated
                },
                entry,
                removed: Some(removed.len()),
                backup: None,
                note: (!self.uses_aws_auth).then(|| {
                    "not read: the cluster's authenticationMode is API, so EKS ignores aws-auth"
                        .to_string()
                }),
            },
            diff: self.aws_auth.diff.clone(),
            manifests: vec![],
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::binding::leave as binding_step;
    use super::*;
    use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    const NAME: &str = "chronomReadOnlyRole";

    fn group(name: &str) -> Subject {
        Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: name.into(),
            namespace: None,
        }
    }

    fn meta(name: &str, managed: bool) -> ObjectMeta {
        let mut m = ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        };
        if managed {
            m.labels = Some(
                [(
                    ro::MANAGED_BY_LABEL.to_string(),
                    ro::MANAGED_BY_VALUE.to_string(),
                )]
                .into(),
            );
        }
        m
    }

    fn binding(name: &str, role: &str, subjects: &[Subject], managed: bool) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: meta(name, managed),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(subjects.to_vec()),
        }
    }

    fn role(managed: bool) -> ClusterRole {
        ClusterRole {
            metadata: meta(NAME, managed),
            ..Default::default()
        }
    }

    fn request(keep_rbac: bool) -> RevokeRequest {
        RevokeRequest {
            role: crate::arn::parse_role_arn("arn:aws:iam::111122223333:role/scanner").unwrap(),
            username: "scanner".into(),
            group: "a".into(),
            role_name: NAME.into(),
            keep_rbac,
            force: false,
        }
    }

    /// The RBAC part of a revoke plan, as `plan_rbac` decided it before it was public.
    fn plan_rbac_with(
        keep_rbac: bool,
        group_still_mapped: bool,
        live_role: Option<&ClusterRole>,
        live_binding: Option<&ClusterRoleBinding>,
        all: &[ClusterRoleBinding],
    ) -> RevokePlan {
        let entries = AccessEntriesSeen {
            cluster: "c".into(),
            entry: None,
            group_still_mapped,
            notes: vec![],
        };
        plan_revoke(&RevokeObservation {
            request: &request(keep_rbac),
            aws_auth: Some(&AwsAuthSeen::default()),
            access_entries: Some(&entries),
            live_role,
            live_binding,
            all_bindings: Some(all),
        })
        .unwrap()
    }

    fn plan(
        group_still_mapped: bool,
        live_role: Option<&ClusterRole>,
        live_binding: Option<&ClusterRoleBinding>,
        all: &[ClusterRoleBinding],
    ) -> RevokePlan {
        plan_rbac_with(false, group_still_mapped, live_role, live_binding, all)
    }

    #[test]
    fn the_last_subject_takes_the_binding_and_then_the_role() {
        let b = binding(NAME, NAME, &[group("a")], true);
        let r = role(true);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!(p.binding, BindingStep::Delete);
        assert_eq!(p.role, Action::Deleted);
        // Our own binding is not "another binding" of the role.
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn a_shared_binding_loses_only_this_group_and_the_role_stays() {
        let b = binding(NAME, NAME, &[group("a"), group("b")], true);
        let r = role(true);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!(
            p.binding,
            BindingStep::RemoveSubject {
                remaining: vec![group("b")]
            }
        );
        assert_eq!(p.binding.action(), Action::Updated);
        assert_eq!(p.role, Action::Kept);
        assert_eq!(
            p.binding_note.as_deref(),
            Some("group a removed; still binds Group b")
        );
        // A User subject with the group's name is not the group.
        let user = Subject {
            kind: "User".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..group("a")
        };
        assert_eq!(
            binding_step(&binding(NAME, NAME, &[group("a"), user.clone()], true), "a"),
            BindingStep::RemoveSubject {
                remaining: vec![user]
            }
        );
    }

    #[test]
    fn a_binding_without_the_group_is_left_alone() {
        let b = binding(NAME, NAME, &[group("b")], true);
        let r = role(true);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!(p.binding, BindingStep::Kept);
        assert_eq!(p.role, Action::Kept);
        assert!(
            p.notes[0].contains("does not bind group a (it binds Group b)"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn the_group_still_mapped_keeps_everything() {
        let b = binding(NAME, NAME, &[group("a")], true);
        let r = role(true);
        let p = plan(true, Some(&r), Some(&b), &[]);
        assert_eq!((p.binding, p.role), (BindingStep::Kept, Action::Kept));
        assert_eq!(
            p.notes[0],
            format!(
                "clusterrole {NAME} kept: other aws-auth entries or access entries still map group a"
            )
        );
        let p = plan_rbac_with(true, false, Some(&r), None, &[]);
        assert_eq!((p.binding, p.role), (BindingStep::Absent, Action::Kept));
        assert_eq!(p.notes, [format!("clusterrole {NAME} kept (--keep-rbac)")]);
    }

    #[test]
    fn objects_without_our_label_are_never_changed() {
        let b = binding(NAME, NAME, &[group("a")], false);
        let r = role(false);
        let p = plan(false, Some(&r), Some(&b), std::slice::from_ref(&b));
        assert_eq!((p.binding, p.role), (BindingStep::Kept, Action::Kept));
        assert_eq!(p.notes.len(), 2);
        assert!(
            p.notes
                .iter()
                .all(|n| n.contains("not managed by kubectl-chronom"))
        );
        // Our binding gone, an unlabelled role of that name: kept.
        let p = plan(false, Some(&r), None, &[]);
        assert_eq!(p.role, Action::Kept);
    }

    #[test]
    fn another_binding_of_the_role_keeps_it() {
        let ours = binding(NAME, NAME, &[group("a")], true);
        for managed in [true, false] {
            let other = binding("team-view", NAME, &[group("x")], managed);
            let r = role(true);
            let all = [ours.clone(), other];
            let p = plan(false, Some(&r), Some(&ours), &all);
            assert_eq!(p.binding, BindingStep::Delete);
            assert_eq!(p.role, Action::Kept);
            assert!(
                p.notes
                    .iter()
                    .any(|n| n.contains("team-view still refer to it")),
                "{:?}",
                p.notes
            );
        }
        // A binding of another role, or a Role of the same name, does not count.
        let mut unrelated = binding("x", "other", &[group("x")], true);
        let r = role(true);
        let p = plan(
            false,
            Some(&r),
            Some(&ours),
            &[ours.clone(), unrelated.clone()],
        );
        assert_eq!(p.role, Action::Deleted);
        unrelated.role_ref = RoleRef {
            kind: "Role".into(),
            name: NAME.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
        };
        let p = plan(false, Some(&r), Some(&ours), &[ours.clone(), unrelated]);
        assert_eq!(p.role, Action::Deleted);
    }

    #[test]
    fn nothing_live_is_nothing_to_do() {
        let p = plan(false, None, None, &[]);
        assert_eq!((p.binding, p.role), (BindingStep::Absent, Action::Absent));
        assert!(!BindingStep::Absent.writes() && !BindingStep::Kept.writes());
    }
}
