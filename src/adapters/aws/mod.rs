//! Speaking EKS directly: AWS configuration, DescribeCluster, the native bearer token,
//! access entries, CloudTrail. I/O only: the decisions are in the pure EKS model.

pub mod access_entries;
pub mod cluster;
pub mod identity;
pub(crate) mod recent_principals;
pub mod token;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use chronom_core::eks::posture::{AuthMode, ClusterFacts};

/// The EKS cluster a kubeconfig context was inferred to be, and the AWS identity its exec
/// plugin uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksTarget {
    pub cluster: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The role the plugin assumes before signing (`aws eks get-token --role-arn`/`--role`,
    /// `aws-iam-authenticator token -r`): the cluster knows the caller as this role.
    pub role_arn: Option<String>,
}

/// The EKS side of one command: the clients and what DescribeCluster said.
#[derive(Debug, Clone)]
pub struct EksContext {
    pub eks: aws_sdk_eks::Client,
    /// For GetRole, to find a role's path; None where IAM must not be asked.
    pub iam: Option<aws_sdk_iam::Client>,
    pub cluster: ClusterFacts,
}

impl EksContext {
    pub(crate) fn name(&self) -> &str {
        &self.cluster.name
    }

    pub(crate) fn auth_mode(&self) -> Option<AuthMode> {
        self.cluster.auth_mode()
    }
}

/// The standard AWS credential chain (env, profile, SSO, IMDS, web identity), with the
/// region and profile the user chose. `AWS_ENDPOINT_URL` is honoured, which is how the tests
/// reach moto on loopback.
pub(crate) async fn aws_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// `base` with credentials of `role_arn`, assumed with base's credentials (session name
/// `kubectl-chronom`, as the token command's `--role-arn`) and renewed before they expire.
/// What reading the EKS side of a context whose exec plugin assumes a role needs: access
/// entries and aws-auth map the role, not the identity it was assumed from.
pub async fn assuming(base: &SdkConfig, role_arn: &str) -> SdkConfig {
    // `base` comes from aws_config's loader ([`aws_config`]), which gives it the time source
    // the provider needs to name and expire sessions.
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("kubectl-chronom")
        .configure(base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}
