//! `GrantPlan`: everything a grant will write, refuse, say and undo, from what it observed.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Serialize;

use crate::action::Action;
use crate::arn::RoleArnInput;
use crate::awsauth;
use crate::inherited_access::{self, ReadScope};
use crate::outcome::{AwsAuthResult, ObjectResult};
use crate::rbac::RbacObjects;
use crate::readonly_role::{self as ro, DiscoveredResources, Provenance, RoleProfile};

use super::aws_auth::{self, AwsAuthGrant, AwsAuthSeen};
use super::binding;
use super::messages;
use super::refusal::{BoundSubject, Refusal};
use super::report::{AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, PlannedReport};
use super::rollback::{KeepReason, RollbackStep, Written};

/// A grant request whose inputs have been checked. Pure data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidGrant {
    pub role: RoleArnInput,
    pub entry: awsauth::NewRoleEntry,
    pub group: String,
    pub role_name: String,
    /// What the ClusterRole grants (`--include-secrets`, `--wildcard-role`; read-only by default).
    pub profile: RoleProfile,
    pub force_update: bool,
    pub dry_run: bool,
}

impl ValidGrant {
    fn entry(&self) -> aws_auth::GrantEntry<'_> {
        aws_auth::GrantEntry {
            role: &self.role,
            entry: &self.entry,
            force_update: self.force_update,
        }
    }
}

/// The role's live EKS access entry and what EKS's side decided for it (the mapping grant
/// writes instead of aws-auth on an API or API_AND_CONFIG_MAP cluster).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntrySeen {
    pub cluster: String,
    pub principal_arn: String,
    /// created, updated or unchanged.
    pub action: Action,
    /// The entry before an update.
    pub previous: Option<PreviousEntry>,
    pub notes: Vec<String>,
}

/// What an access entry said before this run updated it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousEntry {
    pub username: String,
    pub kubernetes_groups: Vec<String>,
}

/// Which mapping the grant writes, as read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MappingSeen {
    AwsAuth(AwsAuthSeen),
    AccessEntry(AccessEntrySeen),
}

/// What a grant read before deciding anything.
#[derive(Debug, Clone)]
pub struct GrantObservation<'a> {
    pub request: &'a ValidGrant,
    pub live_role: Option<&'a ClusterRole>,
    pub live_binding: Option<&'a ClusterRoleBinding>,
    /// Every ClusterRole, ClusterRoleBinding, Role and RoleBinding.
    pub rbac: &'a RbacObjects,
    /// What the server serves (empty for the wildcard profile).
    pub discovered: &'a DiscoveredResources,
    pub provenance: &'a Provenance,
    /// A username the mapped identity can have (a template filled in).
    pub sample_user: &'a str,
    pub mapping: MappingSeen,
    /// Why this mapping was chosen (`--via`), when there is something to say.
    pub via_note: Option<String>,
}

/// The mapping write.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantMapping {
    AwsAuth(AwsAuthGrant),
    AccessEntry(AccessEntrySeen),
}

/// Everything a grant will do, decided before any write.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantPlan {
    #[serde(skip)]
    pub request: ValidGrant,
    pub role: ClusterRole,
    pub role_action: Action,
    /// The binding as it must be after this run: the live one's subjects plus our group.
    pub binding: ClusterRoleBinding,
    pub binding_action: Action,
    /// The role's rules, live against restored, when they differ.
    pub drift_diff: String,
    pub mapping: GrantMapping,
    pub notes: Vec<String>,
    /// Namespaces where the username or group has a RoleBinding: verification asks there too.
    pub verify_in: BTreeSet<String>,
}

/// Decision 3 (docs/decisions.md): grants that share a ClusterRole must not change each
/// other's access, so a managed role whose live profile differs from the requested one is
/// refused before any write. `live` is None when there is no role yet.
pub fn profile_change_refusal(
    role_name: &str,
    live: Option<RoleProfile>,
    requested: RoleProfile,
    bound: &[BoundSubject],
) -> Result<(), Refusal> {
    match live {
        Some(live) if live != requested => Err(Refusal::ProfileChange {
            role_name: role_name.into(),
            live,
            requested,
            bound: bound.to_vec(),
        }),
        _ => Ok(()),
    }
}

