//! Which mapping EKS uses for an IAM principal: the one precedence rule between aws-auth and
//! access entries, for the audit report and for `audit who-can` / `audit lookup` alike.
//!
//! aws-iam-authenticator asks its mappers in order and the first that maps the ARN wins
//! (`pkg/server/server.go`, doMapping); on EKS the access-entry mapper comes before aws-auth.
//! The EKS User Guide (migrating-access-entries) says it in user terms: in
//! `API_AND_CONFIG_MAP`, "access entries take precedence over ConfigMap entries for the same
//! IAM principal"; `API` does not read aws-auth; `CONFIG_MAP` (also a cluster that states no
//! mode) does not read access entries.

use crate::arn::{self, PrincipalArn};
use crate::audit::inventory::{self, Mapping, MappingSource};
use crate::eks::access_entry::EntryWithPolicies;
use crate::eks::posture::AuthMode;

/// The access entries as mappings, after the rule was applied to the aws-auth mappings.
#[derive(Debug)]
pub struct Resolved {
    /// One mapping per access entry, active only when the mode reads access entries.
    pub entries: Vec<Mapping>,
    /// How many active aws-auth mappings the mode ignores (`API`): state `ignored`.
    pub ignored: usize,
}

/// Apply the cluster's authentication mode (`None`: a mode this version does not know, read as
/// aws-auth only) to the aws-auth mappings and turn the access entries into mappings:
/// - an `API` cluster ignores every aws-auth mapping (state `ignored`);
/// - where access entries are read, an aws-auth mapping of the same principal as an entry is
///   `overridden`, with a note naming the entry.
pub fn resolve(
    mode: Option<AuthMode>,
    aws_auth: &mut [Mapping],
    entries: &[EntryWithPolicies],
) -> Resolved {
    let entries_read = mode.is_some_and(AuthMode::reads_access_entries);
    let mut ignored = 0;
    if !mode.is_none_or(AuthMode::reads_aws_auth) {
        for m in aws_auth.iter_mut().filter(|m| m.active) {
            m.active = false;
            m.state = "ignored";
            ignored += 1;
        }
    }
    let entry_mappings = inventory::from_access_entries(entries, entries_read);
    if entries_read {
        for e in &entry_mappings {
            for m in aws_auth
                .iter_mut()
                .filter(|m| m.active && same_principal(m, &e.principal))
            {
                m.active = false;
                m.state = "overridden";
                m.notes.push(format!(
                    "EKS uses the access entry for {} instead of this entry",
                    e.principal
                ));
            }
        }
    }
    Resolved {
        entries: entry_mappings,
        ignored,
    }
}

/// Does an aws-auth mapping name the IAM principal of the access entry for `entry_arn`?
/// mapRoles entries match the role whatever its path; mapUsers entries the user's ARN.
pub fn same_principal(aws_auth: &Mapping, entry_arn: &str) -> bool {
    match aws_auth.source {
        MappingSource::MapRoles => {
            arn::parse_role_arn(entry_arn).is_ok_and(|r| r.canonical.matches(&aws_auth.principal))
        }
        MappingSource::MapUsers => arn::go_equal_fold(&aws_auth.principal, entry_arn),
        _ => false,
    }
}

