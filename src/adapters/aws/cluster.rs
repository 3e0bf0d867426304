//! The EKS cluster: the one DescribeCluster and ListClusters call path (for `--cluster`, for a
//! kubeconfig context inferred to be EKS, for `--via auto`, the audit and the fleet), and the
//! EKS link a connection carries. Opening a kube connection to a described cluster is
//! adapters/kube/eks_connection.rs: this module never uses the kube adapter.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eks::config::http::HttpResponse;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::operation::list_clusters::ListClustersError;

use super::{EksTarget, identity, recent_principals};
use crate::adapters::aws::token::is_region_name;
use crate::cli::GlobalArgs;
use chronom_core::diagnose::Unreachable;
use chronom_core::eks::diagnosis::{self, EndpointAccess};
use chronom_core::eks::posture::ClusterFacts;
use chronom_core::error::UserError;
use chronom_core::error::error_chain;

/// What DescribeCluster says: how to connect, and the facts the audit and `--via` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksCluster {
    /// The region it was described in.
    pub region: String,
    /// `ACTIVE`, `CREATING`, ...
    pub status: String,
    /// `https://<id>.<suffix>.<region>.eks.amazonaws.com`
    pub endpoint: String,
    /// The cluster CA, base64 of PEM: exactly a kubeconfig's `certificate-authority-data`.
    pub certificate_authority_data: String,
    /// Name, ARN, authentication mode, network access, logging, encryption.
    pub facts: ClusterFacts,
    /// DescribeCluster's `id`, which the EKS service model says only local clusters on AWS
    /// Outposts have. Their authenticator knows them by it, not by name.
    pub local_cluster_id: Option<String>,
}

impl EksCluster {
    /// From the SDK's Cluster; `asked` names it when the answer does not.
    pub fn from_sdk(c: &aws_sdk_eks::types::Cluster, region: &str, asked: &str) -> Self {
        let mut facts = facts_of_sdk(c, Some(region));
        if facts.name.is_empty() {
            facts.name = asked.to_string();
        }
        EksCluster {
            region: region.to_string(),
            status: c
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            endpoint: c.endpoint().unwrap_or_default().to_string(),
            certificate_authority_data: c
                .certificate_authority()
                .and_then(|ca| ca.data())
                .unwrap_or_default()
                .to_string(),
            facts,
            local_cluster_id: c.id().filter(|id| !id.is_empty()).map(String::from),
        }
    }

    pub fn name(&self) -> &str {
        &self.facts.name
    }

    /// What a token for this cluster must name in `x-k8s-aws-id`: an Outposts local cluster's
    /// id (`aws eks get-token --cluster-id`, which `update-kubeconfig` writes for them;
    /// `aws-iam-authenticator token -i <id>`), else the name. DescribeCluster takes the name
    /// in both cases.
    pub fn token_cluster_id(&self) -> &str {
        self.local_cluster_id.as_deref().unwrap_or(self.name())
    }

    /// The name the connection goes by in messages: `eks:<region>/<cluster>`.
    pub fn context_name(&self) -> String {
        format!("eks:{}/{}", self.region, self.name())
    }

    pub fn endpoint_access(&self) -> EndpointAccess {
        EndpointAccess::of(
            self.facts.endpoint_public_access,
            &self.facts.public_access_cidrs,
        )
    }

