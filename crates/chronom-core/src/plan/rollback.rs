//! Undoing a grant's writes, as steps a plan computes from what the run actually wrote.
//! The flow executes them in order and reports each one (`rollback` in the JSON report).

use std::fmt;

use serde::Serialize;

/// What the apply phase wrote. A retry or a race can write less than the plan says (a
/// binding created by someone else meanwhile), so rollback works from this, not from the plan
/// alone.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    /// The uid of the ClusterRole this run created.
    pub role_uid: Option<String>,
    /// The uid of the ClusterRoleBinding this run created.
    pub binding_created_uid: Option<String>,
    /// This run added our group to a binding that existed.
    pub binding_added_subject: bool,
    /// This run wrote the planned aws-auth text.
    pub aws_auth: bool,
    /// What this run did to the access entry (created or updated).
    pub access_entry: Option<crate::action::Action>,
}

/// Why a written object stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KeepReason {
    /// Another aws-auth entry now maps the group.
    GroupStillMapped,
    /// aws-auth could not be read to tell whether anything else uses it.
    AwsAuthUnreadable,
}

/// One undo step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "step"
)]
pub enum RollbackStep {
    DeleteAccessEntry {
        cluster: String,
        principal_arn: String,
    },
    RestoreAccessEntry {
        cluster: String,
        principal_arn: String,
        username: String,
        kubernetes_groups: Vec<String>,
    },
    /// Remove the role's entry again (the key too when this run created it and it is empty).
    RemoveAwsAuthEntry { rolearn: String, key_created: bool },
    /// Put back the text this run replaced, only over exactly what it wrote.
    RestoreAwsAuthText {
        before: String,
        after: String,
        key_created: bool,
    },
    /// Our group leaves the binding; the binding goes when this run created it (this uid) and
    /// no subject is left.
    ReleaseBinding {
        name: String,
        group: String,
        created_uid: Option<String>,
    },
    /// Delete the role this run created (preconditioned on its uid); with
    /// `once_binding_gone`, only when the binding step removed the binding.
    DeleteRole {
        name: String,
        uid: String,
        once_binding_gone: bool,
    },
    /// An object this run wrote stays, and why.
    Keep {
        kind: String,
        name: String,
        created: bool,
        reason: KeepReason,
    },
}

impl fmt::Display for RollbackStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RollbackStep::DeleteAccessEntry { principal_arn, .. } => {
                write!(f, "delete access entry {principal_arn}")
            }
            RollbackStep::RestoreAccessEntry { principal_arn, .. } => {
                write!(f, "restore access entry {principal_arn}")
            }
            RollbackStep::RemoveAwsAuthEntry { rolearn, .. } => {
                write!(f, "remove aws-auth entry {rolearn}")
            }
            RollbackStep::RestoreAwsAuthText { .. } => write!(f, "restore aws-auth mapRoles"),
            RollbackStep::ReleaseBinding { name, group, .. } => {
                write!(f, "remove group {group} from clusterrolebinding {name}")
            }
            RollbackStep::DeleteRole { name, .. } => write!(f, "delete clusterrole {name}"),
            RollbackStep::Keep { kind, name, .. } => write!(f, "keep {kind} {name}"),
        }
    }
}

/// The note or warning a kept object carries.
pub fn keep_message(kind: &str, name: &str, created: bool, reason: KeepReason) -> String {
    let (verb, remedy) = if created {
        ("created", "delete it by hand if not")
    } else {
        ("written", "remove it by hand if not")
    };
    match reason {
        KeepReason::GroupStillMapped => format!(
            "{kind} {name} was {verb} by this run but is kept: another aws-auth entry now maps its group"
        ),
        KeepReason::AwsAuthUnreadable => format!(
            "{kind} {name} was {verb} by this run and is left in place: aws-auth could not be read to check whether anything else uses it; {remedy}"
        ),
    }
}