/// Does `principal` (the ARN a user asks about) authenticate through the access entry for
/// `entry_arn`? EKS binds an entry to the role's unique ID, so the role's sessions match it,
/// and so does the role's ARN with or without its path (role names are unique in an account).
pub fn entry_matches(principal: &PrincipalArn, entry_arn: &str) -> bool {
    match principal {
        PrincipalArn::Role { role, .. } | PrincipalArn::AssumedRole { role, .. } => {
            arn::parse_role_arn(entry_arn)
                .is_ok_and(|r| role.authenticator_matches(&r.canonical.to_string()))
        }
        PrincipalArn::User(u) => arn::go_equal_fold(&u.to_string(), entry_arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEWER: &str = "arn:aws:iam::111122223333:role/team/viewer";

    fn aws_auth(source: MappingSource, principal: &str) -> Mapping {
        Mapping {
            source,
            principal: principal.into(),
            username: "from-aws-auth".into(),
            groups: vec!["g".into()],
            line: Some(1),
            userid: None,
            sso: None,
            active: true,
            state: "active",
            shadowed_by_line: None,
            notes: vec![],
            rejected: false,
            access_policies: vec![],
        }
    }

    fn entry(arn: &str) -> EntryWithPolicies {
        EntryWithPolicies {
            entry: crate::eks::access_entry::AccessEntryView {
                principal_arn: arn.into(),
                username: "from-entry".into(),
                kubernetes_groups: vec!["g".into()],
                entry_type: "STANDARD".into(),
                access_entry_arn: None,
                created_at: None,
                created_at_epoch: None,
                tags: Default::default(),
            },
            policies: vec![],
        }
    }

    /// Every mode, with an aws-auth mapping of the entry's role (without its path), one of
    /// another role, and one of the account: (states of the three, entry active, ignored).
    #[test]
    fn each_mode_decides_as_eks_does() {
        let cases = [
            (None, ["active", "active", "active"], false, 0),
            (
                Some(AuthMode::ConfigMap),
                ["active", "active", "active"],
                false,
                0,
            ),
            (
                Some(AuthMode::ApiAndConfigMap),
                ["overridden", "active", "active"],
                true,
                0,
            ),
            (
                Some(AuthMode::Api),
                ["ignored", "ignored", "ignored"],
                true,
                3,
            ),
        ];
        for (mode, states, entry_active, ignored) in cases {
            let mut maps = vec![
                aws_auth(
                    MappingSource::MapRoles,
                    "arn:aws:iam::111122223333:role/viewer",
                ),
                aws_auth(
                    MappingSource::MapRoles,
                    "arn:aws:iam::111122223333:role/other",
                ),
                aws_auth(MappingSource::MapAccounts, "111122223333"),
            ];
            let r = resolve(mode, &mut maps, &[entry(VIEWER)]);
            let got: Vec<&str> = maps.iter().map(|m| m.state).collect();
            assert_eq!(got, states, "{mode:?}");
            assert!(maps.iter().all(|m| m.active == (m.state == "active")));
            assert_eq!(r.entries.len(), 1);
            assert_eq!(r.entries[0].active, entry_active, "{mode:?}");
            assert_eq!(r.ignored, ignored, "{mode:?}");
        }
    }

    #[test]
    fn an_overridden_mapping_names_the_entry_that_wins() {
        let mut maps = vec![aws_auth(
            MappingSource::MapRoles,
            "arn:aws:iam::111122223333:role/viewer",
        )];
        resolve(Some(AuthMode::ApiAndConfigMap), &mut maps, &[entry(VIEWER)]);
        assert_eq!(
            maps[0].notes,
            [format!(
                "EKS uses the access entry for {VIEWER} instead of this entry"
            )]
        );
    }

    #[test]
    fn entry_matching_follows_eks() {
        let p = |s: &str| arn::parse_principal_arn(s).unwrap();
        assert!(entry_matches(&p(VIEWER), VIEWER));
        assert!(
            entry_matches(&p("arn:aws:iam::111122223333:role/viewer"), VIEWER),
            "the same role without its path"
        );
        assert!(entry_matches(
            &p("arn:aws:sts::111122223333:assumed-role/viewer/session-1"),
            VIEWER
        ));
        assert!(!entry_matches(
            &p("arn:aws:iam::111122223333:role/other"),
            VIEWER
        ));
        assert!(
            !entry_matches(&p("arn:aws:iam::444455556666:role/viewer"), VIEWER),
            "another account"
        );
        assert!(entry_matches(
            &p("arn:aws:iam::111122223333:user/bob"),
            "arn:aws:iam::111122223333:user/bob"
        ));
        assert!(!entry_matches(
            &p("arn:aws:iam::111122223333:user/bob"),
            VIEWER
        ));
    }
}
