//! Access entries as a mapping source for `audit who-can` and `audit lookup`: an ARN mapped by
//! an access entry resolves to the entry's username, kubernetesGroups and access policies, and
//! aws-auth entries count only as the cluster's authentication mode says. Reading the EKS side
//! is the binary's `eks::mapping_source::add_from`.

use super::access_entry::EntryWithPolicies;
use super::access_policies;
use super::posture::ClusterFacts;
use crate::audit::inventory::Mapping;
use crate::mapping;
use crate::rbac::RbacObjects;

/// Add the EKS side to the queries' inputs:
/// - aws-auth mappings and access entries count as [`mapping::resolve`] says (the audit report
///   follows the same rule);
/// - each access entry becomes a mapping; with modelled access policies, their stand-in RBAC
///   objects go into `objects`, bound to a group the mapping lists, so that who-can names the
///   principal behind access-policy rights and lookup shows them.
pub fn add(
    mappings: &mut Vec<Mapping>,
    objects: &mut RbacObjects,
    cluster: &ClusterFacts,
    entries: &[EntryWithPolicies],
) {
    let mut entry_mappings = mapping::resolve(cluster.auth_mode(), mappings, entries).entries;
    for e in entry_mappings.iter_mut() {
        if e.access_policies.iter().any(|p| p.modelled) {
            access_policies::add_to(objects, &e.principal, &e.access_policies);
            e.groups.push(access_policies::entry_group(&e.principal));
        }
    }
    mappings.extend(entry_mappings);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::answers::{self, LookupTarget};
    use crate::audit::inventory::{self, MappingSource};
    use crate::eks::access_entry::AccessEntryView;
    use crate::eks::access_policies::{Association, PolicyScope};
    use crate::rbac::{QueryScope, RbacSnapshot, Request, ResourceCatalog, RuleSource};

    const VIEWER: &str = "arn:aws:iam::111122223333:role/team/viewer";
    const ADMIN: &str = "arn:aws:iam::111122223333:role/admin";

    fn entry(
        arn: &str,
        username: &str,
        groups: &[&str],
        policy: Option<(&str, PolicyScope)>,
    ) -> EntryWithPolicies {
        EntryWithPolicies {
            entry: AccessEntryView {
                principal_arn: arn.into(),
                username: username.into(),
                kubernetes_groups: groups.iter().map(|g| g.to_string()).collect(),
                entry_type: "STANDARD".into(),
                access_entry_arn: None,
                created_at: None,
                created_at_epoch: None,
                tags: Default::default(),
            },
            policies: policy
                .into_iter()
                .map(|(p, scope)| {
                    Association::new(
                        &format!("arn:aws:eks::aws:cluster-access-policy/{p}"),
                        scope,
                    )
                })
                .collect(),
        }
    }

    fn cluster(mode: &str) -> ClusterFacts {
        ClusterFacts {
            name: "prod".into(),
            authentication_mode: Some(mode.into()),
            ..Default::default()
        }
    }

    /// aws-auth maps the admin role to system:masters; entries map the viewer (view policy in
    /// `team`) and, in some tests, the admin role again.
    fn inputs(mode: &str, with_admin_entry: bool) -> (Vec<Mapping>, RbacSnapshot) {
        let aws_auth = std::collections::BTreeMap::from([(
            "mapRoles".to_string(),
            format!("- rolearn: {ADMIN}\n  username: admin\n  groups: [system:masters]\n"),
        )]);
        let mut mappings = inventory::from_aws_auth(&aws_auth).mappings;
        let mut entries = vec![entry(
            VIEWER,
            "viewer",
            &[],
            Some((
                "AmazonEKSViewPolicy",
                PolicyScope::Namespace {
                    namespaces: vec!["team".into()],
                },
            )),
        )];
        if with_admin_entry {
            entries.push(entry(ADMIN, "admin-entry", &["readers"], None));
        }
        let mut objects = RbacObjects::default();
        add(&mut mappings, &mut objects, &cluster(mode), &entries);
        (mappings, RbacSnapshot::new(objects, RuleSource::AsStored))
    }

    fn who_can(
        snapshot: &RbacSnapshot,
        mappings: &[Mapping],
        verb: &str,
        resource: &str,
        ns: &str,
    ) -> Vec<answers::WhoCanAnswer> {
        let mut request =
            crate::rbac::parse_verb_target(verb, resource, &ResourceCatalog::builtin()).unwrap();
        if let Request::Resource(r) = &mut request {
            r.namespace = Some(ns.into());
        }
        answers::answer_who_can(
            snapshot,
            mappings,
            &request,
            &QueryScope::Namespace(ns.into()),
        )
    }

    #[test]
    fn who_can_names_the_principal_behind_an_access_policy() {
        let (mappings, snapshot) = inputs("API_AND_CONFIG_MAP", false);
        let rows = who_can(&snapshot, &mappings, "list", "pods", "team");
        let via_policy: Vec<_> = rows.iter().filter(|r| r.principals == [VIEWER]).collect();
        assert_eq!(via_policy.len(), 1, "{rows:#?}");
        assert!(
            via_policy[0].via.contains("AmazonEKSViewPolicy"),
            "{:?}",
            via_policy[0]
        );
        // The view policy is namespaced to `team`, and excludes secrets.
        assert!(
            who_can(&snapshot, &mappings, "list", "pods", "other")
                .iter()
                .all(|r| r.principals != [VIEWER])
        );
        assert!(
            who_can(&snapshot, &mappings, "get", "secrets", "team")
                .iter()
                .all(|r| r.principals != [VIEWER])
        );
        // aws-auth still counts in API_AND_CONFIG_MAP: the admin is behind system:masters.
        assert!(
            rows.iter()
                .any(|r| r.principals == [ADMIN] && r.via.starts_with("system:masters")),
            "{rows:#?}"
        );
    }

    #[test]
    fn in_api_mode_aws_auth_counts_for_nothing() {
        let (mappings, snapshot) = inputs("API", false);
        let admin = mappings
            .iter()
            .find(|m| m.source == MappingSource::MapRoles)
            .unwrap();
        assert_eq!((admin.active, admin.state), (false, "ignored"));
        let rows = who_can(&snapshot, &mappings, "list", "pods", "team");
        assert!(
            rows.iter()
                .all(|r| !r.principals.iter().any(|p| p == ADMIN)),
            "{rows:#?}"
        );
        assert!(rows.iter().any(|r| r.principals == [VIEWER]));
    }

    #[test]
    fn an_access_entry_overrides_the_aws_auth_entry_of_the_same_role() {
        let (mappings, _) = inputs("API_AND_CONFIG_MAP", true);
        let aws_auth = mappings
            .iter()
            .find(|m| m.source == MappingSource::MapRoles)
            .unwrap();
        assert_eq!((aws_auth.active, aws_auth.state), (false, "overridden"));
        // CONFIG_MAP: entries are not read, aws-auth stays.
        let (mappings, _) = inputs("CONFIG_MAP", true);
        assert!(
            mappings
                .iter()
                .find(|m| m.source == MappingSource::MapRoles)
                .unwrap()
                .active
        );
        assert!(
            mappings
                .iter()
                .filter(|m| m.source == MappingSource::AccessEntry)
                .all(|m| !m.active)
        );
    }

    #[test]
    fn lookup_resolves_an_arn_to_its_entry_with_policies() {
        let (mappings, snapshot) = inputs("API", true);
        // A session of the viewer role: the role's path is not in an assumed-role ARN.
        let targets = answers::lookup_targets(
            "arn:aws:sts::111122223333:assumed-role/viewer/alice",
            &mappings,
        )
        .unwrap();
        assert_eq!(targets.len(), 1);
        let LookupTarget::Mapped { identity, .. } = &targets[0].1 else {
            panic!("an identity")
        };
        assert_eq!(identity.user, "viewer");
        let rows = answers::answer_lookup(&snapshot, &targets);
        assert!(
            rows.iter()
                .any(|r| r.role.contains("AmazonEKSViewPolicy") && r.scope.contains("team")),
            "{rows:#?}"
        );
        assert!(rows.iter().all(|r| r.principal.as_deref() == Some(VIEWER)));
        // The admin role resolves to its entry (username admin-entry, group readers), not to
        // the ignored aws-auth entry.
        let targets = answers::lookup_targets(ADMIN, &mappings).unwrap();
        assert_eq!(targets.len(), 1);
        let LookupTarget::Mapped { identity, .. } = &targets[0].1 else {
            panic!("an identity")
        };
        assert_eq!(identity.user, "admin-entry");
        assert!(
            identity.groups.iter().any(|g| g == "readers")
                && !identity.groups.iter().any(|g| g == "system:masters"),
            "{identity:?}"
        );
    }

    /// A scope naming `dev-*` applies in every namespace starting with `dev-`, for who-can,
    /// lookup and the audit's findings alike; before, it was a RoleBinding in a namespace
    /// literally named `dev-*`, which no request ever names.
    #[test]
    fn a_wildcard_namespace_scope_applies_in_every_matching_namespace() {
        let scope = PolicyScope::Namespace {
            namespaces: vec!["dev-*".into()],
        };
        let entries = vec![entry(
            VIEWER,
            "viewer",
            &[],
            Some(("AmazonEKSEditPolicy", scope)),
        )];
        let mut mappings = Vec::new();
        let mut objects = RbacObjects::default();
        add(&mut mappings, &mut objects, &cluster("API"), &entries);
        let snapshot = RbacSnapshot::new(objects, RuleSource::AsStored);
        for ns in ["dev-x", "dev-team-a"] {
            let rows = who_can(&snapshot, &mappings, "create", "pods/exec", ns);
            assert!(
                rows.iter()
                    .any(|r| r.principals == [VIEWER] && r.scope == "dev-*"),
                "{ns}: {rows:#?}"
            );
        }
        for ns in ["dev", "prod", "staging-dev-x"] {
            assert!(
                who_can(&snapshot, &mappings, "create", "pods/exec", ns)
                    .iter()
                    .all(|r| r.principals != [VIEWER]),
                "{ns}"
            );
        }
        let targets = answers::lookup_targets(VIEWER, &mappings).unwrap();
        let rows = answers::answer_lookup(&snapshot, &targets);
        assert!(
            rows.iter()
                .any(|r| r.role.contains("AmazonEKSEditPolicy") && r.scope == "dev-*"),
            "{rows:#?}"
        );
    }
}
