//! How grant maps the role: an EKS access entry or the aws-auth ConfigMap. `--via auto`
//! reads the cluster's authentication mode (DescribeCluster accessConfig.authenticationMode):
//! API and API_AND_CONFIG_MAP take access entries, CONFIG_MAP takes aws-auth. Without an EKS
//! cluster (a plain kubeconfig context, no --cluster) the mode cannot be read and auto keeps
//! aws-auth, saying so in a note.

use super::posture::{AuthMode, ClusterFacts};
use crate::cli::{GlobalArgs, MappingVia};
use crate::error::UserError;

/// The two ways to map an IAM role into the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapWith {
    AwsAuth,
    AccessEntry,
}

/// What `--via` came to, and the note that explains an automatic choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub with: MapWith,
    pub note: Option<String>,
}

fn mode_of(cluster: &ClusterFacts) -> Result<AuthMode, UserError> {
    AuthMode::parse(cluster.authentication_mode.as_deref()).ok_or_else(|| {
        UserError::failed(
            format!(
                "cluster {} reports authenticationMode {:?}, which this version of kubectl-chronom does not know",
                cluster.name,
                cluster.authentication_mode.as_deref().unwrap_or_default()
            ),
            "choose explicitly with --via access-entry or --via aws-auth, or upgrade kubectl-chronom",
        )
    })
}

/// Pure: the requested `--via` and what DescribeCluster said (None: no EKS cluster known).
pub fn choose(requested: MappingVia, cluster: Option<&ClusterFacts>) -> Result<Choice, UserError> {
    let Some(cluster) = cluster else {
        return match requested {
            MappingVia::AwsAuth => Ok(Choice { with: MapWith::AwsAuth, note: None }),
            MappingVia::Auto => Ok(Choice {
                with: MapWith::AwsAuth,
                note: Some(
                    "--via auto used aws-auth: no EKS cluster is known (no --cluster), so the cluster's authentication mode could not be read; pass --cluster NAME --region R to let it choose access entries".into(),
                ),
            }),
            MappingVia::AccessEntry => Err(UserError::usage(
                "--via access-entry needs the EKS cluster's name: access entries are written through the EKS API, not the Kubernetes API",
                "add --cluster NAME (and --region R), or use --via aws-auth",
            )),
        };
    };
    let mode = match (requested, mode_of(cluster)) {
        (MappingVia::AwsAuth | MappingVia::AccessEntry, Err(_)) => None,
        (_, Ok(m)) => Some(m),
        (MappingVia::Auto, Err(e)) => return Err(e),
    };
    let name = &cluster.name;
    match (requested, mode) {
        (MappingVia::AccessEntry, Some(AuthMode::ConfigMap)) => Err(UserError::failed(
            format!(
                "cluster {name} has authenticationMode CONFIG_MAP: access entries are not enabled on it"
            ),
            format!(
                "enable them with `aws eks update-cluster-config --name {name} --access-config authenticationMode=API_AND_CONFIG_MAP` (one-way), or use --via aws-auth"
            ),
        )),
        (MappingVia::AwsAuth, Some(AuthMode::Api)) => Err(UserError::failed(
            format!(
                "cluster {name} has authenticationMode API: EKS ignores aws-auth there, so an aws-auth entry would let nobody in"
            ),
            "use --via access-entry (or --via auto)",
        )),
        (MappingVia::AccessEntry, _) => Ok(Choice {
            with: MapWith::AccessEntry,
            note: None,
        }),
        (MappingVia::AwsAuth, _) => Ok(Choice {
            with: MapWith::AwsAuth,
            note: None,
        }),
        (MappingVia::Auto, Some(m @ (AuthMode::Api | AuthMode::ApiAndConfigMap))) => Ok(Choice {
            with: MapWith::AccessEntry,
            note: Some(format!(
                "--via auto chose an EKS access entry: cluster {name} has authenticationMode {}",
                m.as_str()
            )),
        }),
        (MappingVia::Auto, _) => Ok(Choice {
            with: MapWith::AwsAuth,
            note: Some(format!(
                "--via auto chose aws-auth: cluster {name} has authenticationMode CONFIG_MAP (access entries are not enabled)"
            )),
        }),
    }
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
    pub fn name(&self) -> &str {
        &self.cluster.name
    }

    pub fn auth_mode(&self) -> Option<AuthMode> {
        self.cluster.auth_mode()
    }
}

