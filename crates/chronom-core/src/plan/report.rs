//! The part of a grant or revoke report a plan decides: every planned action, note, diff and
//! manifest. The flow adds who ran it and where (`WriteReport`), then marks what happened.

use crate::outcome::{AwsAuthResult, ObjectResult, RoleArnView};

/// aws-auth's name and namespace, as a report names them.
pub const AWS_AUTH_NAME: &str = "aws-auth";
pub const AWS_AUTH_NAMESPACE: &str = "kube-system";

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedReport {
    pub role_arn: RoleArnView,
    pub cluster_role: ObjectResult,
    pub cluster_role_binding: ObjectResult,
    pub aws_auth: AwsAuthResult,
    pub diff: String,
    pub manifests: Vec<String>,
    pub notes: Vec<String>,
}
