//! Which usernames a mapping produces: its username template, rendered the way
//! aws-iam-authenticator renders it for the callers it maps. who-can, lookup, the findings and
//! the report all ask this one question here.

use super::inventory::{Mapping, MappingSource};
use crate::awsauth::template::{self, Caller, Session};
use crate::rbac::RbacSnapshot;

/// The callers a mapping lets in, as far as rendering its username goes: the account its
/// principal names, and sessions of a role (mapRoles, a role's access entry) or none (a user).
pub fn caller_of<'a>(m: &'a Mapping, session_name: Option<&'a str>) -> Caller<'a> {
    let account_id = m
        .principal
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    let is_user = match m.source {
        MappingSource::MapUsers => true,
        MappingSource::AccessEntry => m.principal.contains(":user/"),
        MappingSource::MapRoles | MappingSource::MapAccounts => false,
    };
    let session = match (is_user, session_name) {
        (true, _) => Session::None,
        (false, Some(name)) => Session::Named(name),
        (false, None) => Session::Any,
    };
    Caller {
        account_id,
        session,
    }
}

/// Can a caller this mapping lets in (of that session, when one is named) authenticate as
/// `username`? Who-can, lookup and the findings all tie User subjects to mappings with this.
pub fn mapping_produces(m: &Mapping, session_name: Option<&str>, username: &str) -> bool {
    match m.source {
        // The caller's own (canonical) ARN, for any principal of the account.
        MappingSource::MapAccounts => {
            username.starts_with("arn:") && username.split(':').nth(4) == Some(m.principal.as_str())
        }
        _ if m.username.is_empty() => m.principal == username,
        _ => template::can_produce(&m.username, &caller_of(m, session_name), username),
    }
}

/// The usernames bindings name that this mapping produces (for that session, when one is
/// named), sorted: the users whose bindings reach callers of the mapping, beyond its groups.
pub fn bound_usernames(
    m: &Mapping,
    session_name: Option<&str>,
    snapshot: &RbacSnapshot,
) -> Vec<String> {
    let out: Vec<String> = match literal_ends(m) {
        // A username with no placeholder is one name: look it up.
        LiteralEnds::Exact(name) => snapshot
            .names_user(name)
            .then_some(name)
            .into_iter()
            .filter(|u| mapping_produces(m, session_name, u))
            .map(str::to_string)
            .collect(),
        // Every name a template renders starts and ends with its literal text: the bound names
        // with its prefix are one range of the sorted index, and the suffix spares the full
        // match for almost every other (the audit asks this for each of 1,700 mappings).
        LiteralEnds::Around(prefix, suffix) => snapshot
            .usernames_starting_with(prefix)
            .filter(|u| u.len() >= prefix.len() + suffix.len() && u.ends_with(suffix))
            .filter(|u| mapping_produces(m, session_name, u))
            .map(str::to_string)
            .collect(),
    };
    // In the snapshot's order, which is sorted.
    out
}

/// What every username a mapping can produce must look like, literally.
#[derive(Debug, Clone, Copy)]
pub enum LiteralEnds<'a> {
    Exact(&'a str),
    Around(&'a str, &'a str),
}

impl LiteralEnds<'_> {
    /// Whether `username` has the literal text every username of the mapping starts and ends
    /// with (or is its one username): a necessary condition for [`mapping_produces`], at the
    /// cost of two string comparisons instead of a template match.
    pub fn fit(self, username: &str) -> bool {
        match self {
            LiteralEnds::Exact(name) => name == username,
            LiteralEnds::Around(prefix, suffix) => {
                username.len() >= prefix.len() + suffix.len()
                    && username.starts_with(prefix)
                    && username.ends_with(suffix)
            }
        }
    }
}

pub fn literal_ends(m: &Mapping) -> LiteralEnds<'_> {
    match m.source {
        MappingSource::MapAccounts => LiteralEnds::Around("arn:", ""),
        _ if m.username.is_empty() => LiteralEnds::Exact(&m.principal),
        // Nothing before the first `{{` or after the last `}}` can be a placeholder.
        _ => match (m.username.find("{{"), m.username.rfind("}}")) {
            (Some(first), Some(last)) if first < last => {
                LiteralEnds::Around(&m.username[..first], &m.username[last + 2..])
            }
            _ => LiteralEnds::Exact(&m.username),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mapping(source: MappingSource, principal: &str, username: &str) -> Mapping {
        Mapping {
            source,
            principal: principal.into(),
            username: username.into(),
            groups: Vec::new(),
            line: None,
            userid: None,
            sso: None,
            active: true,
            state: "active",
            shadowed_by_line: None,
            notes: Vec::new(),
            rejected: false,
            access_policies: Vec::new(),
        }
    }

    /// Pieces that make templates and usernames meet: placeholders, their rendered shapes,
    /// stray braces, literal text.
    const PIECES: &[&str] = &[
        "{{AccountID}}",
        "{{SessionName}}",
        "{{SessionNameRaw}}",
        "{{EC2PrivateDNSName}}",
        "{{AccessKeyID}}",
        "{{",
        "}}",
        "{{Unknown}}",
        "111122223333",
        "alice",
        "i-0123456789abcdef0",
        "ip-10-0-0-1.ec2.internal",
        "a@b",
        "a-b",
        ":",
        "-",
        "x",
        "",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..5).prop_map(|p| p.concat())
    }

    proptest! {
        /// `LiteralEnds::fit` only ever rules out names the full match also rules out: who-can's
        /// shortcut cannot drop a principal.
        #[test]
        fn the_literal_test_never_rules_out_a_produced_name(
            template in text(),
            username in text(),
            source in prop::sample::select(&[
                MappingSource::MapRoles,
                MappingSource::MapUsers,
                MappingSource::MapAccounts,
                MappingSource::AccessEntry,
            ][..]),
            session in prop::option::of(prop::sample::select(&["alice", "i-0123456789abcdef0", "a@b"][..])),
        ) {
            let principal = match source {
                MappingSource::MapAccounts => "111122223333",
                MappingSource::MapUsers => "arn:aws:iam::111122223333:user/alice",
                _ => "arn:aws:iam::111122223333:role/dev",
            };
            for m in [mapping(source, principal, &template), mapping(source, principal, "")] {
                for name in [username.as_str(), principal, "arn:aws:iam::111122223333:role/dev"] {
                    if mapping_produces(&m, session, name) {
                        prop_assert!(literal_ends(&m).fit(name), "{m:?} produces {name:?}");
                    }
                }
            }
        }
    }
}
