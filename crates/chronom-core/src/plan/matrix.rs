//! The snapshot matrix of plans (issue 17): for each observed state, what grant and revoke
//! decide, as data. A changed decision shows up as a changed snapshot under
//! `src/plan/snapshots/`, to be read before it is accepted.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Subject};
use serde::Serialize;

use super::aws_auth::AwsAuthSeen;
use super::grant::{
    AccessEntrySeen, GrantObservation, GrantPlan, MappingSeen, PreviousEntry, ValidGrant,
    plan_grant,
};
use super::report::PlannedReport;
use super::revoke::{AccessEntriesSeen, RevokeObservation, RevokePlan, RevokeRequest, plan_revoke};
use super::rollback::{RollbackStep, Written};
use crate::action::Action;
use crate::arn;
use crate::awsauth::NewRoleEntry;
use crate::rbac::RbacObjects;
use crate::readonly_role::{self as ro, DiscoveredResources, Provenance, RoleProfile};

const ROLE: &str = "arn:aws:iam::111122223333:role/scanner";
const NAME: &str = "chronomReadOnlyRole";
const GROUP: &str = "chronomReadOnlyGroup";
const OURS: &str = "- rolearn: arn:aws:iam::111122223333:role/scanner\n  username: scanner\n  groups:\n  - chronomReadOnlyGroup\n";
const NODES: &str = "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n";

