//! Why a plan refuses to write, as data. Each refusal says what would break and what to do
//! next; the flows turn it into the shell's error (exit 1) before any write.

use std::fmt;

use serde::Serialize;

use crate::awsauth::ownership::EntryRefusal;
use crate::readonly_role::RoleProfile;

/// One subject of a binding that references a role, as a refusal names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundSubject {
    /// `ClusterRoleBinding/name` or `RoleBinding/namespace/name`.
    pub binding: String,
    /// `Group/name`, `User/name` or `ServiceAccount/namespace:name`.
    pub subject: String,
}

impl fmt::Display for BoundSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (through {})", self.subject, self.binding)
    }
}

/// A write a plan will not make. Nothing was changed when one is returned.
#[derive(Debug, Clone, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "refusal"
)]
pub enum Refusal {
    /// Decision 5: a ClusterRole of the requested name without our managed-by label.
    UnmanagedRole {
        role_name: String,
        bound: Vec<BoundSubject>,
    },
    /// Decision 5: a ClusterRoleBinding of the requested name without our label.
    UnmanagedBinding {
        role_name: String,
        role_ref: String,
        subjects: Vec<String>,
    },
    /// Decision 3: the managed role has another profile; sharing grants would change.
    ProfileChange {
        role_name: String,
        live: RoleProfile,
        requested: RoleProfile,
        bound: Vec<BoundSubject>,
    },
    /// Our binding refers to another role; a binding's roleRef cannot change in place.
    BindingRefersElsewhere {
        role_name: String,
        kind: String,
        name: String,
    },
    /// Our binding was changed to refer to another role while the grant ran.
    BindingChangedMeanwhile {
        role_name: String,
        kind: String,
        name: String,
    },
    /// Decision 7: the mapped identity already holds more than the profile.
    InheritedAccess {
        username: String,
        group: String,
        profile: RoleProfile,
        held: Vec<String>,
    },
    /// An aws-auth entry this run may not remove or replace (decision 6).
    AwsAuthEntry { what: String, next: String },
    /// aws-auth already maps the role differently; `diff` shows what --force-update writes.
    AwsAuthConflict {
        role: String,
        line: usize,
        diff: String,
    },
    /// The strict editor cannot read mapRoles.
    AwsAuthMalformed {
        line: usize,
        column: usize,
        message: String,
    },
    /// The editor reads mapRoles but aws-iam-authenticator drops it whole.
    AwsAuthIgnored {
        line: usize,
        column: usize,
        message: String,
    },
    /// Anything else the aws-auth editor refuses.
    AwsAuthEdit { reason: String },
    /// EKS rejects an access entry whose kubernetesGroups start with `system:`.
    AccessEntrySystemGroup { group: String },
}

impl From<Box<EntryRefusal>> for Refusal {
    fn from(r: Box<EntryRefusal>) -> Self {
        Refusal::AwsAuthEntry {
            what: r.what(),
            next: r.next(),
        }
    }
}

/// `bound to:` and one line per subject, or `nothing binds it`.
fn bound_list(bound: &[BoundSubject]) -> String {
    if bound.is_empty() {
        "nothing binds it".into()
    } else {
        let lines: Vec<String> = bound.iter().map(|b| format!("    - {b}")).collect();
        format!("bound to:\n{}", lines.join("\n"))
    }
}

const OTHER_ROLE_NAME: &str = "pick another --role-name; chronom changes only objects labelled app.kubernetes.io/managed-by=kubectl-chronom";
const EDIT_AWS_AUTH: &str = "`kubectl -n kube-system edit configmap aws-auth`";

