//! Speaking EKS directly: AWS configuration, DescribeCluster, the native bearer token,
//! access entries. Shell code here calls pure helpers in the submodules.

pub mod access_entries;
pub mod fleet;
pub mod mapping_source;
pub mod via;

pub mod cluster;
pub mod identity;
pub mod infer;
pub mod recent_principals;
pub mod token;
pub mod token_cmd;

use aws_config::{BehaviorVersion, SdkConfig};

/// A cluster named on the command line with --cluster (and --region, --profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksTarget {
    pub cluster: String,
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// The standard AWS credential chain (env, profile, SSO, IMDS, web identity), with the
/// region and profile the user chose. `AWS_ENDPOINT_URL` is honoured, which is how the tests
/// reach moto on loopback.
pub async fn aws_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}