    /// What a diagnosis knows from DescribeCluster alone; `context` is the kubeconfig context
    /// the cluster was inferred from.
    pub fn diagnosis_facts(&self, context: Option<&str>) -> diagnosis::Facts {
        diagnosis::Facts {
            label: diagnosis::Facts::label_for(self.name(), &self.region, context),
            cluster: self.name().to_string(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            access: Some(self.endpoint_access()),
            private_access: self.facts.endpoint_private_access,
            describe_error: None,
            caller: None,
            principal_arn: None,
            recent: None,
        }
    }

    /// A cluster still being created has no endpoint or CA yet.
    pub fn check_connectable(&self) -> Result<(), UserError> {
        if self.endpoint.is_empty() || self.certificate_authority_data.is_empty() {
            let status = if self.status.is_empty() {
                "unknown"
            } else {
                &self.status
            };
            return Err(UserError::failed(
                format!(
                    "cluster {} has no API endpoint yet (status {status})",
                    self.context_name()
                ),
                format!(
                    "wait until it is ACTIVE: `aws eks wait cluster-active --name {} --region {}`",
                    self.name(),
                    self.region
                ),
            ));
        }
        Ok(())
    }
}

/// The EKS cluster behind a connection: what reads its EKS side and explains its failures.
#[derive(Debug, Clone)]
pub struct EksLink {
    /// AWS configuration in the cluster's region.
    pub sdk: SdkConfig,
    pub name: String,
    pub region: String,
    /// The kubeconfig context it was inferred from; None for `--cluster` and the fleet.
    pub inferred_from: Option<String>,
    /// DescribeCluster's answer when it was read to connect (`--cluster`, the fleet).
    pub described: Option<EksCluster>,
}

/// How long the AWS calls of a diagnosis may take in all; it explains a failure, so it must
/// not hang on a network that AWS cannot be reached from either.
const DIAGNOSIS_TIMEOUT: Duration = Duration::from_secs(15);

impl EksLink {
    /// The link for a context inferred to be EKS, reading AWS as the plugin's identity: its
    /// profile (`profile`, --profile, beats it) and, when it assumes a role, that role.
    pub async fn inferred(target: &EksTarget, context: &str, profile: Option<&str>) -> Self {
        let region = target.region.clone().unwrap_or_default();
        let base =
            crate::adapters::aws::aws_config(Some(&region), profile.or(target.profile.as_deref()))
                .await;
        let sdk = match &target.role_arn {
            Some(role) => crate::adapters::aws::assuming(&base, role).await,
            None => base,
        };
        EksLink {
            sdk,
            name: target.cluster.clone(),
            region,
            inferred_from: Some(context.to_string()),
            described: None,
        }
    }

    /// DescribeCluster (once: the answer read to connect is reused), after checking that
    /// there are credentials at all.
    pub async fn describe(&self) -> Result<EksCluster, UserError> {
        if let Some(c) = &self.described {
            return Ok(c.clone());
        }
        identity::credentials(&self.sdk).await?;
        describe(&self.sdk, &self.region, &self.name).await
    }

    /// `EKS cluster NAME in REGION`, with the context it was inferred from.
    pub fn label(&self) -> String {
        diagnosis::Facts::label_for(&self.name, &self.region, self.inferred_from.as_deref())
    }

    /// Explain a failed request to this cluster: its network settings, who we are, and for a
    /// 401 who used the cluster recently. AWS failures here only make the message vaguer.
    pub async fn diagnose(&self, case: &Unreachable, doing: &str, cause: &str) -> UserError {
        let facts = tokio::time::timeout(DIAGNOSIS_TIMEOUT, self.gather(case))
            .await
            .unwrap_or_else(|_| {
                let mut f =
                    self.unknown_facts(format!("AWS did not answer within {DIAGNOSIS_TIMEOUT:?}"));
                if matches!(case, Unreachable::Unauthorized) {
                    f.recent = Some(Err(format!(
                        "CloudTrail did not answer within {DIAGNOSIS_TIMEOUT:?}"
                    )));
                }
                f
            });
        diagnosis::explain(case, &facts, doing, cause)
    }

    fn unknown_facts(&self, why: String) -> diagnosis::Facts {
        diagnosis::Facts {
            label: self.label(),
            cluster: self.name.clone(),
            region: self.region.clone(),
            endpoint: self
                .described
                .as_ref()
                .map(|c| c.endpoint.clone())
                .unwrap_or_else(|| "endpoint unknown".into()),
            access: None,
            private_access: false,
            describe_error: Some(why),
            caller: None,
            principal_arn: None,
            recent: None,
        }
    }