impl Refusal {
    /// What happened and what it would break.
    pub fn what(&self) -> String {
        match self {
            Refusal::UnmanagedRole { role_name, bound } => format!(
                "clusterrole {role_name} already exists and is not managed by kubectl-chronom (no app.kubernetes.io/managed-by=kubectl-chronom label); rewriting it would change the access of everything it is {}\n  Nothing was changed.",
                bound_list(bound)
            ),
            Refusal::UnmanagedBinding {
                role_name,
                role_ref,
                subjects,
            } => {
                let lines: Vec<String> = subjects.iter().map(|s| format!("    - {s}")).collect();
                format!(
                    "clusterrolebinding {role_name} already exists and is not managed by kubectl-chronom (no app.kubernetes.io/managed-by=kubectl-chronom label); it binds {role_ref} to:\n{}\n  Nothing was changed.",
                    if lines.is_empty() {
                        "    (no subjects)".to_string()
                    } else {
                        lines.join("\n")
                    }
                )
            }
            Refusal::ProfileChange {
                role_name,
                live,
                requested,
                bound,
            } => format!(
                "clusterrole {role_name} has profile {live} and this grant asks for {requested}; changing it would change the access of everything it is {}\n  Nothing was changed.",
                bound_list(bound)
            ),
            Refusal::BindingRefersElsewhere {
                role_name,
                kind,
                name,
            } => format!(
                "clusterrolebinding {role_name} already exists and refers to {kind} {name:?}; a binding's role cannot be changed in place, so nothing was changed"
            ),
            Refusal::BindingChangedMeanwhile {
                role_name,
                kind,
                name,
            } => format!(
                "clusterrolebinding {role_name} was changed meanwhile to refer to {kind} {name:?}; nothing more was changed"
            ),
            Refusal::InheritedAccess {
                username,
                group,
                profile,
                held,
            } => {
                let lines: Vec<String> = held.iter().map(|h| format!("    - {h}")).collect();
                format!(
                    "the identity this grant maps (username {username:?}, group {group}, and system:authenticated) already holds more than the {profile} profile through other bindings, so the grant would not be read-only; nothing was changed:\n{}",
                    lines.join("\n")
                )
            }
            Refusal::AwsAuthEntry { what, .. } => what.clone(),
            Refusal::AwsAuthConflict { role, line, diff } => format!(
                "aws-auth already maps {role} with a different username or groups (line {line}); nothing was changed.\n{diff}"
            ),
            Refusal::AwsAuthMalformed {
                line,
                column,
                message,
            } => format!(
                "aws-auth mapRoles is malformed at line {line}, column {column}: {message}; nothing was changed"
            ),
            Refusal::AwsAuthIgnored {
                line,
                column,
                message,
            } => format!(
                "aws-iam-authenticator cannot read aws-auth mapRoles (line {line}, column {column}: {message}), so it ignores every entry in it, this one included; nothing was changed"
            ),
            Refusal::AwsAuthEdit { reason } => {
                format!("cannot add the aws-auth entry: {reason}; nothing was changed")
            }
            Refusal::AccessEntrySystemGroup { group } => format!(
                "an EKS access entry cannot carry --group {group}: EKS rejects kubernetesGroups that start with system: (CreateAccessEntry answers InvalidParameterException \"The kubernetes group name {group} is invalid, it cannot start with system:\"; Amazon EKS User Guide, \"Create access entries\"), so nothing was changed and no AWS call was made"
            ),
        }
    }

    /// What to do next.
    pub fn next(&self) -> String {
        match self {
            Refusal::UnmanagedRole { .. } | Refusal::UnmanagedBinding { .. } => {
                OTHER_ROLE_NAME.into()
            }
            Refusal::ProfileChange {
                role_name,
                requested,
                ..
            } => format!(
                "use another --role-name and --group for the {requested} profile, or revoke the grants of {role_name} first"
            ),
            Refusal::BindingRefersElsewhere { .. } => {
                "delete that binding yourself if it is stale, or choose another --role-name".into()
            }
            Refusal::BindingChangedMeanwhile { .. } => {
                "check who else manages that binding, then re-run".into()
            }
            Refusal::InheritedAccess { .. } => "remove or narrow those bindings, or map the role to a --username and --group that nothing else binds (`kubectl chronom audit lookup GROUP` lists what a group holds)".into(),
            Refusal::AwsAuthEntry { next, .. } => next.clone(),
            Refusal::AwsAuthConflict { .. } => {
                "re-run with --force-update to replace that entry, or revoke it first".into()
            }
            // One message for grant and revoke: fix the text, then run again.
            Refusal::AwsAuthMalformed { .. } => format!(
                "fix mapRoles by hand ({EDIT_AWS_AUTH}), then re-run; until then the authenticator may ignore every entry, node roles included"
            ),
            Refusal::AwsAuthIgnored { .. } => format!(
                "fix mapRoles by hand ({EDIT_AWS_AUTH}; `kubectl chronom audit` shows the place), then re-run"
            ),
            Refusal::AwsAuthEdit { .. } => "fix aws-auth by hand, then re-run".into(),
            Refusal::AccessEntrySystemGroup { .. } => "use a group of your own (the default chronomReadOnlyGroup, or any name without the system: prefix): grant binds it to the read-only ClusterRole itself".into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  next: {}", self.what(), self.next())
    }
}