/// The ClusterRole part: its action, and the drift diff and note when it is restored.
fn plan_role(
    v: &ValidGrant,
    live: Option<&ClusterRole>,
    role: &ClusterRole,
    notes: &mut Vec<String>,
) -> (Action, String) {
    let Some(live) = live else {
        return (Action::Created, String::new());
    };
    if ro::role_matches(live, role) {
        return (Action::Unchanged, String::new());
    }
    let before = ro::rules_yaml(live.rules.as_deref().unwrap_or_default());
    let after = ro::rules_yaml(role.rules.as_deref().unwrap_or_default());
    if before == after {
        notes.push(format!(
            "clusterrole {} is annotated with its profile ({})",
            v.role_name, v.profile
        ));
        return (Action::Updated, String::new());
    }
    notes.push(format!(
        "clusterrole {} differs from what profile {} grants on this server (resources served or removed since the last grant, or rules changed by someone); its rules are updated (see diff)",
        v.role_name, v.profile
    ));
    let diff = awsauth::unified_diff(
        &before,
        &after,
        &format!("clusterrole/{} rules (live)", v.role_name),
        &format!("clusterrole/{} rules (restored)", v.role_name),
    );
    (Action::Updated, diff)
}

/// The ClusterRoleBinding part (decision 4: it accumulates subjects).
fn plan_binding(
    v: &ValidGrant,
    live: Option<&ClusterRoleBinding>,
    desired: ClusterRoleBinding,
    notes: &mut Vec<String>,
) -> Result<(ClusterRoleBinding, Action), Refusal> {
    let Some(live) = live else {
        return Ok((desired, Action::Created));
    };
    if live.role_ref != desired.role_ref {
        return Err(Refusal::BindingRefersElsewhere {
            role_name: v.role_name.clone(),
            kind: live.role_ref.kind.clone(),
            name: live.role_ref.name.clone(),
        });
    }
    Ok(
        match binding::accumulated_binding(&desired, live, &v.group) {
            (b, false) => (b, Action::Unchanged),
            (b, true) => {
                notes.push(format!(
                    "clusterrolebinding {} now binds group {} too; the subjects it had are kept",
                    v.role_name, v.group
                ));
                (b, Action::Updated)
            }
        },
    )
}