    async fn gather(&self, case: &Unreachable) -> diagnosis::Facts {
        let mut facts = match self.describe().await {
            Ok(c) => c.diagnosis_facts(self.inferred_from.as_deref()),
            Err(e) => self.unknown_facts(e.what),
        };
        if facts
            .describe_error
            .as_deref()
            .is_some_and(|w| w.contains("AWS credentials"))
        {
            return facts;
        }
        facts.caller = identity::caller(&self.sdk).await.ok().map(|c| c.arn);
        if matches!(case, Unreachable::Unauthorized) {
            // The access entry to suggest names the role with its path, as grant resolves it.
            let role = facts
                .caller
                .as_deref()
                .and_then(|arn| chronom_core::arn::parse_role_arn(arn).ok());
            if let Some(role) = role {
                let iam = aws_sdk_iam::Client::new(&self.sdk);
                let eks = aws_sdk_eks::Client::new(&self.sdk);
                facts.principal_arn = crate::adapters::aws::access_entries::resolve_principal(
                    Some(&iam),
                    &eks,
                    &self.name,
                    &role,
                )
                .await
                .ok()
                .map(|r| r.arn);
            }
            let cloudtrail = aws_sdk_cloudtrail::Client::new(&self.sdk);
            facts.recent = Some(
                recent_principals::lookup(&cloudtrail, &self.name, facts.caller.as_deref()).await,
            );
        }
        facts
    }
}

/// The AWS config for `--region`/`--profile`, and the region to use (flag, else the
/// profile's or `AWS_REGION`).
pub async fn sdk_for(global: &GlobalArgs) -> Result<(SdkConfig, String), UserError> {
    if let Some(r) = &global.region
        && !is_region_name(r)
    {
        return Err(UserError::usage(
            format!("--region {r:?} is not an AWS region name"),
            "for example --region eu-west-1",
        ));
    }
    let sdk =
        crate::adapters::aws::aws_config(global.region.as_deref(), global.profile.as_deref()).await;
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        UserError::usage(
            "no AWS region: --region is not given and the AWS profile and environment name none",
            "pass --region (the cluster's region, e.g. --region eu-west-1) or set AWS_REGION",
        )
    })?;
    Ok((sdk, region))
}

/// DescribeCluster, with errors that say what to do.
pub async fn describe(sdk: &SdkConfig, region: &str, name: &str) -> Result<EksCluster, UserError> {
    describe_with(
        &aws_sdk_eks::Client::new(sdk),
        &aws_sdk_sts::Client::new(sdk),
        region,
        name,
    )
    .await
}

/// [`describe`] with given clients; STS only names the caller when something fails.
pub async fn describe_with(
    eks: &aws_sdk_eks::Client,
    sts: &aws_sdk_sts::Client,
    region: &str,
    name: &str,
) -> Result<EksCluster, UserError> {
    match eks.describe_cluster().name(name).send().await {
        Ok(out) => match out.cluster() {
            Some(c) => Ok(EksCluster::from_sdk(c, region, name)),
            None => Err(UserError::failed(
                format!("DescribeCluster returned no cluster for {name:?}"),
                "re-run with -vv",
            )),
        },
        Err(e) => Err(describe_error(eks, sts, region, name, e).await),
    }
}

async fn describe_error<R>(
    eks: &aws_sdk_eks::Client,
    sts: &aws_sdk_sts::Client,
    region: &str,
    name: &str,
    err: SdkError<aws_sdk_eks::operation::describe_cluster::DescribeClusterError, R>,
) -> UserError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().unwrap_or_default().to_string();
    let message = err.message().unwrap_or_default().to_string();
    tracing::debug!(cause = %error_chain(&err).join(" | "), "DescribeCluster failed");
    if err
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception())
    {
        return not_found_error(eks, sts, region, name).await;
    }
    match code.as_str() {
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
            let who = match identity::caller_with(sts).await {
                Ok(c) => c.arn,
                Err(_) => "the current AWS principal".to_string(),
            };
            UserError::failed(
                format!("{who} may not describe EKS cluster {name:?} in {region}: {message}"),
                format!(
                    "grant it eks:DescribeCluster on the cluster (arn:{}:eks:{region}:ACCOUNT:cluster/{name}), or use --profile for a principal that has it",
                    chronom_core::partition::of_region(region)
                ),
            )
        }
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => UserError::failed(
            format!("AWS rejected the credentials ({code}: {message})"),
            identity::RENEW,
        ),
        "" => UserError::failed(
            format!(
                "cannot reach EKS in {region}: {}",
                error_chain(&err).join(": ")
            ),
            format!(
                "check network access to the EKS API of {region} (or AWS_ENDPOINT_URL), then re-run with -vv"
            ),
        ),
        _ => UserError::failed(
            format!("DescribeCluster {name:?} in {region} failed: {code}: {message}"),
            "re-run with -vv; if it persists, check the AWS Health Dashboard",
        ),
    }
}