fn prov() -> Provenance {
    Provenance {
        granted_by: "admin".into(),
        granted_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// A small server: pods and configmaps, secrets (left out by read-only), and pods/exec.
fn served() -> DiscoveredResources {
    let verbs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let core = BTreeMap::from([
        ("pods".to_string(), verbs(&["get", "list", "watch"])),
        ("configmaps".to_string(), verbs(&["get", "list", "watch"])),
        ("secrets".to_string(), verbs(&["get", "list", "watch"])),
        ("pods/exec".to_string(), verbs(&["create", "get"])),
    ]);
    BTreeMap::from([(String::new(), core)])
}

fn request(force_update: bool) -> ValidGrant {
    let role = arn::parse_role_arn(ROLE).unwrap();
    ValidGrant {
        entry: NewRoleEntry {
            rolearn: role.canonical.clone(),
            username: "scanner".into(),
            groups: vec![GROUP.into()],
        },
        role,
        group: GROUP.into(),
        role_name: NAME.into(),
        profile: RoleProfile::ReadOnly,
        force_update,
        dry_run: false,
    }
}

fn aws_auth(map_roles: &str, map_users: Option<&str>) -> AwsAuthSeen {
    AwsAuthSeen {
        exists: true,
        map_roles: Some(map_roles.to_string()),
        map_users: map_users.map(str::to_string),
        key_created_by_us: false,
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

fn our_role() -> ClusterRole {
    ro::cluster_role(
        NAME,
        RoleProfile::ReadOnly,
        ro::profile_rules(RoleProfile::ReadOnly, &served()),
        &prov(),
    )
}

fn our_binding(groups: &[&str]) -> ClusterRoleBinding {
    let mut b = ro::cluster_role_binding(NAME, NAME, GROUP, &prov());
    b.subjects = Some(groups.iter().map(|g| group(g)).collect());
    b
}

fn unlabelled<
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    mut o: T,
) -> T {
    o.metadata_mut().labels = None;
    o
}

/// What a grant's observation holds, owned.
struct GrantCase {
    force_update: bool,
    live_role: Option<ClusterRole>,
    live_binding: Option<ClusterRoleBinding>,
    others: RbacObjects,
    mapping: MappingSeen,
}

impl GrantCase {
    fn fresh() -> Self {
        GrantCase {
            force_update: false,
            live_role: None,
            live_binding: None,
            others: RbacObjects::default(),
            mapping: MappingSeen::AwsAuth(AwsAuthSeen::default()),
        }
    }

    fn plan(&self) -> Result<GrantPlan, super::refusal::Refusal> {
        let v = request(self.force_update);
        let mut rbac = self.others.clone();
        rbac.cluster_roles.extend(self.live_role.clone());
        rbac.cluster_role_bindings.extend(self.live_binding.clone());
        plan_grant(&GrantObservation {
            request: &v,
            live_role: self.live_role.as_ref(),
            live_binding: self.live_binding.as_ref(),
            rbac: &rbac,
            discovered: &served(),
            provenance: &prov(),
            sample_user: "scanner",
            mapping: self.mapping.clone(),
            via_note: None,
        })
    }
}

/// Everything a plan writes, as a run that wrote all of it records it.
fn all_written(plan: &GrantPlan) -> Written {
    Written {
        role_uid: (plan.role_action == Action::Created).then(|| "uid-role".into()),
        binding_created_uid: (plan.binding_action == Action::Created).then(|| "uid-binding".into()),
        binding_added_subject: plan.binding_action == Action::Updated,
        aws_auth: plan.aws_auth().is_some_and(|e| e.after.is_some()),
        access_entry: match &plan.mapping {
            super::grant::GrantMapping::AccessEntry(a) if a.action != Action::Unchanged => {
                Some(a.action)
            }
            _ => None,
        },
    }
}

/// A snapshot: the plan's decision, its report, and the rollback of everything it writes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Decision<P> {
    Planned {
        plan: Box<P>,
        report: Box<PlannedReport>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        rollback: Vec<RollbackStep>,
    },
    Refused {
        what: String,
        next: String,
    },
}

fn grant_decision(case: &GrantCase) -> Decision<GrantPlan> {
    match case.plan() {
        Ok(plan) => {
            let written = all_written(&plan);
            let mut rollback: Vec<RollbackStep> =
                plan.mapping_rollback(&written).into_iter().collect();
            rollback.extend(plan.rbac_rollback(&written, Some(false)));
            let mut report = plan.report();
            report.manifests = vec![format!("{} manifest(s)", report.manifests.len())];
            Decision::Planned {
                plan: Box::new(plan),
                report: Box::new(report),
                rollback,
            }
        }
        Err(r) => Decision::Refused {
            what: r.what(),
            next: r.next(),
        },
    }
}

#[test]
fn grant_on_a_fresh_cluster_creates_everything() {
    insta::assert_yaml_snapshot!("grant_absent", grant_decision(&GrantCase::fresh()));
}

#[test]
fn grant_already_in_place_changes_nothing() {
    let case = GrantCase {
        live_role: Some(our_role()),
        live_binding: Some(our_binding(&[GROUP])),
        mapping: MappingSeen::AwsAuth(aws_auth(OURS, None)),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_already_granted", grant_decision(&case));
}

#[test]
fn grant_restores_drifted_rules() {
    let mut drifted = our_role();
    drifted.rules.get_or_insert_with(Vec::new).push(PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["secrets".into()]),
        verbs: vec!["get".into()],
        ..Default::default()
    });
    let case = GrantCase {
        live_role: Some(drifted),
        live_binding: Some(our_binding(&[GROUP])),
        mapping: MappingSeen::AwsAuth(aws_auth(OURS, None)),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_drifted_role", grant_decision(&case));
}

#[test]
fn grant_refuses_a_foreign_role_and_a_foreign_binding() {
    let mut admin_binding =
        unlabelled(ro::cluster_role_binding(NAME, NAME, "team-admins", &prov()));
    admin_binding.metadata.name = Some("team-admins".into());
    let case = GrantCase {
        live_role: Some(unlabelled(our_role())),
        others: RbacObjects {
            cluster_role_bindings: vec![admin_binding],
            ..Default::default()
        },
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_foreign_role", grant_decision(&case));
    let case = GrantCase {
        live_binding: Some(unlabelled(our_binding(&["team-devs"]))),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_foreign_binding", grant_decision(&case));
}

#[test]
fn grant_adds_its_group_to_a_shared_binding() {
    let case = GrantCase {
        live_role: Some(our_role()),
        live_binding: Some(our_binding(&["first-readers"])),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_shared_group", grant_decision(&case));
}

#[test]
fn grant_leaves_the_node_entry_alone() {
    let case = GrantCase {
        mapping: MappingSeen::AwsAuth(aws_auth(NODES, None)),
        ..GrantCase::fresh()
    };
    let decision = grant_decision(&case);
    if let Decision::Planned { plan, .. } = &decision {
        let after = plan.aws_auth().and_then(|e| e.after.clone()).unwrap();
        assert!(
            after.starts_with(NODES),
            "the node entry is kept as it was:\n{after}"
        );
    }
    insta::assert_yaml_snapshot!("grant_node_entry", decision);
    // --force-update never replaces a node mapping, even of this very role.
    let node_is_ours = NODES.replace("role/nodes", "role/scanner");
    let case = GrantCase {
        force_update: true,
        mapping: MappingSeen::AwsAuth(aws_auth(&node_is_ours, None)),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_node_entry_force_update", grant_decision(&case));
}

#[test]
fn grant_refuses_a_conflicting_entry_unless_forced() {
    let elsewhere = OURS.replace("chronomReadOnlyGroup", "team-admins");
    let case = GrantCase {
        mapping: MappingSeen::AwsAuth(aws_auth(&elsewhere, None)),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_conflicting_entry", grant_decision(&case));
    let case = GrantCase {
        force_update: true,
        ..case
    };
    insta::assert_yaml_snapshot!(
        "grant_conflicting_entry_force_update",
        grant_decision(&case)
    );
}

#[test]
fn grant_refuses_an_unreadable_map_roles() {
    let case = GrantCase {
        mapping: MappingSeen::AwsAuth(aws_auth("- rolearn: [unclosed\n", None)),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_unreadable_map_roles", grant_decision(&case));
}

#[test]
fn grant_refuses_when_the_group_already_holds_more() {
    let mut admin = unlabelled(ro::cluster_role_binding(
        "admins",
        "cluster-admin",
        GROUP,
        &prov(),
    ));
    admin.metadata.name = Some("admins".into());
    let mut cluster_admin = ClusterRole::default();
    cluster_admin.metadata.name = Some("cluster-admin".into());
    cluster_admin.rules = Some(vec![PolicyRule {
        api_groups: Some(vec!["*".into()]),
        resources: Some(vec!["*".into()]),
        verbs: vec!["*".into()],
        ..Default::default()
    }]);
    let case = GrantCase {
        others: RbacObjects {
            cluster_roles: vec![cluster_admin],
            cluster_role_bindings: vec![admin],
            ..Default::default()
        },
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_inherited_access", grant_decision(&case));
}

#[test]
fn grant_refuses_a_profile_change() {
    let wildcard = ro::cluster_role(
        NAME,
        RoleProfile::Wildcard,
        ro::profile_rules(RoleProfile::Wildcard, &served()),
        &prov(),
    );
    let case = GrantCase {
        live_role: Some(wildcard),
        live_binding: Some(our_binding(&["wildcard-readers"])),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_profile_change", grant_decision(&case));
}

/// Access-entry modes: API and API_AND_CONFIG_MAP map through the access entry (`--via auto`
/// chooses it there), CONFIG_MAP through aws-auth (the fresh-cluster case above).
#[test]
fn grant_through_an_access_entry() {
    let seen = |action, previous| AccessEntrySeen {
        cluster: "prod".into(),
        principal_arn: ROLE.into(),
        action,
        previous,
        notes: vec![],
    };
    let api = GrantCase {
        mapping: MappingSeen::AccessEntry(seen(Action::Created, None)),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!("grant_access_entry_api_created", grant_decision(&api));
    let both = GrantCase {
        force_update: true,
        live_role: Some(our_role()),
        live_binding: Some(our_binding(&[GROUP])),
        mapping: MappingSeen::AccessEntry(seen(
            Action::Updated,
            Some(PreviousEntry {
                username: "someone".into(),
                kubernetes_groups: vec!["team".into()],
            }),
        )),
        ..GrantCase::fresh()
    };
    insta::assert_yaml_snapshot!(
        "grant_access_entry_api_and_config_map_updated",
        grant_decision(&both)
    );
}

/// What a revoke's observation holds, owned.
struct RevokeCase {
    force: bool,
    aws_auth: Option<AwsAuthSeen>,
    entries: Option<AccessEntriesSeen>,
    live_role: Option<ClusterRole>,
    live_binding: Option<ClusterRoleBinding>,
    others: Vec<ClusterRoleBinding>,
}

impl RevokeCase {
    fn granted(binding_groups: &[&str]) -> Self {
        RevokeCase {
            force: false,
            aws_auth: Some(aws_auth(&format!("{NODES}{OURS}"), None)),
            entries: None,
            live_role: Some(our_role()),
            live_binding: Some(our_binding(binding_groups)),
            others: vec![],
        }
    }

    fn plan(&self) -> Result<RevokePlan, super::refusal::Refusal> {
        let request = RevokeRequest {
            role: arn::parse_role_arn(ROLE).unwrap(),
            username: "scanner".into(),
            group: GROUP.into(),
            role_name: NAME.into(),
            keep_rbac: false,
            force: self.force,
        };
        let mut all = self.others.clone();
        all.extend(self.live_binding.clone());
        plan_revoke(&RevokeObservation {
            request: &request,
            aws_auth: self.aws_auth.as_ref(),
            access_entries: self.entries.as_ref(),
            live_role: self.live_role.as_ref(),
            live_binding: self.live_binding.as_ref(),
            all_bindings: Some(&all),
        })
    }
}

fn revoke_decision(case: &RevokeCase) -> Decision<RevokePlan> {
    match case.plan() {
        Ok(plan) => Decision::Planned {
            report: Box::new(plan.report()),
            plan: Box::new(plan),
            rollback: vec![],
        },
        Err(r) => Decision::Refused {
            what: r.what(),
            next: r.next(),
        },
    }
}

#[test]
fn revoke_of_the_last_subject_removes_everything() {
    insta::assert_yaml_snapshot!(
        "revoke_last_subject",
        revoke_decision(&RevokeCase::granted(&[GROUP]))
    );
}

#[test]
fn revoke_of_a_shared_binding_removes_only_its_group() {
    insta::assert_yaml_snapshot!(
        "revoke_shared_binding",
        revoke_decision(&RevokeCase::granted(&[GROUP, "other-readers"]))
    );
}

#[test]
fn revoke_keeps_the_rbac_of_a_group_mapped_elsewhere() {
    let user = "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups:\n  - chronomReadOnlyGroup\n";
    let case = RevokeCase {
        aws_auth: Some(aws_auth(OURS, Some(user))),
        ..RevokeCase::granted(&[GROUP])
    };
    insta::assert_yaml_snapshot!("revoke_group_still_mapped", revoke_decision(&case));
}

#[test]
fn revoke_refuses_a_foreign_entry_unless_forced_and_never_a_node_entry() {
    let foreign = OURS.replace("username: scanner", "username: someone-else");
    let case = RevokeCase {
        aws_auth: Some(aws_auth(&foreign, None)),
        ..RevokeCase::granted(&[GROUP])
    };
    insta::assert_yaml_snapshot!("revoke_foreign_entry", revoke_decision(&case));
    let forced = RevokeCase {
        force: true,
        ..case
    };
    insta::assert_yaml_snapshot!("revoke_foreign_entry_forced", revoke_decision(&forced));
    let node_is_ours = NODES.replace("role/nodes", "role/scanner");
    let node = RevokeCase {
        force: true,
        aws_auth: Some(aws_auth(&node_is_ours, None)),
        ..RevokeCase::granted(&[GROUP])
    };
    insta::assert_yaml_snapshot!("revoke_node_entry_forced", revoke_decision(&node));
}

#[test]
fn revoke_with_nothing_there_does_nothing() {
    let case = RevokeCase {
        aws_auth: Some(aws_auth(NODES, None)),
        live_role: None,
        live_binding: None,
        ..RevokeCase::granted(&[])
    };
    insta::assert_yaml_snapshot!("revoke_nothing_to_do", revoke_decision(&case));
}

#[test]
fn revoke_in_api_mode_deletes_the_access_entry_and_leaves_aws_auth_unread() {
    let case = RevokeCase {
        aws_auth: None,
        entries: Some(AccessEntriesSeen {
            cluster: "prod".into(),
            entry: Some(ROLE.into()),
            group_still_mapped: false,
            notes: vec![],
        }),
        ..RevokeCase::granted(&[GROUP])
    };
    insta::assert_yaml_snapshot!("revoke_access_entry_api", revoke_decision(&case));
}
