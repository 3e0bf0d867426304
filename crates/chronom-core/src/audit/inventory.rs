//! Every identity mapping in aws-auth, read the way aws-iam-authenticator reads it.
//!
//! Pure: ConfigMap data in, mappings out. The mappings come from the lenient reader
//! ([`awsauth::read_map_roles`]), so YAML the strict editor refuses (anchors, aliases, merge
//! keys, tabs, a second document) cannot hide a mapping from the audit. A section the
//! authenticator itself cannot read is reported with its line and column (it drops that whole
//! section); a section it reads but the strict editor refuses is reported as not editable.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::awsauth::{self, EntryNote, SsoMatcher};
use crate::eks::access_entry::EntryWithPolicies;
use crate::eks::access_policies::Association;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum MappingSource {
    #[serde(rename = "aws-auth/mapRoles")]
    MapRoles,
    #[serde(rename = "aws-auth/mapUsers")]
    MapUsers,
    #[serde(rename = "aws-auth/mapAccounts")]
    MapAccounts,
    /// EKS access entries (added by the EKS-native work; listed here so the schema has room).
    #[serde(rename = "access-entry")]
    AccessEntry,
}

impl MappingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingSource::MapRoles => "mapRoles",
            MappingSource::MapUsers => "mapUsers",
            MappingSource::MapAccounts => "mapAccounts",
            MappingSource::AccessEntry => "access-entry",
        }
    }
}

/// One IAM principal (or account) mapped to a Kubernetes username and groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    pub source: MappingSource,
    /// The rolearn / userarn / account as written (or the sso pattern).
    pub principal: String,
    /// The username template as written; mapAccounts callers use their own ARN.
    pub username: String,
    pub groups: Vec<String>,
    /// 1-based line of the entry in its section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoMatcher>,
    /// Whether the authenticator uses this entry: false when it is rejected, can never match,
    /// or is shadowed by a later entry for the same ARN.
    pub active: bool,
    /// `active`, `rejected`, `never-matches` or `shadowed`; with an EKS cluster also `ignored`
    /// (aws-auth under authenticationMode API) and `overridden` (an access entry for the same
    /// principal wins over the aws-auth entry).
    pub state: &'static str,
    /// Line of the later entry that wins over this one (the authenticator's last-wins rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadowed_by_line: Option<usize>,
    /// How the authenticator reads this entry differently from how it looks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The entry's notes include something that makes the authenticator reject it.
    #[serde(skip)]
    pub rejected: bool,
    /// EKS access policies associated with an access entry (source `access-entry` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_policies: Vec<Association>,
}

/// A section the authenticator cannot read at all, so every entry in it is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionError {
    pub section: &'static str,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    pub mappings: Vec<Mapping>,
    pub section_errors: Vec<SectionError>,
    /// Sections the authenticator reads but the strict editor refuses: grant and revoke
    /// cannot change aws-auth until they are rewritten. Reported as CHR029; only
    /// [`for_audit`] fills it.
    #[serde(skip)]
    pub not_editable: Vec<SectionError>,
}

/// Every mapping aws-auth's data puts in effect, as aws-iam-authenticator reads it, and the
/// sections it cannot read (empty data: a cluster without aws-auth).
pub fn from_aws_auth(data: &BTreeMap<String, String>) -> Inventory {
    let mut inv = Inventory::default();
    let text = |k: &str| data.get(k).map(String::as_str).unwrap_or("");

    let roles = awsauth::read_map_roles(text("mapRoles"));
    let mut mappings: Vec<Mapping> = roles
        .entries
        .iter()
        .map(|e| {
            let principal = if e.rolearn.is_empty() {
                sso_pattern(e.sso.as_ref())
            } else {
                e.rolearn.clone()
            };
            let mut m = entry_mapping(
                MappingSource::MapRoles,
                principal,
                e.username.as_deref(),
                &e.groups,
                e.line,
                &e.notes,
                e.is_dropped(),
            );
            m.userid = e.userid.clone();
            m.sso = e.sso.clone();
            m
        })
        .collect();
    mark_shadowed(&mut mappings, |p| p.to_lowercase());
    inv.mappings.extend(mappings);
    if let Some(e) = roles.error {
        inv.section_errors.push(section_error("mapRoles", e));
    }

    let users = awsauth::read_map_users(text("mapUsers"));
    let mut mappings: Vec<Mapping> = users
        .entries
        .iter()
        .map(|e| {
            let mut m = entry_mapping(
                MappingSource::MapUsers,
                e.userarn.clone(),
                e.username.as_deref(),
                &e.groups,
                e.line,
                &e.notes,
                e.is_dropped(),
            );
            m.userid = e.userid.clone();
            m
        })
        .collect();
    // Users are keyed as written but matched case-insensitively, so case variants collide too.
    mark_shadowed(&mut mappings, |p| p.to_lowercase());
    inv.mappings.extend(mappings);
    if let Some(e) = users.error {
        inv.section_errors.push(section_error("mapUsers", e));
    }

    let accounts = awsauth::read_map_accounts(text("mapAccounts"));
    inv.mappings.extend(accounts.entries.iter().map(|a| {
        let rejected = !a.notes.is_empty();
        Mapping {
            source: MappingSource::MapAccounts,
            principal: a.account.clone(),
            username: "(the caller's ARN)".into(),
            groups: vec![],
            line: Some(a.line),
            userid: None,
            sso: None,
            active: !rejected,
            state: if rejected { "rejected" } else { "active" },
            shadowed_by_line: None,
            notes: a.notes.iter().map(|n| n.to_string()).collect(),
            rejected,
            access_policies: vec![],
        }
    }));
    if let Some(e) = accounts.error {
        inv.section_errors.push(section_error("mapAccounts", e));
    }
    inv
}

