//! What grant and revoke both say, written once.

use crate::arn::RoleArnInput;
use crate::awsauth;
use crate::outcome::{EntryView, RoleArnView};
use crate::readonly_role as ro;

/// A `--role-arn` that is not an IAM role ARN: what happened, and what to pass instead.
pub fn bad_role_arn(value: &str, why: &dyn std::fmt::Display) -> (String, &'static str) {
    (
        format!("--role-arn {value:?} is not an IAM role ARN: {why}"),
        "pass arn:aws:iam::<12-digit account>:role/<name> (or an sts assumed-role ARN)",
    )
}

/// The role ARN as typed and as aws-auth matches it.
pub fn role_arn_view(role: &RoleArnInput) -> RoleArnView {
    RoleArnView {
        input: role.original.clone(),
        canonical: role.canonical.to_string(),
        path_stripped: role.stripped_path.clone(),
        assumed_role_session: role.assumed_role_session.clone(),
    }
}

pub fn entry_view(entry: &awsauth::NewRoleEntry) -> EntryView {
    EntryView {
        rolearn: entry.rolearn.to_string(),
        username: entry.username.clone(),
        groups: entry.groups.clone(),
    }
}

/// The session named in an assumed-role ARN, and the IAM role mapped in its place.
pub fn session_note(session: &str, mapped: &str) -> String {
    format!("the assumed-role session {session:?} was turned into its IAM role {mapped}")
}

/// What aws-auth matches instead of the ARN as typed.
pub fn path_notes(role: &RoleArnInput) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(path) = &role.stripped_path {
        notes.push(format!(
            "the role path {path} was stripped: aws-auth matches role ARNs without their path, so {} is what is mapped",
            role.canonical
        ));
    }
    if let Some(session) = &role.assumed_role_session {
        notes.push(session_note(session, &role.canonical.to_string()));
    }
    notes
}

/// An object of our name without our label: kept as it is (decision 5).
pub fn not_managed(kind: &str, name: &str) -> String {
    format!(
        "{kind} {name} kept: it is not managed by kubectl-chronom (no {}={} label)",
        ro::MANAGED_BY_LABEL,
        ro::MANAGED_BY_VALUE
    )
}

/// Another mapping (aws-auth entry or access entry) still maps the group.
pub fn still_mapped(group: &str) -> String {
    format!(": other aws-auth entries or access entries still map group {group}")
}
