//! `audit --verify` asks the live authorizer one set of questions per class of mappings whose
//! answers are provably identical, not one per mapping: most mappings of a large aws-auth share
//! a team group, and a username that no binding names answers like its groups.
//!
//! A SubjectAccessReview is answered from `spec.user` and `spec.groups` alone (the flow sends
//! nothing else). The authorizers that read them are the privileged-group bypass (groups
//! only), the Node authorizer (`system:node:<name>` in `system:nodes`) and RBAC, which matches
//! a User subject by name, a ServiceAccount subject by the `system:serviceaccount:` username it
//! spells, and a Group subject by group. So two identities with the same group set get the
//! same answers when neither username is named by any binding (`RbacSnapshot::names_user`) and
//! neither is a reserved `system:` name (node, ServiceAccount, anonymous identities). Any other
//! identity is its own class, shared only with identities equal to it. Every mapping still gets
//! its verdict: the flow compares the evaluator's answer for each member with its class's
//! server answer.

use std::collections::{BTreeSet, HashMap};

use crate::rbac::{Identity, RbacSnapshot};

/// Mappings whose live answers are identical, asked once through `identity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewClass {
    /// The identity the reviews are asked for: the first member's.
    pub identity: Identity,
    /// Positions, in the input, of every identity these answers stand for, in order.
    pub members: Vec<usize>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum ClassKey {
    /// Reached through its groups only: any such username answers alike.
    Groups(BTreeSet<String>),
    /// Reached through its username too: only the same username answers alike.
    Exact(String, BTreeSet<String>),
}

/// Whether nothing but its groups can decide this identity's answers.
pub fn answers_by_groups_alone(identity: &Identity, snapshot: &RbacSnapshot) -> bool {
    !identity.user.is_empty()
        && !identity.user.starts_with("system:")
        && identity.service_account.is_none()
        && !snapshot.names_user(&identity.user)
}

/// The identities partitioned into classes, in order of each class's first member.
pub fn review_classes(identities: &[Identity], snapshot: &RbacSnapshot) -> Vec<ReviewClass> {
    let mut classes: Vec<ReviewClass> = Vec::new();
    let mut by_key: HashMap<ClassKey, usize> = HashMap::new();
    for (i, id) in identities.iter().enumerate() {
        let groups: BTreeSet<String> = id.groups.iter().cloned().collect();
        let key = if answers_by_groups_alone(id, snapshot) {
            ClassKey::Groups(groups)
        } else {
            ClassKey::Exact(id.user.clone(), groups)
        };
        match by_key.get(&key) {
            Some(&c) => classes[c].members.push(i),
            None => {
                by_key.insert(key, classes.len());
                classes.push(ReviewClass {
                    identity: id.clone(),
                    members: vec![i],
                });
            }
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::RuleSource;
    use crate::rbac::fixture::*;

    fn snapshot() -> RbacSnapshot {
        RbacSnapshot::new(
            crate::rbac::RbacObjects {
                cluster_roles: vec![cluster_role(
                    "view",
                    vec![rule(&["list"], &[""], &["pods"], &[])],
                )],
                cluster_role_bindings: vec![crb(
                    "b",
                    "view",
                    vec![group("team-a"), user("alice"), sa(Some("ns"), "app")],
                )],
                ..Default::default()
            },
            RuleSource::AsStored,
        )
    }

    fn members(classes: &[ReviewClass]) -> Vec<Vec<usize>> {
        classes.iter().map(|c| c.members.clone()).collect()
    }

    #[test]
    fn unnamed_usernames_with_the_same_groups_share_a_class() {
        let ids = [
            Identity::user("team-a-dev:1", &["team-a"]),
            Identity::user("team-b-dev:1", &["team-b"]),
            Identity::user("team-a-dev:2", &["team-a"]),
            // The same set in another order.
            Identity::user("bob", &["system:authenticated", "team-a"]),
        ];
        let classes = review_classes(&ids, &snapshot());
        assert_eq!(members(&classes), vec![vec![0, 2, 3], vec![1]]);
        assert_eq!(classes[0].identity, ids[0]);
    }

    #[test]
    fn a_username_a_binding_names_is_its_own_class() {
        let ids = [
            Identity::user("team-a-dev:1", &["team-a"]),
            Identity::user("alice", &["team-a"]),
            Identity::user("alice", &["team-a"]),
            Identity::user("alice", &["team-b"]),
        ];
        assert_eq!(
            members(&review_classes(&ids, &snapshot())),
            vec![vec![0], vec![1, 2], vec![3]]
        );
    }

    #[test]
    fn reserved_usernames_are_never_grouped_by_their_groups() {
        let ids = [
            Identity::user("system:node:ip-10-0-0-1", &["system:nodes"]),
            Identity::user("system:node:ip-10-0-0-2", &["system:nodes"]),
            Identity::user("system:serviceaccount:ns:app", &["team-a"]),
            Identity::user("system:serviceaccount:ns:other", &["team-a"]),
            Identity::user("system:anonymous", &["team-a"]),
            Identity::user("", &["team-a"]),
            Identity::user("plain", &["team-a"]),
        ];
        assert_eq!(
            members(&review_classes(&ids, &snapshot())),
            (0..7).map(|i| vec![i]).collect::<Vec<_>>()
        );
    }

    /// Every identity is in exactly one class, and a class's members answer every question
    /// alike in the evaluator: the partition never hides a verdict.
    #[test]
    fn every_identity_is_in_one_class_whose_members_answer_alike() {
        let s = snapshot();
        let users = ["team-a-dev:1", "alice", "carol", "system:node:n", "x"];
        let group_sets: [&[&str]; 4] = [&["team-a"], &["team-b"], &["team-a", "team-b"], &[]];
        let ids: Vec<Identity> = users
            .iter()
            .flat_map(|u| group_sets.iter().map(move |g| Identity::user(u, g)))
            .collect();
        let classes = review_classes(&ids, &s);
        let mut seen: Vec<usize> = classes.iter().flat_map(|c| c.members.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..ids.len()).collect::<Vec<_>>());
        for c in &classes {
            for q in crate::audit::questions::questions() {
                let first = s.allows(&c.identity, &q).allowed;
                for &m in &c.members {
                    assert_eq!(s.allows(&ids[m], &q).allowed, first, "{:?} {q:?}", ids[m]);
                }
            }
        }
        assert!(classes.len() < ids.len(), "nothing was grouped");
    }
}