/// [`from_aws_auth`], and the sections the authenticator reads but the strict editor refuses
/// (CHR029: grant and revoke cannot edit aws-auth until they are rewritten): the audit's
/// inventory. Questions about who is mapped need only [`from_aws_auth`].
pub fn for_audit(data: &BTreeMap<String, String>) -> Inventory {
    let mut inv = from_aws_auth(data);
    for section in ["mapRoles", "mapUsers", "mapAccounts"] {
        if inv.section_errors.iter().any(|e| e.section == section) {
            continue;
        }
        let text = data.get(section).map(String::as_str).unwrap_or("");
        if let Err(e) = awsauth::check_editable(text) {
            inv.not_editable.push(section_error(section, e));
        }
    }
    inv
}

/// Every EKS access entry as a mapping. `active` is false when the cluster's authentication
/// mode does not read access entries.
pub fn from_access_entries(entries: &[EntryWithPolicies], active: bool) -> Vec<Mapping> {
    entries
        .iter()
        .map(|e| {
            let mut groups = e.entry.kubernetes_groups.clone();
            let implicit = e.entry.implicit_groups();
            let mut notes = Vec::new();
            if !implicit.is_empty() {
                notes.push(format!(
                    "type {}: EKS adds groups {}",
                    e.entry.entry_type,
                    implicit.join(", ")
                ));
                groups.extend(
                    implicit
                        .iter()
                        .filter(|g| !groups.contains(&g.to_string()))
                        .map(|g| g.to_string())
                        .collect::<Vec<_>>(),
                );
            }
            for p in e.policies.iter().filter(|p| !p.modelled) {
                notes.push(format!(
                    "access policy {} is not modelled: its rights are not in this report",
                    p.policy
                ));
            }
            for p in e.policies.iter().filter(|p| p.approximated) {
                notes.push(format!(
                    "access policy {}: the EKS docs describe it in prose only; its rights here are our reading of that prose, widened where it is vague, so they may be more than EKS grants",
                    p.policy
                ));
            }
            Mapping {
                source: MappingSource::AccessEntry,
                principal: e.entry.principal_arn.clone(),
                username: e.entry.username.clone(),
                groups,
                line: None,
                userid: None,
                sso: None,
                active,
                state: if active { "active" } else { "ignored" },
                shadowed_by_line: None,
                notes,
                rejected: false,
                access_policies: e.policies.clone(),
            }
        })
        .collect()
}

/// A mapRoles or mapUsers entry as a mapping; the caller adds what only its section has.
fn entry_mapping(
    source: MappingSource,
    principal: String,
    username: Option<&str>,
    groups: &[String],
    line: usize,
    notes: &[EntryNote],
    dropped: bool,
) -> Mapping {
    Mapping {
        source,
        principal,
        username: username.unwrap_or_default().to_string(),
        groups: groups.to_vec(),
        line: Some(line),
        userid: None,
        sso: None,
        active: !dropped && !never_matches(notes),
        state: state_of(dropped, notes),
        shadowed_by_line: None,
        notes: notes.iter().map(|n| n.to_string()).collect(),
        rejected: dropped,
        access_policies: vec![],
    }
}

fn never_matches(notes: &[EntryNote]) -> bool {
    notes.iter().any(|n| {
        matches!(
            n,
            EntryNote::UnusableArn { .. } | EntryNote::SsoPartitionNeverMatches { .. }
        )
    })
}