/// DescribeCluster said there is no such cluster: say which account and region were asked,
/// and which clusters are there instead.
async fn not_found_error(
    eks: &aws_sdk_eks::Client,
    sts: &aws_sdk_sts::Client,
    region: &str,
    name: &str,
) -> UserError {
    let caller = identity::caller_with(sts).await.ok();
    let account = caller
        .as_ref()
        .map(|c| format!(" of account {}", c.account))
        .unwrap_or_default();
    let next = match list_clusters(eks).await {
        Ok(names) if names.is_empty() => format!(
            "there are no clusters in {region}{account}; pass --region of the cluster (or --profile of its account)"
        ),
        Ok(names) => format!(
            "clusters in {region}{account}: {}; pass one of them to --cluster",
            names.join(", ")
        ),
        Err(e) => {
            let why = e
                .code()
                .map_or_else(|| error_chain(&e).join(": "), str::to_string);
            format!(
                "check the name, --region and --profile (listing the clusters in {region} failed too: {why})"
            )
        }
    };
    UserError::failed(
        format!("no EKS cluster named {name:?} in {region}{account}"),
        next,
    )
}

/// All cluster names in the client's region (ListClusters, every page). The caller words the
/// error: a missing cluster's message and the fleet's skipped regions need different things.
pub async fn list_clusters(
    eks: &aws_sdk_eks::Client,
) -> Result<Vec<String>, SdkError<ListClustersError, HttpResponse>> {
    let mut names = Vec::new();
    let mut pages = eks.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(page?.clusters.unwrap_or_default());
    }
    Ok(names)
}

