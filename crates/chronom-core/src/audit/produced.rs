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
    let mut out: Vec<String> = match literal_ends(m) {
        // A username with no placeholder is one name: look it up.
        LiteralEnds::Exact(name) => snapshot
            .names_user(name)
            .then_some(name)
            .into_iter()
            .filter(|u| mapping_produces(m, session_name, u))
            .map(str::to_string)
            .collect(),
        // Every name a template renders starts and ends with its literal text: a cheap test
        // that spares the full match for almost every candidate (the audit runs this for each
        // mapping against each bound username).
        LiteralEnds::Around(prefix, suffix) => snapshot
            .usernames()
            .filter(|u| {
                u.len() >= prefix.len() + suffix.len()
                    && u.starts_with(prefix)
                    && u.ends_with(suffix)
            })
            .filter(|u| mapping_produces(m, session_name, u))
            .map(str::to_string)
            .collect(),
    };
    out.sort();
    out
}

/// What every username a mapping can produce must look like, literally.
enum LiteralEnds<'a> {
    Exact(&'a str),
    Around(&'a str, &'a str),
}

fn literal_ends(m: &Mapping) -> LiteralEnds<'_> {
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