fn state_of(dropped: bool, notes: &[EntryNote]) -> &'static str {
    if dropped {
        "rejected"
    } else if never_matches(notes) {
        "never-matches"
    } else {
        "active"
    }
}

fn sso_pattern(sso: Option<&SsoMatcher>) -> String {
    match sso {
        // aws-iam-authenticator's SSO matcher: the partition defaults to aws.
        Some(s) => format!(
            "arn:{}:iam::{}:role/AWSReservedSSO_{}_*",
            if s.partition.is_empty() {
                "aws"
            } else {
                &s.partition
            },
            s.account_id,
            s.permission_set_name
        ),
        None => String::new(),
    }
}

fn section_error(section: &'static str, e: awsauth::ParseError) -> SectionError {
    SectionError {
        section,
        line: e.line,
        column: e.column,
        message: e.message,
    }
}

/// The authenticator keeps the last valid entry per ARN; mark the earlier ones.
fn mark_shadowed(mappings: &mut [Mapping], key: impl Fn(&str) -> String) {
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in mappings.iter().enumerate() {
        if m.active && !m.principal.is_empty() {
            last.insert(key(&m.principal), i);
        }
    }
    for i in 0..mappings.len() {
        if !mappings[i].active || mappings[i].principal.is_empty() {
            continue;
        }
        let winner = last[&key(&mappings[i].principal)];
        if winner != i {
            mappings[i].shadowed_by_line = mappings[winner].line;
            mappings[i].active = false;
            mappings[i].state = "shadowed";
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sso_matcher_is_named_in_its_partition() {
        let sso = |partition: &str| SsoMatcher {
            permission_set_name: "Admin".into(),
            account_id: "111122223333".into(),
            partition: partition.into(),
        };
        assert_eq!(
            sso_pattern(Some(&sso(""))),
            "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_*"
        );
        assert_eq!(
            sso_pattern(Some(&sso("aws-us-gov"))),
            "arn:aws-us-gov:iam::111122223333:role/AWSReservedSSO_Admin_*"
        );
    }

    fn data(roles: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("mapRoles".into(), roles.into())])
    }

    #[test]
    fn last_duplicate_wins_case_insensitively() {
        let inv = from_aws_auth(&data(
            "- rolearn: arn:aws:iam::111122223333:role/a\n  username: first\n  groups: [g1]\n- rolearn: arn:aws:iam::111122223333:role/A\n  username: second\n  groups: [g2]\n",
        ));
        assert_eq!(inv.mappings.len(), 2);
        assert!(!inv.mappings[0].active);
        assert_eq!(inv.mappings[0].shadowed_by_line, Some(4));
        assert!(inv.mappings[1].active);
    }

    #[test]
    fn unparseable_section_is_reported_and_others_survive() {
        let mut d = data("- rolearn: [oops\n");
        d.insert(
            "mapUsers".into(),
            "- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [g]\n"
                .into(),
        );
        let inv = from_aws_auth(&d);
        assert_eq!(inv.section_errors.len(), 1);
        assert_eq!(inv.section_errors[0].section, "mapRoles");
        assert!(inv.section_errors[0].line >= 1);
        assert_eq!(inv.mappings.len(), 1);
        assert_eq!(inv.mappings[0].source, MappingSource::MapUsers);
    }

    #[test]
    fn accounts_map_every_principal_with_no_groups() {
        let inv = from_aws_auth(&BTreeMap::from([(
            "mapAccounts".to_string(),
            "- \"444455556666\"\n".to_string(),
        )]));
        assert_eq!(inv.mappings.len(), 1);
        assert_eq!(inv.mappings[0].principal, "444455556666");
        assert!(inv.mappings[0].groups.is_empty() && inv.mappings[0].active);
    }

    #[test]
    fn yaml_the_editor_refuses_still_yields_every_mapping() {
        let inv = for_audit(&data(
            "- &n\n  rolearn: arn:aws:iam::111122223333:role/node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n- <<: *n\n  rolearn:\tarn:aws:iam::111122223333:role/other\n",
        ));
        assert!(inv.section_errors.is_empty(), "{:?}", inv.section_errors);
        assert_eq!(inv.not_editable.len(), 1);
        assert_eq!(inv.not_editable[0].section, "mapRoles");
        let principals: Vec<&str> = inv.mappings.iter().map(|m| m.principal.as_str()).collect();
        assert_eq!(
            principals,
            [
                "arn:aws:iam::111122223333:role/node",
                "arn:aws:iam::111122223333:role/other"
            ]
        );
        assert_eq!(inv.mappings[1].groups, ["system:nodes"]);
        assert_eq!(inv.mappings[1].line, Some(5));
    }
}