/// DescribeCluster, as facts.
pub async fn describe_cluster(
    eks: &aws_sdk_eks::Client,
    name: &str,
) -> Result<ClusterFacts, UserError> {
    let region = eks.config().region().map(|r| r.to_string());
    match eks.describe_cluster().name(name).send().await {
        Ok(out) => match out.cluster() {
            Some(c) => Ok(ClusterFacts::from_sdk(c, region.as_deref())),
            None => Err(UserError::failed(
                format!("DescribeCluster returned no cluster for {name}"),
                "check --cluster and --region",
            )),
        },
        Err(e) => {
            let mut err = super::access_entries::aws_error(
                &e,
                &format!("describing EKS cluster {name}"),
                "eks:DescribeCluster",
            );
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                err.next = format!(
                    "there is no cluster {name} in region {}: check --cluster and --region (`aws eks list-clusters --region R`)",
                    region.as_deref().unwrap_or("(none set)")
                );
            }
            Err(err)
        }
    }
}

/// The EKS context for `--cluster`, or None without it.
pub async fn context(global: &GlobalArgs) -> Result<Option<EksContext>, UserError> {
    let Some(name) = &global.cluster else {
        return Ok(None);
    };
    let config = super::aws_config(global.region.as_deref(), global.profile.as_deref()).await;
    let eks = aws_sdk_eks::Client::new(&config);
    let iam = Some(aws_sdk_iam::Client::new(&config));
    let cluster = describe_cluster(&eks, name).await?;
    Ok(Some(EksContext { eks, iam, cluster }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(mode: Option<&str>) -> ClusterFacts {
        ClusterFacts {
            name: "prod".into(),
            authentication_mode: mode.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn auto_follows_the_authentication_mode() {
        for (mode, want) in [
            (Some("API"), MapWith::AccessEntry),
            (Some("API_AND_CONFIG_MAP"), MapWith::AccessEntry),
            (Some("CONFIG_MAP"), MapWith::AwsAuth),
            (None, MapWith::AwsAuth),
        ] {
            let c = choose(MappingVia::Auto, Some(&cluster(mode))).unwrap();
            assert_eq!(c.with, want, "{mode:?}");
            let note = c.note.expect("auto always says why");
            assert!(note.contains(mode.unwrap_or("CONFIG_MAP")), "{note}");
        }
    }

    #[test]
    fn auto_without_a_cluster_uses_aws_auth_and_says_so() {
        let c = choose(MappingVia::Auto, None).unwrap();
        assert_eq!(c.with, MapWith::AwsAuth);
        assert!(c.note.unwrap().contains("no EKS cluster is known"));
    }

    #[test]
    fn explicit_choices_are_checked_against_the_mode() {
        assert_eq!(
            choose(MappingVia::AccessEntry, None).unwrap_err().exit_code,
            crate::error::EXIT_USAGE
        );
        assert!(
            choose(MappingVia::AccessEntry, Some(&cluster(Some("CONFIG_MAP"))))
                .unwrap_err()
                .next
                .contains("update-cluster-config")
        );
        assert!(
            choose(MappingVia::AwsAuth, Some(&cluster(Some("API"))))
                .unwrap_err()
                .what
                .contains("ignores aws-auth")
        );
        let c = choose(
            MappingVia::AccessEntry,
            Some(&cluster(Some("API_AND_CONFIG_MAP"))),
        )
        .unwrap();
        assert_eq!((c.with, c.note), (MapWith::AccessEntry, None));
        assert_eq!(
            choose(
                MappingVia::AwsAuth,
                Some(&cluster(Some("API_AND_CONFIG_MAP")))
            )
            .unwrap()
            .with,
            MapWith::AwsAuth
        );
        assert_eq!(
            choose(MappingVia::AwsAuth, None).unwrap(),
            Choice {
                with: MapWith::AwsAuth,
                note: None
            }
        );
    }

    #[test]
    fn an_unknown_mode_needs_an_explicit_choice() {
        assert!(choose(MappingVia::Auto, Some(&cluster(Some("NEW_MODE")))).is_err());
        assert_eq!(
            choose(MappingVia::AccessEntry, Some(&cluster(Some("NEW_MODE"))))
                .unwrap()
                .with,
            MapWith::AccessEntry
        );
    }
}