/// Decision 7: refuse when what the identity already holds is more than the profile.
/// Returns the namespaces verification must ask in.
fn check_identity(o: &GrantObservation<'_>) -> Result<BTreeSet<String>, Refusal> {
    let v = o.request;
    let account = v.role.canonical.account();
    let users =
        inherited_access::usernames_to_check(&v.entry.username, account, o.sample_user, o.rbac);
    let held = inherited_access::held_beyond(
        o.rbac,
        &v.role_name,
        &users,
        &v.group,
        ReadScope::of(v.profile),
    );
    if !held.is_empty() {
        return Err(Refusal::InheritedAccess {
            username: v.entry.username.clone(),
            group: v.group.clone(),
            profile: v.profile,
            held: held.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(inherited_access::role_binding_namespaces(
        o.rbac, &users, &v.group,
    ))
}

/// Refused before any AWS call when the grant maps through an access entry: EKS rejects a
/// kubernetesGroups name starting with `system:` (awsdocs/amazon-eks-user-guide#985: the
/// console and CreateAccessEntry refuse it), and left to EKS the error would seem to be about
/// the role ARN.
pub fn access_entry_group_refusal(group: &str) -> Result<(), Refusal> {
    if group.starts_with("system:") {
        return Err(Refusal::AccessEntrySystemGroup {
            group: group.to_string(),
        });
    }
    Ok(())
}

/// The one decision of a grant. Refusals come in the order a user fixes them: ownership,
/// profile, the binding's role, inherited access, then the mapping.
pub fn plan_grant(o: &GrantObservation<'_>) -> Result<GrantPlan, Refusal> {
    let v = o.request;
    let bound = binding::subjects_bound_to(o.rbac, &v.role_name);
    binding::ownership_refusal(&v.role_name, o.live_role, o.live_binding, &bound)?;
    profile_change_refusal(
        &v.role_name,
        o.live_role.and_then(ro::live_profile),
        v.profile,
        &bound,
    )?;
    let rules = ro::profile_rules(v.profile, o.discovered);
    let role = ro::cluster_role(&v.role_name, v.profile, rules, o.provenance);
    let desired = ro::cluster_role_binding(&v.role_name, &v.role_name, &v.group, o.provenance);
    let mut rbac_notes = Vec::new();
    let (role_action, drift_diff) = plan_role(v, o.live_role, &role, &mut rbac_notes);
    let (binding, binding_action) = plan_binding(v, o.live_binding, desired, &mut rbac_notes)?;
    let verify_in = check_identity(o)?;
    let mapping = match &o.mapping {
        MappingSeen::AwsAuth(seen) => GrantMapping::AwsAuth(aws_auth::grant(seen, &v.entry())?),
        MappingSeen::AccessEntry(seen) => {
            access_entry_group_refusal(&v.group)?;
            GrantMapping::AccessEntry(seen.clone())
        }
    };
    let mut notes: Vec<String> = o.via_note.iter().cloned().collect();
    match &mapping {
        GrantMapping::AwsAuth(_) => notes.extend(messages::path_notes(&v.role)),
        GrantMapping::AccessEntry(seen) => {
            if let Some(session) = &v.role.assumed_role_session {
                notes.push(messages::session_note(session, &seen.principal_arn));
            }
            notes.extend(seen.notes.iter().cloned());
        }
    }
    notes.extend(rbac_notes);
    if v.profile == RoleProfile::Wildcard {
        notes.push(ro::WILDCARD_WARNING.to_string());
    }
    Ok(GrantPlan {
        request: v.clone(),
        role,
        role_action,
        binding,
        binding_action,
        drift_diff,
        mapping,
        notes,
        verify_in,
    })
}

impl GrantPlan {
    /// The aws-auth edit, when the mapping is aws-auth.
    pub fn aws_auth(&self) -> Option<&AwsAuthGrant> {
        match &self.mapping {
            GrantMapping::AwsAuth(edit) => Some(edit),
            GrantMapping::AccessEntry(_) => None,
        }
    }

    /// aws-auth changed between our read and our write (409): decide the aws-auth part again
    /// from the fresh text. Everything else stands.
    pub fn rebase(&mut self, fresh: &AwsAuthSeen) -> Result<(), Refusal> {
        if let GrantMapping::AwsAuth(edit) = &mut self.mapping {
            *edit = aws_auth::grant(fresh, &self.request.entry())?;
        }
        Ok(())
    }

    /// The role's drift diff, then the mapRoles diff.
    pub fn diff(&self) -> String {
        let mapping = self.aws_auth().map(|e| e.diff.as_str()).unwrap_or_default();
        format!("{}{mapping}", self.drift_diff)
    }

    /// The manifests a run applies.
    pub fn manifests(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.role_action != Action::Unchanged {
            out.push(ro::manifest_yaml(&self.role));
        }
        if self.binding_action != Action::Unchanged {
            out.push(ro::manifest_yaml(&self.binding));
        }
        out
    }

    /// The report as planned: what `--dry-run` shows and what a run starts from.
    pub fn report(&self) -> PlannedReport {
        let v = &self.request;
        let (action, note) = match &self.mapping {
            GrantMapping::AwsAuth(edit) => (edit.action, None),
            GrantMapping::AccessEntry(seen) => (
                Action::Unchanged,
                Some(format!(
                    "not used: the role is mapped by an EKS access entry in cluster {}",
                    seen.cluster
                )),
            ),
        };
        PlannedReport {
            role_arn: messages::role_arn_view(&v.role),
            cluster_role: ObjectResult {
                name: v.role_name.clone(),
                action: self.role_action,
                note: None,
                profile: Some(v.profile),
            },
            cluster_role_binding: ObjectResult {
                name: v.role_name.clone(),
                action: self.binding_action,
                note: None,
                profile: None,
            },
            aws_auth: AwsAuthResult {
                name: AWS_AUTH_NAME.into(),
                namespace: AWS_AUTH_NAMESPACE.into(),
                action,
                entry: messages::entry_view(&v.entry),
                removed: None,
                backup: None,
                note,
            },
            diff: self.diff(),
            manifests: self.manifests(),
            notes: self.notes.clone(),
        }
    }

    /// Undo the mapping this run wrote: the access entry (deleted if created, put back if
    /// updated) or the aws-auth entry (removed if added; the replaced text put back if it
    /// replaced another entry, only over exactly what this run wrote).
    pub fn mapping_rollback(&self, written: &Written) -> Option<RollbackStep> {
        match &self.mapping {
            GrantMapping::AccessEntry(seen) => match (written.access_entry?, &seen.previous) {
                (Action::Created, _) => Some(RollbackStep::DeleteAccessEntry {
                    cluster: seen.cluster.clone(),
                    principal_arn: seen.principal_arn.clone(),
                }),
                (Action::Updated, Some(before)) => Some(RollbackStep::RestoreAccessEntry {
                    cluster: seen.cluster.clone(),
                    principal_arn: seen.principal_arn.clone(),
                    username: before.username.clone(),
                    kubernetes_groups: before.kubernetes_groups.clone(),
                }),
                _ => None,
            },
            GrantMapping::AwsAuth(edit) if written.aws_auth => {
                let after = edit.after.clone()?;
                Some(if edit.replaced {
                    RollbackStep::RestoreAwsAuthText {
                        before: edit.before.clone(),
                        after,
                        key_created: edit.key_created,
                    }
                } else {
                    RollbackStep::RemoveAwsAuthEntry {
                        rolearn: self.request.role.canonical.to_string(),
                        key_created: edit.key_created,
                    }
                })
            }
            GrantMapping::AwsAuth(_) => None,
        }
    }

    /// Undo this run's RBAC writes, but never what another mapping now relies on. `in_use`
    /// is whether aws-auth still maps the group (None: it could not be read). Our group leaves
    /// the binding (if this run added it), the binding goes when this run created it and no
    /// subject remains, and the role goes when this run created it and its binding is gone.
    pub fn rbac_rollback(&self, written: &Written, in_use: Option<bool>) -> Vec<RollbackStep> {
        let name = &self.request.role_name;
        let binding_written =
            written.binding_created_uid.is_some() || written.binding_added_subject;
        let keep = |kind: &str, created: bool| {
            let reason = match in_use {
                Some(true) => KeepReason::GroupStillMapped,
                _ => KeepReason::AwsAuthUnreadable,
            };
            RollbackStep::Keep {
                kind: kind.into(),
                name: name.clone(),
                created,
                reason,
            }
        };
        let mut steps = Vec::new();
        if binding_written {
            steps.push(if in_use == Some(false) {
                RollbackStep::ReleaseBinding {
                    name: name.clone(),
                    group: self.request.group.clone(),
                    created_uid: written.binding_created_uid.clone(),
                }
            } else {
                keep("clusterrolebinding", written.binding_created_uid.is_some())
            });
        }
        if let Some(uid) = &written.role_uid {
            steps.push(if in_use == Some(false) {
                RollbackStep::DeleteRole {
                    name: name.clone(),
                    uid: uid.clone(),
                    // While other subjects still use the binding, its role stays too.
                    once_binding_gone: binding_written,
                }
            } else {
                keep("clusterrole", true)
            });
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::super::binding::{accumulated_binding, binding_serves, subjects_bound_to};
    use super::*;
    use k8s_openapi::api::rbac::v1::{RoleBinding, Subject};
    use std::collections::BTreeMap;

    /// A refusal's two texts, as the user reads them.
    struct Said {
        what: String,
        next: String,
    }

    fn said(r: Refusal) -> Said {
        Said {
            what: r.what(),
            next: r.next(),
        }
    }

    fn prov() -> Provenance {
        Provenance {
            granted_by: "admin".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn group(name: &str) -> Subject {
        Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: name.into(),
            namespace: None,
        }
    }

    fn unlabelled(mut role: ClusterRole) -> ClusterRole {
        role.metadata.labels = None;
        role
    }

    fn objects_binding_cluster_admin() -> RbacObjects {
        let mut b =
            ro::cluster_role_binding("cluster-admin", "cluster-admin", "system:masters", &prov());
        b.metadata.labels = None;
        let mut rb = RoleBinding {
            metadata: Default::default(),
            role_ref: b.role_ref.clone(),
            subjects: Some(vec![Subject {
                kind: "User".into(),
                name: "alice".into(),
                ..group("")
            }]),
        };
        rb.metadata.name = Some("alice-admin".into());
        rb.metadata.namespace = Some("team-x".into());
        RbacObjects {
            cluster_role_bindings: vec![b],
            role_bindings: vec![rb],
            ..Default::default()
        }
    }

    #[test]
    fn an_unlabelled_role_is_refused_naming_what_binds_it() {
        let live = unlabelled(ro::cluster_role(
            "cluster-admin",
            RoleProfile::ReadOnly,
            vec![],
            &prov(),
        ));
        let bound = subjects_bound_to(&objects_binding_cluster_admin(), "cluster-admin");
        assert_eq!(bound.len(), 2);
        let e = said(
            binding::ownership_refusal("cluster-admin", Some(&live), None, &bound).unwrap_err(),
        );
        // That it exits 1 is checked where refusals become errors (error.rs).
        for want in [
            "clusterrole cluster-admin",
            "not managed by kubectl-chronom",
            "Group/system:masters (through ClusterRoleBinding/cluster-admin)",
            "User/alice (through RoleBinding/team-x/alice-admin)",
            "Nothing was changed",
        ] {
            assert!(e.what.contains(want), "{want:?} missing from: {}", e.what);
        }
        assert!(e.next.contains("--role-name"), "{}", e.next);
        let managed = ro::cluster_role("mine", RoleProfile::ReadOnly, vec![], &prov());
        assert!(binding::ownership_refusal("mine", Some(&managed), None, &[]).is_ok());
        assert!(binding::ownership_refusal("none", None, None, &[]).is_ok());
    }

    #[test]
    fn an_unlabelled_binding_is_refused_naming_its_role_and_subjects() {
        let mut b = ro::cluster_role_binding("team", "team-role", "team-devs", &prov());
        b.metadata.labels = Some(BTreeMap::from([("app".into(), "team".into())]));
        let e = said(binding::ownership_refusal("team", None, Some(&b), &[]).unwrap_err());
        for want in [
            "clusterrolebinding team",
            "ClusterRole team-role",
            "Group/team-devs",
        ] {
            assert!(e.what.contains(want), "{want:?} missing from: {}", e.what);
        }
        let ours = ro::cluster_role_binding("team", "team", "g", &prov());
        assert!(binding::ownership_refusal("team", None, Some(&ours), &[]).is_ok());
    }

    #[test]
    fn a_profile_change_is_refused_naming_the_live_profile_and_every_subject() {
        let bound = vec![
            BoundSubject {
                binding: "ClusterRoleBinding/shared".into(),
                subject: "Group/first-readers".into(),
            },
            BoundSubject {
                binding: "RoleBinding/ns/x".into(),
                subject: "User/bob".into(),
            },
        ];
        let e = profile_change_refusal(
            "shared",
            Some(RoleProfile::ReadOnly),
            RoleProfile::Wildcard,
            &bound,
        )
        .unwrap_err();
        let e = said(e);
        for want in [
            "profile read-only",
            "asks for wildcard",
            "Group/first-readers (through ClusterRoleBinding/shared)",
            "User/bob (through RoleBinding/ns/x)",
            "Nothing was changed",
        ] {
            assert!(e.what.contains(want), "{want:?} missing from: {}", e.what);
        }
        assert!(
            e.next.contains("--role-name")
                && e.next.contains("--group")
                && e.next.contains("revoke"),
            "{}",
            e.next
        );
        assert!(profile_change_refusal("r", None, RoleProfile::Wildcard, &[]).is_ok());
        for p in [
            RoleProfile::ReadOnly,
            RoleProfile::ReadOnlyWithSecrets,
            RoleProfile::Wildcard,
        ] {
            assert!(profile_change_refusal("r", Some(p), p, &bound).is_ok());
        }
        assert!(
            profile_change_refusal(
                "r",
                Some(RoleProfile::ReadOnlyWithSecrets),
                RoleProfile::ReadOnly,
                &[]
            )
            .unwrap_err()
            .what()
            .contains("nothing binds it")
        );
    }

    #[test]
    fn the_binding_accumulates_subjects_and_never_drops_one() {
        let desired = ro::cluster_role_binding("shared", "shared", "second", &prov());
        let mut live = ro::cluster_role_binding("shared", "shared", "first", &prov());
        live.subjects.as_mut().unwrap().push(Subject {
            kind: "User".into(),
            name: "someone".into(),
            ..group("")
        });
        let (b, changed) = accumulated_binding(&desired, &live, "second");
        assert!(changed);
        let names: Vec<&str> = b
            .subjects
            .iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["first", "someone", "second"]);
        assert!(binding_serves(&b, &desired, "second") && binding_serves(&b, &desired, "first"));
        let (again, changed) = accumulated_binding(&desired, &b, "second");
        assert!(!changed);
        assert_eq!(again.subjects, b.subjects);
        // A User named like the group is not the group.
        let mut user_only = live.clone();
        user_only.subjects = Some(vec![Subject {
            kind: "User".into(),
            name: "second".into(),
            ..group("")
        }]);
        assert!(accumulated_binding(&desired, &user_only, "second").1);
    }

    /// A default grant of role/scanner to `group` through `role_name`, as `grant::validate`
    /// makes it from the default flags (username: the role name).
    fn valid(group: &str, role_name: &str) -> ValidGrant {
        let role = crate::arn::parse_role_arn("arn:aws:iam::111122223333:role/scanner").unwrap();
        ValidGrant {
            entry: awsauth::NewRoleEntry {
                rolearn: role.canonical.clone(),
                username: awsauth::default_username(&role.canonical),
                groups: vec![group.into()],
            },
            role,
            group: group.into(),
            role_name: role_name.into(),
            profile: RoleProfile::ReadOnly,
            force_update: false,
            dry_run: false,
        }
    }

    #[test]
    fn an_entry_the_authenticator_would_never_read_is_refused() {
        let v = valid("chronomReadOnlyGroup", "chronomReadOnlyRole");
        let readable = "- rolearn: arn:aws:iam::111122223333:role/other\n  username: other\n  groups:\n  - g\n";
        let seen = |text: &str| AwsAuthSeen {
            exists: true,
            map_roles: Some(text.to_string()),
            ..AwsAuthSeen::default()
        };
        let edit =
            aws_auth::grant(&seen(readable), &v.entry()).expect("a plain mapRoles is edited");
        assert!(edit.after.is_some());
        // go-yaml v2 refuses a %YAML 1.2 directive, so the authenticator drops the section whole.
        let dropped = format!("%YAML 1.2\n---\n{readable}");
        assert!(awsauth::read_map_roles(&dropped).error.is_some());
        assert!(
            awsauth::parse_map_roles(&dropped).is_ok(),
            "the premise: the strict editor reads it"
        );
        let e = aws_auth::grant(&seen(&dropped), &v.entry()).unwrap_err();
        assert!(
            e.what().contains("aws-iam-authenticator cannot read")
                && e.what().contains("nothing was changed"),
            "{}",
            e.what()
        );
    }

    /// EKS rejects system: groups on access entries; the plan refuses them on that mapping,
    /// names the rule and a group to use instead, and leaves aws-auth mappings to decision 6.
    #[test]
    fn an_access_entry_with_a_system_group_is_refused() {
        let e = said(access_entry_group_refusal("system:readers").unwrap_err());
        assert!(
            e.what.contains("--group system:readers")
                && e.what.contains("cannot start with system:")
                && e.what.contains("Create access entries")
                && e.what.contains("nothing was changed"),
            "{}",
            e.what
        );
        assert!(e.next.contains("chronomReadOnlyGroup"), "{}", e.next);
        assert!(access_entry_group_refusal("readers").is_ok());
        assert!(access_entry_group_refusal("my-system:readers").is_ok());

        let v = valid("system:readers", "readers-role");
        let served = DiscoveredResources::new();
        let objects = RbacObjects::default();
        let seen = AccessEntrySeen {
            cluster: "prod".into(),
            principal_arn: "arn:aws:iam::111122223333:role/scanner".into(),
            action: Action::Created,
            previous: None,
            notes: Vec::new(),
        };
        let r = plan_grant(&GrantObservation {
            request: &v,
            live_role: None,
            live_binding: None,
            rbac: &objects,
            discovered: &served,
            provenance: &prov(),
            sample_user: "scanner",
            mapping: MappingSeen::AccessEntry(seen),
            via_note: None,
        });
        assert!(
            matches!(r, Err(Refusal::AccessEntrySystemGroup { ref group }) if group == "system:readers"),
            "{r:?}"
        );
    }

    #[test]
    fn plan_keeps_the_first_group_when_a_second_grant_shares_the_role() {
        let v = valid("other-readers", "shared");
        let served = DiscoveredResources::new();
        let role = ro::cluster_role(
            "shared",
            RoleProfile::ReadOnly,
            ro::profile_rules(RoleProfile::ReadOnly, &served),
            &prov(),
        );
        let live = ro::cluster_role_binding("shared", "shared", "first-readers", &prov());
        let objects = RbacObjects::default();
        let plan = plan_grant(&GrantObservation {
            request: &v,
            live_role: Some(&role),
            live_binding: Some(&live),
            rbac: &objects,
            discovered: &served,
            provenance: &prov(),
            sample_user: "scanner",
            mapping: MappingSeen::AwsAuth(AwsAuthSeen::default()),
            via_note: None,
        })
        .unwrap();
        assert_eq!(plan.role_action, Action::Unchanged);
        assert_eq!(plan.binding_action, Action::Updated);
        let names: Vec<&str> = plan
            .binding
            .subjects
            .iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["first-readers", "other-readers"]);
    }

    /// Rollback comes from the plan and from what the run wrote, not from a fresh guess: a
    /// grant that joined a shared binding and added an aws-auth entry takes back exactly
    /// those two, never the role it did not create.
    #[test]
    fn a_failed_verification_rolls_back_exactly_what_this_run_wrote() {
        use super::super::rollback::{KeepReason, RollbackStep, Written};
        let v = valid("other-readers", "shared");
        let served = DiscoveredResources::new();
        let role = ro::cluster_role(
            "shared",
            RoleProfile::ReadOnly,
            ro::profile_rules(RoleProfile::ReadOnly, &served),
            &prov(),
        );
        let live = ro::cluster_role_binding("shared", "shared", "first-readers", &prov());
        let nodes = "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:nodes\n";
        let objects = RbacObjects::default();
        let plan = plan_grant(&GrantObservation {
            request: &v,
            live_role: Some(&role),
            live_binding: Some(&live),
            rbac: &objects,
            discovered: &served,
            provenance: &prov(),
            sample_user: "scanner",
            mapping: MappingSeen::AwsAuth(AwsAuthSeen {
                exists: true,
                map_roles: Some(nodes.into()),
                ..AwsAuthSeen::default()
            }),
            via_note: None,
        })
        .unwrap();
        let written = Written {
            binding_added_subject: true,
            aws_auth: true,
            ..Written::default()
        };
        let mut steps: Vec<RollbackStep> = plan.mapping_rollback(&written).into_iter().collect();
        steps.extend(plan.rbac_rollback(&written, Some(false)));
        assert_eq!(
            steps,
            [
                RollbackStep::RemoveAwsAuthEntry {
                    rolearn: "arn:aws:iam::111122223333:role/scanner".into(),
                    key_created: false,
                },
                RollbackStep::ReleaseBinding {
                    name: "shared".into(),
                    group: "other-readers".into(),
                    created_uid: None,
                },
            ]
        );
        // Another mapping of the group now, or aws-auth unreadable: the binding stays, and why.
        for (in_use, reason) in [
            (Some(true), KeepReason::GroupStillMapped),
            (None, KeepReason::AwsAuthUnreadable),
        ] {
            assert_eq!(
                plan.rbac_rollback(&written, in_use),
                [RollbackStep::Keep {
                    kind: "clusterrolebinding".into(),
                    name: "shared".into(),
                    created: false,
                    reason,
                }]
            );
        }
        // A run that stopped before the aws-auth write has no aws-auth step to undo.
        let before_mapping = Written {
            aws_auth: false,
            ..written
        };
        assert_eq!(plan.mapping_rollback(&before_mapping), None);
    }
}
