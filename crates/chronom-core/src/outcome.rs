//! What a grant or revoke did (or, with `--dry-run`, would do), as one document.
//!
//! This is the `-o json` / `-o yaml` schema (docs/json-schema.md) and the input of the text
//! renderer, so every output format states the same facts.

use serde::Serialize;

use crate::action::Action;

/// The caller as the server sees it, like `kubectl auth whoami` (the adapter asks with a
/// SelfSubjectReview; this is what the report says).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Caller {
    pub username: String,
    pub groups: Vec<String>,
}

impl Caller {
    pub fn describe(&self) -> String {
        if self.groups.is_empty() {
            self.username.clone()
        } else {
            format!("{} (groups: {})", self.username, self.groups.join(", "))
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    pub name: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For the ClusterRole of a grant: the profile it is written as (`read-only`,
    /// `read-only-with-secrets` or `wildcard`; the `chronom.io/profile` annotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::readonly_role::RoleProfile>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub rolearn: String,
    pub username: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsAuthResult {
    pub name: String,
    pub namespace: String,
    pub action: Action,
    pub entry: EntryView,
    /// How many mapRoles entries a revoke removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<usize>,
    /// Where the ConfigMap was saved before it was changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub verb: String,
    pub resource: String,
    /// Empty for a cluster-wide check (all namespaces).
    pub namespace: String,
    pub allowed: bool,
    pub expected: bool,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.allowed == self.expected
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleArnView {
    /// As the user typed it.
    pub input: String,
    /// As aws-auth matches it: IAM role ARN, no path.
    pub canonical: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_stripped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_role_session: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteReport {
    pub command: &'static str,
    pub dry_run: bool,
    pub context: String,
    pub caller: Caller,
    pub role_arn: RoleArnView,
    pub cluster_role: ObjectResult,
    pub cluster_role_binding: ObjectResult,
    pub aws_auth: AwsAuthResult,
    /// The EKS access entry, when the role is mapped through one (`--via access-entry`, or
    /// auto on an API / API_AND_CONFIG_MAP cluster); `awsAuth` then says it was not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_entry: Option<crate::eks::access_entry::AccessEntryResult>,
    /// Unified diff of mapRoles (empty when it did not change).
    pub diff: String,
    /// Manifests that were (or would be) applied, as YAML.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// SubjectAccessReview answers for the mapped user and group after the change.
    pub verification: Vec<Check>,
    /// Things the user should know: path stripped, drift restored, why a step was skipped.
    pub notes: Vec<String>,
    /// True when every step succeeded and every check matched.
    pub ok: bool,
    /// What a failed grant undid, step by step, and what it could not (absent when nothing
    /// was rolled back).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<RollbackEntry>,
}

/// How one rollback step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RollbackOutcome {
    /// Undone.
    Done,
    /// Deliberately left: something else relies on it now.
    Kept,
    /// Left because it could not be checked; `reason` says what to do by hand.
    LeftInPlace,
    /// The undo failed; `reason` says what to do by hand.
    Failed,
}

/// One step of a rollback (`rollback: [{step, outcome, reason}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackEntry {
    pub step: String,
    pub outcome: RollbackOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A finished run: the report when we got far enough to have one, and the error if any.
pub struct RunResult {
    pub report: Option<WriteReport>,
    pub error: Option<crate::error::UserError>,
}

impl RunResult {
    pub fn exit_code(&self) -> i32 {
        match (&self.error, &self.report) {
            (Some(e), _) => e.exit_code,
            (None, Some(r)) if !r.ok => crate::exit::EXIT_FAILED,
            _ => crate::exit::EXIT_OK,
        }
    }
}

impl From<crate::error::UserError> for RunResult {
    fn from(e: crate::error::UserError) -> Self {
        Self {
            report: None,
            error: Some(e),
        }
    }
}

impl From<WriteReport> for RunResult {
    fn from(r: WriteReport) -> Self {
        Self {
            report: Some(r),
            error: None,
        }
    }
}