/// The posture facts of the SDK's Cluster, with the region it was asked in.
pub fn facts_of_sdk(c: &aws_sdk_eks::types::Cluster, region: Option<&str>) -> ClusterFacts {
    let vpc = c.resources_vpc_config();
    let enabled_log_types = c
        .logging()
        .map(|l| l.cluster_logging())
        .unwrap_or_default()
        .iter()
        .filter(|s| s.enabled().unwrap_or(false))
        .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
        .collect();
    let secrets_kms_key_arn = c
        .encryption_config()
        .iter()
        .find_map(|e| e.provider().and_then(|p| p.key_arn()))
        .map(str::to_string);
    let created = c.created_at();
    ClusterFacts {
        name: c.name().unwrap_or_default().to_string(),
        arn: c.arn().map(str::to_string),
        region: region.map(str::to_string),
        version: c.version().map(str::to_string),
        authentication_mode: c
            .access_config()
            .and_then(|a| a.authentication_mode())
            .map(|m| m.as_str().to_string()),
        bootstrap_cluster_creator_admin_permissions: c
            .access_config()
            .and_then(|a| a.bootstrap_cluster_creator_admin_permissions()),
        endpoint_public_access: vpc.is_some_and(|v| v.endpoint_public_access()),
        endpoint_private_access: vpc.is_some_and(|v| v.endpoint_private_access()),
        public_access_cidrs: vpc
            .map(|v| v.public_access_cidrs().to_vec())
            .unwrap_or_default(),
        enabled_log_types,
        secrets_kms_key_arn,
        created_at: created.and_then(|d| {
            d.fmt(aws_sdk_eks::primitives::DateTimeFormat::DateTime)
                .ok()
        }),
        created_at_epoch: created.map(|d| d.secs()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_eks::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
    use aws_sdk_eks::operation::list_clusters::{ListClustersError, ListClustersOutput};
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
    use aws_smithy_mocks::{Rule, mock};

    fn clients(
        eks_rules: &[&Rule],
        sts_rules: &[&Rule],
    ) -> (aws_sdk_eks::Client, aws_sdk_sts::Client) {
        (
            super::super::mocked_client!(aws_sdk_eks, "eu-west-1", eks_rules),
            super::super::mocked_client!(aws_sdk_sts, "eu-west-1", sts_rules),
        )
    }

    fn aws_error(code: &str) -> aws_sdk_eks::error::ErrorMetadata {
        aws_sdk_eks::error::ErrorMetadata::builder()
            .code(code)
            .message("denied by test")
            .build()
    }

    fn caller_rule() -> Rule {
        mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
            GetCallerIdentityOutput::builder()
                .account("111122223333")
                .arn("arn:aws:sts::111122223333:assumed-role/dev/alice")
                .user_id("AROAEXAMPLE:alice")
                .build()
        })
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn access_denied_names_the_caller_and_the_permission() {
        let denied = mock!(aws_sdk_eks::Client::describe_cluster)
            .then_error(|| DescribeClusterError::generic(aws_error("AccessDeniedException")));
        let (eks, sts) = clients(&[&denied], &[&caller_rule()]);
        let err = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap_err();
        assert!(err.what.starts_with("arn:aws:sts::111122223333:assumed-role/dev/alice may not describe EKS cluster \"prod\" in eu-west-1"), "{err}");
        assert!(
            err.next.contains("eks:DescribeCluster")
                && err
                    .next
                    .contains("arn:aws:eks:eu-west-1:ACCOUNT:cluster/prod"),
            "{err}"
        );
    }

    #[test]
    fn the_hint_names_the_cluster_in_its_partition() {
        for (region, arn) in [
            (
                "cn-north-1",
                "arn:aws-cn:eks:cn-north-1:ACCOUNT:cluster/prod",
            ),
            (
                "us-gov-west-1",
                "arn:aws-us-gov:eks:us-gov-west-1:ACCOUNT:cluster/prod",
            ),
        ] {
            let denied = mock!(aws_sdk_eks::Client::describe_cluster)
                .then_error(|| DescribeClusterError::generic(aws_error("AccessDeniedException")));
            let (eks, sts) = clients(&[&denied], &[&caller_rule()]);
            let err = run(describe_with(&eks, &sts, region, "prod")).unwrap_err();
            assert!(err.next.contains(arn), "{err}");
        }
    }

    #[test]
    fn access_denied_without_sts_still_explains() {
        let denied = mock!(aws_sdk_eks::Client::describe_cluster)
            .then_error(|| DescribeClusterError::generic(aws_error("AccessDeniedException")));
        let sts_down = mock!(aws_sdk_sts::Client::get_caller_identity).then_error(|| {
            aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError::generic(
                aws_sdk_sts::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .build(),
            )
        });
        let (eks, sts) = clients(&[&denied], &[&sts_down]);
        let err = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap_err();
        assert!(
            err.what
                .starts_with("the current AWS principal may not describe"),
            "{err}"
        );
    }

    #[test]
    fn rejected_credentials_say_to_log_in_again() {
        let expired = mock!(aws_sdk_eks::Client::describe_cluster)
            .then_error(|| DescribeClusterError::generic(aws_error("ExpiredTokenException")));
        let (eks, sts) = clients(&[&expired], &[]);
        let err = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap_err();
        assert!(
            err.what
                .contains("AWS rejected the credentials (ExpiredTokenException")
                && err.next.contains("aws sso login"),
            "{err}"
        );
    }

    #[test]
    fn not_found_when_listing_is_denied_too() {
        let missing = mock!(aws_sdk_eks::Client::describe_cluster).then_error(|| {
            DescribeClusterError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder()
                    .message("No cluster found")
                    .build(),
            )
        });
        let list_denied = mock!(aws_sdk_eks::Client::list_clusters)
            .then_error(|| ListClustersError::generic(aws_error("AccessDeniedException")));
        let (eks, sts) = clients(&[&missing, &list_denied], &[&caller_rule()]);
        let err = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap_err();
        assert_eq!(
            err.what,
            "no EKS cluster named \"prod\" in eu-west-1 of account 111122223333"
        );
        assert!(
            err.next
                .contains("listing the clusters in eu-west-1 failed too: AccessDeniedException"),
            "{err}"
        );
    }

    #[test]
    fn not_found_lists_every_page_of_clusters() {
        let missing = mock!(aws_sdk_eks::Client::describe_cluster).then_error(|| {
            DescribeClusterError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder().build(),
            )
        });
        let first = mock!(aws_sdk_eks::Client::list_clusters)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListClustersOutput::builder()
                    .clusters("a")
                    .clusters("b")
                    .next_token("p2")
                    .build()
            });
        let second = mock!(aws_sdk_eks::Client::list_clusters)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(|| ListClustersOutput::builder().clusters("c").build());
        let (eks, sts) = clients(&[&missing, &first, &second], &[&caller_rule()]);
        let err = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap_err();
        assert!(
            err.next
                .starts_with("clusters in eu-west-1 of account 111122223333: a, b, c;"),
            "{err}"
        );
    }

    #[test]
    fn a_cluster_still_being_created_has_no_endpoint() {
        let creating = mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| {
            DescribeClusterOutput::builder()
                .cluster(
                    aws_sdk_eks::types::Cluster::builder()
                        .name("prod")
                        .status(aws_sdk_eks::types::ClusterStatus::Creating)
                        .build(),
                )
                .build()
        });
        let (eks, sts) = clients(&[&creating], &[]);
        // Its facts are read (the audit and --via can use them); connecting is what fails.
        let c = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap();
        assert_eq!(c.status, "CREATING");
        let err = c.check_connectable().unwrap_err();
        assert!(
            err.what.contains("no API endpoint yet (status CREATING)")
                && err
                    .next
                    .contains("aws eks wait cluster-active --name prod --region eu-west-1"),
            "{err}"
        );
        // That connecting fails with this same message: adapters/kube/eks_connection.rs.
    }

    #[test]
    fn describe_maps_the_sdk_cluster() {
        let active = mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| {
            let vpc = aws_sdk_eks::types::VpcConfigResponse::builder()
                .endpoint_public_access(true)
                .endpoint_private_access(true)
                .public_access_cidrs("203.0.113.0/24")
                .build();
            let access = aws_sdk_eks::types::AccessConfigResponse::builder()
                .authentication_mode(aws_sdk_eks::types::AuthenticationMode::Api)
                .build();
            let cluster = aws_sdk_eks::types::Cluster::builder()
                .name("prod")
                .arn("arn:aws:eks:eu-west-1:111122223333:cluster/prod")
                .status(aws_sdk_eks::types::ClusterStatus::Active)
                .endpoint("https://ABC.gr7.eu-west-1.eks.amazonaws.com")
                .certificate_authority(
                    aws_sdk_eks::types::Certificate::builder()
                        .data("LS0t")
                        .build(),
                )
                .resources_vpc_config(vpc)
                .access_config(access)
                .build();
            DescribeClusterOutput::builder().cluster(cluster).build()
        });
        let (eks, sts) = clients(&[&active], &[]);
        let c = run(describe_with(&eks, &sts, "eu-west-1", "prod")).unwrap();
        assert_eq!(c.context_name(), "eks:eu-west-1/prod");
        assert_eq!(
            c.endpoint_access(),
            EndpointAccess::PublicFrom(vec!["203.0.113.0/24".into()])
        );
        assert!(c.facts.endpoint_private_access);
        assert_eq!(c.facts.authentication_mode.as_deref(), Some("API"));
        assert_eq!(c.facts.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            c.facts.arn.as_deref(),
            Some("arn:aws:eks:eu-west-1:111122223333:cluster/prod")
        );
        assert_eq!(
            (c.status.as_str(), c.endpoint.as_str()),
            ("ACTIVE", "https://ABC.gr7.eu-west-1.eks.amazonaws.com")
        );
        assert_eq!(c.certificate_authority_data, "LS0t");
    }

    /// An ACTIVE, openly reachable cluster; the kube adapter's tests connect to it too.
    pub(crate) fn cluster() -> EksCluster {
        EksCluster {
            region: "eu-west-1".into(),
            status: "ACTIVE".into(),
            endpoint: "https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com".into(),
            certificate_authority_data: "LS0tLS1CRUdJTi==".into(),
            facts: ClusterFacts {
                name: "demo".into(),
                arn: Some("arn:aws:eks:eu-west-1:111122223333:cluster/demo".into()),
                region: Some("eu-west-1".into()),
                endpoint_public_access: true,
                endpoint_private_access: false,
                public_access_cidrs: vec!["0.0.0.0/0".into()],
                authentication_mode: Some("API_AND_CONFIG_MAP".into()),
                ..Default::default()
            },
            local_cluster_id: None,
        }
    }

    #[test]
    fn access_settings_classify_the_endpoint() {
        let mut c = cluster();
        assert_eq!(c.endpoint_access(), EndpointAccess::Open);
        c.facts.public_access_cidrs.clear();
        assert_eq!(c.endpoint_access(), EndpointAccess::Open);
        c.facts.public_access_cidrs = vec!["203.0.113.0/24".into(), "198.51.100.7/32".into()];
        assert_eq!(
            c.endpoint_access(),
            EndpointAccess::PublicFrom(c.facts.public_access_cidrs.clone())
        );
        c.facts.endpoint_public_access = false;
        c.facts.endpoint_private_access = true;
        assert_eq!(c.endpoint_access(), EndpointAccess::PrivateOnly);
    }

    #[test]
    fn diagnosis_facts_come_from_describe_cluster() {
        let mut c = cluster();
        c.facts.endpoint_public_access = false;
        c.facts.endpoint_private_access = true;
        let f = c.diagnosis_facts(None);
        assert_eq!(f.label, "EKS cluster demo in eu-west-1");
        assert_eq!(
            (f.access, f.private_access),
            (Some(EndpointAccess::PrivateOnly), true)
        );
        assert_eq!(f.endpoint, c.endpoint);
        assert_eq!(
            c.diagnosis_facts(Some("ctx")).label,
            "context \"ctx\" (EKS cluster demo in eu-west-1)"
        );
    }

    #[test]
    fn facts_from_the_sdk() {
        use aws_sdk_eks::types::*;
        let cluster = Cluster::builder()
            .name("prod")
            .access_config(
                AccessConfigResponse::builder()
                    .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                    .bootstrap_cluster_creator_admin_permissions(true)
                    .build(),
            )
            .resources_vpc_config(
                VpcConfigResponse::builder()
                    .endpoint_public_access(true)
                    .public_access_cidrs("0.0.0.0/0")
                    .build(),
            )
            .logging(
                Logging::builder()
                    .cluster_logging(
                        LogSetup::builder()
                            .enabled(true)
                            .types(LogType::Api)
                            .types(LogType::Audit)
                            .build(),
                    )
                    .cluster_logging(
                        LogSetup::builder()
                            .enabled(false)
                            .types(LogType::Authenticator)
                            .build(),
                    )
                    .build(),
            )
            .encryption_config(
                EncryptionConfig::builder()
                    .provider(Provider::builder().key_arn("arn:aws:kms:r:1:key/k").build())
                    .build(),
            )
            .created_at(aws_sdk_eks::primitives::DateTime::from_secs(1_700_000_000))
            .build();
        let f = facts_of_sdk(&cluster, Some("eu-west-1"));
        assert_eq!(
            f.auth_mode(),
            Some(chronom_core::eks::posture::AuthMode::ApiAndConfigMap)
        );
        assert_eq!(f.bootstrap_cluster_creator_admin_permissions, Some(true));
        assert_eq!(f.enabled_log_types, ["api", "audit"]);
        assert_eq!(
            f.secrets_kms_key_arn.as_deref(),
            Some("arn:aws:kms:r:1:key/k")
        );
        assert_eq!(f.created_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        let rules: Vec<&str> = chronom_core::eks::posture::findings(&f)
            .iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(
            rules,
            [
                chronom_core::audit::findings::PUBLIC_ENDPOINT.id,
                chronom_core::audit::findings::LOGGING_OFF.id
            ]
        );
    }
}
